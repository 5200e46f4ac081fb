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
    /// Simulated days stored before the server starts (the rest arrives live). The default
    /// stops just before the canteen incident, so that its burst alerts the duty officer within
    /// the first minute at the default speed.
    #[arg(long, default_value_t = 6.0)]
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
    // Alerting with a demo rota: the duty officer on duty now, the unit lead, the leading group;
    // every notification stays inside Tidewatch (the inbox on the page).
    std::fs::write(dir.root().join("alerting.toml"), demo_alerting(Utc::now()))?;
    let mut alerting = super::serve::alerting_config(&dir, None)?.context("the demo's alerting.toml")?;
    super::serve::merge_directory(pipeline.db_mut(), &mut alerting)?;
    demo_units(pipeline.db_mut(), &topics)?;
    let accounts = demo_accounts(pipeline.db_mut())?;
    let state = AppState::open(&dir, pipeline, super::serve::auth_config(args.addr, &[], false))?;
    state.enable_alerting(&dir, alerting)?;
    match demo_case(&state) {
        Ok(id) => println!("A case in progress: #{id} (graded, classified, a response waiting for approval)"),
        Err(e) => eprintln!("the demo case could not be set up: {e:#}"),
    }
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
    super::serve::spawn_alerting(&rt, state.clone());
    // Sources added on the page are polled as in `serve`.
    super::serve::spawn_polling(&rt, state.clone(), tidewatch_engine::sources::FetchSettings::default());
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
    for (name, role, person) in [
        ("duty", Role::DutyOfficer, Some("duty")),
        ("analyst", Role::Analyst, Some("analyst")),
        ("approver", Role::Approver, Some("approver")),
        ("lead", Role::UnitLead, Some("lead")),
        ("admin", Role::Admin, None),
    ] {
        let password = tidewatch_engine::accounts::generate_password();
        let grants = Grants(vec![Grant { role, unit: None }]);
        let new =
            tidewatch_engine::accounts::NewAccount { username: name, password: &password, grants: &grants, person };
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
    // The leading group is headed by `head`; every unit's lead is `lead` (a demo has few people).
    let unit = |id: &str, parent: Option<&str>| tidewatch_store::UnitRow {
        id: id.to_string(),
        name: id.to_string(),
        parent: parent.map(String::from),
        first_responsible: Some(if parent.is_none() { "head" } else { "lead" }.to_string()),
        direct_responsible: Some(if parent.is_none() { "head" } else { "lead" }.to_string()),
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

/// The demo's alerting: five people whose notifications stay in Tidewatch, the duty officer on
/// duty all day in 宣传部 (the office that watches), escalation to the unit lead after 15 minutes
/// and to the head of the leading group after 30.
pub(crate) fn demo_alerting(now: chrono::DateTime<Utc>) -> String {
    let start = (now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive() - ChronoDuration::days(1)).to_string();
    let person = |id: &str, name: &str| {
        format!("[[person]]\nid = \"{id}\"\nname = \"{name}\"\nchannels = [{{ kind = \"inbox\" }}]\n")
    };
    let mut s = String::from("base_url = \"http://127.0.0.1:8080\"\n[timing]\ngroup_wait_seconds = 0\ngroup_interval_seconds = 300\nrepeat_interval_seconds = 14400\n");
    for (id, name) in [
        ("duty", "值班员 小周"),
        ("analyst", "分析员 小林"),
        ("approver", "审核人 孙主任"),
        ("lead", "部门负责人 钱部长"),
        ("head", "领导小组组长 李书记"),
    ] {
        s.push_str(&person(id, name));
    }
    s.push_str(&format!(
        r#"[[unit]]
id = "宣传部"
lead = "lead"
[[unit.schedule.layers]]
name = "舆情值班"
zone = "Asia/Shanghai"
members = ["duty"]
start = "{start}"
handoff = "08:00:00"
period = {{ every = "day" }}
cover = {{ cover = "full_day" }}
[[policy]]
name = "duty"
[[policy.steps]]
targets = [{{ type = "on_duty", value = "宣传部" }}]
delay_minutes = 0
[[policy.steps]]
targets = [{{ type = "unit_lead", value = "宣传部" }}]
delay_minutes = 15
[[policy.steps]]
targets = [{{ type = "person", value = "head" }}]
delay_minutes = 30
[route]
policy = "duty"
"#
    ));
    s
}

/// A case already in progress: the hot-water complaints of the first days, graded III,
/// classified an inquiry, with a statement drafted and waiting for the approver.
fn demo_case(state: &AppState) -> anyhow::Result<i64> {
    use tidewatch_workflow::access::{Grant, Grants, Role};
    use tidewatch_workflow::cases::{Classification, Event, EvidenceKind, Grade, Opening, ReportBody};
    let mut side = state.cases.lock().map_err(|_| anyhow::anyhow!("lock poisoned"))?;
    let side = &mut *side;
    let story = side
        .db
        .top_stories(chrono::DateTime::<Utc>::MIN_UTC, 200)?
        .into_iter()
        .find(|s| s.title.contains("热水"))
        .context("no hot-water story in the preloaded days")?;
    let account = side.db.account("analyst")?.context("no analyst account")?;
    let analyst = tidewatch_engine::accounts::Actor {
        account: account.id,
        username: "analyst".into(),
        person: Some("analyst".into()),
        grants: Grants(vec![Grant { role: Role::Analyst, unit: None }]),
        via: tidewatch_engine::accounts::Via::Local,
    };
    let now = Utc::now();
    let opening = Opening {
        title: "南湖9号楼热水反复停供".into(),
        unit: "后勤集团".into(),
        owner: Some("lead".into()),
        alert: None,
        severity: None,
        detected_at: None,
        signals_before: side.db.max_signal_id()?,
        evidence: vec![(EvidenceKind::Story, story.id)],
    };
    let case = side.cases.open_case(&mut side.db, &analyst, None, opening, now)?;
    let id = case.id;
    let report = ReportBody {
        started_at: None,
        place: "南湖校区9号楼".into(),
        units: vec!["后勤集团".into()],
        groups: vec!["住宿学生".into()],
        development: "学生在微博、知乎多次反映南湖9号楼热水一周内停供三次，询问原因与维修时间，尚无官方答复。".into(),
        reporter: "analyst".into(),
        text: String::new(),
    };
    side.cases.act(&mut side.db, &analyst, None, id, Event::Report(report), now)?;
    side.cases.act(
        &mut side.db,
        &analyst,
        None,
        id,
        Event::Assess {
            grade: Grade::III,
            assessment: "诉求集中、情绪以不满为主，尚未扩散到媒体；需后勤集团限时答复。".into(),
        },
        now,
    )?;
    side.cases.act(
        &mut side.db,
        &analyst,
        None,
        id,
        Event::Classify { classification: Classification::Inquiry, reason: String::new() },
        now,
    )?;
    let draft = tidewatch_workflow::responses::Draft {
        kind: tidewatch_workflow::responses::ResponseKind::Statement,
        lang: "zh".into(),
        title: "关于南湖9号楼热水供应的情况说明".into(),
        body: "近日南湖9号楼热水多次中断，原因是供水主管老化漏水。后勤集团已更换管段，热水于今日恢复；\
               本周内完成全楼管道检修。给同学们带来不便，深表歉意。报修电话：0000-12345。"
            .into(),
        places: vec![tidewatch_workflow::responses::Place::OwnChannels],
        audience: "南湖校区住宿学生".into(),
        claim: None,
        corrects: None,
    };
    let r = side.responses.draft(&mut side.db, &analyst, None, id, draft, now)?;
    side.responses.act(&mut side.db, &analyst, None, r.id, tidewatch_workflow::responses::Event::Submit, now)?;
    Ok(id)
}
