//! Microsoft Exchange Server 2003 (and the older Internet Mail Service):
//! "Your message ... did not reach the following recipient(s):", lines like
//! "user@example.com on <date>" and an "MSEXCH:...(000C05A6) Unknown
//! Recipient" line whose hex code names the failure.

use super::super::rfc3464::split_at_boundary;
use super::super::text::{aligned, select, starts_any, sweep};
use super::super::{Delivery, Rising, mime::Email, smtp};

/// Decodes an Exchange 2003 bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    let mut ok = email.header("x-ms-embedded-report").is_some();
    let xm = email.h("x-mailer");
    ok |= xm.starts_with("Internet Mail Service (")
        || xm.starts_with("Microsoft Exchange Server Internet Mail Connector");
    ok |= email
        .h("x-mimeole")
        .starts_with("Produced By Microsoft Exchange");
    ok |= email
        .headers_all("received")
        .any(|r| r.contains(" with Internet Mail Service ("));
    if !ok {
        return None;
    }
    let (head, mut rfc822) = split_at_boundary(&email.payload, &["Content-Type: message/rfc822"]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut another: Vec<String> = vec![String::new()];
    let mut msexch: Vec<bool> = vec![false];
    let mut started = false;
    let mut status_done = false;
    let mut conn: [String; 3] = Default::default();
    let mut connvalues = 0;
    let mut recipients = 0;
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("Your message");
            continue;
        }
        if status_done {
            continue;
        }
        if connvalues == 3 {
            if aligned(e, &["@", " on "]) {
                if !ds.last().expect("non-empty").recipient.is_empty() {
                    ds.push(Delivery::default());
                    another.push(String::new());
                    msexch.push(false);
                }
                let l = e.to_ascii_lowercase();
                let cv = match select(&l, ":smtp=", "; on ") {
                    Some(c) => c.to_string(),
                    None => e[..e.find(" on ").unwrap_or(e.len())]
                        .trim_start()
                        .to_string(),
                };
                ds.last_mut().expect("non-empty").recipient = cv;
                recipients += 1;
                *msexch.last_mut().expect("non-empty") = false;
            } else if e.starts_with(' ') && e.contains("MSEXCH:") {
                ds.last_mut()
                    .expect("non-empty")
                    .diagnosis
                    .push_str(e.trim_start());
            } else {
                if *msexch.last().expect("non-empty") {
                    continue;
                }
                let v = ds.last_mut().expect("non-empty");
                if v.diagnosis.starts_with("MSEXCH:") {
                    *msexch.last_mut().expect("non-empty") = true;
                    status_done = true;
                    v.diagnosis.push(' ');
                    v.diagnosis.push_str(e);
                } else {
                    let a = another.last_mut().expect("non-empty");
                    a.push(' ');
                    a.push_str(e);
                }
            }
        } else if starts_any(e, &["  To:  ", "      To: "]) && conn[0].is_empty() {
            conn[0] = e
                .split_once("To:")
                .map(|x| x.1.trim().to_string())
                .unwrap_or_default();
            connvalues += 1;
        } else if starts_any(e, &["      Subject: ", "  Subject: "]) && conn[1].is_empty() {
            conn[1] = e
                .split_once("Subject:")
                .map(|x| x.1.trim().to_string())
                .unwrap_or_default();
            connvalues += 1;
        } else if starts_any(e, &["  Sent: ", "      Sent: "]) && conn[2].is_empty() {
            conn[2] = e
                .split_once("Sent:")
                .map(|x| x.1.trim().to_string())
                .unwrap_or_default();
            connvalues += 1;
        }
    }
    if recipients == 0 {
        return None;
    }
    const CODES: &[(&str, &[&str])] = &[
        ("userunknown", &["000C05A6"]),
        ("filtered", &["000C0595"]),
        ("systemerror", &["00010256", "000D06B5"]),
        ("networkerror", &["00120270"]),
        ("contenterror", &["00050311", "000502CC"]),
        ("securityerror", &["000B0981"]),
        ("onhold", &["000B099C", "000B09AA", "000B09B6"]),
    ];
    for (j, e) in ds.iter_mut().enumerate() {
        e.diagnosis = sweep(&e.diagnosis);
        if aligned(&e.diagnosis, &["MSEXCH:", "(", ")"]) {
            let code = select(&e.diagnosis, "(", ")").unwrap_or("").to_string();
            let msg = select(&e.diagnosis, ") ", "").unwrap_or("").to_string();
            if let Some((r, _)) = CODES.iter().find(|(_, c)| c.contains(&code.as_str())) {
                e.reason = (*r).to_string();
                e.status = smtp::status_code(r, false);
            }
            e.diagnosis = msg;
        }
        if !e.reason.is_empty() || another[j].is_empty() {
            continue;
        }
        e.diagnosis = sweep(&format!("{} {}", another[j], e.diagnosis));
    }
    if rfc822.is_empty() {
        rfc822 = format!("To: {}\nSubject: {}\nDate: {}\n", conn[0], conn[1], conn[2]);
    }
    Some(Rising {
        digests: ds,
        rfc822,
    })
}
