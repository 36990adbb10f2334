//! Normalise: agency rows into typed, validated Arrow batches, and every problem into an issue.
//!
//! Sits between intake (raw cells) and the lake (Parquet). It finds which feed a sheet is and
//! where its header row is, maps the agencies' varying Chinese headers onto canonical columns
//! through the schema's aliases, coerces each cell to its column type, runs the code checks and
//! row checks, and appends accepted rows to column builders, emitting a `RecordBatch` every
//! `batch_rows`. A row-level problem is an [`Issue`] (a record for the quarantine and the
//! receipt), not an error: the file goes on.

pub mod codes;
pub mod datetime;
#[doc(hidden)]
pub mod fuzz;
pub mod header;
mod keys;
pub mod parallel;

use crate::config::spec::{CodeCheck, ColumnType, OnInvalid, RowCheckKind};
use crate::config::{Column, Schema};
use crate::intake::{Cell, Row, column_letter};
use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
pub use header::{Detection, detect, fold, fold_cow};
use keys::{Fingerprint, KeyTable};
use siphasher::sip128::{Hash128, Hasher128, SipHasher13};
use std::borrow::Cow;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Severity {
    /// The row is not loaded.
    Rejected,
    /// The row is loaded; the clerk is told.
    Warning,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Rejected => "拒收",
            Severity::Warning => "警告",
        }
    }
}

/// One problem in one row (and column, when it is about a cell).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Issue {
    pub row: u32,
    /// Header as it appears in the file.
    pub column: Option<String>,
    /// Excel column letter.
    pub letter: Option<String>,
    pub value: String,
    pub reason: String,
    pub severity: Severity,
}

/// A cell after coercion. Text borrows from the row's cells (or the schema's value map) unless
/// folding or a code check changed it, so a typical row is checked without allocating.
#[derive(Debug, Clone, PartialEq)]
enum Val<'c> {
    Null,
    Str(Cow<'c, str>),
    Int(i64),
    Float(f64),
    Dec(i128),
    Bool(bool),
    Date(i32),
    /// Microseconds since the epoch, UTC.
    Ts(i64),
}

enum ColBuilder {
    Str(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Dec(Decimal128Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
}

impl ColBuilder {
    fn new(ty: ColumnType, cap: usize) -> Self {
        match ty {
            ColumnType::String => ColBuilder::Str(StringBuilder::with_capacity(cap, cap * 16)),
            ColumnType::Int => ColBuilder::Int(Int64Builder::with_capacity(cap)),
            ColumnType::Float => ColBuilder::Float(Float64Builder::with_capacity(cap)),
            ColumnType::Decimal => ColBuilder::Dec(
                Decimal128Builder::with_capacity(cap)
                    .with_data_type(datafusion::arrow::datatypes::DataType::Decimal128(18, 2)),
            ),
            ColumnType::Bool => ColBuilder::Bool(BooleanBuilder::with_capacity(cap)),
            ColumnType::Date => ColBuilder::Date(Date32Builder::with_capacity(cap)),
            ColumnType::Timestamp => {
                ColBuilder::Ts(TimestampMicrosecondBuilder::with_capacity(cap).with_timezone("UTC"))
            }
        }
    }
    fn append(&mut self, v: &Val<'_>) {
        match (self, v) {
            (ColBuilder::Str(b), Val::Str(s)) => b.append_value(s.as_ref()),
            (ColBuilder::Int(b), Val::Int(i)) => b.append_value(*i),
            (ColBuilder::Float(b), Val::Float(f)) => b.append_value(*f),
            (ColBuilder::Dec(b), Val::Dec(d)) => b.append_value(*d),
            (ColBuilder::Bool(b), Val::Bool(x)) => b.append_value(*x),
            (ColBuilder::Date(b), Val::Date(d)) => b.append_value(*d),
            (ColBuilder::Ts(b), Val::Ts(t)) => b.append_value(*t),
            (ColBuilder::Str(b), _) => b.append_null(),
            (ColBuilder::Int(b), _) => b.append_null(),
            (ColBuilder::Float(b), _) => b.append_null(),
            (ColBuilder::Dec(b), _) => b.append_null(),
            (ColBuilder::Bool(b), _) => b.append_null(),
            (ColBuilder::Date(b), _) => b.append_null(),
            (ColBuilder::Ts(b), _) => b.append_null(),
        }
    }
    fn finish(&mut self) -> ArrayRef {
        match self {
            ColBuilder::Str(b) => Arc::new(b.finish()),
            ColBuilder::Int(b) => Arc::new(b.finish()),
            ColBuilder::Float(b) => Arc::new(b.finish()),
            ColBuilder::Dec(b) => Arc::new(b.finish()),
            ColBuilder::Bool(b) => Arc::new(b.finish()),
            ColBuilder::Date(b) => Arc::new(b.finish()),
            ColBuilder::Ts(b) => Arc::new(b.finish()),
        }
    }
}

/// Counters for the ledger and the receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub warnings: u64,
    /// Blank and 合计/总计 rows skipped.
    pub skipped: u64,
}

/// Turns the data rows of one detected sheet into batches.
pub struct Normaliser<'a> {
    schema: &'a Schema,
    tz: Tz,
    /// For each schema column, the file column it comes from.
    source_col: Vec<Option<usize>>,
    headers: Vec<String>,
    header_row: u32,
    lake_schema: SchemaRef,
    builders: Vec<ColBuilder>,
    delivery: Int64Builder,
    file_col: StringBuilder,
    row_col: Int64Builder,
    delivery_id: i64,
    file_name: String,
    batch_rows: usize,
    pending: usize,
    row_issues: Vec<Issue>,
    /// Keys seen in this delivery: a 96-bit fingerprint of the key → its first row. Not the
    /// key text: at 10M rows the texts alone took ~800 MB. The fingerprint is cut from one
    /// 128-bit SipHash-1-3 under random keys; a false "duplicate" among n = 10M keys is about
    /// as likely as n²/2⁹⁷ ≈ 10⁻¹⁵. Fingerprint and first row fill a 16-byte slot (the table
    /// holds one per row and at 10M rows is read at random far outside the caches, so its size
    /// is time as well as memory; see [`keys`]).
    keys: KeyTable,
    /// The two SipHash keys of the fingerprints (random per delivery; workers share them).
    key_hash: (u64, u64),
    /// Checking rows in parallel: the key check is left to whoever merges the chunks in file
    /// order ([`Normaliser::merge`]); accepted rows' keys wait here, one per batch row.
    defer_keys: bool,
    deferred: Vec<DeferredKey>,
    zone: LocalZone,
    unit_codes: Vec<String>,
    /// The buffer a row's values are checked in, kept from row to row ([`recycle`]).
    vals: Vec<Val<'static>>,
    pub issues: Vec<Issue>,
    pub counts: Counts,
}

