//! Supervision (督促检查): task status rules on their boundaries, feed timeliness (on time, late,
//! missing), a unit that sends nothing, and the progress template round trip. As of Sunday
//! 2026-11-22 (end of ISO week 2026-W47).

use crate::common::{self, Project, set_mtime};

const REGISTRY: &str = "任务编号,所属章节,任务名称,牵头单位,责任单位,完成时限,目标\n\
    T1,三(一),今天到期,commerce,customs,2026-11-22,x\n\
    T2,三(一),昨天到期,commerce,customs,2026-11-21,x\n\
    T3,三(一),30天后到期,commerce,customs,2026-12-22,x\n\
    T4,三(一),31天后到期,commerce,customs,2026-12-23,x\n\
    T5,三(二),报送恰满两周,commerce,customs,2027-12-31,x\n\
    T6,三(二),报送超过两周,commerce,customs,2027-12-31,x\n\
    T7,三(二),两单位均完成,commerce,customs;ciq,2027-12-31,x\n\
    T8,四,无人报送,commerce,customs,2027-12-31,x\n";

const PROGRESS: &str = "任务编号,报送单位,报送周期,报送日期,进展状态,完成百分比\n\
    T1,customs,2026-W47,2026-11-20,推进中,50\n\
    T2,customs,2026-W47,2026-11-20,推进中,90\n\
    T3,customs,2026-W47,2026-11-20,推进中,50\n\
    T4,customs,2026-W47,2026-11-20,推进中,50\n\
    T5,customs,2026-W45,2026-11-08,推进中,50\n\
    T6,customs,2026-W45,2026-11-07,推进中,50\n\
    T7,customs,2026-W47,2026-11-20,已完成,100\n\
    T7,ciq,2026-W47,2026-11-21,已完成,100\n\
    T1,customs,2026-W48,2026-11-27,已完成,100\n";

fn project() -> Project {
    let p = Project::bundled();
    p.drop_file("commerce", "任务清单_测试.csv", REGISTRY.as_bytes());
    p.drop_file("customs", "任务进展_customs.csv", PROGRESS.as_bytes());
    // customs_declaration for W46 is due Monday 2026-11-16 10:00 local (02:00Z).
    let on_time = p.drop_file(
        "customs",
        "报关单数据.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    set_mtime(&on_time, "2026-11-16T01:00:00Z");
    let late = p.drop_file(
        "ciq",
        "报检数据.csv",
        "报检号,报关单号,报检时间\nQ1,020120261000000001,2026-11-10 09:00\n".as_bytes(),
    );
    set_mtime(&late, "2026-11-16T03:00:00Z");
    p.ok(&["ingest"]);
    p.ok(&["build", "--as-of", "2026-11-22"]);
    p
}

#[test]
fn task_status_rules_on_their_boundaries() {
    let p = project();
    assert_eq!(
        p.csv("select task_id, status, percent, last_reported_on, days_overdue from task_status order by task_id"),
        "task_id,status,percent,last_reported_on,days_overdue\n\
         T1,预警,50.0,2026-11-20,0\n\
         T2,逾期,90.0,2026-11-20,1\n\
         T3,预警,50.0,2026-11-20,0\n\
         T4,正常推进,50.0,2026-11-20,0\n\
         T5,正常推进,50.0,2026-11-08,0\n\
         T6,预警,50.0,2026-11-07,0\n\
         T7,已完成,100.0,2026-11-21,0\n\
         T8,未报送,0.0,,0\n"
    );
}

#[test]
fn feeds_on_time_late_missing_and_a_silent_unit() {
    let p = project();
    assert_eq!(
        p.csv("select unit, feed, timeliness, local_time(delivered_at) as at from feed_timeliness where period = '2026-W46' and feed in ('customs_declaration', 'ciq_declaration', 'airport_cargo') order by unit, feed"),
        "unit,feed,timeliness,at\nairport,airport_cargo,missing,\nciq,ciq_declaration,late,2026-11-16 11:00\ncustoms,customs_declaration,on_time,2026-11-16 09:00\n"
    );
    // Periods whose due time is after the as-of date are not judged.
    assert_eq!(
        p.csv("select count(*) as n from feed_timeliness where period = '2026-W47'"),
        "n\n0\n"
    );
    // Border sends nothing: every feed it owes is missing; it holds no task.
    assert_eq!(
        p.csv("select unit, tasks_held, reports_received, feeds_due, feeds_on_time, feeds_late, feeds_missing from unit_compliance where unit in ('border', 'customs') order by unit"),
        "unit,tasks_held,reports_received,feeds_due,feeds_on_time,feeds_late,feeds_missing\nborder,0,0,2,0,0,2\ncustoms,8,5,6,1,0,5\n"
    );
}

#[test]
fn the_progress_template_round_trip() {
    use calamine::{Reader, Xlsx, open_workbook};
    let p = project();
    let out = p.ok(&[
        "template",
        "task_progress",
        "--unit",
        "ciq",
        "--week",
        "2026-W48",
    ]);
    let path = std::path::PathBuf::from(out.trim());
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    let range = wb.worksheet_range("任务进展").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(
        rows[3][..8],
        [
            "任务编号",
            "任务名称（参考）",
            "报送单位",
            "报送周期",
            "报送日期",
            "进展状态",
            "完成百分比",
            "进展说明"
        ]
    );
    assert_eq!(rows[4][0], "T7"); // ciq holds only T7
    assert_eq!(rows.len(), 5);
    // The clerk fills status and percent and saves; rebuild the same sheet with the answers.
    let mut filled = rust_xlsxwriter::Workbook::new();
    let ws = filled.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write(r as u32, c as u16, v.as_str()).unwrap();
        }
    }
    ws.write(4, 4, "2026-11-27").unwrap();
    ws.write(4, 5, "推进中").unwrap();
    ws.write(4, 6, 60).unwrap();
    ws.write(4, 7, "已完成联调").unwrap();
    p.drop_file(
        "ciq",
        "任务进展_ciq_2026-W48.xlsx",
        &filled.save_to_buffer().unwrap(),
    );
    p.ok(&["ingest"]);
    assert_eq!(
        p.csv("select task_id, unit, period, reported_on, status, percent, note from task_progress where unit = 'ciq' and period = '2026-W48'"),
        "task_id,unit,period,reported_on,status,percent,note\nT7,ciq,2026-W48,2026-11-27,推进中,60.0,已完成联调\n"
    );
}
