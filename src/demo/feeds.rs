//! What each agency's file looks like: columns with their Chinese header aliases, the file names
//! clerks give it, the format the office usually exports, and which defects it may carry.
//!
//! The column names and aliases mirror `schemas/*.toml` (a test checks every alias used here is
//! one the schema accepts, and every schema column is written); the file names mirror the patterns
//! in `pipelines/*.toml` (a test checks each name matches its own feed and no other).

use super::sink::Format;

/// How a column's value is typed, which decides its rendering and which defects fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    /// Codes with a leading zero that clerks' spreadsheets drop (监管方式 0110 → 110).
    Code,
    Uscc,
    EntryId,
    /// 进出口: 进口/出口, I/E.
    IeFlag,
    Bool,
    Timestamp,
    Date,
    Money,
    Number,
}

#[derive(Debug)]
pub(crate) struct Col {
    /// Canonical column name (only the tests read it: the files carry aliases).
    #[cfg_attr(not(test), allow(dead_code))]
    pub name: &'static str,
    /// Header aliases, the schema title first.
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub required: bool,
}

const fn col(name: &'static str, aliases: &'static [&'static str], kind: Kind) -> Col {
    Col {
        name,
        aliases,
        kind,
        required: false,
    }
}

const fn req(name: &'static str, aliases: &'static [&'static str], kind: Kind) -> Col {
    Col {
        name,
        aliases,
        kind,
        required: true,
    }
}

/// Planted row defects (DOMAIN §3 validation; each is one "bad row").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Defect {
    /// Wrong check character in the key USCC: the row is rejected.
    KeyUsccCheck,
    /// Wrong check character in a non-key USCC (收发货人): a warning, the row is kept.
    RefUsccCheck,
    /// A later time before the earlier one inside the row (放行时间早于申报时间).
    TimeReversed,
    /// A date text no calendar has (`2026-13-45`).
    BadDate,
    /// The row's key repeated within the file.
    DuplicateKey,
    /// A 17-digit 报关单号.
    ShortEntryId,
    /// A required cell left empty.
    EmptyRequired,
}

#[derive(Debug)]
pub(crate) struct FeedSpec {
    /// Feed name as in `pipelines/<feed>.toml`.
    pub feed: &'static str,
    /// Unit folder; `None` for task_progress, which every unit sends.
    pub unit: Option<&'static str>,
    pub cols: &'static [Col],
    /// Key column indices (into `cols`).
    pub key: &'static [usize],
    /// `(later, earlier)` column pairs the schema's `not_before` checks compare.
    pub order: &'static [(usize, usize)],
    /// File name stems matching the feed's patterns, with how often each is used. Placeholders: `{Y}` ISO year, `{W}` ISO week
    /// (2 digits), `{w}` ISO week, `{from}`/`{to}` first/last day `yyyymmdd`, `{date}` extract day
    /// `yyyymmdd`, `{ym}` `yyyy年m月`, `{unit}` unit short name, `{code}` unit code.
    pub names: &'static [(&'static str, f64)],
    /// The office's usual export format and how often it does something else.
    pub habit: &'static [(Format, f64)],
    /// Defects that fit this feed.
    pub defects: &'static [Defect],
    /// Sheet name when the office exports xlsx.
    pub sheet: &'static str,
}

use Defect::*;
use Format::*;
use Kind::*;

pub(crate) static ENTERPRISE: FeedSpec = FeedSpec {
    feed: "enterprise_registry",
    unit: Some("commerce"),
    cols: &[
        req(
            "uscc",
            &[
                "统一社会信用代码",
                "社会信用代码",
                "信用代码",
                "USCC",
                "企业代码",
            ],
            Uscc,
        ),
        req("name", &["企业名称", "单位名称", "名称", "企业全称"], Text),
        col(
            "customs_code",
            &["海关编码", "海关注册编码", "海关注册编号", "海关代码"],
            Text,
        ),
        col(
            "ciq_code",
            &[
                "检验检疫备案号",
                "报检单位备案号",
                "检验检疫编码",
                "CIQ备案号",
            ],
            Text,
        ),
        col(
            "region",
            &["所在地区", "地区", "所属地区", "行政区划"],
            Text,
        ),
        col(
            "registered_on",
            &["注册日期", "成立日期", "登记日期", "注册时间"],
            Date,
        ),
        col(
            "is_broker",
            &["是否报关企业", "报关企业", "是否报关行"],
            Bool,
        ),
    ],
    key: &[0],
    order: &[],
    names: &[
        ("进出口企业名录_{date}", 0.46),
        ("企业名录（{ym}）", 0.46),
        ("enterprise_registry_{date}", 0.08),
    ],
    habit: &[(Xlsx, 0.8), (CsvUtf8Bom, 0.2)],
    defects: &[
        KeyUsccCheck,
        KeyUsccCheck,
        EmptyRequired,
        BadDate,
        DuplicateKey,
    ],
    sheet: "企业名录",
};

