//! `tidewatch users …`, `tidewatch tokens …`, `tidewatch units …`, `tidewatch people …`: the
//! directory and accounts, from the machine itself (audited as `cli:<login of the machine>`).

use anyhow::Context;
use chrono::Utc;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use tidewatch_engine::accounts::{self, AccountChange, Actor};
use tidewatch_store::{Db, PersonRow, UnitRow};
use tidewatch_workflow::access::{Grant, Grants, Role};

/// Opens the store of an existing data directory (commands here never create one by accident,
/// except `users add`, which may make the first account of a new one).
pub(crate) fn open_existing(data_dir: &Path) -> anyhow::Result<Db> {
    anyhow::ensure!(
        data_dir.join("tidewatch.db").exists(),
        "{} is not a Tidewatch data directory (no tidewatch.db); give --data-dir",
        data_dir.display()
    );
    Db::open(data_dir).with_context(|| format!("cannot open {}", data_dir.display()))
}

fn me() -> Actor {
    Actor::local(&std::env::var("USER").unwrap_or_else(|_| "local".into()))
}

fn parse_grants(admin: bool, roles: &[String]) -> anyhow::Result<Grants> {
    let mut g = Vec::new();
    if admin {
        g.push(Grant { role: Role::Admin, unit: None });
    }
    for r in roles {
        g.push(Grant::parse(r).with_context(|| {
            format!("--role {r:?}: expected ROLE or ROLE@UNIT, ROLE one of duty_officer, analyst, approver, unit_lead, admin")
        })?);
    }
    Ok(Grants(g))
}

fn read_password(generate: bool) -> anyhow::Result<(String, bool)> {
    if generate {
        return Ok((accounts::generate_password(), true));
    }
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).context("cannot read the password from standard input")?;
    let p = s.trim_end_matches(['\n', '\r']).to_string();
    anyhow::ensure!(!p.is_empty(), "no password on standard input (or use --generate)");
    Ok((p, false))
}

