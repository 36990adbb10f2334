//! Database sources: a table or query in an agency's PostgreSQL or MySQL/MariaDB, read as Arrow
//! batches, and SQLite files dropped in the inbox.
//!
//! Like the file readers, this module knows servers and wire types, not schemas: it connects
//! (with retries where retrying can help), builds the incremental statement, streams the result
//! as Arrow record batches (DataFusion's table providers fetch 4,000 rows at a time, so a pull of
//! millions of rows is never held whole), and turns a batch's rows into the same [`RawCell`]s a
//! spreadsheet gives, so validation, quarantine and receipts are shared with files.
//!
//! The connection URL comes from an environment variable and never appears in a log line or an
//! error: [`Target`] keeps a display form without the password, and every server message is
//! scrubbed of it before it is shown.

use super::RawCell;
use crate::config::{DbSource, Engine, Relation};
use chrono_tz::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::execution::SendableRecordBatchStream;
use datafusion_table_providers_common::sql::db_connection_pool::dbconnection::AsyncDbConnection;
use datafusion_table_providers_mysql::conn::MySQLConnection;
use datafusion_table_providers_mysql::pool::MySQLConnectionPool;
use datafusion_table_providers_postgres::conn::PostgresConnection;
use datafusion_table_providers_postgres::pool::PostgresConnectionPool;
use secrecy::SecretString;
use std::collections::HashMap;

/// Why a pull failed; `retryable` says whether trying again later can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    pub message: String,
    pub retryable: bool,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where a feed's rows come from, safe to show: the URL without its password.
#[derive(Debug, Clone)]
pub struct Target {
    url: String,
    password: Option<String>,
    /// `postgres://user@host:5432/db`: for logs, the ledger and receipts.
    pub shown: String,
}

impl Target {
    /// Read the URL from `env`. The variable's value is never echoed back.
    pub fn from_env(env: &str) -> Result<Target, DbError> {
        match std::env::var(env) {
            Ok(url) if !url.trim().is_empty() => Ok(Target::new(url.trim())),
            _ => Err(DbError {
                message: format!(
                    "environment variable {env} is not set (it holds the connection URL)"
                ),
                retryable: false,
            }),
        }
    }

    pub fn new(url: &str) -> Target {
        // scheme://[user[:password]@]host[:port]/db[?params]
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let (auth, host) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let host = host.split('?').next().unwrap_or(host);
        let (user, password) = match auth.map(|a| a.split_once(':')) {
            Some(Some((u, p))) => (Some(u), Some(p.to_string())),
            Some(None) => (auth, None),
            None => (None, None),
        };
        let shown = match user {
            Some(u) => format!("{scheme}://{u}@{host}"),
            None => format!("{scheme}://{host}"),
        };
        Target {
            url: url.to_string(),
            password: password.filter(|p| !p.is_empty()),
            shown,
        }
    }

    /// A server or driver message on one line, with the password (if it shows) masked.
    fn scrub(&self, e: &(dyn std::error::Error + 'static)) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            let text = err.to_string();
            // Drivers repeat their source in their own message; keep each text once.
            if !parts.iter().any(|p| p.contains(text.trim())) {
                parts.push(text);
            }
            cur = err.source();
        }
        // One line, without the drivers' "For details, refer to <manual URL>" advice.
        let joined = parts.join(": ");
        let all: Vec<&str> = joined.split_whitespace().collect();
        let mut words: Vec<&str> = Vec::with_capacity(all.len());
        let mut i = 0;
        while i < all.len() {
            let advice = all[i] == "For"
                && all
                    .get(i + 1)
                    .is_some_and(|n| n.starts_with("details") || n.starts_with("further"));
            match all[i..].iter().position(|w| w.starts_with("http")) {
                Some(off) if advice => i += off + 1,
                _ => {
                    words.push(all[i]);
                    i += 1;
                }
            }
        }
        let mut msg = words.join(" ");
        if let Some(p) = &self.password {
            msg = msg.replace(p.as_str(), "***");
        }
        msg = msg.replace(&self.url, &self.shown);
        msg
    }

