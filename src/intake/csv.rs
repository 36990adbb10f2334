//! CSV intake: UTF-8 (with or without BOM) or GBK/GB18030, comma, tab or semicolon, quoted
//! newlines. `csv_core` parses (plain lines are split faster, see [`super::split`]); the
//! encoding is decided from the bytes and decoded while streaming, so a large file is never
//! held in memory.

pub use super::split::Record;
use super::split::Splitter;
use super::{Cell, IntakeError, RawCell, Row, SheetPreview, Visit};
use crate::config::spec::IntakeLimits;
use std::borrow::Cow;
use std::io::{BufReader, Read};
use std::path::Path;

/// The sheet name CSV rows are reported under.
pub const CSV_SHEET: &str = "CSV";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub encoding: &'static encoding_rs::Encoding,
    pub delimiter: u8,
}

/// Decide encoding and delimiter from the first 64 KiB.
pub fn sniff_dialect(head: &[u8]) -> Dialect {
    let encoding = if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        encoding_rs::UTF_8
    } else if head.starts_with(&[0xFF, 0xFE]) {
        encoding_rs::UTF_16LE
    } else if head.starts_with(&[0xFE, 0xFF]) {
        encoding_rs::UTF_16BE
    } else {
        match std::str::from_utf8(head) {
            Ok(_) => encoding_rs::UTF_8,
            // The cut at 64 KiB may split a character: valid up to the last 3 bytes is UTF-8.
            Err(e) if e.error_len().is_none() => encoding_rs::UTF_8,
            Err(_) => encoding_rs::GB18030,
        }
    };
    let (text, _) = encoding.decode_without_bom_handling(head);
    let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let count = |c: char| first_line.matches(c).count();
    let delimiter = [
        (b',', count(',')),
        (b'\t', count('\t')),
        (b';', count(';')),
        (b'|', count('|')),
    ]
    .into_iter()
    .max_by_key(|&(d, n)| (n, d == b','))
    .map(|(d, n)| if n == 0 { b',' } else { d })
    .unwrap_or(b',');
    Dialect {
        encoding,
        delimiter,
    }
}

/// About how many records a file of `size` bytes holds, from the lines in its first bytes
/// (`head`): a hint for sizing, never a limit (a quoted newline or lines of another length
/// further on make it wrong either way).
fn estimate_records(head: &[u8], size: u64) -> u64 {
    let lines = head.iter().filter(|&&b| b == b'\n').count() as u64;
    if head.is_empty() || (head.len() as u64) >= size {
        return lines + 1;
    }
    // At least a few lines, or a file whose start is one long line looks like a million.
    let lines = lines.max(1);
    size / (head.len() as u64 / lines).max(1)
}

/// The file's records and about how many there are (see `estimate_records`).
fn open(path: &Path) -> Result<(Splitter<Box<dyn Read + Send>>, u64), IntakeError> {
    let mut head = Vec::with_capacity(65536);
    std::fs::File::open(path)?
        .take(65536)
        .read_to_end(&mut head)?;
    let dialect = sniff_dialect(&head);
    let estimate = estimate_records(&head, std::fs::metadata(path)?.len());
    let mut file = std::fs::File::open(path)?;
    let input: Box<dyn Read + Send> = if dialect.encoding == encoding_rs::UTF_8 {
        // UTF-8 goes to the parser as it is (no second copy of every byte); each field is
        // checked as it is turned into a cell (`to_cells`), with the same replacement of
        // invalid bytes the decoder would make. Only the byte-order mark is skipped. No
        // buffer of our own: the splitter's (64 KiB reads) is filled straight from the file.
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            file.read_exact(&mut [0u8; 3])?;
        }
        Box::new(file)
    } else {
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(dialect.encoding))
                .bom_override(true)
                .build(BufReader::with_capacity(1 << 16, file)),
        )
    };
    Ok((Splitter::new(input, dialect.delimiter), estimate))
}

