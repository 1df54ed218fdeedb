//! The editors' console's use cases beyond [`super::editorial`]'s (the command line calls
//! the same): save a draft (saved, never sent, no content checks, the slug may still
//! change), save an issue's text while it is a draft or queued (a queued one is checked
//! first; its slug and archive URL stay), queue a draft, accept the legacy-charset
//! stand-ins into the text, when an issue will go out ([`next_send_time`], shown as a date
//! in `schedule.timezone`), a preview of unsaved text, and test sends to several addresses.
//!
//! Depends on the domain, the ports, the settings, render and the other use cases.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::checks::{self, CheckContext, CheckReport, Severity};
use super::editorial::{EditorialError, SourceProblem};
use super::ports::{Mailer, Store, StoreError};
use super::preview::{self, PreviewFiles};
use crate::config::Settings;
use crate::domain::{
    EmailAddress, Issue, IssueContent, IssueId, IssueState, LangPref, NewIssue, valid_slug,
};
use crate::render::Renderer;

/// Saves a new draft. Nothing but the slug is checked: a draft may be half-written.
pub async fn create_draft(
    store: &dyn Store,
    slug: &str,
    send_at: Option<DateTime<Utc>>,
    ja: IssueContent,
    en: IssueContent,
    now: DateTime<Utc>,
) -> Result<IssueId, EditorialError> {
    if !valid_slug(slug) {
        return Err(EditorialError::BadSlug(slug.to_owned()));
    }
    let new = NewIssue {
        slug: slug.to_owned(),
        state: IssueState::Draft,
        send_at,
        ja,
        en,
        now,
    };
    match store.insert_issue(&new).await {
        Ok(id) => {
            tracing::info!(issue_id = id.get(), "draft saved");
            super::accounts::audit::note("issue.created", format!("issue {}", id.get()), slug, now)
                .await;
            Ok(id)
        }
        Err(StoreError::Conflict(_)) => Err(EditorialError::SlugTaken(slug.to_owned())),
        Err(e) => Err(e.into()),
    }
}

/// What an editor saves.
#[derive(Debug, Clone)]
pub struct Save {
    /// A new slug (drafts only).
    pub slug: Option<String>,
    pub send_at: Option<DateTime<Utc>>,
    pub ja: IssueContent,
    pub en: IssueContent,
}

/// Saves an issue's text (the autosave and `kairan issue edit`): a draft as it is, a queued
/// issue only when it passes the checks (it stays ready to go out). Refused once sending
/// has started, and a queued issue's slug cannot change (its archive URL is announced).
pub async fn save(
    store: &dyn Store,
    settings: &Settings,
    id: IssueId,
    s: Save,
    now: DateTime<Utc>,
) -> Result<IssueState, EditorialError> {
    let issue = store.issue(id).await?.ok_or(EditorialError::NotFound(id))?;
    let wrong = |state| EditorialError::WrongState {
        id,
        state,
        action: "editing",
    };
    if !issue.state.editable() {
        return Err(wrong(issue.state));
    }
    if issue.state == IssueState::Queued {
        if s.slug.as_ref().is_some_and(|n| *n != issue.slug) {
            return Err(EditorialError::WrongState {
                id,
                state: issue.state,
                action: "changing the slug",
            });
        }
        let ctx = CheckContext {
            slug: None,
            updated: None,
            legacy_readers: checks::legacy_readers(store, settings).await?,
            allow_lossy: false,
        };
        let report = checks::check_content(settings, &s.ja, &s.en, &ctx);
        if !report.can_queue() {
            return Err(EditorialError::Invalid(as_problems(&report)));
        }
    }
    if let Some(slug) = s.slug.as_ref().filter(|n| **n != issue.slug) {
        if !valid_slug(slug) {
            return Err(EditorialError::BadSlug(slug.clone()));
        }
        match store.rename_draft(id, slug, now).await {
            Ok(true) => {}
            Ok(false) => return Err(wrong(store.issue_state(id).await?.unwrap_or(issue.state))),
            Err(StoreError::Conflict(_)) => return Err(EditorialError::SlugTaken(slug.clone())),
            Err(e) => return Err(e.into()),
        }
    }
    if !store.update_issue(id, s.send_at, &s.ja, &s.en, now).await? {
        return Err(wrong(store.issue_state(id).await?.unwrap_or(issue.state)));
    }
    tracing::info!(issue_id = id.get(), state = %issue.state, "issue saved");
    super::accounts::audit::note("issue.edited", format!("issue {}", id.get()), "", now).await;
    Ok(issue.state)
}

