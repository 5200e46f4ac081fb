//! Alerting end to end on the store: signals become one alert per story; the escalation reaches
//! the on-duty officer, skips an empty step, reaches the unit lead after the delay and stops on
//! acknowledgement; a second burst updates the alert; the state survives a restart between steps
//! and the next step fires once, on time; notifications are real HTTP posts to a local receiver,
//! checked against each platform's documented payload and signing scheme; the outbox retries with
//! backoff and gives up with a reason.

use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use tidewatch_engine::alerting::{deliver, Alerting, AlertingConfig, Retry};
use tidewatch_engine::notifier::Notifier;
use tidewatch_store::{Db, Signal, TopicDraft};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// A minimal HTTP/1.1 receiver on 127.0.0.1 (port chosen by the system). The first `fail_first`
/// requests get HTTP 500.
fn receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = got.clone();
    std::thread::spawn(move || {
        let mut n = 0;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut headers = Vec::new();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end().to_string();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                if k == "content-length" {
                    len = v.parse().unwrap();
                }
                headers.push((k, v));
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            n += 1;
            let status = if n <= fail_first { "500 Internal Server Error" } else { "200 OK" };
            seen.lock().unwrap().push(Received { path, headers, body: String::from_utf8(body).unwrap() });
            let reply = r#"{"errcode":0,"errmsg":"ok"}"#;
            let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}", reply.len());
        }
    });
    (base, got)
}

fn t0() -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap().with_timezone(&Utc)
}

fn config(base: &str) -> AlertingConfig {
    let toml = format!(
        r#"
base_url = "http://tidewatch.example"
[timing]
group_wait_seconds = 30
group_interval_seconds = 300
repeat_interval_seconds = 14400

[[person]]
id = "zhao"
name = "赵"
lang = "zh"
channels = [
  {{ kind = "webhook", url = "{base}/hook", secret = "hook-secret" }},
  {{ kind = "slack", url = "{base}/slack" }},
  {{ kind = "dingtalk", url = "{base}/robot/send?access_token=TOKEN", secret = "SEC-ding" }},
  {{ kind = "wecom", url = "{base}/cgi-bin/webhook/send?key=KEY" }},
  {{ kind = "feishu", url = "{base}/open-apis/bot/v2/hook/ID", secret = "fei-secret" }},
]
[[person]]
id = "qian"
lang = "zh"
channels = [{{ kind = "webhook", url = "{base}/qian" }}]
[[person]]
id = "lead"
lang = "en"
channels = [{{ kind = "webhook", url = "{base}/lead" }}]
[[person]]
id = "head"
channels = [{{ kind = "webhook", url = "{base}/head" }}]

[[unit]]
id = "后勤集团"
lead = "lead"
[[unit.schedule.layers]]
name = "后勤值班"
zone = "Asia/Shanghai"
members = ["zhao", "qian"]
start = "2026-11-26"
handoff = "08:00:00"
period = {{ every = "day" }}
cover = {{ cover = "full_day" }}

[[unit]]
id = "领导小组"

[[policy]]
name = "logistics"
repeat = 0
[[policy.steps]]
targets = [{{ type = "on_duty", value = "后勤集团" }}]
delay_minutes = 10
[[policy.steps]]
targets = [{{ type = "on_duty", value = "领导小组" }}]
delay_minutes = 10
[[policy.steps]]
targets = [{{ type = "unit_lead", value = "后勤集团" }}]
delay_minutes = 15
[[policy.steps]]
targets = [{{ type = "person", value = "head" }}]
delay_minutes = 30

[route]
policy = "logistics"
"#
    );
    AlertingConfig::from_toml(&toml).unwrap()
}

