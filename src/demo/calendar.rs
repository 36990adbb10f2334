//! The delivery calendar: ISO weeks of the period, each week's extract cut-off, daily volumes.
//!
//! Agencies deliver weekly (信息报告制度), so every weekly file is a snapshot taken when the week is
//! over: events after the cut-off are not in it yet (a declaration lodged on Sunday evening shows
//! no release) and the record is sent again, complete, in the week the last event happened. That
//! is how real upsert feeds look, and why `released_at` is only missing at the end of the period.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};

use super::rng::{self, DemoRng, tag};

#[derive(Debug, Clone)]
pub(crate) struct Week {
    pub iso_year: i32,
    pub iso_week: u32,
    pub monday: NaiveDate,
    /// First and last day of the period inside this week.
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// Extract time: nothing that happens at or after it is in this week's files.
    pub cutoff: NaiveDateTime,
}

impl Week {
    /// `2026-W45`, the form task_progress.period uses.
    pub fn label(&self) -> String {
        format!("{}-W{:02}", self.iso_year, self.iso_week)
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.first.iter_days().take_while(|d| *d <= self.last)
    }
}

#[derive(Debug)]
pub(crate) struct Calendar {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub weeks: Vec<Week>,
    /// Local midnight after `to`: the end of everything the demo shows.
    pub end: NaiveDateTime,
}

pub(crate) fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_time(NaiveTime::MIN)
}

impl Calendar {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        let end = midnight(to + Duration::days(1));
        let mut weeks = Vec::new();
        let mut monday = from - Duration::days(from.weekday().num_days_from_monday() as i64);
        while monday <= to {
            let iso = monday.iso_week();
            let first = monday.max(from);
            let last = (monday + Duration::days(6)).min(to);
            weeks.push(Week {
                iso_year: iso.year(),
                iso_week: iso.week(),
                monday,
                first,
                last,
                cutoff: midnight(last + Duration::days(1)),
            });
            monday += Duration::days(7);
        }
        Calendar {
            from,
            to,
            weeks,
            end,
        }
    }

    /// Index of the week whose files first show an event at `t`; `None` past the period.
    pub fn week_of(&self, t: NaiveDateTime) -> Option<usize> {
        if t >= self.end {
            return None;
        }
        let first_monday = self.weeks[0].monday;
        let days = (t.date() - first_monday).num_days().max(0);
        Some(((days / 7) as usize).min(self.weeks.len() - 1))
    }

    pub fn num_days(&self) -> usize {
        (self.to - self.from).num_days() as usize + 1
    }

    pub fn day_index(&self, d: NaiveDate) -> usize {
        (d - self.from).num_days() as usize
    }

    /// Relative trade volume of each day of the period: weekdays, quiet weekends, the 国庆 and
    /// 元旦 holidays, a mild upward trend and some day-to-day noise.
    pub fn day_weights(&self, seed: u64, ecommerce: bool) -> Vec<f64> {
        let mut rng = rng::stream(seed, tag::CALENDAR, u64::from(ecommerce));
        let n = self.num_days();
        self.from
            .iter_days()
            .take(n)
            .enumerate()
            .map(|(i, d)| {
                let base = if ecommerce {
                    // Shoppers order every day; customs e-commerce queues barely dip at weekends.
                    match d.weekday() {
                        Weekday::Sat | Weekday::Sun => 0.9,
                        _ => 1.0,
                    }
                } else {
                    match d.weekday() {
                        Weekday::Mon => 1.1,
                        Weekday::Tue | Weekday::Wed | Weekday::Thu => 1.0,
                        Weekday::Fri => 0.95,
                        Weekday::Sat => 0.35,
                        Weekday::Sun => 0.2,
                    }
                };
                let holiday = (d.month() == 10 && d.day() <= 7) || (d.month() == 1 && d.day() == 1);
                let holiday = if holiday { 0.3 } else { 1.0 };
                let trend = 1.0 + 0.15 * i as f64 / n as f64;
                let noise = (1.0 + 0.12 * rng::normal(&mut rng)).clamp(0.6, 1.4);
                base * holiday * trend * noise
            })
            .collect()
    }
}

/// Excel serial date-time (days since 1899-12-30, the 1900 system).
pub(crate) fn excel_serial(t: NaiveDateTime) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date");
    let days = (t.date() - epoch).num_days() as f64;
    days + t.time().signed_duration_since(NaiveTime::MIN).num_seconds() as f64 / 86_400.0
}

/// A time of day drawn around office hours (most declarations are lodged 08:30–18:00).
pub(crate) fn office_time(rng: &mut DemoRng) -> Duration {
    let hours = match rng::weighted(rng, &[0.34, 0.10, 0.40, 0.10, 0.06]) {
        0 => rng::uniform(rng, 8.5, 12.0),
        1 => rng::uniform(rng, 12.0, 14.0),
        2 => rng::uniform(rng, 14.0, 18.0),
        3 => rng::uniform(rng, 18.0, 23.5),
        _ => rng::uniform(rng, 0.0, 8.5),
    };
    Duration::seconds((hours * 3600.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn weeks_cover_the_period_with_partial_ends() {
        let cal = Calendar::new(d(2026, 11, 4), d(2026, 11, 18));
        assert_eq!(cal.weeks.len(), 3);
        assert_eq!(cal.weeks[0].label(), "2026-W45");
        assert_eq!(cal.weeks[0].first, d(2026, 11, 4));
        assert_eq!(cal.weeks[0].cutoff, midnight(d(2026, 11, 9)));
        assert_eq!(cal.weeks[2].last, d(2026, 11, 18));
        assert_eq!(cal.week_of(midnight(d(2026, 11, 9))), Some(1));
        assert_eq!(cal.week_of(midnight(d(2026, 11, 19))), None);
        assert_eq!(cal.weeks[1].days().count(), 7);
    }

    #[test]
    fn iso_week_year_differs_from_calendar_year() {
        let cal = Calendar::new(d(2026, 12, 30), d(2027, 1, 2));
        assert_eq!(cal.weeks[0].label(), "2026-W53");
        let cal = Calendar::new(d(2024, 12, 30), d(2025, 1, 2));
        assert_eq!(cal.weeks[0].label(), "2025-W01");
    }

    #[test]
    fn excel_serial_of_known_dates() {
        assert_eq!(excel_serial(midnight(d(1900, 3, 1))), 61.0);
        let t = d(2026, 11, 9).and_hms_opt(12, 0, 0).unwrap();
        assert_eq!(excel_serial(t), 46335.5);
    }
}