/// Wall times of the project's time zone to UTC, remembering each day's offset: converting is
/// then a lookup, not a search of the zone's transitions (three timestamps a row add up).
struct LocalZone {
    tz: Tz,
    /// Local day (days from CE) → its UTC offset in seconds, for days with one offset
    /// throughout; direct-mapped.
    days: std::cell::RefCell<Vec<(i32, i32)>>,
}

impl LocalZone {
    const SLOTS: usize = 1024;

    fn new(tz: Tz) -> LocalZone {
        LocalZone {
            tz,
            days: std::cell::RefCell::new(vec![(i32::MIN, 0); Self::SLOTS]),
        }
    }

    /// Days from CE (chrono's day numbers, the cache's keys) of day 0 of the Unix epoch.
    const EPOCH_DAY_CE: i32 = 719_163;

    /// [`LocalZone::to_utc`] of the wall time `seconds` into local day `epoch_day` (days since
    /// 1970-01-01), when that day's offset is already known; None when it is not yet (the
    /// caller then converts the general way, which learns it).
    fn cached_utc(&self, epoch_day: i32, seconds: u32) -> Option<i64> {
        let day = epoch_day.checked_add(Self::EPOCH_DAY_CE)?;
        let slot = day.rem_euclid(Self::SLOTS as i32) as usize;
        let (cached_day, offset) = self.days.borrow()[slot];
        (cached_day == day).then(|| {
            (i64::from(epoch_day) * 86_400 + i64::from(seconds) - i64::from(offset)) * 1_000_000
        })
    }

    /// The UTC time of a wall time, in microseconds since the epoch: None when a change of
    /// offset skipped it; the earlier when the wall time came twice.
    fn to_utc(&self, local: NaiveDateTime) -> Option<i64> {
        use chrono::{Datelike, LocalResult, Offset};
        let day = local.date().num_days_from_ce();
        let slot = day.rem_euclid(Self::SLOTS as i32) as usize;
        let (cached_day, offset) = self.days.borrow()[slot];
        if cached_day == day {
            // Plain arithmetic: the wall time's own micros less the offset (as the zone's
            // conversion does, without building a date-time twice).
            return Some(local.and_utc().timestamp_micros() - i64::from(offset) * 1_000_000);
        }
        let utc = self
            .tz
            .from_local_datetime(&local)
            .earliest()?
            .timestamp_micros();
        // A day whose first and last instants have one and the same offset has no change of
        // offset in it (the time zone database has no day with two changes that cancel out).
        let at = |h, m, s, us| {
            local
                .date()
                .and_hms_micro_opt(h, m, s, us)
                .map(|t| self.tz.offset_from_local_datetime(&t))
        };
        if let (Some(LocalResult::Single(a)), Some(LocalResult::Single(b))) =
            (at(0, 0, 0, 0), at(23, 59, 59, 999_999))
            && a.fix() == b.fix()
        {
            self.days.borrow_mut()[slot] = (day, a.fix().local_minus_utc());
        }
        Some(utc)
    }
}

/// Two random 64-bit keys for the fingerprints' SipHash, from std's per-process random seed
/// (each `RandomState::new()` differs), so no source of randomness is added for them.
fn random_sip_keys() -> (u64, u64) {
    let key = |salt: u64| std::hash::RandomState::new().hash_one(salt);
    (key(0x5eed_0001), key(0x5eed_0002))
}

/// An accepted row whose key is still to be checked against the rows before it.
#[derive(Debug, Clone, Copy)]
pub struct DeferredKey {
    fingerprint: Fingerprint,
    row: u32,
    warned: bool,
}

