//! Configuration: the project folder read into typed, cross-checked specs before any data moves.
//!
//! Loading has two phases, as in vector: `spec` parses each file on its own (TOML syntax, unknown
//! keys, value types), then `resolve` checks the files against each other (a pipeline's table has
//! a schema, a unit code exists, a row check names real columns). Every problem from both phases
//! is collected with its `file:line:col`, so one `sanhu validate` shows them all. This module
//! imports no stage: stages depend on it, never the reverse.

pub mod credit;
pub mod sharing;
pub mod spec;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use globset::{Glob, GlobSet, GlobSetBuilder};
use spec::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Lineage columns every lake table of a feed carries, so a row can be traced to its delivery.
pub const LINEAGE_DELIVERY: &str = "_delivery";
pub const LINEAGE_FILE: &str = "_source_file";
pub const LINEAGE_ROW: &str = "_source_row";

/// One configuration problem, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.col,
                self.message
            )
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{} configuration problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    #[error("cannot read project at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Text of a config file, kept to turn byte spans into line and column.
#[derive(Debug, Clone)]
pub struct SourceText {
    pub path: PathBuf,
    pub text: String,
}

impl SourceText {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        line_col(&self.text, offset)
    }
    pub fn problem(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> Problem {
        let (line, col) = if span.start == 0 && span.end == 0 {
            (0, 0)
        } else {
            self.line_col(span.start)
        };
        Problem {
            file: self.path.clone(),
            line,
            col,
            message: message.into(),
        }
    }
}

pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

#[derive(Debug, Clone)]
pub struct Unit {
    pub code: String,
    pub name: String,
    pub short: String,
    /// Receives the internal edition (restricted columns included).
    pub internal_edition: bool,
}

/// Who receives which edition of the scheduled reports in their outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub unit: String,
    pub edition: spec::Edition,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub title: String,
    pub ty: ColumnType,
    pub required: bool,
    pub check: Option<CodeCheck>,
    pub on_invalid: OnInvalid,
    pub aliases: Vec<String>,
    pub values: Vec<String>,
    pub map: BTreeMap<String, String>,
    pub classification: Classification,
    pub restricted_to: Vec<String>,
    pub in_key: bool,
}

impl Column {
    pub fn data_type(&self) -> DataType {
        match self.ty {
            ColumnType::String => DataType::Utf8,
            ColumnType::Int => DataType::Int64,
            ColumnType::Float => DataType::Float64,
            ColumnType::Decimal => DataType::Decimal128(18, 2),
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Date => DataType::Date32,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RowCheck {
    pub kind: RowCheckKind,
    pub column: usize,
    pub other: usize,
    pub reason: String,
}

/// A canonical table, resolved.
#[derive(Debug, Clone)]
pub struct Schema {
    pub name: String,
    pub title: String,
    pub key: Vec<usize>,
    pub columns: Vec<Column>,
    pub row_checks: Vec<RowCheck>,
    /// How deliveries of this table combine.
    pub mode: DeliveryMode,
    /// The period a `replace_period` delivery replaces.
    pub period: Option<Period>,
    pub file: PathBuf,
}

impl Schema {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
    /// Columns that hold no value twice in one delivery or in the current state: the key, when
    /// it is one column (each column of a composite key may repeat).
    pub fn distinct_columns(&self) -> Vec<String> {
        match self.key.as_slice() {
            [k] => vec![self.columns[*k].name.clone()],
            _ => Vec::new(),
        }
    }
    /// The Arrow schema of the table's lake files: canonical columns then lineage.
    pub fn lake_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.data_type(), true))
            .collect();
        fields.push(Field::new(LINEAGE_DELIVERY, DataType::Int64, false));
        fields.push(Field::new(LINEAGE_FILE, DataType::Utf8, false));
        fields.push(Field::new(LINEAGE_ROW, DataType::Int64, false));
        Arc::new(ArrowSchema::new(fields))
    }
}

/// When a feed's delivery is due (信息报告制度).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation {
    pub weekday: Weekday,
    pub time: NaiveTime,
}

/// The period of a `replace_period` table: `column` at `grain`, within the `per` columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub column: String,
    pub ty: ColumnType,
    pub grain: PeriodGrain,
    pub per: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub feed: String,
    /// None: every unit delivers this feed.
    pub unit: Option<String>,
    pub table: String,
    pub title: String,
    pub mode: DeliveryMode,
    /// With `replace_period`: how a row's period is found.
    pub period: Option<Period>,
    pub patterns: Vec<String>,
    pub matcher: GlobSet,
    pub expect: Option<Expectation>,
    /// None: a file source (the inbox).
    pub database: Option<DbSource>,
    pub file: PathBuf,
}

/// Which database server a pulled feed comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }
}

/// What a database feed reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    Table(String),
    Query(String),
}

/// A feed pulled from an agency's database (`[source] kind = "postgres"` or `"mysql"`).
#[derive(Debug, Clone)]
pub struct DbSource {
    pub engine: Engine,
    pub connection_env: String,
    pub relation: Relation,
    /// None: a full pull each time.
    pub watermark: Option<String>,
    pub schedule: Option<String>,
    pub retries: u32,
    pub backoff: std::time::Duration,
    pub sslmode: Option<String>,
}

