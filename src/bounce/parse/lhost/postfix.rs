//! Postfix (<https://www.postfix.org/>, bounce(5)). With a delivery-status part
//! the fields are read as RFC 3464, and the human-readable paragraph after
//! "The mail system" ("<addr>: host ... said: 550 ... (in reply to RCPT TO
//! command)") supplies the SMTP command and often a fuller error text.
//! Without one (old Postfix, or a stripped report) those paragraphs are the
//! only source.

use super::super::rfc3464::{parse_fields, split_at_boundary};
use super::super::text::{aligned, select, sweep};
use super::super::{Delivery, Rising, address, mime::Email, smtp};

/// Decodes a Postfix bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if email.header("x-aol-ip").is_some() {
        return None;
    }
    if email
        .subject
        .find("SMTP server: errors from ")
        .is_some_and(|p| p > 0)
    {
        return session_notice(email);
    }
    if email.subject != "Undelivered Mail Returned to Sender" {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &[
            "Content-Type: message/rfc822",
            "Content-Type: text/rfc822-headers",
        ],
    );
    let (human, dsn) = match head.find("Content-Type: message/delivery-status") {
        Some(p) => head.split_at(p),
        None => (head.as_str(), ""),
    };
    const STARTS: &[&[&str]] = &[
        &["The ", "Postfix "],
        &["The ", "mail system"],
        &["The ", "program"],
        &["This is the", "Postfix"],
        &["This is the", "mail system"],
    ];
    // Paragraphs "<addr>: text" (possibly "(expanded from <alias>)").
    let mut found: Vec<(String, String)> = Vec::new();
    let mut commands: Vec<String> = Vec::new();
    let mut started = false;
    let mut nomessages = false;
    for e in human.split('\n') {
        if !started {
            started = STARTS.iter().any(|s| aligned(e, s));
            continue;
        }
        if e.contains("(in reply to ") || e.contains("command)") {
            let c = smtp::command_find(e);
            if !c.is_empty() {
                commands.push(c);
            }
        }
        if e.starts_with('<') && aligned(e, &["<", "@", ">", "(expanded from <", "):"]) {
            let r = address::s3s4(&e[..e.find('>').map(|p| p + 1).unwrap_or(e.len())]);
            let d = e.find(">): ").map(|p| &e[p + 4..]).unwrap_or("");
            found.push((r, d.to_string()));
        } else if e.starts_with('<') && aligned(e, &["<", "@", ">:"]) {
            let r = address::s3s4(&e[..e.find('>').map(|p| p + 1).unwrap_or(e.len())]);
            let d = e.find(">:").map(|p| &e[p + 2..]).unwrap_or("");
            found.push((r, d.to_string()));
        } else if e.contains("--- Delivery report unavailable ---") {
            nomessages = true;
        } else if let Some(last) = found.last_mut()
            && e.starts_with("    ")
        {
            last.1.push(' ');
            last.1.push_str(e.trim());
        }
    }
    let mut rising = if !dsn.is_empty() {
        parse_fields(dsn, rfc822.clone(), true)
    } else {
        None
    };
    if rising.is_none() {
        let mut ds: Vec<Delivery> = found
            .iter()
            .filter(|(r, _)| address::is_email(r))
            .map(|(r, d)| Delivery {
                recipient: r.clone(),
                diagnosis: sweep(d),
                ..Default::default()
            })
            .collect();
        if ds.is_empty() && nomessages {
            let to = select(&format!("\n{}", rfc822), "\nTo: ", "\n")
                .map(address::s3s4)
                .unwrap_or_default();
            if address::is_email(&to) {
                ds.push(Delivery {
                    recipient: to,
                    ..Default::default()
                });
            }
        }
        if ds.is_empty() {
            return None;
        }
        rising = Some(Rising {
            digests: ds,
            rfc822,
        });
    }
    let mut rising = rising?;
    for d in rising.digests.iter_mut() {
        let another = found
            .iter()
            .find(|(r, _)| r.eq_ignore_ascii_case(&d.recipient))
            .or(if found.len() == 1 {
                found.first()
            } else {
                None
            })
            .map(|(_, t)| sweep(t))
            .unwrap_or_default();
        if !another.is_empty() {
            if d.diagnosis.is_empty() || d.diagnosis.chars().all(|c| c.is_ascii_digit()) {
                d.diagnosis = another.clone();
            } else {
                let mut as_ = String::new();
                let mut ar = String::new();
                if d.status.is_empty() || d.status.ends_with(".0.0") {
                    as_ = smtp::status_find(&another, "");
                    if !as_.is_empty() && !as_.ends_with(".0.0") {
                        d.status = as_.clone();
                    }
                }
                if d.reply.is_empty() || d.reply.ends_with("00") {
                    ar = smtp::reply_find(&another, "");
                    if !ar.is_empty() && !ar.ends_with("00") {
                        d.reply = ar.clone();
                    }
                }
                if (!as_.is_empty() || !ar.is_empty())
                    && another.len() >= d.diagnosis.len()
                    && another.contains(&d.diagnosis)
                {
                    d.diagnosis = another.clone();
                }
            }
        }
        d.diagnosis = sweep(&d.diagnosis);
        if let Some(c) = commands.first() {
            d.command = c.clone();
        } else {
            d.command = smtp::command_find(&d.diagnosis);
            if d.command.is_empty() && d.diagnosis.contains("refused to talk to me:") {
                d.command = "HELO".into();
            }
        }
        if d.spec.is_empty() || d.spec.eq_ignore_ascii_case("X-POSTFIX") {
            d.spec = "SMTP".into();
        }
    }
    Some(rising)
}

