//! The human-readable notification of a bounce, told apart from the returned original it
//! carries, and what that notification says about the delivery: a delay warning ("still
//! being retried", "will continue trying") or a final failure.
//!
//! Used by the free-text [`super::fallback`] and by [`super::fact`] (the per-recipient
//! action when a format module found no DSN `Action:` field). Pure text work on the payload
//! laid out by [`super::mime`]; no other module of the crate is used.

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use std::sync::LazyLock;

/// A fixed phrase list matched case-insensitively (ASCII) in one pass.
pub struct Phrases(LazyLock<AhoCorasick>);

impl Phrases {
    /// A list built on first use.
    pub const fn new(build: fn() -> AhoCorasick) -> Phrases {
        Phrases(LazyLock::new(build))
    }

    /// True when the text contains any phrase of the list.
    pub fn found_in(&self, text: &str) -> bool {
        self.0.is_match(text)
    }

    /// Byte offsets where phrases of the list start, in order.
    pub fn starts_in<'a>(&'a self, text: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.0.find_iter(text).map(|m| m.start())
    }
}

/// Builds the automaton of a phrase list (ASCII case folded; other scripts match as written).
pub fn automaton(list: &[&str]) -> AhoCorasick {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(AhoCorasickKind::DFA))
        .build(list)
        .expect("phrase list builds")
}

