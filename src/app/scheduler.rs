//! When issues start: cron ticks computed in the configured time zone, explicit `send_at`
//! times, and the catch-up rule for ticks missed while the daemon was down. The planning is
//! a pure function of the clock it is given ([`plan`]), so tests never sleep; [`run`] is the
//! loop `kairan serve` runs around it.
//!
//! Depends on the domain, the ports (issues, deliveries, keys) and the settings; no adapter.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use super::ports::Store;
use crate::config::ScheduleSettings;
use crate::domain::{IssueId, IssueState};

/// The meta key holding the last cron tick acted on.
pub const LAST_TICK_KEY: &str = "schedule.last_tick";

/// The first tick strictly after `after`, computed in `tz` (so `0 0 9 1 * *` in Asia/Tokyo
/// is 09:00 JST, 00:00 UTC), returned in UTC.
pub fn next_tick(schedule: &cron::Schedule, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule
        .after(&after.with_timezone(&tz))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// The latest tick in `(after, upto]`, if any. Only the last `window` before `upto` is
/// walked tick by tick; an older tick is returned as the first one after `after` (it is
/// stale either way, and walking years of a frequent schedule would be pointless work).
pub fn latest_tick(
    schedule: &cron::Schedule,
    tz: Tz,
    after: DateTime<Utc>,
    upto: DateTime<Utc>,
    window: chrono::Duration,
) -> Option<DateTime<Utc>> {
    let mut cursor = after.max(upto - window);
    let mut latest = None;
    while let Some(t) = next_tick(schedule, tz, cursor).filter(|t| *t <= upto) {
        latest = Some(t);
        cursor = t;
    }
    latest.or_else(|| next_tick(schedule, tz, after).filter(|t| *t <= upto))
}

/// What the scheduler should do now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Queued issues to start now.
    pub start: Vec<IssueId>,
    /// Issues whose time was missed by more than `catch_up`: paused, with the missed time,
    /// until an editor resumes them. Never a surprise mailing weeks late.
    pub hold: Vec<(IssueId, DateTime<Utc>)>,
    /// The tick to remember as acted on.
    pub last_tick: DateTime<Utc>,
}

/// Decides which queued issues start at `now`.
///
/// - an issue without `send_at` goes out at the next cron tick: when a tick has passed
///   since `last_tick` and it is at most `catch_up` old, the issue starts; an older one
///   (the daemon was down) holds the issue instead;
/// - an issue with `send_at` starts at that time, even between ticks, under the same
///   `catch_up` rule.
///
/// `last_tick` is `None` on the very first run: nothing counts as missed then.
pub fn plan(
    now: DateTime<Utc>,
    last_tick: Option<DateTime<Utc>>,
    schedule: &ScheduleSettings,
    queued: &[(IssueId, Option<DateTime<Utc>>)],
) -> Plan {
    let catch_up =
        chrono::Duration::from_std(schedule.catch_up).unwrap_or(chrono::Duration::days(1));
    let window = catch_up + chrono::Duration::seconds(1);
    let tick = last_tick
        .and_then(|after| latest_tick(&schedule.cron, schedule.timezone, after, now, window));
    let mut p = Plan {
        last_tick: tick.or(last_tick).unwrap_or(now),
        ..Plan::default()
    };
    for (id, send_at) in queued {
        let due = match send_at {
            Some(t) if *t <= now => Some(*t),
            Some(_) => None,
            None => tick,
        };
        match due {
            Some(t) if now - t <= catch_up => p.start.push(*id),
            Some(t) => p.hold.push((*id, t)),
            None => {}
        }
    }
    p
}

/// One pass: plans with the stored last tick and applies the plan. Returns the issues
/// started. On PostgreSQL only the instance holding the scheduler lock acts.
pub async fn tick_once(
    store: &dyn Store,
    schedule: &ScheduleSettings,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<IssueId>> {
    if !store.try_scheduler_lock().await? {
        return Ok(Vec::new());
    }
    let last = store
        .meta(LAST_TICK_KEY)
        .await?
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc));
    let queued: Vec<_> = store
        .list_issues()
        .await?
        .into_iter()
        .filter(|i| i.state == IssueState::Queued)
        .map(|i| (i.id, i.send_at))
        .collect();
    let p = plan(now, last, schedule, &queued);
    let mut started = Vec::new();
    for id in &p.start {
        // The two-person rule (`console.require_approval`): a queued issue waits, whoever
        // queued it and however (API, console, `kairan issue queue`, `resume`), until a
        // different admin approved a request to send it.
        if schedule.require_approval && store.approved_send_request(id.get()).await?.is_none() {
            tracing::debug!(
                issue_id = id.get(),
                "issue due but not approved (console.require_approval): held"
            );
            continue;
        }
        if let Some(n) = store.start_campaign(*id, now).await? {
            tracing::info!(issue_id = id.get(), deliveries = n, "campaign started");
            started.push(*id);
        }
    }
    for (id, missed) in &p.hold {
        store.set_issue_send_at(*id, Some(*missed), now).await?;
        if store
            .transition_issue(*id, &[IssueState::Queued], IssueState::Paused, now)
            .await?
        {
            tracing::warn!(
                issue_id = id.get(),
                missed = %missed,
                "the issue's send time passed while kairan was not running, longer ago than schedule.catch_up: \
                 it is paused; `kairan issue resume` sends it now"
            );
        }
    }
    if last != Some(p.last_tick) {
        store
            .set_meta(LAST_TICK_KEY, &p.last_tick.to_rfc3339())
            .await?;
    }
    Ok(started)
}

