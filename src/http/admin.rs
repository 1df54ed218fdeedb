//! The admin API's gate: every `/api/` route requires `Authorization: Bearer <token>`, either
//! a person's API token (`kairan users token`, issue 14: acts with that person's role, a
//! forbidden route answers 403, a state-changing request is audited) or the legacy shared
//! `admin.token` (acts as an admin). The shared token's comparison is constant-time over
//! SHA-256 digests (equal length whatever was sent); a personal token is looked up by its
//! digest. A wrong or missing token gets 401 with `WWW-Authenticate`, and the handler never
//! runs, so nothing changes. With no `admin.token` configured and no personal token
//! presented, the API answers 404 as if it did not exist.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::app::accounts;
use crate::domain::Action;

/// Whether `presented` equals `expected`, in time independent of where they differ.
pub fn token_matches(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

/// What an API route needs of a person's role: reading issues and the status, editing an
/// issue and test-sending it are an editor's; everything else is an admin's.
fn action_for(method: &axum::http::Method, path: &str) -> Action {
    use axum::http::Method;
    let path = path.strip_prefix("/api").unwrap_or(path);
    let issue_item = path
        .strip_prefix("/issues/")
        .filter(|rest| !rest.contains('/'));
    let issue_test = path
        .strip_prefix("/issues/")
        .and_then(|rest| rest.strip_suffix("/test"))
        .is_some_and(|id| !id.contains('/'));
    match *method {
        Method::GET | Method::HEAD if path == "/status" || path.starts_with("/issues") => {
            Action::EditIssues
        }
        Method::PUT if issue_item.is_some() => Action::EditIssues,
        Method::POST if issue_test => Action::EditIssues,
        Method::POST if path.starts_with("/issues/") && path.ends_with("/request-send") => {
            Action::EditIssues
        }
        _ if path.starts_with("/subscribers") => Action::ManageSubscribers,
        _ if path.starts_with("/bounces") => Action::ManageBounces,
        _ => Action::SendIssues,
    }
}

/// The audit log's name for the shared token, which names no person.
pub const LEGACY_ACTOR: &str = "admin.token (legacy)";

/// Middleware: lets the request through only with the right bearer token. The request then
/// runs on behalf of the token's person (or of [`LEGACY_ACTOR`]) with the client's address:
/// the use cases it calls write their audit lines (issue 14); a successful state-changing
/// request whose handler wrote none gets a generic `api.request` line (path, method).
pub async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_owned);
    let (parts, body) = req.into_parts();
    let ip = super::pages::client_ip(&parts, state.settings.subscribe.trust_forwarded_for)
        .map(|ip| ip.to_string());
    let mut req = Request::from_parts(parts, body);
    let now = chrono::Utc::now();
    let actor = if let Some(token) = presented
        .as_deref()
        .filter(|t| t.starts_with(accounts::tokens::PREFIX))
    {
        match accounts::tokens::user_for(state.store.as_ref(), token, now).await {
            Ok(Some(user)) => {
                let action = action_for(req.method(), req.uri().path());
                if !user.role.allows(action) {
                    tracing::warn!(user = user.id, ?action, "admin API: forbidden by role");
                    metrics::counter!(crate::metrics::CONSOLE_REFUSED, "reason" => "role")
                        .increment(1);
                    return error(StatusCode::FORBIDDEN, "your role does not allow this");
                }
                req.extensions_mut().insert(user.clone());
                accounts::Actor::user(&user, ip)
            }
            Ok(None) => return unauthorized(),
            Err(e) => return store_error(e),
        }
    } else {
        let Some(expected) = state.settings.admin.token.as_ref() else {
            return StatusCode::NOT_FOUND.into_response();
        };
        match presented {
            Some(token) if token_matches(&token, expected.expose()) => accounts::Actor {
                user_id: None,
                name: LEGACY_ACTOR.to_owned(),
                ip,
            },
            _ => return unauthorized(),
        }
    };
    let changes = !matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    // Inside the `/api` nest the path comes without its prefix.
    let path = match req.uri().path() {
        p if p.starts_with("/api/") => p.to_owned(),
        p => format!("/api{p}"),
    };
    let method = req.method().to_string();
    let (response, noted) =
        accounts::audit::acting_as(state.store.clone(), actor.clone(), next.run(req)).await;
    if changes && !noted && response.status().is_success() {
        let _ = accounts::audit::record(
            state.store.as_ref(),
            &actor,
            "api.request",
            path,
            method,
            now,
        )
        .await;
    }
    response
}

fn unauthorized() -> Response {
    tracing::warn!("admin API: missing or wrong bearer token");
    metrics::counter!(crate::metrics::CONSOLE_REFUSED, "reason" => "token").increment(1);
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"kairan\"")],
        axum::Json(serde_json::json!({"error": "a valid bearer token is required"})),
    )
        .into_response()
}

/// An admin API error: `{"error": message}` with `status`.
pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": message.into() })),
    )
        .into_response()
}

/// A storage failure: logged with its cause, answered 503 without it.
pub(super) fn store_error(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "admin API: database error");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database is unavailable",
    )
}

/// A JSON body; malformed JSON or unknown fields get 422 with serde's message.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(e) => Err(error(StatusCode::UNPROCESSABLE_ENTITY, e.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(token_matches("0123456789abcdef", "0123456789abcdef"));
        assert!(!token_matches("0123456789abcdeF", "0123456789abcdef"));
        assert!(!token_matches("0123456789abcdef0", "0123456789abcdef"));
        assert!(!token_matches("", "0123456789abcdef"));
    }
}
