//! `tidewatch analyze [FILE|-]`

use anyhow::Context;
use chrono::Utc;
use std::io::{BufWriter, Read, Write};
use std::process::ExitCode;
use tidewatch_engine::analyze::analyze_all;
use tidewatch_ingest::{read_rows, Format};
use tidewatch_text::dedup::DedupConfig;
use tidewatch_text::Segmenter;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// JSON Lines input; `-` or nothing reads standard input.
    file: Option<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let name = args.file.unwrap_or_else(|| "-".into());
    let reader: Box<dyn Read> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(&name).with_context(|| format!("cannot open {name}"))?)
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let now = Utc::now();
    let mut bad = 0u64;
    let mut rows = Vec::new();
    for row in read_rows(reader, Format::JsonLines) {
        for w in &row.warnings {
            eprintln!("{name} line {}: warning: {w}", row.line);
        }
        match row.result {
            Ok(i) => rows.push((row.line, i)),
            Err(e) => {
                eprintln!("{name} line {}: {e}", row.line);
                bad += 1;
            }
        }
    }
    let results = analyze_all(&rows, now, &Segmenter::shared_default(), DedupConfig::default());
    for ((line, _), result) in rows.iter().zip(results) {
        match result {
            Ok(a) => {
                serde_json::to_writer(&mut out, &a)?;
                out.write_all(b"\n")?;
            }
            Err(e) => {
                eprintln!("{name} line {line}: {e}");
                bad += 1;
            }
        }
    }
    out.flush()?;
    if bad > 0 {
        eprintln!("{bad} invalid lines skipped");
    }
    Ok(ExitCode::SUCCESS)
}
