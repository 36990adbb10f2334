//! The tables registered in a DataFusion session: the lake, the ledger, the configuration.

use super::current::current_snapshot;
use super::{AsOf, TransformError, current_state_sql, functions, quantile};
use crate::config::Project;
use crate::lake::ledger::Ledger;
use crate::lake::{Lake, QUARANTINE_TABLE};
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef};
use datafusion::common::DataFusionError;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionConfig;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use std::sync::Arc;

/// The Arrow schema of the quarantine table.
pub fn quarantine_schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    Arc::new(ArrowSchema::new(vec![
        Field::new("delivery", DataType::Int64, false),
        s("unit"),
        s("feed"),
        s("file"),
        s("sheet"),
        Field::new("row", DataType::Int64, true),
        s("column"),
        s("column_letter"),
        s("value"),
        s("reason"),
        s("severity"),
    ]))
}

pub(super) fn deliveries_schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let i = |n: &str| Field::new(n, DataType::Int64, true);
    Arc::new(ArrowSchema::new(vec![
        i("id"),
        s("unit"),
        s("feed"),
        s("table_name"),
        s("file_name"),
        s("sha256"),
        i("bytes"),
        s("file_mtime"),
        s("received_at"),
        s("status"),
        i("rows_accepted"),
        i("rows_rejected"),
        i("rows_warned"),
        s("reason"),
    ]))
}

/// A session with the project's functions, and spans on so errors can name a line.
pub fn new_context(project: &Project) -> SessionContext {
    let mut config = SessionConfig::new().with_information_schema(true);
    config.options_mut().sql_parser.collect_spans = true;
    config.options_mut().sql_parser.enable_ident_normalization = true;
    let ctx = match project.settings.project.memory_limit_mib {
        Some(mib) => {
            use datafusion::execution::memory_pool::FairSpillPool;
            use datafusion::execution::runtime_env::RuntimeEnvBuilder;
            // Fair among the spilling operators of one query; temp files in the OS temp folder.
            let pool = Arc::new(FairSpillPool::new((mib as usize) << 20));
            match RuntimeEnvBuilder::new().with_memory_pool(pool).build_arc() {
                Ok(rt) => SessionContext::new_with_config_rt(config, rt),
                Err(e) => {
                    tracing::warn!(error = %e, "memory limit not applied");
                    SessionContext::new_with_config(config)
                }
            }
        }
        None => SessionContext::new_with_config(config),
    };
    functions::register(&ctx, project.tz);
    ctx.register_udaf(quantile::udaf());
    ctx
}

fn dir_url(path: &std::path::Path) -> String {
    let mut s = path.display().to_string();
    if !s.ends_with('/') {
        s.push('/');
    }
    s
}

/// Register every lake table (or an empty table of the declared schema when there is no data).
pub async fn register_lake(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
) -> Result<(), TransformError> {
    for (name, schema) in &project.schemas {
        let lake_schema = schema.lake_schema();
        let history = format!("{name}_history");
        if lake.files(name).is_empty() {
            ctx.register_table(
                &history,
                Arc::new(MemTable::try_new(lake_schema.clone(), vec![vec![]])?),
            )?;
        } else {
            ctx.register_parquet(
                &history,
                dir_url(&lake.table_dir(name)),
                ParquetReadOptions::default().schema(&lake_schema),
            )
            .await?;
        }
        let view = current_state_sql(project, name, None);
        match current_snapshot(ctx, project, lake, name, &view).await {
            Some(file) => {
                ctx.register_parquet(
                    name,
                    file.display().to_string(),
                    ParquetReadOptions::default().schema(&lake_schema),
                )
                .await?;
            }
            None => {
                ctx.sql(&format!("CREATE OR REPLACE VIEW \"{name}\" AS {view}"))
                    .await?;
            }
        }
    }
    if lake.files(QUARANTINE_TABLE).is_empty() {
        ctx.register_table(
            QUARANTINE_TABLE,
            Arc::new(MemTable::try_new(quarantine_schema(), vec![vec![]])?),
        )?;
    } else {
        ctx.register_parquet(
            QUARANTINE_TABLE,
            dir_url(&lake.table_dir(QUARANTINE_TABLE)),
            ParquetReadOptions::default().schema(&quarantine_schema()),
        )
        .await?;
    }
    for model in &project.models {
        let file = lake.model_file(&model.name);
        if file.is_file() {
            ctx.register_parquet(
                &model.name,
                file.display().to_string(),
                ParquetReadOptions::default(),
            )
            .await?;
        }
    }
    Ok(())
}

