//! `/console/import` (issue 16, admins): a CSV upload (multipart, at most
//! `console.max_import_bytes`, 64 MiB by default, outside `http.body_limit`) → the mapping step
//! (a select per column, pre-filled by `import::guess_field`) with a preview of the first rows → the run, in the background, with a status page that refreshes
//! itself (a `Refresh` header, no script) until the per-row report. The same use case as
//! `kairan subscribers import` (`app::import`): a file that cannot be read or mapped writes
//! nothing; bad rows are reported by line and the good ones loaded; re-importing changes
//! nothing. Audited as `subscriber.imported`.
//!
//! An upload waits in memory for its owner (the user who sent it) for [`UPLOAD_TTL`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Form;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::{Value, json};

use super::{Console, see_other};
use crate::app::accounts::audit;
use crate::app::import::{self, ColumnChoice, Field, RowEvent};
use crate::app::subscription::Mail;
use crate::domain::Action;
use crate::http::AppState;

/// How long an upload waits for its mapping and run.
pub const UPLOAD_TTL: Duration = Duration::from_secs(3600);
/// Rows in the preview.
pub const PREVIEW_ROWS: usize = 10;
/// Bad rows listed on the report (all are counted).
pub const REPORT_BAD_ROWS: usize = 500;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/import", get(upload_form))
        .route("/console/import/{token}", get(status).post(mapping))
}

/// The upload itself, outside the general `http.body_limit`: up to `console.max_import_bytes`.
pub(super) fn upload_routes(limit: u64) -> Router<AppState> {
    Router::new()
        .route("/console/import", post(upload))
        .layer(DefaultBodyLimit::max(
            usize::try_from(limit).unwrap_or(usize::MAX),
        ))
}

#[derive(Debug, Clone, Default)]
struct Report {
    added: u64,
    activated: u64,
    unchanged: u64,
    suppressed: u64,
    bad: Vec<(u64, String)>,
    bad_total: usize,
    failed: Option<String>,
}

#[derive(Debug, Clone)]
enum Phase {
    Mapping,
    Running { done: u64, total: u64 },
    Finished(Report),
}

struct Upload {
    user: i64,
    file: String,
    text: Arc<String>,
    note: Option<&'static str>,
    confirmed: bool,
    phase: Phase,
    at: Instant,
}

type Uploads = Mutex<HashMap<String, Upload>>;

fn uploads() -> &'static Uploads {
    static U: OnceLock<Uploads> = OnceLock::new();
    U.get_or_init(Default::default)
}

fn token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..24)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
        .collect()
}

fn body_limit_text(state: &AppState) -> String {
    let b = state.settings.console_media.max_import_bytes;
    if b >= 1 << 20 {
        format!("{} MiB", b >> 20)
    } else {
        format!("{} KiB", b >> 10)
    }
}

fn upload_page(
    state: &AppState,
    console: &Console,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    console.render(
        state,
        status,
        "console-import-title",
        "import",
        json!({ "error": error, "limit": body_limit_text(state) }),
    )
}

async fn upload_form(State(state): State<AppState>, console: Console) -> Response {
    if let Err(r) = console.require(&state, Action::ManageSubscribers) {
        return r;
    }
    upload_page(&state, &console, StatusCode::OK, None)
}

