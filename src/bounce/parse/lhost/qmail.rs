//! qmail (<https://cr.yp.to/qmail.html>) and its clones (Yahoo! Mail and
//! others reuse the layout): "Hi. This is the qmail-send program", then one
//! "<address>:" line per recipient followed by the error paragraph, then
//! "--- Below this line is a copy of the message.". Texts from qmail-remote.c,
//! qmail-send.c and the qmail-ldap patch.

use super::super::rfc3464::split_at_boundary;
use super::super::text::{aligned, contains_any, select, sweep};
use super::super::{Delivery, Rising, mime::Email, smtp};

const COMMANDS: &[(&str, &[&str])] = &[
    ("CONN", &[" but greeting failed."]),
    ("EHLO", &[" but my name was rejected."]),
    ("MAIL", &[" but sender was rejected."]),
    ("RCPT", &[" does not like recipient."]),
    (
        "DATA",
        &[
            " failed on DATA command",
            " failed after I sent the message",
        ],
    ),
];
const MESSAGES_OF: &[(&str, &[&str])] = &[
    ("hostunknown", &["Sorry, I couldn't find any host "]),
    ("mailboxfull", &["disk quota exceeded"]),
    (
        "mesgtoobig",
        &["Message size exceeds fixed maximum message size:"],
    ),
    (
        "networkerror",
        &[
            "Sorry, I wasn't able to establish an SMTP connection",
            "Sorry. Although I'm listed as a best-preference MX or A for that host",
        ],
    ),
    (
        "notaccept",
        &["Sorry, I couldn't find a mail exchanger or IP address"],
    ),
    (
        "systemerror",
        &[
            "bad interpreter: No such file or directory",
            "system error",
            "Unable to",
        ],
    ),
    (
        "systemfull",
        &["Requested action not taken: mailbox unavailable (not enough free space)"],
    ),
    ("userunknown", &["no mailbox here by that name"]),
];
const LDAP: &[(&str, &[&str])] = &[
    (
        "exceedlimit",
        &["The message exeeded the maximum size the user accepts"],
    ),
    (
        "suspend",
        &[
            "Mailaddress is administrativly disabled",
            "Mailaddress is administrativley disabled",
            "Mailaddress is administratively disabled",
            "Mailaddress is administrativeley disabled",
        ],
    ),
    (
        "systemerror",
        &[
            "Automatic homedir creator crashed",
            "Illegal value in LDAP attribute",
            "LDAP attribute is not given but mandatory",
            "Timeout while performing search on LDAP server",
            "Too many results returned but needs to be unique",
            "Permanent error while executing qmail-forward",
            "Temporary error in automatic homedir creation",
            "Temporary error while executing qmail-forward",
            "Temporary failure in LDAP lookup",
            "Unable to contact LDAP server",
            "Unable to login into LDAP server, bad credentials",
        ],
    ),
    ("userunknown", &["Sorry, no mailbox here by that name"]),
];

/// Decodes a qmail-style bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    let by_subject = email.subject == "failure notice" || email.subject == "Failure Notice";
    if !by_subject && !email.headers_all("received").any(|r| r.contains("(qmail ")) {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &[
            "--- Below this line is a copy of the message.",
            "--- Below this line is a copy of the mail header.",
            "--- Below the next line is a copy of the message.",
            "--- Mensaje original adjunto.",
            "Content-Type: message/rfc822",
            "Original message follows.",
        ],
    );
    const STARTS: &[&str] = &[
        "Hi. This is the qmail",
        "He/Her is not ",
        "unable to deliver your message to the following addresses",
        "Su mensaje no pudo ser entregado",
        "Sorry, we were unable to deliver your message to the following address",
        "This is the machine generated message from mail service",
        "This is the mail delivery agent at",
        "Unable to deliver message to the following address",
        "Unfortunately, your mail was not delivered to the following address:",
        "Your mail message to the following address",
        "Your message to the following addresses",
        "We're sorry.",
    ];
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut another: Vec<String> = vec![String::new()];
    let mut started = false;
    let mut recipients = 0usize;
    for e in head.split('\n') {
        if !started {
            started = contains_any(e, STARTS);
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if e.starts_with('<') && aligned(e, &["<", "@", ">:"]) {
            if !ds.last().expect("non-empty").recipient.is_empty() {
                ds.push(Delivery::default());
                another.push(String::new());
            }
            ds.last_mut().expect("non-empty").recipient =
                select(e, "<", ">:").unwrap_or("").to_string();
            recipients += 1;
        } else if ds.len() == recipients {
            let v = ds.last_mut().expect("non-empty");
            v.diagnosis.push_str(e);
            v.diagnosis.push(' ');
            if e.starts_with("Remote host said:") {
                *another.last_mut().expect("non-empty") = e.to_string();
            }
            if v.rhost.is_empty() {
                for r in ["Giving up on ", "Connected to ", "remote host "] {
                    if let Some(cv) = select(&format!("{} ", e), r, " ")
                        && !cv.is_empty()
                    {
                        v.rhost = sweep(cv);
                        break;
                    }
                }
            }
        }
    }
    if recipients == 0 {
        return None;
    }
    for (j, e) in ds.iter_mut().enumerate() {
        e.diagnosis = sweep(&e.diagnosis);
        if let Some((c, _)) = COMMANDS.iter().find(|(_, p)| contains_any(&e.diagnosis, p)) {
            e.command = (*c).to_string();
        }
        if e.command.is_empty() && e.diagnosis.contains("no SMTP connection got far enough") {
            e.command = smtp::command_find(&e.diagnosis);
        }
        if e.command == "EHLO" || e.command == "HELO" {
            e.reason = "blocked".into();
        } else if aligned(
            &e.diagnosis,
            &[
                " does not like recipient.",
                "this message has been in the queue too long.",
            ],
        ) {
            e.reason = "onhold".into();
        } else {
            for f in [another[j].as_str(), e.diagnosis.as_str()] {
                if !e.reason.is_empty() {
                    break;
                }
                if f.is_empty() {
                    continue;
                }
                if let Some((r, _)) = MESSAGES_OF
                    .iter()
                    .chain(LDAP.iter())
                    .find(|(_, p)| contains_any(f, p))
                {
                    e.reason = (*r).to_string();
                    break;
                }
                if f.contains("this message has been in the queue too long.") {
                    e.reason = "expired".into();
                }
            }
        }
        if e.command.is_empty() {
            e.command = smtp::command_find(&e.diagnosis);
        }
    }
    Some(Rising {
        digests: ds,
        rfc822,
    })
}
