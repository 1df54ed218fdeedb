//! The data of the editors' pages: what the templates `console/issue_*.hbs` show, built from
//! the issue, the check report and what just happened ([`super::Extra`]). Pure translation:
//! no decision is made here.

use chrono::Utc;
use serde_json::{Value, json};

use super::{Console, Extra, anchor, field_label, is_live, severity, state_label, t, when};
use crate::app::checks::CheckReport;
use crate::app::ports::StoreError;
use crate::app::{accounts, drafts, issue_schedule};
use crate::domain::{Action, Issue, IssueContent, IssueState, Lang, LangPref};
use crate::http::AppState;

fn lang_name(l: Lang) -> &'static str {
    match l {
        Lang::Ja => "日本語",
        Lang::En => "English",
    }
}

fn column(l: Lang, c: &IssueContent, items: Vec<Value>) -> Value {
    json!({
        "code": l.as_str(),
        "name": lang_name(l),
        "subject": c.subject,
        "preheader": c.preheader.clone().unwrap_or_default(),
        "markdown": c.markdown,
        "items": items,
    })
}

/// The editor of an issue not stored yet.
pub(super) fn new_issue(
    _state: &AppState,
    _console: &Console,
    slug: &str,
    ja: &IssueContent,
    en: &IssueContent,
    error: Option<String>,
) -> Value {
    json!({
        "new": true,
        "checked": false,
        "action": "/console/issues/new",
        "slug": slug,
        "slug_locked": false,
        "editable": true,
        "notice": error,
        "notice_error": true,
        "columns": [column(Lang::Ja, ja, vec![]), column(Lang::En, en, vec![])],
    })
}

/// The check items as rows: (issue-wide, ja, en).
fn check_rows(state: &AppState, lang: Lang, report: &CheckReport) -> [Vec<Value>; 3] {
    let mut out: [Vec<Value>; 3] = Default::default();
    for i in &report.items {
        let field = t(state, lang, field_label(i.field), &[]);
        let at = match (i.line, i.column) {
            (Some(l), Some(c)) => t(
                state,
                lang,
                "console-issues-at",
                &[
                    ("field", &field),
                    ("line", &l.to_string()),
                    ("column", &c.to_string()),
                ],
            ),
            (Some(l), None) => t(
                state,
                lang,
                "console-issues-at-line",
                &[("field", &field), ("line", &l.to_string())],
            ),
            _ => field,
        };
        let row = json!({
            "severity": severity(i.severity),
            "severity_label": t(state, lang, &format!("console-issues-{}", severity(i.severity)), &[]),
            "lang": i.lang.map(|l| l.as_str()),
            "lang_name": i.lang.map(lang_name),
            "at": at,
            "anchor": anchor(i.lang, i.field),
            "message": match lang { Lang::Ja => &i.message_ja, Lang::En => &i.message_en },
            "code": i.code,
        });
        let slot = match i.lang {
            None => 0,
            Some(Lang::Ja) => 1,
            Some(Lang::En) => 2,
        };
        out[slot].push(row);
    }
    out
}

