//! Zoho Mail (`X-ZohoMail` header): "This message was created automatically
//! by mail delivery", then "addr Invalid Address, ERROR_CODE :550, ..." or
//! "[Status: Error, Address: <addr>, ResponseCode 421, ...]" lines.

use super::super::rfc3464::split_at_boundary;
use super::super::text::{aligned, sweep};
use super::super::{Delivery, Rising, address, mime::Email};

/// Decodes a Zoho bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    email.header("x-zohomail")?;
    let (head, rfc822) = split_at_boundary(&email.payload, &["\n\nReceived:"]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    let mut recipients = 0;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("This message was created automatically by mail delivery");
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if aligned(e, &["@", " ", "ERROR_CODE :"]) || e.starts_with("[Status: ") {
            if !ds.last().expect("non-empty").recipient.is_empty() {
                ds.push(Delivery::default());
            }
            let v = ds.last_mut().expect("non-empty");
            v.recipient = address::s3s4(e);
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
            recipients += 1;
        } else if !e.starts_with("-----") {
            let v = ds.last_mut().expect("non-empty");
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
        }
    }
    if recipients == 0 {
        return None;
    }
    for e in ds.iter_mut() {
        e.diagnosis = sweep(&e.diagnosis);
        if e.diagnosis.contains("Host not reachable") {
            e.reason = "expired".into();
        }
    }
    Some(Rising {
        digests: ds,
        rfc822,
    })
}
