//! Trend Micro InterScan Messaging Security Suite (`From: "InterScan ...`):
//! "Sent <<< RCPT TO:<addr>" / "Received >>> 550 ..." transcript lines, or
//! "Unable to deliver message to <addr>".

use super::super::rfc3464::split_at_boundary;
use super::super::{Delivery, Rising, address, mime::Email, smtp};
use super::{current, finish, sweep_all};

/// Decodes an InterScan MSS bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.h("from").starts_with("\"InterScan")
        && !email.h("content-type").contains("InterScan")
        && !email.payload.contains(" InterScan ")
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(&email.payload, &["Content-Type: message/rfc822"]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    for e in head.split('\n') {
        if e.is_empty() {
            continue;
        }
        let p1 = e.find(" <<< ");
        let p2 = e.find(" >>> ");
        let unable = e.contains("Unable to deliver ");
        if e.find('@').is_some_and(|p| p > 1)
            && e.find(" <").is_some_and(|p| p > 1)
            && (p1.is_some_and(|p| p > 1) || p2.is_some_and(|p| p > 1) || unable)
            && let (Some(p3), Some(p4)) = (e.rfind('<'), e.rfind('>'))
            && p3 < p4
            && let Some(cr) = address::find_all(&e[p3..=p4]).into_iter().next()
        {
            let cr = address::s3s4(&cr);
            let last = current(&mut ds);
            if !last.recipient.is_empty() && !cr.contains(&last.recipient) {
                ds.push(Delivery::default());
            }
            let v = current(&mut ds);
            if unable {
                v.diagnosis = e.to_string();
            }
            v.recipient = cr;
        }
        let v = current(&mut ds);
        if e.starts_with("Sent <<< ") {
            v.command = smtp::command_find(e);
        } else if let Some(rest) = e.strip_prefix("Received >>> ") {
            v.diagnosis = rest.to_string();
        } else if p1.is_some() || p2.is_some() {
            if p2.is_some() {
                v.command = smtp::command_find(e);
            }
            if let Some(p) = e.find("<<<") {
                v.diagnosis = e[p + 3..].to_string();
            }
        }
    }
    sweep_all(&mut ds);
    for e in ds.iter_mut() {
        if e.diagnosis.contains("Unable to deliver") {
            e.reason = "userunknown".into();
        }
    }
    finish(ds, rfc822)
}
