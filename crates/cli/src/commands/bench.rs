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
use tidewatch_engine::metrics::{Stage, METRICS};
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_ingest::Format;
use tidewatch_model::ItemInput;
use tidewatch_store::TopicDraft;
use tidewatch_text::dedup::{DedupConfig, Deduper, SimHashIndex};
use tidewatch_text::rules::RuleInput;
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
    /// Generated topic rules for the rule-matching benchmark (0 to skip).
    #[arg(long, default_value_t = 10_000)]
    rules: usize,
    /// Run only these parts (repeatable): `pipeline`, `rules`, `dedup`, `alerting`; `scale`
    /// (a million items served and queried, about ten minutes) runs only when named.
    #[arg(long, value_parser = ["pipeline", "rules", "dedup", "alerting", "scale"])]
    only: Vec<String>,
    /// Items of the scale benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    scale_items: usize,
    /// Seconds of load for the alerting latency benchmark.
    #[arg(long, default_value_t = 10)]
    alerting_seconds: u64,
}

pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Words of realistic rules: frequent words of the corpora (after the 100 most frequent), 2–4
/// characters of Chinese or 3+ letters of English.
fn vocabulary(texts: &[String], seg: &Segmenter) -> Vec<String> {
    let mut freq: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for t in texts {
        let f = tidewatch_text::normalize::fold(t);
        for w in seg.cut(&f) {
            let n = w.chars().count();
            let cjk = w.chars().all(tidewatch_text::normalize::is_han) && (2..=4).contains(&n);
            let latin = w.chars().all(|c| c.is_ascii_alphabetic()) && n >= 3;
            if cjk || latin {
                *freq.entry(w.to_string()).or_default() += 1;
            }
        }
    }
    let mut words: Vec<(String, usize)> = freq.into_iter().collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    words.into_iter().skip(100).take(6000).map(|(w, _)| w).collect()
}

/// A rule of realistic shape: 2–8 terms in groups of alternatives (`(食堂 OR 餐厅)`) joined by
/// AND, some excluded with NOT, a tenth made of two such clauses joined by OR; a fifth add a
/// NEAR, a tenth a field.
fn generate_rule(rng: &mut Rng, vocab: &[String], i: usize) -> String {
    let term = |rng: &mut Rng| vocab[rng.below(vocab.len())].clone();
    let n_terms = 2 + rng.below(7);
    let mut groups: Vec<String> = Vec::new();
    let mut left = n_terms;
    while left > 0 {
        let k = 1 + rng.below(left.min(3));
        let alts: Vec<String> = (0..k).map(|_| term(rng)).collect();
        groups.push(if k == 1 { alts[0].clone() } else { format!("({})", alts.join(" OR ")) });
        left -= k;
    }
    let clause = |rng: &mut Rng, groups: &[String]| {
        let mut c = groups[0].clone();
        for g in &groups[1..] {
            c = if rng.below(5) == 0 { format!("{c} NOT {g}") } else { format!("{c} AND {g}") };
        }
        c
    };
    let mut rule = if groups.len() >= 4 && rng.below(10) == 0 {
        let half = groups.len() / 2;
        format!("({}) OR ({})", clause(rng, &groups[..half]), clause(rng, &groups[half..]))
    } else {
        clause(rng, &groups)
    };
    if i.is_multiple_of(5) {
        rule = format!("({}) AND ({} NEAR/{} {})", rule, term(rng), rng.below(10), term(rng));
    }
    if i % 10 == 1 {
        rule = format!("title:({}) OR ({rule})", term(rng));
    }
    rule
}

/// `n` rules of realistic shape over `vocab` (deterministic).
fn generate_rules(vocab: &[String], n: usize) -> Vec<String> {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    (0..n).map(|i| generate_rule(&mut rng, vocab, i)).collect()
}

