//! Accounts, logins, sessions and API tokens; the directory of units and people.
//!
//! Passwords are hashed with argon2id (RustCrypto `argon2`, its default parameters: 19 MiB,
//! 2 passes) and checked against a minimum length and a list of common passwords. Session and
//! API tokens are 32 random bytes the client holds; the store keeps only their SHA-256, so a copy
//! of the database does not let anyone in. Every change here is written to the audit log with
//! the actor who made it.
//!
//! Throttling: [`LoginPolicy::max_failures`] wrong passwords in a row lock an account for
//! [`LoginPolicy::lockout`]; while locked even the right password is refused, and an admin can
//! unlock it. Throttling per address is the server's (it sees the addresses).

use crate::EngineError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::OnceLock;
use tidewatch_store::{AccountRow, Credential, Db, NewAudit, PersonRow, UnitRow};
use tidewatch_workflow::access::{Grant, Grants, Role, UnitTree};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (argon2 takes any length; this bounds the work per request).
pub const MAX_PASSWORD_CHARS: usize = 256;

static COMMON: &str = include_str!("../data/common-passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect())
}

/// Why a password is refused, or `Ok`.
pub fn check_password_policy(username: &str, password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!("the password has {n} characters; at least {MIN_PASSWORD_CHARS} are needed"));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!("the password is longer than {MAX_PASSWORD_CHARS} characters"));
    }
    let lower = password.to_lowercase();
    let stripped = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    let common = common_passwords();
    if common.contains(lower.as_str()) || (stripped.len() >= 6 && common.contains(stripped)) {
        return Err("the password is on the list of common passwords".into());
    }
    // (Names of fewer than 4 characters are inside too many honest pass phrases to refuse them.)
    if username.chars().count() >= 4 && lower.contains(&username.to_lowercase()) {
        return Err("the password contains the login name".into());
    }
    if password.chars().collect::<HashSet<_>>().len() < 4 {
        return Err("the password repeats too few characters".into());
    }
    Ok(())
}

/// The argon2id hash of `password` (a PHC string with its salt).
pub fn hash_password(password: &str) -> Result<String, EngineError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| EngineError::Config(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches `hash`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash to verify against when the account does not exist, so that unknown names take as long
/// as wrong passwords.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password("tidewatch-dummy-password").unwrap_or_default())
}

/// A new random secret: `prefix` and 32 random bytes in hex.
pub fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    format!("{prefix}{}", hex::encode(b))
}

/// A generated password for a new account (printed once).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 18];
    OsRng.fill_bytes(&mut b);
    b.iter().map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char).collect()
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Login limits.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    /// Wrong passwords in a row before the account locks.
    pub max_failures: i64,
    /// How long it stays locked.
    pub lockout: Duration,
    /// How long a session lives.
    pub session: Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy { max_failures: 5, lockout: Duration::minutes(15), session: Duration::hours(12) }
    }
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// Unknown name or wrong password (not told apart).
    #[error("wrong login name or password")]
    Wrong,
    /// Too many failures: locked until then.
    #[error("the account is locked until {0} after too many failed logins; an admin can unlock it")]
    Locked(DateTime<Utc>),
    /// The account is disabled.
    #[error("the account is disabled")]
    Disabled,
}

/// A session just started: the secrets go to the client once.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session token (the cookie's value).
    pub token: String,
    /// The CSRF token the page sends with unsafe requests.
    pub csrf: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// Who logged in.
    pub actor: Actor,
}

/// How an actor proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A session cookie; unsafe requests must carry this CSRF token.
    Session {
        /// The session's CSRF token.
        csrf: String,
        /// The SHA-256 of the session token (to end it).
        token_hash: String,
    },
    /// An API token (no CSRF: it is never sent by a browser on its own).
    Token {
        /// The token's id.
        id: i64,
    },
    /// The command line, on the machine itself.
    Local,
}

/// Someone acting: the account, the person, what they hold, and how they came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Account id.
    pub account: i64,
    /// Login name (what the audit log records).
    pub username: String,
    /// The person the account belongs to.
    pub person: Option<String>,
    /// The roles held, for units or all.
    pub grants: Grants,
    /// Session, token or command line.
    pub via: Via,
}

