//! The editors' pages (issue 15), under `/console/issues`: the list (paged), the editor for a
//! new and a stored issue (ja and en side by side, the checks beside the text, the
//! legacy-charset stand-ins with an "accept" button), the preview through the real campaign
//! renderer (a sandboxed frame), image upload, test sends, the schedule, "send now" with a
//! confirmation naming the audience, pause / resume / cancel and, with
//! `console.require_approval`, "request send".
//!
//! Handlers only translate forms into the use cases' calls (`app::drafts`, `app::checks`,
//! `app::issue_schedule`, `app::editorial`, `app::media`, `app::accounts::approval`) and write
//! the audit line of each change.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Console, see_other, unavailable};
use crate::app::accounts::{self, approval};
use crate::app::checks::{self, CheckReport, Field, Severity};
use crate::app::editorial::{self, Control, EditorialError};
use crate::app::{drafts, issue_schedule};
use crate::domain::{
    Action, EmailAddress, Issue, IssueContent, IssueId, IssueState, Lang, LangPref,
};
use crate::http::AppState;

mod autosave;
mod upload;
mod view;

pub(super) use upload::routes as upload_routes;

/// Issues per page of the list.
const PAGE_SIZE: usize = 50;
/// At most this many test addresses at once.
const MAX_TEST_ADDRESSES: usize = 10;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/issues", get(list))
        .route("/console/issues/new", get(new_form).post(create))
        .route("/console/issues/{id}", get(editor).post(save))
        .route("/console/issues/{id}/replacements", post(accept))
        .route("/console/issues/{id}/preview", get(preview_page))
        .route("/console/issues/{id}/preview/mail", get(preview_mail))
        .route("/console/issues/{id}/test", post(test_send))
        .route("/console/issues/{id}/schedule", post(schedule))
        .route(
            "/console/issues/{id}/send",
            get(confirm_send).post(send_now),
        )
        .route("/console/issues/{id}/pause", post(pause))
        .route("/console/issues/{id}/resume", post(resume))
        .route("/console/issues/{id}/cancel", post(cancel))
        .route("/console/issues/{id}/request-send", post(request_send))
        .merge(autosave::routes())
}

fn t(state: &AppState, lang: Lang, id: &str, args: &[(&str, &str)]) -> String {
    state
        .renderer
        .i18n()
        .t(lang, id, args)
        .unwrap_or_else(|_| id.to_owned())
}

fn state_label(state: &AppState, lang: Lang, s: IssueState) -> String {
    t(state, lang, &format!("console-issues-state-{s}"), &[])
}

/// `t` in the organisation's zone, as the page's language reads it, with "in 3 days".
fn when(state: &AppState, lang: Lang, at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let (ja, en) = drafts::describe_time(at, state.settings.schedule.timezone, now);
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

fn store_failed(state: &AppState, console: &Console, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "console: issues: storage failed");
    unavailable(state, &console.page)
}

// ---------------------------------------------------------------------------------------
// The list

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    page: Option<usize>,
}

