//! Responses, approvals and claims over HTTP: draft on a case, new versions, word diffs, submit,
//! approve or return a version, publish; claims on a case, their status, linked items, suggested
//! items and the clarification's effect. Every change goes through the engine (the state
//! machine, one transaction with the case's timeline and the audit entry).

use crate::auth::Caller;
use crate::common::blocking;
use crate::error::ApiError;
use crate::{AppState, CasesSide};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tidewatch_engine::responses::{word_diff, DiffPart, Responses};
use tidewatch_engine::EngineError;
use tidewatch_workflow::access::Action;
use tidewatch_workflow::claims::{Claim, ClaimStatus, ClarificationEffect, Stance};
use tidewatch_workflow::responses::{Draft, Event, Place, Response, ResponseError, ResponseKind};

fn engine(e: EngineError) -> ApiError {
    match e {
        EngineError::Response(r) => {
            let (code, name) = match &r {
                ResponseError::Field(..) => ("bad_body", "field"),
                ResponseError::OwnDraft => ("forbidden", "own_draft"),
                ResponseError::TwoSteps => ("forbidden", "two_steps"),
                ResponseError::NotApprover(_) => ("forbidden", "not_approver"),
                ResponseError::Superseded { .. } => ("conflict", "superseded"),
                ResponseError::AlreadyApproved => ("conflict", "already_approved"),
                ResponseError::Transition { .. } => ("conflict", "transition"),
            };
            let mut err = ApiError::new(code, r.message_en());
            err.extra = Some((
                "response",
                serde_json::json!({"code": name, "message": r.message_en(), "message_zh": r.message_zh()}),
            ));
            err
        }
        EngineError::NotFound(m) => ApiError::new("not_found", m),
        EngineError::Config(m) => ApiError::new("conflict", m),
        other => ApiError::new("internal", other.to_string()),
    }
}

use crate::common::json_body as body;
use crate::common::{positive_id, with_cases_side as with_side};

fn allowed(state: &CasesSide, caller: &Caller, action: Action, unit: &str) -> Result<(), ApiError> {
    let tree = tidewatch_engine::accounts::unit_tree(&state.db).map_err(engine)?;
    let reading_for_approval =
        action == Action::ReadCases && caller.actor.grants.allows_somewhere(Action::ApproveResponses);
    if caller.actor.grants.allows(action, Some(unit), &tree) || reading_for_approval {
        Ok(())
    } else {
        Err(ApiError::new("forbidden", format!("{} needs {} for unit {unit}", caller.actor.username, action.as_str())))
    }
}

fn case_unit(side: &CasesSide, case: i64) -> Result<String, ApiError> {
    Ok(tidewatch_engine::cases::Cases::load(&side.db, case).map_err(engine)?.unit)
}

/// Body of `POST /api/v1/cases/{id}/responses`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    kind: ResponseKind,
    #[serde(default = "zh")]
    lang: String,
    title: String,
    body: String,
    places: Vec<Place>,
    #[serde(default)]
    audience: String,
    #[serde(default)]
    claim: Option<i64>,
    #[serde(default)]
    corrects: Option<i64>,
}

fn zh() -> String {
    "zh".into()
}

/// `POST /api/v1/cases/{id}/responses`: a draft (version 1) on the case, with the chain its unit,
/// classification and grade select. A correction of a published response names it in `corrects`.
pub async fn draft(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<DraftBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Response>), ApiError> {
    let case = positive_id("id", &id)?;
    let b = body(b)?;
    if b.places.len() > 10 || b.audience.chars().count() > 500 {
        return Err(ApiError::new("bad_body", "places: at most 10; audience: at most 500 characters"));
    }
    let now = state.now();
    blocking(move || {
        with_side(&state, |side| {
            let unit = case_unit(side, case)?;
            allowed(side, &caller, Action::DraftResponses, &unit)?;
            let d = Draft {
                kind: b.kind,
                lang: b.lang,
                title: b.title,
                body: b.body,
                places: b.places,
                audience: b.audience,
                claim: b.claim,
                corrects: b.corrects,
            };
            let CasesSide { db, responses, .. } = side;
            let r = responses.draft(db, &caller.actor, caller.addr(), case, d, now).map_err(engine)?;
            Ok((StatusCode::CREATED, Json(r)))
        })
    })
    .await
}

/// `GET /api/v1/cases/{id}/responses`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Response>>, ApiError> {
    let case = positive_id("id", &id)?;
    blocking(move || {
        with_side(&state, |side| {
            let unit = case_unit(side, case)?;
            allowed(side, &caller, Action::ReadCases, &unit)?;
            let mut out = Vec::new();
            for json in side.db.responses_of_case(case)? {
                out.push(serde_json::from_str(&json).map_err(|e| ApiError::new("internal", e.to_string()))?);
            }
            Ok(Json(out))
        })
    })
    .await
}

