//! The embedded database `data/sanhu.db`: the one module that opens it and owns its schema.
//!
//! Every table sanhu keeps beside the lake lives in this one SQLite file: the delivery ledger
//! and the pull log (`lake::ledger`), the run ledger and the claimed cron slots
//! (`schedule::ledger`), the exchange audit, and the accounts of the portal and the SQL
//! endpoint. The stages keep their own queries; what they share is here: how the file is opened
//! (WAL, so readers never block the one writer; a busy timeout, so a second writer waits instead
//! of failing; `synchronous = FULL`, so a committed delivery survives a power cut) and what its
//! schema is.
//!
//! The schema is a list of numbered migrations (`migrations/NNNN_name.sql`), applied in order
//! in one transaction and recorded in `PRAGMA user_version`. A database written by the release
//! before numbered migrations has version 0 and the baseline's tables created on first use; the
//! baseline (`IF NOT EXISTS`) adopts them as they are. A database newer than this binary is
//! refused rather than written by code that does not know its tables.
//!
//! Numbers are taken in order and never reused; a released migration is never edited (a
//! change is a new migration).

use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database file inside the data folder.
pub const DB_FILE: &str = "sanhu.db";

/// How long a connection waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// One step of the schema.
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// The schema, oldest first. `version` is the position (1-based): checked by a unit test.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "baseline",
        sql: include_str!("migrations/0001_baseline.sql"),
    },
    Migration {
        version: 2,
        name: "accounts",
        sql: include_str!("migrations/0002_accounts.sql"),
    },
];

/// The schema version this binary writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot create the data folder {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path}: migration {version} ({name}) failed")]
    Migration {
        path: PathBuf,
        version: u32,
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than this sanhu knows ({known}): \
         it was written by a newer release; use that release or a newer one"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
}

/// An open `sanhu.db`, migrated to [`latest_version`].
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

/// `data_dir/sanhu.db`.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE)
}

impl Db {
    /// Open (creating the folder and the file if needed) and bring the schema up to date.
    pub fn open(data_dir: &Path) -> Result<Db, StateError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StateError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        Self::open_file(db_path(data_dir))
    }

    /// Open the database of a data folder that has one; `None` (and nothing created) when the
    /// folder has none yet — for readers such as `sanhu status` on a fresh project.
    pub fn open_existing(data_dir: &Path) -> Result<Option<Db>, StateError> {
        let path = db_path(data_dir);
        if !path.is_file() {
            return Ok(None);
        }
        Self::open_file(path).map(Some)
    }

    fn open_file(path: PathBuf) -> Result<Db, StateError> {
        let sqlite = |source| StateError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(sqlite)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sqlite)?;
        let mut db = Db { conn, path };
        db.migrate()?;
        Ok(db)
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u32, StateError> {
        user_version(&self.conn).map_err(|source| StateError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// Apply every migration past the file's version, in one transaction taken for writing
    /// first, so two processes opening an old file at once migrate it once.
    fn migrate(&mut self) -> Result<(), StateError> {
        let path = self.path.clone();
        let sqlite = |source| StateError::Sqlite {
            path: path.clone(),
            source,
        };
        // Fast path without a write lock: readers of an up-to-date file take none.
        let found = user_version(&self.conn).map_err(sqlite)?;
        let known = latest_version();
        if found > known {
            return Err(StateError::TooNew { path, found, known });
        }
        if found == known {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        // Read again under the lock: another process may have migrated meanwhile.
        let found = user_version(&tx).map_err(sqlite)?;
        if found > known {
            return Err(StateError::TooNew { path, found, known });
        }
        for m in MIGRATIONS.iter().filter(|m| m.version > found) {
            tx.execute_batch(m.sql)
                .and_then(|()| tx.pragma_update(None, "user_version", m.version))
                .map_err(|source| StateError::Migration {
                    path: path.clone(),
                    version: m.version,
                    name: m.name,
                    source,
                })?;
            tracing::info!(version = m.version, name = m.name, db = %path.display(), "schema migrated");
        }
        tx.commit().map_err(sqlite)
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(db: &Db) -> Vec<String> {
        let mut st = db
            .conn()
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn versions_are_positions() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "migration {}", m.name);
        }
    }

    #[test]
    fn a_new_file_gets_every_table_and_the_latest_version() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Db::open_existing(dir.path()).unwrap().is_none());
        assert!(
            !dir.path().join(DB_FILE).exists(),
            "a reader creates nothing"
        );
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.schema_version().unwrap(), latest_version());
        let t = tables(&db);
        for want in [
            "deliveries",
            "exchange_audit",
            "pulls",
            "runs",
            "schedule_slots",
            "users",
            "watermarks",
        ] {
            assert!(t.iter().any(|x| x == want), "{want} in {t:?}");
        }
        let mode: String = db
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // Opening again migrates nothing and keeps the rows.
        db.conn()
            .execute(
                "INSERT INTO exchange_audit (unit, week, table_name, rows, rule, mode, package, sha256, created_at) VALUES ('customs', '2026-W47', 't', 3, 'r', 'full', 'p', 's', 'now')",
                [],
            )
            .unwrap();
        drop(db);
        let db = Db::open_existing(dir.path()).unwrap().unwrap();
        let n: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM exchange_audit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_file_of_the_release_before_migrations_is_adopted_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        // What that release left: user_version 0, the ledger's table with a row, no runs table.
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let baseline = include_str!("migrations/0001_baseline.sql");
        let deliveries = &baseline[baseline
            .find("CREATE TABLE IF NOT EXISTS deliveries")
            .unwrap()
            ..baseline
                .find("CREATE INDEX IF NOT EXISTS deliveries_sha")
                .unwrap()];
        conn.execute_batch(deliveries).unwrap();
        conn.execute(
            "INSERT INTO deliveries (id, unit, file_name, sha256, bytes, file_mtime, received_at, status) VALUES (7, 'customs', '报关单.xlsx', 'ab', 10, 'm', 'r', 'ingested')",
            [],
        )
        .unwrap();
        drop(conn);
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.schema_version().unwrap(), latest_version());
        let name: String = db
            .conn()
            .query_row("SELECT file_name FROM deliveries WHERE id = 7", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(name, "报关单.xlsx");
        assert!(tables(&db).iter().any(|t| t == "runs"));
    }

    #[test]
    fn a_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        drop(conn);
        let e = Db::open(dir.path()).unwrap_err();
        assert!(
            matches!(e, StateError::TooNew { found, .. } if found == latest_version() + 1),
            "{e}"
        );
        assert!(e.to_string().contains("newer than this sanhu knows"), "{e}");
    }

    #[test]
    fn a_failed_migration_names_itself_and_leaves_the_version() {
        let dir = tempfile::tempdir().unwrap();
        // A `users` table of another shape makes the accounts migration's index fail.
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch("CREATE TABLE users (x INTEGER)")
            .unwrap();
        drop(conn);
        let e = Db::open(dir.path()).unwrap_err();
        assert!(
            matches!(e, StateError::Migration { version: 2, .. }),
            "{e:?}"
        );
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 0, "nothing half applied");
    }
}
