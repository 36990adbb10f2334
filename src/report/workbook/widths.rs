//! Display widths of text and cells, for automatic column widths.

use super::layout::Content;
use super::look::{MAX_AUTO_WIDTH, MIN_AUTO_WIDTH};
use super::model::Format;

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
///
/// [`AUTO_WIDTH_ROWS`]: super::AUTO_WIDTH_ROWS
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
pub(super) fn display_width(content: &Content<'_>, format: &Format) -> usize {
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

pub(super) fn group_thousands(s: &str) -> String {
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
