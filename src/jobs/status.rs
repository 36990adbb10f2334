//! `sanhu status` as typed results: each feed's last judged period and the open one, the
//! quarantine, the lake's tables, database pulls and recent runs. The CLI formats these as a
//! table or JSON; the portal renders the same values as HTML. No face runs SQL of its own.

use super::{JobError, session};
use crate::config::Project;
use crate::lake::ledger::PullStatus;
use crate::schedule::ledger::RunRow;
use crate::transform::{self, AsOf};
use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int64Type, TimestampMicrosecondType};

/// How a unit's delivery of one feed period stands (DOMAIN: 信息报告制度).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timeliness {
    /// Delivered by the deadline.
    OnTime,
    /// Delivered during the window, after the deadline.
    Late,
    /// Nothing delivered in the window, and the deadline has passed.
    Missing,
    /// The deadline has not come yet and nothing is delivered: 未到期, never `missing`.
    Pending,
}

impl Timeliness {
    /// The word the CLI prints and JSON carries.
    pub fn as_str(self) -> &'static str {
        match self {
            Timeliness::OnTime => "on_time",
            Timeliness::Late => "late",
            Timeliness::Missing => "missing",
            Timeliness::Pending => "pending",
        }
    }

    /// The label clerks and the office read.
    pub fn label_zh(self) -> &'static str {
        match self {
            Timeliness::OnTime => "按时",
            Timeliness::Late => "迟报",
            Timeliness::Missing => "缺报",
            Timeliness::Pending => "未到期",
        }
    }

    fn parse(s: &str) -> Option<Timeliness> {
        Some(match s {
            "on_time" => Timeliness::OnTime,
            "late" => Timeliness::Late,
            "missing" => Timeliness::Missing,
            "pending" => Timeliness::Pending,
            _ => return None,
        })
    }
}

/// One feed period and how it stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeriodState {
    /// ISO week, `2026-W48`.
    pub period: String,
    pub due_at: DateTime<Utc>,
    pub timeliness: Timeliness,
}

