//! The command line: a thin shell that turns arguments into job calls and results into output.
//!
//! Data goes to stdout, logs and progress to stderr. Errors print as `error:` with `Caused by:`
//! lines; a configuration problem exits with 78 (EX_CONFIG), like vector.

use crate::config::{self, ConfigError, Project};
use crate::jobs::{self, JobError};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "sanhu",
    version,
    about = "三互 data exchange: agency drops → validated Parquet lake → SQL models → weekly workbooks"
)]
pub struct Cli {
    /// Project folder (holds sanhu.toml)
    #[arg(long, global = true, default_value = ".", env = "SANHU_PROJECT")]
    pub project: PathBuf,
    /// Hide progress bars
    #[arg(long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check all configuration offline: TOML, cross-file references, and that every SQL plans
    Validate,
    /// Ingest every new file in data/inbox/<unit>/
    Ingest,
    /// Pull the database feeds (postgres/mysql sources) past their watermarks into the lake
    Pull {
        /// Only this feed (repeatable; default: every database feed)
        #[arg(long = "feed")]
        feeds: Vec<String>,
        /// Backfill: read from this watermark value (inclusive) instead of the committed one
        #[arg(long, conflicts_with = "full")]
        since: Option<String>,
        /// Read the whole table or query, whatever the watermark
        #[arg(long)]
        full: bool,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Run the SQL models in queries/ in dependency order
    Build {
        /// Build only these models (comma-separated) and what they depend on
        #[arg(long, value_delimiter = ',')]
        select: Vec<String>,
        /// With --select: build just the selected models, reading the models they depend on as
        /// last built (those must have been built, for the same --as-of)
        #[arg(long, requires = "select")]
        only: bool,
        /// Compute as of this date: later events are not seen (default: today)
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
    },
    /// Write a report's workbooks (internal and circulated editions)
    Report {
        /// Report name (a file under reports/)
        name: String,
        /// ISO week such as 2026-W47 (default: the last complete week)
        #[arg(long)]
        week: Option<String>,
    },
    /// Run SQL over every lake table
    Query {
        /// The SQL (put `--` before it if it starts with a `--` comment)
        sql: String,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Ingest, build and write the reports, in one go
    Run {
        #[arg(long)]
        week: Option<String>,
    },
    /// Write each unit's exchange package (信息互换) into data/outbox/<unit>/<week>/
    Exchange {
        /// Only this unit (default: every unit)
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        week: Option<String>,
        /// A complete package instead of rows new since the unit's last one
        #[arg(long)]
        full: bool,
    },
    /// Explain a result: `explain credit <USCC>` prints the score with every deduction and its evidence
    Explain {
        /// What to explain (credit)
        what: String,
        /// The enterprise's 统一社会信用代码
        uscc: String,
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
    },
    /// Print the exchange audit log: who received which table, how many rows, when, under which rule
    Audit {
        #[arg(long)]
        unit: Option<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Run as a daemon: report schedules (cron, local time), file-arrival ingest, retries, run ledger
    Serve {
        /// Extra or overriding schedule, JOB=CRON (6 fields with seconds), e.g. "build=0 0 2 * * *"
        #[arg(long = "schedule")]
        schedules: Vec<String>,
        /// How often the inbox is listed, in milliseconds
        #[arg(long, default_value_t = 1000)]
        poll_ms: u64,
        /// How long a file must stay unchanged before it is ingested, in milliseconds
        #[arg(long, default_value_t = 2000)]
        stable_ms: u64,
    },
    /// What sanhu knows: feeds' last deliveries, recent runs, lake tables, quarantine
    Status {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Write a fill-in template for a unit (task_progress: its tasks pre-filled, drop-down lists)
    Template {
        /// Which template (only task_progress for now)
        kind: String,
        #[arg(long)]
        unit: String,
        /// ISO week being reported (default: this week)
        #[arg(long)]
        week: Option<String>,
        /// Output file (default: data/templates/<unit>/任务进展_<unit>_<week>.xlsx)
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Manage the accounts of the portal and the SQL endpoint (passwords are read from the
    /// terminal without echo, or as one line from stdin when it is not a terminal)
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Write realistic synthetic drops for every feed, then run everything
    Demo {
        /// First day of data (default: 13 weeks before --to)
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day of data (default: the Sunday of the last complete week)
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// Thousands of customs declarations over the period
        #[arg(long, default_value_t = 5)]
        scale: u32,
        /// Only write the drops, do not run
        #[arg(long)]
        no_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Add an account acting for one unit in one role
    Add {
        /// Login name (letters, digits, `.`, `_`, `-`; starting with a letter)
        name: String,
        /// The unit the account acts for (a code from sanhu.toml)
        #[arg(long)]
        unit: String,
        /// clerk, analyst, office or admin
        #[arg(long)]
        role: crate::access::Role,
    },
    /// Set a new password for an account
    Passwd { name: String },
    /// Disable an account: it can no longer log in to the portal or the SQL endpoint
    Disable {
        name: String,
        /// Enable the account again instead
        #[arg(long)]
        enable: bool,
    },
    /// List the accounts
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

const EX_CONFIG: u8 = 78;

fn print_error(e: &dyn std::error::Error) {
    eprintln!("error: {e}");
    let mut src = e.source();
    while let Some(s) = src {
        eprintln!("  Caused by: {s}");
        src = s.source();
    }
}

fn load(root: &Path) -> Result<Project, ExitCode> {
    config::load(root).map_err(|e| {
        match &e {
            ConfigError::Invalid(problems) => {
                for p in problems {
                    eprintln!("error: {p}");
                }
                eprintln!("error: {} configuration problem(s) in {}", problems.len(), root.display());
            }
            ConfigError::Io { .. } => {
                print_error(&e);
                eprintln!("hint: run sanhu in a project folder (one with sanhu.toml) or pass --project DIR");
            }
        }
        ExitCode::from(EX_CONFIG)
    })
}

fn today_local(project: &Project) -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&project.tz).date_naive()
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("SANHU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            print_error(&e);
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> ExitCode {
    let progress = !cli.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let project = match load(&cli.project) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // One writer at a time: commands that write the lake wait for a running `serve` or run.
    let writes = matches!(
        cli.command,
        Command::Ingest
            | Command::Pull { .. }
            | Command::Build { .. }
            | Command::Report { .. }
            | Command::Run { .. }
            | Command::Demo { .. }
            | Command::Exchange { .. }
    );
    let _lock = if writes {
        match crate::schedule::acquire_lock(&project.data_dir(), true) {
            Ok(l) => Some(l),
            Err(e) => {
                print_error(&e);
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let result: Result<(), JobError> = match cli.command {
        Command::Validate => {
            let problems = crate::transform::check_models(&project).await;
            if problems.is_empty() {
                println!(
                    "ok: {} schemas, {} pipelines, {} models, {} reports",
                    project.schemas.len(),
                    project.pipelines.len(),
                    project.models.len(),
                    project.reports.len()
                );
                Ok(())
            } else {
                for p in &problems {
                    eprintln!("error: {p}");
                }
                eprintln!("error: {} configuration problem(s)", problems.len());
                return ExitCode::from(EX_CONFIG);
            }
        }
        Command::Ingest => match jobs::ingest_all(&project, progress) {
            Ok(files) => {
                print_ingest(&files);
                // Materialise the current state of the tables that changed, so the next query
                // or report does not pay for it.
                jobs::session(&project, crate::transform::AsOf(jobs::today(&project)))
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        },
        Command::Pull {
            feeds,
            since,
            full,
            format,
        } => {
            let opts = jobs::pull::PullOptions { since, full };
            match jobs::pull::pull_all(&project, &feeds, &opts).await {
                Ok(results) => {
                    print_pulls(&results, format);
                    let failed = results.iter().filter(|r| r.error.is_some()).count();
                    // Refresh the current state of what changed, as `ingest` does.
                    let refreshed =
                        jobs::session(&project, crate::transform::AsOf(jobs::today(&project)))
                            .await
                            .map(|_| ());
                    match refreshed {
                        Ok(()) if failed > 0 => Err(JobError::Other(format!(
                            "{failed} of {} database feed(s) failed",
                            results.len()
                        ))),
                        other => other,
                    }
                }
                Err(e) => Err(e),
            }
        }
        Command::Build {
            select,
            only,
            as_of,
        } => jobs::build(
            &project,
            &crate::transform::Selection {
                models: select,
                only,
            },
            crate::transform::AsOf(as_of.unwrap_or_else(|| jobs::today(&project))),
        )
        .await
        .map(|built| {
            for b in &built {
                println!(
                    "built {:<28} {:>10} rows  {:>6} ms",
                    b.model, b.rows, b.millis
                );
            }
        }),
        Command::Report { name, week } => {
            let week =
                week.unwrap_or_else(|| crate::report::last_complete_week(today_local(&project)));
            jobs::report(&project, &name, &week).await.map(|paths| {
                for p in paths {
                    println!("{}", p.display());
                }
            })
        }
        Command::Query { sql, format } => query(&project, &sql, format).await,
        Command::Exchange { unit, week, full } => {
            let week =
                week.unwrap_or_else(|| crate::report::last_complete_week(today_local(&project)));
            jobs::exchange(&project, &unit.into_iter().collect::<Vec<_>>(), &week, full)
                .await
                .map(|paths| {
                    for p in paths {
                        println!("{}", p.display());
                    }
                })
        }
        Command::Audit { unit, format } => audit(&project, unit.as_deref(), format),
        Command::Serve {
            schedules,
            poll_ms,
            stable_ms,
        } => serve(project, schedules, poll_ms, stable_ms).await,
        Command::Status { format } => status(&project, format).await,
        Command::User { action } => user(&project, action),
        Command::Explain { what, uscc, as_of } => {
            if what != "credit" {
                eprintln!("error: unknown explanation `{what}`\nhint: available: credit");
                return ExitCode::from(2);
            }
            let as_of = crate::transform::AsOf(as_of.unwrap_or_else(|| jobs::today(&project)));
            jobs::explain_credit(&project, &uscc, as_of)
                .await
                .map(|text| print!("{text}"))
        }
        Command::Template {
            kind,
            unit,
            week,
            out,
        } => {
            if kind != "task_progress" {
                eprintln!("error: unknown template `{kind}`\nhint: available: task_progress");
                return ExitCode::from(2);
            }
            let week = week
                .unwrap_or_else(|| crate::transform::functions::iso_week_of(today_local(&project)));
            jobs::template(&project, &unit, &week, out)
                .await
                .map(|p| println!("{}", p.display()))
        }
        Command::Run { week } => {
            let week =
                week.unwrap_or_else(|| crate::report::last_complete_week(today_local(&project)));
            run_and_print(&project, &week, progress).await
        }
        Command::Demo {
            from,
            to,
            scale,
            no_run,
        } => {
            let to = to.unwrap_or_else(|| {
                let w = crate::report::last_complete_week(today_local(&project));
                let (monday, _, _) = crate::report::week_bounds(&project, &w).expect("valid week");
                monday + chrono::Duration::days(6)
            });
            let from = from.unwrap_or(to - chrono::Duration::days(7 * 13 - 1));
            demo(&project, from, to, scale, no_run, progress).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            print_error(&e);
            ExitCode::FAILURE
        }
    }
}

fn print_ingest(files: &[jobs::ingest::FileResult]) {
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
fn print_pulls(results: &[jobs::pull::PullResult], format: OutputFormat) {
    if matches!(format, OutputFormat::Json) {
        println!(
            "{}",
            serde_json::to_string_pretty(results).unwrap_or_default()
        );
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

async fn run_and_print(project: &Project, week: &str, progress: bool) -> Result<(), JobError> {
    let s = jobs::run(project, week, progress).await?;
    print_pulls(&s.pulls, OutputFormat::Table);
    print_ingest(&s.files);
    println!("built {} model(s)", s.built.len());
    for r in &s.reports {
        println!("report: {}", r.display());
    }
    if !s.packages.is_empty() {
        println!(
            "exchange: {} unit package(s) under {}",
            s.packages.len(),
            project.data_dir().join("outbox").display()
        );
    }
    Ok(())
}

async fn demo(
    project: &Project,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    scale: u32,
    no_run: bool,
    progress: bool,
) -> Result<(), JobError> {
    let inbox = project.data_dir().join("inbox");
    let opts = crate::demo::DemoOptions {
        from,
        to,
        scale,
        seed: 20_160_520,
    };
    let started = std::time::Instant::now();
    let summary =
        crate::demo::generate(&inbox, &opts).map_err(|e| JobError::Other(e.to_string()))?;
    eprintln!(
        "demo: wrote {} file(s), {} declarations, {} rows ({} planted bad rows) into {} in {:.1}s",
        summary.files.len(),
        summary.declarations,
        summary.rows_written,
        summary.bad_rows_planted,
        inbox.display(),
        started.elapsed().as_secs_f64()
    );
    if no_run {
        return Ok(());
    }
    let week = crate::transform::functions::iso_week_of(to);
    run_and_print(project, &week, progress).await
}

async fn query(project: &Project, sql: &str, format: OutputFormat) -> Result<(), JobError> {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    let (ctx, _lake) = jobs::session(project, crate::transform::AsOf(jobs::today(project))).await?;
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    match format {
        OutputFormat::Table => {
            let text =
                pretty_format_batches(&batches).map_err(|e| JobError::Other(e.to_string()))?;
            writeln!(out, "{text}").map_err(|e| JobError::Io("stdout".into(), e))?;
        }
        OutputFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            for b in &batches {
                w.write(b).map_err(|e| JobError::Other(e.to_string()))?;
            }
        }
        OutputFormat::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(&mut out);
            for b in &batches {
                w.write(b).map_err(|e| JobError::Other(e.to_string()))?;
            }
            w.finish().map_err(|e| JobError::Other(e.to_string()))?;
            writeln!(out).map_err(|e| JobError::Io("stdout".into(), e))?;
        }
    }
    Ok(())
}

fn audit(project: &Project, unit: Option<&str>, format: OutputFormat) -> Result<(), JobError> {
    let rows = crate::exchange::audit_rows(&project.data_dir(), unit)?;
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        ),
        OutputFormat::Csv => {
            println!("id,unit,week,table,rows,mode,created_at,rule");
            for r in &rows {
                println!(
                    "{},{},{},{},{},{},{},{}",
                    r.id, r.unit, r.week, r.table, r.rows, r.mode, r.created_at, r.rule
                );
            }
        }
        OutputFormat::Table => {
            println!(
                "{:>5}  {:<10} {:<9} {:<24} {:>9}  {:<11} {:<26} rule",
                "id", "unit", "week", "table", "rows", "mode", "at"
            );
            for r in &rows {
                println!(
                    "{:>5}  {:<10} {:<9} {:<24} {:>9}  {:<11} {:<26} {}",
                    r.id, r.unit, r.week, r.table, r.rows, r.mode, r.created_at, r.rule
                );
            }
        }
    }
    Ok(())
}

async fn serve(
    project: Project,
    extra: Vec<String>,
    poll_ms: u64,
    stable_ms: u64,
) -> Result<(), JobError> {
    use crate::schedule::{Schedule, ServeOptions};
    let mut schedules: Vec<Schedule> = project
        .reports
        .iter()
        .filter_map(|r| {
            r.spec.schedule.as_ref().map(|c| Schedule {
                job: format!("report:{}", r.name),
                cron: c.get_ref().clone(),
            })
        })
        .collect();
    // Database feeds with their own `[source] schedule` are pulled on it.
    schedules.extend(project.pipelines.iter().filter_map(|p| {
        let db = p.database.as_ref()?;
        db.schedule.as_ref().map(|c| Schedule {
            job: format!("pull:{}", p.feed),
            cron: c.clone(),
        })
    }));
    for s in extra {
        let Some((job, cron)) = s.split_once('=') else {
            return Err(JobError::Other(format!(
                "--schedule `{s}`: expected JOB=CRON"
            )));
        };
        schedules.retain(|x| x.job != job);
        schedules.push(Schedule {
            job: job.to_string(),
            cron: cron.to_string(),
        });
    }
    let mut opts = ServeOptions::new(project.data_dir(), project.tz, schedules);
    opts.inbox_poll = std::time::Duration::from_millis(poll_ms.max(50));
    opts.stable_for = std::time::Duration::from_millis(stable_ms);
    let data = project.data_dir();
    std::fs::create_dir_all(data.join("inbox")).map_err(|e| JobError::Io(data.clone(), e))?;
    // Recover what an interrupted run left before the first job.
    jobs::open(&project)?;
    let runner = std::sync::Arc::new(jobs::daemon::ProjectRunner {
        project,
        handle: tokio::runtime::Handle::current(),
    });
    let shutdown = async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("stop requested: finishing the step in progress");
    };
    tracing::info!(data = %data.display(), "sanhu serve started");
    let report = crate::schedule::serve(opts, runner, shutdown)
        .await
        .map_err(|e| JobError::Other(e.to_string()))?;
    eprintln!(
        "stopped: {} job(s) ok, {} failed; {} file(s) ingested, {} failed; {} retries, {} catch-up(s)",
        report.jobs_ok,
        report.jobs_failed,
        report.files_ok,
        report.files_failed,
        report.retries,
        report.catch_ups
    );
    Ok(())
}

async fn status(project: &Project, format: OutputFormat) -> Result<(), JobError> {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    let as_of = crate::transform::AsOf(jobs::today(project));
    let (ctx, lake) = jobs::session(project, as_of).await?;
    crate::transform::build_in_memory(&ctx, project, "feed_timeliness", as_of).await?;
    let feeds = ctx
        .sql(
            "WITH last AS (SELECT unit, feed, max(file_mtime) AS last_delivery, count(*) AS files FROM deliveries WHERE status = 'ingested' GROUP BY unit, feed), \
             t AS (SELECT unit, feed, period, timeliness, row_number() OVER (PARTITION BY unit, feed ORDER BY period DESC) AS rn FROM feed_timeliness) \
             SELECT d.unit, d.feed, l.last_delivery, coalesce(l.files, 0) AS files, t.period AS last_period, t.timeliness \
             FROM (SELECT DISTINCT unit, feed FROM feed_due) d \
             LEFT JOIN last l ON l.unit = d.unit AND l.feed = d.feed \
             LEFT JOIN t ON t.unit = d.unit AND t.feed = d.feed AND t.rn = 1 ORDER BY d.unit, d.feed",
        )
        .await?
        .collect()
        .await?;
    let quarantine = ctx
        .sql("SELECT (SELECT count(*) FROM deliveries WHERE status = 'quarantined') AS files_quarantined, (SELECT count(*) FROM (SELECT DISTINCT delivery, row FROM quarantine WHERE severity = '拒收')) AS rows_rejected, (SELECT count(*) FROM (SELECT DISTINCT delivery, row FROM quarantine WHERE severity = '警告')) AS rows_warned")
        .await?
        .collect()
        .await?;
    let mut tables = Vec::new();
    for t in lake.tables() {
        let files = lake.files(&t);
        let freshest = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok()?.modified().ok())
            .max();
        let rows = match ctx
            .sql(&format!(
                "SELECT count(*) AS n FROM \"{}\"",
                if project.schemas.contains_key(&t) {
                    format!("{t}_history")
                } else {
                    t.clone()
                }
            ))
            .await
        {
            Ok(df) => df
                .collect()
                .await
                .ok()
                .and_then(|b| {
                    b.first().map(|b| {
                        datafusion::arrow::array::AsArray::as_primitive::<
                            datafusion::arrow::datatypes::Int64Type,
                        >(b.column(0))
                        .value(0)
                    })
                })
                .unwrap_or(0),
            Err(_) => 0,
        };
        let at = freshest
            .map(|t| {
                chrono::DateTime::<chrono::Utc>::from(t)
                    .with_timezone(&project.tz)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        tables.push((t, files.len(), rows, at));
    }
    let runs = crate::schedule::last_runs(&project.data_dir(), 10)
        .map_err(|e| JobError::Other(e.to_string()))?;
    let mut pulls = crate::lake::ledger::Ledger::open(&project.data_dir())?.pull_status()?;
    for p in &mut pulls {
        if let (Some(k), Some(v)) = (&p.watermark_kind, &p.watermark) {
            p.watermark = Some(crate::intake::database::show_mark(k, v));
        }
    }
    match format {
        OutputFormat::Json => {
            let to_json =
                |b: &[datafusion::arrow::record_batch::RecordBatch]| -> serde_json::Value {
                    let mut w = datafusion::arrow::json::ArrayWriter::new(Vec::new());
                    for x in b {
                        let _ = w.write(x);
                    }
                    let _ = w.finish();
                    serde_json::from_slice(&w.into_inner())
                        .unwrap_or(serde_json::Value::Array(vec![]))
                };
            let v = serde_json::json!({
                "feeds": to_json(&feeds),
                "quarantine": to_json(&quarantine),
                "tables": tables.iter().map(|(t, f, r, a)| serde_json::json!({"table": t, "files": f, "rows": r, "updated_at": a})).collect::<Vec<_>>(),
                "runs": runs,
                "database_feeds": pulls,
            });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        _ => {
            println!(
                "feeds:\n{}",
                pretty_format_batches(&feeds).map_err(|e| JobError::Other(e.to_string()))?
            );
            println!(
                "quarantine:\n{}",
                pretty_format_batches(&quarantine).map_err(|e| JobError::Other(e.to_string()))?
            );
            println!("lake tables:");
            for (t, f, r, a) in &tables {
                println!("  {t:<28} {r:>10} rows in {f:>4} file(s), updated {a}");
            }
            if !pulls.is_empty() {
                println!("database feeds:");
                for p in &pulls {
                    println!(
                        "  {:<24} {} {:<11} {:>9} rows  watermark {}{}",
                        p.feed,
                        p.last_pull,
                        p.status,
                        p.rows_read,
                        p.watermark.as_deref().unwrap_or("-"),
                        p.error
                            .as_ref()
                            .map(|e| format!("  error: {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            println!("recent runs:");
            for r in &runs {
                println!("  {}", serde_json::to_string(r).unwrap_or_default());
            }
        }
    }
    Ok(())
}

/// A password from the terminal (asked twice, without echo), or one line of stdin.
fn read_password(prompt: &str) -> Result<secrecy::SecretString, JobError> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = rpassword::prompt_password(format!("{prompt}: "))
            .map_err(|e| JobError::Io("terminal".into(), e))?;
        let again = rpassword::prompt_password("again: ")
            .map_err(|e| JobError::Io("terminal".into(), e))?;
        if first != again {
            return Err(JobError::Other(
                "the two passwords differ; nothing changed".into(),
            ));
        }
        return Ok(first.into());
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| JobError::Io("stdin".into(), e))?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    Ok(line.to_string().into())
}

fn user(project: &Project, action: UserAction) -> Result<(), JobError> {
    use crate::access::Accounts;
    let db = crate::state::Db::open(&project.data_dir())?;
    let accounts = Accounts::new(&db);
    match action {
        UserAction::Add { name, unit, role } => {
            if project.unit(&unit).is_none() {
                let known: Vec<&str> = project.units.iter().map(|u| u.code.as_str()).collect();
                return Err(JobError::Other(format!(
                    "unknown unit `{unit}` (units in sanhu.toml: {})",
                    known.join(", ")
                )));
            }
            let password = read_password(&format!("password for {name}"))?;
            let a = accounts.add(&name, &unit, role, &password)?;
            println!("added {} ({}, {})", a.name, a.unit, a.role);
        }
        UserAction::Passwd { name } => {
            if accounts.get(&name)?.is_none() {
                return Err(crate::access::AccountError::NoSuchAccount(name).into());
            }
            let password = read_password(&format!("new password for {name}"))?;
            accounts.set_password(&name, &password)?;
            println!("password changed for {name}");
        }
        UserAction::Disable { name, enable } => {
            accounts.set_disabled(&name, !enable)?;
            println!("{} {name}", if enable { "enabled" } else { "disabled" });
        }
        UserAction::List { format } => {
            let list = accounts.list()?;
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                ),
                OutputFormat::Csv => {
                    println!("name,unit,role,status,created_at,password_changed_at");
                    for a in &list {
                        println!(
                            "{},{},{},{},{},{}",
                            a.name,
                            a.unit,
                            a.role,
                            if a.disabled { "disabled" } else { "active" },
                            a.created_at,
                            a.password_changed_at
                        );
                    }
                }
                OutputFormat::Table => {
                    println!(
                        "{:<20} {:<10} {:<8} {:<9} {:<20} password changed",
                        "name", "unit", "role", "status", "created"
                    );
                    for a in &list {
                        println!(
                            "{:<20} {:<10} {:<8} {:<9} {:<20} {}",
                            a.name,
                            a.unit,
                            a.role,
                            if a.disabled { "disabled" } else { "active" },
                            a.created_at,
                            a.password_changed_at
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
