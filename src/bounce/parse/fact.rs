//! Normalises what a format module found into the public [`Report`]: cleans
//! the error text, reconciles status and reply codes, decides the reason and
//! the hard/soft flag, and extracts the original message's headers.
//! Follows the steps of Sisimai's `fact.Rise`.

use super::notice;
use super::reason::{self, Facts};
use super::text::sweep;
use super::{
    Action, Kind, OriginalHeaders, Reason, Recipient, Report, Rising, address, mime, rhost, smtp,
};

/// Builds the report for one message.
pub fn build(email: &mime::Email, rising: Option<Rising>) -> Report {
    let mut report = Report {
        envelope_to: envelope_to(email),
        ..Default::default()
    };
    let Some(rising) = rising else { return report };
    report.original_headers = original_headers(&rising.rfc822);
    // Whether the notification reads as a delay warning, for records without a DSN action;
    // worked out once, on first need.
    let mut delay_notice: Option<bool> = None;

    for e in rising.digests {
        let recipient = address::s3s4(&e.recipient);
        let recipient = if address::is_email(&recipient) {
            Some(recipient)
        } else {
            None
        };
        if recipient.is_none() && e.reason != "feedback" {
            continue;
        }
        let mut diag = e.diagnosis.replace('\r', "");
        let mut status = e.status.clone();
        let mut reply = e.reply.clone();
        if !diag.is_empty() {
            let cs = smtp::status_find(&diag, "");
            let cr = smtp::reply_find(&diag, &cs);
            status = smtp::status_prefer(&status, &cs, &cr);
            if cr.len() == 3 {
                if reply.is_empty() {
                    reply = cr.clone();
                }
                if diag.contains(&format!("{}-", cr)) {
                    // Multi-line replies: "550-5.7.1 ... 550 5.7.1 ..." -> one text.
                    for q in ["-", " "] {
                        diag = diag.replace(&format!("{}{}{}", cr, q, cs), "");
                        diag = diag.replace(&format!("{}{}", cr, q), "");
                    }
                    if !diag.contains(&cr) {
                        diag = format!("{} {} {}", cr, cs, diag);
                    }
                }
            }
            let dl = diag.to_ascii_lowercase();
            if let (Some(p1), Some(p2)) = (dl.find("<html>"), dl.find("</html>"))
                && p1 > 0
                && p2 > p1
            {
                diag = format!("{} {}", &diag[..p1], &diag[p2 + 7..]);
            }
            diag = sweep(&diag);
        }
        let spec = if !e.spec.is_empty() {
            e.spec.clone()
        } else if e.reason != "feedback" && e.reason != "vacation" {
            "SMTP".to_string()
        } else {
            String::new()
        };
        let command = if matches!(
            e.command.as_str(),
            "HELO"
                | "EHLO"
                | "MAIL"
                | "RCPT"
                | "DATA"
                | "QUIT"
                | "RSET"
                | "NOOP"
                | "VRFY"
                | "ETRN"
                | "EXPN"
                | "HELP"
                | "AUTH"
                | "STARTTLS"
                | "XFORWARD"
                | "CONN"
        ) {
            e.command.clone()
        } else {
            String::new()
        };
        let mut facts = Facts {
            reason: e.reason.clone(),
            status: status.clone(),
            diagnosis: diag.clone(),
            spec,
            command,
            reply: reply.clone(),
            action: e.action.clone(),
        };
        if facts.reason.is_empty() || reason::should_retry(&facts.reason) {
            let domain = recipient
                .as_deref()
                .map(address::domain)
                .unwrap_or("")
                .to_ascii_lowercase();
            let mut r = reason::lda(&facts);
            if !reason::is_explicit(&r) {
                r = rhost::find(&facts, &domain, &e.rhost, &e.lhost);
            }
            if !reason::is_explicit(&r) {
                r = reason::find(&facts);
            }
            if !reason::is_explicit(&r) {
                r = if !e.reason.is_empty() {
                    e.reason.clone()
                } else if diag.is_empty() {
                    "undefined".into()
                } else {
                    "onhold".into()
                };
                if r == "undefined" && !diag.is_empty() {
                    r = "onhold".into();
                }
            }
            facts.reason = r;
        }
        let rname = facts.reason.clone();
        let mut hard = false;
        if matches!(rname.as_str(), "delivered" | "feedback" | "vacation") {
            if rname != "delivered" {
                reply.clear();
            }
        } else {
            let cv = format!("{} {}", status, diag);
            let cv = if cv.len() < 4 { String::new() } else { cv };
            hard = smtp::is_hard_bounce(&rname, &cv);
        }
        if status.is_empty() {
            let ce = format!("{} {}", reply, diag);
            let ce = if ce.len() < 4 { String::new() } else { ce };
            // Neither permanent nor temporary wording counts as permanent.
            let temporary = smtp::is_temporary(&ce);
            status = smtp::status_code(&rname, temporary);
        }
        // Keep the reply code only when its class agrees with the status.
        let s0 = status.chars().next();
        let r0 = reply.chars().next();
        if s0 != r0 {
            let cx = smtp::reply_find(&diag, &s0.map(|c| c.to_string()).unwrap_or_default());
            reply = if s0.is_some() && cx.starts_with(s0.unwrap_or(' ')) {
                cx
            } else {
                String::new()
            };
        }
        report.recipients.push(Recipient {
            address: recipient,
            status: if status.is_empty() {
                None
            } else {
                Some(status)
            },
            reason: reason_of_name(&rname),
            hard,
            diagnostic: if diag.is_empty() { None } else { Some(diag) },
            reply: if reply.is_empty() { None } else { Some(reply) },
            action: action_of(&e.action, rname.as_str(), || {
                *delay_notice
                    .get_or_insert_with(|| notice::is_delay_notice(&email.subject, &email.payload))
            }),
        });
    }
    if report.recipients.is_empty() {
        report.original_headers = OriginalHeaders::default();
        return report;
    }
    report.bounce = true;
    let all = |r: Reason| report.recipients.iter().all(|x| x.reason == r);
    report.kind = if all(Reason::Feedback) {
        Kind::Feedback
    } else if all(Reason::Vacation) {
        Kind::Vacation
    } else if all(Reason::Delivered) {
        Kind::Delivered
    } else {
        Kind::Bounce
    };
    report
}

