//! `POST /api/v1/ingest`: sources that push items to us (webhooks).
//!
//! The sender presents its source's token (`Authorization: Bearer …`) and, when the source has a
//! secret, signs the body (`X-Tidewatch-Signature: sha256=<hex HMAC-SHA256 of the body>`). The body
//! is one JSON item, an array of items, or JSON Lines, at most the source's `max_bytes`. Items
//! are stored idempotently on their id; the answer gives every item's outcome by position, and
//! bad items never stop good ones.

use crate::common::blocking;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::sync::Arc;
use tidewatch_engine::pipeline::Outcome;
use tidewatch_engine::sources::Source;
use tidewatch_model::ItemInput;

/// Default largest body of a webhook.
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;
/// Largest body read at all, whatever a source allows (the source's own limit is checked first
/// and answered with a clear 413).
pub const HARD_MAX_BYTES: usize = 64 << 20;
/// Most items in one body.
pub const MAX_ITEMS: usize = 10_000;

/// One item's outcome.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ItemOutcome {
    /// Position in the body: array index, or line number for JSON Lines (1-based).
    pub position: usize,
    /// `stored`, `already_stored` or `rejected`.
    pub status: &'static str,
    /// Store id, when stored or already stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<i64>,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was odd about it (it was still stored), e.g. an unreadable date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct IngestView {
    source: String,
    stored: usize,
    already_stored: usize,
    rejected: usize,
    /// `index` (array positions, from 0) or `line` (JSON Lines, from 1).
    positions: &'static str,
    items: Vec<ItemOutcome>,
}

fn unauthorized(why: &str) -> ApiError {
    ApiError::new("unauthorized", why)
}

/// Finds the source whose token is presented, comparing in constant time.
fn authenticate(sources: &[Source], headers: &HeaderMap) -> Result<Source, ApiError> {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("missing 'Authorization: Bearer <token>'"))?;
    let mut found = None;
    for s in sources {
        let Some(token) = s.config.token.as_deref() else { continue };
        // Constant time over the whole of both (subtle compares lengths too, without a cut).
        if !presented.is_empty() && bool::from(subtle::ConstantTimeEq::ct_eq(token.as_bytes(), presented.as_bytes())) {
            found = Some(s.clone());
        }
    }
    found.ok_or_else(|| unauthorized("unknown token"))
}

fn verify_signature(source: &Source, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let Some(secret) = source.config.hmac_secret.as_deref() else { return Ok(()) };
    let sig = headers
        .get("x-tidewatch-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .ok_or_else(|| unauthorized("missing 'X-Tidewatch-Signature: sha256=<hex>'"))?;
    let sig = hex::decode(sig.trim()).map_err(|_| unauthorized("the signature is not hexadecimal"))?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| ApiError::new("internal", "bad secret"))?;
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| unauthorized("the signature does not match the body"))
}

/// Items of a body: a JSON object, an array, or JSON Lines. Each with its position, or the
/// reason it is not an item.
type Parsed = (usize, Result<(ItemInput, Vec<String>), String>);

fn items_of(body: &[u8]) -> Result<(&'static str, Vec<Parsed>), ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::new("bad_body", format!("not UTF-8: {e}")))?;
    // A byte-order mark is ignored, as by `import` (docs/formats.md).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let to_item = |v: &serde_json::Value| {
        let mut warnings = Vec::new();
        tidewatch_ingest::json_value_to_item(v, &mut warnings).map(|i| (i, warnings)).map_err(|e| e.to_string())
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(values)) => {
            if values.len() > MAX_ITEMS {
                return Err(ApiError::new("too_large", format!("at most {MAX_ITEMS} items per request")));
            }
            Ok(("index", values.iter().enumerate().map(|(i, v)| (i, to_item(v))).collect()))
        }
        Ok(v @ serde_json::Value::Object(_)) => Ok(("index", vec![(0, to_item(&v))])),
        Ok(other) => {
            Err(ApiError::new("bad_body", format!("expected an item, an array of items or JSON Lines, found {other}")))
        }
        Err(_) if text.trim().is_empty() => Err(ApiError::new("bad_body", "the body is empty")),
        Err(whole) => {
            let lines: Vec<(usize, &str)> =
                text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty()).collect();
            if lines.len() < 2 {
                return Err(ApiError::new("bad_body", format!("not JSON: {whole}")));
            }
            if lines.len() > MAX_ITEMS {
                return Err(ApiError::new("too_large", format!("at most {MAX_ITEMS} items per request")));
            }
            Ok((
                "line",
                lines
                    .into_iter()
                    .map(|(n, l)| {
                        // serde's position is within the line: say the line of the body, and the column.
                        let r = serde_json::from_str::<serde_json::Value>(l)
                            .map_err(|e| format!("line {n}, column {}: not JSON: {}", e.column(), json_reason(&e)))
                            .and_then(|v| to_item(&v));
                        (n, r)
                    })
                    .collect(),
            ))
        }
    }
}

