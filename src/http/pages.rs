//! What every reader-facing page shares (issue 3): the page language (`?lang=`, then the
//! cookie that choice set, then `Accept-Language`, then `newsletter.default_language`), the
//! client's address and user agent, rendering a `templates/pages/*.hbs` body inside
//! `pages/layout.hbs` with a link to the other language, and strict security headers (a
//! Content-Security-Policy that allows nothing but our own stylesheet and same-origin form
//! posts; no referrer to other sites, since page URLs carry tokens; no caching).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use crate::domain::{Lang, LangSource, negotiate};

/// The language cookie, set only by an explicit `?lang=` choice.
pub const LANG_COOKIE: &str = "kairan_lang";

/// The policy: no scripts, no frames, no foreign anything; our stylesheet, our forms.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The request as a page sees it.
#[derive(Debug, Clone)]
pub struct Page {
    pub lang: Lang,
    /// The cookie to set (the reader chose with `?lang=`).
    set_cookie: bool,
    /// The path, for the other-language link (never the query: it is rebuilt).
    pub path: String,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    secure: bool,
    /// The language was chosen by this reader (`?lang=` or the cookie that choice set), not
    /// guessed from `Accept-Language` or the default: a page about a subscriber shows the
    /// subscriber's language unless this is set.
    pub chosen_lang: bool,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let query_lang = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .map(|(_, v)| v.into_owned())
        });
        let cookie = cookie_value(&parts.headers, LANG_COOKIE);
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let (lang, source) = negotiate(
            query_lang.as_deref(),
            cookie.as_deref(),
            accept,
            state.settings.newsletter.default_language,
        );
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
        Ok(Page {
            lang,
            set_cookie: source == LangSource::Query && cookie.as_deref() != Some(lang.as_str()),
            path: parts.uri.path().to_owned(),
            ip: client_ip(parts, state.settings.subscribe.trust_forwarded_for),
            user_agent,
            secure: state.settings.http.base_url.scheme() == "https",
            chosen_lang: matches!(source, LangSource::Query | LangSource::Cookie),
        })
    }
}