/// The ledger as the `deliveries` table.
pub fn register_ledger(ctx: &SessionContext, ledger: &Ledger) -> Result<(), TransformError> {
    let rows = ledger.deliveries()?;
    let s = |f: &dyn Fn(&crate::lake::ledger::Delivery) -> Option<String>| -> Arc<StringArray> {
        Arc::new(rows.iter().map(f).collect())
    };
    let i = |f: &dyn Fn(&crate::lake::ledger::Delivery) -> i64| -> Arc<Int64Array> {
        Arc::new(rows.iter().map(|d| Some(f(d))).collect())
    };
    let batch = RecordBatch::try_new(
        deliveries_schema(),
        vec![
            i(&|d| d.id),
            s(&|d| Some(d.unit.clone())),
            s(&|d| d.feed.clone()),
            s(&|d| d.table.clone()),
            s(&|d| Some(d.file_name.clone())),
            s(&|d| Some(d.sha256.clone())),
            i(&|d| d.bytes),
            s(&|d| Some(d.file_mtime.clone())),
            s(&|d| Some(d.received_at.clone())),
            s(&|d| Some(d.status.clone())),
            i(&|d| d.rows_accepted),
            i(&|d| d.rows_rejected),
            i(&|d| d.rows_warned),
            s(&|d| d.reason.clone()),
        ],
    )
    .map_err(DataFusionError::from)?;
    ctx.deregister_table("deliveries")?;
    ctx.register_table(
        "deliveries",
        Arc::new(MemTable::try_new(deliveries_schema(), vec![vec![batch]])?),
    )?;
    Ok(())
}

/// Configuration as tables: `units`, and `feed_due` — for every feed, delivering unit and
/// weekly period from the week before the first delivery up to the as-of week, when the
/// delivery is due and the window a delivery counts in (the week after the period).
pub fn register_config(
    ctx: &SessionContext,
    project: &Project,
    ledger: Option<&Ledger>,
    as_of: AsOf,
) -> Result<(), TransformError> {
    use chrono::{Datelike, Duration, NaiveDate, TimeZone, Weekday};
    let units = RecordBatch::try_new(
        Arc::new(ArrowSchema::new(vec![
            Field::new("code", DataType::Utf8, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("short", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(StringArray::from(
                project
                    .units
                    .iter()
                    .map(|u| u.code.clone())
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                project
                    .units
                    .iter()
                    .map(|u| u.name.clone())
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                project
                    .units
                    .iter()
                    .map(|u| u.short.clone())
                    .collect::<Vec<_>>(),
            )),
        ],
    )
    .map_err(DataFusionError::from)?;
    ctx.deregister_table("units")?;
    ctx.register_table(
        "units",
        Arc::new(MemTable::try_new(units.schema(), vec![vec![units]])?),
    )?;

    let ts = DataType::Timestamp(
        datafusion::arrow::datatypes::TimeUnit::Microsecond,
        Some("UTC".into()),
    );
    let due_schema = Arc::new(ArrowSchema::new(vec![
        Field::new("unit", DataType::Utf8, false),
        Field::new("feed", DataType::Utf8, false),
        Field::new("period", DataType::Utf8, false),
        Field::new("due_at", ts.clone(), false),
        Field::new("window_start", ts.clone(), false),
        Field::new("window_end", ts, false),
    ]));
    // The first period judged: the week before the earliest delivery.
    let first = ledger
        .and_then(|l| l.deliveries().ok())
        .and_then(|ds| {
            ds.iter()
                .filter_map(|d| chrono::DateTime::parse_from_rfc3339(&d.file_mtime).ok())
                .min()
        })
        .map(|t| t.with_timezone(&project.tz).date_naive() - Duration::days(7));
    let (mut unit, mut feed, mut period, mut due, mut ws, mut we) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    if let Some(first) = first {
        let monday = |d: NaiveDate| d - Duration::days(d.weekday().num_days_from_monday() as i64);
        let utc = |d: chrono::NaiveDateTime| {
            project
                .tz
                .from_local_datetime(&d)
                .earliest()
                .map(|t| t.timestamp_micros())
                .unwrap_or(0)
        };
        let mut w = monday(first);
        let last = monday(as_of.day);
        while w <= last {
            let next = w + Duration::days(7);
            for p in &project.pipelines {
                let Some(exp) = p.expect else { continue };
                let due_day = next + Duration::days(exp.weekday.num_days_from_monday() as i64);
                let units: Vec<&str> = match &p.unit {
                    Some(u) => vec![u.as_str()],
                    None => project.units.iter().map(|u| u.code.as_str()).collect(),
                };
                for u in units {
                    unit.push(u.to_string());
                    feed.push(p.feed.clone());
                    period.push(functions::iso_week_of(w));
                    due.push(utc(due_day.and_time(exp.time)));
                    ws.push(utc(next.and_hms_opt(0, 0, 0).expect("midnight")));
                    we.push(utc((next + Duration::days(7))
                        .and_hms_opt(0, 0, 0)
                        .expect("midnight")));
                }
            }
            w = next;
        }
        let _ = Weekday::Mon;
    }
    use datafusion::arrow::array::TimestampMicrosecondArray;
    let tsa = |v: Vec<i64>| Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"));
    let batch = RecordBatch::try_new(
        due_schema.clone(),
        vec![
            Arc::new(StringArray::from(unit)),
            Arc::new(StringArray::from(feed)),
            Arc::new(StringArray::from(period)),
            tsa(due),
            tsa(ws),
            tsa(we),
        ],
    )
    .map_err(DataFusionError::from)?;
    ctx.deregister_table("feed_due")?;
    ctx.register_table(
        "feed_due",
        Arc::new(MemTable::try_new(due_schema, vec![vec![batch]])?),
    )?;
    Ok(())
}
