//! The SQLite store: items, duplicate groups, and the migrations that shape them.
//!
//! SQLite runs in WAL mode with `synchronous=FULL`: when a write transaction's `commit` returns,
//! its items survive a crash of the process or of the machine. Writes are idempotent on
//! `dedup_key` (source plus id, canonical URL or content hash).

use crate::StoreError;
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::collections::HashMap;
use std::path::Path;
use tidewatch_model::{GroupId, Item, ItemId, Lang};
use tidewatch_text::fingerprint::{MinHash, FINGERPRINT_VERSION, MINHASH_SLOTS};
use tidewatch_text::Fingerprint;

/// The migrations, in order. `PRAGMA user_version` records how many have been applied.
/// Never edit one that has shipped: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: items and duplicate groups.
    r#"
    CREATE TABLE items (
        id                 INTEGER PRIMARY KEY,
        dedup_key          TEXT NOT NULL UNIQUE,
        source             TEXT NOT NULL,
        ext_id             TEXT,
        url                TEXT,
        canonical_url      TEXT,
        title              TEXT NOT NULL,
        text               TEXT NOT NULL,
        published_at       INTEGER NOT NULL,
        published_at_known INTEGER NOT NULL,
        ingested_at        INTEGER NOT NULL,
        author             TEXT,
        lang               TEXT NOT NULL,
        simhash            INTEGER NOT NULL,
        core_hash          INTEGER NOT NULL,
        core_units         INTEGER NOT NULL,
        content_hash       INTEGER NOT NULL,
        anchor1_hash       INTEGER NOT NULL,
        anchor1_units      INTEGER NOT NULL,
        anchor2_hash       INTEGER NOT NULL,
        anchor2_units      INTEGER NOT NULL,
        group_id           INTEGER NOT NULL
    );
    CREATE INDEX items_published_at ON items(published_at);
    CREATE INDEX items_group_id ON items(group_id);
    CREATE INDEX items_canonical_url ON items(canonical_url);
    CREATE TABLE dup_groups (
        id                    INTEGER PRIMARY KEY,
        original_item         INTEGER NOT NULL,
        original_published_at INTEGER NOT NULL,
        size                  INTEGER NOT NULL,
        last_item             INTEGER NOT NULL
    );
    CREATE INDEX dup_groups_size ON dup_groups(size);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    "#,
    // 2: topics, their rule history, and the topics each item matched when it was stored.
    r#"
    CREATE TABLE topics (
        key        INTEGER PRIMARY KEY,
        id         TEXT NOT NULL UNIQUE,
        name       TEXT NOT NULL,
        rule       TEXT NOT NULL,
        unit       TEXT,
        severity   TEXT NOT NULL,
        enabled    INTEGER NOT NULL,
        version    INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE topic_versions (
        topic      INTEGER NOT NULL REFERENCES topics(key),
        version    INTEGER NOT NULL,
        name       TEXT NOT NULL,
        rule       TEXT NOT NULL,
        unit       TEXT,
        severity   TEXT NOT NULL,
        enabled    INTEGER NOT NULL,
        changed_at INTEGER NOT NULL,
        changed_by TEXT NOT NULL,
        PRIMARY KEY (topic, version)
    ) WITHOUT ROWID;
    CREATE TABLE topic_hits (
        topic        INTEGER NOT NULL REFERENCES topics(key),
        published_at INTEGER NOT NULL,
        item         INTEGER NOT NULL REFERENCES items(id),
        version      INTEGER NOT NULL,
        PRIMARY KEY (topic, published_at, item)
    ) WITHOUT ROWID;
    CREATE INDEX topic_hits_item ON topic_hits(item);
    "#,
    // 3: the state and health of live sources.
    r#"
    CREATE TABLE source_state (
        id               TEXT PRIMARY KEY,
        etag             TEXT,
        last_modified    TEXT,
        last_attempt     INTEGER,
        last_success     INTEGER,
        last_error       TEXT,
        last_error_at    INTEGER,
        failures         INTEGER NOT NULL DEFAULT 0,
        next_due         INTEGER,
        items_total      INTEGER NOT NULL DEFAULT 0,
        last_new_item_at INTEGER,
        last_entries     INTEGER,
        max_entries      INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE source_daily (
        id    TEXT NOT NULL,
        day   INTEGER NOT NULL,
        items INTEGER NOT NULL,
        PRIMARY KEY (id, day)
    ) WITHOUT ROWID;
    "#,
    // 4: signals (things worth attention, for alerting) and the last text of watched pages.
    r#"
    CREATE TABLE signals (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL,
        severity    TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        source      TEXT,
        topic       TEXT,
        story       TEXT,
        title       TEXT NOT NULL,
        explanation TEXT NOT NULL
    );
    CREATE INDEX signals_created ON signals(created_at);
    CREATE TABLE watched_pages (
        source     TEXT PRIMARY KEY,
        url        TEXT NOT NULL,
        text       TEXT NOT NULL,
        checked_at INTEGER NOT NULL
    );
    "#,
    // 5: sources configured through the API (JSON, the same fields as the TOML file).
    r#"
    CREATE TABLE source_configs (
        id         TEXT PRIMARY KEY,
        config     TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        updated_by TEXT NOT NULL
    );
    "#,
    // 6: analysis: each item's sentiment and story; stories (state as JSON), their merges, their
    // hourly volume; the state of burst series.
    r#"
    CREATE TABLE item_analysis (
        item      INTEGER PRIMARY KEY REFERENCES items(id),
        sentiment TEXT NOT NULL,
        score     REAL NOT NULL,
        story     INTEGER NOT NULL
    );
    CREATE INDEX item_analysis_story ON item_analysis(story);
    CREATE TABLE stories (
        id         INTEGER PRIMARY KEY,
        title      TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        items      INTEGER NOT NULL,
        state      TEXT NOT NULL,
        merged_into INTEGER
    );
    CREATE INDEX stories_last_seen ON stories(last_seen);
    CREATE TABLE story_lineage (
        absorbed INTEGER PRIMARY KEY,
        survivor INTEGER NOT NULL,
        at       INTEGER NOT NULL,
        kind     TEXT NOT NULL
    );
    CREATE TABLE story_volume (
        story  INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        items  INTEGER NOT NULL,
        PRIMARY KEY (story, bucket)
    ) WITHOUT ROWID;
    CREATE TABLE burst_series (
        key   TEXT PRIMARY KEY,
        state TEXT NOT NULL
    );
    "#,
    // 7: alerting: the alerts' state, the signals consumed, escalations, and the outbox of
    // notifications (written before they are sent).
    r#"
    CREATE TABLE alerting_state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE escalations (
        alert   INTEGER PRIMARY KEY,
        state   TEXT NOT NULL,
        next_at INTEGER
    );
    CREATE TABLE outbox (
        id           INTEGER PRIMARY KEY,
        key          TEXT NOT NULL UNIQUE,
        created_at   INTEGER NOT NULL,
        alert        INTEGER NOT NULL,
        recipient    TEXT NOT NULL,
        channel      TEXT NOT NULL,
        subject      TEXT NOT NULL,
        body         TEXT NOT NULL,
        status       TEXT NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        last_error   TEXT,
        sent_at      INTEGER
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt);
    CREATE INDEX outbox_alert ON outbox(alert);
    "#,
    // 8: units, people, accounts and their grants, sessions, API tokens; the hash-chained audit
    // log; retention: items held as evidence, ids purged but maybe still in the search index, and
    // the topic counts of purged hits (per hour), so counts outlive the items.
    r#"
    CREATE TABLE units (
        id                 TEXT PRIMARY KEY,
        name               TEXT NOT NULL,
        parent             TEXT REFERENCES units(id),
        first_responsible  TEXT,
        direct_responsible TEXT,
        updated_at         INTEGER NOT NULL
    );
    CREATE TABLE people (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        lang       TEXT NOT NULL,
        email      TEXT,
        phone      TEXT,
        dingtalk   TEXT,
        wecom      TEXT,
        feishu     TEXT,
        channels   TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE accounts (
        id                  INTEGER PRIMARY KEY,
        username            TEXT NOT NULL UNIQUE,
        person              TEXT,
        password_hash       TEXT NOT NULL,
        grants              TEXT NOT NULL,
        disabled            INTEGER NOT NULL DEFAULT 0,
        failed_logins       INTEGER NOT NULL DEFAULT 0,
        locked_until        INTEGER,
        created_at          INTEGER NOT NULL,
        password_changed_at INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        account    INTEGER NOT NULL REFERENCES accounts(id),
        csrf       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        address    TEXT
    );
    CREATE INDEX sessions_account ON sessions(account);
    CREATE TABLE api_tokens (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        account    INTEGER NOT NULL REFERENCES accounts(id),
        grants     TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        last_used  INTEGER
    );
    CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        address   TEXT,
        action    TEXT NOT NULL,
        object    TEXT NOT NULL,
        detail    TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    );
    CREATE INDEX audit_at ON audit(at);
    CREATE TABLE item_holds (
        item   INTEGER NOT NULL,
        holder TEXT NOT NULL,
        PRIMARY KEY (item, holder)
    ) WITHOUT ROWID;
    CREATE TABLE purge_pending (item INTEGER PRIMARY KEY);
    CREATE TABLE topic_hits_purged (
        topic INTEGER NOT NULL,
        hour  INTEGER NOT NULL,
        items INTEGER NOT NULL,
        PRIMARY KEY (topic, hour)
    ) WITHOUT ROWID;
    "#,
    // 9: cases: the case (its state machine's data as JSON, with the columns lists filter on),
    // its timeline, and the id counter (ids are never reused).
    r#"
    CREATE TABLE cases (
        id             INTEGER PRIMARY KEY,
        state          TEXT NOT NULL,
        grade          TEXT,
        classification TEXT,
        unit           TEXT NOT NULL,
        owner          TEXT,
        alert          INTEGER,
        title          TEXT NOT NULL,
        opened_at      INTEGER NOT NULL,
        closed_at      INTEGER,
        next_due       INTEGER,
        earliest_due   INTEGER,
        updated_at     INTEGER NOT NULL,
        data           TEXT NOT NULL
    );
    CREATE INDEX cases_next_due ON cases(next_due) WHERE next_due IS NOT NULL;
    CREATE INDEX cases_opened ON cases(opened_at);
    CREATE INDEX cases_alert ON cases(alert) WHERE alert IS NOT NULL;
    CREATE TABLE case_events (
        id      INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL,
        at      INTEGER NOT NULL,
        actor   TEXT,
        kind    TEXT NOT NULL,
        detail  TEXT NOT NULL
    );
    CREATE INDEX case_events_case ON case_events(case_id, id);
    "#,
    // 10: alerts and silences as rows (they were one JSON document in alerting_state): only what
    // changed is written; resolved alerts stay here (archived) and leave memory.
    r#"
    CREATE TABLE alerts (
        id         INTEGER PRIMARY KEY,
        key        TEXT NOT NULL,
        state      TEXT NOT NULL,
        story      TEXT,
        case_id    INTEGER,
        severity   TEXT NOT NULL,
        first_at   INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        data       TEXT NOT NULL
    );
    CREATE INDEX alerts_open ON alerts(state) WHERE state != 'resolved';
    CREATE TABLE silences (
        id   INTEGER PRIMARY KEY,
        ends INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    "#,
    // 11: official responses (versions, approvals, publications in the machine's JSON) and the
    // claims registry, each on a case.
    r#"
    CREATE TABLE responses (
        id         INTEGER PRIMARY KEY,
        case_id    INTEGER NOT NULL,
        state      TEXT NOT NULL,
        next_due   INTEGER,
        updated_at INTEGER NOT NULL,
        data       TEXT NOT NULL
    );
    CREATE INDEX responses_case ON responses(case_id);
    CREATE INDEX responses_due ON responses(next_due) WHERE next_due IS NOT NULL;
    CREATE TABLE claims (
        id         INTEGER PRIMARY KEY,
        case_id    INTEGER NOT NULL,
        status     TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        data       TEXT NOT NULL
    );
    CREATE INDEX claims_case ON claims(case_id);
    "#,
    // 12: the workspace: each account's language and how far it has read its inbox (the
    // notifications to its person), and the index the inbox reads by.
    r#"
    CREATE TABLE account_prefs (
        account    INTEGER PRIMARY KEY REFERENCES accounts(id),
        lang       TEXT NOT NULL DEFAULT 'zh',
        inbox_seen INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_recipient ON outbox(recipient, id);
    "#,
    // 13: topic hits in two cheap shapes instead of a row per hit in topic order (two B-tree
    // inserts at random places per hit, most of the write stage with 10,000 topics): the topics
    // of each item in one row appended in id order, and the count per topic and hour, upserted
    // once per batch. Counts no longer need a copy when retention deletes items.
    r#"
    CREATE TABLE item_topics (
        item   INTEGER PRIMARY KEY REFERENCES items(id),
        topics TEXT NOT NULL
    );
    CREATE TABLE topic_hour_hits (
        topic INTEGER NOT NULL REFERENCES topics(key),
        hour  INTEGER NOT NULL,
        items INTEGER NOT NULL,
        PRIMARY KEY (topic, hour)
    ) WITHOUT ROWID;
    INSERT INTO item_topics (item, topics)
        SELECT item, json_group_array(json_array(topic, version)) FROM topic_hits GROUP BY item;
    INSERT INTO topic_hour_hits (topic, hour, items)
        SELECT topic, (published_at / 3600000) * 3600000, COUNT(*) FROM topic_hits GROUP BY 1, 2;
    INSERT INTO topic_hour_hits (topic, hour, items)
        SELECT topic, hour, items FROM topic_hits_purged WHERE true
        ON CONFLICT(topic, hour) DO UPDATE SET items = items + excluded.items;
    DROP TABLE topic_hits;
    DROP TABLE topic_hits_purged;
    "#,
    // 14: the biggest stories without a scan and sort of every story (118 ms at a million items).
    r#"
    CREATE INDEX stories_size ON stories(items DESC, id) WHERE merged_into IS NULL;
    "#,
    // 15: the MinHash signature of short items' cores (64 bytes, little-endian u32 slots; NULL
    // for cores outside the signature's length range). Items stored before it get theirs when
    // the pipeline re-fingerprints the store (see `Db::refingerprint`).
    r#"
    ALTER TABLE items ADD COLUMN minhash BLOB;
    "#,
];

/// A MinHash signature as stored: its slots as little-endian `u32`s.
fn minhash_blob(sig: &Option<MinHash>) -> Option<Vec<u8>> {
    sig.as_ref().map(|s| s.iter().flat_map(|v| v.to_le_bytes()).collect())
}

/// A stored signature; anything but 64 bytes reads as none (the item then takes part in
/// duplicate detection through its other hashes only).
fn minhash_from_blob(blob: Option<Vec<u8>>) -> Option<MinHash> {
    let blob = blob?;
    if blob.len() != MINHASH_SLOTS * 4 {
        return None;
    }
    let mut sig = [0u32; MINHASH_SLOTS];
    for (slot, b) in sig.iter_mut().zip(blob.chunks_exact(4)) {
        *slot = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    Some(sig)
}

/// The topics an item matched and their versions, as stored in `item_topics`: `[[key, version], …]`.
fn pack_topic_hits(hits: &[(TopicKey, i64)]) -> String {
    let mut out = String::with_capacity(hits.len() * 12 + 2);
    out.push('[');
    for (i, (key, version)) in hits.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("[{},{version}]", key.0));
    }
    out.push(']');
    out
}

fn unpack_topic_hits(packed: &str) -> Result<Vec<(TopicKey, i64)>, StoreError> {
    let pairs: Vec<(i64, i64)> =
        serde_json::from_str(packed).map_err(|e| StoreError::Corrupt(format!("item_topics: {e}")))?;
    Ok(pairs.into_iter().map(|(k, v)| (TopicKey(k), v)).collect())
}

/// The start of the hour a time falls in, in milliseconds (the bucket of topic hit counts).
pub fn hour_of(at: DateTime<Utc>) -> i64 {
    millis(at) / crate::retention::HOUR_MS * crate::retention::HOUR_MS
}

/// A stored item with its store-assigned fields.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    /// Store id.
    pub id: ItemId,
    /// Duplicate group.
    pub group: GroupId,
    /// When it was stored.
    pub ingested_at: DateTime<Utc>,
    /// The item.
    pub item: Item,
}

/// A duplicate group with its original item.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    /// Group id.
    pub id: GroupId,
    /// Number of members.
    pub size: u64,
    /// The earliest published member.
    pub original: StoredItem,
}

