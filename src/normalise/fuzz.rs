//! The fuzzing entry point for header mapping and cell coercion (`fuzz/`, run by `fuzz/run`).
//!
//! Arbitrary bytes become a sheet: the first byte picks one of the project's canonical tables,
//! the rest splits into rows at `\n` and cells at `\t`, and a cell's first byte may tag it as a
//! number, integer, boolean, Excel date-time or error value (as the spreadsheet readers produce
//! them); anything else is text. The sheet goes through the same header detection and
//! `Normaliser` as a delivered file. Beyond "no panic", it checks the promise intake makes:
//! every data row is accepted, rejected or skipped — none lost — and the batches hold exactly
//! the accepted rows.

use super::Normaliser;
use super::header::{HEADER_SEARCH_ROWS, detect};
use crate::config::Project;
use crate::intake::{RawCell, SheetPreview};

fn cell(bytes: &[u8]) -> RawCell {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match bytes.split_first() {
        None => RawCell::Empty,
        Some((1, rest)) => RawCell::Number(text(rest).trim().parse().unwrap_or_else(|_| {
            let mut b = [0u8; 8];
            for (d, s) in b.iter_mut().zip(rest) {
                *d = *s;
            }
            f64::from_le_bytes(b)
        })),
        Some((2, rest)) => RawCell::Int(text(rest).trim().parse().unwrap_or(rest.len() as i64)),
        Some((3, rest)) => RawCell::Bool(rest.first().is_some_and(|b| b & 1 == 1)),
        Some((4, rest)) => {
            let mut b = [0u8; 8];
            for (d, s) in b.iter_mut().zip(rest) {
                *d = *s;
            }
            // Seconds around the Excel range (1900–9999), wrapped so any bytes give a date.
            let secs =
                i64::from_le_bytes(b).rem_euclid(253_402_300_800 + 2_208_988_800) - 2_208_988_800;
            chrono::DateTime::from_timestamp(secs, 0)
                .map(|d| RawCell::DateTime(d.naive_utc()))
                .unwrap_or(RawCell::Empty)
        }
        Some((5, rest)) => RawCell::Error(text(rest)),
        Some(_) => RawCell::Text(text(bytes)),
    }
}

/// Run one fuzz input through detection and normalisation; panics if a row is lost.
pub fn header_and_cells(project: &Project, data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let schemas: Vec<_> = project.schemas.values().collect();
    if schemas.is_empty() {
        return;
    }
    let schema = schemas[pick as usize % schemas.len()];
    let rows: Vec<(u32, Vec<RawCell>)> = rest
        .split(|&b| b == b'\n')
        .take(10_000)
        .enumerate()
        .map(|(i, line)| {
            let cells = line.split(|&b| b == b'\t').take(600).map(cell).collect();
            (i as u32 + 1, cells)
        })
        .collect();
    let preview = SheetPreview {
        name: "Sheet1".into(),
        rows: rows.iter().take(HEADER_SEARCH_ROWS).cloned().collect(),
    };
    let Ok(detection) = detect(&[preview], &[schema], &[true]) else {
        return;
    };
    let units = project.units.iter().map(|u| u.code.clone()).collect();
    let mut norm = Normaliser::new(schema, &detection, project.tz, 1, "fuzz.xlsx", 64, units);
    let mut batch_rows = 0u64;
    for (row, cells) in &rows {
        if let Some(b) = norm.push_row(*row, cells) {
            batch_rows += b.num_rows() as u64;
        }
    }
    if let Some(b) = norm.flush() {
        batch_rows += b.num_rows() as u64;
    }
    let c = &norm.counts;
    let data_rows = rows
        .iter()
        .filter(|(r, _)| *r > detection.header_row)
        .count() as u64;
    assert_eq!(
        c.rows_read + c.skipped,
        data_rows,
        "every row read or skipped"
    );
    assert_eq!(
        c.accepted + c.rejected,
        c.rows_read,
        "every row read is accepted or rejected"
    );
    assert_eq!(
        batch_rows, c.accepted,
        "the batches hold exactly the accepted rows"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn bundled() -> Project {
        crate::config::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// A short deterministic run of the fuzz entry point in the normal tests: real headers with
    /// random cells under them, and random bytes, so the harness itself cannot rot.
    #[test]
    fn random_sheets_lose_no_row() {
        let project = bundled();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let names: Vec<String> = project.schemas.keys().cloned().collect();
        for i in 0..300u32 {
            let pick = (i as usize) % names.len();
            let schema = &project.schemas[&names[pick]];
            let mut data = vec![pick as u8];
            let header: Vec<String> = schema.columns.iter().map(|c| c.title.clone()).collect();
            data.extend(header.join("\t").as_bytes());
            for _ in 0..rng.random_range(0..20) {
                data.extend_from_slice(b"\n");
                for c in 0..schema.columns.len() {
                    if c > 0 {
                        data.push(b'\t');
                    }
                    let len = rng.random_range(0..12);
                    let tag: u8 = rng.random_range(0..8);
                    if tag < 6 {
                        data.push(tag);
                    }
                    data.extend((0..len).map(|_| rng.random_range(b' '..=b'9')));
                }
            }
            header_and_cells(&project, &data);
            let noise: Vec<u8> = (0..rng.random_range(0..400))
                .map(|_| rng.random())
                .collect();
            header_and_cells(&project, &noise);
        }
    }
}
