//! Topics and rules over the API: check a rule, list, read and save topics (every save is a new
//! version), per-day hit counts, and the backtest of a draft rule. A malformed rule gets the same
//! positioned error, in English and Chinese, as on the command line and in topics files.

use crate::common::{blocking, read_side, ItemView};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tidewatch_engine::topics::{backtest as run_backtest, check_rule, period_start, TopicDiagnostic, SEVERITIES};
use tidewatch_store::{TopicDraft, TopicRecord, TopicVersion};

/// Longest accepted rule, in characters.
pub const MAX_RULE_CHARS: usize = 10_000;
/// Longest period for counts and backtests, in days.
pub const MAX_DAYS: u32 = 366;

/// The zone whose midnights start the days of counts and backtests.
const ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// A diagnostic as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DiagnosticView {
    /// 1-based character column in the rule.
    pub column: Option<usize>,
    /// English message.
    pub message: String,
    /// Chinese message.
    pub message_zh: String,
}

impl From<&TopicDiagnostic> for DiagnosticView {
    fn from(d: &TopicDiagnostic) -> DiagnosticView {
        DiagnosticView { column: d.column, message: d.message.clone(), message_zh: d.message_zh.clone() }
    }
}

fn invalid_rule(d: &TopicDiagnostic) -> ApiError {
    let mut e = ApiError::new("invalid_rule", d.to_string());
    e.extra = Some(("rule_error", serde_json::to_value(DiagnosticView::from(d)).unwrap_or_default()));
    e
}

use crate::common::json_body as body;

fn bounded_rule(rule: &str) -> Result<(), ApiError> {
    if rule.chars().count() > MAX_RULE_CHARS {
        return Err(ApiError::new("bad_body", format!("rule: at most {MAX_RULE_CHARS} characters")));
    }
    Ok(())
}

fn checked_rule(topic: &str, rule: &str) -> Result<(tidewatch_text::rules::Node, Vec<TopicDiagnostic>), ApiError> {
    bounded_rule(rule)?;
    check_rule(topic, rule).map_err(|d| invalid_rule(&d))
}

/// Body of `POST /api/v1/rules/check`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    rule: String,
}

/// Answer of `POST /api/v1/rules/check`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CheckView {
    pub(crate) valid: bool,
    pub(crate) errors: Vec<DiagnosticView>,
    pub(crate) warnings: Vec<DiagnosticView>,
}

/// `POST /api/v1/rules/check`: a rule's error (positioned) or its warnings. Checking is the
/// point of the call, so a bad rule is a 200 with `valid: false`.
pub async fn check(b: Result<Json<CheckBody>, JsonRejection>) -> Result<Json<CheckView>, ApiError> {
    let b = body(b)?;
    bounded_rule(&b.rule)?;
    Ok(Json(match check_rule("", &b.rule) {
        Ok((_, warnings)) => {
            CheckView { valid: true, errors: vec![], warnings: warnings.iter().map(Into::into).collect() }
        }
        Err(d) => CheckView { valid: false, errors: vec![(&d).into()], warnings: vec![] },
    }))
}

/// `GET /api/v1/topics`.
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Vec<TopicRecord>>, ApiError> {
    blocking(move || Ok(Json(read_side(&state)?.0.topics()?))).await
}

/// A topic with its history.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TopicDetail {
    #[serde(flatten)]
    pub(crate) topic: TopicRecord,
    pub(crate) versions: Vec<TopicVersion>,
}

fn valid_id(id: &str) -> Result<(), ApiError> {
    let ok =
        !id.is_empty() && id.len() <= 100 && id.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_parameter("id", "1–100 letters, digits, '-', '_' or '.'"))
    }
}

/// `GET /api/v1/topics/{id}`.
pub async fn get_topic(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<TopicDetail>, ApiError> {
    valid_id(&id)?;
    blocking(move || {
        let r = read_side(&state)?;
        let topic = r.0.topic(&id)?.ok_or_else(|| ApiError::new("not_found", format!("topic {id}")))?;
        let versions = r.0.topic_versions(topic.key)?;
        Ok(Json(TopicDetail { topic, versions }))
    })
    .await
}

/// Body of `PUT /api/v1/topics/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicBody {
    rule: String,
    name: Option<String>,
    unit: Option<String>,
    severity: Option<String>,
    enabled: Option<bool>,
}

/// Answer of `PUT /api/v1/topics/{id}`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SavedView {
    topic: TopicRecord,
    changed: bool,
    warnings: Vec<DiagnosticView>,
}

