//! `kairan users …` and `kairan audit` (issue 14): console accounts from the command line.
//! `add` and `reset` print the one-time setup link alone on the last line (and queue it by
//! mail through the outbox, sent at once when the mail server answers); `token` prints a
//! personal API token once. Each calls a use case of `app::accounts`, acting as `cli:<user>`
//! in the audit log.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;

use crate::app::accounts::{self, AccountError, Actor, users::Invited};
use crate::app::notify::{Notifier, NotifyError};
use crate::app::ports::Store;
use crate::config::Loaded;
use crate::domain::Role;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an account and print its one-time setup link (valid 48 h; also mailed)
    Add {
        email: String,
        /// admin or editor
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        name: Option<String>,
    },
    /// List accounts
    List {
        /// A JSON array of objects (id, email, name, role, state, totp, created_at)
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: its sessions end and its tokens stop working at once
    Disable { email: String },
    /// New setup link for an account; its password, 2FA and every session are revoked
    Reset { email: String },
    /// Create a personal API token for an account (printed once)
    Token {
        email: String,
        #[arg(long)]
        name: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: crate::domain::ParseEnumError| e.to_string())
}

pub async fn run(command: Command, loaded: &Loaded) -> anyhow::Result<ExitCode> {
    let store = crate::startup::open_store(&loaded.settings).await?;
    let result = match command {
        Command::Add { email, role, name } => {
            add(loaded, &store, &email, role, name.as_deref()).await
        }
        Command::List { json } => list(store.as_ref(), json).await,
        Command::Disable { email } => {
            let changed =
                accounts::users::disable(store.as_ref(), &email, &Actor::cli(), Utc::now()).await;
            match changed {
                Ok(true) => {
                    println!("disabled; its sessions ended");
                    Ok(ExitCode::SUCCESS)
                }
                Ok(false) => {
                    println!("already disabled");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => refused(e),
            }
        }
        Command::Reset { email } => reset(loaded, &store, &email).await,
        Command::Token { email, name } => {
            match accounts::tokens::create(store.as_ref(), &email, &name, &Actor::cli(), Utc::now())
                .await
            {
                Ok(token) => {
                    eprintln!("the token is shown once; store it now");
                    println!("{token}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => refused(e),
            }
        }
    };
    store.close().await;
    result
}

fn refused(e: AccountError) -> anyhow::Result<ExitCode> {
    match e {
        AccountError::Store(e) => Err(anyhow::Error::new(e)),
        other => {
            eprintln!("kairan: error: {other}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn notifier(loaded: &Loaded, store: &Arc<dyn Store>) -> anyhow::Result<Notifier> {
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

async fn add(
    loaded: &Loaded,
    store: &Arc<dyn Store>,
    email: &str,
    role: Role,
    name: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let signer = crate::app::keys::signer(&loaded.settings, store.as_ref()).await?;
    match accounts::users::add(
        store.as_ref(),
        &loaded.settings,
        &signer,
        email,
        role,
        name,
        &Actor::cli(),
        Utc::now(),
    )
    .await
    {
        Ok(invited) => {
            println!("account {} created ({role})", invited.user_id);
            mail_and_print(loaded, store, &invited).await
        }
        Err(e) => refused(e),
    }
}

async fn reset(loaded: &Loaded, store: &Arc<dyn Store>, email: &str) -> anyhow::Result<ExitCode> {
    let signer = crate::app::keys::signer(&loaded.settings, store.as_ref()).await?;
    match accounts::users::reset(
        store.as_ref(),
        &loaded.settings,
        &signer,
        email,
        &Actor::cli(),
        Utc::now(),
    )
    .await
    {
        Ok(invited) => {
            println!(
                "account {}: password, two-factor and sessions revoked",
                invited.user_id
            );
            mail_and_print(loaded, store, &invited).await
        }
        Err(e) => refused(e),
    }
}

/// Sends the queued setup mail now (it stays queued for `kairan serve` when the mail server
/// does not answer), then prints the link alone on the last line.
async fn mail_and_print(
    loaded: &Loaded,
    store: &Arc<dyn Store>,
    invited: &Invited,
) -> anyhow::Result<ExitCode> {
    match notifier(loaded, store).await {
        Ok(n) => match n.send_now(invited.mail_id).await {
            Ok(_) => println!("setup link mailed"),
            Err(NotifyError::Mail { reason, queued }) => eprintln!(
                "kairan: warning: the setup mail was not sent: {reason}{}",
                if queued {
                    "; it stays queued and `kairan serve` retries it"
                } else {
                    ""
                }
            ),
            Err(e) => eprintln!("kairan: warning: the setup mail was not sent: {e}"),
        },
        Err(e) => eprintln!("kairan: warning: the setup mail was not sent: {e:#}"),
    }
    println!("{}", invited.setup_url);
    Ok(ExitCode::SUCCESS)
}

async fn list(store: &dyn Store, json: bool) -> anyhow::Result<ExitCode> {
    let users = match accounts::users::list(store).await {
        Ok(u) => u,
        Err(e) => return refused(e),
    };
    if json {
        let rows: Vec<_> = users
            .iter()
            .map(|u| {
                serde_json::json!({
                    "id": u.id,
                    "email": u.email.as_str(),
                    "name": u.name,
                    "role": u.role,
                    "state": u.state(),
                    "totp": u.totp,
                    "created_at": u.created_at,
                })
            })
            .collect();
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        println!(
            "{:>4}  {:<8}  {:<8}  {:<4}  EMAIL",
            "ID", "ROLE", "STATE", "2FA"
        );
        for u in &users {
            println!(
                "{:>4}  {:<8}  {:<8}  {:<4}  {}",
                u.id,
                u.role.as_str(),
                u.state(),
                if u.totp { "on" } else { "off" },
                u.email
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--since`: a date (`2026-12-01`, midnight UTC) or an RFC 3339 time.
pub fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

/// `kairan audit [--since D] [--json]`.
pub async fn audit(
    loaded: &Loaded,
    since: Option<DateTime<Utc>>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = crate::startup::open_store(&loaded.settings).await?;
    let entries = accounts::audit::list(store.as_ref(), since, u32::MAX)
        .await
        .context("reading the audit log");
    store.close().await;
    let entries = entries?;
    if json {
        println!("{}", serde_json::to_string(&entries)?);
    } else {
        for e in &entries {
            println!(
                "{}  {:<22}  {:<28}  {:<15}  {}{}",
                e.at.format("%Y-%m-%dT%H:%M:%SZ"),
                e.action,
                e.actor,
                e.ip.as_deref().unwrap_or("-"),
                e.object,
                if e.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.detail)
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
