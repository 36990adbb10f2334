//! Checking a large CSV file on every core.
//!
//! Once the header is known, a CSV file's rows are independent of each other except for one
//! check: a key may appear only once per delivery. So one thread reads records in chunks, worker
//! threads turn each chunk into a checked Arrow batch (cells typed, codes and row checks run,
//! issues written), and the calling thread takes the chunks back in file order, checks their
//! keys against every earlier row, and hands the batches on. The result is the same, row for
//! row and issue for issue, as reading the file row by row with [`Normaliser::push_row`].
//!
//! Memory stays bounded: at most `2 × workers` chunks wait to be checked and finished chunks wait
//! only for an earlier one still being checked; the records of a checked chunk go back to the
//! reader to be filled again. No crate does this split for us: a CSV reader reads one record
//! at a time, and DataFusion's CSV reader has no place for our per-row checks and receipts.

use super::{Checked, Normaliser};
use crate::config::spec::IntakeLimits;
use crate::intake::csv::{RecordRow, Records, to_cells};
use crate::intake::{Format, IntakeError, RawCell};
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel, sync_channel};
use std::sync::{Arc, Mutex};

/// How to split the work.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub workers: usize,
    pub chunk_rows: usize,
}

impl Plan {
    /// One worker per core, chunks of `batch_rows`.
    pub fn for_machine(batch_rows: usize) -> Plan {
        Plan {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            chunk_rows: batch_rows.clamp(256, 65_536),
        }
    }
}

/// Rows waiting to be checked: CSV records as read, or a workbook's cells.
enum Rows {
    Records(Vec<crate::intake::csv::Record>),
    Cells(Vec<(u32, Vec<RawCell>)>),
}

struct Work {
    seq: u64,
    first_row: u32,
    rows: Rows,
}

/// What a reader thread gets: `send` hands a chunk on (false once the merge has stopped), and
/// `back` returns checked chunks whose buffers can be filled again.
type Reader<'r> = Box<
    dyn FnOnce(&dyn Fn(u32, Rows) -> bool, &Receiver<Rows>) -> Result<(), IntakeError> + Send + 'r,
>;

/// Check every row of the CSV file at `path` with `norm`'s settings, handing each batch of
/// accepted rows to `sink` in file order (`sink` returns false to stop). The issues and counts
/// end up in `norm`, as if its rows had been pushed one by one.
pub fn check_csv(
    path: &Path,
    limits: &IntakeLimits,
    plan: Plan,
    norm: &mut Normaliser<'_>,
    cancel: &AtomicBool,
    sink: &mut dyn FnMut(RecordBatch) -> bool,
) -> Result<(), IntakeError> {
    let chunk_rows = plan.chunk_rows.max(1);
    let mut records = Records::open(path, limits)?;
    norm.expect_rows(usize::try_from(records.estimated).unwrap_or(usize::MAX));
    let reader: Reader<'_> = Box::new(move |send, back| {
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Ok(());
            }
            let mut recs = match back.try_recv() {
                Ok(Rows::Records(r)) => r,
                _ => Vec::new(),
            };
            let first_row = records.next_chunk(&mut recs, chunk_rows)?;
            if recs.is_empty() || !send(first_row, Rows::Records(recs)) {
                return Ok(());
            }
        }
    });
    run(plan, norm, reader, sink)
}

/// The same for one sheet of a workbook (or any format `intake::stream` reads): the reader
/// thread parses the file while the workers check the rows it has already read.
#[allow(clippy::too_many_arguments)]
pub fn check_sheet(
    path: &Path,
    format: Format,
    sheet: &str,
    limits: &IntakeLimits,
    plan: Plan,
    norm: &mut Normaliser<'_>,
    cancel: &AtomicBool,
    sink: &mut dyn FnMut(RecordBatch) -> bool,
) -> Result<(), IntakeError> {
    let chunk_rows = plan.chunk_rows.max(1);
    let reader: Reader<'_> = Box::new(move |send, back| {
        let fresh = |back: &Receiver<Rows>| match back.try_recv() {
            Ok(Rows::Cells(c)) => c,
            _ => Vec::with_capacity(chunk_rows),
        };
        let mut chunk = fresh(back);
        let mut filled = 0;
        let mut open = true;
        crate::intake::stream(path, format, sheet, limits, &mut |row, cells| {
            if cancel.load(Ordering::Relaxed) {
                return false;
            }
            if filled == chunk.len() {
                chunk.push((0, Vec::new()));
            }
            // Copied into the slot's own cells, reusing their strings.
            let (n, slot) = &mut chunk[filled];
            *n = row;
            slot.truncate(cells.len());
            let common = slot.len();
            for (d, s) in slot.iter_mut().zip(cells) {
                d.clone_from(s);
            }
            slot.extend_from_slice(&cells[common..]);
            filled += 1;
            if filled == chunk_rows {
                let first = chunk[0].0;
                open = send(
                    first,
                    Rows::Cells(std::mem::replace(&mut chunk, fresh(back))),
                );
                filled = 0;
            }
            open
        })?;
        if open && filled > 0 {
            chunk.truncate(filled);
            let first = chunk[0].0;
            send(first, Rows::Cells(chunk));
        }
        Ok(())
    });
    run(plan, norm, reader, sink)
}

