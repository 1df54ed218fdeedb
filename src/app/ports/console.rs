//! The operators' console port (issue 16): what the dashboard and the subscriber pages read
//! beyond the other ports: a subscriber search with filters and keyset paging, a reader's
//! deliveries and bounce reports, and the month's growth. Depends on the domain only.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{
    BounceRecord, DeliveryState, IssueId, LangPref, Subscriber, SubscriberId, SubscriberStatus,
};

/// A search of the list: `text` matches inside the address or the name (case-insensitive for
/// ASCII), with the filters of `SubscriberQuery`, in id order after `after_id`.
#[derive(Debug, Clone, Default)]
pub struct SubscriberSearch {
    pub text: Option<String>,
    pub status: Option<SubscriberStatus>,
    pub lang: Option<LangPref>,
    pub after_id: Option<SubscriberId>,
    pub limit: u32,
}

/// One delivery of an issue to a reader.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeliveryHistory {
    pub issue_id: IssueId,
    pub slug: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub last_reply: Option<String>,
}

/// Readers who joined (confirmed) and who left (unsubscribed, bounced, complained) since a
/// moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Growth {
    pub joined: u64,
    pub left: u64,
}

#[async_trait::async_trait]
pub trait ConsoleStore: Send + Sync {
    async fn search_subscribers(&self, q: &SubscriberSearch)
    -> Result<Vec<Subscriber>, StoreError>;
    /// A reader's deliveries, newest first.
    async fn subscriber_deliveries(
        &self,
        id: SubscriberId,
        limit: u32,
    ) -> Result<Vec<DeliveryHistory>, StoreError>;
    /// The bounce reports attributed to a reader, newest first.
    async fn subscriber_bounces(
        &self,
        id: SubscriberId,
        limit: u32,
    ) -> Result<Vec<BounceRecord>, StoreError>;
    async fn growth_since(&self, since: DateTime<Utc>) -> Result<Growth, StoreError>;
}
