//! The account pages: `/console/login`, `/console/logout`, `/console/setup/{token}`,
//! `/console/totp`. Before a session exists (login, setup) a form carries a double-submit
//! token: a random value in an HttpOnly, SameSite=Strict cookie and in the hidden `csrf`
//! field, compared in constant time.

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use serde_json::json;

use super::{Console, FORM_COOKIE, SESSION_COOKIE, cookie, render, see_other, unavailable};
use crate::app::accounts::{self, login, totp, users};
use crate::http::AppState;
use crate::http::pages::{Page, cookie_value};

/// A login or setup form is well under this.
const FORM_LIMIT: usize = 16 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/login", get(login_form).post(login_post))
        .route("/console/logout", post(logout))
        .route("/console/setup/{token}", get(setup_form).post(setup_post))
        .route("/console/totp", get(totp_page).post(totp_post))
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
}

/// The pre-session form token: the cookie's value, or a new one to set.
struct FormToken {
    value: String,
    set: Option<HeaderValue>,
}

fn form_token(headers: &axum::http::HeaderMap, page: &Page) -> FormToken {
    match cookie_value(headers, FORM_COOKIE).filter(|v| v.len() >= 32 && v.len() <= 64) {
        Some(value) => FormToken { value, set: None },
        None => {
            let value = accounts::random_token(32);
            let set = Some(cookie(FORM_COOKIE, &value, page.secure(), None));
            FormToken { value, set }
        }
    }
}

