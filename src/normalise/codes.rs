//! Code formats of the domain: USCC check character, entry ids, customs codes, trade modes.
//!
//! Each check takes the cell text already folded to half-width and trimmed, and returns the
//! canonical form or the Chinese reason a clerk will read on the receipt.

use std::borrow::Cow;

/// The 31 characters of GB 32100-2015 (no I, O, S, V, Z), in value order.
const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Each byte's value in [`USCC_CHARS`], or 255: a table, since every USCC of every row is
/// checked character by character.
const USCC_VALUES: [u8; 256] = {
    let mut t = [255u8; 256];
    let mut i = 0;
    while i < USCC_CHARS.len() {
        t[USCC_CHARS[i] as usize] = i as u8;
        i += 1;
    }
    t
};

fn uscc_value(c: u8) -> Option<u32> {
    match USCC_VALUES[c as usize] {
        255 => None,
        v => Some(v as u32),
    }
}

/// The check character for the first 17 characters of a USCC.
pub fn uscc_check_char(first17: &[u8]) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(*c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_CHARS[check as usize] as char)
}

/// Validate a 统一社会信用代码; returns it upper-cased.
pub fn check_uscc(s: &str) -> Result<Cow<'_, str>, String> {
    // Nearly every cell is a valid code in capitals: one pass over it answers. Anything else
    // (lower case, a bad character, a wrong length or check character) is read again below,
    // which finds the reason.
    if let Ok(b) = <&[u8; 18]>::try_from(s.as_bytes()) {
        let (mut sum, mut valid) = (0u32, true);
        for (c, w) in b[..17].iter().zip(USCC_WEIGHTS) {
            let v = USCC_VALUES[*c as usize];
            valid &= v != 255;
            sum += u32::from(v) * w;
        }
        if valid && USCC_CHARS[((31 - sum % 31) % 31) as usize] == b[17] {
            return Ok(Cow::Borrowed(s));
        }
    }
    check_uscc_slowly(s)
}

/// [`check_uscc`] step by step, each step with its reason.
fn check_uscc_slowly(s: &str) -> Result<Cow<'_, str>, String> {
    let up = upper(s);
    let b = up.as_bytes();
    if b.len() != 18 || !up.is_ascii() {
        return Err(format!(
            "统一社会信用代码应为18位，实为{}位",
            s.chars().count()
        ));
    }
    if let Some(bad) = b.iter().find(|c| uscc_value(**c).is_none()) {
        return Err(format!("统一社会信用代码含非法字符“{}”", *bad as char));
    }
    let expected = uscc_check_char(&b[..17]).expect("17 valid chars");
    if b[17] as char != expected {
        return Err("统一社会信用代码校验位错误".to_string());
    }
    Ok(up)
}

/// `s` in ASCII capitals, borrowed when it already is.
fn upper(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|c| c.is_ascii_lowercase()) {
        Cow::Owned(s.to_ascii_uppercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// 报关单号: 18 digits = office (4) + year (4) + I/E flag (1 import, 0 export) + sequence (9).
pub fn check_entry_id(s: &str) -> Result<Cow<'_, str>, String> {
    if !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err("报关单号应全部为数字".to_string());
    }
    if s.len() != 18 {
        return Err(format!("报关单号应为18位数字，实为{}位", s.len()));
    }
    let year: u32 = s[4..8].parse().unwrap_or(0);
    if !(1980..=2100).contains(&year) {
        return Err(format!("报关单号第5-8位年份“{}”不合理", &s[4..8]));
    }
    if !matches!(&s[8..9], "0" | "1") {
        return Err("报关单号第9位进出口标志应为1(进口)或0(出口)".to_string());
    }
    Ok(Cow::Borrowed(s))
}

/// 海关编码: 10 characters, digits and capital letters.
pub fn check_customs_code(s: &str) -> Result<Cow<'_, str>, String> {
    let up = upper(s);
    if up.len() != 10
        || !up
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return Err(format!("海关编码应为10位数字或字母，实为“{s}”"));
    }
    Ok(up)
}

/// 监管方式: 4 digits; exports often drop the leading zero ("110" is 0110 一般贸易).
pub fn check_trade_mode(s: &str) -> Result<Cow<'_, str>, String> {
    let digits = s.strip_suffix(".0").unwrap_or(s);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("监管方式应为4位数字代码，实为“{s}”"));
    }
    Ok(zero_pad4(digits))
}

