//! Arrow → Table: query results (Arrow record batches) as model tables.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate, NaiveTime};

use super::error::ReportError;
use super::model::{Column, ColumnBinding, Format, Table, Value};

/// Builds a table from query results, one column per binding, in binding order.
///
/// Each binding's field is looked up by name in every batch. Values convert as follows:
/// strings (Utf8, LargeUtf8, Utf8View, dictionaries of them) → `Text`; Int8–Int64, UInt8–UInt64
/// → `Int` (a UInt64 above `i64::MAX` → `Number`); Float16/32/64 → `Number` (Float32 by its
/// shortest decimal text, so 0.1f32 stays 0.1); Decimal32–256 → `Number`, scale-aware; Boolean →
/// `Text` 是/否; Date32/Date64 → `Date`; Timestamp (any unit) → `DateTime`: a timestamp with a
/// zone (UTC or other) is an instant and is shown in `tz` local time, a zoneless one is shown as
/// it is; Time32/64 → `Text` `hh:mm:ss`; Duration → `Number` of hours; Null and nulls → `Empty`.
/// Anything else (lists, structs, binary, intervals) is an error naming the field.
///
/// Formats not given by the binding are inferred: integers → `Integer`, floats → `Decimal(2)`,
/// decimals → `Decimal(scale)`, dates → `Date`, timestamps → `DateTime`, durations → `Hours`,
/// anything else → `General`. With no batches at all (an empty result) nothing can be checked
/// or inferred: the table has its headers and no rows.
///
/// The table comes back with an empty `id`, `freeze_header` and `autofilter` on, no conditional
/// rules: set those before placing it.
pub fn table_from_batches(
    columns: &[ColumnBinding],
    batches: &[RecordBatch],
    tz: chrono_tz::Tz,
) -> Result<Table, ReportError> {
    let total_rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut converted: Vec<Vec<Value>> = Vec::with_capacity(columns.len());
    let mut formats = Vec::with_capacity(columns.len());
    for binding in columns {
        let mut values = Vec::with_capacity(total_rows);
        let mut first_type: Option<DataType> = None;
        for batch in batches {
            let schema = batch.schema();
            let Ok(index) = schema.index_of(&binding.field) else {
                return Err(ReportError::MissingField {
                    field: binding.field.clone(),
                    title: binding.title.clone(),
                    available: schema.fields().iter().map(|f| f.name().clone()).collect(),
                });
            };
            let array = batch.column(index);
            first_type.get_or_insert_with(|| array.data_type().clone());
            let offset = values.len();
            values.extend(convert_array(array.as_ref(), tz).map_err(|e| match e {
                ConvertError::Unsupported(data_type) => ReportError::UnsupportedType {
                    field: binding.field.clone(),
                    title: binding.title.clone(),
                    data_type: data_type.to_string(),
                },
                ConvertError::Bad { row, message } => ReportError::BadValue {
                    field: binding.field.clone(),
                    title: binding.title.clone(),
                    row: offset + row + 1,
                    message,
                },
            })?);
        }
        let format = match (&binding.format, &first_type) {
            (Some(f), _) => f.clone(),
            (None, Some(t)) => infer_format(t),
            (None, None) => Format::General,
        };
        converted.push(values);
        formats.push(format);
    }

    let mut rows: Vec<Vec<Value>> = (0..total_rows)
        .map(|_| Vec::with_capacity(columns.len()))
        .collect();
    for column in converted {
        for (row, value) in rows.iter_mut().zip(column) {
            row.push(value);
        }
    }
    Ok(Table {
        id: String::new(),
        columns: columns
            .iter()
            .zip(formats)
            .map(|(b, format)| Column {
                title: b.title.clone(),
                format,
                width: b.width,
            })
            .collect(),
        rows,
        freeze_header: true,
        autofilter: true,
        conditional: Vec::new(),
    })
}

/// The display format an Arrow type gets when the binding names none.
pub fn infer_format(data_type: &DataType) -> Format {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Format::Integer,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Format::Decimal(2),
        DataType::Decimal32(_, s)
        | DataType::Decimal64(_, s)
        | DataType::Decimal128(_, s)
        | DataType::Decimal256(_, s) => Format::Decimal((*s).clamp(0, 30) as u8),
        DataType::Date32 | DataType::Date64 => Format::Date,
        DataType::Timestamp(_, _) => Format::DateTime,
        DataType::Duration(_) => Format::Hours,
        DataType::Dictionary(_, values) => infer_format(values),
        _ => Format::General,
    }
}

enum ConvertError {
    Unsupported(DataType),
    /// `row` is 0-based within the array.
    Bad {
        row: usize,
        message: String,
    },
}

