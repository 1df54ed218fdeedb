//! `/console/subscribers` (issue 16, admins): search by address or name with status and
//! language filters and keyset "next page" links; a reader's page (consent records,
//! deliveries, bounce history, soft-bounce score); add, unsubscribe and erase (a
//! confirmation step first), each POST with the form token, the role guard and an audit line.
//! The decisions are `app::directory`'s and `app::subscription`'s, as for the CLI and `/api`.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, routing::post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Console, see_other, unavailable};
use crate::app::accounts::audit;
use crate::app::directory;
use crate::app::ports::SubscriberSearch;
use crate::app::subscription::{self, Mail, Registration, Requester, Subscribed};
use crate::domain::{
    Action, EmailAddress, LangPref, SubscriberId, SubscriberStatus, SubscriptionSource, parse_name,
};
use crate::http::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/subscribers", get(list).post(add))
        .route("/console/subscribers/{id}", get(reader))
        .route("/console/subscribers/{id}/unsubscribe", post(unsubscribe))
        .route(
            "/console/subscribers/{id}/erase",
            get(erase_confirm).post(erase),
        )
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(time).unwrap_or_default()
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    /// The language filter (`lang` is the page's own language switch).
    #[serde(default)]
    language: String,
    #[serde(default)]
    after: String,
}

#[derive(Debug, Default, Deserialize)]
struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    confirmed: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

const ADD_LANGS: [&str; 3] = ["ja", "en", "both"];

fn options<T: Copy + PartialEq>(
    all: &[T],
    chosen: Option<T>,
    prefix: &str,
    name: impl Fn(T) -> &'static str,
) -> Vec<Value> {
    all.iter()
        .map(|v| {
            json!({
                "value": name(*v),
                "label": format!("{prefix}{}", name(*v)),
                "selected": chosen == Some(*v),
            })
        })
        .collect()
}

