//! The reader-side limits port (issue 13): what the caps on confirmation mails per address
//! and on pending sign-ups per domain count. Depends on the domain and chrono.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{MailKind, SubscriberId};

#[async_trait::async_trait]
pub trait ReaderLimitStore: Send + Sync {
    /// Mails of `kinds` queued for subscriber `id` since `since` (whatever became of them).
    async fn mails_queued_since(
        &self,
        id: SubscriberId,
        kinds: &[MailKind],
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Pending subscribers created since `since` whose address ends in `@domain`
    /// (lower case).
    async fn pending_in_domain_since(
        &self,
        domain: &str,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Takes one slot of cap `key`: at most `limit` slots per `window_secs`, the window
    /// starting at its first slot. Atomic (one conditional upsert): concurrent callers never
    /// take more than `limit`. `false` when the cap is reached (nothing changed).
    async fn take_cap_slot(
        &self,
        key: &str,
        limit: u32,
        window_secs: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Gives back a slot taken for nothing (no mail went, nothing was stored).
    async fn release_cap_slot(&self, key: &str) -> Result<(), StoreError>;
}
