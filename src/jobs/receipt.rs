//! Receipts (回执): what a clerk gets back for every processed file, as xlsx and a JSON twin.
//!
//! A receipt says which feed the file was recognised as, how many rows were accepted, rejected
//! and warned about, and lists every rejected or flagged row with its sheet, row and column as
//! Excel shows them, the value and the reason in plain Chinese. A whole-file rejection and a
//! duplicate delivery get a receipt too. Written to `data/receipts/<unit>/<date>-<file>.{json,xlsx}`.

use super::JobError;
use super::ingest::FileResult;
use crate::config::Project;
use crate::normalise::{Issue, Severity};
use crate::report::workbook::{
    Block, Column, ConditionalRule, Fill, Format, Sheet, Table, Value, Workbook,
};
use std::path::PathBuf;

/// Where in the file the data was found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SheetMeta {
    pub sheet: String,
    pub header_row: u32,
    pub rows_read: u64,
    pub rows_skipped: u64,
    pub feed_title: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ReceiptLine {
    pub sheet: String,
    pub row: u32,
    pub column: Option<String>,
    pub column_letter: Option<String>,
    pub value: String,
    pub reason: String,
    pub severity: &'static str,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Receipt {
    pub title: &'static str,
    pub unit: String,
    pub unit_name: String,
    pub file_name: String,
    pub delivery: i64,
    pub processed_at: String,
    /// 已入库 / 部分拒收 / 整体退回 / 重复报送
    pub outcome: &'static str,
    pub feed: Option<String>,
    pub feed_title: Option<String>,
    pub sheet: Option<String>,
    pub header_row: Option<u32>,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rows_warned: u64,
    pub rows_skipped: u64,
    pub reason: Option<String>,
    pub lines: Vec<ReceiptLine>,
}

impl Receipt {
    pub fn new(
        project: &Project,
        r: &FileResult,
        meta: Option<SheetMeta>,
        issues: &[Issue],
    ) -> Receipt {
        let outcome = match r.status {
            "duplicate" => "重复报送",
            "quarantined" => "整体退回",
            _ if r.rows_rejected > 0 => "部分拒收",
            _ => "已入库",
        };
        let sheet = meta.as_ref().map(|m| m.sheet.clone()).unwrap_or_default();
        Receipt {
            title: "数据报送回执",
            unit: r.unit.clone(),
            unit_name: project
                .unit(&r.unit)
                .map(|u| u.name.clone())
                .unwrap_or_else(|| r.unit.clone()),
            file_name: r.file_name.clone(),
            delivery: r.delivery,
            processed_at: chrono::Utc::now()
                .with_timezone(&project.tz)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            outcome,
            feed: r.feed.clone(),
            feed_title: meta.as_ref().map(|m| m.feed_title.clone()),
            sheet: meta.as_ref().map(|m| m.sheet.clone()),
            header_row: meta.as_ref().map(|m| m.header_row),
            rows_read: meta.as_ref().map(|m| m.rows_read).unwrap_or(0),
            rows_accepted: r.rows_accepted,
            rows_rejected: r.rows_rejected,
            rows_warned: r.rows_warned,
            rows_skipped: meta.as_ref().map(|m| m.rows_skipped).unwrap_or(0),
            reason: r.reason.clone(),
            lines: issues
                .iter()
                .map(|i| ReceiptLine {
                    sheet: sheet.clone(),
                    row: i.row,
                    column: i.column.clone(),
                    column_letter: i.letter.clone(),
                    value: i.value.clone(),
                    reason: i.reason.clone(),
                    severity: i.severity.label(),
                })
                .collect(),
        }
    }

