//! Database feeds against the real servers on the machine (PostgreSQL on 127.0.0.1:5432 with
//! trust auth, MariaDB on 127.0.0.1:3306 as root without a password; `.ci/run` starts them).
//! Each test creates its own database, loads an agency-shaped table with the servers' own
//! clients, pulls with the real binary, and checks the lake row by row.

use crate::common::Project;
use std::process::Command;

const PG_ENV: &str = "SANHU_IT_CUSTOMS_PG";
const MY_ENV: &str = "SANHU_IT_TAX_MYSQL";

/// A scratch database on one server, dropped when the test ends.
struct Db {
    engine: &'static str,
    name: String,
}

impl Db {
    fn postgres(tag: &str) -> Db {
        let db = Db {
            engine: "postgres",
            name: format!("sanhu_it_{tag}_{}", std::process::id()),
        };
        db.admin(&format!("DROP DATABASE IF EXISTS {}", db.name));
        db.admin(&format!("CREATE DATABASE {}", db.name));
        db
    }

    fn mysql(tag: &str) -> Db {
        let db = Db {
            engine: "mysql",
            name: format!("sanhu_it_{tag}_{}", std::process::id()),
        };
        db.admin(&format!(
            "DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0} CHARACTER SET utf8mb4",
            db.name
        ));
        db
    }

    fn url(&self) -> String {
        match self.engine {
            "postgres" => format!("postgresql://postgres@127.0.0.1:5432/{}", self.name),
            _ => format!("mysql://root@127.0.0.1:3306/{}", self.name),
        }
    }

