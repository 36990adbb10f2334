//! End-to-end checks of the generator: runs it on a small period, reads every file back (xlsx
//! with calamine, CSV in UTF-8 or GBK) and compares what is on disk with the summary, the schemas
//! and the pipeline patterns.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, open_workbook_auto};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};

use super::feeds::{self, Defect, FeedSpec, Kind};
use super::world::{self, Outcome};
use super::{DemoOptions, codes, generate};

fn opts(scale: u32, seed: u64) -> DemoOptions {
    DemoOptions {
        from: NaiveDate::from_ymd_opt(2026, 11, 4).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        scale,
        seed,
        baseline: None,
    }
}

fn run(scale: u32, seed: u64) -> (tempfile::TempDir, Outcome) {
    let dir = tempfile::tempdir().unwrap();
    let outcome = world::run(dir.path(), &opts(scale, seed)).unwrap();
    (dir, outcome)
}

// ------------------------------------------------------------------ reading files back

#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    Num(f64),
}

impl Cell {
    fn text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A timestamp as the pipeline would read it: Excel serial or one of the export text forms.
    fn time(&self) -> Option<NaiveDateTime> {
        match self {
            Cell::Num(serial) => {
                let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap();
                Some(epoch + Duration::seconds((serial * 86_400.0).round() as i64))
            }
            Cell::Text(s) => [
                "%Y-%m-%d %H:%M:%S",
                "%Y/%m/%d %H:%M:%S",
                "%Y/%m/%d %H:%M",
                "%Y-%m-%d %H:%M",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok()),
            Cell::Empty => None,
        }
    }
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => row.push(std::mem::take(&mut field)),
            '\r' if !quoted => {}
            '\n' if !quoted => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Header row (normalised: no whitespace, ASCII brackets) and data rows.
fn read_table(path: &Path) -> (Vec<String>, Vec<Vec<Cell>>) {
    let mut rows: Vec<Vec<Cell>> = if path.extension().is_some_and(|e| e == "xlsx") {
        let mut wb = open_workbook_auto(path).unwrap();
        let name = wb.sheet_names()[0].clone();
        let range = wb.worksheet_range(&name).unwrap();
        range
            .rows()
            .map(|r| {
                r.iter()
                    .map(|c| match c {
                        Data::Empty => Cell::Empty,
                        Data::String(s) => Cell::Text(s.clone()),
                        Data::Float(f) => Cell::Num(*f),
                        Data::Int(i) => Cell::Num(*i as f64),
                        Data::DateTime(d) => Cell::Num(d.as_f64()),
                        other => panic!("{}: unexpected cell {other:?}", path.display()),
                    })
                    .collect()
            })
            .collect()
    } else {
        let bytes = std::fs::read(path).unwrap();
        let text = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) => String::from_utf8(rest.to_vec()).unwrap(),
            None => match String::from_utf8(bytes.clone()) {
                Ok(s) => s,
                Err(_) => {
                    let (s, _, errors) = encoding_rs::GBK.decode(&bytes);
                    assert!(!errors, "{}", path.display());
                    s.into_owned()
                }
            },
        };
        parse_csv(&text)
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|f| {
                        if f.is_empty() {
                            Cell::Empty
                        } else {
                            Cell::Text(f)
                        }
                    })
                    .collect()
            })
            .collect()
    };
    let header = rows.remove(0);
    let header = header
        .iter()
        .map(|c| {
            c.text()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<String>()
                .replace('（', "(")
                .replace('）', ")")
        })
        .collect::<Vec<_>>();
    for r in &mut rows {
        r.resize(header.len(), Cell::Empty);
    }
    (header, rows)
}

