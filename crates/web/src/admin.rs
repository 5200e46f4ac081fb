//! Administration over HTTP: units and people, accounts and API tokens, the audit log, settings,
//! and the health endpoint. Every change is the signed-in caller's and is audited by the engine.

use crate::auth::Caller;
use crate::common::blocking;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::Arc;
use tidewatch_engine::accounts::{self, AccountChange};
use tidewatch_engine::metrics::{Gauge, METRICS};
use tidewatch_engine::EngineError;
use tidewatch_store::{AuditFilter, Db, PersonRow, UnitRow};
use tidewatch_workflow::access::{Action, Grants};

fn engine(e: EngineError) -> ApiError {
    match e {
        EngineError::Config(m) => ApiError::new("bad_body", m),
        EngineError::NotFound(m) => ApiError::new("not_found", m),
        other => ApiError::new("internal", other.to_string()),
    }
}

fn with_db<T>(state: &AppState, f: impl FnOnce(&mut Db) -> Result<T, ApiError>) -> Result<T, ApiError> {
    let mut db = state.auth.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
    f(&mut db)
}

use crate::common::json_body as body;

/// `GET /api/v1/health`: the server answers. Nothing about the data.
pub async fn health() -> Json<crate::views::Health> {
    Json(crate::views::Health { ok: true })
}

/// `GET /metrics`: the process's counters and per-stage histograms, then gauges read now (the
/// index's pending documents, notifications waiting to go out, items stored).
pub async fn metrics(State(state): State<Arc<AppState>>, _caller: Caller) -> Result<Response, ApiError> {
    blocking(move || {
        let index_pending =
            state.pipeline.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?.index().pending();
        let (stored, outbox) = with_db(&state, |db| Ok((db.count_items()?, db.pending_notifications()?)))?;
        let gauges = [
            Gauge {
                name: "tidewatch_index_pending_docs",
                help: "Stored items not yet searchable (the index commits every few seconds).",
                value: index_pending as f64,
            },
            Gauge {
                name: "tidewatch_outbox_pending_notifications",
                help: "Notifications waiting to be sent or retried.",
                value: outbox as f64,
            },
            Gauge { name: "tidewatch_store_items", help: "Items in the store.", value: stored as f64 },
        ];
        let text = METRICS.render(&gauges);
        Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
    })
    .await
}

/// `GET /api/v1/units`.
pub async fn list_units(State(state): State<Arc<AppState>>, _caller: Caller) -> Result<Json<Vec<UnitRow>>, ApiError> {
    blocking(move || with_db(&state, |db| Ok(Json(db.units()?)))).await
}

/// Body of `PUT /api/v1/units/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    first_responsible: Option<String>,
    #[serde(default)]
    direct_responsible: Option<String>,
}

/// `PUT /api/v1/units/{id}`.
pub async fn put_unit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<UnitBody>, JsonRejection>,
) -> Result<Json<UnitRow>, ApiError> {
    let b = body(b)?;
    blocking(move || {
        with_db(&state, |db| {
            let unit = UnitRow {
                name: b.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| id.clone()),
                id: id.clone(),
                parent: b.parent,
                first_responsible: b.first_responsible,
                direct_responsible: b.direct_responsible,
                updated_at: Utc::now(),
            };
            accounts::save_unit(db, &caller.actor, caller.addr(), unit.clone(), Utc::now()).map_err(engine)?;
            Ok(Json(unit))
        })
    })
    .await
}

/// A person as the API shows them: channels by kind only (their URLs and secrets stay inside).
fn person_view(p: &PersonRow) -> crate::views::PersonView {
    let channels = serde_json::from_str::<Vec<serde_json::Value>>(&p.channels)
        .unwrap_or_default()
        .iter()
        .map(|c| crate::alerting::redact_channel(&c.to_string()))
        .collect();
    crate::views::PersonView {
        id: p.id.clone(),
        name: p.name.clone(),
        lang: p.lang.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
        dingtalk: p.dingtalk.clone(),
        wecom: p.wecom.clone(),
        feishu: p.feishu.clone(),
        channels,
        updated_at: p.updated_at,
    }
}