impl Pipeline {
    pub fn accepts_unit(&self, unit: &str) -> bool {
        self.unit.as_deref().is_none_or(|u| u == unit)
    }
    pub fn matches_name(&self, file_name: &str) -> bool {
        self.matcher.is_match(file_name)
    }
}

/// A SQL model under `queries/`: the file stem is the table it builds.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub sql: String,
    pub file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub name: String,
    pub spec: ReportFile,
    pub source: SourceText,
}

/// The whole project, loaded and resolved.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub settings: ProjectFile,
    pub tz: Tz,
    pub units: Vec<Unit>,
    pub schemas: BTreeMap<String, Schema>,
    pub pipelines: Vec<Pipeline>,
    pub models: Vec<Model>,
    pub reports: Vec<Report>,
    pub credit: Option<credit::CreditRules>,
    /// The sharing matrix, expanded per unit and table.
    pub grants: Vec<sharing::Grant>,
    /// Who receives which edition of the scheduled reports (defaults from the units).
    pub recipients: Vec<Recipient>,
    pub settings_file: PathBuf,
}

impl Project {
    pub fn data_dir(&self) -> PathBuf {
        self.root.join(&self.settings.project.data_dir)
    }
    pub fn unit(&self, code: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.code == code)
    }
    pub fn pipelines_for_table<'a>(
        &'a self,
        table: &'a str,
    ) -> impl Iterator<Item = &'a Pipeline> + 'a {
        self.pipelines.iter().filter(move |p| p.table == table)
    }
    pub fn report(&self, name: &str) -> Option<&Report> {
        self.reports.iter().find(|r| r.name == name)
    }
    /// How deliveries of a table combine: its schema's `mode`.
    pub fn table_mode(&self, table: &str) -> DeliveryMode {
        self.schemas
            .get(table)
            .map_or(DeliveryMode::Append, |s| s.mode)
    }
    /// The period rule of a `replace_period` table.
    pub fn table_period(&self, table: &str) -> Option<&Period> {
        self.schemas.get(table).and_then(|s| s.period.as_ref())
    }
    pub fn limits(&self) -> &IntakeLimits {
        &self.settings.intake
    }
}