pub(crate) static CUSTOMS_DECLARATION: FeedSpec = FeedSpec {
    feed: "customs_declaration",
    unit: Some("customs"),
    cols: &[
        req(
            "entry_id",
            &[
                "报关单号",
                "报关单编号",
                "海关编号",
                "报关单号码",
                "统一编号",
            ],
            EntryId,
        ),
        req(
            "ie_flag",
            &["进出口", "进出口标志", "进出口类型", "进/出口"],
            IeFlag,
        ),
        req(
            "customs_office",
            &["申报地海关", "申报海关", "关区代码", "申报地海关代码"],
            Text,
        ),
        req(
            "trade_mode",
            &["监管方式", "贸易方式", "监管方式代码"],
            Code,
        ),
        col("transport_mode", &["运输方式", "运输方式代码"], Text),
        col(
            "consignee_uscc",
            &[
                "收发货人",
                "收发货人代码",
                "收发货人统一社会信用代码",
                "境内收发货人",
            ],
            Uscc,
        ),
        col(
            "declarant_uscc",
            &["申报单位", "申报单位代码", "申报单位统一社会信用代码"],
            Uscc,
        ),
        req(
            "declared_at",
            &["申报时间", "申报日期", "申报时刻"],
            Timestamp,
        ),
        col(
            "accepted_at",
            &["接单时间", "接单日期", "海关接单时间"],
            Timestamp,
        ),
        col(
            "released_at",
            &["放行时间", "放行日期", "海关放行时间", "结关时间"],
            Timestamp,
        ),
        col("inspected", &["是否查验", "查验标志", "查验"], Bool),
        col(
            "total_value_cny",
            &["货值(元)", "货值", "货值(人民币)", "总价(元)", "申报货值"],
            Money,
        ),
    ],
    key: &[0],
    order: &[(9, 7), (8, 7), (9, 8)],
    names: &[
        ("报关单数据_{Y}-W{W}", 0.31),
        ("报关单明细_{Y}W{W}", 0.31),
        ("鄂尔多斯海关报关单_{from}-{to}", 0.31),
        ("declarations_{Y}W{W}", 0.08),
    ],
    habit: &[(Xlsx, 0.7), (CsvUtf8Bom, 0.2), (CsvGbk, 0.1)],
    defects: &[
        RefUsccCheck,
        TimeReversed,
        BadDate,
        DuplicateKey,
        ShortEntryId,
        EmptyRequired,
    ],
    sheet: "报关单",
};

pub(crate) static CUSTOMS_INSPECTION: FeedSpec = FeedSpec {
    feed: "customs_inspection",
    unit: Some("customs"),
    cols: &[
        req(
            "inspection_id",
            &["查验编号", "查验记录号", "查验单号"],
            Text,
        ),
        req("entry_id", &["报关单号", "报关单编号", "海关编号"], EntryId),
        col(
            "started_at",
            &["查验开始时间", "开始时间", "查验时间"],
            Timestamp,
        ),
        col(
            "finished_at",
            &["查验结束时间", "结束时间", "完成时间"],
            Timestamp,
        ),
        col(
            "joint_with_ciq",
            &[
                "是否关检联合查验",
                "关检联合查验",
                "联合查验",
                "是否联合查验",
            ],
            Bool,
        ),
        col("result", &["查验结果", "结果"], Text),
    ],
    key: &[0],
    order: &[(3, 2)],
    names: &[
        ("海关查验记录_{Y}W{W}", 0.46),
        ("查验记录{Y}-W{W}", 0.46),
        ("customs_inspection_{Y}W{W}", 0.08),
    ],
    habit: &[(CsvGbk, 0.6), (Xlsx, 0.4)],
    defects: &[TimeReversed, BadDate, DuplicateKey, EmptyRequired],
    sheet: "查验记录",
};

