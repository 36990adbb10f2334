//! The enterprises behind the trade: USCCs, names, customs and CIQ codes, who trades how much.
//!
//! Activity is heavy-tailed (a few large importers lodge most declarations), a few percent are
//! customs brokers that declare for others, a small risky group collects most penalties and tax
//! arrears, and some traders come from outside Ordos and are not in the commerce registry, so that
//! cross-feed link checks have something to warn about.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate};
use rand::Rng;

use super::codes;
use super::rng::{self, DemoRng, Sampler};

#[derive(Debug, Clone)]
pub(crate) struct Enterprise {
    pub uscc: String,
    pub name: String,
    pub customs_code: Option<String>,
    pub ciq_code: Option<String>,
    pub region: &'static str,
    pub registered_on: NaiveDate,
    pub is_broker: bool,
    /// In the commerce bureau's registry (the others trade here but are registered elsewhere).
    pub in_registry: bool,
    pub ecommerce: bool,
    pub risky: bool,
    /// Relative number of declarations lodged as consignee (0 for non-traders).
    pub activity: f64,
}

#[derive(Debug)]
pub(crate) struct Registry {
    pub all: Vec<Enterprise>,
    pub traders: Sampler,
    pub brokers: Sampler,
    pub ecommerce: Sampler,
    pub risky: Sampler,
}

/// Ordos districts (GB/T 2260 codes) with their share of registered enterprises.
static ORDOS: &[(&str, &str, f64)] = &[
    ("150602", "东胜区", 0.30),
    ("150603", "康巴什区", 0.15),
    ("150627", "伊金霍洛旗", 0.20),
    ("150622", "准格尔旗", 0.12),
    ("150621", "达拉特旗", 0.08),
    ("150624", "鄂托克旗", 0.05),
    ("150626", "乌审旗", 0.04),
    ("150625", "杭锦旗", 0.03),
    ("150623", "鄂托克前旗", 0.03),
];

/// Where out-of-town traders are registered.
static ELSEWHERE: &[(&str, &str, &str)] = &[
    ("110105", "北京市朝阳区", "北京"),
    ("120116", "天津市滨海新区", "天津"),
    ("310115", "上海市浦东新区", "上海"),
    ("440300", "深圳市", "深圳市"),
    ("150102", "呼和浩特市新城区", "呼和浩特市"),
    ("150203", "包头市昆都仑区", "包头市"),
];

static BRAND_CHARS: &[&str] = &[
    "鑫", "泰", "恒", "瑞", "丰", "达", "远", "通", "华", "盛", "隆", "昌", "源", "汇", "德", "信",
    "诚", "宏", "嘉", "安", "富", "康", "祥", "和", "兴", "万", "金", "鼎", "晟", "弘", "锦", "亿",
    "东", "方", "北", "蒙", "伊", "泽", "润", "博", "凯", "腾", "宇", "辉", "荣", "广", "新", "天",
    "佳", "合", "骏", "驰", "峰", "川", "海", "林", "森", "阳", "光", "明", "智", "创", "志", "成",
    "开", "元", "中", "正", "永", "利", "益", "众", "聚", "汉", "唐", "宁", "平", "乾", "坤", "星",
    "晨", "铭", "卓", "越", "睿", "恺", "鸿", "鹏", "旭", "茂", "裕", "誉", "赛", "罕", "牧",
];

static INDUSTRIES: &[&str] = &[
    "商贸",
    "能源",
    "化工",
    "煤炭",
    "羊绒制品",
    "国际贸易",
    "进出口贸易",
    "机械设备",
    "电子科技",
    "生物科技",
    "农牧业",
    "食品",
    "供应链管理",
    "新材料",
    "汽车销售",
    "医药",
    "矿业",
    "绒纺",
    "光伏科技",
    "实业",
];

static BROKER_INDUSTRIES: &[&str] = &["报关", "国际货运代理", "报关报检", "国际物流"];

static ECOMMERCE_INDUSTRIES: &[&str] = &["跨境电子商务", "电子商务", "网络科技"];

