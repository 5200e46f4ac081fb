//! Search with filters (duplicate groups collapsed to their best hit, with the repost count, and
//! "add to case"), and the story page.

use super::{failed, internal, layout, page_of, query, when, Page};
use crate::auth::Caller;
use crate::i18n::{self, t, tf, Lang};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use std::sync::Arc;
use tidewatch_workflow::access::Action;

/// Query of `GET /search`.
#[derive(Debug, Default, Deserialize)]
pub struct SearchPageParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    topic: String,
    /// A date (`2026-10-12`) or a time.
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    sort: String,
    /// `negative`, `neutral` or `positive`: among the first 200 hits.
    #[serde(default)]
    sentiment: String,
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Open cases the reader may add evidence to: `(id, title)`.
async fn cases_for_evidence(state: &Arc<AppState>, p: &Page) -> Vec<(i64, String)> {
    if !p.caller.actor.grants.allows_somewhere(Action::ReportCases) {
        return Vec::new();
    }
    match crate::cases::list(
        State(state.clone()),
        p.caller.clone(),
        query("state=new,assessing,handling,monitoring&limit=50"),
    )
    .await
    {
        Ok(Json(list)) => list.into_iter().map(|c| (c.id, c.title)).collect(),
        Err(_) => Vec::new(),
    }
}

/// A select of topics for filters.
async fn topic_options(state: &Arc<AppState>) -> Vec<(String, String)> {
    match crate::topics::list(State(state.clone())).await {
        Ok(Json(ts)) => ts.into_iter().map(|t| (t.def.id, t.def.name)).collect(),
        Err(_) => Vec::new(),
    }
}

