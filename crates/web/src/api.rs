//! Routes and handlers of `/api/v1` and the page. The API is documented in `docs/api.md`.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::sync::Arc;
use tidewatch_model::GroupId;
use tidewatch_store::{SearchRequest, SortOrder, StoredItem};
use tidewatch_text::snippet::highlight;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

/// Longest accepted search query, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Largest page of results.
pub const MAX_LIMIT: usize = 200;

static PAGE: &str = include_str!("../assets/index.html");

/// The router of the whole server.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/v1/status", get(status))
        .route("/api/v1/search", get(search))
        .route("/api/v1/items", get(newest))
        .route("/api/v1/groups", get(groups))
        .route("/api/v1/groups/{id}", get(group))
        .route("/api/v1/stream", get(stream))
        .route(
            "/api/v1/ingest",
            post(crate::ingest::ingest).layer(axum::extract::DefaultBodyLimit::max(crate::ingest::HARD_MAX_BYTES)),
        )
        .route("/api/v1/sources", get(sources))
        .route("/api/v1/sources/{id}", axum::routing::put(put_source).delete(delete_source))
        .route("/api/v1/signals", get(signals))
        .route("/api/v1/stories", get(crate::stories::list))
        .route("/api/v1/stories/{id}", get(crate::stories::get))
        .route("/api/v1/bursts", get(crate::stories::bursts))
        .route("/api/v1/alerts", get(crate::alerting::list))
        .route("/api/v1/alerts/{id}", get(crate::alerting::get))
        .route("/api/v1/alerts/{id}/{action}", post(crate::alerting::act))
        .route("/api/v1/silences", post(crate::alerting::silence))
        .route("/api/v1/oncall", get(crate::alerting::oncall))
        .route("/api/v1/oncall/overrides", post(crate::alerting::add_override))
        .route("/api/v1/oncall/swap", post(crate::alerting::swap))
        .route("/ack/{id}", get(crate::alerting::ack_link))
        .route("/api/v1/rules/check", post(crate::topics::check))
        .route("/api/v1/topics", get(crate::topics::list))
        .route("/api/v1/topics/backtest", post(crate::topics::backtest))
        .route("/api/v1/topics/{id}", get(crate::topics::get_topic).put(crate::topics::put_topic))
        .route("/api/v1/topics/{id}/counts", get(crate::topics::counts))
        .layer(axum::extract::DefaultBodyLimit::max(1 << 20))
        .with_state(state)
}

async fn page() -> impl IntoResponse {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'",
        )],
        Html(PAGE),
    )
}

/// An item as the API shows it.
#[derive(Debug, Clone, Serialize)]
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

#[derive(Serialize)]
struct StatusView {
    items: u64,
    indexed: u64,
    schema_version: i64,
}

async fn status(State(state): State<Arc<AppState>>) -> Result<Json<StatusView>, ApiError> {
    blocking(move || {
        let r = read_side(&state)?;
        r.1.reload()?;
        Ok(Json(StatusView {
            items: r.0.count_items()?,
            indexed: r.1.num_docs(),
            schema_version: r.0.schema_version()?,
        }))
    })
    .await
}

/// Query parameters of `/api/v1/search`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    q: Option<String>,
    since: Option<String>,
    until: Option<String>,
    source: Option<String>,
    lang: Option<String>,
    topic: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
    sort: Option<String>,
}

#[derive(Serialize)]
struct SearchView {
    total: usize,
    hits: Vec<ItemView>,
}

/// The values of a comma-separated parameter, trimmed, empty ones dropped.
fn comma_list(v: &Option<String>) -> Vec<String> {
    v.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

fn parse_time(name: &str, v: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => tidewatch_ingest::dates::parse_datetime(s).map(Some).map_err(|e| ApiError::bad_parameter(name, e)),
    }
}

