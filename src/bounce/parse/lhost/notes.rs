//! HCL (formerly IBM/Lotus) Notes, subject "Undeliverable message":
//! "------- Failure Reasons --------" with the reason text and the address,
//! then "------- Returned Message --------".

use super::super::rfc3464::split_at_boundary;
use super::super::{Delivery, Rising, address, mime::Email};
use super::{current, finish, next_record, original_to, reason_of, sweep_all};

const MESSAGES_OF: &[(&str, &[&str])] = &[
    (
        "userunknown",
        &[
            "User not listed in public Name & Address Book",
            "ディレクトリのリストにありません",
        ],
    ),
    ("networkerror", &["Message has exceeded maximum hop count"]),
];

/// Decodes a Notes bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.subject.starts_with("Undeliverable message") {
        return None;
    }
    let (head, rfc822) = split_at_boundary(&email.payload, &["------- Returned Message --------"]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("------- Failure Reasons ");
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if e.find('@').is_some_and(|p| p > 0) && !e.contains(' ') {
            if address::is_email(e) {
                next_record(&mut ds).recipient = e.to_string();
            }
        } else if !e.starts_with('-') {
            let v = current(&mut ds);
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
        }
    }
    if ds.iter().all(|d| d.recipient.is_empty()) {
        ds[0].recipient = original_to(&rfc822);
    }
    sweep_all(&mut ds);
    for e in ds.iter_mut() {
        e.reason = reason_of(MESSAGES_OF, &e.diagnosis).to_string();
    }
    finish(ds, rfc822)
}