async fn list(
    State(state): State<AppState>,
    console: Console,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = console.require(&state, Action::EditIssues) {
        return r;
    }
    let lang = console.page.lang;
    let all = match state.store.issue_summaries().await {
        Ok(a) => a,
        Err(e) => return store_failed(&state, &console, e),
    };
    let pages = all.len().div_ceil(PAGE_SIZE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let now = Utc::now();
    let mut rows = Vec::new();
    for i in all.iter().skip((page - 1) * PAGE_SIZE).take(PAGE_SIZE) {
        // Progress of the campaigns under way only: counting a finished campaign's
        // deliveries for every row would cost a scan per row for nothing new.
        let progress = if i.started_at.is_some()
            && matches!(i.state, IssueState::Sending | IssueState::Paused)
        {
            match state.store.delivery_counts(i.id).await {
                Ok(c) => {
                    let done = c.sent + c.failed + c.skipped;
                    let total = c.total();
                    let pct = (done * 100).checked_div(total).unwrap_or(100);
                    json!({ "done": done, "total": total, "pct": pct })
                }
                Err(e) => return store_failed(&state, &console, e),
            }
        } else {
            Value::Null
        };
        let time = match i.state {
            IssueState::Queued | IssueState::Paused if i.started_at.is_none() => {
                drafts::next_send_time(&state.settings, i.send_at, now)
                    .map(|at| when(&state, lang, at, now))
            }
            IssueState::Draft => i.send_at.map(|at| when(&state, lang, at, now)),
            _ => i
                .finished_at
                .or(i.started_at)
                .map(|at| when(&state, lang, at, now)),
        };
        let langs: Vec<&str> = [("ja", &i.ja_subject), ("en", &i.en_subject)]
            .iter()
            .filter(|(_, s)| !s.trim().is_empty())
            .map(|(l, _)| *l)
            .collect();
        rows.push(json!({
            "id": i.id,
            "slug": i.slug,
            "subject": match lang { Lang::Ja => &i.ja_subject, Lang::En => &i.en_subject },
            "other_subject": match lang { Lang::Ja => &i.en_subject, Lang::En => &i.ja_subject },
            "state": i.state.to_string(),
            "state_label": state_label(&state, lang, i.state),
            "langs": langs.join(" · "),
            "time": time,
            "progress": progress,
        }));
    }
    let data = json!({
        "issues": rows,
        "count": all.len(),
        "page": page,
        "pages": pages,
        "paged": pages > 1,
        "prev": (page > 1).then(|| page - 1),
        "next": (page < pages).then(|| page + 1),
        "tz": state.settings.schedule.timezone.name(),
    });
    console.render(
        &state,
        StatusCode::OK,
        "console-issues-title",
        "issue_list",
        data,
    )
}

// ---------------------------------------------------------------------------------------
// The editor

/// The editor's form: the slug and both languages' text.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct TextForm {
    csrf: String,
    slug: Option<String>,
    ja_subject: String,
    ja_preheader: String,
    ja_markdown: String,
    en_subject: String,
    en_preheader: String,
    en_markdown: String,
}

fn content(subject: &str, preheader: &str, markdown: &str) -> IssueContent {
    let pre = preheader.trim();
    IssueContent {
        subject: subject.trim().to_owned(),
        preheader: (!pre.is_empty()).then(|| pre.to_owned()),
        // Browsers send CRLF from a textarea; the editor's line numbers are the same either way.
        markdown: markdown.replace("\r\n", "\n"),
    }
}

impl TextForm {
    fn ja(&self) -> IssueContent {
        content(&self.ja_subject, &self.ja_preheader, &self.ja_markdown)
    }
    fn en(&self) -> IssueContent {
        content(&self.en_subject, &self.en_preheader, &self.en_markdown)
    }
}

