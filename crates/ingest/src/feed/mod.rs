//! Feeds: RSS 0.9x, 1.0 (RDF) and 2.0, Atom 0.3 and 1.0, and JSON Feed, read from bytes into
//! entries with plain-text title, summary and content, a resolved link, dates and author.
//!
//! Reading never fails: a damaged feed gives what can be recovered plus a list of problems
//! (what feedparser calls "bozo"). The encoding is worked out by [`encoding`], the markup read by
//! the forgiving [`xml`] reader; HTML in titles, summaries and content is turned into plain text
//! (scripts and styles dropped), and relative links are resolved against `xml:base` and the
//! feed's own URL.

pub mod dates;
pub mod encoding;
pub mod xml;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use tidewatch_model::ItemInput;
use tidewatch_text::normalize::{html_to_text, looks_like_html};
use xml::{ns, Element};

/// The kind of feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// RSS 0.9x or 2.0.
    Rss,
    /// RSS 1.0 / 0.90 (RDF).
    Rdf,
    /// Atom 1.0.
    Atom10,
    /// Atom 0.3.
    Atom03,
    /// JSON Feed.
    JsonFeed,
    /// Not recognized as a feed.
    Unknown,
}

/// One entry of a feed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FeedEntry {
    /// The entry's id (`guid`, `id`), if any.
    pub id: Option<String>,
    /// Title, plain text.
    pub title: String,
    /// Link to the entry, resolved to an absolute URL when possible.
    pub url: Option<String>,
    /// Plain text of the content, else of the summary.
    pub text: String,
    /// Plain text of the summary or description.
    pub summary: String,
    /// Plain text of the full content (`content:encoded`, Atom `content`).
    pub content: String,
    /// Publication time.
    pub published_at: Option<DateTime<Utc>>,
    /// Last update.
    pub updated_at: Option<DateTime<Utc>>,
    /// Author's name (or address), for citation.
    pub author: Option<String>,
}

/// What was read from a feed.
#[derive(Debug, Clone, Serialize)]
pub struct Feed {
    /// Its kind.
    pub kind: FeedKind,
    /// Title, plain text.
    pub title: String,
    /// The site's link.
    pub link: Option<String>,
    /// Entries in document order.
    pub entries: Vec<FeedEntry>,
    /// The encoding the bytes were read in.
    pub encoding: String,
    /// Problems found (the feed is still read as far as possible).
    pub problems: Vec<String>,
}

/// How to read a feed.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// The response's Content-Type, when fetched over HTTP.
    pub content_type: Option<String>,
    /// The feed's URL, against which relative links are resolved.
    pub base_url: Option<String>,
    /// The zone of dates written without one.
    pub zone: Tz,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions { content_type: None, base_url: None, zone: crate::dates::DEFAULT_ZONE }
    }
}

impl FeedEntry {
    /// The entry as an item of `source`.
    pub fn to_item(&self, source: &str) -> ItemInput {
        ItemInput {
            id: self.id.clone().or_else(|| self.url.clone()),
            source: Some(source.to_string()),
            url: self.url.clone(),
            title: Some(self.title.clone()).filter(|t| !t.is_empty()),
            text: Some(self.text.clone()).filter(|t| !t.is_empty()),
            published_at: self.published_at.or(self.updated_at),
            author: self.author.clone(),
            ..Default::default()
        }
    }
}

/// Reads a feed from bytes.
pub fn parse_feed(bytes: &[u8], opts: &FeedOptions) -> Feed {
    let decoded = encoding::decode(bytes, opts.content_type.as_deref());
    let mut problems = decoded.problems;
    let text = decoded.text.trim_start_matches('\u{feff}');
    let mut feed = if text.trim_start().starts_with('{') {
        parse_json_feed(text, opts, &mut problems)
    } else {
        let doc = xml::parse(text);
        problems.extend(doc.problems);
        parse_xml_feed(&doc.root, opts, &mut problems)
    };
    feed.encoding = decoded.encoding.to_string();
    feed.problems = problems;
    feed
}

