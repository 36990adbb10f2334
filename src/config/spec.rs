//! The typed form of every configuration file, exactly as written on disk.
//!
//! These structs are the first phase of loading (parse): serde turns each TOML file into one of
//! them, rejecting unknown keys so a misspelt key is an error with its line, not a silent default.
//! The second phase (`super::resolve`) checks the files against each other.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// `sanhu.toml`: project-wide settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    pub project: ProjectSection,
    #[serde(default)]
    pub intake: IntakeLimits,
    #[serde(default)]
    pub clearance: ClearanceSettings,
    #[serde(default)]
    pub exchange: ExchangeSettings,
    #[serde(default)]
    pub lake: LakeSettings,
    #[serde(default)]
    pub units: Vec<UnitSpec>,
    #[serde(default)]
    pub seeds: Vec<SeedSpec>,
    /// Who gets which edition of the scheduled reports in their outbox.
    #[serde(default)]
    pub recipients: Vec<RecipientSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientSpec {
    pub unit: Spanned<String>,
    /// `internal` (restricted columns included) or `circulated`.
    pub edition: Spanned<Edition>,
}

/// A report's edition (DOMAIN: conditional sharing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Edition {
    /// 内部版: restricted columns included; only for units with `internal_edition = true`.
    Internal,
    /// 通报版: circulated to every unit, no restricted column.
    Circulated,
}

impl Edition {
    pub fn code(self) -> &'static str {
        match self {
            Edition::Internal => "internal",
            Edition::Circulated => "circulated",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Edition::Internal => "内部版（含受限信息，仅限市商务局）",
            Edition::Circulated => "通报版（不含受限信息）",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    pub name: String,
    #[serde(default = "default_tz")]
    pub timezone: Spanned<String>,
    #[serde(default = "default_data_dir")]
    pub data_dir: String,
    /// Memory for queries, in MiB: sorts, windows and grouped aggregations past it spill to the
    /// OS temp folder instead of growing. None: unbounded.
    #[serde(default)]
    pub memory_limit_mib: Option<u64>,
}

fn default_tz() -> Spanned<String> {
    Spanned::new(0..0, "Asia/Shanghai".to_string())
}
fn default_data_dir() -> String {
    "data".to_string()
}

/// Limits checked before a file's own claims (sizes, dimensions) are trusted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeLimits {
    pub max_file_bytes: u64,
    pub max_uncompressed_bytes: u64,
    pub max_rows: u64,
    pub max_columns: u32,
    pub batch_rows: usize,
    /// A file still being read after this many seconds is given up and quarantined.
    pub read_timeout_secs: u64,
}

impl Default for IntakeLimits {
    fn default() -> Self {
        IntakeLimits {
            max_file_bytes: 200 << 20,
            max_uncompressed_bytes: 1 << 30,
            max_rows: 5_000_000,
            max_columns: 512,
            batch_rows: 16_384,
            read_timeout_secs: 1800,
        }
    }
}

/// `[exchange]`: how the units' packages are written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExchangeSettings {
    /// A table up to this many rows also gets a sheet in the package's xlsx (for a clerk to
    /// look at); larger ones are in Parquet only, with a note on their sheet.
    pub xlsx_max_rows: u64,
}

impl Default for ExchangeSettings {
    fn default() -> Self {
        ExchangeSettings {
            xlsx_max_rows: 10_000,
        }
    }
}

/// `[lake]`: how the lake's Parquet files are compressed. Applies to files written from then on;
/// files already in the lake keep theirs (every reader reads every codec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeSettings {
    pub compression: CompressionName,
    /// zstd's level, 1 (fastest) to 22 (smallest); used only with `compression = "zstd"`.
    #[serde(deserialize_with = "zstd_level")]
    pub zstd_level: i32,
}

