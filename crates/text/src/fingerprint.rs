//! Fingerprints for duplicate detection.
//!
//! A repost is the original plus noise: a comment in front (`说得对 //@某人: 原文`), a retweet
//! marker (`RT @someone: …`), a link at the end, changed punctuation, traditional characters.
//! The fingerprint is therefore computed over the item's **core**: its matching form with the
//! repost chain cut down to its last (oldest) segment, links removed, and punctuation ignored.
//! The core is cut into units (one ideograph, or one Latin word or number) and the units into
//! overlapping bigrams, which feed a 64-bit SimHash. Two hashes come with it: of the core units
//! (equal cores are duplicates whatever their length) and of the whole matching form (exact
//! duplicates, and the idempotency key of items without id or URL).

use xxhash_rust::xxh3::xxh3_64;

/// Fewer core units than this and the SimHash is not trusted (only equal cores match).
pub const MIN_SIMHASH_UNITS: u32 = 8;

/// The fingerprint of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// SimHash-64 of the core's unit bigrams.
    pub simhash: u64,
    /// Hash of the core's unit sequence.
    pub core_hash: u64,
    /// Number of units in the core.
    pub core_units: u32,
    /// Hash of the whole matching form.
    pub content_hash: u64,
    /// The two longest sentences of the core: (hash of their units, number of units).
    /// A copy with a comment added keeps its original's sentences.
    pub anchors: [(u64, u32); 2],
}

/// Characters that end a sentence (or set off a comment) for [`Fingerprint::anchors`].
fn is_sentence_break(c: char) -> bool {
    matches!(
        c,
        '.' | '!'
            | '?'
            | ';'
            | '。'
            | '！'
            | '？'
            | '；'
            | '【'
            | '】'
            | '['
            | ']'
            | '('
            | ')'
            | '（'
            | '）'
            | '「'
            | '」'
            | '"'
            | '“'
            | '”'
            | '\n'
            | '…'
    )
}

fn units_hash(text: &str) -> (u64, u32) {
    let mut acc: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut units = 0u32;
    for_each_unit(text, |u| {
        acc = (acc ^ xxh3_64(u.as_bytes())).wrapping_mul(0x100_0000_01B3).rotate_left(29);
        units += 1;
    });
    (acc ^ u64::from(units), units)
}

/// Cuts the repost chain, retweet prefix and attribution off a matching-form text.
///
/// The text after the last `@name:` (which covers `//@name:` chains, `RT @name:` and
/// `转发自@name:`) is taken as the core when it is long enough to stand on its own
/// ([`MIN_SIMHASH_UNITS`] units); a short tail such as `转发微博` is a comment, not a post.
pub fn core_text(folded: &str) -> &str {
    let mut search_end = folded.len();
    while let Some(at) = folded[..search_end].rfind('@') {
        search_end = at;
        let after = &folded[at + 1..];
        // A handle: up to 30 characters without spaces, followed by a colon.
        let Some((colon, _)) = after.char_indices().take(31).find(|&(_, c)| c == ':' || c.is_whitespace()) else {
            continue;
        };
        if !after[colon..].starts_with(':') || colon == 0 {
            continue;
        }
        let tail = after[colon + 1..].trim();
        let mut units = 0;
        for_each_unit(tail, |_| units += 1);
        if units >= MIN_SIMHASH_UNITS {
            return tail;
        }
    }
    folded
}

/// Calls `f` with each unit of `text`: an ideograph, or a run of Latin letters/digits (a word),
/// skipping links and punctuation.
pub fn for_each_unit(text: &str, mut f: impl FnMut(&str)) {
    let mut i = 0;
    let b = text.as_bytes();
    while i < b.len() {
        let rest = &text[i..];
        if rest.starts_with("http://") || rest.starts_with("https://") || rest.starts_with("www.") {
            // Skip the link: up to whitespace or a non-ASCII character.
            let end = rest.find(|c: char| c.is_whitespace() || !c.is_ascii()).unwrap_or(rest.len());
            i += end.max(1);
            continue;
        }
        let c = rest.chars().next().expect("non-empty");
        let len = c.len_utf8();
        if c == '@' {
            // A mention names a person, not what is said: skip the handle.
            let end = rest[1..]
                .find(|c: char| c.is_whitespace() || c == ':' || (c.is_ascii_punctuation() && c != '_' && c != '-'))
                .map(|p| p + 1)
                .unwrap_or(rest.len());
            i += end;
            continue;
        }
        if c.is_ascii_alphanumeric() {
            let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
            f(&rest[..end]);
            i += end;
        } else if crate::normalize::is_han(c) {
            // Each ideograph is a unit (tested before the general, slower letter lookup).
            f(&rest[..len]);
            i += len;
        } else if c.is_alphanumeric() {
            if c.is_ascii() || !crate::normalize::is_han(c) {
                // Other scripts: group letters like Latin words.
                let end = rest
                    .find(|c: char| !c.is_alphanumeric() || crate::normalize::is_han(c) || c.is_ascii())
                    .unwrap_or(rest.len());
                f(&rest[..end.max(len)]);
                i += end.max(len);
            } else {
                f(&rest[..len]);
                i += len;
            }
        } else {
            i += len;
        }
    }
}

