//! The HTTP server: the REST API under `/api/v1`, the live stream of new items (server-sent
//! events), and the web page.
//!
//! [`AppState`] holds the writing [`Pipeline`] behind a mutex (one writer per data directory) and
//! a separate read side (its own SQLite connection and tantivy reader), so that searches do not
//! wait for writes. Handlers do blocking work on tokio's blocking pool. Errors leave through one
//! table of stable codes with English and Chinese messages ([`error`]).
#![deny(missing_docs)]

pub mod admin;
pub mod alerting;
pub mod auth;
pub mod cases;
pub mod common;
pub mod error;
pub mod i18n;
pub mod ingest;
pub mod items;
pub mod openapi;
pub mod page;
pub mod responses;
pub mod routes;
pub mod stories;
pub mod topics;
pub mod views;
pub mod workspace;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tidewatch_engine::pipeline::BatchResult;
use tidewatch_engine::{DataDir, EngineError, Pipeline};
use tidewatch_store::{Db, SearchIndex};
use tokio::sync::broadcast;

pub use common::ItemView;

/// Shared state of the server.
pub struct AppState {
    /// The writing side.
    pub pipeline: Mutex<Pipeline>,
    /// The reading side: a second connection and index reader.
    pub reader: Mutex<(Db, SearchIndex)>,
    /// New items, as they are stored.
    pub live: broadcast::Sender<Arc<ItemView>>,
    /// Sources that push to `POST /api/v1/ingest` (webhooks).
    pub webhooks: std::sync::RwLock<Vec<tidewatch_engine::sources::Source>>,
    /// Sources the server polls (feeds, watched pages).
    pub polled: std::sync::RwLock<Vec<tidewatch_engine::sources::Source>>,
    /// Ids of the sources defined in the configuration file (not editable through the API).
    pub file_sources: std::sync::RwLock<Vec<String>>,
    /// Alerting, when configured (`alerting.toml`).
    pub alerting: Mutex<Option<AlertingSide>>,
    /// Woken when items were stored, so that the alerting looks at new signals at once instead
    /// of at its next one-second tick.
    pub alerting_wake: tokio::sync::Notify,
    /// Delivery of the outbox: its own connection and sender, so that sending (SMTP, HTTP, with
    /// their timeouts) never holds the lock the alert API and the acknowledge link need.
    pub delivery: Mutex<Option<Delivery>>,
    /// Accounts, sessions and the audit log: a connection of their own.
    pub auth: Mutex<Db>,
    /// Host names, cookies, login limits.
    pub auth_config: auth::AuthConfig,
    /// The names of the address actually bound (known once listening, e.g. with port 0).
    pub bound_names: std::sync::RwLock<Vec<String>>,
    /// Failed logins per address.
    pub throttle: auth::Throttle,
    /// Longest time a request may take, in milliseconds ([`REQUEST_TIMEOUT`] unless changed).
    pub request_timeout_ms: std::sync::atomic::AtomicU64,
    /// Requests handled at once, read when the router is built ([`MAX_CONCURRENT_REQUESTS`]).
    pub max_concurrent: std::sync::atomic::AtomicUsize,
    /// The OpenAPI document, built from the route table once.
    pub openapi: std::sync::OnceLock<serde_json::Value>,
    /// Cases: a connection of their own and the module (playbooks, calendars).
    pub cases: Mutex<CasesSide>,
    /// The clock of case handlers and the deadline module: 0 for the real clock, else this
    /// instant in milliseconds (a test holds and moves time).
    pub clock_ms: std::sync::atomic::AtomicI64,
}

/// The cases' store connection and module.
#[derive(Debug)]
pub struct CasesSide {
    /// A connection of its own.
    pub db: Db,
    /// Playbooks, calendars, the deadline clock.
    pub cases: tidewatch_engine::cases::Cases,
    /// Responses, approval chains, claims.
    pub responses: tidewatch_engine::responses::Responses,
    /// Word segmentation (diffs of versions).
    pub segmenter: Arc<tidewatch_text::segment::Segmenter>,
}

/// The alerting's own store connection, state and sender.
#[derive(Debug)]
pub struct AlertingSide {
    /// A connection of its own (alerting writes its tables while items are written).
    pub db: Db,
    /// Alerts, escalations.
    pub alerting: tidewatch_engine::alerting::Alerting,
    /// Email and HTTP sending.
    pub notifier: tidewatch_engine::notifier::Notifier,
}

/// What sends the outbox.
#[derive(Debug)]
pub struct Delivery {
    /// A connection of its own.
    pub db: Db,
    /// Email and HTTP sending.
    pub notifier: tidewatch_engine::notifier::Notifier,
    /// Retries and backoff.
    pub retry: tidewatch_engine::alerting::Retry,
}