/// serde_json's message without its own "at line 1 column N" (one line is parsed at a time).
fn json_reason(e: &serde_json::Error) -> String {
    let m = e.to_string();
    match m.rfind(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m,
    }
}

/// `POST /api/v1/ingest`.
pub async fn ingest(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<IngestView>, ApiError> {
    // The token and the declared size are checked before a byte of the body is read.
    let source = {
        let sources = state.webhooks.read().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
        authenticate(&sources, &headers)?
    };
    let limit = source.config.max_bytes.unwrap_or(DEFAULT_MAX_BYTES).min(HARD_MAX_BYTES);
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > limit as u64) {
        return Err(ApiError::new("too_large", format!("the body has {n} bytes; this source accepts at most {limit}")));
    }
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new("too_large", format!("the body is larger than this source accepts ({limit} bytes)"))
    })?;
    verify_signature(&source, &headers, &body)?;
    let (positions, parsed) = items_of(&body)?;
    blocking(move || {
        let id = source.config.id.clone();
        let mut outcomes: Vec<ItemOutcome> = Vec::with_capacity(parsed.len());
        let mut good: Vec<ItemInput> = Vec::new();
        let mut good_at: Vec<usize> = Vec::new();
        for (pos, r) in parsed {
            match r {
                Ok((mut item, warnings)) => {
                    item.source = Some(id.clone());
                    good_at.push(outcomes.len());
                    good.push(item);
                    outcomes.push(ItemOutcome {
                        position: pos,
                        status: "rejected",
                        item_id: None,
                        error: None,
                        warnings,
                    });
                }
                Err(e) => outcomes.push(ItemOutcome {
                    position: pos,
                    status: "rejected",
                    item_id: None,
                    error: Some(e),
                    warnings: Vec::new(),
                }),
            }
        }
        let now = Utc::now();
        let mut p = state.pipeline.lock().map_err(|_| ApiError::new("internal", "lock poisoned"))?;
        let batch = p.ingest(&good, now).map_err(|e| ApiError::new("internal", e.to_string()))?;
        let mut new = 0i64;
        for (slot, o) in good_at.into_iter().zip(&batch.outcomes) {
            let out = &mut outcomes[slot];
            match o {
                Outcome::Stored { id, .. } => {
                    out.status = "stored";
                    out.item_id = Some(id.0);
                    new += 1;
                }
                Outcome::AlreadyStored { id, same_content } => {
                    out.status = "already_stored";
                    out.item_id = Some(id.0);
                    if !same_content {
                        out.warnings.push(
                            "an item with the same source and id is already stored with different content; the stored one is kept"
                                .into(),
                        );
                    }
                }
                Outcome::Rejected(e) => out.error = Some(e.to_string()),
            }
        }
        tidewatch_engine::sources::record_push(&mut p, &id, new, now)
            .map_err(|e| ApiError::new("internal", e.to_string()))?;
        drop(p);
        state.publish(&batch);
        let count = |s: &str| outcomes.iter().filter(|o| o.status == s).count();
        Ok(Json(IngestView {
            source: id,
            stored: count("stored"),
            already_stored: count("already_stored"),
            rejected: count("rejected"),
            positions,
            items: outcomes,
        }))
    })
    .await
}
