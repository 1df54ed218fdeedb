//! The web archive: `GET /archive` lists the issues that have gone out, and
//! `GET /archive/{slug}?lang=` shows one in the page's language — the "view in browser" link
//! of every mail. An issue appears once its campaign has started (so the link works in the
//! very first message) and never if it was cancelled before.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use super::AppState;
use super::pages::Page;
use crate::domain::Issue;
use crate::domain::IssueState;
use crate::render::text::markdown_to_html;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/archive", get(list))
        .route("/archive/{slug}", get(show))
}

fn published(i: &Issue) -> bool {
    i.started_at.is_some() && i.state != IssueState::Cancelled
}

fn date(state: &AppState, i: &Issue) -> String {
    i.started_at
        .map(|t| {
            t.with_timezone(&state.settings.schedule.timezone)
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default()
}

async fn list(State(state): State<AppState>, page: Page) -> Response {
    let issues = match state.store.list_issues().await {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, "archive: cannot list issues");
            return page.unavailable(&state);
        }
    };
    let mut items: Vec<_> = issues
        .iter()
        .filter(|i| published(i))
        .map(|i| json!({"slug": i.slug, "subject": i.content(page.lang).subject, "date": date(&state, i)}))
        .collect();
    items.reverse();
    page.render(
        &state,
        StatusCode::OK,
        "archive",
        "archive-title",
        json!({ "issues": items }),
    )
}

async fn show(State(state): State<AppState>, Path(slug): Path<String>, page: Page) -> Response {
    let issue = match state.store.list_issues().await {
        Ok(issues) => issues.into_iter().find(|i| i.slug == slug && published(i)),
        Err(e) => {
            tracing::error!(error = %e, "archive: cannot read issues");
            return page.unavailable(&state);
        }
    };
    let Some(issue) = issue else {
        return page.render(
            &state,
            StatusCode::NOT_FOUND,
            "not-found",
            "archive-not-found-title",
            json!({}),
        );
    };
    let content = issue.content(page.lang);
    let mut response = page.render_titled(
        &state,
        StatusCode::OK,
        "archive-issue",
        &content.subject,
        json!({
            "subject": content.subject,
            "date": date(&state, &issue),
            "body": markdown_to_html(&content.markdown),
        }),
    );
    // An issue shows the images its editors linked (absolute https URLs, checked at queue
    // time); everything else stays as strict as the other pages.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}
