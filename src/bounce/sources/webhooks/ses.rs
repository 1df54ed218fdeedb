//! Amazon SES bounce, complaint and delivery notifications, delivered by Amazon SNS to
//! `POST /webhooks/ses` (`[bounce.webhooks.ses] topic_arns`).
//!
//! An SNS message is believed only when, in this order: its `TopicArn` is one of
//! `topic_arns` (else 403 `unknown-topic`, and nothing is fetched); its `SigningCertURL` is
//! an https URL on a host `sns.<region>.amazonaws.com` whose path ends in `.pem` (else 403
//! `untrusted-url`, nothing fetched); its `Timestamp` is within [`MAX_AGE`] of now (SNS keeps
//! a message's first timestamp through its retries; else 403 `stale`); and its `Signature`
//! verifies — `SignatureVersion` 1 is SHA1withRSA, 2 is SHA256withRSA — over the SNS string
//! to sign (the message's name/value pairs, each name and value on a line of its own, in the
//! order AWS documents) with the public key of that certificate (else 403 `bad-signature`).
//! The certificate is fetched over HTTPS through the [`SnsHttp`] port (so the TLS chain to
//! the web PKI roots is what vouches for it), once per URL, and used for a day ([`CERT_TTL`]).
//!
//! Then: a `SubscriptionConfirmation` is confirmed by visiting its `SubscribeURL` (checked
//! like the certificate URL) — only ever for a pinned topic, since the topic was checked
//! first; an `UnsubscribeConfirmation` is logged; a `Notification` carries an SES
//! notification (or event-publishing record): `Bounce` (`Permanent` → hard, `Transient` and
//! `Undetermined` → soft), `Complaint`, `Delivery` (recorded) and `DeliveryDelay` (recorded,
//! no score). Anything else SES publishes (sends, opens, clicks, rejects) is ignored. The
//! event id is the SNS `MessageId`, which SNS keeps across retries; a notification naming
//! several recipients gives one event each (`MessageId`, `MessageId/1`, …). Attribution reads
//! the original headers SES passes back (`mail.headers`, with "include original headers"
//! on): `Message-ID` and `X-Kairan-Delivery`.
//!
//! Depends on the bounce use case (through `webhooks`), rustls-webpki (already in the tree for
//! TLS) to read the certificate, ring for RSA, and the [`SnsHttp`] port.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm, alg_id,
};
use serde::Deserialize;

use super::sns_http::SnsHttp;
use super::{Accepted, Answer, Normalised, Refusal, Verified, bare_message_id};
use crate::app::bounces::Context;
use crate::app::ports::Store;
use crate::config::SesWebhookSettings;
use crate::domain::BounceKind;

/// How old a message's `Timestamp` may be. SNS retries an HTTP delivery with the message's
/// first timestamp; its default policy gives up within a minute, and an hour leaves room for
/// a slower custom one. A message from further in the future than the clock skew allows is
/// refused too.
pub const MAX_AGE: chrono::Duration = chrono::Duration::hours(1);
/// How far ahead of our clock a timestamp may be.
pub const MAX_SKEW: chrono::Duration = chrono::Duration::minutes(5);
/// Certificates kept at most (SNS signs with one per region, renewed yearly).
const CERT_CACHE: usize = 16;
/// How long a fetched certificate is used before it is fetched again. SNS names a renewed
/// certificate by a new URL, so this only bounds how long one that was withdrawn stays
/// believed.
const CERT_TTL: chrono::Duration = chrono::Duration::hours(24);

/// The SNS message as posted (the fields kairan reads).
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "MessageId")]
    message_id: String,
    #[serde(rename = "TopicArn")]
    topic_arn: String,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "Timestamp")]
    timestamp: String,
    #[serde(rename = "SignatureVersion")]
    signature_version: String,
    #[serde(rename = "Signature")]
    signature: String,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: String,
    #[serde(rename = "Subject")]
    subject: Option<String>,
    #[serde(rename = "Token")]
    token: Option<String>,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
}

/// A fetched signing certificate (DER, already read once) and when it was fetched.
struct Cert {
    der: CertificateDer<'static>,
    fetched: DateTime<Utc>,
}

impl Cert {
    fn fresh_at(&self, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(self.fetched) < CERT_TTL
    }

    /// Whether `signature` is `algorithm`'s signature of `message` by this certificate's key.
    fn verifies(&self, algorithm: &RsaPkcs1, message: &[u8], signature: &[u8]) -> bool {
        webpki::EndEntityCert::try_from(&self.der)
            .and_then(|c| c.verify_signature(algorithm, message, signature))
            .is_ok()
    }
}

