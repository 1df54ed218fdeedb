//! `/api/issues`: the editor's controls over HTTP (behind the bearer gate of `admin.rs`).
//! Create from JSON `{slug, send_at?, allow_lossy?, ja: {subject, preheader?, markdown}, en: {…}}`,
//! list, show with delivery counts, edit (refused once sending has started), pause, resume,
//! cancel, send-now, and a test send. The handlers only read JSON and map answers to status
//! codes; the content checks are the editorial use case's (`app::editorial`).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::admin::{Body, error, store_error};
use crate::app::editorial::{self, Control, Draft, EditorialError, QueueRequest, SourceProblem};
use crate::domain::{EmailAddress, IssueId, LangPref};
use crate::domain::{Issue, IssueContent};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/issues", get(list).post(create))
        .route("/issues/{id}", get(show).put(edit))
        .route("/issues/{id}/pause", post(pause))
        .route("/issues/{id}/resume", post(resume))
        .route("/issues/{id}/cancel", post(cancel))
        .route("/issues/{id}/send-now", post(send_now))
        .route("/issues/{id}/test", post(test_send))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentBody {
    subject: String,
    #[serde(default)]
    preheader: Option<String>,
    markdown: String,
}

impl From<ContentBody> for IssueContent {
    fn from(c: ContentBody) -> Self {
        IssueContent {
            subject: c.subject.trim().to_owned(),
            preheader: c
                .preheader
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty()),
            markdown: c.markdown,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    slug: String,
    #[serde(default)]
    send_at: Option<DateTime<Utc>>,
    #[serde(default)]
    allow_lossy: bool,
    ja: ContentBody,
    en: ContentBody,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    #[serde(default)]
    send_at: Option<DateTime<Utc>>,
    ja: ContentBody,
    en: ContentBody,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    to: String,
    #[serde(default = "both")]
    lang: LangPref,
}

fn both() -> LangPref {
    LangPref::Both
}

fn problems_response(problems: &[SourceProblem]) -> Response {
    let list: Vec<_> = problems
        .iter()
        .map(|p| json!({"field": p.file, "line": p.line, "message": p.message}))
        .collect();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"error": "the issue is not valid", "problems": list})),
    )
        .into_response()
}

fn editorial_error(e: EditorialError) -> Response {
    match e {
        EditorialError::Invalid(p) => problems_response(&p),
        EditorialError::LegalFooter(_) | EditorialError::BadSlug(_) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        EditorialError::SlugTaken(_) | EditorialError::WrongState { .. } => {
            error(StatusCode::CONFLICT, e.to_string())
        }
        EditorialError::NotFound(_) => error(StatusCode::NOT_FOUND, e.to_string()),
        EditorialError::Store(e) => store_error(e),
    }
}

fn issue_json(i: &Issue, counts: Option<crate::domain::DeliveryCounts>) -> serde_json::Value {
    let content = |c: &IssueContent| json!({"subject": c.subject, "preheader": c.preheader, "markdown": c.markdown});
    json!({
        "id": i.id, "slug": i.slug, "state": i.state, "send_at": i.send_at,
        "created_at": i.created_at, "updated_at": i.updated_at,
        "started_at": i.started_at, "finished_at": i.finished_at,
        "ja": content(&i.ja), "en": content(&i.en),
        "deliveries": counts,
    })
}

/// Both languages as drafts the editorial use cases check (problems name `ja` / `en`).
fn drafts(ja: ContentBody, en: ContentBody) -> (Draft, Draft) {
    (Draft::new("ja", ja.into()), Draft::new("en", en.into()))
}

async fn create(State(state): State<AppState>, Body(body): Body<IssueBody>) -> Response {
    let (ja, en) = drafts(body.ja, body.en);
    let req = QueueRequest {
        slug: body.slug,
        send_at: body.send_at,
        ja,
        en,
        allow_lossy: body.allow_lossy,
    };
    match editorial::queue(state.store.as_ref(), &state.settings, req, Utc::now()).await {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        Err(e) => editorial_error(e),
    }
}

async fn list(State(state): State<AppState>) -> Response {
    match state.store.list_issues().await {
        Ok(issues) => {
            let items: Vec<_> = issues
                .iter()
                .map(|i| json!({"id": i.id, "slug": i.slug, "state": i.state, "send_at": i.send_at, "subject_ja": i.ja.subject, "subject_en": i.en.subject}))
                .collect();
            Json(items).into_response()
        }
        Err(e) => store_error(e),
    }
}

async fn show(State(state): State<AppState>, Path(id): Path<IssueId>) -> Response {
    match state.store.issue(id).await {
        Ok(Some(i)) => match state.store.delivery_counts(id).await {
            Ok(c) => Json(issue_json(&i, Some(c))).into_response(),
            Err(e) => store_error(e),
        },
        Ok(None) => error(StatusCode::NOT_FOUND, format!("issue {id} not found")),
        Err(e) => store_error(e),
    }
}

async fn edit(
    State(state): State<AppState>,
    Path(id): Path<IssueId>,
    Body(body): Body<EditBody>,
) -> Response {
    let (ja, en) = drafts(body.ja, body.en);
    match editorial::edit(state.store.as_ref(), id, body.send_at, ja, en, Utc::now()).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => editorial_error(e),
    }
}

async fn apply(state: AppState, id: IssueId, c: Control) -> Response {
    match editorial::control(state.store.as_ref(), id, c, Utc::now()).await {
        Ok(s) => Json(json!({"id": id, "state": s})).into_response(),
        Err(e) => editorial_error(e),
    }
}

async fn pause(State(state): State<AppState>, Path(id): Path<IssueId>) -> Response {
    apply(state, id, Control::Pause).await
}

async fn resume(State(state): State<AppState>, Path(id): Path<IssueId>) -> Response {
    apply(state, id, Control::Resume).await
}

async fn cancel(State(state): State<AppState>, Path(id): Path<IssueId>) -> Response {
    apply(state, id, Control::Cancel).await
}

/// Brings a queued issue's send time forward to now; the scheduler starts it at once.
async fn send_now(State(state): State<AppState>, Path(id): Path<IssueId>) -> Response {
    if crate::app::accounts::approval::needs_approval(&state.settings) {
        return error(
            StatusCode::CONFLICT,
            format!(
                "console.require_approval is on: POST /api/issues/{id}/request-send, then a \
                 different admin approves with POST /api/send-requests/{{request}}/approve"
            ),
        );
    }
    let now = Utc::now();
    match editorial::send_now(state.store.as_ref(), id, now).await {
        Ok(()) => Json(json!({"id": id, "send_at": now})).into_response(),
        Err(e) => editorial_error(e),
    }
}

async fn test_send(
    State(state): State<AppState>,
    Path(id): Path<IssueId>,
    Body(body): Body<TestBody>,
) -> Response {
    let to = match EmailAddress::parse(&body.to) {
        Ok(a) => a,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, format!("`to`: {e}")),
    };
    let issue = match state.store.issue(id).await {
        Ok(Some(i)) => i,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("issue {id} not found")),
        Err(e) => return store_error(e),
    };
    match crate::app::preview::send_test(
        &state.renderer,
        &state.settings,
        state.mailer.as_ref(),
        &issue,
        &to,
        body.lang,
    )
    .await
    {
        Ok(reply) => Json(json!({"sent": true, "reply": reply})).into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, format!("{e:#}")),
    }
}
