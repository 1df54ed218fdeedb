//! The accounts port (`app::ports::UserStore`) on both backends: users, setup links,
//! sessions, login attempts, TOTP, API tokens, the audit log and send requests. The SQL is
//! the same text on SQLite and PostgreSQL, written once here and expanded for each backend by
//! `sqlite.rs` / `postgres.rs` (where `insert_mail`, the outbox's in-transaction insert, is
//! in scope). Depends on the ports, the domain and sqlx.

use chrono::{DateTime, Utc};

use crate::app::ports::StoreError;
use crate::app::ports::users::{ApiTokenRecord, Credentials, SessionRecord, SetupRecord};
use crate::domain::{AuditEntry, EmailAddress, SendRequest, User};

pub(super) const USER_COLUMNS: &str = "id, email, name, role, password_hash, disabled_at, totp_secret, totp_pending, totp_last_step, created_at";

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: i64,
    email: String,
    name: Option<String>,
    role: String,
    password_hash: Option<String>,
    disabled_at: Option<DateTime<Utc>>,
    totp_secret: Option<String>,
    totp_pending: Option<String>,
    totp_last_step: i64,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for Credentials {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        let email = EmailAddress::parse(&r.email)
            .map_err(|e| StoreError::Corrupt(format!("user {}: {e}", r.id)))?;
        Ok(Credentials {
            user: User {
                id: r.id,
                email,
                name: r.name,
                role: r.role.parse()?,
                active: r.password_hash.is_some(),
                disabled: r.disabled_at.is_some(),
                totp: r.totp_secret.is_some(),
                created_at: r.created_at,
            },
            password_hash: r.password_hash,
            totp_secret: r.totp_secret,
            totp_pending: r.totp_pending,
            totp_last_step: r.totp_last_step,
        })
    }
}

pub(super) fn user_of(r: UserRow) -> Result<User, StoreError> {
    Credentials::try_from(r).map(|c| c.user)
}

