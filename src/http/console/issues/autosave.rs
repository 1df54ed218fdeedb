//! The editor's small script (`/static/editor.js`): autosave of the draft and the live
//! "in 3 days" beside the schedule picker. Self-hosted; only the editor page lets it run
//! (`script-src 'self'` and, for the background save, `connect-src 'self'`).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::AppState;
use crate::http::pages::{CONTENT_SECURITY_POLICY, secure_headers};

/// Where the editor's script is served.
pub const SCRIPT_URL: &str = "/static/editor.js";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(SCRIPT_URL, get(script))
}

async fn script() -> Response {
    let mut r = include_str!("editor.js").into_response();
    let h = r.headers_mut();
    secure_headers(h);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// Lets the editor page run `/static/editor.js` and post the draft from it: the console's
/// policy with `script-src 'self'; connect-src 'self'` added, nothing inline.
pub(super) fn allow_editor_script(response: &mut Response) {
    let h = response.headers_mut();
    let policy = h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(CONTENT_SECURITY_POLICY)
        .to_owned();
    if let Ok(v) =
        HeaderValue::from_str(&format!("{policy}; script-src 'self'; connect-src 'self'"))
    {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
}
