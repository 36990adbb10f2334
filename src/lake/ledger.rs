//! The ingest ledger: one row per dropped file, in an embedded SQLite database `data/sanhu.db`.
//!
//! The ledger is what makes intake idempotent and crash-safe. A delivery is recorded `pending`
//! before its lake file is renamed into place and marked `ingested` after; on start-up, a
//! `pending` delivery (a crash in between) has its lake files removed and its row deleted, and
//! its inbox file, which is only moved after the ledger commit, is simply ingested again.

use super::LakeError;
use crate::state::Db;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

pub use crate::state::{DB_FILE, db_path};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Ingested,
    Quarantined,
    Duplicate,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Ingested => "ingested",
            Status::Quarantined => "quarantined",
            Status::Duplicate => "duplicate",
        }
    }
}

/// What became of a delivery.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub feed: Option<String>,
    pub table: Option<String>,
    pub format: Option<String>,
    pub sheet: Option<String>,
    pub header_row: Option<u32>,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rows_warned: u64,
    pub rows_skipped: u64,
    pub reason: Option<String>,
    pub lake_file: Option<String>,
}

/// A delivery row as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Delivery {
    pub id: i64,
    pub unit: String,
    pub feed: Option<String>,
    pub table: Option<String>,
    pub file_name: String,
    pub sha256: String,
    pub bytes: i64,
    pub file_mtime: String,
    pub received_at: String,
    pub status: String,
    pub rows_accepted: i64,
    pub rows_rejected: i64,
    pub rows_warned: i64,
    pub reason: Option<String>,
    pub archive_path: Option<String>,
}

/// A committed delivery whose last steps a crash cut short: the receipt (`receipt_path` unset)
/// and perhaps the move out of the inbox (`archive_path` unset).
#[derive(Debug, Clone)]
pub struct Unfinished {
    pub id: i64,
    pub unit: String,
    pub file_name: String,
    pub sha256: String,
    pub status: String,
    pub feed: Option<String>,
    pub table: Option<String>,
    pub sheet: Option<String>,
    pub header_row: Option<u32>,
    pub rows_read: i64,
    pub rows_accepted: i64,
    pub rows_rejected: i64,
    pub rows_warned: i64,
    pub rows_skipped: i64,
    pub reason: Option<String>,
    pub archive_path: Option<String>,
    pub receipt_path: Option<String>,
}

/// The delivery ledger's tables, on its own connection to `sanhu.db` (schema: `state`).
pub struct Ledger {
    db: Db,
}

/// A database feed's committed watermark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    pub column: String,
    /// How the column is typed (`intake::database::MarkKind` name).
    pub kind: String,
    pub value: String,
    pub boundary: Vec<String>,
}

/// A database feed as `sanhu status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PullStatus {
    pub feed: String,
    pub source: String,
    pub last_pull: String,
    pub status: String,
    pub attempts: i64,
    pub rows_read: i64,
    pub error: Option<String>,
    pub watermark_column: Option<String>,
    pub watermark: Option<String>,
    pub watermark_kind: Option<String>,
}

/// One line of the pull log.
#[derive(Debug, Clone, Default)]
pub struct PullLog {
    pub feed: String,
    pub source: String,
    pub started_at: String,
    pub finished_at: String,
    pub status: String,
    pub attempts: u32,
    pub rows_read: u64,
    pub rows_seen: u64,
    pub delivery: Option<i64>,
    pub watermark_from: Option<String>,
    pub watermark_to: Option<String>,
    pub error: Option<String>,
}

impl Ledger {
    pub fn open(data_dir: &Path) -> Result<Ledger, LakeError> {
        Ok(Ledger {
            db: Db::open(data_dir)?,
        })
    }

    pub fn conn(&self) -> &Connection {
        self.db.conn()
    }

