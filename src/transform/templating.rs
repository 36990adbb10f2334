//! SQL placeholders: the as-of moment, project settings, report parameters.

use super::functions;
use crate::config::Project;

/// The moment models are computed as of: a report for week W sees what had happened by the end
/// of its Sunday; `sanhu status` sees what has happened by now. A feed period whose deadline is
/// after this instant is not judged yet (未到期).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsOf {
    /// The local calendar day of the instant (the day of `{{as_of}}`).
    pub day: chrono::NaiveDate,
    /// The instant itself, UTC.
    pub instant: chrono::DateTime<chrono::Utc>,
}

impl AsOf {
    /// As of the end of a local day: the UTC instant of local midnight after it.
    pub fn end_of_day(project: &Project, day: chrono::NaiveDate) -> AsOf {
        use chrono::TimeZone;
        let next = day
            .succ_opt()
            .unwrap_or(day)
            .and_hms_opt(0, 0, 0)
            .expect("midnight");
        let instant = project
            .tz
            .from_local_datetime(&next)
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(|| next.and_utc());
        AsOf { day, instant }
    }

    /// As of an instant; its day is the local day it falls on.
    pub fn at(project: &Project, instant: chrono::DateTime<chrono::Utc>) -> AsOf {
        AsOf {
            day: instant.with_timezone(&project.tz).date_naive(),
            instant,
        }
    }

    /// As of now.
    pub fn now(project: &Project) -> AsOf {
        AsOf::at(project, chrono::Utc::now())
    }

    /// As of the end of `day` when one is given (`--as-of`), else as of now.
    pub fn day_or_now(project: &Project, day: Option<chrono::NaiveDate>) -> AsOf {
        day.map_or_else(|| AsOf::now(project), |d| AsOf::end_of_day(project, d))
    }

    /// The instant as a naive UTC date-time (what `{{as_of_end_utc}}` renders).
    pub fn end_utc(&self) -> chrono::NaiveDateTime {
        self.instant.naive_utc()
    }
}

/// Fill `{{name}}` placeholders from the project settings and the as-of date.
pub fn render_sql(project: &Project, sql: &str, as_of: AsOf) -> String {
    let c = &project.settings.clearance;
    let sql = sql
        .replace("{{outlier_hours}}", &c.outlier_hours.to_string())
        .replace("{{baseline_period}}", &c.baseline_period)
        .replace("{{timezone}}", &project.tz.to_string())
        .replace("{{as_of}}", &as_of.day.format("%Y-%m-%d").to_string())
        .replace("{{as_of_week}}", &functions::iso_week_of(as_of.day))
        .replace(
            "{{as_of_end_utc}}",
            &as_of.end_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        );
    match &project.credit {
        Some(c) => c.render(&sql),
        None => sql,
    }
}

/// `{{name}}` placeholders as NULL, so an unrendered model still parses for its references.
pub(super) fn blank_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                out.push_str("NULL");
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Fill a report sheet's parameters. Times are UTC instants of the local week's bounds.
pub fn render_report_sql(
    sql: &str,
    week: &str,
    week_start_utc: &str,
    week_end_utc: &str,
) -> String {
    sql.replace("{{week}}", week)
        .replace(
            "{{week_start}}",
            &format!("arrow_cast(TIMESTAMP '{week_start_utc}', 'Timestamp(µs, \"UTC\")')"),
        )
        .replace(
            "{{week_end}}",
            &format!("arrow_cast(TIMESTAMP '{week_end_utc}', 'Timestamp(µs, \"UTC\")')"),
        )
}
