//! The enterprise credit library: each rule applies, does not apply, and expires on the day its
//! window ends; the broker threshold; the ratio test with and without the amount test; the
//! voluntary-disclosure exemption; an invalid USCC; as-of dates before and after an event.
//!
//! Enterprises (valid USCCs, check characters computed by GB 32100-2015):
//! - E1 …01F smuggling case decided 2026-03-01 → hard trigger until 2027-03-01 (one year).
//! - E2 …02J 违规 ¥50,000 voluntarily disclosed → exempt (≤ ¥50,000): score 100.
//! - E3 …03M 违规 ¥80,000 (−2) and two serious CIQ non-conformities (−2 each) → 94, grade B.
//! - E4 …04Q a customs broker: 违规 ¥200,000 on 2026-02-01 and 2026-06-01; declared ¥100,000,000
//!   in 2025. On 2026-06-01 its penalties over a year are ¥400,000 > 1‰ × ¥100,000,000 and
//!   > ¥300,000 (the broker threshold) → hard trigger for 182 days; plus −2 per penalty.
//! - E5 …05U the same as E4 but not a broker: ¥400,000 < ¥1,000,000 → no trigger; −4 → 96, A.
//! - E6 …06Y tax due 2026-05-01 unpaid: more than three months overdue from 2026-08-02.
//! - E7 …072 rated 失信企业 by customs: on the joint-punishment list, its own score untouched.
//! - a registry row with a bad check character is rejected and never reaches the library.

use crate::common::Project;

const E: [&str; 7] = [
    "91150601000000001F",
    "91150601000000002J",
    "91150601000000003M",
    "91150601000000004Q",
    "91150601000000005U",
    "91150601000000006Y",
    "911506010000000072",
];

fn project() -> Project {
    let p = Project::bundled();
    let reg = format!(
        "统一社会信用代码,企业名称,是否报关企业\n{},甲公司,否\n{},乙公司,否\n{},丙公司,否\n{},丁报关行,是\n{},戊公司,否\n{},己公司,否\n{},庚公司,否\n91150601000000001A,坏代码公司,否\n",
        E[0], E[1], E[2], E[3], E[4], E[5], E[6]
    );
    p.drop_file("commerce", "企业名录.csv", reg.as_bytes());
    let pen = format!(
        "案件编号,统一社会信用代码,决定日期,案件类型,罚没金额(元),主动披露\n\
         P1,{},2026-03-01,走私,10000,否\nP2,{},2026-04-01,违规,50000,是\nP3,{},2026-04-01,违规,80000,否\n\
         P4,{},2026-02-01,违规,200000,否\nP5,{},2026-06-01,违规,200000,否\nP6,{},2026-02-01,违规,200000,否\nP7,{},2026-06-01,违规,200000,否\n",
        E[0], E[1], E[2], E[3], E[3], E[4], E[4]
    );
    p.drop_file("customs", "处罚案件.csv", pen.as_bytes());
    let nc = format!(
        "记录编号,统一社会信用代码,发现日期,不合格类别,严重程度\nN1,{},2026-05-10,标签,严重\nN2,{},2026-05-11,包装,严重\n",
        E[2], E[2]
    );
    p.drop_file("ciq", "不合格记录.csv", nc.as_bytes());
    let tax = format!(
        "缴款书号,统一社会信用代码,缴款期限,缴款日期,税款金额(元)\nT1,{},2026-05-01,,12000\n",
        E[5]
    );
    p.drop_file("customs", "欠税记录.csv", tax.as_bytes());
    let credit = format!(
        "统一社会信用代码,信用等级,生效日期\n{},一般信用企业,2025-01-01\n{},失信企业,2026-01-15\n",
        E[0], E[6]
    );
    p.drop_file("customs", "信用等级.csv", credit.as_bytes());
    let decl = format!(
        "报关单号,进出口,申报地海关,监管方式,收发货人,申报时间,货值(元)\n\
         071120251000000001,I,0711,0110,{},2025-06-01 10:00,100000000\n071120251000000002,I,0711,0110,{},2025-06-01 11:00,100000000\n",
        E[3], E[4]
    );
    p.drop_file("customs", "报关单数据.csv", decl.as_bytes());
    p.ok(&["ingest"]);
    p
}

