//! The reader's pages (issue 3): subscribe, confirm, unsubscribe (including the RFC 8058
//! one-click POST), preferences. Server-rendered, no JavaScript; every visible string from
//! Fluent (`locales/*/pages.ftl`).
//!
//! No enumeration: a valid address always gets the same "check your inbox" page, and the
//! confirmation mail goes out in a background task, so a known address does not answer at
//! another speed than an unknown one. Addresses are never logged; subscribers are named by
//! id, and tokens never appear in logs (the request span records the path's route only at
//! info level through `MatchedPath` in metrics; the trace span records the path, so page
//! handlers log nothing with the token).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::AppState;
use super::pages::{Page, RateLimiter, secure_headers};
use crate::app::reader_guard::{self, FormOrigin, FormVerdict, PowVerdict, ReaderSignUp};
use crate::app::subscription::{self, Confirmation, Mail, Registration, Requester};
use crate::domain::{
    EmailAddress, EmailError, Lang, LangPref, NameError, Purpose, Subscriber, SubscriberId,
    SubscriberStatus, parse_name,
};

/// Largest form body accepted on these routes (a subscribe form is well under 1 KiB).
pub const FORM_BODY_LIMIT: usize = 16 * 1024;

/// The public routes, to be merged into the app router.
pub fn routes(state: &AppState) -> Router<AppState> {
    let limiter = Arc::new(RateLimiter::new(
        state.settings.subscribe.rate_limit_per_minute,
    ));
    Router::new()
        .route("/subscribe", get(subscribe_form).post(subscribe_post))
        .route("/subscribe/embed", get(embed_page))
        .route("/confirm/{token}", get(confirm_page).post(confirm_post))
        .route(
            "/unsubscribe/request",
            axum::routing::post(unsubscribe_request),
        )
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe_post),
        )
        .route(
            "/preferences/{token}",
            get(preferences_page).post(preferences_post),
        )
        .route("/static/kairan.css", get(stylesheet))
        .route("/static/pow.js", get(pow_script))
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
        .layer(Extension(limiter))
}

async fn stylesheet(State(state): State<AppState>) -> Response {
    match state.renderer.html("pages/style.css", &json!({})) {
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
            tracing::error!(error = %e, "cannot render the stylesheet");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

// ---- subscribe -------------------------------------------------------------------------

/// The form's fields as typed, for refilling it.
#[derive(Debug, Default, Clone)]
struct SubscribeForm {
    email: String,
    name: String,
    lang: String,
    consent: bool,
    /// The honeypot (hidden from people).
    homepage: String,
    /// When the form was served, signed (`app::reader_guard::form_stamp`).
    stamp: String,
    /// Sent from a copy of the form on the organisation's site (the embed snippet).
    embedded: bool,
    /// The proof of work (`subscribe.proof_of_work`): the served challenge and the nonce the
    /// browser found (`/static/pow.js`).
    pow_challenge: String,
    pow_nonce: String,
}

impl SubscribeForm {
    fn parse(body: &[u8]) -> Self {
        let mut f = SubscribeForm::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            match k.as_ref() {
                "email" => f.email = v.into_owned(),
                "name" => f.name = v.into_owned(),
                "lang" => f.lang = v.into_owned(),
                "consent" => f.consent = !v.is_empty(),
                "homepage" => f.homepage = v.into_owned(),
                "stamp" => f.stamp = v.into_owned(),
                "embedded" => f.embedded = !v.is_empty(),
                "pow_challenge" => f.pow_challenge = v.into_owned(),
                "pow_nonce" => f.pow_nonce = v.into_owned(),
                _ => {}
            }
        }
        f
    }
}

fn email_error_id(e: &EmailError) -> &'static str {
    match e {
        EmailError::Empty => "error-email-empty",
        EmailError::ControlCharacter => "error-email-control",
        EmailError::Shape => "error-email-shape",
        EmailError::LocalTooLong | EmailError::TooLong => "error-email-too-long",
        EmailError::LocalInvalid => "error-email-local",
        EmailError::DomainInvalid(_) => "error-email-domain",
    }
}

