//! Alerts, silences and the rota over HTTP: `GET /api/v1/alerts`, `GET /api/v1/alerts/{id}`,
//! `POST /api/v1/alerts/{id}/acknowledge|resolve|escalate`, `POST /api/v1/silences`,
//! `GET /api/v1/oncall`, and `GET /ack/{id}` (the signed link in every message).

use crate::auth::Caller;
use crate::common::blocking;
use crate::error::ApiError;
use crate::{AlertingSide, AppState};
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::Arc;
use tidewatch_store::NewAudit;
use tidewatch_workflow::access::Action;
use tidewatch_workflow::alerts::{Matcher, Silence};

/// Times accepted by the rota endpoints: within a century of now (chrono and the rota's zone
/// arithmetic have limits far beyond, but a date outside this is a mistake).
fn sane_time(name: &str, t: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let now = Utc::now();
    let century = chrono::Duration::days(36_525);
    if t < now - century || t > now + century {
        return Err(ApiError::bad_parameter(name, format!("{t} is more than 100 years from now")));
    }
    Ok(t)
}

/// A channel as the API shows it: its kind and where it goes, never its URL or secret in full.
pub fn redact_channel(json: &str) -> crate::views::ChannelView {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or("").to_string();
    let value = v;
    let target = if let Some(to) = value.get("to").and_then(|t| t.as_str()) {
        match to.split_once('@') {
            Some((user, domain)) => format!("{}…@{domain}", user.chars().next().unwrap_or('?')),
            None => "…".into(),
        }
    } else if let Some(url) = value.get("url").and_then(|u| u.as_str()) {
        url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(|h| format!("{}://{h}/…", u.scheme())))
            .unwrap_or_else(|| "…".into())
    } else {
        String::new()
    };
    crate::views::ChannelView { kind, target }
}

fn with_alerting<T>(state: &AppState, f: impl FnOnce(&mut AlertingSide) -> Result<T, ApiError>) -> Result<T, ApiError> {
    let mut guard = state.alerting.lock().unwrap_or_else(|poisoned| {
        tracing::error!("the alerting lock was poisoned by a panic; recovering");
        state.alerting.clear_poison();
        poisoned.into_inner()
    });
    let side =
        guard.as_mut().ok_or_else(|| ApiError::new("not_found", "alerting is not configured (alerting.toml)"))?;
    f(side)
}

fn alert_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::bad_parameter("id", "must be a whole number"))
}

/// Query of `GET /api/v1/alerts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsParams {
    /// `firing`, `acknowledged`, `resolved`; all when absent.
    state: Option<String>,
    /// At most this many (default 50, at most 200).
    limit: Option<usize>,
    /// Only alerts with a smaller id (the next page).
    before: Option<i64>,
}

/// `GET /api/v1/alerts`: alerts, newest first.
pub async fn list(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    params: Result<Query<AlertsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<tidewatch_workflow::alerts::Alert>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    if let Some(s) = &p.state {
        if !["firing", "acknowledged", "resolved"].contains(&s.as_str()) {
            return Err(ApiError::bad_parameter("state", "must be firing, acknowledged or resolved"));
        }
    }
    let limit = p.limit.unwrap_or(50);
    if limit == 0 || limit > crate::common::MAX_LIMIT {
        return Err(ApiError::bad_parameter("limit", format!("must be 1..={}", crate::common::MAX_LIMIT)));
    }
    blocking(move || {
        with_alerting(&state, |side| {
            let mut v = Vec::new();
            for json in side.db.alerts_page(p.state.as_deref(), p.before, limit)? {
                let a: tidewatch_workflow::alerts::Alert =
                    serde_json::from_str(&json).map_err(|e| ApiError::new("internal", e.to_string()))?;
                v.push(a);
            }
            Ok(Json(v))
        })
    })
    .await
}

