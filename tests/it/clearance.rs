//! Clearance-time metrics (WCO TRS), checked against numbers computed by hand.
//!
//! Week 2026-W46 (Mon 9 – Sun 15 Nov 2026, Asia/Shanghai), five imports at 0201 / 0110:
//!
//! | # | arrival | declared | released | gate-out | a→d | d→r | r→g | a→g |
//! |---|---------|----------|----------|----------|-----|-----|-----|-----|
//! | 1 | 09 08:00 | 09 10:00 | 09 11:00 | 09 21:00 | 2 | 1 | 10 | 13 |
//! | 2 | 10 06:00 | 10 10:00 | 10 12:00 | 11 18:00 | 4 | 2 | 30 | 36 |
//! | 3 | 11 04:00 | 11 10:00 | 11 13:00 | 13 15:00 | 6 | 3 | 50 | 59 |
//! | 4 | 12 02:00 | 12 10:00 | 12 14:00 | 12 13:00 | 8 | 4 | −1 → anomaly | 11 |
//! | 5 | — | 13 10:00 | Dec 16 18:00 | — | — | 800 (outlier) | — | — |
//!
//! declared→released {1,2,3,4,800}: n 5, coverage 1, mean 810/5 = 162, median 3,
//!   p90: pos 0.9·4 = 3.6 → 4 + 796·0.6 = 481.6; p95: pos 3.8 → 4 + 796·0.8 = 640.8;
//!   within 24 h 4/5 = 0.8, within 48 h 0.8, outliers (> 720 h) 1.
//! arrival→declared {2,4,6,8}: n 4, coverage 4/5 = 0.8, mean 5, median 5,
//!   p90: pos 2.7 → 6 + 2·0.7 = 7.4; p95: pos 2.85 → 6 + 2·0.85 = 7.7; shares 1, 1.
//! released→gate-out {10,30,50} (#4 is an anomaly, left out): n 3, coverage 0.6, mean 30,
//!   median 30, p90: pos 1.8 → 30 + 20·0.8 = 46; p95: pos 1.9 → 48; within 24 h 1/3, 48 h 2/3.
//! arrival→gate-out {11,13,36,59}: n 4, coverage 0.8, mean 119/4 = 29.75, median (13+36)/2 = 24.5,
//!   p90: pos 2.7 → 36 + 23·0.7 = 52.1; p95: pos 2.85 → 36 + 23·0.85 = 55.55; 24 h 2/4, 48 h 3/4.
//! A sixth declaration lodged Monday 16 Nov 00:30 local (15 Nov 16:30 UTC) is in 2026-W47.

use crate::common::Project;

const HEADER: &str = "报关单号,进出口,申报地海关,监管方式,申报时间,接单时间,放行时间,是否查验\n";
const DECLS: [&str; 6] = [
    "020120261000000001,I,0201,0110,2026-11-09 10:00,2026-11-09 10:10,2026-11-09 11:00,否\n",
    "020120261000000002,I,0201,0110,2026-11-10 10:00,,2026-11-10 12:00,否\n",
    "020120261000000003,I,0201,0110,2026-11-11 10:00,,2026-11-11 13:00,是\n",
    "020120261000000004,I,0201,0110,2026-11-12 10:00,,2026-11-12 14:00,否\n",
    "020120261000000005,I,0201,0110,2026-11-13 10:00,,2026-12-16 18:00,否\n",
    "020120260000000006,E,0201,0110,2026-11-16 00:30,,2026-11-16 01:30,否\n",
];
const AIR: &str = "运单号,报关单号,运抵时间,提离时间\n\
    W1,020120261000000001,2026-11-09 08:00,2026-11-09 21:00\n\
    W2,020120261000000002,2026-11-10 06:00,2026-11-11 18:00\n\
    W3,020120261000000003,2026-11-11 04:00,2026-11-13 15:00\n\
    W4,020120261000000004,2026-11-12 02:00,2026-11-12 13:00\n";

