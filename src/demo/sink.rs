//! One output file: header row and data rows written the way a clerk's export tool writes them.
//!
//! A [`Sink`] owns the file's look, drawn once when it is opened: format (xlsx, CSV UTF-8 with or
//! without BOM, CSV GBK), header aliases and their small deformations, column order, and value
//! styles (timestamps as text in one of several forms or as real Excel date-times, 进口/出口 or
//! I/E, 是/否 or Y/N, 监管方式 with or without its leading zero). Rows arrive as typed [`Value`]s;
//! the sink hides what had not happened yet at the file's extract cut-off, plants the file's few
//! defects, and streams the row out. xlsx files above a few thousand rows use rust_xlsxwriter's
//! constant-memory worksheets, so memory stays flat whatever the scale.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use rand::Rng;
use rand::seq::SliceRandom;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format as XlsxFormat, Workbook};

use super::DemoError;
use super::calendar::excel_serial;
use super::codes;
use super::feeds::{Defect, FeedSpec, Kind};
use super::rng::{self, DemoRng};

/// File formats agencies deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Xlsx,
    CsvUtf8,
    CsvUtf8Bom,
    CsvGbk,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            _ => "csv",
        }
    }
}

/// A typed cell value before the file's styles are applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Empty,
    Str(&'static str),
    Text(String),
    /// A code whose leading zeros an export may drop (监管方式).
    Code(&'static str),
    /// 进出口: `true` for import.
    Ie(bool),
    /// A coded value written as its code or as its name, as the file's export does
    /// (运输方式 `5` or `航空运输`, 出入境 `入` or `入境`).
    Coded(&'static str, &'static str),
    Bool(bool),
    /// An event time: not in files extracted before it happened.
    Time(NaiveDateTime),
    /// An event date: likewise.
    Date(NaiveDate),
    /// A date known in advance (a payment deadline): always shown.
    Planned(NaiveDate),
    /// Money in fen (two decimals, exact).
    Money(i64),
    Num(f64),
    /// A value only known once the event at that time has happened (查验结果 after the inspection).
    After(NaiveDateTime, Box<Value>),
    /// Written verbatim (planted defects).
    Raw(String),
}

impl Value {
    pub fn money(yuan: f64) -> Value {
        Value::Money((yuan * 100.0).round() as i64)
    }

    /// The value as the extract taken at `cutoff` shows it.
    fn visible(&self, cutoff: NaiveDateTime) -> &Value {
        match self {
            Value::Time(t) if *t >= cutoff => &Value::Empty,
            Value::Date(d) if *d >= cutoff.date() => &Value::Empty,
            Value::After(t, inner) => {
                if *t >= cutoff {
                    &Value::Empty
                } else {
                    inner.visible(cutoff)
                }
            }
            v => v,
        }
    }

    fn time(&self) -> Option<NaiveDateTime> {
        match self {
            Value::Time(t) => Some(*t),
            Value::Date(d) | Value::Planned(d) => Some(super::calendar::midnight(*d)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum TsStyle {
    /// 2026-11-09 13:05:00
    Iso,
    /// 2026/11/9 13:05
    SlashShort,
    /// 2026/11/09 13:05:00
    SlashFull,
    /// 2026-11-09 13:05
    IsoMinutes,
}

#[derive(Debug, Clone, Copy)]
enum DateStyle {
    /// 2026-11-09
    Iso,
    /// 2026/11/9
    Slash,
    /// 2026年11月9日
    Chinese,
    /// 20261109
    Compact,
    /// ２０２６年１１月９日 (full-width digits, as some forms are typed)
    ChineseFullWidth,
}

/// How the file renders values; drawn once per file.
#[derive(Debug, Clone, Copy)]
struct Style {
    ts: TsStyle,
    date: DateStyle,
    /// 进口/出口 (0), I/E (1), 进/出 (2).
    ie: u8,
    /// 是/否 or Y/N.
    yes_no: bool,
    /// Coded values by name rather than code.
    names: bool,
    /// 监管方式 without leading zero (as a number in xlsx).
    strip_zero: bool,
    /// xlsx: real Excel date-times with a number format instead of text.
    real_dates: bool,
    crlf: bool,
}

impl Style {
    fn draw(rng: &mut DemoRng, format: Format) -> Style {
        let ts = match rng::weighted(rng, &[0.45, 0.3, 0.15, 0.1]) {
            0 => TsStyle::Iso,
            1 => TsStyle::SlashShort,
            2 => TsStyle::SlashFull,
            _ => TsStyle::IsoMinutes,
        };
        let date = match rng::weighted(rng, &[0.4, 0.25, 0.2, 0.12, 0.03]) {
            0 => DateStyle::Iso,
            1 => DateStyle::Slash,
            2 => DateStyle::Chinese,
            3 => DateStyle::Compact,
            _ => DateStyle::ChineseFullWidth,
        };
        Style {
            ts,
            date,
            ie: rng::weighted(rng, &[0.55, 0.4, 0.05]) as u8,
            yes_no: rng::chance(rng, 0.65),
            names: rng::chance(rng, 0.6),
            strip_zero: rng::chance(rng, 0.25),
            real_dates: rng::chance(rng, 0.75),
            crlf: matches!(format, Format::CsvGbk) || rng::chance(rng, 0.4),
        }
    }
}

fn full_width_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0xFF10 + d).unwrap_or(c),
            None => c,
        })
        .collect()
}

fn push_date(out: &mut String, d: NaiveDate, style: DateStyle) {
    use std::fmt::Write as _;
    let (y, m, day) = (d.year(), d.month(), d.day());
    let _ = match style {
        DateStyle::Iso => write!(out, "{y:04}-{m:02}-{day:02}"),
        DateStyle::Slash => write!(out, "{y}/{m}/{day}"),
        DateStyle::Chinese => write!(out, "{y}年{m}月{day}日"),
        DateStyle::Compact => write!(out, "{y:04}{m:02}{day:02}"),
        DateStyle::ChineseFullWidth => {
            out.push_str(&full_width_digits(&format!("{y}年{m}月{day}日")));
            Ok(())
        }
    };
}

fn push_time(out: &mut String, t: NaiveDateTime, style: TsStyle) {
    use std::fmt::Write as _;
    let (y, m, d) = (t.year(), t.month(), t.day());
    let (h, mi, s) = (t.hour(), t.minute(), t.second());
    let _ = match style {
        TsStyle::Iso => write!(out, "{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
        TsStyle::SlashShort => write!(out, "{y}/{m}/{d} {h}:{mi:02}"),
        TsStyle::SlashFull => write!(out, "{y:04}/{m:02}/{d:02} {h:02}:{mi:02}:{s:02}"),
        TsStyle::IsoMinutes => write!(out, "{y:04}-{m:02}-{d:02} {h:02}:{mi:02}"),
    };
}

fn push_money(out: &mut String, fen: i64) {
    use std::fmt::Write as _;
    let sign = if fen < 0 { "-" } else { "" };
    let _ = write!(out, "{sign}{}.{:02}", fen.abs() / 100, fen.abs() % 100);
}

fn strip_leading_zeros(code: &str) -> &str {
    let t = code.trim_start_matches('0');
    if t.is_empty() { "0" } else { t }
}

/// Appends one CSV field, quoted when it holds a comma, quote, CR or LF (RFC 4180).
pub(crate) fn push_csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        for c in field.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// A header as a clerk typed it: mostly the schema title, sometimes another alias, now and then
/// with a stray space, a line break or full-width brackets.
fn draw_header(rng: &mut DemoRng, aliases: &[&str], sloppy: bool) -> String {
    let mut h = if rng::chance(rng, 0.6) {
        aliases[0].to_string()
    } else {
        rng::one_of(rng, aliases).to_string()
    };
    if h.contains('(') && rng::chance(rng, 0.5) {
        h = h.replace('(', "（").replace(')', "）");
    }
    let chars: Vec<char> = h.chars().collect();
    if sloppy && chars.len() >= 3 && rng::chance(rng, 0.12) {
        let at = rng.random_range(1..chars.len() - 1);
        let sep = if rng::chance(rng, 0.5) { " " } else { "\n" };
        h = chars[..at].iter().collect::<String>() + sep + &chars[at..].iter().collect::<String>();
    } else if sloppy && rng::chance(rng, 0.05) {
        h.push(' ');
    }
    h
}

enum Out {
    Csv {
        writer: BufWriter<File>,
        gbk: bool,
        buf: String,
        line: String,
    },
    Xlsx {
        workbook: Box<Workbook>,
        formats: Box<XlsxFormats>,
        row: u32,
    },
}

struct XlsxFormats {
    datetime: XlsxFormat,
    date: XlsxFormat,
    money: XlsxFormat,
}

/// Statistics a finished file reports back.
#[derive(Debug, Default, Clone)]
pub(crate) struct FileStats {
    pub rows: u64,
    pub defects: Vec<(Defect, u64)>,
    /// Characters GBK could not encode (must stay 0: the generator only uses GBK text).
    pub unmappable: u64,
}

/// What the sink needs to know about the file it opens.
pub(crate) struct SinkSpec<'a> {
    pub spec: &'static FeedSpec,
    pub path: PathBuf,
    pub format: Format,
    /// Extract time of the file: later events are not in it.
    pub cutoff: NaiveDateTime,
    /// When the unit delivered it (local time): the file's modification time, and shortly
    /// after its xlsx creation time.
    pub delivered: NaiveDateTime,
    /// Expected data rows: sizes the defect plan and picks the xlsx memory mode.
    pub expected_rows: u64,
    /// How many defects to plant (0 for clean files).
    pub defects: usize,
    pub author: &'a str,
}

pub(crate) struct Sink {
    spec: &'static FeedSpec,
    path: PathBuf,
    cutoff: NaiveDateTime,
    delivered: NaiveDateTime,
    style: Style,
    /// Canonical column index for each output position.
    order: Vec<usize>,
    out: Out,
    rng: DemoRng,
    /// Planned defects: (row index from which to plant, defect), latest first.
    plan: Vec<(u64, Defect)>,
    stats: FileStats,
    text: String,
}

/// Threshold above which xlsx worksheets stream rows to disk instead of holding them (low in
/// tests, so that the small test runs write both kinds).
const CONSTANT_MEMORY_ROWS: u64 = if cfg!(test) { 200 } else { 5_000 };

impl Sink {
    pub fn create(s: SinkSpec<'_>, mut rng: DemoRng) -> Result<Sink, DemoError> {
        let style = Style::draw(&mut rng, s.format);
        let n = s.spec.cols.len();
        let mut order: Vec<usize> = (0..n).collect();
        match rng::weighted(&mut rng, &[0.7, 0.2, 0.1]) {
            0 => {}
            1 => {
                // Somebody moved a column or two in the export template.
                for _ in 0..rng.random_range(1..=2) {
                    let i = rng.random_range(1..n);
                    order.swap(i, i - 1);
                }
            }
            _ => order.shuffle(&mut rng),
        }
        // Some templates were typed by hand (stray spaces, line breaks); most were not.
        let sloppy = rng::chance(&mut rng, 0.35);
        let headers: Vec<String> = order
            .iter()
            .map(|c| draw_header(&mut rng, s.spec.cols[*c].aliases, sloppy))
            .collect();
        let plan = Self::plan_defects(&mut rng, s.spec, s.expected_rows, s.defects);

        let out = match s.format {
            Format::Xlsx => Self::open_xlsx(&s, &headers, &order, &mut rng)?,
            _ => {
                let file = File::create(&s.path).map_err(|e| DemoError::io(&s.path, e))?;
                let mut writer = BufWriter::with_capacity(1 << 16, file);
                if s.format == Format::CsvUtf8Bom {
                    writer
                        .write_all(b"\xEF\xBB\xBF")
                        .map_err(|e| DemoError::io(&s.path, e))?;
                }
                let mut line = String::new();
                for (i, h) in headers.iter().enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    push_csv_field(&mut line, h);
                }
                let mut buf = String::with_capacity(1 << 16);
                buf.push_str(&line);
                buf.push_str(if style.crlf { "\r\n" } else { "\n" });
                Out::Csv {
                    writer,
                    gbk: s.format == Format::CsvGbk,
                    buf,
                    line,
                }
            }
        };
        Ok(Sink {
            spec: s.spec,
            path: s.path,
            cutoff: s.cutoff,
            delivered: s.delivered,
            style,
            order,
            out,
            rng,
            plan,
            stats: FileStats::default(),
            text: String::new(),
        })
    }

    fn plan_defects(
        rng: &mut DemoRng,
        spec: &FeedSpec,
        expected_rows: u64,
        count: usize,
    ) -> Vec<(u64, Defect)> {
        if spec.defects.is_empty() || expected_rows < 8 || count == 0 {
            return Vec::new();
        }
        let mut kinds: Vec<Defect> = spec.defects.to_vec();
        kinds.shuffle(rng);
        let mut plan: Vec<(u64, Defect)> = kinds
            .into_iter()
            .take(count)
            .map(|d| (rng.random_range(0..expected_rows * 4 / 5), d))
            .collect();
        // Latest first, so the next one due is at the end.
        plan.sort_by(|a, b| b.cmp(a));
        plan
    }

    fn open_xlsx(
        s: &SinkSpec<'_>,
        headers: &[String],
        order: &[usize],
        rng: &mut DemoRng,
    ) -> Result<Out, DemoError> {
        let xerr = |e| DemoError::xlsx(&s.path, e);
        let mut workbook = Workbook::new();
        let c = s.delivered - Duration::minutes(rng.random_range(5..90));
        let created = ExcelDateTime::from_ymd(c.year() as u16, c.month() as u8, c.day() as u8)
            .and_then(|d| d.and_hms(c.hour() as u16, c.minute() as u8, 0))
            .map_err(xerr)?;
        workbook.set_properties(
            &DocProperties::new()
                .set_author(s.author)
                .set_company(s.author)
                .set_creation_datetime(&created),
        );
        let datetime = XlsxFormat::new().set_num_format(rng::one_of(
            rng,
            &["yyyy-mm-dd hh:mm:ss", "yyyy/m/d h:mm", "yyyy-mm-dd hh:mm"],
        ));
        let date = XlsxFormat::new().set_num_format(rng::one_of(
            rng,
            &["yyyy-mm-dd", "yyyy/m/d", "yyyy\"年\"m\"月\"d\"日\""],
        ));
        let money = XlsxFormat::new().set_num_format(rng::one_of(rng, &["0.00", "#,##0.00"]));
        let bold = rng::chance(rng, 0.6);
        let sheet_name = if rng::chance(rng, 0.5) {
            s.spec.sheet
        } else {
            "Sheet1"
        };
        let sheet = if s.expected_rows > CONSTANT_MEMORY_ROWS {
            // Large files: deflate is most of the cost of an xlsx, and the fast level costs
            // only a little size.
            workbook.set_zip_compression_level(1);
            workbook
                .add_worksheet_with_constant_memory()
                .map_err(xerr)?
        } else {
            workbook.add_worksheet()
        };
        sheet.set_name(sheet_name).map_err(xerr)?;
        for (i, h) in headers.iter().enumerate() {
            let mut f = XlsxFormat::new();
            if bold {
                f = f.set_bold();
            }
            if h.contains('\n') {
                f = f.set_text_wrap();
            }
            sheet
                .write_string_with_format(0, i as u16, h, &f)
                .map_err(xerr)?;
            let width = match s.spec.cols[order[i]].kind {
                Kind::Timestamp => 19.0,
                Kind::EntryId | Kind::Uscc => 21.0,
                _ => 14.0,
            };
            sheet.set_column_width(i as u16, width).map_err(xerr)?;
        }
        Ok(Out::Xlsx {
            workbook: Box::new(workbook),
            formats: Box::new(XlsxFormats {
                datetime,
                date,
                money,
            }),
            row: 1,
        })
    }

    /// Writes one row (cells in the spec's canonical column order), planting a defect when one
    /// is due.
    pub fn write(&mut self, cells: &[Value]) -> Result<(), DemoError> {
        debug_assert_eq!(cells.len(), self.spec.cols.len(), "{}", self.spec.feed);
        let due = self
            .plan
            .last()
            .is_some_and(|(at, _)| *at <= self.stats.rows);
        if !due {
            return self.emit(cells);
        }
        let (_, defect) = self.plan[self.plan.len() - 1];
        let mut row: Vec<Value> = cells
            .iter()
            .map(|v| v.visible(self.cutoff).clone())
            .collect();
        if defect == Defect::DuplicateKey {
            self.emit(&row)?;
            // The second copy differs a little, as a re-keyed line would.
            if let Some(v) = row.iter_mut().find(|v| matches!(v, Value::Money(_))) {
                *v = Value::Money(self.rng.random_range(100..10_000_000));
            }
        } else if !self.plant(defect, &mut row) {
            // Does not fit this row (e.g. the time it needs is not there yet): try the next one.
            return self.emit(cells);
        }
        self.plan.pop();
        self.emit(&row)?;
        match self.stats.defects.iter_mut().find(|(d, _)| *d == defect) {
            Some((_, n)) => *n += 1,
            None => self.stats.defects.push((defect, 1)),
        }
        Ok(())
    }

    /// Applies `defect` to a visible row; `false` when the row offers no place for it.
    fn plant(&mut self, defect: Defect, row: &mut [Value]) -> bool {
        let cols = self.spec.cols;
        let rng = &mut self.rng;
        match defect {
            Defect::KeyUsccCheck | Defect::RefUsccCheck => {
                let key = defect == Defect::KeyUsccCheck;
                let Some(i) = (0..cols.len()).find(|i| {
                    cols[*i].kind == Kind::Uscc
                        && self.spec.key.contains(i) == key
                        && matches!(row[*i], Value::Text(_))
                }) else {
                    return false;
                };
                let Value::Text(code) = &row[i] else {
                    return false;
                };
                row[i] = Value::Text(codes::uscc_corrupt(code, rng.random_range(0..30)));
                true
            }
            Defect::TimeReversed => {
                let Some((later, earlier)) = self.spec.order.first().copied() else {
                    return false;
                };
                let Some(t) = row[earlier].time() else {
                    return false;
                };
                row[later] = Value::Time(t - Duration::minutes(rng.random_range(30..600)));
                true
            }
            Defect::BadDate => {
                let candidates: Vec<usize> = (0..cols.len())
                    .filter(|i| {
                        matches!(cols[*i].kind, Kind::Timestamp | Kind::Date)
                            && row[*i].time().is_some()
                    })
                    .collect();
                if candidates.is_empty() {
                    return false;
                }
                let i = rng::one_of(rng, &candidates);
                let y = row[i].time().map(|t| t.year()).unwrap_or(2026);
                let text = match rng.random_range(0..4) {
                    0 => format!("{y}-13-45"),
                    1 => format!("{y}-02-30 09:15:00"),
                    2 => format!("{y}/11/31 25:61"),
                    _ => format!("{y}年13月5日"),
                };
                row[i] = Value::Raw(text);
                true
            }
            Defect::ShortEntryId => {
                let Some(i) = (0..cols.len()).find(|i| cols[*i].kind == Kind::EntryId) else {
                    return false;
                };
                let Value::Text(id) = &row[i] else {
                    return false;
                };
                // A digit lost when the number was re-typed.
                let at = rng.random_range(4..id.len());
                let mut short = id.clone();
                short.remove(at);
                row[i] = Value::Text(short);
                true
            }
            Defect::EmptyRequired => {
                let candidates: Vec<usize> = (0..cols.len())
                    .filter(|i| cols[*i].required && !matches!(row[*i], Value::Empty))
                    .collect();
                if candidates.is_empty() {
                    return false;
                }
                row[rng::one_of(rng, &candidates)] = Value::Empty;
                true
            }
            Defect::DuplicateKey => true,
        }
    }

    fn emit(&mut self, cells: &[Value]) -> Result<(), DemoError> {
        self.stats.rows += 1;
        let cutoff = self.cutoff;
        let style = self.style;
        match &mut self.out {
            Out::Csv {
                writer,
                gbk,
                buf,
                line,
            } => {
                line.clear();
                for (pos, c) in self.order.iter().enumerate() {
                    if pos > 0 {
                        line.push(',');
                    }
                    self.text.clear();
                    render_text(&mut self.text, cells[*c].visible(cutoff), style);
                    push_csv_field(line, &self.text);
                }
                buf.push_str(line);
                buf.push_str(if style.crlf { "\r\n" } else { "\n" });
                if buf.len() > 1 << 16 {
                    flush_csv(writer, *gbk, buf, &mut self.stats.unmappable)
                        .map_err(|e| DemoError::io(&self.path, e))?;
                }
                Ok(())
            }
            Out::Xlsx {
                workbook,
                formats,
                row,
            } => {
                let r = *row;
                *row += 1;
                let sheet = workbook
                    .worksheet_from_index(0)
                    .map_err(|e| DemoError::xlsx(&self.path, e))?;
                for (pos, c) in self.order.iter().enumerate() {
                    let col = pos as u16;
                    let v = cells[*c].visible(cutoff);
                    let res = match v {
                        Value::Empty => continue,
                        Value::Time(t) if style.real_dates => sheet.write_number_with_format(
                            r,
                            col,
                            excel_serial(*t),
                            &formats.datetime,
                        ),
                        Value::Date(d) | Value::Planned(d) if style.real_dates => sheet
                            .write_number_with_format(
                                r,
                                col,
                                excel_serial(super::calendar::midnight(*d)),
                                &formats.date,
                            ),
                        Value::Money(fen) => sheet.write_number_with_format(
                            r,
                            col,
                            *fen as f64 / 100.0,
                            &formats.money,
                        ),
                        Value::Num(x) => sheet.write_number(r, col, *x),
                        Value::Code(code) if style.strip_zero => {
                            // Excel turns "0110" typed into a cell into the number 110.
                            match code.parse::<f64>() {
                                Ok(n) => sheet.write_number(r, col, n),
                                Err(_) => sheet.write_string(r, col, *code),
                            }
                        }
                        other => {
                            self.text.clear();
                            render_text(&mut self.text, other, style);
                            sheet.write_string(r, col, &self.text)
                        }
                    };
                    res.map_err(|e| DemoError::xlsx(&self.path, e))?;
                }
                Ok(())
            }
        }
    }

    pub fn finish(self) -> Result<Finished, DemoError> {
        let Sink {
            path,
            out,
            mut stats,
            delivered,
            ..
        } = self;
        let workbook = match out {
            Out::Csv {
                mut writer,
                gbk,
                mut buf,
                ..
            } => {
                flush_csv(&mut writer, gbk, &mut buf, &mut stats.unmappable)
                    .map_err(|e| DemoError::io(&path, e))?;
                writer.flush().map_err(|e| DemoError::io(&path, e))?;
                drop(writer);
                set_delivered(&path, delivered)?;
                None
            }
            // The caller saves the workbook (possibly on another thread: compression is the
            // expensive part of an xlsx and overlaps with generating the next week).
            Out::Xlsx { workbook, .. } => Some(workbook),
        };
        Ok(Finished {
            path,
            stats,
            workbook,
            delivered,
        })
    }
}