/// `GET /api/v1/people`.
pub async fn list_people(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
) -> Result<Json<Vec<crate::views::PersonView>>, ApiError> {
    blocking(move || with_db(&state, |db| Ok(Json(db.people()?.iter().map(person_view).collect())))).await
}

/// Body of `PUT /api/v1/people/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonBody {
    name: String,
    #[serde(default = "zh")]
    lang: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    dingtalk: Option<String>,
    #[serde(default)]
    wecom: Option<String>,
    #[serde(default)]
    feishu: Option<String>,
    /// Notification channels (as in alerting.toml); kept when absent.
    #[serde(default)]
    channels: Option<Vec<tidewatch_workflow::notify::Channel>>,
}

fn zh() -> String {
    "zh".into()
}

/// `PUT /api/v1/people/{id}`.
pub async fn put_person(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<PersonBody>, JsonRejection>,
) -> Result<Json<crate::views::PersonView>, ApiError> {
    let b = body(b)?;
    blocking(move || {
        let view = with_db(&state, |db| {
            let channels = match &b.channels {
                Some(c) => serde_json::to_string(c).unwrap_or_else(|_| "[]".into()),
                None => db.person(&id)?.map(|p| p.channels).unwrap_or_else(|| "[]".into()),
            };
            let p = PersonRow {
                id: id.clone(),
                name: b.name,
                lang: b.lang,
                email: b.email,
                phone: b.phone,
                dingtalk: b.dingtalk,
                wecom: b.wecom,
                feishu: b.feishu,
                channels,
                updated_at: Utc::now(),
            };
            accounts::save_person(db, &caller.actor, caller.addr(), p.clone(), Utc::now()).map_err(engine)?;
            Ok(Json(person_view(&p)))
        })?;
        // Notifications go to the edited channels from now on.
        let people = with_db(&state, |db| accounts::people_for_alerting(db).map_err(engine))?;
        if let Ok(mut a) = state.alerting.lock() {
            if let Some(side) = a.as_mut() {
                side.alerting.set_people(people);
            }
        }
        Ok(view)
    })
    .await
}

/// `POST /api/v1/people/{id}/test-notification`: a test message to each of the person's
/// channels, queued in the outbox with its audit entry (and sent by the delivery loop).
pub async fn test_notification(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<crate::views::TestNotification>, ApiError> {
    let now = Utc::now();
    let queued = blocking({
        let state = state.clone();
        move || {
            with_db(&state, |db| {
                let person = db.person(&id)?.ok_or_else(|| ApiError::new("not_found", format!("no person {id}")))?;
                let channels: Vec<serde_json::Value> = serde_json::from_str(&person.channels).unwrap_or_default();
                if channels.is_empty() {
                    return Err(ApiError::new("conflict", format!("person {id} has no channel")));
                }
                let stamp = now.timestamp_millis();
                let notifications: Vec<_> = channels
                    .iter()
                    .enumerate()
                    .map(|(i, c)| tidewatch_store::NewNotification {
                        key: format!("test:{id}:{stamp}:{i}"),
                        alert: 0,
                        recipient: id.clone(),
                        channel: c.to_string(),
                        subject: "Tidewatch 测试通知 / test notification".into(),
                        body: format!(
                            "这是一条测试通知，由 {by} 发出。\nThis is a test notification sent by {by}.",
                            by = caller.actor.username
                        ),
                    })
                    .collect();
                let n = notifications.len();
                let kinds: Vec<_> = channels.iter().filter_map(|c| c.get("kind").and_then(|k| k.as_str())).collect();
                let w = tidewatch_store::DocWrite {
                    notifications,
                    audit: Some(
                        tidewatch_store::NewAudit::new(
                            &caller.actor.username,
                            caller.addr(),
                            "person.test_notification",
                            &format!("person:{id}"),
                        )
                        .with(serde_json::json!({"channels": kinds})),
                    ),
                    ..Default::default()
                };
                db.write_docs(&w, now)?;
                Ok(n)
            })
        }
    })
    .await?;
    state.alerting_wake.notify_one();
    Ok(Json(crate::views::TestNotification { queued }))
}

/// `GET /api/v1/accounts`.
pub async fn list_accounts(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
) -> Result<Json<Vec<crate::views::AccountView>>, ApiError> {
    blocking(move || {
        with_db(&state, |db| {
            let now = Utc::now();
            Ok(Json(
                db.accounts()?
                    .iter()
                    .map(|a| crate::views::AccountView {
                        username: a.username.clone(),
                        person: a.person.clone(),
                        grants: accounts::parse_grants(&a.grants),
                        disabled: a.disabled,
                        failed_logins: a.failed_logins,
                        locked_until: a.locked_until.filter(|t| *t > now),
                        created_at: a.created_at,
                    })
                    .collect(),
            ))
        })
    })
    .await
}

/// Body of `POST /api/v1/accounts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountBody {
    username: String,
    password: String,
    #[serde(default)]
    grants: Grants,
    #[serde(default)]
    person: Option<String>,
}

