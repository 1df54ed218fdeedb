//! Editors' use cases: read an issue's Markdown sources, queue, edit, send now, pause,
//! resume, cancel. [`queue`] and [`edit`] check the content themselves (subject, body,
//! absolute links, and for [`queue`] what ISO-2022-JP can carry), reporting every problem at
//! once, whoever calls them (the command line, the admin API); each refusal names the file
//! and line when there is one. [`send_now`] is one compare-and-set in the store, so it never
//! overwrites a concurrent edit.
//!
//! Depends on the domain, the issue port, the settings and render's text checks; no adapter.

use std::fmt;

use chrono::{DateTime, Utc};

use super::ports::{IssueStore, StoreError};
use crate::config::Settings;
use crate::domain::{IssueContent, NewIssue};
use crate::domain::{IssueId, IssueState, Lang, valid_slug};
use crate::render::text::{check_iso2022jp, check_links, legacy_stand_in};

/// Longest subject accepted, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// One thing wrong with an issue's sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProblem {
    /// The file name as the editor gave it (or `ja` / `en` for API input).
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for SourceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Why an issue was not queued or changed.
#[derive(Debug, thiserror::Error)]
pub enum EditorialError {
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<SourceProblem>),
    #[error("the legal footer is incomplete; set {}", .0.join(", "))]
    LegalFooter(Vec<&'static str>),
    #[error("the slug `{0}` is already used by another issue")]
    SlugTaken(String),
    #[error(
        "slug `{0}` must be 1–64 characters of a-z, 0-9 and -, starting with a letter or digit"
    )]
    BadSlug(String),
    #[error("issue {0} not found")]
    NotFound(IssueId),
    #[error("issue {id} is {state}: {action} is not possible now")]
    WrongState {
        id: IssueId,
        state: IssueState,
        action: &'static str,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One language's content as an editor wrote it, with where it came from, so that each
/// problem names the file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The file name as the editor gave it, or `ja` / `en` for content given as such.
    pub file: String,
    pub content: IssueContent,
    /// The file line of the subject (`None`: not read from a file).
    subject_line: Option<usize>,
    /// The file line the Markdown starts on.
    body_line: usize,
    /// Problems with the source format that did not stop it being read (an unknown front
    /// matter key, a line that is not `key: value`); reported with the content's own.
    format_problems: Vec<SourceProblem>,
}

impl Draft {
    /// Content given as such (the admin API): problems name `label`, and lines count from the
    /// Markdown's first line.
    pub fn new(label: &str, content: IssueContent) -> Draft {
        Draft {
            file: label.to_owned(),
            content,
            subject_line: None,
            body_line: 1,
            format_problems: Vec::new(),
        }
    }

    /// Problems with the source format that did not stop it being read.
    pub fn format_problems(&self) -> &[SourceProblem] {
        &self.format_problems
    }

    /// Everything wrong with this draft: its format problems, then the content rules.
    pub fn problems(&self) -> Vec<SourceProblem> {
        let mut problems = self.format_problems.clone();
        problems.extend(check_content(
            &self.file,
            &self.content,
            self.subject_line,
            self.body_line,
        ));
        problems
    }
}

/// Every problem of both languages' drafts, Japanese first.
fn problems_of(ja: &Draft, en: &Draft) -> Vec<SourceProblem> {
    let mut problems = ja.problems();
    problems.extend(en.problems());
    problems
}

