//! The generation run: a calendar of days, each day's flights, declarations and orders, and the
//! records the other agencies keep about the same goods, streamed into the week's files.
//!
//! A declaration is drawn whole (arrival, lodging, acceptance, inspection, release, gate-out), and
//! every agency's record of it is emitted with the moment it first exists and the moment it is
//! complete. A record shows in the file of the week it first exists, with what had happened by
//! that week's cut-off; if it was still open, it is sent again in the week it completes. Only the
//! current week's files and the small queue of open records are in memory.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use rand::Rng;
use rust_xlsxwriter::Workbook;

use super::calendar::{Calendar, midnight, office_time};
use super::codes;
use super::entities::Registry;
use super::feeds::{self, Defect, FeedSpec, Slot};
use super::rng::{self, DemoRng, tag};
use super::sink::{self, FileStats, Format, Sink, SinkSpec, Value};
use super::tasks::{self, UnitProgress};
use super::{DemoError, DemoOptions, DemoSummary};

/// Everything a run produced; the public summary plus what the tests check it against.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub summary: DemoSummary,
    /// Feed of each file in `summary.files` (same order).
    pub feeds: Vec<&'static str>,
    pub rows_by_feed: BTreeMap<&'static str, u64>,
    pub defects: BTreeMap<(&'static str, Defect), u64>,
    pub unmappable: u64,
}

/// Customs offices (synthetic codes in the 07 呼和浩特 customs district): the Ordos customs
/// house, its airport office and the airport logistics park office.
const OFFICE_CITY: &str = "0711";
const OFFICE_AIRPORT: &str = "0712";
const OFFICE_PARK: &str = "0719";

static IMPORT_MODES: &[(&str, f64)] = &[
    ("0110", 0.60),
    ("0214", 0.08),
    ("0615", 0.07),
    ("9610", 0.05),
    ("1210", 0.06),
    ("1233", 0.04),
    ("2225", 0.04),
    ("3339", 0.04),
    ("4561", 0.02),
];

static EXPORT_MODES: &[(&str, f64)] = &[
    ("0110", 0.62),
    ("0214", 0.07),
    ("0615", 0.08),
    ("9610", 0.12),
    ("9710", 0.03),
    ("9810", 0.02),
    ("3339", 0.05),
    ("4561", 0.01),
];

const AIR: (&str, &str) = ("5", "航空运输");
const ROAD: (&str, &str) = ("4", "公路运输");
const WATER: (&str, &str) = ("2", "水路运输");
const RAIL: (&str, &str) = ("3", "铁路运输");

/// International cargo routes: carrier, air waybill prefix of the carrier, scheduled local time
/// (synthetic schedule). A day flies n of them, starting at a weekday-dependent offset.
static INBOUND: &[(&str, &str, u32, u32)] = &[
    ("O3", "479", 2, 10),
    ("CK", "112", 5, 40),
    ("CA", "999", 9, 15),
    ("YG", "860", 12, 5),
    ("MU", "781", 14, 30),
    ("CZ", "784", 16, 50),
    ("HU", "880", 19, 20),
    ("3U", "876", 21, 45),
    ("O3", "479", 23, 30),
    ("CK", "112", 1, 5),
    ("CA", "999", 7, 40),
    ("YG", "860", 10, 55),
    ("MU", "781", 13, 10),
    ("CZ", "784", 15, 35),
    ("HU", "880", 17, 55),
    ("O3", "479", 20, 25),
    ("CK", "112", 22, 40),
    ("YG", "860", 4, 20),
    ("CA", "999", 8, 25),
    ("MU", "781", 11, 35),
    ("CZ", "784", 18, 45),
    ("HU", "880", 3, 15),
    ("3U", "876", 6, 30),
    ("O3", "479", 0, 45),
];

static INCIDENTS: &[&str] = &[
    "旅客携带违禁品，已移交相关部门处理",
    "机组人员证件信息不符，核实后放行",
    "发现未申报物品，已移交海关",
    "货舱发现可疑物品，联合检查后排除",
    "载货清单与实际不符，已通报相关单位",
];

static NONCONFORMITY: &[&str] = &[
    "标签不合格",
    "品质不合格",
    "安全卫生项目不合格",
    "检出有害生物",
    "证书不符",
    "货证不符",
    "包装不合格",
];

/// Chinese names of the units, for document properties (author/company).
fn unit_name(unit: &str) -> &'static str {
    match unit {
        "commerce" => "市商务局",
        "aviation" => "市民用航空管理办公室",
        "transport" => "市交通运输局",
        "customs" => "鄂尔多斯海关",
        "ciq" => "内蒙古出入境检验检疫局鄂尔多斯办事处",
        "border" => "内蒙古自治区公安边防总队鄂尔多斯筹建处",
        "airport" => "鄂尔多斯机场管理集团有限公司",
        _ => "鄂尔多斯空港物流园区管理委员会",
    }
}

/// A record waiting for a later week's file.
struct Pending {
    slot: Slot,
    cells: Vec<Value>,
    appear: NaiveDateTime,
    complete: NaiveDateTime,
}

#[derive(Clone)]
struct Flight {
    /// Scheduled day (a late flight still belongs to it).
    day: NaiveDate,
    no: String,
    prefix: &'static str,
    at: NaiveDateTime,
}

/// One file to open.
struct Job {
    spec: &'static FeedSpec,
    unit: &'static str,
    /// Week of a weekly delivery (its name carries the week; export-default names happen).
    week: Option<usize>,
    /// Date the file name carries.
    date: NaiveDate,
    /// Extract time: later events are not in the file.
    cutoff: NaiveDateTime,
    /// Local time the unit delivered the file.
    delivered: NaiveDateTime,
    expected_rows: u64,
    defects: usize,
    /// Random stream that decides the file's look.
    stream: u64,
}

/// Saves xlsx workbooks on a second thread: deflating the sheet XML is most of an xlsx's cost.
struct Saver {
    tx: Option<SyncSender<(PathBuf, Box<Workbook>, NaiveDateTime)>>,
    handle: Option<JoinHandle<Result<(), DemoError>>>,
}

