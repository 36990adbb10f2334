//! Finding the header row and the feed of a sheet, and mapping its headers to canonical columns.
//!
//! Agencies' headers vary between senders: spaces and line breaks inside them, full-width
//! brackets, "报关单号" vs "报关单编号", a title banner above, a group row over the field row.
//! Headers are folded (full-width → half-width, white space removed, ASCII lower-cased) and
//! looked up among each column's name, title and aliases; failing that, with any bracketed suffix
//! such as "(元)" removed. Each candidate row in the first rows of each sheet is scored against
//! each candidate feed; the best row that has every required column wins.

use crate::config::Schema;
use crate::intake::{RawCell, SheetPreview};
use std::collections::HashMap;

/// How far down a sheet the header may be.
pub const HEADER_SEARCH_ROWS: usize = 30;

/// Full-width ASCII to half-width, ideographic space to space, trimmed.
pub fn fold(s: &str) -> String {
    fold_cow(s).into_owned()
}

/// [`fold`] without a copy when there is nothing to fold: ASCII text only needs trimming, and
/// most cells of a large CSV are ASCII (codes, numbers, times).
pub fn fold_cow(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() || !s.chars().any(folds) {
        return std::borrow::Cow::Borrowed(trim(s));
    }
    std::borrow::Cow::Owned(fold_chars(s))
}

/// `str::trim`, answered from the ends' bytes when neither end can be white space: a visible
/// ASCII character, or a character of U+4E00–U+9FFF (CJK ideographs: lead byte E4–E9, and
/// every white space above ASCII has lead byte C2, E1, E2 or E3). The Unicode trim decodes a
/// character at each end, and every cell of a file is trimmed — 进口, 是, company names.
pub fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let lead_cjk = |c: u8| (0xE4..=0xE9).contains(&c);
    let start_ok = b
        .first()
        .is_some_and(|&a| a.is_ascii_graphic() || lead_cjk(a));
    // `s` is UTF-8: a lead byte three from the end starts the last character.
    let end_ok =
        b.last().is_some_and(u8::is_ascii_graphic) || (b.len() >= 3 && lead_cjk(b[b.len() - 3]));
    if start_ok && end_ok { s } else { s.trim() }
}

/// Whether `fold_chars` changes `c` (other than by trimming).
fn folds(c: char) -> bool {
    matches!(
        c,
        '\u{FF01}'..='\u{FF5E}' | '\u{3000}' | '\u{00A0}' | '【' | '】' | '、'
    )
}

fn fold_chars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' | '\u{00A0}' => ' ',
            '【' => '[',
            '】' => ']',
            '、' => ',',
            c => c,
        };
        out.push(c);
    }
    let t = out.trim();
    if t.len() == out.len() {
        out
    } else {
        t.to_string()
    }
}

/// The form headers are compared in.
pub fn header_key(s: &str) -> String {
    fold(s)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*' && *c != ':')
        .flat_map(|c| c.to_lowercase())
        .collect()
}

/// The header with bracketed parts removed: "货值(人民币元)" → "货值".
fn strip_brackets(key: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in key.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = (depth - 1).max(0),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Header lookup for one schema.
pub struct HeaderIndex {
    exact: HashMap<String, usize>,
    loose: HashMap<String, usize>,
}

impl HeaderIndex {
    pub fn new(schema: &Schema) -> Self {
        let mut exact = HashMap::new();
        let mut loose = HashMap::new();
        for (i, c) in schema.columns.iter().enumerate() {
            for name in std::iter::once(&c.name)
                .chain(std::iter::once(&c.title))
                .chain(c.aliases.iter())
            {
                let k = header_key(name);
                exact.entry(k.clone()).or_insert(i);
                loose.entry(strip_brackets(&k)).or_insert(i);
            }
        }
        HeaderIndex { exact, loose }
    }
    pub fn lookup(&self, header: &str) -> Option<usize> {
        let k = header_key(header);
        if k.is_empty() {
            return None;
        }
        self.exact
            .get(&k)
            .or_else(|| self.loose.get(&strip_brackets(&k)))
            .copied()
    }
}

/// Where a sheet's data is and how its columns map.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Index into the candidates given to [`detect`].
    pub candidate: usize,
    pub sheet: String,
    /// 1-based row of the (last) header row; data starts below it.
    pub header_row: u32,
    /// Header text of each file column, as the file shows it.
    pub headers: Vec<String>,
    /// For each schema column, the file column it comes from.
    pub source_col: Vec<Option<usize>>,
}

