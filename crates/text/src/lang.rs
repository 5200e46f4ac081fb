//! Language detection: zh, en or other, from the characters a text is written in.
//!
//! Chinese is recognised by its ideographs (and the absence of kana and hangul, which mark
//! Japanese and Korean). A text mostly in Latin letters is English when enough of its words are
//! English function words that other Latin-script languages do not share; otherwise whatlang's
//! trigram model (Latin-script languages only) decides between English and `other`. Mentions,
//! links, hashtags and numbers are left out first: they belong to no language.

use std::sync::LazyLock;
use tidewatch_model::Lang;

/// English words that are not also common words of the other Latin-script languages (no `a`,
/// `i`, `in`, `no`, `me`, `so`, `die`, `was`, `will`, `on`, `an`, `do`, `her`…), and the
/// shorthand of English posts.
const EN_WORDS: &[&str] = &[
    "the",
    "and",
    "of",
    "to",
    "is",
    "for",
    "that",
    "with",
    "it",
    "at",
    "by",
    "be",
    "are",
    "this",
    "from",
    "has",
    "have",
    "not",
    "we",
    "our",
    "you",
    "your",
    "they",
    "or",
    "but",
    "my",
    "about",
    "after",
    "what",
    "who",
    "there",
    "their",
    "been",
    "were",
    "can",
    "just",
    "all",
    "its",
    "it's",
    "if",
    "did",
    "does",
    "how",
    "why",
    "when",
    "any",
    "more",
    "new",
    "he",
    "she",
    "his",
    "them",
    "than",
    "into",
    "out",
    "up",
    "still",
    "very",
    "today",
    "please",
    "thanks",
    "thank",
    "yes",
    "rt",
    "i'm",
    "don't",
    "can't",
    "that's",
    "you're",
    "isn't",
    "won't",
    "didn't",
    "im",
    "lol",
    "omg",
    "yeah",
    "got",
    "get",
    "going",
    "love",
    "like",
    "good",
    "great",
    "again",
    "until",
    "would",
    "could",
    "should",
    "some",
    "one",
    "only",
    "much",
    "really",
    "too",
    "way",
    "day",
    "time",
    "off",
    "back",
    "now",
    "being",
    "here",
    "over",
    "which",
    "while",
    "those",
    "these",
    "then",
    "because",
    "never",
    "always",
    "ever",
    "every",
    "nothing",
    "something",
    "anyone",
    "without",
    "through",
    "well",
    "even",
    "also",
    "us",
    "him",
    "it'll",
    "i've",
    "i'll",
    "we're",
    "they're",
    "let's",
    "there's",
    "what's",
    "doesn't",
    "wasn't",
    "aren't",
    "haven't",
    "film",
    "movie",
    "people",
    "next",
    "last",
    "first",
    "best",
    "worst",
    "bad",
    "happy",
    "sad",
    "late",
    "night",
    "morning",
    "tonight",
    "tomorrow",
    "week",
    "year",
    "school",
    "work",
    "home",
    "after",
];

/// The Latin-script languages whatlang may answer with.
const LATIN: &[whatlang::Lang] = {
    use whatlang::Lang::*;
    &[
        Eng, Spa, Por, Ita, Fra, Deu, Nld, Swe, Dan, Nob, Fin, Pol, Ces, Slk, Slv, Hrv, Hun, Ron, Tur, Lit, Lav, Est,
        Ind, Vie, Tgl, Epo, Cat, Afr, Lat, Cym, Jav, Uzb, Aze, Zul, Sna, Aka, Tuk,
    ]
};

static LATIN_DETECTOR: LazyLock<whatlang::Detector> =
    LazyLock::new(|| whatlang::Detector::with_allowlist(LATIN.to_vec()));