/// `POST /api/v1/accounts`.
pub async fn create_account(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    b: Result<Json<AccountBody>, JsonRejection>,
) -> Result<Json<crate::views::AccountDone>, ApiError> {
    let b = body(b)?;
    blocking(move || {
        with_db(&state, |db| {
            accounts::create_account(
                db,
                &caller.actor,
                caller.addr(),
                accounts::NewAccount {
                    username: &b.username,
                    password: &b.password,
                    grants: &b.grants,
                    person: b.person.as_deref(),
                },
                Utc::now(),
            )
            .map_err(engine)?;
            Ok(Json(crate::views::AccountDone { username: b.username, created: Some(true), changed: None }))
        })
    })
    .await
}

/// Body of `POST /api/v1/accounts/{name}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountChangeBody {
    #[serde(default)]
    grants: Option<Grants>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    unlock: bool,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    end_sessions: bool,
}

/// `POST /api/v1/accounts/{name}`: grants, disable/enable, unlock, a new password, or ending its
/// sessions.
pub async fn change_account(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    b: Result<Json<AccountChangeBody>, JsonRejection>,
) -> Result<Json<crate::views::AccountDone>, ApiError> {
    let b = body(b)?;
    blocking(move || {
        with_db(&state, |db| {
            let now = Utc::now();
            let change = AccountChange {
                grants: b.grants,
                disabled: b.disabled,
                unlock: b.unlock,
                password: b.password,
                person: None,
            };
            accounts::change_account(db, &caller.actor, caller.addr(), &name, change, now).map_err(engine)?;
            if b.end_sessions {
                let a = accounts::account(db, &name).map_err(engine)?;
                let n = db.delete_sessions_of(a.id)?;
                db.append_audit(
                    &tidewatch_store::NewAudit::new(
                        &caller.actor.username,
                        caller.addr(),
                        "account.end_sessions",
                        &format!("account:{name}"),
                    )
                    .with(serde_json::json!({"sessions_ended": n})),
                    now,
                )?;
            }
            Ok(Json(crate::views::AccountDone { username: name, created: None, changed: Some(true) }))
        })
    })
    .await
}

