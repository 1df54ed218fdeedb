//! The ledger's own connection: the dispatcher's recorder commits a group of outcomes every
//! few milliseconds, and a pooled connection costs two more round trips per commit (the
//! pool pings a connection when it is taken and when it is given back). The recorder keeps
//! one connection instead; a connection that failed is dropped (the pool then closes it) and
//! the next commit takes a fresh one. Given back before the pool closes.
//!
//! On PostgreSQL this connection commits with `synchronous_commit = off` (the SQLite analogue
//! is WAL with `synchronous = NORMAL`): a commit is durable once the server has it, so it
//! survives kairan being killed and a clean server restart, but a crash of the server itself
//! (or a power loss) can lose its last ~0.6 s of outcomes, whose deliveries are then sent
//! again. The setting is the connection's own: it is closed, never handed back to the pool.
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
        setup: Option<&'static str>,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<PoolConnection<DB>>>, sqlx::Error>
    where
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    {
        let mut held = self.held.lock().await;
        if held.is_none() && pool.options().get_max_connections() >= 4 {
            let mut conn = pool.acquire().await?;
            if let Some(sql) = setup {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *conn)
                    .await?;
            }
            *held = Some(conn);
        }
        Ok(held)
    }

    /// Closes the held connection (after an error, or before the pool closes, which waits
    /// for every connection); it never goes back to the pool with the ledger's settings.
    pub(super) fn drop_held(held: &mut Option<PoolConnection<DB>>) {
        if let Some(conn) = held.take() {
            drop(conn.detach());
        }
    }

    pub(super) async fn release(&self) {
        Self::drop_held(&mut *self.held.lock().await);
    }
}
