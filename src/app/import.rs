//! Importing subscribers from a CSV file (issue 3), as a use case: decode the bytes (UTF-8,
//! or Excel's Shift_JIS), read the `email,name,lang` columns, report every bad row with its
//! line, and register each good row through `subscription::register` (so an import follows
//! exactly the rules of an operator's `add`). `kairan subscribers import` reads the file and
//! prints what happens; a web console can call the same functions.
//!
//! Depends on the domain, the ports and `app::subscription`; no adapter.

use std::collections::HashMap;

use chrono::Utc;

use super::notify::NotifyError;
use super::ports::Store;
use super::subscription::{self, Mail, Mailed, Registration, Requester, Subscribed};
use crate::domain::{EmailAddress, LangPref, SubscriberId, SubscriptionSource, parse_name};

/// Decodes a CSV file: UTF-8 (a BOM is dropped) or, failing that, Shift_JIS as Excel saves
/// "CSV (Comma delimited)" on Japanese Windows. Returns the text and a note when converted.
pub fn decode_csv(bytes: &[u8]) -> Result<(String, Option<&'static str>), String> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("the file is UTF-16 (Excel's \"Unicode Text\"); save it as \
                    \"CSV UTF-8 (Comma delimited)\" instead"
            .into());
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((text.to_owned(), None)),
        Err(utf8_error) => {
            match encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
            {
                Some(text) => Ok((text.into_owned(), Some("converted from Shift_JIS (Excel)"))),
                None => {
                    let at = utf8_error.valid_up_to();
                    let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
                    Err(format!(
                        "the file is neither UTF-8 nor Shift_JIS (first undecodable byte on line \
                         {line}); save it from Excel as \"CSV UTF-8 (Comma delimited)\""
                    ))
                }
            }
        }
    }
}

/// One good row of an import file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub line: u64,
    pub email: EmailAddress,
    pub name: Option<String>,
    pub lang: LangPref,
}

/// A row that was refused, with its line number and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub reason: String,
}

/// Parses the CSV text: the header must name `email` and `lang` (and may name `name`), in
/// any order and case. Returns the good rows and every bad one. A header problem is an error.
pub fn parse_csv(text: &str) -> Result<(Vec<ImportRow>, Vec<BadRow>), String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("cannot read the header row: {e}"))?
        .clone();
    let mut col: HashMap<&str, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.to_ascii_lowercase();
        let known = match h.as_str() {
            "email" => "email",
            "name" => "name",
            "lang" => "lang",
            other => {
                return Err(format!(
                    "line 1: unknown column `{other}`: the header must be email,name,lang"
                ));
            }
        };
        if col.insert(known, i).is_some() {
            return Err(format!("line 1: the column `{known}` appears twice"));
        }
    }
    for required in ["email", "lang"] {
        if !col.contains_key(required) {
            return Err(format!(
                "line 1: no `{required}` column: the header must be email,name,lang (found `{}`)",
                headers.iter().collect::<Vec<_>>().join(",")
            ));
        }
    }
    // Line numbers from byte offsets: csv's own line count skips blank lines, and a record's
    // position is where the reader resumed, before any blank lines it skipped.
    let line_at = |byte: u64| {
        let bytes = text.as_bytes();
        let mut end = (byte as usize).min(bytes.len());
        while end < bytes.len() && matches!(bytes[end], b'\n' | b'\r') {
            end += 1;
        }
        bytes[..end].iter().filter(|&&b| b == b'\n').count() as u64 + 1
    };
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| line_at(p.byte())).unwrap_or(0);
                bad.push(BadRow {
                    line,
                    reason: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| line_at(p.byte())).unwrap_or(0);
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != headers.len() {
            bad.push(BadRow {
                line,
                reason: format!("expected {} fields, found {}", headers.len(), record.len()),
            });
            continue;
        }
        let field = |name: &str| col.get(name).and_then(|&i| record.get(i)).unwrap_or("");
        let raw_email = field("email");
        let email = match EmailAddress::parse(raw_email) {
            Ok(e) => e,
            Err(e) => {
                bad.push(BadRow {
                    line,
                    reason: format!("email `{raw_email}`: {e}"),
                });
                continue;
            }
        };
        let name = match parse_name(field("name")) {
            Ok(n) => n,
            Err(e) => {
                bad.push(BadRow {
                    line,
                    reason: format!("name: {e}"),
                });
                continue;
            }
        };
        let raw_lang = field("lang");
        let lang = match raw_lang.to_ascii_lowercase().parse::<LangPref>() {
            Ok(l) => l,
            Err(_) => {
                bad.push(BadRow {
                    line,
                    reason: format!("lang `{raw_lang}`: expected ja, en or both"),
                });
                continue;
            }
        };
        if let Some(first) = seen.get(&email.key()) {
            bad.push(BadRow {
                line,
                reason: format!("the address already appears on line {first}"),
            });
            continue;
        }
        seen.insert(email.key(), line);
        good.push(ImportRow {
            line,
            email,
            name,
            lang,
        });
    }
    Ok((good, bad))
}

