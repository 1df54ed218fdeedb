//! OpenSMTPD (<https://www.opensmtpd.org/>): "This is the MAILER-DAEMON,
//! please DO NOT REPLY to this e-mail." then "addr: error" lines, then
//! "Below is a copy of the original message:". Texts from smtpd's bounce.c,
//! mta.c and queue.c.

use super::super::rfc3464::split_at_boundary;
use super::super::text::{aligned, contains_any, sweep};
use super::super::{Delivery, Rising, mime::Email};

const MESSAGES_OF: &[(&str, &[&str])] = &[
    ("expired", &["Envelope expired"]),
    ("securityerror", &["Could not retrieve credentials"]),
    (
        "hostunknown",
        &["Invalid domain name", "Domain does not exist"],
    ),
    (
        "networkerror",
        &[
            "Address family mismatch on destination MXs",
            "All routes to destination blocked",
            "bad DNS lookup error code",
            "Could not retrieve source address",
            "Loop detected",
            "Network error on destination MXs",
            "No valid route to remote MX",
            "No valid route to destination",
            "Temporary failure in MX lookup",
        ],
    ),
    (
        "notaccept",
        &[
            "Destination seem to reject all mails",
            "No MX found for domain",
            "No MX found for destination",
        ],
    ),
];

/// Decodes an OpenSMTPD bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    let score = usize::from(email.subject.contains("Delivery status notification"))
        + usize::from(email.h("from").contains("Mailer Daemon <"))
        + usize::from(
            email
                .headers_all("received")
                .any(|r| r.contains(" (OpenSMTPD) with ")),
        );
    if score == 0 {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &["    Below is a copy of the original message:"],
    );
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    let mut recipients = 0;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("    This is the MAILER-DAEMON, please DO NOT REPLY to this");
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if aligned(e, &["@", " "]) {
            if !ds.last().expect("non-empty").recipient.is_empty() {
                ds.push(Delivery::default());
            }
            let v = ds.last_mut().expect("non-empty");
            let (r, d) = e.split_once(':').unwrap_or((e, ""));
            v.recipient = r.trim().to_string();
            v.diagnosis = d.trim().to_string();
            recipients += 1;
        }
    }
    if recipients == 0 {
        return None;
    }
    for e in ds.iter_mut() {
        e.diagnosis = sweep(&e.diagnosis);
        if let Some((r, _)) = MESSAGES_OF
            .iter()
            .find(|(_, p)| contains_any(&e.diagnosis, p))
        {
            e.reason = (*r).to_string();
        }
    }
    Some(Rising {
        digests: ds,
        rfc822,
    })
}
