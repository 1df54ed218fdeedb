//! `/console` (the operators' dashboard, issue 16) and `/console/events` (its server-sent
//! events), for admins and editors alike; `/static/console.js` updates the numbers from the
//! events. Without JavaScript the page shows the numbers at load and a "refresh" link.
//!
//! The numbers are `app::dashboard::gather`'s; the health panel `app::dashboard::health`'s
//! (probed at page load only: an SMTP connection a second would be rude to the relay).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use futures_util::stream::{self, Stream};
use serde_json::{Map, Value, json};

use super::{Console, unavailable};
use crate::app::dashboard::{self, Dashboard, Level};
use crate::app::ports::StoreError;
use crate::domain::{IssueState, Lang, LangPref, SubscriberStatus};
use crate::http::AppState;
use crate::http::pages::secure_headers;

/// How often the event stream sends the numbers.
pub const EVENT_INTERVAL: Duration = Duration::from_secs(1);

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(page))
        .route("/console/events", get(events))
        .route("/static/console.js", get(script))
}

/// `m:ss` (or `h:mm:ss`).
fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

fn percent(rate: f64) -> String {
    format!("{:.2} %", rate * 100.0)
}

/// The values the page shows and the event stream updates, by their `data-live` key.
fn live_values(d: &Dashboard, state_label: &dyn Fn(IssueState) -> String) -> Map<String, Value> {
    let mut v = Map::new();
    for c in &d.campaigns {
        let k = |f: &str| format!("c{}-{f}", c.id);
        let n = &c.deliveries;
        let total = n.total();
        let done = n.sent + n.failed + n.skipped;
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        v.insert(k("state"), json!(state_label(c.state)));
        v.insert(k("sent"), json!(n.sent.to_string()));
        v.insert(k("failed"), json!(n.failed.to_string()));
        v.insert(k("retrying"), json!(n.retry.to_string()));
        v.insert(k("open"), json!(n.open().to_string()));
        v.insert(k("total"), json!(total.to_string()));
        v.insert(k("percent"), json!(format!("{pct} %")));
        v.insert(
            k("rate"),
            json!(
                c.rate_per_minute
                    .map(|r| r.to_string())
                    .unwrap_or("–".into())
            ),
        );
        v.insert(
            k("eta"),
            json!(c.eta_seconds.map(duration).unwrap_or("–".into())),
        );
        let errors: Vec<String> = c
            .last_errors
            .iter()
            .take(3)
            .map(|e| {
                format!(
                    "#{} {} ({}×): {}",
                    e.subscriber_id,
                    e.state.as_str(),
                    e.attempts,
                    e.reply.as_deref().unwrap_or("")
                )
            })
            .collect();
        v.insert(k("errors"), json!(errors.join(" · ")));
    }
    v.insert("queue".into(), json!(d.queue_depth.to_string()));
    v.insert("outbox".into(), json!(d.outbox_pending.to_string()));
    v.insert(
        "updated".into(),
        json!(d.at.format("%H:%M:%S UTC").to_string()),
    );
    v
}

fn level_class(l: Level) -> &'static str {
    match l {
        Level::Ok => "ok",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}

const FIELDS: [&str; 9] = [
    "state", "sent", "failed", "retrying", "open", "total", "percent", "rate", "eta",
];