fn empty_feed(kind: FeedKind) -> Feed {
    Feed { kind, title: String::new(), link: None, entries: Vec::new(), encoding: String::new(), problems: Vec::new() }
}

/// Resolves `href` against `base`. An absolute URL is kept as written.
fn resolve(base: Option<&str>, href: &str) -> String {
    let href = href.trim();
    if url::Url::parse(href).is_ok() {
        return href.to_string();
    }
    match base.and_then(|b| url::Url::parse(b).ok()) {
        Some(b) => b.join(href).map(|u| u.to_string()).unwrap_or_else(|_| href.to_string()),
        None => href.to_string(),
    }
}

/// The base URL in effect inside `e`, given its parent's.
fn base_of(e: &Element, parent: Option<&str>) -> Option<String> {
    match e.attr("xml:base") {
        Some(b) => Some(resolve(parent, b)),
        None => parent.map(String::from),
    }
}

/// Plain text of an element that may hold HTML (RSS titles and descriptions).
fn rss_text(e: &Element) -> String {
    let t = e.text();
    if looks_like_html(&t) {
        html_to_text(&t)
    } else {
        html_to_text(&html_escape::encode_text(&t))
    }
}

/// Plain text of an Atom text construct (`type` text, html or xhtml; Atom 0.3 `mode`).
fn atom_text(e: &Element) -> String {
    let ty = e.attr("type").unwrap_or("text").to_ascii_lowercase();
    let mode = e.attr("mode").unwrap_or("").to_ascii_lowercase();
    let binary = ty.contains('/') && !ty.starts_with("text/") && !ty.contains("xml") && !ty.contains("html");
    let raw = if mode == "base64" || binary {
        use base64::Engine as _;
        let cleaned: String = e.text().chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(cleaned.as_bytes())
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    } else if ty == "xhtml" || mode == "xml" || ty.ends_with("xml") && ty != "text/xml" {
        // Inline XHTML: the markup of the children (the wrapping div included is harmless).
        return html_to_text(&e.inner_markup());
    } else {
        e.text()
    };
    if ty == "html" || ty == "text/html" || mode == "escaped" || ((mode == "base64" || binary) && looks_like_html(&raw))
    {
        html_to_text(&raw)
    } else {
        html_to_text(&html_escape::encode_text(&raw))
    }
}

fn date_of(e: Option<&Element>, opts: &FeedOptions, problems: &mut Vec<String>) -> Option<DateTime<Utc>> {
    let e = e?;
    let raw = e.text();
    let d = dates::parse_feed_date(&raw, opts.zone);
    if d.is_none() && !raw.trim().is_empty() {
        problems.push(format!("<{}>: cannot read the date {:?}", e.qname, raw.trim()));
    }
    d
}

/// The first of `candidates` present (the last occurrence of it: a later value overwrites an
/// earlier one, as in feedparser).
fn first_date(
    e: &Element,
    candidates: &[(&[&str], &str)],
    opts: &FeedOptions,
    problems: &mut Vec<String>,
) -> Option<DateTime<Utc>> {
    candidates.iter().find_map(|(nss, name)| {
        let last = e.elements().filter(|c| c.name == *name && nss.contains(&c.ns.as_str())).last();
        date_of(last, opts, problems)
    })
}

const RSS_NS: &[&str] =
    &["", ns::RSS10, ns::RSS090, "http://backend.userland.com/rss2", "http://backend.userland.com/rss"];
const ATOM_NS: &[&str] = &[ns::ATOM10, ns::ATOM03, ""];
const MEDIA: &str = "http://search.yahoo.com/mrss/";
const ITUNES: &[&str] = &["http://www.itunes.com/dtds/podcast-1.0.dtd", "http://www.itunes.com/DTDs/Podcast-1.0.dtd"];