/// Reads one language's source: a front matter (`subject`, optional `preheader`) between
/// `---` lines, then Markdown. `file` names it in errors. A source that cannot be read at all
/// (not UTF-8, no front matter, no subject) is refused here; whether its content is good is
/// for [`Draft::problems`], which [`queue`] and [`edit`] apply.
pub fn parse_source(file: &str, bytes: &[u8]) -> Result<Draft, Vec<SourceProblem>> {
    let problem = |line: Option<usize>, message: String| SourceProblem {
        file: file.to_owned(),
        line,
        message,
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            return Err(vec![problem(
                Some(line),
                "is not UTF-8 text (save it as UTF-8; Shift_JIS is not accepted)".into(),
            )]);
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut problems = Vec::new();
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        return Err(vec![problem(
            Some(1),
            "must start with a front matter: a `---` line, `subject: …`, optional `preheader: …`, then `---`".into(),
        )]);
    }
    let mut subject = None;
    let mut preheader = None;
    let mut body_offset = first.len();
    let mut body_line = 2;
    let mut closed = false;
    for (i, raw) in lines.by_ref().enumerate() {
        let line_no = i + 2;
        body_offset += raw.len();
        body_line = line_no + 1;
        let line = raw.trim_end_matches(['\n', '\r']);
        if line.trim_end() == "---" {
            closed = true;
            break;
        }
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            problems.push(problem(
                Some(line_no),
                format!("expected `key: value` in the front matter, found `{line}`"),
            ));
            continue;
        };
        let value = unquote(value.trim());
        match key.trim() {
            "subject" => subject = Some((value, line_no)),
            "preheader" => preheader = Some(value),
            other => problems.push(problem(
                Some(line_no),
                format!("unknown front matter key `{other}` (known: subject, preheader)"),
            )),
        }
    }
    if !closed {
        return Err(vec![problem(
            None,
            "the front matter is not closed with a `---` line".into(),
        )]);
    }
    let Some((subject, subject_line)) = subject else {
        problems.push(problem(Some(1), "the front matter has no `subject`".into()));
        return Err(problems);
    };
    Ok(Draft {
        file: file.to_owned(),
        content: IssueContent {
            subject,
            preheader: preheader.filter(|p| !p.is_empty()),
            markdown: text[body_offset.min(text.len())..].to_owned(),
        },
        subject_line: Some(subject_line),
        body_line,
        format_problems: problems,
    })
}

/// The rules every issue's content obeys; `body_line` is the file line the Markdown starts on.
fn check_content(
    file: &str,
    c: &IssueContent,
    subject_line: Option<usize>,
    body_line: usize,
) -> Vec<SourceProblem> {
    let mut problems = Vec::new();
    let mut problem = |line: Option<usize>, message: String| {
        problems.push(SourceProblem {
            file: file.to_owned(),
            line,
            message,
        })
    };
    let chars = c.subject.chars().count();
    if c.subject.trim().is_empty() {
        problem(subject_line, "the subject is empty".into());
    } else if chars > MAX_SUBJECT_CHARS {
        problem(
            subject_line,
            format!("the subject is {chars} characters; at most {MAX_SUBJECT_CHARS}"),
        );
    }
    for (what, v) in [
        ("subject", Some(&c.subject)),
        ("preheader", c.preheader.as_ref()),
    ] {
        if v.is_some_and(|v| v.chars().any(char::is_control)) {
            problem(
                subject_line,
                format!("the {what} contains a line break or control character"),
            );
        }
    }
    if c.markdown.trim().is_empty() {
        problem(
            Some(body_line),
            "the issue has no text after the front matter".into(),
        );
    }
    for p in check_links(&c.markdown) {
        problem(
            Some(body_line - 1 + p.line),
            format!("column {}: {}", p.col, p.describe()),
        );
    }
    problems
}

fn unquote(v: &str) -> String {
    let bytes = v.as_bytes();
    if bytes.len() >= 2
        && ((bytes[0] == b'"' && bytes[bytes.len() - 1] == b'"')
            || (bytes[0] == b'\'' && bytes[bytes.len() - 1] == b'\''))
    {
        v[1..v.len() - 1].to_owned()
    } else {
        v.to_owned()
    }
}

/// Characters recipients in `newsletter.legacy_charset_domains` (ISO-2022-JP) cannot receive
/// and that have no stand-in (`domain::legacy_charset`: – → -, ① → (1), emoji dropped…),
/// so those readers would see 〓; positions are in the subject and in the Markdown body
/// (body line 1 is the Markdown's first line).
pub fn legacy_charset_problems(file: &str, content: &IssueContent) -> Vec<SourceProblem> {
    let mut out = Vec::new();
    for u in check_iso2022jp(&content.subject) {
        if legacy_stand_in(u.ch).is_some() {
            continue;
        }
        out.push(SourceProblem {
            file: file.to_owned(),
            line: None,
            message: format!(
                "subject, column {}: `{}` cannot be sent as ISO-2022-JP and has no stand-in",
                u.col, u.ch
            ),
        });
    }
    for u in check_iso2022jp(&content.markdown) {
        if legacy_stand_in(u.ch).is_some() {
            continue;
        }
        out.push(SourceProblem {
            file: file.to_owned(),
            line: None,
            message: format!(
                "body line {}, column {}: `{}` (U+{:04X}) cannot be sent as ISO-2022-JP and has no stand-in",
                u.line, u.col, u.ch, u.ch as u32
            ),
        });
    }
    out
}

/// What an editor asks to queue.
#[derive(Debug, Clone)]
pub struct QueueRequest {
    pub slug: String,
    pub send_at: Option<DateTime<Utc>>,
    pub ja: Draft,
    pub en: Draft,
    /// Send characters ISO-2022-JP cannot carry and that have no stand-in as 〓 to
    /// legacy-charset recipients instead of refusing (those with a stand-in never refuse).
    pub allow_lossy: bool,
}

