//! Who works with Tidewatch: units (责任单位), people, accounts with their grants, sessions, API
//! tokens. Secrets are never stored in the clear: passwords as argon2id hashes (computed by the
//! engine), session and API tokens as SHA-256 hashes of the random token the client holds.
//! Grants and channels are JSON chosen by the engine (this crate does not know roles).

use crate::db::{from_millis, millis, Db};
use crate::StoreError;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// A unit (责任单位).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct UnitRow {
    /// Stable id: the unit's name as topics and the rota give it (`后勤集团`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The unit above it (the leading group 领导小组 has none).
    pub parent: Option<String>,
    /// First responsible person (第一责任人), a person id.
    pub first_responsible: Option<String>,
    /// Direct responsible person (直接责任人), a person id.
    pub direct_responsible: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A person with their contact points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PersonRow {
    /// Stable id, used by the rota and escalation policies.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Language of messages: `zh` or `en`.
    pub lang: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// DingTalk user id.
    pub dingtalk: Option<String>,
    /// WeCom user id.
    pub wecom: Option<String>,
    /// Feishu user id.
    pub feishu: Option<String>,
    /// Notification channels as JSON (may hold secrets: never returned unredacted).
    pub channels: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// Row id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// The person it belongs to.
    pub person: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Grants as JSON.
    pub grants: String,
    /// Disabled accounts cannot log in and have no sessions.
    pub disabled: bool,
    /// Failed logins since the last success.
    pub failed_logins: i64,
    /// Locked until then (after too many failures).
    pub locked_until: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A session or API token found by its token, with its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The account.
    pub account: AccountRow,
    /// For sessions: the CSRF token; `None` for API tokens.
    pub csrf: Option<String>,
    /// For API tokens: the token's own grants (JSON), narrower than the account's.
    pub token_grants: Option<String>,
    /// For API tokens: the token's id.
    pub token_id: Option<i64>,
    /// When it expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// An API token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TokenRow {
    /// Row id.
    pub id: i64,
    /// Name given when created.
    pub name: String,
    /// Owner account's login name.
    pub username: String,
    /// Grants as JSON.
    pub grants: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// When revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last use.
    pub last_used: Option<DateTime<Utc>>,
}

const UNIT_COLUMNS: &str = "id, name, parent, first_responsible, direct_responsible, updated_at";
const PERSON_COLUMNS: &str = "id, name, lang, email, phone, dingtalk, wecom, feishu, channels, updated_at";
const ACCOUNT_COLUMNS: &str =
    "a.id, a.username, a.person, a.password_hash, a.grants, a.disabled, a.failed_logins, a.locked_until, a.created_at";

fn row_to_unit(r: &rusqlite::Row<'_>) -> rusqlite::Result<UnitRow> {
    Ok(UnitRow {
        id: r.get(0)?,
        name: r.get(1)?,
        parent: r.get(2)?,
        first_responsible: r.get(3)?,
        direct_responsible: r.get(4)?,
        updated_at: from_millis(r.get(5)?),
    })
}

fn row_to_person(r: &rusqlite::Row<'_>) -> rusqlite::Result<PersonRow> {
    Ok(PersonRow {
        id: r.get(0)?,
        name: r.get(1)?,
        lang: r.get(2)?,
        email: r.get(3)?,
        phone: r.get(4)?,
        dingtalk: r.get(5)?,
        wecom: r.get(6)?,
        feishu: r.get(7)?,
        channels: r.get(8)?,
        updated_at: from_millis(r.get(9)?),
    })
}

