//! The current state of a canonical table under its delivery mode.

use super::snapshot;
use crate::config::Project;
use crate::config::spec::DeliveryMode;
use crate::lake::Lake;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;
use std::sync::Arc;

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
pub(super) async fn current_snapshot(
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
