//! Corrected re-deliveries: how a new delivery relates to the earlier ones of the same table.
//! Queries see the current state; `<table>_history` keeps every delivery's rows with lineage.

use crate::common::Project;

const DECL_HEADER: &str = "报关单号,进出口,申报地海关,监管方式,申报时间,货值(元)\n";

fn declarations(rows: &[(&str, &str)]) -> String {
    let mut s = DECL_HEADER.to_string();
    for (seq, value) in rows {
        s.push_str(&format!(
            "07112026100000000{seq},I,0711,0110,2026-11-10 10:00,{value}\n"
        ));
    }
    s
}

/// customs_declaration is `upsert` by entry_id: the latest delivery's row wins per key.
/// 1st: #1 100, #2 200. 2nd: #2 corrected to 250, #3 300. 3rd: #1 corrected to 150.
#[test]
fn upsert_across_three_deliveries() {
    let p = Project::bundled();
    let current = || {
        p.csv("select right(entry_id, 1) as e, total_value_cny from customs_declaration order by entry_id")
    };
    let snapshots = || -> Vec<String> {
        p.files_under("current")
            .into_iter()
            .filter(|f| f.starts_with("customs_declaration."))
            .collect()
    };
    let mut states = Vec::new();
    for (name, rows) in [
        ("报关单数据_1.csv", vec![("1", "100"), ("2", "200")]),
        ("报关单数据_2.csv", vec![("2", "250"), ("3", "300")]),
        ("报关单数据_3.csv", vec![("1", "150")]),
    ] {
        p.drop_file("customs", name, declarations(&rows).as_bytes());
        p.ok(&["ingest"]);
        states.push(current());
        if states.len() == 1 {
            // One delivery is its own current state: nothing is materialised.
            assert_eq!(snapshots(), Vec::<String>::new());
        }
    }
    // Each state was built from the one before (the first delivery, then the snapshot of two)
    // plus the new delivery; the listing beside the snapshot names the files it covers.
    assert_eq!(
        states,
        [
            "e,total_value_cny\n1,100.00\n2,200.00\n",
            "e,total_value_cny\n1,100.00\n2,250.00\n3,300.00\n",
            "e,total_value_cny\n1,150.00\n2,250.00\n3,300.00\n",
        ]
    );
    let snaps = snapshots();
    assert_eq!(snaps.len(), 2, "{snaps:?}");
    let listing = snaps.iter().find(|f| f.ends_with(".files")).unwrap();
    let text =
        std::fs::read_to_string(p.path().join("data").join("current").join(listing)).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert_eq!(
        p.csv("select right(entry_id, 1) as e, _source_file from customs_declaration order by entry_id"),
        "e,_source_file\n1,报关单数据_3.csv\n2,报关单数据_2.csv\n3,报关单数据_2.csv\n"
    );
    assert_eq!(
        p.csv("select right(entry_id, 1) as e, total_value_cny, _source_file from customs_declaration order by entry_id"),
        "e,total_value_cny,_source_file\n1,150.00,报关单数据_3.csv\n2,250.00,报关单数据_2.csv\n3,300.00,报关单数据_2.csv\n"
    );
    assert_eq!(
        p.csv("select right(entry_id, 1) as e, total_value_cny, _source_file from customs_declaration_history order by _delivery, entry_id"),
        "e,total_value_cny,_source_file\n1,100.00,报关单数据_1.csv\n2,200.00,报关单数据_1.csv\n2,250.00,报关单数据_2.csv\n3,300.00,报关单数据_2.csv\n1,150.00,报关单数据_3.csv\n"
    );
}

const PROGRESS_HEADER: &str = "任务编号,报送单位,报送周期,报送日期,进展状态,完成百分比\n";

fn progress(unit: &str, rows: &[(&str, &str, &str)]) -> String {
    let mut s = PROGRESS_HEADER.to_string();
    for (task, week, pct) in rows {
        let status = if *pct == "100" {
            "已完成"
        } else {
            "推进中"
        };
        s.push_str(&format!("{task},{unit},{week},2026-11-13,{status},{pct}\n"));
    }
    s
}

fn current_progress(p: &Project) -> String {
    p.csv("select unit, period, task_id, percent, _source_file from task_progress order by unit, period, task_id")
}

/// task_progress is `replace_period` by its 报送周期, per unit: a unit's delivery replaces that
/// unit's earlier rows of every week it covers, and nothing else.
/// 1st (customs): W45 3.1.4 40%; W46 3.1.1 100%, 3.1.4 60%.
/// 2nd (commerce): W46 3.1.2 50% — another unit's W46, so customs' W46 stays.
/// 3rd (customs, a correction): W46 3.1.1 100% only (3.1.4 drops out), W47 3.1.4 70%.
/// W45 of the 1st delivery is not covered by the 3rd and stays.
/// 4th: the 3rd file again under another name — a duplicate, nothing changes.
#[test]
fn replace_period_across_three_deliveries_and_the_same_correction_twice() {
    let p = Project::bundled();
    p.drop_file(
        "customs",
        "任务进展_1.csv",
        progress(
            "customs",
            &[
                ("3.1.4", "2026-W45", "40"),
                ("3.1.1", "2026-W46", "100"),
                ("3.1.4", "2026-W46", "60"),
            ],
        )
        .as_bytes(),
    );
    p.ok(&["ingest"]);
    p.drop_file(
        "commerce",
        "任务进展_2.csv",
        progress("commerce", &[("3.1.2", "2026-W46", "50")]).as_bytes(),
    );
    p.ok(&["ingest"]);
    assert_eq!(
        current_progress(&p),
        "unit,period,task_id,percent,_source_file\n\
         commerce,2026-W46,3.1.2,50.0,任务进展_2.csv\n\
         customs,2026-W45,3.1.4,40.0,任务进展_1.csv\n\
         customs,2026-W46,3.1.1,100.0,任务进展_1.csv\n\
         customs,2026-W46,3.1.4,60.0,任务进展_1.csv\n"
    );
    let correction = progress(
        "customs",
        &[("3.1.1", "2026-W46", "100"), ("3.1.4", "2026-W47", "70")],
    );
    p.drop_file("customs", "任务进展_3更正.csv", correction.as_bytes());
    p.ok(&["ingest"]);
    let want = "unit,period,task_id,percent,_source_file\n\
         commerce,2026-W46,3.1.2,50.0,任务进展_2.csv\n\
         customs,2026-W45,3.1.4,40.0,任务进展_1.csv\n\
         customs,2026-W46,3.1.1,100.0,任务进展_3更正.csv\n\
         customs,2026-W47,3.1.4,70.0,任务进展_3更正.csv\n";
    assert_eq!(current_progress(&p), want);
    // The same correction again, renamed: recognised by its content, archived as a duplicate.
    p.drop_file("customs", "任务进展_3更正(1).csv", correction.as_bytes());
    let out = p.ok(&["ingest"]);
    assert!(out.contains("1 duplicate(s)"), "{out}");
    assert_eq!(current_progress(&p), want);
    // The current state is materialised once per state of the history; the stale copy is gone.
    let snapshots: Vec<String> = p
        .files_under("current")
        .into_iter()
        .filter(|f| f.starts_with("task_progress.") && f.ends_with(".parquet"))
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    // History keeps all six rows of the three deliveries.
    assert_eq!(
        p.csv("select count(*) as n, count(distinct _delivery) as d from task_progress_history"),
        "n,d\n6,3\n"
    );
}
