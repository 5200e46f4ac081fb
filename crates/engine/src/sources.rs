//! Live sources: their configuration (TOML `[[source]]` tables), polling with conditional GET,
//! backoff after failures, and health.
//!
//! A poll fetches every due source concurrently (at most `per_host` requests at a time to one
//! host, see [`tidewatch_ingest::fetch`]), then stores what came back through the pipeline, one
//! source at a time. Each source's state (validators, failures, next due time, counts) is kept in
//! the store, so a restarted poller carries on where it left off.

use crate::pipeline::{Outcome, Pipeline};
use crate::EngineError;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use chrono_tz::Tz;
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tidewatch_ingest::feed::{parse_feed, FeedKind, FeedOptions};
use tidewatch_ingest::fetch::{AddrRange, AddressPolicy, FetchOutcome, FetchPolicy, Fetcher, Validators};
use tidewatch_store::{Db, SourceState};

/// A source as written in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Stable id (also the items' `source`).
    pub id: String,
    /// `feed` (RSS, Atom, JSON Feed, polled) or `webhook` (pushed to `POST /api/v1/ingest`).
    #[serde(default = "feed_kind")]
    pub kind: String,
    /// What to fetch (feeds).
    #[serde(default)]
    pub url: String,
    /// The bearer token a webhook's sender presents (webhooks; at least 16 characters).
    pub token: Option<String>,
    /// A shared secret: the sender signs each body with HMAC-SHA256 (webhooks; optional).
    pub hmac_secret: Option<String>,
    /// Largest webhook body accepted, in bytes (default 1 MiB).
    pub max_bytes: Option<usize>,
    /// Display name.
    pub name: Option<String>,
    /// Owning unit.
    pub unit: Option<String>,
    /// Time between polls: `30s`, `15m`, `2h` (default `15m`).
    pub interval: Option<String>,
    /// Address ranges this source may reach although they are private or loopback (set by an
    /// admin, e.g. `["10.20.0.0/16"]` for an intranet portal).
    #[serde(default)]
    pub allow_addresses: Vec<String>,
    /// Zone of dates written without one (default Asia/Shanghai).
    pub zone: Option<String>,
    /// Own-site watch: regular expressions for the parts of the page's text that change by
    /// themselves (counters, clocks) and are ignored.
    #[serde(default)]
    pub volatile: Vec<String>,
    /// Own-site watch: terms that must never appear on the page.
    #[serde(default)]
    pub forbidden: Vec<String>,
    /// Own-site watch: severity of the signal when the page changes (default `high`).
    pub change_severity: Option<String>,
    /// Own-site watch: severity of the signal when a forbidden term appears (default `critical`).
    pub forbidden_severity: Option<String>,
    /// Web page: CSS selector of the article links on the list page.
    pub links: Option<String>,
    /// Web page: CSS selector of an article's title (default: og:title, h1, title).
    pub title: Option<String>,
    /// Web page: CSS selector of an article's body (default: the element whose paragraphs hold
    /// the most text).
    pub content: Option<String>,
    /// Web page: CSS selector of an article's publication time.
    pub published: Option<String>,
    /// Web page: articles fetched per poll at most (default 20).
    pub max_articles: Option<usize>,
    /// JSON API: pointers to the items and their fields.
    pub map: Option<tidewatch_ingest::page::JsonMapping>,
}

fn feed_kind() -> String {
    "feed".into()
}

/// Settings for all sources (the `[fetch]` table).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FetchSettings {
    /// Requests at a time to one host (default 2).
    pub per_host: Option<usize>,
    /// Largest response, in bytes (default 10 MiB).
    pub max_bytes: Option<usize>,
    /// Time for a whole request: `30s` (default).
    pub timeout: Option<String>,
    /// Sources fetched at a time (default 32).
    pub concurrency: Option<usize>,
    /// An HTTP proxy for every fetch (`http://proxy.example:3128`). Proxy environment variables
    /// are never used. The address guard then sees only the proxy: it must refuse internal hosts.
    pub proxy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesFile {
    #[serde(default)]
    source: Vec<toml::Value>,
    #[serde(default)]
    fetch: Option<FetchSettings>,
}