/// `GET /search`: search with filters.
pub async fn search(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    params: Result<Query<SearchPageParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let q = params.map(|Query(q)| q).unwrap_or_default();
    let topics = topic_options(&state).await;
    let asked = !(q.q.trim().is_empty() && q.topic.is_empty() && q.source.is_empty());
    let results = if asked {
        let mut qs = format!("limit={}&q={}", if q.sentiment.is_empty() { 100 } else { 200 }, enc(&q.q));
        for (k, v) in [
            ("lang", &q.lang),
            ("source", &q.source),
            ("topic", &q.topic),
            ("since", &q.since),
            ("until", &q.until),
            ("sort", &q.sort),
        ] {
            if !v.is_empty() {
                qs.push_str(&format!("&{k}={}", enc(v)));
            }
        }
        Some(crate::items::search(State(state.clone()), p.caller.clone(), query(&qs)).await)
    } else {
        None
    };
    // Each hit's sentiment and story (and the sentiment filter, applied to the first 200 hits).
    let ids: Vec<i64> = match &results {
        Some(Ok(Json(r))) => r.hits.iter().map(|h| h.item_id).collect(),
        _ => Vec::new(),
    };
    let st = state.clone();
    let analysis = tokio::task::spawn_blocking(move || {
        st.reader.lock().ok().and_then(|r| r.0.analysis_of(&ids).ok()).unwrap_or_default()
    })
    .await
    .unwrap_or_default();
    let sentiment = ["negative", "neutral", "positive"].contains(&q.sentiment.as_str()).then_some(q.sentiment.as_str());
    let cases = cases_for_evidence(&state, &p).await;
    let body = html! {
        form class="card filters" method="get" action="/search" role="search" {
            label class="wide" { (t(lang, "search.query")) input name="q" value=(q.q) placeholder=(t(lang, "search.placeholder")); }
            label { (t(lang, "search.lang"))
                select name="lang" {
                    option value="" { (t(lang, "search.any")) }
                    @for (v, k) in [("zh", "search.lang_zh"), ("en", "search.lang_en"), ("other", "search.lang_other")] {
                        option value=(v) selected[q.lang == v] { (t(lang, k)) }
                    }
                }
            }
            label { (t(lang, "search.topic"))
                select name="topic" {
                    option value="" { (t(lang, "search.any")) }
                    @for (id, name) in &topics { option value=(id) selected[&q.topic == id] { (name) } }
                }
            }
            label { (t(lang, "search.source")) input name="source" value=(q.source) class="mid"; }
            label { (t(lang, "search.since")) input name="since" type="date" value=(q.since); }
            label { (t(lang, "search.until")) input name="until" type="date" value=(q.until); }
            label { (t(lang, "search.sentiment"))
                select name="sentiment" {
                    option value="" { (t(lang, "search.any")) }
                    @for (v, k) in [("negative", "search.negative"), ("neutral", "search.neutral"), ("positive", "search.positive")] {
                        option value=(v) selected[q.sentiment == v] { (t(lang, k)) }
                    }
                }
            }
            label { (t(lang, "search.sort"))
                select name="sort" {
                    option value="relevance" selected[q.sort != "newest"] { (t(lang, "search.relevance")) }
                    option value="newest" selected[q.sort == "newest"] { (t(lang, "search.newest")) }
                }
            }
            button type="submit" class="primary" { (t(lang, "search.submit")) }
        }
        @match &results {
            None => { p class="empty" { (t(lang, "search.hint")) } },
            Some(Err(e)) => { p class="empty" role="alert" { (super::err_text(lang, e)) } },
            Some(Ok(Json(r))) => {
                @let mut seen = std::collections::HashSet::new();
                @let hits: Vec<_> = r.hits.iter()
                    .filter(|h| sentiment.is_none_or(|want| analysis.get(&h.item_id).is_some_and(|a| a.0 == want)))
                    .filter(|h| seen.insert(h.group_id)).collect();
                p class="meta" { (tf(lang, "search.total", &[("n", &r.total.to_string()), ("groups", &hits.len().to_string())]))
                    @if sentiment.is_some() { " · " (tf(lang, "search.sentiment_note", &[("n", &r.hits.len().to_string())])) } }
                ul class="hits" {
                    @for h in hits {
                        li class="card hit" id={ "item-" (h.item_id) } {
                            @if let Some(tt) = &h.title_highlighted { @if !h.title.is_empty() { h2 { (PreEscaped(tt)) } } }
                            // The snippet is escaped by the server, with <b> around matches only.
                            p class="snippet" { (PreEscaped(h.snippet.clone().unwrap_or_default())) }
                            p class="meta" {
                                (h.source) " · " (when(h.published_at)) " · " (h.lang) " · #" (h.item_id)
                                @if let Some((label, story)) = analysis.get(&h.item_id) {
                                    " · " span class={ "senti " (label) } { (i18n::lookup(lang, &format!("search.{label}")).unwrap_or(label)) }
                                    " · " a href={ "/stories/" (story) } { (tf(lang, "search.story", &[("id", &story.to_string())])) }
                                }
                                @if h.repost_count > 0 { " · " span class="badge" { (tf(lang, "search.reposts", &[("n", &h.repost_count.to_string())])) } }
                                @for tp in &h.topics { " " span class="badge" { (tp) } }
                                @if let Some(u) = &h.url { @if u.starts_with("https://") || u.starts_with("http://") { " · " a href=(u) rel="noopener noreferrer" target="_blank" { (t(lang, "search.original")) } } }
                            }
                            @if !cases.is_empty() {
                                form class="act inline" data-api-template="/api/v1/cases/{case}/evidence" data-fixed=(serde_json::json!({"kind": "item", "id": h.item_id}).to_string()) {
                                    label { (t(lang, "search.add_to_case")) " "
                                        select name="case" data-in-url="1" {
                                            @for (id, title) in &cases { option value=(id) { "#" (id) " " (title.chars().take(24).collect::<String>()) } }
                                        }
                                    }
                                    button type="submit" { (t(lang, "search.add")) }
                                    span class="msg" role="alert" {}
                                }
                            }
                        }
                    }
                }
            },
        }
    };
    layout(&p, "/search", t(lang, "search.title"), body).into_response()
}

