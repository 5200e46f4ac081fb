//! Stories and bursts: `GET /api/v1/stories`, `GET /api/v1/stories/{id}`, `GET /api/v1/bursts`.

use crate::common::{blocking, read_side, ItemView, MAX_LIMIT};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tidewatch_detect::stories::Story;
use tidewatch_store::{Db, Lineage, StoryRow};

/// A story as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StoryView {
    /// Its id (for life; merged ids redirect to it).
    pub id: i64,
    /// Its most representative item.
    pub title: String,
    /// Heaviest terms.
    pub keywords: Vec<String>,
    /// First item's publication time and source.
    pub first_seen: DateTime<Utc>,
    /// The source of the first item.
    pub first_source: String,
    /// Last item's publication time.
    pub last_seen: DateTime<Utc>,
    /// Items, of which copies (reposts).
    pub items: u64,
    /// Copies among the items.
    pub reposts: u64,
    /// Number of distinct sources.
    pub source_count: usize,
    /// The sources (first ones).
    pub sources: Vec<String>,
    /// Items per polarity.
    pub sentiment: SentimentMix,
    /// Items per hour over the story's life (at most its last 7 days): `[hour start, items]`.
    pub volume: Vec<(DateTime<Utc>, i64)>,
}

/// Items per polarity.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SentimentMix {
    /// Negative items.
    pub negative: u64,
    /// Neutral items.
    pub neutral: u64,
    /// Positive items.
    pub positive: u64,
}

fn view(db: &Db, row: &StoryRow) -> Result<StoryView, ApiError> {
    let s: Story = serde_json::from_str(&row.state)
        .map_err(|e| ApiError::new("internal", format!("story {}: unreadable state: {e}", row.id)))?;
    let since = (row.last_seen - Duration::days(7)).max(row.first_seen);
    let volume = db.story_volume(row.id, since - Duration::hours(1), row.last_seen + Duration::hours(1))?;
    Ok(StoryView {
        id: row.id,
        title: s.title.clone(),
        keywords: s.keywords(8).into_iter().map(str::to_string).collect(),
        first_seen: s.first_seen,
        first_source: s.first_source.clone(),
        last_seen: s.last_seen,
        items: s.items,
        reposts: s.reposts,
        source_count: s.sources.len(),
        sources: s.sources.iter().take(10).cloned().collect(),
        sentiment: SentimentMix { negative: s.sentiment[0], neutral: s.sentiment[1], positive: s.sentiment[2] },
        volume,
    })
}

/// Query of `GET /api/v1/stories`.
#[derive(Debug, Deserialize)]
pub struct StoriesParams {
    limit: Option<usize>,
    /// `recent` (last active first, the default) or `size` (most items first).
    order: Option<String>,
}

/// `GET /api/v1/stories`: stories (not merged away), last active first or biggest first.
pub async fn list(
    State(state): State<Arc<AppState>>,
    params: Result<Query<StoriesParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<StoryView>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    let limit = p.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_parameter("limit", format!("must be 1..={MAX_LIMIT}")));
    }
    let by_size = match p.order.as_deref() {
        None | Some("recent") => false,
        Some("size") => true,
        Some(_) => return Err(ApiError::bad_parameter("order", "must be recent or size")),
    };
    blocking(move || {
        let r = read_side(&state)?;
        let rows = if by_size {
            r.0.top_stories(DateTime::<Utc>::MIN_UTC, limit)?
        } else {
            r.0.stories_since(DateTime::<Utc>::MIN_UTC, limit)?
        };
        Ok(Json(rows.iter().map(|row| view(&r.0, row)).collect::<Result<_, _>>()?))
    })
    .await
}

/// `GET /api/v1/stories/{id}`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StoryDetail {
    /// The story (the survivor when the id asked for was merged).
    pub story: StoryView,
    /// The id asked for, when it was merged into `story`.
    pub redirected_from: Option<i64>,
    /// Merges into this story.
    pub lineage: Vec<Lineage>,
    /// Its newest items (up to 50).
    pub items: Vec<ItemView>,
}

/// `GET /api/v1/stories/{id}`: a story, its lineage and newest items; a merged id answers with
/// the story it was merged into.
pub async fn get(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<StoryDetail>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_parameter("id", "must be a whole number"))?;
    blocking(move || {
        let r = read_side(&state)?;
        let row = r.0.story(id)?.ok_or_else(|| ApiError::new("not_found", format!("story {id}")))?;
        let ids = r.0.story_items(row.id, 50)?;
        let items = r.0.items_by_ids(&ids)?;
        let sizes = r.0.group_sizes(&items.iter().map(|i| i.group).collect::<Vec<_>>())?;
        Ok(Json(StoryDetail {
            story: view(&r.0, &row)?,
            redirected_from: (row.id != id).then_some(id),
            lineage: r.0.merged_into(row.id)?,
            items: items.iter().zip(sizes).map(|(s, n)| ItemView::from_stored(s, None, n)).collect(),
        }))
    })
    .await
}

/// A burst signal with its explanation as JSON.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BurstView {
    /// Signal id.
    pub id: i64,
    /// `low` … `critical`.
    pub severity: String,
    /// When it was raised (publication time of the item that made it fire).
    pub created_at: DateTime<Utc>,
    /// The topic, for a topic's burst.
    pub topic: Option<String>,
    /// The story (for a topic's burst: of the item that made it fire).
    pub story: Option<String>,
    /// One line.
    pub title: String,
    /// Observed and expected counts, score, window, sensitivity, top sources and terms, samples.
    pub explanation: serde_json::Value,
}

/// Query of `GET /api/v1/bursts`.
#[derive(Debug, Deserialize)]
pub struct BurstParams {
    limit: Option<usize>,
}

/// `GET /api/v1/bursts`: the newest bursts, each with its explanation.
pub async fn bursts(
    State(state): State<Arc<AppState>>,
    params: Result<Query<BurstParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<BurstView>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    let limit = p.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_parameter("limit", format!("must be 1..={MAX_LIMIT}")));
    }
    blocking(move || {
        let r = read_side(&state)?;
        let signals = r.0.signals_of_kind("burst", limit)?;
        Ok(Json(
            signals
                .into_iter()
                .map(|s| BurstView {
                    id: s.id,
                    severity: s.severity,
                    created_at: s.created_at,
                    topic: s.topic,
                    story: s.story,
                    title: s.title,
                    explanation: serde_json::from_str(&s.explanation)
                        .unwrap_or(serde_json::Value::String(s.explanation)),
                })
                .collect(),
        ))
    })
    .await
}
