//! The console shell (issue 14): what every console page stands on. [`routes`] mounts the
//! account pages (login, setup, logout, two-factor) and the dashboard; later pages add their
//! routes with their own function merged here (`docs/console.md`).
//!
//! - [`Console`]: the extractor for a signed-in person. Without a valid session it answers
//!   303 to `/console/login`; with `console.require_totp` and no TOTP yet, 303 to
//!   `/console/totp`. It carries the page language, client address, user and form token.
//! - [`Console::check_csrf`]: every console POST compares its hidden `csrf` field with the
//!   session's (constant time); a mismatch answers 403 before anything changes. The pages
//!   before a session (login, setup) use a double-submit cookie instead ([`FormToken`]).
//! - [`Console::require`]: the role guard; a forbidden action answers 403.
//! - [`Console::render`] / [`render`]: a `templates/console/*.hbs` body inside
//!   `console/layout.hbs` (organisation, navigation, user menu, language switch, logout form,
//!   flash message), with the strict security headers.
//!
//! Handlers only translate: every decision is `app::accounts`'s.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde_json::{Value, json};

use super::AppState;
use super::pages::{Page, cookie_value, secure_headers};
use crate::app::accounts::{self, Actor, login::Authenticated};
use crate::domain::{Action, Lang, Role, User};

mod approvals;
mod audit;
mod auth;
mod bounces;
mod dashboard;
mod import;
mod issues;
mod people;
mod subscribers;

/// The session cookie.
pub const SESSION_COOKIE: &str = "kairan_session";
/// The double-submit form token of the pages before a session (login, setup).
pub const FORM_COOKIE: &str = "kairan_form";
/// The console's stylesheet.
pub const CSS_URL: &str = "/static/console.css";

/// The console's routes, merged into the app router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/console.css", get(stylesheet))
        .merge(auth::routes())
        .merge(people::routes())
        .merge(approvals::routes())
        .merge(dashboard::routes())
        .merge(subscribers::routes())
        .merge(import::routes())
        .merge(bounces::routes())
        .merge(audit::routes())
        .merge(issues::routes())
        // Anything else under /console: a session first (303 to the login), then 404.
        .route("/console/{*rest}", get(not_found))
}

/// The editors' image upload and the CSV import's upload, mounted outside the general body
/// limit (`http::router`), each with its own.
pub fn upload_routes(settings: &crate::config::Settings) -> Router<AppState> {
    issues::upload_routes().merge(import::upload_routes(
        settings.console_media.max_import_bytes,
    ))
}

/// A signed-in person's request.
pub struct Console {
    pub page: Page,
    pub user: User,
    /// The session's form token: put it in every form's hidden `csrf` field.
    pub csrf: String,
    auth: Authenticated,
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Ok(page) = Page::from_request_parts(parts, state).await;
        let cookie = cookie_value(&parts.headers, SESSION_COOKIE).unwrap_or_default();
        let auth = match accounts::login::authenticate(
            state.store.as_ref(),
            &state.settings,
            &cookie,
            Utc::now(),
        )
        .await
        {
            Ok(Some(a)) => a,
            Ok(None) => return Err(see_other("/console/login")),
            Err(e) => {
                tracing::error!(error = %e, "console: cannot check the session");
                return Err(unavailable(state, &page));
            }
        };
        let path = parts.uri.path();
        if state.settings.console.require_totp
            && !auth.user.totp
            && path != "/console/totp"
            && path != "/console/logout"
        {
            return Err(see_other("/console/totp"));
        }
        Ok(Console {
            page,
            user: auth.user.clone(),
            csrf: auth.csrf.clone(),
            auth,
        })
    }
}

impl Console {
    /// 403 unless `sent` is this session's form token.
    #[allow(clippy::result_large_err)]
    pub fn check_csrf(&self, state: &AppState, sent: &str) -> Result<(), Response> {
        if accounts::login::csrf_matches(&self.auth, sent) {
            Ok(())
        } else {
            tracing::warn!(user = self.user.id, "console: form token missing or wrong");
            metrics::counter!(crate::metrics::CONSOLE_REFUSED, "reason" => "csrf").increment(1);
            Err(self.refuse(
                state,
                StatusCode::FORBIDDEN,
                "console-csrf-title",
                "console-csrf",
            ))
        }
    }

    /// 403 unless the person's role allows `action`.
    #[allow(clippy::result_large_err)]
    pub fn require(&self, state: &AppState, action: Action) -> Result<(), Response> {
        accounts::require(&self.user, action).map_err(|_| {
            tracing::warn!(user = self.user.id, ?action, "console: forbidden by role");
            metrics::counter!(crate::metrics::CONSOLE_REFUSED, "reason" => "role").increment(1);
            self.refuse(
                state,
                StatusCode::FORBIDDEN,
                "console-forbidden-title",
                "console-forbidden",
            )
        })
    }

    /// A console POST's two gates in their order: the form token ([`Console::check_csrf`]),
    /// then the role ([`Console::require`]).
    #[allow(clippy::result_large_err)]
    pub fn permit(&self, state: &AppState, csrf: &str, action: Action) -> Result<(), Response> {
        self.check_csrf(state, csrf)?;
        self.require(state, action)
    }

    /// The person as the audit log names them.
    pub fn actor(&self) -> Actor {
        Actor::user(&self.user, self.page.ip.map(|ip| ip.to_string()))
    }

