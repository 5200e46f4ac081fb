//! The page: a shell that asks for a login, and its script (served as a file, so the CSP needs
//! no `unsafe-inline` for scripts).

use axum::http::header;
use axum::response::{Html, IntoResponse};

static PAGE: &str = include_str!("../assets/index.html");
static SCRIPT: &str = include_str!("../assets/app.js");

/// `GET /`.
pub async fn page() -> impl IntoResponse {
    Html(PAGE)
}

/// `GET /app.js`.
pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT)
}
