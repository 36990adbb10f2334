//! The schedule stage: last in the flow, it drives the jobs. `sanhu serve` runs here — the cron
//! schedules declared in `pipelines/` and `reports/`, the file-arrival trigger on
//! `data/inbox/<unit>/`, retries, the run ledger that `sanhu status` reads, and the lock that
//! keeps one writer on `data/` at a time. It knows no file format and no query engine: the jobs
//! themselves come in through the [`Runner`] trait, which the `jobs` stage implements.
//!
//! How a scheduled run happens, and why this way:
//!
//! - **The ledger decides, not the trigger.** Each cron slot has an identity, `(job,
//!   scheduled_for)`, computed here from the expression in local time ([`next_slots`], with the
//!   DST rules in [`cron`]). Before a job runs its slot is inserted into `schedule_slots` under
//!   a UNIQUE constraint; a second trigger for the same slot inserts nothing and runs nothing.
//!   tokio-cron-scheduler has fired twice (#105) and an hour off after DST changes (#107), so
//!   it is only the alarm clock.
//! - **A one-second tick as well as the alarm.** Every `inbox_poll` (1 s) the loop wakes anyway,
//!   lists the inbox and asks "which slots are due by the clock?". This is what makes the
//!   schedule right even when the trigger is wrong or was never started, and it costs one
//!   directory listing and a few date computations a second. The trigger only makes a slot
//!   start at its second rather than up to a tick later.
//! - **Catch-up once.** Only the *latest* due slot of a job runs; the slots before it since the
//!   last claimed one are folded into it (and counted in `missed_before`). A daemon down from
//!   Sunday to Wednesday runs Monday's weekly report once on start; a daily job missed three
//!   times runs once. A schedule new to the data folder starts from its next slot.
//! - **A controllable clock** ([`Clock`]): scheduling, file stability and retry back-off all
//!   read it, so they are tested by setting the time, not by sleeping.
//! - **Retries** ([`RetryPolicy`]): a failed job or file ingest is tried again after `base_delay`,
//!   then twice that, up to `max_attempts` in all; each attempt is a row in `runs` (`retrying`,
//!   then `ok` or `failed`). Other work goes on during the back-off.
//! - **One writer** ([`acquire_lock`]): `serve` holds `data/sanhu.lock` while it runs; manual
//!   commands take it too. Within the daemon, steps run one at a time.
//! - **Graceful stop**: when the shutdown future resolves, the step in progress finishes and is
//!   recorded, nothing new starts, and `serve` returns `Ok`. A run cut short (a crash, or a retry
//!   that will not happen) gives its slot back, so the next start redoes it once.

pub mod clock;
pub mod cron;
mod daemon;
pub mod ledger;
pub mod lock;
mod trigger;
pub mod watch;

#[cfg(test)]
mod tests;

pub use clock::{Clock, SystemClock, TestClock};
pub use cron::{CronSchedule, next_slots};
pub use daemon::serve_with_clock;
pub use ledger::{ManualRun, RunLedger, RunRow, RunStatus, Trigger, last_runs, record_manual_run};
pub use lock::{LockGuard, acquire_lock};
pub use watch::is_temporary_name;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The jobs, as the schedule stage sees them. Both methods run on a blocking thread and may
/// take as long as they need; an `Err` is an infrastructure failure worth retrying (rows that
/// fail validation are not errors: they are counted in [`RunCounts::rows_rejected`]).
pub trait Runner: Send + Sync + 'static {
    /// Ingest one file that appeared in data/inbox/<unit>/ (the file is stable, not temporary).
    fn ingest_file(&self, unit: &str, path: &std::path::Path) -> Result<RunCounts, String>;
    /// Run a scheduled job by name: "ingest" (whole inbox), "build", or "report:<name>" (writes
    /// that report for the last complete ISO week, both editions, and copies them into the
    /// outboxes).
    fn run_job(
        &self,
        job: &str,
        scheduled_for: chrono::DateTime<chrono::Utc>,
    ) -> Result<RunCounts, String>;
}