async fn upload(State(state): State<AppState>, console: Console, mut form: Multipart) -> Response {
    let mut csrf = String::new();
    let mut bytes: Option<(String, Vec<u8>)> = None;
    let mut confirmed = false;
    let mut error = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                let file_name = field.file_name().unwrap_or("upload.csv").to_owned();
                match field.bytes().await {
                    Ok(b) => match name.as_str() {
                        "csrf" => csrf = String::from_utf8_lossy(&b).into_owned(),
                        "confirmed" => confirmed = !b.is_empty(),
                        "file" => bytes = Some((file_name, b.to_vec())),
                        _ => {}
                    },
                    Err(e) => {
                        error = Some((e.status(), e.body_text()));
                        break;
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                error = Some((e.status(), e.body_text()));
                break;
            }
        }
    }
    if let Err(r) = console.permit(&state, &csrf, Action::ManageSubscribers) {
        return r;
    }
    if let Some((status, e)) = error {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            let limit = body_limit_text(&state);
            let msg = state
                .renderer
                .i18n()
                .t(
                    console.page.lang,
                    "console-import-too-large",
                    &[("limit", &limit)],
                )
                .unwrap_or_default();
            return upload_page(&state, &console, status, Some(msg));
        }
        let msg = format!(
            "{}: {e}",
            text(&state, &console, "console-import-unreadable")
        );
        return upload_page(&state, &console, StatusCode::BAD_REQUEST, Some(msg));
    }
    let Some((file, bytes)) = bytes.filter(|(_, b)| !b.is_empty()) else {
        let msg = text(&state, &console, "console-import-no-file");
        return upload_page(&state, &console, StatusCode::BAD_REQUEST, Some(msg));
    };
    let (csv, note) = match import::decode_csv(&bytes) {
        Ok(t) => t,
        Err(e) => {
            return upload_page(
                &state,
                &console,
                StatusCode::BAD_REQUEST,
                Some(format!("{file}: {e}")),
            );
        }
    };
    if let Err(e) = import::headers(&csv) {
        return upload_page(
            &state,
            &console,
            StatusCode::BAD_REQUEST,
            Some(format!("{file}: {e}")),
        );
    }
    let t = token();
    let now = Instant::now();
    {
        let mut all = uploads().lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|_, u| {
            now.duration_since(u.at) < UPLOAD_TTL || matches!(u.phase, Phase::Running { .. })
        });
        all.insert(
            t.clone(),
            Upload {
                user: console.user.id,
                file,
                text: Arc::new(csv),
                note,
                confirmed,
                phase: Phase::Mapping,
                at: now,
            },
        );
    }
    tracing::info!(
        user = console.user.id,
        bytes = bytes.len(),
        "console: import uploaded"
    );
    see_other(&format!("/console/import/{t}"))
}

fn text(state: &AppState, console: &Console, id: &str) -> String {
    state
        .renderer
        .i18n()
        .t(console.page.lang, id, &[])
        .unwrap_or_default()
}

const FIELDS: [Field; 4] = [Field::Email, Field::Name, Field::Lang, Field::Ignore];

/// The mapping page: a select per column, and the preview with these choices.
fn mapping_page(
    state: &AppState,
    console: &Console,
    t: &str,
    up: (&str, &str, Option<&'static str>, bool),
    choices: &[ColumnChoice],
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let (file, csv, note, confirmed) = up;
    let headers = import::headers(csv).unwrap_or_default();
    let chosen = |h: &str| -> Option<Field> {
        choices
            .iter()
            .find(|c| c.column == h)
            .map(|c| c.field)
            .or_else(|| import::guess_field(h))
    };
    let columns: Vec<Value> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let f = chosen(h);
            json!({
                "index": i,
                "header": h,
                "guessed": import::guess_field(h).is_some(),
                "options": FIELDS.iter().map(|o| json!({
                    "value": o.as_str(),
                    "label": format!("console-import-field-{}", o.as_str()),
                    "selected": f == Some(*o),
                })).collect::<Vec<_>>(),
                "unchosen": f.is_none(),
            })
        })
        .collect();
    // Unchosen columns are read past for the preview; the run waits for a choice.
    let unchosen: Vec<&str> = headers
        .iter()
        .filter(|h| chosen(h).is_none())
        .map(String::as_str)
        .collect();
    let full: Vec<ColumnChoice> = headers
        .iter()
        .map(|h| ColumnChoice {
            column: h.clone(),
            field: chosen(h).unwrap_or(Field::Ignore),
        })
        .collect();
    let (preview, mut map_error) = match import::preview(csv, &full, PREVIEW_ROWS) {
        Ok(p) => (
            p.rows
                .iter()
                .map(|r| {
                    json!({
                        "line": r.line,
                        "cells": r.cells,
                        "ok": r.result.is_ok(),
                        "result": match &r.result {
                            Ok(row) => format!("{} · {} · {}", row.email, row.lang, row.name.as_deref().unwrap_or("")),
                            Err(e) => e.clone(),
                        },
                    })
                })
                .collect::<Vec<_>>(),
            None,
        ),
        Err(e) => (Vec::new(), Some(e)),
    };
    if map_error.is_none() && !unchosen.is_empty() {
        let columns = unchosen.join(", ");
        map_error = state
            .renderer
            .i18n()
            .t(
                console.page.lang,
                "console-import-unchosen",
                &[("columns", columns.as_str())],
            )
            .ok();
    }
    console.render(
        state,
        status,
        "console-import-mapping-title",
        "import_mapping",
        json!({
            "token": t,
            "file": file,
            "note": note,
            "confirmed": confirmed,
            "columns": columns,
            "headers": headers,
            "preview": preview,
            "error": error.or(map_error.clone()),
            "can_run": map_error.is_none(),
        }),
    )
}

