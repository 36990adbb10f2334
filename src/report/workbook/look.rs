//! Look: fonts and sizes, and Excel's limits on sheets and cells.

use super::model::Format;

/// Default font: 等线 (DengXian), the body font of Chinese-locale Office since 2016 and the one
/// Chinese Excel itself puts in new workbooks, so the report looks native to the analysts; WPS
/// ships it too, and where it is missing (LibreOffice on Linux) fontconfig substitutes a CJK
/// sans such as Noto Sans CJK. 微软雅黑 was the alternative, but its tall line height makes rows
/// look cramped at Excel's default row height.
pub const FONT_NAME: &str = "等线";
/// 11 pt, the size Chinese Excel uses with 等线: the default row height (15 pt) and column width
/// metrics that rust_xlsxwriter assumes for placing charts stay right.
pub const FONT_SIZE: f64 = 11.0;
/// GB2312 charset, so Excel picks the font's Chinese glyphs.
pub(super) const FONT_CHARSET: u8 = 134;
pub(super) const TITLE_SIZE: f64 = 16.0;
pub(super) const TITLE_ROW_HEIGHT: f64 = 24.0;
/// Points per wrapped line at 11 pt, and Excel's default row height.
pub(super) const LINE_HEIGHT: f64 = 15.0;
pub(super) const MAX_ROW_HEIGHT: f64 = 409.0;
/// Excel's default column width in character units.
pub(super) const DEFAULT_COL_WIDTH: f64 = 8.43;
/// Auto widths are clamped to this range (character units).
pub const MIN_AUTO_WIDTH: f64 = 6.0;
pub const MAX_AUTO_WIDTH: f64 = 60.0;
/// Only the first rows of a table are measured for auto widths: enough to see the data's shape,
/// cheap on a 100k-row table.
pub const AUTO_WIDTH_ROWS: usize = 1000;
/// A paragraph is merged over at least this many width units, so text is not squeezed into a
/// narrow table's width.
pub(super) const MIN_PARAGRAPH_WIDTH: f64 = 48.0;
pub(super) const CHART_WIDTH_PX: u32 = 720;
pub(super) const CHART_HEIGHT_PX: u32 = 360;
/// Rows between the tops of default-placed charts (360 px at 20 px per row, plus a gap).
pub(super) const CHART_ROW_STRIDE: u32 = 20;
/// Total width above which a sheet prints landscape.
pub(super) const LANDSCAPE_WIDTH: f64 = 100.0;

pub(super) const MAX_ROWS: u64 = 1_048_576;
pub(super) const MAX_COLS: u64 = 16_384;
/// Excel keeps 15 significant digits: larger integers are written as text so no digit is lost.
pub(super) const EXACT_INT_LIMIT: u64 = 999_999_999_999_999;
/// Excel's limit on the characters in one cell.
pub(super) const MAX_CELL_CHARS: usize = 32_767;

pub(super) static DATE_FORMAT: Format = Format::Date;
pub(super) static DATETIME_FORMAT: Format = Format::DateTime;
pub(super) static GENERAL_FORMAT: Format = Format::General;