/// RSA PKCS#1 v1.5 with ring, as webpki asks of a signature algorithm (webpki itself offers
/// no SHA-1, which SNS signature version 1 still uses).
struct RsaPkcs1(&'static ring::signature::RsaParameters);

static RSA_SHA1: RsaPkcs1 =
    RsaPkcs1(&ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY);
static RSA_SHA256: RsaPkcs1 = RsaPkcs1(&ring::signature::RSA_PKCS1_2048_8192_SHA256);

impl std::fmt::Debug for RsaPkcs1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaPkcs1")
    }
}

impl SignatureVerificationAlgorithm for RsaPkcs1 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        ring::signature::UnparsedPublicKey::new(self.0, public_key)
            .verify(message, signature)
            .map_err(|_| InvalidSignature)
    }

    /// An RSA key: what webpki checks the certificate's key against.
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    /// Only compared when verifying a certificate's own signature, which this is not used for.
    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_PKCS1_SHA256
    }
}

/// The SES webhook: pinned topics, the HTTPS port and the certificate cache.
pub struct Ses {
    topic_arns: Vec<String>,
    http: Arc<dyn SnsHttp>,
    certs: tokio::sync::Mutex<HashMap<String, Arc<Cert>>>,
    /// Held while a missing certificate is fetched, so each URL is fetched once even when
    /// requests race.
    fetching: tokio::sync::Mutex<()>,
}