/// The search page, with `error` (a message already in words) for the add form.
async fn list_page(
    state: &AppState,
    console: &Console,
    q: &ListQuery,
    status: StatusCode,
    add_error: Option<String>,
    add: Option<&AddForm>,
) -> Response {
    let text = q.q.trim();
    let mut bad = Vec::new();
    let status_filter = match q.status.as_str() {
        "" => None,
        s => s
            .parse::<SubscriberStatus>()
            .map_err(|e| bad.push(e.to_string()))
            .ok(),
    };
    let lang_filter = match q.language.as_str() {
        "" => None,
        s => s
            .parse::<LangPref>()
            .map_err(|e| bad.push(e.to_string()))
            .ok(),
    };
    let after = match q.after.as_str() {
        "" => None,
        s => s
            .parse::<i64>()
            .map(SubscriberId::new)
            .map_err(|_| bad.push(format!("`{s}` is not a page position")))
            .ok(),
    };
    let search = SubscriberSearch {
        text: (!text.is_empty()).then(|| text.to_owned()),
        status: status_filter,
        lang: lang_filter,
        after_id: after,
        limit: 0,
    };
    let found = if bad.is_empty() {
        match directory::search(state.store.as_ref(), &search).await {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(error = %e, "console: cannot search subscribers");
                return unavailable(state, &console.page);
            }
        }
    } else {
        None
    };
    let rows: Vec<Value> = found
        .as_ref()
        .map(|p| {
            p.subscribers
                .iter()
                .map(|s| {
                    json!({
                        "id": s.id.to_string(),
                        "email": s.email.as_str(),
                        "name": s.name,
                        "lang": s.lang.as_str(),
                        "status": s.status.as_str(),
                        "status_label": format!("console-ops-status-{}", s.status.as_str()),
                        "created": time(s.created_at),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let next = found.as_ref().and_then(|p| p.next_after).map(|after| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        url.append_pair("q", text)
            .append_pair("status", &q.status)
            .append_pair("language", &q.language)
            .append_pair("after", &after.to_string());
        format!("/console/subscribers?{}", url.finish())
    });
    let data = json!({
        "q": text,
        "statuses": options(SubscriberStatus::ALL, status_filter, "console-ops-status-", |s| s.as_str()),
        "langs": options(&[LangPref::Ja, LangPref::En, LangPref::Both], lang_filter, "console-ops-lang-", |l| l.as_str()),
        "filter_error": bad.join("; "),
        "rows": rows,
        "none": found.is_some() && rows.is_empty(),
        "next": next,
        "first_page": after.is_some(),
        "add_error": add_error,
        "add": add.map_or_else(
            || json!({ "email": "", "name": "", "lang": "ja", "confirmed": false }),
            |a| json!({ "email": a.email, "name": a.name, "lang": a.lang, "confirmed": a.confirmed.is_some() }),
        ),
        "add_langs": ADD_LANGS.iter().map(|l| json!({
            "value": l,
            "label": format!("console-ops-lang-{l}"),
            "selected": add.map(|a| a.lang.as_str()).unwrap_or("ja") == *l,
        })).collect::<Vec<_>>(),
    });
    console.render(
        state,
        if bad.is_empty() {
            status
        } else {
            StatusCode::BAD_REQUEST
        },
        "console-nav-subscribers",
        "subscribers",
        data,
    )
}

async fn list(
    State(state): State<AppState>,
    console: Console,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = console.require(&state, Action::ManageSubscribers) {
        return r;
    }
    list_page(&state, &console, &q, StatusCode::OK, None, None).await
}

async fn add(State(state): State<AppState>, console: Console, Form(f): Form<AddForm>) -> Response {
    if let Err(r) = console.permit(&state, &f.csrf, Action::ManageSubscribers) {
        return r;
    }
    let refuse = |msg: String| async {
        list_page(
            &state,
            &console,
            &ListQuery::default(),
            StatusCode::BAD_REQUEST,
            Some(msg),
            Some(&f),
        )
        .await
    };
    let email = match EmailAddress::parse(f.email.trim()) {
        Ok(e) => e,
        Err(e) => return refuse(format!("{}: {e}", f.email.trim())).await,
    };
    let name = match parse_name(&f.name) {
        Ok(n) => n,
        Err(e) => return refuse(e.to_string()).await,
    };
    let Ok(lang) = f.lang.parse::<LangPref>() else {
        return refuse(format!("`{}`: ja, en or both", f.lang)).await;
    };
    let confirmed = f.confirmed.is_some();
    let reg = Registration {
        email,
        name,
        lang,
        by: Requester::Operator {
            via: SubscriptionSource::Api,
            confirmed,
        },
    };
    let now = Utc::now();
    let done = match subscription::register(
        state.store.as_ref(),
        &reg,
        state.settings.subscribe.resend_interval,
        Mail::Later(&state.notifier),
        now,
    )
    .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot add a subscriber");
            return unavailable(&state, &console.page);
        }
    };
    let Some(id) = done.outcome.id() else {
        debug_assert!(matches!(done.outcome, Subscribed::Suppressed));
        return refuse(text(&state, &console, "console-subscribers-suppressed")).await;
    };
    if let Err(e) = audit::record(
        state.store.as_ref(),
        &console.actor(),
        "subscriber.added",
        format!("subscriber {id}"),
        done.outcome.name(),
        now,
    )
    .await
    {
        tracing::error!(error = %e, "console: cannot write the audit line");
    }
    tracing::info!(subscriber = %id, outcome = done.outcome.name(), user = console.user.id, "console: subscriber added");
    see_other(&format!("/console/subscribers/{id}"))
}

fn text(state: &AppState, console: &Console, id: &str) -> String {
    state
        .renderer
        .i18n()
        .t(console.page.lang, id, &[])
        .unwrap_or_default()
}

fn parse_id(raw: &str) -> Option<SubscriberId> {
    raw.parse::<i64>().ok().map(SubscriberId::new)
}

async fn not_found(state: &AppState, console: &Console) -> Response {
    console.render(
        state,
        StatusCode::NOT_FOUND,
        "console-subscribers-missing-title",
        "message",
        json!({ "message": "console-subscribers-missing" }),
    )
}

async fn reader(
    State(state): State<AppState>,
    console: Console,
    Path(raw): Path<String>,
) -> Response {
    if let Err(r) = console.require(&state, Action::ManageSubscribers) {
        return r;
    }
    let Some(id) = parse_id(&raw) else {
        return not_found(&state, &console).await;
    };
    let h = match directory::history(state.store.as_ref(), id).await {
        Ok(Some(h)) => h,
        Ok(None) => return not_found(&state, &console).await,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot read a subscriber");
            return unavailable(&state, &console.page);
        }
    };
    let s = &h.subscriber;
    let data = json!({
        "id": s.id.to_string(),
        "email": s.email.as_str(),
        "name": s.name,
        "reader_lang": s.lang.as_str(),
        "reader_lang_label": format!("console-ops-lang-{}", s.lang.as_str()),
        "status": s.status.as_str(),
        "status_label": format!("console-ops-status-{}", s.status.as_str()),
        "source": s.source.as_str(),
        "source_label": format!("console-ops-source-{}", s.source.as_str()),
        "created": time(s.created_at),
        "confirmed": opt_time(s.confirmed_at),
        "unsubscribed": opt_time(s.unsubscribed_at),
        "unsubscribe_method": s.unsubscribe_method,
        "can_unsubscribe": matches!(s.status, SubscriberStatus::Pending | SubscriberStatus::Active),
        "soft_score": format!("{:.1}", h.soft_bounce_score),
        "consents": h.consents.iter().map(|c| json!({
            "method": c.method.as_str(),
            "method_label": format!("console-ops-source-{}", c.method.as_str()),
            "form_at": time(c.form_at),
            "confirmed_at": opt_time(c.confirmed_at),
            "ip": c.ip,
            "page_lang": c.page_lang.map(|l| l.as_str()),
            "text_version": c.text_version,
        })).collect::<Vec<_>>(),
        "deliveries": h.deliveries.iter().map(|d| json!({
            "slug": d.slug,
            "state": d.state.as_str(),
            "state_label": format!("console-ops-delivery-{}", d.state.as_str()),
            "attempts": d.attempts,
            "sent_at": opt_time(d.sent_at),
            "updated_at": time(d.updated_at),
            "reply": d.last_reply,
        })).collect::<Vec<_>>(),
        "bounces": h.bounces.iter().map(|b| json!({
            "at": time(b.received_at),
            "kind": b.kind.map(|k| k.as_str()).unwrap_or("-"),
            "action": b.action,
            "attribution": b.attribution,
            "source": b.source,
            "code": b.status_code,
            "reason": b.reason,
        })).collect::<Vec<_>>(),
    });
    console.render(
        &state,
        StatusCode::OK,
        "console-subscribers-reader-title",
        "subscriber",
        data,
    )
}

async fn unsubscribe(
    State(state): State<AppState>,
    console: Console,
    Path(raw): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = console.permit(&state, &f.csrf, Action::ManageSubscribers) {
        return r;
    }
    let Some(id) = parse_id(&raw) else {
        return not_found(&state, &console).await;
    };
    let now = Utc::now();
    match state.store.subscriber(id).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(&state, &console).await,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot read a subscriber");
            return unavailable(&state, &console.page);
        }
    }
    match subscription::unsubscribe(state.store.as_ref(), id, "console", now).await {
        Ok(changed) => {
            if changed
                && let Err(e) = audit::record(
                    state.store.as_ref(),
                    &console.actor(),
                    "subscriber.unsubscribed",
                    format!("subscriber {id}"),
                    "",
                    now,
                )
                .await
            {
                tracing::error!(error = %e, "console: cannot write the audit line");
            }
            tracing::info!(subscriber = %id, changed, user = console.user.id, "console: unsubscribed");
            see_other(&format!("/console/subscribers/{id}"))
        }
        Err(e) => {
            tracing::error!(error = %e, "console: cannot unsubscribe");
            unavailable(&state, &console.page)
        }
    }
}

