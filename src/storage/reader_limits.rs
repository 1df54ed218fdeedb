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

            async fn take_cap_slot(
                &self,
                key: &str,
                limit: u32,
                window_secs: i64,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                if limit == 0 {
                    return Ok(false);
                }
                let now = now.timestamp();
                // A window that has ended starts anew with this slot; otherwise the slot is
                // taken only while fewer than `limit` are. The row is locked by the upsert
                // (PostgreSQL) or the write (SQLite), so the condition sees every slot taken.
                let taken: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO reader_caps (key, window_start, n) VALUES ($1, $2, 1)
                     ON CONFLICT (key) DO UPDATE SET
                       n = CASE WHEN reader_caps.window_start <= $3 THEN 1
                                ELSE reader_caps.n + 1 END,
                       window_start = CASE WHEN reader_caps.window_start <= $3 THEN $2
                                ELSE reader_caps.window_start END
                     WHERE reader_caps.window_start <= $3 OR reader_caps.n < $4
                     RETURNING n",
                )
                .bind(key)
                .bind(now)
                .bind(now - window_secs)
                .bind(i64::from(limit))
                .fetch_optional(&self.pool)
                .await?;
                // Now and then, forget windows ended long ago (one day after the longest).
                if rand::random::<u8>() == 0 {
                    sqlx::query("DELETE FROM reader_caps WHERE window_start < $1")
                        .bind(now - 2 * 86_400)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(taken.is_some())
            }

            async fn release_cap_slot(&self, key: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE reader_caps SET n = n - 1 WHERE key = $1 AND n > 0")
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}
pub(super) use reader_limit_store_impl;
