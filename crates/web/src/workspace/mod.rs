//! The workspace: server-rendered pages (maud templates, checked at compile time) over the same
//! handlers the API answers with, so a page shows exactly what its reader may see. The
//! interactive parts — the buttons that act, countdowns, the live stream, the language switch —
//! are one small script (`assets/ws.js`) calling the JSON API with the session's CSRF token.
//!
//! Every string comes from the catalogue ([`crate::i18n`]) in the account's language; every time
//! is shown in the organization's zone, marked.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::i18n::{self, t, tf, Lang};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use std::sync::Arc;
use tidewatch_engine::accounts::Via;
use tidewatch_workflow::access::{Action, Role};
use tidewatch_workflow::alerts::{Alert, Severity, State as AlertState};
use tidewatch_workflow::cases::{Case, TaskState};
use tidewatch_workflow::responses::{Response as Doc, ResponseState};

pub mod admin;
pub mod directory;
pub mod search;

/// What every page knows about its reader.
struct Page {
    lang: Lang,
    caller: Caller,
    csrf: String,
    unread: i64,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new("internal", e.to_string())
}

async fn page_of(state: &Arc<AppState>, caller: Caller) -> Result<Page, ApiError> {
    let st = state.clone();
    let (account, person) = (caller.actor.account, caller.actor.person.clone());
    let (lang, unread) = tokio::task::spawn_blocking(move || -> Result<(Lang, i64), ApiError> {
        let db = st.auth.lock().map_err(|_| internal("lock poisoned"))?;
        let prefs = db.prefs(account)?;
        let unread = match &person {
            Some(p) => db.inbox_unread(p, prefs.inbox_seen)?,
            None => 0,
        };
        Ok((Lang::parse(&prefs.lang).unwrap_or(Lang::Zh), unread))
    })
    .await
    .map_err(internal)??;
    let csrf = match &caller.actor.via {
        Via::Session { csrf, .. } => csrf.clone(),
        _ => String::new(),
    };
    Ok(Page { lang, caller, csrf, unread })
}

/// A query string for a handler's `Query` extractor.
fn query<T: serde::de::DeserializeOwned>(q: &str) -> Result<Query<T>, axum::extract::rejection::QueryRejection> {
    let uri: Uri = format!("/?{q}").parse().expect("a query string of ours parses");
    Query::try_from_uri(&uri)
}

fn sev_key(s: Severity) -> &'static str {
    match s {
        Severity::Low => "severity.low",
        Severity::Medium => "severity.medium",
        Severity::High => "severity.high",
        Severity::Critical => "severity.critical",
    }
}

fn sev_class(s: Severity) -> &'static str {
    match s {
        Severity::Low => "sev sev-low",
        Severity::Medium => "sev sev-medium",
        Severity::High => "sev sev-high",
        Severity::Critical => "sev sev-critical",
    }
}

fn alert_state_key(s: AlertState) -> &'static str {
    match s {
        AlertState::Firing => "alert_state.firing",
        AlertState::Acknowledged => "alert_state.acknowledged",
        AlertState::Resolved => "alert_state.resolved",
    }
}

fn case_state_key(s: tidewatch_workflow::cases::CaseState) -> &'static str {
    use tidewatch_workflow::cases::CaseState::*;
    match s {
        New => "case_state.new",
        Assessing => "case_state.assessing",
        Handling => "case_state.handling",
        Monitoring => "case_state.monitoring",
        Closed => "case_state.closed",
        Reviewed => "case_state.reviewed",
    }
}

fn grade_key(g: Option<tidewatch_workflow::cases::Grade>) -> &'static str {
    use tidewatch_workflow::cases::Grade::*;
    match g {
        None => "grade.none",
        Some(IV) => "grade.IV",
        Some(III) => "grade.III",
        Some(II) => "grade.II",
        Some(I) => "grade.I",
    }
}

fn class_key(c: Option<tidewatch_workflow::cases::Classification>) -> &'static str {
    use tidewatch_workflow::cases::Classification::*;
    match c {
        None => "classification.none",
        Some(Inquiry) => "classification.inquiry",
        Some(Hype) => "classification.hype",
        Some(Fabrication) => "classification.fabrication",
        Some(Constructive) => "classification.constructive",
    }
}

fn response_state_key(s: ResponseState) -> &'static str {
    match s {
        ResponseState::Draft => "response_state.draft",
        ResponseState::InReview => "response_state.in_review",
        ResponseState::Approved => "response_state.approved",
        ResponseState::Published => "response_state.published",
    }
}

fn claim_status_key(s: tidewatch_workflow::claims::ClaimStatus) -> &'static str {
    use tidewatch_workflow::claims::ClaimStatus::*;
    match s {
        Unverified => "claim_status.unverified",
        False => "claim_status.false",
        PartlyTrue => "claim_status.partly_true",
        True => "claim_status.true",
        Misleading => "claim_status.misleading",
    }
}

fn task_state_key(s: TaskState) -> &'static str {
    match s {
        TaskState::Waiting => "case.task_state_waiting",
        TaskState::Open => "case.task_state_open",
        TaskState::Done => "case.task_state_done",
        TaskState::Cancelled => "case.task_state_cancelled",
    }
}

/// A time as the reader reads it, with the machine-readable instant.
fn when(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (i18n::time(at)) } }
}

/// A countdown to `due` (the script keeps it running).
fn countdown(lang: Lang, due: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    let left = due - now;
    let text = if left <= Duration::zero() {
        t(lang, "case.overdue").to_string()
    } else {
        let m = left.num_minutes();
        format!("{} {}:{:02}", t(lang, "case.remaining"), m / 60, m % 60)
    };
    html! {
        span class={ "countdown" @if left <= Duration::zero() { " late" } }
            data-due=(due.to_rfc3339()) data-left=(t(lang, "case.remaining")) data-late=(t(lang, "case.overdue")) {
            (text)
        }
    }
}