impl Actor {
    /// The command line acting on the machine (it can open the data directory anyway).
    pub fn local(username: &str) -> Actor {
        Actor {
            account: 0,
            username: format!("cli:{username}"),
            person: None,
            grants: Grants(vec![Grant { role: Role::Admin, unit: None }]),
            via: Via::Local,
        }
    }
}

/// Parses stored grants (JSON).
pub fn parse_grants(json: &str) -> Grants {
    serde_json::from_str(json).unwrap_or_default()
}

fn grants_json(g: &Grants) -> String {
    serde_json::to_string(g).unwrap_or_else(|_| "[]".into())
}

/// The unit tree from the store.
pub fn unit_tree(db: &Db) -> Result<UnitTree, EngineError> {
    let units = db.units()?;
    Ok(UnitTree::new(units.iter().map(|u| (u.id.as_str(), u.parent.as_deref()))))
}

fn actor_of(c: &Credential, tree: &UnitTree) -> Actor {
    let account_grants = parse_grants(&c.account.grants);
    let (grants, via) = match (&c.token_grants, c.token_id) {
        (Some(tg), Some(id)) => (parse_grants(tg).narrowed_to(&account_grants, tree), Via::Token { id }),
        _ => (account_grants, Via::Session { csrf: c.csrf.clone().unwrap_or_default(), token_hash: String::new() }),
    };
    Actor { account: c.account.id, username: c.account.username.clone(), person: c.account.person.clone(), grants, via }
}

/// Checks a login and starts a session. Failures are audited and count towards the lockout.
pub fn login(
    db: &mut Db,
    username: &str,
    password: &str,
    address: Option<&str>,
    policy: LoginPolicy,
    now: DateTime<Utc>,
) -> Result<Result<NewSession, LoginError>, EngineError> {
    let account = db.account(username)?;
    let failed = |db: &mut Db, why: &str| -> Result<(), EngineError> {
        db.append_audit(
            &NewAudit::new(username, address, "login.failed", &format!("account:{username}"))
                .with(serde_json::json!({"why": why})),
            now,
        )?;
        Ok(())
    };
    let Some(a) = account else {
        let _ = verify_password(dummy_hash(), password);
        failed(db, "unknown account")?;
        return Ok(Err(LoginError::Wrong));
    };
    if a.disabled {
        let _ = verify_password(dummy_hash(), password);
        failed(db, "disabled")?;
        return Ok(Err(LoginError::Disabled));
    }
    if let Some(until) = a.locked_until.filter(|u| *u > now) {
        let _ = verify_password(dummy_hash(), password);
        failed(db, "locked")?;
        return Ok(Err(LoginError::Locked(until)));
    }
    if !verify_password(&a.password_hash, password) {
        let failures = if a.locked_until.is_some() { 1 } else { a.failed_logins + 1 };
        if a.locked_until.is_some() {
            // A lock that expired: counting starts again.
            db.clear_login_failures(a.id)?;
        }
        let lock = (failures >= policy.max_failures).then(|| now + policy.lockout);
        db.record_login_failure(a.id, lock)?;
        failed(db, "wrong password")?;
        if let Some(until) = lock {
            db.append_audit(
                &NewAudit::new("system", address, "account.locked", &format!("account:{username}"))
                    .with(serde_json::json!({"until": until, "failures": failures})),
                now,
            )?;
        }
        return Ok(Err(LoginError::Wrong));
    }
    db.clear_login_failures(a.id)?;
    let token = random_token("tws_");
    let csrf = random_token("");
    let expires_at = now + policy.session;
    let th = token_hash(&token);
    db.create_session(&th, a.id, &csrf, address, now, expires_at)?;
    db.append_audit(&NewAudit::new(&a.username, address, "login", &format!("account:{}", a.username)), now)?;
    let actor = Actor {
        account: a.id,
        username: a.username.clone(),
        person: a.person.clone(),
        grants: parse_grants(&a.grants),
        via: Via::Session { csrf: csrf.clone(), token_hash: th },
    };
    Ok(Ok(NewSession { token, csrf, expires_at, actor }))
}

