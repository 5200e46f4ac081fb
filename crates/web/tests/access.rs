//! Who may call what, tried on the real router: every route × every role (plus anonymous, a
//! disabled account and an expired session) against the permission table; CSRF and foreign
//! Host headers refused; the audit trail of a scenario and its tamper evidence; the login lockout.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use std::sync::Arc;
use tidewatch_engine::accounts::{self, Actor, LoginPolicy};
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_store::Db;
use tidewatch_text::segment::Segmenter;
use tidewatch_web::auth::AuthConfig;
use tidewatch_web::routes::{self, Access};
use tidewatch_web::AppState;
use tidewatch_workflow::access::{role_allows, Grant, Grants, Role, PERMISSIONS};
use tower::ServiceExt;

const HOST: &str = "127.0.0.1:8080";
const PASSWORD: &str = "a long pass phrase 77";

struct Fixture {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    state: Arc<AppState>,
    app: axum::Router,
}

fn alerting_toml() -> String {
    let today = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive() - chrono::Duration::days(1);
    format!(
        r#"
[timing]
group_wait_seconds = 0
group_interval_seconds = 300
repeat_interval_seconds = 14400
[[person]]
id = "officer"
[[unit]]
id = "后勤集团"
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
delay_minutes = 5
[route]
policy = "p"
"#
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn fixture() -> Fixture {
    fixture_with(&alerting_toml())
}

fn fixture_with(alerting: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let data = DataDir::new(&root);
    let mut pipeline = Pipeline::open(&data, Segmenter::shared_default(), PipelineConfig::default()).unwrap();
    let by = Actor::local("test");
    let now = Utc::now();
    for role in Role::ALL {
        let g = Grants(vec![Grant { role, unit: None }]);
        let new = accounts::NewAccount { username: role.as_str(), password: PASSWORD, grants: &g, person: None };
        accounts::create_account(pipeline.db_mut(), &by, None, new, now).unwrap();
    }
    let everything = Grants(Role::ALL.iter().map(|&role| Grant { role, unit: None }).collect());
    for name in ["disabled", "expired"] {
        let new = accounts::NewAccount { username: name, password: PASSWORD, grants: &everything, person: None };
        accounts::create_account(pipeline.db_mut(), &by, None, new, now).unwrap();
    }
    let state = AppState::open(&data, pipeline, AuthConfig::for_addr(HOST.parse().unwrap())).unwrap();
    state.enable_alerting(&data, tidewatch_engine::alerting::AlertingConfig::from_toml(alerting).unwrap()).unwrap();
    let app = tidewatch_web::router(state.clone());
    Fixture { _dir: dir, root, state, app }
}

/// A session started the way the login endpoint does, with `policy`.
fn session(f: &Fixture, name: &str, policy: LoginPolicy) -> (String, String) {
    let mut db = f.state.auth.lock().unwrap();
    let s = accounts::login(&mut db, name, PASSWORD, None, policy, Utc::now()).unwrap().unwrap();
    (format!("tw_session={}", s.token), s.csrf)
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = if res.headers().get("content-type").is_some_and(|v| v.to_str().unwrap_or("").contains("event-stream"))
    {
        Vec::new()
    } else {
        axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec()
    };
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

fn request(method: &axum::http::Method, path: &str, cred: Option<&(String, String)>, body: &str) -> Request<Body> {
    let mut b = Request::builder().method(method.clone()).uri(path).header("host", HOST);
    if let Some((cookie, csrf)) = cred {
        b = b.header("cookie", cookie.as_str()).header("x-csrf-token", csrf.as_str());
    }
    if !body.is_empty() {
        b = b.header("content-type", "application/json");
    }
    b.body(Body::from(body.to_string())).unwrap()
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "1").replace("{name}", "nobody")
}

#[test]
fn every_route_answers_each_role_as_the_permission_table_says() {
    let f = fixture();
    rt().block_on(async {
        let (_, specs) = routes::table(f.state.clone());
        assert!(specs.len() > 40, "the table lists the routes");
        let sessions: Vec<(Role, (String, String))> =
            Role::ALL.iter().map(|&r| (r, session(&f, r.as_str(), LoginPolicy::default()))).collect();
        let disabled = session(&f, "disabled", LoginPolicy::default());
        {
            let mut db = f.state.auth.lock().unwrap();
            accounts::change_account(
                &mut db,
                &Actor::local("test"),
                None,
                "disabled",
                accounts::AccountChange { disabled: Some(true), ..Default::default() },
                Utc::now(),
            )
            .unwrap();
        }
        let expired = session(&f, "expired", LoginPolicy { session: Duration::seconds(-1), ..LoginPolicy::default() });
        let mut checked = 0;
        for spec in &specs {
            let path = concrete(spec.path);
            let body = if spec.method == axum::http::Method::GET { "" } else { "{}" };
            match spec.access {
                Access::Needs(action) => {
                    assert!(
                        PERMISSIONS.iter().any(|(a, _)| *a == action),
                        "{} {}: {action:?} is not in PERMISSIONS",
                        spec.method,
                        spec.path
                    );
                    for (who, cred) in [
                        ("anonymous", None),
                        ("a disabled account", Some(&disabled)),
                        ("an expired session", Some(&expired)),
                    ] {
                        let (status, body) = call(&f.app, request(&spec.method, &path, cred, body)).await;
                        // A page (a GET outside /api/) sends the reader to the sign-in page;
                        // `/metrics` is for a scraper's token, and says 401.
                        let page = spec.method == axum::http::Method::GET
                            && !spec.path.starts_with("/api/")
                            && spec.path != "/metrics";
                        let expected = if page { StatusCode::SEE_OTHER } else { StatusCode::UNAUTHORIZED };
                        assert_eq!(status, expected, "{} {} as {who}: {body}", spec.method, spec.path);
                    }
                    for (role, cred) in &sessions {
                        // Logging out ends the session: each role gets a fresh one for it.
                        let fresh;
                        let cred = if spec.path == "/api/v1/logout" {
                            fresh = session(&f, role.as_str(), LoginPolicy::default());
                            &fresh
                        } else {
                            cred
                        };
                        let (status, answer) = call(&f.app, request(&spec.method, &path, Some(cred), body)).await;
                        if role_allows(*role, action) {
                            assert!(
                                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                                "{} {} as {}: allowed by the table, got {status} {answer}",
                                spec.method,
                                spec.path,
                                role.as_str()
                            );
                        } else {
                            assert_eq!(
                                status,
                                StatusCode::FORBIDDEN,
                                "{} {} as {}: {answer}",
                                spec.method,
                                spec.path,
                                role.as_str()
                            );
                            // A page answers its refusal as a page (HTML); the API in JSON.
                            let page = spec.method == axum::http::Method::GET && !spec.path.starts_with("/api/");
                            if !page {
                                assert_eq!(answer["error"]["code"], "forbidden");
                            }
                        }
                        checked += 1;
                    }
                }
                Access::Public => {
                    let (status, _) = call(&f.app, request(&spec.method, &path, None, body)).await;
                    assert!(
                        status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                        "{} {}: {status}",
                        spec.method,
                        spec.path
                    );
                }
                Access::OwnCredential(_) => {
                    // Without its own credential (a source token, a signed link) it is refused, and a
                    // session does not stand in for it.
                    for cred in [None, Some(&sessions[4].1)] {
                        let (status, body) = call(&f.app, request(&spec.method, &path, cred, body)).await;
                        assert!(
                            status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST,
                            "{} {}: {status} {body}",
                            spec.method,
                            spec.path
                        );
                    }
                }
            }
        }
        assert!(checked >= 40 * 5, "{checked} route × role checks");
    });
}

#[test]
fn the_openapi_document_lists_exactly_the_routes_served() {
    let f = fixture();
    rt().block_on(async {
        let (_, specs) = routes::table(f.state.clone());
        let (status, doc) = call(&f.app, request(&axum::http::Method::GET, "/api/v1/openapi.json", None, "")).await;
        assert_eq!(status, StatusCode::OK);
        let mut listed: Vec<String> = Vec::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for m in ops.as_object().unwrap().keys() {
                listed.push(format!("{} {path}", m.to_uppercase()));
            }
        }
        listed.sort();
        let mut served: Vec<String> = specs
            .iter()
            .filter(|s| s.path.starts_with("/api/") || s.path.starts_with("/ack/"))
            .map(|s| format!("{} {}", s.method, s.path))
            .collect();
        served.sort();
        assert_eq!(listed, served);
        let ack = &doc["paths"]["/api/v1/alerts/{id}/acknowledge"]["post"];
        assert_eq!(ack["x-tidewatch-action"], "act_on_alerts");
    });
}

#[test]
fn cookie_requests_need_the_csrf_token_and_the_right_origin() {
    let f = fixture();
    rt().block_on(async {
        let (cookie, csrf) = session(&f, "admin", LoginPolicy::default());
        let body = r#"{"retention_days": 90}"#;
        let put = |csrf: Option<&str>, origin: Option<&str>| {
            let mut b = Request::builder()
                .method("PUT")
                .uri("/api/v1/settings")
                .header("host", HOST)
                .header("cookie", cookie.as_str())
                .header("content-type", "application/json");
            if let Some(c) = csrf {
                b = b.header("x-csrf-token", c);
            }
            if let Some(o) = origin {
                b = b.header("origin", o);
            }
            b.body(Body::from(body)).unwrap()
        };
        let (s, b) = call(&f.app, put(None, None)).await;
        assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("csrf")), "no token");
        let (s, _) = call(&f.app, put(Some("0123456789abcdef"), None)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "a wrong token");
        let wrong_len = format!("{csrf}00");
        let (s, _) = call(&f.app, put(Some(&wrong_len), None)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "the token with bytes appended");
        let (s, _) = call(&f.app, put(Some(&csrf), Some("http://attacker.example"))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "a foreign Origin");
        let (s, b) = call(&f.app, put(Some(&csrf), Some("http://127.0.0.1:8080"))).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        // A GET with the cookie needs no token.
        let (s, _) = call(
            &f.app,
            request(&axum::http::Method::GET, "/api/v1/settings", Some(&(cookie.clone(), String::new())), ""),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        // An API token is not sent by browsers on their own: no CSRF token needed.
        let token = token_of(&f, "admin", Role::Admin);
        assert_eq!(call(&f.app, put_settings_with_token(&token, body)).await.0, StatusCode::OK);
    });
}