/// The consent text as shown in `lang`, its SHA-256 and its version (both recorded).
fn consent_text(state: &AppState, lang: Lang) -> (String, String, String) {
    let i18n = state.renderer.i18n();
    let newsletter = &state.settings.newsletter.lang(lang).name;
    let text = i18n
        .t(
            lang,
            "subscribe-consent",
            &[("newsletter", newsletter.as_str())],
        )
        .unwrap_or_default();
    let version = i18n
        .t(lang, "subscribe-consent-version", &[])
        .unwrap_or_default();
    let hash = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    (text, format!("sha256:{hash}"), version)
}

fn render_form(
    state: &AppState,
    page: &Page,
    status: StatusCode,
    form: &SubscribeForm,
    errors: &[(&str, &str)],
) -> Response {
    render_form_noting(state, page, status, form, errors, false)
}

/// The form, with a fresh stamp; `again`: the "please send it once more" notice.
fn render_form_noting(
    state: &AppState,
    page: &Page,
    status: StatusCode,
    form: &SubscribeForm,
    errors: &[(&str, &str)],
    again: bool,
) -> Response {
    let (consent, _, _) = consent_text(state, page.lang);
    let lang = if form.lang.is_empty() {
        page.lang.as_str().to_owned()
    } else {
        form.lang.clone()
    };
    let error = |field: &str| {
        errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, id)| *id)
            .unwrap_or("")
    };
    let pow_bits = state.settings.subscribe.proof_of_work;
    let mut response = page.render(
        state,
        status,
        "subscribe",
        "subscribe-title",
        json!({
            "newsletter": state.settings.newsletter.lang(page.lang).name,
            "email": form.email,
            "name": form.name,
            "lang_ja": lang == "ja",
            "lang_en": lang == "en",
            "lang_both": lang == "both",
            "consent": form.consent,
            "consent_text": consent,
            "has_errors": !errors.is_empty(),
            "error_email": error("email"),
            "error_name": error("name"),
            "error_lang": error("lang"),
            "error_consent": error("consent"),
            "name_max": crate::domain::NAME_MAX_CHARS,
            "stamp": reader_guard::form_stamp(&state.signer, Utc::now()),
            "embedded": form.embedded,
            "again": again,
            "pow_bits": pow_bits,
            "pow_challenge": (pow_bits > 0)
                .then(|| reader_guard::pow_challenge(&state.signer, pow_bits, Utc::now())),
        }),
    );
    if pow_bits > 0 {
        allow_own_scripts(&mut response);
    }
    response
}