async fn search(
    State(state): State<Arc<AppState>>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchView>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    let q = p.q.clone().unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::new("query_too_long", format!("at most {MAX_QUERY_CHARS} characters")));
    }
    let order = match p.sort.as_deref() {
        None | Some("relevance") => SortOrder::Relevance,
        Some("newest") => SortOrder::Newest,
        Some(other) => {
            return Err(ApiError::bad_parameter("sort", format!("{other:?} is not one of relevance, newest")))
        }
    };
    let limit = p.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_parameter("limit", format!("must be 1..={MAX_LIMIT}")));
    }
    let req = SearchRequest {
        query: q,
        since: parse_time("since", &p.since)?,
        until: parse_time("until", &p.until)?,
        sources: comma_list(&p.source),
        lang: p.lang.clone().filter(|s| !s.is_empty()),
        topics: comma_list(&p.topic),
        limit,
        offset: p.offset.unwrap_or(0).min(100_000),
        order,
    };
    blocking(move || {
        let r = read_side(&state)?;
        r.1.reload()?;
        let results = r.1.search(&req)?;
        let ids: Vec<_> = results.hits.iter().map(|h| h.item).collect();
        let items = r.0.items_by_ids(&ids)?;
        let sizes = r.0.group_sizes(&items.iter().map(|i| i.group).collect::<Vec<_>>())?;
        let topics = r.0.topics_of_items(&items.iter().map(|i| i.id).collect::<Vec<_>>())?;
        let hits = items
            .iter()
            .zip(sizes)
            .zip(topics)
            .map(|((s, size), topics)| {
                let body = if s.item.text.is_empty() { &s.item.title } else { &s.item.text };
                let mut v = ItemView::from_stored(s, Some(highlight(body, &results.terms, 160)), size);
                v.title_highlighted = Some(highlight(&s.item.title, &results.terms, 200));
                v.topics = topics;
                v
            })
            .collect();
        Ok(Json(SearchView { total: results.total, hits }))
    })
    .await
}

/// Query parameters of list endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    limit: Option<usize>,
    min_size: Option<u64>,
}

fn list_limit(p: &ListParams) -> Result<usize, ApiError> {
    let limit = p.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_parameter("limit", format!("must be 1..={MAX_LIMIT}")));
    }
    Ok(limit)
}

async fn newest(
    State(state): State<Arc<AppState>>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<ItemView>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    let limit = list_limit(&p)?;
    blocking(move || {
        let r = read_side(&state)?;
        let items = r.0.newest_items(limit)?;
        let sizes = r.0.group_sizes(&items.iter().map(|i| i.group).collect::<Vec<_>>())?;
        let topics = r.0.topics_of_items(&items.iter().map(|i| i.id).collect::<Vec<_>>())?;
        Ok(Json(
            items
                .iter()
                .zip(sizes)
                .zip(topics)
                .map(|((s, n), topics)| ItemView { topics, ..ItemView::from_stored(s, None, n) })
                .collect(),
        ))
    })
    .await
}

#[derive(Serialize)]
struct GroupSummary {
    group_id: i64,
    size: u64,
    repost_count: u64,
    original: ItemView,
}

async fn groups(
    State(state): State<Arc<AppState>>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<GroupSummary>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    let limit = list_limit(&p)?;
    let min_size = p.min_size.unwrap_or(2).max(1);
    blocking(move || {
        let r = read_side(&state)?;
        let groups = r.0.largest_groups(min_size, limit)?;
        Ok(Json(
            groups
                .into_iter()
                .map(|g| GroupSummary {
                    group_id: g.id.0,
                    size: g.size,
                    repost_count: g.size.saturating_sub(1),
                    original: ItemView::from_stored(&g.original, None, g.size),
                })
                .collect(),
        ))
    })
    .await
}

#[derive(Serialize)]
struct GroupDetail {
    group_id: i64,
    size: u64,
    repost_count: u64,
    members: Vec<ItemView>,
}

