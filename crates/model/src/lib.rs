//! The vocabulary of Tidewatch: the types every other crate speaks.
//!
//! An [`ItemInput`] is what arrives from outside (a file row, a feed entry, a webhook body),
//! already parsed but not yet trusted. The text pipeline turns it into an [`Item`]: the original
//! kept for display, plus derived fields (language, canonical URL, fingerprint) used for
//! matching. Items that say the same thing are collapsed into a [`DupGroup`]. Identifiers are
//! newtypes ([`ItemId`], [`GroupId`]) so that they cannot be confused with one another.
//!
//! This crate does no I/O and depends on nothing of Tidewatch.
#![deny(missing_docs)]

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest `text` an item may carry, in bytes. Longer items are refused, never truncated.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// Longest `title` an item may carry, in bytes.
pub const MAX_TITLE_BYTES: usize = 4 << 10;
/// Longest value of the short fields (`id`, `source`, `url`, `author`, `lang`), in bytes.
pub const MAX_SHORT_FIELD_BYTES: usize = 4 << 10;

/// The store's identifier of an item (its row id). Increases with insertion order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemId(pub i64);

/// The identifier of a duplicate group: the store id of the group's first stored member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupId(pub i64);

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Language of an item, as detected (or as declared when the declaration is one we know).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Chinese (simplified or traditional).
    Zh,
    /// English.
    En,
    /// Anything else, or too little text to tell.
    Other,
}

impl Lang {
    /// The code used in files, the API and the search index.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
            Lang::Other => "other",
        }
    }

    /// Parses a declared language tag (`zh`, `zh-CN`, `zh-Hant`, `en-US`, …).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        match primary.as_str() {
            "zh" | "cmn" | "yue" => Some(Lang::Zh),
            "en" | "eng" => Some(Lang::En),
            "" => None,
            _ => Some(Lang::Other),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An item as it arrives, parsed from a row or a request but not yet normalized.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemInput {
    /// The id the source gave the item, if any.
    pub id: Option<String>,
    /// The name of the source the item came from.
    pub source: Option<String>,
    /// The item's address as published.
    pub url: Option<String>,
    /// The title (articles) — may be absent for posts.
    pub title: Option<String>,
    /// The body; may contain HTML.
    pub text: Option<String>,
    /// When the item was published, if known.
    pub published_at: Option<DateTime<Utc>>,
    /// Who wrote it, kept only to cite the item.
    pub author: Option<String>,
    /// The declared language tag, if any.
    pub lang: Option<String>,
}

/// A normalized item, ready to be stored and indexed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Source name; `"import"` when the input named none.
    pub source: String,
    /// The id the source gave the item, if any.
    pub ext_id: Option<String>,
    /// The URL as given.
    pub url: Option<String>,
    /// The URL with tracking parameters and fragment removed and host lower-cased.
    pub canonical_url: Option<String>,
    /// Title as plain text (HTML removed), for display.
    pub title: String,
    /// Body as plain text (HTML removed), for display.
    pub text: String,
    /// Publication time; the arrival time when the input gave none.
    pub published_at: DateTime<Utc>,
    /// Whether `published_at` was given by the source (false: it is the arrival time).
    pub published_at_known: bool,
    /// Author, kept only to cite the item.
    pub author: Option<String>,
    /// Detected language.
    pub lang: Lang,
    /// SimHash-64 of the item's core text (see `tidewatch-text`).
    pub simhash: u64,
    /// Hash of the normalized full text, for exact duplicates.
    pub content_hash: u64,
    /// The key that makes writes idempotent: source plus id, canonical URL or content hash.
    pub dedup_key: String,
}

/// A group of items that say the same thing: an original and its copies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DupGroup {
    /// The group's id.
    pub id: GroupId,
    /// The earliest published member.
    pub original: ItemId,
    /// Number of members.
    pub size: u64,
}

impl DupGroup {
    /// Copies besides the original.
    pub fn repost_count(&self) -> u64 {
        self.size.saturating_sub(1)
    }
}
