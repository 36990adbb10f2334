//! The clock the schedule stage reads "now" from.
//!
//! Part of the schedule stage (last in the flow; it drives the jobs and knows no file format or
//! engine). Every scheduling decision (which cron slot is due, whether a file has been stable
//! long enough, when a retry's back-off is over, the times written to the run ledger) goes
//! through [`Clock::now`], so tests can put the daemon on a Monday at 07:59:59 Asia/Shanghai,
//! step it a second, and see what it does, without sleeping. Production uses [`SystemClock`].
//!
//! Back-off is on this clock too, not on tokio's paused timer: `tokio::time::pause` needs tokio's
//! `test-util` feature, and turning a feature on for tests only would build tokio, and
//! DataFusion above it, a second time. A wall-clock jump can stretch or shorten one back-off;
//! slots are unaffected (they are instants, checked against the ledger).

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

/// Where the schedule stage gets the current instant.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl TestClock {
    pub fn new(at: DateTime<Utc>) -> TestClock {
        TestClock {
            now: Arc::new(Mutex::new(at)),
        }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.lock() = at;
    }

    pub fn advance(&self, by: std::time::Duration) {
        let by = chrono::Duration::from_std(by).expect("test clock step fits in chrono::Duration");
        let mut now = self.lock();
        *now += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A panic in another test thread must not hide this test's own result.
        self.now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn test_clock_moves_only_when_told_and_clones_share_time() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        let clock = TestClock::new(t0);
        let other = clock.clone();
        assert_eq!(clock.now(), t0);
        other.advance(std::time::Duration::from_secs(90));
        assert_eq!(clock.now(), t0 + chrono::Duration::seconds(90));
        clock.set(t0);
        assert_eq!(other.now(), t0);
    }
}
