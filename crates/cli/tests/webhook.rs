//! Webhook intake, `POST /api/v1/ingest`, on `tidewatch serve --sources`: a bad token or signature
//! is refused (401), an oversized body gets 413, a body with some bad items stores the good ones
//! and reports the bad ones by position, and a repeated body stores nothing twice.

use crate::common;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn serve(data: &std::path::Path, sources: &std::path::Path) -> common::Server {
    common::admin_token(data);
    let args = [
        "--data-dir".as_ref(),
        data.as_os_str(),
        "serve".as_ref(),
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--sources".as_ref(),
        sources.as_os_str(),
    ];
    common::start_server(&args, "Tidewatch listening on ")
}

const TOKEN: &str = "hook-token-0123456789";
const SECRET: &str = "shared-secret";

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn post(base: &str, token: Option<&str>, signature: Option<String>, body: &[u8]) -> (u16, serde_json::Value) {
    let mut req = reqwest::blocking::Client::new().post(format!("{base}/api/v1/ingest")).body(body.to_vec());
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(s) = signature {
        req = req.header("x-tidewatch-signature", s);
    }
    let r = req.send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

#[test]
fn webhook_intake() {
    let tmp = tempfile::tempdir().unwrap();
    let sources = tmp.path().join("sources.toml");
    std::fs::write(
        &sources,
        format!(
            "[[source]]\nid = \"press-office\"\nkind = \"webhook\"\ntoken = \"{TOKEN}\"\nhmac_secret = \"{SECRET}\"\nmax_bytes = 65536\n\n\
             [[source]]\nid = \"weak\"\nkind = \"webhook\"\ntoken = \"short\"\n"
        ),
    )
    .unwrap();
    let server = serve(&tmp.path().join("data"), &sources);
    let base = &server.base;
    let good = r#"[{"id": "a1", "text": "学校回应食堂问题"}, {"id": "a2"}, {"id": "a3", "title": "Statement", "text": "The canteen reopens"}, "not an item", {"id": "a4", "text": "x", "published_at": "whenever"}]"#.as_bytes();

    // Refused: no token, an unknown token, a missing or wrong signature.
    for (token, sig) in [
        (None, Some(sign(good))),
        (Some("nope-nope-nope-nope"), Some(sign(good))),
        (Some(TOKEN), None),
        (Some(TOKEN), Some(sign(b"other body"))),
    ] {
        let (status, body) = post(base, token, sig, good);
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{body}");
    }
    // A source with a token too short was not loaded.
    assert_eq!(post(base, Some("short"), None, good).0, 401);

    // Too large for the source: 413 with a clear message.
    let big = format!("[{{\"id\": \"big\", \"text\": \"{}\"}}]", "字".repeat(30_000));
    let (status, body) = post(base, Some(TOKEN), Some(sign(big.as_bytes())), big.as_bytes());
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("too_large")), "{body}");
    assert!(body["error"]["detail"].as_str().unwrap().contains("at most 65536"));

    // Good items stored, bad ones reported by position.
    let (status, body) = post(base, Some(TOKEN), Some(sign(good)), good);
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["stored"].as_u64(), body["rejected"].as_u64()), (Some(3), Some(2)), "{body}");
    assert_eq!(body["positions"], "index");
    let items = body["items"].as_array().unwrap();
    let status_at = |i: usize| items[i]["status"].as_str().unwrap();
    assert_eq!(
        (status_at(0), status_at(1), status_at(2), status_at(3), status_at(4)),
        ("stored", "rejected", "stored", "rejected", "stored")
    );
    assert!(items[1]["error"].as_str().unwrap().contains("text"), "{}", items[1]);
    assert!(items[3]["error"].as_str().unwrap().contains("object"), "{}", items[3]);
    assert!(items[4]["warnings"][0].as_str().unwrap().contains("date"), "stored, with a warning: {}", items[4]);

    // The same body again: idempotent on id.
    let (_, again) = post(base, Some(TOKEN), Some(sign(good)), good);
    assert_eq!((again["stored"].as_u64(), again["already_stored"].as_u64()), (Some(0), Some(3)), "{again}");

    // JSON Lines, with a broken line reported by its line number.
    let lines = "{\"id\": \"l1\", \"text\": \"第一行\"}\n{broken\n\n{\"id\": \"l4\", \"text\": \"第四行\"}\n";
    let (status, body) = post(base, Some(TOKEN), Some(sign(lines.as_bytes())), lines.as_bytes());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["positions"], "line");
    let items = body["items"].as_array().unwrap();
    let got: Vec<(u64, &str)> =
        items.iter().map(|i| (i["position"].as_u64().unwrap(), i["status"].as_str().unwrap())).collect();
    assert_eq!(got, vec![(1, "stored"), (2, "rejected"), (4, "stored")]);

    // Not JSON at all: a coded 400, nothing stored.
    let junk = b"\x00\x01 not json";
    let (status, body) = post(base, Some(TOKEN), Some(sign(junk)), junk);
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_body")), "{body}");

    // Its health lists the items it brought.
    let health: serde_json::Value =
        common::http().get(format!("{base}/api/v1/sources")).send().unwrap().json().unwrap();
    let press = health.as_array().unwrap().iter().find(|h| h["source"] == "press-office").unwrap();
    assert_eq!(press["state"]["items_total"], 5, "{press}");

    // The items are searchable and carry the webhook's source.
    // The index is committed on the server's one-second timer: wait for it.
    let search = || -> serde_json::Value {
        common::http().get(format!("{base}/api/v1/search?q=食堂")).send().unwrap().json().unwrap()
    };
    let started = std::time::Instant::now();
    let mut r = search();
    while r["total"] == 0 && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        r = search();
    }
    assert_eq!(r["hits"][0]["source"], "press-office", "{r}");

    // Sources through the API: added, used at once, refused when invalid or defined in the file,
    // removed.
    let client = common::http();
    let put = |id: &str, body: &str| {
        let r = client
            .put(format!("{base}/api/v1/sources/{id}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<serde_json::Value>().unwrap_or_default())
    };
    let (status, body) = put("newsroom", r#"{"kind": "webhook", "token": "newsroom-token-0123456789"}"#);
    assert_eq!(status, 200, "{body}");
    let one = r#"{"id": "n1", "text": "来自新闻中心"}"#.as_bytes();
    assert_eq!(post(base, Some("newsroom-token-0123456789"), None, one).1["stored"], 1);
    assert_eq!(put("press-office", r#"{"kind": "webhook", "token": "another-token-0123456789"}"#).0, 409);
    let (status, body) = put("broken", r#"{"kind": "feed", "url": "ftp://x"}"#);
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_body")), "{body}");
    assert!(body["error"]["detail"].as_str().unwrap().contains("http"), "{body}");
    let (status, _) = put("typo", r#"{"kind": "webhook", "tokn": "x"}"#);
    assert_eq!(status, 400);
    let del = |id: &str| client.delete(format!("{base}/api/v1/sources/{id}")).send().unwrap().status().as_u16();
    assert_eq!(del("newsroom"), 200);
    assert_eq!(post(base, Some("newsroom-token-0123456789"), None, one).0, 401);
    assert_eq!(del("newsroom"), 404);
    assert_eq!(del("press-office"), 409);
}

/// Sends raw bytes to the server and returns the status line of the answer.
fn raw(base: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string()
}

#[test]
fn webhook_regressions() {
    let tmp = tempfile::tempdir().unwrap();
    let sources = tmp.path().join("sources.toml");
    std::fs::write(
        &sources,
        format!("[[source]]\nid = \"press-office\"\nkind = \"webhook\"\ntoken = \"{TOKEN}\"\nmax_bytes = 65536\n"),
    )
    .unwrap();
    let server = serve(&tmp.path().join("data"), &sources);
    let base = &server.base;
    let host = base.trim_start_matches("http://");

    // The token followed by 256 more bytes is not the token (the length difference was cut to
    // a u8 in the comparison).
    let longer = format!("{TOKEN}{}", "x".repeat(256));
    let (status, body) = post(base, Some(&longer), None, br#"{"id": "t1", "text": "x"}"#);
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{body}");
    let (status, _) = post(base, Some(&TOKEN[..TOKEN.len() - 1]), None, br#"{"id": "t1", "text": "x"}"#);
    assert_eq!(status, 401, "a prefix of the token");

    // Token and declared size are checked before the body is read: these answer at once,
    // although the 100 MB they announce never come.
    let line = raw(base, &format!("POST /api/v1/ingest HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer wrong-token-wrong\r\nContent-Length: 100000000\r\n\r\n"));
    assert!(line.contains(" 401 "), "{line}");
    let line = raw(base, &format!("POST /api/v1/ingest HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100000000\r\n\r\n"));
    assert!(line.contains(" 413 "), "{line}");

    // A byte-order mark is ignored, as by import.
    let (status, body) =
        post(base, Some(TOKEN), None, "\u{feff}{\"id\": \"bom\", \"text\": \"带 BOM 的正文\"}".as_bytes());
    assert_eq!((status, body["stored"].as_u64()), (200, Some(1)), "{body}");

    // The same id with other text: already stored, and a warning says the stored one is kept.
    let (_, body) = post(base, Some(TOKEN), None, br#"{"id": "bom", "text": "another text"}"#);
    assert_eq!(body["items"][0]["status"], "already_stored", "{body}");
    assert!(body["items"][0]["warnings"][0].as_str().unwrap_or("").contains("stored one is kept"), "{body}");

    // A bad JSON Lines row is reported with its own line.
    let lines = "{\"id\": \"j1\", \"text\": \"一\"}\n{\"id\": \"j2\", \"text\": \"二\"}\n{\"id\": \"j3\", tex\n";
    let (_, body) = post(base, Some(TOKEN), None, lines.as_bytes());
    let err = body["items"][2]["error"].as_str().unwrap_or("");
    assert!(err.starts_with("line 3, column ") && !err.contains("line 1"), "{body}");
}
