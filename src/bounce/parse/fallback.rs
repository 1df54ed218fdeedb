//! The last stage of the parser: free-text bounces from older or uncommon MTAs that carry
//! no delivery-status part and match no known format ("The following addresses had
//! permanent fatal errors", "could not be delivered to the following recipients", warnings
//! that a message is still being retried).
//!
//! It works from general evidence, not per-MTA rules:
//! 1. is this a bounce at all? A machine sender (null sender, MAILER-DAEMON, postmaster,
//!    `X-Failed-Recipients`) with a bounce subject or failure wording; or, from any other
//!    sender, a bounce subject *and* failure wording about a mail or message, in a message
//!    that is neither a reply (`In-Reply-To`/`References`) nor a bulk mailing
//!    (`List-Unsubscribe`);
//! 2. which addresses failed? Addresses of the notification text (the part before the
//!    returned original, see [`super::notice`]) on a line that states a failure or in the
//!    lines after a phrase introducing a list of recipients; never the bounce's own
//!    addresses, a postmaster, or the original's sender; the original's `To` when the text
//!    names nobody;
//! 3. is it a delay warning? See [`super::notice::is_delay`].
//!
//! Phrases cover English, German, French, Spanish, Portuguese, Italian, Japanese, Chinese and
//! Russian as far as real samples show them. Uses only the parser's own modules.

use super::fact::original_headers;
use super::mime::Email;
use super::notice::{self, is_header_line, phrases};
use super::text::sweep;
use super::{Delivery, Rising, address};

phrases!(
    /// Subjects of bounces and delay warnings.
    BOUNCE_SUBJECT = [
        "undeliver",
        "undelivered",
        "not delivered",
        "non-deliver",
        "nondeliver",
        "delivery fail",
        "delivery status notification",
        "delivery notification",
        "delivery report",
        "delivery problem",
        "delivery error",
        "delivery warning",
        "delivery delayed",
        "failed delivery",
        "failure delivery",
        "failure notice",
        "failure notification",
        "mail failure",
        "failed mail",
        "mail delivery",
        "returned mail",
        "mail returned",
        "returning message",
        "returning to sender",
        "returned to sender",
        "mail failed",
        "message failed",
        "could not be delivered",
        "mail system error",
        "message status",
        "delayed",
        "unzustellbar",
        "nicht zustellbar",
        "non remis",
        "non distribuable",
        "échec de la remise",
        "echec de la remise",
        "no entregado",
        "no se pudo entregar",
        "não entregue",
        "nao entregue",
        "falha na entrega",
        "non recapitabile",
        "mancato recapito",
        "配信不能",
        "未配達",
        "配信エラー",
        "配送エラー",
        "送信エラー",
        "宛先不明",
        "投递失败",
        "传输失败",
        "退信",
        "не доставлено",
        "недоставлен",
        "mail failure",
    ]
);

phrases!(
    /// Phrases that introduce a list of failed (or delayed) recipients on the next lines.
    LIST_INTRO = [
        "following address",
        "following recipient",
        "following user",
        "following destination",
        "following e-mail address",
        "following email address",
        "addresses failed",
        "address failed",
        "address(es) failed",
        "had permanent fatal errors",
        "not delivered to",
        "could not be delivered to",
        "cannot be delivered to",
        "can't be delivered to",
        "did not reach the following",
        "could not be reached",
        "did not receive your message",
        "did not receive a copy",
        "not yet been delivered to",
        "not yet received your message",
        "still awaiting delivery",
        "your message to:",
        "failed recipients",
        "failed addresses",
        "delivery to the following",
        "unable to deliver",
        "not able to deliver",
        "wasn't able to deliver",
        "could not deliver",
        "couldn't deliver",
        "konnte nicht zugestellt",
        "nicht zugestellt werden",
        "n'a pas pu être remis",
        "n'a pas pu etre delivre",
        "n'a pas pu être délivré",
        "no pudo ser entregado",
        "não pode ser enviada",
        "nao pode ser enviada",
        "não pôde ser entregue",
        "non è stato possibile recapitare",
        "配信できません",
        "届きませんでした",
        "送信できませんでした",
        "无法发送",
        "投递失败",
        "невозможно доставить",
    ]
);

