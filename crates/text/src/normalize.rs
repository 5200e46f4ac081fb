//! From raw text to the two forms Tidewatch keeps: the display form (HTML removed, entities
//! decoded, whitespace tidied) and the matching form (NFKC, case folded, traditional folded to
//! simplified, whitespace folded to single spaces).
//!
//! The matching form is computed character by character so that every character of it can be
//! traced back to the original ([`FoldMap`]): highlights and rule spans point into the text the
//! user sees, not into a derived one.

use std::collections::HashMap;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

static TS_TABLE: &str = include_str!("../data/TSCharacters.txt");

/// The first and one past the last character of the dense part of the table (extension A and
/// the basic block: nearly every character of Chinese text).
const DENSE: (u32, u32) = (0x3400, 0xA000);

/// Traditional → simplified: an array over [`DENSE`] (one load per character; `'\0'` for
/// characters that stay), a map for the few ideographs outside it.
struct T2s {
    dense: Box<[char]>,
    rest: HashMap<char, char>,
}

fn t2s_table() -> &'static T2s {
    static TABLE: OnceLock<T2s> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table =
            T2s { dense: vec!['\0'; (DENSE.1 - DENSE.0) as usize].into_boxed_slice(), rest: HashMap::new() };
        for line in TS_TABLE.lines() {
            let mut parts = line.split('\t');
            let (Some(t), Some(s)) = (parts.next(), parts.next()) else { continue };
            let (mut tc, mut sc) = (t.chars(), s.chars());
            // Only 1:1 character mappings keep offsets exact; the table has no others.
            if let (Some(t), None, Some(s), None) = (tc.next(), tc.next(), sc.next(), sc.next()) {
                if t != s {
                    match (t as u32).checked_sub(DENSE.0) {
                        Some(i) if (t as u32) < DENSE.1 => table.dense[i as usize] = s,
                        _ => {
                            table.rest.insert(t, s);
                        }
                    }
                }
            }
        }
        table
    })
}

/// Folds one traditional Chinese character to its simplified form (identity otherwise).
pub fn to_simplified(c: char) -> char {
    let u = c as u32;
    if (DENSE.0..DENSE.1).contains(&u) {
        let s = t2s_table().dense[(u - DENSE.0) as usize];
        return if s == '\0' { c } else { s };
    }
    if !is_han(c) {
        return c;
    }
    t2s_table().rest.get(&c).copied().unwrap_or(c)
}

/// True for CJK unified ideographs (the basic block and extension A) and compatibility ideographs.
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

/// Where each byte of a folded string came from in the original.
///
/// `spans[b]` is the byte range, in the original, of the character that produced folded byte `b`.
#[derive(Debug, Default, Clone)]
pub struct FoldMap {
    spans: Vec<(u32, u32)>,
}

impl FoldMap {
    /// The original byte range covered by the folded byte range `start..end`.
    pub fn original_range(&self, start: usize, end: usize) -> (usize, usize) {
        if self.spans.is_empty() || start >= end || start >= self.spans.len() {
            return (0, 0);
        }
        let last = (end - 1).min(self.spans.len() - 1);
        (self.spans[start].0 as usize, self.spans[last].1 as usize)
    }
}

/// Folds `input` into its matching form, appending to `out`.
///
/// When `map` is given, it receives one entry per byte appended to `out`.
pub fn fold_into(input: &str, out: &mut String, mut map: Option<&mut FoldMap>) {
    let mut pending_space = false;
    let push = |out: &mut String, c: char, span: (u32, u32), map: &mut Option<&mut FoldMap>| {
        out.push(c);
        if let Some(m) = map.as_deref_mut() {
            for _ in 0..c.len_utf8() {
                m.spans.push(span);
            }
        }
    };
    for (pos, c) in input.char_indices() {
        let span = (pos as u32, (pos + c.len_utf8()) as u32);
        if (DENSE.0..DENSE.1).contains(&(c as u32)) {
            // Most characters of Chinese text: neither space nor control, already NFKC and
            // lower case; only the traditional → simplified step applies.
            if pending_space {
                push(out, ' ', span, &mut map);
                pending_space = false;
            }
            push(out, to_simplified(c), span, &mut map);
            continue;
        }
        if c.is_whitespace() || c.is_control() || c == '\u{200b}' || c == '\u{feff}' {
            pending_space = !out.is_empty();
            continue;
        }
        let mut emit = |out: &mut String, f: char, map: &mut Option<&mut FoldMap>| {
            if f.is_whitespace() {
                pending_space = !out.is_empty();
                return;
            }
            if pending_space {
                push(out, ' ', span, map);
                pending_space = false;
            }
            push(out, f, span, map);
        };
        if c.is_ascii() {
            emit(out, c.to_ascii_lowercase(), &mut map);
        } else {
            for n in std::iter::once(c).nfkc() {
                for l in n.to_lowercase() {
                    emit(out, to_simplified(l), &mut map);
                }
            }
        }
    }
}

