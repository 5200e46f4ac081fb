//! Who is asking: sessions (cookie + CSRF token), API tokens, the Host check, login throttling,
//! and the security headers every response carries.
//!
//! [`require`] runs in front of every route that needs an [`Action`] (the route table in
//! [`crate::routes`] puts it there): it finds the actor from the session cookie or the
//! `Authorization: Bearer` API token (401 when neither is live), refuses a cookie-authenticated
//! unsafe request without the session's CSRF token or from a foreign Origin (403), checks the
//! permission table (403), and hands the handler a [`Caller`]. A handler that takes a `Caller`
//! cannot run for nobody: the extractor answers 401 when the middleware did not put one there.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
use tidewatch_engine::accounts::{self, Actor, LoginError, LoginPolicy, Via};
use tidewatch_workflow::access::Action;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tw_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the server authenticates.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The names clients may use for this server in `Host` (`host` or `host:port`); requests
    /// naming another host are refused (DNS rebinding).
    pub hosts: Vec<String>,
    /// Mark the session cookie `Secure` (served over TLS, or behind a TLS proxy).
    pub secure_cookies: bool,
    /// Lockout and session length.
    pub policy: LoginPolicy,
    /// Failed logins from one address within [`AuthConfig::address_window`] before that
    /// address is refused for the rest of the window.
    pub address_failures: usize,
    /// The window of [`AuthConfig::address_failures`].
    pub address_window: chrono::Duration,
}

impl AuthConfig {
    /// Defaults for a server bound to `addr`: the bound address, `localhost` and `127.0.0.1`
    /// with its port are accepted names.
    pub fn for_addr(addr: SocketAddr) -> AuthConfig {
        AuthConfig {
            hosts: AuthConfig::names_of(addr),
            secure_cookies: false,
            policy: LoginPolicy::default(),
            address_failures: 20,
            address_window: chrono::Duration::minutes(15),
        }
    }

    /// The names a server bound to `addr` answers to (none for port 0: the port is not known yet).
    pub fn names_of(addr: SocketAddr) -> Vec<String> {
        let port = addr.port();
        if port == 0 {
            return Vec::new();
        }
        let mut hosts = vec![format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")];
        if !addr.ip().is_unspecified() && !hosts.contains(&addr.to_string()) {
            hosts.push(addr.to_string());
        }
        hosts
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.hosts.iter().any(|h| {
            let h = h.to_ascii_lowercase();
            h == host || (!h.contains(':') && host.split(':').next() == Some(h.as_str()))
        })
    }
}

/// Failed logins per address (kept in memory: a restart forgets them; the per-account lockout
/// is in the store).
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, Vec<DateTime<Utc>>>>,
}

impl Throttle {
    fn blocked(&self, address: &str, config: &AuthConfig, now: DateTime<Utc>) -> bool {
        let Ok(mut m) = self.failures.lock() else { return true };
        let list = m.entry(address.to_string()).or_default();
        list.retain(|t| *t > now - config.address_window);
        list.len() >= config.address_failures
    }

    fn failed(&self, address: &str, now: DateTime<Utc>) {
        if let Ok(mut m) = self.failures.lock() {
            if m.len() > 100_000 {
                m.clear();
            }
            m.entry(address.to_string()).or_default().push(now);
        }
    }
}

/// The actor of a request and where it came from.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub actor: Actor,
    /// The client's address.
    pub address: Option<String>,
}

impl Caller {
    /// The address as the audit log takes it.
    pub fn addr(&self) -> Option<&str> {
        self.address.as_deref()
    }

    /// 403 unless the caller may do `action` on something of `unit`.
    pub fn require(&self, state: &AppState, action: Action, unit: Option<&str>) -> Result<(), ApiError> {
        if self.actor.grants.allows_everywhere(action) {
            return Ok(());
        }
        let tree = {
            let db = state.auth.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
            accounts::unit_tree(&db).map_err(|e| ApiError::new("internal", e.to_string()))?
        };
        if self.actor.grants.allows(action, unit, &tree) {
            Ok(())
        } else {
            Err(ApiError::new(
                "forbidden",
                format!("{} needs {} for unit {}", self.actor.username, action.as_str(), unit.unwrap_or("(none)")),
            ))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| ApiError::new("unauthorized", "sign in first"))
    }
}

