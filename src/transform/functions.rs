//! SQL functions that put the project's time zone into the models.
//!
//! The lake stores instants in UTC; the domain's periods are local (a declaration lodged at 00:30
//! Monday in Ordos belongs to the new ISO week). Spelling that in portable SQL is error-prone, so
//! the models call these instead:
//! - `iso_week(ts)` → `'2026-W47'` of the local date; `local_month(ts)` → `'2026-11'`;
//! - `local_date(ts)` → the local calendar date; `local_time(ts)` → `'2026-11-09 10:00'` text;
//! - `hours_between(a, b)` → (b − a) in hours as a float, NULL if either is NULL.

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, Date32Array, Float64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

fn micros(arg: &ColumnarValue, rows: usize) -> Result<TimestampMicrosecondArray, DataFusionError> {
    let arr = arg.clone().into_array(rows)?;
    let arr = cast(&arr, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    Ok(arr
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .expect("cast to µs")
        .clone())
}

fn rows_of(args: &[ColumnarValue]) -> usize {
    args.iter()
        .find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(1)
}

fn local(tz: Tz, us: i64) -> Option<chrono::NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|d| tz.from_utc_datetime(&d.naive_utc()).naive_local())
}

pub fn iso_week_of(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

fn text_udf(name: &str, tz: Tz, f: fn(chrono::NaiveDateTime) -> String) -> ScalarUDF {
    let ts_types = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    create_udf(
        name,
        vec![ts_types],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let n = rows_of(args);
            let ts = micros(&args[0], n)?;
            let out: StringArray = ts
                .iter()
                .map(|v| v.and_then(|us| local(tz, us)).map(f))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
        }),
    )
}

pub fn register(ctx: &SessionContext, tz: Tz) {
    ctx.register_udf(text_udf("iso_week", tz, |d| iso_week_of(d.date())));
    ctx.register_udf(text_udf("local_month", tz, |d| {
        d.format("%Y-%m").to_string()
    }));
    ctx.register_udf(text_udf("local_time", tz, |d| {
        d.format("%Y-%m-%d %H:%M").to_string()
    }));
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    ctx.register_udf(create_udf(
        "local_date",
        vec![ts.clone()],
        DataType::Date32,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let n = rows_of(args);
            let t = micros(&args[0], n)?;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
            let out: Date32Array = t
                .iter()
                .map(|v| {
                    v.and_then(|us| local(tz, us))
                        .map(|d| (d.date() - epoch).num_days() as i32)
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
        }),
    ));
    ctx.register_udf(create_udf(
        "hours_between",
        vec![ts.clone(), ts],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let n = rows_of(args);
            let a = micros(&args[0], n)?;
            let b = micros(&args[1], n)?;
            let out: Float64Array = a
                .iter()
                .zip(b.iter())
                .map(|(a, b)| match (a, b) {
                    (Some(a), Some(b)) => Some((b - a) as f64 / 3_600_000_000.0),
                    _ => None,
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
        }),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn monday_half_past_midnight_local_is_the_new_week() {
        let ctx = SessionContext::new();
        register(&ctx, chrono_tz::Asia::Shanghai);
        // 2026-11-15T16:30Z is Monday 2026-11-16 00:30 in Shanghai: ISO week 47, not 46.
        let df = ctx
            .sql("select iso_week(arrow_cast(to_timestamp_micros('2026-11-15T16:30:00Z'), 'Timestamp(µs, \"UTC\")')) as w, \
                  hours_between(arrow_cast(to_timestamp_micros('2026-11-15T16:30:00Z'), 'Timestamp(µs, \"UTC\")'), \
                                arrow_cast(to_timestamp_micros('2026-11-16T04:00:00Z'), 'Timestamp(µs, \"UTC\")')) as h")
            .await
            .unwrap();
        let batches = df.collect().await.unwrap();
        let w = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let h = batches[0]
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(w.value(0), "2026-W47");
        assert_eq!(h.value(0), 11.5);
    }
}
