//! The HTTP source: what `POST /api/bounces` does with its body (one raw RFC 5322 message)
//! and `?recipient=`, free of the web framework; the axum route (`http::api_bounces`) maps
//! the [`Answer`] to a response.
//!
//! Depends on the bounce use case, the ports, the settings and the domain; no web framework.

use chrono::Utc;

use crate::app::bounces::{self, Context, Ingested, Source};
use crate::app::notify::Notifier;
use crate::app::ports::Store;
use crate::config::BounceSettings;
use crate::domain::Signer;

/// What became of a posted message.
#[derive(Debug)]
pub enum Answer {
    /// Parsed, attributed and recorded (202).
    Accepted(Box<Ingested>),
    /// The body is not a message at all (422).
    NotAMessage,
    /// The database failed; the sender should try again (503).
    Unavailable,
}

/// Ingests one posted message. `recipient` names the address it was delivered to, when a
/// relay forwarding return mail knows it (the VERP or List-Unsubscribe address). `answers`
/// answers a reader's mail to the bare return address.
pub async fn ingest(
    store: &dyn Store,
    settings: &BounceSettings,
    signer: &Signer,
    answers: Option<&Notifier>,
    body: &[u8],
    recipient: Option<&str>,
) -> Answer {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Answer::NotAMessage;
    }
    let ctx = Context {
        settings,
        signer,
        answers,
    };
    // An unencoded `+` in a query string arrives as a space, and an address has no spaces:
    // `?recipient=bounces+TOKEN@…` works as the sender meant it.
    let recipient = recipient.map(|r| r.trim().replace(' ', "+"));
    let recipient = recipient.as_deref();
    match bounces::ingest(store, ctx, body, Source::Http, recipient, Utc::now()).await {
        Ok(done) => Answer::Accepted(Box::new(done)),
        Err(e) => {
            tracing::error!(error = %e, "admin API: cannot record a bounce");
            Answer::Unavailable
        }
    }
}
