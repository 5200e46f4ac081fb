//! The offline pipeline (`tidewatch analyze`): items in, derived fields out, no store.
//!
//! Each valid item gets its language, SimHash and, when it near-duplicates an item earlier in the
//! same input, that item's id. Later analysis stages add their fields here.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use tidewatch_model::{ItemInput, Lang};
use tidewatch_text::dedup::{DedupConfig, Deduper};
use tidewatch_text::{prepare, InvalidItem, PrepareOptions, Segmenter};

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
}

/// State of one `analyze` run.
#[derive(Debug)]
pub struct Analyzer {
    segmenter: Arc<Segmenter>,
    dedup: Deduper,
    ids: Vec<String>,
}

impl Analyzer {
    /// A fresh run.
    pub fn new(segmenter: Arc<Segmenter>, config: DedupConfig) -> Analyzer {
        Analyzer { segmenter, dedup: Deduper::new(config), ids: Vec::new() }
    }

    /// Analyzes the next item of the input. `line` stands in for a missing id.
    pub fn analyze(&mut self, line: u64, input: &ItemInput, now: DateTime<Utc>) -> Result<Analyzed, InvalidItem> {
        let p = prepare(input, now, &self.segmenter, PrepareOptions { tokens: false })?;
        let id = input.id.clone().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| line.to_string());
        let url = p.item.canonical_url.as_deref();
        let duplicate_of = self.dedup.find(&p.fingerprint, url).map(|(g, _)| self.ids[g as usize].clone());
        let group = match self.dedup.find(&p.fingerprint, url) {
            Some((g, _)) => g,
            None => {
                self.ids.push(id.clone());
                (self.ids.len() - 1) as u64
            }
        };
        self.dedup.insert(&p.fingerprint, url, group);
        Ok(Analyzed { id, lang: p.item.lang, simhash: format!("{:016x}", p.item.simhash), duplicate_of })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(id: &str, text: &str) -> ItemInput {
        ItemInput { id: Some(id.into()), text: Some(text.into()), ..Default::default() }
    }

    #[test]
    fn reposts_point_at_the_first_item() {
        let mut a = Analyzer::new(Segmenter::shared_default(), DedupConfig::default());
        let now = Utc::now();
        let first = a
            .analyze(1, &input("a", "澜江理工大学第三食堂今天中午多名学生出现腹泻症状，学校已经介入调查"), now)
            .unwrap();
        assert_eq!(first.duplicate_of, None);
        assert_eq!(first.simhash.len(), 16);
        let repost = a
            .analyze(
                2,
                &input("b", "太吓人了//@小李:澜江理工大学第三食堂今天中午多名学生出现腹泻症状，学校已经介入调查"),
                now,
            )
            .unwrap();
        assert_eq!(repost.duplicate_of.as_deref(), Some("a"));
        let other = a
            .analyze(
                3,
                &ItemInput {
                    text: Some("Completely unrelated English post about the library".into()),
                    ..Default::default()
                },
                now,
            )
            .unwrap();
        assert_eq!((other.id.as_str(), other.lang, other.duplicate_of), ("3", Lang::En, None));
    }
}
