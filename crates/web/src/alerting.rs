//! Alerts, silences and the rota over HTTP: `GET /api/v1/alerts`, `GET /api/v1/alerts/{id}`,
//! `POST /api/v1/alerts/{id}/acknowledge|resolve|escalate`, `POST /api/v1/silences`,
//! `GET /api/v1/oncall`, and `GET /ack/{id}` (the signed link in every message).

use crate::api::blocking;
use crate::error::ApiError;
use crate::{AlertingSide, AppState};
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::Arc;
use tidewatch_workflow::alerts::{Matcher, Silence};

fn with_alerting<T>(state: &AppState, f: impl FnOnce(&mut AlertingSide) -> Result<T, ApiError>) -> Result<T, ApiError> {
    let mut guard = state.alerting.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
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
}

/// `GET /api/v1/alerts`: alerts, newest first.
pub async fn list(
    State(state): State<Arc<AppState>>,
    params: Result<Query<AlertsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<tidewatch_workflow::alerts::Alert>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    if let Some(s) = &p.state {
        if !["firing", "acknowledged", "resolved"].contains(&s.as_str()) {
            return Err(ApiError::bad_parameter("state", "must be firing, acknowledged or resolved"));
        }
    }
    blocking(move || {
        with_alerting(&state, |side| {
            let mut v: Vec<_> = side
                .alerting
                .alerts()
                .alerts
                .iter()
                .filter(|a| {
                    p.state.as_deref().is_none_or(|s| serde_json::to_value(a.state).ok() == Some(serde_json::json!(s)))
                })
                .cloned()
                .collect();
            v.reverse();
            Ok(Json(v))
        })
    })
    .await
}

/// `GET /api/v1/alerts/{id}`: the alert, its escalation and its notifications.
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = alert_id(&id)?;
    blocking(move || {
        with_alerting(&state, |side| {
            let a = side.alerting.alerts().get(id).cloned().ok_or_else(|| ApiError::new("not_found", format!("alert {id}")))?;
            let notifications = side.db.notifications(Some(id), 200)?;
            Ok(Json(serde_json::json!({
                "alert": a,
                "escalation": side.alerting.escalation(id),
                "notifications": notifications.iter().map(|n| serde_json::json!({
                    "id": n.id, "recipient": n.recipient, "channel": serde_json::from_str::<serde_json::Value>(&n.channel).ok(),
                    "subject": n.subject, "status": n.status, "attempts": n.attempts, "last_error": n.last_error,
                    "created_at": n.created_at, "sent_at": n.sent_at,
                })).collect::<Vec<_>>(),
            })))
        })
    })
    .await
}

/// Body of acknowledge, resolve and escalate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Who does it.
    who: String,
    /// For escalate: the step to jump to (0-based); the next step when absent.
    #[serde(default)]
    to_step: Option<usize>,
}

fn action_body(
    body: Result<Json<ActionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<ActionBody, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::new("bad_body", e.body_text()))?;
    if b.who.trim().is_empty() || b.who.len() > 100 {
        return Err(ApiError::new("bad_body", "who: 1–100 characters"));
    }
    Ok(b)
}

fn engine_error(e: tidewatch_engine::EngineError) -> ApiError {
    match e {
        tidewatch_engine::EngineError::Config(m) if m.starts_with("no alert") => ApiError::new("not_found", m),
        tidewatch_engine::EngineError::Config(m) => ApiError::new("conflict", m),
        other => ApiError::new("internal", other.to_string()),
    }
}

/// `POST /api/v1/alerts/{id}/{action}` with `{"who"}` (and `"to_step"` for escalate).
pub async fn act(
    State(state): State<Arc<AppState>>,
    Path((id, action)): Path<(String, String)>,
    body: Result<Json<ActionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = alert_id(&id)?;
    let b = action_body(body)?;
    if !["acknowledge", "resolve", "escalate"].contains(&action.as_str()) {
        return Err(ApiError::new("not_found", format!("no action {action:?} (acknowledge, resolve, escalate)")));
    }
    blocking(move || {
        with_alerting(&state, |side| {
            let now = Utc::now();
            let AlertingSide { db, alerting, .. } = side;
            if alerting.alerts().get(id).is_none() {
                return Err(ApiError::new("not_found", format!("alert {id}")));
            }
            match action.as_str() {
                "acknowledge" => alerting.acknowledge(db, id, &b.who, now),
                "resolve" => alerting.resolve_alert(db, id, &b.who, now),
                _ => alerting.escalate(db, id, &b.who, b.to_step, now),
            }
            .map_err(engine_error)?;
            Ok(Json(serde_json::json!({"alert": alerting.alerts().get(id)})))
        })
    })
    .await
}