async fn group(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<GroupDetail>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_parameter("id", "must be a whole number"))?;
    blocking(move || {
        let r = read_side(&state)?;
        let members = r.0.group_members(GroupId(id), MAX_LIMIT)?;
        if members.is_empty() {
            return Err(ApiError::new("not_found", format!("group {id}")));
        }
        let size = r.0.group_sizes(&[GroupId(id)])?[0];
        Ok(Json(GroupDetail {
            group_id: id,
            size,
            repost_count: size.saturating_sub(1),
            members: members.iter().map(|s| ItemView::from_stored(s, None, size)).collect(),
        }))
    })
    .await
}

async fn stream(State(state): State<Arc<AppState>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.live.subscribe();
    let events = BroadcastStream::new(rx).filter_map(|msg| match msg {
        Ok(item) => Some(Ok(Event::default().event("item").json_data(&*item).unwrap_or_default())),
        // A slow client missed items: tell it, so that it can reload the list.
        Err(_) => Some(Ok(Event::default().event("lagged").data("{}"))),
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

async fn sources(State(state): State<Arc<AppState>>) -> Result<Json<Vec<tidewatch_engine::sources::Health>>, ApiError> {
    blocking(move || {
        let mut all = state.polled.read().map_err(|_| ApiError::new("internal", "lock poisoned"))?.clone();
        all.extend(state.webhooks.read().map_err(|_| ApiError::new("internal", "lock poisoned"))?.iter().cloned());
        let r = read_side(&state)?;
        let now = Utc::now();
        let health = all
            .iter()
            .map(|s| tidewatch_engine::sources::health(&r.0, s, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::new("internal", e.to_string()))?;
        Ok(Json(health))
    })
    .await
}

async fn signals(
    State(state): State<Arc<AppState>>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<tidewatch_store::Signal>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_parameter("query string", e.body_text()))?;
    let limit = list_limit(&p)?;
    blocking(move || Ok(Json(read_side(&state)?.0.signals(limit)?))).await
}

/// `PUT /api/v1/sources/{id}`: adds or replaces a source (the fields of a `[[source]]` table, as
/// JSON, without `id`). It is checked like one in the file, saved in the store, and takes effect
/// at once.
async fn put_source(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(mut body) = body.map_err(|e| ApiError::new("bad_body", e.body_text()))?;
    if id.is_empty() || id.len() > 100 || !id.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(ApiError::bad_parameter("id", "1–100 letters, digits, '-', '_' or '.'"));
    }
    if state.file_sources.read().map_err(|_| ApiError::new("internal", "lock poisoned"))?.contains(&id) {
        return Err(ApiError::new("conflict", format!("source {id} is defined in the configuration file")));
    }
    let Some(obj) = body.as_object_mut() else { return Err(ApiError::new("bad_body", "expected a JSON object")) };
    obj.insert("id".into(), serde_json::Value::String(id.clone()));
    let config: tidewatch_engine::sources::SourceConfig =
        serde_json::from_value(body.clone()).map_err(|e| ApiError::new("bad_body", e.to_string()))?;
    let source = tidewatch_engine::sources::check_source(config).map_err(|e| ApiError::new("bad_body", e))?;
    let text = body.to_string();
    blocking(move || {
        let mut p = state.pipeline.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
        p.db_mut().save_api_source(&id, &text, "api", Utc::now())?;
        drop(p);
        state.install_source(source);
        Ok(Json(serde_json::json!({"id": id, "saved": true})))
    })
    .await
}

/// `DELETE /api/v1/sources/{id}`: removes a source added through the API.
async fn delete_source(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if state.file_sources.read().map_err(|_| ApiError::new("internal", "lock poisoned"))?.contains(&id) {
        return Err(ApiError::new("conflict", format!("source {id} is defined in the configuration file")));
    }
    blocking(move || {
        let mut p = state.pipeline.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
        if !p.db_mut().delete_api_source(&id)? {
            return Err(ApiError::new("not_found", format!("source {id}")));
        }
        drop(p);
        state.remove_source(&id);
        Ok(Json(serde_json::json!({"id": id, "deleted": true})))
    })
    .await
}