/// The client's address, when the server knows it (an extractor that never fails).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())))
    }
}

/// The client's address: the connection's, or with a trusted proxy the first `X-Forwarded-For`.
pub(crate) fn client_address(req: &Request) -> Option<String> {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Finds the actor of a request, if any credential is live.
pub(crate) fn actor_of(state: &AppState, headers: &HeaderMap) -> Result<Option<Actor>, ApiError> {
    let now = Utc::now();
    let db = state.auth.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
    let found = if let Some(t) = bearer(headers).filter(|t| t.starts_with("twt_")) {
        accounts::token_actor(&db, t, now)
    } else if let Some(c) = cookie(headers, SESSION_COOKIE) {
        accounts::session_actor(&db, c, now)
    } else {
        Ok(None)
    };
    found.map_err(|e| ApiError::new("internal", e.to_string()))
}

fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether an `Origin` header names this server.
fn origin_allowed(state: &AppState, origin: &str) -> bool {
    let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    rest.is_some_and(|host| state.host_allowed(host))
}

impl AppState {
    /// Whether `host` (a Host header, or an Origin's host) names this server: a configured name
    /// or one of the bound address's.
    pub fn host_allowed(&self, host: &str) -> bool {
        if self.auth_config.host_allowed(host) {
            return true;
        }
        let bound = self.bound_names.read().map(|n| n.clone()).unwrap_or_default();
        AuthConfig { hosts: bound, ..self.auth_config.clone() }.host_allowed(host)
    }
}

/// Whether a request is for a page (a GET outside `/api/`): it is answered in HTML.
fn is_page(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == Method::GET && !path.starts_with("/api/") && path != "/metrics"
}

/// The middleware in front of a route that needs `action`.
pub(crate) async fn require(
    State((state, action)): State<(Arc<AppState>, Action)>,
    mut req: Request,
    next: Next,
) -> Response {
    // The lookup is SQLite behind a mutex (which a login's password hashing may hold): off the
    // async threads, so that it never stalls other requests.
    let (st, headers) = (state.clone(), req.headers().clone());
    let found = tokio::task::spawn_blocking(move || actor_of(&st, &headers))
        .await
        .unwrap_or_else(|e| Err(ApiError::new("internal", e.to_string())));
    let actor = match found {
        Ok(Some(a)) => a,
        Ok(None) if is_page(&req) => {
            // A page asked for without a session: the sign-in page, which comes back here.
            let next: String = url::form_urlencoded::byte_serialize(req.uri().path().as_bytes()).collect();
            return axum::response::Redirect::to(&format!("/login?next={next}")).into_response();
        }
        Ok(None) => return ApiError::new("unauthorized", "sign in first, or present an API token").into_response(),
        Err(e) => return e.into_response(),
    };
    if let Via::Session { csrf, .. } = &actor.via {
        if is_unsafe(req.method()) {
            if let Some(origin) = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
                if !origin_allowed(&state, origin) {
                    return ApiError::new("csrf", format!("the Origin {origin} is not this server")).into_response();
                }
            }
            let presented = req.headers().get(CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
            if presented.is_empty() || !bool::from(presented.ct_eq(csrf.as_bytes())) {
                return ApiError::new("csrf", format!("missing or wrong {CSRF_HEADER} header")).into_response();
            }
        }
    }
    if !actor.grants.allows_somewhere(action) {
        if is_page(&req) {
            return crate::workspace::forbidden_page();
        }
        return ApiError::new("forbidden", format!("{} may not {}", actor.username, action.as_str())).into_response();
    }
    let address = client_address(&req);
    req.extensions_mut().insert(Caller { actor, address });
    next.run(req).await
}

/// Refuses requests whose `Host` is not one of the server's names, on every route.
pub(crate) async fn check_host(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    match host {
        Some(h) if state.host_allowed(h) => next.run(req).await,
        Some(h) => {
            ApiError::new("bad_host", format!("{h:?} is not a name of this server (see --host-name)")).into_response()
        }
        None => ApiError::new("bad_host", "the request has no Host header").into_response(),
    }
}

/// The page's Content-Security-Policy: scripts and styles only from the server itself.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Adds the security headers to every response.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    res
}