/// A checked source.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its configuration.
    pub config: SourceConfig,
    /// Time between polls.
    pub interval: Duration,
    /// Addresses it may reach besides public ones.
    pub allow: Vec<AddrRange>,
    /// Zone of naive dates.
    pub zone: Tz,
    /// Compiled `volatile` patterns.
    pub volatile: Vec<regex::Regex>,
    /// Compiled `links` selector (web pages).
    pub links: Option<scraper::Selector>,
    /// Compiled article selectors (web pages).
    pub article: tidewatch_ingest::page::ArticleSelectors,
}

impl Source {
    /// Whether the source is polled (feeds) rather than pushed to us (webhooks).
    pub fn is_polled(&self) -> bool {
        matches!(self.config.kind.as_str(), "feed" | "watch" | "page" | "json")
    }
}

/// A problem in a sources file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDiagnostic {
    /// The source's id (or `#n`).
    pub source: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for SourceDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "source {}: {}", self.source, self.message)
    }
}

/// Reads `30s`, `15m`, `2h`, `1d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..split].parse().map_err(|_| format!("{s:?} is not a duration such as 30s, 15m or 2h"))?;
    let unit = match &s[split..] {
        "s" => 1,
        "m" | "" => 60,
        "h" => 3600,
        "d" => 86400,
        other => return Err(format!("{s:?}: unknown unit {other:?} (s, m, h, d)")),
    };
    Ok(Duration::from_secs(n * unit))
}

/// All the sources of a file, the fetch settings, and every problem; one bad source does not
/// stop the others.
pub fn load_sources(src: &str) -> (Vec<Source>, FetchSettings, Vec<SourceDiagnostic>) {
    let mut diags = Vec::new();
    let file: SourcesFile = match toml::from_str(src) {
        Ok(f) => f,
        Err(e) => {
            diags.push(SourceDiagnostic { source: "(file)".into(), message: e.message().to_string() });
            return (Vec::new(), FetchSettings::default(), diags);
        }
    };
    let mut out = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (n, v) in file.source.into_iter().enumerate() {
        let name = v.get("id").and_then(|x| x.as_str()).map(String::from).unwrap_or_else(|| format!("#{}", n + 1));
        let mut fail = |m: String| diags.push(SourceDiagnostic { source: name.clone(), message: m });
        let config: SourceConfig = match v.try_into() {
            Ok(c) => c,
            Err(e) => {
                fail(e.to_string().trim().to_string());
                continue;
            }
        };
        if !ids.insert(config.id.clone()) {
            fail("duplicate source id".into());
            continue;
        }
        match check_source(config) {
            Ok(source) => out.push(source),
            Err(e) => fail(e),
        }
    }
    (out, file.fetch.unwrap_or_default(), diags)
}