async fn page(State(state): State<AppState>, console: Console) -> Response {
    let now = Utc::now();
    let d = match dashboard::gather(state.store.as_ref(), now).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot gather the dashboard");
            return unavailable(&state, &console.page);
        }
    };
    let probes = crate::mail::probe::SettingsProbes::new(&state.settings);
    let health = dashboard::health(state.store.as_ref(), &state.settings, &probes).await;
    let lang = console.page.lang;
    let live = live_values(&d, &|s| issue_state(&state, lang, s));
    let campaigns: Vec<Value> = d
        .campaigns
        .iter()
        .map(|c| {
            let key = |f: &str| format!("c{}-{f}", c.id);
            let val = |f: &str| live.get(&key(f)).cloned().unwrap_or(json!(""));
            json!({
                "id": c.id.to_string(),
                "slug": c.slug,
                "in_progress": matches!(c.state, IssueState::Sending | IssueState::Paused),
                "fields": FIELDS
                    .iter()
                    .map(|f| json!({ "key": key(f), "label": format!("console-dashboard-{f}"), "value": val(f) }))
                    .collect::<Vec<_>>(),
                "errors_key": key("errors"),
                "errors": val("errors"),
            })
        })
        .collect();
    let langs = [LangPref::Ja, LangPref::En, LangPref::Both];
    let count = |s: SubscriberStatus, l: LangPref| -> u64 {
        d.subscribers
            .counts
            .iter()
            .filter(|c| c.status == s && c.lang == l)
            .map(|c| c.count)
            .sum()
    };
    let subscribers: Vec<Value> = SubscriberStatus::ALL
        .iter()
        .map(|s| {
            let cells: Vec<u64> = langs.iter().map(|l| count(*s, *l)).collect();
            json!({
                "status": s.as_str(),
                "label": format!("console-ops-status-{}", s.as_str()),
                "cells": cells,
                "total": cells.iter().sum::<u64>(),
            })
        })
        .collect();
    let r = &d.rates;
    let warn = r.bounce_level != Level::Ok || r.complaint_level != Level::Ok;
    let data = json!({
        "name": console.user.display_name(),
        "role_label": super::role_label(&state, console.page.lang, console.user.role),
        "totp": console.user.totp,
        "campaigns": campaigns,
        "queue_key": "queue",
        "queue": live["queue"],
        "outbox": live["outbox"],
        "updated": live["updated"],
        "subscribers": subscribers,
        "joined": d.subscribers.month.joined,
        "left": d.subscribers.month.left,
        "rates": {
            "days": dashboard::RATE_DAYS,
            "sent": r.sent,
            "bounces": r.hard_bounces,
            "complaints": r.complaints,
            "bounce_rate": percent(r.bounce_rate),
            "complaint_rate": percent(r.complaint_rate),
            "bounce_level": level_class(r.bounce_level),
            "complaint_level": level_class(r.complaint_level),
            "bounce_warning": percent(dashboard::BOUNCE_WARNING),
            "complaint_warning": percent(dashboard::COMPLAINT_WARNING),
            "warn": warn,
        },
        "health": health.iter().map(|h| json!({
            "label": format!("console-health-{}", h.check),
            "ok": h.ok,
            "detail": h.detail,
        })).collect::<Vec<_>>(),
    });
    let mut r = console.render(
        &state,
        StatusCode::OK,
        "console-dashboard-title",
        "dashboard",
        data,
    );
    // This page alone runs a script (our own) and opens the event stream.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SCRIPT_POLICY),
    );
    r
}

/// The console's policy plus our own script and its same-origin event stream.
pub const SCRIPT_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The dashboard's numbers every [`EVENT_INTERVAL`], as `dashboard` events whose data is a
/// JSON object of `data-live` key → text.
async fn events(State(state): State<AppState>, console: Console) -> Response {
    tracing::debug!(user = console.user.id, "console: dashboard events opened");
    let stream = live_stream(state, console.page.lang);
    let mut r = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    secure_headers(r.headers_mut());
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// One gathering a second for all the open event streams, however many people watch (one
/// process serves one database, so the figures are shared process-wide).
async fn shared_gather(state: &AppState) -> Result<Arc<Dashboard>, StoreError> {
    static LAST: tokio::sync::Mutex<Option<(Instant, Arc<Dashboard>)>> =
        tokio::sync::Mutex::const_new(None);
    let mut last = LAST.lock().await;
    if let Some((at, d)) = last.as_ref()
        && at.elapsed() < EVENT_INTERVAL - Duration::from_millis(100)
    {
        return Ok(d.clone());
    }
    let d = Arc::new(dashboard::gather(state.store.as_ref(), Utc::now()).await?);
    *last = Some((Instant::now(), d.clone()));
    Ok(d)
}

/// An issue state in the page's language.
fn issue_state(state: &AppState, lang: Lang, s: IssueState) -> String {
    state
        .renderer
        .i18n()
        .t(lang, &format!("console-ops-issue-{}", s.as_str()), &[])
        .unwrap_or_else(|_| s.as_str().to_owned())
}

fn live_stream(state: AppState, lang: Lang) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold((state, true), move |(state, first)| async move {
        if !first {
            tokio::time::sleep(EVENT_INTERVAL).await;
        }
        let event = match shared_gather(&state).await {
            Ok(d) => Event::default()
                .event("dashboard")
                .json_data(Value::Object(live_values(&d, &|s| {
                    issue_state(&state, lang, s)
                })))
                .unwrap_or_else(|_| Event::default().comment("unencodable")),
            Err(e) => {
                tracing::warn!(error = %e, "console: dashboard events: cannot gather");
                Event::default().event("unavailable").data("database")
            }
        };
        Some((Ok(event), (state, false)))
    })
}

/// The console's script: listens to `/console/events` and writes each value into the
/// elements whose `data-live` names it.
const SCRIPT: &str = r#""use strict";
(function () {
  var root = document.querySelector("[data-events]");
  if (!root || !window.EventSource) { return; }
  var source = new EventSource(root.getAttribute("data-events"));
  source.addEventListener("dashboard", function (e) {
    var values = JSON.parse(e.data);
    Object.keys(values).forEach(function (k) {
      document.querySelectorAll('[data-live="' + k + '"]').forEach(function (el) {
        if (el.textContent !== values[k]) { el.textContent = values[k]; }
      });
    });
    root.setAttribute("data-live-state", "on");
  });
  source.addEventListener("error", function () { root.setAttribute("data-live-state", "off"); });
})();
"#;

async fn script() -> Response {
    let mut r = SCRIPT.into_response();
    let h = r.headers_mut();
    secure_headers(h);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}
