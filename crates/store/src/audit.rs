//! The audit log (留痕): every change of state, login, search and export, appended and never
//! rewritten.
//!
//! Each entry carries the SHA-256 of its canonical encoding, which includes the previous entry's
//! hash, so the entries form a chain: altering, removing or reordering one breaks the chain at
//! that entry. The newest entry's sequence number and hash are also kept in `meta`
//! (`audit_head`), written in the same transaction, so removing the newest entries is seen too.
//! Appends take SQLite's write lock (`BEGIN IMMEDIATE`), so connections appending at once still
//! make one chain. Retention never touches this table.

use crate::db::{from_millis, millis, Db};
use crate::StoreError;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    /// Who: an account's login name, `system`, or `token:<id>` names are the caller's choice.
    pub actor: String,
    /// The client's address, when it came over the network.
    pub address: Option<String>,
    /// What was done, dotted (`topic.save`, `login.failed`, `alert.acknowledge`).
    pub action: String,
    /// What it was done to (`topic:canteen`, `alert:12`).
    pub object: String,
    /// Before/after and parameters, as JSON (kept small).
    pub detail: serde_json::Value,
}

impl NewAudit {
    /// An entry with empty details.
    pub fn new(actor: &str, address: Option<&str>, action: &str, object: &str) -> NewAudit {
        NewAudit {
            actor: actor.to_string(),
            address: address.map(str::to_string),
            action: action.to_string(),
            object: object.to_string(),
            detail: serde_json::Value::Null,
        }
    }

    /// The same entry with `detail`.
    pub fn with(mut self, detail: serde_json::Value) -> NewAudit {
        self.detail = detail;
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// From where.
    pub address: Option<String>,
    /// What.
    pub action: String,
    /// On what.
    pub object: String,
    /// Details (JSON text as stored).
    pub detail: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// Filter of [`Db::audit_entries`].
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Entries whose action starts with this.
    pub action: Option<String>,
    /// Entries by this actor.
    pub actor: Option<String>,
    /// Entries whose object starts with this.
    pub object: Option<String>,
    /// From this time.
    pub since: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only entries whose detail mentions one of these units (`"unit":"…"`); `None` for all.
    pub units: Option<Vec<String>>,
    /// Entries before this sequence number (paging backwards).
    pub before_seq: Option<i64>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AuditBreak {
    /// The first entry that does not verify (or the position where one is missing).
    pub seq: i64,
    /// Why.
    pub why: String,
}

/// The canonical encoding hashed for an entry: a JSON array of its fields in a fixed order (its
/// own hash left out), the detail as the exact stored text.
fn canonical(e: &AuditEntry) -> String {
    serde_json::json!([e.seq, millis(e.at), e.actor, e.address, e.action, e.object, e.detail, e.prev_hash]).to_string()
}

fn hash_of(encoded: &str) -> String {
    hex::encode(Sha256::digest(encoded.as_bytes()))
}

/// Appends `e` inside an open write transaction (for changes that write their audit entry with
/// the change itself). Returns the entry's sequence number.
pub fn append_in(tx: &Transaction<'_>, e: &NewAudit, now: DateTime<Utc>) -> Result<i64, StoreError> {
    let last: Option<(i64, String)> = tx
        .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let mut entry = AuditEntry {
        seq,
        at: from_millis(millis(now)),
        actor: e.actor.clone(),
        address: e.address.clone(),
        action: e.action.clone(),
        object: e.object.clone(),
        detail: e.detail.to_string(),
        prev_hash: prev,
        hash: String::new(),
    };
    entry.hash = hash_of(&canonical(&entry));
    tx.execute(
        "INSERT INTO audit (seq, at, actor, address, action, object, detail, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            entry.seq,
            millis(entry.at),
            entry.actor,
            entry.address,
            entry.action,
            entry.object,
            entry.detail,
            entry.prev_hash,
            entry.hash
        ],
    )?;
    let hash = entry.hash;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('audit_head', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1",
        [format!("{seq}:{hash}")],
    )?;
    Ok(seq)
}

fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        at: from_millis(r.get(1)?),
        actor: r.get(2)?,
        address: r.get(3)?,
        action: r.get(4)?,
        object: r.get(5)?,
        detail: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

const AUDIT_COLUMNS: &str = "seq, at, actor, address, action, object, detail, prev_hash, hash";

impl Db {
    /// Appends an entry in a transaction of its own.
    pub fn append_audit(&mut self, e: &NewAudit, now: DateTime<Utc>) -> Result<i64, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let seq = append_in(&tx, e, now)?;
        tx.commit()?;
        Ok(seq)
    }

