//! `kairan subscribers …` (issue 3): the operator's view of the list. Output for people on
//! stdout, problems on stderr; addresses are printed to the operator (never logged).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::app::notify::{MailKind, Notifier, NotifyError};
use crate::app::ports::{Store, SubscriberQuery};
use crate::app::subscription::{self, Subscribed};
use crate::config::Loaded;
use crate::domain::{Consent, NewSubscriber, Subscriber, SubscriptionSource, parse_name};
use crate::domain::{EmailAddress, LangPref, SubscriberId, SubscriberStatus};
use crate::http::subscribers_api::SubscriberView;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add one subscriber: pending with a confirmation mail, or active with --confirmed
    Add {
        email: String,
        /// ja, en or both
        #[arg(long, value_parser = parse_lang_pref)]
        lang: LangPref,
        #[arg(long)]
        name: Option<String>,
        /// The reader's consent was obtained otherwise: active at once, no confirmation mail
        #[arg(long)]
        confirmed: bool,
    },
    /// Import a CSV file with the header `email,name,lang` (UTF-8, or Excel's Shift_JIS)
    Import {
        file: PathBuf,
        /// Active at once instead of pending with a confirmation mail
        #[arg(long)]
        confirmed: bool,
    },
    /// Export every subscriber with status, language, dates and consent records as CSV
    Export {
        /// Write to this file (owner-only) instead of stdout
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List subscribers
    List {
        #[arg(long, value_parser = parse_status)]
        status: Option<SubscriberStatus>,
        #[arg(long, value_parser = parse_lang_pref)]
        lang: Option<LangPref>,
        /// A JSON array of objects (email, name, lang, status, …)
        #[arg(long)]
        json: bool,
    },
    /// Unsubscribe an address at once
    Unsubscribe { email: String },
    /// Erase an address's personal data; only a salted hash stays, so it is never mailed again
    Erase { email: String },
}

fn parse_lang_pref(s: &str) -> Result<LangPref, String> {
    s.parse()
        .map_err(|e: crate::domain::ParseEnumError| e.to_string())
}

fn parse_status(s: &str) -> Result<SubscriberStatus, String> {
    s.parse()
        .map_err(|e: crate::domain::ParseEnumError| e.to_string())
}

pub async fn run(command: Command, loaded: &Loaded) -> anyhow::Result<ExitCode> {
    let store = crate::startup::open_store(&loaded.settings).await?;
    let result = match command {
        Command::Add {
            email,
            lang,
            name,
            confirmed,
        } => add(loaded, &store, &email, lang, name.as_deref(), confirmed).await,
        Command::Import { file, confirmed } => import(loaded, &store, &file, confirmed).await,
        Command::Export { out } => export(store.as_ref(), out.as_deref()).await,
        Command::List { status, lang, json } => list(store.as_ref(), status, lang, json).await,
        Command::Unsubscribe { email } => unsubscribe(store.as_ref(), &email).await,
        Command::Erase { email } => erase(store.as_ref(), &email).await,
    };
    store.close().await;
    result
}

async fn mailer(loaded: &Loaded, store: &Arc<dyn Store>) -> anyhow::Result<Notifier> {
    let settings = Arc::new(loaded.settings.clone());
    Ok(Notifier::new(
        settings.clone(),
        Arc::new(crate::startup::load_renderer(&settings)?),
        Arc::new(crate::app::keys::signer(&settings, store.as_ref()).await?),
        crate::mail::from_settings(&settings)?,
        store.clone(),
    ))
}

fn operator_consent(method: SubscriptionSource, confirmed: bool, now: DateTime<Utc>) -> Consent {
    Consent {
        method,
        form_at: now,
        confirmed_at: confirmed.then_some(now),
        ip: None,
        user_agent: None,
        page_lang: None,
        text_hash: None,
        text_version: None,
    }
}

async fn send_confirmation(mail: &Notifier, id: SubscriberId) -> bool {
    match mail.send_to(MailKind::Confirm, id, Utc::now()).await {
        Ok(()) => true,
        Err(NotifyError::Mail(e)) => {
            eprintln!(
                "kairan: warning: the confirmation mail to subscriber {id} was not sent: {e}"
            );
            false
        }
        Err(_) => false,
    }
}

