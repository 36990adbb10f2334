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

/// 1-based line and column of the first `needle` in `text` (columns in characters).
fn line_col(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not found"));
    let line = text[..at].matches('\n').count() + 1;
    let col = text[..at].rsplit('\n').next().unwrap().chars().count() + 1;
    (line, col)
}

/// TOML, cross-file references, report layouts and SQL: every problem in one run, each with the
/// line and column of what is wrong (no line 0).
#[test]
fn every_problem_in_one_run_each_with_its_line() {
    let p = Project::bundled();
    let settings = p.path().join("sanhu.toml");
    let mut text = std::fs::read_to_string(&settings).unwrap();
    text.push_str(
        "\n[[units]]\ncode = \"park\"\nname = \"又一个园区\"\nshort = \"园区\"\n\
         \n[[recipients]]\nunit = \"nobody\"\nedition = \"circulated\"\n\
         \n[[recipients]]\nunit = \"customs\"\nedition = \"internal\"\n",
    );
    std::fs::write(&settings, &text).unwrap();
    let dup_unit = line_col(&text, "code = \"park\"\nname = \"又一个");
    let nobody = line_col(&text, "\"nobody\"");
    let internal = line_col(&text, "\"internal\"");

    let pipeline = p.path().join("pipelines/customs_declaration.toml");
    let ptext = std::fs::read_to_string(&pipeline)
        .unwrap()
        .replace("\"declarations*\"", "\"declarations[\"");
    std::fs::write(&pipeline, &ptext).unwrap();
    let pattern = line_col(&ptext, "\"declarations[\"");

    let report = p.path().join("reports/weekly.toml");
    let rtext = std::fs::read_to_string(&report)
        .unwrap()
        .replace("category = \"grade\"", "category = \"grades\"");
    std::fs::write(&report, &rtext).unwrap();
    let category = line_col(&rtext, "\"grades\"");

    std::fs::write(
        p.path().join("queries/bad_model.sql"),
        "-- a model with a typo\nSELECT entry_id,\n       decalred_at\nFROM customs_declaration\n",
    )
    .unwrap();

    let out = p.sanhu(&["validate"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    let at =
        |f: &std::path::Path, (l, c): (usize, usize)| format!("error: {}:{l}:{c}: ", f.display());
    for want in [
        format!(
            "{}unit `park` is declared twice",
            at(&settings, (dup_unit.0, 8))
        ),
        format!("{}recipient: unknown unit `nobody`", at(&settings, nobody)),
        format!(
            "{}recipient `customs`: the internal edition holds restricted columns",
            at(&settings, internal)
        ),
        format!("{}bad file pattern `declarations[`", at(&pipeline, pattern)),
        format!(
            "{}sheet `资信等级分布`: chart column `grades` is not one of the sheet's columns",
            at(&report, category)
        ),
        at(&p.path().join("queries/bad_model.sql"), (3, 8)),
    ] {
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }
    assert!(!err.contains(":0:0"), "{err}");
    assert!(err.contains("error: 6 configuration problem(s)"), "{err}");
}

#[test]
fn an_unknown_chart_kind_is_a_parse_error_with_its_line() {
    let p = Project::bundled();
    let report = p.path().join("reports/weekly.toml");
    let text = std::fs::read_to_string(&report).unwrap().replace(
        "kind = \"column\"\ntitle = \"综合等级分布\"",
        "kind = \"bar\"\ntitle = \"综合等级分布\"",
    );
    std::fs::write(&report, &text).unwrap();
    let (line, col) = line_col(&text, "\"bar\"");
    let out = p.sanhu(&["validate"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "error: {}:{line}:{col}: unknown variant `bar`",
        report.display()
    );
    assert!(err.contains(&want), "missing {want:?} in:\n{err}");
}

/// A configuration written before `mode` moved to the schemas: `validate` says where it went.
#[test]
fn a_pipeline_mode_from_an_older_config_is_explained() {
    let p = Project::bundled();
    let f = p.path().join("pipelines/customs_penalty.toml");
    let text = std::fs::read_to_string(&f).unwrap().replace(
        "title = \"处罚案件\"\n",
        "title = \"处罚案件\"\nmode = \"upsert\"\n",
    );
    std::fs::write(&f, &text).unwrap();
    let (line, col) = line_col(&text, "\"upsert\"");
    let out = p.sanhu(&["validate"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "error: {}:{line}:{col}: `mode` is declared once per table now, in schemas/customs_penalty.toml",
        f.display()
    );
    assert!(err.contains(&want), "missing {want:?} in:\n{err}");
}

/// A report written with the single-brace placeholders of earlier releases: each one is named
/// with its line and column and the syntax it is written in now.
#[test]
fn old_single_brace_placeholders_are_explained() {
    let p = Project::bundled();
    let f = p.path().join("reports/weekly.toml");
    let text = std::fs::read_to_string(&f).unwrap().replacen(
        "iso_week(declared_at) = '{{week}}'",
        "iso_week(declared_at) = '{week}'",
        1,
    );
    std::fs::write(&f, &text).unwrap();
    let (line, col) = line_col(&text, "{week}'");
    let out = p.sanhu(&["validate"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "error: {}:{line}:{col}: `{{week}}` is written `{{{{week}}}}` now",
        f.display()
    );
    assert!(err.contains(&want), "missing {want:?} in:\n{err}");
}

/// The models sanhu's own code reads (transform::contracts): deleting one, or dropping a
/// column the engine reads, is a validate problem that says what needs it.
#[test]
fn the_models_the_engine_reads_are_checked() {
    let p = Project::bundled();
    std::fs::remove_file(p.path().join("queries/credit_evidence.sql")).unwrap();
    let f = p.path().join("queries/feed_timeliness.sql");
    let text = std::fs::read_to_string(&f).unwrap().replace(
        "END                                                    AS timeliness,",
        "END AS status,",
    );
    assert!(text.contains("END AS status"));
    std::fs::write(&f, &text).unwrap();
    let out = p.sanhu(&["validate"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        format!(
            "error: {}: model `credit_evidence` is missing: `sanhu explain credit`",
            p.path().join("queries/credit_evidence.sql").display()
        ),
        format!(
            "error: {}:1:1: model `feed_timeliness` must give column(s) timeliness: `sanhu status`",
            f.display()
        ),
    ] {
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }
}
