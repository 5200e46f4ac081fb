//! `tidewatch`: the command line. A thin layer over the library crates: each subcommand is one
//! file in `commands/`, every flag is defined once here and its help generated from it.

mod commands;
mod progress;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: the pipeline allocates per token and per row on all
/// cores, and glibc's malloc and free took 13–22% of each thread's time in the profile (ADR 0014).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;
use std::process::ExitCode;

/// Tidewatch — public-opinion monitoring and response (舆情监测与应急处置平台).
#[derive(Debug, Parser)]
#[command(name = "tidewatch", version, about, max_term_width = 100)]
struct Cli {
    /// Data directory (database, search index, user dictionary).
    #[arg(long, global = true, env = "TIDEWATCH_DATA_DIR", default_value = "./tidewatch-data")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import items from JSON Lines or CSV files (`-` for standard input).
    Import(commands::import::Args),
    /// Search stored items.
    Search(commands::search::Args),
    /// Run the offline text pipeline on JSON Lines (no store): one JSON line out per valid item.
    Analyze(commands::analyze::Args),
    /// Alerts and their state (from the data directory).
    Alerts(commands::alerts::AlertsArgs),
    /// Who is on duty: `oncall now [--unit U] [--at T]`.
    Oncall(commands::alerts::OncallArgs),
    /// Sentiment: score texts, train the committed models.
    Sentiment(commands::sentiment::Args),
    /// Topics and their rules.
    Topics(commands::topics::Args),
    /// Match JSON Lines items against the topics of a file: one JSON line out per valid item.
    Match(commands::matching::Args),
    /// Poll the live sources of a configuration file and store what they bring.
    Poll(commands::poll::PollArgs),
    /// The health of the live sources of a configuration file.
    Sources(commands::poll::SourcesArgs),
    /// Signals raised (own-site changes, forbidden terms, …), newest first.
    Signals(commands::poll::SignalsArgs),
    /// Feeds: see what Tidewatch reads in one.
    Feed(commands::feed::Args),
    /// Start the server on a fresh data directory with the bundled demo data replayed live.
    Demo(commands::demo::Args),
    /// Start the server (web UI and API) on the data directory.
    Serve(commands::serve::Args),
    /// Measure throughput of the text pipeline and of durable import.
    Bench(commands::bench::Args),
    /// Accounts: add (the first admin too), list, disable, unlock, passwd, grant.
    Users(commands::users::UsersArgs),
    /// API tokens for machine clients: add (shown once), list, revoke.
    Tokens(commands::users::TokensArgs),
    /// Units (责任单位): list, set, figures (考核).
    Units(commands::users::UnitsArgs),
    /// Cases: list, show with the timeline.
    Cases(commands::cases::CasesArgs),
    /// Responses on cases: list, show, diff of versions.
    Responses(commands::cases::ResponsesArgs),
    /// Claims on cases: list, show with the clarification's effect.
    Claims(commands::cases::ClaimsArgs),
    /// People and their contact points: list, set.
    People(commands::users::PeopleArgs),
    /// The audit log (留痕): list and filter, or `verify` its hash chain.
    Audit(commands::audit::AuditArgs),
    /// Retention: run a purge now, set or show the period.
    Retention(commands::audit::RetentionArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TIDEWATCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Import(a) => commands::import::run(&cli.data_dir, a),
        Command::Search(a) => commands::search::run(&cli.data_dir, a),
        Command::Analyze(a) => commands::analyze::run(a),
        Command::Topics(a) => commands::topics::run(&cli.data_dir, a),
        Command::Sentiment(a) => commands::sentiment::run(a),
        Command::Alerts(a) => commands::alerts::run_alerts(&cli.data_dir, a),
        Command::Oncall(a) => commands::alerts::run_oncall(&cli.data_dir, a),
        Command::Match(a) => commands::matching::run(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::Feed(a) => commands::feed::run(a),
        Command::Poll(a) => commands::poll::run_poll(&cli.data_dir, a),
        Command::Sources(a) => commands::poll::run_sources(&cli.data_dir, a),
        Command::Signals(a) => commands::poll::run_signals(&cli.data_dir, a),
        Command::Serve(a) => commands::serve::run(&cli.data_dir, a),
        Command::Bench(a) => commands::bench::run(a),
        Command::Users(a) => commands::users::run_users(&cli.data_dir, a),
        Command::Tokens(a) => commands::users::run_tokens(&cli.data_dir, a),
        Command::Units(a) => commands::users::run_units(&cli.data_dir, a),
        Command::Cases(a) => commands::cases::run_cases(&cli.data_dir, a),
        Command::Responses(a) => commands::cases::run_responses(&cli.data_dir, a),
        Command::Claims(a) => commands::cases::run_claims(&cli.data_dir, a),
        Command::People(a) => commands::users::run_people(&cli.data_dir, a),
        Command::Audit(a) => commands::audit::run_audit(&cli.data_dir, a),
        Command::Retention(a) => commands::audit::run_retention(&cli.data_dir, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
