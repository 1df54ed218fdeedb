//! The editorial port (`app::ports::EditorialStore`) on both backends: per-language change
//! times, legacy-charset reader counts, draft renames and content-addressed images. The SQL
//! is the same text on SQLite and PostgreSQL, written once here and expanded for each
//! backend by `sqlite.rs` / `postgres.rs`.
//!
//! Depends on the ports and sqlx.

/// `impl EditorialStore for $store`, where `$store` has a `pool` field. `$domain` is the
/// backend's SQL for the domain of `email_key`, exactly as the expression index of migration
/// 0011 spells it (so the count reads the index).
macro_rules! editorial_store_impl {
    ($store:ty, $domain:literal) => {
        #[async_trait::async_trait]
        impl $crate::app::ports::EditorialStore for $store {
            async fn content_updated_at(
                &self,
                id: IssueId,
            ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, StoreError> {
                let rows: Vec<(String, Option<DateTime<Utc>>)> = sqlx::query_as(
                    "SELECT lang, updated_at FROM issue_contents WHERE issue_id = $1",
                )
                .bind(id.get())
                .fetch_all(&self.pool)
                .await?;
                let at = |lang: &str| rows.iter().find(|r| r.0 == lang).and_then(|r| r.1);
                Ok(at("ja").zip(at("en")))
            }

            async fn set_content_updated_at(
                &self,
                id: IssueId,
                ja: DateTime<Utc>,
                en: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                for (lang, at) in [("ja", ja), ("en", en)] {
                    sqlx::query(
                        "UPDATE issue_contents SET updated_at = $3 WHERE issue_id = $1 AND lang = $2",
                    )
                    .bind(id.get())
                    .bind(lang)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn active_readers_at_domains(
                &self,
                domains: &[String],
            ) -> Result<(u64, u64), StoreError> {
                if domains.is_empty() {
                    return Ok((0, 0));
                }
                let sql = format!(
                    "SELECT lang, COUNT(*) FROM subscribers WHERE ({}) IN ({}) AND status = 'active' GROUP BY lang",
                    $domain,
                    super::placeholders(1, domains.len())
                );
                let mut q = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql));
                for d in domains {
                    q = q.bind(d.to_ascii_lowercase());
                }
                let (mut ja, mut en) = (0u64, 0u64);
                for (lang, n) in q.fetch_all(&self.pool).await? {
                    let n = u64::try_from(n).unwrap_or(0);
                    match lang.as_str() {
                        "ja" => ja += n,
                        "en" => en += n,
                        _ => {
                            ja += n;
                            en += n;
                        }
                    }
                }
                Ok((ja, en))
            }

            async fn rename_draft(
                &self,
                id: IssueId,
                slug: &str,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                Ok(sqlx::query(
                    "UPDATE issues SET slug = $2, updated_at = $3 WHERE id = $1 AND state = 'draft'",
                )
                .bind(id.get())
                .bind(slug)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => {
                        StoreError::Conflict(format!("an issue with slug `{slug}`"))
                    }
                    other => other,
                })?
                .rows_affected()
                    == 1)
            }

            async fn put_media(
                &self,
                m: &$crate::app::ports::Media,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                Ok(sqlx::query(
                    "INSERT INTO media (hash, content_type, size, data, created_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (hash) DO NOTHING",
                )
                .bind(&m.hash)
                .bind(&m.content_type)
                .bind(m.data.len() as i64)
                .bind(&m.data)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn media(
                &self,
                hash: &str,
            ) -> Result<Option<$crate::app::ports::Media>, StoreError> {
                let row: Option<(String, String, Vec<u8>)> =
                    sqlx::query_as("SELECT hash, content_type, data FROM media WHERE hash = $1")
                        .bind(hash)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|(hash, content_type, data)| $crate::app::ports::Media {
                    hash,
                    content_type,
                    data,
                }))
            }

            async fn issue_summaries(
                &self,
            ) -> Result<Vec<$crate::app::ports::IssueSummary>, StoreError> {
                type Row = (
                    i64,
                    String,
                    String,
                    Option<DateTime<Utc>>,
                    Option<DateTime<Utc>>,
                    Option<DateTime<Utc>>,
                    DateTime<Utc>,
                    Option<String>,
                    Option<String>,
                );
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT i.id, i.slug, i.state, i.send_at, i.started_at, i.finished_at, i.updated_at,
                            ja.subject, en.subject
                     FROM issues i
                     LEFT JOIN issue_contents ja ON ja.issue_id = i.id AND ja.lang = 'ja'
                     LEFT JOIN issue_contents en ON en.issue_id = i.id AND en.lang = 'en'
                     ORDER BY i.id DESC",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|r| {
                        Ok($crate::app::ports::IssueSummary {
                            id: IssueId::new(r.0),
                            slug: r.1,
                            state: r.2.parse::<IssueState>()?,
                            send_at: r.3,
                            started_at: r.4,
                            finished_at: r.5,
                            updated_at: r.6,
                            ja_subject: r.7.unwrap_or_default(),
                            en_subject: r.8.unwrap_or_default(),
                        })
                    })
                    .collect()
            }
        }
    };
}
pub(super) use editorial_store_impl;
