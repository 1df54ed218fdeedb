//! `POST /api/bounces` (behind the bearer gate of `admin.rs`): the body is one raw RFC 5322
//! message (a DSN, an ARF complaint, an auto-reply, anything); the answer is 202 with the parse
//! result and what the bounce policy did (`app::bounces`). `?recipient=ADDR` names the address
//! the message was delivered to, when a relay forwarding return mail knows it (a VERP or
//! List-Unsubscribe address, whose token attributes the message).
//! The body is capped by `http.body_limit` like every request (1 MiB by default; raise it when
//! bounces carrying large returned messages are posted here). What is done with the body is
//! the HTTP bounce source's (`bounce::sources::http`); this maps its answer to a response.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::bounce::sources::http::{self, Answer};

pub fn routes() -> Router<AppState> {
    // axum's own 2 MiB extractor default is lifted: the transport-level `http.body_limit`
    // (outermost layer in `http::router`) is what caps the message.
    Router::new().route("/bounces", post(ingest).layer(DefaultBodyLimit::disable()))
}

#[derive(Debug, Deserialize)]
struct IngestQuery {
    recipient: Option<String>,
}

async fn ingest(
    State(state): State<AppState>,
    Query(q): Query<IngestQuery>,
    body: Bytes,
) -> Response {
    match http::ingest(
        state.store.as_ref(),
        &state.settings.bounce,
        &state.signer,
        Some(&state.notifier),
        &body,
        q.recipient.as_deref(),
    )
    .await
    {
        Answer::Accepted(done) => (StatusCode::ACCEPTED, Json(done)).into_response(),
        Answer::NotAMessage => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "the body must be a raw RFC 5322 message"})),
        )
            .into_response(),
        Answer::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "60")],
            Json(json!({"error": "the database is unavailable; try again"})),
        )
            .into_response(),
    }
}