const ORG_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Customs registration code: 4-digit area, economic-zone char, enterprise-type digit (8 =
/// 报关企业), 4-digit sequence. The zone char widens the sequence so codes stay unique.
fn customs_code(area4: &str, broker: bool, rng: &mut DemoRng, next: &mut u32) -> String {
    let kind = if broker {
        8
    } else {
        rng::one_of(rng, &[6, 6, 6, 6, 3, 4, 1, 9])
    };
    let n = *next;
    *next += 1;
    let zone = ORG_CHARS[((n / 10_000) as usize + 9) % ORG_CHARS.len()] as char;
    format!("{area4}{zone}{kind}{:04}", n % 10_000)
}

impl Registry {
    /// `count` registered enterprises plus a few percent traders from elsewhere.
    pub fn generate(rng: &mut DemoRng, count: usize, from: NaiveDate) -> Registry {
        let outsiders = (count / 30).max(3);
        let mut seen_uscc: HashSet<String> = HashSet::with_capacity(count + outsiders);
        let mut seen_name: HashSet<String> = HashSet::with_capacity(count + outsiders);
        let mut all = Vec::with_capacity(count + outsiders);
        let mut customs_seq: u32 = rng.random_range(100..2_000);
        let mut ciq_seq: u32 = rng.random_range(1_000..20_000);
        let ordos_weights: Vec<f64> = ORDOS.iter().map(|x| x.2).collect();
        let earliest = NaiveDate::from_ymd_opt(1998, 1, 1).expect("valid date");
        let latest = from - Duration::days(30);
        let span = (latest - earliest).num_days().max(1);
        // USCCs replaced registration numbers from October 2015; older firms keep their
        // 8-digit organisation code inside it, newer ones get an "MA…" code.
        let uscc_start = NaiveDate::from_ymd_opt(2015, 10, 1).expect("valid date");

        for i in 0..count + outsiders {
            let in_registry = i < count;
            let (division, region, prefix) = if in_registry {
                let (d, r, _) = ORDOS[rng::weighted(rng, &ordos_weights)];
                let prefix = if rng::chance(rng, 0.7) {
                    "鄂尔多斯市"
                } else if rng::chance(rng, 0.5) {
                    "内蒙古"
                } else {
                    r
                };
                (d, r, prefix)
            } else {
                rng::one_of(rng, ELSEWHERE)
            };
            let is_broker = rng::chance(rng, 0.04);
            let ecommerce = !is_broker && rng::chance(rng, 0.02);
            let registered_on = earliest + Duration::days(rng.random_range(0..span));

            let uscc = loop {
                let org_base: String = if registered_on >= uscc_start {
                    let tail: String = (0..6)
                        .map(|_| ORG_CHARS[rng.random_range(0..ORG_CHARS.len())] as char)
                        .collect();
                    format!("MA{tail}")
                } else {
                    (0..8)
                        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                        .collect()
                };
                let org = format!("{org_base}{}", codes::org_check_char(&org_base));
                let code = codes::uscc_complete(&format!("91{division}{org}"));
                if seen_uscc.insert(code.clone()) {
                    break code;
                }
            };

            let industries = if is_broker {
                BROKER_INDUSTRIES
            } else if ecommerce {
                ECOMMERCE_INDUSTRIES
            } else {
                INDUSTRIES
            };
            let mut name = String::new();
            for attempt in 0..20 {
                let brand = format!(
                    "{}{}",
                    rng::one_of(rng, BRAND_CHARS),
                    rng::one_of(rng, BRAND_CHARS)
                );
                let suffix = rng::pick(
                    rng,
                    &[
                        ("有限公司", 0.75),
                        ("有限责任公司", 0.2),
                        ("股份有限公司", 0.05),
                    ],
                );
                name = format!("{prefix}{brand}{}{suffix}", rng::one_of(rng, industries));
                if attempt == 19 {
                    name = format!(
                        "{prefix}{brand}{}{}号{suffix}",
                        rng::one_of(rng, industries),
                        i
                    );
                }
                if seen_name.insert(name.clone()) {
                    break;
                }
            }

            let customs = is_broker || !in_registry || rng::chance(rng, 0.85);
            let customs_code =
                customs.then(|| customs_code(&division[..4], is_broker, rng, &mut customs_seq));
            let ciq_code = (customs && rng::chance(rng, 0.7)).then(|| {
                ciq_seq += 1;
                format!("1504{:06}", ciq_seq)
            });
            let risky = customs && !is_broker && rng::chance(rng, 0.03);
            // Heavy tail: a log-normal with a wide spread makes a few big importers.
            let trades = customs && !is_broker && (ecommerce || rng::chance(rng, 0.7));
            let activity = if trades {
                rng::lognormal(rng, 1.0, 1.5)
            } else {
                0.0
            };
            all.push(Enterprise {
                uscc,
                name,
                customs_code,
                ciq_code,
                region,
                registered_on,
                is_broker,
                in_registry,
                ecommerce,
                risky,
                activity,
            });
        }

        // Every role needs someone even in the smallest demo.
        for role in 0..2 {
            let has = all
                .iter()
                .any(|e| if role == 0 { e.is_broker } else { e.ecommerce });
            if !has
                && let Some(e) = all
                    .iter_mut()
                    .find(|e| e.in_registry && e.customs_code.is_some() && !e.risky)
            {
                if role == 0 {
                    e.is_broker = true;
                    e.activity = 0.0;
                } else {
                    e.ecommerce = true;
                    e.activity = e.activity.max(1.0);
                }
            }
        }

        let traders = Sampler::new(all.iter().enumerate().map(|(i, e)| (i, e.activity)));
        let brokers = Sampler::new(
            all.iter()
                .enumerate()
                .filter(|(_, e)| e.is_broker)
                .map(|(i, _)| (i, 1.0 + (i % 7) as f64)),
        );
        let ecommerce = Sampler::new(
            all.iter()
                .enumerate()
                .filter(|(_, e)| e.ecommerce)
                .map(|(i, e)| (i, 0.5 + e.activity)),
        );
        let risky = Sampler::new(
            all.iter()
                .enumerate()
                .filter(|(_, e)| e.risky)
                .map(|(i, _)| (i, 1.0)),
        );
        Registry {
            all,
            traders,
            brokers,
            ecommerce,
            risky,
        }
    }

    /// A consignee: by activity, or now and then one of the risky few.
    pub fn consignee(&self, rng: &mut DemoRng) -> usize {
        if !self.risky.is_empty() && rng::chance(rng, 0.02) {
            self.risky.sample(rng)
        } else {
            self.traders.sample(rng)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::rng::{stream, tag};

    #[test]
    fn name_parts_are_gbk_text() {
        use crate::demo::sink::gbk_encodable;
        let parts = BRAND_CHARS
            .iter()
            .chain(INDUSTRIES)
            .chain(BROKER_INDUSTRIES)
            .chain(ECOMMERCE_INDUSTRIES);
        for p in parts {
            assert!(gbk_encodable(p), "{p}");
        }
        for (_, region, _) in ORDOS {
            assert!(gbk_encodable(region));
        }
        for (_, region, prefix) in ELSEWHERE {
            assert!(gbk_encodable(region) && gbk_encodable(prefix));
        }
    }

    #[test]
    fn registry_codes_are_valid_and_unique() {
        let mut rng = stream(1, tag::ENTERPRISES, 0);
        let from = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let reg = Registry::generate(&mut rng, 2000, from);
        let mut usccs = HashSet::new();
        let mut customs = HashSet::new();
        for e in &reg.all {
            assert!(codes::uscc_is_valid(&e.uscc), "{}", e.uscc);
            assert!(usccs.insert(e.uscc.clone()));
            if let Some(c) = &e.customs_code {
                assert_eq!(c.len(), 10, "{c}");
                assert!(customs.insert(c.clone()), "{c}");
            }
            assert!(e.name.ends_with("公司"));
        }
        assert!(reg.all.iter().any(|e| e.is_broker));
        assert!(reg.all.iter().any(|e| !e.in_registry));
        assert!(!reg.traders.is_empty() && !reg.brokers.is_empty() && !reg.ecommerce.is_empty());
    }
}
