//! Dates and times as agencies export them: Excel serials, ISO text, `2016/5/20 13:05`,
//! `2016年5月20日`, `20160520`, full-width digits. Written by hand because no kept crate parses
//! this mix of Chinese and numeric layouts; chrono does the calendar arithmetic.
//!
//! Text is first folded to half-width; then the digit groups and the separators between them are
//! read. Anything else is a rejected cell with its reason.

use chrono::{Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

/// A parsed point in time: local wall time, or an instant when the text carried an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    Local(NaiveDateTime),
    /// UTC instant (the text said `Z` or `+08:00`).
    Instant(NaiveDateTime),
}

/// Convert an Excel serial day number (1900 system) to a date-time, rejecting absurd values.
pub fn from_excel_serial(serial: f64) -> Option<NaiveDateTime> {
    // 1 = 1900-01-01; 2958465 = 9999-12-31. Dates before 1900-03-01 hit Excel's leap-year bug.
    if !serial.is_finite() || !(61.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_time(NaiveTime::MIN);
    let ms = (serial * 86_400_000.0).round() as i64;
    epoch.checked_add_signed(Duration::milliseconds(ms))
}

/// Parse a date-time text. Date-only text gives midnight.
pub fn parse_datetime_text(raw: &str) -> Result<Parsed, String> {
    if let Some(local) = iso_seconds(raw) {
        return Ok(Parsed::Local(local));
    }
    let s = super::header::trim(raw);
    if s.is_empty() {
        return Err("时间为空".into());
    }
    // Trailing offset: Z, +08:00, +0800.
    let (body, offset) = split_offset(s);
    let (date, time) = parse_parts(body).ok_or_else(|| format!("无法识别的日期时间“{raw}”"))?;
    let local = date.and_time(time);
    match offset {
        None => Ok(Parsed::Local(local)),
        Some(off) => {
            let dt = off
                .from_local_datetime(&local)
                .single()
                .ok_or_else(|| format!("无法识别的日期时间“{raw}”"))?;
            Ok(Parsed::Instant(dt.naive_utc()))
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` (or with `T`), what nearly every export writes, read straight from
/// its digits: three timestamps per row of a large file would otherwise each go through the
/// general reader. None for anything else, a date that does not exist included, which the
/// general reader then takes (and gives its reason for).
fn iso_seconds(s: &str) -> Option<NaiveDateTime> {
    let [y, mo, d, h, mi, sec] = iso_fields(s)?;
    NaiveDate::from_ymd_opt(y as i32, mo, d)?.and_hms_opt(h, mi, sec)
}

/// The same layout as days since 1970-01-01 and seconds into the day, by integer arithmetic
/// alone: a large file's timestamps go from text to UTC without building a chrono date (which
/// checks the calendar again by its tables) — see `Normaliser::coerce`.
pub fn iso_epoch_days_seconds(s: &str) -> Option<(i32, u32)> {
    let [y, mo, d, h, mi, sec] = iso_fields(s)?;
    Some((days_from_civil(y as i32, mo, d), h * 3600 + mi * 60 + sec))
}

/// Year, month, day, hour, minute, second of `YYYY-MM-DD HH:MM:SS` (or with `T`), only when
/// they name a real wall time (Feb 29 in leap years; no hour 24, no second 60).
fn iso_fields(s: &str) -> Option<[u32; 6]> {
    let b: &[u8; 19] = s.as_bytes().try_into().ok()?;
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let two = |i: usize| {
        let (a, c) = (b[i].wrapping_sub(b'0'), b[i + 1].wrapping_sub(b'0'));
        (a < 10 && c < 10).then(|| u32::from(a) * 10 + u32::from(c))
    };
    let f = [
        two(0)? * 100 + two(2)?,
        two(5)?,
        two(8)?,
        two(11)?,
        two(14)?,
        two(17)?,
    ];
    let [y, mo, d, h, mi, sec] = f;
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    (d >= 1 && d <= month_days && h < 24 && mi < 60 && sec < 60).then_some(f)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's
/// `days_from_civil`: years counted from March, so the leap day ends a year).
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = (y - era * 400) as u32;
    let day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era as i32 - 719_468
}

/// Parse a date text (a time part, if present, must be midnight-free of meaning and is dropped).
pub fn parse_date_text(raw: &str) -> Result<NaiveDate, String> {
    match parse_datetime_text(raw).map_err(|_| format!("无法识别的日期“{raw}”"))? {
        Parsed::Local(dt) | Parsed::Instant(dt) => Ok(dt.date()),
    }
}

fn split_offset(s: &str) -> (&str, Option<FixedOffset>) {
    if let Some(body) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return (body, FixedOffset::east_opt(0));
    }
    // ±hh:mm or ±hhmm after a time (so a date's own '-' is not taken as an offset).
    if let Some(pos) = s.rfind(['+', '-'])
        && pos >= 16
    {
        let (body, off) = s.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let digits: String = off[1..].chars().filter(|c| c.is_ascii_digit()).collect();
        // PostgreSQL writes whole-hour offsets as `+08` (timestamptz in `COPY` and psql output).
        if (digits.len() == 4 || digits.len() == 2) && body.contains(':') {
            let h: i32 = digits[..2].parse().unwrap_or(99);
            let m: i32 = if digits.len() == 2 {
                0
            } else {
                digits[2..].parse().unwrap_or(99)
            };
            if h <= 14 && m < 60 {
                return (body, FixedOffset::east_opt(sign * (h * 3600 + m * 60)));
            }
        }
    }
    (s, None)
}

/// The layout nearly every export uses, `YYYY-MM-DD[ HH:MM[:SS]]` (or `/` between the date
/// parts, `T` before the time), read straight from the bytes: no allocation, same result as the
/// general reader below (a value out of range is `None` there too).
fn parse_common(s: &str) -> Option<Option<(NaiveDate, NaiveTime)>> {
    let b = s.as_bytes();
    if !(b.len() == 10 || b.len() == 16 || b.len() == 19) {
        return None;
    }
    let d2 = |i: usize| -> Option<u32> {
        let (x, y) = (b[i], b[i + 1]);
        (x.is_ascii_digit() && y.is_ascii_digit())
            .then(|| u32::from(x - b'0') * 10 + u32::from(y - b'0'))
    };
    let sep = b[4];
    if !(sep == b'-' || sep == b'/') || b[7] != sep {
        return None;
    }
    let year = d2(0)? * 100 + d2(2)?;
    let (month, day) = (d2(5)?, d2(8)?);
    let time = if b.len() == 10 {
        Some(NaiveTime::MIN)
    } else {
        if !(b[10] == b' ' || b[10] == b'T') || b[13] != b':' {
            return None;
        }
        let (h, m) = (d2(11)?, d2(14)?);
        let sec = if b.len() == 19 {
            if b[16] != b':' {
                return None;
            }
            d2(17)?
        } else {
            0
        };
        NaiveTime::from_hms_opt(h, m, sec)
    };
    Some(NaiveDate::from_ymd_opt(year as i32, month, day).zip(time))
}

fn parse_parts(s: &str) -> Option<(NaiveDate, NaiveTime)> {
    if let Some(common) = parse_common(s) {
        return common;
    }
    // Compact forms: 20160520, 201605201305, 20160520130500.
    if s.bytes().all(|c| c.is_ascii_digit()) {
        let n = |a: usize, b: usize| s[a..b].parse::<u32>().ok();
        return match s.len() {
            8 | 12 | 14 => {
                let date = NaiveDate::from_ymd_opt(n(0, 4)? as i32, n(4, 6)?, n(6, 8)?)?;
                let time = match s.len() {
                    8 => NaiveTime::MIN,
                    12 => NaiveTime::from_hms_opt(n(8, 10)?, n(10, 12)?, 0)?,
                    _ => NaiveTime::from_hms_opt(n(8, 10)?, n(10, 12)?, n(12, 14)?)?,
                };
                Some((date, time))
            }
            _ => None,
        };
    }
    // Digit groups and what separates them.
    let mut groups: Vec<(u32, usize)> = Vec::with_capacity(7); // (value, digit count)
    let mut seps: Vec<String> = Vec::with_capacity(7);
    let mut cur = String::new();
    let mut sep = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !sep.is_empty() || (groups.is_empty() && seps.is_empty()) {
                seps.push(std::mem::take(&mut sep));
            }
            cur.push(c);
        } else {
            if !cur.is_empty() {
                groups.push((cur.parse().ok()?, cur.len()));
                cur.clear();
            }
            sep.push(c);
        }
        if groups.len() > 7 || cur.len() > 9 {
            return None;
        }
    }
    if !cur.is_empty() {
        groups.push((cur.parse().ok()?, cur.len()));
    }
    let trailing = sep;
    if groups.len() < 3 || seps.len() != groups.len() || groups[0].1 != 4 {
        return None;
    }
    // The separators allowed at each position.
    let ok_date_sep = |x: &str| matches!(x, "-" | "/" | "." | "年" | "月");
    if !seps[0].is_empty() || !ok_date_sep(&seps[1]) || !ok_date_sep(&seps[2]) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(groups[0].0 as i32, groups[1].0, groups[2].0)?;
    let mut time = [0u32; 3];
    let mut micros = 0u32;
    for (i, ((v, len), sep)) in groups.iter().zip(&seps).enumerate().skip(3) {
        let sep = sep.as_str();
        match i {
            3 => {
                if !matches!(sep.trim(), "" | "T" | "日")
                    || (sep.trim().is_empty() && sep.is_empty())
                {
                    return None;
                }
                time[0] = *v;
            }
            4 | 5 => {
                if !matches!(sep, ":" | "时" | "点" | "分") {
                    return None;
                }
                time[i - 3] = *v;
            }
            6 => {
                if sep != "." {
                    return None;
                }
                // Fraction of a second: scale to microseconds.
                let digits = (*len).min(6) as u32;
                micros = v / 10u32.pow((*len as u32).saturating_sub(6)) * 10u32.pow(6 - digits);
            }
            _ => return None,
        }
    }
    if !matches!(trailing.trim(), "" | "日" | "秒" | "分" | "时") {
        return None;
    }
    let time = NaiveTime::from_hms_micro_opt(time[0], time[1], time[2], micros)?;
    Some((date, time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_layout_reads_as_the_general_reader_reads_it() {
        for s in [
            "2025-11-04 17:19:48",
            "2025-11-04T17:19:48",
            "2024-02-29 00:00:00",
            "1999-12-31 23:59:59",
        ] {
            let (date, time) = parse_parts(s).unwrap();
            assert_eq!(iso_seconds(s), Some(date.and_time(time)), "{s}");
        }
        // Not this layout, or not a real time: left to the general reader and its reasons.
        for s in [
            "2025-02-29 10:00:00",
            "2025-11-04 24:00:00",
            "2025/11/04 17:19:48",
            "2025-11-04 17:19:4８",
            "2025-11-04 17:19",
            " 2025-11-04 17:19:48",
        ] {
            assert_eq!(iso_seconds(s), None, "{s}");
        }
        assert!(parse_datetime_text("2025-02-29 10:00:00").is_err());
    }

    #[test]
    fn epoch_days_and_seconds_agree_with_chrono_on_every_day() {
        // Every day from 0001-01-01 to 9999-12-31, at a time that moves with the day.
        use chrono::Datelike;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap();
        let mut n = 0u32;
        for day in NaiveDate::from_ymd_opt(1, 1, 1).unwrap().iter_days() {
            let (h, mi, sec) = (n % 24, n % 60, (n / 7) % 60);
            let text = format!(
                "{:04}-{:02}-{:02} {h:02}:{mi:02}:{sec:02}",
                day.year(),
                day.month(),
                day.day()
            );
            let want = ((day - epoch).num_days() as i32, h * 3600 + mi * 60 + sec);
            assert_eq!(iso_epoch_days_seconds(&text), Some(want), "{text}");
            n += 1;
            if day == last {
                break;
            }
        }
        assert_eq!(n, 3_652_059);
        assert_eq!(iso_epoch_days_seconds("1970-01-01T00:00:00"), Some((0, 0)));
        assert_eq!(
            iso_epoch_days_seconds("1969-12-31 23:59:59"),
            Some((-1, 86_399))
        );
        // Year 0 (1 BC, a leap year) is a date as well, as chrono reads it.
        assert_eq!(
            iso_epoch_days_seconds("0000-02-29 00:00:00"),
            Some((-719_469, 0))
        );
        for s in [
            "2025-02-29 10:00:00",
            "2100-02-29 10:00:00",
            "2025-04-31 10:00:00",
            "2025-00-10 10:00:00",
            "2025-13-10 10:00:00",
            "2025-11-00 10:00:00",
            "2025-11-04 24:00:00",
            "2025-11-04 23:60:00",
            "2025-11-04 23:59:60",
            "2025-11-04 17:19:4８",
            "2025/11/04 17:19:48",
        ] {
            assert_eq!(iso_epoch_days_seconds(s), None, "{s}");
        }
        assert_eq!(
            iso_epoch_days_seconds("2000-02-29 12:00:00"),
            Some((11_016, 43_200))
        );
    }

    fn local(s: &str) -> NaiveDateTime {
        match parse_datetime_text(s).unwrap_or_else(|e| panic!("{s}: {e}")) {
            Parsed::Local(d) => d,
            Parsed::Instant(_) => panic!("{s}: expected local"),
        }
    }
    fn dt(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
    }

    #[test]
    fn the_layouts_agencies_send() {
        assert_eq!(local("2016-05-20"), dt(2016, 5, 20, 0, 0, 0));
        assert_eq!(local("2016-05-20 13:05"), dt(2016, 5, 20, 13, 5, 0));
        assert_eq!(local("2016-05-20 13:05:06"), dt(2016, 5, 20, 13, 5, 6));
        assert_eq!(local("2016-05-20T13:05:06"), dt(2016, 5, 20, 13, 5, 6));
        assert_eq!(local("2016/5/20 13:05"), dt(2016, 5, 20, 13, 5, 0));
        assert_eq!(local("2016.5.20"), dt(2016, 5, 20, 0, 0, 0));
        assert_eq!(local("2016年5月20日"), dt(2016, 5, 20, 0, 0, 0));
        assert_eq!(local("2016年5月20日 13时05分"), dt(2016, 5, 20, 13, 5, 0));
        assert_eq!(local("2016年5月20日13:05:06"), dt(2016, 5, 20, 13, 5, 6));
        assert_eq!(local("20160520"), dt(2016, 5, 20, 0, 0, 0));
        assert_eq!(local("20160520130506"), dt(2016, 5, 20, 13, 5, 6));
        assert_eq!(
            local("2016-05-20 13:05:06.250"),
            NaiveDate::from_ymd_opt(2016, 5, 20)
                .unwrap()
                .and_hms_milli_opt(13, 5, 6, 250)
                .unwrap()
        );
    }

    #[test]
    fn the_common_layout_reads_like_the_general_one() {
        // parse_common answers for these; the general reader must agree, valid or not.
        for s in [
            "2016-05-20",
            "2016/05/20 13:05",
            "2016-05-20T13:05:06",
            "2016-02-29 23:59:59",
            "2015-02-29 10:00:00",
            "2016-05-20 24:00:00",
            "2016-13-01",
            "2016-05-20 13:60",
        ] {
            let fast = parse_common(s).expect(s);
            // The general reader, without the fast path.
            let slow = parse_parts(&format!("{s} "));
            assert_eq!(fast, slow, "{s}");
        }
        for s in [
            "2016-5-20",
            "2016-05/20",
            "2016.05.20",
            "2016-05-20 13:05:6",
            "20160520",
        ] {
            assert_eq!(parse_common(s), None, "{s}");
        }
    }

    #[test]
    fn offsets_give_instants() {
        // PostgreSQL's own spelling of timestamptz, with microseconds.
        let pg = parse_datetime_text("2016-05-20 13:05:00.25+08");
        assert!(matches!(pg, Ok(Parsed::Instant(_))), "{pg:?}");
        assert_eq!(pg, parse_datetime_text("2016-05-20T05:05:00.25Z"));
        assert_eq!(
            parse_datetime_text("2016-05-20T13:05:00+08:00"),
            Ok(Parsed::Instant(dt(2016, 5, 20, 5, 5, 0)))
        );
        assert_eq!(
            parse_datetime_text("2016-05-20T05:05:00Z"),
            Ok(Parsed::Instant(dt(2016, 5, 20, 5, 5, 0)))
        );
    }

    #[test]
    fn nonsense_is_rejected_with_the_text() {
        assert_eq!(
            parse_datetime_text("2026-13-45"),
            Err("无法识别的日期时间“2026-13-45”".into())
        );
        assert!(parse_datetime_text("明天").is_err());
        assert!(parse_datetime_text("16-5-20").is_err());
        assert!(parse_datetime_text("2016-05-20 25:00").is_err());
        assert!(parse_datetime_text("2016-05-20 13:05 extra").is_err());
        assert!(parse_datetime_text("2016052").is_err());
        assert!(parse_datetime_text("2016-02-30").is_err());
    }

    #[test]
    fn excel_serials() {
        assert_eq!(from_excel_serial(42510.0), Some(dt(2016, 5, 20, 0, 0, 0)));
        assert_eq!(from_excel_serial(42510.5), Some(dt(2016, 5, 20, 12, 0, 0)));
        assert_eq!(from_excel_serial(-1.0), None);
        assert_eq!(from_excel_serial(f64::NAN), None);
        assert_eq!(from_excel_serial(1e12), None);
    }
}