/// Body of `POST /api/v1/login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
}

fn session_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.auth_config.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `POST /api/v1/login`: starts a session (cookie) and answers the CSRF token.
pub async fn login(
    State(state): State<Arc<AppState>>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    body: Result<Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(|e| ApiError::new("bad_body", e.body_text()))?;
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if !origin_allowed(&state, origin) {
            return Err(ApiError::new("csrf", format!("the Origin {origin} is not this server")));
        }
    }
    if b.username.len() > 200 || b.password.len() > 1024 {
        return Err(ApiError::new("bad_body", "login name or password too long"));
    }
    let addr_key = address.clone().unwrap_or_else(|| "unknown".into());
    let now = Utc::now();
    if state.throttle.blocked(&addr_key, &state.auth_config, now) {
        return Err(ApiError::new("too_many_requests", "too many failed logins from this address; try again later"));
    }
    let st = state.clone();
    let result = crate::common::blocking(move || {
        let mut db = st.auth.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
        accounts::login(&mut db, &b.username, &b.password, address.as_deref(), st.auth_config.policy, now)
            .map_err(|e| ApiError::new("internal", e.to_string()))
    })
    .await?;
    match result {
        Ok(s) => {
            let max_age = (s.expires_at - now).num_seconds();
            let body = crate::views::LoginView {
                username: s.actor.username.clone(),
                person: s.actor.person.clone(),
                grants: s.actor.grants.clone(),
                csrf_token: s.csrf.clone(),
                expires_at: s.expires_at,
            };
            let mut res = Json(body).into_response();
            res.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, &s.token, max_age));
            Ok(res)
        }
        Err(e) => {
            state.throttle.failed(&addr_key, now);
            Err(match e {
                LoginError::Locked(_) => ApiError::new("locked", e.to_string()),
                LoginError::Wrong | LoginError::Disabled => {
                    ApiError::new("unauthorized", LoginError::Wrong.to_string())
                }
            })
        }
    }
}

/// Body of `POST /api/v1/logout`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutBody {
    /// End every session of the account ("log out everywhere").
    #[serde(default)]
    everywhere: bool,
}

/// `POST /api/v1/logout`: ends this session (or all of the account's) and clears the cookie.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: Option<Json<LogoutBody>>,
) -> Result<Response, ApiError> {
    let everywhere = body.map(|Json(b)| b.everywhere).unwrap_or(false);
    let st = state.clone();
    let n = crate::common::blocking(move || {
        let mut db = st.auth.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
        accounts::logout(&mut db, &caller.actor, everywhere, caller.addr(), Utc::now())
            .map_err(|e| ApiError::new("internal", e.to_string()))
    })
    .await?;
    let mut res = Json(crate::views::LogoutView { sessions_ended: n as usize }).into_response();
    res.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, "", 0));
    Ok(res)
}

/// `GET /api/v1/me`: who is signed in, with what roles; the CSRF token again (for a reloaded page).
pub async fn me(caller: Caller) -> Json<crate::views::MeView> {
    let csrf = match &caller.actor.via {
        Via::Session { csrf, .. } => Some(csrf.clone()),
        _ => None,
    };
    let actions = tidewatch_workflow::access::PERMISSIONS
        .iter()
        .filter(|(a, _)| caller.actor.grants.allows_somewhere(*a))
        .map(|(a, _)| a.as_str().to_string())
        .collect();
    Json(crate::views::MeView {
        username: caller.actor.username.clone(),
        person: caller.actor.person.clone(),
        grants: caller.actor.grants.clone(),
        actions,
        csrf_token: csrf,
    })
}
