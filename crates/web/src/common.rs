//! What the handler modules share: running blocking work, the read side, the item view, the
//! limits of lists and queries, and the parsing of common parameters.

use crate::error::ApiError;
use crate::AppState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tidewatch_store::StoredItem;

/// Longest accepted search query, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Largest page of results.
pub const MAX_LIMIT: usize = 200;

/// An item as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ItemView {
    /// Store id.
    pub item_id: i64,
    /// The id given by the source (`null` when none).
    pub id: Option<String>,
    /// Source name.
    pub source: String,
    /// URL as given.
    pub url: Option<String>,
    /// Title (plain text).
    pub title: String,
    /// Text (plain text), at most 2,000 characters in lists.
    pub text: String,
    /// Publication time.
    pub published_at: DateTime<Utc>,
    /// Author, for citation.
    pub author: Option<String>,
    /// Language.
    pub lang: String,
    /// Duplicate group.
    pub group_id: i64,
    /// Copies of this item's group besides the original.
    pub repost_count: u64,
    /// Highlighted snippet (HTML: escaped text with `<b>` around matches), in search results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    /// Highlighted title, in search results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_highlighted: Option<String>,
    /// Ids of the topics the item matched when it was stored.
    pub topics: Vec<String>,
}

impl ItemView {
    /// The view of a stored item.
    pub fn from_stored(s: &StoredItem, snippet: Option<String>, group_size: u64) -> ItemView {
        let text: String = s.item.text.chars().take(2000).collect();
        ItemView {
            item_id: s.id.0,
            id: s.item.ext_id.clone(),
            source: s.item.source.clone(),
            url: s.item.url.clone(),
            title: s.item.title.clone(),
            text,
            published_at: s.item.published_at,
            author: s.item.author.clone(),
            lang: s.item.lang.as_str().to_string(),
            group_id: s.group.0,
            repost_count: group_size.saturating_sub(1),
            snippet,
            title_highlighted: None,
            topics: Vec::new(),
        }
    }
}

/// The read side (second connection and index reader).
pub(crate) fn read_side(
    state: &AppState,
) -> Result<std::sync::MutexGuard<'_, (tidewatch_store::Db, tidewatch_store::SearchIndex)>, ApiError> {
    state.reader.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::new("internal", e.to_string()))?
}

/// The values of a comma-separated parameter, trimmed, empty ones dropped.
pub(crate) fn comma_list(v: &Option<String>) -> Vec<String> {
    v.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

pub(crate) fn parse_time(name: &str, v: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => tidewatch_ingest::dates::parse_datetime(s).map(Some).map_err(|e| ApiError::bad_parameter(name, e)),
    }
}

/// Query parameters of list endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub(crate) limit: Option<usize>,
    pub(crate) min_size: Option<u64>,
}

pub(crate) fn list_limit(p: &ListParams) -> Result<usize, ApiError> {
    let limit = p.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_parameter("limit", format!("must be 1..={MAX_LIMIT}")));
    }
    Ok(limit)
}

/// A JSON body, or a `bad_body` error saying what is wrong with it.
pub(crate) fn json_body<T>(b: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, ApiError> {
    b.map(|axum::Json(v)| v).map_err(|e| ApiError::new("bad_body", e.body_text()))
}

/// A path id that must be a positive whole number (`name` says which, in the error).
pub(crate) fn positive_id(name: &str, id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_parameter(name, "must be a positive whole number"))
}

/// Runs `f` on the cases side (cases, responses, claims), recovering from a poisoned lock (what is
/// decided is in the store).
pub(crate) fn with_cases_side<T>(
    state: &AppState,
    f: impl FnOnce(&mut crate::CasesSide) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut guard = state.cases.lock().unwrap_or_else(|poisoned| {
        tracing::error!("the cases lock was poisoned by a panic; recovering");
        state.cases.clear_poison();
        poisoned.into_inner()
    });
    f(&mut guard)
}