fn burst(db: &mut Db, story: &str, at: DateTime<Utc>) -> i64 {
    db.add_signal(&Signal {
        id: 0,
        kind: "burst".into(),
        severity: "high".into(),
        created_at: at,
        source: None,
        topic: Some("food-safety".into()),
        story: Some(story.into()),
        title: "Burst on topic food-safety: 12 items against 1.2 expected".into(),
        explanation: serde_json::json!({
            "observed": 12.0, "expected": 1.2, "score": 8.1, "sensitivity": "balanced",
            "window_start": "2026-11-26T04:00:00Z", "window_end": "2026-11-26T05:00:00Z",
            "top_sources": [["weibo", 7], ["forum", 3]], "top_terms": [["食堂", 9]],
            "samples": [{"item": 1, "title": "第三食堂 呕吐", "source": "weibo"}],
        })
        .to_string(),
    })
    .unwrap()
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn setup(dir: &std::path::Path) -> Db {
    let mut db = Db::open(dir).unwrap();
    db.save_topic(
        &TopicDraft {
            id: "food-safety".into(),
            name: "食品安全".into(),
            rule: "食堂 AND 呕吐".into(),
            unit: Some("后勤集团".into()),
            severity: "high".into(),
            enabled: true,
        },
        "test",
        t0(),
    )
    .unwrap();
    db
}

#[test]
fn escalation_notifies_through_every_channel_and_stops_on_acknowledgement() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = setup(tmp.path());
    let (base, got) = receiver(0);
    let cfg = config(&base);
    let notifier = Notifier::new(None).unwrap();
    let send = |n: &tidewatch_store::Notification, now| notifier.send(n, now);
    let mut alerting = Alerting::open(&mut db, cfg.clone()).unwrap();

    burst(&mut db, "42", t0());
    let r = alerting.tick(&mut db, t0()).unwrap();
    assert_eq!((r.signals, r.new_alerts, r.queued), (1, 1, 0), "group wait: nothing yet");
    // After the group wait: the on-duty officer (赵, on the 26th from 08:00) through five channels.
    let at = t0() + Duration::seconds(30);
    let r = alerting.tick(&mut db, at).unwrap();
    assert_eq!(r.queued, 5);
    assert_eq!(alerting.tick(&mut db, at).unwrap().queued, 0, "a repeated tick queues nothing");
    let d = deliver(&mut db, Retry::default(), at, &|n| send(n, at)).unwrap();
    assert_eq!((d.sent, d.retrying, d.failed), (5, 0, 0));
    let reqs = got.lock().unwrap().clone();
    assert_eq!(reqs.len(), 5);
    let by_path = |p: &str| {
        reqs.iter().find(|r| r.path.starts_with(p)).unwrap_or_else(|| panic!("no request to {p}: {reqs:?}")).clone()
    };

    // Every request says who sends it (regression, issue 12: no User-Agent).
    for r in &reqs {
        let ua = r.headers.iter().find(|(k, _)| k == "user-agent").map(|(_, v)| v.as_str()).unwrap_or("");
        assert!(ua.starts_with("Tidewatch/"), "{}: user-agent {ua:?}", r.path);
    }
    // Generic webhook: HMAC-SHA256 of the exact body, hex, in X-Tidewatch-Signature.
    let hook = by_path("/hook");
    let sig = hook.headers.iter().find(|(k, _)| k == "x-tidewatch-signature").unwrap().1.clone();
    assert_eq!(sig, format!("sha256={}", hex::encode(hmac_sha256(b"hook-secret", hook.body.as_bytes()))));
    let v: serde_json::Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(v["alert"], 1);
    let text = v["text"].as_str().unwrap();
    assert!(text.contains("observed 12") && text.contains("weibo (7)"), "the explanation: {text}");
    assert!(
        text.contains("http://tidewatch.example/#alert-1")
            && text.contains("http://tidewatch.example/ack/1?who=zhao&exp="),
        "links: {text}"
    );
    assert!(v["subject"].as_str().unwrap().starts_with("[紧急] 新预警 #1"), "Chinese for 赵");

    // Slack-compatible: {"text": ...}.
    let slack: serde_json::Value = serde_json::from_str(&by_path("/slack").body).unwrap();
    assert!(slack["text"].as_str().unwrap().contains("#1"));

    // DingTalk (加签): timestamp in ms and sign = urlencode(base64(HmacSHA256(key=secret,
    // msg=timestamp+"\n"+secret))) in the query; markdown body.
    let ding = by_path("/robot/send");
    let q: std::collections::HashMap<&str, &str> =
        ding.path.split_once('?').unwrap().1.split('&').filter_map(|kv| kv.split_once('=')).collect();
    assert_eq!(q["access_token"], "TOKEN");
    let ts: i64 = q["timestamp"].parse().unwrap();
    assert!((ts - at.timestamp_millis()).abs() < 60_000, "milliseconds, now");
    let expect = base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(b"SEC-ding", format!("{ts}\nSEC-ding").as_bytes()));
    assert_eq!(url_decode(q["sign"]), expect);
    let v: serde_json::Value = serde_json::from_str(&ding.body).unwrap();
    assert_eq!(v["msgtype"], "markdown");
    assert!(v["markdown"]["title"].is_string() && v["markdown"]["text"].as_str().unwrap().contains("observed 12"));

    // WeCom group robot: {"msgtype": "markdown", "markdown": {"content"}}, key in the URL.
    let wecom = by_path("/cgi-bin/webhook/send");
    assert!(wecom.path.ends_with("key=KEY"));
    let v: serde_json::Value = serde_json::from_str(&wecom.body).unwrap();
    assert_eq!(v["msgtype"], "markdown");
    assert!(v["markdown"]["content"].as_str().unwrap().contains("#1"));

    // Feishu (签名校验): timestamp in seconds; sign = base64(HmacSHA256(key=timestamp+"\n"+secret,
    // msg="")); {"msg_type": "text", "content": {"text"}}.
    let fei: serde_json::Value = serde_json::from_str(&by_path("/open-apis/bot/v2/hook/ID").body).unwrap();
    let ts: i64 = fei["timestamp"].as_str().unwrap().parse().unwrap();
    assert!((ts - at.timestamp()).abs() < 60);
    let expect =
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256(format!("{ts}\nfei-secret").as_bytes(), b""));
    assert_eq!(fei["sign"], expect);
    assert_eq!(fei["msg_type"], "text");
    assert!(fei["content"]["text"].as_str().unwrap().contains("#1"));

    // No acknowledgement. The restart happens between steps: the state is in the store.
    drop(alerting);
    let mut alerting = Alerting::open(&mut db, cfg.clone()).unwrap();
    got.lock().unwrap().clear();
    let before_step = at + Duration::minutes(10) - Duration::seconds(1);
    assert_eq!(alerting.tick(&mut db, before_step).unwrap().queued, 0, "not yet");
    // Ten minutes after the first step: the empty step (nobody on duty in 领导小组) is skipped at
    // once and the unit lead is notified.
    let step = at + Duration::minutes(10);
    assert_eq!(alerting.tick(&mut db, step).unwrap().queued, 1);
    drop(alerting);
    let mut alerting = Alerting::open(&mut db, cfg.clone()).unwrap();
    assert_eq!(alerting.tick(&mut db, step).unwrap().queued, 0, "after a restart the same step does not fire again");
    deliver(&mut db, Retry::default(), step, &|n| send(n, step)).unwrap();
    let lead = got.lock().unwrap().clone();
    assert_eq!(lead.len(), 1);
    assert_eq!(lead[0].path, "/lead");
    assert!(
        serde_json::from_str::<serde_json::Value>(&lead[0].body).unwrap()["subject"]
            .as_str()
            .unwrap()
            .starts_with("[HIGH] Alert escalated #1"),
        "English for the lead"
    );
    let e = alerting.escalation(1).unwrap();
    let fired: Vec<String> = e.history.iter().map(|r| format!("{:?}", r.fired)).collect();
    assert_eq!(fired.len(), 3, "{fired:?}");
    assert!(fired[1].contains("Skipped"));

    // Acknowledged by the lead through the signed link: the head is never called.
    let link = {
        let n = db.notifications(Some(1), 100).unwrap();
        let body = n.iter().find(|n| n.recipient == "lead").unwrap().body.clone();
        body.lines().find(|l| l.contains("/ack/1?")).unwrap().split_whitespace().last().unwrap().to_string()
    };
    let q: std::collections::HashMap<&str, &str> =
        link.split_once('?').unwrap().1.split('&').filter_map(|kv| kv.split_once('=')).collect();
    let exp: i64 = q["exp"].parse().unwrap();
    assert!(alerting.acknowledge_link(&mut db, 1, "zhao", exp, q["sig"], step).is_err(), "the link is the lead's");
    alerting.acknowledge_link(&mut db, 1, "lead", exp, q["sig"], step + Duration::minutes(2)).unwrap();
    assert_eq!(alerting.tick(&mut db, step + Duration::hours(3)).unwrap().queued, 0);
    assert_eq!(alerting.alerts().get(1).unwrap().state, tidewatch_workflow::alerts::State::Acknowledged);

    // A second burst on the same story updates the alert: no new alert, an update to everyone
    // reached so far after the group interval.
    let later = step + Duration::hours(3) + Duration::minutes(1);
    burst(&mut db, "42", later);
    let r = alerting.tick(&mut db, later).unwrap();
    assert_eq!((r.signals, r.new_alerts), (1, 0));
    assert_eq!(alerting.alerts().alerts.len(), 1);
    // The last notification is older than the group interval: the update goes out at once.
    assert_eq!(r.queued, 5 + 1, "赵's five channels and the lead's one");
    assert_eq!(alerting.tick(&mut db, later + Duration::seconds(1)).unwrap().queued, 0);
    let subjects: Vec<String> =
        db.notifications(Some(1), 100).unwrap().iter().take(6).map(|n| n.subject.clone()).collect();
    assert!(subjects.iter().all(|s| s.contains("预警更新") || s.contains("Alert updated")), "{subjects:?}");
}