/// What is needed to rebuild the in-memory duplicate finder.
#[derive(Debug, Clone, Copy)]
pub struct DedupRow<'a> {
    /// Item id.
    pub id: ItemId,
    /// Its group.
    pub group: GroupId,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// Canonical URL.
    pub canonical_url: Option<&'a str>,
}

/// The item database.
#[derive(Debug)]
pub struct Db {
    pub(crate) conn: Connection,
}

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub(crate) const SIGNAL_COLUMNS: &str = "id, kind, severity, created_at, source, topic, story, title, explanation";

pub(crate) fn row_to_signal(r: &rusqlite::Row<'_>) -> rusqlite::Result<Signal> {
    Ok(Signal {
        id: r.get(0)?,
        kind: r.get(1)?,
        severity: r.get(2)?,
        created_at: from_millis(r.get(3)?),
        source: r.get(4)?,
        topic: r.get(5)?,
        story: r.get(6)?,
        title: r.get(7)?,
        explanation: r.get(8)?,
    })
}

/// The highest item id ever given: retention may delete the newest items, but ids never come
/// back (`item_id_floor` is the highest id when a purge ran).
pub(crate) const MAX_ITEM_ID: &str = "MAX(COALESCE((SELECT MAX(id) FROM items), 0), \
     COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'item_id_floor'), 0))";

