//! From bytes to text: the encoding is taken from a byte-order mark, then the HTTP header, the
//! XML declaration or an HTML `<meta charset>`; when that declaration is missing or wrong (the
//! bytes are not valid in it) the encoding is detected. GBK, GB18030 and Big5 pages come out
//! right even when they claim to be UTF-8, and the other way round.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

/// Decoded text and how it was decoded.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The text.
    pub text: String,
    /// The encoding used (its WHATWG name, e.g. `GBK`, `Big5`, `UTF-8`).
    pub encoding: &'static str,
    /// What was wrong with the declarations, if anything.
    pub problems: Vec<String>,
}

/// The `charset` parameter of a Content-Type header.
pub fn charset_of_content_type(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset")).then(|| v.trim().trim_matches(['"', '\'']).to_string())
    })
}

/// The encoding named in an XML declaration at the start of `bytes`.
fn xml_declared(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(512)];
    let head = String::from_utf8_lossy(head);
    let decl = head.trim_start_matches('\u{feff}').trim_start();
    if !decl.starts_with("<?xml") {
        return None;
    }
    let end = decl.find("?>")?;
    let decl = &decl[..end];
    let at = decl.find("encoding")?;
    let rest = decl[at + 8..].trim_start().strip_prefix('=')?.trim_start();
    let q = rest.chars().next()?;
    if q != '"' && q != '\'' {
        return None;
    }
    let v = &rest[1..];
    Some(v[..v.find(q)?].to_string())
}

/// The charset of an HTML `<meta charset>` or `<meta http-equiv=content-type>` near the start.
fn meta_declared(bytes: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).to_ascii_lowercase();
    let mut from = 0;
    while let Some(p) = head[from..].find("<meta") {
        let start = from + p;
        let end = head[start..].find('>').map(|e| start + e).unwrap_or(head.len());
        let tag = &head[start..end];
        if let Some(c) = tag.find("charset=") {
            let v = tag[c + 8..].trim_start_matches(['"', '\'']);
            let v: String = v.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
            if !v.is_empty() {
                return Some(v);
            }
        }
        from = end;
    }
    None
}

fn bom(bytes: &[u8]) -> Option<(&'static Encoding, usize)> {
    Encoding::for_bom(bytes)
}

/// UTF-16 without a byte-order mark, recognized by the zero bytes around `<`.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    match bytes {
        [0, b'<', 0, b'?', ..] | [0, b'<', 0, _, ..] => Some(UTF_16BE),
        [b'<', 0, b'?', 0, ..] | [b'<', 0, _, 0, ..] => Some(UTF_16LE),
        _ => None,
    }
}

fn decode_strict(enc: &'static Encoding, bytes: &[u8]) -> Option<String> {
    let (text, _, had_errors) = enc.decode(bytes);
    (!had_errors).then(|| text.into_owned())
}

fn detect(bytes: &[u8]) -> &'static Encoding {
    let mut d = chardetng::EncodingDetector::new();
    d.feed(bytes, true);
    // No top-level-domain hint; UTF-8 allowed as an answer.
    d.guess(None, true)
}

/// Decodes `bytes`, using `http_content_type` (the response header) when given. C1 control
/// characters in the result are repaired (see [`super::xml::fix_c1`]).
pub fn decode(bytes: &[u8], http_content_type: Option<&str>) -> Decoded {
    let mut d = decode_raw(bytes, http_content_type);
    d.text = super::xml::fix_c1(d.text);
    d
}

fn decode_raw(bytes: &[u8], http_content_type: Option<&str>) -> Decoded {
    let mut problems = Vec::new();
    if let Some((enc, len)) = bom(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[len..]);
        if had_errors {
            problems.push(format!("invalid {} bytes after the byte-order mark were replaced", enc.name()));
        }
        return Decoded { text: text.into_owned(), encoding: enc.name(), problems };
    }
    if let Some(enc) = utf16_without_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(bytes);
        return Decoded { text: text.into_owned(), encoding: enc.name(), problems };
    }
    let declared: Vec<(String, &str)> = [
        http_content_type.and_then(charset_of_content_type).map(|c| (c, "the HTTP header")),
        xml_declared(bytes).map(|c| (c, "the XML declaration")),
        meta_declared(bytes).map(|c| (c, "a <meta> tag")),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (label, source) in &declared {
        match Encoding::for_label(label.trim().as_bytes()) {
            // A document in an ASCII-compatible encoding cannot really be UTF-16: the bytes
            // already showed it is not (no zero bytes around '<').
            Some(enc) if enc == UTF_16LE || enc == UTF_16BE => {
                problems.push(format!("{source} declares {label}, but the document is not UTF-16"));
            }
            Some(enc) => {
                let (text, had_errors) = enc.decode_without_bom_handling(bytes);
                if !had_errors {
                    return Decoded { text: text.into_owned(), encoding: enc.name(), problems };
                }
                // A few bad bytes in a document that is otherwise valid in the declared encoding
                // are damage: keep the declaration and replace them. Many mean the declaration
                // is wrong (a GBK page claiming UTF-8): detect instead.
                let bad = text.chars().filter(|&c| c == '\u{fffd}').count();
                let total = text.chars().count().max(1);
                problems.push(format!(
                    "{source} declares {label}, but {bad} byte sequence(s) are not valid {}",
                    enc.name()
                ));
                if bad * 100 <= total {
                    return Decoded { text: text.into_owned(), encoding: enc.name(), problems };
                }
            }
            None => problems.push(format!("{source} declares an unknown encoding {label:?}")),
        }
    }
    if let Some(text) = decode_strict(UTF_8, bytes) {
        return Decoded { text, encoding: UTF_8.name(), problems };
    }
    let enc = detect(bytes);
    let (text, had_errors) = enc.decode_without_bom_handling(bytes);
    if had_errors {
        problems.push(format!("invalid {} bytes were replaced", enc.name()));
    }
    if declared.is_empty() {
        problems.push(format!("no encoding declared and not UTF-8; detected {}", enc.name()));
    } else {
        problems.push(format!("detected {} instead", enc.name()));
    }
    Decoded { text: text.into_owned(), encoding: enc.name(), problems }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_and_detection() {
        let gbk = encoding_rs::GBK
            .encode("<?xml version=\"1.0\" encoding=\"gb2312\"?><rss><title>澜江理工大学食堂</title></rss>")
            .0;
        let d = decode(&gbk, None);
        assert!(d.text.contains("澜江理工大学食堂") && d.problems.is_empty(), "{d:?}");
        // Claims UTF-8, is GBK.
        let lying = encoding_rs::GBK.encode("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss><title>关于第三食堂的情况通报，学校高度重视</title></rss>").0;
        let d = decode(&lying, Some("text/xml; charset=utf-8"));
        assert!(d.text.contains("第三食堂"), "{d:?}");
        assert!(!d.problems.is_empty());
        let big5 = encoding_rs::BIG5
            .encode("<html><head><meta charset=\"big5\"></head><body>臺灣大學學生餐廳</body></html>")
            .0;
        assert!(decode(&big5, None).text.contains("臺灣大學學生餐廳"));
        let d = decode("\u{feff}<a>é</a>".as_bytes(), Some("text/xml; charset=iso-8859-1"));
        assert_eq!((d.text.as_str(), d.encoding), ("<a>é</a>", "UTF-8"));
    }
}
