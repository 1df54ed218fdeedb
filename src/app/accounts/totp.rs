//! Two-factor enrolment: a new TOTP secret waits until the person proves their app has it
//! (the first code), then becomes the account's, with ten one-time recovery codes shown
//! once and stored as digests. `console.require_totp` makes it mandatory: the console sends
//! a person without it to enrol before anything else.

use chrono::{DateTime, Utc};

use super::audit::Actor;
use super::{AccountError, digest};
use crate::app::ports::UserStore;
use crate::domain::{User, totp};

/// How many recovery codes an account gets.
pub const RECOVERY_CODES: usize = 10;

/// A pending secret for `user` (base32, to type into an app) and its `otpauth://` URI.
pub async fn begin(
    store: &dyn UserStore,
    user: &User,
    issuer: &str,
) -> Result<(String, String), AccountError> {
    let bytes: [u8; totp::SECRET_BYTES] = rand::random();
    let secret = totp::base32_encode(&bytes);
    store.set_totp_pending(user.id, Some(&secret)).await?;
    let uri = totp::otpauth_uri(&secret, user.email.as_str(), issuer);
    Ok((secret, uri))
}

/// The pending secret, if enrolment was begun.
pub async fn pending(store: &dyn UserStore, user: &User) -> Result<Option<String>, AccountError> {
    Ok(store
        .credentials_by_id(user.id)
        .await?
        .and_then(|c| c.totp_pending))
}

/// Confirms enrolment with the app's current code: `Some(recovery codes)` to show once, or
/// `None` when the code is wrong.
pub async fn confirm(
    store: &dyn UserStore,
    user: &User,
    code: &str,
    ip: Option<String>,
    now: DateTime<Utc>,
) -> Result<Option<Vec<String>>, AccountError> {
    let Some(secret) = pending(store, user).await? else {
        return Ok(None);
    };
    let Some(bytes) = totp::base32_decode(&secret) else {
        return Ok(None);
    };
    let Some(step) = totp::verify(&bytes, code, now, 0) else {
        return Ok(None);
    };
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| totp::recovery_code(&rand::random()))
        .collect();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| digest(&totp::normalise_recovery_code(c)))
        .collect();
    if !store.enable_totp(user.id, step, &hashes, now).await? {
        return Ok(None);
    }
    store
        .insert_audit(&Actor::user(user, ip).entry(
            "user.totp_enabled",
            format!("user {}", user.id),
            "",
            now,
        ))
        .await?;
    Ok(Some(codes))
}
