//! Deliveries, one per (issue, subscriber): what a worker claims, what became of an attempt,
//! the counts by state, and the rules: what a send attempt's result means for the delivery
//! (sent, retry when, failed, hard bounce) and the retry schedule (exponential backoff with
//! jitter). Pure: imports nothing of the crate's other modules but the domain's own.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::email::EmailAddress;
use super::ids::{DeliveryId, IssueId, SubscriberId};
use super::status::{DeliveryState, LangPref, SubscriberStatus};

/// A delivery handed to a worker by a claim, with what it needs of the subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    pub issue_id: IssueId,
    pub subscriber_id: SubscriberId,
    /// The language fixed when the audience was snapshotted.
    pub lang: LangPref,
    pub attempts: i32,
    pub email: EmailAddress,
    pub name: Option<String>,
    pub subscriber_status: SubscriberStatus,
}

/// What became of one delivery attempt, as the store records it.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// The server answered 250.
    Sent { reply: String },
    /// A temporary failure; try again at `at`.
    Retry { at: DateTime<Utc>, reply: String },
    /// Given up. `hard_bounce` marks the subscriber `bounced` in the same transaction.
    Failed { reply: String, hard_bounce: bool },
    /// Not sent: the subscriber left meanwhile.
    Skipped { reason: String },
    /// Not attempted (a rate limit, a pause, shutdown): back in the pool from `at`, the
    /// attempt count unchanged.
    Deferred { at: DateTime<Utc>, reason: String },
}

impl DeliveryOutcome {
    pub fn state(&self) -> DeliveryState {
        match self {
            DeliveryOutcome::Sent { .. } => DeliveryState::Sent,
            DeliveryOutcome::Retry { .. } => DeliveryState::Retry,
            DeliveryOutcome::Failed { .. } => DeliveryState::Failed,
            DeliveryOutcome::Skipped { .. } => DeliveryState::Skipped,
            DeliveryOutcome::Deferred { .. } => DeliveryState::Retry,
        }
    }
}

/// Deliveries of one issue by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryCounts {
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub retry: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl DeliveryCounts {
    pub fn total(&self) -> u64 {
        self.pending + self.sending + self.sent + self.retry + self.failed + self.skipped
    }

    /// Deliveries that still need work.
    pub fn open(&self) -> u64 {
        self.pending + self.sending + self.retry
    }

    /// Counts `n` more deliveries in `state`.
    pub fn add(&mut self, state: DeliveryState, n: u64) {
        match state {
            DeliveryState::Pending => self.pending += n,
            DeliveryState::Sending => self.sending += n,
            DeliveryState::Sent => self.sent += n,
            DeliveryState::Retry => self.retry += n,
            DeliveryState::Failed => self.failed += n,
            DeliveryState::Skipped => self.skipped += n,
        }
    }
}

/// A delivery that failed or is waiting to retry, for `kairan status`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeliveryError {
    pub delivery_id: DeliveryId,
    pub subscriber_id: SubscriberId,
    pub state: DeliveryState,
    pub attempts: i32,
    pub reply: Option<String>,
    pub at: DateTime<Utc>,
}

/// When to try again after a temporary failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first wait (default 1 minute); each further attempt doubles it…
    pub base: Duration,
    /// …up to this (default 6 hours).
    pub max: Duration,
    /// After this many attempts in all, a temporary failure becomes final.
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// The wait after the `attempt`-th failed attempt (1-based), before jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(40) as i32;
        let secs = self.base.as_secs_f64() * 2f64.powi(exp);
        Duration::from_secs_f64(secs.min(self.max.as_secs_f64()))
    }

    /// The delay with ±20 % jitter, so a burst of failures does not retry in lockstep.
    /// `unit` is a random number in [0, 1).
    pub fn delay_with_jitter(&self, attempt: u32, unit: f64) -> Duration {
        let d = self.delay(attempt).as_secs_f64();
        Duration::from_secs_f64((d * (0.8 + 0.4 * unit.clamp(0.0, 1.0))).max(0.0))
    }
}

/// The transport's classified answer, reduced to what the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Accepted,
    /// 4xx or a connection failure.
    Temporary,
    /// 5xx at RCPT TO or after DATA: the recipient's mailbox will not take it.
    RecipientRejected,
    /// 5xx at MAIL FROM or on connecting: a problem with us (sender, auth), not the reader.
    SenderRejected,
}

/// What to record for the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Sent,
    Retry { at: DateTime<Utc> },
    Failed { hard_bounce: bool },
}

