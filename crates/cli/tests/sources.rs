//! Live sources against a local server: conditional GET (the second poll of an unchanged feed is
//! a 304 and stores nothing), a failing server (backoff and a health flag), a redirect to a
//! refused address, an oversized response, a stalled server, robots.txt and a block page.

use crate::common;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use common::{run, stderr, stdout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Default)]
struct Seen {
    feed_requests: AtomicUsize,
    conditional: AtomicUsize,
    private_requests: AtomicUsize,
}

const FEED: &str = r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>校园新闻</title>
<item><title>第三食堂整改完成</title><link>http://news.example/1</link><description>食堂今日重新开放</description><pubDate>Mon, 26 Oct 2026 09:00:00 +0800</pubDate></item>
<item><title>图书馆延长开放</title><link>http://news.example/2</link><description>考试周延长至晚上十一点</description></item>
<item><title>Heating starts early</title><link>http://news.example/3</link><description>North campus dorms</description></item>
</channel></rss>"#;

async fn feed(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> axum::response::Response {
    seen.feed_requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some("\"v1\"") {
        seen.conditional.fetch_add(1, Ordering::SeqCst);
        return StatusCode::NOT_MODIFIED.into_response();
    }
    ([("etag", "\"v1\""), ("content-type", "application/rss+xml; charset=utf-8")], FEED).into_response()
}

fn start_server() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = axum::Router::new()
        .route("/feed.xml", get(feed))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route("/redirect", get(|| async { (StatusCode::FOUND, [("location", "http://10.255.255.1/feed.xml")]) }))
        .route(
            "/huge",
            get(|| async {
                format!("<rss><channel>{}</channel></rss>", "<item><title>x</title></item>".repeat(100_000))
            }),
        )
        .route(
            "/stall",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                FEED
            }),
        )
        .route("/robots.txt", get(|| async { "User-agent: *\nDisallow: /private/\n" }))
        .route(
            "/private/feed.xml",
            get(|State(seen): State<Arc<Seen>>| async move {
                seen.private_requests.fetch_add(1, Ordering::SeqCst);
                FEED
            }),
        )
        .route("/captcha", get(|| async { "<html><body><h1>安全验证</h1><p>请输入验证码 captcha</p></body></html>" }))
        .with_state(seen.clone());
    (common::serve(app), seen)
}

fn results(out: &str) -> std::collections::HashMap<String, serde_json::Value> {
    common::json_lines(out).into_iter().map(|v| (v["source"].as_str().unwrap().to_string(), v)).collect()
}

