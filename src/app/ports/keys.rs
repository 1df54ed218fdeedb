//! The key port: secrets kairan generates for itself and keeps with the database (the token
//! signing key when none is configured, the suppression list's salt), and small named values
//! (the scheduler's last tick). Depends on the domain only.

use std::path::PathBuf;

use super::StoreError;

/// Where a generated signing key is kept; the use case tells the operator (the key is lost
/// with that file or database, and every link with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    /// A file next to the database (SQLite), owner-only.
    File(PathBuf),
    /// The database's `meta` table (PostgreSQL: shared by every instance).
    Database,
}

/// The signing key the store generated (on first use) and keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    pub key: String,
    pub location: KeyLocation,
    /// Generated just now, by this call.
    pub created: bool,
}

#[async_trait::async_trait]
pub trait KeyStore: Send + Sync {
    /// The generated signing key, created on first use; concurrent first starts agree on one.
    async fn generated_signing_key(&self) -> Result<GeneratedKey, StoreError>;
    /// The salt of the suppression list's address hashes, created on first use.
    async fn suppression_salt(&self) -> Result<String, StoreError>;
    /// Stores `value` under `key` unless the key exists; returns the stored value, so
    /// concurrent first starts agree on one.
    async fn meta_get_or_init(&self, key: &str, value: &str) -> Result<String, StoreError>;
    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;
}
