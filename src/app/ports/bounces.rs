//! The bounce port: stored reports (one per message), the delivery a VERP token names, and
//! the soft-bounce score. Depends on the domain only.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{BounceCount, BounceRecord, DeliveryId, DeliveryRef, SubscriberId};

#[async_trait::async_trait]
pub trait BounceStore: Send + Sync {
    /// Stores a report; `false` if the same message (hash) was stored before.
    async fn insert_bounce_report(&self, r: &BounceRecord) -> Result<bool, StoreError>;
    async fn bounce_reports(&self, limit: u32) -> Result<Vec<BounceRecord>, StoreError>;
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
}
