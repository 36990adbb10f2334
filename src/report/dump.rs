//! Readable, stable text dumps of report workbooks, for golden tests.
//!
//! Part of the report stage (reads query results, writes workbooks; knows nothing of intake or
//! the CLI). Golden tests compare reports as text, never as raw `.xlsx` bytes: a diff of a dump
//! says which cell, value, format, range or chart changed.
//!
//! - [`dump`]: everything the model puts on each sheet, at the addresses the `.xlsx` writer uses
//!   (both read the same layout from `report::workbook`, so they cannot disagree).
//! - [`dump_values`] and [`dump_xlsx_values`]: only the cell values, `sheet!A1 value` per line,
//!   from the model and from a written file (read back with calamine). Equal strings mean the file
//!   on disk holds what the model says.

use std::fmt::Write as _;
use std::path::Path;

use calamine::{Data, Reader, Xlsx};

use super::workbook::{
    CondValue, Content, Format, PlacedCell, ReportError, SeriesName, SheetLayout, Workbook,
    date_serial, datetime_serial, format_serial, is_date_format, layout,
};

/// Full dump of a workbook model, one fact per line:
///
/// ```text
/// workbook title="鄂尔多斯市大通关周报" created=2026-11-09 08:00:00
/// sheet 通关时间 tab=#1F4E79
/// 通关时间!col A width=12
/// 通关时间!row 1 height=24
/// 通关时间!freeze A4
/// 通关时间!autofilter A3:C10
/// 通关时间!merge A2:C2
/// 通关时间!print A4 fit_width portrait repeat_rows=3
/// 通关时间!A1 text "通关时间" [title]
/// 通关时间!C5 number 12.5 fmt="0.0"
/// 通关时间!cond C4:C10 equals "逾期" fill=red
/// 通关时间!chart 1 line "周通关时间" at E3 size=720x360 y_axis="小时"
/// 通关时间!chart 1 series name=通关时间!$B$3 categories=通关时间!$A$4:$A$10 values=通关时间!$B$4:$B$10
/// ```
///
/// Cells are listed row by row, blank cells left out; `fmt` is shown unless it is General.
/// A model the writer would refuse dumps as a single `error:` line with the writer's message.
pub fn dump(wb: &Workbook) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "workbook title={:?} created={}",
        wb.title,
        wb.created.format("%Y-%m-%d %H:%M:%S")
    );
    let layout = match layout(wb) {
        Ok(layout) => layout,
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            return out;
        }
    };
    for (sheet, model) in layout.sheets.iter().zip(&wb.sheets) {
        dump_sheet(&mut out, sheet, &model.name);
    }
    out
}

fn dump_sheet(out: &mut String, sheet: &SheetLayout<'_>, model_name: &str) {
    let s = &sheet.name;
    let _ = write!(out, "sheet {s}");
    if let Some(color) = sheet.tab_color {
        let _ = write!(out, " tab=#{color:06X}");
    }
    if model_name != s {
        let _ = write!(out, " (named {model_name:?} in the model)");
    }
    out.push('\n');
    for (&col, &width) in &sheet.col_widths {
        let _ = writeln!(
            out,
            "{s}!col {} width={width}",
            rust_xlsxwriter::utility::column_number_to_name(col)
        );
    }
    for (&row, &height) in &sheet.row_heights {
        let _ = writeln!(out, "{s}!row {} height={height}", row + 1);
    }
    if let Some((row, col)) = sheet.freeze {
        let _ = writeln!(
            out,
            "{s}!freeze {}",
            rust_xlsxwriter::utility::row_col_to_cell(row, col)
        );
    }
    if let Some(range) = sheet.autofilter {
        let _ = writeln!(out, "{s}!autofilter {}", range.a1());
    }
    for merge in &sheet.merges {
        let _ = writeln!(out, "{s}!merge {}", merge.range.a1());
    }
    let _ = write!(
        out,
        "{s}!print A4 fit_width {}",
        if sheet.print.landscape {
            "landscape"
        } else {
            "portrait"
        }
    );
    if let Some((first, last)) = sheet.print.repeat_rows {
        if first == last {
            let _ = write!(out, " repeat_rows={}", first + 1);
        } else {
            let _ = write!(out, " repeat_rows={}:{}", first + 1, last + 1);
        }
    }
    out.push('\n');
    for cell in &sheet.cells {
        dump_cell(out, s, cell);
    }
    for rule in &sheet.conditionals {
        let equals = match &rule.equals {
            CondValue::Text(t) => format!("{t:?}"),
            CondValue::Number(n) => format!("{n}"),
        };
        let _ = writeln!(
            out,
            "{s}!cond {} equals {equals} fill={}",
            rule.range.a1(),
            rule.fill.name()
        );
    }
    for (i, chart) in sheet.charts.iter().enumerate() {
        let spec = chart.spec;
        let _ = write!(
            out,
            "{s}!chart {} {} {:?} at {} size={}x{}",
            i + 1,
            spec.kind.name(),
            spec.title,
            rust_xlsxwriter::utility::row_col_to_cell(chart.anchor.0, chart.anchor.1),
            chart.width_px,
            chart.height_px
        );
        if let Some(format) = chart.category_format {
            let _ = write!(out, " x_axis_fmt={:?}", format.num_format());
        }
        if let Some(y) = &spec.y_axis_title {
            let _ = write!(out, " y_axis={y:?}");
        }
        out.push('\n');
        for series in &chart.series {
            let name = match &series.name {
                SeriesName::Literal(n) => format!("{n:?}"),
                SeriesName::Header(r) => r.formula(),
            };
            let _ = writeln!(
                out,
                "{s}!chart {} series name={name} categories={} values={}",
                i + 1,
                series.categories.formula(),
                series.values.formula()
            );
        }
    }
}

