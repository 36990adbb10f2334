//! SQLite files (`.sqlite`, `.db`) dropped in the inbox: each table is a sheet whose first row is
//! its column names, so header and feed detection work as for a workbook.
//!
//! The file is opened read-only and immutable (no journal, no lock, no `-wal` file needed), with
//! `trusted_schema` off so nothing in the file's schema runs our functions. Only real tables are
//! read, never views or triggers; a table's claimed size is not trusted: rows are counted as they
//! are read and the table is refused past the project's row limit.

use super::{IntakeError, RawCell, SheetPreview, Visit};
use crate::config::spec::IntakeLimits;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

fn open(path: &Path) -> Result<Connection, IntakeError> {
    let uri = format!(
        "file:{}?immutable=1",
        path.display()
            .to_string()
            .replace('%', "%25")
            .replace('?', "%3f")
            .replace('#', "%23")
    );
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(corrupt)?;
    conn.execute_batch("PRAGMA trusted_schema = OFF; PRAGMA query_only = ON;")
        .map_err(corrupt)?;
    Ok(conn)
}

fn corrupt(e: rusqlite::Error) -> IntakeError {
    IntakeError::Corrupt(format!("SQLite 数据库无法读取：{e}"))
}

fn tables(conn: &Connection) -> Result<Vec<String>, IntakeError> {
    let mut st = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid",
        )
        .map_err(corrupt)?;
    let names = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(corrupt)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(corrupt)?;
    Ok(names)
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn cell(v: ValueRef<'_>) -> RawCell {
    match v {
        ValueRef::Null => RawCell::Empty,
        ValueRef::Integer(i) => RawCell::Int(i),
        ValueRef::Real(f) => RawCell::Number(f),
        ValueRef::Text(t) => RawCell::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(_) => RawCell::Error("二进制数据".into()),
    }
}

/// Read `table` row by row: the column names as row 1, then the data from row 2.
fn read_table(
    conn: &Connection,
    table: &str,
    limits: &IntakeLimits,
    max_rows: Option<usize>,
    visit: &mut Visit<'_>,
) -> Result<(), IntakeError> {
    let mut st = conn
        .prepare(&format!("SELECT * FROM {}", quote(table)))
        .map_err(corrupt)?;
    let names: Vec<RawCell> = st
        .column_names()
        .into_iter()
        .map(|n| RawCell::Text(n.to_string()))
        .collect();
    if names.len() > limits.max_columns as usize {
        return Err(IntakeError::SheetTooLarge {
            sheet: table.to_string(),
            rows: 0,
            cols: names.len() as u64,
            max_rows: limits.max_rows,
            max_cols: limits.max_columns,
        });
    }
    if !visit(1, &names) {
        return Ok(());
    }
    let width = names.len();
    let mut rows = st.query([]).map_err(corrupt)?;
    let mut row_no: u32 = 1;
    let mut cells: Vec<RawCell> = Vec::with_capacity(width);
    while let Some(r) = rows.next().map_err(corrupt)? {
        row_no += 1;
        if u64::from(row_no - 1) > limits.max_rows {
            return Err(IntakeError::SheetTooLarge {
                sheet: table.to_string(),
                rows: u64::from(row_no - 1),
                cols: width as u64,
                max_rows: limits.max_rows,
                max_cols: limits.max_columns,
            });
        }
        cells.clear();
        for i in 0..width {
            cells.push(r.get_ref(i).map(cell).unwrap_or(RawCell::Empty));
        }
        if !visit(row_no, &cells) || max_rows.is_some_and(|m| row_no as usize >= m) {
            break;
        }
    }
    Ok(())
}

pub fn preview(
    path: &Path,
    limits: &IntakeLimits,
    max_rows: usize,
) -> Result<Vec<SheetPreview>, IntakeError> {
    let conn = open(path)?;
    let mut out = Vec::new();
    for t in tables(&conn)? {
        let mut rows = Vec::new();
        read_table(&conn, &t, limits, Some(max_rows), &mut |n, c| {
            rows.push((n, c.to_vec()));
            true
        })?;
        out.push(SheetPreview { name: t, rows });
    }
    if out.is_empty() {
        return Err(IntakeError::Corrupt("SQLite 数据库中没有数据表".into()));
    }
    Ok(out)
}

pub fn stream(
    path: &Path,
    table: &str,
    limits: &IntakeLimits,
    visit: &mut Visit<'_>,
) -> Result<(), IntakeError> {
    let conn = open(path)?;
    read_table(&conn, table, limits, None, visit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_read_as_sheets_with_names_as_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("export.db");
        let c = Connection::open(&p).unwrap();
        c.execute_batch(
            "CREATE TABLE \"欠税\" (notice_no TEXT, amount REAL, n INTEGER, note BLOB);
             INSERT INTO \"欠税\" VALUES ('QS-1', 12.5, 3, NULL), ('QS-2', NULL, NULL, x'00ff');
             CREATE VIEW v AS SELECT 1;
             CREATE TABLE empty (a TEXT, b TEXT);",
        )
        .unwrap();
        drop(c);
        let limits = IntakeLimits::default();
        let sheets = preview(&p, &limits, 30).unwrap();
        assert_eq!(
            sheets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["欠税", "empty"]
        );
        assert_eq!(sheets[0].rows.len(), 3);
        assert_eq!(sheets[0].rows[0].1[0], RawCell::Text("notice_no".into()));
        assert_eq!(
            sheets[0].rows[1],
            (
                2,
                vec![
                    RawCell::Text("QS-1".into()),
                    RawCell::Number(12.5),
                    RawCell::Int(3),
                    RawCell::Empty
                ]
            )
        );
        assert_eq!(sheets[0].rows[2].1[3], RawCell::Error("二进制数据".into()));
        let small = IntakeLimits {
            max_rows: 1,
            ..IntakeLimits::default()
        };
        let err = stream(&p, "欠税", &small, &mut |_, _| true).unwrap_err();
        assert!(
            matches!(err, IntakeError::SheetTooLarge { rows: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_damaged_file_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.db");
        let mut bytes = b"SQLite format 3\0".to_vec();
        bytes.extend(std::iter::repeat_n(0xA5u8, 4096));
        std::fs::write(&p, bytes).unwrap();
        let err = preview(&p, &IntakeLimits::default(), 30).unwrap_err();
        assert!(matches!(err, IntakeError::Corrupt(_)), "{err}");
    }
}