/// The client's address: the TCP peer (`ConnectInfo`, present when served by `startup`), or,
/// behind a trusted reverse proxy, the last `X-Forwarded-For` entry (the one it appended).
pub(super) fn client_ip(parts: &Parts, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(ip) = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .next_back()
    {
        return Some(ip);
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

impl Page {
    /// The language cookie to set, when the reader chose with `?lang=` (for pages rendered
    /// outside [`Page::render`], such as the console's).
    pub fn lang_cookie(&self) -> Option<HeaderValue> {
        if !self.set_cookie {
            return None;
        }
        HeaderValue::from_str(&format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly{}",
            self.lang,
            if self.secure { "; Secure" } else { "" }
        ))
        .ok()
    }

    /// Whether cookies must be `Secure` (`http.base_url` is https).
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The page for subscriber-specific content: in `pref`'s language unless the reader
    /// chose one for this browser (a reader of both languages gets the negotiated one).
    pub fn for_reader(&self, pref: crate::domain::LangPref) -> Page {
        let mut p = self.clone();
        if !self.chosen_lang && !pref.langs().contains(&self.lang) {
            p.lang = pref.langs()[0];
        }
        p
    }

    pub fn other_lang(&self) -> Lang {
        match self.lang {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }

    /// Renders `pages/{template}` with `data` (plus `lang`) inside the layout, titled by the
    /// Fluent message `title_id`, with the security headers.
    pub fn render(
        &self,
        state: &AppState,
        status: StatusCode,
        template: &str,
        title_id: &str,
        data: Value,
    ) -> Response {
        let title = state
            .renderer
            .i18n()
            .t(self.lang, title_id, &[])
            .unwrap_or_default();
        self.render_titled(state, status, template, &title, data)
    }

    /// As [`Page::render`], with the title given as text (an issue's subject).
    pub fn render_titled(
        &self,
        state: &AppState,
        status: StatusCode,
        template: &str,
        title: &str,
        mut data: Value,
    ) -> Response {
        if let Some(map) = data.as_object_mut() {
            map.insert("lang".into(), json!(self.lang.as_str()));
        }
        let result = state
            .renderer
            .html(&format!("pages/{template}"), &data)
            .and_then(|body| {
                state.renderer.html(
                    "pages/layout",
                    &json!({
                        "lang": self.lang.as_str(),
                        "title": title,
                        "body": body,
                        "other_lang": self.other_lang().as_str(),
                        "path": self.path,
                        "css_url": "/static/kairan.css",
                        "brand": brand(state, self.lang),
                        // `<link rel=alternate>`s a page asks for (the archive's feeds).
                        "alternates": data.get("alternates").cloned().unwrap_or(json!([])),
                    }),
                )
            });
        let html = match result {
            Ok(html) => html,
            Err(e) => {
                tracing::error!(error = %e, template, "cannot render a page");
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
        if let Some(logo) = &state.settings.newsletter.logo_url {
            // The configured logo's origin, and nothing else, may serve an image.
            let policy = CONTENT_SECURITY_POLICY.replace(
                "img-src 'self'",
                &format!("img-src 'self' {}", logo.origin().ascii_serialization()),
            );
            if let Ok(v) = HeaderValue::from_str(&policy) {
                h.insert(header::CONTENT_SECURITY_POLICY, v);
            }
        }
        h.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(self.lang.as_str()),
        );
        h.insert(
            header::VARY,
            HeaderValue::from_static("Accept-Language, Cookie"),
        );
        if self.set_cookie {
            let cookie = format!(
                "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly{}",
                self.lang,
                if self.secure { "; Secure" } else { "" }
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                h.insert(header::SET_COOKIE, v);
            }
        }
        response
    }

    /// The localised "something went wrong on our side" page.
    pub fn unavailable(&self, state: &AppState) -> Response {
        self.render(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "error",
            "error-title",
            json!({}),
        )
    }
}

/// The organisation's identity for the header and footer of every page (`[newsletter]`
/// organisation, website, logo_url, privacy_url, contact); empty settings are left out.
pub fn brand(state: &AppState, lang: Lang) -> Value {
    let n = &state.settings.newsletter;
    let l = n.lang(lang);
    json!({
        "organisation": l.organisation,
        "newsletter": l.name,
        "website": l.website.as_ref().map(|u| u.as_str()),
        "privacy_url": l.privacy_url.as_ref().map(|u| u.as_str()),
        "logo_url": n.logo_url.as_ref().map(|u| u.as_str()),
        "contact": n.contact.trim(),
    })
}

/// A path for logs: the token segment of `/confirm/…`, `/unsubscribe/…`, `/preferences/…`
/// replaced, so tokens never reach a log line.
pub fn redact_path(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in [
        "/confirm/",
        "/unsubscribe/",
        "/preferences/",
        "/console/setup/",
    ] {
        if path.starts_with(prefix) && path.len() > prefix.len() {
            return format!("{prefix}{{token}}").into();
        }
    }
    path.into()
}

/// Headers every page and the stylesheet carry.
pub fn secure_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        // Same-origin only: page URLs carry tokens, which never leave for another site; our
        // own form posts keep their `Origin` (with `no-referrer` browsers send `null`).
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A fixed one-minute window per client address. Requests without a known address share
/// one bucket (only a router driven without `ConnectInfo`, as in some tests, has none).
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<Option<IpAddr>, (i64, u32)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` when the request may go on, else the seconds until the window ends.
    pub fn check(&self, ip: Option<IpAddr>, now_secs: i64) -> Result<(), u64> {
        let minute = now_secs.div_euclid(60);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 10_000 {
            windows.retain(|_, (m, _)| *m == minute);
        }
        let entry = windows.entry(ip).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= self.per_minute {
            return Err((60 - now_secs.rem_euclid(60)) as u64);
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_is_per_address_and_per_minute() {
        let rl = RateLimiter::new(2);
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "203.0.113.2".parse().unwrap();
        assert!(rl.check(Some(a), 120).is_ok());
        assert!(rl.check(Some(a), 130).is_ok());
        assert_eq!(rl.check(Some(a), 150), Err(30));
        assert!(rl.check(Some(b), 150).is_ok());
        assert!(rl.check(Some(a), 180).is_ok());
    }

    #[test]
    fn tokens_are_redacted_from_logged_paths() {
        assert_eq!(redact_path("/unsubscribe/AbC-_x"), "/unsubscribe/{token}");
        assert_eq!(redact_path("/confirm/x/y"), "/confirm/{token}");
        assert_eq!(redact_path("/subscribe"), "/subscribe");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kairan_lang=ja; b=2"),
        );
        assert_eq!(cookie_value(&h, LANG_COOKIE).as_deref(), Some("ja"));
        assert_eq!(cookie_value(&h, "zz"), None);
    }
}
