//! Where the token signing key comes from (issue 3).
//!
//! `secrets.signing_key` when set. Otherwise one is generated on first start and kept:
//! with SQLite in a file next to the database (`kairan.db.key`, mode 0600), so a copy of the
//! database directory keeps its links valid; with PostgreSQL in the `meta` table, so several
//! instances share it (the first writer wins). Either way a warning says so: a key the
//! operator does not know about is lost with the file or database, and every link with it.
//! `secrets.previous_signing_keys` are accepted for verification after a rotation.
//!
//! Also the salt for the suppression list's address hashes, kept in `meta`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ports::KeyStore;
use crate::config::Settings;
use crate::domain::{EmailAddress, Signer};
use crate::storage::Backend;

const META_SIGNING_KEY: &str = "signing_key";
const META_SUPPRESSION_SALT: &str = "suppression_salt";

/// 32 random bytes, hex-encoded (64 characters).
fn random_key() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file that keeps a generated key for a SQLite database, if the URL names a file.
pub fn key_file_for(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite://")?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(format!("{path}.key")))
}

/// Builds the signer from the settings, generating and storing a key when none is set.
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
    let url = settings.database.url.expose();
    let key = match (Backend::from_url(url), key_file_for(url)) {
        (Some(Backend::Sqlite), Some(path)) => key_from_file(&path)?,
        _ => {
            let key = store
                .meta_get_or_init(META_SIGNING_KEY, &random_key())
                .await
                .context("reading the generated signing key from the database")?;
            tracing::warn!(
                "secrets.signing_key is not set: using a generated key kept in the database's \
                 meta table; set secrets.signing_key to manage it yourself"
            );
            key
        }
    };
    Ok(Signer::new(key.into_bytes(), previous).previous_until(until))
}

/// Reads the key file, or creates it (mode 0600, never overwriting one that appeared meanwhile).
fn key_from_file(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = text.trim().to_owned();
            anyhow::ensure!(
                key.len() >= 32,
                "the signing key file {} is shorter than 32 characters",
                path.display()
            );
            tracing::warn!(file = %path.display(), "secrets.signing_key is not set: using the generated key in this file");
            return Ok(key);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the signing key file {}", path.display()));
        }
    }
    let key = random_key();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(format!("{key}\n").as_bytes())
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot write the signing key file {}", path.display()))?;
            tracing::warn!(
                file = %path.display(),
                "secrets.signing_key is not set: generated a signing key and stored it in this \
                 file (owner-only); keep it with the database, or links in sent mail stop working"
            );
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => key_from_file(path),
        Err(e) => {
            Err(e).with_context(|| format!("cannot create the signing key file {}", path.display()))
        }
    }
}

/// The salted hash of an address that the suppression list keeps instead of the address.
pub async fn address_hash(store: &dyn KeyStore, email: &EmailAddress) -> anyhow::Result<String> {
    let salt = store
        .meta_get_or_init(META_SUPPRESSION_SALT, &random_key())
        .await
        .context("reading the suppression salt")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(salt.as_bytes()).expect("any key length");
    mac.update(email.key().as_bytes());
    let digest = mac.finalize().into_bytes();
    Ok(format!(
        "hmac-sha256:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_sits_next_to_a_sqlite_database() {
        assert_eq!(
            key_file_for("sqlite://kairan.db"),
            Some(PathBuf::from("kairan.db.key"))
        );
        assert_eq!(
            key_file_for("sqlite:///var/lib/kairan/k.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/kairan/k.db.key"))
        );
        assert_eq!(key_file_for("sqlite::memory:"), None);
        assert_eq!(key_file_for("postgres://x@h/db"), None);
    }

    #[test]
    fn a_generated_key_file_is_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kairan.db.key");
        let first = key_from_file(&path).unwrap();
        assert_eq!(first.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(key_from_file(&path).unwrap(), first);
    }
}