const ITEM_COLUMNS: &str = "id, group_id, ingested_at, source, ext_id, url, canonical_url, title, text, published_at, \
     published_at_known, author, lang, simhash, content_hash, dedup_key";

fn row_to_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredItem> {
    let lang: String = r.get(12)?;
    Ok(StoredItem {
        id: ItemId(r.get(0)?),
        group: GroupId(r.get(1)?),
        ingested_at: from_millis(r.get(2)?),
        item: Item {
            source: r.get(3)?,
            ext_id: r.get(4)?,
            url: r.get(5)?,
            canonical_url: r.get(6)?,
            title: r.get(7)?,
            text: r.get(8)?,
            published_at: from_millis(r.get(9)?),
            published_at_known: r.get(10)?,
            author: r.get(11)?,
            lang: Lang::from_tag(&lang).unwrap_or(Lang::Other),
            simhash: r.get::<_, i64>(13)? as u64,
            content_hash: r.get::<_, i64>(14)? as u64,
            dedup_key: r.get(15)?,
        },
    })
}

const TOPIC_COLUMNS: &str = "key, id, name, rule, unit, severity, enabled, version, updated_at";

fn row_to_topic(r: &rusqlite::Row<'_>) -> rusqlite::Result<TopicRecord> {
    Ok(TopicRecord {
        key: TopicKey(r.get(0)?),
        def: TopicDraft {
            id: r.get(1)?,
            name: r.get(2)?,
            rule: r.get(3)?,
            unit: r.get(4)?,
            severity: r.get(5)?,
            enabled: r.get(6)?,
        },
        version: r.get(7)?,
        updated_at: from_millis(r.get(8)?),
    })
}

