//! Cases over HTTP: list, open (from an alert, a story or items), get with its timeline and
//! review, reports, evidence, assessment, classification, tasks, acknowledgement, monitoring,
//! close, reopen, the review and its approval, and per-unit figures.
//!
//! Every change goes through `tidewatch_engine::cases::Cases::act` (the state machine, its
//! write and audit entry in one transaction). A refused event is answered 409 `conflict` with
//! the state machine's typed error in `error.case` (`code`, `message`, `message_zh`).

use crate::auth::Caller;
use crate::common::blocking;
use crate::error::ApiError;
use crate::{AppState, CasesSide};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::sync::Arc;
use tidewatch_engine::cases::{review_figures, unit_figures, year_bounds, CaseView, Cases};
use tidewatch_engine::EngineError;
use tidewatch_store::CaseFilter;
use tidewatch_workflow::access::{Action, Role, UnitTree};
use tidewatch_workflow::cases::{
    Case, CaseError, CaseState, Classification, Event, EvidenceKind, Grade, Opening, ReportBody, ReviewNotes,
};

fn case_error_code(e: &CaseError) -> &'static str {
    match e {
        CaseError::Transition { .. } => "transition",
        CaseError::NeedsGrade => "needs_grade",
        CaseError::ReasonRequired => "reason_required",
        CaseError::SameClassification => "same_classification",
        CaseError::NoTask(_) => "no_task",
        CaseError::TaskNotOpen(_) => "task_not_open",
        CaseError::NeedsDecision(_) => "needs_decision",
        CaseError::TasksOpen(_) => "tasks_open",
        CaseError::NothingToAcknowledge => "nothing_to_acknowledge",
        CaseError::NoReview => "no_review",
        CaseError::Evidence(_) => "evidence",
        CaseError::Field(..) => "field",
        CaseError::NoPerson(_) => "no_person",
    }
}

fn engine(e: EngineError) -> ApiError {
    match e {
        EngineError::Case(c) => {
            // A bad value is the request's fault (400); an event the state refuses is a conflict.
            let code = match c {
                CaseError::Field(..) | CaseError::NoPerson(_) | CaseError::NeedsDecision(_) => "bad_body",
                _ => "conflict",
            };
            let mut err = ApiError::new(code, c.message_en());
            err.extra = Some((
                "case",
                serde_json::json!({"code": case_error_code(&c), "message": c.message_en(), "message_zh": c.message_zh()}),
            ));
            err
        }
        EngineError::NotFound(m) => ApiError::new("not_found", m),
        EngineError::Config(m) => ApiError::new("conflict", m),
        other => ApiError::new("internal", other.to_string()),
    }
}

use crate::common::json_body as body;
use crate::common::{positive_id, with_cases_side as with_cases};

fn tree(side: &CasesSide) -> Result<UnitTree, ApiError> {
    tidewatch_engine::accounts::unit_tree(&side.db).map_err(engine)
}

fn allowed(caller: &Caller, action: Action, unit: &str, tree: &UnitTree) -> Result<(), ApiError> {
    if caller.actor.grants.allows(action, Some(unit), tree) {
        Ok(())
    } else {
        Err(ApiError::new("forbidden", format!("{} needs {} for unit {unit}", caller.actor.username, action.as_str())))
    }
}

fn view(case: Case, now: DateTime<Utc>) -> CaseView {
    let overdue = case.overdue(now).iter().map(|t| t.id()).collect();
    CaseView { case, overdue }
}

/// Query of `GET /api/v1/cases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Comma-separated states.
    state: Option<String>,
    /// `IV` … `I`.
    grade: Option<String>,
    /// `inquiry`, `hype`, `fabrication`, `constructive`.
    classification: Option<String>,
    /// The owner unit (and the units under it).
    unit: Option<String>,
    /// Opened in this local year (Asia/Shanghai).
    year: Option<i32>,
    /// Opened at or after.
    from: Option<DateTime<Utc>>,
    /// Opened before.
    to: Option<DateTime<Utc>>,
    /// Only cases with an open task past its deadline.
    overdue: Option<bool>,
    /// At most this many (default 50).
    limit: Option<usize>,
    /// Ids below this (the next page).
    before: Option<i64>,
}

