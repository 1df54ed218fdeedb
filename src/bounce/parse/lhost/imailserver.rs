//! Progress iMail Server (`X-Mailer: <SMTP32 v...>`, subject "Undeliverable
//! Mail ..."): "Unknown user: addr" style lines and "Body of message
//! generated response:" followed by the remote reply.

use super::super::rfc3464::split_at_boundary;
use super::super::text::{aligned, contains_any, sweep};
use super::super::{Delivery, Rising, address, mime::Email, smtp};

const MESSAGES_OF: &[(&str, &[&str])] = &[
    ("hostunknown", &["Unknown host"]),
    (
        "userunknown",
        &["Unknown user", "Invalid final delivery userid"],
    ),
    ("mailboxfull", &["User mailbox exceeds allowed size"]),
    (
        "virusdetected",
        &["Requested action not taken: virus detected"],
    ),
    ("spamdetected", &["Blacklisted URL in message"]),
    ("expired", &["Delivery failed "]),
];

/// Decodes an iMail bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.subject.starts_with("Undeliverable Mail ")
        && !email.h("x-mailer").starts_with("<SMTP32 v")
    {
        return None;
    }
    let (head, mut rfc822) = split_at_boundary(&email.payload, &["Original message follows."]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut recipients = 0;
    let mut buffer = String::new();
    for e in head.split('\n') {
        if (e.find(": ").is_some_and(|p| p > 8) && aligned(e, &[": ", "@"]))
            || e.starts_with("undeliverable ")
        {
            if !ds.last().expect("non-empty").recipient.is_empty() {
                ds.push(Delivery::default());
            }
            let v = ds.last_mut().expect("non-empty");
            v.diagnosis = e.to_string();
            v.recipient = address::find_all(e).into_iter().next().unwrap_or_default();
            recipients += 1;
        } else if e.contains("Body of message generated response:") {
            buffer.push_str(e);
        } else if !buffer.is_empty() {
            buffer.push(' ');
            buffer.push_str(e);
        }
    }
    if recipients == 0 {
        return None;
    }
    for e in ds.iter_mut() {
        e.diagnosis = sweep(&format!("{} {}", buffer, e.diagnosis));
        e.command = smtp::command_find(&e.diagnosis);
        if let Some((r, _)) = MESSAGES_OF
            .iter()
            .find(|(_, p)| contains_any(&e.diagnosis, p))
        {
            e.reason = (*r).to_string();
        }
    }
    if !rfc822.contains("\nTo: ") && !rfc822.starts_with("To: ") {
        rfc822 = format!("To: {}\n{}", ds[0].recipient, rfc822);
    }
    Some(Rising {
        digests: ds,
        rfc822,
    })
}