/// `GET /api/v1/responses/{id}`.
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Response>, ApiError> {
    let id = positive_id("id", &id)?;
    blocking(move || {
        with_side(&state, |side| {
            let r = Responses::load(&side.db, id).map_err(engine)?;
            allowed(side, &caller, Action::ReadCases, &r.unit)?;
            Ok(Json(r))
        })
    })
    .await
}

/// Query of `GET /api/v1/responses/{id}/diff`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffParams {
    /// The older version (default: the one before `to`).
    from: Option<u32>,
    /// The newer version (default: the current one).
    to: Option<u32>,
}

/// A word diff of two versions.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DiffView {
    /// The older version.
    pub from: u32,
    /// The newer version.
    pub to: u32,
    /// The title, word by word.
    pub title: Vec<DiffPart>,
    /// The body, word by word (Chinese by segmented words).
    pub body: Vec<DiffPart>,
}

/// `GET /api/v1/responses/{id}/diff?from=1&to=2`.
pub async fn diff(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    params: Result<Query<DiffParams>, QueryRejection>,
) -> Result<Json<DiffView>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    let id = positive_id("id", &id)?;
    blocking(move || {
        with_side(&state, |side| {
            let r = Responses::load(&side.db, id).map_err(engine)?;
            allowed(side, &caller, Action::ReadCases, &r.unit)?;
            let to = p.to.unwrap_or(r.current().n);
            let from = p.from.unwrap_or(to.saturating_sub(1).max(1));
            let version = |n: u32| {
                r.versions
                    .iter()
                    .find(|v| v.n == n)
                    .ok_or_else(|| ApiError::bad_parameter("from/to", format!("no version {n}")))
            };
            let (a, b) = (version(from)?, version(to)?);
            Ok(Json(DiffView {
                from,
                to,
                title: word_diff(&side.segmenter, &a.title, &b.title),
                body: word_diff(&side.segmenter, &a.body, &b.body),
            }))
        })
    })
    .await
}

async fn act(
    state: Arc<AppState>,
    caller: Caller,
    id: String,
    action: Action,
    event: Event,
) -> Result<Json<Response>, ApiError> {
    let id = positive_id("id", &id)?;
    let now = state.now();
    blocking(move || {
        with_side(&state, |side| {
            let r = Responses::load(&side.db, id).map_err(engine)?;
            // Approvers are checked by the chain's step (they may belong to another unit).
            if action != Action::ApproveResponses {
                allowed(side, &caller, action, &r.unit)?;
            }
            let CasesSide { db, responses, .. } = side;
            Ok(Json(responses.act(db, &caller.actor, caller.addr(), id, event, now).map_err(engine)?))
        })
    })
    .await
}

/// Body of `POST /api/v1/responses/{id}/versions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    title: String,
    body: String,
}

/// `POST /api/v1/responses/{id}/versions`: a new version (an approved or submitted one goes back
/// to draft: the chain starts again).
pub async fn edit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<EditBody>, JsonRejection>,
) -> Result<Json<Response>, ApiError> {
    let b = body(b)?;
    act(state, caller, id, Action::DraftResponses, Event::Edit { title: b.title, body: b.body }).await
}

/// `POST /api/v1/responses/{id}/submit`: the current version goes to the chain's first step.
pub async fn submit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Response>, ApiError> {
    act(state, caller, id, Action::DraftResponses, Event::Submit).await
}

/// Body of approve and return.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    version: u32,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/responses/{id}/approve`: the caller approves `version` at the step under review.
pub async fn approve(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<DecideBody>, JsonRejection>,
) -> Result<Json<Response>, ApiError> {
    let b = body(b)?;
    act(state, caller, id, Action::ApproveResponses, Event::Approve { version: b.version, comment: b.comment }).await
}

/// `POST /api/v1/responses/{id}/return`: back to the drafter with a comment.
pub async fn return_(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<DecideBody>, JsonRejection>,
) -> Result<Json<Response>, ApiError> {
    let b = body(b)?;
    act(state, caller, id, Action::ApproveResponses, Event::Return { version: b.version, comment: b.comment }).await
}

/// One place in `POST /api/v1/responses/{id}/publish`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceBody {
    place: Place,
    #[serde(default)]
    url: Option<String>,
}

/// Body of publish.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    places: Vec<PlaceBody>,
}

/// `POST /api/v1/responses/{id}/publish`: records where, when and by whom the approved text went
/// out (Tidewatch does not post to outside platforms).
pub async fn publish(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<PublishBody>, JsonRejection>,
) -> Result<Json<Response>, ApiError> {
    let b = body(b)?;
    if b.places.len() > 10 {
        return Err(ApiError::new("bad_body", "places: at most 10"));
    }
    let places = b.places.into_iter().map(|p| (p.place, p.url)).collect();
    act(state, caller, id, Action::PublishResponses, Event::Publish { places }).await
}