/// A closed file; xlsx workbooks still to be saved.
pub(crate) struct Finished {
    pub path: PathBuf,
    pub stats: FileStats,
    pub workbook: Option<Box<Workbook>>,
    pub delivered: NaiveDateTime,
}

fn flush_csv(
    writer: &mut BufWriter<File>,
    gbk: bool,
    buf: &mut String,
    unmappable: &mut u64,
) -> std::io::Result<()> {
    if gbk {
        // Chunks end at row boundaries, so encoding them one by one is exact.
        let (bytes, _, had_errors) = encoding_rs::GBK.encode(buf);
        if had_errors {
            *unmappable += 1;
        }
        writer.write_all(&bytes)?;
    } else {
        writer.write_all(buf.as_bytes())?;
    }
    buf.clear();
    Ok(())
}

/// Text rendering of a (visible) value under the file's style.
fn render_text(out: &mut String, v: &Value, style: Style) {
    match v {
        Value::Empty => {}
        Value::Str(s) => out.push_str(s),
        Value::Text(s) | Value::Raw(s) => out.push_str(s),
        Value::Code(c) => out.push_str(if style.strip_zero {
            strip_leading_zeros(c)
        } else {
            c
        }),
        Value::Ie(import) => out.push_str(match (style.ie, *import) {
            (0, true) => "进口",
            (0, false) => "出口",
            (1, true) => "I",
            (1, false) => "E",
            (_, true) => "进",
            (_, false) => "出",
        }),
        Value::Coded(code, name) => out.push_str(if style.names { name } else { code }),
        Value::Bool(b) => out.push_str(match (style.yes_no, *b) {
            (true, true) => "是",
            (true, false) => "否",
            (false, true) => "Y",
            (false, false) => "N",
        }),
        Value::Time(t) => push_time(out, *t, style.ts),
        Value::Date(d) | Value::Planned(d) => push_date(out, *d, style.date),
        Value::Money(fen) => push_money(out, *fen),
        Value::Num(x) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{x}");
        }
        Value::After(_, inner) => render_text(out, inner, style),
    }
}

