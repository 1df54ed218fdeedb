//! Sendmail version 5 (and other pre-DSN sendmails): "Returned mail: ..."
//! subject, "----- Transcript of session follows -----" with ">>> RCPT To:" /
//! "<<< 550 ..." lines, and "----- Unsent message follows -----".

use super::super::rfc3464::split_at_boundary;
use super::super::text::{aligned, select, starts_any, sweep};
use super::super::{Delivery, Rising, address, mime::Email, smtp};

fn host_in(e: &str) -> String {
    // "While talking to mail.example.co.jp:" -> the host name.
    let s = e.split("While talking to ").nth(1).unwrap_or("");
    s.trim()
        .trim_end_matches(':')
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_string()
}

/// Decodes a sendmail v5 bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.subject.starts_with("Returned mail: ") {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &[
            "   ----- Unsent message follows -----",
            "  ----- No message was collected -----",
        ],
    );
    if rfc822.is_empty() {
        return None;
    }
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut another: Vec<String> = vec![String::new()];
    let mut started = false;
    let mut recipients = 0usize;
    let mut aidx = 0usize;
    let mut remotehost = String::new();
    let mut curcommand = String::new();
    for e in head.split('\n') {
        if !started {
            started = e.contains("----- Transcript of session follows -----");
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if let Some(rest) = e.strip_prefix(">>> ") {
            curcommand = smtp::command_find(rest);
        }
        if aligned(e, &[" <", "@", ">..."]) || e.to_ascii_uppercase().contains(">>> RCPT TO:") {
            let ce = select(e, " <", ">...")
                .or_else(|| select(e, ":<", ">"))
                .unwrap_or("");
            let cv = address::s3s4(ce);
            if remotehost.is_empty() {
                // No "While talking to" line: each "554 <addr>... text" line
                // names its own recipient.
                if recipients == 0 && address::is_email(&cv) {
                    let held = address::s3s4(&another[aidx]);
                    if !held.is_empty() && held != cv {
                        aidx += 1;
                        another.push(String::new());
                    }
                }
                let slot = if recipients == 0 { aidx } else { recipients };
                if another.len() <= slot {
                    another.resize(slot + 1, String::new());
                }
                another[slot].push(' ');
                another[slot].push_str(e);
                continue;
            }
            let v = ds.last_mut().expect("non-empty");
            if cv == v.recipient || (curcommand == "MAIL" && e.starts_with("<<< ")) {
                v.diagnosis.push(' ');
                v.diagnosis.push_str(e);
                v.reply = smtp::reply_find(e, "");
                curcommand.clear();
            } else {
                if !v.recipient.is_empty() {
                    ds.push(Delivery::default());
                }
                recipients += 1;
                let v = ds.last_mut().expect("non-empty");
                v.recipient = cv;
                v.rhost = remotehost.clone();
                v.reply = smtp::reply_find(e, "");
                v.diagnosis.push(' ');
                v.diagnosis.push_str(e);
                if v.command.is_empty() {
                    v.command = curcommand.clone();
                }
            }
        } else if e.contains("While talking to ") {
            let h = host_in(e);
            if h.contains('.') {
                remotehost = h;
            }
        } else if starts_any(e, &[">>> ", "<<< "]) {
            let v = ds.last_mut().expect("non-empty");
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
        } else {
            let slot = if recipients == 0 { aidx } else { recipients };
            if another.len() <= slot {
                another.resize(slot + 1, String::new());
            }
            another[slot].push(' ');
            another[slot].push_str(e);
        }
    }
    if recipients == 0 {
        for (i, a) in another.iter().enumerate() {
            let cv = address::s3s4(a);
            if cv.is_empty() {
                continue;
            }
            while ds.len() <= i {
                ds.push(Delivery::default());
            }
            ds[i].recipient = cv;
            ds[i].reply = smtp::reply_find(a, "");
            ds[i].diagnosis = a.clone();
            recipients += 1;
        }
        if recipients == 0 {
            let to = select(&format!("\n{}", rfc822), "\nTo: ", "\n")
                .map(address::s3s4)
                .unwrap_or_default();
            if !address::is_email(&to) {
                return None;
            }
            ds[0].recipient = to;
            recipients = 1;
        }
        ds.retain(|d| !d.recipient.is_empty());
    }
    if recipients == 0 {
        return None;
    }
    for (j, e) in ds.iter_mut().enumerate() {
        if e.diagnosis.is_empty() {
            e.diagnosis = another.get(j).cloned().unwrap_or_default();
        }
        if e.command.is_empty() {
            e.command = smtp::command_find(&e.diagnosis);
        }
        e.diagnosis = sweep(&e.diagnosis);
        e.reply = smtp::reply_find(&e.diagnosis, "");
        if !address::is_email(&e.recipient) {
            e.recipient = address::s3s4(select(&e.diagnosis, "<:", ">").unwrap_or(""));
        }
    }
    Some(Rising {
        digests: ds,
        rfc822,
    })
}
