//! The ingest job: every new file in `data/inbox/<unit>/` into the lake or the quarantine.
//!
//! For each file: hash it (same content already ingested → archived as a duplicate), record a
//! pending delivery, sniff the format, preview the sheets, find the feed (file-name pattern
//! first, header row otherwise), stream the rows through the normaliser into a Parquet file,
//! write the row issues to the `quarantine` table, rename both into place, mark the delivery
//! ingested, move the original to `data/archive/`, and write the receipt. A file that cannot be
//! read at all goes to `data/quarantine/` with its reason and gets a receipt too. Reader panics
//! are caught and turned into a quarantined file: no input stops the run.

use super::JobError;
use super::receipt::{self, Receipt};
use crate::config::{Pipeline, Project};
use crate::intake::{self, IntakeError, SheetPreview};
use crate::lake::ledger::{Ledger, Outcome, Status};
use crate::lake::{Lake, QUARANTINE_TABLE};
use crate::normalise::header::HEADER_SEARCH_ROWS;
use crate::normalise::{self, Issue, Normaliser};
use crate::transform::quarantine_schema;
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What happened to one dropped file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileResult {
    pub unit: String,
    pub file_name: String,
    pub delivery: i64,
    pub status: &'static str,
    pub feed: Option<String>,
    pub table: Option<String>,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rows_warned: u64,
    pub reason: Option<String>,
    pub receipt: Option<PathBuf>,
}

/// Names that are still being written or are not deliveries.
pub fn is_temporary_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || lower.ends_with(".tmp")
        || lower.ends_with(".part")
        || lower.ends_with(".partial")
        || lower.ends_with(".crdownload")
        || lower.ends_with(".filepart")
}

fn now_utc() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n_total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        n_total += n as u64;
        h.update(&buf[..n]);
    }
    Ok((hex::encode(h.finalize()), n_total))
}

/// Files waiting in the inbox: (unit folder, path), sorted so runs are repeatable.
pub fn inbox_files(project: &Project) -> Vec<(String, PathBuf)> {
    let inbox = project.data_dir().join("inbox");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&inbox).into_iter().flatten().flatten() {
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if p.is_dir() {
            for f in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                let fname = f.file_name().to_string_lossy().to_string();
                if f.path().is_file() && !is_temporary_name(&fname) {
                    out.push((name.clone(), f.path()));
                }
            }
        } else if p.is_file() && !is_temporary_name(&name) {
            out.push((String::new(), p));
        }
    }
    out.sort();
    out
}

/// Reference data shipped with the project (`[[seeds]]` in sanhu.toml) is delivered like any
/// file: copied into its unit's inbox unless that content is already in the lake.
pub fn stage_seeds(project: &Project, ledger: &Ledger) -> Result<(), JobError> {
    for seed in &project.settings.seeds {
        let src = project.root.join(seed.file.get_ref());
        let (sha, _) = sha256_file(&src).map_err(|e| JobError::Io(src.clone(), e))?;
        if ledger.ingested_with_hash(&sha)?.is_some() {
            continue;
        }
        let dir = project.data_dir().join("inbox").join(seed.unit.get_ref());
        std::fs::create_dir_all(&dir).map_err(|e| JobError::Io(dir.clone(), e))?;
        let dest = dir.join(src.file_name().unwrap_or_default());
        if !dest.exists() {
            std::fs::copy(&src, &dest).map_err(|e| JobError::Io(dest.clone(), e))?;
        }
    }
    Ok(())
}

/// Undo what a crash left half-done: partial files, and deliveries still pending.
pub fn recover(lake: &Lake, ledger: &Ledger, project: &Project) -> Result<usize, JobError> {
    let swept = lake.sweep_partials();
    let pending = ledger.pending()?;
    for (id, _) in &pending {
        for table in project
            .schemas
            .keys()
            .map(String::as_str)
            .chain([QUARANTINE_TABLE])
        {
            let f = lake.delivery_file(table, *id);
            if f.exists() {
                std::fs::remove_file(&f).map_err(|e| JobError::Io(f.clone(), e))?;
            }
        }
        ledger.delete(*id)?;
    }
    let finished = finish_committed(lake, ledger, project)?;
    if swept + pending.len() + finished > 0 {
        tracing::warn!(
            partial_files = swept,
            pending_deliveries = pending.len(),
            committed_deliveries_finished = finished,
            "recovered from an interrupted run"
        );
    }
    Ok(pending.len())
}

