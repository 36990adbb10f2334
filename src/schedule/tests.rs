//! Tests of the schedule stage as a whole: the daemon driven by a test clock (no test sleeps
//! for a schedule or a back-off), and `serve` end to end with a fake runner and small real
//! durations for the file trigger, the lock and the stop.
//!
//! Part of the schedule stage (last in the flow; it drives the jobs and knows no file format or
//! engine): the runner here is a fake that records calls.

use super::daemon::{Daemon, Stop, parse_schedules};
use super::*;
use chrono::{DateTime, Duration as CDuration, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Job(String, DateTime<Utc>),
    /// Unit, file name, the file's length when the runner got it.
    File(String, String, u64),
}

/// Records calls; the first `fail_first` calls fail; each call takes `busy`.
#[derive(Default)]
struct FakeRunner {
    calls: Mutex<Vec<Call>>,
    fail_first: AtomicU32,
    busy: Duration,
    started: Option<tokio::sync::mpsc::UnboundedSender<()>>,
}

impl FakeRunner {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn step(&self, call: Call) -> Result<RunCounts, String> {
        self.calls.lock().unwrap().push(call);
        if let Some(tx) = &self.started {
            let _ = tx.send(());
        }
        std::thread::sleep(self.busy);
        let left = self.fail_first.load(Ordering::SeqCst);
        if left > 0 {
            self.fail_first.store(left - 1, Ordering::SeqCst);
            return Err(format!("source unreachable ({left} more failures planned)"));
        }
        Ok(RunCounts {
            rows_in: 3,
            rows_accepted: 2,
            rows_rejected: 1,
        })
    }
}

impl Runner for FakeRunner {
    fn ingest_file(&self, unit: &str, path: &Path) -> Result<RunCounts, String> {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        self.step(Call::File(unit.to_string(), name, len))
    }

    fn run_job(&self, job: &str, scheduled_for: DateTime<Utc>) -> Result<RunCounts, String> {
        self.step(Call::Job(job.to_string(), scheduled_for))
    }
}

/// A local time in Shanghai, as UTC.
fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(y, mo, d, h, mi, s)
        .unwrap()
        .to_utc()
}

fn opts(data: &Path, schedules: &[(&str, &str)]) -> ServeOptions {
    let schedules = schedules
        .iter()
        .map(|(job, cron)| Schedule {
            job: job.to_string(),
            cron: cron.to_string(),
        })
        .collect();
    ServeOptions::new(data, Shanghai, schedules)
}

fn daemon(o: &ServeOptions, runner: &Arc<FakeRunner>, clock: &TestClock) -> Daemon {
    Daemon::open(
        o,
        parse_schedules(o).unwrap(),
        runner.clone(),
        Arc::new(clock.clone()),
    )
    .unwrap()
}

fn never() -> Stop<std::future::Pending<()>> {
    Stop::new(std::future::pending())
}

const WEEKLY: (&str, &str) = ("report:weekly", "0 0 8 * * Mon");
const DAILY: (&str, &str) = ("build", "0 0 8 * * *");

// 2026-03-02 is a Monday.

#[tokio::test]
async fn weekly_job_fires_exactly_once_at_0800_local_on_monday() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), &[WEEKLY]);
    let runner = Arc::new(FakeRunner::default());
    let clock = TestClock::new(sh(2026, 3, 2, 7, 58, 0));
    let mut d = daemon(&o, &runner, &clock);
    let mut stop = never();
    let mut fired_at = Vec::new();
    // Walk the clock from 07:58 to 08:03 in half-second steps, two passes per step (the
    // trigger's wake-up and the tick may land on the same instant).
    while clock.now() < sh(2026, 3, 2, 8, 3, 0) {
        for _ in 0..2 {
            let before = runner.calls().len();
            d.pass(&mut stop).await.unwrap();
            if runner.calls().len() > before {
                fired_at.push(clock.now());
            }
        }
        clock.advance(Duration::from_millis(500));
    }
    assert_eq!(
        runner.calls(),
        vec![Call::Job("report:weekly".into(), sh(2026, 3, 2, 8, 0, 0))]
    );
    assert_eq!(
        fired_at,
        vec![sh(2026, 3, 2, 8, 0, 0)],
        "at 08:00:00 local, not before, not later"
    );
    assert_eq!(
        sh(2026, 3, 2, 8, 0, 0),
        Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
    );
    let runs = last_runs(dir.path(), 10).unwrap();
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(
        (r.trigger, r.status, r.job.as_str(), r.catch_up),
        (Trigger::Cron, RunStatus::Ok, "report:weekly", false)
    );
    assert_eq!(r.scheduled_for, Some(sh(2026, 3, 2, 8, 0, 0)));
    assert_eq!((r.rows_in, r.rows_accepted, r.rows_rejected), (3, 2, 1));
}

