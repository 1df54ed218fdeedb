//! An unidentified MTA (Sisimai's "X2"): "Unable to deliver message to the
//! following address(es)." then "<addr>:" paragraphs, then "--- Original
//! message follows.".

use super::super::rfc3464::split_at_boundary;
use super::super::text::{aligned, select, starts_any, sweep};
use super::super::{Delivery, Rising, mime::Email};

/// Decodes an X2 bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.h("from").contains("MAILER-DAEMON@")
        && !starts_any(
            &email.subject,
            &["Delivery failure", "failure delivery", "failed delivery"],
        )
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(&email.payload, &["--- Original message follows."]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    let mut recipients = 0;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("Unable to deliver message to the following address");
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if e.starts_with('<') && aligned(e, &["<", "@", ">:"]) {
            if !ds.last().expect("non-empty").recipient.is_empty() {
                ds.push(Delivery::default());
            }
            ds.last_mut().expect("non-empty").recipient =
                select(e, "<", ">").unwrap_or("").to_string();
            recipients += 1;
        } else {
            let v = ds.last_mut().expect("non-empty");
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
        }
    }
    if recipients == 0 {
        return None;
    }
    for e in ds.iter_mut() {
        e.diagnosis = sweep(&e.diagnosis);
    }
    Some(Rising {
        digests: ds,
        rfc822,
    })
}