/// `PUT /api/v1/topics/{id}`: creates or edits a topic. An edit becomes a new version; items
/// stored from then on are matched with it.
pub async fn put_topic(
    State(state): State<Arc<AppState>>,
    caller: crate::auth::Caller,
    Path(id): Path<String>,
    b: Result<Json<TopicBody>, JsonRejection>,
) -> Result<Json<SavedView>, ApiError> {
    valid_id(&id)?;
    let b = body(b)?;
    let (_, warnings) = checked_rule(&id, &b.rule)?;
    let severity = b.severity.unwrap_or_else(|| "medium".into());
    if !SEVERITIES.contains(&severity.as_str()) {
        return Err(ApiError::new(
            "bad_body",
            format!("severity: {severity:?} is not one of {}", SEVERITIES.join(", ")),
        ));
    }
    let draft = TopicDraft {
        name: b.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| id.clone()),
        id,
        rule: b.rule,
        unit: b.unit.filter(|u| !u.trim().is_empty()),
        severity,
        enabled: b.enabled.unwrap_or(true),
    };
    caller.require(&state, tidewatch_workflow::access::Action::EditTopics, draft.unit.as_deref())?;
    blocking(move || {
        let mut p = state.pipeline.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
        let before = p.db().topic(&draft.id)?;
        if let Some(b) = &before {
            // Moving a topic out of a unit needs the right on that unit too.
            caller.require(&state, tidewatch_workflow::access::Action::EditTopics, b.def.unit.as_deref())?;
        }
        let (topic, changed) = p.db_mut().save_topic(&draft, &caller.actor.username, Utc::now())?;
        if changed {
            p.reload_topics().map_err(|e| ApiError::new("internal", e.to_string()))?;
        }
        drop(p);
        if changed {
            let unit = topic.def.unit.clone();
            state.audit(
                tidewatch_store::NewAudit::new(&caller.actor.username, caller.addr(), "topic.save", &format!("topic:{}", topic.def.id))
                    .with(serde_json::json!({"unit": unit, "version": topic.version, "before": before.map(|b| b.def), "after": &topic.def})),
            )?;
        }
        Ok(Json(SavedView { topic, changed, warnings: warnings.iter().map(Into::into).collect() }))
    })
    .await
}

/// Query of `GET /api/v1/topics/{id}/counts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountsParams {
    days: Option<u32>,
    until: Option<String>,
}

/// The end of a period: `until` (any date form the importer accepts) or now.
fn until(v: Option<&str>) -> Result<DateTime<Utc>, ApiError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Utc::now()),
        Some(s) => tidewatch_ingest::dates::parse_datetime(s).map_err(|e| ApiError::bad_parameter("until", e)),
    }
}

fn days(d: Option<u32>) -> Result<u32, ApiError> {
    match d.unwrap_or(30) {
        n @ 1..=MAX_DAYS => Ok(n),
        _ => Err(ApiError::bad_parameter("days", format!("must be 1..={MAX_DAYS}"))),
    }
}

/// One day's count.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DayCount {
    pub(crate) day: DateTime<Utc>,
    pub(crate) count: u64,
}

/// `GET /api/v1/topics/{id}/counts?days=N[&until=T]`: items that matched the topic per day (days
/// start at midnight, Asia/Shanghai), the day of `until` (default now) included.
pub async fn counts(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    q: Result<Query<CountsParams>, QueryRejection>,
) -> Result<Json<Vec<DayCount>>, ApiError> {
    valid_id(&id)?;
    let Query(q) = q.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    let days = days(q.days)?;
    let end = until(q.until.as_deref())?;
    blocking(move || {
        let r = read_side(&state)?;
        let topic = r.0.topic(&id)?.ok_or_else(|| ApiError::new("not_found", format!("topic {id}")))?;
        let since = period_start(end, days, ZONE);
        let counts = r.0.topic_hit_counts(topic.key, since, since + chrono::Duration::days(days as i64), 86_400_000)?;
        Ok(Json(counts.into_iter().map(|(day, count)| DayCount { day, count }).collect()))
    })
    .await
}

/// Body of `POST /api/v1/topics/backtest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BacktestBody {
    rule: String,
    days: Option<u32>,
    until: Option<String>,
    samples: Option<usize>,
}

/// A sample hit with the spans that made it match.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SampleView {
    #[serde(flatten)]
    pub(crate) item: ItemView,
    pub(crate) spans: Vec<SpanView>,
}

/// A span: field and character offsets into it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SpanView {
    pub(crate) field: &'static str,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Answer of `POST /api/v1/topics/backtest`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BacktestView {
    pub(crate) days: Vec<DayCount>,
    pub(crate) scanned: u64,
    pub(crate) hits: u64,
    pub(crate) samples: Vec<SampleView>,
    pub(crate) warnings: Vec<DiagnosticView>,
}

/// `POST /api/v1/topics/backtest`: what a draft rule would have matched over the stored items of
/// the last N days, per day, with samples. Nothing is saved.
pub async fn backtest(
    State(state): State<Arc<AppState>>,
    b: Result<Json<BacktestBody>, JsonRejection>,
) -> Result<Json<BacktestView>, ApiError> {
    let b = body(b)?;
    let (node, warnings) = checked_rule("", &b.rule)?;
    let days = days(b.days.or(Some(7)))?;
    let samples = b.samples.unwrap_or(10).min(100);
    let end = until(b.until.as_deref())?;
    blocking(move || {
        let r = read_side(&state)?;
        let bt = run_backtest(&r.0, &node, days, end, ZONE, samples)?;
        Ok(Json(BacktestView {
            days: bt.days.into_iter().map(|(day, count)| DayCount { day, count }).collect(),
            scanned: bt.scanned,
            hits: bt.hits,
            samples: bt
                .samples
                .iter()
                .map(|(s, spans)| SampleView {
                    item: ItemView::from_stored(s, None, 1),
                    spans: spans.iter().map(|sp| SpanView { field: sp.field, start: sp.start, end: sp.end }).collect(),
                })
                .collect(),
            warnings: warnings.iter().map(Into::into).collect(),
        }))
    })
    .await
}
