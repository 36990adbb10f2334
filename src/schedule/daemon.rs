//! The daemon loop behind `sanhu serve`: one serial worker that, on every tick or wake-up,
//! hands over ready inbox files, runs the cron slots that are due, and runs the retries whose
//! back-off is over — one step at a time, so within the process there is one writer too.
//!
//! Part of the schedule stage (last in the flow; it drives the jobs and knows no file format or
//! engine).
//!
//! A step is one call into the [`Runner`] (on a blocking thread: the jobs are heavy and
//! synchronous). When the stop signal comes, the step in progress is finished and recorded,
//! and nothing new starts: no further file, slot or retry. A retry that will not happen is
//! recorded as failed and its slot given back, so the next start catches it up once.

use super::clock::Clock;
use super::cron::CronSchedule;
use super::ledger::{NewRun, RunLedger, RunStatus, Trigger, log_end};
use super::lock::{self, LockGuard};
use super::trigger::CronTrigger;
use super::watch::{InboxWatcher, ReadyFile, Signature};
use super::{RetryPolicy, RunCounts, Runner, ScheduleError, ServeOptions, ServeReport};
use chrono::{DateTime, SecondsFormat, Utc};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::Notify;

/// A slot run this long after its time is logged as a catch-up (the daemon was down or busy).
const CATCH_UP_AFTER: chrono::Duration = chrono::Duration::seconds(60);
/// Missed slots are counted for the ledger up to this many ("at least" beyond).
const MISSED_COUNT_CAP: usize = 10_000;
/// The shortest pause between passes, whatever `inbox_poll` says: never a busy loop.
const MIN_POLL: Duration = Duration::from_millis(10);
/// How often a `serve` that waits for another writer tries the lock again.
const LOCK_RETRY: Duration = Duration::from_millis(250);

/// One schedule, parsed, with how far its slots have been dealt with.
struct ScheduledJob {
    job: String,
    cron: CronSchedule,
    /// Slots at or before this are done (run, claimed by another, or folded into a later one).
    floor: DateTime<Utc>,
}

/// What one step does.
#[derive(Debug, Clone)]
enum Work {
    Slot {
        job: String,
        slot: DateTime<Utc>,
        catch_up: bool,
    },
    File(ReadyFile),
}

impl Work {
    fn job(&self) -> &str {
        match self {
            Work::Slot { job, .. } => job,
            Work::File(_) => "ingest",
        }
    }

    fn trigger(&self) -> Trigger {
        match self {
            Work::Slot { .. } => Trigger::Cron,
            Work::File(_) => Trigger::File,
        }
    }

    fn label(&self) -> String {
        match self {
            Work::Slot { job, slot, .. } => format!(
                "{job} @ {}",
                slot.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            Work::File(f) => format!("ingest {}", f.path.display()),
        }
    }
}

struct PendingRetry {
    /// By the schedule's clock, like everything else the daemon decides.
    due: DateTime<Utc>,
    work: Work,
    attempt: u32,
    first_id: i64,
    last_id: i64,
}

/// Check every schedule up front: a bad expression or a job scheduled twice stops `serve`
/// before it takes the lock, with the job and the expression in the message.
pub(crate) fn parse_schedules(
    opts: &ServeOptions,
) -> Result<Vec<(String, CronSchedule)>, ScheduleError> {
    let mut out: Vec<(String, CronSchedule)> = Vec::with_capacity(opts.schedules.len());
    for s in &opts.schedules {
        let job = s.job.trim();
        if job.is_empty() {
            return Err(ScheduleError::Config(format!(
                "a schedule with cron `{}` names no job",
                s.cron
            )));
        }
        // The slot identity is (job, instant): two expressions for one job would share slots.
        if out.iter().any(|(j, _)| j == job) {
            return Err(ScheduleError::Config(format!(
                "job `{job}` is scheduled twice; give it one cron expression"
            )));
        }
        let cron = CronSchedule::parse(&s.cron, opts.tz).map_err(|reason| ScheduleError::Cron {
            job: job.to_string(),
            cron: s.cron.clone(),
            reason,
        })?;
        out.push((job.to_string(), cron));
    }
    Ok(out)
}

pub(crate) struct Daemon {
    jobs: Vec<ScheduledJob>,
    ledger: RunLedger,
    watcher: InboxWatcher,
    runner: Arc<dyn Runner>,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    pending: Vec<PendingRetry>,
    report: ServeReport,
}

impl Daemon {
    /// Open the ledger, undo what a crash left (interrupted runs failed, their slots given
    /// back), and place each job's floor at its last claimed slot. A job with no slot ever
    /// claimed starts from now: a schedule new to this data folder has nothing to catch up.
    pub(crate) fn open(
        opts: &ServeOptions,
        schedules: Vec<(String, CronSchedule)>,
        runner: Arc<dyn Runner>,
        clock: Arc<dyn Clock>,
    ) -> Result<Daemon, ScheduleError> {
        let ledger = RunLedger::open(&opts.data_dir)?;
        let now = clock.now();
        let recovered = ledger.recover_interrupted(now)?;
        if recovered > 0 {
            tracing::warn!(
                runs = recovered,
                "runs left unfinished by an earlier stop are marked failed; their slots will be caught up"
            );
        }
        let mut jobs = Vec::with_capacity(schedules.len());
        for (job, cron) in schedules {
            let floor = ledger.catch_up_floor(&job)?.unwrap_or(now);
            jobs.push(ScheduledJob { job, cron, floor });
        }
        Ok(Daemon {
            jobs,
            ledger,
            watcher: InboxWatcher::new(opts.data_dir.join("inbox"), opts.stable_for),
            runner,
            clock,
            retry: opts.retry.clone(),
            pending: Vec::new(),
            report: ServeReport::default(),
        })
    }