/// The scheduler loop of `kairan serve`: a pass every second until `shutdown`.
pub async fn run(store: Arc<dyn Store>, schedule: ScheduleSettings, shutdown: CancellationToken) {
    if let Some(next) = next_tick(&schedule.cron, schedule.timezone, Utc::now()) {
        tracing::info!(
            cron = %schedule.cron_text,
            timezone = %schedule.timezone,
            next = %next.with_timezone(&schedule.timezone),
            "scheduler running"
        );
    }
    loop {
        if let Err(e) = tick_once(store.as_ref(), &schedule, Utc::now()).await {
            tracing::warn!(error = %format!("{e:#}"), "scheduler pass failed; retrying");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn schedule(cron: &str, tz: Tz, catch_up_h: u64) -> ScheduleSettings {
        ScheduleSettings {
            cron: crate::config::parse_cron(cron).unwrap(),
            cron_text: cron.into(),
            timezone: tz,
            catch_up: Duration::from_secs(catch_up_h * 3600),
            require_approval: false,
        }
    }

    fn id(n: i64) -> IssueId {
        IssueId::new(n)
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn the_monthly_tick_is_nine_in_the_morning_tokyo_time() {
        let s = schedule("0 0 9 1 * *", chrono_tz::Asia::Tokyo, 24);
        // 09:00 JST on 1 December is 00:00 UTC.
        assert_eq!(
            next_tick(&s.cron, s.timezone, utc(2026, 11, 24, 20, 0)),
            Some(utc(2026, 12, 1, 0, 0))
        );
        assert_eq!(
            next_tick(&s.cron, s.timezone, utc(2026, 12, 1, 0, 0)),
            Some(utc(2027, 1, 1, 0, 0))
        );
    }

    #[test]
    fn ticks_follow_daylight_saving_time_in_new_york() {
        let s = schedule("0 0 9 * * *", chrono_tz::America::New_York, 24);
        // 09:00 EDT (UTC-4) before the change on 1 November 2026, 09:00 EST (UTC-5) after.
        assert_eq!(
            next_tick(&s.cron, s.timezone, utc(2026, 10, 30, 14, 0)),
            Some(utc(2026, 10, 31, 13, 0))
        );
        assert_eq!(
            next_tick(&s.cron, s.timezone, utc(2026, 10, 31, 14, 0)),
            Some(utc(2026, 11, 1, 14, 0))
        );
    }

    #[test]
    fn a_fresh_tick_starts_queued_issues_without_a_send_time() {
        let s = schedule("0 0 9 1 * *", chrono_tz::Asia::Tokyo, 24);
        let last = utc(2026, 11, 20, 0, 0);
        let before = plan(utc(2026, 11, 30, 23, 59), Some(last), &s, &[(id(1), None)]);
        assert!(before.start.is_empty() && before.hold.is_empty());
        let after = plan(utc(2026, 12, 1, 0, 0), Some(last), &s, &[(id(1), None)]);
        assert_eq!(after.start, vec![id(1)]);
        assert_eq!(after.last_tick, utc(2026, 12, 1, 0, 0));
        // Acting on the same tick again starts nothing new.
        assert!(
            plan(
                utc(2026, 12, 1, 0, 5),
                Some(after.last_tick),
                &s,
                &[(id(2), None)]
            )
            .start
            .is_empty()
        );
    }

    #[test]
    fn an_explicit_send_time_starts_between_ticks() {
        let s = schedule("0 0 9 1 * *", chrono_tz::Asia::Tokyo, 24);
        let at = utc(2026, 12, 3, 5, 30);
        let last = Some(utc(2026, 12, 1, 0, 0));
        assert!(
            plan(utc(2026, 12, 3, 5, 29), last, &s, &[(id(1), Some(at))])
                .start
                .is_empty()
        );
        assert_eq!(
            plan(utc(2026, 12, 3, 5, 30), last, &s, &[(id(1), Some(at))]).start,
            vec![id(1)]
        );
    }

    #[test]
    fn a_tick_missed_within_catch_up_runs_now_and_an_older_one_holds_the_issue() {
        let s = schedule("0 0 9 1 * *", chrono_tz::Asia::Tokyo, 24);
        let last = Some(utc(2026, 11, 1, 0, 0));
        // Down over the 1 December tick, back 5 hours later: catch up.
        assert_eq!(
            plan(utc(2026, 12, 1, 5, 0), last, &s, &[(id(1), None)]).start,
            vec![id(1)]
        );
        // Back three days later: hold, never a surprise mailing.
        let p = plan(
            utc(2026, 12, 4, 0, 0),
            last,
            &s,
            &[(id(1), None), (id(2), Some(utc(2026, 12, 2, 0, 0)))],
        );
        assert!(p.start.is_empty());
        assert_eq!(
            p.hold,
            vec![
                (id(1), utc(2026, 12, 1, 0, 0)),
                (id(2), utc(2026, 12, 2, 0, 0))
            ]
        );
    }

    #[test]
    fn on_the_first_run_nothing_counts_as_missed() {
        let s = schedule("0 0 9 1 * *", chrono_tz::Asia::Tokyo, 24);
        let now = utc(2026, 12, 15, 0, 0);
        let p = plan(now, None, &s, &[(id(1), None)]);
        assert!(p.start.is_empty() && p.hold.is_empty());
        assert_eq!(p.last_tick, now);
    }
}
