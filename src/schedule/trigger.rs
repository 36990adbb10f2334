//! The wake-up call: tokio-cron-scheduler rings when a cron expression fires, and the daemon
//! then checks the ledger for due slots at once instead of at its next one-second tick.
//!
//! Part of the schedule stage (last in the flow; it drives the jobs and knows no file format or
//! engine).
//!
//! It only wakes; it never decides. A double firing (#105) wakes the daemon twice and the
//! ledger runs the slot once; a firing an hour off after a DST change (#107) finds nothing due
//! and the tick runs the slot on time. If the scheduler cannot be started at all, the daemon
//! says so and the tick alone keeps every schedule, at most one tick late.

use chrono_tz::Tz;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_cron_scheduler::{Job, JobScheduler};

pub(crate) struct CronTrigger {
    scheduler: Option<JobScheduler>,
}

impl CronTrigger {
    /// Start one trigger job per `(job, cron)`; each firing calls `wake.notify_one()`.
    pub(crate) async fn start(
        schedules: &[(String, String)],
        tz: Tz,
        wake: Arc<Notify>,
    ) -> CronTrigger {
        if schedules.is_empty() {
            return CronTrigger { scheduler: None };
        }
        match Self::try_start(schedules, tz, wake).await {
            Ok(scheduler) => CronTrigger {
                scheduler: Some(scheduler),
            },
            Err(e) => {
                tracing::warn!(error = %e, "tokio-cron-scheduler did not start; the one-second tick alone drives the schedules");
                CronTrigger { scheduler: None }
            }
        }
    }

    async fn try_start(
        schedules: &[(String, String)],
        tz: Tz,
        wake: Arc<Notify>,
    ) -> Result<JobScheduler, tokio_cron_scheduler::JobSchedulerError> {
        let scheduler = JobScheduler::new().await?;
        for (job, cron) in schedules {
            let wake = wake.clone();
            let name = job.clone();
            scheduler
                .add(Job::new_async_tz(
                    cron.as_str(),
                    tz,
                    move |_id, _scheduler| {
                        let wake = wake.clone();
                        let name = name.clone();
                        Box::pin(async move {
                            tracing::debug!(job = %name, "cron trigger fired");
                            wake.notify_one();
                        })
                    },
                )?)
                .await?;
        }
        scheduler.start().await?;
        Ok(scheduler)
    }

    pub(crate) async fn stop(self) {
        if let Some(mut scheduler) = self.scheduler
            && let Err(e) = scheduler.shutdown().await
        {
            tracing::debug!(error = %e, "tokio-cron-scheduler shutdown");
        }
    }
}