fn save_topic_in(
    tx: &Transaction<'_>,
    draft: &TopicDraft,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(TopicRecord, bool), StoreError> {
    let current = tx
        .query_row(&format!("SELECT {TOPIC_COLUMNS} FROM topics WHERE id = ?1"), [&draft.id], row_to_topic)
        .optional()?;
    let unchanged = current.as_ref().is_some_and(|c| c.def == *draft);
    if unchanged {
        return Ok((current.expect("checked above"), false));
    }
    let version = current.as_ref().map(|c| c.version + 1).unwrap_or(1);
    let key = match &current {
        Some(c) => {
            tx.execute(
                "UPDATE topics SET name = ?2, rule = ?3, unit = ?4, severity = ?5, enabled = ?6, version = ?7, \
                 updated_at = ?8 WHERE key = ?1",
                params![
                    c.key.0,
                    draft.name,
                    draft.rule,
                    draft.unit,
                    draft.severity,
                    draft.enabled,
                    version,
                    millis(now)
                ],
            )?;
            c.key.0
        }
        None => {
            tx.execute(
                "INSERT INTO topics (id, name, rule, unit, severity, enabled, version, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    draft.id,
                    draft.name,
                    draft.rule,
                    draft.unit,
                    draft.severity,
                    draft.enabled,
                    version,
                    millis(now)
                ],
            )?;
            tx.last_insert_rowid()
        }
    };
    tx.execute(
        "INSERT INTO topic_versions (topic, version, name, rule, unit, severity, enabled, changed_at, changed_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![key, version, draft.name, draft.rule, draft.unit, draft.severity, draft.enabled, millis(now), by],
    )?;
    let saved = tx.query_row(&format!("SELECT {TOPIC_COLUMNS} FROM topics WHERE key = ?1"), [key], row_to_topic)?;
    Ok((saved, true))
}

