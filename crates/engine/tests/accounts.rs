//! Accounts on the store: the password policy, hashes that are not the password, disabling that
//! ends sessions and tokens at once, tokens no wider than their account, and the one-time import
//! of alerting.toml's people and units.

use chrono::{Duration, Utc};
use tidewatch_engine::accounts::{self, AccountChange, Actor, LoginError, LoginPolicy, NewAccount, NewToken};
use tidewatch_engine::alerting::AlertingConfig;
use tidewatch_store::{AuditFilter, Db};
use tidewatch_workflow::access::{Grant, Grants, Role};

const GOOD: &str = "tide and time 1987";

fn admin() -> Grants {
    Grants(vec![Grant { role: Role::Admin, unit: None }])
}

#[test]
fn weak_passwords_are_refused_with_the_reason() {
    for (pw, why) in [
        ("short1", "at least 10"),
        ("password123", "common"),
        ("qwertyuiop", "common"),
        ("iloveyou2024!", "common"),
        ("wanglei-is-here", "login name"),
        ("zqzqzqzqzqzqzq", "repeats"),
    ] {
        let err = accounts::check_password_policy("wanglei", pw).unwrap_err();
        assert!(err.contains(why), "{pw}: {err}");
    }
    assert!(accounts::check_password_policy("wanglei", GOOD).is_ok());
    assert!(
        accounts::check_password_policy("wanglei", "食堂的饭菜今天很好吃啊").is_ok(),
        "Chinese pass phrases count characters"
    );
}

#[test]
fn passwords_are_stored_as_argon2id_hashes_only() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Db::open(tmp.path()).unwrap();
    let new = NewAccount { username: "li", password: GOOD, grants: &admin(), person: None };
    accounts::create_account(&mut db, &Actor::local("t"), None, new, Utc::now()).unwrap();
    let a = db.account("li").unwrap().unwrap();
    assert!(a.password_hash.starts_with("$argon2id$"), "{}", a.password_hash);
    assert!(!a.password_hash.contains(GOOD));
    assert!(accounts::verify_password(&a.password_hash, GOOD));
    assert!(!accounts::verify_password(&a.password_hash, "tide and time 1988"));
    // Nothing in the audit log carries it either.
    let log = db.audit_entries(&AuditFilter { limit: 100, ..Default::default() }).unwrap();
    assert!(log.iter().all(|e| !e.detail.contains(GOOD)));
}

#[test]
fn disabling_an_account_ends_its_sessions_and_tokens_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Db::open(tmp.path()).unwrap();
    let by = Actor::local("t");
    let now = Utc::now();
    let new = NewAccount { username: "li", password: GOOD, grants: &admin(), person: None };
    accounts::create_account(&mut db, &by, None, new, now).unwrap();
    let s = accounts::login(&mut db, "li", GOOD, None, LoginPolicy::default(), now).unwrap().unwrap();
    let token_req =
        NewToken { username: "li", name: "bot", grants: &admin(), expires_at: Some(now + Duration::days(1)) };
    let (_, token) = accounts::create_token(&mut db, &by, None, token_req, now).unwrap();
    assert!(accounts::session_actor(&db, &s.token, now).unwrap().is_some());
    assert!(accounts::token_actor(&db, &token, now).unwrap().is_some());
    assert!(accounts::token_actor(&db, &token, now + Duration::days(2)).unwrap().is_none(), "expired");
    accounts::change_account(
        &mut db,
        &by,
        None,
        "li",
        AccountChange { disabled: Some(true), ..Default::default() },
        now,
    )
    .unwrap();
    assert!(accounts::session_actor(&db, &s.token, now).unwrap().is_none());
    assert!(accounts::token_actor(&db, &token, now).unwrap().is_none());
    assert_eq!(
        accounts::login(&mut db, "li", GOOD, None, LoginPolicy::default(), now).unwrap().unwrap_err(),
        LoginError::Disabled
    );
    // Enabling again does not bring the revoked token back.
    accounts::change_account(
        &mut db,
        &by,
        None,
        "li",
        AccountChange { disabled: Some(false), ..Default::default() },
        now,
    )
    .unwrap();
    assert!(accounts::token_actor(&db, &token, now).unwrap().is_none());
    // A lock expires by itself after its time.
    let policy = LoginPolicy { max_failures: 2, lockout: Duration::minutes(15), ..LoginPolicy::default() };
    for _ in 0..2 {
        assert!(accounts::login(&mut db, "li", "wrong wrong wrong", None, policy, now).unwrap().is_err());
    }
    assert!(matches!(accounts::login(&mut db, "li", GOOD, None, policy, now).unwrap(), Err(LoginError::Locked(_))));
    assert!(accounts::login(&mut db, "li", GOOD, None, policy, now + Duration::minutes(16)).unwrap().is_ok());
}

