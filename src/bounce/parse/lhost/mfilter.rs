//! Digital Arts m-FILTER (`X-Mailer: m-FILTER`, subject "failure notice"):
//! a Japanese preamble, the failed address alone on a line, then
//! "-------server message" and "-------SMTP command" sections.

use super::super::rfc3464::split_at_boundary;
use super::super::{Delivery, Rising, address, mime::Email, smtp};
use super::{current, finish, next_record, sweep_all};

/// Decodes an m-FILTER bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if email.subject != "failure notice" || email.h("x-mailer") != "m-FILTER" {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &["-------original message", "-------original mail info"],
    );
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    let (mut in_error, mut in_command) = (false, false);
    for e in head.split('\n') {
        let only_addr = e.find('@').is_some_and(|p| p > 0) && !e.contains(' ');
        if !started {
            started = only_addr && address::is_email(e);
        }
        if !started || e.is_empty() {
            continue;
        }
        if only_addr {
            if address::is_email(e) {
                next_record(&mut ds).recipient = e.to_string();
            }
            continue;
        }
        if e == "-------server message" {
            in_error = true;
            continue;
        }
        if e == "-------SMTP command" {
            in_error = false;
            in_command = true;
            continue;
        }
        let v = current(&mut ds);
        if in_error && v.diagnosis.is_empty() {
            v.diagnosis = e.to_string();
            in_error = false;
        } else if in_command {
            let c = smtp::command_find(e);
            if !c.is_empty() && e.trim_start().to_ascii_uppercase().starts_with(&c) {
                v.command = c;
                in_command = false;
            }
        }
    }
    sweep_all(&mut ds);
    finish(ds, rfc822)
}