/// The week's figures as computed by hand in the table above (slice `all`).
const WEEK_46_METRICS: &str = "segment,n,declarations,coverage,mean_h,median_h,p90_h,p95_h,min_h,max_h,share_within_24h,share_within_48h,n_outliers\n\
    arrival_to_declared,4,5,0.8,5.0,5.0,7.4,7.7,2.0,8.0,1.0,1.0,0\n\
    arrival_to_gate_out,4,5,0.8,29.75,24.5,52.1,55.55,11.0,59.0,0.5,0.75,0\n\
    declared_to_released,5,5,1.0,162.0,3.0,481.6,640.8,1.0,800.0,0.8,0.8,1\n\
    released_to_gate_out,3,5,0.6,30.0,30.0,46.0,48.0,10.0,50.0,0.3333,0.6667,0\n";

fn metrics(p: &Project) -> String {
    p.ok(&["build"]);
    p.csv(
        "select segment, n, declarations, coverage, mean_h, median_h, p90_h, p95_h, min_h, max_h, \
         share_within_24h, share_within_48h, n_outliers from clearance_metrics \
         where period_kind = 'week' and period = '2026-W46' and slice_kind = 'all' order by segment",
    )
}

/// The bundled project with the six declarations and four airport rows above ingested.
fn week_46_ingested() -> Project {
    let p = Project::bundled();
    let all: String = std::iter::once(HEADER).chain(DECLS).collect();
    p.drop_file("customs", "报关单数据.csv", all.as_bytes());
    p.drop_file("airport", "运抵提离.csv", AIR.as_bytes());
    p.ok(&["ingest"]);
    p
}

#[test]
fn weekly_metrics_match_the_hand_computation() {
    let p = week_46_ingested();
    assert_eq!(metrics(&p), WEEK_46_METRICS);
    // Monday 00:30 local is the new week.
    assert_eq!(
        p.csv("select period, slice_value, n from clearance_metrics where period_kind = 'week' and slice_kind = 'ie_flag' and segment = 'declared_to_released' order by period"),
        "period,slice_value,n\n2026-W46,I,5\n2026-W47,E,1\n"
    );
    // The cross-feed negative is listed with both times and both files, and flagged outliers stay.
    assert_eq!(
        p.csv("select entry_id, segment, local_time(from_at) as f, local_time(to_at) as t, from_file, to_file, hours from clearance_anomalies"),
        "entry_id,segment,f,t,from_file,to_file,hours\n020120261000000004,released_to_gate_out,2026-11-12 14:00,2026-11-12 13:00,报关单数据.csv,运抵提离.csv,-1.0\n"
    );
    assert_eq!(
        p.csv("select entry_id from clearance_times where outlier"),
        "entry_id\n020120261000000005\n"
    );
    // Monthly figures include the same five plus nothing else from November's imports.
    assert_eq!(
        p.csv("select n, median_h from clearance_metrics where period_kind = 'month' and period = '2026-11' and slice_kind = 'ie_flag' and slice_value = 'I' and segment = 'declared_to_released'"),
        "n,median_h\n5,3.0\n"
    );
}

#[test]
fn metrics_do_not_depend_on_row_order_or_file_split() {
    let p = Project::bundled();
    let first: String = std::iter::once(HEADER)
        .chain([DECLS[4], DECLS[1], DECLS[5]])
        .collect();
    let second: String = std::iter::once(HEADER)
        .chain([DECLS[3], DECLS[0], DECLS[2]])
        .collect();
    p.drop_file("customs", "报关单数据_a.csv", first.as_bytes());
    p.drop_file("customs", "报关单数据_b.csv", second.as_bytes());
    let air_rev: String = {
        let mut lines: Vec<&str> = AIR.lines().collect();
        let header = lines.remove(0);
        lines.reverse();
        std::iter::once(header)
            .chain(lines)
            .map(|l| format!("{l}\n"))
            .collect()
    };
    p.drop_file("airport", "运抵提离.csv", air_rev.as_bytes());
    p.ok(&["ingest"]);
    assert_eq!(metrics(&p), WEEK_46_METRICS);
}

