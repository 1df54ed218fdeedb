//! The ports the use cases need, declared here by the code that uses them (listmonk's
//! `Store` / `Messenger`, STYLE.md habit 13). Each has a production adapter (`storage`,
//! `mail`) and is held as `Arc<dyn …>`.

use chrono::{DateTime, Utc};

use crate::domain::{
    BounceCount, BounceRecord, ClaimedDelivery, Consent, DeliveryCounts, DeliveryError, DeliveryId,
    DeliveryOutcome, DeliveryRef, EmailAddress, Issue, IssueContent, IssueId, IssueState, LangPref,
    NewIssue, NewSubscriber, Subscriber, SubscriberId, SubscriberStatus,
};

/// A storage failure. `Conflict` and `NotFound` are expected outcomes the caller turns into a
/// user-facing message; `Unavailable` means the database could not be reached (worth a retry,
/// e.g. sysexits 75 for an MTA pipe); `Other` is everything unexpected.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("the database is unreachable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("a stored value is invalid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            _ => StoreError::Other(anyhow::Error::new(e)),
        }
    }
}

impl From<crate::domain::ParseEnumError> for StoreError {
    fn from(e: crate::domain::ParseEnumError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// Filters and paging for listing subscribers.
#[derive(Debug, Clone, Default)]
pub struct SubscriberQuery {
    pub status: Option<SubscriberStatus>,
    pub lang: Option<LangPref>,
    /// Only ids greater than this (keyset paging).
    pub after_id: Option<SubscriberId>,
    pub limit: Option<u32>,
}

/// The storage port: every query kairan runs. Two adapters, SQLite and PostgreSQL, pass one
/// contract test suite (`tests/it/storage.rs`).
#[async_trait::async_trait]
pub trait Storage: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// A round trip to the database (health checks).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Closes the pool, waiting for connections to be returned.
    async fn close(&self);

    // Subscribers.
    async fn insert_subscriber(&self, s: &NewSubscriber) -> Result<SubscriberId, StoreError>;
    async fn subscriber(&self, id: SubscriberId) -> Result<Option<Subscriber>, StoreError>;
    async fn subscriber_by_email(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Subscriber>, StoreError>;
    async fn list_subscribers(&self, q: &SubscriberQuery) -> Result<Vec<Subscriber>, StoreError>;
    /// Sets the status if the subscriber is in one of `from`. Leaving `active` skips the
    /// subscriber's open deliveries in the same transaction. Returns whether it changed.
    async fn set_subscriber_status(
        &self,
        id: SubscriberId,
        from: &[SubscriberStatus],
        to: SubscriberStatus,
        method: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Subscriber counts by (status, language).
    async fn subscriber_counts(&self)
    -> Result<Vec<(SubscriberStatus, LangPref, u64)>, StoreError>;
    async fn consents(&self, id: SubscriberId) -> Result<Vec<Consent>, StoreError>;

    // Subscribers (issue 3): double opt-in, preferences, erasure and the suppression list.
    /// Marks a confirmation mail as going out now, unless one went out after `not_since`
    /// (compare-and-set: two concurrent requests send one mail). Only a `pending` subscriber.
    async fn claim_confirmation_send(
        &self,
        id: SubscriberId,
        now: DateTime<Utc>,
        not_since: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// `pending` → `active`, setting the confirmation time on the subscriber and on its
    /// unconfirmed consent records, in one transaction. Returns whether it changed.
    async fn confirm_subscriber(
        &self,
        id: SubscriberId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// A fresh double opt-in for an `unsubscribed` subscriber: back to `pending` (or the
    /// status in `s`) with `s`'s name, language and a new consent record; the old
    /// confirmation / unsubscribe dates are cleared. One transaction; returns whether it did.
    async fn restart_opt_in(&self, id: SubscriberId, s: &NewSubscriber)
    -> Result<bool, StoreError>;
    /// Changes the language of a subscriber who is `pending` or `active`.
    async fn set_subscriber_lang(
        &self,
        id: SubscriberId,
        lang: LangPref,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Erases personal data: the address becomes `erased-ID@erased.invalid`, the name and the
    /// consent records' IP and user agent are removed (their dates, text hash and version
    /// stay), the status becomes `unsubscribed` (method `erased`), open deliveries are
    /// skipped, and `address_hash` goes on the suppression list. One transaction.
    async fn erase_subscriber(
        &self,
        id: SubscriberId,
        address_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    async fn is_suppressed(&self, address_hash: &str) -> Result<bool, StoreError>;
    /// Removes an address from the suppression list (it opted in anew). Returns whether it was there.
    async fn lift_suppression(&self, address_hash: &str) -> Result<bool, StoreError>;
    /// Stores `value` under `key` unless the key exists; returns the stored value, so
    /// concurrent first starts agree on one (signing key, suppression salt).
    async fn meta_get_or_init(&self, key: &str, value: &str) -> Result<String, StoreError>;

    // Issues.
    async fn insert_issue(&self, i: &NewIssue) -> Result<IssueId, StoreError>;
    async fn issue(&self, id: IssueId) -> Result<Option<Issue>, StoreError>;
    /// Only the state (workers check it every few messages; `issue` loads the content too).
    async fn issue_state(&self, id: IssueId) -> Result<Option<IssueState>, StoreError> {
        Ok(self.issue(id).await?.map(|i| i.state))
    }
    async fn list_issues(&self) -> Result<Vec<Issue>, StoreError>;
    /// Compare-and-set of the state: changes it only from one of `from`. Returns whether it did.
    async fn transition_issue(
        &self,
        id: IssueId,
        from: &[IssueState],
        to: IssueState,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    // Issues (issue 4).
    /// Cancels the issue (from any state but `sent` / `cancelled`) and skips its open
    /// deliveries, in one transaction. Returns whether it did.
    async fn cancel_issue(&self, id: IssueId, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Replaces both languages' content and `send_at` while the issue is `draft` or
    /// `queued`. Returns whether it did (false once sending has started).
    async fn update_issue(
        &self,
        id: IssueId,
        send_at: Option<DateTime<Utc>>,
        ja: &IssueContent,
        en: &IssueContent,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Sets (or clears) when the issue goes out, unless it is sent or cancelled.
    async fn set_issue_send_at(
        &self,
        id: IssueId,
        send_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    // Deliveries.
    /// `queued` → `sending` and one `pending` delivery per active subscriber, in one
    /// transaction. Returns the number of deliveries, or `None` if the issue was not queued.
    async fn start_campaign(
        &self,
        id: IssueId,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError>;
    /// Leases up to `limit` due deliveries of the issue to `owner` until `lease_until`:
    /// pending ones, retries that are due, and sending ones whose lease expired.
    async fn claim_deliveries(
        &self,
        issue: IssueId,
        owner: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Records outcomes in one transaction; a hard bounce marks its subscriber `bounced`.
    async fn record_outcomes(
        &self,
        outcomes: &[(DeliveryId, DeliveryOutcome)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Returns `owner`'s unfinished leases to the pool (clean shutdown). Returns how many.
    async fn release_leases(&self, owner: &str) -> Result<u64, StoreError>;
    async fn delivery_counts(&self, issue: IssueId) -> Result<DeliveryCounts, StoreError>;
    /// `sending` → `sent` when no delivery needs work any more. Returns whether it did.
    async fn finish_issue_if_done(
        &self,
        id: IssueId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    // Dispatch (issue 5).
    /// Those of `ids` that are `skipped` now (their reader left while a worker held them).
    async fn skipped_among(&self, ids: &[DeliveryId]) -> Result<Vec<DeliveryId>, StoreError>;
    /// Deliveries of the issue sent at or after `since` (the current rate).
    async fn sent_since(&self, issue: IssueId, since: DateTime<Utc>) -> Result<u64, StoreError>;
    /// The latest failed or retrying deliveries of the issue, newest first.
    async fn recent_errors(
        &self,
        issue: IssueId,
        limit: u32,
    ) -> Result<Vec<DeliveryError>, StoreError>;
    /// Whether this process may act as the scheduler. SQLite: always. PostgreSQL: the
    /// instance holding a session advisory lock (kept until the process ends).
    async fn try_scheduler_lock(&self) -> Result<bool, StoreError>;
    /// Takes up to `want` sends from the per-minute budget `limit` of `key` for the minute
    /// starting at `window_start` (unix seconds), shared by all processes. Returns how many
    /// were granted (0 when the minute's budget is spent).
    async fn reserve_rate(
        &self,
        key: &str,
        window_start: i64,
        want: u32,
        limit: u32,
    ) -> Result<u32, StoreError>;

    // Bounces.
    /// Stores a report; `false` if the same message (hash) was stored before.
    async fn insert_bounce_report(&self, r: &BounceRecord) -> Result<bool, StoreError>;
    async fn bounce_reports(&self, limit: u32) -> Result<Vec<BounceRecord>, StoreError>;
    // Bounces (issue 6).
    /// Whether a report with this message hash is stored (the same message has one effect).
    async fn bounce_report_exists(&self, message_hash: &str) -> Result<bool, StoreError>;
    /// Reports received at or after `since`, counted by (kind, action).
    async fn bounce_report_counts(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<BounceCount>, StoreError>;
    /// The delivery with this id (a VERP token names one), if it exists.
    async fn delivery_ref(&self, id: DeliveryId) -> Result<Option<DeliveryRef>, StoreError>;
    /// Counts one soft bounce into the subscriber's score, atomically, and returns the new
    /// score (`None`: no such subscriber). The score starts over at 1 when the last counted
    /// soft bounce was before `forget_before` (or there was none), grows by 1 when it was at
    /// or before `count_before` (at most one a day), and is unchanged otherwise;
    /// `last_bounce_at` becomes `now` whenever a bounce counts.
    async fn add_soft_bounce(
        &self,
        id: SubscriberId,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
        count_before: DateTime<Utc>,
    ) -> Result<Option<f64>, StoreError>;

    // Named values.
    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;
}

pub use crate::domain::OutgoingMessage;

/// The SMTP stage a reply came at; a 5xx at RCPT or DATA is the recipient's hard bounce,
/// a 5xx at MAIL FROM is a problem with us, not them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpStage {
    Connect,
    MailFrom,
    RcptTo,
    Data,
}

/// A send attempt classified at the transport boundary (no lettre type leaks upward).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted (250); the server's reply text.
    Sent { reply: String },
    /// 4xx, or the connection failed: worth retrying later.
    Temporary { stage: SmtpStage, reply: String },
    /// 5xx: retrying will not help.
    Permanent { stage: SmtpStage, reply: String },
}

/// A sending session: one reused connection (or one outbox writer) owned by one worker.
#[async_trait::async_trait]
pub trait MailSession: Send {
    async fn send(&mut self, msg: &OutgoingMessage) -> SendOutcome;
    /// Says goodbye (QUIT) and closes.
    async fn close(&mut self);
}

/// The mail transport port: hands out sessions, one per worker.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// `outbox` or `smtp`, for logs and status.
    fn kind(&self) -> &'static str;
    async fn session(&self) -> Box<dyn MailSession>;
}