#[test]
fn a_token_cannot_hold_more_than_its_account() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Db::open(tmp.path()).unwrap();
    let by = Actor::local("t");
    let analyst = Grants(vec![Grant { role: Role::Analyst, unit: None }]);
    let new = NewAccount { username: "an", password: GOOD, grants: &analyst, person: None };
    accounts::create_account(&mut db, &by, None, new, Utc::now()).unwrap();
    let req = NewToken { username: "an", name: "x", grants: &admin(), expires_at: None };
    let err = accounts::create_token(&mut db, &by, None, req, Utc::now()).unwrap_err();
    assert!(err.to_string().contains("does not hold"), "{err}");
    // The store keeps only a hash of the token.
    let req = NewToken { username: "an", name: "y", grants: &analyst, expires_at: None };
    let (_, token) = accounts::create_token(&mut db, &by, None, req, Utc::now()).unwrap();
    assert!(db.tokens().unwrap().iter().all(|t| !t.grants.contains(&token) && !t.name.contains(&token)));
    assert!(db.token(&token, Utc::now()).unwrap().is_none(), "looked up by the token itself: nothing");
    assert!(db.token(&accounts::token_hash(&token), Utc::now()).unwrap().is_some());
}

#[test]
fn alerting_people_and_units_are_imported_once_and_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Db::open(tmp.path()).unwrap();
    let config = AlertingConfig::from_toml(
        r#"
[[person]]
id = "officer"
name = "值班员甲"
channels = [{ kind = "email", to = "officer@lut.example" }]
[[person]]
id = "lead"
lang = "en"
[[unit]]
id = "后勤集团"
lead = "lead"
"#,
    )
    .unwrap();
    let now = Utc::now();
    assert_eq!(accounts::import_alerting_directory(&mut db, &config, now).unwrap(), Some((2, 1)));
    let officer = db.person("officer").unwrap().unwrap();
    assert_eq!((officer.name.as_str(), officer.email.as_deref()), ("值班员甲", Some("officer@lut.example")));
    assert_eq!(db.unit("后勤集团").unwrap().unwrap().first_responsible.as_deref(), Some("lead"));
    assert_eq!(db.person("lead").unwrap().unwrap().lang, "en");
    // An edit in the store, then a restart: the import does not run again, the edit stays.
    let mut edited = officer.clone();
    edited.name = "值班员乙".into();
    db.save_person(&edited).unwrap();
    assert_eq!(accounts::import_alerting_directory(&mut db, &config, now).unwrap(), None);
    assert_eq!(db.person("officer").unwrap().unwrap().name, "值班员乙");
    let people = accounts::people_for_alerting(&db).unwrap();
    assert_eq!(people.iter().find(|p| p.id == "officer").unwrap().channels.len(), 1);
    let log = db
        .audit_entries(&AuditFilter { action: Some("directory.import".into()), limit: 10, ..Default::default() })
        .unwrap();
    assert_eq!(log.len(), 1);
    assert!(log[0].detail.contains("\"people\":2") && log[0].detail.contains("\"units\":1"), "{}", log[0].detail);
}
