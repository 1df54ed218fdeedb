//! The accounts port (issue 14): console users, their one-time setup links, server-side
//! sessions, the login throttle's attempts, TOTP and recovery codes, personal API tokens,
//! the audit log and send requests. Every secret arrives here already digested (SHA-256 hex)
//! or hashed (Argon2id PHC string); the store never sees a password or a raw token.
//! Depends on the domain only.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{AuditEntry, EmailAddress, MailId, NewAudit, NewMail, Role, SendRequest, User};

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: EmailAddress,
    pub name: Option<String>,
    pub role: Role,
}

/// A one-time setup link to store: its digest and how long it lasts.
#[derive(Debug, Clone)]
pub struct NewSetup {
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

/// A stored setup link.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupRecord {
    pub id: i64,
    pub user_id: i64,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// A user's secrets, for checking a login.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: Option<String>,
    /// The confirmed TOTP secret (base32).
    pub totp_secret: Option<String>,
    pub totp_pending: Option<String>,
    pub totp_last_step: i64,
}

/// A server-side session (the id only as its digest).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
}

/// Failed logins in the throttle's window: how many, and the oldest (the window ends 15
/// minutes after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    pub count: u64,
    pub oldest: Option<DateTime<Utc>>,
}

/// A personal API token as listed (never the token).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiTokenRecord {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[async_trait::async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the account with its first setup link, queues the setup mail and writes the
    /// audit line, in one transaction. `Conflict` when the address has an account.
    async fn create_user(
        &self,
        user: &NewUser,
        setup: &NewSetup,
        mail: &NewMail,
        audit: &NewAudit,
        now: DateTime<Utc>,
    ) -> Result<(i64, MailId), StoreError>;
    async fn user(&self, id: i64) -> Result<Option<User>, StoreError>;
    async fn user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError>;
    async fn credentials(&self, email: &EmailAddress) -> Result<Option<Credentials>, StoreError>;
    async fn credentials_by_id(&self, id: i64) -> Result<Option<Credentials>, StoreError>;
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Disables (or enables) an account; disabling ends its sessions. Returns whether it
    /// changed.
    async fn set_user_disabled(
        &self,
        id: i64,
        disabled: bool,
        audit: &NewAudit,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// A new setup link for an account: its password, TOTP and recovery codes are cleared,
    /// its earlier links and every session end, the mail is queued; one transaction.
    async fn reset_user(
        &self,
        id: i64,
        setup: &NewSetup,
        mail: &NewMail,
        audit: &NewAudit,
        now: DateTime<Utc>,
    ) -> Result<MailId, StoreError>;
    async fn setup_by_hash(&self, token_hash: &str) -> Result<Option<SetupRecord>, StoreError>;
    /// Consumes setup link `id` (unused and unexpired at `now`) and sets the password, in one
    /// guarded statement pair. `false`: used or expired meanwhile.
    async fn complete_setup(
        &self,
        id: i64,
        password_hash: &str,
        audit: &NewAudit,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    async fn record_login_attempt(
        &self,
        email_key: &str,
        ip: &str,
        ok: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Forgets login attempts made before `attempts_before` and sessions past their absolute
    /// lifetime at `now`. Returns how many rows went.
    async fn prune_logins(
        &self,
        attempts_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Failed attempts since `since`, for one account and for one client address.
    async fn login_failures(
        &self,
        email_key: &str,
        ip: &str,
        since: DateTime<Utc>,
    ) -> Result<(Failures, Failures), StoreError>;

    async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError>;
    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError>;
    async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError>;

    /// Stores a TOTP secret waiting for its first code (`None` clears it).
    async fn set_totp_pending(&self, user_id: i64, secret: Option<&str>) -> Result<(), StoreError>;
    /// Confirms the pending secret (first code's step used) and replaces the recovery codes.
    async fn enable_totp(
        &self,
        user_id: i64,
        step: i64,
        recovery_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Takes TOTP step `step` for the user if it is later than the last one taken.
    async fn take_totp_step(&self, user_id: i64, step: i64) -> Result<bool, StoreError>;
    /// Uses one recovery code (by digest) once.
    async fn use_recovery_code(
        &self,
        user_id: i64,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    async fn insert_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        audit: &NewAudit,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// The enabled, set-up user whose token has this digest (and notes the use).
    async fn api_token_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;
    async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiTokenRecord>, StoreError>;

    async fn insert_audit(&self, entry: &NewAudit) -> Result<(), StoreError>;
    /// Audit lines at or after `since`, oldest first.
    async fn list_audit(
        &self,
        since: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// A pending request to send `issue_id` (one per issue: `Conflict` when one waits).
    async fn insert_send_request(
        &self,
        issue_id: i64,
        user_id: i64,
        audit: &NewAudit,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    async fn send_request(&self, id: i64) -> Result<Option<SendRequest>, StoreError>;
    async fn pending_send_requests(&self) -> Result<Vec<SendRequest>, StoreError>;
    /// The latest approved request to send `issue_id` whose approval is still good: by a
    /// different person than the requester, and no text of the issue changed since.
    async fn approved_send_request(&self, issue_id: i64)
    -> Result<Option<SendRequest>, StoreError>;
    /// Approves a pending request by `approver`, who must not be its requester; `false`
    /// otherwise (decided already, or the same person).
    async fn approve_send_request(
        &self,
        id: i64,
        approver: i64,
        audit: &NewAudit,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}
