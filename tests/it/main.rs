//! Integration tests: the real binary on fixture projects in temp dirs. One test crate (not one
//! per file) so the release build links DataFusion once for all of them.

mod common;

mod clearance;
mod credit;
mod database;
mod demo;
mod exchange;
mod ingest;
mod modes;
mod recovery;
mod redelivery;
mod report;
mod serve;
mod shapes;
mod snapshots;
mod status;
mod supervision;
mod validate;
