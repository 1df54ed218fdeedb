//! The backup port (issue 16): an online copy of the database with what it needs to stay
//! useful (the generated signing key, without which every link in sent mail breaks).
//! Depends on nothing of the crate but the error type.

use std::path::{Path, PathBuf};

use super::StoreError;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupWritten {
    pub database: PathBuf,
    /// The generated signing key's copy (`FILE.key`), when the database has one in a file.
    pub key_file: Option<PathBuf>,
}

#[async_trait::async_trait]
pub trait BackupStore: Send + Sync {
    /// Writes a consistent copy of the database to `out` (which must not exist) while it is
    /// in use, owner-only, and the generated signing key file next to it as `out.key`.
    /// Nothing is left half-written on failure. A backend that is backed up with its own
    /// tools (PostgreSQL: `pg_dump`) refuses, saying how.
    async fn backup_into(&self, out: &Path) -> Result<BackupWritten, StoreError>;
}
