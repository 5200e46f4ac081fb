//! `tidewatch match --topics FILE [INPUT|-]`

use anyhow::Context;
use chrono::Utc;
use std::io::{BufWriter, Read, Write};
use std::process::ExitCode;
use tidewatch_engine::topics::{compile, load_topics};
use tidewatch_ingest::{read_rows, Format};
use tidewatch_text::rules::RuleInput;
use tidewatch_text::{prepare, PrepareOptions, Segmenter};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The topics file (TOML).
    #[arg(long)]
    topics: String,
    /// JSON Lines items; `-` or nothing reads standard input.
    input: Option<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let src = std::fs::read_to_string(&args.topics).with_context(|| format!("cannot read {}", args.topics))?;
    let (topics, diags) = load_topics(&src);
    for d in diags.iter().filter(|d| d.error) {
        eprintln!("{}: {d}", args.topics);
    }
    let (set, ids) = compile(&topics);
    let name = args.input.unwrap_or_else(|| "-".into());
    let reader: Box<dyn Read> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(&name).with_context(|| format!("cannot open {name}"))?)
    };
    let seg = Segmenter::shared_default();
    let now = Utc::now();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for row in read_rows(reader, Format::JsonLines) {
        let input = match row.result {
            Ok(i) => i,
            Err(e) => {
                eprintln!("{name} line {}: {e}", row.line);
                continue;
            }
        };
        let p = match prepare(&input, now, &seg, PrepareOptions { tokens: false }) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{name} line {}: {e}", row.line);
                continue;
            }
        };
        let item = &p.item;
        let matches = set.matches(&RuleInput {
            title: &item.title,
            text: &item.text,
            url: item.canonical_url.as_deref(),
            source: &item.source,
            lang: item.lang.as_str(),
        });
        let topics: Vec<serde_json::Value> = matches
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": ids[m.rule],
                    "spans": m.spans.iter().map(|s| serde_json::json!({"field": s.field, "start": s.start, "end": s.end})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let id = input.id.clone().unwrap_or_else(|| row.line.to_string());
        serde_json::to_writer(&mut out, &serde_json::json!({"id": id, "topics": topics}))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
