//! Shared helpers for the integration tests: a fresh copy of the bundled project in a temp dir,
//! and a way to run the real binary in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Project {
    pub dir: tempfile::TempDir,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

impl Project {
    /// The bundled Ordos configuration in a temp dir, with an empty data folder.
    pub fn bundled() -> Project {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        // The seed registry is left out so each test controls every delivery it counts.
        let settings = std::fs::read_to_string(root.join("sanhu.toml")).unwrap();
        let settings = settings.replace(
            "[[seeds]]\nfile = \"seed/task_registry.csv\"\nunit = \"commerce\"\n",
            "",
        );
        std::fs::write(dir.path().join("sanhu.toml"), settings).unwrap();
        for f in ["credit_rules.toml", "sharing.toml"] {
            std::fs::copy(root.join(f), dir.path().join(f)).unwrap();
        }
        for d in ["schemas", "pipelines", "queries", "reports", "seed"] {
            if root.join(d).is_dir() {
                copy_dir(&root.join(d), &dir.path().join(d));
            }
        }
        Project { dir }
    }

    /// The bundled project exactly as shipped, with its `[[seeds]]`.
    pub fn bundled_with_seeds() -> Project {
        let p = Project::bundled();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(root.join("sanhu.toml"), p.path().join("sanhu.toml")).unwrap();
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn inbox(&self, unit: &str) -> PathBuf {
        let p = self.path().join("data/inbox").join(unit);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    pub fn drop_file(&self, unit: &str, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.inbox(unit).join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    pub fn sanhu(&self, args: &[&str]) -> Output {
        self.sanhu_env(args, &[])
    }

    /// Run with extra environment variables (a database feed's connection URL, a failpoint).
    pub fn sanhu_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sanhu"))
            .arg("--project")
            .arg(self.path())
            .arg("--quiet")
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("SANHU_LOG")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.sanhu(args);
        assert!(
            out.status.success(),
            "sanhu {args:?} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A query's result as CSV text.
    pub fn csv(&self, sql: &str) -> String {
        self.ok(&["query", sql, "--format", "csv"])
    }

    /// Files under a data subfolder, relative, sorted.
    pub fn files_under(&self, sub: &str) -> Vec<String> {
        let base = self.path().join("data").join(sub);
        let mut out = Vec::new();
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    walk(base, &e.path(), out);
                } else {
                    out.push(e.path().strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
        walk(&base, &base, &mut out);
        out.sort();
        out
    }

    pub fn receipts(&self, unit: &str) -> Vec<serde_json::Value> {
        let dir = self.path().join("data/receipts").join(unit);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

/// Set a file's modification time (the delivery time sanhu judges timeliness by), RFC 3339.
pub fn set_mtime(path: &Path, utc: &str) {
    let t = chrono::DateTime::parse_from_rfc3339(utc).unwrap();
    let st =
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(t.timestamp() as u64);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(st)
        .unwrap();
}

impl Project {
    /// The weekly workbook's model for `week` in one edition, built in-process over this project.
    pub fn weekly_workbook(
        &self,
        week: &str,
        edition: sanhu::report::Edition,
    ) -> sanhu::report::workbook::Workbook {
        let project = sanhu::config::load(self.path()).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let as_of = sanhu::jobs::week_as_of(&project, week).unwrap();
            let (ctx, _) = sanhu::jobs::session(&project, as_of).await.unwrap();
            sanhu::report::build_workbook(&ctx, &project, "weekly", week, edition)
                .await
                .unwrap()
        })
    }
}

/// Compare `actual` with `tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites the file instead.
pub fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}: run with UPDATE_GOLDEN=1", path.display()));
    if want != actual {
        let diff: Vec<String> = want
            .lines()
            .zip(actual.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(10)
            .map(|(i, (a, b))| format!("line {}:\n  want: {a}\n  got:  {b}", i + 1))
            .collect();
        panic!(
            "{} differs ({} vs {} lines):\n{}",
            path.display(),
            want.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

/// A customs declaration CSV as a clerk exports it (header variety on purpose).
pub const DECLARATIONS_CSV: &str = "\
报关单编号,进出口,申报地海关,监管方式,收发货人,申报时间,接单时间,放行时间,是否查验,货值（元）
020120261000000001,进口,0201,110,91310110666007217T,2026-11-09 09:00,2026-11-09 09:30,2026-11-09 13:00,否,\"1,000.00\"
020120261000000002,进口,0201,0110,91110108551385082Q,2026/11/10 10:00,2026/11/10 10:20,2026/11/11 10:00,是,2500.5
020120260000000003,出口,0201,9610,91430111MA4L41YT1U,2026年11月11日,,,否,300
020120261000000004,进口,0201,0110,91310110666007217T,2026-11-12 15:00,2026-11-12 15:10,2026-11-12 14:00,否,10
020120261000000005,I,0201,0615,91310110666007217A,2026-11-13 08:00,2026-11-13 08:05,2026-11-13 09:00,否,20
";