/// The credit_grade slice: the consignee's grade in the credit library as of the build date.
/// #1 and #2 are lodged by an enterprise with nothing against it (A), #3 by one with a smuggling
/// case decided 2026-11-01 (hard trigger: D), #4 and #5 by nobody in the library (未评级).
/// declared→released: A {1, 2} → median 1.5, p90 1.9; D {3}; 未评级 {4, 800} → median 402,
/// p90 4 + 796·0.9 = 720.4, one outlier.
#[test]
fn metrics_sliced_by_the_consignees_credit_grade() {
    let p = Project::bundled();
    let clean = "91150601000000002J";
    let smuggler = "91150601000000001F";
    let consignees = [clean, clean, smuggler, "", ""];
    let decls: String = std::iter::once(
        "报关单号,进出口,申报地海关,监管方式,申报时间,接单时间,放行时间,是否查验,收发货人\n"
            .to_string(),
    )
    .chain(
        DECLS[..5]
            .iter()
            .zip(consignees)
            .map(|(row, c)| format!("{},{c}\n", row.trim_end())),
    )
    .collect();
    p.drop_file("customs", "报关单数据.csv", decls.as_bytes());
    p.drop_file(
        "commerce",
        "企业名录.csv",
        format!("统一社会信用代码,企业名称\n{clean},甲公司\n{smuggler},乙公司\n").as_bytes(),
    );
    p.drop_file(
        "customs",
        "处罚案件.csv",
        format!("案件编号,统一社会信用代码,决定日期,案件类型,罚没金额(元),主动披露\nP1,{smuggler},2026-11-01,走私,10000,否\n").as_bytes(),
    );
    p.ok(&["ingest"]);
    p.ok(&["build", "--as-of", "2026-11-22"]);
    assert_eq!(
        p.csv("select slice_value, n, declarations, median_h, p90_h, n_outliers from clearance_metrics \
               where period_kind = 'week' and period = '2026-W46' and slice_kind = 'credit_grade' \
               and segment = 'declared_to_released' order by slice_value"),
        "slice_value,n,declarations,median_h,p90_h,n_outliers\nA,2,2,1.5,1.9,0\nD,1,1,3.0,3.0,0\n未评级,2,2,402.0,720.4,1\n"
    );
}

