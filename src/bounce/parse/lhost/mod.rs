//! One module per MTA family whose bounces do not follow RFC 3464 (or hide
//! the useful parts outside the delivery-status fields). Each module's
//! `inquire` returns `None` when the message is not in its format.
//!
//! Which modules are tried first depends on the bounce's `Subject:`, as in
//! Sisimai's `lhost/order.go`.

pub mod activehunter;
pub mod amazonses;
pub mod apachejames;
pub mod biglobe;
pub mod domino;
pub mod dragonfly;
pub mod einsundeins;
pub mod exchange2003;
pub mod exchange2007;
pub mod exim;
pub mod ezweb;
pub mod fml;
pub mod gmail;
pub mod gmx;
pub mod googlegroups;
pub mod imailserver;
pub mod interscanmss;
pub mod kddi;
pub mod mailfoundry;
pub mod mailmarshalsmtp;
pub mod mfilter;
pub mod notes;
pub mod office365;
pub mod opensmtpd;
pub mod postfix;
pub mod qmail;
pub mod sendmail;
pub mod v5sendmail;
pub mod verizon;
pub mod x1;
pub mod x2;
pub mod x3;
pub mod x6;
pub mod zoho;

use super::mime::Email;
use super::text::{select, sweep};
use super::{Delivery, Rising, address, rfc3464};

/// A format decoder.
pub type Inquire = fn(&Email) -> Option<Rising>;

/// Decoder by name.
pub fn by_name(name: &str) -> Option<Inquire> {
    let f: Inquire = match name {
        "Exim" => exim::inquire,
        "Postfix" => postfix::inquire,
        "Sendmail" => sendmail::inquire,
        "IMailServer" => imailserver::inquire,
        "OpenSMTPD" => opensmtpd::inquire,
        "X2" => x2::inquire,
        "Zoho" => zoho::inquire,
        "Exchange2003" => exchange2003::inquire,
        "GoogleGroups" => googlegroups::inquire,
        "V5sendmail" => v5sendmail::inquire,
        "DragonFly" => dragonfly::inquire,
        "Gmail" => gmail::inquire,
        "qmail" => qmail::inquire,
        "Activehunter" => activehunter::inquire,
        "AmazonSES" => amazonses::inquire,
        "ApacheJames" => apachejames::inquire,
        "Biglobe" => biglobe::inquire,
        "Domino" => domino::inquire,
        "EinsUndEins" => einsundeins::inquire,
        "Exchange2007" => exchange2007::inquire,
        "EZweb" => ezweb::inquire,
        "FML" => fml::inquire,
        "GMX" => gmx::inquire,
        "InterScanMSS" => interscanmss::inquire,
        "KDDI" => kddi::inquire,
        "MailFoundry" => mailfoundry::inquire,
        "MailMarshalSMTP" => mailmarshalsmtp::inquire,
        "mFILTER" => mfilter::inquire,
        "Notes" => notes::inquire,
        "Office365" => office365::inquire,
        "Verizon" => verizon::inquire,
        "X1" => x1::inquire,
        "X3" => x3::inquire,
        "X6" => x6::inquire,
        _ => return None,
    };
    Some(f)
}

const DEFAULT_ORDER: &[&str] = &[
    "Exim",
    "Sendmail",
    "Office365",
    "Exchange2007",
    "Exchange2003",
    "InterScanMSS",
    "KDDI",
    "FML",
    "Verizon",
    "AmazonSES",
    "ApacheJames",
    "X2",
    "Postfix",
    "OpenSMTPD",
    "qmail",
    "Courier",
    "MessagingServer",
    "GoogleWorkspace",
    "Gmail",
    "GMX",
    "Zoho",
    "Domino",
    "Notes",
    "IMailServer",
    "mFILTER",
    "Activehunter",
    "MailFoundry",
    "GoogleGroups",
    "MailMarshalSMTP",
    "V5sendmail",
    "EZweb",
    "Biglobe",
    "EinsUndEins",
    "DragonFly",
    "X1",
    "X3",
    "X6",
];

