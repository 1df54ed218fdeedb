//! Pure domain types and rules: no tokio, sqlx, lettre or axum in here.
//!
//! Every status that is stored in a column is a Rust enum with an explicit, closed mapping
//! to and from its text form (`as_str` / `FromStr`), so SQL never carries loose strings.

pub mod delivery;
pub mod email;
pub mod negotiate;
pub mod reason;
pub use reason::Reason;
pub mod status;
pub mod token;

pub use email::{EmailAddress, EmailError, Mailbox};
pub use negotiate::{LangSource, negotiate};
pub use status::{
    BounceKind, DeliveryState, IssueState, Lang, LangPref, ParseEnumError, SubscriberStatus,
};
pub use token::{Purpose, Signer, TokenError};

/// Identifies a subscriber; this, never the address, goes into info-level logs.
pub type SubscriberId = i64;
/// Identifies an issue (one month's newsletter in both languages).
pub type IssueId = i64;
/// Identifies one (issue, subscriber) delivery.
pub type DeliveryId = i64;
