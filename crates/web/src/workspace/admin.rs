//! The topics editor (rule check with the error at its column, backtest chart with samples,
//! versions), the duty rota (a week per unit, who is on duty at a moment, overrides), and the
//! audit viewer with the chain's verification.

use super::{err_text, failed, internal, layout, page_of, query, when};
use crate::auth::Caller;
use crate::i18n::{self, t, tf, Lang};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, TimeZone, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use std::sync::Arc;
use tidewatch_workflow::access::Action;

/// `GET /topics`: the topics with their rules.
pub async fn topics(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let list = match crate::topics::list(State(state.clone())).await {
        Ok(Json(l)) => l,
        Err(e) => return failed(lang, e),
    };
    let body = html! {
        ul class="cases" {
            @for tp in &list {
                li class="card" {
                    h2 { a href={ "/topics/" (tp.def.id) } { (tp.def.name) } " " span class="badge" { (tp.def.id) } }
                    p class="meta" { (tp.def.unit.clone().unwrap_or_default()) " · " (tp.def.severity) " · v" (tp.version)
                        @if !tp.def.enabled { " · " (t(lang, "topics.disabled")) } }
                    pre class="rule" { (tp.def.rule) }
                }
            }
        }
    };
    layout(&p, "/topics", t(lang, "topics.title"), body).into_response()
}

/// Query of `GET /topics/{id}`: a draft rule to check and backtest.
#[derive(Debug, Default, Deserialize)]
pub struct TopicPageParams {
    rule: Option<String>,
    days: Option<u32>,
    /// The last day of the backtest (`2026-10-26`); by default the day of the newest item.
    until: Option<String>,
}

fn caret(rule: &str, column: usize) -> String {
    let line: String = rule.chars().map(|c| if c == '\n' { ' ' } else { c }).collect();
    format!("{line}\n{}^", " ".repeat(column.saturating_sub(1)))
}