    /// One pass over everything that may be due. Ledger errors end the daemon: without its
    /// ledger it could not promise exactly-once, so it stops and lets a supervisor restart it.
    pub(crate) async fn pass<F: Future<Output = ()>>(
        &mut self,
        stop: &mut Stop<F>,
    ) -> Result<(), ScheduleError> {
        // Files first: a file that arrived just before 08:00 belongs in the 08:00 report.
        for file in self.watcher.scan(self.clock.now()) {
            if stop.requested() {
                self.watcher.release(&file);
                continue;
            }
            self.attempt(Work::File(file), 1, None, stop).await?;
        }
        for i in 0..self.jobs.len() {
            if stop.requested() {
                return Ok(());
            }
            if let Some(work) = self.claim_due(i)? {
                self.attempt(work, 1, None, stop).await?;
            }
        }
        let now = self.clock.now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.due <= now);
        self.pending = later;
        for p in due {
            if stop.requested() {
                self.pending.push(p);
                continue;
            }
            self.retry(p, stop).await?;
        }
        Ok(())
    }

    /// The slot job `i` should run now, claimed in the ledger; `None` if nothing is due or the
    /// slot was already claimed. Only the latest due slot runs: slots missed before it (the
    /// daemon was down, or busy) are folded into it and counted.
    fn claim_due(&mut self, i: usize) -> Result<Option<Work>, ScheduleError> {
        let now = self.clock.now();
        let job = &mut self.jobs[i];
        let Some(slot) = job.cron.latest(job.floor, now) else {
            return Ok(None);
        };
        let missed = job
            .cron
            .count_slots_between(job.floor, slot, MISSED_COUNT_CAP);
        job.floor = slot;
        let slot_text = slot.to_rfc3339_opts(SecondsFormat::Secs, true);
        if !self.ledger.claim_slot(&job.job, slot, now, missed)? {
            self.report.slots_already_claimed += 1;
            tracing::info!(job = %job.job, scheduled_for = %slot_text, "slot already claimed; not run again");
            return Ok(None);
        }
        let catch_up = missed > 0 || now - slot > CATCH_UP_AFTER;
        if catch_up {
            self.report.catch_ups += 1;
            tracing::info!(job = %job.job, scheduled_for = %slot_text, missed_before = missed, "catching up a missed slot, once");
        }
        Ok(Some(Work::Slot {
            job: job.job.clone(),
            slot,
            catch_up,
        }))
    }

