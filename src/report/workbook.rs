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

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rust_xlsxwriter as xlsx;

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------

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

    fn is_numeric(&self) -> bool {
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
    fn colors(self) -> (u32, u32) {
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
    pub format: Option<Format>,
    pub width: Option<f64>,
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Look: fonts and sizes
// ---------------------------------------------------------------------------------------------

/// Default font: 等线 (DengXian), the body font of Chinese-locale Office since 2016 and the one
/// Chinese Excel itself puts in new workbooks, so the report looks native to the analysts; WPS
/// ships it too, and where it is missing (LibreOffice on Linux) fontconfig substitutes a CJK
/// sans such as Noto Sans CJK. 微软雅黑 was the alternative, but its tall line height makes rows
/// look cramped at Excel's default row height.
pub const FONT_NAME: &str = "等线";
/// 11 pt, the size Chinese Excel uses with 等线: the default row height (15 pt) and column width
/// metrics that rust_xlsxwriter assumes for placing charts stay right.
pub const FONT_SIZE: f64 = 11.0;
/// GB2312 charset, so Excel picks the font's Chinese glyphs.
const FONT_CHARSET: u8 = 134;
const TITLE_SIZE: f64 = 16.0;
const TITLE_ROW_HEIGHT: f64 = 24.0;
/// Points per wrapped line at 11 pt, and Excel's default row height.
const LINE_HEIGHT: f64 = 15.0;
const MAX_ROW_HEIGHT: f64 = 409.0;
/// Excel's default column width in character units.
const DEFAULT_COL_WIDTH: f64 = 8.43;
/// Auto widths are clamped to this range (character units).
pub const MIN_AUTO_WIDTH: f64 = 6.0;
pub const MAX_AUTO_WIDTH: f64 = 60.0;
/// Only the first rows of a table are measured for auto widths: enough to see the data's shape,
/// cheap on a 100k-row table.
pub const AUTO_WIDTH_ROWS: usize = 1000;
/// A paragraph is merged over at least this many width units, so text is not squeezed into a
/// narrow table's width.
const MIN_PARAGRAPH_WIDTH: f64 = 48.0;
const CHART_WIDTH_PX: u32 = 720;
const CHART_HEIGHT_PX: u32 = 360;
/// Rows between the tops of default-placed charts (360 px at 20 px per row, plus a gap).
const CHART_ROW_STRIDE: u32 = 20;
/// Total width above which a sheet prints landscape.
const LANDSCAPE_WIDTH: f64 = 100.0;

const MAX_ROWS: u64 = 1_048_576;
const MAX_COLS: u64 = 16_384;
/// Excel keeps 15 significant digits: larger integers are written as text so no digit is lost.
const EXACT_INT_LIMIT: u64 = 999_999_999_999_999;
/// Excel's limit on the characters in one cell.
const MAX_CELL_CHARS: usize = 32_767;

static DATE_FORMAT: Format = Format::Date;
static DATETIME_FORMAT: Format = Format::DateTime;
static GENERAL_FORMAT: Format = Format::General;

// ---------------------------------------------------------------------------------------------
// Sheet names
// ---------------------------------------------------------------------------------------------

/// The sheet names the writer uses, in order: each sanitised with [`sanitize_sheet_name`], then
/// deduplicated the way Excel compares names (case-insensitively) by appending "(2)", "(3)", …
pub fn sheet_names(wb: &Workbook) -> Vec<String> {
    let mut taken: HashSet<String> = HashSet::new();
    // "History" is reserved by Excel.
    taken.insert("history".to_string());
    let mut names = Vec::with_capacity(wb.sheets.len());
    for (index, sheet) in wb.sheets.iter().enumerate() {
        let base = sanitize_sheet_name(&sheet.name, index);
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name.to_lowercase()) {
            let suffix = format!("({n})");
            let room = 31 - suffix.len();
            name = format!("{}{}", truncate_utf16(&base, room).trim_end(), suffix);
            n += 1;
        }
        taken.insert(name.to_lowercase());
        names.push(name);
    }
    names
}

/// Makes a name Excel accepts while keeping it readable in Chinese: forbidden characters become
/// their full-width forms (`/` → `／`, `:` → `：`, …), control characters become spaces, leading
/// and trailing apostrophes and spaces go, the result is cut to 31 UTF-16 units, and an empty
/// name becomes "工作表N" (N = 1-based sheet position).
pub fn sanitize_sheet_name(name: &str, index: usize) -> String {
    let mapped: String = name
        .chars()
        .map(|c| match c {
            '/' => '／',
            '\\' => '＼',
            ':' => '：',
            '*' => '＊',
            '?' => '？',
            '[' => '［',
            ']' => '］',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let trim = |s: &str| {
        s.trim_matches(|c: char| c == '\'' || c.is_whitespace())
            .to_string()
    };
    let name = trim(truncate_utf16(&trim(&mapped), 31));
    if name.is_empty() {
        format!("工作表{}", index + 1)
    } else {
        name
    }
}

/// The longest prefix of `s` that fits in `units` UTF-16 code units (Excel's measure).
fn truncate_utf16(s: &str, units: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > units {
            return &s[..i];
        }
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Display widths
// ---------------------------------------------------------------------------------------------

/// Display width of text in Excel character units: CJK and full-width characters count 2
/// (a Chinese glyph is about two digits wide), multi-line text counts its longest line.
pub fn text_width(s: &str) -> usize {
    s.split('\n')
        .map(|line| line.chars().map(char_width).sum())
        .max()
        .unwrap_or(0)
}

fn char_width(c: char) -> usize {
    let u = u32::from(c);
    if c.is_control() {
        0
    } else if matches!(u,
        0x1100..=0x115F          // Hangul Jamo
        | 0x2010..=0x2027        // dashes, quotes, ellipsis: full width in Chinese fonts
        | 0x2E80..=0x303E        // CJK radicals, punctuation
        | 0x3041..=0x33FF        // kana, CJK compatibility
        | 0x3400..=0x4DBF        // CJK extension A
        | 0x4E00..=0x9FFF        // CJK unified ideographs
        | 0xA000..=0xA4CF        // Yi
        | 0xAC00..=0xD7A3        // Hangul syllables
        | 0xF900..=0xFAFF        // CJK compatibility ideographs
        | 0xFE30..=0xFE4F        // CJK compatibility forms
        | 0xFF00..=0xFF60        // full-width forms
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD)
    {
        2
    } else {
        1
    }
}

/// Width for a column from its header and the display widths of its values (callers pass the
/// first [`AUTO_WIDTH_ROWS`]): the widest plus two units of cell padding, the header plus room for
/// the autofilter button when there is one, clamped to [`MIN_AUTO_WIDTH`]..=[`MAX_AUTO_WIDTH`].
pub fn auto_width(
    header: &str,
    autofilter: bool,
    value_widths: impl IntoIterator<Item = usize>,
) -> f64 {
    let header = text_width(header) + if autofilter { 4 } else { 2 };
    let values = value_widths.into_iter().max().map_or(0, |w| w + 2);
    (header.max(values) as f64).clamp(MIN_AUTO_WIDTH, MAX_AUTO_WIDTH)
}

/// Approximate width of a cell as Excel displays it with its number format.
fn display_width(content: &Content<'_>, format: &Format) -> usize {
    match content {
        Content::Blank => 0,
        Content::Text(s) => text_width(s),
        Content::Int(i) => number_display(*i as f64, format).chars().count(),
        Content::Number(f) => number_display(*f, format).chars().count(),
        Content::Date(_) | Content::DateTime(_) => match format {
            Format::Date => 10,
            Format::DateTime => 16,
            other => other
                .num_format()
                .chars()
                .filter(|c| !matches!(c, '"' | '\\'))
                .count(),
        },
    }
}

fn number_display(v: f64, format: &Format) -> String {
    match format {
        Format::Integer => group_thousands(&format!("{v:.0}")),
        Format::Decimal(n) => group_thousands(&format!("{v:.*}", usize::from(*n))),
        Format::Percent(n) => format!("{:.*}%", usize::from(*n), v * 100.0),
        Format::Hours => format!("{v:.1}"),
        Format::Date => "yyyy-mm-dd".to_string(),
        Format::DateTime => "yyyy-mm-dd hh:mm".to_string(),
        // Excel's General shows at most 11 characters of a number.
        Format::General | Format::Text | Format::Custom(_) => {
            let s = format!("{v}");
            if s.len() > 11 { format!("{v:.5e}") } else { s }
        }
    }
}

fn group_thousands(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    out.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(frac) = frac {
        out.push('.');
        out.push_str(frac);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Layout: where every block lands. Shared by the writer and the dump.
// ---------------------------------------------------------------------------------------------

/// A rectangle of cells, 0-based and inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CellRange {
    pub first_row: u32,
    pub first_col: u16,
    pub last_row: u32,
    pub last_col: u16,
}

impl CellRange {
    fn cell(row: u32, col: u16) -> CellRange {
        CellRange {
            first_row: row,
            first_col: col,
            last_row: row,
            last_col: col,
        }
    }

    /// `A1:B2` (or `A1` for one cell).
    pub fn a1(&self) -> String {
        if self.first_row == self.last_row && self.first_col == self.last_col {
            xlsx::utility::row_col_to_cell(self.first_row, self.first_col)
        } else {
            xlsx::utility::cell_range(self.first_row, self.first_col, self.last_row, self.last_col)
        }
    }

    /// `$A$1:$B$2` (or `$A$1`).
    fn absolute(&self) -> String {
        if self.first_row == self.last_row && self.first_col == self.last_col {
            xlsx::utility::row_col_to_cell_absolute(self.first_row, self.first_col)
        } else {
            xlsx::utility::cell_range_absolute(
                self.first_row,
                self.first_col,
                self.last_row,
                self.last_col,
            )
        }
    }
}

/// A range on a named (sanitised) sheet, as charts refer to data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SheetRange {
    pub sheet: String,
    pub range: CellRange,
}

impl SheetRange {
    /// The Excel formula text, e.g. `通关时间!$A$4:$A$10`, as the chart XML holds it.
    pub fn formula(&self) -> String {
        format!(
            "{}!{}",
            xlsx::utility::quote_sheet_name(&self.sheet),
            self.range.absolute()
        )
    }
}

/// What a cell holds once the model's value is mapped to what Excel can store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Content<'a> {
    Blank,
    Text(Cow<'a, str>),
    Int(i64),
    Number(f64),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
}

/// Which part of a block a cell belongs to: decides its style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Role {
    Title,
    Paragraph,
    Label,
    KeyValue,
    Header,
    Body,
}

impl Role {
    pub fn tag(self) -> Option<&'static str> {
        match self {
            Role::Title => Some("title"),
            Role::Paragraph => Some("paragraph"),
            Role::Label => Some("label"),
            Role::KeyValue => Some("value"),
            Role::Header => Some("header"),
            Role::Body => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlacedCell<'a> {
    pub row: u32,
    pub col: u16,
    pub content: Content<'a>,
    /// The number format in force for this cell (a date in a non-date column gets a date format).
    pub format: &'a Format,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Merge {
    pub range: CellRange,
    /// Index into [`SheetLayout::cells`] of the top-left cell, which carries the text.
    pub cell: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CondValue<'a> {
    Text(&'a str),
    Number(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlacedRule<'a> {
    pub range: CellRange,
    pub equals: CondValue<'a>,
    pub fill: Fill,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SeriesName<'a> {
    Literal(&'a str),
    Header(SheetRange),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlacedSeries<'a> {
    pub name: SeriesName<'a>,
    pub categories: SheetRange,
    pub values: SheetRange,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlacedChart<'a> {
    pub spec: &'a ChartSpec,
    /// Number format of the category axis labels: the category column's format (a date column
    /// would otherwise label the axis with serial numbers). `None` for pies and General.
    pub category_format: Option<&'a Format>,
    pub anchor: (u32, u16),
    pub width_px: u32,
    pub height_px: u32,
    pub series: Vec<PlacedSeries<'a>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PrintSetup {
    pub landscape: bool,
    /// Header rows repeated on every printed page (the frozen table's header).
    pub repeat_rows: Option<(u32, u32)>,
}

/// One sheet with every cell, range and chart at its final address.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SheetLayout<'a> {
    pub name: String,
    pub tab_color: Option<u32>,
    /// Row-major order (blocks top to bottom, columns left to right).
    pub cells: Vec<PlacedCell<'a>>,
    pub merges: Vec<Merge>,
    pub col_widths: BTreeMap<u16, f64>,
    pub row_heights: BTreeMap<u32, f64>,
    /// First unfrozen (row, col).
    pub freeze: Option<(u32, u16)>,
    pub autofilter: Option<CellRange>,
    pub conditionals: Vec<PlacedRule<'a>>,
    pub charts: Vec<PlacedChart<'a>>,
    pub print: PrintSetup,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WorkbookLayout<'a> {
    pub workbook: &'a Workbook,
    pub sheets: Vec<SheetLayout<'a>>,
}

/// Where a table landed, for charts.
struct TablePlace<'a> {
    table: &'a Table,
    sheet: usize,
    header_row: u32,
    columns: usize,
    rows: usize,
}

/// Decides the address of every cell, merge, range and chart of the workbook; checks the model
/// (row widths, column indexes, chart references, Excel's size limits) on the way.
pub(crate) fn layout(wb: &Workbook) -> Result<WorkbookLayout<'_>, ReportError> {
    if wb.sheets.is_empty() {
        return Err(ReportError::NoSheets {
            title: wb.title.clone(),
        });
    }
    let names = sheet_names(wb);
    let mut tables: HashMap<&str, TablePlace<'_>> = HashMap::new();
    let mut sheets = Vec::with_capacity(wb.sheets.len());
    for (index, (sheet, name)) in wb.sheets.iter().zip(names).enumerate() {
        sheets.push(layout_sheet(index, sheet, name, wb, &mut tables)?);
    }
    // Charts last: they may refer to a table on another sheet.
    for (index, sheet) in wb.sheets.iter().enumerate() {
        let charts = layout_charts(index, sheet, &sheets, &tables)?;
        sheets[index].charts = charts;
    }
    Ok(WorkbookLayout {
        workbook: wb,
        sheets,
    })
}

fn layout_sheet<'a>(
    index: usize,
    sheet: &'a Sheet,
    name: String,
    wb: &'a Workbook,
    tables: &mut HashMap<&'a str, TablePlace<'a>>,
) -> Result<SheetLayout<'a>, ReportError> {
    let table_count = sheet
        .blocks
        .iter()
        .filter(|b| matches!(b, Block::Table(_)))
        .count();
    let col_widths = column_widths(sheet);
    let width_of = |col: u16| col_widths.get(&col).copied().unwrap_or(DEFAULT_COL_WIDTH);

    // Paragraphs span the widest table (or the key/value pair), widened to a readable minimum.
    let mut span: u16 = 1;
    for block in &sheet.blocks {
        match block {
            Block::Table(t) => span = span.max(u16::try_from(t.columns.len()).unwrap_or(u16::MAX)),
            Block::KeyValues(_) => span = span.max(2),
            _ => {}
        }
    }
    while span < 26 && (0..span).map(width_of).sum::<f64>() < MIN_PARAGRAPH_WIDTH {
        span += 1;
    }
    let span_width: f64 = (0..span).map(width_of).sum();

    let mut out = SheetLayout {
        name,
        tab_color: sheet.tab_color,
        cells: Vec::new(),
        merges: Vec::new(),
        col_widths: BTreeMap::new(),
        row_heights: BTreeMap::new(),
        freeze: None,
        autofilter: None,
        conditionals: Vec::new(),
        charts: Vec::new(),
        print: PrintSetup {
            landscape: false,
            repeat_rows: None,
        },
    };
    let too_large = |rows: u64, cols: u64| ReportError::TooLarge {
        sheet: sheet.name.clone(),
        rows,
        cols,
    };

    let mut row: u64 = 0;
    let mut placed_any = false;
    for block in &sheet.blocks {
        let height = block_rows(block);
        if height == 0 {
            continue;
        }
        if placed_any {
            row += 1; // one blank row between blocks
        }
        placed_any = true;
        if row + height > MAX_ROWS {
            return Err(too_large(row + height, u64::from(span)));
        }
        let r = row as u32;
        match block {
            Block::Title(text) => {
                out.cells.push(PlacedCell {
                    row: r,
                    col: 0,
                    content: text_content(text),
                    format: &GENERAL_FORMAT,
                    role: Role::Title,
                });
                out.row_heights.insert(r, TITLE_ROW_HEIGHT);
            }
            Block::Paragraph(text) => {
                out.cells.push(PlacedCell {
                    row: r,
                    col: 0,
                    content: text_content(text),
                    format: &GENERAL_FORMAT,
                    role: Role::Paragraph,
                });
                if span > 1 {
                    out.merges.push(Merge {
                        range: CellRange {
                            first_row: r,
                            first_col: 0,
                            last_row: r,
                            last_col: span - 1,
                        },
                        cell: out.cells.len() - 1,
                    });
                }
                // Excel never grows a merged row to fit wrapped text: estimate the lines. Allow
                // 10% slack because fallback CJK fonts run a little wider than 等线.
                let per_line = ((span_width - 1.0) * 0.9).max(1.0);
                let lines: f64 = text
                    .split('\n')
                    .map(|line| (text_width(line) as f64 / per_line).ceil().max(1.0))
                    .sum();
                let h = (lines * LINE_HEIGHT + 2.0).clamp(LINE_HEIGHT, MAX_ROW_HEIGHT);
                if lines > 1.0 {
                    out.row_heights.insert(r, h);
                }
            }
            Block::KeyValues(pairs) => {
                for (i, (label, value, format)) in pairs.iter().enumerate() {
                    let rr = r + i as u32;
                    out.cells.push(PlacedCell {
                        row: rr,
                        col: 0,
                        content: text_content(label),
                        format: &GENERAL_FORMAT,
                        role: Role::Label,
                    });
                    let content = value_content(value);
                    let format = effective_format(format, &content);
                    out.cells.push(PlacedCell {
                        row: rr,
                        col: 1,
                        content,
                        format,
                        role: Role::KeyValue,
                    });
                }
            }
            Block::Table(table) => {
                place_table(
                    index,
                    sheet,
                    table,
                    r,
                    table_count,
                    wb,
                    &col_widths,
                    &mut out,
                    tables,
                )?;
            }
        }
        row += height;
    }

    let used_cols = col_widths.keys().next_back().map_or(0, |c| c + 1).max(span);
    let total_width: f64 = (0..used_cols).map(width_of).sum();
    out.print.landscape = total_width > LANDSCAPE_WIDTH;
    out.col_widths = col_widths;
    Ok(out)
}

fn block_rows(block: &Block) -> u64 {
    match block {
        Block::Title(_) | Block::Paragraph(_) => 1,
        Block::KeyValues(pairs) => pairs.len() as u64,
        Block::Table(t) => 1 + t.rows.len() as u64,
    }
}

#[allow(clippy::too_many_arguments)]
fn place_table<'a>(
    sheet_index: usize,
    sheet: &'a Sheet,
    table: &'a Table,
    header_row: u32,
    table_count: usize,
    wb: &'a Workbook,
    col_widths: &BTreeMap<u16, f64>,
    out: &mut SheetLayout<'a>,
    tables: &mut HashMap<&'a str, TablePlace<'a>>,
) -> Result<(), ReportError> {
    let ncols = table.columns.len();
    if ncols == 0 {
        return Err(ReportError::NoColumns {
            sheet: sheet.name.clone(),
            table: table.id.clone(),
        });
    }
    if ncols as u64 > MAX_COLS {
        return Err(ReportError::TooLarge {
            sheet: sheet.name.clone(),
            rows: u64::from(header_row) + 1 + table.rows.len() as u64,
            cols: ncols as u64,
        });
    }
    if !table.id.is_empty() {
        if let Some(other) = tables.get(table.id.as_str()) {
            return Err(ReportError::DuplicateTableId {
                sheet: sheet.name.clone(),
                table: table.id.clone(),
                other_sheet: wb.sheets[other.sheet].name.clone(),
            });
        }
        tables.insert(
            &table.id,
            TablePlace {
                table,
                sheet: sheet_index,
                header_row,
                columns: ncols,
                rows: table.rows.len(),
            },
        );
    }
    let last_col = (ncols - 1) as u16;

    // Header; a header wider than an explicit column width wraps, and Excel does not grow the
    // row by itself.
    let mut header_lines = 1.0f64;
    for (c, column) in table.columns.iter().enumerate() {
        let col = c as u16;
        out.cells.push(PlacedCell {
            row: header_row,
            col,
            content: text_content(&column.title),
            format: &GENERAL_FORMAT,
            role: Role::Header,
        });
        let width = col_widths.get(&col).copied().unwrap_or(DEFAULT_COL_WIDTH);
        let lines = (text_width(&column.title) as f64 / (width - 1.0).max(1.0)).ceil();
        header_lines = header_lines.max(lines);
    }
    if header_lines > 1.0 {
        out.row_heights.insert(
            header_row,
            (header_lines * LINE_HEIGHT + 2.0).min(MAX_ROW_HEIGHT),
        );
    }

    for (i, values) in table.rows.iter().enumerate() {
        if values.len() != ncols {
            return Err(ReportError::RowWidth {
                sheet: sheet.name.clone(),
                table: table.id.clone(),
                row: i + 1,
                found: values.len(),
                expected: ncols,
            });
        }
        let r = header_row + 1 + i as u32;
        for (c, (value, column)) in values.iter().zip(&table.columns).enumerate() {
            let content = value_content(value);
            let format = effective_format(&column.format, &content);
            out.cells.push(PlacedCell {
                row: r,
                col: c as u16,
                content,
                format,
                role: Role::Body,
            });
        }
    }

    let nrows = table.rows.len() as u32;
    let last_row = header_row + nrows;
    if table.freeze_header && table_count == 1 {
        out.freeze = Some((header_row + 1, 0));
        out.print.repeat_rows = Some((header_row, header_row));
    }
    if table.autofilter && out.autofilter.is_none() {
        out.autofilter = Some(CellRange {
            first_row: header_row,
            first_col: 0,
            last_row,
            last_col,
        });
    }
    for rule in &table.conditional {
        let Some(column) = table.columns.get(rule.column) else {
            return Err(ReportError::ConditionalColumn {
                sheet: sheet.name.clone(),
                table: table.id.clone(),
                equals: rule.equals.clone(),
                column: rule.column,
                columns: ncols,
            });
        };
        if nrows == 0 {
            continue;
        }
        let number = rule
            .equals
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite());
        let equals = match number {
            Some(n) if column.format.is_numeric() => CondValue::Number(n),
            _ => CondValue::Text(&rule.equals),
        };
        let col = rule.column as u16;
        out.conditionals.push(PlacedRule {
            range: CellRange {
                first_row: header_row + 1,
                first_col: col,
                last_row,
                last_col: col,
            },
            equals,
            fill: rule.fill,
        });
    }
    Ok(())
}

