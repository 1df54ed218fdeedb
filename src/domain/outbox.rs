//! The transactional outbox: one row per mail that a state change made due (the confirmation
//! request when a reader subscribes, the welcome when they confirm; later the console's
//! login and invite mails). The row is written in the same transaction as that change, so a
//! mail is never promised ("check your inbox") without being durable, and it is sent by the
//! outbox sender with retries until it goes, fails for good, or no longer applies.
//!
//! The row is generic: a [`MailKind`], a [`Recipient`] reference (never the address, which is
//! read at send time, so an erased reader's pending mail cannot go to their old address), a
//! language, and a JSON payload for what a kind needs beyond that. The message is rendered
//! when it is sent. Pure: imports nothing of the crate's other modules but the domain's own.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::delivery::RetryPolicy;
use super::ids::{MailId, SubscriberId};
use super::status::{LangPref, text_enum};

text_enum!(
    /// What a queued mail is. New kinds add a variant here and a template; the column has no
    /// CHECK constraint, so adding one needs no migration.
    MailKind, "mail kind", {
        Confirm => "confirm",
        Welcome => "welcome",
        UnsubscribeLink => "unsubscribe-link",
        UserSetup => "user-setup",
        UnsubscribeRequested => "unsubscribe-request"
    }
);

text_enum!(
    /// Where a queued mail is in its life.
    MailState, "mail state", {
        Pending => "pending",
        Sending => "sending",
        Sent => "sent",
        Failed => "failed",
        Cancelled => "cancelled"
    }
);

text_enum!(
    /// What kind of party a mail is for (the `recipient_kind` column).
    RecipientKind, "recipient kind", { Subscriber => "subscriber", User => "user" }
);

/// Whom a mail is for: a reference resolved at send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recipient {
    Subscriber(SubscriberId),
    /// A console account (issue 14); the id of its row.
    User(i64),
}

impl Recipient {
    pub fn kind(self) -> RecipientKind {
        match self {
            Recipient::Subscriber(_) => RecipientKind::Subscriber,
            Recipient::User(_) => RecipientKind::User,
        }
    }

    /// The referenced row's id, for the `recipient_id` column.
    pub fn id(self) -> i64 {
        match self {
            Recipient::Subscriber(id) => id.get(),
            Recipient::User(id) => id,
        }
    }

    pub fn from_parts(kind: RecipientKind, id: i64) -> Recipient {
        match kind {
            RecipientKind::Subscriber => Recipient::Subscriber(SubscriberId::new(id)),
            RecipientKind::User => Recipient::User(id),
        }
    }
}

/// A mail to queue. The recipient is given separately: for a new subscriber it is the row
/// the same transaction inserts.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMail {
    pub kind: MailKind,
    pub lang: LangPref,
    /// JSON text (`{}` when the kind needs nothing more).
    pub payload: String,
}

impl NewMail {
    /// A mail of `kind` in `lang` with an empty payload.
    pub fn new(kind: MailKind, lang: LangPref) -> NewMail {
        NewMail {
            kind,
            lang,
            payload: "{}".to_owned(),
        }
    }
}

/// A queued mail as the sender claims it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMail {
    pub id: MailId,
    pub kind: MailKind,
    pub recipient: Recipient,
    pub lang: LangPref,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
}

/// What became of one attempt at a queued mail, as the store records it.
#[derive(Debug, Clone, PartialEq)]
pub enum MailOutcome {
    /// Accepted by the server.
    Sent { reply: String },
    /// A temporary failure: try again at `at` (counts as an attempt).
    Retry { at: DateTime<Utc>, error: String },
    /// Not attempted (the transport could not be reached, shutdown): again from `at`, the
    /// attempt count unchanged.
    Deferred { at: DateTime<Utc>, error: String },
    /// Given up: refused, or too many temporary failures.
    Failed { error: String },
    /// No longer applies (the reader confirmed, left or was erased meanwhile).
    Cancelled { reason: String },
}