pub(crate) static CUSTOMS_PENALTY: FeedSpec = FeedSpec {
    feed: "customs_penalty",
    unit: Some("customs"),
    cols: &[
        req(
            "case_no",
            &["案件编号", "案号", "决定书编号", "处罚决定书文号"],
            Text,
        ),
        req(
            "uscc",
            &["统一社会信用代码", "当事人代码", "企业代码", "社会信用代码"],
            Uscc,
        ),
        req("decided_on", &["决定日期", "处罚日期", "结案日期"], Date),
        req("case_type", &["案件类型", "案件性质", "违法类型"], Text),
        col(
            "amount_cny",
            &["罚没金额(元)", "罚没金额", "罚款金额", "处罚金额"],
            Money,
        ),
        col("voluntary_disclosure", &["主动披露", "是否主动披露"], Bool),
    ],
    key: &[0],
    order: &[],
    names: &[
        ("海关行政处罚案件_{Y}-W{W}", 0.46),
        ("处罚决定_{from}-{to}", 0.46),
        ("customs_penalty_{Y}W{W}", 0.08),
    ],
    habit: &[(Xlsx, 0.8), (CsvGbk, 0.2)],
    defects: &[],
    sheet: "处罚案件",
};

pub(crate) static CUSTOMS_CREDIT: FeedSpec = FeedSpec {
    feed: "customs_credit",
    unit: Some("customs"),
    cols: &[
        req(
            "uscc",
            &["统一社会信用代码", "企业代码", "社会信用代码"],
            Uscc,
        ),
        req(
            "category",
            &["信用等级", "企业信用等级", "海关信用等级", "信用类别"],
            Text,
        ),
        req(
            "effective_from",
            &["生效日期", "认定日期", "起始日期"],
            Date,
        ),
    ],
    key: &[0, 2],
    order: &[],
    names: &[
        ("海关企业信用等级_{date}", 0.6),
        ("企业信用等级名单（{ym}）", 0.32),
        ("customs_credit_{date}", 0.08),
    ],
    habit: &[(Xlsx, 0.6), (CsvUtf8Bom, 0.4)],
    defects: &[],
    sheet: "信用等级",
};

/// The mid-period changes to the credit categories: same table, its own file names.
pub(crate) static CUSTOMS_CREDIT_CHANGES: FeedSpec = FeedSpec {
    names: &[
        ("企业信用等级变更_{date}", 0.7),
        ("信用等级调整企业_{date}", 0.3),
    ],
    ..CUSTOMS_CREDIT
};

pub(crate) static TAX_ARREARS: FeedSpec = FeedSpec {
    feed: "tax_arrears",
    unit: Some("customs"),
    cols: &[
        req(
            "notice_no",
            &["缴款书号", "税款缴款书号", "通知书编号", "缴款书编号"],
            Text,
        ),
        req(
            "uscc",
            &["统一社会信用代码", "企业代码", "纳税人代码"],
            Uscc,
        ),
        req("due_on", &["缴款期限", "应缴日期", "到期日期"], Date),
        col("paid_on", &["缴款日期", "实缴日期", "缴清日期"], Date),
        req(
            "amount_cny",
            &["税款金额(元)", "税款金额", "欠税金额", "金额"],
            Money,
        ),
    ],
    key: &[0],
    order: &[],
    names: &[
        ("欠税记录_{Y}W{W}", 0.46),
        ("欠税企业清单_{from}-{to}", 0.46),
        ("tax_arrears_{Y}W{W}", 0.08),
    ],
    habit: &[(CsvGbk, 0.7), (Xlsx, 0.3)],
    defects: &[],
    sheet: "欠税记录",
};

pub(crate) static CIQ_DECLARATION: FeedSpec = FeedSpec {
    feed: "ciq_declaration",
    unit: Some("ciq"),
    cols: &[
        req("ciq_no", &["报检号", "报检单号", "报检编号"], Text),
        col(
            "entry_id",
            &["报关单号", "报关单编号", "关联报关单号"],
            EntryId,
        ),
        col(
            "uscc",
            &["统一社会信用代码", "报检单位代码", "企业代码"],
            Uscc,
        ),
        req(
            "declared_at",
            &["报检时间", "报检日期", "申报时间"],
            Timestamp,
        ),
        col(
            "inspected_at",
            &["检验时间", "查验时间", "施检时间"],
            Timestamp,
        ),
        col(
            "released_at",
            &["放行时间", "通关放行时间", "放行日期"],
            Timestamp,
        ),
        col("conformity", &["检验结果", "合格与否", "评定结果"], Text),
        col(
            "joint_inspection",
            &["是否联合查验", "关检联合查验", "联合查验"],
            Bool,
        ),
    ],
    key: &[0],
    order: &[(5, 3)],
    names: &[
        ("报检数据_{Y}-W{W}", 0.46),
        ("报检单明细_{Y}W{W}", 0.46),
        ("ciq_declaration_{Y}W{W}", 0.08),
    ],
    habit: &[(CsvGbk, 0.75), (Xlsx, 0.25)],
    defects: &[TimeReversed, BadDate, DuplicateKey, EmptyRequired],
    sheet: "报检单",
};

