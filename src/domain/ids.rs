//! Typed ids: a subscriber's id, an issue's and a delivery's are different types, so one can
//! never be passed where another is meant. Each is a plain `i64` underneath: shown as the
//! number (`Display`), serialised as the number (JSON keeps plain numbers), parsed from the
//! number (`FromStr`, URL paths), bound in SQL through [`get`](SubscriberId::get).
//! Pure: imports nothing of the crate's other modules.

use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// The id a database row or a signed token carries.
            pub const fn new(id: i64) -> Self {
                $name(id)
            }

            /// The number, for SQL parameters, tokens and log fields.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        /// The bare number; width and alignment flags apply (tables pad ids).
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id_type!(
    /// Identifies a subscriber; this, never the address, goes into info-level logs.
    SubscriberId
);
id_type!(
    /// Identifies an issue (one month's newsletter in both languages).
    IssueId
);
id_type!(
    /// Identifies one (issue, subscriber) delivery.
    DeliveryId
);
id_type!(
    /// Identifies one queued transactional mail (the outbox).
    MailId
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_show_and_serialise_as_plain_numbers() {
        let id = SubscriberId::new(42);
        assert_eq!(id.to_string(), "42");
        assert_eq!(format!("{id:>5}|{:<4}|", IssueId::new(7)), "   42|7   |");
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(
            serde_json::from_str::<DeliveryId>("9").unwrap(),
            DeliveryId::new(9)
        );
        assert!("x1".parse::<IssueId>().is_err());
    }

    proptest! {
        #[test]
        fn every_id_round_trips_through_text_and_json(n in any::<i64>()) {
            let id = SubscriberId::new(n);
            prop_assert_eq!(id.get(), n);
            prop_assert_eq!(id.to_string().parse::<SubscriberId>().unwrap(), id);
            let json = serde_json::to_string(&IssueId::new(n)).unwrap();
            prop_assert_eq!(&json, &n.to_string());
            prop_assert_eq!(serde_json::from_str::<IssueId>(&json).unwrap(), IssueId::new(n));
        }

        #[test]
        fn ids_order_as_their_numbers(a in any::<i64>(), b in any::<i64>()) {
            prop_assert_eq!(DeliveryId::new(a).cmp(&DeliveryId::new(b)), a.cmp(&b));
        }
    }
}