/// The order in which format modules are tried, from the first two words of
/// the bounce's subject.
pub fn order_by_subject(subject: &str) -> Vec<&'static str> {
    let t: String = subject
        .chars()
        .map(|c| if matches!(c, '[' | ']' | '_') { ' ' } else { c })
        .collect();
    let t = t
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let words: Vec<&str> = t.splitn(3, ' ').collect();
    let first = if let Some(w) = words
        .first()
        .and_then(|w| w.find(':').filter(|&p| p > 0).map(|p| &w[..p]))
    {
        w.to_string()
    } else {
        words.iter().take(2).copied().collect::<Vec<_>>().join("-")
    };
    let first: String = first
        .chars()
        .filter(|c| !matches!(c, ':' | ',' | '*' | '"'))
        .collect();
    let head: &[&str] = match first.as_str() {
        "abuse-report" | "complaint-about" | "dmarc-ietf-dmarc" | "email-feedback" => {
            return vec!["ARF"];
        }
        "auto" | "auto-reply" | "automatic-reply" => return vec!["RFC3834"],
        "aws-notification" => &["AmazonSES"],
        "delivery-failure" => &["Domino", "X2"],
        "delivery-notification" => &["MessagingServer"],
        "delivery-status" => &[
            "OpenSMTPD",
            "GoogleWorkspace",
            "Gmail",
            "GoogleGroups",
            "AmazonSES",
            "X3",
        ],
        "failed-delivery" | "failure-delivery" => &["X2"],
        "failure-notice" => &["qmail", "mFILTER", "Activehunter"],
        "loop-alert" => &["FML"],
        "mail-could" => &["InterScanMSS"],
        "mail-delivery" => &["Exim", "DragonFly", "GMX", "Zoho", "EinsUndEins"],
        "mail-failure" | "message-frozen" => &["Exim"],
        "mail-system" => &["EZweb"],
        "message-delivery" => &["MailFoundry"],
        "non-recapitabile" | "non-remis" => &["Exchange2007"],
        "notice" => &["Courier"],
        "postmaster-notify" => &["Sendmail"],
        "returned-mail" => &["Sendmail", "Biglobe", "V5sendmail", "X1"],
        "there-was" => &["X6"],
        "undeliverable" => &["Office365", "Exchange2007", "Exchange2003"],
        "undeliverable-mail" => &["MailMarshalSMTP", "IMailServer"],
        "undeliverable-message" => &["Notes", "Verizon"],
        "undelivered-mail" => &["Postfix", "Zoho"],
        "warning" => &["Sendmail", "Exim"],
        _ => &[],
    };
    let mut out: Vec<&'static str> = head.to_vec();
    for d in DEFAULT_ORDER {
        if !out.contains(d) {
            out.push(d);
        }
    }
    out
}

/// The record to fill next: the last one while it has no recipient yet,
/// otherwise a new one appended to `ds`.
pub fn next_record(ds: &mut Vec<Delivery>) -> &mut Delivery {
    if ds.last().is_none_or(|d| !d.recipient.is_empty()) {
        ds.push(Delivery::default());
    }
    ds.last_mut().expect("non-empty")
}

/// The record being filled (creates one when `ds` is empty).
pub fn current(ds: &mut Vec<Delivery>) -> &mut Delivery {
    if ds.is_empty() {
        ds.push(Delivery::default());
    }
    ds.last_mut().expect("non-empty")
}

/// Value of the first `To:` header line of the returned message, or "".
pub fn original_to(rfc822: &str) -> String {
    let padded = format!("\n{}", rfc822);
    let v = select(&padded, "\nTo:", "\n").unwrap_or("");
    address::s3s4(v)
}

/// True when any `Received:` header of the bounce contains `needle`.
pub fn received_contains(email: &Email, needle: &str) -> bool {
    email.headers_all("received").any(|v| v.contains(needle))
}

/// Reads one RFC 3464 field line into `v`: the recipient (a valid
/// `Final-Recipient` wins over an address read from the text), the diagnostic code (appended) and the other fields. Returns
/// false when the line is not such a field.
pub fn dsn_field(v: &mut Delivery, e: &str) -> bool {
    if rfc3464::field_kind(e) == 0 {
        return false;
    }
    let Some(o) = rfc3464::field(e) else {
        return true;
    };
    match o.group {
        "addr" => {
            if o.name == "final-recipient" {
                let cv = address::s3s4(&o.value);
                if address::is_email(&cv) {
                    v.recipient = cv;
                }
            } else {
                v.alias = address::s3s4(&o.value);
            }
        }
        "code" => {
            v.spec = o.kind.clone();
            v.diagnosis.push(' ');
            v.diagnosis.push_str(&o.value);
        }
        _ => rfc3464::apply(v, &o),
    }
    true
}

/// Moves the diagnosis of every record through [`sweep`].
pub fn sweep_all(ds: &mut [Delivery]) {
    for d in ds.iter_mut() {
        d.diagnosis = sweep(&d.diagnosis);
    }
}

/// The first reason of `table` whose phrases occur in `text`, or "".
pub fn reason_of(table: &[(&'static str, &[&str])], text: &str) -> &'static str {
    table
        .iter()
        .find(|(_, p)| p.iter().any(|x| text.contains(x)))
        .map(|(r, _)| *r)
        .unwrap_or("")
}

/// Keeps only records with a recipient; `None` when there is none.
pub fn finish(ds: Vec<Delivery>, rfc822: String) -> Option<Rising> {
    let ds: Vec<Delivery> = ds.into_iter().filter(|d| !d.recipient.is_empty()).collect();
    if ds.is_empty() {
        return None;
    }
    Some(Rising {
        digests: ds,
        rfc822,
    })
}
