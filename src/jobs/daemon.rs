//! The jobs as the scheduler runs them: the [`Runner`] behind `sanhu serve`.
//!
//! A scheduled `report:<name>` job is the weekly cycle: ingest whatever is waiting, build the
//! models as of the last complete week, write both editions of the report, copy each edition to
//! the outbox of every recipient listed in sanhu.toml, and write the exchange packages.

use super::{JobError, ingest};
use crate::config::Project;
use crate::schedule::{RunCounts, Runner};
use std::path::Path;

pub struct ProjectRunner {
    pub project: Project,
    pub handle: tokio::runtime::Handle,
}

impl ProjectRunner {
    fn weekly(&self, name: &str, at: chrono::DateTime<chrono::Utc>) -> Result<RunCounts, JobError> {
        let p = &self.project;
        let pulls = self.handle.block_on(super::pull::pull_all(
            p,
            &[],
            &super::pull::PullOptions::default(),
        ))?;
        let files = super::ingest_all(p, false)?;
        let today = at.with_timezone(&p.tz).date_naive();
        let week = crate::report::last_complete_week(today);
        let as_of = super::week_as_of(p, &week)?;
        self.handle.block_on(async {
            super::build(p, &crate::transform::Selection::all(), as_of).await?;
            let written = super::report(p, name, &week).await?;
            for r in &p.recipients {
                let want = r.edition;
                for f in written
                    .iter()
                    .filter(|f| f.to_string_lossy().contains(want.code()))
                {
                    let dir = p.data_dir().join("outbox").join(&r.unit).join(&week);
                    std::fs::create_dir_all(&dir).map_err(|e| JobError::Io(dir.clone(), e))?;
                    let dest = dir.join(f.file_name().unwrap_or_default());
                    std::fs::copy(f, &dest).map_err(|e| JobError::Io(dest.clone(), e))?;
                }
            }
            if !p.grants.is_empty() {
                super::exchange(p, &[], &week, false).await?;
            }
            Ok::<(), JobError>(())
        })?;
        let mut c = counts(&files);
        c.add(&pull_counts(&pulls));
        Ok(c)
    }
}

fn pull_counts(pulls: &[super::pull::PullResult]) -> RunCounts {
    RunCounts {
        rows_in: pulls.iter().map(|p| p.rows_read).sum(),
        rows_accepted: pulls.iter().map(|p| p.rows_accepted).sum(),
        rows_rejected: pulls.iter().map(|p| p.rows_rejected).sum(),
    }
}

fn counts(files: &[ingest::FileResult]) -> RunCounts {
    RunCounts {
        rows_in: files
            .iter()
            .map(|f| f.rows_accepted + f.rows_rejected)
            .sum(),
        rows_accepted: files.iter().map(|f| f.rows_accepted).sum(),
        rows_rejected: files.iter().map(|f| f.rows_rejected).sum(),
    }
}

impl Runner for ProjectRunner {
    fn ingest_file(&self, unit: &str, path: &Path) -> Result<RunCounts, String> {
        let (lake, ledger) = super::open(&self.project).map_err(|e| super::error_chain(&e))?;
        let r = ingest::ingest_file(&self.project, &lake, &ledger, unit, path)
            .map_err(|e| super::error_chain(&e))?;
        Ok(counts(&[r]))
    }

    fn run_job(&self, job: &str, at: chrono::DateTime<chrono::Utc>) -> Result<RunCounts, String> {
        let p = &self.project;
        let result = match job.split_once(':') {
            Some(("report", name)) => self.weekly(name, at),
            _ if job == "ingest" => super::ingest_all(p, false).map(|f| counts(&f)),
            // `pull` (every database feed) or `pull:<feed>`. A feed that failed fails the run,
            // so the daemon's retry and the run ledger see it.
            Some(("pull", _)) | None if job.starts_with("pull") => {
                let feeds: Vec<String> = job
                    .strip_prefix("pull:")
                    .map(|f| vec![f.to_string()])
                    .unwrap_or_default();
                self.handle
                    .block_on(super::pull::pull_all(
                        p,
                        &feeds,
                        &super::pull::PullOptions::default(),
                    ))
                    .and_then(|r| {
                        let failed: Vec<String> = r
                            .iter()
                            .filter_map(|x| x.error.as_ref().map(|e| format!("{}: {e}", x.feed)))
                            .collect();
                        if failed.is_empty() {
                            Ok(pull_counts(&r))
                        } else {
                            Err(JobError::Refused(failed.join("; ")))
                        }
                    })
            }
            _ if job == "build" => {
                let as_of = crate::transform::AsOf::at(p, at.with_timezone(&chrono::Utc));
                self.handle
                    .block_on(super::build(p, &crate::transform::Selection::all(), as_of))
                    .map(|_| RunCounts::default())
            }
            _ => Err(JobError::Refused(format!("unknown job `{job}`"))),
        };
        result.map_err(|e| super::error_chain(&e))
    }
}