/// Finish deliveries that committed before a crash cut their last steps short. A file still in
/// the inbox with the committed content is moved where its delivery put it (archive, the
/// duplicates folder or the quarantine), silently: it is the same delivery, not a second one.
/// A receipt that was never written is written now, from the ledger and the quarantined rows.
/// Returns how many deliveries were finished.
fn finish_committed(lake: &Lake, ledger: &Ledger, project: &Project) -> Result<usize, JobError> {
    let data = project.data_dir();
    let day = chrono::Utc::now()
        .with_timezone(&project.tz)
        .format("%Y-%m-%d")
        .to_string();
    let mut finished = 0;
    for u in ledger.unfinished()? {
        let mut archived = u.archive_path.clone().map(PathBuf::from);
        if archived.is_none() {
            let inbox = data.join("inbox").join(&u.unit).join(&u.file_name);
            let same = inbox.is_file() && sha256_file(&inbox).is_ok_and(|(sha, _)| sha == u.sha256);
            if same {
                let dir = match u.status.as_str() {
                    "duplicate" => data
                        .join("archive")
                        .join(&u.unit)
                        .join(&day)
                        .join("duplicates"),
                    "quarantined" => data.join("quarantine").join(&u.unit).join(&day),
                    _ => data.join("archive").join(&u.unit).join(&day),
                };
                let moved = move_into(&inbox, &dir, u.id)?;
                if u.status == "quarantined" {
                    let reason_file = moved.with_file_name(format!(
                        "{}.reason.txt",
                        moved.file_name().unwrap_or_default().to_string_lossy()
                    ));
                    std::fs::write(
                        &reason_file,
                        format!("{}\n", u.reason.as_deref().unwrap_or("")),
                    )
                    .map_err(|e| JobError::Io(reason_file.clone(), e))?;
                }
                ledger.set_paths(u.id, Some(&moved), None)?;
                archived = Some(moved);
            } else {
                archived = find_moved(&data, &u.unit, u.id, &u.file_name);
                if let Some(a) = &archived {
                    ledger.set_paths(u.id, Some(a), None)?;
                }
            }
        }
        // A receipt only for a file delivery found again (a pull has no file to find).
        if archived.is_some() {
            let result = FileResult {
                unit: u.unit.clone(),
                file_name: u.file_name.clone(),
                delivery: u.id,
                status: match u.status.as_str() {
                    "ingested" => Status::Ingested.as_str(),
                    "quarantined" => Status::Quarantined.as_str(),
                    _ => Status::Duplicate.as_str(),
                },
                feed: u.feed.clone(),
                table: u.table.clone(),
                rows_accepted: u.rows_accepted.max(0) as u64,
                rows_rejected: u.rows_rejected.max(0) as u64,
                rows_warned: u.rows_warned.max(0) as u64,
                reason: u.reason.clone(),
                receipt: None,
            };
            let meta = match (&u.sheet, u.header_row, &u.feed) {
                (Some(sheet), Some(header_row), Some(feed)) => Some(receipt::SheetMeta {
                    sheet: sheet.clone(),
                    header_row,
                    rows_read: u.rows_read.max(0) as u64,
                    rows_skipped: u.rows_skipped.max(0) as u64,
                    feed_title: project
                        .pipelines
                        .iter()
                        .find(|p| &p.feed == feed)
                        .map(|p| p.title.clone())
                        .unwrap_or_else(|| feed.clone()),
                }),
                _ => None,
            };
            let issues = read_issues(lake, u.id)?;
            finish_receipt(project, ledger, result, meta, &issues)?;
            finished += 1;
        }
    }
    Ok(finished)
}

