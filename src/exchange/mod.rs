//! Exchange (信息互换): each unit's weekly package of what it is entitled to, and nothing more.
//!
//! Reads the lake only. For every grant of the sharing matrix it selects the allowed columns
//! (restricted columns never reach a unit not named on them) and rows (the grant's filter),
//! writes one Parquet file per table and one xlsx workbook with a sheet per table into
//! `data/outbox/<unit>/<week>/`, and a `manifest.json` with row counts, SHA-256 of every file,
//! the rules applied and the deliveries the rows came from. Packages are incremental by default:
//! for a canonical table only rows from deliveries newer than the unit's last package; models
//! are sent whole. Every table sent is logged in the audit table of the embedded database.

use crate::config::sharing::may_see;
use crate::config::{LINEAGE_DELIVERY, LINEAGE_FILE, LINEAGE_ROW, Project};
use crate::lake::Lake;
use crate::report::workbook::{self, Block, ColumnBinding, Sheet, Workbook};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;
use rusqlite::params;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

// Above `[exchange] xlsx_max_rows` a table goes in Parquet only: the xlsx copy is for people,
// and a sheet model of a million rows would hold gigabytes (measured: 7 GiB RSS for the
// commerce package at one million declarations before that cap).

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("unknown unit `{0}`")]
    UnknownUnit(String),
    #[error("query for {unit}/{table}: {source}")]
    Query {
        unit: String,
        table: String,
        source: datafusion::common::DataFusionError,
    },
    #[error("{0}")]
    Io(PathBuf, #[source] std::io::Error),
    #[error("writing {0}")]
    Lake(PathBuf, #[source] Box<crate::lake::LakeError>),
    #[error("writing {0}")]
    Sheet(PathBuf, #[source] Box<crate::report::workbook::ReportError>),
    #[error("audit log")]
    Audit(#[from] rusqlite::Error),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ManifestTable {
    pub table: String,
    pub rows: u64,
    pub file: String,
    pub sha256: String,
    pub rule: String,
    pub columns: Vec<String>,
    pub filter: Option<String>,
    pub withheld_columns: Vec<String>,
    pub mode: &'static str,
    pub since_delivery: Option<i64>,
    pub deliveries: Vec<i64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Manifest {
    pub unit: String,
    pub unit_name: String,
    pub week: String,
    pub generated_at: String,
    pub full: bool,
    pub workbook: Option<String>,
    pub workbook_sha256: Option<String>,
    pub tables: Vec<ManifestTable>,
}

/// The audit table's database (`exchange_audit` in `sanhu.db`).
pub fn audit_db(data_dir: &Path) -> Result<crate::state::Db, ExchangeError> {
    Ok(crate::state::Db::open(data_dir)?)
}

fn sha256(path: &Path) -> Result<String, ExchangeError> {
    let bytes = std::fs::read(path).map_err(|e| ExchangeError::Io(path.to_path_buf(), e))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Write the packages of `units` (all when empty) for `week`.
pub async fn exchange(
    ctx: &SessionContext,
    project: &Project,
    lake: &Lake,
    units: &[String],
    week: &str,
    full: bool,
) -> Result<Vec<(Manifest, PathBuf)>, ExchangeError> {
    let data = project.data_dir();
    let audit = audit_db(&data)?;
    let targets: Vec<String> = if units.is_empty() {
        project.units.iter().map(|u| u.code.clone()).collect()
    } else {
        units.to_vec()
    };
    let xlsx_max_rows = project.settings.exchange.xlsx_max_rows;
    let mut out = Vec::new();
    for unit in &targets {
        let u = project
            .unit(unit)
            .ok_or_else(|| ExchangeError::UnknownUnit(unit.clone()))?;
        let dir = data.join("outbox").join(unit).join(week);
        std::fs::create_dir_all(&dir).map_err(|e| ExchangeError::Io(dir.clone(), e))?;
        let mut tables = Vec::new();
        let mut sheets = Vec::new();
        let mut seen = BTreeSet::new();
        // One commit (one fsync) per package, after its manifest is written: a package cut short
        // leaves no audit rows, so its rows are sent again next time rather than lost.
        let audit = audit.conn().unchecked_transaction()?;
        for grant in project.grants.iter().filter(|g| &g.unit == unit) {
            if !seen.insert(grant.table.clone()) {
                continue; // the first grant for a table wins (more specific entries come first)
            }
            let canonical = project.schemas.get(&grant.table);
            if canonical.is_none() && !lake.model_file(&grant.table).is_file() {
                continue; // a model not built yet: nothing to send
            }
            // Columns the table has, then those this grant and the classification allow.
            let available: Vec<String> = match canonical {
                Some(s) => s
                    .lake_schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect(),
                None => {
                    let df = ctx.table(grant.table.as_str()).await.map_err(|source| {
                        ExchangeError::Query {
                            unit: unit.clone(),
                            table: grant.table.clone(),
                            source,
                        }
                    })?;
                    df.schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect()
                }
            };
            let wanted: Vec<String> = match &grant.columns {
                Some(cols) => cols.clone(),
                None => available
                    .iter()
                    .filter(|c| ![LINEAGE_FILE, LINEAGE_ROW].contains(&c.as_str()))
                    .cloned()
                    .collect(),
            };
            let mut columns = Vec::new();
            let mut withheld = Vec::new();
            for c in wanted {
                if !available.contains(&c) {
                    continue;
                }
                if may_see(&project.schemas, &grant.table, &c, unit) {
                    columns.push(c)
                } else {
                    withheld.push(c)
                }
            }
            if canonical.is_some() && !columns.iter().any(|c| c == LINEAGE_DELIVERY) {
                columns.push(LINEAGE_DELIVERY.to_string());
            }
            let since: Option<i64> = if full || canonical.is_none() {
                None
            } else {
                audit
                    .query_row("SELECT max(max_delivery) FROM exchange_audit WHERE unit = ?1 AND table_name = ?2", params![unit, grant.table], |r| r.get(0))
                    .unwrap_or(None)
            };
            let mut conds = Vec::new();
            if let Some(f) = &grant.filter {
                conds.push(format!("({f})"));
            }
            // Incremental: the current rows from deliveries after the last package, read from
            // those deliveries only (not the whole history behind the current-state view).
            let from = match (canonical, since) {
                (Some(_), Some(_)) => format!(
                    "({}) AS {}",
                    crate::transform::current_state_sql(project, &grant.table, since),
                    quote_ident(&grant.table)
                ),
                _ => quote_ident(&grant.table),
            };
            let sql = format!(
                "SELECT {} FROM {}{}",
                columns
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                from,
                if conds.is_empty() {
                    String::new()
                } else {
                    format!(" WHERE {}", conds.join(" AND "))
                }
            );
            let err = |source| ExchangeError::Query {
                unit: unit.clone(),
                table: grant.table.clone(),
                source,
            };
            // Streamed into the Parquet file; batches are kept for the xlsx edition only while
            // the table still fits in it, so a large table never sits in memory whole.
            let df = ctx.sql(&sql).await.map_err(err)?;
            let schema: std::sync::Arc<datafusion::arrow::datatypes::Schema> =
                std::sync::Arc::new(df.schema().as_arrow().clone());
            let mut stream = df.execute_stream().await.map_err(err)?;
            let file = dir.join(format!("{}.parquet", grant.table));
            let tmp_lake = Lake::at(dir.clone());
            let write_err =
                |e: crate::lake::LakeError| ExchangeError::Lake(file.clone(), Box::new(e));
            let mut w = tmp_lake.create(file.clone(), schema).map_err(write_err)?;
            let mut rows: u64 = 0;
            let mut deliveries = BTreeSet::new();
            let mut batches: Vec<RecordBatch> = Vec::new();
            while let Some(b) = futures::StreamExt::next(&mut stream).await {
                let b = b.map_err(err)?;
                rows += b.num_rows() as u64;
                if canonical.is_some()
                    && let Some(col) = b.column_by_name(LINEAGE_DELIVERY)
                {
                    deliveries.extend(col.as_primitive::<Int64Type>().iter().flatten());
                }
                w.write(&b).map_err(write_err)?;
                if rows <= xlsx_max_rows {
                    batches.push(b);
                } else {
                    batches.clear();
                }
            }
            w.finish().and_then(|f| f.commit()).map_err(write_err)?;
            let digest = sha256(&file)?;
            if rows > xlsx_max_rows {
                sheets.push(Sheet {
                    name: grant.table.chars().take(31).collect(),
                    blocks: vec![Block::Paragraph(format!(
                        "{}：共{}行，超过表格版上限{}行，请使用同目录下的 {}.parquet 文件。",
                        grant.rule, rows, xlsx_max_rows, grant.table
                    ))],
                    charts: vec![],
                    tab_color: None,
                });
            } else {
                let bindings: Vec<ColumnBinding> = columns
                    .iter()
                    .map(|c| ColumnBinding {
                        field: c.clone(),
                        title: c.clone(),
                        format: None,
                        width: None,
                    })
                    .collect();
                let mut t = workbook::table_from_batches(&bindings, &batches, project.tz)
                    .map_err(|e| ExchangeError::Sheet(file.clone(), Box::new(e)))?;
                t.id = format!("t{}", sheets.len());
                sheets.push(Sheet {
                    name: grant.table.chars().take(31).collect(),
                    blocks: vec![
                        Block::Paragraph(format!("{}（{}行）", grant.rule, rows)),
                        Block::Table(t),
                    ],
                    charts: vec![],
                    tab_color: None,
                });
            }
            let max_delivery = deliveries.iter().max().copied().or(since);
            audit.execute(
                "INSERT INTO exchange_audit (unit, week, table_name, rows, rule, mode, max_delivery, package, sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![unit, week, grant.table, rows as i64, grant.rule, if since.is_some() { "incremental" } else { "full" }, max_delivery, dir.display().to_string(), digest, chrono::Utc::now().to_rfc3339()],
            )?;
            tables.push(ManifestTable {
                table: grant.table.clone(),
                rows,
                file: file
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default(),
                sha256: digest,
                rule: grant.rule.clone(),
                columns,
                filter: grant.filter.clone(),
                withheld_columns: withheld,
                mode: if since.is_some() {
                    "incremental"
                } else {
                    "full"
                },
                since_delivery: since,
                deliveries: deliveries.into_iter().collect(),
            });
        }
        let (wb_name, wb_sha) = if sheets.is_empty() {
            (None, None)
        } else {
            let name = format!("{}-{}.xlsx", unit, week);
            let path = dir.join(&name);
            let wb = Workbook {
                title: format!("{} 信息互换数据包 {}", u.name, week),
                sheets,
                created: chrono::NaiveDate::from_ymd_opt(2016, 5, 20)
                    .expect("date")
                    .and_hms_opt(0, 0, 0)
                    .expect("time"),
            };
            workbook::write_xlsx(&wb, &path)
                .map_err(|e| ExchangeError::Sheet(path.clone(), Box::new(e)))?;
            (Some(name), Some(sha256(&path)?))
        };
        let manifest = Manifest {
            unit: unit.clone(),
            unit_name: u.name.clone(),
            week: week.to_string(),
            generated_at: chrono::Utc::now()
                .with_timezone(&project.tz)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            full,
            workbook: wb_name,
            workbook_sha256: wb_sha,
            tables,
        };
        let mpath = dir.join("manifest.json");
        std::fs::write(
            &mpath,
            serde_json::to_string_pretty(&manifest).unwrap_or_default(),
        )
        .map_err(|e| ExchangeError::Io(mpath.clone(), e))?;
        audit.commit()?;
        out.push((manifest, mpath));
    }
    Ok(out)
}

/// One audit row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub unit: String,
    pub week: String,
    pub table: String,
    pub rows: i64,
    pub rule: String,
    pub mode: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

pub fn audit_rows(data_dir: &Path, unit: Option<&str>) -> Result<Vec<AuditRow>, ExchangeError> {
    let conn = audit_db(data_dir)?;
    let mut st = conn.conn().prepare("SELECT id, unit, week, table_name, rows, rule, mode, created_at FROM exchange_audit WHERE ?1 IS NULL OR unit = ?1 ORDER BY id")?;
    let rows = st
        .query_map(params![unit], |r| {
            Ok(AuditRow {
                id: r.get(0)?,
                unit: r.get(1)?,
                week: r.get(2)?,
                table: r.get(3)?,
                rows: r.get(4)?,
                rule: r.get(5)?,
                mode: r.get(6)?,
                created_at: {
                    let t: String = r.get(7)?;
                    chrono::DateTime::parse_from_rfc3339(&t)
                        .map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                7,
                                rusqlite::types::Type::Text,
                                Box::new(e),
                            )
                        })?
                        .with_timezone(&chrono::Utc)
                },
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
