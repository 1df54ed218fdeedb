//! Accounts as use cases (issue 14): who may use the console and the API, and how they prove
//! it. [`users`] (invite, list, disable, reset, the one-time setup link), [`login`] (the
//! throttle, passwords, TOTP, server-side sessions), [`totp`] (enrolment and recovery
//! codes), [`tokens`] (personal API tokens), [`audit`] (who did what), [`approval`] (the
//! two-person rule for sending). The web console, the JSON API and the command line all call
//! these same functions; the decision (allowed, refused, throttled) is made here.
//!
//! Secrets: passwords are Argon2id PHC strings (hashed on a blocking thread); every other
//! secret (setup link, session id, recovery code, API token) is random and stored only as
//! its SHA-256 digest, compared by lookup or in constant time. None is ever logged.
//!
//! Depends on the domain, its ports, the settings and tokio (blocking threads).

use sha2::{Digest, Sha256};

use super::ports::StoreError;
use crate::domain::{Action, PasswordError, Role, User};

pub mod approval;
pub mod audit;
pub mod login;
pub mod tokens;
pub mod totp;
pub mod users;

pub use audit::Actor;

/// Why an account use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("no account with this address")]
    NoSuchUser,
    #[error("an account with this address exists already")]
    Exists,
    #[error("this needs the {0:?} permission, which the account's role does not have")]
    Forbidden(Action),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("{0}")]
    Other(String),
}

/// Refuses `action` unless `user`'s role allows it.
pub fn require(user: &User, action: Action) -> Result<(), AccountError> {
    if user.role.allows(action) {
        Ok(())
    } else {
        Err(AccountError::Forbidden(action))
    }
}

/// Whether `role` may do `action` (for showing or hiding a link).
pub fn may(role: Role, action: Action) -> bool {
    role.allows(action)
}

/// SHA-256 of a secret, hex: what is stored and looked up.
pub fn digest(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// `bytes` random bytes as base64url (no padding).
pub fn random_token(bytes: usize) -> String {
    use base64::Engine as _;
    let v: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

/// Hashes a password with Argon2id (the crate's defaults: 19 MiB, 2 passes, one lane; a
/// random salt) into a PHC string, on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, AccountError> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
            .map_err(|e| AccountError::Other(format!("cannot make a salt: {e}")))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Other(format!("cannot hash the password: {e}")))
    })
    .await
    .map_err(|e| AccountError::Other(format!("password hashing stopped: {e}")))?
}

/// Whether `password` matches the PHC string `phc` (constant time inside argon2). With no
/// stored hash, a fixed one is checked anyway, so an unknown account takes as long.
pub async fn verify_password(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let (phc, real) = match phc {
            Some(p) => (p, true),
            None => (dummy_hash().to_owned(), false),
        };
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        let ok = argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && real
    })
    .await
    .unwrap_or(false)
}

/// An Argon2id hash of a random password nobody knows, checked for unknown accounts (made
/// once per process).
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let Ok(salt) = SaltString::encode_b64(&rand::random::<[u8; 16]>()) else {
            return String::new();
        };
        argon2::Argon2::default()
            .hash_password(random_token(24).as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn argon2id_hashes_verify_and_others_do_not() {
        let h = hash_password("hoshi-no-kairan-7".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("hoshi-no-kairan-7".into(), Some(h.clone())).await);
        assert!(!verify_password("hoshi-no-kairan-8".into(), Some(h)).await);
        assert!(!verify_password("anything".into(), None).await);
    }

    #[test]
    fn digests_are_hex_sha256() {
        assert_eq!(digest("abc").len(), 64);
        assert_ne!(random_token(32), random_token(32));
    }
}