/// A unit's feed: what it has delivered, the last period whose deadline has passed, and the
/// earliest period still open (deadline ahead).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeedStatus {
    pub unit: String,
    pub feed: String,
    pub files: i64,
    pub last_delivery: Option<DateTime<Utc>>,
    pub judged: Option<PeriodState>,
    pub open: Option<PeriodState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct QuarantineCounts {
    pub files_quarantined: i64,
    pub rows_rejected: i64,
    pub rows_warned: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableStatus {
    pub table: String,
    pub files: usize,
    /// Rows of the table's history (every delivered version), or of a model's output.
    pub rows: i64,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusReport {
    pub as_of: DateTime<Utc>,
    pub feeds: Vec<FeedStatus>,
    pub quarantine: QuarantineCounts,
    pub tables: Vec<TableStatus>,
    pub database_feeds: Vec<PullStatus>,
    pub runs: Vec<RunRow>,
}

const FEEDS_SQL: &str = "\
WITH d AS (
    SELECT unit, feed, arrow_cast(to_timestamp_micros(file_mtime), 'Timestamp(µs, \"UTC\")') AS delivered_at
    FROM deliveries WHERE status = 'ingested'
),
last AS (SELECT unit, feed, max(delivered_at) AS last_delivery, count(*) AS files FROM d GROUP BY unit, feed),
judged AS (
    SELECT t.unit, t.feed, t.period, t.due_at, t.timeliness,
           row_number() OVER (PARTITION BY t.unit, t.feed ORDER BY t.due_at DESC) AS rn
    FROM feed_timeliness t
),
open AS (
    SELECT e.unit, e.feed, e.period, e.due_at,
           CASE WHEN count(d.delivered_at) > 0 THEN 'on_time' ELSE 'pending' END AS timeliness,
           row_number() OVER (PARTITION BY e.unit, e.feed ORDER BY e.due_at) AS rn
    FROM feed_due e
    LEFT JOIN d ON d.unit = e.unit AND d.feed = e.feed
               AND d.delivered_at >= e.window_start AND d.delivered_at < e.window_end
    WHERE e.due_at > arrow_cast(TIMESTAMP '{now}', 'Timestamp(µs, \"UTC\")')
    GROUP BY e.unit, e.feed, e.period, e.due_at
)
SELECT k.unit, k.feed, coalesce(l.files, 0) AS files, l.last_delivery,
       j.period AS judged_period, j.due_at AS judged_due, j.timeliness AS judged,
       o.period AS open_period, o.due_at AS open_due, o.timeliness AS open
FROM (SELECT DISTINCT unit, feed FROM feed_due) k
LEFT JOIN last l ON l.unit = k.unit AND l.feed = k.feed
LEFT JOIN judged j ON j.unit = k.unit AND j.feed = k.feed AND j.rn = 1
LEFT JOIN open o ON o.unit = k.unit AND o.feed = k.feed AND o.rn = 1
ORDER BY k.unit, k.feed";

const QUARANTINE_SQL: &str = "SELECT \
    (SELECT count(*) FROM deliveries WHERE status = 'quarantined') AS files, \
    (SELECT count(*) FROM (SELECT DISTINCT delivery, row FROM quarantine WHERE severity = '拒收')) AS rejected, \
    (SELECT count(*) FROM (SELECT DISTINCT delivery, row FROM quarantine WHERE severity = '警告')) AS warned";

/// The project's status as of `as_of` (normally now).
pub async fn status(project: &Project, as_of: AsOf) -> Result<StatusReport, JobError> {
    let (ctx, lake) = session(project, as_of).await?;
    transform::build_in_memory(&ctx, project, "feed_timeliness", as_of).await?;
    let now = as_of.end_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    let batches = ctx
        .sql(&FEEDS_SQL.replace("{now}", &now))
        .await?
        .collect()
        .await?;
    let mut feeds = Vec::new();
    for b in &batches {
        let b = &utf8_strings(b)?;
        for i in 0..b.num_rows() {
            feeds.push(FeedStatus {
                unit: text(b, 0, i).unwrap_or_default(),
                feed: text(b, 1, i).unwrap_or_default(),
                files: int(b, 2, i).unwrap_or(0),
                last_delivery: instant(b, 3, i),
                judged: period_state(b, 4, i),
                open: period_state(b, 7, i),
            });
        }
    }
    let q = ctx.sql(QUARANTINE_SQL).await?.collect().await?;
    let quarantine = q
        .first()
        .filter(|b| b.num_rows() > 0)
        .map(|b| QuarantineCounts {
            files_quarantined: int(b, 0, 0).unwrap_or(0),
            rows_rejected: int(b, 1, 0).unwrap_or(0),
            rows_warned: int(b, 2, 0).unwrap_or(0),
        })
        .unwrap_or_default();
    let mut tables = Vec::new();
    for t in lake.tables() {
        let files = lake.files(&t);
        let updated_at = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok()?.modified().ok())
            .max()
            .map(DateTime::<Utc>::from);
        let source = if project.schemas.contains_key(&t) {
            format!("{t}_history")
        } else {
            t.clone()
        };
        let n = ctx
            .sql(&format!("SELECT count(*) FROM \"{source}\""))
            .await?
            .collect()
            .await?;
        let rows = n.first().and_then(|b| int(b, 0, 0)).unwrap_or(0);
        tables.push(TableStatus {
            table: t,
            files: files.len(),
            rows,
            updated_at,
        });
    }
    let runs = crate::schedule::last_runs(&project.data_dir(), 10)?;
    let mut database_feeds =
        crate::lake::ledger::Ledger::open(&project.data_dir())?.pull_status()?;
    for p in &mut database_feeds {
        if let (Some(k), Some(v)) = (&p.watermark_kind, &p.watermark) {
            p.watermark = Some(crate::intake::database::show_mark(k, v));
        }
    }
    Ok(StatusReport {
        as_of: as_of.instant,
        feeds,
        quarantine,
        tables,
        database_feeds,
        runs,
    })
}

/// The batch with every string column as plain Utf8 (a plan may give Utf8View), cast once.
fn utf8_strings(b: &RecordBatch) -> Result<RecordBatch, JobError> {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let mut fields = Vec::new();
    let mut cols = Vec::new();
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        if matches!(f.data_type(), DataType::Utf8View | DataType::LargeUtf8) {
            cols.push(datafusion::arrow::compute::cast(c, &DataType::Utf8)?);
            fields.push(Field::new(f.name(), DataType::Utf8, f.is_nullable()));
        } else {
            cols.push(c.clone());
            fields.push(f.as_ref().clone());
        }
    }
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        cols,
    )?)
}

fn text(b: &RecordBatch, col: usize, row: usize) -> Option<String> {
    let c = b.column(col).as_string_opt::<i32>()?;
    (!c.is_null(row)).then(|| c.value(row).to_string())
}

fn int(b: &RecordBatch, col: usize, row: usize) -> Option<i64> {
    let c = b.column(col).as_primitive_opt::<Int64Type>()?;
    (!c.is_null(row)).then(|| c.value(row))
}

fn instant(b: &RecordBatch, col: usize, row: usize) -> Option<DateTime<Utc>> {
    let c = b
        .column(col)
        .as_primitive_opt::<TimestampMicrosecondType>()?;
    if c.is_null(row) {
        return None;
    }
    DateTime::from_timestamp_micros(c.value(row))
}

/// Columns `col` (period), `col + 1` (due), `col + 2` (timeliness) as one state.
fn period_state(b: &RecordBatch, col: usize, row: usize) -> Option<PeriodState> {
    Some(PeriodState {
        period: text(b, col, row)?,
        due_at: instant(b, col + 1, row)?,
        timeliness: Timeliness::parse(&text(b, col + 2, row)?)?,
    })
}