fn convert_array(array: &dyn Array, tz: chrono_tz::Tz) -> Result<Vec<Value>, ConvertError> {
    let n = array.len();
    // Nulls first: every typed branch below only sees valid slots.
    let valid = |i: usize| !array.is_null(i);
    macro_rules! each {
        ($arr:expr, |$i:ident, $v:ident| $body:expr) => {{
            let arr = $arr;
            (0..n)
                .map(|$i| {
                    if valid($i) {
                        let $v = arr.value($i);
                        $body
                    } else {
                        Ok(Value::Empty)
                    }
                })
                .collect::<Result<Vec<Value>, ConvertError>>()
        }};
    }
    let bad = |row: usize, message: String| ConvertError::Bad { row, message };
    match array.data_type() {
        DataType::Null => Ok(vec![Value::Empty; n]),
        DataType::Boolean => each!(array.as_boolean(), |_i, v| Ok(Value::Text(
            if v { "是" } else { "否" }.into()
        ))),
        DataType::Int8 => each!(array.as_primitive::<Int8Type>(), |_i, v| Ok(Value::Int(
            v.into()
        ))),
        DataType::Int16 => each!(array.as_primitive::<Int16Type>(), |_i, v| Ok(Value::Int(
            v.into()
        ))),
        DataType::Int32 => each!(array.as_primitive::<Int32Type>(), |_i, v| Ok(Value::Int(
            v.into()
        ))),
        DataType::Int64 => each!(array.as_primitive::<Int64Type>(), |_i, v| Ok(Value::Int(v))),
        DataType::UInt8 => each!(array.as_primitive::<UInt8Type>(), |_i, v| Ok(Value::Int(
            v.into()
        ))),
        DataType::UInt16 => each!(array.as_primitive::<UInt16Type>(), |_i, v| Ok(Value::Int(
            v.into()
        ))),
        DataType::UInt32 => each!(array.as_primitive::<UInt32Type>(), |_i, v| Ok(Value::Int(
            v.into()
        ))),
        DataType::UInt64 => each!(array.as_primitive::<UInt64Type>(), |_i, v| Ok(
            i64::try_from(v).map_or(Value::Number(v as f64), Value::Int)
        )),
        DataType::Float16 => each!(array.as_primitive::<Float16Type>(), |_i, v| Ok(
            Value::Number(v.to_f64())
        )),
        // Via the shortest decimal text: 0.1f32 as f64 would be 0.10000000149011612.
        DataType::Float32 => each!(array.as_primitive::<Float32Type>(), |_i, v| Ok(
            Value::Number(if v.is_finite() {
                v.to_string().parse().unwrap_or(f64::from(v))
            } else {
                f64::from(v)
            })
        )),
        DataType::Float64 => each!(array.as_primitive::<Float64Type>(), |_i, v| Ok(
            Value::Number(v)
        )),
        // Via the exact decimal text, so 12.34 (scale 2) is the double nearest 12.34.
        DataType::Decimal32(_, _) => {
            let a = array.as_primitive::<Decimal32Type>();
            decimal_values(n, valid, |i| a.value_as_string(i))
        }
        DataType::Decimal64(_, _) => {
            let a = array.as_primitive::<Decimal64Type>();
            decimal_values(n, valid, |i| a.value_as_string(i))
        }
        DataType::Decimal128(_, _) => {
            let a = array.as_primitive::<Decimal128Type>();
            decimal_values(n, valid, |i| a.value_as_string(i))
        }
        DataType::Decimal256(_, _) => {
            let a = array.as_primitive::<Decimal256Type>();
            decimal_values(n, valid, |i| a.value_as_string(i))
        }
        DataType::Utf8 => each!(array.as_string::<i32>(), |_i, v| Ok(Value::Text(
            v.to_string()
        ))),
        DataType::LargeUtf8 => each!(array.as_string::<i64>(), |_i, v| Ok(Value::Text(
            v.to_string()
        ))),
        DataType::Utf8View => each!(array.as_string_view(), |_i, v| Ok(Value::Text(
            v.to_string()
        ))),
        DataType::Date32 => each!(array.as_primitive::<Date32Type>(), |i, v| {
            // 719_163 = days from 0001-01-01 (CE day 1) to 1970-01-01.
            NaiveDate::from_num_days_from_ce_opt(v.saturating_add(719_163))
                .map(Value::Date)
                .ok_or_else(|| bad(i, format!("date {v} days from 1970-01-01 is out of range")))
        }),
        DataType::Date64 => each!(array.as_primitive::<Date64Type>(), |i, v| {
            DateTime::from_timestamp_millis(v)
                .map(|dt| Value::Date(dt.date_naive()))
                .ok_or_else(|| bad(i, format!("date {v} ms from 1970-01-01 is out of range")))
        }),
        DataType::Timestamp(unit, zone) => {
            let zoned = zone.is_some();
            let show = |i: usize, dt: Option<DateTime<chrono::Utc>>, raw: i64| {
                let dt = dt
                    .ok_or_else(|| bad(i, format!("timestamp {raw} ({unit:?}) is out of range")))?;
                // A zoned timestamp is an instant: show it on the report's clock. A zoneless
                // one is already wall-clock time: show it as it is.
                Ok(Value::DateTime(if zoned {
                    dt.with_timezone(&tz).naive_local()
                } else {
                    dt.naive_utc()
                }))
            };
            match unit {
                TimeUnit::Second => each!(
                    array.as_primitive::<TimestampSecondType>(),
                    |i, v| show(i, DateTime::from_timestamp(v, 0), v)
                ),
                TimeUnit::Millisecond => {
                    each!(array.as_primitive::<TimestampMillisecondType>(), |i, v| {
                        show(i, DateTime::from_timestamp_millis(v), v)
                    })
                }
                TimeUnit::Microsecond => {
                    each!(array.as_primitive::<TimestampMicrosecondType>(), |i, v| {
                        show(i, DateTime::from_timestamp_micros(v), v)
                    })
                }
                TimeUnit::Nanosecond => each!(
                    array.as_primitive::<TimestampNanosecondType>(),
                    |i, v| show(i, Some(DateTime::from_timestamp_nanos(v)), v)
                ),
            }
        }
        DataType::Time32(TimeUnit::Second) => {
            each!(array.as_primitive::<Time32SecondType>(), |i, v| {
                time_text(i, i64::from(v) * 1_000_000_000)
            })
        }
        DataType::Time32(TimeUnit::Millisecond) => {
            each!(array.as_primitive::<Time32MillisecondType>(), |i, v| {
                time_text(i, i64::from(v) * 1_000_000)
            })
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            each!(array.as_primitive::<Time64MicrosecondType>(), |i, v| {
                time_text(i, v.saturating_mul(1_000))
            })
        }
        DataType::Time64(TimeUnit::Nanosecond) => {
            each!(array.as_primitive::<Time64NanosecondType>(), |i, v| {
                time_text(i, v)
            })
        }
        DataType::Duration(unit) => {
            let per_hour = match unit {
                TimeUnit::Second => 3_600.0,
                TimeUnit::Millisecond => 3_600_000.0,
                TimeUnit::Microsecond => 3_600_000_000.0,
                TimeUnit::Nanosecond => 3_600_000_000_000.0,
            };
            let hours = |v: i64| Ok(Value::Number(v as f64 / per_hour));
            match unit {
                TimeUnit::Second => {
                    each!(array.as_primitive::<DurationSecondType>(), |_i, v| hours(v))
                }
                TimeUnit::Millisecond => {
                    each!(array.as_primitive::<DurationMillisecondType>(), |_i, v| {
                        hours(v)
                    })
                }
                TimeUnit::Microsecond => {
                    each!(array.as_primitive::<DurationMicrosecondType>(), |_i, v| {
                        hours(v)
                    })
                }
                TimeUnit::Nanosecond => {
                    each!(array.as_primitive::<DurationNanosecondType>(), |_i, v| {
                        hours(v)
                    })
                }
            }
        }
        DataType::Dictionary(_, _) => {
            let dict = array
                .as_any_dictionary_opt()
                .ok_or_else(|| ConvertError::Unsupported(array.data_type().clone()))?;
            // Convert the (small) dictionary once, then pick by key.
            let values = convert_array(dict.values().as_ref(), tz).map_err(|e| match e {
                ConvertError::Bad { message, .. } => ConvertError::Bad { row: 0, message },
                other => other,
            })?;
            let keys = dict.normalized_keys();
            Ok((0..n)
                .map(|i| {
                    if valid(i) {
                        values.get(keys[i]).cloned().unwrap_or(Value::Empty)
                    } else {
                        Value::Empty
                    }
                })
                .collect())
        }
        other => Err(ConvertError::Unsupported(other.clone())),
    }
}

fn decimal_values(
    n: usize,
    valid: impl Fn(usize) -> bool,
    text: impl Fn(usize) -> String,
) -> Result<Vec<Value>, ConvertError> {
    (0..n)
        .map(|i| {
            if !valid(i) {
                return Ok(Value::Empty);
            }
            let s = text(i);
            s.parse::<f64>()
                .map(Value::Number)
                .map_err(|_| ConvertError::Bad {
                    row: i,
                    message: format!("decimal {s} is not a number"),
                })
        })
        .collect()
}

fn time_text(row: usize, nanos: i64) -> Result<Value, ConvertError> {
    let secs = u32::try_from(nanos.div_euclid(1_000_000_000)).ok();
    let frac = nanos.rem_euclid(1_000_000_000) as u32;
    let time = secs
        .and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, frac))
        .ok_or_else(|| ConvertError::Bad {
            row,
            message: format!("time of day {nanos} ns is out of range"),
        })?;
    Ok(Value::Text(if frac == 0 {
        time.format("%H:%M:%S").to_string()
    } else {
        time.format("%H:%M:%S%.f").to_string()
    }))
}
