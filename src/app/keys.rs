//! Where the token signing key comes from (issue 3), and the suppression list's hashes.
//!
//! `secrets.signing_key` when set. Otherwise the store generates one on first start and keeps
//! it (SQLite: in a file next to the database, `kairan.db.key`, mode 0600, so a copy of the
//! database directory keeps its links valid; PostgreSQL: in the `meta` table, so several
//! instances share it), and a warning says where: a key the operator does not know about is
//! lost with that file or database, and every link with it.
//! `secrets.previous_signing_keys` are accepted for verification after a rotation.
//!
//! Depends on the domain, the key port and the settings; the file and SQL are the storage
//! adapter's.

use anyhow::Context;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ports::KeyStore;
use super::ports::keys::KeyLocation;
use crate::config::Settings;
use crate::domain::{EmailAddress, Signer};

/// Builds the signer from the settings, or from the key the store generated when none is set.
pub async fn signer(settings: &Settings, store: &dyn KeyStore) -> anyhow::Result<Signer> {
    let previous: Vec<Vec<u8>> = settings
        .secrets
        .previous_signing_keys
        .iter()
        .map(|k| k.expose().as_bytes().to_vec())
        .collect();
    let until = settings.secrets.previous_signing_keys_until;
    if let Some(key) = &settings.secrets.signing_key {
        return Ok(Signer::new(key.expose().as_bytes().to_vec(), previous).previous_until(until));
    }
    let generated = store.generated_signing_key().await?;
    match &generated.location {
        KeyLocation::File(path) if generated.created => tracing::warn!(
            file = %path.display(),
            "secrets.signing_key is not set: generated a signing key and stored it in this \
             file (owner-only); keep it with the database, or links in sent mail stop working"
        ),
        KeyLocation::File(path) => tracing::warn!(
            file = %path.display(),
            "secrets.signing_key is not set: using the generated key in this file"
        ),
        KeyLocation::Database => tracing::warn!(
            "secrets.signing_key is not set: using a generated key kept in the database's \
             meta table; set secrets.signing_key to manage it yourself"
        ),
    }
    Ok(Signer::new(generated.key.into_bytes(), previous).previous_until(until))
}

/// The salted hash of an address that the suppression list keeps instead of the address.
pub async fn address_hash(store: &dyn KeyStore, email: &EmailAddress) -> anyhow::Result<String> {
    let salt = store
        .suppression_salt()
        .await
        .context("reading the suppression salt")?;
    Ok(address_hash_with(&salt, email))
}

/// [`address_hash`] with the salt read once (an import hashes many addresses).
pub fn address_hash_with(salt: &str, email: &EmailAddress) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(salt.as_bytes()).expect("any key length");
    mac.update(email.key().as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(12 + 64);
    out.push_str("hmac-sha256:");
    for b in digest.iter() {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
    }
    out
}