#[tokio::test]
async fn a_double_trigger_for_one_slot_runs_it_once_even_from_two_daemons() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), &[WEEKLY]);
    let runner = Arc::new(FakeRunner::default());
    let clock = TestClock::new(sh(2026, 3, 2, 7, 59, 59));
    // Two daemons on one data folder (the lock normally prevents this; the ledger must hold
    // even without it): both see the slot due at the same instant.
    let mut a = daemon(&o, &runner, &clock);
    let mut b = daemon(&o, &runner, &clock);
    clock.set(sh(2026, 3, 2, 8, 0, 0));
    let mut stop = never();
    a.pass(&mut stop).await.unwrap();
    a.pass(&mut stop).await.unwrap();
    b.pass(&mut stop).await.unwrap();
    b.pass(&mut stop).await.unwrap();
    assert_eq!(runner.calls().len(), 1);
    assert_eq!(b.report().slots_already_claimed, 1);
    assert_eq!(last_runs(dir.path(), 10).unwrap().len(), 1);
    // A restarted daemon does not run the slot again either.
    let mut c = daemon(&o, &runner, &clock);
    clock.advance(Duration::from_secs(5));
    c.pass(&mut stop).await.unwrap();
    assert_eq!(runner.calls().len(), 1);
}

#[tokio::test]
async fn daemon_down_sunday_to_wednesday_catches_up_mondays_slot_once_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), &[WEEKLY]);
    let runner = Arc::new(FakeRunner::default());
    let clock = TestClock::new(sh(2026, 3, 2, 7, 59, 0));
    let mut stop = never();
    {
        let mut d = daemon(&o, &runner, &clock);
        clock.set(sh(2026, 3, 2, 8, 0, 0));
        d.pass(&mut stop).await.unwrap(); // last week's run, on time
        clock.set(sh(2026, 3, 8, 22, 0, 0)); // Sunday night: the daemon goes down
        d.pass(&mut stop).await.unwrap();
    }
    clock.set(sh(2026, 3, 11, 10, 0, 0)); // back on Wednesday
    let mut d = daemon(&o, &runner, &clock);
    for _ in 0..5 {
        d.pass(&mut stop).await.unwrap();
        clock.advance(Duration::from_secs(3600));
    }
    let monday = sh(2026, 3, 9, 8, 0, 0);
    assert_eq!(
        runner.calls(),
        vec![
            Call::Job("report:weekly".into(), sh(2026, 3, 2, 8, 0, 0)),
            Call::Job("report:weekly".into(), monday)
        ]
    );
    let r = &last_runs(dir.path(), 1).unwrap()[0];
    assert_eq!(
        (r.scheduled_for, r.catch_up, r.status),
        (Some(monday), true, RunStatus::Ok)
    );
    // And the next Monday is an ordinary run again.
    clock.set(sh(2026, 3, 16, 8, 0, 0));
    d.pass(&mut stop).await.unwrap();
    assert_eq!(runner.calls().len(), 3);
    assert!(!last_runs(dir.path(), 1).unwrap()[0].catch_up);
}

#[tokio::test]
async fn a_daily_job_missed_three_times_catches_up_once() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), &[DAILY]);
    let runner = Arc::new(FakeRunner::default());
    let clock = TestClock::new(sh(2026, 3, 2, 7, 0, 0));
    let mut stop = never();
    {
        let mut d = daemon(&o, &runner, &clock);
        clock.set(sh(2026, 3, 2, 8, 0, 0));
        d.pass(&mut stop).await.unwrap();
    }
    // Down until the 5th at noon: the 3rd, 4th and 5th 08:00 slots were missed.
    clock.set(sh(2026, 3, 5, 12, 0, 0));
    let mut d = daemon(&o, &runner, &clock);
    d.pass(&mut stop).await.unwrap();
    d.pass(&mut stop).await.unwrap();
    assert_eq!(
        runner.calls(),
        vec![
            Call::Job("build".into(), sh(2026, 3, 2, 8, 0, 0)),
            Call::Job("build".into(), sh(2026, 3, 5, 8, 0, 0))
        ]
    );
    assert_eq!(d.report().catch_ups, 1);
    let conn = rusqlite::Connection::open(dir.path().join(ledger::DB_FILE)).unwrap();
    let missed: i64 = conn
        .query_row(
            "SELECT missed_before FROM schedule_slots WHERE scheduled_for = '2026-03-05T00:00:00Z'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(missed, 2, "the 3rd and the 4th were folded into the 5th");
}

