//! The providers' event webhooks: `POST /webhooks/ses`, `/webhooks/sendgrid`,
//! `/webhooks/postmark`, `/webhooks/mailgun`. A route exists only when its
//! `[bounce.webhooks.*]` table is configured (404 otherwise). Each handler passes the raw
//! body and the headers its provider signs with to the webhook source
//! (`bounce::sources::webhooks`), which verifies, normalises and calls the bounce use case,
//! and maps its answer to a status: 200 accepted (replays and ignored events included), 400
//! not the provider's format, 401 wrong basic credentials (Postmark, with a
//! `WWW-Authenticate` challenge), 403 a bad signature, stale timestamp, replayed token,
//! unknown topic or untrusted URL, 503 when the database or the SNS certificate host fails
//! (the provider retries). Bodies are capped by `http.body_limit` like every request.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use serde_json::json;

use super::AppState;
use crate::app::bounces::Context;
use crate::bounce::sources::webhooks::{self, Answer, Provider, Refusal, sendgrid};

/// The configured providers' routes.
pub fn routes(state: &AppState) -> Router<AppState> {
    let w = &state.webhooks;
    let mut r = Router::new();
    if w.ses.is_some() {
        r = r.route("/webhooks/ses", post(ses));
    }
    if w.sendgrid.is_some() {
        r = r.route("/webhooks/sendgrid", post(sendgrid));
    }
    if w.postmark.is_some() {
        r = r.route("/webhooks/postmark", post(postmark));
    }
    if w.mailgun.is_some() {
        r = r.route("/webhooks/mailgun", post(mailgun));
    }
    // axum's own 2 MiB extractor default is lifted: `http.body_limit` caps the body.
    r.layer(DefaultBodyLimit::disable())
}

/// Provider events are never answered by mail (there is no one to answer).
fn context(state: &AppState) -> Context<'_> {
    Context {
        settings: &state.settings.bounce,
        signer: &state.signer,
        answers: None,
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn ses(State(state): State<AppState>, body: Bytes) -> Response {
    let Some(ses) = &state.webhooks.ses else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let answer = ses
        .handle(state.store.as_ref(), context(&state), &body, Utc::now())
        .await;
    respond(Provider::Ses, answer)
}

async fn sendgrid(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(sg) = &state.webhooks.sendgrid else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let answer = sg
        .handle(
            state.store.as_ref(),
            context(&state),
            header_text(&headers, sendgrid::SIGNATURE_HEADER),
            header_text(&headers, sendgrid::TIMESTAMP_HEADER),
            &body,
            Utc::now(),
        )
        .await;
    respond(Provider::Sendgrid, answer)
}

async fn postmark(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(pm) = &state.webhooks.postmark else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let answer = pm
        .handle(
            state.store.as_ref(),
            context(&state),
            header_text(&headers, header::AUTHORIZATION.as_str()),
            &body,
            Utc::now(),
        )
        .await;
    respond(Provider::Postmark, answer)
}

async fn mailgun(State(state): State<AppState>, body: Bytes) -> Response {
    let Some(mg) = &state.webhooks.mailgun else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let answer = mg
        .handle(state.store.as_ref(), context(&state), &body, Utc::now())
        .await;
    respond(Provider::Mailgun, answer)
}

/// The status for an answer (counted by provider and result on the way).
fn respond(provider: Provider, answer: Answer) -> Response {
    match webhooks::counted(provider, answer) {
        Ok(done) => (StatusCode::OK, Json(done)).into_response(),
        Err(refusal) => {
            let status = match refusal {
                Refusal::Malformed => StatusCode::BAD_REQUEST,
                Refusal::Unauthorized => StatusCode::UNAUTHORIZED,
                Refusal::BadSignature
                | Refusal::Stale
                | Refusal::ReplayedToken
                | Refusal::UnknownTopic
                | Refusal::UntrustedUrl => StatusCode::FORBIDDEN,
                Refusal::Upstream | Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            };
            let body = Json(json!({ "error": refusal.as_str() }));
            match refusal {
                Refusal::Unauthorized => (
                    status,
                    [(header::WWW_AUTHENTICATE, r#"Basic realm="kairan webhooks""#)],
                    body,
                )
                    .into_response(),
                Refusal::Upstream | Refusal::Unavailable => {
                    (status, [(header::RETRY_AFTER, "60")], body).into_response()
                }
                _ => (status, body).into_response(),
            }
        }
    }
}