/// Width of every column that some table or key/value block sizes (the widest claim wins).
fn column_widths(sheet: &Sheet) -> BTreeMap<u16, f64> {
    let mut widths: BTreeMap<u16, f64> = BTreeMap::new();
    let mut claim = |col: u16, w: f64| {
        let e = widths.entry(col).or_insert(w);
        *e = e.max(w);
    };
    for block in &sheet.blocks {
        match block {
            Block::Table(table) => {
                for (c, column) in table.columns.iter().enumerate().take(MAX_COLS as usize) {
                    let w = match column.width {
                        Some(w) => w.clamp(0.0, 255.0),
                        None => auto_width(
                            &column.title,
                            table.autofilter,
                            table
                                .rows
                                .iter()
                                .take(AUTO_WIDTH_ROWS)
                                .filter_map(|r| r.get(c))
                                .map(|v| {
                                    let content = value_content(v);
                                    display_width(
                                        &content,
                                        effective_format(&column.format, &content),
                                    )
                                }),
                        ),
                    };
                    claim(c as u16, w);
                }
            }
            Block::KeyValues(pairs) if !pairs.is_empty() => {
                claim(
                    0,
                    auto_width("", false, pairs.iter().map(|(l, _, _)| text_width(l))),
                );
                claim(
                    1,
                    auto_width(
                        "",
                        false,
                        pairs.iter().map(|(_, v, f)| {
                            let content = value_content(v);
                            display_width(&content, effective_format(f, &content))
                        }),
                    ),
                );
            }
            _ => {}
        }
    }
    widths
}