/// Checks one source's configuration (the same checks for a file and for the API).
pub fn check_source(config: SourceConfig) -> Result<Source, String> {
    match config.kind.as_str() {
        "feed" | "watch" | "page" | "json" => {
            if !url::Url::parse(&config.url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                return Err(format!("url {:?} is not an http(s) URL", config.url));
            }
        }
        "webhook" => {
            if config.token.as_deref().is_none_or(|t| t.chars().count() < 16) {
                return Err("a webhook needs a token of at least 16 characters".into());
            }
        }
        other => return Err(format!("kind {other:?} is not one of feed, page, json, watch, webhook")),
    }
    let interval = config
        .interval
        .as_deref()
        .map(parse_duration)
        .unwrap_or(Ok(Duration::from_secs(900)))
        .map_err(|e| format!("interval: {e}"))?;
    if interval < Duration::from_secs(1) {
        return Err("interval must be at least 1s".into());
    }
    let allow = config
        .allow_addresses
        .iter()
        .map(|a| a.parse())
        .collect::<Result<Vec<AddrRange>, String>>()
        .map_err(|e| format!("allow_addresses: {e}"))?;
    for (field, v) in [("change_severity", &config.change_severity), ("forbidden_severity", &config.forbidden_severity)]
    {
        if let Some(v) = v {
            if !crate::topics::SEVERITIES.contains(&v.as_str()) {
                return Err(format!("{field}: {v:?} is not one of {}", crate::topics::SEVERITIES.join(", ")));
            }
        }
    }
    let zone_name = config.zone.as_deref().unwrap_or("Asia/Shanghai");
    let zone: Tz = zone_name.parse().map_err(|_| format!("zone {zone_name:?} is not a known time zone"))?;
    let volatile = config
        .volatile
        .iter()
        .map(|v| regex::Regex::new(v).map_err(|e| format!("volatile {v:?}: {e}")))
        .collect::<Result<Vec<_>, String>>()?;
    let compile = |s: &Option<String>| s.as_deref().map(tidewatch_ingest::page::selector).transpose();
    let links = compile(&config.links)?;
    if config.kind == "page" && links.is_none() {
        return Err("a page source needs `links`, the CSS selector of its article links".into());
    }
    if config.kind == "json" && config.map.is_none() {
        return Err("a json source needs a [source.map] table (items, title, text, …)".into());
    }
    let article = tidewatch_ingest::page::ArticleSelectors {
        title: compile(&config.title)?,
        content: compile(&config.content)?,
        published: compile(&config.published)?,
    };
    Ok(Source { config, interval, allow, zone, volatile, links, article })
}

/// What one source's poll gave.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PollResult {
    /// Source id.
    pub source: String,
    /// `fetched`, `not_modified` or `failed`.
    pub status: &'static str,
    /// Entries in the response.
    pub entries: usize,
    /// Entries stored as new items.
    pub new: u64,
    /// Entries already stored.
    pub already_stored: u64,
    /// Entries refused (with why, in `problems`).
    pub rejected: u64,
    /// The error, when it failed.
    pub error: Option<String>,
    /// Problems in the feed (it was still read).
    pub problems: Vec<String>,
    /// Seconds the fetch took.
    pub seconds: f64,
}

/// Words of pages that stand between a robot and the content.
const BLOCK_PAGE_WORDS: &[&str] =
    &["captcha", "验证码", "are you a robot", "verify you are human", "访问验证", "安全验证", "access denied"];

/// Builds one fetcher per distinct address policy (sources with the same allowances share one,
/// and so its per-host limits).
fn fetchers(sources: &[&Source], settings: &FetchSettings) -> Result<HashMap<Vec<String>, Arc<Fetcher>>, EngineError> {
    let mut out = HashMap::new();
    for s in sources {
        let key = s.config.allow_addresses.clone();
        if out.contains_key(&key) {
            continue;
        }
        let mut policy = FetchPolicy { addresses: AddressPolicy { allow: s.allow.clone() }, ..Default::default() };
        if let Some(n) = settings.per_host {
            policy.per_host = n.max(1);
        }
        if let Some(n) = settings.max_bytes {
            policy.max_bytes = n;
        }
        if let Some(t) = &settings.timeout {
            policy.timeout = parse_duration(t).map_err(EngineError::Config)?;
        }
        policy.proxy = settings.proxy.clone();
        out.insert(key, Arc::new(Fetcher::new(policy).map_err(|e| EngineError::Config(e.to_string()))?));
    }
    Ok(out)
}

/// Polls `sources` once (all of them, due or not) and stores what they bring.
pub async fn poll_once(
    pipeline: &std::sync::Mutex<Pipeline>,
    sources: &[Source],
    settings: &FetchSettings,
    now: DateTime<Utc>,
) -> Result<Vec<PollResult>, EngineError> {
    let all: Vec<&Source> = sources.iter().filter(|s| s.is_polled()).collect();
    poll(pipeline, &all, settings, now, &|_| {}).await
}

