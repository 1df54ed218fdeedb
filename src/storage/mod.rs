//! The storage adapters: SQLite and PostgreSQL, each implementing every storage port of
//! `app::ports` (subscribers, issues, deliveries, bounces, keys) and the umbrella `Store`, on
//! its native sqlx pool and native types (timestamps are `TIMESTAMPTZ` on PostgreSQL). The
//! URL scheme picks one. May depend on the domain, the ports and sqlx; nothing above it.
//!
//! Most SQL is the same text on both (both accept `$N` placeholders, `RETURNING` and
//! `ON CONFLICT`), so the shared methods are written once in [`storage_impl!`] and expanded
//! for each backend; what differs (connecting, pragmas, how a batch is claimed, where a
//! generated key is kept) lives in `sqlite.rs` / `postgres.rs`. Rows are decoded into
//! `rows.rs` structs and converted to domain values with explicit enum mapping, so a bad
//! stored value is an error, not a panic. sqlx's errors become the port's [`StoreError`]
//! here, at the boundary.

use std::sync::Arc;

use crate::app::ports::{Store, StoreError};

mod console;
mod editorial;
mod import;
mod keys;
mod ledger;
mod outbox;
mod postgres;
mod reader_limits;
mod rows;
mod sqlite;
mod users;
mod webhooks;

use outbox::outbox_impl;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        match url.split_once("://")?.0 {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }
}

/// Classifies a database error for the port: connection trouble is `Unavailable` (worth a
/// retry), a unique violation a `Conflict`, anything else `Other`.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => StoreError::Unavailable(Box::new(e)),
            sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => {
                StoreError::Unavailable(Box::new(e))
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|c| transient_code(&c)) => {
                StoreError::Unavailable(Box::new(e))
            }
            _ => StoreError::Other(anyhow::Error::new(e)),
        }
    }
}

/// Database error codes that mean "not now" rather than "wrong": SQLite's BUSY and LOCKED
/// (another process holds the file past the busy timeout; extended codes share the low byte),
/// PostgreSQL's connection exceptions (class 08), shutdown and start-up (57P01–57P03) and
/// too many connections (53300), and a transaction rolled back as a deadlock victim or a
/// serialization failure (40P01, 40001), which is safe to run again.
fn transient_code(code: &str) -> bool {
    // SQLite's codes are numbers below 10,000; PostgreSQL's SQLSTATEs are five characters.
    if code.len() < 5
        && let Ok(n) = code.parse::<u32>()
    {
        return matches!(n & 0xff, 5 | 6);
    }
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "40P01" | "40001"
        )
}

/// Opens a pool for `url` (creating a SQLite file if missing). Does not migrate.
pub async fn connect(url: &str, max_connections: u32) -> Result<Arc<dyn Store>, StoreError> {
    match Backend::from_url(url) {
        Some(Backend::Sqlite) => Ok(Arc::new(SqliteStore::connect(url, max_connections).await?)),
        Some(Backend::Postgres) => Ok(Arc::new(PgStore::connect(url, max_connections).await?)),
        None => Err(StoreError::Other(anyhow::anyhow!(
            "database.url must start with sqlite:// or postgres://"
        ))),
    }
}

