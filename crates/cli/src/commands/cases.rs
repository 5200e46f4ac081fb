//! `tidewatch cases`: list cases and show one with its timeline, from the store. Changes go
//! through the API (`/api/v1/cases`), where each is someone's and audited.

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use tidewatch_engine::cases::{review_figures, Cases};
use tidewatch_store::CaseFilter;
use tidewatch_workflow::cases::{Case, CaseState};

use super::users::open_existing;

/// `tidewatch cases`.
#[derive(Debug, clap::Args)]
pub(crate) struct CasesArgs {
    #[command(subcommand)]
    command: CasesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CasesCommand {
    /// List cases, newest first.
    List {
        /// Only these states (comma-separated: new, assessing, handling, monitoring, closed, reviewed).
        #[arg(long)]
        state: Option<String>,
        /// Only this owner unit.
        #[arg(long)]
        unit: Option<String>,
        /// Only cases with an open task past its deadline.
        #[arg(long)]
        overdue: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show a case, its tasks and its timeline (and its review figures once closed).
    Show {
        /// The case id.
        id: i64,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run_cases(data_dir: &Path, args: CasesArgs) -> anyhow::Result<ExitCode> {
    let db = open_existing(data_dir)?;
    match args.command {
        CasesCommand::List { state, unit, overdue, limit } => {
            let mut f = CaseFilter { limit: limit.clamp(1, 10_000), ..CaseFilter::default() };
            for s in state.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
                let st = CaseState::parse(s).ok_or_else(|| anyhow::anyhow!("--state: no state {s:?}"))?;
                f.states.push(st.as_str().into());
            }
            f.units = unit.map(|u| vec![u]);
            if overdue {
                f.overdue_at = Some(Utc::now());
            }
            let rows = db.cases(&f)?;
            if rows.is_empty() {
                println!("no cases");
            }
            for r in rows {
                println!(
                    "#{}\t{}\t{}\t{}\t{}\topened {}\t{}",
                    r.id,
                    r.state,
                    r.grade.as_deref().unwrap_or("-"),
                    r.classification.as_deref().unwrap_or("-"),
                    r.unit,
                    tidewatch_web::i18n::time(r.opened_at),
                    r.title
                );
            }
        }
        CasesCommand::Show { id, json } => {
            let case: Case = Cases::load(&db, id)?;
            let timeline = db.case_timeline(id)?;
            let figures = if case.state.is_open() { None } else { Some(review_figures(&db, &case)?) };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"case": case, "timeline": timeline, "review_figures": figures})
                    )?
                );
                return Ok(ExitCode::SUCCESS);
            }
            println!("case #{} {} [{} {}]", case.id, case.title, case.state.as_str(), case.state.name_zh());
            println!(
                "unit {}  owner {}  grade {}  classification {}",
                case.unit,
                case.owner.as_deref().unwrap_or("-"),
                case.grade().map(|g| g.as_str()).unwrap_or("-"),
                case.classification().map(|c| c.as_str()).unwrap_or("-")
            );
            for t in &case.tasks {
                println!(
                    "  task {:<24} {:<9} {:<12} due {}  {}",
                    t.id(),
                    format!("{:?}", t.state).to_lowercase(),
                    t.role.as_str(),
                    t.due_at.map(tidewatch_web::i18n::time).unwrap_or_else(|| "-".into()),
                    t.title
                );
            }
            for e in timeline {
                println!(
                    "  {}  {:<18} {:<10} {}",
                    tidewatch_web::i18n::time(e.at),
                    e.kind,
                    e.actor.unwrap_or_default(),
                    e.detail
                );
            }
            if let Some(f) = figures {
                println!("review: {}", serde_json::to_string(&f)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tidewatch responses`.
#[derive(Debug, clap::Args)]
pub(crate) struct ResponsesArgs {
    #[command(subcommand)]
    command: ResponsesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ResponsesCommand {
    /// A case's responses.
    List {
        /// The case id.
        #[arg(long)]
        case: i64,
    },
    /// A response: its chain, versions, decisions and publications (JSON).
    Show {
        /// The response id.
        id: i64,
    },
    /// Two versions word by word: `[-removed-]{+added+}`.
    Diff {
        /// The response id.
        id: i64,
        /// The older version (default: the one before `--to`).
        #[arg(long)]
        from: Option<u32>,
        /// The newer version (default: the current one).
        #[arg(long)]
        to: Option<u32>,
    },
}

pub(crate) fn run_responses(data_dir: &Path, args: ResponsesArgs) -> anyhow::Result<ExitCode> {
    use tidewatch_engine::responses::{word_diff, Responses};
    let db = open_existing(data_dir)?;
    match args.command {
        ResponsesCommand::List { case } => {
            for json in db.responses_of_case(case)? {
                let r: tidewatch_workflow::responses::Response = serde_json::from_str(&json)?;
                println!(
                    "#{}\t{}\tv{}\t{:?}\t{}\tchain {} (step {}/{})",
                    r.id,
                    r.state.as_str(),
                    r.current().n,
                    r.kind,
                    r.current().title,
                    r.chain.name,
                    r.step + 1,
                    r.chain.steps.len()
                );
            }
        }
        ResponsesCommand::Show { id } => {
            println!("{}", serde_json::to_string_pretty(&Responses::load(&db, id)?)?);
        }
        ResponsesCommand::Diff { id, from, to } => {
            let r = Responses::load(&db, id)?;
            let to = to.unwrap_or(r.current().n);
            let from = from.unwrap_or(to.saturating_sub(1).max(1));
            let version =
                |n: u32| r.versions.iter().find(|v| v.n == n).ok_or_else(|| anyhow::anyhow!("no version {n}"));
            let (a, b) = (version(from)?, version(to)?);
            let seg = tidewatch_text::segment::Segmenter::shared_default();
            for part in word_diff(&seg, &a.body, &b.body) {
                match part.op {
                    "added" => print!("{{+{}+}}", part.text),
                    "removed" => print!("[-{}-]", part.text),
                    _ => print!("{}", part.text),
                }
            }
            println!();
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tidewatch claims`.
#[derive(Debug, clap::Args)]
pub(crate) struct ClaimsArgs {
    #[command(subcommand)]
    command: ClaimsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ClaimsCommand {
    /// A case's claims.
    List {
        /// The case id.
        #[arg(long)]
        case: i64,
    },
    /// A claim, its items by stance and its clarification's effect (JSON).
    Show {
        /// The claim id.
        id: i64,
    },
}

pub(crate) fn run_claims(data_dir: &Path, args: ClaimsArgs) -> anyhow::Result<ExitCode> {
    use tidewatch_engine::responses::Responses;
    let db = open_existing(data_dir)?;
    match args.command {
        ClaimsCommand::List { case } => {
            for json in db.claims_of_case(case)? {
                let c: tidewatch_workflow::claims::Claim = serde_json::from_str(&json)?;
                println!(
                    "#{}\t{:?}\t{} items\t{}\t{}",
                    c.id,
                    c.status,
                    c.items.len(),
                    c.clarified
                        .map(|(r, at)| format!("clarified by #{r} at {}", tidewatch_web::i18n::time(at)))
                        .unwrap_or_default(),
                    c.text
                );
            }
        }
        ClaimsCommand::Show { id } => {
            let c = Responses::load_claim(&db, id)?;
            let effect = c.effect(24);
            println!("{}", serde_json::to_string_pretty(&serde_json::json!({"claim": c, "effect": effect}))?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