impl Db {
    /// Opens (creating if needed) `tidewatch.db` in `dir` and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Db, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let conn = Connection::open(dir.join("tidewatch.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mut db = Db { conn };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::SchemaTooNew { found: version, known });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version (number of migrations applied).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Starts a write transaction.
    pub fn writer(&mut self) -> Result<WriteTx<'_>, StoreError> {
        // IMMEDIATE: take the write lock now, so that the next id cannot be taken by another writer.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let next_id: i64 = tx.query_row(&format!("SELECT {MAX_ITEM_ID} + 1"), [], |r| r.get(0))?;
        Ok(WriteTx { tx, next_id })
    }

    /// Calls `f` for every stored item's duplicate-detection data, in id order.
    pub fn for_each_dedup_row(&self, mut f: impl FnMut(DedupRow<'_>)) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, group_id, simhash, core_hash, core_units, content_hash, canonical_url, \
             anchor1_hash, anchor1_units, anchor2_hash, anchor2_units, minhash FROM items ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let url: Option<String> = r.get(6)?;
            f(DedupRow {
                id: ItemId(r.get(0)?),
                group: GroupId(r.get(1)?),
                fingerprint: Fingerprint {
                    simhash: r.get::<_, i64>(2)? as u64,
                    core_hash: r.get::<_, i64>(3)? as u64,
                    core_units: r.get::<_, i64>(4)? as u32,
                    content_hash: r.get::<_, i64>(5)? as u64,
                    anchors: [
                        (r.get::<_, i64>(7)? as u64, r.get::<_, i64>(8)? as u32),
                        (r.get::<_, i64>(9)? as u64, r.get::<_, i64>(10)? as u32),
                    ],
                    minhash: minhash_from_blob(r.get(11)?),
                },
                canonical_url: url.as_deref(),
            });
        }
        Ok(())
    }

    /// Recomputes every stored item's fingerprint from its title and text when the store's were
    /// made by another version of the scheme ([`FINGERPRINT_VERSION`]), so that new items are
    /// compared with old ones on equal terms. Groups stay as they are. Runs in transactions of
    /// 10,000 items and records the version at the end: interrupted, it starts again; run twice,
    /// the second run does nothing. Returns the number of items recomputed.
    pub fn refingerprint(&mut self) -> Result<u64, StoreError> {
        const KEY: &str = "fingerprint_version";
        let want = FINGERPRINT_VERSION.to_string();
        if self.meta(KEY)?.as_deref() == Some(want.as_str()) {
            return Ok(0);
        }
        let mut done = 0u64;
        let mut after = i64::MIN;
        loop {
            let tx = self.conn.transaction()?;
            let batch: Vec<(i64, String, String)> = {
                let mut stmt = tx.prepare("SELECT id, title, text FROM items WHERE id > ?1 ORDER BY id LIMIT 10000")?;
                let rows = stmt.query_map([after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            {
                let mut update = tx.prepare_cached(
                    "UPDATE items SET simhash = ?2, core_hash = ?3, core_units = ?4, anchor1_hash = ?5, \
                     anchor1_units = ?6, anchor2_hash = ?7, anchor2_units = ?8, minhash = ?9 WHERE id = ?1",
                )?;
                for (id, title, text) in &batch {
                    let fp = tidewatch_text::fingerprint_stored(title, text);
                    update.execute(params![
                        id,
                        fp.simhash as i64,
                        fp.core_hash as i64,
                        fp.core_units as i64,
                        fp.anchors[0].0 as i64,
                        fp.anchors[0].1 as i64,
                        fp.anchors[1].0 as i64,
                        fp.anchors[1].1 as i64,
                        minhash_blob(&fp.minhash),
                    ])?;
                }
            }
            if batch.is_empty() {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![KEY, want],
                )?;
                tx.commit()?;
                return Ok(done);
            }
            tx.commit()?;
            done += batch.len() as u64;
            after = batch.last().expect("non-empty").0;
        }
    }

    /// Number of stored items.
    pub fn count_items(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM items", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// The highest item id, 0 when empty.
    pub fn max_item_id(&self) -> Result<ItemId, StoreError> {
        Ok(ItemId(self.conn.query_row(&format!("SELECT {MAX_ITEM_ID}"), [], |r| r.get(0))?))
    }

    /// Items by id (missing ids are skipped), in the order asked.
    pub fn items_by_ids(&self, ids: &[ItemId]) -> Result<Vec<StoredItem>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1"))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(item) = stmt.query_row([id.0], row_to_item).optional()? {
                out.push(item);
            }
        }
        Ok(out)
    }

    /// Items with id greater than `after`, at most `limit`, in id order.
    pub fn items_after(&self, after: ItemId, limit: usize) -> Result<Vec<StoredItem>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {ITEM_COLUMNS} FROM items WHERE id > ?1 ORDER BY id LIMIT ?2"))?;
        let rows = stmt.query_map(params![after.0, limit as i64], row_to_item)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest items by publication time.
    pub fn newest_items(&self, limit: usize) -> Result<Vec<StoredItem>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items ORDER BY published_at DESC, id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map(params![limit as i64], row_to_item)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Duplicate groups with at least `min_size` members, largest first.
    pub fn largest_groups(&self, min_size: u64, limit: usize) -> Result<Vec<GroupView>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, size, original_item FROM dup_groups WHERE size >= ?1 ORDER BY size DESC, id DESC LIMIT ?2",
        )?;
        let heads: Vec<(i64, i64, i64)> = stmt
            .query_map(params![min_size as i64, limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(heads.len());
        for (id, size, original) in heads {
            if let Some(original) = self.items_by_ids(&[ItemId(original)])?.pop() {
                out.push(GroupView { id: GroupId(id), size: size as u64, original });
            }
        }
        Ok(out)
    }

    /// Members of a group, earliest published first.
    pub fn group_members(&self, group: GroupId, limit: usize) -> Result<Vec<StoredItem>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE group_id = ?1 ORDER BY published_at, id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![group.0, limit as i64], row_to_item)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sizes of the given groups.
    pub fn group_sizes(&self, groups: &[GroupId]) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT size FROM dup_groups WHERE id = ?1")?;
        groups
            .iter()
            .map(|g| Ok(stmt.query_row([g.0], |r| r.get::<_, i64>(0)).optional()?.unwrap_or(0) as u64))
            .collect()
    }

    /// Reads a value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    /// Writes a value of the `meta` table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Removes a setting.
    pub fn delete_meta(&self, key: &str) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
        Ok(())
    }

    /// The state of a source (a default one when it was never polled).
    pub fn source_state(&self, id: &str) -> Result<SourceState, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, etag, last_modified, last_attempt, last_success, last_error, last_error_at, failures, \
             next_due, items_total, last_new_item_at, last_entries, max_entries FROM source_state WHERE id = ?1",
        )?;
        let t = |v: Option<i64>| v.map(from_millis);
        let found = stmt
            .query_row([id], |r| {
                Ok(SourceState {
                    id: r.get(0)?,
                    etag: r.get(1)?,
                    last_modified: r.get(2)?,
                    last_attempt: t(r.get(3)?),
                    last_success: t(r.get(4)?),
                    last_error: r.get(5)?,
                    last_error_at: t(r.get(6)?),
                    failures: r.get(7)?,
                    next_due: t(r.get(8)?),
                    items_total: r.get(9)?,
                    last_new_item_at: t(r.get(10)?),
                    last_entries: r.get(11)?,
                    max_entries: r.get(12)?,
                })
            })
            .optional()?;
        Ok(found.unwrap_or_else(|| SourceState { id: id.to_string(), ..Default::default() }))
    }

    /// Saves a source's state and adds `new_items` to its count for the day of `now`.
    pub fn save_source_state(
        &mut self,
        st: &SourceState,
        new_items: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let m = |v: Option<DateTime<Utc>>| v.map(millis);
        tx.execute(
            "INSERT INTO source_state (id, etag, last_modified, last_attempt, last_success, last_error, last_error_at, \
             failures, next_due, items_total, last_new_item_at, last_entries, max_entries) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
             ON CONFLICT(id) DO UPDATE SET etag = ?2, last_modified = ?3, last_attempt = ?4, last_success = ?5, \
             last_error = ?6, last_error_at = ?7, failures = ?8, next_due = ?9, items_total = ?10, \
             last_new_item_at = ?11, last_entries = ?12, max_entries = ?13",
            params![
                st.id,
                st.etag,
                st.last_modified,
                m(st.last_attempt),
                m(st.last_success),
                st.last_error,
                m(st.last_error_at),
                st.failures,
                m(st.next_due),
                st.items_total,
                m(st.last_new_item_at),
                st.last_entries,
                st.max_entries
            ],
        )?;
        if new_items > 0 {
            let day = millis(now).div_euclid(86_400_000);
            tx.execute(
                "INSERT INTO source_daily (id, day, items) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(id, day) DO UPDATE SET items = items + ?3",
                params![st.id, day, new_items],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// New items a source brought per UTC day over the `days` days before `now` (oldest first).
    pub fn source_daily(&self, id: &str, days: i64, now: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        let today = millis(now).div_euclid(86_400_000);
        let mut out = vec![0i64; days.max(0) as usize];
        let mut stmt =
            self.conn.prepare_cached("SELECT day, items FROM source_daily WHERE id = ?1 AND day > ?2 AND day <= ?3")?;
        let mut rows = stmt.query(params![id, today - days, today])?;
        while let Some(r) = rows.next()? {
            let (day, n): (i64, i64) = (r.get(0)?, r.get(1)?);
            let i = (days - 1 - (today - day)) as usize;
            if let Some(slot) = out.get_mut(i) {
                *slot = n;
            }
        }
        Ok(out)
    }

    /// Stores a signal; returns its id.
    pub fn add_signal(&mut self, s: &Signal) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO signals (kind, severity, created_at, source, topic, story, title, explanation) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![s.kind, s.severity, millis(s.created_at), s.source, s.topic, s.story, s.title, s.explanation],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The newest signals first.
    pub fn signals(&self, limit: usize) -> Result<Vec<Signal>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {SIGNAL_COLUMNS} FROM signals ORDER BY id DESC LIMIT ?1"))?;
        let rows = stmt.query_map([limit as i64], row_to_signal)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The text a watched page had when last checked.
    pub fn watched_page(&self, source: &str) -> Result<Option<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT text FROM watched_pages WHERE source = ?1")?;
        Ok(stmt.query_row([source], |r| r.get(0)).optional()?)
    }

    /// Records a watched page's text.
    pub fn set_watched_page(
        &mut self,
        source: &str,
        url: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO watched_pages (source, url, text, checked_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(source) DO UPDATE SET url = ?2, text = ?3, checked_at = ?4",
            params![source, url, text, millis(now)],
        )?;
        Ok(())
    }

    /// Sources configured through the API: (id, JSON configuration), by id.
    pub fn api_sources(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT id, config FROM source_configs ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Saves a source configured through the API.
    pub fn save_api_source(&mut self, id: &str, config: &str, by: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO source_configs (id, config, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(id) DO UPDATE SET config = ?2, updated_at = ?3, updated_by = ?4",
            params![id, config, millis(now), by],
        )?;
        Ok(())
    }

    /// Removes a source configured through the API; false when there was none.
    pub fn delete_api_source(&mut self, id: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute("DELETE FROM source_configs WHERE id = ?1", [id])? > 0)
    }

    /// Every topic, by id.
    pub fn topics(&self) -> Result<Vec<TopicRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {TOPIC_COLUMNS} FROM topics ORDER BY id"))?;
        let rows = stmt.query_map([], row_to_topic)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One topic by id.
    pub fn topic(&self, id: &str) -> Result<Option<TopicRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {TOPIC_COLUMNS} FROM topics WHERE id = ?1"))?;
        Ok(stmt.query_row([id], row_to_topic).optional()?)
    }

    /// Saves a topic: a new one gets version 1; a changed one gets the next version, and the old
    /// definition stays in its history; an unchanged one is left alone. Returns the topic as
    /// stored and whether anything changed.
    pub fn save_topic(
        &mut self,
        draft: &TopicDraft,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(TopicRecord, bool), StoreError> {
        Ok(self.save_topics(std::slice::from_ref(draft), by, now)?.remove(0))
    }

    /// Saves several topics in one transaction (see [`Db::save_topic`]).
    pub fn save_topics(
        &mut self,
        drafts: &[TopicDraft],
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(TopicRecord, bool)>, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = drafts.iter().map(|d| save_topic_in(&tx, d, by, now)).collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(out)
    }

    /// A topic's history, oldest first.
    pub fn topic_versions(&self, key: TopicKey) -> Result<Vec<TopicVersion>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT v.version, t.id, v.name, v.rule, v.unit, v.severity, v.enabled, v.changed_at, v.changed_by \
             FROM topic_versions v JOIN topics t ON t.key = v.topic WHERE v.topic = ?1 ORDER BY v.version",
        )?;
        let rows = stmt.query_map([key.0], |r| {
            Ok(TopicVersion {
                version: r.get(0)?,
                def: TopicDraft {
                    id: r.get(1)?,
                    name: r.get(2)?,
                    rule: r.get(3)?,
                    unit: r.get(4)?,
                    severity: r.get(5)?,
                    enabled: r.get(6)?,
                },
                changed_at: from_millis(r.get(7)?),
                changed_by: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The number of items that matched a topic, per bucket of `bucket_ms` milliseconds
    /// (aligned on `since`), for items published in `since..until`. Empty buckets included.
    pub fn topic_hit_counts(
        &self,
        key: TopicKey,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        bucket_ms: i64,
    ) -> Result<Vec<(DateTime<Utc>, u64)>, StoreError> {
        let (a, b) = (millis(since), millis(until));
        let bucket_ms = bucket_ms.max(1);
        let n = ((b - a).max(0) + bucket_ms - 1) / bucket_ms;
        let mut counts = vec![0u64; n as usize];
        // Counts are kept per hour: the hour that holds `since` counts from its start.
        let mut stmt = self.conn.prepare_cached(
            "SELECT (MAX(hour, ?2) - ?2) / ?4, SUM(items) FROM topic_hour_hits \
             WHERE topic = ?1 AND hour > ?2 - ?5 AND hour < ?3 GROUP BY 1",
        )?;
        let mut rows = stmt.query(params![key.0, a, b, bucket_ms, crate::retention::HOUR_MS])?;
        while let Some(r) = rows.next()? {
            let (i, c): (i64, i64) = (r.get(0)?, r.get(1)?);
            if let Some(slot) = counts.get_mut(i as usize) {
                *slot += c as u64;
            }
        }
        Ok(counts.into_iter().enumerate().map(|(i, c)| (from_millis(a + i as i64 * bucket_ms), c)).collect())
    }

    /// The ids of the topics each item matched, for items `ids` (used when indexing).
    pub fn topics_of_items(&self, ids: &[ItemId]) -> Result<Vec<Vec<String>>, StoreError> {
        let names: HashMap<i64, String> = {
            let mut stmt = self.conn.prepare_cached("SELECT key, id FROM topics")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut stmt = self.conn.prepare_cached("SELECT topics FROM item_topics WHERE item = ?1")?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let packed: Option<String> = stmt.query_row([id.0], |r| r.get(0)).optional()?;
            let mut topics: Vec<String> = match packed {
                Some(p) => unpack_topic_hits(&p)?.into_iter().filter_map(|(k, _)| names.get(&k.0).cloned()).collect(),
                None => Vec::new(),
            };
            topics.sort();
            out.push(topics);
        }
        Ok(out)
    }

    /// Calls `f` on every item published in `since..until`, in publication order, until it
    /// returns false.
    pub fn for_each_item_published(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        mut f: impl FnMut(StoredItem) -> bool,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE published_at >= ?1 AND published_at < ?2 ORDER BY published_at, id"
        ))?;
        let mut rows = stmt.query(params![millis(since), millis(until)])?;
        while let Some(r) = rows.next()? {
            if !f(row_to_item(r)?) {
                break;
            }
        }
        Ok(())
    }

    /// Runs SQLite's integrity check; `Ok(())` when the database is sound.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let r: String = self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if r == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt(r))
        }
    }
}

