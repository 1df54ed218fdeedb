//! The ledger's own connection: the dispatcher's recorder commits a group of outcomes every
//! few milliseconds, and a pooled connection costs two more round trips per commit (the
//! pool pings a connection when it is taken and when it is given back). The recorder keeps
//! one connection instead; a connection that failed is dropped (the pool then closes it) and
//! the next commit takes a fresh one. Given back before the pool closes.
//!
//! Depends on sqlx only.

use sqlx::pool::PoolConnection;

/// A connection held for the ledger's commits, when the pool has room for one.
pub(super) struct LedgerConn<DB: sqlx::Database> {
    held: tokio::sync::Mutex<Option<PoolConnection<DB>>>,
}

impl<DB: sqlx::Database> LedgerConn<DB> {
    pub(super) fn new() -> Self {
        LedgerConn {
            held: tokio::sync::Mutex::new(None),
        }
    }

    /// The held connection (taken from `pool` on first use), or `None` when the pool is too
    /// small to spare one (an in-memory SQLite database has a single connection).
    pub(super) async fn lock(
        &self,
        pool: &sqlx::Pool<DB>,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<PoolConnection<DB>>>, sqlx::Error> {
        let mut held = self.held.lock().await;
        if held.is_none() && pool.options().get_max_connections() >= 4 {
            *held = Some(pool.acquire().await?);
        }
        Ok(held)
    }

    /// Gives the connection back (before the pool closes, which waits for every connection).
    pub(super) async fn release(&self) {
        self.held.lock().await.take();
    }
}