/// Database dumps spell NULL as `\N` (PostgreSQL `COPY`, MySQL `SELECT … INTO OUTFILE`) or as
/// a bare `NULL` (many export tools); neither is ever a real value in an agency's feed.
fn is_dump_null(f: &str) -> bool {
    f == "\\N" || f == "NULL"
}

/// A record read in place as a [`Row`]: what the parallel check reads, so no field is copied
/// before it is typed. Only for a record whose fields are all valid UTF-8; any other record goes
/// through [`to_cells`].
pub struct RecordRow<'r> {
    rec: &'r Record,
    text: &'r str,
}

impl<'r> RecordRow<'r> {
    /// The record as a row, or None when it needs [`to_cells`]' replacement of bad bytes.
    pub fn new(rec: &'r Record) -> Option<RecordRow<'r>> {
        // One UTF-8 check for the whole record: its fields are kept apart by ASCII separators,
        // which no character's bytes contain, so the whole is valid exactly when each field is.
        let text = std::str::from_utf8(rec.as_bytes()).ok()?;
        Some(RecordRow { rec, text })
    }
}

impl Row for RecordRow<'_> {
    fn width(&self) -> usize {
        self.rec.len()
    }
    fn cell(&self, i: usize) -> Cell<&str> {
        match self.rec.range(i).and_then(|r| self.text.get(r)) {
            Some(f) if !f.is_empty() && !is_dump_null(f) => Cell::Text(f),
            _ => Cell::Empty,
        }
    }
}

/// One record as cells that own their text. The previous row's strings are reused (`spare`), so
/// a long file is read without an allocation per cell. A field that is not valid UTF-8 has each
/// bad sequence replaced by U+FFFD (as the WHATWG decoder does), so the row is checked, not lost.
pub fn to_cells(rec: &Record, out: &mut Vec<RawCell>, spare: &mut Vec<String>) {
    for c in out.drain(..) {
        if let Cell::Text(s) = c {
            spare.push(s);
        }
    }
    // Whole-record check first; a bad record has each field checked and repaired on its own.
    let whole = std::str::from_utf8(rec.as_bytes()).ok();
    out.extend((0..rec.len()).map(|i| {
        let range = rec.range(i).unwrap_or_default();
        let f = match whole.and_then(|w| w.get(range.clone())) {
            Some(f) => Cow::Borrowed(f),
            None => String::from_utf8_lossy(&rec.as_bytes()[range]),
        };
        if f.is_empty() || is_dump_null(&f) {
            Cell::Empty
        } else {
            let mut s = spare.pop().unwrap_or_default();
            s.clear();
            s.push_str(&f);
            Cell::Text(s)
        }
    }));
}

pub fn preview(
    path: &Path,
    limits: &IntakeLimits,
    max_rows: usize,
) -> Result<SheetPreview, IntakeError> {
    let mut rows = Vec::new();
    stream(path, limits, &mut |n, cells| {
        rows.push((n, cells.to_vec()));
        rows.len() < max_rows
    })?;
    if rows.is_empty() {
        return Err(IntakeError::Empty);
    }
    Ok(SheetPreview {
        name: CSV_SHEET.to_string(),
        rows,
    })
}

/// A CSV file's records one at a time, with the row count and size limits checked as they come.
pub struct Records {
    reader: Splitter<Box<dyn Read + Send>>,
    /// About how many records the file holds (see `estimate_records`), at most `max_rows`.
    pub estimated: u64,
    row: u32,
    max_rows: u64,
    max_columns: u32,
}

impl Records {
    pub fn open(path: &Path, limits: &IntakeLimits) -> Result<Records, IntakeError> {
        let (reader, estimated) = open(path)?;
        Ok(Records {
            reader,
            estimated: estimated.min(limits.max_rows),
            row: 0,
            max_rows: limits.max_rows,
            max_columns: limits.max_columns,
        })
    }

