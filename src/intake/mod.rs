//! Intake: opening a dropped file and handing its rows on, one format per file.
//!
//! Intake knows file formats and nothing of schemas: it sniffs the format from the bytes (a clerk's
//! file name or extension may lie), checks the file's size and claimed dimensions against the
//! project's limits before trusting them, previews the first rows of every sheet (so normalise can
//! find the header and the feed), then streams one sheet's rows to a visitor. Rows come as raw
//! cells with their 1-based row number as Excel shows it.

pub mod csv;
pub mod database;
mod split;
pub mod sqlite;
pub mod xlsx;

use crate::config::spec::IntakeLimits;
use std::path::Path;

/// A cell as the file holds it, before any typing. `S` is its text: owned ([`RawCell`]) as the
/// readers hand rows on, borrowed (`Cell<&str>`) as normalise reads them through [`Row`], which
/// lets a CSV record be checked in place, without a copy of its fields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<S> {
    Empty,
    Text(S),
    Number(f64),
    Int(i64),
    Bool(bool),
    /// An Excel date-time cell, already converted (respects the 1904 date system).
    DateTime(chrono::NaiveDateTime),
    /// An Excel error value such as `#N/A`.
    Error(S),
}

/// A cell that owns its text.
pub type RawCell = Cell<String>;

impl<S: AsRef<str>> Cell<S> {
    /// The cell with its text borrowed.
    pub fn view(&self) -> Cell<&str> {
        match self {
            Cell::Empty => Cell::Empty,
            Cell::Text(s) => Cell::Text(s.as_ref()),
            Cell::Number(n) => Cell::Number(*n),
            Cell::Int(i) => Cell::Int(*i),
            Cell::Bool(b) => Cell::Bool(*b),
            Cell::DateTime(d) => Cell::DateTime(*d),
            Cell::Error(e) => Cell::Error(e.as_ref()),
        }
    }
    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            // What `trim().is_empty()` says, stopping at the first character of a filled cell.
            Cell::Text(s) => s.as_ref().chars().all(char::is_whitespace),
            _ => false,
        }
    }
    /// The cell as a clerk would read it, for headers and receipts.
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.as_ref().to_string(),
            Cell::Number(n) => {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    format!("{}", *n as i64)
                } else {
                    format!("{n}")
                }
            }
            Cell::Int(i) => i.to_string(),
            Cell::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
            Cell::DateTime(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
            Cell::Error(e) => e.as_ref().to_string(),
        }
    }
}

/// One row's cells, read by position: a row of owned cells, or a CSV record read in place
/// ([`csv::RecordRow`]) so that no field is copied before it is typed.
pub trait Row {
    /// How many cells the row has.
    fn width(&self) -> usize;
    /// The `i`-th cell, with its text borrowed (Empty past the end).
    fn cell(&self, i: usize) -> Cell<&str>;
}

impl<S: AsRef<str>> Row for [Cell<S>] {
    fn width(&self) -> usize {
        self.len()
    }
    fn cell(&self, i: usize) -> Cell<&str> {
        self.get(i).map_or(Cell::Empty, Cell::view)
    }
}

impl<S: AsRef<str>> Row for Vec<Cell<S>> {
    fn width(&self) -> usize {
        self.len()
    }
    fn cell(&self, i: usize) -> Cell<&str> {
        self.as_slice().cell(i)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Xls,
    Csv,
    /// An SQLite database file: each table is a sheet.
    Sqlite,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Csv => "csv",
            Format::Sqlite => "sqlite",
        }
    }
}

/// Why a whole file cannot be read; the message is shown to the clerk on the receipt (Chinese).
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("文件为空")]
    Empty,
    #[error("文件过大：{size} 字节，上限 {limit} 字节")]
    TooLarge { size: u64, limit: u64 },
    #[error("文件已加密或受密码保护，请解除保护后重新报送")]
    Encrypted,
    #[error("无法识别的文件格式（{0}）")]
    UnknownFormat(String),
    #[error("文件损坏或不完整：{0}")]
    Corrupt(String),
    #[error("工作表“{sheet}”过大：声明 {rows} 行 × {cols} 列，上限 {max_rows} 行 × {max_cols} 列")]
    SheetTooLarge {
        sheet: String,
        rows: u64,
        cols: u64,
        max_rows: u64,
        max_cols: u32,
    },
    #[error("压缩包解压后过大（{size} 字节，上限 {limit} 字节），疑似压缩炸弹")]
    ZipBomb { size: u64, limit: u64 },
    #[error("读取文件失败：{0}")]
    Io(#[from] std::io::Error),
}