/// The sources due at `now`.
pub fn due<'a>(db: &Db, sources: &'a [Source], now: DateTime<Utc>) -> Result<Vec<&'a Source>, EngineError> {
    let mut out = Vec::new();
    for s in sources.iter().filter(|s| s.is_polled()) {
        let st = db.source_state(&s.config.id)?;
        if st.next_due.is_none_or(|d| d <= now) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Polls `sources` and stores what they bring.
pub async fn poll(
    pipeline: &std::sync::Mutex<Pipeline>,
    sources: &[&Source],
    settings: &FetchSettings,
    now: DateTime<Utc>,
    on_batch: &(dyn Fn(&crate::pipeline::BatchResult) + Sync),
) -> Result<Vec<PollResult>, EngineError> {
    let fetchers = fetchers(sources, settings)?;
    let states: Vec<SourceState> = {
        let p = pipeline.lock().map_err(|_| EngineError::Io("pipeline lock poisoned".into()))?;
        sources.iter().map(|s| p.db().source_state(&s.config.id)).collect::<Result<_, _>>()?
    };
    // Each job owns what it needs (an index, the URL, the fetcher), so the future is 'static.
    let jobs: Vec<_> = sources
        .iter()
        .zip(states)
        .enumerate()
        .map(|(i, (s, st))| {
            let fetcher = fetchers[&s.config.allow_addresses].clone();
            let url = s.config.url.clone();
            let links = s.links.clone();
            let max_articles = s.config.max_articles.unwrap_or(20);
            async move {
                let started = Instant::now();
                let validators = Validators { etag: st.etag.clone(), last_modified: st.last_modified.clone() };
                let r = fetcher.get(&url, &validators).await;
                // A list page: fetch its articles too.
                let mut articles = Vec::new();
                if let (Some(links), Ok(FetchOutcome::Fetched(f))) = (&links, &r) {
                    let html = tidewatch_ingest::feed::encoding::decode(&f.body, f.content_type.as_deref()).text;
                    for link in
                        tidewatch_ingest::page::article_links(&html, &f.url, links).into_iter().take(max_articles)
                    {
                        let got = fetcher.get(&link, &Validators::default()).await;
                        articles.push((link, got));
                    }
                }
                (i, st, r, articles, started.elapsed())
            }
        })
        .collect();
    let fetched: Vec<_> =
        stream::iter(jobs).buffer_unordered(settings.concurrency.unwrap_or(32).max(1)).collect().await;
    let mut results = Vec::new();
    let mut p = pipeline.lock().map_err(|_| EngineError::Io("pipeline lock poisoned".into()))?;
    for (i, mut st, r, articles, took) in fetched {
        let source = sources[i];
        let id = source.config.id.clone();
        let mut res = PollResult {
            source: id.clone(),
            status: "failed",
            entries: 0,
            new: 0,
            already_stored: 0,
            rejected: 0,
            error: None,
            problems: Vec::new(),
            seconds: took.as_secs_f64(),
        };
        st.last_attempt = Some(now);
        if source.config.kind == "watch" {
            match r {
                Ok(FetchOutcome::Fetched(f)) => {
                    res.status = "fetched";
                    let signals = watch_page(&mut p, source, &f.body, f.content_type.as_deref(), now)?;
                    res.problems.extend(signals.iter().map(|s| format!("signal: {}", s.title)));
                    succeeded(&mut st, now, Some(f.validators));
                }
                Ok(FetchOutcome::NotModified) => {
                    res.status = "not_modified";
                    succeeded(&mut st, now, None);
                }
                Err(e) => {
                    res.error = Some(e.to_string());
                    failed(&mut st, now, e.to_string());
                }
            }
        } else {
            fetched_entries(&mut p, source, r, &articles, now, on_batch, &mut st, &mut res)?;
        }
        st.next_due = Some(now + next_delay(source, &st));
        p.db_mut().save_source_state(&st, res.new as i64, now)?;
        results.push(res);
    }
    p.flush()?;
    results.sort_by(|a, b| a.source.cmp(&b.source));
    Ok(results)
}

/// Records that a pushed source (a webhook) delivered, `new` of its items being new.
pub fn record_push(p: &mut Pipeline, id: &str, new: i64, now: DateTime<Utc>) -> Result<(), EngineError> {
    let mut st = p.db().source_state(id)?;
    st.last_attempt = Some(now);
    succeeded(&mut st, now, None);
    st.items_total += new;
    if new > 0 {
        st.last_new_item_at = Some(now);
    }
    p.db_mut().save_source_state(&st, new, now)?;
    Ok(())
}

/// Records a successful poll (new validators when the body was fetched).
fn succeeded(st: &mut SourceState, now: DateTime<Utc>, validators: Option<Validators>) {
    if let Some(v) = validators {
        st.etag = v.etag;
        st.last_modified = v.last_modified;
    }
    st.failures = 0;
    st.last_success = Some(now);
    st.last_error = None;
}

/// Records a failed poll.
fn failed(st: &mut SourceState, now: DateTime<Utc>, error: String) {
    st.failures += 1;
    st.last_error = Some(error);
    st.last_error_at = Some(now);
}

/// What a fetch outcome holds: `None` when not modified, else the response, its entries and
/// the problems found reading them.
type Entries = Option<(tidewatch_ingest::fetch::Fetched, Vec<tidewatch_ingest::feed::FeedEntry>, Vec<String>)>;

fn entries_of(
    source: &Source,
    r: Result<FetchOutcome, tidewatch_ingest::fetch::FetchError>,
    articles: &[(String, Result<FetchOutcome, tidewatch_ingest::fetch::FetchError>)],
) -> Result<Entries, String> {
    r.map_err(|e| e.to_string()).and_then(|o| match o {
        FetchOutcome::NotModified => Ok(None),
        FetchOutcome::Fetched(f) if source.config.kind == "json" => {
            let map = source.config.map.clone().unwrap_or_default();
            let (entries, problems) = tidewatch_ingest::page::json_entries(&f.body, &map, source.zone)?;
            Ok(Some((f, entries, problems)))
        }
        FetchOutcome::Fetched(f) if source.config.kind == "page" => {
            let mut entries = Vec::new();
            let mut problems = Vec::new();
            for (link, got) in articles {
                match got {
                    Ok(FetchOutcome::Fetched(a)) => {
                        let html = tidewatch_ingest::feed::encoding::decode(&a.body, a.content_type.as_deref()).text;
                        let e = tidewatch_ingest::page::article(&html, link, &source.article, source.zone);
                        if e.text.is_empty() && e.title.is_empty() {
                            problems.push(format!("{link}: no title and no text found"));
                        } else {
                            entries.push(e);
                        }
                    }
                    Ok(FetchOutcome::NotModified) => {}
                    Err(e) => problems.push(format!("{link}: {e}")),
                }
            }
            Ok(Some((f, entries, problems)))
        }
        FetchOutcome::Fetched(f) => {
            let opts =
                FeedOptions { content_type: f.content_type.clone(), base_url: Some(f.url.clone()), zone: source.zone };
            let feed = parse_feed(&f.body, &opts);
            if feed.kind == FeedKind::Unknown {
                let lower = String::from_utf8_lossy(&f.body[..f.body.len().min(65536)]).to_lowercase();
                if BLOCK_PAGE_WORDS.iter().any(|w| lower.contains(w)) {
                    return Err("the response looks like a captcha or block page, not a feed".to_string());
                }
                return Err(format!(
                    "the response is not a feed: {}",
                    feed.problems.first().map(String::as_str).unwrap_or("unrecognized")
                ));
            }
            Ok(Some((f, feed.entries, feed.problems)))
        }
    })
}

/// What a test fetch of a source gave (nothing is stored).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TestFetch {
    /// `fetched`, `not_modified` or `failed`.
    pub status: &'static str,
    /// Entries found.
    pub entries: usize,
    /// The first titles (or the start of the text), at most 5.
    pub samples: Vec<String>,
    /// The error, when it failed.
    pub error: Option<String>,
    /// Problems in the response (it was still read).
    pub problems: Vec<String>,
}

