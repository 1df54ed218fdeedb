//! DKIM signing (RFC 6376), relaxed/relaxed canonicalisation, with an RSA key
//! (`rsa-sha256`) or an Ed25519 key (`ed25519-sha256`, RFC 8463), as a wrapper around any
//! [`Mailer`]: every message kairan sends (campaign, test, confirmation, welcome) is signed
//! in the session right before it goes out, so nothing upstream needs to know.
//!
//! Signed headers include `List-Unsubscribe` and `List-Unsubscribe-Post`, which RFC 8058
//! requires to be covered for one-click unsubscribe to be honoured by mailbox providers.
//!
//! Security note: the `rsa` crate carries RUSTSEC-2023-0071 (the "Marvin" timing side
//! channel). It matters where an attacker can make the holder of the key perform many
//! private-key operations on chosen input and time them precisely; kairan signs only its own
//! messages, with no oracle for outsiders, so the practical risk is low — Ed25519 keys avoid
//! it entirely and sign about fifty times faster.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::app::ports::{MailSession, Mailer, OutgoingMessage, SendOutcome};
use crate::config::DkimSettings;

/// Headers signed when present, in this order (`h=` lists only those present).
const SIGNED: &[&str] = &[
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "mime-version",
    "content-type",
    "content-language",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
];

enum Key {
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// A loaded key with its domain and selector.
pub struct DkimSigner {
    domain: String,
    selector: String,
    key: Key,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DkimSigner(d={}, s={}, {})",
            self.domain,
            self.selector,
            self.algorithm()
        )
    }
}

impl DkimSigner {
    /// Loads the PEM key named by the settings: RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8).
    pub fn load(s: &DkimSettings) -> anyhow::Result<Self> {
        let pem = std::fs::read_to_string(&s.private_key).with_context(|| {
            format!("dkim.private_key: cannot read {}", s.private_key.display())
        })?;
        Self::from_pem(&s.domain, &s.selector, &pem, &s.private_key)
    }

    pub fn from_pem(domain: &str, selector: &str, pem: &str, path: &Path) -> anyhow::Result<Self> {
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        let key = if let Ok(k) = rsa::RsaPrivateKey::from_pkcs1_pem(pem) {
            Key::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(k)))
        } else if let Ok(k) =
            <rsa::RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(pem)
        {
            Key::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(k)))
        } else if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            Key::Ed25519(Box::new(k))
        } else {
            anyhow::bail!(
                "dkim.private_key: {} is not an RSA or Ed25519 private key in PEM form \
                 (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)",
                path.display()
            );
        };
        if let Key::Rsa(k) = &key {
            use rsa::traits::PublicKeyParts as _;
            let bits = rsa::RsaPublicKey::from(k.as_ref().as_ref()).size() * 8;
            anyhow::ensure!(
                bits >= 1024,
                "dkim.private_key: an RSA key of {bits} bits is too weak; use 2048"
            );
        }
        Ok(DkimSigner {
            domain: domain.to_owned(),
            selector: selector.to_owned(),
            key,
        })
    }

    pub fn algorithm(&self) -> &'static str {
        match self.key {
            Key::Rsa(_) => "rsa-sha256",
            Key::Ed25519(_) => "ed25519-sha256",
        }
    }

    /// The public key as the `p=` of the DNS TXT record at `selector._domainkey.domain`.
    pub fn dns_record(&self) -> String {
        use rsa::pkcs8::EncodePublicKey as _;
        match &self.key {
            Key::Rsa(k) => {
                let public = rsa::RsaPublicKey::from(k.as_ref().as_ref());
                let der = public
                    .to_public_key_der()
                    .expect("an RSA public key encodes");
                format!("v=DKIM1; k=rsa; p={}", STANDARD.encode(der.as_bytes()))
            }
            Key::Ed25519(k) => format!(
                "v=DKIM1; k=ed25519; p={}",
                STANDARD.encode(k.verifying_key().as_bytes())
            ),
        }
    }

    /// `message` (CRLF line ends) with a `DKIM-Signature` header prepended.
    pub fn sign(&self, message: &[u8], timestamp: i64) -> Vec<u8> {
        let split = find_header_end(message);
        let (head, body) = (&message[..split.0], &message[split.1..]);
        let bh = STANDARD.encode(Sha256::digest(canonical_body(body)));
        let headers = parse_headers(head);
        let mut names = Vec::new();
        let mut data = Vec::with_capacity(1024);
        for want in SIGNED {
            // Sign the last instance of each (RFC 6376 §5.4.2), once.
            if let Some((name, value)) = headers
                .iter()
                .rev()
                .find(|(n, _)| n.eq_ignore_ascii_case(want))
            {
                names.push(*want);
                canonical_header(&mut data, name, value);
                data.extend_from_slice(b"\r\n");
            }
        }
        let unsigned = format!(
            "v=1; a={}; c=relaxed/relaxed; d={}; s={}; t={timestamp}; h={}; bh={bh}; b=",
            self.algorithm(),
            self.domain,
            self.selector,
            names.join(":")
        );
        canonical_header(&mut data, "DKIM-Signature", unsigned.as_bytes());
        let signature = match &self.key {
            Key::Rsa(k) => {
                use rsa::signature::{SignatureEncoding as _, Signer as _};
                k.sign(&data).to_vec()
            }
            Key::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                k.sign(&Sha256::digest(&data)).to_bytes().to_vec()
            }
        };
        let b = STANDARD.encode(signature);
        let mut header = format!("DKIM-Signature: {unsigned}");
        // Fold the signature so no line of the header runs past 78 characters.
        for (i, chunk) in b.as_bytes().chunks(72).enumerate() {
            if i > 0 || header.len() > 70 {
                header.push_str("\r\n\t");
            }
            header.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        }
        header.push_str("\r\n");
        let mut out = Vec::with_capacity(header.len() + message.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(message);
        out
    }
}

