//! Cron slots: which instants a schedule's cron expression names, computed here rather than
//! trusted to the trigger crate.
//!
//! Part of the schedule stage (last in the flow; it drives the jobs and knows no file format or
//! engine).
//!
//! A slot is the identity of one scheduled run: `(job, scheduled_for)`, with `scheduled_for` a
//! UTC instant. The run ledger keys on it, so the same expression must always give the same
//! instants, whoever asks and whenever. tokio-cron-scheduler has fired jobs twice (#105) and an
//! hour off after a DST change because it keeps the UTC offset of the day the job was created
//! (#107, #87); so it only wakes the daemon, and this module decides what is due.
//!
//! Expressions are parsed by `croner`, the parser tokio-cron-scheduler itself uses, with the same
//! settings (six fields with seconds, day-of-month AND day-of-week), so both read an expression
//! alike: `0 0 8 * * Mon` is 08:00:00 every Monday. Matching is done on the *local wall clock*
//! of the project's time zone; mapping a wall-clock time to an instant is ours, with these rules
//! for the days the clocks change (Asia/Shanghai has no DST; a project elsewhere may):
//!
//! - **Spring forward** (a wall-clock time that does not exist, e.g. 02:30 on the last Sunday of
//!   March in Europe/Berlin): the slot moves to the first instant after the gap (03:00 local),
//!   as Vixie cron and croner do. A daily 02:30 job runs once that day, not zero times. Slots
//!   that land on the same instant are one slot.
//! - **Fall back** (a wall-clock time that occurs twice): one slot, at the first occurrence,
//!   unless the expression matches every hour (`*` in the hour field); then both occurrences
//!   are slots, so a job that runs every N minutes keeps running through the repeated hour.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// A parsed cron expression bound to the time zone its wall-clock times are read in.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expr: String,
    cron: Cron,
    tz: Tz,
    /// The hour field matches all 24 hours: a repeated wall-clock hour is run twice.
    every_hour: bool,
}

