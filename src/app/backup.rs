//! `kairan backup --out FILE` (issue 16): an online copy of the database and of the signing
//! key it depends on. The copy is the adapter's (`BackupStore`: SQLite's `VACUUM INTO`, the
//! key file as `FILE.key`); this use case says where the signing key of this installation is,
//! so the operator keeps the pair together. Restore: `docs/operating.md`.
//!
//! Depends on the ports and the settings.

use std::path::Path;

use super::ports::{BackupWritten, Store};
use crate::config::Settings;

/// Where the key that signs the links in sent mail is, for this backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKey {
    /// Copied next to the backup (`FILE.key`).
    InBackup,
    /// `secrets.signing_key` in the configuration: keep the configuration with the backup.
    InConfiguration,
    /// None generated yet (no link was ever signed with a generated key).
    NoneYet,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub written: BackupWritten,
    pub signing_key: SigningKey,
}

pub async fn backup(store: &dyn Store, settings: &Settings, out: &Path) -> anyhow::Result<Backup> {
    let written = store.backup_into(out).await?;
    let signing_key = if settings.secrets.signing_key.is_some() {
        SigningKey::InConfiguration
    } else if written.key_file.is_some() {
        SigningKey::InBackup
    } else {
        SigningKey::NoneYet
    };
    Ok(Backup {
        written,
        signing_key,
    })
}
