//! `tidewatch import FILE...`

use crate::progress::Reporter;
use anyhow::Context;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::ExitCode;
use tidewatch_engine::import::ImportReport;
use tidewatch_engine::pipeline::load_segmenter;
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_ingest::Format;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files to import: JSON Lines (.jsonl, .ndjson, .json) or CSV (.csv); `-` reads standard input.
    #[arg(required = true)]
    files: Vec<String>,
    /// Force the format instead of guessing it from the name or content.
    #[arg(long, value_parser = ["jsonl", "csv"])]
    format: Option<String>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let dir = DataDir::new(data_dir);
    let segmenter = load_segmenter(&dir)?;
    let mut pipeline = Pipeline::open(&dir, segmenter, PipelineConfig::default()).with_context(|| {
        format!("cannot open the data directory {} (is another Tidewatch writing to it?)", data_dir.display())
    })?;
    let mut report = ImportReport::default();
    for name in &args.files {
        let (reader, total): (Box<dyn Read>, Option<u64>) = if name == "-" {
            (Box::new(std::io::stdin().lock()), None)
        } else {
            let f = std::fs::File::open(name).with_context(|| format!("cannot open {name}"))?;
            let len = f.metadata().ok().map(|m| m.len());
            (Box::new(f), len)
        };
        let mut reader = BufReader::with_capacity(1 << 16, reader);
        let format = match args.format.as_deref() {
            Some("csv") => Format::Csv,
            Some(_) => Format::JsonLines,
            None => match Format::from_path(name) {
                Some(f) => f,
                None => Format::sniff(reader.fill_buf().with_context(|| format!("cannot read {name}"))?),
            },
        };
        let mut progress = Reporter::new(total, name);
        let started = std::time::Instant::now();
        report
            .import_reader(&mut pipeline, name, reader, format, &mut |p| {
                let rate = p.imported as f64 / started.elapsed().as_secs_f64().max(1e-3);
                progress.update(p.bytes_read, format!("{} stored, {rate:.0} items/s", p.imported), || {
                    format!("{name}: committed through line {}: {} items stored", p.committed_through_line, p.imported)
                });
            })
            .with_context(|| format!("import of {name} stopped"))?;
        progress.finish();
    }
    pipeline.flush()?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "imported {} items ({} collapsed into existing duplicate groups), {} already stored, {} rejected",
            report.imported,
            report.duplicates_collapsed,
            report.already_stored,
            report.rejected.len()
        );
        for r in &report.rejected {
            println!("rejected: {} line {}: {}", r.file, r.line, r.reason);
        }
        for w in &report.warnings {
            println!("warning: {} line {}: {}", w.file, w.line, w.message);
        }
    }
    Ok(ExitCode::SUCCESS)
}