fn dump_cell(out: &mut String, sheet: &str, cell: &PlacedCell<'_>) {
    let value = match &cell.content {
        Content::Blank => return,
        Content::Text(t) => format!("text {t:?}"),
        Content::Int(i) => format!("int {i}"),
        Content::Number(n) => format!("number {n}"),
        Content::Date(d) => format!("date {}", d.format("%Y-%m-%d")),
        Content::DateTime(dt) => format!("datetime {}", dt.format("%Y-%m-%d %H:%M:%S%.f")),
    };
    let _ = write!(
        out,
        "{sheet}!{} {value}",
        rust_xlsxwriter::utility::row_col_to_cell(cell.row, cell.col)
    );
    if *cell.format != Format::General {
        let _ = write!(out, " fmt={:?}", cell.format.num_format());
    }
    if let Some(tag) = cell.role.tag() {
        let _ = write!(out, " [{tag}]");
    }
    out.push('\n');
}

/// The cell values the model puts in the file, as [`dump_xlsx_values`] prints them: one
/// `sheet!A1 value` line per non-blank cell, sheets in order, cells row by row. Text is quoted;
/// numbers print in their shortest form (`1234`, `12.5`); cells with a date format print as
/// `2026-11-09` or `2026-11-09 00:30:00`, as Excel would show them.
pub fn dump_values(wb: &Workbook) -> Result<String, ReportError> {
    let layout = layout(wb)?;
    let mut out = String::new();
    for sheet in &layout.sheets {
        for cell in &sheet.cells {
            let dated = is_date_format(&cell.format.num_format());
            let number = |n: f64| {
                if dated {
                    format_serial(n)
                } else {
                    number_text(n)
                }
            };
            let value = match &cell.content {
                Content::Blank => continue,
                Content::Text(t) => format!("{t:?}"),
                Content::Int(i) => number(*i as f64),
                Content::Number(n) => number(*n),
                Content::Date(d) => number(date_serial(*d)),
                Content::DateTime(dt) => number(datetime_serial(*dt)),
            };
            let _ = writeln!(
                out,
                "{}!{} {value}",
                sheet.name,
                rust_xlsxwriter::utility::row_col_to_cell(cell.row, cell.col)
            );
        }
    }
    Ok(out)
}