/// Bars over time (`points` in buckets of `bucket`), as SVG.
pub(super) fn bars(lang: Lang, label: &str, points: &[(DateTime<Utc>, i64)], bucket: Duration) -> Markup {
    let (w, h) = (700.0_f64, 120.0_f64);
    let (Some(first), Some(last)) = (points.iter().map(|p| p.0).min(), points.iter().map(|p| p.0).max()) else {
        return html! { p class="empty" { (t(lang, "app.none")) } };
    };
    let n = ((last - first).num_seconds() / bucket.num_seconds().max(1) + 1).max(1) as f64;
    let max = points.iter().map(|p| p.1).max().unwrap_or(1).max(1) as f64;
    let bw = w / n;
    html! {
        svg viewBox={ "0 0 " (w) " " (h + 18.0) } role="img" aria-label=(label) class="chart" {
            @for (at, c) in points {
                @let i = (*at - first).num_seconds() as f64 / bucket.num_seconds().max(1) as f64;
                @let bh = *c as f64 / max * h;
                rect x=(format!("{:.1}", i * bw)) y=(format!("{:.1}", h - bh)) width=(format!("{:.1}", (bw - 1.0).max(1.0))) height=(format!("{:.1}", bh)) class="bar" {}
            }
            text x="0" y=(h + 14.0) class="axis" { (i18n::short_time(first)) }
            text x=(w - 70.0) y=(h + 14.0) class="axis" { (i18n::short_time(last)) }
        }
    }
}

/// The hourly mean sentiment score (−1 … +1) as bars above (positive) and below (negative) a
/// middle line, as SVG.
fn score_chart(lang: Lang, hourly: &[(DateTime<Utc>, i64, f64)]) -> Markup {
    let (w, h) = (700.0_f64, 120.0_f64);
    let (Some(first), Some(last)) = (hourly.first().map(|x| x.0), hourly.last().map(|x| x.0)) else {
        return html! { p class="empty" { (t(lang, "app.none")) } };
    };
    let n = ((last - first).num_hours() + 1).max(1) as f64;
    let bw = w / n;
    let mid = h / 2.0;
    html! {
        svg viewBox={ "0 0 " (w) " " (h + 18.0) } role="img" aria-label=(t(lang, "story.sentiment")) class="chart" {
            line x1="0" x2=(w) y1=(mid) y2=(mid) class="mid" {}
            @for (at, _, score) in hourly {
                @let i = (*at - first).num_hours() as f64;
                @let bh = score.abs().min(1.0) * mid;
                @let y = if *score >= 0.0 { mid - bh } else { mid };
                rect x=(format!("{:.1}", i * bw)) y=(format!("{y:.1}")) width=(format!("{:.1}", (bw - 1.0).max(1.0))) height=(format!("{bh:.1}"))
                    class=(if *score >= 0.0 { "bar-pos" } else { "bar-neg" }) {}
            }
            text x="0" y=(h + 14.0) class="axis" { (i18n::short_time(first)) }
            text x=(w - 70.0) y=(h + 14.0) class="axis" { (i18n::short_time(last)) }
        }
    }
}