/// `GET /api/v1/alerts/{id}`: the alert, its escalation and its notifications.
pub async fn get(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<crate::views::AlertDetail>, ApiError> {
    let id = alert_id(&id)?;
    blocking(move || {
        with_alerting(&state, |side| {
            let a = side
                .alerting
                .alert(&side.db, id)
                .map_err(engine_error)?
                .ok_or_else(|| ApiError::new("not_found", format!("alert {id}")))?;
            let notifications = side.db.notifications(Some(id), 200)?;
            Ok(Json(crate::views::AlertDetail {
                alert: a,
                escalation: side.alerting.escalation(id).cloned(),
                notifications: notifications
                    .iter()
                    .map(|n| crate::views::NotificationView {
                        id: n.id,
                        recipient: n.recipient.clone(),
                        channel: redact_channel(&n.channel),
                        subject: n.subject.clone(),
                        status: n.status.clone(),
                        attempts: n.attempts,
                        last_error: n.last_error.clone(),
                        created_at: n.created_at,
                        sent_at: n.sent_at,
                    })
                    .collect(),
            }))
        })
    })
    .await
}

/// Body of escalate.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalateBody {
    /// The step to jump to (0-based); the next step when absent.
    #[serde(default)]
    to_step: Option<usize>,
}

fn engine_error(e: tidewatch_engine::EngineError) -> ApiError {
    match e {
        tidewatch_engine::EngineError::NotFound(m) => ApiError::new("not_found", m),
        tidewatch_engine::EngineError::Config(m) if m.starts_with("no alert") => ApiError::new("not_found", m),
        tidewatch_engine::EngineError::Config(m) => ApiError::new("conflict", m),
        other => ApiError::new("internal", other.to_string()),
    }
}

#[derive(Debug, Clone, Copy)]
enum AlertAction {
    Acknowledge,
    Resolve,
    Escalate(Option<usize>),
}

async fn act(
    state: Arc<AppState>,
    caller: Caller,
    id: String,
    action: AlertAction,
) -> Result<Json<crate::views::AlertDone>, ApiError> {
    let id = alert_id(&id)?;
    blocking(move || {
        let who = caller.actor.username.clone();
        let (name, before, after) = with_alerting(&state, |side| {
            let now = Utc::now();
            let AlertingSide { db, alerting, .. } = side;
            let Some(before) = alerting.alert(db, id).map_err(engine_error)?.map(|a| a.state) else {
                return Err(ApiError::new("not_found", format!("alert {id}")));
            };
            let name = match action {
                AlertAction::Acknowledge => {
                    alerting.acknowledge(db, id, &who, now).map_err(engine_error)?;
                    "alert.acknowledge"
                }
                AlertAction::Resolve => {
                    alerting.resolve_alert(db, id, &who, now).map_err(engine_error)?;
                    "alert.resolve"
                }
                AlertAction::Escalate(to) => {
                    alerting.escalate(db, id, &who, to, now).map_err(engine_error)?;
                    "alert.escalate"
                }
            };
            Ok((name, before, alerting.alert(db, id).map_err(engine_error)?))
        })?;
        let to_step = match action {
            AlertAction::Escalate(t) => t,
            _ => None,
        };
        state.audit(NewAudit::new(&who, caller.addr(), name, &format!("alert:{id}")).with(serde_json::json!({
            "before": before, "after": after.as_ref().map(|a| a.state), "to_step": to_step,
            "unit": after.as_ref().and_then(|a| a.unit.clone()),
        })))?;
        Ok(Json(crate::views::AlertDone { alert: after }))
    })
    .await
}

/// `POST /api/v1/alerts/{id}/acknowledge`: the caller takes the alert; its escalation stops.
pub async fn acknowledge(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<crate::views::AlertDone>, ApiError> {
    act(state, caller, id, AlertAction::Acknowledge).await
}

/// `POST /api/v1/alerts/{id}/resolve`.
pub async fn resolve(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<crate::views::AlertDone>, ApiError> {
    act(state, caller, id, AlertAction::Resolve).await
}

/// `POST /api/v1/alerts/{id}/escalate` with `{"to_step"}` optional.
pub async fn escalate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum_bytes::Bytes,
) -> Result<Json<crate::views::AlertDone>, ApiError> {
    let to = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<EscalateBody>(&body).map_err(|e| ApiError::new("bad_body", e.to_string()))?.to_step
    };
    act(state, caller, id, AlertAction::Escalate(to)).await
}

