//! Static files: the search page (a shell that asks for a login), its script and style sheet, and
//! the workspace's script and style sheet (served as files, so the CSP needs no `unsafe-inline`).

use axum::http::header;
use axum::response::{Html, IntoResponse};

static PAGE: &str = include_str!("../assets/index.html");
static SCRIPT: &str = include_str!("../assets/app.js");
static STYLE: &str = include_str!("../assets/app.css");
static WS_SCRIPT: &str = include_str!("../assets/ws.js");
static WS_STYLE: &str = include_str!("../assets/ws.css");

/// `GET /ws.js`: the workspace's script.
pub async fn ws_script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], WS_SCRIPT)
}

/// `GET /ws.css`: the workspace's style sheet.
pub async fn ws_style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], WS_STYLE)
}

/// `GET /search`.
pub async fn page() -> impl IntoResponse {
    Html(PAGE)
}

/// `GET /app.js`.
pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT)
}

/// `GET /app.css`.
pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}