/// Applies the delivery guarantees (`docs/contracts.md`): 4xx retried with backoff up to
/// `max_attempts`, 5xx at RCPT/DATA a hard bounce. `previous_attempts` excludes this one.
pub fn decide(
    policy: &RetryPolicy,
    attempt: Attempt,
    previous_attempts: u32,
    now: DateTime<Utc>,
    jitter: f64,
) -> Decision {
    let this = previous_attempts + 1;
    match attempt {
        Attempt::Accepted => Decision::Sent,
        Attempt::RecipientRejected => Decision::Failed { hard_bounce: true },
        Attempt::Temporary | Attempt::SenderRejected if this >= policy.max_attempts => {
            Decision::Failed { hard_bounce: false }
        }
        Attempt::Temporary | Attempt::SenderRejected => {
            let wait = policy.delay_with_jitter(this, jitter);
            Decision::Retry {
                at: now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(6)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_wait_never_shrinks_and_never_passes_the_maximum(a in 1u32..200, unit in 0.0f64..1.0) {
            let p = policy();
            prop_assert!(p.delay(a) <= p.delay(a + 1));
            prop_assert!(p.delay(a) <= p.max);
            let j = p.delay_with_jitter(a, unit).as_secs_f64();
            let d = p.delay(a).as_secs_f64();
            prop_assert!(j >= d * 0.8 - 1e-6 && j <= d * 1.2 + 1e-6);
        }

        #[test]
        fn a_temporary_failure_ends_after_max_attempts_and_never_marks_a_bounce(prev in 0u32..20) {
            let now = Utc::now();
            match decide(&policy(), Attempt::Temporary, prev, now, 0.5) {
                Decision::Retry { at } => prop_assert!(prev + 1 < 5 && at > now),
                Decision::Failed { hard_bounce } => prop_assert!(prev + 1 >= 5 && !hard_bounce),
                Decision::Sent => prop_assert!(false, "a failure is never sent"),
            }
        }
    }

    #[test]
    fn counts_add_up_by_state() {
        let mut c = DeliveryCounts::default();
        for (s, n) in [
            (DeliveryState::Pending, 3),
            (DeliveryState::Sending, 2),
            (DeliveryState::Retry, 1),
            (DeliveryState::Sent, 5),
            (DeliveryState::Skipped, 1),
        ] {
            c.add(s, n);
        }
        assert_eq!((c.total(), c.open()), (12, 6));
        assert_eq!(
            DeliveryOutcome::Deferred {
                at: Utc::now(),
                reason: String::new()
            }
            .state(),
            DeliveryState::Retry
        );
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(60),
            max: Duration::from_secs(6 * 3600),
            max_attempts: 5,
        }
    }

    #[test]
    fn backoff_doubles_from_one_minute_up_to_six_hours() {
        let p = policy();
        let mins: Vec<u64> = (1..=11).map(|a| p.delay(a).as_secs() / 60).collect();
        assert_eq!(mins, [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]);
        assert_eq!(p.delay(200), Duration::from_secs(6 * 3600));
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let p = policy();
        assert_eq!(p.delay_with_jitter(3, 0.0), Duration::from_secs(192));
        assert_eq!(p.delay_with_jitter(3, 0.5), Duration::from_secs(240));
        assert!(p.delay_with_jitter(3, 0.999) <= Duration::from_secs(288));
    }

    #[test]
    fn temporary_failures_retry_until_max_attempts_then_fail_softly() {
        let p = policy();
        let now = Utc::now();
        assert_eq!(
            decide(&p, Attempt::Temporary, 0, now, 0.5),
            Decision::Retry {
                at: now + chrono::Duration::seconds(60)
            }
        );
        assert!(matches!(
            decide(&p, Attempt::Temporary, 3, now, 0.5),
            Decision::Retry { .. }
        ));
        assert_eq!(
            decide(&p, Attempt::Temporary, 4, now, 0.5),
            Decision::Failed { hard_bounce: false }
        );
    }

    #[test]
    fn a_recipient_5xx_is_a_hard_bounce_at_once_but_a_sender_5xx_is_not() {
        let p = policy();
        let now = Utc::now();
        assert_eq!(
            decide(&p, Attempt::RecipientRejected, 0, now, 0.5),
            Decision::Failed { hard_bounce: true }
        );
        assert!(matches!(
            decide(&p, Attempt::SenderRejected, 0, now, 0.5),
            Decision::Retry { .. }
        ));
        assert_eq!(decide(&p, Attempt::Accepted, 2, now, 0.5), Decision::Sent);
    }
}