impl Ses {
    pub fn new(settings: &SesWebhookSettings, http: Arc<dyn SnsHttp>) -> Ses {
        Ses {
            topic_arns: settings.topic_arns.clone(),
            http,
            certs: tokio::sync::Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// One request: verify, then confirm, record or ignore.
    pub async fn handle(
        &self,
        store: &dyn Store,
        ctx: Context<'_>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Answer {
        let env = self.verify(body, now).await?;
        match env.kind.as_str() {
            "Notification" => {
                let verified = notification(&env.message_id, &env.message)?;
                super::ingest(store, ctx, super::Provider::Ses, verified, now).await
            }
            "SubscriptionConfirmation" => {
                let url = env
                    .subscribe_url
                    .as_deref()
                    .and_then(|u| sns_url(u, false))
                    .ok_or(Refusal::UntrustedUrl)?;
                self.http.get(&url).await.map_err(|e| {
                    tracing::warn!(error = %format!("{e:#}"), topic = %env.topic_arn, "cannot confirm the SNS subscription");
                    Refusal::Upstream
                })?;
                tracing::info!(topic = %env.topic_arn, "SNS subscription confirmed");
                Ok(Accepted {
                    confirmed: true,
                    ..Accepted::default()
                })
            }
            _ => {
                tracing::warn!(topic = %env.topic_arn, "SNS says this endpoint was unsubscribed from the topic");
                Ok(Accepted::default())
            }
        }
    }

    /// Parses and verifies an SNS message; the checks that need no fetch come first.
    async fn verify(&self, body: &[u8], now: DateTime<Utc>) -> Result<Envelope, Refusal> {
        let env: Envelope = serde_json::from_slice(body).map_err(|_| Refusal::Malformed)?;
        if !self.topic_arns.contains(&env.topic_arn) {
            return Err(Refusal::UnknownTopic);
        }
        let algorithm = match env.signature_version.as_str() {
            "1" => &RSA_SHA1,
            "2" => &RSA_SHA256,
            _ => return Err(Refusal::BadSignature),
        };
        let cert_url = sns_url(&env.signing_cert_url, true).ok_or(Refusal::UntrustedUrl)?;
        let sent = DateTime::parse_from_rfc3339(&env.timestamp).map_err(|_| Refusal::Malformed)?;
        let age = now.signed_duration_since(sent);
        if age > MAX_AGE || -age > MAX_SKEW {
            return Err(Refusal::Stale);
        }
        let signed = string_to_sign(&env).ok_or(Refusal::Malformed)?;
        use base64::Engine as _;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(env.signature.trim())
            .map_err(|_| Refusal::BadSignature)?;
        let cert = self.certificate(&cert_url, now).await?;
        if !cert.verifies(algorithm, signed.as_bytes(), &signature) {
            return Err(Refusal::BadSignature);
        }
        Ok(env)
    }

    /// The certificate at `url`, from the cache or fetched (once) through the port.
    async fn certificate(&self, url: &url::Url, now: DateTime<Utc>) -> Result<Arc<Cert>, Refusal> {
        let cached = |certs: &HashMap<String, Arc<Cert>>| {
            certs.get(url.as_str()).filter(|c| c.fresh_at(now)).cloned()
        };
        if let Some(c) = cached(&*self.certs.lock().await) {
            return Ok(c);
        }
        let _one_fetch = self.fetching.lock().await;
        if let Some(c) = cached(&*self.certs.lock().await) {
            return Ok(c);
        }
        let pem = self.http.get(url).await.map_err(|e| {
            tracing::warn!(error = %format!("{e:#}"), url = %url, "cannot fetch the SNS signing certificate");
            Refusal::Upstream
        })?;
        let der = CertificateDer::from_pem_slice(&pem)
            .ok()
            .filter(|der| webpki::EndEntityCert::try_from(der).is_ok())
            .ok_or_else(|| {
                tracing::warn!(url = %url, "the SNS signing certificate is not a certificate");
                Refusal::BadSignature
            })?;
        let cert = Arc::new(Cert { der, fetched: now });
        let mut certs = self.certs.lock().await;
        if certs.len() >= CERT_CACHE {
            certs.clear();
        }
        certs.insert(url.as_str().to_owned(), cert.clone());
        Ok(cert)
    }
}

/// An https URL on an `sns.<region>.amazonaws.com` host, with no credentials or port;
/// `certificate`: its path must end in `.pem` and carry no query.
pub fn sns_url(raw: &str, certificate: bool) -> Option<url::Url> {
    let url = url::Url::parse(raw).ok()?;
    let region = url
        .host_str()?
        .strip_prefix("sns.")?
        .strip_suffix(".amazonaws.com")?;
    let region_ok = region.contains('-')
        && region.starts_with(|c: char| c.is_ascii_lowercase())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let plain = url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none()
        && url.fragment().is_none();
    let shape = !certificate || (url.path().ends_with(".pem") && url.query().is_none());
    (region_ok && plain && shape).then_some(url)
}

/// The SNS string to sign: each present field's name and value, a line each, in AWS's order.
fn string_to_sign(env: &Envelope) -> Option<String> {
    let mut fields: Vec<(&str, &str)> =
        vec![("Message", &env.message), ("MessageId", &env.message_id)];
    match env.kind.as_str() {
        "Notification" => {
            if let Some(s) = &env.subject {
                fields.push(("Subject", s));
            }
            fields.push(("Timestamp", &env.timestamp));
        }
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
            fields.push(("SubscribeURL", env.subscribe_url.as_deref()?));
            fields.push(("Timestamp", &env.timestamp));
            fields.push(("Token", env.token.as_deref()?));
        }
        _ => return None,
    }
    fields.push(("TopicArn", &env.topic_arn));
    fields.push(("Type", &env.kind));
    let mut out = String::new();
    for (name, value) in fields {
        out.push_str(name);
        out.push('\n');
        out.push_str(value);
        out.push('\n');
    }
    Some(out)
}

/// The SES notification (or event-publishing record) inside an SNS `Message`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct SesMessage {
    notification_type: Option<String>,
    event_type: Option<String>,
    mail: Mail,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
    delivery: Option<Delivery>,
    delivery_delay: Option<DeliveryDelay>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Mail {
    message_id: Option<String>,
    headers: Vec<Header>,
    common_headers: Option<CommonHeaders>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Header {
    name: String,
    value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CommonHeaders {
    message_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Bounce {
    bounce_type: String,
    bounced_recipients: Vec<Recipient>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Recipient {
    email_address: String,
    status: Option<String>,
    diagnostic_code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Complaint {
    complained_recipients: Vec<Recipient>,
    complaint_feedback_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Delivery {
    recipients: Vec<String>,
    smtp_response: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct DeliveryDelay {
    delayed_recipients: Vec<Recipient>,
}

/// The events of one SES notification; `sns_id` (the SNS `MessageId`) is the event id.
fn notification(sns_id: &str, message: &str) -> Result<Verified, Refusal> {
    let m: SesMessage = serde_json::from_str(message).map_err(|_| Refusal::Malformed)?;
    let kind = m
        .notification_type
        .as_deref()
        .or(m.event_type.as_deref())
        .unwrap_or_default();
    // (recipient, kind, status, diagnostic) for each recipient named.
    let mut found: Vec<(String, BounceKind, Option<String>, Option<String>)> = Vec::new();
    match (
        kind,
        &m.bounce,
        &m.complaint,
        &m.delivery,
        &m.delivery_delay,
    ) {
        ("Bounce", Some(b), ..) => {
            let k = if b.bounce_type == "Permanent" {
                BounceKind::Hard
            } else {
                BounceKind::Soft
            };
            for r in &b.bounced_recipients {
                found.push((
                    r.email_address.clone(),
                    k,
                    r.status.clone(),
                    r.diagnostic_code.clone(),
                ));
            }
        }
        ("Complaint", _, Some(c), ..) => {
            for r in &c.complained_recipients {
                found.push((
                    r.email_address.clone(),
                    BounceKind::Complaint,
                    None,
                    c.complaint_feedback_type.clone(),
                ));
            }
        }
        ("Delivery", _, _, Some(d), _) => {
            for r in &d.recipients {
                found.push((
                    r.clone(),
                    BounceKind::Delivered,
                    None,
                    d.smtp_response.clone(),
                ));
            }
        }
        ("DeliveryDelay", _, _, _, Some(d)) => {
            for r in &d.delayed_recipients {
                found.push((
                    r.email_address.clone(),
                    BounceKind::Delayed,
                    r.status.clone(),
                    r.diagnostic_code.clone(),
                ));
            }
        }
        _ => {
            return Ok(Verified {
                events: Vec::new(),
                ignored: 1,
            });
        }
    }
    let headers: Vec<(String, String)> = m
        .mail
        .headers
        .iter()
        .filter(|h| {
            h.name.eq_ignore_ascii_case("message-id")
                || h.name.eq_ignore_ascii_case("x-kairan-delivery")
        })
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    let message_id = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("message-id"))
        .map(|(_, v)| v.as_str())
        .or(m
            .mail
            .common_headers
            .as_ref()
            .and_then(|c| c.message_id.as_deref()))
        .and_then(bare_message_id);
    let events = found
        .into_iter()
        .enumerate()
        .map(|(i, (recipient, kind, status, diagnostic))| Normalised {
            event_id: if i == 0 {
                sns_id.to_owned()
            } else {
                format!("{sns_id}/{i}")
            },
            kind,
            recipient: Some(recipient),
            status,
            diagnostic,
            provider_message_id: m.mail.message_id.clone(),
            message_id: message_id.clone(),
            headers: headers.clone(),
        })
        .collect();
    Ok(Verified { events, ignored: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sns_hosts_are_trusted() {
        let ok = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem";
        assert!(sns_url(ok, true).is_some());
        assert!(sns_url("https://sns.ap-northeast-1.amazonaws.com/x.pem", true).is_some());
        for bad in [
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com@evil.example/x.pem",
            "https://user@sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            "https://sqs.us-east-1.amazonaws.com/x.pem",
            "https://sns.amazonaws.com/x.pem",
            "https://sns.evil.example.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.pem?a=b",
            "https://sns.us-east-1.amazonaws.com/x.txt",
            "https://sns.us-east-1.amazonaws.com/x.pem#f",
        ] {
            assert!(sns_url(bad, true).is_none(), "{bad}");
        }
        // A subscription URL has a query and no .pem.
        assert!(sns_url("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336", false).is_some());
    }

    fn envelope(kind: &str, subject: Option<&str>) -> Envelope {
        Envelope {
            kind: kind.into(),
            message_id: "m-1".into(),
            topic_arn: "arn:aws:sns:us-west-2:123456789012:MyTopic".into(),
            message: "line 1\nline 2".into(),
            timestamp: "2012-04-26T20:45:04.751Z".into(),
            signature_version: "2".into(),
            signature: String::new(),
            signing_cert_url: String::new(),
            subject: subject.map(Into::into),
            token: Some("tok".into()),
            subscribe_url: Some(
                "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription".into(),
            ),
        }
    }

    #[test]
    fn the_string_to_sign_follows_the_documented_order() {
        assert_eq!(
            string_to_sign(&envelope("Notification", None)).unwrap(),
            "Message\nline 1\nline 2\nMessageId\nm-1\nTimestamp\n2012-04-26T20:45:04.751Z\n\
             TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nNotification\n"
        );
        assert!(
            string_to_sign(&envelope("Notification", Some("Hi")))
                .unwrap()
                .contains("MessageId\nm-1\nSubject\nHi\nTimestamp\n")
        );
        assert_eq!(
            string_to_sign(&envelope("SubscriptionConfirmation", Some("ignored"))).unwrap(),
            "Message\nline 1\nline 2\nMessageId\nm-1\n\
             SubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription\n\
             Timestamp\n2012-04-26T20:45:04.751Z\nToken\ntok\n\
             TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nSubscriptionConfirmation\n"
        );
        assert!(string_to_sign(&envelope("Other", None)).is_none());
    }

    #[test]
    fn a_bounce_with_original_headers_names_its_message() {
        // The shape of AWS's "bounce notification with a DSN" example.
        let message = r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent",
            "reportingMTA":"dns; email.example.com","bouncedRecipients":[{"emailAddress":"jane@example.com",
            "status":"5.1.1","action":"failed","diagnosticCode":"smtp; 550 5.1.1 <jane@example.com>... User"}],
            "bounceSubType":"General","timestamp":"2016-01-27T14:59:38.237Z",
            "feedbackId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000","remoteMtaIp":"127.0.2.0"},
            "mail":{"timestamp":"2016-01-27T14:59:38.237Z","source":"john@example.com",
            "messageId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
            "destination":["jane@example.com"],"headersTruncated":false,
            "headers":[{"name":"From","value":"\"John Doe\" <john@example.com>"},
                       {"name":"Message-ID","value":"<7.42.kairan@example.org>"},
                       {"name":"X-Kairan-Delivery","value":"tok-123"}],
            "commonHeaders":{"from":["John Doe <john@example.com>"],"messageId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"}}}"#;
        let v = notification("sns-1", message).unwrap();
        assert_eq!(v.ignored, 0);
        assert_eq!(v.events.len(), 1);
        let e = &v.events[0];
        assert_eq!(e.event_id, "sns-1");
        assert_eq!(e.kind, BounceKind::Hard);
        assert_eq!(e.recipient.as_deref(), Some("jane@example.com"));
        assert_eq!(e.status.as_deref(), Some("5.1.1"));
        assert_eq!(e.message_id.as_deref(), Some("7.42.kairan@example.org"));
        assert_eq!(
            e.headers,
            [
                (
                    "Message-ID".to_owned(),
                    "<7.42.kairan@example.org>".to_owned()
                ),
                ("X-Kairan-Delivery".to_owned(), "tok-123".to_owned())
            ]
        );
    }

    #[test]
    fn transient_bounces_are_soft_and_several_recipients_are_several_events() {
        let message = r#"{"notificationType":"Bounce","bounce":{"bounceType":"Transient","bounceSubType":"MailboxFull",
            "bouncedRecipients":[{"emailAddress":"a@example.jp"},{"emailAddress":"b@example.jp"}]},
            "mail":{"messageId":"ses-1"}}"#;
        let v = notification("sns-2", message).unwrap();
        let ids: Vec<_> = v.events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["sns-2", "sns-2/1"]);
        assert!(v.events.iter().all(|e| e.kind == BounceKind::Soft));
        assert_eq!(v.events[0].message_id, None);
    }

    #[test]
    fn complaints_deliveries_and_delays_are_events_and_the_rest_is_ignored() {
        let complaint = r#"{"notificationType":"Complaint","complaint":{"userAgent":"AnyCompany Feedback Loop (V0.01)",
            "complainedRecipients":[{"emailAddress":"richard@example.com"}],"complaintFeedbackType":"abuse",
            "arrivalDate":"2016-01-27T14:59:38.237Z","timestamp":"2016-01-27T14:59:38.237Z",
            "feedbackId":"000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000"},
            "mail":{"messageId":"x","commonHeaders":{"messageId":"<9.1.kairan@example.org>"}}}"#;
        let v = notification("c", complaint).unwrap();
        assert_eq!(v.events[0].kind, BounceKind::Complaint);
        assert_eq!(
            v.events[0].message_id.as_deref(),
            Some("9.1.kairan@example.org")
        );
        let delivery = r#"{"notificationType":"Delivery","delivery":{"timestamp":"2016-01-27T14:59:38.237Z",
            "recipients":["jane@example.com"],"smtpResponse":"250 ok"},"mail":{}}"#;
        assert_eq!(
            notification("d", delivery).unwrap().events[0].kind,
            BounceKind::Delivered
        );
        let delay = r#"{"eventType":"DeliveryDelay","deliveryDelay":{"delayType":"MailboxFull",
            "delayedRecipients":[{"emailAddress":"r@example.com","status":"4.2.2","diagnosticCode":"smtp; 452 full"}]},"mail":{}}"#;
        assert_eq!(
            notification("e", delay).unwrap().events[0].kind,
            BounceKind::Delayed
        );
        let open = r#"{"eventType":"Open","open":{},"mail":{}}"#;
        let v = notification("f", open).unwrap();
        assert!(v.events.is_empty());
        assert_eq!(v.ignored, 1);
        assert_eq!(
            notification("g", "not json").unwrap_err(),
            Refusal::Malformed
        );
    }
}
