//! What cases keep: each case (the state machine's data as JSON, and the columns lists filter
//! on), its timeline, and the id counter. A change of a case is written in one transaction with
//! its timeline lines, the notifications it causes, the evidence holds and its audit entry.

use crate::alerting::NewNotification;
use crate::audit::{append_in, NewAudit};
use crate::db::{from_millis, millis, Db};
use crate::StoreError;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

/// A stored case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRow {
    /// Id.
    pub id: i64,
    /// `new`, `assessing`, … (the state machine's name).
    pub state: String,
    /// `IV` … `I`.
    pub grade: Option<String>,
    /// `inquiry`, `hype`, `fabrication`, `constructive`.
    pub classification: Option<String>,
    /// Owner unit.
    pub unit: String,
    /// Owner person.
    pub owner: Option<String>,
    /// The alert it was opened from.
    pub alert: Option<i64>,
    /// Title.
    pub title: String,
    /// Opened.
    pub opened_at: DateTime<Utc>,
    /// Closed (last time).
    pub closed_at: Option<DateTime<Utc>>,
    /// When the deadline module next has something to do.
    pub next_due: Option<DateTime<Utc>>,
    /// The earliest deadline of an open task.
    pub earliest_due: Option<DateTime<Utc>>,
    /// The state machine's data (JSON).
    pub data: String,
}

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct CaseEventRow {
    /// Its id (the timeline's order).
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`None`: the clock).
    pub actor: Option<String>,
    /// What.
    pub kind: String,
    /// Details (JSON).
    pub detail: String,
}

/// A change of a case to write.
#[derive(Debug, Clone, Default)]
pub struct CaseWrite<'a> {
    /// The case as it is now (its id inside).
    pub row: Option<&'a CaseRow>,
    /// Timeline lines: at, actor, kind, detail (JSON).
    pub entries: Vec<(DateTime<Utc>, Option<String>, String, String)>,
    /// Notifications to queue (unique keys: one already queued is not queued again).
    pub notifications: Vec<NewNotification>,
    /// Items to hold as evidence.
    pub holds: Vec<i64>,
    /// Release the case's holds.
    pub release: bool,
    /// The audit entry of the change.
    pub audit: Option<NewAudit>,
}

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// These states.
    pub states: Vec<String>,
    /// This grade.
    pub grade: Option<String>,
    /// This classification.
    pub classification: Option<String>,
    /// Owned by one of these units (`None`: any).
    pub units: Option<Vec<String>>,
    /// Opened at or after.
    pub from: Option<DateTime<Utc>>,
    /// Opened before.
    pub to: Option<DateTime<Utc>>,
    /// With an open task past its deadline at this moment.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Ids below this (the next page).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: usize,
}

const CASE_COLUMNS: &str = "id, state, grade, classification, unit, owner, alert, title, opened_at, closed_at, \
                            next_due, earliest_due, data";