fn row_to_account(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRow> {
    Ok(AccountRow {
        id: r.get(0)?,
        username: r.get(1)?,
        person: r.get(2)?,
        password_hash: r.get(3)?,
        grants: r.get(4)?,
        disabled: r.get(5)?,
        failed_logins: r.get(6)?,
        locked_until: r.get::<_, Option<i64>>(7)?.map(from_millis),
        created_at: from_millis(r.get(8)?),
    })
}

impl Db {
    /// All units, by id.
    pub fn units(&self) -> Result<Vec<UnitRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {UNIT_COLUMNS} FROM units ORDER BY id"))?;
        let rows = stmt.query_map([], row_to_unit)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One unit.
    pub fn unit(&self, id: &str) -> Result<Option<UnitRow>, StoreError> {
        Ok(self
            .conn
            .query_row(&format!("SELECT {UNIT_COLUMNS} FROM units WHERE id = ?1"), [id], row_to_unit)
            .optional()?)
    }

    /// Adds or replaces a unit. Refuses a parent that does not exist or that would make a cycle.
    pub fn save_unit(&mut self, u: &UnitRow) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some(p) = &u.parent {
            let mut at = Some(p.clone());
            let mut steps = 0;
            while let Some(cur) = at {
                if cur == u.id {
                    return Err(StoreError::Invalid(format!("unit {}: parent {p} would make a cycle", u.id)));
                }
                let next: Option<Option<String>> =
                    tx.query_row("SELECT parent FROM units WHERE id = ?1", [&cur], |r| r.get(0)).optional()?;
                match next {
                    None if steps == 0 => return Err(StoreError::Invalid(format!("no unit {p} (the parent)"))),
                    None => break,
                    Some(n) => at = n,
                }
                steps += 1;
            }
        }
        for person in [&u.first_responsible, &u.direct_responsible].into_iter().flatten() {
            let known: bool =
                tx.query_row("SELECT EXISTS(SELECT 1 FROM people WHERE id = ?1)", [person], |r| r.get(0))?;
            if !known {
                return Err(StoreError::Invalid(format!("unit {}: no person {person}", u.id)));
            }
        }
        tx.execute(
            "INSERT INTO units (id, name, parent, first_responsible, direct_responsible, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET name = ?2, parent = ?3, \
             first_responsible = ?4, direct_responsible = ?5, updated_at = ?6",
            params![u.id, u.name, u.parent, u.first_responsible, u.direct_responsible, millis(u.updated_at)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Removes a unit that has no units under it.
    pub fn delete_unit(&mut self, id: &str) -> Result<bool, StoreError> {
        let children: i64 = self.conn.query_row("SELECT COUNT(*) FROM units WHERE parent = ?1", [id], |r| r.get(0))?;
        if children > 0 {
            return Err(StoreError::Invalid(format!("unit {id} has {children} units under it")));
        }
        Ok(self.conn.execute("DELETE FROM units WHERE id = ?1", [id])? > 0)
    }

    /// All people, by id.
    pub fn people(&self) -> Result<Vec<PersonRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {PERSON_COLUMNS} FROM people ORDER BY id"))?;
        let rows = stmt.query_map([], row_to_person)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One person.
    pub fn person(&self, id: &str) -> Result<Option<PersonRow>, StoreError> {
        Ok(self
            .conn
            .query_row(&format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = ?1"), [id], row_to_person)
            .optional()?)
    }

    /// Adds or replaces a person.
    pub fn save_person(&mut self, p: &PersonRow) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO people (id, name, lang, email, phone, dingtalk, wecom, feishu, channels, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(id) DO UPDATE SET name = ?2, lang = ?3, \
             email = ?4, phone = ?5, dingtalk = ?6, wecom = ?7, feishu = ?8, channels = ?9, updated_at = ?10",
            params![
                p.id,
                p.name,
                p.lang,
                p.email,
                p.phone,
                p.dingtalk,
                p.wecom,
                p.feishu,
                p.channels,
                millis(p.updated_at)
            ],
        )?;
        Ok(())
    }

    /// Number of accounts.
    pub fn count_accounts(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Creates an account; its id.
    pub fn create_account(
        &mut self,
        username: &str,
        person: Option<&str>,
        password_hash: &str,
        grants: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let exists: bool =
            self.conn
                .query_row("SELECT EXISTS(SELECT 1 FROM accounts WHERE username = ?1)", [username], |r| r.get(0))?;
        if exists {
            return Err(StoreError::Invalid(format!("an account {username} exists")));
        }
        self.conn.execute(
            "INSERT INTO accounts (username, person, password_hash, grants, created_at, password_changed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![username, person, password_hash, grants, millis(now)],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// All accounts, by login name.
    pub fn accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a ORDER BY a.username"))?;
        let rows = stmt.query_map([], row_to_account)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One account by login name.
    pub fn account(&self, username: &str) -> Result<Option<AccountRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.username = ?1"),
                [username],
                row_to_account,
            )
            .optional()?)
    }

    /// Sets an account's grants.
    pub fn set_account_grants(&mut self, id: i64, grants: &str) -> Result<(), StoreError> {
        self.conn.execute("UPDATE accounts SET grants = ?2 WHERE id = ?1", params![id, grants])?;
        Ok(())
    }

    /// Sets an account's person.
    pub fn set_account_person(&mut self, id: i64, person: Option<&str>) -> Result<(), StoreError> {
        self.conn.execute("UPDATE accounts SET person = ?2 WHERE id = ?1", params![id, person])?;
        Ok(())
    }

    /// Replaces the password hash and ends every session of the account.
    pub fn set_password(&mut self, id: i64, hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE accounts SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
            params![id, hash, millis(now)],
        )?;
        tx.execute("DELETE FROM sessions WHERE account = ?1", [id])?;
        tx.commit()?;
        Ok(())
    }

    /// Disables (ending every session and revoking every token) or enables an account.
    pub fn set_account_disabled(&mut self, id: i64, disabled: bool, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("UPDATE accounts SET disabled = ?2 WHERE id = ?1", params![id, disabled])?;
        if disabled {
            tx.execute("DELETE FROM sessions WHERE account = ?1", [id])?;
            tx.execute(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE account = ?1 AND revoked_at IS NULL",
                params![id, millis(now)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a failed login; locks the account until `lock_until` when given.
    pub fn record_login_failure(&mut self, id: i64, lock_until: Option<DateTime<Utc>>) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE accounts SET failed_logins = failed_logins + 1, locked_until = COALESCE(?2, locked_until) \
             WHERE id = ?1",
            params![id, lock_until.map(millis)],
        )?;
        Ok(())
    }

    /// Clears failures and any lock (after a good login, or an admin's unlock).
    pub fn clear_login_failures(&mut self, id: i64) -> Result<(), StoreError> {
        self.conn.execute("UPDATE accounts SET failed_logins = 0, locked_until = NULL WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Starts a session: `token_hash` identifies it, `csrf` guards its unsafe requests.
    pub fn create_session(
        &mut self,
        token_hash: &str,
        account: i64,
        csrf: &str,
        address: Option<&str>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO sessions (token_hash, account, csrf, created_at, last_seen, expires_at, address) \
             VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
            params![token_hash, account, csrf, millis(now), millis(expires_at), address],
        )?;
        Ok(())
    }

    /// The live session with this token hash and its account (not disabled), if any.
    pub fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Credential>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS}, s.csrf, s.expires_at FROM sessions s JOIN accounts a ON a.id = s.account \
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND a.disabled = 0"
        ))?;
        Ok(stmt
            .query_row(params![token_hash, millis(now)], |r| {
                Ok(Credential {
                    account: row_to_account(r)?,
                    csrf: Some(r.get(9)?),
                    token_grants: None,
                    token_id: None,
                    expires_at: Some(from_millis(r.get(10)?)),
                })
            })
            .optional()?)
    }

    /// Ends one session.
    pub fn delete_session(&mut self, token_hash: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])? > 0)
    }

    /// Ends every session of an account ("log out everywhere"); how many.
    pub fn delete_sessions_of(&mut self, account: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute("DELETE FROM sessions WHERE account = ?1", [account])?)
    }

    /// Removes expired sessions.
    pub fn prune_sessions(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [millis(now)])?)
    }

    /// Creates an API token; its id.
    pub fn create_token(
        &mut self,
        name: &str,
        token_hash: &str,
        account: i64,
        grants: &str,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO api_tokens (name, token_hash, account, grants, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![name, token_hash, account, grants, millis(now), expires_at.map(millis)],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The live API token with this hash and its account (not disabled), if any; records its use.
    pub fn token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Credential>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS}, t.grants, t.id, t.expires_at FROM api_tokens t JOIN accounts a ON a.id = t.account \
             WHERE t.token_hash = ?1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?2) \
             AND a.disabled = 0"
        ))?;
        let found = stmt
            .query_row(params![token_hash, millis(now)], |r| {
                Ok(Credential {
                    account: row_to_account(r)?,
                    csrf: None,
                    token_grants: Some(r.get(9)?),
                    token_id: Some(r.get(10)?),
                    expires_at: r.get::<_, Option<i64>>(11)?.map(from_millis),
                })
            })
            .optional()?;
        if let Some(c) = &found {
            self.conn
                .execute("UPDATE api_tokens SET last_used = ?2 WHERE id = ?1", params![c.token_id, millis(now)])?;
        }
        Ok(found)
    }

    /// All API tokens (without their secrets), newest first.
    pub fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.id, t.name, a.username, t.grants, t.created_at, t.expires_at, t.revoked_at, t.last_used \
             FROM api_tokens t JOIN accounts a ON a.id = t.account ORDER BY t.id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(TokenRow {
                id: r.get(0)?,
                name: r.get(1)?,
                username: r.get(2)?,
                grants: r.get(3)?,
                created_at: from_millis(r.get(4)?),
                expires_at: r.get::<_, Option<i64>>(5)?.map(from_millis),
                revoked_at: r.get::<_, Option<i64>>(6)?.map(from_millis),
                last_used: r.get::<_, Option<i64>>(7)?.map(from_millis),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes an API token.
    pub fn revoke_token(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, millis(now)],
        )? > 0)
    }
}

