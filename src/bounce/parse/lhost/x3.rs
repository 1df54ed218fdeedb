//! An unidentified MTA (Sisimai's "X3"): `From: Mail Delivery System`,
//! subject "Delivery status notification", "  * addr" lines under
//! "Delivery to the following recipients failed permanently:" and a
//! "Technical details:" block with "SMTP:RCPT host ...: 553 ..." lines.

use super::super::rfc3464::split_at_boundary;
use super::super::text::aligned;
use super::super::{Delivery, Rising, mime::Email, smtp};
use super::{current, dsn_field, finish, next_record, sweep_all};

/// Decodes an X3 bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.h("from").starts_with("Mail Delivery System")
        || !email.subject.starts_with("Delivery status notification")
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(&email.payload, &["Content-Type: message/rfc822"]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with(
                "      This is an automatically generated Delivery Status Notification.",
            );
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if aligned(e, &["  * ", "@", "."]) {
            let at = e.find("  * ").unwrap_or(0) + 4;
            next_record(&mut ds).recipient = e[at..].trim().to_string();
        } else if let Some(rest) = e.strip_prefix("SMTP:") {
            // "SMTP:RCPT host 192.0.2.8: 553 5.3.0 <addr>... No such user here"
            let v = current(&mut ds);
            v.command = smtp::command_find(rest.split(' ').next().unwrap_or(""));
            v.spec = "SMTP".into();
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
        } else if e.starts_with("Routing: ") {
            let v = current(&mut ds);
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
        } else {
            dsn_field(current(&mut ds), e);
        }
    }
    sweep_all(&mut ds);
    finish(ds, rfc822)
}
