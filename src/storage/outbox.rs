//! The outbox port (`app::ports::outbox`) on both backends: queued transactional mail, the
//! sender's leased claims and recorded outcomes. [`outbox_impl!`] expands, in each backend's
//! module, the port's impl (with that backend's own claim query passed in) and two helpers the
//! subscriber changes call inside their own transactions: `insert_mail`, which queues a mail
//! in the caller's transaction (that is what makes the outbox transactional), and
//! `cancel_mails`.
//!
//! Depends on the ports, the domain and sqlx, like the rest of `storage`.

use chrono::{DateTime, Utc};

use crate::app::ports::{MailRecord, StoreError};
use crate::domain::{MailId, QueuedMail, Recipient};

/// The columns a claim returns, in [`MailRow`]'s order.
pub(super) const MAIL_COLUMNS: &str =
    "id, kind, recipient_kind, recipient_id, lang, payload, attempts, created_at";

#[derive(sqlx::FromRow)]
pub(super) struct MailRow {
    id: i64,
    kind: String,
    recipient_kind: String,
    recipient_id: i64,
    lang: String,
    payload: String,
    attempts: i32,
    created_at: DateTime<Utc>,
}

impl TryFrom<MailRow> for QueuedMail {
    type Error = StoreError;
    fn try_from(r: MailRow) -> Result<Self, StoreError> {
        Ok(QueuedMail {
            id: MailId::new(r.id),
            kind: r.kind.parse()?,
            recipient: Recipient::from_parts(r.recipient_kind.parse()?, r.recipient_id),
            lang: r.lang.parse()?,
            payload: r.payload,
            attempts: r.attempts.max(0) as u32,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct MailRecordRow {
    #[sqlx(flatten)]
    mail: MailRow,
    state: String,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    sent_at: Option<DateTime<Utc>>,
}

impl TryFrom<MailRecordRow> for MailRecord {
    type Error = StoreError;
    fn try_from(r: MailRecordRow) -> Result<Self, StoreError> {
        Ok(MailRecord {
            mail: r.mail.try_into()?,
            state: r.state.parse()?,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            sent_at: r.sent_at,
        })
    }
}

/// The outbox port for `$store` on `$db`; `claim { … }` is the backend's `claim_mails`.
macro_rules! outbox_impl {
    ($store:ty, $db:ty, claim { $($claim_own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::app::ports::OutboxStore for $store {
            $($claim_own)*

            async fn enqueue_mail(&self, to: Recipient, mail: &NewMail, now: DateTime<Utc>) -> Result<MailId, StoreError> {
                let mut tx = self.pool.begin().await?;
                let id = insert_mail(&mut tx, to, mail, now).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn claim_mail(
                &self,
                id: MailId,
                owner: &str,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
            ) -> Result<Option<QueuedMail>, StoreError> {
                sqlx::query_as::<_, super::outbox::MailRow>(sqlx::AssertSqlSafe(format!(
                    "UPDATE mail_outbox SET state = 'sending', lease_owner = $2, lease_expires_at = $3, updated_at = $4
                     WHERE id = $1 AND (state = 'pending' OR (state = 'sending' AND lease_expires_at <= $4))
                     RETURNING {}",
                    super::outbox::MAIL_COLUMNS
                )))
                .bind(id.get())
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?
                .map(QueuedMail::try_from)
                .transpose()
            }

            async fn record_mail(
                &self,
                id: MailId,
                owner: &str,
                outcome: &MailOutcome,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let state = outcome.state();
                let sent = state == MailState::Sent;
                Ok(sqlx::query(
                    "UPDATE mail_outbox SET state = $3, attempts = attempts + $4,
                        next_attempt_at = COALESCE($5, next_attempt_at), last_error = $6,
                        sent_at = COALESCE($7, sent_at), lease_owner = NULL, lease_expires_at = NULL,
                        updated_at = $8
                     WHERE id = $1
                       AND ((state = 'sending' AND lease_owner = $2)
                            OR ($7 IS NOT NULL AND state IN ('pending', 'sending')))",
                )
                .bind(id.get())
                .bind(owner)
                .bind(state.as_str())
                .bind(i32::from(outcome.counts_attempt()))
                .bind(outcome.next_attempt())
                .bind((!sent).then(|| outcome.text()))
                .bind(sent.then_some(now))
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn renew_mail_leases(&self, owner: &str, lease_until: DateTime<Utc>) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "UPDATE mail_outbox SET lease_expires_at = $2 WHERE state = 'sending' AND lease_owner = $1",
                )
                .bind(owner)
                .bind(lease_until)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn expire_mail_leases(&self, owner: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "UPDATE mail_outbox SET lease_expires_at = $2
                     WHERE state = 'sending' AND lease_owner = $1 AND lease_expires_at > $2",
                )
                .bind(owner)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn mail_lease_holders(&self, now: DateTime<Utc>) -> Result<Vec<MailLeaseHolder>, StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT lease_owner, COUNT(*) FROM mail_outbox
                     WHERE state = 'sending' AND lease_expires_at > $1 AND lease_owner IS NOT NULL
                     GROUP BY lease_owner ORDER BY lease_owner",
                )
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(owner, n)| MailLeaseHolder { owner, mails: n as u64 })
                    .collect())
            }

            async fn next_mail_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
                // Two index lookups: the earliest pending time, and the earliest lease to run out.
                let pending: Option<DateTime<Utc>> = sqlx::query_scalar(
                    "SELECT next_attempt_at FROM mail_outbox WHERE state = 'pending' ORDER BY next_attempt_at LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await?;
                let leased: Option<DateTime<Utc>> = sqlx::query_scalar(
                    "SELECT lease_expires_at FROM mail_outbox WHERE state = 'sending' ORDER BY lease_expires_at LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await?
                .flatten();
                Ok(match (pending, leased) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                })
            }

            async fn mail_counts(&self) -> Result<MailCounts, StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT state, COUNT(*) FROM mail_outbox GROUP BY state")
                        .fetch_all(&self.pool)
                        .await?;
                let mut counts = MailCounts::default();
                for (state, n) in rows {
                    counts.add(state.parse::<MailState>()?, n as u64);
                }
                Ok(counts)
            }

            async fn mails_for(&self, to: Recipient) -> Result<Vec<MailRecord>, StoreError> {
                sqlx::query_as::<_, super::outbox::MailRecordRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {}, state, next_attempt_at, last_error, sent_at FROM mail_outbox
                     WHERE recipient_kind = $1 AND recipient_id = $2 ORDER BY id",
                    super::outbox::MAIL_COLUMNS
                )))
                .bind(to.kind().as_str())
                .bind(to.id())
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(MailRecord::try_from)
                .collect()
            }

            async fn prune_mails(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "DELETE FROM mail_outbox WHERE state IN ('sent', 'failed', 'cancelled') AND updated_at < $1",
                )
                .bind(before)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }
        }

