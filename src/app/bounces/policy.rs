//! What an attributed report does to its subscriber: hard → `bounced`; soft → a score that
//! sends them to `bounced` at `bounce.soft_threshold`; complaint → `complained`; a delay
//! notice, an auto-reply or a success notice → nothing; a mail to the List-Unsubscribe
//! address → `unsubscribed` (method `mail`). Every change is a compare-and-set in the store,
//! so applying the same report twice changes nothing more.
//!
//! Depends on the domain, the ports, the settings and the subscription use case.

use chrono::{DateTime, Utc};

use super::Action;
use crate::app::ports::{Store, StoreError};
use crate::config::BounceSettings;
use crate::domain::{BounceKind, SubscriberId, SubscriberStatus};

/// The unsubscribe method recorded for an opt-out by mail.
pub(super) const MAIL_METHOD: &str = "mail";

pub(super) async fn opt_out(
    store: &dyn Store,
    id: SubscriberId,
    now: DateTime<Utc>,
) -> Result<Action, StoreError> {
    Ok(
        if crate::app::subscription::unsubscribe(store, id, MAIL_METHOD, now).await? {
            tracing::info!(subscriber_id = id.get(), "unsubscribed by mail");
            Action::Unsubscribed
        } else {
            Action::None
        },
    )
}

pub(super) async fn apply(
    store: &dyn Store,
    settings: &BounceSettings,
    id: SubscriberId,
    kind: BounceKind,
    now: DateTime<Utc>,
) -> Result<Action, StoreError> {
    use SubscriberStatus::*;
    let mailed = [Pending, Active];
    Ok(match kind {
        BounceKind::Hard => {
            if store
                .set_subscriber_status(id, &mailed, Bounced, Some("bounce"), now)
                .await?
            {
                Action::Bounced
            } else {
                Action::None
            }
        }
        BounceKind::Complaint => {
            if store
                .set_subscriber_status(
                    id,
                    &[Pending, Active, Unsubscribed, Bounced],
                    Complained,
                    Some("complaint"),
                    now,
                )
                .await?
            {
                Action::Complained
            } else {
                Action::None
            }
        }
        BounceKind::Soft => {
            let window = chrono::Duration::from_std(settings.soft_window)
                .unwrap_or_else(|_| chrono::Duration::days(30));
            let Some(score) = store
                .add_soft_bounce(id, now, now - window, now - chrono::Duration::days(1))
                .await?
            else {
                return Ok(Action::Unattributed);
            };
            if score >= f64::from(settings.soft_threshold)
                && store
                    .set_subscriber_status(id, &mailed, Bounced, Some("soft bounces"), now)
                    .await?
            {
                Action::Bounced
            } else {
                Action::SoftScored { score }
            }
        }
        // RFC 3464: a delay is not a failure. Recorded, never scored: a message that lingers
        // and then expires counts once, as the failure.
        BounceKind::Delayed | BounceKind::AutoReply | BounceKind::Delivered => Action::None,
    })
}