fn spec_of(feed: &str) -> Option<&'static FeedSpec> {
    let all: [&'static FeedSpec; 13] = [
        &feeds::ENTERPRISE,
        &feeds::CUSTOMS_DECLARATION,
        &feeds::CUSTOMS_INSPECTION,
        &feeds::CUSTOMS_PENALTY,
        &feeds::CUSTOMS_CREDIT,
        &feeds::TAX_ARREARS,
        &feeds::CIQ_DECLARATION,
        &feeds::CIQ_NONCONFORMITY,
        &feeds::BORDER_CONVEYANCE,
        &feeds::AIRPORT_CARGO,
        &feeds::PARK_WAREHOUSE,
        &feeds::PARK_ECOMMERCE,
        &feeds::TASK_PROGRESS,
    ];
    all.into_iter().find(|s| s.feed == feed)
}

/// Canonical column index of each file column (by alias).
fn columns(spec: &FeedSpec, header: &[String]) -> Vec<usize> {
    header
        .iter()
        .map(|h| {
            spec.cols
                .iter()
                .position(|c| c.aliases.iter().any(|a| a.replace(' ', "") == *h))
                .unwrap_or_else(|| panic!("{}: header {h:?} is no alias", spec.feed))
        })
        .collect()
}

/// Every table written, with rows in canonical column order.
struct Table {
    path: PathBuf,
    feed: &'static str,
    rows: Vec<Vec<Cell>>,
}

fn read_all(outcome: &Outcome) -> Vec<Table> {
    outcome
        .summary
        .files
        .iter()
        .zip(&outcome.feeds)
        .filter_map(|(path, feed)| {
            let spec = spec_of(feed)?;
            let (header, rows) = read_table(path);
            let cols = columns(spec, &header);
            assert_eq!(
                cols.iter().collect::<BTreeSet<_>>().len(),
                spec.cols.len(),
                "{}: every column once",
                path.display()
            );
            let rows = rows
                .into_iter()
                .map(|r| {
                    let mut canon = vec![Cell::Empty; spec.cols.len()];
                    for (cell, c) in r.into_iter().zip(&cols) {
                        canon[*c] = cell;
                    }
                    canon
                })
                .collect();
            Some(Table {
                path: path.clone(),
                feed,
                rows,
            })
        })
        .collect()
}

fn planted(outcome: &Outcome, feed: &str, defect: Defect) -> u64 {
    outcome.defects.get(&(feed, defect)).copied().unwrap_or(0)
}

// ------------------------------------------------------------------ tests

#[test]
fn same_options_give_identical_bytes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let sa = generate(a.path(), &opts(1, 7)).unwrap();
    let sb = generate(b.path(), &opts(1, 7)).unwrap();
    assert_eq!(sa.files.len(), sb.files.len());
    assert_eq!(
        (sa.rows_written, sa.bad_rows_planted),
        (sb.rows_written, sb.bad_rows_planted)
    );
    let xlsx = sa
        .files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "xlsx"))
        .count();
    assert!(xlsx > 5, "the run should include xlsx files");
    for (fa, fb) in sa.files.iter().zip(&sb.files) {
        assert_eq!(
            fa.strip_prefix(a.path()).unwrap(),
            fb.strip_prefix(b.path()).unwrap()
        );
        assert!(
            std::fs::read(fa).unwrap() == std::fs::read(fb).unwrap(),
            "{} differs",
            fa.display()
        );
    }
    // A different seed gives different data.
    let c = tempfile::tempdir().unwrap();
    let sc = generate(c.path(), &opts(1, 8)).unwrap();
    assert_ne!(sa.rows_written, sc.rows_written);
}