/// Lets a page run our own scripts (`/static/pow.js`): `script-src 'self'` added to its
/// policy, nothing inline.
fn allow_own_scripts(response: &mut Response) {
    let h = response.headers_mut();
    let policy = h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(crate::http::pages::CONTENT_SECURITY_POLICY)
        .to_owned();
    if let Ok(v) = HeaderValue::from_str(&format!("{policy}; script-src 'self'")) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// `/static/pow.js`: the proof-of-work solver (self-hosted, small, no dependencies).
async fn pow_script() -> Response {
    let mut r = include_str!("pow.js").into_response();
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

async fn subscribe_form(State(state): State<AppState>, page: Page) -> Response {
    render_form(
        &state,
        &page,
        StatusCode::OK,
        &SubscribeForm::default(),
        &[],
    )
}

async fn subscribe_post(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<RateLimiter>>,
    page: Page,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let now = Utc::now();
    let from = form_origin(&state, &headers);
    if from == FormOrigin::Foreign {
        reader_guard::count("foreign_origin");
        tracing::info!("subscribe: form posted from a site not in subscribe.embed_origins");
        return forbidden(&state, &page);
    }
    if let Err(retry) = limiter.check(page.ip, now.timestamp()) {
        tracing::warn!("subscribe: rate limit reached for a client address");
        reader_guard::count("ip_rate");
        let mut r = page.render(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "too-many",
            "too-many-title",
            json!({}),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry));
        return r;
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_refused(&state, &page, e),
    };
    let mut form = SubscribeForm::parse(&body);
    form.embedded |= from == FormOrigin::Embedded;
    let verdict = reader_guard::judge_form(
        &state.signer,
        &state.settings.subscribe,
        &form.homepage,
        &form.stamp,
        now,
    );
    if let FormVerdict::Bot(reason) = verdict {
        // The page anyone gets; nothing is stored or sent.
        reader_guard::count(reason);
        tracing::info!(reason, "subscribe: form refused as a bot's");
        return check_inbox(&state, &page, form.embedded);
    }
    let mut errors: Vec<(&str, &str)> = Vec::new();
    let email = match EmailAddress::parse(&form.email) {
        Ok(e) => Some(e),
        Err(e) => {
            errors.push(("email", email_error_id(&e)));
            None
        }
    };
    let name = match parse_name(&form.name) {
        Ok(n) => n,
        Err(NameError::TooLong) => {
            errors.push(("name", "error-name-too-long"));
            None
        }
        Err(NameError::ControlCharacter) => {
            errors.push(("name", "error-name-control"));
            None
        }
    };
    let lang = match form.lang.parse::<LangPref>() {
        Ok(l) => Some(l),
        Err(_) => {
            errors.push(("lang", "error-lang"));
            None
        }
    };
    if !form.consent {
        errors.push(("consent", "error-consent"));
    }
    let (Some(email), Some(lang), true) = (email, lang, errors.is_empty()) else {
        return render_form(
            &state,
            &page,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            &errors,
        );
    };
    if verdict == FormVerdict::Restamp {
        return render_form_noting(&state, &page, StatusCode::OK, &form, &[], true);
    }
    match reader_guard::judge_pow(
        state.store.as_ref(),
        &state.signer,
        &state.settings.subscribe,
        &form.pow_challenge,
        &form.pow_nonce,
        now,
    )
    .await
    {
        Ok(PowVerdict::Off | PowVerdict::Solved) => {}
        // An embedded copy, an old tab: the form again, with a challenge to solve.
        Ok(PowVerdict::Missing) => {
            return render_form_noting(&state, &page, StatusCode::OK, &form, &[], true);
        }
        Ok(PowVerdict::Bad(reason)) => {
            reader_guard::count(reason);
            tracing::info!(reason, "subscribe: proof of work missing or wrong");
            return check_inbox(&state, &page, form.embedded);
        }
        Err(e) => {
            tracing::error!(error = %e, "subscribe: cannot check the proof of work");
            return page.unavailable(&state);
        }
    }
    let (_, text_hash, text_version) = consent_text(&state, page.lang);
    let reg = Registration {
        email,
        name,
        lang,
        by: Requester::Reader {
            ip: page.ip.map(|ip| ip.to_string()),
            user_agent: page.user_agent.clone(),
            page_lang: page.lang,
            text_hash,
            text_version,
        },
    };
    match reader_guard::sign_up(
        state.store.as_ref(),
        &state.settings.subscribe,
        &reg,
        Mail::Later(&state.notifier),
        now,
    )
    .await
    {
        Ok(ReaderSignUp::Registered(done)) => {
            let outcome = &done.outcome;
            tracing::info!(subscriber_id = ?outcome.id().map(SubscriberId::get), outcome = outcome.name(), "subscribe form");
            check_inbox(&state, &page, form.embedded)
        }
        Ok(ReaderSignUp::Limited(_)) => check_inbox(&state, &page, form.embedded),
        Err(e) => {
            tracing::error!(error = %e, "subscribe: cannot store the request");
            page.unavailable(&state)
        }
    }
}

/// Where a form post comes from (`Origin`, else `Referer`), against our own origins and
/// `subscribe.embed_origins`.
fn form_origin(state: &AppState, headers: &HeaderMap) -> FormOrigin {
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let mut own = vec![state.settings.http.base_url.origin().ascii_serialization()];
    if let Some(host) = header(header::HOST) {
        own.push(format!("http://{host}"));
        own.push(format!("https://{host}"));
    }
    reader_guard::form_origin(
        &state.settings.subscribe,
        &own,
        header(header::ORIGIN),
        header(header::REFERER),
    )
}

fn forbidden(state: &AppState, page: &Page) -> Response {
    page.render(
        state,
        StatusCode::FORBIDDEN,
        "forbidden",
        "forbidden-title",
        json!({}),
    )
}

/// The one answer to every sign-up that got this far, whatever became of it: the "check your
/// inbox" page, or for the organisation's embedded form the configured thank-you page.
fn check_inbox(state: &AppState, page: &Page, embedded: bool) -> Response {
    if embedded && let Some(url) = &state.settings.subscribe.thank_you_url {
        let mut r = StatusCode::SEE_OTHER.into_response();
        if let Ok(v) = HeaderValue::from_str(url.as_str()) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        secure_headers(r.headers_mut());
        return r;
    }
    page.render(
        state,
        StatusCode::OK,
        "check-inbox",
        "check-inbox-title",
        json!({}),
    )
}

/// `GET /subscribe/embed`: the subscribe form as HTML to paste into the organisation's own
/// pages, in Japanese and in English (no JavaScript; it posts here).
async fn embed_page(State(state): State<AppState>, page: Page) -> Response {
    let i18n = state.renderer.i18n();
    let mut snippets = Vec::new();
    for lang in [Lang::Ja, Lang::En] {
        let (consent, _, _) = consent_text(&state, lang);
        let action = state
            .settings
            .http
            .base_url
            .join(&format!("subscribe?lang={lang}"))
            .map(|u| u.to_string())
            .unwrap_or_default();
        let html = match state.renderer.html(
            "pages/embed-snippet",
            &json!({
                "lang": lang.as_str(),
                "action": action,
                "newsletter": state.settings.newsletter.lang(lang).name,
                "consent_text": consent,
                "name_max": crate::domain::NAME_MAX_CHARS,
                "lang_ja": lang == Lang::Ja,
                "lang_en": lang == Lang::En,
            }),
        ) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "cannot render the embed snippet");
                return page.unavailable(&state);
            }
        };
        let label = i18n
            .t(page.lang, &format!("embed-lang-{lang}"), &[])
            .unwrap_or_default();
        snippets.push(json!({"lang": lang.as_str(), "label": label, "html": html}));
    }
    page.render(
        &state,
        StatusCode::OK,
        "embed",
        "embed-title",
        json!({
            "origins": state.settings.subscribe.embed_origins,
            "snippets": snippets,
            "copy_label": i18n.t(page.lang, "embed-copy", &[]).unwrap_or_default(),
        }),
    )
}

