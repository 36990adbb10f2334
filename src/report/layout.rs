//! Report layouts (`reports/*.toml`) filled from the lake into workbooks.
//!
//! A layout lists sheets; each sheet has a SQL query over the lake (with `{{week}}`,
//! `{{week_start}}`, `{{week_end}}` filled in: the `{{name}}` syntax of the models too), the columns to show with their Chinese titles and
//! formats, and optionally a chart. Two editions are written (DOMAIN.md §7): the commerce
//! bureau's internal one with everything, and the circulated one without restricted columns and
//! without sheets marked `internal_only`.

use super::workbook::{
    self, Block, ChartKind, ChartSpec, ColumnBinding, ConditionalRule, Fill, Format, Sheet, Value,
    Workbook,
};
use crate::config::Project;
use crate::config::spec::{Classification, SheetKind};
use crate::transform::render_report_sql;
use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
use datafusion::prelude::SessionContext;
use std::path::PathBuf;

pub use crate::config::spec::Edition;

#[derive(Debug, thiserror::Error)]
pub enum ReportJobError {
    #[error("unknown report `{0}` (reports are the .toml files under reports/)")]
    Unknown(String),
    #[error("bad week `{0}`: expected an ISO week such as 2026-W47")]
    Week(String),
    #[error("report `{report}`, sheet `{sheet}`")]
    Sheet {
        report: String,
        sheet: String,
        #[source]
        source: datafusion::common::DataFusionError,
    },
    #[error("report `{report}`, sheet `{sheet}`")]
    Cells {
        report: String,
        sheet: String,
        #[source]
        source: Box<workbook::ReportError>,
    },
    #[error("creating {0}")]
    Dir(PathBuf, #[source] std::io::Error),
    #[error("writing {0}")]
    Write(PathBuf, #[source] Box<workbook::ReportError>),
}

/// Local Monday of an ISO week and the UTC instants of its start and end.
pub fn week_bounds(
    project: &Project,
    week: &str,
) -> Result<(NaiveDate, String, String), ReportJobError> {
    let norm = crate::normalise::codes::check_iso_week(week)
        .map_err(|_| ReportJobError::Week(week.to_string()))?;
    let (y, w) = norm
        .split_once("-W")
        .ok_or_else(|| ReportJobError::Week(week.to_string()))?;
    let monday =
        NaiveDate::from_isoywd_opt(y.parse().unwrap_or(0), w.parse().unwrap_or(0), Weekday::Mon)
            .ok_or_else(|| ReportJobError::Week(week.to_string()))?;
    let utc = |d: NaiveDate| {
        project
            .tz
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    Ok((monday, utc(monday), utc(monday + chrono::Duration::days(7))))
}

/// The last complete ISO week before `today`.
pub fn last_complete_week(today: NaiveDate) -> String {
    let last_sunday =
        today - chrono::Duration::days(today.weekday().num_days_from_monday() as i64 + 1);
    crate::transform::functions::iso_week_of(last_sunday)
}

fn parse_format(s: &str) -> Format {
    match s {
        "text" => Format::Text,
        "int" | "integer" => Format::Integer,
        "money" | "decimal2" => Format::Decimal(2),
        "decimal1" | "hours" => Format::Decimal(1),
        "percent" => Format::Percent(1),
        "date" => Format::Date,
        "datetime" => Format::DateTime,
        other => Format::Custom(other.to_string()),
    }
}

/// Field names classified restricted in any schema: a report column showing one is dropped
/// from the circulated edition unless the layout classifies it otherwise.
fn restricted_fields(project: &Project) -> std::collections::BTreeSet<String> {
    project
        .schemas
        .values()
        .flat_map(|s| s.columns.iter())
        .filter(|c| c.classification == Classification::Restricted)
        .map(|c| c.name.clone())
        .collect()
}

/// Build the workbook model of one report edition.
pub async fn build_workbook(
    ctx: &SessionContext,
    project: &Project,
    name: &str,
    week: &str,
    edition: Edition,
) -> Result<Workbook, ReportJobError> {
    let report = project
        .report(name)
        .ok_or_else(|| ReportJobError::Unknown(name.to_string()))?;
    let (monday, start, end) = week_bounds(project, week)?;
    let week = crate::transform::functions::iso_week_of(monday);
    let restricted = restricted_fields(project);
    let mut sheets = Vec::new();
    for spec in &report.spec.sheets {
        if spec.internal_only && edition == Edition::Circulated {
            continue;
        }
        let err = |source| ReportJobError::Sheet {
            report: name.to_string(),
            sheet: spec.name.clone(),
            source,
        };
        let cells = |source| ReportJobError::Cells {
            report: name.to_string(),
            sheet: spec.name.clone(),
            source: Box::new(source),
        };
        let sql = render_report_sql(spec.sql.get_ref(), &week, &start, &end);
        let batches = ctx
            .sql(&sql)
            .await
            .map_err(err)?
            .collect()
            .await
            .map_err(err)?;
        let bindings: Vec<ColumnBinding> = spec
            .columns
            .iter()
            .filter(|c| {
                let class = c
                    .classification
                    .unwrap_or(if restricted.contains(c.field.get_ref()) {
                        Classification::Restricted
                    } else {
                        Classification::Shared
                    });
                edition == Edition::Internal || class != Classification::Restricted
            })
            .map(|c| ColumnBinding {
                field: c.field.get_ref().clone(),
                title: c.title.clone(),
                format: c.format.as_deref().map(parse_format),
                width: c.width,
            })
            .collect();
        let mut table =
            workbook::table_from_batches(&bindings, &batches, project.tz).map_err(cells)?;
        table.id = format!("t{}", sheets.len());
        let mut blocks = Vec::new();
        if let Some(t) = &spec.title {
            blocks.push(Block::Title(t.replace("{{week}}", &week)));
        }
        match spec.kind {
            SheetKind::Cover => {
                blocks.insert(
                    0,
                    Block::Title(format!("{}（{}）", report.spec.title, week)),
                );
                let mut kv = vec![
                    (
                        "报告周".to_string(),
                        Value::Text(format!(
                            "{week}（{} 至 {}）",
                            monday,
                            monday + chrono::Duration::days(6)
                        )),
                        Format::Text,
                    ),
                    (
                        "版本".to_string(),
                        Value::Text(edition.label().to_string()),
                        Format::Text,
                    ),
                ];
                if let Some(row) = table.rows.first() {
                    for (c, v) in table.columns.iter().zip(row) {
                        kv.push((c.title.clone(), v.clone(), c.format.clone()));
                    }
                }
                blocks.push(Block::KeyValues(kv));
                if let Some(field) = &spec.paragraph_field {
                    let pb = vec![ColumnBinding {
                        field: field.clone(),
                        title: String::new(),
                        format: Some(Format::Text),
                        width: None,
                    }];
                    let p =
                        workbook::table_from_batches(&pb, &batches, project.tz).map_err(cells)?;
                    if let Some(Value::Text(t)) = p.rows.first().and_then(|r| r.first()) {
                        blocks.push(Block::Paragraph(t.clone()));
                    }
                }
                if let Some(n) = &spec.note {
                    blocks.push(Block::Paragraph(n.clone()));
                }
            }
            SheetKind::Table => {
                if let Some(n) = &spec.note {
                    blocks.push(Block::Paragraph(n.clone()));
                }
                if let Some(status) = &spec.status_column
                    && let Some(ci) = table.columns.iter().position(|c| {
                        &c.title == status
                            || spec
                                .columns
                                .iter()
                                .any(|s| s.field.get_ref() == status && s.title == c.title)
                    })
                {
                    for (text, fill) in [
                        ("逾期", Fill::Red),
                        ("预警", Fill::Amber),
                        ("已完成", Fill::Green),
                        ("未报送", Fill::Red),
                    ] {
                        table.conditional.push(ConditionalRule {
                            column: ci,
                            equals: text.into(),
                            fill,
                        });
                    }
                }
                let mut charts = Vec::new();
                if let Some(ch) = &spec.chart {
                    let pos = |f: &str| {
                        spec.columns
                            .iter()
                            .filter(|c| bindings.iter().any(|b| b.field == *c.field.get_ref()))
                            .position(|c| c.field.get_ref() == f)
                    };
                    if let Some(cat) = pos(ch.category.get_ref()) {
                        let values: Vec<usize> =
                            ch.values.iter().filter_map(|v| pos(v.get_ref())).collect();
                        if !values.is_empty() && !table.rows.is_empty() {
                            charts.push(ChartSpec {
                                kind: match ch.kind {
                                    crate::config::spec::ChartKind::Column => ChartKind::Column,
                                    crate::config::spec::ChartKind::Pie => ChartKind::Pie,
                                    crate::config::spec::ChartKind::Line => ChartKind::Line,
                                },
                                title: ch.title.clone(),
                                table_id: table.id.clone(),
                                category_column: cat,
                                value_columns: values,
                                series_names: None,
                                y_axis_title: ch.y_axis_title.clone(),
                                anchor_cell: None,
                            });
                        }
                    }
                }
                table.freeze_header = true;
                table.autofilter = true;
                blocks.push(Block::Table(table));
                sheets.push(Sheet {
                    name: spec.name.clone(),
                    blocks,
                    charts,
                    tab_color: None,
                });
                continue;
            }
        }
        sheets.push(Sheet {
            name: spec.name.clone(),
            blocks,
            charts: vec![],
            tab_color: None,
        });
    }
    Ok(Workbook {
        title: format!("{}（{}）", report.spec.title, week),
        sheets,
        created: monday.and_hms_opt(0, 0, 0).expect("midnight") + chrono::Duration::days(7),
    })
}

/// Write one edition into `data/reports/<week>/`.
pub async fn write_report(
    ctx: &SessionContext,
    project: &Project,
    name: &str,
    week: &str,
    edition: Edition,
) -> Result<PathBuf, ReportJobError> {
    let wb = build_workbook(ctx, project, name, week, edition).await?;
    let report = project
        .report(name)
        .ok_or_else(|| ReportJobError::Unknown(name.to_string()))?;
    let (monday, _, _) = week_bounds(project, week)?;
    let week = crate::transform::functions::iso_week_of(monday);
    let dir = project.data_dir().join("reports").join(&week);
    std::fs::create_dir_all(&dir).map_err(|e| ReportJobError::Dir(dir.clone(), e))?;
    let file = report
        .spec
        .file_name
        .get_ref()
        .replace("{{week}}", &week)
        .replace("{{edition}}", edition.code());
    let path = dir.join(format!("{file}.xlsx"));
    workbook::write_xlsx(&wb, &path)
        .map_err(|e| ReportJobError::Write(path.clone(), Box::new(e)))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_complete_week_is_before_today() {
        // Friday 2026-11-27 → the week ending Sunday 2026-11-22 is 2026-W47.
        assert_eq!(
            last_complete_week(NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()),
            "2026-W47"
        );
        // On a Monday, the week that ended yesterday.
        assert_eq!(
            last_complete_week(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()),
            "2026-W47"
        );
    }
}
