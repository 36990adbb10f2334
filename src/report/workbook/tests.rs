use super::layout::{column_widths, value_content};
use super::look::MAX_CELL_CHARS;
use super::widths::{display_width, group_thousands};
use super::*;
use arrow::array::Array;
use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Date64Array, Decimal128Array, DictionaryArray,
    DurationSecondArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array,
    LargeStringArray, NullArray, StringArray, StringViewArray, Time32SecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt8Array,
    UInt16Array, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Float16Type, Int32Type, UInt8Type};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use rust_xlsxwriter as xlsx;
use std::sync::Arc;

const SHANGHAI: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

fn dt(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}
fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Converts a one-column batch and returns the values and the inferred format.
fn convert(array: ArrayRef) -> (Vec<Value>, Format) {
    let schema = Schema::new(vec![Field::new("x", array.data_type().clone(), true)]);
    let batch = RecordBatch::try_new(Arc::new(schema), vec![array]).unwrap();
    let binding = ColumnBinding {
        field: "x".into(),
        title: "列".into(),
        format: None,
        width: None,
    };
    let table = table_from_batches(&[binding], &[batch], SHANGHAI).unwrap();
    (
        table.rows.into_iter().map(|mut r| r.remove(0)).collect(),
        table.columns[0].format.clone(),
    )
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

#[test]
fn strings_of_every_encoding() {
    let expected = vec![text("鄂尔多斯"), Value::Empty, text("")];
    let utf8: ArrayRef = Arc::new(StringArray::from(vec![Some("鄂尔多斯"), None, Some("")]));
    let large: ArrayRef = Arc::new(LargeStringArray::from(vec![
        Some("鄂尔多斯"),
        None,
        Some(""),
    ]));
    let view: ArrayRef = Arc::new(StringViewArray::from(vec![
        Some("鄂尔多斯"),
        None,
        Some(""),
    ]));
    for array in [utf8, large, view] {
        assert_eq!(convert(array), (expected.clone(), Format::General));
    }
}

#[test]
fn dictionary_of_strings() {
    let dict: DictionaryArray<Int32Type> = vec![Some("逾期"), None, Some("已完成"), Some("逾期")]
        .into_iter()
        .collect();
    assert_eq!(
        convert(Arc::new(dict)),
        (
            vec![text("逾期"), Value::Empty, text("已完成"), text("逾期")],
            Format::General
        )
    );
    let dict: DictionaryArray<UInt8Type> = vec!["I", "E"].into_iter().collect();
    assert_eq!(convert(Arc::new(dict)).0, vec![text("I"), text("E")]);
}

#[test]
fn integers_signed_and_unsigned() {
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int8Array::from(vec![Some(-8), None])),
        Arc::new(Int16Array::from(vec![Some(-8), None])),
        Arc::new(Int32Array::from(vec![Some(-8), None])),
        Arc::new(Int64Array::from(vec![Some(-8), None])),
    ];
    for a in arrays {
        assert_eq!(
            convert(a),
            (vec![Value::Int(-8), Value::Empty], Format::Integer)
        );
    }
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(UInt8Array::from(vec![Some(200), None])),
        Arc::new(UInt16Array::from(vec![Some(200), None])),
        Arc::new(UInt32Array::from(vec![Some(200), None])),
        Arc::new(UInt64Array::from(vec![Some(200), None])),
    ];
    for a in arrays {
        assert_eq!(
            convert(a),
            (vec![Value::Int(200), Value::Empty], Format::Integer)
        );
    }
    let big = convert(Arc::new(UInt64Array::from(vec![u64::MAX]))).0;
    assert_eq!(big, vec![Value::Number(u64::MAX as f64)]);
}

#[test]
fn floats_keep_their_decimal_value() {
    let (v, f) = convert(Arc::new(Float32Array::from(vec![
        Some(0.1f32),
        None,
        Some(f32::NAN),
    ])));
    assert_eq!(f, Format::Decimal(2));
    assert_eq!(v[0], Value::Number(0.1));
    assert_eq!(v[1], Value::Empty);
    assert!(matches!(v[2], Value::Number(x) if x.is_nan()));
    let (v, f) = convert(Arc::new(Float64Array::from(vec![12.5, -0.25])));
    assert_eq!(
        (v, f),
        (
            vec![Value::Number(12.5), Value::Number(-0.25)],
            Format::Decimal(2)
        )
    );
    let (v, _) = convert(Arc::new(arrow::array::Float16Array::from(vec![
        half_one_and_half(),
    ])));
    assert_eq!(v, vec![Value::Number(1.5)]);
}