impl Saver {
    fn new() -> Saver {
        let (tx, rx) = sync_channel::<(PathBuf, Box<Workbook>, NaiveDateTime)>(2);
        let handle = std::thread::spawn(move || {
            let mut first_error = None;
            for (path, wb, delivered) in rx {
                if let Err(e) = sink::save_workbook(&path, wb, delivered) {
                    first_error.get_or_insert(e);
                }
            }
            first_error.map_or(Ok(()), Err)
        });
        Saver {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    fn save(
        &mut self,
        path: PathBuf,
        wb: Box<Workbook>,
        delivered: NaiveDateTime,
    ) -> Result<(), DemoError> {
        let tx = self.tx.as_ref().expect("saver is open");
        match tx.send((path, wb, delivered)) {
            Ok(()) => Ok(()),
            // The thread is gone: its own error is the one to report.
            Err(std::sync::mpsc::SendError((path, wb, delivered))) => {
                self.finish()?;
                sink::save_workbook(&path, wb, delivered)
            }
        }
    }

    fn finish(&mut self) -> Result<(), DemoError> {
        self.tx.take();
        match self.handle.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(DemoError::Internal("xlsx writer thread panicked".into()))),
            None => Ok(()),
        }
    }
}

impl Drop for Saver {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

struct Engine<'a> {
    inbox: &'a Path,
    seed: u64,
    cal: Calendar,
    reg: Registry,
    decl_per_day: Vec<u64>,
    orders_per_day: Vec<u64>,
    penalties_per_weekday: f64,
    pending: BTreeMap<usize, Vec<Pending>>,
    week: usize,
    sinks: Vec<Option<Sink>>,
    names_used: BTreeSet<PathBuf>,
    saver: Saver,
    out: Outcome,
    /// Per-run counters that keep identifiers unique.
    entry_seq: BTreeMap<(&'static str, i32, bool), u64>,
    awb_seq: BTreeMap<&'static str, u32>,
    ciq_seq: BTreeMap<(i32, bool), u32>,
    case_seq: BTreeMap<(i32, &'static str), u32>,
    nonconf_seq: BTreeMap<i32, u32>,
    record_seq: u64,
    inbound: VecDeque<Flight>,
    inbound_until: Option<NaiveDate>,
    /// Smuggling cases: (decided on, enterprise), for the credit downgrades mid-period.
    smugglers: Vec<(NaiveDate, usize)>,
    /// Official category each registered enterprise starts with (index into the category list).
    credit: Vec<Option<&'static str>>,
    /// Whether this week's border file writes 入/出 instead of 入境/出境.
    short_direction: bool,
}

pub(crate) fn run(inbox: &Path, opts: &DemoOptions) -> Result<Outcome, DemoError> {
    if opts.from > opts.to {
        return Err(DemoError::Options(format!(
            "from {} is after to {}",
            opts.from, opts.to
        )));
    }
    if (opts.to - opts.from).num_days() > 366 * 20 {
        return Err(DemoError::Options(
            "the period is longer than 20 years".into(),
        ));
    }
    for (unit, _) in feeds::UNITS {
        let dir = inbox.join(unit);
        std::fs::create_dir_all(&dir).map_err(|e| DemoError::io(&dir, e))?;
    }
    let cal = Calendar::new(opts.from, opts.to);
    let total_decl = u64::from(opts.scale) * 1000;
    let decl_per_day = rng::apportion(total_decl, &cal.day_weights(opts.seed, false));
    let orders_per_day = rng::apportion(total_decl / 2, &cal.day_weights(opts.seed, true));
    let years = cal.num_days() as f64 / 365.0;
    // "A few per year" at the smallest scale, growing with trade volume.
    let penalties_per_year = 3.0 + 0.0005 * total_decl as f64 / years.max(1.0 / 52.0);
    let enterprises = (opts.scale as usize * 60).max(50);
    let reg = Registry::generate(
        &mut rng::stream(opts.seed, tag::ENTERPRISES, 0),
        enterprises,
        opts.from,
    );
    let credit = vec![None; reg.all.len()];

    let mut engine = Engine {
        inbox,
        seed: opts.seed,
        cal,
        reg,
        decl_per_day,
        orders_per_day,
        penalties_per_weekday: penalties_per_year / 365.0 * 7.0 / 5.0,
        pending: BTreeMap::new(),
        week: 0,
        sinks: Vec::new(),
        names_used: BTreeSet::new(),
        saver: Saver::new(),
        out: Outcome::default(),
        entry_seq: BTreeMap::new(),
        awb_seq: BTreeMap::new(),
        ciq_seq: BTreeMap::new(),
        case_seq: BTreeMap::new(),
        nonconf_seq: BTreeMap::new(),
        record_seq: 0,
        inbound: VecDeque::new(),
        inbound_until: None,
        smugglers: Vec::new(),
        credit,
        short_direction: false,
    };
    engine.out.summary.declarations = total_decl;
    engine.reference_files()?;
    if let Some((first, last)) = opts.baseline {
        engine.baseline_extract(first, last, (total_decl / 20).max(200))?;
    }
    engine.weeks()?;
    engine.saver.finish()?;
    Ok(engine.out)
}

fn ymd(d: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

impl Engine<'_> {
    // ---------------------------------------------------------------- files

    /// A file name for `spec` in `unit`'s folder: one of the feed's usual names, or (about one
    /// file in ten) an export tool's default name that matches no pattern.
    #[allow(clippy::too_many_arguments)]
    fn file_path(
        &mut self,
        rng: &mut DemoRng,
        spec: &FeedSpec,
        unit: &str,
        format: Format,
        week: Option<usize>,
        date: NaiveDate,
        allow_unnamed: bool,
    ) -> PathBuf {
        let template = if allow_unnamed && rng::chance(rng, 0.1) {
            rng::one_of(
                rng,
                if format == Format::Xlsx {
                    feeds::UNNAMED_XLSX
                } else {
                    feeds::UNNAMED_CSV
                },
            )
        } else {
            rng::pick(rng, spec.names)
        };
        let short = feeds::UNITS
            .iter()
            .find(|(c, _)| *c == unit)
            .map_or(unit, |(_, s)| *s);
        let mut stem = template
            .replace("{date}", &ymd(date))
            .replace("{ym}", &format!("{}年{}月", date.year(), date.month()))
            .replace("{unit}", short)
            .replace("{code}", unit)
            .replace("{n}", &rng.random_range(1..=20).to_string());
        if let Some(w) = week.map(|w| &self.cal.weeks[w]) {
            stem = stem
                .replace("{Y}", &w.iso_year.to_string())
                .replace("{W}", &format!("{:02}", w.iso_week))
                .replace("{w}", &w.iso_week.to_string())
                .replace("{from}", &ymd(w.first))
                .replace("{to}", &ymd(w.last));
        }
        let dir = self.inbox.join(unit);
        let mut path = dir.join(format!("{stem}.{}", format.extension()));
        let mut k = 2;
        while !self.names_used.insert(path.clone()) {
            path = dir.join(format!("{stem}({k}).{}", format.extension()));
            k += 1;
        }
        path
    }

    fn open(&mut self, job: Job) -> Result<Sink, DemoError> {
        let Job {
            spec,
            unit,
            week,
            date,
            cutoff,
            delivered,
            expected_rows,
            defects,
            stream,
        } = job;
        let mut rng = rng::stream(self.seed, tag::FILE, stream);
        let mut format = rng::pick(&mut rng, spec.habit);
        // Nobody exports a million rows into one xlsx sheet (Excel stops at 1,048,576).
        if format == Format::Xlsx && expected_rows > 600_000 {
            format = Format::CsvUtf8Bom;
        }
        // Nearly empty weeks go out as xlsx: two header-only CSVs can be byte-identical, and
        // intake would file the second as a duplicate delivery (xlsx carry their creation time).
        if expected_rows < 3 {
            format = Format::Xlsx;
        }
        let path = self.file_path(&mut rng, spec, unit, format, week, date, week.is_some());
        let author = unit_name(unit);
        Sink::create(
            SinkSpec {
                spec,
                path,
                format,
                cutoff,
                delivered,
                expected_rows,
                defects,
                author,
            },
            rng,
        )
    }

    fn close(&mut self, sink: Sink, feed: &'static str) -> Result<(), DemoError> {
        let done = sink.finish()?;
        if let Some(wb) = done.workbook {
            self.saver.save(done.path.clone(), wb, done.delivered)?;
        }
        self.record(done.path, feed, &done.stats);
        Ok(())
    }

    fn record(&mut self, path: PathBuf, feed: &'static str, stats: &FileStats) {
        let out = &mut self.out;
        out.summary.files.push(path);
        out.feeds.push(feed);
        out.summary.rows_written += stats.rows;
        *out.rows_by_feed.entry(feed).or_default() += stats.rows;
        for (d, n) in &stats.defects {
            out.summary.bad_rows_planted += n;
            *out.defects.entry((feed, *d)).or_default() += n;
        }
        out.unmappable += stats.unmappable;
    }

    // ---------------------------------------------------------------- reference data

    /// Enterprise registry, initial customs credit categories and the task registry, delivered
    /// once at the start.
    fn reference_files(&mut self) -> Result<(), DemoError> {
        let from = self.cal.from;
        let cutoff = midnight(from);
        let registered = self.reg.all.iter().filter(|e| e.in_registry).count() as u64;

        let mut sink = self.open(Job {
            spec: &feeds::ENTERPRISE,
            unit: "commerce",
            week: None,
            date: from,
            cutoff,
            delivered: cutoff + Duration::minutes(9 * 60 + 30),
            expected_rows: registered,
            defects: 4,
            stream: 1,
        })?;
        for e in self.reg.all.iter().filter(|e| e.in_registry) {
            let opt = |v: &Option<String>| v.clone().map_or(Value::Empty, Value::Text);
            sink.write(&[
                Value::Text(e.uscc.clone()),
                Value::Text(e.name.clone()),
                opt(&e.customs_code),
                opt(&e.ciq_code),
                Value::Str(e.region),
                Value::Date(e.registered_on),
                Value::Bool(e.is_broker),
            ])?;
        }
        self.close(sink, feeds::ENTERPRISE.feed)?;

        // Credit categories: order 251 (from 2021-11-01) has three, order 237 before it had four.
        let new_order = from >= NaiveDate::from_ymd_opt(2021, 11, 1).expect("valid date");
        let regime_start = if new_order {
            NaiveDate::from_ymd_opt(2021, 11, 1)
        } else {
            NaiveDate::from_ymd_opt(2014, 12, 1)
        }
        .expect("valid date");
        let mut rng = rng::stream(self.seed, tag::CREDIT, 0);
        let holders: Vec<usize> = (0..self.reg.all.len())
            .filter(|i| self.reg.all[*i].in_registry && self.reg.all[*i].customs_code.is_some())
            .collect();
        let mut sink = self.open(Job {
            spec: &feeds::CUSTOMS_CREDIT,
            unit: "customs",
            week: None,
            date: from,
            cutoff,
            delivered: cutoff + Duration::minutes(10 * 60 + 15),
            expected_rows: holders.len() as u64,
            defects: 0,
            stream: 2,
        })?;
        for i in holders {
            let e = &self.reg.all[i];
            let (top, mid, bad) = if e.risky {
                (0.0, 0.02, 0.3)
            } else if e.activity > 5.0 || e.is_broker {
                (0.2, 0.15, 0.005)
            } else {
                (0.02, 0.05, 0.015)
            };
            let category = if new_order {
                rng::pick(
                    &mut rng,
                    &[
                        ("高级认证企业", top + mid / 2.0),
                        ("失信企业", bad),
                        ("其他", 1.0 - top - bad),
                    ],
                )
            } else {
                rng::pick(
                    &mut rng,
                    &[
                        ("高级认证企业", top),
                        ("一般认证企业", mid),
                        ("失信企业", bad),
                        ("一般信用企业", 1.0 - top - mid - bad),
                    ],
                )
            };
            let earliest = e.registered_on.max(regime_start);
            let span = (from - earliest).num_days();
            let effective = if span > 1 {
                earliest + Duration::days(rng.random_range(0..span))
            } else {
                from
            };
            self.credit[i] = Some(category);
            sink.write(&[
                Value::Text(e.uscc.clone()),
                Value::Str(category),
                Value::Planned(effective),
            ])?;
        }
        self.close(sink, feeds::CUSTOMS_CREDIT.feed)?;

        let path = self.inbox.join("commerce").join("任务清单.csv");
        sink::write_bytes(&path, tasks::TASK_REGISTRY_CSV.as_bytes())?;
        sink::set_delivered(&path, cutoff + Duration::hours(9))?;
        self.names_used.insert(path.clone());
        let rows = tasks::TASK_REGISTRY_CSV
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count() as u64;
        self.record(
            path,
            "task_registry",
            &FileStats {
                rows,
                ..FileStats::default()
            },
        );
        Ok(())
    }

    /// A historical customs extract of the clearance baseline period (2017 for the plan's
    /// targets), delivered once with the reference data: import and export declarations at the
    /// slower pace of before the reform (about 2.4 times today's), with inspections. Entry ids
    /// carry the baseline year, so they never collide with the period's own.
    fn baseline_extract(
        &mut self,
        first: NaiveDate,
        last: NaiveDate,
        rows: u64,
    ) -> Result<(), DemoError> {
        const SLOWER: f64 = 2.4;
        let days = (last - first).num_days().max(0) + 1;
        let cutoff = midnight(self.cal.from);
        let label =
            if first.month() == 1 && first.day() == 1 && last.month() == 12 && last.day() == 31 {
                format!("{}年", first.year())
            } else {
                format!("{}至{}", ymd(first), ymd(last))
            };
        let format = Format::CsvUtf8Bom;
        let path = self
            .inbox
            .join("customs")
            .join(format!("报关单数据_{label}基线.{}", format.extension()));
        self.names_used.insert(path.clone());
        let mut sink = Sink::create(
            SinkSpec {
                spec: &feeds::CUSTOMS_DECLARATION,
                path,
                format,
                cutoff,
                delivered: cutoff + Duration::minutes(10 * 60 + 40),
                expected_rows: rows,
                defects: 0,
                author: unit_name("customs"),
            },
            rng::stream(self.seed, tag::FILE, 3),
        )?;
        let mut rng = rng::stream(self.seed, tag::BASELINE, 0);
        let minutes = |h: f64| Duration::seconds((h * 3600.0).round() as i64);
        for _ in 0..rows {
            let day = first + Duration::days(rng.random_range(0..days));
            let declared =
                day.and_time(NaiveTime::MIN) + minutes(rng::uniform(&mut rng, 8.5, 17.5));
            let import = rng::chance(&mut rng, 0.7);
            let mode = rng::pick(&mut rng, if import { IMPORT_MODES } else { EXPORT_MODES });
            let office = if rng::chance(&mut rng, 0.6) {
                OFFICE_CITY
            } else {
                OFFICE_AIRPORT
            };
            let transport = if rng::chance(&mut rng, 0.7) {
                AIR
            } else {
                ROAD
            };
            let entry = self.next_entry_id(&mut rng, office, declared.year(), import);
            let ci = self.reg.consignee(&mut rng);
            let consignee = self.reg.all[ci].uscc.clone();
            let accepted = declared
                + Duration::minutes(
                    rng::lognormal(&mut rng, 20.0, 1.0)
                        .clamp(1.0, 240.0)
                        .round() as i64,
                );
            let inspected = rng::chance(&mut rng, 0.12);
            let released = if inspected {
                accepted + minutes(rng::uniform(&mut rng, 24.0, 96.0))
            } else {
                let median = if import { 2.2 } else { 0.6 };
                accepted + minutes((rng::lognormal(&mut rng, median, 0.9) * SLOWER).max(0.05))
            };
            let value = rng::lognormal(&mut rng, 120_000.0, 1.4).clamp(50.0, 5e8);
            sink.write(&[
                Value::Text(entry),
                Value::Ie(import),
                Value::Str(office),
                Value::Code(mode),
                Value::Coded(transport.0, transport.1),
                Value::Text(consignee.clone()),
                Value::Text(consignee),
                Value::Time(declared),
                Value::Time(accepted),
                Value::Time(released),
                Value::Bool(inspected),
                Value::money(value),
            ])?;
        }
        self.close(sink, feeds::CUSTOMS_DECLARATION.feed)
    }

    /// Category changes decided by mid-period: smuggling cases make 失信企业, and a few upgrades
    /// and downgrades besides.
    fn credit_changes(&mut self) -> Result<(), DemoError> {
        let week = &self.cal.weeks[self.week];
        let date = week.first;
        let cutoff = week.cutoff;
        let mut rng = rng::stream(self.seed, tag::CREDIT, 1);
        let mut rows: BTreeMap<usize, (&'static str, NaiveDate)> = BTreeMap::new();
        for (decided, i) in &self.smugglers {
            if *decided < date && self.reg.all[*i].in_registry {
                let effective = (*decided + Duration::days(rng.random_range(5..20))).min(date);
                rows.insert(*i, ("失信企业", effective));
            }
        }
        let span = (date - self.cal.from).num_days();
        let options: &[&str] = if self.credit.iter().flatten().any(|c| *c == "其他") {
            &["高级认证企业", "其他", "失信企业"]
        } else {
            &["高级认证企业", "一般认证企业", "一般信用企业", "失信企业"]
        };
        for (i, current) in self.credit.iter().enumerate() {
            let Some(current) = current else { continue };
            if rows.contains_key(&i) || !rng::chance(&mut rng, 0.012) {
                continue;
            }
            let next = rng::one_of(&mut rng, options);
            if next != *current {
                let effective = if span > 0 {
                    self.cal.from + Duration::days(rng.random_range(0..=span))
                } else {
                    date
                };
                rows.insert(i, (next, effective));
            }
        }
        let mut sink = self.open(Job {
            spec: &feeds::CUSTOMS_CREDIT_CHANGES,
            unit: "customs",
            week: None,
            date,
            cutoff,
            delivered: midnight(date) + Duration::minutes(10 * 60 + 40),
            expected_rows: rows.len() as u64,
            defects: 0,
            stream: 3,
        })?;
        for (i, (category, effective)) in rows {
            sink.write(&[
                Value::Text(self.reg.all[i].uscc.clone()),
                Value::Str(category),
                Value::Planned(effective),
            ])?;
        }
        self.close(sink, feeds::CUSTOMS_CREDIT.feed)
    }

    // ---------------------------------------------------------------- weeks

    fn weeks(&mut self) -> Result<(), DemoError> {
        let task_list = tasks::registry();
        let start = self.cal.from;
        let mut units: Vec<UnitProgress> = feeds::UNITS
            .iter()
            .enumerate()
            .map(|(i, (code, _))| {
                UnitProgress::new(
                    code,
                    &task_list,
                    start,
                    rng::stream(self.seed, tag::TASKS, i as u64),
                )
            })
            .collect();
        let mid = self.cal.weeks.len() / 2;
        for wi in 0..self.cal.weeks.len() {
            self.week = wi;
            self.open_week()?;
            for p in self.pending.remove(&wi).unwrap_or_default() {
                self.emit(p.slot, p.cells, p.appear, p.complete)?;
            }
            if wi == mid {
                self.credit_changes()?;
            }
            let days: Vec<NaiveDate> = self.cal.weeks[wi].days().collect();
            for day in days {
                self.day(day)?;
            }
            self.progress_reports(&mut units)?;
            self.close_week()?;
        }
        Ok(())
    }

    fn open_week(&mut self) -> Result<(), DemoError> {
        let wi = self.week;
        let week = self.cal.weeks[wi].clone();
        let idx = |d: NaiveDate| self.cal.day_index(d);
        let decl: u64 = week.days().map(|d| self.decl_per_day[idx(d)]).sum();
        let orders: u64 = week.days().map(|d| self.orders_per_day[idx(d)]).sum();
        let flights = week.days().count() as u64 * 2;
        let mut rng = rng::stream(self.seed, tag::WEEK, wi as u64);
        self.short_direction = rng::chance(&mut rng, 0.2);
        // Some weeks a unit sends its files late (信息报告制度 reports that too).
        let late_minutes: Vec<i64> = feeds::UNITS
            .iter()
            .map(|(unit, _)| {
                let p = match *unit {
                    "customs" => 0.04,
                    "ciq" | "airport" => 0.08,
                    _ => 0.1,
                };
                if rng::chance(&mut rng, p) {
                    rng.random_range(180..3000)
                } else {
                    0
                }
            })
            .collect();
        self.sinks.clear();
        for (s, spec) in feeds::WEEKLY.iter().enumerate() {
            let expected = match s {
                0 => decl,
                1 => decl * 8 / 100,
                2 => (self.penalties_per_weekday * 5.0) as u64,
                3 => decl * 3 / 1000,
                4 => decl * 41 / 100,
                5 => decl * 2 / 1000,
                6 => flights,
                7 => decl * 52 / 100,
                8 => decl * 26 / 100,
                9 => orders,
                _ => 0,
            };
            let defects = if s == 0 {
                rng::pick(
                    &mut rng,
                    &[(0, 0.15), (1, 0.3), (2, 0.3), (3, 0.15), (4, 0.1)],
                )
            } else {
                rng::pick(&mut rng, &[(0, 0.45), (1, 0.35), (2, 0.2)])
            };
            let unit = spec.unit.expect("weekly feeds belong to one unit");
            let late = late_minutes[feeds::UNITS
                .iter()
                .position(|(u, _)| *u == unit)
                .unwrap_or(0)];
            // Extracted overnight, sent Monday morning before the 10:00 deadline, or late.
            let delivered =
                week.cutoff + Duration::minutes(8 * 60 + rng.random_range(0..110) + late);
            let sink = self.open(Job {
                spec,
                unit,
                week: Some(wi),
                date: week.cutoff.date(),
                cutoff: week.cutoff,
                delivered,
                expected_rows: expected,
                defects,
                stream: 10 + (wi as u64) * 64 + s as u64,
            })?;
            self.sinks.push(Some(sink));
        }
        Ok(())
    }

    fn close_week(&mut self) -> Result<(), DemoError> {
        let sinks = std::mem::take(&mut self.sinks);
        for (s, sink) in sinks.into_iter().enumerate() {
            if let Some(sink) = sink {
                self.close(sink, feeds::WEEKLY[s].feed)?;
            }
        }
        Ok(())
    }

    fn progress_reports(&mut self, units: &mut [UnitProgress]) -> Result<(), DemoError> {
        let wi = self.week;
        let week = self.cal.weeks[wi].clone();
        for (u, progress) in units.iter_mut().enumerate() {
            let Some((rows, delivered)) = progress.week(&week, self.cal.to) else {
                continue;
            };
            let stream = 10 + (wi as u64) * 64 + 32 + u as u64;
            let mut sink = self.open(Job {
                spec: &feeds::TASK_PROGRESS,
                unit: progress.unit,
                week: Some(wi),
                date: delivered.date(),
                cutoff: delivered,
                delivered,
                expected_rows: rows.len() as u64,
                defects: 0,
                stream,
            })?;
            for row in &rows {
                sink.write(row)?;
            }
            self.close(sink, feeds::TASK_PROGRESS.feed)?;
        }
        Ok(())
    }

    /// Routes a record to the file of the week it first exists in, and queues it again for the
    /// week it completes in when this week's extract shows it unfinished.
    fn emit(
        &mut self,
        slot: Slot,
        cells: Vec<Value>,
        appear: NaiveDateTime,
        complete: NaiveDateTime,
    ) -> Result<(), DemoError> {
        let Some(appears) = self.cal.week_of(appear) else {
            return Ok(());
        };
        let appears = appears.max(self.week);
        if appears > self.week {
            self.pending.entry(appears).or_default().push(Pending {
                slot,
                cells,
                appear,
                complete,
            });
            return Ok(());
        }
        self.sinks[slot as usize]
            .as_mut()
            .expect("week is open")
            .write(&cells)?;
        if complete >= self.cal.weeks[self.week].cutoff
            && let Some(done) = self.cal.week_of(complete).filter(|w| *w > self.week)
        {
            self.pending.entry(done).or_default().push(Pending {
                slot,
                cells,
                appear,
                complete,
            });
        }
        Ok(())
    }

    // ---------------------------------------------------------------- one day

    /// The day's inbound flights, plus the days before so cargo can have arrived earlier.
    fn flights_for(&self, day: NaiveDate, inbound: bool) -> Vec<Flight> {
        let expected =
            self.decl_per_day[self.cal.day_index(day.clamp(self.cal.from, self.cal.to))] as f64;
        let share = if inbound { 0.7 * 0.75 } else { 0.3 * 0.6 };
        let n = ((expected * share / 120.0).round() as usize).clamp(1, INBOUND.len());
        let mut rng = rng::stream(
            self.seed,
            tag::DAY,
            (1 << 40) + u64::from(inbound) * (1 << 32) + day.num_days_from_ce() as u64,
        );
        (0..n)
            .map(|i| {
                // Carriers rotate through the week; the busiest days add routes.
                let first =
                    day.weekday().num_days_from_monday() as usize * 3 + if inbound { 0 } else { 7 };
                let (carrier, prefix, h, m) = INBOUND[(first + i) % INBOUND.len()];
                let number = if inbound {
                    1000 + 2 * i + 1
                } else {
                    1000 + 2 * i + 2
                };
                let scheduled = day.and_time(NaiveTime::from_hms_opt(h, m, 0).expect("valid time"));
                let delay = (rng::normal(&mut rng) * 20.0).round() as i64 + 5;
                Flight {
                    day,
                    no: format!("{carrier}{number}"),
                    prefix,
                    at: scheduled + Duration::minutes(delay),
                }
            })
            .collect()
    }

    fn day(&mut self, day: NaiveDate) -> Result<(), DemoError> {
        let di = self.cal.day_index(day);
        let mut rng = rng::stream(self.seed, tag::DAY, day.num_days_from_ce() as u64);

        // Flight history for cargo arrivals: the days before the period count too.
        let first_needed = day - Duration::days(3);
        let mut d = self
            .inbound_until
            .map_or(first_needed, |u| (u + Duration::days(1)).max(first_needed));
        while d <= day {
            let flights = self.flights_for(d, true);
            self.inbound.extend(flights);
            d += Duration::days(1);
        }
        self.inbound_until = Some(day);
        while self
            .inbound
            .front()
            .is_some_and(|f| f.at < midnight(first_needed))
        {
            self.inbound.pop_front();
        }
        self.border(day, &mut rng)?;

        let n = self.decl_per_day[di];
        let mut times: Vec<NaiveDateTime> = (0..n)
            .map(|_| midnight(day) + office_time(&mut rng))
            .collect();
        times.sort_unstable();
        let progress = di as f64 / self.cal.num_days() as f64;
        for t in times {
            self.declaration(&mut rng, t, progress)?;
        }
        self.ecommerce(day, &mut rng, progress)?;
        self.penalties(day, &mut rng)?;
        Ok(())
    }

    fn border(&mut self, day: NaiveDate, rng: &mut DemoRng) -> Result<(), DemoError> {
        let mut seq = 0;
        let short = self.short_direction;
        for inbound in [true, false] {
            let flights: Vec<Flight> = if inbound {
                self.inbound
                    .iter()
                    .filter(|f| f.day == day)
                    .cloned()
                    .collect()
            } else {
                self.flights_for(day, false)
            };
            for f in flights {
                seq += 1;
                let (arrived, checked) = if inbound {
                    (f.at, f.at + Duration::minutes(rng.random_range(15..70)))
                } else {
                    (
                        f.at - Duration::minutes(rng.random_range(90..150)),
                        f.at - Duration::minutes(rng.random_range(20..50)),
                    )
                };
                let direction = match (inbound, short) {
                    (true, false) => Value::Str("入境"),
                    (true, true) => Value::Str("入"),
                    (false, false) => Value::Str("出境"),
                    (false, true) => Value::Str("出"),
                };
                let incident = if rng::chance(rng, 0.03) {
                    Value::Str(rng::one_of(rng, INCIDENTS))
                } else {
                    Value::Empty
                };
                let cells = vec![
                    Value::Text(format!("BJ{}{seq:03}", ymd(day))),
                    Value::Text(f.no.clone()),
                    direction,
                    Value::Time(arrived),
                    Value::Time(checked),
                    Value::Bool(rng::chance(rng, 0.65)),
                    incident,
                ];
                self.emit(Slot::Border, cells, arrived, checked)?;
            }
        }
        Ok(())
    }

    fn next_entry_id(
        &mut self,
        rng: &mut DemoRng,
        office: &'static str,
        year: i32,
        import: bool,
    ) -> String {
        let seq = self
            .entry_seq
            .entry((office, year, import))
            .or_insert_with(|| rng.random_range(1..200_000));
        // Gaps where declarations were withdrawn before submission.
        *seq += if rng::chance(rng, 0.03) { 2 } else { 1 };
        codes::entry_id(office, year, import, *seq)
    }

    fn next_waybill(&mut self, rng: &mut DemoRng, prefix: &'static str) -> String {
        let seq = self
            .awb_seq
            .entry(prefix)
            .or_insert_with(|| rng.random_range(1_000_000..3_000_000));
        *seq += 1;
        codes::air_waybill(prefix, *seq, true)
    }

    /// One customs declaration and every agency's record of the same goods.
    fn declaration(
        &mut self,
        rng: &mut DemoRng,
        declared: NaiveDateTime,
        progress: f64,
    ) -> Result<(), DemoError> {
        let import = rng::chance(rng, 0.7);
        let mode = rng::pick(rng, if import { IMPORT_MODES } else { EXPORT_MODES });
        let ecommerce = matches!(mode, "9610" | "1210");
        let transport = if ecommerce {
            if rng::chance(rng, 0.9) { AIR } else { ROAD }
        } else if import {
            rng::pick(
                rng,
                &[(AIR, 0.75), (ROAD, 0.13), (WATER, 0.06), (RAIL, 0.06)],
            )
        } else {
            rng::pick(rng, &[(AIR, 0.6), (ROAD, 0.28), (RAIL, 0.12)])
        };
        let by_air = transport == AIR;
        let office = if ecommerce || mode == "1233" {
            OFFICE_PARK
        } else if by_air {
            if rng::chance(rng, 0.85) {
                OFFICE_AIRPORT
            } else {
                OFFICE_CITY
            }
        } else if rng::chance(rng, 0.8) {
            OFFICE_CITY
        } else {
            OFFICE_PARK
        };
        let entry = self.next_entry_id(rng, office, declared.year(), import);
        let ci = self.reg.consignee(rng);
        let consignee = self.reg.all[ci].uscc.clone();
        let declarant = if self.reg.brokers.is_empty() || rng::chance(rng, 0.35) {
            consignee.clone()
        } else {
            self.reg.all[self.reg.brokers.sample(rng)].uscc.clone()
        };
        let risky = self.reg.all[ci].risky;

        // Customs: lodged → accepted → (inspected) → released, getting faster over the period.
        let speedup = 1.0 - 0.3 * progress;
        let minutes = |h: f64| Duration::seconds((h * 3600.0).round() as i64);
        let accepted = declared
            + Duration::minutes(rng::lognormal(rng, 5.0, 1.0).clamp(1.0, 60.0).round() as i64);
        let inspect_p = if risky {
            0.25
        } else if mode == "9610" {
            0.03
        } else {
            0.08
        };
        let inspected = rng::chance(rng, inspect_p);
        let mut inspection = None;
        let mut released = if inspected {
            let started = accepted + minutes(rng::uniform(rng, 8.0, 48.0));
            let finished = started + minutes(rng::uniform(rng, 0.5, 4.0));
            inspection = Some((started, finished));
            finished + minutes(rng::lognormal(rng, 3.0, 0.8).min(48.0))
        } else {
            let median = if import { 2.2 } else { 0.6 };
            accepted + minutes((rng::lognormal(rng, median, 0.9) * speedup).max(0.03))
        };
        if rng::chance(rng, 0.0015) {
            // Goods held for weeks (disputed classification, missing licence): an outlier.
            released = declared + minutes(rng::uniform(rng, 31.0 * 24.0, 70.0 * 24.0));
        }
        let value = match mode {
            "9610" => rng::lognormal(rng, 3_000.0, 1.0),
            "1210" => rng::lognormal(rng, 30_000.0, 1.0),
            _ => rng::lognormal(rng, 120_000.0, 1.4),
        }
        .clamp(50.0, 5e8);

        let cells = vec![
            Value::Text(entry.clone()),
            Value::Ie(import),
            Value::Str(office),
            Value::Code(mode),
            Value::Coded(transport.0, transport.1),
            Value::Text(consignee.clone()),
            Value::Text(declarant),
            Value::Time(declared),
            Value::Time(accepted),
            Value::Time(released),
            Value::After(accepted, Box::new(Value::Bool(inspected))),
            Value::money(value),
        ];
        self.emit(Slot::Declaration, cells, declared, released.max(accepted))?;

        // CIQ (about 40%): lodged together with the customs declaration (一次录入), inspected
        // jointly when both inspect (一次查验), or alone with customs accepting the result.
        let ciq_p = if import { 0.5 } else { 0.2 };
        let mut joint = false;
        if rng::chance(rng, ciq_p) {
            let ciq_declared = if rng::chance(rng, 0.5) {
                declared
            } else {
                declared - Duration::minutes(rng.random_range(5..120))
            };
            let ciq_inspected = match inspection {
                Some((started, _)) if rng::chance(rng, 0.7) => {
                    joint = true;
                    Some(started)
                }
                Some(_) if rng::chance(rng, 0.3) => {
                    Some(ciq_declared + minutes(rng::uniform(rng, 2.0, 30.0)))
                }
                None if rng::chance(rng, 0.1) => {
                    Some(ciq_declared + minutes(rng::uniform(rng, 2.0, 30.0)))
                }
                _ => None,
            };
            let ciq_released = match ciq_inspected {
                Some(t) => t + minutes(rng::uniform(rng, 1.0, 12.0)),
                None => ciq_declared + minutes((rng::lognormal(rng, 1.2, 0.8) * speedup).max(0.05)),
            };
            let conform = ciq_inspected.is_none() || !rng::chance(rng, 0.05);
            let yy = ciq_declared.year();
            let seq = self
                .ciq_seq
                .entry((yy, import))
                .or_insert_with(|| rng.random_range(1..5_000));
            *seq += 1;
            let ciq_no = format!(
                "150400{:02}{}{:06}",
                yy % 100,
                if import { 1 } else { 2 },
                seq
            );
            let link = if rng::chance(rng, 0.05) {
                Value::Empty
            } else {
                Value::Text(entry.clone())
            };
            let decided = ciq_inspected.unwrap_or(ciq_declared);
            let cells = vec![
                Value::Text(ciq_no),
                link,
                Value::Text(consignee.clone()),
                Value::Time(ciq_declared),
                ciq_inspected.map_or(Value::Empty, Value::Time),
                Value::Time(ciq_released),
                Value::After(
                    ciq_released,
                    Box::new(Value::Str(if conform { "合格" } else { "不合格" })),
                ),
                Value::After(decided, Box::new(Value::Bool(joint))),
            ];
            self.emit(Slot::Ciq, cells, ciq_declared, ciq_released)?;
            if let (false, Some(found)) = (conform, ciq_inspected) {
                let seq = self.nonconf_seq.entry(found.year()).or_insert(0);
                *seq += 1;
                let cells = vec![
                    Value::Text(format!("BHG{}{:06}", found.year(), seq)),
                    Value::Text(consignee.clone()),
                    Value::Date(found.date()),
                    Value::Str(rng::one_of(rng, NONCONFORMITY)),
                    Value::Str(if rng::chance(rng, 0.15) {
                        "严重"
                    } else {
                        "一般"
                    }),
                ];
                self.emit(Slot::Nonconformity, cells, found, found)?;
            }
        }

        if let Some((started, finished)) = inspection {
            self.record_seq += 1;
            let cells = vec![
                Value::Text(format!(
                    "CY{office}{}{:07}",
                    ymd(started.date()),
                    self.record_seq
                )),
                Value::Text(entry.clone()),
                Value::Time(started),
                Value::Time(finished),
                Value::Bool(joint),
                Value::After(
                    finished,
                    Box::new(Value::Str(if rng::chance(rng, 0.05) {
                        "异常"
                    } else {
                        "正常"
                    })),
                ),
            ];
            self.emit(Slot::Inspection, cells, started, finished)?;
        }

        let anomaly = rng::chance(rng, 0.004);
        if import && by_air {
            // Airport: the goods arrived on an earlier flight; gate-out follows release.
            let mut prep = rng::lognormal(rng, 7.0, 0.8).clamp(1.0, 240.0);
            if rng::chance(rng, 0.001) {
                prep = rng::uniform(rng, 31.0 * 24.0, 45.0 * 24.0);
            }
            let target = declared - minutes(prep);
            let found = self
                .inbound
                .iter()
                .rev()
                .find(|f| f.at + Duration::minutes(20) <= target)
                .cloned();
            let (flight, arrived) = match found {
                Some(f) if prep < 96.0 => {
                    let at = f.at + Duration::minutes(rng.random_range(20..90));
                    (f, at.min(declared - Duration::minutes(15)))
                }
                _ => {
                    let (carrier, prefix, _, _) = rng::one_of(rng, INBOUND);
                    let no = format!("{carrier}{}", 1001 + 2 * rng.random_range(0..12));
                    (
                        Flight {
                            day: target.date(),
                            no,
                            prefix,
                            at: target,
                        },
                        target,
                    )
                }
            };
            let mut gate_out = released + minutes(rng::lognormal(rng, 5.0, 0.7).max(0.34));
            if anomaly {
                let early = released - minutes(rng::uniform(rng, 1.0, 12.0));
                if early > arrived + Duration::minutes(10) {
                    gate_out = early;
                }
            }
            let waybill = self.next_waybill(rng, flight.prefix);
            let link = if rng::chance(rng, 0.03) {
                Value::Empty
            } else {
                Value::Text(entry.clone())
            };
            let cells = vec![
                Value::Text(waybill),
                link,
                Value::Text(flight.no),
                Value::Time(arrived),
                Value::Time(gate_out),
            ];
            self.emit(Slot::Cargo, cells, arrived, gate_out)?;
        } else if !import && rng::chance(rng, 0.85) {
            // Park warehouse: exports are received before they are declared and leave after release.
            let mut before = rng::lognormal(rng, 10.0, 0.7).clamp(1.0, 168.0);
            if rng::chance(rng, 0.001) {
                before = rng::uniform(rng, 31.0 * 24.0, 40.0 * 24.0);
            }
            let in_at = declared - minutes(before);
            let mut out_at = released + minutes(rng::lognormal(rng, 4.0, 0.8).max(0.25));
            if anomaly {
                let early = released - minutes(rng::uniform(rng, 1.0, 8.0));
                if early > in_at + Duration::minutes(10) {
                    out_at = early;
                }
            }
            let waybill = if by_air {
                let (_, prefix, _, _) = rng::one_of(rng, INBOUND);
                Value::Text(self.next_waybill(rng, prefix))
            } else {
                Value::Empty
            };
            self.record_seq += 1;
            let cells = vec![
                Value::Text(format!("RK{}{:07}", ymd(in_at.date()), self.record_seq)),
                waybill,
                Value::Text(entry.clone()),
                Value::Time(in_at),
                Value::Time(out_at),
            ];
            self.emit(Slot::Warehouse, cells, in_at, out_at)?;
        }

        // Tax arrears: duties due 15 days after release, some paid late, some not at all.
        if import && rng::chance(rng, if risky { 0.05 } else { 0.002 }) {
            let due = released.date() + Duration::days(15);
            let paid = if rng::chance(rng, 0.6) {
                Some(due + Duration::days(rng.random_range(1..100)))
            } else {
                None
            };
            let appear = midnight(due + Duration::days(1));
            let cells = vec![
                Value::Text(format!("{entry}-{}", rng::one_of(rng, &["A01", "L04"]))),
                Value::Text(consignee),
                Value::Planned(due),
                paid.map_or(Value::Empty, Value::Date),
                Value::money(rng::lognormal(rng, 25_000.0, 1.0)),
            ];
            self.emit(Slot::Tax, cells, appear, paid.map_or(appear, midnight))?;
        }
        Ok(())
    }

    fn ecommerce(
        &mut self,
        day: NaiveDate,
        rng: &mut DemoRng,
        progress: f64,
    ) -> Result<(), DemoError> {
        let n = self.orders_per_day[self.cal.day_index(day)];
        if n == 0 || self.reg.ecommerce.is_empty() {
            return Ok(());
        }
        // Shoppers order around the clock, most in the evening.
        const HOURS: [f64; 24] = [
            2.0, 1.2, 0.6, 0.3, 0.2, 0.3, 0.6, 1.2, 2.0, 3.0, 3.5, 3.5, 3.2, 3.0, 3.2, 3.4, 3.5,
            3.6, 3.8, 4.5, 5.5, 6.0, 5.5, 3.5,
        ];
        let mut times: Vec<NaiveDateTime> = (0..n)
            .map(|_| {
                let h = rng::weighted(rng, &HOURS) as i64;
                midnight(day) + Duration::hours(h) + Duration::seconds(rng.random_range(0..3600))
            })
            .collect();
        times.sort_unstable();
        for (i, declared) in times.into_iter().enumerate() {
            let mut minutes = (rng::lognormal(rng, 12.0, 1.0) * (1.0 - 0.3 * progress)).max(0.5);
            if rng::chance(rng, 0.02) {
                minutes += rng::uniform(rng, 24.0 * 60.0, 72.0 * 60.0);
            }
            let released = declared + Duration::seconds((minutes * 60.0) as i64);
            let shop = self.reg.ecommerce.sample(rng);
            let cells = vec![
                Value::Text(format!(
                    "E{}{:07}{:02}",
                    ymd(day),
                    i,
                    rng.random_range(0..100)
                )),
                Value::Text(self.reg.all[shop].uscc.clone()),
                Value::Time(declared),
                Value::Time(released),
                Value::money(rng::lognormal(rng, 160.0, 0.9).clamp(5.0, 5000.0)),
            ];
            self.emit(Slot::Ecommerce, cells, declared, released)?;
        }
        Ok(())
    }

    fn penalties(&mut self, day: NaiveDate, rng: &mut DemoRng) -> Result<(), DemoError> {
        if day.weekday().number_from_monday() > 5 {
            return Ok(());
        }
        for _ in 0..rng::poisson(rng, self.penalties_per_weekday) {
            let who = if !self.reg.risky.is_empty() && rng::chance(rng, 0.4) {
                self.reg.risky.sample(rng)
            } else {
                self.reg.consignee(rng)
            };
            let kind = rng::pick(rng, &[("违规", 0.87), ("走私", 0.08), ("其他", 0.05)]);
            let voluntary = kind == "违规" && rng::chance(rng, 0.25);
            let amount = match kind {
                "走私" => rng::lognormal(rng, 400_000.0, 1.0),
                "其他" => rng::lognormal(rng, 5_000.0, 1.0),
                _ if voluntary => rng::lognormal(rng, 15_000.0, 0.8),
                _ => rng::lognormal(rng, 20_000.0, 1.2),
            }
            .clamp(500.0, 5e7);
            if kind == "走私" {
                self.smugglers.push((day, who));
            }
            let seq = self.case_seq.entry((day.year(), kind)).or_insert(0);
            *seq += 1;
            let word = match kind {
                "走私" => "缉",
                "违规" => "缉违",
                _ => "知",
            };
            let cells = vec![
                Value::Text(format!("鄂关{word}字〔{}〕{}号", day.year(), seq)),
                Value::Text(self.reg.all[who].uscc.clone()),
                Value::Date(day),
                Value::Str(kind),
                Value::money(amount),
                Value::Bool(voluntary),
            ];
            let at = midnight(day);
            self.emit(Slot::Penalty, cells, at, at)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::sink::gbk_encodable;

    #[test]
    fn generated_texts_are_gbk_text() {
        let texts = INCIDENTS
            .iter()
            .chain(NONCONFORMITY)
            .copied()
            .chain([
                AIR.1,
                ROAD.1,
                WATER.1,
                RAIL.1,
                "鄂关缉违字〔2026〕12号",
                "入境",
                "出境",
                "合格",
                "不合格",
            ])
            .chain(feeds::UNITS.iter().map(|(u, _)| unit_name(u)));
        for t in texts {
            assert!(gbk_encodable(t), "{t}");
        }
    }
}