/// Checks and stores a queued issue: the content of both languages first (every problem at
/// once), then the slug, the legal footer settings, and what legacy-charset recipients can
/// receive.
pub async fn queue(
    store: &dyn IssueStore,
    settings: &Settings,
    req: QueueRequest,
    now: DateTime<Utc>,
) -> Result<IssueId, EditorialError> {
    let problems = problems_of(&req.ja, &req.en);
    if !problems.is_empty() {
        return Err(EditorialError::Invalid(problems));
    }
    if !valid_slug(&req.slug) {
        return Err(EditorialError::BadSlug(req.slug));
    }
    let missing = settings.newsletter.missing_legal_settings();
    if !missing.is_empty() {
        return Err(EditorialError::LegalFooter(missing));
    }
    if !settings.newsletter.legacy_charset_domains.is_empty() && !req.allow_lossy {
        let mut problems = legacy_charset_problems("ja", &req.ja.content);
        problems.extend(legacy_charset_problems("en", &req.en.content));
        if !problems.is_empty() {
            problems.push(SourceProblem {
                file: "issue".into(),
                line: None,
                message: format!(
                    "recipients at {} get ISO-2022-JP; change these characters or queue with --allow-lossy (they see 〓)",
                    settings.newsletter.legacy_charset_domains.join(", ")
                ),
            });
            return Err(EditorialError::Invalid(problems));
        }
    }
    let new = NewIssue {
        slug: req.slug.clone(),
        state: IssueState::Queued,
        send_at: req.send_at,
        ja: req.ja.content,
        en: req.en.content,
        now,
    };
    match store.insert_issue(&new).await {
        Ok(id) => {
            tracing::info!(issue_id = id.get(), slug = %req.slug, "issue queued");
            super::accounts::audit::note(
                "issue.queued",
                format!("issue {}", id.get()),
                req.slug.clone(),
                now,
            )
            .await;
            Ok(id)
        }
        Err(StoreError::Conflict(_)) => Err(EditorialError::SlugTaken(req.slug)),
        Err(e) => Err(e.into()),
    }
}

/// The editor's controls; each is a compare-and-set on the issue's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
}

impl Control {
    fn name(self) -> &'static str {
        match self {
            Control::Pause => "pause",
            Control::Resume => "resume",
            Control::Cancel => "cancel",
        }
    }
}

/// Applies `control` to issue `id`; returns the new state. Cancelling a queued issue (one
/// that has not started) returns it to `draft`, slug and content kept; cancelling a draft,
/// or an issue that has started, cancels it for good.
pub async fn control(
    store: &dyn IssueStore,
    id: IssueId,
    control: Control,
    now: DateTime<Utc>,
) -> Result<IssueState, EditorialError> {
    let issue = store.issue(id).await?.ok_or(EditorialError::NotFound(id))?;
    let (from, to): (&[IssueState], IssueState) = match control {
        Control::Pause => (
            &[IssueState::Queued, IssueState::Sending],
            IssueState::Paused,
        ),
        // A paused campaign that had started continues where it stopped; one that had not
        // goes back to the queue.
        Control::Resume if issue.started_at.is_some() => {
            (&[IssueState::Paused], IssueState::Sending)
        }
        Control::Resume => (&[IssueState::Paused], IssueState::Queued),
        Control::Cancel if issue.state == IssueState::Queued && issue.started_at.is_none() => {
            (&[IssueState::Queued], IssueState::Draft)
        }
        Control::Cancel => (
            &[
                IssueState::Draft,
                IssueState::Queued,
                IssueState::Sending,
                IssueState::Paused,
            ],
            IssueState::Cancelled,
        ),
    };
    // Resuming an issue that never started, and whose time has passed (it was held by the
    // catch-up rule, or paused past its date), means "send it now".
    if control == Control::Resume
        && to == IssueState::Queued
        && issue.send_at.is_some_and(|t| t <= now)
    {
        store.set_issue_send_at(id, Some(now), now).await?;
    }
    let changed = if to == IssueState::Cancelled {
        store.cancel_issue(id, now).await?
    } else {
        store.transition_issue(id, from, to, now).await?
    };
    if !changed {
        return Err(EditorialError::WrongState {
            id,
            state: issue.state,
            action: control.name(),
        });
    }
    tracing::info!(issue_id = id.get(), from = %issue.state, to = %to, "issue state changed");
    let action = match control {
        Control::Pause => "issue.paused",
        Control::Resume => "issue.resumed",
        Control::Cancel => "issue.cancelled",
    };
    super::accounts::audit::note(
        action,
        format!("issue {}", id.get()),
        format!("{} -> {to}", issue.state),
        now,
    )
    .await;
    Ok(to)
}

