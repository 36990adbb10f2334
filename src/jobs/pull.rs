//! The pull job: database feeds into the lake, through the same normaliser as files.
//!
//! For each feed with a `postgres` or `mysql` source: connect (retrying with back-off when the
//! server cannot be reached), read the rows at or past the committed watermark as Arrow batches,
//! skip the rows already taken at exactly the watermark (recognised by a fingerprint of the
//! whole row, so rows that arrived later with the same value are not lost), map the columns onto
//! the schema by name or by column comment, and stream the rows through the normaliser into a
//! Parquet file; row problems go to the quarantine with the record's position in the pull.
//!
//! Commit order as for files: lake files into place, then — in one ledger transaction — the
//! delivery marked ingested and the watermark moved. A crash in between leaves the delivery
//! `pending`; recovery removes its files and the next pull reads the same window again.
//! A feed that fails is reported on one line naming it; the other feeds still run.

use super::JobError;
use super::ingest::{FileResult, finish_receipt, write_issues};
use crate::config::{DbSource, Pipeline, Project, Relation};
use crate::intake::database::{self, Connection, DbError, Mark, MarkKind, Target};
use crate::intake::{RawCell, SheetPreview};
use crate::lake::Lake;
use crate::lake::ledger::{Ledger, Outcome, PullLog, Watermark};
use crate::normalise::header::HeaderIndex;
use crate::normalise::{self, Normaliser};
use datafusion::arrow::array::RecordBatch;
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The watermark kind under which a full-pull feed keeps its last content sum.
const CONTENT: &str = "content";

/// What `sanhu pull` was asked for.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Read from this watermark value (inclusive) instead of the committed one: a backfill.
    pub since: Option<String>,
    /// Read everything, whatever the watermark; the watermark is then set from what was read.
    pub full: bool,
}

/// What one feed's pull did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PullResult {
    pub feed: String,
    pub unit: String,
    /// The server, without its password.
    pub source: String,
    /// `pulled`, `nothing new` or `failed`.
    pub status: &'static str,
    pub attempts: u32,
    pub rows_read: u64,
    /// Rows at the watermark that an earlier pull already took.
    pub rows_seen: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rows_warned: u64,
    pub watermark_from: Option<String>,
    pub watermark_to: Option<String>,
    pub delivery: Option<i64>,
    pub error: Option<String>,
}

use super::failpoint;

