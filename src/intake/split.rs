//! Cutting a CSV byte stream into records, fast where a line is plain.
//!
//! Almost every line of an agency's export is plain: no quotes, ended by `\n` or `\r\n`. Such
//! a line's fields are the bytes between its delimiters: it is copied whole into the
//! [`Record`], and one pass over 16 bytes at a time (SSE2, in every x86-64) finds its line end
//! and delimiters, a few instructions a field instead of a state-machine step per byte
//! (`csv_core`, byte by byte, was 8 % of a 10M-row ingest's CPU time, ~2,000 instructions a
//! row; `memchr` called once per field, and `csv::ByteRecord::push_field`, cost nearly as
//! much again in call overhead). Every other record (a quote anywhere on its line, a lone
//! `\r`, a line longer than a read) is handed to `csv_core` itself from its first byte, so
//! quoted fields, quoted newlines and old Mac line ends are parsed exactly as the `csv` crate
//! parses them; the tests check the two agree record for record on random input. The `csv`
//! crate has no hook for such a fast path, and the SIMD CSV crates parse some malformed input
//! differently from it, hence this small loop around `csv_core`.
//!
//! The settings are the `csv` crate's as [`super::csv`] used them: the given delimiter, `"`
//! quotes with doubling, no escape, no comments, `\r`, `\n` or `\r\n` ending a record, blank
//! lines skipped, records of any length.

use std::io::Read;
use std::ops::Range;

/// One record: its fields' bytes, one separator byte between each two (a plain line is kept
/// as it was read, delimiters and all), and where each field ends. With ASCII separators, the
/// whole is valid UTF-8 exactly when every field is, so one check serves the record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Record {
    pub fn with_capacity(bytes: usize, fields: usize) -> Record {
        Record {
            bytes: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(fields),
        }
    }

    /// A record of these fields (tests and callers that build one by hand).
    pub fn from_fields(fields: &[&[u8]]) -> Record {
        let mut r = Record::default();
        for f in fields {
            r.push_field(f);
        }
        r
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    fn push_field(&mut self, f: &[u8]) {
        if !self.ends.is_empty() {
            self.bytes.push(b',');
        }
        self.bytes.extend_from_slice(f);
        self.ends.push(self.bytes.len());
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Where field `i` lies in [`Record::as_bytes`].
    pub fn range(&self, i: usize) -> Option<Range<usize>> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        Some(start..end)
    }

    /// The fields with their separators.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).filter_map(|i| self.range(i).map(|r| &self.bytes[r]))
    }
}

/// What the scan of a line found.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// A plain line: its bytes without the line end are `content`, with the line end `taken`;
    /// the delimiters' positions were pushed.
    Plain { content: usize, taken: usize },
    /// A quote, or a `\r` not just before the `\n`: csv_core reads this record.
    Quoted,
    /// No line end in the bytes read so far.
    More,
}

/// Scan the line at the start of `rest` (a record's first byte) for its end and delimiters,
/// pushing the delimiters' positions to `ends`. `eof`: nothing follows `rest`.
fn scan_line(rest: &[u8], delimiter: u8, eof: bool, ends: &mut Vec<usize>) -> Scan {
    let mut cr = None;
    let mut at = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of x86-64; every load reads 16 bytes inside `rest`
        // (at + 16 <= rest.len()).
        unsafe {
            let (nl, quote, cr_v, delim) = (
                _mm_set1_epi8(b'\n' as i8),
                _mm_set1_epi8(b'"' as i8),
                _mm_set1_epi8(b'\r' as i8),
                _mm_set1_epi8(delimiter as i8),
            );
            while at + 16 <= rest.len() {
                let v = _mm_loadu_si128(rest.as_ptr().add(at).cast::<__m128i>());
                let mask = |c| _mm_movemask_epi8(_mm_cmpeq_epi8(v, c)) as u32;
                let n = mask(nl);
                // Only the bytes before this line's end count.
                let within = if n == 0 {
                    0xFFFF
                } else {
                    (1u32 << n.trailing_zeros()) - 1
                };
                if mask(quote) & within != 0 {
                    return Scan::Quoted;
                }
                let c = mask(cr_v) & within;
                if c != 0 {
                    if cr.is_some() || c.count_ones() > 1 {
                        return Scan::Quoted;
                    }
                    cr = Some(at + c.trailing_zeros() as usize);
                }
                let mut d = mask(delim) & within;
                while d != 0 {
                    ends.push(at + d.trailing_zeros() as usize);
                    d &= d - 1;
                }
                if n != 0 {
                    return plain(at + n.trailing_zeros() as usize, 1, cr);
                }
                at += 16;
            }
        }
    }
    for (i, &b) in rest.iter().enumerate().skip(at) {
        if b == b'\n' {
            return plain(i, 1, cr);
        } else if b == b'"' {
            return Scan::Quoted;
        } else if b == b'\r' {
            if cr.is_some() {
                return Scan::Quoted;
            }
            cr = Some(i);
        } else if b == delimiter {
            ends.push(i);
        }
    }
    if eof {
        plain(rest.len(), 0, cr)
    } else {
        Scan::More
    }
}

