//! The closed vocabularies of the states in `docs/contracts.md`, each mapped explicitly to its
//! column text. Pure: imports nothing of the crate's other modules.

/// A text value that is not one of an enum's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what} (expected one of: {expected})")]
pub struct ParseEnumError {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// Declares a string-mapped enum: `as_str`, `ALL`, `Display`, `FromStr`, serde as the text.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database and shown to users.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::status::ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::domain::status::ParseEnumError {
                        what: $what,
                        value: s.to_owned(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(super) use text_enum;

text_enum!(
    /// A language a message or page is written in.
    Lang, "language", { Ja => "ja", En => "en" }
);

text_enum!(
    /// What a subscriber chose to receive: one language or both in one message.
    LangPref, "language preference", { Ja => "ja", En => "en", Both => "both" }
);

impl LangPref {
    /// The languages of the message, Japanese first.
    pub fn langs(self) -> &'static [Lang] {
        match self {
            LangPref::Ja => &[Lang::Ja],
            LangPref::En => &[Lang::En],
            LangPref::Both => &[Lang::Ja, Lang::En],
        }
    }
}

impl From<Lang> for LangPref {
    fn from(l: Lang) -> Self {
        match l {
            Lang::Ja => LangPref::Ja,
            Lang::En => LangPref::En,
        }
    }
}

text_enum!(
    /// `pending` → `active` → `unsubscribed` | `bounced` | `complained`.
    SubscriberStatus, "subscriber status", {
        Pending => "pending",
        Active => "active",
        Unsubscribed => "unsubscribed",
        Bounced => "bounced",
        Complained => "complained",
    }
);

impl SubscriberStatus {
    /// Whether campaign mail may go to this subscriber.
    pub fn receives_mail(self) -> bool {
        self == SubscriberStatus::Active
    }
}

text_enum!(
    /// `draft` ⇄ `queued` → `sending` → `sent`; `paused` ⇄ `sending`; `cancelled`.
    IssueState, "issue state", {
        Draft => "draft",
        Queued => "queued",
        Sending => "sending",
        Paused => "paused",
        Sent => "sent",
        Cancelled => "cancelled",
    }
);

impl IssueState {
    /// The issue state machine (`docs/contracts.md`): may an issue go from `self` to `to`?
    pub fn can_become(self, to: IssueState) -> bool {
        use IssueState::*;
        matches!(
            (self, to),
            (Draft, Queued)
                | (Draft, Cancelled)
                | (Queued, Sending)
                | (Queued, Paused)
                | (Queued, Cancelled)
                | (Queued, Draft)
                | (Sending, Sent)
                | (Sending, Paused)
                | (Sending, Cancelled)
                | (Paused, Sending)
                | (Paused, Queued)
                | (Paused, Cancelled)
        )
    }

    /// Whether the issue's content may still be edited (nothing has been sent yet).
    pub fn editable(self) -> bool {
        matches!(self, IssueState::Draft | IssueState::Queued)
    }

    /// No further transitions.
    pub fn is_final(self) -> bool {
        matches!(self, IssueState::Sent | IssueState::Cancelled)
    }
}

text_enum!(
    /// `pending` → `sending` (leased) → `sent` | `retry` | `failed` | `skipped`.
    DeliveryState, "delivery state", {
        Pending => "pending",
        Sending => "sending",
        Sent => "sent",
        Retry => "retry",
        Failed => "failed",
        Skipped => "skipped",
    }
);

impl DeliveryState {
    /// Whether the delivery is finished (nothing more will be attempted).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryState::Sent | DeliveryState::Failed | DeliveryState::Skipped
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_round_trips_through_its_text() {
        for s in SubscriberStatus::ALL {
            assert_eq!(s.as_str().parse::<SubscriberStatus>().unwrap(), *s);
        }
        for s in IssueState::ALL {
            assert_eq!(s.as_str().parse::<IssueState>().unwrap(), *s);
        }
        for s in DeliveryState::ALL {
            assert_eq!(s.as_str().parse::<DeliveryState>().unwrap(), *s);
        }
        for s in LangPref::ALL {
            assert_eq!(s.as_str().parse::<LangPref>().unwrap(), *s);
        }
    }

    #[test]
    fn unknown_text_is_refused_naming_the_choices() {
        let err = "Active".parse::<SubscriberStatus>().unwrap_err();
        assert!(err.to_string().contains("`Active`"), "{err}");
        assert!(err.to_string().contains("pending active"), "{err}");
    }

    #[test]
    fn sent_and_cancelled_issues_are_final() {
        for to in IssueState::ALL {
            assert!(!IssueState::Sent.can_become(*to));
            assert!(!IssueState::Cancelled.can_become(*to));
        }
        assert!(IssueState::Sending.can_become(IssueState::Paused));
        assert!(IssueState::Paused.can_become(IssueState::Sending));
        assert!(!IssueState::Draft.can_become(IssueState::Sent));
    }

    #[test]
    fn both_means_japanese_then_english() {
        assert_eq!(LangPref::Both.langs(), &[Lang::Ja, Lang::En]);
    }
}
