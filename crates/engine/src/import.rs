//! Importing files: rows read by `tidewatch-ingest`, batched through the [`Pipeline`], every
//! outcome accounted for in an [`ImportReport`].

use crate::metrics::{Stage, METRICS};
use crate::pipeline::{make_ready, Outcome, Pipeline, Ready};
use crate::EngineError;
use chrono::Utc;
use rayon::prelude::*;
use serde::Serialize;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use tidewatch_ingest::{read_rows, Format};
use tidewatch_model::ItemInput;
use tidewatch_text::InvalidItem;

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
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl ImportReport {
    /// Imports the rows of one file into `pipeline`, adding to this report. `on_progress` is
    /// called after every committed batch.
    ///
    /// Reading and preparing (on all cores) run on the calling thread while a second thread
    /// writes the previous batch, so that parsing, segmentation and the store's commits overlap.
    pub fn import_reader(
        &mut self,
        pipeline: &mut Pipeline,
        file: &str,
        reader: impl Read,
        format: Format,
        on_progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), EngineError> {
        let (rejected_before, warnings_before) = (self.rejected.len(), self.warnings.len());
        let counter = Arc::new(AtomicU64::new(0));
        let reader = CountingReader { inner: reader, count: counter.clone() };
        let segmenter = pipeline.segmenter().clone();
        let topics = pipeline.topics().clone();
        let prepare_all = |batch: &[ItemInput]| -> Vec<Result<Ready, InvalidItem>> {
            let now = Utc::now();
            let started = std::time::Instant::now();
            let ready = batch.par_iter().map(|i| make_ready(i, now, &segmenter, &topics)).collect();
            METRICS.observe(Stage::Prepare, started.elapsed());
            ready
        };
        let rows_read = AtomicU64::new(self.rows);
        let imported_before = self.imported;
        let written: Result<ImportReport, EngineError> = std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel::<(Vec<u64>, Vec<Result<Ready, InvalidItem>>)>(1);
            let rows_read = &rows_read;
            let writer = std::thread::Builder::new()
                .name("tw-write".into())
                .spawn_scoped(scope, move || -> Result<ImportReport, EngineError> {
                    let mut tally = ImportReport::default();
                    for (lines, prepared) in rx {
                        let result = pipeline.write_prepared(prepared, Utc::now())?;
                        for (outcome, &line) in result.outcomes.iter().zip(lines.iter()) {
                            tally.account(file, line, outcome);
                        }
                        on_progress(Progress {
                            bytes_read: counter.load(Ordering::Relaxed),
                            rows: rows_read.load(Ordering::Relaxed),
                            imported: imported_before + tally.imported,
                            committed_through_line: lines.last().copied().unwrap_or(0),
                        });
                    }
                    Ok(tally)
                })
                .map_err(|e| EngineError::Io(format!("the writer thread did not start: {e}")))?;
            let mut batch: Vec<ItemInput> = Vec::with_capacity(BATCH_SIZE);
            let mut lines: Vec<u64> = Vec::with_capacity(BATCH_SIZE);
            let mut rows = read_rows(reader, format);
            let mut parsing = std::time::Duration::ZERO;
            loop {
                let started = std::time::Instant::now();
                let Some(row) = rows.next() else { break };
                parsing += started.elapsed();
                rows_read.fetch_add(1, Ordering::Relaxed);
                for w in row.warnings {
                    self.warnings.push(Warning { file: file.to_string(), line: row.line, message: w });
                }
                match row.result {
                    Ok(input) => {
                        batch.push(input);
                        lines.push(row.line);
                    }
                    Err(e) => {
                        self.rejected.push(Rejection { file: file.to_string(), line: row.line, reason: e.to_string() })
                    }
                }
                if batch.len() >= BATCH_SIZE {
                    METRICS.observe(Stage::Parse, std::mem::take(&mut parsing));
                    let prepared = prepare_all(&batch);
                    batch.clear();
                    if tx.send((std::mem::take(&mut lines), prepared)).is_err() {
                        break; // the writer failed; its error is reported below
                    }
                }
            }
            if !batch.is_empty() {
                METRICS.observe(Stage::Parse, parsing);
                let _ = tx.send((lines, prepare_all(&batch)));
            }
            drop(tx);
            writer.join().map_err(|_| EngineError::Io("the writer thread panicked".into()))?
        });
        let tally = written?;
        self.rows = rows_read.into_inner();
        self.imported += tally.imported;
        self.duplicates_collapsed += tally.duplicates_collapsed;
        self.already_stored += tally.already_stored;
        self.rejected.extend(tally.rejected);
        self.warnings.extend(tally.warnings);
        // Rows refused while reading and rows refused by the pipeline: report them in file order.
        self.rejected[rejected_before..].sort_by_key(|r| r.line);
        self.warnings[warnings_before..].sort_by_key(|w| w.line);
        Ok(())
    }

    fn account(&mut self, file: &str, line: u64, outcome: &Outcome) {
        match outcome {
            Outcome::Stored { duplicate, .. } => {
                self.imported += 1;
                if duplicate.is_some() {
                    self.duplicates_collapsed += 1;
                }
            }
            Outcome::AlreadyStored { same_content, .. } => {
                self.already_stored += 1;
                if !same_content {
                    self.warnings.push(Warning {
                        file: file.to_string(),
                        line,
                        message: "an item with the same source and id is already stored with different content; the stored one is kept".into(),
                    });
                }
            }
            Outcome::Rejected(e) => {
                self.rejected.push(Rejection { file: file.to_string(), line, reason: e.to_string() })
            }
        }
    }
}