/// Why no sheet matched: the closest candidate and what it lacked.
#[derive(Debug, Clone, PartialEq)]
pub struct NoMatch {
    pub best_candidate: Option<usize>,
    pub sheet: Option<String>,
    pub missing: Vec<String>,
}

struct Score {
    detection: Detection,
    matched: usize,
    missing: Vec<String>,
    preferred: bool,
}

/// Map one header row (with the row above it as a group row) onto a schema.
fn map_row(
    index: &HeaderIndex,
    schema: &Schema,
    row: &[RawCell],
    above: Option<&[RawCell]>,
) -> (Vec<Option<usize>>, Vec<String>, usize) {
    let mut source_col = vec![None; schema.columns.len()];
    let mut headers = Vec::with_capacity(row.len());
    let mut matched = 0;
    let width = row.len().max(above.map(|a| a.len()).unwrap_or(0));
    for fc in 0..width {
        let field = row.get(fc).map(RawCell::display).unwrap_or_default();
        let group = above
            .and_then(|a| a.get(fc))
            .map(RawCell::display)
            .unwrap_or_default();
        // A two-row header: the field row names the column, or the group row when the field
        // cell is empty (a group header merged down over one column); "group+field" is tried too.
        let mut hit = index.lookup(&field);
        if hit.is_none() && !group.is_empty() {
            hit = index.lookup(&format!("{group}{field}"));
            if hit.is_none() && field.trim().is_empty() {
                hit = index.lookup(&group);
            }
        }
        let shown = if field.trim().is_empty() {
            group.trim().to_string()
        } else {
            field.trim().to_string()
        };
        headers.push(shown.replace(['\n', '\r'], ""));
        if let Some(ci) = hit
            && source_col[ci].is_none()
        {
            source_col[ci] = Some(fc);
            matched += 1;
        }
    }
    (source_col, headers, matched)
}

