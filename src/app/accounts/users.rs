//! Accounts: invite (`kairan users add`), list, disable, reset, and the one-time setup link
//! that sets the password.
//!
//! The setup link's token is a signed token (`domain::token`, purpose `UserSetup`) over a
//! random nonce and the time it was made; the store keeps only its SHA-256 digest, and the
//! queued mail only the nonce and the time, so the link is signed again, identically, when
//! the mail goes (no usable secret in the database without the signing key). It is valid for
//! 48 hours and consumed once.

use chrono::{DateTime, TimeZone, Utc};

use super::audit::Actor;
use super::{AccountError, digest};
use crate::app::notify::link;
use crate::app::ports::users::{NewSetup, NewUser, SetupRecord};
use crate::app::ports::{StoreError, UserStore};
use crate::config::Settings;
use crate::domain::{
    EmailAddress, LangPref, MailId, MailKind, NewMail, Purpose, Role, Signer, TokenError, User,
    parse_name,
};

/// How long a setup link is valid.
pub const SETUP_TTL: chrono::Duration = chrono::Duration::hours(48);

/// An account invited or reset: its setup link (print once, never log) and the queued mail.
#[derive(Debug, Clone)]
pub struct Invited {
    pub user_id: i64,
    pub mail_id: MailId,
    pub setup_url: String,
}

/// A fresh setup link: the stored part, the queued mail and the URL.
fn new_setup(
    settings: &Settings,
    signer: &Signer,
    now: DateTime<Utc>,
) -> (NewSetup, NewMail, String) {
    let nonce = (rand::random::<u64>() >> 1) as i64;
    let token = signer.sign(nonce, Purpose::UserSetup, now);
    let mail = NewMail {
        kind: MailKind::UserSetup,
        lang: LangPref::Both,
        payload: serde_json::json!({"nonce": nonce, "issued_at": now.timestamp()}).to_string(),
    };
    (
        NewSetup {
            token_hash: digest(&token),
            expires_at: now + SETUP_TTL,
        },
        mail,
        setup_url(settings, &token),
    )
}

/// `{http.base_url}/console/setup/{token}`.
pub fn setup_url(settings: &Settings, token: &str) -> String {
    link(settings, &format!("console/setup/{token}"))
}

/// The setup link a queued mail's payload stands for (signed again, identically).
pub fn setup_url_from_payload(
    settings: &Settings,
    signer: &Signer,
    payload: &str,
) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    let nonce = v.get("nonce")?.as_i64()?;
    let issued = Utc
        .timestamp_opt(v.get("issued_at")?.as_i64()?, 0)
        .single()?;
    Some(setup_url(
        settings,
        &signer.sign(nonce, Purpose::UserSetup, issued),
    ))
}

/// Creates an account with `role` and queues its setup mail; the link is returned to print.
#[allow(clippy::too_many_arguments)]
pub async fn add(
    store: &dyn UserStore,
    settings: &Settings,
    signer: &Signer,
    email: &str,
    role: Role,
    name: Option<&str>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Invited, AccountError> {
    let email = EmailAddress::parse(email).map_err(|e| AccountError::Invalid(e.to_string()))?;
    let name = match name {
        Some(n) => parse_name(n).map_err(|e| AccountError::Invalid(e.to_string()))?,
        None => None,
    };
    let (setup, mail, setup_url) = new_setup(settings, signer, now);
    let audit = actor.entry("user.added", "", format!("role {role}"), now);
    let (user_id, mail_id) = store
        .create_user(&NewUser { email, name, role }, &setup, &mail, &audit, now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => AccountError::Exists,
            other => other.into(),
        })?;
    Ok(Invited {
        user_id,
        mail_id,
        setup_url,
    })
}

async fn find(store: &dyn UserStore, email: &str) -> Result<User, AccountError> {
    let email = EmailAddress::parse(email).map_err(|e| AccountError::Invalid(e.to_string()))?;
    store
        .user_by_email(&email)
        .await?
        .ok_or(AccountError::NoSuchUser)
}

