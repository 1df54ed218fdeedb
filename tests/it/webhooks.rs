//! Provider webhooks end to end (issue 12): each provider's requests signed the way the
//! provider signs them, with keys the tests generate, posted to the real HTTP server on
//! SQLite and PostgreSQL; each test checks the answer, the reader's status and the stored
//! report. Per provider: a valid event, a bad signature, a stale timestamp (where the
//! provider has one), a replay, and for SES an unknown topic — plus what a provider's claim
//! must still corroborate (a delivery we made) and, for SES, that an untrusted certificate
//! URL is refused without any fetch.
//!
//! SES certificates come from a local HTTPS server standing in for
//! `sns.us-east-1.amazonaws.com` ([`FakeAws`]): its TLS certificate is issued by a test CA
//! and the signing certificate it serves is one the test made, both with `openssl` (the
//! Debian package `openssl`), and kairan's production HTTPS client fetches from it, trusting
//! that CA only. The server logs every request, so a fetch that should not happen shows.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use hmac::Mac as _;
use kairan::app::ports::*;
use kairan::bounce::sources::webhooks::sns_http::{HttpsClient, SnsHttp};
use kairan::domain::token::{Purpose, Signer};
use kairan::domain::*;
use kairan::startup::Application;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::rustls;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestDb, now, settings_with};

const KEY: &str = "webhook-test-signing-key-0123456789abcdef";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kairan-ses";
const OTHER_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:someone-else";
const CERT_URL: &str =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-kairan-test.pem";
const PM_USER: &str = "kairan-postmark";
const PM_PASSWORD: &str = "postmark-password-0123456789";
const MG_KEY: &str = "key-mailgun-signing-0123456789abcdef";

fn signer() -> Signer {
    Signer::new(KEY.as_bytes().to_vec(), vec![])
}

// ---------------------------------------------------------------------------------------
// Keys and certificates, made once per test run with openssl.

struct Keys {
    /// The test CA (PEM), the only root kairan's HTTPS client trusts here.
    ca: Vec<u8>,
    /// The fake AWS host's TLS certificate (DER) and key (PKCS#8 DER).
    tls_cert: Vec<u8>,
    tls_key: Vec<u8>,
    /// The SNS signing certificate served at [`CERT_URL`] (PEM) and its key.
    sns_cert: Vec<u8>,
    sns_key_pem: Vec<u8>,
    sns_key_pkcs8: Vec<u8>,
    /// SendGrid's verification key as its console shows it (base64 DER), and the signer.
    sendgrid_public: String,
    sendgrid_pkcs8: Vec<u8>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl not found: install the Debian package `openssl` (scripts/test does)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The DER inside the first PEM block of a file.
fn pem_der(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let host = "sns.us-east-1.amazonaws.com";
        openssl(d, &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=kairan test CA"]);
        openssl(d, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.csr", "-subj", &format!("/CN={host}")]);
        std::fs::write(
            d.join("tls.ext"),
            format!("subjectAltName=DNS:{host}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
        )
        .unwrap();
        openssl(d, &["x509", "-req", "-in", "tls.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tls.pem", "-days", "2", "-extfile", "tls.ext"]);
        // The signing certificate is self-signed, as far as kairan cares: what vouches for it
        // is the TLS connection it came over.
        openssl(d, &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "sns.key", "-out", "sns.pem", "-days", "2", "-subj", "/CN=sns.amazonaws.com"]);

        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
        let sendgrid_pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng)
            .unwrap()
            .as_ref()
            .to_vec();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, &sendgrid_pkcs8, &rng).unwrap();
        use ring::signature::KeyPair as _;
        // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING point }
        let mut spki = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        spki.extend_from_slice(pair.public_key().as_ref());
        Keys {
            ca: std::fs::read(d.join("ca.pem")).unwrap(),
            tls_cert: pem_der(&d.join("tls.pem")),
            tls_key: pem_der(&d.join("tls.key")),
            sns_cert: std::fs::read(d.join("sns.pem")).unwrap(),
            sns_key_pem: std::fs::read(d.join("sns.key")).unwrap(),
            sns_key_pkcs8: pem_der(&d.join("sns.key")),
            sendgrid_public: base64::engine::general_purpose::STANDARD.encode(spki),
            sendgrid_pkcs8,
        }
    })
}

// ---------------------------------------------------------------------------------------
// A local HTTPS server answering as sns.us-east-1.amazonaws.com.

