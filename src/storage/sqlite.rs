//! The SQLite adapter: the embedded default. WAL mode with a busy timeout, so `kairan serve`
//! and a CLI command can use one file at once; foreign keys on.
//!
//! Depends on the ports and the domain (shared SQL in `mod.rs`).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{outbox_impl, placeholders, rows, storage_impl};
use crate::app::ports::keys::GeneratedKey;
use crate::app::ports::{Changed, MailLeaseHolder, MailRecord, StoreError, SubscriberQuery};
use crate::domain::*;

/// Embedded at build time, so an installed binary migrates from any directory.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    /// Where a generated signing key is kept: next to the database file (none in memory).
    key_file: Option<std::path::PathBuf>,
    /// The dispatcher's recorder's connection (`ledger.rs`).
    ledger: super::ledger::LedgerConn<sqlx::Sqlite>,
}

impl SqliteStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only a power loss
            // can lose the last commits, which the lease/resume logic then re-sends.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.clamp(1, 16))
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            pool,
            key_file: super::keys::key_file_for(url),
            ledger: super::ledger::LedgerConn::new(),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn before_close(&self) {}

    /// The ledger connection's settings (`ledger.rs`): the pool's (WAL, `synchronous = NORMAL`),
    /// but it leaves the WAL checkpoints to the other connections. A checkpoint runs in the
    /// commit that finds the WAL past 1,000 pages and syncs the database file: on the
    /// ledger's connection every worker would wait for it (measured: a few milliseconds,
    /// about once per 500 commits, each time all eight workers stalled). The workers' claims,
    /// made ahead in the background, and every other writer checkpoint as before.
    const LEDGER_SETUP: Option<&'static str> = Some("PRAGMA wal_autocheckpoint = 0");
}

storage_impl!(SqliteStore, sqlx::Sqlite,
    store {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(|e| {
            StoreError::Other(anyhow::Error::new(e).context("applying SQLite migrations"))
        })
    }
    }
    issues {
    /// One SQLite file is one scheduler: campaigns start by compare-and-set, so a CLI
    /// command racing the daemon cannot start one twice.
    async fn try_scheduler_lock(&self) -> Result<bool, StoreError> {
        Ok(true)
    }
    }
    deliveries {
    /// One `UPDATE … RETURNING` statement takes the rows (a write transaction of its own, so
    /// the busy timeout applies and there is no read-to-write upgrade); the subscribers are
    /// read after it, outside the write lock, which every other writer — the ledger's
    /// commits above all — waits for. Should that read fail, the rows are leased to `owner`
    /// and its next claim takes them again.
    async fn claim_deliveries(
        &self,
        issue: IssueId,
        owner: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            // One branch per claimable state, each an ordered range of the
            // (issue_id, state, id) index: with the three states OR-ed in one WHERE, SQLite
            // read every delivery of the issue and sorted them, per claim (O(N) each: 3,600
            // msg/s at 1,000,000 subscribers). The first $5 by id are the same rows.
            "UPDATE deliveries SET state = 'sending', lease_owner = $1, lease_expires_at = $2, updated_at = $3
             WHERE id IN (
                SELECT id FROM (SELECT id FROM deliveries WHERE issue_id = $4 AND state = 'pending'
                                ORDER BY id LIMIT $5)
                UNION ALL
                SELECT id FROM (SELECT id FROM deliveries
                                WHERE issue_id = $4 AND state = 'retry' AND next_attempt_at <= $3
                                ORDER BY id LIMIT $5)
                UNION ALL
                SELECT id FROM (SELECT id FROM deliveries
                                WHERE issue_id = $4 AND state = 'sending' AND lease_expires_at <= $3
                                ORDER BY id LIMIT $5)
                UNION
                SELECT id FROM (SELECT id FROM deliveries
                                WHERE issue_id = $4 AND state = 'sending' AND lease_owner = $1
                                ORDER BY id LIMIT $5)
                ORDER BY id LIMIT $5)
             RETURNING id",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(issue.get())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT d.id, d.issue_id, d.subscriber_id, d.lang, d.attempts, s.email, s.name, s.status AS subscriber_status
             FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
             WHERE d.id IN ({}) ORDER BY d.id",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query_as::<_, rows::ClaimRow>(sqlx::AssertSqlSafe(sql));
        for id in &ids {
            query = query.bind(id);
        }
        let claimed = query.fetch_all(&self.pool).await?;
        claimed.into_iter().map(ClaimedDelivery::try_from).collect()
    }
    }
    keys {
        /// The key file next to the database; an in-memory database keeps it in `meta`.
        async fn generated_signing_key(&self) -> Result<GeneratedKey, StoreError> {
            match &self.key_file {
                Some(path) => super::keys::from_file(path),
                None => super::keys::from_meta(
                    self.meta_get_or_init(super::keys::META_SIGNING_KEY, &super::keys::random_key())
                        .await,
                ),
            }
        }
    }
);