fn parse_xml_feed(root: &Element, opts: &FeedOptions, problems: &mut Vec<String>) -> Feed {
    let base = base_of(root, opts.base_url.as_deref());
    match (root.name.as_str(), root.ns.as_str()) {
        ("rss", _) => {
            let mut feed = empty_feed(FeedKind::Rss);
            let Some(channel) = root.child(RSS_NS, "channel").or_else(|| root.elements().find(|e| e.name == "channel"))
            else {
                problems.push("<rss> without <channel>".into());
                rss_channel(
                    root,
                    root.elements().filter(|e| e.name == "item"),
                    base.as_deref(),
                    opts,
                    problems,
                    &mut feed,
                );
                return feed;
            };
            let base = base_of(channel, base.as_deref());
            rss_channel(
                channel,
                channel.elements().filter(|e| e.name == "item"),
                base.as_deref(),
                opts,
                problems,
                &mut feed,
            );
            feed
        }
        ("rdf", _) => {
            let mut feed = empty_feed(FeedKind::Rdf);
            let channel = root.elements().find(|e| e.name == "channel");
            let items = root.elements().filter(|e| e.name == "item");
            match channel {
                Some(c) => rss_channel(c, items, base.as_deref(), opts, problems, &mut feed),
                None => rss_channel(root, items, base.as_deref(), opts, problems, &mut feed),
            }
            feed
        }
        ("channel", _) => {
            let mut feed = empty_feed(FeedKind::Rss);
            problems.push("<channel> without <rss>".into());
            rss_channel(root, root.elements().filter(|e| e.name == "item"), base.as_deref(), opts, problems, &mut feed);
            feed
        }
        ("feed", n) => {
            let kind = if n == ns::ATOM03 { FeedKind::Atom03 } else { FeedKind::Atom10 };
            let mut feed = empty_feed(kind);
            if n != ns::ATOM10 && n != ns::ATOM03 {
                problems.push(format!("<feed> in namespace {n:?}, read as Atom"));
            }
            atom_feed(root, base.as_deref(), opts, problems, &mut feed);
            feed
        }
        (other, _) => {
            problems.push(format!("not a feed: the document's root is <{other}>"));
            empty_feed(FeedKind::Unknown)
        }
    }
}

