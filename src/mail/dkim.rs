//! DKIM signing (RFC 6376), relaxed/relaxed canonicalisation, with an RSA key
//! (`rsa-sha256`) or an Ed25519 key (`ed25519-sha256`, RFC 8463), as a wrapper around any
//! [`Mailer`]: every message kairan sends (campaign, test, confirmation, welcome) is signed
//! in the session right before it goes out, so nothing upstream needs to know.
//!
//! Signed headers include `List-Unsubscribe` and `List-Unsubscribe-Post`, which RFC 8058
//! requires to be covered for one-click unsubscribe to be honoured by mailbox providers.
//!
//! The key operations are *ring*'s: constant-time RSA (CRT, with the result checked against
//! the public key before it leaves) and Ed25519; rustls-pki-types reads the PEM. ring signs
//! with RSA moduli of 2048 to 4096 bits only, so a 1024-bit key (which RFC 8301 still
//! permits, as a minimum) is refused when the key is loaded, with the file and the reason.
//! Dependencies: the mail port traits of `app`, the DKIM settings of `config`, those two
//! crates, `sha2` (body hash) and `base64`; nothing else of kairan.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::error::KeyRejected;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
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
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A loaded key with its domain and selector.
pub struct DkimSigner {
    domain: String,
    selector: String,
    key: Key,
    /// ring's signing API takes a random source; PKCS#1 v1.5 padding does not draw from it.
    rng: SystemRandom,
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

