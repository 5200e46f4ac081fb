//! Fetching sources over HTTP, politely and safely.
//!
//! - **SSRF guard.** Loopback, private, link-local, shared (CGNAT), multicast, broadcast,
//!   unspecified and reserved addresses are refused, checked after name resolution (by the
//!   client's resolver, so every connection is checked, redirects included) and for addresses
//!   written literally in URLs, unless the source's policy allows a range.
//! - **Bounded.** Redirects are followed by hand (each hop checked), at most `max_redirects`; the
//!   body is read in chunks and cut off at `max_bytes` with a clear error; connect and total
//!   timeouts; gzip, deflate and brotli.
//! - **Polite.** A clear User-Agent, conditional GET (`If-None-Match`, `If-Modified-Since`), at
//!   most `per_host` requests at a time to one host, and robots.txt honoured ([`robots`]).

pub mod robots;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The User-Agent Tidewatch sends.
pub const USER_AGENT: &str = concat!(
    "Tidewatch/",
    env!("CARGO_PKG_VERSION"),
    " (public-opinion monitoring; respects robots.txt; +https://tidewatch.example/bot)"
);

/// A range of addresses written as `a.b.c.d/n`, `x::y/n` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    net: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for AddrRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = s.split_once('/').map(|(a, p)| (a, Some(p))).unwrap_or((s, None));
        let net: IpAddr = a.trim().parse().map_err(|_| format!("{s:?} is not an address or address range"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => {
                p.trim().parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(|| format!("{s:?}: bad prefix length"))?
            }
            None => max,
        };
        Ok(AddrRange { net, prefix })
    }
}

impl AddrRange {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix as u32) };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - self.prefix as u32) };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Why an address may not be fetched from by default, or `None` when it may.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_multicast() {
                Some("multicast")
            } else if v4.is_broadcast() {
                Some("broadcast")
            } else if v4.is_unspecified() || o[0] == 0 {
                Some("unspecified")
            } else if o[0] == 100 && (64..128).contains(&o[1]) {
                Some("shared (carrier-grade NAT)")
            } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
                Some("IETF protocol assignment")
            } else if o[0] == 198 && (o[1] == 18 || o[1] == 19) {
                Some("benchmarking")
            } else if o[0] >= 240 {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_reason(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
                // NAT64 (64:ff9b::/96) reaches any IPv4 address, internal ones too.
                return Some("NAT64");
            }
            if seg[0] == 0x2002 {
                // 6to4 (2002::/16) embeds an IPv4 address and is deprecated: refused.
                return Some("6to4");
            }
            if seg[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
                // IPv4-compatible (::/96, deprecated).
                return Some("IPv4-compatible");
            }
            if seg[0] & 0xffc0 == 0xfec0 {
                return Some("site-local");
            }
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if seg[0] & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if seg[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else {
                None
            }
        }
    }
}

/// Which addresses a source may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Ranges allowed even though they are loopback, private, and so on (set by an admin).
    pub allow: Vec<AddrRange>,
}

impl AddressPolicy {
    /// `Err(reason)` when `ip` may not be reached.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        match forbidden_reason(ip) {
            Some(why) if !self.allow.iter().any(|r| r.contains(ip)) => Err(format!("{ip} is a {why} address")),
            _ => Ok(()),
        }
    }
}

/// Resolves names and drops the addresses the policy refuses (every connection goes through it).
struct GuardedResolver {
    policy: AddressPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = Vec::new();
            let ok: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refused.push(e);
                        false
                    }
                })
                .collect();
            if ok.is_empty() {
                let why = if refused.is_empty() { "no address".to_string() } else { refused.join("; ") };
                return Err(Box::new(Refused(format!("{host} resolves to no allowed address ({why})"))) as _);
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Limits of one fetch.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Time to connect.
    pub connect_timeout: Duration,
    /// Time for the whole request, body included.
    pub timeout: Duration,
    /// Largest body accepted (bytes, after decompression).
    pub max_bytes: usize,
    /// Redirects followed at most.
    pub max_redirects: usize,
    /// Requests at a time to one host.
    pub per_host: usize,
    /// Addresses reachable.
    pub addresses: AddressPolicy,
    /// Whether robots.txt is honoured (always, except in tests of the fetcher itself).
    pub robots: bool,
    /// An HTTP proxy for every request (`http://proxy.example:3128`). Proxy environment
    /// variables (`HTTP_PROXY`, `ALL_PROXY`, …) are ignored: only this is used. With a proxy, the
    /// address guard sees only the proxy's address, so the proxy must refuse internal targets.
    pub proxy: Option<String>,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_bytes: 10 << 20,
            max_redirects: 5,
            per_host: 2,
            addresses: AddressPolicy::default(),
            robots: true,
            proxy: None,
        }
    }
}

