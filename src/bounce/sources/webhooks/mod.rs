//! The sending providers' event webhooks (issue 12): Amazon SES through SNS ([`ses`]),
//! SendGrid ([`sendgrid`]), Postmark ([`postmark`]) and Mailgun ([`mailgun`]). Each turns one
//! HTTP request into provider events already checked to come from the provider, normalises
//! them into the bounce use case's vocabulary ([`Normalised`]) and hands each to
//! `app::bounces::ingest_event`, the same attribution, policy and ledger as a bounce piped in
//! by an MTA: a provider's claim still has to name a delivery we made to that address (by
//! the original Message-ID or `X-Kairan-Delivery`), and an event id seen before changes
//! nothing.
//!
//! Each fails closed. Nothing is believed before it is verified: SES by the SNS signature
//! (and a pinned topic), SendGrid by its ECDSA signature over timestamp and body, Mailgun by
//! its HMAC over timestamp and token (and a token taken once), Postmark by HTTP basic
//! credentials. What each answers ([`Answer`]) the HTTP adapter (`http::webhooks`) maps to a
//! status: accepted 200, a bad signature or stale timestamp 403, wrong credentials 401, a
//! body that is no event at all 400, and 503 when the database (or, for SES, the certificate
//! host) fails, so that the provider retries later.
//!
//! Metrics: `kairan_webhook_requests_total{provider, result}` per request and
//! `kairan_webhook_events_total{provider, result}` per event (`accepted`, `replay`,
//! `ignored`), beside the use case's stored bounce counters.
//!
//! Depends on the bounce use case and ports, the settings, the domain and the pure parser;
//! no web framework (the routes are `http::webhooks`).

pub mod mailgun;
pub mod postmark;
pub mod sendgrid;
pub mod ses;
pub mod sns_http;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::app::bounces::{self, Context, ProviderEvent, Source};
use crate::app::ports::{Store, StoreError};
use crate::bounce::parse::reason::{Facts, find as find_reason};
use crate::config::WebhookSettings;
use crate::domain::{BounceKind, Reason};

/// Per request, by provider and result.
pub const REQUESTS_TOTAL: &str = "kairan_webhook_requests_total";
/// Per provider event in an accepted request: `accepted`, `replay` or `ignored`.
pub const EVENTS_TOTAL: &str = "kairan_webhook_events_total";

/// The four providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Ses,
    Sendgrid,
    Postmark,
    Mailgun,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        self.source().as_str()
    }

    /// The bounce use case's name for where a report came in.
    pub fn source(self) -> Source {
        match self {
            Provider::Ses => Source::Ses,
            Provider::Sendgrid => Source::Sendgrid,
            Provider::Postmark => Source::Postmark,
            Provider::Mailgun => Source::Mailgun,
        }
    }
}

/// One provider event about one recipient, in the bounce use case's terms. What is not an
/// event kairan acts on or records (opens, clicks, sends) never becomes one.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalised {
    /// The provider's id of the event: a replay of it changes nothing.
    pub event_id: String,
    pub kind: BounceKind,
    pub recipient: Option<String>,
    /// RFC 3463 status, when the provider gives one.
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    /// The provider's id of the message (recorded only).
    pub provider_message_id: Option<String>,
    /// The original message's Message-ID.
    pub message_id: Option<String>,
    /// Original headers the provider passes back (`X-Kairan-Delivery` among them).
    pub headers: Vec<(String, String)>,
}

impl Normalised {
    /// The event for the use case, with a reason in the parser's vocabulary when the status
    /// or the diagnostic tells one.
    fn into_event(self, provider: Provider) -> ProviderEvent {
        let reason = reason_of(
            self.kind,
            self.status.as_deref(),
            self.diagnostic.as_deref(),
        );
        ProviderEvent {
            source: provider.source(),
            event_id: self.event_id,
            kind: self.kind,
            recipient: self.recipient,
            status: self.status,
            reason,
            diagnostic: self.diagnostic,
            provider_message_id: self.provider_message_id,
            message_id: self.message_id,
            headers: self.headers,
        }
    }
}

/// The parser's classifier on what the provider says; `None` when it says too little.
fn reason_of(kind: BounceKind, status: Option<&str>, diagnostic: Option<&str>) -> Option<Reason> {
    if !matches!(kind, BounceKind::Hard | BounceKind::Soft) {
        return None;
    }
    let facts = Facts {
        status: status.unwrap_or_default().to_owned(),
        diagnosis: diagnostic.unwrap_or_default().to_owned(),
        action: "failed".into(),
        ..Facts::default()
    };
    find_reason(&facts)
        .parse::<Reason>()
        .ok()
        .filter(|r| *r != Reason::Undefined)
}

/// Why a request was refused, and how to answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 400: not the provider's format.
    Malformed,
    /// 401: HTTP basic credentials missing or wrong (Postmark).
    Unauthorized,
    /// 403: the signature does not verify (or is missing).
    BadSignature,
    /// 403: the signed timestamp is too old or in the future.
    Stale,
    /// 403: a signed request's one-time token was used before (Mailgun).
    ReplayedToken,
    /// 403: an SNS topic not in `topic_arns`.
    UnknownTopic,
    /// 403: a certificate or subscription URL not on an SNS host.
    UntrustedUrl,
    /// 503: the signing certificate could not be fetched, or the confirmation failed.
    Upstream,
    /// 503: the database failed.
    Unavailable,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::Unauthorized => "unauthorized",
            Refusal::BadSignature => "bad-signature",
            Refusal::Stale => "stale",
            Refusal::ReplayedToken => "replayed-token",
            Refusal::UnknownTopic => "unknown-topic",
            Refusal::UntrustedUrl => "untrusted-url",
            Refusal::Upstream => "upstream",
            Refusal::Unavailable => "unavailable",
        }
    }
}

