//! `/api/subscribers` (issue 3), behind the admin bearer gate of `admin.rs`:
//!
//! - `GET /api/subscribers?status=&lang=&after=&limit=`: a page of subscribers (keyset
//!   paging by id; `limit` 1..=1000, default 100) and `next_after` for the next page;
//! - `GET /api/subscribers/{id}`: one subscriber with its consent records;
//! - `POST /api/subscribers` `{"email", "name"?, "lang", "confirmed"?}`: adds one (pending
//!   with a confirmation mail, or active when `confirmed`), 201; 422 for bad input, 409 when
//!   the address is already on the list or was erased;
//! - `DELETE /api/subscribers/{id}`: erases the subscriber's personal data (GDPR erasure;
//!   the address goes on the suppression list as a salted hash), 204.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::admin::{Body, error, store_error};
use crate::app::ports::SubscriberQuery;
use crate::app::subscription::{
    self, Mail, Mailed, Registration, Requester, Subscribed, SubscriberView,
};
use crate::domain::{
    Consent, EmailAddress, LangPref, SubscriberId, SubscriberStatus, SubscriptionSource, parse_name,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/subscribers", get(list).post(add))
        .route("/subscribers/{id}", get(show).delete(erase))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    status: Option<String>,
    lang: Option<String>,
    after: Option<SubscriberId>,
    limit: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(p)) = params else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad query: status, lang, after (id), limit (1..=1000)",
        );
    };
    let status = match p.status.as_deref().map(str::parse::<SubscriberStatus>) {
        Some(Err(e)) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let lang = match p.lang.as_deref().map(str::parse::<LangPref>) {
        Some(Err(e)) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        Some(Ok(l)) => Some(l),
        None => None,
    };
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return error(StatusCode::BAD_REQUEST, "limit must be within 1..=1000");
    }
    let q = SubscriberQuery {
        status,
        lang,
        after_id: p.after,
        limit: Some(limit),
    };
    match state.store.list_subscribers(&q).await {
        Ok(subs) => {
            let next_after = (subs.len() == limit as usize)
                .then(|| subs.last().map(|s| s.id))
                .flatten();
            let subscribers: Vec<SubscriberView> = subs.into_iter().map(Into::into).collect();
            Json(json!({ "subscribers": subscribers, "next_after": next_after })).into_response()
        }
        Err(e) => store_error(e),
    }
}

#[derive(Debug, Serialize)]
struct ConsentView {
    method: &'static str,
    form_at: chrono::DateTime<Utc>,
    confirmed_at: Option<chrono::DateTime<Utc>>,
    ip: Option<String>,
    user_agent: Option<String>,
    page_lang: Option<crate::domain::Lang>,
    text_hash: Option<String>,
    text_version: Option<String>,
}

impl From<Consent> for ConsentView {
    fn from(c: Consent) -> Self {
        ConsentView {
            method: c.method.as_str(),
            form_at: c.form_at,
            confirmed_at: c.confirmed_at,
            ip: c.ip,
            user_agent: c.user_agent,
            page_lang: c.page_lang,
            text_hash: c.text_hash,
            text_version: c.text_version,
        }
    }
}

async fn show(State(state): State<AppState>, Path(id): Path<SubscriberId>) -> Response {
    let sub = match state.store.subscriber(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no subscriber {id}")),
        Err(e) => return store_error(e),
    };
    let consents = match state.store.consents(id).await {
        Ok(c) => c.into_iter().map(ConsentView::from).collect::<Vec<_>>(),
        Err(e) => return store_error(e),
    };
    let mut v = serde_json::to_value(SubscriberView::from(sub)).unwrap_or_default();
    v["consents"] = json!(consents);
    Json(v).into_response()
}

#[derive(Debug, Deserialize)]
struct AddBody {
    email: String,
    #[serde(default)]
    name: Option<String>,
    lang: String,
    #[serde(default)]
    confirmed: bool,
}

async fn add(State(state): State<AppState>, Body(body): Body<AddBody>) -> Response {
    let email = match EmailAddress::parse(&body.email) {
        Ok(e) => e,
        Err(e) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": e.to_string(), "field": "email"})),
            )
                .into_response();
        }
    };
    let name = match parse_name(body.name.as_deref().unwrap_or("")) {
        Ok(n) => n,
        Err(e) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": e.to_string(), "field": "name"})),
            )
                .into_response();
        }
    };
    let lang = match body.lang.parse::<LangPref>() {
        Ok(l) => l,
        Err(e) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": e.to_string(), "field": "lang"})),
            )
                .into_response();
        }
    };
    let reg = Registration {
        email,
        name,
        lang,
        by: Requester::Operator {
            via: SubscriptionSource::Api,
            confirmed: body.confirmed,
        },
    };
    let done = match subscription::register(
        state.store.as_ref(),
        &reg,
        state.settings.subscribe.resend_interval,
        Mail::Now(&state.notifier),
        Utc::now(),
    )
    .await
    {
        Ok(d) => d,
        Err(e) => return store_error(e),
    };
    match done.outcome {
        Subscribed::Created { id, .. } | Subscribed::Restarted { id, .. } => {
            if let Mailed::NotSent(mail, e) = &done.mail {
                tracing::warn!(subscriber_id = id.get(), mail_id = mail.get(), error = %e, "confirmation mail not sent now");
            }
            tracing::info!(
                subscriber_id = id.get(),
                "subscriber added through the admin API"
            );
            match state.store.subscriber(id).await {
                Ok(Some(s)) => (StatusCode::CREATED, Json(SubscriberView::from(s))).into_response(),
                Ok(None) => error(StatusCode::NOT_FOUND, "the subscriber vanished"),
                Err(e) => store_error(e),
            }
        }
        Subscribed::Confirmed { id } => match state.store.subscriber(id).await {
            Ok(Some(s)) => (StatusCode::OK, Json(SubscriberView::from(s))).into_response(),
            Ok(None) => error(StatusCode::NOT_FOUND, "the subscriber vanished"),
            Err(e) => store_error(e),
        },
        Subscribed::StillPending { id, .. } | Subscribed::Unchanged { id, .. } => (
            StatusCode::CONFLICT,
            Json(json!({"error": "the address is already on the list", "id": id})),
        )
            .into_response(),
        Subscribed::Suppressed => error(
            StatusCode::CONFLICT,
            "the address was erased on request; only the reader can subscribe it again",
        ),
    }
}

async fn erase(State(state): State<AppState>, Path(id): Path<SubscriberId>) -> Response {
    let sub = match state.store.subscriber(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no subscriber {id}")),
        Err(e) => return store_error(e),
    };
    match subscription::erase(state.store.as_ref(), &sub, Utc::now()).await {
        Ok(_) => {
            tracing::info!(
                subscriber_id = id.get(),
                "subscriber erased through the admin API"
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => store_error(e),
    }
}
