//! sanhu (三互): the data side of the Ordos "three mutuals" big-clearance plan.
//!
//! Modules follow the data, in order: `config` (project files, checked up front) → `intake`
//! (one reader per file format) → `normalise` (headers, types, codes, row checks) → `lake`
//! (Parquet files and the ingest ledger) → `transform` (SQL models in DataFusion) → `report`
//! (workbooks from layouts) → `exchange` (each unit's package under the sharing matrix). `schedule` drives jobs on cron slots and file arrivals; `jobs` chains the stages; `demo` writes synthetic agency drops;
//! `cli` is the thin shell over all of it.

pub mod access;
pub mod cli;
pub mod config;
pub mod demo;
pub mod exchange;
pub mod intake;
pub mod jobs;
pub mod lake;
pub mod normalise;
pub mod report;
pub mod schedule;
pub mod state;
pub mod transform;