/// Find the best (candidate, sheet, header row). `preferred[i]` marks candidates whose file
/// pattern matched the file name: they win ties.
pub fn detect(
    previews: &[SheetPreview],
    candidates: &[&Schema],
    preferred: &[bool],
) -> Result<Detection, NoMatch> {
    let indexes: Vec<HeaderIndex> = candidates.iter().map(|s| HeaderIndex::new(s)).collect();
    let mut best: Option<Score> = None;
    let mut best_partial: Option<Score> = None;
    for sheet in previews {
        for (ri, (row_no, row)) in sheet.rows.iter().take(HEADER_SEARCH_ROWS).enumerate() {
            if row.iter().filter(|c| !c.is_empty()).count() < 2 {
                continue;
            }
            let above = if ri > 0 && sheet.rows[ri - 1].0 + 1 == *row_no {
                Some(sheet.rows[ri - 1].1.as_slice())
            } else {
                None
            };
            for (ci, schema) in candidates.iter().enumerate() {
                for use_above in [false, true] {
                    if use_above && above.is_none() {
                        continue;
                    }
                    let (source_col, headers, matched) = map_row(
                        &indexes[ci],
                        schema,
                        row,
                        if use_above { above } else { None },
                    );
                    if matched == 0 {
                        continue;
                    }
                    let missing: Vec<String> = schema
                        .columns
                        .iter()
                        .enumerate()
                        .filter(|(i, c)| c.required && source_col[*i].is_none())
                        .map(|(_, c)| c.title.clone())
                        .collect();
                    let score = Score {
                        detection: Detection {
                            candidate: ci,
                            sheet: sheet.name.clone(),
                            header_row: *row_no,
                            headers,
                            source_col,
                        },
                        matched,
                        missing,
                        preferred: preferred.get(ci).copied().unwrap_or(false),
                    };
                    let rank = |s: &Score| {
                        (
                            s.preferred,
                            s.matched * 1000 / s.detection.source_col.len().max(1),
                            s.matched,
                        )
                    };
                    let slot = if score.missing.is_empty() {
                        &mut best
                    } else {
                        &mut best_partial
                    };
                    let better = match slot {
                        None => true,
                        Some(cur) => rank(&score) > rank(cur),
                    };
                    if better {
                        *slot = Some(score);
                    }
                }
            }
        }
    }
    match best {
        Some(s) => Ok(s.detection),
        None => Err(match best_partial {
            Some(p) => NoMatch {
                best_candidate: Some(p.detection.candidate),
                sheet: Some(p.detection.sheet),
                missing: p.missing,
            },
            None => NoMatch {
                best_candidate: None,
                sheet: None,
                missing: Vec::new(),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_trim_is_the_unicode_trim() {
        for s in [
            "",
            " ",
            "x",
            " x",
            "x ",
            "a b",
            "进口",
            " 进口\u{3000}",
            "\u{3000}x",
            "x\u{a0}",
            "x\u{b}",
            "\tx\r\n",
            "0711",
            "是",
            "是 ",
            "进口\u{2003}",
            "\u{200A}否",
            "x\u{85}",
            "x\u{1680}",
            "内蒙古自治区",
            "é",
            "\u{2029}",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
        // Every white space character at either end of ASCII and CJK text.
        let spaces = ('\0'..=char::MAX).filter(|c| c.is_whitespace());
        for w in spaces {
            for body in ["x", "进口", "a进", "进a"] {
                for s in [
                    format!("{w}{body}"),
                    format!("{body}{w}"),
                    format!("{w}{body}{w}"),
                ] {
                    assert_eq!(trim(&s), s.trim(), "{s:?}");
                }
            }
        }
    }

    fn text(v: &[&str]) -> Vec<RawCell> {
        v.iter()
            .map(|s| {
                if s.is_empty() {
                    RawCell::Empty
                } else {
                    RawCell::Text(s.to_string())
                }
            })
            .collect()
    }

    #[test]
    fn folding() {
        assert_eq!(fold("　０２０１ "), "0201");
        assert_eq!(header_key("货值（元）"), "货值(元)");
        assert_eq!(header_key("报关单\n编号"), "报关单编号");
        assert_eq!(strip_brackets("货值(人民币元)"), "货值");
        // Text with nothing to fold is borrowed, trimmed; with something, folded then trimmed.
        assert!(matches!(
            fold_cow(" 进口 "),
            std::borrow::Cow::Borrowed("进口")
        ));
        assert_eq!(fold_cow(" 进口\u{3000}"), "进口");
        assert_eq!(fold_cow("【甲】、Ａ１　"), "[甲],A1");
    }

    #[test]
    fn header_below_a_banner_is_found() {
        let project =
            crate::config::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let decl = &project.schemas["customs_declaration"];
        let insp = &project.schemas["customs_inspection"];
        let sheet = SheetPreview {
            name: "Sheet1".into(),
            rows: vec![
                (1, text(&["2026年11月报关数据", "", ""])),
                (
                    3,
                    text(&[
                        "报关单编号",
                        "进出口",
                        "申报地海关",
                        "监管方式",
                        "申报 时间",
                        "货值（元）",
                    ]),
                ),
                (
                    4,
                    text(&[
                        "020120261000000001",
                        "进口",
                        "0201",
                        "110",
                        "2026-11-09 10:00",
                        "12.5",
                    ]),
                ),
            ],
        };
        let d = detect(&[sheet], &[insp, decl], &[false, false]).unwrap();
        assert_eq!(d.candidate, 1);
        assert_eq!(d.header_row, 3);
        assert_eq!(
            d.source_col[decl.column_index("declared_at").unwrap()],
            Some(4)
        );
        assert_eq!(
            d.source_col[decl.column_index("total_value_cny").unwrap()],
            Some(5)
        );
        assert_eq!(d.headers[4], "申报 时间");
    }

    #[test]
    fn missing_required_columns_are_named() {
        let project =
            crate::config::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let decl = &project.schemas["customs_declaration"];
        let sheet = SheetPreview {
            name: "S".into(),
            rows: vec![(1, text(&["报关单号", "进出口", "监管方式"]))],
        };
        let err = detect(&[sheet], &[decl], &[true]).unwrap_err();
        assert_eq!(err.best_candidate, Some(0));
        assert_eq!(
            err.missing,
            vec!["申报地海关".to_string(), "申报时间".to_string()]
        );
    }

    #[test]
    fn two_row_header() {
        let project =
            crate::config::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let ac = &project.schemas["airport_cargo"];
        let sheet = SheetPreview {
            name: "S".into(),
            rows: vec![
                (1, text(&["运单号", "时间节点", "时间节点"])),
                (2, text(&["", "运抵时间", "提离时间"])),
            ],
        };
        let d = detect(&[sheet], &[ac], &[false]).unwrap();
        assert_eq!(d.header_row, 2);
        assert_eq!(d.source_col[0], Some(0));
        assert_eq!(
            d.source_col[ac.column_index("gate_out_at").unwrap()],
            Some(2)
        );
    }
}