/// What the editor page shows besides the issue.
#[derive(Default)]
struct Extra {
    /// A message (already localised) and whether it is an error.
    notice: Option<(String, bool)>,
    /// Text to show instead of the stored one (a refused save).
    texts: Option<(String, IssueContent, IssueContent)>,
    /// Checks of that text.
    report: Option<CheckReport>,
    /// The image just uploaded: its Markdown.
    snippet: Option<String>,
    /// Where the test messages went.
    tests: Vec<drafts::TestSent>,
    /// The schedule field as typed (a refused time).
    send_at_input: Option<String>,
    /// The test addresses as typed.
    test_to: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EditorQuery {
    done: Option<String>,
}

/// The `?done=` notices after a redirect.
const DONE: [&str; 9] = [
    "created",
    "saved",
    "replaced",
    "queued",
    "scheduled",
    "sending",
    "paused",
    "resumed",
    "cancelled",
];

async fn new_form(State(state): State<AppState>, console: Console) -> Response {
    if let Err(r) = console.require(&state, Action::EditIssues) {
        return r;
    }
    let slug = Utc::now()
        .with_timezone(&state.settings.schedule.timezone)
        .format("%Y-%m")
        .to_string();
    let empty = IssueContent {
        subject: String::new(),
        preheader: None,
        markdown: String::new(),
    };
    let data = view::new_issue(&state, &console, &slug, &empty, &empty, None);
    console.render(
        &state,
        StatusCode::OK,
        "console-issues-new-title",
        "issue_editor",
        data,
    )
}

async fn create(
    State(state): State<AppState>,
    console: Console,
    Form(f): Form<TextForm>,
) -> Response {
    if let Err(r) = console.permit(&state, &f.csrf, Action::EditIssues) {
        return r;
    }
    let slug = f.slug.clone().unwrap_or_default().trim().to_owned();
    let now = Utc::now();
    match drafts::create_draft(state.store.as_ref(), &slug, None, f.ja(), f.en(), now).await {
        // The use case writes the audit line (`issue.created`), as for every change below.
        Ok(id) => see_other(&format!("/console/issues/{id}?done=created")),
        Err(e @ (EditorialError::BadSlug(_) | EditorialError::SlugTaken(_))) => {
            let msg = editorial_message(console.page.lang, &e);
            let data = view::new_issue(&state, &console, &slug, &f.ja(), &f.en(), Some(msg));
            console.render(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                "console-issues-new-title",
                "issue_editor",
                data,
            )
        }
        Err(e) => store_failed(&state, &console, e),
    }
}

/// An editorial refusal in the page's language.
fn editorial_message(lang: Lang, e: &EditorialError) -> String {
    match (lang, e) {
        (Lang::En, e) => e.to_string(),
        (Lang::Ja, EditorialError::BadSlug(s)) => format!(
            "スラッグ「{s}」は使えません：a〜z、0〜9、- の 1〜64 文字で、英数字で始めてください"
        ),
        (Lang::Ja, EditorialError::SlugTaken(s)) => {
            format!("スラッグ「{s}」は別の号が使っています")
        }
        (Lang::Ja, EditorialError::NotFound(id)) => format!("号 {id} はありません"),
        (Lang::Ja, EditorialError::WrongState { state, .. }) => {
            format!(
                "この号は今「{}」なので、この操作はできません",
                state_ja(*state)
            )
        }
        (Lang::Ja, EditorialError::Invalid(_)) => {
            "チェックでエラーが見つかりました（下の一覧を見てください）".to_owned()
        }
        (Lang::Ja, EditorialError::LegalFooter(keys)) => {
            format!("法定フッターの設定が足りません：{}", keys.join("、"))
        }
        (Lang::Ja, EditorialError::Store(_)) => "保存できませんでした".to_owned(),
    }
}

fn state_ja(s: IssueState) -> &'static str {
    match s {
        IssueState::Draft => "下書き",
        IssueState::Queued => "予約済み",
        IssueState::Sending => "送信中",
        IssueState::Paused => "一時停止",
        IssueState::Sent => "送信済み",
        IssueState::Cancelled => "中止",
    }
}

/// Renders the editor of a stored issue.
async fn show_editor(
    state: &AppState,
    console: &Console,
    id: IssueId,
    status: StatusCode,
    extra: Extra,
) -> Response {
    let issue = match state.store.issue(id).await {
        Ok(Some(i)) => i,
        Ok(None) => return not_found(state, console),
        Err(e) => return store_failed(state, console, e),
    };
    let report = match extra.report.clone() {
        Some(r) => r,
        None => match checks::check_stored(state.store.as_ref(), &state.settings, id).await {
            Ok(Some(r)) => r,
            Ok(None) => return not_found(state, console),
            Err(e) => return store_failed(state, console, e),
        },
    };
    let data = view::editor(state, console, &issue, &report, extra).await;
    let data = match data {
        Ok(d) => d,
        Err(e) => return store_failed(state, console, e),
    };
    let mut r = console.render(
        state,
        status,
        "console-issues-edit-title",
        "issue_editor",
        data,
    );
    autosave::allow_editor_script(&mut r);
    r
}

