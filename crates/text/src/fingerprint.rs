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

/// Number of slots of a [`MinHash`] signature.
pub const MINHASH_SLOTS: usize = 16;
/// Cores of at least this many units carry a MinHash signature…
pub const MINHASH_MIN_UNITS: u32 = 5;
/// …and of at most this many (longer texts move SimHash little when a few words change).
pub const MINHASH_MAX_UNITS: u32 = 160;
/// The version of the fingerprint scheme: a store's fingerprints of another version are
/// recomputed from its texts when the pipeline opens it.
pub const FINGERPRINT_VERSION: u32 = 2;

/// A MinHash signature of a core's unit bigrams: slot `s` holds the least value of the `s`-th
/// hash function over them, so two signatures agree on a slot with probability equal to the
/// Jaccard similarity of the two bigram sets (Broder, *On the resemblance and containment of
/// documents*, 1997).
pub type MinHash = [u32; MINHASH_SLOTS];

/// The odd multipliers of the signature's hash functions (multiply-shift over the mixed bigram
/// hash), drawn from a SplitMix64 sequence.
const MINHASH_MULTIPLIERS: [u64; MINHASH_SLOTS] = {
    let mut out = [0u64; MINHASH_SLOTS];
    let mut state: u64 = 0x005E_ED0F_71DE_3A7C;
    let mut i = 0;
    while i < MINHASH_SLOTS {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out[i] = (z ^ (z >> 31)) | 1;
        i += 1;
    }
    out
};

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
    /// MinHash of the core's unit bigrams, for cores of [`MINHASH_MIN_UNITS`] to
    /// [`MINHASH_MAX_UNITS`] units: short texts, where a tag or a remark moves SimHash's 64 bits
    /// too far.
    pub minhash: Option<MinHash>,
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
/// skipping links, mentions, tags and punctuation.
///
/// A number is one unit whichever way it is written: `１０８`, `108`, `一百零八` and `1,008`'s
/// grouping all give their value's digits (`一九九八` reads digit by digit), and the English words
/// `zero`…`twenty` give theirs. Tags are skipped like links: a Weibo topic `#…#`, a hashtag
/// `#word`, and a short bracketed tag such as `【转】` or `[repost]` (up to 8 characters inside).
pub fn for_each_unit(text: &str, mut f: impl FnMut(&str)) {
    let mut digits = [0u8; 20];
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
        if let Some(tag) = tag_len(rest, c) {
            i += tag;
            continue;
        }
        if c.is_ascii_digit() {
            let (mut value, mut end) = ascii_number(rest);
            // `79亿`, `10万`: digits with a Chinese multiplier are the number `七十九亿` is.
            while let Some(m) = rest[end..].chars().next().filter(|c| matches!(c, '万' | '亿')) {
                value = value.and_then(|v| v.checked_mul(zh_multiplier(m).expect("万 or 亿")));
                end += m.len_utf8();
            }
            match value {
                Some(v) => f(decimal(v, &mut digits)),
                None => f(&rest[..end]),
            }
            i += end;
        } else if c.is_ascii_alphanumeric() {
            let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
            let word = &rest[..end];
            match NUMBER_WORDS.iter().position(|w| *w == word) {
                Some(v) => f(decimal(v as u64, &mut digits)),
                None => f(word),
            }
            i += end;
        } else if crate::normalize::is_han(c) {
            // Each ideograph is a unit (tested before the general, slower letter lookup); a run
            // of Chinese numerals is one.
            match zh_number(rest) {
                Some((v, end)) => {
                    f(decimal(v, &mut digits));
                    i += end;
                }
                None => {
                    f(&rest[..len]);
                    i += len;
                }
            }
        } else if c.is_alphanumeric() {
            // Other scripts: group letters like Latin words.
            let end = rest
                .find(|c: char| !c.is_alphanumeric() || crate::normalize::is_han(c) || c.is_ascii())
                .unwrap_or(rest.len());
            f(&rest[..end.max(len)]);
            i += end.max(len);
        } else {
            i += len;
        }
    }
}

/// English number words read as their digits (the matching form is lower case).
const NUMBER_WORDS: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

/// The byte length of a tag at the start of `rest` (which starts with `c`), if there is one.
fn tag_len(rest: &str, c: char) -> Option<usize> {
    match c {
        '#' => {
            let after = &rest[1..];
            // A Weibo topic: `#…#` without whitespace, up to 30 characters.
            if let Some((close, _)) = after.char_indices().take(31).find(|&(_, c)| c == '#' || c.is_whitespace()) {
                if close > 0 && after[close..].starts_with('#') {
                    return Some(1 + close + 1);
                }
            }
            // A hashtag: `#` and a word.
            let end = after.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(after.len());
            (end > 0).then_some(1 + end)
        }
        '【' | '[' | '〔' => {
            let close = match c {
                '【' => '】',
                '[' => ']',
                _ => '〕',
            };
            let after = &rest[len_of(c)..];
            let (end, _) = after.char_indices().take(9).find(|&(_, d)| d == close)?;
            (end > 0).then_some(len_of(c) + end + len_of(close))
        }
        _ => None,
    }
}

