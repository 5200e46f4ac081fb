//! `tidewatch feed parse FILE...`: what Tidewatch sees in a feed.

use anyhow::Context;
use std::io::Write;
use std::process::ExitCode;
use tidewatch_ingest::feed::{parse_feed, FeedOptions};
use tidewatch_ingest::fetch::{AddrRange, AddressPolicy, FetchOutcome, FetchPolicy, Fetcher, Validators};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Print one JSON line per entry (title, url, text, summary, content, published_at,
    /// updated_at, author, id); problems found go to standard error.
    Parse {
        /// Feed files or http(s) URLs (RSS, Atom, JSON Feed; any encoding).
        #[arg(required = true)]
        files: Vec<String>,
        /// Address ranges a URL may reach although private or loopback (e.g. 127.0.0.1).
        #[arg(long)]
        allow: Vec<String>,
        /// One JSON object per file instead (kind, title, link, encoding, problems, entries).
        #[arg(long)]
        document: bool,
        /// Zone of dates written without one (IANA name).
        #[arg(long, default_value = "Asia/Shanghai")]
        zone: String,
        /// Resolve relative links against this URL (default: none).
        #[arg(long)]
        base_url: Option<String>,
        /// The Content-Type the file was served with (its charset counts).
        #[arg(long)]
        content_type: Option<String>,
    },
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Sub::Parse { files, document, zone, base_url, content_type, allow } => {
            let allow: Vec<AddrRange> = allow
                .iter()
                .map(|a| a.parse())
                .collect::<Result<_, String>>()
                .map_err(|e| anyhow::anyhow!("--allow: {e}"))?;
            let fetcher = Fetcher::new(FetchPolicy { addresses: AddressPolicy { allow }, ..Default::default() })?;
            let rt = super::serve::runtime()?;
            let zone: chrono_tz::Tz =
                zone.parse().map_err(|_| anyhow::anyhow!("--zone: unknown time zone {zone:?}"))?;
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            let mut failed = false;
            for file in &files {
                let is_url = file.starts_with("http://") || file.starts_with("https://");
                let read = if is_url {
                    rt.block_on(fetcher.get(file, &Validators::default())).map_err(anyhow::Error::from).and_then(|o| {
                        match o {
                            FetchOutcome::Fetched(f) => Ok((f.body, f.content_type, Some(f.url))),
                            FetchOutcome::NotModified => {
                                Err(anyhow::anyhow!("{file}: 304 without a conditional request"))
                            }
                        }
                    })
                } else {
                    std::fs::read(file).with_context(|| format!("cannot read {file}")).map(|b| (b, None, None))
                };
                let (bytes, served_type, final_url) = match read {
                    Ok(b) => b,
                    Err(e) => {
                        let msg = format!("{e:#}");
                        if msg.contains(" address") && is_url {
                            // Refused by the address guard: say how to allow it on purpose.
                            eprintln!("{msg}\n  (internal addresses are refused by default; allow a range on purpose with --allow, e.g. --allow 127.0.0.1 or --allow 10.0.0.0/8)");
                        } else {
                            eprintln!("{msg}");
                        }
                        failed = true;
                        if document {
                            writeln!(out, "{}", serde_json::json!({"file": file, "error": format!("{e:#}")}))?;
                        }
                        continue;
                    }
                };
                let opts = FeedOptions {
                    base_url: base_url.clone().or(final_url),
                    zone,
                    content_type: content_type.clone().or(served_type),
                };
                let feed = parse_feed(&bytes, &opts);
                if document {
                    let mut v = serde_json::to_value(&feed)?;
                    v["file"] = serde_json::Value::String(file.clone());
                    writeln!(out, "{v}")?;
                    continue;
                }
                for p in &feed.problems {
                    eprintln!("{file}: {p}");
                }
                for e in &feed.entries {
                    writeln!(out, "{}", serde_json::to_string(e)?)?;
                }
            }
            out.flush()?;
            Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
    }
}
