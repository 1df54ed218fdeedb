//! RFC 3464 delivery status notifications: the `message/delivery-status` part
//! with its per-message and per-recipient fields (RFC 1894 field names plus
//! common extensions such as `X-Actual-Recipient`).
//!
//! Besides the fields, the human-readable part that precedes them is kept:
//! with a single recipient it often states the problem better than the
//! `Diagnostic-Code:` field does. Approach after Sisimai's `rfc3464` package.

use super::text::{starts_any, sweep};
use super::{Delivery, Rising, address, mime::Email, smtp};

/// A parsed DSN field line.
#[derive(Debug, Default, Clone)]
pub struct Field {
    /// Lower-cased field name ("final-recipient").
    pub name: String,
    /// Upper-cased type before ';' ("RFC822", "SMTP", "DNS").
    pub kind: String,
    /// The value after the type.
    pub value: String,
    /// "addr", "code", "date", "host", "list", "stat" or "text".
    pub group: &'static str,
    /// Parenthesised comment removed from the value.
    pub comment: String,
}

fn label(line: &str) -> Option<String> {
    let p = line.find(':')?;
    if p == 0 {
        return None;
    }
    Some(line[..p].to_ascii_lowercase())
}

/// 0: not a DSN field, 1: per-message field, 2: per-recipient field.
pub fn field_kind(line: &str) -> u8 {
    let Some(l) = label(line) else { return 0 };
    let needs = |c: &str| line.contains(c);
    match l.as_str() {
        "arrival-date" if needs(":") => 1,
        "received-from-mta" | "reporting-mta" if needs(";") => 1,
        "x-original-message-id" if needs("@") => 1,
        "action" if needs("e") => 2,
        "diagnostic-code" | "remote-mta" if needs(";") => 2,
        // "Final-Recipient: <addr>" without the address type is common enough.
        "final-recipient" | "original-recipient" | "x-actual-recipient"
            if needs(";") || needs("@") =>
        {
            2
        }
        "last-attempt-date" if needs(":") => 2,
        "status" if needs(".") => 2,
        _ => 0,
    }
}

/// Parses a DSN field line into its parts.
pub fn field(line: &str) -> Option<Field> {
    if line.len() < 7 {
        return None;
    }
    let (name, rest) = line.split_once(':')?;
    let name = name.to_ascii_lowercase();
    let group = match name.as_str() {
        "original-recipient" | "final-recipient" | "x-actual-recipient" => "addr",
        "diagnostic-code" => "code",
        "arrival-date" | "last-attempt-date" => "date",
        "received-from-mta" | "remote-mta" | "reporting-mta" => "host",
        "action" => "list",
        "status" => "stat",
        _ => return None,
    };
    let rest = rest.trim();
    let mut f = Field {
        name,
        group,
        ..Default::default()
    };
    match group {
        "addr" | "code" | "host" => {
            if let Some((k, v)) = rest.split_once(';') {
                f.kind = k.trim().to_ascii_uppercase();
                f.value = v.trim().to_string();
            } else {
                f.value = rest.to_string();
                f.kind = match group {
                    "addr" => "RFC822",
                    "code" => "SMTP",
                    _ => "DNS",
                }
                .to_string();
            }
            if group == "host" {
                f.value = f.value.to_ascii_lowercase();
            }
        }
        "list" => {
            let v = rest.to_ascii_lowercase();
            let v = v.split_whitespace().next().unwrap_or("").to_string();
            f.value = match v.as_str() {
                // "expired" (SendGrid and others) means the sender gave up retrying: a
                // failure, classified like a delay (reason "expired").
                "failed" | "delayed" | "delivered" | "relayed" | "expanded" | "expired" => v,
                "deliverable" => "delivered".into(),
                "failure" => "failed".into(),
                _ => String::new(),
            };
        }
        "date" => f.value = rest.to_string(),
        _ => f.value = rest.to_ascii_lowercase(),
    }
    if group != "code"
        && let Some(p) = f.value.find(" (")
        && f.value[p..].contains(')')
    {
        let inner = &f.value[p + 2..];
        f.comment = inner[..inner.find(')').unwrap_or(inner.len())].to_string();
        f.value.truncate(p);
    }
    if group == "stat" {
        // "5.1.1 (user unknown)" or "5.1.1 user unknown": keep the code only.
        let code = f.value.split_whitespace().next().unwrap_or("").to_string();
        if code.len() < f.value.len() && f.comment.is_empty() {
            f.comment = f.value[code.len()..].trim().to_string();
        }
        f.value = code;
    }
    Some(f)
}

/// Stores a non-address field into a delivery record.
pub fn apply(d: &mut Delivery, f: &Field) {
    match f.name.as_str() {
        "action" => d.action = f.value.clone(),
        "arrival-date" | "last-attempt-date" => d.date = f.value.clone(),
        "status" => d.status = f.value.clone(),
        "remote-mta" | "received-from-mta" => d.rhost = f.value.clone(),
        "reporting-mta" => d.lhost = f.value.clone(),
        _ => {}
    }
}

