//! Synthetic agency drops: a deterministic, realistic stand-in for the eight units' deliveries.
//!
//! `generate` fills `inbox/<unit>/` with the files the port agencies would send over a period:
//! one file per feed per ISO week (报关单, 查验记录, 报检单, 运抵提离, 仓储进出库, 电商订单,
//! 运输工具检查, 处罚案件, 欠税记录, 不合格记录), each unit's weekly 任务进展, and the reference data
//! (企业名录 and 海关企业信用等级 at the start, credit changes mid-period, a copy of the plan's
//! 任务清单). It sits outside the pipeline and only writes files: the rest of sanhu discovers,
//! validates and ingests them exactly as it does real drops, so the demo exercises intake
//! (xlsx and CSV in UTF-8, UTF-8 with BOM and GBK; varying Chinese headers; file names that match
//! no pattern and must be recognised by their header row), normalisation (date texts, Excel
//! serial dates, 进口/I, 是/Y, "110" for 0110), validation (a few planted bad rows per file) and
//! the clearance-time, credit and supervision reports (linked records across feeds, with a few
//! cross-feed anomalies and > 30-day outliers).
//!
//! The same [`DemoOptions`] always give byte-identical files: every draw comes from a ChaCha8
//! stream of the seed, nothing iterates a hash map, no clock is read, and xlsx document times are
//! derived from the period. Each file's modification time is set to when the unit delivered it in
//! the simulation (Monday morning after the week, sometimes late; task reports on Friday of the
//! following week), because intake takes a delivery's time from it (信息报告制度). Rows are
//! streamed to disk week by week, so memory stays bounded at any scale.

mod calendar;
mod codes;
mod entities;
mod feeds;
mod rng;
mod sink;
mod tasks;
mod world;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// First day (local date) of the period.
    pub from: chrono::NaiveDate,
    /// Last day (local date, inclusive) of the period.
    pub to: chrono::NaiveDate,
    /// Thousands of customs declarations over the whole period; other feeds follow in proportion.
    pub scale: u32,
    pub seed: u64,
    /// The clearance baseline period (first and last day), e.g. the year 2017: one historical
    /// customs extract of it is delivered with the reference data, so the clearance-time
    /// comparison against the baseline has something to compare with. None: no such file.
    pub baseline: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    /// Every file written, in the order written.
    pub files: Vec<PathBuf>,
    /// Distinct customs declarations generated (`scale` × 1000).
    pub declarations: u64,
    /// Data rows written across all files (header rows not counted; a record re-sent in a later
    /// week, once complete, counts each time it is written).
    pub rows_written: u64,
    /// Rows deliberately made bad: wrong USCC check characters (as the key: rejected; as 收发货人:
    /// a warning only), a later time before an earlier one in the same row, impossible dates,
    /// duplicated keys (the repeated row), 17-digit 报关单号, empty required cells.
    pub bad_rows_planted: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("invalid demo options: {0}")]
    Options(String),
    #[error("demo generator: {0}")]
    Internal(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot write xlsx: {source}", path.display())]
    Xlsx {
        path: PathBuf,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
}

impl DemoError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        DemoError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn xlsx(path: &Path, source: rust_xlsxwriter::XlsxError) -> Self {
        DemoError::Xlsx {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Writes the period's agency drops into `inbox/<unit>/` (folders are created as needed; files of
/// the same name are overwritten, other files are left alone) and reports what it wrote.
pub fn generate(inbox: &Path, opts: &DemoOptions) -> Result<DemoSummary, DemoError> {
    world::run(inbox, opts).map(|outcome| outcome.summary)
}