/// The actor of a session token, if it is live.
pub fn session_actor(db: &Db, token: &str, now: DateTime<Utc>) -> Result<Option<Actor>, EngineError> {
    let th = token_hash(token);
    let Some(c) = db.session(&th, now)? else { return Ok(None) };
    let mut actor = actor_of(&c, &UnitTree::default());
    if let Via::Session { token_hash, .. } = &mut actor.via {
        *token_hash = th;
    }
    Ok(Some(actor))
}

/// The actor of an API token, if it is live (its grants narrowed to its account's).
pub fn token_actor(db: &Db, token: &str, now: DateTime<Utc>) -> Result<Option<Actor>, EngineError> {
    let Some(c) = db.token(&token_hash(token), now)? else { return Ok(None) };
    Ok(Some(actor_of(&c, &unit_tree(db)?)))
}

/// Ends the actor's session (logout); with `everywhere`, every session of the account.
pub fn logout(
    db: &mut Db,
    actor: &Actor,
    everywhere: bool,
    address: Option<&str>,
    now: DateTime<Utc>,
) -> Result<usize, EngineError> {
    let n = if everywhere {
        db.delete_sessions_of(actor.account)?
    } else if let Via::Session { token_hash, .. } = &actor.via {
        usize::from(db.delete_session(token_hash)?)
    } else {
        0
    };
    let action = if everywhere { "logout.everywhere" } else { "logout" };
    db.append_audit(
        &NewAudit::new(&actor.username, address, action, &format!("account:{}", actor.username))
            .with(serde_json::json!({"sessions_ended": n})),
        now,
    )?;
    Ok(n)
}

fn valid_name(kind: &str, s: &str) -> Result<(), EngineError> {
    let ok = !s.is_empty()
        && s.chars().count() <= 64
        && s.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(EngineError::Config(format!("{kind} {s:?}: 1–64 letters, digits, '-', '_', '.' or '@'")))
    }
}

fn check_grants(db: &Db, grants: &Grants) -> Result<(), EngineError> {
    for g in &grants.0 {
        if let Some(u) = &g.unit {
            if db.unit(u)?.is_none() {
                return Err(EngineError::Config(format!("grant {g}: no unit {u}")));
            }
        }
    }
    Ok(())
}

/// An account to create.
#[derive(Debug, Clone, Copy)]
pub struct NewAccount<'a> {
    /// Login name.
    pub username: &'a str,
    /// Its password (checked against the policy, then hashed).
    pub password: &'a str,
    /// Roles held.
    pub grants: &'a Grants,
    /// The person it belongs to.
    pub person: Option<&'a str>,
}

/// Creates an account (the password checked against the policy). Audited as `by`'s.
pub fn create_account(
    db: &mut Db,
    by: &Actor,
    address: Option<&str>,
    new: NewAccount<'_>,
    now: DateTime<Utc>,
) -> Result<i64, EngineError> {
    let NewAccount { username, password, grants, person } = new;
    valid_name("login name", username)?;
    check_password_policy(username, password).map_err(EngineError::Config)?;
    check_grants(db, grants)?;
    if let Some(p) = person {
        if db.person(p)?.is_none() {
            return Err(EngineError::Config(format!("no person {p}")));
        }
    }
    let hash = hash_password(password)?;
    let id = db.create_account(username, person, &hash, &grants_json(grants), now).map_err(store_invalid)?;
    db.append_audit(
        &NewAudit::new(&by.username, address, "account.create", &format!("account:{username}"))
            .with(serde_json::json!({"grants": grants, "person": person})),
        now,
    )?;
    Ok(id)
}

fn store_invalid(e: tidewatch_store::StoreError) -> EngineError {
    match e {
        tidewatch_store::StoreError::Invalid(m) => EngineError::Config(m),
        other => other.into(),
    }
}

/// An account by name, or a clear error.
pub fn account(db: &Db, username: &str) -> Result<AccountRow, EngineError> {
    db.account(username)?.ok_or_else(|| EngineError::NotFound(format!("no account {username}")))
}

