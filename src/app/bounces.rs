//! The return mail channel as a use case (issues 6 and 12): one bounce, complaint, delay
//! notice, auto-reply, opt-out mail or provider event in; attributed to a subscriber (or to
//! nobody), the policy applied, the report and the channel's counters stored. Two entries
//! share one path ([`process`]): [`ingest`] for a raw RFC 5322 message (the MTA pipe,
//! `POST /api/bounces`, the IMAP poller) and [`ingest_event`] for a provider's event already
//! normalised by its webhook adapter ([`ProviderEvent`]).
//!
//! Attribution cannot be forged ([`attribute`]):
//! 1. Every token the report carries is verified: the one in the address the message was
//!    delivered to (`LOCAL+TOKEN@DOMAIN` of `bounce.return_path`: the VERP envelope sender of
//!    a campaign message, or the List-Unsubscribe `mailto:`), and the returned message's
//!    `X-Kairan-Delivery`; a campaign Message-ID's tag too. One that fails verification stops
//!    the report: it is recorded as `forged`, counted, and changes nothing.
//! 2. An unsubscribe token in that address is an opt-out by mail: the reader is unsubscribed
//!    (method `mail`), whatever the message says.
//! 3. A bounce token there (VERP) names the delivery, so the report acts on its reader.
//! 4. Without one, the report acts only when it corroborates a delivery we made: the returned
//!    message's `X-Kairan-Delivery` or campaign Message-ID names a delivery that was sent,
//!    to an address the report is about. Anything else is `unattributed`: nothing changes.
//!
//! Policy ([`policy`]): hard → `bounced`; soft → a score (+1 a day at most, forgotten after
//! `bounce.soft_window` without one) that sends the subscriber to `bounced` on reaching
//! `bounce.soft_threshold`; ARF complaint → `complained`; delay notice, auto-reply and success
//! notice → recorded only. Leaving `active` skips the subscriber's open deliveries (the
//! storage does it in the same transaction). A message to the bare return address that is no
//! report at all may be answered with the reader's unsubscribe link ([`answer`]).
//!
//! Idempotence: the same message (SHA-256 of its bytes) or provider event (its id) has one
//! effect. The report is stored *after* its effect, and every effect is idempotent on its own
//! (status changes are compare-and-set, the soft score counts at most once a day, an answer
//! at most once a day per reader), so a crash or a database error between the two leaves
//! nothing half-done: the source retries, the effect is not repeated, and the report is
//! stored then, with its counters in the same transaction ([`stored_counters`]).
//!
//! Depends on the domain, the ports, the settings, the subscription mails (`app::notify`)
//! and the pure parser (`bounce::parse`); the sources that feed it (`bounce::sources`)
//! depend on it, never the reverse.

mod answer;
mod attribute;
mod policy;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::notify::Notifier;
use super::ports::{BounceStore, CounterStep, KeyStore, Store, StoreError};
use crate::bounce::parse::{self, Kind, Report};
use crate::config::{BounceSettings, Settings};
use crate::domain::token::Signer;
use crate::domain::{
    BounceCounter, BounceKind, BounceRecord, DeliveryId, EmailAddress, Reason, SubscriberId,
};

/// Stored counters, shown by `kairan status` and every daemon's `/metrics` (`{result}`: an
/// [`Action`] or `duplicate`).
pub const BOUNCES_TOTAL: &str = "kairan_bounces_total";
/// Tokens that did not verify (`{why="forged"}`) or named no delivery (`{why="unknown"}`).
pub const TOKENS_IGNORED: &str = "kairan_bounce_tokens_ignored_total";
/// Reports attributed to a subscriber, by how (`{via}`: an [`Attribution`]).
pub const ATTRIBUTIONS: &str = "kairan_bounce_attributions_total";

