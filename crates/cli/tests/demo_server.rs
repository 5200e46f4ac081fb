//! `tidewatch demo` serves the page and the API, items arrive live, searches in Chinese and
//! English return highlighted hits, and bad requests get coded errors.

mod common;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_demo(dir: &std::path::Path, speed: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidewatch"))
        .args(["demo", "--addr", "127.0.0.1:0", "--speed", speed, "--preload-days", "2", "--demo-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut base = None;
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        if let Some(url) = line.trim().strip_prefix("Tidewatch demo listening on ") {
            base = Some(url.to_string());
            break;
        }
        line.clear();
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = out.read_to_end(&mut sink);
    });
    Server { child, base: base.expect("the demo printed its address") }
}

fn get(url: &str) -> (u16, serde_json::Value) {
    let r = reqwest::blocking::get(url).unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

#[test]
fn demo_serves_live_items_and_search() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_demo(&dir.path().join("demo"), "20000");
    let base = &server.base;

    let page = reqwest::blocking::get(format!("{base}/")).unwrap().text().unwrap();
    assert!(page.contains("Tidewatch") && page.contains("/api/v1/stream"), "the page is served");

    // Items arrive live: the count grows.
    let (_, first) = get(&format!("{base}/api/v1/status"));
    let preloaded = first["items"].as_u64().unwrap();
    assert!(preloaded > 50, "{first}");
    let started = Instant::now();
    let mut now_items = preloaded;
    while now_items <= preloaded + 200 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(300));
        now_items = get(&format!("{base}/api/v1/status")).1["items"].as_u64().unwrap();
    }
    assert!(now_items > preloaded + 200, "items arrive live: {preloaded} → {now_items}");

    // Chinese and English searches with highlighted hits.
    for (q, mark) in [("食堂", "<b>食堂</b>"), ("canteen", "<b>canteen</b>"), ("澜江理工", "<b>澜江理工</b>")]
    {
        let (status, res) = get(&format!("{base}/api/v1/search?q={}", urlencode(q)));
        assert_eq!(status, 200);
        let hits = res["hits"].as_array().unwrap();
        assert!(!hits.is_empty(), "no hits for {q}");
        assert!(hits.iter().any(|h| h["snippet"].as_str().unwrap().to_lowercase().contains(mark)), "{q}: {res}");
    }
    // Duplicate groups with repost counts.
    let (_, groups) = get(&format!("{base}/api/v1/groups?limit=5"));
    let groups = groups.as_array().unwrap();
    assert!(!groups.is_empty() && groups[0]["repost_count"].as_u64().unwrap() >= 1, "{groups:?}");
    let gid = groups[0]["group_id"].as_i64().unwrap();
    let (status, detail) = get(&format!("{base}/api/v1/groups/{gid}"));
    assert_eq!(status, 200);
    assert_eq!(detail["members"].as_array().unwrap().len() as u64, detail["size"].as_u64().unwrap().min(200));

    // Bad requests: coded errors in both languages, nothing crashes.
    for (url, code) in [
        ("/api/v1/search?q=a&limit=0", "bad_parameter"),
        ("/api/v1/search?q=a&sort=sideways", "bad_parameter"),
        ("/api/v1/search?q=a&since=whenever", "bad_parameter"),
        ("/api/v1/search?q=a&bogus=1", "bad_parameter"),
        ("/api/v1/groups/abc", "bad_parameter"),
        ("/api/v1/groups/999999999", "not_found"),
    ] {
        let (status, body) = get(&format!("{base}{url}"));
        assert!(status == 400 || status == 404, "{url}: {status}");
        assert_eq!(body["error"]["code"], code, "{url}: {body}");
        assert!(!body["error"]["message_zh"].as_str().unwrap().is_empty());
    }
    let long = "字".repeat(600);
    let (status, body) = get(&format!("{base}/api/v1/search?q={}", urlencode(&long)));
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("query_too_long")));
    // A hostile query is just text.
    let (status, _) = get(&format!("{base}/api/v1/search?q={}", urlencode("\" OR 1=1; <script>alert(1)</script> -")));
    assert_eq!(status, 200);
}

#[test]
fn the_live_stream_delivers_new_items() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_demo(&dir.path().join("demo"), "3000");
    let resp = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
        .get(format!("{}/api/v1/stream", server.base))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut lines = BufReader::new(resp).lines();
    let mut got_event = false;
    while let Some(Ok(line)) = lines.next() {
        if line == "event: item" {
            got_event = true;
        }
        if got_event {
            if let Some(data) = line.strip_prefix("data: ") {
                let v: serde_json::Value = serde_json::from_str(data).unwrap();
                assert!(v["item_id"].as_i64().unwrap() > 0 && v.get("text").is_some(), "{v}");
                return;
            }
        }
    }
    panic!("no item arrived on the stream");
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