/// What became of a request that was let in.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    /// Events handed to the bounce use case and recorded.
    pub accepted: u32,
    /// Events whose id was seen before: nothing changed.
    pub replays: u32,
    /// Events kairan neither acts on nor records (opens, clicks, …).
    pub ignored: u32,
    /// An SNS subscription confirmed.
    pub confirmed: bool,
}

/// The answer to one webhook request.
pub type Answer = Result<Accepted, Refusal>;

/// The configured webhooks, built once at start: parsed keys, the SNS certificate cache.
pub struct Webhooks {
    pub ses: Option<ses::Ses>,
    pub sendgrid: Option<sendgrid::Sendgrid>,
    pub postmark: Option<postmark::Postmark>,
    pub mailgun: Option<mailgun::Mailgun>,
}

impl Webhooks {
    /// From the settings; `sns` fetches SNS certificates and confirms subscriptions.
    pub fn new(settings: &WebhookSettings, sns: Arc<dyn sns_http::SnsHttp>) -> Webhooks {
        Webhooks {
            ses: settings.ses.as_ref().map(|s| ses::Ses::new(s, sns)),
            sendgrid: settings.sendgrid.as_ref().map(sendgrid::Sendgrid::new),
            postmark: settings.postmark.as_ref().map(postmark::Postmark::new),
            mailgun: settings.mailgun.as_ref().map(mailgun::Mailgun::new),
        }
    }
}

/// Events of one verified request: those kairan acts on or records, and how many it does not.
#[derive(Debug, Default)]
pub struct Verified {
    pub events: Vec<Normalised>,
    pub ignored: u32,
}

/// Hands each event to the bounce use case; an event id seen before is a replay and
/// changes nothing. Stops at the first database error, answered `Unavailable` (the provider
/// retries the request, and the events already taken are replays then).
pub async fn ingest(
    store: &dyn Store,
    ctx: Context<'_>,
    provider: Provider,
    verified: Verified,
    now: DateTime<Utc>,
) -> Answer {
    let mut out = Accepted {
        ignored: verified.ignored,
        ..Accepted::default()
    };
    if verified.ignored > 0 {
        metrics::counter!(EVENTS_TOTAL, "provider" => provider.as_str(), "result" => "ignored")
            .increment(u64::from(verified.ignored));
    }
    for n in verified.events {
        let done = bounces::ingest_event(store, ctx, &n.into_event(provider), now)
            .await
            .map_err(|e| unavailable(provider, &e))?;
        let result = if done.duplicate {
            out.replays += 1;
            "replay"
        } else {
            out.accepted += 1;
            "accepted"
        };
        metrics::counter!(EVENTS_TOTAL, "provider" => provider.as_str(), "result" => result)
            .increment(1);
    }
    Ok(out)
}

/// Logs a database failure; the request is answered 503 so that the provider retries.
fn unavailable(provider: Provider, e: &StoreError) -> Refusal {
    tracing::error!(provider = provider.as_str(), error = %e, "cannot record a provider event");
    Refusal::Unavailable
}

/// Counts a request's result (`accepted` or the refusal) and passes the answer on.
pub fn counted(provider: Provider, answer: Answer) -> Answer {
    let result = match &answer {
        Ok(a) if a.confirmed => "confirmed",
        Ok(_) => "accepted",
        Err(r) => r.as_str(),
    };
    metrics::counter!(REQUESTS_TOTAL, "provider" => provider.as_str(), "result" => result)
        .increment(1);
    if let Err(r) = &answer {
        tracing::warn!(
            provider = provider.as_str(),
            refusal = r.as_str(),
            "webhook request refused"
        );
    }
    answer
}

/// Whether a signed Unix timestamp (seconds) is within `window` of `now`, either way.
fn fresh(timestamp: i64, now: DateTime<Utc>, window: chrono::Duration) -> bool {
    (now.timestamp() - timestamp).abs() <= window.num_seconds()
}

/// A Message-ID without its angle brackets and surrounding space.
fn bare_message_id(s: &str) -> Option<String> {
    let id = s
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes hex (either case); `None` for anything else.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_holds_both_ways_within_the_window() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let w = chrono::Duration::minutes(5);
        assert!(fresh(1_700_000_000 - 300, now, w));
        assert!(fresh(1_700_000_000 + 300, now, w));
        assert!(!fresh(1_700_000_000 - 301, now, w));
        assert!(!fresh(1_700_000_000 + 301, now, w));
    }

    #[test]
    fn message_ids_lose_their_brackets() {
        assert_eq!(
            bare_message_id(" <1.2.kairan@example.org> ").as_deref(),
            Some("1.2.kairan@example.org")
        );
        assert_eq!(bare_message_id("<>"), None);
    }

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_hex() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])).unwrap(),
            [0, 1, 0xab, 0xff]
        );
        assert_eq!(unhex("ABcd").unwrap(), [0xab, 0xcd]);
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("+1"), None);
    }

    #[test]
    fn reasons_come_from_the_status_and_the_diagnostic() {
        assert_eq!(
            reason_of(
                BounceKind::Hard,
                Some("5.1.1"),
                Some("smtp; 550 5.1.1 <jane@example.com>... User unknown")
            ),
            Some(Reason::UserUnknown)
        );
        assert_eq!(
            reason_of(BounceKind::Soft, Some("4.2.2"), Some("mailbox full")),
            Some(Reason::MailboxFull)
        );
        assert_eq!(reason_of(BounceKind::Complaint, None, None), None);
        assert_eq!(reason_of(BounceKind::Hard, None, None), None);
    }
}
