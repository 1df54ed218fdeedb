//! The editorial port: what the editors' console needs beyond the issue port — when each
//! language's text last changed, how many readers get the legacy charset, drafts' slugs,
//! and uploaded images. Depends on the domain only.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{IssueId, IssueState};

/// One row of the console's issue list: no Markdown bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueSummary {
    pub id: IssueId,
    pub slug: String,
    pub state: IssueState,
    pub send_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub ja_subject: String,
    pub en_subject: String,
}

/// An uploaded image, content-addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// SHA-256 of `data`, lower-case hex.
    pub hash: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

#[async_trait::async_trait]
pub trait EditorialStore: Send + Sync {
    /// When the Japanese and the English text last changed; `None` when either is unknown
    /// (written before this was recorded) or the issue does not exist.
    async fn content_updated_at(
        &self,
        id: IssueId,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, StoreError>;
    /// Active subscribers whose address is at one of `domains` (lower-case), as
    /// (reading Japanese: `ja` or `both`, reading English: `en` or `both`).
    async fn active_readers_at_domains(&self, domains: &[String])
    -> Result<(u64, u64), StoreError>;
    /// Renames a draft (only a draft: a queued issue's slug, and so its archive URL, stays).
    /// Returns whether it did; a slug in use is a `Conflict`.
    async fn rename_draft(
        &self,
        id: IssueId,
        slug: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Stores an image unless one with its hash is there. Returns whether it was new.
    async fn put_media(&self, m: &Media, now: DateTime<Utc>) -> Result<bool, StoreError>;
    async fn media(&self, hash: &str) -> Result<Option<Media>, StoreError>;
    /// Every issue, newest first, without its bodies (the console's list).
    async fn issue_summaries(&self) -> Result<Vec<IssueSummary>, StoreError>;
    /// Sets when the Japanese and the English text last changed (a mechanical change, such
    /// as accepted stand-ins, keeps the editors' times).
    async fn set_content_updated_at(
        &self,
        id: IssueId,
        ja: DateTime<Utc>,
        en: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