fn len_of(c: char) -> usize {
    c.len_utf8()
}

/// An ASCII digit run with optional thousands grouping (`1,000,000`): its value when it fits
/// (leading zeros do not count: `07` is 7), and its byte length.
fn ascii_number(rest: &str) -> (Option<u64>, usize) {
    let b = rest.as_bytes();
    let mut end = b.iter().position(|c| !c.is_ascii_digit()).unwrap_or(b.len());
    // Grouping: a comma and exactly three digits, as long as the pattern goes on.
    if end <= 3 {
        while end + 4 <= b.len()
            && b[end] == b','
            && b[end + 1..end + 4].iter().all(u8::is_ascii_digit)
            && b.get(end + 4).is_none_or(|c| !c.is_ascii_digit())
        {
            end += 4;
        }
    }
    let digits = &rest[..end];
    let mut v: u64 = 0;
    for d in digits.bytes().filter(u8::is_ascii_digit) {
        v = match v.checked_mul(10).and_then(|v| v.checked_add(u64::from(d - b'0'))) {
            Some(v) => v,
            None => return (None, end),
        };
    }
    (Some(v), end)
}

fn zh_digit(c: char) -> Option<u64> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn zh_multiplier(c: char) -> Option<u64> {
    Some(match c {
        '十' => 10,
        '百' => 100,
        '千' => 1_000,
        '万' => 10_000,
        '亿' => 100_000_000,
        _ => return None,
    })
}

/// A run of Chinese numerals at the start of `rest`: its value and byte length. Without
/// multipliers the run reads digit by digit (`一九九八` is 1998).
fn zh_number(rest: &str) -> Option<(u64, usize)> {
    let mut end = 0;
    let mut positional = false;
    for c in rest.chars() {
        if zh_digit(c).is_some() {
        } else if zh_multiplier(c).is_some() {
            positional = true;
        } else {
            break;
        }
        end += c.len_utf8();
    }
    if end == 0 {
        return None;
    }
    let run = &rest[..end];
    if !positional {
        let mut v: u64 = 0;
        for c in run.chars() {
            v = v.checked_mul(10)?.checked_add(zh_digit(c)?)?;
        }
        return Some((v, end));
    }
    // high: the groups of 亿 so far; wan: the 万 part of the current group; section: below
    // 万; digit: the pending digit.
    let (mut high, mut wan, mut section, mut digit): (u64, u64, u64, Option<u64>) = (0, 0, 0, None);
    for c in run.chars() {
        if let Some(d) = zh_digit(c) {
            digit = Some(d);
            continue;
        }
        let below = section.checked_add(digit.unwrap_or(0))?;
        match zh_multiplier(c)? {
            // 十 alone is ten: the digit one is implied.
            m if m < 10_000 => section = section.checked_add(digit.unwrap_or(1).checked_mul(m)?)?,
            10_000 => {
                wan = wan.checked_add(if below == 0 { 1 } else { below }.checked_mul(10_000)?)?;
                section = 0;
            }
            m => {
                let group = wan.checked_add(below)?;
                high = high.checked_add(if group == 0 { 1 } else { group })?.checked_mul(m)?;
                wan = 0;
                section = 0;
            }
        }
        digit = None;
    }
    Some((high.checked_add(wan)?.checked_add(section)?.checked_add(digit.unwrap_or(0))?, end))
}

/// `v` in decimal, written into `buf`.
fn decimal(mut v: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
}

/// Fingerprints a text already in matching form (see [`crate::normalize::fold`]).
pub fn fingerprint(folded: &str) -> Fingerprint {
    let content_hash = xxh3_64(folded.as_bytes());
    let core = core_text(folded);
    let mut weights = [0i32; 64];
    let mut units = 0u32;
    let mut prev: Option<u64> = None;
    let mut core_acc: u64 = 0x9E37_79B9_7F4A_7C15;
    // The mixed bigram hashes, kept while the core may still be short enough for a signature.
    let mut features = [0u64; MINHASH_MAX_UNITS as usize];
    for_each_unit(core, |u| {
        let h = xxh3_64(u.as_bytes());
        core_acc = (core_acc ^ h).wrapping_mul(0x100_0000_01B3).rotate_left(29);
        if let Some(p) = prev {
            let m = add_feature(&mut weights, p.rotate_left(17) ^ h);
            if let Some(slot) = features.get_mut(units as usize - 1) {
                *slot = m;
            }
        }
        units += 1;
        prev = Some(h);
    });
    if units == 1 {
        add_feature(&mut weights, prev.unwrap_or(0));
    }
    let minhash = (MINHASH_MIN_UNITS..=MINHASH_MAX_UNITS).contains(&units).then(|| {
        let mut sig = [u32::MAX; MINHASH_SLOTS];
        for &m in &features[..units as usize - 1] {
            for (slot, k) in sig.iter_mut().zip(MINHASH_MULTIPLIERS) {
                *slot = (*slot).min((m.wrapping_mul(k) >> 32) as u32);
            }
        }
        sig
    });
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
    Fingerprint { simhash, core_hash: core_acc ^ u64::from(units), core_units: units, content_hash, anchors, minhash }
}

