//! What responses and claims keep: each as its machine's JSON with the columns lookups use. A
//! change is written in one transaction with the case's timeline lines, the notifications it
//! causes and its audit entry.

use crate::alerting::NewNotification;
use crate::audit::{append_in, NewAudit};
use crate::db::{millis, Db};
use crate::StoreError;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

/// A response or claim to write: id, case, state or status, when it is next due, its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRow {
    /// Id.
    pub id: i64,
    /// Its case.
    pub case_id: i64,
    /// State (responses) or status (claims).
    pub state: String,
    /// When the clock next has something to do (responses).
    pub next_due: Option<DateTime<Utc>>,
    /// The JSON.
    pub data: String,
}

/// A line of a case's timeline: case, at, actor, kind, detail (JSON).
pub type TimelineLine = (i64, DateTime<Utc>, Option<String>, String, String);

/// A change of responses and claims to write together.
#[derive(Debug, Clone, Default)]
pub struct DocWrite {
    /// Responses.
    pub responses: Vec<DocRow>,
    /// Claims.
    pub claims: Vec<DocRow>,
    /// Timeline lines: case, at, actor, kind, detail (JSON).
    pub entries: Vec<TimelineLine>,
    /// Notifications.
    pub notifications: Vec<NewNotification>,
    /// Audit entry.
    pub audit: Option<NewAudit>,
}

impl Db {
    /// A new id for a response (`responses`) or a claim (`claims`), never given before.
    pub fn next_doc_id(&mut self, table: &str) -> Result<i64, StoreError> {
        let (key, table) = match table {
            "responses" => ("response_next_id", "responses"),
            "claims" => ("claim_next_id", "claims"),
            other => return Err(StoreError::Invalid(format!("no table {other}"))),
        };
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stored: Option<String> =
            tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?;
        let max: i64 = tx.query_row(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}"), [], |r| r.get(0))?;
        let id = stored.and_then(|s| s.parse::<i64>().ok()).unwrap_or(1).max(max + 1);
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, (id + 1).to_string()],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Writes responses, claims, timeline lines, notifications and the audit entry at once.
    pub fn write_docs(&mut self, w: &DocWrite, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for r in &w.responses {
            tx.execute(
                "INSERT INTO responses (id, case_id, state, next_due, updated_at, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT(id) DO UPDATE SET state = ?3, next_due = ?4, updated_at = ?5, data = ?6",
                params![r.id, r.case_id, r.state, r.next_due.map(millis), millis(now), r.data],
            )?;
        }
        for c in &w.claims {
            tx.execute(
                "INSERT INTO claims (id, case_id, status, updated_at, data) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(id) DO UPDATE SET status = ?3, updated_at = ?4, data = ?5",
                params![c.id, c.case_id, c.state, millis(now), c.data],
            )?;
        }
        for (case, at, actor, kind, detail) in &w.entries {
            tx.execute(
                "INSERT INTO case_events (case_id, at, actor, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![case, millis(*at), actor, kind, detail],
            )?;
        }
        for n in &w.notifications {
            tx.execute(
                "INSERT OR IGNORE INTO outbox (key, created_at, alert, recipient, channel, subject, body, status, next_attempt) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?2)",
                params![n.key, millis(now), n.alert, n.recipient, n.channel, n.subject, n.body],
            )?;
        }
        if let Some(a) = &w.audit {
            append_in(&tx, a, now)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A response (JSON).
    pub fn response(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT data FROM responses WHERE id = ?1", [id], |r| r.get(0)).optional()?)
    }

    /// A case's responses (JSON), oldest first.
    pub fn responses_of_case(&self, case: i64) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT data FROM responses WHERE case_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([case], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Responses whose clock is due at `now` (JSON).
    pub fn responses_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT data FROM responses WHERE next_due IS NOT NULL AND next_due <= ?1 ORDER BY next_due LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![millis(now), limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A claim (JSON).
    pub fn claim(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT data FROM claims WHERE id = ?1", [id], |r| r.get(0)).optional()?)
    }

    /// A case's claims (JSON), oldest first.
    pub fn claims_of_case(&self, case: i64) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT data FROM claims WHERE case_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([case], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