/// Body of `POST /api/v1/cases/{id}/claims`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    text: String,
    #[serde(default)]
    key_terms: Vec<String>,
    #[serde(default)]
    first_seen: Option<DateTime<Utc>>,
}

/// `POST /api/v1/cases/{id}/claims`: registers a claim (unverified).
pub async fn new_claim(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<ClaimBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Claim>), ApiError> {
    let case = positive_id("id", &id)?;
    let b = body(b)?;
    let now = state.now();
    blocking(move || {
        with_side(&state, |side| {
            let unit = case_unit(side, case)?;
            allowed(side, &caller, Action::ManageClaims, &unit)?;
            let CasesSide { db, responses, .. } = side;
            let c = responses
                .new_claim(db, &caller.actor, caller.addr(), case, &b.text, b.key_terms, b.first_seen, now)
                .map_err(engine)?;
            Ok((StatusCode::CREATED, Json(c)))
        })
    })
    .await
}

/// `GET /api/v1/cases/{id}/claims`.
pub async fn claims(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Claim>>, ApiError> {
    let case = positive_id("id", &id)?;
    blocking(move || {
        with_side(&state, |side| {
            let unit = case_unit(side, case)?;
            allowed(side, &caller, Action::ReadCases, &unit)?;
            let mut out = Vec::new();
            for json in side.db.claims_of_case(case)? {
                out.push(serde_json::from_str(&json).map_err(|e| ApiError::new("internal", e.to_string()))?);
            }
            Ok(Json(out))
        })
    })
    .await
}

/// A claim with the items suggested for it and its clarification's effect.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ClaimDetail {
    /// The claim.
    pub claim: Claim,
    /// Items of the case's stories with every key term, not linked yet.
    pub suggestions: Vec<i64>,
    /// Supporting and denying items per hour, 24 h each side of the clarification.
    pub effect: Option<ClarificationEffect>,
}

/// `GET /api/v1/claims/{id}`.
pub async fn claim(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ClaimDetail>, ApiError> {
    let id = positive_id("id", &id)?;
    blocking(move || {
        with_side(&state, |side| {
            let c = Responses::load_claim(&side.db, id).map_err(engine)?;
            let unit = case_unit(side, c.case_id)?;
            allowed(side, &caller, Action::ReadCases, &unit)?;
            let suggestions = Responses::suggestions(&side.db, &c, 50).map_err(engine)?;
            let effect = c.effect(24);
            Ok(Json(ClaimDetail { claim: c, suggestions, effect }))
        })
    })
    .await
}

/// Body of `POST /api/v1/claims/{id}/status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: ClaimStatus,
    #[serde(default)]
    evidence: String,
}

/// `POST /api/v1/claims/{id}/status`: false, partly true, … with the evidence.
pub async fn claim_status(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<StatusBody>, JsonRejection>,
) -> Result<Json<Claim>, ApiError> {
    let id = positive_id("id", &id)?;
    let b = body(b)?;
    if b.evidence.chars().count() > 20_000 {
        return Err(ApiError::new("bad_body", "evidence: at most 20,000 characters"));
    }
    let now = state.now();
    blocking(move || {
        with_side(&state, |side| {
            let c = Responses::load_claim(&side.db, id).map_err(engine)?;
            let unit = case_unit(side, c.case_id)?;
            allowed(side, &caller, Action::ManageClaims, &unit)?;
            let CasesSide { db, responses, .. } = side;
            Ok(Json(
                responses
                    .set_claim_status(db, &caller.actor, caller.addr(), id, b.status, &b.evidence, now)
                    .map_err(engine)?,
            ))
        })
    })
    .await
}

/// Body of `POST /api/v1/claims/{id}/items`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    item: i64,
    stance: Stance,
}

/// `POST /api/v1/claims/{id}/items`: links an item with its stance (or changes the stance).
pub async fn claim_item(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<LinkBody>, JsonRejection>,
) -> Result<Json<Claim>, ApiError> {
    let id = positive_id("id", &id)?;
    let b = body(b)?;
    let now = state.now();
    blocking(move || {
        with_side(&state, |side| {
            let c = Responses::load_claim(&side.db, id).map_err(engine)?;
            let unit = case_unit(side, c.case_id)?;
            allowed(side, &caller, Action::ManageClaims, &unit)?;
            let CasesSide { db, responses, .. } = side;
            Ok(Json(responses.link_item(db, &caller.actor, caller.addr(), id, b.item, b.stance, now).map_err(engine)?))
        })
    })
    .await
}