    /// The committed delivery with this content, if any.
    pub fn ingested_with_hash(
        &self,
        sha256: &str,
    ) -> Result<Option<(i64, String, String)>, LakeError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, file_name, received_at FROM deliveries WHERE sha256 = ?1 AND status = 'ingested' ORDER BY id LIMIT 1",
                params![sha256],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    pub fn begin(
        &self,
        unit: &str,
        file_name: &str,
        sha256: &str,
        bytes: u64,
        file_mtime: &str,
        received_at: &str,
    ) -> Result<i64, LakeError> {
        self.conn().execute(
            "INSERT INTO deliveries (unit, file_name, sha256, bytes, file_mtime, received_at, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
            params![unit, file_name, sha256, bytes as i64, file_mtime, received_at],
        )?;
        Ok(self.conn().last_insert_rowid())
    }

    /// Record a delivery's content hash and size, once its file has been read.
    pub fn set_hash(&self, id: i64, sha256: &str, bytes: u64) -> Result<(), LakeError> {
        self.conn().execute(
            "UPDATE deliveries SET sha256 = ?2, bytes = ?3 WHERE id = ?1",
            params![id, sha256, bytes as i64],
        )?;
        Ok(())
    }

    pub fn finish(
        &self,
        id: i64,
        status: Status,
        o: &Outcome,
        finished_at: &str,
    ) -> Result<(), LakeError> {
        self.conn().execute(
            "UPDATE deliveries SET status = ?2, feed = ?3, table_name = ?4, format = ?5, sheet = ?6, header_row = ?7,
                rows_read = ?8, rows_accepted = ?9, rows_rejected = ?10, rows_warned = ?11, rows_skipped = ?12,
                reason = ?13, lake_file = ?14, finished_at = ?15 WHERE id = ?1",
            params![
                id,
                status.as_str(),
                o.feed,
                o.table,
                o.format,
                o.sheet,
                o.header_row,
                o.rows_read as i64,
                o.rows_accepted as i64,
                o.rows_rejected as i64,
                o.rows_warned as i64,
                o.rows_skipped as i64,
                o.reason,
                o.lake_file,
                finished_at
            ],
        )?;
        Ok(())
    }

    /// Mark a pulled delivery ingested and move its feed's watermark, in one transaction.
    pub fn finish_pull(
        &self,
        id: i64,
        o: &Outcome,
        finished_at: &str,
        feed: &str,
        mark: Option<&Watermark>,
    ) -> Result<(), LakeError> {
        let tx = self.conn().unchecked_transaction()?;
        self.finish(id, Status::Ingested, o, finished_at)?;
        if let Some(m) = mark {
            self.conn().execute(
                "INSERT INTO watermarks (feed, column_name, kind, value, boundary, delivery, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(feed) DO UPDATE SET column_name = ?2, kind = ?3, value = ?4,
                    boundary = ?5, delivery = ?6, updated_at = ?7",
                params![
                    feed,
                    m.column,
                    m.kind,
                    m.value,
                    serde_json::to_string(&m.boundary).unwrap_or_else(|_| "[]".into()),
                    id,
                    finished_at
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn watermark(&self, feed: &str) -> Result<Option<Watermark>, LakeError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT column_name, kind, value, boundary FROM watermarks WHERE feed = ?1",
                params![feed],
                |r| {
                    let boundary: String = r.get(3)?;
                    Ok(Watermark {
                        column: r.get(0)?,
                        kind: r.get(1)?,
                        value: r.get(2)?,
                        boundary: serde_json::from_str(&boundary).unwrap_or_default(),
                    })
                },
            )
            .optional()?)
    }

    pub fn log_pull(&self, p: &PullLog) -> Result<(), LakeError> {
        self.conn().execute(
            "INSERT INTO pulls (feed, source, started_at, finished_at, status, attempts, rows_read,
                rows_seen, delivery, watermark_from, watermark_to, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                p.feed,
                p.source,
                p.started_at,
                p.finished_at,
                p.status,
                p.attempts,
                p.rows_read as i64,
                p.rows_seen as i64,
                p.delivery,
                p.watermark_from,
                p.watermark_to,
                p.error
            ],
        )?;
        Ok(())
    }

