//! Sheet names: sanitised to Excel's rules and deduplicated.

use std::collections::HashSet;

use super::model::Workbook;

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
