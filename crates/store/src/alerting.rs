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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
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

/// An alert to write: its columns and the whole alert as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// Id.
    pub id: i64,
    /// Its group key.
    pub key: String,
    /// `firing`, `acknowledged`, `resolved`.
    pub state: String,
    /// The story it is about.
    pub story: Option<String>,
    /// The case opened from it.
    pub case_id: Option<i64>,
    /// `low` … `critical`.
    pub severity: String,
    /// When it started.
    pub first_at: DateTime<Utc>,
    /// The alert (JSON).
    pub data: String,
}

/// The alerting's saved state.
#[derive(Debug, Clone, Default)]
pub struct AlertingState {
    /// The alerts as one JSON document, as stores before schema 10 kept them (read once to move
    /// them to rows).
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

    /// Saves what changed in the alerting — the alerts and silences given, the signal cursor,
    /// `extra` values, the escalations that changed — and queues new notifications, in one
    /// transaction. Notifications whose key is already in the outbox are not queued again.
    /// Returns how many were queued.
    #[allow(clippy::too_many_arguments)]
    pub fn save_alerting(
        &mut self,
        alerts: &[AlertRow],
        silences: &[(i64, DateTime<Utc>, String)],
        cursor: i64,
        extra: &[(&str, String)],
        escalations: &[(i64, String, Option<DateTime<Utc>>)],
        notifications: &[NewNotification],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for a in alerts {
            tx.execute(
                "INSERT INTO alerts (id, key, state, story, case_id, severity, first_at, updated_at, data) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(id) DO UPDATE SET key = ?2, state = ?3, \
                 story = ?4, case_id = ?5, severity = ?6, updated_at = ?8, data = ?9",
                params![a.id, a.key, a.state, a.story, a.case_id, a.severity, millis(a.first_at), millis(now), a.data],
            )?;
        }
        for (id, ends, data) in silences {
            tx.execute(
                "INSERT INTO silences (id, ends, data) VALUES (?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET ends = ?2, data = ?3",
                params![id, millis(*ends), data],
            )?;
        }
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

    /// Moves alerts and silences kept as one JSON document (before schema 10) to rows, in one
    /// transaction, and drops the document.
    pub fn move_alerts_to_rows(
        &mut self,
        alerts: &[AlertRow],
        silences: &[(i64, DateTime<Utc>, String)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let cursor: i64 = self.alerting_state()?.cursor;
        self.save_alerting(alerts, silences, cursor, &[], &[], &[], now)?;
        self.conn.execute("DELETE FROM alerting_state WHERE key = 'alerts'", [])?;
        Ok(())
    }

    /// Alerts not resolved (JSON), oldest first.
    pub fn open_alerts(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT data FROM alerts WHERE state != 'resolved' ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Silences ending after `after` (JSON), oldest first.
    pub fn silences_ending_after(&self, after: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT data FROM silences WHERE ends > ?1 ORDER BY id")?;
        let rows = stmt.query_map([millis(after)], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The highest alert and silence ids stored (0 when none).
    pub fn max_alert_and_silence_ids(&self) -> Result<(i64, i64), StoreError> {
        let a = self.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM alerts", [], |r| r.get(0))?;
        let s = self.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM silences", [], |r| r.get(0))?;
        Ok((a, s))
    }

    /// One alert (JSON), archived or not.
    pub fn alert(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT data FROM alerts WHERE id = ?1", [id], |r| r.get(0)).optional()?)
    }

    /// Alerts (JSON), newest first: in `state` if given, with ids below `before`.
    pub fn alerts_page(
        &self,
        state: Option<&str>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT data FROM alerts WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![state, before, limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
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

    /// How many notifications wait to be sent or retried.
    pub fn pending_notifications(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM outbox WHERE status = 'pending'", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// The notifications of an alert (all of them when `alert` is `None`), newest first.
    pub fn notifications(&self, alert: Option<i64>, limit: usize) -> Result<Vec<Notification>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE ?1 IS NULL OR alert = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![alert, limit as i64], row_to_notification)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The notifications to `person`, newest first, with ids below `before` when given: their
    /// inbox on the page.
    pub fn inbox(&self, person: &str, before: Option<i64>, limit: usize) -> Result<Vec<Notification>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE recipient = ?1 AND (?2 IS NULL OR id < ?2) \
             ORDER BY id DESC LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![person, before, limit as i64], row_to_notification)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many notifications to `person` have ids above `seen`.
    pub fn inbox_unread(&self, person: &str, seen: i64) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE recipient = ?1 AND id > ?2",
            params![person, seen],
            |r| r.get(0),
        )?)
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
