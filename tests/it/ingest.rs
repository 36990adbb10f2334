//! Integration tests of `sanhu ingest`: the real binary on fixture drops in a fresh project.

use crate::common::{self, Project};

#[test]
fn gbk_csv_lands_typed_rows_and_the_receipt_names_every_problem() {
    let p = Project::bundled();
    let (gbk, _, _) = encoding_rs::GBK.encode(common::DECLARATIONS_CSV);
    p.drop_file("customs", "报关单数据_2026-W46.csv", &gbk);
    let out = p.ok(&["ingest"]);
    assert_eq!(
        out.trim(),
        "ingested 1 file(s): 4 rows accepted, 1 rows rejected; 0 file(s) quarantined, 0 duplicate(s)"
    );

    // Row 5 (released before declared) is rejected; row 6 keeps its bad consignee as a warning.
    let rows = p.csv(
        "select entry_id, ie_flag, trade_mode, local_time(declared_at) as declared, local_time(released_at) as released, \
         inspected, total_value_cny, consignee_uscc, _source_row from customs_declaration order by entry_id",
    );
    assert_eq!(
        rows,
        "entry_id,ie_flag,trade_mode,declared,released,inspected,total_value_cny,consignee_uscc,_source_row\n\
         020120260000000003,E,9610,2026-11-11 00:00,,false,300.00,91430111MA4L41YT1U,4\n\
         020120261000000001,I,0110,2026-11-09 09:00,2026-11-09 13:00,false,1000.00,91310110666007217T,2\n\
         020120261000000002,I,0110,2026-11-10 10:00,2026-11-11 10:00,true,2500.50,91110108551385082Q,3\n\
         020120261000000005,I,0615,2026-11-13 08:00,2026-11-13 09:00,false,20.00,91310110666007217A,6\n"
    );
    // Stored as UTC instants: 09:00 in Ordos is 01:00Z.
    assert_eq!(
        p.csv("select cast(declared_at as varchar) as t from customs_declaration where entry_id = '020120261000000001'"),
        "t\n2026-11-09T01:00:00Z\n"
    );

    let receipts = p.receipts("customs");
    assert_eq!(receipts.len(), 1);
    let r = &receipts[0];
    assert_eq!(r["outcome"], "部分拒收");
    assert_eq!(r["feed"], "customs_declaration");
    assert_eq!(r["rows_accepted"], 4);
    assert_eq!(r["rows_rejected"], 1);
    assert_eq!(r["rows_warned"], 1);
    let lines: Vec<String> = r["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{} {} {} {} | {} | {}",
                l["row"],
                l["column_letter"].as_str().unwrap(),
                l["column"].as_str().unwrap(),
                l["severity"].as_str().unwrap(),
                l["value"].as_str().unwrap(),
                l["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            "5 H 放行时间 拒收 | 放行时间=2026-11-12 14:00:00；申报时间=2026-11-12 15:00:00 | 放行时间早于申报时间",
            "5 H 放行时间 拒收 | 放行时间=2026-11-12 14:00:00；接单时间=2026-11-12 15:10:00 | 放行时间早于接单时间",
            "6 E 收发货人 警告 | 91310110666007217A | 统一社会信用代码校验位错误",
        ]
    );
    // The same problems are queryable in the quarantine table.
    assert_eq!(
        p.csv("select row, column_letter, severity, reason from quarantine order by row, reason"),
        "row,column_letter,severity,reason\n5,H,拒收,放行时间早于接单时间\n5,H,拒收,放行时间早于申报时间\n6,E,警告,统一社会信用代码校验位错误\n"
    );
    // The original is archived, the xlsx receipt written beside the JSON.
    assert!(p.files_under("inbox").is_empty());
    assert_eq!(p.files_under("archive").len(), 1);
    assert_eq!(
        p.files_under("receipts")
            .iter()
            .filter(|f| f.ends_with(".xlsx"))
            .count(),
        1
    );
}

