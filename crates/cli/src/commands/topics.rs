//! `tidewatch topics check FILE`

use anyhow::Context;
use std::process::ExitCode;
use tidewatch_engine::topics::load_topics;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Check a topics file (TOML, `[[topic]]` tables with `id` and `rule`): every error and
    /// warning with its topic id and column; exit status 1 if any rule has an error.
    Check {
        /// The topics file.
        file: String,
    },
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Sub::Check { file } => {
            let src = std::fs::read_to_string(&file).with_context(|| format!("cannot read {file}"))?;
            let (topics, diags) = load_topics(&src);
            for d in &diags {
                println!("{file}: {d}");
            }
            let errors = diags.iter().filter(|d| d.error).count();
            println!("{file}: {} topics loaded, {errors} errors, {} warnings", topics.len(), diags.len() - errors);
            Ok(if errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
    }
}