fn body_refused(state: &AppState, page: &Page, e: BytesRejection) -> Response {
    let status = e.status();
    tracing::info!(%status, "form body refused");
    page.render(
        state,
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            status
        } else {
            StatusCode::BAD_REQUEST
        },
        "bad-request",
        "bad-request-title",
        json!({}),
    )
}

// ---- tokens ----------------------------------------------------------------------------

fn verify(state: &AppState, token: &str, purpose: Purpose) -> Option<SubscriberId> {
    let max_age = match purpose {
        Purpose::Confirm => Some(state.settings.subscribe.confirm_ttl),
        _ => None,
    };
    match state.signer.verify(token, purpose, Utc::now(), max_age) {
        Ok(id) => Some(SubscriberId::new(id)),
        Err(e) => {
            // The reason only; the token itself is never logged.
            tracing::info!(reason = %e, ?purpose, "link refused");
            None
        }
    }
}

fn invalid_link(state: &AppState, page: &Page) -> Response {
    link_request_page(
        state,
        page,
        StatusCode::BAD_REQUEST,
        "invalid-link",
        "invalid-link-title",
        "",
        "",
    )
}

/// A page with the "send me an unsubscribe link" form: the broken-link page, or the form
/// again with an error in the address.
fn link_request_page(
    state: &AppState,
    page: &Page,
    status: StatusCode,
    template: &str,
    title_id: &str,
    email: &str,
    error: &str,
) -> Response {
    page.render(
        state,
        status,
        template,
        title_id,
        json!({
            "newsletter": state.settings.newsletter.lang(page.lang).name,
            "contact": state.settings.newsletter.contact,
            "email": email,
            "error_email": error,
        }),
    )
}