/// Rows a run read, accepted and rejected (0 for jobs that do not count rows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub rows_in: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
}

impl RunCounts {
    pub fn add(&mut self, o: &RunCounts) {
        self.rows_in += o.rows_in;
        self.rows_accepted += o.rows_accepted;
        self.rows_rejected += o.rows_rejected;
    }
}

/// One scheduled job: its name for the [`Runner`] and a 6-field cron expression with seconds,
/// read in the project's local time, e.g. `0 0 8 * * Mon`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub job: String,
    pub cron: String,
}

/// Retries of a failed run: at most `max_attempts` attempts in all, the n-th retry after
/// `base_delay × 2^(n-1)` (capped at an hour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
}

/// No back-off grows past this: a retry is never more than an hour away.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based) before the next one.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay
            .saturating_mul(factor)
            .min(MAX_RETRY_DELAY.max(self.base_delay))
    }
}

impl Default for RetryPolicy {
    /// Three attempts, 30 s then 60 s apart: long enough for a share or a database that blinked.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_secs(30),
        }
    }
}

/// What `serve` needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The data folder: `inbox/`, `sanhu.db`, `sanhu.lock` live in it.
    pub data_dir: PathBuf,
    /// The time zone cron expressions are read in (the project's, Asia/Shanghai by default).
    pub tz: chrono_tz::Tz,
    pub schedules: Vec<Schedule>,
    /// How often the inbox is listed and due slots are checked (default 1 s).
    pub inbox_poll: Duration,
    /// How long a file's size and mtime must stay unchanged before it is ingested (default 2 s).
    pub stable_for: Duration,
    pub retry: RetryPolicy,
}

impl ServeOptions {
    /// Options with the defaults: poll every second, files stable for two seconds, 3 attempts.
    pub fn new(
        data_dir: impl Into<PathBuf>,
        tz: chrono_tz::Tz,
        schedules: Vec<Schedule>,
    ) -> ServeOptions {
        ServeOptions {
            data_dir: data_dir.into(),
            tz,
            schedules,
            inbox_poll: Duration::from_secs(1),
            stable_for: Duration::from_secs(2),
            retry: RetryPolicy::default(),
        }
    }
}

/// What a `serve` did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeReport {
    /// Cron slots run to success / failed after their last attempt.
    pub jobs_ok: u64,
    pub jobs_failed: u64,
    /// Inbox files ingested / failed after their last attempt.
    pub files_ok: u64,
    pub files_failed: u64,
    /// Attempts that failed and were queued for a retry.
    pub retries: u64,
    /// Slots run late, for a time the daemon was down or busy (each counted once).
    pub catch_ups: u64,
    /// Due slots another process (or an earlier run) had already claimed: not run again.
    pub slots_already_claimed: u64,
}

/// What stops the schedule stage. Every message names the place: the job and its expression,
/// the database file, the path, or the process holding the lock.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{}", lock::locked_message(pid, data_dir))]
    Locked { pid: Option<u32>, data_dir: PathBuf },
    #[error("schedule for job `{job}`: bad cron expression `{cron}`: {reason}")]
    Cron {
        job: String,
        cron: String,
        reason: String,
    },
    #[error("schedules: {0}")]
    Config(String),
    #[error("run ledger {path}")]
    Ledger {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Run the daemon until `shutdown` resolves: take the writer lock (waiting, and saying for
/// whom, if another sanhu holds it), then run schedules, file arrivals and retries. On
/// shutdown the step in progress is finished, and `Ok` comes back with what was done.
pub async fn serve(
    opts: ServeOptions,
    runner: Arc<dyn Runner>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<ServeReport, ScheduleError> {
    serve_with_clock(opts, runner, Arc::new(SystemClock), shutdown).await
}