#[test]
fn polling_is_polite_bounded_and_safe() {
    let (base, seen) = start_server();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = tmp.path().join("sources.toml");
    let mut toml = String::from("[fetch]\nmax_bytes = 1048576\ntimeout = \"2s\"\n");
    for (id, path) in [
        ("news", "/feed.xml"),
        ("broken", "/fail"),
        ("redirected", "/redirect"),
        ("huge", "/huge"),
        ("stalled", "/stall"),
        ("private", "/private/feed.xml"),
        ("blocked", "/captcha"),
    ] {
        toml.push_str(&format!(
            "\n[[source]]\nid = \"{id}\"\nurl = \"{base}{path}\"\ninterval = \"1m\"\nallow_addresses = [\"127.0.0.1\"]\n"
        ));
    }
    // Without the allowance, loopback itself is refused.
    toml.push_str(&format!("\n[[source]]\nid = \"not-allowed\"\nurl = \"{base}/feed.xml\"\n"));
    std::fs::write(&config, toml).unwrap();

    let poll = || {
        let o = run(&data, &["poll", "--config", config.to_str().unwrap(), "--once", "--json"], None);
        assert_eq!(o.status.code(), Some(1), "some sources fail: exit 1; {}", stderr(&o));
        results(&stdout(&o))
    };
    let first = poll();
    let news = &first["news"];
    assert_eq!(
        (news["status"].as_str(), news["new"].as_u64(), news["entries"].as_u64()),
        (Some("fetched"), Some(3), Some(3)),
        "{news}"
    );
    let err = |id: &str| first[id]["error"].as_str().unwrap_or("").to_string();
    assert!(err("broken").contains("HTTP 500"), "{}", err("broken"));
    assert!(
        err("redirected").contains("refused") && err("redirected").contains("10.255.255.1"),
        "{}",
        err("redirected")
    );
    assert!(err("huge").contains("larger than 1048576"), "{}", err("huge"));
    assert!(err("stalled").contains("timed out"), "{}", err("stalled"));
    assert!(err("private").contains("robots.txt"), "{}", err("private"));
    assert_eq!(seen.private_requests.load(Ordering::SeqCst), 0, "robots.txt was honoured");
    assert!(err("blocked").contains("captcha"), "{}", err("blocked"));
    assert!(
        err("not-allowed").contains("refused") && err("not-allowed").contains("loopback"),
        "{}",
        err("not-allowed")
    );

    // The second poll of the unchanged feed is a conditional GET answered 304: nothing stored.
    let second = poll();
    assert_eq!((second["news"]["status"].as_str(), second["news"]["new"].as_u64()), (Some("not_modified"), Some(0)));
    assert_eq!(seen.conditional.load(Ordering::SeqCst), 1);
    assert_eq!(seen.feed_requests.load(Ordering::SeqCst), 2);

    // A third failure in a row raises the health flag; each failure doubled the delay.
    poll();
    let o = run(&data, &["sources", "--config", config.to_str().unwrap(), "--json"], None);
    let health = results(&stdout(&o));
    let broken = &health["broken"];
    assert_eq!(broken["ok"], false);
    assert!(broken["flags"][0].as_str().unwrap().starts_with("failing: 3 failures"), "{broken}");
    let st = &broken["state"];
    let t = |k: &str| chrono::DateTime::parse_from_rfc3339(st[k].as_str().unwrap()).unwrap();
    let delay = (t("next_due") - t("last_attempt")).num_seconds();
    assert_eq!(delay, 8 * 60, "1m doubled per failure: {st}");
    assert_eq!(health["news"]["ok"], true, "{}", health["news"]);
    assert_eq!(health["news"]["state"]["items_total"], 3);

    // `feed parse URL` reads a feed over HTTP through the same guard.
    let url = format!("{base}/feed.xml");
    let o = run(&data, &["feed", "parse", "--allow", "127.0.0.1", &url], None);
    let entries = common::json_lines(&stdout(&o));
    assert_eq!(entries.len(), 3, "{}", stderr(&o));
    assert_eq!(
        (entries[0]["title"].as_str(), entries[0]["url"].as_str()),
        (Some("第三食堂整改完成"), Some("http://news.example/1"))
    );
    assert_eq!(entries[0]["published_at"], "2026-10-26T01:00:00Z");
    let o = run(&data, &["feed", "parse", &url], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("loopback"), "{}", stderr(&o));
    // Regression (issue 12): the refusal says how to allow the address on purpose.
    assert!(stderr(&o).contains("--allow"), "{}", stderr(&o));
}

#[derive(Default)]
struct Load {
    now: AtomicUsize,
    max: AtomicUsize,
    served: AtomicUsize,
}

async fn many(State(load): State<Arc<Load>>, axum::extract::Path(n): axum::extract::Path<usize>) -> impl IntoResponse {
    let now = load.now.fetch_add(1, Ordering::SeqCst) + 1;
    load.max.fetch_max(now, Ordering::SeqCst);
    // Long enough that requests would overlap if the limit did not hold them back.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let items: String = (0..10)
        .map(|i| format!("<item><title>来源{n}的第{i}条</title><link>http://feeds.example/{n}/{i}</link><description>内容 {n} {i}</description></item>"))
        .collect();
    load.now.fetch_sub(1, Ordering::SeqCst);
    load.served.fetch_add(1, Ordering::SeqCst);
    (
        [("content-type", "application/rss+xml")],
        format!("<rss version=\"2.0\"><channel><title>{n}</title>{items}</channel></rss>"),
    )
}