fn grades(p: &Project, as_of: &str) -> String {
    p.ok(&["build", "--as-of", as_of, "--select", "credit_library"]);
    p.csv(
        "select right(uscc, 3) as e, score, grade, hard_trigger from credit_library order by uscc",
    )
}

#[test]
fn every_rule_on_its_boundaries() {
    let p = project();
    // Before any 2026 event: everyone 100, A.
    assert_eq!(
        grades(&p, "2026-01-31"),
        "e,score,grade,hard_trigger\n01F,100,A,false\n02J,100,A,false\n03M,100,A,false\n04Q,100,A,false\n05U,100,A,false\n06Y,100,A,false\n072,100,A,false\n"
    );
    // 2026-06-01: smuggling (E1), exemption (E2), deductions (E3), broker ratio+amount (E4), no amount test for E5.
    // E6's tax is exactly three months overdue on 2026-08-01: not yet "more than".
    assert_eq!(
        grades(&p, "2026-08-01"),
        "e,score,grade,hard_trigger\n01F,100,D,true\n02J,100,A,false\n03M,94,B,false\n04Q,96,D,true\n05U,96,A,false\n06Y,100,A,false\n072,100,A,false\n"
    );
    assert_eq!(
        grades(&p, "2026-08-02").lines().nth(6).unwrap(),
        "06Y,100,D,true"
    );
    // E4's ratio trigger counts 182 days from 2026-06-01: until 2026-11-30 (exclusive).
    assert_eq!(
        grades(&p, "2026-11-29").lines().nth(4).unwrap(),
        "04Q,96,D,true"
    );
    assert_eq!(
        grades(&p, "2026-11-30").lines().nth(4).unwrap(),
        "04Q,96,A,false"
    );
    // The smuggling case stops counting on the day its year ends.
    assert_eq!(
        grades(&p, "2027-02-28").lines().nth(1).unwrap(),
        "01F,100,D,true"
    );
    assert_eq!(
        grades(&p, "2027-03-01").lines().nth(1).unwrap(),
        "01F,100,A,false"
    );
    // The bad registry row was rejected with its reason.
    assert_eq!(
        p.csv("select row, reason from quarantine where feed = 'enterprise_registry'"),
        "row,reason\n9,统一社会信用代码校验位错误\n"
    );
}