pub(crate) static CIQ_NONCONFORMITY: FeedSpec = FeedSpec {
    feed: "ciq_nonconformity",
    unit: Some("ciq"),
    cols: &[
        req("record_no", &["记录编号", "不合格记录号", "编号"], Text),
        req(
            "uscc",
            &["统一社会信用代码", "企业代码", "报检单位代码"],
            Uscc,
        ),
        req("found_on", &["发现日期", "检出日期", "日期"], Date),
        col("category", &["不合格类别", "类别", "问题类别"], Text),
        col("severity", &["严重程度", "程度", "等级"], Text),
    ],
    key: &[0],
    order: &[],
    names: &[
        ("不合格记录_{Y}W{W}", 0.46),
        ("检验检疫不合格信息_{from}-{to}", 0.46),
        ("ciq_nonconformity_{Y}W{W}", 0.08),
    ],
    habit: &[(CsvGbk, 0.7), (Xlsx, 0.3)],
    defects: &[],
    sheet: "不合格记录",
};

pub(crate) static BORDER_CONVEYANCE: FeedSpec = FeedSpec {
    feed: "border_conveyance",
    unit: Some("border"),
    cols: &[
        req("check_no", &["检查编号", "检查单号", "编号"], Text),
        req("flight_no", &["航班号", "航班", "航班号码"], Text),
        req("direction", &["出入境", "方向", "出入境方向"], Text),
        col(
            "arrived_at",
            &["抵达时间", "到达时间", "实际抵达时间"],
            Timestamp,
        ),
        col(
            "checked_at",
            &["检查完成时间", "检查时间", "完成时间"],
            Timestamp,
        ),
        col("joint_boarding", &["联合登临", "是否联合登临"], Bool),
        col("incident", &["异常情况", "处置情况", "备注"], Text),
    ],
    key: &[0],
    order: &[],
    names: &[
        ("出入境运输工具检查_{Y}W{W}", 0.46),
        ("联合登临检查记录_{from}-{to}", 0.46),
        ("border_conveyance_{Y}W{W}", 0.08),
    ],
    habit: &[(Xlsx, 0.85), (CsvUtf8Bom, 0.15)],
    defects: &[BadDate, EmptyRequired],
    sheet: "运输工具检查",
};

pub(crate) static AIRPORT_CARGO: FeedSpec = FeedSpec {
    feed: "airport_cargo",
    unit: Some("airport"),
    cols: &[
        req(
            "waybill_no",
            &["运单号", "主运单号", "航空运单号", "运单编号"],
            Text,
        ),
        col(
            "entry_id",
            &["报关单号", "报关单编号", "关联报关单号"],
            EntryId,
        ),
        col("flight_no", &["航班号", "航班"], Text),
        col(
            "arrived_at",
            &["运抵时间", "到货时间", "运抵日期"],
            Timestamp,
        ),
        col(
            "gate_out_at",
            &["提离时间", "提货时间", "出库时间", "提离日期"],
            Timestamp,
        ),
    ],
    key: &[0],
    order: &[(4, 3)],
    names: &[
        ("货物运抵提离_{Y}W{W}", 0.46),
        ("机场货运数据_{from}-{to}", 0.46),
        ("airport_cargo_{Y}W{W}", 0.08),
    ],
    habit: &[(CsvUtf8, 0.6), (CsvUtf8Bom, 0.2), (Xlsx, 0.2)],
    defects: &[TimeReversed, BadDate, DuplicateKey, EmptyRequired],
    sheet: "运抵提离",
};

pub(crate) static PARK_WAREHOUSE: FeedSpec = FeedSpec {
    feed: "park_warehouse",
    unit: Some("park"),
    cols: &[
        req("record_no", &["记录编号", "入库单号", "单号"], Text),
        col("waybill_no", &["运单号", "主运单号"], Text),
        col("entry_id", &["报关单号", "报关单编号"], EntryId),
        col("in_at", &["入库时间", "进库时间", "入区时间"], Timestamp),
        col("out_at", &["出库时间", "出区时间", "离库时间"], Timestamp),
    ],
    key: &[0],
    order: &[(4, 3)],
    names: &[
        ("仓储进出库_{Y}W{W}", 0.46),
        ("园区进出库记录_{from}-{to}", 0.46),
        ("park_warehouse_{Y}W{W}", 0.08),
    ],
    habit: &[(Xlsx, 0.6), (CsvUtf8Bom, 0.4)],
    defects: &[TimeReversed, BadDate, DuplicateKey, EmptyRequired],
    sheet: "进出库",
};