#[test]
fn summary_matches_what_is_on_disk() {
    let (_dir, outcome) = run(2, 11);
    let s = &outcome.summary;
    assert_eq!(s.declarations, 2000);
    assert_eq!(s.bad_rows_planted, outcome.defects.values().sum::<u64>());
    assert!(s.bad_rows_planted > 0);
    assert_eq!(outcome.unmappable, 0, "all text must be GBK-encodable");
    let tables = read_all(&outcome);
    let mut by_feed: BTreeMap<&str, u64> = BTreeMap::new();
    for t in &tables {
        *by_feed.entry(t.feed).or_default() += t.rows.len() as u64;
    }
    // The task registry copy is not a FeedSpec table: count its lines.
    let registry = super::tasks::TASK_REGISTRY_CSV.lines().skip(1).count() as u64;
    by_feed.insert("task_registry", registry);
    assert_eq!(by_feed, outcome.rows_by_feed);
    assert_eq!(by_feed.values().sum::<u64>(), s.rows_written);
    // No two files are byte-identical (intake would file the second as a duplicate delivery).
    let mut contents = BTreeSet::new();
    for f in &s.files {
        assert!(
            contents.insert(std::fs::read(f).unwrap()),
            "{} repeats another file",
            f.display()
        );
    }
    // Modification times are the simulated deliveries (local UTC+8), inside the period's reach.
    let secs = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() - 8 * 3600;
    let (lo, hi) = (secs(opts(2, 11).from), secs(opts(2, 11).to) + 9 * 86_400);
    for f in &s.files {
        let modified = std::fs::metadata(f).unwrap().modified().unwrap();
        let t = modified
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(
            t >= lo && t <= hi,
            "{}: mtime {t} outside {lo}..{hi}",
            f.display()
        );
    }
    // Every unit got files; weekly feeds have one file per ISO week (4 weeks: W45..W48).
    let units: BTreeSet<String> = s
        .files
        .iter()
        .map(|f| {
            f.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(units.len(), 8, "{units:?}");
    for spec in feeds::WEEKLY {
        assert_eq!(
            outcome.feeds.iter().filter(|f| **f == spec.feed).count(),
            4,
            "{}",
            spec.feed
        );
    }
    assert_eq!(
        outcome
            .feeds
            .iter()
            .filter(|f| **f == "customs_credit")
            .count(),
        2
    );
    // A few per file at most.
    let files_with_defects = outcome.feeds.len() as u64;
    assert!(s.bad_rows_planted <= files_with_defects * 4);
}

#[test]
fn entry_ids_are_well_formed_and_unique_except_planted() {
    let (_dir, outcome) = run(2, 3);
    let feed = "customs_declaration";
    let tables = read_all(&outcome);
    let mut short = 0;
    let mut duplicates = 0;
    let mut all = BTreeSet::new();
    for t in tables.iter().filter(|t| t.feed == feed) {
        let ids: Vec<&str> = t.rows.iter().filter_map(|r| r[0].text()).collect();
        let distinct: BTreeSet<&str> = ids.iter().copied().collect();
        duplicates += ids.len() - distinct.len();
        for id in distinct {
            assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
            match id.len() {
                18 => {
                    assert!(["0711", "0712", "0719"].contains(&&id[..4]), "{id}");
                    assert!(matches!(&id[4..8], "2026" | "2027"), "{id}");
                    assert!(matches!(&id[8..9], "0" | "1"), "{id}");
                    all.insert(id.to_string());
                }
                17 => short += 1,
                n => panic!("{}: entry_id {id} has {n} digits", t.path.display()),
            }
        }
    }
    assert_eq!(short, planted(&outcome, feed, Defect::ShortEntryId));
    assert_eq!(
        duplicates as u64,
        planted(&outcome, feed, Defect::DuplicateKey)
    );
    let lost = short + planted(&outcome, feed, Defect::EmptyRequired);
    assert!(all.len() as u64 <= outcome.summary.declarations);
    assert!(
        all.len() as u64 + lost >= outcome.summary.declarations,
        "{} ids",
        all.len()
    );
}

#[test]
fn keys_are_unique_within_each_file_except_planted_duplicates() {
    let (_dir, outcome) = run(2, 5);
    let mut dups: BTreeMap<&str, u64> = BTreeMap::new();
    for t in read_all(&outcome) {
        let spec = spec_of(t.feed).unwrap();
        let keys: Vec<String> = t
            .rows
            .iter()
            .filter(|r| spec.key.iter().all(|k| r[*k] != Cell::Empty))
            .map(|r| {
                spec.key
                    .iter()
                    .map(|k| format!("{:?}", r[*k]))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        let distinct: BTreeSet<&String> = keys.iter().collect();
        *dups.entry(t.feed).or_default() += (keys.len() - distinct.len()) as u64;
    }
    for (feed, n) in dups {
        assert_eq!(n, planted(&outcome, feed, Defect::DuplicateKey), "{feed}");
    }
}

#[test]
fn usccs_are_valid_except_planted() {
    let (_dir, outcome) = run(1, 9);
    let tables = read_all(&outcome);
    let invalid = |feed: &str, col: usize| -> u64 {
        tables
            .iter()
            .filter(|t| t.feed == feed)
            .flat_map(|t| t.rows.iter())
            .filter_map(|r| r[col].text())
            .filter(|c| !codes::uscc_is_valid(c))
            .count() as u64
    };
    assert_eq!(
        invalid("enterprise_registry", 0),
        planted(&outcome, "enterprise_registry", Defect::KeyUsccCheck)
    );
    assert!(planted(&outcome, "enterprise_registry", Defect::KeyUsccCheck) > 0);
    assert_eq!(
        invalid("customs_declaration", 5),
        planted(&outcome, "customs_declaration", Defect::RefUsccCheck)
    );
    assert_eq!(invalid("customs_declaration", 6), 0);
    assert_eq!(invalid("ciq_declaration", 2), 0);
    let registry = tables
        .iter()
        .find(|t| t.feed == "enterprise_registry")
        .unwrap();
    assert!(
        registry.rows.len() >= 60,
        "scale 1 has at least 60 enterprises"
    );
}

#[test]
fn times_follow_the_clearance_chain() {
    let (_dir, outcome) = run(3, 21);
    let tables = read_all(&outcome);
    // Final state per declaration (later files update earlier ones, as upserts do).
    let mut customs: BTreeMap<String, [Option<NaiveDateTime>; 3]> = BTreeMap::new();
    let mut reversed = 0;
    for t in tables.iter().filter(|t| t.feed == "customs_declaration") {
        for r in &t.rows {
            let (Some(id), Some(declared)) = (r[0].text(), r[7].time()) else {
                continue;
            };
            let accepted = r[8].time();
            let released = r[9].time();
            if released.is_some_and(|x| x < declared) {
                reversed += 1;
            }
            if let Some(a) = accepted {
                assert!(
                    a >= declared && a <= declared + Duration::minutes(60),
                    "{id}"
                );
            }
            customs.insert(id.to_string(), [Some(declared), accepted, released]);
        }
    }
    assert_eq!(
        reversed,
        planted(&outcome, "customs_declaration", Defect::TimeReversed)
    );
    let unreleased = customs.values().filter(|v| v[2].is_none()).count();
    assert!(
        unreleased > 0,
        "some declarations are still open at the end"
    );
    assert!(
        unreleased * 20 < customs.len(),
        "{unreleased} of {} open",
        customs.len()
    );

    let mut pairs = 0;
    let mut early_gate_out = 0;
    for t in tables.iter().filter(|t| t.feed == "airport_cargo") {
        for r in &t.rows {
            let Some(c) = r[1].text().and_then(|id| customs.get(id)) else {
                continue;
            };
            let (Some(arrived), Some(declared)) = (r[3].time(), c[0]) else {
                continue;
            };
            assert!(
                arrived < declared,
                "{}: arrival after declaration",
                t.path.display()
            );
            if let (Some(out), Some(released)) = (r[4].time(), c[2]) {
                pairs += 1;
                if out < released {
                    early_gate_out += 1;
                }
            }
        }
    }
    assert!(pairs > 500, "{pairs}");
    assert!(
        early_gate_out * 100 <= pairs * 2,
        "{early_gate_out} of {pairs} gate-outs before release"
    );
    for t in tables.iter().filter(|t| t.feed == "park_warehouse") {
        for r in &t.rows {
            let Some(c) = r[2].text().and_then(|id| customs.get(id)) else {
                continue;
            };
            if let (Some(in_at), Some(declared)) = (r[3].time(), c[0]) {
                assert!(in_at < declared);
            }
        }
    }
}

/// `*` and `?` glob over characters, as the pipeline patterns use.
fn glob(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| glob(rest, &name[i..])),
        Some(('?', rest)) => !name.is_empty() && glob(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && glob(rest, &name[1..]),
    }
}

fn pipeline_patterns() -> Vec<(String, Vec<String>)> {
    let sources = [
        include_str!("../../pipelines/airport_cargo.toml"),
        include_str!("../../pipelines/border_conveyance.toml"),
        include_str!("../../pipelines/ciq_declaration.toml"),
        include_str!("../../pipelines/ciq_nonconformity.toml"),
        include_str!("../../pipelines/customs_credit.toml"),
        include_str!("../../pipelines/customs_declaration.toml"),
        include_str!("../../pipelines/customs_inspection.toml"),
        include_str!("../../pipelines/customs_penalty.toml"),
        include_str!("../../pipelines/enterprise_registry.toml"),
        include_str!("../../pipelines/park_ecommerce.toml"),
        include_str!("../../pipelines/park_warehouse.toml"),
        include_str!("../../pipelines/task_progress.toml"),
        include_str!("../../pipelines/task_registry.toml"),
        include_str!("../../pipelines/tax_arrears.toml"),
    ];
    sources
        .iter()
        .map(|s| {
            let t: toml::Table = toml::from_str(s).unwrap();
            let feed = t["feed"].as_str().unwrap().to_string();
            let patterns = t["source"]["patterns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            (feed, patterns)
        })
        .collect()
}

#[test]
fn file_names_match_their_own_feed_or_none() {
    let (_dir, outcome) = run(1, 13);
    let pipelines = pipeline_patterns();
    let mut unnamed = 0;
    for (path, feed) in outcome.summary.files.iter().zip(&outcome.feeds) {
        let name: Vec<char> = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .collect();
        let matched: Vec<&str> = pipelines
            .iter()
            .filter(|(_, pats)| {
                pats.iter()
                    .any(|p| glob(&p.chars().collect::<Vec<_>>(), &name))
            })
            .map(|(f, _)| f.as_str())
            .collect();
        match matched.as_slice() {
            [] => unnamed += 1,
            [only] => assert_eq!(only, feed, "{}", path.display()),
            many => panic!("{} matches {many:?}", path.display()),
        }
        let unit = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if let Some(spec) = spec_of(feed).and_then(|s| s.unit) {
            assert_eq!(unit, spec);
        }
    }
    let total = outcome.summary.files.len();
    assert!(
        unnamed > 0 && unnamed * 5 < total,
        "{unnamed} of {total} files unnamed"
    );
}

fn schema_sources() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "enterprise_registry",
            include_str!("../../schemas/enterprise.toml"),
        ),
        (
            "customs_declaration",
            include_str!("../../schemas/customs_declaration.toml"),
        ),
        (
            "customs_inspection",
            include_str!("../../schemas/customs_inspection.toml"),
        ),
        (
            "customs_penalty",
            include_str!("../../schemas/customs_penalty.toml"),
        ),
        (
            "customs_credit",
            include_str!("../../schemas/customs_credit.toml"),
        ),
        (
            "tax_arrears",
            include_str!("../../schemas/tax_arrears.toml"),
        ),
        (
            "ciq_declaration",
            include_str!("../../schemas/ciq_declaration.toml"),
        ),
        (
            "ciq_nonconformity",
            include_str!("../../schemas/ciq_nonconformity.toml"),
        ),
        (
            "border_conveyance",
            include_str!("../../schemas/border_conveyance.toml"),
        ),
        (
            "airport_cargo",
            include_str!("../../schemas/airport_cargo.toml"),
        ),
        (
            "park_warehouse",
            include_str!("../../schemas/park_warehouse.toml"),
        ),
        (
            "park_ecommerce",
            include_str!("../../schemas/park_ecommerce.toml"),
        ),
        (
            "task_progress",
            include_str!("../../schemas/task_progress.toml"),
        ),
    ]
}

#[test]
fn columns_and_aliases_come_from_the_schemas() {
    for (feed, source) in schema_sources() {
        let spec = spec_of(feed).unwrap();
        let schema: toml::Table = toml::from_str(source).unwrap();
        let cols = schema["columns"].as_array().unwrap();
        assert_eq!(
            cols.len(),
            spec.cols.len(),
            "{feed}: one spec column per schema column"
        );
        let key: Vec<&str> = schema["key"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(
            key,
            spec.key
                .iter()
                .map(|k| spec.cols[*k].name)
                .collect::<Vec<_>>(),
            "{feed}"
        );
        for (c, sc) in spec.cols.iter().zip(cols) {
            assert_eq!(
                sc["name"].as_str().unwrap(),
                c.name,
                "{feed}: column order follows the schema"
            );
            let required = sc
                .get("required")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            assert_eq!(required, c.required, "{feed}.{}", c.name);
            assert_eq!(
                sc["title"].as_str().unwrap(),
                c.aliases[0],
                "{feed}.{}: title first",
                c.name
            );
            let aliases: Vec<&str> = sc["aliases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            // The title is matched as a header too, so it need not be repeated among the aliases.
            for a in c.aliases {
                assert!(
                    aliases.contains(a) || sc["title"].as_str() == Some(*a),
                    "{feed}.{}: {a} is not a schema alias",
                    c.name
                );
            }
            let ty = sc["type"].as_str().unwrap();
            let expected = match c.kind {
                Kind::Timestamp => "timestamp",
                Kind::Date => "date",
                Kind::Bool => "bool",
                Kind::Money => "decimal",
                Kind::Number => "float",
                _ => "string",
            };
            assert_eq!(ty, expected, "{feed}.{}", c.name);
            if let Some(values) = sc.get("values").and_then(|v| v.as_array()) {
                assert!(!values.is_empty());
            }
        }
        // No header alias is shared by two columns of one table.
        let mut seen = BTreeSet::new();
        for c in spec.cols {
            for a in c.aliases {
                assert!(seen.insert(*a), "{feed}: alias {a} used twice");
            }
        }
    }
}

#[test]
fn coded_values_are_in_the_schema_value_lists() {
    let (_dir, outcome) = run(1, 17);
    let tables = read_all(&outcome);
    let check = |feed: &str, col: usize, allowed: &[&str]| {
        for t in tables.iter().filter(|t| t.feed == feed) {
            for r in &t.rows {
                if let Some(v) = r[col].text() {
                    assert!(allowed.contains(&v), "{feed}: {v}");
                }
            }
        }
    };
    check(
        "customs_declaration",
        1,
        &["进口", "出口", "进", "出", "I", "E"],
    );
    check("customs_inspection", 5, &["正常", "异常"]);
    check("customs_penalty", 3, &["走私", "违规", "其他"]);
    check("ciq_declaration", 6, &["合格", "不合格"]);
    check("ciq_nonconformity", 4, &["一般", "严重"]);
    check("border_conveyance", 2, &["入境", "出境", "入", "出"]);
    check("task_progress", 4, &["未启动", "推进中", "已完成", "受阻"]);
    check(
        "task_progress",
        1,
        &[
            "commerce",
            "aviation",
            "transport",
            "customs",
            "ciq",
            "border",
            "airport",
            "park",
        ],
    );
    check(
        "customs_credit",
        1,
        &[
            "高级认证企业",
            "一般认证企业",
            "一般信用企业",
            "其他",
            "失信企业",
        ],
    );
    let tasks: BTreeSet<String> = super::tasks::registry().into_iter().map(|t| t.id).collect();
    for t in tables.iter().filter(|t| t.feed == "task_progress") {
        for r in &t.rows {
            assert!(tasks.contains(r[0].text().unwrap()));
            assert!(r[2].text().unwrap().starts_with("2026-W"));
        }
    }
    // Trade modes: four digits, or the same without leading zeros.
    for t in tables.iter().filter(|t| t.feed == "customs_declaration") {
        for r in &t.rows {
            match &r[3] {
                Cell::Text(m) => {
                    assert!(m.len() <= 4 && m.bytes().all(|b| b.is_ascii_digit()), "{m}")
                }
                Cell::Num(n) => assert!(*n >= 1.0 && *n < 10_000.0),
                Cell::Empty => {}
            }
        }
    }
}

#[test]
fn headers_and_file_names_are_gbk_text() {
    use super::sink::gbk_encodable;
    let specs = feeds::WEEKLY.iter().copied().chain([
        &feeds::ENTERPRISE,
        &feeds::CUSTOMS_CREDIT,
        &feeds::CUSTOMS_CREDIT_CHANGES,
        &feeds::TASK_PROGRESS,
    ]);
    for spec in specs {
        for c in spec.cols {
            assert!(
                c.aliases
                    .iter()
                    .all(|a| gbk_encodable(a) && gbk_encodable(&a.replace('(', "（")))
            );
        }
        assert!(spec.names.iter().all(|(n, _)| gbk_encodable(n)));
        assert!(gbk_encodable(spec.sheet));
    }
}

#[test]
fn empty_period_order_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(1, 1);
    std::mem::swap(&mut o.from, &mut o.to);
    let err = generate(dir.path(), &o).unwrap_err();
    assert!(err.to_string().contains("after"), "{err}");
}

#[test]
fn io_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = generate(&file, &opts(1, 1)).unwrap_err();
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn the_baseline_extract_covers_the_baseline_year_at_the_slower_pace() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(2, 3);
    o.baseline = Some((
        NaiveDate::from_ymd_opt(2017, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2017, 12, 31).unwrap(),
    ));
    let outcome = world::run(dir.path(), &o).unwrap();
    let tables = read_all(&outcome);
    let is_baseline = |t: &&Table| t.path.to_string_lossy().contains("基线");
    let base: Vec<&Table> = tables.iter().filter(is_baseline).collect();
    assert_eq!(base.len(), 1);
    assert_eq!(
        base[0].path.file_name().unwrap().to_string_lossy(),
        "报关单数据_2017年基线.csv"
    );
    assert_eq!(base[0].feed, "customs_declaration");
    // 2,000 declarations / 20, at least 200.
    assert_eq!(base[0].rows.len(), 200);
    let hours = |t: &Table| -> Vec<f64> {
        t.rows
            .iter()
            .filter_map(|r| Some((r[9].time()? - r[7].time()?).num_seconds() as f64 / 3600.0))
            .collect()
    };
    for r in &base[0].rows {
        let id = r[0].text().unwrap();
        assert_eq!(&id[4..8], "2017", "{id}");
        assert_eq!(r[7].time().unwrap().year(), 2017);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let then = hours(base[0]);
    assert_eq!(then.len(), 200, "every baseline row has both times");
    let now: Vec<f64> = tables
        .iter()
        .filter(|t| t.feed == "customs_declaration" && !is_baseline(t))
        .flat_map(hours)
        .filter(|h| *h < 720.0)
        .collect();
    assert!(
        mean(&then) > 1.5 * mean(&now),
        "baseline {:.2} h vs now {:.2} h",
        mean(&then),
        mean(&now)
    );
    // The same options without a baseline write no such file, and the rest is unchanged.
    let (_d2, plain) = run(2, 3);
    assert_eq!(plain.summary.files.len() + 1, outcome.summary.files.len());
}