fn layout_charts<'a>(
    index: usize,
    sheet: &'a Sheet,
    sheets: &[SheetLayout<'a>],
    tables: &HashMap<&'a str, TablePlace<'a>>,
) -> Result<Vec<PlacedChart<'a>>, ReportError> {
    let this = &sheets[index];
    // Default charts go one blank column right of everything on the sheet.
    let right = this
        .cells
        .iter()
        .map(|c| c.col)
        .chain(this.merges.iter().map(|m| m.range.last_col))
        .max()
        .map_or(0, |c| c.saturating_add(2));
    let mut stacked = 0u32;
    let mut charts = Vec::with_capacity(sheet.charts.len());
    for spec in &sheet.charts {
        let err = |message: String| ReportError::Chart {
            sheet: sheet.name.clone(),
            chart: spec.title.clone(),
            message,
        };
        let Some(place) = tables.get(spec.table_id.as_str()) else {
            let mut ids: Vec<&str> = tables.keys().copied().collect();
            ids.sort_unstable();
            return Err(err(format!(
                "no table with id `{}`; tables: {}",
                spec.table_id,
                if ids.is_empty() {
                    "(none)".to_string()
                } else {
                    ids.join(", ")
                }
            )));
        };
        if spec.value_columns.is_empty() {
            return Err(err("no value columns".to_string()));
        }
        if spec.kind == ChartKind::Pie && spec.value_columns.len() != 1 {
            return Err(err(format!(
                "a pie chart plots exactly one value column, got {}",
                spec.value_columns.len()
            )));
        }
        for &c in std::iter::once(&spec.category_column).chain(&spec.value_columns) {
            if c >= place.columns {
                return Err(err(format!(
                    "column {c} is out of range: table `{}` has {} columns",
                    spec.table_id, place.columns
                )));
            }
        }
        if let Some(names) = &spec.series_names
            && names.len() != spec.value_columns.len()
        {
            return Err(err(format!(
                "{} series names for {} value columns",
                names.len(),
                spec.value_columns.len()
            )));
        }
        let data_sheet = &sheets[place.sheet].name;
        let first = place.header_row + 1;
        // An empty table still gets a one-row range, so the chart stays valid.
        let last = place.header_row + (place.rows as u32).max(1);
        let column_range = |c: usize| SheetRange {
            sheet: data_sheet.clone(),
            range: CellRange {
                first_row: first,
                first_col: c as u16,
                last_row: last,
                last_col: c as u16,
            },
        };
        let series = spec
            .value_columns
            .iter()
            .enumerate()
            .map(|(i, &c)| PlacedSeries {
                name: match &spec.series_names {
                    Some(names) => SeriesName::Literal(&names[i]),
                    None => SeriesName::Header(SheetRange {
                        sheet: data_sheet.clone(),
                        range: CellRange::cell(place.header_row, c as u16),
                    }),
                },
                categories: column_range(spec.category_column),
                values: column_range(c),
            })
            .collect();
        let anchor = match spec.anchor_cell {
            Some(anchor) => anchor,
            None => {
                let base = if place.sheet == index {
                    place.header_row
                } else {
                    0
                };
                let anchor = (base + stacked * CHART_ROW_STRIDE, right);
                stacked += 1;
                anchor
            }
        };
        if u64::from(anchor.0) >= MAX_ROWS || u64::from(anchor.1) >= MAX_COLS {
            return Err(err(format!("anchor cell {anchor:?} is outside the sheet")));
        }
        let category_format = match spec.kind {
            ChartKind::Pie => None,
            ChartKind::Line | ChartKind::Column => {
                let column = &place.table.columns[spec.category_column];
                let first = place
                    .table
                    .rows
                    .iter()
                    .map(|r| value_content(&r[spec.category_column]))
                    .find(|c| *c != Content::Blank)
                    .unwrap_or(Content::Blank);
                Some(effective_format(&column.format, &first)).filter(|f| **f != Format::General)
            }
        };
        charts.push(PlacedChart {
            spec,
            category_format,
            anchor,
            width_px: CHART_WIDTH_PX,
            height_px: CHART_HEIGHT_PX,
            series,
        });
    }
    Ok(charts)
}