#[test]
fn two_hundred_feeds_on_one_host_respect_the_per_host_limit() {
    let load = Arc::new(Load::default());
    let base = common::serve(axum::Router::new().route("/f/{n}", get(many)).with_state(load.clone()));
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("sources.toml");
    let mut toml = String::from("[fetch]\nper_host = 4\n");
    for n in 0..200 {
        toml.push_str(&format!(
            "\n[[source]]\nid = \"feed{n}\"\nurl = \"{base}/f/{n}\"\nallow_addresses = [\"127.0.0.1\"]\n"
        ));
    }
    std::fs::write(&config, toml).unwrap();
    let o = run(&tmp.path().join("data"), &["poll", "--config", config.to_str().unwrap(), "--once"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(load.served.load(Ordering::SeqCst), 200);
    let max = load.max.load(Ordering::SeqCst);
    assert!((1..=4).contains(&max), "at most 4 requests at a time to the host, saw {max}");
    assert_eq!(stdout(&o).lines().filter(|l| l.contains("10 entries, 10 new")).count(), 200);
    // The throughput line (feeds/s, items/s) for the record.
    println!("{} (at most {max} requests at a time)", stderr(&o).lines().last().unwrap_or(""));
}

#[test]
fn own_site_watch_raises_one_signal_per_real_change() {
    let page = Arc::new(std::sync::Mutex::new(String::new()));
    let set = |visits: u32, notice: &str| {
        *page.lock().unwrap() = format!(
            "<html><body><h1>澜江理工大学</h1><p>{notice}</p><p>第三食堂已恢复供餐。</p>\
             <div class=\"footer\">访问量：{visits} 更新于 2026-10-{:02} 10:00</div></body></html>",
            visits % 28 + 1
        );
    };
    set(100, "欢迎访问学校主页");
    let served = page.clone();
    let base = common::serve(axum::Router::new().route(
        "/",
        get(move || {
            let p = served.clone();
            async move { ([("content-type", "text/html; charset=utf-8")], p.lock().unwrap().clone()) }
        }),
    ));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = tmp.path().join("sources.toml");
    std::fs::write(
        &config,
        format!(
            "[[source]]\nid = \"portal\"\nkind = \"watch\"\nurl = \"{base}/\"\nallow_addresses = [\"127.0.0.1\"]\n\
             volatile = [\"访问量：\\\\d+\", \"更新于 \\\\S+ \\\\S+\"]\nforbidden = [\"博彩\"]\nchange_severity = \"medium\"\n"
        ),
    )
    .unwrap();
    let poll = || {
        let o = run(&data, &["poll", "--config", config.to_str().unwrap(), "--once"], None);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    };
    let signals = || common::json_lines(&stdout(&run(&data, &["signals", "--json"], None)));

    poll(); // the first check records the page
    assert!(signals().is_empty());
    set(101, "欢迎访问学校主页"); // only the volatile counter and time change
    poll();
    assert!(signals().is_empty(), "a change inside volatile regions raises nothing: {:?}", signals());

    set(102, "【通知】学校将于明日停课"); // a real change
    poll();
    let got = signals();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0]["kind"].as_str(), got[0]["source"].as_str()), (Some("site_change"), Some("portal")));
    // Regression (issue 12): the severity is the configured one.
    assert_eq!(got[0]["severity"], "medium", "change_severity as configured");
    let diff = got[0]["explanation"].as_str().unwrap();
    assert!(diff.contains("- 欢迎访问学校主页") && diff.contains("+ 【通知】学校将于明日停课"), "{diff}");
    assert!(!diff.contains("访问量"), "volatile parts stay out of the diff: {diff}");
    poll(); // unchanged since: nothing more
    assert_eq!(signals().len(), 1);

    set(103, "【通知】学校将于明日停课 点击进入博彩网站"); // tampering with a forbidden term
    poll();
    let got = signals();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().any(|s| s["kind"] == "forbidden_term" && s["severity"] == "critical"), "{got:?}");
}

