//! The import port (`app::ports::ImportStore`) on both backends: a batch of an operator's
//! registrations in one transaction, with set-wise statements (one look-up of the addresses
//! already on the list, one of the suppressed ones, multi-row inserts of subscribers and
//! consent records, one update for the confirmed). The SQL is the same text on SQLite and
//! PostgreSQL, written once here and expanded by `sqlite.rs` / `postgres.rs`; `$begin` is how
//! each starts a write transaction (SQLite takes the write lock first, so a concurrent writer
//! means waiting on the busy timeout, never a failed upgrade from a read).
//!
//! Depends on the ports and sqlx.

/// Rows per multi-row statement: 10 parameters a subscriber, well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bound parameters.
pub(super) const IMPORT_CHUNK: usize = 500;

/// SQLite looks a numbered parameter's name up by walking every name of the statement
/// (`sqlite3_bind_parameter_name`, which sqlx calls for each parameter it binds), so binding
/// a 5,000-parameter `$N` statement is quadratic: it was 70 % of an import's time. Bare `?`
/// parameters have no name and bind in order. A statement written with [`list`] / [`rows`]
/// has no other parameter, so the two forms bind the same values.
pub(super) fn list(anonymous: bool, n: usize) -> String {
    if anonymous {
        vec!["?"; n].join(", ")
    } else {
        super::placeholders(1, n)
    }
}

/// `n` rows of `cols` parameters for a `VALUES` list, numbered from 1 (or bare on SQLite).
pub(super) fn rows(anonymous: bool, cols: usize, n: usize) -> String {
    if anonymous {
        let row = format!("({})", list(true, cols));
        vec![row; n].join(", ")
    } else {
        super::values_rows(1, cols, n)
    }
}