/// Whether the form's token matches its cookie (constant time).
fn form_token_ok(headers: &axum::http::HeaderMap, sent: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(c) = cookie_value(headers, FORM_COOKIE) else {
        return false;
    };
    let (a, b) = (accounts::digest(&c), accounts::digest(sent));
    !sent.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn with_cookie(mut r: Response, c: Option<HeaderValue>) -> Response {
    if let Some(c) = c {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

fn refused(
    state: &AppState,
    page: &Page,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    render(
        state,
        page,
        status,
        title,
        "message",
        json!({ "message": message }),
        None,
        None,
    )
}

fn csrf_refused(state: &AppState, page: &Page) -> Response {
    tracing::warn!("console: pre-session form token missing or wrong");
    metrics::counter!(crate::metrics::CONSOLE_REFUSED, "reason" => "csrf").increment(1);
    refused(
        state,
        page,
        StatusCode::FORBIDDEN,
        "console-csrf-title",
        "console-csrf",
    )
}

// ---- login ---------------------------------------------------------------------------

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct LoginForm {
    email: String,
    password: String,
    totp: String,
    csrf: String,
}

fn login_page(
    state: &AppState,
    page: &Page,
    status: StatusCode,
    token: &FormToken,
    email: &str,
    flash: Option<(&str, bool)>,
) -> Response {
    let r = render(
        state,
        page,
        status,
        "console-login-title",
        "login",
        json!({ "form_csrf": token.value, "email": email }),
        None,
        flash,
    );
    with_cookie(r, token.set.clone())
}

async fn login_form(
    State(state): State<AppState>,
    page: Page,
    headers: axum::http::HeaderMap,
) -> Response {
    // Already signed in: straight to the console.
    if let Some(c) = cookie_value(&headers, SESSION_COOKIE)
        && let Ok(Some(_)) =
            login::authenticate(state.store.as_ref(), &state.settings, &c, Utc::now()).await
    {
        return see_other("/console");
    }
    let token = form_token(&headers, &page);
    login_page(&state, &page, StatusCode::OK, &token, "", None)
}

async fn login_post(
    State(state): State<AppState>,
    page: Page,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !form_token_ok(&headers, &form.csrf) {
        return csrf_refused(&state, &page);
    }
    let attempt = login::Attempt {
        email: form.email.clone(),
        password: form.password,
        code: Some(form.totp).filter(|c| !c.trim().is_empty()),
        ip: page
            .ip
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into()),
    };
    let token = form_token(&headers, &page);
    let email: String = form.email.chars().take(254).collect();
    match login::login(state.store.as_ref(), &state.settings, &attempt, Utc::now()).await {
        Ok(Ok(session)) => {
            tracing::info!(user = session.user.id, "console: signed in");
            metrics::counter!(crate::metrics::CONSOLE_LOGINS, "result" => "ok").increment(1);
            let mut r = see_other("/console");
            r.headers_mut().append(
                header::SET_COOKIE,
                cookie(SESSION_COOKIE, &session.cookie, page.secure(), None),
            );
            r
        }
        Ok(Err(login::Refusal::Failed)) => {
            tracing::info!("console: a login failed");
            metrics::counter!(crate::metrics::CONSOLE_LOGINS, "result" => "failed").increment(1);
            login_page(
                &state,
                &page,
                StatusCode::UNAUTHORIZED,
                &token,
                &email,
                Some(("console-login-failed", true)),
            )
        }
        Ok(Err(login::Refusal::Throttled { retry_after })) => {
            tracing::warn!(retry_after, "console: login throttled");
            metrics::counter!(crate::metrics::CONSOLE_LOGINS, "result" => "throttled").increment(1);
            let minutes = retry_after.div_ceil(60).to_string();
            let text = state
                .renderer
                .i18n()
                .t(
                    page.lang,
                    "console-login-throttled",
                    &[("minutes", &minutes)],
                )
                .unwrap_or_default();
            let mut r = render(
                &state,
                &page,
                StatusCode::TOO_MANY_REQUESTS,
                "console-login-title",
                "throttled",
                json!({ "text": text }),
                None,
                None,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "console: login failed on the database");
            unavailable(&state, &page)
        }
    }
}

// ---- logout --------------------------------------------------------------------------

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct CsrfOnly {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    console: Console,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Err(r) = console.check_csrf(&state, &form.csrf) {
        return r;
    }
    let ip = console.page.ip.map(|i| i.to_string());
    if let Err(e) = login::logout(state.store.as_ref(), console.session(), ip, Utc::now()).await {
        tracing::error!(error = %e, "console: logout failed on the database");
        return unavailable(&state, &console.page);
    }
    let mut r = see_other("/console/login");
    r.headers_mut().append(
        header::SET_COOKIE,
        cookie(SESSION_COOKIE, "", console.page.secure(), Some(0)),
    );
    r
}

// ---- setup ---------------------------------------------------------------------------

fn setup_refused(state: &AppState, page: &Page, e: users::SetupError) -> Response {
    let (status, message) = match e {
        users::SetupError::Invalid => (StatusCode::NOT_FOUND, "console-setup-invalid"),
        users::SetupError::Expired => (StatusCode::GONE, "console-setup-expired"),
        users::SetupError::Used => (StatusCode::GONE, "console-setup-used"),
    };
    refused(state, page, status, "console-setup-title", message)
}

async fn setup_form(
    State(state): State<AppState>,
    page: Page,
    headers: axum::http::HeaderMap,
    Path(token): Path<String>,
) -> Response {
    match users::check_setup(state.store.as_ref(), &state.signer, &token, Utc::now()).await {
        Ok(Ok((_, user))) => {
            let form = form_token(&headers, &page);
            let r = render(
                &state,
                &page,
                StatusCode::OK,
                "console-setup-title",
                "setup",
                json!({ "form_csrf": form.value, "token": token, "email": user.email.as_str() }),
                None,
                None,
            );
            with_cookie(r, form.set)
        }
        Ok(Err(e)) => setup_refused(&state, &page, e),
        Err(e) => {
            tracing::error!(error = %e, "console: cannot read a setup link");
            unavailable(&state, &page)
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct SetupForm {
    password: String,
    password_confirm: String,
    csrf: String,
}

async fn setup_post(
    State(state): State<AppState>,
    page: Page,
    headers: axum::http::HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<SetupForm>,
) -> Response {
    if !form_token_ok(&headers, &form.csrf) {
        return csrf_refused(&state, &page);
    }
    let outcome = users::complete_setup(
        state.store.as_ref(),
        &state.signer,
        &token,
        &form.password,
        &form.password_confirm,
        page.ip.map(|i| i.to_string()),
        Utc::now(),
    )
    .await;
    match outcome {
        Ok(users::SetupOutcome::Done(user)) => {
            tracing::info!(user = user.id, "console: password set");
            render(
                &state,
                &page,
                StatusCode::OK,
                "console-setup-title",
                "message",
                json!({ "message": "console-setup-done", "link": "/console/login", "link_label": "console-login-submit" }),
                None,
                None,
            )
        }
        Ok(users::SetupOutcome::BadPassword(e)) => {
            let email =
                match users::check_setup(state.store.as_ref(), &state.signer, &token, Utc::now())
                    .await
                {
                    Ok(Ok((_, u))) => u.email.as_str().to_owned(),
                    _ => String::new(),
                };
            let f = form_token(&headers, &page);
            render(
                &state,
                &page,
                StatusCode::UNPROCESSABLE_ENTITY,
                "console-setup-title",
                "setup",
                json!({ "form_csrf": f.value, "token": token, "email": email, "error": e.message_id() }),
                None,
                None,
            )
        }
        Ok(users::SetupOutcome::Refused(e)) => setup_refused(&state, &page, e),
        Err(e) => {
            tracing::error!(error = %e, "console: cannot complete a setup");
            unavailable(&state, &page)
        }
    }
}

// ---- two-factor ----------------------------------------------------------------------

fn group(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn totp_page(State(state): State<AppState>, console: Console) -> Response {
    if console.user.totp {
        return console.render(
            &state,
            StatusCode::OK,
            "console-totp-title",
            "totp",
            json!({ "enabled": true }),
        );
    }
    let issuer = state
        .settings
        .newsletter
        .lang(console.page.lang)
        .name
        .clone();
    match totp::begin(state.store.as_ref(), &console.user, &issuer).await {
        Ok((secret, uri)) => console.render(
            &state,
            StatusCode::OK,
            "console-totp-title",
            "totp",
            json!({
                "secret": secret,
                "secret_grouped": group(&secret),
                "uri": uri,
                "required": state.settings.console.require_totp,
            }),
        ),
        Err(e) => {
            tracing::error!(error = %e, "console: cannot begin TOTP enrolment");
            unavailable(&state, &console.page)
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct TotpForm {
    code: String,
    csrf: String,
}

async fn totp_post(
    State(state): State<AppState>,
    console: Console,
    Form(form): Form<TotpForm>,
) -> Response {
    if let Err(r) = console.check_csrf(&state, &form.csrf) {
        return r;
    }
    let ip = console.page.ip.map(|i| i.to_string());
    match totp::confirm(
        state.store.as_ref(),
        &console.user,
        &form.code,
        ip,
        Utc::now(),
    )
    .await
    {
        Ok(Some(codes)) => console.render(
            &state,
            StatusCode::OK,
            "console-totp-title",
            "totp",
            json!({ "codes": codes }),
        ),
        Ok(None) => {
            let pending = totp::pending(state.store.as_ref(), &console.user)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            let issuer = state
                .settings
                .newsletter
                .lang(console.page.lang)
                .name
                .clone();
            let uri =
                crate::domain::totp::otpauth_uri(&pending, console.user.email.as_str(), &issuer);
            console.render(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                "console-totp-title",
                "totp",
                json!({
                    "secret": pending,
                    "secret_grouped": group(&pending),
                    "uri": uri,
                    "required": state.settings.console.require_totp,
                    "error": "console-totp-wrong",
                }),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "console: cannot confirm TOTP");
            unavailable(&state, &console.page)
        }
    }
}