        /// Queues `mail` for `to` in the caller's transaction, due at `now`.
        async fn insert_mail(
            tx: &mut sqlx::Transaction<'_, $db>,
            to: Recipient,
            mail: &NewMail,
            now: DateTime<Utc>,
        ) -> Result<MailId, StoreError> {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO mail_outbox (kind, recipient_kind, recipient_id, lang, payload, state, attempts,
                    next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6, $6) RETURNING id",
            )
            .bind(mail.kind.as_str())
            .bind(to.kind().as_str())
            .bind(to.id())
            .bind(mail.lang.as_str())
            .bind(&mail.payload)
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
            Ok(MailId::new(id))
        }

        /// Cancels `to`'s mails that have not gone yet, in the caller's transaction. A mail a
        /// sender holds is cancelled too, and stays so whatever its attempt's outcome.
        async fn cancel_mails(
            tx: &mut sqlx::Transaction<'_, $db>,
            to: Recipient,
            why: &str,
            now: DateTime<Utc>,
        ) -> Result<u64, StoreError> {
            Ok(sqlx::query(
                "UPDATE mail_outbox SET state = 'cancelled', last_error = $3, updated_at = $4,
                    lease_owner = NULL, lease_expires_at = NULL
                 WHERE recipient_kind = $1 AND recipient_id = $2 AND state IN ('pending', 'sending')",
            )
            .bind(to.kind().as_str())
            .bind(to.id())
            .bind(why)
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected())
        }
    };
}
pub(super) use outbox_impl;
