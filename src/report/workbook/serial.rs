//! Excel serial dates (the 1900 date system) and date number formats.

use chrono::{NaiveDate, NaiveDateTime, Timelike};

pub(super) fn excel_date_in_range(d: NaiveDate) -> bool {
    let first = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");
    (first..=last).contains(&d)
}

/// Excel's serial day number (1900 date system). Excel counts a 29 February 1900 that never
/// was (Lotus 1-2-3's bug), so from 1 March 1900 the serial is days since 1899-12-30, before it
/// days since 1899-12-31.
pub(crate) fn date_serial(d: NaiveDate) -> f64 {
    let march_1900 = NaiveDate::from_ymd_opt(1900, 3, 1).expect("valid date");
    let base = if d < march_1900 {
        NaiveDate::from_ymd_opt(1899, 12, 31).expect("valid date")
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date")
    };
    (d - base).num_days() as f64
}

/// Serial date plus the fraction of the day, to the millisecond.
pub(crate) fn datetime_serial(dt: NaiveDateTime) -> f64 {
    let t = dt.time();
    let ms = u64::from(t.num_seconds_from_midnight()) * 1000
        + u64::from(t.nanosecond().min(999_999_999))
            .div_ceil(1_000_000)
            .min(999);
    date_serial(dt.date()) + ms as f64 / 86_400_000.0
}

/// Text of a serial date as a date (`2026-11-09`) or, when it has a time of day, a date-time
/// (`2026-11-09 00:30:00`, milliseconds only when present). The dumps print dates this way on
/// both the model side and the read-back side, so the two compare exactly.
pub(crate) fn format_serial(serial: f64) -> String {
    let mut days = serial.floor();
    let mut ms = ((serial - days) * 86_400_000.0).round() as i64;
    if ms >= 86_400_000 {
        days += 1.0;
        ms = 0;
    }
    let days = days as i64;
    let date = if days == 60 {
        return "1900-02-29".to_string(); // Excel's phantom day
    } else if days < 60 {
        NaiveDate::from_ymd_opt(1899, 12, 31).expect("valid date") + chrono::Duration::days(days)
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date") + chrono::Duration::days(days)
    };
    if ms == 0 {
        return date.format("%Y-%m-%d").to_string();
    }
    let (secs, millis) = (ms / 1000, ms % 1000);
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if millis == 0 {
        format!("{} {time}", date.format("%Y-%m-%d"))
    } else {
        format!("{} {time}.{millis:03}", date.format("%Y-%m-%d"))
    }
}

/// Whether Excel (and calamine) treat a number format as a date/time format: a date/time token
/// (`y m d h s`) outside quotes, escapes and `[...]` in the first section.
pub(crate) fn is_date_format(num_format: &str) -> bool {
    let mut chars = num_format.chars();
    let mut quoted = false;
    let mut brackets = 0u32;
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => {}
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => brackets += 1,
            ']' => brackets = brackets.saturating_sub(1),
            ';' => return false,
            'd' | 'm' | 'h' | 'y' | 's' | 'D' | 'M' | 'H' | 'Y' | 'S' if brackets == 0 => {
                return true;
            }
            _ => {}
        }
    }
    false
}