#[test]
fn evidence_explain_and_the_joint_punishment_list() {
    let p = project();
    p.ok(&["build", "--as-of", "2026-08-01"]);
    assert_eq!(
        p.csv("select right(uscc, 3) as e, rule_id, points, source_table, source_key, event_date, counts_until from credit_evidence order by uscc, rule_id, source_key"),
        "e,rule_id,points,source_table,source_key,event_date,counts_until\n\
         01F,H1_smuggling,0,credit_penalties,P1,2026-03-01,2027-03-01\n\
         03M,D1_violation,-2,credit_penalties,P3,2026-04-01,2027-04-01\n\
         03M,D2_ciq_serious,-2,ciq_nonconformity,N1,2026-05-10,2027-05-10\n\
         03M,D2_ciq_serious,-2,ciq_nonconformity,N2,2026-05-11,2027-05-11\n\
         04Q,D1_violation,-2,credit_penalties,P4,2026-02-01,2027-02-01\n\
         04Q,D1_violation,-2,credit_penalties,P5,2026-06-01,2027-06-01\n\
         04Q,H2_penalty_ratio,0,credit_penalty_ratio,P5,2026-06-01,2026-11-30\n\
         05U,D1_violation,-2,credit_penalties,P6,2026-02-01,2027-02-01\n\
         05U,D1_violation,-2,credit_penalties,P7,2026-06-01,2027-06-01\n"
    );
    assert_eq!(
        p.csv("select right(uscc, 3) as e, basis, counts_until from joint_punishment_list order by uscc, basis"),
        "e,basis,counts_until\n01F,有走私犯罪或走私行为（令251第二十二条）,2027-03-01\n\
         04Q,一年内罚没金额超上年进出口总额千分之一且累计超100万元（报关企业30万元）,2026-11-30\n072,海关认定失信企业,\n"
    );
    let lib = p.csv(&format!("select official_category, rule_set_version, rating_basis from credit_library where uscc = '{}'", E[0]));
    assert_eq!(
        lib,
        "official_category,rule_set_version,rating_basis\n一般信用企业,2026.2,联合办公室综合评价，非海关官方认定\n"
    );
    let text = p.ok(&["explain", "credit", E[3], "--as-of", "2026-08-01"]);
    assert!(
        text.contains("composite score 96 grade D (hard trigger)"),
        "{text}"
    );
    assert!(text.contains("H2_penalty_ratio"), "{text}");
    assert!(
        text.contains("[credit_penalties P5] 2026-06-01 (counts until 2027-06-01)"),
        "{text}"
    );
    // The same explanation as data, for the portal and scripts.
    let v: serde_json::Value = serde_json::from_str(&p.ok(&[
        "explain",
        "credit",
        E[3],
        "--as-of",
        "2026-08-01",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(
        (&v["score"], &v["grade"], &v["hard_trigger"]),
        (&"96".into(), &"D".into(), &true.into())
    );
    assert_eq!(v["as_of"], "2026-08-01");
    let p5 = v["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source_key"] == "P5")
        .expect("evidence P5");
    assert_eq!(p5["source_table"], "credit_penalties");
    assert_eq!(p5["event_date"], "2026-06-01");
    assert_eq!(p5["counts_until"], "2027-06-01");
    // Changes week over week: E6 drops to D in the week its tax becomes more than 3 months
    // overdue (Sunday 2026-08-02 ends ISO week 31).
    p.ok(&["build", "--as-of", "2026-08-09"]);
    let changes = p.csv("select week, right(uscc, 3) as e, from_grade, to_grade from credit_changes where week = '2026-W31' order by uscc");
    assert_eq!(changes, "week,e,from_grade,to_grade\n2026-W31,06Y,A,D\n");
}

/// One enterprise per deduction rule that the first fixture does not reach (D3–D6) and the tax
/// rule with a late payment, each on both sides of its boundary:
/// - F1 …11T two CIQ findings, one 一般 (2026-03-10) and one with no severity (2026-03-20):
///   both are minor non-conformities (D3, −1 each) → 98 on 2026-04-01.
/// - F2 …12X inspection 异常 finished 2026-04-02 10:00 (D4, −1); a 正常 one adds nothing → 99.
/// - F3 …131 imports arriving 2026-05-06 09:00 and declared 2026-05-20 10:00 (337 h, more than
///   14 days: 滞报, D5, −1) and 09:00 (exactly 336 h: not late) → 99 from 2026-05-20.
/// - F4 …144 tax due 2026-03-01 paid 2026-04-15 (late within three months, D6, −1), one due
///   2026-03-01 paid 2026-06-01 (exactly three months: still D6, −1), one paid on its due day
///   (nothing) → 98.
/// - F5 …157 tax due 2026-03-01 paid 2026-06-02 (more than three months: H3 from 2026-06-02,
///   stops counting three months after payment, on 2026-09-02).
const F: [&str; 5] = [
    "91510601000000011T",
    "91510601000000012X",
    "915106010000000131",
    "915106010000000144",
    "915106010000000157",
];

fn deductions_project() -> Project {
    let p = Project::bundled();
    let reg = format!(
        "统一社会信用代码,企业名称,是否报关企业\n{},一号公司,否\n{},二号公司,否\n{},三号公司,否\n{},四号公司,否\n{},五号公司,否\n",
        F[0], F[1], F[2], F[3], F[4]
    );
    p.drop_file("commerce", "企业名录.csv", reg.as_bytes());
    let nc = format!(
        "记录编号,统一社会信用代码,发现日期,不合格类别,严重程度\nM1,{},2026-03-10,标签,一般\nM2,{},2026-03-20,包装,\n",
        F[0], F[0]
    );
    p.drop_file("ciq", "不合格记录.csv", nc.as_bytes());
    let decl = format!(
        "报关单号,进出口,申报地海关,监管方式,收发货人,申报时间,货值(元)\n\
         071120261000000021,I,0711,0110,{f2},2026-04-01 10:00,1000\n\
         071120261000000022,I,0711,0110,{f2},2026-04-01 11:00,1000\n\
         071120261000000031,I,0711,0110,{f3},2026-05-20 10:00,1000\n\
         071120261000000032,I,0711,0110,{f3},2026-05-20 09:00,1000\n",
        f2 = F[1],
        f3 = F[2]
    );
    p.drop_file("customs", "报关单数据.csv", decl.as_bytes());
    p.drop_file(
        "customs",
        "查验记录.csv",
        "查验编号,报关单号,查验开始时间,查验结束时间,查验结果\n\
         IN1,071120261000000021,2026-04-02 09:00,2026-04-02 10:00,异常\n\
         IN2,071120261000000022,2026-04-02 11:00,2026-04-02 12:00,正常\n"
            .as_bytes(),
    );
    p.drop_file(
        "airport",
        "运抵提离.csv",
        "运单号,报关单号,运抵时间,提离时间\n\
         W31,071120261000000031,2026-05-06 09:00,\nW32,071120261000000032,2026-05-06 09:00,\n"
            .as_bytes(),
    );
    let tax = format!(
        "缴款书号,统一社会信用代码,缴款期限,缴款日期,税款金额(元)\n\
         T41,{f4},2026-03-01,2026-04-15,1000\nT42,{f4},2026-03-01,2026-06-01,1000\nT43,{f4},2026-03-01,2026-03-01,1000\n\
         T51,{f5},2026-03-01,2026-06-02,1000\n",
        f4 = F[3],
        f5 = F[4]
    );
    p.drop_file("customs", "欠税记录.csv", tax.as_bytes());
    p.ok(&["ingest"]);
    p
}

#[test]
fn each_deduction_rule_on_its_own_fixture() {
    let p = deductions_project();
    assert_eq!(
        p.csv("select count(*) as n from quarantine"),
        "n\n0\n",
        "every fixture row lands"
    );
    p.ok(&["build", "--as-of", "2026-08-01"]);
    assert_eq!(
        p.csv("select right(uscc, 3) as e, rule_id, points, source_key, event_date, counts_until from credit_evidence order by uscc, rule_id, source_key"),
        "e,rule_id,points,source_key,event_date,counts_until\n\
         11T,D3_ciq_minor,-1,M1,2026-03-10,2027-03-10\n\
         11T,D3_ciq_minor,-1,M2,2026-03-20,2027-03-20\n\
         12X,D4_inspection_anomaly,-1,IN1,2026-04-02,2027-04-02\n\
         131,D5_late_declaration,-1,071120261000000031,2026-05-20,2027-05-20\n\
         144,D6_tax_late,-1,T41,2026-04-15,2027-04-15\n\
         144,D6_tax_late,-1,T42,2026-06-01,2027-06-01\n\
         157,H3_tax_overdue,0,T51,2026-06-02,2026-09-02\n"
    );
    assert_eq!(
        grades(&p, "2026-08-01"),
        "e,score,grade,hard_trigger\n11T,98,A,false\n12X,99,A,false\n131,99,A,false\n144,98,A,false\n157,100,D,true\n"
    );
    // The day before each event the rule does not count yet; F5's trigger ends three months
    // after the late payment.
    assert_eq!(
        grades(&p, "2026-03-09"),
        "e,score,grade,hard_trigger\n11T,100,A,false\n12X,100,A,false\n131,100,A,false\n144,100,A,false\n157,100,A,false\n"
    );
    assert_eq!(
        grades(&p, "2026-05-19"),
        "e,score,grade,hard_trigger\n11T,98,A,false\n12X,99,A,false\n131,100,A,false\n144,99,A,false\n157,100,A,false\n"
    );
    assert_eq!(
        grades(&p, "2026-09-01").lines().nth(5).unwrap(),
        "157,100,D,true"
    );
    assert_eq!(
        grades(&p, "2026-09-02").lines().nth(5).unwrap(),
        "157,100,A,false"
    );
    // A minor finding stops counting on the day its year ends.
    assert_eq!(
        grades(&p, "2027-03-10").lines().nth(1).unwrap(),
        "11T,99,A,false"
    );
}

/// The credit sheets of the weekly workbook with data in them (2026-W31, as of Sunday
/// 2026-08-02, the day E6 drops to D): 企业资信, 资信等级分布, 资信变动 and, in the
/// internal edition only, 联合惩戒名单.
#[test]
fn credit_sheets_with_data_match_their_golden() {
    const SHEETS: [&str; 4] = ["企业资信", "资信等级分布", "资信变动", "联合惩戒名单"];
    let p = project();
    p.ok(&["build", "--as-of", "2026-08-02"]);
    for (edition, name) in [
        (
            sanhu::report::Edition::Internal,
            "credit-2026-W31-internal.txt",
        ),
        (
            sanhu::report::Edition::Circulated,
            "credit-2026-W31-circulated.txt",
        ),
    ] {
        let wb = p.weekly_workbook("2026-W31", edition);
        let dump = sanhu::report::dump::dump(&wb);
        let credit: String = dump
            .lines()
            .filter(|l| {
                SHEETS
                    .iter()
                    .any(|s| l.starts_with(&format!("{s}!")) || *l == format!("sheet {s}"))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        crate::common::golden(name, &credit);
    }
}

/// D7 申报差错: a declaration sent again with a declared field changed is a correction.
/// F6 …16A: 1st file (made 2026-03-02) declares #61 at ¥1,000 and #62 at ¥2,000; the 2nd (made
/// 2026-03-09) changes #61 to ¥1,500 (an error, dated 2026-03-09) and only adds #62's release time
/// (progress, not an error); the 3rd (made 2026-03-16) repeats #61 unchanged in a cumulative
/// export with a new #63 (not an error). → one D7 deduction, 99 from 2026-03-09 for a year.
#[test]
fn a_corrected_declaration_is_a_declaration_error() {
    let f6 = "91510601000000016A";
    let p = Project::bundled();
    p.drop_file(
        "commerce",
        "企业名录.csv",
        format!("统一社会信用代码,企业名称\n{f6},六号公司\n").as_bytes(),
    );
    let header = "报关单号,进出口,申报地海关,监管方式,收发货人,申报时间,放行时间,货值(元)\n";
    let files = [
        (
            "报关单数据_1.csv",
            "2026-03-02T01:00:00Z",
            vec![("61", "", "1000"), ("62", "", "2000")],
        ),
        (
            "报关单数据_2.csv",
            "2026-03-09T01:00:00Z",
            vec![("61", "", "1500"), ("62", "2026-03-01 12:00", "2000")],
        ),
        (
            "报关单数据_3.csv",
            "2026-03-16T01:00:00Z",
            vec![("61", "", "1500"), ("63", "", "3000")],
        ),
    ];
    for (name, made, rows) in files {
        let mut csv = header.to_string();
        for (seq, released, value) in rows {
            csv.push_str(&format!(
                "0711202610000000{seq},I,0711,0110,{f6},2026-03-01 10:00,{released},{value}\n"
            ));
        }
        let f = p.drop_file("customs", name, csv.as_bytes());
        crate::common::set_mtime(&f, made);
        p.ok(&["ingest"]);
    }
    p.ok(&["build", "--as-of", "2026-03-31"]);
    assert_eq!(
        p.csv("select rule_id, points, split_part(source_key, '@', 1) as entry, event_date, counts_until from credit_evidence"),
        "rule_id,points,entry,event_date,counts_until\nD7_declaration_error,-1,071120261000000061,2026-03-09,2027-03-09\n"
    );
    assert_eq!(
        grades(&p, "2026-03-08"),
        "e,score,grade,hard_trigger\n16A,100,A,false\n"
    );
    assert_eq!(
        grades(&p, "2026-03-09"),
        "e,score,grade,hard_trigger\n16A,99,A,false\n"
    );
}
