//! Verizon Wireless SMS/MMS gateways (`post_master@vtext.com`,
//! `sysadmin@...vzwpix.com`): "Error: ..." text, and the original message
//! either attached after "Original Message:" or summarised after
//! "Message details:" ("RCPT TO: addr").

use super::super::rfc3464::split_at_boundary;
use super::super::text::aligned;
use super::super::{Delivery, Rising, mime::Email};
use super::{finish, original_to, sweep_all};

/// Decodes a Verizon bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    let from = email.h("from");
    if !from.contains("post_master@vtext.com") && !aligned(from, &["sysadmin@", ".vzwpix.com"]) {
        return None;
    }
    let mut payload = email.payload.clone();
    let summary = payload.contains("Message details:");
    if summary {
        // Turn the summary into header lines of the original message.
        payload = payload
            .replacen("Sent date: ", "Date: ", 1)
            .replacen("MAIL FROM: ", "Return-Path: ", 1)
            .replacen("RCPT TO: ", "To: ", 1);
    }
    let (head, mut rfc822) =
        split_at_boundary(&payload, &["Original Message:", "Message details:"]);
    let mut v = Delivery::default();
    let mut started = false;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("Error: ");
        }
        if started && !e.is_empty() {
            v.diagnosis.push_str(e);
        }
    }
    if summary {
        rfc822 = rfc822.replace("\n  ", "\n");
        if let Some(s) = rfc822.strip_prefix("  ") {
            rfc822 = s.to_string();
        }
    }
    v.recipient = original_to(&rfc822);
    let mut ds = vec![v];
    sweep_all(&mut ds);
    for e in ds.iter_mut() {
        if e.diagnosis
            .contains("550 - Requested action not taken: no such user here")
            || e.diagnosis.contains("No valid recipients")
        {
            e.reason = "userunknown".into();
        }
    }
    finish(ds, rfc822)
}