#[test]
fn the_outbox_retries_with_backoff_and_gives_up_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = setup(tmp.path());
    let (base, got) = receiver(2);
    let mut cfg = config(&base);
    cfg.person.retain(|p| p.id != "zhao");
    cfg.person.push(tidewatch_engine::alerting::Person {
        id: "zhao".into(),
        name: "赵".into(),
        lang: tidewatch_workflow::notify::Language::Zh,
        channels: vec![
            tidewatch_workflow::notify::Channel::Webhook { url: format!("{base}/flaky"), secret: None },
            // Nothing listens on port 9 of 127.0.0.1 (discard): every attempt fails.
            tidewatch_workflow::notify::Channel::Webhook { url: "http://127.0.0.1:9/down".into(), secret: None },
        ],
    });
    let notifier = Notifier::new(None).unwrap();
    let mut alerting = Alerting::open(&mut db, cfg).unwrap();
    burst(&mut db, "7", t0());
    alerting.tick(&mut db, t0()).unwrap();
    let at = t0() + Duration::seconds(30);
    assert_eq!(alerting.tick(&mut db, at).unwrap().queued, 2);
    let retry = Retry { max_attempts: 3, first_delay_seconds: 30, max_delay_seconds: 3600 };
    let mut rounds = Vec::new();
    // Backoff: 30 s after the first failure, 60 s after the second.
    for after in [0, 31, 61, 92, 200] {
        let now = at + Duration::seconds(after);
        let d = deliver(&mut db, retry, now, &|n| notifier.send(n, now)).unwrap();
        rounds.push((d.sent, d.retrying, d.failed));
    }
    // flaky: 500, 500, then 200; down: fails three times, then given up.
    assert_eq!(rounds, vec![(0, 2, 0), (0, 2, 0), (0, 0, 0), (1, 0, 1), (0, 0, 0)]);
    let all = db.notifications(Some(1), 10).unwrap();
    let flaky = all.iter().find(|n| n.channel.contains("flaky")).unwrap();
    let down = all.iter().find(|n| n.channel.contains("down")).unwrap();
    assert_eq!((flaky.status.as_str(), flaky.attempts), ("sent", 3), "{flaky:?}");
    assert_eq!(down.status, "failed");
    assert!(down.last_error.as_deref().unwrap().starts_with("gave up after 3 attempts"), "{down:?}");
    assert_eq!(got.lock().unwrap().iter().filter(|r| r.path == "/flaky").count(), 3);
}