impl CronSchedule {
    /// Parse a 6-field cron expression (seconds first), read in local time `tz`.
    pub fn parse(expr: &str, tz: Tz) -> Result<CronSchedule, String> {
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(expr)
            .map_err(|e| e.to_string())?;
        let every_hour = (0..24).all(|h| cron.pattern.hour_match(h).unwrap_or(false));
        let schedule = CronSchedule {
            expr: expr.trim().to_string(),
            cron,
            tz,
            every_hour,
        };
        // An expression that parses but never matches (30 February) is a config error, found
        // now rather than as a silent schedule that never runs.
        let probe = Utc::now();
        if schedule.next_naive(local(tz, probe)).is_none() {
            return Err("the expression matches no date".into());
        }
        Ok(schedule)
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Every slot `s` with `after < s <= until`, ascending, without duplicates.
    pub fn slots(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        self.for_each_slot(after, until, |t| {
            out.push(t);
            true
        });
        out.sort();
        out.dedup();
        out
    }

    /// How many slots lie in `after < s < before`, counting at most `cap` of them (a per-second
    /// schedule after a week's downtime has 600 000; the ledger only needs "many").
    pub fn count_slots_between(
        &self,
        after: DateTime<Utc>,
        before: DateTime<Utc>,
        cap: usize,
    ) -> usize {
        let mut seen = Vec::new();
        let until = before - Duration::nanoseconds(1);
        self.for_each_slot(after, until, |t| {
            seen.push(t);
            seen.len() < cap.saturating_mul(2) + 2
        });
        seen.sort();
        seen.dedup();
        seen.len().min(cap)
    }

    /// The latest slot `s` with `after < s <= until`: what is due now. Earlier slots in the
    /// window are folded into it (a missed schedule is caught up once, not once per slot).
    pub fn latest(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if until <= after {
            return None;
        }
        // Candidates are wall-clock times; near an offset change the latest instant may come
        // from a wall-clock time a little past `until`'s, or a little before an earlier one.
        let margin = offset_margin(self.tz, until);
        let mut stop_below = local(self.tz, after) - offset_margin(self.tz, after);
        let mut cursor = whole_second(local(self.tz, until) + margin);
        let mut inclusive = true;
        let mut best: Option<DateTime<Utc>> = None;
        while let Some(candidate) = self.prev_naive(cursor, inclusive) {
            if candidate < stop_below {
                break;
            }
            for t in self.instants(candidate).into_iter().flatten() {
                if after < t && t <= until && best.is_none_or(|b| t > b) {
                    best = Some(t);
                    // Nothing more than one offset change below this can map above it.
                    stop_below = stop_below.max(local(self.tz, t) - offset_margin(self.tz, t));
                }
            }
            cursor = candidate;
            inclusive = false;
        }
        best
    }

    /// Walk the wall-clock matches whose instants may fall in `(after, until]`, calling `f`
    /// with each instant inside it (unsorted near DST changes) until `f` returns false.
    fn for_each_slot(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        mut f: impl FnMut(DateTime<Utc>) -> bool,
    ) {
        if until <= after {
            return;
        }
        let start = whole_second(local(self.tz, after) - offset_margin(self.tz, after));
        let end = local(self.tz, until) + offset_margin(self.tz, until);
        // `next_naive` is exclusive: step back one second so a match at `start` is seen.
        let mut cursor = start - Duration::seconds(1);
        while let Some(candidate) = self.next_naive(cursor) {
            if candidate > end {
                break;
            }
            for t in self.instants(candidate).into_iter().flatten() {
                if after < t && t <= until && !f(t) {
                    return;
                }
            }
            cursor = candidate;
        }
    }

    /// The next wall-clock time after `naive` that the expression matches. croner is run on a
    /// naive time dressed as UTC, where no time is missing or repeated; DST is ours (above).
    fn next_naive(&self, naive: NaiveDateTime) -> Option<NaiveDateTime> {
        self.cron
            .find_next_occurrence(&whole_second(naive).and_utc(), false)
            .ok()
            .map(|t| t.naive_utc())
    }

    fn prev_naive(&self, naive: NaiveDateTime, inclusive: bool) -> Option<NaiveDateTime> {
        self.cron
            .find_previous_occurrence(&whole_second(naive).and_utc(), inclusive)
            .ok()
            .map(|t| t.naive_utc())
    }

    /// The instants a matching wall-clock time stands for (the DST rules in the module doc).
    fn instants(&self, naive: NaiveDateTime) -> [Option<DateTime<Utc>>; 2] {
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => [Some(t.to_utc()), None],
            LocalResult::Ambiguous(a, b) => {
                let (first, second) = if a <= b { (a, b) } else { (b, a) };
                let second = self.every_hour.then(|| second.to_utc());
                [Some(first.to_utc()), second]
            }
            LocalResult::None => [Some(first_instant_after_gap(self.tz, naive)), None],
        }
    }
}

