//! `tidewatch bench`: throughput of the text pipeline (per core) and of durable import, on the
//! bundled demo data and on real news text; lookup time of the near-duplicate index at scale.
//!
//! Each figure is the median of several runs, printed with the spread, so that runs on a noisy
//! machine can be compared side by side.

use anyhow::Context;
use chrono::Utc;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use tidewatch_engine::import::ImportReport;
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_ingest::Format;
use tidewatch_model::ItemInput;
use tidewatch_text::dedup::{DedupConfig, Deduper, SimHashIndex};
use tidewatch_text::{prepare, PrepareOptions, Segmenter};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Real news text, one item per line (People's Daily 1998 from the evaluation corpora).
    #[arg(long, default_value = "../shared/eval/zh-news-pd1998/sentences.txt")]
    news: PathBuf,
    /// Items per run.
    #[arg(long, default_value_t = 20_000)]
    items: usize,
    /// Runs per figure (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Fingerprints in the near-duplicate index for the lookup benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    index_size: usize,
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn corpus_to(items: &[ItemInput], n: usize) -> Vec<ItemInput> {
    (0..n)
        .map(|i| {
            let mut it = items[i % items.len()].clone();
            let round = i / items.len();
            if round > 0 {
                it.id = Some(format!("{}#{round}", it.id.clone().unwrap_or_else(|| (i % items.len()).to_string())));
            }
            it
        })
        .collect()
}

fn text_pipeline(items: &[ItemInput], seg: &Segmenter) -> f64 {
    let now = Utc::now();
    let started = Instant::now();
    let mut dedup = Deduper::new(DedupConfig::default());
    for (n, i) in items.iter().enumerate() {
        if let Ok(p) = prepare(i, now, seg, PrepareOptions { tokens: true }) {
            let url = p.item.canonical_url.as_deref();
            let g = dedup.find(&p.fingerprint, url).map(|(g, _)| g).unwrap_or(n as u64);
            dedup.insert(&p.fingerprint, url, g);
        }
    }
    items.len() as f64 / started.elapsed().as_secs_f64()
}

/// `tidewatch import` of the items as a JSON Lines file, in process: parse, prepare, store, index.
fn import(jsonl: &[u8], n: usize, seg: &std::sync::Arc<Segmenter>) -> anyhow::Result<f64> {
    let tmp = std::env::temp_dir().join(format!(
        "tidewatch-bench-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    let dir = DataDir::new(&tmp);
    let started = Instant::now();
    {
        let mut p = Pipeline::open(&dir, seg.clone(), PipelineConfig::default())?;
        let mut report = ImportReport::default();
        report.import_reader(&mut p, "bench", jsonl, Format::JsonLines, &mut |_| {})?;
        p.flush()?;
        anyhow::ensure!(
            report.imported + report.already_stored + report.rejected.len() as u64 == n as u64,
            "bench import lost items: {report:?}"
        );
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(rate)
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let seg = Segmenter::shared_default();
    let runs = args.runs.max(1);
    let mut corpora: Vec<(&str, Vec<ItemInput>)> = vec![("demo data", super::demo::demo_items())];
    match std::fs::read_to_string(&args.news) {
        Ok(text) => {
            let news: Vec<ItemInput> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .enumerate()
                .map(|(n, l)| ItemInput {
                    id: Some(format!("pd{n}")),
                    source: Some("pd1998".into()),
                    text: Some(l.to_string()),
                    ..Default::default()
                })
                .collect();
            corpora.push(("People's Daily 1998", news));
        }
        Err(e) => eprintln!("skipping the news corpus: {}: {e}", args.news.display()),
    }
    println!(
        "tidewatch bench: {} items per run, median of {runs} runs (min–max); {} cores",
        args.items,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    for (name, base) in &corpora {
        let items = corpus_to(base, args.items);
        let chars: usize = items
            .iter()
            .map(|i| i.text.as_deref().unwrap_or("").chars().count() + i.title.as_deref().unwrap_or("").chars().count())
            .sum();
        println!(
            "\n{name}: {} distinct items, mean {:.0} characters per item",
            base.len(),
            chars as f64 / items.len() as f64
        );
        let (m, lo, hi) = median((0..runs).map(|_| text_pipeline(&items, &seg)).collect());
        println!(
            "  text pipeline, 1 thread (normalize, segment, fingerprint, dedup): {m:>9.0} items/s  ({lo:.0}–{hi:.0})"
        );
        let mut jsonl = Vec::new();
        for i in &items {
            serde_json::to_writer(&mut jsonl, i)?;
            jsonl.push(b'\n');
        }
        let mut rates = Vec::new();
        for _ in 0..runs {
            rates.push(import(&jsonl, items.len(), &seg).context("import benchmark")?);
        }
        let (m, lo, hi) = median(rates);
        println!("  durable import, end to end (JSONL parse, pipeline, SQLite commits, index): {m:>7.0} items/s  ({lo:.0}–{hi:.0})");
    }
    // Near-duplicate index lookups at scale.
    let mut idx = SimHashIndex::new(tidewatch_text::dedup::DEFAULT_MAX_DISTANCE);
    let mut s = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for i in 0..args.index_size {
        idx.insert(next(), i as u64);
    }
    let queries: Vec<u64> = (0..100_000).map(|_| next()).collect();
    let mut per = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let mut found = 0u64;
        for q in &queries {
            if idx.nearest(*q).is_some() {
                found += 1;
            }
        }
        std::hint::black_box(found);
        per.push(started.elapsed().as_secs_f64() * 1e9 / queries.len() as f64);
    }
    let (m, lo, hi) = median(per);
    println!(
        "\nnear-duplicate index, {} fingerprints, k={}: {m:.0} ns per lookup ({lo:.0}–{hi:.0})",
        args.index_size,
        idx.max_distance()
    );
    Ok(ExitCode::SUCCESS)
}
