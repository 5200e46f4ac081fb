//! robots.txt: the group for our user agent (or `*`), `Allow`/`Disallow` with `*` and `$`
//! patterns, the longest matching rule winning (RFC 9309). Results are cached per origin for an
//! hour.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The rules that apply to us on one origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// (allow, pattern)
    rules: Vec<(bool, String)>,
}

fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut at = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !path.starts_with(part) {
                return false;
            }
            at = part.len();
        } else {
            match path[at..].find(part) {
                Some(p) => at += p + part.len(),
                None => return false,
            }
        }
    }
    if anchored {
        let last = parts.last().copied().unwrap_or("");
        return path.ends_with(last) && (parts.len() > 1 || at == path.len());
    }
    true
}

impl Rules {
    /// The rules of `text` for `agent` (a product token, lower case).
    pub fn parse(text: &str, agent: &str) -> Rules {
        // (user agents, rules) per group.
        type Group = (Vec<String>, Vec<(bool, String)>);
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((k, v)) = line.split_once(':') else { continue };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            match k.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push((Vec::new(), Vec::new()));
                    }
                    in_agents = true;
                    if let Some(g) = groups.last_mut() {
                        g.0.push(v.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        if !v.is_empty() {
                            g.1.push((k == "allow", v));
                        }
                    }
                }
                _ => {}
            }
        }
        let mine: Vec<(bool, String)> = groups
            .iter()
            .filter(|g| g.0.iter().any(|a| agent.contains(a.as_str()) && a != "*"))
            .flat_map(|g| g.1.clone())
            .collect();
        let rules = if mine.is_empty() {
            groups.iter().filter(|g| g.0.iter().any(|a| a == "*")).flat_map(|g| g.1.clone()).collect()
        } else {
            mine
        };
        Rules { rules }
    }

    /// Whether `path` may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, path) {
                let len = pattern.len();
                if best.is_none_or(|(l, a)| len > l || (len == l && *allow && !a)) {
                    best = Some((len, *allow));
                }
            }
        }
        best.is_none_or(|(_, a)| a)
    }
}

/// robots.txt rules per origin, kept for an hour.
#[derive(Debug, Default)]
pub struct Cache {
    map: Mutex<HashMap<String, (Instant, Rules)>>,
}

impl Cache {
    const TTL: Duration = Duration::from_secs(3600);

    /// The cached rules of `origin`, if fresh.
    pub fn get(&self, origin: &str) -> Option<Rules> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(origin).filter(|(t, _)| t.elapsed() < Self::TTL).map(|(_, r)| r.clone())
    }

    /// Caches the rules of `origin`.
    pub fn put(&self, origin: &str, rules: Rules) {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).insert(origin.to_string(), (Instant::now(), rules));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robots_rules() {
        let text = "User-agent: *\nDisallow: /private/\nAllow: /private/ok\n\nUser-agent: OtherBot\nDisallow: /\n";
        let r = Rules::parse(text, "tidewatch");
        assert!(r.allows("/news/1"));
        assert!(!r.allows("/private/x"));
        assert!(r.allows("/private/ok/1"));
        let mine =
            Rules::parse("User-agent: Tidewatch\nDisallow: /feeds/*.xml$\n\nUser-agent: *\nDisallow: /\n", "tidewatch");
        assert!(!mine.allows("/feeds/a.xml"));
        assert!(mine.allows("/feeds/a.xml?x=1"));
        assert!(mine.allows("/other"));
        assert!(Rules::parse("", "tidewatch").allows("/anything"));
    }
}