/// A case in a list.
fn summary(c: &Case, now: DateTime<Utc>) -> crate::views::CaseSummary {
    crate::views::CaseSummary {
        id: c.id,
        title: c.title.clone(),
        state: c.state,
        grade: c.grade(),
        classification: c.classification(),
        unit: c.unit.clone(),
        owner: c.owner.clone(),
        alert: c.alert,
        opened_at: c.opened_at,
        closed_at: c.closed_at,
        open_tasks: c.tasks.iter().filter(|t| t.state == tidewatch_workflow::cases::TaskState::Open).count(),
        overdue: c.overdue(now).iter().map(|t| t.id()).collect(),
        signals: c.signals,
    }
}

/// Units the caller may read cases of (`None`: all), with their subtrees.
fn readable_units(caller: &Caller, side: &CasesSide, action: Action) -> Result<Option<Vec<String>>, ApiError> {
    let Some(held) = caller.actor.grants.units_for(action) else { return Ok(None) };
    let tree = tree(side)?;
    let all = side.db.units()?;
    Ok(Some(all.into_iter().map(|u| u.id).filter(|u| held.iter().any(|h| tree.within(u, h))).collect()))
}

/// `GET /api/v1/cases`: cases, newest first, filtered; a unit-scoped caller sees their units'.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Vec<crate::views::CaseSummary>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    let mut f = CaseFilter { limit: p.limit.unwrap_or(50), before: p.before, ..CaseFilter::default() };
    if f.limit == 0 || f.limit > crate::common::MAX_LIMIT {
        return Err(ApiError::bad_parameter("limit", format!("must be 1..={}", crate::common::MAX_LIMIT)));
    }
    if let Some(s) = &p.state {
        for part in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let st = CaseState::parse(part).ok_or_else(|| {
                ApiError::bad_parameter("state", "must be new, assessing, handling, monitoring, closed or reviewed")
            })?;
            f.states.push(st.as_str().to_string());
        }
    }
    if let Some(g) = &p.grade {
        f.grade = Some(
            Grade::parse(g)
                .ok_or_else(|| ApiError::bad_parameter("grade", "must be IV, III, II or I"))?
                .as_str()
                .into(),
        );
    }
    if let Some(c) = &p.classification {
        f.classification = Some(
            Classification::parse(c)
                .ok_or_else(|| {
                    ApiError::bad_parameter("classification", "must be inquiry, hype, fabrication or constructive")
                })?
                .as_str()
                .into(),
        );
    }
    if let Some(y) = p.year {
        let (a, b) = year_bounds(y)
            .filter(|_| (2000..=2200).contains(&y))
            .ok_or_else(|| ApiError::bad_parameter("year", "must be 2000..=2200"))?;
        f.from = Some(a);
        f.to = Some(b);
    }
    if p.from.is_some() {
        f.from = p.from;
    }
    if p.to.is_some() {
        f.to = p.to;
    }
    let now = state.now();
    if p.overdue == Some(true) {
        f.overdue_at = Some(now);
    }
    blocking(move || {
        with_cases(&state, |side| {
            let mut units = readable_units(&caller, side, Action::ReadCases)?;
            if let Some(u) = &p.unit {
                let tree = tree(side)?;
                let under: Vec<String> =
                    side.db.units()?.into_iter().map(|x| x.id).filter(|x| tree.within(x, u)).collect();
                let under = if under.is_empty() { vec![u.clone()] } else { under };
                units = Some(match units {
                    None => under,
                    Some(mine) => under.into_iter().filter(|x| mine.contains(x)).collect(),
                });
            }
            f.units = units;
            let rows = side.db.cases(&f)?;
            let mut out = Vec::new();
            for r in rows {
                let c: Case = serde_json::from_str(&r.data).map_err(|e| ApiError::new("internal", e.to_string()))?;
                out.push(summary(&c, now));
            }
            Ok(Json(out))
        })
    })
    .await
}