    /// A failure as the job reports it: one line, password masked, retry-worthiness judged.
    pub fn describe(&self, e: &(dyn std::error::Error + 'static)) -> DbError {
        let message = self.scrub(e);
        DbError {
            retryable: is_transient(&message),
            message,
        }
    }
}

/// Failures worth another attempt: the server is not reachable or not ready yet. Bad
/// credentials, an unknown database or a bad statement fail the same way every time.
fn is_transient(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "refused",
        "timed out",
        "timeout",
        "connection reset",
        "broken pipe",
        "unreachable",
        "too many connections",
        "starting up",
        "shutting down",
        "server closed the connection",
        "cannot connect",
        "can't connect",
        "connection closed",
        "i/o error",
        "io error",
    ]
    .iter()
    .any(|k| m.contains(k))
}

/// One open connection to an agency's server.
pub enum Connection {
    Postgres(Box<PostgresConnection>),
    Mysql(Box<MySQLConnection>),
}

/// Connect once (no retries; the job decides about those).
pub async fn connect(source: &DbSource, target: &Target, tz: Tz) -> Result<Connection, DbError> {
    let mut params: HashMap<String, SecretString> = HashMap::new();
    params.insert(
        "connection_string".into(),
        SecretString::from(target.url.clone()),
    );
    let boxed = |e: Box<dyn std::error::Error + Send + Sync>| target.describe(e.as_ref());
    match source.engine {
        Engine::Postgres => {
            // The provider takes libpq's `key=value` form or separate fields, not a URL.
            if target.url.contains("://") {
                params = postgres_params(&target.url).map_err(|m| DbError {
                    message: m,
                    retryable: false,
                })?;
            }
            // The URL's own sslmode wins; otherwise `[source] sslmode`, default prefer (the
            // driver's own default, verify-full, fails against a server without TLS).
            if !params.contains_key("sslmode") && !target.url.contains("sslmode=") {
                let mode = source.sslmode.clone().unwrap_or_else(|| "prefer".into());
                params.insert("sslmode".into(), SecretString::from(mode));
            }
            params.insert("connection_pool_size".into(), SecretString::from("1"));
            let pool = PostgresConnectionPool::new(params)
                .await
                .map_err(|e| target.describe(&e))?;
            let conn = pool
                .connect_direct()
                .await
                .map_err(|e| target.describe(&e))?;
            Ok(Connection::Postgres(Box::new(conn)))
        }
        Engine::Mysql => {
            // The provider's `preferred` still insists on TLS (it only skips certificate
            // checks), so the default is none; `sslmode = "required"` asks for it.
            let mode = source.sslmode.clone().unwrap_or_else(|| "disabled".into());
            params.insert("sslmode".into(), SecretString::from(mode));
            let pool = MySQLConnectionPool::new(params)
                .await
                .map_err(|e| target.describe(&e))?;
            let conn = pool
                .connect_direct()
                .await
                .map_err(|e| target.describe(&e))?;
            // MySQL hands TIMESTAMP columns over in the session's time zone: make that the
            // project's, so they read as the same local wall time as DATETIME columns and files.
            let offset = chrono::Utc::now()
                .with_timezone(&tz)
                .format("%:z")
                .to_string();
            conn.execute(&format!("SET time_zone = '{offset}'"), &[])
                .await
                .map_err(boxed)?;
            Ok(Connection::Mysql(Box::new(conn)))
        }
    }
}