struct FakeAws {
    addr: SocketAddr,
    /// Every request line's target, in order.
    log: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeAws {
    async fn start() -> FakeAws {
        let k = keys();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(k.tls_cert.clone())],
            rustls::pki_types::PrivateKeyDer::Pkcs8(k.tls_key.clone().into()),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, log) = (acceptor.clone(), log2.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head);
                    let target = head.split(' ').nth(1).unwrap_or("").to_owned();
                    log.lock().unwrap().push(target.clone());
                    let (status, body) = if target.ends_with("kairan-test.pem") {
                        ("200 OK", keys().sns_cert.clone())
                    } else if target.ends_with("huge.pem") {
                        ("200 OK", vec![b'x'; 100 * 1024])
                    } else if target.starts_with("/?Action=ConfirmSubscription") {
                        ("200 OK", b"<ConfirmSubscriptionResponse/>".to_vec())
                    } else {
                        ("404 Not Found", b"no".to_vec())
                    };
                    let mut out = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    out.extend_from_slice(&body);
                    let _ = tls.write_all(&out).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        FakeAws { addr, log, task }
    }

    /// kairan's production HTTPS client, trusting the test CA only and connecting here.
    fn client(&self) -> HttpsClient {
        let mut roots = rustls::RootCertStore::empty();
        let ca = pem_der_bytes(&keys().ca);
        roots
            .add(rustls::pki_types::CertificateDer::from(ca))
            .unwrap();
        HttpsClient::with_roots(roots, Some(self.addr))
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for FakeAws {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn pem_der_bytes(pem: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.pem");
    std::fs::write(&p, pem).unwrap();
    pem_der(&p)
}

// ---------------------------------------------------------------------------------------
// The app, readers and deliveries.

struct App {
    base: String,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
    db: TestDb,
    _outbox: tempfile::TempDir,
    client: reqwest::Client,
}

fn env() -> Vec<(&'static str, String)> {
    vec![
        ("KAIRAN__SECRETS__SIGNING_KEY", KEY.into()),
        ("KAIRAN__BOUNCE__RETURN_PATH", "bounces@example.org".into()),
        (
            "KAIRAN__BOUNCE__WEBHOOKS__SES__TOPIC_ARNS",
            format!("[\"{TOPIC}\"]"),
        ),
        (
            "KAIRAN__BOUNCE__WEBHOOKS__SENDGRID__PUBLIC_KEY",
            keys().sendgrid_public.clone(),
        ),
        (
            "KAIRAN__BOUNCE__WEBHOOKS__POSTMARK__USERNAME",
            PM_USER.into(),
        ),
        (
            "KAIRAN__BOUNCE__WEBHOOKS__POSTMARK__PASSWORD",
            PM_PASSWORD.into(),
        ),
        (
            "KAIRAN__BOUNCE__WEBHOOKS__MAILGUN__SIGNING_KEY",
            MG_KEY.into(),
        ),
    ]
}

impl App {
    async fn spawn(db: TestDb, env: &[(&str, String)], sns: Option<Arc<dyn SnsHttp>>) -> App {
        let outbox = tempfile::tempdir().unwrap();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let settings = settings_with(&db.url, outbox.path(), &env);
        let mailer = kairan::mail::from_settings(&settings).unwrap();
        let mut app = Application::build_with(settings, db.store.clone(), mailer)
            .await
            .unwrap()
            .passive(true);
        if let Some(sns) = sns {
            app = app.sns_http(sns);
        }
        let base = format!("http://{}", app.local_addr());
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run(shutdown.clone()));
        App {
            base,
            store: db.store.clone(),
            shutdown,
            db,
            _outbox: outbox,
            client: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, body: &[u8], headers: &[(&str, String)]) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn status(&self, id: SubscriberId) -> SubscriberStatus {
        self.store.subscriber(id).await.unwrap().unwrap().status
    }

    /// The stored report of a provider event (`SOURCE:EVENT-ID`).
    async fn report(&self, key: &str) -> Option<BounceRecord> {
        self.store
            .bounce_reports(1000)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.message_hash == key)
    }

    async fn report_count(&self) -> usize {
        self.store.bounce_reports(1000).await.unwrap().len()
    }

    /// Posts a request that must be refused: its status and the refusal named in the body.
    async fn refusal(&self, path: &str, body: &[u8], headers: &[(&str, String)]) -> (u16, String) {
        let (code, answer) = self.post(path, body, headers).await;
        (
            code,
            answer["error"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Posts a request again: 200, every event a replay, nothing stored anew.
    async fn replayed(&self, path: &str, body: &[u8], headers: &[(&str, String)], events: u64) {
        let before = self.report_count().await;
        let (code, answer) = self.post(path, body, headers).await;
        let counts = (answer["replays"].as_u64(), answer["accepted"].as_u64());
        assert_eq!((code, counts), (200, (Some(events), Some(0))), "{answer}");
        assert_eq!(self.report_count().await, before);
    }

    async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.db.cleanup().await;
    }
}

/// A reader who was sent one campaign message: the reader, the delivery and the message's
/// Message-ID (as the provider passes it back).
struct Sent {
    reader: SubscriberId,
    delivery: DeliveryId,
    message_id: String,
}

async fn sent_to(store: &Arc<dyn Store>, email: &str) -> Sent {
    let at = now();
    let reader = crate::bounces::reader(store, email).await;
    // Every active reader gets a delivery of this issue; all are recorded as sent.
    let issue = crate::bounces::issue(store, &format!("issue-{}", reader.get())).await;
    let claimed = store
        .claim_deliveries(issue, "test", 1000, at, at + Duration::minutes(5))
        .await
        .unwrap();
    let outcomes: Vec<_> = claimed
        .iter()
        .map(|d| {
            (
                d.id,
                DeliveryOutcome::Sent {
                    reply: "250 ok".into(),
                },
            )
        })
        .collect();
    store.record_outcomes(&outcomes, at).await.unwrap();
    let delivery = claimed
        .iter()
        .find(|d| d.subscriber_id == reader)
        .unwrap()
        .id;
    Sent {
        reader,
        delivery,
        message_id: kairan::domain::message_id::campaign(&signer(), issue, reader, "example.org"),
    }
}

// ---------------------------------------------------------------------------------------
// Amazon SES through SNS.

/// The SNS string to sign, written out here independently of kairan's.
fn sns_string_to_sign(m: &Value) -> String {
    let names: &[&str] = if m["Type"] == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut out = String::new();
    for n in names {
        if let Some(v) = m[*n].as_str() {
            out.push_str(&format!("{n}\n{v}\n"));
        }
    }
    out
}

/// Signs an SNS message as SNS does: version 1 SHA1withRSA, version 2 SHA256withRSA.
fn sns_sign(mut m: Value, version: u8) -> Value {
    let k = keys();
    let data = sns_string_to_sign(&m);
    let signature = match version {
        // ring signs no SHA-1: openssl does, as SNS still does for version 1.
        1 => {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("sns.key"), &k.sns_key_pem).unwrap();
            let mut child = std::process::Command::new("openssl")
                .args(["dgst", "-sha1", "-sign", "sns.key"])
                .current_dir(dir.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(data.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            out.stdout
        }
        _ => {
            let pair = ring::signature::RsaKeyPair::from_pkcs8(&k.sns_key_pkcs8).unwrap();
            let mut sig = vec![0; pair.public().modulus_len()];
            pair.sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                data.as_bytes(),
                &mut sig,
            )
            .unwrap();
            sig
        }
    };
    m["SignatureVersion"] = version.to_string().into();
    m["Signature"] = base64::engine::general_purpose::STANDARD
        .encode(signature)
        .into();
    m
}

fn sns_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// An SES notification of the pinned topic, signed (SNS signature version `version`).
fn signed_ses(kind: &str, to: &str, message_id: &str, at: DateTime<Utc>, version: u8) -> Value {
    sns_sign(
        sns_notification(TOPIC, &ses_message(kind, to, message_id), at),
        version,
    )
}

fn sns_notification(topic: &str, message: &Value, at: DateTime<Utc>) -> Value {
    json!({
        "Type": "Notification",
        "MessageId": format!("{:08x}-sns", rand::random::<u32>()),
        "TopicArn": topic,
        "Message": message.to_string(),
        "Timestamp": sns_time(at),
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x"
    })
}

/// An SES notification in the shape of AWS's examples, with the original headers included.
fn ses_message(kind: &str, to: &str, message_id: &str) -> Value {
    let mail = json!({
        "timestamp": "2026-11-01T00:00:00.000Z", "source": "news@example.org",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.org",
        "sendingAccountId": "123456789012",
        "messageId": "0100018c2f-ses-id-000000",
        "destination": [to], "headersTruncated": false,
        "headers": [
            {"name": "From", "value": "Newsletter <news@example.org>"},
            {"name": "To", "value": to},
            {"name": "Message-ID", "value": format!("<{message_id}>")}
        ],
        "commonHeaders": {"from": ["Newsletter <news@example.org>"], "to": [to],
                          "messageId": "0100018c2f-ses-id-000000"}
    });
    match kind {
        "Bounce" => json!({"notificationType": "Bounce", "mail": mail, "bounce": {
            "bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": to, "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": "2026-11-01T00:00:01.000Z", "feedbackId": "0100018c2f-feedback",
            "reportingMTA": "dsn; a8-30.smtp-out.amazonses.com"}}),
        _ => json!({"notificationType": "Complaint", "mail": mail, "complaint": {
            "userAgent": "ExampleCorp Feedback Loop (V0.01)",
            "complainedRecipients": [{"emailAddress": to}], "complaintFeedbackType": "abuse",
            "arrivalDate": "2026-11-01T00:10:00.000Z", "timestamp": "2026-11-01T00:10:01.000Z",
            "feedbackId": "0100018c2f-complaint"}}),
    }
}

async fn ses_webhook(db: TestDb) {
    let aws = FakeAws::start().await;
    let app = App::spawn(db, &env(), Some(Arc::new(aws.client()))).await;
    let a = sent_to(&app.store, "ses-a@example.jp").await;
    let b = sent_to(&app.store, "ses-b@example.jp").await;
    let c = sent_to(&app.store, "ses-c@example.jp").await;
    let t = Utc::now();

    // A subscription to a pinned topic is confirmed by visiting its SubscribeURL.
    let subscribe_url = format!(
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37fb"
    );
    let confirm = sns_sign(
        json!({"Type": "SubscriptionConfirmation", "MessageId": "confirm-1", "Token": "2336412f37fb",
               "TopicArn": TOPIC, "SubscribeURL": subscribe_url, "SigningCertURL": CERT_URL,
               "Message": format!("You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the subscription, visit the SubscribeURL included in this message."),
               "Timestamp": sns_time(t)}),
        2,
    );
    let (code, answer) = app
        .post("/webhooks/ses", confirm.to_string().as_bytes(), &[])
        .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["confirmed"], true);
    assert!(
        aws.log()
            .iter()
            .any(|r| r.starts_with("/?Action=ConfirmSubscription")),
        "{:?}",
        aws.log()
    );

    // A valid bounce (signature version 2) naming our message: the reader is bounced.
    let bounce = signed_ses("Bounce", "ses-a@example.jp", &a.message_id, t, 2);
    let (code, answer) = app
        .post("/webhooks/ses", bounce.to_string().as_bytes(), &[])
        .await;
    assert_eq!(
        (code, answer["accepted"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
    assert_eq!(app.status(a.reader).await, SubscriberStatus::Bounced);
    let key = format!("ses:{}", bounce["MessageId"].as_str().unwrap());
    let report = app.report(&key).await.expect("the event is stored");
    assert_eq!(
        (report.source.as_str(), report.action.as_str()),
        ("ses", "bounced")
    );
    assert_eq!(report.kind, Some(BounceKind::Hard));
    assert_eq!(report.subscriber_id, Some(a.reader));
    assert_eq!(report.delivery_id, Some(a.delivery));
    assert_eq!(report.status_code.as_deref(), Some("5.1.1"));

    // A complaint signed with version 1 (SHA1withRSA).
    let complaint = signed_ses("Complaint", "ses-b@example.jp", &b.message_id, t, 1);
    let (code, answer) = app
        .post("/webhooks/ses", complaint.to_string().as_bytes(), &[])
        .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(app.status(b.reader).await, SubscriberStatus::Complained);

    // A bad signature: the message was changed after signing.
    let mut forged = signed_ses("Bounce", "ses-a@example.jp", &a.message_id, t, 2);
    forged["Message"] = ses_message("Bounce", "ses-c@example.jp", &c.message_id)
        .to_string()
        .into();
    let (code, _) = app
        .post("/webhooks/ses", forged.to_string().as_bytes(), &[])
        .await;
    assert_eq!(code, 403);
    assert_eq!(app.status(c.reader).await, SubscriberStatus::Active);
    assert!(
        app.report(&format!("ses:{}", forged["MessageId"].as_str().unwrap()))
            .await
            .is_none()
    );

    // A stale timestamp, properly signed.
    let stale = signed_ses(
        "Bounce",
        "ses-c@example.jp",
        &c.message_id,
        t - Duration::hours(2),
        2,
    );
    assert_eq!(
        app.refusal("/webhooks/ses", stale.to_string().as_bytes(), &[])
            .await,
        (403, "stale".to_owned())
    );
    assert_eq!(app.status(c.reader).await, SubscriberStatus::Active);

    // A replay of the valid bounce: answered, counted, nothing changes.
    app.replayed("/webhooks/ses", bounce.to_string().as_bytes(), &[], 1)
        .await;

    // An unknown topic is refused before anything is fetched, even with a fresh certificate
    // URL; so is a certificate URL off the SNS hosts, and a subscription to another topic.
    let fetched = aws.log().len();
    let refused = [
        (
            OTHER_TOPIC,
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-other.pem",
            "unknown-topic",
        ),
        (
            TOPIC,
            "https://sns.us-east-1.amazonaws.com.attacker.example/cert.pem",
            "untrusted-url",
        ),
    ];
    for (topic, cert_url, why) in refused {
        let message = ses_message("Bounce", "ses-c@example.jp", &c.message_id);
        let mut m = sns_notification(topic, &message, t);
        m["SigningCertURL"] = cert_url.into();
        let body = sns_sign(m, 2).to_string();
        let refusal = app.refusal("/webhooks/ses", body.as_bytes(), &[]).await;
        assert_eq!(refusal, (403, why.to_owned()));
    }
    let mut other = confirm.clone();
    other["TopicArn"] = OTHER_TOPIC.into();
    let (code, _) = app
        .post(
            "/webhooks/ses",
            sns_sign(other, 2).to_string().as_bytes(),
            &[],
        )
        .await;
    assert_eq!(code, 403);
    assert_eq!(
        aws.log().len(),
        fetched,
        "nothing fetched for refused messages: {:?}",
        aws.log()
    );
    assert_eq!(app.status(c.reader).await, SubscriberStatus::Active);

    // The certificate was fetched once for all the messages it verified.
    let cert_fetches = aws
        .log()
        .iter()
        .filter(|r| r.ends_with("kairan-test.pem"))
        .count();
    assert_eq!(cert_fetches, 1, "{:?}", aws.log());

    let metrics = app.metrics().await;
    for result in [
        "accepted",
        "confirmed",
        "bad-signature",
        "stale",
        "unknown-topic",
        "untrusted-url",
    ] {
        let line = format!(r#"kairan_webhook_requests_total{{provider="ses",result="{result}"}}"#);
        assert!(metrics.contains(&line), "{line} missing from /metrics");
    }
    assert!(metrics.contains(r#"kairan_webhook_events_total{provider="ses",result="replay"}"#));
    app.stop().await;
}

#[tokio::test]
async fn ses_webhook_on_sqlite() {
    ses_webhook(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn ses_webhook_on_postgres() {
    ses_webhook(TestDb::postgres().await).await;
}

// ---------------------------------------------------------------------------------------
// SendGrid.

fn sendgrid_headers(body: &[u8], timestamp: i64) -> Vec<(&'static str, String)> {
    let k = keys();
    let rng = ring::rand::SystemRandom::new();
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &k.sendgrid_pkcs8,
        &rng,
    )
    .unwrap();
    let ts = timestamp.to_string();
    let sig = pair.sign(&rng, &[ts.as_bytes(), body].concat()).unwrap();
    vec![
        (
            "X-Twilio-Email-Event-Webhook-Signature",
            base64::engine::general_purpose::STANDARD.encode(sig.as_ref()),
        ),
        ("X-Twilio-Email-Event-Webhook-Timestamp", ts),
    ]
}

fn sendgrid_event(event: &str, email: &str, message_id: &str, extra: Value) -> Value {
    let mut e = json!({
        "email": email, "timestamp": Utc::now().timestamp(), "smtp-id": format!("<{message_id}>"),
        "event": event, "category": ["newsletter"],
        "sg_event_id": format!("{event}-{:08x}", rand::random::<u32>()),
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"
    });
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

async fn sendgrid_webhook(db: TestDb) {
    let app = App::spawn(db, &env(), None).await;
    let a = sent_to(&app.store, "sg-a@example.jp").await;
    let b = sent_to(&app.store, "sg-b@example.jp").await;
    let c = sent_to(&app.store, "sg-c@example.jp").await;
    let now = Utc::now().timestamp();

    // A valid batch: a processed event (ignored), a bounce and a spam report naming our
    // messages, and a bounce naming a message we did not send to that reader (recorded,
    // changes nothing: a provider's claim must corroborate a delivery we made).
    let bounce = sendgrid_event(
        "bounce",
        "sg-a@example.jp",
        &a.message_id,
        json!({"reason": "550 5.1.1 The email account that you tried to reach does not exist", "status": "5.1.1", "type": "bounce"}),
    );
    let foreign = sendgrid_event(
        "bounce",
        "sg-c@example.jp",
        "14c5d75ce93.dfd.64b469@ismtpd-555",
        json!({"reason": "550 unknown", "status": "5.0.0", "type": "bounce"}),
    );
    let batch = json!([
        sendgrid_event("processed", "sg-a@example.jp", &a.message_id, json!({})),
        bounce,
        sendgrid_event("spamreport", "sg-b@example.jp", &b.message_id, json!({})),
        foreign,
    ]);
    let body = batch.to_string().into_bytes();
    let (code, answer) = app
        .post("/webhooks/sendgrid", &body, &sendgrid_headers(&body, now))
        .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        (answer["accepted"].as_u64(), answer["ignored"].as_u64()),
        (Some(3), Some(1)),
        "{answer}"
    );
    assert_eq!(app.status(a.reader).await, SubscriberStatus::Bounced);
    assert_eq!(app.status(b.reader).await, SubscriberStatus::Complained);
    assert_eq!(app.status(c.reader).await, SubscriberStatus::Active);
    let key = |e: &Value| format!("sendgrid:{}", e["sg_event_id"].as_str().unwrap());
    let stored = app.report(&key(&batch[1])).await.unwrap();
    assert_eq!(
        (stored.source.as_str(), stored.action.as_str()),
        ("sendgrid", "bounced")
    );
    assert_eq!(stored.subscriber_id, Some(a.reader));
    let unattributed = app.report(&key(&batch[3])).await.unwrap();
    assert_eq!(unattributed.action, "unattributed");
    assert_eq!(unattributed.subscriber_id, None);

    // A bad signature: signed over another body.
    let bad = json!([sendgrid_event(
        "bounce",
        "sg-c@example.jp",
        &c.message_id,
        json!({"type": "bounce"})
    )])
    .to_string()
    .into_bytes();
    assert_eq!(
        app.refusal("/webhooks/sendgrid", &bad, &sendgrid_headers(b"[]", now))
            .await,
        (403, "bad-signature".to_owned())
    );
    let (code, _) = app.post("/webhooks/sendgrid", &bad, &[]).await;
    assert_eq!(code, 403, "no signature at all");

    // A stale timestamp, properly signed.
    assert_eq!(
        app.refusal(
            "/webhooks/sendgrid",
            &bad,
            &sendgrid_headers(&bad, now - 600)
        )
        .await,
        (403, "stale".to_owned())
    );
    assert_eq!(app.status(c.reader).await, SubscriberStatus::Active);

    // A replay of the valid batch: answered, counted, nothing changes.
    app.replayed(
        "/webhooks/sendgrid",
        &body,
        &sendgrid_headers(&body, now),
        3,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn sendgrid_webhook_on_sqlite() {
    sendgrid_webhook(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn sendgrid_webhook_on_postgres() {
    sendgrid_webhook(TestDb::postgres().await).await;
}

// ---------------------------------------------------------------------------------------
// Postmark.

fn basic(user: &str, password: &str) -> Vec<(&'static str, String)> {
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    vec![("Authorization", format!("Basic {creds}"))]
}

/// A Postmark bounce record in the shape of its webhook example, with the bounce message
/// (returning our message's headers) as `Content`.
fn postmark_bounce(id: u64, email: &str, message_id: &str) -> Value {
    let content = format!(
        "From: MAILER-DAEMON@mx.example.jp\r\nTo: pm_bounces@pm-bounces.example.org\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.jp.\r\n\r\n\
         --b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.jp\r\n\r\n\
         Final-Recipient: rfc822; {email}\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <{email}>: Recipient address rejected: User unknown\r\n\r\n\
         --b1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Newsletter <news@example.org>\r\n\
         To: {email}\r\nSubject: =?UTF-8?B?5Lu25ZCN?=\r\nMessage-ID: <{message_id}>\r\n\r\n--b1--\r\n"
    );
    json!({
        "RecordType": "Bounce", "MessageStream": "outbound", "ID": id, "Type": "HardBounce",
        "TypeCode": 1, "Name": "Hard bounce", "Tag": "newsletter",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Metadata": {}, "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 User unknown", "Email": email, "From": "news@example.org",
        "BouncedAt": "2026-11-01T00:00:01.0000000Z", "DumpAvailable": true, "Inactive": true,
        "CanActivate": true, "Subject": "件名", "Content": content
    })
}

async fn postmark_webhook(db: TestDb) {
    let app = App::spawn(db, &env(), None).await;
    let a = sent_to(&app.store, "pm-a@example.jp").await;
    let b = sent_to(&app.store, "pm-b@example.jp").await;
    let c = sent_to(&app.store, "pm-c@example.jp").await;
    let id = u64::from(rand::random::<u32>());

    // A valid hard bounce, attributed by the returned message's Message-ID.
    let bounce = postmark_bounce(id, "pm-a@example.jp", &a.message_id)
        .to_string()
        .into_bytes();
    let (code, answer) = app
        .post("/webhooks/postmark", &bounce, &basic(PM_USER, PM_PASSWORD))
        .await;
    assert_eq!(
        (code, answer["accepted"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
    assert_eq!(app.status(a.reader).await, SubscriberStatus::Bounced);
    let stored = app.report(&format!("postmark:{id}")).await.unwrap();
    assert_eq!(
        (stored.source.as_str(), stored.action.as_str()),
        ("postmark", "bounced")
    );
    assert_eq!(stored.subscriber_id, Some(a.reader));

    // A spam complaint, attributed by a kairan-delivery metadata value.
    let token = signer().sign(b.delivery.get(), Purpose::Bounce, now());
    let complaint = json!({
        "RecordType": "SpamComplaint", "MessageStream": "outbound", "ID": id + 1, "Type": "SpamComplaint",
        "TypeCode": 512, "Name": "Spam complaint", "Tag": "newsletter", "MessageID": "00000000-0000-0000-0000-000000000000",
        "Metadata": {"kairan-delivery": token}, "ServerID": 23, "Description": "", "Details": "Test spam complaint details",
        "Email": "pm-b@example.jp", "From": "news@example.org", "BouncedAt": "2026-11-01T00:00:01Z",
        "DumpAvailable": true, "Inactive": true, "CanActivate": false, "Subject": "件名"
    })
    .to_string()
    .into_bytes();
    let (code, answer) = app
        .post(
            "/webhooks/postmark",
            &complaint,
            &basic(PM_USER, PM_PASSWORD),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(app.status(b.reader).await, SubscriberStatus::Complained);

    // Wrong or missing credentials: 401 with a challenge, nothing read.
    let other = postmark_bounce(id + 2, "pm-c@example.jp", &c.message_id)
        .to_string()
        .into_bytes();
    for headers in [
        basic(PM_USER, "postmark-password-012345678"),
        basic("someone", PM_PASSWORD),
        vec![],
    ] {
        let resp = app
            .client
            .post(format!("{}/webhooks/postmark", app.base))
            .body(other.clone());
        let resp = headers
            .iter()
            .fold(resp, |r, (k, v)| r.header(*k, v))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        assert!(
            resp.headers()
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
    }
    assert_eq!(app.status(c.reader).await, SubscriberStatus::Active);
    assert!(app.report(&format!("postmark:{}", id + 2)).await.is_none());

    // A replay: answered, counted, nothing changes.
    app.replayed(
        "/webhooks/postmark",
        &bounce,
        &basic(PM_USER, PM_PASSWORD),
        1,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn postmark_webhook_on_sqlite() {
    postmark_webhook(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn postmark_webhook_on_postgres() {
    postmark_webhook(TestDb::postgres().await).await;
}

// ---------------------------------------------------------------------------------------
// Mailgun.

fn mailgun_body(timestamp: i64, token: &str, data: &Value, key: &str) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{timestamp}{token}").as_bytes());
    let signature: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({
        "signature": {"timestamp": timestamp.to_string(), "token": token, "signature": signature},
        "event-data": data
    })
    .to_string()
    .into_bytes()
}

fn mailgun_token() -> String {
    format!(
        "{:016x}{:016x}{:016x}ab",
        rand::random::<u64>(),
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

/// Event data in the shape of Mailgun's `failed` / `complained` webhook samples.
fn mailgun_event(event: &str, email: &str, message_id: &str) -> Value {
    json!({
        "event": event, "id": format!("{:016x}", rand::random::<u64>()),
        "timestamp": Utc::now().timestamp() as f64 + 0.25, "log-level": "error",
        "severity": "permanent", "reason": "bounce",
        "envelope": {"sender": "bounces@example.org", "transport": "smtp", "targets": email},
        "delivery-status": {"attempt-no": 1, "code": 550, "enhanced-code": "5.1.1",
                            "message": "5.1.1 The email account that you tried to reach does not exist.",
                            "description": "", "session-seconds": 1.2},
        "message": {"headers": {"to": email, "message-id": message_id, "from": "Newsletter <news@example.org>",
                                "subject": "件名"}, "attachments": [], "size": 4211},
        "recipient": email, "recipient-domain": "example.jp", "tags": [], "user-variables": {}
    })
}

async fn mailgun_webhook(db: TestDb) {
    let app = App::spawn(db, &env(), None).await;
    let a = sent_to(&app.store, "mg-a@example.jp").await;
    let b = sent_to(&app.store, "mg-b@example.jp").await;
    let c = sent_to(&app.store, "mg-c@example.jp").await;
    let now = Utc::now().timestamp();

    // A valid permanent failure naming our message.
    let failed = mailgun_event("failed", "mg-a@example.jp", &a.message_id);
    let token = mailgun_token();
    let body = mailgun_body(now, &token, &failed, MG_KEY);
    let (code, answer) = app.post("/webhooks/mailgun", &body, &[]).await;
    assert_eq!(
        (code, answer["accepted"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
    assert_eq!(app.status(a.reader).await, SubscriberStatus::Bounced);
    let stored = app
        .report(&format!("mailgun:{}", failed["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(
        (stored.source.as_str(), stored.action.as_str()),
        ("mailgun", "bounced")
    );
    assert_eq!(stored.subscriber_id, Some(a.reader));
    assert_eq!(stored.status_code.as_deref(), Some("5.1.1"));

    // A complaint.
    let complained = mailgun_event("complained", "mg-b@example.jp", &b.message_id);
    let (code, _) = app
        .post(
            "/webhooks/mailgun",
            &mailgun_body(now, &mailgun_token(), &complained, MG_KEY),
            &[],
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(app.status(b.reader).await, SubscriberStatus::Complained);

    // A bad signature (another key), and a stale timestamp properly signed.
    let against_c = mailgun_event("failed", "mg-c@example.jp", &c.message_id);
    assert_eq!(
        app.refusal(
            "/webhooks/mailgun",
            &mailgun_body(now, &mailgun_token(), &against_c, "key-not-ours-0123456789"),
            &[]
        )
        .await,
        (403, "bad-signature".to_owned())
    );
    assert_eq!(
        app.refusal(
            "/webhooks/mailgun",
            &mailgun_body(now - 900, &mailgun_token(), &against_c, MG_KEY),
            &[]
        )
        .await,
        (403, "stale".to_owned())
    );

    // The signature covers the token, not the event: a captured request sent again with
    // other event data is refused by its token, taken once.
    let mut swapped: Value = serde_json::from_slice(&body).unwrap();
    swapped["event-data"] = against_c.clone();
    assert_eq!(
        app.refusal("/webhooks/mailgun", swapped.to_string().as_bytes(), &[])
            .await,
        (403, "replayed-token".to_owned())
    );
    assert_eq!(app.status(c.reader).await, SubscriberStatus::Active);

    // A forged Message-ID (ours in form, tag wrong) stops the event.
    let mut forged_id = c.message_id.clone();
    let dot = forged_id.find(".kairan@").unwrap();
    forged_id.replace_range(dot - 4..dot, "0000");
    let forged = mailgun_event("failed", "mg-c@example.jp", &forged_id);
    let (code, _) = app
        .post(
            "/webhooks/mailgun",
            &mailgun_body(now, &mailgun_token(), &forged, MG_KEY),
            &[],
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(app.status(c.reader).await, SubscriberStatus::Active);
    let stored = app
        .report(&format!("mailgun:{}", forged["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(stored.action, "forged");

    // A replay of the event (Mailgun's retry, freshly signed): answered, counted, nothing
    // changes.
    app.replayed(
        "/webhooks/mailgun",
        &mailgun_body(now, &mailgun_token(), &failed, MG_KEY),
        &[],
        1,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn mailgun_webhook_on_sqlite() {
    mailgun_webhook(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn mailgun_webhook_on_postgres() {
    mailgun_webhook(TestDb::postgres().await).await;
}

// ---------------------------------------------------------------------------------------
// Off unless configured, and the production HTTPS client.

#[tokio::test]
async fn webhook_routes_do_not_exist_unless_configured() {
    let env = vec![("KAIRAN__SECRETS__SIGNING_KEY", KEY.to_owned())];
    let app = App::spawn(TestDb::sqlite().await, &env, None).await;
    for provider in ["ses", "sendgrid", "postmark", "mailgun"] {
        let (code, _) = app.post(&format!("/webhooks/{provider}"), b"{}", &[]).await;
        assert_eq!(code, 404, "{provider}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_https_client_fetches_only_from_a_host_that_proves_its_name() {
    let aws = FakeAws::start().await;
    let url = |path: &str| {
        url::Url::parse(&format!("https://sns.us-east-1.amazonaws.com{path}")).unwrap()
    };

    let pem = aws
        .client()
        .get(&url("/SimpleNotificationService-kairan-test.pem"))
        .await
        .unwrap();
    assert_eq!(pem, keys().sns_cert);
    let e = aws.client().get(&url("/missing.pem")).await.unwrap_err();
    assert!(format!("{e:#}").contains("404"), "{e:#}");
    let e = aws.client().get(&url("/huge.pem")).await.unwrap_err();
    assert!(format!("{e:#}").contains("reading the body"), "{e:#}");

    // The production roots do not know the test CA: the same server is not believed.
    let production = HttpsClient::with_roots(
        {
            let mut r = rustls::RootCertStore::empty();
            r.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            r
        },
        Some(aws.addr),
    );
    let e = production
        .get(&url("/SimpleNotificationService-kairan-test.pem"))
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("TLS"), "{e:#}");
    // Nor does a certificate for the SNS name vouch for another name.
    let e = aws
        .client()
        .get(&url::Url::parse("https://sns.eu-west-1.amazonaws.com/x.pem").unwrap())
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("TLS"), "{e:#}");
    assert_eq!(
        aws.log().len(),
        3,
        "the refused TLS handshakes sent no request: {:?}",
        aws.log()
    );
}

// ---------------------------------------------------------------------------------------
// Failing closed when the database fails, and the token port on both backends.

#[tokio::test]
async fn a_database_failure_is_answered_503_so_that_the_provider_retries() {
    let app = App::spawn(TestDb::sqlite().await, &env(), None).await;
    let a = sent_to(&app.store, "mg-down@example.jp").await;
    app.store.close().await;
    let event = mailgun_event("failed", "mg-down@example.jp", &a.message_id);
    let body = mailgun_body(Utc::now().timestamp(), &mailgun_token(), &event, MG_KEY);
    let resp = app
        .client
        .post(format!("{}/webhooks/mailgun", app.base))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "60");
    app.stop().await;
}

async fn tokens_are_taken_once_given_back_and_forgotten(db: TestDb) {
    let s = db.store.clone();
    let t = now();
    let forget = t - Duration::minutes(10);
    assert!(
        s.claim_webhook_token("mailgun", "tok-1", t, forget)
            .await
            .unwrap()
    );
    assert!(
        !s.claim_webhook_token("mailgun", "tok-1", t, forget)
            .await
            .unwrap()
    );
    assert!(
        s.claim_webhook_token("other", "tok-1", t, forget)
            .await
            .unwrap(),
        "tokens are per provider"
    );
    // Given back (the request could not be recorded), the provider's retry may take it.
    s.release_webhook_token("mailgun", "tok-1").await.unwrap();
    assert!(
        s.claim_webhook_token("mailgun", "tok-1", t, forget)
            .await
            .unwrap()
    );
    // Taken long ago: forgotten when the window has passed.
    let later = t + Duration::minutes(11);
    assert!(
        s.claim_webhook_token("mailgun", "tok-1", later, later - Duration::minutes(10))
            .await
            .unwrap()
    );
    db.cleanup().await;
}

#[tokio::test]
async fn tokens_are_taken_once_given_back_and_forgotten_on_sqlite() {
    tokens_are_taken_once_given_back_and_forgotten(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn tokens_are_taken_once_given_back_and_forgotten_on_postgres() {
    tokens_are_taken_once_given_back_and_forgotten(TestDb::postgres().await).await;
}
