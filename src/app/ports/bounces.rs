//! The bounce port: stored reports (one per message or provider event) with the return
//! channel's counters, the delivery a token or Message-ID names, the soft-bounce score, and
//! the rate limit on answers to mail sent to the bare return address (taken in the
//! transaction that queues the answer in the outbox). Depends on the domain only.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{
    BounceCount, BounceCounter, BounceRecord, DeliveryId, DeliveryRef, IssueId, MailId, NewMail,
    SubscriberId,
};

/// One step of a stored counter: `(name, label value, by how much)`.
pub type CounterStep<'a> = (&'a str, &'a str, u64);

#[async_trait::async_trait]
pub trait BounceStore: Send + Sync {
    /// Stores a report and, in the same transaction and only if it was stored, adds `counts`
    /// to the stored counters; `false` (and no count) if a report with the same key (message
    /// hash or provider event) was stored before.
    async fn insert_bounce_report(
        &self,
        r: &BounceRecord,
        counts: &[CounterStep<'_>],
    ) -> Result<bool, StoreError>;
    /// Adds to the stored counters without a report (a message seen before).
    async fn add_bounce_counters(&self, counts: &[CounterStep<'_>]) -> Result<(), StoreError>;
    /// Every stored counter, by name and label.
    async fn bounce_counters(&self) -> Result<Vec<BounceCounter>, StoreError>;
    async fn bounce_reports(&self, limit: u32) -> Result<Vec<BounceRecord>, StoreError>;
    /// Whether a report with this key is stored (the same message has one effect).
    async fn bounce_report_exists(&self, message_hash: &str) -> Result<bool, StoreError>;
    /// Reports received at or after `since`, counted by (kind, action).
    async fn bounce_report_counts(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<BounceCount>, StoreError>;
    /// The delivery with this id (a VERP or `X-Kairan-Delivery` token names one), if it
    /// exists.
    async fn delivery_ref(&self, id: DeliveryId) -> Result<Option<DeliveryRef>, StoreError>;
    /// The delivery of `issue` to `subscriber` (a campaign Message-ID names one), if any.
    async fn delivery_of(
        &self,
        issue: IssueId,
        subscriber: SubscriberId,
    ) -> Result<Option<DeliveryRef>, StoreError>;
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
    /// Takes the right to answer subscriber `id` now, unless an answer went to them after
    /// `not_since` (compare-and-set: two mails at once get one answer), and queues `mail` to
    /// them in the outbox in the same transaction. Returns the queued mail, or `None` when
    /// the right was not taken (and nothing was queued).
    async fn claim_bounce_answer(
        &self,
        id: SubscriberId,
        mail: &NewMail,
        now: DateTime<Utc>,
        not_since: DateTime<Utc>,
    ) -> Result<Option<MailId>, StoreError>;
}