/// `tidewatch users`.
#[derive(Debug, clap::Args)]
pub(crate) struct UsersArgs {
    #[command(subcommand)]
    command: UsersCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UsersCommand {
    /// Create an account; the password is read from standard input, or generated and printed once.
    Add {
        /// Login name.
        name: String,
        /// Admin for all units.
        #[arg(long)]
        admin: bool,
        /// A role, for all units (`analyst`) or one unit and those under it (`unit_lead@后勤集团`).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// The person the account belongs to (a person id).
        #[arg(long)]
        person: Option<String>,
        /// Generate a password and print it.
        #[arg(long)]
        generate: bool,
    },
    /// List accounts.
    List,
    /// Disable an account: its sessions end and its tokens are revoked at once.
    Disable { name: String },
    /// Enable a disabled account.
    Enable { name: String },
    /// Lift a lockout after failed logins.
    Unlock { name: String },
    /// Set a new password (standard input, or --generate); ends the account's sessions.
    Passwd {
        name: String,
        #[arg(long)]
        generate: bool,
    },
    /// Replace an account's roles.
    Grant {
        name: String,
        #[arg(long)]
        admin: bool,
        #[arg(long = "role")]
        roles: Vec<String>,
    },
}

pub(crate) fn run_users(data_dir: &Path, args: UsersArgs) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    match args.command {
        UsersCommand::Add { name, admin, roles, person, generate } => {
            let grants = parse_grants(admin, &roles)?;
            anyhow::ensure!(!grants.0.is_empty(), "give --admin or at least one --role");
            let (password, generated) = read_password(generate)?;
            let mut db = Db::open(data_dir).with_context(|| format!("cannot open {}", data_dir.display()))?;
            let new = accounts::NewAccount {
                username: &name,
                password: &password,
                grants: &grants,
                person: person.as_deref(),
            };
            accounts::create_account(&mut db, &me(), None, new, now)?;
            println!(
                "account {name} created ({})",
                grants.0.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(", ")
            );
            if generated {
                println!("password: {password}");
            }
        }
        UsersCommand::List => {
            let db = open_existing(data_dir)?;
            for a in db.accounts()? {
                let g = accounts::parse_grants(&a.grants);
                let state = if a.disabled {
                    "disabled".to_string()
                } else if a.locked_until.is_some_and(|t| t > now) {
                    format!("locked until {}", a.locked_until.unwrap_or(now).to_rfc3339())
                } else {
                    "active".into()
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    a.username,
                    g.0.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(","),
                    a.person.unwrap_or_default(),
                    state
                );
            }
        }
        UsersCommand::Disable { name } => {
            change(data_dir, &name, AccountChange { disabled: Some(true), ..Default::default() })?
        }
        UsersCommand::Enable { name } => {
            change(data_dir, &name, AccountChange { disabled: Some(false), ..Default::default() })?
        }
        UsersCommand::Unlock { name } => change(data_dir, &name, AccountChange { unlock: true, ..Default::default() })?,
        UsersCommand::Passwd { name, generate } => {
            let (password, generated) = read_password(generate)?;
            change(data_dir, &name, AccountChange { password: Some(password.clone()), ..Default::default() })?;
            if generated {
                println!("password: {password}");
            }
        }
        UsersCommand::Grant { name, admin, roles } => {
            let grants = parse_grants(admin, &roles)?;
            change(data_dir, &name, AccountChange { grants: Some(grants), ..Default::default() })?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn change(data_dir: &Path, name: &str, c: AccountChange) -> anyhow::Result<()> {
    let mut db = open_existing(data_dir)?;
    accounts::change_account(&mut db, &me(), None, name, c, Utc::now())?;
    println!("account {name} changed");
    Ok(())
}

/// `tidewatch tokens`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokensArgs {
    #[command(subcommand)]
    command: TokensCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TokensCommand {
    /// Create an API token for an account (printed once; the store keeps only its hash).
    Add {
        /// A name to recognise it by.
        name: String,
        /// The account it acts as.
        #[arg(long)]
        user: String,
        /// Roles it holds (at most the account's); the account's all when absent.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// It expires after this many days (never when absent).
        #[arg(long)]
        days: Option<i64>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke { id: i64 },
}

pub(crate) fn run_tokens(data_dir: &Path, args: TokensArgs) -> anyhow::Result<ExitCode> {
    let mut db = open_existing(data_dir)?;
    let now = Utc::now();
    match args.command {
        TokensCommand::Add { name, user, roles, days } => {
            let grants = if roles.is_empty() {
                accounts::parse_grants(&accounts::account(&db, &user)?.grants)
            } else {
                parse_grants(false, &roles)?
            };
            let expires = days.map(|d| now + chrono::Duration::days(d.clamp(1, 3650)));
            let new = accounts::NewToken { username: &user, name: &name, grants: &grants, expires_at: expires };
            let (id, token) = accounts::create_token(&mut db, &me(), None, new, now)?;
            eprintln!("token {id} for {user} created; it is shown once:");
            println!("{token}");
        }
        TokensCommand::List => {
            for t in db.tokens()? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "live"
                };
                println!("{}\t{}\t{}\t{}\t{state}", t.id, t.name, t.username, t.grants);
            }
        }
        TokensCommand::Revoke { id } => {
            accounts::revoke_token(&mut db, &me(), None, id, now)?;
            println!("token {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tidewatch units`.
#[derive(Debug, clap::Args)]
pub(crate) struct UnitsArgs {
    #[command(subcommand)]
    command: UnitsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UnitsCommand {
    /// List units.
    List,
    /// Per-unit figures for a year (考核): cases by grade and classification, deadlines met,
    /// median and p90 times to acknowledge, to first response and to close, reviews done.
    Figures {
        /// The local year (Asia/Shanghai); this year when absent.
        #[arg(long)]
        year: Option<i32>,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add or replace a unit.
    Set {
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// The unit above (the leading group has none).
        #[arg(long)]
        parent: Option<String>,
        /// First responsible person (第一责任人), a person id.
        #[arg(long)]
        first: Option<String>,
        /// Direct responsible person (直接责任人), a person id.
        #[arg(long)]
        direct: Option<String>,
    },
}

pub(crate) fn run_units(data_dir: &Path, args: UnitsArgs) -> anyhow::Result<ExitCode> {
    let mut db = open_existing(data_dir)?;
    match args.command {
        UnitsCommand::List => {
            for u in db.units()? {
                println!(
                    "{}\t{}\tparent={}\tfirst={}\tdirect={}",
                    u.id,
                    u.name,
                    u.parent.unwrap_or_default(),
                    u.first_responsible.unwrap_or_default(),
                    u.direct_responsible.unwrap_or_default()
                );
            }
        }
        UnitsCommand::Figures { year, json } => {
            use chrono::Datelike;
            let year = year.unwrap_or_else(|| Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).year());
            let (from, to) = tidewatch_engine::cases::year_bounds(year)
                .filter(|_| (2000..=2200).contains(&year))
                .ok_or_else(|| anyhow::anyhow!("--year must be 2000..=2200"))?;
            let figs = tidewatch_engine::cases::unit_figures(&db, from, to)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&figs)?);
            } else if figs.is_empty() {
                println!("no cases opened in {year}");
            }
            if !json {
                let m = |p: &tidewatch_engine::cases::Percentiles| match (p.median, p.p90) {
                    (Some(a), Some(b)) => format!("{a:.0}/{b}"),
                    _ => "-".into(),
                };
                println!("unit	cases	by grade	by classification	deadlines met	ack min (median/p90)	first response	close	reviews");
                for f in figs {
                    println!(
                        "{}	{}	{:?}	{:?}	{}	{}	{}	{}	{}",
                        f.unit,
                        f.cases,
                        f.by_grade,
                        f.by_classification,
                        f.deadlines_met_pct
                            .map(|p| format!("{p}% ({} of {})", f.deadlines_met, f.deadlines_met + f.deadlines_missed))
                            .unwrap_or_else(|| "-".into()),
                        m(&f.acknowledge_minutes),
                        m(&f.first_response_minutes),
                        m(&f.close_minutes),
                        f.reviews_done
                    );
                }
            }
        }
        UnitsCommand::Set { id, name, parent, first, direct } => {
            let now = Utc::now();
            let unit = UnitRow {
                name: name.unwrap_or_else(|| id.clone()),
                id: id.clone(),
                parent,
                first_responsible: first,
                direct_responsible: direct,
                updated_at: now,
            };
            accounts::save_unit(&mut db, &me(), None, unit, now)?;
            println!("unit {id} saved");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tidewatch people`.
#[derive(Debug, clap::Args)]
pub(crate) struct PeopleArgs {
    #[command(subcommand)]
    command: PeopleCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PeopleCommand {
    /// List people.
    List,
    /// Add or replace a person (their notification channels are kept).
    Set {
        id: String,
        #[arg(long)]
        name: String,
        /// `zh` or `en`.
        #[arg(long, default_value = "zh")]
        lang: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
    },
}

pub(crate) fn run_people(data_dir: &Path, args: PeopleArgs) -> anyhow::Result<ExitCode> {
    let mut db = open_existing(data_dir)?;
    match args.command {
        PeopleCommand::List => {
            for p in db.people()? {
                println!("{}\t{}\t{}\t{}", p.id, p.name, p.lang, p.email.unwrap_or_default());
            }
        }
        PeopleCommand::Set { id, name, lang, email, phone } => {
            let now = Utc::now();
            let channels = db.person(&id)?.map(|p| p.channels).unwrap_or_else(|| "[]".into());
            let p = PersonRow {
                id: id.clone(),
                name,
                lang,
                email,
                phone,
                dingtalk: None,
                wecom: None,
                feishu: None,
                channels,
                updated_at: now,
            };
            accounts::save_person(&mut db, &me(), None, p, now)?;
            println!("person {id} saved");
        }
    }
    Ok(ExitCode::SUCCESS)
}
