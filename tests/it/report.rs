//! Golden test of the weekly workbook: the model dumped as readable text (sheet, cell, value,
//! number format, freeze panes, filters, charts), compared with `tests/golden/`, and the xlsx
//! written by the binary read back and compared with the model. Regenerate a golden file with
//! `UPDATE_GOLDEN=1 cargo test --release --test report` and review the diff.

use crate::common::{self, Project};
use std::time::{Duration, SystemTime};

fn set_mtime(path: &std::path::Path, unix: u64) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(unix))
        .unwrap();
}

#[test]
fn weekly_workbook_matches_its_golden_dump_in_both_editions() {
    let p = Project::bundled();
    // Delivered Monday 2026-11-16 09:00 local, for week 2026-W46.
    let f = p.drop_file(
        "customs",
        "报关单数据_2026-W46.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    set_mtime(&f, 1_794_790_800);
    let air = p.drop_file("airport", "运抵提离_2026-W46.csv", "运单号,报关单号,运抵时间,提离时间\nW1,020120261000000001,2026-11-09 07:00,2026-11-09 18:00\n".as_bytes());
    set_mtime(&air, 1_794_790_800);
    let pen = p.drop_file("customs", "处罚案件_2026-W46.csv", "案件编号,统一社会信用代码,决定日期,案件类型,罚没金额(元),主动披露\nC1,91310110666007217T,2026-11-10,违规,80000,否\n".as_bytes());
    set_mtime(&pen, 1_794_790_800);
    // The plan's task registry and one unit's progress, so the supervision sheets have rows.
    let reg = p.drop_file(
        "commerce",
        "任务清单.csv",
        include_str!("../../seed/task_registry.csv").as_bytes(),
    );
    set_mtime(&reg, 1_794_790_800);
    let prog = p.drop_file(
        "customs",
        "任务进展_customs.csv",
        "任务编号,报送单位,报送周期,报送日期,进展状态,完成百分比\n3.1.1,customs,2026-W46,2026-11-13,已完成,100\n3.1.4,customs,2026-W46,2026-11-13,推进中,60\n".as_bytes(),
    );
    set_mtime(&prog, 1_794_790_800);
    p.ok(&["ingest"]);
    p.ok(&["build", "--as-of", "2026-11-22"]);
    let written = p.ok(&["report", "weekly", "--week", "2026-W46"]);
    let files: Vec<&str> = written.lines().collect();
    assert_eq!(files.len(), 2);
    assert!(
        files[0].ends_with("reports/2026-W46/大通关周报-2026-W46-internal.xlsx"),
        "{written}"
    );
    assert!(
        files[1].ends_with("reports/2026-W46/大通关周报-2026-W46-circulated.xlsx"),
        "{written}"
    );

    for (edition, file, name) in [
        (
            sanhu::report::Edition::Internal,
            files[0],
            "weekly-2026-W46-internal.txt",
        ),
        (
            sanhu::report::Edition::Circulated,
            files[1],
            "weekly-2026-W46-circulated.txt",
        ),
    ] {
        let wb = p.weekly_workbook("2026-W46", edition);
        common::golden(name, &sanhu::report::dump::dump(&wb));
        // The file on disk holds the model's values, cell for cell.
        assert_eq!(
            sanhu::report::dump::dump_xlsx_values(std::path::Path::new(file)).unwrap(),
            sanhu::report::dump::dump_values(&wb).unwrap()
        );
    }
}

/// The 通报 names the units late or missing for the latest period whose deadline had passed by
/// the report's week end: for the W48 report that is W47 (W48's own deliveries are due in W49).
#[test]
fn the_circular_names_units_late_or_missing_for_the_last_period_due() {
    let p = Project::bundled();
    let reg = p.drop_file(
        "commerce",
        "任务清单.csv",
        include_str!("../../seed/task_registry.csv").as_bytes(),
    );
    // 2026-11-23 09:00 local: Monday of W48, before the 10:00 deadline of W47's declarations.
    set_mtime(&reg, 1_795_395_600);
    let decl = p.drop_file(
        "customs",
        "报关单数据_2026-W47.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    set_mtime(&decl, 1_795_395_600);
    let progress = |unit: &str| {
        format!(
            "任务编号,报送单位,报送周期,报送日期,进展状态,完成百分比\n3.1.1,{unit},2026-W47,2026-11-26,推进中,50\n"
        )
    };
    // Transport reports W47's progress on Thursday 2026-11-26 10:00 (due Friday 17:00): on
    // time, and it owes nothing else. Aviation reports on Saturday 2026-11-28 10:00: late.
    let t = p.drop_file(
        "transport",
        "任务进展_transport.csv",
        progress("transport").as_bytes(),
    );
    set_mtime(&t, 1_795_658_400);
    let a = p.drop_file(
        "aviation",
        "任务进展_aviation.csv",
        progress("aviation").as_bytes(),
    );
    set_mtime(&a, 1_795_831_200);
    p.ok(&["ingest"]);
    p.ok(&["build", "--as-of", "2026-11-29"]);
    assert_eq!(
        p.csv("select unit, timeliness from feed_timeliness where feed = 'task_progress' and unit in ('transport', 'aviation', 'customs') order by unit"),
        "unit,timeliness\naviation,late\ncustoms,missing\ntransport,on_time\n"
    );
    let wb = p.weekly_workbook("2026-W48", sanhu::report::Edition::Circulated);
    let dump = sanhu::report::dump::dump(&wb);
    let line = dump
        .lines()
        .find(|l| l.contains("未按时报送"))
        .expect("the circular paragraph");
    // Every unit but transport owes a W47 feed it did not deliver on time; in unit-code order.
    assert!(
        line.contains(
            "未按时报送数据的单位（2026-W47）：机场集团、民航办、边防、检验检疫、商务局、海关、空港物流园区。"
        ),
        "{line}"
    );
}
