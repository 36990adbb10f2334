//! The credit rule set (`credit_rules.toml`), compiled into the SQL model `credit_events`.
//!
//! Each rule names a lake table or model, the key and date expressions of an event, a condition,
//! points (or a hard trigger) and how long an event counts. The rules become one UNION ALL query
//! whose rows are the evidence behind every score; `queries/credit_*.sql` build the library on it.
//! Rule fields are SQL fragments: `sanhu validate` plans the generated model like any other.

use super::{Model, Problem, SourceText};
use serde::Deserialize;
use toml::Spanned;

pub const RULES_FILE: &str = "credit_rules.toml";
pub const EVENTS_MODEL: &str = "credit_events";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditRules {
    pub version: String,
    pub label: String,
    #[serde(default = "default_start")]
    pub start_score: i64,
    pub grades: Grades,
    pub rules: Vec<Spanned<CreditRule>>,
}

fn default_start() -> i64 {
    100
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grades {
    #[serde(rename = "A")]
    pub a: i64,
    #[serde(rename = "B")]
    pub b: i64,
    #[serde(rename = "C")]
    pub c: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditRule {
    pub rule_id: String,
    pub title: String,
    #[serde(default)]
    pub hard_trigger: bool,
    pub points: i64,
    pub source: String,
    pub key: String,
    pub date: String,
    pub when: String,
    /// The enterprise column of the source (default `uscc`).
    #[serde(default)]
    pub uscc: Option<String>,
    /// Days an event counts after its date (the repair window).
    #[serde(default)]
    pub counts_days: Option<u32>,
    /// Or an expression for the date it stops counting.
    #[serde(default)]
    pub counts_until: Option<String>,
}

fn quote(s: &str) -> String {
    s.replace('\'', "''")
}

impl CreditRules {
    /// The generated model: every rule's evidence rows, ignoring the as-of date.
    pub fn events_sql(&self) -> String {
        let parts: Vec<String> = self
            .rules
            .iter()
            .map(|r| {
                let r = r.get_ref();
                let until = match (&r.counts_until, r.counts_days) {
                    (Some(expr), _) => expr.clone(),
                    (None, Some(days)) => format!("({}) + INTERVAL '{days} days'", r.date),
                    (None, None) => "DATE '9999-12-31'".to_string(),
                };
                format!(
                    "SELECT CAST({uscc} AS VARCHAR) AS uscc, '{id}' AS rule_id, '{title}' AS title, CAST({points} AS BIGINT) AS points, \
                     {hard} AS hard_trigger, '{source}' AS source_table, CAST({key} AS VARCHAR) AS source_key, \
                     CAST({date} AS DATE) AS event_date, CAST({until} AS DATE) AS counts_until\n  FROM {source} WHERE ({when})",
                    uscc = r.uscc.as_deref().unwrap_or("uscc"),
                    id = quote(&r.rule_id),
                    title = quote(&r.title),
                    points = r.points,
                    hard = r.hard_trigger,
                    source = r.source,
                    key = r.key,
                    date = r.date,
                    until = until,
                    when = r.when,
                )
            })
            .collect();
        format!(
            "-- generated from {RULES_FILE} (version {}): one row per piece of evidence\nSELECT * FROM (\n  {}\n) WHERE uscc IS NOT NULL AND event_date IS NOT NULL",
            self.version,
            parts.join("\n  UNION ALL\n  ")
        )
    }

    pub fn render(&self, sql: &str) -> String {
        sql.replace("{{credit_version}}", &quote(&self.version))
            .replace("{{credit_label}}", &quote(&self.label))
            .replace("{{credit_start}}", &self.start_score.to_string())
            .replace("{{grade_a}}", &self.grades.a.to_string())
            .replace("{{grade_b}}", &self.grades.b.to_string())
            .replace("{{grade_c}}", &self.grades.c.to_string())
    }
}

/// Check a parsed rule set; returns the generated model.
pub fn resolve(src: &SourceText, rules: &CreditRules, problems: &mut Vec<Problem>) -> Model {
    let mut seen = std::collections::BTreeSet::new();
    for r in &rules.rules {
        let rule = r.get_ref();
        if !seen.insert(rule.rule_id.clone()) {
            problems.push(src.problem(
                r.span(),
                format!("rule_id `{}` is used twice", rule.rule_id),
            ));
        }
        if rule.counts_days.is_some() && rule.counts_until.is_some() {
            problems.push(src.problem(
                r.span(),
                format!(
                    "rule `{}`: give counts_days or counts_until, not both",
                    rule.rule_id
                ),
            ));
        }
        if rule.hard_trigger && rule.points != 0 {
            problems.push(src.problem(
                r.span(),
                format!(
                    "rule `{}`: a hard trigger forces grade D; set points = 0",
                    rule.rule_id
                ),
            ));
        }
        if rule.points > 0 {
            problems.push(src.problem(
                r.span(),
                format!(
                    "rule `{}`: points deduct, so they are 0 or negative",
                    rule.rule_id
                ),
            ));
        }
    }
    if !(rules.grades.a > rules.grades.b && rules.grades.b > rules.grades.c) {
        problems.push(src.problem(0..0, "grades must satisfy A > B > C"));
    }
    Model {
        name: EVENTS_MODEL.to_string(),
        sql: rules.events_sql(),
        file: src.path.clone(),
    }
}
