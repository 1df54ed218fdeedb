//! An email address, parsed once at the edge and trusted everywhere after.
//!
//! Rules: surrounding whitespace is trimmed; the domain is lower-cased and IDNA-encoded
//! (`例え.jp` → `xn--r8jz45g.jp`); the local part is kept exactly as typed (RFC 5321 says
//! only the receiving host may interpret it); control characters (CR/LF above all, the
//! classic header-injection vector) are refused; RFC 5321 length limits hold (local part
//! ≤ 64 octets, domain ≤ 255, each label ≤ 63, the whole path ≤ 254).
//! Pure: imports nothing of the crate's other modules.

use std::fmt;

/// Why a text is not an address we will mail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the address is empty")]
    Empty,
    #[error("the address contains a control character (such as a line break)")]
    ControlCharacter,
    #[error("the address needs exactly one @ between a name and a domain")]
    Shape,
    #[error("the part before @ is longer than 64 octets")]
    LocalTooLong,
    #[error(
        "the part before @ may only contain letters, digits and !#$%&'*+/=?^_`{{|}}~.- (no leading, trailing or double dots)"
    )]
    LocalInvalid,
    #[error("the domain `{0}` is not a valid internet domain")]
    DomainInvalid(String),
    #[error("the address is longer than 254 octets")]
    TooLong,
}

/// A syntactically valid, normalised mailbox address.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses and normalises `input`; see the module docs for the rules.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim_matches(|c: char| c == ' ' || c == '\t');
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.chars().any(char::is_control) {
            return Err(EmailError::ControlCharacter);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(EmailError::Shape)?;
        if local.is_empty() || domain.is_empty() {
            return Err(EmailError::Shape);
        }
        if local.len() > 64 {
            return Err(EmailError::LocalTooLong);
        }
        if !valid_dot_atom(local) {
            return Err(EmailError::LocalInvalid);
        }
        let ascii_domain = normalise_domain(domain)?;
        let address = format!("{local}@{ascii_domain}");
        if address.len() > 254 {
            return Err(EmailError::TooLong);
        }
        Ok(EmailAddress(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The IDNA-encoded, lower-case domain.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or("")
    }

    /// The key addresses are compared by: the whole address lower-cased. Strictly the local
    /// part is case-sensitive, but no real mailbox provider treats it so, and two rows for
    /// `Taro@x.jp` and `taro@x.jp` would mean two copies of every issue.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn valid_dot_atom(local: &str) -> bool {
    const SPECIALS: &[u8] = b"!#$%&'*+/=?^_`{|}~-";
    !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || SPECIALS.contains(&b))
}

fn normalise_domain(domain: &str) -> Result<String, EmailError> {
    let invalid = || EmailError::DomainInvalid(domain.to_owned());
    // A trailing dot is a valid FQDN spelling, but mail systems disagree about it.
    if domain.ends_with('.') || domain.starts_with('[') {
        return Err(invalid());
    }
    let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| invalid())?;
    if ascii.is_empty() || ascii.len() > 255 || !ascii.contains('.') {
        return Err(invalid());
    }
    for label in ascii.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(invalid());
        }
    }
    // A top-level domain is never all digits: `1.2.3.4` is an address literal, not a name.
    if ascii
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid());
    }
    Ok(ascii)
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Debug shows the address: it is personal data, so never `{:?}` one at info level.
impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.0)
    }
}

