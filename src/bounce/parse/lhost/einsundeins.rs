//! 1&1 (`From: "Mail Delivery System"`, subject "Mail delivery failed:
//! returning message to sender"): "The following address failed:", the
//! address, "For the following reason:" and the reason; or Exim-style
//! "addr:" / "SMTP error from remote server for TEXT command, host: ...
//! reason: ..." lines. The original headers follow "--- The header of the
//! original message is following. ---".

use super::super::rfc3464::split_at_boundary;
use super::super::text::{aligned, select, sweep};
use super::super::{Delivery, Rising, address, mime::Email, smtp};
use super::{current, finish, next_record};

/// Decodes a 1&1 bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.h("from").starts_with("\"Mail Delivery System\"")
        || email.subject != "Mail delivery failed: returning message to sender"
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &["--- The header of the original message is following. ---"],
    );
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    let mut buffer = String::new();
    for e in head.split('\n') {
        if !started {
            started =
                e.starts_with("This message was created automatically by mail delivery software");
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if aligned(e, &["@", "."]) && (e.ends_with(':') || !e.contains(' ')) {
            let ce = address::s3s4(e.trim_matches(':'));
            if address::is_email(&ce) {
                next_record(&mut ds).recipient = ce;
            }
        } else if e.starts_with("For the following reason:") {
            current(&mut ds).diagnosis = e.to_string();
        } else {
            let v = current(&mut ds);
            if !v.diagnosis.is_empty() {
                v.diagnosis.push(' ');
                v.diagnosis.push_str(e);
            } else {
                buffer.push(' ');
                buffer.push_str(e);
            }
        }
    }
    for e in ds.iter_mut() {
        if e.diagnosis.is_empty() {
            e.diagnosis = buffer.clone();
        }
        e.command = smtp::command_find(&e.diagnosis);
        if aligned(&e.diagnosis, &["host: ", " reason:"]) {
            e.rhost = sweep(select(&e.diagnosis, "host: ", " ").unwrap_or(""));
            e.status = smtp::status_find(&e.diagnosis, "");
            if e.diagnosis.contains("for TEXT command") {
                e.command = "DATA".into();
            }
            if e.diagnosis.contains("SMTP error") {
                e.spec = "SMTP".into();
            }
        }
        e.diagnosis = sweep(&e.diagnosis);
        if e.diagnosis.contains("Mail size limit exceeded") {
            e.reason = "mesgtoobig".into();
        }
    }
    finish(ds, rfc822)
}