    /// Entries matching `f`, newest first.
    pub fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut push = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        let like = |s: &str| format!("{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        if let Some(a) = &f.action {
            push(&mut sql, " AND action LIKE ? ESCAPE '\\'", like(a).into());
        }
        if let Some(a) = &f.actor {
            push(&mut sql, " AND actor = ?", a.clone().into());
        }
        if let Some(o) = &f.object {
            push(&mut sql, " AND object LIKE ? ESCAPE '\\'", like(o).into());
        }
        if let Some(t) = f.since {
            push(&mut sql, " AND at >= ?", millis(t).into());
        }
        if let Some(t) = f.until {
            push(&mut sql, " AND at < ?", millis(t).into());
        }
        if let Some(s) = f.before_seq {
            push(&mut sql, " AND seq < ?", s.into());
        }
        if let Some(units) = &f.units {
            if units.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(" AND (");
            for (i, u) in units.iter().enumerate() {
                if i > 0 {
                    sql.push_str(" OR ");
                }
                let needle = format!("%{}%", serde_json::json!({"unit": u}).to_string().trim_matches(['{', '}']));
                push(&mut sql, "detail LIKE ?", needle.into());
            }
            sql.push(')');
        }
        push(&mut sql, " ORDER BY seq DESC LIMIT ?", (f.limit.clamp(1, 10_000) as i64).into());
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), row_to_entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of entries.
    pub fn count_audit(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Walks the chain from `from_seq` (1 for all; the previous entry is trusted) and returns how
    /// many entries it checked, or where it first breaks: an entry altered (its hash no longer
    /// matches), removed (a gap in the sequence, or the recorded head is missing), or reordered
    /// (its previous hash is not the entry before it).
    pub fn verify_audit(&self, from_seq: i64) -> Result<Result<u64, AuditBreak>, StoreError> {
        let from_seq = from_seq.max(1);
        let mut prev = if from_seq == 1 {
            GENESIS.to_string()
        } else {
            match self
                .conn
                .query_row("SELECT hash FROM audit WHERE seq = ?1", [from_seq - 1], |r| r.get::<_, String>(0))
                .optional()?
            {
                Some(h) => h,
                None => return Ok(Err(AuditBreak { seq: from_seq - 1, why: "entry missing".into() })),
            }
        };
        let mut expect = from_seq;
        let mut checked = 0u64;
        let mut stmt = self.conn.prepare(&format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE seq >= ?1 ORDER BY seq"))?;
        let mut rows = stmt.query([from_seq])?;
        let mut last: Option<(i64, String)> = None;
        while let Some(r) = rows.next()? {
            let e = row_to_entry(r)?;
            if e.seq != expect {
                return Ok(Err(AuditBreak {
                    seq: expect,
                    why: format!("entry {expect} is missing (the next one is {})", e.seq),
                }));
            }
            if e.prev_hash != prev {
                return Ok(Err(AuditBreak {
                    seq: e.seq,
                    why: "its previous-entry hash does not match the entry before it (removed or reordered)".into(),
                }));
            }
            let h = hash_of(&canonical(&e));
            if h != e.hash {
                return Ok(Err(AuditBreak { seq: e.seq, why: "its content does not match its hash (altered)".into() }));
            }
            prev = e.hash.clone();
            last = Some((e.seq, e.hash));
            expect += 1;
            checked += 1;
        }
        let head = self.meta("audit_head")?;
        match (head, last) {
            (None, None) => {}
            (Some(h), last) => {
                let (hs, hh) = h.split_once(':').unwrap_or(("0", ""));
                let hs: i64 = hs.parse().unwrap_or(0);
                match last {
                    Some((s, lh)) if s == hs && lh == hh => {}
                    Some((s, _)) if s < hs => {
                        return Ok(Err(AuditBreak {
                            seq: s + 1,
                            why: format!("entries {}..={hs} are missing (the recorded newest entry is {hs})", s + 1),
                        }))
                    }
                    None if hs >= from_seq => {
                        return Ok(Err(AuditBreak {
                            seq: from_seq,
                            why: format!("entries {from_seq}..={hs} are missing"),
                        }))
                    }
                    None => {}
                    Some((s, _)) => {
                        return Ok(Err(AuditBreak {
                            seq: s,
                            why: format!("the newest entry is {s} but the recorded newest is {hs} with another hash"),
                        }))
                    }
                }
            }
            (None, Some((s, _))) => {
                return Ok(Err(AuditBreak { seq: s, why: "the recorded newest entry is missing".into() }))
            }
        }
        Ok(Ok(checked))
    }

    /// The sequence number of the newest entry (0 when empty).
    pub fn audit_head(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit", [], |r| r.get(0))?)
    }
}
