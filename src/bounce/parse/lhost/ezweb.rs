//! au by KDDI's EZweb mail service (`From: Postmaster@ezweb.ne.jp`, subject
//! "Mail System Error - Returned Mail"): a Japanese preamble, an English
//! summary line ("The user(s) account is disabled.") and either
//! "<addr>: 550 ..." lines or "Recipient: <addr>" with a `>>>`/`<<<`
//! transcript. `X-SPASIGN: NG` marks mail stopped by the user's filter.

use super::super::rfc3464::split_at_boundary;
use super::super::text::{aligned, select, starts_any};
use super::super::{Delivery, Rising, address, mime::Email, smtp};
use super::{current, dsn_field, finish, next_record, reason_of, sweep_all};

const MESSAGES_OF: &[(&str, &[&str])] = &[
    (
        "mailboxfull",
        &["The user(s) account is temporarily over quota"],
    ),
    (
        "suspend",
        &[
            "The user(s) account is disabled.",
            "The user(s) account is temporarily limited.",
        ],
    ),
    ("expired", &["Your message was not delivered within "]),
    (
        "onhold",
        &["Each of the following recipients was rejected by a remote mail server"],
    ),
];

fn is_ezweb(email: &Email) -> bool {
    let from = email.h("from");
    let mid = email.h("message-id");
    let mut score = 0;
    score += from.contains("Postmaster@ezweb.ne.jp") as u32;
    score += from.contains("Postmaster@au.com") as u32;
    score += (email.subject == "Mail System Error - Returned Mail") as u32;
    score += email
        .headers_all("received")
        .any(|e| e.contains("ezweb.ne.jp (EZweb Mail) with") || e.contains(".au.com ("))
        as u32;
    score += mid.contains(".ezweb.ne.jp>") as u32;
    score += mid.contains(".au.com>") as u32;
    score >= 2
}

/// Decodes an EZweb bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !is_ezweb(email) {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &[
            "--------------------------------------------------",
            "Content-Type: message/rfc822",
        ],
    );
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    for e in head.split('\n') {
        if !started {
            started = starts_any(
                e,
                &[
                    "The user(s) ",
                    "Your message ",
                    "Each of the following",
                    "<",
                ],
            );
        }
        if !started || e.is_empty() {
            continue;
        }
        if aligned(e, &["<", "@", ">"])
            && (e.find("Recipient: <").is_some_and(|p| p > 1) || e.starts_with('<'))
        {
            // "Recipient: <addr>" or "<addr>: 550 user unknown ..."
            let v = next_record(&mut ds);
            v.recipient = address::s3s4(select(e, "<", ">").unwrap_or(""));
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
            continue;
        }
        let v = current(&mut ds);
        if dsn_field(v, e) || !e.is_ascii() {
            continue;
        }
        if e.contains(" >>> ") {
            v.command = smtp::command_find(e);
        }
        v.diagnosis.push(' ');
        v.diagnosis.push_str(e);
    }
    sweep_all(&mut ds);
    let filtered = email.h("x-spasign") == "NG";
    for e in ds.iter_mut() {
        if e.command.is_empty() {
            e.command = smtp::command_find(&e.diagnosis);
        }
        e.reason = if filtered {
            "filtered".into()
        } else {
            reason_of(MESSAGES_OF, &e.diagnosis).to_string()
        };
        if !e.reason.is_empty()
            || e.recipient.contains("@ezweb.ne.jp")
            || e.recipient.contains("@au.com")
        {
            continue;
        }
        if e.diagnosis.starts_with('<') {
            e.reason = "userunknown".into();
        }
    }
    finish(ds, rfc822)
}
