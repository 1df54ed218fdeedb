//! Signed tokens for links and VERP addresses: HMAC-SHA256 over (id, purpose, issued-at),
//! base64url, no email address inside, verified in constant time against the current key
//! and any previous (rotated) keys.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a token may be used for; a token for one purpose is refused for any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Confirm,
    Unsubscribe,
    Preferences,
    /// Names a delivery in a VERP return path (`bounces+TOKEN@…`).
    Bounce,
}

impl Purpose {
    fn tag(self) -> u8 {
        match self {
            Purpose::Confirm => 1,
            Purpose::Unsubscribe => 2,
            Purpose::Preferences => 3,
            Purpose::Bounce => 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link's signature does not match")]
    BadSignature,
    #[error("the link is for something else")]
    WrongPurpose,
    #[error("the link has expired")]
    Expired,
}

/// Signs with the current key; verifies with it or a previous one.
#[derive(Clone)]
pub struct Signer {
    current: Vec<u8>,
    previous: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(***)")
    }
}

const BODY: usize = 8 + 1 + 8;
const MAC: usize = 16;

impl Signer {
    pub fn new(current: Vec<u8>, previous: Vec<Vec<u8>>) -> Self {
        Signer { current, previous }
    }

    fn mac(key: &[u8], body: &[u8]) -> Hmac<Sha256> {
        let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        m.update(body);
        m
    }

    pub fn sign(&self, id: i64, purpose: Purpose, issued_at: DateTime<Utc>) -> String {
        let mut buf = Vec::with_capacity(BODY + MAC);
        buf.extend_from_slice(&id.to_be_bytes());
        buf.push(purpose.tag());
        buf.extend_from_slice(&issued_at.timestamp().to_be_bytes());
        let tag = Self::mac(&self.current, &buf).finalize().into_bytes();
        buf.extend_from_slice(&tag[..MAC]);
        URL_SAFE_NO_PAD.encode(buf)
    }

    pub fn verify(
        &self,
        token: &str,
        purpose: Purpose,
        now: DateTime<Utc>,
        max_age: Option<Duration>,
    ) -> Result<i64, TokenError> {
        let raw = URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .map_err(|_| TokenError::Malformed)?;
        if raw.len() != BODY + MAC {
            return Err(TokenError::Malformed);
        }
        let (body, tag) = raw.split_at(BODY);
        let ok = std::iter::once(&self.current)
            .chain(&self.previous)
            .any(|k| Self::mac(k, body).verify_truncated_left(tag).is_ok());
        if !ok {
            return Err(TokenError::BadSignature);
        }
        if body[8] != purpose.tag() {
            return Err(TokenError::WrongPurpose);
        }
        let id = i64::from_be_bytes(body[..8].try_into().expect("8 bytes"));
        let issued = i64::from_be_bytes(body[9..17].try_into().expect("8 bytes"));
        if let Some(max) = max_age
            && now.timestamp() - issued > max.as_secs() as i64
        {
            return Err(TokenError::Expired);
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new(b"0123456789abcdef0123456789abcdef".to_vec(), vec![])
    }

    #[test]
    fn a_token_verifies_for_its_purpose_only() {
        let t = signer().sign(42, Purpose::Bounce, Utc::now());
        assert_eq!(
            signer().verify(&t, Purpose::Bounce, Utc::now(), None),
            Ok(42)
        );
        assert_eq!(
            signer().verify(&t, Purpose::Unsubscribe, Utc::now(), None),
            Err(TokenError::WrongPurpose)
        );
    }

    #[test]
    fn tampered_foreign_and_expired_tokens_are_refused() {
        let s = signer();
        let now = Utc::now();
        let t = s.sign(7, Purpose::Confirm, now - chrono::Duration::days(8));
        assert_eq!(
            s.verify(
                &t,
                Purpose::Confirm,
                now,
                Some(Duration::from_secs(7 * 86400))
            ),
            Err(TokenError::Expired)
        );
        let mut bytes = t.into_bytes();
        bytes[3] ^= 1;
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(s.verify(&tampered, Purpose::Confirm, now, None).is_err());
        let other = Signer::new(b"another key, also long enough....".to_vec(), vec![]);
        let t = other.sign(7, Purpose::Confirm, now);
        assert_eq!(
            s.verify(&t, Purpose::Confirm, now, None),
            Err(TokenError::BadSignature)
        );
        let rotated = Signer::new(
            b"new key 0123456789abcdef01234567".to_vec(),
            vec![b"another key, also long enough....".to_vec()],
        );
        assert_eq!(rotated.verify(&t, Purpose::Confirm, now, None), Ok(7));
        assert_eq!(
            s.verify("!!", Purpose::Confirm, now, None),
            Err(TokenError::Malformed)
        );
    }
}
