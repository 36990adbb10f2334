//! Delivery modes beyond upsert: `append` keeps every delivery's rows, and `replace_period`
//! replaces the periods a delivery covers at each grain (day, ISO week, month, year, local
//! time). And intake of UTF-16 CSV (with BOM, either byte order).

use crate::common::{self, Project};

const PENALTY_HEADER: &str = "案件编号,统一社会信用代码,决定日期,案件类型,罚没金额(元),主动披露\n";

fn penalty(case: &str, decided: &str) -> String {
    format!("{case},91310110666007217T,{decided},违规,1000,否\n")
}

/// Customs penalties delivered as `replace_period` on their decision date at `grain`.
fn penalties_by(grain: &str) -> Project {
    let p = Project::bundled();
    let f = p.path().join("schemas/customs_penalty.toml");
    let text = std::fs::read_to_string(&f).unwrap().replace(
        "mode = \"upsert\"\n",
        &format!(
            "mode = \"replace_period\"\n\n[period]\ncolumn = \"decided_on\"\ngrain = \"{grain}\"\n"
        ),
    );
    std::fs::write(&f, text).unwrap();
    p
}

/// Cases of the first delivery: A Sun 2026-11-08 (W45), B Mon 2026-11-09 and G Tue 2026-11-10
/// (W46), C Mon 2026-11-30 (W49, still November), D Tue 2026-12-01, E 2025-12-31. The second
/// delivery has one case, F, decided Mon 2026-11-09: it replaces that day, week, month or year.
fn current_after_two_deliveries(grain: &str) -> String {
    let p = penalties_by(grain);
    let first: String = std::iter::once(PENALTY_HEADER.to_string())
        .chain(
            [
                ("A", "2026-11-08"),
                ("B", "2026-11-09"),
                ("G", "2026-11-10"),
                ("C", "2026-11-30"),
                ("D", "2026-12-01"),
                ("E", "2025-12-31"),
            ]
            .iter()
            .map(|(c, d)| penalty(c, d)),
        )
        .collect();
    p.drop_file("customs", "处罚案件_1.csv", first.as_bytes());
    p.ok(&["ingest"]);
    let second = format!("{PENALTY_HEADER}{}", penalty("F", "2026-11-09"));
    p.drop_file("customs", "处罚案件_2.csv", second.as_bytes());
    p.ok(&["ingest"]);
    p.csv("select case_no from customs_penalty order by case_no")
}

#[test]
fn replace_period_by_day() {
    assert_eq!(
        current_after_two_deliveries("day"),
        "case_no\nA\nC\nD\nE\nF\nG\n"
    );
}

#[test]
fn replace_period_by_iso_week() {
    assert_eq!(
        current_after_two_deliveries("week"),
        "case_no\nA\nC\nD\nE\nF\n"
    );
}

#[test]
fn replace_period_by_month() {
    assert_eq!(current_after_two_deliveries("month"), "case_no\nD\nE\nF\n");
}

#[test]
fn replace_period_by_year() {
    assert_eq!(current_after_two_deliveries("year"), "case_no\nE\nF\n");
}

#[test]
fn append_keeps_every_deliverys_rows() {
    let p = Project::bundled();
    let f = p.path().join("schemas/customs_inspection.toml");
    let text = std::fs::read_to_string(&f)
        .unwrap()
        .replace("mode = \"upsert\"", "mode = \"append\"");
    std::fs::write(&f, text).unwrap();
    let header = "查验编号,报关单号,查验开始时间,查验结束时间,是否关检联合查验\n";
    p.drop_file(
        "customs",
        "海关查验记录_1.csv",
        format!("{header}C1,020120261000000001,2026-11-09 14:00,2026-11-09 15:00,是\nC2,020120261000000002,2026-11-09 14:00,2026-11-09 15:00,否\n").as_bytes(),
    );
    p.ok(&["ingest"]);
    p.drop_file(
        "customs",
        "海关查验记录_2.csv",
        format!("{header}C1,020120261000000001,2026-11-09 14:00,2026-11-09 16:00,是\nC3,020120261000000003,2026-11-10 09:00,2026-11-10 10:00,否\n").as_bytes(),
    );
    p.ok(&["ingest"]);
    // Both versions of C1 stay: append never replaces.
    assert_eq!(
        p.csv("select inspection_id, local_time(finished_at) as finished from customs_inspection order by inspection_id, finished_at"),
        "inspection_id,finished\nC1,2026-11-09 15:00\nC1,2026-11-09 16:00\nC2,2026-11-09 15:00\nC3,2026-11-10 10:00\n"
    );
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for u in text.encode_utf16() {
        out.extend(if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        });
    }
    out
}

#[test]
fn utf16_csv_in_either_byte_order_lands_like_utf8() {
    for (name, big) in [("报关单数据_le.csv", false), ("报关单数据_be.csv", true)] {
        let p = Project::bundled();
        p.drop_file("customs", name, &utf16(common::DECLARATIONS_CSV, big));
        let out = p.ok(&["ingest"]);
        assert!(
            out.contains("ingested 1 file(s): 4 rows accepted, 1 rows rejected"),
            "{name}: {out}"
        );
        assert_eq!(
            p.csv("select entry_id, consignee_uscc, total_value_cny from customs_declaration order by entry_id"),
            "entry_id,consignee_uscc,total_value_cny\n\
             020120260000000003,91430111MA4L41YT1U,300.00\n\
             020120261000000001,91310110666007217T,1000.00\n\
             020120261000000002,91110108551385082Q,2500.50\n\
             020120261000000005,91310110666007217A,20.00\n",
            "{name}"
        );
    }
}