#[tokio::test]
async fn a_new_schedule_does_not_run_for_slots_before_it_existed() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), &[WEEKLY]);
    let runner = Arc::new(FakeRunner::default());
    let clock = TestClock::new(sh(2026, 3, 4, 12, 0, 0)); // a Wednesday, first start ever
    let mut d = daemon(&o, &runner, &clock);
    d.pass(&mut stop_never()).await.unwrap();
    assert!(runner.calls().is_empty());
    clock.set(sh(2026, 3, 9, 8, 0, 0));
    d.pass(&mut stop_never()).await.unwrap();
    assert_eq!(
        runner.calls(),
        vec![Call::Job("report:weekly".into(), sh(2026, 3, 9, 8, 0, 0))]
    );
}

fn stop_never() -> Stop<std::future::Pending<()>> {
    never()
}

#[tokio::test]
async fn a_failing_job_is_retried_with_exponential_backoff_then_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path(), &[DAILY]);
    o.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_secs(10),
    };
    let runner = Arc::new(FakeRunner {
        fail_first: AtomicU32::new(2),
        ..Default::default()
    });
    let clock = TestClock::new(sh(2026, 3, 2, 7, 59, 59));
    let mut d = daemon(&o, &runner, &clock);
    let mut stop = never();
    clock.set(sh(2026, 3, 2, 8, 0, 0));
    let n = || runner.calls().len();

    d.pass(&mut stop).await.unwrap();
    assert_eq!(n(), 1, "first attempt, fails");
    assert_eq!(d.next_retry_in(), Some(Duration::from_secs(10)));
    d.pass(&mut stop).await.unwrap();
    clock.advance(Duration::from_millis(9_900));
    d.pass(&mut stop).await.unwrap();
    assert_eq!(n(), 1, "not before its back-off is over");
    clock.advance(Duration::from_millis(100));
    d.pass(&mut stop).await.unwrap();
    assert_eq!(n(), 2, "second attempt after 10 s, fails");
    assert_eq!(
        d.next_retry_in(),
        Some(Duration::from_secs(20)),
        "the back-off doubles"
    );
    clock.advance(Duration::from_secs(19));
    d.pass(&mut stop).await.unwrap();
    assert_eq!(n(), 2);
    clock.advance(Duration::from_secs(1));
    d.pass(&mut stop).await.unwrap();
    assert_eq!(n(), 3, "third attempt after 20 more s, succeeds");
    assert_eq!(d.next_retry_in(), None);
    assert!(
        runner
            .calls()
            .iter()
            .all(|c| *c == Call::Job("build".into(), sh(2026, 3, 2, 8, 0, 0))),
        "every attempt serves the same slot"
    );

    let mut runs = last_runs(dir.path(), 10).unwrap();
    runs.reverse();
    let statuses: Vec<_> = runs
        .iter()
        .map(|r| (r.attempt, r.status, r.retry_of))
        .collect();
    let first = runs[0].id;
    assert_eq!(
        statuses,
        vec![
            (1, RunStatus::Retrying, None),
            (2, RunStatus::Retrying, Some(first)),
            (3, RunStatus::Ok, Some(first))
        ]
    );
    assert!(
        runs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("source unreachable")
    );
    assert!(runs[0].next_attempt_at.is_some() && runs[2].next_attempt_at.is_none());
    assert_eq!(
        (
            d.report().retries,
            d.report().jobs_ok,
            d.report().jobs_failed
        ),
        (2, 1, 0)
    );
}

#[tokio::test]
async fn a_job_that_keeps_failing_stops_after_max_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path(), &[DAILY]);
    o.retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_secs(1),
    };
    let runner = Arc::new(FakeRunner {
        fail_first: AtomicU32::new(99),
        ..Default::default()
    });
    let clock = TestClock::new(sh(2026, 3, 2, 8, 0, 0) - CDuration::seconds(1));
    let mut d = daemon(&o, &runner, &clock);
    clock.set(sh(2026, 3, 2, 8, 0, 0));
    let mut stop = never();
    for _ in 0..5 {
        d.pass(&mut stop).await.unwrap();
        clock.advance(Duration::from_secs(5));
    }
    assert_eq!(runner.calls().len(), 2);
    let statuses: Vec<_> = last_runs(dir.path(), 10)
        .unwrap()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![RunStatus::Failed, RunStatus::Retrying]);
    assert_eq!(d.report().jobs_failed, 1);
}

