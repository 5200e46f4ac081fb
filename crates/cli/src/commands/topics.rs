//! `tidewatch topics check|load|list|backtest|counts`

use anyhow::Context;
use chrono::Utc;
use std::path::Path;
use std::process::ExitCode;
use tidewatch_engine::topics::{backtest, check_rule, load_topics, period_start, save_topics};
use tidewatch_engine::DataDir;
use tidewatch_store::Db;

/// Days start at midnight in this zone.
const ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

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
    /// Save the topics of a file into the data directory. Each changed topic becomes a new
    /// version; items stored from then on are matched against the enabled ones. Topics with
    /// errors are reported and not saved (exit status 1); the others are saved.
    Load {
        /// The topics file.
        file: String,
    },
    /// List the stored topics.
    List {
        /// One JSON object per topic, with its history.
        #[arg(long)]
        json: bool,
    },
    /// Run a draft rule over the stored items of the last N days, without saving it: hits per
    /// day and sample hits with the matched spans marked [like this].
    Backtest {
        /// The rule (see docs/rules.md).
        #[arg(long)]
        rule: String,
        /// Days to look back, today included (days start at midnight, Asia/Shanghai).
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Sample hits to show.
        #[arg(long, default_value_t = 5)]
        samples: usize,
        /// End of the period (default: now), e.g. 2026-10-26.
        #[arg(long)]
        until: Option<String>,
        /// One JSON object with the whole result.
        #[arg(long)]
        json: bool,
    },
    /// Items that matched each stored topic, per day, over the last N days.
    Counts {
        /// Days to look back, today included.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Only this topic.
        #[arg(long)]
        topic: Option<String>,
    },
}

fn open_db(data_dir: &Path) -> anyhow::Result<Db> {
    let dir = DataDir::new(data_dir);
    Db::open(dir.root()).with_context(|| format!("cannot open the data directory {}", data_dir.display()))
}

pub(crate) fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
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
        Sub::Load { file } => {
            let src = std::fs::read_to_string(&file).with_context(|| format!("cannot read {file}"))?;
            let (topics, diags) = load_topics(&src);
            for d in &diags {
                println!("{file}: {d}");
            }
            let mut db = open_db(data_dir)?;
            let by = format!("cli:{file}");
            for (id, version, changed) in save_topics(&mut db, &topics, &by, Utc::now())? {
                println!(
                    "{id}: {}",
                    if changed {
                        format!("saved as version {version}")
                    } else {
                        format!("unchanged (version {version})")
                    }
                );
            }
            let errors = diags.iter().filter(|d| d.error).count();
            Ok(if errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Sub::List { json } => {
            let db = open_db(data_dir)?;
            for t in db.topics()? {
                if json {
                    let versions = db.topic_versions(t.key)?;
                    let mut v = serde_json::to_value(&t)?;
                    v["versions"] = serde_json::to_value(versions)?;
                    println!("{v}");
                } else {
                    let d = &t.def;
                    let state = if d.enabled { "enabled" } else { "disabled" };
                    let unit = d.unit.as_deref().unwrap_or("-");
                    println!("{}\tv{}\t{state}\t{}\t{unit}\t{}\t{}", d.id, t.version, d.severity, d.name, d.rule);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Sub::Backtest { rule, days, samples, until, json } => {
            let end = match until.as_deref() {
                Some(u) => tidewatch_ingest::dates::parse_datetime(u).map_err(|e| anyhow::anyhow!("--until: {e}"))?,
                None => Utc::now(),
            };
            let (node, warnings) = match check_rule("draft", &rule) {
                Ok(r) => r,
                Err(d) => {
                    eprintln!("{d}");
                    return Ok(ExitCode::from(1));
                }
            };
            for w in &warnings {
                eprintln!("{w}");
            }
            let db = open_db(data_dir)?;
            let bt = backtest(&db, &node, days, end, ZONE, samples)?;
            if json {
                let v = serde_json::json!({
                    "days": bt.days.iter().map(|(d, c)| serde_json::json!({"day": d, "count": c})).collect::<Vec<_>>(),
                    "scanned": bt.scanned,
                    "hits": bt.hits,
                    "samples": bt.samples.iter().map(|(s, spans)| serde_json::json!({
                        "item_id": s.id.0,
                        "id": s.item.ext_id,
                        "source": s.item.source,
                        "published_at": s.item.published_at,
                        "title": s.item.title,
                        "text": s.item.text,
                        "spans": spans.iter().map(|sp| serde_json::json!({"field": sp.field, "start": sp.start, "end": sp.end})).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                });
                println!("{v}");
                return Ok(ExitCode::SUCCESS);
            }
            println!("{} of {} items matched over {} days", bt.hits, bt.scanned, bt.days.len());
            for (day, count) in &bt.days {
                println!("  {}  {count}", day.with_timezone(&ZONE).format("%Y-%m-%d"));
            }
            for (s, spans) in &bt.samples {
                let body = mark(&s.item.title, spans, "title") + " " + &mark(&s.item.text, spans, "text");
                let body: String = body.trim().chars().take(200).collect();
                println!("- [{}] {}: {body}", tidewatch_web::i18n::time(s.item.published_at), s.item.source);
            }
            Ok(ExitCode::SUCCESS)
        }
        Sub::Counts { days, topic } => {
            let db = open_db(data_dir)?;
            let days = days.clamp(1, 366);
            let since = period_start(Utc::now(), days, ZONE);
            let until = since + chrono::Duration::days(days as i64);
            for t in db.topics()?.into_iter().filter(|t| topic.as_deref().is_none_or(|id| id == t.def.id)) {
                let counts = db.topic_hit_counts(t.key, since, until, 86_400_000)?;
                let total: u64 = counts.iter().map(|c| c.1).sum();
                let per_day: Vec<String> = counts.iter().map(|c| c.1.to_string()).collect();
                println!("{}\t{total}\t{}", t.def.id, per_day.join(" "));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `text` with the spans of `field` marked `[like this]`.
fn mark(text: &str, spans: &[tidewatch_text::rules::Span], field: &str) -> String {
    let mut out = String::new();
    let mut spans: Vec<_> = spans.iter().filter(|s| s.field == field).collect();
    spans.sort_by_key(|s| s.start);
    let (mut starts, mut ends) =
        (spans.iter().map(|s| s.start).peekable(), spans.iter().map(|s| s.end).collect::<Vec<_>>());
    ends.sort();
    let mut ends = ends.into_iter().peekable();
    for (i, c) in text.chars().enumerate() {
        while ends.peek() == Some(&i) {
            out.push(']');
            ends.next();
        }
        while starts.peek() == Some(&i) {
            out.push('[');
            starts.next();
        }
        out.push(c);
    }
    out.extend(ends.map(|_| ']'));
    out
}