/// What one chunk of rows came to, checked apart from the rows before it.
pub struct Checked {
    pub batch: Option<RecordBatch>,
    pub issues: Vec<Issue>,
    pub counts: Counts,
    keys: Vec<DeferredKey>,
}

impl<'a> Normaliser<'a> {
    pub fn new(
        schema: &'a Schema,
        detection: &Detection,
        tz: Tz,
        delivery_id: i64,
        file_name: &str,
        batch_rows: usize,
        unit_codes: Vec<String>,
    ) -> Self {
        Self::assemble(
            schema,
            tz,
            (
                detection.source_col.clone(),
                detection.headers.clone(),
                detection.header_row,
            ),
            (delivery_id, file_name.to_string()),
            batch_rows,
            unit_codes,
        )
    }

    /// `(source_col, headers, header_row)` say where the columns are; `(delivery, file)` is
    /// the lineage every row carries.
    fn assemble(
        schema: &'a Schema,
        tz: Tz,
        (source_col, headers, header_row): (Vec<Option<usize>>, Vec<String>, u32),
        (delivery_id, file_name): (i64, String),
        batch_rows: usize,
        unit_codes: Vec<String>,
    ) -> Self {
        let cap = batch_rows.min(16_384);
        Normaliser {
            schema,
            tz,
            source_col,
            headers,
            header_row,
            lake_schema: schema.lake_schema(),
            builders: schema
                .columns
                .iter()
                .map(|c| ColBuilder::new(c.ty, cap))
                .collect(),
            delivery: Int64Builder::with_capacity(cap),
            file_col: StringBuilder::with_capacity(cap, cap * file_name.len()),
            row_col: Int64Builder::with_capacity(cap),
            delivery_id,
            file_name,
            batch_rows: batch_rows.max(1),
            pending: 0,
            row_issues: Vec::new(),
            keys: KeyTable::new(),
            key_hash: random_sip_keys(),
            defer_keys: false,
            deferred: Vec::new(),
            zone: LocalZone::new(tz),
            unit_codes,
            vals: Vec::new(),
            issues: Vec::new(),
            counts: Counts::default(),
        }
    }