/// Adds a feature to the SimHash weights; returns its mixed hash.
#[inline]
fn add_feature(weights: &mut [i32; 64], h: u64) -> u64 {
    // Mix again so that features differing in few bits spread over all 64.
    let h = xxh3_64(&h.to_le_bytes());
    for (bit, w) in weights.iter_mut().enumerate() {
        if h >> bit & 1 == 1 {
            *w += 1;
        } else {
            *w -= 1;
        }
    }
    h
}

/// The share of slots on which two signatures agree: an estimate of the Jaccard similarity of
/// their bigram sets.
pub fn minhash_similarity(a: &MinHash, b: &MinHash) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / MINHASH_SLOTS as f64
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

    fn units(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_unit(&fold(text), |u| out.push(u.to_string()));
        out
    }

    #[test]
    fn numbers_are_one_unit_however_written() {
        for (a, b) in [
            ("创建１０８个图书站", "创建一百零八个图书站"),
            ("第23次常委会议", "第二十三次常委会议"),
            ("1998年1月27日", "一九九八年一月二十七日"),
            ("共79亿美元", "共七十九亿美元"),
            ("１０万人", "十万人"),
            ("十枚金牌", "10枚金牌"),
            ("3,000 students and 2 staff", "3000 students and two staff"),
            ("open until 07", "open until 7"),
        ] {
            assert_eq!(units(a), units(b), "{a} / {b}");
        }
        for (text, value) in [
            ("两万三千", "23000"),
            ("十", "10"),
            ("三百零五", "305"),
            ("一亿二千万", "120000000"),
            ("万", "10000"),
            ("一万亿", "1000000000000"),
            ("三亿零五万", "300050000"),
        ] {
            assert_eq!(units(text), vec![value.to_string()], "{text}");
        }
        // A number too big for 64 bits stays as written.
        assert_eq!(units("123456789012345678901234"), vec!["123456789012345678901234"]);
        assert_ne!(units("第八届"), units("第九届"));
    }

    #[test]
    fn tags_are_skipped_like_links() {
        let plain = units("这些外汇储备中包括资金援助");
        for tagged in [
            "#澜江新闻# 这些外汇储备中包括资金援助",
            "【转】这些外汇储备中包括资金援助",
            "这些外汇储备中包括资金援助 #热点#",
            "[转载]这些外汇储备中包括资金援助",
        ] {
            assert_eq!(units(tagged), plain, "{tagged}");
        }
        assert_eq!(units("BREAKING #news canteen closed"), vec!["breaking", "canteen", "closed"]);
        // A long bracketed passage is text, not a tag.
        assert_eq!(units("【第三食堂今天中午起暂停营业】").len(), 13);
    }

    #[test]
    fn short_cores_carry_a_signature_that_survives_a_remark() {
        let a = fingerprint(&fold("热水停了三天，没人来修，宿舍楼里一片抱怨"));
        let b = fingerprint(&fold("热水停了三天，没人来修，宿舍楼里一片抱怨。大家怎么看？"));
        let other = fingerprint(&fold("热水今天已经恢复供应，后勤处向同学们致歉"));
        let (sa, sb, so) = (a.minhash.unwrap(), b.minhash.unwrap(), other.minhash.unwrap());
        assert!(minhash_similarity(&sa, &sb) >= 0.5, "{}", minhash_similarity(&sa, &sb));
        assert!(minhash_similarity(&sa, &so) < 0.3, "{}", minhash_similarity(&sa, &so));
        assert_eq!(fingerprint(&fold("好的")).minhash, None);
        assert_eq!(fingerprint(&fold(&"很长的一段文字".repeat(40))).minhash, None);
    }

    #[test]
    fn units_split_scripts() {
        let mut units = Vec::new();
        for_each_unit("食堂 canteen-2024 见 https://x.cn/a?b=1 好 via @some_one", |u| units.push(u.to_string()));
        assert_eq!(units, vec!["食", "堂", "canteen", "2024", "见", "好", "via"]);
    }
}
