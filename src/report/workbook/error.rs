//! Errors of the report stage.

use std::path::PathBuf;

use chrono::NaiveDateTime;
use rust_xlsxwriter as xlsx;

/// Errors of the report stage. Messages name the sheet, table, column or field involved.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "query result has no field `{field}` (wanted for report column \"{title}\"); available fields: {}",
        available.join(", ")
    )]
    MissingField {
        field: String,
        title: String,
        available: Vec<String>,
    },

    #[error(
        "field `{field}` (report column \"{title}\") has Arrow type {data_type}, which a report cannot show"
    )]
    UnsupportedType {
        field: String,
        title: String,
        data_type: String,
    },

    #[error("field `{field}` (report column \"{title}\"), result row {row}: {message}")]
    BadValue {
        field: String,
        title: String,
        row: usize,
        message: String,
    },

    #[error("sheet \"{sheet}\": table `{table}` has no columns")]
    NoColumns { sheet: String, table: String },

    #[error(
        "sheet \"{sheet}\": table `{table}` data row {row} has {found} values, but the table has {expected} columns"
    )]
    RowWidth {
        sheet: String,
        table: String,
        row: usize,
        found: usize,
        expected: usize,
    },

    #[error("sheet \"{sheet}\": table id `{table}` is already used on sheet \"{other_sheet}\"")]
    DuplicateTableId {
        sheet: String,
        table: String,
        other_sheet: String,
    },

    #[error(
        "sheet \"{sheet}\": table `{table}`: conditional rule for \"{equals}\" names column {column}, but the table has {columns} columns"
    )]
    ConditionalColumn {
        sheet: String,
        table: String,
        equals: String,
        column: usize,
        columns: usize,
    },

    #[error("sheet \"{sheet}\": chart \"{chart}\": {message}")]
    Chart {
        sheet: String,
        chart: String,
        message: String,
    },

    #[error(
        "sheet \"{sheet}\": content needs {rows} rows and {cols} columns, more than Excel allows (1048576 × 16384)"
    )]
    TooLarge { sheet: String, rows: u64, cols: u64 },

    #[error("workbook \"{title}\" has no sheets")]
    NoSheets { title: String },

    #[error("workbook \"{title}\": creation time {created} is outside Excel's years 1900–9999")]
    BadCreated {
        title: String,
        created: NaiveDateTime,
    },

    #[error("workbook \"{title}\": {action}: {source}")]
    XlsxWorkbook {
        title: String,
        action: String,
        #[source]
        source: xlsx::XlsxError,
    },

    #[error("sheet \"{sheet}\": {action}: {source}")]
    Xlsx {
        sheet: String,
        action: String,
        #[source]
        source: xlsx::XlsxError,
    },

    #[error("{}: {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: cannot read the workbook back: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: calamine::XlsxError,
    },
}
