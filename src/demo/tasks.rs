//! The plan's task registry (seed data) and each unit's weekly progress reports on it.
//!
//! `seed/task_registry.csv` is the plan (鄂尔多斯市落实“三互”推进大通关建设改革实施方案) broken into
//! tasks with their responsible units and deadlines; the demo drops a copy into the commerce
//! inbox and has every unit report on its tasks each week. Progress follows the calendar (tasks
//! whose deadline passed long ago are mostly done), some tasks stall (受阻), and some units report
//! late or go silent for a week or three, which is what the supervision report (督促检查) is for.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rand::Rng;

use super::calendar::{Week, midnight};
use super::rng::{self, DemoRng};
use super::sink::Value;

/// The registry as shipped in the repository.
pub(crate) const TASK_REGISTRY_CSV: &str = include_str!("../../seed/task_registry.csv");

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub id: String,
    pub units: Vec<String>,
    pub deadline: Option<NaiveDate>,
}

/// Parses the registry (plain CSV: header row, no quoted fields needed by its content, but quotes
/// are honoured).
pub(crate) fn registry() -> Vec<Task> {
    let mut tasks = Vec::new();
    for line in TASK_REGISTRY_CSV
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
    {
        let fields = split_csv_line(line);
        if fields.len() < 7 {
            continue;
        }
        tasks.push(Task {
            id: fields[0].clone(),
            units: fields[4]
                .split(';')
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect(),
            deadline: NaiveDate::parse_from_str(fields[5].trim(), "%Y-%m-%d").ok(),
        });
    }
    tasks
}

pub(crate) fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().expect("one field").push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

/// How reliably a unit reports: (chance to go silent in a week, chance to report late).
fn reliability(unit: &str) -> (f64, f64) {
    match unit {
        "commerce" => (0.01, 0.03),
        "customs" => (0.02, 0.05),
        "ciq" => (0.04, 0.08),
        "airport" => (0.05, 0.10),
        "park" => (0.06, 0.12),
        "border" => (0.06, 0.10),
        "aviation" => (0.10, 0.15),
        _ => (0.12, 0.20),
    }
}

#[derive(Debug, Clone)]
struct State {
    percent: f64,
    /// Weeks left in a stall.
    blocked: u32,
    /// Weekly pace in percentage points.
    pace: f64,
}

/// One unit's progress on its tasks, advanced week by week.
#[derive(Debug)]
pub(crate) struct UnitProgress {
    pub unit: &'static str,
    tasks: Vec<(Task, State)>,
    silent_weeks: u32,
    rng: DemoRng,
}

/// What clerks write in 进展说明, by status.
static NOTES: &[(&str, &[&str])] = &[
    (
        "已完成",
        &["已按期完成", "已完成，转入常态化运行", "已完成并通过验收"],
    ),
    (
        "受阻",
        &[
            "受上级审批进度影响，暂缓推进",
            "系统对接存在技术问题，正在协调解决",
            "资金尚未落实，已报请协调",
            "需牵头单位协调相关部门",
        ],
    ),
    (
        "未启动",
        &["尚未启动，正在制定实施计划", "等待牵头单位统一部署"],
    ),
    (
        "推进中",
        &[
            "按计划推进",
            "已完成方案细化，正在推进系统对接",
            "数据接口联调中",
            "正在组织业务培训",
            "已提交相关材料，等待审核",
            "本周召开专题协调会",
        ],
    ),
];

const PLAN_ISSUED: (i32, u32, u32) = (2016, 5, 20);

impl UnitProgress {
    pub fn new(unit: &'static str, tasks: &[Task], start: NaiveDate, mut rng: DemoRng) -> Self {
        let issued = NaiveDate::from_ymd_opt(PLAN_ISSUED.0, PLAN_ISSUED.1, PLAN_ISSUED.2)
            .expect("valid date");
        let tasks = tasks
            .iter()
            .filter(|t| t.units.iter().any(|u| u == unit))
            .map(|t| {
                // Where the task should be by now if it ran to schedule, then some lag or lead.
                let deadline = t.deadline.unwrap_or(issued + Duration::days(365 * 4));
                let total = (deadline - issued).num_days().max(1) as f64;
                let elapsed = (start - issued).num_days() as f64;
                let on_plan = (elapsed / total).clamp(0.0, 1.2) * 100.0;
                let laggard = rng::chance(&mut rng, 0.15);
                let factor = if laggard {
                    rng::uniform(&mut rng, 0.3, 0.7)
                } else {
                    rng::uniform(&mut rng, 0.8, 1.15)
                };
                let percent = (on_plan * factor).clamp(0.0, 100.0).floor();
                let percent = if percent >= 97.0 { 100.0 } else { percent };
                let pace = rng::uniform(&mut rng, 0.5, 4.0) * if laggard { 0.4 } else { 1.0 };
                (
                    t.clone(),
                    State {
                        percent,
                        blocked: 0,
                        pace,
                    },
                )
            })
            .collect();
        UnitProgress {
            unit,
            tasks,
            silent_weeks: 0,
            rng,
        }
    }

