//! MailFoundry (subject "Message delivery has failed", `Received: ...
//! (MAILFOUNDRY) id`): "Unable to deliver message to: <addr>" then
//! "Delivery failed for the following reason:" and the remote reply.

use super::super::rfc3464::split_at_boundary;
use super::super::text::select;
use super::super::{Delivery, Rising, mime::Email};
use super::{current, finish, next_record, received_contains, sweep_all};

/// Decodes a MailFoundry bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if email.subject != "Message delivery has failed"
        || !received_contains(email, "(MAILFOUNDRY) id")
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(&email.payload, &["Content-Type: message/rfc822"]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("Unable to deliver message to:");
        }
        if !started || e.is_empty() {
            continue;
        }
        if e.starts_with("Unable to deliver message to: <") && e.contains('@') {
            next_record(&mut ds).recipient = select(e, ": <", ">").unwrap_or("").to_string();
            continue;
        }
        let v = current(&mut ds);
        if e == "Delivery failed for the following reason:" {
            v.diagnosis = e.to_string();
        } else if !v.diagnosis.is_empty() && !e.starts_with('-') {
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
        }
    }
    sweep_all(&mut ds);
    finish(ds, rfc822)
}