/// The errors of a report as the editorial use cases' problems (`ja: body 3:4: …`).
pub fn as_problems(report: &CheckReport) -> Vec<SourceProblem> {
    report
        .items
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .map(|i| SourceProblem {
            file: i.lang.map_or("issue".to_owned(), |l| l.to_string()),
            line: None,
            message: {
                let pos = match (i.line, i.column) {
                    (Some(l), Some(c)) => format!(" {l}:{c}"),
                    (Some(l), None) => format!(" {l}"),
                    _ => String::new(),
                };
                format!("{}{pos}: {}", i.field.as_str(), i.message_en)
            },
        })
        .collect()
}

/// Queues a draft after the checks (every error at once); returns when it will go out.
pub async fn queue_draft(
    store: &dyn Store,
    settings: &Settings,
    id: IssueId,
    allow_lossy: bool,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, EditorialError> {
    let issue = store.issue(id).await?.ok_or(EditorialError::NotFound(id))?;
    if issue.state != IssueState::Draft {
        return Err(EditorialError::WrongState {
            id,
            state: issue.state,
            action: "queueing",
        });
    }
    let ctx = CheckContext {
        slug: Some(issue.slug.clone()),
        updated: None,
        legacy_readers: checks::legacy_readers(store, settings).await?,
        allow_lossy,
    };
    let report = checks::check_content(settings, &issue.ja, &issue.en, &ctx);
    if !report.can_queue() {
        return Err(EditorialError::Invalid(as_problems(&report)));
    }
    if !store
        .transition_issue(id, &[IssueState::Draft], IssueState::Queued, now)
        .await?
    {
        return Err(EditorialError::WrongState {
            id,
            state: store.issue_state(id).await?.unwrap_or(issue.state),
            action: "queueing",
        });
    }
    tracing::info!(issue_id = id.get(), "draft queued");
    super::accounts::audit::note("issue.queued", format!("issue {}", id.get()), "", now).await;
    Ok(next_send_time(settings, issue.send_at, now))
}

/// Rewrites an editable issue's text with the stand-ins legacy-charset readers would get
/// (the console's "accept replacements"); returns how many characters changed. A queued
/// issue stays valid: the stand-ins are all characters the checks accept.
pub async fn accept_replacements(
    store: &dyn Store,
    id: IssueId,
    now: DateTime<Utc>,
) -> Result<usize, EditorialError> {
    let issue = store.issue(id).await?.ok_or(EditorialError::NotFound(id))?;
    let (ja, a) = checks::accept_replacements(&issue.ja);
    let (en, b) = checks::accept_replacements(&issue.en);
    if a + b == 0 {
        return Ok(0);
    }
    // Stand-ins are not an editor's change: each side keeps the time it was last edited, so
    // accepting them on one side does not make the other look like a stale translation.
    let edited = store.content_updated_at(id).await?;
    if !issue.state.editable() || !store.update_issue(id, issue.send_at, &ja, &en, now).await? {
        return Err(EditorialError::WrongState {
            id,
            state: issue.state,
            action: "editing",
        });
    }
    if let Some((ja_at, en_at)) = edited {
        store.set_content_updated_at(id, ja_at, en_at).await?;
    }
    tracing::info!(issue_id = id.get(), replaced = a + b, "stand-ins accepted");
    super::accounts::audit::note(
        "issue.edited",
        format!("issue {}", id.get()),
        format!("{} legacy-charset stand-ins accepted", a + b),
        now,
    )
    .await;
    Ok(a + b)
}

/// When an issue sent at `send_at` (or, without one, at the next cron tick) goes out, seen
/// from `now`: a time already past means at once (`now`).
pub fn next_send_time(
    settings: &Settings,
    send_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match send_at {
        Some(t) => Some(t.max(now)),
        None => {
            super::scheduler::next_tick(&settings.schedule.cron, settings.schedule.timezone, now)
        }
    }
}

/// `t` as the editors read it, in `tz`: (`2027年1月1日(金) 09:00 JST`, `Fri 1 January
/// 2027, 09:00 JST`), with how far away it is (`3日後`, `in 3 days`).
pub fn describe_time(t: DateTime<Utc>, tz: Tz, now: DateTime<Utc>) -> (String, String) {
    let l = t.with_timezone(&tz);
    const WD: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
    use chrono::Datelike;
    let ja_abs = format!(
        "{}年{}月{}日({}) {}",
        l.year(),
        l.month(),
        l.day(),
        WD[l.weekday().num_days_from_monday() as usize],
        l.format("%H:%M %Z")
    );
    let en_abs = l.format("%a %-d %B %Y, %H:%M %Z").to_string();
    let d = t - now;
    let (ja_rel, en_rel) = if d.num_seconds() <= 60 {
        ("まもなく".to_owned(), "now".to_owned())
    } else if d.num_hours() < 1 {
        let m = d.num_minutes().max(1);
        (format!("{m}分後"), format!("in {m} minute{}", plural(m)))
    } else if d.num_days() < 2 {
        let h = d.num_hours();
        (format!("{h}時間後"), format!("in {h} hour{}", plural(h)))
    } else {
        let days = d.num_days();
        (format!("{days}日後"), format!("in {days} days"))
    };
    (
        format!("{ja_abs}（{ja_rel}）"),
        format!("{en_abs} ({en_rel})"),
    )
}

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The preview of text that need not be stored: `ja`, `en` and `both` through the real
/// campaign renderer (HTML and plain text), as `kairan issue preview --ja --en` writes it.
pub fn preview_content(
    renderer: &Renderer,
    settings: &Settings,
    ja: IssueContent,
    en: IssueContent,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<PreviewFiles>> {
    let issue = Issue {
        id: IssueId::new(0),
        slug: "preview".into(),
        state: IssueState::Draft,
        send_at: None,
        created_at: now,
        updated_at: now,
        started_at: None,
        finished_at: None,
        ja,
        en,
    };
    preview::preview(renderer, settings, &issue)
}

/// Who a campaign started now would go to: active subscribers by language preference, as
/// the console's "Send now" confirmation states them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Audience {
    pub ja: u64,
    pub en: u64,
    pub both: u64,
}

impl Audience {
    pub fn total(&self) -> u64 {
        self.ja + self.en + self.both
    }
}

pub async fn audience(store: &dyn Store) -> Result<Audience, StoreError> {
    let mut a = Audience::default();
    for (status, lang, n) in store.subscriber_counts().await? {
        if !status.receives_mail() {
            continue;
        }
        match lang {
            LangPref::Ja => a.ja += n,
            LangPref::En => a.en += n,
            LangPref::Both => a.both += n,
        }
    }
    Ok(a)
}

/// Where one test message went.
#[derive(Debug, Clone)]
pub struct TestSent {
    pub to: EmailAddress,
    pub pref: LangPref,
    /// The server's reply, or why it was not accepted.
    pub result: Result<String, String>,
}

/// Sends one test message of `issue` to each (address, language): the console lists where
/// each went; one refused address does not stop the others.
pub async fn send_tests(
    renderer: &Renderer,
    settings: &Settings,
    mailer: &dyn Mailer,
    issue: &Issue,
    targets: &[(EmailAddress, LangPref)],
) -> Vec<TestSent> {
    let mut out = Vec::with_capacity(targets.len());
    for (to, pref) in targets {
        let result = preview::send_test(renderer, settings, mailer, issue, to, *pref)
            .await
            .map_err(|e| e.to_string());
        let sent = if result.is_ok() { "sent" } else { "failed" };
        super::accounts::audit::note(
            "issue.test_sent",
            format!("issue {}", issue.id.get()),
            format!("{} ({sent})", pref.as_str()),
            chrono::Utc::now(),
        )
        .await;
        out.push(TestSent {
            to: to.clone(),
            pref: *pref,
            result,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        crate::config::parse(
            "[schedule]\ncron = \"0 0 9 1 * *\"\ntimezone = \"Asia/Tokyo\"\n",
            "test",
            &[],
        )
        .unwrap()
        .0
    }

    #[test]
    fn the_next_send_time_is_the_next_tick_in_the_schedules_zone() {
        let s = settings();
        let now = DateTime::parse_from_rfc3339("2026-12-29T10:00:00+09:00")
            .unwrap()
            .with_timezone(&Utc);
        let t = next_send_time(&s, None, now).unwrap();
        assert_eq!(t.to_rfc3339(), "2027-01-01T00:00:00+00:00");
        let (ja, en) = describe_time(t, s.schedule.timezone, now);
        assert_eq!(ja, "2027年1月1日(金) 09:00 JST（2日後）");
        assert_eq!(en, "Fri 1 January 2027, 09:00 JST (in 2 days)");
        // A time in the past means now.
        let past = now - chrono::Duration::hours(1);
        assert_eq!(next_send_time(&s, Some(past), now), Some(now));
    }
}