/// An account's workspace preferences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefs {
    /// `zh` or `en`.
    pub lang: String,
    /// The highest outbox id its inbox has shown as read.
    pub inbox_seen: i64,
}

impl Db {
    /// Account `account`'s preferences (the defaults when none were saved).
    pub fn prefs(&self, account: i64) -> Result<Prefs, StoreError> {
        let row = self
            .conn
            .query_row("SELECT lang, inbox_seen FROM account_prefs WHERE account = ?1", [account], |r| {
                Ok(Prefs { lang: r.get(0)?, inbox_seen: r.get(1)? })
            })
            .optional()?;
        Ok(row.unwrap_or(Prefs { lang: "zh".into(), inbox_seen: 0 }))
    }

    /// Saves account `account`'s language.
    pub fn set_lang(&mut self, account: i64, lang: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO account_prefs (account, lang) VALUES (?1, ?2) \
             ON CONFLICT(account) DO UPDATE SET lang = excluded.lang",
            params![account, lang],
        )?;
        Ok(())
    }

    /// Marks account `account`'s inbox read up to outbox id `upto` (never backwards).
    pub fn set_inbox_seen(&mut self, account: i64, upto: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO account_prefs (account, inbox_seen) VALUES (?1, ?2) \
             ON CONFLICT(account) DO UPDATE SET inbox_seen = MAX(inbox_seen, excluded.inbox_seen)",
            params![account, upto],
        )?;
        Ok(())
    }
}
