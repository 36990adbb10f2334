//! The lake: Parquet files under `data/lake/<table>/`, written so that a reader never sees half.
//!
//! Each delivery of a feed becomes one file `d<delivery id>.parquet` in its table's folder; each
//! derived model is one file `data.parquet`, replaced whole. Files are written under a temporary
//! name ending `.partial` (which no reader lists) and renamed into place, which is atomic on one
//! file system. The lake knows no source format and no report: it stores Arrow batches.

pub mod ledger;

use crate::config::spec::{CompressionName, LakeSettings};
use crate::config::{LINEAGE_DELIVERY, LINEAGE_FILE, LINEAGE_ROW};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The table quarantined rows are kept in, queryable like any other.
pub const QUARANTINE_TABLE: &str = "quarantine";

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("lake I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing Parquet {path}: {source}")]
    Parquet {
        path: PathBuf,
        source: datafusion::parquet::errors::ParquetError,
    },
    #[error("ledger")]
    Ledger(#[from] rusqlite::Error),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LakeError + '_ {
    move |source| LakeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone)]
pub struct Lake {
    pub root: PathBuf,
    /// `[lake]` of sanhu.toml: the codec of the files this lake writes.
    pub settings: LakeSettings,
}

/// How a file's columns are encoded.
///
/// Dictionary encoding pays where values repeat (codes, company ids, the lineage columns) and
/// costs where they do not: the writer interns every value until the dictionary page passes
/// 1 MiB and only then falls back, per row group. Timestamps, amounts and a delivery's single-
/// column key are (nearly) all distinct, so they are written plain from the start; the source
/// row number (counting up by one) and the delivery number (constant) are delta-encoded to
/// almost nothing. `unique` names the
/// columns known to be distinct (a table's key).
pub fn writer_properties(
    schema: &Schema,
    settings: LakeSettings,
    unique: &[String],
) -> WriterProperties {
    let compression = match settings.compression {
        CompressionName::Zstd => Compression::ZSTD(
            // Checked to be 1..=22 when sanhu.toml was read; a default keeps a bad value from
            // panicking a caller that built the settings by hand.
            ZstdLevel::try_new(settings.zstd_level).unwrap_or_default(),
        ),
        CompressionName::Snappy => Compression::SNAPPY,
        CompressionName::Lz4 => Compression::LZ4_RAW,
        CompressionName::None => Compression::UNCOMPRESSED,
    };
    let mut props = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(256 * 1024))
        .set_created_by(concat!("sanhu ", env!("CARGO_PKG_VERSION")).to_string());
    for field in schema.fields() {
        let path = ColumnPath::from(field.name().as_str());
        let distinct = matches!(
            field.data_type(),
            DataType::Timestamp(..)
                | DataType::Decimal128(..)
                | DataType::Float32
                | DataType::Float64
        ) || unique.iter().any(|u| u == field.name());
        if field.name() == LINEAGE_FILE {
            // One value per file: its min and max say nothing the file name does not, and
            // computing them compares every row's copy of the name (a few % of a CSV ingest).
            props = props.set_column_statistics_enabled(path, EnabledStatistics::None);
        } else if (field.name() == LINEAGE_ROW || field.name() == LINEAGE_DELIVERY)
            && field.data_type() == &DataType::Int64
        {
            // The row number counts up by one and the delivery is one number per file: every
            // delta is 1 or 0, a few bytes a page, and no row's value is interned into a
            // dictionary first.
            props = props
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
        } else if distinct {
            props = props.set_column_dictionary_enabled(path, false);
        }
    }
    props.build()
}

impl Lake {
    pub fn new(data_dir: &Path) -> Self {
        Lake::at(data_dir.join("lake"))
    }

    /// A lake rooted at `root` itself (a scratch folder), with the default codec.
    pub fn at(root: PathBuf) -> Self {
        Lake {
            root,
            settings: LakeSettings::default(),
        }
    }