/// A file a crash moved out of the inbox before its new place was recorded.
fn find_moved(data: &Path, unit: &str, delivery: i64, file_name: &str) -> Option<PathBuf> {
    let name = format!("{delivery:08}-{file_name}");
    for base in [
        data.join("archive").join(unit),
        data.join("quarantine").join(unit),
    ] {
        for day in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            for dir in [day.path(), day.path().join("duplicates")] {
                let f = dir.join(&name);
                if f.is_file() {
                    return Some(f);
                }
            }
        }
    }
    None
}

/// The rows a delivery quarantined, read back from its quarantine file in the lake.
fn read_issues(lake: &Lake, delivery: i64) -> Result<Vec<Issue>, JobError> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int64Type;
    let path = lake.delivery_file(QUARANTINE_TABLE, delivery);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let file = std::fs::File::open(&path).map_err(|e| JobError::Io(path.clone(), e))?;
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| crate::lake::LakeError::Parquet {
                path: path.clone(),
                source: e,
            })?;
    let mut out = Vec::new();
    for batch in reader {
        let b = batch?;
        let col = |name: &str| {
            b.column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>().cloned())
        };
        let (Some(column), Some(letter), Some(value), Some(reason), Some(severity)) = (
            col("column"),
            col("column_letter"),
            col("value"),
            col("reason"),
            col("severity"),
        ) else {
            continue;
        };
        let Some(row) = b
            .column_by_name("row")
            .and_then(|c| c.as_primitive_opt::<Int64Type>().cloned())
        else {
            continue;
        };
        for i in 0..b.num_rows() {
            let text = |a: &datafusion::arrow::array::StringArray| {
                (!a.is_null(i)).then(|| a.value(i).to_string())
            };
            out.push(Issue {
                row: u32::try_from(row.value(i)).unwrap_or(0),
                column: text(&column),
                letter: text(&letter),
                value: text(&value).unwrap_or_default(),
                reason: text(&reason).unwrap_or_default(),
                severity: if severity.value(i) == normalise::Severity::Warning.label() {
                    normalise::Severity::Warning
                } else {
                    normalise::Severity::Rejected
                },
            });
        }
    }
    Ok(out)
}

/// Move a file into `dir`, named `<delivery>-<name>`, creating the folder.
fn move_into(src: &Path, dir: &Path, delivery: i64) -> Result<PathBuf, JobError> {
    std::fs::create_dir_all(dir).map_err(|e| JobError::Io(dir.to_path_buf(), e))?;
    let name = src
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let dest = dir.join(format!("{delivery:08}-{name}"));
    if std::fs::rename(src, &dest).is_err() {
        // Across file systems: copy then remove.
        std::fs::copy(src, &dest).map_err(|e| JobError::Io(dest.clone(), e))?;
        std::fs::remove_file(src).map_err(|e| JobError::Io(src.to_path_buf(), e))?;
    }
    Ok(dest)
}

/// The outcome of reading one file, before anything is committed.
struct Parsed {
    pipeline: usize,
    format: intake::Format,
    sheet: String,
    header_row: u32,
    counts: normalise::Counts,
    issues: Vec<Issue>,
    data: Option<crate::lake::FinishedFile>,
}

enum ParseFailure {
    /// The whole file is rejected: the reason for the clerk.
    File(String),
    /// Our own fault (lake write): stop the run.
    Job(JobError),
    /// Stopped because the work beside it (see [`parse_guarded`]) found the file needs none.
    Stopped,
}

impl From<IntakeError> for ParseFailure {
    fn from(e: IntakeError) -> Self {
        ParseFailure::File(e.to_string())
    }
}

fn candidates<'a>(project: &'a Project, unit: &str) -> Vec<(usize, &'a Pipeline)> {
    project
        .pipelines
        .iter()
        .enumerate()
        .filter(|(_, p)| p.database.is_none() && p.accepts_unit(unit))
        .collect()
}

