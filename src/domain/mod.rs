//! The domain: kairan's entities and values, and the rules that need nothing but them —
//! subscribers and their consent, issues, deliveries and the retry rules, bounce kinds,
//! typed ids, the email address type, statuses and their transitions, signed tokens,
//! language negotiation, the outgoing message value, and the transactional outbox's rows.
//!
//! Pure: no tokio, sqlx, lettre or axum, and nothing of the crate's other modules (a test in
//! the suite, `tests/it/layers.rs`, fails when one creeps in). Every status that is stored in
//! a column is a Rust enum with an explicit, closed mapping to and from its text form
//! (`as_str` / `FromStr`), so SQL never carries loose strings.

pub mod bounce;
pub mod consistency;
pub mod delivery;
pub mod email;
pub mod ids;
pub mod issue;
pub mod legacy_charset;
pub mod message;
pub mod message_id;
pub mod negotiate;
pub mod outbox;
pub mod reason;
pub use reason::Reason;
pub mod status;
pub mod subscriber;
pub mod token;
pub mod totp;
pub mod user;

pub use bounce::{BounceCount, BounceCounter, BounceKind, BounceRecord, DeliveryRef};
pub use delivery::{ClaimedDelivery, DeliveryCounts, DeliveryError, DeliveryOutcome};
pub use email::{EmailAddress, EmailError, Mailbox};
pub use ids::{DeliveryId, IssueId, MailId, SubscriberId};
pub use issue::{Issue, IssueContent, NewIssue, valid_slug};
pub use message::OutgoingMessage;
pub use negotiate::{LangSource, negotiate};
pub use outbox::{
    MailCounts, MailKind, MailOutcome, MailState, NewMail, QueuedMail, Recipient, RecipientKind,
};
pub use status::{DeliveryState, IssueState, Lang, LangPref, ParseEnumError, SubscriberStatus};
pub use subscriber::{
    Consent, NAME_MAX_CHARS, NameError, NewSubscriber, Subscriber, SubscriptionSource, parse_name,
};
pub use token::{Purpose, Signer, TokenError};
pub use user::{
    Action, AuditEntry, NewAudit, PasswordError, Role, SendRequest, SendRequestState, User,
};
