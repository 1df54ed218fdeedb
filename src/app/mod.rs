//! The use cases, one file each, and the ports they need ([`ports`]): every decision kairan
//! makes lives here — who may subscribe and when a confirmation is due ([`subscription`],
//! [`import`], [`notify`]), what an issue must be to be queued ([`editorial`]), when
//! campaigns start ([`scheduler`]) and how they are sent ([`dispatch`]), what a bounce means
//! ([`bounces`]), where the signing key comes from ([`keys`]), previews and test sends
//! ([`preview`]), the operator's view ([`status`]).
//!
//! Depends on the domain, its own ports, `render` (pure), the settings (`config`), and
//! tokio for its loops; never on an adapter (`storage`, `http`, `mail`, `bounce::sources`),
//! `startup` or `cli`, nor on sqlx, axum or lettre — `tests/it/layers.rs` checks it. The
//! adapters implement the ports or call the use cases (`docs/architecture.md`).

pub mod accounts;
pub mod backup;
pub mod bounces;
pub mod checks;
pub mod dashboard;
pub mod directory;
pub mod dispatch;
pub mod drafts;
pub mod editorial;
pub mod import;
pub mod issue_schedule;
pub mod keys;
pub mod media;
pub mod notify;
pub mod ports;
pub mod preview;
pub mod reader_guard;
pub mod readiness;
pub mod scheduler;
pub mod status;
pub mod subscription;
