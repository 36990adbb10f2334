//! `sanhu serve` end to end: a per-second schedule, a file dropped while it runs, SIGTERM.

use crate::common::{self, Project};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sigterm(pid: u32) {
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

/// A count from the embedded database; None while the database or the table does not exist
/// yet (the daemon creates them). Any other failure fails the test: never a silent 0.
fn count_opt(p: &Project, sql: &str) -> Option<i64> {
    let db = p.path().join("data/sanhu.db");
    if !db.exists() {
        return None;
    }
    let conn = rusqlite::Connection::open(db).unwrap();
    match conn.query_row(sql, [], |r| r.get(0)) {
        Ok(n) => Some(n),
        Err(e) if e.to_string().contains("no such table") => None,
        Err(e) => panic!("{sql}: {e}"),
    }
}

fn count(p: &Project, sql: &str) -> i64 {
    count_opt(p, sql).unwrap_or_else(|| panic!("{sql}: no database or table yet"))
}

#[test]
fn serve_ingests_a_dropped_file_runs_its_schedule_and_stops_cleanly_on_sigterm() {
    let p = Project::bundled();
    std::fs::create_dir_all(p.path().join("data/inbox/customs")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sanhu"))
        .args([
            "--project",
            p.path().to_str().unwrap(),
            "serve",
            "--poll-ms",
            "200",
            "--stable-ms",
            "400",
            "--schedule",
            "ingest=* * * * * *",
        ])
        .env("SANHU_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The per-second schedule runs (once per slot, recorded in the run ledger).
    wait_until("a scheduled run", Duration::from_secs(20), || {
        count_opt(
            &p,
            "SELECT count(*) FROM runs WHERE trigger = 'cron' AND status = 'ok'",
        )
        .is_some_and(|n| n >= 2)
    });
    // A file written in two steps is ingested once, after it stopped changing.
    let path = p.path().join("data/inbox/customs/报关单数据_2026-W46.csv");
    let text = common::DECLARATIONS_CSV;
    let (a, b) = text.split_at(text.len() / 2);
    std::fs::write(&path, a).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, b.as_bytes()).unwrap();
    drop(f);
    wait_until("the file to be ingested", Duration::from_secs(20), || {
        count_opt(
            &p,
            "SELECT count(*) FROM deliveries WHERE status = 'ingested'",
        ) == Some(1)
    });
    assert_eq!(
        count(
            &p,
            "SELECT rows_accepted FROM deliveries WHERE status = 'ingested'"
        ),
        4
    );
    wait_until(
        "the file run in the ledger",
        Duration::from_secs(10),
        || {
            count_opt(
                &p,
                "SELECT count(*) FROM runs WHERE trigger = 'file' AND status = 'ok'",
            ) == Some(1)
        },
    );
    assert_eq!(
        count(&p, "SELECT count(*) FROM deliveries"),
        1,
        "ingested exactly once"
    );
    // Exactly once per slot, counted on the runs themselves (the slots table cannot hold a
    // slot twice): no scheduled time has two first attempts, and each run has a distinct slot.
    assert_eq!(
        count(
            &p,
            "SELECT count(*) FROM (SELECT job, scheduled_for FROM runs WHERE trigger = 'cron' AND attempt = 1 GROUP BY 1, 2 HAVING count(*) > 1)"
        ),
        0
    );
    assert_eq!(
        count(
            &p,
            "SELECT count(*) FROM runs WHERE trigger = 'cron' AND attempt = 1"
        ),
        count(
            &p,
            "SELECT count(DISTINCT scheduled_for) FROM runs WHERE trigger = 'cron' AND attempt = 1"
        )
    );

    sigterm(child.id());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "serve exit {:?}\n{err}", out.status);
    assert!(err.contains("stopped: "), "{err}");
    // `sanhu status` shows the delivery, the runs and the lake table.
    let status: serde_json::Value =
        serde_json::from_str(&p.ok(&["status", "--format", "json"])).unwrap();
    let decl = status["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "customs_declaration")
        .unwrap();
    assert_eq!(decl["rows"], 4);
    let feed = status["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feed"] == "customs_declaration")
        .unwrap();
    assert_eq!(feed["files"], 1);
    assert!(
        status["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["trigger"] == "file")
    );
    assert_eq!(status["quarantine"]["rows_rejected"], 1);
}

#[test]
fn a_manual_run_waits_for_the_serving_process_and_says_for_whom() {
    let p = Project::bundled();
    std::fs::create_dir_all(p.path().join("data/inbox")).unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_sanhu"))
        .args([
            "--project",
            p.path().to_str().unwrap(),
            "serve",
            "--poll-ms",
            "200",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("serve to take the lock", Duration::from_secs(20), || {
        std::fs::read_to_string(p.path().join("data/sanhu.lock"))
            .map(|s| s.trim() == serve.id().to_string())
            .unwrap_or(false)
    });
    p.drop_file(
        "customs",
        "报关单数据.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    // The file trigger may take it first; either way it must be ingested once only.
    let manual = Command::new(env!("CARGO_BIN_EXE_sanhu"))
        .args(["--project", p.path().to_str().unwrap(), "--quiet", "ingest"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    sigterm(serve.id());
    assert!(serve.wait().unwrap().success());
    let out = manual.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("another sanhu (pid {})", serve.id())),
        "{err}"
    );
    assert_eq!(
        count(
            &p,
            "SELECT count(*) FROM deliveries WHERE status = 'ingested'"
        ),
        1
    );
}

/// The last complete ISO week before today in Ordos (Asia/Shanghai, UTC+8, no DST), computed
/// here from the clock, not by sanhu.
fn last_complete_week() -> String {
    use chrono::Datelike;
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let last_week = today - chrono::Duration::days(7);
    let w = last_week.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

#[test]
fn the_scheduled_weekly_job_fills_each_recipients_outbox_with_its_edition() {
    let p = Project::bundled();
    p.drop_file(
        "customs",
        "报关单数据.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    let week = last_complete_week();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_sanhu"))
        .args([
            "--project",
            p.path().to_str().unwrap(),
            "serve",
            "--poll-ms",
            "200",
            "--schedule",
            "report:weekly=* * * * * *",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let outbox = p.path().join("data/outbox");
    // Every unit of sanhu.toml, the internal edition only for the commerce bureau
    // (`internal_edition = true`), the circulated one for the seven others.
    let units = [
        "airport",
        "aviation",
        "border",
        "ciq",
        "commerce",
        "customs",
        "park",
        "transport",
    ];
    let expected = |unit: &str| {
        let edition = if unit == "commerce" {
            "internal"
        } else {
            "circulated"
        };
        outbox
            .join(unit)
            .join(&week)
            .join(format!("大通关周报-{week}-{edition}.xlsx"))
    };
    wait_until("every outbox", Duration::from_secs(120), || {
        units.iter().all(|u| expected(u).is_file())
    });
    sigterm(serve.id());
    assert!(serve.wait().unwrap().success());
    for u in units {
        let files: Vec<String> = std::fs::read_dir(outbox.join(u).join(&week))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".xlsx") && n.starts_with("大通关周报"))
            .collect();
        assert_eq!(files.len(), 1, "{u}: {files:?}");
        // The workbook opens and is the edition it says.
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(expected(u)).unwrap();
        let names = calamine::Reader::sheet_names(&wb);
        assert!(names.iter().any(|n| n == "封面"), "{u}: {names:?}");
        let cover = calamine::Reader::worksheet_range(&mut wb, "封面").unwrap();
        let text: String = cover
            .cells()
            .map(|(_, _, c)| c.to_string())
            .collect::<Vec<_>>()
            .join("|");
        let label = if u == "commerce" {
            "内部版"
        } else {
            "通报版"
        };
        assert!(text.contains(label), "{u}: {text}");
    }
}