#[tokio::test]
async fn a_retry_cut_short_by_the_stop_is_caught_up_once_on_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), &[WEEKLY]);
    let runner = Arc::new(FakeRunner {
        fail_first: AtomicU32::new(1),
        ..Default::default()
    });
    let clock = TestClock::new(sh(2026, 3, 2, 7, 0, 0));
    let mut d = daemon(&o, &runner, &clock);
    clock.set(sh(2026, 3, 2, 8, 0, 0));
    d.pass(&mut never()).await.unwrap(); // fails; a retry is queued
    d.close().unwrap(); // the daemon stops before the retry is due
    let r = &last_runs(dir.path(), 1).unwrap()[0];
    assert_eq!(r.status, RunStatus::Failed);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("not retried: sanhu stopped"),
        "{:?}",
        r.error
    );

    clock.set(sh(2026, 3, 2, 9, 30, 0));
    let mut d = daemon(&o, &runner, &clock);
    d.pass(&mut never()).await.unwrap();
    d.pass(&mut never()).await.unwrap();
    assert_eq!(runner.calls().len(), 2, "redone once");
    assert_eq!(last_runs(dir.path(), 1).unwrap()[0].status, RunStatus::Ok);
}

#[tokio::test]
async fn a_run_interrupted_by_a_crash_is_redone_once() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), &[WEEKLY]);
    let slot = sh(2026, 3, 2, 8, 0, 0);
    {
        // What a crash mid-run leaves: a claimed slot and a run still "running".
        let l = RunLedger::open(dir.path()).unwrap();
        assert!(l.claim_slot("report:weekly", slot, slot, 0).unwrap());
        ManualRun::start(dir.path(), "report:weekly").unwrap(); // never finished
    }
    let conn = rusqlite::Connection::open(dir.path().join(ledger::DB_FILE)).unwrap();
    conn.execute(
        "UPDATE runs SET trigger = 'cron', scheduled_for = '2026-03-02T00:00:00Z'",
        [],
    )
    .unwrap();
    let runner = Arc::new(FakeRunner::default());
    let clock = TestClock::new(sh(2026, 3, 2, 8, 20, 0));
    let mut d = daemon(&o, &runner, &clock);
    d.pass(&mut never()).await.unwrap();
    d.pass(&mut never()).await.unwrap();
    assert_eq!(
        runner.calls(),
        vec![Call::Job("report:weekly".into(), slot)]
    );
    let runs = last_runs(dir.path(), 10).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![RunStatus::Ok, RunStatus::Failed]
    );
}

#[test]
fn bad_schedules_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let err = parse_schedules(&opts(dir.path(), &[("report:weekly", "0 8 * * Mon")])).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("schedule for job `report:weekly`: bad cron expression `0 8 * * Mon`"),
        "{msg}"
    );
    let err = parse_schedules(&opts(dir.path(), &[DAILY, ("build", "0 0 9 * * *")])).unwrap_err();
    assert!(
        err.to_string().contains("`build` is scheduled twice"),
        "{err}"
    );
}

#[test]
fn retry_delays_double_and_are_capped() {
    let p = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_secs(30),
    };
    let d: Vec<_> = (1..=4).map(|a| p.delay_after(a).as_secs()).collect();
    assert_eq!(d, vec![30, 60, 120, 240]);
    assert_eq!(p.delay_after(40), Duration::from_secs(3600));
}

#[test]
fn serve_is_a_send_future() {
    fn is_send<T: Send>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let fut = serve(
        opts(dir.path(), &[]),
        Arc::new(FakeRunner::default()),
        async {},
    );
    is_send(&fut);
}

// ---- `serve` end to end, real time (kept short) ----