#[derive(sqlx::FromRow)]
pub(super) struct SetupRow {
    pub id: i64,
    pub user_id: i64,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

impl From<SetupRow> for SetupRecord {
    fn from(r: SetupRow) -> Self {
        SetupRecord {
            id: r.id,
            user_id: r.user_id,
            expires_at: r.expires_at,
            used_at: r.used_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
}

impl From<SessionRow> for SessionRecord {
    fn from(r: SessionRow) -> Self {
        SessionRecord {
            id_hash: r.id_hash,
            user_id: r.user_id,
            csrf: r.csrf,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
            ip: r.ip,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ApiTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiTokenRow> for ApiTokenRecord {
    fn from(r: ApiTokenRow) -> Self {
        ApiTokenRecord {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub user_id: Option<i64>,
    pub actor: String,
    pub ip: Option<String>,
    pub action: String,
    pub object: String,
    pub detail: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            at: r.at,
            user_id: r.user_id,
            actor: r.actor,
            ip: r.ip,
            action: r.action,
            object: r.object,
            detail: r.detail,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SendRequestRow {
    pub id: i64,
    pub issue_id: i64,
    pub requested_by: i64,
    pub requested_at: DateTime<Utc>,
    pub state: String,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl TryFrom<SendRequestRow> for SendRequest {
    type Error = StoreError;
    fn try_from(r: SendRequestRow) -> Result<Self, StoreError> {
        Ok(SendRequest {
            id: r.id,
            issue_id: r.issue_id,
            requested_by: r.requested_by,
            requested_at: r.requested_at,
            state: r.state.parse()?,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
        })
    }
}

pub(super) const SEND_REQUEST_COLUMNS: &str =
    "id, issue_id, requested_by, requested_at, state, decided_by, decided_at";

/// `impl UserStore for $store` (a `pool` field; `$db` the sqlx database).
macro_rules! user_store_impl {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::app::ports::UserStore for $store {
            async fn create_user(
                &self,
                user: &$crate::app::ports::users::NewUser,
                setup: &$crate::app::ports::users::NewSetup,
                mail: &NewMail,
                audit: &NewAudit,
                now: DateTime<Utc>,
            ) -> Result<(i64, MailId), StoreError> {
                let mut tx = self.pool.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (email, email_key, name, role, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                )
                .bind(user.email.as_str())
                .bind(user.email.key())
                .bind(user.name.as_deref())
                .bind(user.role.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict("an account with this address".into()),
                    other => other,
                })?;
                user_setup_insert(&mut tx, id, setup, now).await?;
                let mail_id = insert_mail(&mut tx, Recipient::User(id), mail, now).await?;
                let audit = NewAudit { object: format!("user {id}"), ..audit.clone() };
                audit_insert(&mut tx, &audit).await?;
                tx.commit().await?;
                Ok((id, mail_id))
            }

            async fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
                Ok(self.credentials_by_id(id).await?.map(|c| c.user))
            }

            async fn user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
                Ok(self.credentials(email).await?.map(|c| c.user))
            }

            async fn credentials(&self, email: &EmailAddress) -> Result<Option<$crate::app::ports::users::Credentials>, StoreError> {
                sqlx::query_as::<_, super::users::UserRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM users WHERE email_key = $1", super::users::USER_COLUMNS)))
                    .bind(email.key())
                    .fetch_optional(&self.pool)
                    .await?
                    .map(TryFrom::try_from)
                    .transpose()
            }

            async fn credentials_by_id(&self, id: i64) -> Result<Option<$crate::app::ports::users::Credentials>, StoreError> {
                sqlx::query_as::<_, super::users::UserRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM users WHERE id = $1", super::users::USER_COLUMNS)))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(TryFrom::try_from)
                    .transpose()
            }

            async fn list_users(&self) -> Result<Vec<User>, StoreError> {
                sqlx::query_as::<_, super::users::UserRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM users ORDER BY id", super::users::USER_COLUMNS)))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(super::users::user_of)
                    .collect()
            }

            async fn set_user_disabled(
                &self,
                id: i64,
                disabled: bool,
                audit: &NewAudit,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let changed = sqlx::query(
                    "UPDATE users SET disabled_at = $2, updated_at = $3
                     WHERE id = $1 AND (disabled_at IS NULL) = $4",
                )
                .bind(id)
                .bind(if disabled { Some(now) } else { None })
                .bind(now)
                .bind(disabled)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if changed {
                    if disabled {
                        sqlx::query("DELETE FROM user_sessions WHERE user_id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    audit_insert(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(changed)
            }

            async fn reset_user(
                &self,
                id: i64,
                setup: &$crate::app::ports::users::NewSetup,
                mail: &NewMail,
                audit: &NewAudit,
                now: DateTime<Utc>,
            ) -> Result<MailId, StoreError> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query(
                    "UPDATE users SET password_hash = NULL, totp_secret = NULL, totp_pending = NULL,
                        updated_at = $2 WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound(format!("user {id}")));
                }
                for sql in [
                    "DELETE FROM user_sessions WHERE user_id = $1",
                    "DELETE FROM recovery_codes WHERE user_id = $1",
                    "DELETE FROM user_setups WHERE user_id = $1",
                ] {
                    sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                }
                user_setup_insert(&mut tx, id, setup, now).await?;
                let mail_id = insert_mail(&mut tx, Recipient::User(id), mail, now).await?;
                audit_insert(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(mail_id)
            }

            async fn setup_by_hash(&self, token_hash: &str) -> Result<Option<$crate::app::ports::users::SetupRecord>, StoreError> {
                Ok(sqlx::query_as::<_, super::users::SetupRow>(
                    "SELECT id, user_id, expires_at, used_at FROM user_setups WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?
                .map(Into::into))
            }

            async fn complete_setup(
                &self,
                id: i64,
                password_hash: &str,
                audit: &NewAudit,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let user_id: Option<i64> = sqlx::query_scalar(
                    "UPDATE user_setups SET used_at = $2
                     WHERE id = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
                )
                .bind(id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(user_id) = user_id else {
                    tx.rollback().await?;
                    return Ok(false);
                };
                sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                    .bind(user_id)
                    .bind(password_hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM user_sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                audit_insert(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn record_login_attempt(
                &self,
                email_key: &str,
                ip: &str,
                ok: bool,
                at: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO login_attempts (email_key, ip, ok, at) VALUES ($1, $2, $3, $4)")
                    .bind(email_key)
                    .bind(ip)
                    .bind(ok)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn prune_logins(
                &self,
                attempts_before: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> Result<u64, StoreError> {
                let a = sqlx::query("DELETE FROM login_attempts WHERE at < $1")
                    .bind(attempts_before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                let s = sqlx::query("DELETE FROM user_sessions WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(a + s)
            }

            async fn login_failures(
                &self,
                email_key: &str,
                ip: &str,
                since: DateTime<Utc>,
            ) -> Result<($crate::app::ports::users::Failures, $crate::app::ports::users::Failures), StoreError> {
                let mut out = [$crate::app::ports::users::Failures::default(); 2];
                for (i, (column, value)) in [("email_key", email_key), ("ip", ip)].into_iter().enumerate() {
                    let (count, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT COUNT(*), MIN(at) FROM login_attempts WHERE {column} = $1 AND NOT ok AND at >= $2"
                    )))
                    .bind(value)
                    .bind(since)
                    .fetch_one(&self.pool)
                    .await?;
                    out[i] = $crate::app::ports::users::Failures { count: count.max(0) as u64, oldest };
                }
                Ok((out[0], out[1]))
            }

            async fn insert_session(&self, s: &$crate::app::ports::users::SessionRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO user_sessions (id_hash, user_id, csrf, created_at, last_seen_at, expires_at, ip)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&s.id_hash)
                .bind(s.user_id)
                .bind(&s.csrf)
                .bind(s.created_at)
                .bind(s.last_seen_at)
                .bind(s.expires_at)
                .bind(s.ip.as_deref())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session(&self, id_hash: &str) -> Result<Option<$crate::app::ports::users::SessionRecord>, StoreError> {
                Ok(sqlx::query_as::<_, super::users::SessionRow>(
                    "SELECT id_hash, user_id, csrf, created_at, last_seen_at, expires_at, ip
                     FROM user_sessions WHERE id_hash = $1",
                )
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await?
                .map(Into::into))
            }

            async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
                sqlx::query("UPDATE user_sessions SET last_seen_at = $2 WHERE id_hash = $1")
                    .bind(id_hash)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
                Ok(sqlx::query("DELETE FROM user_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn set_totp_pending(&self, user_id: i64, secret: Option<&str>) -> Result<(), StoreError> {
                sqlx::query("UPDATE users SET totp_pending = $2 WHERE id = $1")
                    .bind(user_id)
                    .bind(secret)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn enable_totp(
                &self,
                user_id: i64,
                step: i64,
                recovery_hashes: &[String],
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query(
                    "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $2,
                        updated_at = $3
                     WHERE id = $1 AND totp_pending IS NOT NULL",
                )
                .bind(user_id)
                .bind(step)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                for h in recovery_hashes {
                    sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                        .bind(user_id)
                        .bind(h)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn take_totp_step(&self, user_id: i64, step: i64) -> Result<bool, StoreError> {
                Ok(sqlx::query("UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2")
                    .bind(user_id)
                    .bind(step)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    == 1)
            }

            async fn use_recovery_code(&self, user_id: i64, code_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
                Ok(sqlx::query(
                    "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                )
                .bind(user_id)
                .bind(code_hash)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected()
                    == 1)
            }

            async fn insert_api_token(
                &self,
                user_id: i64,
                name: &str,
                token_hash: &str,
                audit: &NewAudit,
                now: DateTime<Utc>,
            ) -> Result<i64, StoreError> {
                let mut tx = self.pool.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(user_id)
                .bind(name)
                .bind(token_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                audit_insert(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn api_token_user(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<User>, StoreError> {
                let user_id: Option<i64> = sqlx::query_scalar(
                    "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 RETURNING user_id",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                match user_id {
                    Some(id) => Ok(self.user(id).await?.filter(|u| u.active && !u.disabled)),
                    None => Ok(None),
                }
            }

            async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<$crate::app::ports::users::ApiTokenRecord>, StoreError> {
                Ok(sqlx::query_as::<_, super::users::ApiTokenRow>(
                    "SELECT id, user_id, name, created_at, last_used_at FROM api_tokens WHERE user_id = $1 ORDER BY id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
            }

            async fn insert_audit(&self, entry: &NewAudit) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                audit_insert(&mut tx, entry).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_audit(&self, since: Option<DateTime<Utc>>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
                Ok(sqlx::query_as::<_, super::users::AuditRow>(
                    "SELECT id, at, user_id, actor, ip, action, object, detail FROM audit_log
                     WHERE at >= $1 ORDER BY id LIMIT $2",
                )
                .bind(since.unwrap_or(DateTime::<Utc>::UNIX_EPOCH))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
            }

            async fn insert_send_request(
                &self,
                issue_id: i64,
                user_id: i64,
                audit: &NewAudit,
                now: DateTime<Utc>,
            ) -> Result<i64, StoreError> {
                let mut tx = self.pool.begin().await?;
                let waiting: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM send_requests WHERE issue_id = $1 AND state = 'pending'",
                )
                .bind(issue_id)
                .fetch_optional(&mut *tx)
                .await?;
                if waiting.is_some() {
                    tx.rollback().await?;
                    return Err(StoreError::Conflict(format!("a send request for issue {issue_id}")));
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO send_requests (issue_id, requested_by, requested_at, state)
                     VALUES ($1, $2, $3, 'pending') RETURNING id",
                )
                .bind(issue_id)
                .bind(user_id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                audit_insert(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn send_request(&self, id: i64) -> Result<Option<SendRequest>, StoreError> {
                sqlx::query_as::<_, super::users::SendRequestRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM send_requests WHERE id = $1", super::users::SEND_REQUEST_COLUMNS)))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(TryFrom::try_from)
                    .transpose()
            }

            async fn pending_send_requests(&self) -> Result<Vec<SendRequest>, StoreError> {
                sqlx::query_as::<_, super::users::SendRequestRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM send_requests WHERE state = 'pending' ORDER BY id", super::users::SEND_REQUEST_COLUMNS)))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(TryFrom::try_from)
                    .collect()
            }

            async fn approved_send_request(&self, issue_id: i64) -> Result<Option<SendRequest>, StoreError> {
                sqlx::query_as::<_, super::users::SendRequestRow>(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM send_requests r WHERE r.issue_id = $1 AND r.state = 'approved'
                     AND r.decided_by IS NOT NULL AND r.decided_by <> r.requested_by
                     AND NOT EXISTS (SELECT 1 FROM issue_contents c
                                     WHERE c.issue_id = r.issue_id AND c.updated_at > r.decided_at)
                     ORDER BY r.id DESC LIMIT 1", super::users::SEND_REQUEST_COLUMNS)))
                    .bind(issue_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(TryFrom::try_from)
                    .transpose()
            }

            async fn approve_send_request(
                &self,
                id: i64,
                approver: i64,
                audit: &NewAudit,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query(
                    "UPDATE send_requests SET state = 'approved', decided_by = $2, decided_at = $3
                     WHERE id = $1 AND state = 'pending' AND requested_by <> $2",
                )
                .bind(id)
                .bind(approver)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 1 {
                    audit_insert(&mut tx, audit).await?;
                }
                tx.commit().await?;
                Ok(n == 1)
            }
        }

        async fn user_setup_insert(
            tx: &mut sqlx::Transaction<'_, $db>,
            user_id: i64,
            setup: &$crate::app::ports::users::NewSetup,
            now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO user_setups (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(user_id)
            .bind(&setup.token_hash)
            .bind(now)
            .bind(setup.expires_at)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        async fn audit_insert(tx: &mut sqlx::Transaction<'_, $db>, a: &NewAudit) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO audit_log (at, user_id, actor, ip, action, object, detail)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(a.at)
            .bind(a.user_id)
            .bind(&a.actor)
            .bind(a.ip.as_deref())
            .bind(a.action)
            .bind(&a.object)
            .bind(&a.detail)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }
    };
}
pub(super) use user_store_impl;