/// The upload `t` if it is this person's.
fn with_upload<R>(console: &Console, t: &str, f: impl FnOnce(&mut Upload) -> R) -> Option<R> {
    let mut all = uploads().lock().unwrap_or_else(|p| p.into_inner());
    all.get_mut(t).filter(|u| u.user == console.user.id).map(f)
}

async fn status(
    State(state): State<AppState>,
    console: Console,
    Path(t): Path<String>,
) -> Response {
    if let Err(r) = console.require(&state, Action::ManageSubscribers) {
        return r;
    }
    let Some((file, csv, note, confirmed, phase)) = with_upload(&console, &t, |u| {
        (
            u.file.clone(),
            u.text.clone(),
            u.note,
            u.confirmed,
            u.phase.clone(),
        )
    }) else {
        return gone(&state, &console);
    };
    match phase {
        Phase::Mapping => mapping_page(
            &state,
            &console,
            &t,
            (&file, &csv, note, confirmed),
            &[],
            StatusCode::OK,
            None,
        ),
        Phase::Running { done, total } => {
            let mut r = console.render(
                &state,
                StatusCode::OK,
                "console-import-running-title",
                "import_status",
                json!({
                    "running": true,
                    "file": file,
                    "done": done,
                    "total": total,
                    "percent": (done * 100).checked_div(total).unwrap_or(0),
                    "token": t,
                }),
            );
            r.headers_mut().insert("refresh", HeaderValue::from_static("1"));
            r
        }
        Phase::Finished(rep) => console.render(
            &state,
            if rep.failed.is_some() {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            },
            "console-import-report-title",
            "import_status",
            json!({
                "running": false,
                "file": file,
                "added": rep.added,
                "activated": rep.activated,
                "unchanged": rep.unchanged,
                "suppressed": rep.suppressed,
                "bad_total": rep.bad_total,
                "bad": rep.bad.iter().map(|(l, r)| json!({ "line": l, "reason": r })).collect::<Vec<_>>(),
                "failed": rep.failed,
                "confirmed": confirmed,
            }),
        ),
    }
}

fn gone(state: &AppState, console: &Console) -> Response {
    console.render(
        state,
        StatusCode::NOT_FOUND,
        "console-import-gone-title",
        "message",
        json!({
            "message": "console-import-gone",
            "link": "/console/import",
            "link_label": "console-import-title",
        }),
    )
}

