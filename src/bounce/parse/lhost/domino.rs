//! HCL (formerly IBM/Lotus) Domino, subject "DELIVERY FAILURE: ...":
//! "Your message ... was not delivered to: <addr> because: <reason>",
//! sometimes followed by RFC 3464 fields.

use super::super::rfc3464::split_at_boundary;
use super::super::text::aligned;
use super::super::{Delivery, Rising, address, mime::Email};
use super::{current, dsn_field, finish};

const MESSAGES_OF: &[(&str, &[&str])] = &[
    ("filtered", &["Cannot route mail to user"]),
    (
        "systemerror",
        &["Several matches found in Domino Directory"],
    ),
    (
        "userunknown",
        &[
            "not listed in Domino Directory",
            "not listed in public Name & Address Book",
            "no se encuentra en el Directorio de Domino",
            "non répertorié dans l'annuaire Domino",
            "Domino ディレクトリには見つかりません",
        ],
    ),
];

/// The same "not listed" message in encodings that were not decoded
/// (ISO-8859-1, ISO-2022-JP), matched piece by piece.
const USERUNKNOWN_RAW: &[&[&str]] = &[
    &["non r", "pertori", "dans l'annuaire Domino"],
    &["%f!<%6!<", "%G%#%l%/%H%j$K$O8+$D$+$j$^$;$s!#"],
];

/// Decodes a Domino bounce.
pub fn inquire(email: &Email) -> Option<Rising> {
    if !email.subject.starts_with("DELIVERY FAILURE:")
        && !email.subject.contains("DELIVERY_FAILURE")
    {
        return None;
    }
    let (head, mut rfc822) = split_at_boundary(&email.payload, &["Content-Type: message/rfc822"]);
    let mut ds: Vec<Delivery> = vec![Delivery::default()];
    let mut started = false;
    let mut subject = String::new();
    let mut waiting = false; // after "was not delivered to:"
    let mut because = false; // after "because:"
    for e in head.split('\n') {
        if !started {
            started = e.starts_with("Your message");
            continue;
        }
        if e.is_empty() {
            continue;
        }
        if e == "was not delivered to:" {
            if !current(&mut ds).recipient.is_empty() {
                ds.push(Delivery::default());
            }
            waiting = true;
        } else if waiting
            && e.starts_with("  ")
            && e.find('@').is_some_and(|p| p > 0)
            && !e.get(3..).unwrap_or("").contains(' ')
        {
            current(&mut ds).recipient = address::s3s4(&e[2..]);
            waiting = false;
        } else if e == "because:" {
            because = true;
        } else if because {
            current(&mut ds).diagnosis = e.to_string();
            because = false;
        } else if let Some(s) = e.strip_prefix("  Subject: ") {
            subject = s.to_string();
        } else {
            // Other RFC 3464 fields; a Diagnostic-Code does not replace the
            // text already read after "because:".
            let v = current(&mut ds);
            let keep = v.diagnosis.clone();
            dsn_field(v, e);
            if !keep.is_empty() {
                v.diagnosis = keep;
            }
        }
    }
    for e in ds.iter_mut() {
        e.diagnosis = super::super::text::sweep(&e.diagnosis);
        e.reason = super::reason_of(MESSAGES_OF, &e.diagnosis).to_string();
        if e.reason.is_empty() && USERUNKNOWN_RAW.iter().any(|p| aligned(&e.diagnosis, p)) {
            e.reason = "userunknown".into();
        }
    }
    if rfc822.trim().is_empty() {
        let to = ds.first().map(|d| d.recipient.clone()).unwrap_or_default();
        rfc822 = format!("To: <{}>\nSubject: {}\n", to, subject);
    }
    finish(ds, rfc822)
}
