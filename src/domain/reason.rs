//! Why a bounce happened: the closed vocabulary of bounce reasons (Sisimai's names, listed in
//! the bounce corpus README), parsed strictly from and shown as its lower-case text.
//!
//! Pure: it depends on std, serde and [`super::status::ParseEnumError`] only. A name that is not
//! in the vocabulary is an error naming the bad value and the expected ones, never a silent
//! `Undefined`, so a typo in a rule table fails a test instead of hiding a reason.

use super::status::ParseEnumError;
use std::fmt;
use std::str::FromStr;

/// Declares the enum with `as_str`, `ALL`, and the space-separated list of names that a
/// parse error shows; the list is built by the same macro so it cannot drift from the variants.
macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident => $text:literal),+ $(,)?) => {
        /// Why a message bounced (or what kind of report it is), in Sisimai's vocabulary.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub enum Reason {
            $($(#[$doc])* $variant,)+
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),+];

            /// The names [`FromStr`] accepts, space-separated (shown in parse errors).
            const EXPECTED: &'static str = concat!($($text, " "),+);

            /// The lower-case name, as reports, JSON and the database show it.
            pub const fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $text),+ }
            }
        }

        impl FromStr for Reason {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Reason::$variant),)+
                    _ => Err(ParseEnumError {
                        what: "bounce reason",
                        value: s.to_owned(),
                        expected: Reason::EXPECTED,
                    }),
                }
            }
        }
    };
}

reasons! {
    /// The remote side refused the sender's SPF/DKIM/DMARC authentication.
    AuthFailure => "authfailure",
    /// The sending IP or domain has a bad reputation at the remote side.
    BadReputation => "badreputation",
    /// The sending host was blocked (blocklists, missing rDNS, policy).
    Blocked => "blocked",
    /// The content was refused (headers, MIME structure).
    ContentError => "contenterror",
    /// A success notice, not a failure.
    Delivered => "delivered",
    /// A size or count limit of the remote side was exceeded.
    ExceedLimit => "exceedlimit",
    /// Delivery was given up after retrying for too long (or is still being retried).
    Expired => "expired",
    /// STARTTLS was required and failed.
    FailedStartTls => "failedstarttls",
    /// An abuse or complaint report (ARF).
    Feedback => "feedback",
    /// Refused by a filter at the recipient (often for a nonexistent user).
    Filtered => "filtered",
    /// The recipient moved to another address.
    HasMoved => "hasmoved",
    /// The recipient's domain does not exist or has no mail host.
    HostUnknown => "hostunknown",
    /// The mailbox is full.
    MailboxFull => "mailboxfull",
    /// A local delivery program failed.
    MailerError => "mailererror",
    /// The message is larger than the mailbox or host accepts.
    MesgTooBig => "mesgtoobig",
    /// DNS or network failure on the way.
    NetworkError => "networkerror",
    /// Relaying was denied.
    NoRelaying => "norelaying",
    /// The remote host accepts no mail (null MX, 521/556).
    NotAccept => "notaccept",
    /// The message is not RFC 5322 compliant.
    NotCompliantRfc => "notcompliantrfc",
    /// A failure whose reason could not be told from the text.
    OnHold => "onhold",
    /// A policy of the remote side refused the message.
    PolicyViolation => "policyviolation",
    /// The sender address was refused.
    Rejected => "rejected",
    /// The sending host needs a PTR record.
    RequirePtr => "requireptr",
    /// A security rule refused the message.
    SecurityError => "securityerror",
    /// Refused as spam.
    SpamDetected => "spamdetected",
    /// Sending too fast for the remote side.
    Speeding => "speeding",
    /// The address is on a suppression list of the sending service.
    Suppressed => "suppressed",
    /// The mailbox is suspended or disabled.
    Suspend => "suspend",
    /// An SMTP syntax error.
    SyntaxError => "syntaxerror",
    /// A system error at the remote side.
    SystemError => "systemerror",
    /// The remote system's disk is full.
    SystemFull => "systemfull",
    /// Too many connections to the remote side.
    TooManyConn => "toomanyconn",
    /// The mailbox does not exist.
    UserUnknown => "userunknown",
    /// An automatic reply (RFC 3834).
    Vacation => "vacation",
    /// Refused because a virus was found.
    VirusDetected => "virusdetected",
    /// No reason could be determined.
    #[default]
    Undefined => "undefined",
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_reason_round_trips_through_text_display_and_json() {
        assert_eq!(Reason::ALL.len(), 36);
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>().unwrap(), *r);
            assert_eq!(r.to_string(), r.as_str());
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), *r);
        }
    }

    #[test]
    fn names_are_distinct_lower_case_words() {
        let mut names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase()))
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Reason::ALL.len());
    }

    #[test]
    fn a_typo_is_an_error_naming_the_value_and_the_choices() {
        let err = "userunknwon".parse::<Reason>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`userunknwon`"), "{text}");
        assert!(text.contains("bounce reason"), "{text}");
        assert!(text.contains("userunknown"), "{text}");
        assert!(text.contains("undefined"), "{text}");
        // Case matters: the vocabulary is lower-case only.
        assert!("UserUnknown".parse::<Reason>().is_err());
        assert!("".parse::<Reason>().is_err());
        assert!(serde_json::from_str::<Reason>("\"nope\"").is_err());
    }

    #[test]
    fn undefined_is_the_default() {
        assert_eq!(Reason::default(), Reason::Undefined);
    }

    proptest! {
        #[test]
        fn any_variant_round_trips(i in 0..Reason::ALL.len()) {
            let r = Reason::ALL[i];
            prop_assert_eq!(r.as_str().parse::<Reason>().unwrap(), r);
            prop_assert_eq!(serde_json::from_str::<Reason>(&serde_json::to_string(&r).unwrap()).unwrap(), r);
        }

        #[test]
        fn any_other_text_is_refused(s in "\\PC{0,24}") {
            match s.parse::<Reason>() {
                Ok(r) => prop_assert_eq!(r.as_str(), s.as_str()),
                Err(e) => {
                    prop_assert_eq!(&e.value, &s);
                    prop_assert!(Reason::ALL.iter().all(|r| r.as_str() != s));
                }
            }
        }
    }
}
