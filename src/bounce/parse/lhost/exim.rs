//! Exim (<https://www.exim.org/>) and its clones (Mail.ru, McAfee SaaS /
//! MXLogic). Exim writes "This message was created automatically by mail
//! delivery software." and lists each failed address indented by two spaces,
//! followed by the indented error text; the original message follows
//! "------ This is a copy of the message...". Texts are from exim's deliver.c.

use super::super::rfc3464::{field, field_kind, split_at_boundary};
use super::super::text::{contains_any, select, sweep};
use super::super::{Delivery, Rising, address, mime::Email, smtp};

const MESSAGES_OF: &[(&str, &[&str])] = &[
    ("userunknown", &["user not found"]),
    (
        "hostunknown",
        &[
            "all host address lookups failed permanently",
            "all relevant MX records point to non-existent hosts",
            "Unrouteable address",
        ],
    ),
    ("mailboxfull", &["mailbox is full", "error: quota exceed"]),
    (
        "notaccept",
        &[
            "an MX or SRV record indicated no SMTP service",
            "no host found for existing SMTP connection",
        ],
    ),
    (
        "syntaxerror",
        &[
            "angle-brackets nested too deep",
            "expected word or \"<\"",
            "domain missing in source-routed address",
            "malformed address:",
        ],
    ),
    (
        "systemerror",
        &[
            "delivery to file forbidden",
            "delivery to pipe forbidden",
            "local delivery failed",
            "LMTP error after ",
        ],
    ),
    ("contenterror", &["Too many \"Received\" headers"]),
];
const DELAYED: &[&str] = &[
    "retry timeout exceeded",
    "No action is required on your part",
    "retry time not reached for any host after a long failure period",
    "all hosts have been failing for a long time and were last tried",
    "Delay reason: ",
    "has been frozen",
    "was frozen on arrival by ",
];