/// The recipient's [`Action`]: the DSN field when there is one, else what the notification
/// says (a delay warning or a failure).
fn action_of(action: &str, reason: &str, delay_notice: impl FnOnce() -> bool) -> Option<Action> {
    match reason {
        "feedback" | "vacation" => return None,
        "delivered" => return Some(Action::Delivered),
        _ => {}
    }
    Some(match action.to_ascii_lowercase().as_str() {
        "delayed" => Action::Delayed,
        "delivered" | "relayed" | "expanded" => Action::Delivered,
        "" if delay_notice() => Action::Delayed,
        _ => Action::Failed,
    })
}

/// The [`Reason`] of a name the classifier chose. Every such name comes from the parser's own
/// tables (a unit test checks that each one parses), never from the message, so an unknown
/// name is a bug: debug builds (tests, the corpus run) stop on it; a release build reports it
/// as `Undefined` rather than fail the whole message.
fn reason_of_name(name: &str) -> Reason {
    match name.parse::<Reason>() {
        Ok(r) => r,
        Err(e) => {
            if cfg!(debug_assertions) {
                panic!("parser table bug: {e}");
            }
            Reason::Undefined
        }
    }
}

fn envelope_to(email: &mime::Email) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for h in ["to", "delivered-to", "x-original-to"] {
        for v in email.headers_all(h) {
            for a in address::find_all(v) {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
    }
    out
}

/// Reads the header block of the returned message.
pub fn original_headers(rfc822: &str) -> OriginalHeaders {
    let block = rfc822.trim_start_matches(['\n', ' ']);
    let block = match block.find("\n\n") {
        Some(p) => &block[..p],
        None => block,
    };
    let headers = mime::parse_header_block(block);
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let addr = |n: &str| get(n).map(|v| address::s3s4(&v)).filter(|a| !a.is_empty());
    OriginalHeaders {
        message_id: get("message-id").map(|v| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        }),
        kairan_delivery: get("x-kairan-delivery"),
        from: addr("from"),
        to: addr("to"),
        subject: get("subject"),
    }
}

#[cfg(test)]
mod tests {
    use super::{Action, action_of};

    #[test]
    fn the_dsn_action_decides_and_the_notification_only_fills_a_gap() {
        let never = || panic!("the notification is not read when the DSN says");
        assert_eq!(
            action_of("delayed", "expired", never),
            Some(Action::Delayed)
        );
        assert_eq!(
            action_of("Failed", "userunknown", never),
            Some(Action::Failed)
        );
        // "Action: expired": the sender gave up.
        assert_eq!(action_of("expired", "expired", never), Some(Action::Failed));
        assert_eq!(
            action_of("relayed", "delivered", never),
            Some(Action::Delivered)
        );
        assert_eq!(action_of("", "expired", || true), Some(Action::Delayed));
        assert_eq!(action_of("", "expired", || false), Some(Action::Failed));
        assert_eq!(action_of("", "vacation", never), None);
        assert_eq!(action_of("failed", "feedback", never), None);
    }
}
