//! Mailgun's event webhooks, `POST /webhooks/mailgun` (`[bounce.webhooks.mailgun]
//! signing_key`), in the JSON form Mailgun posts (`{"signature": …, "event-data": …}`).
//!
//! A request is believed only when `signature.signature` is the hex HMAC-SHA256, keyed by
//! the webhook signing key, of `signature.timestamp` followed by `signature.token`
//! (compared in constant time), the timestamp is within [`WINDOW`] of now either way, and the
//! token was never taken before; else 403 (`bad-signature`, `stale`, `replayed-token`). The
//! signature does not cover the event, so the token is what stops a captured request from
//! being sent again with other event data: it is taken in the database (shared by every
//! process) and kept for two windows; a request whose events could not be recorded gives its
//! token back, so Mailgun's retry of it is not refused.
//!
//! Acted on: `failed` (`severity: permanent` hard, `temporary` soft) and `complained`.
//! Recorded without effect: `delivered`. Ignored: the rest (`accepted`, `opened`, `clicked`,
//! `unsubscribed`, `stored`, `rejected`). The event id is `event-data.id`. Attribution reads
//! the message's `Message-ID` header as Mailgun reports it, and a `kairan_delivery` user
//! variable when one was set.
//!
//! Depends on the bounce use case and the webhook port (through `webhooks`) and HMAC.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::{Answer, Normalised, Provider, Refusal, Verified, bare_message_id, fresh, unhex};
use crate::app::bounces::Context;
use crate::app::ports::Store;
use crate::config::{MailgunWebhookSettings, Secret};
use crate::domain::BounceKind;

/// How far the signed timestamp may be from now.
pub const WINDOW: chrono::Duration = chrono::Duration::minutes(5);
/// A token longer than this is no Mailgun token (they are 50 characters).
const MAX_TOKEN: usize = 256;

pub struct Mailgun {
    signing_key: Secret,
}

impl Mailgun {
    pub fn new(settings: &MailgunWebhookSettings) -> Mailgun {
        Mailgun {
            signing_key: settings.signing_key.clone(),
        }
    }

    /// One request: verify, take the token, hand the event on.
    pub async fn handle(
        &self,
        store: &dyn Store,
        ctx: Context<'_>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Answer {
        let (token, verified) = self.verify(body, now)?;
        let provider = Provider::Mailgun;
        let taken = store
            .claim_webhook_token(provider.as_str(), &token, now, now - WINDOW * 2)
            .await
            .map_err(|e| super::unavailable(provider, &e))?;
        if !taken {
            return Err(Refusal::ReplayedToken);
        }
        let answer = super::ingest(store, ctx, provider, verified, now).await;
        if answer.is_err() {
            let _ = store.release_webhook_token(provider.as_str(), &token).await;
        }
        answer
    }

