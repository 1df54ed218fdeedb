//! The axum adapter: [`router`] builds the whole app; the integration tests run it on a real
//! socket on port 0 (`startup::Application`) and talk to it with an HTTP client.
//! Cross-cutting layers: request tracing with a request id, a body-size limit, a timeout so
//! draining cannot hang, and request metrics by matched route.
//!
//! Handlers read their input (forms, JSON, paths), call a use case of `app`, and map its
//! answer to a page or a status code; they make no decision of their own. May depend on
//! everything but `startup` and `cli`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::app::ports::{Mailer, Store};
use crate::config::Settings;

mod acting;
pub mod admin;
mod api_approval;
mod api_bounces;
mod api_issues;
mod archive;
pub mod console;
mod media;
mod ops;
pub mod pages;
pub mod public;
pub mod subscribers_api;
mod webhooks;

/// What every handler may reach: small, cloneable, no globals.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub metrics: PrometheusHandle,
    /// Templates and Fluent messages, compiled once.
    pub renderer: Arc<crate::render::Renderer>,
    /// Signs and verifies the tokens in links (confirm, unsubscribe, preferences, VERP).
    pub signer: Arc<crate::domain::Signer>,
    /// Sends the subscription mails (confirmation, welcome).
    pub notifier: crate::app::notify::Notifier,
    /// The configured providers' event webhooks (keys, the SNS certificate cache).
    pub webhooks: Arc<crate::bounce::sources::webhooks::Webhooks>,
}

/// The whole HTTP app.
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.http.body_limit;
    let timeout = state.settings.http.request_timeout;
    // Admin routes are added to `api` by the features that own them; all of them sit behind
    // the bearer-token gate, and the whole tree is absent without `admin.token`.
    let api: Router<AppState> = Router::new()
        .route("/status", get(ops::status))
        .merge(api_issues::routes())
        .merge(subscribers_api::routes())
        .merge(api_bounces::routes())
        .merge(api_approval::routes());
    let mut app = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .merge(public::routes(&state))
        .merge(archive::routes())
        .merge(console::routes())
        .merge(media::routes())
        .merge(webhooks::routes(&state));
    // Mounted always: personal API tokens (issue 14) work without `admin.token`; the gate
    // answers 404 when neither is in play.
    app = app.nest(
        "/api",
        api.route_layer(middleware::from_fn_with_state(
            state.clone(),
            admin::require_admin,
        )),
    );
    // A person's console form posts run on their behalf: the use cases audit them (issue 14).
    app = app.route_layer(middleware::from_fn_with_state(
        state.clone(),
        acting::console_actor,
    ));
    app.route_layer(middleware::from_fn_with_state(state.clone(), track_metrics))
        .with_state(state.clone())
        .layer(RequestBodyLimitLayer::new(body_limit))
        // The editors' image upload and the console's CSV import: their own limits
        // (`console.max_image_bytes`, `console.max_import_bytes`), read by the handlers;
        // handler; merged after the general body limit so that limit does not apply.
        .merge(
            console::upload_routes(&state.settings)
                .route_layer(middleware::from_fn_with_state(
                    state.clone(),
                    acting::console_actor,
                ))
                .with_state(state),
        )
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            // The path only (query strings can carry tokens), with tokens in it redacted.
            let path = pages::redact_path(req.uri().path());
            tracing::info_span!("http", method = %req.method(), path = %path, request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Counts requests and times them, labelled by route template (not raw path: tokens in
/// paths would explode the label set).
async fn track_metrics(State(_): State<AppState>, req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let start = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("path", path), ("status", status)];
    metrics::counter!(crate::metrics::HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(crate::metrics::HTTP_DURATION, &labels)
        .record(start.elapsed().as_secs_f64());
    response
}
