//! Google Groups rejections ("We're writing to let you know that the group you
//! tried to contact ... may not exist, or you may not have permission to post").
//! The failed address is in `X-Failed-Recipients`.

use super::super::rfc3464::split_at_boundary;
use super::super::text::sweep;
use super::super::{Delivery, Rising, address, mime::Email};

/// Decodes a Google Groups bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.payload.contains("Google Groups") || email.header("x-google-smtp-source").is_none() {
        return None;
    }
    let failed = email.header("x-failed-recipients")?;
    if !email.h("from").contains("<mailer-daemon@googlemail.com>")
        || !email.subject.contains("Delivery Status Notification")
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &[
            "----- Original message -----",
            "Content-Type: message/rfc822",
        ],
    );
    let mut chunks: Vec<&str> = head.splitn(5, "\n\n").collect();
    if let Some(last) = chunks.last_mut() {
        *last = "";
    }
    let diag = sweep(&chunks.join(" ").replace('\n', " "));
    // The four bullet points explain a posting permission refusal.
    let reason = if head.matches("\n *").count() == 4 || head.matches("\n*").count() == 4 {
        "rejected"
    } else {
        "onhold"
    };
    let ds: Vec<Delivery> = failed
        .split(',')
        .map(address::s3s4)
        .filter(|a| address::is_email(a))
        .map(|a| Delivery {
            recipient: a,
            reason: reason.into(),
            diagnosis: diag.clone(),
            ..Default::default()
        })
        .collect();
    if ds.is_empty() {
        return None;
    }
    Some(Rising {
        digests: ds,
        rfc822,
    })
}
