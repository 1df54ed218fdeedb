//! Amazon SES notifications delivered by email (SNS): a JSON document with
//! `"notificationType"` of `Bounce`, `Complaint` or `Delivery`, optionally
//! wrapped in an SNS envelope whose `"Message"` holds the escaped JSON.
//! See <https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html>.

use super::super::{Delivery, Rising, mime::Email, smtp};
use serde_json::Value;

fn ses_json(payload: &str) -> Option<Value> {
    let mut p = payload;
    // Drop the SNS footer ("--\nIf you wish to stop receiving ...").
    if let Some(i) = p.find("\n\n--\n")
        && i > 0
    {
        p = &p[..i];
    }
    let mut s = p.replace("!\n ", "");
    if s.find("\"Message\"").is_some_and(|i| i > 0) {
        // SNS envelope: "Message" : "{\"notificationType\":...}"
        s = s.replace('\\', "");
        let i = s.find("\"Message\"")?;
        let rest = s.get(i + 9..)?;
        let body = &rest[rest.find('{')?..];
        let body = &body[..body.find('\n').unwrap_or(body.len())];
        s = body.trim_end_matches(',').trim_end_matches('"').to_string();
    }
    let s = s.trim();
    if !s.contains("notificationType") || !s.starts_with('{') || !s.ends_with('}') {
        return None;
    }
    serde_json::from_str(s).ok()
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn original_headers(mail: &Value) -> String {
    let mut out = String::new();
    if let Some(hs) = mail.get("headers").and_then(Value::as_array) {
        for h in hs {
            out.push_str(&format!("{}: {}\n", text(h, "name"), text(h, "value")));
        }
    }
    if let Some(c) = mail.get("commonHeaders") {
        for (k, name) in [("date", "Date"), ("subject", "Subject")] {
            let v = text(c, k);
            if !v.is_empty() {
                out.push_str(&format!("{}: {}\n", name, v));
            }
        }
    }
    out
}

/// Decodes an Amazon SES JSON notification.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.payload.contains("notificationType") {
        return None;
    }
    let j = ses_json(&email.payload)?;
    let kind = text(&j, "notificationType");
    let mut ds: Vec<Delivery> = Vec::new();
    match kind.as_str() {
        "Bounce" => {
            let o = j.get("bounce")?;
            let reason = match text(o, "bounceSubType").as_str() {
                "Suppressed" | "OnAccountSuppressionList" => "suppressed",
                "MailboxFull" => "mailboxfull",
                "MessageTooLarge" => "mesgtoobig",
                "ContentRejected" => "contenterror",
                "AttachmentRejected" => "securityerror",
                _ => "",
            };
            for e in o.get("bouncedRecipients")?.as_array()? {
                let diagnosis = super::super::text::sweep(&text(e, "diagnosticCode"));
                let status = smtp::status_find(&text(e, "status"), "");
                ds.push(Delivery {
                    recipient: text(e, "emailAddress"),
                    command: smtp::command_find(&diagnosis),
                    action: text(e, "action"),
                    reply: smtp::reply_find(&diagnosis, &status),
                    status,
                    diagnosis,
                    date: text(o, "timestamp"),
                    lhost: text(o, "reportingMTA")
                        .trim_start_matches("dsn;")
                        .trim()
                        .to_string(),
                    reason: reason.to_string(),
                    ..Default::default()
                });
            }
        }
        "Complaint" => {
            let o = j.get("complaint")?;
            for e in o.get("complainedRecipients")?.as_array()? {
                ds.push(Delivery {
                    recipient: text(e, "emailAddress"),
                    reason: "feedback".into(),
                    feedback_type: text(o, "complaintFeedbackType"),
                    date: text(o, "timestamp"),
                    diagnosis: format!(
                        "{{\"feedbackid\":\"{}\", \"useragent\":\"{}\"}}",
                        text(o, "feedbackId"),
                        text(o, "userAgent")
                    ),
                    ..Default::default()
                });
            }
        }
        "Delivery" => {
            let o = j.get("delivery")?;
            for e in o.get("recipients")?.as_array()? {
                let diagnosis = text(o, "smtpResponse");
                ds.push(Delivery {
                    recipient: e.as_str().unwrap_or("").to_string(),
                    reason: "delivered".into(),
                    action: "delivered".into(),
                    date: text(o, "timestamp"),
                    lhost: text(o, "reportingMTA"),
                    status: smtp::status_find(&diagnosis, "2"),
                    reply: smtp::reply_find(&diagnosis, "2"),
                    diagnosis,
                    ..Default::default()
                });
            }
        }
        _ => return None,
    }
    let rfc822 = j.get("mail").map(original_headers).unwrap_or_default();
    super::finish(ds, rfc822)
}
