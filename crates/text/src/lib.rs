//! The text pipeline: from an [`ItemInput`] to a normalized [`Item`], its fingerprint and its
//! index tokens.
//!
//! - [`normalize`] derives the display form (HTML to text) and the matching form (NFKC, case,
//!   traditional → simplified, whitespace), with a map from the second back to the first.
//! - [`lang`] tells zh from en from other; [`url`] canonicalizes links.
//! - [`segment`] holds the one jieba [`Segmenter`] (shared dictionary + user dictionary) that every
//!   tokenizing part of Tidewatch uses.
//! - [`fingerprint`] cuts reposting noise and computes SimHash-64 and exact hashes;
//!   [`dedup`] finds the group a fingerprint belongs to, without scanning.
//! - [`prepare`] runs all of it for one item. It is pure and CPU-only: callers run it on as many
//!   threads as they like.
#![deny(missing_docs)]

pub mod dedup;
pub mod fingerprint;
pub mod lang;
pub mod normalize;
pub mod rules;
pub mod segment;
pub mod snippet;
pub mod url;

use chrono::{DateTime, Utc};
pub use fingerprint::Fingerprint;
pub use segment::Segmenter;
use tidewatch_model::{Item, ItemInput, Lang, MAX_SHORT_FIELD_BYTES, MAX_TEXT_BYTES, MAX_TITLE_BYTES};

/// Source name given to items whose input names none.
pub const DEFAULT_SOURCE: &str = "import";

/// Why an input cannot become an item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidItem {
    /// Neither `text` nor `title` has any content.
    #[error("the item has no text and no title (at least one is required)")]
    MissingText,
    /// `text` is longer than [`MAX_TEXT_BYTES`].
    #[error("text is {len} bytes, over the limit of {max} bytes; the item is refused, not truncated")]
    TextTooLong {
        /// Length found.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// `title` is longer than [`MAX_TITLE_BYTES`].
    #[error("title is {len} bytes, over the limit of {max} bytes")]
    TitleTooLong {
        /// Length found.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// A short field is longer than [`MAX_SHORT_FIELD_BYTES`].
    #[error("field `{field}` is {len} bytes, over the limit of {max} bytes")]
    FieldTooLong {
        /// Field name.
        field: &'static str,
        /// Length found.
        len: usize,
        /// Limit.
        max: usize,
    },
}

/// One token for the search index, owned (see [`segment::Token`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexToken {
    /// Token text (matching form).
    pub text: String,
    /// Position for phrase queries.
    pub position: u32,
}

/// The matching form of an item's title and text (display form), and where its title ends.
fn matching_form(title: &str, text: &str) -> (String, usize) {
    let mut folded = String::with_capacity(title.len() + text.len() + 1);
    normalize::fold_into(title, &mut folded, None);
    let title_len = folded.len();
    if !folded.is_empty() {
        folded.push(' ');
    }
    normalize::fold_into(text, &mut folded, None);
    (folded, title_len)
}

/// The fingerprint covers the body when there is one (reposts copy bodies, and a headline alone
/// is weak evidence); title-only items are fingerprinted on the title.
fn fingerprint_of(folded: &str, title_len: usize) -> Fingerprint {
    let body = folded[title_len..].trim_start();
    fingerprint::fingerprint(if body.is_empty() { folded } else { body })
}

/// The fingerprint of a stored item, from its title and text as stored (display form): what
/// [`prepare`] computed when it came in, under today's [`fingerprint::FINGERPRINT_VERSION`].
pub fn fingerprint_stored(title: &str, text: &str) -> Fingerprint {
    let (folded, title_len) = matching_form(title, text);
    fingerprint_of(&folded, title_len)
}

/// An item after the text pipeline: the item, its fingerprint and its index tokens.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The normalized item.
    pub item: Item,
    /// Its fingerprint (SimHash and exact hashes).
    pub fingerprint: Fingerprint,
    /// Tokens of the title.
    pub title_tokens: Vec<IndexToken>,
    /// Tokens of the text.
    pub text_tokens: Vec<IndexToken>,
}

/// What [`prepare`] should do besides normalizing.
#[derive(Debug, Clone, Copy)]
pub struct PrepareOptions {
    /// Segment title and text into index tokens.
    pub tokens: bool,
}