async fn add(
    loaded: &Loaded,
    store: &Arc<dyn Store>,
    email: &str,
    lang: LangPref,
    name: Option<&str>,
    confirmed: bool,
) -> anyhow::Result<ExitCode> {
    let email =
        EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("`{email}` is not usable: {e}"))?;
    let name = parse_name(name.unwrap_or("")).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let now = Utc::now();
    let new = NewSubscriber {
        email,
        name,
        lang,
        status: if confirmed {
            SubscriberStatus::Active
        } else {
            SubscriberStatus::Pending
        },
        consent: operator_consent(SubscriptionSource::Cli, confirmed, now),
        now,
    };
    let outcome = subscription::subscribe(
        store.as_ref(),
        &new,
        loaded.settings.subscribe.resend_interval,
    )
    .await?;
    match outcome {
        Subscribed::Created { id, confirm } | Subscribed::Restarted { id, confirm } => {
            if confirm {
                let mail = mailer(loaded, store).await?;
                if send_confirmation(&mail, id).await {
                    println!("subscriber {id} added (pending); confirmation mail sent");
                } else {
                    println!("subscriber {id} added (pending)");
                }
            } else {
                println!("subscriber {id} added (active)");
            }
            println!("{id}");
            Ok(ExitCode::SUCCESS)
        }
        Subscribed::Confirmed { id } => {
            println!("subscriber {id} was pending and is now active");
            println!("{id}");
            Ok(ExitCode::SUCCESS)
        }
        Subscribed::StillPending { id, .. } => {
            anyhow::bail!("the address is already on the list (subscriber {id}, pending)")
        }
        Subscribed::Unchanged { id, status } => anyhow::bail!(
            "the address is already on the list (subscriber {id}, {status}); an unsubscribed \
             address can only come back through the subscribe form"
        ),
        Subscribed::Suppressed => anyhow::bail!(
            "the address was erased on request and is on the suppression list; only the reader \
             can subscribe it again, through the subscribe form"
        ),
    }
}

// ---- import ----------------------------------------------------------------------------

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

async fn import(
    loaded: &Loaded,
    store: &Arc<dyn Store>,
    file: &Path,
    confirmed: bool,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (text, note) =
        decode_csv(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if let Some(note) = note {
        eprintln!("{}: {note}", file.display());
    }
    let (rows, bad) = parse_csv(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let mail = if confirmed {
        None
    } else {
        Some(mailer(loaded, store).await?)
    };
    let (mut added, mut unchanged, mut suppressed, mut activated, mut mailed) = (0, 0, 0, 0, 0);
    for row in &rows {
        let now = Utc::now();
        let new = NewSubscriber {
            email: row.email.clone(),
            name: row.name.clone(),
            lang: row.lang,
            status: if confirmed {
                SubscriberStatus::Active
            } else {
                SubscriberStatus::Pending
            },
            consent: operator_consent(SubscriptionSource::Import, confirmed, now),
            now,
        };
        let outcome = subscription::subscribe(
            store.as_ref(),
            &new,
            loaded.settings.subscribe.resend_interval,
        )
        .await
        .with_context(|| {
            format!(
                "{}: line {}: storing the row failed; rows before it are loaded",
                file.display(),
                row.line
            )
        })?;
        match outcome {
            Subscribed::Created { id, confirm } | Subscribed::Restarted { id, confirm } => {
                added += 1;
                if confirm
                    && let Some(mail) = &mail
                    && send_confirmation(mail, id).await
                {
                    mailed += 1;
                }
            }
            Subscribed::Confirmed { .. } => activated += 1,
            Subscribed::StillPending { .. } | Subscribed::Unchanged { .. } => unchanged += 1,
            Subscribed::Suppressed => {
                suppressed += 1;
                eprintln!(
                    "{}: line {}: skipped: the address was erased on request (suppressed)",
                    file.display(),
                    row.line
                );
            }
        }
    }
    for b in &bad {
        eprintln!("{}: line {}: {}", file.display(), b.line, b.reason);
    }
    println!(
        "{added} added{}, {activated} activated, {unchanged} already on the list (unchanged), \
         {suppressed} erased (skipped), {} bad row{}",
        if confirmed {
            " (active)".to_owned()
        } else {
            format!(" (pending, {mailed} confirmation mails sent)")
        },
        bad.len(),
        if bad.len() == 1 { "" } else { "s" }
    );
    if bad.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "kairan: error: {} bad row{} not loaded (the good rows are loaded; fix and re-import: \
             rows already loaded are left unchanged)",
            bad.len(),
            if bad.len() == 1 { " was" } else { "s were" }
        );
        Ok(ExitCode::FAILURE)
    }
}

// ---- export / list ---------------------------------------------------------------------

async fn all_subscribers(
    store: &dyn Store,
    status: Option<SubscriberStatus>,
    lang: Option<LangPref>,
) -> anyhow::Result<Vec<Subscriber>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_subscribers(&SubscriberQuery {
                status,
                lang,
                after_id: after,
                limit: Some(1000),
            })
            .await
            .context("listing subscribers")?;
        let done = page.len() < 1000;
        after = page.last().map(|s| s.id);
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

