//! Writer: renders the layout to an `.xlsx` file.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Timelike;
use rust_xlsxwriter as xlsx;

use super::error::ReportError;
use super::layout::{
    CellRange, CondValue, Content, PlacedChart, Role, SeriesName, SheetRange, WorkbookLayout,
    layout,
};
use super::look::{FONT_CHARSET, FONT_NAME, FONT_SIZE, TITLE_SIZE};
use super::model::{ChartKind, Format, Workbook};
use super::serial::{date_serial, datetime_serial};

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
