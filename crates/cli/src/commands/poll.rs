//! `tidewatch poll --config FILE [--once]` and `tidewatch sources --config FILE`.

use super::serve::{runtime, shutdown_signal};
use anyhow::Context;
use chrono::Utc;
use std::path::Path;
use std::process::ExitCode;
use tidewatch_engine::pipeline::load_segmenter;
use tidewatch_engine::sources::{due, health, load_sources, poll, poll_once, FetchSettings, Source};
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};

#[derive(Debug, clap::Args)]
pub(crate) struct PollArgs {
    /// The sources file (TOML, `[[source]]` tables; see docs/sources.md).
    #[arg(long)]
    config: String,
    /// Poll every source once and stop (to try a configuration).
    #[arg(long)]
    once: bool,
    /// One JSON object per source instead of a line of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SourcesArgs {
    /// The sources file.
    #[arg(long)]
    config: String,
    /// One JSON object per source.
    #[arg(long)]
    json: bool,
}

fn load(config: &str) -> anyhow::Result<(Vec<Source>, FetchSettings, bool)> {
    let src = std::fs::read_to_string(config).with_context(|| format!("cannot read {config}"))?;
    let (sources, settings, diags) = load_sources(&src);
    for d in &diags {
        eprintln!("{config}: {d}");
    }
    Ok((sources, settings, !diags.is_empty()))
}

pub(crate) fn run_poll(data_dir: &Path, args: PollArgs) -> anyhow::Result<ExitCode> {
    let (sources, settings, bad_config) = load(&args.config)?;
    let dir = DataDir::new(data_dir);
    let pipeline = Pipeline::open(&dir, load_segmenter(&dir)?, PipelineConfig::default())
        .with_context(|| format!("cannot open the data directory {}", data_dir.display()))?;
    let pipeline = std::sync::Mutex::new(pipeline);
    let rt = runtime()?;
    let mut failed = bad_config;
    let print = |results: &[tidewatch_engine::sources::PollResult]| -> anyhow::Result<bool> {
        let mut failed = false;
        for r in results {
            failed |= r.status == "failed";
            if args.json {
                println!("{}", serde_json::to_string(r)?);
                continue;
            }
            match r.status {
                "fetched" => println!(
                    "{}: {} entries, {} new, {} already stored, {} rejected ({:.2} s)",
                    r.source, r.entries, r.new, r.already_stored, r.rejected, r.seconds
                ),
                "not_modified" => println!("{}: not modified ({:.2} s)", r.source, r.seconds),
                _ => println!("{}: failed: {} ({:.2} s)", r.source, r.error.as_deref().unwrap_or(""), r.seconds),
            }
            for p in r.problems.iter().take(5) {
                eprintln!("{}: {p}", r.source);
            }
        }
        Ok(failed)
    };
    if args.once {
        let started = std::time::Instant::now();
        let results = rt.block_on(poll_once(&pipeline, &sources, &settings, Utc::now()))?;
        failed |= print(&results)?;
        let items: u64 = results.iter().map(|r| r.new).sum();
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "polled {} sources in {secs:.2} s ({:.0} sources/s), {items} new items ({:.0} items/s)",
            results.len(),
            results.len() as f64 / secs,
            items as f64 / secs
        );
        return Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS });
    }
    rt.block_on(async {
        let stop = shutdown_signal();
        tokio::pin!(stop);
        loop {
            let now = Utc::now();
            let ready: Vec<&Source> = {
                let p = pipeline.lock().map_err(|_| anyhow::anyhow!("pipeline lock poisoned"))?;
                due(p.db(), &sources, now)?
            };
            if !ready.is_empty() {
                let results = poll(&pipeline, &ready, &settings, now, &|_| {}).await?;
                print(&results)?;
            }
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run_sources(data_dir: &Path, args: SourcesArgs) -> anyhow::Result<ExitCode> {
    let (sources, _, bad_config) = load(&args.config)?;
    let db = super::users::open_existing(DataDir::new(data_dir).root())?;
    let now = Utc::now();
    let mut flagged = false;
    for s in &sources {
        let h = health(&db, s, now)?;
        flagged |= !h.ok;
        if args.json {
            println!("{}", serde_json::to_string(&h)?);
            continue;
        }
        let last = h.state.last_success.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into());
        let state = if h.ok { "ok".to_string() } else { h.flags.join("; ") };
        println!(
            "{}\t{state}\tlast success {last}\t{} new today, usually {:.1}/day\t{} items in all",
            h.source, h.items_today, h.usual_per_day, h.state.items_total
        );
    }
    Ok(if flagged || bad_config { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

#[derive(Debug, clap::Args)]
pub(crate) struct SignalsArgs {
    /// How many, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// One JSON object per signal.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run_signals(data_dir: &Path, args: SignalsArgs) -> anyhow::Result<ExitCode> {
    let db = super::users::open_existing(DataDir::new(data_dir).root())?;
    for s in db.signals(args.limit)? {
        if args.json {
            println!("{}", serde_json::to_string(&s)?);
        } else {
            println!(
                "#{} {} [{}] {} — {}\n{}\n",
                s.id,
                s.created_at.to_rfc3339(),
                s.severity,
                s.kind,
                s.title,
                s.explanation
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
