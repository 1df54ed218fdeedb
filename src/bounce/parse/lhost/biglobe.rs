//! BIGLOBE and related Japanese ISPs (`postmaster@...biglobe.ne.jp`,
//! subject "Returned mail: ..."): "----- The following addresses had
//! delivery problems -----", the address alone on a line, then
//! "----- Non-delivered information -----" with the reason.

use super::super::rfc3464::split_at_boundary;
use super::super::{Delivery, Rising, address, mime::Email};
use super::{current, finish, next_record, reason_of, sweep_all};

const MESSAGES_OF: &[(&str, &[&str])] = &[
    ("filtered", &["Mail Delivery Failed... User unknown"]),
    (
        "mailboxfull",
        &["The number of messages in recipient's mailbox exceeded the local limit."],
    ),
];

/// Decodes a Biglobe bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    let from = email.h("from");
    if !from.contains("postmaster@") || !email.subject.starts_with("Returned mail:") {
        return None;
    }
    if !["biglobe", "inacatv", "tmtv", "ttv"]
        .iter()
        .any(|p| from.contains(&format!("@{}.ne.jp", p)))
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(&email.payload, &["Content-Type: message/rfc822"]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("   ----- The following addresses had delivery problems -----");
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if e.find('@').is_some_and(|p| p > 1) && !e.contains(' ') {
            if address::is_email(e) {
                next_record(&mut ds).recipient = e.to_string();
            }
        } else if !e.contains("--") {
            let v = current(&mut ds);
            v.diagnosis.push_str(e);
            v.diagnosis.push(' ');
        }
    }
    sweep_all(&mut ds);
    for e in ds.iter_mut() {
        e.reason = reason_of(MESSAGES_OF, &e.diagnosis).to_string();
    }
    finish(ds, rfc822)
}