/// CSV files from this size on are checked on every core (`normalise::parallel`); below it the
/// threads cost more than they save.
const PARALLEL_CSV_BYTES: u64 = 4 << 20;
/// The same for workbooks (compressed size): the XML is read on one thread, checked on the others.
const PARALLEL_XLSX_BYTES: u64 = 1 << 20;

fn parse_file(
    project: &Project,
    lake: &Lake,
    unit: &str,
    path: &Path,
    file_name: &str,
    delivery: i64,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Parsed, ParseFailure> {
    if super::failpoint_is("reader:panic") {
        panic!("failpoint reader:panic");
    }
    let limits = project.limits();
    let format = intake::sniff(path, limits)?;
    let previews: Vec<SheetPreview> = intake::preview(path, format, limits, HEADER_SEARCH_ROWS)?;
    let cands = candidates(project, unit);
    if cands.is_empty() {
        return Err(ParseFailure::File(format!(
            "单位“{unit}”没有配置任何数据项"
        )));
    }
    let schemas: Vec<&crate::config::Schema> = cands
        .iter()
        .map(|(_, p)| &project.schemas[&p.table])
        .collect();
    let preferred: Vec<bool> = cands
        .iter()
        .map(|(_, p)| p.matches_name(file_name))
        .collect();
    let detection = match normalise::detect(&previews, &schemas, &preferred) {
        Ok(d) => d,
        Err(nm) => {
            let msg = match nm.best_candidate {
                Some(ci) => format!(
                    "未能识别表头：最接近“{}”，但工作表“{}”缺少必填列：{}",
                    cands[ci].1.title,
                    nm.sheet.unwrap_or_default(),
                    nm.missing.join("、")
                ),
                None => "未能识别表头：前30行中没有与任何数据项匹配的表头行".to_string(),
            };
            return Err(ParseFailure::File(msg));
        }
    };
    let (pipeline_idx, pipeline) = cands[detection.candidate];
    let schema = &project.schemas[&pipeline.table];
    let unit_codes: Vec<String> = project.units.iter().map(|u| u.code.clone()).collect();
    let mut norm = Normaliser::new(
        schema,
        &detection,
        project.tz,
        delivery,
        file_name,
        limits.batch_rows,
        unit_codes,
    );
    let mut out = lake
        .create_background(
            lake.delivery_file(&pipeline.table, delivery),
            norm.lake_schema(),
            &schema.distinct_columns(),
        )
        .map_err(|e| ParseFailure::Job(e.into()))?;
    let mut write_err: Option<crate::lake::LakeError> = None;
    let plan = normalise::parallel::Plan::for_machine(limits.batch_rows);
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut sink = |batch: RecordBatch| match out.write(batch) {
        Ok(()) => {
            super::failpoint("ingest:mid-parquet");
            true
        }
        Err(e) => {
            write_err = Some(e);
            false
        }
    };
    if plan.workers > 1 && format == intake::Format::Csv && size >= PARALLEL_CSV_BYTES {
        normalise::parallel::check_csv(path, limits, plan, &mut norm, cancel, &mut sink)?;
    } else if plan.workers > 1 && format == intake::Format::Xlsx && size >= PARALLEL_XLSX_BYTES {
        let sheet = &detection.sheet;
        normalise::parallel::check_sheet(
            path, format, sheet, limits, plan, &mut norm, cancel, &mut sink,
        )?;
    } else {
        intake::stream(path, format, &detection.sheet, limits, &mut |row, cells| {
            if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                return false;
            }
            match norm.push_row(row, cells) {
                Some(batch) => sink(batch),
                None => true,
            }
        })?;
    }
    if let Some(e) = write_err {
        return Err(ParseFailure::Job(e.into()));
    }
    if let Some(batch) = norm.flush() {
        out.write(batch).map_err(|e| ParseFailure::Job(e.into()))?;
    }
    // A header with no rows under it is a real delivery ("nothing to report this week"): it is
    // recorded, counts for timeliness, and adds no rows.
    let data = if norm.counts.accepted > 0 {
        Some(out.finish().map_err(|e| ParseFailure::Job(e.into()))?)
    } else {
        None
    };
    Ok(Parsed {
        pipeline: pipeline_idx,
        format,
        sheet: detection.sheet.clone(),
        header_row: detection.header_row,
        counts: norm.counts.clone(),
        issues: std::mem::take(&mut norm.issues),
        data,
    })
}

