//! Bounce-message parser: reads one raw email and reports whether it is a
//! bounce (or a feedback report, auto-reply, or success notice) and, for each
//! failed recipient, the address, RFC 3463 status, reason, hard/soft flag,
//! diagnostic text and SMTP reply code.
//!
//! Layout:
//! - [`mime`] decodes the message into headers and one flat text payload;
//! - [`lhost`] holds one small module per MTA family for non-standard formats;
//! - [`rfc3464`] reads delivery-status parts, [`arf`] feedback reports,
//!   [`rfc3834`] auto-replies;
//! - [`fallback`] reads free-text bounces that none of those recognise, with
//!   [`notice`] telling the notification from the returned original and delays from
//!   failures;
//! - [`fact`] normalises what those found, [`reason`] and [`rhost`] classify.
//!
//! The rules are modelled on Sisimai (<https://libsisimai.org/>), whose
//! format knowledge and reason phrase lists this module reimplements in Rust.
//! Sisimai is Copyright (C) azumakuniyuki and the sisimai development team,
//! distributed under the BSD 2-Clause License.

pub mod address;
pub mod arf;
pub mod fact;
pub mod fallback;
pub mod lhost;
pub mod mime;
pub mod notice;
pub mod reason;
pub mod rfc3464;
pub mod rfc3834;
pub mod rhost;
pub mod smtp;
pub mod text;

use serde::Serialize;

/// What kind of message this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A delivery failure (or delay) report.
    Bounce,
    /// An abuse/complaint report (ARF, RFC 5965).
    Feedback,
    /// An automatic reply (RFC 3834).
    Vacation,
    /// A success DSN.
    Delivered,
    /// Anything else.
    #[default]
    NotBounce,
}

pub use crate::domain::Reason;

/// What happened to the message for one recipient, after RFC 3464's `Action` field: a
/// delay notice ("still being retried") is not a failure, and a policy records it without
/// counting it against the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Delivery failed (a bounce).
    Failed,
    /// Delivery has not succeeded yet and is still being retried.
    Delayed,
    /// Delivered, relayed or expanded: a success notice.
    Delivered,
}

impl Action {
    /// The lower-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
        }
    }
}

/// One failed (or reported) recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Recipient {
    /// The recipient address, when the report names one.
    pub address: Option<String>,
    /// RFC 3463 enhanced status code ("5.1.1"); Sisimai-style pseudo codes
    /// ("5.0.911") when the message carries none; `None` for feedback and
    /// auto-replies.
    pub status: Option<String>,
    /// Why delivery failed.
    pub reason: Reason,
    /// Hard bounce: the address itself is bad (user/host unknown, moved,
    /// permanent not-accept). Policy, content and quota failures are soft.
    pub hard: bool,
    /// The error text, cleaned up.
    pub diagnostic: Option<String>,
    /// The SMTP reply code ("550"), when found.
    pub reply: Option<String>,
    /// Failed, delayed or delivered; `None` for complaints and auto-replies, which are not
    /// about a delivery.
    pub action: Option<Action>,
}

/// Headers of the returned original message, for attribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct OriginalHeaders {
    /// `Message-ID` of the original message, without angle brackets.
    pub message_id: Option<String>,
    /// Value of the original `X-Kairan-Delivery` header.
    pub kairan_delivery: Option<String>,
    /// Original `From` address.
    pub from: Option<String>,
    /// Original `To` address.
    pub to: Option<String>,
    /// Original `Subject`.
    pub subject: Option<String>,
}

/// The parse result for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Report {
    /// True when the message is a delivery report of any kind (failure,
    /// complaint, auto-reply or success notice); `kind` tells which.
    pub bounce: bool,
    /// The reported recipients.
    pub recipients: Vec<Recipient>,
    /// What kind of report this is.
    pub kind: Kind,
    /// `To`, `Delivered-To` and `X-Original-To` addresses of the bounce
    /// itself (where a VERP return path lands).
    pub envelope_to: Vec<String>,
    /// Headers of the returned message.
    pub original_headers: OriginalHeaders,
}

/// One recipient as found by a format module, before normalisation.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub action: String,
    pub alias: String,
    pub command: String,
    pub date: String,
    pub diagnosis: String,
    pub feedback_type: String,
    pub lhost: String,
    pub reason: String,
    pub recipient: String,
    pub reply: String,
    pub rhost: String,
    pub spec: String,
    pub status: String,
}

/// What a format module returns: recipients plus the original message text
/// (at least its headers).
#[derive(Debug, Clone, Default)]
pub struct Rising {
    pub digests: Vec<Delivery>,
    pub rfc822: String,
}

