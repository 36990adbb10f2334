//! One writer at a time: an exclusive lock on `data/sanhu.lock`.
//!
//! Part of the schedule stage (last in the flow; it drives the jobs and knows no file format or
//! engine).
//!
//! `sanhu serve` holds it for as long as it runs; every manual command that writes (ingest,
//! build, report, run) takes it for its duration. So two daemons, or a daemon and a manual run,
//! never ingest the same file twice or write the same lake table at once. The lock is the OS's
//! advisory file lock (`File::try_lock`, std since Rust 1.89; `flock` on Unix, `LockFileEx` on
//! Windows): the kernel drops it when the process dies, however it dies, so a crash never
//! leaves a stale lock behind. The holder writes its pid into the file so the one that waits
//! can say who it is waiting for; the pid is only a message, never what decides.

use super::ScheduleError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file inside the data folder.
pub const LOCK_FILE: &str = "sanhu.lock";

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    path: PathBuf,
}

impl LockGuard {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Clear the pid while still holding the lock, so no reader sees a departed holder's.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// Take the writer lock on `data_dir`. With `wait`, block until the holder lets go, after
/// logging "another sanhu (pid N) is writing to data/; waiting…"; without, fail at once with
/// [`ScheduleError::Locked`], whose message names the holder's pid.
pub fn acquire_lock(data_dir: &Path, wait: bool) -> Result<LockGuard, ScheduleError> {
    match try_acquire(data_dir)? {
        Ok(guard) => Ok(guard),
        Err(held) if !wait => Err(held),
        Err(held) => {
            tracing::warn!("{held}; waiting…");
            let (file, path) = open(data_dir)?;
            file.lock().map_err(|source| ScheduleError::Io {
                path: path.clone(),
                source,
            })?;
            claim(file, path)
        }
    }
}

/// One attempt: `Ok(Ok(guard))`, or `Ok(Err(Locked { pid, .. }))` when another process holds it.
pub(crate) fn try_acquire(
    data_dir: &Path,
) -> Result<Result<LockGuard, ScheduleError>, ScheduleError> {
    let (file, path) = open(data_dir)?;
    match file.try_lock() {
        Ok(()) => claim(file, path).map(Ok),
        Err(TryLockError::WouldBlock) => Ok(Err(ScheduleError::Locked {
            pid: holder_pid(&path),
            data_dir: data_dir.to_path_buf(),
        })),
        Err(TryLockError::Error(source)) => Err(ScheduleError::Io { path, source }),
    }
}

fn open(data_dir: &Path) -> Result<(File, PathBuf), ScheduleError> {
    std::fs::create_dir_all(data_dir).map_err(|source| ScheduleError::Io {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let path = data_dir.join(LOCK_FILE);
    // Never truncate on open: the file holds the current holder's pid.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| ScheduleError::Io {
            path: path.clone(),
            source,
        })?;
    Ok((file, path))
}

fn claim(mut file: File, path: PathBuf) -> Result<LockGuard, ScheduleError> {
    let io = |source| ScheduleError::Io {
        path: path.clone(),
        source,
    };
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(LockGuard { file, path })
}

fn holder_pid(path: &Path) -> Option<u32> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// "another sanhu (pid 1234) is writing to data/": the `Locked` error's message.
pub(crate) fn locked_message(pid: &Option<u32>, data_dir: &Path) -> String {
    let who = match pid {
        Some(pid) => format!("pid {pid}"),
        None => "pid unknown".to_string(),
    };
    let mut dir = data_dir.display().to_string();
    if !dir.ends_with(std::path::MAIN_SEPARATOR) && !dir.ends_with('/') {
        dir.push('/');
    }
    format!("another sanhu ({who}) is writing to {dir}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn second_acquirer_gets_a_clear_error_naming_the_holder_pid() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let held = acquire_lock(&data, false).unwrap();
        let text = std::fs::read_to_string(data.join(LOCK_FILE)).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());

        let err = acquire_lock(&data, false).unwrap_err();
        match &err {
            ScheduleError::Locked { pid, .. } => assert_eq!(*pid, Some(std::process::id())),
            other => panic!("expected Locked, got {other:?}"),
        }
        let msg = err.to_string();
        assert_eq!(
            msg,
            format!(
                "another sanhu (pid {}) is writing to {}/",
                std::process::id(),
                data.display()
            )
        );

        drop(held);
        let again = acquire_lock(&data, false).expect("free once the holder drops it");
        drop(again);
    }

    #[test]
    fn a_waiting_acquirer_gets_the_lock_when_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_path_buf();
        let held = acquire_lock(&data, false).unwrap();
        let waiter = std::thread::spawn(move || {
            let t0 = Instant::now();
            let g = acquire_lock(&data, true).unwrap();
            (t0.elapsed(), g)
        });
        std::thread::sleep(Duration::from_millis(200));
        drop(held);
        let (waited, guard) = waiter.join().unwrap();
        assert!(
            waited >= Duration::from_millis(150),
            "waited only {waited:?}"
        );
        assert_eq!(
            std::fs::read_to_string(guard.path()).unwrap().trim(),
            std::process::id().to_string()
        );
    }

    #[test]
    fn message_without_a_readable_pid() {
        assert_eq!(
            locked_message(&None, Path::new("data/")),
            "another sanhu (pid unknown) is writing to data/"
        );
    }

    /// Run by `another_process_holding_the_lock_is_named_by_pid` in a child process: hold the
    /// lock on `$SANHU_LOCK_TEST_DIR`, say so, and keep it until stdin closes.
    #[test]
    #[ignore = "helper run in a child process"]
    fn lock_holder_child() {
        let Some(dir) = std::env::var_os("SANHU_LOCK_TEST_DIR") else {
            return;
        };
        let _g = acquire_lock(Path::new(&dir), false).unwrap();
        println!("LOCKED");
        let _ = std::io::stdout().flush();
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
    }

    #[test]
    fn another_process_holding_the_lock_is_named_by_pid() {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "schedule::lock::tests::lock_holder_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SANHU_LOCK_TEST_DIR", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("LOCKED") {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "child exited before taking the lock"
            );
        }
        let err = acquire_lock(dir.path(), false).unwrap_err();
        assert!(
            err.to_string().contains(&format!("(pid {})", child.id())),
            "{err}"
        );
        drop(child.stdin.take()); // the child lets go and exits
        child.wait().unwrap();
        drop(acquire_lock(dir.path(), false).expect("free after the other process exits"));
    }
}