/// `postgresql://user:password@host:port/db?sslmode=…` as the provider's fields.
fn postgres_params(raw: &str) -> Result<HashMap<String, SecretString>, String> {
    let u = url::Url::parse(raw).map_err(|e| format!("connection URL not understood: {e}"))?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut p: HashMap<String, SecretString> = HashMap::new();
    let mut put = |k: &str, v: String| {
        if !v.is_empty() {
            p.insert(k.to_string(), SecretString::from(v));
        }
    };
    put("host", u.host_str().unwrap_or("localhost").to_string());
    put("port", u.port().unwrap_or(5432).to_string());
    put("user", decode(u.username()));
    put("pass", u.password().map(decode).unwrap_or_default());
    put("db", decode(u.path().trim_start_matches('/')));
    for (k, v) in u.query_pairs() {
        if matches!(
            k.as_ref(),
            "sslmode" | "sslrootcert" | "application_name" | "options"
        ) {
            put(&k, v.into_owned());
        }
    }
    Ok(p)
}

impl Connection {
    /// Run a statement; rows come as a stream of Arrow batches.
    pub async fn query(
        &self,
        sql: &str,
        target: &Target,
    ) -> Result<SendableRecordBatchStream, DbError> {
        let r = match self {
            Connection::Postgres(c) => c.query_arrow(sql, &[], None).await,
            Connection::Mysql(c) => c.query_arrow(sql, &[], None).await,
        };
        r.map_err(|e| target.describe(e.as_ref()))
    }

    /// Column comments of a table (`COMMENT ON COLUMN` / `COMMENT '…'`), by column name.
    /// Agencies often name columns in pinyin or English and put the Chinese title in the
    /// comment; the comment then finds the schema column when the name does not.
    pub async fn column_comments(
        &self,
        table: &str,
        target: &Target,
    ) -> Result<HashMap<String, String>, DbError> {
        let (schema, name) = match table.split_once('.') {
            Some((s, t)) => (Some(s), t),
            None => (None, table),
        };
        // Names were checked to be plain identifiers (config), so they can be inlined.
        let sql = match self {
            Connection::Postgres(_) => format!(
                "SELECT a.attname::text AS name, col_description(a.attrelid, a.attnum)::text AS comment \
                 FROM pg_attribute a WHERE a.attrelid = '{}'::regclass AND a.attnum > 0 AND NOT a.attisdropped",
                quote_pg_relation(table).replace('\'', "''")
            ),
            Connection::Mysql(_) => format!(
                "SELECT CAST(COLUMN_NAME AS CHAR) AS name, CAST(COLUMN_COMMENT AS CHAR) AS comment \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = '{name}'",
                schema
                    .map(|s| format!("'{s}'"))
                    .unwrap_or_else(|| "DATABASE()".into())
            ),
        };
        let mut stream = self.query(&sql, target).await?;
        let mut out = HashMap::new();
        use futures::StreamExt;
        while let Some(b) = stream.next().await {
            let b = b.map_err(|e| target.describe(&e))?;
            if b.num_columns() < 2 {
                continue;
            }
            let names = text_values(b.column(0));
            let comments = text_values(b.column(1));
            for (n, c) in names.into_iter().zip(comments) {
                if let (Some(n), Some(c)) = (n, c)
                    && !c.trim().is_empty()
                {
                    out.insert(n, c.trim().to_string());
                }
            }
        }
        Ok(out)
    }
}

fn text_values(a: &ArrayRef) -> Vec<Option<String>> {
    match ArrayFormatter::try_new(a.as_ref(), &FormatOptions::default()) {
        Ok(f) => (0..a.len())
            .map(|i| (!a.is_null(i)).then(|| f.value(i).to_string()))
            .collect(),
        Err(_) => vec![None; a.len()],
    }
}

fn quote_pg_relation(table: &str) -> String {
    table
        .split('.')
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(".")
}

fn quote_ident(engine: Engine, name: &str) -> String {
    match engine {
        Engine::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
        Engine::Mysql => format!("`{}`", name.replace('`', "``")),
    }
}

fn relation_sql(engine: Engine, relation: &Relation) -> String {
    match relation {
        Relation::Table(t) => t
            .split('.')
            .map(|p| quote_ident(engine, p))
            .collect::<Vec<_>>()
            .join("."),
        Relation::Query(q) => format!("({q}) AS sanhu_src"),
    }
}