/// Each measured pass goes over `texts` as many times as it takes to reach `items` texts, so that
/// a small corpus (the demo's 2,112 texts take 3 ms) is not timed on a few milliseconds.
///
/// The product compiles rules with the rarity of their terms learned from its newest stored
/// items ([`tidewatch_text::rules::RuleSet::tuned`]): here from every second text (at most as
/// many as the pipeline takes), and every figure is measured on the others.
fn rules_bench(name: &str, texts: &[String], rules: &[&str], runs: usize, items: usize) {
    let cap = (texts.len() / 2).min(tidewatch_engine::pipeline::RARITY_SAMPLE);
    let learns = |i: usize| i.is_multiple_of(2) && i / 2 < cap;
    let learned_from: Vec<&str> =
        texts.iter().enumerate().filter(|&(i, _)| learns(i)).map(|(_, t)| t.as_str()).collect();
    let texts: Vec<&str> = texts.iter().enumerate().filter(|&(i, _)| !learns(i)).map(|(_, t)| t.as_str()).collect();
    let texts = texts.as_slice();
    let rounds = items.div_ceil(texts.len().max(1)).max(1);
    let passes = || std::iter::repeat_n(texts, rounds).flatten();
    let rate = |started: Instant| (rounds * texts.len()) as f64 / started.elapsed().as_secs_f64();
    let nodes: Vec<_> = rules.iter().filter_map(|r| tidewatch_text::rules::parse_rule(r).ok()).collect();
    let parsed = nodes.len();
    let sample: Vec<RuleInput<'_>> = learned_from.iter().map(|t| bench_input(t)).collect();
    let started = Instant::now();
    let set = tidewatch_text::rules::RuleSet::tuned(nodes.clone(), &sample);
    let compile_tuned = started.elapsed();
    let started = Instant::now();
    let estimated = tidewatch_text::rules::RuleSet::new(nodes);
    let compile_estimated = started.elapsed();
    let literals = set.literals();
    let bare = aho_corasick::AhoCorasick::new(&literals).expect("literals build");
    let mut engine_rates = Vec::new();
    let mut estimated_rates = Vec::new();
    let mut bare_rates = Vec::new();
    let mut recording_rates = Vec::new();
    let mut occurred = vec![false; literals.len()];
    let mut occurred_list: Vec<usize> = Vec::new();
    let mut span_rates = Vec::new();
    let mut hits = 0usize;
    for _ in 0..runs {
        let started = Instant::now();
        let mut found = 0usize;
        for t in passes() {
            let f = tidewatch_text::normalize::fold(t);
            found += bare.find_overlapping_iter(&f).count();
        }
        std::hint::black_box(found);
        bare_rates.push(rate(started));
        // The same scan keeping the set of terms that occurred: the least any matcher records.
        let started = Instant::now();
        let mut distinct = 0usize;
        for t in passes() {
            let f = tidewatch_text::normalize::fold(t);
            for m in bare.find_overlapping_iter(&f) {
                let seen = &mut occurred[m.pattern().as_usize()];
                if !*seen {
                    *seen = true;
                    occurred_list.push(m.pattern().as_usize());
                }
            }
            distinct += occurred_list.len();
            for i in occurred_list.drain(..) {
                occurred[i] = false;
            }
        }
        std::hint::black_box(distinct);
        recording_rates.push(rate(started));
        let started = Instant::now();
        hits = 0;
        for t in passes() {
            hits += set.matching(&bench_input(t)).len();
        }
        engine_rates.push(rate(started));
        hits /= rounds;
        let started = Instant::now();
        let mut estimated_hits = 0;
        for t in passes() {
            estimated_hits += estimated.matching(&bench_input(t)).len();
        }
        estimated_rates.push(rate(started));
        assert_eq!(estimated_hits / rounds, hits, "the rarity estimates change speed, never results");
        let started = Instant::now();
        let mut spans = 0;
        for t in passes() {
            spans += set.matches(&bench_input(t)).iter().map(|m| m.spans.len()).sum::<usize>();
        }
        std::hint::black_box(spans);
        span_rates.push(rate(started));
    }
    let (e, elo, ehi) = median(engine_rates);
    let (b, blo, bhi) = median(bare_rates);
    let (sp, splo, sphi) = median(span_rates);
    let (r, rlo, rhi) = median(recording_rates);
    let (es, eslo, eshi) = median(estimated_rates);
    println!(
        "
rule matching, {parsed} rules ({} literals), {name}, {} texts ({rounds} times per run; term rarity learned from {} others), 1 thread:",
        literals.len(),
        texts.len(),
        learned_from.len()
    );
    println!("  Tidewatch rule engine:                      {e:>9.0} items/s  ({elo:.0}–{ehi:.0}); {hits} topic hits");
    println!("  the same with rarity estimated from a general dictionary: {es:>6.0} items/s  ({eslo:.0}–{eshi:.0}); ratio to the bare scan {:.2}", es / b);
    println!("  the same, with the spans of every match:   {sp:>9.0} items/s  ({splo:.0}–{sphi:.0})");
    println!("  bare multi-pattern scan (fold + Aho–Corasick): {b:>6.0} items/s  ({blo:.0}–{bhi:.0})");
    println!("  engine / bare scan: {:.2}", e / b);
    println!("  the bare scan keeping the set of terms found: {r:>6.0} items/s  ({rlo:.0}–{rhi:.0})");
    println!("  engine / that scan: {:.2}", e / r);
    println!(
        "  compiling the rules: {:.0} ms, learning rarity from {} texts included ({:.0} ms with estimates)",
        compile_tuned.as_secs_f64() * 1e3,
        learned_from.len(),
        compile_estimated.as_secs_f64() * 1e3
    );
}

