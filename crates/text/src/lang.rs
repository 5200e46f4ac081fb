//! Language detection: zh, en or other, from the characters a text is written in.
//!
//! Chinese is recognised by its ideographs (and the absence of kana and hangul, which mark
//! Japanese and Korean); English by Latin letters plus a share of common English function words,
//! so that other Latin-script languages come out as `other`.

use tidewatch_model::Lang;

const EN_WORDS: &[&str] = &[
    "the", "and", "of", "to", "is", "in", "a", "for", "that", "on", "with", "was", "it", "at", "by", "be", "are",
    "this", "from", "as", "has", "have", "not", "we", "our", "you", "they", "will", "an", "or", "but", "i", "my", "me",
    "so", "no", "about", "after", "what", "who", "there", "their", "been", "were", "can", "just", "all", "its", "if",
    "do", "did", "does", "how", "why", "when", "any", "more", "new", "he", "she", "his", "her", "them", "than", "into",
    "out", "up", "still", "very", "today", "please", "thanks", "thank", "yes", "is", "rt",
];

/// Detects the language of `text`; `declared` is used when the text is too short to tell.
pub fn detect_lang(text: &str, declared: Option<Lang>) -> Lang {
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
    if latin * 2 < letters {
        return Lang::Other;
    }
    let mut words = 0usize;
    let mut english = 0usize;
    for w in text.split(|c: char| !c.is_ascii_alphabetic() && c != '\'') {
        if w.is_empty() {
            continue;
        }
        words += 1;
        let lower = w.to_ascii_lowercase();
        if EN_WORDS.contains(&lower.as_str()) {
            english += 1;
        }
    }
    if words <= 3 {
        return match declared {
            Some(l) => l,
            None if english > 0 || words > 0 => Lang::En,
            None => Lang::Other,
        };
    }
    if english * 10 >= words {
        Lang::En
    } else {
        Lang::Other
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
    }
}
