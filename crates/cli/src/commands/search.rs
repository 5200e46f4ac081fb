//! `tidewatch search QUERY`

use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;
use tidewatch_engine::pipeline::load_segmenter;
use tidewatch_engine::DataDir;
use tidewatch_store::{Db, SearchIndex, SearchRequest, SortOrder};
use tidewatch_text::snippet::highlight;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Terms (all required), "quoted phrases", -excluded terms.
    query: String,
    /// Only items published at or after this time (RFC 3339 or YYYY-MM-DD [HH:MM]).
    #[arg(long)]
    since: Option<String>,
    /// Only items published before this time.
    #[arg(long)]
    until: Option<String>,
    /// Only items from this source (repeatable).
    #[arg(long)]
    source: Vec<String>,
    /// Only items that matched this topic when stored (repeatable: any of them).
    #[arg(long)]
    topic: Vec<String>,
    /// Only items in this language (zh, en, other).
    #[arg(long, value_parser = ["zh", "en", "other"])]
    lang: Option<String>,
    /// Maximum number of hits.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Order of hits.
    #[arg(long, value_parser = ["relevance", "newest"], default_value = "relevance")]
    sort: String,
    /// One JSON object per hit.
    #[arg(long)]
    json: bool,
}

fn time(name: &str, v: &Option<String>) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    v.as_deref()
        .map(|s| tidewatch_ingest::dates::parse_datetime(s).map_err(|e| anyhow::anyhow!("--{name}: {e}")))
        .transpose()
}

pub(crate) fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let dir = DataDir::new(data_dir);
    if !dir.root().join("tidewatch.db").exists() {
        anyhow::bail!("{} holds no Tidewatch data (import something first)", data_dir.display());
    }
    let db = Db::open(dir.root())?;
    let index =
        SearchIndex::open(&dir.index_dir(), load_segmenter(&dir)?, false).context("cannot open the search index")?;
    let req = SearchRequest {
        query: args.query.clone(),
        since: time("since", &args.since)?,
        until: time("until", &args.until)?,
        sources: args.source.clone(),
        lang: args.lang.clone(),
        topics: args.topic.clone(),
        limit: args.limit.max(1),
        offset: 0,
        order: if args.sort == "newest" { SortOrder::Newest } else { SortOrder::Relevance },
    };
    let results = index.search(&req)?;
    let ids: Vec<_> = results.hits.iter().map(|h| h.item).collect();
    let items = db.items_by_ids(&ids)?;
    let sizes = db.group_sizes(&items.iter().map(|i| i.group).collect::<Vec<_>>())?;
    if !args.json {
        println!("{} hits", results.total);
    }
    for ((s, hit), size) in items.iter().zip(&results.hits).zip(sizes) {
        let body = if s.item.text.is_empty() { &s.item.title } else { &s.item.text };
        let snippet = highlight(body, &results.terms, 160);
        if args.json {
            let v = serde_json::json!({
                "id": s.item.ext_id.clone().unwrap_or_else(|| s.id.to_string()),
                "item_id": s.id.0,
                "source": s.item.source,
                "title": s.item.title,
                "text": s.item.text,
                "author": s.item.author,
                "url": s.item.url,
                "published_at": s.item.published_at.to_rfc3339(),
                "lang": s.item.lang,
                "score": hit.score,
                "group_id": s.group.0,
                "repost_count": size.saturating_sub(1),
                "snippet": snippet,
            });
            println!("{v}");
        } else {
            let title = if s.item.title.is_empty() { String::new() } else { format!("{} — ", s.item.title) };
            println!(
                "\n[{}] {} {}{}",
                tidewatch_web::i18n::time(s.item.published_at),
                s.item.source,
                title,
                s.item.url.as_deref().unwrap_or("")
            );
            println!("  {}", terminal_snippet(&snippet));
            if size > 1 {
                println!("  ({} reposts/copies)", size - 1);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The HTML snippet for a terminal: marks as brackets, entities decoded.
fn terminal_snippet(html: &str) -> String {
    let s = html.replace("<b>", "【").replace("</b>", "】");
    html_unescape(&s)
}

fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}
