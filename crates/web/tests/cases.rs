//! The procedure (舆情研判 → 分类处置 → 总结评估) through the HTTP API with real accounts: a
//! burst on the canteen story alerts the duty officer; she opens a case from the alert and files
//! the first report; the analyst grades it II (the leading group is notified) and classifies it
//! as hype; the playbook's tasks appear with deadlines; one task is done in time and one is
//! missed (the unit lead gets the escalation); later signals on the story update the case, not
//! new alerts; the case closes and its review shows times computed from the timeline; each step
//! is in the audit log. Time is the server's clock, moved by the test.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::sync::Arc;
use tidewatch_engine::accounts::{self, Actor};
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_model::ItemInput;
use tidewatch_store::{PersonRow, TopicDraft, UnitRow};
use tidewatch_text::segment::Segmenter;
use tidewatch_web::auth::AuthConfig;
use tidewatch_web::AppState;
use tidewatch_workflow::access::{Grant, Grants, Role};
use tower::ServiceExt;

const HOST: &str = "127.0.0.1:8080";
const PASSWORD: &str = "a long pass phrase 77";

fn alerting_toml(day: chrono::NaiveDate) -> String {
    format!(
        r#"
[timing]
group_wait_seconds = 0
group_interval_seconds = 300
repeat_interval_seconds = 14400
[[person]]
id = "officer"
channels = [{{ kind = "email", to = "officer@example.org" }}]
[[unit]]
id = "后勤集团"
[[unit.schedule.layers]]
name = "all day"
zone = "Asia/Shanghai"
members = ["officer"]
start = "{day}"
handoff = "00:00:00"
period = {{ every = "day" }}
cover = {{ cover = "full_day" }}
[[policy]]
name = "p"
[[policy.steps]]
targets = [{{ type = "on_duty", value = "后勤集团" }}]
delay_minutes = 5
[route]
policy = "p"
"#
    )
}

fn item(id: &str, source: &str, text: &str, at: DateTime<Utc>) -> ItemInput {
    ItemInput {
        id: Some(id.into()),
        source: Some(source.into()),
        text: Some(text.into()),
        published_at: Some(at),
        ..Default::default()
    }
}

fn person(id: &str) -> PersonRow {
    PersonRow {
        id: id.into(),
        name: id.into(),
        lang: "zh".into(),
        email: Some(format!("{id}@example.org")),
        phone: None,
        dingtalk: None,
        wecom: None,
        feishu: None,
        channels: json!([{"kind": "email", "to": format!("{id}@example.org")}]).to_string(),
        updated_at: Utc::now(),
    }
}

struct Client {
    app: axum::Router,
    cookie: String,
    csrf: String,
}

impl Client {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", HOST)
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf);
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        let req = b.body(Body::from(body.map(|v| v.to_string()).unwrap_or_default())).unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 4 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method.clone(), path, body).await;
        assert!(s.is_success(), "{method} {path}: {s} {v}");
        v
    }
}