fn check_len(field: &'static str, v: &Option<String>) -> Result<(), InvalidItem> {
    match v {
        Some(s) if s.len() > MAX_SHORT_FIELD_BYTES => {
            Err(InvalidItem::FieldTooLong { field, len: s.len(), max: MAX_SHORT_FIELD_BYTES })
        }
        _ => Ok(()),
    }
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Runs the text pipeline on one input. `now` stands in for a missing publication time.
pub fn prepare(
    input: &ItemInput,
    now: DateTime<Utc>,
    segmenter: &Segmenter,
    options: PrepareOptions,
) -> Result<Prepared, InvalidItem> {
    for (field, v) in [
        ("id", &input.id),
        ("source", &input.source),
        ("url", &input.url),
        ("author", &input.author),
        ("lang", &input.lang),
    ] {
        check_len(field, v)?;
    }
    if let Some(t) = &input.text {
        if t.len() > MAX_TEXT_BYTES {
            return Err(InvalidItem::TextTooLong { len: t.len(), max: MAX_TEXT_BYTES });
        }
    }
    if let Some(t) = &input.title {
        if t.len() > MAX_TITLE_BYTES {
            return Err(InvalidItem::TitleTooLong { len: t.len(), max: MAX_TITLE_BYTES });
        }
    }
    let title = input.title.as_deref().map(normalize::display_text).unwrap_or_default();
    let text = input.text.as_deref().map(normalize::display_text).unwrap_or_default();
    if !title.chars().chain(text.chars()).any(|c| normalize::is_han(c) || c.is_alphanumeric()) {
        return Err(InvalidItem::MissingText);
    }
    let (folded, title_len) = matching_form(&title, &text);
    let body = folded[title_len..].trim_start();
    let fingerprint = fingerprint_of(&folded, title_len);
    let declared = input.lang.as_deref().and_then(Lang::from_tag);
    let lang = lang::detect_lang(&folded, declared);
    let source = non_empty(&input.source).unwrap_or_else(|| DEFAULT_SOURCE.to_string());
    let ext_id = non_empty(&input.id);
    let url = non_empty(&input.url);
    let canonical_url = url.as_deref().and_then(url::canonicalize_url);
    let dedup_key = match (&ext_id, &canonical_url) {
        (Some(id), _) => format!("{source}\u{1f}id:{id}"),
        (None, Some(u)) => format!("{source}\u{1f}url:{u}"),
        (None, None) => format!("{source}\u{1f}hash:{:016x}", fingerprint.content_hash),
    };
    let (title_tokens, text_tokens) = if options.tokens {
        (folded_tokens(&folded[..title_len], segmenter), folded_tokens(body, segmenter))
    } else {
        (Vec::new(), Vec::new())
    };
    let item = Item {
        source,
        ext_id,
        url,
        canonical_url,
        title,
        text,
        published_at: input.published_at.unwrap_or(now),
        published_at_known: input.published_at.is_some(),
        author: non_empty(&input.author),
        lang,
        simhash: fingerprint.simhash,
        content_hash: fingerprint.content_hash,
        dedup_key,
    };
    Ok(Prepared { item, fingerprint, title_tokens, text_tokens })
}

fn folded_tokens(folded: &str, segmenter: &Segmenter) -> Vec<IndexToken> {
    let mut toks = Vec::new();
    segmenter.index_tokens(folded, &mut toks);
    toks.iter().map(|t| IndexToken { text: t.text.to_string(), position: t.position as u32 }).collect()
}

/// The index tokens of a stored item's title and text (as [`prepare`] computes them).
pub fn index_tokens(title: &str, text: &str, segmenter: &Segmenter) -> (Vec<IndexToken>, Vec<IndexToken>) {
    (folded_tokens(&normalize::fold(title), segmenter), folded_tokens(&normalize::fold(text), segmenter))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(text: &str) -> ItemInput {
        ItemInput { text: Some(text.to_string()), ..Default::default() }
    }

    #[test]
    fn prepare_fills_derived_fields() {
        let seg = Segmenter::shared_default();
        let now = Utc::now();
        let mut i = input("<p>澜江理工大学<b>食堂</b>&amp;宿舍</p>");
        i.url = Some("https://WWW.Example.com/a?utm_source=x#f".into());
        let p = prepare(&i, now, &seg, PrepareOptions { tokens: true }).unwrap();
        assert_eq!(p.item.text, "澜江理工大学食堂&宿舍");
        assert_eq!(p.item.lang, Lang::Zh);
        assert_eq!(p.item.canonical_url.as_deref(), Some("https://www.example.com/a"));
        assert_eq!(p.item.source, "import");
        assert!(!p.item.published_at_known);
        assert!(p.text_tokens.iter().any(|t| t.text == "食堂"));
        assert_eq!(p.item.dedup_key, "import\u{1f}url:https://www.example.com/a");
    }

    #[test]
    fn refusals_say_why() {
        let seg = Segmenter::shared_default();
        let now = Utc::now();
        let opts = PrepareOptions { tokens: false };
        assert_eq!(prepare(&input("  <br> "), now, &seg, opts).unwrap_err(), InvalidItem::MissingText);
        let big = "字".repeat(MAX_TEXT_BYTES / 3 + 1);
        assert!(matches!(prepare(&input(&big), now, &seg, opts), Err(InvalidItem::TextTooLong { .. })));
    }
}