    /// Each database feed's last pull and committed watermark, for `sanhu status`.
    pub fn pull_status(&self) -> Result<Vec<PullStatus>, LakeError> {
        let mut st = self.conn().prepare(
            "SELECT p.feed, p.source, p.finished_at, p.status, p.attempts, p.rows_read, p.error,
                    w.column_name, w.value, w.kind
             FROM pulls p LEFT JOIN watermarks w ON w.feed = p.feed
             WHERE p.id = (SELECT max(id) FROM pulls q WHERE q.feed = p.feed)
             ORDER BY p.feed",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(PullStatus {
                    feed: r.get(0)?,
                    source: r.get(1)?,
                    last_pull: r.get(2)?,
                    status: r.get(3)?,
                    attempts: r.get(4)?,
                    rows_read: r.get(5)?,
                    error: r.get(6)?,
                    watermark_column: r.get(7)?,
                    watermark: r.get(8)?,
                    watermark_kind: r.get(9)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn set_paths(
        &self,
        id: i64,
        archive: Option<&Path>,
        receipt: Option<&Path>,
    ) -> Result<(), LakeError> {
        self.conn().execute(
            "UPDATE deliveries SET archive_path = COALESCE(?2, archive_path), receipt_path = COALESCE(?3, receipt_path) WHERE id = ?1",
            params![id, archive.map(|p| p.display().to_string()), receipt.map(|p| p.display().to_string())],
        )?;
        Ok(())
    }

    /// Deliveries a crash left `pending`: (id, table, lake file).
    pub fn pending(&self) -> Result<Vec<(i64, Option<String>)>, LakeError> {
        let mut st = self
            .conn()
            .prepare("SELECT id, lake_file FROM deliveries WHERE status = 'pending'")?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn delete(&self, id: i64) -> Result<(), LakeError> {
        self.conn()
            .execute("DELETE FROM deliveries WHERE id = ?1", params![id])?;
        Ok(())
    }

    pub fn is_ingested(&self, id: i64) -> Result<bool, LakeError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT status FROM deliveries WHERE id = ?1",
                params![id],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .is_some_and(|s| s == "ingested"))
    }

    /// Committed deliveries without their receipt: the receipt is the last step of a delivery
    /// (file or database pull), so every crash after the commit leaves it unset. A database
    /// pull has no archive path, ever; that alone is not unfinished.
    pub fn unfinished(&self) -> Result<Vec<Unfinished>, LakeError> {
        let mut st = self.conn().prepare(
            "SELECT id, unit, file_name, sha256, status, feed, table_name, sheet, header_row, rows_read,
                    rows_accepted, rows_rejected, rows_warned, rows_skipped, reason, archive_path, receipt_path
             FROM deliveries
             WHERE status IN ('ingested', 'quarantined', 'duplicate') AND receipt_path IS NULL
             ORDER BY id",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(Unfinished {
                    id: r.get(0)?,
                    unit: r.get(1)?,
                    file_name: r.get(2)?,
                    sha256: r.get(3)?,
                    status: r.get(4)?,
                    feed: r.get(5)?,
                    table: r.get(6)?,
                    sheet: r.get(7)?,
                    header_row: r.get(8)?,
                    rows_read: r.get(9)?,
                    rows_accepted: r.get(10)?,
                    rows_rejected: r.get(11)?,
                    rows_warned: r.get(12)?,
                    rows_skipped: r.get(13)?,
                    reason: r.get(14)?,
                    archive_path: r.get(15)?,
                    receipt_path: r.get(16)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn deliveries(&self) -> Result<Vec<Delivery>, LakeError> {
        let mut st = self.conn().prepare(
            "SELECT id, unit, feed, table_name, file_name, sha256, bytes, file_mtime, received_at, status,
                    rows_accepted, rows_rejected, rows_warned, reason, archive_path FROM deliveries ORDER BY id",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(Delivery {
                    id: r.get(0)?,
                    unit: r.get(1)?,
                    feed: r.get(2)?,
                    table: r.get(3)?,
                    file_name: r.get(4)?,
                    sha256: r.get(5)?,
                    bytes: r.get(6)?,
                    file_mtime: r.get(7)?,
                    received_at: r.get(8)?,
                    status: r.get(9)?,
                    rows_accepted: r.get(10)?,
                    rows_rejected: r.get(11)?,
                    rows_warned: r.get(12)?,
                    reason: r.get(13)?,
                    archive_path: r.get(14)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
