//! Importing files: rows read by `tidewatch-ingest`, batched through the [`Pipeline`], every
//! outcome accounted for in an [`ImportReport`].

use crate::pipeline::{Outcome, Pipeline};
use crate::EngineError;
use chrono::Utc;
use serde::Serialize;
use std::io::Read;
use tidewatch_ingest::{read_rows, Format};
use tidewatch_model::ItemInput;

/// Items per write transaction.
pub const BATCH_SIZE: usize = 2000;

/// A row that did not become an item.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Rejection {
    /// File name (`-` for standard input).
    pub file: String,
    /// 1-based line number where the row starts.
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// A problem that did not stop a row.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    /// File name.
    pub file: String,
    /// Line number.
    pub line: u64,
    /// What.
    pub message: String,
}

/// The summary of an import.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Rows read (valid or not).
    pub rows: u64,
    /// New items stored.
    pub imported: u64,
    /// Of those, items that joined an existing duplicate group.
    pub duplicates_collapsed: u64,
    /// Rows whose item was already stored (same source and id, URL or text): not stored again.
    pub already_stored: u64,
    /// Rows refused, with where and why.
    pub rejected: Vec<Rejection>,
    /// Problems that did not stop a row.
    pub warnings: Vec<Warning>,
}

/// Progress of an import, reported after each durable batch.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Bytes of the current file read so far (approximate: read-ahead is counted).
    pub bytes_read: u64,
    /// Rows processed in all files so far.
    pub rows: u64,
    /// Items durably stored so far.
    pub imported: u64,
    /// Line number of the last row of the batch just committed.
    pub committed_through_line: u64,
}

struct CountingReader<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

impl ImportReport {
    /// Imports the rows of one file into `pipeline`, adding to this report. `on_progress` is
    /// called after every committed batch.
    pub fn import_reader(
        &mut self,
        pipeline: &mut Pipeline,
        file: &str,
        reader: impl Read,
        format: Format,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<(), EngineError> {
        let (rejected_before, warnings_before) = (self.rejected.len(), self.warnings.len());
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let reader = CountingReader { inner: reader, count: counter.clone() };
        let mut batch: Vec<ItemInput> = Vec::with_capacity(BATCH_SIZE);
        let mut lines: Vec<u64> = Vec::with_capacity(BATCH_SIZE);
        let mut flush = |report: &mut ImportReport,
                         batch: &mut Vec<ItemInput>,
                         lines: &mut Vec<u64>|
         -> Result<(), EngineError> {
            if batch.is_empty() {
                return Ok(());
            }
            let result = pipeline.ingest(batch, Utc::now())?;
            for (outcome, &line) in result.outcomes.iter().zip(lines.iter()) {
                match outcome {
                    Outcome::Stored { duplicate, .. } => {
                        report.imported += 1;
                        if duplicate.is_some() {
                            report.duplicates_collapsed += 1;
                        }
                    }
                    Outcome::AlreadyStored { same_content, .. } => {
                        report.already_stored += 1;
                        if !same_content {
                            report.warnings.push(Warning {
                                file: file.to_string(),
                                line,
                                message: "an item with the same source and id is already stored with different content; the stored one is kept".into(),
                            });
                        }
                    }
                    Outcome::Rejected(e) => {
                        report.rejected.push(Rejection { file: file.to_string(), line, reason: e.to_string() })
                    }
                }
            }
            let last_line = lines.last().copied().unwrap_or(0);
            batch.clear();
            lines.clear();
            on_progress(Progress {
                bytes_read: counter.load(std::sync::atomic::Ordering::Relaxed),
                rows: report.rows,
                imported: report.imported,
                committed_through_line: last_line,
            });
            Ok(())
        };
        for row in read_rows(reader, format) {
            self.rows += 1;
            for w in row.warnings {
                self.warnings.push(Warning { file: file.to_string(), line: row.line, message: w });
            }
            match row.result {
                Ok(input) => {
                    batch.push(input);
                    lines.push(row.line);
                    if batch.len() >= BATCH_SIZE {
                        flush(self, &mut batch, &mut lines)?;
                    }
                }
                Err(e) => {
                    self.rejected.push(Rejection { file: file.to_string(), line: row.line, reason: e.to_string() })
                }
            }
        }
        flush(self, &mut batch, &mut lines)?;
        // Rows refused while reading and rows refused by the pipeline: report them in file order.
        self.rejected[rejected_before..].sort_by_key(|r| r.line);
        self.warnings[warnings_before..].sort_by_key(|w| w.line);
        Ok(())
    }
}
