//! Jobs: the stages chained into what the CLI and the scheduler run — ingest, build, report.
//!
//! This is the only place that knows the order of stages; each stage module stays ignorant of
//! the others' callers. Jobs take a loaded [`Project`] and work under its data folder.

pub mod daemon;
pub mod ingest;
pub mod pull;
pub mod receipt;
pub mod status;

use crate::config::Project;
use crate::lake::ledger::Ledger;
use crate::lake::{Lake, LakeError};
use crate::report::{self, Edition};
use crate::transform::{self, AsOf, TransformError};
use datafusion::arrow::record_batch::RecordBatch;
use std::path::PathBuf;

/// A job's failure. The larger causes are boxed so a `Result` stays small on the happy path.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error(transparent)]
    Lake(Box<LakeError>),
    #[error(transparent)]
    Transform(Box<TransformError>),
    #[error(transparent)]
    Report(Box<report::ReportJobError>),
    #[error(transparent)]
    Exchange(Box<crate::exchange::ExchangeError>),
    #[error(transparent)]
    State(Box<crate::state::StateError>),
    #[error(transparent)]
    Account(Box<crate::access::AccountError>),
    #[error(transparent)]
    Schedule(Box<crate::schedule::ScheduleError>),
    #[error(transparent)]
    Demo(Box<crate::demo::DemoError>),
    #[error(transparent)]
    Template(Box<crate::report::template::TemplateError>),
    /// Arrow output (CSV, JSON, tables) of a query result.
    #[error("formatting the result")]
    Arrow(#[source] Box<datafusion::arrow::error::ArrowError>),
    #[error("writing {0}")]
    Workbook(PathBuf, #[source] Box<crate::report::workbook::ReportError>),
    #[error("encoding JSON")]
    Json(#[from] serde_json::Error),
    /// A request that cannot be carried out, with no underlying error (an unknown feed or job,
    /// a bad argument, failed feeds counted); the message says what and why.
    #[error("{0}")]
    Refused(String),
}

/// `From` for the boxed variants, so `?` works as with `#[from]`.
macro_rules! boxed_from {
    ($($variant:ident: $ty:ty),* $(,)?) => {$(
        impl From<$ty> for JobError {
            fn from(e: $ty) -> Self {
                JobError::$variant(Box::new(e))
            }
        }
    )*};
}

boxed_from! {
    Lake: LakeError,
    Transform: TransformError,
    Report: report::ReportJobError,
    Exchange: crate::exchange::ExchangeError,
    State: crate::state::StateError,
    Account: crate::access::AccountError,
    Schedule: crate::schedule::ScheduleError,
    Demo: crate::demo::DemoError,
    Template: crate::report::template::TemplateError,
    Arrow: datafusion::arrow::error::ArrowError,
}

impl From<datafusion::common::DataFusionError> for JobError {
    fn from(e: datafusion::common::DataFusionError) -> Self {
        JobError::Transform(Box::new(TransformError::Query(e)))
    }
}

/// A test hook: with `SANHU_FAILPOINT=<name>` the process stops dead at that point, as a power
/// cut or `kill -9` would, so the tests can check what recovery makes of it. Unset, it costs
/// one environment lookup.
pub(crate) fn failpoint(name: &str) {
    if failpoint_is(name) {
        eprintln!("failpoint {name}: stopping");
        std::process::exit(86);
    }
}

/// Whether the failpoint `name` is set (for hooks that do something else than stop).
pub(crate) fn failpoint_is(name: &str) -> bool {
    // Read once per process: the ingest loop asks once per batch.
    static SET: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    SET.get_or_init(|| std::env::var("SANHU_FAILPOINT").ok())
        .as_deref()
        == Some(name)
}

/// An error and its causes on one line (`a: b: c`), each text once: what the run ledger and
/// the logs keep of a failure.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    error_texts(e).join(": ")
}

/// An error's text and its causes' texts, outermost first, leaving out a cause whose text an
/// outer message already carries (DataFusion nests its errors that way).
pub fn error_texts(e: &dyn std::error::Error) -> Vec<String> {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !t.is_empty() && !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts
}

/// Open the lake and ledger of a project, undoing what an interrupted run left.
pub fn open(project: &Project) -> Result<(Lake, Ledger), JobError> {
    let data = project.data_dir();
    let lake = Lake::new(&data).with_settings(project.settings.lake);
    let ledger = Ledger::open(&data)?;
    ingest::recover(&lake, &ledger, project)?;
    Ok((lake, ledger))
}

/// Ingest every file waiting in the inbox.
pub fn ingest_all(project: &Project, progress: bool) -> Result<Vec<ingest::FileResult>, JobError> {
    let (lake, ledger) = open(project)?;
    ingest::stage_seeds(project, &ledger)?;
    let files = ingest::inbox_files(project);
    let bar = progress_bar(progress, files.len() as u64, "ingest");
    let mut out = Vec::with_capacity(files.len());
    for (unit, path) in files {
        bar.set_message(
            path.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
        );
        out.push(ingest::ingest_file(project, &lake, &ledger, &unit, &path)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

pub fn progress_bar(show: bool, len: u64, what: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {wide_msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// A DataFusion session over the project's lake, ledger and configuration tables.
pub async fn session(
    project: &Project,
    as_of: AsOf,
) -> Result<(datafusion::prelude::SessionContext, Lake), JobError> {
    let (lake, ledger) = open(project)?;
    let ctx = transform::new_context(project);
    transform::register_lake(&ctx, project, &lake).await?;
    transform::register_ledger(&ctx, &ledger)?;
    transform::register_config(&ctx, project, Some(&ledger), as_of)?;
    Ok((ctx, lake))
}

/// Today in the project's time zone.
pub fn today(project: &Project) -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&project.tz).date_naive()
}

/// The as-of date of a week's report: its Sunday.
pub fn week_as_of(project: &Project, week: &str) -> Result<AsOf, JobError> {
    let (monday, _, _) = report::week_bounds(project, week)?;
    Ok(AsOf::end_of_day(
        project,
        monday + chrono::Duration::days(6),
    ))
}

/// Build the models (all, or one and its upstream) as of a date.
pub async fn build(
    project: &Project,
    select: &transform::Selection,
    as_of: AsOf,
) -> Result<Vec<transform::Built>, JobError> {
    let (ctx, lake) = session(project, as_of).await?;
    Ok(transform::build(&ctx, project, &lake, select, as_of).await?)
}

/// Write a report's editions for a week; returns the files written.
pub async fn report(project: &Project, name: &str, week: &str) -> Result<Vec<PathBuf>, JobError> {
    let (ctx, _lake) = session(project, week_as_of(project, week)?).await?;
    let mut out = Vec::new();
    for edition in [Edition::Internal, Edition::Circulated] {
        out.push(report::write_report(&ctx, project, name, week, edition).await?);
    }
    Ok(out)
}

/// Write the exchange packages of `units` (all when empty) for `week`.
pub async fn exchange(
    project: &Project,
    units: &[String],
    week: &str,
    full: bool,
) -> Result<Vec<PathBuf>, JobError> {
    let (ctx, lake) = session(project, week_as_of(project, week)?).await?;
    let out = crate::exchange::exchange(&ctx, project, &lake, units, week, full).await?;
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

/// What `sanhu run` did.
pub struct RunSummary {
    pub pulls: Vec<pull::PullResult>,
    pub files: Vec<ingest::FileResult>,
    pub built: Vec<transform::Built>,
    pub reports: Vec<PathBuf>,
    pub packages: Vec<PathBuf>,
}

/// Ingest, build, and write the weekly report for `week`.
pub async fn run(project: &Project, week: &str, progress: bool) -> Result<RunSummary, JobError> {
    // Database feeds first: a feed that fails is reported and the rest of the run goes on.
    let pulls = pull::pull_all(project, &[], &pull::PullOptions::default()).await?;
    let files = ingest_all(project, progress)?;
    // Build, reports and packages share one session: they see the lake as of the same day, and
    // registering years of delivery files (and their current states) once is enough.
    let as_of = week_as_of(project, week)?;
    let (ctx, lake) = session(project, as_of).await?;
    let built = transform::build(&ctx, project, &lake, &transform::Selection::all(), as_of).await?;
    let mut reports = Vec::new();
    for r in &project.reports {
        for edition in [Edition::Internal, Edition::Circulated] {
            reports.push(report::write_report(&ctx, project, &r.name, week, edition).await?);
        }
    }
    let packages = if project.grants.is_empty() {
        Vec::new()
    } else {
        crate::exchange::exchange(&ctx, project, &lake, &[], week, false)
            .await?
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    };
    Ok(RunSummary {
        pulls,
        files,
        built,
        reports,
        packages,
    })
}

/// Write a unit's progress-report template with its tasks from the lake's registry.
pub async fn template(
    project: &Project,
    unit: &str,
    week: &str,
    out: Option<PathBuf>,
) -> Result<PathBuf, JobError> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Date32Type;
    let today = today(project);
    let (ctx, _lake) = session(project, AsOf::end_of_day(project, today)).await?;
    let sql = format!(
        "SELECT task_id, title, deadline FROM task_registry WHERE array_has(string_to_array(units, ';'), '{}') ORDER BY task_id",
        unit.replace('\'', "")
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let mut tasks = Vec::new();
    for b in &batches {
        let ids = b.column(0).as_string::<i32>();
        let titles = b.column(1).as_string::<i32>();
        let deadlines = b.column(2).as_primitive::<Date32Type>();
        for i in 0..b.num_rows() {
            tasks.push(report::template::TemplateTask {
                task_id: ids.value(i).to_string(),
                title: titles.value(i).to_string(),
                deadline: if deadlines.is_null(i) {
                    None
                } else {
                    deadlines.value_as_date(i)
                },
            });
        }
    }
    let path = out.unwrap_or_else(|| {
        project
            .data_dir()
            .join("templates")
            .join(unit)
            .join(format!("任务进展_{unit}_{week}.xlsx"))
    });
    report::template::write_template(project, unit, week, today, &tasks, &path)?;
    Ok(path)
}

/// An enterprise's composite score as `sanhu explain credit` shows it: the library row and every
/// piece of evidence, values as the models give them (text, ready to print or render).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CreditExplanation {
    pub uscc: String,
    pub name: String,
    pub official_category: String,
    pub score: String,
    pub grade: String,
    pub hard_trigger: bool,
    pub rule_set_version: String,
    pub rating_basis: String,
    pub as_of: chrono::NaiveDate,
    pub declarations_12m: String,
    pub value_12m_cny: String,
    pub penalties_12m: String,
    pub tax_overdue_days: String,
    pub evidence: Vec<CreditEvidence>,
}

/// One deduction or trigger behind a score.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CreditEvidence {
    pub rule_id: String,
    pub points: String,
    pub hard_trigger: bool,
    pub title: String,
    pub source_table: String,
    pub source_key: String,
    pub event_date: String,
    /// None: counts until repaired.
    pub counts_until: Option<String>,
}

/// An enterprise's composite score as of a date, with every deduction and its evidence.
pub async fn explain_credit(
    project: &Project,
    uscc: &str,
    as_of: AsOf,
) -> Result<CreditExplanation, JobError> {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    let (ctx, _lake) = session(project, as_of).await?;
    transform::build_in_memory(&ctx, project, "credit_library", as_of).await?;
    let key = uscc.replace('\'', "");
    let lib = ctx
        .sql(&format!("SELECT name, official_category, score, grade, hard_trigger, rule_set_version, rating_basis, declarations_12m, value_12m_cny, penalties_12m, tax_overdue_days FROM credit_library WHERE uscc = '{key}'"))
        .await?
        .collect()
        .await?;
    let ev = ctx
        .sql(&format!("SELECT rule_id, points, hard_trigger, title, source_table, source_key, event_date, counts_until FROM credit_evidence WHERE uscc = '{key}' ORDER BY rule_id, source_key"))
        .await?
        .collect()
        .await?;
    let cell = |b: &RecordBatch, c: usize, r: usize| -> String {
        let opts = FormatOptions::default().with_null("");
        ArrayFormatter::try_new(b.column(c).as_ref(), &opts)
            .map(|f| f.value(r).to_string())
            .unwrap_or_default()
    };
    let Some(b) = lib.iter().find(|b| b.num_rows() > 0) else {
        return Err(JobError::Refused(format!(
            "enterprise {uscc} is not in the enterprise registry (table enterprise)"
        )));
    };
    let mut evidence = Vec::new();
    for b in &ev {
        for r in 0..b.num_rows() {
            let until = cell(b, 7, r);
            evidence.push(CreditEvidence {
                rule_id: cell(b, 0, r),
                points: cell(b, 1, r),
                hard_trigger: cell(b, 2, r) == "true",
                title: cell(b, 3, r),
                source_table: cell(b, 4, r),
                source_key: cell(b, 5, r),
                event_date: cell(b, 6, r),
                counts_until: (!until.starts_with("9999")).then_some(until),
            });
        }
    }
    Ok(CreditExplanation {
        uscc: uscc.to_string(),
        name: cell(b, 0, 0),
        official_category: cell(b, 1, 0),
        score: cell(b, 2, 0),
        grade: cell(b, 3, 0),
        hard_trigger: cell(b, 4, 0) == "true",
        rule_set_version: cell(b, 5, 0),
        rating_basis: cell(b, 6, 0),
        as_of: as_of.day,
        declarations_12m: cell(b, 7, 0),
        value_12m_cny: cell(b, 8, 0),
        penalties_12m: cell(b, 9, 0),
        tax_overdue_days: cell(b, 10, 0),
        evidence,
    })
}