fn inbox(data: &Path, unit: &str) -> PathBuf {
    let p = data.join("inbox").join(unit);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Wait (really) until `cond` holds, up to `limit`.
async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ingests_a_dropped_file_once_it_is_stable_and_ignores_temporary_names() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let customs = inbox(&data, "customs");
    let mut o = opts(&data, &[]);
    o.inbox_poll = Duration::from_millis(50);
    o.stable_for = Duration::from_millis(400);
    let runner = Arc::new(FakeRunner::default());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(o, runner.clone(), async move {
        let _ = stop_rx.await;
    }));

    std::fs::write(customs.join("~$报关单.xlsx"), b"office lock").unwrap();
    std::fs::write(customs.join("报关单.xlsx.part"), b"half a download").unwrap();
    // A file written slowly: a chunk every 50 ms for half a second, each gap well inside
    // stable_for (400 ms), so a loaded machine cannot make a pause look like the end.
    let path = customs.join("报关单.csv");
    let mut body = Vec::new();
    for i in 0..10 {
        body.extend_from_slice(format!("row {i}\n").as_bytes());
        std::fs::write(&path, &body).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            runner.calls().is_empty(),
            "handed over while still growing: {:?}",
            runner.calls()
        );
    }
    let done = Instant::now();
    assert!(
        eventually(Duration::from_secs(5), || !runner.calls().is_empty()).await,
        "never ingested"
    );
    let latency = done.elapsed();
    assert!(
        latency >= Duration::from_millis(350) && latency < Duration::from_secs(3),
        "ingested {latency:?} after the last write: within seconds, not before stable_for"
    );
    tokio::time::sleep(Duration::from_millis(300)).await; // more ticks: nothing more happens
    assert_eq!(
        runner.calls(),
        vec![Call::File(
            "customs".into(),
            "报关单.csv".into(),
            body.len() as u64
        )]
    );

    stop_tx.send(()).unwrap();
    let report = server.await.unwrap().unwrap();
    assert_eq!((report.files_ok, report.files_failed), (1, 0));
    let r = &last_runs(&data, 10).unwrap()[0];
    assert_eq!(
        (r.trigger, r.job.as_str(), r.unit.as_deref(), r.status),
        (Trigger::File, "ingest", Some("customs"), RunStatus::Ok)
    );
    assert!(r.file.as_deref().unwrap().ends_with("报关单.csv"));
    drop(acquire_lock(&data, false).expect("serve let go of the lock"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_finishes_the_step_in_progress_on_stop_and_starts_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Arc::new(FakeRunner {
        busy: Duration::from_millis(400),
        started: Some(started_tx),
        ..Default::default()
    });
    let mut o = opts(&data, &[("ingest", "* * * * * *")]); // every second
    o.inbox_poll = Duration::from_millis(50);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(o, runner.clone(), async move {
        let _ = stop_rx.await;
    }));
    tokio::time::timeout(Duration::from_secs(3), started_rx.recv())
        .await
        .expect("the per-second job started");
    stop_tx.send(()).unwrap(); // mid-run
    let report = tokio::time::timeout(Duration::from_secs(3), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(runner.calls().len(), 1, "nothing new after the stop");
    assert_eq!(report.jobs_ok, 1);
    let runs = last_runs(&data, 10).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].status,
        RunStatus::Ok,
        "the step in progress was finished and recorded"
    );
    assert!(runs[0].ended_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_waits_for_the_writer_lock_and_stops_cleanly_while_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let held = acquire_lock(&data, false).unwrap();
    let customs = inbox(&data, "customs");
    std::fs::write(customs.join("报关单.csv"), b"row\n").unwrap();
    let runner = Arc::new(FakeRunner::default());
    let mut o = opts(&data, &[]);
    o.inbox_poll = Duration::from_millis(50);
    o.stable_for = Duration::from_millis(100);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(o.clone(), runner.clone(), async move {
        let _ = stop_rx.await;
    }));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(runner.calls().is_empty(), "no work without the lock");
    drop(held);
    assert!(
        eventually(Duration::from_secs(3), || runner.calls().len() == 1).await,
        "works once the lock is free"
    );
    let err = acquire_lock(&data, false).unwrap_err();
    assert!(
        matches!(err, ScheduleError::Locked { pid: Some(p), .. } if p == std::process::id()),
        "{err}"
    );
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();

    // Stopped while still waiting: returns Ok at once, having done nothing.
    let held = acquire_lock(&data, false).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(o, runner.clone(), async move {
        let _ = stop_rx.await;
    }));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop_tx.send(()).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(2), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(report, ServeReport::default());
    drop(held);
}

#[tokio::test]
async fn a_0230_daily_job_in_berlin_runs_once_on_the_spring_forward_day() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path(), &[("build", "0 30 2 * * *")]);
    o.tz = chrono_tz::Europe::Berlin;
    let runner = Arc::new(FakeRunner::default());
    // From 2026-03-28 23:00 UTC (00:00 CET on the 29th) to 04:00 UTC, a pass every minute.
    let clock = TestClock::new(Utc.with_ymd_and_hms(2026, 3, 28, 23, 0, 0).unwrap());
    let mut d = daemon(&o, &runner, &clock);
    while clock.now() < Utc.with_ymd_and_hms(2026, 3, 29, 4, 0, 0).unwrap() {
        d.pass(&mut never()).await.unwrap();
        clock.advance(Duration::from_secs(60));
    }
    // 02:30 does not exist that day: one run, at 03:00 CEST (01:00 UTC), not zero, not two.
    assert_eq!(
        runner.calls(),
        vec![Call::Job(
            "build".into(),
            Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap()
        )]
    );
}