fn bench_input(text: &str) -> RuleInput<'_> {
    RuleInput { title: "", text, url: None, source: "bench", lang: "zh" }
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

/// Sentiment alone, one thread.
fn sentiment_rate(items: &[ItemInput]) -> f64 {
    let a = tidewatch_detect::sentiment::Analyzer::shared();
    let started = Instant::now();
    let mut pos = 0usize;
    for i in items {
        let lang = if i.lang.as_deref() == Some("en") { tidewatch_model::Lang::En } else { tidewatch_model::Lang::Zh };
        pos +=
            (a.analyze(lang, i.title.as_deref().unwrap_or(""), i.text.as_deref().unwrap_or("")).score > 0.0) as usize;
    }
    std::hint::black_box(pos);
    items.len() as f64 / started.elapsed().as_secs_f64()
}

/// Story terms and placement of prepared items, one thread: (terms items/s, placement items/s).
fn stories_rate(items: &[ItemInput], seg: &Segmenter) -> (f64, f64) {
    let now = Utc::now();
    let prepared: Vec<_> =
        items.iter().filter_map(|i| prepare(i, now, seg, PrepareOptions { tokens: true }).ok()).collect();
    let started = Instant::now();
    let terms: Vec<_> = prepared.iter().map(|p| tidewatch_engine::analyze::story_terms(p, seg)).collect();
    let terms_rate = prepared.len() as f64 / started.elapsed().as_secs_f64();
    let mut stories = tidewatch_detect::stories::Stories::new(Default::default(), 1);
    let started = Instant::now();
    for (p, t) in prepared.iter().zip(&terms) {
        stories.place(&tidewatch_detect::stories::StoryInput {
            published_at: p.item.published_at,
            dup_group: None,
            is_copy: false,
            terms: t,
            source: &p.item.source,
            sentiment: tidewatch_detect::sentiment::Polarity::Neutral,
            headline: &p.item.text,
        });
    }
    (terms_rate, prepared.len() as f64 / started.elapsed().as_secs_f64())
}

/// DESIGN.md §5: the full pipeline on a 2-core machine, items per second.
const BAR: f64 = 20_000.0;

/// Prints where an item's time went, per stage, in microseconds per input.
fn print_budget(per_item: &[(Stage, f64)]) {
    let mut line = String::from("    µs per item:");
    for (stage, us) in per_item {
        if *us >= 0.05 {
            let mark = if stage.is_thread_time() { "*" } else { "" };
            line.push_str(&format!(" {}{mark} {us:.1}", stage.name()));
        }
    }
    println!("{line}  (* thread time, on all cores; the rest wall time)");
}

