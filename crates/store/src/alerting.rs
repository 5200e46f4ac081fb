//! What the alerting keeps: its state (alerts, silences, the last signal consumed), each alert's
//! escalation, and the outbox — a notification is written here, in the same transaction as the
//! state that caused it, before anyone tries to send it.

use crate::db::{from_millis, millis, Db};
use crate::StoreError;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

/// A notification to write to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// Unique: the same notification is never queued twice (alert, step or reason, recipient,
    /// channel).
    pub key: String,
    /// The alert it is about.
    pub alert: i64,
    /// The person it goes to.
    pub recipient: String,
    /// The channel as JSON.
    pub channel: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// A notification in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notification {
    /// Outbox id.
    pub id: i64,
    /// Its unique key.
    pub key: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// The alert it is about.
    pub alert: i64,
    /// The person it goes to.
    pub recipient: String,
    /// The channel as JSON.
    pub channel: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// `pending`, `sent` or `failed` (given up).
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub sent_at: Option<DateTime<Utc>>,
}

const OUTBOX_COLUMNS: &str =
    "id, key, created_at, alert, recipient, channel, subject, body, status, attempts, next_attempt, last_error, sent_at";

fn row_to_notification(r: &rusqlite::Row<'_>) -> rusqlite::Result<Notification> {
    Ok(Notification {
        id: r.get(0)?,
        key: r.get(1)?,
        created_at: from_millis(r.get(2)?),
        alert: r.get(3)?,
        recipient: r.get(4)?,
        channel: r.get(5)?,
        subject: r.get(6)?,
        body: r.get(7)?,
        status: r.get(8)?,
        attempts: r.get(9)?,
        next_attempt: from_millis(r.get(10)?),
        last_error: r.get(11)?,
        sent_at: r.get::<_, Option<i64>>(12)?.map(from_millis),
    })
}

/// The alerting's saved state.
#[derive(Debug, Clone, Default)]
pub struct AlertingState {
    /// The alerts (JSON), when saved before.
    pub alerts: Option<String>,
    /// The id of the last signal consumed.
    pub cursor: i64,
    /// Escalations: alert id, state (JSON).
    pub escalations: Vec<(i64, String)>,
    /// Other saved values (overrides added through the API, the hand-off horizon).
    pub extra: Vec<(String, String)>,
}

impl Db {
    /// The alerting's saved state.
    pub fn alerting_state(&self) -> Result<AlertingState, StoreError> {
        let get = |k: &str| -> Result<Option<String>, StoreError> {
            Ok(self.conn.query_row("SELECT value FROM alerting_state WHERE key = ?1", [k], |r| r.get(0)).optional()?)
        };
        let cursor = get("cursor")?.and_then(|c| c.parse().ok()).unwrap_or(0);
        let mut stmt = self.conn.prepare_cached("SELECT alert, state FROM escalations ORDER BY alert")?;
        let escalations = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        let mut stmt =
            self.conn.prepare_cached("SELECT key, value FROM alerting_state WHERE key NOT IN ('alerts', 'cursor')")?;
        let extra = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        Ok(AlertingState { alerts: get("alerts")?, cursor, escalations, extra })
    }

    /// Saves the alerting's state (and `extra` values), the escalations that changed and new
    /// notifications, in one transaction. Notifications whose key is already in the outbox are
    /// not queued again. Returns how many were queued.
    #[allow(clippy::too_many_arguments)]
    pub fn save_alerting(
        &mut self,
        alerts: &str,
        cursor: i64,
        extra: &[(&str, String)],
        escalations: &[(i64, String, Option<DateTime<Utc>>)],
        notifications: &[NewNotification],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO alerting_state (key, value) VALUES ('alerts', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1",
            [alerts],
        )?;
        tx.execute(
            "INSERT INTO alerting_state (key, value) VALUES ('cursor', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1",
            [cursor.to_string()],
        )?;
        for (k, v) in extra {
            tx.execute(
                "INSERT INTO alerting_state (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                params![k, v],
            )?;
        }
        for (alert, state, next_at) in escalations {
            tx.execute(
                "INSERT INTO escalations (alert, state, next_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(alert) DO UPDATE SET state = ?2, next_at = ?3",
                params![alert, state, next_at.map(millis)],
            )?;
        }
        let mut queued = 0;
        for n in notifications {
            queued += tx.execute(
                "INSERT OR IGNORE INTO outbox (key, created_at, alert, recipient, channel, subject, body, status, next_attempt) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?2)",
                params![n.key, millis(now), n.alert, n.recipient, n.channel, n.subject, n.body],
            )?;
        }
        tx.commit()?;
        Ok(queued)
    }

    /// Signals after `cursor`, oldest first.
    pub fn signals_after(&self, cursor: i64, limit: usize) -> Result<Vec<crate::Signal>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {} FROM signals WHERE id > ?1 ORDER BY id LIMIT ?2",
            crate::db::SIGNAL_COLUMNS
        ))?;
        let rows = stmt.query_map(params![cursor, limit as i64], crate::db::row_to_signal)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Pending notifications due at `now`, oldest first.
    pub fn due_notifications(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Notification>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt <= ?1 ORDER BY id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![millis(now), limit as i64], row_to_notification)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The notifications of an alert (all of them when `alert` is `None`), newest first.
    pub fn notifications(&self, alert: Option<i64>, limit: usize) -> Result<Vec<Notification>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE ?1 IS NULL OR alert = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![alert, limit as i64], row_to_notification)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a delivery attempt: sent, to retry at `retry_at`, or given up (`retry_at` None
    /// with an error).
    pub fn record_attempt(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
        error: Option<&str>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        match (error, retry_at) {
            (None, _) => self.conn.execute(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?2, last_error = NULL WHERE id = ?1",
                params![id, millis(now)],
            )?,
            (Some(e), Some(at)) => self.conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3 WHERE id = ?1",
                params![id, e, millis(at)],
            )?,
            (Some(e), None) => self.conn.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, e],
            )?,
        };
        Ok(())
    }
}