impl MailOutcome {
    pub fn state(&self) -> MailState {
        match self {
            MailOutcome::Sent { .. } => MailState::Sent,
            MailOutcome::Retry { .. } | MailOutcome::Deferred { .. } => MailState::Pending,
            MailOutcome::Failed { .. } => MailState::Failed,
            MailOutcome::Cancelled { .. } => MailState::Cancelled,
        }
    }

    /// Whether this outcome counts as an attempt.
    pub fn counts_attempt(&self) -> bool {
        matches!(
            self,
            MailOutcome::Sent { .. } | MailOutcome::Retry { .. } | MailOutcome::Failed { .. }
        )
    }

    /// When the mail is due again, for the outcomes that keep it pending.
    pub fn next_attempt(&self) -> Option<DateTime<Utc>> {
        match self {
            MailOutcome::Retry { at, .. } | MailOutcome::Deferred { at, .. } => Some(*at),
            _ => None,
        }
    }

    /// The reply or error text kept on the row.
    pub fn text(&self) -> &str {
        match self {
            MailOutcome::Sent { reply } => reply,
            MailOutcome::Retry { error, .. }
            | MailOutcome::Deferred { error, .. }
            | MailOutcome::Failed { error } => error,
            MailOutcome::Cancelled { reason } => reason,
        }
    }
}

/// Queued mails by state, for `kairan status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MailCounts {
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
    pub cancelled: u64,
}

impl MailCounts {
    pub fn add(&mut self, state: MailState, n: u64) {
        match state {
            MailState::Pending => self.pending += n,
            MailState::Sending => self.sending += n,
            MailState::Sent => self.sent += n,
            MailState::Failed => self.failed += n,
            MailState::Cancelled => self.cancelled += n,
        }
    }
}

/// The retry schedule of transactional mail: a reader waits for it, so the first retry
/// comes soon (15 s, doubling to 15 min); after 12 attempts (about two hours of a server
/// refusing with 4xx) it fails. An unreachable server is not an attempt (see
/// [`MailOutcome::Deferred`]), so an outage of any length loses nothing.
pub const MAIL_RETRY: RetryPolicy = RetryPolicy {
    base: Duration::from_secs(15),
    max: Duration::from_secs(15 * 60),
    max_attempts: 12,
};

/// The Message-ID of a queued mail: the same for every attempt, so a resend after a crash
/// is recognisably the same message.
pub fn mail_message_id(kind: MailKind, id: MailId, domain: &str) -> String {
    format!("kairan.{}.{}@{domain}", kind.as_str(), id.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_states_and_recipients_round_trip_through_their_columns() {
        for k in MailKind::ALL {
            assert_eq!(k.as_str().parse::<MailKind>().unwrap(), *k);
        }
        for s in MailState::ALL {
            assert_eq!(s.as_str().parse::<MailState>().unwrap(), *s);
        }
        assert!("invite?".parse::<MailKind>().is_err());
        let r = Recipient::Subscriber(SubscriberId::new(7));
        assert_eq!(Recipient::from_parts(r.kind(), r.id()), r);
        let u = Recipient::User(3);
        assert_eq!(Recipient::from_parts(u.kind(), u.id()), u);
    }

    #[test]
    fn only_real_attempts_count_and_pending_outcomes_say_when() {
        let at = Utc::now();
        let deferred = MailOutcome::Deferred {
            at,
            error: "no route".into(),
        };
        assert!(!deferred.counts_attempt());
        assert_eq!(deferred.state(), MailState::Pending);
        assert_eq!(deferred.next_attempt(), Some(at));
        let retry = MailOutcome::Retry {
            at,
            error: "451".into(),
        };
        assert!(retry.counts_attempt());
        assert!(
            !MailOutcome::Cancelled {
                reason: "left".into()
            }
            .counts_attempt()
        );
        assert_eq!(
            MailOutcome::Sent {
                reply: "250".into()
            }
            .next_attempt(),
            None
        );
    }

    #[test]
    fn message_ids_are_deterministic_per_row() {
        assert_eq!(
            mail_message_id(MailKind::Welcome, MailId::new(12), "example.org"),
            "kairan.welcome.12@example.org"
        );
    }
}