fn rss_channel<'a>(
    channel: &Element,
    items: impl Iterator<Item = &'a Element>,
    base: Option<&str>,
    opts: &FeedOptions,
    problems: &mut Vec<String>,
    feed: &mut Feed,
) {
    feed.title = channel.child(RSS_NS, "title").map(rss_text).unwrap_or_default();
    feed.link = channel
        .child(RSS_NS, "link")
        .map(|l| l.text().trim().to_string())
        .filter(|l| !l.is_empty())
        .map(|l| resolve(base, &l));
    let feed_author =
        channel.child(&[ns::DC], "creator").or_else(|| channel.child(RSS_NS, "managingeditor")).map(rss_text);
    for item in items {
        let base = base_of(item, base);
        let base = base.as_deref();
        let media = |name: &str| {
            item.child(&[MEDIA], name).or_else(|| item.child(&[MEDIA], "group").and_then(|g| g.child(&[MEDIA], name)))
        };
        let mut e = FeedEntry {
            title: item
                .child(RSS_NS, "title")
                .or_else(|| item.child(&[ns::DC], "title"))
                .or_else(|| media("title"))
                .map(rss_text)
                .unwrap_or_default(),
            ..Default::default()
        };
        let guid = item.child(RSS_NS, "guid");
        e.id = guid.map(|g| g.text().trim().to_string()).filter(|g| !g.is_empty());
        let link = item
            .child(RSS_NS, "link")
            .map(|l| l.text().trim().to_string())
            .filter(|l| !l.is_empty())
            .or_else(|| alternate_link(item).and_then(|l| l.attr("href")).map(String::from))
            .or_else(|| {
                // A guid that is a permalink (the default) and looks like a URL.
                let g = guid?;
                let permalink = g.attr("ispermalink").is_none_or(|v| !v.eq_ignore_ascii_case("false"));
                let t = g.text().trim().to_string();
                (permalink && (t.starts_with("http://") || t.starts_with("https://"))).then_some(t)
            });
        e.url = link.map(|l| resolve(base, &l));
        if e.url.is_none() {
            e.url = item.attr("href").map(|h| resolve(base, h)); // CDF
        }
        // With both a description and a summary, the first is the summary and the other the
        // content (as feedparser reads them).
        let mut descriptions = item.elements().filter(|d| {
            (d.name == "description" && (RSS_NS.contains(&d.ns.as_str()) || d.ns == ns::DC))
                || (d.name == "summary" && ATOM_NS.contains(&d.ns.as_str()))
                || (d.name == "abstract" && RSS_NS.contains(&d.ns.as_str()))
        });
        let (first, second) = (descriptions.next(), descriptions.next());
        e.summary = first
            .or_else(|| item.child(ITUNES, "summary"))
            .or_else(|| media("description"))
            .map(|d| html_to_text(&d.text()))
            .unwrap_or_default();
        e.content = item
            .child(&[ns::CONTENT], "encoded")
            .or_else(|| item.child(RSS_NS, "fullitem"))
            .map(|c| html_to_text(&c.text()))
            .or_else(|| second.map(|d| html_to_text(&d.text())))
            .or_else(|| {
                // An XHTML body (namespaced or not) as the content.
                let body = item.elements().find(|b| b.name == "body").or_else(|| item.child(&[ns::XHTML], "div"))?;
                Some(html_to_text(&body.inner_markup()))
            })
            .or_else(|| item.child(&[ns::ATOM10], "content").map(atom_text))
            .unwrap_or_default();
        e.published_at = first_date(
            item,
            &[
                (RSS_NS, "pubdate"),
                (&[ns::DC], "date"),
                (&[ns::DCTERMS], "issued"),
                (&[ns::DCTERMS], "created"),
                (&[ns::ATOM10], "published"),
            ],
            opts,
            problems,
        );
        e.updated_at = first_date(item, &[(&[ns::DCTERMS], "modified"), (&[ns::ATOM10], "updated")], opts, problems)
            .or_else(|| {
                // CDF: <ITEM LASTMOD="...">
                item.attr("lastmod").and_then(|d| dates::parse_feed_date(d, opts.zone))
            });
        e.author = item
            .child(RSS_NS, "author")
            .or_else(|| item.child(&[ns::DC], "creator"))
            .map(rss_text)
            .filter(|a| !a.is_empty())
            .or_else(|| feed_author.clone());
        e.text = if e.content.is_empty() { e.summary.clone() } else { e.content.clone() };
        feed.entries.push(e);
    }
}

/// An element's alternate link: a `<link href>` without `rel` or with `rel="alternate"`, one of
/// an HTML type first (Atom, or atom:link inside RSS).
fn alternate_link(e: &Element) -> Option<&Element> {
    let alternate = |l: &&Element| l.attr("rel").is_none_or(|r| r.eq_ignore_ascii_case("alternate"));
    let mut links = e.elements().filter(|l| l.name == "link" && l.attr("href").is_some()).filter(alternate);
    let first = links.next()?;
    if first.attr("type").is_none_or(|t| t.contains("html")) {
        return Some(first);
    }
    links.find(|l| l.attr("type").is_none_or(|t| t.contains("html"))).or(Some(first))
}

fn atom_feed(root: &Element, base: Option<&str>, opts: &FeedOptions, problems: &mut Vec<String>, feed: &mut Feed) {
    feed.title = root.child(ATOM_NS, "title").map(atom_text).unwrap_or_default();
    feed.link = link_resolved(root, base);
    let feed_author = author_of(root);
    for entry in root.elements().filter(|e| e.name == "entry") {
        let base = base_of(entry, base);
        let base = base.as_deref();
        let mut e = FeedEntry {
            title: entry.child(ATOM_NS, "title").map(atom_text).unwrap_or_default(),
            id: entry.child(ATOM_NS, "id").map(|i| i.text().trim().to_string()).filter(|i| !i.is_empty()),
            url: link_resolved(entry, base),
            summary: entry
                .child(ATOM_NS, "summary")
                .map(atom_text)
                .or_else(|| {
                    let group = entry.child(&[MEDIA], "group");
                    let d = entry.child(&[MEDIA], "description").or_else(|| group?.child(&[MEDIA], "description"))?;
                    Some(rss_text(d))
                })
                .unwrap_or_default(),
            content: entry.child(ATOM_NS, "content").map(atom_text).unwrap_or_default(),
            ..Default::default()
        };
        e.published_at = first_date(
            entry,
            &[(ATOM_NS, "published"), (ATOM_NS, "issued"), (ATOM_NS, "created"), (&[ns::DC], "date")],
            opts,
            problems,
        );
        e.updated_at = first_date(entry, &[(ATOM_NS, "updated"), (ATOM_NS, "modified")], opts, problems);
        e.author = author_of(entry).or_else(|| feed_author.clone());
        e.text = if e.content.is_empty() { e.summary.clone() } else { e.content.clone() };
        feed.entries.push(e);
    }
}

