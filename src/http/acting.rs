//! Who a request acts for (issue 14): a person's console form post runs inside
//! [`crate::app::accounts::audit::acting_as`], so the use cases it calls (issue queued, edited,
//! paused, subscriber added, erased, imported …) write their audit line naming that person and
//! their client address, whichever console page calls them. The `/api/*` gate does the same
//! for API tokens (`admin::require_admin`). Reads and requests without a valid session pass
//! through untouched (the console's own extractor answers them).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use crate::app::accounts::{self, Actor};

/// Middleware: a console POST with a valid session runs on behalf of its person.
pub async fn console_actor(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let changes = !matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if !changes || !req.uri().path().starts_with("/console/") {
        return next.run(req).await;
    }
    let Some(cookie) = super::pages::cookie_value(req.headers(), super::console::SESSION_COOKIE)
    else {
        return next.run(req).await;
    };
    let now = chrono::Utc::now();
    let auth =
        match accounts::login::authenticate(state.store.as_ref(), &state.settings, &cookie, now)
            .await
        {
            Ok(Some(auth)) => auth,
            // No valid session, or the database is down: the page's extractor answers.
            _ => return next.run(req).await,
        };
    let (parts, body) = req.into_parts();
    let ip = super::pages::client_ip(&parts, state.settings.subscribe.trust_forwarded_for)
        .map(|ip| ip.to_string());
    let req = Request::from_parts(parts, body);
    let actor = Actor::user(&auth.user, ip);
    accounts::audit::acting_as(state.store.clone(), actor, next.run(req))
        .await
        .0
}