/// A line ending at `end` (its `\n`, `newline` bytes long, or the end of the input): plain
/// if its only `\r` is the one just before the end.
fn plain(end: usize, newline: usize, cr: Option<usize>) -> Scan {
    match cr {
        None => Scan::Plain {
            content: end,
            taken: end + newline,
        },
        Some(c) if c + 1 == end => Scan::Plain {
            content: c,
            taken: end + newline,
        },
        Some(_) => Scan::Quoted,
    }
}

/// Bytes asked of the source at a time.
const READ_SIZE: usize = 1 << 16;

pub struct Splitter<R> {
    src: R,
    delimiter: u8,
    buf: Vec<u8>,
    /// `buf[pos..end]` is read and not yet consumed.
    pos: usize,
    end: usize,
    eof: bool,
    core: csv_core::Reader,
    /// `csv_core`'s output for one record: field bytes back to back, and their ends.
    out: Vec<u8>,
    ends: Vec<usize>,
    read_size: usize,
    /// Whether a UTF-8 byte-order mark at the very start has been looked for.
    bom_checked: bool,
}

impl<R: Read> Splitter<R> {
    pub fn new(src: R, delimiter: u8) -> Splitter<R> {
        Self::with_read_size(src, delimiter, READ_SIZE)
    }

    fn with_read_size(src: R, delimiter: u8, read_size: usize) -> Splitter<R> {
        let mut core = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
        // csv_core drops a byte-order mark from the first input it is given, and we may first
        // give it a record in the middle of the file: a blank line read now (skipped, and
        // nothing output) makes that first input behind it. The mark at the start of the file
        // is dropped here instead (`read_byte_record`).
        let _ = core.read_record(b"\n", &mut [0u8; 1], &mut [0usize; 1]);
        Splitter {
            src,
            delimiter,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            eof: false,
            core,
            out: vec![0; 256],
            ends: vec![0; 32],
            read_size: read_size.max(1),
            bom_checked: false,
        }
    }