/// `impl ImportStore for $store`, where `$store` has a `pool` field and the module has the
/// storage helpers `insert_mail` and `values_rows`.
macro_rules! import_store_impl {
    ($store:ty, $db:ty, $begin:expr) => {
        #[async_trait::async_trait]
        impl $crate::app::ports::ImportStore for $store {
            async fn register_batch(
                &self,
                rows: &[$crate::app::ports::BatchRow],
            ) -> Result<Vec<$crate::app::ports::BatchOutcome>, StoreError> {
                use std::collections::{HashMap, HashSet};
                use $crate::app::ports::BatchOutcome;
                use super::import::IMPORT_CHUNK;
                let anonymous = <$db as sqlx::Database>::NAME == "SQLite";
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.pool.begin_with($begin).await?;
                // Addresses already on the list.
                let keys: Vec<String> = rows.iter().map(|r| r.subscriber.email.key()).collect();
                let mut existing: HashMap<String, (i64, SubscriberStatus)> = HashMap::new();
                for chunk in keys.chunks(IMPORT_CHUNK) {
                    let sql = format!(
                        "SELECT id, email_key, status FROM subscribers WHERE email_key IN ({})",
                        super::import::list(anonymous, chunk.len())
                    );
                    let mut q = sqlx::query_as::<_, (i64, String, String)>(sqlx::AssertSqlSafe(sql));
                    for k in chunk {
                        q = q.bind(k);
                    }
                    for (id, key, status) in q.fetch_all(&mut *tx).await? {
                        existing.insert(key, (id, status.parse()?));
                    }
                }
                // Suppressed addresses among the new ones.
                let hashes: Vec<&str> = rows
                    .iter()
                    .zip(&keys)
                    .filter(|(_, k)| !existing.contains_key(*k))
                    .map(|(r, _)| r.address_hash.as_str())
                    .collect();
                let mut suppressed: HashSet<String> = HashSet::new();
                for chunk in hashes.chunks(IMPORT_CHUNK) {
                    let sql = format!(
                        "SELECT address_hash FROM suppressions WHERE address_hash IN ({})",
                        super::import::list(anonymous, chunk.len())
                    );
                    let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
                    for h in chunk {
                        q = q.bind(*h);
                    }
                    suppressed.extend(q.fetch_all(&mut *tx).await?);
                }
                // Which row inserts, which confirms; the first row of an address decides.
                let mut first: HashSet<&str> = HashSet::new();
                let mut to_insert: Vec<usize> = Vec::new();
                let mut to_confirm: Vec<i64> = Vec::new();
                for (i, (r, k)) in rows.iter().zip(&keys).enumerate() {
                    if !first.insert(k.as_str()) {
                        continue;
                    }
                    match existing.get(k) {
                        None if !suppressed.contains(&r.address_hash) => to_insert.push(i),
                        Some((id, SubscriberStatus::Pending))
                            if r.subscriber.status == SubscriberStatus::Active =>
                        {
                            to_confirm.push(*id)
                        }
                        _ => {}
                    }
                }
                let now = rows[0].subscriber.now;
                // New subscribers, then their consent records.
                let mut inserted: HashMap<String, i64> = HashMap::new();
                for chunk in to_insert.chunks(IMPORT_CHUNK) {
                    let sql = format!(
                        "INSERT INTO subscribers (email, email_key, name, lang, status, source, created_at,
                            updated_at, confirmed_at, confirmation_sent_at)
                         VALUES {}
                         ON CONFLICT (email_key) DO NOTHING
                         RETURNING id, email_key",
                        super::import::rows(anonymous, 10, chunk.len())
                    );
                    let mut q = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql));
                    for &i in chunk {
                        let r = &rows[i];
                        let s = &r.subscriber;
                        q = q
                            .bind(s.email.as_str())
                            .bind(&keys[i])
                            .bind(s.name.as_deref())
                            .bind(s.lang.as_str())
                            .bind(s.status.as_str())
                            .bind(s.consent.method.as_str())
                            .bind(s.now)
                            .bind(s.now)
                            .bind(s.consent.confirmed_at)
                            .bind(r.confirmation.as_ref().map(|_| s.now));
                    }
                    inserted.extend(q.fetch_all(&mut *tx).await?.into_iter().map(|(id, k)| (k, id)));
                    let added: Vec<(i64, usize)> = chunk
                        .iter()
                        .filter_map(|&i| inserted.get(&keys[i]).map(|&id| (id, i)))
                        .collect();
                    if added.is_empty() {
                        continue;
                    }
                    let sql = format!(
                        "INSERT INTO consent_records (subscriber_id, method, form_at, confirmed_at, ip,
                            user_agent, page_lang, text_hash, text_version)
                         VALUES {}",
                        super::import::rows(anonymous, 9, added.len())
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for &(id, i) in &added {
                        let c = &rows[i].subscriber.consent;
                        q = q
                            .bind(id)
                            .bind(c.method.as_str())
                            .bind(c.form_at)
                            .bind(c.confirmed_at)
                            .bind(c.ip.as_deref())
                            .bind(c.user_agent.as_deref())
                            .bind(c.page_lang.map(|l| l.as_str()))
                            .bind(c.text_hash.as_deref())
                            .bind(c.text_version.as_deref());
                    }
                    q.execute(&mut *tx).await?;
                }
                // An address another process inserted since the look-up is on the list now.
                let raced: Vec<&String> = to_insert
                    .iter()
                    .map(|&i| &keys[i])
                    .filter(|k| !inserted.contains_key(*k))
                    .collect();
                for chunk in raced.chunks(IMPORT_CHUNK) {
                    let sql = format!(
                        "SELECT id, email_key, status FROM subscribers WHERE email_key IN ({})",
                        super::import::list(anonymous, chunk.len())
                    );
                    let mut q = sqlx::query_as::<_, (i64, String, String)>(sqlx::AssertSqlSafe(sql));
                    for k in chunk {
                        q = q.bind(*k);
                    }
                    for (id, key, status) in q.fetch_all(&mut *tx).await? {
                        existing.insert(key, (id, status.parse()?));
                    }
                }
                // Confirmations of the new pending subscribers.
                let mut mails: HashMap<i64, MailId> = HashMap::new();
                for &i in &to_insert {
                    let (Some(m), Some(&id)) = (&rows[i].confirmation, inserted.get(&keys[i])) else {
                        continue;
                    };
                    let mail =
                        insert_mail(&mut tx, Recipient::Subscriber(SubscriberId::new(id)), m, now).await?;
                    mails.insert(id, mail);
                }
                // Pending subscribers an operator says are confirmed.
                let mut confirmed: HashSet<i64> = HashSet::new();
                for chunk in to_confirm.chunks(IMPORT_CHUNK) {
                    let sql = format!(
                        "UPDATE subscribers SET status = 'active', confirmed_at = $1, updated_at = $1
                         WHERE status = 'pending' AND id IN ({}) RETURNING id",
                        super::placeholders(2, chunk.len())
                    );
                    let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(now);
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    let done = q.fetch_all(&mut *tx).await?;
                    if !done.is_empty() {
                        let sql = format!(
                            "UPDATE consent_records SET confirmed_at = $1
                             WHERE confirmed_at IS NULL AND subscriber_id IN ({})",
                            super::placeholders(2, done.len())
                        );
                        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
                        for id in &done {
                            q = q.bind(*id);
                        }
                        q.execute(&mut *tx).await?;
                    }
                    confirmed.extend(done);
                }
                tx.commit().await?;
                // One outcome per row, in order.
                let mut seen: HashMap<&str, BatchOutcome> = HashMap::new();
                let mut out = Vec::with_capacity(rows.len());
                for (r, k) in rows.iter().zip(&keys) {
                    if let Some(prev) = seen.get(k.as_str()) {
                        out.push(match *prev {
                            BatchOutcome::Created { id, .. } => BatchOutcome::Unchanged {
                                id,
                                status: r.subscriber.status,
                            },
                            BatchOutcome::Confirmed { id } => BatchOutcome::Unchanged {
                                id,
                                status: SubscriberStatus::Active,
                            },
                            other => other,
                        });
                        continue;
                    }
                    let outcome = match (existing.get(k), inserted.get(k)) {
                        (_, Some(&id)) => BatchOutcome::Created {
                            id: SubscriberId::new(id),
                            mail: mails.get(&id).copied(),
                        },
                        (Some(&(id, _)), None) if confirmed.contains(&id) => {
                            BatchOutcome::Confirmed { id: SubscriberId::new(id) }
                        }
                        (Some(&(id, status)), None) => {
                            BatchOutcome::Unchanged { id: SubscriberId::new(id), status }
                        }
                        (None, None) => BatchOutcome::Suppressed,
                    };
                    seen.insert(k.as_str(), outcome);
                    out.push(outcome);
                }
                Ok(out)
            }
        }
    };
}
pub(super) use import_store_impl;