/// (end of the header block, start of the body): the blank line between them.
fn find_header_end(m: &[u8]) -> (usize, usize) {
    match m.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (i + 2, i + 4),
        None => (m.len(), m.len()),
    }
}

/// Header fields as (name, raw value including folded continuation lines).
fn parse_headers(head: &[u8]) -> Vec<(&str, &[u8])> {
    fn field(f: &[u8]) -> Option<(&str, &[u8])> {
        let f = f.strip_suffix(b"\r\n").unwrap_or(f);
        let colon = f.iter().position(|b| *b == b':')?;
        let name = std::str::from_utf8(&f[..colon]).ok()?;
        Some((name.trim(), &f[colon + 1..]))
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < head.len() {
        if head[i] == b'\r' && head[i + 1] == b'\n' {
            if !matches!(head.get(i + 2), Some(b' ') | Some(b'\t')) {
                out.extend(field(&head[start..i + 2]));
                start = i + 2;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    if start < head.len() {
        out.extend(field(&head[start..]));
    }
    out
}

/// Relaxed header canonicalisation (RFC 6376 §3.4.2): lower-case name, unfolded value with
/// runs of whitespace as one space, none at the ends.
fn canonical_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend(name.trim().bytes().map(|b| b.to_ascii_lowercase()));
    out.push(b':');
    let mut space = false;
    let mut started = false;
    for &b in value {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = started,
            _ => {
                if space {
                    out.push(b' ');
                    space = false;
                }
                out.push(b);
                started = true;
            }
        }
    }
}

/// Relaxed body canonicalisation (RFC 6376 §3.4.4): whitespace runs become one space,
/// trailing whitespace goes, trailing empty lines go, and a non-empty body ends in CRLF.
fn canonical_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut blank_run = 0usize;
    for line in body.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut l = Vec::with_capacity(line.len());
        let mut space = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                space = true;
            } else {
                if space {
                    l.push(b' ');
                    space = false;
                }
                l.push(b);
            }
        }
        if l.is_empty() {
            blank_run += 1;
        } else {
            for _ in 0..blank_run {
                out.extend_from_slice(b"\r\n");
            }
            blank_run = 0;
            out.extend_from_slice(&l);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// A mailer whose sessions sign every message before the inner session sends it.
pub struct SigningMailer {
    inner: Arc<dyn Mailer>,
    signer: Arc<DkimSigner>,
}

impl SigningMailer {
    pub fn new(inner: Arc<dyn Mailer>, signer: Arc<DkimSigner>) -> Self {
        SigningMailer { inner, signer }
    }
}

#[async_trait]
impl Mailer for SigningMailer {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn session(&self) -> Box<dyn MailSession> {
        Box::new(SigningSession {
            inner: self.inner.session().await,
            signer: self.signer.clone(),
        })
    }
}

struct SigningSession {
    inner: Box<dyn MailSession>,
    signer: Arc<DkimSigner>,
}

#[async_trait]
impl MailSession for SigningSession {
    async fn send(&mut self, msg: &OutgoingMessage) -> SendOutcome {
        let signed = self.signer.sign(&msg.data, chrono::Utc::now().timestamp());
        let msg = OutgoingMessage {
            data: signed.into(),
            ..msg.clone()
        };
        self.inner.send(&msg).await
    }

    async fn close(&mut self) {
        self.inner.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_body_canonicalisation_follows_rfc_6376() {
        // The examples of RFC 6376 §3.4.6.
        let body = b" C \r\nD \t E\r\n\r\n\r\n";
        assert_eq!(canonical_body(body), b" C\r\nD E\r\n");
        assert_eq!(canonical_body(b""), b"");
        assert_eq!(canonical_body(b"\r\n\r\n"), b"");
    }

    #[test]
    fn relaxed_header_canonicalisation_follows_rfc_6376() {
        let mut out = Vec::new();
        canonical_header(&mut out, "A", b" X\r\n");
        out.extend_from_slice(b"|");
        canonical_header(&mut out, "B ", b" Y\t\r\n\tZ  ");
        assert_eq!(out, b"a:X|b:Y Z");
    }

    #[test]
    fn folded_headers_are_one_field() {
        let head = b"Subject: one\r\n two\r\nFrom: a@b.c\r\n";
        let h = parse_headers(head);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].0, "Subject");
        assert_eq!(h[0].1, b" one\r\n two");
    }
}