phrases!(
    /// Failure wording on the line of an address ("Unknown user: a@b", "<a@b>: user
    /// unknown", "Delivery failed 20 attempts: a@b").
    ADDRESS_LINE = [
        "user unknown",
        "unknown user",
        "no such user",
        "not a known user",
        "user not found",
        "no mailbox",
        "mailbox unavailable",
        "mailbox not",
        "mailbox is full",
        "mailbox full",
        "mailbox exceeds",
        "over quota",
        "quota",
        "does not exist",
        "doesn't exist",
        "not listed",
        "disabled",
        "discontinued",
        "deactivated",
        "invalid",
        "unknown host",
        "host unknown",
        "no such domain",
        "unrouteable",
        "undeliverable",
        "undelivered",
        "did not reach",
        "not delivered",
        "could not be delivered",
        "cannot be delivered",
        "unable to deliver",
        "delivery failed",
        "delivery to",
        "failed recipient",
        "recipient:",
        "recipient address",
        "original address",
        "final-recipient",
        "original-recipient",
        "error-for",
        "intended recipient",
        "was addressed",
        "addressed to",
        "message to",
        "message for",
        "mail to",
        "delayed",
        "not yet been delivered",
        "not been collected",
        "bad destination",
        "not accepted",
        "no account",
        "doesn't have a",
        "rejected",
        "refused",
        "exceeded",
        "generated from",
        "expanded from",
    ]
);

phrases!(
    /// Wording that says delivery failed or is delayed, anywhere in the notification.
    FAILURE = [
        "user unknown",
        "unknown user",
        "no such user",
        "mailbox",
        "quota",
        "does not exist",
        "doesn't exist",
        "not delivered",
        "could not be delivered",
        "cannot be delivered",
        "can't be delivered",
        "undeliverable",
        "undelivered",
        "did not reach",
        "could not be reached",
        "unable to deliver",
        "not able to deliver",
        "could not deliver",
        "delivery failed",
        "delivery has failed",
        "failed permanently",
        "permanent error",
        "fatal error",
        "has been returned",
        "failed address",
        "unknown host",
        "host unknown",
        "no valid recipient",
        "following address",
        "following recipient",
        "failed recipient",
        "addresses failed",
        "address failed",
        "address(es) failed",
        "not yet been delivered",
        "not a known user",
        "not listed",
        "account",
        "delayed",
        "will continue",
        "error",
        "failure",
        "nicht zugestellt",
        "unzustellbar",
        "n'a pas pu",
        "n'existe pas",
        "no pudo ser entregado",
        "não pode ser",
        "não pôde ser",
        "non è stato possibile",
        "配信できません",
        "届きませんでした",
        "宛先不明",
        "无法发送",
        "投递失败",
        "невозможно доставить",
    ]
);

phrases!(
    /// Words that make failure wording about mail rather than, say, a parcel.
    MAIL_WORDS = [
        "message", "mail", "recipient", "mailbox", "smtp", "メール", "メッセージ", "邮件",
        "письмо", "nachricht", "mensaje", "mensagem", "messaggio",
    ]
);

/// Local parts of mail-system senders.
const DAEMON_LOCAL_PARTS: &[&str] = &[
    "mailer-daemon",
    "mailer_daemon",
    "mailerdaemon",
    "mail-daemon",
    "maildaemon",
    "postmaster",
    "mdaemon",
];

/// Local parts of role addresses that a notification names for contact, never as a failed
/// recipient.
const ROLE_LOCAL_PARTS: &[&str] = &["abuse", "hostmaster", "webmaster"];

