//! Sendmail (8.x) DSNs: the human-readable part carries "----- Transcript of
//! session follows -----" with ">>> RCPT To:<...>" / "<<< 550 ..." lines that
//! say which command failed and what the remote host answered; the
//! delivery-status part carries the per-recipient fields. The text before the
//! transcript ("The original message was received at ...") is boilerplate and
//! is left out of the diagnosis.

use super::super::rfc3464::{parse_fields, split_at_boundary};
use super::super::text::{select, starts_any, sweep};
use super::super::{Rising, address, mime::Email, smtp};

/// Decodes a sendmail DSN.
pub fn inquire(email: &Email) -> Option<Rising> {
    let subject = &email.subject;
    let by_subject = starts_any(
        subject,
        &[
            "Returned mail: ",
            "Warning: could not send message",
            "Postmaster notify",
            "Postmaster warning",
        ],
    );
    if !by_subject && !email.h("from").contains("Mail Delivery Subsystem") {
        return None;
    }
    let payload = &email.payload;
    if !payload.contains("Content-Type: message/delivery-status") {
        return None;
    }
    if !payload.contains("----- Transcript of session follows -----")
        && !payload.contains("----- The following addresses had")
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        payload,
        &[
            "Content-Type: message/rfc822",
            "Content-Type: text/rfc822-headers",
        ],
    );
    let ds_at = head.find("Content-Type: message/delivery-status")?;
    let (human, dsn) = head.split_at(ds_at);

    // Walk the transcript: ">>> CMD" sets the command, "<<< reply" lines
    // accumulate, and a "550 ... <addr>... text" line closes the error for
    // that recipient.
    let mut per_rcpt: Vec<(String, String, String)> = Vec::new();
    let mut transcript = String::new();
    let mut pending = String::new();
    let mut command = String::new();
    let mut in_transcript = false;
    for e in human.split('\n') {
        if e.contains("----- Transcript of session follows -----") {
            in_transcript = true;
            continue;
        }
        if !in_transcript || e.trim().is_empty() {
            continue;
        }
        if let Some(rest) = e.strip_prefix(">>> ") {
            let c = smtp::command_find(&rest.to_ascii_uppercase());
            if !c.is_empty() {
                command = c;
            }
            continue;
        }
        let line = e.trim_start_matches("<<< ");
        transcript.push_str(line);
        transcript.push(' ');
        if !e.starts_with("<<< ")
            && let Some(a) = select(e, "<", ">...")
        {
            let addr = address::s3s4(a);
            // The remote host's own words ("<<<" lines) beat sendmail's summary.
            let text = if pending.trim().is_empty() {
                line.to_string()
            } else {
                pending.clone()
            };
            per_rcpt.push((addr, command.clone(), sweep(&text)));
            pending.clear();
        } else if e.starts_with("<<< ") {
            pending.push_str(line);
            pending.push(' ');
        }
    }
    let transcript = sweep(&transcript);
    let dsn = fill_final_recipients(dsn, &listed_addresses(human));
    let mut rising = parse_fields(&dsn, rfc822, true)?;
    for d in rising.digests.iter_mut() {
        let mine = per_rcpt
            .iter()
            .find(|(a, _, _)| a.eq_ignore_ascii_case(&d.recipient));
        let text = mine
            .map(|m| m.2.clone())
            .unwrap_or_else(|| transcript.clone());
        // parse_fields saw no human text here, so the diagnosis is the field.
        if d.diagnosis.is_empty()
            || (!text.is_empty()
                && text
                    .to_ascii_lowercase()
                    .contains(&d.diagnosis.to_ascii_lowercase()))
        {
            d.diagnosis = text;
        }
        if let Some(m) = mine.filter(|m| !m.1.is_empty()) {
            d.command = m.1.clone();
        } else if mine.is_none() && !command.is_empty() {
            d.command = command.clone();
        }
        if d.command.is_empty() {
            d.command = smtp::command_find(&d.diagnosis);
        }
        if d.reply.is_empty() {
            d.reply = smtp::reply_find(&d.diagnosis, &d.status);
        }
    }
    Some(rising)
}

/// Addresses listed under "----- The following addresses had ... -----".
fn listed_addresses(human: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for e in human.split('\n') {
        if e.contains("----- The following addresses had") {
            inside = true;
            continue;
        }
        if e.contains("-----") {
            inside = false;
        }
        if inside && e.starts_with('<') {
            let a = address::s3s4(e);
            if address::is_email(&a) && !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// A `Final-Recipient:` without a usable address ("RFC822; @host") takes the
/// address listed at the same position in the human-readable part.
fn fill_final_recipients(dsn: &str, listed: &[String]) -> String {
    if listed.is_empty() {
        return dsn.to_string();
    }
    let mut out = String::with_capacity(dsn.len());
    let mut nth = 0;
    for line in dsn.split('\n') {
        if super::super::text::starts_with_ci(line, "final-recipient:") {
            let v = address::s3s4(&line[16..]);
            if !address::is_email(&v)
                && let Some(a) = listed.get(nth)
            {
                out.push_str("Final-Recipient: rfc822; ");
                out.push_str(a);
                out.push('\n');
                nth += 1;
                continue;
            }
            nth += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.pop();
    out
}
