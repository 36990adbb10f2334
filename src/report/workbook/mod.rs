//! The workbook model of the report stage, its cell layout, the `.xlsx` writer and the
//! conversion of query results (Arrow record batches) into model tables.
//!
//! Where it sits: the report stage reads query results from the lake/transform step and writes
//! workbooks for the commerce-bureau analysts. Nothing here knows about intake, source formats,
//! configuration files or the CLI; report builders assemble a [`Workbook`] from tables made with
//! [`table_from_batches`] and hand it to [`write_xlsx`].
//!
//! The model is format-agnostic: it says *what* goes on a sheet (titles, paragraphs, headline
//! figures, tables, charts), not *where*. One layout function (`layout`) decides where every
//! block lands; both the `.xlsx` writer and the golden-test dump (`report::dump`) read that layout,
//! so the dump and the file cannot disagree about cell addresses, formats or ranges.

mod cells;
mod error;
mod layout;
mod look;
mod model;
mod names;
mod serial;
mod widths;
mod writer;

#[cfg(test)]
mod tests;

pub use cells::{infer_format, table_from_batches};
pub use error::ReportError;
pub use look::{AUTO_WIDTH_ROWS, FONT_NAME, FONT_SIZE, MAX_AUTO_WIDTH, MIN_AUTO_WIDTH};
pub use model::{
    Block, ChartKind, ChartSpec, Column, ColumnBinding, ConditionalRule, Fill, Format, Sheet,
    Table, Value, Workbook,
};
pub use names::{sanitize_sheet_name, sheet_names};
pub use widths::{auto_width, text_width};
pub use writer::{render_xlsx, write_xlsx};

pub(crate) use layout::{CondValue, Content, PlacedCell, SeriesName, SheetLayout, layout};
pub(crate) use serial::{date_serial, datetime_serial, format_serial, is_date_format};
