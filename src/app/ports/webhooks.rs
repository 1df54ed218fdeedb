//! The webhook port: the one-time tokens of signed provider requests (Mailgun's), remembered
//! only as long as a request carrying them could still be fresh, so a captured request cannot
//! be replayed. (Event ids, which make a provider's retry change nothing, are kept with the
//! bounce reports: `BounceStore`.) Depends on nothing but chrono.

use chrono::{DateTime, Utc};

use super::StoreError;

#[async_trait::async_trait]
pub trait WebhookStore: Send + Sync {
    /// Takes a request's one-time token: `true` the first time, `false` when it was taken
    /// before (a replay). Tokens taken before `forget_before` are dropped on the way, since a
    /// request that old is refused as stale anyway.
    async fn claim_webhook_token(
        &self,
        provider: &str,
        token: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Gives a token back, when the request that took it could not be acted on (the
    /// database failed), so the provider's retry of that same request is not refused.
    async fn release_webhook_token(&self, provider: &str, token: &str) -> Result<(), StoreError>;
}