/// A string literal in the engine's dialect.
pub fn quote_literal(engine: Engine, s: &str) -> String {
    match engine {
        Engine::Postgres => format!("'{}'", s.replace('\'', "''")),
        // MySQL also treats backslash as an escape inside literals.
        Engine::Mysql => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''")),
    }
}

/// The statement of one pull: everything, or the rows at or past the watermark. `>=`, not `>`:
/// rows written after the last pull with the same watermark value as the last row seen must not
/// be lost; the ones already taken are recognised by their hash and skipped.
pub fn pull_sql(source: &DbSource, from: Option<&str>) -> String {
    let base = format!(
        "SELECT * FROM {}",
        relation_sql(source.engine, &source.relation)
    );
    match (&source.watermark, from) {
        (Some(w), Some(lit)) => format!("{base} WHERE {} >= {lit}", quote_ident(source.engine, w)),
        _ => base,
    }
}

/// A watermark value, comparable within one column type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    /// Integers, decimals (unscaled), dates (days), timestamps (nanoseconds since the epoch).
    Num(i128),
    Text(String),
}

/// How a watermark column is typed; stored with the watermark so a type change upstream is
/// noticed rather than compared across kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkKind {
    Int,
    Decimal(i8),
    Date,
    /// With the zone the value carries (`UTC` for timestamptz), or none for a wall time.
    Timestamp(Option<String>),
    Text,
}

impl MarkKind {
    pub fn of(dt: &DataType) -> Option<MarkKind> {
        Some(match dt {
            d if d.is_integer() => MarkKind::Int,
            DataType::Decimal128(_, s) => MarkKind::Decimal(*s),
            DataType::Date32 | DataType::Date64 => MarkKind::Date,
            DataType::Timestamp(_, tz) => MarkKind::Timestamp(tz.as_ref().map(|t| t.to_string())),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => MarkKind::Text,
            _ => return None,
        })
    }

    pub fn name(&self) -> String {
        match self {
            MarkKind::Int => "integer".into(),
            MarkKind::Decimal(s) => format!("decimal(scale {s})"),
            MarkKind::Date => "date".into(),
            MarkKind::Timestamp(Some(tz)) => format!("timestamp with time zone ({tz})"),
            MarkKind::Timestamp(None) => "timestamp".into(),
            MarkKind::Text => "text".into(),
        }
    }

    /// Back from [`MarkKind::name`] (the ledger stores the name).
    pub fn parse(name: &str) -> Option<MarkKind> {
        Some(match name {
            "integer" => MarkKind::Int,
            "date" => MarkKind::Date,
            "timestamp" => MarkKind::Timestamp(None),
            "text" => MarkKind::Text,
            n => {
                if let Some(s) = n
                    .strip_prefix("decimal(scale ")
                    .and_then(|r| r.strip_suffix(')'))
                {
                    MarkKind::Decimal(s.parse().ok()?)
                } else if let Some(tz) = n
                    .strip_prefix("timestamp with time zone (")
                    .and_then(|r| r.strip_suffix(')'))
                {
                    MarkKind::Timestamp(Some(tz.to_string()))
                } else {
                    return None;
                }
            }
        })
    }

    /// The value as a literal the server compares exactly with the column.
    pub fn literal(&self, engine: Engine, m: &Mark) -> String {
        match (self, m) {
            (MarkKind::Int, Mark::Num(n)) => n.to_string(),
            (MarkKind::Decimal(s), Mark::Num(n)) => decimal_text(*n, *s),
            (MarkKind::Date, Mark::Num(d)) => {
                let day = chrono::NaiveDate::from_num_days_from_ce_opt(*d as i32 + 719_163)
                    .unwrap_or_default();
                quote_literal(engine, &day.format("%Y-%m-%d").to_string())
            }
            (MarkKind::Timestamp(tz), Mark::Num(ns)) => {
                let t = chrono::DateTime::from_timestamp_nanos(*ns as i64);
                let text = match tz {
                    // An instant: spelled in UTC with its offset, whatever the session's zone.
                    Some(_) => t.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string(),
                    None => t.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
                };
                quote_literal(engine, &text)
            }
            (_, Mark::Text(s)) => quote_literal(engine, s),
            (_, Mark::Num(n)) => n.to_string(),
        }
    }