impl Default for LakeSettings {
    fn default() -> Self {
        LakeSettings {
            compression: CompressionName::Zstd,
            zstd_level: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressionName {
    Zstd,
    Snappy,
    Lz4,
    None,
}

fn zstd_level<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let level = i64::deserialize(d)?;
    if (1..=22).contains(&level) {
        Ok(level as i32)
    } else {
        Err(serde::de::Error::custom(format!(
            "zstd_level must be 1 to 22, not {level}"
        )))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClearanceSettings {
    pub outlier_hours: f64,
    pub baseline_period: String,
}

impl Default for ClearanceSettings {
    fn default() -> Self {
        ClearanceSettings {
            outlier_hours: 720.0,
            baseline_period: "2017".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitSpec {
    pub code: Spanned<String>,
    pub name: String,
    pub short: String,
    /// The unit receives the internal edition of reports (restricted columns included). In the
    /// bundled project only the commerce bureau, which runs the joint meeting, does.
    #[serde(default)]
    pub internal_edition: bool,
}

/// Reference data shipped with the project, loaded like a delivery from `unit`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSpec {
    pub file: Spanned<String>,
    pub unit: Spanned<String>,
}

/// `schemas/<table>.toml`: one canonical table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    pub table: Spanned<String>,
    pub title: String,
    pub key: Spanned<Vec<String>>,
    /// How a new delivery of this table relates to the earlier ones (every feed writing the
    /// table delivers the same way): `upsert` when left out.
    #[serde(default = "default_mode")]
    pub mode: Spanned<DeliveryMode>,
    /// Required with `mode = "replace_period"`.
    #[serde(default)]
    pub period: Option<PeriodSpec>,
    pub columns: Vec<ColumnSpec>,
    #[serde(default)]
    pub row_checks: Vec<RowCheckSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    String,
    Int,
    Float,
    /// Money: exact, two decimals (Decimal128(18, 2)).
    Decimal,
    Bool,
    Date,
    /// Local wall time in the source, stored as a UTC instant.
    Timestamp,
}

impl ColumnType {
    /// The word written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::Decimal => "decimal",
            ColumnType::Bool => "bool",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeCheck {
    /// 统一社会信用代码, GB 32100-2015 check character.
    Uscc,
    /// 报关单号: 18 digits, office + year + I/E + sequence.
    EntryId,
    /// 海关编码: 10 characters.
    CustomsCode,
    /// 监管方式: 4 digits, zero-padded.
    TradeMode,
    /// 关区代码: 4 digits.
    CustomsOffice,
    /// One of the unit codes in sanhu.toml.
    Unit,
    /// ISO week `2026-W47`.
    IsoWeek,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Public,
    #[default]
    Shared,
    Restricted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnInvalid {
    Reject,
    Warn,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: Spanned<String>,
    pub title: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub check: Option<CodeCheck>,
    /// What a failed check does; default: reject on key columns and non-USCC checks, warn otherwise.
    #[serde(default)]
    pub on_invalid: Option<OnInvalid>,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Allowed values (after `map`).
    #[serde(default)]
    pub values: Vec<String>,
    /// Source spellings mapped to canonical values, e.g. 进口 → I.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    #[serde(default)]
    pub classification: Classification,
    #[serde(default)]
    pub restricted_to: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowCheckSpec {
    pub kind: RowCheckKind,
    pub column: Spanned<String>,
    pub other: Spanned<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowCheckKind {
    /// `column` must not be earlier than `other` when both are present.
    NotBefore,
}

/// `pipelines/<feed>.toml`: one agency feed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    pub feed: Spanned<String>,
    /// The delivering unit's code, or `*` when every unit delivers this feed.
    pub unit: Spanned<String>,
    pub table: Spanned<String>,
    pub title: String,
    /// Removed: `mode` and `[period]` belong to the table's schema now. Kept only to explain
    /// that to a configuration written before.
    #[serde(default)]
    pub mode: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub period: Option<Spanned<toml::Value>>,
    pub source: SourceSpec,
    #[serde(default)]
    pub expect: Option<ExpectSpec>,
}

fn default_mode() -> Spanned<DeliveryMode> {
    Spanned::new(0..0, DeliveryMode::Upsert)
}

/// How a new delivery relates to the earlier ones of the same table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// Every delivery adds rows.
    Append,
    /// Latest delivery wins per table key.
    #[default]
    Upsert,
    /// The latest delivery is the whole table.
    ReplaceAll,
    /// A delivery replaces the earlier deliveries' rows of the periods it covers (`[period]`).
    ReplacePeriod,
}

impl DeliveryMode {
    /// The word written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Append => "append",
            DeliveryMode::Upsert => "upsert",
            DeliveryMode::ReplaceAll => "replace_all",
            DeliveryMode::ReplacePeriod => "replace_period",
        }
    }
}

/// `[period]` of a `replace_period` pipeline: which column gives a row's period, at what grain,
/// and within which columns (e.g. each unit's report replaces only its own).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodSpec {
    pub column: Spanned<String>,
    #[serde(default = "default_grain")]
    pub grain: Spanned<PeriodGrain>,
    #[serde(default)]
    pub per: Vec<Spanned<String>>,
}

fn default_grain() -> Spanned<PeriodGrain> {
    Spanned::new(0..0, PeriodGrain::Value)
}

/// How a period column's value becomes the period: as it is, or the local day, ISO week,
/// month or year of a date or timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PeriodGrain {
    #[default]
    Value,
    Day,
    Week,
    Month,
    Year,
}

impl PeriodGrain {
    /// The word written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodGrain::Value => "value",
            PeriodGrain::Day => "day",
            PeriodGrain::Week => "week",
            PeriodGrain::Month => "month",
            PeriodGrain::Year => "year",
        }
    }
}

/// `[source]` of a pipeline: files dropped in the inbox (`kind = "file"`), or a table or query
/// in an agency's database (`kind = "postgres"` / `"mysql"`). One flat table rather than a tagged
/// enum so every key keeps its position for error messages; `resolve` checks which keys go with
/// which kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub kind: Spanned<String>,
    /// File sources: name patterns that pick this feed first.
    #[serde(default)]
    pub patterns: Vec<Spanned<String>>,
    /// Database sources: the environment variable holding the connection URL. The URL (and its
    /// password) is never written in a config file, a log line or an error message.
    #[serde(default)]
    pub connection_env: Option<Spanned<String>>,
    /// The table or view to read (`schema.table` or `table`) …
    #[serde(default)]
    pub table: Option<Spanned<String>>,
    /// … or a query, wrapped as a subquery when filtered by the watermark.
    #[serde(default)]
    pub query: Option<Spanned<String>>,
    /// `incremental` (rows past the watermark; the default) or `full` (the whole table each time).
    #[serde(default)]
    pub pull: Option<Spanned<String>>,
    /// The column whose value only grows: an update time or an increasing id.
    #[serde(default)]
    pub watermark: Option<Spanned<String>>,
    /// `serve` pulls on this cron (6 fields, local time).
    #[serde(default)]
    pub schedule: Option<Spanned<String>>,
    /// Attempts after the first when the server cannot be reached (default 3).
    #[serde(default)]
    pub retries: Option<u32>,
    /// The first pause between attempts, doubled each time (default 2 s).
    #[serde(default)]
    pub backoff_secs: Option<f64>,
    /// TLS: PostgreSQL `disable`/`prefer`/`require`, MySQL `disabled`/`preferred`/`required`
    /// (default prefer / preferred).
    #[serde(default)]
    pub sslmode: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// How often a delivery is due; `weekly` (the only period so far) when left out.
    #[serde(default = "default_every")]
    pub every: Spanned<String>,
    /// `Mon 10:00`: the local weekday and time a weekly delivery is due by.
    pub due: Spanned<String>,
}