/// `GET /topics/{id}`: the topic, its versions, and the editor: `?rule=…` checks the draft
/// (errors at their column, the linter's warnings) and, when it is valid, backtests it.
pub async fn topic(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    params: Result<Query<TopicPageParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let detail = match crate::topics::get_topic(State(state.clone()), Path(id.clone())).await {
        Ok(Json(d)) => d,
        Err(e) => return failed(lang, e),
    };
    let q = params.map(|Query(q)| q).unwrap_or_default();
    let days = q.days.unwrap_or(30).clamp(1, 366);
    let draft = q.rule.clone().unwrap_or_else(|| detail.topic.def.rule.clone());
    let may_backtest = p.caller.actor.grants.allows_somewhere(Action::Backtest);
    let may_edit = p.caller.actor.grants.allows_somewhere(Action::EditTopics);
    let check = match (&q.rule, may_backtest) {
        (Some(rule), true) => Some(
            crate::topics::check(Ok(Json(
                serde_json::from_value(serde_json::json!({"rule": rule})).expect("a check body"),
            )))
            .await,
        ),
        _ => None,
    };
    let valid = matches!(&check, Some(Ok(Json(c))) if c.valid);
    let until = match q.until.clone().filter(|u| !u.is_empty()) {
        Some(u) => u,
        None => {
            let st = state.clone();
            let newest = tokio::task::spawn_blocking(move || {
                st.cases.lock().ok().and_then(|s| s.db.newest_published().ok().flatten())
            })
            .await
            .ok()
            .flatten();
            newest.unwrap_or_else(Utc::now).with_timezone(&i18n::zone()).format("%Y-%m-%d").to_string()
        }
    };
    let backtest = if valid {
        let body = serde_json::json!({"rule": draft, "days": days, "samples": 5, "until": until});
        Some(
            crate::topics::backtest(
                State(state.clone()),
                Ok(Json(serde_json::from_value(body).expect("a backtest body"))),
            )
            .await,
        )
    } else {
        None
    };
    // Each version against the one before, word by word.
    let diffs: Vec<Vec<tidewatch_engine::responses::DiffPart>> = match state.cases.lock() {
        Ok(side) => detail
            .versions
            .windows(2)
            .map(|w| tidewatch_engine::responses::word_diff(&side.segmenter, &w[0].def.rule, &w[1].def.rule))
            .collect(),
        Err(_) => Vec::new(),
    };
    let msg =
        |d: &crate::topics::DiagnosticView| if lang == Lang::Zh { d.message_zh.clone() } else { d.message.clone() };
    let tp = &detail.topic;
    let title = format!("{} ({})", tp.def.name, tp.def.id);
    let body = html! {
        section class="card" aria-labelledby="cur-h" {
            h2 id="cur-h" { (t(lang, "topics.current")) " · v" (tp.version) }
            p class="meta" { (tp.def.unit.clone().unwrap_or_default()) " · " (tp.def.severity) " · " (when(tp.updated_at)) }
            pre class="rule" { (tp.def.rule) }
        }
        @if may_backtest {
            section class="card" aria-labelledby="ed-h" {
                h2 id="ed-h" { (t(lang, "topics.editor")) }
                form method="get" action={ "/topics/" (tp.def.id) } class="editor" {
                    label for="rule" { (t(lang, "topics.rule")) }
                    textarea id="rule" name="rule" spellcheck="false" { (draft) }
                    label { (t(lang, "topics.days")) " " input name="days" type="number" min="1" max="366" value=(days) class="narrow"; }
                    label { (t(lang, "topics.until")) " " input name="until" type="date" value=(until); }
                    button type="submit" class="primary" { (t(lang, "topics.check")) }
                }
                @match &check {
                    None => {},
                    Some(Err(e)) => { p class="msg" role="alert" { (err_text(lang, e)) } },
                    Some(Ok(Json(c))) => {
                        div id="diagnostics" role="status" {
                            @for d in &c.errors {
                                @if let Some(col) = d.column { pre class="caret err" { (caret(&draft, col)) } }
                                p class="err" { (tf(lang, "topics.at_column", &[("n", &d.column.unwrap_or(0).to_string())])) " " (msg(d)) }
                            }
                            @for d in &c.warnings {
                                p class="warn" { (tf(lang, "topics.at_column", &[("n", &d.column.unwrap_or(0).to_string())])) " " (msg(d)) }
                            }
                            @if c.valid { p class="ok" { (t(lang, "topics.valid")) } }
                        }
                    },
                }
                @if let Some(b) = &backtest {
                    @match b {
                        Err(e) => { p class="msg" role="alert" { (err_text(lang, e)) } },
                        Ok(Json(b)) => {
                            div id="backtest" {
                                h3 { (tf(lang, "topics.backtest", &[("hits", &b.hits.to_string()), ("scanned", &b.scanned.to_string()), ("days", &days.to_string())])) }
                                (super::search::bars(lang, t(lang, "topics.backtest_chart"), &b.days.iter().map(|d| (d.day, d.count as i64)).collect::<Vec<_>>(), Duration::days(1)))
                                ul class="hits" {
                                    @for s in &b.samples {
                                        li class="hit" { p { (marked(&s.item.text, &s.spans)) } p class="meta" { (s.item.source) " · " (when(s.item.published_at)) } }
                                    }
                                }
                            }
                            @if may_edit && q.rule.as_deref().is_some_and(|r| r != tp.def.rule) {
                                form class="act" data-method="PUT" data-api={ "/api/v1/topics/" (tp.def.id) } data-fixed=(serde_json::json!({"rule": draft}).to_string()) {
                                    button type="submit" class="primary" { (t(lang, "topics.save")) }
                                    span class="msg" role="alert" {}
                                }
                            }
                        },
                    }
                }
            }
        }
        section class="card" aria-labelledby="ver-h" {
            h2 id="ver-h" { (t(lang, "topics.versions")) }
            ol class="timeline" reversed {
                @for (i, v) in detail.versions.iter().enumerate().rev() {
                    li { "v" (v.version) " · " (when(v.changed_at)) " · " (v.changed_by) pre class="rule" { (v.def.rule) }
                        @if i > 0 {
                            @if let Some(d) = diffs.get(i - 1) {
                                p class="diff" { span class="sr" { (t(lang, "topics.version_diff")) } code {
                                    @for part in d { @match part.op { "added" => { ins { (part.text) } }, "removed" => { del { (part.text) } }, _ => { span { (part.text) } } } }
                                } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(&p, "/topics", &title, body).into_response()
}

/// A sample's text with its matched spans marked (character offsets into the text field).
fn marked(text: &str, spans: &[crate::topics::SpanView]) -> Markup {
    let chars: Vec<char> = text.chars().collect();
    let mut spans: Vec<(usize, usize)> =
        spans.iter().filter(|s| s.field == "text").map(|s| (s.start, s.end.min(chars.len()))).collect();
    spans.sort();
    let mut parts: Vec<(bool, String)> = Vec::new();
    let mut at = 0;
    for (a, b) in spans {
        if a < at || a >= b {
            continue;
        }
        parts.push((false, chars[at..a].iter().collect()));
        parts.push((true, chars[a..b].iter().collect()));
        at = b;
    }
    parts.push((false, chars[at.min(chars.len())..].iter().collect()));
    html! { @for (m, s) in parts { @if m { mark { (s) } } @else { (s) } } }
}

/// Query of `GET /rota`.
#[derive(Debug, Default, Deserialize)]
pub struct RotaParams {
    /// A moment to ask about (`2026-12-01T09:00`, local time).
    at: Option<String>,
    /// `week` (default) or `month`.
    span: Option<String>,
}

/// A day's shifts: `(from, to, person, source)`.
type DayShifts = Vec<(DateTime<Utc>, DateTime<Utc>, String, String)>;

/// `GET /rota`: each unit's week of shifts, who is on duty at a moment, and overrides.
pub async fn rota(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    params: Result<Query<RotaParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let zone = i18n::zone();
    let now = state.now();
    let q = params.map(|Query(q)| q).unwrap_or_default();
    let at =
        q.at.as_deref()
            .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok())
            .and_then(|n| zone.from_local_datetime(&n).earliest())
            .map(|t| t.with_timezone(&Utc));
    let month = q.span.as_deref() == Some("month");
    let n_days = if month { 31 } else { 7 };
    let st = state.clone();
    let week = tokio::task::spawn_blocking(move || -> Result<_, crate::error::ApiError> {
        let guard = st.alerting.lock().map_err(|_| internal("lock poisoned"))?;
        let Some(side) = guard.as_ref() else { return Ok(None) };
        let today = now.with_timezone(&zone).date_naive();
        let mut out = Vec::new();
        for u in &side.alerting.config().unit {
            let mut days: Vec<(chrono::NaiveDate, DayShifts)> = Vec::new();
            for d in 0..n_days {
                let day = today + Duration::days(d);
                let start = zone
                    .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
                    .earliest()
                    .map(|t| t.with_timezone(&Utc));
                let Some(start) = start else { continue };
                let mut shifts: DayShifts = Vec::new();
                // Sampled every 15 minutes (an override inside a shift shows as its own part).
                let step = Duration::minutes(15);
                let mut tick = start;
                while tick < start + Duration::days(1) {
                    if let Some(s) = u.schedule.on_duty(tick) {
                        match shifts.last_mut() {
                            Some(l) if l.1 == tick && l.2 == s.person && l.3 == s.source => l.1 = tick + step,
                            _ => shifts.push((tick, tick + step, s.person.clone(), s.source.clone())),
                        }
                    }
                    tick += step;
                }
                days.push((day, shifts));
            }
            let asked = at.map(|a| (a, u.schedule.on_duty(a)));
            out.push((u.id.clone(), u.lead.clone(), days, asked));
        }
        Ok(Some(out))
    })
    .await
    .map_err(internal)
    .and_then(|r| r);
    let week = match week {
        Ok(w) => w,
        Err(e) => return failed(lang, e),
    };
    let may_edit = p.caller.actor.grants.allows_somewhere(Action::EditRota);
    let body = html! {
        form class="card filters" method="get" action="/rota" {
            label { (t(lang, "rota.at")) " " input type="datetime-local" name="at" value=(q.at.clone().unwrap_or_default()); }
            label { (t(lang, "rota.span")) " "
                select name="span" {
                    option value="week" selected[!month] { (t(lang, "rota.week")) }
                    option value="month" selected[month] { (t(lang, "rota.month")) }
                }
            }
            button type="submit" { (t(lang, "rota.who")) }
        }
        @match &week {
            None => { p class="empty" { (t(lang, "alerts.not_configured")) } },
            Some(units) => {
                @for (unit, lead, days, asked) in units {
                    section class="card rota" aria-label=(unit) {
                        h2 { (unit) }
                        @if let Some(l) = lead { p class="meta" { (t(lang, "dash.lead")) ": " (l) } }
                        @if let Some((a, s)) = asked {
                            p class="notice" id="on-duty-at" { (i18n::time(*a)) ": " strong { @match s { Some(s) => { (s.person) }, None => { (t(lang, "dash.nobody")) } } } }
                        }
                        table class="week" {
                            caption class="sr" { (tf(lang, "rota.week_of", &[("unit", unit)])) }
                            thead { tr { th scope="col" { (t(lang, "rota.day")) } th scope="col" { (t(lang, "rota.shifts")) } } }
                            tbody {
                                @for (day, shifts) in days {
                                    tr {
                                        th scope="row" { (day.format("%m-%d %a")) }
                                        td {
                                            @if shifts.is_empty() { span class="meta" { (t(lang, "dash.nobody")) } }
                                            @for (from, to, person, source) in shifts {
                                                span class={ "shift" @if source.starts_with("override") { " override" } } {
                                                    (from.with_timezone(&zone).format("%H:%M")) "–" (to.with_timezone(&zone).format("%H:%M")) " " strong { (person) }
                                                    @if source.starts_with("override") { " (" (t(lang, "rota.override")) ")" }
                                                }
                                                " "
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        @if may_edit {
                            details {
                                summary { (t(lang, "rota.add_override")) }
                                form class="act" data-api="/api/v1/oncall/overrides" data-fixed=(serde_json::json!({"unit": unit}).to_string())
                                    data-zone-offset=(now.with_timezone(&zone).format("%:z").to_string()) {
                                    label { (t(lang, "rota.person")) input name="person" required; }
                                    label { (t(lang, "rota.from")) input name="from" type="datetime-local" required data-type="local-time"; }
                                    label { (t(lang, "rota.to")) input name="to" type="datetime-local" required data-type="local-time"; }
                                    label { (t(lang, "rota.note")) input name="note"; }
                                    button type="submit" class="primary" { (t(lang, "rota.add_override")) }
                                    span class="msg" role="alert" {}
                                }
                            }
                            details {
                                summary { (t(lang, "rota.swap")) }
                                form class="act" data-api="/api/v1/oncall/swap" data-fixed=(serde_json::json!({"unit": unit}).to_string())
                                    data-zone-offset=(now.with_timezone(&zone).format("%:z").to_string()) {
                                    label { (t(lang, "rota.swap_a")) input name="a" type="datetime-local" required data-type="local-time"; }
                                    label { (t(lang, "rota.swap_b")) input name="b" type="datetime-local" required data-type="local-time"; }
                                    button type="submit" { (t(lang, "rota.swap")) }
                                    span class="msg" role="alert" {}
                                }
                            }
                        }
                    }
                }
            },
        }
    };
    layout(&p, "/rota", t(lang, "rota.title"), body).into_response()
}

/// Query of `GET /audit`.
#[derive(Debug, Default, Deserialize)]
pub struct AuditPageParams {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    object: String,
    /// `1`: verify the chain.
    #[serde(default)]
    verify: String,
}

/// `GET /audit`: the audit log with filters, and the chain's verification.
pub async fn audit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    params: Result<Query<AuditPageParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let q = params.map(|Query(q)| q).unwrap_or_default();
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let mut qs = "limit=200".to_string();
    for (k, v) in [("actor", &q.actor), ("action", &q.action), ("object", &q.object)] {
        if !v.is_empty() {
            qs.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    let entries = crate::admin::audit(State(state.clone()), p.caller.clone(), query(&qs)).await;
    let verified = if q.verify == "1" {
        Some(crate::admin::verify_audit(State(state.clone()), p.caller.clone()).await)
    } else {
        None
    };
    let body = html! {
        form class="card filters" method="get" action="/audit" {
            label { (t(lang, "audit.actor")) input name="actor" value=(q.actor) class="mid"; }
            label { (t(lang, "audit.action")) input name="action" value=(q.action) class="mid"; }
            label { (t(lang, "audit.object")) input name="object" value=(q.object) class="mid"; }
            button type="submit" { (t(lang, "audit.filter")) }
            button type="submit" name="verify" value="1" class="primary" { (t(lang, "audit.verify")) }
        }
        @if let Some(v) = &verified {
            @match v {
                Ok(Json(v)) if v.ok => { p class="ok" id="verified" role="status" { (tf(lang, "audit.ok", &[("n", &v.entries.unwrap_or(0).to_string())])) } },
                Ok(Json(v)) => { p class="err" id="verified" role="alert" { (tf(lang, "audit.broken", &[("seq", &v.seq.unwrap_or(0).to_string())])) " " (v.why.clone().unwrap_or_default()) } },
                Err(e) => { p class="msg" role="alert" { (err_text(lang, e)) } },
            }
        }
        @match &entries {
            Err(e) => { p class="msg" role="alert" { (err_text(lang, e)) } },
            Ok(Json(list)) if list.is_empty() => { p class="empty" { (t(lang, "app.none")) } },
            Ok(Json(list)) => {
                table class="audit" {
                    caption class="sr" { (t(lang, "audit.title")) }
                    thead { tr {
                        th scope="col" { "#" } th scope="col" { (t(lang, "audit.when")) } th scope="col" { (t(lang, "audit.actor")) }
                        th scope="col" { (t(lang, "audit.action")) } th scope="col" { (t(lang, "audit.object")) }
                    } }
                    tbody {
                        @for e in list {
                            tr { td { (e.seq) } td { (when(e.at)) } td { (e.actor) } td { code { (e.action) } } td { (e.object) } }
                        }
                    }
                }
            },
        }
    };
    layout(&p, "/audit", t(lang, "audit.title"), body).into_response()
}

/// `GET /sources`: each source's health (failing, empty, silent), last fetch and error; adding a
/// source with a test fetch first.
pub async fn sources(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let list = match crate::items::sources(State(state.clone())).await {
        Ok(Json(l)) => l,
        Err(e) => return failed(lang, e),
    };
    let may_edit = p.caller.actor.grants.allows_somewhere(Action::EditSources);
    let body = html! {
        @if list.is_empty() { p class="empty" { (t(lang, "sources.empty")) } }
        ul class="cases" {
            @for h in &list {
                li class="card" id={ "source-" (h.source) } {
                    h2 { (h.source) " " span class=(if h.ok { "badge" } else { "sev sev-high" }) { (t(lang, if h.ok { "sources.ok" } else { "sources.problem" })) } }
                    @if !h.flags.is_empty() { p { @for f in &h.flags { span class="badge" { (f) } " " } } }
                    p class="meta" {
                        (t(lang, "sources.last_success")) ": " @match h.state.last_success { Some(at) => { (when(at)) }, None => { "–" } }
                        " · " (tf(lang, "sources.today", &[("n", &h.items_today.to_string()), ("usual", &format!("{:.0}", h.usual_per_day))]))
                    }
                    @if let Some(e) = &h.state.last_error { p class="err" { (t(lang, "sources.last_error")) ": " (e) } }
                }
            }
        }
        @if may_edit {
            section class="card" aria-labelledby="add-h" {
                h2 id="add-h" { (t(lang, "sources.add")) }
                form class="act" data-method="PUT" data-api-template="/api/v1/sources/{id}" data-done=(t(lang, "sources.saved")) {
                    label { (t(lang, "sources.id")) input name="id" required pattern="[A-Za-z0-9._-]{1,100}"; }
                    label { (t(lang, "sources.kind"))
                        select name="kind" { @for k in ["feed", "json", "page", "watch"] { option value=(k) { (k) } } }
                    }
                    label { (t(lang, "sources.url")) input name="url" type="url" required; }
                    label { (t(lang, "sources.interval")) input name="interval" value="10m" class="mid"; }
                    @if p.caller.actor.grants.allows_somewhere(Action::OpenFetchGuard) {
                        label { (t(lang, "sources.allow")) input name="allow_addresses" data-type="list" placeholder="10.0.0.0/8"; }
                    }
                    button type="button" data-test="/api/v1/sources/test" { (t(lang, "sources.test")) }
                    button type="submit" class="primary" { (t(lang, "sources.save")) }
                    output class="result" aria-live="polite" data-labels=(serde_json::json!({
                        "fetched": t(lang, "sources.test_fetched"), "failed": t(lang, "sources.test_failed"),
                        "not_modified": t(lang, "sources.test_not_modified"),
                    }).to_string()) {}
                    span class="msg" role="alert" {}
                }
            }
        }
    };
    layout(&p, "/sources", t(lang, "sources.title"), body).into_response()
}