fn half_one_and_half() -> <Float16Type as arrow::datatypes::ArrowPrimitiveType>::Native {
    <Float16Type as arrow::datatypes::ArrowPrimitiveType>::Native::from_f64(1.5)
}

#[test]
fn decimals_are_scale_aware() {
    let a = Decimal128Array::from(vec![Some(123_456_i128), None, Some(-5)])
        .with_precision_and_scale(12, 2)
        .unwrap();
    assert_eq!(
        convert(Arc::new(a)),
        (
            vec![Value::Number(1234.56), Value::Empty, Value::Number(-0.05)],
            Format::Decimal(2)
        )
    );
    let a = Decimal128Array::from(vec![7_i128])
        .with_precision_and_scale(10, 0)
        .unwrap();
    assert_eq!(
        convert(Arc::new(a)),
        (vec![Value::Number(7.0)], Format::Decimal(0))
    );
    let a = arrow::array::Decimal256Array::from(vec![arrow::datatypes::i256::from_i128(12_345)])
        .with_precision_and_scale(40, 4)
        .unwrap();
    assert_eq!(
        convert(Arc::new(a)),
        (vec![Value::Number(1.2345)], Format::Decimal(4))
    );
}

#[test]
fn booleans_are_shi_fou() {
    let a = BooleanArray::from(vec![Some(true), Some(false), None]);
    assert_eq!(
        convert(Arc::new(a)),
        (vec![text("是"), text("否"), Value::Empty], Format::General)
    );
}

#[test]
fn dates() {
    // 2026-11-09 is day 20_766 since 1970-01-01.
    let days = (d("2026-11-09") - d("1970-01-01")).num_days() as i32;
    let (v, f) = convert(Arc::new(Date32Array::from(vec![Some(days), None])));
    assert_eq!(
        (v, f),
        (
            vec![Value::Date(d("2026-11-09")), Value::Empty],
            Format::Date
        )
    );
    let ms = i64::from(days) * 86_400_000;
    let (v, f) = convert(Arc::new(Date64Array::from(vec![ms])));
    assert_eq!((v, f), (vec![Value::Date(d("2026-11-09"))], Format::Date));
}

#[test]
fn utc_timestamp_shows_in_local_time() {
    let instant = DateTime::parse_from_rfc3339("2026-11-08T16:30:00Z")
        .unwrap()
        .timestamp();
    let a = TimestampSecondArray::from(vec![Some(instant), None]).with_timezone("UTC");
    assert_eq!(
        convert(Arc::new(a)),
        (
            vec![Value::DateTime(dt("2026-11-09 00:30:00")), Value::Empty],
            Format::DateTime
        )
    );
    // Another zone, same instant: same local display.
    let a = TimestampMillisecondArray::from(vec![instant * 1000]).with_timezone("+05:00");
    assert_eq!(
        convert(Arc::new(a)).0,
        vec![Value::DateTime(dt("2026-11-09 00:30:00"))]
    );
    let a = TimestampNanosecondArray::from(vec![instant * 1_000_000_000 + 250_000_000])
        .with_timezone("Asia/Shanghai");
    let expected = dt("2026-11-09 00:30:00") + chrono::Duration::milliseconds(250);
    assert_eq!(convert(Arc::new(a)).0, vec![Value::DateTime(expected)]);
    let a = arrow::array::TimestampMicrosecondArray::from(vec![instant * 1_000_000])
        .with_timezone("UTC");
    assert_eq!(
        convert(Arc::new(a)).0,
        vec![Value::DateTime(dt("2026-11-09 00:30:00"))]
    );
}