/// Check a pipeline's `[source]`: which keys go with which kind, and how a database pull
/// combines with the table's delivery mode.
fn resolve_source(
    src: &SourceText,
    file: &PipelineFile,
    mode: DeliveryMode,
    problems: &mut Vec<Problem>,
) -> Option<DbSource> {
    let s = &file.source;
    let engine = match s.kind.get_ref().as_str() {
        "file" => None,
        "postgres" | "postgresql" => Some(Engine::Postgres),
        "mysql" | "mariadb" => Some(Engine::Mysql),
        other => {
            problems.push(src.problem(
                s.kind.span(),
                format!("unknown source kind `{other}` (use file, postgres or mysql)"),
            ));
            return None;
        }
    };
    let db_keys = [
        (
            "connection_env",
            s.connection_env.as_ref().map(|v| v.span()),
        ),
        ("table", s.table.as_ref().map(|v| v.span())),
        ("query", s.query.as_ref().map(|v| v.span())),
        ("pull", s.pull.as_ref().map(|v| v.span())),
        ("watermark", s.watermark.as_ref().map(|v| v.span())),
        ("schedule", s.schedule.as_ref().map(|v| v.span())),
        ("sslmode", s.sslmode.as_ref().map(|v| v.span())),
    ];
    let Some(engine) = engine else {
        for (key, span) in db_keys {
            if let Some(span) = span {
                problems.push(src.problem(
                    span,
                    format!("`{key}` is for database sources; this feed's source is `file`"),
                ));
            }
        }
        return None;
    };
    let before = problems.len();
    if !s.patterns.is_empty() {
        problems.push(src.problem(
            s.kind.span(),
            "`patterns` is for file sources; a database feed names its `table` or `query`",
        ));
    }
    if file.unit.get_ref() == "*" {
        problems.push(src.problem(
            file.unit.span(),
            "a database feed belongs to one unit: name it instead of `*`",
        ));
    }
    let connection_env = match &s.connection_env {
        Some(v) if is_env_name(v.get_ref()) => v.get_ref().clone(),
        Some(v) => {
            problems.push(src.problem(
                v.span(),
                format!(
                    "`connection_env = \"{}\"` must name an environment variable (A-Z, 0-9, _), \
                     not hold the connection itself",
                    v.get_ref()
                ),
            ));
            String::new()
        }
        None => {
            problems.push(src.problem(
                s.kind.span(),
                "a database source needs `connection_env`, the environment variable holding its URL",
            ));
            String::new()
        }
    };
    let relation = match (&s.table, &s.query) {
        (Some(t), None) => {
            if !is_relation_name(t.get_ref()) {
                problems.push(src.problem(
                    t.span(),
                    format!(
                        "`table = \"{}\"`: expected `table` or `schema.table` (letters, digits, _); \
                         use `query` for anything else",
                        t.get_ref()
                    ),
                ));
            }
            Relation::Table(t.get_ref().clone())
        }
        (None, Some(q)) => {
            if q.get_ref().contains(';') {
                problems.push(src.problem(q.span(), "`query` must be one statement, without `;`"));
            }
            Relation::Query(q.get_ref().trim().to_string())
        }
        (Some(t), Some(_)) => {
            problems.push(src.problem(t.span(), "give either `table` or `query`, not both"));
            Relation::Table(t.get_ref().clone())
        }
        (None, None) => {
            problems.push(src.problem(s.kind.span(), "a database source needs `table` or `query`"));
            Relation::Table(String::new())
        }
    };
    let full = match s.pull.as_ref().map(|p| p.get_ref().as_str()) {
        None | Some("incremental") => false,
        Some("full") => true,
        Some(other) => {
            problems.push(src.problem(
                s.pull.as_ref().map(|p| p.span()).unwrap_or(0..0),
                format!("`pull = \"{other}\"`: use incremental or full"),
            ));
            false
        }
    };
    let watermark = match (&s.watermark, full) {
        (Some(w), false) => {
            if !is_column_name(w.get_ref()) {
                problems.push(src.problem(
                    w.span(),
                    format!("`watermark = \"{}\"` is not a column name", w.get_ref()),
                ));
            }
            Some(w.get_ref().clone())
        }
        (None, false) => {
            problems.push(src.problem(
                s.kind.span(),
                "an incremental pull needs `watermark`, a column that only grows \
                 (an update time or an increasing id); or set `pull = \"full\"`",
            ));
            None
        }
        (Some(w), true) => {
            problems.push(src.problem(w.span(), "`watermark` has no use with `pull = \"full\"`"));
            None
        }
        (None, true) => None,
    };
    // How pulled rows combine with the lake: a full pull is the whole table, so earlier pulls
    // must give way; an incremental pull holds only changed rows, so it must not wipe the rest.
    let table = file.table.get_ref();
    match (full, mode) {
        (true, DeliveryMode::ReplaceAll) => {}
        (true, m) => problems.push(src.problem(
            s.pull.as_ref().map(|p| p.span()).unwrap_or(s.kind.span()),
            format!("`pull = \"full\"` reads the whole table each time: give table `{table}` `mode = \"replace_all\"` in its schema (it has `{}`)", m.as_str()),
        )),
        (false, DeliveryMode::Append | DeliveryMode::Upsert) => {}
        (false, m) => problems.push(src.problem(
            s.kind.span(),
            format!("an incremental pull brings only changed rows: give table `{table}` `mode = \"upsert\"` or `\"append\"` in its schema (it has `{}`), or use `pull = \"full\"`", m.as_str()),
        )),
    }
    let sslmode = s.sslmode.as_ref().and_then(|m| {
        let ok: &[&str] = match engine {
            Engine::Postgres => &["disable", "prefer", "require"],
            Engine::Mysql => &["disabled", "preferred", "required"],
        };
        if ok.contains(&m.get_ref().as_str()) {
            Some(m.get_ref().clone())
        } else {
            problems.push(src.problem(
                m.span(),
                format!(
                    "`sslmode = \"{}\"`: use one of {}",
                    m.get_ref(),
                    ok.join(", ")
                ),
            ));
            None
        }
    });
    let backoff = s.backoff_secs.unwrap_or(2.0);
    if !(0.0..=3600.0).contains(&backoff) {
        problems.push(src.problem(
            s.kind.span(),
            format!("`backoff_secs = {backoff}`: expected 0 to 3600 seconds"),
        ));
    }
    if problems.len() > before {
        return None;
    }
    Some(DbSource {
        engine,
        connection_env,
        relation,
        watermark,
        schedule: s.schedule.as_ref().map(|c| c.get_ref().clone()),
        retries: s.retries.unwrap_or(3).min(20),
        backoff: std::time::Duration::from_secs_f64(backoff.clamp(0.0, 3600.0)),
        sslmode,
    })
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn is_column_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn is_relation_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() <= 2 && parts.iter().all(|p| is_column_name(p))
}

/// Check a schema's `[period]` against its mode and its columns.
fn resolve_period(
    src: &SourceText,
    file: &SchemaFile,
    schema: &Schema,
    problems: &mut Vec<Problem>,
) -> Option<Period> {
    let spec = match (&file.period, *file.mode.get_ref()) {
        (None, DeliveryMode::ReplacePeriod) => {
            problems.push(src.problem(
                file.mode.span(),
                "`mode = \"replace_period\"` needs a `[period]` table naming the period column",
            ));
            return None;
        }
        (None, _) => return None,
        (Some(spec), DeliveryMode::ReplacePeriod) => spec,
        (Some(spec), mode) => {
            problems.push(src.problem(
                spec.column.span(),
                format!(
                    "`[period]` only applies to `mode = \"replace_period\"` (this table is `{}`)",
                    mode.as_str()
                ),
            ));
            return None;
        }
    };
    let mut ok = true;
    let ty = match schema.column_index(spec.column.get_ref()) {
        Some(i) => schema.columns[i].ty,
        None => {
            problems.push(src.problem(
                spec.column.span(),
                format!(
                    "table `{}` has no column `{}`",
                    schema.name,
                    spec.column.get_ref()
                ),
            ));
            return None;
        }
    };
    let grain = *spec.grain.get_ref();
    if grain != PeriodGrain::Value && !matches!(ty, ColumnType::Date | ColumnType::Timestamp) {
        problems.push(src.problem(
            spec.grain.span(),
            format!(
                "grain `{}` needs a date or timestamp column; `{}` is `{}` (use grain = \"value\")",
                grain.as_str(),
                spec.column.get_ref(),
                ty.as_str()
            ),
        ));
        ok = false;
    }
    for c in &spec.per {
        if schema.column_index(c.get_ref()).is_none() {
            problems.push(src.problem(
                c.span(),
                format!("table `{}` has no column `{}`", schema.name, c.get_ref()),
            ));
            ok = false;
        }
    }
    ok.then(|| Period {
        column: spec.column.get_ref().clone(),
        ty,
        grain,
        per: spec.per.iter().map(|c| c.get_ref().clone()).collect(),
    })
}

