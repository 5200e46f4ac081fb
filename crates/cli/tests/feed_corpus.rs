//! The real-world-shaped feed corpus (`crates/ingest/tests/fixtures/feeds/`, made by
//! `gen_feed_corpus.py` with an expectation per file) served by a local server with each file's
//! Content-Type, read with `tidewatch feed parse URL...`.

use crate::common;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ingest/tests/fixtures");

async fn file(State(types): State<Arc<HashMap<String, String>>>, Path(name): Path<String>) -> axum::response::Response {
    let Some(ct) = types.get(&name) else { return StatusCode::NOT_FOUND.into_response() };
    match std::fs::read(format!("{DIR}/feeds/{name}")) {
        Ok(body) => ([("content-type", ct.clone())], body).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_corpus_feed_reads_as_expected() {
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/feeds.json")).unwrap()).unwrap();
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let types: HashMap<String, String> = cases
        .iter()
        .map(|c| (c["file"].as_str().unwrap().to_string(), c["content_type"].as_str().unwrap().to_string()))
        .collect();
    let base = common::serve(axum::Router::new().route("/feeds/{name}", get(file)).with_state(Arc::new(types)));
    let urls: Vec<String> = cases.iter().map(|c| format!("{base}/feeds/{}", c["file"].as_str().unwrap())).collect();
    let mut args = vec!["feed", "parse", "--document", "--allow", "127.0.0.1"];
    args.extend(urls.iter().map(String::as_str));
    let tmp = tempfile::tempdir().unwrap();
    let o = common::run(tmp.path(), &args, None);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let docs = common::json_lines(&common::stdout(&o));
    assert_eq!(docs.len(), cases.len());
    let mut failures = Vec::new();
    for (case, doc) in cases.iter().zip(&docs) {
        let name = case["file"].as_str().unwrap();
        let entries = doc["entries"].as_array().unwrap();
        let mut fail = |what: String| failures.push(format!("{name}: {what}"));
        let want = case["entries"].as_u64().unwrap() as usize;
        if entries.len() != want {
            fail(format!("{} entries, expected {want}; problems {}", entries.len(), doc["problems"]));
            continue;
        }
        let field = |i: usize, k: &str| entries[i][k].clone();
        let text = |v: &Value| collapse(v.as_str().unwrap_or(""));
        if let Some(k) = case.get("kind") {
            if doc["kind"] != *k {
                fail(format!("kind {} , expected {k}", doc["kind"]));
            }
        }
        for (key, got_key) in [("titles", "title"), ("texts", "text"), ("authors", "author")] {
            for (i, w) in case.get(key).and_then(Value::as_array).into_iter().flatten().enumerate() {
                if text(&field(i, got_key)) != collapse(w.as_str().unwrap_or("")) {
                    fail(format!("{got_key} {} , expected {w}", field(i, got_key)));
                }
            }
        }
        for (key, got_key) in [("titles_contain", "title"), ("texts_contain", "text")] {
            for w in case.get(key).and_then(Value::as_array).into_iter().flatten() {
                if !text(&field(0, got_key)).contains(w.as_str().unwrap()) {
                    fail(format!("{got_key} {} does not contain {w}", field(0, got_key)));
                }
            }
        }
        for w in case.get("texts_exclude").and_then(Value::as_array).into_iter().flatten() {
            if text(&field(0, "text")).contains(w.as_str().unwrap()) {
                fail(format!("text {} contains {w}", field(0, "text")));
            }
        }
        if let Some(first) = case.get("titles_first") {
            if field(0, "title") != *first || field(want - 1, "title") != case["titles_last"] {
                fail(format!("first/last titles {} / {}", field(0, "title"), field(want - 1, "title")));
            }
        }
        for (key, got_key) in [("urls", "url"), ("published", "published_at"), ("updated", "updated_at")] {
            for (i, w) in case.get(key).and_then(Value::as_array).into_iter().flatten().enumerate() {
                let w = match w.as_str() {
                    Some(s) => Value::String(s.replace("{base}", &base)),
                    None => Value::Null,
                };
                if field(i, got_key) != w {
                    fail(format!("{got_key} {} , expected {w}", field(i, got_key)));
                }
            }
        }
        if case.get("problems") == Some(&Value::Bool(true)) && doc["problems"].as_array().unwrap().is_empty() {
            fail("expected problems to be reported".into());
        }
    }
    println!("feed corpus: {} files, {} failures", cases.len(), failures.len());
    assert!(failures.is_empty(), "{} of {} corpus feeds differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
