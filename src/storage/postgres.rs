//! The PostgreSQL adapter: for several `kairan serve` processes on one database. Batches are
//! claimed with `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on each other's
//! rows and never take the same row twice.
//!
//! Depends on the ports and the domain (shared SQL in `mod.rs`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{outbox_impl, placeholders, rows, storage_impl};
use crate::app::ports::keys::GeneratedKey;
use crate::app::ports::{Changed, MailLeaseHolder, MailRecord, StoreError, SubscriberQuery};
use crate::domain::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub struct PgStore {
    pool: PgPool,
    /// The connection holding the scheduler's advisory lock, once this process has it.
    scheduler_lock: tokio::sync::Mutex<Option<sqlx::pool::PoolConnection<sqlx::Postgres>>>,
    /// The dispatcher's recorder's connection (`ledger.rs`).
    ledger: super::ledger::LedgerConn<sqlx::Postgres>,
}

/// The advisory lock key of the scheduler ("kairan" in ASCII).
const SCHEDULER_LOCK_KEY: i64 = 0x6b61_6972_616e;

impl PgStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(PgStore {
            pool,
            scheduler_lock: tokio::sync::Mutex::new(None),
            ledger: super::ledger::LedgerConn::new(),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The ledger connection's settings (`ledger.rs`): durable once the server has the commit.
    const LEDGER_SETUP: Option<&'static str> = Some("SET synchronous_commit = off");

    /// Gives back the scheduler lock's connection, so closing the pool does not wait on it.
    async fn before_close(&self) {
        if let Some(mut conn) = self.scheduler_lock.lock().await.take() {
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(SCHEDULER_LOCK_KEY)
                .execute(&mut *conn)
                .await;
        }
    }
}

storage_impl!(PgStore, sqlx::Postgres,
    store {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(|e| {
            StoreError::Other(anyhow::Error::new(e).context("applying PostgreSQL migrations"))
        })
    }
    }
    issues {
    /// Leader election by a session advisory lock: the first instance to take it keeps it
    /// on a dedicated connection for its lifetime; when that process dies its connection
    /// closes, the lock is released, and another instance takes over on its next pass.
    async fn try_scheduler_lock(&self) -> Result<bool, StoreError> {
        let mut held = self.scheduler_lock.lock().await;
        if let Some(conn) = held.as_mut() {
            if sqlx::query("SELECT 1").execute(&mut **conn).await.is_ok() {
                return Ok(true);
            }
            // The connection died and took the lock with it; try again below.
            *held = None;
        }
        let mut conn = self.pool.acquire().await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(SCHEDULER_LOCK_KEY)
            .fetch_one(&mut *conn)
            .await?;
        if got {
            tracing::info!("this instance now runs the scheduler (PostgreSQL advisory lock)");
            *held = Some(conn);
        }
        Ok(got)
    }
    }
    deliveries {
    async fn claim_deliveries(
        &self,
        issue: IssueId,
        owner: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        sqlx::query_as::<_, rows::ClaimRow>(
            "WITH due AS (
                SELECT id FROM deliveries
                WHERE issue_id = $4
                  AND (state = 'pending'
                       OR (state = 'retry' AND next_attempt_at <= $3)
                       OR (state = 'sending' AND (lease_expires_at <= $3 OR lease_owner = $1)))
                ORDER BY id LIMIT $5
                FOR UPDATE SKIP LOCKED
             ), claimed AS (
                UPDATE deliveries d SET state = 'sending', lease_owner = $1, lease_expires_at = $2, updated_at = $3
                FROM due WHERE d.id = due.id
                RETURNING d.id, d.issue_id, d.subscriber_id, d.lang, d.attempts
             )
             SELECT c.id, c.issue_id, c.subscriber_id, c.lang, c.attempts, s.email, s.name, s.status AS subscriber_status
             FROM claimed c JOIN subscribers s ON s.id = c.subscriber_id
             ORDER BY c.id",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(issue.get())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(ClaimedDelivery::try_from)
        .collect()
    }
    }
    keys {
        /// In `meta`, so every instance on the database shares it.
        async fn generated_signing_key(&self) -> Result<GeneratedKey, StoreError> {
            super::keys::from_meta(
                self.meta_get_or_init(super::keys::META_SIGNING_KEY, &super::keys::random_key())
                    .await,
            )
        }
    }
);

outbox_impl!(PgStore, sqlx::Postgres, claim {
    /// `SKIP LOCKED`: several instances' senders never wait on, or take, the same mail.
    async fn claim_mails(
        &self,
        owner: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<QueuedMail>, StoreError> {
        sqlx::query_as::<_, super::outbox::MailRow>(sqlx::AssertSqlSafe(format!(
            "WITH due AS (
                SELECT id FROM mail_outbox
                WHERE (state = 'pending' AND next_attempt_at <= $3)
                   OR (state = 'sending' AND lease_expires_at <= $3)
                ORDER BY id LIMIT $4
                FOR UPDATE SKIP LOCKED
             )
             UPDATE mail_outbox m SET state = 'sending', lease_owner = $1, lease_expires_at = $2, updated_at = $3
             FROM due WHERE m.id = due.id
             RETURNING {}",
            super::outbox::MAIL_COLUMNS
                .split(", ")
                .map(|c| format!("m.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(QueuedMail::try_from)
        .collect()
    }
});

super::webhooks::webhook_store_impl!(PgStore);

super::users::user_store_impl!(PgStore, sqlx::Postgres);
super::reader_limits::reader_limit_store_impl!(PgStore);
super::editorial::editorial_store_impl!(PgStore, "split_part(email_key, '@', 2)");
super::import::import_store_impl!(PgStore, sqlx::Postgres, "BEGIN");

/// A PostgreSQL database is backed up with the server's own tools.
#[async_trait::async_trait]
impl crate::app::ports::BackupStore for PgStore {
    async fn backup_into(
        &self,
        _out: &std::path::Path,
    ) -> Result<crate::app::ports::BackupWritten, StoreError> {
        Err(StoreError::Other(anyhow::anyhow!(
            "kairan backup copies a SQLite database; back up PostgreSQL with its own tools: \
             `pg_dump --format=custom --file=kairan.dump DATABASE_URL`, restored with \
             `pg_restore --clean --if-exists --no-owner --dbname=DATABASE_URL kairan.dump` \
             (docs/operating.md, \"Backup and restore\"); the generated signing key is in the \
             database (meta table), so the dump carries it"
        )))
    }
}

super::console::console_store_impl!(PgStore);