/// `POST /unsubscribe/request`: "send me an unsubscribe link". The same answer whether the
/// address is known or not; the mail goes through the outbox, within the address cap.
async fn unsubscribe_request(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<RateLimiter>>,
    page: Page,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let now = Utc::now();
    if form_origin(&state, &headers) == FormOrigin::Foreign {
        reader_guard::count("foreign_origin");
        return forbidden(&state, &page);
    }
    if let Err(retry) = limiter.check(page.ip, now.timestamp()) {
        reader_guard::count("ip_rate");
        let mut r = page.render(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "too-many",
            "too-many-title",
            json!({}),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry));
        return r;
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_refused(&state, &page, e),
    };
    let (mut email, mut homepage) = (String::new(), String::new());
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "email" => email = v.into_owned(),
            "homepage" => homepage = v.into_owned(),
            _ => {}
        }
    }
    let sent_page = |state: &AppState| {
        page.render(
            state,
            StatusCode::OK,
            "link-requested",
            "link-requested-title",
            json!({ "contact": state.settings.newsletter.contact }),
        )
    };
    if !homepage.trim().is_empty() {
        reader_guard::count("honeypot");
        return sent_page(&state);
    }
    let address = match EmailAddress::parse(&email) {
        Ok(a) => a,
        Err(e) => {
            return link_request_page(
                &state,
                &page,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-link",
                "invalid-link-title",
                &email,
                email_error_id(&e),
            );
        }
    };
    match reader_guard::request_unsubscribe_link(
        state.store.as_ref(),
        &state.settings.subscribe,
        &state.notifier,
        &address,
        now,
    )
    .await
    {
        Ok(_) => sent_page(&state),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe link request: database error");
            page.unavailable(&state)
        }
    }
}

/// The hidden field a page form of a signed link carries: a MAC of the link's token, so a
/// POST made without loading our page (a scanner "clicking" blindly) is refused.
pub(crate) fn form_guard(state: &AppState, token: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(state.signer.tag("page-form", token.as_bytes()))
}

fn guard_ok(state: &AppState, token: &str, body: &[u8]) -> bool {
    use base64::Engine as _;
    let given = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "guard")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(given.as_bytes())
        .is_ok_and(|tag| {
            state
                .signer
                .verify_tag("page-form", token.as_bytes(), &tag, Utc::now())
        })
}

/// `GET /confirm/{token}`: never changes state (link scanners fetch every link in a mail);
/// a page in the reader's language with one button that POSTs.
async fn confirm_page(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
) -> Response {
    let Some(id) = verify(&state, &token, Purpose::Confirm) else {
        return invalid_link(&state, &page);
    };
    let sub = match load(&state, id).await {
        Ok(Some(sub)) => sub,
        Ok(None) => return invalid_link(&state, &page),
        Err(r) => return r,
    };
    let page = page.for_reader(sub.lang);
    match sub.status {
        SubscriberStatus::Pending => page.render(
            &state,
            StatusCode::OK,
            "confirm",
            "confirm-title",
            json!({
                "newsletter": state.settings.newsletter.lang(page.lang).name,
                "action": page.path,
                "guard": form_guard(&state, &token),
            }),
        ),
        SubscriberStatus::Active => confirmed_page(&state, &page, &sub),
        _ => invalid_link(&state, &page),
    }
}

/// `POST /confirm/{token}` (the button of [`confirm_page`]): activates and records the
/// confirmation.
async fn confirm_post(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(id) = verify(&state, &token, Purpose::Confirm) else {
        return invalid_link(&state, &page);
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_refused(&state, &page, e),
    };
    if !guard_ok(&state, &token, &body) {
        tracing::info!(
            subscriber_id = id.get(),
            "confirm: form guard missing or wrong"
        );
        return page.render(
            &state,
            StatusCode::FORBIDDEN,
            "bad-request",
            "bad-request-title",
            json!({}),
        );
    }
    let now = Utc::now();
    let sub =
        match subscription::confirm(state.store.as_ref(), id, now, Mail::Later(&state.notifier))
            .await
        {
            Ok(Confirmation::Activated(sub) | Confirmation::AlreadyActive(sub)) => sub,
            Ok(Confirmation::NotApplicable) => return invalid_link(&state, &page),
            Err(e) => {
                tracing::error!(subscriber_id = id.get(), error = %e, "confirm: database error");
                return page.unavailable(&state);
            }
        };
    confirmed_page(&state, &page.for_reader(sub.lang), &sub)
}