/// Reads a written `.xlsx` back with calamine and prints its cell values in the format of
/// [`dump_values`], so a test can check that the file on disk agrees with the model.
pub fn dump_xlsx_values(path: &Path) -> Result<String, ReportError> {
    let read_err = |source| ReportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut book: Xlsx<_> = calamine::open_workbook(path).map_err(read_err)?;
    let mut out = String::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).map_err(read_err)?;
        let Some((row0, col0)) = range.start() else {
            continue;
        };
        for (r, c, data) in range.used_cells() {
            let value = match data {
                Data::Empty => continue,
                Data::String(s) => format!("{s:?}"),
                Data::Int(i) => i.to_string(),
                Data::Float(f) => number_text(*f),
                Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
                Data::DateTime(dt) => format_serial(dt.as_f64()),
                Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
                Data::Error(e) => format!("#{e}"),
            };
            let _ = writeln!(
                out,
                "{name}!{} {value}",
                rust_xlsxwriter::utility::row_col_to_cell(
                    row0 + r as u32,
                    (col0 + c as u32) as u16
                )
            );
        }
    }
    Ok(out)
}

/// Shortest text that reads back as the same number (`1234`, `12.5`).
fn number_text(n: f64) -> String {
    format!("{n}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::workbook::{
        Block, ChartKind, ChartSpec, Column, ConditionalRule, Fill, Sheet, Table, Value,
        render_xlsx, write_xlsx,
    };
    use chrono::{NaiveDate, NaiveDateTime};

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }
    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    /// Two sheets: a cover with headline figures and a small weekly table with a chart.
    fn small() -> Workbook {
        Workbook {
            title: "鄂尔多斯市大通关周报".into(),
            created: dt("2026-11-09 08:00:00"),
            sheets: vec![
                Sheet {
                    name: "封面".into(),
                    blocks: vec![
                        Block::Title("鄂尔多斯市大通关周报".into()),
                        Block::KeyValues(vec![
                            ("报关单数".into(), Value::Int(1234), Format::Integer),
                            (
                                "整体通关时间（小时）".into(),
                                Value::Number(36.75),
                                Format::Hours,
                            ),
                            (
                                "统计截止".into(),
                                Value::Date(NaiveDate::from_ymd_opt(2026, 11, 8).unwrap()),
                                Format::General,
                            ),
                        ]),
                    ],
                    charts: vec![],
                    tab_color: Some(0x1F4E79),
                },
                Sheet {
                    name: "通关时间/周".into(),
                    blocks: vec![
                        Block::Paragraph("整体通关时间为运抵至提离（代理口径）。".into()),
                        Block::Table(Table {
                            id: "weekly".into(),
                            columns: vec![
                                Column::new("周", Format::General),
                                Column::new("中位数（小时）", Format::Hours),
                                Column {
                                    title: "状态".into(),
                                    format: Format::Text,
                                    width: Some(8.0),
                                },
                            ],
                            rows: vec![
                                vec![text("2026-W45"), Value::Number(12.5), text("逾期")],
                                vec![text("2026-W46"), Value::Number(f64::NAN), text("已完成")],
                            ],
                            freeze_header: true,
                            autofilter: true,
                            conditional: vec![
                                ConditionalRule {
                                    column: 2,
                                    equals: "逾期".into(),
                                    fill: Fill::Red,
                                },
                                ConditionalRule {
                                    column: 1,
                                    equals: "0".into(),
                                    fill: Fill::Green,
                                },
                            ],
                        }),
                    ],
                    charts: vec![ChartSpec {
                        kind: ChartKind::Line,
                        title: "周通关时间".into(),
                        table_id: "weekly".into(),
                        category_column: 0,
                        value_columns: vec![1],
                        series_names: None,
                        y_axis_title: Some("小时".into()),
                        anchor_cell: None,
                    }],
                    tab_color: None,
                },
            ],
        }
    }

    #[test]
    fn dump_of_small_workbook() {
        let expected = r##"workbook title="鄂尔多斯市大通关周报" created=2026-11-09 08:00:00
sheet 封面 tab=#1F4E79
封面!col A width=22
封面!col B width=12
封面!row 1 height=24
封面!print A4 fit_width portrait
封面!A1 text "鄂尔多斯市大通关周报" [title]
封面!A3 text "报关单数" [label]
封面!B3 int 1234 fmt="#,##0" [value]
封面!A4 text "整体通关时间（小时）" [label]
封面!B4 number 36.75 fmt="0.0" [value]
封面!A5 text "统计截止" [label]
封面!B5 date 2026-11-08 fmt="yyyy-mm-dd" [value]
sheet 通关时间／周 (named "通关时间/周" in the model)
通关时间／周!col A width=10
通关时间／周!col B width=18
通关时间／周!col C width=8
通关时间／周!freeze A4
通关时间／周!autofilter A3:C5
通关时间／周!merge A1:E1
通关时间／周!print A4 fit_width portrait repeat_rows=3
通关时间／周!A1 text "整体通关时间为运抵至提离（代理口径）。" [paragraph]
通关时间／周!A3 text "周" [header]
通关时间／周!B3 text "中位数（小时）" [header]
通关时间／周!C3 text "状态" [header]
通关时间／周!A4 text "2026-W45"
通关时间／周!B4 number 12.5 fmt="0.0"
通关时间／周!C4 text "逾期" fmt="@"
通关时间／周!A5 text "2026-W46"
通关时间／周!C5 text "已完成" fmt="@"
通关时间／周!cond C4:C5 equals "逾期" fill=red
通关时间／周!cond B4:B5 equals 0 fill=green
通关时间／周!chart 1 line "周通关时间" at G3 size=720x360 y_axis="小时"
通关时间／周!chart 1 series name='通关时间／周'!$B$3 categories='通关时间／周'!$A$4:$A$5 values='通关时间／周'!$B$4:$B$5
"##;
        assert_eq!(dump(&small()), expected);
    }

    #[test]
    fn written_file_agrees_with_model() {
        let dir = std::env::temp_dir().join(format!("sanhu-dump-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("周报.xlsx");
        let wb = small();
        write_xlsx(&wb, &path).unwrap();
        let from_file = dump_xlsx_values(&path).unwrap();
        assert_eq!(from_file, dump_values(&wb).unwrap());
        assert!(from_file.contains("封面!B5 2026-11-08\n"), "{from_file}");
        assert!(from_file.contains("通关时间／周!B4 12.5\n"), "{from_file}");
        // Only the report is left behind: the temporary file was renamed.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("周报.xlsx")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn same_model_same_bytes() {
        let a = render_xlsx(&small()).unwrap();
        let b = render_xlsx(&small()).unwrap();
        assert!(a == b, "two renders of one model differ");
    }

    #[test]
    fn bad_models_dump_as_errors() {
        let mut wb = small();
        wb.sheets[1].charts[0].table_id = "monthly".into();
        assert!(dump(&wb).ends_with(
            "error: sheet \"通关时间/周\": chart \"周通关时间\": no table with id `monthly`; tables: weekly\n"
        ));
        let mut wb = small();
        wb.sheets[1].charts[0].value_columns = vec![1, 7];
        assert!(dump(&wb).contains("column 7 is out of range: table `weekly` has 3 columns"));
        let mut wb = small();
        if let Block::Table(t) = &mut wb.sheets[1].blocks[1] {
            t.rows[1].pop();
            assert!(write_xlsx(&wb, Path::new("/nonexistent/x.xlsx")).unwrap_err().to_string().contains(
                "sheet \"通关时间/周\": table `weekly` data row 2 has 2 values, but the table has 3 columns"
            ));
        }
        let mut wb = small();
        if let Block::Table(t) = &mut wb.sheets[1].blocks[1] {
            t.conditional[0].column = 9;
        }
        assert!(
            dump(&wb).contains(
                "conditional rule for \"逾期\" names column 9, but the table has 3 columns"
            )
        );
    }

    /// Every block kind, three chart kinds and all fills, with tables made from Arrow batches the
    /// way report builders make them.
    fn demo() -> Workbook {
        use crate::report::workbook::{ColumnBinding, table_from_batches};
        use arrow::array::{
            ArrayRef, Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray,
            TimestampSecondArray,
        };
        use arrow::record_batch::RecordBatch;
        use std::sync::Arc;
        let tz = chrono_tz::Asia::Shanghai;
        let bind = |field: &str, title: &str, format: Option<Format>| ColumnBinding {
            field: field.into(),
            title: title.into(),
            format,
            width: None,
        };

        // Weekly clearance time, wide by import/export so one line chart shows all four series.
        let weeks = 12;
        let monday = NaiveDate::from_ymd_opt(2026, 8, 17).unwrap();
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let week_days: Vec<i32> = (0..weeks)
            .map(|w| ((monday - epoch).num_days() + 7 * w) as i32)
            .collect();
        let series = |base: f64, step: f64| -> ArrayRef {
            Arc::new(Float64Array::from(
                (0..weeks)
                    .map(|w| base - step * w as f64 + (w % 3) as f64)
                    .collect::<Vec<_>>(),
            ))
        };
        let weekly = RecordBatch::try_from_iter(vec![
            ("week", Arc::new(Date32Array::from(week_days)) as ArrayRef),
            ("i_median", series(30.0, 0.8)),
            ("i_p90", series(72.0, 1.5)),
            ("e_median", series(2.4, 0.05)),
            ("e_p90", series(9.0, 0.2)),
            (
                "n",
                Arc::new(Int64Array::from(
                    (0..weeks).map(|w| 1200 + 37 * w).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            (
                "value",
                Arc::new(
                    Decimal128Array::from(
                        (0..weeks)
                            .map(|w| 123_456_789_i128 * (w as i128 + 1))
                            .collect::<Vec<_>>(),
                    )
                    .with_precision_and_scale(20, 2)
                    .unwrap(),
                ) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut weekly = table_from_batches(
            &[
                bind("week", "周（起始日）", None),
                bind("i_median", "进口 中位数（小时）", Some(Format::Hours)),
                bind("i_p90", "进口 P90（小时）", Some(Format::Hours)),
                bind("e_median", "出口 中位数（小时）", Some(Format::Hours)),
                bind("e_p90", "出口 P90（小时）", Some(Format::Hours)),
                bind("n", "报关单数", None),
                bind("value", "货值（元）", None),
            ],
            &[weekly],
            tz,
        )
        .unwrap();
        weekly.id = "weekly".into();

        // Task supervision with statuses; report times arrive as UTC instants.
        let statuses = ["逾期", "预警", "已完成", "正常推进", "逾期", "已完成"];
        let tasks = RecordBatch::try_from_iter(vec![
            (
                "task",
                Arc::new(StringArray::from(vec![
                    "三(一)1 信息互换",
                    "三(一)2 监管互认",
                    "三(一)3 执法互助",
                    "三(二)1 单一窗口",
                    "三(二)4 资信库",
                    "四(一) 组织保障",
                ])) as ArrayRef,
            ),
            (
                "lead",
                Arc::new(StringArray::from(vec![
                    "市商务局",
                    "鄂尔多斯海关",
                    "边防筹建处",
                    "市商务局",
                    "鄂尔多斯海关",
                    "市商务局",
                ])) as ArrayRef,
            ),
            (
                "percent",
                Arc::new(Float64Array::from(vec![0.45, 0.7, 1.0, 0.6, 0.2, 1.0])) as ArrayRef,
            ),
            (
                "status",
                Arc::new(StringArray::from(statuses.to_vec())) as ArrayRef,
            ),
            (
                "reported",
                Arc::new(
                    TimestampSecondArray::from(vec![
                        Some(1_794_155_400),
                        None,
                        Some(1_794_069_000),
                        Some(1_793_982_600),
                        Some(1_794_155_400),
                        Some(1_793_896_200),
                    ])
                    .with_timezone("UTC"),
                ) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut tasks = table_from_batches(
            &[
                bind("task", "任务", None),
                bind("lead", "牵头单位", None),
                bind("percent", "完成进度", Some(Format::Percent(0))),
                bind("status", "状态", None),
                bind("reported", "最近报告时间", None),
            ],
            &[tasks],
            tz,
        )
        .unwrap();
        tasks.id = "tasks".into();
        tasks.conditional = vec![
            ConditionalRule {
                column: 3,
                equals: "逾期".into(),
                fill: Fill::Red,
            },
            ConditionalRule {
                column: 3,
                equals: "预警".into(),
                fill: Fill::Amber,
            },
            ConditionalRule {
                column: 3,
                equals: "已完成".into(),
                fill: Fill::Green,
            },
        ];
        let status_counts = Table {
            id: "status_counts".into(),
            columns: vec![
                Column::new("状态", Format::General),
                Column::new("任务数", Format::Integer),
            ],
            rows: vec![
                vec![text("逾期"), Value::Int(2)],
                vec![text("预警"), Value::Int(1)],
                vec![text("已完成"), Value::Int(2)],
                vec![text("正常推进"), Value::Int(1)],
            ],
            freeze_header: false,
            autofilter: false,
            conditional: vec![],
        };

        Workbook {
            title: "鄂尔多斯市“三互”大通关周报（2026年第45周）".into(),
            created: dt("2026-11-09 00:00:00"),
            sheets: vec![
                Sheet {
                    name: "封面".into(),
                    blocks: vec![
                        Block::Title("鄂尔多斯市“三互”大通关周报（2026年第45周）".into()),
                        Block::Paragraph("本报告由市商务局（联席会议办公室）根据各口岸单位报送数据自动生成。整体通关时间为运抵至提离（代理口径），与海关“通关时间”（申报至放行）口径不同，请勿混用。\n数据截至2026年11月8日24时。".into()),
                        Block::KeyValues(vec![
                            ("本周报关单数".into(), Value::Int(1607), Format::Integer),
                            ("进口整体通关时间中位数（小时）".into(), Value::Number(21.2), Format::Hours),
                            ("出口整体通关时间中位数（小时）".into(), Value::Number(1.85), Format::Hours),
                            ("较2017年基期压缩".into(), Value::Number(0.523), Format::Percent(1)),
                            ("逾期任务".into(), Value::Int(2), Format::Integer),
                            ("是否达到减半目标".into(), Value::Bool(true), Format::General),
                            ("统计截止".into(), Value::Date(NaiveDate::from_ymd_opt(2026, 11, 8).unwrap()), Format::Date),
                        ]),
                    ],
                    charts: vec![],
                    tab_color: Some(0xC00000),
                },
                Sheet {
                    name: "通关时间".into(),
                    blocks: vec![
                        Block::Title("整体通关时间周趋势".into()),
                        Block::Table(weekly),
                    ],
                    charts: vec![
                        ChartSpec {
                            kind: ChartKind::Line,
                            title: "进出口整体通关时间（中位数与P90）".into(),
                            table_id: "weekly".into(),
                            category_column: 0,
                            value_columns: vec![1, 2, 3, 4],
                            series_names: None,
                            y_axis_title: Some("小时".into()),
                            anchor_cell: None,
                        },
                        ChartSpec {
                            kind: ChartKind::Column,
                            title: "每周报关单数".into(),
                            table_id: "weekly".into(),
                            category_column: 0,
                            value_columns: vec![5],
                            series_names: Some(vec!["报关单".into()]),
                            y_axis_title: Some("票".into()),
                            anchor_cell: None,
                        },
                    ],
                    tab_color: Some(0x1F4E79),
                },
                Sheet {
                    name: "督办/任务".into(),
                    blocks: vec![
                        Block::Title("任务推进情况".into()),
                        Block::Table(tasks),
                        Block::Table(status_counts),
                    ],
                    charts: vec![ChartSpec {
                        kind: ChartKind::Pie,
                        title: "任务状态分布".into(),
                        table_id: "status_counts".into(),
                        category_column: 0,
                        value_columns: vec![1],
                        series_names: None,
                        y_axis_title: None,
                        anchor_cell: Some((1, 7)),
                    }],
                    tab_color: None,
                },
            ],
        }
    }

    #[test]
    fn demo_file_agrees_with_model() {
        let dir = std::env::temp_dir().join(format!("sanhu-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("demo.xlsx");
        let wb = demo();
        write_xlsx(&wb, &path).unwrap();
        let values = dump_values(&wb).unwrap();
        assert_eq!(dump_xlsx_values(&path).unwrap(), values);
        // 2026-11-08T16:30:00Z was reported: shown at 00:30 Shanghai time the next day.
        assert!(
            values.contains("督办／任务!E4 2026-11-09 00:30:00\n"),
            "{values}"
        );
        assert!(values.contains("通关时间!G4 1234567.89\n"), "{values}");
        assert!(values.contains("封面!B10 \"是\"\n"), "{values}");
        // Where a golden copy is wanted (and for viewing in LibreOffice): write it out.
        if let Ok(target) = std::env::var("SANHU_DEMO_XLSX") {
            write_xlsx(&wb, Path::new(&target)).unwrap();
            std::fs::write(format!("{target}.dump.txt"), dump(&wb)).unwrap();
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
