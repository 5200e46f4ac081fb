//! `tidewatch serve`

use anyhow::Context;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use tidewatch_engine::pipeline::load_segmenter;
use tidewatch_engine::sources::{check_source, due, load_sources, poll, Source};
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_web::AppState;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: SocketAddr,
    /// Live sources (TOML, see docs/sources.md): feeds are polled in the background, webhooks
    /// accepted at POST /api/v1/ingest.
    #[arg(long)]
    pub(crate) sources: Option<String>,
    /// Alerting (TOML, see docs/alerting.md): people, units and their rotas, escalation
    /// policies, routes. Default: `alerting.toml` in the data directory, when present.
    #[arg(long)]
    pub(crate) alerting: Option<String>,
    /// A name clients use for this server in the Host header (`tidewatch.example.edu` or
    /// `host:port`); repeat for several. `localhost` and `127.0.0.1` with the port are always
    /// accepted. Requests naming any other host are refused (DNS rebinding).
    #[arg(long = "host-name")]
    pub(crate) host_names: Vec<String>,
    /// The server is reached over TLS (a proxy in front): session cookies are marked Secure.
    #[arg(long)]
    pub(crate) behind_tls: bool,
}

/// The server's authentication settings from the flags.
pub(crate) fn auth_config(
    addr: SocketAddr,
    host_names: &[String],
    behind_tls: bool,
) -> tidewatch_web::auth::AuthConfig {
    let mut c = tidewatch_web::auth::AuthConfig::for_addr(addr);
    c.hosts.extend(host_names.iter().cloned());
    c.secure_cookies = behind_tls;
    c
}

/// Checks the newest audit entries and says so in the log.
pub(crate) fn check_audit(db: &tidewatch_store::Db) -> anyhow::Result<()> {
    let head = db.audit_head()?;
    match db.verify_audit(head - 999)? {
        Ok(n) => tracing::info!(entries = n, "audit log: the newest entries verify"),
        Err(b) => {
            tracing::error!(seq = b.seq, why = %b.why, "audit log: the hash chain is broken");
            eprintln!(
                "WARNING: the audit log's hash chain is broken at entry {}: {} (tidewatch audit verify)",
                b.seq, b.why
            );
        }
    }
    Ok(())
}

