//! How the CLI shows the jobs' typed results: tables for people (local times, no JSON lines),
//! CSV and JSON for programs. Nothing here computes; it formats what a job returned.

use super::OutputFormat;
use crate::config::Project;
use crate::jobs;
use chrono::{DateTime, Utc};

/// A plain ASCII table, as `sanhu query` prints (the preset arrow's pretty printer uses).
fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset("||--+-++|    ++++++");
    t.set_header(header.iter().copied());
    t
}

/// An instant in the project's time zone, to the minute or second.
pub fn local(project: &Project, t: DateTime<Utc>, seconds: bool) -> String {
    let fmt = if seconds {
        "%Y-%m-%d %H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M"
    };
    t.with_timezone(&project.tz).format(fmt).to_string()
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn or_dash(s: Option<String>) -> String {
    s.unwrap_or_else(|| "-".into())
}

pub fn ingest(files: &[jobs::ingest::FileResult]) {
    let (mut acc, mut rej, mut q, mut dup) = (0u64, 0u64, 0, 0);
    for f in files {
        match f.status {
            "quarantined" => {
                q += 1;
                eprintln!(
                    "quarantined {}/{}: {}",
                    f.unit,
                    f.file_name,
                    f.reason.as_deref().unwrap_or("")
                );
            }
            "duplicate" => dup += 1,
            _ => {}
        }
        acc += f.rows_accepted;
        rej += f.rows_rejected;
    }
    println!(
        "ingested {} file(s): {} rows accepted, {} rows rejected; {} file(s) quarantined, {} duplicate(s)",
        files.len() - q - dup,
        acc,
        rej,
        q,
        dup
    );
}

/// One line per database feed; a failure is one line naming the feed.
pub fn pulls(results: &[jobs::pull::PullResult], format: OutputFormat) {
    if matches!(format, OutputFormat::Json) {
        println!("{}", json(&results));
        return;
    }
    for r in results {
        match &r.error {
            Some(e) if r.attempts == 0 => eprintln!("pull {}: failed: {e}", r.feed),
            Some(e) => eprintln!(
                "pull {}: failed after {} attempt(s): {e}",
                r.feed, r.attempts
            ),
            None => println!(
                "pull {}: {} ({} rows read, {} accepted, {} rejected, {} already taken; watermark {} -> {})",
                r.feed,
                r.status,
                r.rows_read,
                r.rows_accepted,
                r.rows_rejected,
                r.rows_seen,
                r.watermark_from.as_deref().unwrap_or("start"),
                r.watermark_to.as_deref().unwrap_or("unchanged")
            ),
        }
    }
}

/// The exchange audit log; times are local.
pub fn audit(project: &Project, rows: &[crate::exchange::AuditRow], format: OutputFormat) {
    match format {
        OutputFormat::Json => println!("{}", json(&rows)),
        OutputFormat::Csv => {
            println!("id,unit,week,table,rows,mode,created_at,rule");
            for r in rows {
                println!(
                    "{},{},{},{},{},{},{},{}",
                    r.id,
                    r.unit,
                    r.week,
                    r.table,
                    r.rows,
                    r.mode,
                    r.created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    r.rule
                );
            }
        }
        OutputFormat::Table => {
            let mut t = table(&["id", "unit", "week", "table", "rows", "mode", "at", "rule"]);
            for r in rows {
                t.add_row(vec![
                    r.id.to_string(),
                    r.unit.clone(),
                    r.week.clone(),
                    r.table.clone(),
                    r.rows.to_string(),
                    r.mode.clone(),
                    local(project, r.created_at, true),
                    r.rule.clone(),
                ]);
            }
            println!("{t}");
        }
    }
}

/// `sanhu status`: feeds, quarantine, lake tables, database feeds, recent runs.
pub fn status(project: &Project, s: &jobs::status::StatusReport, format: OutputFormat) {
    if matches!(format, OutputFormat::Json) {
        println!("{}", json(s));
        return;
    }
    println!(
        "feeds as of {} ({}):",
        local(project, s.as_of, false),
        project.tz
    );
    let mut t = table(&[
        "unit",
        "feed",
        "files",
        "last delivery",
        "last period due",
        "status",
        "open period",
        "status",
        "due",
    ]);
    for f in &s.feeds {
        let (jp, js) = match &f.judged {
            Some(p) => (p.period.clone(), p.timeliness.as_str().to_string()),
            None => ("-".into(), "-".into()),
        };
        let (op, os, od) = match &f.open {
            Some(p) => (
                p.period.clone(),
                p.timeliness.as_str().to_string(),
                local(project, p.due_at, false),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        t.add_row(vec![
            f.unit.clone(),
            f.feed.clone(),
            f.files.to_string(),
            or_dash(f.last_delivery.map(|d| local(project, d, false))),
            jp,
            js,
            op,
            os,
            od,
        ]);
    }
    println!("{t}");
    println!(
        "quarantine: {} file(s) quarantined, {} row(s) rejected, {} row(s) with warnings",
        s.quarantine.files_quarantined, s.quarantine.rows_rejected, s.quarantine.rows_warned
    );
    println!("lake tables:");
    let mut t = table(&["table", "rows", "files", "updated"]);
    for x in &s.tables {
        t.add_row(vec![
            x.table.clone(),
            x.rows.to_string(),
            x.files.to_string(),
            or_dash(x.updated_at.map(|d| local(project, d, true))),
        ]);
    }
    println!("{t}");
    if !s.database_feeds.is_empty() {
        println!("database feeds:");
        let mut t = table(&[
            "feed",
            "last pull",
            "status",
            "rows read",
            "watermark",
            "error",
        ]);
        for p in &s.database_feeds {
            t.add_row(vec![
                p.feed.clone(),
                chrono::DateTime::parse_from_rfc3339(&p.last_pull)
                    .map(|t| local(project, t.with_timezone(&Utc), true))
                    .unwrap_or_else(|_| p.last_pull.clone()),
                p.status.clone(),
                p.rows_read.to_string(),
                or_dash(p.watermark.clone()),
                or_dash(p.error.clone()),
            ]);
        }
        println!("{t}");
    }
    println!("recent runs:");
    if s.runs.is_empty() {
        println!("  (none)");
        return;
    }
    let mut t = table(&[
        "id", "job", "trigger", "started", "seconds", "status", "rows in", "accepted", "rejected",
        "error",
    ]);
    for r in &s.runs {
        t.add_row(vec![
            r.id.to_string(),
            r.job.clone(),
            r.trigger.as_str().to_string(),
            local(project, r.started_at, true),
            or_dash(
                r.ended_at
                    .map(|e| format!("{:.1}", (e - r.started_at).num_milliseconds() as f64 / 1e3)),
            ),
            r.status.as_str().to_string(),
            r.rows_in.to_string(),
            r.rows_accepted.to_string(),
            r.rows_rejected.to_string(),
            or_dash(r.error.clone()),
        ]);
    }
    println!("{t}");
}

/// `sanhu explain credit`: the score, its basis and every deduction with its evidence.
pub fn credit(x: &jobs::CreditExplanation, format: OutputFormat) {
    if matches!(format, OutputFormat::Json) {
        println!("{}", json(x));
        return;
    }
    println!("{} {}", x.uscc, x.name);
    println!(
        "composite score {} grade {}{}  ({}; rule set {}; as of {})",
        x.score,
        x.grade,
        if x.hard_trigger {
            " (hard trigger)"
        } else {
            ""
        },
        x.rating_basis,
        x.rule_set_version,
        x.as_of
    );
    println!("official customs category: {}", x.official_category);
    println!(
        "last 12 months: {} declarations, value {} CNY, {} penalties; tax overdue {} days",
        x.declarations_12m, x.value_12m_cny, x.penalties_12m, x.tax_overdue_days
    );
    if x.evidence.is_empty() {
        println!("no deductions");
        return;
    }
    println!("deductions and triggers:");
    for e in &x.evidence {
        let pts = if e.hard_trigger {
            "D-trigger".to_string()
        } else {
            e.points.clone()
        };
        let until = match &e.counts_until {
            Some(d) => format!("counts until {d}"),
            None => "until repaired".to_string(),
        };
        println!(
            "  {:<22} {:>9}  {}  [{} {}] {} ({})",
            e.rule_id, pts, e.title, e.source_table, e.source_key, e.event_date, until
        );
    }
}
