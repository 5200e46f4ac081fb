//! `tidewatch audit` (list, `verify`) and `tidewatch retention` (`run`, `set`).

use super::users::open_existing;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::process::ExitCode;
use tidewatch_engine::pipeline::load_segmenter;
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_store::AuditFilter;

/// `tidewatch audit`.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// Entries whose action starts with this (`login`, `topic.`).
    #[arg(long)]
    action: Option<String>,
    /// Entries by this actor.
    #[arg(long)]
    actor: Option<String>,
    /// Entries from this time (RFC 3339).
    #[arg(long)]
    since: Option<DateTime<Utc>>,
    /// Most entries shown, newest first.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; exit 1 and name the first entry altered, removed or reordered.
    Verify,
}

pub(crate) fn run_audit(data_dir: &Path, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let db = open_existing(data_dir)?;
    if let Some(AuditCommand::Verify) = args.command {
        return Ok(match db.verify_audit(1)? {
            Ok(n) => {
                println!("audit log intact: {n} entries verified");
                ExitCode::SUCCESS
            }
            Err(b) => {
                println!("audit log broken at entry {}: {}", b.seq, b.why);
                ExitCode::from(1)
            }
        });
    }
    let f = AuditFilter {
        action: args.action,
        actor: args.actor,
        since: args.since,
        limit: args.limit,
        ..Default::default()
    };
    for e in db.audit_entries(&f)? {
        if args.json {
            println!("{}", serde_json::to_string(&e)?);
        } else {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                e.seq,
                e.at.to_rfc3339(),
                e.actor,
                e.address.unwrap_or_default(),
                e.action,
                e.object,
                e.detail
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tidewatch retention`.
#[derive(Debug, clap::Args)]
pub(crate) struct RetentionArgs {
    #[command(subcommand)]
    command: RetentionCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RetentionCommand {
    /// Delete the items past the retention period now (the server does it every hour).
    Run {
        /// Stop after this many batches (for testing an interrupted run).
        #[arg(long, hide = true)]
        stop_after: Option<usize>,
        /// Items per batch.
        #[arg(long, default_value_t = tidewatch_engine::retention::BATCH)]
        batch: usize,
    },
    /// Set the retention period in days.
    Set { days: i64 },
    /// Show the retention period.
    Show,
}

pub(crate) fn run_retention(data_dir: &Path, args: RetentionArgs) -> anyhow::Result<ExitCode> {
    let mut db = open_existing(data_dir)?;
    match args.command {
        RetentionCommand::Show => println!("{} days", tidewatch_engine::retention::retention_days(&db)?),
        RetentionCommand::Set { days } => {
            let who = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "local".into()));
            tidewatch_engine::retention::set_retention_days(&mut db, &who, None, days, Utc::now())?;
            println!("retention: {days} days");
        }
        RetentionCommand::Run { stop_after, batch } => {
            drop(db);
            let dir = DataDir::new(data_dir);
            let mut p = Pipeline::open(&dir, load_segmenter(&dir)?, PipelineConfig::default())?;
            match tidewatch_engine::retention::purge(&mut p, Utc::now(), batch, stop_after)? {
                Some(r) => println!("purged {} items published before {}", r.purged, r.cutoff.to_rfc3339()),
                None => println!("nothing to purge"),
            }
            p.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