/// Fingerprints a text already in matching form (see [`crate::normalize::fold`]).
pub fn fingerprint(folded: &str) -> Fingerprint {
    let content_hash = xxh3_64(folded.as_bytes());
    let core = core_text(folded);
    let mut weights = [0i32; 64];
    let mut units = 0u32;
    let mut prev: Option<u64> = None;
    let mut core_acc: u64 = 0x9E37_79B9_7F4A_7C15;
    for_each_unit(core, |u| {
        let h = xxh3_64(u.as_bytes());
        core_acc = (core_acc ^ h).wrapping_mul(0x100_0000_01B3).rotate_left(29);
        units += 1;
        if let Some(p) = prev {
            add_feature(&mut weights, p.rotate_left(17) ^ h);
        }
        prev = Some(h);
    });
    if units == 1 {
        add_feature(&mut weights, prev.unwrap_or(0));
    }
    let mut simhash = 0u64;
    for (bit, w) in weights.iter().enumerate() {
        if *w > 0 {
            simhash |= 1 << bit;
        }
    }
    let mut anchors = [(0u64, 0u32); 2];
    for sentence in core.split(is_sentence_break) {
        let (h, n) = units_hash(sentence);
        if n > anchors[0].1 {
            anchors[1] = anchors[0];
            anchors[0] = (h, n);
        } else if n > anchors[1].1 {
            anchors[1] = (h, n);
        }
    }
    Fingerprint { simhash, core_hash: core_acc ^ u64::from(units), core_units: units, content_hash, anchors }
}

#[inline]
fn add_feature(weights: &mut [i32; 64], h: u64) {
    // Mix again so that features differing in few bits spread over all 64.
    let h = xxh3_64(&h.to_le_bytes());
    for (bit, w) in weights.iter_mut().enumerate() {
        if h >> bit & 1 == 1 {
            *w += 1;
        } else {
            *w -= 1;
        }
    }
}

/// Number of differing bits.
#[inline]
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::fold;

    #[test]
    fn repost_chains_reduce_to_the_original() {
        assert_eq!(
            core_text(&fold("说得对！//@小王: 太离谱了 //@澜江日报: 第三食堂出事了，多名学生腹泻")),
            "第三食堂出事了,多名学生腹泻"
        );
        assert_eq!(
            core_text(&fold("So true RT @news: Canteen No. 3 closed after students fell ill")),
            "canteen no. 3 closed after students fell ill"
        );
        assert_eq!(core_text(&fold("转发自@某人：青禾市图书馆新馆正式开放")), "青禾市图书馆新馆正式开放");
        assert_eq!(core_text("no markers here"), "no markers here");
        // A short tail is a comment, not the post: keep everything.
        assert_eq!(core_text("澜江理工大学第三食堂 //@a:转发微博"), "澜江理工大学第三食堂 //@a:转发微博");
    }

    #[test]
    fn noise_does_not_change_the_core() {
        let a = fingerprint(&fold("澜江理工大学第三食堂多名学生腹泻，校方已介入调查。"));
        let b = fingerprint(&fold("瀾江理工大學第三食堂多名學生腹瀉 校方已介入調查!!! https://t.cn/abc"));
        assert_eq!(a.core_hash, b.core_hash);
        assert_eq!(a.simhash, b.simhash);
        assert_ne!(a.content_hash, b.content_hash);
    }

    #[test]
    fn units_split_scripts() {
        let mut units = Vec::new();
        for_each_unit("食堂 canteen-2024 见 https://x.cn/a?b=1 好 via @some_one", |u| units.push(u.to_string()));
        assert_eq!(units, vec!["食", "堂", "canteen", "2024", "见", "好", "via"]);
    }
}
