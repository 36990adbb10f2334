//! Recovery from an ingest killed at its worst moments (a failpoint stops the process dead, as
//! `kill -9` would): the next start finishes or undoes the half-done delivery, and every row
//! of the file is in the lake exactly once, under one delivery, with one receipt.
//!
//! The file: the five declarations of `common::DECLARATIONS_CSV`, of which no. 4 is rejected
//! (released before accepted) and no. 5 kept with a warning (bad USCC check character).

use crate::common::{self, Project};

fn project() -> Project {
    let p = Project::bundled();
    // Small batches, so the lake file is written in several steps (and can be cut mid-way).
    let f = p.path().join("sanhu.toml");
    let text = std::fs::read_to_string(&f)
        .unwrap()
        .replace("batch_rows = 16384", "batch_rows = 2");
    std::fs::write(&f, text).unwrap();
    p.drop_file(
        "customs",
        "报关单数据_2026-W46.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    p
}

fn killed_at(p: &Project, failpoint: &str) {
    let out = p.sanhu_env(&["ingest"], &[("SANHU_FAILPOINT", failpoint)]);
    assert_eq!(
        out.status.code(),
        Some(86),
        "{failpoint}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// After recovery and a normal run: one ingested delivery, the four accepted rows once, one
/// receipt listing the rejected row, nothing left in the inbox or half-written in the lake.
fn exactly_once(p: &Project) {
    p.ok(&["ingest"]);
    assert_eq!(
        p.csv("select status, rows_accepted, rows_rejected, rows_warned from deliveries"),
        "status,rows_accepted,rows_rejected,rows_warned\ningested,4,1,1\n"
    );
    assert_eq!(
        p.csv("select entry_id from customs_declaration_history order by entry_id"),
        "entry_id\n020120260000000003\n020120261000000001\n020120261000000002\n020120261000000005\n"
    );
    assert_eq!(
        p.csv("select count(distinct delivery) as deliveries, min(row) as row from quarantine where severity = '拒收'"),
        "deliveries,row\n1,5\n"
    );
    let receipts = p.receipts("customs");
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert_eq!(receipts[0]["rows_accepted"], 4);
    assert_eq!(receipts[0]["rows_rejected"], 1);
    assert!(
        p.files_under("inbox").is_empty(),
        "{:?}",
        p.files_under("inbox")
    );
    let archived: Vec<String> = p.files_under("archive");
    assert_eq!(archived.len(), 1, "{archived:?}");
    assert!(
        archived[0].ends_with("-报关单数据_2026-W46.csv"),
        "{archived:?}"
    );
    let partial: Vec<String> = p
        .files_under("lake")
        .into_iter()
        .filter(|f| f.ends_with(".partial"))
        .collect();
    assert!(partial.is_empty(), "{partial:?}");
}

#[test]
fn killed_mid_parquet_write() {
    let p = project();
    killed_at(&p, "ingest:mid-parquet");
    assert!(
        p.files_under("lake")
            .iter()
            .any(|f| f.ends_with(".partial")),
        "the kill left a half-written file: {:?}",
        p.files_under("lake")
    );
    exactly_once(&p);
}

#[test]
fn killed_after_the_lake_write_before_the_ledger_commit() {
    let p = project();
    killed_at(&p, "ingest:after-lake-commit");
    exactly_once(&p);
}

#[test]
fn killed_after_the_ledger_commit_before_the_file_left_the_inbox() {
    let p = project();
    killed_at(&p, "ingest:after-ledger-commit");
    // The delivery committed but the file is still in the inbox, with no receipt yet.
    assert_eq!(p.files_under("inbox").len(), 1);
    assert!(p.receipts("customs").is_empty());
    // Recovery archives it silently: no second (duplicate) delivery, no duplicate receipt.
    exactly_once(&p);
    // The receipt written by recovery says what the uninterrupted run's receipt says.
    let clean = project();
    clean.ok(&["ingest"]);
    let (got, want) = (&p.receipts("customs")[0], &clean.receipts("customs")[0]);
    assert_eq!(got["outcome"], "部分拒收");
    for k in [
        "outcome",
        "feed",
        "sheet",
        "header_row",
        "rows_read",
        "rows_warned",
        "lines",
    ] {
        assert_eq!(got[k], want[k], "{k}");
    }
}

#[test]
fn a_reader_panic_quarantines_the_file_and_the_run_goes_on() {
    let p = project();
    let out = p.sanhu_env(&["ingest"], &[("SANHU_FAILPOINT", "reader:panic")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        p.csv("select status, reason from deliveries"),
        "status,reason\nquarantined,文件无法解析（读取程序异常：failpoint reader:panic）\n"
    );
    let q = p.files_under("quarantine");
    assert_eq!(q.len(), 2, "{q:?}");
    assert!(
        q.iter()
            .any(|f| f.ends_with("-报关单数据_2026-W46.csv.reason.txt")),
        "{q:?}"
    );
    assert_eq!(p.receipts("customs").len(), 1);
}