/// As the text, as stored: the JSON views of a subscriber show it to operators.
impl serde::Serialize for EmailAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn an_accepted_address_is_normalised_bounded_and_header_safe(
            input in "[ \t]?[A-Za-z0-9._+\r\n-]{0,70}@[A-Za-z0-9.\u{3042}-\u{3093}-]{0,40}[ \t]?"
        ) {
            if let Ok(a) = EmailAddress::parse(&input) {
                proptest::prop_assert!(a.as_str().len() <= 254);
                proptest::prop_assert!(!a.as_str().chars().any(char::is_control));
                proptest::prop_assert!(a.domain().is_ascii());
                proptest::prop_assert_eq!(a.domain().to_ascii_lowercase(), a.domain());
                // What was accepted parses to itself: a stored address reads back the same.
                proptest::prop_assert_eq!(EmailAddress::parse(a.as_str()), Ok(a.clone()));
                proptest::prop_assert_eq!(format!("{}@{}", a.local_part(), a.domain()), a.as_str());
            }
        }
    }

    #[test]
    fn domain_is_lowercased_and_local_part_kept() {
        let a = EmailAddress::parse("  Taro.Yamada@Example.JP ").unwrap();
        assert_eq!(a.as_str(), "Taro.Yamada@example.jp");
        assert_eq!(a.domain(), "example.jp");
        assert_eq!(a.key(), "taro.yamada@example.jp");
    }

    #[test]
    fn japanese_domains_are_idna_encoded() {
        let a = EmailAddress::parse("info@日本語.jp").unwrap();
        assert_eq!(a.as_str(), "info@xn--wgv71a119e.jp");
    }

    #[test]
    fn header_injection_is_refused() {
        assert_eq!(
            EmailAddress::parse("a@b.jp\r\nBcc: x@y.jp"),
            Err(EmailError::ControlCharacter)
        );
        assert_eq!(
            EmailAddress::parse("a\n@b.jp"),
            Err(EmailError::ControlCharacter)
        );
    }

    #[test]
    fn malformed_addresses_get_specific_errors() {
        assert_eq!(EmailAddress::parse(""), Err(EmailError::Empty));
        assert_eq!(
            EmailAddress::parse("no-at.example.jp"),
            Err(EmailError::Shape)
        );
        assert_eq!(EmailAddress::parse("@example.jp"), Err(EmailError::Shape));
        assert_eq!(
            EmailAddress::parse("a..b@example.jp"),
            Err(EmailError::LocalInvalid)
        );
        assert_eq!(
            EmailAddress::parse("山田@example.jp"),
            Err(EmailError::LocalInvalid)
        );
        assert!(matches!(
            EmailAddress::parse("a@localhost"),
            Err(EmailError::DomainInvalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse("a@1.2.3.4"),
            Err(EmailError::DomainInvalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse("a@-x.jp"),
            Err(EmailError::DomainInvalid(_))
        ));
        assert!(matches!(
            EmailAddress::parse("a@ex ample.jp"),
            Err(EmailError::DomainInvalid(_))
        ));
    }

    #[test]
    fn rfc5321_length_limits_hold() {
        let local64 = "a".repeat(64);
        assert!(EmailAddress::parse(&format!("{local64}@example.jp")).is_ok());
        assert_eq!(
            EmailAddress::parse(&format!("{local64}a@example.jp")),
            Err(EmailError::LocalTooLong)
        );
        let label = "b".repeat(63);
        let long_domain = format!("{label}.{label}.{label}.jp");
        assert_eq!(
            EmailAddress::parse(&format!("{local64}@{long_domain}")),
            Err(EmailError::TooLong)
        );
        let label64 = "c".repeat(64);
        assert!(matches!(
            EmailAddress::parse(&format!("a@{label64}.jp")),
            Err(EmailError::DomainInvalid(_))
        ));
    }
}

/// A mailbox with an optional display name, as in `From: 回覧板 <news@example.org>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: EmailAddress,
}

impl Mailbox {
    /// Parses `addr@example.org` or `Display Name <addr@example.org>` (the name may be
    /// double-quoted). Control characters in the name are refused.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim();
        if let Some(open) = s.rfind('<') {
            let rest = &s[open + 1..];
            let close = rest.find('>').ok_or(EmailError::Shape)?;
            if !rest[close + 1..].trim().is_empty() {
                return Err(EmailError::Shape);
            }
            let address = EmailAddress::parse(&rest[..close])?;
            let name = s[..open].trim().trim_matches('"').trim();
            if name.chars().any(char::is_control) {
                return Err(EmailError::ControlCharacter);
            }
            let name = (!name.is_empty()).then(|| name.to_owned());
            Ok(Mailbox { name, address })
        } else {
            Ok(Mailbox {
                name: None,
                address: EmailAddress::parse(s)?,
            })
        }
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{n} <{}>", self.address),
            None => write!(f, "{}", self.address),
        }
    }
}

#[cfg(test)]
mod mailbox_tests {
    use super::*;

    #[test]
    fn mailbox_with_japanese_name_parses() {
        let m = Mailbox::parse("回覧板 ニュース <News@Example.ORG>").unwrap();
        assert_eq!(m.name.as_deref(), Some("回覧板 ニュース"));
        assert_eq!(m.address.as_str(), "News@example.org");
        let bare = Mailbox::parse("news@example.org").unwrap();
        assert_eq!(bare.name, None);
        assert!(Mailbox::parse("x <news@example.org> trailing").is_err());
    }
}