    /// Stored form of a mark (the ledger keeps text).
    pub fn store(m: &Mark) -> String {
        match m {
            Mark::Num(n) => n.to_string(),
            Mark::Text(s) => s.clone(),
        }
    }

    pub fn load(&self, s: &str) -> Option<Mark> {
        match self {
            MarkKind::Text => Some(Mark::Text(s.to_string())),
            _ => s.parse().ok().map(Mark::Num),
        }
    }
}

/// A stored watermark as a person reads it (`2026-11-11 01:00:00.000000+00:00`, `42`).
pub fn show_mark(kind: &str, stored: &str) -> String {
    match MarkKind::parse(kind).and_then(|k| k.load(stored).map(|m| (k, m))) {
        Some((MarkKind::Text, Mark::Text(t))) => t,
        Some((k, m)) => k
            .literal(Engine::Postgres, &m)
            .trim_matches('\'')
            .to_string(),
        None => stored.to_string(),
    }
}

fn decimal_text(n: i128, scale: i8) -> String {
    if scale <= 0 {
        return (n * 10i128.pow((-scale) as u32)).to_string();
    }
    let p = 10i128.pow(scale as u32);
    let sign = if n < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        (n / p).abs(),
        (n % p).abs(),
        width = scale as usize
    )
}

/// The watermark values of a column, row by row (None for NULL).
pub fn marks(a: &ArrayRef) -> Vec<Option<Mark>> {
    use datafusion::arrow::datatypes::*;
    let n = a.len();
    let num = |f: &dyn Fn(usize) -> i128| -> Vec<Option<Mark>> {
        (0..n)
            .map(|i| (!a.is_null(i)).then(|| Mark::Num(f(i))))
            .collect()
    };
    match a.data_type() {
        DataType::Int8 => num(&|i| a.as_primitive::<Int8Type>().value(i) as i128),
        DataType::Int16 => num(&|i| a.as_primitive::<Int16Type>().value(i) as i128),
        DataType::Int32 => num(&|i| a.as_primitive::<Int32Type>().value(i) as i128),
        DataType::Int64 => num(&|i| a.as_primitive::<Int64Type>().value(i) as i128),
        DataType::UInt8 => num(&|i| a.as_primitive::<UInt8Type>().value(i) as i128),
        DataType::UInt16 => num(&|i| a.as_primitive::<UInt16Type>().value(i) as i128),
        DataType::UInt32 => num(&|i| a.as_primitive::<UInt32Type>().value(i) as i128),
        DataType::UInt64 => num(&|i| a.as_primitive::<UInt64Type>().value(i) as i128),
        DataType::Decimal128(_, _) => num(&|i| a.as_primitive::<Decimal128Type>().value(i)),
        DataType::Date32 => num(&|i| a.as_primitive::<Date32Type>().value(i) as i128),
        DataType::Date64 => {
            num(&|i| (a.as_primitive::<Date64Type>().value(i) / 86_400_000) as i128)
        }
        DataType::Timestamp(unit, _) => {
            let mul: i128 = match unit {
                TimeUnit::Second => 1_000_000_000,
                TimeUnit::Millisecond => 1_000_000,
                TimeUnit::Microsecond => 1_000,
                TimeUnit::Nanosecond => 1,
            };
            let raw = |i: usize| -> i128 {
                (match unit {
                    TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i),
                    TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(i),
                    TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i),
                    TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(i),
                }) as i128
            };
            num(&|i| raw(i) * mul)
        }
        _ => text_values(a)
            .into_iter()
            .map(|v| v.map(Mark::Text))
            .collect(),
    }
}