/// Body of `POST /api/v1/silences`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceBody {
    matchers: Vec<Matcher>,
    starts: Option<DateTime<Utc>>,
    ends: DateTime<Utc>,
    author: String,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/silences`: mutes matching signals until `ends`.
pub async fn silence(
    State(state): State<Arc<AppState>>,
    body: Result<Json<SilenceBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::new("bad_body", e.body_text()))?;
    blocking(move || {
        with_alerting(&state, |side| {
            let now = Utc::now();
            let s = Silence {
                id: 0,
                matchers: b.matchers,
                starts: b.starts.unwrap_or(now),
                ends: b.ends,
                author: b.author,
                comment: b.comment,
            };
            let AlertingSide { db, alerting, .. } = side;
            let id = alerting.silence(db, s, now).map_err(|e| match e {
                tidewatch_engine::EngineError::Config(m) => ApiError::new("bad_body", m),
                other => ApiError::new("internal", other.to_string()),
            })?;
            Ok(Json(serde_json::json!({"id": id})))
        })
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
    params: Result<Query<OncallParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    blocking(move || {
        with_alerting(&state, |side| {
            let at = p.at.unwrap_or_else(Utc::now);
            let units: Vec<_> = side.alerting.config().unit.iter().filter(|u| p.unit.as_ref().is_none_or(|x| x == &u.id)).collect();
            if units.is_empty() {
                return Err(ApiError::new("not_found", format!("no unit {:?}", p.unit.unwrap_or_default())));
            }
            Ok(Json(
                units
                    .iter()
                    .map(|u| serde_json::json!({"unit": u.id, "at": at, "on_duty": u.schedule.on_duty(at), "lead": u.lead}))
                    .collect(),
            ))
        })
    })
    .await
}

/// Query of the signed acknowledge link.
#[derive(Debug, Deserialize)]
pub struct AckParams {
    who: String,
    exp: i64,
    sig: String,
}

/// `GET /ack/{id}?who&exp&sig`: acknowledges from a phone; answers a small page.
pub async fn ack_link(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    params: Result<Query<AckParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Html<String>, ApiError> {
    let id = alert_id(&id)?;
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    blocking(move || {
        with_alerting(&state, |side| {
            let AlertingSide { db, alerting, .. } = side;
            alerting.acknowledge_link(db, id, &p.who, p.exp, &p.sig, Utc::now()).map_err(|e| match e {
                tidewatch_engine::EngineError::Config(m) => ApiError::new("unauthorized", m),
                other => ApiError::new("internal", other.to_string()),
            })?;
            let who = html_escape(&p.who);
            Ok(Html(format!(
                "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\"><title>Tidewatch</title>\
                 <p>预警 #{id} 已由 {who} 确认。<br>Alert #{id} acknowledged by {who}.</p>"
            )))
        })
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
    body: Result<Json<OverrideBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::new("bad_body", e.body_text()))?;
    blocking(move || {
        with_alerting(&state, |side| {
            let AlertingSide { db, alerting, .. } = side;
            let o = tidewatch_workflow::rota::Override { person: b.person, from: b.from, to: b.to, note: b.note };
            alerting.add_override(db, &b.unit, o, Utc::now()).map_err(rota_error)?;
            Ok(Json(serde_json::json!({"unit": b.unit, "on_duty_at_start": alerting.on_duty(&b.unit, b.from)})))
        })
    })
    .await
}

/// `POST /api/v1/oncall/swap`: the people of two shifts of a unit exchange them.
pub async fn swap(
    State(state): State<Arc<AppState>>,
    body: Result<Json<SwapBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::new("bad_body", e.body_text()))?;
    blocking(move || {
        with_alerting(&state, |side| {
            let AlertingSide { db, alerting, .. } = side;
            alerting.swap(db, &b.unit, b.a, b.b, Utc::now()).map_err(rota_error)?;
            Ok(Json(serde_json::json!({"a": alerting.on_duty(&b.unit, b.a), "b": alerting.on_duty(&b.unit, b.b)})))
        })
    })
    .await
}
