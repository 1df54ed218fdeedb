//! The editors' console's schedule (issue 15): a date and time typed in the organisation's
//! zone (`schedule.timezone`, the `<input type="datetime-local">` value) becomes the instant
//! an issue goes out; a draft is checked and queued with it, a queued issue gets the new
//! time. An empty time means the next cron tick. The command line's `issue queue` and the
//! console decide with the same checks ([`super::drafts::queue_draft`]).
//!
//! Depends on the domain, the ports, the settings and the other editorial use cases.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::drafts;
use super::editorial::EditorialError;
use super::ports::Store;
use crate::config::Settings;
use crate::domain::{IssueId, IssueState};

/// Why a typed time was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{0}` is not a date and time (YYYY-MM-DDTHH:MM)")]
    Unreadable(String),
    #[error("{0} does not exist in {1} (the clocks skip it)")]
    Skipped(String, Tz),
    #[error("{0} is in the past")]
    Past(String),
}

impl TimeError {
    /// In Japanese, for the console.
    pub fn message_ja(&self) -> String {
        match self {
            TimeError::Unreadable(s) => {
                format!("「{s}」は日時として読めません（YYYY-MM-DDTHH:MM）")
            }
            TimeError::Skipped(s, tz) => format!("{s} は {tz} に存在しない時刻です"),
            TimeError::Past(s) => format!("{s} は過去の日時です"),
        }
    }
}

/// The instant of `input` (`2027-01-23T14:00`, seconds optional) read in `tz`; empty means
/// none (the next cron tick). A time already past is refused; of an ambiguous local time
/// (the clocks go back) the earlier instant is taken.
pub fn parse_local(
    input: &str,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, TimeError> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| TimeError::Unreadable(s.to_owned()))?;
    let t = tz
        .from_local_datetime(&naive)
        .earliest()
        .ok_or_else(|| TimeError::Skipped(s.to_owned(), tz))?
        .with_timezone(&Utc);
    if t < now {
        return Err(TimeError::Past(s.to_owned()));
    }
    Ok(Some(t))
}

/// `t` as the value of a `datetime-local` input in `tz`.
pub fn local_input(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string()
}

/// What [`schedule`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduled {
    /// The issue was a draft and is now queued (else it was queued and got a new time).
    pub queued: bool,
    /// When it goes out.
    pub at: Option<DateTime<Utc>>,
}

/// Schedules issue `id` for `send_at` (none: the next cron tick). A draft must pass the
/// checks (every error at once) and is queued; a queued issue gets the new time; anything
/// else is refused. Nothing is written when the checks fail.
pub async fn schedule(
    store: &dyn Store,
    settings: &Settings,
    id: IssueId,
    send_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Scheduled, EditorialError> {
    let issue = store.issue(id).await?.ok_or(EditorialError::NotFound(id))?;
    let wrong = |state| EditorialError::WrongState {
        id,
        state,
        action: "scheduling",
    };
    match issue.state {
        IssueState::Draft => {
            let report = super::checks::check_stored(store, settings, id)
                .await?
                .ok_or(EditorialError::NotFound(id))?;
            if !report.can_queue() {
                return Err(EditorialError::Invalid(drafts::as_problems(&report)));
            }
            if !store.set_issue_send_at(id, send_at, now).await? {
                return Err(wrong(store.issue_state(id).await?.unwrap_or(issue.state)));
            }
            let at = drafts::queue_draft(store, settings, id, false, now).await?;
            note_scheduled(id, at, now).await;
            Ok(Scheduled { queued: true, at })
        }
        IssueState::Queued => {
            if !store.set_issue_send_at(id, send_at, now).await? {
                return Err(wrong(store.issue_state(id).await?.unwrap_or(issue.state)));
            }
            tracing::info!(issue_id = id.get(), "issue rescheduled");
            let at = drafts::next_send_time(settings, send_at, now);
            note_scheduled(id, at, now).await;
            Ok(Scheduled { queued: false, at })
        }
        other => Err(wrong(other)),
    }
}

/// The audit line of the person acting (the console's or the API's), if any.
async fn note_scheduled(id: IssueId, at: Option<DateTime<Utc>>, now: DateTime<Utc>) {
    let at = at.map_or_else(|| "the next cron tick".to_owned(), |t| t.to_rfc3339());
    super::accounts::audit::note(
        "issue.scheduled",
        format!("issue {}", id.get()),
        format!("goes out {at}"),
        now,
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_time_is_read_in_the_schedules_zone() {
        let tz = chrono_tz::Asia::Tokyo;
        let now = DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let t = parse_local("2027-01-23T14:00", tz, now).unwrap().unwrap();
        assert_eq!(t.to_rfc3339(), "2027-01-23T05:00:00+00:00");
        assert_eq!(local_input(t, tz), "2027-01-23T14:00");
        assert_eq!(parse_local("  ", tz, now), Ok(None));
        assert!(matches!(
            parse_local("2026-12-31T09:00", tz, now),
            Err(TimeError::Past(_))
        ));
        assert!(matches!(
            parse_local("23/01/2027", tz, now),
            Err(TimeError::Unreadable(_))
        ));
        let ny = chrono_tz::America::New_York;
        assert!(matches!(
            parse_local("2027-03-14T02:30", ny, now),
            Err(TimeError::Skipped(..))
        ));
    }
}
