//! An unidentified MTA (Sisimai's "X6"), subject "There was an error sending
//! your mail": "We had trouble delivering your message. Full details
//! follow:" then "SMTP Server <host> rejected recipient <addr> ..." or
//! "The following recipients returned permanent errors: addr. ..." lines.

use super::super::rfc3464::split_at_boundary;
use super::super::{Delivery, Rising, address, mime::Email, smtp};
use super::{current, finish, next_record, sweep_all};

/// Decodes an X6 bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email
        .subject
        .starts_with("There was an error sending your mail")
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &["The attachment contains the original mail headers"],
    );
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("We had trouble delivering your message. Full details follow:");
        }
        if !started || e.is_empty() {
            continue;
        }
        let listed = e.starts_with("The following recipients returned permanent errors: ");
        if listed || e.starts_with("SMTP Server <") {
            let p3 = if listed { e.find(": ") } else { e.rfind(" <") }.unwrap_or(0);
            let cv = address::s3s4(&e[p3..]);
            if !address::is_email(&cv) {
                continue;
            }
            let v = next_record(&mut ds);
            v.recipient = cv;
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
        } else if let Some(d) = e.strip_prefix("Date: ") {
            current(&mut ds).date = d.trim_matches('\'').to_string();
        }
    }
    sweep_all(&mut ds);
    for e in ds.iter_mut() {
        e.command = smtp::command_find(&e.diagnosis);
    }
    finish(ds, rfc822)
}