/// Declares a [`Phrases`] static from a list of literals.
macro_rules! phrases {
    ($(#[$m:meta])* $name:ident = [$($p:literal),+ $(,)?]) => {
        $(#[$m])*
        pub static $name: $crate::bounce::parse::notice::Phrases =
            $crate::bounce::parse::notice::Phrases::new(|| {
                $crate::bounce::parse::notice::automaton(&[$($p),+])
            });
    };
}
pub(crate) use phrases;

/// Labels that mime.rs puts before a part carrying the returned message or its headers.
const ORIGINAL_PARTS: &[&str] = &[
    "Content-Type: message/rfc822",
    "Content-Type: text/rfc822-headers",
    "Content-Type: message/partial",
];

phrases!(
    /// Words of a line that introduces the returned copy ("--- Below this line is a copy of
    /// the message.", "Original message follows.", "Message headers follow:").
    COPY_INTRO = [
        "original message",
        "original mail",
        "copy of the message",
        "copy of your message",
        "copy of the original",
        "copy of the first part",
        "returned mail",
        "returned message",
        "message follows",
        "message follow",
        "below this line",
        "header of the original",
        "headers follow",
        "header follows",
        "header and top",
        "header of the source",
        "lines of your original",
        "your message reads",
        "undelivered message you sent",
        "unsent message below",
        "message text follows",
        "mensaje original",
        "mensagem original",
        "message d'origine",
        "message original",
        "ursprüngliche nachricht",
        "original-nachricht",
        "originalnachricht",
        "messaggio originale",
        "元のメッセージ",
        "原信件",
        "копия сообщения",
    ]
);

/// The notification: the payload up to the returned original (its MIME part, or the line
/// that introduces a quoted copy of it).
pub fn notification(payload: &str) -> &str {
    &payload[..original_start(payload)]
}

/// Byte offset where the returned original begins (the payload's length when there is none).
pub fn original_start(payload: &str) -> usize {
    let mut end = ORIGINAL_PARTS
        .iter()
        .filter_map(|b| payload.find(b))
        .min()
        .unwrap_or(payload.len());
    // Only lines holding a copy-intro phrase can be the separator: find those in one pass.
    let head = &payload[..end];
    for at in COPY_INTRO.starts_in(head) {
        let start = head[..at].rfind('\n').map_or(0, |p| p + 1);
        let stop = head[at..].find('\n').map_or(head.len(), |p| at + p);
        if is_copy_intro(&head[start..stop]) {
            end = start;
            break;
        }
    }
    end
}

/// A short separator-like line announcing the returned copy. A sentence that merely
/// mentions the original ("The original message was received at …", "Please do not resend
/// your original message.") is not one: the line must be decorated, end with ':', or say
/// "follow"/"below". A line saying a copy did *not* arrive ("The following addresses did
/// NOT receive a copy of your message:") introduces failed recipients, not the copy.
pub fn is_copy_intro(line: &str) -> bool {
    let t = line.trim();
    if t.is_empty() || t.len() > 90 || is_header_line(t) || !COPY_INTRO.found_in(t) {
        return false;
    }
    let lower = t.to_ascii_lowercase();
    if lower.contains(" not ") || lower.contains("n't ") {
        return false;
    }
    t.starts_with(['-', '=', '*', '_', '|', '#', '[', '<'])
        || t.ends_with(':')
        || lower.contains("follow")
        || lower.contains("below")
}

/// A header-like line ("To: …", "Subject: …") as quoted inside a notification.
pub fn is_header_line(t: &str) -> bool {
    let Some(p) = t.find(':') else { return false };
    let name = &t[..p];
    !name.is_empty()
        && name.len() <= 30
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && matches!(
            name.to_ascii_lowercase().as_str(),
            "from"
                | "to"
                | "cc"
                | "bcc"
                | "sender"
                | "reply-to"
                | "return-path"
                | "errors-to"
                | "date"
                | "subject"
                | "message-id"
                | "in-reply-to"
                | "references"
                | "received"
                | "reporting-mta"
                | "received-from-mta"
                | "x-postfix-sender"
                | "original-envelope-id"
                | "arrival-date"
        )
}

phrases!(
    /// A message that is still being retried.
    DELAY = [
        "has not yet been delivered",
        "have not yet been delivered",
        "not yet been delivered",
        "have not yet received",
        "still being retried",
        "will continue trying",
        "will continue to try",
        "will continue to attempt",
        "delivery attempts will continue",
        "will be retried",
        "will retry",
        "will keep trying",
        "warning message only",
        "this is just a warning",
        "notification about a delay",
        "has been delayed",
        "delivery delayed",
        "delivery has been delayed",
        "message delayed",
        "delivery is delayed",
        "postponed",
        "do not need to resend",
        "no need to resend",
        "still awaiting delivery",
        "will-retry-until",
        "noch nicht zugestellt",
        "wird weiterhin versucht",
        "pas encore été remis",
        "nouvelle tentative",
        "aún no ha sido entregado",
        "se seguirá intentando",
        "ainda não foi entregue",
        "配信が遅延",
        "遅延しています",
        "再送を試み",
    ]
);

phrases!(
    /// A final failure: the sending side has given up.
    FINAL = [
        "permanent",
        "given up",
        "giving up",
        "gave up",
        "not going to try again",
        "too long",
        "will be deleted",
        "deleted from",
        "removed from the mail queue",
        "could not be delivered for",
        "not delivered within",
        "was aborted",
        "retry timeout exceeded",
        "failing for a long time",
        "returning message to sender",
        "has been returned",
    ]
);

/// [`is_delay`] for a whole message: its subject and payload. Cheap when nothing in it
/// speaks of a delay, which is the common case.
pub fn is_delay_notice(subject: &str, payload: &str) -> bool {
    if !subject.to_ascii_lowercase().contains("delay") && !DELAY.found_in(payload) {
        return false;
    }
    is_delay(subject, notification(payload))
}

/// True when the notification is a delay warning: it says the message is still being
/// retried (or its subject says "delay"), and nothing in it says the sender gave up.
pub fn is_delay(subject: &str, notification: &str) -> bool {
    let s = subject.to_ascii_lowercase();
    let delay = s.contains("delay") || DELAY.found_in(notification);
    // "Eventually the mail delivery software will give up" is still a warning; only what
    // has already happened counts as final, so the future "will give up" is not in FINAL.
    delay && !FINAL.found_in(notification) && !FINAL.found_in(subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_stops_at_the_returned_copy() {
        let p = "Sorry.\n\n<a@b.example>: user unknown\n\n--- Below this line is a copy of the message.\n\nTo: c@d.example\n";
        assert_eq!(notification(p), "Sorry.\n\n<a@b.example>: user unknown\n\n");
        let p = "Failed: a@b.example\n\nContent-Type: message/rfc822\n\nTo: c@d.example\n";
        assert_eq!(notification(p), "Failed: a@b.example\n\n");
    }

    #[test]
    fn a_line_about_a_copy_that_did_not_arrive_is_not_a_separator() {
        let p =
            "The following addresses did NOT receive a copy of your message:\n\n> a@b.example\n";
        assert_eq!(notification(p), p);
    }

    #[test]
    fn a_sentence_about_the_original_is_not_a_separator() {
        let p = "The original message was received at Mon Mar 27 18:06:29 2006 GMT from x (1.2.3.4)\n\n----- The following addresses had permanent fatal errors -----\n<a@b.example>\n";
        assert_eq!(notification(p), p);
    }

    #[test]
    fn delay_warnings_and_final_failures() {
        assert!(is_delay(
            "Warning: message 1abc delayed 24 hours",
            "A message that you sent has not yet been delivered to all its recipients after more than 24 hours on the queue. No action is required on your part. Delivery attempts will continue for some time. Eventually the mail delivery software will give up."
        ));
        assert!(is_delay(
            "Delivery Status Notification (Delay)",
            "THIS IS A WARNING MESSAGE ONLY."
        ));
        assert!(!is_delay(
            "Mail delivery failed: returning message to sender",
            "This is a permanent error. The following address(es) failed: a@b.example"
        ));
        assert!(!is_delay(
            "failure delivery",
            "I'm not going to try again; this message has been in the queue too long."
        ));
        assert!(!is_delay("Undeliverable", "User unknown"));
    }
}