/// `GET /api/v1/tokens`.
pub async fn list_tokens(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
) -> Result<Json<Vec<crate::views::TokenView>>, ApiError> {
    blocking(move || {
        with_db(&state, |db| {
            Ok(Json(
                db.tokens()?
                    .iter()
                    .map(|t| crate::views::TokenView {
                        id: t.id,
                        name: t.name.clone(),
                        username: t.username.clone(),
                        grants: accounts::parse_grants(&t.grants),
                        created_at: t.created_at,
                        expires_at: t.expires_at,
                        revoked_at: t.revoked_at,
                        last_used: t.last_used,
                    })
                    .collect(),
            ))
        })
    })
    .await
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    name: String,
    username: String,
    grants: Grants,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/tokens`: the token is in this answer and nowhere else.
pub async fn create_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    b: Result<Json<TokenBody>, JsonRejection>,
) -> Result<Json<crate::views::NewTokenView>, ApiError> {
    let b = body(b)?;
    blocking(move || {
        with_db(&state, |db| {
            let (id, token) = accounts::create_token(
                db,
                &caller.actor,
                caller.addr(),
                accounts::NewToken {
                    username: &b.username,
                    name: &b.name,
                    grants: &b.grants,
                    expires_at: b.expires_at,
                },
                Utc::now(),
            )
            .map_err(engine)?;
            Ok(Json(crate::views::NewTokenView { id, token, expires_at: b.expires_at }))
        })
    })
    .await
}

/// `DELETE /api/v1/tokens/{id}`.
pub async fn revoke_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<crate::views::Revoked>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_parameter("id", "must be a whole number"))?;
    blocking(move || {
        with_db(&state, |db| {
            accounts::revoke_token(db, &caller.actor, caller.addr(), id, Utc::now()).map_err(engine)?;
            Ok(Json(crate::views::Revoked { id, revoked: true }))
        })
    })
    .await
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    action: Option<String>,
    actor: Option<String>,
    object: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    before: Option<i64>,
    limit: Option<usize>,
}

/// `GET /api/v1/audit`: newest first; a unit lead sees the entries about their units.
pub async fn audit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    p: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<Vec<tidewatch_store::AuditEntry>>, ApiError> {
    let Query(p) = p.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    let limit = p.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_parameter("limit", "must be 1..=1000"));
    }
    let units = caller.actor.grants.units_for(Action::ReadAudit);
    let f = AuditFilter {
        action: p.action,
        actor: p.actor,
        object: p.object,
        since: p.since,
        until: p.until,
        units,
        before_seq: p.before,
        limit,
    };
    blocking(move || with_db(&state, |db| Ok(Json(db.audit_entries(&f)?)))).await
}

/// `GET /api/v1/audit/verify`: walks the whole chain.
pub async fn verify_audit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<crate::views::AuditVerify>, ApiError> {
    caller.require(&state, Action::ReadAudit, None)?;
    blocking(move || {
        with_db(&state, |db| {
            Ok(Json(match db.verify_audit(1)? {
                Ok(n) => crate::views::AuditVerify { ok: true, entries: Some(n), seq: None, why: None },
                Err(b) => crate::views::AuditVerify { ok: false, entries: None, seq: Some(b.seq), why: Some(b.why) },
            }))
        })
    })
    .await
}

/// `GET /api/v1/settings`.
pub async fn settings(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
) -> Result<Json<crate::views::Settings>, ApiError> {
    blocking(move || {
        with_db(&state, |db| {
            let days = tidewatch_engine::retention::retention_days(db).map_err(engine)?;
            Ok(Json(crate::views::Settings { retention_days: days }))
        })
    })
    .await
}

/// Body of `PUT /api/v1/settings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    retention_days: i64,
}

/// `PUT /api/v1/settings`.
pub async fn put_settings(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    b: Result<Json<SettingsBody>, JsonRejection>,
) -> Result<Json<crate::views::Settings>, ApiError> {
    let b = body(b)?;
    blocking(move || {
        with_db(&state, |db| {
            tidewatch_engine::retention::set_retention_days(
                db,
                &caller.actor.username,
                caller.addr(),
                b.retention_days,
                Utc::now(),
            )
            .map_err(engine)?;
            Ok(Json(crate::views::Settings { retention_days: b.retention_days }))
        })
    })
    .await
}