fn now_utc() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The database feeds to pull: the ones named, or all.
pub fn database_feeds<'a>(
    project: &'a Project,
    feeds: &[String],
) -> Result<Vec<&'a Pipeline>, JobError> {
    let all: Vec<&Pipeline> = project
        .pipelines
        .iter()
        .filter(|p| p.database.is_some())
        .collect();
    if feeds.is_empty() {
        return Ok(all);
    }
    feeds
        .iter()
        .map(|f| {
            all.iter().copied().find(|p| &p.feed == f).ok_or_else(|| {
                JobError::Refused(format!(
                    "`{f}` is not a database feed (database feeds: {})",
                    all.iter()
                        .map(|p| p.feed.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        })
        .collect()
}

/// Pull every named database feed (all when none are named), one after the other.
pub async fn pull_all(
    project: &Project,
    feeds: &[String],
    opts: &PullOptions,
) -> Result<Vec<PullResult>, JobError> {
    let chosen = database_feeds(project, feeds)?;
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let (lake, ledger) = super::open(project)?;
    let mut out = Vec::with_capacity(chosen.len());
    for p in chosen {
        out.push(pull_feed(project, &lake, &ledger, p, opts).await?);
    }
    Ok(out)
}

/// Why one attempt stopped.
enum Stop {
    /// The server or the data: reported for the feed; the run goes on.
    Db(DbError),
    /// Our own side (lake, ledger): stops the run.
    Job(JobError),
}

impl From<DbError> for Stop {
    fn from(e: DbError) -> Self {
        Stop::Db(e)
    }
}

impl From<JobError> for Stop {
    fn from(e: JobError) -> Self {
        Stop::Job(e)
    }
}

impl From<crate::lake::LakeError> for Stop {
    fn from(e: crate::lake::LakeError) -> Self {
        Stop::Job(e.into())
    }
}

fn fail(message: impl Into<String>) -> Stop {
    Stop::Db(DbError {
        message: message.into(),
        retryable: false,
    })
}

/// Where this pull starts.
struct Start {
    literal: Option<String>,
    shown: Option<String>,
    /// The committed watermark and the fingerprints of the rows taken at exactly it.
    boundary: Option<(Mark, HashSet<String>)>,
    kind: Option<MarkKind>,
}

fn start_point(
    pipeline: &Pipeline,
    db: &DbSource,
    ledger: &Ledger,
    opts: &PullOptions,
) -> Result<Start, Stop> {
    let none = Start {
        literal: None,
        shown: None,
        boundary: None,
        kind: None,
    };
    let Some(column) = &db.watermark else {
        return Ok(none);
    };
    if let Some(since) = &opts.since {
        return Ok(Start {
            literal: Some(database::quote_literal(db.engine, since)),
            shown: Some(since.clone()),
            boundary: None,
            kind: None,
        });
    }
    if opts.full {
        return Ok(none);
    }
    let Some(stored) = ledger.watermark(&pipeline.feed)? else {
        return Ok(none);
    };
    if &stored.column != column {
        return Err(fail(format!(
            "the watermark column is now `{column}` but the feed was pulled by `{}`; \
             run `sanhu pull --feed {} --full` once to start again from a full read",
            stored.column, pipeline.feed
        )));
    }
    let kind = MarkKind::parse(&stored.kind)
        .ok_or_else(|| fail(format!("stored watermark kind `{}` unknown", stored.kind)))?;
    let mark = kind
        .load(&stored.value)
        .ok_or_else(|| fail(format!("stored watermark `{}` unreadable", stored.value)))?;
    Ok(Start {
        literal: Some(kind.literal(db.engine, &mark)),
        shown: Some(
            kind.literal(db.engine, &mark)
                .trim_matches('\'')
                .to_string(),
        ),
        boundary: Some((mark, stored.boundary.into_iter().collect())),
        kind: Some(kind),
    })
}

pub async fn pull_feed(
    project: &Project,
    lake: &Lake,
    ledger: &Ledger,
    pipeline: &Pipeline,
    opts: &PullOptions,
) -> Result<PullResult, JobError> {
    let db = pipeline
        .database
        .as_ref()
        .ok_or_else(|| JobError::Refused(format!("{} is not a database feed", pipeline.feed)))?;
    let started = now_utc();
    let mut result = PullResult {
        feed: pipeline.feed.clone(),
        unit: pipeline.unit.clone().unwrap_or_default(),
        source: format!("${}", db.connection_env),
        status: "failed",
        attempts: 0,
        rows_read: 0,
        rows_seen: 0,
        rows_accepted: 0,
        rows_rejected: 0,
        rows_warned: 0,
        watermark_from: None,
        watermark_to: None,
        delivery: None,
        error: None,
    };
    let outcome = match Target::from_env(&db.connection_env) {
        Err(e) => Err(Stop::Db(e)),
        Ok(target) => {
            result.source = target.shown.clone();
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                result.attempts = attempt;
                let r = match start_point(pipeline, db, ledger, opts) {
                    Ok(from) => {
                        result.watermark_from = from.shown.clone();
                        pull_once(
                            project,
                            lake,
                            ledger,
                            pipeline,
                            db,
                            &target,
                            from,
                            &mut result,
                        )
                        .await
                    }
                    Err(e) => Err(e),
                };
                match r {
                    Err(Stop::Db(e)) if e.retryable && attempt <= db.retries => {
                        let wait = db
                            .backoff
                            .saturating_mul(1 << (attempt - 1).min(16))
                            .min(Duration::from_secs(300));
                        tracing::warn!(feed = %pipeline.feed, attempt, error = %e, wait_ms = wait.as_millis() as u64, "pull failed, retrying");
                        tokio::time::sleep(wait).await;
                    }
                    other => break other,
                }
            }
        }
    };
    match outcome {
        Ok(()) => {}
        Err(Stop::Job(e)) => return Err(e),
        Err(Stop::Db(e)) => {
            tracing::error!(feed = %pipeline.feed, attempts = result.attempts, error = %e, "pull failed");
            result.status = "failed";
            result.error = Some(e.message);
        }
    }
    ledger.log_pull(&PullLog {
        feed: result.feed.clone(),
        source: result.source.clone(),
        started_at: started,
        finished_at: now_utc(),
        status: result.status.to_string(),
        attempts: result.attempts,
        rows_read: result.rows_read,
        rows_seen: result.rows_seen,
        delivery: result.delivery,
        watermark_from: result.watermark_from.clone(),
        watermark_to: result.watermark_to.clone(),
        error: result.error.clone(),
    })?;
    Ok(result)
}

/// The header a clerk would see for each result column: its name, or its comment when only
/// the comment names a schema column.
fn headers(
    batch: &RecordBatch,
    index: &HeaderIndex,
    comments: &HashMap<String, String>,
) -> Vec<RawCell> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let name = f.name();
            let text = match comments.get(name) {
                Some(c) if index.lookup(name).is_none() && index.lookup(c).is_some() => c.clone(),
                _ => name.clone(),
            };
            RawCell::Text(text)
        })
        .collect()
}