/// Replaces an issue's content, after checking it (every problem at once); refused once
/// sending has started.
pub async fn edit(
    store: &dyn IssueStore,
    id: IssueId,
    send_at: Option<DateTime<Utc>>,
    ja: Draft,
    en: Draft,
    now: DateTime<Utc>,
) -> Result<(), EditorialError> {
    let problems = problems_of(&ja, &en);
    if !problems.is_empty() {
        return Err(EditorialError::Invalid(problems));
    }
    let issue = store.issue(id).await?.ok_or(EditorialError::NotFound(id))?;
    if !issue.state.editable()
        || !store
            .update_issue(id, send_at, &ja.content, &en.content, now)
            .await?
    {
        return Err(EditorialError::WrongState {
            id,
            state: issue.state,
            action: "editing",
        });
    }
    super::accounts::audit::note("issue.edited", format!("issue {}", id.get()), "", now).await;
    Ok(())
}

/// Brings a draft or queued issue's send time forward to `now` (the scheduler then starts
/// it at once), in one compare-and-set on the state: nothing else of the issue is written,
/// so a concurrent edit is never lost. Refused, like an edit, once sending has started.
pub async fn send_now(
    store: &dyn IssueStore,
    id: IssueId,
    now: DateTime<Utc>,
) -> Result<(), EditorialError> {
    if store.send_issue_now(id, now).await? {
        tracing::info!(issue_id = id.get(), "issue brought forward to now");
        super::accounts::audit::note(
            "issue.sent",
            format!("issue {}", id.get()),
            "send started: brought forward to now",
            now,
        )
        .await;
        return Ok(());
    }
    match store.issue_state(id).await? {
        None => Err(EditorialError::NotFound(id)),
        Some(state) => Err(EditorialError::WrongState {
            id,
            state,
            action: "editing",
        }),
    }
}

/// The languages an issue needs content for, in order.
pub const LANGS: [Lang; 2] = [Lang::Ja, Lang::En];

#[cfg(test)]
mod tests {
    use super::*;

    const JA: &str = "---\nsubject: 十二月号：技能実習生の権利を守る\npreheader: 今月の活動報告\n---\n\n# 今月のお知らせ\n\n[報告書](https://example.org/report.pdf)をご覧ください。\n";

    /// Reading and checking, as `kairan issue queue` reports a file.
    fn checked(file: &str, bytes: &[u8]) -> Result<IssueContent, Vec<SourceProblem>> {
        let d = parse_source(file, bytes)?;
        let p = d.problems();
        if p.is_empty() { Ok(d.content) } else { Err(p) }
    }

    #[test]
    fn a_good_source_parses_into_subject_preheader_and_body() {
        let c = checked("ja.md", JA.as_bytes()).unwrap();
        assert_eq!(c.subject, "十二月号：技能実習生の権利を守る");
        assert_eq!(c.preheader.as_deref(), Some("今月の活動報告"));
        assert!(c.markdown.starts_with("\n# 今月のお知らせ"));
    }