/// The store's key of a topic (its row), distinct from the user-facing id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicKey(pub i64);

/// A topic as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TopicRecord {
    /// Store key.
    #[serde(skip)]
    pub key: TopicKey,
    /// Its current definition.
    #[serde(flatten)]
    pub def: TopicDraft,
    /// Version of the current definition (1 for the first).
    pub version: i64,
    /// When the current version was saved.
    pub updated_at: DateTime<Utc>,
}

/// The editable part of a topic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TopicDraft {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The rule's source text (checked by the caller).
    pub rule: String,
    /// Owning unit.
    pub unit: Option<String>,
    /// Alert severity.
    pub severity: String,
    /// Whether items are matched against it.
    pub enabled: bool,
}

/// One saved version of a topic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TopicVersion {
    /// Version number.
    pub version: i64,
    /// The definition saved.
    #[serde(flatten)]
    pub def: TopicDraft,
    /// When it was saved.
    pub changed_at: DateTime<Utc>,
    /// Who saved it.
    pub changed_by: String,
}

/// What the store remembers about a live source between polls.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct SourceState {
    /// Source id.
    pub id: String,
    /// `ETag` of the last full response.
    pub etag: Option<String>,
    /// `Last-Modified` of the last full response.
    pub last_modified: Option<String>,
    /// Last poll.
    pub last_attempt: Option<DateTime<Utc>>,
    /// Last poll that succeeded (200 or 304).
    pub last_success: Option<DateTime<Utc>>,
    /// The last error, if the last poll failed.
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Failures in a row.
    pub failures: i64,
    /// When the source is next due.
    pub next_due: Option<DateTime<Utc>>,
    /// Items it ever brought that were new.
    pub items_total: i64,
    /// When it last brought a new item.
    pub last_new_item_at: Option<DateTime<Utc>>,
    /// Entries in its last full response.
    pub last_entries: Option<i64>,
    /// The most entries it ever had in one response.
    pub max_entries: i64,
}

