//! Exact-output snapshots of the CLI's main outputs, temp paths filtered: `validate` problems,
//! `status` as a table, an ingest summary with its quarantine lines. A change shows as a diff;
//! accept it with `cargo insta review` (or `INSTA_UPDATE=always`) after reading it.

use crate::common::{self, Project};

fn filtered(p: &Project, f: impl FnOnce()) {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex_escape(&p.path().display().to_string()), "[PROJECT]");
    // Wall-clock times of the run itself (lake files, runs) are not part of the output's shape.
    s.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "[TIME]");
    s.add_filter(r"\| \d+\.\d +\|", "| [SECS] |");
    s.bind(f);
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$#&-~".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[test]
fn validate_problems() {
    let p = Project::bundled();
    let settings = p.path().join("sanhu.toml");
    let mut text = std::fs::read_to_string(&settings).unwrap();
    text.push_str("\n[[recipients]]\nunit = \"nobody\"\nedition = \"circulated\"\n");
    std::fs::write(&settings, text).unwrap();
    std::fs::write(
        p.path().join("queries/bad_model.sql"),
        "SELECT entry_id,\n       decalred_at\nFROM customs_declaration\n",
    )
    .unwrap();
    let out = p.sanhu(&["validate"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    filtered(&p, || insta::assert_snapshot!(err));
}

#[test]
fn ingest_summary() {
    let p = Project::bundled();
    p.drop_file(
        "customs",
        "报关单数据.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    p.drop_file("customs", "说明.txt", "不是数据".as_bytes());
    let out = p.sanhu(&["ingest"]);
    assert!(out.status.success());
    let text = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    filtered(&p, || insta::assert_snapshot!(text));
}

#[test]
fn status_table() {
    // The project of tests/it/status.rs: W47's declarations delivered on time.
    let p = crate::status::project();
    let out = p.ok(&["status", "--at", "2026-11-27 12:40"]);
    filtered(&p, || insta::assert_snapshot!(out));
}