    /// Read more bytes after `buf[pos..end]` (moved to the front first). False at the end.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        if self.buf.len() < self.end + self.read_size {
            self.buf.resize(self.end + self.read_size, 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next record into `rec` (cleared first); false at the end of the input.
    pub fn read_record(&mut self, rec: &mut Record) -> std::io::Result<bool> {
        rec.clear();
        if !self.bom_checked {
            while self.end - self.pos < 3 && self.fill()? {}
            if self.buf[self.pos..self.end].starts_with(b"\xef\xbb\xbf") {
                self.pos += 3;
            }
            self.bom_checked = true;
        }
        loop {
            // Blank lines and the `\n` of a `\r\n` are skipped between records, as by csv_core.
            let skip = self.buf[self.pos..self.end]
                .iter()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
            self.pos += skip;
            if self.pos == self.end {
                if !self.fill()? {
                    return Ok(false);
                }
                continue;
            }
            let rest = &self.buf[self.pos..self.end];
            rec.clear();
            match scan_line(rest, self.delimiter, self.eof, &mut rec.ends) {
                Scan::Plain { content, taken } => {
                    rec.ends.push(content);
                    rec.bytes.extend_from_slice(&rest[..content]);
                    self.pos += taken;
                    return Ok(true);
                }
                Scan::Quoted => {
                    rec.clear();
                    return self.slow(rec);
                }
                // A line longer than a read goes to csv_core, which takes it piece by piece.
                Scan::More if rest.len() >= self.read_size => {
                    rec.clear();
                    return self.slow(rec);
                }
                Scan::More => {
                    self.fill()?;
                }
            }
        }
    }

    /// One record by csv_core, from `buf[pos]` (the start of a record) to its end. csv_core is
    /// between records too: it ended the last one it read (its state then takes the next byte
    /// as the start of a record, skipping line ends) or has read none.
    fn slow(&mut self, rec: &mut Record) -> std::io::Result<bool> {
        use csv_core::ReadRecordResult::*;
        let (mut nout, mut nends) = (0, 0);
        loop {
            let (res, nin, o, e) = self.core.read_record(
                &self.buf[self.pos..self.end],
                &mut self.out[nout..],
                &mut self.ends[nends..],
            );
            self.pos += nin;
            nout += o;
            nends += e;
            match res {
                InputEmpty => {
                    // At the end, csv_core is told so by an empty input (it then ends the
                    // record it holds).
                    if !self.fill()? {
                        self.pos = self.end;
                    }
                }
                OutputFull => self.out.resize(self.out.len() * 2, 0),
                OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                Record => {
                    let mut start = 0;
                    for &end in &self.ends[..nends] {
                        rec.push_field(&self.out[start..end]);
                        start = end;
                    }
                    return Ok(true);
                }
                End => return Ok(false),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn by_csv_crate(input: &[u8], delimiter: u8) -> Vec<Vec<Vec<u8>>> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(input);
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        while r.read_byte_record(&mut rec).unwrap() {
            out.push(rec.iter().map(<[u8]>::to_vec).collect());
        }
        out
    }

    fn by_splitter(input: &[u8], delimiter: u8, read_size: usize) -> Vec<Vec<Vec<u8>>> {
        let mut s = Splitter::with_read_size(input, delimiter, read_size);
        let mut rec = Record::default();
        let mut out = Vec::new();
        while s.read_record(&mut rec).unwrap() {
            out.push(rec.iter().map(<[u8]>::to_vec).collect());
        }
        out
    }

    #[test]
    fn plain_quoted_and_odd_lines() {
        let input = b"a,b,c\r\n\r\n1,\"x,\"\"y\"\"\nz\",3\n\nlast,,\rmac line\n,\n\"open";
        let want: Vec<Vec<&[u8]>> = vec![
            vec![b"a", b"b", b"c"],
            vec![b"1", b"x,\"y\"\nz", b"3"],
            vec![b"last", b"", b""],
            vec![b"mac line"],
            vec![b"", b""],
            vec![b"open"],
        ];
        for read_size in [1, 2, 3, 5, 8, 64, 1 << 16] {
            let got = by_splitter(input, b',', read_size);
            assert_eq!(got, want, "read size {read_size}");
        }
        assert_eq!(by_csv_crate(input, b','), want);
    }

    #[test]
    fn agrees_with_the_csv_crate_on_random_input() {
        // Bytes that matter to a parser, a CJK character's bytes and plain letters.
        let alphabet: &[&[u8]] = &[
            b"a",
            b"b",
            b",",
            b",",
            b";",
            b"\t",
            b"\"",
            b"\"",
            b"\r",
            b"\n",
            b"\n",
            b"\r\n",
            "中".as_bytes(),
            b" ",
            b"\xef\xbb\xbf",
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for case in 0..20_000 {
            // Up to ~200 bytes: lines shorter and longer than the 16 bytes scanned at a time.
            let len = rng.random_range(0..100);
            let mut input = Vec::new();
            for _ in 0..len {
                input.extend_from_slice(alphabet[rng.random_range(0..alphabet.len())]);
            }
            let delimiter = [b',', b';', b'\t'][case % 3];
            let want = by_csv_crate(&input, delimiter);
            for read_size in [1, 4, 7, 1 << 16] {
                assert_eq!(
                    by_splitter(&input, delimiter, read_size),
                    want,
                    "case {case}, read size {read_size}, input {:?}",
                    String::from_utf8_lossy(&input)
                );
            }
        }
    }

    #[test]
    fn quotes_and_line_ends_on_either_side_of_a_16_byte_block() {
        // A plain line of `n` letters, then the same with a quote, a lone `\r` or a `\r\n` put
        // at each position, around the 16- and 32-byte blocks the scan reads.
        for n in 1..40 {
            for at in 0..=n {
                for odd in [&b"\""[..], b"\r", b"\r\n", b";"] {
                    let mut line = vec![b'x'; n];
                    line.splice(at..at, odd.iter().copied());
                    let mut input = line.clone();
                    input.extend_from_slice(b"\nnext,1\n");
                    let want = by_csv_crate(&input, b';');
                    for read_size in [3, 16, 1 << 16] {
                        assert_eq!(
                            by_splitter(&input, b';', read_size),
                            want,
                            "{}",
                            String::from_utf8_lossy(&input)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_line_longer_than_a_read_is_whole() {
        let field = "x".repeat(100_000);
        let input = format!("{field},1\nshort,2\n");
        let got = by_splitter(input.as_bytes(), b',', 4096);
        assert_eq!(
            got,
            vec![
                vec![field.as_bytes().to_vec(), b"1".to_vec()],
                vec![b"short".to_vec(), b"2".to_vec()],
            ]
        );
    }
}