#[test]
fn zoneless_timestamp_is_shown_as_is() {
    let wall = dt("2026-11-08 16:30:00").and_utc().timestamp();
    let a = TimestampSecondArray::from(vec![wall]);
    assert_eq!(
        convert(Arc::new(a)),
        (
            vec![Value::DateTime(dt("2026-11-08 16:30:00"))],
            Format::DateTime
        )
    );
}

#[test]
fn null_time_and_duration() {
    assert_eq!(
        convert(Arc::new(NullArray::new(2))),
        (vec![Value::Empty, Value::Empty], Format::General)
    );
    let a = Time32SecondArray::from(vec![3 * 3600 + 5 * 60 + 9]);
    assert_eq!(
        convert(Arc::new(a)),
        (vec![text("03:05:09")], Format::General)
    );
    let a = DurationSecondArray::from(vec![5400]);
    assert_eq!(
        convert(Arc::new(a)),
        (vec![Value::Number(1.5)], Format::Hours)
    );
}

#[test]
fn rows_span_batches_and_bindings_pick_fields() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("week", DataType::Utf8, false),
        Field::new("n", DataType::Int64, false),
    ]));
    let b1 = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["2026-W45"])),
            Arc::new(Int64Array::from(vec![3])),
        ],
    )
    .unwrap();
    let b2 = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec!["2026-W46"])),
            Arc::new(Int64Array::from(vec![4])),
        ],
    )
    .unwrap();
    let bindings = [
        ColumnBinding {
            field: "n".into(),
            title: "票数".into(),
            format: Some(Format::General),
            width: Some(9.0),
        },
        ColumnBinding {
            field: "week".into(),
            title: "周".into(),
            format: None,
            width: None,
        },
    ];
    let t = table_from_batches(&bindings, &[b1, b2], SHANGHAI).unwrap();
    assert_eq!(
        t.columns,
        vec![
            Column {
                title: "票数".into(),
                format: Format::General,
                width: Some(9.0)
            },
            Column {
                title: "周".into(),
                format: Format::General,
                width: None
            },
        ]
    );
    assert_eq!(
        t.rows,
        vec![
            vec![Value::Int(3), text("2026-W45")],
            vec![Value::Int(4), text("2026-W46")]
        ]
    );

    let missing = [ColumnBinding {
        field: "p90".into(),
        title: "P90".into(),
        format: None,
        width: None,
    }];
    let schema = Arc::new(Schema::new(vec![Field::new("week", DataType::Utf8, false)]));
    let b = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec!["w"]))]).unwrap();
    let err = table_from_batches(&missing, &[b], SHANGHAI)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "query result has no field `p90` (wanted for report column \"P90\"); available fields: week"
    );
}

#[test]
fn unsupported_types_name_the_field() {
    let list =
        arrow::array::ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
    let schema = Schema::new(vec![Field::new("xs", list.data_type().clone(), true)]);
    let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(list)]).unwrap();
    let b = [ColumnBinding {
        field: "xs".into(),
        title: "清单".into(),
        format: None,
        width: None,
    }];
    let err = table_from_batches(&b, &[batch], SHANGHAI)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("field `xs` (report column \"清单\") has Arrow type List("),
        "{err}"
    );
}

#[test]
fn empty_result_gives_headers_only() {
    let b = [ColumnBinding {
        field: "x".into(),
        title: "列".into(),
        format: None,
        width: None,
    }];
    let t = table_from_batches(&b, &[], SHANGHAI).unwrap();
    assert_eq!(t.columns.len(), 1);
    assert!(t.rows.is_empty());
}

#[test]
fn widths_count_cjk_double_and_clamp() {
    assert_eq!(text_width("abc"), 3);
    assert_eq!(text_width("通关时间"), 8);
    assert_eq!(text_width("进口（小时）"), 12);
    assert_eq!(text_width("第一行\nab"), 6);
    // Header 4 CJK = 8 + 4 (padding and filter button) = 12 beats values 5 + 2.
    assert_eq!(auto_width("通关时间", true, [5, 3]), 12.0);
    assert_eq!(auto_width("通关时间", false, [5, 3]), 10.0);
    assert_eq!(auto_width("x", false, [1]), MIN_AUTO_WIDTH);
    assert_eq!(auto_width("x", false, [500]), MAX_AUTO_WIDTH);
    assert_eq!(display_width(&Content::Int(1_234_567), &Format::Integer), 9); // 1,234,567
    assert_eq!(
        display_width(&Content::Number(0.1234), &Format::Percent(1)),
        5
    ); // 12.3%
    assert_eq!(
        display_width(&Content::Date(d("2026-01-01")), &Format::Date),
        10
    );
    assert_eq!(group_thousands("-1234567.50"), "-1,234,567.50");
}