#[test]
fn a_foreign_host_header_is_refused_on_every_route() {
    let f = fixture();
    rt().block_on(async {
        let (_, specs) = routes::table(f.state.clone());
        let cred = session(&f, "admin", LoginPolicy::default());
        for spec in &specs {
            for host in ["attacker.example", "attacker.example:8080", "127.0.0.1.attacker.example:8080"] {
                let req = Request::builder()
                    .method(spec.method.clone())
                    .uri(concrete(spec.path))
                    .header("host", host)
                    .header("cookie", cred.0.as_str())
                    .header("x-csrf-token", cred.1.as_str())
                    .body(Body::from("{}"))
                    .unwrap();
                let (s, b) = call(&f.app, req).await;
                assert_eq!(
                    (s, b["error"]["code"].as_str()),
                    (StatusCode::BAD_REQUEST, Some("bad_host")),
                    "{} {} Host {host}",
                    spec.method,
                    spec.path
                );
            }
        }
        // Unknown paths too, with the JSON error shape.
        let req = Request::builder().uri("/nowhere").header("host", "evil.example").body(Body::empty()).unwrap();
        assert_eq!(call(&f.app, req).await.1["error"]["code"], "bad_host");
        let req = Request::builder().uri("/nowhere").header("host", HOST).body(Body::empty()).unwrap();
        assert_eq!(call(&f.app, req).await.1["error"]["code"], "not_found");
        let req = Request::builder().uri("/api/v1/ingest").header("host", HOST).body(Body::empty()).unwrap();
        let (s, b) = call(&f.app, req).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")),
            "GET on the intake"
        );
    });
}

#[test]
fn every_response_carries_the_security_headers() {
    let f = fixture();
    rt().block_on(async {
        for path in ["/", "/login", "/monitor", "/api/v1/health", "/api/v1/search?q=x", "/nowhere"] {
            let res = f
                .app
                .clone()
                .oneshot(Request::builder().uri(path).header("host", HOST).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let h = res.headers();
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(
                csp.contains("frame-ancestors 'none'")
                    && csp.contains("script-src 'self'")
                    && !csp.contains("script-src 'self' 'unsafe-inline'"),
                "{path}: {csp}"
            );
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert!(h.contains_key("referrer-policy"), "{path}");
        }
    });
}

async fn login(f: &Fixture, name: &str, password: &str) -> (StatusCode, serde_json::Value, Option<String>) {
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/login")
        .header("host", HOST)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::json!({"username": name, "password": password}).to_string()))
        .unwrap();
    let res = f.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let cookie = res.headers().get("set-cookie").map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or_default(), cookie)
}

#[test]
fn failed_logins_lock_the_account_until_an_admin_unlocks_it() {
    let f = fixture();
    rt().block_on(async {
        for i in 0..5 {
            let (s, b, _) = login(&f, "analyst", "not the password at all").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "failure {i}: {b}");
        }
        let (s, b, cookie) = login(&f, "analyst", PASSWORD).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (StatusCode::LOCKED, Some("locked")),
            "the right password while locked: {b}"
        );
        assert!(cookie.is_none());
        // An unknown name answers like a wrong password.
        let (s, b, _) = login(&f, "nobody-at-all", PASSWORD).await;
        assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
        // The admin lifts the lock.
        let admin = session(&f, "admin", LoginPolicy::default());
        let (s, b) = call(
            &f.app,
            request(&axum::http::Method::POST, "/api/v1/accounts/analyst", Some(&admin), r#"{"unlock": true}"#),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, b, cookie) = login(&f, "analyst", PASSWORD).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let cookie = cookie.unwrap();
        assert!(b["csrf_token"].as_str().is_some_and(|t| t.len() >= 32));
        assert!(cookie.starts_with("tw_session=tws_"), "{cookie}");
    });
}

