//! `tidewatch alerts` and `tidewatch oncall now`

use anyhow::Context;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::process::ExitCode;
use tidewatch_engine::DataDir;
use tidewatch_workflow::alerts::{Alert, Alerts};

#[derive(Debug, clap::Args)]
pub(crate) struct AlertsArgs {
    /// Only alerts in this state: firing, acknowledged, resolved.
    #[arg(long)]
    state: Option<String>,
    /// One JSON object per alert.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct OncallArgs {
    #[command(subcommand)]
    command: OncallSub,
}

#[derive(Debug, clap::Subcommand)]
enum OncallSub {
    /// Who is on duty now (or at --at), per unit.
    Now {
        /// Only this unit.
        #[arg(long)]
        unit: Option<String>,
        /// Another moment (RFC 3339, e.g. 2026-11-27T09:00:00+08:00).
        #[arg(long)]
        at: Option<DateTime<chrono::FixedOffset>>,
        /// The alerting configuration (default: alerting.toml in the data directory).
        #[arg(long)]
        alerting: Option<String>,
    },
}

pub(crate) fn run_alerts(data_dir: &Path, args: AlertsArgs) -> anyhow::Result<ExitCode> {
    if let Some(s) = &args.state {
        anyhow::ensure!(
            ["firing", "acknowledged", "resolved"].contains(&s.as_str()),
            "--state must be firing, acknowledged or resolved"
        );
    }
    let db = super::users::open_existing(data_dir)?;
    // Alerts are rows since schema 10; a store not yet opened by a server since keeps them as
    // one document.
    let alerts: Vec<Alert> = match db.alerting_state()?.alerts {
        Some(json) => {
            let old: Alerts = serde_json::from_str(&json).context("the stored alerts are unreadable")?;
            old.alerts.into_iter().rev().collect()
        }
        None => db
            .alerts_page(None, None, 100_000)?
            .iter()
            .map(|j| serde_json::from_str(j).context("a stored alert is unreadable"))
            .collect::<anyhow::Result<_>>()?,
    };
    for a in alerts.iter() {
        let state = serde_json::to_value(a.state)?.as_str().unwrap_or("").to_string();
        if args.state.as_ref().is_some_and(|s| s != &state) {
            continue;
        }
        if args.json {
            println!("{}", serde_json::to_string(a)?);
        } else {
            let last = a.events.last().map(|e| {
                format!(
                    "{} {}{}",
                    tidewatch_web::i18n::time(e.at),
                    e.what,
                    e.who.as_deref().map(|w| format!(" by {w}")).unwrap_or_default()
                )
            });
            println!(
                "#{:<4} {:<12} {:<8} {} signals  {}  [{}]",
                a.id,
                state,
                a.severity.as_str(),
                a.signals.len(),
                a.title,
                last.unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run_oncall(data_dir: &Path, args: OncallArgs) -> anyhow::Result<ExitCode> {
    let OncallSub::Now { unit, at, alerting } = args.command;
    let dir = DataDir::new(data_dir);
    let Some(config) = super::serve::alerting_config(&dir, alerting.as_deref())? else {
        anyhow::bail!("no alerting configuration: give --alerting FILE or put alerting.toml in {}", data_dir.display());
    };
    let at: DateTime<Utc> = at.map(|t| t.with_timezone(&Utc)).unwrap_or_else(Utc::now);
    let units: Vec<_> = config.unit.iter().filter(|u| unit.as_ref().is_none_or(|x| x == &u.id)).collect();
    anyhow::ensure!(!units.is_empty(), "no unit {:?}", unit.unwrap_or_default());
    let zone = chrono_tz::Asia::Shanghai;
    for u in units {
        match u.schedule.on_duty(at) {
            Some(s) => println!(
                "{}: {} ({}), {} → {}",
                u.id,
                s.person,
                s.source,
                s.from.with_timezone(&zone).format("%m-%d %H:%M %Z"),
                s.to.with_timezone(&zone).format("%m-%d %H:%M %Z")
            ),
            None => println!("{}: nobody on duty", u.id),
        }
    }
    Ok(ExitCode::SUCCESS)
}