/// Detects the language of `text`; `declared` is used when the text is too short to tell.
pub fn detect_lang(text: &str, declared: Option<Lang>) -> Lang {
    // Links are in no language: count the letters around them.
    let without_links;
    let text = if text.contains("://") || text.contains("www.") {
        without_links = text.split_whitespace().filter(|t| !is_link(t)).collect::<Vec<_>>().join(" ");
        without_links.as_str()
    } else {
        text
    };
    let (mut han, mut kana_hangul, mut latin, mut other_letters) = (0usize, 0usize, 0usize, 0usize);
    for c in text.chars() {
        if crate::normalize::is_han(c) {
            han += 1;
        } else if matches!(c as u32, 0x3040..=0x30FF | 0xAC00..=0xD7AF | 0x1100..=0x11FF) {
            kana_hangul += 1;
        } else if c.is_ascii_alphabetic() || matches!(c as u32, 0xFF21..=0xFF3A | 0xFF41..=0xFF5A) {
            latin += 1;
        } else if c.is_alphabetic() {
            other_letters += 1;
        }
    }
    let letters = han + kana_hangul + latin + other_letters;
    if letters < 2 {
        return declared.unwrap_or(Lang::Other);
    }
    if kana_hangul * 5 > han.max(1) {
        return Lang::Other;
    }
    // One ideograph carries about as much as a Latin word: weigh them so.
    if han * 4 >= latin && han >= 1 {
        return Lang::Zh;
    }
    if han == 0 && latin * 2 < letters {
        // Mostly letters of another script; Latin letters with diacritics count as Latin.
        let accented = text.chars().filter(|c| matches!(*c as u32, 0xC0..=0x24F)).count();
        if (latin + accented) * 2 < letters {
            return Lang::Other;
        }
    }
    latin_lang(text, declared)
}

/// Whether a whitespace-separated token is (or ends in) a link: `https://…`, `原文请见http://…`.
fn is_link(token: &str) -> bool {
    token.contains("://") || token.starts_with("www.")
}

/// English or another language, for a text mostly in Latin letters.
fn latin_lang(text: &str, declared: Option<Lang>) -> Lang {
    let mut clean = String::with_capacity(text.len());
    let (mut words, mut english) = (0usize, 0usize);
    for token in text.split_whitespace() {
        let lower = token.to_lowercase();
        if lower.starts_with('@') || lower.starts_with('#') || is_link(&lower) {
            continue;
        }
        let word = lower.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'');
        let word = word.trim_matches('\'');
        if word.is_empty() || word.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        words += 1;
        // `today's` and `don't` alike: look the word up whole, then without a possessive.
        let bare = word.strip_suffix("'s").unwrap_or(word);
        if EN_WORDS.contains(&word) || EN_WORDS.contains(&bare) {
            english += 1;
        }
        clean.push_str(word);
        clean.push(' ');
    }
    if words == 0 {
        return declared.unwrap_or(Lang::En);
    }
    // A fifth of the words English function words: English, however short.
    if english * 5 >= words && english > 0 {
        return Lang::En;
    }
    match LATIN_DETECTOR.detect(&clean) {
        Some(info) if info.lang() == whatlang::Lang::Eng => Lang::En,
        // Trigrams of one or two words say little: the declared language, else English (the
        // Latin-script language of most public posts here).
        _ if words <= 2 => declared.unwrap_or(Lang::En),
        Some(info) if info.confidence() >= 0.2 || english == 0 => Lang::Other,
        _ => declared.unwrap_or(Lang::En),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_three_classes() {
        assert_eq!(detect_lang("清河大学食堂今天又出问题了", None), Lang::Zh);
        assert_eq!(detect_lang("臺灣大學的學生說", None), Lang::Zh);
        assert_eq!(detect_lang("The canteen at the university was closed after complaints", None), Lang::En);
        assert_eq!(detect_lang("Die Mensa der Universität wurde nach Beschwerden geschlossen", None), Lang::Other);
        assert_eq!(detect_lang("大学の食堂が閉鎖されました", None), Lang::Other);
        assert_eq!(detect_lang("Lanjiang 理工大学 回应 canteen 问题", None), Lang::Zh);
        assert_eq!(detect_lang("!", Some(Lang::En)), Lang::En);
        assert_eq!(detect_lang("Midterms: calculus until 3am again. Send coffee.", None), Lang::En);
        assert_eq!(detect_lang("@anonymous happy Birthday brother.", None), Lang::En);
        assert_eq!(detect_lang("No hay mal que por bien no venga.", None), Lang::Other);
        assert_eq!(detect_lang("Wer zuletzt lacht, lacht am besten.", None), Lang::Other);
        assert_eq!(detect_lang("Chi va piano va sano e va lontano.", None), Lang::Other);
        assert_eq!(detect_lang("Москва — столица России", None), Lang::Other);
    }
}
