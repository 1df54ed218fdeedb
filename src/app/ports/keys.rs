//! The key port: secrets kairan generates for itself and keeps with the database, and small
//! named values (the scheduler's last tick). Depends on the domain only.

use super::StoreError;

#[async_trait::async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores `value` under `key` unless the key exists; returns the stored value, so
    /// concurrent first starts agree on one.
    async fn meta_get_or_init(&self, key: &str, value: &str) -> Result<String, StoreError>;
    async fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;
}
