//! Postmark's bounce and spam complaint webhooks, `POST /webhooks/postmark`
//! (`[bounce.webhooks.postmark] username, password`).
//!
//! Postmark signs nothing; it sends the HTTP basic credentials written into the webhook URL
//! (`https://USER:PASSWORD@host/webhooks/postmark`). A request without them, or with others,
//! is answered 401 and read no further. Both halves are compared in constant time (their
//! SHA-256 digests, so neither the content nor the length of the expected values leaks
//! through timing), and both are always compared.
//!
//! The body is one record. Acted on: `RecordType: Bounce` by its `Type` — `HardBounce` and
//! `BadEmailAddress` hard; `SoftBounce`, `Transient`, `DnsError` and `Blocked` soft;
//! `AutoResponder` an auto-reply (recorded); `SpamComplaint` a complaint — and
//! `RecordType: SpamComplaint`. Ignored: other bounce types (challenge and virus
//! notifications, subscribe / unsubscribe requests, address changes, Postmark's own
//! deactivations) and other record types (deliveries, opens, clicks, subscription changes).
//! The event id is the record's `ID`. Attribution reads the original `Message-ID` and
//! `X-Kairan-Delivery` from the bounce message Postmark passes in `Content` (the webhook's
//! "include bounce content" option), or a `kairan-delivery` metadata value when one was set.
//!
//! Depends on the bounce use case (through `webhooks`) and the parser (to read `Content`).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::{Answer, Normalised, Refusal, Verified};
use crate::app::bounces::Context;
use crate::app::ports::Store;
use crate::config::PostmarkWebhookSettings;
use crate::domain::BounceKind;

pub struct Postmark {
    username: [u8; 32],
    password: [u8; 32],
}

impl Postmark {
    pub fn new(settings: &PostmarkWebhookSettings) -> Postmark {
        Postmark {
            username: Sha256::digest(settings.username.as_bytes()).into(),
            password: Sha256::digest(settings.password.expose().as_bytes()).into(),
        }
    }

    /// One request: check the credentials, then hand the record on.
    pub async fn handle(
        &self,
        store: &dyn Store,
        ctx: Context<'_>,
        authorization: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Answer {
        if !self.authorised(authorization) {
            return Err(Refusal::Unauthorized);
        }
        let verified = record(body)?;
        super::ingest(store, ctx, super::Provider::Postmark, verified, now).await
    }

    /// Whether an `Authorization` header carries the configured basic credentials.
    fn authorised(&self, authorization: Option<&str>) -> bool {
        use base64::Engine as _;
        let decoded = authorization
            .and_then(|a| a.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, b64)| {
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .ok()
            });
        let Some(decoded) = decoded else {
            return false;
        };
        let (user, pass) = match decoded.iter().position(|b| *b == b':') {
            Some(i) => (&decoded[..i], &decoded[i + 1..]),
            None => (&decoded[..], &[][..]),
        };
        let (user, pass): ([u8; 32], [u8; 32]) =
            (Sha256::digest(user).into(), Sha256::digest(pass).into());
        let user_ok = user.ct_eq(&self.username);
        let pass_ok = pass.ct_eq(&self.password);
        (user_ok & pass_ok).into()
    }
}