async fn erase_confirm(
    State(state): State<AppState>,
    console: Console,
    Path(raw): Path<String>,
) -> Response {
    if let Err(r) = console.require(&state, Action::ManageSubscribers) {
        return r;
    }
    let Some(id) = parse_id(&raw) else {
        return not_found(&state, &console).await;
    };
    match state.store.subscriber(id).await {
        Ok(Some(s)) => console.render(
            &state,
            StatusCode::OK,
            "console-subscribers-erase-title",
            "subscriber_erase",
            json!({ "id": id.to_string(), "email": s.email.as_str() }),
        ),
        Ok(None) => not_found(&state, &console).await,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot read a subscriber");
            unavailable(&state, &console.page)
        }
    }
}

async fn erase(
    State(state): State<AppState>,
    console: Console,
    Path(raw): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = console.permit(&state, &f.csrf, Action::ManageSubscribers) {
        return r;
    }
    let Some(id) = parse_id(&raw) else {
        return not_found(&state, &console).await;
    };
    if f.confirm != "erase" {
        return see_other(&format!("/console/subscribers/{id}/erase"));
    }
    let sub = match state.store.subscriber(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_found(&state, &console).await,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot read a subscriber");
            return unavailable(&state, &console.page);
        }
    };
    let now = Utc::now();
    match subscription::erase(state.store.as_ref(), &sub, now).await {
        Ok(_) => {
            if let Err(e) = audit::record(
                state.store.as_ref(),
                &console.actor(),
                "subscriber.erased",
                format!("subscriber {id}"),
                "",
                now,
            )
            .await
            {
                tracing::error!(error = %e, "console: cannot write the audit line");
            }
            tracing::info!(subscriber = %id, user = console.user.id, "console: subscriber erased");
            console.render(
                &state,
                StatusCode::OK,
                "console-subscribers-erase-title",
                "message",
                json!({
                    "message": "console-subscribers-erased",
                    "link": "/console/subscribers",
                    "link_label": "console-nav-subscribers",
                }),
            )
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "console: cannot erase a subscriber");
            unavailable(&state, &console.page)
        }
    }
}