/// Retention every hour, off the async threads (it holds the pipeline while a batch runs).
pub(crate) fn spawn_retention(rt: &tokio::runtime::Runtime, state: std::sync::Arc<AppState>) {
    rt.spawn(async move {
        loop {
            let s = state.clone();
            let r = tokio::task::spawn_blocking(move || -> Result<(), tidewatch_engine::EngineError> {
                loop {
                    // One batch per lock, so that ingest is not held up for the whole purge.
                    let Ok(mut p) = s.pipeline.lock() else { return Ok(()) };
                    let done = tidewatch_engine::retention::purge(&mut p, chrono::Utc::now(), 500, Some(1))?;
                    if done.is_some() || p.db().meta("retention_run")?.is_none() {
                        if let Some(r) = done {
                            tracing::info!(purged = r.purged, before = %r.cutoff, "retention: items purged");
                        }
                        return Ok(());
                    }
                }
            })
            .await;
            match r {
                Ok(Err(e)) => tracing::error!(error = %e, "retention failed"),
                Err(e) => tracing::error!(error = %e, "retention panicked"),
                Ok(Ok(())) => {}
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    });
}

/// Loads the alerting configuration: the file given, else `alerting.toml` in the data
/// directory when present.
pub(crate) fn alerting_config(
    dir: &DataDir,
    file: Option<&str>,
) -> anyhow::Result<Option<tidewatch_engine::alerting::AlertingConfig>> {
    let path = match file {
        Some(f) => std::path::PathBuf::from(f),
        None => {
            let p = dir.root().join("alerting.toml");
            if !p.exists() {
                return Ok(None);
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let config = tidewatch_engine::alerting::AlertingConfig::from_toml(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Some(config))
}

/// Builds the tokio runtime the server runs on.
/// Imports alerting.toml's people and units into the store once, then takes people from the
/// store (edits made since the import win).
pub(crate) fn merge_directory(
    db: &mut tidewatch_store::Db,
    c: &mut tidewatch_engine::alerting::AlertingConfig,
) -> anyhow::Result<()> {
    if let Some((people, units)) = tidewatch_engine::accounts::import_alerting_directory(db, c, chrono::Utc::now())? {
        println!("imported from alerting.toml: {people} people, {units} units (kept in the store from now on)");
    }
    for p in tidewatch_engine::accounts::people_for_alerting(db)? {
        match c.person.iter_mut().find(|x| x.id == p.id) {
            Some(x) => *x = p,
            None => c.person.push(p),
        }
    }
    Ok(())
}

/// The alerting loop: a tick every second and whenever items were stored, off the async
/// threads (SQLite, SMTP, HTTP).
pub(crate) fn spawn_alerting(rt: &tokio::runtime::Runtime, state: std::sync::Arc<AppState>) {
    rt.spawn(async move {
        loop {
            let s = state.clone();
            match tokio::task::spawn_blocking(move || s.alerting_tick(s.now())).await {
                Ok(Err(e)) => tracing::error!(error = %e, "alerting tick failed"),
                Err(e) => tracing::error!(error = %e, "alerting tick panicked"),
                Ok(Ok(())) => {}
            }
            tokio::select! {
                _ = state.alerting_wake.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
        }
    });
}

/// The polling loop: every second, commits the index when due and polls the sources that are
/// due (those of the file and those added through the API).
pub(crate) fn spawn_polling(
    rt: &tokio::runtime::Runtime,
    state: std::sync::Arc<AppState>,
    settings: tidewatch_engine::sources::FetchSettings,
) {
    rt.spawn(async move {
        loop {
            if let Ok(mut p) = state.pipeline.lock() {
                if let Err(e) = p.commit_index_if_due() {
                    tracing::error!(error = %e, "index commit failed");
                }
            }
            let now = chrono::Utc::now();
            let polled: Vec<Source> = state.polled.read().map(|l| l.clone()).unwrap_or_default();
            let ready: Vec<&Source> = match state.pipeline.lock() {
                Ok(p) => due(p.db(), &polled, now).unwrap_or_default(),
                Err(_) => return,
            };
            if !ready.is_empty() {
                let publish = |b: &tidewatch_engine::pipeline::BatchResult| state.publish(b);
                match poll(&state.pipeline, &ready, &settings, now, &publish).await {
                    Ok(results) => {
                        for r in results.iter().filter(|r| r.status == "failed") {
                            tracing::warn!(source = %r.source, error = ?r.error, "poll failed");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "polling stopped"),
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

pub(crate) fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let dir = DataDir::new(data_dir);
    // New items become searchable within a second (the index is committed on a timer below).
    let config = PipelineConfig { index_commit_interval: std::time::Duration::from_secs(1), ..Default::default() };
    let pipeline = Pipeline::open(&dir, load_segmenter(&dir)?, config).with_context(|| {
        format!("cannot open the data directory {} (is another Tidewatch writing to it?)", data_dir.display())
    })?;
    check_audit(pipeline.db())?;
    let mut config = alerting_config(&dir, args.alerting.as_deref())?;
    let mut pipeline = pipeline;
    if let Some(c) = &mut config {
        merge_directory(pipeline.db_mut(), c)?;
    }
    if pipeline.db().count_accounts()? == 0 {
        println!(
            "No accounts yet: nobody can sign in. Create the first admin with\n  tidewatch --data-dir {} users add --admin NAME --generate",
            data_dir.display()
        );
    }
    let state = AppState::open(&dir, pipeline, auth_config(args.addr, &args.host_names, args.behind_tls))?;
    for p in state.cases_problems() {
        eprintln!("{p}");
    }
    if let Some(config) = config {
        println!(
            "alerting: {} people, {} units, {} policies",
            config.person.len(),
            config.unit.len(),
            config.policy.len()
        );
        state.enable_alerting(&dir, config)?;
    }
    let rt = runtime()?;
    // Sources: from the file (if any) and those added through the API (kept in the store).
    let mut settings = tidewatch_engine::sources::FetchSettings::default();
    if let Some(file) = &args.sources {
        let src = std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?;
        let (sources, file_settings, diags) = load_sources(&src);
        for d in &diags {
            eprintln!("{file}: {d}");
        }
        settings = file_settings;
        *state.file_sources.write().map_err(|_| anyhow::anyhow!("lock poisoned"))? =
            sources.iter().map(|s| s.config.id.clone()).collect();
        for s in sources {
            state.install_source(s);
        }
    }
    let api_sources = state.pipeline.lock().map_err(|_| anyhow::anyhow!("lock poisoned"))?.db().api_sources()?;
    let file_ids = state.file_sources.read().map_err(|_| anyhow::anyhow!("lock poisoned"))?.clone();
    for (id, json) in api_sources {
        if file_ids.contains(&id) {
            eprintln!("source {id}: defined in the file and through the API; the file's definition is used");
            continue;
        }
        let checked = serde_json::from_str::<tidewatch_engine::sources::SourceConfig>(&json)
            .map_err(|e| e.to_string())
            .and_then(check_source);
        match checked {
            Ok(s) => state.install_source(s),
            Err(e) => eprintln!("source {id} (saved through the API) left out: {e}"),
        }
    }
    let (n_polled, n_hooks) =
        (state.polled.read().map(|l| l.len()).unwrap_or(0), state.webhooks.read().map(|l| l.len()).unwrap_or(0));
    println!("{n_polled} sources polled, {n_hooks} webhooks");
    spawn_alerting(&rt, state.clone());
    spawn_polling(&rt, state.clone(), settings);
    spawn_retention(&rt, state.clone());
    rt.block_on(tidewatch_web::serve(
        state.clone(),
        args.addr,
        |a| println!("Tidewatch listening on http://{a}"),
        shutdown_signal(),
    ))
    .with_context(|| format!("cannot serve on {}", args.addr))?;
    state.pipeline.lock().map_err(|_| anyhow::anyhow!("pipeline lock poisoned"))?.flush()?;
    Ok(ExitCode::SUCCESS)
}