pub(crate) fn write_issues(
    lake: &Lake,
    delivery: i64,
    unit: &str,
    feed: &str,
    file: &str,
    sheet: &str,
    issues: &[Issue],
) -> Result<Option<crate::lake::FinishedFile>, JobError> {
    if issues.is_empty() {
        return Ok(None);
    }
    let n = issues.len();
    let s = |v: Vec<Option<String>>| Arc::new(StringArray::from(v)) as ArrayRef;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![delivery; n])),
        s(vec![Some(unit.to_string()); n]),
        s(vec![Some(feed.to_string()); n]),
        s(vec![Some(file.to_string()); n]),
        s(vec![Some(sheet.to_string()); n]),
        Arc::new(Int64Array::from(
            issues
                .iter()
                .map(|i| Some(i.row as i64))
                .collect::<Vec<_>>(),
        )),
        s(issues.iter().map(|i| i.column.clone()).collect()),
        s(issues.iter().map(|i| i.letter.clone()).collect()),
        s(issues.iter().map(|i| Some(i.value.clone())).collect()),
        s(issues.iter().map(|i| Some(i.reason.clone())).collect()),
        s(issues
            .iter()
            .map(|i| Some(i.severity.label().to_string()))
            .collect()),
    ];
    let batch = RecordBatch::try_new(quarantine_schema(), cols)?;
    let mut f = lake.create(
        lake.delivery_file(QUARANTINE_TABLE, delivery),
        quarantine_schema(),
    )?;
    f.write(&batch)?;
    Ok(Some(f.finish()?))
}

/// `parse_file` on a thread of its own, so that neither a reader panic nor a reader that hangs
/// takes the run down: a panic becomes a quarantined file with the panic's message, and a file
/// still being read after `[intake] read_timeout_secs` is given up. The reader is told to stop
/// at its next row; one stuck inside a library call is left behind (its `.partial` output is
/// never committed and is swept by the next run's recovery).
///
/// Meanwhile this thread runs `beside` (hashing the file: one core would otherwise sit idle
/// while the other hashes); when `beside` says the parse is not needed (true) or fails, the
/// parse is cancelled and waited for.
fn parse_guarded(
    project: &Project,
    lake: &Lake,
    unit: &str,
    path: &Path,
    file_name: &str,
    delivery: i64,
    beside: &mut dyn FnMut() -> Result<bool, JobError>,
) -> Result<Parsed, ParseFailure> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let secs = project.limits().read_timeout_secs;
    let cancel = std::sync::Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let job = {
        let (project, lake, unit, path, file_name, cancel) = (
            project.clone(),
            lake.clone(),
            unit.to_string(),
            path.to_path_buf(),
            file_name.to_string(),
            cancel.clone(),
        );
        move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                parse_file(&project, &lake, &unit, &path, &file_name, delivery, &cancel)
            }));
            // The receiver is gone when the run gave up on this file: nothing to hand over.
            let _ = tx.send(r);
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name(format!("reader-{delivery}"))
        .spawn(job)
    {
        return Err(ParseFailure::Job(JobError::Io(path.to_path_buf(), e)));
    }
    let stop = match beside() {
        Ok(false) => None,
        Ok(true) => Some(ParseFailure::Stopped),
        Err(e) => Some(ParseFailure::Job(e)),
    };
    if let Some(stop) = stop {
        cancel.store(true, Ordering::Relaxed);
        // A parse that ended before it saw the cancel leaves a finished file: not committed.
        if let Ok(Ok(Ok(Parsed { data: Some(f), .. }))) =
            rx.recv_timeout(std::time::Duration::from_secs(secs))
        {
            f.discard();
        }
        return Err(stop);
    }
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(Ok(r)) => r,
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(file = %path.display(), panic = %what, "reader panicked");
            Err(ParseFailure::File(format!(
                "文件无法解析（读取程序异常：{what}）"
            )))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            cancel.store(true, Ordering::Relaxed);
            tracing::error!(file = %path.display(), secs, "reader timed out");
            Err(ParseFailure::File(format!(
                "读取超时：超过{secs}秒仍未读完，文件可能已损坏或结构异常，请检查后重新报送"
            )))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(ParseFailure::File(
            "文件无法解析（读取程序意外退出）".to_string(),
        )),
    }
}