    /// Read the next record into `rec`; its 1-based row number, or None at the end.
    pub fn next_into(&mut self, rec: &mut Record) -> Result<Option<u32>, IntakeError> {
        match self.reader.read_record(rec) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            // Any byte sequence splits into records: only reading can fail.
            Err(e) => {
                let row = self.row + 1;
                return Err(IntakeError::Corrupt(format!("第{row}行附近读取失败：{e}")));
            }
        }
        self.row += 1;
        if self.row as u64 > self.max_rows || rec.len() > self.max_columns as usize {
            return Err(IntakeError::SheetTooLarge {
                sheet: CSV_SHEET.into(),
                rows: self.row as u64,
                cols: rec.len() as u64,
                max_rows: self.max_rows,
                max_cols: self.max_columns,
            });
        }
        Ok(Some(self.row))
    }

    /// Fill `recs` with up to `n` records, reusing the records it holds; returns the row number
    /// of the first (and `recs` is empty at the end of the file).
    pub fn next_chunk(&mut self, recs: &mut Vec<Record>, n: usize) -> Result<u32, IntakeError> {
        let first = self.row + 1;
        let mut filled = 0;
        while filled < n {
            if filled == recs.len() {
                // Room for a typical row, so a fresh record does not grow field by field.
                recs.push(Record::with_capacity(256, 32));
            }
            if self.next_into(&mut recs[filled])?.is_none() {
                break;
            }
            filled += 1;
        }
        recs.truncate(filled);
        Ok(first)
    }
}