#[test]
fn widths_from_first_rows_only() {
    let mut rows: Vec<Vec<Value>> = (0..AUTO_WIDTH_ROWS).map(|_| vec![text("ab")]).collect();
    rows.push(vec![text(&"x".repeat(50))]);
    let sheet = Sheet {
        name: "s".into(),
        blocks: vec![Block::Table(Table {
            columns: vec![Column::new("a", Format::General)],
            rows,
            ..Default::default()
        })],
        ..Default::default()
    };
    assert_eq!(column_widths(&sheet).get(&0), Some(&MIN_AUTO_WIDTH));
}

#[test]
fn sheet_names_are_sanitized_and_deduped() {
    assert_eq!(
        sanitize_sheet_name("通关时间/周[进口]", 0),
        "通关时间／周［进口］"
    );
    assert_eq!(sanitize_sheet_name("a:b*c?d\\e", 0), "a：b＊c？d＼e");
    assert_eq!(sanitize_sheet_name("  '封面'\n", 0), "封面");
    assert_eq!(sanitize_sheet_name("", 2), "工作表3");
    let long = "很".repeat(40);
    assert_eq!(sanitize_sheet_name(&long, 0), "很".repeat(31));
    let wb = Workbook {
        title: String::new(),
        created: dt("2026-11-09 08:00:00"),
        sheets: ["封面", "封面", "Data", "data", "History", &long, &long]
            .iter()
            .map(|n| Sheet {
                name: n.to_string(),
                ..Default::default()
            })
            .collect(),
    };
    assert_eq!(
        sheet_names(&wb),
        vec![
            "封面".to_string(),
            "封面(2)".into(),
            "Data".into(),
            "data(2)".into(),
            "History(2)".into(),
            "很".repeat(31),
            format!("{}(2)", "很".repeat(28)),
        ]
    );
    for name in sheet_names(&wb) {
        xlsx::utility::check_sheet_name(&name).unwrap();
    }
}

#[test]
fn serials_match_excel() {
    assert_eq!(date_serial(d("1900-01-01")), 1.0);
    assert_eq!(date_serial(d("1900-02-28")), 59.0);
    assert_eq!(date_serial(d("1900-03-01")), 61.0);
    assert_eq!(date_serial(d("2026-11-09")), 46335.0);
    assert_eq!(datetime_serial(dt("2026-11-09 12:00:00")), 46335.5);
    assert_eq!(format_serial(46335.0), "2026-11-09");
    assert_eq!(
        format_serial(datetime_serial(dt("2026-11-09 00:30:00"))),
        "2026-11-09 00:30:00"
    );
    assert_eq!(format_serial(59.0), "1900-02-28");
    assert_eq!(format_serial(61.0), "1900-03-01");
    assert!(is_date_format("yyyy-mm-dd hh:mm"));
    assert!(!is_date_format("#,##0.00"));
    assert!(!is_date_format("0.0\" h\""));
    assert!(!is_date_format("[Red]0.0"));
}

#[test]
fn values_excel_cannot_hold() {
    assert_eq!(value_content(&Value::Number(f64::NAN)), Content::Blank);
    assert_eq!(value_content(&Value::Number(f64::INFINITY)), Content::Blank);
    assert_eq!(
        value_content(&Value::Int(123_456_789_012_345_678)),
        Content::Text("123456789012345678".into())
    );
    assert_eq!(
        value_content(&Value::Date(d("1899-01-01"))),
        Content::Text("1899-01-01".into())
    );
    let long = "字".repeat(MAX_CELL_CHARS + 5);
    match value_content(&Value::Text(long)) {
        Content::Text(s) => assert_eq!(s.chars().count(), MAX_CELL_CHARS),
        other => panic!("{other:?}"),
    }
}