/// Parses one raw email. Never panics; unknown input gives a not-bounce report.
pub fn parse(raw: &[u8]) -> Report {
    let mut email = mime::decode(raw);
    mime::unforward(&mut email);
    let rising = detect(&email);
    fact::build(&email, rising)
}

fn detect(email: &mime::Email) -> Option<Rising> {
    let order = lhost::order_by_subject(&email.subject);
    let skip_lhost = matches!(order.first(), Some(&"ARF") | Some(&"RFC3834"));
    if !skip_lhost {
        for name in &order {
            if let Some(f) = lhost::by_name(name)
                && let Some(r) = f(email)
                && !r.digests.is_empty()
            {
                return Some(r);
            }
        }
    }
    rfc3464::inquire(email)
        .or_else(|| arf::inquire(email))
        .or_else(|| rfc3834::inquire(email))
        .or_else(|| fallback::inquire(email))
}

#[cfg(test)]
mod tests {
    use super::Reason;
    use std::path::{Path, PathBuf};

    /// Every `.rs` file of this module, recursively.
    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read parser sources") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// String literals made of lower-case ASCII letters only (the shape of a reason name),
    /// each with the source text just before and just after it.
    fn word_literals(src: &str) -> Vec<(&str, &str, &str)> {
        let b = src.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'"' && (i == 0 || b[i - 1] != b'\\') {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j].is_ascii_lowercase() {
                    j += 1;
                }
                if j < b.len() && b[j] == b'"' && j > start {
                    out.push((&src[..i], &src[start..j], &src[j + 1..]));
                    i = j + 1;
                    continue;
                }
            }
            i += 1;
        }
        out
    }

    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row.clone();
            std::mem::swap(&mut row, &mut prev);
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                row[j + 1] = (prev[j + 1] + 1)
                    .min(row[j] + 1)
                    .min(prev[j] + usize::from(ca != *cb));
            }
        }
        row[b.len()]
    }

    /// Word literals that are not reasons although they sit where one could: the LDA table's
    /// agent names key rows like reasons do, and "delivery" is an ordinary word.
    const NOT_REASONS: &[&str] = &[
        "dovecot", "procmail", "maildrop", "vpopmail", "vmailmgr", "delivery",
    ];

    /// The reason tables (phrase tables, status-code maps, per-MTA rules) name reasons as
    /// text; the report turns them into [`Reason`] with a strict parse. A name in a table row
    /// or assigned to a `reason` must parse, and no word literal anywhere in the parser may be
    /// a near miss of a reason name (a typo that would otherwise only show as a wrong reason).
    #[test]
    fn every_reason_name_in_the_parser_tables_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bounce/parse");
        let mut files = Vec::new();
        sources(&dir, &mut files);
        assert!(
            files.len() > 30,
            "parser sources not found in {}",
            dir.display()
        );
        let mut checked = 0;
        let mut bad = Vec::new();
        for f in &files {
            let src = std::fs::read_to_string(f).expect("read source");
            // This test's own examples are typos on purpose.
            let src = match src.find("#[cfg(test)]\nmod tests") {
                Some(p) if f.ends_with("parse/mod.rs") => &src[..p],
                _ => &src[..],
            };
            for (before, word, after) in word_literals(src) {
                if NOT_REASONS.contains(&word) {
                    continue;
                }
                let before = before.trim_end();
                let after = after.trim_start();
                // `("reason", &["phrase", …])`.
                let table_row = before.ends_with('(')
                    && after.starts_with(',')
                    && after[1..]
                        .trim_start()
                        .strip_prefix("&[")
                        .is_some_and(|rest| rest.trim_start().starts_with('"'));
                let assigned = ["reason =", "reason:", "reason ==", "reason !="]
                    .iter()
                    .any(|p| before.ends_with(p));
                let parses = word.parse::<Reason>().is_ok();
                if table_row || assigned {
                    checked += 1;
                    if !parses {
                        bad.push(format!("{}: {word:?} is not a reason", f.display()));
                    }
                } else if !parses
                    && let Some(r) = Reason::ALL.iter().find(|r| {
                        r.as_str().len().abs_diff(word.len()) <= 1
                            && distance(word, r.as_str()) <= 2
                    })
                {
                    bad.push(format!(
                        "{}: {word:?} looks like a typo of {r}",
                        f.display()
                    ));
                }
            }
        }
        assert!(
            checked > 100,
            "only {checked} reason names found: the scan is broken"
        );
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn the_scan_catches_a_typo() {
        let lits =
            word_literals(r#"const T: &[(&str, &[&str])] = &[("userunknwon", &["no user"])];"#);
        assert_eq!(lits.len(), 1);
        assert_eq!(lits[0].1, "userunknwon");
        assert!(lits[0].1.parse::<Reason>().is_err());
        assert_eq!(distance("userunknwon", "userunknown"), 2);
    }
}
