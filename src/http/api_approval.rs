//! The two-person rule on the admin API (issue 14): `POST /api/issues/{id}/request-send`
//! (an editor or admin, with a personal token) and `POST /api/send-requests/{id}/approve` (a
//! different admin), which starts the send. With `console.require_approval = true`,
//! `POST /api/issues/{id}/send-now` answers 409 and points here. The shared `admin.token`
//! names no person, so it can neither request nor approve.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde_json::json;

use super::AppState;
use super::admin::{error, store_error};
use crate::app::accounts::{AccountError, approval};
use crate::domain::User;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/issues/{id}/request-send", post(request_send))
        .route("/send-requests/{id}/approve", post(approve))
}

fn account_error(e: AccountError) -> Response {
    match e {
        AccountError::Forbidden(_) => error(StatusCode::FORBIDDEN, e.to_string()),
        AccountError::Invalid(_) => error(StatusCode::CONFLICT, e.to_string()),
        AccountError::Store(e) => store_error(e),
        other => error(StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
    }
}

fn no_person() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "a send request needs a person's API token (kairan users token), not admin.token",
    )
}

async fn request_send(
    State(state): State<AppState>,
    user: Option<Extension<User>>,
    Path(issue): Path<i64>,
) -> Response {
    let Some(Extension(user)) = user else {
        return no_person();
    };
    match approval::request(state.store.as_ref(), &user, issue, None, Utc::now()).await {
        Ok(id) => (
            StatusCode::ACCEPTED,
            Json(json!({"request": id, "issue": issue, "state": "pending"})),
        )
            .into_response(),
        Err(e) => account_error(e),
    }
}

async fn approve(
    State(state): State<AppState>,
    user: Option<Extension<User>>,
    Path(id): Path<i64>,
) -> Response {
    let Some(Extension(user)) = user else {
        return no_person();
    };
    match approval::approve_and_send(
        state.store.as_ref(),
        &state.settings,
        &user,
        id,
        None,
        Utc::now(),
    )
    .await
    {
        Ok(approval::Approved::Sending(r)) => Json(
            json!({"request": r.id, "issue": r.issue_id, "state": "approved", "sending": true}),
        )
        .into_response(),
        Ok(approval::Approved::NotSent(r, e)) => error(
            StatusCode::CONFLICT,
            format!("request {} approved, but the issue was not sent: {e}", r.id),
        ),
        Ok(approval::Approved::Refused(approval::ApprovalError::NotFound)) => {
            error(StatusCode::NOT_FOUND, "no such send request")
        }
        Ok(approval::Approved::Refused(e)) => error(StatusCode::CONFLICT, e.to_string()),
        Err(e) => account_error(e),
    }
}
