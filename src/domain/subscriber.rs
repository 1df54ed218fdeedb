//! Subscribers: who is on the list, how they came to be (the consent record), and the rule
//! for the display name a reader may give. Pure: imports nothing of the crate's other modules
//! but the domain's own.

use chrono::{DateTime, Utc};

use super::email::EmailAddress;
use super::ids::SubscriberId;
use super::status::{Lang, LangPref, SubscriberStatus, text_enum};

text_enum!(
    /// How a subscriber came to be on the list (recorded with consent, and as the
    /// subscriber's `source`).
    SubscriptionSource, "subscription source", {
        Form => "form",
        Import => "import",
        Cli => "cli",
        Api => "api",
    }
);

/// The evidence of one opt-in.
#[derive(Debug, Clone, PartialEq)]
pub struct Consent {
    pub method: SubscriptionSource,
    pub form_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub page_lang: Option<Lang>,
    pub text_hash: Option<String>,
    pub text_version: Option<String>,
}

impl Consent {
    /// An operator's addition (command line, import, admin API): no form, no consent text;
    /// `confirmed` when the operator says the reader's consent was obtained otherwise.
    pub fn operator(method: SubscriptionSource, confirmed: bool, now: DateTime<Utc>) -> Consent {
        Consent {
            method,
            form_at: now,
            confirmed_at: confirmed.then_some(now),
            ip: None,
            user_agent: None,
            page_lang: None,
            text_hash: None,
            text_version: None,
        }
    }
}

/// A subscriber to be stored.
#[derive(Debug, Clone)]
pub struct NewSubscriber {
    pub email: EmailAddress,
    pub name: Option<String>,
    pub lang: LangPref,
    pub status: SubscriberStatus,
    pub consent: Consent,
    pub now: DateTime<Utc>,
}

/// A stored subscriber. The address stays typed: a stored value that is not an address is
/// refused when the row is read, never re-parsed later.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscriber {
    pub id: SubscriberId,
    pub email: EmailAddress,
    pub name: Option<String>,
    pub lang: LangPref,
    pub status: SubscriberStatus,
    pub source: SubscriptionSource,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub confirmation_sent_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub unsubscribed_at: Option<DateTime<Utc>>,
    pub unsubscribe_method: Option<String>,
    pub soft_bounce_score: f64,
    pub last_bounce_at: Option<DateTime<Utc>>,
}

/// The longest display name accepted, in characters.
pub const NAME_MAX_CHARS: usize = 100;

/// Why a name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is longer than {NAME_MAX_CHARS} characters")]
    TooLong,
    #[error("the name contains a line break or another control character")]
    ControlCharacter,
}

/// Trims a name; empty means none. CR, LF and other control characters are refused (a name
/// goes into the `To:` header).
pub fn parse_name(input: &str) -> Result<Option<String>, NameError> {
    if input.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    let name = input.trim();
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(NameError::TooLong);
    }
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed_limited_and_single_line() {
        assert_eq!(parse_name("  山田 太郎 "), Ok(Some("山田 太郎".into())));
        assert_eq!(parse_name("   "), Ok(None));
        assert_eq!(parse_name(&"あ".repeat(100)), Ok(Some("あ".repeat(100))));
        assert_eq!(parse_name(&"あ".repeat(101)), Err(NameError::TooLong));
        assert_eq!(
            parse_name("Taro\r\nBcc: x@example.jp"),
            Err(NameError::ControlCharacter)
        );
        assert_eq!(parse_name("a\u{0}b"), Err(NameError::ControlCharacter));
    }

    #[test]
    fn sources_round_trip_through_their_text() {
        for s in SubscriptionSource::ALL {
            assert_eq!(s.as_str().parse::<SubscriptionSource>().unwrap(), *s);
        }
        assert!("erased".parse::<SubscriptionSource>().is_err());
    }

    #[test]
    fn an_operator_consent_has_no_form_evidence() {
        let now = Utc::now();
        let c = Consent::operator(SubscriptionSource::Import, true, now);
        assert_eq!((c.form_at, c.confirmed_at), (now, Some(now)));
        assert!(c.ip.is_none() && c.text_hash.is_none() && c.page_lang.is_none());
        assert_eq!(
            Consent::operator(SubscriptionSource::Cli, false, now).confirmed_at,
            None
        );
    }

    proptest! {
        #[test]
        fn an_accepted_name_is_trimmed_bounded_and_header_safe(input in any::<String>()) {
            if let Ok(Some(name)) = parse_name(&input) {
                prop_assert!(name.chars().count() <= NAME_MAX_CHARS);
                prop_assert!(!name.chars().any(char::is_control));
                prop_assert_eq!(name.trim(), name.as_str());
                prop_assert!(!name.is_empty());
                // Parsing what was accepted gives it back.
                prop_assert_eq!(parse_name(&name), Ok(Some(name.clone())));
            }
        }
    }
}