/// Ingest one file from `unit`'s inbox.
pub fn ingest_file(
    project: &Project,
    lake: &Lake,
    ledger: &Ledger,
    unit: &str,
    path: &Path,
) -> Result<FileResult, JobError> {
    let data = project.data_dir();
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let meta = std::fs::metadata(path).map_err(|e| JobError::Io(path.to_path_buf(), e))?;
    let mtime = meta
        .modified()
        .ok()
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
        })
        .unwrap_or_else(now_utc);
    let received = now_utc();
    let day = chrono::Utc::now()
        .with_timezone(&project.tz)
        .format("%Y-%m-%d")
        .to_string();
    let unit_dir = if unit.is_empty() { "_unknown" } else { unit };
    // The content hash is filled in below, once read (a pending delivery is removed by recovery
    // whatever its hash).
    let delivery = ledger.begin(unit_dir, &file_name, "", meta.len(), &mtime, &received)?;
    let mut result = FileResult {
        unit: unit_dir.to_string(),
        file_name: file_name.clone(),
        delivery,
        status: "",
        feed: None,
        table: None,
        rows_accepted: 0,
        rows_rejected: 0,
        rows_warned: 0,
        reason: None,
        receipt: None,
    };

    // The file is hashed while it is parsed (on another thread); the same content again,
    // whatever its name, stops the parse and is archived with nothing added.
    let mut duplicate = None;
    let mut hash = || -> Result<bool, JobError> {
        let (sha, bytes) = sha256_file(path).map_err(|e| JobError::Io(path.to_path_buf(), e))?;
        ledger.set_hash(delivery, &sha, bytes)?;
        duplicate = ledger.ingested_with_hash(&sha)?;
        Ok(duplicate.is_some())
    };
    let known_unit = !unit.is_empty() && project.unit(unit).is_some();
    let parsed: Result<Parsed, ParseFailure> = if known_unit {
        parse_guarded(project, lake, unit, path, &file_name, delivery, &mut hash)
    } else {
        hash()?;
        Err(ParseFailure::File(format!(
            "文件放在了未登记的目录“{unit_dir}”下，请放入本单位的收件目录（inbox/<单位代码>/）"
        )))
    };
    if let Some((first, first_name, first_at)) = duplicate {
        let reason = format!(
            "重复报送：与第{first}号报送（{first_name}，{first_at}）内容完全相同，未重复入库"
        );
        let outcome = Outcome {
            reason: Some(reason.clone()),
            ..Outcome::default()
        };
        ledger.finish(delivery, Status::Duplicate, &outcome, &now_utc())?;
        let archived = move_into(
            path,
            &data
                .join("archive")
                .join(unit_dir)
                .join(&day)
                .join("duplicates"),
            delivery,
        )?;
        ledger.set_paths(delivery, Some(&archived), None)?;
        result.status = Status::Duplicate.as_str();
        result.reason = Some(reason);
        return finish_receipt(project, ledger, result, None, &[]);
    }

    match parsed {
        Err(ParseFailure::Stopped) => Err(JobError::Refused(format!(
            "the parse of {file_name} was stopped, but no reason was recorded"
        ))),
        Err(ParseFailure::Job(e)) => {
            ledger.delete(delivery)?;
            Err(e)
        }
        Err(ParseFailure::File(reason)) => {
            let outcome = Outcome {
                reason: Some(reason.clone()),
                ..Outcome::default()
            };
            ledger.finish(delivery, Status::Quarantined, &outcome, &now_utc())?;
            let qdir = data.join("quarantine").join(unit_dir).join(&day);
            let moved = move_into(path, &qdir, delivery)?;
            let reason_file = moved.with_file_name(format!(
                "{}.reason.txt",
                moved.file_name().unwrap_or_default().to_string_lossy()
            ));
            std::fs::write(&reason_file, format!("{reason}\n"))
                .map_err(|e| JobError::Io(reason_file.clone(), e))?;
            ledger.set_paths(delivery, Some(&moved), None)?;
            tracing::info!(file = %file_name, unit = unit_dir, %reason, "file quarantined");
            result.status = Status::Quarantined.as_str();
            result.reason = Some(reason);
            finish_receipt(project, ledger, result, None, &[])
        }
        Ok(p) => {
            let pipeline = &project.pipelines[p.pipeline];
            let issues_file = write_issues(
                lake,
                delivery,
                unit,
                &pipeline.feed,
                &file_name,
                &p.sheet,
                &p.issues,
            )?;
            // Commit order: files into place, then the ledger; recovery removes files of
            // deliveries still pending, so a crash in between leaves no orphan rows.
            let lake_file = match p.data {
                Some(f) => Some(f.commit()?),
                None => None,
            };
            if let Some(f) = issues_file {
                f.commit()?;
            }
            super::failpoint("ingest:after-lake-commit");
            let outcome = Outcome {
                feed: Some(pipeline.feed.clone()),
                table: Some(pipeline.table.clone()),
                format: Some(p.format.name().to_string()),
                sheet: Some(p.sheet.clone()),
                header_row: Some(p.header_row),
                rows_read: p.counts.rows_read,
                rows_accepted: p.counts.accepted,
                rows_rejected: p.counts.rejected,
                rows_warned: p.counts.warnings,
                rows_skipped: p.counts.skipped,
                reason: None,
                lake_file: lake_file.as_ref().map(|f| f.display().to_string()),
            };
            ledger.finish(delivery, Status::Ingested, &outcome, &now_utc())?;
            super::failpoint("ingest:after-ledger-commit");
            let archived = move_into(path, &data.join("archive").join(unit).join(&day), delivery)?;
            ledger.set_paths(delivery, Some(&archived), None)?;
            tracing::info!(file = %file_name, unit, feed = %pipeline.feed, accepted = p.counts.accepted, rejected = p.counts.rejected, "ingested");
            result.status = Status::Ingested.as_str();
            result.feed = Some(pipeline.feed.clone());
            result.table = Some(pipeline.table.clone());
            result.rows_accepted = p.counts.accepted;
            result.rows_rejected = p.counts.rejected;
            result.rows_warned = p.counts.warnings;
            let meta = receipt::SheetMeta {
                sheet: p.sheet,
                header_row: p.header_row,
                rows_read: p.counts.rows_read,
                rows_skipped: p.counts.skipped,
                feed_title: pipeline.title.clone(),
            };
            finish_receipt(project, ledger, result, Some(meta), &p.issues)
        }
    }
}

pub(crate) fn finish_receipt(
    project: &Project,
    ledger: &Ledger,
    mut result: FileResult,
    meta: Option<receipt::SheetMeta>,
    issues: &[Issue],
) -> Result<FileResult, JobError> {
    let r = Receipt::new(project, &result, meta, issues);
    let path = receipt::write(project, &r)?;
    ledger.set_paths(result.delivery, None, Some(&path))?;
    result.receipt = Some(path);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_left_alone() {
        for n in [
            "~$报关单.xlsx",
            ".报关单.xlsx.swp",
            "a.tmp",
            "b.csv.part",
            "c.xlsx.crdownload",
        ] {
            assert!(is_temporary_name(n), "{n}");
        }
        assert!(!is_temporary_name("报关单数据_2026-W45.xlsx"));
    }
}