async fn login(app: &axum::Router, name: &str) -> Client {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/login")
        .header("host", HOST)
        .header("content-type", "application/json")
        .body(Body::from(json!({"username": name, "password": PASSWORD}).to_string()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "login {name}");
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    Client { app: app.clone(), cookie, csrf: v["csrf_token"].as_str().unwrap().to_string() }
}

fn set_clock(state: &AppState, at: DateTime<Utc>) {
    state.clock_ms.store(at.timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
}

fn outbox_to(root: &std::path::Path, who: &str, key_part: &str) -> usize {
    let db = tidewatch_store::Db::open(root).unwrap();
    let conn = rusqlite::Connection::open(root.join("tidewatch.db")).unwrap();
    drop(db);
    conn.query_row(
        "SELECT COUNT(*) FROM outbox WHERE recipient = ?1 AND key LIKE ?2",
        rusqlite::params![who, format!("%{key_part}%")],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as usize
}

#[test]
fn the_procedure_runs_from_a_burst_to_an_approved_review() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    let data = DataDir::new(&root);
    let mut p = Pipeline::open(&data, Segmenter::shared_default(), PipelineConfig::default()).unwrap();
    // All of it happened in the last week: the burst 40 hours ago.
    let t = DateTime::from_timestamp_millis((Utc::now() - Duration::hours(60)).timestamp_millis()).unwrap();
    let by = Actor::local("setup");
    let db = p.db_mut();
    let unit = |id: &str, parent: Option<&str>, first: &str, direct: &str| UnitRow {
        id: id.into(),
        name: id.into(),
        parent: parent.map(str::to_string),
        first_responsible: Some(first.into()),
        direct_responsible: Some(direct.into()),
        updated_at: Utc::now(),
    };
    for id in ["officer", "analyst_p", "li", "zhao", "chen", "wang"] {
        accounts::save_person(db, &by, None, person(id), Utc::now()).unwrap();
    }
    accounts::save_unit(db, &by, None, unit("领导小组", None, "chen", "zhao"), Utc::now()).unwrap();
    accounts::save_unit(db, &by, None, unit("后勤集团", Some("领导小组"), "wang", "li"), Utc::now()).unwrap();
    let scoped = |role: Role, unit: Option<&str>| Grants(vec![Grant { role, unit: unit.map(str::to_string) }]);
    for (name, grants, person) in [
        ("duty", scoped(Role::DutyOfficer, Some("后勤集团")), "officer"),
        ("analyst", scoped(Role::Analyst, None), "analyst_p"),
        ("lead", scoped(Role::UnitLead, Some("后勤集团")), "li"),
        ("approver", scoped(Role::Approver, None), "zhao"),
    ] {
        let new = accounts::NewAccount { username: name, password: PASSWORD, grants: &grants, person: Some(person) };
        accounts::create_account(db, &by, None, new, Utc::now()).unwrap();
    }
    let topic = TopicDraft {
        id: "canteen".into(),
        name: "食堂".into(),
        rule: "食堂 AND (难吃 OR 发霉 OR 涨价 OR 异物)".into(),
        unit: Some("后勤集团".into()),
        severity: "medium".into(),
        enabled: true,
    };
    p.db_mut().save_topic(&topic, "test", t - Duration::days(6)).unwrap();
    p.reload_topics().unwrap();
    // Five quiet days, then a burst: 25 posts within the hour.
    let mut quiet = Vec::new();
    for h in (0..120).step_by(8) {
        let at = t - Duration::hours(125) + Duration::hours(h);
        quiet.push(item(&format!("q{h}"), "weibo", &format!("二食堂今天的菜有点难吃，第{}次了", h / 8 + 1), at));
        quiet.push(item(&format!("o{h}"), "forum", &format!("图书馆今天{}点关门", h % 12 + 8), at));
    }
    p.ingest(&quiet, t - Duration::hours(5)).unwrap();
    let burst: Vec<ItemInput> = (0..25)
        .map(|i| {
            item(
                &format!("b{i}"),
                ["weibo", "forum", "zhihu", "douyin"][i % 4],
                &format!("二食堂的饭菜里吃出异物，还发霉了，同学们都很气愤，已经{}个人拉肚子", i + 2),
                t - Duration::minutes(58) + Duration::minutes(2 * i as i64),
            )
        })
        .collect();
    p.ingest(&burst, t).unwrap();
    let bursts = p.db().signals_of_kind("burst", 50).unwrap();
    let story: i64 = bursts
        .iter()
        .find_map(|s| s.story.as_ref().and_then(|x| x.parse().ok()))
        .unwrap_or_else(|| panic!("a burst on the canteen story: {bursts:?}"));

    let state = AppState::open(&data, p, AuthConfig::for_addr(HOST.parse().unwrap())).unwrap();
    let day = (t - Duration::days(1)).with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let config = tidewatch_engine::alerting::AlertingConfig::from_toml(&alerting_toml(day)).unwrap();
    state.enable_alerting(&data, config).unwrap();
    let app = tidewatch_web::router(state.clone());
    set_clock(&state, t);
    state.alerting_tick(state.now()).unwrap();
    assert_eq!(outbox_to(&root, "officer", "alert:"), 1, "the duty officer is alerted");

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let duty = login(&app, "duty").await;
        let analyst = login(&app, "analyst").await;
        let lead = login(&app, "lead").await;
        let approver = login(&app, "approver").await;
        let alerts = duty.ok(Method::GET, "/api/v1/alerts", None).await;
        let alert = alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["story"] == json!(story.to_string()))
            .unwrap_or_else(|| panic!("an alert on the story: {alerts}"))
            .clone();

        // 10 minutes later she opens a case from it; 20 minutes later the first report.
        set_clock(&state, t + Duration::minutes(10));
        let (s, case) =
            duty.call(Method::POST, "/api/v1/cases", Some(json!({"alert": alert["id"], "owner": "officer"}))).await;
        assert_eq!(s, StatusCode::CREATED, "{case}");
        let id = case["id"].as_i64().unwrap();
        let path = format!("/api/v1/cases/{id}");
        assert_eq!(case["state"], "new");
        assert_eq!(case["unit"], "后勤集团");
        let a = duty.ok(Method::GET, &format!("/api/v1/alerts/{}", alert["id"]), None).await;
        assert_eq!((a["alert"]["case"].as_i64(), a["alert"]["state"].as_str()), (Some(id), Some("acknowledged")));
        // The duty officer may not grade.
        let (s, _) = duty
            .call(Method::POST, &format!("{path}/assessment"), Some(json!({"grade": "II", "assessment": "x"})))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // Classifying before the first report is refused with the typed error, in both languages.
        let (s, e) = analyst
            .call(Method::POST, &format!("{path}/classification"), Some(json!({"classification": "hype"})))
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(e["error"]["case"]["code"], "transition", "{e}");
        assert!(e["error"]["case"]["message_zh"].as_str().unwrap().contains("新建"));
        set_clock(&state, t + Duration::minutes(30));
        let report = json!({"started_at": t - Duration::hours(1), "place": "二食堂", "units": ["后勤集团"],
            "groups": ["在校学生"], "development": "微博、知乎扩散，约 25 条", "reporter": "值班员"});
        let c = duty.ok(Method::POST, &format!("{path}/reports"), Some(report)).await;
        assert_eq!(c["state"], "assessing");

        // The analyst grades it II an hour after opening: the leading group's lead is notified.
        set_clock(&state, t + Duration::minutes(70));
        let c = analyst
            .ok(
                Method::POST,
                &format!("{path}/assessment"),
                Some(json!({"grade": "II", "assessment": "扩散快，涉及食品安全"})),
            )
            .await;
        assert_eq!(c["grades"][0]["grade"], "II");
        assert_eq!(outbox_to(&root, "zhao", &format!("case:{id}:grade:II")), 1, "the leading group is told at once");
        let c =
            analyst.ok(Method::POST, &format!("{path}/classification"), Some(json!({"classification": "hype"}))).await;
        assert_eq!(c["state"], "handling");
        let tasks = c["tasks"].as_array().unwrap();
        let publish = tasks.iter().find(|t| t["key"] == "publish_facts").unwrap();
        assert_eq!(publish["state"], "open");
        let due: DateTime<Utc> = serde_json::from_value(publish["due_at"].clone()).unwrap();
        assert_eq!(due, t + Duration::minutes(70) + Duration::hours(4), "4 h at grade II");
        assert_eq!(tasks.iter().find(|t| t["key"] == "refer_discipline").unwrap()["state"], "waiting");
        // The approver (leading group) acknowledges the escalation.
        approver.ok(Method::POST, &format!("{path}/acknowledge"), None).await;

        // Facts published after 2 h (in time).
        set_clock(&state, t + Duration::minutes(190));
        let c = analyst
            .ok(
                Method::POST,
                &format!("{path}/tasks/publish_facts/done"),
                Some(json!({"note": "官方微博发布情况通报"})),
            )
            .await;
        assert_eq!(c["tasks"][0]["state"], "done");
        // The story goes on: 60 more posts over the next hours, and a signal on the story.
        {
            let more: Vec<ItemInput> = (0..60)
                .map(|i| {
                    item(
                        &format!("m{i}"),
                        ["weibo", "forum", "zhihu", "douyin"][i % 4],
                        &format!("二食堂的饭菜里吃出异物，还发霉了，同学们都很气愤，已经{}个人拉肚子", i + 30),
                        t + Duration::minutes(200) + Duration::minutes(3 * i as i64),
                    )
                })
                .collect();
            let mut p = state.pipeline.lock().unwrap();
            p.ingest(&more, t + Duration::hours(7)).unwrap();
            p.db_mut()
                .add_signal(&tidewatch_store::Signal {
                    id: 0,
                    kind: "burst".into(),
                    severity: "high".into(),
                    created_at: t + Duration::hours(7),
                    source: None,
                    topic: Some("canteen".into()),
                    story: Some(story.to_string()),
                    title: "二食堂 story still rising".into(),
                    explanation: "{}".into(),
                })
                .unwrap();
        }
        set_clock(&state, t + Duration::hours(7));
        state.alerting_tick(state.now()).unwrap();
        let alerts = duty.ok(Method::GET, "/api/v1/alerts", None).await;
        let on_story = alerts.as_array().unwrap().iter().filter(|a| a["story"] == json!(story.to_string())).count();
        assert_eq!(on_story, 1, "later signals on the story update the case, not a new alert: {alerts}");
        let got = duty.ok(Method::GET, &path, None).await;
        assert!(got["case"]["signals"].as_u64().unwrap() >= 1, "{}", got["case"]);
        assert!(got["timeline"].as_array().unwrap().iter().any(|e| e["kind"] == "signal"));

        // A day after publication the volume has not fallen: the referral task starts (24 h).
        set_clock(&state, t + Duration::minutes(190) + Duration::hours(24) + Duration::minutes(1));
        state.alerting_tick(state.now()).unwrap();
        let got = duty.ok(Method::GET, &path, None).await;
        let refer =
            got["case"]["tasks"].as_array().unwrap().iter().find(|t| t["key"] == "refer_discipline").unwrap().clone();
        assert_eq!(refer["state"], "open", "{}", got["timeline"]);
        // It is missed: the unit lead gets the escalation, once.
        set_clock(&state, t + Duration::hours(52));
        state.alerting_tick(state.now()).unwrap();
        state.alerting_tick(state.now()).unwrap();
        assert_eq!(outbox_to(&root, "li", &format!("case:{id}:missed:refer_discipline")), 1);
        let overdue = lead.ok(Method::GET, "/api/v1/cases?overdue=true", None).await;
        assert_eq!(overdue.as_array().unwrap().len(), 1, "{overdue}");
        // The lead records the referral late, and the case moves to monitoring and closes.
        set_clock(&state, t + Duration::hours(53));
        lead.ok(Method::POST, &format!("{path}/tasks/refer_discipline/done"), Some(json!({"note": "已移交纪委"})))
            .await;
        let (s, e) = duty.call(Method::POST, &format!("{path}/close"), Some(json!({"summary": "x"}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        lead.ok(Method::POST, &format!("{path}/monitor"), None).await;
        set_clock(&state, t + Duration::hours(70));
        let c = lead.ok(Method::POST, &format!("{path}/close"), Some(json!({"summary": "热度回落，处置完毕"}))).await;
        assert_eq!(c["state"], "closed");

        // The review: times from the timeline.
        let got = duty.ok(Method::GET, &path, None).await;
        let r = &got["review_figures"];
        assert_eq!(r["minutes_to_acknowledge"], 10, "{r}");
        assert_eq!(r["minutes_to_first_report"], 20);
        assert_eq!(r["minutes_to_grade"], 60);
        assert_eq!(r["minutes_to_first_response"], 180);
        assert_eq!(r["minutes_to_close"], 70 * 60 - 10);
        assert_eq!((r["deadlines_met"].as_u64(), r["deadlines_missed"].as_u64()), (Some(1), Some(1)));
        assert!(r["minutes_to_detect"].as_i64().unwrap() >= 0, "{r}");
        let before: i64 = r["before_response"].as_array().unwrap().iter().map(|h| h["items"].as_i64().unwrap()).sum();
        let after: i64 = r["after_response"].as_array().unwrap().iter().map(|h| h["items"].as_i64().unwrap()).sum();
        assert!(before >= 25 && after >= 40 && after > before, "hourly series before {before}, after {after}");
        let kinds: Vec<&str> =
            got["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        for k in [
            "opened",
            "report",
            "assessment",
            "escalation",
            "classification",
            "task_started",
            "task_done",
            "deadline_met",
            "deadline_missed",
            "acknowledged",
            "signal",
            "volume_checked",
            "monitoring",
            "closed",
        ] {
            assert!(kinds.contains(&k), "{k} in the timeline: {kinds:?}");
        }
        let (s, e) = analyst
            .call(Method::POST, &format!("{path}/review"), Some(json!({"worked": "w",
                "actions": [{"text": "改规则", "topic": "canteen", "rule": "食堂 AND ("}]})))
            .await;
        assert_eq!((s, e["error"]["case"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("field")), "{e}");
        let c = analyst
            .ok(Method::POST, &format!("{path}/review"), Some(json!({"worked": "通报及时", "lessons": "移交应更早",
                "actions": ["食堂卫生检查纳入周报",
                    {"text": "把“拉肚子”也算进食堂专题", "topic": "canteen", "rule": "食堂 AND (难吃 OR 发霉 OR 涨价 OR 异物 OR 拉肚子)"}]})))
            .await;
        let bt = &c["review"]["notes"]["actions"][1]["backtest"];
        assert!(bt["hits"].as_u64().unwrap() >= bt["current_hits"].as_u64().unwrap(), "{bt}");
        assert_eq!(bt["current_version"], 1);
        let (s, _) = approver.call(Method::POST, &format!("{path}/review/approve"), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "approving a review is the owner unit lead's");
        let c = lead.ok(Method::POST, &format!("{path}/review/approve"), None).await;
        assert_eq!(c["state"], "reviewed");

        // Every step is in the audit log, by whom.
        let admin_grants = Grants(vec![Grant { role: Role::Admin, unit: None }]);
        {
            let mut db = state.auth.lock().unwrap();
            let new =
                accounts::NewAccount { username: "admin", password: PASSWORD, grants: &admin_grants, person: None };
            accounts::create_account(&mut db, &Actor::local("t"), None, new, Utc::now()).unwrap();
        }
        let admin = login(&app, "admin").await;
        // The admin accepts the proposed rule: the topic gets a new version.
        let (s, _) = lead.call(Method::POST, &format!("{path}/review/proposals/1"), Some(json!({"accept": true}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "only an admin edits topics");
        let (s, e) = admin.call(Method::POST, &format!("{path}/review/proposals/0"), Some(json!({"accept": true}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "action 0 proposes no rule: {e}");
        let c = admin.ok(Method::POST, &format!("{path}/review/proposals/1"), Some(json!({"accept": true}))).await;
        assert_eq!(c["review"]["notes"]["actions"][1]["decision"]["accepted"], true);
        let topic = admin.ok(Method::GET, "/api/v1/topics/canteen", None).await;
        assert_eq!(topic["version"], 2, "{topic}");
        assert!(topic["rule"].as_str().unwrap().contains("拉肚子"));
        let (s, _) = admin.call(Method::POST, &format!("{path}/review/proposals/1"), Some(json!({"accept": false, "reason": "x"}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "decided once");
        let log = admin.ok(Method::GET, "/api/v1/audit?limit=200", None).await;
        let entries: Vec<(String, String)> = log
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["object"] == json!(format!("case:{id}")))
            .map(|e| (e["actor"].as_str().unwrap().to_string(), e["action"].as_str().unwrap().to_string()))
            .collect();
        for (who, what) in [
            ("duty", "case.open"),
            ("duty", "case.report"),
            ("analyst", "case.assess"),
            ("analyst", "case.classify"),
            ("approver", "case.acknowledge"),
            ("analyst", "case.complete_task"),
            ("lead", "case.complete_task"),
            ("lead", "case.monitor"),
            ("lead", "case.close"),
            ("analyst", "case.submit_review"),
            ("lead", "case.approve_review"),
            ("admin", "case.decide_proposal"),
        ] {
            assert!(entries.iter().any(|(a, b)| a == who && b == what), "{who} {what} audited: {entries:?}");
        }
        assert!(log.as_array().unwrap().iter().any(|e| e["action"] == "topic.save" && e["actor"] == "admin"));
        let verify = admin.ok(Method::GET, "/api/v1/audit/verify", None).await;
        assert_eq!(verify["ok"], true, "{verify}");
        let figures = lead
            .ok(
                Method::GET,
                &format!("/api/v1/units/figures?year={}", {
                    use chrono::Datelike;
                    (t + Duration::minutes(10)).with_timezone(&chrono_tz::Asia::Shanghai).year()
                }),
                None,
            )
            .await;
        let u = &figures["units"][0];
        assert_eq!(
            (u["unit"].as_str(), u["cases"].as_u64(), u["reviews_done"].as_u64()),
            (Some("后勤集团"), Some(1), Some(1))
        );
        assert_eq!(u["deadlines_met_pct"], 50.0);
    });
    drop(tmp);
    let _ = Arc::clone(&state);
}

#[test]
fn case_endpoints_answer_malformed_and_hostile_input_with_coded_errors_and_keep_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    let data = DataDir::new(&root);
    let mut p = Pipeline::open(&data, Segmenter::shared_default(), PipelineConfig::default()).unwrap();
    let by = Actor::local("setup");
    let unit = UnitRow {
        id: "后勤集团".into(),
        name: "后勤集团".into(),
        parent: None,
        first_responsible: None,
        direct_responsible: None,
        updated_at: Utc::now(),
    };
    accounts::save_unit(p.db_mut(), &by, None, unit, Utc::now()).unwrap();
    let g = Grants(vec![Grant { role: Role::Admin, unit: None }]);
    let new = accounts::NewAccount { username: "admin", password: PASSWORD, grants: &g, person: None };
    accounts::create_account(p.db_mut(), &by, None, new, Utc::now()).unwrap();
    p.ingest(&[item("a", "weibo", "二食堂的饭菜里吃出异物", Utc::now())], Utc::now()).unwrap();
    let state = AppState::open(&data, p, AuthConfig::for_addr(HOST.parse().unwrap())).unwrap();
    let app = tidewatch_web::router(state.clone());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let admin = login(&app, "admin").await;
        let (s, c) = admin
            .call(Method::POST, "/api/v1/cases", Some(json!({"items": [1], "title": "食堂", "unit": "后勤集团"})))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let long = "长".repeat(20_001);
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let cases: Vec<(Method, &str, Option<Value>, StatusCode, &str)> = vec![
            (
                Method::POST,
                "/api/v1/cases",
                Some(json!({"title": "x", "unit": "后勤集团"})),
                StatusCode::BAD_REQUEST,
                "bad_body",
            ),
            (
                Method::POST,
                "/api/v1/cases",
                Some(json!({"items": [1], "title": "x", "unit": "没有"})),
                StatusCode::BAD_REQUEST,
                "bad_body",
            ),
            (
                Method::POST,
                "/api/v1/cases",
                Some(json!({"items": [999], "title": "x", "unit": "后勤集团"})),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                Method::POST,
                "/api/v1/cases",
                Some(json!({"items": [1], "title": "x".repeat(300), "unit": "后勤集团"})),
                StatusCode::BAD_REQUEST,
                "bad_body",
            ),
            (
                Method::POST,
                "/api/v1/cases",
                Some(json!({"items": [1], "title": "x", "unit": "后勤集团", "secret": 1})),
                StatusCode::BAD_REQUEST,
                "bad_body",
            ),
            (Method::POST, "/api/v1/cases", Some(json!({"alert": 5})), StatusCode::NOT_FOUND, "not_found"),
            (
                Method::POST,
                "/api/v1/cases",
                Some(json!({"items": (0..201).collect::<Vec<i64>>(), "title": "x", "unit": "后勤集团"})),
                StatusCode::BAD_REQUEST,
                "bad_body",
            ),
            (Method::GET, "/api/v1/cases/abc", None, StatusCode::BAD_REQUEST, "bad_parameter"),
            (Method::GET, "/api/v1/cases/0", None, StatusCode::BAD_REQUEST, "bad_parameter"),
            (Method::GET, "/api/v1/cases/99999999999999999999", None, StatusCode::BAD_REQUEST, "bad_parameter"),
            (Method::GET, "/api/v1/cases/42", None, StatusCode::NOT_FOUND, "not_found"),
            (Method::GET, "/api/v1/cases?limit=0", None, StatusCode::BAD_REQUEST, "bad_parameter"),
            (Method::GET, "/api/v1/cases?state=open", None, StatusCode::BAD_REQUEST, "bad_parameter"),
            (Method::GET, "/api/v1/cases?grade=V", None, StatusCode::BAD_REQUEST, "bad_parameter"),
            (Method::GET, "/api/v1/cases?year=99999", None, StatusCode::BAD_REQUEST, "bad_parameter"),
            (Method::GET, "/api/v1/cases?x=1", None, StatusCode::BAD_REQUEST, "bad_parameter"),
            (Method::GET, "/api/v1/units/figures?year=-5", None, StatusCode::BAD_REQUEST, "bad_parameter"),
            (
                Method::POST,
                "/api/v1/cases/1/reports",
                Some(json!({"development": long})),
                StatusCode::BAD_REQUEST,
                "bad_body",
            ),
            (Method::POST, "/api/v1/cases/1/reports", Some(json!({"place": "x"})), StatusCode::BAD_REQUEST, "bad_body"),
            (
                Method::POST,
                "/api/v1/cases/1/assessment",
                Some(json!({"grade": "V", "assessment": "x"})),
                StatusCode::BAD_REQUEST,
                "bad_body",
            ),
            (
                Method::POST,
                "/api/v1/cases/1/assessment",
                Some(json!({"grade": "II", "assessment": "x"})),
                StatusCode::CONFLICT,
                "conflict",
            ),
            (
                Method::POST,
                "/api/v1/cases/1/classification",
                Some(json!({"classification": "politics"})),
                StatusCode::BAD_REQUEST,
                "bad_body",
            ),
            (Method::POST, "/api/v1/cases/1/tasks/nothing/done", Some(json!({})), StatusCode::NOT_FOUND, "not_found"),
            (
                Method::POST,
                "/api/v1/cases/1/tasks/x/reassign",
                Some(json!({"to": "nobody"})),
                StatusCode::CONFLICT,
                "conflict",
            ),
            (Method::DELETE, "/api/v1/cases/1/evidence/person/1", None, StatusCode::BAD_REQUEST, "bad_parameter"),
            (Method::DELETE, "/api/v1/cases/1/evidence/item/7", None, StatusCode::CONFLICT, "conflict"),
            (
                Method::POST,
                "/api/v1/cases/1/evidence",
                Some(json!({"kind": "story", "id": 9999})),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (Method::POST, "/api/v1/cases/1/close", Some(json!({"summary": ""})), StatusCode::CONFLICT, "conflict"),
            (Method::POST, "/api/v1/cases/1/review/approve", None, StatusCode::CONFLICT, "conflict"),
            (Method::PATCH, "/api/v1/cases/1", Some(json!({"owner": "ghost"})), StatusCode::BAD_REQUEST, "bad_body"),
        ];
        for (method, path, body, status, code) in cases {
            let (s, v) = admin.call(method.clone(), path, body).await;
            assert_eq!((s, v["error"]["code"].as_str()), (status, Some(code)), "{method} {path}: {v}");
        }
        // Bodies that are not JSON, or JSON nested beyond reason.
        for raw in ["{", "null", "[]", deep.as_str(), "{\"development\": \"\u{0}\"}"] {
            let req = Request::builder()
                .method(Method::POST)
                .uri("/api/v1/cases/1/reports")
                .header("host", HOST)
                .header("cookie", &admin.cookie)
                .header("x-csrf-token", &admin.csrf)
                .header("content-type", "application/json")
                .body(Body::from(raw.to_string()))
                .unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            assert!(res.status().is_client_error() || res.status().is_success(), "{raw:.20}: {}", res.status());
        }
        // Nothing was damaged: one case, readable, in the state its accepted events left it.
        let list = admin.ok(Method::GET, "/api/v1/cases", None).await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        let got = admin.ok(Method::GET, "/api/v1/cases/1", None).await;
        assert!(matches!(got["case"]["state"].as_str(), Some("new" | "assessing")), "{got}");
        let verify = admin.ok(Method::GET, "/api/v1/audit/verify", None).await;
        assert_eq!(verify["ok"], true);
    });
}

/// Issue 14, through the HTTP API with real accounts: an analyst drafts a clarification on a
/// fabrication case; the chain (section head → legal office → deputy head) runs; the legal step
/// returns it with a comment; the drafter edits it and the diff shows the changed words; the
/// chain restarts for the new version and completes; the drafter cannot approve their own draft;
/// the response is published and the claim becomes clarified with the time; denying items rise
/// after it; all of it is on the case's timeline and in the audit log.
#[test]
fn a_clarification_goes_through_its_chain_and_answers_the_claim() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("chains.toml"),
        r#"
default = "fabrication"
[[chain]]
name = "fabrication"
[[chain.step]]
name = "section head"
approver = { role = { role = "unit_lead", unit = "case_unit" } }
[[chain.step]]
name = "legal office"
approver = { role = { role = "unit_lead", unit = { named = "法务处" } } }
[[chain.step]]
name = "deputy head"
approver = { role = { role = "approver", unit = "leading_group" } }
[[own_channel]]
kind = "webhook"
url = "http://127.0.0.1:9/press-office"
"#,
    )
    .unwrap();
    let data = DataDir::new(&root);
    let mut p = Pipeline::open(&data, Segmenter::shared_default(), PipelineConfig::default()).unwrap();
    let t = DateTime::from_timestamp_millis((Utc::now() - Duration::hours(48)).timestamp_millis()).unwrap();
    let by = Actor::local("setup");
    let db = p.db_mut();
    for id in ["xu", "wang", "fa", "zhao", "chen"] {
        accounts::save_person(db, &by, None, person(id), Utc::now()).unwrap();
    }
    let unit = |id: &str, parent: Option<&str>, first: &str| UnitRow {
        id: id.into(),
        name: id.into(),
        parent: parent.map(str::to_string),
        first_responsible: Some(first.into()),
        direct_responsible: None,
        updated_at: Utc::now(),
    };
    accounts::save_unit(db, &by, None, unit("领导小组", None, "chen"), Utc::now()).unwrap();
    accounts::save_unit(db, &by, None, unit("后勤集团", Some("领导小组"), "wang"), Utc::now()).unwrap();
    accounts::save_unit(db, &by, None, unit("法务处", Some("领导小组"), "fa"), Utc::now()).unwrap();
    let grant = |role: Role, unit: Option<&str>| Grants(vec![Grant { role, unit: unit.map(str::to_string) }]);
    for (name, grants, person) in [
        (
            "xu",
            Grants(vec![
                Grant { role: Role::Analyst, unit: None },
                Grant { role: Role::UnitLead, unit: Some("后勤集团".into()) },
            ]),
            "xu",
        ),
        ("wang", grant(Role::UnitLead, Some("后勤集团")), "wang"),
        ("fa", grant(Role::UnitLead, Some("法务处")), "fa"),
        ("zhao", grant(Role::Approver, Some("领导小组")), "zhao"),
    ] {
        let new = accounts::NewAccount { username: name, password: PASSWORD, grants: &grants, person: Some(person) };
        accounts::create_account(db, &by, None, new, Utc::now()).unwrap();
    }
    // The rumour spreads for three hours before the clarification (at t).
    let rumour: Vec<ItemInput> = (0..12)
        .map(|i| {
            item(
                &format!("r{i}"),
                "weibo",
                &format!("听说三食堂饭菜致多人中毒，已经有{}人送医", i + 3),
                t - Duration::minutes(170) + Duration::minutes(14 * i as i64),
            )
        })
        .collect();
    p.ingest(&rumour, t - Duration::minutes(5)).unwrap();
    let story = p.db().story_of(tidewatch_model::ItemId(1)).unwrap().unwrap();
    let state = AppState::open(&data, p, AuthConfig::for_addr(HOST.parse().unwrap())).unwrap();
    assert!(state.cases_problems().is_empty(), "{:?}", state.cases_problems());
    let app = tidewatch_web::router(state.clone());
    set_clock(&state, t - Duration::minutes(150));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let xu = login(&app, "xu").await;
        let wang = login(&app, "wang").await;
        let fa = login(&app, "fa").await;
        let zhao = login(&app, "zhao").await;
        let c = xu.ok(Method::POST, "/api/v1/cases", Some(json!({"story": story, "unit": "后勤集团", "title": "网传三食堂中毒"}))).await;
        let case = c["id"].as_i64().unwrap();
        xu.ok(Method::POST, &format!("/api/v1/cases/{case}/reports"), Some(json!({"development": "微博传播"}))).await;
        xu.ok(Method::POST, &format!("/api/v1/cases/{case}/assessment"), Some(json!({"grade": "III", "assessment": "不实信息"}))).await;
        xu.ok(Method::POST, &format!("/api/v1/cases/{case}/classification"), Some(json!({"classification": "fabrication"}))).await;

        // The claim, its suggested items (the rumour posts), linked as supporting; status false.
        let (s, claim) = xu
            .call(Method::POST, &format!("/api/v1/cases/{case}/claims"), Some(json!({"text": "三食堂饭菜致多人中毒", "key_terms": ["三食堂", "中毒"]})))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{claim}");
        let cl = claim["id"].as_i64().unwrap();
        let detail = xu.ok(Method::GET, &format!("/api/v1/claims/{cl}"), None).await;
        let suggested: Vec<i64> = detail["suggestions"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        assert_eq!(suggested.len(), 12, "{detail}");
        for id in &suggested {
            xu.ok(Method::POST, &format!("/api/v1/claims/{cl}/items"), Some(json!({"item": id, "stance": "supporting"}))).await;
        }
        let (s, _) = xu.call(Method::POST, &format!("/api/v1/claims/{cl}/status"), Some(json!({"status": "false"}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "a status needs its evidence");
        xu.ok(Method::POST, &format!("/api/v1/claims/{cl}/status"), Some(json!({"status": "false", "evidence": "疾控中心检测报告：未检出致病菌"}))).await;

        // The draft and its chain.
        set_clock(&state, t - Duration::minutes(120));
        let (s, r) = xu
            .call(Method::POST, &format!("/api/v1/cases/{case}/responses"), Some(json!({"kind": "clarification", "title": "关于网传三食堂致多人中毒的情况说明",
                "body": "经查，网传信息不实。三食堂饭菜经检测合格。", "places": ["official_account"], "audience": "师生", "claim": cl})))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        assert_eq!(r["chain"]["name"], "fabrication");
        let rid = r["id"].as_i64().unwrap();
        let rp = |s: &str| format!("/api/v1/responses/{rid}{s}");
        xu.ok(Method::POST, &rp("/submit"), None).await;
        assert_eq!(outbox_to(&root, "wang", &format!("response:{rid}:v1:s0:request")), 1, "the section head is asked");
        let body: String = rusqlite::Connection::open(root.join("tidewatch.db"))
            .unwrap()
            .query_row("SELECT body FROM outbox WHERE key LIKE ?1", [format!("response:{rid}:v1:s0:request%")], |r| r.get(0))
            .unwrap();
        assert!(body.contains(&format!("#response-{rid}")) && body.contains("发布期限"), "a link and the playbook's deadline: {body}");
        let (s, e) = xu.call(Method::POST, &rp("/approve"), Some(json!({"version": 1}))).await;
        assert_eq!((s, e["error"]["response"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("own_draft")), "{e}");
        let (s, e) = fa.call(Method::POST, &rp("/approve"), Some(json!({"version": 1}))).await;
        assert_eq!((s, e["error"]["response"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_approver")), "not the legal step yet: {e}");
        wang.ok(Method::POST, &rp("/approve"), Some(json!({"version": 1, "comment": "同意"}))).await;
        assert_eq!(outbox_to(&root, "fa", &format!("response:{rid}:v1:s1:request")), 1, "then the legal office");
        let r = fa.ok(Method::POST, &rp("/return"), Some(json!({"version": 1, "comment": "“不实”改为“与事实不符”"}))).await;
        assert_eq!(r["state"], "draft");
        set_clock(&state, t - Duration::minutes(60));
        xu.ok(Method::POST, &rp("/versions"), Some(json!({"title": "关于网传三食堂致多人中毒的情况说明",
            "body": "经查，网传信息与事实不符。三食堂饭菜经检测合格。"}))).await;
        let diff = xu.ok(Method::GET, &rp("/diff?from=1&to=2"), None).await;
        let parts: Vec<(String, String)> = diff["body"].as_array().unwrap().iter()
            .map(|p| (p["op"].as_str().unwrap().to_string(), p["text"].as_str().unwrap().to_string())).collect();
        assert!(parts.contains(&("removed".into(), "不实".into())), "{parts:?}");
        assert!(parts.iter().any(|(op, t)| op == "added" && t.contains("与事实不符")), "{parts:?}");
        assert!(parts.iter().any(|(op, t)| op == "same" && t.contains("三食堂")), "{parts:?}");
        xu.ok(Method::POST, &rp("/submit"), None).await;
        let (s, e) = wang.call(Method::POST, &rp("/approve"), Some(json!({"version": 1}))).await;
        assert_eq!((s, e["error"]["response"]["code"].as_str()), (StatusCode::CONFLICT, Some("superseded")), "{e}");
        wang.ok(Method::POST, &rp("/approve"), Some(json!({"version": 2}))).await;
        fa.ok(Method::POST, &rp("/approve"), Some(json!({"version": 2}))).await;
        let (s, _) = xu.call(Method::POST, &rp("/publish"), Some(json!({"places": [{"place": "official_account"}]}))).await;
        assert_eq!(s, StatusCode::CONFLICT, "not approved yet");
        let r = zhao.ok(Method::POST, &rp("/approve"), Some(json!({"version": 2, "comment": "可发布"}))).await;
        assert_eq!(r["state"], "approved");

        // Published at t: the claim is clarified then.
        set_clock(&state, t);
        let r = xu
            .ok(Method::POST, &rp("/publish"), Some(json!({"places": [{"place": "official_account", "url": "https://weibo.example/status/1"},
                {"place": "own_channels"}]})))
            .await;
        assert_eq!(outbox_to(&root, "own-channel-0", &format!("response:{rid}:own:0")), 1, "the approved text goes to the own channel");
        assert_eq!(r["state"], "published");
        let (s, _) = xu.call(Method::POST, &rp("/versions"), Some(json!({"title": "x", "body": "y"}))).await;
        assert_eq!(s, StatusCode::CONFLICT, "a published response is immutable");
        // Afterwards people deny the rumour: denying items rise after the clarification.
        {
            let denying: Vec<ItemInput> = (0..9)
                .map(|i| item(&format!("d{i}"), "weibo", &format!("三食堂中毒是谣言，官方已经澄清了，检测合格{i}"), t + Duration::minutes(10 + 15 * i as i64)))
                .collect();
            let mut p = state.pipeline.lock().unwrap();
            let r = p.ingest(&denying, t + Duration::hours(3)).unwrap();
            assert_eq!(r.outcomes.len(), 9);
        }
        let first_denying = 13;
        for id in first_denying..first_denying + 9 {
            xu.ok(Method::POST, &format!("/api/v1/claims/{cl}/items"), Some(json!({"item": id, "stance": "denying"}))).await;
        }
        let detail = xu.ok(Method::GET, &format!("/api/v1/claims/{cl}"), None).await;
        let at: DateTime<Utc> = serde_json::from_value(detail["claim"]["clarified"][1].clone()).unwrap();
        assert_eq!(at, t, "clarified with the time of publication");
        let e = &detail["effect"];
        assert_eq!(e["before_totals"], json!([12, 0]), "{e}");
        assert_eq!(e["after_totals"], json!([0, 9]), "{e}");

        // The case's timeline and the audit log; once closed, the review carries the claim's figures.
        let done = |task: &str| format!("/api/v1/cases/{case}/tasks/{task}/done");
        for task in ["register_claim", "clarify", "refer_legal"] {
            xu.ok(Method::POST, &done(task), Some(json!({"note": "done"}))).await;
        }
        xu.ok(Method::POST, &format!("/api/v1/cases/{case}/monitor"), None).await;
        xu.ok(Method::POST, &format!("/api/v1/cases/{case}/close"), Some(json!({"summary": "已澄清"}))).await;
        let got = xu.ok(Method::GET, &format!("/api/v1/cases/{case}"), None).await;
        let claims = &got["review_figures"]["claims"];
        assert_eq!((claims[0]["effect"]["before_totals"].clone(), claims[0]["effect"]["after_totals"].clone()), (json!([12, 0]), json!([0, 9])), "{claims}");
        assert_eq!(got["review_figures"]["first_response_at"], json!(t), "the publication is the first response");
        let kinds: Vec<&str> = got["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        for k in ["claim_registered", "claim_status", "response_drafted", "response_submitted", "response_approved",
            "response_returned", "response_edited", "response_chain_complete", "response_published", "claim_clarified"] {
            assert!(kinds.contains(&k), "{k} on the timeline: {kinds:?}");
        }
        drop(kinds);
        let db = tidewatch_store::Db::open(&root).unwrap();
        let log = db.audit_entries(&tidewatch_store::AuditFilter { limit: 500, ..Default::default() }).unwrap();
        for (who, what) in [("xu", "response.draft"), ("xu", "response.submit"), ("wang", "response.approve"),
            ("fa", "response.return"), ("xu", "response.edit"), ("zhao", "response.approve"), ("xu", "response.publish"),
            ("xu", "claim.create"), ("xu", "claim.status"), ("xu", "claim.link")] {
            assert!(log.iter().any(|e| e.actor == who && e.action == what), "{who} {what} audited");
        }
        assert!(db.verify_audit(1).unwrap().is_ok());
    });
}