#[test]
fn bad_configurations_are_refused_with_the_reason() {
    for (toml, says) in [
        ("[[policy]]\nname = \"p\"\nsteps = []\n", "no steps"),
        ("[[unit]]\nid = \"u\"\nlead = \"nobody\"\n", "no person \"nobody\""),
        ("[route]\npolicy = \"missing\"\n", "no policy \"missing\""),
        ("[[person]]\nid = \"a\"\n[[policy]]\nname = \"p\"\n[[policy.steps]]\ntargets = [{ type = \"on_duty\", value = \"ghost\" }]\ndelay_minutes = 5\n", "no unit \"ghost\""),
        ("colour = 1\n", "unknown field"),
        ("[route]\nmatchers = [{ field = \"severity\", op = \">=\", value = \"huge\" }]\n", "not a severity"),
    ] {
        let e = AlertingConfig::from_toml(toml).unwrap_err();
        assert!(e.contains(says), "{toml}: {e}");
    }
}

#[test]
fn the_documented_example_configuration_is_valid() {
    let doc = include_str!("../../../docs/alerting.md");
    let toml = doc.split("```toml\n").nth(1).unwrap().split("```").next().unwrap();
    let c = AlertingConfig::from_toml(toml).unwrap_or_else(|e| panic!("docs/alerting.md: {e}"));
    assert_eq!((c.person.len(), c.unit.len(), c.policy.len()), (4, 1, 3));
    // The weekday-only office-hours rotation: Thursday 2026-11-26 10:00 in Shanghai.
    let at = chrono_tz::Asia::Shanghai.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap().with_timezone(&Utc);
    assert!(c.unit[0].schedule.on_duty(at).is_some());
    let saturday = chrono_tz::Asia::Shanghai.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap().with_timezone(&Utc);
    assert!(c.unit[0].schedule.on_duty(saturday).is_none());
}

