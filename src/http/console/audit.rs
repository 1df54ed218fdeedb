//! `/console/audit` (admins): the audit log, newest first, filterable by user (part of the
//! actor's address), action prefix (`subscriber.`, `user.disabled`) and a first day
//! (`since=YYYY-MM-DD`, default 30 days back).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{Console, unavailable};
use crate::app::accounts;
use crate::domain::Action;
use crate::http::AppState;

/// Lines read from the database for one page (the filters apply to these).
pub const READ: u32 = 20_000;
/// Lines shown.
pub const SHOWN: usize = 500;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/console/audit", get(audit))
}

#[derive(Debug, Default, Deserialize)]
struct Filter {
    #[serde(default)]
    user: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
}

async fn audit(
    State(state): State<AppState>,
    console: Console,
    Query(f): Query<Filter>,
) -> Response {
    if let Err(r) = console.require(&state, Action::ViewAudit) {
        return r;
    }
    let default_since = Utc::now() - chrono::Duration::days(30);
    let (since, error) = match f.since.trim() {
        "" => (default_since, None),
        s => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => (
                Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()),
                None,
            ),
            Err(_) => (
                default_since,
                Some(format!("`{s}`: expected a date as YYYY-MM-DD")),
            ),
        },
    };
    let user = f.user.trim().to_lowercase();
    let action = f.action.trim();
    let entries = match accounts::audit::list(state.store.as_ref(), Some(since), READ).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot read the audit log");
            return unavailable(&state, &console.page);
        }
    };
    let rows: Vec<_> = entries
        .iter()
        .rev()
        .filter(|e| user.is_empty() || e.actor.to_lowercase().contains(&user))
        .filter(|e| e.action.starts_with(action))
        .take(SHOWN)
        .map(|e| {
            json!({
                "at": e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                "action": e.action,
                "actor": e.actor,
                "ip": e.ip,
                "object": e.object,
                "detail": e.detail,
            })
        })
        .collect();
    console.render(
        &state,
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "console-nav-audit",
        "audit",
        json!({
            "entries": rows,
            "user": f.user.trim(),
            "action": action,
            "since": if f.since.trim().is_empty() { since.format("%Y-%m-%d").to_string() } else { f.since.trim().to_owned() },
            "error": error,
        }),
    )
}