fn confirmed_page(state: &AppState, page: &Page, sub: &Subscriber) -> Response {
    page.render(
        state,
        StatusCode::OK,
        "confirmed",
        "confirmed-title",
        json!({
            "newsletter": state.settings.newsletter.lang(page.lang).name,
            "preferences_path": local(&state.notifier.preferences_url(sub.id, Utc::now())),
        }),
    )
}

/// A link of ours as a path, for pages (the host may differ behind a proxy).
fn local(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| url.to_owned())
}

async fn unsubscribe_page(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
) -> Response {
    // Never changes state: mail scanners prefetch GET links.
    let Some(id) = verify(&state, &token, Purpose::Unsubscribe) else {
        return invalid_link(&state, &page);
    };
    let page = match load(&state, id).await {
        Ok(Some(sub)) => page.for_reader(sub.lang),
        Ok(None) => page,
        Err(r) => return r,
    };
    page.render(
        &state,
        StatusCode::OK,
        "unsubscribe",
        "unsubscribe-title",
        json!({
            "newsletter": state.settings.newsletter.lang(page.lang).name,
            "action": page.path,
        }),
    )
}

async fn unsubscribe_post(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(id) = verify(&state, &token, Purpose::Unsubscribe) else {
        return invalid_link(&state, &page);
    };
    // RFC 8058: the mail client's POST carries `List-Unsubscribe=One-Click`; no cookie, no
    // CSRF token is possible (the signed token in the path is the authority).
    let one_click = body.as_ref().is_ok_and(|b| {
        url::form_urlencoded::parse(b).any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click")
    });
    let how = if one_click { "one-click" } else { "page" };
    do_unsubscribe(&state, &page, id, how).await
}

async fn do_unsubscribe(state: &AppState, page: &Page, id: SubscriberId, how: &str) -> Response {
    match subscription::unsubscribe(state.store.as_ref(), id, how, Utc::now()).await {
        Ok(changed) => {
            if changed {
                tracing::info!(subscriber_id = id.get(), how, "unsubscribed");
            }
            page.render(
                state,
                StatusCode::OK,
                "unsubscribed",
                "unsubscribed-title",
                json!({
                    "newsletter": state.settings.newsletter.lang(page.lang).name,
                }),
            )
        }
        Err(e) => {
            tracing::error!(subscriber_id = id.get(), error = %e, "unsubscribe: database error");
            page.unavailable(state)
        }
    }
}

async fn load(state: &AppState, id: SubscriberId) -> Result<Option<Subscriber>, Response> {
    state.store.subscriber(id).await.map_err(|e| {
        tracing::error!(subscriber_id = id.get(), error = %e, "cannot load a subscriber");
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    })
}

fn render_preferences(
    state: &AppState,
    page: &Page,
    token: &str,
    sub: &Subscriber,
    saved: bool,
) -> Response {
    let subscribed = matches!(
        sub.status,
        SubscriberStatus::Pending | SubscriberStatus::Active
    );
    page.render(
        state,
        StatusCode::OK,
        "preferences",
        "preferences-title",
        json!({
            "newsletter": state.settings.newsletter.lang(page.lang).name,
            "action": page.path,
            "subscribed": subscribed,
            "saved": saved,
            "lang_ja": sub.lang == LangPref::Ja,
            "lang_en": sub.lang == LangPref::En,
            "lang_both": sub.lang == LangPref::Both,
            "guard": form_guard(state, token),
        }),
    )
}

async fn preferences_page(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
) -> Response {
    let Some(id) = verify(&state, &token, Purpose::Preferences) else {
        return invalid_link(&state, &page);
    };
    match load(&state, id).await {
        Ok(Some(sub)) => {
            render_preferences(&state, &page.for_reader(sub.lang), &token, &sub, false)
        }
        Ok(None) => invalid_link(&state, &page),
        Err(r) => r,
    }
}