/// The mapping form: `csrf`, `step` (`preview` or `run`) and `col{i}` = a field per column.
async fn mapping(
    State(state): State<AppState>,
    console: Console,
    Path(t): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = console.check_csrf(&state, form.get("csrf").map(String::as_str).unwrap_or("")) {
        return r;
    }
    if let Err(r) = console.require(&state, Action::ManageSubscribers) {
        return r;
    }
    let Some((file, csv, note, confirmed, phase)) = with_upload(&console, &t, |u| {
        (
            u.file.clone(),
            u.text.clone(),
            u.note,
            u.confirmed,
            u.phase.clone(),
        )
    }) else {
        return gone(&state, &console);
    };
    if !matches!(phase, Phase::Mapping) {
        // Run once: a second click (or a reload of the POST) shows the progress.
        return see_other(&format!("/console/import/{t}"));
    }
    let headers = import::headers(&csv).unwrap_or_default();
    let mut choices = Vec::new();
    let mut errors = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        if let Some(v) = form.get(&format!("col{i}")) {
            match v.parse::<Field>() {
                Ok(field) => choices.push(ColumnChoice {
                    column: h.clone(),
                    field,
                }),
                Err(e) => errors.push(format!("`{h}`: {e}")),
            }
        }
    }
    let page = |status, error| {
        mapping_page(
            &state,
            &console,
            &t,
            (&file, &csv, note, confirmed),
            &choices,
            status,
            error,
        )
    };
    if !errors.is_empty() {
        return page(StatusCode::BAD_REQUEST, Some(errors.join("; ")));
    }
    if form.get("step").map(String::as_str) != Some("run") {
        return page(StatusCode::OK, None);
    }
    let (rows, bad) = match import::parse_mapped(&csv, &choices) {
        Ok(p) => p,
        Err(e) => return page(StatusCode::BAD_REQUEST, Some(e)),
    };
    let total = rows.len() as u64;
    let started = with_upload(&console, &t, |u| {
        if matches!(u.phase, Phase::Mapping) {
            u.phase = Phase::Running { done: 0, total };
            true
        } else {
            false
        }
    });
    if started != Some(true) {
        return see_other(&format!("/console/import/{t}"));
    }
    let actor = console.actor();
    let user = console.user.id;
    tracing::info!(
        user,
        rows = total,
        bad = bad.len(),
        "console: import started"
    );
    let handle = tokio::runtime::Handle::current();
    let job_state = state.clone();
    let job_token = t.clone();
    tokio::task::spawn_blocking(move || {
        let state = job_state;
        let t = job_token;
        let set = |phase: Phase| {
            let mut all = uploads().lock().unwrap_or_else(|p| p.into_inner());
            if let Some(u) = all.get_mut(&t) {
                u.phase = phase;
                u.at = Instant::now();
            }
        };
        let mut suppressed_lines = Vec::new();
        let result = handle.block_on(import::load(
            state.store.as_ref(),
            &rows,
            confirmed,
            if confirmed {
                Mail::Never
            } else {
                Mail::Later(&state.notifier)
            },
            &mut |event| match event {
                RowEvent::Suppressed { line } => suppressed_lines.push(line),
                RowEvent::MailNotSent { id, error, .. } => {
                    tracing::warn!(subscriber = %id, error = %error, "console import: confirmation not sent");
                }
            },
            &mut |p| set(Phase::Running { done: p.done, total: p.total }),
        ));
        let mut report = Report {
            bad_total: bad.len(),
            bad: bad
                .iter()
                .take(REPORT_BAD_ROWS)
                .map(|b| (b.line, b.reason.clone()))
                .collect(),
            ..Report::default()
        };
        for line in suppressed_lines {
            report.bad.push((
                line,
                "the address was erased on request (suppressed): skipped".into(),
            ));
        }
        report.bad.sort_by_key(|b| b.0);
        match result {
            Ok(done) => {
                report.added = done.added;
                report.activated = done.activated;
                report.unchanged = done.unchanged;
                report.suppressed = done.suppressed;
            }
            Err(e) => {
                tracing::error!(line = e.line, error = %format!("{:#}", e.source), "console import: a batch failed");
                report.failed = Some(format!(
                    "line {}: storing the rows from this line on failed; rows before it are loaded",
                    e.line
                ));
            }
        }
        let detail = format!(
            "{} added, {} activated, {} unchanged, {} suppressed, {} bad{}",
            report.added,
            report.activated,
            report.unchanged,
            report.suppressed,
            report.bad_total,
            if report.failed.is_some() {
                ", stopped by a database error"
            } else {
                ""
            }
        );
        if let Err(e) = handle.block_on(audit::record(
            state.store.as_ref(),
            &actor,
            "subscriber.imported",
            format!("{total} rows"),
            detail.clone(),
            Utc::now(),
        )) {
            tracing::error!(error = %e, "console import: cannot write the audit line");
        }
        tracing::info!(user, %detail, "console: import finished");
        set(Phase::Finished(report));
    });
    see_other(&format!("/console/import/{t}"))
}
