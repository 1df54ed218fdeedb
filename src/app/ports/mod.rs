//! The ports the use cases need, declared here by the code that uses them and split by
//! concern: [`subscribers`], [`issues`], [`deliveries`], [`bounces`], [`keys`] (generated
//! secrets and named values), [`mail`] (the outbound transport), [`outbox`] (queued
//! transactional mail) and [`webhooks`] (the one-time tokens the providers' webhooks
//! remember). Each storage port has two
//! adapters, SQLite and PostgreSQL (`src/storage`), which implement all of them and the
//! umbrella [`Store`]; the mail port has the outbox and SMTP (`src/mail`). They are held as
//! `Arc<dyn Store>` / `Arc<dyn Mailer>`, and a use case takes the narrowest port it needs
//! (`&dyn SubscriberStore`, …): a `&dyn Store` coerces to any of them.
//!
//! Depends on the domain only. [`StoreError`] knows nothing of the database library: the
//! storage adapter turns its errors into these variants (`docs/architecture.md`).

pub mod backup;
pub mod bounces;
pub mod console;
pub mod deliveries;
pub mod editorial;
pub mod host;
pub mod import;
pub mod issues;
pub mod keys;
pub mod mail;
pub mod outbox;
pub mod probe;
pub mod reader_limits;
pub mod subscribers;
pub mod users;
pub mod webhooks;

pub use backup::{BackupStore, BackupWritten};
pub use bounces::{BounceStore, CounterStep};
pub use console::{ConsoleStore, DeliveryHistory, Growth, SubscriberSearch};
pub use deliveries::LeasedOutcome;
pub use deliveries::{DeliveryStore, Instance};
pub use editorial::{EditorialStore, IssueSummary, Media};
pub use host::{NoProcesses, Processes};
pub use import::{BatchOutcome, BatchRow, ImportStore};
pub use issues::IssueStore;
pub use keys::KeyStore;
pub use mail::{MailSession, Mailer, OutgoingMessage, SendOutcome, SmtpStage};
pub use outbox::{MailLeaseHolder, MailRecord, OutboxStore};
pub use probe::MailProbes;
pub use reader_limits::ReaderLimitStore;
pub use subscribers::{Changed, SubscriberQuery, SubscriberStore};
pub use users::UserStore;
pub use webhooks::WebhookStore;

/// A storage failure. `Conflict` and `NotFound` are expected outcomes the caller turns into a
/// user-facing message; `Unavailable` means the database could not be reached (worth a retry,
/// e.g. sysexits 75 for an MTA pipe); `Corrupt` is a stored value the domain refuses; `Other`
/// is everything unexpected.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("the database is unreachable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("a stored value is invalid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<crate::domain::ParseEnumError> for StoreError {
    fn from(e: crate::domain::ParseEnumError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// Everything the storage adapters offer, as one object: each adapter implements every port,
/// and the composition root holds it as `Arc<dyn Store>`. The storage contract tests
/// (`tests/it/storage.rs`) run against both.
#[async_trait::async_trait]
pub trait Store:
    SubscriberStore
    + IssueStore
    + DeliveryStore
    + BounceStore
    + KeyStore
    + OutboxStore
    + WebhookStore
    + UserStore
    + ReaderLimitStore
    + EditorialStore
    + ImportStore
    + BackupStore
    + ConsoleStore
    + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// A round trip to the database (health checks).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Closes the pool, waiting for connections to be returned.
    async fn close(&self);
}
