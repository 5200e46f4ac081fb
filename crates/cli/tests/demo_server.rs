//! `tidewatch demo` serves the page and the API, items arrive live, searches in Chinese and
//! English return highlighted hits, and bad requests get coded errors.

use crate::common;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

fn start_demo(dir: &std::path::Path, speed: &str) -> common::Server {
    let args = ["demo", "--addr", "127.0.0.1:0", "--speed", speed, "--preload-days", "2", "--demo-dir"];
    let mut args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    args.push(dir.as_os_str());
    common::start_server(&args, "Tidewatch demo listening on ")
}

fn get(url: &str) -> (u16, serde_json::Value) {
    let r = common::http().get(url).send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

#[test]
fn demo_serves_live_items_and_search() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_demo(&dir.path().join("demo"), "20000");
    let base = &server.base;

    let page = common::http().get(format!("{base}/monitor")).send().unwrap().text().unwrap();
    assert!(page.contains("Tidewatch") && page.contains("/app.js") && page.contains("loginform"), "the page is served");
    // The workspace without a session: the sign-in page.
    let anonymous = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = anonymous.get(format!("{base}/")).send().unwrap();
    let to = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(r.status().as_u16() == 303 && to == "/login?next=%2F", "{} to {to:?}", r.status());
    let login = anonymous.get(format!("{base}{to}")).send().unwrap().text().unwrap();
    assert!(login.contains(r#"id="login""#) && login.contains("/ws.js"), "the sign-in page is served");
    let script = common::http().get(format!("{base}/app.js")).send().unwrap().text().unwrap();
    assert!(script.contains("/api/v1/stream") && script.contains("x-csrf-token"), "its script");
    // Without credentials the API answers nothing but 401.
    let anon = reqwest::blocking::get(format!("{base}/api/v1/search?q=食堂")).unwrap();
    assert_eq!(anon.status().as_u16(), 401);
    // Every demo account signs in.
    for name in ["duty", "analyst", "approver", "lead", "admin"] {
        common::login(base, name, &server.demo_password(name));
    }

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
    let resp = common::http().get(format!("{}/api/v1/stream", server.base)).send().unwrap();
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

fn send(method: reqwest::Method, url: &str, body: &str) -> (u16, serde_json::Value) {
    let r = common::http()
        .request(method, url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

#[test]
fn topics_over_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_demo(&dir.path().join("demo"), "1");
    let base = &server.base;
    let post = |path: &str, body: &str| send(reqwest::Method::POST, &format!("{base}{path}"), body);
    let put = |path: &str, body: &str| send(reqwest::Method::PUT, &format!("{base}{path}"), body);

    // The demo's topics are stored and its items carry their hits.
    let (_, topics) = get(&format!("{base}/api/v1/topics"));
    let ids: Vec<&str> = topics.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"food-safety") && ids.contains(&"rumour-closure"), "{topics}");
    let (status, res) = get(&format!("{base}/api/v1/search?q=&topic=heating-water&limit=50"));
    assert_eq!(status, 200, "{res}");
    let hits = res["hits"].as_array().unwrap();
    assert!(!hits.is_empty(), "{res}");
    for h in hits {
        assert!(h["topics"].as_array().unwrap().iter().any(|t| t == "heating-water"), "{h}");
    }

    // Checking a rule: the same positioned error, in both languages, as the command line.
    let (status, ok) = post("/api/v1/rules/check", r#"{"rule": "食堂 AND 腹泻"}"#);
    assert_eq!((status, ok["valid"].as_bool()), (200, Some(true)), "{ok}");
    let (status, bad) = post("/api/v1/rules/check", r#"{"rule": "食堂 AND (腹泻 OR"}"#);
    assert_eq!((status, bad["valid"].as_bool()), (200, Some(false)));
    assert_eq!(bad["errors"][0]["column"], 14, "{bad}");
    assert!(
        bad["errors"][0]["message_zh"].as_str().unwrap().contains("第")
            || !bad["errors"][0]["message_zh"].as_str().unwrap().is_empty()
    );
    let (_, warn) = post("/api/v1/rules/check", r#"{"rule": "食堂 OR 的"}"#);
    assert!(warn["warnings"][0]["message"].as_str().unwrap().contains("stop word"), "{warn}");

    // Saving: a bad rule is refused with its column; a good one is version 1, an edit version 2.
    let (status, err) = put("/api/v1/topics/library", r#"{"rule": "图书馆 AND (开放 OR"}"#);
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("invalid_rule")), "{err}");
    assert_eq!(err["error"]["rule_error"]["column"], 15, "{err}");
    let (status, saved) =
        put("/api/v1/topics/library", r#"{"rule": "图书馆 AND 开放", "unit": "图书馆", "severity": "low"}"#);
    assert_eq!(status, 200, "{saved}");
    assert_eq!((saved["topic"]["version"].as_i64(), saved["changed"].as_bool()), (Some(1), Some(true)));
    let (_, same) =
        put("/api/v1/topics/library", r#"{"rule": "图书馆 AND 开放", "unit": "图书馆", "severity": "low"}"#);
    assert_eq!((same["topic"]["version"].as_i64(), same["changed"].as_bool()), (Some(1), Some(false)));
    let (_, edited) =
        put("/api/v1/topics/library", r#"{"rule": "图书馆 AND (开放 OR 延长)", "unit": "图书馆", "severity": "low"}"#);
    assert_eq!(edited["topic"]["version"].as_i64(), Some(2), "{edited}");
    let (_, detail) = get(&format!("{base}/api/v1/topics/library"));
    let versions = detail["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{detail}");
    assert_eq!(versions[0]["rule"], "图书馆 AND 开放");
    assert_eq!(versions[1]["changed_by"], "admin", "the signed-in account saved it");

    // Hostile and malformed bodies and parameters: coded errors.
    for (status_want, code, resp) in [
        (400, "bad_body", put("/api/v1/topics/x", "not json")),
        (400, "bad_body", put("/api/v1/topics/x", r#"{"rule": "a", "colour": "red"}"#)),
        (400, "bad_body", put("/api/v1/topics/x", r#"{"rule": "a", "severity": "apocalyptic"}"#)),
        (400, "bad_body", post("/api/v1/rules/check", &format!(r#"{{"rule": "{}"}}"#, "a ".repeat(6000)))),
        (400, "bad_parameter", put("/api/v1/topics/bad%20id%3B", r#"{"rule": "a"}"#)),
        (400, "invalid_rule", post("/api/v1/topics/backtest", r#"{"rule": "NOT a"}"#)),
        (400, "bad_parameter", post("/api/v1/topics/backtest", r#"{"rule": "a", "days": 0}"#)),
    ] {
        assert_eq!((resp.0, resp.1["error"]["code"].as_str()), (status_want, Some(code)), "{}", resp.1);
    }
    let (status, body) = get(&format!("{base}/api/v1/topics/nosuch/counts"));
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, body) = get(&format!("{base}/api/v1/topics/food-safety/counts?days=9999"));
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_parameter")));

    // Per-day counts: one entry per day, the food-safety hits among them.
    let (status, counts) = get(&format!("{base}/api/v1/topics/rumour-closure/counts?days=30&until=2026-10-26"));
    assert_eq!(status, 200, "{counts}");
    let counts = counts.as_array().unwrap();
    assert_eq!(counts.len(), 30);

    // Backtest of a draft: per-day hits over stored items, and samples with spans.
    let (status, bt) = post(
        "/api/v1/topics/backtest",
        r#"{"rule": "热水 OR \"hot water\"", "days": 30, "until": "2026-10-26", "samples": 3}"#,
    );
    assert_eq!(status, 200, "{bt}");
    let per_day: u64 = bt["days"].as_array().unwrap().iter().map(|d| d["count"].as_u64().unwrap()).sum();
    assert!(per_day > 0 && per_day == bt["hits"].as_u64().unwrap(), "{bt}");
    let samples = bt["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 3);
    for s in samples {
        let span = &s["spans"][0];
        let field = s[span["field"].as_str().unwrap()].as_str().unwrap();
        let (a, b) = (span["start"].as_u64().unwrap() as usize, span["end"].as_u64().unwrap() as usize);
        let marked: String = field.chars().skip(a).take(b - a).collect();
        assert!(marked == "热水" || marked.eq_ignore_ascii_case("hot water"), "{marked:?} in {s}");
    }
}

#[test]
fn stories_and_bursts_over_the_api() {
    let dir = tempfile::tempdir().unwrap();
    // The whole three weeks replayed quickly: the canteen incident and the rumour are in it.
    let server = start_demo(&dir.path().join("demo"), "2000000");
    let base = &server.base;
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&format!("{base}/api/v1/status")).1["items"].as_u64().unwrap() < 2112 {
        assert!(Instant::now() < deadline, "the demo replay did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }

    let (status, stories) = get(&format!("{base}/api/v1/stories?order=size&limit=50"));
    assert_eq!(status, 200, "{stories}");
    let stories = stories.as_array().unwrap();
    assert!(stories.len() >= 20, "{}", stories.len());
    let sizes: Vec<u64> = stories.iter().map(|s| s["items"].as_u64().unwrap()).collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "largest first: {sizes:?}");
    for s in stories {
        let mix = &s["sentiment"];
        let total =
            mix["negative"].as_u64().unwrap() + mix["neutral"].as_u64().unwrap() + mix["positive"].as_u64().unwrap();
        assert_eq!(total, s["items"].as_u64().unwrap(), "every item has a polarity: {s}");
        let volume: u64 = s["volume"].as_array().unwrap().iter().map(|v| v[1].as_u64().unwrap()).sum();
        assert!(volume >= 1 && volume <= s["items"].as_u64().unwrap(), "{s}");
        assert!(!s["title"].as_str().unwrap().is_empty() && !s["keywords"].as_array().unwrap().is_empty());
    }
    // The canteen incident's students' posts form a story, from more than one source, mostly
    // negative. (The media reports and the official notices are stories of their own: their
    // words differ too much from the posts'.)
    let canteen = stories
        .iter()
        .find(|s| {
            let t = s["title"].as_str().unwrap();
            t.contains("第三食堂") && (t.contains("呕吐") || t.contains("不适") || t.contains("腹泻"))
        })
        .unwrap_or_else(|| panic!("no canteen incident story among {stories:?}"));
    assert!(canteen["items"].as_u64().unwrap() >= 30, "{canteen}");
    assert!(canteen["source_count"].as_u64().unwrap() >= 2, "{canteen}");
    assert!(canteen["sentiment"]["negative"].as_u64() > canteen["sentiment"]["positive"].as_u64(), "{canteen}");
    let id = canteen["id"].as_i64().unwrap();
    let (status, detail) = get(&format!("{base}/api/v1/stories/{id}"));
    assert_eq!(status, 200);
    assert_eq!(detail["story"]["id"], id);
    assert!(!detail["items"].as_array().unwrap().is_empty());

    // Bursts carry their explanation; the food-safety topic burst is among them.
    let (status, bursts) = get(&format!("{base}/api/v1/bursts?limit=50"));
    assert_eq!(status, 200);
    let bursts = bursts.as_array().unwrap();
    assert!(bursts.iter().any(|b| b["topic"] == "food-safety"), "{bursts:?}");
    for b in bursts {
        let x = &b["explanation"];
        assert!(x["observed"].as_f64().unwrap() > x["expected"].as_f64().unwrap(), "{b}");
        assert!(x["score"].as_f64().unwrap() > 0.0 && x["window_start"].is_string() && x["window_end"].is_string());
        assert!(
            !x["top_sources"].as_array().unwrap().is_empty() && !x["samples"].as_array().unwrap().is_empty(),
            "{b}"
        );
    }
    // Other signals: high-severity topic hits.
    let (_, signals) = get(&format!("{base}/api/v1/signals?limit=200"));
    assert!(signals.as_array().unwrap().iter().any(|s| s["kind"] == "topic_hit" && s["topic"] == "rumour-closure"));

    for (path, code) in [
        ("/api/v1/stories?limit=0", "bad_parameter"),
        ("/api/v1/stories?order=sideways", "bad_parameter"),
        ("/api/v1/stories?limit=abc", "bad_parameter"),
        ("/api/v1/stories/abc", "bad_parameter"),
        ("/api/v1/stories/99999999", "not_found"),
        ("/api/v1/stories/-1", "not_found"),
        ("/api/v1/bursts?limit=100000", "bad_parameter"),
    ] {
        let (status, body) = get(&format!("{base}{path}"));
        assert!(status == 400 || status == 404, "{path}: {status}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
}