    #[test]
    fn problems_name_the_file_and_line() {
        let src =
            "---\nsubject: \"\"\ncolour: red\n---\n\nSee [this](/relative) and ![x](img.png).\n";
        let problems = checked("en.md", src.as_bytes()).unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text.contains(&"en.md:2: the subject is empty".to_owned()),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("en.md:3: unknown front matter key `colour`")),
            "{text:?}"
        );
        assert_eq!(
            text.iter()
                .filter(|t| t.starts_with("en.md:6: column"))
                .count(),
            2,
            "{text:?}"
        );
    }

    #[test]
    fn non_utf8_and_missing_front_matter_and_long_subjects_are_refused() {
        let sjis = b"---\nsubject: ok\n---\n\x82\xa0\x82\xa2\n";
        let p = checked("ja.md", sjis).unwrap_err();
        assert_eq!(
            p[0].to_string(),
            "ja.md:4: is not UTF-8 text (save it as UTF-8; Shift_JIS is not accepted)"
        );
        let p = checked("ja.md", "# no front matter".as_bytes()).unwrap_err();
        assert_eq!(p[0].line, Some(1));
        let long = format!("---\nsubject: {}\n---\nbody\n", "長".repeat(201));
        let p = checked("ja.md", long.as_bytes()).unwrap_err();
        assert!(p[0].message.contains("201 characters"), "{p:?}");
        let p = checked("ja.md", b"---\nsubject: x\n---\n   \n").unwrap_err();
        assert!(p[0].message.contains("no text"), "{p:?}");
    }

    #[test]
    fn characters_iso_2022_jp_cannot_carry_are_located() {
        let c = IssueContent {
            subject: "お知らせ①".into(),
            preheader: None,
            markdown: "一行目\n二行目に㈱と😀\n".into(),
        };
        // ①, ㈱ and 😀 have stand-ins ((1), (株), dropped): only ꙮ is a problem.
        assert_eq!(legacy_charset_problems("ja", &c), []);
        let c = IssueContent {
            markdown: "一行目\n二行目に㈱とꙮ\n".into(),
            ..c
        };
        let p = legacy_charset_problems("ja", &c);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].message.starts_with("body line 2, column 7: `ꙮ`"),
            "{}",
            p[0].message
        );
    }

    /// A store that must not be reached: content that fails the checks never gets there.
    struct Unreachable;

    #[async_trait::async_trait]
    impl IssueStore for Unreachable {
        async fn insert_issue(&self, _: &NewIssue) -> Result<IssueId, StoreError> {
            unreachable!("an invalid issue was stored")
        }
        async fn issue(&self, _: IssueId) -> Result<Option<crate::domain::Issue>, StoreError> {
            unreachable!("an invalid edit read the store")
        }
        async fn list_issues(&self) -> Result<Vec<crate::domain::Issue>, StoreError> {
            unreachable!()
        }
        async fn transition_issue(
            &self,
            _: IssueId,
            _: &[IssueState],
            _: IssueState,
            _: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            unreachable!()
        }
        async fn cancel_issue(&self, _: IssueId, _: DateTime<Utc>) -> Result<bool, StoreError> {
            unreachable!()
        }
        async fn update_issue(
            &self,
            _: IssueId,
            _: Option<DateTime<Utc>>,
            _: &IssueContent,
            _: &IssueContent,
            _: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            unreachable!("an invalid edit was stored")
        }
        async fn set_issue_send_at(
            &self,
            _: IssueId,
            _: Option<DateTime<Utc>>,
            _: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            unreachable!()
        }
        async fn send_issue_now(&self, _: IssueId, _: DateTime<Utc>) -> Result<bool, StoreError> {
            unreachable!()
        }
        async fn try_scheduler_lock(&self) -> Result<bool, StoreError> {
            unreachable!()
        }
    }

    fn bad_ja() -> Draft {
        Draft::new(
            "ja",
            IssueContent {
                subject: " ".into(),
                preheader: Some("改\n行".into()),
                markdown: "[相談窓口](/soudan)".into(),
            },
        )
    }

    fn bad_en() -> Draft {
        Draft::new(
            "en",
            IssueContent {
                subject: "x".repeat(201),
                preheader: None,
                markdown: "  \n".into(),
            },
        )
    }

    fn settings() -> Settings {
        crate::config::parse("", "test", &[]).unwrap().0
    }

    #[tokio::test]
    async fn queue_checks_the_content_itself_and_reports_every_problem_at_once() {
        let req = QueueRequest {
            slug: "2026-12".into(),
            send_at: None,
            ja: bad_ja(),
            en: bad_en(),
            allow_lossy: false,
        };
        let Err(EditorialError::Invalid(p)) =
            queue(&Unreachable, &settings(), req, Utc::now()).await
        else {
            panic!("invalid content was accepted");
        };
        let text: Vec<String> = p.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "ja: the subject is empty",
                "ja: the preheader contains a line break or control character",
                "ja:1: column 8: relative URL \"/soudan\": mail needs an absolute https:// URL",
                "en: the subject is 201 characters; at most 200",
                "en:1: the issue has no text after the front matter",
            ],
            "{text:?}"
        );
    }

    #[tokio::test]
    async fn edit_checks_the_content_before_touching_the_store() {
        let r = edit(
            &Unreachable,
            IssueId::new(1),
            None,
            bad_ja(),
            Draft::new(
                "en",
                IssueContent {
                    subject: "Fine".into(),
                    preheader: None,
                    markdown: "Fine.".into(),
                },
            ),
            Utc::now(),
        )
        .await;
        let Err(EditorialError::Invalid(p)) = r else {
            panic!("an invalid edit was accepted: {r:?}");
        };
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().all(|p| p.file == "ja"), "{p:?}");
    }
}
