//! Microsoft Office 365 / Exchange Online NDRs (`X-MS-Exchange-*` headers,
//! `*.prod.outlook.com` hosts): "Delivery has failed to these recipients or
//! groups:" with "addr<mailto:addr>" lines (or "Original Message Details"
//! with "Recipient Address:"), "Diagnostic information for administrators:"
//! with "Remote Server returned '550 5.1.10 ...'", then RFC 3464 fields.
//! The enhanced status code names the reason.

use super::super::rfc3464::{field, field_kind, split_at_boundary};
use super::super::text::{select, starts_any, sweep};
use super::super::{Delivery, Rising, address, mime::Email, smtp};
use super::{current, finish, next_record};

fn outlook_host(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.contains(".outbound.protection.outlook.com") || l.contains(".prod.outlook.com")
}

fn reason_of_status(s: &str) -> &'static str {
    let Some((head, third)) = s.rsplit_once('.') else {
        return "";
    };
    let n: u32 = third.parse().unwrap_or(u32::MAX);
    match (head, n) {
        ("4.4", 7) | ("4.4", 316) | ("5.4", 316) => "expired",
        ("4.4", 312) | ("5.4", 6) | ("5.4", 312) | ("5.7", 25) => "networkerror",
        ("4.7", 26) | ("5.7", 509) => "authfailure",
        ("4.7", 500..=699) | ("4.7", 850..=899) => "blocked",
        ("5.0", 350) | ("5.6", 11) => "contenterror",
        ("5.1", 10) => "userunknown",
        ("5.4", 1) => "norelaying",
        ("5.7", 1) | ("5.7", 12) | ("5.7", 13) | ("5.7", 124) | ("5.7", 133..=136) => "rejected",
        ("5.7", 511) => "rejected",
        ("5.7", 23) | ("5.7", 506) | ("5.7", 507) | ("5.7", 606..=649) => "blocked",
        ("5.7", 501..=503) => "spamdetected",
        ("5.7", 504) | ("5.7", 505) => "filtered",
        ("5.7", 508) | ("5.7", 700..=749) => "toomanyconn",
        ("5.7", 510) => "notaccept",
        ("5.7", 512) => "policyviolation",
        ("5.7", 57) => "securityerror",
        _ => "",
    }
}

const EOE: &[&str] = &[
    "Original message headers",
    "Original Message Headers",
    "Original message Headers",
    "Original Message headers",
    "Message Hops",
    "Oorspronkelijke berichtkoppen:",
];
const LHOST: &[&str] = &[
    "Generating server: ",
    "Bronserver: ",
    "Servidor de origem: ",
];
const ERROR: &[&str] = &[
    "Diagnostic information for administrators:",
    "Error Details",
    "Diagnostische gegevens voor beheerders:",
];

fn is_message_start(e: &str) -> bool {
    starts_any(
        e,
        &[
            "Delivery has failed to these recipients or groups:",
            "Original Message Details",
            "Falha na entrega a estes destinat",
            "Uw bericht kan niet worden bezorgd bij de volgende geadresseerden of groepen:",
        ],
    ) || (e.contains(" rejected your message to the following e")
        && (e.ends_with("email addresses:") || e.ends_with("e-mail addresses:")))
}

/// Decodes an Office 365 NDR.
pub fn inquire(email: &Email) -> Option<Rising> {
    let s = &email.subject;
    let mut score = ["Undeliverable:", "Onbestelbaar:", "Não_entregue:"]
        .iter()
        .filter(|p| s.contains(*p))
        .count();
    for h in [
        "x-ms-exchange-message-is-ndr",
        "x-microsoft-antispam-prvs",
        "x-exchange-antispam-report-test",
        "x-exchange-antispam-report-cfa-test",
        "x-ms-exchange-crosstenant-originalarrivaltime",
        "x-ms-exchange-crosstenant-fromentityheader",
        "x-ms-exchange-transport-crosstenantheadersstamped",
    ] {
        score += email.header(h).is_some() as usize;
    }
    score += email.headers_all("received").any(outlook_host) as usize;
    score += outlook_host(email.h("message-id")) as usize;
    if score < 2 {
        return None;
    }
    let (head, rfc822) = split_at_boundary(
        &email.payload,
        &["Content-Type: message/rfc822", "Original message headers:"],
    );
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    let mut end_of_error = false;
    let mut lhost = String::new();
    for e in head.split('\n') {
        if !started {
            started = is_message_start(e);
            continue;
        }
        if e.is_empty() {
            continue;
        }
        // "kijitora@example.com<mailto:kijitora@example.com>"
        // The address as displayed comes first; the mailto: link repeats it.
        let mailto = e
            .find("<mailto:")
            .filter(|&p| p > 0 && e[..p].contains('@') && e.ends_with('>'))
            .map(|p| {
                let shown = e[..p].split([' ', '(']).next().unwrap_or("");
                if address::is_email(shown) {
                    shown
                } else {
                    &e[p + 8..e.len() - 1]
                }
            })
            .filter(|a| a.contains('@'));
        let listed = e
            .strip_prefix("Recipient Address:")
            .map(str::trim)
            .filter(|a| !a.is_empty());
        if let Some(a) = mailto.or(listed) {
            next_record(&mut ds).recipient = a.to_string();
            continue;
        }
        if let Some(h) = LHOST.iter().find_map(|p| e.strip_prefix(p)) {
            lhost = h.trim().to_ascii_lowercase();
            continue;
        }
        let v = current(&mut ds);
        if end_of_error {
            if field_kind(e) == 0 {
                continue;
            }
            let Some(o) = field(e) else { continue };
            if !v.diagnosis.is_empty()
                && (o.name == "diagnostic-code" || o.name == "final-recipient")
            {
                continue;
            }
            match o.name.as_str() {
                "diagnostic-code" => v.diagnosis = o.value.clone(),
                "final-recipient" | "original-recipient" | "x-actual-recipient" => {}
                _ => super::super::rfc3464::apply(v, &o),
            }
        } else if starts_any(e, ERROR) {
            v.diagnosis = e.to_string();
        } else if !v.diagnosis.is_empty() {
            if starts_any(e, EOE) {
                end_of_error = true;
                continue;
            }
            v.diagnosis.push(' ');
            v.diagnosis.push_str(e);
        } else if e.starts_with("Content-Type: message/delivery-status") {
            end_of_error = true;
        }
    }
    for e in ds.iter_mut() {
        if e.lhost.is_empty() {
            e.lhost = lhost.clone();
        }
        e.diagnosis = sweep(&e.diagnosis);
        if e.status.is_empty() || e.status.ends_with(".0.0") {
            let found = smtp::status_find(&e.diagnosis, "");
            if !found.is_empty() {
                e.status = found;
            }
        }
        if let Some(after) = select(
            &e.diagnosis,
            "unknown recipient or mailbox unavailable ->",
            "",
        ) && after.contains('@')
        {
            e.command = "RCPT".into();
        }
        let r = reason_of_status(&e.status);
        if !r.is_empty() {
            e.reason = r.to_string();
        }
    }
    finish(ds, rfc822)
}
