//! The HTTP server: the REST API under `/api/v1`, the live stream of new items (server-sent
//! events), and the web page.
//!
//! [`AppState`] holds the writing [`Pipeline`] behind a mutex (one writer per data directory) and
//! a separate read side (its own SQLite connection and tantivy reader), so that searches do not
//! wait for writes. Handlers do blocking work on tokio's blocking pool. Errors leave through one
//! table of stable codes with English and Chinese messages ([`error`]).
#![deny(missing_docs)]

pub mod alerting;
pub mod api;
pub mod error;
pub mod ingest;
pub mod stories;
pub mod topics;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tidewatch_engine::pipeline::BatchResult;
use tidewatch_engine::{DataDir, EngineError, Pipeline};
use tidewatch_store::{Db, SearchIndex};
use tokio::sync::broadcast;

pub use api::ItemView;

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

impl AppState {
    /// Opens the data directory: the pipeline for writing, a second handle for reading.
    pub fn open(dir: &DataDir, pipeline: Pipeline) -> Result<Arc<AppState>, EngineError> {
        let db = Db::open(dir.root())?;
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
        }))
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
        let alerting = tidewatch_engine::alerting::Alerting::open(&db, config)?;
        if let Ok(mut a) = self.alerting.lock() {
            *a = Some(AlertingSide { db, alerting, notifier });
        }
        Ok(())
    }

    /// One round of alerting at `now`: new signals, due steps, then delivery of the outbox.
    /// Blocking (SQLite, SMTP, HTTP): call it off the async threads.
    pub fn alerting_tick(&self, now: chrono::DateTime<chrono::Utc>) -> Result<(), EngineError> {
        let Ok(mut guard) = self.alerting.lock() else { return Ok(()) };
        let Some(side) = guard.as_mut() else { return Ok(()) };
        side.alerting.tick(&mut side.db, now)?;
        let retry = side.alerting.config().retry;
        let notifier = &side.notifier;
        tidewatch_engine::alerting::deliver(&mut side.db, retry, now, &|n| notifier.send(n, now))?;
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
    on_bound(listener.local_addr()?);
    axum::serve(listener, api::router(state)).with_graceful_shutdown(shutdown).await
}