fn layout(p: &Page, current: &str, title: &str, body: Markup) -> Markup {
    let lang = p.lang;
    let grants = &p.caller.actor.grants;
    let nav: Vec<(&str, &str)> = [
        ("/", "nav.dashboard", Action::ReadItems),
        ("/alerts", "nav.alerts", Action::ReadAlerts),
        ("/cases", "nav.cases", Action::ReadCases),
        ("/inbox", "nav.inbox", Action::ReadItems),
        ("/search", "nav.search", Action::ReadItems),
        ("/topics", "nav.topics", Action::ReadItems),
        ("/rota", "nav.rota", Action::ReadRota),
        ("/sources", "nav.sources", Action::ReadSources),
        ("/directory", "nav.directory", Action::ReadDirectory),
        ("/accounts", "nav.accounts", Action::ManageAccounts),
        ("/settings", "nav.settings", Action::EditSettings),
        ("/audit", "nav.audit", Action::ReadAudit),
        ("/monitor", "nav.monitor", Action::ReadItems),
    ]
    .into_iter()
    .filter(|(_, _, a)| grants.allows_somewhere(*a))
    .map(|(h, k, _)| (h, k))
    .collect();
    html! {
        (DOCTYPE)
        html lang=(lang.html()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(p.csrf);
                title { (title) " · " (t(lang, "app.name")) }
                link rel="stylesheet" href="/ws.css";
                script src="/ws.js" defer {}
            }
            body {
                a class="skip" href="#main" { (t(lang, "app.skip")) }
                header class="top" {
                    a class="brand" href="/" { (t(lang, "app.name")) }
                    nav aria-label=(t(lang, "nav.main")) {
                        ul {
                            @for (href, key) in nav {
                                li {
                                    a href=(href) aria-current=[(href == current).then_some("page")] {
                                        (t(lang, key))
                                        @if href == "/inbox" && p.unread > 0 {
                                            " " span class="count" id="unread" { (p.unread) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    div class="me" {
                        span class="who" { (tf(lang, "nav.signed_in_as", &[("name", &p.caller.actor.username)])) }
                        button type="button" class="link" data-lang=(lang.other().code())
                            lang=(lang.other().html()) aria-label=(t(lang, "nav.lang")) { (lang.other().own_name()) }
                        button type="button" class="link" id="signout" { (t(lang, "nav.signout")) }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
                footer { (tf(lang, "app.zone_note", &[("zone", i18n::zone().name())])) }
            }
        }
    }
}

fn error_page(lang: Lang, status: StatusCode, message: &str) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang=(lang.html()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (t(lang, "app.error")) " · " (t(lang, "app.name")) }
                link rel="stylesheet" href="/ws.css";
            }
            body {
                main id="main" class="narrow" {
                    h1 { (t(lang, "app.error")) }
                    p { (message) }
                    p { a href="/" { (t(lang, "nav.dashboard")) } }
                }
            }
        }
    };
    (status, body).into_response()
}

/// An error's message in the reader's language, with its detail.
fn err_text(lang: Lang, e: &ApiError) -> String {
    let (en, zh) = e.messages();
    let m = if lang == Lang::Zh { zh } else { en };
    if e.detail.is_empty() {
        m.to_string()
    } else {
        format!("{m} {}", e.detail)
    }
}

/// A page's failure as a page: forbidden and not-found in words, the rest as an error.
fn failed(lang: Lang, e: ApiError) -> Response {
    let status = e.status();
    let message = match status {
        StatusCode::FORBIDDEN => t(lang, "app.forbidden").to_string(),
        StatusCode::NOT_FOUND => t(lang, "app.not_found").to_string(),
        _ => err_text(lang, &e),
    };
    error_page(lang, status, &message)
}

/// The page shown when a signed-in reader lacks a page's permission (the middleware's answer).
pub(crate) fn forbidden_page() -> Response {
    error_page(
        Lang::Zh,
        StatusCode::FORBIDDEN,
        &format!("{} / {}", t(Lang::Zh, "app.forbidden"), t(Lang::En, "app.forbidden")),
    )
}

/// `GET /login`: the sign-in form (signed-in readers go to the dashboard).
pub async fn login_page(State(state): State<Arc<AppState>>, headers: axum::http::HeaderMap) -> Response {
    let st = state.clone();
    let signed_in = tokio::task::spawn_blocking(move || crate::auth::actor_of(&st, &headers))
        .await
        .ok()
        .and_then(|r| r.ok())
        .flatten()
        .is_some();
    if signed_in {
        return Redirect::to("/").into_response();
    }
    let body = |lang: Lang| {
        html! {
            section class="login" lang=(lang.html()) {
                h2 { (t(lang, "login.title")) }
                p class="intro" { (t(lang, "login.intro")) }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (t(Lang::Zh, "login.title")) " · " (t(Lang::Zh, "app.name")) }
                link rel="stylesheet" href="/ws.css";
                script src="/ws.js" defer {}
            }
            body {
                main id="main" class="narrow" {
                    h1 { (t(Lang::Zh, "app.name")) }
                    (body(Lang::Zh))
                    (body(Lang::En))
                    form id="login" class="card" {
                        label { (t(Lang::Zh, "login.username")) " / " span lang="en" { (t(Lang::En, "login.username")) }
                            input name="username" autocomplete="username" required; }
                        label { (t(Lang::Zh, "login.password")) " / " span lang="en" { (t(Lang::En, "login.password")) }
                            input name="password" type="password" autocomplete="current-password" required; }
                        button type="submit" { (t(Lang::Zh, "login.submit")) " / " span lang="en" { (t(Lang::En, "login.submit")) } }
                        p class="msg" role="alert" {}
                    }
                }
            }
        }
    }
    .into_response()
}

/// The alerts the reader is asked to act on: those notified to their person, or every open one
/// for an account without a person.
fn mine(alert: &Alert, notified: &[i64], has_person: bool) -> bool {
    alert.state != AlertState::Resolved && (!has_person || notified.contains(&alert.id))
}

/// Whether the reader holds `role` for `unit` (a task's role on a case).
fn holds(caller: &Caller, role: Role, unit: &str, tree: &tidewatch_workflow::access::UnitTree) -> bool {
    caller.actor.grants.0.iter().any(|g| g.role == role && g.unit.as_deref().is_none_or(|u| tree.within(unit, u)))
}

struct Duty {
    unit: String,
    now: Option<tidewatch_workflow::rota::Shift>,
    next: Option<tidewatch_workflow::rota::Shift>,
    lead: Option<String>,
}

/// Everything the dashboard reads, from the cases side, in one go.
struct CasesPart {
    tasks: Vec<(Case, tidewatch_workflow::cases::Task)>,
    approvals: Vec<(Case, Doc)>,
    volume: Vec<(DateTime<Utc>, i64, i64)>,
    until: DateTime<Utc>,
}

/// `GET /`: what needs the reader now, volume and sentiment, rising stories, who is on duty.
pub async fn dashboard(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    match dashboard_body(&state, &p).await {
        Ok(body) => layout(&p, "/", t(p.lang, "dash.title"), body).into_response(),
        Err(e) => failed(p.lang, e),
    }
}

async fn dashboard_body(state: &Arc<AppState>, p: &Page) -> Result<Markup, ApiError> {
    let lang = p.lang;
    let now = state.now();
    let person = p.caller.actor.person.clone();
    // Alerts and the rota (when alerting is configured).
    let st = state.clone();
    let who = person.clone();
    let (alerts, duty) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let guard = st.alerting.lock().map_err(|_| internal("lock poisoned"))?;
        let Some(side) = guard.as_ref() else { return Ok((None, Vec::new())) };
        let notified: Vec<i64> = match &who {
            Some(w) => side.db.inbox(w, None, 500)?.iter().map(|n| n.alert).collect(),
            None => Vec::new(),
        };
        let mut alerts = Vec::new();
        for state in ["firing", "acknowledged"] {
            for json in side.db.alerts_page(Some(state), None, 100)? {
                let a: Alert = serde_json::from_str(&json).map_err(internal)?;
                if mine(&a, &notified, who.is_some()) {
                    alerts.push(a);
                }
            }
        }
        let duty = side
            .alerting
            .config()
            .unit
            .iter()
            .map(|u| {
                let cur = u.schedule.on_duty(now);
                let after = cur.as_ref().map(|s| s.to).unwrap_or(now) + Duration::seconds(1);
                let next = u
                    .schedule
                    .on_duty(after)
                    .filter(|n| cur.as_ref().is_none_or(|c| c.person != n.person || c.to != n.to));
                Duty { unit: u.id.clone(), now: cur, next, lead: u.lead.clone() }
            })
            .collect::<Vec<_>>();
        Ok((Some(alerts), duty))
    })
    .await
    .map_err(internal)??;
    // Tasks, approvals and the volume chart.
    let st = state.clone();
    let caller = p.caller.clone();
    let part = tokio::task::spawn_blocking(move || -> Result<CasesPart, ApiError> {
        let side = st.cases.lock().map_err(|_| internal("lock poisoned"))?;
        let tree = tidewatch_engine::accounts::unit_tree(&side.db).map_err(internal)?;
        let mut tasks = Vec::new();
        let mut approvals = Vec::new();
        for row in side.db.open_cases()? {
            let case: Case = serde_json::from_str(&row.data).map_err(internal)?;
            if !caller.actor.grants.allows(Action::ReadCases, Some(&case.unit), &tree) {
                continue;
            }
            for task in case.tasks.iter().filter(|t| t.state == TaskState::Open) {
                let for_me = match (&task.owner, &caller.actor.person) {
                    (Some(o), Some(me)) => o == me,
                    (Some(_), None) => false,
                    (None, _) => holds(&caller, task.role, &case.unit, &tree),
                };
                if for_me {
                    tasks.push((case.clone(), task.clone()));
                }
            }
            for json in side.db.responses_of_case(case.id)? {
                let r: Doc = serde_json::from_str(&json).map_err(internal)?;
                if tidewatch_engine::responses::Responses::may_decide(&side.db, &caller.actor, &r).map_err(internal)? {
                    approvals.push((case.clone(), r));
                }
            }
        }
        tasks.sort_by_key(|(_, t)| t.due_at);
        // The chart ends at the newest item (or now, if that is earlier): a replayed or paused
        // feed still shows its last week.
        let newest = side.db.newest_published()?.unwrap_or(now).min(now);
        let until = newest + Duration::hours(1);
        let volume = side.db.hourly_volume(until - Duration::days(7), until)?;
        Ok(CasesPart { tasks, approvals, volume, until })
    })
    .await
    .map_err(internal)??;
    let Json(stories) = crate::stories::list(State(state.clone()), query("order=recent&limit=40")).await?;
    let mut rising: Vec<(i64, crate::stories::StoryView)> = stories
        .into_iter()
        .map(|s| {
            let end = s.last_seen;
            let recent: i64 = s.volume.iter().filter(|(t, _)| *t > end - Duration::hours(24)).map(|(_, n)| n).sum();
            (recent, s)
        })
        .collect();
    rising.sort_by_key(|r| std::cmp::Reverse(r.0));
    rising.truncate(6);
    let nothing = alerts.as_ref().is_none_or(|a| a.is_empty()) && part.tasks.is_empty() && part.approvals.is_empty();
    Ok(html! {
        section class="card needs" data-live="needs" aria-labelledby="needs-h" {
            h2 id="needs-h" { (t(lang, "dash.needs_me")) }
            @if p.unread > 0 {
                p { a href="/inbox" { (tf(lang, "dash.unread", &[("n", &p.unread.to_string())])) } }
            }
            @if nothing { p class="empty" { (t(lang, "dash.nothing_for_me")) } }
            @if let Some(alerts) = &alerts {
                @if !alerts.is_empty() {
                    h3 { (t(lang, "dash.my_alerts")) }
                    ul class="list" {
                        @for a in alerts {
                            li class="alert-row" {
                                span class=(sev_class(a.severity)) { (t(lang, sev_key(a.severity))) }
                                " " a href={ "/alerts?state=" (if a.state == AlertState::Firing { "firing" } else { "acknowledged" }) "#alert-" (a.id) } { (a.title) }
                                " " span class="state" { (t(lang, alert_state_key(a.state))) }
                                " " span class="meta" { (when(a.first_at)) }
                            }
                        }
                    }
                }
            }
            @if !part.tasks.is_empty() {
                h3 { (t(lang, "dash.my_tasks")) }
                ul class="list" {
                    @for (case, task) in &part.tasks {
                        li {
                            a href={ "/cases/" (case.id) "#task-" (task.key) } { (task_title(lang, task)) }
                            " · " span class="meta" { "#" (case.id) " " (case.title) }
                            @if let Some(due) = task.due_at { " " (countdown(lang, due, now)) }
                        }
                    }
                }
            }
            @if !part.approvals.is_empty() {
                h3 { (t(lang, "dash.my_approvals")) }
                ul class="list" {
                    @for (case, r) in &part.approvals {
                        li {
                            a href={ "/cases/" (case.id) "#response-" (r.id) } { (r.current().title) }
                            " · " span class="meta" { "#" (case.id) " " (case.title) " · " (tf(lang, "case.version", &[("n", &r.current().n.to_string())])) }
                        }
                    }
                }
            }
            p class="live" aria-live="polite" { span id="live-count" data-template=(t(lang, "app.live_new")) {} }
        }
        div class="grid" {
            section class="card" aria-labelledby="duty-h" {
                h2 id="duty-h" { (t(lang, "dash.on_duty")) }
                @if alerts.is_none() { p class="empty" { (t(lang, "alerts.not_configured")) } }
                @for d in &duty {
                    div class="duty" {
                        h3 { (d.unit) }
                        p { strong { (t(lang, "dash.now")) ": " }
                            @match &d.now { Some(s) => { (s.person) " " span class="meta" { "→ " (i18n::short_time(s.to)) } }, None => { (t(lang, "dash.nobody")) } } }
                        p { strong { (t(lang, "dash.next")) ": " }
                            @match &d.next { Some(s) => { (s.person) " " span class="meta" { (i18n::short_time(s.from)) } }, None => { "–" } } }
                        @if let Some(l) = &d.lead { p class="meta" { (t(lang, "dash.lead")) ": " (l) } }
                    }
                }
            }
            section class="card" aria-labelledby="rising-h" {
                h2 id="rising-h" { (t(lang, "dash.rising")) }
                @if rising.is_empty() { p class="empty" { (t(lang, "app.none")) } }
                ol class="list" {
                    @for (recent, s) in &rising {
                        li {
                            a href={ "/stories/" (s.id) } { (s.title) }
                            " " span class="meta" { (tf(lang, "dash.items_in_story", &[("n", &s.items.to_string())])) " · +" (recent) " / 24h" }
                            (mix_bar(lang, s.sentiment.negative, s.sentiment.neutral, s.sentiment.positive))
                        }
                    }
                }
            }
        }
        section class="card" aria-labelledby="vol-h" {
            h2 id="vol-h" { (t(lang, "dash.volume")) }
            (volume_chart(lang, &part.volume, part.until))
        }
    })
}

fn task_title(lang: Lang, task: &tidewatch_workflow::cases::Task) -> String {
    match lang {
        Lang::En if !task.title_en.is_empty() => task.title_en.clone(),
        _ => task.title.clone(),
    }
}

fn mix_bar(lang: Lang, neg: u64, neu: u64, pos: u64) -> Markup {
    let total = (neg + neu + pos).max(1) as f64;
    let pct = |n: u64| format!("{:.0}", n as f64 * 100.0 / total);
    html! {
        span class="mix" title={ (t(lang, "dash.negative_share")) " " (pct(neg)) "%" } {
            span class="neg" data-w=(pct(neg)) {}
            span class="neu" data-w=(pct(neu)) {}
            span class="pos" data-w=(pct(pos)) {}
        }
    }
}

/// Items per hour over 7 days as an SVG bar chart (the negative part of each bar in red), with a
/// red dot over hours holding more than three times the mean (at least 5 items): the bursts.
fn volume_chart(lang: Lang, hours: &[(DateTime<Utc>, i64, i64)], until: DateTime<Utc>) -> Markup {
    let (w, h) = (700.0_f64, 160.0_f64);
    let n_hours = 7 * 24;
    let start = until - Duration::hours(n_hours);
    let max = hours.iter().map(|x| x.1).max().unwrap_or(1).max(1) as f64;
    let bw = w / n_hours as f64;
    let total: i64 = hours.iter().map(|x| x.1).sum();
    let negative: i64 = hours.iter().map(|x| x.2).sum();
    // An hour is marked when it holds more than three times the mean (a visible burst).
    let mean = total as f64 / n_hours as f64;
    html! {
        figure {
            svg viewBox={ "0 0 " (w) " " (h + 20.0) } role="img" aria-label=(t(lang, "dash.volume_label")) class="chart" {
                @for (at, n, neg) in hours {
                    @let i = (*at - start).num_hours() as f64;
                    @let bh = *n as f64 / max * h;
                    @let nh = *neg as f64 / max * h;
                    rect x=(format!("{:.1}", i * bw)) y=(format!("{:.1}", h - bh)) width=(format!("{:.1}", bw.max(1.0))) height=(format!("{:.1}", bh)) class="bar" {}
                    rect x=(format!("{:.1}", i * bw)) y=(format!("{:.1}", h - nh)) width=(format!("{:.1}", bw.max(1.0))) height=(format!("{:.1}", nh)) class="bar-neg" {}
                    @if (*n as f64) > 3.0 * mean && *n >= 5 {
                        circle cx=(format!("{:.1}", i * bw + bw / 2.0)) cy=(format!("{:.1}", (h - bh - 6.0).max(4.0))) r="3.5" class="burst" {}
                    }
                }
                @for d in 0..=7 {
                    @let x = d as f64 * 24.0 * bw;
                    text x=(format!("{:.1}", x.min(w - 40.0))) y=(h + 16.0) class="axis" { (i18n::short_time(start + Duration::days(d)).split(' ').next().unwrap_or("")) }
                }
            }
            figcaption {
                (tf(lang, "dash.items_in_story", &[("n", &total.to_string())]))
                " · " (t(lang, "dash.negative_share")) " "
                (if total > 0 { format!("{:.0}%", negative as f64 * 100.0 / total as f64) } else { "–".into() })
                " · " (i18n::short_time(start)) " – " (i18n::time(until))
            }
        }
    }
}

/// Query of `GET /alerts`.
#[derive(Debug, Deserialize)]
pub struct AlertsPageParams {
    /// `firing` (default), `acknowledged` or `resolved`.
    state: Option<String>,
}

/// `GET /alerts`: the alerts inbox, one tab per state, with the acts on each.
pub async fn alerts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    params: Result<Query<AlertsPageParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let tab = params.ok().and_then(|Query(q)| q.state).unwrap_or_else(|| "firing".into());
    let tab = if ["firing", "acknowledged", "resolved"].contains(&tab.as_str()) { tab } else { "firing".into() };
    let listed =
        crate::alerting::list(State(state.clone()), p.caller.clone(), query(&format!("state={tab}&limit=100"))).await;
    let may_act = p.caller.actor.grants.allows_somewhere(Action::ActOnAlerts);
    let may_escalate = p.caller.actor.grants.allows_somewhere(Action::EscalateAlerts);
    let may_silence = p.caller.actor.grants.allows_somewhere(Action::Silence);
    let may_open = p.caller.actor.grants.allows_somewhere(Action::OpenCases);
    let body = html! {
        nav class="tabs" aria-label=(t(lang, "alerts.tabs")) {
            @for s in ["firing", "acknowledged", "resolved"] {
                a href={ "/alerts?state=" (s) } aria-current=[(s == tab).then_some("page")] {
                    (t(lang, match s { "firing" => "alert_state.firing", "acknowledged" => "alert_state.acknowledged", _ => "alert_state.resolved" }))
                }
            }
        }
        @match &listed {
            Err(e) if e.detail.contains("not configured") => { p class="empty" { (t(lang, "alerts.not_configured")) } },
            Err(e) => { p class="empty" { (err_text(lang, e)) } },
            Ok(Json(list)) if list.is_empty() => { p class="empty" { (t(lang, "alerts.empty")) } },
            Ok(Json(list)) => {
                ul class="alerts" {
                    @for a in list {
                        li class="card alert" id={ "alert-" (a.id) } {
                            div class="head" {
                                span class=(sev_class(a.severity)) { (t(lang, sev_key(a.severity))) }
                                h2 { (a.title) }
                            }
                            p class="meta" {
                                (t(lang, alert_state_key(a.state))) " · " (t(lang, "alerts.first_at")) " " (when(a.first_at))
                                " · " (tf(lang, "alerts.signals", &[("n", &a.signals.len().to_string())]))
                                @if let Some(u) = &a.unit { " · " (u) }
                                @if let Some(c) = a.case { " · " a href={ "/cases/" (c) } { (tf(lang, "alerts.case", &[("id", &c.to_string())])) } }
                            }
                            @if !a.details.is_empty() {
                                ul class="why" { @for d in &a.details { li { (d) } } }
                            }
                            @if a.state != AlertState::Resolved {
                                div class="acts" {
                                    @if may_act && a.state == AlertState::Firing {
                                        form class="act" data-api={ "/api/v1/alerts/" (a.id) "/acknowledge" } {
                                            button type="submit" class="primary" { (t(lang, "alerts.acknowledge")) }
                                            span class="msg" role="alert" {}
                                        }
                                    }
                                    @if may_open && a.case.is_none() {
                                        form class="act" data-api="/api/v1/cases" data-then="/cases/{id}" data-fixed=(serde_json::json!({"alert": a.id}).to_string()) {
                                            button type="submit" { (t(lang, "alerts.open_case")) }
                                            span class="msg" role="alert" {}
                                        }
                                    }
                                    @if may_escalate || may_silence {
                                    details class="more" {
                                    summary { (t(lang, "alerts.more")) }
                                    @if may_escalate {
                                        form class="act" data-api={ "/api/v1/alerts/" (a.id) "/escalate" } {
                                            label { (t(lang, "alerts.escalate_to")) " "
                                                select name="to_step" data-type="number-or-null" {
                                                    option value="" { (t(lang, "alerts.next_step")) }
                                                    @for s in 1..=4 { option value=(s) { (s) } }
                                                }
                                            }
                                            button type="submit" { (t(lang, "alerts.escalate")) }
                                            span class="msg" role="alert" {}
                                        }
                                    }
                                    @if may_silence {
                                        @let matcher = match &a.story {
                                            Some(s) => serde_json::json!({"field": "story", "value": s}),
                                            None => serde_json::json!({"field": "kind", "value": a.kind}),
                                        };
                                        form class="act" data-api="/api/v1/silences" data-fixed=(serde_json::json!({"matchers": [matcher]}).to_string()) {
                                            label { (t(lang, "alerts.silence_hours")) " " input name="ends" type="number" min="1" max="168" value="4" data-type="hours-from-now" class="narrow"; }
                                            label { (t(lang, "alerts.silence_comment")) " " input name="comment" required; }
                                            button type="submit" { (t(lang, "alerts.silence")) }
                                            span class="msg" role="alert" {}
                                        }
                                    }
                                    }
                                    }
                                }
                            }
                            @if !a.events.is_empty() {
                                details {
                                    summary { (t(lang, "alerts.history")) }
                                    ul class="timeline" {
                                        @for e in &a.events {
                                            li { (serde_json::to_value(e).ok().and_then(|v| v.get("at").and_then(|x| x.as_str()).and_then(|x| x.parse::<DateTime<Utc>>().ok())).map(i18n::short_time).unwrap_or_default())
                                                " " (serde_json::to_value(e).ok().and_then(|v| v.get("kind").or_else(|| v.get("type")).and_then(|x| x.as_str()).map(String::from)).unwrap_or_default())
                                                " " (serde_json::to_value(e).ok().and_then(|v| v.get("by").or_else(|| v.get("who")).and_then(|x| x.as_str()).map(String::from)).unwrap_or_default()) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            },
        }
    };
    layout(&p, "/alerts", t(lang, "alerts.title"), body).into_response()
}

/// `GET /cases`: open and recent cases.
pub async fn cases(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let listed = crate::cases::list(State(state.clone()), p.caller.clone(), query("limit=100")).await;
    let body = html! {
        @match &listed {
            Err(e) => { p class="empty" { (err_text(lang, e)) } },
            Ok(Json(list)) if list.is_empty() => { p class="empty" { (t(lang, "cases.empty")) } },
            Ok(Json(list)) => {
                ul class="cases" {
                    @for c in list {
                        li class="card" {
                            h2 { a href={ "/cases/" (c.id) } { "#" (c.id) " " (c.title) } }
                            p class="meta" {
                                span class="state" { (t(lang, case_state_key(c.state))) } " · "
                                (t(lang, grade_key(c.grade))) " · " (t(lang, class_key(c.classification))) " · "
                                (c.unit) " · " (t(lang, "cases.opened")) " " (when(c.opened_at))
                            }
                            p class="meta" {
                                (tf(lang, "cases.open_tasks", &[("n", &c.open_tasks.to_string())]))
                                @if !c.overdue.is_empty() { " · " span class="late" { (tf(lang, "cases.overdue", &[("n", &c.overdue.len().to_string())])) } }
                            }
                        }
                    }
                }
            },
        }
    };
    layout(&p, "/cases", t(lang, "cases.title"), body).into_response()
}

/// `GET /cases/{id}`: the case workspace.
pub async fn case(State(state): State<Arc<AppState>>, caller: Caller, Path(id): Path<String>) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let detail = match crate::cases::get(State(state.clone()), p.caller.clone(), Path(id.clone())).await {
        Ok(Json(d)) => d,
        Err(e) => return failed(lang, e),
    };
    let responses = crate::responses::list(State(state.clone()), p.caller.clone(), Path(id.clone()))
        .await
        .map(|Json(v)| v)
        .unwrap_or_default();
    let claims = crate::responses::claims(State(state.clone()), p.caller.clone(), Path(id.clone()))
        .await
        .map(|Json(v)| v)
        .unwrap_or_default();
    // The effect of each clarification: supporting and denying items per hour, before and after.
    let mut effects = Vec::new();
    for cl in claims.iter().filter(|c| c.clarified.is_some()) {
        if let Ok(Json(d)) =
            crate::responses::claim(State(state.clone()), p.caller.clone(), Path(cl.id.to_string())).await
        {
            if let Some(e) = d.effect {
                effects.push((cl.id, e));
            }
        }
    }
    let mut diffs = Vec::new();
    for r in &responses {
        if r.versions.len() > 1 {
            let d =
                crate::responses::diff(State(state.clone()), p.caller.clone(), Path(r.id.to_string()), query("")).await;
            diffs.push((r.id, d.ok().map(|Json(d)| d)));
        }
    }
    let now = state.now();
    let c = &detail.case.case;
    let (tree, deciders) = {
        let side = state.cases.lock();
        match side {
            Ok(s) => (
                tidewatch_engine::accounts::unit_tree(&s.db).ok(),
                responses
                    .iter()
                    .filter(|r| {
                        tidewatch_engine::responses::Responses::may_decide(&s.db, &p.caller.actor, r).unwrap_or(false)
                    })
                    .map(|r| r.id)
                    .collect::<Vec<i64>>(),
            ),
            Err(_) => (None, Vec::new()),
        }
    };
    let may = |action: Action| match &tree {
        Some(tree) => p.caller.actor.grants.allows(action, Some(&c.unit), tree),
        None => false,
    };
    let base = format!("/api/v1/cases/{}", c.id);
    let title = tf(lang, "case.heading", &[("id", &c.id.to_string()), ("title", &c.title)]);
    let body = html! {
        section class="card" aria-labelledby="sum-h" {
            h2 id="sum-h" { (t(lang, "case.summary")) }
            p class="meta" {
                span class="state" { (t(lang, case_state_key(c.state))) } " · "
                span class=(sev_class(c.severity)) { (t(lang, sev_key(c.severity))) } " · "
                (t(lang, grade_key(c.grade()))) " · " (t(lang, class_key(c.classification()))) " · " (c.unit)
            }
            p class="meta" {
                (t(lang, "cases.opened")) " " (when(c.opened_at)) " · " (c.opened_by)
                @if let Some(o) = &c.owner { " · " (t(lang, "case.owner")) " " (o) }
                @if let Some(a) = c.alert { " · " a href="/alerts?state=acknowledged" { (tf(lang, "case.from_alert", &[("id", &a.to_string())])) } }
            }
            @if let Some(esc) = &c.escalation {
                @if esc.acknowledged.is_none() {
                    div class="notice" {
                        (t(lang, "case.escalation"))
                        @if may(Action::AcknowledgeCases) {
                            form class="act inline" data-api={ (base) "/acknowledge" } {
                                button type="submit" { (t(lang, "case.acknowledge")) }
                                span class="msg" role="alert" {}
                            }
                        }
                    }
                }
            }
        }
        section class="card" aria-labelledby="rep-h" {
            h2 id="rep-h" { (t(lang, "case.reports")) }
            @if c.reports.is_empty() { p class="empty" { (t(lang, "case.no_reports")) } }
            @for r in &c.reports {
                article class="report" {
                    h3 { (t(lang, if r.first { "case.first_report" } else { "case.follow_up" })) " · " (when(r.at)) " · " (r.by) }
                    p { (r.body.development) }
                    @if !r.body.place.is_empty() { p class="meta" { (t(lang, "case.place")) ": " (r.body.place) } }
                }
            }
            @if c.state.is_open() && may(Action::ReportCases) {
                details {
                    summary { (t(lang, "case.file_report")) }
                    form class="act" data-api={ (base) "/reports" } {
                        label { (t(lang, "case.development")) textarea name="development" required {} }
                        label { (t(lang, "case.place")) input name="place"; }
                        label { (t(lang, "case.reporter")) input name="reporter" value=(p.caller.actor.username); }
                        button type="submit" { (t(lang, "case.file_report")) }
                        span class="msg" role="alert" {}
                    }
                }
            }
        }
        section class="card" aria-labelledby="as-h" {
            h2 id="as-h" { (t(lang, "case.assessment")) }
            @for g in &c.grades {
                p { strong { (t(lang, grade_key(Some(g.grade)))) } " · " (when(g.at)) " · " (g.by) br; (g.assessment) }
            }
            @for k in &c.classifications {
                p { strong { (t(lang, class_key(Some(k.classification)))) } " · " (when(k.at)) " · " (k.by) @if !k.reason.is_empty() { br; (k.reason) } }
            }
            @if c.state == tidewatch_workflow::cases::CaseState::New {
                p class="empty" { (t(lang, "case.report_first")) }
            }
            @if c.state.is_open() && c.state != tidewatch_workflow::cases::CaseState::New && may(Action::AssessCases) {
                form class="act" data-api={ (base) "/assessment" } {
                    label { (t(lang, "case.grade_it")) " "
                        select name="grade" { @for g in ["IV", "III", "II", "I"] { option value=(g) selected[c.grade().map(|x| x.as_str()) == Some(g)] { (t(lang, match g { "IV" => "grade.IV", "III" => "grade.III", "II" => "grade.II", _ => "grade.I" })) } } }
                    }
                    label { (t(lang, "case.assess_text")) textarea name="assessment" required {} }
                    button type="submit" { (t(lang, "case.grade_it")) }
                    span class="msg" role="alert" {}
                }
                form class="act" data-api={ (base) "/classification" } {
                    label { (t(lang, "case.classify_it")) " "
                        select name="classification" { @for k in ["inquiry", "hype", "fabrication", "constructive"] { option value=(k) selected[c.classification().map(|x| x.as_str()) == Some(k)] { (t(lang, match k { "inquiry" => "classification.inquiry", "hype" => "classification.hype", "fabrication" => "classification.fabrication", _ => "classification.constructive" })) } } }
                    }
                    label { (t(lang, "case.reason")) input name="reason"; }
                    button type="submit" { (t(lang, "case.classify_it")) }
                    span class="msg" role="alert" {}
                }
            }
        }
        section class="card" aria-labelledby="tasks-h" {
            h2 id="tasks-h" { (t(lang, "case.checklist")) }
            @if c.tasks.is_empty() { p class="empty" { (t(lang, "case.no_tasks")) } }
            ul class="tasks" {
                @for task in &c.tasks {
                    li id={ "task-" (task.key) } class={ "task " (format!("{:?}", task.state).to_lowercase()) } {
                        strong { (task_title(lang, task)) }
                        " · " span class="state" { (t(lang, task_state_key(task.state))) }
                        @if let Some(o) = &task.owner { " · " (o) }
                        @if let Some(due) = task.due_at {
                            " · " span class="meta" { (tf(lang, "case.due", &[("at", &i18n::time(due))])) }
                            @if task.state == TaskState::Open { " " (countdown(lang, due, now)) }
                        }
                        @if task.state == TaskState::Open && may(Action::WorkTasks) && tree.as_ref().is_some_and(|tr| holds(&p.caller, task.role, &c.unit, tr) || p.caller.actor.grants.allows_everywhere(Action::EditSettings)) {
                            form class="act inline" data-api={ (base) "/tasks/" (task.id()) "/done" } {
                                label class="sr" for={ "note-" (task.key) } { (t(lang, "case.task_note")) }
                                input id={ "note-" (task.key) } name="note" placeholder=(t(lang, "case.task_note"));
                                button type="submit" { (t(lang, "case.task_done")) }
                                span class="msg" role="alert" {}
                            }
                        }
                    }
                }
            }
        }
        section class="card" aria-labelledby="ev-h" {
            h2 id="ev-h" { (t(lang, "case.evidence")) }
            @if c.evidence.is_empty() { p class="empty" { (t(lang, "case.no_evidence")) } }
            ul class="list" {
                @for e in &c.evidence {
                    li {
                        @match e.kind {
                            tidewatch_workflow::cases::EvidenceKind::Item => { (t(lang, "case.evidence_kind_item")) " #" (e.id) },
                            tidewatch_workflow::cases::EvidenceKind::Story => { a href={ "/stories/" (e.id) } { (t(lang, "case.evidence_kind_story")) " #" (e.id) } },
                        }
                        " · " (e.added_by) " · " (when(e.added_at))
                    }
                }
            }
            @if c.state.is_open() && may(Action::ReportCases) {
                form class="act inline" data-api={ (base) "/evidence" } {
                    label { (t(lang, "case.evidence_kind_item")) "/" (t(lang, "case.evidence_kind_story")) " "
                        select name="kind" { option value="item" { (t(lang, "case.evidence_kind_item")) } option value="story" { (t(lang, "case.evidence_kind_story")) } } }
                    label { (t(lang, "case.evidence_id")) " " input name="id" type="number" min="1" required data-type="number" class="narrow"; }
                    button type="submit" { (t(lang, "case.add_evidence")) }
                    span class="msg" role="alert" {}
                }
            }
        }
        section class="card" aria-labelledby="cl-h" {
            h2 id="cl-h" { (t(lang, "case.claims")) }
            @if claims.is_empty() { p class="empty" { (t(lang, "case.no_claims")) } }
            ul class="list" {
                @for cl in &claims {
                    li id={ "claim-" (cl.id) } {
                        "「" (cl.text) "」 · " span class="state" { (t(lang, claim_status_key(cl.status))) } " · " (when(cl.first_seen))
                        " · " (tf(lang, "case.claim_items", &[("n", &cl.items.len().to_string())]))
                        @if let Some((r, at)) = cl.clarified { " · " (tf(lang, "case.clarified_by", &[("id", &r.to_string())])) " " (when(at)) }
                        @if let Some((_, e)) = effects.iter().find(|(id, _)| *id == cl.id) { (effect_chart(lang, e)) }
                        @if c.state.is_open() && may(Action::ManageClaims) {
                            form class="act inline" data-api={ "/api/v1/claims/" (cl.id) "/status" } {
                                label class="sr" for={ "cs-" (cl.id) } { (t(lang, "case.claim_status")) }
                                select id={ "cs-" (cl.id) } name="status" {
                                    @for st in ["unverified", "false", "partly_true", "true", "misleading"] {
                                        option value=(st) selected[serde_json::to_value(cl.status).ok().and_then(|v| v.as_str().map(String::from)).as_deref() == Some(st)] {
                                            (i18n::lookup(lang, &format!("claim_status.{st}")).unwrap_or(st))
                                        }
                                    }
                                }
                                label class="sr" for={ "ce-" (cl.id) } { (t(lang, "case.claim_evidence")) }
                                input id={ "ce-" (cl.id) } name="evidence" placeholder=(t(lang, "case.claim_evidence"));
                                button type="submit" { (t(lang, "case.claim_set")) }
                                span class="msg" role="alert" {}
                            }
                        }
                    }
                }
            }
            @if c.state.is_open() && may(Action::ManageClaims) {
                details {
                    summary { (t(lang, "case.claim_register")) }
                    form class="act" data-api={ (base) "/claims" } {
                        label { (t(lang, "case.claim_text")) textarea name="text" required {} }
                        label { (t(lang, "case.claim_terms")) input name="key_terms" data-type="list" placeholder="食堂, 封校"; }
                        button type="submit" { (t(lang, "case.claim_register")) }
                        span class="msg" role="alert" {}
                    }
                }
            }
        }
        section class="card" aria-labelledby="resp-h" {
            h2 id="resp-h" { (t(lang, "case.responses")) }
            @if responses.is_empty() { p class="empty" { (t(lang, "case.no_responses")) } }
            @for r in &responses {
                @let v = r.current();
                article class="response" id={ "response-" (r.id) } {
                    h3 { (v.title) " · " span class="state" { (t(lang, response_state_key(r.state))) } }
                    p class="meta" { (tf(lang, "case.version", &[("n", &v.n.to_string())])) " · " (v.by) " · " (when(v.at))
                        @if r.state == ResponseState::InReview { @if let Some(step) = r.chain.steps.get(r.step) { " · " (tf(lang, "case.step", &[("name", &step.name)])) } } }
                    blockquote { (v.body) }
                    @if !r.decisions.is_empty() {
                        ul class="timeline" {
                            @for d in &r.decisions {
                                li { (tf(lang, "case.version", &[("n", &d.version.to_string())])) " · "
                                    (r.chain.steps.get(d.step).map(|s| s.name.clone()).unwrap_or_default()) " · "
                                    strong { (t(lang, if d.approved { "case.approved" } else { "case.returned" })) } " · " (d.by) " · " (when(d.at))
                                    @if !d.comment.is_empty() { " · 「" (d.comment) "」" } }
                            }
                        }
                    }
                    @if let Some((_, Some(d))) = diffs.iter().find(|(id, _)| *id == r.id) {
                        details open {
                            summary { (t(lang, "case.diff")) }
                            p class="diff" {
                                @for part in &d.body {
                                    @match part.op { "added" => { ins { (part.text) } }, "removed" => { del { (part.text) } }, _ => { span { (part.text) } } }
                                }
                            }
                        }
                    }
                    div class="acts" {
                        @if r.state == ResponseState::Draft && may(Action::DraftResponses) {
                            details class="more" {
                                summary { (t(lang, "case.edit")) }
                                form class="act" data-api={ "/api/v1/responses/" (r.id) "/versions" } {
                                    label { (t(lang, "case.response_title")) input name="title" required value=(v.title); }
                                    label { (t(lang, "case.response_body")) textarea name="body" required { (v.body) } }
                                    button type="submit" { (t(lang, "case.save_version")) }
                                    span class="msg" role="alert" {}
                                }
                            }
                            form class="act inline" data-api={ "/api/v1/responses/" (r.id) "/submit" } {
                                button type="submit" class="primary" { (t(lang, "case.submit")) }
                                span class="msg" role="alert" {}
                            }
                        }
                        @if deciders.contains(&r.id) {
                            form class="act inline" data-api={ "/api/v1/responses/" (r.id) "/approve" } data-fixed=(serde_json::json!({"version": v.n}).to_string()) {
                                label class="sr" for={ "ac-" (r.id) } { (t(lang, "case.comment")) }
                                input id={ "ac-" (r.id) } name="comment" placeholder=(t(lang, "case.comment"));
                                button type="submit" class="primary" { (t(lang, "case.approve")) }
                                span class="msg" role="alert" {}
                            }
                            form class="act inline" data-api={ "/api/v1/responses/" (r.id) "/return" } data-fixed=(serde_json::json!({"version": v.n}).to_string()) {
                                label class="sr" for={ "rc-" (r.id) } { (t(lang, "case.comment")) }
                                input id={ "rc-" (r.id) } name="comment" required placeholder=(t(lang, "case.comment"));
                                button type="submit" { (t(lang, "case.return")) }
                                span class="msg" role="alert" {}
                            }
                        }
                    }
                }
            }
            @if c.state.is_open() && may(Action::DraftResponses) {
                details {
                    summary { (t(lang, "case.draft")) }
                    form class="act" data-api={ (base) "/responses" } data-fixed=(serde_json::json!({"kind": "statement", "places": ["own_channels"]}).to_string()) {
                        label { (t(lang, "case.response_title")) input name="title" required; }
                        label { (t(lang, "case.response_body")) textarea name="body" required {} }
                        button type="submit" { (t(lang, "case.draft")) }
                        span class="msg" role="alert" {}
                    }
                }
            }
        }
        section class="card" aria-labelledby="close-h" {
            h2 id="close-h" { (t(lang, "case.progress")) }
            @if c.state == tidewatch_workflow::cases::CaseState::Handling && may(Action::CloseCases) {
                form class="act inline" data-api={ (base) "/monitor" } {
                    button type="submit" { (t(lang, "case.monitor")) }
                    span class="msg" role="alert" {}
                }
            }
            @if matches!(c.state, tidewatch_workflow::cases::CaseState::Handling | tidewatch_workflow::cases::CaseState::Monitoring) && may(Action::CloseCases) {
                form class="act" data-api={ (base) "/close" } {
                    label { (t(lang, "case.close_summary")) textarea name="summary" required {} }
                    button type="submit" { (t(lang, "case.close")) }
                    span class="msg" role="alert" {}
                }
            }
            @if let Some(at) = c.closed_at { p { (t(lang, "case_state.closed")) " " (when(at)) } }
            @if let Some(r) = &c.review {
                article class="report" {
                    h3 { (t(lang, "case.review")) " · " (r.by) " · " (when(r.at))
                        @if let Some((by, at)) = &r.approved { " · " (t(lang, "timeline.reviewed")) " " (by) " " (when(*at)) } }
                    p { strong { (t(lang, "case.worked")) ": " } (r.notes.worked) }
                    p { strong { (t(lang, "case.lessons")) ": " } (r.notes.lessons) }
                    ul class="list" { @for a in &r.notes.actions { li { (a.text) } } }
                }
            }
            @if c.state == tidewatch_workflow::cases::CaseState::Closed {
                @if may(Action::CloseCases) {
                    form class="act inline" data-api={ (base) "/reopen" } {
                        label class="sr" for="reopen-reason" { (t(lang, "case.reopen_reason")) }
                        input id="reopen-reason" name="reason" required placeholder=(t(lang, "case.reopen_reason"));
                        button type="submit" { (t(lang, "case.reopen")) }
                        span class="msg" role="alert" {}
                    }
                }
                @match &c.review {
                    Some(r) => {
                        @if r.approved.is_none() && may(Action::ApproveReviews) {
                            form class="act inline" data-api={ (base) "/review/approve" } {
                                button type="submit" class="primary" { (t(lang, "case.approve_review")) }
                                span class="msg" role="alert" {}
                            }
                        }
                    },
                    None => {
                        @if may(Action::ReviewCases) {
                            form class="act" data-api={ (base) "/review" } {
                                label { (t(lang, "case.worked")) textarea name="worked" required {} }
                                label { (t(lang, "case.lessons")) textarea name="lessons" required {} }
                                label { (t(lang, "case.actions")) textarea name="actions" data-type="lines" {} }
                                button type="submit" class="primary" { (t(lang, "case.review")) }
                                span class="msg" role="alert" {}
                            }
                        }
                    },
                }
            }
            @if let Some(f) = &detail.review_figures {
                @let v = serde_json::to_value(f).unwrap_or_default();
                @if let Some(obj) = v.as_object() {
                    details {
                        summary { (t(lang, "case.figures")) }
                        ul class="list" {
                            @for (k, x) in obj.iter().filter(|(_, x)| x.is_number()) {
                                li { code { (k) } ": " (x) }
                            }
                        }
                    }
                }
            }
        }
        section class="card" aria-labelledby="tl-h" {
            h2 id="tl-h" { (t(lang, "case.timeline")) }
            ol class="timeline" {
                // Runs of the same line (a burst's signals) are shown once, with their count.
                @for (e, n) in runs(&detail.timeline) {
                    li { (when(e.at)) " · " (e.who.clone().unwrap_or_else(|| t(lang, "case.system").to_string())) " · "
                        @match i18n::lookup(lang, &format!("timeline.{}", e.kind)) { Some(k) => { (k) }, None => { code { (e.kind) } } }
                        @if n > 1 { " ×" (n) } }
                }
            }
        }
    };
    layout(&p, "/cases", &title, body).into_response()
}

/// A clarification's effect: supporting (red, up) and denying (green, down) items per hour in
/// the 24 hours before and after it, with the moment marked, as SVG.
fn effect_chart(lang: Lang, e: &tidewatch_workflow::claims::ClarificationEffect) -> Markup {
    let hours: Vec<&tidewatch_workflow::claims::StanceHour> = e.before.iter().chain(e.after.iter()).collect();
    let (w, h) = (480.0_f64, 90.0_f64);
    let mid = h / 2.0;
    let max = hours.iter().map(|x| x.supporting.max(x.denying)).max().unwrap_or(1).max(1) as f64;
    let start = e.clarified_at - Duration::hours(24);
    let bw = w / 48.0;
    html! {
        figure class="effect" {
            svg viewBox={ "0 0 " (w) " " (h) } role="img" aria-label=(t(lang, "case.effect")) class="chart" {
                line x1="0" x2=(w) y1=(mid) y2=(mid) class="mid" {}
                line x1=(w / 2.0) x2=(w / 2.0) y1="0" y2=(h) class="mid" {}
                @for x in &hours {
                    @let i = (x.hour - start).num_hours() as f64;
                    @let up = x.supporting as f64 / max * mid;
                    @let down = x.denying as f64 / max * mid;
                    rect x=(format!("{:.1}", i * bw)) y=(format!("{:.1}", mid - up)) width=(format!("{:.1}", (bw - 1.0).max(1.0))) height=(format!("{up:.1}")) class="bar-neg" {}
                    rect x=(format!("{:.1}", i * bw)) y=(format!("{mid:.1}")) width=(format!("{:.1}", (bw - 1.0).max(1.0))) height=(format!("{down:.1}")) class="bar-pos" {}
                }
            }
            figcaption {
                (tf(lang, "case.effect_totals", &[
                    ("sb", &e.before_totals.0.to_string()), ("db", &e.before_totals.1.to_string()),
                    ("sa", &e.after_totals.0.to_string()), ("da", &e.after_totals.1.to_string()),
                ]))
            }
        }
    }
}

/// Consecutive timeline lines of the same kind by the same actor, as `(first, count)`.
fn runs(timeline: &[crate::views::TimelineEntry]) -> Vec<(&crate::views::TimelineEntry, usize)> {
    let mut out: Vec<(&crate::views::TimelineEntry, usize)> = Vec::new();
    for e in timeline {
        match out.last_mut() {
            Some((first, n)) if first.kind == e.kind && first.who == e.who => *n += 1,
            _ => out.push((e, 1)),
        }
    }
    out
}

/// `GET /inbox`: the notifications to the reader's person.
pub async fn inbox(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let Json(list) = match inbox_list(State(state.clone()), p.caller.clone()).await {
        Ok(l) => l,
        Err(e) => return failed(lang, e),
    };
    let body = html! {
        @if p.caller.actor.person.is_none() { p class="empty" { (t(lang, "inbox.no_person")) } }
        @else if list.items.is_empty() { p class="empty" { (t(lang, "inbox.empty")) } }
        @else {
            form class="act" data-api="/api/v1/me/inbox/read" data-fixed=(serde_json::json!({"upto": list.items.first().map(|n| n.id).unwrap_or(0)}).to_string()) {
                button type="submit" { (t(lang, "inbox.mark_read")) }
                span class="msg" role="alert" {}
            }
            ul class="inbox" {
                @for n in &list.items {
                    li class={ "card" @if n.id > list.seen { " unread" } } {
                        h2 { @if n.id > list.seen { span class="count" { (t(lang, "inbox.new")) } " " } (n.subject) }
                        p class="meta" { (when(n.created_at)) " · " (t(lang, match n.status.as_str() { "sent" => "inbox.status_sent", "failed" => "inbox.status_failed", _ => "inbox.status_pending" }))
                            @if n.alert > 0 { " · " a href={ "/alerts?state=firing#alert-" (n.alert) } { "#" (n.alert) } } }
                        pre class="body" { (n.body) }
                    }
                }
            }
        }
    };
    layout(&p, "/inbox", t(lang, "inbox.title"), body).into_response()
}

/// `GET /api/v1/me/inbox`: the notifications to the caller's person, newest first (the
/// channel not shown: this is the reader's own inbox).
pub async fn inbox_list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<crate::views::InboxView>, ApiError> {
    let (account, person) = (caller.actor.account, caller.actor.person.clone());
    crate::common::blocking(move || {
        let db = state.auth.lock().map_err(|_| internal("lock poisoned"))?;
        let seen = db.prefs(account)?.inbox_seen;
        let items = match &person {
            Some(p) => db
                .inbox(p, None, 100)?
                .into_iter()
                .map(|n| crate::views::InboxItem {
                    id: n.id,
                    created_at: n.created_at,
                    alert: n.alert,
                    subject: n.subject,
                    body: n.body,
                    status: n.status,
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(Json(crate::views::InboxView { seen, items }))
    })
    .await
}

/// Body of `POST /api/v1/me/inbox/read`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// Read up to this outbox id.
    upto: i64,
}

/// `POST /api/v1/me/inbox/read`: the caller's inbox read up to an id.
pub async fn inbox_read(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<ReadBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::views::InboxRead>, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::new("bad_body", e.body_text()))?;
    if b.upto < 0 {
        return Err(ApiError::bad_parameter("upto", "must be 0 or more"));
    }
    let account = caller.actor.account;
    crate::common::blocking(move || {
        let mut db = state.auth.lock().map_err(|_| internal("lock poisoned"))?;
        db.set_inbox_seen(account, b.upto)?;
        Ok(Json(crate::views::InboxRead { seen: db.prefs(account)?.inbox_seen }))
    })
    .await
}

/// Body of `PUT /api/v1/me/lang`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangBody {
    /// `zh` or `en`.
    lang: String,
}

/// `PUT /api/v1/me/lang`: the caller's interface language, kept with the account (audited).
pub async fn set_lang(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<LangBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::views::LangView>, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::new("bad_body", e.body_text()))?;
    let lang = Lang::parse(&b.lang).ok_or_else(|| ApiError::bad_parameter("lang", "must be zh or en"))?;
    let account = caller.actor.account;
    if account == 0 {
        return Err(ApiError::bad_parameter("account", "this credential has no account"));
    }
    crate::common::blocking(move || {
        let before = {
            let mut db = state.auth.lock().map_err(|_| internal("lock poisoned"))?;
            let before = db.prefs(account)?.lang;
            db.set_lang(account, lang.code())?;
            before
        };
        state.audit(
            tidewatch_store::NewAudit::new(
                &caller.actor.username,
                caller.addr(),
                "account.lang",
                &format!("account:{}", caller.actor.username),
            )
            .with(serde_json::json!({"before": before, "after": lang.code()})),
        )?;
        Ok(Json(crate::views::LangView { lang: lang.code().to_string() }))
    })
    .await
}
