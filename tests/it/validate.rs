//! `sanhu validate`: every configuration problem with its file and line, exit code 78.

use crate::common::Project;

#[test]
fn the_bundled_project_is_valid() {
    let p = Project::bundled();
    let out = p.ok(&["validate"]);
    assert!(out.starts_with("ok: 14 schemas, "), "{out}");
}

#[test]
fn a_misspelt_column_in_a_sql_file_is_named_with_file_and_line() {
    let p = Project::bundled();
    std::fs::write(
        p.path().join("queries/bad_model.sql"),
        "-- a model with a typo\nSELECT entry_id,\n       decalred_at\nFROM customs_declaration\n",
    )
    .unwrap();
    let out = p.sanhu(&["validate"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "error: {}:3:8: ",
        p.path().join("queries/bad_model.sql").display()
    );
    assert!(err.contains(&want), "{err}");
    assert!(err.contains("decalred_at"), "{err}");
}

#[test]
fn an_unknown_key_and_a_bad_reference_are_both_reported() {
    let p = Project::bundled();
    let f = p.path().join("pipelines/customs_declaration.toml");
    let text = std::fs::read_to_string(&f).unwrap().replace(
        "table = \"customs_declaration\"",
        "table = \"customs_declarations\"",
    );
    std::fs::write(&f, text).unwrap();
    let g = p.path().join("schemas/enterprise.toml");
    let text = std::fs::read_to_string(&g).unwrap().replace(
        "title = \"企业名录\"",
        "title = \"企业名录\"\ntilte = \"x\"",
    );
    std::fs::write(&g, text).unwrap();
    let out = p.sanhu(&["validate"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:3:9: table `customs_declarations` has no schema",
            f.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}:4:1: unknown field `tilte`", g.display())),
        "{err}"
    );
}
