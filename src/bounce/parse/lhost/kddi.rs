//! au by KDDI (`From: ...@...dion.ne.jp`, `no-reply@` senders, or relayed
//! through ezweb.ne.jp/au.com): "Your mail sent on: ..." then
//! "    Could not be delivered to: <addr>" and an indented reason line.

use super::super::rfc3464::split_at_boundary;
use super::super::text::{contains_any, select};
use super::super::{Delivery, Rising, address, mime::Email, smtp};
use super::{current, finish, next_record, reason_of, sweep_all};

const MESSAGES_OF: &[(&str, &[&str])] = &[
    ("mailboxfull", &["As their mailbox is full"]),
    ("norelaying", &["Due to the following SMTP relay error"]),
    ("hostunknown", &["As the remote domain doesnt exist"]),
];

fn is_kddi(email: &Email) -> bool {
    contains_any(email.h("from"), &["no-reply@.", ".dion.ne.jp"])
        || email.h("reply-to").contains("no-reply@app.auone-net.jp")
        || email
            .headers_all("received")
            .any(|e| e.contains("ezweb.ne.jp (") || e.contains(".au.com ("))
}

/// Decodes a KDDI bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !is_kddi(email) {
        return None;
    }
    let (head, rfc822) = split_at_boundary(&email.payload, &["Content-Type: message/rfc822"]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("Your mail sent on:")
                || e.starts_with("Your mail attempted to be delivered on:");
        }
        if !started || e.is_empty() {
            continue;
        }
        if e.contains(" Could not be delivered to: <") {
            let cv = address::s3s4(select(e, ": <", ">").unwrap_or(""));
            if address::is_email(&cv) {
                next_record(&mut ds).recipient = cv;
            }
        } else if let Some(p) = e.find("Your mail sent on: ") {
            current(&mut ds).date = e[p + 19..].to_string();
        } else if e.starts_with(' ') {
            let v = current(&mut ds);
            v.diagnosis.push_str(e);
            v.diagnosis.push(' ');
        }
    }
    sweep_all(&mut ds);
    let filtered = email.h("x-spasign") == "NG";
    for e in ds.iter_mut() {
        e.command = smtp::command_find(&e.diagnosis);
        e.reason = if filtered {
            "filtered".into()
        } else if e.command == "RCPT" {
            "userunknown".into()
        } else {
            reason_of(MESSAGES_OF, &e.diagnosis).to_string()
        };
    }
    finish(ds, rfc822)
}