    /// A normaliser for one worker of a parallel read: same settings and key fingerprints as
    /// `self` (which merges), batches only when [`Normaliser::take_checked`] is called, key
    /// check deferred to the merge.
    pub fn worker(&self) -> Normaliser<'a> {
        let mut w = Self::assemble(
            self.schema,
            self.tz,
            (
                self.source_col.clone(),
                self.headers.clone(),
                self.header_row,
            ),
            (self.delivery_id, self.file_name.clone()),
            self.batch_rows,
            self.unit_codes.clone(),
        );
        w.batch_rows = usize::MAX;
        w.key_hash = self.key_hash;
        w.defer_keys = true;
        w
    }

    /// Room in the key table for about `rows` rows, ahead of a large file's merge.
    pub fn expect_rows(&mut self, rows: usize) {
        if !self.schema.key.is_empty() {
            self.keys.reserve(rows);
        }
    }

    /// The rows checked since the last call, for [`Normaliser::merge`].
    pub fn take_checked(&mut self) -> Checked {
        Checked {
            batch: self.flush(),
            issues: std::mem::take(&mut self.issues),
            counts: std::mem::take(&mut self.counts),
            keys: std::mem::take(&mut self.deferred),
        }
    }

    /// Take a worker's chunk, in file order: check its keys against every earlier row (the first
    /// occurrence wins, as when reading row by row), drop the repeats from its batch, and add
    /// its issues and counts. Returns the rows to write.
    pub fn merge(&mut self, chunk: Checked) -> Option<RecordBatch> {
        let Checked {
            batch,
            mut issues,
            counts,
            keys,
        } = chunk;
        let mut counts = counts;
        let mut keep = vec![true; keys.len()];
        let mut repeats = Vec::new();
        self.keys
            .check(keys.iter().map(|k| (k.fingerprint, k.row)), |i, first| {
                let k = &keys[i];
                keep[i] = false;
                repeats.push((i, k.row, first));
                counts.accepted -= 1;
                counts.rejected += 1;
                if k.warned {
                    counts.warnings -= 1;
                }
            });
        let batch = match batch {
            Some(b) if !repeats.is_empty() => {
                for &(i, row, first) in &repeats {
                    let vals: Vec<Val<'_>> = self
                        .schema
                        .key
                        .iter()
                        .map(|&k| val_at(b.column(k), i))
                        .collect();
                    issues.push(self.duplicate_issue(row, first, |k| vals[k].clone()));
                }
                // Stable: a repeated row's warnings stay before its rejection.
                issues.sort_by_key(|i| i.row);
                let mask = datafusion::arrow::array::BooleanArray::from(keep);
                datafusion::arrow::compute::filter_record_batch(&b, &mask)
                    .ok()
                    .filter(|b| b.num_rows() > 0)
            }
            other => other,
        };
        self.issues.append(&mut issues);
        self.counts.rows_read += counts.rows_read;
        self.counts.accepted += counts.accepted;
        self.counts.rejected += counts.rejected;
        self.counts.warnings += counts.warnings;
        self.counts.skipped += counts.skipped;
        batch
    }

    /// The rejection of a row whose key an earlier row (`first`) already has; `key(i)` is the
    /// value of the i-th key column.
    fn duplicate_issue<'v>(&self, row: u32, first: u32, key: impl Fn(usize) -> Val<'v>) -> Issue {
        let schema = self.schema;
        let key_text = schema
            .key
            .iter()
            .enumerate()
            .map(|(i, &k)| format!("{}={}", schema.columns[k].title, self.show(&key(i))))
            .collect::<Vec<_>>()
            .join("，");
        self.make_issue(
            row,
            Some(schema.key[0]),
            key_text,
            format!("主键重复：与第{first}行相同"),
            Severity::Rejected,
        )
    }

    pub fn lake_schema(&self) -> SchemaRef {
        self.lake_schema.clone()
    }

    fn issue(
        &mut self,
        row: u32,
        col: Option<usize>,
        value: String,
        reason: String,
        severity: Severity,
    ) {
        let issue = self.make_issue(row, col, value, reason, severity);
        self.row_issues.push(issue);
    }

    fn make_issue(
        &self,
        row: u32,
        col: Option<usize>,
        value: String,
        reason: String,
        severity: Severity,
    ) -> Issue {
        let (column, letter) = match col.and_then(|c| self.source_col[c]) {
            Some(fc) => (
                Some(self.headers.get(fc).cloned().unwrap_or_default()),
                Some(column_letter(fc)),
            ),
            None => (col.map(|c| self.schema.columns[c].title.clone()), None),
        };
        Issue {
            row,
            column,
            letter,
            value,
            reason,
            severity,
        }
    }

    /// Take one data row; returns a batch when enough rows are pending.
    pub fn push_row<R: Row + ?Sized>(&mut self, row: u32, cells: &R) -> Option<RecordBatch> {
        if row <= self.header_row {
            return None;
        }
        if (0..cells.width()).all(|i| cells.cell(i).is_empty()) || is_total_row(cells) {
            self.counts.skipped += 1;
            return None;
        }
        self.counts.rows_read += 1;
        self.row_issues.clear();
        let schema = self.schema;
        let mut vals: Vec<Val<'_>> = recycle(std::mem::take(&mut self.vals));
        for (ci, col) in schema.columns.iter().enumerate() {
            let cell = self.source_col[ci].map_or(Cell::Empty, |fc| cells.cell(fc));
            let (v, had_issue) = match self.coerce(col, &cell) {
                Ok(v) => (v, false),
                Err(Bad {
                    reason,
                    severity,
                    keep,
                }) => {
                    self.issue(row, Some(ci), cell.display(), reason, severity);
                    (keep, true)
                }
            };
            if v == Val::Null && col.required && !had_issue {
                self.issue(
                    row,
                    Some(ci),
                    String::new(),
                    format!("必填项“{}”为空", col.title),
                    Severity::Rejected,
                );
            }
            vals.push(v);
        }
        for rc in &schema.row_checks {
            match rc.kind {
                RowCheckKind::NotBefore => {
                    let (a, b) = (&vals[rc.column], &vals[rc.other]);
                    let earlier = match (a, b) {
                        (Val::Ts(x), Val::Ts(y)) => x < y,
                        (Val::Date(x), Val::Date(y)) => x < y,
                        _ => false,
                    };
                    if earlier {
                        let value = format!(
                            "{}={}；{}={}",
                            schema.columns[rc.column].title,
                            self.show(a),
                            schema.columns[rc.other].title,
                            self.show(b)
                        );
                        self.issue(
                            row,
                            Some(rc.column),
                            value,
                            rc.reason.clone(),
                            Severity::Rejected,
                        );
                    }
                }
            }
        }
        let rejected = self
            .row_issues
            .iter()
            .any(|i| i.severity == Severity::Rejected);
        if !rejected {
            // Keys are unique within a delivery: the first occurrence wins, later ones are rejected.
            let mut h = SipHasher13::new_with_keys(self.key_hash.0, self.key_hash.1);
            for &k in &schema.key {
                vals[k].hash_into(&mut h);
            }
            let Hash128 { h1, h2 } = h.finish128();
            let fp: Fingerprint = (h1 as u32, (h1 >> 32) as u32, h2 as u32);
            if self.defer_keys {
                self.deferred.push(DeferredKey {
                    fingerprint: fp,
                    row,
                    warned: !self.row_issues.is_empty(),
                });
            } else {
                if let Some(first) = self.keys.first_or_insert(fp, row) {
                    let issue = self.duplicate_issue(row, first, |i| vals[schema.key[i]].clone());
                    self.row_issues.push(issue);
                }
            }
        }
        let rejected = self
            .row_issues
            .iter()
            .any(|i| i.severity == Severity::Rejected);
        if rejected {
            self.counts.rejected += 1;
        } else {
            if !self.row_issues.is_empty() {
                self.counts.warnings += 1;
            }
            self.counts.accepted += 1;
            for (b, v) in self.builders.iter_mut().zip(&vals) {
                b.append(v);
            }
            self.delivery.append_value(self.delivery_id);
            self.file_col.append_value(&self.file_name);
            self.row_col.append_value(row as i64);
            self.pending += 1;
        }
        self.vals = recycle(vals);
        self.issues.append(&mut self.row_issues);
        if self.pending >= self.batch_rows {
            self.flush()
        } else {
            None
        }
    }

    /// The rows pending, as a batch (None when there are none).
    pub fn flush(&mut self) -> Option<RecordBatch> {
        if self.pending == 0 {
            return None;
        }
        self.pending = 0;
        let mut cols: Vec<ArrayRef> = self.builders.iter_mut().map(ColBuilder::finish).collect();
        cols.push(Arc::new(self.delivery.finish()));
        cols.push(Arc::new(self.file_col.finish()));
        cols.push(Arc::new(self.row_col.finish()));
        Some(
            RecordBatch::try_new(self.lake_schema.clone(), cols)
                .expect("builders match the lake schema"),
        )
    }

    fn show(&self, v: &Val<'_>) -> String {
        match v {
            Val::Ts(t) => chrono::DateTime::from_timestamp_micros(*t)
                .map(|d| {
                    d.with_timezone(&self.tz)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default(),
            Val::Date(d) => NaiveDate::from_num_days_from_ce_opt(*d + 719_163)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            Val::Str(s) => s.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => f.to_string(),
            Val::Dec(d) => format!("{}.{:02}", d / 100, (d % 100).abs()),
            Val::Bool(b) => if *b { "是" } else { "否" }.into(),
            Val::Null => String::new(),
        }
    }

    fn coerce<'c>(&self, col: &'c Column, cell: &Cell<&'c str>) -> Result<Val<'c>, Bad<'c>> {
        let reject = Bad::reject;
        if let Cell::Error(e) = cell {
            let severity = if col.required {
                Severity::Rejected
            } else {
                Severity::Warning
            };
            return Err(Bad {
                reason: format!("单元格为错误值{e}"),
                severity,
                keep: Val::Null,
            });
        }
        if cell.is_empty() {
            return Ok(Val::Null);
        }
        match col.ty {
            ColumnType::String => {
                let text = text_of(cell).map_err(reject)?;
                let mapped: Cow<'c, str> = if col.map.is_empty() {
                    text
                } else {
                    match col
                        .map
                        .get(text.as_ref())
                        .or_else(|| col.map.get(&text.to_uppercase()))
                    {
                        Some(m) => Cow::Borrowed(m.as_str()),
                        None => text,
                    }
                };
                if !col.values.is_empty() && !col.values.iter().any(|v| *v == *mapped) {
                    return Err(reject(format!(
                        "“{}”取值“{}”不在允许范围（{}）",
                        col.title,
                        mapped,
                        col.values.join("、")
                    )));
                }
                match col.check {
                    None => Ok(Val::Str(mapped)),
                    Some(check) => match run_check(check, &mapped, &self.unit_codes).map(|c| {
                        match c {
                            // The canonical form is most often the whole text as sent.
                            Cow::Borrowed(b) if b.len() == mapped.len() => None,
                            other => Some(other.into_owned()),
                        }
                    }) {
                        Ok(None) => Ok(Val::Str(mapped)),
                        Ok(Some(v)) => Ok(Val::Str(Cow::Owned(v))),
                        Err(reason) => match col.on_invalid {
                            OnInvalid::Reject => Err(reject(reason)),
                            // Kept as sent, flagged on the receipt.
                            OnInvalid::Warn => Err(Bad {
                                reason,
                                severity: Severity::Warning,
                                keep: Val::Str(mapped),
                            }),
                        },
                    },
                }
            }
            ColumnType::Int => match cell {
                Cell::Int(i) => Ok(Val::Int(*i)),
                Cell::Number(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Val::Int(*f as i64)),
                _ => {
                    let t = numeric_text(cell);
                    t.parse::<i64>().map(Val::Int).map_err(|_| {
                        reject(format!("“{}”应为整数，实为“{}”", col.title, cell.display()))
                    })
                }
            },
            ColumnType::Float => match cell {
                Cell::Int(i) => Ok(Val::Float(*i as f64)),
                Cell::Number(f) if f.is_finite() => Ok(Val::Float(*f)),
                _ => {
                    let t = numeric_text(cell);
                    let t = t.strip_suffix('%').unwrap_or(&t);
                    match t.parse::<f64>() {
                        Ok(f) if f.is_finite() => Ok(Val::Float(f)),
                        _ => Err(reject(format!(
                            "“{}”应为数值，实为“{}”",
                            col.title,
                            cell.display()
                        ))),
                    }
                }
            },
            ColumnType::Decimal => match cell {
                Cell::Int(i) => Ok(Val::Dec(*i as i128 * 100)),
                Cell::Number(f) if f.is_finite() && f.abs() < 1e16 => {
                    Ok(Val::Dec((f * 100.0).round() as i128))
                }
                _ => parse_decimal2(&numeric_text(cell))
                    .map(Val::Dec)
                    .ok_or_else(|| {
                        reject(format!("“{}”应为金额，实为“{}”", col.title, cell.display()))
                    }),
            },
            ColumnType::Bool => match cell {
                Cell::Bool(b) => Ok(Val::Bool(*b)),
                Cell::Int(1) => Ok(Val::Bool(true)),
                Cell::Int(0) => Ok(Val::Bool(false)),
                Cell::Number(f) if *f == 1.0 || *f == 0.0 => Ok(Val::Bool(*f == 1.0)),
                _ => {
                    let t = folded(cell);
                    let t = if t.bytes().any(|c| c.is_ascii_uppercase()) {
                        Cow::Owned(t.to_ascii_lowercase())
                    } else {
                        t
                    };
                    match t.as_ref() {
                        "是" | "y" | "yes" | "true" | "1" | "√" | "✓" | "t" | "有" => {
                            Ok(Val::Bool(true))
                        }
                        "否" | "n" | "no" | "false" | "0" | "×" | "✗" | "f" | "无" => {
                            Ok(Val::Bool(false))
                        }
                        _ => Err(reject(format!(
                            "“{}”应为是/否，实为“{}”",
                            col.title,
                            cell.display()
                        ))),
                    }
                }
            },
            ColumnType::Date => self
                .to_naive(col, cell)
                .map(|dt| Val::Date(days_since_epoch(dt.date()))),
            ColumnType::Timestamp => {
                // The common layout on a day whose offset is known: integer arithmetic only.
                if let Cell::Text(t) = cell
                    && let Some((day, seconds)) = datetime::iso_epoch_days_seconds(t)
                    && let Some(utc) = self.zone.cached_utc(day, seconds)
                {
                    return Ok(Val::Ts(utc));
                }
                let instant = match cell {
                    Cell::Text(t) => match datetime::parse_datetime_text(&fold_cow(t))
                        .map_err(|e| reject(format!("“{}”{}", col.title, e)))?
                    {
                        datetime::Parsed::Instant(utc) => utc.and_utc().timestamp_micros(),
                        datetime::Parsed::Local(local) => self.local_to_utc(col, local)?,
                    },
                    _ => {
                        let local = self.to_naive(col, cell)?;
                        self.local_to_utc(col, local)?
                    }
                };
                Ok(Val::Ts(instant))
            }
        }
    }

    fn local_to_utc<'c>(&self, col: &Column, local: NaiveDateTime) -> Result<i64, Bad<'c>> {
        self.zone
            .to_utc(local)
            .ok_or_else(|| Bad::reject(format!("“{}”时间{}在当地时区不存在", col.title, local)))
    }

    fn to_naive<'c>(&self, col: &Column, cell: &Cell<&str>) -> Result<NaiveDateTime, Bad<'c>> {
        let reject = Bad::reject;
        match cell {
            Cell::DateTime(d) => Ok(*d),
            Cell::Int(_) | Cell::Number(_) => {
                let f = match cell {
                    Cell::Int(i) => *i as f64,
                    Cell::Number(f) => *f,
                    _ => unreachable!(),
                };
                // 20160520 stored as a number is a compact date, not a serial in the year 57000.
                if f.fract() == 0.0 && (19_000_101.0..=21_001_231.0).contains(&f) {
                    return datetime::parse_datetime_text(&format!("{}", f as i64))
                        .map(|p| match p {
                            datetime::Parsed::Local(d) | datetime::Parsed::Instant(d) => d,
                        })
                        .map_err(|e| reject(format!("“{}”{}", col.title, e)));
                }
                datetime::from_excel_serial(f).ok_or_else(|| {
                    reject(format!(
                        "“{}”数值{}不是有效的Excel日期",
                        col.title,
                        cell.display()
                    ))
                })
            }
            Cell::Text(t) => match datetime::parse_datetime_text(&fold_cow(t))
                .map_err(|e| reject(format!("“{}”{}", col.title, e)))?
            {
                datetime::Parsed::Local(d) => Ok(d),
                datetime::Parsed::Instant(utc) => Ok(chrono::Utc
                    .from_utc_datetime(&utc)
                    .with_timezone(&self.tz)
                    .naive_local()),
            },
            Cell::Bool(_) => Err(reject(format!(
                "“{}”应为日期，实为“{}”",
                col.title,
                cell.display()
            ))),
            Cell::Empty | Cell::Error(_) => unreachable!("handled by coerce"),
        }
    }
}