/// Body of `POST /api/v1/silences`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceBody {
    matchers: Vec<Matcher>,
    starts: Option<DateTime<Utc>>,
    ends: DateTime<Utc>,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/silences`: mutes matching signals until `ends`.
pub async fn silence(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<SilenceBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::views::SilenceDone>, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::new("bad_body", e.body_text()))?;
    sane_time("ends", b.ends)?;
    if let Some(s) = b.starts {
        sane_time("starts", s)?;
    }
    if b.comment.chars().count() > 2000 {
        return Err(ApiError::new("bad_body", "comment: at most 2,000 characters"));
    }
    blocking(move || {
        let detail =
            serde_json::json!({"matchers": b.matchers, "starts": b.starts, "ends": b.ends, "comment": b.comment});
        let id = with_alerting(&state, |side| {
            let now = Utc::now();
            let s = Silence {
                id: 0,
                matchers: b.matchers,
                starts: b.starts.unwrap_or(now),
                ends: b.ends,
                author: caller.actor.username.clone(),
                comment: b.comment,
            };
            let AlertingSide { db, alerting, .. } = side;
            let id = alerting.silence(db, s, now).map_err(|e| match e {
                tidewatch_engine::EngineError::Config(m) => ApiError::new("bad_body", m),
                other => ApiError::new("internal", other.to_string()),
            })?;
            Ok(id)
        })?;
        state.audit(
            NewAudit::new(&caller.actor.username, caller.addr(), "silence.create", &format!("silence:{id}"))
                .with(detail),
        )?;
        Ok(Json(crate::views::SilenceDone { id }))
    })
    .await
}

/// Query of `GET /api/v1/oncall`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OncallParams {
    unit: Option<String>,
    at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/oncall`: who is on duty now (or at `at`), per unit.
pub async fn oncall(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    params: Result<Query<OncallParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<crate::views::OnCallView>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    let at = sane_time("at", p.at.unwrap_or_else(Utc::now))?;
    blocking(move || {
        with_alerting(&state, |side| {
            let units: Vec<_> =
                side.alerting.config().unit.iter().filter(|u| p.unit.as_ref().is_none_or(|x| x == &u.id)).collect();
            if units.is_empty() {
                return Err(ApiError::new("not_found", format!("no unit {:?}", p.unit.unwrap_or_default())));
            }
            Ok(Json(
                units
                    .iter()
                    .map(|u| crate::views::OnCallView {
                        unit: u.id.clone(),
                        at,
                        on_duty: u.schedule.on_duty(at),
                        lead: u.lead.clone(),
                    })
                    .collect(),
            ))
        })
    })
    .await
}

/// Query (GET) or form (POST) of the signed acknowledge link.
#[derive(Debug, Deserialize)]
pub struct AckParams {
    who: String,
    exp: i64,
    sig: String,
}

fn ack_params<T>(p: Result<T, impl std::fmt::Display>) -> Result<T, ApiError> {
    p.map_err(|e| ApiError::bad_parameter("link", e))
}