/// Fetches `source` once through the guard and reads its entries, storing nothing: the check an
/// editor runs before saving a source.
pub async fn test_fetch(source: &Source, settings: &FetchSettings) -> Result<TestFetch, EngineError> {
    let fetchers = fetchers(&[source], settings)?;
    let fetcher = fetchers[&source.config.allow_addresses].clone();
    let r = fetcher.get(&source.config.url, &Validators::default()).await;
    let mut articles = Vec::new();
    if let (Some(links), Ok(FetchOutcome::Fetched(f))) = (&source.links, &r) {
        let html = tidewatch_ingest::feed::encoding::decode(&f.body, f.content_type.as_deref()).text;
        for link in tidewatch_ingest::page::article_links(&html, &f.url, links).into_iter().take(5) {
            let got = fetcher.get(&link, &Validators::default()).await;
            articles.push((link, got));
        }
    }
    Ok(match entries_of(source, r, &articles) {
        Ok(None) => TestFetch { status: "not_modified", entries: 0, samples: vec![], error: None, problems: vec![] },
        Ok(Some((_, entries, problems))) => TestFetch {
            status: "fetched",
            entries: entries.len(),
            samples: entries
                .iter()
                .take(5)
                .map(|e| if e.title.is_empty() { e.text.chars().take(60).collect() } else { e.title.clone() })
                .collect(),
            error: None,
            problems,
        },
        Err(e) => TestFetch { status: "failed", entries: 0, samples: vec![], error: Some(e), problems: vec![] },
    })
}

