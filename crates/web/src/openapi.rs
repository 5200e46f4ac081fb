//! `GET /api/v1/openapi.json`: the API as OpenAPI 3.1, generated from the route table, so it
//! lists exactly the routes the router serves, each with the permission it needs.

use crate::routes::{Access, RouteSpec};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use std::sync::Arc;
use tidewatch_workflow::access::PERMISSIONS;

/// The document for `specs`.
pub fn build(specs: &[RouteSpec]) -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for s in specs.iter().filter(|s| s.path.starts_with("/api/") || s.path.starts_with("/ack/")) {
        let params: Vec<serde_json::Value> = s
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|x| x.strip_suffix('}')))
            .map(|name| serde_json::json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let (security, needs, roles) = match s.access {
            Access::Needs(a) => {
                let roles: Vec<&str> = PERMISSIONS
                    .iter()
                    .find(|(x, _)| *x == a)
                    .map(|(_, r)| r.iter().map(|r| r.as_str()).collect())
                    .unwrap_or_default();
                (
                    serde_json::json!([{"session": []}, {"token": []}]),
                    serde_json::json!(a.as_str()),
                    serde_json::json!(roles),
                )
            }
            Access::Public => (serde_json::json!([]), serde_json::Value::Null, serde_json::json!(["anyone"])),
            Access::OwnCredential(c) => {
                (serde_json::json!([]), serde_json::json!(c), serde_json::json!(["anyone holding it"]))
            }
        };
        let op = serde_json::json!({
            "summary": s.summary,
            "operationId": format!("{}_{}", s.method.as_str().to_lowercase(), s.path.trim_start_matches('/').replace(['/', '{', '}', '.'], "_")),
            "parameters": params,
            "security": security,
            "x-tidewatch-action": needs,
            "x-tidewatch-roles": roles,
            "responses": {
                "200": {"description": "OK"},
                "400": {"description": "Bad request", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "Not signed in", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "403": {"description": "Not allowed, or the CSRF token is missing", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        let entry = paths.entry(s.path.to_string()).or_insert_with(|| serde_json::json!({}));
        entry[s.method.as_str().to_lowercase()] = op;
    }
    serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "Tidewatch API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE,
                            "description": "From POST /api/v1/login; unsafe requests also send X-CSRF-Token."},
                "token": {"type": "http", "scheme": "bearer", "description": "An API token (twt_…)."}
            },
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}, "message_zh": {"type": "string"},
                    "detail": {"type": "string"}}}}}
            }
        }
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn document(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(state.openapi.get().cloned().unwrap_or_default())
}