/// Body of `POST /api/v1/cases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    /// Title (the alert's or story's when absent).
    #[serde(default)]
    title: Option<String>,
    /// Owner unit (the alert's topic's unit when absent).
    #[serde(default)]
    unit: Option<String>,
    /// Owner person.
    #[serde(default)]
    owner: Option<String>,
    /// Open from this alert.
    #[serde(default)]
    alert: Option<i64>,
    /// Open from this story.
    #[serde(default)]
    story: Option<i64>,
    /// Items as evidence (e.g. search results).
    #[serde(default)]
    items: Vec<i64>,
}

/// `POST /api/v1/cases`: opens a case; from an alert, it acknowledges the alert and links it.
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    b: Result<Json<OpenBody>, JsonRejection>,
) -> Result<(StatusCode, Json<CaseView>), ApiError> {
    let b = body(b)?;
    if b.items.len() > 200 {
        return Err(ApiError::new("bad_body", "items: at most 200"));
    }
    if b.alert.is_none() && b.story.is_none() && b.items.is_empty() {
        return Err(ApiError::new("bad_body", "open a case from an alert, a story or items"));
    }
    let now = state.now();
    blocking(move || {
        // The alert, if any: its title, unit, story, severity and first time.
        let alert = match b.alert {
            Some(id) => {
                let guard = state.alerting.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
                let side = guard.as_ref().ok_or_else(|| ApiError::new("not_found", "alerting is not configured"))?;
                let a = side
                    .alerting
                    .alerts()
                    .get(id)
                    .cloned()
                    .ok_or_else(|| ApiError::new("not_found", format!("alert {id}")))?;
                if let Some(c) = a.case {
                    return Err(ApiError::new("conflict", format!("alert {id} already has case {c}")));
                }
                Some(a)
            }
            None => None,
        };
        let mut evidence: Vec<(EvidenceKind, i64)> = b.items.iter().map(|i| (EvidenceKind::Item, *i)).collect();
        let story = b.story.or_else(|| alert.as_ref().and_then(|a| a.story.as_ref()).and_then(|s| s.parse().ok()));
        if let Some(s) = story {
            evidence.push((EvidenceKind::Story, s));
        }
        let case = with_cases(&state, |side| {
            let story_title = match story {
                Some(s) if b.title.is_none() && alert.is_none() => side.db.story(s)?.map(|r| r.title),
                _ => None,
            };
            let title = b
                .title
                .clone()
                .or_else(|| alert.as_ref().map(|a| a.title.clone()))
                .or(story_title)
                .ok_or_else(|| ApiError::new("bad_body", "title: required"))?;
            let unit = b
                .unit
                .clone()
                .or_else(|| alert.as_ref().and_then(|a| a.unit.clone()))
                .ok_or_else(|| ApiError::new("bad_body", "unit: required (the alert names none)"))?;
            if side.db.unit(&unit)?.is_none() {
                return Err(ApiError::new("bad_body", format!("unit: no unit {unit:?}")));
            }
            allowed(&caller, Action::OpenCases, &unit, &tree(side)?)?;
            let opening = Opening {
                title,
                unit,
                owner: b.owner.clone(),
                alert: alert.as_ref().map(|a| a.id),
                severity: alert.as_ref().map(|a| a.severity),
                detected_at: alert.as_ref().map(|a| a.first_at),
                signals_before: side.db.max_signal_id()?,
                evidence,
            };
            let CasesSide { db, cases, .. } = side;
            cases.open_case(db, &caller.actor, caller.addr(), opening, now).map_err(engine)
        })?;
        if let Some(a) = &alert {
            let mut guard = state.alerting.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
            if let Some(side) = guard.as_mut() {
                let crate::AlertingSide { db, alerting, .. } = side;
                alerting.link_case(db, a.id, case.id, &caller.actor.username, now).map_err(engine)?;
            }
        }
        state.sync_inhibition();
        Ok((StatusCode::CREATED, Json(view(case, now))))
    })
    .await
}