/// A feed, page or JSON source's response: its entries stored through the pipeline.
#[allow(clippy::too_many_arguments)]
fn fetched_entries(
    p: &mut Pipeline,
    source: &Source,
    r: Result<FetchOutcome, tidewatch_ingest::fetch::FetchError>,
    articles: &[(String, Result<FetchOutcome, tidewatch_ingest::fetch::FetchError>)],
    now: DateTime<Utc>,
    on_batch: &(dyn Fn(&crate::pipeline::BatchResult) + Sync),
    st: &mut SourceState,
    res: &mut PollResult,
) -> Result<(), EngineError> {
    let id = &source.config.id;
    let outcome = entries_of(source, r, articles);
    match outcome {
        Ok(None) => {
            res.status = "not_modified";
            succeeded(st, now, None);
        }
        Ok(Some((f, entries, problems))) => {
            res.status = "fetched";
            res.entries = entries.len();
            res.problems = problems;
            let inputs: Vec<_> = entries.iter().map(|e| e.to_item(id)).collect();
            let batch = p.ingest(&inputs, now)?;
            on_batch(&batch);
            for (i, o) in batch.outcomes.iter().enumerate() {
                match o {
                    Outcome::Stored { .. } => res.new += 1,
                    Outcome::AlreadyStored { .. } => res.already_stored += 1,
                    Outcome::Rejected(e) => {
                        res.rejected += 1;
                        res.problems.push(format!("entry {}: {e}", i + 1));
                    }
                }
            }
            succeeded(st, now, Some(f.validators));
            st.last_entries = Some(entries.len() as i64);
            st.max_entries = st.max_entries.max(entries.len() as i64);
            st.items_total += res.new as i64;
            if res.new > 0 {
                st.last_new_item_at = Some(now);
            }
        }
        Err(e) => {
            res.error = Some(e.clone());
            failed(st, now, e);
        }
    }
    Ok(())
}

/// When to poll again: the interval with ±10% jitter after a success; after failures, the
/// interval doubled per failure in a row, at most 6 hours.
pub fn next_delay(source: &Source, st: &SourceState) -> ChronoDuration {
    let base = source.interval.as_secs_f64();
    let secs = if st.failures > 0 {
        (base * 2f64.powi(st.failures.min(16) as i32)).min(6.0 * 3600.0).max(base)
    } else {
        // Jitter from the source id and attempt time: spread, yet reproducible.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in source.config.id.bytes().chain(st.last_attempt.map(|t| t.timestamp()).unwrap_or(0).to_le_bytes()) {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        base * (0.9 + 0.2 * (h % 1000) as f64 / 1000.0)
    };
    ChronoDuration::milliseconds((secs * 1000.0) as i64)
}