/// Every slot of `cron` (6 fields, local time in `tz`) with `after < slot <= until`, ascending.
/// The pure function behind the scheduler; see the module doc for the DST rules.
pub fn next_slots(
    cron: &str,
    tz: Tz,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, String> {
    Ok(CronSchedule::parse(cron, tz)?.slots(after, until))
}

fn local(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

fn whole_second(n: NaiveDateTime) -> NaiveDateTime {
    n.with_nanosecond(0).unwrap_or(n)
}

fn offset_seconds(tz: Tz, t: DateTime<Utc>) -> i64 {
    i64::from(
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// How far wall-clock and instant order can disagree around `t`: the spread of the zone's UTC
/// offsets within a day either side (0 where the zone has no change then, as in Shanghai).
fn offset_margin(tz: Tz, t: DateTime<Utc>) -> Duration {
    let day = Duration::days(1);
    let samples = [
        t.checked_sub_signed(day).unwrap_or(t),
        t,
        t.checked_add_signed(day).unwrap_or(t),
    ]
    .map(|s| offset_seconds(tz, s));
    let spread = samples.iter().max().unwrap_or(&0) - samples.iter().min().unwrap_or(&0);
    if spread == 0 {
        Duration::zero()
    } else {
        Duration::seconds(spread + 1)
    }
}

/// The first instant whose local time is past `naive`, a wall-clock time inside a DST gap:
/// the moment the clocks jumped. Found by bisection between the two offsets around it.
fn first_instant_after_gap(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    let base = naive.and_utc();
    let day = Duration::days(1);
    let before = offset_seconds(tz, base - day);
    let after = offset_seconds(tz, base + day);
    // Local time is `naive` minus the bigger offset (not yet reached) and plus the smaller
    // (already passed): the jump lies between those two instants.
    let mut lo = base - Duration::seconds(before.max(after));
    let mut hi = base - Duration::seconds(before.min(after));
    if lo >= hi || local(tz, hi) <= naive {
        return hi;
    }
    while hi - lo > Duration::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if local(tz, mid) > naive {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;
    use chrono_tz::Europe::Berlin;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn weekly_monday_0800_shanghai_is_midnight_utc_each_monday() {
        // 2026-03-02 is a Monday; 08:00 in Shanghai (UTC+8, no DST) is 00:00 UTC.
        let slots = next_slots(
            "0 0 8 * * Mon",
            Shanghai,
            utc(2026, 3, 1, 0, 0, 0),
            utc(2026, 3, 23, 0, 0, 0),
        )
        .unwrap();
        assert_eq!(
            slots,
            vec![
                utc(2026, 3, 2, 0, 0, 0),
                utc(2026, 3, 9, 0, 0, 0),
                utc(2026, 3, 16, 0, 0, 0),
                utc(2026, 3, 23, 0, 0, 0)
            ]
        );
    }

    #[test]
    fn window_is_open_below_and_closed_above() {
        let monday = utc(2026, 3, 2, 0, 0, 0);
        let s = |a: DateTime<Utc>, b: DateTime<Utc>| {
            next_slots("0 0 8 * * Mon", Shanghai, a, b).unwrap()
        };
        assert!(s(monday, monday + Duration::days(6)).is_empty());
        assert_eq!(s(monday - Duration::seconds(1), monday), vec![monday]);
        assert!(s(monday, monday).is_empty());
    }

    #[test]
    fn numeric_weekday_agrees_with_the_trigger_crate_posix_style() {
        // croner without "alternative weekdays" (as tokio-cron-scheduler parses): 1 = Monday.
        let by_name = next_slots(
            "0 0 8 * * Mon",
            Shanghai,
            utc(2026, 3, 1, 0, 0, 0),
            utc(2026, 3, 31, 0, 0, 0),
        )
        .unwrap();
        let by_number = next_slots(
            "0 0 8 * * 1",
            Shanghai,
            utc(2026, 3, 1, 0, 0, 0),
            utc(2026, 3, 31, 0, 0, 0),
        )
        .unwrap();
        assert_eq!(by_name, by_number);
    }

    #[test]
    fn berlin_0230_daily_runs_once_on_spring_forward_day_at_the_end_of_the_gap() {
        // 2026-03-29: clocks go 02:00 CET → 03:00 CEST; 02:30 does not exist that day.
        let slots = next_slots(
            "0 30 2 * * *",
            Berlin,
            utc(2026, 3, 27, 12, 0, 0),
            utc(2026, 3, 30, 12, 0, 0),
        )
        .unwrap();
        assert_eq!(
            slots,
            vec![
                utc(2026, 3, 28, 1, 30, 0), // 02:30 CET
                utc(2026, 3, 29, 1, 0, 0),  // the gap's end: 03:00 CEST, once
                utc(2026, 3, 30, 0, 30, 0), // 02:30 CEST
            ]
        );
    }

    #[test]
    fn berlin_0230_daily_runs_once_on_fall_back_day_at_the_first_occurrence() {
        // 2026-10-25: clocks go 03:00 CEST → 02:00 CET; 02:30 happens twice.
        let slots = next_slots(
            "0 30 2 * * *",
            Berlin,
            utc(2026, 10, 24, 12, 0, 0),
            utc(2026, 10, 26, 12, 0, 0),
        )
        .unwrap();
        assert_eq!(
            slots,
            vec![utc(2026, 10, 25, 0, 30, 0), utc(2026, 10, 26, 1, 30, 0)]
        );
    }

    #[test]
    fn every_30_minutes_keeps_real_time_spacing_across_both_changes() {
        let spring = next_slots(
            "0 */30 * * * *",
            Berlin,
            utc(2026, 3, 29, 0, 0, 0),
            utc(2026, 3, 29, 2, 0, 0),
        )
        .unwrap();
        // 01:30 CET, then 02:00 and 02:30 (missing) fold into 03:00 CEST = 01:00 UTC, 03:30, 04:00.
        assert_eq!(
            spring,
            vec![
                utc(2026, 3, 29, 0, 30, 0),
                utc(2026, 3, 29, 1, 0, 0),
                utc(2026, 3, 29, 1, 30, 0),
                utc(2026, 3, 29, 2, 0, 0)
            ]
        );
        let fall = next_slots(
            "0 */30 * * * *",
            Berlin,
            utc(2026, 10, 24, 23, 45, 0),
            utc(2026, 10, 25, 1, 45, 0),
        )
        .unwrap();
        // 02:00 and 02:30 happen twice and run twice: one slot every half hour of real time.
        assert_eq!(
            fall,
            vec![
                utc(2026, 10, 25, 0, 0, 0),
                utc(2026, 10, 25, 0, 30, 0),
                utc(2026, 10, 25, 1, 0, 0),
                utc(2026, 10, 25, 1, 30, 0)
            ]
        );
    }

    #[test]
    fn latest_is_the_last_slot_of_the_window_and_agrees_with_slots() {
        let c = CronSchedule::parse("0 0 8 * * *", Shanghai).unwrap();
        let after = utc(2026, 3, 1, 0, 0, 0);
        let until = utc(2026, 3, 4, 4, 0, 0); // Wednesday 12:00 local
        assert_eq!(c.latest(after, until), Some(utc(2026, 3, 4, 0, 0, 0)));
        assert_eq!(
            c.latest(after, until),
            c.slots(after, until).last().copied()
        );
        assert_eq!(c.latest(utc(2026, 3, 4, 0, 0, 0), until), None);
        for (a, u) in [
            (utc(2026, 3, 27, 0, 0, 0), utc(2026, 3, 29, 1, 0, 0)),
            (utc(2026, 3, 27, 0, 0, 0), utc(2026, 3, 29, 0, 59, 59)),
            (utc(2026, 10, 24, 0, 0, 0), utc(2026, 10, 25, 1, 10, 0)),
        ] {
            for expr in ["0 30 2 * * *", "0 */30 * * * *", "*/20 * * * * *"] {
                let c = CronSchedule::parse(expr, Berlin).unwrap();
                assert_eq!(
                    c.latest(a, u),
                    c.slots(a, u).last().copied(),
                    "{expr} in ({a}, {u}]"
                );
            }
        }
    }

    #[test]
    fn counting_missed_slots_is_capped() {
        let c = CronSchedule::parse("* * * * * *", Shanghai).unwrap();
        let a = utc(2026, 3, 1, 0, 0, 0);
        assert_eq!(c.count_slots_between(a, a + Duration::seconds(10), 100), 9);
        assert_eq!(c.count_slots_between(a, a + Duration::days(7), 100), 100);
    }

    #[test]
    fn bad_expressions_are_refused_with_a_reason() {
        assert!(
            CronSchedule::parse("0 8 * * Mon", Shanghai).is_err(),
            "five fields: seconds are required"
        );
        assert!(CronSchedule::parse("0 0 25 * * *", Shanghai).is_err());
        assert!(CronSchedule::parse("nonsense", Shanghai).is_err());
    }
}