fn row_to_case(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseRow> {
    Ok(CaseRow {
        id: r.get(0)?,
        state: r.get(1)?,
        grade: r.get(2)?,
        classification: r.get(3)?,
        unit: r.get(4)?,
        owner: r.get(5)?,
        alert: r.get(6)?,
        title: r.get(7)?,
        opened_at: from_millis(r.get(8)?),
        closed_at: r.get::<_, Option<i64>>(9)?.map(from_millis),
        next_due: r.get::<_, Option<i64>>(10)?.map(from_millis),
        earliest_due: r.get::<_, Option<i64>>(11)?.map(from_millis),
        data: r.get(12)?,
    })
}

fn holder(id: i64) -> String {
    format!("case:{id}")
}

impl Db {
    /// A new case id, never given before (a failed opening leaves a gap).
    pub fn next_case_id(&mut self) -> Result<i64, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stored: Option<String> =
            tx.query_row("SELECT value FROM meta WHERE key = 'case_next_id'", [], |r| r.get(0)).optional()?;
        let max: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM cases", [], |r| r.get(0))?;
        let id = stored.and_then(|s| s.parse::<i64>().ok()).unwrap_or(1).max(max + 1);
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('case_next_id', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1",
            [(id + 1).to_string()],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Writes a change of a case with everything it causes, in one transaction.
    pub fn write_case(&mut self, w: &CaseWrite<'_>, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let Some(c) = w.row else { return Err(StoreError::Invalid("a case write needs the case".into())) };
        tx.execute(
            "INSERT INTO cases (id, state, grade, classification, unit, owner, alert, title, opened_at, closed_at, \
             next_due, earliest_due, updated_at, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
             ON CONFLICT(id) DO UPDATE SET state = ?2, grade = ?3, classification = ?4, unit = ?5, owner = ?6, \
             alert = ?7, title = ?8, closed_at = ?10, next_due = ?11, earliest_due = ?12, updated_at = ?13, data = ?14",
            params![
                c.id,
                c.state,
                c.grade,
                c.classification,
                c.unit,
                c.owner,
                c.alert,
                c.title,
                millis(c.opened_at),
                c.closed_at.map(millis),
                c.next_due.map(millis),
                c.earliest_due.map(millis),
                millis(now),
                c.data
            ],
        )?;
        for (at, actor, kind, detail) in &w.entries {
            tx.execute(
                "INSERT INTO case_events (case_id, at, actor, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![c.id, millis(*at), actor, kind, detail],
            )?;
        }
        for n in &w.notifications {
            tx.execute(
                "INSERT OR IGNORE INTO outbox (key, created_at, alert, recipient, channel, subject, body, status, next_attempt) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?2)",
                params![n.key, millis(now), n.alert, n.recipient, n.channel, n.subject, n.body],
            )?;
        }
        for item in &w.holds {
            tx.execute("INSERT OR IGNORE INTO item_holds (item, holder) VALUES (?1, ?2)", params![item, holder(c.id)])?;
        }
        if w.release {
            tx.execute("DELETE FROM item_holds WHERE holder = ?1", [holder(c.id)])?;
        }
        if let Some(a) = &w.audit {
            append_in(&tx, a, now)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A case by id.
    pub fn case(&self, id: i64) -> Result<Option<CaseRow>, StoreError> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1");
        Ok(self.conn.query_row(&sql, [id], row_to_case).optional()?)
    }

    /// Cases matching `f`, newest first.
    pub fn cases(&self, f: &CaseFilter) -> Result<Vec<CaseRow>, StoreError> {
        let mut sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if !f.states.is_empty() {
            sql.push_str(" AND state IN (");
            for (i, s) in f.states.iter().enumerate() {
                arg(&mut sql, if i == 0 { "?" } else { ", ?" }, s.clone().into());
            }
            sql.push(')');
        }
        if let Some(g) = &f.grade {
            arg(&mut sql, " AND grade = ?", g.clone().into());
        }
        if let Some(c) = &f.classification {
            arg(&mut sql, " AND classification = ?", c.clone().into());
        }
        if let Some(units) = &f.units {
            if units.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(" AND unit IN (");
            for (i, u) in units.iter().enumerate() {
                arg(&mut sql, if i == 0 { "?" } else { ", ?" }, u.clone().into());
            }
            sql.push(')');
        }
        if let Some(t) = f.from {
            arg(&mut sql, " AND opened_at >= ?", millis(t).into());
        }
        if let Some(t) = f.to {
            arg(&mut sql, " AND opened_at < ?", millis(t).into());
        }
        if let Some(t) = f.overdue_at {
            arg(&mut sql, " AND earliest_due IS NOT NULL AND earliest_due < ?", millis(t).into());
        }
        if let Some(b) = f.before {
            arg(&mut sql, " AND id < ?", b.into());
        }
        arg(&mut sql, " ORDER BY id DESC LIMIT ?", (f.limit.max(1) as i64).into());
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), row_to_case)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Cases whose deadline module has something to do at or before `now`, soonest first.
    pub fn cases_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<CaseRow>, StoreError> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE next_due IS NOT NULL AND next_due <= ?1 ORDER BY next_due LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![millis(now), limit as i64], row_to_case)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Cases not closed or reviewed.
    pub fn open_cases(&self) -> Result<Vec<CaseRow>, StoreError> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE state NOT IN ('closed', 'reviewed') ORDER BY id");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], row_to_case)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A case's timeline, in order.
    pub fn case_timeline(&self, id: i64) -> Result<Vec<CaseEventRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, case_id, at, actor, kind, detail FROM case_events WHERE case_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(CaseEventRow {
                id: r.get(0)?,
                case_id: r.get(1)?,
                at: from_millis(r.get(2)?),
                actor: r.get(3)?,
                kind: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Signals on these stories after signal `after`, oldest first.
    pub fn signals_on_stories(
        &self,
        stories: &[i64],
        after: i64,
        limit: usize,
    ) -> Result<Vec<crate::Signal>, StoreError> {
        if stories.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = stories.iter().map(|s| format!("'{s}'")).collect();
        let sql = format!(
            "SELECT {} FROM signals WHERE id > ?1 AND story IN ({}) ORDER BY id LIMIT ?2",
            crate::db::SIGNAL_COLUMNS,
            list.join(", ")
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![after, limit as i64], crate::db::row_to_signal)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The highest signal id (0 without signals).
    pub fn max_signal_id(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM signals", [], |r| r.get(0))?)
    }

    /// The items of a story in `[since, until)` by the hourly volume.
    pub fn story_items_between(
        &self,
        story: i64,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(items), 0) FROM story_volume WHERE story = ?1 AND bucket >= ?2 AND bucket < ?3",
            params![story, millis(since), millis(until)],
            |r| r.get(0),
        )?)
    }

    /// Hourly mean sentiment score and item count of a story's items in `[since, until)`, by
    /// published hour.
    pub fn story_sentiment_hourly(
        &self,
        story: i64,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, i64, f64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT (i.published_at / 3600000) * 3600000 AS h, COUNT(*), AVG(a.score) FROM item_analysis a \
             JOIN items i ON i.id = a.item WHERE a.story = ?1 AND i.published_at >= ?2 AND i.published_at < ?3 \
             GROUP BY h ORDER BY h",
        )?;
        let rows = stmt.query_map(params![story, millis(since), millis(until)], |r| {
            Ok((from_millis(r.get(0)?), r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Items per hour published in `[since, until)`, with how many of them are negative:
    /// `(hour, items, negative)`, hours without items left out.
    pub fn hourly_volume(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, i64, i64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT (i.published_at / 3600000) * 3600000 AS h, COUNT(*), \
             COALESCE(SUM(a.sentiment = 'negative'), 0) FROM items i LEFT JOIN item_analysis a ON a.item = i.id \
             WHERE i.published_at >= ?1 AND i.published_at < ?2 GROUP BY h ORDER BY h",
        )?;
        let rows = stmt
            .query_map(params![millis(since), millis(until)], |r| Ok((from_millis(r.get(0)?), r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest published time of any item.
    pub fn newest_published(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let ms: Option<i64> = self.conn.query_row("SELECT MAX(published_at) FROM items", [], |r| r.get(0))?;
        Ok(ms.map(from_millis))
    }

    /// The earliest published time among these items and the items of these stories.
    pub fn first_published(&self, items: &[i64], stories: &[i64]) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut best: Option<i64> = None;
        for id in items {
            let t: Option<i64> =
                self.conn.query_row("SELECT published_at FROM items WHERE id = ?1", [id], |r| r.get(0)).optional()?;
            best = match (best, t) {
                (Some(b), Some(t)) => Some(b.min(t)),
                (b, t) => b.or(t),
            };
        }
        for s in stories {
            let t: Option<i64> = self.conn.query_row(
                "SELECT MIN(i.published_at) FROM item_analysis a JOIN items i ON i.id = a.item WHERE a.story = ?1",
                [s],
                |r| r.get(0),
            )?;
            best = match (best, t) {
                (Some(b), Some(t)) => Some(b.min(t)),
                (b, t) => b.or(t),
            };
        }
        Ok(best.map(from_millis))
    }

    /// The earliest signal on these stories (time of first detection).
    pub fn first_signal_on(&self, stories: &[i64]) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut best: Option<DateTime<Utc>> = None;
        for s in stories {
            let t: Option<i64> =
                self.conn
                    .query_row("SELECT MIN(created_at) FROM signals WHERE story = ?1", [s.to_string()], |r| r.get(0))?;
            if let Some(t) = t.map(from_millis) {
                best = Some(best.map_or(t, |b| b.min(t)));
            }
        }
        Ok(best)
    }
}
