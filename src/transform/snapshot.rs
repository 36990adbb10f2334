//! Bookkeeping of the current-state snapshots in `data/current`: which lake files a snapshot was
//! made from (`<table>.<signature>.files`, one `name size` line per file), so that the next state
//! can be built from the last one plus the new deliveries.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A table's lake files as (file name, size), in delivery order.
pub type Listing = Vec<(String, u64)>;

pub fn listing(files: &[PathBuf]) -> Option<Listing> {
    files
        .iter()
        .map(|f| {
            let name = f.file_name()?.to_string_lossy().to_string();
            let size = std::fs::metadata(f).ok()?.len();
            Some((name, size))
        })
        .collect()
}

/// 16 hex digits naming one state of a table's history.
pub fn signature(listed: &Listing) -> String {
    let mut h = Sha256::new();
    for (name, size) in listed {
        h.update(name.as_bytes());
        h.update(size.to_le_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

/// The delivery a lake file holds (`d00000012.parquet` → 12).
fn delivery_of(file_name: &str) -> Option<i64> {
    file_name
        .strip_prefix('d')?
        .strip_suffix(".parquet")?
        .parse()
        .ok()
}

/// A known state of an upsert table: the rows current after every delivery up to `last`.
#[derive(Debug, PartialEq)]
pub struct Earlier {
    pub file: PathBuf,
    pub last_delivery: i64,
}

fn read_listing(path: &Path) -> Option<Listing> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .map(|l| {
            let (name, size) = l.rsplit_once(' ')?;
            Some((name.to_string(), size.parse().ok()?))
        })
        .collect()
}

/// The latest known state covering a strict prefix of today's files: a snapshot whose listing
/// is such a prefix, or else the first delivery's own file (a one-delivery state needs no
/// snapshot). None when there is nothing to start from.
pub fn earlier_state(
    dir: &Path,
    table: &str,
    files: &[PathBuf],
    listed: &Listing,
) -> Option<Earlier> {
    let mut best: Option<(usize, PathBuf)> = files.first().map(|f| (1, f.clone()));
    let prefix = format!("{table}.");
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        let Some(sig) = n
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".files"))
        else {
            continue;
        };
        if sig.len() != 16 {
            continue;
        }
        let Some(old) = read_listing(&e.path()) else {
            continue;
        };
        let parquet = dir.join(format!("{table}.{sig}.parquet"));
        let k = old.len();
        if k > 0
            && k < listed.len()
            && old[..] == listed[..k]
            && best.as_ref().is_none_or(|(b, _)| k > *b)
            && parquet.is_file()
        {
            best = Some((k, parquet));
        }
    }
    let (k, file) = best?;
    if k >= listed.len() {
        return None;
    }
    Some(Earlier {
        file,
        last_delivery: delivery_of(&listed[k - 1].0)?,
    })
}

/// Record which files `snapshot` was made from (written aside, then renamed).
pub fn write_listing(snapshot: &Path, listed: &Listing) -> std::io::Result<()> {
    let path = snapshot.with_extension("files");
    let tmp = snapshot.with_extension("files.partial");
    let text: String = listed.iter().map(|(n, s)| format!("{n} {s}\n")).collect();
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)
}

/// Remove the table's other snapshots (and their listings): they are stale now.
pub fn remove_stale(dir: &Path, table: &str, keep: &Path) {
    let prefix = format!("{table}.");
    let keep_stem = keep.with_extension("");
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        let Some(rest) = n.strip_prefix(&prefix) else {
            continue;
        };
        let ours = [".parquet", ".files"].iter().any(|ext| {
            rest.strip_suffix(ext)
                .is_some_and(|sig| sig.len() == 16 && sig.bytes().all(|c| c.is_ascii_hexdigit()))
        });
        if ours && e.path().with_extension("") != keep_stem {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path, bytes: usize) {
        std::fs::write(p, vec![b'x'; bytes]).unwrap();
    }

    #[test]
    fn the_longest_known_prefix_is_the_starting_state() {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        let cur = dir.path().join("current");
        std::fs::create_dir_all(&lake).unwrap();
        std::fs::create_dir_all(&cur).unwrap();
        let files: Vec<PathBuf> = (1..=4)
            .map(|d| {
                let f = lake.join(format!("d{d:08}.parquet"));
                touch(&f, d * 10);
                f
            })
            .collect();
        let all = listing(&files).unwrap();
        // Nothing known yet: the first delivery is the state after delivery 1.
        assert_eq!(
            earlier_state(&cur, "t", &files, &all),
            Some(Earlier {
                file: files[0].clone(),
                last_delivery: 1
            })
        );
        // A snapshot of the first three deliveries.
        let three = &all[..3].to_vec();
        let snap = cur.join(format!("t.{}.parquet", signature(three)));
        touch(&snap, 5);
        write_listing(&snap, three).unwrap();
        assert_eq!(
            earlier_state(&cur, "t", &files, &all),
            Some(Earlier {
                file: snap.clone(),
                last_delivery: 3
            })
        );
        // A listing whose sizes differ (a rewritten file) is not a prefix.
        let mut changed = all[..3].to_vec();
        changed[1].1 += 1;
        assert_eq!(
            earlier_state(&cur, "t", &files, &{
                let mut l = changed.clone();
                l.push(all[3].clone());
                l
            })
            .map(|e| e.last_delivery),
            Some(1)
        );
        // Today's own state is not an earlier one; another table's files are not read.
        assert_eq!(
            earlier_state(&cur, "t", &files[..3], three).map(|e| e.last_delivery),
            Some(1)
        );
        assert_eq!(
            earlier_state(&cur, "u", &files, &all).map(|e| e.last_delivery),
            Some(1)
        );
        // Stale ones go, listing and all; the kept one stays.
        let four = cur.join(format!("t.{}.parquet", signature(&all)));
        touch(&four, 5);
        write_listing(&four, &all).unwrap();
        touch(&cur.join("t.notes.txt"), 1);
        remove_stale(&cur, "t", &four);
        let mut left: Vec<String> = std::fs::read_dir(&cur)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        left.sort();
        let sig = signature(&all);
        assert_eq!(
            left,
            vec![
                format!("t.{sig}.files"),
                format!("t.{sig}.parquet"),
                "t.notes.txt".to_string()
            ]
        );
    }
}