/// The matching form of `input` (see the module documentation).
pub fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    fold_into(input, &mut out, None);
    out
}

/// The matching form of `input` with its map back to the original.
pub fn fold_with_map(input: &str) -> (String, FoldMap) {
    let mut out = String::with_capacity(input.len());
    let mut map = FoldMap { spans: Vec::with_capacity(input.len()) };
    fold_into(input, &mut out, Some(&mut map));
    (out, map)
}

/// True when `s` looks like it carries HTML markup or entities worth decoding.
pub fn looks_like_html(s: &str) -> bool {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'<' {
            if let Some(&n) = b.get(i + 1) {
                if n.is_ascii_alphabetic() || n == b'/' || n == b'!' {
                    return true;
                }
            }
        } else if c == b'&' {
            let rest = &b[i + 1..b.len().min(i + 12)];
            if rest.iter().position(|&x| x == b';').is_some_and(|p| p > 0) {
                return true;
            }
        }
    }
    false
}

const BLOCK_TAGS: &[&str] = &[
    "p",
    "br",
    "div",
    "li",
    "ul",
    "ol",
    "tr",
    "td",
    "th",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "table",
    "hr",
    "dd",
    "dt",
];
/// Elements whose content is never shown as text. (The content of `iframe`, `object` and
/// `noscript` is fallback text for readers that do not run them, and is kept.)
const SKIP_TAGS: &[&str] = &["script", "style", "template", "head"];

/// Converts an HTML fragment or document to plain text: tags removed (the contents of `script`,
/// `style` and similar elements dropped), block elements turned into line breaks, entities
/// decoded, whitespace tidied. Tolerates broken markup: an unclosed `<` is kept as text.
pub fn html_to_text(html: &str) -> String {
    // CDATA sections in HTML fields (common in feeds) wrap markup: unwrap them and parse the markup.
    let unwrapped;
    let html = if html.contains("<![CDATA[") {
        unwrapped = html.replace("<![CDATA[", "").replace("]]>", "");
        unwrapped.as_str()
    } else {
        html
    };
    let mut out = String::with_capacity(html.len());
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        // A comment, doctype or CDATA section.
        if html[i..].starts_with("<!--") {
            out.push_str(&html[text_start..i]);
            let end = html[i + 4..].find("-->").map(|p| i + 4 + p + 3).unwrap_or(bytes.len());
            i = end;
            text_start = i;
            continue;
        }
        let Some(n) = bytes.get(i + 1) else { break };
        if !(n.is_ascii_alphabetic() || *n == b'/' || *n == b'!' || *n == b'?') {
            i += 1;
            continue;
        }
        let Some(close) = find_tag_end(bytes, i + 1) else {
            // No closing '>' before the next '<' or the end: this '<' is text.
            i += 1;
            continue;
        };
        out.push_str(&html[text_start..i]);
        let tag = &html[i + 1..close];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        i = close + 1;
        text_start = i;
        if !closing && SKIP_TAGS.contains(&name.as_str()) && !tag.ends_with('/') {
            // Skip to the matching close tag.
            let needle = format!("</{name}");
            let lower_rest = html[i..].to_ascii_lowercase();
            match lower_rest.find(&needle) {
                Some(p) => {
                    let after = i + p;
                    i = find_tag_end(bytes, after + 1).map(|e| e + 1).unwrap_or(bytes.len());
                }
                None => i = bytes.len(),
            }
            text_start = i;
            continue;
        }
        if BLOCK_TAGS.contains(&name.as_str()) {
            out.push('\n');
        } else if !name.is_empty() {
            // Inline tags separate nothing, but `<span>a</span><span>b</span>` should not glue
            // Latin words together when the source relied on tag boundaries; we keep them joined
            // as browsers do.
        }
    }
    if text_start < bytes.len() {
        out.push_str(&html[text_start..]);
    }
    let decoded = html_escape::decode_html_entities(&out);
    let decoded: String = decoded.chars().map(c1_as_windows_1252).collect();
    tidy_whitespace(&decoded)
}