/// `build --only`: just the selected models, reading the models they depend on as last built;
/// refused, naming the missing one, before those were ever built.
#[test]
fn only_the_selected_models_are_rebuilt() {
    let p = week_46_ingested();
    let out = p.sanhu(&["build", "--select", "clearance_metrics", "--only"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "model `clearance_metrics` reads `clearance_times`, which has not been built yet"
        ),
        "{err}"
    );
    assert_eq!(metrics(&p), WEEK_46_METRICS);
    let out = p.ok(&[
        "build",
        "--select",
        "clearance_times,clearance_metrics",
        "--only",
    ]);
    let built: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("built "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(built, ["clearance_times", "clearance_metrics"]);
    assert_eq!(
        p.csv(
            "select segment, n, median_h from clearance_metrics where period_kind = 'week' \
             and period = '2026-W46' and slice_kind = 'all' order by segment"
        ),
        "segment,n,median_h\narrival_to_declared,4,5.0\narrival_to_gate_out,4,24.5\n\
         declared_to_released,5,3.0\nreleased_to_gate_out,3,30.0\n"
    );
}

/// Against the 2017 baseline (sanhu.toml `baseline_period`), by hand:
/// imports 2017-03: 10 h and 14 h → baseline 12 h; W46: 4 h and 8 h → mean 6 h, change
/// (6 − 12) / 12 = −0.5, targets 12·2/3 = 8 h (2018) and 12/2 = 6 h (2021): both met, the
/// second exactly on its boundary. Exports 2017-03: 3 h; W46: 2.5 h → change −0.5/3 = −0.1667,
/// targets 2 h and 1.5 h: neither met.
#[test]
fn clearance_against_the_baseline_and_both_targets() {
    let p = Project::bundled();
    let decls = "报关单号,进出口,申报地海关,监管方式,申报时间,放行时间\n\
        020120171000000001,I,0201,0110,2017-03-06 08:00,2017-03-06 18:00\n\
        020120171000000002,I,0201,0110,2017-03-07 08:00,2017-03-07 22:00\n\
        020120170000000003,E,0201,0110,2017-03-08 09:00,2017-03-08 12:00\n\
        020120261000000011,I,0201,0110,2026-11-09 10:00,2026-11-09 14:00\n\
        020120261000000012,I,0201,0110,2026-11-10 10:00,2026-11-10 18:00\n\
        020120260000000013,E,0201,0110,2026-11-11 10:00,2026-11-11 12:30\n";
    p.drop_file("customs", "报关单数据.csv", decls.as_bytes());
    p.ok(&["ingest"]);
    p.ok(&["build"]);
    assert_eq!(
        p.csv("select period, ie_flag, mean_h, baseline_period, baseline_h, change_vs_baseline, target_2018_h, target_2021_h, meets_2018_target, meets_2021_target from clearance_vs_target where period_kind = 'week' and period = '2026-W46' and measure like '通关时间%' order by ie_flag"),
        "period,ie_flag,mean_h,baseline_period,baseline_h,change_vs_baseline,target_2018_h,target_2021_h,meets_2018_target,meets_2021_target\n\
         2026-W46,E,2.5,2017,3.0,-0.1667,2.0,1.5,false,false\n\
         2026-W46,I,6.0,2017,12.0,-0.5,8.0,6.0,true,true\n"
    );
    // No airport data: the overall-time proxy has neither a mean nor a baseline.
    assert_eq!(
        p.csv("select ie_flag, mean_h, baseline_h, meets_2021_target from clearance_vs_target where period_kind = 'week' and period = '2026-W46' and measure like '整体%' order by ie_flag"),
        "ie_flag,mean_h,baseline_h,meets_2021_target\nE,,,\nI,,,\n"
    );
}

/// 一次查验 and 监管互认 for W46, by hand. Four declarations:
/// 21 inspected by customs jointly with CIQ, and by CIQ (joint): both, together;
/// 22 by customs alone and by CIQ alone: both, not together;
/// 23 by CIQ only, released by customs without its own inspection: recognised;
/// 24 by nobody.
/// inspected_by_both 2, together 1 → rate 0.5; CIQ-inspected 3, recognised 1 → 0.3333.
#[test]
fn joint_inspection_and_mutual_recognition_rates() {
    let p = Project::bundled();
    p.drop_file(
        "customs",
        "报关单数据.csv",
        "报关单号,进出口,申报地海关,监管方式,申报时间,放行时间,是否查验\n\
         020120261000000021,I,0201,0110,2026-11-09 10:00,2026-11-10 10:00,是\n\
         020120261000000022,I,0201,0110,2026-11-09 11:00,2026-11-10 11:00,是\n\
         020120261000000023,I,0201,0110,2026-11-09 12:00,2026-11-10 12:00,否\n\
         020120261000000024,I,0201,0110,2026-11-09 13:00,2026-11-09 15:00,否\n"
            .as_bytes(),
    );
    p.drop_file(
        "customs",
        "海关查验记录.csv",
        "查验编号,报关单号,查验开始时间,查验结束时间,是否关检联合查验\n\
         C21,020120261000000021,2026-11-09 14:00,2026-11-09 15:00,是\n\
         C22,020120261000000022,2026-11-09 14:00,2026-11-09 15:00,否\n"
            .as_bytes(),
    );
    p.drop_file(
        "ciq",
        "报检数据.csv",
        "报检号,报关单号,报检时间,检验时间,是否联合查验\n\
         Q21,020120261000000021,2026-11-09 10:00,2026-11-09 14:00,是\n\
         Q22,020120261000000022,2026-11-09 11:00,2026-11-09 16:00,否\n\
         Q23,020120261000000023,2026-11-09 12:00,2026-11-09 17:00,否\n"
            .as_bytes(),
    );
    p.ok(&["ingest"]);
    p.ok(&["build"]);
    assert_eq!(
        p.csv("select week, declarations, inspected_by_both, inspected_together, joint_inspection_rate, ciq_inspected, recognised_by_customs, mutual_recognition_rate from joint_inspection order by week"),
        "week,declarations,inspected_by_both,inspected_together,joint_inspection_rate,ciq_inspected,recognised_by_customs,mutual_recognition_rate\n\
         2026-W46,4,2,1,0.5,3,1,0.3333\n"
    );
}
