//! The offline pipeline (`tidewatch analyze`): items in, derived fields out, no store.
//!
//! Each valid item gets its language, SimHash, sentiment and story and, when it near-duplicates
//! an earlier item of the same input, that item's id. "Earlier" is publication order: the input
//! is prepared in full, then deduplicated and grouped into stories in `published_at` order
//! (input order among equal times); results come back in input order.

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;
use std::sync::Arc;
use tidewatch_detect::sentiment::{self, Polarity};
use tidewatch_detect::stories::{self, StoryConfig, StoryInput};
use tidewatch_model::{ItemInput, Lang};
use tidewatch_text::dedup::{DedupConfig, Deduper};
use tidewatch_text::{prepare, InvalidItem, PrepareOptions, Prepared, Segmenter};

/// The fields `analyze` prints for one item.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Analyzed {
    /// The input's id, or its line number when it had none.
    pub id: String,
    /// Detected language.
    pub lang: Lang,
    /// SimHash-64, 16 hex digits.
    pub simhash: String,
    /// Id of the earlier item of the same input this one duplicates.
    pub duplicate_of: Option<String>,
    /// Polarity and score.
    pub sentiment: SentimentOut,
    /// The story the item was grouped into (ids count from 1 in each run).
    pub story: String,
}

/// `{"label": ..., "score": ...}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SentimentOut {
    /// negative, neutral or positive.
    pub label: Polarity,
    /// In [-1, 1], three decimals.
    pub score: f32,
}

/// Terms kept per item for story grouping.
pub const STORY_TERMS: usize = 24;

/// The distinctive terms of a prepared item (title and text tokens).
pub fn story_terms(p: &Prepared, segmenter: &Segmenter) -> Vec<(String, f32)> {
    let tokens: Vec<&str> = p.title_tokens.iter().chain(&p.text_tokens).map(|t| t.text.as_str()).collect();
    stories::terms(segmenter, &tokens, STORY_TERMS)
}

/// The opening of an item, as a story title.
pub fn headline(p: &Prepared) -> &str {
    if p.item.title.is_empty() {
        &p.item.text
    } else {
        &p.item.title
    }
}

/// Analyzes a whole input: `(line, input)` pairs in input order; one result per pair, in the
/// same order. `line` stands in for a missing id; `now` for a missing publication time.
pub fn analyze_all(
    rows: &[(u64, ItemInput)],
    now: DateTime<Utc>,
    segmenter: &Arc<Segmenter>,
    config: DedupConfig,
) -> Vec<Result<Analyzed, InvalidItem>> {
    let options = PrepareOptions { tokens: true };
    type Ready = (Prepared, Vec<(String, f32)>, sentiment::Sentiment);
    let prepared: Vec<Result<Ready, InvalidItem>> = rows
        .par_iter()
        .map(|(_, input)| {
            let p = prepare(input, now, segmenter, options)?;
            let terms = story_terms(&p, segmenter);
            let s = sentiment::Analyzer::shared().analyze(p.item.lang, &p.item.title, &p.item.text);
            Ok((p, terms, s))
        })
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).filter(|&i| prepared[i].is_ok()).collect();
    order.sort_by_key(|&i| prepared[i].as_ref().map(|p| p.0.item.published_at).ok());
    let ids: Vec<String> = rows
        .iter()
        .map(|(line, input)| input.id.clone().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| line.to_string()))
        .collect();
    let mut dedup = Deduper::new(config);
    let mut group_first: Vec<usize> = Vec::new();
    let mut clusters = stories::Stories::new(StoryConfig::default(), 1);
    let mut placed: Vec<Option<(Option<usize>, u64)>> = vec![None; rows.len()];
    for &i in &order {
        let Ok((p, terms, s)) = &prepared[i] else { continue };
        let url = p.item.canonical_url.as_deref();
        let found = dedup.find(&p.fingerprint, url).map(|(g, _)| g);
        let group = found.unwrap_or_else(|| {
            group_first.push(i);
            (group_first.len() - 1) as u64
        });
        dedup.insert(&p.fingerprint, url, group);
        let placement = clusters.place(&StoryInput {
            published_at: p.item.published_at,
            dup_group: Some(group),
            is_copy: found.is_some(),
            terms,
            source: &p.item.source,
            sentiment: s.label,
            headline: headline(p),
        });
        placed[i] = Some((found.map(|g| group_first[g as usize]), placement.story));
    }
    prepared
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let (p, _, s) = r?;
            let (dup, story) = placed[i].expect("every valid item is placed");
            Ok(Analyzed {
                id: ids[i].clone(),
                lang: p.item.lang,
                simhash: format!("{:016x}", p.item.simhash),
                duplicate_of: dup.map(|d| ids[d].clone()),
                sentiment: SentimentOut { label: s.label, score: (s.score * 1000.0).round() / 1000.0 },
                // Merged ids resolve to the survivor as of the end of the run.
                story: clusters.resolve(story).to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(id: &str, text: &str) -> ItemInput {
        ItemInput { id: Some(id.into()), text: Some(text.into()), ..Default::default() }
    }

    #[test]
    fn reposts_point_at_the_first_item_in_time_and_share_its_story() {
        let now = Utc::now();
        let t = |h: i64| Some(now - chrono::Duration::hours(h));
        let rows = vec![
            // listed first, published later: the repost
            (
                1,
                ItemInput {
                    published_at: t(1),
                    ..input("b", "太吓人了//@小李:澜江理工大学第三食堂今天中午多名学生出现腹泻症状，学校已经介入调查")
                },
            ),
            (
                2,
                ItemInput {
                    published_at: t(2),
                    ..input("a", "澜江理工大学第三食堂今天中午多名学生出现腹泻症状，学校已经介入调查")
                },
            ),
            (
                3,
                ItemInput {
                    text: Some("Completely unrelated English post about the library".into()),
                    ..Default::default()
                },
            ),
            (
                4,
                ItemInput {
                    published_at: t(0),
                    ..input("c", "第三食堂腹泻事件：澜江理工大学称涉事学生已就医，食堂停业整顿")
                },
            ),
            (5, input("bad", "   ")),
        ];
        let out = analyze_all(&rows, now, &Segmenter::shared_default(), DedupConfig::default());
        let ok: Vec<&Analyzed> = out.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 4);
        assert!(matches!(out[4], Err(InvalidItem::MissingText)));
        let (b, a, other, c) = (ok[0], ok[1], ok[2], ok[3]);
        assert_eq!(a.duplicate_of, None);
        assert_eq!(a.simhash.len(), 16);
        assert_eq!(b.duplicate_of.as_deref(), Some("a"));
        assert_eq!((other.id.as_str(), other.lang, other.duplicate_of.clone()), ("3", Lang::En, None));
        assert_eq!(a.story, b.story);
        assert_eq!(a.story, c.story, "same event, different words");
        assert_ne!(a.story, other.story);
        assert_eq!(a.story, "1", "the earliest item starts story 1");
        assert!(a.sentiment.score < 0.0, "{:?}", a.sentiment);
        assert_eq!(c.sentiment.label, Polarity::Negative);
    }
}