/// `GET /ack/{id}?who&exp&sig`: a confirmation page only. The link is the credential, but a
/// mail scanner opening it must not stop an escalation, so acknowledging is the page's POST.
pub async fn ack_page(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    params: Result<Query<AckParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Html<String>, ApiError> {
    let id = alert_id(&id)?;
    let Query(p) = ack_params(params.map_err(|e| e.body_text()))?;
    blocking(move || {
        let title = with_alerting(&state, |side| {
            side.alerting.check_acknowledge_link(id, &p.who, p.exp, &p.sig, Utc::now()).map_err(|e| match e {
                tidewatch_engine::EngineError::Config(m) => ApiError::new("unauthorized", m),
                other => ApiError::new("internal", other.to_string()),
            })?;
            Ok(side.alerting.alert(&side.db, id).ok().flatten().map(|a| a.title.clone()).unwrap_or_default())
        })?;
        let (who, title, sig) = (html_escape(&p.who), html_escape(&title), html_escape(&p.sig));
        Ok(Html(format!(
            "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\"><title>Tidewatch</title>\
             <p>预警 #{id}：{title}<br>Alert #{id}: {title}</p>\
             <form method=post action=\"/ack/{id}\"><input type=hidden name=who value=\"{who}\">\
             <input type=hidden name=exp value=\"{exp}\"><input type=hidden name=sig value=\"{sig}\">\
             <button type=submit>以 {who} 的身份确认 Acknowledge as {who}</button></form>",
            exp = p.exp
        )))
    })
    .await
}

/// `POST /ack/{id}` (form `who`, `exp`, `sig`): acknowledges from a phone; answers a small page.
pub async fn ack_link(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    crate::auth::ClientAddr(address): crate::auth::ClientAddr,
    params: Result<axum::Form<AckParams>, axum::extract::rejection::FormRejection>,
) -> Result<Html<String>, ApiError> {
    let id = alert_id(&id)?;
    let axum::Form(p) = ack_params(params.map_err(|e| e.body_text()))?;
    blocking(move || {
        with_alerting(&state, |side| {
            let AlertingSide { db, alerting, .. } = side;
            alerting.acknowledge_link(db, id, &p.who, p.exp, &p.sig, Utc::now()).map_err(|e| match e {
                tidewatch_engine::EngineError::Config(m) => ApiError::new("unauthorized", m),
                other => ApiError::new("internal", other.to_string()),
            })
        })?;
        state.audit(
            NewAudit::new(&p.who, address.as_deref(), "alert.acknowledge", &format!("alert:{id}"))
                .with(serde_json::json!({"via": "signed link"})),
        )?;
        let who = html_escape(&p.who);
        Ok(Html(format!(
            "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\"><title>Tidewatch</title>\
             <p>预警 #{id} 已由 {who} 确认。<br>Alert #{id} acknowledged by {who}.</p>"
        )))
    })
    .await
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Body of `POST /api/v1/oncall/overrides`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    unit: String,
    person: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    #[serde(default)]
    note: String,
}

/// Body of `POST /api/v1/oncall/swap`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapBody {
    unit: String,
    /// A moment in the first shift.
    a: DateTime<Utc>,
    /// A moment in the second shift.
    b: DateTime<Utc>,
}

fn rota_error(e: tidewatch_engine::EngineError) -> ApiError {
    match e {
        tidewatch_engine::EngineError::Config(m) => ApiError::new("bad_body", m),
        other => ApiError::new("internal", other.to_string()),
    }
}

/// `POST /api/v1/oncall/overrides`: someone covers a span of a unit's rota (on top of the rest).
pub async fn add_override(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<OverrideBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::views::OverrideDone>, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::new("bad_body", e.body_text()))?;
    sane_time("from", b.from)?;
    sane_time("to", b.to)?;
    caller.require(&state, Action::EditRota, Some(&b.unit))?;
    blocking(move || {
        let detail =
            serde_json::json!({"unit": b.unit, "person": b.person, "from": b.from, "to": b.to, "note": b.note});
        let answer = with_alerting(&state, |side| {
            let AlertingSide { db, alerting, .. } = side;
            let o = tidewatch_workflow::rota::Override { person: b.person, from: b.from, to: b.to, note: b.note };
            alerting.add_override(db, &b.unit, o, Utc::now()).map_err(rota_error)?;
            Ok(crate::views::OverrideDone { unit: b.unit.clone(), on_duty_at_start: alerting.on_duty(&b.unit, b.from) })
        })?;
        state.audit(
            NewAudit::new(
                &caller.actor.username,
                caller.addr(),
                "rota.override",
                &format!("unit:{}", detail["unit"].as_str().unwrap_or_default()),
            )
            .with(detail),
        )?;
        Ok(Json(answer))
    })
    .await
}

/// `POST /api/v1/oncall/swap`: the people of two shifts of a unit exchange them.
pub async fn swap(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<SwapBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::views::SwapDone>, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::new("bad_body", e.body_text()))?;
    sane_time("a", b.a)?;
    sane_time("b", b.b)?;
    caller.require(&state, Action::EditRota, Some(&b.unit))?;
    blocking(move || {
        let detail = serde_json::json!({"unit": b.unit, "a": b.a, "b": b.b});
        let answer = with_alerting(&state, |side| {
            let AlertingSide { db, alerting, .. } = side;
            alerting.swap(db, &b.unit, b.a, b.b, Utc::now()).map_err(rota_error)?;
            Ok(crate::views::SwapDone { a: alerting.on_duty(&b.unit, b.a), b: alerting.on_duty(&b.unit, b.b) })
        })?;
        state.audit(
            NewAudit::new(
                &caller.actor.username,
                caller.addr(),
                "rota.swap",
                &format!("unit:{}", detail["unit"].as_str().unwrap_or_default()),
            )
            .with(detail),
        )?;
        Ok(Json(answer))
    })
    .await
}