/// A source's health.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Health {
    /// Source id.
    pub source: String,
    /// No flag raised.
    pub ok: bool,
    /// What is wrong.
    pub flags: Vec<String>,
    /// Its state.
    pub state: SourceState,
    /// New items today (UTC).
    pub items_today: i64,
    /// Its usual new items per day (the 14 days before today).
    pub usual_per_day: f64,
}

/// The health of `source` at `now`: failing (3 failures in a row), silent (no new item for far
/// longer than usual), or empty (the last response had no entries where there used to be some).
pub fn health(db: &Db, source: &Source, now: DateTime<Utc>) -> Result<Health, EngineError> {
    let st = db.source_state(&source.config.id)?;
    let daily = db.source_daily(&source.config.id, 15, now)?;
    let items_today = daily.last().copied().unwrap_or(0);
    let usual_per_day = daily[..daily.len() - 1].iter().sum::<i64>() as f64 / 14.0;
    let mut flags = Vec::new();
    if st.failures >= 3 {
        flags.push(format!("failing: {} failures in a row ({})", st.failures, st.last_error.as_deref().unwrap_or("")));
    }
    if st.last_entries == Some(0) && st.max_entries > 0 {
        flags.push(format!("empty: the last response had no entries (it used to have up to {})", st.max_entries));
    }
    if let Some(last) = st.last_new_item_at {
        let usual_gap = if usual_per_day > 0.0 { 86400.0 / usual_per_day } else { f64::INFINITY };
        let limit = (5.0 * source.interval.as_secs_f64()).max(3.0 * usual_gap);
        let silent = (now - last).num_seconds() as f64;
        if limit.is_finite() && silent > limit {
            flags.push(format!(
                "silent: no new item for {:.1} h (usually one every {:.1} h)",
                silent / 3600.0,
                usual_gap / 3600.0
            ));
        }
    }
    Ok(Health { source: source.config.id.clone(), ok: flags.is_empty(), flags, state: st, items_today, usual_per_day })
}

/// The text of a watched page as compared: the visible text, volatile parts removed, lines
/// trimmed, empty lines dropped.
pub fn watched_text(body: &[u8], content_type: Option<&str>, volatile: &[regex::Regex]) -> String {
    let decoded = tidewatch_ingest::feed::encoding::decode(body, content_type);
    let mut text = tidewatch_text::normalize::html_to_text(&decoded.text);
    for v in volatile {
        text = v.replace_all(&text, "").into_owned();
    }
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
}

