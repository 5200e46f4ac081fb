//! What the analysis keeps: per-item sentiment and story, stories and their lineage, story
//! volume per hour, and the state of burst series.

use crate::db::{from_millis, millis, row_to_signal, Db, WriteTx, SIGNAL_COLUMNS};
use crate::StoreError;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use tidewatch_model::ItemId;

/// One story as listed: the columns kept beside its state.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct StoryRow {
    /// Story id.
    pub id: i64,
    /// Title (its most representative item).
    pub title: String,
    /// First item's publication time.
    pub first_seen: DateTime<Utc>,
    /// Last item's publication time.
    pub last_seen: DateTime<Utc>,
    /// Number of items.
    pub items: i64,
    /// The full state (JSON written by the analysis).
    pub state: String,
    /// The story it was merged into, if it was.
    pub merged_into: Option<i64>,
}

/// A merge (or split) in a story's lineage.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Lineage {
    /// The id that went away (merge) or was split off (split).
    pub absorbed: i64,
    /// The id it now resolves to (merge) or came from (split).
    pub survivor: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// `merge` or `split`.
    pub kind: String,
}

fn row_to_story(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoryRow> {
    Ok(StoryRow {
        id: r.get(0)?,
        title: r.get(1)?,
        first_seen: from_millis(r.get(2)?),
        last_seen: from_millis(r.get(3)?),
        items: r.get(4)?,
        state: r.get(5)?,
        merged_into: r.get(6)?,
    })
}

const STORY_COLUMNS: &str = "id, title, first_seen, last_seen, items, state, merged_into";

impl WriteTx<'_> {
    /// Records an item's sentiment and story.
    pub fn insert_analysis(&mut self, item: ItemId, sentiment: &str, score: f32, story: i64) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO item_analysis (item, sentiment, score, story) VALUES (?1, ?2, ?3, ?4)",
        )?;
        stmt.execute(params![item.0, sentiment, score as f64, story])?;
        Ok(())
    }

    /// Writes a story's current state.
    pub fn upsert_story(
        &mut self,
        id: i64,
        title: &str,
        first_seen: DateTime<Utc>,
        last_seen: DateTime<Utc>,
        items: i64,
        state: &str,
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO stories (id, title, first_seen, last_seen, items, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT(id) DO UPDATE SET title = ?2, first_seen = ?3, last_seen = ?4, items = ?5, state = ?6",
        )?;
        stmt.execute(params![id, title, millis(first_seen), millis(last_seen), items, state])?;
        Ok(())
    }

    /// Records that `absorbed` was merged into `survivor`: the lineage, the redirect, and the
    /// items and volume of `absorbed` moved to `survivor`.
    pub fn merge_story(&mut self, absorbed: i64, survivor: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT OR REPLACE INTO story_lineage (absorbed, survivor, at, kind) VALUES (?1, ?2, ?3, 'merge')",
            params![absorbed, survivor, millis(at)],
        )?;
        self.tx.execute("UPDATE stories SET merged_into = ?2 WHERE id = ?1", params![absorbed, survivor])?;
        self.tx.execute("UPDATE item_analysis SET story = ?2 WHERE story = ?1", params![absorbed, survivor])?;
        self.tx.execute(
            "INSERT INTO story_volume (story, bucket, items) SELECT ?2, bucket, items FROM story_volume WHERE story = ?1 \
             ON CONFLICT(story, bucket) DO UPDATE SET items = story_volume.items + excluded.items",
            params![absorbed, survivor],
        )?;
        self.tx.execute("DELETE FROM story_volume WHERE story = ?1", params![absorbed])?;
        Ok(())
    }

    /// Adds `n` items to a story's volume in the hour starting at `bucket`.
    pub fn add_story_volume(&mut self, story: i64, bucket: DateTime<Utc>, n: i64) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO story_volume (story, bucket, items) VALUES (?1, ?2, ?3) \
             ON CONFLICT(story, bucket) DO UPDATE SET items = items + ?3",
        )?;
        stmt.execute(params![story, millis(bucket), n])?;
        Ok(())
    }

    /// Writes the state of a burst series.
    pub fn save_series(&mut self, key: &str, state: &str) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO burst_series (key, state) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET state = ?2",
        )?;
        stmt.execute(params![key, state])?;
        Ok(())
    }

    /// Forgets a burst series.
    pub fn drop_series(&mut self, key: &str) -> Result<(), StoreError> {
        self.tx.execute("DELETE FROM burst_series WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Stores a signal inside the transaction; returns its id.
    pub fn add_signal(&mut self, s: &crate::Signal) -> Result<i64, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO signals (kind, severity, created_at, source, topic, story, title, explanation) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        stmt.execute(params![
            s.kind,
            s.severity,
            millis(s.created_at),
            s.source,
            s.topic,
            s.story,
            s.title,
            s.explanation
        ])?;
        Ok(self.tx.last_insert_rowid())
    }
}