#[test]
fn web_pages_and_json_apis() {
    let list = r#"<html><body><div class="nav"><a href="/about">关于</a></div>
<ul class="news"><li><a href="/news/1.html">通报一</a></li><li><a href="/news/2.html">通报二</a></li><li><a href="/news/gone.html">已删除</a></li></ul></body></html>"#;
    let a1 = r#"<html><head><meta property="og:title" content="关于第三食堂情况的通报"><meta property="article:published_time" content="2026-10-12T09:30:00+08:00"></head>
<body><div class="side"><p>热门</p></div><div class="article"><p>近日有同学反映第三食堂饭菜质量问题，学校高度重视。</p><p>调查组已进驻，结果将及时公布。</p></div><footer><p>版权所有</p></footer></body></html>"#;
    let a2 = r#"<html><head><title>站点 | 供暖安排</title></head><body><h1>关于北苑宿舍提前供暖的通知</h1>
<div class="meta">发布时间：2026年10月14日 08:00</div><div id="content"><p>经研究决定，北苑校区宿舍将于10月28日提前试供暖。</p></div></body></html>"#;
    let api = r#"{"status": "ok", "data": {"posts": [
        {"pid": "p1", "body": "<p>网传封校消息不实</p>", "when": "2026-10-15 10:00", "who": {"nick": "澜江发布"}, "href": "https://weibo.example/p1"},
        {"pid": "p2"}
    ]}}"#;
    let base = common::serve(
        axum::Router::new()
            .route("/list.html", get(move || async move { ([("content-type", "text/html; charset=utf-8")], list) }))
            .route("/news/1.html", get(move || async move { ([("content-type", "text/html; charset=utf-8")], a1) }))
            .route("/news/2.html", get(move || async move { ([("content-type", "text/html")], a2) }))
            .route("/api.json", get(move || async move { ([("content-type", "application/json")], api) })),
    );
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = tmp.path().join("sources.toml");
    std::fs::write(
        &config,
        format!(
            "[[source]]\nid = \"school-news\"\nkind = \"page\"\nurl = \"{base}/list.html\"\nlinks = \"ul.news a\"\nallow_addresses = [\"127.0.0.1\"]\n\n\
             [[source]]\nid = \"platform\"\nkind = \"json\"\nurl = \"{base}/api.json\"\nallow_addresses = [\"127.0.0.1\"]\n\
             [source.map]\nitems = \"/data/posts\"\nid = \"/pid\"\ntext = \"/body\"\npublished_at = \"/when\"\nauthor = \"/who/nick\"\nurl = \"/href\"\n\n\
             [[source]]\nid = \"bad-page\"\nkind = \"page\"\nurl = \"{base}/list.html\"\nallow_addresses = [\"127.0.0.1\"]\n"
        ),
    )
    .unwrap();
    let o = run(&data, &["poll", "--config", config.to_str().unwrap(), "--once", "--json"], None);
    assert!(stderr(&o).contains("source bad-page: a page source needs `links`"), "{}", stderr(&o));
    let r = results(&stdout(&o));
    let page = &r["school-news"];
    assert_eq!((page["status"].as_str(), page["new"].as_u64()), (Some("fetched"), Some(2)), "{page}");
    assert!(page["problems"][0].as_str().unwrap().contains("gone.html"), "{page}");
    let json = &r["platform"];
    assert_eq!((json["new"].as_u64(), json["entries"].as_u64()), (Some(1), Some(1)), "{json}");
    assert!(json["problems"][0].as_str().unwrap().starts_with("item 1"), "{json}");

    let hits: Vec<serde_json::Value> = ["食堂", "供暖", "封校"]
        .iter()
        .flat_map(|q| common::json_lines(&stdout(&run(&data, &["search", "--json", q], None))))
        .collect();
    let find =
        |word: &str| hits.iter().find(|h| h["text"].as_str().unwrap_or("").contains(word)).cloned().unwrap_or_default();
    let canteen = find("第三食堂饭菜");
    assert_eq!(canteen["title"], "关于第三食堂情况的通报", "{canteen}");
    assert!(!canteen["text"].as_str().unwrap().contains("版权所有"), "{canteen}");
    assert_eq!(canteen["published_at"], "2026-10-12T01:30:00+00:00");
    let heating = find("提前试供暖");
    assert_eq!(heating["title"], "关于北苑宿舍提前供暖的通知", "{heating}");
    assert_eq!(heating["published_at"], "2026-10-14T00:00:00+00:00");
    let post = find("网传封校");
    assert_eq!((post["source"].as_str(), post["author"].as_str()), (Some("platform"), Some("澜江发布")), "{post}");
    assert_eq!(post["published_at"], "2026-10-15T02:00:00+00:00");
}

#[test]
fn compressed_responses_and_an_emptied_feed() {
    use std::io::Write;
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(FEED.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let emptied = Arc::new(AtomicUsize::new(0));
    let flag = emptied.clone();
    let base = common::serve(
        axum::Router::new()
            .route(
                "/gz.xml",
                get(move || {
                    let body = gz.clone();
                    async move { ([("content-type", "application/rss+xml"), ("content-encoding", "gzip")], body) }
                }),
            )
            .route(
                "/later-empty.xml",
                get(move || {
                    let empty = flag.load(Ordering::SeqCst) == 1;
                    async move {
                        if empty {
                            "<rss version=\"2.0\"><channel><title>t</title></channel></rss>".to_string()
                        } else {
                            FEED.to_string()
                        }
                    }
                }),
            ),
    );
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = tmp.path().join("sources.toml");
    std::fs::write(
        &config,
        format!(
            "[[source]]\nid = \"gz\"\nurl = \"{base}/gz.xml\"\nallow_addresses = [\"127.0.0.1\"]\n\n\
             [[source]]\nid = \"fading\"\nurl = \"{base}/later-empty.xml\"\nallow_addresses = [\"127.0.0.1\"]\n"
        ),
    )
    .unwrap();
    let poll =
        || results(&stdout(&run(&data, &["poll", "--config", config.to_str().unwrap(), "--once", "--json"], None)));
    let first = poll();
    assert_eq!(
        (first["gz"]["status"].as_str(), first["gz"]["new"].as_u64()),
        (Some("fetched"), Some(3)),
        "gzip: {}",
        first["gz"]
    );
    assert_eq!(first["fading"]["new"], 3);
    emptied.store(1, Ordering::SeqCst);
    let second = poll();
    assert_eq!(second["fading"]["entries"], 0);
    let health = results(&stdout(&run(&data, &["sources", "--config", config.to_str().unwrap(), "--json"], None)));
    let fading = &health["fading"];
    assert_eq!(fading["ok"], false, "{fading}");
    assert!(
        fading["flags"][0]
            .as_str()
            .unwrap()
            .starts_with("empty: the last response had no entries (it used to have up to 3)"),
        "{fading}"
    );
    assert_eq!(health["gz"]["ok"], true);
}