/// What an admin changes about an account.
#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    /// New grants.
    pub grants: Option<Grants>,
    /// Disable (ends its sessions and revokes its tokens at once) or enable.
    pub disabled: Option<bool>,
    /// Lift a lockout.
    pub unlock: bool,
    /// New password.
    pub password: Option<String>,
    /// The person it belongs to (`Some(None)` to clear).
    pub person: Option<Option<String>>,
}

/// Applies `change` to an account, each part audited.
pub fn change_account(
    db: &mut Db,
    by: &Actor,
    address: Option<&str>,
    username: &str,
    change: AccountChange,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    let a = account(db, username)?;
    let object = format!("account:{username}");
    let audit = |db: &mut Db, action: &str, detail: serde_json::Value| -> Result<(), EngineError> {
        db.append_audit(&NewAudit::new(&by.username, address, action, &object).with(detail), now)?;
        Ok(())
    };
    if let Some(p) = &change.password {
        check_password_policy(username, p).map_err(EngineError::Config)?;
    }
    if let Some(g) = &change.grants {
        check_grants(db, g)?;
        db.set_account_grants(a.id, &grants_json(g))?;
        audit(db, "account.grants", serde_json::json!({"before": parse_grants(&a.grants), "after": g}))?;
    }
    if let Some(Some(p)) = &change.person {
        if db.person(p)?.is_none() {
            return Err(EngineError::Config(format!("no person {p}")));
        }
    }
    if let Some(p) = &change.person {
        db.set_account_person(a.id, p.as_deref())?;
        audit(db, "account.person", serde_json::json!({"before": a.person, "after": p}))?;
    }
    if let Some(d) = change.disabled {
        db.set_account_disabled(a.id, d, now)?;
        audit(db, if d { "account.disable" } else { "account.enable" }, serde_json::Value::Null)?;
    }
    if change.unlock {
        db.clear_login_failures(a.id)?;
        audit(db, "account.unlock", serde_json::json!({"failed_logins": a.failed_logins}))?;
    }
    if let Some(p) = &change.password {
        db.set_password(a.id, &hash_password(p)?, now)?;
        audit(db, "account.password", serde_json::Value::Null)?;
    }
    Ok(())
}

/// An API token to create.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    /// The account it acts as.
    pub username: &'a str,
    /// A name to recognise it by.
    pub name: &'a str,
    /// Roles it holds: at most the account's.
    pub grants: &'a Grants,
    /// When it stops working (never when `None`).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates an API token for an account, holding at most the account's grants. Returns its id
