//! Items over the API: status, search, newest items, duplicate groups, the live stream, sources
//! and signals. The API is documented in `docs/api.md`.

use crate::auth::Caller;
use crate::common::{
    blocking, comma_list, list_limit, parse_time, read_side, ItemView, ListParams, MAX_LIMIT, MAX_QUERY_CHARS,
};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use chrono::Utc;
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::sync::Arc;
use tidewatch_model::GroupId;
use tidewatch_store::{NewAudit, SearchRequest, SortOrder};
use tidewatch_text::snippet::highlight;
use tidewatch_workflow::access::Action;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

/// Most live-stream clients at once.
pub const MAX_STREAM_CLIENTS: usize = 256;

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct StatusView {
    items: u64,
    indexed: u64,
    schema_version: i64,
}

pub(crate) async fn status(State(state): State<Arc<AppState>>) -> Result<Json<StatusView>, ApiError> {
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

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct SearchView {
    pub(crate) total: usize,
    pub(crate) hits: Vec<ItemView>,
}

pub(crate) async fn search(
    State(state): State<Arc<AppState>>,
    caller: Caller,
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
        state.audit(NewAudit::new(&caller.actor.username, caller.addr(), "search", "items").with(
            serde_json::json!({
                "q": req.query, "since": req.since, "until": req.until, "sources": req.sources,
                "lang": req.lang, "topics": req.topics, "offset": req.offset,
            }),
        ))?;
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

pub(crate) async fn newest(
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

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct GroupSummary {
    group_id: i64,
    size: u64,
    repost_count: u64,
    original: ItemView,
}

pub(crate) async fn groups(
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

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct GroupDetail {
    group_id: i64,
    size: u64,
    repost_count: u64,
    members: Vec<ItemView>,
}

pub(crate) async fn group(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<GroupDetail>, ApiError> {
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

pub(crate) async fn stream(
    State(state): State<Arc<AppState>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    if state.live.receiver_count() >= MAX_STREAM_CLIENTS {
        return Err(ApiError::new("too_many_requests", format!("at most {MAX_STREAM_CLIENTS} live-stream clients")));
    }
    let rx = state.live.subscribe();
    let events = BroadcastStream::new(rx).filter_map(|msg| match msg {
        Ok(item) => Some(Ok(Event::default().event("item").json_data(&*item).unwrap_or_default())),
        // A slow client missed items: tell it, so that it can reload the list.
        Err(_) => Some(Ok(Event::default().event("lagged").data("{}"))),
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

pub(crate) async fn sources(
    State(state): State<Arc<AppState>>,
) -> Result<Json<Vec<tidewatch_engine::sources::Health>>, ApiError> {
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

pub(crate) async fn signals(
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
pub(crate) async fn put_source(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::views::SourceDone>, ApiError> {
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
    if !config.allow_addresses.is_empty() {
        // Opening the SSRF guard lets the server fetch internal hosts: admin only.
        caller.require(&state, Action::OpenFetchGuard, None)?;
    }
    caller.require(&state, Action::EditSources, config.unit.as_deref())?;
    let source = tidewatch_engine::sources::check_source(config).map_err(|e| ApiError::new("bad_body", e))?;
    let text = body.to_string();
    blocking(move || {
        let mut p = state.pipeline.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
        let before = p.db().api_sources()?.into_iter().find(|(i, _)| *i == id).map(|(_, t)| t);
        p.db_mut().save_api_source(&id, &text, &caller.actor.username, Utc::now())?;
        drop(p);
        let redact = |t: &str| tidewatch_engine::sources::redacted_config(t);
        state.audit(
            NewAudit::new(&caller.actor.username, caller.addr(), "source.save", &format!("source:{id}"))
                .with(serde_json::json!({"before": before.as_deref().map(redact), "after": redact(&text)})),
        )?;
        state.install_source(source);
        Ok(Json(crate::views::SourceDone { id, saved: Some(true), deleted: None }))
    })
    .await
}

/// `POST /api/v1/sources/test`: fetches a source's configuration once through the guard and
/// reads its entries, storing nothing (what an editor checks before saving).
pub(crate) async fn test_source(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<tidewatch_engine::sources::TestFetch>, ApiError> {
    let Json(mut body) = body.map_err(|e| ApiError::new("bad_body", e.body_text()))?;
    let Some(obj) = body.as_object_mut() else { return Err(ApiError::new("bad_body", "expected a JSON object")) };
    obj.entry("id").or_insert_with(|| serde_json::Value::String("test".into()));
    let config: tidewatch_engine::sources::SourceConfig =
        serde_json::from_value(body).map_err(|e| ApiError::new("bad_body", e.to_string()))?;
    if !config.allow_addresses.is_empty() {
        caller.require(&state, Action::OpenFetchGuard, None)?;
    }
    caller.require(&state, Action::EditSources, config.unit.as_deref())?;
    let source = tidewatch_engine::sources::check_source(config).map_err(|e| ApiError::new("bad_body", e))?;
    if !source.is_polled() {
        return Err(ApiError::new("bad_body", "only polled sources (feed, json, page, watch) can be test-fetched"));
    }
    let settings = tidewatch_engine::sources::FetchSettings::default();
    let r = tidewatch_engine::sources::test_fetch(&source, &settings)
        .await
        .map_err(|e| ApiError::new("bad_body", e.to_string()))?;
    Ok(Json(r))
}

/// `DELETE /api/v1/sources/{id}`: removes a source added through the API.
pub(crate) async fn delete_source(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<crate::views::SourceDone>, ApiError> {
    if state.file_sources.read().map_err(|_| ApiError::new("internal", "lock poisoned"))?.contains(&id) {
        return Err(ApiError::new("conflict", format!("source {id} is defined in the configuration file")));
    }
    blocking(move || {
        let mut p = state.pipeline.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
        if !p.db_mut().delete_api_source(&id)? {
            return Err(ApiError::new("not_found", format!("source {id}")));
        }
        drop(p);
        state.audit(NewAudit::new(&caller.actor.username, caller.addr(), "source.delete", &format!("source:{id}")))?;
        state.remove_source(&id);
        Ok(Json(crate::views::SourceDone { id, saved: None, deleted: Some(true) }))
    })
    .await
}