/// The label each stored counter carries, with its help text.
pub const COUNTERS: [(&str, &str, &str); 3] = [
    (
        BOUNCES_TOTAL,
        "result",
        "Return mail ingested, by what it did (stored: every process counts).",
    ),
    (
        TOKENS_IGNORED,
        "why",
        "Tokens in return mail that did not verify (forged) or named no delivery (unknown).",
    ),
    (
        ATTRIBUTIONS,
        "via",
        "Return mail attributed to a subscriber, by how it was attributed.",
    ),
];

/// Where a report came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `kairan bounce ingest` (an MTA's pipe, `.forward`, procmail).
    Pipe,
    /// `POST /api/bounces`.
    Http,
    /// The mailbox `kairan serve` polls.
    Imap,
    /// Amazon SES through SNS (`/webhooks/ses`).
    Ses,
    /// SendGrid's event webhook (`/webhooks/sendgrid`).
    Sendgrid,
    /// Postmark's bounce and spam complaint webhooks (`/webhooks/postmark`).
    Postmark,
    /// Mailgun's event webhooks (`/webhooks/mailgun`).
    Mailgun,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Pipe => "pipe",
            Source::Http => "http",
            Source::Imap => "imap",
            Source::Ses => "ses",
            Source::Sendgrid => "sendgrid",
            Source::Postmark => "postmark",
            Source::Mailgun => "mailgun",
        }
    }
}

/// How the subscriber was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attribution {
    /// The bounce token in the address the report was delivered to (VERP).
    Verp,
    /// The returned message's `X-Kairan-Delivery`, naming a delivery sent to the address the
    /// report is about.
    Header,
    /// The returned message's campaign Message-ID, naming a delivery sent to that address.
    MessageId,
    /// The unsubscribe token in the address the message was sent to (List-Unsubscribe's
    /// `mailto:`).
    Mailto,
}

impl Attribution {
    pub fn as_str(self) -> &'static str {
        match self {
            Attribution::Verp => "verp",
            Attribution::Header => "header",
            Attribution::MessageId => "message-id",
            Attribution::Mailto => "mailto",
        }
    }
}

/// What the policy did; stored as the report's `action`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Action {
    /// The subscriber is now `bounced`.
    Bounced,
    /// A soft bounce was counted; the subscriber stays.
    SoftScored { score: f64 },
    /// The subscriber is now `complained`.
    Complained,
    /// A mail to the List-Unsubscribe `mailto:`: the subscriber is now `unsubscribed`.
    Unsubscribed,
    /// Recorded, nothing changed (delay notice, auto-reply, success notice, or already in
    /// that state).
    None,
    /// A report about nobody we can vouch for: nothing changed.
    Unattributed,
    /// A token (or campaign Message-ID) that did not verify: nothing changed.
    Forged,
    /// Not a report at all (or nothing the parser recognised), and not answered.
    NotABounce,
    /// A mail to the bare return address from a subscriber, answered with their unsubscribe
    /// link.
    Answered,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Bounced => "bounced",
            Action::SoftScored { .. } => "soft-scored",
            Action::Complained => "complained",
            Action::Unsubscribed => "unsubscribed",
            Action::None => "none",
            Action::Unattributed => "unattributed",
            Action::Forged => "forged",
            Action::NotABounce => "not-a-bounce",
            Action::Answered => "answered",
        }
    }
}

/// The outcome of ingesting one message or event.
#[derive(Debug, Clone, Serialize)]
pub struct Ingested {
    /// The idempotence key: `sha256:` and the hex digest of a raw message, or
    /// `SOURCE:EVENT-ID` of a provider event.
    pub message_hash: String,
    /// The same message or event was ingested before: nothing was done this time.
    pub duplicate: bool,
    pub kind: Option<BounceKind>,
    #[serde(flatten)]
    pub action: Action,
    pub attribution: Option<Attribution>,
    pub subscriber_id: Option<SubscriberId>,
    pub delivery_id: Option<DeliveryId>,
    /// Tokens that did not verify or named no delivery.
    pub ignored_tokens: u32,
    /// The parse result, as `kairan bounce parse` prints it.
    pub parsed: ParseOutput,
}

