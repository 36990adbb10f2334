//! Identifier formats the agencies use, built so that the good ones pass sanhu's checks.
//!
//! 统一社会信用代码 (GB 32100-2015) with its check character, the organisation code inside it
//! (GB 11714) with its own check, 报关单号 (office + year + I/E + sequence) and IATA air waybills
//! (serial mod 7 check). Planted bad codes are derived from good ones here too.

/// USCC alphabet: digits and capitals without I, O, S, V, Z.
pub(crate) const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARSET.iter().position(|x| *x == c).map(|p| p as u32)
}

/// Check character for the first 17 characters of a USCC, or `None` if one is outside the charset.
pub(crate) fn uscc_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in bytes.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(*c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_CHARSET[check as usize] as char)
}

#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn uscc_is_valid(code: &str) -> bool {
    code.len() == 18
        && code.is_ascii()
        && uscc_check_char(&code[..17]).is_some_and(|c| code.as_bytes()[17] == c as u8)
}

/// A full USCC from its first 17 characters.
pub(crate) fn uscc_complete(first17: &str) -> String {
    let check = uscc_check_char(first17).expect("first 17 USCC characters are in the charset");
    let mut s = String::with_capacity(18);
    s.push_str(first17);
    s.push(check);
    s
}

/// The same code with a wrong (but in-charset) check character, `shift` in 1..=30.
pub(crate) fn uscc_corrupt(valid: &str, shift: usize) -> String {
    let good = uscc_value(valid.as_bytes()[17]).unwrap_or(0) as usize;
    let bad = USCC_CHARSET[(good + 1 + shift % 30) % 31] as char;
    let mut s = valid[..17].to_string();
    s.push(bad);
    s
}

/// Organisation code check character (GB 11714) for an 8-character base.
pub(crate) fn org_check_char(base8: &str) -> char {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = base8
        .bytes()
        .zip(W)
        .map(|(c, w)| {
            let v = if c.is_ascii_digit() {
                (c - b'0') as u32
            } else {
                (c - b'A') as u32 + 10
            };
            v * w
        })
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10).unwrap_or('0'),
    }
}

/// 报关单号: customs office (4) + year (4) + 1 import / 0 export + 9-digit sequence.
pub(crate) fn entry_id(office: &str, year: i32, import: bool, seq: u64) -> String {
    format!("{office}{year:04}{}{seq:09}", if import { 1 } else { 0 })
}

/// IATA air waybill: airline prefix, 7-digit serial and the serial's mod-7 check digit.
pub(crate) fn air_waybill(prefix: &str, serial: u32, dashed: bool) -> String {
    let serial = serial % 10_000_000;
    let check = serial % 7;
    if dashed {
        format!("{prefix}-{serial:07}{check}")
    } else {
        format!("{prefix}{serial:07}{check}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uscc_check_char_matches_published_samples() {
        for sample in [
            "91310110666007217T",
            "91110108551385082Q",
            "91430111MA4L41YT1U",
            "9135021359498494XQ",
            "91350200776049653A",
        ] {
            assert!(uscc_is_valid(sample), "{sample} should be valid");
            assert_eq!(
                uscc_check_char(&sample[..17]).map(|c| c as u8),
                Some(sample.as_bytes()[17])
            );
        }
        assert!(!uscc_is_valid("91310110666007217A"));
        assert!(!uscc_is_valid("9131011066600721"));
        assert!(!uscc_is_valid("9131011066600721IT"));
    }

    #[test]
    fn corrupted_uscc_is_invalid_but_well_formed() {
        for shift in 0..40 {
            let bad = uscc_corrupt("91110108551385082Q", shift);
            assert_eq!(bad.len(), 18);
            assert!(!uscc_is_valid(&bad), "{bad}");
            assert!(bad.bytes().all(|c| USCC_CHARSET.contains(&c)));
        }
    }

    #[test]
    fn organisation_code_check_matches_samples() {
        // The organisation code sits in USCC positions 9–17.
        assert_eq!(org_check_char("66600721"), '7');
        assert_eq!(org_check_char("MA4L41YT"), '1');
        assert_eq!(org_check_char("55138508"), '2');
    }

    #[test]
    fn entry_id_and_waybill_shapes() {
        assert_eq!(entry_id("0711", 2026, true, 42), "071120261000000042");
        assert_eq!(entry_id("0712", 2026, false, 42).len(), 18);
        assert_eq!(air_waybill("784", 1234567, true), "784-12345675");
    }
}