outbox_impl!(SqliteStore, sqlx::Sqlite, claim {
    /// One write statement, as for deliveries: an index range for due pending mails, one for
    /// expired leases.
    async fn claim_mails(
        &self,
        owner: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<QueuedMail>, StoreError> {
        sqlx::query_as::<_, super::outbox::MailRow>(sqlx::AssertSqlSafe(format!(
            "UPDATE mail_outbox SET state = 'sending', lease_owner = $1, lease_expires_at = $2, updated_at = $3
             WHERE id IN (
                SELECT id FROM (SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= $3
                                ORDER BY next_attempt_at LIMIT $4)
                UNION ALL
                SELECT id FROM (SELECT id FROM mail_outbox WHERE state = 'sending' AND lease_expires_at <= $3
                                ORDER BY lease_expires_at LIMIT $4)
                LIMIT $4)
             RETURNING {}",
            super::outbox::MAIL_COLUMNS
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

super::webhooks::webhook_store_impl!(SqliteStore);

super::users::user_store_impl!(SqliteStore, sqlx::Sqlite);
super::reader_limits::reader_limit_store_impl!(SqliteStore);
super::editorial::editorial_store_impl!(
    SqliteStore,
    "substr(email_key, instr(email_key, '@') + 1)"
);
super::import::import_store_impl!(SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE");

/// `VACUUM INTO` a temporary name next to `out` (a consistent snapshot while the database is
/// in use, in one statement), then the key file copied the same way, then both renamed into
/// place: a failure leaves neither.
#[async_trait::async_trait]
impl crate::app::ports::BackupStore for SqliteStore {
    async fn backup_into(
        &self,
        out: &std::path::Path,
    ) -> Result<crate::app::ports::BackupWritten, StoreError> {
        use anyhow::Context as _;
        let key_out = std::path::PathBuf::from(format!("{}.key", out.display()));
        for p in [out, key_out.as_path()] {
            if p.exists() {
                return Err(StoreError::Conflict(format!("the file {}", p.display())));
            }
        }
        let tmp = std::path::PathBuf::from(format!("{}.partial", out.display()));
        let key_tmp = std::path::PathBuf::from(format!("{}.key.partial", out.display()));
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_file(&key_tmp);
        let cleanup = |e: StoreError| {
            let _ = std::fs::remove_file(&tmp);
            let _ = std::fs::remove_file(&key_tmp);
            e
        };
        let tmp_str = tmp.to_str().ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!("the path {} is not UTF-8", out.display()))
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(tmp_str)
            .execute(&self.pool)
            .await
            .map_err(|e| cleanup(StoreError::from(e)))?;
        let private = |p: &std::path::Path| -> Result<(), StoreError> {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("cannot make {} owner-only", p.display()))?;
            }
            let _ = p;
            Ok(())
        };
        private(&tmp).map_err(cleanup)?;
        let key = match &self.key_file {
            Some(k) if k.exists() => {
                std::fs::copy(k, &key_tmp)
                    .with_context(|| format!("cannot copy the signing key file {}", k.display()))
                    .map_err(|e| cleanup(StoreError::Other(e)))?;
                private(&key_tmp).map_err(cleanup)?;
                Some(key_out)
            }
            _ => None,
        };
        if let Some(k) = &key {
            std::fs::rename(&key_tmp, k)
                .with_context(|| format!("cannot write {}", k.display()))
                .map_err(|e| cleanup(StoreError::Other(e)))?;
        }
        std::fs::rename(&tmp, out)
            .with_context(|| format!("cannot write {}", out.display()))
            .map_err(|e| {
                if let Some(k) = &key {
                    let _ = std::fs::remove_file(k);
                }
                cleanup(StoreError::Other(e))
            })?;
        Ok(crate::app::ports::BackupWritten {
            database: out.to_owned(),
            key_file: key,
        })
    }
}

super::console::console_store_impl!(SqliteStore);