/// Row `i` of a lake column as a value (for naming a repeated key after the row was built).
/// An emptied vector of values, for values of another lifetime: a row's values borrow that
/// row's cells, so the vector cannot outlive the row, but its buffer can (collecting an empty
/// `into_iter` into a vector of the same layout reuses the allocation in place).
fn recycle<'x, 'y>(mut v: Vec<Val<'x>>) -> Vec<Val<'y>> {
    v.clear();
    v.into_iter().map(|_| Val::Null).collect()
}

fn val_at(a: &ArrayRef, i: usize) -> Val<'_> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::DataType as T;
    use datafusion::arrow::datatypes::{
        Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType,
    };
    if a.is_null(i) {
        return Val::Null;
    }
    match a.data_type() {
        T::Utf8 => Val::Str(Cow::Borrowed(a.as_string::<i32>().value(i))),
        T::Int64 => Val::Int(a.as_primitive::<Int64Type>().value(i)),
        T::Float64 => Val::Float(a.as_primitive::<Float64Type>().value(i)),
        T::Decimal128(_, _) => Val::Dec(a.as_primitive::<Decimal128Type>().value(i)),
        T::Boolean => Val::Bool(a.as_boolean().value(i)),
        T::Date32 => Val::Date(a.as_primitive::<Date32Type>().value(i)),
        T::Timestamp(_, _) => Val::Ts(a.as_primitive::<TimestampMicrosecondType>().value(i)),
        _ => Val::Null,
    }
}

