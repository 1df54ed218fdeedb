//! SendGrid's signed event webhook, `POST /webhooks/sendgrid`
//! (`[bounce.webhooks.sendgrid] public_key`).
//!
//! A request is believed only when `X-Twilio-Email-Event-Webhook-Signature` is a valid
//! ECDSA P-256 / SHA-256 signature (base64 DER) of the `X-Twilio-Email-Event-Webhook-Timestamp`
//! value followed by the raw body, by the configured verification key, and that timestamp is
//! within [`WINDOW`] of now, either way; else 403 (`bad-signature`, `stale`).
//!
//! The body is a JSON array of events. Acted on: `bounce` (hard; `type: blocked` soft),
//! `dropped` for a `Bounced Address` or an `Invalid` one (hard) or a `Spam Reporting Address`
//! (a complaint), `spamreport` (a complaint). Recorded without effect: `deferred` (a delay)
//! and `delivered`. Ignored: every other event (`processed`, `open`, `click`, `unsubscribe`,
//! `group_unsubscribe`, `group_resubscribe`) and drops for reasons about the sending rather
//! than the address (`Unsubscribed Address`, `Spam Content`, quotas…). The event id is
//! `sg_event_id`. Attribution reads `smtp-id`, the Message-ID the message was sent with, and
//! a `kairan_delivery` custom argument when one was set.
//!
//! Depends on the bounce use case (through `webhooks`) and ring for ECDSA.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::{Answer, Normalised, Refusal, Verified, bare_message_id, fresh};
use crate::app::bounces::Context;
use crate::app::ports::Store;
use crate::config::SendgridWebhookSettings;
use crate::domain::BounceKind;

pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";
/// How far the signed timestamp may be from now.
pub const WINDOW: chrono::Duration = chrono::Duration::minutes(5);

pub struct Sendgrid {
    /// The verification key's uncompressed P-256 point.
    point: Vec<u8>,
}

impl Sendgrid {
    pub fn new(settings: &SendgridWebhookSettings) -> Sendgrid {
        Sendgrid {
            point: settings.public_key.clone(),
        }
    }

    /// One request: verify the signature and its timestamp, then hand the events on.
    pub async fn handle(
        &self,
        store: &dyn Store,
        ctx: Context<'_>,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Answer {
        self.verify(signature, timestamp, body, now)?;
        let verified = events(body)?;
        super::ingest(store, ctx, super::Provider::Sendgrid, verified, now).await
    }

    fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        use base64::Engine as _;
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Err(Refusal::BadSignature);
        };
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|_| Refusal::BadSignature)?;
        let mut signed = Vec::with_capacity(timestamp.len() + body.len());
        signed.extend_from_slice(timestamp.as_bytes());
        signed.extend_from_slice(body);
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            &self.point,
        )
        .verify(&signed, &signature)
        .map_err(|_| Refusal::BadSignature)?;
        let sent: i64 = timestamp.trim().parse().map_err(|_| Refusal::Stale)?;
        if fresh(sent, now, WINDOW) {
            Ok(())
        } else {
            Err(Refusal::Stale)
        }
    }
}

/// The events of a verified body.
fn events(body: &[u8]) -> Result<Verified, Refusal> {
    let list: Vec<Map<String, Value>> =
        serde_json::from_slice(body).map_err(|_| Refusal::Malformed)?;
    let mut out = Verified::default();
    for e in &list {
        match normalise(e) {
            Some(n) => out.events.push(n),
            None => out.ignored += 1,
        }
    }
    Ok(out)
}