/// One attempt: connect, read, normalise, commit. On any error nothing is left behind: the
/// pending delivery is deleted and its unfinished files removed.
#[allow(clippy::too_many_arguments)]
async fn pull_once(
    project: &Project,
    lake: &Lake,
    ledger: &Ledger,
    pipeline: &Pipeline,
    db: &DbSource,
    target: &Target,
    from: Start,
    result: &mut PullResult,
) -> Result<(), Stop> {
    let conn = database::connect(db, target, project.tz).await?;
    let comments = match &db.relation {
        Relation::Table(t) => conn.column_comments(t, target).await.unwrap_or_else(|e| {
            tracing::warn!(feed = %pipeline.feed, error = %e, "column comments not readable");
            HashMap::new()
        }),
        Relation::Query(_) => HashMap::new(),
    };
    let sql = database::pull_sql(db, from.literal.as_deref());
    tracing::info!(feed = %pipeline.feed, source = %target.shown, from = from.shown.as_deref().unwrap_or("(start)"), "pulling");
    let mut delivery: Option<i64> = None;
    let r = read_and_commit(
        project,
        lake,
        ledger,
        pipeline,
        db,
        target,
        &conn,
        &sql,
        &comments,
        from,
        result,
        &mut delivery,
    )
    .await;
    if r.is_err()
        && let Some(id) = delivery
    {
        // Nothing of a failed attempt stays: its files were never committed (dropping the
        // writer removes them) and the delivery row goes.
        ledger.delete(id)?;
        result.delivery = None;
    }
    r
}

