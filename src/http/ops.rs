//! Operations endpoints: health and metrics.
//!
//! `/api/status` calls `app::status`; the health check pings the store; `/metrics` adds the
//! return channel's stored counters (`app::bounces`) and the gauges read from the database at
//! scrape (`app::status::gauges`: campaigns, subscribers, bounce reports, queued mail) to this
//! process's own.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// 200 when the database answers, 503 when it does not (a load balancer takes us out).
pub async fn healthz(State(state): State<AppState>) -> Response {
    let check = tokio::time::timeout(std::time::Duration::from_secs(3), state.store.ping()).await;
    match check {
        Ok(Ok(())) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
        Err(_) => {
            tracing::warn!("health check: database did not answer within 3s");
            (StatusCode::SERVICE_UNAVAILABLE, "database timeout\n").into_response()
        }
    }
}

/// Prometheus text exposition: this process's metrics, then the return channel's counters
/// as the database keeps them (every process counts there: the pipe, the API, the poller).
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = crate::metrics::render(&state.metrics);
    match crate::app::bounces::stored_counters(state.store.as_ref()).await {
        Ok(counters) => crate::metrics::render_stored_counters(
            &mut body,
            &crate::app::bounces::COUNTERS,
            counters
                .iter()
                .map(|c| (c.name.as_str(), c.label.as_str(), c.value)),
        ),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the stored counters"),
    }
    match crate::app::status::gauges(state.store.as_ref()).await {
        Ok(gauges) => crate::metrics::render_gauges(&mut body, &gauges),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the stored gauges"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `GET /api/status`: what `kairan status --json` prints.
pub async fn status(State(state): State<AppState>) -> Response {
    match crate::app::status::gather(state.store.as_ref()).await {
        Ok(report) => axum::Json(report).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "status: cannot read the database");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}