#[test]
fn the_same_content_again_adds_nothing_whatever_its_name() {
    let p = Project::bundled();
    p.drop_file(
        "customs",
        "报关单数据_2026-W46.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    p.ok(&["ingest"]);
    p.drop_file(
        "customs",
        "报关单数据_重发.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    let out = p.ok(&["ingest"]);
    assert_eq!(
        out.trim(),
        "ingested 0 file(s): 0 rows accepted, 0 rows rejected; 0 file(s) quarantined, 1 duplicate(s)"
    );
    assert_eq!(
        p.csv("select count(*) as n from customs_declaration_history"),
        "n\n4\n"
    );
    let r = p.receipts("customs");
    assert_eq!(r.len(), 2);
    assert_eq!(r[1]["outcome"], "重复报送");
    assert_eq!(p.files_under("archive").len(), 2);
    // The second file was parsed while it was hashed: its parse left nothing in the lake.
    assert_eq!(
        p.files_under("lake/customs_declaration"),
        ["d00000001.parquet"]
    );
}

#[test]
fn a_file_is_recognised_by_its_header_when_its_name_says_nothing() {
    let p = Project::bundled();
    let csv = "查验编号\t报关单号\t查验开始时间\t查验结束时间\t关检联合查验\t查验结果\n\
               CY001\t020120261000000002\t2026-11-10 11:00\t2026-11-10 15:30\t是\t正常\n";
    p.drop_file("customs", "export_20261110.txt", csv.as_bytes());
    p.ok(&["ingest"]);
    assert_eq!(
        p.csv("select inspection_id, joint_with_ciq, result, hours_between(started_at, finished_at) as h from customs_inspection"),
        "inspection_id,joint_with_ciq,result,h\nCY001,true,正常,4.5\n"
    );
}

#[test]
fn unreadable_files_are_quarantined_with_a_reason_and_the_run_goes_on() {
    let p = Project::bundled();
    p.drop_file("customs", "空文件.csv", b"");
    p.drop_file(
        "customs",
        "损坏.xlsx",
        b"PK\x03\x04garbage that is not a zip",
    );
    p.drop_file("customs", "binary.bin", b"\x7fELF\x02\x01\x01\x00\x00\x00");
    p.drop_file("customs", "无表头.csv", "甲,乙,丙\n1,2,3\n".as_bytes());
    p.drop_file(
        "nobody",
        "报关单.csv",
        format!("{}\n", common::DECLARATIONS_CSV).as_bytes(),
    );
    p.drop_file(
        "customs",
        "报关单数据_ok.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    let out = p.ok(&["ingest"]);
    assert_eq!(
        out.trim(),
        "ingested 1 file(s): 4 rows accepted, 1 rows rejected; 5 file(s) quarantined, 0 duplicate(s)"
    );
    let q = p.files_under("quarantine");
    assert_eq!(
        q.iter().filter(|f| f.ends_with(".reason.txt")).count(),
        5,
        "{q:?}"
    );
    let reason = |name: &str| {
        let f = q
            .iter()
            .find(|f| f.contains(name) && f.ends_with(".reason.txt"))
            .unwrap();
        std::fs::read_to_string(p.path().join("data/quarantine").join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(reason("空文件"), "文件为空");
    assert!(
        reason("损坏").starts_with("文件损坏或不完整"),
        "{}",
        reason("损坏")
    );
    assert_eq!(
        reason("binary"),
        "无法识别的文件格式（二进制文件，既非Excel也非CSV）"
    );
    assert_eq!(
        reason("无表头"),
        "未能识别表头：前30行中没有与任何数据项匹配的表头行"
    );
    assert!(reason("报关单.csv").contains("未登记的目录“nobody”"));
    assert!(p.files_under("inbox").is_empty());
}

#[test]
fn a_spreadsheet_with_a_banner_merged_title_real_dates_and_a_total_row() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let p = Project::bundled();
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("运抵提离").unwrap();
    ws.merge_range(
        0,
        0,
        0,
        4,
        "2026年11月 机场货物运抵提离数据",
        &Format::new(),
    )
    .unwrap();
    for (c, h) in ["主运单号", "报关单号", "航班号", "运抵时间", "提离时间"]
        .iter()
        .enumerate()
    {
        ws.write(2, c as u16, *h).unwrap();
    }
    let dt = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    ws.write(3, 0, "784-10000001").unwrap();
    ws.write(3, 1, "020120261000000001").unwrap();
    ws.write(3, 2, "CA1234").unwrap();
    ws.write_with_format(
        3,
        3,
        ExcelDateTime::parse_from_str("2026-11-09 06:00:00").unwrap(),
        &dt,
    )
    .unwrap();
    ws.write_with_format(
        3,
        4,
        ExcelDateTime::parse_from_str("2026-11-09 18:30:00").unwrap(),
        &dt,
    )
    .unwrap();
    ws.write(4, 0, "784-10000002").unwrap();
    ws.write(4, 1, 20120261000000002.0).unwrap(); // an entry id Excel stored as a number
    ws.write(4, 3, "2026-11-10 07:00").unwrap();
    ws.write(5, 0, "合计").unwrap();
    ws.write(5, 1, 2).unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    p.drop_file("airport", "数据导出(3).xlsx", &bytes);
    p.ok(&["ingest"]);
    assert_eq!(
        p.csv("select waybill_no, entry_id, local_time(arrived_at) as a, local_time(gate_out_at) as g from airport_cargo order by 1"),
        "waybill_no,entry_id,a,g\n784-10000001,020120261000000001,2026-11-09 06:00,2026-11-09 18:30\n"
    );
    let r = &p.receipts("airport")[0];
    assert_eq!(r["sheet"], "运抵提离");
    assert_eq!(r["header_row"], 3);
    assert_eq!(r["rows_skipped"], 1);
    assert_eq!(r["lines"][0]["row"], 5);
    assert_eq!(r["lines"][0]["column_letter"], "B");
    // The number already lost its last digit in the file (…002 is not a double): say so.
    assert_eq!(r["lines"][0]["value"], "20120261000000000");
    assert!(
        r["lines"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("数字“20120261000000000”超过15位"),
        "{}",
        r["lines"]
    );
}

/// The xlsx receipt a clerk opens, read back cell by cell: the summary block and one line per
/// problem (row 5 of the file is rejected, row 6 kept with a warning), as the CSV gives them.
#[test]
fn the_xlsx_receipt_read_back_cell_by_cell() {
    use calamine::{Data, Reader};
    let p = Project::bundled();
    p.drop_file(
        "customs",
        "报关单数据.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    p.ok(&["ingest"]);
    let dir = p.path().join("data/receipts/customs");
    let xlsx: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.extension().is_some_and(|x| x == "xlsx"))
        .collect();
    assert_eq!(xlsx.len(), 1);
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&xlsx[0]).unwrap();
    let sheet = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&sheet).unwrap();
    let (r0, c0) = range.start().unwrap();
    let cells: Vec<String> = range
        .cells()
        .filter(|(_, _, v)| !matches!(v, Data::Empty))
        .map(|(r, c, v)| {
            let col = (b'A' + (c0 as usize + c) as u8) as char;
            format!("{col}{}={v}", r0 as usize + r + 1)
        })
        // B6 is the processing time, which changes from run to run.
        .filter(|s| !s.starts_with("B6="))
        .collect();
    // Row 5 of the file (declaration 4) was released at 14:00, before it was lodged (15:00)
    // and accepted (15:10), in column H; row 6 has a USCC with a wrong check character in E.
    let want = [
        "A1=数据报送回执：报关单数据.csv",
        "A3=报送单位",
        "B3=鄂尔多斯海关",
        "A4=文件名",
        "B4=报关单数据.csv",
        "A5=报送编号",
        "B5=1",
        "A6=处理时间",
        "A7=处理结果",
        "B7=部分拒收",
        "A8=识别为",
        "B8=报关单数据",
        "A9=工作表 / 表头行",
        "B9=CSV / 第1行",
        "A10=数据行数",
        "B10=5",
        "A11=入库行数",
        "B11=4",
        "A12=拒收行数",
        "B12=1",
        "A13=带警告入库行数",
        "B13=1",
        "A14=跳过的空行/合计行",
        "B14=0",
        "A16=工作表",
        "B16=行号",
        "C16=列",
        "D16=列名",
        "E16=单元格内容",
        "F16=问题",
        "G16=处理",
        "A17=CSV",
        "B17=5",
        "C17=H",
        "D17=放行时间",
        "E17=放行时间=2026-11-12 14:00:00；申报时间=2026-11-12 15:00:00",
        "F17=放行时间早于申报时间",
        "G17=拒收",
        "A18=CSV",
        "B18=5",
        "C18=H",
        "D18=放行时间",
        "E18=放行时间=2026-11-12 14:00:00；接单时间=2026-11-12 15:10:00",
        "F18=放行时间早于接单时间",
        "G18=拒收",
        "A19=CSV",
        "B19=6",
        "C19=E",
        "D19=收发货人",
        "E19=91310110666007217A",
        "F19=统一社会信用代码校验位错误",
        "G19=警告",
    ];
    assert_eq!(cells, want, "{}", cells.join("\n"));
}