    /// The same lake, writing with `settings`.
    pub fn with_settings(self, settings: LakeSettings) -> Self {
        Lake { settings, ..self }
    }

    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.root.join(table)
    }

    /// Path of one delivery's file in a table.
    pub fn delivery_file(&self, table: &str, delivery: i64) -> PathBuf {
        self.table_dir(table)
            .join(format!("d{delivery:08}.parquet"))
    }

    pub fn model_file(&self, model: &str) -> PathBuf {
        self.table_dir(model).join("data.parquet")
    }

    /// Committed Parquet files of a table, sorted by name (delivery order).
    pub fn files(&self, table: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.table_dir(table))
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("parquet"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Tables that have at least one committed file.
    pub fn tables(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(&self.root)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .filter_map(|e| e.file_name().to_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        out.retain(|t| !self.files(t).is_empty());
        out.sort();
        out
    }

    /// Start writing a file that becomes visible at `target` only on [`PendingFile::commit`].
    pub fn create(&self, target: PathBuf, schema: SchemaRef) -> Result<PendingFile, LakeError> {
        self.create_with_key(target, schema, &[])
    }

    /// [`Lake::create`] for a file whose `unique` columns hold no value twice (see
    /// [`writer_properties`]).
    pub fn create_with_key(
        &self,
        target: PathBuf,
        schema: SchemaRef,
        unique: &[String],
    ) -> Result<PendingFile, LakeError> {
        let dir = target
            .parent()
            .expect("lake files live in a table folder")
            .to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let tmp = dir.join(format!(
            ".{}.{}.partial",
            target
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("file"),
            std::process::id()
        ));
        let file = File::create(&tmp).map_err(io(&tmp))?;
        let props = writer_properties(&schema, self.settings, unique);
        let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(|source| {
            LakeError::Parquet {
                path: tmp.clone(),
                source,
            }
        })?;
        Ok(PendingFile {
            writer: Some(writer),
            tmp,
            target,
            rows: 0,
            handed_to_disk: 0,
            writeback_every: WRITEBACK_EVERY,
        })
    }

    /// Remove files a crashed writer left behind: in every table folder, and in the folder of
    /// current-state snapshots beside the lake (`data/current`).
    pub fn sweep_partials(&self) -> usize {
        let mut removed = 0;
        let tables = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|t| t.path());
        let current = self.root.parent().map(|d| d.join("current"));
        for dir in tables.chain(current) {
            for f in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if f.file_name()
                    .to_str()
                    .is_some_and(|n| n.ends_with(".partial"))
                    && std::fs::remove_file(f.path()).is_ok()
                {
                    removed += 1;
                }
            }
        }
        removed
    }
}

/// A Parquet file being written; dropped without commit, it is deleted.
pub struct PendingFile {
    writer: Option<ArrowWriter<File>>,
    tmp: PathBuf,
    target: PathBuf,
    pub rows: u64,
    /// Bytes written when the disk was last asked to start writing the file ([`start_writeback`]).
    handed_to_disk: usize,
    writeback_every: usize,
}

/// How much of a growing file may wait in the page cache before the disk is asked to write it.
const WRITEBACK_EVERY: usize = 64 << 20;

/// Ask the kernel to start writing the file's dirty pages to disk, without waiting: the fsync in
/// [`PendingFile::finish`] then waits only for the last few. Measured on the 10M-row CSV ingest
/// (a 340 MB file): that fsync took 0.18 s at the end, with both cores idle. std has only the
/// waiting kind (`File::sync_data`); `sync_file_range(2)` with `SYNC_FILE_RANGE_WRITE` alone
/// starts the writeback and returns. Elsewhere than Linux it does nothing and the fsync does all.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for as long as `file` is borrowed, and the call reads only
    // its integer arguments. A failure (an old kernel, a file system without it) is harmless: the
    // fsync at the end still writes everything, so its result is not looked at.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File) {}

