//! Progress-report templates (任务进展报送模板): an xlsx per unit with its tasks pre-filled.
//!
//! The clerk fills in status (a drop-down of the four allowed values, Excel data validation),
//! percent (0–100, validated) and a note, then drops the file in the unit's inbox, where it is
//! recognised by its header row like any delivery. The headers are the task_progress schema's
//! titles, so the template and intake cannot drift apart.

use crate::config::Project;
use chrono::NaiveDate;
use rust_xlsxwriter::{DataValidation, DataValidationRule, Format, FormatBorder, Workbook};
use std::path::Path;

/// One task row of a template.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateTask {
    pub task_id: String,
    pub title: String,
    pub deadline: Option<NaiveDate>,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown unit `{0}`")]
    UnknownUnit(String),
    #[error("the project has no task_progress schema")]
    NoSchema,
    #[error("unit `{0}` holds no task in the registry (has the registry been ingested?)")]
    NoTasks(String),
    #[error("writing {0}: {1}")]
    Write(String, String),
}

/// Write the template for `unit` and `week` to `path`.
pub fn write_template(
    project: &Project,
    unit: &str,
    week: &str,
    today: NaiveDate,
    tasks: &[TemplateTask],
    path: &Path,
) -> Result<(), TemplateError> {
    let u = project
        .unit(unit)
        .ok_or_else(|| TemplateError::UnknownUnit(unit.to_string()))?;
    let schema = project
        .schemas
        .get("task_progress")
        .ok_or(TemplateError::NoSchema)?;
    if tasks.is_empty() {
        return Err(TemplateError::NoTasks(unit.to_string()));
    }
    let werr = |e: rust_xlsxwriter::XlsxError| {
        TemplateError::Write(path.display().to_string(), e.to_string())
    };
    let title = |name: &str| {
        schema
            .columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.title.clone())
            .unwrap_or_else(|| name.to_string())
    };
    let status_values: Vec<String> = schema
        .columns
        .iter()
        .find(|c| c.name == "status")
        .map(|c| c.values.clone())
        .unwrap_or_default();

    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("任务进展").map_err(werr)?;
    let bold = Format::new().set_bold().set_font_size(14);
    let head = Format::new()
        .set_bold()
        .set_background_color(0xDDEBF7)
        .set_border(FormatBorder::Thin)
        .set_text_wrap();
    let fixed = Format::new()
        .set_background_color(0xF2F2F2)
        .set_border(FormatBorder::Thin);
    let input = Format::new()
        .set_border(FormatBorder::Thin)
        .set_background_color(0xFFF2CC);
    let date_in = input.clone().set_num_format("yyyy-mm-dd");
    ws.write_with_format(0, 0, format!("{}　任务进展报送（{}）", u.name, week), &bold)
        .map_err(werr)?;
    ws.write(1, 0, "请填写黄色单元格：进展状态从下拉列表选择，完成百分比填 0–100。填好后放入本单位收件目录即可，无需改名。").map_err(werr)?;
    // Columns: the schema's own titles, plus the task title for the clerk (ignored on intake).
    let headers = [
        title("task_id"),
        "任务名称（参考）".to_string(),
        title("unit"),
        title("period"),
        title("reported_on"),
        title("status"),
        title("percent"),
        title("note"),
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_with_format(3, c as u16, h, &head).map_err(werr)?;
    }
    let serial = |d: NaiveDate| {
        (d - NaiveDate::from_ymd_opt(1899, 12, 30).expect("epoch")).num_days() as f64
    };
    for (i, t) in tasks.iter().enumerate() {
        let r = 4 + i as u32;
        ws.write_with_format(r, 0, &t.task_id, &fixed)
            .map_err(werr)?;
        let name = match t.deadline {
            Some(d) => format!("{}（时限 {}）", t.title, d),
            None => t.title.clone(),
        };
        ws.write_with_format(r, 1, name, &fixed).map_err(werr)?;
        ws.write_with_format(r, 2, unit, &fixed).map_err(werr)?;
        ws.write_with_format(r, 3, week, &fixed).map_err(werr)?;
        ws.write_with_format(r, 4, serial(today), &date_in)
            .map_err(werr)?;
        ws.write_blank(r, 5, &input).map_err(werr)?;
        ws.write_blank(r, 6, &input).map_err(werr)?;
        ws.write_blank(r, 7, &input).map_err(werr)?;
    }
    let last = 3 + tasks.len() as u32;
    let refs: Vec<&str> = status_values.iter().map(String::as_str).collect();
    let status = DataValidation::new()
        .allow_list_strings(&refs)
        .map_err(werr)?
        .set_input_title("进展状态")
        .map_err(werr)?
        .set_input_message(format!("请选择：{}", status_values.join("/")))
        .map_err(werr)?
        .set_error_message("只能从下拉列表中选择")
        .map_err(werr)?;
    ws.add_data_validation(4, 5, last, 5, &status)
        .map_err(werr)?;
    let percent = DataValidation::new()
        .allow_decimal_number(DataValidationRule::Between(0.0, 100.0))
        .set_error_message("完成百分比应为 0 到 100 之间的数")
        .map_err(werr)?;
    ws.add_data_validation(4, 6, last, 6, &percent)
        .map_err(werr)?;
    for (c, w) in [
        (0, 10.0),
        (1, 46.0),
        (2, 10.0),
        (3, 11.0),
        (4, 12.0),
        (5, 12.0),
        (6, 12.0),
        (7, 40.0),
    ] {
        ws.set_column_width(c, w).map_err(werr)?;
    }
    ws.set_freeze_panes(4, 0).map_err(werr)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| TemplateError::Write(dir.display().to_string(), e.to_string()))?;
    }
    wb.save(path).map_err(werr)?;
    Ok(())
}
