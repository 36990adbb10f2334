//! Spreadsheet intake with calamine: xlsx streamed cell by cell (bounded memory), legacy xls
//! (BIFF, at most 65,536 rows by format) read as a range.
//!
//! Before calamine sees an xlsx, the zip directory is checked: the sum of the uncompressed sizes
//! the archive claims must stay under the limit (a zip bomb is rejected without inflating it),
//! and every worksheet's claimed dimensions are checked before its rows are read. Merged cells
//! in the header area are filled from their top-left cell, as a person reads them.

use super::{Format, IntakeError, RawCell, SheetPreview, Visit};
use crate::config::spec::IntakeLimits;
use calamine::{Data, DataRef, Dimensions, Reader, SheetType, SheetVisible, Xls, Xlsx};
use std::io::BufReader;
use std::path::Path;

/// An Office file encrypted with a password is an OLE container holding `EncryptedPackage`.
pub fn is_encrypted_ole(path: &Path) -> Result<bool, IntakeError> {
    let bytes = std::fs::read(path)?;
    // UTF-16LE stream name in the OLE directory.
    let needle: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    Ok(bytes.windows(needle.len()).any(|w| w == needle.as_slice()))
}

/// Check the zip directory's claims before any member is inflated.
fn check_zip(path: &Path, limits: &IntakeLimits) -> Result<(), IntakeError> {
    let file = std::fs::File::open(path)?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| IntakeError::Corrupt(format!("压缩包无法打开（{e}）")))?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|e| IntakeError::Corrupt(format!("压缩包成员损坏（{e}）")))?;
        total = total.saturating_add(entry.size());
        // A member inflating more than 1000× is no spreadsheet: XML compresses about 10-20×.
        if entry.size() > 64 << 20
            && entry.compressed_size() > 0
            && entry.size() / entry.compressed_size() > 1000
        {
            return Err(IntakeError::ZipBomb {
                size: entry.size(),
                limit: limits.max_uncompressed_bytes,
            });
        }
    }
    if total > limits.max_uncompressed_bytes {
        return Err(IntakeError::ZipBomb {
            size: total,
            limit: limits.max_uncompressed_bytes,
        });
    }
    Ok(())
}

fn corrupt(e: impl std::fmt::Display) -> IntakeError {
    let msg = e.to_string();
    if msg.to_ascii_lowercase().contains("password") || msg.to_ascii_lowercase().contains("encrypt")
    {
        return IntakeError::Encrypted;
    }
    IntakeError::Corrupt(msg)
}

fn check_dims(sheet: &str, d: &Dimensions, limits: &IntakeLimits) -> Result<(), IntakeError> {
    let rows = (d.end.0 as u64).saturating_sub(d.start.0 as u64) + 1;
    let cols = (d.end.1 as u64).saturating_sub(d.start.1 as u64) + 1;
    if rows > limits.max_rows + 1 || cols > limits.max_columns as u64 || d.end.1 as u64 >= 16_384 {
        return Err(IntakeError::SheetTooLarge {
            sheet: sheet.to_string(),
            rows,
            cols,
            max_rows: limits.max_rows,
            max_cols: limits.max_columns,
        });
    }
    Ok(())
}

fn from_ref(d: &DataRef<'_>) -> RawCell {
    match d {
        DataRef::Empty => RawCell::Empty,
        DataRef::Int(i) => RawCell::Int(*i),
        DataRef::Float(f) => RawCell::Number(*f),
        DataRef::String(s) => RawCell::Text(s.clone()),
        DataRef::SharedString(s) => RawCell::Text(s.to_string()),
        DataRef::Bool(b) => RawCell::Bool(*b),
        DataRef::DateTime(dt) => datetime_cell(dt),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => RawCell::Text(s.clone()),
        DataRef::Error(e) => RawCell::Error(e.to_string()),
    }
}

fn from_data(d: &Data) -> RawCell {
    match d {
        Data::Empty => RawCell::Empty,
        Data::Int(i) => RawCell::Int(*i),
        Data::Float(f) => RawCell::Number(*f),
        Data::String(s) => RawCell::Text(s.clone()),
        Data::Bool(b) => RawCell::Bool(*b),
        Data::DateTime(dt) => datetime_cell(dt),
        Data::DateTimeIso(s) | Data::DurationIso(s) => RawCell::Text(s.clone()),
        Data::Error(e) => RawCell::Error(e.to_string()),
    }
}