/// The file a `sqlite://` URL names, when it names one (not an in-memory database).
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path.contains(":memory:") || query.contains("mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// `$start, $start+1, …` for an `IN (…)` list of `n` values.
fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($start, …), (…), …`: `rows` rows of `cols` placeholders each, for a `VALUES` list.
fn values_rows(start: usize, cols: usize, rows: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(start + r * cols, cols)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What an outcome writes: the reply (or reason), the next attempt, the sent time, and
/// whether it counts as an attempt.
fn outcome_columns(
    outcome: &crate::domain::DeliveryOutcome,
    now: chrono::DateTime<chrono::Utc>,
) -> (
    &str,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
    bool,
) {
    use crate::domain::DeliveryOutcome;
    match outcome {
        DeliveryOutcome::Sent { reply } => (reply.as_str(), None, Some(now), true),
        DeliveryOutcome::Retry { at, reply } => (reply.as_str(), Some(*at), None, true),
        DeliveryOutcome::Failed { reply, .. } => (reply.as_str(), None, None, true),
        DeliveryOutcome::Skipped { reason } => (reason.as_str(), None, None, false),
        DeliveryOutcome::Deferred { at, reason } => (reason.as_str(), Some(*at), None, false),
    }
}

/// Outcomes per `UPDATE … FROM (VALUES …)` statement (6 parameters a row).
const RECORD_CHUNK: usize = 128;

/// The methods whose SQL is identical on both backends, plus each backend's own for the
/// umbrella `Store`, `IssueStore`, `DeliveryStore` and `KeyStore` (`store { … }`,
/// `issues { … }`, …), expanded into one impl per port. `$db` is the sqlx database type.
macro_rules! storage_impl {
    ($store:ty, $db:ty,
     store { $($store_own:tt)* }
     issues { $($issues_own:tt)* }
     deliveries { $($deliveries_own:tt)* }
     keys { $($keys_own:tt)* }
    ) => {
        #[async_trait::async_trait]
        impl $crate::app::ports::Store for $store {
            $($store_own)*

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.before_close().await;
                self.ledger.release().await;
                self.pool.close().await;
            }
        }

        #[async_trait::async_trait]
        impl $crate::app::ports::SubscriberStore for $store {
            async fn insert_subscriber(
                &self,
                s: &NewSubscriber,
                confirmation: Option<&NewMail>,
            ) -> Result<(SubscriberId, Option<MailId>), StoreError> {
                let mut tx = self.pool.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO subscribers (email, email_key, name, lang, status, source, created_at, updated_at,
                        confirmed_at, confirmation_sent_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9) RETURNING id",
                )
                .bind(s.email.as_str())
                .bind(s.email.key())
                .bind(s.name.as_deref())
                .bind(s.lang.as_str())
                .bind(s.status.as_str())
                .bind(s.consent.method.as_str())
                .bind(s.now)
                .bind(s.consent.confirmed_at)
                .bind(confirmation.map(|_| s.now))
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict("a subscriber with this address".into()),
                    other => other,
                })?;
                let id = SubscriberId::new(id);
                insert_consent(&mut tx, id, &s.consent).await?;
                let mail = match confirmation {
                    Some(m) => Some(insert_mail(&mut tx, Recipient::Subscriber(id), m, s.now).await?),
                    None => None,
                };
                tx.commit().await?;
                Ok((id, mail))
            }

            async fn subscriber(&self, id: SubscriberId) -> Result<Option<Subscriber>, StoreError> {
                sqlx::query_as::<_, rows::SubscriberRow>(sqlx::AssertSqlSafe(format!("SELECT {} FROM subscribers WHERE id = $1", rows::SUBSCRIBER_COLUMNS)))
                    .bind(id.get())
                    .fetch_optional(&self.pool)
                    .await?
                    .map(Subscriber::try_from)
                    .transpose()
            }

            async fn subscriber_by_email(&self, email: &EmailAddress) -> Result<Option<Subscriber>, StoreError> {
                sqlx::query_as::<_, rows::SubscriberRow>(sqlx::AssertSqlSafe(format!("SELECT {} FROM subscribers WHERE email_key = $1", rows::SUBSCRIBER_COLUMNS)))
                    .bind(email.key())
                    .fetch_optional(&self.pool)
                    .await?
                    .map(Subscriber::try_from)
                    .transpose()
            }

            async fn list_subscribers(&self, q: &SubscriberQuery) -> Result<Vec<Subscriber>, StoreError> {
                sqlx::query_as::<_, rows::SubscriberRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM subscribers
                     WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR lang = $2) AND id > $3
                     ORDER BY id LIMIT $4",
                    rows::SUBSCRIBER_COLUMNS
                )))
                .bind(q.status.map(|s| s.as_str()))
                .bind(q.lang.map(|l| l.as_str()))
                .bind(q.after_id.map(SubscriberId::get).unwrap_or(0))
                .bind(q.limit.map(i64::from).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(Subscriber::try_from)
                .collect()
            }

            async fn set_subscriber_status(
                &self,
                id: SubscriberId,
                from: &[SubscriberStatus],
                to: SubscriberStatus,
                method: Option<&str>,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                if from.is_empty() {
                    return Ok(false);
                }
                let mut tx = self.pool.begin().await?;
                let sql = format!(
                    "UPDATE subscribers SET status = $2, updated_at = $3,
                        confirmed_at = CASE WHEN $2 = 'active' THEN COALESCE(confirmed_at, $3) ELSE confirmed_at END,
                        unsubscribed_at = CASE WHEN $2 = 'unsubscribed' THEN $3 ELSE unsubscribed_at END,
                        unsubscribe_method = CASE WHEN $2 = 'unsubscribed' THEN $4 ELSE unsubscribe_method END,
                        last_bounce_at = CASE WHEN $2 = 'bounced' THEN $3 ELSE last_bounce_at END
                     WHERE id = $1 AND status IN ({})",
                    placeholders(5, from.len())
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.get()).bind(to.as_str()).bind(now).bind(method);
                for f in from {
                    query = query.bind(f.as_str());
                }
                let changed = query.execute(&mut *tx).await?.rows_affected() == 1;
                if changed && !to.receives_mail() {
                    skip_open_deliveries(&mut tx, id, to.as_str(), now).await?;
                }
                tx.commit().await?;
                Ok(changed)
            }

            async fn subscriber_counts(&self) -> Result<Vec<(SubscriberStatus, LangPref, u64)>, StoreError> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT status, lang, COUNT(*) FROM subscribers GROUP BY status, lang ORDER BY status, lang",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(s, l, n)| Ok((s.parse()?, l.parse()?, n as u64)))
                    .collect()
            }

            async fn consents(&self, id: SubscriberId) -> Result<Vec<Consent>, StoreError> {
                sqlx::query_as::<_, rows::ConsentRow>(
                    "SELECT method, form_at, confirmed_at, ip, user_agent, page_lang, text_hash, text_version
                     FROM consent_records WHERE subscriber_id = $1 ORDER BY id",
                )
                .bind(id.get())
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(Consent::try_from)
                .collect()
            }

            async fn claim_confirmation_send(
                &self,
                id: SubscriberId,
                now: DateTime<Utc>,
                not_since: DateTime<Utc>,
                confirmation: &NewMail,
            ) -> Result<Option<MailId>, StoreError> {
                let mut tx = self.pool.begin().await?;
                let claimed = sqlx::query(
                    "UPDATE subscribers SET confirmation_sent_at = $2, updated_at = $2
                     WHERE id = $1 AND status = 'pending'
                       AND (confirmation_sent_at IS NULL OR confirmation_sent_at <= $3)",
                )
                .bind(id.get())
                .bind(now)
                .bind(not_since)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                let mail = if claimed {
                    Some(insert_mail(&mut tx, Recipient::Subscriber(id), confirmation, now).await?)
                } else {
                    None
                };
                tx.commit().await?;
                Ok(mail)
            }

            async fn confirm_subscriber(
                &self,
                id: SubscriberId,
                now: DateTime<Utc>,
                welcome: Option<&NewMail>,
            ) -> Result<Changed, StoreError> {
                let mut tx = self.pool.begin().await?;
                let changed = sqlx::query(
                    "UPDATE subscribers SET status = 'active', confirmed_at = $2, updated_at = $2
                     WHERE id = $1 AND status = 'pending'",
                )
                .bind(id.get())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                let mut mail = None;
                if changed {
                    sqlx::query(
                        "UPDATE consent_records SET confirmed_at = $2 WHERE subscriber_id = $1 AND confirmed_at IS NULL",
                    )
                    .bind(id.get())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if let Some(m) = welcome {
                        mail = Some(insert_mail(&mut tx, Recipient::Subscriber(id), m, now).await?);
                    }
                }
                tx.commit().await?;
                Ok(Changed { applied: changed, mail })
            }

            async fn restart_opt_in(
                &self,
                id: SubscriberId,
                s: &NewSubscriber,
                confirmation: Option<&NewMail>,
            ) -> Result<Changed, StoreError> {
                let mut tx = self.pool.begin().await?;
                let changed = sqlx::query(
                    "UPDATE subscribers SET status = $2, name = $3, lang = $4, source = $5, updated_at = $6,
                        confirmed_at = $7, confirmation_sent_at = $8, unsubscribed_at = NULL, unsubscribe_method = NULL
                     WHERE id = $1 AND status = 'unsubscribed'",
                )
                .bind(id.get())
                .bind(s.status.as_str())
                .bind(s.name.as_deref())
                .bind(s.lang.as_str())
                .bind(s.consent.method.as_str())
                .bind(s.now)
                .bind(s.consent.confirmed_at)
                .bind(confirmation.map(|_| s.now))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                let mut mail = None;
                if changed {
                    insert_consent(&mut tx, id, &s.consent).await?;
                    if let Some(m) = confirmation {
                        mail = Some(insert_mail(&mut tx, Recipient::Subscriber(id), m, s.now).await?);
                    }
                }
                tx.commit().await?;
                Ok(Changed { applied: changed, mail })
            }

            async fn set_subscriber_lang(&self, id: SubscriberId, lang: LangPref, now: DateTime<Utc>) -> Result<bool, StoreError> {
                Ok(sqlx::query(
                    "UPDATE subscribers SET lang = $2, updated_at = $3 WHERE id = $1 AND status IN ('pending', 'active')",
                )
                .bind(id.get())
                .bind(lang.as_str())
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn erase_subscriber(&self, id: SubscriberId, address_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let changed = sqlx::query(
                    "UPDATE subscribers SET email = 'erased-' || id || '@erased.invalid',
                        email_key = 'erased-' || id || '@erased.invalid', name = NULL,
                        status = 'unsubscribed', unsubscribed_at = COALESCE(unsubscribed_at, $2),
                        unsubscribe_method = 'erased', updated_at = $2
                     WHERE id = $1",
                )
                .bind(id.get())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if changed {
                    sqlx::query("UPDATE consent_records SET ip = NULL, user_agent = NULL WHERE subscriber_id = $1")
                        .bind(id.get())
                        .execute(&mut *tx)
                        .await?;
                    skip_open_deliveries(&mut tx, id, "erased", now).await?;
                    cancel_mails(&mut tx, Recipient::Subscriber(id), "erased", now).await?;
                    sqlx::query(
                        "INSERT INTO suppressions (address_hash, reason, created_at) VALUES ($1, 'erased', $2)
                         ON CONFLICT (address_hash) DO NOTHING",
                    )
                    .bind(address_hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(changed)
            }

            async fn is_suppressed(&self, address_hash: &str) -> Result<bool, StoreError> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM suppressions WHERE address_hash = $1")
                    .bind(address_hash)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }

            async fn lift_suppression(&self, address_hash: &str) -> Result<bool, StoreError> {
                Ok(sqlx::query("DELETE FROM suppressions WHERE address_hash = $1")
                    .bind(address_hash)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    > 0)
            }
        }

        #[async_trait::async_trait]
        impl $crate::app::ports::IssueStore for $store {
            $($issues_own)*

            async fn insert_issue(&self, i: &NewIssue) -> Result<IssueId, StoreError> {
                let mut tx = self.pool.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO issues (slug, state, send_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
                )
                .bind(&i.slug)
                .bind(i.state.as_str())
                .bind(i.send_at)
                .bind(i.now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!("an issue with slug `{}`", i.slug)),
                    other => other,
                })?;
                let id = IssueId::new(id);
                write_contents(&mut tx, id, &i.ja, &i.en, i.now).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn issue(&self, id: IssueId) -> Result<Option<Issue>, StoreError> {
                sqlx::query_as::<_, rows::IssueRow>(sqlx::AssertSqlSafe(format!("{} WHERE i.id = $1", rows::ISSUE_SELECT)))
                    .bind(id.get())
                    .fetch_optional(&self.pool)
                    .await?
                    .map(Issue::try_from)
                    .transpose()
            }

            async fn issue_state(&self, id: IssueId) -> Result<Option<IssueState>, StoreError> {
                let state: Option<String> = sqlx::query_scalar("SELECT state FROM issues WHERE id = $1")
                    .bind(id.get())
                    .fetch_optional(&self.pool)
                    .await?;
                state.map(|s| s.parse::<IssueState>()).transpose().map_err(Into::into)
            }

            async fn list_issues(&self) -> Result<Vec<Issue>, StoreError> {
                sqlx::query_as::<_, rows::IssueRow>(sqlx::AssertSqlSafe(format!("{} ORDER BY i.id", rows::ISSUE_SELECT)))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(Issue::try_from)
                    .collect()
            }

            async fn transition_issue(
                &self,
                id: IssueId,
                from: &[IssueState],
                to: IssueState,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                if from.is_empty() {
                    return Ok(false);
                }
                let sql = format!(
                    "UPDATE issues SET state = $2, updated_at = $3, finished_at = COALESCE($4, finished_at)
                     WHERE id = $1 AND state IN ({})",
                    placeholders(5, from.len())
                );
                let finished = to.is_final().then_some(now);
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.get()).bind(to.as_str()).bind(now).bind(finished);
                for f in from {
                    query = query.bind(f.as_str());
                }
                Ok(query.execute(&self.pool).await?.rows_affected() == 1)
            }

            async fn cancel_issue(&self, id: IssueId, now: DateTime<Utc>) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let changed = sqlx::query(
                    "UPDATE issues SET state = 'cancelled', updated_at = $2, finished_at = $2
                     WHERE id = $1 AND state IN ('draft', 'queued', 'sending', 'paused')",
                )
                .bind(id.get())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if changed {
                    sqlx::query(
                        "UPDATE deliveries SET state = 'skipped', last_reply = 'issue cancelled', updated_at = $2,
                            lease_owner = NULL, lease_expires_at = NULL
                         WHERE issue_id = $1 AND state IN ('pending', 'retry')",
                    )
                    .bind(id.get())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(changed)
            }

            async fn update_issue(
                &self,
                id: IssueId,
                send_at: Option<DateTime<Utc>>,
                ja: &IssueContent,
                en: &IssueContent,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let changed = sqlx::query(
                    "UPDATE issues SET send_at = $2, updated_at = $3 WHERE id = $1 AND state IN ('draft', 'queued')",
                )
                .bind(id.get())
                .bind(send_at)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if changed {
                    write_contents(&mut tx, id, ja, en, now).await?;
                }
                tx.commit().await?;
                Ok(changed)
            }

            async fn send_issue_now(&self, id: IssueId, now: DateTime<Utc>) -> Result<bool, StoreError> {
                Ok(sqlx::query(
                    "UPDATE issues SET send_at = $2, updated_at = $2 WHERE id = $1 AND state IN ('draft', 'queued')",
                )
                .bind(id.get())
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn set_issue_send_at(
                &self,
                id: IssueId,
                send_at: Option<DateTime<Utc>>,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                Ok(sqlx::query(
                    "UPDATE issues SET send_at = $2, updated_at = $3 WHERE id = $1 AND state NOT IN ('sent', 'cancelled')",
                )
                .bind(id.get())
                .bind(send_at)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }
        }

        #[async_trait::async_trait]
        impl $crate::app::ports::DeliveryStore for $store {
            $($deliveries_own)*

            async fn start_campaign(&self, id: IssueId, now: DateTime<Utc>) -> Result<Option<u64>, StoreError> {
                let mut tx = self.pool.begin().await?;
                let started = sqlx::query(
                    "UPDATE issues SET state = 'sending', started_at = COALESCE(started_at, $2), updated_at = $2
                     WHERE id = $1 AND state = 'queued'",
                )
                .bind(id.get())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if started != 1 {
                    return Ok(None);
                }
                let n = sqlx::query(
                    "INSERT INTO deliveries (issue_id, subscriber_id, lang, state, attempts, updated_at)
                     SELECT $1, id, lang, 'pending', 0, $2 FROM subscribers WHERE status = 'active'
                     ON CONFLICT (issue_id, subscriber_id) DO NOTHING",
                )
                .bind(id.get())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(Some(n))
            }

            async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "UPDATE deliveries SET state = CASE WHEN attempts = 0 THEN 'pending' ELSE 'retry' END,
                        next_attempt_at = CASE WHEN attempts = 0 THEN NULL ELSE $2 END,
                        lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
                     WHERE lease_owner = $1 AND state = 'sending'",
                )
                .bind(owner)
                .bind(Utc::now())
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn record_outcomes(
                &self,
                outcomes: &[(DeliveryId, DeliveryOutcome)],
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                if outcomes.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                // One statement per chunk of rows rather than one per row: the SQLite write
                // lock is held for a fraction of the time, and PostgreSQL sees one round trip.
                // A delivery skipped meanwhile (its reader left) stays skipped unless it was
                // in fact sent: a deferral must not bring it back.
                for chunk in outcomes.chunks(super::RECORD_CHUNK) {
                    let sql = format!(
                        "UPDATE deliveries SET state = v.column2, attempts = deliveries.attempts + v.column3,
                            next_attempt_at = v.column4, sent_at = COALESCE(v.column5, deliveries.sent_at),
                            last_reply = v.column6, lease_owner = NULL, lease_expires_at = NULL, updated_at = $1
                         FROM (VALUES {}) AS v WHERE deliveries.id = v.column1
                           AND (deliveries.state <> 'skipped' OR v.column2 = 'sent')",
                        super::values_rows(2, 6, chunk.len())
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
                    for (id, outcome) in chunk {
                        let (reply, next_at, sent_at, counts_attempt) = match outcome {
                            DeliveryOutcome::Sent { reply } => (reply.as_str(), None, Some(now), true),
                            DeliveryOutcome::Retry { at, reply } => (reply.as_str(), Some(*at), None, true),
                            DeliveryOutcome::Failed { reply, .. } => (reply.as_str(), None, None, true),
                            DeliveryOutcome::Skipped { reason } => (reason.as_str(), None, None, false),
                            DeliveryOutcome::Deferred { at, reason } => (reason.as_str(), Some(*at), None, false),
                        };
                        query = query
                            .bind(id.get())
                            .bind(outcome.state().as_str())
                            .bind(i32::from(counts_attempt))
                            .bind(next_at)
                            .bind(sent_at)
                            .bind(reply);
                    }
                    query.execute(&mut *tx).await?;
                }
                for (id, outcome) in outcomes {
                    if let DeliveryOutcome::Failed { hard_bounce: true, .. } = outcome {
                        let sub: Option<i64> = sqlx::query_scalar(
                            "UPDATE subscribers SET status = 'bounced', last_bounce_at = $2, updated_at = $2
                             WHERE id = (SELECT subscriber_id FROM deliveries WHERE id = $1)
                               AND status IN ('pending', 'active')
                             RETURNING id",
                        )
                        .bind(id.get())
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if let Some(sub) = sub {
                            skip_open_deliveries(&mut tx, SubscriberId::new(sub), "bounced", now).await?;
                        }
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn record_leased_outcomes(
                &self,
                outcomes: &[$crate::app::ports::LeasedOutcome],
                now: DateTime<Utc>,
            ) -> Result<u64, StoreError> {
                if outcomes.is_empty() {
                    return Ok(0);
                }
                let bounced = |o: &$crate::app::ports::LeasedOutcome| {
                    matches!(o.outcome, DeliveryOutcome::Failed { hard_bounce: true, .. })
                };
                if outcomes.len() <= super::RECORD_CHUNK && !outcomes.iter().any(bounced) {
                    // One statement is atomic by itself: no BEGIN and COMMIT round trips (the
                    // common case, a commit group of the dispatcher's workers), on the
                    // ledger's own connection.
                    let mut held = self.ledger.lock(&self.pool, Self::LEDGER_SETUP).await?;
                    let Some(conn) = held.as_mut() else {
                        return Ok(record_leased_chunk(&self.pool, outcomes, now).await?.len() as u64);
                    };
                    return match record_leased_chunk(&mut **conn, outcomes, now).await {
                        Ok(ids) => Ok(ids.len() as u64),
                        Err(e) => {
                            // Perhaps broken (the server restarted): the next commit takes another.
                            super::ledger::LedgerConn::drop_held(&mut held);
                            Err(e)
                        }
                    };
                }
                let mut tx = self.pool.begin().await?;
                let mut applied = std::collections::HashSet::new();
                for chunk in outcomes.chunks(super::RECORD_CHUNK) {
                    applied.extend(record_leased_chunk(&mut *tx, chunk, now).await?);
                }
                for o in outcomes.iter().filter(|o| bounced(o) && applied.contains(&o.id.get())) {
                    let sub: Option<i64> = sqlx::query_scalar(
                        "UPDATE subscribers SET status = 'bounced', last_bounce_at = $2, updated_at = $2
                         WHERE id = (SELECT subscriber_id FROM deliveries WHERE id = $1)
                           AND status IN ('pending', 'active')
                         RETURNING id",
                    )
                    .bind(o.id.get())
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(sub) = sub {
                        skip_open_deliveries(&mut tx, SubscriberId::new(sub), "bounced", now).await?;
                    }
                }
                tx.commit().await?;
                Ok(applied.len() as u64)
            }

            async fn delivery_counts(&self, issue: IssueId) -> Result<DeliveryCounts, StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT state, COUNT(*) FROM deliveries WHERE issue_id = $1 GROUP BY state")
                        .bind(issue.get())
                        .fetch_all(&self.pool)
                        .await?;
                let mut counts = DeliveryCounts::default();
                for (state, n) in rows {
                    counts.add(state.parse::<DeliveryState>()?, n as u64);
                }
                Ok(counts)
            }

            async fn finish_issue_if_done(&self, id: IssueId, now: DateTime<Utc>) -> Result<bool, StoreError> {
                Ok(sqlx::query(
                    "UPDATE issues SET state = 'sent', finished_at = $2, updated_at = $2
                     WHERE id = $1 AND state = 'sending'
                       AND NOT EXISTS (SELECT 1 FROM deliveries
                                       WHERE issue_id = $1 AND state IN ('pending', 'sending', 'retry'))",
                )
                .bind(id.get())
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn skipped_among(
                &self,
                issue: IssueId,
                ids: &[DeliveryId],
            ) -> Result<Vec<DeliveryId>, StoreError> {
                let (Some(lo), Some(hi)) = (ids.iter().min(), ids.iter().max()) else {
                    return Ok(Vec::new());
                };
                // The skipped rows of the id range, read off an (issue, state, id) index
                // (SQLite's deliveries_claim, PostgreSQL's partial deliveries_exceptions): one
                // statement shape, and a handful of index entries (readers who left are few)
                // instead of a probe per id of the worker's queue.
                let skipped: Vec<i64> = sqlx::query_scalar(
                    "SELECT id FROM deliveries
                     WHERE issue_id = $1 AND state = 'skipped' AND id BETWEEN $2 AND $3",
                )
                .bind(issue.get())
                .bind(lo.get())
                .bind(hi.get())
                .fetch_all(&self.pool)
                .await?;
                if skipped.is_empty() {
                    return Ok(Vec::new());
                }
                let skipped: std::collections::HashSet<i64> = skipped.into_iter().collect();
                Ok(ids.iter().copied().filter(|id| skipped.contains(&id.get())).collect())
            }

            async fn sent_since(&self, issue: IssueId, since: DateTime<Utc>) -> Result<u64, StoreError> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM deliveries WHERE issue_id = $1 AND state = 'sent' AND sent_at >= $2",
                )
                .bind(issue.get())
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
                Ok(n as u64)
            }

            async fn recent_errors(&self, issue: IssueId, limit: u32) -> Result<Vec<DeliveryError>, StoreError> {
                let rows: Vec<(i64, i64, String, i32, Option<String>, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT id, subscriber_id, state, attempts, last_reply, updated_at FROM deliveries
                     WHERE issue_id = $1 AND state IN ('failed', 'retry') AND attempts > 0
                     ORDER BY updated_at DESC, id DESC LIMIT $2",
                )
                .bind(issue.get())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(delivery_id, subscriber_id, state, attempts, reply, at)| {
                        Ok(DeliveryError {
                            delivery_id: DeliveryId::new(delivery_id),
                            subscriber_id: SubscriberId::new(subscriber_id),
                            state: state.parse()?,
                            attempts,
                            reply,
                            at,
                        })
                    })
                    .collect()
            }

            async fn reserve_slots(&self, key: &str, n: u32, interval_us: i64, now_us: i64) -> Result<i64, StoreError> {
                // GCRA in one statement: the key's theoretical arrival time moves forward by n
                // intervals from itself or from now, whichever is later; the row lock
                // (PostgreSQL) or the write lock (SQLite) orders concurrent reservations.
                let span = i64::from(n) * interval_us;
                let tat: i64 = sqlx::query_scalar(
                    "INSERT INTO rate_limits (key, tat) VALUES ($1, $2 + $3)
                     ON CONFLICT (key) DO UPDATE
                        SET tat = (CASE WHEN rate_limits.tat > $2 THEN rate_limits.tat ELSE $2 END) + $3
                     RETURNING tat",
                )
                .bind(key)
                .bind(now_us)
                .bind(span)
                .fetch_one(&self.pool)
                .await?;
                Ok(tat - span)
            }

            async fn renew_leases(&self, issue: IssueId, owner_prefix: &str, until: DateTime<Utc>) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "UPDATE deliveries SET lease_expires_at = $3
                     WHERE issue_id = $1 AND state = 'sending' AND substr(lease_owner, 1, $4) = $2",
                )
                .bind(issue.get())
                .bind(owner_prefix)
                .bind(until)
                .bind(owner_prefix.len() as i32)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn lease_holders(&self, issue: IssueId, now: DateTime<Utc>) -> Result<Vec<(String, u64)>, StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT lease_owner, COUNT(*) FROM deliveries
                     WHERE issue_id = $1 AND state = 'sending' AND lease_expires_at > $2 AND lease_owner IS NOT NULL
                     GROUP BY lease_owner ORDER BY lease_owner",
                )
                .bind(issue.get())
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(o, n)| (o, n as u64)).collect())
            }

            async fn beat_instance(&self, i: &$crate::app::ports::Instance) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO instances (owner, host, pid, command, started_at, heartbeat_at,
                        db_outages, db_retries, db_wait_ms, last_outage_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     ON CONFLICT (owner) DO UPDATE SET heartbeat_at = $6, command = $4,
                        db_outages = $7, db_retries = $8, db_wait_ms = $9, last_outage_ms = $10",
                )
                .bind(&i.owner)
                .bind(&i.host)
                .bind(i.pid)
                .bind(&i.command)
                .bind(i.started_at)
                .bind(i.heartbeat_at)
                .bind(i.db_outages)
                .bind(i.db_retries)
                .bind(i.db_wait_ms)
                .bind(i.last_outage_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn instances(&self, since: DateTime<Utc>) -> Result<Vec<$crate::app::ports::Instance>, StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, String, i64, String, DateTime<Utc>, DateTime<Utc>, i64, i64, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT owner, host, pid, command, started_at, heartbeat_at, db_outages, db_retries,
                        db_wait_ms, last_outage_ms
                     FROM instances WHERE heartbeat_at >= $1 ORDER BY heartbeat_at DESC, owner",
                )
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(owner, host, pid, command, started_at, heartbeat_at, db_outages, db_retries, db_wait_ms, last_outage_ms)| {
                        $crate::app::ports::Instance {
                            owner, host, pid, command, started_at, heartbeat_at,
                            db_outages, db_retries, db_wait_ms, last_outage_ms,
                        }
                    })
                    .collect())
            }

            async fn expire_leases(&self, issue: IssueId, owner: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "UPDATE deliveries SET lease_expires_at = $3
                     WHERE issue_id = $1 AND state = 'sending' AND lease_owner = $2",
                )
                .bind(issue.get())
                .bind(owner)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }
        }

        #[async_trait::async_trait]
        impl $crate::app::ports::BounceStore for $store {
            async fn insert_bounce_report(
                &self,
                r: &BounceRecord,
                counts: &[$crate::app::ports::CounterStep<'_>],
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let stored = sqlx::query(
                    "INSERT INTO bounce_reports (message_hash, received_at, source, kind, subscriber_id, delivery_id,
                        status_code, reason, diagnostic, action, attribution, parsed)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                     ON CONFLICT (message_hash) DO NOTHING",
                )
                .bind(&r.message_hash)
                .bind(r.received_at)
                .bind(&r.source)
                .bind(r.kind.map(|k| k.as_str()))
                .bind(r.subscriber_id.map(SubscriberId::get))
                .bind(r.delivery_id.map(DeliveryId::get))
                .bind(r.status_code.as_deref())
                .bind(r.reason.as_deref())
                .bind(r.diagnostic.as_deref())
                .bind(&r.action)
                .bind(r.attribution.as_deref())
                .bind(&r.parsed)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                // Counted in the report's transaction: a report is counted exactly once,
                // whichever process stored it.
                if stored {
                    add_counters(&mut tx, counts).await?;
                }
                tx.commit().await?;
                Ok(stored)
            }

            async fn add_bounce_counters(&self, counts: &[$crate::app::ports::CounterStep<'_>]) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                add_counters(&mut tx, counts).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn bounce_counters(&self) -> Result<Vec<BounceCounter>, StoreError> {
                let rows: Vec<(String, String, i64)> =
                    sqlx::query_as("SELECT name, label, value FROM bounce_counters ORDER BY name, label")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows
                    .into_iter()
                    .map(|(name, label, value)| BounceCounter { name, label, value: value.max(0) as u64 })
                    .collect())
            }

            async fn delivery_of(&self, issue: IssueId, subscriber: SubscriberId) -> Result<Option<DeliveryRef>, StoreError> {
                let row: Option<(i64, i64, i64, bool)> = sqlx::query_as(
                    "SELECT id, issue_id, subscriber_id, sent_at IS NOT NULL FROM deliveries
                     WHERE issue_id = $1 AND subscriber_id = $2",
                )
                .bind(issue.get())
                .bind(subscriber.get())
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(rows::delivery_ref))
            }

            async fn claim_bounce_answer(
                &self,
                id: SubscriberId,
                mail: &NewMail,
                now: DateTime<Utc>,
                not_since: DateTime<Utc>,
            ) -> Result<Option<MailId>, StoreError> {
                let mut tx = self.pool.begin().await?;
                // One statement: the row is created, or moved on only when the last answer
                // is old enough; a concurrent claim sees the new time and gets nothing.
                let claimed: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO bounce_answers (subscriber_id, last_sent_at) VALUES ($1, $2)
                     ON CONFLICT (subscriber_id) DO UPDATE SET last_sent_at = excluded.last_sent_at
                     WHERE bounce_answers.last_sent_at <= $3
                     RETURNING subscriber_id",
                )
                .bind(id.get())
                .bind(now)
                .bind(not_since)
                .fetch_optional(&mut *tx)
                .await?;
                // The answer is queued with the claim: taken and promised, or neither.
                let queued = match claimed {
                    Some(_) => Some(insert_mail(&mut tx, Recipient::Subscriber(id), mail, now).await?),
                    None => None,
                };
                tx.commit().await?;
                Ok(queued)
            }

            async fn bounce_reports(&self, limit: u32) -> Result<Vec<BounceRecord>, StoreError> {
                sqlx::query_as::<_, rows::BounceRow>(
                    "SELECT message_hash, received_at, source, kind, subscriber_id, delivery_id, status_code,
                            reason, diagnostic, action, attribution, parsed
                     FROM bounce_reports ORDER BY id DESC LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(BounceRecord::try_from)
                .collect()
            }

            async fn bounce_report_exists(&self, message_hash: &str) -> Result<bool, StoreError> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bounce_reports WHERE message_hash = $1")
                    .bind(message_hash)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }

            async fn bounce_report_counts(&self, since: DateTime<Utc>) -> Result<Vec<BounceCount>, StoreError> {
                let rows: Vec<(Option<String>, String, i64)> = sqlx::query_as(
                    "SELECT kind, action, COUNT(*) FROM bounce_reports WHERE received_at >= $1
                     GROUP BY kind, action ORDER BY kind, action",
                )
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(kind, action, n)| {
                        Ok(BounceCount { kind: kind.map(|k| k.parse()).transpose()?, action, count: n as u64 })
                    })
                    .collect()
            }

            async fn delivery_ref(&self, id: DeliveryId) -> Result<Option<DeliveryRef>, StoreError> {
                let row: Option<(i64, i64, i64, bool)> = sqlx::query_as(
                    "SELECT id, issue_id, subscriber_id, sent_at IS NOT NULL FROM deliveries WHERE id = $1",
                )
                .bind(id.get())
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(rows::delivery_ref))
            }

            /// One statement, so two ingesters counting at once cannot lose an increment.
            async fn add_soft_bounce(
                &self,
                id: SubscriberId,
                now: DateTime<Utc>,
                forget_before: DateTime<Utc>,
                count_before: DateTime<Utc>,
            ) -> Result<Option<f64>, StoreError> {
                Ok(sqlx::query_scalar(
                    "UPDATE subscribers SET
                        soft_bounce_score = CASE
                            WHEN last_bounce_at IS NULL OR last_bounce_at < $3 THEN 1
                            WHEN last_bounce_at <= $4 THEN soft_bounce_score + 1
                            ELSE soft_bounce_score END,
                        last_bounce_at = CASE
                            WHEN last_bounce_at IS NULL OR last_bounce_at < $3 OR last_bounce_at <= $4 THEN $2
                            ELSE last_bounce_at END,
                        updated_at = $2
                     WHERE id = $1
                     RETURNING soft_bounce_score",
                )
                .bind(id.get())
                .bind(now)
                .bind(forget_before)
                .bind(count_before)
                .fetch_optional(&self.pool)
                .await?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::app::ports::KeyStore for $store {
            $($keys_own)*

            async fn suppression_salt(&self) -> Result<String, StoreError> {
                self.meta_get_or_init(super::keys::META_SUPPRESSION_SALT, &super::keys::random_key()).await
            }

            async fn meta_get_or_init(&self, key: &str, value: &str) -> Result<String, StoreError> {
                sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
                    .bind(key)
                    .bind(value)
                    .execute(&self.pool)
                    .await?;
                Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                    .bind(key)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(key)
                .bind(value)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }


        /// Adds each step to its stored counter, in the caller's transaction.
        async fn add_counters(
            tx: &mut sqlx::Transaction<'_, $db>,
            counts: &[$crate::app::ports::CounterStep<'_>],
        ) -> Result<(), StoreError> {
            for (name, label, by) in counts {
                sqlx::query(
                    "INSERT INTO bounce_counters (name, label, value) VALUES ($1, $2, $3)
                     ON CONFLICT (name, label) DO UPDATE SET value = bounce_counters.value + excluded.value",
                )
                .bind(*name)
                .bind(*label)
                .bind(i64::try_from(*by).unwrap_or(i64::MAX))
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }

        async fn insert_consent(
            tx: &mut sqlx::Transaction<'_, $db>,
            subscriber: SubscriberId,
            c: &Consent,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO consent_records (subscriber_id, method, form_at, confirmed_at, ip, user_agent, page_lang, text_hash, text_version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(subscriber.get())
            .bind(c.method.as_str())
            .bind(c.form_at)
            .bind(c.confirmed_at)
            .bind(c.ip.as_deref())
            .bind(c.user_agent.as_deref())
            .bind(c.page_lang.map(|l| l.as_str()))
            .bind(c.text_hash.as_deref())
            .bind(c.text_version.as_deref())
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Both languages' content of an issue, inserted or replaced, in the caller's
        /// transaction. A language's `updated_at` moves only when its text changes (the
        /// stale-translation warning compares them).
        async fn write_contents(
            tx: &mut sqlx::Transaction<'_, $db>,
            id: IssueId,
            ja: &IssueContent,
            en: &IssueContent,
            now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            for (lang, c) in [(Lang::Ja, ja), (Lang::En, en)] {
                sqlx::query(
                    "INSERT INTO issue_contents (issue_id, lang, subject, preheader, markdown, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (issue_id, lang) DO UPDATE
                     SET subject = excluded.subject, preheader = excluded.preheader, markdown = excluded.markdown,
                         updated_at = excluded.updated_at
                     WHERE issue_contents.subject <> excluded.subject
                        OR issue_contents.markdown <> excluded.markdown
                        OR COALESCE(issue_contents.preheader, '') <> COALESCE(excluded.preheader, '')
                        OR issue_contents.updated_at IS NULL",
                )
                .bind(id.get())
                .bind(lang.as_str())
                .bind(&c.subject)
                .bind(c.preheader.as_deref())
                .bind(&c.markdown)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }

        /// One `UPDATE … FROM (VALUES …)` for up to `RECORD_CHUNK` leased outcomes: a row
        /// changes only while its owner still holds the lease (or it is a `sent` for a
        /// delivery skipped meanwhile). Returns the ids that changed.
        async fn record_leased_chunk<'e, E>(
            executor: E,
            chunk: &[$crate::app::ports::LeasedOutcome],
            now: DateTime<Utc>,
        ) -> Result<Vec<i64>, StoreError>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let sql = format!(
                "UPDATE deliveries SET state = v.column2, attempts = deliveries.attempts + v.column3,
                    next_attempt_at = v.column4, sent_at = COALESCE(v.column5, deliveries.sent_at),
                    last_reply = v.column6, lease_owner = NULL, lease_expires_at = NULL, updated_at = $1
                 FROM (VALUES {}) AS v WHERE deliveries.id = v.column1
                   AND ((deliveries.state = 'sending' AND deliveries.lease_owner = v.column7)
                        OR (deliveries.state = 'skipped' AND v.column2 = 'sent'))
                 RETURNING deliveries.id",
                super::values_rows(2, 7, chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(now);
            for o in chunk {
                let (reply, next_at, sent_at, counts_attempt) = super::outcome_columns(&o.outcome, now);
                query = query
                    .bind(o.id.get())
                    .bind(o.outcome.state().as_str())
                    .bind(i32::from(counts_attempt))
                    .bind(next_at)
                    .bind(sent_at)
                    .bind(reply)
                    .bind(&*o.owner);
            }
            Ok(query.fetch_all(executor).await?)
        }

        /// A subscriber who stops receiving mail has their open deliveries skipped, in the
        /// caller's transaction, so no worker picks them up after the change returns.
        async fn skip_open_deliveries(
            tx: &mut sqlx::Transaction<'_, $db>,
            subscriber: SubscriberId,
            why: &str,
            now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "UPDATE deliveries SET state = 'skipped', last_reply = $2, updated_at = $3,
                    lease_owner = NULL, lease_expires_at = NULL
                 WHERE subscriber_id = $1 AND state IN ('pending', 'retry', 'sending')",
            )
            .bind(subscriber.get())
            .bind(format!("subscriber {why}"))
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }
    };
}
use storage_impl;
