//! The outbox port: the transactional mails queued by state changes (`domain::outbox`), the
//! sender's leased claims, recorded outcomes, and the counts `kairan status` shows. A mail is
//! queued in the same transaction as the change that makes it due: the subscriber port's
//! changes take the mail to queue ([`super::SubscriberStore::insert_subscriber`] and the
//! others); [`OutboxStore::enqueue_mail`] is for a kind whose change has no such method yet.
//! Depends on the domain only.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{MailCounts, MailId, MailOutcome, MailState, NewMail, QueuedMail, Recipient};

/// One queued mail with where it is, for tests and the operator's view.
#[derive(Debug, Clone, PartialEq)]
pub struct MailRecord {
    pub mail: QueuedMail,
    pub state: MailState,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Who holds leases on queued mails, for taking back a dead process's at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailLeaseHolder {
    pub owner: String,
    pub mails: u64,
}

#[async_trait::async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues `mail` for `to`, due at `now`, in a transaction of its own.
    async fn enqueue_mail(
        &self,
        to: Recipient,
        mail: &NewMail,
        now: DateTime<Utc>,
    ) -> Result<MailId, StoreError>;
    /// Leases up to `limit` mails to `owner` until `lease_until`: pending ones that are due,
    /// and sending ones whose lease expired. Oldest first.
    async fn claim_mails(
        &self,
        owner: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<QueuedMail>, StoreError>;
    /// Leases mail `id` to `owner` if it is pending, due or not, or its lease expired (a
    /// foreground send right after queueing it). `None`: another sender has it, or it is done.
    async fn claim_mail(
        &self,
        id: MailId,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<QueuedMail>, StoreError>;
    /// Records an attempt at mail `id`, leased to `owner`. A `Sent` is recorded even when the
    /// lease was lost meanwhile (the mail did go); any other outcome only while `owner` still
    /// holds the lease. Returns whether the row changed.
    async fn record_mail(
        &self,
        id: MailId,
        owner: &str,
        outcome: &MailOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Extends the leases `owner` holds to `lease_until` (the heartbeat). Returns how many.
    async fn renew_mail_leases(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Ends `owner`'s leases now, so the mails can be claimed at once (a process known to be
    /// dead). Returns how many.
    async fn expire_mail_leases(&self, owner: &str, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// The owners of unexpired mail leases, with how many each holds.
    async fn mail_lease_holders(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<MailLeaseHolder>, StoreError>;
    /// When the next pending mail is due (`None`: nothing pending).
    async fn next_mail_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
    async fn mail_counts(&self) -> Result<MailCounts, StoreError>;
    /// The mails queued for `to`, oldest first.
    async fn mails_for(&self, to: Recipient) -> Result<Vec<MailRecord>, StoreError>;
    /// Deletes finished mails (sent, failed, cancelled) last changed before `before`.
    /// Returns how many.
    async fn prune_mails(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}