/// The editor of a stored issue.
pub(super) async fn editor(
    state: &AppState,
    console: &Console,
    issue: &Issue,
    report: &CheckReport,
    extra: Extra,
) -> Result<Value, StoreError> {
    let lang = console.page.lang;
    let now = Utc::now();
    let tz = state.settings.schedule.timezone;
    let [general, ja_items, en_items] = check_rows(state, lang, report);
    let (slug, ja, en) = extra
        .texts
        .clone()
        .unwrap_or_else(|| (issue.slug.clone(), issue.ja.clone(), issue.en.clone()));
    let replacements: Vec<Value> = report
        .replacements
        .iter()
        .map(|r| {
            let field = t(state, lang, field_label(r.field), &[]);
            let readers = match r.lang {
                Lang::Ja => report.legacy_readers_ja,
                Lang::En => report.legacy_readers_en,
            };
            json!({
                "lang_name": lang_name(r.lang),
                "at": t(state, lang, "console-issues-at", &[("field", &field), ("line", &r.line.to_string()), ("column", &r.column.to_string())]),
                "ch": r.ch.to_string(),
                "code": format!("U+{:04X}", r.ch as u32),
                "to": r.replacement.clone(),
                "dropped": r.replacement.as_deref() == Some(""),
                "readers": t(state, lang, "console-issues-readers", &[("n", &readers.to_string())]),
            })
        })
        .collect();
    let can_accept =
        issue.state.editable() && report.replacements.iter().any(|r| r.replacement.is_some());
    let goes_out = match issue.state {
        IssueState::Queued => drafts::next_send_time(&state.settings, issue.send_at, now),
        IssueState::Paused if issue.started_at.is_none() => {
            drafts::next_send_time(&state.settings, issue.send_at, now)
        }
        _ => None,
    };
    let next_tick = drafts::next_send_time(&state.settings, None, now);
    let input = extra.send_at_input.clone().unwrap_or_else(|| {
        issue
            .send_at
            .filter(|t| *t > now)
            .map(|t| issue_schedule::local_input(t, tz))
            .unwrap_or_default()
    });
    let tests: Vec<Value> = extra
        .tests
        .iter()
        .map(|s| {
            json!({
                "to": s.to.to_string(),
                "pref": t(state, lang, &format!("console-issues-mail-{}", s.pref), &[]),
                "ok": s.result.is_ok(),
                "reply": match &s.result { Ok(r) => r.clone(), Err(e) => e.clone() },
            })
        })
        .collect();
    let may_send = accounts::may(console.user.role, Action::SendIssues);
    let approval = accounts::approval::needs_approval(&state.settings);
    let live = is_live(issue);
    let (notice, notice_error) = match &extra.notice {
        Some((m, e)) => (Some(m.clone()), *e),
        None => (None, false),
    };
    Ok(json!({
        "new": false,
        "id": issue.id,
        "action": format!("/console/issues/{}", issue.id),
        "slug": slug,
        "slug_locked": issue.state != IssueState::Draft,
        "state": issue.state.to_string(),
        "state_label": state_label(state, lang, issue.state),
        "editable": issue.state.editable(),
        "notice": notice,
        "notice_error": notice_error,
        "columns": [column(Lang::Ja, &ja, ja_items), column(Lang::En, &en, en_items)],
        "general": general,
        "errors": report.errors(),
        "warnings": report.warnings(),
        "checked": true,
        "replacements": replacements,
        "can_accept": can_accept,
        "legacy_ja": report.legacy_readers_ja,
        "legacy_en": report.legacy_readers_en,
        "snippet": extra.snippet,
        "tests": tests,
        "test_to": extra.test_to.clone().unwrap_or_default(),
        "tz": tz.name(),
        "send_at_input": input,
        "now_input": now
            .with_timezone(&state.settings.schedule.timezone)
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
        "goes_out": goes_out.map(|t| when(state, lang, t, now)),
        "next_tick": next_tick.map(|t| when(state, lang, t, now)),
        "may_send": may_send && live,
        "approval": approval && live && issue.state.editable(),
        "can_schedule": may_send && issue.state.editable(),
        "can_send_now": may_send && issue.state.editable() && !approval,
        "can_pause": may_send && matches!(issue.state, IssueState::Queued | IssueState::Sending),
        "can_resume": may_send && issue.state == IssueState::Paused,
        "can_cancel": may_send && live,
        "cancel_to_draft": issue.state == IssueState::Queued && issue.started_at.is_none(),
        "max_image": state.settings.console_media.max_image_bytes / 1024,
    }))
}

/// The preview page: the option links and the frame.
pub(super) fn preview(
    state: &AppState,
    console: &Console,
    issue: &Issue,
    pref: LangPref,
    phone: bool,
    text: bool,
) -> Value {
    let lang = console.page.lang;
    let id = issue.id;
    let q = |mail: LangPref, phone: bool, text: bool| {
        format!(
            "mail={mail}&width={}&part={}",
            if phone { "phone" } else { "desktop" },
            if text { "text" } else { "html" }
        )
    };
    let opt = |label: String, mail: LangPref, ph: bool, tx: bool, current: bool| {
        json!({
            "label": label,
            "href": format!("/console/issues/{id}/preview?{}", q(mail, ph, tx)),
            "current": current,
        })
    };
    let mails: Vec<Value> = [LangPref::Ja, LangPref::En, LangPref::Both]
        .into_iter()
        .map(|m| {
            opt(
                t(state, lang, &format!("console-issues-mail-{m}"), &[]),
                m,
                phone,
                text,
                m == pref,
            )
        })
        .collect();
    let widths = vec![
        opt(
            t(state, lang, "console-issues-phone", &[]),
            pref,
            true,
            text,
            phone,
        ),
        opt(
            t(state, lang, "console-issues-desktop", &[]),
            pref,
            false,
            text,
            !phone,
        ),
    ];
    let parts = vec![
        opt(
            t(state, lang, "console-issues-part-html", &[]),
            pref,
            phone,
            false,
            !text,
        ),
        opt(
            t(state, lang, "console-issues-part-text", &[]),
            pref,
            phone,
            true,
            text,
        ),
    ];
    let subject = match pref {
        LangPref::En => issue.en.subject.clone(),
        LangPref::Ja => issue.ja.subject.clone(),
        LangPref::Both => format!("{} / {}", issue.ja.subject, issue.en.subject),
    };
    json!({
        "id": id,
        "subject": subject,
        "mails": mails,
        "widths": widths,
        "parts": parts,
        "frame": format!("/console/issues/{id}/preview/mail?{}", q(pref, phone, text)),
        "width_class": if phone { "phone" } else { "desktop" },
    })
}

/// The "send now" confirmation: the audience by language.
pub(super) fn confirm(
    state: &AppState,
    console: &Console,
    issue: &Issue,
    a: drafts::Audience,
) -> Value {
    let lang = console.page.lang;
    json!({
        "id": issue.id,
        "subject": match lang { Lang::Ja => &issue.ja.subject, Lang::En => &issue.en.subject },
        "state_label": state_label(state, lang, issue.state),
        "ja": a.ja,
        "en": a.en,
        "both": a.both,
        "total": a.total(),
        "sendable": issue.state.editable(),
        "approval": accounts::approval::needs_approval(&state.settings),
    })
}