fn text_content(s: &str) -> Content<'_> {
    if s.is_empty() {
        return Content::Blank;
    }
    if s.chars().count() > MAX_CELL_CHARS {
        // Excel refuses longer cells: keep what fits and mark the cut.
        let cut: String = s
            .chars()
            .take(MAX_CELL_CHARS - 1)
            .chain(std::iter::once('…'))
            .collect();
        return Content::Text(Cow::Owned(cut));
    }
    Content::Text(Cow::Borrowed(s))
}

/// What Excel will store for a model value: NaN and infinities become blank (Excel has no such
/// number), integers beyond 15 digits become text (Excel would round them), dates outside Excel's
/// 1900–9999 range become ISO text, booleans become 是/否.
pub(crate) fn value_content(v: &Value) -> Content<'_> {
    match v {
        Value::Empty => Content::Blank,
        Value::Text(s) => text_content(s),
        Value::Int(i) if i.unsigned_abs() <= EXACT_INT_LIMIT => Content::Int(*i),
        Value::Int(i) => Content::Text(Cow::Owned(i.to_string())),
        Value::Number(f) if f.is_finite() => Content::Number(*f),
        Value::Number(_) => Content::Blank,
        Value::Bool(b) => Content::Text(Cow::Borrowed(if *b { "是" } else { "否" })),
        Value::Date(d) if excel_date_in_range(*d) => Content::Date(*d),
        Value::Date(d) => Content::Text(Cow::Owned(d.format("%Y-%m-%d").to_string())),
        Value::DateTime(dt) if excel_date_in_range(dt.date()) => Content::DateTime(*dt),
        Value::DateTime(dt) => {
            Content::Text(Cow::Owned(dt.format("%Y-%m-%d %H:%M:%S").to_string()))
        }
    }
}

/// A date or time shown with a plain number format would read as a serial number: such cells
/// get the default date / date-time format instead.
fn effective_format<'a>(column: &'a Format, content: &Content<'_>) -> &'a Format {
    let dated = matches!(column, Format::Date | Format::DateTime | Format::Custom(_));
    match content {
        Content::Date(_) if !dated => &DATE_FORMAT,
        Content::DateTime(_) if !dated => &DATETIME_FORMAT,
        _ => column,
    }
}

// ---------------------------------------------------------------------------------------------
// Excel serial dates
// ---------------------------------------------------------------------------------------------

fn excel_date_in_range(d: NaiveDate) -> bool {
    let first = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");
    (first..=last).contains(&d)
}

/// Excel's serial day number (1900 date system). Excel counts a 29 February 1900 that never
/// was (Lotus 1-2-3's bug), so from 1 March 1900 the serial is days since 1899-12-30, before it
/// days since 1899-12-31.
pub(crate) fn date_serial(d: NaiveDate) -> f64 {
    let march_1900 = NaiveDate::from_ymd_opt(1900, 3, 1).expect("valid date");
    let base = if d < march_1900 {
        NaiveDate::from_ymd_opt(1899, 12, 31).expect("valid date")
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date")
    };
    (d - base).num_days() as f64
}

/// Serial date plus the fraction of the day, to the millisecond.
pub(crate) fn datetime_serial(dt: NaiveDateTime) -> f64 {
    let t = dt.time();
    let ms = u64::from(t.num_seconds_from_midnight()) * 1000
        + u64::from(t.nanosecond().min(999_999_999))
            .div_ceil(1_000_000)
            .min(999);
    date_serial(dt.date()) + ms as f64 / 86_400_000.0
}

/// Text of a serial date as a date (`2026-11-09`) or, when it has a time of day, a date-time
/// (`2026-11-09 00:30:00`, milliseconds only when present). The dumps print dates this way on
/// both the model side and the read-back side, so the two compare exactly.
pub(crate) fn format_serial(serial: f64) -> String {
    let mut days = serial.floor();
    let mut ms = ((serial - days) * 86_400_000.0).round() as i64;
    if ms >= 86_400_000 {
        days += 1.0;
        ms = 0;
    }
    let days = days as i64;
    let date = if days == 60 {
        return "1900-02-29".to_string(); // Excel's phantom day
    } else if days < 60 {
        NaiveDate::from_ymd_opt(1899, 12, 31).expect("valid date") + chrono::Duration::days(days)
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date") + chrono::Duration::days(days)
    };
    if ms == 0 {
        return date.format("%Y-%m-%d").to_string();
    }
    let (secs, millis) = (ms / 1000, ms % 1000);
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if millis == 0 {
        format!("{} {time}", date.format("%Y-%m-%d"))
    } else {
        format!("{} {time}.{millis:03}", date.format("%Y-%m-%d"))
    }
}