/// A line diff of `old` and `new`: removed lines as `- …`, added as `+ …`, with one line of
/// context (`  …`) around each change.
pub fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    const MAX: usize = 4000;
    if a.len() > MAX || b.len() > MAX {
        return format!(
            "the page changed ({} lines before, {} after; too long to compare line by line)",
            a.len(),
            b.len()
        );
    }
    // Longest common subsequence table, from the end.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] > lcs[i + 1][j]) {
            ops.push(('+', b[j]));
            j += 1;
        } else {
            ops.push(('-', a[i]));
            i += 1;
        }
    }
    let changed: Vec<bool> = ops.iter().map(|(c, _)| *c != ' ').collect();
    let near = |k: usize| changed[k.saturating_sub(1)..(k + 2).min(changed.len())].iter().any(|&c| c);
    ops.iter()
        .enumerate()
        .filter(|(k, _)| near(*k))
        .map(|(_, (c, l))| format!("{c} {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compares a watched page with its last text and raises the signals it calls for: a change of
/// its text (with the diff) and the appearance of a forbidden term. The first check records the
/// text and raises nothing.
pub fn watch_page(
    p: &mut Pipeline,
    source: &Source,
    body: &[u8],
    content_type: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<tidewatch_store::Signal>, EngineError> {
    let id = &source.config.id;
    let text = watched_text(body, content_type, &source.volatile);
    let before = p.db().watched_page(id)?;
    let mut signals = Vec::new();
    let signal = |kind: &str, severity: &str, title: String, explanation: String| tidewatch_store::Signal {
        id: 0,
        kind: kind.into(),
        severity: severity.into(),
        created_at: now,
        source: Some(id.clone()),
        topic: None,
        story: None,
        title,
        explanation,
    };
    if let Some(before) = &before {
        if *before != text {
            let diff = line_diff(before, &text);
            let severity = source.config.change_severity.as_deref().unwrap_or("high");
            signals.push(signal("site_change", severity, format!("{} changed: {}", id, source.config.url), diff));
        }
    }
    let folded = tidewatch_text::normalize::fold(&text);
    let folded_before = before.as_deref().map(tidewatch_text::normalize::fold).unwrap_or_default();
    for term in &source.config.forbidden {
        let t = tidewatch_text::normalize::fold(term);
        if !t.is_empty() && folded.contains(&t) && !folded_before.contains(&t) {
            let line = text.lines().find(|l| tidewatch_text::normalize::fold(l).contains(&t)).unwrap_or("");
            signals.push(signal(
                "forbidden_term",
                source.config.forbidden_severity.as_deref().unwrap_or("critical"),
                format!("forbidden term {term:?} appeared on {}", source.config.url),
                format!("+ {line}"),
            ));
        }
    }
    for s in &mut signals {
        s.id = p.db_mut().add_signal(s)?;
    }
    p.db_mut().set_watched_page(id, &source.config.url, &text, now)?;
    Ok(signals)
}

/// A source's JSON configuration with its secrets (`token`, `hmac_secret`) replaced by `"***"`,
/// for the audit log and the API.
pub fn redacted_config(json: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap_or(serde_json::Value::Null);
    if let Some(o) = v.as_object_mut() {
        for key in ["token", "hmac_secret"] {
            if let Some(x) = o.get_mut(key) {
                if !x.is_null() {
                    *x = serde_json::Value::String("***".into());
                }
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_silent_far_longer_than_usual_is_flagged() {
        let tmp = tempfile::tempdir().unwrap();
        let mut db = Db::open(tmp.path()).unwrap();
        let (sources, _, diags) =
            load_sources("[[source]]\nid = \"daily\"\nurl = \"https://news.example/rss\"\ninterval = \"10m\"\n");
        assert!(diags.is_empty(), "{diags:?}");
        let source = &sources[0];
        let now: DateTime<Utc> = "2026-11-20T12:00:00Z".parse().unwrap();
        // 24 new items a day for the two weeks before: one an hour, usually.
        for d in 1..=14 {
            let day = now - ChronoDuration::days(d);
            let st = SourceState { id: "daily".into(), last_new_item_at: Some(day), ..Default::default() };
            db.save_source_state(&st, 24, day).unwrap();
        }
        let mut st = db.source_state("daily").unwrap();
        st.last_new_item_at = Some(now - ChronoDuration::hours(2));
        db.save_source_state(&st, 0, now).unwrap();
        let h = health(&db, source, now).unwrap();
        assert!(h.ok, "2 h without news is within 3 usual gaps: {:?}", h.flags);
        assert!((h.usual_per_day - 24.0).abs() < 1e-9);
        st.last_new_item_at = Some(now - ChronoDuration::hours(5));
        db.save_source_state(&st, 0, now).unwrap();
        let h = health(&db, source, now).unwrap();
        assert!(
            h.flags.iter().any(|f| f.starts_with("silent: no new item for 5.0 h (usually one every 1.0 h)")),
            "{:?}",
            h.flags
        );
    }

    #[test]
    fn diff_shows_changed_lines_with_context() {
        let d = line_diff("标题\n第一段\n第二段\n第三段\n页脚", "标题\n第一段\n第二段已修改\n第三段\n页脚");
        assert_eq!(d, "  第一段\n- 第二段\n+ 第二段已修改\n  第三段");
        assert_eq!(line_diff("a", "a"), "");
    }
}