    /// Run one attempt of `work`, record it, and on failure either queue the next attempt after
    /// its back-off or record the failure for good.
    async fn attempt<F: Future<Output = ()>>(
        &mut self,
        work: Work,
        attempt: u32,
        first_id: Option<i64>,
        stop: &mut Stop<F>,
    ) -> Result<(), ScheduleError> {
        let (unit, file, slot, catch_up) = match &work {
            Work::Slot { slot, catch_up, .. } => (None, None, Some(*slot), *catch_up),
            Work::File(f) => (Some(f.unit.as_str()), Some(f.path.as_path()), None, false),
        };
        let id = self.ledger.start_run(&NewRun {
            trigger: work.trigger(),
            job: work.job(),
            unit,
            file,
            scheduled_for: slot,
            catch_up,
            attempt,
            retry_of: first_id,
            started_at: self.clock.now(),
        })?;
        if first_id.is_none()
            && let Work::Slot { job, slot, .. } = &work
        {
            self.ledger.attach_run(job, *slot, id)?;
        }
        let label = work.label();
        tracing::info!(run_id = id, job = work.job(), trigger = work.trigger().as_str(), attempt, status = "running", what = %label, "run started");

        let runner = self.runner.clone();
        let task_work = work.clone();
        let task = tokio::task::spawn_blocking(move || match &task_work {
            Work::Slot { job, slot, .. } => runner.run_job(job, *slot),
            Work::File(f) => runner.ingest_file(&f.unit, &f.path),
        });
        let result = match stop.finish(task, &label).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => {
                Err(format!("the job panicked: {}", panic_text(e.into_panic())))
            }
            Err(e) => Err(format!("the job was cancelled: {e}")),
        };
        let ended = self.clock.now();
        let (job, trigger) = (work.job().to_string(), work.trigger());
        match result {
            Ok(counts) => {
                self.ledger
                    .finish_run(id, RunStatus::Ok, &counts, None, ended, None)?;
                log_end(id, &job, trigger, RunStatus::Ok, &counts, None);
                self.settled(&work, true);
            }
            Err(error) if attempt < self.retry.max_attempts && stop.requested() => {
                let error = format!("{error} (not retried: sanhu is stopping)");
                self.ledger.finish_run(
                    id,
                    RunStatus::Failed,
                    &RunCounts::default(),
                    Some(&error),
                    ended,
                    None,
                )?;
                log_end(
                    id,
                    &job,
                    trigger,
                    RunStatus::Failed,
                    &RunCounts::default(),
                    Some(&error),
                );
                self.give_back(&work)?;
            }
            Err(error) if attempt < self.retry.max_attempts => {
                let delay = self.retry.delay_after(attempt);
                let next_at = chrono::Duration::from_std(delay)
                    .ok()
                    .and_then(|d| ended.checked_add_signed(d))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                self.ledger.finish_run(
                    id,
                    RunStatus::Retrying,
                    &RunCounts::default(),
                    Some(&error),
                    ended,
                    Some(next_at),
                )?;
                tracing::warn!(run_id = id, job = %job, trigger = trigger.as_str(), attempt, status = "retrying", retry_in = ?delay, error = %error, "run failed; will retry");
                self.report.retries += 1;
                self.pending.push(PendingRetry {
                    due: next_at,
                    work,
                    attempt: attempt + 1,
                    first_id: first_id.unwrap_or(id),
                    last_id: id,
                });
            }
            Err(error) => {
                self.ledger.finish_run(
                    id,
                    RunStatus::Failed,
                    &RunCounts::default(),
                    Some(&error),
                    ended,
                    None,
                )?;
                log_end(
                    id,
                    &job,
                    trigger,
                    RunStatus::Failed,
                    &RunCounts::default(),
                    Some(&error),
                );
                self.settled(&work, false);
            }
        }
        Ok(())
    }

    async fn retry<F: Future<Output = ()>>(
        &mut self,
        p: PendingRetry,
        stop: &mut Stop<F>,
    ) -> Result<(), ScheduleError> {
        if let Work::File(f) = &p.work
            && Signature::of(&f.path) != Some(f.sig)
        {
            // The sender took the file back or replaced it: the new version is a new delivery.
            self.ledger
                .abandon_retry(p.last_id, "not retried: the file changed or left the inbox")?;
            self.watcher.release(f);
            return Ok(());
        }
        self.attempt(p.work, p.attempt, Some(p.first_id), stop)
            .await
    }

    /// The work is over for good (ok, or failed after its last attempt).
    fn settled(&mut self, work: &Work, ok: bool) {
        match work {
            Work::Slot { .. } => {
                if ok {
                    self.report.jobs_ok += 1
                } else {
                    self.report.jobs_failed += 1
                }
            }
            Work::File(f) => {
                if ok {
                    self.report.files_ok += 1
                } else {
                    self.report.files_failed += 1
                }
                self.watcher.finished(f);
            }
        }
    }

    /// The work was cut short by the stop: let the next start do it again, once.
    fn give_back(&mut self, work: &Work) -> Result<(), ScheduleError> {
        match work {
            Work::Slot { job, slot, .. } => self.ledger.release_slot(job, *slot),
            Work::File(f) => {
                self.watcher.release(f);
                Ok(())
            }
        }
    }

    /// How long until the earliest queued retry is due.
    pub(crate) fn next_retry_in(&self) -> Option<Duration> {
        let now = self.clock.now();
        self.pending
            .iter()
            .map(|p| (p.due - now).to_std().unwrap_or(Duration::ZERO))
            .min()
    }

    /// Stop for good: queued retries will not happen (recorded so, slots given back).
    pub(crate) fn close(mut self) -> Result<ServeReport, ScheduleError> {
        for p in std::mem::take(&mut self.pending) {
            self.ledger
                .abandon_retry(p.last_id, "not retried: sanhu stopped")?;
            self.give_back(&p.work)?;
        }
        Ok(self.report)
    }

    #[cfg(test)]
    pub(crate) fn report(&self) -> &ServeReport {
        &self.report
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// The shutdown future, polled without ever being polled again once it has fired.
pub(crate) struct Stop<F> {
    fut: Pin<Box<F>>,
    fired: bool,
}

impl<F: Future<Output = ()>> Stop<F> {
    pub(crate) fn new(fut: F) -> Stop<F> {
        Stop {
            fut: Box::pin(fut),
            fired: false,
        }
    }

    /// Has the stop come? (Checked between steps, without waiting.)
    pub(crate) fn requested(&mut self) -> bool {
        if !self.fired
            && self
                .fut
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                == Poll::Ready(())
        {
            self.fired = true;
            tracing::info!("stop requested");
        }
        self.fired
    }

    /// Wait for the stop.
    pub(crate) async fn wait(&mut self) {
        if !self.fired {
            self.fut.as_mut().await;
            self.fired = true;
            tracing::info!("stop requested");
        }
    }

    /// Run `step` to its end even if the stop comes meanwhile (noting that it came).
    pub(crate) async fn finish<T>(&mut self, step: impl Future<Output = T>, what: &str) -> T {
        let mut step = std::pin::pin!(step);
        if !self.fired {
            let fut = self.fut.as_mut();
            tokio::select! {
                out = &mut step => return out,
                () = fut => {}
            }
            self.fired = true;
            tracing::info!(
                step = what,
                "stop requested; finishing the step in progress first"
            );
        }
        step.await
    }
}

/// Take the writer lock, waiting (and saying for whom) while another sanhu holds it; `None` if
/// the stop comes first.
async fn wait_for_lock<F: Future<Output = ()>>(
    data_dir: &Path,
    stop: &mut Stop<F>,
) -> Result<Option<LockGuard>, ScheduleError> {
    let mut told = false;
    loop {
        match lock::try_acquire(data_dir)? {
            Ok(guard) => return Ok(Some(guard)),
            Err(held) => {
                if !told {
                    tracing::warn!("{held}; waiting…");
                    told = true;
                }
                tokio::select! {
                    () = stop.wait() => return Ok(None),
                    () = tokio::time::sleep(LOCK_RETRY) => {}
                }
            }
        }
    }
}

/// `serve` with the clock given: what the tests drive.
pub async fn serve_with_clock(
    opts: ServeOptions,
    runner: Arc<dyn Runner>,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<ServeReport, ScheduleError> {
    let schedules = parse_schedules(&opts)?;
    let mut stop = Stop::new(shutdown);
    let Some(lock) = wait_for_lock(&opts.data_dir, &mut stop).await? else {
        return Ok(ServeReport::default());
    };
    let cron_pairs: Vec<(String, String)> = schedules
        .iter()
        .map(|(job, c)| (job.clone(), c.expr().to_string()))
        .collect();
    let mut daemon = Daemon::open(&opts, schedules, runner, clock)?;
    let wake = Arc::new(Notify::new());
    let trigger = CronTrigger::start(&cron_pairs, opts.tz, wake.clone()).await;
    tracing::info!(data_dir = %opts.data_dir.display(), tz = %opts.tz, schedules = cron_pairs.len(), pid = std::process::id(), "serving");

    let poll = opts.inbox_poll.max(MIN_POLL);
    let looped: Result<(), ScheduleError> = async {
        loop {
            daemon.pass(&mut stop).await?;
            if stop.requested() {
                return Ok(());
            }
            let nap = daemon
                .next_retry_in()
                .map_or(poll, |d| d.clamp(MIN_POLL, poll));
            tokio::select! {
                () = stop.wait() => return Ok(()),
                () = tokio::time::sleep(nap) => {}
                () = wake.notified() => {}
            }
        }
    }
    .await;

    trigger.stop().await;
    let closed = daemon.close();
    drop(lock);
    looped?;
    let report = closed?;
    tracing::info!(?report, "stopped");
    Ok(report)
}