/// The first rows of one sheet, for header and feed detection.
#[derive(Debug, Clone)]
pub struct SheetPreview {
    pub name: String,
    pub rows: Vec<(u32, Vec<RawCell>)>,
}

/// What the visitor says after each row.
pub type Visit<'a> = dyn FnMut(u32, &[RawCell]) -> bool + 'a;

/// Sniff a file's format from its first bytes, checking its size first.
pub fn sniff(path: &Path, limits: &IntakeLimits) -> Result<Format, IntakeError> {
    use std::io::Read;
    let size = std::fs::metadata(path)?.len();
    if size == 0 {
        return Err(IntakeError::Empty);
    }
    if size > limits.max_file_bytes {
        return Err(IntakeError::TooLarge {
            size,
            limit: limits.max_file_bytes,
        });
    }
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path)?.read(&mut head)?;
    let head = &head[..n];
    if head.starts_with(b"SQLite format 3\0") {
        return Ok(Format::Sqlite);
    }
    if head.starts_with(b"PK\x03\x04") {
        return Ok(Format::Xlsx);
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        // An OLE container: legacy xls, or an encrypted xlsx (Office wraps those in OLE).
        return if xlsx::is_encrypted_ole(path)? {
            Err(IntakeError::Encrypted)
        } else {
            Ok(Format::Xls)
        };
    }
    if head.starts_with(b"PK") {
        return Err(IntakeError::Corrupt("压缩包结构不完整".into()));
    }
    // Anything else that is text is treated as CSV; binary junk fails in the CSV reader.
    if head.contains(&0) && !head.starts_with(&[0xFF, 0xFE]) && !head.starts_with(&[0xFE, 0xFF]) {
        return Err(IntakeError::UnknownFormat(
            "二进制文件，既非Excel也非CSV".into(),
        ));
    }
    Ok(Format::Csv)
}

/// Preview up to `max_rows` rows of every readable sheet.
pub fn preview(
    path: &Path,
    format: Format,
    limits: &IntakeLimits,
    max_rows: usize,
) -> Result<Vec<SheetPreview>, IntakeError> {
    match format {
        Format::Xlsx | Format::Xls => xlsx::preview(path, format, limits, max_rows),
        Format::Csv => Ok(vec![csv::preview(path, limits, max_rows)?]),
        Format::Sqlite => sqlite::preview(path, limits, max_rows),
    }
}

/// Stream every row of `sheet` to `visit` until it returns false.
pub fn stream(
    path: &Path,
    format: Format,
    sheet: &str,
    limits: &IntakeLimits,
    visit: &mut Visit<'_>,
) -> Result<(), IntakeError> {
    match format {
        Format::Xlsx | Format::Xls => xlsx::stream(path, format, sheet, limits, visit),
        Format::Csv => csv::stream(path, limits, visit),
        Format::Sqlite => sqlite::stream(path, sheet, limits, visit),
    }
}

/// Excel's column letters for a 0-based column index: 0 → A, 26 → AA.
pub fn column_letter(mut idx: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (idx % 26) as u8);
        if idx < 26 {
            break;
        }
        idx = idx / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).expect("ascii")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    #[test]
    fn sniff_rejects_empty_and_binary() {
        let dir = tempfile::tempdir().unwrap();
        let limits = IntakeLimits::default();
        let p = dir.path().join("a.xlsx");
        std::fs::write(&p, b"").unwrap();
        assert!(matches!(sniff(&p, &limits), Err(IntakeError::Empty)));
        std::fs::write(&p, b"\x7fELF\x00\x00\x00\x00").unwrap();
        assert!(matches!(
            sniff(&p, &limits),
            Err(IntakeError::UnknownFormat(_))
        ));
        std::fs::write(&p, "报关单号,申报时间\n1,2\n").unwrap();
        assert_eq!(sniff(&p, &limits).unwrap(), Format::Csv);
        let small = IntakeLimits {
            max_file_bytes: 4,
            ..IntakeLimits::default()
        };
        assert!(matches!(
            sniff(&p, &small),
            Err(IntakeError::TooLarge { .. })
        ));
    }
}