#[test]
fn a_scenario_leaves_exactly_its_audit_entries_and_tampering_is_named() {
    let f = fixture();
    rt().block_on(async {
        // An alert to acknowledge: a signal, then a tick.
        {
            let mut db = Db::open(&f.root).unwrap();
            db.add_signal(&burst_signal("3")).unwrap();
        }
        let st = f.state.clone();
        tokio::task::spawn_blocking(move || st.alerting_tick(Utc::now()).unwrap()).await.unwrap();
        let before = f.state.auth.lock().unwrap().audit_head().unwrap();

        let (s, b, cookie) = login(&f, "admin", PASSWORD).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let cred = (cookie.unwrap(), b["csrf_token"].as_str().unwrap().to_string());
        let put = axum::http::Method::PUT;
        let post = axum::http::Method::POST;
        let get = axum::http::Method::GET;
        let (s, b) = call(&f.app, request(&put, "/api/v1/topics/canteen", Some(&cred), r#"{"rule": "食堂 AND 腹泻", "unit": "后勤集团"}"#)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, b) = call(&f.app, request(&post, "/api/v1/alerts/1/acknowledge", Some(&cred), "")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["alert"]["state"], "acknowledged");
        let (s, _) = call(&f.app, request(&get, "/api/v1/search?q=%E9%A3%9F%E5%A0%82", Some(&cred), "")).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = call(&f.app, request(&post, "/api/v1/logout", Some(&cred), "{}")).await;
        assert_eq!(s, StatusCode::OK);
        // The session is over.
        let (s, _) = call(&f.app, request(&get, "/api/v1/me", Some(&cred), "")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);

        let db = Db::open(&f.root).unwrap();
        let mut entries = db.audit_entries(&tidewatch_store::AuditFilter { limit: 100, ..Default::default() }).unwrap();
        entries.retain(|e| e.seq > before);
        entries.reverse();
        let got: Vec<(&str, &str, &str)> = entries.iter().map(|e| (e.actor.as_str(), e.action.as_str(), e.object.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("admin", "login", "account:admin"),
                ("admin", "topic.save", "topic:canteen"),
                ("admin", "alert.acknowledge", "alert:1"),
                ("admin", "search", "items"),
                ("admin", "logout", "account:admin"),
            ]
        );
        assert!(entries[1].detail.contains("食堂 AND 腹泻"), "the topic's after: {}", entries[1].detail);
        assert!(entries[2].detail.contains("\"before\":\"firing\""), "{}", entries[2].detail);
        let total = db.count_audit().unwrap();
        assert_eq!(db.verify_audit(1).unwrap(), Ok(total), "the untouched chain verifies");
        drop(db);

        // Tampering, each on a copy of the database, found by `verify` and named.
        let tamper = |sql: &str| -> tidewatch_store::AuditBreak {
            let copy = tempfile::tempdir().unwrap();
            let src = copy_store(&f.root, copy.path());
            run_sql(&src, sql);
            let db = Db::open(&src).unwrap();
            db.verify_audit(1).unwrap().expect_err(sql)
        };
        let topic_seq = entries[1].seq;
        let b = tamper(&format!("UPDATE audit SET actor = 'someone' WHERE seq = {topic_seq}"));
        assert_eq!(b.seq, topic_seq, "altered: {}", b.why);
        let b = tamper(&format!("DELETE FROM audit WHERE seq = {topic_seq}"));
        assert_eq!(b.seq, topic_seq, "deleted: {}", b.why);
        let (a, c) = (entries[1].seq, entries[2].seq);
        let b = tamper(&format!(
            "UPDATE audit SET seq = -1 WHERE seq = {a}; UPDATE audit SET seq = {a} WHERE seq = {c}; UPDATE audit SET seq = {c} WHERE seq = -1"
        ));
        assert_eq!(b.seq, a, "swapped: {}", b.why);
        let last = entries[4].seq;
        let b = tamper(&format!("DELETE FROM audit WHERE seq = {last}"));
        assert_eq!(b.seq, last, "the newest removed: {}", b.why);
    });
}

/// Copies the database (after a checkpoint) to `to`; returns the new data directory.
fn copy_store(from: &std::path::Path, to: &std::path::Path) -> std::path::PathBuf {
    run_sql(from, "PRAGMA wal_checkpoint(TRUNCATE);");
    std::fs::copy(from.join("tidewatch.db"), to.join("tidewatch.db")).unwrap();
    to.to_path_buf()
}

fn run_sql(dir: &std::path::Path, sql: &str) {
    // Directly in SQLite, as someone with the file would.
    rusqlite::Connection::open(dir.join("tidewatch.db")).unwrap().execute_batch(sql).unwrap();
}

#[test]
fn the_security_doc_holds_the_permission_table_of_the_code() {
    let f = fixture();
    let (_, specs) = routes::table(f.state.clone());
    let table = routes::markdown(&specs);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/security.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- permission-table:start -->\n", "<!-- permission-table:end -->");
    let a = doc.find(start).expect("the start marker") + start.len();
    let b = doc.find(end).expect("the end marker");
    if std::env::var_os("TIDEWATCH_BLESS").is_some() {
        std::fs::write(&path, format!("{}{table}{}", &doc[..a], &doc[b..])).unwrap();
        return;
    }
    assert_eq!(&doc[a..b], table, "docs/security.md is out of date: run with TIDEWATCH_BLESS=1");
}

#[test]
fn unit_scoped_roles_act_only_on_their_units() {
    let f = fixture();
    {
        let mut db = f.state.auth.lock().unwrap();
        let by = Actor::local("test");
        for (id, parent) in [("领导小组", None), ("后勤集团", Some("领导小组")), ("教务处", Some("领导小组"))]
        {
            let u = tidewatch_store::UnitRow {
                id: id.into(),
                name: id.into(),
                parent: parent.map(String::from),
                first_responsible: None,
                direct_responsible: None,
                updated_at: Utc::now(),
            };
            accounts::save_unit(&mut db, &by, None, u, Utc::now()).unwrap();
        }
        for (name, grant) in [("unitadmin", "admin@后勤集团"), ("hqlead", "unit_lead@后勤集团")] {
            let g = Grants(vec![Grant::parse(grant).unwrap()]);
            let new = accounts::NewAccount { username: name, password: PASSWORD, grants: &g, person: None };
            accounts::create_account(&mut db, &by, None, new, Utc::now()).unwrap();
        }
    }
    let unitadmin = session(&f, "unitadmin", LoginPolicy::default());
    let hqlead = session(&f, "hqlead", LoginPolicy::default());
    let admin = session(&f, "admin", LoginPolicy::default());
    rt().block_on(async {
        let put = axum::http::Method::PUT;
        let post = axum::http::Method::POST;
        let get = axum::http::Method::GET;
        let hook = |unit: &str, extra: &str| {
            format!(r#"{{"kind": "webhook", "token": "0123456789abcdef0123", "unit": "{unit}"{extra}}}"#)
        };
        let (s, b) = call(&f.app, request(&put, "/api/v1/sources/hq-hook", Some(&unitadmin), &hook("后勤集团", ""))).await;
        assert_eq!(s, StatusCode::OK, "a unit's admin edits the unit's sources: {b}");
        let (s, _) = call(&f.app, request(&put, "/api/v1/sources/jw-hook", Some(&unitadmin), &hook("教务处", ""))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "not another unit's");
        let (s, b) = call(
            &f.app,
            request(&put, "/api/v1/sources/hq-hook", Some(&unitadmin), &hook("后勤集团", r#", "allow_addresses": ["10.0.0.0/8"]"#)),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "opening the SSRF guard needs an admin for all units: {b}");
        let (s, b) = call(
            &f.app,
            request(&put, "/api/v1/sources/hq-hook", Some(&admin), &hook("后勤集团", r#", "allow_addresses": ["10.0.0.0/8"]"#)),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");

        let (s, _) = call(&f.app, request(&put, "/api/v1/topics/hq", Some(&unitadmin), r#"{"rule": "食堂", "unit": "后勤集团"}"#)).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = call(&f.app, request(&put, "/api/v1/topics/jw", Some(&unitadmin), r#"{"rule": "选课", "unit": "教务处"}"#)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = call(&f.app, request(&put, "/api/v1/topics/jw", Some(&admin), r#"{"rule": "选课", "unit": "教务处"}"#)).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = call(&f.app, request(&put, "/api/v1/topics/jw", Some(&unitadmin), r#"{"rule": "选课", "unit": "后勤集团"}"#)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "nor move another unit's topic into its own");

        let over = |unit: &str| {
            format!(r#"{{"unit": "{unit}", "person": "officer", "from": "2030-01-01T00:00:00Z", "to": "2030-01-02T00:00:00Z"}}"#)
        };
        let (s, _) = call(&f.app, request(&post, "/api/v1/oncall/overrides", Some(&hqlead), &over("教务处"))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "a unit lead edits only their unit's rota");
        let (s, b) = call(&f.app, request(&post, "/api/v1/oncall/overrides", Some(&hqlead), &over("后勤集团"))).await;
        assert_eq!(s, StatusCode::OK, "{b}");

        // The unit lead's audit log: entries about their unit only.
        let (s, entries) = call(&f.app, request(&get, "/api/v1/audit?limit=1000", Some(&hqlead), "")).await;
        assert_eq!(s, StatusCode::OK);
        let entries = entries.as_array().unwrap();
        assert!(entries.iter().any(|e| e["object"] == "topic:hq"), "{entries:?}");
        assert!(entries.iter().all(|e| e["detail"].as_str().unwrap().contains("\"unit\":\"后勤集团\"")), "{entries:?}");
        let (_, all) = call(&f.app, request(&get, "/api/v1/audit?limit=1000", Some(&admin), "")).await;
        assert!(all.as_array().unwrap().iter().any(|e| e["object"] == "topic:jw"));
        // Secrets of sources are not in the log.
        assert!(all.as_array().unwrap().iter().all(|e| !e["detail"].as_str().unwrap().contains("0123456789abcdef0123")));

        // A token holds no more than asked: an analyst token of an admin and analyst cannot
        // change settings.
        {
            let mut db = f.state.auth.lock().unwrap();
            let both = Grants(vec![Grant { role: Role::Admin, unit: None }, Grant { role: Role::Analyst, unit: None }]);
            let new = accounts::NewAccount { username: "both", password: PASSWORD, grants: &both, person: None };
            accounts::create_account(&mut db, &Actor::local("test"), None, new, Utc::now()).unwrap();
        }
        let token = token_of(&f, "both", Role::Analyst);
        assert_eq!(call(&f.app, put_settings_with_token(&token, r#"{"retention_days": 30}"#)).await.0, StatusCode::FORBIDDEN);
    });
}

#[test]
fn failed_logins_from_one_address_are_throttled() {
    let f = fixture();
    rt().block_on(async {
        // Twenty wrong logins spread over many names (no account locks): the address is refused.
        for i in 0..20 {
            let (s, _, _) = login(&f, &format!("guess{i}"), "wrong wrong wrong").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
        }
        let (s, b, _) = login(&f, "admin", PASSWORD).await;
        assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_requests")), "{b}");
    });
}

/// A receiver that holds every request until `release` is sent, counting what it got.
fn held_receiver() -> (String, std::sync::mpsc::Sender<()>, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let got = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = wait.recv();
            let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (base, release, got)
}

#[test]
fn alerts_are_paginated_and_acknowledged_while_a_delivery_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let data = DataDir::new(&root);
    let mut pipeline = Pipeline::open(&data, Segmenter::shared_default(), PipelineConfig::default()).unwrap();
    let g = Grants(vec![Grant { role: Role::Admin, unit: None }]);
    let new = accounts::NewAccount { username: "admin", password: PASSWORD, grants: &g, person: None };
    accounts::create_account(pipeline.db_mut(), &Actor::local("t"), None, new, Utc::now()).unwrap();
    for story in 1..=3 {
        pipeline.db_mut().add_signal(&burst_signal(&story.to_string())).unwrap();
    }
    let (hook, release, got) = held_receiver();
    let toml = alerting_toml().replace(
        "[[person]]\nid = \"officer\"",
        &format!("[[person]]\nid = \"officer\"\nchannels = [{{ kind = \"webhook\", url = \"{hook}/officer\" }}]"),
    );
    let state = AppState::open(&data, pipeline, AuthConfig::for_addr(HOST.parse().unwrap())).unwrap();
    state.enable_alerting(&data, tidewatch_engine::alerting::AlertingConfig::from_toml(&toml).unwrap()).unwrap();
    let app = tidewatch_web::router(state.clone());
    let f = Fixture { _dir: dir, root, state: state.clone(), app };
    let cred = session(&f, "admin", LoginPolicy::default());
    // A tick in the background: three alerts, whose notifications hang at the receiver.
    let ticking = {
        let st = state.clone();
        std::thread::spawn(move || st.alerting_tick(Utc::now()).unwrap())
    };
    while got.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    rt().block_on(async {
        let get = axum::http::Method::GET;
        // (A deadlock guard, not a speed check: before, these waited for the delivery's lock.)
        let guard = std::time::Duration::from_secs(60);
        let (s, page1) =
            tokio::time::timeout(guard, call(&f.app, request(&get, "/api/v1/alerts?limit=2", Some(&cred), "")))
                .await
                .expect("the alert API is not blocked by a hanging delivery");
        assert_eq!(s, StatusCode::OK, "the alert API answers while a delivery hangs: {page1}");
        let ids: Vec<i64> = page1.as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, vec![3, 2], "newest first, two per page");
        let (_, page2) = call(&f.app, request(&get, "/api/v1/alerts?limit=2&before=2", Some(&cred), "")).await;
        assert_eq!(page2.as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect::<Vec<_>>(), vec![1]);
        let (s, b) = call(&f.app, request(&get, "/api/v1/alerts?limit=0", Some(&cred), "")).await;
        assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_parameter")));
        let ack = request(&axum::http::Method::POST, "/api/v1/alerts/1/acknowledge", Some(&cred), "");
        let (s, b) = tokio::time::timeout(guard, call(&f.app, ack))
            .await
            .expect("acknowledging is not blocked by a hanging delivery");
        assert_eq!(s, StatusCode::OK, "acknowledged while the delivery hangs: {b}");
    });
    for _ in 0..10 {
        let _ = release.send(());
    }
    ticking.join().unwrap();
}

#[test]
fn the_new_endpoints_answer_malformed_and_hostile_input_with_coded_errors() {
    let f = fixture();
    let admin = session(&f, "admin", LoginPolicy::default());
    rt().block_on(async {
        let post = axum::http::Method::POST;
        let put = axum::http::Method::PUT;
        let get = axum::http::Method::GET;
        let cases: Vec<(axum::http::Method, &str, String, &str)> = vec![
            (post.clone(), "/api/v1/login", "not json".into(), "bad_body"),
            (post.clone(), "/api/v1/login", r#"{"username": "admin"}"#.into(), "bad_body"),
            (post.clone(), "/api/v1/login", format!(r#"{{"username": "admin", "password": "{}"}}"#, "x".repeat(5000)), "bad_body"),
            (post.clone(), "/api/v1/accounts", r#"{"username": "x", "password": "short", "grants": []}"#.into(), "bad_body"),
            (post.clone(), "/api/v1/accounts", format!(r#"{{"username": "a b;drop", "password": "{PASSWORD}", "grants": []}}"#), "bad_body"),
            (post.clone(), "/api/v1/accounts", format!(r#"{{"username": "ok1", "password": "{PASSWORD}", "grants": [{{"role": "king"}}]}}"#), "bad_body"),
            (post.clone(), "/api/v1/accounts", format!(r#"{{"username": "ok2", "password": "{PASSWORD}", "grants": [{{"role": "admin", "unit": "nowhere"}}]}}"#), "bad_body"),
            (post.clone(), "/api/v1/accounts", format!(r#"{{"username": "admin", "password": "{PASSWORD}", "grants": []}}"#), "bad_body"),
            (post.clone(), "/api/v1/accounts/nobody", r#"{"unlock": true}"#.into(), "not_found"),
            (post.clone(), "/api/v1/accounts/analyst", r#"{"password": "1234567890"}"#.into(), "bad_body"),
            (post.clone(), "/api/v1/tokens", r#"{"name": "t", "username": "analyst", "grants": [{"role": "admin"}]}"#.into(), "bad_body"),
            (post.clone(), "/api/v1/tokens", r#"{"name": "", "username": "analyst", "grants": []}"#.into(), "bad_body"),
            (axum::http::Method::DELETE, "/api/v1/tokens/abc", String::new(), "bad_parameter"),
            (axum::http::Method::DELETE, "/api/v1/tokens/999", String::new(), "not_found"),
            (put.clone(), "/api/v1/units/a", r#"{"parent": "nowhere"}"#.into(), "bad_body"),
            (put.clone(), "/api/v1/units/a", r#"{"first_responsible": "nobody"}"#.into(), "bad_body"),
            (put.clone(), "/api/v1/people/p1", r#"{"name": "x", "lang": "fr"}"#.into(), "bad_body"),
            (put.clone(), "/api/v1/people/bad%20id", r#"{"name": "x"}"#.into(), "bad_body"),
            (put.clone(), "/api/v1/people/p1", r#"{"name": "x", "channels": [{"kind": "carrier-pigeon"}]}"#.into(), "bad_body"),
            (put.clone(), "/api/v1/settings", r#"{"retention_days": 0}"#.into(), "bad_body"),
            (put.clone(), "/api/v1/settings", r#"{"retention_days": "forever"}"#.into(), "bad_body"),
            (post.clone(), "/api/v1/sources/test", "not json".into(), "bad_body"),
            (post.clone(), "/api/v1/sources/test", r#"{"kind": "webhook", "token": "a-long-random-token-1234"}"#.into(), "bad_body"),
            (post.clone(), "/api/v1/sources/test", r#"{"kind": "feed", "url": "ftp://x"}"#.into(), "bad_body"),
            (put.clone(), "/api/v1/me/lang", r#"{"lang": "fr"}"#.into(), "bad_parameter"),
            (put.clone(), "/api/v1/me/lang", r#"{"lang": "zh", "extra": 1}"#.into(), "bad_body"),
            (put.clone(), "/api/v1/me/lang", "<script>".into(), "bad_body"),
            (post.clone(), "/api/v1/me/inbox/read", r#"{"upto": -5}"#.into(), "bad_parameter"),
            (post.clone(), "/api/v1/me/inbox/read", r#"{"upto": "all"}"#.into(), "bad_body"),
            (get.clone(), "/api/v1/audit?limit=0", String::new(), "bad_parameter"),
            (get.clone(), "/api/v1/audit?since=yesterday", String::new(), "bad_parameter"),
            (get.clone(), "/api/v1/audit?colour=red", String::new(), "bad_parameter"),
            (get.clone(), "/api/v1/alerts?state=sideways", String::new(), "bad_parameter"),
        ];
        for (method, path, body, code) in cases {
            let (s, b) = call(&f.app, request(&method, path, Some(&admin), &body)).await;
            assert_eq!(b["error"]["code"].as_str(), Some(code), "{method} {path} {}: {s} {b}", body.chars().take(80).collect::<String>());
            assert!(!b["error"]["message_zh"].as_str().unwrap_or("").is_empty());
        }
        // A unit cannot become its own ancestor.
        for (id, parent) in [("u1", None), ("u2", Some("u1"))] {
            let body = match parent {
                Some(p) => format!(r#"{{"parent": "{p}"}}"#),
                None => "{}".into(),
            };
            let (s, b) = call(&f.app, request(&put, &format!("/api/v1/units/{id}"), Some(&admin), &body)).await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        let (s, b) = call(&f.app, request(&put, "/api/v1/units/u1", Some(&admin), r#"{"parent": "u2"}"#)).await;
        assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_body")), "{b}");
        assert!(b["error"]["detail"].as_str().unwrap().contains("cycle"));
        // Channel secrets given to a person are never shown back.
        let (s, _) = call(
            &f.app,
            request(&put, "/api/v1/people/p2", Some(&admin), r#"{"name": "王", "channels": [{"kind": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=SECRET1", "secret": "SECRET2"}]}"#),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let (_, people) = call(&f.app, request(&get, "/api/v1/people", Some(&admin), "")).await;
        let text = people.to_string();
        assert!(!text.contains("SECRET1") && !text.contains("SECRET2") && text.contains("oapi.dingtalk.com"), "{text}");
    });
}

/// An API token of `username` holding `role` for all units.
fn token_of(f: &Fixture, username: &str, role: Role) -> String {
    let mut db = f.state.auth.lock().unwrap();
    let g = Grants(vec![Grant { role, unit: None }]);
    let new = accounts::NewToken { username, name: "t", grants: &g, expires_at: None };
    accounts::create_token(&mut db, &Actor::local("test"), None, new, Utc::now()).unwrap().1
}

fn put_settings_with_token(token: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method("PUT")
        .uri("/api/v1/settings")
        .header("host", HOST)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[test]
fn live_stream_clients_are_bounded() {
    let f = fixture();
    let cred = session(&f, "duty_officer", LoginPolicy::default());
    rt().block_on(async {
        // Each open stream holds its response (and so its subscription) until dropped.
        let mut open = Vec::new();
        for _ in 0..tidewatch_web::items::MAX_STREAM_CLIENTS {
            let res = f
                .app
                .clone()
                .oneshot(request(&axum::http::Method::GET, "/api/v1/stream", Some(&cred), ""))
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            open.push(res);
        }
        let (s, b) = call(&f.app, request(&axum::http::Method::GET, "/api/v1/stream", Some(&cred), "")).await;
        assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_requests")));
        open.truncate(10);
        let res =
            f.app.clone().oneshot(request(&axum::http::Method::GET, "/api/v1/stream", Some(&cred), "")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "room again once clients leave");
    });
}

/// A high burst signal on the canteen topic for `story` (it becomes an alert at the next tick).
fn burst_signal(story: &str) -> tidewatch_store::Signal {
    tidewatch_store::Signal {
        id: 0,
        kind: "burst".into(),
        severity: "high".into(),
        created_at: Utc::now(),
        source: None,
        topic: Some("canteen".into()),
        story: Some(story.into()),
        title: format!("Burst {story}"),
        explanation: "{}".into(),
    }
}

#[test]
fn a_request_past_the_time_limit_is_answered_timeout_and_the_concurrency_limit_holds_the_rest() {
    let f = fixture();
    let cred = session(&f, "admin", LoginPolicy::default());
    let get = axum::http::Method::GET;
    let rt = rt();
    // A status request waits on the read side, held here: past the (shortened) limit it is
    // answered 503 `timeout`, and the server goes on.
    f.state.request_timeout_ms.store(300, std::sync::atomic::Ordering::Relaxed);
    let held = f.state.reader.lock().unwrap();
    let guard = std::time::Duration::from_secs(20);
    let (s, b) = rt
        .block_on(async {
            tokio::time::timeout(guard, call(&f.app, request(&get, "/api/v1/status", Some(&cred), ""))).await
        })
        .expect("answered at the time limit, not left hanging");
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("timeout")), "{b}");
    let (s, _) = rt.block_on(call(&f.app, request(&get, "/api/v1/health", None, "")));
    assert_eq!(s, StatusCode::OK, "other requests are served meanwhile");
    drop(held);
    let (s, _) = rt.block_on(call(&f.app, request(&get, "/api/v1/status", Some(&cred), "")));
    assert_eq!(s, StatusCode::OK, "the read side is free again");

    // Two requests at once at most: while two wait on the read side, a third (even health) is
    // not taken up until one of them ends.
    f.state.request_timeout_ms.store(30_000, std::sync::atomic::Ordering::Relaxed);
    f.state.max_concurrent.store(2, std::sync::atomic::Ordering::Relaxed);
    let app = tidewatch_web::router(f.state.clone());
    let held = f.state.reader.lock().unwrap();
    rt.block_on(async {
        let slow: Vec<_> = (0..2)
            .map(|_| tokio::spawn(call_owned(app.clone(), request(&get, "/api/v1/status", Some(&cred), ""))))
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let third = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            call(&app, request(&get, "/api/v1/health", None, "")),
        )
        .await;
        assert!(third.is_err(), "a third request waits while two hold the slots");
        drop(held);
        for h in slow {
            assert_eq!(h.await.unwrap().0, StatusCode::OK);
        }
        let (s, _) = call(&app, request(&get, "/api/v1/health", None, "")).await;
        assert_eq!(s, StatusCode::OK, "served once a slot is free");
    });
}

async fn call_owned(app: axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    call(&app, req).await
}

#[test]
fn a_panic_holding_the_alerting_lock_does_not_take_the_alert_api_down() {
    let f = fixture();
    let cred = session(&f, "admin", LoginPolicy::default());
    let state = f.state.clone();
    let poisoned = std::thread::spawn(move || {
        let _held = state.alerting.lock().unwrap();
        panic!("a bug while holding the alerting lock");
    })
    .join();
    assert!(poisoned.is_err() && f.state.alerting.is_poisoned());
    let get = axum::http::Method::GET;
    let (s, b) = rt().block_on(call(&f.app, request(&get, "/api/v1/alerts", Some(&cred), "")));
    assert_eq!(s, StatusCode::OK, "recovered: {b}");
    assert!(!f.state.alerting.is_poisoned(), "the poison is cleared");
    f.state.alerting_tick(Utc::now()).unwrap();
}

/// Calls every route once with a successful request (as an admin with an API token) and checks
/// each JSON answer against `/api/v1/openapi.json`, strictly: a field the document does not
/// describe fails. Every route the document gives a response schema must have been tried.
#[test]
fn every_json_answer_matches_the_openapi_document_field_by_field() {
    use axum::http::Method;
    use serde_json::{json, Value};
    let two_steps = alerting_toml().replace(
        "delay_minutes = 5\n",
        "delay_minutes = 5\n[[policy.steps]]\ntargets = [{ type = \"on_duty\", value = \"后勤集团\" }]\ndelay_minutes = 5\n",
    );
    let f = fixture_with(&two_steps);
    let token = token_of(&f, "admin", Role::Admin);
    let rt = rt();
    let doc: Value = rt.block_on(call(&f.app, request(&Method::GET, "/api/v1/openapi.json", None, ""))).1;
    let tried: std::cell::RefCell<std::collections::BTreeSet<(String, String)>> = Default::default();
    let problems: std::cell::RefCell<Vec<String>> = Default::default();
    let go_with = |token: &str, method: Method, template: &str, path: &str, body: Option<Value>| -> Value {
        let mut b = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("host", HOST)
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        let req = b.body(Body::from(body.map(|v| v.to_string()).unwrap_or_default())).unwrap();
        let (s, v) = rt.block_on(call(&f.app, req));
        assert!(s.is_success(), "{method} {path}: {s} {v}");
        for p in tidewatch_web::openapi::check_response(&doc, method.as_str(), template, &v) {
            problems.borrow_mut().push(format!("{method} {template}: {p}"));
        }
        tried.borrow_mut().insert((method.as_str().to_lowercase(), template.to_string()));
        v
    };
    let go =
        |method: Method, template: &str, path: &str, body: Option<Value>| go_with(&token, method, template, path, body);
    use Method as M;
    go(M::GET, "/api/v1/health", "/api/v1/health", None);
    go(M::GET, "/api/v1/openapi.json", "/api/v1/openapi.json", None);
    go(M::GET, "/api/v1/me", "/api/v1/me", None);
    go(M::GET, "/api/v1/me/inbox", "/api/v1/me/inbox", None);
    go(M::POST, "/api/v1/me/inbox/read", "/api/v1/me/inbox/read", Some(json!({"upto": 0})));
    go(M::PUT, "/api/v1/me/lang", "/api/v1/me/lang", Some(json!({"lang": "en"})));
    go(
        M::PUT,
        "/api/v1/people/{id}",
        "/api/v1/people/officer",
        Some(json!({"name": "值班员", "email": "o@example.org"})),
    );
    go(M::GET, "/api/v1/people", "/api/v1/people", None);
    go(
        M::PUT,
        "/api/v1/people/{id}",
        "/api/v1/people/tester",
        Some(
            json!({"name": "测试", "channels": [{"kind": "inbox"}, {"kind": "webhook", "url": "https://hooks.example/x", "secret": "s3cret"}]}),
        ),
    );
    let sent = go(M::POST, "/api/v1/people/{id}/test-notification", "/api/v1/people/tester/test-notification", None);
    assert_eq!(sent["queued"], 2, "{sent}");
    {
        // Queued in the outbox for the person, one per channel; the webhook's secret is not in
        // the people list's answer.
        let db = tidewatch_store::Db::open(&f.root).unwrap();
        let inbox = db.inbox("tester", None, 10).unwrap();
        assert_eq!(inbox.len(), 2);
        assert!(inbox.iter().all(|n| n.subject.contains("测试通知")));
    }
    let people = go(M::GET, "/api/v1/people", "/api/v1/people", None);
    assert!(!people.to_string().contains("s3cret"), "{people}");
    go(
        M::PUT,
        "/api/v1/units/{id}",
        "/api/v1/units/%E9%A2%86%E5%AF%BC%E5%B0%8F%E7%BB%84",
        Some(json!({"direct_responsible": "officer"})),
    );
    go(
        M::PUT,
        "/api/v1/units/{id}",
        "/api/v1/units/%E5%90%8E%E5%8B%A4%E9%9B%86%E5%9B%A2",
        Some(json!({"parent": "领导小组", "direct_responsible": "officer"})),
    );
    go(M::GET, "/api/v1/units", "/api/v1/units", None);
    go(
        M::PUT,
        "/api/v1/topics/{id}",
        "/api/v1/topics/canteen",
        Some(json!({"rule": "食堂 AND (发霉 OR 异物)", "unit": "后勤集团"})),
    );
    go(M::GET, "/api/v1/topics", "/api/v1/topics", None);
    go(M::GET, "/api/v1/topics/{id}", "/api/v1/topics/canteen", None);
    go(M::POST, "/api/v1/rules/check", "/api/v1/rules/check", Some(json!({"rule": "食堂 AND 发霉"})));
    go(
        M::PUT,
        "/api/v1/sources/{id}",
        "/api/v1/sources/press",
        Some(json!({"kind": "webhook", "token": "a-long-random-token-1234"})),
    );
    // A test fetch answers even when the fetch fails (nothing listens on port 9).
    let tested = go(
        M::POST,
        "/api/v1/sources/test",
        "/api/v1/sources/test",
        Some(json!({"kind": "feed", "url": "http://127.0.0.1:9/feed.xml", "allow_addresses": ["127.0.0.1/32"]})),
    );
    assert_eq!(tested["status"], "failed", "{tested}");
    assert!(tested["error"].as_str().is_some_and(|e| !e.is_empty()), "{tested}");
    let items: Vec<Value> = (0..6)
        .map(|i| json!({"id": format!("w{i}"), "source": "weibo", "text": format!("二食堂饭菜里吃出异物还发霉了，第{i}位同学反映"),
            "published_at": Utc::now() - Duration::minutes(60 - i)}))
        .collect();
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/ingest")
        .header("host", HOST)
        .header("authorization", "Bearer a-long-random-token-1234")
        .header("content-type", "application/json")
        .body(Body::from(Value::Array(items).to_string()))
        .unwrap();
    let (s, v) = rt.block_on(call(&f.app, req));
    assert_eq!(s, StatusCode::OK, "{v}");
    problems.borrow_mut().extend(tidewatch_web::openapi::check_response(&doc, "POST", "/api/v1/ingest", &v));
    tried.borrow_mut().insert(("post".into(), "/api/v1/ingest".into()));
    go(M::GET, "/api/v1/status", "/api/v1/status", None);
    go(M::GET, "/api/v1/items", "/api/v1/items", None);
    go(M::GET, "/api/v1/search", "/api/v1/search?q=%E9%A3%9F%E5%A0%82", None);
    let groups = go(M::GET, "/api/v1/groups", "/api/v1/groups", None);
    let group = groups[0]["id"].as_i64().unwrap_or(1);
    go(M::GET, "/api/v1/groups/{id}", &format!("/api/v1/groups/{group}"), None);
    let stories = go(M::GET, "/api/v1/stories", "/api/v1/stories", None);
    let story = stories[0]["id"].as_i64().expect("a story");
    go(M::GET, "/api/v1/stories/{id}", &format!("/api/v1/stories/{story}"), None);
    go(M::GET, "/api/v1/bursts", "/api/v1/bursts", None);
    go(M::GET, "/api/v1/sources", "/api/v1/sources", None);
    go(M::GET, "/api/v1/topics/{id}/counts", "/api/v1/topics/canteen/counts", None);
    go(M::POST, "/api/v1/topics/backtest", "/api/v1/topics/backtest", Some(json!({"rule": "食堂 AND 发霉"})));
    // Alerts: three stories' bursts.
    {
        let mut p = f.state.pipeline.lock().unwrap();
        for s in [story.to_string(), "901".into(), "902".into()] {
            p.db_mut().add_signal(&burst_signal(&s)).unwrap();
        }
    }
    f.state.alerting_tick(Utc::now()).unwrap();
    go(M::GET, "/api/v1/signals", "/api/v1/signals", None);
    let alerts = go(M::GET, "/api/v1/alerts", "/api/v1/alerts", None);
    assert_eq!(alerts.as_array().unwrap().len(), 3, "{alerts}");
    go(M::GET, "/api/v1/alerts/{id}", "/api/v1/alerts/1", None);
    go(M::POST, "/api/v1/alerts/{id}/escalate", "/api/v1/alerts/2/escalate", None);
    go(M::POST, "/api/v1/alerts/{id}/acknowledge", "/api/v1/alerts/2/acknowledge", None);
    go(M::POST, "/api/v1/alerts/{id}/resolve", "/api/v1/alerts/3/resolve", None);
    go(
        M::POST,
        "/api/v1/silences",
        "/api/v1/silences",
        Some(json!({"matchers": [{"field": "topic", "value": "canteen"}], "ends": Utc::now() + Duration::hours(1)})),
    );
    go(M::GET, "/api/v1/oncall", "/api/v1/oncall?unit=%E5%90%8E%E5%8B%A4%E9%9B%86%E5%9B%A2", None);
    let (a, b) = (Utc::now() + Duration::hours(1), Utc::now() + Duration::hours(2));
    go(
        M::POST,
        "/api/v1/oncall/overrides",
        "/api/v1/oncall/overrides",
        Some(json!({"unit": "后勤集团", "person": "officer", "from": a, "to": b})),
    );
    go(
        M::POST,
        "/api/v1/oncall/swap",
        "/api/v1/oncall/swap",
        Some(json!({"unit": "后勤集团", "a": a + Duration::minutes(5), "b": Utc::now() + Duration::days(1)})),
    );
    // Accounts, tokens, audit, settings.
    go(M::GET, "/api/v1/accounts", "/api/v1/accounts", None);
    go(
        M::POST,
        "/api/v1/accounts",
        "/api/v1/accounts",
        Some(json!({"username": "zhang", "password": PASSWORD, "grants": [{"role": "analyst"}]})),
    );
    go(M::POST, "/api/v1/accounts/{name}", "/api/v1/accounts/zhang", Some(json!({"disabled": true})));
    go(M::GET, "/api/v1/tokens", "/api/v1/tokens", None);
    let t = go(
        M::POST,
        "/api/v1/tokens",
        "/api/v1/tokens",
        Some(json!({"username": "admin", "name": "bot", "grants": [{"role": "admin"}]})),
    );
    go(M::DELETE, "/api/v1/tokens/{id}", &format!("/api/v1/tokens/{}", t["id"]), None);
    go(M::GET, "/api/v1/settings", "/api/v1/settings", None);
    go(M::PUT, "/api/v1/settings", "/api/v1/settings", Some(json!({"retention_days": 200})));
    // Cases: one from the alert through to its review and a rule proposal; one reopened.
    let c = go(M::POST, "/api/v1/cases", "/api/v1/cases", Some(json!({"alert": 1, "owner": "officer"})));
    let id = c["id"].as_i64().unwrap();
    let p = |s: &str| format!("/api/v1/cases/{id}{s}");
    go(M::POST, "/api/v1/cases/{id}/reports", &p("/reports"), Some(json!({"development": "扩散", "groups": ["学生"]})));
    go(M::POST, "/api/v1/cases/{id}/evidence", &p("/evidence"), Some(json!({"kind": "item", "id": 1})));
    go(M::DELETE, "/api/v1/cases/{id}/evidence/{kind}/{ref}", &p("/evidence/item/1"), None);
    go(M::POST, "/api/v1/cases/{id}/assessment", &p("/assessment"), Some(json!({"grade": "II", "assessment": "a"})));
    go(M::POST, "/api/v1/cases/{id}/acknowledge", &p("/acknowledge"), None);
    go(M::POST, "/api/v1/cases/{id}/classification", &p("/classification"), Some(json!({"classification": "hype"})));
    go(
        M::POST,
        "/api/v1/cases/{id}/tasks/{task}/reassign",
        &p("/tasks/refer_discipline/reassign"),
        Some(json!({"to": "officer"})),
    );
    go(M::POST, "/api/v1/cases/{id}/tasks/{task}/done", &p("/tasks/publish_facts/done"), Some(json!({"note": "发布"})));
    go(M::PATCH, "/api/v1/cases/{id}", &p(""), Some(json!({"participants": ["officer"]})));
    go(M::POST, "/api/v1/cases/{id}/monitor", &p("/monitor"), None);
    go(M::POST, "/api/v1/cases/{id}/close", &p("/close"), Some(json!({"summary": "平息"})));
    go(
        M::POST,
        "/api/v1/cases/{id}/review",
        &p("/review"),
        Some(json!({"worked": "快",
        "actions": ["复盘", {"text": "规则", "topic": "canteen", "rule": "食堂 AND (发霉 OR 异物 OR 变质)"}]})),
    );
    go(M::GET, "/api/v1/cases/{id}", &p(""), None);
    go(M::POST, "/api/v1/cases/{id}/review/approve", &p("/review/approve"), None);
    go(
        M::POST,
        "/api/v1/cases/{id}/review/proposals/{action}",
        &p("/review/proposals/1"),
        Some(json!({"accept": true})),
    );
    let c2 = go(
        M::POST,
        "/api/v1/cases",
        "/api/v1/cases",
        Some(json!({"items": [2], "title": "另一起", "unit": "后勤集团"})),
    );
    let p2 = |s: &str| format!("/api/v1/cases/{}{s}", c2["id"]);
    go(M::POST, "/api/v1/cases/{id}/reports", &p2("/reports"), Some(json!({"text": "误报"})));
    go(M::POST, "/api/v1/cases/{id}/close", &p2("/close"), Some(json!({"summary": "误报"})));
    go(M::POST, "/api/v1/cases/{id}/reopen", &p2("/reopen"), Some(json!({"reason": "再起"})));
    // Responses and claims on the second case, with a one-step chain (the unit lead).
    {
        let mut side = f.state.cases.lock().unwrap();
        let one = tidewatch_workflow::responses::Chain {
            name: "one".into(),
            steps: vec![tidewatch_workflow::responses::ChainStep {
                name: "unit lead".into(),
                approver: tidewatch_workflow::responses::ApproverSpec::Role {
                    role: Role::UnitLead,
                    unit: tidewatch_workflow::responses::UnitRef::CaseUnit,
                },
                required: 1,
                hours: 4.0,
            }],
        };
        let rules = tidewatch_workflow::responses::ChainRules {
            default: "one".into(),
            chains: vec![one],
            rules: vec![],
            own_channels: vec![],
        };
        side.responses = tidewatch_engine::responses::Responses::new(rules, "http://tw.example");
    }
    let lead = token_of(&f, "unit_lead", Role::UnitLead);
    let c2id = c2["id"].as_i64().unwrap();
    let cl = go(
        M::POST,
        "/api/v1/cases/{id}/claims",
        &format!("/api/v1/cases/{c2id}/claims"),
        Some(json!({"text": "食堂饭菜发霉", "key_terms": ["发霉"]})),
    );
    let clp = format!("/api/v1/claims/{}", cl["id"]);
    go(
        M::POST,
        "/api/v1/claims/{id}/status",
        &format!("{clp}/status"),
        Some(json!({"status": "partly_true", "evidence": "抽检"})),
    );
    go(M::POST, "/api/v1/claims/{id}/items", &format!("{clp}/items"), Some(json!({"item": 2, "stance": "supporting"})));
    go(M::GET, "/api/v1/cases/{id}/claims", &format!("/api/v1/cases/{c2id}/claims"), None);
    let draft = |claim: bool| {
        json!({"kind": "statement", "title": "情况说明", "body": "正在核查。", "places": ["own_site"],
        "claim": if claim { cl["id"].clone() } else { Value::Null }})
    };
    let r = go(M::POST, "/api/v1/cases/{id}/responses", &format!("/api/v1/cases/{c2id}/responses"), Some(draft(true)));
    let rp = format!("/api/v1/responses/{}", r["id"]);
    go(M::POST, "/api/v1/responses/{id}/submit", &format!("{rp}/submit"), None);
    go_with(&lead, M::POST, "/api/v1/responses/{id}/approve", &format!("{rp}/approve"), Some(json!({"version": 1})));
    go(
        M::POST,
        "/api/v1/responses/{id}/publish",
        &format!("{rp}/publish"),
        Some(json!({"places": [{"place": "own_site", "url": "https://example.edu/n/1"}]})),
    );
    let r2 =
        go(M::POST, "/api/v1/cases/{id}/responses", &format!("/api/v1/cases/{c2id}/responses"), Some(draft(false)));
    let rp2 = format!("/api/v1/responses/{}", r2["id"]);
    go(M::POST, "/api/v1/responses/{id}/submit", &format!("{rp2}/submit"), None);
    go_with(
        &lead,
        M::POST,
        "/api/v1/responses/{id}/return",
        &format!("{rp2}/return"),
        Some(json!({"version": 1, "comment": "再核实"})),
    );
    go(
        M::POST,
        "/api/v1/responses/{id}/versions",
        &format!("{rp2}/versions"),
        Some(json!({"title": "情况说明", "body": "已核实，正在整改。"})),
    );
    go(M::GET, "/api/v1/responses/{id}/diff", &format!("{rp2}/diff"), None);
    go(M::GET, "/api/v1/responses/{id}", &rp2, None);
    go(M::GET, "/api/v1/cases/{id}/responses", &format!("/api/v1/cases/{c2id}/responses"), None);
    go(M::GET, "/api/v1/claims/{id}", &clp, None);
    go(M::GET, "/api/v1/cases", "/api/v1/cases", None);
    go(M::GET, "/api/v1/units/figures", "/api/v1/units/figures", None);
    go(M::GET, "/api/v1/audit", "/api/v1/audit", None);
    go(M::GET, "/api/v1/audit/verify", "/api/v1/audit/verify", None);
    go(M::DELETE, "/api/v1/sources/{id}", "/api/v1/sources/press", None);
    // A session: login and logout (the cookie's own routes).
    let (s, v, cookie) = rt.block_on(login(&f, "analyst", PASSWORD));
    assert_eq!(s, StatusCode::OK);
    problems.borrow_mut().extend(tidewatch_web::openapi::check_response(&doc, "POST", "/api/v1/login", &v));
    tried.borrow_mut().insert(("post".into(), "/api/v1/login".into()));
    let cred = (cookie.unwrap(), v["csrf_token"].as_str().unwrap().to_string());
    let (s, out) = rt.block_on(call(&f.app, request(&Method::POST, "/api/v1/logout", Some(&cred), "")));
    assert_eq!(s, StatusCode::OK, "{out}");
    problems.borrow_mut().extend(tidewatch_web::openapi::check_response(&doc, "POST", "/api/v1/logout", &out));
    tried.borrow_mut().insert(("post".into(), "/api/v1/logout".into()));

    let problems = problems.into_inner();
    let tried = tried.into_inner();
    assert!(problems.is_empty(), "answers the document does not describe:\n{}", problems.join("\n"));
    let (_, specs) = routes::table(f.state.clone());
    let untried: Vec<String> = specs
        .iter()
        .filter(|s| s.response.is_some() && s.path != "/api/v1/stream")
        .map(|s| (s.method.as_str().to_lowercase(), s.path.to_string()))
        .filter(|k| !tried.contains(k))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(untried.is_empty(), "routes with a response schema not tried: {untried:?}");
    // The check is strict: an undescribed field, a wrong type or a missing field fails.
    let check = |path: &str, v: Value| tidewatch_web::openapi::check_response(&doc, "GET", path, &v);
    assert!(!check("/api/v1/health", json!({"ok": true, "secret": 1})).is_empty());
    assert!(!check("/api/v1/health", json!({"ok": "yes"})).is_empty());
    assert!(!check("/api/v1/health", json!({})).is_empty());
    assert!(!check("/api/v1/settings", json!({"retention_days": 1.5})).is_empty());
    assert!(!check("/api/v1/cases", json!([{"id": 1}])).is_empty());
}

/// A page's status and HTML.
async fn page(app: &axum::Router, path: &str, cred: &(String, String)) -> (StatusCode, String) {
    let req = Request::builder()
        .uri(path)
        .header("host", HOST)
        .header("cookie", cred.0.as_str())
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 4 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[test]
fn pages_answer_malformed_and_hostile_input_with_a_page_and_escape_what_they_echo() {
    let f = fixture();
    let admin = session(&f, "admin", LoginPolicy::default());
    let duty = session(&f, "duty_officer", LoginPolicy::default());
    let script = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    rt().block_on(async {
        let cases: Vec<(String, Vec<u16>)> = vec![
            ("/cases/abc".into(), vec![400]),
            ("/cases/0".into(), vec![400]),
            ("/cases/999999999".into(), vec![404]),
            ("/cases/-1".into(), vec![400]),
            ("/stories/abc".into(), vec![400, 404]),
            ("/stories/999999999".into(), vec![404]),
            (format!("/topics/{script}"), vec![400, 404]),
            ("/topics/nope".into(), vec![404]),
            (format!("/search?q={script}"), vec![200]),
            (format!("/search?q={}", "x".repeat(600)), vec![200]),
            ("/search?q=%22unbalanced&since=yesterday".into(), vec![200]),
            ("/search?sentiment=angry&q=x".into(), vec![200]),
            ("/alerts?state=%00".into(), vec![200]),
            ("/rota?at=not-a-time&span=year".into(), vec![200]),
            (format!("/audit?actor={script}&verify=maybe"), vec![200]),
            ("/audit?limit=-5".into(), vec![200]),
            (format!("/topics/food?rule={script}&days=99999"), vec![404]),
        ];
        for (path, ok) in &cases {
            let (status, html) = page(&f.app, path, &admin).await;
            assert!(ok.contains(&status.as_u16()), "{path}: {status}");
            assert!(html.starts_with("<!DOCTYPE html>"), "{path}: not a page: {}", &html[..html.len().min(120)]);
            assert!(!html.contains("<script>alert(1)"), "{path}: echoed unescaped");
        }
        // A rule draft with markup is shown escaped, with its error, on an existing topic.
        {
            let mut db = f.state.pipeline.lock().unwrap();
            let (topics, _) = tidewatch_engine::topics::load_topics(
                "[[topic]]\nid = \"canteen\"\nname = \"食堂\"\nrule = \"食堂\"\nseverity = \"low\"\n",
            );
            tidewatch_engine::topics::save_topics(db.db_mut(), &topics, "test", Utc::now()).unwrap();
        }
        let (status, html) = page(&f.app, &format!("/topics/canteen?rule={script}%20AND%20("), &admin).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && html.contains(r#"id="diagnostics""#),
            "escaped draft and its error"
        );
        // A page the role may not see: 403, as a page.
        let (status, html) = page(&f.app, "/audit", &duty).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(html.contains("您的角色不能查看此页") && html.contains("Your role may not see this page"));
    });
}

#[test]
fn metrics_are_prometheus_text_for_an_admin_token_only() {
    let f = fixture();
    let rt = rt();
    let before = tidewatch_engine::metrics::METRICS.items_stored.get();
    {
        let mut p = f.state.pipeline.lock().unwrap();
        let inputs: Vec<tidewatch_model::ItemInput> = (0..3)
            .map(|i| tidewatch_model::ItemInput {
                id: Some(format!("m{i}")),
                source: Some("metrics-test".into()),
                text: Some(format!("第三食堂的凉拌菜第{i}次被投诉，学生呕吐送医")),
                ..Default::default()
            })
            .collect();
        let r = p.ingest(&inputs, Utc::now()).unwrap();
        assert_eq!(r.stored.len(), 3);
    }
    let get = |token: &str| {
        Request::builder()
            .uri("/metrics")
            .header("host", HOST)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let admin = token_of(&f, "admin", Role::Admin);
    let res = rt.block_on(f.app.clone().oneshot(get(&admin))).unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text =
        String::from_utf8(rt.block_on(axum::body::to_bytes(res.into_body(), 1 << 20)).unwrap().to_vec()).unwrap();
    // Counters are process-wide (other tests of this binary store items too): at least ours.
    let stored: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tidewatch_items_stored_total "))
        .expect("the stored counter")
        .parse()
        .unwrap();
    assert!(stored >= before + 3, "{stored} < {before} + 3");
    for name in [
        "# TYPE tidewatch_stage_duration_seconds histogram",
        "tidewatch_stage_duration_seconds_count{stage=\"commit\"}",
        "tidewatch_stage_duration_seconds_bucket{stage=\"prepare_text\",le=\"+Inf\"}",
        "tidewatch_notifications_failed_total",
        "tidewatch_index_pending_docs",
        "tidewatch_outbox_pending_notifications",
        "tidewatch_store_items 3",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    assert!(!text.contains(PASSWORD) && !text.contains(&admin), "no secret in the metrics");
    // Everyone else is refused, and so is no credential at all.
    let analyst = token_of(&f, "analyst", Role::Analyst);
    assert_eq!(rt.block_on(call(&f.app, get(&analyst))).0, StatusCode::FORBIDDEN);
    let anonymous = Request::builder().uri("/metrics").header("host", HOST).body(Body::empty()).unwrap();
    assert_eq!(rt.block_on(call(&f.app, anonymous)).0, StatusCode::UNAUTHORIZED);
}
