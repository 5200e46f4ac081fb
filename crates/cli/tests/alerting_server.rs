//! Alerting in a running `tidewatch serve`: a stored burst signal reaches the on-duty officer
//! through a webhook; the server is killed (SIGKILL) between escalation steps and started again;
//! the next step fires once, on time, and the first is not sent again. The alert API acknowledges,
//! lists and refuses bad requests; `oncall` answers; the signed link acknowledges.

use crate::common;
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tidewatch_store::{Db, Signal, TopicDraft};

/// What the receiver got: when, for whom (the path), the JSON body.
type Log = Arc<Mutex<Vec<(Instant, String, serde_json::Value)>>>;

fn receiver() -> (String, Log) {
    let got: Log = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/{who}",
        axum::routing::post(move |axum::extract::Path(who): axum::extract::Path<String>, body: String| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push((Instant::now(), who, serde_json::from_str(&body).unwrap_or_default()));
                "{}"
            }
        }),
    );
    (common::serve(app), got)
}

fn config(hooks: &str) -> String {
    let today = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive() - chrono::Duration::days(1);
    format!(
        r#"
base_url = "http://tidewatch.example"
[timing]
group_wait_seconds = 0
group_interval_seconds = 300
repeat_interval_seconds = 14400
[[person]]
id = "officer"
channels = [{{ kind = "webhook", url = "{hooks}/officer" }}]
[[person]]
id = "lead"
lang = "en"
channels = [{{ kind = "webhook", url = "{hooks}/lead" }}]
[[unit]]
id = "后勤集团"
lead = "lead"
[[unit.schedule.layers]]
name = "all day"
zone = "Asia/Shanghai"
members = ["officer"]
start = "{today}"
handoff = "00:00:00"
period = {{ every = "day" }}
cover = {{ cover = "full_day" }}
[[policy]]
name = "p"
[[policy.steps]]
targets = [{{ type = "on_duty", value = "后勤集团" }}]
delay_minutes = 0.15
[[policy.steps]]
targets = [{{ type = "unit_lead", value = "后勤集团" }}]
delay_minutes = 10
[route]
policy = "p"
"#
    )
}

fn start(dir: &std::path::Path) -> common::Server {
    let args = ["serve", "--addr", "127.0.0.1:0", "--data-dir"];
    let mut args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    args.push(dir.as_os_str());
    common::start_server(&args, "Tidewatch listening on ")
}

