//! Signed tokens for links in mail and pages (confirm, unsubscribe, preferences, VERP bounce
//! addresses). Pure: the key and the clock are passed in.
//!
//! A token is base64url (no padding) of
//! `version (1) ‖ purpose (1) ‖ subscriber id (8, big-endian) ‖ issued-at (8, unix seconds,
//! big-endian) ‖ HMAC-SHA256 (32)`, the MAC taken over a fixed domain label and the first 18
//! bytes. So a token names a subscriber by id only (no email address), is bound to one
//! purpose (a confirm token cannot unsubscribe), and carries the time it was issued so a
//! caller can bound its age. Verification tries the current key, then each previous key
//! (rotation), comparing MACs in constant time (`Mac::verify_truncated_left`). Imports nothing
//! of the crate's other modules; ids are the plain numbers typed ids carry (`get`).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"kairan-token-v1\0";
const BODY_LEN: usize = 1 + 1 + 8 + 8;
/// HMAC-SHA256 truncated to 128 bits (as RFC 2104 §5 allows): forging one still takes 2^128
/// guesses, and the token stays short enough for a VERP local part (`bounces+TOKEN`, RFC 5321
/// allows 64 octets): 46 characters.
const MAC_LEN: usize = 16;
const TOKEN_LEN: usize = BODY_LEN + MAC_LEN;
/// Clock skew tolerated between instances for a token "issued in the future".
const MAX_SKEW_SECS: i64 = 300;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    Confirm,
    Unsubscribe,
    Preferences,
    Bounce,
    /// A console account's one-time setup link (issue 14); the id is a random nonce.
    UserSetup,
}

impl Purpose {
    fn code(self) -> u8 {
        match self {
            Purpose::Confirm => 1,
            Purpose::Unsubscribe => 2,
            Purpose::Preferences => 3,
            Purpose::Bounce => 4,
            Purpose::UserSetup => 5,
        }
    }
}

/// Why a token was refused. The page shown is the same for all of them; the variant is for
/// tests and debug logs (never log the token itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not well-formed")]
    Malformed,
    #[error("the token's signature does not match any key")]
    BadSignature,
    #[error("the token is for another purpose")]
    WrongPurpose,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued in the future")]
    FromTheFuture,
}

/// Signs with the current key; verifies with the current key or any previous one.
#[derive(Clone)]
pub struct Signer {
    current: Vec<u8>,
    previous: Vec<Vec<u8>>,
    /// After this moment the previous keys are no longer accepted (the rotation period).
    previous_until: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer(*** + {} previous)", self.previous.len())
    }
}

impl Signer {
    /// `current` signs; `previous` keys are still accepted when verifying.
    pub fn new(current: Vec<u8>, previous: Vec<Vec<u8>>) -> Self {
        assert!(!current.is_empty(), "a signing key must not be empty");
        Signer {
            current,
            previous,
            previous_until: None,
        }
    }

    /// Accepts the previous keys only until `until` (`None`: as long as they are configured).
    pub fn previous_until(mut self, until: Option<DateTime<Utc>>) -> Self {
        self.previous_until = until;
        self
    }

