//! Bounces as the domain sees them: what a report means for a subscriber ([`BounceKind`]),
//! the stored audit record, and the delivery a VERP token names. The parser's vocabulary of
//! reasons stays with the parser (`bounce::parse`). Pure: imports nothing of the crate's other
//! modules but the domain's own.

use chrono::{DateTime, Utc};

use super::ids::{DeliveryId, IssueId, SubscriberId};
use super::status::text_enum;

text_enum!(
    /// What a parsed report means for the subscriber it names.
    BounceKind, "bounce kind", {
        Hard => "hard",
        Soft => "soft",
        Complaint => "complaint",
        AutoReply => "autoreply",
        Delivered => "delivered",
        Delayed => "delayed",
    }
);

/// One ingested bounce / complaint / auto-reply, as stored for audit.
#[derive(Debug, Clone, PartialEq)]
pub struct BounceRecord {
    /// SHA-256 of the raw message: the same message ingested twice has one effect.
    pub message_hash: String,
    pub received_at: DateTime<Utc>,
    /// `pipe`, `http` or `imap`.
    pub source: String,
    pub kind: Option<BounceKind>,
    pub subscriber_id: Option<SubscriberId>,
    pub delivery_id: Option<DeliveryId>,
    pub status_code: Option<String>,
    pub reason: Option<String>,
    pub diagnostic: Option<String>,
    /// What the policy did (`bounced`, `soft-scored`, `complained`, `unsubscribed`, `none`,
    /// `unattributed`, `forged`, `not-a-bounce`, `answered`).
    pub action: String,
    /// How the subscriber was found (`verp`, `header`, `message-id`, `mailto`), if at all.
    pub attribution: Option<String>,
    /// The parser's full result, as JSON.
    pub parsed: String,
}

/// A delivery as a VERP token or a Message-ID names it: whose it was, of which issue, and
/// whether it was sent (a report may corroborate only a delivery we made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRef {
    pub id: DeliveryId,
    pub issue_id: IssueId,
    pub subscriber_id: SubscriberId,
    pub sent: bool,
}

/// Stored bounce reports of one (kind, action), for `kairan status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BounceCount {
    pub kind: Option<BounceKind>,
    pub action: String,
    pub count: u64,
}

/// One stored counter of the return channel (`kairan_bounces_total{result="bounced"}` is
/// name `kairan_bounces_total`, label value `bounced`): kept in the database, so every
/// process shows the same figures whichever one ingested.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BounceCounter {
    pub name: String,
    pub label: String,
    pub value: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_text() {
        for k in BounceKind::ALL {
            assert_eq!(k.as_str().parse::<BounceKind>().unwrap(), *k);
        }
        assert!("Hard".parse::<BounceKind>().is_err());
    }
}
