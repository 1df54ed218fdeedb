//! An unidentified MTA (Sisimai's "X1"), subject "Returned Mail: ..." or
//! "Mail Delivery Failure": "The original message was received at ..."
//! then "addr [reason]" lines under "---The following addresses had
//! delivery errors---".

use super::super::rfc3464::split_at_boundary;
use super::super::text::{aligned, starts_any};
use super::super::{Delivery, Rising, address, mime::Email};
use super::{current, finish, next_record};

/// Decodes an X1 bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !starts_any(
        &email.subject,
        &["Returned Mail: ", "Mail Delivery Failure"],
    ) && !aligned(email.h("from"), &["\"Mail Deliver", "System\" "])
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &["Content-Type: message/rfc822", "Received: from "],
    );
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("The original message was received at ");
        }
        if !started || e.is_empty() {
            continue;
        }
        if aligned(e, &["@", " [", "]"]) {
            // "kijitora@example.co.jp [User unknown]"
            let cv = e.split(' ').next().unwrap_or("");
            if !address::is_email(cv) {
                continue;
            }
            let v = next_record(&mut ds);
            v.recipient = cv.to_string();
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
        } else {
            let v = current(&mut ds);
            let mut line = e.to_string();
            if e.len() > 6 && e.starts_with("---") && e.ends_with("---") {
                line = format!("{}:", e.trim_matches('-'));
                v.diagnosis.push('.');
            }
            v.diagnosis.push(' ');
            v.diagnosis.push_str(&line);
        }
    }
    for e in ds.iter_mut() {
        e.diagnosis = super::super::text::sweep(&e.diagnosis);
        if e.date.is_empty()
            && let Some(d) = super::super::text::select(&e.diagnosis, " at ", "from")
        {
            e.date = d.trim().to_string();
        }
    }
    finish(ds, rfc822)
}