#[allow(clippy::too_many_arguments)]
async fn read_and_commit(
    project: &Project,
    lake: &Lake,
    ledger: &Ledger,
    pipeline: &Pipeline,
    db: &DbSource,
    target: &Target,
    conn: &Connection,
    sql: &str,
    comments: &HashMap<String, String>,
    from: Start,
    result: &mut PullResult,
    delivery_slot: &mut Option<i64>,
) -> Result<(), Stop> {
    let schema = &project.schemas[&pipeline.table];
    let timeout = Duration::from_secs(project.limits().read_timeout_secs.max(1));
    let relation_label = match &db.relation {
        Relation::Table(t) => t.clone(),
        Relation::Query(_) => "query".to_string(),
    };
    let label = format!("{}@{}", pipeline.feed, relation_label);
    let mut stream = conn.query(sql, target).await?;
    let index = HeaderIndex::new(schema);
    let unit = pipeline.unit.clone().unwrap_or_default();
    let unit_codes: Vec<String> = project.units.iter().map(|u| u.code.clone()).collect();

    // Set up on the first batch (its schema is the result's).
    let mut detection: Option<normalise::header::Detection> = None;
    let mut norm: Option<Normaliser> = None;
    let mut out: Option<crate::lake::BackgroundFile> = None;
    let mut wm_index: Option<usize> = None;
    let mut kind: Option<MarkKind> = from.kind.clone();

    // A full pull of an unchanged table adds nothing: its content sum is compared with the
    // last one's (kept in the watermark table under the kind `content`).
    let full_pull = db.watermark.is_none();
    let last_content = if full_pull {
        ledger
            .watermark(&pipeline.feed)?
            .filter(|w| w.kind == CONTENT)
            .map(|w| w.value)
    } else {
        None
    };
    let mut content: u128 = 0;
    let mut max: Option<Mark> = None;
    let mut at_max: Vec<String> = Vec::new();
    let mut null_marks = 0u64;
    let mut ordinal: u32 = 0;
    let mut row_cells: Vec<RawCell> = Vec::new();

    loop {
        let next = match tokio::time::timeout(timeout, stream.next()).await {
            Ok(n) => n,
            Err(_) => {
                return Err(Stop::Db(DbError {
                    message: format!(
                        "no rows from the server for {} s (`[intake] read_timeout_secs`)",
                        timeout.as_secs()
                    ),
                    retryable: true,
                }));
            }
        };
        let Some(batch) = next else { break };
        let batch = batch.map_err(|e| target_error(target, &e))?;
        if batch.num_rows() == 0 {
            continue;
        }
        if detection.is_none() {
            let header = headers(&batch, &index, comments);
            let preview = SheetPreview {
                name: relation_label.clone(),
                rows: vec![(1, header)],
            };
            let mut d = normalise::detect(&[preview], &[schema], &[true]).map_err(|nm| {
                fail(if nm.missing.is_empty() {
                    format!(
                        "no column of {relation_label} matches table `{}` (columns: {})",
                        pipeline.table,
                        batch
                            .schema()
                            .fields()
                            .iter()
                            .map(|f| f.name().as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else {
                    format!(
                        "{relation_label} lacks required column(s) {} of table `{}` \
                         (dropped or renamed upstream?)",
                        nm.missing.join(", "),
                        pipeline.table
                    )
                })
            })?;
            // Records are counted from 1: there is no header row in a result set.
            d.header_row = 0;
            if let Some(w) = &db.watermark {
                let i = batch.schema().index_of(w).map_err(|_| {
                    fail(format!(
                        "watermark column `{w}` is not in the result of {relation_label}"
                    ))
                })?;
                let k = MarkKind::of(batch.schema().field(i).data_type()).ok_or_else(|| {
                    fail(format!(
                        "watermark column `{w}` is {}: use an integer, decimal, date, timestamp or text column",
                        batch.schema().field(i).data_type()
                    ))
                })?;
                if let Some(old) = &kind
                    && *old != k
                {
                    return Err(fail(format!(
                        "watermark column `{w}` changed type upstream, from {} to {}; \
                         check with the agency, then run `sanhu pull --feed {} --full`",
                        old.name(),
                        k.name(),
                        pipeline.feed
                    )));
                }
                kind = Some(k);
                wm_index = Some(i);
            }
            let id = ledger.begin(
                &unit,
                &label,
                &format!("pull:{}:{}", pipeline.feed, now_utc()),
                0,
                &now_utc(),
                &now_utc(),
            )?;
            *delivery_slot = Some(id);
            result.delivery = Some(id);
            let n = Normaliser::new(
                schema,
                &d,
                project.tz,
                id,
                &label,
                project.limits().batch_rows,
                unit_codes.clone(),
            );
            out = Some(lake.create_background(
                lake.delivery_file(&pipeline.table, id),
                n.lake_schema(),
                &project.schemas[&pipeline.table].distinct_columns(),
            )?);
            norm = Some(n);
            detection = Some(d);
        }
        let (Some(n), Some(w)) = (norm.as_mut(), out.as_mut()) else {
            break;
        };

        // Which rows were taken by an earlier pull (same watermark, same content).
        let mut skip = vec![false; batch.num_rows()];
        let marks = wm_index.map(|i| database::marks(batch.column(i)));
        if let Some(marks) = &marks {
            if let Some((prev, seen)) = &from.boundary {
                let idx: Vec<usize> = (0..marks.len())
                    .filter(|&i| marks[i].as_ref() == Some(prev))
                    .collect();
                for (i, h) in idx.iter().zip(database::row_hashes(&batch, &idx)) {
                    skip[*i] = seen.contains(&h);
                }
            }
            null_marks += marks.iter().filter(|m| m.is_none()).count() as u64;
            let bmax = marks
                .iter()
                .zip(&skip)
                .filter(|(_, s)| !**s)
                .filter_map(|(m, _)| m.as_ref())
                .max();
            if let Some(b) = bmax
                && max.as_ref().is_none_or(|m| b > m)
            {
                max = Some(b.clone());
                at_max.clear();
            }
            if let Some(m) = &max {
                let idx: Vec<usize> = (0..marks.len())
                    .filter(|&i| !skip[i] && marks[i].as_ref() == Some(m))
                    .collect();
                at_max.extend(database::row_hashes(&batch, &idx));
            }
        }

        if full_pull {
            content = content.wrapping_add(database::content_sum(&batch));
        }
        let cols: Vec<Vec<RawCell>> = batch
            .columns()
            .iter()
            .map(|c| database::column_cells(c, project.tz))
            .collect();
        for r in 0..batch.num_rows() {
            if skip[r] {
                result.rows_seen += 1;
                continue;
            }
            ordinal = ordinal.saturating_add(1);
            row_cells.clear();
            row_cells.extend(cols.iter().map(|c| c[r].clone()));
            if let Some(b) = n.push_row(ordinal, &row_cells) {
                w.write(b)?;
            }
        }
    }

    let (Some(mut n), Some(mut w), Some(d), Some(id)) = (norm, out, detection, *delivery_slot)
    else {
        result.status = "nothing new";
        return Ok(());
    };
    if let Some(b) = n.flush() {
        w.write(b)?;
    }
    result.rows_read = n.counts.rows_read;
    result.rows_accepted = n.counts.accepted;
    result.rows_rejected = n.counts.rejected;
    result.rows_warned = n.counts.warnings;
    let content_hex = format!("{content:032x}");
    if full_pull && last_content.as_deref() == Some(content_hex.as_str()) {
        // The same table as last time, row for row.
        drop(w);
        ledger.delete(id)?;
        *delivery_slot = None;
        result.delivery = None;
        result.rows_seen = n.counts.rows_read;
        result.rows_read = 0;
        result.rows_accepted = 0;
        result.rows_rejected = 0;
        result.rows_warned = 0;
        result.status = "nothing new";
        return Ok(());
    }
    if n.counts.rows_read == 0 {
        // Every row was one an earlier pull took: nothing to record.
        drop(w);
        ledger.delete(id)?;
        *delivery_slot = None;
        result.delivery = None;
        result.status = "nothing new";
        return Ok(());
    }
    if null_marks > 0 {
        tracing::warn!(feed = %pipeline.feed, rows = null_marks, "rows with an empty watermark: later pulls will not see them change");
    }
    let data = if n.counts.accepted > 0 {
        Some(w.finish()?)
    } else {
        drop(w);
        None
    };
    let mut issues = std::mem::take(&mut n.issues);
    // A result set has no column letters; the column's name says where.
    for i in &mut issues {
        i.letter = None;
    }
    let issues_file = write_issues(
        lake,
        id,
        &unit,
        &pipeline.feed,
        &label,
        &relation_label,
        &issues,
    )?;
    let lake_file = match data {
        Some(f) => Some(f.commit()?),
        None => None,
    };
    if let Some(f) = issues_file {
        f.commit()?;
    }
    failpoint("pull:after-lake-commit");

    // The new watermark: the largest value read; its fingerprints are the rows taken at it.
    // When nothing went past the old value, the rows taken at it before are still "taken".
    let mark = match (&db.watermark, &kind, &max) {
        (Some(col), Some(k), Some(m)) => {
            let mut boundary = at_max;
            if let Some((prev, seen)) = &from.boundary
                && prev == m
            {
                boundary.extend(seen.iter().cloned());
            }
            boundary.sort();
            boundary.dedup();
            result.watermark_to = Some(k.literal(db.engine, m).trim_matches('\'').to_string());
            Some(Watermark {
                column: col.clone(),
                kind: k.name(),
                value: MarkKind::store(m),
                boundary,
            })
        }
        _ if full_pull => Some(Watermark {
            column: "*".into(),
            kind: CONTENT.into(),
            value: content_hex,
            boundary: Vec::new(),
        }),
        _ => None,
    };
    let outcome = Outcome {
        feed: Some(pipeline.feed.clone()),
        table: Some(pipeline.table.clone()),
        format: Some(db.engine.name().to_string()),
        sheet: Some(relation_label.clone()),
        header_row: Some(0),
        rows_read: n.counts.rows_read,
        rows_accepted: n.counts.accepted,
        rows_rejected: n.counts.rejected,
        rows_warned: n.counts.warnings,
        rows_skipped: n.counts.skipped,
        reason: None,
        lake_file: lake_file.as_ref().map(|f| f.display().to_string()),
    };
    ledger.finish_pull(id, &outcome, &now_utc(), &pipeline.feed, mark.as_ref())?;
    result.status = "pulled";
    tracing::info!(feed = %pipeline.feed, accepted = n.counts.accepted, rejected = n.counts.rejected, seen = result.rows_seen, "pulled");

    let file_result = FileResult {
        unit: unit.clone(),
        file_name: label.clone(),
        delivery: id,
        status: crate::lake::ledger::Status::Ingested.as_str(),
        feed: Some(pipeline.feed.clone()),
        table: Some(pipeline.table.clone()),
        rows_accepted: n.counts.accepted,
        rows_rejected: n.counts.rejected,
        rows_warned: n.counts.warnings,
        reason: None,
        receipt: None,
    };
    let meta = super::receipt::SheetMeta {
        sheet: relation_label,
        header_row: d.header_row,
        rows_read: n.counts.rows_read,
        rows_skipped: n.counts.skipped,
        feed_title: pipeline.title.clone(),
    };
    finish_receipt(project, ledger, file_result, Some(meta), &issues)?;
    Ok(())
}

fn target_error(target: &Target, e: &datafusion::error::DataFusionError) -> DbError {
    target.describe(e)
}
