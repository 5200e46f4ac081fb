//! Retention (DESIGN.md §3): items past the retention period are deleted with their authors,
//! topic hits and analysis; aggregates stay (story volumes, per-hour topic counts, stories,
//! signals, alerts, the audit log).
//!
//! A purge deletes in batches, each one transaction. Topic counts are kept per topic and hour
//! apart from the items (`topic_hour_hits`), so they do not change. The ids deleted from
//! the store are written to `purge_pending` in the same transaction; the engine deletes them from
//! the search index, commits it, and only then clears them, so a kill anywhere leaves work that
//! the next run finishes. Items held as evidence (`item_holds`, e.g. by an open case) are kept.

use crate::db::{millis, Db};
use crate::StoreError;
use chrono::{DateTime, Utc};
use rusqlite::params;
use tidewatch_model::ItemId;

/// One hour, in milliseconds (the bucket of topic hit counts).
pub const HOUR_MS: i64 = 3_600_000;

impl Db {
    /// Deletes up to `limit` items published and stored before `cutoff` that nothing holds.
    /// Returns the ids deleted (also recorded in `purge_pending`, and added to the count in
    /// `meta` `retention_purged`, in the same transaction).
    pub fn purge_items_before(&mut self, cutoff: DateTime<Utc>, limit: usize) -> Result<Vec<ItemId>, StoreError> {
        let c = millis(cutoff);
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let ids: Vec<i64> = {
            let mut stmt = tx.prepare(
                "SELECT id FROM items WHERE published_at < ?1 AND ingested_at < ?1 \
                 AND id NOT IN (SELECT item FROM item_holds) ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![c, limit as i64], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        tx.execute(
            &format!(
                "INSERT INTO meta (key, value) VALUES ('item_id_floor', CAST({} AS TEXT)) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                crate::db::MAX_ITEM_ID
            ),
            [],
        )?;
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS purge_batch (id INTEGER PRIMARY KEY); DELETE FROM purge_batch;",
        )?;
        {
            let mut ins = tx.prepare("INSERT INTO purge_batch (id) VALUES (?1)")?;
            for id in &ids {
                ins.execute([id])?;
            }
        }
        tx.execute("DELETE FROM item_topics WHERE item IN (SELECT id FROM purge_batch)", [])?;
        tx.execute("DELETE FROM item_analysis WHERE item IN (SELECT id FROM purge_batch)", [])?;
        tx.execute("DELETE FROM items WHERE id IN (SELECT id FROM purge_batch)", [])?;
        // A duplicate group keeps its size (how many copies were seen); its original becomes the
        // earliest member left, if any.
        tx.execute(
            "UPDATE dup_groups SET original_item = COALESCE((SELECT i.id FROM items i WHERE i.group_id = dup_groups.id \
             ORDER BY i.published_at, i.id LIMIT 1), original_item) WHERE original_item IN (SELECT id FROM purge_batch)",
            [],
        )?;
        tx.execute("INSERT OR IGNORE INTO purge_pending (item) SELECT id FROM purge_batch", [])?;
        // How many this run deleted, counted in the transaction that deletes them.
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('retention_purged', ?1) \
             ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + ?1 AS TEXT)",
            [ids.len() as i64],
        )?;
        tx.execute("DELETE FROM purge_batch", [])?;
        tx.commit()?;
        Ok(ids.into_iter().map(ItemId).collect())
    }

    /// Ids deleted from the store but perhaps not yet from the search index.
    pub fn purge_pending(&self) -> Result<Vec<ItemId>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT item FROM purge_pending ORDER BY item")?;
        let rows = stmt.query_map([], |r| r.get(0).map(ItemId))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets pending ids once the index no longer holds them.
    pub fn clear_purge_pending(&mut self, ids: &[ItemId]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut del = tx.prepare("DELETE FROM purge_pending WHERE item = ?1")?;
            for id in ids {
                del.execute([id.0])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Holds `item` as evidence for `holder` (`case:12`): retention keeps it until released.
    pub fn hold_item(&mut self, item: ItemId, holder: &str) -> Result<(), StoreError> {
        self.conn
            .execute("INSERT OR IGNORE INTO item_holds (item, holder) VALUES (?1, ?2)", params![item.0, holder])?;
        Ok(())
    }

    /// Releases every item `holder` holds (when its case closes).
    pub fn release_holds(&mut self, holder: &str) -> Result<usize, StoreError> {
        Ok(self.conn.execute("DELETE FROM item_holds WHERE holder = ?1", [holder])?)
    }

    /// Whether an item with this id is stored.
    pub fn item_exists(&self, id: ItemId) -> Result<bool, StoreError> {
        Ok(self.conn.query_row("SELECT EXISTS(SELECT 1 FROM items WHERE id = ?1)", [id.0], |r| r.get(0))?)
    }
}