impl AppState {
    /// Opens the data directory: the pipeline for writing, a second handle for reading.
    pub fn open(
        dir: &DataDir,
        pipeline: Pipeline,
        auth_config: auth::AuthConfig,
    ) -> Result<Arc<AppState>, EngineError> {
        let db = Db::open(dir.root())?;
        let auth_db = Db::open(dir.root())?;
        let cases_config = tidewatch_engine::cases::CasesConfig::load(dir.root());
        for p in &cases_config.problems {
            tracing::warn!("{p}");
        }
        let (chains, chains_problem) = tidewatch_engine::responses::load_chains(dir.root());
        if let Some(p) = &chains_problem {
            tracing::warn!("{p}");
        }
        let mut cases_config = cases_config;
        cases_config.problems.extend(chains_problem);
        let cases = CasesSide {
            db: Db::open(dir.root())?,
            cases: tidewatch_engine::cases::Cases::new(cases_config, "http://127.0.0.1:8080"),
            responses: tidewatch_engine::responses::Responses::new(chains, "http://127.0.0.1:8080"),
            segmenter: pipeline.segmenter().clone(),
        };
        // The outbox is sent even without alerting.toml (case notices to people's channels).
        let delivery = Delivery {
            db: Db::open(dir.root())?,
            notifier: tidewatch_engine::notifier::Notifier::new(None)?,
            retry: tidewatch_engine::alerting::Retry::default(),
        };
        let index = SearchIndex::open(&dir.index_dir(), pipeline.segmenter().clone(), false)?;
        let (live, _) = broadcast::channel(1024);
        Ok(Arc::new(AppState {
            pipeline: Mutex::new(pipeline),
            reader: Mutex::new((db, index)),
            live,
            webhooks: std::sync::RwLock::new(Vec::new()),
            polled: std::sync::RwLock::new(Vec::new()),
            file_sources: std::sync::RwLock::new(Vec::new()),
            alerting: Mutex::new(None),
            alerting_wake: tokio::sync::Notify::new(),
            delivery: Mutex::new(Some(delivery)),
            auth: Mutex::new(auth_db),
            auth_config,
            bound_names: std::sync::RwLock::new(Vec::new()),
            throttle: auth::Throttle::default(),
            openapi: std::sync::OnceLock::new(),
            request_timeout_ms: std::sync::atomic::AtomicU64::new(REQUEST_TIMEOUT.as_millis() as u64),
            max_concurrent: std::sync::atomic::AtomicUsize::new(MAX_CONCURRENT_REQUESTS),
            cases: Mutex::new(cases),
            clock_ms: std::sync::atomic::AtomicI64::new(0),
        }))
    }

