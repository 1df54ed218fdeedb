//! Apache James (subject "[BOUNCE]", `Message-Id: ...JavaMail...`, or
//! `Received: ... (JAMES SMTP Server ...)`): the error text, then
//! "Message details:" with "  RCPT TO: addr" and the original's summary.

use super::super::rfc3464::split_at_boundary;
use super::super::{Delivery, Rising, mime::Email};
use super::{current, finish, next_record, received_contains, sweep_all};

/// Decodes an Apache James bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if email.subject != "[BOUNCE]"
        && !email.h("message-id").contains(".JavaMail.")
        && !received_contains(email, "JAMES SMTP Server")
    {
        return None;
    }
    let (head, mut rfc822) = split_at_boundary(&email.payload, &["Content-Type: message/rfc822"]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    // Envelope from, header From, date, subject of the original.
    let (mut env_from, mut from, mut date, mut subject) =
        (String::new(), String::new(), String::new(), String::new());
    for e in head.split('\n') {
        if !started {
            if e.starts_with("Message details:") {
                started = true;
            } else if !e.is_empty() {
                let v = current(&mut ds);
                v.diagnosis.push_str(e);
                v.diagnosis.push(' ');
            }
            continue;
        }
        if let Some(r) = e.strip_prefix("  RCPT TO: ") {
            next_record(&mut ds).recipient = r.trim().to_string();
        } else if let Some(d) = e.strip_prefix("  Sent date: ") {
            current(&mut ds).date = d.to_string();
            date = d.to_string();
        } else if let Some(s) = e.strip_prefix("  Subject: ") {
            subject = s.to_string();
        } else if let Some(s) = e.strip_prefix("  MAIL FROM: ") {
            env_from = s.to_string();
        } else if let Some(s) = e.strip_prefix("  From: ") {
            from = s.to_string();
        }
    }
    if rfc822.is_empty() {
        if !from.is_empty() {
            rfc822.push_str(&format!("From: {}\n", from));
        }
        if !date.is_empty() {
            rfc822.push_str(&format!("Date: {}\n", date));
        }
    }
    if !rfc822.contains("Return-Path: ") && !env_from.is_empty() {
        rfc822.push_str(&format!("Return-Path: <{}>\n", env_from));
    }
    if !rfc822.contains("\nSubject: ") && !subject.is_empty() {
        rfc822.push_str(&format!("Subject: {}\n", subject));
    }
    sweep_all(&mut ds);
    finish(ds, rfc822)
}
