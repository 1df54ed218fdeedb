//! fml mailing list manager (`X-MLServer` header, `From: ...-admin@`,
//! `Message-ID: ...FML...`): a notice naming the address in angle brackets,
//! then "Original mail as follows:". The reason comes from the notice text
//! or the subject ("NOT MEMBER article from ...", "Loop Alert: ...").

use super::super::rfc3464::split_at_boundary;
use super::super::text::select;
use super::super::{Delivery, Rising, mime::Email};
use super::{current, finish, next_record, reason_of, sweep_all};

const ERROR_TABLE: &[(&str, &[&str])] = &[
    (
        "rejected",
        &[
            " header may cause mail loop",
            "NOT MEMBER article from ",
            "reject mail from ",
            "reject spammers:",
            "You are not a member of this mailing list",
        ],
    ),
    ("securityerror", &["Security alert:"]),
    (
        // fml detects mail loops by seeing the same Message-ID twice.
        "systemerror",
        &[
            " has detected a loop condition so that",
            "Loop Back Warning:",
            "Duplicated Message-ID",
        ],
    ),
];

const ERROR_TITLE: &[(&str, &[&str])] = &[
    (
        "rejected",
        &[
            " are not member",
            "NOT MEMBER article from ",
            "reject mail ",
            "Spam mail from a spammer is rejected",
        ],
    ),
    (
        "systemerror",
        &[
            "fml system error message",
            "Loop Alert: ",
            "Loop Back Warning: ",
            "WARNING: UNIX FROM Loop",
        ],
    ),
    ("securityerror", &["Security Alert"]),
];

/// Decodes an fml notice.
pub fn inquire(email: &Email) -> Option<Rising> {
    email.header("x-mlserver")?;
    if email.h("from").find("-admin@").is_none_or(|p| p < 1)
        || email.h("message-id").find(".FML").is_none_or(|p| p < 2)
    {
        return None;
    }
    let (head, rfc822) = split_at_boundary(&email.payload, &["Original mail as follows:"]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    for e in head.split('\n') {
        if e.is_empty() {
            continue;
        }
        if let Some(cv) = select(e, "<", ">").filter(|c| !c.is_empty()) {
            let v = next_record(&mut ds);
            v.recipient = cv.to_string();
            v.diagnosis = e.to_string();
        } else {
            current(&mut ds).diagnosis.push_str(e);
        }
    }
    sweep_all(&mut ds);
    for e in ds.iter_mut() {
        e.reason = reason_of(ERROR_TABLE, &e.diagnosis).to_string();
        if e.reason.is_empty() {
            e.reason = reason_of(ERROR_TITLE, &email.subject).to_string();
        }
    }
    finish(ds, rfc822)
}