    /// A token for subscriber `id`, usable for `purpose`, issued at `issued_at`.
    pub fn sign(&self, id: i64, purpose: Purpose, issued_at: DateTime<Utc>) -> String {
        let mut bytes = Vec::with_capacity(TOKEN_LEN);
        bytes.push(VERSION);
        bytes.push(purpose.code());
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&issued_at.timestamp().to_be_bytes());
        let mac = mac(&self.current, &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&mac[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The subscriber id of a valid token for `purpose`, not older than `max_age` (when
    /// given) at `now`.
    pub fn verify(
        &self,
        token: &str,
        purpose: Purpose,
        now: DateTime<Utc>,
        max_age: Option<Duration>,
    ) -> Result<i64, TokenError> {
        // The encoded length is fixed: refuse anything else before decoding.
        if token.len() != (TOKEN_LEN * 4).div_ceil(3) {
            return Err(TokenError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| TokenError::Malformed)?;
        if bytes.len() != TOKEN_LEN || bytes[0] != VERSION {
            return Err(TokenError::Malformed);
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        let rotation_open = self.previous_until.is_none_or(|until| now <= until);
        let previous: &[Vec<u8>] = if rotation_open { &self.previous } else { &[] };
        let valid = std::iter::once(&self.current)
            .chain(previous.iter())
            .any(|key| mac(key, body).verify_truncated_left(tag).is_ok());
        if !valid {
            return Err(TokenError::BadSignature);
        }
        if body[1] != purpose.code() {
            return Err(TokenError::WrongPurpose);
        }
        let id = i64::from_be_bytes(body[2..10].try_into().expect("8 bytes"));
        let issued = i64::from_be_bytes(body[10..18].try_into().expect("8 bytes"));
        let age = now.timestamp().saturating_sub(issued);
        if age < -MAX_SKEW_SECS {
            return Err(TokenError::FromTheFuture);
        }
        if let Some(max) = max_age
            && age > i64::try_from(max.as_secs()).unwrap_or(i64::MAX)
        {
            return Err(TokenError::Expired);
        }
        Ok(id)
    }
}

/// Bytes in a [`Signer::tag`]: 80 bits, so guessing one takes about 2^79 tries, each a mail
/// to us.
pub const TAG_LEN: usize = 10;
const TAG_DOMAIN: &[u8] = b"kairan-tag-v1\0";

impl Signer {
    /// A deterministic MAC of `data` bound to `label`, with the current key: for values that
    /// must come out the same every time they are made (a campaign Message-ID, so a resend
    /// carries the same one) and yet cannot be made without the key.
    pub fn tag(&self, label: &str, data: &[u8]) -> [u8; TAG_LEN] {
        let full = tag_mac(&self.current, label, data).finalize().into_bytes();
        full[..TAG_LEN].try_into().expect("TAG_LEN <= 32")
    }

    /// Whether `tag` is [`Signer::tag`] of `data` under `label`, with the current key or a
    /// previous one while the rotation is open at `now`; compared in constant time.
    pub fn verify_tag(&self, label: &str, data: &[u8], tag: &[u8], now: DateTime<Utc>) -> bool {
        if tag.len() != TAG_LEN {
            return false;
        }
        let rotation_open = self.previous_until.is_none_or(|until| now <= until);
        let previous: &[Vec<u8>] = if rotation_open { &self.previous } else { &[] };
        std::iter::once(&self.current)
            .chain(previous.iter())
            .any(|key| tag_mac(key, label, data).verify_truncated_left(tag).is_ok())
    }
}

fn tag_mac(key: &[u8], label: &str, data: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(TAG_DOMAIN);
    m.update(label.as_bytes());
    m.update(&[0]);
    m.update(data);
    m
}

fn mac(key: &[u8], body: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(DOMAIN);
    m.update(body);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn signer() -> Signer {
        Signer::new(b"0123456789abcdef0123456789abcdef".to_vec(), vec![])
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn a_token_round_trips_and_carries_no_address() {
        let s = signer();
        let t = s.sign(42, Purpose::Unsubscribe, at(1_800_000_000));
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert!(!t.contains('@'));
        assert_eq!(
            s.verify(&t, Purpose::Unsubscribe, at(1_800_000_000), None),
            Ok(42)
        );
    }

    #[test]
    fn a_token_for_one_purpose_is_refused_for_another() {
        let s = signer();
        let now = at(1_800_000_000);
        let t = s.sign(7, Purpose::Confirm, now);
        for p in [Purpose::Unsubscribe, Purpose::Preferences, Purpose::Bounce] {
            assert_eq!(s.verify(&t, p, now, None), Err(TokenError::WrongPurpose));
        }
    }

    #[test]
    fn confirm_tokens_expire_and_the_boundary_is_inclusive() {
        let s = signer();
        let t = s.sign(7, Purpose::Confirm, at(1_800_000_000));
        let limit = at(1_800_000_000 + 7 * 86_400);
        assert_eq!(s.verify(&t, Purpose::Confirm, limit, Some(7 * DAY)), Ok(7));
        assert_eq!(
            s.verify(
                &t,
                Purpose::Confirm,
                limit + chrono::Duration::seconds(1),
                Some(7 * DAY)
            ),
            Err(TokenError::Expired)
        );
        // Without a maximum age it never expires.
        assert_eq!(
            s.verify(&t, Purpose::Confirm, at(2_500_000_000), None),
            Ok(7)
        );
    }

    #[test]
    fn a_token_from_the_far_future_is_refused() {
        let s = signer();
        let t = s.sign(1, Purpose::Confirm, at(1_800_000_000));
        assert_eq!(
            s.verify(&t, Purpose::Confirm, at(1_800_000_000 - 3600), None),
            Err(TokenError::FromTheFuture)
        );
    }

    #[test]
    fn rotation_accepts_the_previous_key_and_signs_with_the_new_one() {
        let old = Signer::new(b"old-key-old-key-old-key-old-key!".to_vec(), vec![]);
        let rotated = Signer::new(
            b"new-key-new-key-new-key-new-key!".to_vec(),
            vec![b"old-key-old-key-old-key-old-key!".to_vec()],
        );
        let now = at(1_800_000_000);
        let from_old = old.sign(9, Purpose::Unsubscribe, now);
        assert_eq!(
            rotated.verify(&from_old, Purpose::Unsubscribe, now, None),
            Ok(9)
        );
        let from_new = rotated.sign(9, Purpose::Unsubscribe, now);
        assert_ne!(from_old, from_new);
        assert_eq!(
            old.verify(&from_new, Purpose::Unsubscribe, now, None),
            Err(TokenError::BadSignature)
        );
        // Once the old key is dropped, its tokens stop working.
        let later = Signer::new(b"new-key-new-key-new-key-new-key!".to_vec(), vec![]);
        assert_eq!(
            later.verify(&from_old, Purpose::Unsubscribe, now, None),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn previous_keys_are_accepted_only_during_the_rotation_period() {
        let old = Signer::new(b"old-key-old-key-old-key-old-key!".to_vec(), vec![]);
        let until = at(1_800_000_000);
        let rotated = Signer::new(
            b"new-key-new-key-new-key-new-key!".to_vec(),
            vec![b"old-key-old-key-old-key-old-key!".to_vec()],
        )
        .previous_until(Some(until));
        let t = old.sign(9, Purpose::Unsubscribe, until - chrono::Duration::days(30));
        assert_eq!(rotated.verify(&t, Purpose::Unsubscribe, until, None), Ok(9));
        assert_eq!(
            rotated.verify(
                &t,
                Purpose::Unsubscribe,
                until + chrono::Duration::seconds(1),
                None
            ),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let s = signer();
        let now = at(1_800_000_000);
        for bad in ["", "abc", "!!!!", &"A".repeat(66), &"A".repeat(200)] {
            assert!(s.verify(bad, Purpose::Confirm, now, None).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_id_and_time_round_trip(id in any::<i64>(), secs in 0i64..4_000_000_000) {
            let s = signer();
            let t = s.sign(id, Purpose::Preferences, at(secs));
            prop_assert_eq!(s.verify(&t, Purpose::Preferences, at(secs), None), Ok(id));
        }

        #[test]
        fn flipping_any_bit_breaks_the_token(id in any::<i64>(), byte in 0usize..TOKEN_LEN, bit in 0u8..8) {
            let s = signer();
            let now = at(1_800_000_000);
            let t = s.sign(id, Purpose::Unsubscribe, now);
            let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
            raw[byte] ^= 1 << bit;
            let tampered = URL_SAFE_NO_PAD.encode(raw);
            prop_assert!(s.verify(&tampered, Purpose::Unsubscribe, now, None).is_err());
        }

        #[test]
        fn another_key_never_verifies(key in proptest::collection::vec(any::<u8>(), 1..64)) {
            prop_assume!(key != b"0123456789abcdef0123456789abcdef".to_vec());
            let other = Signer::new(key, vec![]);
            let now = at(1_800_000_000);
            let t = other.sign(5, Purpose::Confirm, now);
            prop_assert_eq!(signer().verify(&t, Purpose::Confirm, now, None), Err(TokenError::BadSignature));
        }
    }
}

#[cfg(test)]
mod tag_tests {
    use super::*;

    #[test]
    fn a_tag_is_deterministic_bound_to_its_label_and_key() {
        let now = Utc::now();
        let s = Signer::new(b"0123456789abcdef0123456789abcdef".to_vec(), vec![]);
        let t = s.tag("message-id", b"7.42");
        assert_eq!(t, s.tag("message-id", b"7.42"));
        assert!(s.verify_tag("message-id", b"7.42", &t, now));
        assert!(!s.verify_tag("message-id", b"7.43", &t, now));
        assert!(!s.verify_tag("other", b"7.42", &t, now));
        assert!(!s.verify_tag("message-id", b"7.42", &t[..TAG_LEN - 1], now));
        let other = Signer::new(b"another key, another key, another".to_vec(), vec![]);
        assert!(!other.verify_tag("message-id", b"7.42", &t, now));
        let rotated = Signer::new(
            b"another key, another key, another".to_vec(),
            vec![b"0123456789abcdef0123456789abcdef".to_vec()],
        );
        assert!(rotated.verify_tag("message-id", b"7.42", &t, now));
    }
}

#[cfg(test)]
mod length_tests {
    use super::*;

    #[test]
    fn a_token_fits_a_verp_local_part() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef".to_vec(), vec![]);
        let t = s.sign(i64::MAX, Purpose::Bounce, Utc::now());
        assert_eq!(t.len(), 46);
        assert!(format!("bounces+{t}").len() <= 64);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
