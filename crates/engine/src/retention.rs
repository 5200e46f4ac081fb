//! Retention, the timed module: items older than the retention period (default 180 days, set by
//! an admin) are deleted with their authors, topic hits, analysis and search documents; story
//! volumes, topic counts, stories, signals, alerts and the audit log stay. Items held as evidence
//! (`Db::hold_item`, used by open cases) are kept until released.
//!
//! A run records its cutoff in `meta` before it deletes anything and audits itself when done. A
//! run killed half-way is finished by the next one with the same cutoff (the store keeps the ids
//! it deleted until the search index no longer holds them), and a run with nothing to do changes
//! nothing, so running it twice is safe.

use crate::pipeline::Pipeline;
use crate::EngineError;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tidewatch_store::{Db, NewAudit};

/// Default retention period, in days (DESIGN.md §3).
pub const DEFAULT_DAYS: i64 = 180;
/// Items deleted per transaction.
pub const BATCH: usize = 2_000;

/// The retention period in days (an admin's setting, else the default).
pub fn retention_days(db: &Db) -> Result<i64, EngineError> {
    Ok(db.meta("retention_days")?.and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_DAYS))
}

/// Sets the retention period (1 to 36,500 days), audited.
pub fn set_retention_days(
    db: &mut Db,
    who: &str,
    address: Option<&str>,
    days: i64,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    if !(1..=36_500).contains(&days) {
        return Err(EngineError::Config(format!("retention: {days} days is not within 1..=36500")));
    }
    let before = retention_days(db)?;
    db.set_meta("retention_days", &days.to_string())?;
    db.append_audit(
        &NewAudit::new(who, address, "settings.retention", "settings:retention_days")
            .with(serde_json::json!({"before": before, "after": days})),
        now,
    )?;
    Ok(())
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
struct Run {
    cutoff: DateTime<Utc>,
    started: DateTime<Utc>,
    /// The process that started it: another one finishing it means the first was stopped.
    #[serde(default)]
    process: u32,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PurgeReport {
    /// Items deleted by this run (including what an interrupted run deleted before).
    pub purged: u64,
    /// Items published and stored before this were deleted.
    pub cutoff: DateTime<Utc>,
    /// Whether this run finished one that another process started (and was stopped in).
    pub resumed: bool,
}

/// One retention run at `now`, in batches of `batch`; `stop_after` batches ends it early (for
/// the kill test; `None` runs to the end). Returns `None` when nothing was due.
pub fn purge(
    pipeline: &mut Pipeline,
    now: DateTime<Utc>,
    batch: usize,
    stop_after: Option<usize>,
) -> Result<Option<PurgeReport>, EngineError> {
    let days = retention_days(pipeline.db())?;
    let (run, resumed) = match pipeline.db().meta("retention_run")?.and_then(|v| serde_json::from_str::<Run>(&v).ok()) {
        Some(r) => {
            let resumed = r.process != std::process::id();
            (r, resumed)
        }
        None => {
            // The run is recorded before its first deletion; the store counts what each batch
            // deletes in the batch's own transaction.
            let run = Run { cutoff: now - Duration::days(days), started: now, process: std::process::id() };
            pipeline.db_mut().set_meta("retention_purged", "0")?;
            pipeline.db_mut().set_meta("retention_run", &serde_json::to_string(&run).unwrap_or_default())?;
            (run, false)
        }
    };
    let mut batches = 0;
    loop {
        if stop_after.is_some_and(|n| batches >= n) {
            return Ok(None);
        }
        if pipeline.purge_before(run.cutoff, batch.max(1))? == 0 {
            break;
        }
        batches += 1;
    }
    let db = pipeline.db_mut();
    let purged: u64 = db.meta("retention_purged")?.and_then(|v| v.parse().ok()).unwrap_or(0);
    if purged > 0 {
        db.append_audit(
            &NewAudit::new("system", None, "retention.purge", "items").with(serde_json::json!({
                "purged": purged, "before": run.cutoff, "days": days, "resumed": resumed, "started": run.started,
            })),
            now,
        )?;
    }
    db.delete_meta("retention_run")?;
    db.delete_meta("retention_purged")?;
    Ok((purged > 0).then_some(PurgeReport { purged, cutoff: run.cutoff, resumed }))
}
