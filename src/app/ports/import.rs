//! The batch port of imports (issue 16): many operator registrations in one transaction, so
//! a list of 100,000 readers loads in seconds instead of minutes. The rules are those of
//! `app::subscription::register` for an operator (the use case in `app::import` owns them;
//! the adapter applies them set-wise). Depends on the domain only.

use super::StoreError;
use crate::domain::{MailId, NewMail, NewSubscriber, SubscriberId, SubscriberStatus};

/// One row of a batch: the subscriber an operator adds (pending, or active when confirmed),
/// the salted hash of its address (checked against the suppression list), and the
/// confirmation mail to queue when it is added pending.
#[derive(Debug, Clone)]
pub struct BatchRow {
    pub subscriber: NewSubscriber,
    pub address_hash: String,
    pub confirmation: Option<NewMail>,
}

/// What became of one row of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Added; `mail` is its queued confirmation, when one was given.
    Created {
        id: SubscriberId,
        mail: Option<MailId>,
    },
    /// Was pending and an operator said confirmed: now active.
    Confirmed { id: SubscriberId },
    /// On the list already, left as it was (an operator never re-activates an unsubscribed,
    /// bounced or complained address; a second row of one address in a batch is this too).
    Unchanged {
        id: SubscriberId,
        status: SubscriberStatus,
    },
    /// Erased on request (suppressed): not added.
    Suppressed,
}

#[async_trait::async_trait]
pub trait ImportStore: Send + Sync {
    /// Registers `rows` as an operator's additions in ONE transaction (all or nothing), one
    /// outcome per row in order:
    /// - an address not on the list and not suppressed is inserted with its consent record
    ///   (and its confirmation queued when given);
    /// - a pending address is confirmed (consent records too) when the row's status is active;
    /// - anything else is left unchanged.
    ///
    /// Re-registering the same rows changes nothing.
    async fn register_batch(&self, rows: &[BatchRow]) -> Result<Vec<BatchOutcome>, StoreError>;
}
