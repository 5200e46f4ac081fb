//! `tidewatch bench --only scale`: one data directory grown to a million realistic items with
//! the 10,000 generated topics, then served by a real `tidewatch serve` process and queried.
//!
//! Items are People's Daily sentences recombined (1–3 per item, twenty outlets) and demo-style
//! posts — as written, reposted with a `//@` chain, or with a remark added — spread over 180 days.
//! Printed: throughput per 100,000 items as the store grows, peak RSS while importing and while
//! serving, the data directory's size per item, search p50/p95/p99 over 200 fixed zh and en
//! queries, story and alert listing latency, and the server's startup time.

use super::bench::Rng;
use anyhow::Context;
use chrono::{Duration, Utc};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;
use tidewatch_engine::accounts::{self, Actor};
use tidewatch_engine::import::ImportReport;
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_ingest::Format;
use tidewatch_model::ItemInput;
use tidewatch_store::TopicDraft;
use tidewatch_text::Segmenter;
use tidewatch_workflow::access::{Grant, Grants, Role};

/// Items imported per reported step.
const STEP: usize = 100_000;
const OUTLETS: [&str; 20] = [
    "人民日报",
    "新华社",
    "光明日报",
    "经济日报",
    "中国青年报",
    "工人日报",
    "法制日报",
    "解放军报",
    "中国日报",
    "科技日报",
    "北京日报",
    "解放日报",
    "南方日报",
    "湖北日报",
    "四川日报",
    "浙江日报",
    "大众日报",
    "新华日报",
    "羊城晚报",
    "新民晚报",
];
const REMARKS: [&str; 8] =
    ["太离谱了", "有没有人管？", "转给大家看看", "同问", "+1", "真的假的", "Same here.", "This again?"];

/// The `i`-th generated item (deterministic in `i`).
fn item(i: usize, n: usize, news: &[String], posts: &[ItemInput], start: chrono::DateTime<Utc>) -> ItemInput {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    rng.next();
    let at = start + Duration::seconds((i as i64) * 180 * 86_400 / n as i64 + rng.below(1800) as i64);
    if rng.below(10) < 7 {
        let k = 1 + rng.below(3);
        let text: String = (0..k).map(|_| news[rng.below(news.len())].as_str()).collect();
        ItemInput {
            id: Some(format!("s{i}")),
            source: Some(OUTLETS[rng.below(OUTLETS.len())].into()),
            text: Some(text),
            published_at: Some(at),
            ..Default::default()
        }
    } else {
        let p = &posts[rng.below(posts.len())];
        let base = p.text.clone().unwrap_or_default();
        let text = match rng.below(4) {
            0 | 1 => base,
            2 => format!("{} //@用户{}: {base}", REMARKS[rng.below(REMARKS.len())], rng.below(100_000)),
            _ => format!("{base} {}", REMARKS[rng.below(REMARKS.len())]),
        };
        ItemInput {
            id: Some(format!("s{i}")),
            source: p.source.clone(),
            title: p.title.clone(),
            author: Some(format!("用户{}", rng.below(200_000))),
            lang: p.lang.clone(),
            text: Some(text),
            published_at: Some(at),
            ..Default::default()
        }
    }
}