/// `GET /api/v1/cases/{id}`: the case, its timeline, and its review figures once closed.
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<crate::views::CaseDetail>, ApiError> {
    let id = positive_id("id", &id)?;
    let now = state.now();
    blocking(move || {
        with_cases(&state, |side| {
            let case = Cases::load(&side.db, id).map_err(engine)?;
            allowed(&caller, Action::ReadCases, &case.unit, &tree(side)?)?;
            let timeline = side
                .db
                .case_timeline(id)?
                .into_iter()
                .map(|e| crate::views::TimelineEntry {
                    at: e.at,
                    who: e.actor,
                    kind: e.kind,
                    detail: serde_json::from_str::<serde_json::Value>(&e.detail).unwrap_or_default(),
                })
                .collect();
            let figures =
                if case.state.is_open() { None } else { Some(review_figures(&side.db, &case).map_err(engine)?) };
            Ok(Json(crate::views::CaseDetail { case: view(case, now), timeline, review_figures: figures }))
        })
    })
    .await
}

/// Applies an event built from the case to case `id`, after checking `action` for its unit.
async fn act(
    state: Arc<AppState>,
    caller: Caller,
    id: String,
    action: Action,
    make: impl FnOnce(&Case, &UnitTree) -> Result<Event, ApiError> + Send + 'static,
) -> Result<Json<CaseView>, ApiError> {
    let id = positive_id("id", &id)?;
    let now = state.now();
    blocking(move || {
        let case = with_cases(&state, |side| {
            let case = Cases::load(&side.db, id).map_err(engine)?;
            let tree = tree(side)?;
            allowed(&caller, action, &case.unit, &tree)?;
            let event = make(&case, &tree)?;
            let CasesSide { db, cases, .. } = side;
            cases.act(db, &caller.actor, caller.addr(), id, event, now).map_err(engine)
        })?;
        state.sync_inhibition();
        Ok(Json(view(case, now)))
    })
    .await
}

/// Body of `PATCH /api/v1/cases/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    participants: Option<Vec<String>>,
}

/// `PATCH /api/v1/cases/{id}`: title, owner, participants.
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<UpdateBody>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let b = body(b)?;
    if b.participants.as_ref().is_some_and(|p| p.len() > 100) {
        return Err(ApiError::new("bad_body", "participants: at most 100"));
    }
    act(state, caller, id, Action::ReportCases, move |_, _| {
        Ok(Event::Update { title: b.title, owner: b.owner, participants: b.participants })
    })
    .await
}

/// `POST /api/v1/cases/{id}/reports`: the first report (首报), then follow-ups (续报).
pub async fn report(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<ReportBody>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let b = body(b)?;
    act(state, caller, id, Action::ReportCases, move |_, _| Ok(Event::Report(b))).await
}

/// Body of `POST /api/v1/cases/{id}/evidence`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBody {
    kind: EvidenceKind,
    id: i64,
}

/// `POST /api/v1/cases/{id}/evidence`: links an item or a story.
pub async fn add_evidence(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<EvidenceBody>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let b = body(b)?;
    act(state, caller, id, Action::ReportCases, move |_, _| Ok(Event::AddEvidence { kind: b.kind, id: b.id })).await
}

/// `DELETE /api/v1/cases/{id}/evidence/{kind}/{ref}`: unlinks an item or a story.
pub async fn remove_evidence(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, kind, reference)): Path<(String, String, String)>,
) -> Result<Json<CaseView>, ApiError> {
    let kind = match kind.as_str() {
        "item" => EvidenceKind::Item,
        "story" => EvidenceKind::Story,
        _ => return Err(ApiError::bad_parameter("kind", "must be item or story")),
    };
    let r: i64 = reference.parse().map_err(|_| ApiError::bad_parameter("ref", "must be a whole number"))?;
    act(state, caller, id, Action::ReportCases, move |_, _| Ok(Event::RemoveEvidence { kind, id: r })).await
}

/// Body of `POST /api/v1/cases/{id}/assessment`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessBody {
    grade: String,
    assessment: String,
}

/// `POST /api/v1/cases/{id}/assessment`: grade and assessment (研判).
pub async fn assess(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<AssessBody>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let b = body(b)?;
    let grade = Grade::parse(&b.grade).ok_or_else(|| ApiError::new("bad_body", "grade: must be IV, III, II or I"))?;
    act(state, caller, id, Action::AssessCases, move |_, _| Ok(Event::Assess { grade, assessment: b.assessment })).await
}