/// Read every config file under `root` and resolve them against each other.
pub fn load(root: &Path) -> Result<Project, ConfigError> {
    match resolve_all(root)? {
        (Some(project), problems) if problems.is_empty() => Ok(project),
        (_, problems) => Err(ConfigError::Invalid(problems)),
    }
}

/// Load what resolves and collect every problem instead of stopping at the first file that has
/// one: `sanhu validate` then plans the SQL of a project with problems too, so one run reports
/// all of them. None only when `sanhu.toml` itself does not parse.
pub fn resolve_all(root: &Path) -> Result<(Option<Project>, Vec<Problem>), ConfigError> {
    let mut problems = Vec::new();
    let settings_file = root.join("sanhu.toml");
    let settings_src = read_source(&settings_file)?;
    let settings: Option<ProjectFile> = parse(&settings_src, &mut problems);

    let schema_srcs = read_dir_sources(&root.join("schemas"), "toml")?;
    let pipeline_srcs = read_dir_sources(&root.join("pipelines"), "toml")?;
    let report_srcs = read_dir_sources(&root.join("reports"), "toml")?;
    let model_srcs = read_dir_sources(&root.join("queries"), "sql")?;

    let Some(settings) = settings else {
        return Ok((None, problems));
    };

    // Units.
    let mut units = Vec::new();
    let mut seen_units = BTreeSet::new();
    for u in &settings.units {
        if !seen_units.insert(u.code.get_ref().clone()) {
            problems.push(settings_src.problem(
                u.code.span(),
                format!("unit `{}` is declared twice", u.code.get_ref()),
            ));
        }
        units.push(Unit {
            code: u.code.get_ref().clone(),
            name: u.name.clone(),
            short: u.short.clone(),
            internal_edition: u.internal_edition,
        });
    }
    let unit_codes: BTreeSet<&str> = units.iter().map(|u| u.code.as_str()).collect();

    let tz: Tz = match settings.project.timezone.get_ref().parse() {
        Ok(tz) => tz,
        Err(_) => {
            problems.push(settings_src.problem(
                settings.project.timezone.span(),
                format!(
                    "unknown time zone `{}` (use an IANA name such as Asia/Shanghai)",
                    settings.project.timezone.get_ref()
                ),
            ));
            chrono_tz::Asia::Shanghai
        }
    };
    // Recipients default from the units: the internal edition to units marked for it, the
    // circulated one to every other unit. A `[[recipients]]` list replaces that default.
    let mut recipients = Vec::new();
    if settings.recipients.is_empty() {
        for u in &units {
            recipients.push(Recipient {
                unit: u.code.clone(),
                edition: if u.internal_edition {
                    spec::Edition::Internal
                } else {
                    spec::Edition::Circulated
                },
            });
        }
    }
    let mut seen_recipients = BTreeSet::new();
    for r in &settings.recipients {
        let code = r.unit.get_ref().as_str();
        let Some(unit) = units.iter().find(|u| u.code == code) else {
            problems.push(
                settings_src.problem(r.unit.span(), format!("recipient: unknown unit `{code}`")),
            );
            continue;
        };
        if !seen_recipients.insert(code) {
            problems.push(settings_src.problem(
                r.unit.span(),
                format!("recipient `{code}` is listed twice: give each unit one edition"),
            ));
        }
        let edition = *r.edition.get_ref();
        if edition == spec::Edition::Internal && !unit.internal_edition {
            // The internal edition holds restricted columns (DOMAIN: conditional sharing).
            problems.push(settings_src.problem(
                r.edition.span(),
                format!(
                    "recipient `{code}`: the internal edition holds restricted columns; only a unit with `internal_edition = true` receives it"
                ),
            ));
        }
        recipients.push(Recipient {
            unit: code.to_string(),
            edition,
        });
    }
    for seed in &settings.seeds {
        if !unit_codes.contains(seed.unit.get_ref().as_str()) {
            problems.push(settings_src.problem(
                seed.unit.span(),
                format!("unknown unit `{}`", seed.unit.get_ref()),
            ));
        }
        if !root.join(seed.file.get_ref()).is_file() {
            problems.push(settings_src.problem(
                seed.file.span(),
                format!("seed file `{}` does not exist", seed.file.get_ref()),
            ));
        }
    }

    // Schemas.
    let mut schemas = BTreeMap::new();
    for src in &schema_srcs {
        let Some(file) = parse::<SchemaFile>(src, &mut problems) else {
            continue;
        };
        if let Some(schema) = resolve_schema(src, file, &unit_codes, &mut problems) {
            if schemas.contains_key(&schema.name) {
                problems.push(src.problem(
                    0..0,
                    format!(
                        "table `{}` is declared by another schema file too",
                        schema.name
                    ),
                ));
            } else {
                schemas.insert(schema.name.clone(), schema);
            }
        }
    }

    // Pipelines.
    let mut pipelines: Vec<Pipeline> = Vec::new();
    for src in &pipeline_srcs {
        let Some(file) = parse::<PipelineFile>(src, &mut problems) else {
            continue;
        };
        let feed = file.feed.get_ref().clone();
        if pipelines.iter().any(|p| p.feed == feed) {
            problems
                .push(src.problem(file.feed.span(), format!("feed `{feed}` is declared twice")));
        }
        let unit = match file.unit.get_ref().as_str() {
            "*" => None,
            u if unit_codes.contains(u) => Some(u.to_string()),
            u => {
                problems.push(src.problem(
                    file.unit.span(),
                    format!("unknown unit `{u}` (units are declared in sanhu.toml)"),
                ));
                None
            }
        };
        if !schemas.contains_key(file.table.get_ref()) {
            problems.push(src.problem(
                file.table.span(),
                format!("table `{}` has no schema in schemas/", file.table.get_ref()),
            ));
        }
        let table_schema = schemas.get(file.table.get_ref());
        let mode = table_schema.map_or(DeliveryMode::default(), |s| s.mode);
        for (key, v) in [("mode", &file.mode), ("[period]", &file.period)] {
            if let Some(v) = v {
                problems.push(src.problem(
                    v.span(),
                    format!(
                        "`{key}` is declared once per table now, in schemas/{}.toml (every feed of a table delivers the same way): move it there",
                        file.table.get_ref()
                    ),
                ));
            }
        }
        let database = resolve_source(src, &file, mode, &mut problems);
        let patterns = &file.source.patterns;
        let mut builder = GlobSetBuilder::new();
        for p in patterns {
            match Glob::new(p.get_ref()) {
                Ok(g) => {
                    builder.add(g);
                }
                Err(e) => problems.push(
                    src.problem(p.span(), format!("bad file pattern `{}`: {e}", p.get_ref())),
                ),
            }
        }
        let matcher = builder.build().unwrap_or_else(|_| GlobSet::empty());
        let expect = file.expect.as_ref().and_then(|e| {
            if e.every.get_ref() != "weekly" {
                problems.push(src.problem(
                    e.every.span(),
                    format!(
                        "`every = \"{}\"`: only \"weekly\" is supported",
                        e.every.get_ref()
                    ),
                ));
            }
            match parse_due(e.due.get_ref()) {
                Some(x) => Some(x),
                None => {
                    problems.push(src.problem(
                        e.due.span(),
                        format!(
                            "`due = \"{}\"`: expected a weekday and time such as \"Mon 10:00\"",
                            e.due.get_ref()
                        ),
                    ));
                    None
                }
            }
        });
        let period = table_schema.and_then(|s| s.period.clone());
        pipelines.push(Pipeline {
            feed,
            unit,
            table: file.table.get_ref().clone(),
            title: file.title.clone(),
            mode,
            period,
            patterns: patterns.iter().map(|p| p.get_ref().clone()).collect(),
            matcher,
            expect,
            database,
            file: src.path.clone(),
        });
    }
    // Models.
    let mut models = Vec::new();
    for src in &model_srcs {
        let name = src
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if schemas.contains_key(&name) {
            problems.push(src.problem(
                0..0,
                format!("model `{name}` has the name of a canonical table"),
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            problems.push(src.problem(
                0..0,
                format!("model name `{name}`: use lower-case letters, digits and _ only"),
            ));
        }
        models.push(Model {
            name,
            sql: src.text.clone(),
            file: src.path.clone(),
        });
    }

    // The credit rule set compiles into a model of its own.
    let credit_path = root.join(credit::RULES_FILE);
    let credit = if credit_path.is_file() {
        let src = read_source(&credit_path)?;
        parse::<credit::CreditRules>(&src, &mut problems).inspect(|rules| {
            models.push(credit::resolve(&src, rules, &mut problems));
        })
    } else {
        None
    };

    // The sharing matrix.
    let sharing_path = root.join(sharing::SHARING_FILE);
    let grants = if sharing_path.is_file() {
        let src = read_source(&sharing_path)?;
        let codes: Vec<String> = units.iter().map(|u| u.code.clone()).collect();
        let model_names: BTreeSet<String> = models.iter().map(|m| m.name.clone()).collect();
        parse::<sharing::SharingFile>(&src, &mut problems)
            .map(|f| sharing::resolve(&src, &f, &codes, &schemas, &model_names, &mut problems))
            .unwrap_or_default()
    } else {
        Vec::new()
    };

    // Reports.
    let mut reports = Vec::new();
    for src in &report_srcs {
        let Some(file) = parse::<ReportFile>(src, &mut problems) else {
            continue;
        };
        let name = file.report.get_ref().clone();
        // The single-brace placeholders of earlier releases: one syntax now, the models' `{{…}}`.
        let mut old_syntax = |span: std::ops::Range<usize>| {
            let text = src.text.get(span.clone()).unwrap_or("");
            for name in ["week", "week_start", "week_end", "edition"] {
                let old = format!("{{{name}}}");
                let mut from = 0;
                while let Some(i) = text[from..].find(&old) {
                    let at = from + i;
                    from = at + old.len();
                    let doubled = text[..at].ends_with('{') || text[from..].starts_with('}');
                    if !doubled {
                        problems.push(src.problem(
                            span.start + at..span.start + from,
                            format!(
                                "`{old}` is written `{{{{{name}}}}}` now (one placeholder syntax for reports and models)"
                            ),
                        ));
                    }
                }
            }
        };
        old_syntax(file.file_name.span());
        for sheet in &file.sheets {
            old_syntax(sheet.sql.span());
        }
        for sheet in &file.sheets {
            let Some(chart) = &sheet.chart else { continue };
            let fields: Vec<&str> = sheet
                .columns
                .iter()
                .map(|c| c.field.get_ref().as_str())
                .collect();
            for f in std::iter::once(&chart.category).chain(&chart.values) {
                if !fields.contains(&f.get_ref().as_str()) {
                    problems.push(src.problem(
                        f.span(),
                        format!(
                            "sheet `{}`: chart column `{}` is not one of the sheet's columns ({})",
                            sheet.name,
                            f.get_ref(),
                            fields.join(", ")
                        ),
                    ));
                }
            }
        }
        reports.push(Report {
            name,
            spec: file,
            source: src.clone(),
        });
    }

    problems.sort();
    problems.dedup();
    let project = Project {
        root: root.to_path_buf(),
        settings,
        tz,
        units,
        schemas,
        pipelines,
        models,
        reports,
        credit,
        grants,
        recipients,
        settings_file,
    };
    Ok((Some(project), problems))
}

fn resolve_schema(
    src: &SourceText,
    file: SchemaFile,
    unit_codes: &BTreeSet<&str>,
    problems: &mut Vec<Problem>,
) -> Option<Schema> {
    let name = file.table.get_ref().clone();
    let stem = src
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if stem != name {
        problems.push(src.problem(
            file.table.span(),
            format!("table `{name}` is declared in `{stem}.toml`: name the file after the table"),
        ));
    }
    let mut names = BTreeSet::new();
    for c in &file.columns {
        let n = c.name.get_ref();
        if n.starts_with('_') {
            problems.push(src.problem(
                c.name.span(),
                format!("column `{n}`: names starting with _ are reserved for lineage"),
            ));
        }
        if !names.insert(n.clone()) {
            problems.push(src.problem(c.name.span(), format!("column `{n}` is declared twice")));
        }
        for r in &c.restricted_to {
            if !unit_codes.contains(r.get_ref().as_str()) {
                problems.push(src.problem(
                    r.span(),
                    format!("unknown unit `{}` in restricted_to", r.get_ref()),
                ));
            }
        }
        if !c.restricted_to.is_empty() && c.classification != Classification::Restricted {
            problems.push(src.problem(
                c.name.span(),
                format!("column `{n}` names restricted_to units but is not classified restricted"),
            ));
        }
        for v in c.map.values() {
            if !c.values.is_empty() && !c.values.contains(v) {
                problems.push(src.problem(
                    c.name.span(),
                    format!("column `{n}`: map target `{v}` is not among its values"),
                ));
            }
        }
    }
    let mut key = Vec::new();
    for k in file.key.get_ref() {
        match file.columns.iter().position(|c| c.name.get_ref() == k) {
            Some(i) => key.push(i),
            None => problems.push(src.problem(
                file.key.span(),
                format!("key column `{k}` is not a column of `{name}`"),
            )),
        }
    }
    if key.is_empty() {
        problems.push(src.problem(file.key.span(), "a table needs a key"));
    }
    let columns: Vec<Column> = file
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let in_key = key.contains(&i);
            let on_invalid =
                c.on_invalid
                    .unwrap_or(if in_key || c.check != Some(CodeCheck::Uscc) {
                        OnInvalid::Reject
                    } else {
                        OnInvalid::Warn
                    });
            Column {
                name: c.name.get_ref().clone(),
                title: c.title.clone(),
                ty: c.ty,
                // A key column is always required: a row without its key cannot be placed.
                required: c.required || in_key,
                check: c.check,
                on_invalid,
                aliases: c.aliases.clone(),
                values: c.values.clone(),
                map: c.map.clone(),
                classification: c.classification,
                restricted_to: c
                    .restricted_to
                    .iter()
                    .map(|r| r.get_ref().clone())
                    .collect(),
                in_key,
            }
        })
        .collect();
    let mut row_checks = Vec::new();
    for rc in &file.row_checks {
        let col = file
            .columns
            .iter()
            .position(|c| c.name.get_ref() == rc.column.get_ref());
        let other = file
            .columns
            .iter()
            .position(|c| c.name.get_ref() == rc.other.get_ref());
        match (col, other) {
            (Some(a), Some(b)) => {
                if columns[a].ty != columns[b].ty
                    || !matches!(columns[a].ty, ColumnType::Date | ColumnType::Timestamp)
                {
                    problems.push(src.problem(
                        rc.column.span(),
                        "not_before compares two date or two timestamp columns",
                    ));
                }
                row_checks.push(RowCheck {
                    kind: rc.kind,
                    column: a,
                    other: b,
                    reason: rc.reason.clone(),
                })
            }
            (None, _) => problems.push(src.problem(
                rc.column.span(),
                format!("row check names unknown column `{}`", rc.column.get_ref()),
            )),
            (_, None) => problems.push(src.problem(
                rc.other.span(),
                format!("row check names unknown column `{}`", rc.other.get_ref()),
            )),
        }
    }
    let mut schema = Schema {
        name,
        title: file.title.clone(),
        key,
        columns,
        row_checks,
        mode: *file.mode.get_ref(),
        period: None,
        file: src.path.clone(),
    };
    schema.period = resolve_period(src, &file, &schema, problems);
    Some(schema)
}