/// and the token, shown once.
pub fn create_token(
    db: &mut Db,
    by: &Actor,
    address: Option<&str>,
    new: NewToken<'_>,
    now: DateTime<Utc>,
) -> Result<(i64, String), EngineError> {
    let NewToken { username, name, grants, expires_at } = new;
    let a = account(db, username)?;
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(EngineError::Config("token name: 1–100 characters".into()));
    }
    let held = parse_grants(&a.grants);
    let narrowed = grants.narrowed_to(&held, &unit_tree(db)?);
    if narrowed != *grants {
        return Err(EngineError::Config(format!(
            "account {username} does not hold every grant asked for; it holds {}",
            held.0.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    let token = random_token("twt_");
    let id = db.create_token(name, &token_hash(&token), a.id, &grants_json(grants), now, expires_at)?;
    db.append_audit(
        &NewAudit::new(&by.username, address, "token.create", &format!("token:{id}"))
            .with(serde_json::json!({"account": username, "name": name, "grants": grants, "expires_at": expires_at})),
        now,
    )?;
    Ok((id, token))
}

/// Revokes an API token.
pub fn revoke_token(
    db: &mut Db,
    by: &Actor,
    address: Option<&str>,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    if !db.revoke_token(id, now)? {
        return Err(EngineError::NotFound(format!("no live token {id}")));
    }
    db.append_audit(&NewAudit::new(&by.username, address, "token.revoke", &format!("token:{id}")), now)?;
    Ok(())
}

/// Adds or replaces a unit, audited with before and after.
pub fn save_unit(
    db: &mut Db,
    by: &Actor,
    address: Option<&str>,
    unit: UnitRow,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    if unit.id.trim().is_empty() || unit.id.chars().count() > 100 {
        return Err(EngineError::Config("unit id: 1–100 characters".into()));
    }
    let before = db.unit(&unit.id)?;
    db.save_unit(&unit).map_err(store_invalid)?;
    db.append_audit(
        &NewAudit::new(&by.username, address, "unit.save", &format!("unit:{}", unit.id))
            .with(serde_json::json!({"unit": unit.id, "before": before, "after": unit})),
        now,
    )?;
    Ok(())
}

/// Adds or replaces a person, audited (channels with secrets are not copied into the log).
pub fn save_person(
    db: &mut Db,
    by: &Actor,
    address: Option<&str>,
    person: PersonRow,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    valid_name("person id", &person.id)?;
    if !matches!(person.lang.as_str(), "zh" | "en") {
        return Err(EngineError::Config(format!("person {}: lang must be zh or en", person.id)));
    }
    let existed = db.person(&person.id)?.is_some();
    db.save_person(&person)?;
    db.append_audit(
        &NewAudit::new(&by.username, address, "person.save", &format!("person:{}", person.id))
            .with(serde_json::json!({"created": !existed, "name": person.name})),
        now,
    )?;
    Ok(())
}

/// Imports the people and units of `alerting.toml` into the store, once per data directory
/// (later edits go through the API and the command line). Returns `(people, units)` imported,
/// or `None` when the import already ran.
pub fn import_alerting_directory(
    db: &mut Db,
    config: &crate::alerting::AlertingConfig,
    now: DateTime<Utc>,
) -> Result<Option<(usize, usize)>, EngineError> {
    if db.meta("alerting_directory_imported")?.is_some() {
        return Ok(None);
    }
    let system = Actor::local("import");
    let system = Actor { username: "system".into(), ..system };
    let mut people = 0;
    for p in &config.person {
        if db.person(&p.id)?.is_some() {
            continue;
        }
        let email = p.channels.iter().find_map(|c| match c {
            tidewatch_workflow::notify::Channel::Email { to } => Some(to.clone()),
            _ => None,
        });
        let row = PersonRow {
            id: p.id.clone(),
            name: if p.name.is_empty() { p.id.clone() } else { p.name.clone() },
            lang: serde_json::to_value(p.lang).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or("zh".into()),
            email,
            phone: None,
            dingtalk: None,
            wecom: None,
            feishu: None,
            channels: serde_json::to_string(&p.channels).unwrap_or_else(|_| "[]".into()),
            updated_at: now,
        };
        db.save_person(&row)?;
        people += 1;
    }
    let mut units = 0;
    for u in &config.unit {
        if db.unit(&u.id)?.is_some() {
            continue;
        }
        db.save_unit(&UnitRow {
            id: u.id.clone(),
            name: u.id.clone(),
            parent: None,
            first_responsible: u.lead.clone().filter(|l| config.person.iter().any(|p| &p.id == l)),
            direct_responsible: None,
            updated_at: now,
        })
        .map_err(store_invalid)?;
        units += 1;
    }
    db.set_meta("alerting_directory_imported", &now.to_rfc3339())?;
    db.append_audit(
        &NewAudit::new(&system.username, None, "directory.import", "alerting.toml")
            .with(serde_json::json!({"people": people, "units": units})),
        now,
    )?;
    Ok(Some((people, units)))
}

/// The store's people as the alerting notifies them (channels and language from the directory).
pub fn people_for_alerting(db: &Db) -> Result<Vec<crate::alerting::Person>, EngineError> {
    let mut out = Vec::new();
    for p in db.people()? {
        let channels: Vec<tidewatch_workflow::notify::Channel> = match serde_json::from_str(&p.channels) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(person = %p.id, error = %e, "a person's stored channels are unreadable; left out");
                continue;
            }
        };
        let lang = serde_json::from_value(serde_json::Value::String(p.lang.clone())).unwrap_or_default();
        out.push(crate::alerting::Person { id: p.id, name: p.name, lang, channels });
    }
    Ok(out)
}
