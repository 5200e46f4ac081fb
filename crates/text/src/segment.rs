//! Word segmentation: one jieba dictionary plus a user dictionary, shared by everything that
//! tokenizes (the search index, the query parser, snippets, and later the analysis crates).
//!
//! Tokens are produced from the *matching form* of a text (see [`crate::normalize`]), so that
//! traditional and simplified, full-width and half-width, upper and lower case all give the same
//! tokens.

use jieba_rs::Jieba;
use std::io::BufRead;
use std::sync::{Arc, OnceLock};

static BUILTIN_USER_DICT: &str = include_str!("../data/userdict.txt");

/// One token: its text (matching form), its byte range in the text that was segmented, and its
/// position (sub-words of a long word share the word's position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token<'a> {
    /// The token text.
    pub text: &'a str,
    /// Byte offset of the token in the segmented text.
    pub start: usize,
    /// Byte offset just past the token.
    pub end: usize,
    /// Token position, for phrase queries.
    pub position: usize,
}

/// The shared segmenter.
pub struct Segmenter {
    jieba: Jieba,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Segmenter")
    }
}

/// An error in a user dictionary.
#[derive(Debug, thiserror::Error)]
#[error("user dictionary: {0}")]
pub struct DictError(String);

impl Segmenter {
    /// The default dictionary plus the built-in user dictionary plus, when given, the lines of
    /// `user_dict` (jieba format: `word [freq] [tag]`).
    pub fn new(user_dict: Option<&mut dyn BufRead>) -> Result<Segmenter, DictError> {
        let mut jieba = Jieba::new();
        let mut builtin = BUILTIN_USER_DICT.as_bytes();
        load_user_dict(&mut jieba, &mut builtin)?;
        if let Some(r) = user_dict {
            load_user_dict(&mut jieba, r)?;
        }
        Ok(Segmenter { jieba })
    }

    /// A process-wide segmenter with the built-in dictionaries, for tools and tests.
    pub fn shared_default() -> Arc<Segmenter> {
        static SHARED: OnceLock<Arc<Segmenter>> = OnceLock::new();
        SHARED.get_or_init(|| Arc::new(Segmenter::new(None).expect("built-in dictionary is valid"))).clone()
    }

    /// Segments `text` (already in matching form) into index tokens: every word of letters,
    /// digits or ideographs, plus — at the same position — the dictionary sub-words of long
    /// Chinese words, so that a search for 大学 finds 清河大学.
    pub fn index_tokens<'a>(&self, text: &'a str, out: &mut Vec<Token<'a>>) {
        self.tokens(text, true, out)
    }

    /// Segments `text` (already in matching form) into query tokens: words only.
    pub fn query_tokens<'a>(&self, text: &'a str, out: &mut Vec<Token<'a>>) {
        self.tokens(text, false, out)
    }

    fn tokens<'a>(&self, text: &'a str, sub_words: bool, out: &mut Vec<Token<'a>>) {
        let base = text.as_ptr() as usize;
        let mut position = 0;
        for tok in self.jieba.cut(text, true) {
            let word = tok.word;
            if !word.chars().any(|c| crate::normalize::is_han(c) || c.is_alphanumeric()) {
                continue;
            }
            let start = word.as_ptr() as usize - base;
            out.push(Token { text: word, start, end: start + word.len(), position });
            if sub_words {
                self.push_sub_words(word, start, position, out);
            }
            position += 1;
        }
    }

    fn push_sub_words<'a>(&self, word: &'a str, start: usize, position: usize, out: &mut Vec<Token<'a>>) {
        let idx: Vec<usize> = word.char_indices().map(|(i, _)| i).collect();
        let n = idx.len();
        if n <= 2 || !word.chars().all(crate::normalize::is_han) {
            return;
        }
        for len in [2usize, 3] {
            if n <= len {
                continue;
            }
            for i in 0..=n - len {
                let a = idx[i];
                let b = if i + len < n { idx[i + len] } else { word.len() };
                let gram = &word[a..b];
                if self.jieba.has_word(gram) {
                    out.push(Token { text: gram, start: start + a, end: start + b, position });
                }
            }
        }
    }

    /// How often `word` occurs in the dictionary's corpus, per token: its frequency if it is a
    /// dictionary word, else jieba's estimate from the words it splits into.
    pub fn word_rate(&self, word: &str) -> f64 {
        /// The total frequency of jieba's default dictionary (about 60 million tokens).
        const DICT_TOTAL: f64 = 60_101_964.0;
        self.jieba.suggest_freq(word) as f64 / DICT_TOTAL
    }

    /// Plain word segmentation of `text`, for tools (`jieba` default mode with HMM).
    pub fn cut<'a>(&self, text: &'a str) -> Vec<&'a str> {
        self.jieba.cut(text, true).into_iter().map(|t| t.word).collect()
    }
}

fn load_user_dict(jieba: &mut Jieba, r: &mut dyn BufRead) -> Result<(), DictError> {
    for (n, line) in r.lines().enumerate() {
        let line = line.map_err(|e| DictError(format!("line {}: {e}", n + 1)))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let word = parts.next().unwrap_or_default();
        let freq = match parts.next() {
            Some(f) => Some(
                f.parse::<usize>()
                    .map_err(|_| DictError(format!("line {}: frequency {f:?} is not a whole number", n + 1)))?,
            ),
            None => None,
        };
        let tag = parts.next();
        // The dictionary holds matching forms: fold so that 臺灣 and 台湾 are one entry.
        let folded = crate::normalize::fold(word);
        jieba.add_word(&folded, freq, tag);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_dictionary_keeps_organization_names_whole() {
        let seg = Segmenter::shared_default();
        let text = crate::normalize::fold("澜江理工大学食堂发生学生腹泻");
        let mut toks = Vec::new();
        seg.query_tokens(&text, &mut toks);
        let words: Vec<&str> = toks.iter().map(|t| t.text).collect();
        assert!(words.contains(&"澜江理工大学"), "{words:?}");
        let mut idx = Vec::new();
        seg.index_tokens(&text, &mut idx);
        let sub: Vec<&str> = idx.iter().filter(|t| t.position == 0).map(|t| t.text).collect();
        assert!(sub.contains(&"大学"), "{sub:?}");
    }

    #[test]
    fn latin_words_and_offsets() {
        let seg = Segmenter::shared_default();
        let text = "canteen closed, 食堂 关闭";
        let mut toks = Vec::new();
        seg.query_tokens(text, &mut toks);
        let words: Vec<(&str, usize)> = toks.iter().map(|t| (t.text, t.position)).collect();
        assert_eq!(words, vec![("canteen", 0), ("closed", 1), ("食堂", 2), ("关闭", 3)]);
        for t in &toks {
            assert_eq!(&text[t.start..t.end], t.text);
        }
    }

    #[test]
    fn bad_user_dictionary_line_is_reported() {
        let mut r = "好词 abc\n".as_bytes();
        let err = Segmenter::new(Some(&mut r)).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