fn run(
    plan: Plan,
    norm: &mut Normaliser<'_>,
    reader: Reader<'_>,
    sink: &mut dyn FnMut(RecordBatch) -> bool,
) -> Result<(), IntakeError> {
    let workers = plan.workers.max(1);
    std::thread::scope(|s| {
        let (work_tx, work_rx) = sync_channel::<Work>(workers * 2);
        // Shared by the workers only: when the last one ends, the reader's next send fails.
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = sync_channel::<(u64, Checked)>(workers * 2);
        let (back_tx, back_rx) = channel::<Rows>();

        let reader = s.spawn(move || {
            let seq = std::cell::Cell::new(0u64);
            let send = |first_row: u32, rows: Rows| {
                let work = Work {
                    seq: seq.get(),
                    first_row,
                    rows,
                };
                seq.set(seq.get() + 1);
                work_tx.send(work).is_ok()
            };
            reader(&send, &back_rx)
        });

        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let mut w = norm.worker();
            let (work_rx, done_tx, back_tx) = (work_rx.clone(), done_tx.clone(), back_tx.clone());
            handles.push(s.spawn(move || {
                let mut cells = Vec::new();
                let mut spare = Vec::new();
                loop {
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok(work)) = next else {
                        return;
                    };
                    // A worker's normaliser never batches on its own: `take_checked` does.
                    match &work.rows {
                        Rows::Records(recs) => {
                            for (i, rec) in recs.iter().enumerate() {
                                let row = work.first_row + i as u32;
                                // Read in place; a record with bad bytes is repaired first.
                                let _ = match RecordRow::new(rec) {
                                    Some(r) => w.push_row(row, &r),
                                    None => {
                                        to_cells(rec, &mut cells, &mut spare);
                                        w.push_row(row, &cells)
                                    }
                                };
                            }
                        }
                        Rows::Cells(rows) => {
                            for (n, cells) in rows {
                                let _ = w.push_row(*n, cells);
                            }
                        }
                    }
                    if done_tx.send((work.seq, w.take_checked())).is_err() {
                        return;
                    }
                    let _ = back_tx.send(work.rows);
                }
            }));
        }
        drop((work_rx, done_tx, back_tx));

        // Merge in file order.
        let mut waiting: BTreeMap<u64, Checked> = BTreeMap::new();
        let mut next = 0u64;
        'merge: for (seq, checked) in done_rx.iter() {
            waiting.insert(seq, checked);
            while let Some(checked) = waiting.remove(&next) {
                next += 1;
                if let Some(batch) = norm.merge(checked)
                    && !sink(batch)
                {
                    break 'merge;
                }
            }
        }
        // Dropping the results ends the workers (their next send fails), and with them the
        // queue, which ends the reader at its next chunk.
        drop(done_rx);
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
        match reader.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::OnInvalid;
    use crate::normalise::{Issue, detect};
    use datafusion::arrow::compute::concat_batches;

    /// (batches, issues, counts) of reading `path` row by row, then in parallel.
    fn both_ways(
        project: &crate::config::Project,
        table: &str,
        path: &Path,
        format: Format,
        plan: Plan,
    ) -> [(RecordBatch, Vec<Issue>, super::super::Counts); 2] {
        let schema = &project.schemas[table];
        let limits = IntakeLimits::default();
        let previews = crate::intake::preview(path, format, &limits, 30).unwrap();
        let detection = detect(&previews, &[schema], &[true]).unwrap();
        let new = || {
            Normaliser::new(
                schema,
                &detection,
                project.tz,
                7,
                "报关单.csv",
                5,
                vec!["customs".into()],
            )
        };
        let mut seq = new();
        let mut batches = Vec::new();
        crate::intake::stream(
            path,
            format,
            &detection.sheet,
            &limits,
            &mut |row, cells| {
                batches.extend(seq.push_row(row, cells));
                true
            },
        )
        .unwrap();
        batches.extend(seq.flush());
        let one = concat_batches(&seq.lake_schema(), &batches).unwrap();
        let mut par = new();
        let mut pbatches = Vec::new();
        let mut sink = |b: RecordBatch| {
            pbatches.push(b);
            true
        };
        let cancel = AtomicBool::new(false);
        match format {
            Format::Csv => check_csv(path, &limits, plan, &mut par, &cancel, &mut sink),
            _ => check_sheet(
                path,
                format,
                &detection.sheet,
                &limits,
                plan,
                &mut par,
                &cancel,
                &mut sink,
            ),
        }
        .unwrap();
        let two = concat_batches(&par.lake_schema(), &pbatches).unwrap();
        [(one, seq.issues, seq.counts), (two, par.issues, par.counts)]
    }

    #[test]
    fn parallel_reading_gives_the_rows_and_issues_of_reading_row_by_row() {
        let mut project =
            crate::config::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        // A bad consignee code is a warning here, so a repeated key can follow a warned row.
        let schema = project.schemas.get_mut("customs_declaration").unwrap();
        let uscc = schema
            .columns
            .iter_mut()
            .find(|c| c.name == "consignee_uscc")
            .unwrap();
        uscc.on_invalid = OnInvalid::Warn;
        let id = |n: u32| format!("0712202410{n:08}");
        let mut csv = String::from(
            "报关单号,进出口,申报地海关,监管方式,收发货人,申报时间,接单时间,放行时间,是否查验,货值(元)\n",
        );
        let row = |n: u32, uscc: &str| {
            format!(
                "{},进口,0712,110,{uscc},2024-03-0{} 09:00:00,2024-03-0{} 10:00:00,,否,1234.5\n",
                id(n),
                1 + n % 8,
                1 + n % 8
            )
        };
        for n in 1..=40 {
            match n {
                // Repeats: inside a chunk of 4 (row 4 of key 2), across chunks (key 1 again at
                // row 11), and a warned row whose key is taken (key 4, bad code, row 20).
                3 => csv.push_str(&row(2, "")),
                10 => csv.push_str(&row(1, "")),
                19 => csv.push_str(&row(4, "91310110666007217A")),
                // Rejected on its own: a release before the declaration.
                25 => csv.push_str(&format!(
                    "{},出口,0712,0110,,2024-03-02 09:00:00,,2024-03-01 09:00:00,是,1\n",
                    id(n)
                )),
                30 => csv.push_str(",,,,,,,,,\n"),
                _ => csv.push_str(&row(n, "")),
            }
        }
        csv.push_str("合计,,,,,,,,,123\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("报关单.csv");
        std::fs::write(&path, &csv).unwrap();
        // The same rows as a workbook (every cell text, under a title row).
        let xlsx = dir.path().join("报关单.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "报关单数据").unwrap();
        for (r, line) in csv.lines().enumerate() {
            for (c, v) in line.split(',').enumerate() {
                if !v.is_empty() {
                    sheet.write_string(r as u32 + 1, c as u16, v).unwrap();
                }
            }
        }
        book.save(&xlsx).unwrap();
        for (file, format) in [(&path, Format::Csv), (&xlsx, Format::Xlsx)] {
            for workers in [1, 2, 3] {
                let plan = Plan {
                    workers,
                    chunk_rows: 4,
                };
                let [(one, issues1, counts1), (two, issues2, counts2)] =
                    both_ways(&project, "customs_declaration", file, format, plan);
                assert_eq!(one, two, "{format:?} workers {workers}");
                assert_eq!(issues1, issues2, "{format:?} workers {workers}");
                assert_eq!(counts1, counts2, "{format:?} workers {workers}");
            }
        }
        let [(rows, issues, counts), _] = both_ways(
            &project,
            "customs_declaration",
            &path,
            Format::Csv,
            Plan {
                workers: 2,
                chunk_rows: 4,
            },
        );
        // 40 data rows + 合计 row: 1 blank and 1 total skipped; 3 repeats and 1 time-order
        // rejection; the warned row 20 is the repeat of key 4, so no warning is counted.
        assert_eq!(
            (
                counts.rows_read,
                counts.accepted,
                counts.rejected,
                counts.warnings,
                counts.skipped
            ),
            (39, 35, 4, 0, 2)
        );
        assert_eq!(rows.num_rows(), 35);
        let rejected: Vec<(u32, &str)> = issues
            .iter()
            .filter(|i| i.severity == crate::normalise::Severity::Rejected)
            .map(|i| (i.row, i.reason.as_str()))
            .collect();
        assert_eq!(
            rejected,
            vec![
                (4, "主键重复：与第3行相同"),
                (11, "主键重复：与第2行相同"),
                (20, "主键重复：与第5行相同"),
                (26, "放行时间早于申报时间"),
            ]
        );
        let warned: Vec<u32> = issues
            .iter()
            .filter(|i| i.severity == crate::normalise::Severity::Warning)
            .map(|i| i.row)
            .collect();
        assert_eq!(warned, vec![20]);
        assert_eq!(issues[3].row, 20);
        assert_eq!(issues[3].value, format!("报关单号={}", id(4)));
        assert_eq!(issues[3].column.as_deref(), Some("报关单号"));
    }
}
