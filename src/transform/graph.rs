//! The model graph (which model reads which) and running it.

use super::templating::blank_placeholders;
use super::{AsOf, TransformError, render_sql, sql_error};
use crate::config::{Model, Project};
use crate::lake::Lake;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::DataFusionError;
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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
pub(super) fn branches(
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
