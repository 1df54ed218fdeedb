//! Where the storage adapters keep the secrets kairan generates for itself (issue 3): the
//! token signing key when `secrets.signing_key` is not set, and the salt of the suppression
//! list's address hashes.
//!
//! The signing key of a SQLite database lives in a file next to it (`kairan.db.key`, mode
//! 0600, created exclusively so two first starts agree on one), so a copy of the database
//! directory keeps its links valid; a PostgreSQL database (or an in-memory SQLite one) keeps
//! it in the `meta` table, so several instances share it (the first writer wins). The salt is
//! always in `meta`. Deciding what to warn about is the use case's (`app::keys`); this module
//! does the file IO and the SQL.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::app::ports::StoreError;
use crate::app::ports::keys::{GeneratedKey, KeyLocation};

/// The `meta` key of a generated signing key.
pub(super) const META_SIGNING_KEY: &str = "signing_key";
/// The `meta` key of the suppression list's salt.
pub(super) const META_SUPPRESSION_SALT: &str = "suppression_salt";

/// 32 random bytes, hex-encoded (64 characters).
pub(super) fn random_key() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file that keeps a generated key for a SQLite database, if the URL names a file.
pub(super) fn key_file_for(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite://")?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(format!("{path}.key")))
}

/// The key kept in the `meta` table, as `meta_get_or_init` returned it.
pub(super) fn from_meta(stored: Result<String, StoreError>) -> Result<GeneratedKey, StoreError> {
    match stored {
        Ok(key) => Ok(GeneratedKey {
            key,
            location: KeyLocation::Database,
            created: false,
        }),
        Err(e) => Err(StoreError::Other(
            anyhow::Error::new(e).context("reading the generated signing key from the database"),
        )),
    }
}

/// Reads the key file, or creates it (mode 0600, never overwriting one that appeared
/// meanwhile: then that one is used).
pub(super) fn from_file(path: &Path) -> Result<GeneratedKey, StoreError> {
    read_or_create(path).map_err(StoreError::Other)
}

fn read_or_create(path: &Path) -> anyhow::Result<GeneratedKey> {
    let found = |key: String, created: bool| GeneratedKey {
        key,
        location: KeyLocation::File(path.to_owned()),
        created,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = text.trim().to_owned();
            anyhow::ensure!(
                key.len() >= 32,
                "the signing key file {} is shorter than 32 characters",
                path.display()
            );
            return Ok(found(key, false));
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
            Ok(found(key, true))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_or_create(path),
        Err(e) => {
            Err(e).with_context(|| format!("cannot create the signing key file {}", path.display()))
        }
    }
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
        let first = from_file(&path).unwrap();
        assert_eq!(first.key.len(), 64);
        assert!(first.created);
        assert_eq!(first.location, KeyLocation::File(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = from_file(&path).unwrap();
        assert_eq!((again.key, again.created), (first.key, false));
    }

    #[test]
    fn a_short_key_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kairan.db.key");
        std::fs::write(&path, "short\n").unwrap();
        let e = from_file(&path).unwrap_err().to_string();
        assert!(e.contains("shorter than 32 characters"), "{e}");
        assert!(e.contains("kairan.db.key"), "{e}");
    }
}