/// A cell that failed coercion or a check: why, how bad, and the value the row keeps.
struct Bad<'c> {
    reason: String,
    severity: Severity,
    keep: Val<'c>,
}

impl Val<'_> {
    /// Feed the value to a hasher for the key fingerprint (the variant first, so "1" the text
    /// and 1 the integer differ; floats by their bits).
    fn hash_into(&self, h: &mut impl Hasher) {
        std::mem::discriminant(self).hash(h);
        match self {
            Val::Null => {}
            Val::Str(s) => s.as_ref().hash(h),
            Val::Int(i) | Val::Ts(i) => i.hash(h),
            Val::Float(f) => f.to_bits().hash(h),
            Val::Dec(d) => d.hash(h),
            Val::Bool(b) => b.hash(h),
            Val::Date(d) => d.hash(h),
        }
    }
}

impl<'c> Bad<'c> {
    fn reject(reason: String) -> Bad<'c> {
        Bad {
            reason,
            severity: Severity::Rejected,
            keep: Val::Null,
        }
    }
}

fn days_since_epoch(d: NaiveDate) -> i32 {
    d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch"))
        .num_days() as i32
}

/// A cell as text for a string column. Large integers are refused: Excel keeps 15 significant
/// digits, so an 18-digit entry id stored as a number has already lost its last digits.
fn text_of<'c>(cell: &Cell<&'c str>) -> Result<Cow<'c, str>, String> {
    match cell {
        Cell::Number(f) if f.fract() == 0.0 && f.abs() >= 1e15 => Err(format!(
            "数字“{}”超过15位，Excel已丢失末位精度，请将该列设为文本格式后重新导出",
            cell.display()
        )),
        Cell::Int(i) if i.abs() >= 1_000_000_000_000_000 => Err(format!(
            "数字“{i}”超过15位，Excel已丢失末位精度，请将该列设为文本格式后重新导出"
        )),
        Cell::Bool(b) => Ok(Cow::Borrowed(if *b { "是" } else { "否" })),
        // A leading apostrophe is how clerks force text in Excel; some exports keep it.
        _ => Ok(match folded(cell) {
            Cow::Borrowed(t) => Cow::Borrowed(t.strip_prefix('\'').unwrap_or(t)),
            Cow::Owned(t) => match t.strip_prefix('\'') {
                Some(rest) => Cow::Owned(rest.to_string()),
                None => Cow::Owned(t),
            },
        }),
    }
}