async fn preferences_post(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(id) = verify(&state, &token, Purpose::Preferences) else {
        return invalid_link(&state, &page);
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_refused(&state, &page, e),
    };
    let mut action = String::new();
    let mut lang = String::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "action" => action = v.into_owned(),
            "lang" => lang = v.into_owned(),
            _ => {}
        }
    }
    if !guard_ok(&state, &token, &body) {
        tracing::info!(
            subscriber_id = id.get(),
            "preferences: form guard missing or wrong"
        );
        return forbidden(&state, &page);
    }
    match action.as_str() {
        "unsubscribe" => return do_unsubscribe(&state, &page, id, "preferences").await,
        "download" => return download(&state, &page, id).await,
        "erase" => return erase(&state, &page, id).await,
        _ => {}
    }
    let Ok(lang) = lang.parse::<LangPref>() else {
        return page.render(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-request",
            "bad-request-title",
            json!({}),
        );
    };
    if let Err(e) = subscription::set_language(state.store.as_ref(), id, lang, Utc::now()).await {
        tracing::error!(subscriber_id = id.get(), error = %e, "preferences: database error");
        return page.unavailable(&state);
    }
    match load(&state, id).await {
        Ok(Some(sub)) => {
            tracing::info!(subscriber_id = id.get(), lang = %sub.lang, "preferences saved");
            render_preferences(&state, &page.for_reader(sub.lang), &token, &sub, true)
        }
        Ok(None) => invalid_link(&state, &page),
        Err(r) => r,
    }
}

/// "Download my data": the subscriber record and every consent record, as JSON.
async fn download(state: &AppState, page: &Page, id: SubscriberId) -> Response {
    match subscription::export(state.store.as_ref(), id).await {
        Ok(Some(data)) => {
            tracing::info!(subscriber_id = id.get(), "data downloaded by the reader");
            let mut r = axum::Json(data).into_response();
            let h = r.headers_mut();
            secure_headers(h);
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"my-newsletter-data.json\""),
            );
            r
        }
        Ok(None) => invalid_link(state, page),
        Err(e) => {
            tracing::error!(subscriber_id = id.get(), error = %e, "download: database error");
            page.unavailable(state)
        }
    }
}

/// "Erase me": as `kairan subscribers erase`.
async fn erase(state: &AppState, page: &Page, id: SubscriberId) -> Response {
    let sub = match load(state, id).await {
        Ok(Some(sub)) => sub,
        Ok(None) => return invalid_link(state, page),
        Err(r) => return r,
    };
    let page = &page.for_reader(sub.lang);
    match subscription::erase(state.store.as_ref(), &sub, Utc::now()).await {
        Ok(_) => {
            tracing::info!(subscriber_id = id.get(), "erased on the reader's request");
            page.render(
                state,
                StatusCode::OK,
                "erased",
                "erased-title",
                json!({ "newsletter": state.settings.newsletter.lang(page.lang).name }),
            )
        }
        Err(e) => {
            tracing::error!(subscriber_id = id.get(), error = %e, "erase: database error");
            page.unavailable(state)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field messages are chosen at run time (`{{t error_email}}`), so `kairan check`
    /// cannot see them in the template: check them here, in both languages.
    #[test]
    fn every_field_message_exists_in_both_languages() {
        let assets = crate::assets::Assets::load(&crate::config::PathsSettings {
            templates: None,
            locales: None,
        })
        .unwrap();
        let r = crate::render::Renderer::new(&assets).unwrap();
        let mut ids: Vec<&str> = [
            EmailError::Empty,
            EmailError::ControlCharacter,
            EmailError::Shape,
            EmailError::LocalTooLong,
            EmailError::TooLong,
            EmailError::LocalInvalid,
            EmailError::DomainInvalid(String::new()),
        ]
        .iter()
        .map(email_error_id)
        .collect();
        ids.extend([
            "error-name-too-long",
            "error-name-control",
            "error-lang",
            "error-consent",
            "subscribe-consent-version",
        ]);
        for lang in [Lang::Ja, Lang::En] {
            for id in &ids {
                assert!(r.i18n().has(lang, id), "{id} missing in {lang}");
            }
        }
    }
}
