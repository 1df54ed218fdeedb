//! The reader-limits port (`app::ports::ReaderLimitStore`) on both backends; the SQL is the
//! same text on SQLite and PostgreSQL, written once here and expanded by `sqlite.rs` /
//! `postgres.rs`. Depends on the ports and sqlx.

/// `impl ReaderLimitStore for $store`, where `$store` has a `pool` field.
macro_rules! reader_limit_store_impl {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::app::ports::ReaderLimitStore for $store {
            async fn mails_queued_since(
                &self,
                id: SubscriberId,
                kinds: &[$crate::domain::MailKind],
                since: DateTime<Utc>,
            ) -> Result<u64, StoreError> {
                let mut total = 0u64;
                for kind in kinds {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM mail_outbox
                         WHERE recipient_kind = 'subscriber' AND recipient_id = $1
                           AND kind = $2 AND created_at >= $3",
                    )
                    .bind(id.get())
                    .bind(kind.as_str())
                    .bind(since)
                    .fetch_one(&self.pool)
                    .await?;
                    total += u64::try_from(n).unwrap_or(0);
                }
                Ok(total)
            }

            async fn pending_in_domain_since(
                &self,
                domain: &str,
                since: DateTime<Utc>,
            ) -> Result<u64, StoreError> {
                let suffix = format!("@{domain}");
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM subscribers
                     WHERE status = 'pending' AND created_at >= $2
                       AND LENGTH(email_key) > LENGTH($1)
                       AND SUBSTR(email_key, LENGTH(email_key) - LENGTH($1) + 1) = $1",
                )
                .bind(&suffix)
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
                Ok(u64::try_from(n).unwrap_or(0))
            }
        }
    };
}
pub(super) use reader_limit_store_impl;