pub fn stream(
    path: &Path,
    limits: &IntakeLimits,
    visit: &mut Visit<'_>,
) -> Result<(), IntakeError> {
    let mut records = Records::open(path, limits)?;
    let mut rec = Record::default();
    let mut cells = Vec::new();
    let mut spare = Vec::new();
    while let Some(row) = records.next_into(&mut rec)? {
        to_cells(&rec, &mut cells, &mut spare);
        if !visit(row, &cells) {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(bytes: &[u8]) -> Vec<Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, bytes).unwrap();
        let mut out = Vec::new();
        stream(&p, &IntakeLimits::default(), &mut |_, cells| {
            out.push(cells.iter().map(|c| c.display()).collect());
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn utf8_with_bom_and_quoted_newline() {
        let rows = rows_of("\u{feff}报关单号,备注\n1,\"两行\n说明\"\n".as_bytes());
        assert_eq!(
            rows,
            vec![vec!["报关单号", "备注"], vec!["1", "两行\n说明"]]
        );
    }

    #[test]
    fn database_dump_nulls_are_empty_and_strings_are_not_shared_between_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dump.csv");
        std::fs::write(&p, "a,b,c\nx,\\N,NULL\n,yy,Null\n").unwrap();
        let mut rows: Vec<Vec<RawCell>> = Vec::new();
        stream(&p, &IntakeLimits::default(), &mut |_, cells| {
            rows.push(cells.to_vec());
            true
        })
        .unwrap();
        let t = |s: &str| RawCell::Text(s.into());
        assert_eq!(
            rows,
            vec![
                vec![t("a"), t("b"), t("c")],
                vec![t("x"), RawCell::Empty, RawCell::Empty],
                // Only the exact spellings are NULL; `Null` is text.
                vec![RawCell::Empty, t("yy"), t("Null")],
            ]
        );
    }

    #[test]
    fn gbk_and_tabs() {
        let (bytes, _, _) = encoding_rs::GBK.encode("报关单号\t申报时间\n0201\t2026年11月9日\n");
        let rows = rows_of(&bytes);
        assert_eq!(
            rows,
            vec![vec!["报关单号", "申报时间"], vec!["0201", "2026年11月9日"]]
        );
    }

    /// A header and 8000 valid UTF-8 rows (past the 64 KiB the encoding is sniffed from, so the
    /// file is read as UTF-8), then `tail`.
    fn after_sniff_window(tail: &[u8]) -> Vec<u8> {
        let mut bytes = b"a,b\n".to_vec();
        for _ in 0..8000 {
            bytes.extend_from_slice("名称,1\n".as_bytes());
        }
        bytes.extend_from_slice(tail);
        bytes
    }

    #[test]
    fn invalid_utf8_is_replaced_in_its_field_only() {
        // "报" cut after two of its three bytes, then a lone continuation byte.
        let bytes = after_sniff_window(b"\xe6\x8a,ok\n\x80x,\xe5\x90\x8d\n");
        let rows = rows_of(&bytes);
        assert_eq!(rows.len(), 8003);
        assert_eq!(
            rows[8001..],
            [vec!["\u{fffd}", "ok"], vec!["\u{fffd}x", "名"]]
        );
        // The decoder used before gave the same text.
        let (text, _, _) = encoding_rs::UTF_8.decode(&bytes[bytes.len() - 13..]);
        assert_eq!(text, "\u{fffd},ok\n\u{fffd}x,名\n");
    }

    #[test]
    fn a_character_split_by_the_delimiter_is_bad_in_both_fields() {
        // "进" is E8 BF 9B; here a comma falls inside it. The fields back to back are valid
        // UTF-8 ("进b"), each field on its own is not.
        let rows = rows_of(&after_sniff_window(b"\xe8\xbf,\x9bb\n"));
        assert_eq!(rows[8001], ["\u{fffd}", "\u{fffd}b"]);
    }

    #[test]
    fn a_record_read_in_place_has_the_cells_of_its_copy() {
        let rec = Record::from_fields;
        let good = rec(&[
            b"071120251000000001",
            b"",
            b"\\N",
            b"NULL",
            "进口".as_bytes(),
            b" ",
        ]);
        let row = RecordRow::new(&good).expect("valid UTF-8");
        let (mut owned, mut spare) = (Vec::new(), Vec::new());
        to_cells(&good, &mut owned, &mut spare);
        assert_eq!(row.width(), 6);
        let views: Vec<Cell<&str>> = (0..7).map(|i| row.cell(i)).collect();
        let copies: Vec<Cell<&str>> = (0..7).map(|i| owned.cell(i)).collect();
        assert_eq!(views, copies);
        assert_eq!(
            views,
            [
                Cell::Text("071120251000000001"),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Text("进口"),
                Cell::Text(" "),
                Cell::Empty,
            ]
        );
        // Bad bytes, and a character the delimiter split, are left to the copy's repair.
        assert!(RecordRow::new(&rec(&[b"a\xff", b"b"])).is_none());
        assert!(RecordRow::new(&rec(&[b"\xe8\xbf", b"\x9bb"])).is_none());
    }

    #[test]
    fn the_record_estimate_scales_the_head_to_the_file() {
        // 64 lines of 16 bytes in the first 1 KiB of a 1 MiB file: 65,536 records.
        let head = b"abcdefghijklmno\n".repeat(64);
        assert_eq!(estimate_records(&head, 1 << 20), 65_536);
        // The whole file read: its lines, and a last one without a line end.
        assert_eq!(estimate_records(b"a\nb\nc", 5), 3);
        assert_eq!(estimate_records(b"", 0), 1);
        // No line end in the head: the file is taken as lines of the head's length.
        assert_eq!(estimate_records(&[b'x'; 1000], 10_000), 10);
    }

    #[test]
    fn semicolons() {
        assert_eq!(rows_of(b"a;b\n1;2\n"), vec![vec!["a", "b"], vec!["1", "2"]]);
    }

    #[test]
    fn row_cap_is_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, "a\n1\n2\n3\n").unwrap();
        let limits = IntakeLimits {
            max_rows: 2,
            ..IntakeLimits::default()
        };
        let err = stream(&p, &limits, &mut |_, _| true).unwrap_err();
        assert!(matches!(err, IntakeError::SheetTooLarge { .. }));
    }
}