/// Whether Excel (and calamine) treat a number format as a date/time format: a date/time token
/// (`y m d h s`) outside quotes, escapes and `[...]` in the first section.
pub(crate) fn is_date_format(num_format: &str) -> bool {
    let mut chars = num_format.chars();
    let mut quoted = false;
    let mut brackets = 0u32;
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => {}
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => brackets += 1,
            ']' => brackets = brackets.saturating_sub(1),
            ';' => return false,
            'd' | 'm' | 'h' | 'y' | 's' | 'D' | 'M' | 'H' | 'Y' | 'S' if brackets == 0 => {
                return true;
            }
            _ => {}
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/// Writes the workbook to `path` atomically: the file is rendered in memory, written to a
/// temporary file in the same directory and renamed over `path`, so a reader never sees half a
/// report. The same model always gives byte-identical files.
pub fn write_xlsx(wb: &Workbook, path: &Path) -> Result<(), ReportError> {
    let layout = layout(wb)?;
    let bytes = render(&layout)?;
    write_atomically(path, &bytes)
}

/// Renders the workbook to `.xlsx` bytes.
pub fn render_xlsx(wb: &Workbook) -> Result<Vec<u8>, ReportError> {
    render(&layout(wb)?)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |action, source| ReportError::Io {
        path: path.to_path_buf(),
        action,
        source,
    };
    let file_name = path.file_name().ok_or_else(|| {
        io(
            "write workbook",
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Same directory, so the rename cannot cross file systems; pid + counter so concurrent
    // writers never share a temporary file.
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io("write workbook", source));
    }
    Ok(())
}

fn base_format() -> xlsx::Format {
    xlsx::Format::new()
        .set_font_name(FONT_NAME)
        .set_font_size(FONT_SIZE)
        .set_font_charset(FONT_CHARSET)
}

/// Cell styles per (role, number format), built once.
#[derive(Default)]
struct Styles {
    cache: HashMap<(Role, Format), xlsx::Format>,
}

impl Styles {
    fn get(&mut self, role: Role, format: &Format) -> &xlsx::Format {
        self.cache.entry((role, format.clone())).or_insert_with(|| {
            let grid = 0xBFBFBF;
            let mut f = base_format();
            f = match role {
                Role::Title => f
                    .set_bold()
                    .set_font_size(TITLE_SIZE)
                    .set_align(xlsx::FormatAlign::VerticalCenter),
                Role::Paragraph => f
                    .set_text_wrap()
                    .set_align(xlsx::FormatAlign::Top)
                    .set_align(xlsx::FormatAlign::Left),
                Role::Label => f
                    .set_background_color(0xF2F2F2)
                    .set_border(xlsx::FormatBorder::Thin)
                    .set_border_color(grid),
                Role::KeyValue => f
                    .set_bold()
                    .set_border(xlsx::FormatBorder::Thin)
                    .set_border_color(grid),
                Role::Header => f
                    .set_bold()
                    .set_background_color(0xDDEBF7)
                    .set_border(xlsx::FormatBorder::Thin)
                    .set_border_color(0x8EA9C1)
                    .set_text_wrap()
                    .set_align(xlsx::FormatAlign::Center)
                    .set_align(xlsx::FormatAlign::VerticalCenter),
                Role::Body => f
                    .set_border(xlsx::FormatBorder::Thin)
                    .set_border_color(grid)
                    .set_align(xlsx::FormatAlign::VerticalCenter),
            };
            if *format != Format::General {
                f = f.set_num_format(format.num_format());
            }
            f
        })
    }
}

fn render(layout: &WorkbookLayout<'_>) -> Result<Vec<u8>, ReportError> {
    let wb = layout.workbook;
    let book_err = |action: &str| {
        let action = action.to_string();
        let title = wb.title.clone();
        move |source| ReportError::XlsxWorkbook {
            title,
            action,
            source,
        }
    };
    let mut book = xlsx::Workbook::new();
    // Deflate level 1: a third of the time of the default 6 for files about a tenth larger;
    // the zip step was the largest single cost of writing the weekly exchange packages.
    book.set_zip_compression_level(1);
    // Set before any sheet exists: the Normal style (and with it Excel's width unit) becomes 等线.
    book.set_default_format(&base_format(), 20, 64)
        .map_err(book_err("set the default font"))?;

    let c = wb.created;
    let created = (|| {
        let date = xlsx::ExcelDateTime::from_ymd(
            u16::try_from(chrono::Datelike::year(&c)).ok()?,
            chrono::Datelike::month(&c) as u8,
            chrono::Datelike::day(&c) as u8,
        )
        .ok()?;
        date.and_hms(c.hour() as u16, c.minute() as u8, c.second())
            .ok()
    })()
    .ok_or_else(|| ReportError::BadCreated {
        title: wb.title.clone(),
        created: c,
    })?;
    let properties = xlsx::DocProperties::new()
        .set_title(&wb.title)
        .set_creation_datetime(&created);
    book.set_properties(&properties);

    let mut styles = Styles::default();
    let mut chart_font = xlsx::ChartFont::new();
    chart_font.set_name(FONT_NAME);

    for sheet in &layout.sheets {
        let err = |action: String| {
            let sheet = sheet.name.clone();
            move |source| ReportError::Xlsx {
                sheet,
                action,
                source,
            }
        };
        let ws = book.add_worksheet();
        ws.set_name(&sheet.name)
            .map_err(err("set the sheet name".into()))?;
        if let Some(color) = sheet.tab_color {
            ws.set_tab_color(xlsx::Color::RGB(color));
        }
        ws.set_paper_size(9); // A4
        ws.set_print_fit_to_pages(1, 0);
        if sheet.print.landscape {
            ws.set_landscape();
        }
        if let Some((first, last)) = sheet.print.repeat_rows {
            ws.set_repeat_rows(first, last)
                .map_err(err("set the repeated print rows".into()))?;
        }
        for (&col, &width) in &sheet.col_widths {
            ws.set_column_width(col, width)
                .map_err(err(format!("set the width of column {col}")))?;
        }
        for (&row, &height) in &sheet.row_heights {
            ws.set_row_height(row, height)
                .map_err(err(format!("set the height of row {}", row + 1)))?;
        }

        let merged: HashSet<usize> = sheet.merges.iter().map(|m| m.cell).collect();
        for (i, cell) in sheet.cells.iter().enumerate() {
            if merged.contains(&i) {
                continue;
            }
            let fmt = styles.get(cell.role, cell.format);
            let at = || format!("write cell {}", CellRange::cell(cell.row, cell.col).a1());
            let (r, c) = (cell.row, cell.col);
            match &cell.content {
                Content::Blank => ws.write_blank(r, c, fmt).map(|_| ()),
                Content::Text(s) => ws
                    .write_string_with_format(r, c, s.as_ref(), fmt)
                    .map(|_| ()),
                Content::Int(i) => ws
                    .write_number_with_format(r, c, *i as f64, fmt)
                    .map(|_| ()),
                Content::Number(n) => ws.write_number_with_format(r, c, *n, fmt).map(|_| ()),
                Content::Date(d) => xlsx::ExcelDateTime::from_serial_datetime(date_serial(*d))
                    .and_then(|dt| ws.write_datetime_with_format(r, c, &dt, fmt).map(|_| ())),
                Content::DateTime(dt) => {
                    xlsx::ExcelDateTime::from_serial_datetime(datetime_serial(*dt))
                        .and_then(|dt| ws.write_datetime_with_format(r, c, &dt, fmt).map(|_| ()))
                }
            }
            .map_err(err(at()))?;
        }
        for merge in &sheet.merges {
            let cell = &sheet.cells[merge.cell];
            let text = match &cell.content {
                Content::Text(s) => s.as_ref(),
                _ => "",
            };
            let fmt = styles.get(cell.role, cell.format);
            let m = merge.range;
            ws.merge_range(m.first_row, m.first_col, m.last_row, m.last_col, text, fmt)
                .map_err(err(format!("merge {}", m.a1())))?;
        }
        if let Some((row, col)) = sheet.freeze {
            ws.set_freeze_panes(row, col)
                .map_err(err("freeze panes".into()))?;
        }
        if let Some(a) = sheet.autofilter {
            ws.autofilter(a.first_row, a.first_col, a.last_row, a.last_col)
                .map_err(err(format!("set the autofilter on {}", a.a1())))?;
        }
        for rule in &sheet.conditionals {
            let (bg, fg) = rule.fill.colors();
            let fill = xlsx::Format::new()
                .set_background_color(bg)
                .set_font_color(fg);
            let cond = match &rule.equals {
                CondValue::Text(s) => xlsx::ConditionalFormatCell::new()
                    .set_rule(xlsx::ConditionalFormatCellRule::EqualTo(*s))
                    .set_format(fill),
                CondValue::Number(n) => xlsx::ConditionalFormatCell::new()
                    .set_rule(xlsx::ConditionalFormatCellRule::EqualTo(*n))
                    .set_format(fill),
            };
            let a = rule.range;
            ws.add_conditional_format(a.first_row, a.first_col, a.last_row, a.last_col, &cond)
                .map_err(err(format!("add the conditional format on {}", a.a1())))?;
        }
        for placed in &sheet.charts {
            let chart = build_chart(placed, &chart_font);
            ws.insert_chart(placed.anchor.0, placed.anchor.1, &chart)
                .map_err(err(format!("insert chart \"{}\"", placed.spec.title)))?;
        }
    }
    book.save_to_buffer().map_err(book_err("assemble the file"))
}

fn build_chart(placed: &PlacedChart<'_>, font: &xlsx::ChartFont) -> xlsx::Chart {
    let spec = placed.spec;
    let mut chart = xlsx::Chart::new(match spec.kind {
        ChartKind::Line => xlsx::ChartType::Line,
        ChartKind::Column => xlsx::ChartType::Column,
        ChartKind::Pie => xlsx::ChartType::Pie,
    });
    chart.title().set_name(spec.title.as_str()).set_font(font);
    for s in &placed.series {
        let range = |r: &SheetRange| {
            let a = r.range;
            xlsx::ChartRange::new_from_range(
                &r.sheet,
                a.first_row,
                a.first_col,
                a.last_row,
                a.last_col,
            )
        };
        let series = chart.add_series();
        series
            .set_categories(&range(&s.categories))
            .set_values(&range(&s.values));
        match &s.name {
            SeriesName::Literal(name) => series.set_name(*name),
            SeriesName::Header(cell) => series.set_name(&range(cell)),
        };
    }
    if spec.kind != ChartKind::Pie {
        // Weeks and months are evenly spaced periods, not a continuous time line: a text axis
        // keeps one bar or point per row instead of a daily scale with gaps.
        chart.x_axis().set_text_axis(true).set_font(font);
        if let Some(format) = placed.category_format {
            chart.x_axis().set_num_format(format.num_format());
        }
        chart.y_axis().set_font(font);
        if let Some(title) = &spec.y_axis_title {
            chart.y_axis().set_name(title.as_str()).set_name_font(font);
        }
    }
    chart
        .legend()
        .set_position(xlsx::ChartLegendPosition::Bottom)
        .set_font(font);
    chart
        .set_width(placed.width_px)
        .set_height(placed.height_px);
    chart
}

// ---------------------------------------------------------------------------------------------
// Arrow → Table
// ---------------------------------------------------------------------------------------------

/// Builds a table from query results, one column per binding, in binding order.
///
/// Each binding's field is looked up by name in every batch. Values convert as follows:
/// strings (Utf8, LargeUtf8, Utf8View, dictionaries of them) → `Text`; Int8–Int64, UInt8–UInt64
/// → `Int` (a UInt64 above `i64::MAX` → `Number`); Float16/32/64 → `Number` (Float32 by its
/// shortest decimal text, so 0.1f32 stays 0.1); Decimal32–256 → `Number`, scale-aware; Boolean →
/// `Text` 是/否; Date32/Date64 → `Date`; Timestamp (any unit) → `DateTime`: a timestamp with a
/// zone (UTC or other) is an instant and is shown in `tz` local time, a zoneless one is shown as
/// it is; Time32/64 → `Text` `hh:mm:ss`; Duration → `Number` of hours; Null and nulls → `Empty`.
/// Anything else (lists, structs, binary, intervals) is an error naming the field.
///
/// Formats not given by the binding are inferred: integers → `Integer`, floats → `Decimal(2)`,
/// decimals → `Decimal(scale)`, dates → `Date`, timestamps → `DateTime`, durations → `Hours`,
/// anything else → `General`. With no batches at all (an empty result) nothing can be checked
/// or inferred: the table has its headers and no rows.
///
/// The table comes back with an empty `id`, `freeze_header` and `autofilter` on, no conditional
/// rules: set those before placing it.
pub fn table_from_batches(
    columns: &[ColumnBinding],
    batches: &[RecordBatch],
    tz: chrono_tz::Tz,
) -> Result<Table, ReportError> {
    let total_rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut converted: Vec<Vec<Value>> = Vec::with_capacity(columns.len());
    let mut formats = Vec::with_capacity(columns.len());
    for binding in columns {
        let mut values = Vec::with_capacity(total_rows);
        let mut first_type: Option<DataType> = None;
        for batch in batches {
            let schema = batch.schema();
            let Ok(index) = schema.index_of(&binding.field) else {
                return Err(ReportError::MissingField {
                    field: binding.field.clone(),
                    title: binding.title.clone(),
                    available: schema.fields().iter().map(|f| f.name().clone()).collect(),
                });
            };
            let array = batch.column(index);
            first_type.get_or_insert_with(|| array.data_type().clone());
            let offset = values.len();
            values.extend(convert_array(array.as_ref(), tz).map_err(|e| match e {
                ConvertError::Unsupported(data_type) => ReportError::UnsupportedType {
                    field: binding.field.clone(),
                    title: binding.title.clone(),
                    data_type: data_type.to_string(),
                },
                ConvertError::Bad { row, message } => ReportError::BadValue {
                    field: binding.field.clone(),
                    title: binding.title.clone(),
                    row: offset + row + 1,
                    message,
                },
            })?);
        }
        let format = match (&binding.format, &first_type) {
            (Some(f), _) => f.clone(),
            (None, Some(t)) => infer_format(t),
            (None, None) => Format::General,
        };
        converted.push(values);
        formats.push(format);
    }

    let mut rows: Vec<Vec<Value>> = (0..total_rows)
        .map(|_| Vec::with_capacity(columns.len()))
        .collect();
    for column in converted {
        for (row, value) in rows.iter_mut().zip(column) {
            row.push(value);
        }
    }
    Ok(Table {
        id: String::new(),
        columns: columns
            .iter()
            .zip(formats)
            .map(|(b, format)| Column {
                title: b.title.clone(),
                format,
                width: b.width,
            })
            .collect(),
        rows,
        freeze_header: true,
        autofilter: true,
        conditional: Vec::new(),
    })
}

/// The display format an Arrow type gets when the binding names none.
pub fn infer_format(data_type: &DataType) -> Format {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Format::Integer,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Format::Decimal(2),
        DataType::Decimal32(_, s)
        | DataType::Decimal64(_, s)
        | DataType::Decimal128(_, s)
        | DataType::Decimal256(_, s) => Format::Decimal((*s).clamp(0, 30) as u8),
        DataType::Date32 | DataType::Date64 => Format::Date,
        DataType::Timestamp(_, _) => Format::DateTime,
        DataType::Duration(_) => Format::Hours,
        DataType::Dictionary(_, values) => infer_format(values),
        _ => Format::General,
    }
}

enum ConvertError {
    Unsupported(DataType),
    /// `row` is 0-based within the array.
    Bad {
        row: usize,
        message: String,
    },
}

fn convert_array(array: &dyn Array, tz: chrono_tz::Tz) -> Result<Vec<Value>, ConvertError> {
    let n = array.len();
    // Nulls first: every typed branch below only sees valid slots.
    let valid = |i: usize| !array.is_null(i);
    macro_rules! each {
        ($arr:expr, |$i:ident, $v:ident| $body:expr) => {{
            let arr = $arr;
            (0..n)
                .map(|$i| {
                    if valid($i) {
                        let $v = arr.value($i);
                        $body
                    } else {
                        Ok(Value::Empty)
                    }
                })
                .collect::<Result<Vec<Value>, ConvertError>>()
        }};
    }
    let bad = |row: usize, message: String| ConvertError::Bad { row, message };
    match array.data_type() {
        DataType::Null => Ok(vec![Value::Empty; n]),
        DataType::Boolean => each!(array.as_boolean(), |_i, v| Ok(Value::Text(
            if v { "是" } else { "否" }.into()
        ))),
        DataType::Int8 => each!(array.as_primitive::<Int8Type>(), |_i, v| Ok(Value::Int(
            v.into()
        ))),
        DataType::Int16 => each!(array.as_primitive::<Int16Type>(), |_i, v| Ok(Value::Int(
            v.into()
        ))),
        DataType::Int32 => each!(array.as_primitive::<Int32Type>(), |_i, v| Ok(Value::Int(
            v.into()
        ))),
        DataType::Int64 => each!(array.as_primitive::<Int64Type>(), |_i, v| Ok(Value::Int(v))),
        DataType::UInt8 => each!(array.as_primitive::<UInt8Type>(), |_i, v| Ok(Value::Int(
            v.into()
        ))),
        DataType::UInt16 => each!(array.as_primitive::<UInt16Type>(), |_i, v| Ok(Value::Int(
            v.into()
        ))),
        DataType::UInt32 => each!(array.as_primitive::<UInt32Type>(), |_i, v| Ok(Value::Int(
            v.into()
        ))),
        DataType::UInt64 => each!(array.as_primitive::<UInt64Type>(), |_i, v| Ok(
            i64::try_from(v).map_or(Value::Number(v as f64), Value::Int)
        )),
        DataType::Float16 => each!(array.as_primitive::<Float16Type>(), |_i, v| Ok(
            Value::Number(v.to_f64())
        )),
        // Via the shortest decimal text: 0.1f32 as f64 would be 0.10000000149011612.
        DataType::Float32 => each!(array.as_primitive::<Float32Type>(), |_i, v| Ok(
            Value::Number(if v.is_finite() {
                v.to_string().parse().unwrap_or(f64::from(v))
            } else {
                f64::from(v)
            })
        )),
        DataType::Float64 => each!(array.as_primitive::<Float64Type>(), |_i, v| Ok(
            Value::Number(v)
        )),
        // Via the exact decimal text, so 12.34 (scale 2) is the double nearest 12.34.
        DataType::Decimal32(_, _) => {
            let a = array.as_primitive::<Decimal32Type>();
            decimal_values(n, valid, |i| a.value_as_string(i))
        }
        DataType::Decimal64(_, _) => {
            let a = array.as_primitive::<Decimal64Type>();
            decimal_values(n, valid, |i| a.value_as_string(i))
        }
        DataType::Decimal128(_, _) => {
            let a = array.as_primitive::<Decimal128Type>();
            decimal_values(n, valid, |i| a.value_as_string(i))
        }
        DataType::Decimal256(_, _) => {
            let a = array.as_primitive::<Decimal256Type>();
            decimal_values(n, valid, |i| a.value_as_string(i))
        }
        DataType::Utf8 => each!(array.as_string::<i32>(), |_i, v| Ok(Value::Text(
            v.to_string()
        ))),
        DataType::LargeUtf8 => each!(array.as_string::<i64>(), |_i, v| Ok(Value::Text(
            v.to_string()
        ))),
        DataType::Utf8View => each!(array.as_string_view(), |_i, v| Ok(Value::Text(
            v.to_string()
        ))),
        DataType::Date32 => each!(array.as_primitive::<Date32Type>(), |i, v| {
            // 719_163 = days from 0001-01-01 (CE day 1) to 1970-01-01.
            NaiveDate::from_num_days_from_ce_opt(v.saturating_add(719_163))
                .map(Value::Date)
                .ok_or_else(|| bad(i, format!("date {v} days from 1970-01-01 is out of range")))
        }),
        DataType::Date64 => each!(array.as_primitive::<Date64Type>(), |i, v| {
            DateTime::from_timestamp_millis(v)
                .map(|dt| Value::Date(dt.date_naive()))
                .ok_or_else(|| bad(i, format!("date {v} ms from 1970-01-01 is out of range")))
        }),
        DataType::Timestamp(unit, zone) => {
            let zoned = zone.is_some();
            let show = |i: usize, dt: Option<DateTime<chrono::Utc>>, raw: i64| {
                let dt = dt
                    .ok_or_else(|| bad(i, format!("timestamp {raw} ({unit:?}) is out of range")))?;
                // A zoned timestamp is an instant: show it on the report's clock. A zoneless
                // one is already wall-clock time: show it as it is.
                Ok(Value::DateTime(if zoned {
                    dt.with_timezone(&tz).naive_local()
                } else {
                    dt.naive_utc()
                }))
            };
            match unit {
                TimeUnit::Second => each!(
                    array.as_primitive::<TimestampSecondType>(),
                    |i, v| show(i, DateTime::from_timestamp(v, 0), v)
                ),
                TimeUnit::Millisecond => {
                    each!(array.as_primitive::<TimestampMillisecondType>(), |i, v| {
                        show(i, DateTime::from_timestamp_millis(v), v)
                    })
                }
                TimeUnit::Microsecond => {
                    each!(array.as_primitive::<TimestampMicrosecondType>(), |i, v| {
                        show(i, DateTime::from_timestamp_micros(v), v)
                    })
                }
                TimeUnit::Nanosecond => each!(
                    array.as_primitive::<TimestampNanosecondType>(),
                    |i, v| show(i, Some(DateTime::from_timestamp_nanos(v)), v)
                ),
            }
        }
        DataType::Time32(TimeUnit::Second) => {
            each!(array.as_primitive::<Time32SecondType>(), |i, v| {
                time_text(i, i64::from(v) * 1_000_000_000)
            })
        }
        DataType::Time32(TimeUnit::Millisecond) => {
            each!(array.as_primitive::<Time32MillisecondType>(), |i, v| {
                time_text(i, i64::from(v) * 1_000_000)
            })
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            each!(array.as_primitive::<Time64MicrosecondType>(), |i, v| {
                time_text(i, v.saturating_mul(1_000))
            })
        }
        DataType::Time64(TimeUnit::Nanosecond) => {
            each!(array.as_primitive::<Time64NanosecondType>(), |i, v| {
                time_text(i, v)
            })
        }
        DataType::Duration(unit) => {
            let per_hour = match unit {
                TimeUnit::Second => 3_600.0,
                TimeUnit::Millisecond => 3_600_000.0,
                TimeUnit::Microsecond => 3_600_000_000.0,
                TimeUnit::Nanosecond => 3_600_000_000_000.0,
            };
            let hours = |v: i64| Ok(Value::Number(v as f64 / per_hour));
            match unit {
                TimeUnit::Second => {
                    each!(array.as_primitive::<DurationSecondType>(), |_i, v| hours(v))
                }
                TimeUnit::Millisecond => {
                    each!(array.as_primitive::<DurationMillisecondType>(), |_i, v| {
                        hours(v)
                    })
                }
                TimeUnit::Microsecond => {
                    each!(array.as_primitive::<DurationMicrosecondType>(), |_i, v| {
                        hours(v)
                    })
                }
                TimeUnit::Nanosecond => {
                    each!(array.as_primitive::<DurationNanosecondType>(), |_i, v| {
                        hours(v)
                    })
                }
            }
        }
        DataType::Dictionary(_, _) => {
            let dict = array
                .as_any_dictionary_opt()
                .ok_or_else(|| ConvertError::Unsupported(array.data_type().clone()))?;
            // Convert the (small) dictionary once, then pick by key.
            let values = convert_array(dict.values().as_ref(), tz).map_err(|e| match e {
                ConvertError::Bad { message, .. } => ConvertError::Bad { row: 0, message },
                other => other,
            })?;
            let keys = dict.normalized_keys();
            Ok((0..n)
                .map(|i| {
                    if valid(i) {
                        values.get(keys[i]).cloned().unwrap_or(Value::Empty)
                    } else {
                        Value::Empty
                    }
                })
                .collect())
        }
        other => Err(ConvertError::Unsupported(other.clone())),
    }
}

fn decimal_values(
    n: usize,
    valid: impl Fn(usize) -> bool,
    text: impl Fn(usize) -> String,
) -> Result<Vec<Value>, ConvertError> {
    (0..n)
        .map(|i| {
            if !valid(i) {
                return Ok(Value::Empty);
            }
            let s = text(i);
            s.parse::<f64>()
                .map(Value::Number)
                .map_err(|_| ConvertError::Bad {
                    row: i,
                    message: format!("decimal {s} is not a number"),
                })
        })
        .collect()
}

fn time_text(row: usize, nanos: i64) -> Result<Value, ConvertError> {
    let secs = u32::try_from(nanos.div_euclid(1_000_000_000)).ok();
    let frac = nanos.rem_euclid(1_000_000_000) as u32;
    let time = secs
        .and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, frac))
        .ok_or_else(|| ConvertError::Bad {
            row,
            message: format!("time of day {nanos} ns is out of range"),
        })?;
    Ok(Value::Text(if frac == 0 {
        time.format("%H:%M:%S").to_string()
    } else {
        time.format("%H:%M:%S%.f").to_string()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        ArrayRef, BooleanArray, Date32Array, Date64Array, Decimal128Array, DictionaryArray,
        DurationSecondArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array,
        Int64Array, LargeStringArray, NullArray, StringArray, StringViewArray, Time32SecondArray,
        TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt8Array,
        UInt16Array, UInt32Array, UInt64Array,
    };
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    const SHANGHAI: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }
    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Converts a one-column batch and returns the values and the inferred format.
    fn convert(array: ArrayRef) -> (Vec<Value>, Format) {
        let schema = Schema::new(vec![Field::new("x", array.data_type().clone(), true)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![array]).unwrap();
        let binding = ColumnBinding {
            field: "x".into(),
            title: "列".into(),
            format: None,
            width: None,
        };
        let table = table_from_batches(&[binding], &[batch], SHANGHAI).unwrap();
        (
            table.rows.into_iter().map(|mut r| r.remove(0)).collect(),
            table.columns[0].format.clone(),
        )
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    #[test]
    fn strings_of_every_encoding() {
        let expected = vec![text("鄂尔多斯"), Value::Empty, text("")];
        let utf8: ArrayRef = Arc::new(StringArray::from(vec![Some("鄂尔多斯"), None, Some("")]));
        let large: ArrayRef = Arc::new(LargeStringArray::from(vec![
            Some("鄂尔多斯"),
            None,
            Some(""),
        ]));
        let view: ArrayRef = Arc::new(StringViewArray::from(vec![
            Some("鄂尔多斯"),
            None,
            Some(""),
        ]));
        for array in [utf8, large, view] {
            assert_eq!(convert(array), (expected.clone(), Format::General));
        }
    }

    #[test]
    fn dictionary_of_strings() {
        let dict: DictionaryArray<Int32Type> =
            vec![Some("逾期"), None, Some("已完成"), Some("逾期")]
                .into_iter()
                .collect();
        assert_eq!(
            convert(Arc::new(dict)),
            (
                vec![text("逾期"), Value::Empty, text("已完成"), text("逾期")],
                Format::General
            )
        );
        let dict: DictionaryArray<UInt8Type> = vec!["I", "E"].into_iter().collect();
        assert_eq!(convert(Arc::new(dict)).0, vec![text("I"), text("E")]);
    }

    #[test]
    fn integers_signed_and_unsigned() {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int8Array::from(vec![Some(-8), None])),
            Arc::new(Int16Array::from(vec![Some(-8), None])),
            Arc::new(Int32Array::from(vec![Some(-8), None])),
            Arc::new(Int64Array::from(vec![Some(-8), None])),
        ];
        for a in arrays {
            assert_eq!(
                convert(a),
                (vec![Value::Int(-8), Value::Empty], Format::Integer)
            );
        }
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(UInt8Array::from(vec![Some(200), None])),
            Arc::new(UInt16Array::from(vec![Some(200), None])),
            Arc::new(UInt32Array::from(vec![Some(200), None])),
            Arc::new(UInt64Array::from(vec![Some(200), None])),
        ];
        for a in arrays {
            assert_eq!(
                convert(a),
                (vec![Value::Int(200), Value::Empty], Format::Integer)
            );
        }
        let big = convert(Arc::new(UInt64Array::from(vec![u64::MAX]))).0;
        assert_eq!(big, vec![Value::Number(u64::MAX as f64)]);
    }

    #[test]
    fn floats_keep_their_decimal_value() {
        let (v, f) = convert(Arc::new(Float32Array::from(vec![
            Some(0.1f32),
            None,
            Some(f32::NAN),
        ])));
        assert_eq!(f, Format::Decimal(2));
        assert_eq!(v[0], Value::Number(0.1));
        assert_eq!(v[1], Value::Empty);
        assert!(matches!(v[2], Value::Number(x) if x.is_nan()));
        let (v, f) = convert(Arc::new(Float64Array::from(vec![12.5, -0.25])));
        assert_eq!(
            (v, f),
            (
                vec![Value::Number(12.5), Value::Number(-0.25)],
                Format::Decimal(2)
            )
        );
        let (v, _) = convert(Arc::new(arrow::array::Float16Array::from(vec![
            half_one_and_half(),
        ])));
        assert_eq!(v, vec![Value::Number(1.5)]);
    }

    fn half_one_and_half() -> <Float16Type as arrow::datatypes::ArrowPrimitiveType>::Native {
        <Float16Type as arrow::datatypes::ArrowPrimitiveType>::Native::from_f64(1.5)
    }

    #[test]
    fn decimals_are_scale_aware() {
        let a = Decimal128Array::from(vec![Some(123_456_i128), None, Some(-5)])
            .with_precision_and_scale(12, 2)
            .unwrap();
        assert_eq!(
            convert(Arc::new(a)),
            (
                vec![Value::Number(1234.56), Value::Empty, Value::Number(-0.05)],
                Format::Decimal(2)
            )
        );
        let a = Decimal128Array::from(vec![7_i128])
            .with_precision_and_scale(10, 0)
            .unwrap();
        assert_eq!(
            convert(Arc::new(a)),
            (vec![Value::Number(7.0)], Format::Decimal(0))
        );
        let a =
            arrow::array::Decimal256Array::from(vec![arrow::datatypes::i256::from_i128(12_345)])
                .with_precision_and_scale(40, 4)
                .unwrap();
        assert_eq!(
            convert(Arc::new(a)),
            (vec![Value::Number(1.2345)], Format::Decimal(4))
        );
    }

    #[test]
    fn booleans_are_shi_fou() {
        let a = BooleanArray::from(vec![Some(true), Some(false), None]);
        assert_eq!(
            convert(Arc::new(a)),
            (vec![text("是"), text("否"), Value::Empty], Format::General)
        );
    }

    #[test]
    fn dates() {
        // 2026-11-09 is day 20_766 since 1970-01-01.
        let days = (d("2026-11-09") - d("1970-01-01")).num_days() as i32;
        let (v, f) = convert(Arc::new(Date32Array::from(vec![Some(days), None])));
        assert_eq!(
            (v, f),
            (
                vec![Value::Date(d("2026-11-09")), Value::Empty],
                Format::Date
            )
        );
        let ms = i64::from(days) * 86_400_000;
        let (v, f) = convert(Arc::new(Date64Array::from(vec![ms])));
        assert_eq!((v, f), (vec![Value::Date(d("2026-11-09"))], Format::Date));
    }

    #[test]
    fn utc_timestamp_shows_in_local_time() {
        let instant = DateTime::parse_from_rfc3339("2026-11-08T16:30:00Z")
            .unwrap()
            .timestamp();
        let a = TimestampSecondArray::from(vec![Some(instant), None]).with_timezone("UTC");
        assert_eq!(
            convert(Arc::new(a)),
            (
                vec![Value::DateTime(dt("2026-11-09 00:30:00")), Value::Empty],
                Format::DateTime
            )
        );
        // Another zone, same instant: same local display.
        let a = TimestampMillisecondArray::from(vec![instant * 1000]).with_timezone("+05:00");
        assert_eq!(
            convert(Arc::new(a)).0,
            vec![Value::DateTime(dt("2026-11-09 00:30:00"))]
        );
        let a = TimestampNanosecondArray::from(vec![instant * 1_000_000_000 + 250_000_000])
            .with_timezone("Asia/Shanghai");
        let expected = dt("2026-11-09 00:30:00") + chrono::Duration::milliseconds(250);
        assert_eq!(convert(Arc::new(a)).0, vec![Value::DateTime(expected)]);
        let a = arrow::array::TimestampMicrosecondArray::from(vec![instant * 1_000_000])
            .with_timezone("UTC");
        assert_eq!(
            convert(Arc::new(a)).0,
            vec![Value::DateTime(dt("2026-11-09 00:30:00"))]
        );
    }

    #[test]
    fn zoneless_timestamp_is_shown_as_is() {
        let wall = dt("2026-11-08 16:30:00").and_utc().timestamp();
        let a = TimestampSecondArray::from(vec![wall]);
        assert_eq!(
            convert(Arc::new(a)),
            (
                vec![Value::DateTime(dt("2026-11-08 16:30:00"))],
                Format::DateTime
            )
        );
    }

    #[test]
    fn null_time_and_duration() {
        assert_eq!(
            convert(Arc::new(NullArray::new(2))),
            (vec![Value::Empty, Value::Empty], Format::General)
        );
        let a = Time32SecondArray::from(vec![3 * 3600 + 5 * 60 + 9]);
        assert_eq!(
            convert(Arc::new(a)),
            (vec![text("03:05:09")], Format::General)
        );
        let a = DurationSecondArray::from(vec![5400]);
        assert_eq!(
            convert(Arc::new(a)),
            (vec![Value::Number(1.5)], Format::Hours)
        );
    }

    #[test]
    fn rows_span_batches_and_bindings_pick_fields() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("week", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let b1 = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["2026-W45"])),
                Arc::new(Int64Array::from(vec![3])),
            ],
        )
        .unwrap();
        let b2 = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["2026-W46"])),
                Arc::new(Int64Array::from(vec![4])),
            ],
        )
        .unwrap();
        let bindings = [
            ColumnBinding {
                field: "n".into(),
                title: "票数".into(),
                format: Some(Format::General),
                width: Some(9.0),
            },
            ColumnBinding {
                field: "week".into(),
                title: "周".into(),
                format: None,
                width: None,
            },
        ];
        let t = table_from_batches(&bindings, &[b1, b2], SHANGHAI).unwrap();
        assert_eq!(
            t.columns,
            vec![
                Column {
                    title: "票数".into(),
                    format: Format::General,
                    width: Some(9.0)
                },
                Column {
                    title: "周".into(),
                    format: Format::General,
                    width: None
                },
            ]
        );
        assert_eq!(
            t.rows,
            vec![
                vec![Value::Int(3), text("2026-W45")],
                vec![Value::Int(4), text("2026-W46")]
            ]
        );

        let missing = [ColumnBinding {
            field: "p90".into(),
            title: "P90".into(),
            format: None,
            width: None,
        }];
        let schema = Arc::new(Schema::new(vec![Field::new("week", DataType::Utf8, false)]));
        let b = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec!["w"]))]).unwrap();
        let err = table_from_batches(&missing, &[b], SHANGHAI)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "query result has no field `p90` (wanted for report column \"P90\"); available fields: week"
        );
    }

    #[test]
    fn unsupported_types_name_the_field() {
        let list =
            arrow::array::ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![
                Some(1),
            ])]);
        let schema = Schema::new(vec![Field::new("xs", list.data_type().clone(), true)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(list)]).unwrap();
        let b = [ColumnBinding {
            field: "xs".into(),
            title: "清单".into(),
            format: None,
            width: None,
        }];
        let err = table_from_batches(&b, &[batch], SHANGHAI)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("field `xs` (report column \"清单\") has Arrow type List("),
            "{err}"
        );
    }

    #[test]
    fn empty_result_gives_headers_only() {
        let b = [ColumnBinding {
            field: "x".into(),
            title: "列".into(),
            format: None,
            width: None,
        }];
        let t = table_from_batches(&b, &[], SHANGHAI).unwrap();
        assert_eq!(t.columns.len(), 1);
        assert!(t.rows.is_empty());
    }

    #[test]
    fn widths_count_cjk_double_and_clamp() {
        assert_eq!(text_width("abc"), 3);
        assert_eq!(text_width("通关时间"), 8);
        assert_eq!(text_width("进口（小时）"), 12);
        assert_eq!(text_width("第一行\nab"), 6);
        // Header 4 CJK = 8 + 4 (padding and filter button) = 12 beats values 5 + 2.
        assert_eq!(auto_width("通关时间", true, [5, 3]), 12.0);
        assert_eq!(auto_width("通关时间", false, [5, 3]), 10.0);
        assert_eq!(auto_width("x", false, [1]), MIN_AUTO_WIDTH);
        assert_eq!(auto_width("x", false, [500]), MAX_AUTO_WIDTH);
        assert_eq!(display_width(&Content::Int(1_234_567), &Format::Integer), 9); // 1,234,567
        assert_eq!(
            display_width(&Content::Number(0.1234), &Format::Percent(1)),
            5
        ); // 12.3%
        assert_eq!(
            display_width(&Content::Date(d("2026-01-01")), &Format::Date),
            10
        );
        assert_eq!(group_thousands("-1234567.50"), "-1,234,567.50");
    }

    #[test]
    fn widths_from_first_rows_only() {
        let mut rows: Vec<Vec<Value>> = (0..AUTO_WIDTH_ROWS).map(|_| vec![text("ab")]).collect();
        rows.push(vec![text(&"x".repeat(50))]);
        let sheet = Sheet {
            name: "s".into(),
            blocks: vec![Block::Table(Table {
                columns: vec![Column::new("a", Format::General)],
                rows,
                ..Default::default()
            })],
            ..Default::default()
        };
        assert_eq!(column_widths(&sheet).get(&0), Some(&MIN_AUTO_WIDTH));
    }

    #[test]
    fn sheet_names_are_sanitized_and_deduped() {
        assert_eq!(
            sanitize_sheet_name("通关时间/周[进口]", 0),
            "通关时间／周［进口］"
        );
        assert_eq!(sanitize_sheet_name("a:b*c?d\\e", 0), "a：b＊c？d＼e");
        assert_eq!(sanitize_sheet_name("  '封面'\n", 0), "封面");
        assert_eq!(sanitize_sheet_name("", 2), "工作表3");
        let long = "很".repeat(40);
        assert_eq!(sanitize_sheet_name(&long, 0), "很".repeat(31));
        let wb = Workbook {
            title: String::new(),
            created: dt("2026-11-09 08:00:00"),
            sheets: ["封面", "封面", "Data", "data", "History", &long, &long]
                .iter()
                .map(|n| Sheet {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
        };
        assert_eq!(
            sheet_names(&wb),
            vec![
                "封面".to_string(),
                "封面(2)".into(),
                "Data".into(),
                "data(2)".into(),
                "History(2)".into(),
                "很".repeat(31),
                format!("{}(2)", "很".repeat(28)),
            ]
        );
        for name in sheet_names(&wb) {
            xlsx::utility::check_sheet_name(&name).unwrap();
        }
    }

    #[test]
    fn serials_match_excel() {
        assert_eq!(date_serial(d("1900-01-01")), 1.0);
        assert_eq!(date_serial(d("1900-02-28")), 59.0);
        assert_eq!(date_serial(d("1900-03-01")), 61.0);
        assert_eq!(date_serial(d("2026-11-09")), 46335.0);
        assert_eq!(datetime_serial(dt("2026-11-09 12:00:00")), 46335.5);
        assert_eq!(format_serial(46335.0), "2026-11-09");
        assert_eq!(
            format_serial(datetime_serial(dt("2026-11-09 00:30:00"))),
            "2026-11-09 00:30:00"
        );
        assert_eq!(format_serial(59.0), "1900-02-28");
        assert_eq!(format_serial(61.0), "1900-03-01");
        assert!(is_date_format("yyyy-mm-dd hh:mm"));
        assert!(!is_date_format("#,##0.00"));
        assert!(!is_date_format("0.0\" h\""));
        assert!(!is_date_format("[Red]0.0"));
    }

    #[test]
    fn values_excel_cannot_hold() {
        assert_eq!(value_content(&Value::Number(f64::NAN)), Content::Blank);
        assert_eq!(value_content(&Value::Number(f64::INFINITY)), Content::Blank);
        assert_eq!(
            value_content(&Value::Int(123_456_789_012_345_678)),
            Content::Text("123456789012345678".into())
        );
        assert_eq!(
            value_content(&Value::Date(d("1899-01-01"))),
            Content::Text("1899-01-01".into())
        );
        let long = "字".repeat(MAX_CELL_CHARS + 5);
        match value_content(&Value::Text(long)) {
            Content::Text(s) => assert_eq!(s.chars().count(), MAX_CELL_CHARS),
            other => panic!("{other:?}"),
        }
    }
}