/// Headers of the bounce whose addresses are the bounce's own (its sender and where it was
/// sent: the list's or VERP return path), never a failed recipient.
const OWN_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "sender",
    "reply-to",
    "return-path",
    "errors-to",
    "delivered-to",
    "envelope-to",
    "resent-from",
];

/// Headers of the returned original that name its sender.
const ORIGINAL_SENDER_HEADERS: &[&str] =
    &["from", "sender", "reply-to", "return-path", "errors-to"];

/// Decodes a free-text bounce; `None` when the message does not read as one.
pub fn inquire(email: &Email) -> Option<Rising> {
    let start = notice::original_start(&email.payload);
    let text = &email.payload[..start];
    let failure = FAILURE.found_in(text);
    if !reads_as_bounce(email, text, failure) {
        return None;
    }
    let original_block = header_block(original_part(&email.payload[start..]));
    let excluded = excluded_addresses(email, original_block);
    let eligible = |a: &str| {
        let a = a.to_ascii_lowercase();
        let local = a.rsplit_once('@').map(|(l, _)| l).unwrap_or("");
        !excluded.contains(&a)
            && !DAEMON_LOCAL_PARTS.contains(&local)
            && !ROLE_LOCAL_PARTS.contains(&local)
    };

    let mut found: Vec<Found> = Vec::new();
    if let Some(v) = email.header("x-failed-recipients") {
        for a in address::find_all(v) {
            push(&mut found, clean(&a), true, v.to_string());
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut intro_until = 0usize;
    for (i, line) in lines.iter().enumerate() {
        if LIST_INTRO.found_in(line) {
            intro_until = i + 10;
        }
        let t = line.trim();
        // Quoted header lines name the original's sender and hops; a quoted "To:" names
        // whom the message was for, which is what a one-recipient notice is about.
        if (is_header_line(t) && !t.to_ascii_lowercase().starts_with("to:")) || is_trace(t) {
            continue;
        }
        for a in address::find_all(line) {
            let a = clean(&a);
            if !address::is_email(&a) || !eligible(&a) {
                continue;
            }
            let strong = i < intro_until || ADDRESS_LINE.found_in(line);
            push(&mut found, a, strong, diagnosis(&lines, i));
        }
    }
    let strong: Vec<&Found> = found.iter().filter(|f| f.strong).collect();
    let mut chosen: Vec<(String, String)> = if !strong.is_empty() {
        strong
            .iter()
            .map(|f| (f.address.clone(), f.diagnosis.clone()))
            .collect()
    } else if failure {
        found
            .iter()
            .map(|f| (f.address.clone(), f.diagnosis.clone()))
            .collect()
    } else {
        Vec::new()
    };
    if chosen.is_empty()
        && let Some(to) = original_headers(original_block).to
        && address::is_email(&to)
        && eligible(&to)
    {
        // The text names nobody: the returned message was addressed to the recipient.
        chosen.push((to, sweep(text)));
    }
    if chosen.is_empty() {
        return None;
    }
    let delayed = notice::is_delay(&email.subject, text);
    let digests = chosen
        .into_iter()
        .map(|(recipient, diagnosis)| Delivery {
            recipient,
            diagnosis,
            action: if delayed { "delayed" } else { "failed" }.to_string(),
            ..Default::default()
        })
        .collect();
    Some(Rising {
        digests,
        rfc822: original_block.to_string(),
    })
}

/// Evidence that the message is a bounce: from a mail system, a bounce subject or failure
/// wording is enough; from anyone else it takes both, about mail, in a message that is
/// neither a reply nor a bulk mailing (a person quoting a bounce, a newsletter about them).
fn reads_as_bounce(email: &Email, text: &str, failure: bool) -> bool {
    let subject = BOUNCE_SUBJECT.found_in(&email.subject);
    if machine_sender(email) {
        return subject || failure;
    }
    subject
        && failure
        && failure_about_mail(text)
        && email.header("in-reply-to").is_none()
        && email.header("references").is_none()
        && email.header("list-unsubscribe").is_none()
}

/// Addresses that are never the failed recipient: the bounce's own (its sender, where it
/// was sent) and the returned original's sender.
fn excluded_addresses(email: &Email, original_block: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for h in OWN_HEADERS {
        for v in email.headers_all(h) {
            out.extend(address::find_all(v).iter().map(|a| a.to_ascii_lowercase()));
        }
    }
    for (name, value) in super::mime::parse_header_block(original_block) {
        if ORIGINAL_SENDER_HEADERS.contains(&name.as_str()) {
            out.extend(
                address::find_all(&value)
                    .iter()
                    .map(|a| a.to_ascii_lowercase()),
            );
        }
    }
    out
}

/// One address found in the notification.
struct Found {
    address: String,
    strong: bool,
    diagnosis: String,
}

/// Adds an address once; a later strong sighting upgrades an earlier weak one.
fn push(found: &mut Vec<Found>, address: String, strong: bool, diagnosis: String) {
    match found.iter_mut().find(|f| f.address == address) {
        Some(f) => {
            if strong && !f.strong {
                f.strong = true;
                f.diagnosis = diagnosis;
            }
        }
        None => found.push(Found {
            address,
            strong,
            diagnosis,
        }),
    }
}

/// The address as reported: lower-cased, without an Exchange/X.400 `SMTP=` or `SMTP:`
/// prefix glued to the local part.
fn clean(a: &str) -> String {
    let a = a.to_ascii_lowercase();
    for p in ["smtp=", "smtp:", "rfc822;"] {
        if let Some(rest) = a.strip_prefix(p) {
            return rest.to_string();
        }
    }
    a
}

/// The line of an address and the lines after it up to a blank line (at most five): where
/// free-text bounces put the reason.
fn diagnosis(lines: &[&str], i: usize) -> String {
    let mut out = String::new();
    for l in lines.iter().skip(i).take(5) {
        if l.trim().is_empty() && !out.is_empty() {
            break;
        }
        out.push_str(l);
        out.push(' ');
    }
    sweep(&out)
}

/// A `Received:` continuation or queue-id line quoted in a notification: its addresses are
/// message ids and hops, not recipients.
fn is_trace(t: &str) -> bool {
    let l = t.to_ascii_lowercase();
    (l.starts_with("by ") || l.starts_with("id ") || l.starts_with("with ") || l.contains(" id <"))
        && !ADDRESS_LINE.found_in(t)
}

/// From a sender other than a mail system, failure wording must be about mail: a line
/// with failure wording, or one next to it, mentions a message, mail or recipient.
fn failure_about_mail(text: &str) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    lines.iter().enumerate().any(|(i, l)| {
        (LIST_INTRO.found_in(l) || ADDRESS_LINE.found_in(l))
            && lines[i.saturating_sub(1)..(i + 2).min(lines.len())]
                .iter()
                .any(|n| MAIL_WORDS.found_in(n))
    })
}

/// A mail system sent this: null or daemon sender, a postmaster, a "Mail Delivery
/// System"-like display name, or an `X-Failed-Recipients` header.
fn machine_sender(email: &Email) -> bool {
    if email.header("x-failed-recipients").is_some() {
        return true;
    }
    for h in ["from", "return-path", "sender"] {
        for v in email.headers_all(h) {
            let v = v.trim();
            if v == "<>" || v.ends_with("<>") || v.eq_ignore_ascii_case("<mailer-daemon>") {
                return true;
            }
            for a in address::find_all(v) {
                let a = a.to_ascii_lowercase();
                let local = a.rsplit_once('@').map(|(l, _)| l).unwrap_or("");
                if DAEMON_LOCAL_PARTS.iter().any(|s| local.ends_with(s)) {
                    return true;
                }
            }
            if h == "from" {
                let name = v.split('<').next().unwrap_or("").to_ascii_lowercase();
                if [
                    "mail delivery",
                    "delivery subsystem",
                    "delivery service",
                    "mail administrator",
                    "system administrator",
                    "postmaster",
                    "mailer-daemon",
                    "mail system",
                ]
                .iter()
                .any(|n| name.contains(n))
                {
                    return true;
                }
            }
        }
    }
    false
}

/// The returned original after the notification: without the MIME label line mime.rs put
/// before it or the separator line that introduced the quoted copy.
fn original_part(rest: &str) -> &str {
    let mut r = rest;
    if let Some(first) = r.lines().next()
        && (first.starts_with("Content-Type: ")
            || !first.contains(':')
            || notice::is_copy_intro(first))
    {
        r = &r[first.len()..];
    }
    r.trim_start_matches(['\n', ' ', '\t'])
}

/// The header block at the top of the returned original ("" when it starts with no header).
fn header_block(original: &str) -> &str {
    let first = original.lines().next().unwrap_or("");
    if !first.contains(':') || first.starts_with(' ') {
        return "";
    }
    match original.find("\n\n") {
        Some(p) => &original[..p],
        None => original,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Action, Kind, parse};

    fn addresses(raw: &str) -> Vec<String> {
        parse(raw.as_bytes())
            .recipients
            .into_iter()
            .filter_map(|r| r.address)
            .collect()
    }

    #[test]
    fn a_daemon_notice_names_the_failed_address_not_the_postmaster() {
        let raw = "From: MAILER-DAEMON@mx.example.net\nTo: list-bounces@example.org\nSubject: failure notice\n\nYour message could not be delivered to the following recipients:\n\n  reader@example.com\n\nPlease contact postmaster@example.net if you have questions.\n";
        assert_eq!(addresses(raw), vec!["reader@example.com"]);
    }

    #[test]
    fn the_original_sender_is_never_the_recipient() {
        let raw = "From: Mail Delivery System <>\nTo: news@example.org\nSubject: Undeliverable Mail\n\nUnknown user: gone@example.com\n\nOriginal message follows.\n\nFrom: editor@example.org\nTo: gone@example.com\nSubject: March\n\nHello\n";
        assert_eq!(addresses(raw), vec!["gone@example.com"]);
    }

    #[test]
    fn the_original_to_is_used_when_the_text_names_nobody() {
        let raw = "From: postmaster@mx.example.net\nTo: news@example.org\nSubject: Mail could not be delivered\n\nThe following mail could not be delivered. Exceeded maximum delivery attempts.\n\nContent-Type: message/rfc822\n\nFrom: news@example.org\nTo: reader@example.com\nSubject: March\n\nHello\n";
        assert_eq!(addresses(raw), vec!["reader@example.com"]);
    }

    #[test]
    fn a_delay_warning_is_reported_as_delayed() {
        let raw = "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nTo: news@example.org\nSubject: Warning: message delayed 2 days\n\nThe message has not yet been delivered to the following addresses:\n\n  <reader@example.com>\n\nNo action is required on your part. Delivery attempts will continue for some time.\n";
        let r = parse(raw.as_bytes());
        assert_eq!(r.kind, Kind::Bounce);
        assert_eq!(r.recipients.len(), 1);
        assert_eq!(r.recipients[0].action, Some(Action::Delayed));
    }

    #[test]
    fn a_person_quoting_a_bounce_is_not_a_bounce() {
        let raw = "From: Alice <alice@example.org>\nTo: news@example.org\nSubject: Re: Undeliverable: March issue\nIn-Reply-To: <1@example.org>\n\nI got this back: the following addresses had permanent fatal errors: <bob@example.net> (user unknown)\n";
        assert!(!parse(raw.as_bytes()).bounce);
    }

    #[test]
    fn failure_wording_about_a_parcel_is_not_a_bounce() {
        let raw = "From: Shop <orders@shop.example>\nTo: reader@example.com\nSubject: Delivery failed: your parcel\n\nWe could not deliver your parcel to 12 Baker Street.\nIt is waiting at the depot.\n";
        assert!(!parse(raw.as_bytes()).bounce);
    }
}
