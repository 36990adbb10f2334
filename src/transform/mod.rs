//! Transform: the SQL models under `queries/`, run through DataFusion over the lake.
//!
//! Every canonical table is registered twice: `<table>_history` holds every delivery's rows with
//! their lineage, and `<table>` is the current state under the feed's delivery mode (append: all
//! rows; upsert: the latest delivery's row per key; replace_all: the latest delivery only;
//! replace_period: per period, the rows of the latest delivery that holds that period). The
//! ingest ledger is visible as `deliveries`, rejected rows as `quarantine`. Models are plain SQL
//! files; the tables each one reads are found from the SQL itself, and models run in that
//! dependency order, each result written back to the lake as a table of its own.

mod checks;
pub mod contracts;
mod current;
pub mod functions;
mod graph;
pub mod quantile;
mod registration;
mod snapshot;
mod templating;

pub use checks::{check_models, sql_error};
pub use current::current_state_sql;
pub use graph::{
    Built, Selection, build, build_in_memory, build_order, referenced_tables, with_upstream,
};
pub use registration::{
    new_context, quarantine_schema, register_config, register_lake, register_ledger,
};
pub use templating::{AsOf, render_report_sql, render_sql};

use crate::lake::LakeError;
use datafusion::common::DataFusionError;

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

#[cfg(test)]
mod tests;
