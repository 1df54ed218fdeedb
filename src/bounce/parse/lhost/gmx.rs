//! GMX (`X-GMX-Antispam` header): an Exim-like text, "\"addr\":" or "<addr>"
//! lines followed by "SMTP error from remote server after RCPT command:",
//! "host: ..." and the remote reply; the original headers follow
//! "--- The header of the original message is following. ---".

use super::super::rfc3464::split_at_boundary;
use super::super::{Delivery, Rising, address, mime::Email, smtp};
use super::{current, finish, next_record, sweep_all};

/// Decodes a GMX bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    email.header("x-gmx-antispam")?;
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &["--- The header of the original message is following. ---"],
    );
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    for e in head.split('\n') {
        if !started {
            started =
                e.starts_with("This message was created automatically by mail delivery software");
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if e.find('@').is_some_and(|p| p > 1) && (e.starts_with('"') || e.starts_with('<')) {
            let v = next_record(&mut ds);
            v.recipient = address::s3s4(e.trim_matches(':'));
        } else if e.starts_with("SMTP error ") {
            current(&mut ds).command = smtp::command_find(e);
        } else if let Some(h) = e.strip_prefix("host: ") {
            current(&mut ds).rhost = h.to_string();
        } else {
            let v = current(&mut ds);
            v.diagnosis.push_str(e);
            v.diagnosis.push(' ');
        }
    }
    sweep_all(&mut ds);
    for e in ds.iter_mut() {
        if e.diagnosis.contains("delivery retry timeout exceeded") {
            e.reason = "expired".into();
        }
    }
    finish(ds, rfc822)
}