fn get_member(d: &Delivery, name: &str) -> bool {
    match name {
        "action" => !d.action.is_empty(),
        "arrival-date" | "last-attempt-date" => !d.date.is_empty(),
        "status" => !d.status.is_empty(),
        "remote-mta" | "received-from-mta" => !d.rhost.is_empty(),
        "reporting-mta" => !d.lhost.is_empty(),
        _ => true,
    }
}

/// Splits the payload at the first of `boundaries`: (bounce part, original message).
pub fn split_at_boundary(payload: &str, boundaries: &[&str]) -> (String, String) {
    let mut best: Option<(usize, usize)> = None;
    for b in boundaries {
        if let Some(p) = payload.find(b)
            && best.is_none_or(|(q, _)| p < q)
        {
            best = Some((p, b.len()));
        }
    }
    match best {
        Some((p, l)) => {
            let after = &payload[p + l..];
            // Skip the rest of the boundary line.
            let after = match after.find('\n') {
                Some(n) => &after[n + 1..],
                None => "",
            };
            (
                payload[..p].to_string(),
                after.trim_start_matches('\n').to_string(),
            )
        }
        None => (payload.to_string(), String::new()),
    }
}

const BOUNDARIES: &[&str] = &[
    "Content-Type: message/rfc822",
    "Content-Type: text/rfc822-headers",
    "Content-Type: message/partial",
    "Content-Disposition: inline",
];
const DS_START: &str = "Content-Type: message/delivery-status";

/// Decodes a bounce carrying RFC 3464 fields.
pub fn inquire(email: &Email) -> Option<Rising> {
    let mut payload = email.payload.clone();
    if !BOUNDARIES.iter().any(|b| payload.contains(b))
        && let Some(p) = payload.find("\n\nReturn-Path:")
    {
        payload.insert_str(p + 2, "Content-Type: message/rfc822\n");
    }
    let (mut head, mut rfc822) = split_at_boundary(&payload, BOUNDARIES);
    if !head.contains('@') {
        // The DSN itself sits inside the attached message (forwarded bounces).
        for b in BOUNDARIES {
            let key = format!("{}\n", b);
            if let Some(p0) = payload.find(&key) {
                let cx = &payload[p0 + key.len()..];
                if let Some(p2) = cx.find("\n\n") {
                    let cv = &cx[p2 + 2..];
                    let (h, r) = split_at_boundary(cv, &[b]);
                    head = h;
                    rfc822 = r;
                }
                break;
            }
        }
    }
    if !head.contains(DS_START)
        && let Some(p) = head
            .find("\n\nReporting-MTA:")
            .or_else(|| head.find("\n\nReporting-mta:"))
    {
        head.insert_str(p + 2, "Content-Type: message/delivery-status\n");
    }
    if !head.contains(DS_START)
        && !head.contains("Final-Recipient:")
        && !head.contains("Final-recipient:")
    {
        // No delivery-status part at all.
        let low = head.to_ascii_lowercase();
        if !low.contains("final-recipient:") {
            return None;
        }
    }
    parse_fields(&head, rfc822, true)
}