fn ts(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The export: one row per consent record (a subscriber who opted in twice has two rows;
/// one without any record has one row with empty consent columns).
pub const EXPORT_HEADER: &[&str] = &[
    "id",
    "email",
    "name",
    "lang",
    "status",
    "source",
    "created_at",
    "confirmation_sent_at",
    "confirmed_at",
    "unsubscribed_at",
    "unsubscribe_method",
    "consent_method",
    "consent_form_at",
    "consent_confirmed_at",
    "consent_ip",
    "consent_user_agent",
    "consent_page_lang",
    "consent_text_hash",
    "consent_text_version",
];

async fn export(store: &dyn Store, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let subs = all_subscribers(store, None, None).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(EXPORT_HEADER)?;
    let mut rows = 0;
    for s in &subs {
        let consents = store
            .consents(s.id)
            .await
            .context("reading consent records")?;
        let base = vec![
            s.id.to_string(),
            s.email.to_string(),
            s.name.clone().unwrap_or_default(),
            s.lang.to_string(),
            s.status.to_string(),
            s.source.to_string(),
            ts(Some(s.created_at)),
            ts(s.confirmation_sent_at),
            ts(s.confirmed_at),
            ts(s.unsubscribed_at),
            s.unsubscribe_method.clone().unwrap_or_default(),
        ];
        let consent_cols = |c: Option<&Consent>| -> Vec<String> {
            match c {
                None => vec![String::new(); 8],
                Some(c) => vec![
                    c.method.as_str().to_owned(),
                    ts(Some(c.form_at)),
                    ts(c.confirmed_at),
                    c.ip.clone().unwrap_or_default(),
                    c.user_agent.clone().unwrap_or_default(),
                    c.page_lang.map(|l| l.to_string()).unwrap_or_default(),
                    c.text_hash.clone().unwrap_or_default(),
                    c.text_version.clone().unwrap_or_default(),
                ],
            }
        };
        if consents.is_empty() {
            let mut r = base.clone();
            r.extend(consent_cols(None));
            w.write_record(&r)?;
            rows += 1;
        }
        for c in &consents {
            let mut r = base.clone();
            r.extend(consent_cols(Some(c)));
            w.write_record(&r)?;
            rows += 1;
        }
    }
    let data = w.into_inner().context("writing CSV")?;
    match out {
        None => {
            std::io::stdout().write_all(&data)?;
        }
        Some(path) => {
            write_private(path, &data)?;
            eprintln!(
                "exported {} subscriber{} ({rows} rows) to {}",
                subs.len(),
                if subs.len() == 1 { "" } else { "s" },
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a file owner-only (it holds personal data), atomically (temporary file + rename).
fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

async fn list(
    store: &dyn Store,
    status: Option<SubscriberStatus>,
    lang: Option<LangPref>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let subs = all_subscribers(store, status, lang).await?;
    if json {
        let views: Vec<SubscriberView> = subs.into_iter().map(Into::into).collect();
        println!("{}", serde_json::to_string_pretty(&views)?);
        return Ok(ExitCode::SUCCESS);
    }
    if subs.is_empty() {
        println!("(no subscribers)");
    }
    for s in subs {
        println!(
            "{:>6}  {:<12}  {:<4}  {}  {}",
            s.id,
            s.status.as_str(),
            s.lang.as_str(),
            s.email,
            s.name.unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn find(store: &dyn Store, email: &str) -> anyhow::Result<Subscriber> {
    let parsed =
        EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("`{email}` is not usable: {e}"))?;
    store
        .subscriber_by_email(&parsed)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no subscriber with the address `{email}`"))
}

async fn unsubscribe(store: &dyn Store, email: &str) -> anyhow::Result<ExitCode> {
    let sub = find(store, email).await?;
    if subscription::unsubscribe(store, sub.id, "cli", Utc::now()).await? {
        tracing::info!(subscriber_id = sub.id.get(), "unsubscribed by the operator");
        println!("subscriber {} unsubscribed", sub.id);
    } else {
        println!(
            "subscriber {} is {}: nothing to do",
            sub.id,
            sub.status.as_str()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn erase(store: &dyn Store, email: &str) -> anyhow::Result<ExitCode> {
    let sub = find(store, email).await?;
    subscription::erase(store, &sub, Utc::now()).await?;
    tracing::info!(subscriber_id = sub.id.get(), "erased by the operator");
    println!(
        "subscriber {} erased: name, address and consent IP / user agent removed; the address \
         is suppressed (kept only as a salted hash)",
        sub.id
    );
    Ok(ExitCode::SUCCESS)
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