/// Validators from an earlier response, for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
}

/// A fetched body.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL after redirects.
    pub url: String,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Validators for the next request.
    pub validators: Validators,
    /// The body (decompressed).
    pub body: Vec<u8>,
}

/// What a fetch gave.
#[derive(Debug, Clone)]
pub enum FetchOutcome {
    /// 304: unchanged since the validators were given.
    NotModified,
    /// A new body.
    Fetched(Fetched),
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL is not an http(s) URL.
    #[error("bad URL {0}")]
    BadUrl(String),
    /// The address is refused by the SSRF guard.
    #[error("refused: {0}")]
    Refused(String),
    /// robots.txt disallows the URL.
    #[error("robots.txt of {0} disallows this URL")]
    Robots(String),
    /// Too many redirects.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// The body is larger than allowed.
    #[error("the response is larger than {limit} bytes; cut off")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// No answer in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// An HTTP error status.
    #[error("HTTP {0}")]
    Status(u16),
    /// Anything else on the network.
    #[error("{0}")]
    Network(String),
}

/// The HTTP client of sources.
pub struct Fetcher {
    client: reqwest::Client,
    policy: FetchPolicy,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    robots: robots::Cache,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher").field("policy", &self.policy).finish()
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

impl Fetcher {
    /// A fetcher with this policy.
    pub fn new(policy: FetchPolicy) -> Result<Fetcher, FetchError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.timeout)
            .dns_resolver(Arc::new(GuardedResolver { policy: policy.addresses.clone() }))
            // Never from the environment: a proxy would fetch past the address guard.
            .no_proxy();
        if let Some(p) = &policy.proxy {
            let proxy =
                reqwest::Proxy::all(p).map_err(|e| FetchError::Network(format!("proxy {p}: {}", describe(&e))))?;
            builder = builder.proxy(proxy);
        }
        let client = builder.build().map_err(|e| FetchError::Network(describe(&e)))?;
        Ok(Fetcher { client, policy, hosts: Mutex::new(HashMap::new()), robots: robots::Cache::default() })
    }

    /// The policy.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    fn host_slot(&self, host: &str) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts.entry(host.to_string()).or_insert_with(|| Arc::new(Semaphore::new(self.policy.per_host.max(1)))).clone()
    }

    fn check_url(&self, url: &str) -> Result<url::Url, FetchError> {
        let u = url::Url::parse(url).map_err(|e| FetchError::BadUrl(format!("{url}: {e}")))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(FetchError::BadUrl(format!("{url}: only http and https are fetched")));
        }
        match u.host() {
            Some(url::Host::Ipv4(ip)) => self.policy.addresses.check(IpAddr::V4(ip)).map_err(FetchError::Refused)?,
            Some(url::Host::Ipv6(ip)) => self.policy.addresses.check(IpAddr::V6(ip)).map_err(FetchError::Refused)?,
            Some(url::Host::Domain(_)) => {}
            None => return Err(FetchError::BadUrl(format!("{url}: no host"))),
        }
        Ok(u)
    }

    fn map_err(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            return FetchError::Timeout(self.policy.timeout);
        }
        // The guarded resolver's refusal, wherever the client wrapped it.
        let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
        while let Some(inner) = src {
            if let Some(r) = inner.downcast_ref::<Refused>() {
                return FetchError::Refused(r.0.clone());
            }
            src = inner.source();
        }
        FetchError::Network(describe(&e))
    }

    /// GETs `url`, conditionally when validators are given.
    pub async fn get(&self, url: &str, validators: &Validators) -> Result<FetchOutcome, FetchError> {
        let mut current = self.check_url(url)?;
        for _ in 0..=self.policy.max_redirects {
            let host = current.host_str().unwrap_or_default().to_string();
            if self.policy.robots && current.path() != "/robots.txt" && !self.robots_allow(&current).await {
                return Err(FetchError::Robots(host));
            }
            let slot = self.host_slot(&host);
            let _permit = slot.acquire().await.map_err(|e| FetchError::Network(e.to_string()))?;
            let mut req = self.client.get(current.clone());
            if let Some(e) = &validators.etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, e);
            }
            if let Some(m) = &validators.last_modified {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, m);
            }
            let resp = req.send().await.map_err(|e| self.map_err(e))?;
            let status = resp.status();
            if status.is_redirection() && status != reqwest::StatusCode::NOT_MODIFIED {
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| FetchError::Network(format!("HTTP {} without Location", status.as_u16())))?;
                let next = current.join(location).map_err(|e| FetchError::BadUrl(format!("{location}: {e}")))?;
                current = self.check_url(next.as_str())?;
                continue;
            }
            if status == reqwest::StatusCode::NOT_MODIFIED {
                return Ok(FetchOutcome::NotModified);
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            let header =
                |h: reqwest::header::HeaderName| resp.headers().get(h).and_then(|v| v.to_str().ok()).map(String::from);
            let content_type = header(reqwest::header::CONTENT_TYPE);
            let validators = Validators {
                etag: header(reqwest::header::ETAG),
                last_modified: header(reqwest::header::LAST_MODIFIED),
            };
            if resp.content_length().is_some_and(|n| n as usize > self.policy.max_bytes) {
                return Err(FetchError::TooLarge { limit: self.policy.max_bytes });
            }
            let final_url = resp.url().to_string();
            let mut resp = resp;
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| self.map_err(e))? {
                if body.len() + chunk.len() > self.policy.max_bytes {
                    return Err(FetchError::TooLarge { limit: self.policy.max_bytes });
                }
                body.extend_from_slice(&chunk);
            }
            return Ok(FetchOutcome::Fetched(Fetched { url: final_url, content_type, validators, body }));
        }
        Err(FetchError::TooManyRedirects(self.policy.max_redirects))
    }

    async fn robots_allow(&self, url: &url::Url) -> bool {
        let origin = url.origin().ascii_serialization();
        if let Some(rules) = self.robots.get(&origin) {
            return rules.allows(url.path());
        }
        let robots_url = format!("{origin}/robots.txt");
        let rules = match Box::pin(self.get(&robots_url, &Validators::default())).await {
            Ok(FetchOutcome::Fetched(f)) => robots::Rules::parse(&String::from_utf8_lossy(&f.body), "tidewatch"),
            // No robots.txt (404 and the like) or unreachable: everything is allowed.
            _ => robots::Rules::default(),
        };
        let allowed = rules.allows(url.path());
        self.robots.put(&origin, rules);
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_rules() {
        let p = AddressPolicy::default();
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "224.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "255.255.255.255",
        ] {
            assert!(p.check(bad.parse().unwrap()).is_err(), "{bad}");
        }
        for good in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "172.32.0.1"] {
            assert!(p.check(good.parse().unwrap()).is_ok(), "{good}");
        }
        let allow = AddressPolicy { allow: vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()] };
        assert!(allow.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(allow.check("10.9.9.9".parse().unwrap()).is_ok());
        assert!(allow.check("127.0.0.2".parse().unwrap()).is_err());
        assert!("10.0.0.0/33".parse::<AddrRange>().is_err());
    }

    #[test]
    fn translation_deprecated_and_special_ranges_are_refused() {
        // Regression (issue 12): these reach internal hosts or are not public unicast.
        let p = AddressPolicy::default();
        for bad in [
            "64:ff9b::7f00:1",    // NAT64 of 127.0.0.1
            "64:ff9b::a00:1",     // NAT64 of 10.0.0.1
            "64:ff9b::5db8:d822", // NAT64 of a public address: still refused (/96)
            "::7f00:1",           // IPv4-compatible 127.0.0.1
            "::a00:1",
            "2002:7f00:1::1", // 6to4 of 127.0.0.1
            "2002:5db8:d822::1",
            "fec0::1",    // site-local
            "192.0.0.8",  // IETF protocol assignments
            "198.18.0.1", // benchmarking
            "198.19.255.1",
        ] {
            assert!(p.check(bad.parse().unwrap()).is_err(), "{bad}");
        }
        for good in ["198.20.0.1", "192.0.1.1", "2001:db9::1"] {
            assert!(p.check(good.parse().unwrap()).is_ok(), "{good}");
        }
    }

    #[test]
    fn proxy_environment_variables_are_ignored() {
        // Regression (issue 12): a proxy from the environment would fetch past the guard. The
        // fetcher builds with no proxy; a loopback URL is still refused by the resolver even
        // with HTTP_PROXY pointing somewhere.
        std::env::set_var("HTTP_PROXY", "http://127.0.0.1:9");
        std::env::set_var("ALL_PROXY", "http://127.0.0.1:9");
        let f = Fetcher::new(FetchPolicy::default()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let err = rt.block_on(f.get("http://localhost:1/feed", &Validators::default())).unwrap_err();
        std::env::remove_var("HTTP_PROXY");
        std::env::remove_var("ALL_PROXY");
        assert!(err.to_string().contains("loopback"), "refused by the guard, not sent to a proxy: {err}");
    }
}
