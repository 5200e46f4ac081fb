//! `tidewatch bench --only alerting`: items pushed at 2,000 items/s into a running
//! `tidewatch serve` (its webhook intake); a share of them hit a critical topic, each about a new
//! event; the latency from posting an item to its alert's notification arriving at a local
//! webhook receiver is measured per notification (p50, p99, max). The receiver's arrival is later
//! than the hand-off to the channel, so the figures are upper bounds.

use anyhow::Context;
use chrono::Utc;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tidewatch_store::{Db, TopicDraft};

const TOKEN: &str = "bench-token-0123456789abcdef";

/// What the receiver got: (arrival, body) per request.
type Log = Arc<Mutex<Vec<(Instant, String)>>>;

/// A local receiver on 127.0.0.1.
fn receiver() -> anyhow::Result<(String, Log)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let got: Log = Arc::default();
    let seen = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok(clone) = stream.try_clone() else { continue };
            let mut reader = BufReader::new(clone);
            let mut len = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                let l = line.trim_end().to_ascii_lowercase();
                if l.is_empty() {
                    break;
                }
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0u8; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            seen.lock().map(|mut g| g.push((Instant::now(), String::from_utf8_lossy(&body).into_owned()))).ok();
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
        }
    });
    Ok((base, got))
}

/// `k` two-character words made of common characters, different for every `n`.
fn made_up_words(n: u64, k: usize) -> String {
    const CHARS: &[char] = &[
        '山', '河', '林', '石', '田', '风', '云', '雨', '雪', '桥', '塔', '港', '湾', '岛', '峰', '谷', '泉', '湖',
        '溪', '原', '城', '村', '街', '巷', '园', '馆', '楼', '阁', '亭', '台', '灯', '钟', '鼓', '琴', '棋', '书',
        '画', '茶', '酒', '米', '麦', '豆', '瓜', '果', '花', '草', '竹', '松', '梅', '兰', '菊', '莲',
    ];
    let mut x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = String::new();
    for _ in 0..k {
        for _ in 0..2 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.push(CHARS[(x % CHARS.len() as u64) as usize]);
        }
        out.push('，');
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs the benchmark: `seconds` of load at `rate` items/s, one item in `every` hitting the topic.
pub(crate) fn run(seconds: u64, rate: u64, every: u64) -> anyhow::Result<()> {
    let tmp = std::env::temp_dir().join(format!(
        "tidewatch-bench-alerting-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&tmp)?;
    let (hooks, got) = receiver()?;
    let today = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive() - chrono::Duration::days(1);
    std::fs::write(
        tmp.join("alerting.toml"),
        format!(
            r#"[timing]
group_wait_seconds = 0
group_interval_seconds = 300
repeat_interval_seconds = 14400
[[person]]
id = "officer"
channels = [{{ kind = "webhook", url = "{hooks}/officer" }}]
[[unit]]
id = "bench"
[[unit.schedule.layers]]
name = "all"
zone = "Asia/Shanghai"
members = ["officer"]
start = "{today}"
handoff = "00:00:00"
period = {{ every = "day" }}
cover = {{ cover = "full_day" }}
[[policy]]
name = "p"
[[policy.steps]]
targets = [{{ type = "on_duty", value = "bench" }}]
delay_minutes = 60
[route]
policy = "p"
"#
        ),
    )?;
    let sources = tmp.join("sources.toml");
    std::fs::write(
        &sources,
        format!("[[source]]\nid = \"push\"\nkind = \"webhook\"\ntoken = \"{TOKEN}\"\nmax_bytes = 4194304\n"),
    )?;
    {
        let mut db = Db::open(&tmp)?;
        let topic = TopicDraft {
            id: "incident".into(),
            name: "incident".into(),
            rule: "紧急事件".into(),
            unit: Some("bench".into()),
            severity: "critical".into(),
            enabled: true,
        };
        db.save_topic(&topic, "bench", Utc::now())?;
    }
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", "--addr", "127.0.0.1:0", "--sources"])
        .arg(&sources)
        .arg("--data-dir")
        .arg(&tmp)
        .env_remove("TIDEWATCH_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(if std::env::var("TIDEWATCH_BENCH_DEBUG").is_ok() { Stdio::inherit() } else { Stdio::null() })
        .spawn()
        .context("cannot start tidewatch serve")?;
    let mut out = BufReader::new(child.stdout.take().context("stdout")?);
    let mut base = None;
    let mut line = String::new();
    while out.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(u) = line.trim().strip_prefix("Tidewatch listening on ") {
            base = Some(u.to_string());
            break;
        }
        line.clear();
    }
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = out.read_to_end(&mut sink);
    });
    let result = (|| -> anyhow::Result<()> {
        let base = base.context("the server did not start")?;
        let client = reqwest::blocking::Client::new();
        let batch_every = Duration::from_millis(50);
        let per_batch = (rate as f64 * batch_every.as_secs_f64()).round() as u64;
        let mut posted: HashMap<String, Instant> = HashMap::new();
        let started = Instant::now();
        let mut n = 0u64;
        let mut sent = 0u64;
        let mut next = Instant::now();
        while started.elapsed() < Duration::from_secs(seconds) {
            let mut lines = String::new();
            let mut tokens = Vec::new();
            for _ in 0..per_batch {
                n += 1;
                let text = if n.is_multiple_of(every) {
                    let tag = format!("T{n:08}");
                    tokens.push(tag.clone());
                    // A new event each time: words of its own, so that each is a story (and an
                    // alert) of its own.
                    format!("[{tag}] 紧急事件：{}", made_up_words(n, 10))
                } else {
                    format!("第{n}条普通消息：今天校园里{}的银杏很好看，编号{}", n % 31, n * 7919 % 100_003)
                };
                lines.push_str(&serde_json::json!({"id": format!("b{n}"), "text": text}).to_string());
                lines.push('\n');
            }
            let at = Instant::now();
            for t in tokens {
                posted.insert(t, at);
            }
            let r = client
                .post(format!("{base}/api/v1/ingest"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/x-ndjson")
                .body(lines)
                .send()?;
            anyhow::ensure!(r.status().is_success(), "ingest answered {}", r.status());
            sent += per_batch;
            next += batch_every;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_secs(3));
        let log = got.lock().map(|g| g.clone()).unwrap_or_default();
        let mut latencies: Vec<f64> = log
            .iter()
            .filter_map(|(arrived, body)| {
                let at = body.find("[T")?;
                let tag = body.get(at + 1..at + 10)?;
                posted.get(tag).map(|p| arrived.duration_since(*p).as_secs_f64() * 1000.0)
            })
            .collect();
        latencies.sort_by(|a, b| a.total_cmp(b));
        println!(
            "\nalerting latency: {sent} items posted in {elapsed:.1} s ({:.0} items/s), {} hit a critical topic, {} notifications",
            sent as f64 / elapsed,
            posted.len(),
            latencies.len()
        );
        println!(
            "  item posted → notification at the webhook receiver: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.last().copied().unwrap_or(f64::NAN)
        );
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    if std::env::var("TIDEWATCH_BENCH_DEBUG").is_ok() {
        eprintln!("kept {}", tmp.display());
    } else {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}