/// `GET /stories/{id}`: a story's volume, sentiment over time, sources, first publisher and
/// copies, items, merges and its cases.
pub async fn story(State(state): State<Arc<AppState>>, caller: Caller, Path(id): Path<String>) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let d = match crate::stories::get(State(state.clone()), Path(id)).await {
        Ok(Json(d)) => d,
        Err(e) => return failed(lang, e),
    };
    let s = &d.story;
    let sid = s.id;
    let st = state.clone();
    let (first, last) = (s.first_seen, s.last_seen + Duration::hours(1));
    let extra = tokio::task::spawn_blocking(move || -> Result<_, crate::error::ApiError> {
        let side = st.cases.lock().map_err(|_| internal("lock poisoned"))?;
        let hourly = side.db.story_sentiment_hourly(sid, first, last)?;
        let mut cases = Vec::new();
        for row in side.db.open_cases()? {
            let c: tidewatch_workflow::cases::Case = serde_json::from_str(&row.data).map_err(internal)?;
            if c.evidence.iter().any(|e| e.kind == tidewatch_workflow::cases::EvidenceKind::Story && e.id == sid) {
                cases.push((c.id, c.title));
            }
        }
        Ok((hourly, cases))
    })
    .await
    .map_err(internal)
    .and_then(|r| r);
    let (hourly, cases) = match extra {
        Ok(x) => x,
        Err(e) => return failed(lang, e),
    };
    let may_open = p.caller.actor.grants.allows_somewhere(Action::OpenCases);
    let title = tf(lang, "story.heading", &[("id", &s.id.to_string()), ("title", &s.title)]);
    let body = html! {
        @if let Some(from) = d.redirected_from { p class="notice" { (tf(lang, "story.merged_from", &[("id", &from.to_string())])) } }
        section class="card" aria-labelledby="st-h" {
            h2 id="st-h" { (t(lang, "story.summary")) }
            p class="meta" {
                (tf(lang, "dash.items_in_story", &[("n", &s.items.to_string())])) " · "
                (tf(lang, "search.reposts", &[("n", &s.reposts.to_string())])) " · "
                (tf(lang, "story.sources", &[("n", &s.source_count.to_string())]))
            }
            p { strong { (t(lang, "story.first")) ": " } (s.first_source) " · " (when(s.first_seen)) }
            p { strong { (t(lang, "story.last")) ": " } (when(s.last_seen)) }
            p { strong { (t(lang, "story.keywords")) ": " } (s.keywords.join(" · ")) }
            p { strong { (t(lang, "story.sources_list")) ": " } (s.sources.join(" · ")) }
            (super::mix_bar(lang, s.sentiment.negative, s.sentiment.neutral, s.sentiment.positive))
            @if cases.is_empty() {
                @if may_open {
                    form class="act" data-api="/api/v1/cases" data-then="/cases/{id}" data-fixed=(serde_json::json!({"story": s.id}).to_string()) {
                        button type="submit" { (t(lang, "alerts.open_case")) }
                        span class="msg" role="alert" {}
                    }
                }
            } @else {
                p { @for (cid, ct) in &cases { a href={ "/cases/" (cid) } { (tf(lang, "alerts.case", &[("id", &cid.to_string())])) " " (ct) } " " } }
            }
        }
        section class="card" aria-labelledby="vol-h" {
            h2 id="vol-h" { (t(lang, "story.volume")) }
            (bars(lang, t(lang, "story.volume"), &s.volume, Duration::hours(1)))
        }
        section class="card" aria-labelledby="sent-h" {
            h2 id="sent-h" { (t(lang, "story.sentiment")) }
            (score_chart(lang, &hourly))
            details {
                summary { (t(lang, "story.per_hour")) }
                ol class="timeline" {
                    @for (at, n, score) in &hourly {
                        li { (i18n::short_time(*at)) " · " (tf(lang, "dash.items_in_story", &[("n", &n.to_string())])) " · "
                            span class=(if *score < -0.2 { "late" } else { "meta" }) { (format!("{score:+.2}")) } }
                    }
                }
            }
        }
        @if !d.lineage.is_empty() {
            section class="card" aria-labelledby="lin-h" {
                h2 id="lin-h" { (t(lang, "story.lineage")) }
                ul class="list" { @for l in &d.lineage { li { "#" (l.absorbed) " → #" (l.survivor) " · " (l.kind) " · " (when(l.at)) } } }
            }
        }
        section class="card" aria-labelledby="it-h" {
            h2 id="it-h" { (t(lang, "story.items")) }
            ul class="hits" {
                @for it in d.items.iter().take(20) {
                    li class="hit" {
                        p { (it.text.chars().take(200).collect::<String>()) }
                        p class="meta" { (it.source) " · " (when(it.published_at)) " · #" (it.item_id)
                            @if it.repost_count > 0 { " · " span class="badge" { (tf(lang, "search.reposts", &[("n", &it.repost_count.to_string())])) } } }
                    }
                }
            }
        }
    };
    layout(&p, "/search", &title, body).into_response()
}
