//! Web pages and JSON APIs as sources.
//!
//! - A **list page** gives the links of articles through a CSS selector; each **article page**
//!   gives a title, a publication time and a body, by configured selectors or, without them, by
//!   the usual places (`og:title`, `article:published_time`, `<time datetime>`, a date in the
//!   text; the element whose paragraphs hold the most text).
//! - A **JSON API** gives items through a JSON pointer to the array of items and a pointer per
//!   field (`/title`, `/user/name`, …), which covers feed-generation services and public
//!   platform APIs without code per platform.

use crate::feed::dates::parse_feed_date;
use crate::feed::FeedEntry;
use chrono_tz::Tz;
use scraper::{ElementRef, Html, Selector};
use std::collections::HashMap;
use tidewatch_text::normalize::html_to_text;

/// A CSS selector, checked when the configuration is loaded.
pub fn selector(s: &str) -> Result<Selector, String> {
    Selector::parse(s).map_err(|e| format!("CSS selector {s:?}: {e}"))
}

/// The absolute URLs of the links `links` selects on a list page, in page order, each once.
pub fn article_links(html: &str, page_url: &str, links: &Selector) -> Vec<String> {
    let doc = Html::parse_document(html);
    let base = url::Url::parse(page_url).ok();
    let mut out: Vec<String> = Vec::new();
    for e in doc.select(links) {
        // The selector may point at the <a> or at an element around it.
        let href = e.value().attr("href").map(String::from).or_else(|| {
            let a = Selector::parse("a[href]").ok()?;
            e.select(&a).next().and_then(|a| a.value().attr("href")).map(String::from)
        });
        let Some(href) = href else { continue };
        let Some(abs) = base.as_ref().and_then(|b| b.join(href.trim()).ok()) else { continue };
        if !matches!(abs.scheme(), "http" | "https") {
            continue;
        }
        let s = abs.to_string();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Selectors for the parts of an article page (each optional).
#[derive(Debug, Clone, Default)]
pub struct ArticleSelectors {
    /// The title.
    pub title: Option<Selector>,
    /// The body.
    pub content: Option<Selector>,
    /// The publication time (its `datetime` attribute or its text).
    pub published: Option<Selector>,
}

fn text_of(e: ElementRef<'_>) -> String {
    html_to_text(&e.html())
}

fn meta(doc: &Html, attr: &str, names: &[&str]) -> Option<String> {
    for n in names {
        let sel = Selector::parse(&format!("meta[{attr}=\"{n}\"]")).ok()?;
        if let Some(v) = doc.select(&sel).next().and_then(|m| m.value().attr("content")) {
            if !v.trim().is_empty() {
                return Some(v.trim().to_string());
            }
        }
    }
    None
}

/// A date written in the text, as Chinese and English news pages do.
fn date_in_text(text: &str, zone: Tz) -> Option<chrono::DateTime<chrono::Utc>> {
    let re = regex_lite(text)?;
    parse_feed_date(&re, zone)
}

/// The first `YYYY-MM-DD[ HH:MM[:SS]]` or `YYYY年M月D日[ HH:MM]` in `text`.
fn regex_lite(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    for i in 0..chars.len() {
        if !(chars[i].is_ascii_digit() && chars.get(i + 3).is_some_and(|c| c.is_ascii_digit())) {
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 25)].iter().collect();
        let year: String = rest.chars().take(4).collect();
        if !year.starts_with("19") && !year.starts_with("20") {
            continue;
        }
        // Take the run of date-ish characters.
        let run: String =
            rest.chars().take_while(|c| c.is_ascii_digit() || "-/.年月日 :".contains(*c)).collect::<String>();
        let run = run.trim().trim_end_matches(':').to_string();
        if run.len() >= 8 && (run.contains('-') || run.contains('年') || run.contains('/')) {
            return Some(run);
        }
    }
    None
}

/// The entry an article page gives.
pub fn article(html: &str, url: &str, sel: &ArticleSelectors, zone: Tz) -> FeedEntry {
    let doc = Html::parse_document(html);
    let title = sel
        .title
        .as_ref()
        .and_then(|s| doc.select(s).next().map(text_of))
        .or_else(|| meta(&doc, "property", &["og:title"]))
        .or_else(|| Selector::parse("h1").ok().and_then(|s| doc.select(&s).next().map(text_of)))
        .or_else(|| Selector::parse("title").ok().and_then(|s| doc.select(&s).next().map(text_of)))
        .unwrap_or_default();
    let body = match sel.content.as_ref().and_then(|s| doc.select(s).next()) {
        Some(e) => text_of(e),
        None => main_text(&doc),
    };
    let published = sel
        .published
        .as_ref()
        .and_then(|s| doc.select(s).next())
        .and_then(|e| e.value().attr("datetime").map(String::from).or_else(|| Some(text_of(e))))
        .and_then(|t| parse_feed_date(&t, zone).or_else(|| date_in_text(&t, zone)))
        .or_else(|| {
            meta(&doc, "property", &["article:published_time"])
                .or_else(|| meta(&doc, "name", &["pubdate", "publishdate", "PubDate", "publish_date", "date"]))
                .and_then(|t| parse_feed_date(&t, zone))
        })
        .or_else(|| {
            let s = Selector::parse("time[datetime]").ok()?;
            doc.select(&s).next().and_then(|t| t.value().attr("datetime")).and_then(|t| parse_feed_date(t, zone))
        })
        .or_else(|| date_in_text(&body, zone))
        .or_else(|| date_in_text(&text_of(doc.root_element()), zone));
    let author = meta(&doc, "name", &["author"]);
    FeedEntry {
        id: Some(url.to_string()),
        title,
        url: Some(url.to_string()),
        text: body.clone(),
        summary: String::new(),
        content: body,
        published_at: published,
        updated_at: None,
        author,
    }
}

/// The text of the element whose own paragraphs hold the most text (the article body on most
/// pages), else of the whole body.
fn main_text(doc: &Html) -> String {
    let Ok(p) = Selector::parse("p") else { return String::new() };
    let mut best: Option<(usize, ElementRef<'_>)> = None;
    let mut scores = HashMap::new();
    for para in doc.select(&p) {
        let len = para.text().map(|t| t.trim().chars().count()).sum::<usize>();
        if let Some(parent) = para.parent().and_then(ElementRef::wrap) {
            let e: &mut (usize, usize) = scores.entry(parent.id()).or_insert((0, 0));
            e.0 += len;
            e.1 += 1;
            if best.is_none_or(|(b, _)| e.0 > b) {
                best = Some((e.0, parent));
            }
        }
    }
    match best {
        Some((n, e)) if n >= 40 => text_of(e),
        _ => Selector::parse("body").ok().and_then(|s| doc.select(&s).next().map(text_of)).unwrap_or_default(),
    }
}

/// How a JSON API's items map to entries: a pointer to the array, and a pointer per field.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonMapping {
    /// Pointer to the array of items (`""` when the document is the array).
    #[serde(default)]
    pub items: String,
    /// Pointer, inside an item, to its id.
    pub id: Option<String>,
    /// … its title.
    pub title: Option<String>,
    /// … its text (HTML is turned into plain text).
    pub text: Option<String>,
    /// … its URL.
    pub url: Option<String>,
    /// … its publication time (any date form, or a Unix timestamp).
    pub published_at: Option<String>,
    /// … its author.
    pub author: Option<String>,
}

/// The entries of a JSON API response, and the problems found (by item index).
pub fn json_entries(body: &[u8], map: &JsonMapping, zone: Tz) -> Result<(Vec<FeedEntry>, Vec<String>), String> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let items = doc
        .pointer(&map.items)
        .ok_or_else(|| format!("no value at {:?}", map.items))?
        .as_array()
        .ok_or_else(|| format!("the value at {:?} is not an array", map.items))?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let get = |p: &Option<String>| -> Option<String> {
            let v = item.pointer(p.as_deref()?)?;
            match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            }
        };
        let text = get(&map.text).map(|t| html_to_text(&t)).unwrap_or_default();
        let title = get(&map.title).map(|t| html_to_text(&html_escape::encode_text(&t))).unwrap_or_default();
        if text.is_empty() && title.is_empty() {
            problems.push(format!("item {i}: no title and no text at the mapped pointers"));
            continue;
        }
        let published_at = get(&map.published_at).and_then(|d| {
            let parsed = parse_feed_date(&d, zone);
            if parsed.is_none() {
                problems.push(format!("item {i}: cannot read the date {d:?}"));
            }
            parsed
        });
        out.push(FeedEntry {
            id: get(&map.id),
            title,
            url: get(&map.url),
            summary: String::new(),
            content: text.clone(),
            text,
            published_at,
            updated_at: None,
            author: get(&map.author),
        });
    }
    Ok((out, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_article_and_json() {
        let list = r#"<html><body><ul class="news"><li><a href="/a/1.html">一</a></li><li><a href="https://other.example/2">二</a></li><li><a href="/a/1.html">again</a></li><li><a href="javascript:x()">js</a></li></ul><a href="/nav">nav</a></body></html>"#;
        let links = article_links(list, "http://site.example/list/", &selector("ul.news a").unwrap());
        assert_eq!(links, vec!["http://site.example/a/1.html", "https://other.example/2"]);

        let page = r#"<html><head><title>站点 - 标题</title><meta property="og:title" content="关于食堂的通报"></head>
<body><nav><p>首页</p></nav><div class="info">发布时间：2026-10-12 09:30</div>
<div class="article"><p>近日，有同学反映第三食堂的饭菜存在质量问题。</p><p>学校高度重视，已成立调查组进行调查。</p><script>x()</script></div>
<footer><p>版权所有</p></footer></body></html>"#;
        let e = article(page, "http://site.example/a/1.html", &ArticleSelectors::default(), chrono_tz::Asia::Shanghai);
        assert_eq!(e.title, "关于食堂的通报");
        assert!(
            e.text.contains("学校高度重视") && !e.text.contains("版权所有") && !e.text.contains("x()"),
            "{}",
            e.text
        );
        assert_eq!(e.published_at.unwrap().to_rfc3339(), "2026-10-12T01:30:00+00:00");

        let api = r#"{"code": 0, "data": {"list": [{"mid": 7, "content": "<p>回应</p>", "user": {"name": "官方"}, "ts": 1791768600, "link": "http://site.example/7"}, {"mid": 8}]}}"#.as_bytes();
        let map = JsonMapping {
            items: "/data/list".into(),
            id: Some("/mid".into()),
            text: Some("/content".into()),
            author: Some("/user/name".into()),
            published_at: Some("/ts".into()),
            url: Some("/link".into()),
            ..Default::default()
        };
        let (entries, problems) = json_entries(api, &map, chrono_tz::UTC).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].id.as_deref(), entries[0].text.as_str(), entries[0].author.as_deref()),
            (Some("7"), "回应", Some("官方"))
        );
        assert_eq!(entries[0].published_at.unwrap().to_rfc3339(), "2026-10-12T01:30:00+00:00");
        assert!(problems[0].contains("item 1"));
        assert!(json_entries(b"{", &map, chrono_tz::UTC).is_err());
        assert!(json_entries(br#"{"data": 1}"#, &map, chrono_tz::UTC).unwrap_err().contains("no value"));
    }
}
