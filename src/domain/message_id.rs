//! The Message-ID of a campaign message: `ISSUE.SUBSCRIBER.TAG.kairan@DOMAIN`, the same for
//! every attempt of one (issue, subscriber) so a resend after a crash is recognisably the same
//! message, and carrying a tag (an HMAC of the two ids, [`Signer::tag`]) so that nobody but
//! kairan can write the Message-ID of another reader's delivery: a bounce that arrives without
//! its VERP token may act on a reader only when the returned message's Message-ID is one of
//! ours and names a delivery made to the address the bounce is about.
//!
//! Pure: the signer and the clock are passed in; imports nothing but the domain.

use chrono::{DateTime, Utc};

use super::ids::{IssueId, SubscriberId};
use super::token::{Signer, TAG_LEN};

const LABEL: &str = "message-id";
const SUFFIX: &str = "kairan";

fn data(issue: IssueId, subscriber: SubscriberId) -> String {
    format!("{}.{}", issue.get(), subscriber.get())
}

/// The Message-ID (without angle brackets) of issue `issue` sent to `subscriber`.
pub fn campaign(signer: &Signer, issue: IssueId, subscriber: SubscriberId, domain: &str) -> String {
    let tag = signer.tag(LABEL, data(issue, subscriber).as_bytes());
    let mut hex = String::with_capacity(TAG_LEN * 2);
    for b in tag {
        hex.push_str(&format!("{b:02x}"));
    }
    format!(
        "{}.{}.{hex}.{SUFFIX}@{domain}",
        issue.get(),
        subscriber.get()
    )
}

/// What a Message-ID says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Not one of ours (another sender's, or an older untagged form).
    Foreign,
    /// Ours in form, but the tag does not verify: forged, or from a retired key.
    Forged,
    /// A campaign message kairan sent (or would send) to this subscriber.
    Campaign(IssueId, SubscriberId),
}

/// Reads a Message-ID (with or without angle brackets) as [`campaign`] writes it.
pub fn parse(signer: &Signer, id: &str, now: DateTime<Utc>) -> Parsed {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let Some((left, _domain)) = id.rsplit_once('@') else {
        return Parsed::Foreign;
    };
    let parts: Vec<&str> = left.split('.').collect();
    let [issue, subscriber, tag, suffix] = parts[..] else {
        return Parsed::Foreign;
    };
    let (Ok(issue), Ok(subscriber)) = (issue.parse::<i64>(), subscriber.parse::<i64>()) else {
        return Parsed::Foreign;
    };
    if !suffix.eq_ignore_ascii_case(SUFFIX) {
        return Parsed::Foreign;
    }
    let (issue, subscriber) = (IssueId::new(issue), SubscriberId::new(subscriber));
    let tag = tag.to_ascii_lowercase();
    let bytes: Option<Vec<u8>> = (tag.len() == TAG_LEN * 2)
        .then(|| {
            (0..TAG_LEN)
                .map(|i| u8::from_str_radix(&tag[2 * i..2 * i + 2], 16).ok())
                .collect()
        })
        .flatten();
    match bytes {
        Some(b) if signer.verify_tag(LABEL, data(issue, subscriber).as_bytes(), &b, now) => {
            Parsed::Campaign(issue, subscriber)
        }
        _ => Parsed::Forged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new(b"0123456789abcdef0123456789abcdef".to_vec(), vec![])
    }

    #[test]
    fn a_campaign_message_id_is_deterministic_and_reads_back() {
        let s = signer();
        let id = campaign(&s, IssueId::new(7), SubscriberId::new(42), "example.org");
        assert_eq!(
            id,
            campaign(&s, IssueId::new(7), SubscriberId::new(42), "example.org")
        );
        assert!(
            id.starts_with("7.42.") && id.ends_with(".kairan@example.org"),
            "{id}"
        );
        assert!(id.len() < 80, "{id}");
        assert_eq!(
            parse(&s, &format!("<{id}>"), Utc::now()),
            Parsed::Campaign(IssueId::new(7), SubscriberId::new(42))
        );
        // Some MTAs upper-case what they quote.
        assert_eq!(
            parse(&s, &id.to_ascii_uppercase(), Utc::now()),
            Parsed::Campaign(IssueId::new(7), SubscriberId::new(42))
        );
    }

    #[test]
    fn another_readers_message_id_cannot_be_written_without_the_key() {
        let s = signer();
        let mine = campaign(&s, IssueId::new(7), SubscriberId::new(42), "example.org");
        // Swapping in another subscriber keeps the tag: it no longer verifies.
        let theirs = mine.replacen("7.42.", "7.43.", 1);
        assert_eq!(parse(&s, &theirs, Utc::now()), Parsed::Forged);
        let other = Signer::new(b"not kairan's key, not kairan's key".to_vec(), vec![]);
        let forged = campaign(
            &other,
            IssueId::new(7),
            SubscriberId::new(43),
            "example.org",
        );
        assert_eq!(parse(&s, &forged, Utc::now()), Parsed::Forged);
        assert_eq!(
            parse(&s, "7.43.kairan@example.org", Utc::now()),
            Parsed::Foreign,
            "the old untagged form names nothing"
        );
        for foreign in [
            "",
            "abc@x",
            "a.b.c.d@x",
            "1.2.zz.kairan@x",
            "CAF=x@mail.gmail.com",
        ] {
            assert_ne!(
                parse(&s, foreign, Utc::now()),
                Parsed::Campaign(IssueId::new(1), SubscriberId::new(2)),
                "{foreign}"
            );
        }
    }
}