fn text<'a>(e: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    e.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// One event in kairan's terms; `None` for one kairan neither acts on nor records.
fn normalise(e: &Map<String, Value>) -> Option<Normalised> {
    let reason = text(e, "reason");
    let kind = match text(e, "event")? {
        "bounce" if text(e, "type") == Some("blocked") => BounceKind::Soft,
        "bounce" => BounceKind::Hard,
        "dropped" => match reason? {
            "Bounced Address" | "Invalid" => BounceKind::Hard,
            "Spam Reporting Address" => BounceKind::Complaint,
            _ => return None,
        },
        "spamreport" => BounceKind::Complaint,
        "deferred" => BounceKind::Delayed,
        "delivered" => BounceKind::Delivered,
        _ => return None,
    };
    // SendGrid always sends `sg_event_id`; without one the event's own bytes stand in, so
    // the same event posted twice is still one.
    let event_id = match text(e, "sg_event_id") {
        Some(id) => id.to_owned(),
        None => {
            let digest = Sha256::digest(Value::Object(e.clone()).to_string().as_bytes());
            format!("sha256:{}", super::hex(&digest))
        }
    };
    let headers = text(e, "kairan_delivery")
        .map(|t| vec![("X-Kairan-Delivery".to_owned(), t.to_owned())])
        .unwrap_or_default();
    Some(Normalised {
        event_id,
        kind,
        recipient: text(e, "email").map(str::to_owned),
        status: text(e, "status").map(str::to_owned),
        diagnostic: reason.or(text(e, "response")).map(str::to_owned),
        provider_message_id: text(e, "sg_message_id").map(str::to_owned),
        message_id: text(e, "smtp-id").and_then(bare_message_id),
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events in the shapes of SendGrid's event webhook reference.
    const SAMPLE: &str = r#"[
      {"email":"example@test.com","timestamp":1513299569,"smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
       "event":"processed","category":"cat facts","sg_event_id":"rbtnWrG1DVDGGGFHFyun0A==",
       "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000"},
      {"email":"example@test.com","timestamp":1513299569,"smtp-id":"<7.42.kairan@example.org>",
       "event":"bounce","category":"cat facts","sg_event_id":"6g4ZI7SA-xmRDv57GoPIPw==",
       "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000",
       "reason":"500 unknown recipient","status":"5.0.0","type":"bounce"},
      {"email":"example@test.com","timestamp":1513299569,"smtp-id":"<x@y>","event":"bounce",
       "sg_event_id":"blocked-1","reason":"421 try later","status":"4.0.0","type":"blocked"},
      {"email":"example@test.com","timestamp":1513299569,"smtp-id":"<x@y>","event":"dropped",
       "sg_event_id":"drop-1","reason":"Bounced Address","status":"5.0.0"},
      {"email":"example@test.com","timestamp":1513299569,"smtp-id":"<x@y>","event":"dropped",
       "sg_event_id":"drop-2","reason":"Unsubscribed Address","status":"5.0.0"},
      {"email":"example@test.com","timestamp":1513299569,"smtp-id":"<x@y>","event":"spamreport",
       "sg_event_id":"spam-1"},
      {"email":"example@test.com","timestamp":1513299569,"smtp-id":"<x@y>","event":"deferred",
       "sg_event_id":"def-1","response":"400 try again later","attempt":"5"},
      {"email":"example@test.com","timestamp":1513299569,"event":"open","sg_event_id":"open-1"}
    ]"#;

    #[test]
    fn acted_on_recorded_and_ignored_events() {
        let v = events(SAMPLE.as_bytes()).unwrap();
        let got: Vec<_> = v
            .events
            .iter()
            .map(|e| (e.event_id.as_str(), e.kind))
            .collect();
        assert_eq!(
            got,
            [
                ("6g4ZI7SA-xmRDv57GoPIPw==", BounceKind::Hard),
                ("blocked-1", BounceKind::Soft),
                ("drop-1", BounceKind::Hard),
                ("spam-1", BounceKind::Complaint),
                ("def-1", BounceKind::Delayed),
            ]
        );
        assert_eq!(v.ignored, 3, "processed, the unsubscribed drop, open");
        let bounce = &v.events[0];
        assert_eq!(
            bounce.message_id.as_deref(),
            Some("7.42.kairan@example.org")
        );
        assert_eq!(bounce.recipient.as_deref(), Some("example@test.com"));
        assert_eq!(bounce.status.as_deref(), Some("5.0.0"));
        assert_eq!(bounce.diagnostic.as_deref(), Some("500 unknown recipient"));
    }

    #[test]
    fn an_event_without_an_id_is_known_by_its_bytes() {
        let body =
            br#"[{"event":"spamreport","email":"a@b.jp"},{"event":"spamreport","email":"a@b.jp"}]"#;
        let v = events(body).unwrap();
        assert_eq!(v.events[0].event_id, v.events[1].event_id);
        assert!(v.events[0].event_id.starts_with("sha256:"));
        assert_eq!(events(b"{}").unwrap_err(), Refusal::Malformed);
    }

    #[test]
    fn the_signature_covers_timestamp_and_body_and_the_timestamp_is_fresh() {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .unwrap();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .unwrap();
        use ring::signature::KeyPair as _;
        let sg = Sendgrid {
            point: pair.public_key().as_ref().to_vec(),
        };
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let sign = |ts: &str, body: &[u8]| {
            use base64::Engine as _;
            let sig = pair.sign(&rng, &[ts.as_bytes(), body].concat()).unwrap();
            base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
        };
        let body = b"[]";
        let ts = "1700000000";
        assert_eq!(
            sg.verify(Some(&sign(ts, body)), Some(ts), body, now),
            Ok(())
        );
        assert_eq!(
            sg.verify(Some(&sign(ts, body)), Some(ts), b"[ ]", now),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            sg.verify(Some(&sign(ts, body)), Some("1700000001"), body, now),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            sg.verify(None, Some(ts), body, now),
            Err(Refusal::BadSignature)
        );
        let old = "1699999699";
        assert_eq!(
            sg.verify(Some(&sign(old, body)), Some(old), body, now),
            Err(Refusal::Stale)
        );
    }
}
