//! Ingesting one bounce, complaint or auto-reply (issue 6): parse, classify, attribute to a
//! subscriber, apply the policy, store the report for audit. Shared by the three sources:
//! `kairan bounce ingest` (MTA pipe), `POST /api/bounces` and the IMAP poller.
//!
//! Attribution, first match wins:
//! 1. the VERP address the bounce was sent to (`bounces+TOKEN@…` of `bounce.return_path`), from
//!    the envelope recipient the MTA passes, or the bounce's `To` / `Delivered-To` /
//!    `X-Original-To`;
//! 2. the `X-Kairan-Delivery: TOKEN` header of the returned original message;
//! 3. the failed recipient's address.
//!
//! A token must verify (HMAC, purpose `Bounce`) and name an existing delivery; a forged or
//! unknown one is ignored (attribution goes on to the next step) and counted in
//! `kairan_bounce_tokens_ignored_total{why}`.
//!
//! Policy: hard → `bounced`; soft → a score (+1 a day at most, forgotten after
//! `bounce.soft_window` without one) that sends the subscriber to `bounced` on reaching
//! `bounce.soft_threshold`; ARF complaint → `complained`; auto-reply and success notice →
//! recorded only. Leaving `active` skips the subscriber's open deliveries (the storage does it
//! in the same transaction).
//!
//! Idempotence: the same message (SHA-256 of its bytes) has one effect. The report is stored
//! *after* its effect, and every effect is idempotent on its own (status changes are
//! compare-and-set, the soft score counts at most once a day), so a crash or a database error
//! between the two leaves nothing half-done: the MTA retries, the effect is not repeated, and
//! the report is stored then.
//!
//! Depends on the domain, the ports, the settings and the pure parser (`bounce::parse`);
//! the sources that feed it (`bounce::sources`) depend on it, never the reverse.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ports::{KeyStore, Store, StoreError};
use crate::bounce::parse::{self, Kind, Report};
use crate::config::{BounceSettings, Settings};
use crate::domain::BounceRecord;
use crate::domain::token::{Purpose, Signer};
use crate::domain::{BounceKind, DeliveryId, EmailAddress, SubscriberId, SubscriberStatus};

/// Metric names.
pub const BOUNCES_TOTAL: &str = "kairan_bounces_total";
pub const TOKENS_IGNORED: &str = "kairan_bounce_tokens_ignored_total";

/// Where a message came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Pipe,
    Http,
    Imap,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Pipe => "pipe",
            Source::Http => "http",
            Source::Imap => "imap",
        }
    }
}

/// How the subscriber was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Attribution {
    /// The VERP token in the address the bounce was sent to.
    Verp,
    /// The `X-Kairan-Delivery` token of the returned message.
    Header,
    /// The failed recipient's address.
    Address,
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
    /// Recorded, nothing changed (auto-reply, success notice, or already in that state).
    None,
    /// A report about nobody we know.
    Unattributed,
    /// Not a bounce at all (or nothing the parser recognised).
    NotABounce,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Bounced => "bounced",
            Action::SoftScored { .. } => "soft-scored",
            Action::Complained => "complained",
            Action::None => "none",
            Action::Unattributed => "unattributed",
            Action::NotABounce => "not-a-bounce",
        }
    }
}

/// The outcome of ingesting one message.
#[derive(Debug, Clone, Serialize)]
pub struct Ingested {
    /// `sha256:` and the hex digest of the raw message.
    pub message_hash: String,
    /// The same message was ingested before: nothing was done this time.
    pub duplicate: bool,
    pub kind: Option<BounceKind>,
    #[serde(flatten)]
    pub action: Action,
    pub attribution: Option<Attribution>,
    pub subscriber_id: Option<SubscriberId>,
    pub delivery_id: Option<DeliveryId>,
    /// Tokens that did not verify or named no delivery (ignored).
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
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub settings: &'a BounceSettings,
    /// Verifies delivery tokens; `None` when no signing key is known (attribution then goes
    /// by address only).
    pub signer: Option<&'a Signer>,
}