/// One recipient as `kairan bounce parse` prints it (`docs/contracts.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientOutput {
    pub address: Option<String>,
    pub status: Option<String>,
    pub reason: &'static str,
    pub hard: bool,
    pub diagnostic: Option<String>,
    /// `failed`, `delayed` or `delivered` (null for complaints and auto-replies): a delay
    /// warning is reported but is not a failure.
    pub action: Option<parse::Action>,
}

/// The parse result in the shape of `docs/contracts.md` (without the `file` field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseOutput {
    pub bounce: bool,
    pub recipients: Vec<RecipientOutput>,
}

impl From<&Report> for ParseOutput {
    fn from(r: &Report) -> Self {
        ParseOutput {
            bounce: r.bounce,
            recipients: r
                .recipients
                .iter()
                .map(|x| RecipientOutput {
                    address: x.address.clone(),
                    status: x.status.clone(),
                    reason: x.reason.as_str(),
                    hard: x.hard,
                    diagnostic: x.diagnostic.clone(),
                    action: x.action,
                })
                .collect(),
        }
    }
}

/// What ingestion needs besides the store.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub settings: &'a BounceSettings,
    /// Verifies tokens and campaign Message-IDs. Without it nothing can be attributed, so a
    /// source that cannot build it must not ingest (the pipe asks the MTA to retry).
    pub signer: &'a Signer,
    /// Answers mail to the bare return address with the reader's unsubscribe link; `None`:
    /// never answer (provider events, or a source without a mailer).
    pub answers: Option<&'a Notifier>,
}

/// A provider's report about one message we sent, normalised by its webhook adapter
/// (`bounce::sources::webhooks`), for [`ingest_event`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderEvent {
    /// Which provider (one of the webhook sources).
    pub source: Source,
    /// The provider's id of this event: the same id has one effect (a replay changes nothing).
    pub event_id: String,
    /// What the event means for the subscriber: `Hard` / `Soft` bounce, `Complaint`,
    /// `Delayed`, `Delivered`.
    pub kind: BounceKind,
    /// The recipient address the event is about.
    pub recipient: Option<String>,
    /// The RFC 3463 status, when the provider gives one.
    pub status: Option<String>,
    /// The reason in the parser's vocabulary, when the adapter can tell.
    pub reason: Option<Reason>,
    /// The provider's diagnostic text (the remote server's reply).
    pub diagnostic: Option<String>,
    /// The provider's own id of the message (recorded, not used to attribute).
    pub provider_message_id: Option<String>,
    /// The original message's `Message-ID`, with or without angle brackets.
    pub message_id: Option<String>,
    /// Headers of the original message the provider passes back (name, value), e.g.
    /// `X-Kairan-Delivery`; names compare case-insensitively.
    pub headers: Vec<(String, String)>,
}

