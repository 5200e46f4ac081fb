//! The one table of error codes the API returns. Codes are stable: clients may rely on them.
//! Every code has an English and a Chinese message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API error: a stable code, an HTTP status, and details for the reader.
#[derive(Debug)]
pub struct ApiError {
    /// The code's entry in [`CODES`].
    pub code: &'static str,
    /// What exactly was wrong (e.g. which parameter), in English.
    pub detail: String,
    /// Structured details (for `invalid_rule`: the positioned error).
    pub extra: Option<(&'static str, serde_json::Value)>,
}

/// `(code, HTTP status, English message, Chinese message)`.
pub const CODES: &[(&str, u16, &str, &str)] = &[
    ("bad_parameter", 400, "A query parameter is invalid.", "查询参数无效。"),
    ("query_too_long", 400, "The search query is too long.", "检索语句过长。"),
    ("bad_body", 400, "The request body is invalid.", "请求体无效。"),
    ("invalid_rule", 400, "The rule has an error.", "规则有错误。"),
    ("bad_host", 400, "The Host header does not name this server.", "Host 请求头不是本服务器的名称。"),
    ("unauthorized", 401, "Missing or wrong credentials.", "缺少凭据或凭据错误。"),
    ("forbidden", 403, "Your roles do not allow this.", "您的角色无权执行此操作。"),
    ("csrf", 403, "The request lacks its CSRF token or comes from another site.", "请求缺少 CSRF 令牌或来自其他站点。"),
    ("not_found", 404, "No such resource.", "资源不存在。"),
    ("method_not_allowed", 405, "This method is not allowed on this path.", "此路径不支持该请求方法。"),
    ("conflict", 409, "The request conflicts with the current state.", "请求与当前状态冲突。"),
    ("too_large", 413, "The request is too large.", "请求过大。"),
    ("locked", 423, "The account is locked after too many failed logins.", "登录失败次数过多，账号已锁定。"),
    ("too_many_requests", 429, "Too many requests; try again later.", "请求过多，请稍后再试。"),
    ("internal", 500, "Internal error; the server log has details.", "服务器内部错误，详情见服务器日志。"),
    ("timeout", 503, "The request took too long.", "请求超时。"),
];

impl ApiError {
    /// An error with a code from [`CODES`].
    pub fn new(code: &'static str, detail: impl Into<String>) -> ApiError {
        debug_assert!(CODES.iter().any(|c| c.0 == code), "unknown error code {code}");
        ApiError { code, detail: detail.into(), extra: None }
    }

    /// The HTTP status of its code.
    pub fn status(&self) -> StatusCode {
        let code = CODES.iter().find(|c| c.0 == self.code).map(|c| c.1).unwrap_or(500);
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Its message in English and in Chinese.
    pub fn messages(&self) -> (&'static str, &'static str) {
        CODES.iter().find(|c| c.0 == self.code).map(|c| (c.2, c.3)).unwrap_or(("Internal error.", "服务器内部错误。"))
    }

    /// A 400 for a bad parameter.
    pub fn bad_parameter(name: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::new("bad_parameter", format!("{name}: {why}"))
    }
}

impl<E: std::error::Error> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        tracing::error!(error = %e, "request failed");
        ApiError::new("internal", "")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, en, zh) = CODES.iter().find(|c| c.0 == self.code).map(|c| (c.1, c.2, c.3)).unwrap_or((
            500,
            "Internal error.",
            "服务器内部错误。",
        ));
        let mut body = json!({"error": {"code": self.code, "message": en, "message_zh": zh, "detail": self.detail}});
        if let Some((key, value)) = self.extra {
            body["error"][key] = value;
        }
        (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body)).into_response()
    }
}

/// The answer for a path no route serves.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new("not_found", format!("no route {}", uri.path()))
}

/// The answer for a method a path does not serve.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new("method_not_allowed", format!("{method} is not served on {}", uri.path()))
}
