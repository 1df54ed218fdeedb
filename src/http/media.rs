//! `GET /media/{hash}.{ext}`: the editors' uploaded images (`app::media`), with their
//! stored content type, `nosniff`, and a year-long immutable cache (the name is the hash of
//! the bytes, so it never changes). Anything else is a 404, counted.
//!
//! Translates only: the use case decides what a name means.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/media/{file}", get(serve))
}

async fn serve(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    match crate::app::media::fetch(state.store.as_ref(), &file).await {
        Ok(Some(m)) => {
            let mut r = m.data.into_response();
            let h = r.headers_mut();
            if let Ok(ct) = HeaderValue::from_str(&m.content_type) {
                h.insert(header::CONTENT_TYPE, ct);
            }
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            r
        }
        Ok(None) => {
            metrics::counter!(crate::metrics::MEDIA_NOT_FOUND).increment(1);
            StatusCode::NOT_FOUND.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read an image");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
