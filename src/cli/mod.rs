//! The command line: a thin shell that turns arguments into job calls and results into output.
//!
//! Data goes to stdout, logs and progress to stderr. Errors print as `error:` with `Caused by:`
//! lines; a configuration problem exits with 78 (EX_CONFIG), like vector.

use crate::config::{self, ConfigError, Project};
use crate::jobs::{self, JobError};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod print;

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
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
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
        /// As of this local time, `YYYY-MM-DD HH:MM` (default: now); periods due later are pending
        #[arg(long, value_parser = parse_local_time)]
        at: Option<chrono::NaiveDateTime>,
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

/// `error:` and one `Caused by:` line per cause; a cause whose text an outer message already
/// carries (DataFusion nests its errors that way) is not printed again.
fn print_error(e: &dyn std::error::Error) {
    let texts = jobs::error_texts(e);
    eprintln!("error: {}", texts[0]);
    for t in &texts[1..] {
        eprintln!("  Caused by: {t}");
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

/// `YYYY-MM-DD HH:MM[:SS]` (or with `T`), a wall-clock time in the project's time zone.
fn parse_local_time(s: &str) -> Result<chrono::NaiveDateTime, String> {
    [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
    .ok_or_else(|| format!("`{s}` is not a local time like 2026-12-04 12:40"))
}

/// A local wall-clock time as an instant (the earlier one when a DST change repeats it).
fn local_instant(
    project: &Project,
    t: chrono::NaiveDateTime,
) -> Result<crate::transform::AsOf, String> {
    use chrono::TimeZone;
    project
        .tz
        .from_local_datetime(&t)
        .earliest()
        .map(|x| crate::transform::AsOf::at(project, x.with_timezone(&chrono::Utc)))
        .ok_or_else(|| format!("--at {t}: no such local time in {}", project.tz))
}

/// `sanhu validate`: every problem of every file in one run — TOML, cross-file references,
/// report layouts, sharing filters and every SQL model (planned even when other files have
/// problems, over what did resolve).
async fn validate(root: &Path) -> ExitCode {
    let (project, mut problems) = match config::resolve_all(root) {
        Ok(x) => x,
        Err(e) => {
            print_error(&e);
            eprintln!(
                "hint: run sanhu in a project folder (one with sanhu.toml) or pass --project DIR"
            );
            return ExitCode::from(EX_CONFIG);
        }
    };
    if let Some(project) = &project {
        problems.extend(crate::transform::check_models(project).await);
    }
    problems.sort();
    problems.dedup();
    if problems.is_empty() {
        if let Some(project) = &project {
            println!(
                "ok: {} schemas, {} pipelines, {} models, {} reports",
                project.schemas.len(),
                project.pipelines.len(),
                project.models.len(),
                project.reports.len()
            );
        }
        return ExitCode::SUCCESS;
    }
    for p in &problems {
        eprintln!("error: {p}");
    }
    eprintln!(
        "error: {} configuration problem(s) in {}",
        problems.len(),
        root.display()
    );
    ExitCode::from(EX_CONFIG)
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
    if matches!(cli.command, Command::Validate) {
        return validate(&cli.project).await;
    }
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
    // Commands that write are logged in the run ledger like the daemon's runs.
    let job = match &cli.command {
        Command::Ingest => Some("ingest".to_string()),
        Command::Pull { .. } => Some("pull".into()),
        Command::Build { .. } => Some("build".into()),
        Command::Report { name, .. } => Some(format!("report:{name}")),
        Command::Run { .. } => Some("run".into()),
        Command::Demo { .. } => Some("demo".into()),
        Command::Exchange { .. } => Some("exchange".into()),
        _ => None,
    };
    let manual = job.as_deref().and_then(|job| {
        crate::schedule::ManualRun::start(&project.data_dir(), job)
            .map_err(
                |e| tracing::warn!(job, error = %e, "manual run not recorded in the run ledger"),
            )
            .ok()
    });
    let mut counts = crate::schedule::RunCounts::default();
    let result: Result<(), JobError> = match cli.command {
        // Handled before the project is loaded (it reports a project that does not load).
        Command::Validate => Ok(()),
        Command::Ingest => match jobs::ingest_all(&project, progress) {
            Ok(files) => {
                print::ingest(&files);
                for f in &files {
                    counts.rows_accepted += f.rows_accepted;
                    counts.rows_rejected += f.rows_rejected;
                }
                counts.rows_in = counts.rows_accepted + counts.rows_rejected;
                // Materialise the current state of the tables that changed, so the next query
                // or report does not pay for it.
                jobs::session(&project, crate::transform::AsOf::now(&project))
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
                    print::pulls(&results, format);
                    let failed = results.iter().filter(|r| r.error.is_some()).count();
                    // Refresh the current state of what changed, as `ingest` does.
                    let refreshed = jobs::session(&project, crate::transform::AsOf::now(&project))
                        .await
                        .map(|_| ());
                    match refreshed {
                        Ok(()) if failed > 0 => Err(JobError::Refused(format!(
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
            crate::transform::AsOf::day_or_now(&project, as_of),
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
        Command::Audit { unit, format } => {
            crate::exchange::audit_rows(&project.data_dir(), unit.as_deref())
                .map(|rows| print::audit(&project, &rows, format))
                .map_err(JobError::from)
        }
        Command::Serve {
            schedules,
            poll_ms,
            stable_ms,
        } => serve(project, schedules, poll_ms, stable_ms).await,
        Command::Status { format, at } => {
            let as_of = match at {
                Some(t) => match local_instant(&project, t) {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(2);
                    }
                },
                None => crate::transform::AsOf::now(&project),
            };
            jobs::status::status(&project, as_of)
                .await
                .map(|s| print::status(&project, &s, format))
        }
        Command::User { action } => user(&project, action),
        Command::Explain {
            what,
            uscc,
            as_of,
            format,
        } => {
            if what != "credit" {
                eprintln!("error: unknown explanation `{what}`\nhint: available: credit");
                return ExitCode::from(2);
            }
            let as_of = crate::transform::AsOf::day_or_now(&project, as_of);
            jobs::explain_credit(&project, &uscc, as_of)
                .await
                .map(|x| print::credit(&x, format))
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
    if let Some(run) = manual {
        let outcome = match &result {
            Ok(()) => run.finish(Ok(&counts)),
            Err(e) => run.finish(Err(&jobs::error_chain(e))),
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "manual run outcome not recorded in the run ledger");
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            print_error(&e);
            ExitCode::FAILURE
        }
    }
}

async fn run_and_print(project: &Project, week: &str, progress: bool) -> Result<(), JobError> {
    let s = jobs::run(project, week, progress).await?;
    print::pulls(&s.pulls, OutputFormat::Table);
    print::ingest(&s.files);
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
        baseline: baseline_days(&project.settings.clearance.baseline_period),
    };
    let started = std::time::Instant::now();
    let summary = crate::demo::generate(&inbox, &opts)?;
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

/// The first and last day of a baseline period written `2017` or `2017-06`.
fn baseline_days(period: &str) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
    use chrono::NaiveDate;
    let (y, m) = match period.split_once('-') {
        Some((y, m)) => (y.parse::<i32>().ok()?, Some(m.parse::<u32>().ok()?)),
        None => (period.parse::<i32>().ok()?, None),
    };
    match m {
        None => Some((
            NaiveDate::from_ymd_opt(y, 1, 1)?,
            NaiveDate::from_ymd_opt(y, 12, 31)?,
        )),
        Some(m) => {
            let first = NaiveDate::from_ymd_opt(y, m, 1)?;
            let next = first.checked_add_months(chrono::Months::new(1))?;
            Some((first, next.pred_opt()?))
        }
    }
}

async fn query(project: &Project, sql: &str, format: OutputFormat) -> Result<(), JobError> {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    let (ctx, _lake) = jobs::session(project, crate::transform::AsOf::now(project)).await?;
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    match format {
        OutputFormat::Table => {
            let text = pretty_format_batches(&batches)?;
            writeln!(out, "{text}").map_err(|e| JobError::Io("stdout".into(), e))?;
        }
        OutputFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            for b in &batches {
                w.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(&mut out);
            for b in &batches {
                w.write(b)?;
            }
            w.finish()?;
            writeln!(out).map_err(|e| JobError::Io("stdout".into(), e))?;
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
            return Err(JobError::Refused(format!(
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
    let report = crate::schedule::serve(opts, runner, shutdown).await?;
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
            return Err(JobError::Refused(
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
                return Err(JobError::Refused(format!(
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