/// A short fingerprint of a whole row, to recognise rows already taken at the watermark.
pub fn row_hashes(batch: &RecordBatch, rows: &[usize]) -> Vec<String> {
    row_digests(batch, rows)
        .into_iter()
        .map(|d| hex::encode(&d[..12]))
        .collect()
}

/// A fingerprint of a batch's rows that does not depend on their order (a sum of the rows'
/// digests): the sum over a whole full pull says whether the table changed at all.
pub fn content_sum(batch: &RecordBatch) -> u128 {
    let all: Vec<usize> = (0..batch.num_rows()).collect();
    row_digests(batch, &all)
        .into_iter()
        .map(|d| u128::from_le_bytes(d[..16].try_into().unwrap_or_default()))
        .fold(0u128, u128::wrapping_add)
}

fn row_digests(batch: &RecordBatch, rows: &[usize]) -> Vec<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let opts = FormatOptions::default().with_null("\u{0}NULL");
    let fmts: Vec<Option<ArrayFormatter>> = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).ok())
        .collect();
    rows.iter()
        .map(|&r| {
            let mut h = Sha256::new();
            for (f, field) in fmts.iter().zip(batch.schema().fields()) {
                h.update(field.name().as_bytes());
                h.update([0x1f]);
                if let Some(f) = f {
                    h.update(f.value(r).to_string().as_bytes());
                }
                h.update([0x1e]);
            }
            h.finalize().into()
        })
        .collect()
}

