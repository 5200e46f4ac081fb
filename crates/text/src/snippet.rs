//! Highlighted snippets and shortened texts: the part of a text around the search terms, HTML-escaped, with each
//! occurrence of a term wrapped in `<b>…</b>`.
//!
//! Terms are found in the matching form, so a search for 台湾 highlights 臺灣 in the original.

use crate::normalize::{fold, fold_with_map};

/// The first `n` characters of `s` (trimmed), with `…` when something was cut.
pub fn truncate_chars(s: &str, n: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(n) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// Builds a snippet of about `max_chars` characters of `original` around the first and densest
/// occurrences of `terms` (in any form; they are folded here). Returns the text's beginning,
/// escaped, when no term occurs.
pub fn highlight(original: &str, terms: &[String], max_chars: usize) -> String {
    let (folded, map) = fold_with_map(original);
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for term in terms {
        let t = fold(term);
        if t.is_empty() {
            continue;
        }
        let latin = t.chars().all(|c| c.is_ascii_alphanumeric());
        let mut from = 0;
        while let Some(p) = folded[from..].find(&t) {
            let s = from + p;
            let e = s + t.len();
            let ok = !latin
                || (!folded[..s].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric())
                    && !folded[e..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric()));
            if ok {
                ranges.push(map.original_range(s, e));
            }
            from = e;
        }
    }
    ranges.sort();
    // Merge overlaps.
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.0 <= last.1 => last.1 = last.1.max(r.1),
            _ => merged.push(r),
        }
    }
    // Choose the window: start a little before the first match.
    let total_chars = original.chars().count();
    let (win_start, win_end) = if let Some(&(first, _)) = merged.first() {
        let before = original[..first].chars().count();
        let lead = (max_chars / 4).min(before);
        let start_char = before - lead;
        let start = char_to_byte(original, start_char);
        let end = char_to_byte(original, (start_char + max_chars).min(total_chars));
        (start, end)
    } else {
        (0, char_to_byte(original, max_chars.min(total_chars)))
    };
    let mut out = String::new();
    if win_start > 0 {
        out.push('…');
    }
    let mut pos = win_start;
    for (s, e) in merged {
        if e <= win_start || s >= win_end {
            continue;
        }
        let (s, e) = (s.max(win_start), e.min(win_end));
        escape_into(&original[pos..s], &mut out);
        out.push_str("<b>");
        escape_into(&original[s..e], &mut out);
        out.push_str("</b>");
        pos = e;
    }
    escape_into(&original[pos..win_end], &mut out);
    if win_end < original.len() {
        out.push('…');
    }
    out
}

fn char_to_byte(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map(|(i, _)| i).unwrap_or(s.len())
}

fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::highlight;

    #[test]
    fn highlights_across_forms_and_escapes() {
        let s = highlight("據報道，臺灣<客人>在食堂用餐", &["台湾".into(), "食堂".into()], 100);
        assert_eq!(s, "據報道，<b>臺灣</b>&lt;客人&gt;在<b>食堂</b>用餐");
        let s = highlight("The Canteen is closed; category", &["canteen".into(), "cat".into()], 100);
        assert_eq!(s, "The <b>Canteen</b> is closed; category");
    }

    #[test]
    fn long_texts_are_windowed() {
        let text = format!("{}食堂{}", "前".repeat(200), "后".repeat(200));
        let s = highlight(&text, &["食堂".into()], 40);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<b>食堂</b>"));
        assert_eq!(s.chars().filter(|c| *c == '前').count(), 10);
    }
}
