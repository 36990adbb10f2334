//! Transform: the SQL models under `queries/`, run through DataFusion over the lake.
//!
//! Every canonical table is registered twice: `<table>_history` holds every delivery's rows with
//! their lineage, and `<table>` is the current state under the feed's delivery mode (append: all
//! rows; upsert: the latest delivery's row per key; replace_all: the latest delivery only;
//! replace_period: per period, the rows of the latest delivery that holds that period). The
//! ingest ledger is visible as `deliveries`, rejected rows as `quarantine`. Models are plain SQL
//! files; the tables each one reads are found from the SQL itself, and models run in that
//! dependency order, each result written back to the lake as a table of its own.

pub mod functions;
pub mod quantile;
mod snapshot;

use crate::config::spec::DeliveryMode;
use crate::config::{Model, Problem, Project};
use crate::lake::ledger::Ledger;
use crate::lake::{Lake, LakeError, QUARANTINE_TABLE};
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef};
use datafusion::common::DataFusionError;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionConfig;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("{file}:{line}:{col}: {message}")]
    Sql {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("model dependency cycle: {0}")]
    Cycle(String),
    #[error("unknown model `{0}` (models are the .sql files under queries/)")]
    UnknownModel(String),
    #[error(
        "model `{model}` reads `{upstream}`, which has not been built yet: build it first, or leave out --only"
    )]
    NotBuilt { model: String, upstream: String },
    #[error("query failed: {0}")]
    Query(#[from] DataFusionError),
    #[error(transparent)]
    Lake(#[from] LakeError),
}

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

fn deliveries_schema() -> SchemaRef {
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

/// The current state of an upsert / replace table, materialised once per state of its history:
/// `data/current/<table>.<signature>.parquet`, where the signature is a digest of the table's
/// lake file names and sizes (a new delivery changes it), with the list of those files beside it
/// (`.files`). Every model and report that reads the table then scans one Parquet file instead of
/// re-running the window over all history. Append tables need no snapshot.
///
/// Most states cost less than the window:
/// - an upsert table of one delivery is that delivery's file (the normaliser refuses a repeated
///   key within a delivery), and a replace_all table is its latest delivery's file;
/// - an upsert table whose earlier state is known (a snapshot whose files are a prefix of today's,
///   or its first delivery) is that state without the keys delivered since, plus the latest row
///   per key of the new deliveries: a hash anti-join over the new keys, not a sort of all history
///   (key columns are always required, so there are no NULL keys to compare).
///
/// On any failure the caller falls back to the plain view, which gives the same rows.
async fn current_snapshot(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    name: &str,
    view_sql: &str,
) -> Option<std::path::PathBuf> {
    let mode = project.table_mode(name);
    let files = lake.files(name);
    match mode {
        DeliveryMode::Append => return None,
        _ if files.is_empty() => return None,
        DeliveryMode::Upsert if files.len() == 1 => return files.first().cloned(),
        DeliveryMode::ReplaceAll => return files.last().cloned(),
        _ => {}
    }
    let listed = snapshot::listing(&files)?;
    let dir = lake.root.parent()?.join("current");
    let file = dir.join(format!("{name}.{}.parquet", snapshot::signature(&listed)));
    if file.is_file() {
        return Some(file);
    }
    let started = std::time::Instant::now();
    let prev = match mode {
        DeliveryMode::Upsert => snapshot::earlier_state(&dir, name, &files, &listed),
        _ => None,
    };
    let sql = match &prev {
        Some(prev) => {
            let prev_table = format!("__prev_{name}");
            let registered = ctx
                .register_parquet(
                    &prev_table,
                    prev.file.display().to_string(),
                    ParquetReadOptions::default().schema(&project.schemas[name].lake_schema()),
                )
                .await;
            match registered {
                Ok(()) => upsert_since_sql(project, name, &prev_table, prev.last_delivery),
                Err(e) => {
                    tracing::warn!(table = name, error = %e, "earlier state unreadable");
                    view_sql.to_string()
                }
            }
        }
        None => view_sql.to_string(),
    };
    // Any failure here only means the view is used instead; the error (with its causes) is
    // logged below.
    type AnyError = Box<dyn std::error::Error + Send + Sync>;
    let write = async {
        let df = ctx.sql(&sql).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let mut stream = df.execute_stream().await?;
        let out = Lake::at(dir.clone()).with_settings(project.settings.lake);
        let mut w = out.create_with_key(
            file.clone(),
            schema,
            &project.schemas[name].distinct_columns(),
        )?;
        while let Some(b) = stream.next().await {
            w.write(&b?)?;
        }
        let done = w.finish()?;
        let rows = done.rows;
        done.commit()?;
        snapshot::write_listing(&file, &listed)?;
        Ok::<u64, AnyError>(rows)
    };
    let written = write.await;
    if prev.is_some() {
        let _ = ctx.deregister_table(format!("__prev_{name}"));
    }
    match written {
        Ok(rows) => {
            snapshot::remove_stale(&dir, name, &file);
            tracing::info!(
                table = name,
                rows,
                incremental = prev.is_some(),
                millis = started.elapsed().as_millis() as u64,
                "current state materialised"
            );
            Some(file)
        }
        Err(e) => {
            let mut chain = e.to_string();
            let mut src = e.source();
            while let Some(c) = src {
                chain = format!("{chain}: {c}");
                src = c.source();
            }
            tracing::warn!(table = name, error = %chain, "current state not materialised; using the view");
            None
        }
    }
}

/// An upsert table's current state from an earlier state (`prev`, holding every delivery up to
/// `last`) and the deliveries after it.
fn upsert_since_sql(project: &Project, name: &str, prev: &str, last: i64) -> String {
    let schema = &project.schemas[name];
    let cols: Vec<String> = schema
        .lake_schema()
        .fields()
        .iter()
        .map(|f| format!("p.\"{}\"", f.name()))
        .collect();
    let on: Vec<String> = schema
        .key
        .iter()
        .map(|&k| format!("h.\"{0}\" = p.\"{0}\"", schema.columns[k].name))
        .collect();
    format!(
        "SELECT {} FROM \"{prev}\" AS p WHERE NOT EXISTS (SELECT 1 FROM \"{name}_history\" AS h WHERE h.\"_delivery\" > {last} AND {}) UNION ALL {}",
        cols.join(", "),
        on.join(" AND "),
        current_state_sql(project, name, Some(last))
    )
}

/// The current state of canonical table `name` under its feed's delivery mode, as a SELECT over
/// `<name>_history`; with `since`, only the current rows that came from deliveries after it.
///
/// The `since` form filters history *before* the window: under every mode the current row of a
/// key (or period) touched after `since` is the latest among the rows delivered after `since`,
/// so the result equals `SELECT … FROM <view> WHERE _delivery > since` while reading only the
/// new deliveries (the exchange's incremental packages stay cheap on years of history).
pub fn current_state_sql(project: &Project, name: &str, since: Option<i64>) -> String {
    let schema = &project.schemas[name];
    let lake_schema = schema.lake_schema();
    let history = format!("{name}_history");
    let cols: Vec<String> = lake_schema
        .fields()
        .iter()
        .map(|f| format!("\"{}\"", f.name()))
        .collect();
    let cols = cols.join(", ");
    let key: Vec<String> = schema
        .key
        .iter()
        .map(|&k| format!("\"{}\"", schema.columns[k].name))
        .collect();
    let source = match since {
        Some(s) => format!("(SELECT * FROM \"{history}\" WHERE \"_delivery\" > {s})"),
        None => format!("\"{history}\""),
    };
    match project.table_mode(name) {
        DeliveryMode::Append => format!("SELECT {cols} FROM {source}"),
        DeliveryMode::Upsert => format!(
            "SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {} ORDER BY \"_delivery\" DESC, \"_source_row\" DESC) AS \"__rn\" FROM {source}) WHERE \"__rn\" = 1",
            key.join(", ")
        ),
        DeliveryMode::ReplaceAll => format!(
            "SELECT {cols} FROM {source} WHERE \"_delivery\" = (SELECT max(\"_delivery\") FROM \"{history}\")"
        ),
        DeliveryMode::ReplacePeriod => match project.table_period(name) {
            Some(period) => format!(
                "SELECT {cols} FROM (SELECT *, max(\"_delivery\") OVER (PARTITION BY {}) AS \"__latest\" FROM {source}) WHERE \"_delivery\" = \"__latest\"",
                period_partition(period)
            ),
            // `validate` reports a replace_period feed without a usable [period].
            None => format!("SELECT {cols} FROM {source}"),
        },
    }
}

/// The PARTITION BY list of a replace_period view: the row's period at its grain (local time
/// for timestamps), then the `per` columns. A delivery holding any row of a period replaces every
/// earlier row of that period (within the same `per` values).
fn period_partition(period: &crate::config::Period) -> String {
    use crate::config::spec::PeriodGrain;
    let c = format!("\"{}\"", period.column);
    let mut parts = vec![match period.grain {
        PeriodGrain::Value => c,
        PeriodGrain::Day => format!("local_date({c})"),
        PeriodGrain::Week => format!("iso_week({c})"),
        PeriodGrain::Month => format!("local_month({c})"),
        PeriodGrain::Year => format!("substr(local_month({c}), 1, 4)"),
    }];
    parts.extend(period.per.iter().map(|p| format!("\"{p}\"")));
    parts.join(", ")
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

/// The moment models are computed as of: a report for week W sees what had happened by the end
/// of its Sunday; `sanhu status` sees what has happened by now. A feed period whose deadline is
/// after this instant is not judged yet (未到期).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsOf {
    /// The local calendar day of the instant (the day of `{{as_of}}`).
    pub day: chrono::NaiveDate,
    /// The instant itself, UTC.
    pub instant: chrono::DateTime<chrono::Utc>,
}

impl AsOf {
    /// As of the end of a local day: the UTC instant of local midnight after it.
    pub fn end_of_day(project: &Project, day: chrono::NaiveDate) -> AsOf {
        use chrono::TimeZone;
        let next = day
            .succ_opt()
            .unwrap_or(day)
            .and_hms_opt(0, 0, 0)
            .expect("midnight");
        let instant = project
            .tz
            .from_local_datetime(&next)
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(|| next.and_utc());
        AsOf { day, instant }
    }

    /// As of an instant; its day is the local day it falls on.
    pub fn at(project: &Project, instant: chrono::DateTime<chrono::Utc>) -> AsOf {
        AsOf {
            day: instant.with_timezone(&project.tz).date_naive(),
            instant,
        }
    }

    /// As of now.
    pub fn now(project: &Project) -> AsOf {
        AsOf::at(project, chrono::Utc::now())
    }

    /// The instant as a naive UTC date-time (what `{{as_of_end_utc}}` renders).
    pub fn end_utc(&self) -> chrono::NaiveDateTime {
        self.instant.naive_utc()
    }
}

/// Fill `{{name}}` placeholders from the project settings and the as-of date.
pub fn render_sql(project: &Project, sql: &str, as_of: AsOf) -> String {
    let c = &project.settings.clearance;
    let sql = sql
        .replace("{{outlier_hours}}", &c.outlier_hours.to_string())
        .replace("{{baseline_period}}", &c.baseline_period)
        .replace("{{timezone}}", &project.tz.to_string())
        .replace("{{as_of}}", &as_of.day.format("%Y-%m-%d").to_string())
        .replace("{{as_of_week}}", &functions::iso_week_of(as_of.day))
        .replace(
            "{{as_of_end_utc}}",
            &as_of.end_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        );
    match &project.credit {
        Some(c) => c.render(&sql),
        None => sql,
    }
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

/// `{{name}}` placeholders as NULL, so an unrendered model still parses for its references.
fn blank_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                out.push_str("NULL");
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The tables a SQL text reads (lower-cased, CTE names excluded).
pub fn referenced_tables(sql: &str) -> Result<BTreeSet<String>, DataFusionError> {
    use datafusion::sql::parser::DFParser;
    let statements = DFParser::parse_sql(&blank_placeholders(sql))?;
    let mut out = BTreeSet::new();
    for st in &statements {
        let (tables, _ctes) = datafusion::sql::resolve::resolve_table_references(st, true)?;
        for t in tables {
            out.insert(t.table().to_string());
        }
    }
    Ok(out)
}

/// Models in dependency order: a model comes after every model it reads.
pub fn build_order(models: &[Model]) -> Result<Vec<&Model>, TransformError> {
    let names: BTreeSet<&str> = models.iter().map(|m| m.name.as_str()).collect();
    let mut deps: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for m in models {
        let refs = referenced_tables(&m.sql).map_err(|e| sql_error(m, &e))?;
        deps.insert(
            &m.name,
            refs.into_iter()
                .filter(|r| names.contains(r.as_str()) && r != &m.name)
                .collect(),
        );
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < models.len() {
        let ready: Vec<&Model> = models
            .iter()
            .filter(|m| {
                !done.contains(m.name.as_str())
                    && deps[m.name.as_str()]
                        .iter()
                        .all(|d| done.contains(d.as_str()))
            })
            .collect();
        if ready.is_empty() {
            let left: Vec<&str> = models
                .iter()
                .map(|m| m.name.as_str())
                .filter(|n| !done.contains(n))
                .collect();
            return Err(TransformError::Cycle(left.join(" → ")));
        }
        for m in ready {
            done.insert(&m.name);
            order.push(m);
        }
    }
    Ok(order)
}

/// A model and everything it depends on (for `--select`).
pub fn with_upstream<'a>(
    models: &'a [Model],
    selected: &str,
) -> Result<BTreeSet<&'a str>, TransformError> {
    if !models.iter().any(|m| m.name == selected) {
        return Err(TransformError::UnknownModel(selected.to_string()));
    }
    let mut out = BTreeSet::new();
    let mut stack = vec![selected.to_string()];
    while let Some(n) = stack.pop() {
        if let Some(m) = models.iter().find(|m| m.name == n)
            && out.insert(m.name.as_str())
        {
            for r in referenced_tables(&m.sql).unwrap_or_default() {
                stack.push(r);
            }
        }
    }
    Ok(out)
}

/// Turn a DataFusion error into `file:line:col: message`, using the parser's span when it has
/// one and otherwise the first place the unknown name appears in the SQL.
pub fn sql_error(model: &Model, e: &DataFusionError) -> TransformError {
    let (line, col) = locate(&model.sql, e);
    let mut message = e.find_root().to_string().replace('\n', " ");
    if matches!(e.find_root(), DataFusionError::ResourcesExhausted(_)) {
        // Not a mistake in the SQL: the query needs more memory than the project allows.
        message.push_str(
            " (the query needs more than [project] memory_limit_mib in sanhu.toml: raise it or \
             remove it; exact percentiles keep every value of every group and cannot spill)",
        );
    }
    TransformError::Sql {
        file: model.file.display().to_string(),
        line,
        col,
        message,
    }
}

fn locate(sql: &str, e: &DataFusionError) -> (usize, usize) {
    for err in e.iter() {
        if let Some(span) = err.diagnostic().and_then(|d| d.span)
            && span.start.line > 0
        {
            return (span.start.line as usize, span.start.column as usize);
        }
    }
    let msg = e.find_root().to_string();
    // "No field named foo", "table 'x' not found", "Invalid function 'f'": quoted names.
    for name in quoted_names(&msg) {
        let bare = name.rsplit('.').next().unwrap_or(&name).to_string();
        if let Some(off) = find_word(sql, &bare) {
            return crate::config::line_col(sql, off);
        }
    }
    (1, 1)
}

fn quoted_names(msg: &str) -> Vec<String> {
    let mut out = Vec::new();
    for q in ['\'', '"', '`'] {
        let parts: Vec<&str> = msg.split(q).collect();
        for (i, p) in parts.iter().enumerate() {
            if i % 2 == 1 && !p.is_empty() && p.len() < 128 {
                out.push(p.to_string());
            }
        }
    }
    if let Some(rest) = msg.split("No field named ").nth(1) {
        let w: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        out.insert(0, w);
    }
    out
}

fn find_word(sql: &str, word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    let lower = sql.to_lowercase();
    let w = word.to_lowercase();
    let bytes = lower.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut start = 0;
    while let Some(pos) = lower[start..].find(&w) {
        let at = start + pos;
        let end = at + w.len();
        let before_ok = at == 0 || !is_ident(bytes[at - 1]);
        let after_ok = end >= bytes.len() || !is_ident(bytes[end]);
        if before_ok && after_ok {
            return Some(at);
        }
        start = at + 1;
    }
    None
}

/// Plan every model against the declared schemas, without reading data: the check behind
/// `sanhu validate`. Returns every problem found.
pub async fn check_models(project: &Project) -> Vec<Problem> {
    let mut problems = Vec::new();
    let ctx = new_context(project);
    let empty = Lake::new(&std::env::temp_dir().join("sanhu-validate-no-lake"));
    if let Err(e) = register_lake(&ctx, project, &empty).await {
        problems.push(Problem {
            file: project.settings_file.clone(),
            line: 0,
            col: 0,
            message: e.to_string(),
        });
        return problems;
    }
    let _ = ctx.register_table(
        "deliveries",
        Arc::new(MemTable::try_new(deliveries_schema(), vec![vec![]]).expect("schema")),
    );
    let as_of = AsOf::now(project);
    if let Err(e) = register_config(&ctx, project, None, as_of) {
        problems.push(Problem {
            file: project.settings_file.clone(),
            line: 0,
            col: 0,
            message: e.to_string(),
        });
    }
    let order = match build_order(&project.models) {
        Ok(o) => o,
        Err(e) => {
            problems.push(problem_of(project, &e));
            return problems;
        }
    };
    for model in order {
        let sql = render_sql(project, &model.sql, as_of);
        match ctx.sql(&sql).await {
            Ok(df) => {
                let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
                let _ = ctx.register_table(
                    &model.name,
                    Arc::new(MemTable::try_new(schema, vec![vec![]]).expect("schema")),
                );
            }
            Err(e) => problems.push(problem_of(project, &sql_error(model, &e))),
        }
    }
    // Report sheets' SQL must plan too.
    for report in &project.reports {
        for sheet in &report.spec.sheets {
            let sql = render_report_sql(
                sheet.sql.get_ref(),
                "2026-W01",
                "2026-01-01 00:00:00",
                "2026-01-08 00:00:00",
            );
            if let Err(e) = ctx.sql(&sql).await {
                let (l, c) = locate(sheet.sql.get_ref(), &e);
                let (sl, _) = report.source.line_col(sheet.sql.span().start);
                // The SQL string starts on the line after `sql = """`.
                let line = sl + l
                    - if sheet.sql.get_ref().starts_with('\n') {
                        0
                    } else {
                        1
                    };
                problems.push(Problem {
                    file: report.source.path.clone(),
                    line,
                    col: c,
                    message: format!(
                        "sheet `{}`: {}",
                        sheet.name,
                        e.find_root().to_string().replace('\n', " ")
                    ),
                });
            } else if let Ok(df) = ctx.sql(&sql).await {
                let fields: BTreeSet<String> = df
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                for c in &sheet.columns {
                    if !fields.contains(c.field.get_ref()) {
                        problems.push(report.source.problem(
                            c.field.span(),
                            format!(
                                "sheet `{}`: column `{}` is not in its query's result ({})",
                                sheet.name,
                                c.field.get_ref(),
                                fields.iter().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                }
            }
        }
    }
    problems
}

fn problem_of(project: &Project, e: &TransformError) -> Problem {
    match e {
        TransformError::Sql {
            file,
            line,
            col,
            message,
        } => Problem {
            file: file.into(),
            line: *line,
            col: *col,
            message: message.clone(),
        },
        other => Problem {
            file: project.root.join("queries"),
            line: 0,
            col: 0,
            message: other.to_string(),
        },
    }
}

/// Fill a report sheet's parameters. Times are UTC instants of the local week's bounds.
pub fn render_report_sql(
    sql: &str,
    week: &str,
    week_start_utc: &str,
    week_end_utc: &str,
) -> String {
    sql.replace("{week}", week)
        .replace(
            "{week_start}",
            &format!("arrow_cast(TIMESTAMP '{week_start_utc}', 'Timestamp(µs, \"UTC\")')"),
        )
        .replace(
            "{week_end}",
            &format!("arrow_cast(TIMESTAMP '{week_end_utc}', 'Timestamp(µs, \"UTC\")')"),
        )
}

/// What one model build did.
#[derive(Debug, Clone)]
pub struct Built {
    pub model: String,
    pub rows: u64,
    pub millis: u128,
}

/// Which models a build runs.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The models asked for (all when empty).
    pub models: Vec<String>,
    /// Just those models: the models they read are taken as last built, not rebuilt.
    pub only: bool,
}

impl Selection {
    pub fn all() -> Selection {
        Selection::default()
    }

    /// The names to run, or None for every model.
    fn wanted<'a>(&self, models: &'a [Model]) -> Result<Option<BTreeSet<&'a str>>, TransformError> {
        if self.models.is_empty() {
            return Ok(None);
        }
        let mut wanted = BTreeSet::new();
        for s in &self.models {
            if self.only {
                let m = models
                    .iter()
                    .find(|m| &m.name == s)
                    .ok_or_else(|| TransformError::UnknownModel(s.clone()))?;
                wanted.insert(m.name.as_str());
            } else {
                wanted.extend(with_upstream(models, s)?);
            }
        }
        Ok(Some(wanted))
    }
}

/// Run the models (all, or the selection) and write each to the lake.
pub async fn build(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    select: &Selection,
    as_of: AsOf,
) -> Result<Vec<Built>, TransformError> {
    let wanted = select.wanted(&project.models)?;
    if let Some(w) = wanted.as_ref().filter(|_| select.only) {
        // A model left out must have been built before: say so now, not as "table not found"
        // halfway through.
        for m in project
            .models
            .iter()
            .filter(|m| w.contains(m.name.as_str()))
        {
            for r in referenced_tables(&m.sql).unwrap_or_default() {
                if !w.contains(r.as_str())
                    && project.models.iter().any(|u| u.name == r)
                    && !lake.model_file(&r).is_file()
                {
                    return Err(TransformError::NotBuilt {
                        model: m.name.clone(),
                        upstream: r,
                    });
                }
            }
        }
    }
    let mut out = Vec::new();
    for model in build_order(&project.models)? {
        if wanted
            .as_ref()
            .is_some_and(|w| !w.contains(model.name.as_str()))
        {
            continue;
        }
        let started = std::time::Instant::now();
        let sql = render_sql(project, &model.sql, as_of);
        let df = ctx.sql(&sql).await.map_err(|e| sql_error(model, &e))?;
        let plan = df
            .create_physical_plan()
            .await
            .map_err(|e| sql_error(model, &e))?;
        let schema = plan.schema();
        let mut file = lake.create(lake.model_file(&model.name), schema.clone())?;
        for part in branches(&plan) {
            let mut stream = datafusion::physical_plan::execute_stream(part, ctx.task_ctx())
                .map_err(|e| sql_error(model, &e))?;
            while let Some(batch) = stream.next().await {
                let mut batch = batch.map_err(|e| sql_error(model, &e))?;
                if batch.schema() != schema {
                    // A branch may name its columns otherwise, or promise no NULLs where
                    // another has some: its columns go under the result's names.
                    batch = RecordBatch::try_new(schema.clone(), batch.columns().to_vec())
                        .map_err(|e| sql_error(model, &e.into()))?;
                }
                file.write(&batch)?;
            }
        }
        let finished = file.finish()?;
        let rows = finished.rows;
        let path = finished.commit()?;
        ctx.deregister_table(&model.name)?;
        ctx.register_parquet(
            &model.name,
            path.display().to_string(),
            ParquetReadOptions::default(),
        )
        .await?;
        tracing::info!(model = %model.name, rows, "built");
        out.push(Built {
            model: model.name.clone(),
            rows,
            millis: started.elapsed().as_millis(),
        });
    }
    Ok(out)
}

/// The parts of a model's plan to run one after another: the branches of a top-level
/// `UNION ALL`, else the whole plan.
///
/// DataFusion runs the branches of a union at the same time, so a model that is a union of
/// large aggregations (the clearance metrics: one per period kind and slice, each holding every
/// declaration's durations until its groups are done) would hold all of their state at once.
/// Written to the file branch after branch, only one branch's state is held, and each branch
/// still runs on every core. The rows are the same; only their order in the file follows the
/// branches, as `UNION ALL` promises no order.
fn branches(
    plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>,
) -> Vec<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
    use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
    use datafusion::physical_plan::union::UnionExec;
    let mut top = plan;
    if let Some(c) = top.downcast_ref::<CoalescePartitionsExec>() {
        top = c.input();
    }
    match top.downcast_ref::<UnionExec>() {
        Some(u) => u.inputs().clone(),
        None => vec![plan.clone()],
    }
}

/// Run `target` and its upstream models in memory (nothing written to the lake), so a question
/// "as of another date" can be answered without touching the built tables.
pub async fn build_in_memory(
    ctx: &SessionContext,
    project: &Project,
    target: &str,
    as_of: AsOf,
) -> Result<(), TransformError> {
    let wanted = with_upstream(&project.models, target)?;
    for model in build_order(&project.models)? {
        if !wanted.contains(model.name.as_str()) {
            continue;
        }
        let sql = render_sql(project, &model.sql, as_of);
        let df = ctx.sql(&sql).await.map_err(|e| sql_error(model, &e))?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(|e| sql_error(model, &e))?;
        // The physical batches may differ from the logical schema in nullability: use theirs.
        let schema = batches.first().map(|b| b.schema()).unwrap_or(schema);
        ctx.deregister_table(&model.name)?;
        ctx.register_table(
            &model.name,
            Arc::new(MemTable::try_new(schema, vec![batches])?),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str, sql: &str) -> Model {
        Model {
            name: name.into(),
            sql: sql.into(),
            file: format!("queries/{name}.sql").into(),
        }
    }

    #[test]
    fn dependencies_come_from_the_sql() {
        let models = vec![
            model("b", "select * from a join customs_declaration c on true"),
            model("a", "with x as (select 1) select * from x, enterprise"),
            model("c", "select * from b"),
        ];
        let order: Vec<&str> = build_order(&models)
            .unwrap()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(order, vec!["a", "b", "c"]);
        let up = with_upstream(&models, "b").unwrap();
        assert_eq!(up.into_iter().collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn cycles_are_named() {
        let models = vec![model("a", "select * from b"), model("b", "select * from a")];
        assert!(matches!(build_order(&models), Err(TransformError::Cycle(s)) if s == "a → b"));
    }

    #[tokio::test]
    async fn a_top_level_union_runs_branch_by_branch() {
        let ctx = SessionContext::new();
        let plan = |sql: &'static str| {
            let ctx = ctx.clone();
            async move {
                let df = ctx.sql(sql).await.unwrap();
                df.create_physical_plan().await.unwrap()
            }
        };
        let union = plan("SELECT 1 AS a UNION ALL SELECT 2 AS b UNION ALL SELECT 3").await;
        let parts = branches(&union);
        assert_eq!(parts.len(), 3);
        let mut got = Vec::new();
        for p in parts {
            let batches = datafusion::physical_plan::collect(p, ctx.task_ctx())
                .await
                .unwrap();
            for b in batches {
                let col = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                got.extend(col.iter().flatten());
            }
        }
        assert_eq!(got, [1, 2, 3]);
        // A union under something else (a sort, a distinct) is run whole.
        let sorted = plan("SELECT 1 AS a UNION ALL SELECT 2 ORDER BY a").await;
        assert_eq!(branches(&sorted).len(), 1);
        let distinct = plan("SELECT 1 AS a UNION SELECT 2").await;
        assert_eq!(branches(&distinct).len(), 1);
    }

    #[test]
    fn find_word_respects_identifier_bounds() {
        assert_eq!(
            find_word("select declared_at2, declared_at from t", "declared_at"),
            Some(21)
        );
    }
}
