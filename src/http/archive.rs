//! The web archive: `GET /archive` lists the issues that have gone out, and
//! `GET /archive/{slug}?lang=` shows one in the page's language — the "view in browser" link
//! of every mail. An issue appears once its campaign has started (so the link works in the
//! very first message) and never if it was cancelled before.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::AppState;
use super::pages::Page;
use crate::domain::IssueState;
use crate::domain::{Issue, Lang};
use crate::render::text::markdown_to_html;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/archive", get(list))
        .route("/archive/ja.atom", get(feed_ja))
        .route("/archive/en.atom", get(feed_en))
        .route("/archive/{slug}", get(show))
}

fn published(i: &Issue) -> bool {
    i.started_at.is_some() && i.state != IssueState::Cancelled
}

fn date(state: &AppState, i: &Issue) -> String {
    i.started_at
        .map(|t| {
            t.with_timezone(&state.settings.schedule.timezone)
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default()
}

async fn list(State(state): State<AppState>, page: Page) -> Response {
    let issues = match state.store.list_issues().await {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, "archive: cannot list issues");
            return page.unavailable(&state);
        }
    };
    let mut items: Vec<_> = issues
        .iter()
        .filter(|i| published(i))
        .map(|i| json!({"slug": i.slug, "subject": i.content(page.lang).subject, "date": date(&state, i)}))
        .collect();
    items.reverse();
    page.render(
        &state,
        StatusCode::OK,
        "archive",
        "archive-title",
        json!({ "issues": items, "alternates": alternates(&state) }),
    )
}

async fn show(State(state): State<AppState>, Path(slug): Path<String>, page: Page) -> Response {
    let issue = match state.store.list_issues().await {
        Ok(issues) => issues.into_iter().find(|i| i.slug == slug && published(i)),
        Err(e) => {
            tracing::error!(error = %e, "archive: cannot read issues");
            return page.unavailable(&state);
        }
    };
    let Some(issue) = issue else {
        return page.render(
            &state,
            StatusCode::NOT_FOUND,
            "not-found",
            "archive-not-found-title",
            json!({}),
        );
    };
    let content = issue.content(page.lang);
    let mut response = page.render_titled(
        &state,
        StatusCode::OK,
        "archive-issue",
        &content.subject,
        json!({
            "subject": content.subject,
            "date": date(&state, &issue),
            "body": markdown_to_html(&content.markdown),
            "alternates": alternates(&state),
        }),
    );
    // An issue shows the images its editors linked (absolute https URLs, checked at queue
    // time); everything else stays as strict as the other pages.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

/// The `<link rel=alternate>`s of the archive pages: one Atom feed per language.
fn alternates(state: &AppState) -> serde_json::Value {
    json!(
        [Lang::Ja, Lang::En]
            .iter()
            .map(|l| json!({
                "type": "application/atom+xml",
                "href": format!("/archive/{l}.atom"),
                "hreflang": l.as_str(),
                "title": state.settings.newsletter.lang(*l).name,
            }))
            .collect::<Vec<_>>()
    )
}

async fn feed_ja(State(state): State<AppState>) -> Response {
    feed(&state, Lang::Ja).await
}

async fn feed_en(State(state): State<AppState>) -> Response {
    feed(&state, Lang::En).await
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /archive/{ja,en}.atom`: the sent issues in one language, newest first, with their
/// full content (RFC 4287). Ids are the issues' archive URLs, stable across edits.
async fn feed(state: &AppState, lang: Lang) -> Response {
    let issues = match state.store.list_issues().await {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, "archive feed: cannot list issues");
            return (StatusCode::SERVICE_UNAVAILABLE, "unavailable\n").into_response();
        }
    };
    let mut sent: Vec<&Issue> = issues.iter().filter(|i| published(i)).collect();
    sent.sort_by_key(|i| std::cmp::Reverse(i.started_at));
    let base = &state.settings.http.base_url;
    let url = |path: &str| base.join(path).map(|u| u.to_string()).unwrap_or_default();
    let n = &state.settings.newsletter;
    let ls = n.lang(lang);
    let updated = sent
        .first()
        .and_then(|i| i.started_at)
        .unwrap_or(chrono::DateTime::UNIX_EPOCH)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(&format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{lang}\">\n\
         <id>{}</id>\n<title>{}</title>\n<updated>{updated}</updated>\n\
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n\
         <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        xml(&url(&format!("archive/{lang}.atom"))),
        xml(&ls.name),
        xml(&url(&format!("archive/{lang}.atom"))),
        xml(&url(&format!("archive?lang={lang}"))),
    ));
    let author = [
        ls.organisation.as_str(),
        ls.sender.as_str(),
        ls.name.as_str(),
    ]
    .into_iter()
    .find(|s| !s.trim().is_empty())
    .unwrap_or("kairan");
    out.push_str(&format!("<author><name>{}</name></author>\n", xml(author)));
    for i in sent {
        let content = i.content(lang);
        let at = i
            .started_at
            .unwrap_or(chrono::DateTime::UNIX_EPOCH)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let link = url(&format!("archive/{}?lang={lang}", i.slug));
        out.push_str(&format!(
            "<entry>\n<id>{}</id>\n<title>{}</title>\n<published>{at}</published>\n\
             <updated>{at}</updated>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n\
             <content type=\"html\">{}</content>\n</entry>\n",
            xml(&url(&format!("archive/{}", i.slug))),
            xml(&content.subject),
            xml(&link),
            xml(&markdown_to_html(&content.markdown)),
        ));
    }
    out.push_str("</feed>\n");
    let mut r = out.into_response();
    let h = r.headers_mut();
    super::pages::secure_headers(h);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/atom+xml; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}
