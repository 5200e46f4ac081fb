//! The engine: where the parts meet. It runs the ingest [`pipeline`] over the store, [`import`]s
//! files, and provides the offline [`analyze`] pipeline. Timed modules (escalation, deadlines,
//! hand-offs) will live here too, each keeping its state in the store.
#![deny(missing_docs)]

pub mod accounts;
pub mod alerting;
pub mod analysis;
pub mod analyze;
pub mod cases;
pub mod import;
pub mod metrics;
pub mod notifier;
pub mod pipeline;
pub mod responses;
pub mod retention;
pub mod sources;
pub mod topics;

pub use pipeline::{DataDir, Pipeline, PipelineConfig};

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store or index failed.
    #[error(transparent)]
    Store(#[from] tidewatch_store::StoreError),
    /// A file could not be read.
    #[error("{0}")]
    Io(String),
    /// What was asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A configuration file is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// A case refused an event (the state machine's typed error).
    #[error("{0}")]
    Case(tidewatch_workflow::cases::CaseError),
    /// A response refused an event.
    #[error("{0}")]
    Response(tidewatch_workflow::responses::ResponseError),
}