fn link_resolved(e: &Element, base: Option<&str>) -> Option<String> {
    let l = alternate_link(e)?;
    let lbase = base_of(l, base);
    Some(resolve(lbase.as_deref(), l.attr("href")?))
}

fn author_of(e: &Element) -> Option<String> {
    let a = e.child(ATOM_NS, "author").or_else(|| e.child(&[ns::DC], "creator"))?;
    let name = a.child(ATOM_NS, "name").map(|n| n.text()).unwrap_or_else(|| a.text());
    let name = html_to_text(&html_escape::encode_text(name.trim()));
    (!name.is_empty()).then_some(name)
}

fn parse_json_feed(text: &str, opts: &FeedOptions, problems: &mut Vec<String>) -> Feed {
    let v: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("invalid JSON at line {}, column {}: {e}", e.line(), e.column()));
            return empty_feed(FeedKind::Unknown);
        }
    };
    let mut feed = empty_feed(FeedKind::JsonFeed);
    if !v.get("version").and_then(|x| x.as_str()).is_some_and(|x| x.contains("jsonfeed.org")) {
        problems.push("no JSON Feed version".into());
    }
    let s = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
    let base = s(&v, "feed_url").or_else(|| opts.base_url.clone());
    feed.title = s(&v, "title").map(|t| html_to_text(&html_escape::encode_text(&t))).unwrap_or_default();
    feed.link = s(&v, "home_page_url");
    let author = |x: &serde_json::Value| {
        x.get("authors").and_then(|a| a.get(0)).or_else(|| x.get("author")).and_then(|a| s(a, "name"))
    };
    let feed_author = author(&v);
    let Some(items) = v.get("items").and_then(|i| i.as_array()) else {
        problems.push("no \"items\" array".into());
        return feed;
    };
    for (n, item) in items.iter().enumerate() {
        if !item.is_object() {
            problems.push(format!("item {n} is not an object"));
            continue;
        }
        let mut date = |k: &str| {
            let raw = s(item, k)?;
            let d = dates::parse_feed_date(&raw, opts.zone);
            if d.is_none() {
                problems.push(format!("item {n}: cannot read {k} {raw:?}"));
            }
            d
        };
        let mut e = FeedEntry {
            id: item.get("id").map(|i| match i {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            title: s(item, "title").map(|t| html_to_text(&html_escape::encode_text(&t))).unwrap_or_default(),
            url: s(item, "url").or_else(|| s(item, "external_url")).map(|u| resolve(base.as_deref(), &u)),
            summary: s(item, "summary").map(|t| html_to_text(&html_escape::encode_text(&t))).unwrap_or_default(),
            content: s(item, "content_html")
                .map(|h| html_to_text(&h))
                .or_else(|| s(item, "content_text").map(|t| html_to_text(&html_escape::encode_text(&t))))
                .unwrap_or_default(),
            published_at: date("date_published"),
            updated_at: date("date_modified"),
            author: author(item).or_else(|| feed_author.clone()),
            ..Default::default()
        };
        e.text = if e.content.is_empty() { e.summary.clone() } else { e.content.clone() };
        feed.entries.push(e);
    }
    feed
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_feed_of_200000_nested_elements_is_reported_not_a_stack_overflow() {
        // Regression: 1.4 MB of nested elements took 37 s of CPU and then overflowed the stack.
        let mut text = String::from("<rss><channel><item><title>t</title><description>");
        text.push_str(&"<a>".repeat(200_000));
        text.push_str("deep");
        text.push_str(&"</a>".repeat(200_000));
        text.push_str("</description></item></channel></rss>");
        let feed = parse_feed(text.as_bytes(), &FeedOptions::default());
        assert!(feed.problems.iter().any(|p| p.contains("nested deeper than 256")), "{:?}", feed.problems);
        assert!(feed.problems.len() <= xml::MAX_PROBLEMS + 1);
        assert_eq!(feed.entries.len(), 1, "the entry around it is still read");
    }

    use super::*;

    fn utc() -> FeedOptions {
        FeedOptions { zone: chrono_tz::UTC, ..Default::default() }
    }

    #[test]
    fn rss_atom_and_json_feed() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>Lanjiang &amp; news</title><link>http://news.example/</link>
<item><title>Canteen &lt;b&gt;closed&lt;/b&gt;</title><link>/a/1</link><description><![CDATA[<p>Students <b>ill</b></p><script>x()</script>]]></description>
<pubDate>Thu, 01 Jan 2004 19:48:21 GMT</pubDate><dc:creator>Reporter</dc:creator><guid>g1</guid></item>
</channel></rss>"#;
        let f = parse_feed(rss, &FeedOptions { base_url: Some("http://news.example/feed".into()), ..utc() });
        assert_eq!(f.kind, FeedKind::Rss);
        assert_eq!(f.title, "Lanjiang & news");
        let e = &f.entries[0];
        assert_eq!(e.title, "Canteen closed");
        assert_eq!(e.url.as_deref(), Some("http://news.example/a/1"));
        assert_eq!(e.text, "Students ill");
        assert_eq!(e.author.as_deref(), Some("Reporter"));
        assert_eq!(e.published_at.unwrap().to_rfc3339(), "2004-01-01T19:48:21+00:00");

        let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://example.org/blog/"><title type="html">A &lt;i&gt;blog&lt;/i&gt;</title>
<entry><title>One</title><link rel="alternate" href="posts/1"/><link rel="edit" href="/edit/1"/>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hello <b>world</b></p></div></content>
<updated>2003-12-13T18:30:02Z</updated><author><name>Ann</name></author></entry></feed>"#;
        let f = parse_feed(atom, &utc());
        assert_eq!((f.kind, f.title.as_str()), (FeedKind::Atom10, "A blog"));
        let e = &f.entries[0];
        assert_eq!(e.url.as_deref(), Some("http://example.org/blog/posts/1"));
        assert_eq!(e.text, "Hello world");
        assert_eq!(e.author.as_deref(), Some("Ann"));
        assert!(f.problems.is_empty(), "{:?}", f.problems);

        let json = br#"{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [{"id": 7, "url": "https://x.example/7", "content_html": "<p>hi</p>", "date_published": "2024-03-05T10:20:00+08:00"}, 5]}"#;
        let f = parse_feed(json, &utc());
        assert_eq!(f.kind, FeedKind::JsonFeed);
        assert_eq!(f.entries.len(), 1);
        assert_eq!(f.entries[0].id.as_deref(), Some("7"));
        assert_eq!(f.entries[0].text, "hi");
        assert!(f.problems.iter().any(|p| p.contains("item 1")));
    }

    #[test]
    fn broken_feeds_give_what_they_can() {
        let f = parse_feed(
            b"<rss><channel><item><title>One &nbsp; &bogus; two</title><link>http://a.example/1</item><item><title>Two",
            &utc(),
        );
        assert_eq!(f.entries.len(), 2, "{f:?}");
        assert_eq!(f.entries[0].url.as_deref(), Some("http://a.example/1"));
        assert!(f.entries[0].title.starts_with("One"));
        assert_eq!(f.entries[1].title, "Two");
        assert!(!f.problems.is_empty());
        let f = parse_feed(b"\xff\xfe\x00garbage", &utc());
        assert_eq!(f.kind, FeedKind::Unknown);
        let f = parse_feed(b"", &utc());
        assert!(f.entries.is_empty() && !f.problems.is_empty());
    }
}