#[test]
fn overrides_survive_restarts_and_hand_off_notices_go_out_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = setup(tmp.path());
    let (base, _got) = receiver(0);
    let cfg = config(&base);
    let mut alerting = Alerting::open(&mut db, cfg.clone()).unwrap();
    let sh = |d, h, m| chrono_tz::Asia::Shanghai.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap().with_timezone(&Utc);
    // 赵 has the 26th, 钱 the 27th (from 08:00).
    assert_eq!(alerting.on_duty("后勤集团", sh(27, 9, 0)).unwrap().person, "qian");
    alerting
        .add_override(
            &mut db,
            "后勤集团",
            tidewatch_workflow::rota::Override {
                person: "lead".into(),
                from: sh(27, 9, 0),
                to: sh(27, 11, 0),
                note: "dentist".into(),
            },
            sh(26, 12, 0),
        )
        .unwrap();
    // 赵's 26th ↔ 钱's 29th.
    alerting.swap(&mut db, "后勤集团", sh(26, 20, 0), sh(29, 20, 0), sh(26, 12, 0)).unwrap();
    assert!(alerting
        .add_override(
            &mut db,
            "后勤集团",
            tidewatch_workflow::rota::Override {
                person: "ghost".into(),
                from: sh(27, 9, 0),
                to: sh(27, 10, 0),
                note: String::new()
            },
            sh(26, 12, 0)
        )
        .is_err());
    assert!(alerting.swap(&mut db, "nowhere", sh(26, 20, 0), sh(28, 20, 0), sh(26, 12, 0)).is_err());
    drop(alerting);
    let mut alerting = Alerting::open(&mut db, cfg).unwrap();
    assert_eq!(
        alerting.on_duty("后勤集团", sh(27, 10, 0)).unwrap().person,
        "lead",
        "the override survived the restart"
    );
    assert_eq!(alerting.on_duty("后勤集团", sh(26, 20, 0)).unwrap().person, "qian", "the swap survived the restart");
    assert_eq!(alerting.on_duty("后勤集团", sh(29, 20, 0)).unwrap().person, "zhao");
    // Hand-off notices: 钱 keeps duty from the 26th (swap) into the 27th: no notice at 08:00; at
    // 08:40 the lead hears that the dentist override starts at 09:00, in English; once.
    alerting.tick(&mut db, sh(27, 7, 0)).unwrap();
    assert_eq!(alerting.tick(&mut db, sh(27, 7, 40)).unwrap().queued, 0, "no change of person at 08:00");
    let r = alerting.tick(&mut db, sh(27, 8, 40)).unwrap();
    assert_eq!(r.queued, 1, "the lead has one channel");
    assert_eq!(alerting.tick(&mut db, sh(27, 8, 45)).unwrap().queued, 0, "once");
    let n = db.notifications(Some(0), 10).unwrap();
    assert_eq!(n[0].recipient, "lead");
    assert!(n[0].subject.contains("11-27 09:00") && n[0].subject.contains("on duty"), "{}", n[0].subject);
}