pub(crate) static PARK_ECOMMERCE: FeedSpec = FeedSpec {
    feed: "park_ecommerce",
    unit: Some("park"),
    cols: &[
        req("order_no", &["订单号", "订单编号", "电商订单号"], Text),
        col(
            "uscc",
            &["电商企业代码", "统一社会信用代码", "企业代码"],
            Uscc,
        ),
        req("declared_at", &["申报时间", "申报日期"], Timestamp),
        col("released_at", &["放行时间", "放行日期"], Timestamp),
        col(
            "value_cny",
            &["订单金额(元)", "订单金额", "货值", "金额"],
            Money,
        ),
    ],
    key: &[0],
    order: &[(3, 2)],
    names: &[
        ("跨境电商订单_{Y}W{W}", 0.46),
        ("电商订单明细_{from}-{to}", 0.46),
        ("park_ecommerce_{Y}W{W}", 0.08),
    ],
    habit: &[(CsvUtf8Bom, 0.5), (Xlsx, 0.5)],
    defects: &[TimeReversed, BadDate, DuplicateKey, EmptyRequired],
    sheet: "电商订单",
};

pub(crate) static TASK_PROGRESS: FeedSpec = FeedSpec {
    feed: "task_progress",
    unit: None,
    cols: &[
        req("task_id", &["任务编号", "编号"], Text),
        req("unit", &["报送单位", "单位", "单位代码"], Text),
        req("period", &["报送周期", "周次", "周期"], Text),
        req("reported_on", &["报送日期", "填报日期", "日期"], Date),
        req("status", &["进展状态", "状态", "完成情况"], Text),
        col(
            "percent",
            &["完成百分比", "完成进度", "进度(%)", "进度"],
            Number,
        ),
        col("note", &["进展说明", "说明", "备注"], Text),
    ],
    key: &[0, 1, 2],
    order: &[],
    names: &[
        ("{unit}任务进展_{Y}-W{W}", 0.46),
        ("任务进展报送表（{unit}）第{w}周", 0.46),
        ("task_progress_{code}_{Y}W{W}", 0.08),
    ],
    habit: &[(Xlsx, 0.6), (CsvGbk, 0.25), (CsvUtf8Bom, 0.15)],
    defects: &[],
    sheet: "任务进展",
};

/// The feeds delivered once a week with a file even when they have no rows.
pub(crate) static WEEKLY: [&FeedSpec; 10] = [
    &CUSTOMS_DECLARATION,
    &CUSTOMS_INSPECTION,
    &CUSTOMS_PENALTY,
    &TAX_ARREARS,
    &CIQ_DECLARATION,
    &CIQ_NONCONFORMITY,
    &BORDER_CONVEYANCE,
    &AIRPORT_CARGO,
    &PARK_WAREHOUSE,
    &PARK_ECOMMERCE,
];

/// Slots in a week's set of open files (same order as [`WEEKLY`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slot {
    Declaration = 0,
    Inspection = 1,
    Penalty = 2,
    Tax = 3,
    Ciq = 4,
    Nonconformity = 5,
    Border = 6,
    Cargo = 7,
    Warehouse = 8,
    Ecommerce = 9,
}

/// Names an export tool gives when nobody renames the file: sanhu must recognise these by the
/// header row. None of them matches a pipeline pattern.
pub(crate) static UNNAMED_XLSX: &[&str] = &[
    "数据导出({n})",
    "工作簿{n}",
    "新建 XLSX 工作表 ({n})",
    "查询结果_{date}",
    "Book{n}",
];
pub(crate) static UNNAMED_CSV: &[&str] = &[
    "export_{date}",
    "导出数据_{date}_{n}",
    "query_result({n})",
    "下载_{date}",
];

/// Unit codes (DOMAIN §2) with the short names clerks put in file names.
pub(crate) static UNITS: [(&str, &str); 8] = [
    ("commerce", "商务局"),
    ("aviation", "民航办"),
    ("transport", "交通局"),
    ("customs", "海关"),
    ("ciq", "检验检疫"),
    ("border", "边防"),
    ("airport", "机场集团"),
    ("park", "空港物流园区"),
];