    fn client(&self, database: &str, sql: &str) {
        let out = match self.engine {
            "postgres" => Command::new("psql")
                .args(["-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-q"])
                .args(["-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql])
                .output(),
            _ => Command::new("mariadb")
                .args(["-h", "127.0.0.1", "-P", "3306", "-u", "root"])
                .args(["--default-character-set=utf8mb4", database, "-e", sql])
                .output(),
        }
        .unwrap_or_else(|e| panic!("{} client: {e}", self.engine));
        assert!(
            out.status.success(),
            "{} `{sql}` failed: {}",
            self.engine,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn admin(&self, sql: &str) {
        let admin_db = if self.engine == "postgres" {
            "postgres"
        } else {
            "mysql"
        };
        self.client(admin_db, sql);
    }

    fn sql(&self, sql: &str) {
        self.client(&self.name, sql);
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {}", self.name);
        let _ = match self.engine {
            "postgres" => Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-q",
                    "-d",
                    "postgres",
                    "-c",
                    &sql,
                ])
                .output(),
            _ => Command::new("mariadb")
                .args(["-h", "127.0.0.1", "-u", "root", "-e", &sql])
                .output(),
        };
    }
}

/// The customs declarations as the customs office's database holds them: pinyin column names
/// with the Chinese titles in column comments, one timestamp with a zone, the others without.
const PG_TABLE: &str = "
CREATE TABLE bgd (
    bgdh        varchar(18) PRIMARY KEY,
    jck         varchar(2),
    sbhg        varchar(4),
    jgfs        varchar(4),
    sfhr        varchar(18),
    sbsj        timestamptz,
    jdsj        timestamp,
    fxsj        timestamp,
    cy          boolean,
    hz          numeric(16,2),
    updated_at  timestamptz NOT NULL
);
COMMENT ON COLUMN bgd.bgdh IS '报关单号';
COMMENT ON COLUMN bgd.jck IS '进出口';
COMMENT ON COLUMN bgd.sbhg IS '申报地海关';
COMMENT ON COLUMN bgd.jgfs IS '监管方式';
COMMENT ON COLUMN bgd.sfhr IS '收发货人';
COMMENT ON COLUMN bgd.sbsj IS '申报时间';
COMMENT ON COLUMN bgd.jdsj IS '接单时间';
COMMENT ON COLUMN bgd.fxsj IS '放行时间';
COMMENT ON COLUMN bgd.cy IS '是否查验';
COMMENT ON COLUMN bgd.hz IS '货值(元)';
-- Two rows share the last update time: the boundary the next pull starts from.
INSERT INTO bgd VALUES
 ('020120261000000001','I','0201','0110','91310110666007217T','2026-11-09 09:00+08','2026-11-09 09:30','2026-11-09 13:00',false,1000.00,'2026-11-10 08:00+08'),
 ('020120261000000002','I','0201','0110',NULL,'2026-11-10 02:00+00',NULL,NULL,NULL,NULL,'2026-11-10 08:00+08'),
 ('020120261000000003','X','0201','0110',NULL,'2026-11-10 09:00+08',NULL,NULL,true,5.5,'2026-11-10 07:00+08');
";

fn pg_feed(p: &Project, extra: &str) {
    std::fs::write(
        p.path().join("pipelines/customs_db.toml"),
        format!(
            r#"feed = "customs_db"
unit = "customs"
table = "customs_declaration"
title = "报关单数据（海关数据库）"

[source]
kind = "postgres"
connection_env = "{PG_ENV}"
table = "public.bgd"
watermark = "updated_at"
{extra}
"#
        ),
    )
    .unwrap();
}

const DECL_SQL: &str = "SELECT entry_id, ie_flag, consignee_uscc, declared_at, accepted_at, released_at, inspected, total_value_cny FROM customs_declaration ORDER BY entry_id";

fn pull(p: &Project, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let mut a = vec!["pull"];
    a.extend_from_slice(args);
    let out = p.sanhu_env(&a, env);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn postgres_incremental_pulls_keep_the_boundary_rows_once() {
    let db = Db::postgres("incr");
    db.sql(PG_TABLE);
    let p = Project::bundled();
    pg_feed(&p, "");
    let url = db.url();
    let env = [(PG_ENV, url.as_str())];

    // First pull: everything; row 3's 进出口 `X` is rejected with its place.
    let (ok, out, err) = pull(&p, &env, &[]);
    assert!(ok, "{out}\n{err}");
    assert_eq!(
        out.trim(),
        "pull customs_db: pulled (3 rows read, 2 accepted, 1 rejected, 0 already taken; \
         watermark start -> 2026-11-10 00:00:00.000000+00:00)"
    );
    // Declared 09:00 in Ordos (+08) and 02:00 UTC are both stored as instants; the wall times
    // without a zone are read as local time, like a spreadsheet's.
    assert_eq!(
        p.csv(DECL_SQL),
        "entry_id,ie_flag,consignee_uscc,declared_at,accepted_at,released_at,inspected,total_value_cny\n\
         020120261000000001,I,91310110666007217T,2026-11-09T01:00:00Z,2026-11-09T01:30:00Z,2026-11-09T05:00:00Z,false,1000.00\n\
         020120261000000002,I,,2026-11-10T02:00:00Z,,,,\n"
    );
    assert_eq!(
        p.csv("SELECT file, sheet, row, column, value, reason FROM quarantine"),
        "file,sheet,row,column,value,reason\n\
         customs_db@public.bgd,public.bgd,3,进出口,X,“进出口”取值“X”不在允许范围（I、E）\n"
    );

    // Later: a row arrives with exactly the last update time (it must not be lost), one row is
    // new, and row 2 is corrected.
    db.sql(
        "INSERT INTO bgd VALUES
         ('020120260000000004','E','0201','9610',NULL,'2026-11-10 09:30+08',NULL,NULL,false,300,'2026-11-10 08:00+08'),
         ('020120260000000005','E','0201','9610',NULL,'2026-11-11 08:00+08',NULL,NULL,false,42.10,'2026-11-11 08:00+08');
         UPDATE bgd SET jdsj = '2026-11-10 10:20', fxsj = '2026-11-11 10:00', updated_at = '2026-11-11 09:00+08'
          WHERE bgdh = '020120261000000002';",
    );
    let (ok, out, err) = pull(&p, &env, &[]);
    assert!(ok, "{out}\n{err}");
    assert_eq!(
        out.trim(),
        "pull customs_db: pulled (3 rows read, 3 accepted, 0 rejected, 1 already taken; \
         watermark 2026-11-10 00:00:00.000000+00:00 -> 2026-11-11 01:00:00.000000+00:00)"
    );
    assert_eq!(
        p.csv(DECL_SQL),
        "entry_id,ie_flag,consignee_uscc,declared_at,accepted_at,released_at,inspected,total_value_cny\n\
         020120260000000004,E,,2026-11-10T01:30:00Z,,,false,300.00\n\
         020120260000000005,E,,2026-11-11T00:00:00Z,,,false,42.10\n\
         020120261000000001,I,91310110666007217T,2026-11-09T01:00:00Z,2026-11-09T01:30:00Z,2026-11-09T05:00:00Z,false,1000.00\n\
         020120261000000002,I,,2026-11-10T02:00:00Z,2026-11-10T02:20:00Z,2026-11-11T02:00:00Z,,\n"
    );
    // Every version once: 2 + 3 rows over two deliveries.
    assert_eq!(
        p.csv("SELECT _delivery, count(*) AS n FROM customs_declaration_history GROUP BY _delivery ORDER BY _delivery"),
        "_delivery,n\n1,2\n2,3\n"
    );

    // Nothing changed: the boundary row is read again and recognised.
    let (ok, out, _) = pull(&p, &env, &[]);
    assert!(ok);
    assert_eq!(
        out.trim(),
        "pull customs_db: nothing new (0 rows read, 0 accepted, 0 rejected, 1 already taken; \
         watermark 2026-11-11 01:00:00.000000+00:00 -> unchanged)"
    );
    // A backfill from a chosen value reads that window again (rows 5 and 2 here) whatever the
    // committed watermark; the watermark stays at the largest value seen.
    let (ok, out, _) = pull(&p, &env, &["--since", "2026-11-11 00:00:00+00"]);
    assert!(ok);
    assert_eq!(
        out.trim(),
        "pull customs_db: pulled (2 rows read, 2 accepted, 0 rejected, 0 already taken; \
         watermark 2026-11-11 00:00:00+00 -> 2026-11-11 01:00:00.000000+00:00)"
    );
    let (ok, out, _) = pull(&p, &env, &[]);
    assert!(ok);
    assert!(
        out.contains("nothing new (0 rows read, 0 accepted, 0 rejected, 1 already taken"),
        "{out}"
    );
    // `status` shows the feed's last pull and its committed watermark; a pull (no file to
    // archive) is not mistaken for a delivery a crash left unfinished.
    let out = p.sanhu(&["status"]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("recovered from an interrupted run"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = p.ok(&["status"]);
    let line = status
        .lines()
        .find(|l| l.starts_with("| customs_db "))
        .unwrap_or_else(|| panic!("{status}"));
    let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
    assert_eq!(cells[0], "customs_db", "{line}");
    assert_eq!(cells[2], "nothing new", "{line}");
    assert_eq!(cells[4], "2026-11-11 01:00:00.000000+00:00", "{line}");
    assert_eq!(cells[5], "-", "{line}");
    // The receipt of the first pull lists the rejected row for the customs office.
    let receipts = p.receipts("customs");
    assert_eq!(receipts.len(), 3);
    assert_eq!(receipts[0]["file_name"], "customs_db@public.bgd");
    assert_eq!(receipts[0]["rows_rejected"], 1);
}

#[test]
fn a_crash_between_lake_write_and_ledger_commit_repeats_the_window() {
    let db = Db::postgres("crash");
    db.sql(PG_TABLE);
    let p = Project::bundled();
    pg_feed(&p, "");
    let url = db.url();
    let env = [(PG_ENV, url.as_str())];
    assert!(pull(&p, &env, &[]).0);
    db.sql(
        "INSERT INTO bgd VALUES ('020120261000000006','I','0201','0110',NULL,'2026-11-12 08:00+08',NULL,NULL,false,1,'2026-11-12 08:00+08')",
    );
    // The process dies after the Parquet file is in place, before the ledger commit.
    let crash = p.sanhu_env(
        &["pull"],
        &[
            (PG_ENV, url.as_str()),
            ("SANHU_FAILPOINT", "pull:after-lake-commit"),
        ],
    );
    assert_eq!(crash.status.code(), Some(86));
    // The next run recovers (removes the uncommitted delivery's file) and reads the same
    // window again: row 6 lands once, rows 1 and 2 (at the old watermark) are not repeated.
    let (ok, out, err) = pull(&p, &env, &[]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("1 rows read, 1 accepted, 0 rejected, 2 already taken"),
        "{out}"
    );
    assert_eq!(
        p.csv("SELECT entry_id, count(*) AS n FROM customs_declaration_history GROUP BY entry_id ORDER BY entry_id"),
        "entry_id,n\n020120261000000001,1\n020120261000000002,1\n020120261000000006,1\n"
    );

    // Upstream turns the watermark column into text: the comparison still runs on the server,
    // but the values are no longer times. When rows come, it is said on one line; nothing lands.
    db.sql("ALTER TABLE bgd ALTER COLUMN updated_at TYPE text");
    db.sql(
        "INSERT INTO bgd VALUES ('020120261000000007','I','0201','0110',NULL,'2026-11-13 08:00+08',NULL,NULL,false,1,'2026-11-13 08:00+08')",
    );
    let (ok, _, err) = pull(&p, &env, &[]);
    assert!(!ok);
    assert_eq!(
        err.lines().find(|l| l.starts_with("pull customs_db")),
        Some(
            "pull customs_db: failed after 1 attempt(s): watermark column `updated_at` changed type upstream, \
             from timestamp with time zone (UTC) to text; check with the agency, then run `sanhu pull --feed customs_db --full`"
        )
    );
    assert_eq!(
        p.csv("SELECT count(*) AS n FROM customs_declaration_history"),
        "n\n3\n"
    );
}

/// Tax arrears in the tax bureau's MariaDB: Chinese column names, an increasing id.
const MY_TABLE: &str = "
CREATE TABLE qs (
    id INT AUTO_INCREMENT PRIMARY KEY,
    `缴款书号` varchar(20) NOT NULL COMMENT '税款缴款书号',
    `企业代码` varchar(18),
    `缴款期限` date,
    `缴款日期` date,
    `欠税金额` decimal(14,2),
    `修改时间` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO qs (`缴款书号`,`企业代码`,`缴款期限`,`缴款日期`,`欠税金额`) VALUES
 ('QS2026-001','91310110666007217T','2026-08-31',NULL,12000.50),
 ('QS2026-002','91110108551385082Q','2026-09-30','2026-10-15',800.00);
";

fn my_feed(p: &Project) {
    std::fs::write(
        p.path().join("pipelines/tax_db.toml"),
        format!(
            r#"feed = "tax_db"
unit = "customs"
table = "tax_arrears"
title = "欠税记录（税务数据库）"

[source]
kind = "mysql"
connection_env = "{MY_ENV}"
table = "qs"
watermark = "id"
retries = 0
"#
        ),
    )
    .unwrap();
}

#[test]
fn mariadb_pull_by_increasing_id_then_a_dropped_column_fails_only_its_feed() {
    let pg = Db::postgres("both");
    pg.sql(PG_TABLE);
    let my = Db::mysql("both");
    my.sql(MY_TABLE);
    let p = Project::bundled();
    pg_feed(&p, "");
    my_feed(&p);
    let (pu, mu) = (pg.url(), my.url());
    let env = [(PG_ENV, pu.as_str()), (MY_ENV, mu.as_str())];

    let (ok, out, err) = pull(&p, &env, &["--feed", "tax_db"]);
    assert!(ok, "{out}\n{err}");
    assert_eq!(
        out.trim(),
        "pull tax_db: pulled (2 rows read, 2 accepted, 0 rejected, 0 already taken; watermark start -> 2)"
    );
    my.sql("INSERT INTO qs (`缴款书号`,`企业代码`,`缴款期限`,`欠税金额`) VALUES ('QS2026-003','91430111MA4L41YT1U','2026-10-31',55.00)");
    let (ok, out, _) = pull(&p, &env, &["--feed", "tax_db"]);
    assert!(ok);
    assert_eq!(
        out.trim(),
        "pull tax_db: pulled (1 rows read, 1 accepted, 0 rejected, 1 already taken; watermark 2 -> 3)"
    );
    assert_eq!(
        p.csv("SELECT notice_no, uscc, due_on, paid_on, amount_cny FROM tax_arrears ORDER BY notice_no"),
        "notice_no,uscc,due_on,paid_on,amount_cny\n\
         QS2026-001,91310110666007217T,2026-08-31,,12000.50\n\
         QS2026-002,91110108551385082Q,2026-09-30,2026-10-15,800.00\n\
         QS2026-003,91430111MA4L41YT1U,2026-10-31,,55.00\n"
    );

    // Upstream drops a required column. The tax feed fails on one line naming it and what is
    // missing; the customs feed in the same run is pulled all the same.
    my.sql("ALTER TABLE qs DROP COLUMN `缴款期限`; INSERT INTO qs (`缴款书号`,`欠税金额`) VALUES ('QS2026-004', 1.00)");
    let (ok, out, err) = pull(&p, &env, &[]);
    assert!(!ok);
    assert!(
        out.contains("pull customs_db: pulled (3 rows read, 2 accepted"),
        "{out}"
    );
    assert_eq!(
        err.lines().find(|l| l.starts_with("pull tax_db")),
        Some(
            "pull tax_db: failed after 1 attempt(s): qs lacks required column(s) 缴款期限 of table `tax_arrears` (dropped or renamed upstream?)"
        )
    );
    // Nothing of the failed pull landed and its watermark did not move.
    assert_eq!(
        p.csv("SELECT count(*) AS n FROM tax_arrears_history"),
        "n\n3\n"
    );
}

#[test]
fn a_full_pull_replaces_a_reference_table_and_an_unchanged_one_adds_nothing() {
    let db = Db::postgres("full");
    db.sql(
        "CREATE VIEW rwqd AS SELECT * FROM (VALUES
           ('3.1.1','三(一)','电子口岸平台建设','commerce','commerce;customs',date '2020-12-31'),
           ('3.1.2','三(一)','跨境电商平台建设','commerce','commerce;park',NULL)) AS t(任务编号, 所属章节, 任务名称, 牵头单位, 责任单位, 完成时限);",
    );
    let p = Project::bundled();
    std::fs::write(
        p.path().join("pipelines/tasks_db.toml"),
        format!(
            r#"feed = "tasks_db"
unit = "commerce"
table = "task_registry"
title = "任务清单（数据库）"

[source]
kind = "postgres"
connection_env = "{PG_ENV}"
table = "rwqd"
pull = "full"
"#
        ),
    )
    .unwrap();
    let url = db.url();
    let env = [(PG_ENV, url.as_str())];
    let tasks = "SELECT task_id, title, lead_unit, deadline FROM task_registry ORDER BY task_id";
    let (ok, out, err) = pull(&p, &env, &[]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("tasks_db: pulled (2 rows read, 2 accepted"),
        "{out}"
    );
    assert_eq!(
        p.csv(tasks),
        "task_id,title,lead_unit,deadline\n3.1.1,电子口岸平台建设,commerce,2020-12-31\n3.1.2,跨境电商平台建设,commerce,\n"
    );
    // The same table again: recognised, no delivery.
    let (ok, out, _) = pull(&p, &env, &[]);
    assert!(ok);
    assert!(
        out.contains("tasks_db: nothing new (0 rows read, 0 accepted, 0 rejected, 2 already taken"),
        "{out}"
    );
    // The view now lists one task, renamed: the table is replaced, the dropped task is gone.
    db.sql(
        "CREATE OR REPLACE VIEW rwqd AS SELECT * FROM (VALUES
           ('3.1.2','三(一)','跨境电子商务平台建设','commerce','commerce;park',date '2021-06-30')) AS t(任务编号, 所属章节, 任务名称, 牵头单位, 责任单位, 完成时限);",
    );
    let (ok, out, _) = pull(&p, &env, &[]);
    assert!(ok);
    assert!(
        out.contains("tasks_db: pulled (1 rows read, 1 accepted"),
        "{out}"
    );
    assert_eq!(
        p.csv(tasks),
        "task_id,title,lead_unit,deadline\n3.1.2,跨境电子商务平台建设,commerce,2021-06-30\n"
    );
}

#[test]
fn unreachable_servers_and_bad_settings_are_one_line_each() {
    let p = Project::bundled();
    pg_feed(&p, "retries = 2\nbackoff_secs = 0.05");
    // Nothing listens on port 1: refused, retried twice, then reported.
    let (ok, _, err) = pull(
        &p,
        &[(PG_ENV, "postgresql://clerk:hunter2@127.0.0.1:1/x")],
        &[],
    );
    assert!(!ok);
    let line = err
        .lines()
        .find(|l| l.starts_with("pull customs_db"))
        .unwrap();
    assert!(
        line.starts_with("pull customs_db: failed after 3 attempt(s): "),
        "{line}"
    );
    assert!(!err.contains("hunter2"), "the password leaked: {err}");
    // The variable is missing: said plainly, not retried.
    let (ok, _, err) = pull(&p, &[], &[]);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "pull customs_db: failed: environment variable {PG_ENV} is not set"
        )),
        "{err}"
    );
    // Bad credentials are not retried either.
    let (ok, _, err) = pull(
        &p,
        &[(
            PG_ENV,
            "postgresql://no_such_role_sanhu@127.0.0.1:5432/postgres",
        )],
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("pull customs_db: failed after 1 attempt(s): "),
        "{err}"
    );
    assert!(err.contains("no_such_role_sanhu"), "{err}");
}

#[test]
fn database_sources_are_checked_with_their_line() {
    let p = Project::bundled();
    std::fs::write(
        p.path().join("pipelines/bad_db.toml"),
        r#"feed = "bad_db"
unit = "customs"
table = "tax_arrears"
title = "x"

[source]
kind = "postgres"
connection_env = "postgres://root:pw@host/db"
table = "qs"
pull = "full"
"#,
    )
    .unwrap();
    let out = p.sanhu(&["validate"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad_db.toml:8:18: `connection_env = \"postgres://root:pw@host/db\"` must name an environment variable"),
        "{err}"
    );
    assert!(
        err.contains("bad_db.toml:10:8: `pull = \"full\"` reads the whole table each time: give table `tax_arrears` `mode = \"replace_all\"` in its schema (it has `upsert`)"),
        "{err}"
    );
}

#[test]
fn sqlite_files_and_sql_dump_csvs_are_read_like_sheets() {
    let p = Project::bundled();
    let dir = p.inbox("customs");
    let db = rusqlite::Connection::open(dir.join("欠税导出.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE 说明 (版本 TEXT);
         INSERT INTO 说明 VALUES ('v1');
         CREATE TABLE 欠税 (缴款书号 TEXT, 企业代码 TEXT, 缴款期限 TEXT, 缴款日期 TEXT, 欠税金额 REAL);
         INSERT INTO 欠税 VALUES ('QS-S1','91310110666007217T','2026-08-31',NULL,12.5),
                                ('QS-S2','91110108551385082Q','2026/09/30','2026-10-01',7),
                                ('QS-S3','bad','2026-09-30',NULL,1);",
    )
    .unwrap();
    drop(db);
    // A PostgreSQL COPY … (FORMAT csv, NULL '\N') export.
    std::fs::write(
        dir.join("欠税_copy.csv"),
        "缴款书号,企业代码,缴款期限,缴款日期,欠税金额\nQS-C1,91430111MA4L41YT1U,2026-10-31,\\N,55.00\n",
    )
    .unwrap();
    let out = p.ok(&["ingest"]);
    assert!(
        out.contains("ingested 2 file(s): 4 rows accepted, 0 rows rejected"),
        "{out}"
    );
    // A bad USCC outside the key is a warning: the row lands and the clerk is told.
    assert_eq!(
        p.csv("SELECT notice_no, uscc, due_on, paid_on, amount_cny FROM tax_arrears ORDER BY notice_no"),
        "notice_no,uscc,due_on,paid_on,amount_cny\n\
         QS-C1,91430111MA4L41YT1U,2026-10-31,,55.00\n\
         QS-S1,91310110666007217T,2026-08-31,,12.50\n\
         QS-S2,91110108551385082Q,2026-09-30,2026-10-01,7.00\n\
         QS-S3,bad,2026-09-30,,1.00\n"
    );
    assert_eq!(
        p.csv("SELECT file, sheet, row, column, severity FROM quarantine"),
        "file,sheet,row,column,severity\n欠税导出.db,欠税,4,企业代码,警告\n"
    );
}
