//! The webhook port (`app::ports::WebhookStore`) on both backends: the one-time tokens of
//! signed provider requests. The SQL is the same text on SQLite and
//! PostgreSQL (`ON CONFLICT … DO NOTHING`, `$N` placeholders), written once here and
//! expanded for each backend by `sqlite.rs` / `postgres.rs`.
//!
//! Depends on the ports and sqlx.

/// `impl WebhookStore for $store`, where `$store` has a `pool` field.
macro_rules! webhook_store_impl {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::app::ports::WebhookStore for $store {
            async fn claim_webhook_token(
                &self,
                provider: &str,
                token: &str,
                now: DateTime<Utc>,
                forget_before: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                // Forgetting first keeps the table at one freshness window of requests; a
                // token older than that comes with a timestamp refused as stale anyway.
                sqlx::query("DELETE FROM webhook_tokens WHERE seen_at < $1")
                    .bind(forget_before)
                    .execute(&self.pool)
                    .await?;
                Ok(sqlx::query(
                    "INSERT INTO webhook_tokens (provider, token, seen_at) VALUES ($1, $2, $3)
                     ON CONFLICT (provider, token) DO NOTHING",
                )
                .bind(provider)
                .bind(token)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn release_webhook_token(
                &self,
                provider: &str,
                token: &str,
            ) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM webhook_tokens WHERE provider = $1 AND token = $2")
                    .bind(provider)
                    .bind(token)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}
pub(super) use webhook_store_impl;
