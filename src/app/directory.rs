//! The subscriber directory of the console (issue 16): search by address or name with status
//! and language filters and keyset paging, and a reader's history (consent records,
//! deliveries, bounce reports, the soft-bounce state). Adding, unsubscribing and erasing go
//! through `app::subscription`, as everywhere.
//!
//! Depends on the ports; no adapter.

use serde::Serialize;

use super::ports::{DeliveryHistory, Store, StoreError, SubscriberSearch};
use super::subscription::SubscriberView;
use crate::domain::{BounceRecord, Consent, EmailAddress, SubscriberId};

/// Rows on a page of search results.
pub const PAGE: u32 = 50;

/// One page of results, and where the next one starts (`None`: this was the last).
#[derive(Debug, Serialize)]
pub struct Page {
    pub subscribers: Vec<SubscriberView>,
    pub next_after: Option<SubscriberId>,
}

/// A page of `q` (its `limit` is the page size; 0 means [`PAGE`]).
pub async fn search(store: &dyn Store, q: &SubscriberSearch) -> Result<Page, StoreError> {
    let limit = if q.limit == 0 { PAGE } else { q.limit.min(500) };
    // A whole address (pasted from a reader's mail) is found by its unique index; only a
    // part of one needs the scan.
    if let Some(email) = q
        .text
        .as_deref()
        .filter(|t| t.contains('@') && q.after_id.is_none())
        .and_then(|t| EmailAddress::parse(t.trim()).ok())
        && let Some(sub) = store.subscriber_by_email(&email).await?
        && q.status.is_none_or(|s| s == sub.status)
        && q.lang.is_none_or(|l| l == sub.lang)
    {
        return Ok(Page {
            subscribers: vec![sub.into()],
            next_after: None,
        });
    }
    // One more than shown: whether a next page exists, without a count.
    let mut found = store
        .search_subscribers(&SubscriberSearch {
            limit: limit + 1,
            ..q.clone()
        })
        .await?;
    let more = found.len() > limit as usize;
    found.truncate(limit as usize);
    let next_after = if more {
        found.last().map(|s| s.id)
    } else {
        None
    };
    Ok(Page {
        subscribers: found.into_iter().map(Into::into).collect(),
        next_after,
    })
}

/// Everything kairan knows of one reader, for their page.
#[derive(Debug)]
pub struct History {
    pub subscriber: SubscriberView,
    pub consents: Vec<Consent>,
    pub deliveries: Vec<DeliveryHistory>,
    pub bounces: Vec<BounceRecord>,
    pub soft_bounce_score: f64,
}

/// How many deliveries and bounce reports a reader's page lists.
pub const HISTORY_ROWS: u32 = 100;

/// `None` when there is no such subscriber.
pub async fn history(store: &dyn Store, id: SubscriberId) -> Result<Option<History>, StoreError> {
    let Some(sub) = store.subscriber(id).await? else {
        return Ok(None);
    };
    Ok(Some(History {
        consents: store.consents(id).await?,
        deliveries: store.subscriber_deliveries(id, HISTORY_ROWS).await?,
        bounces: store.subscriber_bounces(id, HISTORY_ROWS).await?,
        soft_bounce_score: sub.soft_bounce_score,
        subscriber: sub.into(),
    }))
}