    /// The receipt as a one-sheet workbook.
    pub fn workbook(&self) -> Workbook {
        let mut facts: Vec<(String, Value, Format)> = vec![
            (
                "报送单位".into(),
                Value::Text(self.unit_name.clone()),
                Format::Text,
            ),
            (
                "文件名".into(),
                Value::Text(self.file_name.clone()),
                Format::Text,
            ),
            (
                "报送编号".into(),
                Value::Int(self.delivery),
                Format::General,
            ),
            (
                "处理时间".into(),
                Value::Text(self.processed_at.clone()),
                Format::Text,
            ),
            (
                "处理结果".into(),
                Value::Text(self.outcome.into()),
                Format::Text,
            ),
        ];
        if let Some(t) = &self.feed_title {
            facts.push(("识别为".into(), Value::Text(t.clone()), Format::Text));
        }
        if let (Some(s), Some(h)) = (&self.sheet, self.header_row) {
            facts.push((
                "工作表 / 表头行".into(),
                Value::Text(format!("{s} / 第{h}行")),
                Format::Text,
            ));
        }
        if self.outcome != "重复报送" && self.outcome != "整体退回" {
            facts.push((
                "数据行数".into(),
                Value::Int(self.rows_read as i64),
                Format::Integer,
            ));
            facts.push((
                "入库行数".into(),
                Value::Int(self.rows_accepted as i64),
                Format::Integer,
            ));
            facts.push((
                "拒收行数".into(),
                Value::Int(self.rows_rejected as i64),
                Format::Integer,
            ));
            facts.push((
                "带警告入库行数".into(),
                Value::Int(self.rows_warned as i64),
                Format::Integer,
            ));
            facts.push((
                "跳过的空行/合计行".into(),
                Value::Int(self.rows_skipped as i64),
                Format::Integer,
            ));
        }
        if let Some(r) = &self.reason {
            facts.push(("原因".into(), Value::Text(r.clone()), Format::Text));
        }
        let mut blocks = vec![
            Block::Title(format!("{}：{}", self.title, self.file_name)),
            Block::KeyValues(facts),
        ];
        if !self.lines.is_empty() {
            let col = |t: &str, f: Format| Column {
                title: t.into(),
                format: f,
                width: None,
            };
            blocks.push(Block::Table(Table {
                id: "problems".into(),
                columns: vec![
                    col("工作表", Format::Text),
                    col("行号", Format::General),
                    col("列", Format::Text),
                    col("列名", Format::Text),
                    col("单元格内容", Format::Text),
                    col("问题", Format::Text),
                    col("处理", Format::Text),
                ],
                rows: self
                    .lines
                    .iter()
                    .map(|l| {
                        vec![
                            Value::Text(l.sheet.clone()),
                            Value::Int(l.row as i64),
                            l.column_letter
                                .clone()
                                .map(Value::Text)
                                .unwrap_or(Value::Empty),
                            l.column.clone().map(Value::Text).unwrap_or(Value::Empty),
                            Value::Text(l.value.clone()),
                            Value::Text(l.reason.clone()),
                            Value::Text(l.severity.to_string()),
                        ]
                    })
                    .collect(),
                freeze_header: true,
                autofilter: true,
                conditional: vec![
                    ConditionalRule {
                        column: 6,
                        equals: Severity::Rejected.label().into(),
                        fill: Fill::Red,
                    },
                    ConditionalRule {
                        column: 6,
                        equals: Severity::Warning.label().into(),
                        fill: Fill::Amber,
                    },
                ],
            }));
        }
        Workbook {
            title: self.title.to_string(),
            sheets: vec![Sheet {
                name: "回执".into(),
                blocks,
                charts: vec![],
                tab_color: None,
            }],
            created: chrono::NaiveDate::from_ymd_opt(2016, 5, 20)
                .expect("date")
                .and_hms_opt(0, 0, 0)
                .expect("time"),
        }
    }
}

/// Write the JSON and xlsx receipt; returns the JSON path.
pub fn write(project: &Project, r: &Receipt) -> Result<PathBuf, JobError> {
    let dir = project.data_dir().join("receipts").join(&r.unit);
    std::fs::create_dir_all(&dir).map_err(|e| JobError::Io(dir.clone(), e))?;
    let day = r.processed_at.get(..10).unwrap_or("").to_string();
    let stem = format!("{day}-{:08}-{}", r.delivery, r.file_name);
    let json = dir.join(format!("{stem}.json"));
    let text = serde_json::to_string_pretty(r)?;
    std::fs::write(&json, text).map_err(|e| JobError::Io(json.clone(), e))?;
    let xlsx = dir.join(format!("{stem}.xlsx"));
    crate::report::workbook::write_xlsx(&r.workbook(), &xlsx)
        .map_err(|e| JobError::Workbook(xlsx.clone(), Box::new(e)))?;
    Ok(json)
}
