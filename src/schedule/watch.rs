//! The file-arrival trigger: notice files dropped into `data/inbox/<unit>/` and hand each one
//! over once it has stopped changing.
//!
//! Part of the schedule stage (last in the flow; it drives the jobs and knows no file format or
//! engine).
//!
//! This polls (one directory listing per unit per tick, about a second) rather than using an
//! OS watcher such as `notify`. Inboxes are often network shares (SMB/NFS), where inotify sees
//! nothing that another machine writes; a watcher also reports *that* something changed, not
//! that the writer is done, so the "size and mtime unchanged for `stable_for`" test needs a
//! poll anyway. Eight folders of a few files each cost nothing to list, events cannot be missed
//! or overflow, and a daemon started with files already waiting needs no special start-up scan.
//!
//! A file is ready when its size and mtime were seen unchanged for `stable_for` (by the
//! schedule's clock), and its name is not a temporary one ([`is_temporary_name`]). After the
//! hand-over the same content is not handed over again (the runner normally moves the file to
//! the archive or quarantine; if it stays, only a change of size or mtime makes it new). A file
//! whose ingest failed after all its retries is tried again when it changes, or on the next
//! start of the daemon, never in a loop.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Names that writers use while a file is incomplete, or that are not deliveries: hidden and
/// Office lock files (`.x`, `~$x.xlsx`) and partial downloads or copies.
pub fn is_temporary_name(name: &str) -> bool {
    const SUFFIXES: [&str; 5] = [".tmp", ".part", ".partial", ".crdownload", ".filepart"];
    let lower = name.to_lowercase();
    name.starts_with('.') || name.starts_with("~$") || SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// What identifies one version of a file: its size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Signature {
    len: u64,
    mtime: Option<SystemTime>,
}

impl Signature {
    pub(crate) fn of(path: &Path) -> Option<Signature> {
        let meta = std::fs::metadata(path).ok()?;
        meta.is_file().then(|| Signature {
            len: meta.len(),
            mtime: meta.modified().ok(),
        })
    }
}

/// A file ready for ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadyFile {
    pub unit: String,
    pub path: PathBuf,
    pub sig: Signature,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Seen with this signature since then; not yet stable long enough.
    Settling(DateTime<Utc>),
    /// Handed over; the outcome is not in yet (an ingest or its retries).
    InFlight,
    /// Handed over and finished (ok or failed for good): not again unless it changes.
    Finished,
}

#[derive(Debug)]
struct Tracked {
    sig: Signature,
    state: State,
}

pub(crate) struct InboxWatcher {
    inbox: PathBuf,
    stable_for: chrono::Duration,
    files: HashMap<PathBuf, Tracked>,
}

impl InboxWatcher {
    pub(crate) fn new(inbox: PathBuf, stable_for: std::time::Duration) -> InboxWatcher {
        let stable_for = chrono::Duration::from_std(stable_for).unwrap_or(chrono::Duration::MAX);
        InboxWatcher {
            inbox,
            stable_for,
            files: HashMap::new(),
        }
    }

    /// List the inbox and return the files that just became ready (sorted by unit, then path),
    /// marking them in flight.
    pub(crate) fn scan(&mut self, now: DateTime<Utc>) -> Vec<ReadyFile> {
        let mut seen = Vec::new();
        for (unit, path) in list_inbox(&self.inbox) {
            let Some(sig) = Signature::of(&path) else {
                continue;
            };
            seen.push((unit, path, sig));
        }
        let present: std::collections::HashSet<&PathBuf> = seen.iter().map(|(_, p, _)| p).collect();
        // Forget files that left the inbox (ingested and moved, or taken back by the sender),
        // except those in flight: their outcome still has to be recorded.
        self.files
            .retain(|p, t| present.contains(p) || t.state == State::InFlight);

        let mut ready = Vec::new();
        for (unit, path, sig) in seen {
            let tracked = self.files.entry(path.clone()).or_insert(Tracked {
                sig,
                state: State::Settling(now),
            });
            if tracked.state == State::InFlight {
                continue;
            }
            if tracked.sig != sig {
                // Still being written, or replaced after an earlier ingest: settle afresh.
                *tracked = Tracked {
                    sig,
                    state: State::Settling(now),
                };
                continue;
            }
            if let State::Settling(since) = tracked.state
                && now - since >= self.stable_for
            {
                tracked.state = State::InFlight;
                ready.push(ReadyFile { unit, path, sig });
            }
        }
        ready
    }