impl Db {
    /// Stories not merged away whose last item is at or after `since`, most recent first.
    pub fn stories_since(&self, since: DateTime<Utc>, limit: usize) -> Result<Vec<StoryRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {STORY_COLUMNS} FROM stories WHERE last_seen >= ?1 AND merged_into IS NULL \
             ORDER BY last_seen DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![millis(since), limit as i64], row_to_story)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The biggest stories (by items) active at or after `since`.
    pub fn top_stories(&self, since: DateTime<Utc>, limit: usize) -> Result<Vec<StoryRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {STORY_COLUMNS} FROM stories WHERE last_seen >= ?1 AND merged_into IS NULL \
             ORDER BY items DESC, id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![millis(since), limit as i64], row_to_story)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A story by id, following merges to the survivor.
    pub fn story(&self, mut id: i64) -> Result<Option<StoryRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {STORY_COLUMNS} FROM stories WHERE id = ?1"))?;
        for _ in 0..1000 {
            let Some(row) = stmt.query_row([id], row_to_story).optional()? else { return Ok(None) };
            match row.merged_into {
                Some(next) if next != id => id = next,
                _ => return Ok(Some(row)),
            }
        }
        Err(StoreError::Corrupt(format!("story {id}: merge chain does not end")))
    }

    /// Every merge and split recorded.
    pub fn story_lineage(&self) -> Result<Vec<Lineage>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT absorbed, survivor, at, kind FROM story_lineage ORDER BY at")?;
        let rows = stmt.query_map([], |r| {
            Ok(Lineage { absorbed: r.get(0)?, survivor: r.get(1)?, at: from_millis(r.get(2)?), kind: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The merges into a story (its lineage).
    pub fn merged_into(&self, survivor: i64) -> Result<Vec<Lineage>, StoreError> {
        Ok(self.story_lineage()?.into_iter().filter(|l| l.survivor == survivor).collect())
    }

    /// A story's items per hour over `since..until` (bucket start, items), oldest first.
    pub fn story_volume(
        &self,
        story: i64,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, i64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT bucket, items FROM story_volume WHERE story = ?1 AND bucket >= ?2 AND bucket < ?3 ORDER BY bucket",
        )?;
        let rows =
            stmt.query_map(params![story, millis(since), millis(until)], |r| Ok((from_millis(r.get(0)?), r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The items of a story, newest first.
    pub fn story_items(&self, story: i64, limit: usize) -> Result<Vec<ItemId>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.item FROM item_analysis a JOIN items i ON i.id = a.item WHERE a.story = ?1 \
             ORDER BY i.published_at DESC, i.id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![story, limit as i64], |r| Ok(ItemId(r.get(0)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Near-duplicate groups and the story of their latest item, for items published at or after
    /// `since` (to restore the story clustering).
    pub fn group_stories_since(&self, since: DateTime<Utc>) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.group_id, a.story FROM items i JOIN item_analysis a ON a.item = i.id \
             WHERE i.published_at >= ?1 ORDER BY i.id",
        )?;
        let rows = stmt.query_map([millis(since)], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The highest story id ever used (merged ones included), 0 when none.
    pub fn max_story_id(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT MAX(COALESCE((SELECT MAX(id) FROM stories), 0), COALESCE((SELECT MAX(absorbed) FROM story_lineage), 0))",
            [],
            |r| r.get(0),
        )?)
    }

    /// The sentiment label and story of each of `items` that has its analysis.
    pub fn analysis_of(&self, items: &[i64]) -> Result<std::collections::HashMap<i64, (String, i64)>, StoreError> {
        let mut out = std::collections::HashMap::new();
        let mut stmt = self.conn.prepare_cached("SELECT sentiment, story FROM item_analysis WHERE item = ?1")?;
        for id in items {
            if let Some(row) = stmt.query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).optional()? {
                out.insert(*id, row);
            }
        }
        Ok(out)
    }

    /// The story an item was placed in (following merges), if it has been analysed.
    pub fn story_of(&self, item: ItemId) -> Result<Option<i64>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT story FROM item_analysis WHERE item = ?1")?;
        let Some(story) = stmt.query_row([item.0], |r| r.get::<_, i64>(0)).optional()? else { return Ok(None) };
        Ok(self.story(story)?.map(|s| s.id).or(Some(story)))
    }

    /// Every burst series' saved state.
    pub fn burst_series(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT key, state FROM burst_series")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Signals of one kind, newest first.
    pub fn signals_of_kind(&self, kind: &str, limit: usize) -> Result<Vec<crate::Signal>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SIGNAL_COLUMNS} FROM signals WHERE kind = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![kind, limit as i64], row_to_signal)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