fn text<'a>(e: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    e.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The record of a body whose sender was let in.
fn record(body: &[u8]) -> Result<Verified, Refusal> {
    let r: Map<String, Value> = serde_json::from_slice(body).map_err(|_| Refusal::Malformed)?;
    let kind = match (text(&r, "RecordType"), text(&r, "Type")) {
        (Some("SpamComplaint"), _) | (Some("Bounce"), Some("SpamComplaint")) => {
            BounceKind::Complaint
        }
        (Some("Bounce"), Some("HardBounce" | "BadEmailAddress")) => BounceKind::Hard,
        (Some("Bounce"), Some("SoftBounce" | "Transient" | "DnsError" | "Blocked")) => {
            BounceKind::Soft
        }
        (Some("Bounce"), Some("AutoResponder")) => BounceKind::AutoReply,
        _ => {
            return Ok(Verified {
                events: Vec::new(),
                ignored: 1,
            });
        }
    };
    let id = match r.get("ID") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(Refusal::Malformed),
    };
    // The bounce message itself, when Postmark includes it, names the message it returns.
    let returned = text(&r, "Content").map(|c| crate::bounce::parse::parse(c.as_bytes()));
    let original = returned.as_ref().map(|p| &p.original_headers);
    let metadata_token = r
        .get("Metadata")
        .and_then(Value::as_object)
        .and_then(|m| text(m, "kairan-delivery"));
    let token = original
        .and_then(|o| o.kairan_delivery.as_deref())
        .or(metadata_token);
    let headers = token
        .map(|t| vec![("X-Kairan-Delivery".to_owned(), t.trim().to_owned())])
        .unwrap_or_default();
    let event = Normalised {
        event_id: id,
        kind,
        recipient: text(&r, "Email").map(str::to_owned),
        status: None,
        diagnostic: text(&r, "Details")
            .or(text(&r, "Description"))
            .map(str::to_owned),
        provider_message_id: text(&r, "MessageID").map(str::to_owned),
        message_id: original.and_then(|o| o.message_id.clone()),
        headers,
    };
    Ok(Verified {
        events: vec![event],
        ignored: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn postmark() -> Postmark {
        Postmark::new(&PostmarkWebhookSettings {
            username: "kairan".into(),
            password: Secret::new("s3cret-pass-0123456789"),
        })
    }

    fn basic(creds: &str) -> String {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(creds)
        )
    }

    #[test]
    fn only_the_configured_credentials_pass() {
        let p = postmark();
        assert!(p.authorised(Some(&basic("kairan:s3cret-pass-0123456789"))));
        assert!(p.authorised(Some(&format!(
            "basic  {}",
            &basic("kairan:s3cret-pass-0123456789")[6..]
        ))));
        for bad in [
            basic("kairan:s3cret-pass-012345678"),
            basic("kairan:s3cret-pass-0123456789x"),
            basic("Kairan:s3cret-pass-0123456789"),
            basic("kairan"),
            basic(":s3cret-pass-0123456789"),
            "Bearer s3cret-pass-0123456789".into(),
            "Basic !!!".into(),
            String::new(),
        ] {
            assert!(!p.authorised(Some(&bad)), "{bad}");
        }
        assert!(!p.authorised(None));
    }

    #[test]
    fn bounce_types_map_to_kinds_and_the_returned_message_names_ours() {
        // The shape of Postmark's bounce webhook example, with a bounce dump as Content.
        let content = "From: MAILER-DAEMON@example.net\r\nTo: pm_bounces@pm-bounces.example.org\r\n\
            Subject: Undelivered Mail Returned to Sender\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\
            --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n\
            Final-Recipient: rfc822; john@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\
            Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n\
            --b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <7.42.kairan@example.org>\r\n\
            X-Kairan-Delivery: tok-1\r\nTo: john@example.com\r\n\r\n--b--\r\n";
        let body = serde_json::json!({
            "RecordType": "Bounce", "MessageStream": "outbound", "ID": 4323372036854775807u64,
            "Type": "HardBounce", "TypeCode": 1, "Name": "Hard bounce", "Tag": "Test",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Metadata": {"a_key": "a_value"},
            "ServerID": 23, "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            "Details": "Test bounce details", "Email": "john@example.com", "From": "sender@example.com",
            "BouncedAt": "2019-11-05T16:33:54.9070259Z", "DumpAvailable": true, "Inactive": true,
            "CanActivate": true, "Subject": "Test subject", "Content": content
        });
        let v = record(body.to_string().as_bytes()).unwrap();
        let e = &v.events[0];
        assert_eq!(e.event_id, "4323372036854775807");
        assert_eq!(e.kind, BounceKind::Hard);
        assert_eq!(e.recipient.as_deref(), Some("john@example.com"));
        assert_eq!(e.message_id.as_deref(), Some("7.42.kairan@example.org"));
        assert_eq!(
            e.headers,
            [("X-Kairan-Delivery".to_owned(), "tok-1".to_owned())]
        );
        assert_eq!(
            e.provider_message_id.as_deref(),
            Some("883953f4-6105-42a2-a16a-77a8eac79483")
        );

        let kind = |record_type: &str, t: &str| {
            let b = serde_json::json!({"RecordType": record_type, "Type": t, "ID": 1, "Email": "a@b.jp"});
            record(b.to_string().as_bytes())
                .unwrap()
                .events
                .first()
                .map(|e| e.kind)
        };
        assert_eq!(kind("Bounce", "SoftBounce"), Some(BounceKind::Soft));
        assert_eq!(kind("Bounce", "AutoResponder"), Some(BounceKind::AutoReply));
        assert_eq!(
            kind("SpamComplaint", "SpamComplaint"),
            Some(BounceKind::Complaint)
        );
        assert_eq!(kind("Bounce", "ChallengeVerification"), None);
        assert_eq!(kind("Delivery", ""), None);
        let no_id = serde_json::json!({"RecordType": "Bounce", "Type": "HardBounce"});
        assert_eq!(
            record(no_id.to_string().as_bytes()).unwrap_err(),
            Refusal::Malformed
        );
    }
}