    /// The hand-over of `file` is over (ok, or failed after its retries): do not hand over this
    /// version again. A version changed meanwhile is seen as new by the next scan.
    pub(crate) fn finished(&mut self, file: &ReadyFile) {
        self.files.insert(
            file.path.clone(),
            Tracked {
                sig: file.sig,
                state: State::Finished,
            },
        );
    }

    /// The hand-over was cut short (the daemon is stopping): forget it, so it is picked up again.
    pub(crate) fn release(&mut self, file: &ReadyFile) {
        self.files.remove(&file.path);
    }
}

/// `(unit, path)` for every plain, non-temporary file directly inside `inbox/<unit>/`.
fn list_inbox(inbox: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(units) = std::fs::read_dir(inbox) else {
        return out;
    };
    for unit in units.flatten() {
        let unit_name = unit.file_name().to_string_lossy().into_owned();
        if unit_name.starts_with('.') || !unit.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(unit.path()) else {
            continue;
        };
        for file in files.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if is_temporary_name(&name) {
                continue;
            }
            out.push((unit_name.clone(), file.path()));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::io::Write;
    use std::time::Duration;

    #[test]
    fn temporary_names() {
        for name in [
            ".报关单.xlsx",
            "~$报关单.xlsx",
            "a.tmp",
            "a.xlsx.part",
            "a.PARTIAL",
            "a.crdownload",
            "a.csv.filepart",
            ".DS_Store",
        ] {
            assert!(is_temporary_name(name), "{name}");
        }
        for name in [
            "报关单.xlsx",
            "customs_declaration.csv",
            "part.csv",
            "tmp.xlsx",
            "a~$.xlsx",
        ] {
            assert!(!is_temporary_name(name), "{name}");
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap()
    }

    #[test]
    fn a_growing_file_waits_until_stable_then_is_handed_over_once() {
        let dir = tempfile::tempdir().unwrap();
        let unit = dir.path().join("customs");
        std::fs::create_dir_all(&unit).unwrap();
        let path = unit.join("报关单.csv");
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(b"a,b\n").unwrap();
        f.flush().unwrap();

        let mut w = InboxWatcher::new(dir.path().to_path_buf(), Duration::from_secs(2));
        let s = chrono::Duration::seconds;
        assert!(w.scan(t0()).is_empty(), "first sight");
        assert!(w.scan(t0() + s(1)).is_empty());
        f.write_all(b"1,2\n").unwrap(); // the writer is still at it
        f.flush().unwrap();
        assert!(
            w.scan(t0() + s(2)).is_empty(),
            "changed: the clock starts again"
        );
        assert!(w.scan(t0() + s(3)).is_empty());
        let ready = w.scan(t0() + s(4));
        assert_eq!(ready.len(), 1);
        assert_eq!(
            (ready[0].unit.as_str(), ready[0].path.as_path()),
            ("customs", path.as_path())
        );
        assert!(w.scan(t0() + s(10)).is_empty(), "in flight: not again");
        w.finished(&ready[0]);
        assert!(
            w.scan(t0() + s(20)).is_empty(),
            "finished and unchanged: not again"
        );
        // The same name dropped again with new content is a new delivery.
        f.write_all(b"3,4\n").unwrap();
        f.flush().unwrap();
        assert!(w.scan(t0() + s(21)).is_empty());
        assert_eq!(w.scan(t0() + s(23)).len(), 1);
    }

    #[test]
    fn temporary_names_hidden_units_and_subfolders_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        for (rel, body) in [
            ("customs/.~lock.csv#", "x"),
            ("customs/~$报关单.xlsx", "x"),
            ("customs/a.xlsx.part", "x"),
            (".trash/a.csv", "x"),
            ("customs/sub/a.csv", "x"),
            ("ciq/报检.csv", "x"),
        ] {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        std::fs::write(dir.path().join("loose.csv"), "x").unwrap(); // not in a unit folder
        let mut w = InboxWatcher::new(dir.path().to_path_buf(), Duration::from_secs(2));
        assert!(w.scan(t0()).is_empty());
        let ready = w.scan(t0() + chrono::Duration::seconds(2));
        let names: Vec<_> = ready
            .iter()
            .map(|r| {
                (
                    r.unit.as_str(),
                    r.path.file_name().unwrap().to_string_lossy().into_owned(),
                )
            })
            .collect();
        assert_eq!(names, vec![("ciq", "报检.csv".to_string())]);
    }

    #[test]
    fn a_missing_inbox_is_just_empty() {
        let mut w = InboxWatcher::new(
            PathBuf::from("/nonexistent/sanhu/inbox"),
            Duration::from_secs(2),
        );
        assert!(w.scan(t0()).is_empty());
    }
}