/// The cells of each column of a batch, as a spreadsheet would hold them. Timestamps with a
/// zone become the project's local wall time (the normaliser reads local times); decimals keep
/// their exact digits as text.
pub fn column_cells(a: &ArrayRef, tz: Tz) -> Vec<RawCell> {
    use datafusion::arrow::datatypes::*;
    let n = a.len();
    let cells = |f: &dyn Fn(usize) -> RawCell| -> Vec<RawCell> {
        (0..n)
            .map(|i| if a.is_null(i) { RawCell::Empty } else { f(i) })
            .collect()
    };
    match a.data_type() {
        DataType::Null => vec![RawCell::Empty; n],
        DataType::Utf8 => cells(&|i| RawCell::Text(a.as_string::<i32>().value(i).to_string())),
        DataType::LargeUtf8 => cells(&|i| RawCell::Text(a.as_string::<i64>().value(i).to_string())),
        DataType::Utf8View => cells(&|i| RawCell::Text(a.as_string_view().value(i).to_string())),
        DataType::Boolean => cells(&|i| RawCell::Bool(a.as_boolean().value(i))),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let m = marks(a);
            m.into_iter()
                .map(|v| match v {
                    Some(Mark::Num(x)) => RawCell::Int(x as i64),
                    _ => RawCell::Empty,
                })
                .collect()
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => marks(a)
            .into_iter()
            .map(|v| match v {
                Some(Mark::Num(x)) => i64::try_from(x)
                    .map(RawCell::Int)
                    .unwrap_or_else(|_| RawCell::Text(x.to_string())),
                _ => RawCell::Empty,
            })
            .collect(),
        DataType::Float32 => {
            cells(&|i| RawCell::Number(a.as_primitive::<Float32Type>().value(i) as f64))
        }
        DataType::Float64 => cells(&|i| RawCell::Number(a.as_primitive::<Float64Type>().value(i))),
        DataType::Decimal128(_, s) => {
            let s = *s;
            cells(&|i| RawCell::Text(decimal_text(a.as_primitive::<Decimal128Type>().value(i), s)))
        }
        DataType::Date32 | DataType::Date64 => marks(a)
            .into_iter()
            .map(|v| match v {
                Some(Mark::Num(d)) => {
                    chrono::NaiveDate::from_num_days_from_ce_opt(d as i32 + 719_163)
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(RawCell::DateTime)
                        .unwrap_or(RawCell::Empty)
                }
                _ => RawCell::Empty,
            })
            .collect(),
        DataType::Timestamp(_, zone) => {
            let zoned = zone.is_some();
            marks(a)
                .into_iter()
                .map(|v| match v {
                    Some(Mark::Num(ns)) => {
                        let t = chrono::DateTime::from_timestamp_nanos(ns as i64);
                        RawCell::DateTime(if zoned {
                            t.with_timezone(&tz).naive_local()
                        } else {
                            t.naive_utc()
                        })
                    }
                    _ => RawCell::Empty,
                })
                .collect()
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            cells(&|_| RawCell::Error("二进制数据".into()))
        }
        _ => text_values(a)
            .into_iter()
            .map(|v| v.map(RawCell::Text).unwrap_or(RawCell::Empty))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        Date32Array, Decimal128Array, Int64Array, StringArray, TimestampNanosecondArray,
    };
    use std::sync::Arc;

    fn src(engine: Engine, relation: Relation, watermark: Option<&str>) -> DbSource {
        DbSource {
            engine,
            connection_env: "X".into(),
            relation,
            watermark: watermark.map(String::from),
            schedule: None,
            retries: 0,
            backoff: std::time::Duration::ZERO,
            sslmode: None,
        }
    }

    #[test]
    fn the_password_never_shows() {
        let t = Target::new("postgresql://clerk:s3cr%t@db.example:5432/customs?sslmode=disable");
        assert_eq!(t.shown, "postgresql://clerk@db.example:5432/customs");
        let e = std::io::Error::other("password authentication failed for s3cr%t\n  at db");
        let msg = t.scrub(&e);
        assert_eq!(msg, "password authentication failed for *** at db");
        let advice = std::io::Error::other(
            "MySQL connection failed. Access denied For further information, refer to the MySQL manual: https://dev.mysql.com/doc/x.html",
        );
        assert_eq!(t.scrub(&advice), "MySQL connection failed. Access denied");
        assert!(!t.describe(&e).retryable);
        let refused = std::io::Error::other("Connection refused (os error 111)");
        assert!(t.describe(&refused).retryable);
        assert_eq!(
            Target::new("mysql://root@127.0.0.1:3306/x").shown,
            "mysql://root@127.0.0.1:3306/x"
        );
    }

    #[test]
    fn statements_quote_names_and_literals_per_dialect() {
        let pg = src(
            Engine::Postgres,
            Relation::Table("public.报关单".into()),
            Some("updated_at"),
        );
        assert_eq!(pull_sql(&pg, None), "SELECT * FROM \"public\".\"报关单\"");
        assert_eq!(
            pull_sql(&pg, Some("'2026-11-02 02:00:00.000000+00:00'")),
            "SELECT * FROM \"public\".\"报关单\" WHERE \"updated_at\" >= '2026-11-02 02:00:00.000000+00:00'"
        );
        let my = src(
            Engine::Mysql,
            Relation::Query("SELECT id, a FROM t JOIN u USING (id)".into()),
            Some("id"),
        );
        assert_eq!(
            pull_sql(&my, Some("41")),
            "SELECT * FROM (SELECT id, a FROM t JOIN u USING (id)) AS sanhu_src WHERE `id` >= 41"
        );
        assert_eq!(quote_literal(Engine::Mysql, "a'b\\c"), "'a''b\\\\c'");
        assert_eq!(quote_literal(Engine::Postgres, "a'b\\c"), "'a''b\\c'");
    }

    #[test]
    fn watermark_literals_are_exact() {
        let ns = 1_793_584_800_123_456_000i128; // 2026-11-02 02:00:00.123456 UTC
        assert_eq!(
            MarkKind::Timestamp(Some("UTC".into())).literal(Engine::Postgres, &Mark::Num(ns)),
            "'2026-11-02 02:00:00.123456+00:00'"
        );
        assert_eq!(
            MarkKind::Timestamp(None).literal(Engine::Mysql, &Mark::Num(ns)),
            "'2026-11-02 02:00:00.123456'"
        );
        assert_eq!(
            MarkKind::Decimal(2).literal(Engine::Postgres, &Mark::Num(-1205)),
            "-12.05"
        );
        assert_eq!(
            MarkKind::Date.literal(Engine::Postgres, &Mark::Num(20_759)),
            "'2026-11-02'"
        );
        assert_eq!(MarkKind::Int.load("42"), Some(Mark::Num(42)));
        for k in [
            MarkKind::Int,
            MarkKind::Decimal(2),
            MarkKind::Date,
            MarkKind::Timestamp(Some("UTC".into())),
            MarkKind::Timestamp(None),
            MarkKind::Text,
        ] {
            assert_eq!(MarkKind::parse(&k.name()), Some(k));
        }
        assert_eq!(
            MarkKind::Text.literal(Engine::Postgres, &Mark::Text("B'7".into())),
            "'B''7'"
        );
    }

    #[test]
    fn cells_read_like_a_spreadsheet() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let ts: ArrayRef = Arc::new(
            TimestampNanosecondArray::from(vec![Some(1_793_584_800_000_000_000), None])
                .with_timezone("UTC"),
        );
        assert_eq!(
            column_cells(&ts, tz),
            vec![
                RawCell::DateTime(
                    chrono::NaiveDate::from_ymd_opt(2026, 11, 2)
                        .unwrap()
                        .and_hms_opt(10, 0, 0)
                        .unwrap()
                ),
                RawCell::Empty
            ]
        );
        let naive: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![
            1_793_584_800_000_000_000,
        ]));
        assert_eq!(column_cells(&naive, tz)[0].display(), "2026-11-02 02:00:00");
        let dec: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(100_050), Some(-5), None])
                .with_precision_and_scale(18, 2)
                .unwrap(),
        );
        assert_eq!(
            column_cells(&dec, tz),
            vec![
                RawCell::Text("1000.50".into()),
                RawCell::Text("-0.05".into()),
                RawCell::Empty
            ]
        );
        let d: ArrayRef = Arc::new(Date32Array::from(vec![20_759]));
        assert_eq!(column_cells(&d, tz)[0].display(), "2026-11-02 00:00:00");
        let i: ArrayRef = Arc::new(Int64Array::from(vec![Some(7), None]));
        assert_eq!(column_cells(&i, tz), vec![RawCell::Int(7), RawCell::Empty]);
    }

    #[test]
    fn equal_rows_hash_equal_and_any_change_shows() {
        let b = |v: &str| {
            RecordBatch::try_from_iter(vec![
                ("id", Arc::new(Int64Array::from(vec![1, 1])) as ArrayRef),
                (
                    "v",
                    Arc::new(StringArray::from(vec![Some(v), None])) as ArrayRef,
                ),
            ])
            .unwrap()
        };
        let h1 = row_hashes(&b("a"), &[0, 1]);
        let h2 = row_hashes(&b("a"), &[0]);
        let h3 = row_hashes(&b("b"), &[0]);
        assert_eq!(h1[0], h2[0]);
        assert_ne!(h1[0], h1[1], "NULL is not the empty string");
        assert_ne!(h1[0], h3[0]);
        assert_eq!(h1[0].len(), 24);
        // Row order does not change a batch's content sum; a changed value does.
        let swapped = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 1])) as ArrayRef),
            (
                "v",
                Arc::new(StringArray::from(vec![None, Some("a")])) as ArrayRef,
            ),
        ])
        .unwrap();
        assert_eq!(content_sum(&b("a")), content_sum(&swapped));
        assert_ne!(content_sum(&b("a")), content_sum(&b("b")));
    }
}
