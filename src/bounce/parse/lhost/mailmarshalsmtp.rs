//! Trustwave MailMarshal (subject "Undeliverable Mail: \"...\""): "Your
//! message:" with its From/Subject, "Could not be delivered because of"
//! with the reply, "The following recipients were affected:" with indented
//! addresses, and an "Additional Information" block.

use super::super::rfc3464::split_at_boundary;
use super::super::text::{select, sweep};
use super::super::{Delivery, Rising, mime::Email};
use super::{current, finish, next_record, sweep_all};

/// Decodes a MailMarshal bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.subject.starts_with("Undeliverable Mail: \"") {
        return None;
    }
    let (head, mut rfc822) = split_at_boundary(
        &email.payload,
        &[
            "'+++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++",
            "Content-Type: message/rfc822",
        ],
    );
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    let mut end_of_error = false;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("Your message:");
        }
        if !started {
            continue;
        }
        if e.starts_with("    ") && e.find('@').is_some_and(|p| p > 0) {
            next_record(&mut ds).recipient = e[4..].trim().to_string();
            continue;
        }
        let v = current(&mut ds);
        if e == "Could not be delivered because of" {
            v.diagnosis = e.to_string();
        } else if !v.diagnosis.is_empty() && !end_of_error {
            if e.starts_with("The following recipients were affected:") {
                end_of_error = true;
                continue;
            }
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
        } else if e.starts_with("Original Sender: ") {
            rfc822.push_str(&format!("From: {}\n", select(e, "<", ">").unwrap_or("")));
        } else if e.starts_with("Sender-MTA: ") {
            v.lhost = select(e, "<", ">").unwrap_or("").to_string();
        } else if e.starts_with("Reporting-MTA: ") {
            v.rhost = select(e, "<", ">").unwrap_or("").to_string();
        } else if let Some(p1) = e.find(" From:").or_else(|| e.find(" Subject:"))
            && let Some(p2) = e.find(':')
            && p2 > p1
        {
            rfc822.push_str(&format!("{}: {}\n", &e[p1 + 1..p2], sweep(&e[p2 + 1..])));
        }
    }
    sweep_all(&mut ds);
    finish(ds, rfc822)
}
