//! `tidewatch demo`: the whole product on a fresh data directory, with the bundled data set
//! replayed as a live stream in accelerated time.

use super::serve::{runtime, shutdown_signal};
use anyhow::Context;
use chrono::{Duration as ChronoDuration, Utc};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tidewatch_engine::pipeline::load_segmenter;
use tidewatch_engine::topics::{load_topics, save_topics};
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_ingest::{read_rows, Format};
use tidewatch_model::ItemInput;
use tidewatch_web::AppState;

/// The bundled demo data set (see `demo/README.md`).
static DEMO_DATA: &str = include_str!("../../../../demo/lanjiang.jsonl");
/// The demo's topics (see `demo/topics.toml`).
static DEMO_TOPICS: &str = include_str!("../../../../demo/topics.toml");

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 3600.0)]
    speed: f64,
    /// Simulated days stored before the server starts (the rest arrives live).
    #[arg(long, default_value_t = 3.0)]
    preload_days: f64,
    /// Data directory for the demo (wiped first); by default a fresh temporary directory.
    #[arg(long)]
    demo_dir: Option<std::path::PathBuf>,
}

/// The demo items, oldest first.
pub(crate) fn demo_items() -> Vec<ItemInput> {
    let mut items: Vec<ItemInput> =
        read_rows(DEMO_DATA.as_bytes(), Format::JsonLines).filter_map(|r| r.result.ok()).collect();
    items.sort_by_key(|i| i.published_at);
    items
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        anyhow::bail!("--speed must be a positive number");
    }
    let root = args
        .demo_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("tidewatch-demo-{}", std::process::id())));
    if root.exists() {
        std::fs::remove_dir_all(&root).with_context(|| format!("cannot clear {}", root.display()))?;
    }
    let dir = DataDir::new(&root);
    let items = demo_items();
    let first = items.first().and_then(|i| i.published_at).context("the demo data set is empty")?;
    let preload_until = first + ChronoDuration::seconds((args.preload_days * 86400.0) as i64);
    let split = items.partition_point(|i| i.published_at.is_some_and(|t| t <= preload_until));
    let mut pipeline = Pipeline::open(&dir, load_segmenter(&dir)?, PipelineConfig::default())?;
    let (topics, diags) = load_topics(DEMO_TOPICS);
    if let Some(d) = diags.iter().find(|d| d.error) {
        anyhow::bail!("the bundled demo topics are invalid: {d}");
    }
    save_topics(pipeline.db_mut(), &topics, "demo", Utc::now())?;
    pipeline.reload_topics()?;
    for chunk in items[..split].chunks(1000) {
        pipeline.ingest(chunk, Utc::now())?;
    }
    pipeline.flush()?;
    demo_units(pipeline.db_mut(), &topics)?;
    let accounts = demo_accounts(pipeline.db_mut())?;
    let state = AppState::open(&dir, pipeline, super::serve::auth_config(args.addr, &[], false))?;
    println!("Demo data directory: {}", root.display());
    println!("Demo accounts (one per role; sign in on the page):");
    for (name, role, password) in &accounts.0 {
        println!("  demo account {name} {password} ({role})");
    }
    println!("Demo API token (admin, for scripts): {}", accounts.1);
    println!(
        "{} topics; {} items stored; {} more arrive live ({}x real time)",
        topics.len(),
        split,
        items.len() - split,
        args.speed
    );
    let live: Vec<ItemInput> = items[split..].to_vec();
    let replay_state = state.clone();
    let speed = args.speed;
    std::thread::spawn(move || replay(replay_state, live, preload_until, speed));
    let rt = runtime()?;
    let addr = args.addr;
    rt.block_on(tidewatch_web::serve(
        state.clone(),
        addr,
        |a| {
            println!("Tidewatch demo listening on http://{a}");
        },
        shutdown_signal(),
    ))
    .with_context(|| format!("cannot serve on {addr} (use --addr to pick another)"))?;
    if args.demo_dir.is_none() {
        drop(state);
        let _ = std::fs::remove_dir_all(&root);
    }
    Ok(ExitCode::SUCCESS)
}

fn replay(state: Arc<AppState>, items: Vec<ItemInput>, start: chrono::DateTime<Utc>, speed: f64) {
    let began = Instant::now();
    let mut next = 0;
    while next < items.len() {
        std::thread::sleep(Duration::from_millis(250));
        let sim_now = start + ChronoDuration::milliseconds((began.elapsed().as_secs_f64() * speed * 1000.0) as i64);
        let end = next + items[next..].partition_point(|i| i.published_at.is_some_and(|t| t <= sim_now));
        if end == next {
            continue;
        }
        let result = {
            let Ok(mut p) = state.pipeline.lock() else { return };
            let r = p.ingest(&items[next..end], Utc::now());
            let _ = p.commit_index();
            r
        };
        match result {
            Ok(r) => state.publish(&r),
            Err(e) => {
                eprintln!("demo replay stopped: {e}");
                return;
            }
        }
        next = end;
    }
    println!("Demo replay finished: all {} live items delivered", items.len());
}

/// One account per role, with generated passwords: `(name, role, password)`.
/// Also an API token of the admin account, for trying the API with curl.
type DemoAccounts = (Vec<(String, String, String)>, String);

fn demo_accounts(db: &mut tidewatch_store::Db) -> anyhow::Result<DemoAccounts> {
    use tidewatch_workflow::access::{Grant, Grants, Role};
    let by = tidewatch_engine::accounts::Actor::local("demo");
    let mut out = Vec::new();
    for (name, role) in [
        ("duty", Role::DutyOfficer),
        ("analyst", Role::Analyst),
        ("approver", Role::Approver),
        ("lead", Role::UnitLead),
        ("admin", Role::Admin),
    ] {
        let password = tidewatch_engine::accounts::generate_password();
        let grants = Grants(vec![Grant { role, unit: None }]);
        let new = tidewatch_engine::accounts::NewAccount {
            username: name,
            password: &password,
            grants: &grants,
            person: None,
        };
        tidewatch_engine::accounts::create_account(db, &by, None, new, Utc::now())?;
        out.push((name.to_string(), format!("{} {}", role.as_str(), role.name_zh()), password));
    }
    let admin = Grants(vec![Grant { role: Role::Admin, unit: None }]);
    let (_, token) = tidewatch_engine::accounts::create_token(
        db,
        &by,
        None,
        tidewatch_engine::accounts::NewToken { username: "admin", name: "demo", grants: &admin, expires_at: None },
        Utc::now(),
    )?;
    Ok((out, token))
}

/// The units the demo's topics name, under the leading group.
fn demo_units(db: &mut tidewatch_store::Db, topics: &[tidewatch_engine::topics::Topic]) -> anyhow::Result<()> {
    let by = tidewatch_engine::accounts::Actor::local("demo");
    let now = Utc::now();
    let unit = |id: &str, parent: Option<&str>| tidewatch_store::UnitRow {
        id: id.to_string(),
        name: id.to_string(),
        parent: parent.map(String::from),
        first_responsible: None,
        direct_responsible: None,
        updated_at: now,
    };
    tidewatch_engine::accounts::save_unit(db, &by, None, unit("领导小组", None), now)?;
    let mut names: Vec<&str> = topics.iter().filter_map(|t| t.config.unit.as_deref()).collect();
    names.sort();
    names.dedup();
    for n in names.into_iter().filter(|n| *n != "领导小组") {
        tidewatch_engine::accounts::save_unit(db, &by, None, unit(n, Some("领导小组")), now)?;
    }
    Ok(())
}
