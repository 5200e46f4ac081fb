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
    let mut generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas/".into())
        .into_generator();
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
                "200": match s.response {
                    Some(f) => serde_json::json!({"description": "OK", "content": {"application/json": {"schema": f(&mut generator)}}}),
                    None => serde_json::json!({"description": "OK (not JSON: a page, a script, a style sheet or an event stream)"}),
                },
                "400": {"description": "Bad request", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "Not signed in", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "403": {"description": "Not allowed, or the CSRF token is missing", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        let entry = paths.entry(s.path.to_string()).or_insert_with(|| serde_json::json!({}));
        entry[s.method.as_str().to_lowercase()] = op;
    }
    let mut schemas: serde_json::Map<String, serde_json::Value> = generator.take_definitions(true);
    schemas.insert(
        "Error".into(),
        serde_json::json!({"type": "object", "properties": {"error": {"type": "object", "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "message_zh": {"type": "string"},
            "detail": {"type": "string"}}}}}),
    );
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
            "schemas": schemas
        }
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn document(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(state.openapi.get().cloned().unwrap_or_default())
}

/// Checks a JSON answer of `method path` (the route's template, `/api/v1/cases/{id}`) against
/// the document's schema for it, strictly: besides types, required fields and enums, a field the
/// schema does not name is an error (every field the API returns must be described). Returns
/// the problems, each with its JSON path.
pub fn check_response(doc: &serde_json::Value, method: &str, path: &str, body: &serde_json::Value) -> Vec<String> {
    let schema =
        &doc["paths"][path][method.to_lowercase()]["responses"]["200"]["content"]["application/json"]["schema"];
    if schema.is_null() {
        return vec![format!("{method} {path}: no response schema in the document")];
    }
    let mut problems = Vec::new();
    check(doc, schema, body, "$", &mut problems);
    problems
}

fn resolve<'a>(doc: &'a serde_json::Value, schema: &'a serde_json::Value) -> &'a serde_json::Value {
    let mut s = schema;
    for _ in 0..32 {
        match s.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or("");
                s = &doc["components"]["schemas"][name];
            }
            None => break,
        }
    }
    s
}

fn type_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// The properties an object schema names, through `allOf` (flattened structs).
fn properties<'a>(
    doc: &'a serde_json::Value,
    schema: &'a serde_json::Value,
    out: &mut Vec<(&'a str, &'a serde_json::Value)>,
) {
    let s = resolve(doc, schema);
    if let Some(p) = s.get("properties").and_then(|p| p.as_object()) {
        out.extend(p.iter().map(|(k, v)| (k.as_str(), v)));
    }
    for sub in s.get("allOf").and_then(|a| a.as_array()).into_iter().flatten() {
        properties(doc, sub, out);
    }
}

fn check(doc: &serde_json::Value, schema: &serde_json::Value, v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    let s = resolve(doc, schema);
    if s.as_bool() == Some(true) || s.as_object().is_some_and(|o| o.is_empty()) {
        return;
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = s.get(key).and_then(|b| b.as_array()) {
            let fits = branches.iter().any(|b| {
                let mut p = Vec::new();
                check(doc, b, v, at, &mut p);
                p.is_empty()
            });
            if !fits {
                out.push(format!("{at}: matches none of the {key} branches: {}", short(v)));
            }
            return;
        }
    }
    if let Some(c) = s.get("const") {
        if c != v {
            out.push(format!("{at}: expected {c}, got {}", short(v)));
        }
        return;
    }
    if let Some(e) = s.get("enum").and_then(|e| e.as_array()) {
        if !e.contains(v) {
            out.push(format!("{at}: {} is not one of {}", short(v), serde_json::Value::Array(e.clone())));
        }
        return;
    }
    let t = type_of(v);
    if let Some(ty) = s.get("type") {
        let allowed: Vec<&str> = match ty {
            serde_json::Value::String(x) => vec![x.as_str()],
            serde_json::Value::Array(xs) => xs.iter().filter_map(|x| x.as_str()).collect(),
            _ => vec![],
        };
        let ok = allowed.contains(&t) || (t == "integer" && allowed.contains(&"number"));
        if !ok {
            out.push(format!("{at}: a {t}, the schema says {}", ty));
            return;
        }
    }
    match v {
        serde_json::Value::Object(obj) => {
            let mut props = Vec::new();
            properties(doc, s, &mut props);
            let extra = s.get("additionalProperties");
            let has_structure = !props.is_empty() || extra.is_some() || s.get("allOf").is_some();
            if !has_structure {
                // A free-form object (a JSON value).
                return;
            }
            for r in s.get("required").and_then(|r| r.as_array()).into_iter().flatten().filter_map(|r| r.as_str()) {
                if !obj.contains_key(r) {
                    out.push(format!("{at}.{r}: required, missing"));
                }
            }
            for (k, val) in obj {
                match props.iter().find(|(name, _)| *name == k) {
                    Some((_, sub)) => check(doc, sub, val, &format!("{at}.{k}"), out),
                    None => match extra {
                        Some(e) if e.as_bool() != Some(false) => check(doc, e, val, &format!("{at}.{k}"), out),
                        _ => out.push(format!("{at}.{k}: a field the document does not describe")),
                    },
                }
            }
        }
        serde_json::Value::Array(items) => {
            let prefix = s.get("prefixItems").and_then(|p| p.as_array());
            for (i, item) in items.iter().enumerate() {
                let sub = match prefix.and_then(|p| p.get(i)) {
                    Some(p) => p,
                    None => match s.get("items") {
                        Some(x) => x,
                        None => continue,
                    },
                };
                check(doc, sub, item, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}