fn not_found(state: &AppState, console: &Console) -> Response {
    console.render(
        state,
        StatusCode::NOT_FOUND,
        "console-issues-missing-title",
        "message",
        json!({ "message": "console-issues-missing" }),
    )
}

async fn editor(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    Query(q): Query<EditorQuery>,
) -> Response {
    if let Err(r) = console.require(&state, Action::EditIssues) {
        return r;
    }
    let notice = q.done.filter(|d| DONE.contains(&d.as_str())).map(|d| {
        (
            t(
                &state,
                console.page.lang,
                &format!("console-issues-done-{d}"),
                &[],
            ),
            false,
        )
    });
    let extra = Extra {
        notice,
        ..Extra::default()
    };
    show_editor(&state, &console, id, StatusCode::OK, extra).await
}

async fn save(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    Form(f): Form<TextForm>,
) -> Response {
    if let Err(r) = console.permit(&state, &f.csrf, Action::EditIssues) {
        return r;
    }
    let lang = console.page.lang;
    let now = Utc::now();
    let current = match state.store.issue(id).await {
        Ok(Some(i)) => i,
        Ok(None) => return not_found(&state, &console),
        Err(e) => return store_failed(&state, &console, e),
    };
    let slug = f
        .slug
        .as_ref()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let s = drafts::Save {
        slug: slug.clone(),
        send_at: current.send_at,
        ja: f.ja(),
        en: f.en(),
    };
    match drafts::save(state.store.as_ref(), &state.settings, id, s, now).await {
        Ok(_) => see_other(&format!("/console/issues/{id}?done=saved")),
        Err(e) => {
            let report = match &e {
                EditorialError::Invalid(_) => {
                    let ctx = checks::CheckContext {
                        slug: None,
                        updated: None,
                        legacy_readers: checks::legacy_readers(
                            state.store.as_ref(),
                            &state.settings,
                        )
                        .await
                        .unwrap_or((0, 0)),
                        allow_lossy: false,
                    };
                    Some(checks::check_content(
                        &state.settings,
                        &f.ja(),
                        &f.en(),
                        &ctx,
                    ))
                }
                EditorialError::Store(_) => return store_failed(&state, &console, e),
                _ => None,
            };
            let status = match &e {
                EditorialError::WrongState { .. } | EditorialError::SlugTaken(_) => {
                    StatusCode::CONFLICT
                }
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let extra = Extra {
                notice: Some((editorial_message(lang, &e), true)),
                texts: Some((slug.unwrap_or(current.slug), f.ja(), f.en())),
                report,
                ..Extra::default()
            };
            show_editor(&state, &console, id, status, extra).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CsrfForm {
    csrf: String,
}

async fn accept(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = console.permit(&state, &f.csrf, Action::EditIssues) {
        return r;
    }
    match drafts::accept_replacements(state.store.as_ref(), id, Utc::now()).await {
        Ok(_) => see_other(&format!("/console/issues/{id}?done=replaced")),
        Err(e) => refused(&state, &console, id, e).await,
    }
}

/// The editor again with an editorial refusal.
async fn refused(state: &AppState, console: &Console, id: IssueId, e: EditorialError) -> Response {
    let status = match &e {
        EditorialError::NotFound(_) => return not_found(state, console),
        EditorialError::Store(_) => return store_failed(state, console, e),
        EditorialError::WrongState { .. } | EditorialError::SlugTaken(_) => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let extra = Extra {
        notice: Some((editorial_message(console.page.lang, &e), true)),
        ..Extra::default()
    };
    show_editor(state, console, id, status, extra).await
}

// ---------------------------------------------------------------------------------------
// Preview

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PreviewQuery {
    /// Which mail: `ja`, `en` or `both` (not `lang`: that is the console's own language).
    mail: Option<String>,
    width: Option<String>,
    part: Option<String>,
}

impl PreviewQuery {
    fn pref(&self) -> LangPref {
        self.mail
            .as_deref()
            .and_then(|m| m.parse().ok())
            .unwrap_or(LangPref::Both)
    }
    fn phone(&self) -> bool {
        self.width.as_deref() == Some("phone")
    }
    fn text(&self) -> bool {
        self.part.as_deref() == Some("text")
    }
}

async fn preview_page(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    Query(q): Query<PreviewQuery>,
) -> Response {
    if let Err(r) = console.require(&state, Action::EditIssues) {
        return r;
    }
    let issue = match state.store.issue(id).await {
        Ok(Some(i)) => i,
        Ok(None) => return not_found(&state, &console),
        Err(e) => return store_failed(&state, &console, e),
    };
    let data = view::preview(&state, &console, &issue, q.pref(), q.phone(), q.text());
    let mut r = console.render(
        &state,
        StatusCode::OK,
        "console-issues-preview-title",
        "issue_preview",
        data,
    );
    // The mail is shown in a sandboxed frame of this origin.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; frame-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    r
}

/// The rendered mail itself, for the preview's frame: sandboxed (no script, no forms, no
/// navigation of the console), its own inline styles allowed, images from anywhere the
/// mail may link them.
async fn preview_mail(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    Query(q): Query<PreviewQuery>,
) -> Response {
    if let Err(r) = console.require(&state, Action::EditIssues) {
        return r;
    }
    let issue = match state.store.issue(id).await {
        Ok(Some(i)) => i,
        Ok(None) => return not_found(&state, &console),
        Err(e) => return store_failed(&state, &console, e),
    };
    let files = match crate::app::preview::preview(&state.renderer, &state.settings, &issue) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, issue_id = id.get(), "console: cannot render a preview");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
        }
    };
    let pref = q.pref();
    let Some(f) = files.into_iter().find(|f| f.pref == pref) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (body, ct) = if q.text() {
        (f.text, "text/plain; charset=utf-8")
    } else {
        (f.html, "text/html; charset=utf-8")
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: http: data:; \
             frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-popups",
        ),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

// ---------------------------------------------------------------------------------------
// Test sends

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TestForm {
    csrf: String,
    to: String,
    test_ja: Option<String>,
    test_en: Option<String>,
    test_both: Option<String>,
}

async fn test_send(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    Form(f): Form<TestForm>,
) -> Response {
    if let Err(r) = console.permit(&state, &f.csrf, Action::EditIssues) {
        return r;
    }
    let lang = console.page.lang;
    let bad = |msg: String| Extra {
        notice: Some((msg, true)),
        test_to: Some(f.to.clone()),
        ..Extra::default()
    };
    let mut addresses = Vec::new();
    for raw in
        f.to.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|s| !s.is_empty())
    {
        match EmailAddress::parse(raw) {
            Ok(a) => addresses.push(a),
            Err(e) => {
                let msg = match lang {
                    Lang::Ja => format!("「{raw}」はメールアドレスとして使えません"),
                    Lang::En => format!("`{raw}` is not a usable address: {e}"),
                };
                return show_editor(
                    &state,
                    &console,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    bad(msg),
                )
                .await;
            }
        }
    }
    let prefs: Vec<LangPref> = [
        (f.test_ja.is_some(), LangPref::Ja),
        (f.test_en.is_some(), LangPref::En),
        (f.test_both.is_some(), LangPref::Both),
    ]
    .into_iter()
    .filter_map(|(on, p)| on.then_some(p))
    .collect();
    let problem = if addresses.is_empty() {
        Some("console-issues-test-no-address")
    } else if addresses.len() > MAX_TEST_ADDRESSES {
        Some("console-issues-test-too-many")
    } else if prefs.is_empty() {
        Some("console-issues-test-no-lang")
    } else {
        None
    };
    if let Some(p) = problem {
        let n = MAX_TEST_ADDRESSES.to_string();
        let msg = t(&state, lang, p, &[("max", &n)]);
        return show_editor(
            &state,
            &console,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            bad(msg),
        )
        .await;
    }
    let issue = match state.store.issue(id).await {
        Ok(Some(i)) => i,
        Ok(None) => return not_found(&state, &console),
        Err(e) => return store_failed(&state, &console, e),
    };
    let targets: Vec<(EmailAddress, LangPref)> = addresses
        .iter()
        .flat_map(|a| prefs.iter().map(move |p| (a.clone(), *p)))
        .collect();
    let sent = drafts::send_tests(
        &state.renderer,
        &state.settings,
        state.mailer.as_ref(),
        &issue,
        &targets,
    )
    .await;
    let ok = sent.iter().filter(|s| s.result.is_ok()).count();
    let (n, total) = (ok.to_string(), sent.len().to_string());
    let extra = Extra {
        notice: Some((
            t(
                &state,
                lang,
                "console-issues-test-done",
                &[("ok", &n), ("total", &total)],
            ),
            ok < sent.len(),
        )),
        tests: sent,
        test_to: Some(f.to.clone()),
        ..Extra::default()
    };
    show_editor(&state, &console, id, StatusCode::OK, extra).await
}

// ---------------------------------------------------------------------------------------
// Schedule, send now, pause, resume, cancel, request send

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ScheduleForm {
    csrf: String,
    send_at: String,
}

async fn schedule(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    Form(f): Form<ScheduleForm>,
) -> Response {
    if let Err(r) = console.permit(&state, &f.csrf, Action::SendIssues) {
        return r;
    }
    let lang = console.page.lang;
    let now = Utc::now();
    let send_at =
        match issue_schedule::parse_local(&f.send_at, state.settings.schedule.timezone, now) {
            Ok(t) => t,
            Err(e) => {
                let msg = match lang {
                    Lang::Ja => e.message_ja(),
                    Lang::En => e.to_string(),
                };
                let extra = Extra {
                    notice: Some((msg, true)),
                    send_at_input: Some(f.send_at.clone()),
                    ..Extra::default()
                };
                return show_editor(
                    &state,
                    &console,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    extra,
                )
                .await;
            }
        };
    match issue_schedule::schedule(state.store.as_ref(), &state.settings, id, send_at, now).await {
        Ok(s) => {
            let done = if s.queued { "queued" } else { "scheduled" };
            see_other(&format!("/console/issues/{id}?done={done}"))
        }
        Err(e) => refused(&state, &console, id, e).await,
    }
}

async fn confirm_send(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
) -> Response {
    if let Err(r) = console.require(&state, Action::SendIssues) {
        return r;
    }
    let issue = match state.store.issue(id).await {
        Ok(Some(i)) => i,
        Ok(None) => return not_found(&state, &console),
        Err(e) => return store_failed(&state, &console, e),
    };
    let audience = match drafts::audience(state.store.as_ref()).await {
        Ok(a) => a,
        Err(e) => return store_failed(&state, &console, e),
    };
    let data = view::confirm(&state, &console, &issue, audience);
    console.render(
        &state,
        StatusCode::OK,
        "console-issues-send-title",
        "issue_send",
        data,
    )
}

async fn send_now(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = console.permit(&state, &f.csrf, Action::SendIssues) {
        return r;
    }
    if approval::needs_approval(&state.settings) {
        let extra = Extra {
            notice: Some((
                t(
                    &state,
                    console.page.lang,
                    "console-issues-needs-approval",
                    &[],
                ),
                true,
            )),
            ..Extra::default()
        };
        return show_editor(&state, &console, id, StatusCode::CONFLICT, extra).await;
    }
    let now = Utc::now();
    let state_now = match state.store.issue_state(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_found(&state, &console),
        Err(e) => return store_failed(&state, &console, e),
    };
    if state_now == IssueState::Draft
        && let Err(e) =
            drafts::queue_draft(state.store.as_ref(), &state.settings, id, false, now).await
    {
        return refused(&state, &console, id, e).await;
    }
    match editorial::send_now(state.store.as_ref(), id, now).await {
        Ok(()) => see_other(&format!("/console/issues/{id}?done=sending")),
        Err(e) => refused(&state, &console, id, e).await,
    }
}

async fn control(
    state: AppState,
    console: Console,
    id: IssueId,
    csrf: &str,
    c: Control,
) -> Response {
    if let Err(r) = console.permit(&state, csrf, Action::SendIssues) {
        return r;
    }
    match editorial::control(state.store.as_ref(), id, c, Utc::now()).await {
        Ok(_) => {
            let done = match c {
                Control::Pause => "paused",
                Control::Resume => "resumed",
                Control::Cancel => "cancelled",
            };
            see_other(&format!("/console/issues/{id}?done={done}"))
        }
        Err(e) => refused(&state, &console, id, e).await,
    }
}

async fn pause(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    Form(f): Form<CsrfForm>,
) -> Response {
    control(state, console, id, &f.csrf, Control::Pause).await
}

async fn resume(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    Form(f): Form<CsrfForm>,
) -> Response {
    control(state, console, id, &f.csrf, Control::Resume).await
}

async fn cancel(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    Form(f): Form<CsrfForm>,
) -> Response {
    control(state, console, id, &f.csrf, Control::Cancel).await
}

async fn request_send(
    State(state): State<AppState>,
    console: Console,
    Path(id): Path<IssueId>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = console.permit(&state, &f.csrf, Action::EditIssues) {
        return r;
    }
    let lang = console.page.lang;
    // Only an issue that could be queued is worth an admin's approval.
    match checks::check_stored(state.store.as_ref(), &state.settings, id).await {
        Ok(Some(r)) if !r.can_queue() => {
            let e = EditorialError::Invalid(drafts::as_problems(&r));
            return refused(&state, &console, id, e).await;
        }
        Ok(Some(_)) => {}
        Ok(None) => return not_found(&state, &console),
        Err(e) => return store_failed(&state, &console, e),
    }
    let ip = console.page.ip.map(|i| i.to_string());
    let (status, msg) = match approval::request(
        state.store.as_ref(),
        &console.user,
        id.get(),
        ip,
        Utc::now(),
    )
    .await
    {
        Ok(_) => (
            StatusCode::OK,
            (t(&state, lang, "console-issues-requested", &[]), false),
        ),
        Err(accounts::AccountError::Invalid(_)) => (
            StatusCode::CONFLICT,
            (
                t(&state, lang, "console-issues-already-requested", &[]),
                true,
            ),
        ),
        Err(e) => return store_failed(&state, &console, e),
    };
    let extra = Extra {
        notice: Some(msg),
        ..Extra::default()
    };
    show_editor(&state, &console, id, status, extra).await
}

/// The field's message id.
fn field_label(f: Field) -> &'static str {
    match f {
        Field::Subject => "console-issues-subject",
        Field::Preheader => "console-issues-preheader",
        Field::Body => "console-issues-body",
        Field::FrontMatter => "console-issues-front-matter",
        Field::Issue => "console-issues-whole",
    }
}

/// The form control a check points at.
fn anchor(lang: Option<Lang>, f: Field) -> Option<String> {
    let l = lang?;
    let name = match f {
        Field::Subject => "subject",
        Field::Preheader => "preheader",
        Field::Body => "markdown",
        _ => return None,
    };
    Some(format!("{l}_{name}"))
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// Whether an issue's state lets `console` see the send controls.
fn is_live(i: &Issue) -> bool {
    !matches!(i.state, IssueState::Sent | IssueState::Cancelled)
}
