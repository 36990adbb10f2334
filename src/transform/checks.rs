//! Validating models without data, and errors located as `file:line:col`.

use super::registration::deliveries_schema;
use super::{
    AsOf, TransformError, build_order, new_context, register_config, register_lake,
    render_report_sql, render_sql,
};
use crate::config::{Model, Problem, Project};
use crate::lake::Lake;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::DataFusionError;
use datafusion::datasource::MemTable;
use std::collections::BTreeSet;
use std::sync::Arc;

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

pub(super) fn find_word(sql: &str, word: &str) -> Option<usize> {
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
    // The models sanhu's own code reads must be there, with the columns it reads.
    for c in super::contracts::CONTRACTS {
        let file = project
            .root
            .join("queries")
            .join(format!("{}.sql", c.model));
        let Some(model) = project.models.iter().find(|m| m.name == c.model) else {
            problems.push(Problem {
                file,
                line: 0,
                col: 0,
                message: format!(
                    "model `{}` is missing: {} reads it (columns {}); restore queries/{}.sql",
                    c.model,
                    c.used_by,
                    c.columns.join(", "),
                    c.model
                ),
            });
            continue;
        };
        let Ok(provider) = ctx.table_provider(c.model).await else {
            continue; // it did not plan: already a problem above
        };
        let schema = provider.schema();
        let missing: Vec<&str> = c
            .columns
            .iter()
            .copied()
            .filter(|col| schema.field_with_name(col).is_err())
            .collect();
        if !missing.is_empty() {
            problems.push(Problem {
                file: model.file.clone(),
                line: 1,
                col: 1,
                message: format!(
                    "model `{}` must give column(s) {}: {} reads them",
                    c.model,
                    missing.join(", "),
                    c.used_by
                ),
            });
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
