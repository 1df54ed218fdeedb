//! Subscribe, confirm, unsubscribe, change language, erase (issue 3): the rules of the double
//! opt-in, over the subscriber and key ports. Mail is the caller's to send: each use case says
//! whether a confirmation (or welcome) mail is due, so the HTTP pages can send it in the
//! background (a known address must not answer slower than an unknown one) and the CLI
//! in the foreground.
//!
//! Rules (issue 3):
//! - a new address becomes `pending` (or `active` when an operator says it is confirmed);
//! - a `pending` address asking again gets the confirmation again, at most once per
//!   `subscribe.resend_interval` (a compare-and-set on `confirmation_sent_at`);
//! - an `active` address gets nothing new;
//! - an `unsubscribed` address asking through the form starts a fresh double opt-in; an
//!   operator (CLI, import, API) never re-activates it, nor an erased (suppressed) one;
//! - `bounced` and `complained` addresses are left alone.

use chrono::{DateTime, Utc};

use super::keys::address_hash;
use super::ports::{Store, StoreError, SubscriberStore};
use crate::domain::{LangPref, SubscriberId, SubscriberStatus};
use crate::domain::{NewSubscriber, Subscriber, SubscriptionSource};

/// What a subscribe request did.
#[derive(Debug, Clone, PartialEq)]
pub enum Subscribed {
    /// A new subscriber.
    Created { id: SubscriberId, confirm: bool },
    /// An unsubscribed reader opted in anew.
    Restarted { id: SubscriberId, confirm: bool },
    /// Already pending; `confirm` says whether the confirmation goes out again.
    StillPending { id: SubscriberId, confirm: bool },
    /// A pending subscriber an operator marked confirmed.
    Confirmed { id: SubscriberId },
    /// Nothing changed (active, or a status an operator may not override).
    Unchanged {
        id: SubscriberId,
        status: SubscriberStatus,
    },
    /// The address was erased on request; only the reader may subscribe it again.
    Suppressed,
}

impl Subscribed {
    /// The subscriber whose confirmation mail is due, if any.
    pub fn confirmation_due(&self) -> Option<SubscriberId> {
        match *self {
            Subscribed::Created { id, confirm: true }
            | Subscribed::Restarted { id, confirm: true }
            | Subscribed::StillPending { id, confirm: true } => Some(id),
            _ => None,
        }
    }

    pub fn id(&self) -> Option<SubscriberId> {
        match *self {
            Subscribed::Created { id, .. }
            | Subscribed::Restarted { id, .. }
            | Subscribed::StillPending { id, .. }
            | Subscribed::Confirmed { id }
            | Subscribed::Unchanged { id, .. } => Some(id),
            Subscribed::Suppressed => None,
        }
    }
}

fn by_reader(s: &NewSubscriber) -> bool {
    s.consent.method == SubscriptionSource::Form
}