    /// The clock of case handlers and the deadline module.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        match self.clock_ms.load(std::sync::atomic::Ordering::Relaxed) {
            0 => chrono::Utc::now(),
            ms => chrono::DateTime::from_timestamp_millis(ms).unwrap_or_else(chrono::Utc::now),
        }
    }

    /// What was wrong with `playbooks.toml` and `calendar.toml` (the defaults are in force).
    pub fn cases_problems(&self) -> Vec<String> {
        self.cases.lock().map(|c| c.cases.config().problems.clone()).unwrap_or_default()
    }

    /// Tells alerting which stories have an open case (their signals update the case instead).
    pub fn sync_inhibition(&self) {
        let open = match self.cases.lock() {
            Ok(c) => tidewatch_engine::cases::Cases::open_stories(&c.db),
            Err(_) => return,
        };
        match open {
            Ok(open) => {
                if let Ok(mut a) = self.alerting.lock() {
                    if let Some(side) = a.as_mut() {
                        side.alerting.set_open_cases(open);
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "open cases unreadable; inhibition unchanged"),
        }
    }

    /// One round of the deadline module at `now` (blocking).
    pub fn cases_tick(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<tidewatch_engine::cases::TickReport, EngineError> {
        let mut guard = self.cases.lock().unwrap_or_else(|poisoned| {
            tracing::error!("the cases lock was poisoned by a panic; recovering");
            self.cases.clear_poison();
            poisoned.into_inner()
        });
        let CasesSide { db, cases, responses, .. } = &mut *guard;
        responses.tick(db, now)?;
        cases.tick(db, now)
    }

    /// Turns alerting on with `config`: signals become alerts, escalations run, notifications go
    /// out ([`AppState::alerting_tick`]).
    pub fn enable_alerting(
        &self,
        dir: &DataDir,
        config: tidewatch_engine::alerting::AlertingConfig,
    ) -> Result<(), EngineError> {
        let db = Db::open(dir.root())?;
        let notifier = tidewatch_engine::notifier::Notifier::new(config.smtp.as_ref())?;
        let delivery = Delivery {
            db: Db::open(dir.root())?,
            notifier: tidewatch_engine::notifier::Notifier::new(config.smtp.as_ref())?,
            retry: config.retry,
        };
        if let Ok(mut c) = self.cases.lock() {
            let cfg = c.cases.config().clone();
            c.cases = tidewatch_engine::cases::Cases::new(cfg, &config.base_url);
            let rules = c.responses.rules().clone();
            c.responses = tidewatch_engine::responses::Responses::new(rules, &config.base_url);
        }
        let mut db = db;
        let alerting = tidewatch_engine::alerting::Alerting::open(&mut db, config)?;
        if let Ok(mut a) = self.alerting.lock() {
            *a = Some(AlertingSide { db, alerting, notifier });
        }
        self.sync_inhibition();
        if let Ok(mut d) = self.delivery.lock() {
            *d = Some(delivery);
        }
        Ok(())
    }

    /// One round of alerting at `now`: new signals, due steps, the cases' deadline module, then
    /// delivery of the outbox. Blocking (SQLite, SMTP, HTTP): call it off the async threads.
    pub fn alerting_tick(&self, now: chrono::DateTime<chrono::Utc>) -> Result<(), EngineError> {
        if let Err(e) = self.cases_tick(now) {
            tracing::error!(error = %e, "deadline tick failed");
        }
        {
            let mut guard = self.alerting.lock().unwrap_or_else(|poisoned| {
                // A panic while ticking left the lock poisoned: say so and go on with the state
                // as it is (everything decided is in the store; the next tick re-reads signals).
                tracing::error!("the alerting lock was poisoned by a panic; recovering");
                self.alerting.clear_poison();
                poisoned.into_inner()
            });
            let Some(side) = guard.as_mut() else { return Ok(()) };
            side.alerting.tick(&mut side.db, now)?;
        }
        // Sending happens without the alerting lock held.
        let mut guard = self.delivery.lock().unwrap_or_else(|poisoned| {
            tracing::error!("the delivery lock was poisoned by a panic; recovering");
            self.delivery.clear_poison();
            poisoned.into_inner()
        });
        let Some(d) = guard.as_mut() else { return Ok(()) };
        let notifier = &d.notifier;
        tidewatch_engine::alerting::deliver(&mut d.db, d.retry, now, &|n| notifier.send(n, now))?;
        Ok(())
    }

    /// Adds or replaces a source in the running server.
    pub fn install_source(&self, source: tidewatch_engine::sources::Source) {
        self.remove_source(&source.config.id);
        let list = if source.is_polled() { &self.polled } else { &self.webhooks };
        if let Ok(mut l) = list.write() {
            l.push(source);
        }
    }

    /// Removes a source from the running server.
    pub fn remove_source(&self, id: &str) {
        for list in [&self.polled, &self.webhooks] {
            if let Ok(mut l) = list.write() {
                l.retain(|s| s.config.id != id);
            }
        }
    }

    /// Appends an entry to the audit log.
    pub fn audit(&self, e: tidewatch_store::NewAudit) -> Result<(), error::ApiError> {
        let mut db = self.auth.lock().map_err(|_| error::ApiError::new("internal", "lock poisoned"))?;
        db.append_audit(&e, chrono::Utc::now())?;
        Ok(())
    }

    /// Publishes what a batch stored to live subscribers, and wakes the alerting.
    pub fn publish(&self, result: &BatchResult) {
        if !result.stored.is_empty() {
            self.alerting_wake.notify_one();
        }
        if self.live.receiver_count() == 0 {
            return;
        }
        for (s, topics) in result.stored.iter().zip(&result.stored_topics) {
            let _ = self.live.send(Arc::new(ItemView { topics: topics.clone(), ..ItemView::from_stored(s, None, 1) }));
        }
    }
}

/// Serves the API and the page on `addr` until `shutdown` resolves. Calls `on_bound` with the
/// address actually bound (useful with port 0).
pub async fn serve(
    state: Arc<AppState>,
    addr: SocketAddr,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    if let Ok(mut names) = state.bound_names.write() {
        *names = auth::AuthConfig::names_of(local);
    }
    on_bound(local);
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Longest time a request may take before it is answered 503 (the live stream excepted).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Requests handled at once; more wait.
pub const MAX_CONCURRENT_REQUESTS: usize = 512;

/// The router of the whole server: the route table behind the Host check, the security
/// headers, body limits, a concurrency limit and coded answers for unknown paths and methods.
pub fn router(state: Arc<AppState>) -> axum::Router {
    let (routes, specs) = routes::table(state.clone());
    let _ = state.openapi.set(openapi::build(&specs));
    let limit =
        Arc::new(tokio::sync::Semaphore::new(state.max_concurrent.load(std::sync::atomic::Ordering::Relaxed).max(1)));
    let timing = state.clone();
    routes
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(1 << 20))
        .layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
            let limit = limit.clone();
            let timeout =
                std::time::Duration::from_millis(timing.request_timeout_ms.load(std::sync::atomic::Ordering::Relaxed));
            async move {
                let _permit = limit.acquire_owned().await;
                let streaming = req.uri().path() == "/api/v1/stream";
                if streaming {
                    return next.run(req).await;
                }
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(r) => r,
                    Err(_) => axum::response::IntoResponse::into_response(error::ApiError::new(
                        "timeout",
                        format!("no answer within {:.1} s", timeout.as_secs_f64()),
                    )),
                }
            }
        }))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::check_host))
        .layer(axum::middleware::from_fn(auth::security_headers))
        .with_state(state)
}