/// Resident set now and at its peak, in MiB, of a process (`self` or a pid).
fn rss_mib(pid: &str) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn dir_size(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// 200 queries over the corpus's own words: terms, phrases, boolean, topic filter, date range,
/// newest first; zh and en. Deterministic.
fn queries(vocab: &[String], topics: &[TopicDraft], start: chrono::DateTime<Utc>) -> Vec<String> {
    let zh: Vec<&String> = vocab.iter().filter(|w| !w.is_ascii()).collect();
    let en: Vec<&String> = vocab.iter().filter(|w| w.is_ascii()).collect();
    let mut rng = Rng(0x51ca_1e00_d00d_beef);
    let word = |rng: &mut Rng, i: usize| -> String {
        let list = if i % 4 == 3 && !en.is_empty() { &en } else { &zh };
        list[rng.below(list.len())].to_string()
    };
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let mut out = Vec::with_capacity(200);
    for i in 0..200 {
        let (a, b) = (word(&mut rng, i), word(&mut rng, i));
        let q = match i % 8 {
            0 | 1 => format!("q={}", enc(&a)),
            2 => format!("q={}", enc(&format!("\"{a}{b}\""))),
            3 => format!("q={}", enc(&format!("{a} AND {b}"))),
            4 => format!("q={}", enc(&format!("{a} OR {b} -{}", word(&mut rng, i)))),
            5 => format!("q={}&topic={}", enc(&a), enc(&topics[rng.below(topics.len())].id)),
            6 => {
                let from = start + Duration::days(rng.below(150) as i64);
                format!(
                    "q={}&since={}&until={}",
                    enc(&a),
                    enc(&from.to_rfc3339()),
                    enc(&(from + Duration::days(7)).to_rfc3339())
                )
            }
            _ => format!("q={}&sort=newest", enc(&a)),
        };
        out.push(q);
    }
    out
}

/// Runs the scale benchmark with `n` items.
pub(crate) fn run(
    n: usize,
    news: &[String],
    vocab: &[String],
    topics: &[TopicDraft],
    seg: &std::sync::Arc<Segmenter>,
) -> anyhow::Result<()> {
    anyhow::ensure!(!news.is_empty(), "the scale benchmark needs the news corpus (--news)");
    // The demo's rows without any text (kept there to show a rejection) are left out.
    let posts: Vec<ItemInput> = super::demo::demo_items()
        .into_iter()
        .filter(|p| p.text.as_deref().is_some_and(|t| !t.trim().is_empty()))
        .collect();
    let root = std::env::temp_dir().join(format!("tidewatch-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = DataDir::new(&root);
    let start = Utc::now() - Duration::days(180);
    println!(
        "\nscale: {n} items (People's Daily sentences recombined, demo-style posts and reposts, over 180 days), {} topics",
        topics.len()
    );
    {
        let mut db = tidewatch_store::Db::open(dir.root())?;
        db.save_topics(topics, "bench", Utc::now())?;
    }
    let started = Instant::now();
    let mut p = Pipeline::open(&dir, seg.clone(), PipelineConfig::default())?;
    let mut report = ImportReport::default();
    let mut done = 0;
    while done < n {
        let end = (done + STEP).min(n);
        let mut jsonl = Vec::with_capacity((end - done) * 400);
        for i in done..end {
            serde_json::to_writer(&mut jsonl, &item(i, n, news, &posts, start))?;
            jsonl.push(b'\n');
        }
        let t = Instant::now();
        report.import_reader(&mut p, "scale", jsonl.as_slice(), Format::JsonLines, &mut |_| {})?;
        let rate = (end - done) as f64 / t.elapsed().as_secs_f64();
        let (rss, _) = rss_mib("self");
        println!("  items {:>9}–{end:<9} {rate:>7.0} items/s   RSS {rss:>6.0} MiB", done + 1);
        done = end;
    }
    p.flush()?;
    let import_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.imported + report.already_stored + report.rejected.len() as u64 == n as u64,
        "the scale import lost items: {report:?}"
    );
    if let Some(r) = report.rejected.first() {
        println!("  rejected, e.g. line {}: {}", r.line, r.reason);
    }
    let hits = tidewatch_engine::metrics::METRICS.topic_hits_stored.get();
    drop(p);
    let (_, peak_import) = rss_mib("self");
    let size = dir_size(dir.root());
    println!(
        "  imported {} items ({} already stored, {} rejected, {hits} topic hits) in {import_secs:.0} s: {:.0} items/s overall",
        report.imported,
        report.already_stored,
        report.rejected.len(),
        n as f64 / import_secs
    );
    println!(
        "  peak RSS while importing {peak_import:.0} MiB; data directory {:.0} MiB, {:.2} KiB per item",
        size as f64 / (1 << 20) as f64,
        size as f64 / 1024.0 / n as f64
    );
    // A reader's token, and the demo's alerting, so that the server routes the stored signals.
    let token = {
        let mut db = tidewatch_store::Db::open(dir.root())?;
        let by = Actor::local("bench");
        let g = Grants(vec![Grant { role: Role::Analyst, unit: None }]);
        let account =
            accounts::NewAccount { username: "bench", password: "scale-reader-9f3k2-x", grants: &g, person: None };
        accounts::create_account(&mut db, &by, None, account, Utc::now())?;
        let new = accounts::NewToken { username: "bench", name: "scale", grants: &g, expires_at: None };
        accounts::create_token(&mut db, &by, None, new, Utc::now())?.1
    };
    std::fs::write(dir.root().join("alerting.toml"), super::demo::demo_alerting(Utc::now()))?;
    let exe = std::env::current_exe()?;
    let t = Instant::now();
    let mut child = Command::new(exe)
        .arg("--data-dir")
        .arg(dir.root())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting tidewatch serve")?;
    let served = (|| -> anyhow::Result<()> {
        let stdout = child.stdout.take().context("the server's output")?;
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines.next().context("the server stopped before listening")??;
            if let Some(url) = line.strip_prefix("Tidewatch listening on ") {
                break url.trim().to_string();
            }
        };
        // Keep reading its output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let client = reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?;
        loop {
            if client.get(format!("{base}/api/v1/health")).send().is_ok_and(|r| r.status().is_success()) {
                break;
            }
            anyhow::ensure!(t.elapsed().as_secs() < 300, "the server did not answer within 5 minutes");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        println!("  server startup (process start to the first answer): {:.2} s", t.elapsed().as_secs_f64());
        let get = |path: &str| -> anyhow::Result<(f64, serde_json::Value)> {
            let t = Instant::now();
            let r = client.get(format!("{base}{path}")).bearer_auth(&token).send()?;
            anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
            let body = r.bytes()?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            Ok((ms, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null)))
        };
        let qs = queries(vocab, topics, start);
        // One pass to warm the page cache and the index readers, then the measured one.
        for q in &qs {
            get(&format!("/api/v1/search?{q}"))?;
        }
        let mut ms: Vec<f64> = Vec::with_capacity(qs.len());
        let mut answered = 0;
        for q in &qs {
            let (t, body) = get(&format!("/api/v1/search?{q}"))?;
            ms.push(t);
            answered += (body["total"].as_u64().unwrap_or(0) > 0) as usize;
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "  search, {} queries (terms, phrases, boolean, topic, date range, newest first; zh and en; {answered} with hits): p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms",
            ms.len(),
            percentile(&ms, 0.5),
            percentile(&ms, 0.95),
            percentile(&ms, 0.99)
        );
        for (what, path) in [
            ("stories by size", "/api/v1/stories?order=size"),
            ("stories, recent", "/api/v1/stories?order=recent"),
            ("alerts", "/api/v1/alerts"),
        ] {
            let mut ms = Vec::new();
            let mut listed = 0;
            for _ in 0..20 {
                let (t, body) = get(path)?;
                ms.push(t);
                listed = body.as_array().or_else(|| body["alerts"].as_array()).map_or(0, |a| a.len());
            }
            ms.sort_by(f64::total_cmp);
            println!(
                "  {what:<16} p50 {:.1} ms  p95 {:.1} ms (20 requests, {listed} listed)",
                percentile(&ms, 0.5),
                percentile(&ms, 0.95)
            );
        }
        let (rss, peak) = rss_mib(&child.id().to_string());
        println!("  server RSS {rss:.0} MiB, peak {peak:.0} MiB");
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&root);
    served
}