/// The signer that made the VERP tokens: the configured key, or the generated one kept next
/// to the database. `None` (attribution by address only) when it cannot be read.
pub async fn signer(settings: &Settings, store: &dyn KeyStore) -> Option<Signer> {
    match crate::app::keys::signer(settings, store).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "no signing key: bounces are attributed by address only");
            None
        }
    }
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

/// What the report means for the subscriber, from its kind and first recipient.
pub fn classify(report: &Report) -> Option<BounceKind> {
    let first = report.recipients.first();
    match report.kind {
        Kind::NotBounce => None,
        Kind::Feedback => Some(BounceKind::Complaint),
        Kind::Vacation => Some(BounceKind::AutoReply),
        Kind::Delivered => Some(BounceKind::Delivered),
        Kind::Bounce => Some(match first.map(|r| r.reason) {
            Some(parse::Reason::Delivered) => BounceKind::Delivered,
            Some(parse::Reason::Vacation) => BounceKind::AutoReply,
            Some(parse::Reason::Feedback) => BounceKind::Complaint,
            _ if report.recipients.iter().any(|r| r.hard) => BounceKind::Hard,
            _ => BounceKind::Soft,
        }),
    }
}

/// The token of a VERP address `base+TOKEN@domain` of `return_path`, if `addr` is one.
pub fn verp_token<'a>(addr: &'a str, return_path: &EmailAddress) -> Option<&'a str> {
    let addr = addr.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, domain) = addr.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(return_path.domain()) {
        return None;
    }
    let (base, token) = local.split_once('+')?;
    (base.eq_ignore_ascii_case(return_path.local_part()) && !token.is_empty()).then_some(token)
}

