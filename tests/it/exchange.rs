//! `sanhu exchange`: packages per unit under the sharing matrix and the schemas' classification.

use crate::common::{self, Project};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const PENALTIES: &str = "案件编号,统一社会信用代码,决定日期,案件类型,罚没金额(元),主动披露\n\
    CASE-1,91310110666007217T,2026-11-10,违规,80000,否\n";

fn manifest(p: &Project, unit: &str, week: &str) -> serde_json::Value {
    let path = p
        .path()
        .join("data/outbox")
        .join(unit)
        .join(week)
        .join("manifest.json");
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// One table's entry in a package manifest.
fn table_entry(m: &serde_json::Value, table: &str) -> serde_json::Value {
    m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("no {table} in {m}"))
        .clone()
}

fn parquet_columns(path: &std::path::Path) -> Vec<String> {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    r.metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect()
}

/// The restricted columns as the schema files declare them, read with a plain TOML parser (not
/// the code under test): table → column → the units it may reach.
fn restricted_from_schema_files(
    dir: &std::path::Path,
) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for e in std::fs::read_dir(dir.join("schemas")).unwrap() {
        let path = e.unwrap().path();
        let v: toml::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let table = v["table"].as_str().unwrap().to_string();
        for c in v["columns"].as_array().unwrap() {
            if c.get("classification").and_then(|x| x.as_str()) == Some("restricted") {
                let to = c
                    .get("restricted_to")
                    .and_then(|x| x.as_array())
                    .map(|a| a.iter().map(|u| u.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default();
                out.entry(table.clone())
                    .or_default()
                    .insert(c["name"].as_str().unwrap().to_string(), to);
            }
        }
    }
    out
}

#[test]
fn no_restricted_column_reaches_a_unit_not_named_on_it_across_the_whole_config() {
    let p = Project::bundled();
    // A careless grant: every column of the penalties to CIQ, which no restricted column names.
    let mut sharing = std::fs::read_to_string(p.path().join("sharing.toml")).unwrap();
    sharing.push_str(
        "\n[[share]]\nunit = \"ciq\"\ntable = \"customs_penalty\"\ncolumns = [\"*\"]\nrule = \"测试：全部列\"\n",
    );
    std::fs::write(p.path().join("sharing.toml"), sharing).unwrap();
    p.drop_file(
        "customs",
        "报关单数据.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    p.drop_file("customs", "处罚案件.csv", PENALTIES.as_bytes());
    p.ok(&["ingest"]);
    p.ok(&["build", "--as-of", "2026-11-15"]);
    p.ok(&["exchange", "--week", "2026-W46", "--full"]);
    let restricted = restricted_from_schema_files(p.path());
    // What the bundled schemas declare (a person can check these against schemas/).
    assert_eq!(
        restricted
            .iter()
            .flat_map(|(t, cols)| cols.keys().map(move |c| format!("{t}.{c}")))
            .collect::<Vec<_>>(),
        [
            "border_conveyance.incident",
            "customs_penalty.amount_cny",
            "customs_penalty.case_type",
            "tax_arrears.amount_cny",
        ]
    );
    let units: Vec<String> = std::fs::read_dir(p.path().join("data/outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(units.len(), 8, "{units:?}");
    let (mut checked, mut withheld) = (0, 0);
    for unit in &units {
        let m = manifest(&p, unit, "2026-W46");
        for t in m["tables"].as_array().unwrap() {
            let table = t["table"].as_str().unwrap();
            let file = p
                .path()
                .join("data/outbox")
                .join(unit)
                .join("2026-W46")
                .join(t["file"].as_str().unwrap());
            // The manifest's hash is the file's.
            assert_eq!(
                t["sha256"].as_str().unwrap(),
                hex::encode(Sha256::digest(std::fs::read(&file).unwrap()))
            );
            let cols = parquet_columns(&file);
            let listed: Vec<String> = t["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            assert_eq!(cols, listed, "{unit}: {table}: manifest columns");
            for (col, to) in restricted.get(table).into_iter().flatten() {
                if !to.contains(unit) {
                    assert!(
                        !cols.contains(col),
                        "{unit} received restricted column {table}.{col}"
                    );
                    withheld += 1;
                }
            }
            checked += cols.len();
        }
    }
    assert!(checked > 50, "only {checked} columns checked");
    // CIQ's careless grant: the penalties arrive without the two restricted columns (and with
    // the lineage column naming the delivery each row came in).
    let ciq = table_entry(&manifest(&p, "ciq", "2026-W46"), "customs_penalty");
    assert_eq!(
        ciq["columns"],
        serde_json::json!([
            "case_no",
            "uscc",
            "decided_on",
            "voluntary_disclosure",
            "_delivery"
        ])
    );
    assert!(withheld >= 2);
    // The commerce bureau, named on the columns, gets the amount (customs, the source, is not
    // sent its own table back).
    {
        let unit = "commerce";
        let pen = table_entry(&manifest(&p, unit, "2026-W46"), "customs_penalty");
        assert!(
            pen["columns"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "amount_cny"),
            "{unit}: {pen}"
        );
    }
}

#[test]
fn row_filters_and_incremental_packages() {
    let p = Project::bundled();
    p.drop_file(
        "customs",
        "报关单数据.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    // Only declaration 1 is air cargo: the airport receives its release status and nothing else.
    p.drop_file(
        "airport",
        "运抵.csv",
        "运单号,报关单号,运抵时间\nW1,020120261000000001,2026-11-09 08:00\n".as_bytes(),
    );
    p.ok(&["ingest"]);
    p.ok(&["exchange", "--unit", "airport", "--week", "2026-W46"]);
    let m = manifest(&p, "airport", "2026-W46");
    let decl = table_entry(&m, "customs_declaration");
    assert_eq!(decl["rows"], 1);
    assert_eq!(decl["mode"], "full", "the first package is complete");
    // Nothing new since: the next package has no declaration rows; a new delivery brings only its rows.
    p.ok(&["exchange", "--unit", "airport", "--week", "2026-W47"]);
    let m = manifest(&p, "airport", "2026-W47");
    let decl = table_entry(&m, "customs_declaration");
    assert_eq!(decl["rows"], 0);
    p.drop_file("customs", "报关单数据_更正.csv", "报关单号,进出口,申报地海关,监管方式,申报时间\n020120261000000001,I,0201,0110,2026-11-09 09:05\n".as_bytes());
    p.ok(&["ingest"]);
    p.ok(&["exchange", "--unit", "airport", "--week", "2026-W48"]);
    let m = manifest(&p, "airport", "2026-W48");
    let decl = table_entry(&m, "customs_declaration");
    assert_eq!(decl["rows"], 1);
    assert_eq!(decl["deliveries"], serde_json::json!([3]));
    // --full sends the whole filtered table again.
    p.ok(&[
        "exchange", "--unit", "airport", "--week", "2026-W48", "--full",
    ]);
    assert_eq!(
        table_entry(&manifest(&p, "airport", "2026-W48"), "customs_declaration")["rows"],
        1
    );
    // The audit log names who got what under which rule.
    let audit = p.ok(&["audit", "--unit", "airport", "--format", "csv"]);
    assert!(
        audit
            .lines()
            .filter(|l| l.contains(",customs_declaration,"))
            .count()
            == 4,
        "{audit}"
    );
    assert!(audit.contains("信息互换：机场货物的海关放行状态"));
}

#[test]
fn a_matrix_asking_for_a_restricted_column_fails_validate_with_its_line() {
    let p = Project::bundled();
    let f = p.path().join("sharing.toml");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str("\n[[share]]\nunit = \"park\"\ntable = \"customs_penalty\"\ncolumns = [\"case_no\", \"amount_cny\"]\nrule = \"x\"\n");
    std::fs::write(&f, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("columns = [\"case_no\", \"amount_cny\"]"))
        .unwrap()
        + 1;
    let out = p.sanhu(&["validate"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:{line}:11: column `customs_penalty.amount_cny` is restricted and unit `park` is not among the units it may reach", f.display())),
        "{err}"
    );
}

#[test]
fn a_table_past_the_xlsx_limit_travels_in_parquet_only() {
    let p = Project::bundled();
    let settings = std::fs::read_to_string(p.path().join("sanhu.toml")).unwrap();
    std::fs::write(
        p.path().join("sanhu.toml"),
        settings.replace("xlsx_max_rows = 10000", "xlsx_max_rows = 2"),
    )
    .unwrap();
    p.drop_file(
        "customs",
        "报关单数据.csv",
        common::DECLARATIONS_CSV.as_bytes(),
    );
    p.ok(&["ingest"]);
    p.ok(&["exchange", "--unit", "commerce", "--week", "2026-W46"]);
    let dir = p.path().join("data/outbox/commerce/2026-W46");
    use calamine::Reader;
    let mut book = calamine::open_workbook_auto(dir.join("commerce-2026-W46.xlsx")).unwrap();
    let sheet = book.worksheet_range("customs_declaration").unwrap();
    let cells: Vec<String> = sheet.cells().map(|(_, _, c)| c.to_string()).collect();
    // Four declarations, limit 2: a note instead of rows; the Parquet file has all four.
    assert_eq!(cells.len(), 1, "{cells:?}");
    assert!(
        cells[0].contains(
            "共4行，超过表格版上限2行，请使用同目录下的 customs_declaration.parquet 文件"
        ),
        "{cells:?}"
    );
    let m = manifest(&p, "commerce", "2026-W46");
    let decl = table_entry(&m, "customs_declaration");
    assert_eq!(decl["rows"], 4);
}