fn default_every() -> Spanned<String> {
    Spanned::new(0..0, "weekly".to_string())
}

/// `reports/<name>.toml`: a workbook layout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFile {
    pub report: Spanned<String>,
    pub title: String,
    /// File name without extension; `{{week}}` and `{{edition}}` are filled in.
    pub file_name: Spanned<String>,
    #[serde(default)]
    pub schedule: Option<Spanned<String>>,
    pub sheets: Vec<SheetSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetSpec {
    pub name: String,
    /// `table` (default): the query's rows; `cover`: its first row as headline figures.
    #[serde(default)]
    pub kind: SheetKind,
    /// On a cover sheet: a result column holding a paragraph of text to show under the figures.
    #[serde(default)]
    pub paragraph_field: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// Inline SQL; `{{week}}`, `{{week_start}}`, `{{week_end}}` (UTC timestamps) are filled in,
    /// the placeholder syntax of the models.
    pub sql: Spanned<String>,
    #[serde(default)]
    pub columns: Vec<ReportColumnSpec>,
    /// Only in the internal edition (the sheet holds restricted data).
    #[serde(default)]
    pub internal_only: bool,
    #[serde(default)]
    pub chart: Option<ChartSpecFile>,
    /// A column whose text drives the fill colour: 逾期 red, 预警 amber, 已完成 green.
    #[serde(default)]
    pub status_column: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SheetKind {
    #[default]
    Table,
    Cover,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportColumnSpec {
    pub field: Spanned<String>,
    pub title: String,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub width: Option<f64>,
    /// Columns classified restricted are dropped from the circulated edition.
    #[serde(default)]
    pub classification: Option<Classification>,
}

/// A chart's kind; any other word is a parse error with its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    Line,
    Column,
    Pie,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartSpecFile {
    pub kind: ChartKind,
    pub title: String,
    /// The result column of the x axis (or the pie's slices): one of the sheet's columns.
    pub category: Spanned<String>,
    pub values: Vec<Spanned<String>>,
    #[serde(default)]
    pub y_axis_title: Option<String>,
}
