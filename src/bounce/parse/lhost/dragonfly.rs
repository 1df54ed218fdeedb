//! DragonFly Mail Agent (dma, <https://github.com/corecode/dma>): "This is the
//! DragonFly Mail Agent ..." then "There was an error delivering your mail to
//! <addr>." and the remote reply; the original follows "Original message
//! follows.". Texts from dma's mail.c, net.c and dma.c.

use super::super::rfc3464::split_at_boundary;
use super::super::text::{contains_any, sweep};
use super::super::{Delivery, Rising, address, mime::Email, smtp};

/// Decodes a dma bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.subject.contains("Mail delivery failed")
        || !email
            .headers_all("received")
            .any(|r| r.contains(" (DragonFly Mail Agent"))
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &["Original message follows.", "Message headers follow"],
    );
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    let mut recipients = 0;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("This is the DragonFly Mail Agent ");
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if let Some(rest) = e.strip_prefix("There was an error delivering your mail to ") {
            if !ds.last().expect("non-empty").recipient.is_empty() {
                ds.push(Delivery::default());
            }
            ds.last_mut().expect("non-empty").recipient = address::s3s4(rest);
            recipients += 1;
        } else {
            let v = ds.last_mut().expect("non-empty");
            v.diagnosis.push_str(e);
            v.diagnosis.push(' ');
            if e.contains(" did not like our ") && v.rhost.is_empty() {
                let p: Vec<&str> = e.splitn(3, ' ').collect();
                v.rhost = if p[0].find('.').is_some_and(|i| i > 1) {
                    p[0].to_string()
                } else {
                    p.get(1).unwrap_or(&"").to_string()
                };
                v.command = smtp::command_find(e);
            }
        }
    }
    if recipients == 0 {
        return None;
    }
    for e in ds.iter_mut() {
        e.diagnosis = sweep(&e.diagnosis);
        if contains_any(&e.diagnosis, &["Could not deliver for the last "]) {
            e.reason = "expired".into();
        } else if contains_any(&e.diagnosis, &["DNS lookup failure: host "]) {
            e.reason = "hostunknown".into();
        }
    }
    Some(Rising {
        digests: ds,
        rfc822,
    })
}