    /// The token and the event of a request whose signature and timestamp hold.
    fn verify(&self, body: &[u8], now: DateTime<Utc>) -> Result<(String, Verified), Refusal> {
        let r: Map<String, Value> = serde_json::from_slice(body).map_err(|_| Refusal::Malformed)?;
        let sig = r
            .get("signature")
            .and_then(Value::as_object)
            .ok_or(Refusal::BadSignature)?;
        // Mailgun sends the timestamp as text; a number is read the same.
        let timestamp = match sig.get("timestamp") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(Refusal::BadSignature),
        };
        let token = text(sig, "token").ok_or(Refusal::BadSignature)?;
        let given = text(sig, "signature")
            .and_then(unhex)
            .ok_or(Refusal::BadSignature)?;
        if token.len() > MAX_TOKEN {
            return Err(Refusal::Malformed);
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(self.signing_key.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(timestamp.as_bytes());
        mac.update(token.as_bytes());
        mac.verify_slice(&given)
            .map_err(|_| Refusal::BadSignature)?;
        let sent: i64 = timestamp.trim().parse().map_err(|_| Refusal::Stale)?;
        if !fresh(sent, now, WINDOW) {
            return Err(Refusal::Stale);
        }
        let data = r
            .get("event-data")
            .and_then(Value::as_object)
            .ok_or(Refusal::Malformed)?;
        let verified = match normalise(data)? {
            Some(n) => Verified {
                events: vec![n],
                ignored: 0,
            },
            None => Verified {
                events: Vec::new(),
                ignored: 1,
            },
        };
        Ok((token.to_owned(), verified))
    }
}

fn text<'a>(e: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    e.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The event in kairan's terms; `None` for one kairan neither acts on nor records.
fn normalise(d: &Map<String, Value>) -> Result<Option<Normalised>, Refusal> {
    let kind = match (text(d, "event"), text(d, "severity")) {
        (Some("failed"), Some("permanent")) => BounceKind::Hard,
        (Some("failed"), _) => BounceKind::Soft,
        (Some("complained"), _) => BounceKind::Complaint,
        (Some("delivered"), _) => BounceKind::Delivered,
        _ => return Ok(None),
    };
    let event_id = text(d, "id").ok_or(Refusal::Malformed)?.to_owned();
    let status = d.get("delivery-status").and_then(Value::as_object);
    let message_id = d
        .get("message")
        .and_then(|m| m.get("headers"))
        .and_then(Value::as_object)
        .and_then(|h| text(h, "message-id"))
        .and_then(bare_message_id);
    let token = d
        .get("user-variables")
        .and_then(Value::as_object)
        .and_then(|v| text(v, "kairan_delivery"));
    Ok(Some(Normalised {
        event_id,
        kind,
        recipient: text(d, "recipient").map(str::to_owned),
        status: status
            .and_then(|s| text(s, "enhanced-code"))
            .map(str::to_owned),
        diagnostic: status
            .and_then(|s| text(s, "message").or(text(s, "description")))
            .or(text(d, "reason"))
            .map(str::to_owned),
        provider_message_id: None,
        message_id,
        headers: token
            .map(|t| vec![("X-Kairan-Delivery".to_owned(), t.to_owned())])
            .unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "key-0123456789abcdef0123456789abcdef";

    fn signed(ts: &str, token: &str, data: Value) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        mac.update(format!("{ts}{token}").as_bytes());
        let sig = super::super::hex(&mac.finalize().into_bytes());
        serde_json::json!({
            "signature": {"timestamp": ts, "token": token, "signature": sig},
            "event-data": data
        })
        .to_string()
        .into_bytes()
    }

    /// The shape of Mailgun's `failed` (permanent) webhook sample.
    fn failed() -> Value {
        serde_json::json!({
            "event": "failed", "id": "G9Bn5sl1TC6nu79C8C0bwg", "timestamp": 1521233195.375624,
            "log-level": "error", "severity": "permanent", "reason": "suppress-bounce",
            "envelope": {"sender": "bob@sandbox.mailgun.org", "transport": "smtp", "targets": "alice@example.com"},
            "delivery-status": {"attempt-no": 1, "message": "", "code": 605,
                                "description": "Not delivering to previously bounced address", "session-seconds": 0.0},
            "message": {"headers": {"to": "Alice <alice@example.com>", "message-id": "7.42.kairan@example.org",
                                    "from": "Bob <bob@sandbox.mailgun.org>", "subject": "Test permanent_fail webhook"},
                        "attachments": [], "size": 111},
            "recipient": "alice@example.com", "recipient-domain": "example.com",
            "campaigns": [], "tags": ["my_tag_1"], "user-variables": {"my_var_1": "Mailgun Variable #1"}
        })
    }

    fn mailgun() -> Mailgun {
        Mailgun {
            signing_key: Secret::new(KEY),
        }
    }

    #[test]
    fn a_signed_fresh_failure_is_a_hard_bounce_naming_our_message() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let (token, v) = mailgun()
            .verify(&signed("1700000000", "tok-50", failed()), now)
            .unwrap();
        assert_eq!(token, "tok-50");
        let e = &v.events[0];
        assert_eq!(e.event_id, "G9Bn5sl1TC6nu79C8C0bwg");
        assert_eq!(e.kind, BounceKind::Hard);
        assert_eq!(e.recipient.as_deref(), Some("alice@example.com"));
        assert_eq!(e.message_id.as_deref(), Some("7.42.kairan@example.org"));
        assert_eq!(
            e.diagnostic.as_deref(),
            Some("Not delivering to previously bounced address")
        );
    }

    #[test]
    fn bad_signatures_and_stale_timestamps_are_refused() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut body: Value = serde_json::from_slice(&signed("1700000000", "t", failed())).unwrap();
        body["signature"]["token"] = "u".into();
        assert_eq!(
            mailgun()
                .verify(body.to_string().as_bytes(), now)
                .unwrap_err(),
            Refusal::BadSignature
        );
        let other_key = Mailgun {
            signing_key: Secret::new("key-other"),
        };
        assert_eq!(
            other_key
                .verify(&signed("1700000000", "t", failed()), now)
                .unwrap_err(),
            Refusal::BadSignature
        );
        assert_eq!(
            mailgun()
                .verify(&signed("1699999000", "t", failed()), now)
                .unwrap_err(),
            Refusal::Stale
        );
        assert_eq!(
            mailgun().verify(br#"{"event-data": {}}"#, now).unwrap_err(),
            Refusal::BadSignature
        );
    }

    #[test]
    fn severities_and_events_map_to_kinds() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let kind = |event: &str, severity: &str| {
            let mut d = failed();
            d["event"] = event.into();
            d["severity"] = severity.into();
            let (_, v) = mailgun()
                .verify(&signed("1700000000", "t", d), now)
                .unwrap();
            (v.events.first().map(|e| e.kind), v.ignored)
        };
        assert_eq!(kind("failed", "temporary"), (Some(BounceKind::Soft), 0));
        assert_eq!(kind("complained", ""), (Some(BounceKind::Complaint), 0));
        assert_eq!(kind("delivered", ""), (Some(BounceKind::Delivered), 0));
        assert_eq!(kind("opened", ""), (None, 1));
    }
}
