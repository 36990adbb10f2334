//! Layout: where every block lands. Shared by the writer and the dump.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use rust_xlsxwriter as xlsx;

use super::error::ReportError;
use super::look::{
    AUTO_WIDTH_ROWS, CHART_HEIGHT_PX, CHART_ROW_STRIDE, CHART_WIDTH_PX, DATE_FORMAT,
    DATETIME_FORMAT, DEFAULT_COL_WIDTH, EXACT_INT_LIMIT, GENERAL_FORMAT, LANDSCAPE_WIDTH,
    LINE_HEIGHT, MAX_CELL_CHARS, MAX_COLS, MAX_ROW_HEIGHT, MAX_ROWS, MIN_PARAGRAPH_WIDTH,
    TITLE_ROW_HEIGHT,
};
use super::model::{Block, ChartKind, ChartSpec, Fill, Format, Sheet, Table, Value, Workbook};
use super::names::sheet_names;
use super::serial::excel_date_in_range;
use super::widths::{auto_width, display_width, text_width};

/// A rectangle of cells, 0-based and inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CellRange {
    pub first_row: u32,
    pub first_col: u16,
    pub last_row: u32,
    pub last_col: u16,
}

impl CellRange {
    pub(super) fn cell(row: u32, col: u16) -> CellRange {
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
pub(super) fn column_widths(sheet: &Sheet) -> BTreeMap<u16, f64> {
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