fn wait_for(got: &Log, who: &str, n: usize, secs: u64) {
    let deadline = Instant::now() + std::time::Duration::from_secs(secs);
    while got.lock().unwrap().iter().filter(|r| r.1 == who).count() < n {
        assert!(
            Instant::now() < deadline,
            "{who} got fewer than {n} notifications in {secs} s: {:?}",
            got.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn signal(db: &mut Db, at: DateTime<Utc>) {
    db.add_signal(&Signal {
        id: 0,
        kind: "burst".into(),
        severity: "high".into(),
        created_at: at,
        source: None,
        topic: Some("food-safety".into()),
        story: Some("9".into()),
        title: "Burst on topic food-safety".into(),
        explanation: serde_json::json!({"observed": 9.0, "expected": 1.0, "score": 5.0, "top_sources": [["weibo", 9]], "top_terms": [], "samples": []}).to_string(),
    })
    .unwrap();
}

#[test]
fn the_next_step_fires_once_on_time_after_a_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (hooks, got) = receiver();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("alerting.toml"), config(&hooks)).unwrap();
    {
        let mut db = Db::open(&data).unwrap();
        let topic = TopicDraft {
            id: "food-safety".into(),
            name: "食品安全".into(),
            rule: "食堂 AND 呕吐".into(),
            unit: Some("后勤集团".into()),
            severity: "high".into(),
            enabled: true,
        };
        db.save_topic(&topic, "test", Utc::now()).unwrap();
        signal(&mut db, Utc::now());
    }
    common::admin_token(&data);
    let server = start(&data);
    // The officer is notified within a couple of ticks.
    wait_for(&got, "officer", 1, 10);
    let first = got.lock().unwrap()[0].0;
    // Kill -9 before the next step (due 9 s after the first) and start again.
    drop(server);
    let server = start(&data);
    wait_for(&got, "lead", 1, 30);
    let lead_at = got.lock().unwrap().iter().find(|r| r.1 == "lead").unwrap().0;
    let gap = lead_at - first;
    assert!(gap >= std::time::Duration::from_millis(8_500), "not before its time: {gap:?}");
    assert!(gap <= std::time::Duration::from_millis(12_500), "on time (ticks are 1 s): {gap:?}");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let log = got.lock().unwrap().clone();
    assert_eq!(
        log.iter().filter(|r| r.1 == "officer").count(),
        1,
        "the first step is not sent again after the restart"
    );
    assert_eq!(log.iter().filter(|r| r.1 == "lead").count(), 1, "the second step fires exactly once");
    let text = log[0].2["text"].as_str().unwrap().to_string();
    assert!(text.contains("observed 9"), "{text}");

    // The API.
    let base = &server.base;
    let client = common::http();
    let alerts: serde_json::Value = client.get(format!("{base}/api/v1/alerts")).send().unwrap().json().unwrap();
    assert_eq!(alerts[0]["state"], "firing", "{alerts}");
    let detail: serde_json::Value = client.get(format!("{base}/api/v1/alerts/1")).send().unwrap().json().unwrap();
    assert_eq!(detail["notifications"].as_array().unwrap().len(), 2);
    assert!(detail["notifications"].as_array().unwrap().iter().all(|n| n["status"] == "sent"));
    let post = |path: &str, body: &str| {
        let r = client
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<serde_json::Value>().unwrap_or_default())
    };
    for (path, body, status, code) in [
        ("/api/v1/alerts/1/explode", "{}", 404, "not_found"),
        ("/api/v1/alerts/99/acknowledge", "{}", 404, "not_found"),
        ("/api/v1/alerts/abc/acknowledge", "{}", 400, "bad_parameter"),
        ("/api/v1/alerts/1/escalate", r#"{"to_step": 9}"#, 409, "conflict"),
        ("/api/v1/alerts/1/escalate", r#"{"to_step": "x"}"#, 400, "bad_body"),
        // Who acts is the signed-in caller, never a field of the request.
        ("/api/v1/alerts/1/escalate", r#"{"who": "someone else"}"#, 400, "bad_body"),
        ("/api/v1/silences", r#"{"matchers": [], "ends": "2030-01-01T00:00:00Z"}"#, 400, "bad_body"),
        (
            "/api/v1/silences",
            r#"{"matchers": [{"field": "topic", "value": "x"}], "ends": "2030-01-01T00:00:00Z", "author": "a"}"#,
            400,
            "bad_body",
        ),
        (
            "/api/v1/silences",
            r#"{"matchers": [{"field": "topic", "value": "x"}], "ends": "2000-01-01T00:00:00Z"}"#,
            400,
            "bad_body",
        ),
        ("/api/v1/silences", "not json", 400, "bad_body"),
    ] {
        let (s, b) = post(path, body);
        assert_eq!((s, b["error"]["code"].as_str().unwrap_or("")), (status, code), "{path} {body}: {b}");
    }
    let (s, b) = post(
        "/api/v1/silences",
        r#"{"matchers": [{"field": "topic", "value": "fees"}], "ends": "2030-01-01T00:00:00Z", "comment": "known"}"#,
    );
    assert_eq!((s, b["id"].as_i64()), (200, Some(1)));
    // Out-of-range times are a 400, not a panic that would stop the alerting.
    let r = client.get(format!("{base}/api/v1/oncall?at=-262143-01-01T00:00:00Z")).send().unwrap();
    assert_eq!(r.status().as_u16(), 400, "oncall far in the past");
    let (s, _) = post(
        "/api/v1/oncall/swap",
        r#"{"unit": "后勤集团", "a": "+262142-12-31T00:00:00Z", "b": "2026-01-01T00:00:00Z"}"#,
    );
    assert_eq!(s, 400, "swap far in the future");
    let (s, _) = post(
        "/api/v1/oncall/swap",
        r#"{"unit": "后勤集团", "a": "1900-01-01T00:00:00Z", "b": "2026-01-01T00:00:00Z"}"#,
    );
    assert_eq!(s, 400, "swap a century ago");
    // The alerting still answers after those.
    assert_eq!(client.get(format!("{base}/api/v1/alerts")).send().unwrap().status().as_u16(), 200);
    // A forged acknowledge link is refused; acknowledging through the API works.
    let r = client.get(format!("{base}/ack/1?who=lead&exp=9999999999&sig=00")).send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // The signed link in the message: opening it (as a mail scanner would) only shows a page;
    // its form's POST acknowledges, without any session.
    let link = text.split_whitespace().find(|w| w.contains("/ack/1?")).expect("the message has an acknowledge link");
    let query = link.split_once('?').unwrap().1;
    let anonymous = reqwest::blocking::Client::new();
    let page = anonymous.get(format!("{base}/ack/1?{query}")).send().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().unwrap().contains("<form method=post"), "a confirmation page");
    let a: serde_json::Value = client.get(format!("{base}/api/v1/alerts/1")).send().unwrap().json().unwrap();
    assert_eq!(a["alert"]["state"], "firing", "opening the link did not acknowledge");
    let r = anonymous
        .post(format!("{base}/ack/1"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let a: serde_json::Value = client.get(format!("{base}/api/v1/alerts/1")).send().unwrap().json().unwrap();
    assert_eq!(a["alert"]["state"], "acknowledged");
    // Channel secrets are never returned: only the kind and the host.
    for n in a["notifications"].as_array().unwrap() {
        let c = n["channel"].to_string();
        assert!(!c.contains("secret") && !c.contains("/officer") && !c.contains("/lead"), "redacted: {c}");
    }
    let oncall: serde_json::Value =
        client.get(format!("{base}/api/v1/oncall?unit=后勤集团")).send().unwrap().json().unwrap();
    assert_eq!(oncall[0]["on_duty"]["person"], "officer");
    assert_eq!(client.get(format!("{base}/api/v1/oncall?unit=nowhere")).send().unwrap().status().as_u16(), 404);
    drop(server);

    // The command line reads the same state.
    let o = common::run(&data, &["alerts", "--json"], None);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let lines = common::json_lines(&common::stdout(&o));
    assert_eq!(lines[0]["state"], "acknowledged");
    let o = common::run(&data, &["oncall", "now", "--unit", "后勤集团"], None);
    assert!(common::stdout(&o).starts_with("后勤集团: officer"), "{}", common::stdout(&o));
    let o = common::run(&data, &["alerts", "--state", "sideways"], None);
    assert!(!o.status.success());
}

#[test]
fn read_only_commands_refuse_a_data_directory_that_does_not_exist() {
    // Regression (issue 12): `alerts --data-dir nonexist` created an empty directory and exited 0.
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nonexist");
    for args in
        [&["alerts"][..], &["signals"], &["audit"], &["audit", "verify"], &["users", "list"], &["tokens", "list"]]
    {
        let o = common::run(&missing, args, None);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(common::stderr(&o).contains("not a Tidewatch data directory"), "{args:?}: {}", common::stderr(&o));
    }
    assert!(!missing.exists(), "nothing was created");
}

#[test]
fn serve_without_accounts_says_how_to_create_the_first_admin() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = start(&data);
    let said = server.preamble.join("\n");
    assert!(said.contains("No accounts yet") && said.contains("users add --admin"), "{said}");
    // And nothing answers without one.
    let r = reqwest::blocking::get(format!("{}/api/v1/status", server.base)).unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = reqwest::blocking::get(format!("{}/api/v1/health", server.base)).unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn audit_verify_names_the_entry_that_was_altered_removed_or_swapped() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::admin_token(&data);
    for name in ["unit-a", "unit-b", "unit-c"] {
        let o = common::run(&data, &["units", "set", name], None);
        assert!(o.status.success(), "{}", common::stderr(&o));
    }
    let o = common::run(&data, &["audit", "verify"], None);
    assert_eq!(o.status.code(), Some(0), "{}", common::stdout(&o));
    assert!(common::stdout(&o).contains("audit log intact: 5 entries verified"), "{}", common::stdout(&o));
    let listed = common::run(&data, &["audit", "--json"], None);
    assert_eq!(common::json_lines(&common::stdout(&listed)).len(), 5);

    let tampered = |sql: &str| -> (Option<i32>, String) {
        let copy = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(data.join("tidewatch.db")).unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        drop(conn);
        std::fs::copy(data.join("tidewatch.db"), copy.path().join("tidewatch.db")).unwrap();
        rusqlite::Connection::open(copy.path().join("tidewatch.db")).unwrap().execute_batch(sql).unwrap();
        let o = common::run(copy.path(), &["audit", "verify"], None);
        (o.status.code(), common::stdout(&o))
    };
    let (code, out) = tampered("UPDATE audit SET detail = '{}' WHERE seq = 3");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("entry 3") && out.contains("altered"), "{out}");
    let (code, out) = tampered("DELETE FROM audit WHERE seq = 2");
    assert_eq!(code, Some(1));
    assert!(out.contains("entry 2"), "{out}");
    let (code, out) = tampered(
        "UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = -1",
    );
    assert_eq!(code, Some(1));
    assert!(out.contains("entry 3"), "{out}");
}
