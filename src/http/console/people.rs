//! `/console/users` (admins only): the accounts, read only (`/console/audit` is in
//! `audit.rs`). The pattern for later pages: extractor, role guard, use case, template.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::{Console, unavailable};
use crate::app::accounts;
use crate::domain::Action;
use crate::http::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/console/users", get(users))
}

async fn users(State(state): State<AppState>, console: Console) -> Response {
    if let Err(r) = console.require(&state, Action::ManageUsers) {
        return r;
    }
    match accounts::users::list(state.store.as_ref()).await {
        Ok(list) => {
            let rows: Vec<_> = list
                .iter()
                .map(|u| {
                    json!({
                        "email": u.email.as_str(),
                        "name": u.name,
                        "role": u.role.as_str(),
                        "state": u.state(),
                        "totp": u.totp,
                    })
                })
                .collect();
            console.render(
                &state,
                StatusCode::OK,
                "console-nav-users",
                "users",
                json!({ "users": rows }),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "console: cannot list users");
            unavailable(&state, &console.page)
        }
    }
}