    /// Advances one week and returns the unit's report on it (rows in the task_progress column
    /// order) with the local time it was sent, or `None` when it sends nothing.
    pub fn week(&mut self, week: &Week, to: NaiveDate) -> Option<(Vec<Vec<Value>>, NaiveDateTime)> {
        let rng = &mut self.rng;
        for (_, st) in &mut self.tasks {
            if st.percent >= 100.0 {
                continue;
            }
            if st.blocked > 0 {
                st.blocked -= 1;
            } else if rng::chance(rng, 0.02) {
                st.blocked = rng.random_range(1..=4);
            } else {
                let step = (st.pace * rng::uniform(rng, 0.0, 2.0)).round();
                st.percent = (st.percent + step).min(100.0);
            }
        }
        // Week W's report is due on Friday 17:00 of week W+1 (the pipeline's rule: a period is
        // delivered during the following week); one not yet due when the period ends is not sent.
        let friday = week.monday + Duration::days(11);
        if friday > to {
            return None;
        }
        let (silence, lateness) = reliability(self.unit);
        if self.silent_weeks > 0 {
            self.silent_weeks -= 1;
            return None;
        }
        if rng::chance(rng, silence) {
            self.silent_weeks = rng::pick(rng, &[(0, 0.6), (1, 0.3), (2, 0.1)]);
            return None;
        }
        let at = |d: NaiveDate, h: u32, m: i64| {
            midnight(d) + Duration::hours(h.into()) + Duration::minutes(m)
        };
        let mut delivered = if rng::chance(rng, lateness) {
            // Late, but within the week: Friday evening or over the weekend.
            match rng.random_range(0..3) {
                0 => at(friday, 17, rng.random_range(10..300)),
                n => at(friday + Duration::days(n), 9, rng.random_range(0..600)),
            }
        } else {
            let day = if rng::chance(rng, 0.25) {
                friday - Duration::days(1)
            } else {
                friday
            };
            at(day, 9, rng.random_range(0..475))
        };
        if delivered.date() > to {
            delivered = at(friday, 15, rng.random_range(0..60));
        }
        let reported = delivered.date();
        let period = week.label();
        let rows = self
            .tasks
            .iter()
            .map(|(task, st)| {
                let status = if st.percent >= 100.0 {
                    "已完成"
                } else if st.blocked > 0 {
                    "受阻"
                } else if st.percent <= 0.0 {
                    "未启动"
                } else {
                    "推进中"
                };
                let notes = NOTES
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map_or(&[][..], |(_, n)| *n);
                let note = if notes.is_empty() || (status == "推进中" && rng::chance(rng, 0.3)) {
                    Value::Empty
                } else {
                    Value::Str(rng::one_of(rng, notes))
                };
                vec![
                    Value::Text(task.id.clone()),
                    Value::Str(self.unit),
                    Value::Text(period.clone()),
                    Value::Planned(reported),
                    Value::Str(status),
                    Value::Num(st.percent),
                    note,
                ]
            })
            .collect();
        Some((rows, delivered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_lists_the_plan_tasks() {
        let tasks = registry();
        let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "3.1.1", "3.1.2", "3.1.3", "3.1.4", "3.1.5", "3.2.1", "3.2.2", "3.2.3", "3.2.4",
                "3.2.5", "3.2.6", "4.1", "4.2", "4.3"
            ]
        );
        let units = [
            "commerce",
            "aviation",
            "transport",
            "customs",
            "ciq",
            "border",
            "airport",
            "park",
        ];
        for t in &tasks {
            assert!(t.deadline.is_some(), "{}", t.id);
            assert!(
                t.units.iter().all(|u| units.contains(&u.as_str())),
                "{:?}",
                t.units
            );
            assert!(t.units.iter().any(|u| u == "commerce"));
        }
        // Every unit holds at least one task, so every unit reports.
        for u in units {
            assert!(tasks.iter().any(|t| t.units.iter().any(|x| x == u)), "{u}");
        }
    }

    #[test]
    fn registry_and_notes_are_gbk_text() {
        use crate::demo::sink::gbk_encodable;
        assert!(gbk_encodable(TASK_REGISTRY_CSV));
        for (status, notes) in NOTES {
            assert!(gbk_encodable(status));
            assert!(notes.iter().all(|n| gbk_encodable(n)));
        }
    }

    #[test]
    fn csv_line_split_honours_quotes() {
        assert_eq!(
            split_csv_line("a,\"b,c\",\"d\"\"e\""),
            vec!["a", "b,c", "d\"e"]
        );
    }
}