/// A postmaster notice from smtpd ("Postfix SMTP server: errors from
/// host[addr]"): "Transcript of session follows." with " In:  CMD arg" and
/// " Out: reply" lines. The recipient comes from RCPT, the error from the
/// first reply of class 4 or 5 after it.
fn session_notice(email: &Email) -> Option<Rising> {
    let (head, mut rfc822) = split_at_boundary(
        &email.payload,
        &[
            "Content-Type: message/rfc822",
            "Content-Type: text/rfc822-headers",
        ],
    );
    // Join continuation lines onto their "In:"/"Out:" line.
    let mut lines: Vec<String> = Vec::new();
    let mut started = false;
    for e in head.split('\n') {
        let t = e.trim_start();
        if t.starts_with("In:") || t.starts_with("Out:") {
            started = true;
            lines.push(t.to_string());
        } else if started && e.starts_with(' ') && !t.is_empty() {
            if let Some(l) = lines.last_mut() {
                l.push(' ');
                l.push_str(t);
            }
        } else if started && !t.is_empty() {
            break;
        }
    }
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut command = String::new();
    let mut commands: Vec<String> = Vec::new();
    for l in &lines {
        if let Some(arg) = l.strip_prefix("In:") {
            let arg = arg.trim();
            command = smtp::command_find(&arg.to_ascii_uppercase());
            let argument = arg.split_once(' ').map(|(_, a)| a.trim()).unwrap_or("");
            match command.as_str() {
                "EHLO" | "HELO" => ds.last_mut().expect("non-empty").lhost = argument.to_string(),
                // The envelope sender stands in for the original's headers.
                "MAIL" if rfc822.is_empty() => {
                    rfc822 = format!("To: {}\n", address::s3s4(argument));
                }
                "RCPT" => {
                    let v = super::next_record(&mut ds);
                    v.recipient = address::s3s4(argument);
                }
                _ => {}
            }
            continue;
        }
        let Some(reply_text) = l.strip_prefix("Out:") else {
            continue;
        };
        let reply_text = reply_text.trim();
        let code: u32 = reply_text
            .get(..3)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if code < 400 {
            continue;
        }
        commands.push(command.clone());
        let v = ds.last_mut().expect("non-empty");
        if v.diagnosis.is_empty() {
            v.diagnosis = reply_text.to_string();
        }
        if v.reply.is_empty() {
            v.reply = code.to_string();
        }
        if v.status.is_empty() {
            v.status = smtp::status_find(reply_text, &code.to_string());
        }
    }
    for e in ds.iter_mut() {
        e.diagnosis = sweep(&e.diagnosis);
        e.command = commands.first().cloned().unwrap_or_default();
    }
    super::finish(ds, rfc822)
}