/// A cell's text, folded; text cells are borrowed, not copied, when nothing changes.
fn folded<'c>(cell: &Cell<&'c str>) -> Cow<'c, str> {
    match cell {
        Cell::Text(s) => fold_cow(s),
        other => Cow::Owned(fold(&other.display())),
    }
}

fn numeric_text<'c>(cell: &Cell<&'c str>) -> Cow<'c, str> {
    let t = folded(cell);
    // Plain digits, sign and point (what nearly every export writes) are taken as they are.
    if t.bytes()
        .all(|c| c.is_ascii_digit() || c == b'.' || c == b'-' || c == b'+')
    {
        return t;
    }
    let t = t.strip_prefix('\'').unwrap_or(&t);
    let cleaned = t
        .chars()
        .filter(|c| *c != ',' && *c != '¥' && *c != '￥' && !c.is_whitespace())
        .collect::<String>();
    Cow::Owned(cleaned.trim_end_matches('元').to_string())
}

/// Parse money text to hundredths, rounding half away from zero at the third decimal.
fn parse_decimal2(t: &str) -> Option<i128> {
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
        || int.len() > 16
    {
        return None;
    }
    let mut v: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let f = frac.as_bytes();
    let digit = |i: usize| f.get(i).map(|c| (c - b'0') as i128).unwrap_or(0);
    v = v * 100 + digit(0) * 10 + digit(1);
    if digit(2) >= 5 {
        v += 1;
    }
    Some(if neg { -v } else { v })
}

/// 合计 / 总计 / 小计 rows that agencies append under the data.
fn is_total_row<R: Row + ?Sized>(cells: &R) -> bool {
    (0..cells.width())
        .map(|i| cells.cell(i))
        .find(|c| !c.is_empty())
        // Every such label ends in 计, which folding leaves as it is: most rows stop here
        // (most at the ASCII test: a code or a number comes first).
        .filter(|c| match c {
            Cell::Text(s) | Cell::Error(s) => !s.is_ascii() && s.contains('计'),
            _ => false,
        })
        .map(|c| {
            let t: String = fold(&c.display())
                .chars()
                .filter(|c| !c.is_whitespace() && *c != ':')
                .collect();
            matches!(t.as_str(), "合计" | "总计" | "小计" | "总合计" | "共计")
        })
        .unwrap_or(false)
}