/// Every account, oldest first.
pub async fn list(store: &dyn UserStore) -> Result<Vec<User>, AccountError> {
    Ok(store.list_users().await?)
}

/// Disables an account: its sessions end at once, its tokens stop working. `Ok(false)`: it
/// was disabled already.
pub async fn disable(
    store: &dyn UserStore,
    email: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<bool, AccountError> {
    let user = find(store, email).await?;
    let audit = actor.entry("user.disabled", format!("user {}", user.id), "", now);
    Ok(store.set_user_disabled(user.id, true, &audit, now).await?)
}

/// A new setup link for an account: password, TOTP and every session are gone until it is
/// used.
pub async fn reset(
    store: &dyn UserStore,
    settings: &Settings,
    signer: &Signer,
    email: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Invited, AccountError> {
    let user = find(store, email).await?;
    let (setup, mail, setup_url) = new_setup(settings, signer, now);
    let audit = actor.entry("user.reset", format!("user {}", user.id), "", now);
    let mail_id = store
        .reset_user(user.id, &setup, &mail, &audit, now)
        .await?;
    Ok(Invited {
        user_id: user.id,
        mail_id,
        setup_url,
    })
}

/// Why a setup link is refused (each shows its own page: the person can ask for a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("the setup link is not valid")]
    Invalid,
    #[error("the setup link has expired")]
    Expired,
    #[error("the setup link was used already")]
    Used,
}

/// The stored setup link `token` stands for, if it is still usable at `now`.
pub async fn check_setup(
    store: &dyn UserStore,
    signer: &Signer,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<(SetupRecord, User), SetupError>, StoreError> {
    let ttl = SETUP_TTL.to_std().unwrap_or_default();
    match signer.verify(token, Purpose::UserSetup, now, Some(ttl)) {
        Ok(_) => {}
        Err(TokenError::Expired) => return Ok(Err(SetupError::Expired)),
        Err(_) => return Ok(Err(SetupError::Invalid)),
    }
    let Some(setup) = store.setup_by_hash(&digest(token)).await? else {
        // Signed by us but replaced by a newer link (a reset), or never stored.
        return Ok(Err(SetupError::Invalid));
    };
    if setup.used_at.is_some() {
        return Ok(Err(SetupError::Used));
    }
    if setup.expires_at <= now {
        return Ok(Err(SetupError::Expired));
    }
    match store.user(setup.user_id).await? {
        Some(u) if !u.disabled => Ok(Ok((setup, u))),
        _ => Ok(Err(SetupError::Invalid)),
    }
}

/// What became of a setup form.
#[derive(Debug)]
pub enum SetupOutcome {
    Done(User),
    Refused(SetupError),
    BadPassword(crate::domain::PasswordError),
}

/// Sets the password of the account `token`'s link is for and consumes the link.
pub async fn complete_setup(
    store: &dyn UserStore,
    signer: &Signer,
    token: &str,
    password: &str,
    confirm: &str,
    ip: Option<String>,
    now: DateTime<Utc>,
) -> Result<SetupOutcome, AccountError> {
    let (setup, user) = match check_setup(store, signer, token, now).await? {
        Ok(s) => s,
        Err(e) => return Ok(SetupOutcome::Refused(e)),
    };
    if let Err(e) = crate::domain::user::check_new_password(password, confirm) {
        return Ok(SetupOutcome::BadPassword(e));
    }
    let hash = super::hash_password(password.to_owned()).await?;
    let audit =
        Actor::user(&user, ip).entry("user.password_set", format!("user {}", user.id), "", now);
    if store.complete_setup(setup.id, &hash, &audit, now).await? {
        Ok(SetupOutcome::Done(user))
    } else {
        Ok(SetupOutcome::Refused(SetupError::Used))
    }
}