/// A C1 control character (U+0080–U+009F) as the Windows-1252 character it stands for: HTML
/// reads numeric references in that range this way, and pages written in Windows-1252 but
/// decoded as Latin-1 carry them.
pub fn c1_as_windows_1252(c: char) -> char {
    const TABLE: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}', '‘',
        '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
    ];
    match c as u32 {
        0x80..=0x9f => TABLE[c as usize - 0x80],
        _ => c,
    }
}

fn find_tag_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (off, &b) in bytes[from..].iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b'>' => return Some(from + off),
                b'<' => return None,
                _ => {}
            },
        }
    }
    None
}

/// Collapses runs of horizontal whitespace to one space and runs of blank lines to one line
/// break; trims the ends. Non-breaking and ideographic spaces count as whitespace.
pub fn tidy_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending: Option<char> = None;
    for c in s.chars() {
        if c == '\n' || c == '\r' {
            if !out.is_empty() {
                pending = Some('\n');
            }
        } else if c.is_whitespace() {
            if !out.is_empty() && pending.is_none() {
                pending = Some(' ');
            }
        } else if c.is_control() && c != '\t' {
            continue;
        } else {
            if let Some(p) = pending.take() {
                out.push(p);
            }
            out.push(c);
        }
    }
    out
}

/// The display form of a field that may contain HTML.
pub fn display_text(raw: &str) -> String {
    if looks_like_html(raw) {
        html_to_text(raw)
    } else {
        tidy_whitespace(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_one_to_one_mapping_of_the_table_folds_and_everything_else_stays() {
        let mut mapped = 0;
        for line in TS_TABLE.lines() {
            let mut parts = line.split('\t');
            let (Some(t), Some(s)) = (parts.next(), parts.next()) else { continue };
            let (mut tc, mut sc) = (t.chars(), s.chars());
            if let (Some(t), None, Some(s), None) = (tc.next(), tc.next(), sc.next(), sc.next()) {
                assert_eq!(to_simplified(t), s, "{t} U+{:X}", t as u32);
                mapped += 1;
            }
        }
        assert!(mapped > 4000, "{mapped}");
        // Inside and outside the dense part: already simplified, not Han, the block's edges.
        for c in ['中', '国', 'a', 'É', '\u{3400}', '\u{4DBF}', '\u{4DC0}', '\u{9FFF}', '\u{A000}', '\u{20000}'] {
            assert_eq!(to_simplified(c), c, "U+{:X}", c as u32);
        }
        assert_eq!(fold("學校 食堂\u{3000}衛生"), "学校 食堂 卫生");
    }

    #[test]
    fn fold_handles_width_case_and_traditional() {
        assert_eq!(fold("ＡＢＣ　臺灣 University"), "abc 台湾 university");
        assert_eq!(fold("  多   空白\n\t行 "), "多 空白 行");
        assert_eq!(fold("學校食堂"), "学校食堂");
    }

    #[test]
    fn fold_map_points_back_into_original() {
        let original = "Ｔｅｓｔ 臺灣";
        let (folded, map) = fold_with_map(original);
        assert_eq!(folded, "test 台湾");
        let start = folded.find("台湾").unwrap();
        let (a, b) = map.original_range(start, start + "台湾".len());
        assert_eq!(&original[a..b], "臺灣");
        let (a, b) = map.original_range(0, 4);
        assert_eq!(&original[a..b], "Ｔｅｓｔ");
    }

    #[test]
    fn html_is_stripped_with_scripts_and_entities() {
        let html = "<html><head><title>x</title><style>p{}</style></head><body><p>食堂&amp;宿舍</p>\
                    <script>alert('<b>')</script><div>second&nbsp;line &#x4E2D;</div></body></html>";
        assert_eq!(html_to_text(html), "食堂&宿舍\nsecond line 中");
    }

    #[test]
    fn regression_stray_lt_before_a_script_does_not_leak_it() {
        // Found by the property test: "</" followed by a tag made the rest of the input plain text.
        assert_eq!(html_to_text("</<script>x</script>after"), "</after");
        assert_eq!(html_to_text("<![CDATA[<p>in <b>cdata</b></p>]]>"), "in cdata");
    }

    #[test]
    fn broken_html_keeps_text() {
        assert_eq!(html_to_text("a < b and <b>bold"), "a < b and bold");
        assert_eq!(html_to_text("<p>unclosed <a href=\"x"), "unclosed <a href=\"x");
        assert_eq!(display_text("3 < 4 && 5 > 2"), "3 < 4 && 5 > 2");
    }
}
