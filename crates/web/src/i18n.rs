//! The workspace's strings: one catalogue (`assets/i18n.toml`) with every key in Chinese and
//! English, and the organization's time zone for every time a person reads.
//!
//! A key the catalogue lacks comes out as the key itself, which the catalogue test (every key the
//! code names is in both languages) and the browser test (no page shows a raw key) catch.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::OnceLock;

static SOURCE: &str = include_str!("../assets/i18n.toml");

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 简体中文 (the default).
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en` (what the account's preference stores).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The page's `lang` attribute.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// `zh` or `en`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language (the switch offers it).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The language's own name.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::Zh => "中文",
            Lang::En => "English",
        }
    }
}

/// The parsed catalogue: key → (Chinese, English).
#[derive(Debug, Default)]
pub struct Catalogue {
    /// Chinese strings by key.
    pub zh: BTreeMap<String, String>,
    /// English strings by key.
    pub en: BTreeMap<String, String>,
}

/// Reads the catalogue's TOML: `[section] key = { zh = "…", en = "…" }` gives `section.key`.
/// A table with other fields, or a string where a table should be, is an error naming the key.
pub fn parse(text: &str) -> Result<Catalogue, String> {
    let value: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut out = Catalogue::default();
    for (section, table) in &value {
        let table = table.as_table().ok_or_else(|| format!("{section}: not a section"))?;
        for (key, entry) in table {
            let full = format!("{section}.{key}");
            let entry = entry.as_table().ok_or_else(|| format!("{full}: expected {{ zh = …, en = … }}"))?;
            for (lang, text) in entry {
                let text = text.as_str().ok_or_else(|| format!("{full}.{lang}: not a string"))?;
                match lang.as_str() {
                    "zh" => out.zh.insert(full.clone(), text.to_string()),
                    "en" => out.en.insert(full.clone(), text.to_string()),
                    other => return Err(format!("{full}: unknown language {other}")),
                };
            }
        }
    }
    Ok(out)
}

/// The catalogue shipped in the binary.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| parse(SOURCE).expect("assets/i18n.toml is valid (the catalogue test checks it)"))
}

/// The string for `key` in `lang`.
pub fn t(lang: Lang, key: &'static str) -> &'static str {
    let c = catalogue();
    let map = match lang {
        Lang::Zh => &c.zh,
        Lang::En => &c.en,
    };
    map.get(key).map(String::as_str).unwrap_or(key)
}

/// The string for a key built at run time (`timeline.{kind}`), if the catalogue has it.
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    let c = catalogue();
    let map = match lang {
        Lang::Zh => &c.zh,
        Lang::En => &c.en,
    };
    map.get(key).map(String::as_str)
}

/// The string for `key` with its `{name}` placeholders filled.
pub fn tf(lang: Lang, key: &'static str, args: &[(&str, &str)]) -> String {
    let mut s = t(lang, key).to_string();
    for (name, value) in args {
        s = s.replace(&format!("{{{name}}}"), value);
    }
    s
}

/// The organization's zone (Asia/Shanghai unless `TIDEWATCH_ZONE` names another IANA zone).
pub fn zone() -> chrono_tz::Tz {
    static ZONE: OnceLock<chrono_tz::Tz> = OnceLock::new();
    *ZONE.get_or_init(|| {
        std::env::var("TIDEWATCH_ZONE").ok().and_then(|z| z.parse().ok()).unwrap_or(chrono_tz::Asia::Shanghai)
    })
}

/// A time as a person reads it: in the organization's zone, marked with the zone's abbreviation
/// (`2026-10-05 07:12 CST`).
pub fn time(t: DateTime<Utc>) -> String {
    t.with_timezone(&zone()).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// A short time (`10-05 07:12`) for lists, where the page says the zone once.
pub fn short_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&zone()).format("%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_catalogue_is_refused_with_the_key() {
        assert!(parse("[a]\nb = \"x\"").unwrap_err().contains("a.b"));
        assert!(parse("[a]\nb = { zh = \"x\", fr = \"y\" }").unwrap_err().contains("fr"));
        let c = parse("[a]\nb = { zh = \"甲\", en = \"A\" }").unwrap();
        assert_eq!(c.zh["a.b"], "甲");
        assert_eq!(c.en["a.b"], "A");
    }

    /// The placeholders (`{name}`) of a string, sorted.
    fn placeholders(s: &str) -> Vec<String> {
        let mut out: Vec<String> =
            s.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(n, _)| n.to_string()).collect();
        out.sort();
        out
    }

    #[test]
    fn the_catalogue_has_every_key_in_both_languages_and_every_key_the_pages_use() {
        let c = catalogue();
        let zh: Vec<&String> = c.zh.keys().collect();
        let en: Vec<&String> = c.en.keys().collect();
        let only_zh: Vec<_> = zh.iter().filter(|k| !c.en.contains_key(k.as_str())).collect();
        let only_en: Vec<_> = en.iter().filter(|k| !c.zh.contains_key(k.as_str())).collect();
        assert!(only_zh.is_empty() && only_en.is_empty(), "only in zh: {only_zh:?}; only in en: {only_en:?}");
        assert!(zh.len() > 150, "{} keys", zh.len());
        for (k, z) in &c.zh {
            assert!(!z.trim().is_empty() && !c.en[k].trim().is_empty(), "{k} is empty in one language");
            assert_eq!(placeholders(z), placeholders(&c.en[k]), "{k}: the languages use different placeholders");
        }
        // Every string literal of the pages that looks like a key of a catalogue section
        // (`section.name`) is one (an audit action such as `account.lang` is not).
        let sections: std::collections::BTreeSet<&str> =
            c.zh.keys().filter_map(|k| k.split_once('.')).map(|(a, _)| a).collect();
        let source = [
            include_str!("workspace/mod.rs"),
            include_str!("workspace/search.rs"),
            include_str!("workspace/admin.rs"),
            include_str!("workspace/directory.rs"),
        ]
        .concat();
        let mut used = 0;
        for lit in source.split('"').skip(1).step_by(2) {
            let looks_like_key = lit.split_once('.').is_some_and(|(a, b)| {
                sections.contains(a)
                    && !b.is_empty()
                    && a.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')
                    && b.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            });
            if looks_like_key {
                used += 1;
                assert!(c.zh.contains_key(lit), "the pages use {lit:?}, which the catalogue lacks");
            }
        }
        assert!(used > 100, "{used} keys found in the pages' source");
    }

    #[test]
    fn times_are_in_the_zone_and_marked() {
        let at = DateTime::parse_from_rfc3339("2026-10-04T23:12:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(time(at), "2026-10-05 07:12 CST");
        assert_eq!(tf(Lang::En, "dash.items_in_story", &[("n", "3")]), "3 items");
        assert_eq!(tf(Lang::Zh, "dash.items_in_story", &[("n", "3")]), "3 条");
        assert_eq!(t(Lang::En, "no.such_key"), "no.such_key");
    }
}