/// Subscribes `new` (see the module docs for the rules). `resend_interval` bounds how often
/// a pending address gets its confirmation.
pub async fn subscribe(
    store: &dyn Store,
    new: &NewSubscriber,
    resend_interval: std::time::Duration,
) -> anyhow::Result<Subscribed> {
    let not_since = new.now
        - chrono::Duration::from_std(resend_interval).unwrap_or(chrono::Duration::minutes(10));
    let reader = by_reader(new);
    // Two attempts: a concurrent insert of the same address turns into "existing".
    for _ in 0..2 {
        let Some(existing) = store.subscriber_by_email(&new.email).await? else {
            if !reader
                && store
                    .is_suppressed(&address_hash(store, &new.email).await?)
                    .await?
            {
                return Ok(Subscribed::Suppressed);
            }
            match store.insert_subscriber(new).await {
                Ok(id) => {
                    let confirm = new.status == SubscriberStatus::Pending
                        && store
                            .claim_confirmation_send(id, new.now, not_since)
                            .await?;
                    if new.status == SubscriberStatus::Active {
                        lift(store, new).await?;
                    }
                    return Ok(Subscribed::Created { id, confirm });
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let id = existing.id;
        return Ok(match existing.status {
            SubscriberStatus::Pending if reader => {
                store.set_subscriber_lang(id, new.lang, new.now).await?;
                let confirm = store
                    .claim_confirmation_send(id, new.now, not_since)
                    .await?;
                Subscribed::StillPending { id, confirm }
            }
            SubscriberStatus::Pending if new.status == SubscriberStatus::Active => {
                if store.confirm_subscriber(id, new.now).await? {
                    Subscribed::Confirmed { id }
                } else {
                    Subscribed::Unchanged {
                        id,
                        status: existing.status,
                    }
                }
            }
            SubscriberStatus::Unsubscribed if reader => {
                let restarted = store.restart_opt_in(id, new).await?;
                let confirm = restarted
                    && store
                        .claim_confirmation_send(id, new.now, not_since)
                        .await?;
                Subscribed::Restarted { id, confirm }
            }
            status => Subscribed::Unchanged { id, status },
        });
    }
    anyhow::bail!("the address was inserted and removed concurrently; try again")
}

async fn lift(store: &dyn Store, new: &NewSubscriber) -> anyhow::Result<()> {
    let hash = address_hash(store, &new.email).await?;
    store.lift_suppression(&hash).await?;
    Ok(())
}

/// What a valid confirmation link did.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmation {
    /// Now active: send the welcome mail.
    Activated(Subscriber),
    /// It was active already (a second click): nothing to do.
    AlreadyActive(Subscriber),
    /// Not pending or active (unsubscribed, bounced, erased): the link no longer applies.
    NotApplicable,
}

/// Confirms subscriber `id` (from a verified confirm token).
pub async fn confirm(
    store: &dyn Store,
    id: SubscriberId,
    now: DateTime<Utc>,
) -> anyhow::Result<Confirmation> {
    let Some(sub) = store.subscriber(id).await? else {
        return Ok(Confirmation::NotApplicable);
    };
    match sub.status {
        SubscriberStatus::Pending => {
            if store.confirm_subscriber(id, now).await? {
                // An erased address that opts in anew leaves the suppression list.
                let hash = address_hash(store, &sub.email).await?;
                store.lift_suppression(&hash).await?;
                let sub = store.subscriber(id).await?.unwrap_or(sub);
                Ok(Confirmation::Activated(sub))
            } else {
                // Raced with another click (or an unsubscribe): report what is now true.
                match store.subscriber(id).await? {
                    Some(s) if s.status == SubscriberStatus::Active => {
                        Ok(Confirmation::AlreadyActive(s))
                    }
                    _ => Ok(Confirmation::NotApplicable),
                }
            }
        }
        SubscriberStatus::Active => Ok(Confirmation::AlreadyActive(sub)),
        _ => Ok(Confirmation::NotApplicable),
    }
}

/// Unsubscribes at once (pending or active); `how` is recorded (`one-click`, `page`,
/// `preferences`, `cli`, `api`). Returns whether the status changed; unsubscribing twice is
/// not an error.
pub async fn unsubscribe(
    store: &dyn SubscriberStore,
    id: SubscriberId,
    how: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    store
        .set_subscriber_status(
            id,
            &[SubscriberStatus::Pending, SubscriberStatus::Active],
            SubscriberStatus::Unsubscribed,
            Some(how),
            now,
        )
        .await
}

/// Changes the language of a pending or active subscriber.
pub async fn set_language(
    store: &dyn SubscriberStore,
    id: SubscriberId,
    lang: LangPref,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    store.set_subscriber_lang(id, lang, now).await
}

/// Erases subscriber `sub`: see [`SubscriberStore::erase_subscriber`].
pub async fn erase(
    store: &dyn Store,
    sub: &Subscriber,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let hash = address_hash(store, &sub.email).await?;
    Ok(store.erase_subscriber(sub.id, &hash, now).await?)
}