/// Something worth attention, written for the alerting to consume.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Signal {
    /// Store id (0 before it is stored).
    pub id: i64,
    /// `site_change`, `forbidden_term`, … (the analysis adds more).
    pub kind: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// When it was raised.
    pub created_at: DateTime<Utc>,
    /// The source it concerns.
    pub source: Option<String>,
    /// The topic it concerns.
    pub topic: Option<String>,
    /// The story it concerns.
    pub story: Option<String>,
    /// One line for people.
    pub title: String,
    /// Why it was raised (for a site change: the diff).
    pub explanation: String,
}

/// A write transaction. Nothing is visible or durable until [`WriteTx::commit`] returns.
pub struct WriteTx<'a> {
    pub(crate) tx: Transaction<'a>,
    next_id: i64,
}

/// What became of an item handed to [`WriteTx::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored under this id, in this group.
    New(ItemId, GroupId),
    /// An item with the same key was already stored.
    Existing(ItemId),
}

impl WriteTx<'_> {
    /// The stored item with this idempotency key, if any, with its content hash.
    pub fn existing(&self, dedup_key: &str) -> Result<Option<(ItemId, u64)>, StoreError> {
        let mut stmt = self.tx.prepare_cached("SELECT id, content_hash FROM items WHERE dedup_key = ?1")?;
        Ok(stmt.query_row([dedup_key], |r| Ok((ItemId(r.get(0)?), r.get::<_, i64>(1)? as u64))).optional()?)
    }

    /// The id the next inserted item will get.
    pub fn next_id(&self) -> ItemId {
        ItemId(self.next_id)
    }

    /// Stores an item with its fingerprint, in `group` when given, else as the original of a
    /// new group.
    pub fn insert(
        &mut self,
        item: &Item,
        fp: &Fingerprint,
        group: Option<GroupId>,
        now: DateTime<Utc>,
    ) -> Result<Inserted, StoreError> {
        if let Some((id, _)) = self.existing(&item.dedup_key)? {
            return Ok(Inserted::Existing(id));
        }
        let id = self.next_id;
        let group_id = group.map(|g| g.0).unwrap_or(id);
        let published = millis(item.published_at);
        {
            let mut stmt = self.tx.prepare_cached(
                "INSERT INTO items (id, dedup_key, source, ext_id, url, canonical_url, title, text, published_at, \
                 published_at_known, ingested_at, author, lang, simhash, core_hash, core_units, content_hash, \
                 anchor1_hash, anchor1_units, anchor2_hash, anchor2_units, group_id, minhash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
            )?;
            stmt.execute(params![
                id,
                item.dedup_key,
                item.source,
                item.ext_id,
                item.url,
                item.canonical_url,
                item.title,
                item.text,
                published,
                item.published_at_known,
                millis(now),
                item.author,
                item.lang.as_str(),
                item.simhash as i64,
                fp.core_hash as i64,
                fp.core_units as i64,
                item.content_hash as i64,
                fp.anchors[0].0 as i64,
                fp.anchors[0].1 as i64,
                fp.anchors[1].0 as i64,
                fp.anchors[1].1 as i64,
                group_id,
                minhash_blob(&fp.minhash),
            ])?;
        }
        if group.is_some() {
            let mut stmt = self.tx.prepare_cached(
                "UPDATE dup_groups SET size = size + 1, last_item = ?2, \
                 original_item = CASE WHEN ?3 < original_published_at THEN ?2 ELSE original_item END, \
                 original_published_at = MIN(original_published_at, ?3) WHERE id = ?1",
            )?;
            let changed = stmt.execute(params![group_id, id, published])?;
            if changed == 0 {
                return Err(StoreError::Corrupt(format!("duplicate group {group_id} does not exist")));
            }
        } else {
            let mut stmt = self.tx.prepare_cached(
                "INSERT INTO dup_groups (id, original_item, original_published_at, size, last_item) VALUES (?1, ?1, ?2, 1, ?1)",
            )?;
            stmt.execute(params![id, published])?;
        }
        self.next_id += 1;
        Ok(Inserted::New(ItemId(id), GroupId(group_id)))
    }

    /// Records that item `id`, published at `published`, matched these topics (by key, with the
    /// version of the rule that matched).
    pub fn insert_topic_hits(&mut self, id: ItemId, hits: &[(TopicKey, i64)]) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached("INSERT OR IGNORE INTO item_topics (item, topics) VALUES (?1, ?2)")?;
        stmt.execute(params![id.0, pack_topic_hits(hits)])?;
        Ok(())
    }

    /// Adds to the per-hour count of topics' hits: `(topic, hour start in ms, items)`. The
    /// pipeline sums a batch's hits and calls this once per batch.
    pub fn add_topic_hour_hits(&mut self, counts: &[(TopicKey, i64, u64)]) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO topic_hour_hits (topic, hour, items) VALUES (?1, ?2, ?3) \
             ON CONFLICT(topic, hour) DO UPDATE SET items = items + excluded.items",
        )?;
        for (topic, hour, n) in counts {
            stmt.execute(params![topic.0, hour, *n as i64])?;
        }
        Ok(())
    }

    /// Makes the transaction's writes durable.
    pub fn commit(self) -> Result<(), StoreError> {
        self.tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data directory at schema 12 (a hit row per item and topic, purged hits per hour) keeps
    /// its counts and each item's topics through migration 13.
    #[test]
    fn topic_hits_move_to_item_rows_and_hourly_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tidewatch.db");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..12] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 12).unwrap();
            for (key, id) in [(1, "canteen"), (2, "exams")] {
                conn.execute(
                    "INSERT INTO topics (key, id, name, rule, severity, enabled, version, updated_at) \
                     VALUES (?1, ?2, ?2, 'x', 'medium', 1, 1, 0)",
                    params![key, id],
                )
                .unwrap();
            }
            let hour = 3_600_000i64;
            for item in 1..=3i64 {
                conn.execute(
                    "INSERT INTO items (id, dedup_key, source, title, text, published_at, published_at_known, \
                     ingested_at, lang, simhash, core_hash, core_units, content_hash, anchor1_hash, anchor1_units, \
                     anchor2_hash, anchor2_units, group_id) VALUES (?1, ?1, 's', '', 't', ?2, 1, 0, 'zh', 0, 0, 0, 0, 0, 0, 0, 0, ?1)",
                    params![item, 100 * hour + item * 60_000],
                )
                .unwrap();
            }
            // Item 1 matched both topics, items 2 and 3 the first; one more hit was purged an hour later.
            for (topic, item) in [(1, 1), (2, 1), (1, 2), (1, 3)] {
                conn.execute(
                    "INSERT INTO topic_hits (topic, item, version, published_at) VALUES (?1, ?2, 1, ?3)",
                    params![topic, item, 100 * hour + item * 60_000],
                )
                .unwrap();
            }
            conn.execute("INSERT INTO topic_hits_purged (topic, hour, items) VALUES (1, ?1, 5)", [101 * hour]).unwrap();
        }
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let topics = db.topics_of_items(&[ItemId(1), ItemId(2), ItemId(4)]).unwrap();
        assert_eq!(topics, vec![vec!["canteen".to_string(), "exams".to_string()], vec!["canteen".to_string()], vec![]]);
        let since = from_millis(100 * 3_600_000);
        let counts = db.topic_hit_counts(TopicKey(1), since, since + chrono::Duration::hours(2), 3_600_000).unwrap();
        assert_eq!(counts.iter().map(|c| c.1).collect::<Vec<_>>(), vec![3, 5]);
        let counts = db.topic_hit_counts(TopicKey(2), since, since + chrono::Duration::hours(2), 3_600_000).unwrap();
        assert_eq!(counts.iter().map(|c| c.1).collect::<Vec<_>>(), vec![1, 0]);
        // A window starting inside the hour counts that hour's hits.
        let counts = db
            .topic_hit_counts(
                TopicKey(1),
                since + chrono::Duration::minutes(30),
                since + chrono::Duration::hours(2),
                86_400_000,
            )
            .unwrap();
        assert_eq!(counts.iter().map(|c| c.1).sum::<u64>(), 8);
    }

    /// A store of schema 14 with fingerprints of the first scheme gets its items'
    /// fingerprints recomputed (with a MinHash signature for the short one), its groups and
    /// content hashes kept; a second run changes nothing.
    #[test]
    fn old_fingerprints_are_recomputed_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tidewatch.db");
        let texts = ["热水停了三天，没人来修，大家怎么看？", &"第三食堂的饭菜卫生问题一直没有解决。".repeat(12)];
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..14] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 14).unwrap();
            for (id, text) in (1..).zip(texts) {
                conn.execute(
                    "INSERT INTO items (id, dedup_key, source, title, text, published_at, published_at_known, \
                     ingested_at, lang, simhash, core_hash, core_units, content_hash, anchor1_hash, anchor1_units, \
                     anchor2_hash, anchor2_units, group_id) VALUES (?1, ?1, 's', '', ?2, 0, 1, 0, 'zh', 1, 2, 3, 77, 4, 5, 6, 7, 1)",
                    params![id, text],
                )
                .unwrap();
            }
        }
        let mut db = Db::open(dir.path()).unwrap();
        assert_eq!(db.refingerprint().unwrap(), 2);
        let mut rows = Vec::new();
        db.for_each_dedup_row(|r| rows.push((r.group, r.fingerprint))).unwrap();
        for ((group, fp), text) in rows.iter().zip(texts) {
            let want = tidewatch_text::fingerprint_stored("", text);
            assert_eq!(*group, GroupId(1));
            // The content hash is the idempotency key of items without id or URL: kept.
            assert_eq!(fp.content_hash, 77);
            assert_eq!(
                (fp.simhash, fp.core_hash, fp.core_units, fp.anchors),
                (want.simhash, want.core_hash, want.core_units, want.anchors)
            );
            assert_eq!(fp.minhash, want.minhash);
        }
        assert!(rows[0].1.minhash.is_some(), "a short core has a signature");
        assert!(rows[1].1.minhash.is_none(), "a long one has none");
        assert_eq!(db.refingerprint().unwrap(), 0);
        drop(db);
        assert_eq!(Db::open(dir.path()).unwrap().refingerprint().unwrap(), 0);
    }
}