/// Decodes an Exim bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    let mid = email.h("message-id");
    let subject = &email.subject;
    let mut score = 0;
    if email.h("from").contains("Mail Delivery System") {
        score += 1;
    }
    if contains_any(
        subject,
        &[
            "Delivery Status Notification",
            "Mail delivery failed",
            "Mail failure",
            "Message frozen",
            "Warning: message ",
            "error(s) in forwarding or filtering",
        ],
    ) {
        score += 1;
    }
    // Exim message ids: <E1P1YNN-0003AD-Ga@example.org>
    if mid.find('<') == Some(0) && mid.find('-') == Some(8) && mid.find('@') == Some(18) {
        score += 1;
    }
    let thirdparty = email.header("x-mx-bounce").is_some()
        || email.header("x-mxl-hash").is_some()
        || email.header("x-mxl-notehash").is_some()
        || mid.contains("<mxl~");
    if score < 2 && !thirdparty {
        return None;
    }
    let payload = email.payload.replacen("\n----- This ", "\n------ This ", 1);
    let (head, mut rfc822) = split_at_boundary(
        &payload,
        &[
            "------ This is a copy of the message, including all the headers. ------",
            "------ This is a copy of the message's headers. ------",
            "Content-Type: message/rfc822",
            "Included is a copy of the message header:\n-----------------------------------------",
        ],
    );
    const STARTS: &[&str] = &[
        "This message was created automatically by mail delivery software.",
        "A message that you sent was rejected by the local scannning code",
        "A message that you sent contained one or more recipient addresses ",
        "A message that you sent could not be delivered to all of its recipients",
        " has been frozen",
        " was frozen on arrival",
        " router encountered the following error(s):",
    ];
    const FROZEN: &[&str] = &[" has been frozen", " was frozen on arrival"];
    let multipart = email
        .h("content-type")
        .to_ascii_lowercase()
        .contains("boundary=");
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut another: Vec<String> = vec![String::new()];
    let mut started = false;
    let mut in_ds = false;
    let mut recipients = 0usize;
    for e in head.split('\n') {
        if !started {
            if STARTS.iter().any(|s| e.contains(s)) {
                started = true;
                if !contains_any(e, FROZEN) {
                    continue;
                }
            } else {
                continue;
            }
        }
        if e.is_empty() {
            continue;
        }
        let b = e.as_bytes();
        let is_addr_line = e.starts_with("  ")
            && e.find('@').is_some_and(|p| p >= 2)
            && e.find('.').is_some_and(|p| p >= 2)
            && !e.contains("pipe to |")
            && b.get(2) != Some(&b' ')
            && (thirdparty || b.get(2) != Some(&b'<'));
        let undisclosed = e.contains(" an undisclosed address");
        if is_addr_line || undisclosed {
            let (cv, diag) = if undisclosed {
                (e.get(2..).unwrap_or("").to_string(), None)
            } else if let Some(inner) = select(e, "<", ">:") {
                let cv = address::s3s4(inner);
                if !cv.is_empty() {
                    (cv, Some(sweep(select(e, ">:", "").unwrap_or(""))))
                } else {
                    let p1 = e.rfind(": ").unwrap_or(e.len());
                    (address::s3s4(e.get(2..p1).unwrap_or("")), None)
                }
            } else {
                let p1 = e.rfind(": ").filter(|&p| p >= 2).unwrap_or(e.len());
                (address::s3s4(e.get(2..p1).unwrap_or("")), None)
            };
            if !undisclosed && !address::is_email(&cv) {
                continue;
            }
            let last = ds.last_mut().expect("non-empty");
            if !last.recipient.is_empty() && cv != last.recipient {
                ds.push(Delivery::default());
                another.push(String::new());
            }
            let v = ds.last_mut().expect("non-empty");
            v.recipient = cv;
            if let Some(d) = diag {
                v.diagnosis = d;
            }
            recipients += 1;
        } else if contains_any(e, &[" (generated from ", " generated by "]) {
            if let Some(a) = e.split(' ').find(|f| f.find('@').is_some_and(|p| p > 0)) {
                ds.last_mut().expect("non-empty").alias = address::s3s4(a);
            }
        } else if contains_any(e, FROZEN) {
            *another.last_mut().expect("non-empty") = format!("{} ", e);
        } else if multipart {
            if field_kind(e) > 0 {
                let Some(o) = field(e) else { continue };
                let v = ds.last_mut().expect("non-empty");
                match o.group {
                    "addr" => {
                        if o.name != "final-recipient" || !v.spec.is_empty() {
                            continue;
                        }
                        v.spec = if o.value.contains('@') {
                            "SMTP".into()
                        } else {
                            "X-UNIX".into()
                        };
                    }
                    "code" => {
                        v.spec = o.kind.to_ascii_uppercase();
                        v.diagnosis = o.value.clone();
                    }
                    _ => super::super::rfc3464::apply(v, &o),
                }
            } else {
                if in_ds {
                    continue;
                }
                if e.starts_with("Content-Type: message/delivery-status") {
                    in_ds = true;
                }
                if e.starts_with(' ') {
                    let a = another.last_mut().expect("non-empty");
                    a.push_str(e);
                    a.push(' ');
                }
            }
        } else if ds.len() == recipients || e.starts_with("  ") {
            let v = ds.last_mut().expect("non-empty");
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
        }
    }
    if recipients > 0 {
        for e in ds.iter_mut() {
            if !e.alias.is_empty() && !e.recipient.contains('@') {
                e.recipient = e.alias.clone();
            }
        }
    } else if let Some(x) = email.header("x-failed-recipients") {
        // The diagnosis read above belongs to the first listed address.
        for (i, r) in x.split(',').enumerate() {
            if i > 0 {
                ds.push(Delivery::default());
                another.push(String::new());
            }
            ds.last_mut().expect("non-empty").recipient = r.trim().to_string();
        }
        recipients = ds.len();
    }
    if recipients == 0 {
        return None;
    }
    let first_diag = ds[0].diagnosis.clone();
    let first_spec = ds[0].spec.clone();
    for (j, e) in ds.iter_mut().enumerate() {
        if e.diagnosis.is_empty() && multipart {
            e.diagnosis = first_diag.clone();
            if e.spec.is_empty() {
                e.spec = first_spec.clone();
            }
            if !another[0].is_empty() {
                another[j] = another[0].clone();
            }
        }
        if let Some(a) = another.get(j).filter(|a| !a.is_empty()) {
            if e.diagnosis.is_empty() {
                e.diagnosis = a.clone();
            }
            if e.diagnosis.starts_with('-') || e.diagnosis.ends_with("__") {
                e.diagnosis = a.clone();
            } else if e.diagnosis.len() < a.len() {
                let sq = sweep(a);
                if sq
                    .to_ascii_lowercase()
                    .contains(&sweep(&e.diagnosis).to_ascii_lowercase())
                {
                    e.diagnosis = sq;
                }
            }
        }
        e.diagnosis = sweep(&e.diagnosis);
        if let Some(p) = e.diagnosis.find("__")
            && p > 0
        {
            e.diagnosis.truncate(p);
        }
        if e.command.is_empty() {
            if contains_any(
                &e.diagnosis,
                &["SMTP error from remote ", "LMTP error after "],
            ) {
                e.command = smtp::command_find(&e.diagnosis);
            }
            match e.command.as_str() {
                "EHLO" | "HELO" => e.reason = "blocked".into(),
                "MAIL" => e.reason = "onhold".into(),
                _ => {
                    if let Some((r, _)) = MESSAGES_OF
                        .iter()
                        .find(|(_, p)| contains_any(&e.diagnosis, p))
                    {
                        e.reason = (*r).to_string();
                    }
                    if e.reason.is_empty() {
                        if contains_any(&e.diagnosis, DELAYED) {
                            e.reason = "expired".into();
                        } else if e.diagnosis.contains("pipe to |") {
                            e.reason = "mailererror".into();
                        }
                    }
                }
            }
        }
        // Prefer the reply code in the text: "Status: 5.0.0" with "450 TEMPERROR".
        let cr = smtp::reply_find(&e.diagnosis, &e.status);
        let cs = smtp::status_find(&e.diagnosis, &cr);
        let cv = if cr.starts_with('4') || e.reason == "expired" || e.reason == "mailboxfull" {
            smtp::status_code(&e.reason, true)
        } else {
            smtp::status_code(&e.reason, false)
        };
        if e.reply.is_empty() {
            e.reply = cr.clone();
        }
        if e.status.is_empty() {
            e.status = smtp::status_prefer(&cs, &cv, &cr);
        }
    }
    if rfc822.trim().is_empty() {
        rfc822 = format!("To: <{}>\n", ds[0].recipient);
        if let Some(s) = select(&email.payload, "The subject of the message is: ", "\n") {
            rfc822.push_str(&format!("Subject: {}\n", s.trim()));
        }
    }
    Some(Rising {
        digests: ds,
        rfc822,
    })
}
