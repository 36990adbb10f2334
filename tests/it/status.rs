//! `sanhu status`: a period not yet due is pending (未到期), never missing; once its deadline
//! passes it is judged. Runs and times print as tables in local time, JSON only on request.
//!
//! One delivery: customs' declarations for 2026-W47, dropped Monday 2026-11-23 09:00 local
//! (due 10:00). Feeds then run W47 (the week before the first delivery) and W48.

use crate::common::{self, Project, set_mtime};

pub(crate) fn project() -> Project {
    let p = Project::bundled();
    let f = p.drop_file(
        "customs",
        "报关单数据_2026-W47.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    set_mtime(&f, "2026-11-23T01:00:00Z");
    p.ok(&["ingest"]);
    p
}

fn status_json(p: &Project, at: &str) -> serde_json::Value {
    serde_json::from_str(&p.ok(&["status", "--at", at, "--format", "json"])).unwrap()
}

/// (judged period, its status, open period, its status) of one unit's feed.
fn feed(v: &serde_json::Value, unit: &str, feed: &str) -> (String, String, String, String) {
    let f = v["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["unit"] == unit && f["feed"] == feed)
        .unwrap_or_else(|| panic!("no {unit}/{feed} in {v}"));
    let s = |x: &serde_json::Value, k: &str| x[k].as_str().unwrap_or("-").to_string();
    (
        s(&f["judged"], "period"),
        s(&f["judged"], "timeliness"),
        s(&f["open"], "period"),
        s(&f["open"], "timeliness"),
    )
}

#[test]
fn friday_noon_progress_reports_are_pending_not_missing() {
    let p = project();
    // Friday 2026-11-27 12:40: W47's progress reports are due at 17:00 today.
    let v = status_json(&p, "2026-11-27 12:40");
    assert_eq!(v["as_of"], "2026-11-27T04:40:00Z");
    assert_eq!(
        feed(&v, "ciq", "task_progress"),
        ("-".into(), "-".into(), "2026-W47".into(), "pending".into())
    );
    // Declarations for W47 were due Monday 10:00 and came at 09:00; W48's are due next Monday.
    assert_eq!(
        feed(&v, "customs", "customs_declaration"),
        (
            "2026-W47".into(),
            "on_time".into(),
            "2026-W48".into(),
            "pending".into()
        )
    );
    // CIQ's declarations for W47 were due Monday too: missing.
    assert_eq!(
        feed(&v, "ciq", "ciq_declaration"),
        (
            "2026-W47".into(),
            "missing".into(),
            "2026-W48".into(),
            "pending".into()
        )
    );
    // Nothing anywhere says missing for a period whose deadline is still ahead.
    for f in v["feeds"].as_array().unwrap() {
        assert_ne!(f["open"]["timeliness"], "missing", "{f}");
    }
}

#[test]
fn past_the_deadline_the_period_is_judged() {
    let p = project();
    let v = status_json(&p, "2026-11-27 17:01");
    assert_eq!(
        feed(&v, "ciq", "task_progress"),
        (
            "2026-W47".into(),
            "missing".into(),
            "2026-W48".into(),
            "pending".into()
        )
    );
}

#[test]
fn the_table_shows_local_times_and_runs_as_a_table() {
    let p = project();
    let out = p.ok(&["status", "--at", "2026-11-27 12:40"]);
    assert!(
        out.starts_with("feeds as of 2026-11-27 12:40 (Asia/Shanghai):\n"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.contains("| customs ") && l.contains("customs_declaration"))
        .unwrap();
    let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
    assert_eq!(
        cells,
        [
            "customs",
            "customs_declaration",
            "1",
            "2026-11-23 09:00",
            "2026-W47",
            "on_time",
            "2026-W48",
            "pending",
            "2026-11-30 10:00"
        ]
    );
    // Of the five rows, no. 4 is released before it was accepted (rejected) and no. 5 has a
    // USCC whose check character is wrong (kept, with a warning).
    assert!(
        out.contains(
            "quarantine: 0 file(s) quarantined, 1 row(s) rejected, 1 row(s) with warnings\n"
        ),
        "{out}"
    );
    // The ingest above is a logged run: a table row, not a JSON line.
    let runs = &out[out.find("recent runs:\n").expect("runs section")..];
    assert!(!runs.contains('{'), "{runs}");
    let header = runs.lines().nth(2).unwrap();
    assert!(
        header.contains("| id ") && header.contains("| started "),
        "{runs}"
    );
    let row = runs.lines().nth(4).unwrap();
    let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
    assert_eq!(
        (cells[1], cells[2], cells[5]),
        ("ingest", "manual", "ok"),
        "{runs}"
    );
    assert_eq!((cells[6], cells[7], cells[8]), ("5", "4", "1"), "{runs}");
}

#[test]
fn a_bad_time_is_a_usage_error() {
    let p = project();
    let out = p.sanhu(&["status", "--at", "Friday noon"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`Friday noon` is not a local time like 2026-12-04 12:40"),
        "{err}"
    );
}
