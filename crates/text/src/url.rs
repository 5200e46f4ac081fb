//! URL canonicalization: the same article reached through different links gets one key.

/// Query parameters that only track how a link was shared, never what it points to.
const TRACKING_PARAMS: &[&str] = &[
    "spm",
    "scm",
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "ref_src",
    "ref_url",
    "share_token",
    "share_source",
    "share_medium",
    "share_from",
    "share_app_id",
    "sharer_sharetime",
    "sharer_shareid",
    "isappinstalled",
    "vd_source",
    "wfr",
    "from_source",
    "timestamp",
    "_openstat",
    "wt.mc_id",
    "cmpid",
];

fn is_tracking(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || lower.starts_with("pk_") || TRACKING_PARAMS.contains(&lower.as_str())
}

/// Canonicalizes an http(s) URL: scheme and host lower-cased, default port and fragment dropped,
/// tracking parameters (`utm_*`, `spm`, …) removed, remaining parameters sorted.
/// Returns `None` for anything that is not an absolute http(s) URL.
pub fn canonicalize_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 8192 {
        return None;
    }
    let mut url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    url.set_fragment(None);
    let mut params: Vec<(String, String)> =
        url.query_pairs().filter(|(k, _)| !is_tracking(k)).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if params.is_empty() {
        url.set_query(None);
    } else {
        params.sort();
        url.query_pairs_mut().clear().extend_pairs(params);
    }
    if let Some(host) = url.host_str() {
        let trimmed = host.trim_end_matches('.').to_string();
        if trimmed != host {
            let _ = url.set_host(Some(&trimmed));
        }
    }
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::canonicalize_url;

    #[test]
    fn tracking_parameters_and_fragments_go() {
        assert_eq!(
            canonicalize_url("HTTPS://News.Example.COM:443/a/B.html?utm_source=x&id=3&spm=a.b#top").as_deref(),
            Some("https://news.example.com/a/B.html?id=3")
        );
        assert_eq!(
            canonicalize_url("http://example.com/p?b=2&a=1&utm_medium=m").as_deref(),
            Some("http://example.com/p?a=1&b=2")
        );
    }

    #[test]
    fn non_http_and_garbage_are_refused() {
        assert_eq!(canonicalize_url("javascript:alert(1)"), None);
        assert_eq!(canonicalize_url("not a url"), None);
        assert_eq!(canonicalize_url(""), None);
        assert_eq!(canonicalize_url("file:///etc/passwd"), None);
    }
}
