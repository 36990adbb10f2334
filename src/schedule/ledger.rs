//! The run ledger: every run the schedule stage (or a manual command) starts, and every cron
//! slot it claimed, in two tables of the embedded database `data/sanhu.db`.
//!
//! Part of the schedule stage (last in the flow; it drives the jobs and knows no file format or
//! engine).
//!
//! `schedule_slots` is what makes a cron job run exactly once per slot: a slot is claimed by
//! inserting `(job, scheduled_for)` under a UNIQUE constraint before the job starts, so a second
//! trigger for the same slot, from the same process or another one, inserts nothing and runs
//! nothing. `runs` is the history `sanhu status` shows: one row per attempt, with its trigger,
//! times, status, row counts and error. The lake's `deliveries` table lives in the same file and
//! is not touched here.

use super::{RunCounts, ScheduleError};
use crate::state::Db;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, params};
use std::fmt;
use std::path::{Path, PathBuf};

pub use crate::state::DB_FILE;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Cron,
    File,
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Cron => "cron",
            Trigger::File => "file",
            Trigger::Manual => "manual",
        }
    }

    fn parse(s: &str) -> Trigger {
        match s {
            "cron" => Trigger::Cron,
            "file" => Trigger::File,
            _ => Trigger::Manual,
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a run stands. `Retrying`: this attempt failed and another is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Ok,
    Failed,
    Retrying,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Retrying => "retrying",
        }
    }

    fn parse(s: &str) -> RunStatus {
        match s {
            "running" => RunStatus::Running,
            "ok" => RunStatus::Ok,
            "retrying" => RunStatus::Retrying,
            _ => RunStatus::Failed,
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `runs`, as `sanhu status` shows it (times serialise as RFC 3339 UTC).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunRow {
    pub id: i64,
    pub trigger: Trigger,
    pub job: String,
    pub unit: Option<String>,
    pub file: Option<String>,
    #[serde(serialize_with = "ser_opt_time")]
    pub scheduled_for: Option<DateTime<Utc>>,
    pub catch_up: bool,
    pub attempt: u32,
    pub retry_of: Option<i64>,
    pub pid: u32,
    #[serde(serialize_with = "ser_time")]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_time")]
    pub ended_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub rows_in: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub error: Option<String>,
    #[serde(serialize_with = "ser_opt_time")]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A run about to start.
#[derive(Debug, Clone)]
pub(crate) struct NewRun<'a> {
    pub trigger: Trigger,
    pub job: &'a str,
    pub unit: Option<&'a str>,
    pub file: Option<&'a Path>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub catch_up: bool,
    pub attempt: u32,
    pub retry_of: Option<i64>,
    pub started_at: DateTime<Utc>,
}

/// The two tables, on one connection (SQLite connections are not shared across threads; the
/// daemon's loop owns this one).
pub struct RunLedger {
    db: Db,
    path: PathBuf,
}

impl RunLedger {
    /// Open (creating if needed) `data_dir/sanhu.db` and this module's tables.
    pub fn open(data_dir: &Path) -> Result<RunLedger, ScheduleError> {
        let db = Db::open(data_dir)?;
        let path = db.path().to_path_buf();
        Ok(RunLedger { db, path })
    }

    fn err(&self, source: rusqlite::Error) -> ScheduleError {
        ScheduleError::Ledger {
            path: self.path.clone(),
            source,
        }
    }

    /// Claim a cron slot. True if this call claimed it (the caller runs the job); false if it
    /// was already claimed (a double trigger, or another process): the caller does nothing.
    /// A slot given back ([`Self::release_slot`]) can be claimed again, once; claiming a slot
    /// also settles any given-back slot before it (folded into this run).
    pub fn claim_slot(
        &self,
        job: &str,
        scheduled_for: DateTime<Utc>,
        now: DateTime<Utc>,
        missed_before: usize,
    ) -> Result<bool, ScheduleError> {
        let tx = self
            .db
            .conn()
            .unchecked_transaction()
            .map_err(|e| self.err(e))?;
        let slot = slot_text(scheduled_for);
        let n = tx
            .execute(
                "INSERT INTO schedule_slots (job, scheduled_for, claimed_at, missed_before, state) VALUES (?1, ?2, ?3, ?4, 'claimed')
                 ON CONFLICT (job, scheduled_for) DO UPDATE
                    SET state = 'claimed', claimed_at = excluded.claimed_at, missed_before = excluded.missed_before, run_id = NULL
                    WHERE schedule_slots.state = 'released'",
                params![job, slot, time_text(now), missed_before as i64],
            )
            .map_err(|e| self.err(e))?;
        if n == 1 {
            tx.execute("DELETE FROM schedule_slots WHERE job = ?1 AND state = 'released' AND scheduled_for < ?2", params![job, slot])
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    /// Link a claimed slot to the run that serves it.
    pub(crate) fn attach_run(
        &self,
        job: &str,
        scheduled_for: DateTime<Utc>,
        run_id: i64,
    ) -> Result<(), ScheduleError> {
        self.db
            .conn()
            .execute(
                "UPDATE schedule_slots SET run_id = ?3 WHERE job = ?1 AND scheduled_for = ?2",
                params![job, slot_text(scheduled_for), run_id],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Give a slot back, so the next start runs it again, once (its run was cut short).
    pub(crate) fn release_slot(
        &self,
        job: &str,
        scheduled_for: DateTime<Utc>,
    ) -> Result<(), ScheduleError> {
        self.db.conn()
            .execute("UPDATE schedule_slots SET state = 'released' WHERE job = ?1 AND scheduled_for = ?2", params![job, slot_text(scheduled_for)])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The latest slot claimed (and not given back) for `job`.
    pub fn last_claimed_slot(&self, job: &str) -> Result<Option<DateTime<Utc>>, ScheduleError> {
        let s: Option<String> = self
            .db
            .conn()
            .query_row("SELECT max(scheduled_for) FROM schedule_slots WHERE job = ?1 AND state = 'claimed'", params![job], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(s.as_deref().and_then(parse_time))
    }

    /// Where catch-up starts for `job`: slots after this instant are due. Just before the
    /// earliest slot given back, if any (it is redone); else the last claimed slot; `None` for
    /// a job that never ran here.
    pub fn catch_up_floor(&self, job: &str) -> Result<Option<DateTime<Utc>>, ScheduleError> {
        let released: Option<String> = self
            .db
            .conn()
            .query_row("SELECT min(scheduled_for) FROM schedule_slots WHERE job = ?1 AND state = 'released'", params![job], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        match released.as_deref().and_then(parse_time) {
            Some(t) => Ok(Some(t - chrono::Duration::seconds(1))),
            None => self.last_claimed_slot(job),
        }
    }

    pub(crate) fn start_run(&self, run: &NewRun<'_>) -> Result<i64, ScheduleError> {
        self.db.conn()
            .execute(
                "INSERT INTO runs (trigger, job, unit, file, scheduled_for, catch_up, attempt, retry_of, pid, started_at, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'running')",
                params![
                    run.trigger.as_str(),
                    run.job,
                    run.unit,
                    run.file.map(|p| p.to_string_lossy().into_owned()),
                    run.scheduled_for.map(slot_text),
                    run.catch_up,
                    run.attempt,
                    run.retry_of,
                    std::process::id(),
                    time_text(run.started_at),
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.db.conn().last_insert_rowid())
    }

    /// Close a run: ok with its counts, failed with its error, or retrying with the error and
    /// when the next attempt is due.
    pub(crate) fn finish_run(
        &self,
        id: i64,
        status: RunStatus,
        counts: &RunCounts,
        error: Option<&str>,
        ended_at: DateTime<Utc>,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<(), ScheduleError> {
        self.db.conn()
            .execute(
                "UPDATE runs SET status = ?2, rows_in = ?3, rows_accepted = ?4, rows_rejected = ?5, error = ?6,
                        ended_at = ?7, next_attempt_at = ?8
                 WHERE id = ?1",
                params![
                    id,
                    status.as_str(),
                    counts.rows_in as i64,
                    counts.rows_accepted as i64,
                    counts.rows_rejected as i64,
                    error,
                    time_text(ended_at),
                    next_attempt_at.map(time_text),
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Turn a `retrying` run whose retry will not happen into `failed`, saying why.
    pub(crate) fn abandon_retry(&self, id: i64, why: &str) -> Result<(), ScheduleError> {
        self.db
            .conn()
            .execute(
                "UPDATE runs SET status = 'failed', next_attempt_at = NULL,
                        error = CASE WHEN error IS NULL THEN ?2 ELSE error || ' (' || ?2 || ')' END
                 WHERE id = ?1 AND status = 'retrying'",
                params![id, why],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// After a crash: runs still `running` or `retrying` were cut short. Mark them failed and
    /// give their cron slots back, so each such slot is caught up once on this start. Called
    /// under the writer lock, so no live process owns them. Returns how many were recovered.
    pub fn recover_interrupted(&self, now: DateTime<Utc>) -> Result<usize, ScheduleError> {
        let tx = self
            .db
            .conn()
            .unchecked_transaction()
            .map_err(|e| self.err(e))?;
        let slots: Vec<(String, String)> = {
            let mut stmt = tx
                .prepare("SELECT job, scheduled_for FROM runs WHERE status IN ('running', 'retrying') AND trigger = 'cron' AND scheduled_for IS NOT NULL")
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?
        };
        for (job, slot) in &slots {
            tx.execute("UPDATE schedule_slots SET state = 'released' WHERE job = ?1 AND scheduled_for = ?2", params![job, slot])
                .map_err(|e| self.err(e))?;
        }
        let n = tx
            .execute(
                "UPDATE runs SET status = 'failed', next_attempt_at = NULL, ended_at = COALESCE(ended_at, ?1),
                        error = CASE WHEN error IS NULL THEN ?2 ELSE error || ' (' || ?2 || ')' END
                 WHERE status IN ('running', 'retrying')",
                params![time_text(now), "interrupted: sanhu stopped before the run finished"],
            )
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n)
    }

    /// The newest `n` runs, newest first.
    pub fn last_runs(&self, n: usize) -> Result<Vec<RunRow>, ScheduleError> {
        query_runs(self.db.conn(), n).map_err(|e| self.err(e))
    }
}

fn query_runs(conn: &Connection, n: usize) -> rusqlite::Result<Vec<RunRow>> {
    let mut stmt = conn.prepare(
        "SELECT id, trigger, job, unit, file, scheduled_for, catch_up, attempt, retry_of, pid, started_at, ended_at,
                status, rows_in, rows_accepted, rows_rejected, error, next_attempt_at
         FROM runs ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map(params![n as i64], |r| {
        let time = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
            Ok(r.get::<_, Option<String>>(i)?
                .as_deref()
                .and_then(parse_time))
        };
        Ok(RunRow {
            id: r.get(0)?,
            trigger: Trigger::parse(&r.get::<_, String>(1)?),
            job: r.get(2)?,
            unit: r.get(3)?,
            file: r.get(4)?,
            scheduled_for: time(5)?,
            catch_up: r.get(6)?,
            attempt: r.get(7)?,
            retry_of: r.get(8)?,
            pid: r.get(9)?,
            started_at: time(10)?.unwrap_or_default(),
            ended_at: time(11)?,
            status: RunStatus::parse(&r.get::<_, String>(12)?),
            rows_in: r.get::<_, i64>(13)?.max(0) as u64,
            rows_accepted: r.get::<_, i64>(14)?.max(0) as u64,
            rows_rejected: r.get::<_, i64>(15)?.max(0) as u64,
            error: r.get(16)?,
            next_attempt_at: time(17)?,
        })
    })?;
    rows.collect()
}

/// The newest `n` runs in `data_dir/sanhu.db`, newest first, for `sanhu status`. Read-only: a
/// data folder without a database (or without runs yet) has no runs, and none is created.
pub fn last_runs(data_dir: &Path, n: usize) -> Result<Vec<RunRow>, ScheduleError> {
    let Some(db) = Db::open_existing(data_dir)? else {
        return Ok(Vec::new());
    };
    query_runs(db.conn(), n).map_err(|source| ScheduleError::Ledger {
        path: db.path().to_path_buf(),
        source,
    })
}

/// A run started by hand (`sanhu ingest`, `sanhu build`, `sanhu run` …), logged like the
/// daemon's. Start it after taking the writer lock ([`super::acquire_lock`]); a process that
/// dies before `finish` leaves it `running`, and the next `serve` marks it failed.
pub struct ManualRun {
    ledger: RunLedger,
    id: i64,
    job: String,
}

impl ManualRun {
    pub fn start(data_dir: &Path, job: &str) -> Result<ManualRun, ScheduleError> {
        let ledger = RunLedger::open(data_dir)?;
        let id = ledger.start_run(&NewRun {
            trigger: Trigger::Manual,
            job,
            unit: None,
            file: None,
            scheduled_for: None,
            catch_up: false,
            attempt: 1,
            retry_of: None,
            started_at: Utc::now(),
        })?;
        tracing::info!(
            run_id = id,
            job,
            trigger = "manual",
            status = "running",
            "run started"
        );
        Ok(ManualRun {
            ledger,
            id,
            job: job.to_string(),
        })
    }

    pub fn id(&self) -> i64 {
        self.id
    }

    /// Record the outcome: the counts of a success, or the error text of a failure.
    pub fn finish(self, outcome: Result<&RunCounts, &str>) -> Result<(), ScheduleError> {
        let (status, counts, error) = match outcome {
            Ok(c) => (RunStatus::Ok, c.clone(), None),
            Err(e) => (RunStatus::Failed, RunCounts::default(), Some(e)),
        };
        self.ledger
            .finish_run(self.id, status, &counts, error, Utc::now(), None)?;
        log_end(self.id, &self.job, Trigger::Manual, status, &counts, error);
        Ok(())
    }
}

/// Run `work` as a logged manual run: a `runs` row before, its outcome after (`counts` reads
/// the row counts off a success). The ledger only records: if it cannot be written, that is
/// logged as a warning and `work` still runs, and its own result is returned unchanged.
pub fn record_manual_run<T, E: fmt::Display>(
    data_dir: &Path,
    job: &str,
    work: impl FnOnce() -> Result<T, E>,
    counts: impl FnOnce(&T) -> RunCounts,
) -> Result<T, E> {
    let run = ManualRun::start(data_dir, job)
        .map_err(|e| tracing::warn!(job, error = %e, "manual run not recorded in the run ledger"))
        .ok();
    let result = work();
    if let Some(run) = run {
        let outcome = match &result {
            Ok(v) => run.finish(Ok(&counts(v))),
            Err(e) => run.finish(Err(&e.to_string())),
        };
        if let Err(e) = outcome {
            tracing::warn!(job, error = %e, "manual run outcome not recorded in the run ledger");
        }
    }
    result
}

pub(crate) fn log_end(
    run_id: i64,
    job: &str,
    trigger: Trigger,
    status: RunStatus,
    counts: &RunCounts,
    error: Option<&str>,
) {
    match status {
        RunStatus::Ok => tracing::info!(
            run_id,
            job,
            trigger = trigger.as_str(),
            status = status.as_str(),
            rows_in = counts.rows_in,
            rows_accepted = counts.rows_accepted,
            rows_rejected = counts.rows_rejected,
            "run finished"
        ),
        _ => tracing::warn!(
            run_id,
            job,
            trigger = trigger.as_str(),
            status = status.as_str(),
            error = error.unwrap_or(""),
            "run finished"
        ),
    }
}

/// Run times keep milliseconds; fixed width so text order is time order.
fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Slots are whole seconds (cron has no finer field); one spelling per slot, for the UNIQUE key.
fn slot_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc())
}

fn ser_time<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&time_text(*t))
}

fn ser_opt_time<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&time_text(*t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, s).unwrap()
    }

    #[test]
    fn a_slot_is_claimed_once_even_from_two_connections() {
        let dir = tempfile::tempdir().unwrap();
        let a = RunLedger::open(dir.path()).unwrap();
        let b = RunLedger::open(dir.path()).unwrap();
        assert!(
            a.claim_slot("report:weekly", t(0, 0, 0), t(0, 0, 0), 0)
                .unwrap()
        );
        assert!(
            !a.claim_slot("report:weekly", t(0, 0, 0), t(0, 0, 1), 0)
                .unwrap()
        );
        assert!(
            !b.claim_slot("report:weekly", t(0, 0, 0), t(0, 0, 1), 0)
                .unwrap()
        );
        assert!(
            b.claim_slot("build", t(0, 0, 0), t(0, 0, 1), 0).unwrap(),
            "the key is (job, slot)"
        );
        assert_eq!(
            b.last_claimed_slot("report:weekly").unwrap(),
            Some(t(0, 0, 0))
        );
        assert_eq!(b.last_claimed_slot("ingest").unwrap(), None);
    }

    #[test]
    fn runs_round_trip_and_list_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let l = RunLedger::open(dir.path()).unwrap();
        let id = l
            .start_run(&NewRun {
                trigger: Trigger::File,
                job: "ingest",
                unit: Some("customs"),
                file: Some(Path::new("data/inbox/customs/报关单.xlsx")),
                scheduled_for: None,
                catch_up: false,
                attempt: 1,
                retry_of: None,
                started_at: t(1, 0, 0),
            })
            .unwrap();
        l.finish_run(
            id,
            RunStatus::Ok,
            &RunCounts {
                rows_in: 10,
                rows_accepted: 9,
                rows_rejected: 1,
            },
            None,
            t(1, 0, 2),
            None,
        )
        .unwrap();
        ManualRun::start(dir.path(), "build")
            .unwrap()
            .finish(Err("query failed"))
            .unwrap();
        let rows = last_runs(dir.path(), 10).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].job.as_str(), rows[0].trigger, rows[0].status),
            ("build", Trigger::Manual, RunStatus::Failed)
        );
        assert_eq!(rows[0].error.as_deref(), Some("query failed"));
        let r = &rows[1];
        assert_eq!(
            (r.trigger, r.status, r.unit.as_deref()),
            (Trigger::File, RunStatus::Ok, Some("customs"))
        );
        assert_eq!((r.rows_in, r.rows_accepted, r.rows_rejected), (10, 9, 1));
        assert_eq!((r.started_at, r.ended_at), (t(1, 0, 0), Some(t(1, 0, 2))));
        assert_eq!(r.pid, std::process::id());
        assert_eq!(last_runs(dir.path(), 1).unwrap().len(), 1);
    }

    #[test]
    fn last_runs_on_a_fresh_folder_is_empty_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(last_runs(dir.path(), 5).unwrap().is_empty());
        assert!(!dir.path().join(DB_FILE).exists());
        // A database made by the ledger of the lake: no run yet.
        crate::lake::ledger::Ledger::open(dir.path()).unwrap();
        assert!(last_runs(dir.path(), 5).unwrap().is_empty());
    }

    #[test]
    fn record_manual_run_returns_the_work_result_and_logs_it() {
        let dir = tempfile::tempdir().unwrap();
        let ok: Result<u64, String> = record_manual_run(
            dir.path(),
            "ingest",
            || Ok(7),
            |n| RunCounts {
                rows_in: *n,
                rows_accepted: *n,
                rows_rejected: 0,
            },
        );
        assert_eq!(ok, Ok(7));
        let err: Result<u64, String> = record_manual_run(
            dir.path(),
            "build",
            || Err("boom".to_string()),
            |_| RunCounts::default(),
        );
        assert_eq!(err, Err("boom".to_string()));
        let rows = last_runs(dir.path(), 5).unwrap();
        assert_eq!(rows[0].status, RunStatus::Failed);
        assert_eq!((rows[1].status, rows[1].rows_accepted), (RunStatus::Ok, 7));
    }

    #[test]
    fn interrupted_runs_are_failed_and_their_slots_released() {
        let dir = tempfile::tempdir().unwrap();
        let l = RunLedger::open(dir.path()).unwrap();
        assert!(l.claim_slot("build", t(0, 0, 0), t(0, 0, 0), 0).unwrap());
        let id = l
            .start_run(&NewRun {
                trigger: Trigger::Cron,
                job: "build",
                unit: None,
                file: None,
                scheduled_for: Some(t(0, 0, 0)),
                catch_up: false,
                attempt: 1,
                retry_of: None,
                started_at: t(0, 0, 0),
            })
            .unwrap();
        l.attach_run("build", t(0, 0, 0), id).unwrap();
        assert_eq!(l.recover_interrupted(t(2, 0, 0)).unwrap(), 1);
        assert_eq!(l.last_claimed_slot("build").unwrap(), None);
        assert_eq!(
            l.catch_up_floor("build").unwrap(),
            Some(t(0, 0, 0) - chrono::Duration::seconds(1)),
            "redo it once"
        );
        assert!(
            l.claim_slot("build", t(0, 0, 0), t(2, 0, 1), 0).unwrap(),
            "a released slot can be claimed again"
        );
        assert!(
            !l.claim_slot("build", t(0, 0, 0), t(2, 0, 2), 0).unwrap(),
            "but only once"
        );
        // A slot given back and then overtaken by a later one is settled by the later claim.
        l.release_slot("build", t(0, 0, 0)).unwrap();
        assert!(l.claim_slot("build", t(1, 0, 0), t(2, 0, 3), 1).unwrap());
        assert_eq!(l.catch_up_floor("build").unwrap(), Some(t(1, 0, 0)));
        let row = &l.last_runs(1).unwrap()[0];
        assert_eq!(row.status, RunStatus::Failed);
        assert!(row.error.as_deref().unwrap().contains("interrupted"));
    }

    #[test]
    fn run_rows_serialise_with_rfc3339_times() {
        let dir = tempfile::tempdir().unwrap();
        ManualRun::start(dir.path(), "build")
            .unwrap()
            .finish(Ok(&RunCounts::default()))
            .unwrap();
        let row = &last_runs(dir.path(), 1).unwrap()[0];
        let json = serde_json::to_value(row).unwrap();
        assert_eq!(json["status"], "ok");
        assert_eq!(json["trigger"], "manual");
        assert_eq!(json["scheduled_for"], serde_json::Value::Null);
        let started = json["started_at"].as_str().unwrap();
        assert!(
            started.ends_with('Z') && DateTime::parse_from_rfc3339(started).is_ok(),
            "{started}"
        );
    }
}