fn run_check<'v>(
    check: CodeCheck,
    v: &'v str,
    unit_codes: &[String],
) -> Result<Cow<'v, str>, String> {
    match check {
        CodeCheck::Uscc => codes::check_uscc(v),
        CodeCheck::EntryId => codes::check_entry_id(v),
        CodeCheck::CustomsCode => codes::check_customs_code(v),
        CodeCheck::TradeMode => codes::check_trade_mode(v),
        CodeCheck::CustomsOffice => codes::check_customs_office(v),
        CodeCheck::IsoWeek => codes::check_iso_week(v),
        CodeCheck::Unit => {
            let low = v.to_ascii_lowercase();
            if unit_codes.contains(&low) {
                Ok(if low == v {
                    Cow::Borrowed(v)
                } else {
                    Cow::Owned(low)
                })
            } else {
                Err(format!(
                    "单位代码“{v}”不存在（可用：{}）",
                    unit_codes.join("、")
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::RawCell;

    #[test]
    fn a_row_buffer_keeps_its_allocation_across_rows() {
        let mut v: Vec<Val<'_>> = Vec::with_capacity(12);
        let text = String::from("x");
        v.push(Val::Str(Cow::Borrowed(&text)));
        let kept: Vec<Val<'static>> = recycle(v);
        assert!(kept.is_empty());
        assert!(kept.capacity() >= 12, "capacity {}", kept.capacity());
    }

    #[test]
    fn decimals_round_half_away() {
        assert_eq!(parse_decimal2("1234.5"), Some(123450));
        assert_eq!(parse_decimal2("0.005"), Some(1));
        assert_eq!(parse_decimal2("-2.994"), Some(-299));
        assert_eq!(parse_decimal2("12"), Some(1200));
        assert_eq!(parse_decimal2("1.2.3"), None);
        assert_eq!(parse_decimal2(""), None);
        assert_eq!(numeric_text(&Cell::Text("￥1,234.50元")), "1234.50");
    }

    #[test]
    fn wall_times_convert_as_the_zone_says_across_its_changes() {
        // Berlin: 2024-03-31 02:00–03:00 does not exist, 2024-10-27 02:00–03:00 comes twice.
        let mut misses = Vec::new();
        for tz in [
            chrono_tz::Europe::Berlin,
            chrono_tz::Asia::Shanghai,
            chrono_tz::America::Santiago,
        ] {
            let zone = LocalZone::new(tz);
            let start = NaiveDate::from_ymd_opt(2024, 3, 25)
                .unwrap()
                .and_hms_opt(0, 17, 0)
                .unwrap();
            // Every 37 minutes over a year, twice (the second pass reads the cache).
            for pass in 0..2 {
                for i in 0..(366 * 24 * 60 / 37) {
                    let local = start + chrono::TimeDelta::minutes(37 * i);
                    let want = tz
                        .from_local_datetime(&local)
                        .earliest()
                        .map(|d| d.timestamp_micros());
                    assert_eq!(zone.to_utc(local), want, "{tz} {local} pass {pass}");
                    // The integer path, once the day is known: the same instant, or no answer
                    // on a day with a change of offset (never cached).
                    let day = (local.date() - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                        .num_days() as i32;
                    let seconds = chrono::Timelike::num_seconds_from_midnight(&local.time());
                    match zone.cached_utc(day, seconds) {
                        Some(utc) => assert_eq!(Some(utc), want, "{tz} {local}"),
                        None => misses.push((tz, local.date())),
                    }
                }
            }
        }
        misses.sort_by_key(|(tz, d)| (tz.name(), *d));
        misses.dedup();
        let day = |m, d| NaiveDate::from_ymd_opt(2024, m, d).unwrap();
        assert_eq!(
            misses,
            [
                (chrono_tz::America::Santiago, day(4, 6)),
                (chrono_tz::America::Santiago, day(9, 8)),
                (chrono_tz::Europe::Berlin, day(3, 31)),
                (chrono_tz::Europe::Berlin, day(10, 27)),
            ]
        );
        let zone = LocalZone::new(chrono_tz::Europe::Berlin);
        let skipped = NaiveDate::from_ymd_opt(2024, 3, 31)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(zone.to_utc(skipped), None);
        let twice = NaiveDate::from_ymd_opt(2024, 10, 27)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(
            zone.to_utc(twice),
            Some(
                NaiveDate::from_ymd_opt(2024, 10, 27)
                    .unwrap()
                    .and_hms_opt(0, 30, 0)
                    .unwrap()
                    .and_utc()
                    .timestamp_micros()
            )
        );
    }

    #[test]
    fn total_rows() {
        assert!(is_total_row(&vec![
            RawCell::Empty,
            RawCell::Text("合 计".into()),
            RawCell::Number(3.0)
        ]));
        assert!(!is_total_row(&vec![RawCell::Text("合计单位".into())]));
    }

    #[test]
    fn long_numbers_are_refused_for_text_columns() {
        assert!(text_of(&Cell::Number(20120261000000000.0)).is_err());
        assert_eq!(text_of(&Cell::Number(110.0)), Ok("110".into()));
        assert_eq!(text_of(&Cell::Text("'0201")), Ok("0201".into()));
        assert_eq!(text_of(&Cell::Text("０２０１")), Ok("0201".into()));
    }
}
