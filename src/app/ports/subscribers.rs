//! The subscriber port: the list, the double opt-in's state changes, erasure and the
//! suppression list. Depends on the domain only.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{
    Consent, EmailAddress, LangPref, MailId, NewMail, NewSubscriber, Subscriber, SubscriberId,
    SubscriberStatus,
};

/// What a guarded change did: whether it applied, and the mail it queued in the same
/// transaction (only when it applied and a mail was given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Changed {
    pub applied: bool,
    pub mail: Option<MailId>,
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

#[async_trait::async_trait]
pub trait SubscriberStore: Send + Sync {
    /// Inserts a subscriber with its consent record and, when given, queues its confirmation
    /// mail (and marks it sent now, see [`SubscriberStore::claim_confirmation_send`]), all in
    /// one transaction. `Conflict` when the address is on the list already.
    async fn insert_subscriber(
        &self,
        s: &NewSubscriber,
        confirmation: Option<&NewMail>,
    ) -> Result<(SubscriberId, Option<MailId>), StoreError>;
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

    /// Queues `confirmation` and marks it sent now, unless one was queued after `not_since`
    /// (compare-and-set: two concurrent requests queue one mail). Only a `pending` subscriber.
    /// One transaction; returns the queued mail, `None` when it was not due.
    async fn claim_confirmation_send(
        &self,
        id: SubscriberId,
        now: DateTime<Utc>,
        not_since: DateTime<Utc>,
        confirmation: &NewMail,
    ) -> Result<Option<MailId>, StoreError>;
    /// `pending` → `active`, setting the confirmation time on the subscriber and on its
    /// unconfirmed consent records, and queueing `welcome` when given, in one transaction.
    async fn confirm_subscriber(
        &self,
        id: SubscriberId,
        now: DateTime<Utc>,
        welcome: Option<&NewMail>,
    ) -> Result<Changed, StoreError>;
    /// A fresh double opt-in for an `unsubscribed` subscriber: back to `pending` (or the
    /// status in `s`) with `s`'s name, language and a new consent record; the old
    /// confirmation / unsubscribe dates are cleared; `confirmation`, when given, is queued
    /// (and marked sent now). One transaction.
    async fn restart_opt_in(
        &self,
        id: SubscriberId,
        s: &NewSubscriber,
        confirmation: Option<&NewMail>,
    ) -> Result<Changed, StoreError>;
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
    /// skipped, queued mails cancelled, and `address_hash` goes on the suppression list. One
    /// transaction.
    async fn erase_subscriber(
        &self,
        id: SubscriberId,
        address_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    async fn is_suppressed(&self, address_hash: &str) -> Result<bool, StoreError>;
    /// Removes an address from the suppression list (it opted in anew). Returns whether it
    /// was there.
    async fn lift_suppression(&self, address_hash: &str) -> Result<bool, StoreError>;
}