    /// A signer for the PEM key `pem`; `path` names it in errors.
    pub fn from_pem(domain: &str, selector: &str, pem: &str, path: &Path) -> anyhow::Result<Self> {
        let rng = SystemRandom::new();
        let key = parse_key(pem, &rng)
            .map_err(|why| anyhow::anyhow!("dkim.private_key: {}: {why}", path.display()))?;
        Ok(DkimSigner {
            domain: domain.to_owned(),
            selector: selector.to_owned(),
            key,
            rng,
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
        match &self.key {
            Key::Rsa(k) => format!(
                "v=DKIM1; k=rsa; p={}",
                STANDARD.encode(rsa_spki(k.public_key().as_ref()))
            ),
            Key::Ed25519(k) => format!(
                "v=DKIM1; k=ed25519; p={}",
                STANDARD.encode(k.public_key().as_ref())
            ),
        }
    }

    /// `message` (CRLF line ends) with a `DKIM-Signature` header prepended.
    pub fn sign(&self, message: &[u8], timestamp: i64) -> Vec<u8> {
        let split = find_header_end(message);
        let (head, body) = (&message[..split.0], &message[split.1..]);
        let bh = STANDARD.encode(body_hash(body));
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
                let mut signature = vec![0; k.public().modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &self.rng, &data, &mut signature)
                    .expect("the key signed once when loaded, and PKCS#1 v1.5 is deterministic");
                signature
            }
            Key::Ed25519(k) => k.sign(&Sha256::digest(&data)).as_ref().to_vec(),
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

/// The key in `pem`, or why it cannot sign, in words for whoever configured it.
fn parse_key(pem: &str, rng: &SystemRandom) -> Result<Key, String> {
    use rustls_pki_types::PrivateKeyDer;
    use rustls_pki_types::pem::{Error, PemObject as _};
    // The PEM reader skips sections it does not know (such as ENCRYPTED PRIVATE KEY) and
    // fails on the headers of an encrypted PKCS#1 key: say what it is instead.
    if pem
        .lines()
        .any(|l| l.starts_with("-----BEGIN ENCRYPTED") || l.starts_with("Proc-Type: 4,ENCRYPTED"))
    {
        return Err("the key is encrypted; kairan needs it unencrypted \
                    (openssl pkey -in KEY -out dkim.pem asks for the passphrase once)"
            .into());
    }
    let der = match PrivateKeyDer::from_pem_slice(pem.as_bytes()) {
        Ok(der) => der,
        Err(Error::NoItemsFound) => {
            return Err("no private key in it in PEM form \
                        (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)"
                .into());
        }
        Err(e) => {
            let why = match e {
                Error::MissingSectionEnd { .. } => {
                    "a BEGIN line without its END line (is the file cut short?)".to_owned()
                }
                Error::IllegalSectionStart { .. } => "a malformed BEGIN line".to_owned(),
                Error::Base64Decode(_) => "damaged base64 between BEGIN and END".to_owned(),
                other => other.to_string(),
            };
            return Err(format!("not readable as PEM: {why}"));
        }
    };
    let key = match &der {
        PrivateKeyDer::Pkcs1(k) => {
            Key::Rsa(RsaKeyPair::from_der(k.secret_pkcs1_der()).map_err(rsa_rejected)?)
        }
        PrivateKeyDer::Pkcs8(k) => match RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()) {
            Ok(rsa) => Key::Rsa(rsa),
            // ring names its reasons only in the text of `KeyRejected` (kept stable in
            // practice; the tests pin the messages built on them).
            Err(e) if e.to_string() == "WrongAlgorithm" => {
                // OpenSSL writes Ed25519 keys as PKCS#8 v1, without the public key, which
                // only this constructor accepts (it derives the public key from the seed).
                Key::Ed25519(
                    Ed25519KeyPair::from_pkcs8_maybe_unchecked(k.secret_pkcs8_der()).map_err(
                        |e| match e.to_string().as_str() {
                            "WrongAlgorithm" => "neither an RSA nor an Ed25519 key \
                                                 (DKIM signs with those two)"
                                .to_owned(),
                            other => format!("an Ed25519 key that ring refuses ({other})"),
                        },
                    )?,
                )
            }
            Err(e) => return Err(rsa_rejected(e)),
        },
        PrivateKeyDer::Sec1(_) => {
            return Err("an EC key (BEGIN EC PRIVATE KEY); DKIM signs with RSA or Ed25519".into());
        }
        _ => return Err("not an RSA or Ed25519 private key".into()),
    };
    if let Key::Rsa(k) = &key {
        // ring checks the CRT parts against the modulus only while signing (its fault
        // check): sign once here, so a key whose parts disagree fails now, named, and
        // `sign` can rely on it.
        let mut signature = vec![0; k.public().modulus_len()];
        k.sign(&RSA_PKCS1_SHA256, rng, b"kairan", &mut signature)
            .map_err(|_| "an RSA key whose parts do not agree (it cannot sign)".to_owned())?;
    }
    Ok(key)
}

/// Why ring refused an RSA key, with what to do about it.
fn rsa_rejected(e: KeyRejected) -> String {
    match e.to_string().as_str() {
        "TooSmall" => "an RSA key under 2048 bits, which ring (kairan's signer) refuses; \
                       make one of 2048: openssl genpkey -algorithm RSA \
                       -pkeyopt rsa_keygen_bits:2048"
            .into(),
        "TooLarge" => {
            "an RSA key over 4096 bits, which ring (kairan's signer) does not sign with".into()
        }
        other => format!("an RSA key that ring (kairan's signer) refuses ({other})"),
    }
}

/// SubjectPublicKeyInfo DER around a PKCS#1 `RSAPublicKey` (what ring gives): the form of
/// `openssl pkey -pubout -outform DER`, which DKIM records publish and verifiers read.
fn rsa_spki(rsa_public_key: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier: rsaEncryption (1.2.840.113549.1.1.1), NULL parameters.
    const RSA_ENCRYPTION: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = Vec::with_capacity(rsa_public_key.len() + 1);
    bits.push(0); // BIT STRING: no unused bits in the last byte
    bits.extend_from_slice(rsa_public_key);
    let mut body = RSA_ENCRYPTION.to_vec();
    der_tlv(&mut body, 0x03, &bits);
    let mut out = Vec::with_capacity(body.len() + 4);
    der_tlv(&mut out, 0x30, &body);
    out
}

/// Appends one DER tag-length-value, the length in the short or the long definite form.
fn der_tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
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

/// The SHA-256 of the relaxed canonical body: hashed line by line as it is canonicalised, so
/// signing allocates no copy of the body (one line buffer, reused).
fn body_hash(body: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    relaxed_body(body, |chunk| hash.update(chunk));
    hash.finalize().into()
}

/// Relaxed body canonicalisation (RFC 6376 §3.4.4), handed to `emit` piece by piece:
/// whitespace runs become one space, trailing whitespace goes, trailing empty lines go, and
/// a non-empty body ends in CRLF.
fn relaxed_body(body: &[u8], mut emit: impl FnMut(&[u8])) {
    let mut l = Vec::new();
    let mut blank_run = 0usize;
    for line in body.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        l.clear();
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
                emit(b"\r\n");
            }
            blank_run = 0;
            l.extend_from_slice(b"\r\n");
            emit(&l);
        }
    }
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

    fn canonical_body(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        relaxed_body(body, |chunk| out.extend_from_slice(chunk));
        out
    }

    #[test]
    fn relaxed_body_canonicalisation_follows_rfc_6376() {
        // The examples of RFC 6376 §3.4.6.
        let body = b" C \r\nD \t E\r\n\r\n\r\n";
        assert_eq!(canonical_body(body), b" C\r\nD E\r\n");
        assert_eq!(canonical_body(b""), b"");
        assert_eq!(canonical_body(b"\r\n\r\n"), b"");
        let body = b"a  b\t\r\n\r\n c\r\n \r\n";
        assert_eq!(canonical_body(body), b"a b\r\n\r\n c\r\n");
        assert_eq!(
            body_hash(body),
            <[u8; 32]>::from(Sha256::digest(b"a b\r\n\r\n c\r\n"))
        );
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
    fn der_lengths_use_the_short_and_the_long_form() {
        let mut out = Vec::new();
        der_tlv(&mut out, 0x04, &[7; 3]);
        assert_eq!(out, [0x04, 3, 7, 7, 7]);
        for (len, head) in [
            (0x7f, vec![0x04, 0x7f]),
            (0x80, vec![0x04, 0x81, 0x80]),
            (0xff, vec![0x04, 0x81, 0xff]),
            (0x100, vec![0x04, 0x82, 0x01, 0x00]),
            (0x1_0000, vec![0x04, 0x83, 0x01, 0x00, 0x00]),
        ] {
            let mut out = Vec::new();
            der_tlv(&mut out, 0x04, &vec![0; len]);
            assert_eq!(out[..head.len()], head[..], "{len}");
            assert_eq!(out.len(), head.len() + len, "{len}");
        }
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
