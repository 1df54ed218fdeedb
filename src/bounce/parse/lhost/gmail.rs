//! Gmail's own (pre-2016) non-DSN bounces from mailer-daemon@googlemail.com:
//! "Delivery to the following recipient failed permanently:", the indented
//! address, then "Technical details of ... failure" with the remote reply
//! and a "(state N)" code naming the SMTP stage.

use super::super::rfc3464::split_at_boundary;
use super::super::text::{contains_any, select, sweep};
use super::super::{Delivery, Rising, address, mime::Email, smtp};

/// Decodes a Gmail bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.h("from").contains("<mailer-daemon@googlemail.com>")
        || !email.subject.contains("Delivery Status Notification")
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &[
            "----- Original message -----",
            "----- Message header follows -----",
        ],
    );
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    let mut recipients = 0;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("Delivery to the following recipient");
        }
        if !started || e.is_empty() {
            continue;
        }
        if e.starts_with(' ') && e.find('@').is_some_and(|p| p > 0) {
            if !ds.last().expect("non-empty").recipient.is_empty() {
                ds.push(Delivery::default());
            }
            let cv = address::s3s4(e.trim());
            if address::is_email(&cv) {
                ds.last_mut().expect("non-empty").recipient = cv;
                recipients += 1;
            }
        } else {
            let v = ds.last_mut().expect("non-empty");
            v.diagnosis.push_str(e);
            v.diagnosis.push(' ');
        }
    }
    if recipients == 0 {
        return None;
    }
    for e in ds.iter_mut() {
        e.diagnosis = sweep(&e.diagnosis);
        let state = select(&e.diagnosis, " (state ", ")").unwrap_or("");
        let (cmd, reason) = match state {
            "6" => ("MAIL", "failedstarttls"),
            "8" => ("AUTH", "systemerror"),
            "9" => ("AUTH", "failedstarttls"),
            "12" => ("AUTH", "norelaying"),
            "13" => ("EHLO", "blocked"),
            "14" => ("RCPT", "userunknown"),
            "15" | "17" | "18" => ("DATA", "filtered"),
            _ => ("", ""),
        };
        e.command = cmd.to_string();
        e.reason = reason.to_string();
        if e.reason.is_empty() {
            if contains_any(
                &e.diagnosis,
                &[
                    "DNS Error: Could not contact DNS servers",
                    "Delivery to the following recipient has been delayed",
                    "The recipient server did not accept our requests to connect",
                ],
            ) {
                e.reason = "expired".into();
            } else if contains_any(
                &e.diagnosis,
                &[
                    "DNS Error: Domain name not found",
                    "DNS Error: DNS server returned answer with no data",
                ],
            ) {
                e.reason = "hostunknown".into();
            }
        }
        if e.reason.is_empty() {
            continue;
        }
        // A specific status code in the reply beats the state table.
        e.status = smtp::status_find(&e.diagnosis, &e.reply);
        if !e.status.is_empty() && !e.status.contains(".0") {
            let n = smtp::status_name(&e.status);
            e.reason = n.to_string();
        }
    }
    Some(Rising {
        digests: ds,
        rfc822,
    })
}
