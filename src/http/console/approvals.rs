//! `/console/approvals` (admins): the send requests waiting under `console.require_approval`,
//! each with an Approve button; approving (a different admin than the requester) starts the
//! send. Requests are made with `POST /api/issues/{id}/request-send` until the editors'
//! issue pages offer the button.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use serde_json::json;

use super::{Console, unavailable};
use crate::app::accounts::approval;
use crate::domain::Action;
use crate::http::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/approvals", get(list))
        .route("/console/approvals/{id}/approve", post(approve))
}

async fn render_list(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    flash: Option<(&str, bool)>,
) -> Response {
    let pending = match state.store.pending_send_requests().await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot list send requests");
            return unavailable(state, &console.page);
        }
    };
    let mut rows = Vec::new();
    for r in &pending {
        let by = state
            .store
            .user(r.requested_by)
            .await
            .ok()
            .flatten()
            .map(|u| u.display_name())
            .unwrap_or_default();
        rows.push(json!({
            "id": r.id,
            "issue": r.issue_id,
            "by": by,
            "at": r.requested_at.format("%Y-%m-%d %H:%M").to_string(),
            "own": r.requested_by == console.user.id,
        }));
    }
    let data = json!({ "requests": rows });
    match flash {
        Some(f) => console.render_flash(
            state,
            status,
            "console-approvals-title",
            "approvals",
            data,
            f,
        ),
        None => console.render(state, status, "console-approvals-title", "approvals", data),
    }
}

async fn list(State(state): State<AppState>, console: Console) -> Response {
    if let Err(r) = console.require(&state, Action::SendIssues) {
        return r;
    }
    render_list(&state, &console, StatusCode::OK, None).await
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ApproveForm {
    csrf: String,
}

async fn approve(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<i64>,
    Form(form): Form<ApproveForm>,
) -> Response {
    if let Err(r) = console.permit(&state, &form.csrf, Action::SendIssues) {
        return r;
    }
    let ip = console.page.ip.map(|i| i.to_string());
    let outcome = approval::approve_and_send(
        state.store.as_ref(),
        &state.settings,
        &console.user,
        id,
        ip,
        Utc::now(),
    )
    .await;
    let (status, flash) = match outcome {
        Ok(approval::Approved::Sending(_)) => (StatusCode::OK, ("console-approvals-done", false)),
        Ok(approval::Approved::Refused(approval::ApprovalError::SamePerson)) => (
            StatusCode::CONFLICT,
            ("console-approvals-same-person", true),
        ),
        Ok(approval::Approved::Refused(_)) => {
            (StatusCode::CONFLICT, ("console-approvals-decided", true))
        }
        Ok(approval::Approved::NotSent(..)) => {
            (StatusCode::CONFLICT, ("console-approvals-not-sent", true))
        }
        Err(e) => {
            tracing::error!(error = %e, "console: cannot approve a send request");
            return unavailable(&state, &console.page);
        }
    };
    render_list(&state, &console, status, Some(flash)).await
}
