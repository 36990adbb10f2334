//! Intake as agencies really send it: one fixture per shape, each asserting the exact values that
//! land and the exact receipt lines; hostile files (zip bomb, a sheet claiming a huge size, a
//! reader that does not finish in time) rejected quickly with a clear reason.

use crate::common::Project;
use std::io::{Read, Write};

/// A receipt's lines, one per row problem: `sheet!row column(letter) 'value': reason [severity]`.
fn receipt_lines(r: &serde_json::Value) -> String {
    r["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{}!{} {}({}) '{}': {} [{}]\n",
                l["sheet"].as_str().unwrap_or(""),
                l["row"],
                l["column"].as_str().unwrap_or(""),
                l["column_letter"].as_str().unwrap_or(""),
                l["value"].as_str().unwrap_or(""),
                l["reason"].as_str().unwrap_or(""),
                l["severity"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Rewrite an xlsx (a zip): `edit` may change any member, `extra` members are added.
fn rezip(
    bytes: &[u8],
    edit: impl Fn(&str, Vec<u8>) -> Vec<u8>,
    extra: &[(&str, Vec<u8>)],
) -> Vec<u8> {
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..zin.len() {
        let mut f = zin.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.start_file(name.as_str(), opts).unwrap();
        out.write_all(&edit(&name, data)).unwrap();
    }
    for (name, data) in extra {
        out.start_file(*name, opts).unwrap();
        out.write_all(data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fn set_limit(p: &Project, key: &str, value: &str) {
    let f = p.path().join("sanhu.toml");
    let s = std::fs::read_to_string(&f).unwrap();
    let start = s.find(&format!("{key} = ")).unwrap();
    let end = start + s[start..].find('\n').unwrap();
    std::fs::write(&f, format!("{}{key} = {value}{}", &s[..start], &s[end..])).unwrap();
}

/// An Excel 97-2003 (BIFF) file from the airport (tests/fixtures/make_xls.py): a notes sheet and
/// a hidden sheet with a matching header are passed over; on the data sheet a real date cell, a
/// text date, a full-width entry id, an apostrophe-prefixed waybill and an 18-digit entry id
/// that Excel stored as a number (its last digits already lost: rejected, with the reason).
#[test]
fn xls_biff_with_a_hidden_sheet_and_mixed_cells() {
    let p = Project::bundled();
    p.drop_file(
        "airport",
        "机场运抵提离.xls",
        include_bytes!("../fixtures/airport_cargo.xls"),
    );
    p.ok(&["ingest"]);
    assert_eq!(
        p.csv("select waybill_no, entry_id, local_time(arrived_at) as a, local_time(gate_out_at) as g from airport_cargo order by 1"),
        "waybill_no,entry_id,a,g\n\
         784-10000001,020120261000000001,2026-11-09 06:00,2026-11-09 18:30\n\
         784-10000002,020120261000000002,2026-11-10 07:15,\n"
    );
    let r = &p.receipts("airport")[0];
    assert_eq!(r["sheet"], "运抵提离");
    assert_eq!(r["rows_accepted"], 2);
    assert_eq!(r["rows_rejected"], 1);
    assert_eq!(
        receipt_lines(r),
        "运抵提离!4 报关单号(B) '20120261000000004': 数字“20120261000000004”超过15位，Excel已丢失末位精度，请将该列设为文本格式后重新导出 [拒收]\n"
    );
}

/// A customs export as clerks make it: an empty first sheet, a hidden sheet, then the data under
/// a banner and a two-row header (group row over field row, merged); the 1904 date system; a
/// formula whose cached value is used; #N/A in an optional column (warning, row kept) and in a
/// required one (row rejected); codes stored as numbers; full-width money; a 合计 row.
#[test]
fn xlsx_two_row_header_1904_dates_formulas_and_error_cells() {
    use rust_xlsxwriter::{Format, Formula, Workbook};
    let p = Project::bundled();
    let mut wb = Workbook::new();
    wb.add_worksheet().set_name("封面").unwrap();
    let hidden = wb.add_worksheet();
    hidden.set_name("旧版").unwrap();
    for (c, h) in ["报关单号", "进出口", "申报地海关", "监管方式", "申报时间"]
        .iter()
        .enumerate()
    {
        hidden.write(0, c as u16, *h).unwrap();
    }
    hidden.write(1, 0, "020120261000000099").unwrap();
    hidden.set_hidden(true);
    let ws = wb.add_worksheet();
    ws.set_name("报关单").unwrap();
    let plain = Format::new();
    ws.merge_range(0, 0, 0, 6, "2026年11月报关数据", &plain)
        .unwrap();
    ws.merge_range(1, 0, 1, 3, "基本信息", &plain).unwrap();
    ws.merge_range(1, 4, 1, 5, "时间", &plain).unwrap();
    ws.write(1, 6, "金额").unwrap();
    for (c, h) in [
        "报关单号",
        "进出口",
        "申报地海关",
        "监管方式",
        "申报时间",
        "放行时间",
        "货值(元)",
    ]
    .iter()
    .enumerate()
    {
        ws.write(2, c as u16, *h).unwrap();
    }
    // Serial days in the 1904 system (day 0 = 1904-01-01).
    let serial = |y, m, d, h: f64| {
        (chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
            - chrono::NaiveDate::from_ymd_opt(1904, 1, 1).unwrap())
        .num_days() as f64
            + h / 24.0
    };
    let dt = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    ws.write(3, 0, "'020120261000000001").unwrap();
    ws.write(3, 1, "进口").unwrap();
    ws.write(3, 2, 201).unwrap(); // 0201 stored as a number
    ws.write(3, 3, 110).unwrap(); // 0110 stored as a number
    ws.write_with_format(3, 4, serial(2026, 11, 9, 10.0), &dt)
        .unwrap();
    let release = Formula::new("=E4+3/24").set_result(serial(2026, 11, 9, 13.0).to_string());
    ws.write_formula_with_format(3, 5, release, &dt).unwrap();
    ws.write(3, 6, "１，２３４．５０").unwrap();
    ws.write(4, 0, "020120261000000002").unwrap();
    ws.write(4, 1, "I").unwrap();
    ws.write(4, 2, "0201").unwrap();
    ws.write(4, 3, "0110").unwrap();
    ws.write(4, 4, "2026-11-10 10:00").unwrap();
    ws.write_formula(4, 5, Formula::new("=NA()").set_result("#N/A"))
        .unwrap();
    ws.write(4, 6, 2500.5).unwrap();
    ws.write(5, 0, "020120261000000003").unwrap();
    ws.write(5, 1, "I").unwrap();
    ws.write(5, 2, "0201").unwrap();
    ws.write(5, 3, "0110").unwrap();
    ws.write_formula(5, 4, Formula::new("=1/0").set_result("#DIV/0!"))
        .unwrap();
    ws.write(6, 0, "合计").unwrap();
    ws.write(6, 6, 3734.5).unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let bytes = rezip(
        &bytes,
        |name, data| {
            if name == "xl/workbook.xml" {
                String::from_utf8(data)
                    .unwrap()
                    .replacen("<workbookPr", "<workbookPr date1904=\"1\"", 1)
                    .into_bytes()
            } else {
                data
            }
        },
        &[],
    );
    p.drop_file("customs", "报关单数据_11月.xlsx", &bytes);
    p.ok(&["ingest"]);
    assert_eq!(
        p.csv("select entry_id, ie_flag, customs_office, trade_mode, local_time(declared_at) as d, local_time(released_at) as r, total_value_cny from customs_declaration order by 1"),
        "entry_id,ie_flag,customs_office,trade_mode,d,r,total_value_cny\n\
         020120261000000001,I,0201,0110,2026-11-09 10:00,2026-11-09 13:00,1234.50\n\
         020120261000000002,I,0201,0110,2026-11-10 10:00,,2500.50\n"
    );
    let r = &p.receipts("customs")[0];
    assert_eq!(r["sheet"], "报关单");
    assert_eq!(r["header_row"], 3);
    assert_eq!(r["rows_skipped"], 1);
    assert_eq!(
        receipt_lines(r),
        "报关单!5 放行时间(F) '#N/A': 单元格为错误值#N/A [警告]\n\
         报关单!6 申报时间(E) '#DIV/0!': 单元格为错误值#DIV/0! [拒收]\n"
    );
}

/// CSV as systems export it: UTF-8 with a BOM, semicolons, a quoted field with a line break
/// inside; and GB18030 with tabs.
#[test]
fn csv_bom_semicolons_quoted_newlines_and_gb18030_tabs() {
    let p = Project::bundled();
    let semi = "\u{feff}运单号;报关单号;运抵时间;提离时间\n\
                \"784-1\n(补录)\";020120261000000001;2026-11-09 06:00;2026-11-09 18:30\n\
                784-2;020120261000000002;\"2026-11-10 07:00\";\n";
    p.drop_file("airport", "运抵_分号.csv", semi.as_bytes());
    let tab = "运单号\t报关单号\t运抵时间\t提离时间\n784-3\t020120261000000003\t2026年11月11日 08:00\t2026年11月11日 20:00\n";
    let (gb, _, _) = encoding_rs::GB18030.encode(tab);
    p.drop_file("airport", "运抵_制表符.csv", &gb);
    p.ok(&["ingest"]);
    assert_eq!(
        p.csv("select waybill_no, entry_id, local_time(arrived_at) as a, local_time(gate_out_at) as g, _source_file from airport_cargo order by entry_id"),
        "waybill_no,entry_id,a,g,_source_file\n\
         \"784-1\n(补录)\",020120261000000001,2026-11-09 06:00,2026-11-09 18:30,运抵_分号.csv\n\
         784-2,020120261000000002,2026-11-10 07:00,,运抵_分号.csv\n\
         784-3,020120261000000003,2026-11-11 08:00,2026-11-11 20:00,运抵_制表符.csv\n"
    );
    for r in p.receipts("airport") {
        assert_eq!(receipt_lines(&r), "", "{r}");
    }
}

/// A zip bomb (a member that inflates past the limit) and a sheet whose claimed dimension is
/// far over the limits are refused from their metadata, before anything is inflated or loaded.
#[test]
fn zip_bomb_and_oversized_sheet_are_refused_quickly() {
    use rust_xlsxwriter::Workbook;
    let p = Project::bundled();
    set_limit(&p, "max_uncompressed_bytes", "8388608"); // 8 MiB
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["运单号", "报关单号", "运抵时间"].iter().enumerate() {
        ws.write(0, c as u16, *h).unwrap();
    }
    let small = wb.save_to_buffer().unwrap();
    let bomb = rezip(
        &small,
        |_, d| d,
        &[("xl/media/pad.bin", vec![0u8; 16 << 20])],
    );
    assert!(
        bomb.len() < 200_000,
        "the bomb itself is small: {}",
        bomb.len()
    );
    p.drop_file("airport", "运抵_炸弹.xlsx", &bomb);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.write(0, 0, "运单号").unwrap();
    ws.write(1_048_575, 16_383, "x").unwrap();
    p.drop_file("airport", "运抵_超大.xlsx", &wb.save_to_buffer().unwrap());
    let started = std::time::Instant::now();
    let out = p.ok(&["ingest"]);
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
    assert!(out.contains("2 file(s) quarantined"), "{out}");
    let reasons: Vec<String> = p
        .receipts("airport")
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        reasons[1],
        "工作表“Sheet1”过大：声明 1048576 行 × 16384 列，上限 5000000 行 × 512 列"
    );
    assert!(
        reasons[0].starts_with("压缩包解压后过大（")
            && reasons[0].ends_with("字节，上限 8388608 字节），疑似压缩炸弹"),
        "{reasons:?}"
    );
}

/// A reader still busy when `[intake] read_timeout_secs` runs out is given up: the file is
/// quarantined with the reason, and the next file is read as usual.
#[test]
fn a_reader_past_its_time_limit_is_given_up() {
    let p = Project::bundled();
    set_limit(&p, "read_timeout_secs", "0");
    p.drop_file(
        "customs",
        "报关单数据.csv",
        crate::common::DECLARATIONS_CSV.as_bytes(),
    );
    let out = p.ok(&["ingest"]);
    assert!(out.contains("1 file(s) quarantined"), "{out}");
    let r = &p.receipts("customs")[0];
    assert_eq!(
        r["reason"],
        "读取超时：超过0秒仍未读完，文件可能已损坏或结构异常，请检查后重新报送"
    );
    assert_eq!(
        p.csv("select count(*) as n from customs_declaration"),
        "n\n0\n"
    );
    // With the limit back the same file goes in (its quarantined copy is not a delivery on record).
    set_limit(&p, "read_timeout_secs", "1800");
    p.drop_file(
        "customs",
        "报关单数据.csv",
        crate::common::DECLARATIONS_CSV.as_bytes(),
    );
    p.ok(&["ingest"]);
    assert_eq!(
        p.csv("select count(*) as n from customs_declaration"),
        "n\n4\n"
    );
}