impl PendingFile {
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), LakeError> {
        self.rows += batch.num_rows() as u64;
        let writer = self.writer.as_mut().expect("not yet closed");
        writer.write(batch).map_err(|source| LakeError::Parquet {
            path: self.tmp.clone(),
            source,
        })?;
        if writer.bytes_written() >= self.handed_to_disk + self.writeback_every {
            self.handed_to_disk = writer.bytes_written();
            start_writeback(writer.inner());
        }
        Ok(())
    }

    /// Close the file and fsync it, still under its temporary name.
    pub fn finish(mut self) -> Result<FinishedFile, LakeError> {
        let writer = self.writer.take().expect("not yet closed");
        let file = writer.into_inner().map_err(|source| LakeError::Parquet {
            path: self.tmp.clone(),
            source,
        })?;
        file.sync_all().map_err(io(&self.tmp))?;
        Ok(FinishedFile {
            tmp: std::mem::take(&mut self.tmp),
            target: std::mem::take(&mut self.target),
            rows: self.rows,
        })
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A [`PendingFile`] written on a thread of its own: the caller hands batches over and goes on
/// reading and checking the next rows while Parquet encoding and zstd run on the other core. At
/// most two batches wait in between, so memory stays bounded. Dropped without
/// [`BackgroundFile::finish`], the file is deleted like a `PendingFile`.
pub struct BackgroundFile {
    tx: Option<std::sync::mpsc::SyncSender<Msg>>,
    handle: Option<std::thread::JoinHandle<Result<Option<FinishedFile>, LakeError>>>,
    pub rows: u64,
}

enum Msg {
    Batch(RecordBatch),
    Finish,
}

impl Lake {
    /// [`Lake::create`], with the encoding on a background thread.
    pub fn create_background(
        &self,
        target: PathBuf,
        schema: SchemaRef,
        unique: &[String],
    ) -> Result<BackgroundFile, LakeError> {
        let mut file = self.create_with_key(target, schema, unique)?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(2);
        let handle = std::thread::Builder::new()
            .name("parquet-writer".into())
            .spawn(move || {
                for m in rx {
                    match m {
                        Msg::Batch(b) => file.write(&b)?,
                        Msg::Finish => return file.finish().map(Some),
                    }
                }
                // The sender went away without `finish`: abandoned, `file` is dropped (deleted).
                Ok(None)
            })
            .map_err(io(&self.root))?;
        Ok(BackgroundFile {
            tx: Some(tx),
            handle: Some(handle),
            rows: 0,
        })
    }
}

impl BackgroundFile {
    fn join(&mut self) -> Result<Option<FinishedFile>, LakeError> {
        self.tx.take();
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(LakeError::Io {
                path: PathBuf::from("parquet-writer"),
                source: std::io::Error::other("the Parquet writer thread panicked"),
            }),
            None => Ok(None),
        }
    }

    pub fn write(&mut self, batch: RecordBatch) -> Result<(), LakeError> {
        self.rows += batch.num_rows() as u64;
        let sent = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send(Msg::Batch(batch)).is_ok());
        if sent {
            return Ok(());
        }
        // The writer stopped: its error says why.
        self.join()?;
        Err(LakeError::Io {
            path: PathBuf::from("parquet-writer"),
            source: std::io::Error::other("the Parquet writer stopped"),
        })
    }

    pub fn finish(mut self) -> Result<FinishedFile, LakeError> {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Finish);
        }
        self.join()?.ok_or_else(|| LakeError::Io {
            path: PathBuf::from("parquet-writer"),
            source: std::io::Error::other("the Parquet writer stopped before the end"),
        })
    }
}

impl Drop for BackgroundFile {
    fn drop(&mut self) {
        // Without `finish` the thread sees the channel close and deletes its file.
        let _ = self.join();
    }
}

/// A complete file waiting to be renamed into place.
#[derive(Debug)]
pub struct FinishedFile {
    tmp: PathBuf,
    pub target: PathBuf,
    pub rows: u64,
}

impl FinishedFile {
    pub fn commit(self) -> Result<PathBuf, LakeError> {
        std::fs::rename(&self.tmp, &self.target).map_err(io(&self.target))?;
        if let Some(dir) = self.target.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(self.target.clone())
    }
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    use std::sync::Arc;

