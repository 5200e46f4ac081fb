//! Where Tidewatch keeps things: the SQLite database ([`Db`]) and the tantivy full-text index
//! ([`SearchIndex`]), both inside the data directory.
//!
//! The database is the source of truth; the index can always be rebuilt from it and catches up
//! with it on open (see [`search`]). This crate does the I/O of storage and nothing else: what to
//! store, and when, is decided by `tidewatch-engine`.
#![deny(missing_docs)]

pub mod alerting;
pub mod analysis;
pub mod audit;
pub mod auth;
pub mod cases;
pub mod db;
pub mod responses;
pub mod retention;
pub mod search;

pub use alerting::{AlertRow, AlertingState, NewNotification, Notification};
pub use analysis::{Lineage, StoryRow};
pub use audit::{AuditBreak, AuditEntry, AuditFilter, NewAudit};
pub use auth::{AccountRow, Credential, PersonRow, Prefs, TokenRow, UnitRow};
pub use cases::{CaseEventRow, CaseFilter, CaseRow, CaseWrite};
pub use db::{
    Db, DedupRow, GroupView, Inserted, Signal, SourceState, StoredItem, TopicDraft, TopicKey, TopicRecord,
    TopicVersion, WriteTx,
};
pub use responses::{DocRow, DocWrite};
pub use search::{SearchHit, SearchIndex, SearchRequest, SearchResults, SortOrder};

/// Errors of the store and the index.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The full-text index reported an error.
    #[error("search index: {0}")]
    Index(String),
    /// A file or directory could not be used.
    #[error("{0}")]
    Io(String),
    /// The database was written by a newer Tidewatch.
    #[error("the database has schema version {found}, newer than this Tidewatch knows ({known}); upgrade Tidewatch")]
    SchemaTooNew {
        /// Version found.
        found: i64,
        /// Latest version known.
        known: i64,
    },
    /// A request to the store was refused (a unit whose parent is unknown, a name taken, …).
    #[error("{0}")]
    Invalid(String),
    /// The data is inconsistent.
    #[error("the store is inconsistent: {0}")]
    Corrupt(String),
}