/// Parses, attributes, applies the policy and stores one message. `envelope_to` is the
/// address the MTA delivered the bounce to, when it says (Postfix `${original_recipient}`).
/// Errors are storage errors only (worth a retry); any input is accepted.
#[tracing::instrument(skip_all, fields(source = source.as_str(), kind, action, subscriber_id))]
pub async fn ingest(
    store: &dyn Store,
    ctx: Context<'_>,
    raw: &[u8],
    source: Source,
    envelope_to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Ingested, StoreError> {
    let hash = message_hash(raw);
    let report = parse::parse(raw);
    let parsed = ParseOutput::from(&report);
    let kind = classify(&report);
    let mut out = Ingested {
        message_hash: hash.clone(),
        duplicate: false,
        kind,
        action: Action::NotABounce,
        attribution: None,
        subscriber_id: None,
        delivery_id: None,
        ignored_tokens: 0,
        parsed,
    };
    if store.bounce_report_exists(&hash).await? {
        out.duplicate = true;
        out.action = Action::None;
        metrics::counter!(BOUNCES_TOTAL, "result" => "duplicate").increment(1);
        tracing::info!("bounce message seen before: ignored");
        return Ok(out);
    }

    if let Some(kind) = kind {
        attribute(store, ctx, &report, envelope_to, &mut out).await?;
        out.action = match out.subscriber_id {
            None => Action::Unattributed,
            Some(id) => apply(store, ctx.settings, id, kind, now).await?,
        };
    }

    let first = report.recipients.first();
    let record = BounceRecord {
        message_hash: hash,
        received_at: now,
        source: source.as_str().to_owned(),
        kind,
        subscriber_id: out.subscriber_id,
        delivery_id: out.delivery_id,
        status_code: first.and_then(|r| r.status.clone()),
        reason: first.map(|r| r.reason.as_str().to_owned()),
        diagnostic: first.and_then(|r| r.diagnostic.clone()),
        action: out.action.as_str().to_owned(),
        parsed: serde_json::to_string(&report).unwrap_or_else(|_| "{}".into()),
    };
    if !store.insert_bounce_report(&record).await? {
        // Another ingester stored the same message meanwhile; its effect and ours are the
        // same idempotent change.
        out.duplicate = true;
    }
    let span = tracing::Span::current();
    span.record("kind", kind.map(|k| k.as_str()).unwrap_or("none"));
    span.record("action", out.action.as_str());
    if let Some(id) = out.subscriber_id {
        span.record("subscriber_id", id.get());
    }
    metrics::counter!(BOUNCES_TOTAL, "result" => out.action.as_str()).increment(1);
    tracing::info!(attribution = ?out.attribution, "bounce message ingested");
    Ok(out)
}

/// Finds the subscriber (and delivery) the report is about; fills `out`.
async fn attribute(
    store: &dyn Store,
    ctx: Context<'_>,
    report: &Report,
    envelope_to: Option<&str>,
    out: &mut Ingested,
) -> Result<(), StoreError> {
    if let Some(signer) = ctx.signer {
        let mut tokens: Vec<(Attribution, &str)> = Vec::new();
        if let Some(rp) = &ctx.settings.return_path {
            for addr in envelope_to
                .into_iter()
                .chain(report.envelope_to.iter().map(String::as_str))
            {
                if let Some(t) = verp_token(addr, rp) {
                    tokens.push((Attribution::Verp, t));
                }
            }
        }
        if let Some(t) = report.original_headers.kairan_delivery.as_deref() {
            tokens.push((Attribution::Header, t.trim()));
        }
        for (how, token) in tokens {
            let why = match signer.verify(token, Purpose::Bounce, Utc::now(), None) {
                Ok(id) => match store.delivery_ref(DeliveryId::new(id)).await? {
                    Some(d) => {
                        out.attribution = Some(how);
                        out.delivery_id = Some(d.id);
                        out.subscriber_id = Some(d.subscriber_id);
                        return Ok(());
                    }
                    None => "unknown",
                },
                Err(_) => "forged",
            };
            out.ignored_tokens += 1;
            metrics::counter!(TOKENS_IGNORED, "why" => why).increment(1);
            tracing::warn!(why, via = ?how, "bounce token ignored");
        }
    }
    for r in &report.recipients {
        let Some(addr) = r
            .address
            .as_deref()
            .and_then(|a| EmailAddress::parse(a).ok())
        else {
            continue;
        };
        if let Some(s) = store.subscriber_by_email(&addr).await? {
            out.attribution = Some(Attribution::Address);
            out.subscriber_id = Some(s.id);
            return Ok(());
        }
    }
    Ok(())
}

/// The policy.
async fn apply(
    store: &dyn Store,
    settings: &BounceSettings,
    id: SubscriberId,
    kind: BounceKind,
    now: DateTime<Utc>,
) -> Result<Action, StoreError> {
    use SubscriberStatus::*;
    let mailed = [Pending, Active];
    Ok(match kind {
        BounceKind::Hard => {
            if store
                .set_subscriber_status(id, &mailed, Bounced, Some("bounce"), now)
                .await?
            {
                Action::Bounced
            } else {
                Action::None
            }
        }
        BounceKind::Complaint => {
            if store
                .set_subscriber_status(
                    id,
                    &[Pending, Active, Unsubscribed, Bounced],
                    Complained,
                    Some("complaint"),
                    now,
                )
                .await?
            {
                Action::Complained
            } else {
                Action::None
            }
        }
        BounceKind::Soft => {
            let window = chrono::Duration::from_std(settings.soft_window)
                .unwrap_or_else(|_| chrono::Duration::days(30));
            let Some(score) = store
                .add_soft_bounce(id, now, now - window, now - chrono::Duration::days(1))
                .await?
            else {
                return Ok(Action::Unattributed);
            };
            if score >= f64::from(settings.soft_threshold)
                && store
                    .set_subscriber_status(id, &mailed, Bounced, Some("soft bounces"), now)
                    .await?
            {
                Action::Bounced
            } else {
                Action::SoftScored { score }
            }
        }
        BounceKind::AutoReply | BounceKind::Delivered => Action::None,
    })
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
}