/// The `data` and `updated_at` of every alert row.
fn alert_rows(dir: &std::path::Path) -> Vec<(i64, String, i64)> {
    let conn = rusqlite::Connection::open(dir.join("tidewatch.db")).unwrap();
    let mut stmt = conn.prepare("SELECT id, state, updated_at FROM alerts ORDER BY id").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn alerts_are_rows_written_when_they_change_and_resolved_ones_are_archived() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = setup(tmp.path());
    let (base, _got) = receiver(0);
    let cfg = config(&base);
    let mut alerting = Alerting::open(&mut db, cfg.clone()).unwrap();
    for story in ["1", "2", "3"] {
        burst(&mut db, story, t0());
    }
    alerting.tick(&mut db, t0()).unwrap();
    let first = alert_rows(tmp.path());
    assert_eq!(first.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(), ["firing", "firing", "firing"]);
    // A tick with nothing new writes no alert.
    alerting.tick(&mut db, t0() + Duration::seconds(1)).unwrap();
    assert_eq!(alert_rows(tmp.path()), first, "nothing changed, nothing written");
    // Resolving one writes that one only; it leaves memory and stays in the store.
    let later = t0() + Duration::minutes(1);
    alerting.resolve_alert(&mut db, 2, "li", later).unwrap();
    let rows = alert_rows(tmp.path());
    assert_eq!(rows[1].1, "resolved");
    assert_eq!((rows[0].2, rows[2].2), (first[0].2, first[2].2), "the others are not rewritten");
    assert_eq!(alerting.alerts().alerts.iter().map(|a| a.id).collect::<Vec<_>>(), [1, 3]);
    let archived = alerting.alert(&db, 2).unwrap().unwrap();
    assert_eq!(archived.state, tidewatch_workflow::alerts::State::Resolved);
    assert!(alerting.resolve_alert(&mut db, 2, "li", later).is_ok(), "resolving again changes nothing");
    let err = alerting.acknowledge(&mut db, 2, "li", later).unwrap_err().to_string();
    assert!(err.contains("resolved"), "{err}");
    // A case linked to the archived alert is written to its row.
    alerting.link_case(&mut db, 2, 7, "li", later).unwrap();
    assert_eq!(alerting.alert(&db, 2).unwrap().unwrap().case, Some(7));
    // A new signal on the resolved alert's story starts a new alert with a new id.
    burst(&mut db, "2", later);
    alerting.tick(&mut db, later).unwrap();
    drop(alerting);
    let alerting = Alerting::open(&mut db, cfg).unwrap();
    assert_eq!(alerting.alerts().alerts.iter().map(|a| a.id).collect::<Vec<_>>(), [1, 3, 4], "after a restart");
    assert_eq!(alert_rows(tmp.path()).len(), 4);
}

#[test]
fn alerts_kept_as_one_document_move_to_rows_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = setup(tmp.path());
    let mut old = tidewatch_workflow::alerts::Alerts::new(Default::default());
    for (i, story) in ["5", "6"].iter().enumerate() {
        let s = tidewatch_workflow::alerts::SignalIn {
            id: i as i64 + 1,
            kind: "burst".into(),
            severity: tidewatch_workflow::alerts::Severity::High,
            at: t0(),
            topic: None,
            unit: None,
            story: Some(story.to_string()),
            title: format!("old {story}"),
            details: vec![],
        };
        old.ingest(&s, t0());
    }
    old.resolve(1, "li", t0()).unwrap();
    let mut json: serde_json::Value = serde_json::to_value(&old).unwrap();
    // As stored before alerts linked to cases (no `case` field).
    for a in json["alerts"].as_array_mut().unwrap() {
        a.as_object_mut().unwrap().remove("case");
    }
    let conn = rusqlite::Connection::open(tmp.path().join("tidewatch.db")).unwrap();
    conn.execute("INSERT INTO alerting_state (key, value) VALUES ('alerts', ?1)", [json.to_string()]).unwrap();
    let (base, _got) = receiver(0);
    let alerting = Alerting::open(&mut db, config(&base)).unwrap();
    assert_eq!(alerting.alerts().alerts.iter().map(|a| a.id).collect::<Vec<_>>(), [2], "the open one in memory");
    assert_eq!(alerting.alert(&db, 1).unwrap().unwrap().title, "old 5", "the resolved one archived");
    assert!(db.alerting_state().unwrap().alerts.is_none(), "the document is gone");
    drop(alerting);
    let alerting = Alerting::open(&mut db, config(&base)).unwrap();
    assert_eq!(alert_rows(tmp.path()).len(), 2, "moved once");
    assert_eq!(alerting.alerts().next_id, 3);
}