/// 关区代码: 4 digits, zero-padded the same way.
pub fn check_customs_office(s: &str) -> Result<Cow<'_, str>, String> {
    let digits = s.strip_suffix(".0").unwrap_or(s);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("关区代码应为4位数字，实为“{s}”"));
    }
    Ok(zero_pad4(digits))
}

fn zero_pad4(digits: &str) -> Cow<'_, str> {
    if digits.len() == 4 {
        Cow::Borrowed(digits)
    } else {
        Cow::Owned(format!("{digits:0>4}"))
    }
}

/// ISO week `2026-W47` (also accepts `2026W47`, `2026-w5`).
pub fn check_iso_week(s: &str) -> Result<Cow<'_, str>, String> {
    let up = s.to_ascii_uppercase();
    let bad = || format!("周次应为“2026-W47”格式，实为“{s}”");
    let (y, w) = up.split_once('W').ok_or_else(bad)?;
    let y = y.trim_end_matches('-');
    let year: i32 = y.parse().map_err(|_| bad())?;
    let week: u32 = w.parse().map_err(|_| bad())?;
    if y.len() != 4
        || chrono::NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon).is_none()
    {
        return Err(bad());
    }
    Ok(Cow::Owned(format!("{year}-W{week:02}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uscc_samples_from_the_standard_are_valid() {
        for s in [
            "91310110666007217T",
            "91110108551385082Q",
            "91430111MA4L41YT1U",
            "9135021359498494XQ",
            "91350200776049653A",
        ] {
            assert_eq!(check_uscc(s).as_deref(), Ok(s), "{s}");
        }
        assert_eq!(
            check_uscc("91310110666007217t").as_deref(),
            Ok("91310110666007217T")
        );
    }

    #[test]
    fn uscc_errors_say_why() {
        assert_eq!(
            check_uscc("91310110666007217A"),
            Err("统一社会信用代码校验位错误".into())
        );
        assert_eq!(
            check_uscc("9131011066600721"),
            Err("统一社会信用代码应为18位，实为16位".into())
        );
        assert_eq!(
            check_uscc("9131011066600721IT"),
            Err("统一社会信用代码含非法字符“I”".into())
        );
    }

    #[test]
    fn the_one_pass_uscc_check_answers_as_the_step_by_step_one() {
        // Every ASCII byte at every position of a valid code: the answer (and the reason) is
        // the same either way; exactly one byte per position keeps the code valid.
        let valid = *b"91430111MA4L41YT1U";
        let mut oks = 0;
        for pos in 0..18 {
            for c in 0..=127u8 {
                let mut b = valid;
                b[pos] = c;
                let s = std::str::from_utf8(&b).unwrap();
                assert_eq!(check_uscc(s), check_uscc_slowly(s), "{s:?}");
                oks += usize::from(check_uscc(s).is_ok_and(|v| v == s));
            }
        }
        assert_eq!(oks, 18);
    }

    #[test]
    fn uscc_value_table_matches_the_alphabet() {
        for b in 0..=255u8 {
            let by_search = USCC_CHARS.iter().position(|&x| x == b).map(|p| p as u32);
            assert_eq!(uscc_value(b), by_search, "byte {b}");
        }
    }

    #[test]
    fn entry_ids() {
        assert!(check_entry_id("020120261000000001").is_ok());
        assert_eq!(
            check_entry_id("02012026100000001"),
            Err("报关单号应为18位数字，实为17位".into())
        );
        assert!(check_entry_id("020120262000000001").is_err());
        assert!(check_entry_id("02012026100000000X").is_err());
    }

    #[test]
    fn trade_mode_is_zero_padded() {
        assert_eq!(check_trade_mode("110"), Ok("0110".into()));
        assert_eq!(check_trade_mode("9610"), Ok("9610".into()));
        assert_eq!(check_trade_mode("110.0"), Ok("0110".into()));
        assert!(check_trade_mode("一般贸易").is_err());
        assert!(check_trade_mode("01100").is_err());
    }

    #[test]
    fn iso_weeks() {
        assert_eq!(check_iso_week("2026-W47"), Ok("2026-W47".into()));
        assert_eq!(check_iso_week("2026w5"), Ok("2026-W05".into()));
        assert!(check_iso_week("2026-W54").is_err());
        assert!(check_iso_week("W47").is_err());
    }
}
