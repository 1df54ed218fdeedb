//! `kairan subscribers …` (issue 3): the operator's view of the list. Output for people on
//! stdout, problems on stderr; addresses are printed to the operator (never logged).
//!
//! Each command calls a use case of `app::subscription` / `app::import`; the export and the
//! table are formatted here.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::app::import::{self, RowEvent};
use crate::app::notify::{Notifier, NotifyError};
use crate::app::ports::{Store, SubscriberQuery};
use crate::app::subscription::{
    self, Mail, Mailed, Registration, Requester, Subscribed, SubscriberView,
};
use crate::config::Loaded;
use crate::domain::{
    Consent, EmailAddress, LangPref, Subscriber, SubscriberId, SubscriberStatus,
    SubscriptionSource, parse_name,
};

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
    /// Import a CSV file (UTF-8, or Excel's Shift_JIS) with the columns email, name, lang
    /// (English or Japanese header names are recognised; map others with --map)
    Import {
        file: PathBuf,
        /// Active at once instead of pending with a confirmation mail
        #[arg(long)]
        confirmed: bool,
        /// Which field a column holds, by its header: COLUMN=email|name|lang|ignore
        /// (repeatable), e.g. --map 'メールアドレス=email' --map 'Tags=ignore'
        #[arg(long = "map", value_name = "COLUMN=FIELD", value_parser = parse_choice)]
        map: Vec<import::ColumnChoice>,
        /// Show how the first rows would be read with this mapping, and load nothing
        #[arg(long)]
        preview: bool,
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

fn parse_choice(s: &str) -> Result<import::ColumnChoice, String> {
    s.parse()
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
        Command::Import {
            file,
            confirmed,
            map,
            preview,
        } => import(loaded, &store, &file, confirmed, &map, preview).await,
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
        crate::startup::lease_owner().as_str(),
    ))
}

/// The foreground mail for an operator's pending additions; none for confirmed ones (no
/// confirmation can be due, and no signing key needs reading).
async fn mail_for(
    loaded: &Loaded,
    store: &Arc<dyn Store>,
    confirmed: bool,
) -> anyhow::Result<Option<Notifier>> {
    Ok(if confirmed {
        None
    } else {
        Some(mailer(loaded, store).await?)
    })
}

fn mode(notifier: &Option<Notifier>) -> Mail<'_> {
    notifier.as_ref().map_or(Mail::Never, Mail::Now)
}

fn warn_not_sent(id: SubscriberId, e: &NotifyError) {
    match e {
        NotifyError::Mail {
            reason,
            queued: true,
        } => eprintln!(
            "kairan: warning: the confirmation mail to subscriber {id} was not sent yet: \
             {reason}; it stays queued and `kairan serve` retries it"
        ),
        NotifyError::Mail { reason, .. } => eprintln!(
            "kairan: warning: the confirmation mail to subscriber {id} was not sent: {reason}"
        ),
        NotifyError::Store(e) => eprintln!(
            "kairan: warning: the confirmation mail to subscriber {id} is queued, but sending \
             it now failed: {e}; `kairan serve` sends it"
        ),
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
    let reg = Registration {
        email,
        name,
        lang,
        by: Requester::Operator {
            via: SubscriptionSource::Cli,
            confirmed,
        },
    };
    let notifier = mail_for(loaded, store, confirmed).await?;
    let done = subscription::register(
        store.as_ref(),
        &reg,
        loaded.settings.subscribe.resend_interval,
        mode(&notifier),
        Utc::now(),
    )
    .await?;
    match done.outcome {
        Subscribed::Created { id, confirm } | Subscribed::Restarted { id, confirm } => {
            if confirm {
                match &done.mail {
                    Mailed::Sent(_) => {
                        println!("subscriber {id} added (pending); confirmation mail sent")
                    }
                    Mailed::Later(_) => {
                        println!("subscriber {id} added (pending); confirmation mail queued")
                    }
                    other => {
                        if let Mailed::NotSent(_, e) = other {
                            warn_not_sent(id, e);
                        }
                        println!("subscriber {id} added (pending)");
                    }
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

async fn import(
    loaded: &Loaded,
    store: &Arc<dyn Store>,
    file: &Path,
    confirmed: bool,
    map: &[import::ColumnChoice],
    preview: bool,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (text, note) =
        import::decode_csv(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if let Some(note) = note {
        eprintln!("{}: {note}", file.display());
    }
    if preview {
        let p = import::preview(&text, map, 10)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        for (h, f) in p.mapping.headers.iter().zip(&p.mapping.fields) {
            println!("column `{h}` -> {}", f.as_str());
        }
        for r in &p.rows {
            match &r.result {
                Ok(row) => println!(
                    "line {}: {}  {}  {}",
                    r.line,
                    row.email,
                    row.lang,
                    row.name.as_deref().unwrap_or("")
                ),
                Err(reason) => println!("line {}: bad: {reason}", r.line),
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (rows, bad) =
        import::parse_mapped(&text, map).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let notifier = mail_for(loaded, store, confirmed).await?;
    let show_progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let done = import::load(
        store.as_ref(),
        &rows,
        confirmed,
        mode(&notifier),
        &mut |event| match event {
            RowEvent::Suppressed { line } => eprintln!(
                "{}: line {line}: skipped: the address was erased on request (suppressed)",
                file.display()
            ),
            RowEvent::MailNotSent { id, error, .. } => warn_not_sent(id, error),
        },
        &mut |p| {
            if show_progress {
                eprint!("\r{} / {} rows", p.done, p.total);
                if p.done == p.total {
                    eprintln!();
                }
            }
        },
    )
    .await
    .map_err(|e| {
        e.source.context(format!(
            "{}: line {}: storing the rows from this line on failed; rows before it are loaded",
            file.display(),
            e.line
        ))
    })?;
    for b in &bad {
        eprintln!("{}: line {}: {}", file.display(), b.line, b.reason);
    }
    println!(
        "{} added{}, {} activated, {} already on the list (unchanged), \
         {} erased (skipped), {} bad row{}",
        done.added,
        if confirmed {
            " (active)".to_owned()
        } else {
            format!(" (pending, {} confirmation mails sent)", done.mailed)
        },
        done.activated,
        done.unchanged,
        done.suppressed,
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
