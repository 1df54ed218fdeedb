//! The delivery port: the campaign snapshot, leased claims, recorded outcomes, counts, and
//! the campaign-wide rate schedule shared by every process. Depends on the domain only.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{
    ClaimedDelivery, DeliveryCounts, DeliveryError, DeliveryId, DeliveryOutcome, IssueId,
};

#[async_trait::async_trait]
pub trait DeliveryStore: Send + Sync {
    /// `queued` → `sending` and one `pending` delivery per active subscriber, in one
    /// transaction. Returns the number of deliveries, or `None` if the issue was not queued.
    async fn start_campaign(
        &self,
        id: IssueId,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError>;
    /// Leases up to `limit` due deliveries of the issue to `owner` until `lease_until`:
    /// pending ones, retries that are due, sending ones whose lease expired, and sending
    /// ones already leased to `owner` (a claim whose reply was lost in a database outage: a
    /// worker claims only when it holds nothing, so it never saw them).
    async fn claim_deliveries(
        &self,
        issue: IssueId,
        owner: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Records outcomes in one transaction, whoever holds the leases (tests and tools; the
    /// dispatcher records with [`DeliveryStore::record_leased_outcomes`]); a hard bounce
    /// marks its subscriber `bounced`.
    async fn record_outcomes(
        &self,
        outcomes: &[(DeliveryId, DeliveryOutcome)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Records the outcomes of leased deliveries atomically, each only while its `owner` still
    /// holds the lease (the delivery is `sending` and leased to it, expired or not), or when
    /// it is `sent` for a delivery skipped meanwhile (its reader left). An outcome whose lease
    /// was taken back (its process was thought dead) does not overwrite the new owner's. A
    /// hard bounce marks its subscriber `bounced`. Returns how many outcomes applied.
    async fn record_leased_outcomes(
        &self,
        outcomes: &[LeasedOutcome],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Returns `owner`'s unfinished leases to the pool (clean shutdown). Returns how many.
    async fn release_leases(&self, owner: &str) -> Result<u64, StoreError>;
    async fn delivery_counts(&self, issue: IssueId) -> Result<DeliveryCounts, StoreError>;
    /// `sending` → `sent` when no delivery needs work any more. Returns whether it did.
    async fn finish_issue_if_done(
        &self,
        id: IssueId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Those of `ids` (deliveries of `issue`) that are `skipped` now (their reader left while
    /// a worker held them).
    async fn skipped_among(
        &self,
        issue: IssueId,
        ids: &[DeliveryId],
    ) -> Result<Vec<DeliveryId>, StoreError>;
    /// Deliveries of the issue sent at or after `since` (the current rate).
    async fn sent_since(&self, issue: IssueId, since: DateTime<Utc>) -> Result<u64, StoreError>;
    /// The latest failed or retrying deliveries of the issue, newest first.
    async fn recent_errors(
        &self,
        issue: IssueId,
        limit: u32,
    ) -> Result<Vec<DeliveryError>, StoreError>;
    /// Reserves `n` consecutive send slots `interval_us` apart on the campaign-wide schedule
    /// of `key` (a GCRA shared by every process on the database: the key's theoretical
    /// arrival time moves forward by `n` intervals from itself or from `now_us`, whichever is
    /// later). Returns the first slot's time (microseconds since the Unix epoch).
    async fn reserve_slots(
        &self,
        key: &str,
        n: u32,
        interval_us: i64,
        now_us: i64,
    ) -> Result<i64, StoreError>;
    /// Moves the lease of every `sending` delivery of the issue whose owner starts with
    /// `owner_prefix` to `until` (the heartbeat). Returns how many.
    async fn renew_leases(
        &self,
        issue: IssueId,
        owner_prefix: &str,
        until: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Who holds live leases on the issue's deliveries, and how many each.
    async fn lease_holders(
        &self,
        issue: IssueId,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, u64)>, StoreError>;
    /// Ends `owner`'s leases on the issue now (its process is gone), so a claim takes them.
    async fn expire_leases(
        &self,
        issue: IssueId,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Records a sending process's heartbeat and database figures (one row per owner).
    async fn beat_instance(&self, i: &Instance) -> Result<(), StoreError>;
    /// The sending processes whose heartbeat is at or after `since`, latest first.
    async fn instances(&self, since: DateTime<Utc>) -> Result<Vec<Instance>, StoreError>;
}

/// One outcome as the lease owner that sent (or skipped, or deferred) the delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedOutcome {
    pub id: DeliveryId,
    /// The worker's lease owner (`host:pid:start:wN`).
    pub owner: std::sync::Arc<str>,
    pub outcome: DeliveryOutcome,
}

/// A process that sends (`kairan serve`, `kairan send`), as its heartbeat records it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Instance {
    /// The lease owner's name (`host:pid:start`).
    pub owner: String,
    pub host: String,
    pub pid: i64,
    pub command: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    /// Database outages ridden out, retries made, and the time spent waiting.
    pub db_outages: i64,
    pub db_retries: i64,
    pub db_wait_ms: i64,
    pub last_outage_ms: Option<i64>,
}