/// Reads DSN fields (and the human-readable text before them) from `head`.
/// With `need_start`, fields are read only after the delivery-status marker
/// (or the first `Reporting-MTA`/`Final-Recipient` line when it is missing).
pub fn parse_fields(head: &str, rfc822: String, need_start: bool) -> Option<Rising> {
    let mut dscontents: Vec<Delivery> = vec![Delivery::default()];
    let mut buffers: Vec<String> = vec![String::new()];
    let mut permessage: Vec<Field> = Vec::new();
    let mut leadin = String::new();
    let mut recipients = 0usize;
    let mut in_ds = !need_start;
    let mut in_diag = false;
    let has_marker = head.contains(DS_START);

    for line in head.split('\n') {
        let e = line.trim_end();
        if !in_ds {
            if e.starts_with(DS_START) {
                in_ds = true;
                continue;
            }
            if !has_marker
                && field_kind(e) > 0
                && (super::text::starts_with_ci(e, "reporting-mta")
                    || super::text::starts_with_ci(e, "final-recipient"))
            {
                in_ds = true;
            } else {
                if e.is_empty()
                    || starts_any(
                        e,
                        &[
                            "Content-",
                            "This is a MIME",
                            "This is a multi",
                            "This is an auto",
                            "This multi-part",
                            "###",
                            "***",
                            "--",
                        ],
                    )
                    || e.contains("--- The follow")
                    || e.contains("--- Transcript")
                {
                    continue;
                }
                if leadin.len() < 16 * 1024 {
                    leadin.push_str(e);
                    leadin.push(' ');
                }
                continue;
            }
        }
        if e.is_empty() {
            in_diag = false;
            continue;
        }
        let kind = field_kind(e);
        if kind > 0 {
            in_diag = false;
            let Some(o) = field(e) else { continue };
            let vi = dscontents.len() - 1;
            if o.group == "addr" {
                if o.name == "final-recipient" {
                    let cv = address::s3s4(&o.value);
                    if !address::is_email(&cv) {
                        continue;
                    }
                    if dscontents[vi].recipient == cv {
                        continue;
                    }
                    if !dscontents[vi].recipient.is_empty() {
                        dscontents.push(Delivery::default());
                        buffers.push(String::new());
                    }
                    let v = dscontents.last_mut().expect("non-empty");
                    v.recipient = cv;
                    recipients += 1;
                } else {
                    dscontents[vi].alias = address::s3s4(&o.value);
                }
            } else if o.group == "code" {
                dscontents[vi].spec = o.kind.clone();
                let b = buffers.last_mut().expect("non-empty");
                b.push_str(&o.value);
                b.push(' ');
                in_diag = true;
            } else {
                // "(permanent failure)" after a Status: is error text; a time
                // zone name after a date is not.
                if !o.comment.is_empty() && o.group != "date" {
                    let b = buffers.last_mut().expect("non-empty");
                    b.push(' ');
                    b.push_str(&o.comment);
                    b.push(' ');
                }
                apply(&mut dscontents[vi], &o);
                if kind == 1 {
                    permessage.retain(|p| p.name != o.name);
                    permessage.push(o);
                }
            }
        } else if in_diag && (line.starts_with(' ') || line.starts_with('\t')) {
            let b = buffers.last_mut().expect("non-empty");
            b.push(' ');
            b.push_str(&sweep(e));
        } else {
            in_diag = false;
            if let Some((name, value)) = e.split_once(": ")
                && name.starts_with("X-")
            {
                x_field(dscontents.last_mut().expect("non-empty"), name, value);
                continue;
            }
            if e.starts_with("Content-") || e.starts_with("--") {
                continue;
            }
            if leadin.len() < 16 * 1024 {
                leadin.push_str(e);
                leadin.push(' ');
            }
        }
    }
    if recipients == 0 && address::is_email(&dscontents[0].alias) {
        dscontents[0].recipient = dscontents[0].alias.clone();
        recipients = 1;
    }
    if recipients == 0 {
        return None;
    }
    if dscontents.last().is_some_and(|d| d.recipient.is_empty()) {
        dscontents.pop();
        buffers.pop();
    }

    let beforemesg = sweep(&leadin);
    let alt_command = smtp::command_find(&beforemesg);
    let alt_reply = smtp::reply_find(&beforemesg, &dscontents[0].status);
    let alt_status = smtp::status_find(&beforemesg, &alt_reply);
    let issued = beforemesg.to_ascii_lowercase();

    for (j, e) in dscontents.iter_mut().enumerate() {
        for p in &permessage {
            if !get_member(e, &p.name) {
                apply(e, p);
            }
        }
        e.diagnosis = sweep(buffers.get(j).map(|s| s.as_str()).unwrap_or(""));
        if recipients == 1 && !beforemesg.is_empty() {
            let lowered = e.diagnosis.to_ascii_lowercase();
            if issued.contains(&lowered) {
                e.diagnosis = beforemesg.clone();
            } else {
                e.diagnosis = sweep(&format!("{} {}", beforemesg, e.diagnosis));
            }
        }
        e.command = smtp::command_find(&e.diagnosis);
        if e.command.is_empty() {
            e.command = alt_command.clone();
        }
        e.reply = smtp::reply_find(&e.diagnosis, &e.status);
        if e.reply.is_empty() {
            e.reply = alt_reply.clone();
        }
        if e.status.is_empty() {
            e.status = smtp::status_find(&e.diagnosis, &e.reply);
        }
        if e.status.is_empty() {
            e.status = alt_status.clone();
        }
    }
    Some(Rising {
        digests: dscontents,
        rfc822,
    })
}

/// MTA-specific `X-` fields inside delivery-status parts.
fn x_field(d: &mut Delivery, name: &str, value: &str) {
    // PowerMTA: "X-PowerMTA-BounceCategory: bad-mailbox".
    if name.eq_ignore_ascii_case("X-PowerMTA-BounceCategory") {
        let r = match value.trim() {
            "bad-domain" => "hostunknown",
            "bad-mailbox" => "userunknown",
            "inactive-mailbox" => "disabled",
            "message-expired" => "expired",
            "no-answer-from-host" => "networkerror",
            "policy-related" => "policyviolation",
            "quota-issues" => "mailboxfull",
            "routing-errors" => "systemerror",
            "spam-related" => "spamdetected",
            _ => "",
        };
        if !r.is_empty() && r != "disabled" {
            d.reason = r.to_string();
        } else if r == "disabled" {
            d.reason = "suspend".into();
        }
    }
}