/// Whether GBK can encode `s` (everything a GBK CSV may carry must pass).
#[cfg(test)]
pub(crate) fn gbk_encodable(s: &str) -> bool {
    !encoding_rs::GBK.encode(s).2
}

/// Writes a file that is already complete text (the task registry copy).
pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), DemoError> {
    std::fs::write(path, bytes).map_err(|e| DemoError::io(path, e))
}

/// Saves a finished workbook.
pub(crate) fn save_workbook(
    path: &Path,
    mut workbook: Box<Workbook>,
    delivered: NaiveDateTime,
) -> Result<(), DemoError> {
    workbook.save(path).map_err(|e| DemoError::xlsx(path, e))?;
    set_delivered(path, delivered)
}

/// Sets a file's modification time to its simulated delivery (local Asia/Shanghai, UTC+8 all
/// year), so that intake sees on-time and late deliveries as the units made them. Only file
/// metadata: the bytes stay identical across runs.
pub(crate) fn set_delivered(path: &Path, local: NaiveDateTime) -> Result<(), DemoError> {
    let utc_secs = local.and_utc().timestamp() - 8 * 3600;
    let Ok(secs) = u64::try_from(utc_secs) else {
        return Ok(());
    };
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| DemoError::io(path, e))?;
    file.set_modified(when).map_err(|e| DemoError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let mut s = String::new();
        push_csv_field(&mut s, "plain");
        s.push(',');
        push_csv_field(&mut s, "a,b");
        s.push(',');
        push_csv_field(&mut s, "say \"hi\"");
        s.push(',');
        push_csv_field(&mut s, "报关\n单号");
        assert_eq!(s, "plain,\"a,b\",\"say \"\"hi\"\"\",\"报关\n单号\"");
    }

    #[test]
    fn values_render_in_each_style() {
        let t = NaiveDate::from_ymd_opt(2026, 11, 9)
            .unwrap()
            .and_hms_opt(13, 5, 0)
            .unwrap();
        let mut s = String::new();
        push_time(&mut s, t, TsStyle::SlashShort);
        assert_eq!(s, "2026/11/9 13:05");
        s.clear();
        push_date(&mut s, t.date(), DateStyle::Chinese);
        assert_eq!(s, "2026年11月9日");
        s.clear();
        push_date(&mut s, t.date(), DateStyle::ChineseFullWidth);
        assert_eq!(s, "２０２６年１１月９日");
        s.clear();
        push_money(&mut s, 1_234_506);
        assert_eq!(s, "12345.06");
        assert_eq!(strip_leading_zeros("0110"), "110");
        assert_eq!(strip_leading_zeros("9610"), "9610");
    }

    #[test]
    fn later_events_are_hidden_at_the_cutoff() {
        let cutoff = NaiveDate::from_ymd_opt(2026, 11, 9)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let before = cutoff - Duration::minutes(1);
        assert_eq!(Value::Time(before).visible(cutoff), &Value::Time(before));
        assert_eq!(Value::Time(cutoff).visible(cutoff), &Value::Empty);
        let result = Value::After(cutoff, Box::new(Value::Str("正常")));
        assert_eq!(result.visible(cutoff), &Value::Empty);
        assert_eq!(
            result.visible(cutoff + Duration::days(1)),
            &Value::Str("正常")
        );
        assert_eq!(
            Value::Planned(cutoff.date()).visible(cutoff),
            &Value::Planned(cutoff.date())
        );
    }
}
