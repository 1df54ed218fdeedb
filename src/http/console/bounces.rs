//! `/console/bounces` (issue 16, admins): the recent bounce reports with how each was
//! attributed (VERP, header, Message-ID, mailto; or forged / unattributed / not a bounce),
//! a link to the reader's page, and the reader's soft-bounce score against the threshold;
//! filtered by kind (`?kind=hard|soft|complaint|autoreply|none`) or by what was done
//! (`?action=forged`).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Console, unavailable};
use crate::domain::{Action, BounceKind, SubscriberId};
use crate::http::AppState;

/// Reports read for the page (the newest); the filters apply to these.
pub const RECENT: u32 = 1_000;
/// Rows shown.
pub const SHOWN: usize = 200;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/console/bounces", get(list))
}

#[derive(Debug, Default, Deserialize)]
struct Filter {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    action: String,
}

const KINDS: [&str; 5] = ["hard", "soft", "complaint", "autoreply", "none"];
const ACTIONS: [&str; 9] = [
    "bounced",
    "soft-scored",
    "complained",
    "unsubscribed",
    "none",
    "unattributed",
    "forged",
    "not-a-bounce",
    "answered",
];

async fn list(
    State(state): State<AppState>,
    console: Console,
    Query(f): Query<Filter>,
) -> Response {
    if let Err(r) = console.require(&state, Action::ManageBounces) {
        return r;
    }
    let mut error = None;
    let kind: Option<Option<BounceKind>> = match f.kind.as_str() {
        "" => None,
        "none" => Some(None),
        k => match k.parse::<BounceKind>() {
            Ok(k) => Some(Some(k)),
            Err(e) => {
                error = Some(e.to_string());
                None
            }
        },
    };
    if !f.action.is_empty() && !ACTIONS.contains(&f.action.as_str()) {
        error = Some(format!(
            "`{}` is not an action: {}",
            f.action,
            ACTIONS.join(", ")
        ));
    }
    let reports = match state.store.bounce_reports(RECENT).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot read bounce reports");
            return unavailable(&state, &console.page);
        }
    };
    let shown: Vec<_> = reports
        .into_iter()
        .filter(|r| kind.is_none_or(|k| r.kind == k))
        .filter(|r| f.action.is_empty() || r.action == f.action)
        .take(if error.is_some() { 0 } else { SHOWN })
        .collect();
    // The readers' soft-bounce scores, once each.
    let mut scores: HashMap<SubscriberId, Option<f64>> = HashMap::new();
    for id in shown.iter().filter_map(|r| r.subscriber_id) {
        if scores.contains_key(&id) {
            continue;
        }
        match state.store.subscriber(id).await {
            Ok(s) => {
                scores.insert(id, s.map(|s| s.soft_bounce_score));
            }
            Err(e) => {
                tracing::error!(error = %e, "console: cannot read a subscriber");
                return unavailable(&state, &console.page);
            }
        }
    }
    let threshold = state.settings.bounce.soft_threshold;
    let rows: Vec<Value> = shown
        .iter()
        .map(|r| {
            let score = r
                .subscriber_id
                .and_then(|id| scores.get(&id).copied().flatten());
            let attributed = !matches!(
                r.action.as_str(),
                "forged" | "unattributed" | "not-a-bounce"
            );
            json!({
                "at": r.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                "source": r.source,
                "kind": r.kind.map(|k| k.as_str()).unwrap_or("none"),
                "action": r.action,
                "suspicious": !attributed,
                "attribution": r.attribution,
                "subscriber": r.subscriber_id.map(|s| s.to_string()),
                "score": score.map(|s| format!("{s:.1} / {threshold}")),
                "code": r.status_code,
                "reason": r.reason,
            })
        })
        .collect();
    let chips = |all: &[&str], chosen: &str, param: &str| -> Vec<Value> {
        all.iter()
            .map(|v| {
                json!({
                    "href": format!("/console/bounces?{param}={v}"),
                    "label": v,
                    "current": *v == chosen,
                })
            })
            .collect()
    };
    let data = json!({
        "rows": rows,
        "kinds": chips(&KINDS, &f.kind, "kind"),
        "actions": chips(&ACTIONS, &f.action, "action"),
        "filtered": !f.kind.is_empty() || !f.action.is_empty(),
        "error": error,
        "threshold": threshold,
    });
    console.render(
        &state,
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "console-bounces-title",
        "bounces",
        data,
    )
}