/// `tidewatch import` of the items as a JSON Lines file, in process: parse, prepare, store, index.
fn import(jsonl: &[u8], n: usize, seg: &std::sync::Arc<Segmenter>, topics: &[TopicDraft]) -> anyhow::Result<f64> {
    let tmp = std::env::temp_dir().join(format!(
        "tidewatch-bench-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    let dir = DataDir::new(&tmp);
    if !topics.is_empty() {
        tidewatch_store::Db::open(dir.root())?.save_topics(topics, "bench", Utc::now())?;
    }
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
    let named = |name: &str| args.only.iter().any(|o| o == name);
    let part = |name: &str| args.only.is_empty() || named(name);
    // Generated rules (the same for the import and the rule-matching figures).
    let vocab = if args.rules > 0 && (part("rules") || part("pipeline") || named("scale")) {
        let all_texts: Vec<String> =
            corpora.iter().flat_map(|(_, items)| items.iter().filter_map(|i| i.text.clone())).collect();
        vocabulary(&all_texts, &seg)
    } else {
        Vec::new()
    };
    let topics: Vec<TopicDraft> = generate_rules(&vocab, if vocab.is_empty() { 0 } else { args.rules })
        .into_iter()
        .enumerate()
        .map(|(i, rule)| TopicDraft {
            id: format!("t{i}"),
            name: format!("t{i}"),
            rule,
            unit: None,
            severity: "medium".into(),
            enabled: true,
        })
        .collect();
    for (name, base) in &corpora {
        if !part("pipeline") {
            break;
        }
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
        let (m, lo, hi) = median((0..runs).map(|_| sentiment_rate(&items)).collect());
        println!(
            "  sentiment, 1 thread:                                               {m:>9.0} items/s  ({lo:.0}–{hi:.0})"
        );
        let rates: Vec<(f64, f64)> = (0..runs).map(|_| stories_rate(&items, &seg)).collect();
        let (m, lo, hi) = median(rates.iter().map(|r| r.0).collect());
        println!(
            "  story terms, 1 thread:                                             {m:>9.0} items/s  ({lo:.0}–{hi:.0})"
        );
        let (m, lo, hi) = median(rates.iter().map(|r| r.1).collect());
        println!(
            "  story placement, 1 thread:                                         {m:>9.0} items/s  ({lo:.0}–{hi:.0})"
        );
        let mut jsonl = Vec::new();
        for i in &items {
            serde_json::to_writer(&mut jsonl, i)?;
            jsonl.push(b'\n');
        }
        let before = METRICS.snapshot();
        let mut rates = Vec::new();
        for _ in 0..runs {
            rates.push(import(&jsonl, items.len(), &seg, &[]).context("import benchmark")?);
        }
        let (m, lo, hi) = median(rates);
        println!("  durable import, end to end (JSONL parse, pipeline, SQLite commits, index): {m:>7.0} items/s  ({lo:.0}–{hi:.0})  bar {BAR} ({:.0}%)", 100.0 * m / BAR);
        print_budget(&METRICS.snapshot().per_item_since(&before));
        if !topics.is_empty() {
            let before = METRICS.snapshot();
            let mut rates = Vec::new();
            for _ in 0..runs {
                rates.push(import(&jsonl, items.len(), &seg, &topics).context("import benchmark")?);
            }
            let (m, lo, hi) = median(rates);
            println!(
                "  the same with {} topics matched and their hits stored:              {m:>7.0} items/s  ({lo:.0}–{hi:.0})  bar {BAR} ({:.0}%)",
                topics.len(),
                100.0 * m / BAR
            );
            print_budget(&METRICS.snapshot().per_item_since(&before));
        }
    }
    if !topics.is_empty() && part("rules") {
        let rules: Vec<&str> = topics.iter().map(|t| t.rule.as_str()).collect();
        for (name, items) in &corpora {
            let texts: Vec<String> = items.iter().filter_map(|i| i.text.clone()).collect();
            rules_bench(name, &texts, &rules, runs, args.items);
        }
    }
    if named("scale") {
        let news: Vec<String> = corpora
            .iter()
            .filter(|(name, _)| name.starts_with("People"))
            .flat_map(|(_, items)| items.iter().filter_map(|i| i.text.clone()))
            .collect();
        super::bench_scale::run(args.scale_items, &news, &vocab, &topics, &seg)?;
    }
    if part("alerting") {
        super::bench_alerting::run(args.alerting_seconds, 2000, 50)?;
    }
    if !part("dedup") {
        return Ok(ExitCode::SUCCESS);
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
