//! RFC 3834 automatic responses (vacation / out-of-office replies). The
//! "recipient" is the address that sent the auto-reply. Approach after
//! Sisimai's `rfc3834` package.

use super::text::{contains_any, starts_any, sweep};
use super::{Delivery, Rising, address, mime::Email};

/// Decodes an auto-reply.
pub fn inquire(email: &Email) -> Option<Rising> {
    let from = email.h("from").to_ascii_lowercase();
    let to = email.h("to").to_ascii_lowercase();
    let subject = email.subject.to_ascii_lowercase();
    if contains_any(&from, &["root@", "postmaster@", "mailer-daemon@"])
        || to.contains("root@")
        || contains_any(&subject, &["security information for", "mail failure -"])
    {
        return None;
    }
    const SUBJECTS: &[&str] = &[
        "auto:",
        "auto response:",
        "automatic reply:",
        "out of office:",
        "out of the office:",
    ];
    let auto = starts_any(
        &email.h("auto-submitted").to_ascii_lowercase(),
        &["auto-generated", "auto-replied", "auto-notified"],
    ) || email
        .h("precedence")
        .to_ascii_lowercase()
        .starts_with("auto_reply")
        || starts_any(&subject, SUBJECTS)
        || email
            .h("x-apple-action")
            .to_ascii_lowercase()
            .starts_with("vacation");
    if !auto {
        return None;
    }
    let recipient = ["from", "return-path"]
        .iter()
        .map(|h| address::s3s4(email.h(h)))
        .find(|a| address::is_email(a))?;
    let body: Vec<&str> = email
        .payload
        .split('\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut diag = String::new();
    for l in body.iter().take(200) {
        if !l.starts_with("--") {
            diag.push_str(l);
            diag.push(' ');
        }
    }
    let mut rfc822 = String::new();
    if let Some(p) = email.subject.find(": ")
        && contains_any(&subject, SUBJECTS)
    {
        rfc822.push_str(&format!("Subject: {}\n", sweep(&email.subject[p + 2..])));
    }
    rfc822.push_str(&format!("To: <{}>\n", recipient));
    let d = Delivery {
        recipient,
        diagnosis: sweep(&diag),
        reason: "vacation".into(),
        date: email.h("date").to_string(),
        ..Default::default()
    };
    Some(Rising {
        digests: vec![d],
        rfc822,
    })
}