/// `sha256:<hex>` of the raw bytes.
pub fn message_hash(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The signer that made the tokens: the configured key, or the generated one kept next to
/// the database. An error means nothing can be attributed now (the key file cannot be read):
/// the caller should leave the message for later rather than ingest it blind.
pub async fn signer(settings: &Settings, store: &dyn KeyStore) -> anyhow::Result<Signer> {
    crate::app::keys::signer(settings, store).await
}

/// The `mailto:` of List-Unsubscribe for a reader's unsubscribe token: the return path with
/// the token after the `+` delimiter (as VERP), so a mail to it opts the reader out through
/// any ingest path. Without `bounce.return_path` no mail reaches kairan, so it names the
/// newsletter's Reply-To (else From), read by a person.
pub fn unsubscribe_mailto(settings: &Settings, unsubscribe_token: &str) -> String {
    match &settings.bounce.return_path {
        Some(rp) => format!(
            "mailto:{}+{unsubscribe_token}@{}?subject=unsubscribe",
            rp.local_part(),
            rp.domain()
        ),
        None => {
            let n = &settings.newsletter;
            let to = n.reply_to.as_ref().unwrap_or(&n.from.address);
            format!("mailto:{to}?subject=unsubscribe")
        }
    }
}

/// What the report means for the subscriber, from its kind and recipients. A delay notice
/// (every recipient `delayed`) is [`BounceKind::Delayed`], never a failure (RFC 3464); in a
/// report that mixes them, only the failed recipients decide.
pub fn classify(report: &Report) -> Option<BounceKind> {
    match report.kind {
        Kind::NotBounce => None,
        Kind::Feedback => Some(BounceKind::Complaint),
        Kind::Vacation => Some(BounceKind::AutoReply),
        Kind::Delivered => Some(BounceKind::Delivered),
        Kind::Bounce => {
            let failed: Vec<_> = report
                .recipients
                .iter()
                .filter(|r| r.action != Some(parse::Action::Delayed))
                .collect();
            if failed.is_empty() && !report.recipients.is_empty() {
                return Some(BounceKind::Delayed);
            }
            Some(match failed.first().map(|r| r.reason) {
                Some(Reason::Delivered) => BounceKind::Delivered,
                Some(Reason::Vacation) => BounceKind::AutoReply,
                Some(Reason::Feedback) => BounceKind::Complaint,
                _ if failed.iter().any(|r| r.hard) => BounceKind::Hard,
                _ => BounceKind::Soft,
            })
        }
    }
}

/// The token of an address `LOCAL+TOKEN@DOMAIN` of `return_path`, if `addr` is one.
pub fn verp_token<'a>(addr: &'a str, return_path: &EmailAddress) -> Option<&'a str> {
    let addr = addr.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, domain) = addr.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(return_path.domain()) {
        return None;
    }
    let (base, token) = local.split_once('+')?;
    (base.eq_ignore_ascii_case(return_path.local_part()) && !token.is_empty()).then_some(token)
}

/// One report, whatever it came from, as attribution and the policy read it.
struct Evidence<'a> {
    /// The idempotence key.
    key: String,
    source: Source,
    kind: Option<BounceKind>,
    /// Where the message was delivered: the envelope recipient when the source knows it,
    /// else the message's own `To` / `Delivered-To` / `X-Original-To`. Empty for events.
    delivered_to: Vec<&'a str>,
    /// The returned message's `X-Kairan-Delivery`.
    delivery_token: Option<&'a str>,
    /// The returned message's `Message-ID`.
    message_id: Option<&'a str>,
    /// The addresses the report is about.
    addresses: Vec<EmailAddress>,
    parsed: ParseOutput,
    /// What is stored as the report's `parsed` (JSON).
    stored: String,
    /// For a raw message: whether and to whom an answer is possible.
    answerable: Option<answer::Request>,
}

