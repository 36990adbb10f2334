//! The workbook model: what goes on a sheet (titles, paragraphs, headline figures, tables,
//! charts), not where.

use std::borrow::Cow;

use chrono::{NaiveDate, NaiveDateTime};

/// A report workbook: sheets in tab order.
#[derive(Debug, Clone, PartialEq)]
pub struct Workbook {
    /// Document title (file properties), e.g. "鄂尔多斯市大通关周报（2026年第45周）".
    pub title: String,
    pub sheets: Vec<Sheet>,
    /// Creation time recorded in the file properties. It is part of the model (never "now") so
    /// that the same model always gives a byte-identical file. Excel reads it as UTC.
    pub created: NaiveDateTime,
}

/// One worksheet: blocks laid out top to bottom from column A, one blank row between blocks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sheet {
    /// Chinese name as the author wants it; the writer sanitises it to Excel's rules (≤ 31
    /// characters, none of `[]:*?/\`) and dedupes it: see [`sheet_names`].
    ///
    /// [`sheet_names`]: super::sheet_names
    pub name: String,
    pub blocks: Vec<Block>,
    /// Native Excel charts over a [`Table`] block, found by [`Table::id`] (in any sheet).
    pub charts: Vec<ChartSpec>,
    /// Tab colour as 0xRRGGBB.
    pub tab_color: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A big bold line.
    Title(String),
    /// Wrapped text over the width of the sheet's widest table (merged cells).
    Paragraph(String),
    /// Headline figures for a cover sheet: label in column A, value in column B.
    KeyValues(Vec<(String, Value, Format)>),
    Table(Table),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Charts refer to the table by this id; ids must be unique in a workbook (empty = none).
    pub id: String,
    pub columns: Vec<Column>,
    /// Every row has exactly one value per column.
    pub rows: Vec<Vec<Value>>,
    /// Freeze the panes below this table's header row. Applied only when the table is the only
    /// table on its sheet (freezing below one of several tables would pin the wrong rows).
    pub freeze_header: bool,
    /// Excel allows one autofilter per sheet: the first table on a sheet that asks gets it.
    pub autofilter: bool,
    pub conditional: Vec<ConditionalRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub title: String,
    pub format: Format,
    /// Column width in Excel character units; `None` = from content (see [`auto_width`]).
    ///
    /// [`auto_width`]: super::auto_width
    pub width: Option<f64>,
}

impl Column {
    pub fn new(title: impl Into<String>, format: Format) -> Column {
        Column {
            title: title.into(),
            format,
            width: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Empty,
    Text(String),
    Int(i64),
    Number(f64),
    /// Written as the text 是/否: analysts read Chinese, not TRUE/FALSE.
    Bool(bool),
    Date(NaiveDate),
    /// Already in local time: the writer shows it as it is.
    DateTime(NaiveDateTime),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Format {
    #[default]
    General,
    /// `@`
    Text,
    /// `#,##0`
    Integer,
    /// `#,##0.00` with the given number of decimals.
    Decimal(u8),
    /// `0.0%` with the given number of decimals.
    Percent(u8),
    /// `yyyy-mm-dd`
    Date,
    /// `yyyy-mm-dd hh:mm`
    DateTime,
    /// Durations in hours: `0.0`. The unit belongs in the column title ("中位数（小时）"), not in
    /// every cell, so the number stays a plain number for analysts who copy it elsewhere.
    Hours,
    /// Any Excel number format.
    Custom(String),
}

impl Format {
    /// The Excel number format string.
    pub fn num_format(&self) -> Cow<'_, str> {
        match self {
            Format::General => Cow::Borrowed("General"),
            Format::Text => Cow::Borrowed("@"),
            Format::Integer => Cow::Borrowed("#,##0"),
            Format::Decimal(0) => Cow::Borrowed("#,##0"),
            // Excel shows at most 30 decimals.
            Format::Decimal(n) => {
                Cow::Owned(format!("#,##0.{}", "0".repeat(usize::from(*n).min(30))))
            }
            Format::Percent(0) => Cow::Borrowed("0%"),
            Format::Percent(n) => Cow::Owned(format!("0.{}%", "0".repeat(usize::from(*n).min(30)))),
            Format::Date => Cow::Borrowed("yyyy-mm-dd"),
            Format::DateTime => Cow::Borrowed("yyyy-mm-dd hh:mm"),
            Format::Hours => Cow::Borrowed("0.0"),
            Format::Custom(s) => Cow::Borrowed(s),
        }
    }

    pub(super) fn is_numeric(&self) -> bool {
        matches!(
            self,
            Format::Integer | Format::Decimal(_) | Format::Percent(_) | Format::Hours
        )
    }
}

/// Highlight the cells of one column whose value equals `equals` (a native Excel conditional
/// format, so it stays right when an analyst edits or sorts the sheet).
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionalRule {
    /// 0-based index into [`Table::columns`].
    pub column: usize,
    /// Compared as a number when the column has a numeric format and this parses as one,
    /// otherwise as text.
    pub equals: String,
    pub fill: Fill,
}

/// Excel's built-in "light fill with dark text" presets, which analysts already recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fill {
    Red,
    Amber,
    Green,
}

impl Fill {
    /// (background, font) colours.
    pub(super) fn colors(self) -> (u32, u32) {
        match self {
            Fill::Red => (0xFFC7CE, 0x9C0006),
            Fill::Amber => (0xFFEB9C, 0x9C5700),
            Fill::Green => (0xC6EFCE, 0x006100),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Fill::Red => "red",
            Fill::Amber => "amber",
            Fill::Green => "green",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    pub kind: ChartKind,
    pub title: String,
    /// [`Table::id`] of the table the chart plots.
    pub table_id: String,
    /// 0-based column of the table used as categories (x axis / pie slices).
    pub category_column: usize,
    /// 0-based columns plotted as series (exactly one for a pie).
    pub value_columns: Vec<usize>,
    /// Series names; `None` = the column headers (as cell references, so renaming a header in
    /// Excel renames the series).
    pub series_names: Option<Vec<String>>,
    pub y_axis_title: Option<String>,
    /// Top-left cell (0-based row, column); `None` = right of the sheet's content, charts
    /// without an anchor stacked downwards.
    pub anchor_cell: Option<(u32, u16)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Line,
    Column,
    Pie,
}

impl ChartKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ChartKind::Line => "line",
            ChartKind::Column => "column",
            ChartKind::Pie => "pie",
        }
    }
}

/// Which query-result field becomes which report column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnBinding {
    /// Arrow field name in the query result.
    pub field: String,
    /// Chinese column header.
    pub title: String,
    /// `None` = inferred from the Arrow type (see [`table_from_batches`]).
    ///
    /// [`table_from_batches`]: super::table_from_batches
    pub format: Option<Format>,
    pub width: Option<f64>,
}
