//! QUALITIA Active!hunter (`X-AHMAILID` header): a sendmail-like text with
//! "----- The following addresses had permanent fatal errors -----",
//! ">>> addr <addr>" lines and the remote reply below the transcript header.

use super::super::rfc3464::split_at_boundary;
use super::super::{Delivery, Rising, address, mime::Email};
use super::{current, finish, next_record, sweep_all};

/// Decodes an Active!hunter bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    email.header("x-ahmailid")?;
    let (head, rfc822) = split_at_boundary(&email.payload, &["Content-Type: message/rfc822"]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    for e in head.split('\n') {
        if !started {
            started =
                e.starts_with("  ----- The following addresses had permanent fatal errors -----");
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if let Some(rest) = e.strip_prefix(">>> ")
            && e.contains('@')
        {
            next_record(&mut ds).recipient = address::s3s4(rest);
        } else {
            // Error text starts with a digit or a letter.
            let c = e.as_bytes()[0];
            if !(b'0'..=b'z').contains(&c) {
                continue;
            }
            let v = current(&mut ds);
            if v.diagnosis.is_empty() {
                v.diagnosis = e.to_string();
            }
        }
    }
    sweep_all(&mut ds);
    finish(ds, rfc822)
}
