//! The README's first command, `sanhu demo`, end to end at a small scale (1,000 declarations over
//! eight weeks, 2026-10-05 – 2026-11-29): every written file is accounted for, every row lands
//! or is rejected, every model is built, both editions and all eight packages are written, and
//! the cover compares clearance time with the 2017 baseline.

use crate::common::Project;

/// The first number after `label` in `text`.
fn number_after(text: &str, label: &str) -> u64 {
    let at = text
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {text}"))
        + label.len();
    text[at..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn the_demo_runs_end_to_end() {
    // The bundled project as a user clones it, seed registry included.
    let p = Project::bundled_with_seeds();
    let out = p.sanhu(&[
        "demo",
        "--scale",
        "1",
        "--from",
        "2026-10-05",
        "--to",
        "2026-11-29",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");

    // What the generator says it wrote (its own count, independent of intake)…
    let files_written = number_after(&stderr, "demo: wrote");
    let rows_written = number_after(&stderr, "declarations,");
    assert_eq!(number_after(&stderr, "file(s),"), 1000, "{stderr}");
    // …and what intake made of it: every file ingested or a duplicate (the demo's task
    // registry is the seed's, byte for byte), none lost; every row accepted or rejected.
    let ingested = number_after(&stdout, "ingested");
    let accepted = number_after(&stdout, "file(s):");
    let rejected = number_after(&stdout, "rows accepted,");
    let quarantined = number_after(&stdout, "rows rejected;");
    let duplicates = number_after(&stdout, "quarantined,");
    assert_eq!(
        ingested + quarantined + duplicates,
        files_written + 1,
        "{stdout}"
    );
    assert_eq!(duplicates, 1, "{stdout}");
    assert_eq!(accepted + rejected, rows_written, "{stdout}\n{stderr}");
    // The figures of this seed and scale, as a person reads them off the run.
    assert_eq!(
        (
            files_written,
            rows_written,
            ingested,
            accepted,
            rejected,
            quarantined
        ),
        (136, 3864, 136, 3807, 57, 0),
        "{stdout}\n{stderr}"
    );
    let inbox = p.files_under("inbox");
    assert!(inbox.is_empty(), "left in the inbox: {inbox:?}");
    assert_eq!(
        p.csv("select count(*) as n from deliveries"),
        format!("n\n{}\n", files_written + 1)
    );

    // Every model: one per SQL file in queries/, and the credit events compiled from
    // credit_rules.toml.
    let sql_files = std::fs::read_dir(p.path().join("queries"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count();
    assert!(
        stdout.contains(&format!("built {} model(s)\n", sql_files + 1)),
        "{stdout}"
    );

    // Both editions of the W48 workbook, and a package for each of the eight units.
    let reports = p.files_under("reports");
    assert_eq!(
        reports,
        [
            "2026-W48/大通关周报-2026-W48-circulated.xlsx",
            "2026-W48/大通关周报-2026-W48-internal.xlsx"
        ]
    );
    let mut units: Vec<String> = std::fs::read_dir(p.path().join("data/outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    units.sort();
    assert_eq!(
        units,
        [
            "airport",
            "aviation",
            "border",
            "ciq",
            "commerce",
            "customs",
            "park",
            "transport"
        ]
    );
    for u in &units {
        assert!(
            p.path()
                .join("data/outbox")
                .join(u)
                .join("2026-W48/manifest.json")
                .is_file(),
            "{u}"
        );
    }

    // The cover compares with the baseline the demo delivered (a 2017 customs extract): the
    // baseline, the change and the 2021 target are filled in, never 基线期无数据.
    let cover = sanhu::report::dump::dump_xlsx_values(
        &p.path()
            .join("data/reports/2026-W48/大通关周报-2026-W48-internal.xlsx"),
    )
    .unwrap();
    assert!(!cover.contains("基线期无数据"), "{cover}");
    assert!(cover.contains("缩短 "), "{cover}");
    assert!(
        cover.contains("已达到") || cover.contains("未达到"),
        "{cover}"
    );
    // The 通报 names the units late or missing for W47, the last week due by W48's end.
    assert!(
        cover.contains("未按时报送数据的单位（2026-W47）："),
        "{cover}"
    );
}
