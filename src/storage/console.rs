//! The console port (`app::ports::ConsoleStore`) on both backends, written once: a search
//! that walks the primary key in id order (keyset paging: each page starts where the last
//! ended, and the status filter uses the `(status, id)` index), a reader's deliveries
//! (`deliveries_subscriber` index) and bounce reports (`bounce_reports_subscriber`), and the
//! month's growth.
//!
//! Depends on the ports and sqlx.

/// `%text%` for `LIKE … ESCAPE '\'`, lower-cased, with the pattern characters escaped.
pub(super) fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// `impl ConsoleStore for $store`, where `$store` has a `pool` field and the module imports
/// `rows`.
macro_rules! console_store_impl {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::app::ports::ConsoleStore for $store {
            async fn search_subscribers(
                &self,
                q: &$crate::app::ports::SubscriberSearch,
            ) -> Result<Vec<Subscriber>, StoreError> {
                let pattern = q
                    .text
                    .as_deref()
                    .filter(|t| !t.trim().is_empty())
                    .map(super::console::contains_pattern);
                sqlx::query_as::<_, rows::SubscriberRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM subscribers
                     WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR lang = $2) AND id > $3
                       AND ($4 IS NULL OR email_key LIKE $4 ESCAPE '\\'
                            OR lower(COALESCE(name, '')) LIKE $4 ESCAPE '\\')
                     ORDER BY id LIMIT $5",
                    rows::SUBSCRIBER_COLUMNS
                )))
                .bind(q.status.map(|s| s.as_str()))
                .bind(q.lang.map(|l| l.as_str()))
                .bind(q.after_id.map(SubscriberId::get).unwrap_or(0))
                .bind(pattern)
                .bind(i64::from(q.limit.clamp(1, 1000)))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(Subscriber::try_from)
                .collect()
            }

            async fn subscriber_deliveries(
                &self,
                id: SubscriberId,
                limit: u32,
            ) -> Result<Vec<$crate::app::ports::DeliveryHistory>, StoreError> {
                type Row = (
                    i64,
                    String,
                    String,
                    i64,
                    Option<DateTime<Utc>>,
                    DateTime<Utc>,
                    Option<String>,
                );
                let found: Vec<Row> = sqlx::query_as(
                    "SELECT d.issue_id, i.slug, d.state, CAST(d.attempts AS BIGINT), d.sent_at,
                            d.updated_at, d.last_reply
                     FROM deliveries d JOIN issues i ON i.id = d.issue_id
                     WHERE d.subscriber_id = $1 ORDER BY d.id DESC LIMIT $2",
                )
                .bind(id.get())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                found
                    .into_iter()
                    .map(|(issue, slug, state, attempts, sent_at, updated_at, last_reply)| {
                        Ok($crate::app::ports::DeliveryHistory {
                            issue_id: IssueId::new(issue),
                            slug,
                            state: state.parse()?,
                            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                            sent_at,
                            updated_at,
                            last_reply,
                        })
                    })
                    .collect()
            }

            async fn subscriber_bounces(
                &self,
                id: SubscriberId,
                limit: u32,
            ) -> Result<Vec<BounceRecord>, StoreError> {
                sqlx::query_as::<_, rows::BounceRow>(
                    "SELECT message_hash, received_at, source, kind, subscriber_id, delivery_id, status_code,
                            reason, diagnostic, action, attribution, parsed
                     FROM bounce_reports WHERE subscriber_id = $1 ORDER BY id DESC LIMIT $2",
                )
                .bind(id.get())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(BounceRecord::try_from)
                .collect()
            }

            async fn growth_since(
                &self,
                since: DateTime<Utc>,
            ) -> Result<$crate::app::ports::Growth, StoreError> {
                let (joined, left): (i64, i64) = sqlx::query_as(
                    "SELECT
                        COALESCE(SUM(CASE WHEN confirmed_at >= $1 THEN 1 ELSE 0 END), 0),
                        COALESCE(SUM(CASE WHEN unsubscribed_at >= $1
                                            OR (status IN ('bounced', 'complained') AND updated_at >= $1)
                                     THEN 1 ELSE 0 END), 0)
                     FROM subscribers",
                )
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
                Ok($crate::app::ports::Growth {
                    joined: joined as u64,
                    left: left as u64,
                })
            }
        }
    };
}
pub(super) use console_store_impl;