/// What loading the good rows did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    pub added: u64,
    pub activated: u64,
    pub unchanged: u64,
    pub suppressed: u64,
    /// Confirmation mails sent (pending additions).
    pub mailed: u64,
}

/// Something worth telling the operator about one row, as it happens.
#[derive(Debug)]
pub enum RowEvent<'a> {
    /// Skipped: the address was erased on request and is on the suppression list.
    Suppressed { line: u64 },
    /// Added, but its confirmation mail did not go.
    MailNotSent {
        line: u64,
        id: SubscriberId,
        error: &'a NotifyError,
    },
}

/// A row the database refused to store; the rows before it are loaded.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {source}")]
pub struct RowFailed {
    pub line: u64,
    #[source]
    pub source: anyhow::Error,
}

/// Registers each row in order: pending with a confirmation mail sent now through `mail`, or
/// active at once when `confirmed`. `on_event` hears about suppressed rows and mails that did
/// not go, as they happen. Stops at the first row the database refuses.
pub async fn load(
    store: &dyn Store,
    rows: &[ImportRow],
    confirmed: bool,
    mail: Mail<'_>,
    resend_interval: std::time::Duration,
    on_event: &mut dyn FnMut(RowEvent<'_>),
) -> Result<Loaded, RowFailed> {
    let mut done = Loaded::default();
    for row in rows {
        let reg = Registration {
            email: row.email.clone(),
            name: row.name.clone(),
            lang: row.lang,
            by: Requester::Operator {
                via: SubscriptionSource::Import,
                confirmed,
            },
        };
        let r = subscription::register(store, &reg, resend_interval, mail, Utc::now())
            .await
            .map_err(|source| RowFailed {
                line: row.line,
                source,
            })?;
        match r.outcome {
            Subscribed::Created { id, .. } | Subscribed::Restarted { id, .. } => {
                done.added += 1;
                match &r.mail {
                    Mailed::Sent(_) => done.mailed += 1,
                    Mailed::NotSent(_, error) => on_event(RowEvent::MailNotSent {
                        line: row.line,
                        id,
                        error,
                    }),
                    _ => {}
                }
            }
            Subscribed::Confirmed { .. } => done.activated += 1,
            Subscribed::StillPending { .. } | Subscribed::Unchanged { .. } => done.unchanged += 1,
            Subscribed::Suppressed => {
                done.suppressed += 1;
                on_event(RowEvent::Suppressed { line: row.line });
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_and_without_bom_and_shift_jis_decode() {
        let text = "email,name,lang\ntaro@example.jp,山田太郎,ja\n";
        assert_eq!(
            decode_csv(text.as_bytes()).unwrap(),
            (text.to_owned(), None)
        );
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(decode_csv(&bom).unwrap().0, text);
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let (decoded, note) = decode_csv(&sjis).unwrap();
        assert_eq!(decoded, text);
        assert!(note.unwrap().contains("Shift_JIS"));
        assert!(decode_csv(b"\xFF\xFEe\0").unwrap_err().contains("UTF-16"));
        let err = decode_csv(b"email,name,lang\n\x80\x80\xFF,x,ja\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let text = "Email,Name,Lang\n\
                    taro@example.jp,山田太郎,ja\n\
                    not-an-address,,en\n\
                    hana@example.jp,\"multi\nline\",en\n\
                    ken@example.jp,Ken,fr\n\
                    TARO@example.jp,,both\n\
                    short@example.jp\n\
                    \n\
                    \"quoted, name\"@example.jp,x,en\n\
                    mai@example.jp,\"Mai, Sato\",both\n";
        let (good, bad) = parse_csv(text).unwrap();
        let lines: Vec<u64> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [3, 4, 6, 7, 8, 10], "{bad:?}");
        assert!(bad[0].reason.contains("not-an-address"));
        assert!(bad[1].reason.contains("name"));
        assert!(bad[2].reason.contains("fr"));
        assert!(bad[3].reason.contains("line 2"));
        assert!(bad[4].reason.contains("expected 3 fields"));
        assert_eq!(good.len(), 2);
        assert_eq!(good[0].name.as_deref(), Some("山田太郎"));
        assert_eq!(good[1].name.as_deref(), Some("Mai, Sato"));
        assert_eq!(good[1].line, 11);
    }

    #[test]
    fn a_bad_header_is_one_clear_error() {
        assert!(
            parse_csv("mail,name\nx@y.jp,a\n")
                .unwrap_err()
                .contains("unknown column `mail`")
        );
        assert!(
            parse_csv("email,name\nx@y.jp,a\n")
                .unwrap_err()
                .contains("no `lang` column")
        );
        assert!(
            parse_csv("email,lang,lang\n")
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse_csv("lang,email\nja,x@example.jp\n").unwrap().0.len() == 1);
    }
}