    /// The session (for logout).
    pub fn session(&self) -> &Authenticated {
        &self.auth
    }

    /// Renders `console/{template}` with `data` in the layout, titled by `title_id`.
    pub fn render(
        &self,
        state: &AppState,
        status: StatusCode,
        title_id: &str,
        template: &str,
        data: Value,
    ) -> Response {
        render(
            state,
            &self.page,
            status,
            title_id,
            template,
            data,
            Some((&self.user, &self.csrf)),
            None,
        )
    }

    /// As [`Console::render`], with a flash message (a Fluent id; `error` styles it so).
    pub fn render_flash(
        &self,
        state: &AppState,
        status: StatusCode,
        title_id: &str,
        template: &str,
        data: Value,
        flash: (&str, bool),
    ) -> Response {
        render(
            state,
            &self.page,
            status,
            title_id,
            template,
            data,
            Some((&self.user, &self.csrf)),
            Some(flash),
        )
    }

    fn refuse(&self, state: &AppState, status: StatusCode, title: &str, message: &str) -> Response {
        self.render(
            state,
            status,
            title,
            "message",
            json!({ "message": message }),
        )
    }
}

/// The navigation: (path, message id). A page is current when the path starts with it.
const NAV: [(&str, &str); 6] = [
    ("/console", "console-nav-dashboard"),
    ("/console/issues", "console-nav-issues"),
    ("/console/subscribers", "console-nav-subscribers"),
    ("/console/bounces", "console-nav-bounces"),
    ("/console/audit", "console-nav-audit"),
    ("/console/users", "console-nav-users"),
];

fn role_label(state: &AppState, lang: Lang, role: Role) -> String {
    let id = match role {
        Role::Admin => "console-role-admin",
        Role::Editor => "console-role-editor",
    };
    state.renderer.i18n().t(lang, id, &[]).unwrap_or_default()
}

/// Renders a console page: `console/{template}` with `data` inside `console/layout.hbs`.
/// `user` is the signed-in person and their form token (none on the login and setup
/// pages); `flash` a Fluent message id shown above the body (and whether it is an error).
#[allow(clippy::too_many_arguments)]
pub fn render(
    state: &AppState,
    page: &Page,
    status: StatusCode,
    title_id: &str,
    template: &str,
    mut data: Value,
    user: Option<(&User, &str)>,
    flash: Option<(&str, bool)>,
) -> Response {
    let lang = page.lang;
    let i18n = state.renderer.i18n();
    let t = |id: &str| i18n.t(lang, id, &[]).unwrap_or_default();
    if let Some(map) = data.as_object_mut() {
        map.insert("lang".into(), json!(lang.as_str()));
        if let Some((_, csrf)) = user {
            map.entry("csrf").or_insert(json!(csrf));
        }
    }
    let nav: Vec<Value> = NAV
        .iter()
        .map(|(href, label)| {
            let current = if *href == "/console" {
                page.path == "/console"
            } else {
                page.path.starts_with(href)
            };
            json!({ "href": href, "label": label, "current": current })
        })
        .collect();
    let other = page.other_lang();
    let layout_user = user.map(
        |(u, _)| json!({ "name": u.display_name(), "role_label": role_label(state, lang, u.role) }),
    );
    let result = state
        .renderer
        .html(&format!("console/{template}"), &data)
        .and_then(|body| {
            state.renderer.html(
                "console/layout",
                &json!({
                    "lang": lang.as_str(),
                    "title": t(title_id),
                    "organisation": state.settings.newsletter.lang(lang).name,
                    "body": body,
                    "other_lang": other.as_str(),
                    "other_lang_name": match other { Lang::Ja => "日本語", Lang::En => "English" },
                    "path": page.path,
                    "css_url": CSS_URL,
                    "user": layout_user,
                    "csrf": user.map(|(_, c)| c),
                    "nav": nav,
                    "flash": flash.map(|(id, _)| t(id)),
                    "flash_kind": if flash.is_some_and(|f| f.1) { "error" } else { "ok" },
                    "flash_error": flash.is_some_and(|f| f.1),
                }),
            )
        });
    let html = match result {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, template, "console: cannot render a page");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
        }
    };
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    h.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.as_str()),
    );
    if let Some(c) = page.lang_cookie() {
        h.append(header::SET_COOKIE, c);
    }
    response
}

/// 303 to `to`.
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    secure_headers(r.headers_mut());
    r
}

/// The localised "the database is unreachable" page.
pub fn unavailable(state: &AppState, page: &Page) -> Response {
    render(
        state,
        page,
        StatusCode::SERVICE_UNAVAILABLE,
        "console-error-title",
        "message",
        json!({ "message": "console-error" }),
        None,
        None,
    )
}

/// A cookie for the console's paths: HttpOnly, SameSite=Strict, Secure when the base URL is
/// https. `max_age` zero clears it.
pub fn cookie(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn not_found(console: Console) -> Response {
    let _ = console;
    StatusCode::NOT_FOUND.into_response()
}

async fn stylesheet(State(state): State<AppState>) -> Response {
    match state.renderer.html("console/style.css", &json!({})) {
        Ok(css) => {
            let mut r = css.into_response();
            let h = r.headers_mut();
            secure_headers(h);
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot render the console stylesheet");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
