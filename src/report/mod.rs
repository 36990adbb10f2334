//! Report stage: turns query results into Excel workbooks for the commerce-bureau analysts.
//!
//! It sits at the end of the flow (inbox → intake → normalise → lake → transform → lake →
//! **report**): it reads query results as Arrow record batches and writes `.xlsx` files. It knows
//! nothing of intake, source formats or the CLI.
//!
//! - [`workbook`]: the format-agnostic workbook model, the shared cell layout, the `.xlsx` writer
//!   and the Arrow → table conversion.
//! - [`dump`]: readable text dumps of a model (and of a written file) for golden tests.
//! - [`layout`]: report layouts from `reports/*.toml` filled from the lake, in two editions.
//! - [`template`]: progress-report templates the units fill in and drop back.

pub mod dump;
pub mod layout;
pub mod template;
pub mod workbook;

pub use layout::{
    Edition, ReportJobError, build_workbook, last_complete_week, week_bounds, write_report,
};