/// Body of `POST /api/v1/cases/{id}/classification`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyBody {
    classification: String,
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/cases/{id}/classification`: picks the playbook (分类处置).
pub async fn classify(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<ClassifyBody>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let b = body(b)?;
    let classification = Classification::parse(&b.classification).ok_or_else(|| {
        ApiError::new("bad_body", "classification: must be inquiry, hype, fabrication or constructive")
    })?;
    act(state, caller, id, Action::AssessCases, move |_, _| Ok(Event::Classify { classification, reason: b.reason }))
        .await
}

/// Body of `POST /api/v1/cases/{id}/tasks/{task}/done`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoneBody {
    #[serde(default)]
    note: String,
    #[serde(default)]
    promised_by: Option<DateTime<Utc>>,
    #[serde(default)]
    decision: Option<String>,
}

/// `POST /api/v1/cases/{id}/tasks/{task}/done`: the caller must hold the task's role for the
/// case's unit (or be an admin).
pub async fn task_done(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, task)): Path<(String, String)>,
    b: Result<Json<DoneBody>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let b = body(b)?;
    let who = caller.clone();
    act(state, caller, id, Action::WorkTasks, move |case, tree| {
        let t = case
            .tasks
            .iter()
            .find(|t| t.id() == task)
            .ok_or_else(|| ApiError::new("not_found", format!("no task {task}")))?;
        let holds = who.actor.grants.0.iter().any(|g| {
            (g.role == t.role || g.role == Role::Admin)
                && g.unit.as_deref().is_none_or(|held| tree.within(&case.unit, held))
        });
        if !holds {
            return Err(ApiError::new("forbidden", format!("task {task} is for {} of {}", t.role.as_str(), case.unit)));
        }
        Ok(Event::CompleteTask { task, note: b.note, promised_by: b.promised_by, decision: b.decision })
    })
    .await
}

/// Body of `POST /api/v1/cases/{id}/tasks/{task}/reassign`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReassignBody {
    to: String,
}

/// `POST /api/v1/cases/{id}/tasks/{task}/reassign`: gives a task to a person.
pub async fn task_reassign(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, task)): Path<(String, String)>,
    b: Result<Json<ReassignBody>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let b = body(b)?;
    act(state, caller, id, Action::AssignTasks, move |_, _| Ok(Event::ReassignTask { task, to: b.to })).await
}

/// `POST /api/v1/cases/{id}/acknowledge`: stops the grade escalation.
pub async fn acknowledge(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    act(state, caller, id, Action::AcknowledgeCases, |_, _| Ok(Event::Acknowledge)).await
}

/// `POST /api/v1/cases/{id}/monitor`: handling done, watching.
pub async fn monitor(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    act(state, caller, id, Action::CloseCases, |_, _| Ok(Event::Monitor)).await
}

/// Body of close.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    summary: String,
}

/// `POST /api/v1/cases/{id}/close`.
pub async fn close(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<CloseBody>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let b = body(b)?;
    act(state, caller, id, Action::CloseCases, move |_, _| Ok(Event::Close { summary: b.summary })).await
}

/// Body of reopen.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReopenBody {
    reason: String,
}

/// `POST /api/v1/cases/{id}/reopen`.
pub async fn reopen(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<ReopenBody>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let b = body(b)?;
    act(state, caller, id, Action::CloseCases, move |_, _| Ok(Event::Reopen { reason: b.reason })).await
}

/// `POST /api/v1/cases/{id}/review`: what worked, lessons, follow-up actions.
pub async fn review(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<ReviewNotes>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let b = body(b)?;
    if b.actions.len() > 100
        || b.actions.iter().any(|a| a.text.chars().count() > 2000 || a.rule.as_ref().is_some_and(|r| r.len() > 10_000))
    {
        return Err(ApiError::new(
            "bad_body",
            "actions: at most 100, each at most 2,000 characters, rules 10,000 bytes",
        ));
    }
    act(state, caller, id, Action::ReviewCases, move |_, _| Ok(Event::SubmitReview(b))).await
}

/// `POST /api/v1/cases/{id}/review/approve`: closed → reviewed.
pub async fn approve(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    act(state, caller, id, Action::ApproveReviews, |_, _| Ok(Event::ApproveReview)).await
}

/// Query of `GET /api/v1/units/figures`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiguresParams {
    /// The local year (default: this one).
    year: Option<i32>,
}

/// `GET /api/v1/units/figures?year=2026`: per-unit figures (考核); a unit-scoped caller gets
/// their units'.
pub async fn figures(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    params: Result<Query<FiguresParams>, QueryRejection>,
) -> Result<Json<crate::views::FiguresView>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    let now = state.now();
    let year = p.year.unwrap_or_else(|| {
        use chrono::Datelike;
        now.with_timezone(&chrono_tz::Asia::Shanghai).year()
    });
    let (from, to) = year_bounds(year)
        .filter(|_| (2000..=2200).contains(&year))
        .ok_or_else(|| ApiError::bad_parameter("year", "must be 2000..=2200"))?;
    blocking(move || {
        with_cases(&state, |side| {
            let units = readable_units(&caller, side, Action::ReadFigures)?;
            let all = unit_figures(&side.db, from, to).map_err(engine)?;
            let shown: Vec<_> =
                all.into_iter().filter(|f| units.as_ref().is_none_or(|u| u.contains(&f.unit))).collect();
            Ok(Json(crate::views::FiguresView { year, from, to, units: shown }))
        })
    })
    .await
}

/// Body of `POST /api/v1/cases/{id}/review/proposals/{action}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    accept: bool,
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/cases/{id}/review/proposals/{action}`: an admin accepts the rule a follow-up
/// action proposes (the topic is saved with it: a new version, audited) or rejects it with a
/// reason. Needs `edit_topics` for the topic's unit.
pub async fn decide_proposal(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    b: Result<Json<DecideBody>, JsonRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let id = positive_id("id", &id)?;
    let action: usize = action.parse().map_err(|_| ApiError::bad_parameter("action", "must be a whole number"))?;
    let b = body(b)?;
    let now = state.now();
    blocking(move || {
        // The proposal, and the topic it changes, checked before anything is recorded.
        let proposal = with_cases(&state, |side| {
            let case = Cases::load(&side.db, id).map_err(engine)?;
            let a = case
                .review
                .as_ref()
                .and_then(|r| r.notes.actions.get(action))
                .ok_or_else(|| ApiError::new("not_found", format!("case {id} has no follow-up action {action}")))?;
            Ok(a.topic.clone().zip(a.rule.clone()))
        })?;
        let topic = match &proposal {
            Some((topic, rule)) => {
                let record = {
                    let p = state.pipeline.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
                    p.db().topic(topic)?
                }
                .ok_or_else(|| ApiError::new("conflict", format!("topic {topic} no longer exists")))?;
                caller.require(&state, Action::EditTopics, record.def.unit.as_deref())?;
                if b.accept {
                    tidewatch_engine::topics::check_rule(topic, rule).map_err(|d| {
                        ApiError::new("conflict", format!("the proposed rule no longer parses: {}", d.message))
                    })?;
                }
                Some((record, rule.clone()))
            }
            None => None,
        };
        let case = with_cases(&state, |side| {
            let CasesSide { db, cases, .. } = side;
            let event = Event::DecideProposal { action, accept: b.accept, reason: b.reason.clone() };
            cases.act(db, &caller.actor, caller.addr(), id, event, now).map_err(engine)
        })?;
        if let (true, Some((record, rule))) = (b.accept, topic) {
            let mut draft = record.def.clone();
            draft.rule = rule;
            let mut p = state.pipeline.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
            let (saved, changed) = p.db_mut().save_topic(&draft, &caller.actor.username, now)?;
            if changed {
                p.reload_topics().map_err(|e| ApiError::new("internal", e.to_string()))?;
            }
            drop(p);
            state.audit(
                tidewatch_store::NewAudit::new(
                    &caller.actor.username,
                    caller.addr(),
                    "topic.save",
                    &format!("topic:{}", saved.def.id),
                )
                .with(serde_json::json!({"unit": saved.def.unit, "version": saved.version, "before": record.def,
                        "after": &saved.def, "from_case": id, "action": action})),
            )?;
        }
        Ok(Json(view(case, now)))
    })
    .await
}
