//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA1, 30-second
//! steps, six digits, the step before and after accepted for clock drift. Which step was used
//! last is the caller's to remember, so a code is accepted once. Pure: the secret and the
//! time come in; ring's HMAC-SHA1 (kept by ring for exactly this legacy use).

use chrono::{DateTime, Utc};
use ring::hmac;

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Bytes of a generated secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (what authenticator apps read).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32 (case and spaces ignored); `None` on any other character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = BASE32
            .iter()
            .position(|&x| x as char == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The step `at` falls in.
pub fn step_at(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(STEP_SECS)
}

/// HOTP (RFC 4226) for `counter`: six digits.
pub fn hotp(secret: &[u8], counter: u64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let bin = (u32::from(mac[offset]) & 0x7f) << 24
        | u32::from(mac[offset + 1]) << 16
        | u32::from(mac[offset + 2]) << 8
        | u32::from(mac[offset + 3]);
    bin % 1_000_000
}

/// The code for `at`, as six digits.
pub fn code_at(secret: &[u8], at: DateTime<Utc>) -> String {
    format!("{:06}", hotp(secret, step_at(at) as u64))
}

/// The step whose code `code` is, among the step of `now` and the one before and after,
/// and later than `last_used` (a code is accepted once). Compared in constant time.
pub fn verify(secret: &[u8], code: &str, now: DateTime<Utc>, last_used: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now_step = step_at(now);
    let mut found = None;
    for step in [now_step - 1, now_step, now_step + 1] {
        let expected = format!("{:06}", hotp(secret, step as u64));
        let same: bool = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into();
        if same && step > last_used && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` URI an authenticator app reads (typed in, or scanned).
pub fn otpauth_uri(secret_b32: &str, account: &str, issuer: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

/// A recovery code from 10 random bytes: `xxxxx-xxxxx` in base32 (lower case).
pub fn recovery_code(random: &[u8; 10]) -> String {
    let s = base32_encode(random).to_lowercase();
    format!("{}-{}", &s[..8], &s[8..16])
}

/// A recovery code as typed, normalised for hashing (case, spaces and dashes ignored).
pub fn normalise_recovery_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// RFC 6238 appendix B, SHA-1, truncated to six digits.
    #[test]
    fn the_rfc_6238_vectors_match() {
        let secret = b"12345678901234567890";
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            let at = Utc.timestamp_opt(t, 0).unwrap();
            assert_eq!(code_at(secret, at), code, "t={t}");
        }
    }

    #[test]
    fn neighbouring_steps_pass_once_and_others_fail() {
        let secret = b"12345678901234567890";
        let now = Utc.timestamp_opt(1_234_567_890, 0).unwrap();
        let before = code_at(secret, now - chrono::Duration::seconds(30));
        let step = verify(secret, &before, now, 0).unwrap();
        assert_eq!(step, step_at(now) - 1);
        assert_eq!(verify(secret, &before, now, step), None, "used once");
        let old = code_at(secret, now - chrono::Duration::seconds(90));
        assert_eq!(verify(secret, &old, now, 0), None);
        assert_eq!(verify(secret, "12345", now, 0), None);
        assert_eq!(verify(secret, "abcdef", now, 0), None);
    }

    #[test]
    fn base32_round_trips() {
        let bytes = b"12345678901234567890";
        let text = base32_encode(bytes);
        assert_eq!(text, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(base32_decode(&text.to_lowercase()).unwrap(), bytes);
        assert!(base32_decode("not base32!").is_none());
        let code = recovery_code(&[7; 10]);
        assert_eq!(code.len(), 17);
        assert_eq!(normalise_recovery_code(&code.to_uppercase()).len(), 16);
    }
}