    #[test]
    fn a_file_handed_to_disk_as_it_grows_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let mut f = lake
            .create_with_key(lake.delivery_file("t", 1), schema.clone(), &[])
            .unwrap();
        // Writeback asked for after every batch that adds a byte, with small row groups so
        // bytes reach the file between batches.
        f.writeback_every = 1;
        drop(f.writer.take());
        f.writer = Some(
            ArrowWriter::try_new(
                File::create(&f.tmp).unwrap(),
                schema.clone(),
                Some(
                    WriterProperties::builder()
                        .set_max_row_group_row_count(Some(1000))
                        .build(),
                ),
            )
            .unwrap(),
        );
        for start in (0..10_000i64).step_by(1000) {
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from_iter_values(start..start + 1000))],
            )
            .unwrap();
            f.write(&batch).unwrap();
        }
        assert!(f.handed_to_disk > 0);
        let path = f.finish().unwrap().commit().unwrap();
        let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 10);
        assert_eq!(reader.metadata().file_metadata().num_rows(), 10_000);
    }

    #[test]
    fn columns_are_encoded_by_what_they_hold() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path()).with_settings(LakeSettings {
            compression: CompressionName::Snappy,
            zstd_level: 3,
        });
        let schema = Arc::new(Schema::new(vec![
            Field::new("entry_id", DataType::Utf8, false),
            Field::new("office", DataType::Utf8, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new(LINEAGE_ROW, DataType::Int64, false),
            Field::new(LINEAGE_FILE, DataType::Utf8, false),
            Field::new(LINEAGE_DELIVERY, DataType::Int64, false),
        ]));
        let n = 1000;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("{i:018}")),
                )),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| ["0201", "0711"][i % 2]),
                )),
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(
                        (0..n as i64).map(|i| i * 1_000_000),
                    )
                    .with_timezone("UTC"),
                ),
                Arc::new(Int64Array::from_iter_values(2..n as i64 + 2)),
                Arc::new(StringArray::from_iter_values((0..n).map(|_| "报关单.csv"))),
                Arc::new(Int64Array::from_iter_values((0..n).map(|_| 7))),
            ],
        )
        .unwrap();
        let mut f = lake
            .create_with_key(lake.delivery_file("t", 1), schema, &["entry_id".into()])
            .unwrap();
        f.write(&batch).unwrap();
        let path = f.finish().unwrap().commit().unwrap();
        let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
        let rg = reader.metadata().row_group(0);
        let dict = |i: usize| rg.column(i).dictionary_page_offset().is_some();
        // The key and the timestamps are written plain; the repeating code is a dictionary;
        // the row and delivery numbers are deltas.
        assert_eq!(
            (dict(0), dict(1), dict(2), dict(3), dict(5)),
            (false, true, false, false, false)
        );
        for i in [3, 5] {
            assert!(
                rg.column(i)
                    .encodings()
                    .any(|e| e == Encoding::DELTA_BINARY_PACKED),
                "column {i}"
            );
        }
        assert!((0..6).all(|i| rg.column(i).compression() == Compression::SNAPPY));
        // Every column has its min and max but the file name, which is one value per file.
        let stats: Vec<bool> = (0..6)
            .map(|i| rg.column(i).statistics().is_some())
            .collect();
        assert_eq!(stats, [true, true, true, true, false, true]);
    }

    #[test]
    fn nothing_is_visible_before_commit() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path());
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        let mut f = lake
            .create(lake.delivery_file("t", 1), schema.clone())
            .unwrap();
        f.write(&batch).unwrap();
        assert!(lake.files("t").is_empty());
        let done = f.finish().unwrap();
        assert!(lake.files("t").is_empty());
        done.commit().unwrap();
        assert_eq!(lake.files("t"), vec![lake.delivery_file("t", 1)]);
        // An abandoned writer leaves nothing behind.
        let g = lake.create(lake.delivery_file("t", 2), schema).unwrap();
        drop(g);
        assert_eq!(std::fs::read_dir(lake.table_dir("t")).unwrap().count(), 1);
        // The same through the background writer: committed on finish, gone when dropped.
        let mut b = lake
            .create_background(lake.delivery_file("t", 4), batch.schema(), &[])
            .unwrap();
        b.write(batch.clone()).unwrap();
        b.write(batch.clone()).unwrap();
        let done = b.finish().unwrap();
        assert_eq!(done.rows, 6);
        done.commit().unwrap();
        let mut b = lake
            .create_background(lake.delivery_file("t", 5), batch.schema(), &[])
            .unwrap();
        b.write(batch.clone()).unwrap();
        drop(b);
        assert_eq!(std::fs::read_dir(lake.table_dir("t")).unwrap().count(), 2);
        // What a killed process left, in a table folder and among the snapshots, is swept.
        let current = dir.path().join("current");
        std::fs::create_dir_all(&current).unwrap();
        std::fs::write(current.join(".t.abc.parquet.99.partial"), b"x").unwrap();
        std::fs::write(
            lake.table_dir("t").join(".d00000003.parquet.99.partial"),
            b"x",
        )
        .unwrap();
        assert_eq!(lake.sweep_partials(), 2);
        assert_eq!(std::fs::read_dir(&current).unwrap().count(), 0);
    }
}