fn datetime_cell(dt: &calamine::ExcelDateTime) -> RawCell {
    // calamine applies the workbook's 1900/1904 date system in as_datetime().
    match (dt.is_datetime(), dt.as_datetime()) {
        (true, Some(v)) => RawCell::DateTime(v),
        _ => RawCell::Number(dt.as_f64()),
    }
}

/// Fill cells covered by a merged region with the region's top-left value.
fn apply_merges(row_no: u32, cells: &mut Vec<RawCell>, merges: &[(Dimensions, RawCell)]) {
    let r = row_no - 1;
    for (d, value) in merges {
        if r >= d.start.0 && r <= d.end.0 {
            let end = d.end.1 as usize;
            if cells.len() <= end {
                cells.resize(end + 1, RawCell::Empty);
            }
            for cell in &mut cells[d.start.1 as usize..=end] {
                if cell.is_empty() {
                    *cell = value.clone();
                }
            }
        }
    }
}

fn visible_worksheets(sheets: &[calamine::Sheet]) -> Vec<String> {
    sheets
        .iter()
        .filter(|s| s.visible == SheetVisible::Visible && s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .collect()
}

/// Stream an xlsx sheet's rows; `merges_rows` limits merged-cell filling to the header area.
fn stream_xlsx(
    wb: &mut Xlsx<BufReader<std::fs::File>>,
    sheet: &str,
    limits: &IntakeLimits,
    merges: &[(Dimensions, RawCell)],
    visit: &mut Visit<'_>,
) -> Result<(), IntakeError> {
    let mut reader = wb.worksheet_cells_reader(sheet).map_err(corrupt)?;
    check_dims(sheet, &reader.dimensions(), limits)?;
    let mut cells: Vec<RawCell> = Vec::new();
    let mut current: Option<u32> = None;
    let mut rows_seen: u64 = 0;
    loop {
        let next = reader.next_cell().map_err(corrupt)?;
        let pos = next.as_ref().map(|c| c.get_position());
        // A row is complete when the next cell is on another row (cells come in row order).
        if let Some(r) = current
            && pos.map(|p| p.0) != Some(r)
        {
            let row_no = r + 1;
            apply_merges(row_no, &mut cells, merges);
            if !visit(row_no, &cells) {
                return Ok(());
            }
            cells.clear();
            current = None;
        }
        let Some(cell) = next else { return Ok(()) };
        let (r, c) = cell.get_position();
        if current.is_none() {
            rows_seen += 1;
            if rows_seen > limits.max_rows + 1 {
                return Err(IntakeError::SheetTooLarge {
                    sheet: sheet.to_string(),
                    rows: rows_seen,
                    cols: c as u64 + 1,
                    max_rows: limits.max_rows,
                    max_cols: limits.max_columns,
                });
            }
            current = Some(r);
        }
        if c >= limits.max_columns {
            return Err(IntakeError::SheetTooLarge {
                sheet: sheet.to_string(),
                rows: r as u64 + 1,
                cols: c as u64 + 1,
                max_rows: limits.max_rows,
                max_cols: limits.max_columns,
            });
        }
        let c = c as usize;
        if cells.len() <= c {
            cells.resize(c + 1, RawCell::Empty);
        }
        cells[c] = from_ref(cell.get_value());
    }
}

fn open_xlsx(
    path: &Path,
    limits: &IntakeLimits,
) -> Result<Xlsx<BufReader<std::fs::File>>, IntakeError> {
    check_zip(path, limits)?;
    calamine::open_workbook::<Xlsx<_>, _>(path).map_err(corrupt)
}

/// Merged regions of a sheet that start in its first rows, with the top-left value.
fn header_merges(
    wb: &mut Xlsx<BufReader<std::fs::File>>,
    sheet: &str,
    first_rows: &[(u32, Vec<RawCell>)],
) -> Vec<(Dimensions, RawCell)> {
    let Ok(regions) = wb.merge_cells_by_sheet_name(sheet) else {
        return Vec::new();
    };
    regions
        .into_iter()
        .filter_map(|d| {
            let (_, row) = first_rows.iter().find(|(n, _)| *n == d.start.0 + 1)?;
            let v = row.get(d.start.1 as usize)?.clone();
            Some((d, v))
        })
        .collect()
}

pub fn preview(
    path: &Path,
    format: Format,
    limits: &IntakeLimits,
    max_rows: usize,
) -> Result<Vec<SheetPreview>, IntakeError> {
    let mut out = Vec::new();
    match format {
        Format::Xlsx => {
            let mut wb = open_xlsx(path, limits)?;
            for name in visible_worksheets(wb.sheets_metadata()) {
                let mut rows = Vec::new();
                stream_xlsx(&mut wb, &name, limits, &[], &mut |n, cells| {
                    rows.push((n, cells.to_vec()));
                    rows.len() < max_rows
                })?;
                if rows.iter().all(|(_, r)| r.iter().all(RawCell::is_empty)) {
                    continue;
                }
                // Merged header cells: only read the merge list when the header area has gaps.
                if rows.iter().take(10).any(|(_, r)| has_gaps(r)) {
                    let merges = header_merges(&mut wb, &name, &rows);
                    if !merges.is_empty() {
                        for (n, r) in rows.iter_mut() {
                            apply_merges(*n, r, &merges);
                        }
                    }
                }
                out.push(SheetPreview { name, rows });
            }
        }
        Format::Xls => {
            let mut wb = calamine::open_workbook::<Xls<_>, _>(path).map_err(corrupt)?;
            for name in visible_worksheets(wb.sheets_metadata()) {
                let range = wb.worksheet_range(&name).map_err(corrupt)?;
                let merges: Vec<Dimensions> =
                    wb.merge_cells_by_sheet_name(&name).unwrap_or_default();
                let rows = xls_rows(&range, &merges, max_rows);
                if rows.is_empty() {
                    continue;
                }
                out.push(SheetPreview { name, rows });
            }
        }
        Format::Csv | Format::Sqlite => unreachable!("not a workbook format"),
    }
    if out.is_empty() {
        return Err(IntakeError::Empty);
    }
    Ok(out)
}

fn has_gaps(row: &[RawCell]) -> bool {
    let first = row.iter().position(|c| !c.is_empty());
    let last = row.iter().rposition(|c| !c.is_empty());
    match (first, last) {
        (Some(a), Some(b)) => row[a..=b].iter().any(RawCell::is_empty) || a > 0,
        _ => false,
    }
}

fn xls_rows(
    range: &calamine::Range<Data>,
    merges: &[Dimensions],
    max_rows: usize,
) -> Vec<(u32, Vec<RawCell>)> {
    let Some((r0, c0)) = range.start() else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for (i, row) in range.rows().enumerate() {
        if rows.len() >= max_rows {
            break;
        }
        let mut cells = vec![RawCell::Empty; c0 as usize];
        cells.extend(row.iter().map(from_data));
        if cells.iter().all(RawCell::is_empty) {
            continue;
        }
        rows.push((r0 + i as u32 + 1, cells));
    }
    let merges: Vec<(Dimensions, RawCell)> = merges
        .iter()
        .filter_map(|d| {
            let v = range.get_value((d.start.0, d.start.1)).map(from_data)?;
            Some((*d, v))
        })
        .collect();
    for (n, r) in rows.iter_mut() {
        apply_merges(*n, r, &merges);
    }
    rows
}

pub fn stream(
    path: &Path,
    format: Format,
    sheet: &str,
    limits: &IntakeLimits,
    visit: &mut Visit<'_>,
) -> Result<(), IntakeError> {
    match format {
        Format::Xlsx => {
            let mut wb = open_xlsx(path, limits)?;
            // Merged header cells are filled the same way as in the preview.
            let mut head = Vec::new();
            stream_xlsx(&mut wb, sheet, limits, &[], &mut |n, cells| {
                head.push((n, cells.to_vec()));
                head.len() < 30
            })?;
            let merges = if head.iter().take(10).any(|(_, r)| has_gaps(r)) {
                header_merges(&mut wb, sheet, &head)
            } else {
                Vec::new()
            };
            stream_xlsx(&mut wb, sheet, limits, &merges, visit)
        }
        Format::Xls => {
            let mut wb = calamine::open_workbook::<Xls<_>, _>(path).map_err(corrupt)?;
            let range = wb.worksheet_range(sheet).map_err(corrupt)?;
            let merges: Vec<Dimensions> = wb.merge_cells_by_sheet_name(sheet).unwrap_or_default();
            for (n, cells) in xls_rows(&range, &merges, usize::MAX) {
                if !visit(n, &cells) {
                    break;
                }
            }
            Ok(())
        }
        Format::Csv | Format::Sqlite => unreachable!("not a workbook format"),
    }
}