/// Parses, attributes, applies the policy and stores one raw message. `envelope_to` is the
/// address the MTA delivered it to, when it says (Postfix `${original_recipient}`, the API's
/// `?recipient=`). Errors are storage errors only (worth a retry); any input is accepted.
#[tracing::instrument(skip_all, fields(source = source.as_str(), kind, action, subscriber_id))]
pub async fn ingest(
    store: &dyn Store,
    ctx: Context<'_>,
    raw: &[u8],
    source: Source,
    envelope_to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Ingested, StoreError> {
    let report = parse::parse(raw);
    let kind = classify(&report);
    // The envelope is where the message really went; its headers say so only when no MTA
    // told us.
    let delivered_to = match envelope_to {
        Some(e) => vec![e],
        None => report.envelope_to.iter().map(String::as_str).collect(),
    };
    let ev = Evidence {
        key: message_hash(raw),
        source,
        kind,
        delivered_to,
        delivery_token: report.original_headers.kairan_delivery.as_deref(),
        message_id: report.original_headers.message_id.as_deref(),
        addresses: report
            .recipients
            .iter()
            .filter_map(|r| r.address.as_deref())
            .filter_map(|a| EmailAddress::parse(a).ok())
            .collect(),
        parsed: ParseOutput::from(&report),
        stored: serde_json::to_string(&report).unwrap_or_else(|_| "{}".into()),
        answerable: (kind.is_none()).then(|| answer::request(raw)).flatten(),
    };
    process(store, ctx, ev, now).await
}

/// Attributes, applies the policy and stores one provider event, on the same path as a raw
/// message: a replayed event id changes nothing, a forged `X-Kairan-Delivery` stops it, and it
/// acts only when its Message-ID or `X-Kairan-Delivery` names a delivery we sent to its
/// recipient. Errors are storage errors only (answer so that the provider retries).
#[tracing::instrument(skip_all, fields(source = event.source.as_str(), kind, action, subscriber_id))]
pub async fn ingest_event(
    store: &dyn Store,
    ctx: Context<'_>,
    event: &ProviderEvent,
    now: DateTime<Utc>,
) -> Result<Ingested, StoreError> {
    let reason = event.reason.unwrap_or(match event.kind {
        BounceKind::Complaint => Reason::Feedback,
        BounceKind::Delivered => Reason::Delivered,
        BounceKind::AutoReply => Reason::Vacation,
        _ => Reason::Undefined,
    });
    let header = |name: &str| {
        event
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let parsed = ParseOutput {
        bounce: true,
        recipients: vec![RecipientOutput {
            address: event.recipient.clone(),
            status: event.status.clone(),
            reason: reason.as_str(),
            hard: event.kind == BounceKind::Hard,
            diagnostic: event.diagnostic.clone(),
            action: match event.kind {
                BounceKind::Hard | BounceKind::Soft => Some(parse::Action::Failed),
                BounceKind::Delayed => Some(parse::Action::Delayed),
                BounceKind::Delivered => Some(parse::Action::Delivered),
                BounceKind::Complaint | BounceKind::AutoReply => None,
            },
        }],
    };
    let ev = Evidence {
        key: format!("{}:{}", event.source.as_str(), event.event_id),
        source: event.source,
        kind: Some(event.kind),
        delivered_to: Vec::new(),
        delivery_token: header("x-kairan-delivery"),
        message_id: event.message_id.as_deref().or_else(|| header("message-id")),
        addresses: event
            .recipient
            .as_deref()
            .and_then(|a| EmailAddress::parse(a).ok())
            .into_iter()
            .collect(),
        parsed,
        stored: serde_json::to_string(event).unwrap_or_else(|_| "{}".into()),
        answerable: None,
    };
    process(store, ctx, ev, now).await
}

/// The shared path: idempotence, attribution, policy, the stored report and its counters.
async fn process(
    store: &dyn Store,
    ctx: Context<'_>,
    ev: Evidence<'_>,
    now: DateTime<Utc>,
) -> Result<Ingested, StoreError> {
    let mut out = Ingested {
        message_hash: ev.key.clone(),
        duplicate: false,
        kind: ev.kind,
        action: Action::NotABounce,
        attribution: None,
        subscriber_id: None,
        delivery_id: None,
        ignored_tokens: 0,
        parsed: ev.parsed.clone(),
    };
    if store.bounce_report_exists(&ev.key).await? {
        out.duplicate = true;
        out.action = Action::None;
        store
            .add_bounce_counters(&[(BOUNCES_TOTAL, "duplicate", 1)])
            .await?;
        tracing::info!("return mail seen before: ignored");
        return Ok(out);
    }

    let found = attribute::attribute(store, ctx, &ev, now).await?;
    out.ignored_tokens = found.forged + found.unknown;
    out.action = match found.verdict {
        attribute::Verdict::Forged => Action::Forged,
        attribute::Verdict::OptOut(id) => {
            out.attribution = Some(Attribution::Mailto);
            out.subscriber_id = Some(id);
            policy::opt_out(store, id, now).await?
        }
        attribute::Verdict::Delivery(how, d) => {
            out.attribution = Some(how);
            out.subscriber_id = Some(d.subscriber_id);
            out.delivery_id = Some(d.id);
            match ev.kind {
                Some(kind) => {
                    policy::apply(store, ctx.settings, d.subscriber_id, kind, now).await?
                }
                None => Action::NotABounce,
            }
        }
        attribute::Verdict::Nobody => match (ev.kind, &ev.answerable) {
            (Some(_), _) => Action::Unattributed,
            (None, Some(request)) if !found.any_token => {
                answer::answer(store, ctx, request, now).await?
            }
            (None, _) => Action::NotABounce,
        },
    };

    let first = ev.parsed.recipients.first();
    let record = BounceRecord {
        message_hash: ev.key.clone(),
        received_at: now,
        source: ev.source.as_str().to_owned(),
        kind: ev.kind,
        subscriber_id: out.subscriber_id,
        delivery_id: out.delivery_id,
        status_code: first.and_then(|r| r.status.clone()),
        reason: first.map(|r| r.reason.to_owned()),
        diagnostic: first.and_then(|r| r.diagnostic.clone()),
        action: out.action.as_str().to_owned(),
        attribution: out.attribution.map(|a| a.as_str().to_owned()),
        parsed: ev.stored,
    };
    let mut counts: Vec<CounterStep> = vec![(BOUNCES_TOTAL, out.action.as_str(), 1)];
    if found.forged > 0 {
        counts.push((TOKENS_IGNORED, "forged", u64::from(found.forged)));
    }
    if found.unknown > 0 {
        counts.push((TOKENS_IGNORED, "unknown", u64::from(found.unknown)));
    }
    if let Some(a) = out.attribution {
        counts.push((ATTRIBUTIONS, a.as_str(), 1));
    }
    if !store.insert_bounce_report(&record, &counts).await? {
        // Another ingester stored the same message meanwhile; its effect and ours are the
        // same idempotent change, and it counted it.
        out.duplicate = true;
    }
    let span = tracing::Span::current();
    span.record("kind", ev.kind.map(|k| k.as_str()).unwrap_or("none"));
    span.record("action", out.action.as_str());
    if let Some(id) = out.subscriber_id {
        span.record("subscriber_id", id.get());
    }
    tracing::info!(attribution = ?out.attribution, ignored_tokens = out.ignored_tokens, "return mail ingested");
    Ok(out)
}

/// The return channel's stored counters, for `/metrics` and `kairan status`.
pub async fn stored_counters(store: &dyn BounceStore) -> Result<Vec<BounceCounter>, StoreError> {
    store.bounce_counters().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verp_address_yields_its_token_only_for_our_return_path() {
        let rp = EmailAddress::parse("bounces@example.org").unwrap();
        assert_eq!(
            verp_token("bounces+abc_-1@example.org", &rp),
            Some("abc_-1")
        );
        assert_eq!(verp_token("<Bounces+abc@EXAMPLE.org>", &rp), Some("abc"));
        assert_eq!(verp_token("bounces@example.org", &rp), None);
        assert_eq!(verp_token("bounces+@example.org", &rp), None);
        assert_eq!(verp_token("other+abc@example.org", &rp), None);
        assert_eq!(verp_token("bounces+abc@example.net", &rp), None);
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            message_hash(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    fn recipient(action: parse::Action, hard: bool) -> parse::Recipient {
        parse::Recipient {
            address: Some("a@example.jp".into()),
            reason: if hard {
                Reason::UserUnknown
            } else {
                Reason::Expired
            },
            hard,
            action: Some(action),
            ..Default::default()
        }
    }

    #[test]
    fn a_delay_notice_is_its_own_kind_and_only_failures_decide_a_mixed_report() {
        let report = |recipients| Report {
            bounce: true,
            kind: Kind::Bounce,
            recipients,
            ..Default::default()
        };
        let delayed = recipient(parse::Action::Delayed, false);
        let failed = recipient(parse::Action::Failed, true);
        assert_eq!(
            classify(&report(vec![delayed.clone()])),
            Some(BounceKind::Delayed)
        );
        assert_eq!(
            classify(&report(vec![delayed.clone(), failed])),
            Some(BounceKind::Hard)
        );
        assert_eq!(
            classify(&report(vec![recipient(parse::Action::Failed, false)])),
            Some(BounceKind::Soft)
        );
        assert_eq!(classify(&report(vec![])), Some(BounceKind::Soft));
    }
}