fn parse_due(s: &str) -> Option<Expectation> {
    let mut parts = s.split_whitespace();
    let weekday: Weekday = parts.next()?.parse().ok()?;
    let time = NaiveTime::parse_from_str(parts.next()?, "%H:%M").ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some(Expectation { weekday, time })
}

fn parse<T: serde::de::DeserializeOwned>(
    src: &SourceText,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    match toml::from_str::<T>(&src.text) {
        Ok(v) => Some(v),
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let (line, col) = if span == (0..0) {
                (1, 1)
            } else {
                src.line_col(span.start)
            };
            let message = e.message().trim().to_string();
            problems.push(Problem {
                file: src.path.clone(),
                line,
                col,
                message,
            });
            None
        }
    }
}

fn read_source(path: &Path) -> Result<SourceText, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(SourceText {
        path: path.to_path_buf(),
        text,
    })
}

/// Every `*.ext` file in `dir`, sorted by name; a missing folder is an empty project part.
fn read_dir_sources(dir: &Path, ext: &str) -> Result<Vec<SourceText>, ConfigError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ConfigError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some(ext))
        .collect();
    paths.sort();
    paths.iter().map(|p| read_source(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let text = "a = 1\n名称 = \"x\"\n";
        let off = text.find('=').unwrap();
        assert_eq!(line_col(text, off), (1, 3));
        let off2 = text.rfind('=').unwrap();
        assert_eq!(line_col(text, off2), (2, 4));
    }

    #[test]
    fn due_parses_weekday_and_time() {
        assert_eq!(
            parse_due("Mon 10:00"),
            Some(Expectation {
                weekday: Weekday::Mon,
                time: NaiveTime::from_hms_opt(10, 0, 0).unwrap()
            })
        );
        assert_eq!(parse_due("Monday"), None);
        assert_eq!(parse_due("Xyz 10:00"), None);
    }

    #[test]
    fn bundled_project_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let p = load(root).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.units.len(), 8);
        assert!(p.schemas.contains_key("customs_declaration"));
        let decl = &p.schemas["customs_declaration"];
        let entry = &decl.columns[decl.key[0]];
        assert_eq!(entry.name, "entry_id");
        assert!(entry.required);
        let consignee = &decl.columns[decl.column_index("consignee_uscc").unwrap()];
        assert_eq!(consignee.on_invalid, OnInvalid::Warn);
    }

    /// The bundled project in a temp dir with one extra pipeline file.
    fn with_pipeline(name: &str, text: &str) -> (tempfile::TempDir, Result<Project, ConfigError>) {
        let dir = project_copy();
        std::fs::write(dir.path().join("pipelines").join(name), text).unwrap();
        let r = load(dir.path());
        (dir, r)
    }

    /// The bundled project's files in a temp dir.
    fn project_copy() -> tempfile::TempDir {
        fn copy(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).unwrap();
            for e in std::fs::read_dir(from).unwrap().flatten() {
                if e.path().is_dir() {
                    copy(&e.path(), &to.join(e.file_name()));
                } else {
                    std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        for f in ["sanhu.toml", "credit_rules.toml", "sharing.toml"] {
            std::fs::copy(root.join(f), dir.path().join(f)).unwrap();
        }
        for d in ["schemas", "pipelines", "queries", "reports", "seed"] {
            copy(&root.join(d), &dir.path().join(d));
        }
        dir
    }

    #[test]
    fn lake_compression_is_read_and_mistakes_name_their_line() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let bundled = std::fs::read_to_string(root.join("sanhu.toml")).unwrap();
        let with = |lake: &str| {
            let dir = project_copy();
            let text = bundled.replace("compression = \"zstd\"\nzstd_level = 1\n", lake);
            assert_ne!(text, bundled, "the bundled [lake] section moved");
            std::fs::write(dir.path().join("sanhu.toml"), &text).unwrap();
            let line = text
                .lines()
                .position(|l| l.starts_with(lake.lines().next().unwrap()))
                .unwrap()
                + 1;
            (load(dir.path()), line)
        };
        let (p, _) = with("compression = \"snappy\"\n");
        let lake = p.unwrap_or_else(|e| panic!("{e}")).settings.lake;
        assert_eq!(lake.compression, spec::CompressionName::Snappy);
        assert_eq!(lake.zstd_level, 1);
        let (p, line) = with("zstd_level = 0\n");
        let Err(e) = p else {
            panic!("level 0 is refused")
        };
        let e = e.to_string();
        assert!(e.contains(&format!("sanhu.toml:{line}")), "{e}");
        assert!(e.contains("zstd_level must be 1 to 22, not 0"), "{e}");
        let (p, line) = with("compression = \"gzip\"\n");
        let Err(e) = p else { panic!("gzip is refused") };
        let e = e.to_string();
        assert!(e.contains(&format!("sanhu.toml:{line}")), "{e}");
        assert!(e.contains("gzip"), "{e}");
    }

    const DB_HEAD: &str =
        "feed = \"x_db\"\nunit = \"customs\"\ntable = \"tax_arrears\"\ntitle = \"x\"\n";

    #[test]
    fn database_sources_resolve() {
        let (_d, p) = with_pipeline(
            "x_db.toml",
            &format!(
                "{DB_HEAD}[source]\nkind = \"mysql\"\nconnection_env = \"TAX_DB\"\nquery = \"SELECT * FROM qs\"\nwatermark = \"id\"\nschedule = \"0 */5 * * * *\"\nretries = 1\nbackoff_secs = 0.5\n"
            ),
        );
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        let f = p.pipelines.iter().find(|f| f.feed == "x_db").unwrap();
        let db = f.database.as_ref().unwrap();
        assert_eq!(db.engine, Engine::Mysql);
        assert_eq!(db.connection_env, "TAX_DB");
        assert_eq!(db.relation, Relation::Query("SELECT * FROM qs".into()));
        assert_eq!(db.watermark.as_deref(), Some("id"));
        assert_eq!(db.schedule.as_deref(), Some("0 */5 * * * *"));
        assert_eq!((db.retries, db.backoff.as_millis()), (1, 500));
        assert!(
            p.pipelines
                .iter()
                .filter(|f| f.feed != "x_db")
                .all(|f| f.database.is_none())
        );
    }

    #[test]
    fn database_source_mistakes_are_named_with_their_line() {
        let cases = [
            // incremental without a watermark
            (
                "[source]\nkind = \"postgres\"\nconnection_env = \"A\"\ntable = \"t\"\n",
                (6, "an incremental pull needs `watermark`"),
            ),
            // both table and query
            (
                "[source]\nkind = \"postgres\"\nconnection_env = \"A\"\ntable = \"t\"\nquery = \"SELECT 1\"\nwatermark = \"w\"\n",
                (8, "give either `table` or `query`, not both"),
            ),
            // an incremental pull must not replace the table (task_registry is replace_all)
            (
                "[source]\nkind = \"postgres\"\nconnection_env = \"A\"\ntable = \"t\"\nwatermark = \"w\"\n",
                (6, "an incremental pull brings only changed rows"),
            ),
            // a file source with a database key
            (
                "[source]\nkind = \"file\"\ntable = \"t\"\n",
                (7, "`table` is for database sources"),
            ),
            (
                "[source]\nkind = \"mysql\"\nconnection_env = \"A\"\ntable = \"a.b.c\"\nwatermark = \"w\"\nsslmode = \"prefer\"\n",
                (8, "expected `table` or `schema.table`"),
            ),
            (
                "[source]\nkind = \"oracle\"\n",
                (6, "unknown source kind `oracle`"),
            ),
        ];
        for (body, (line, msg)) in cases {
            let head = if msg.contains("only changed rows") {
                DB_HEAD
                    .replace("tax_arrears", "task_registry")
                    .replace("customs", "commerce")
            } else {
                DB_HEAD.to_string()
            };
            let (_d, r) = with_pipeline("x_db.toml", &format!("{head}{body}"));
            let Err(ConfigError::Invalid(problems)) = r else {
                panic!("accepted: {body}")
            };
            assert!(
                problems
                    .iter()
                    .any(|p| p.line == line && p.message.contains(msg)),
                "{body}\n{problems:?}"
            );
        }
        // The sslmode of the wrong dialect is named too.
        let (_d, r) = with_pipeline(
            "x_db.toml",
            &format!(
                "{DB_HEAD}[source]\nkind = \"mysql\"\nconnection_env = \"A\"\ntable = \"t\"\nwatermark = \"w\"\nsslmode = \"prefer\"\n"
            ),
        );
        let Err(ConfigError::Invalid(problems)) = r else {
            panic!()
        };
        assert!(
            problems.iter().any(|p| p.line == 10
                && p.message
                    .contains("use one of disabled, preferred, required")),
            "{problems:?}"
        );
    }

    #[test]
    fn unknown_key_is_reported_with_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sanhu.toml"),
            "[project]\nname = \"x\"\nnmae = 1\n",
        )
        .unwrap();
        let err = load(dir.path()).unwrap_err();
        let ConfigError::Invalid(problems) = err else {
            panic!()
        };
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 3);
        assert!(
            problems[0].message.contains("nmae"),
            "{}",
            problems[0].message
        );
    }
}
