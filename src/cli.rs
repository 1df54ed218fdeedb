//! The command line (`docs/contracts.md`, "The binary"). User mistakes print one clear line
//! and exit non-zero, never a backtrace: a bad configuration exits 78 (EX_CONFIG), anything
//! else 1. Each command parses its arguments, opens what it needs through `startup`, calls
//! a use case of `app` (or a bounce source) and prints the result; like `startup` it may
//! depend on everything.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{self, Loaded};

mod bounce;
mod issue;
mod send;
mod subscribers;
mod users;
use crate::telemetry::{self, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "kairan",
    version,
    about = "A self-hosted daemon for a bilingual (Japanese / English) monthly e-newsletter",
    long_about = "kairan runs a bilingual (Japanese / English) monthly e-newsletter: readers \
        subscribe by email, editors queue each issue in both languages, and the daemon renders \
        and sends it in batches on a cron schedule, handling bounces and unsubscribes.\n\n\
        Settings come from ./kairan.toml (or --config) and KAIRAN__SECTION__KEY environment \
        variables; with neither, built-in defaults apply (SQLite at ./kairan.db, HTTP on \
        127.0.0.1:8080, mail written to ./outbox/)."
)]
pub struct Cli {
    /// Configuration file [default: ./kairan.toml when it exists, else built-in defaults]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Log line format [default: json when stderr is not a terminal, else pretty]
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: HTTP, scheduler and dispatcher, until SIGINT or SIGTERM
    Serve {
        /// Serve HTTP only: start and send no campaigns (another instance does)
        #[arg(long)]
        passive: bool,
    },
    /// Apply database migrations and exit (serve does this too)
    Migrate,
    /// Validate the configuration, templates and locales; list every problem at once
    Check,
    /// Queue, inspect, control, preview and test-send issues
    #[command(subcommand)]
    Issue(issue::Command),
    /// Dispatch an issue now, in the foreground, until it is done (resumes after a crash)
    Send {
        /// The issue's id or slug
        issue: String,
        /// With `console.require_approval` on and no approved send request: send anyway,
        /// as the server's operator, giving the reason (written to the audit log)
        #[arg(long, value_name = "REASON")]
        override_approval: Option<String>,
    },
    /// Parse bounce messages, or ingest them and apply the bounce policy
    #[command(subcommand)]
    Bounce(bounce::Command),
    /// Show campaigns and subscribers
    Status {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Manage subscribers: add, import, export, list, unsubscribe, erase
    #[command(subcommand)]
    Subscribers(subscribers::Command),
    /// Manage console accounts: add, list, disable, reset, token
    #[command(subcommand)]
    Users(users::Command),
    /// Print the audit log: logins, logouts and every person's state-changing action
    Audit {
        /// Only entries at or after this date (YYYY-MM-DD, UTC) or RFC 3339 time
        #[arg(long, value_parser = users::parse_since)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Print a JSON array instead of lines
        #[arg(long)]
        json: bool,
    },
    /// Copy the SQLite database while it runs, with its signing key file (FILE and FILE.key);
    /// PostgreSQL: use pg_dump (docs/operating.md)
    Backup {
        /// The backup file to write (must not exist)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// Parses arguments, runs the command, and turns the result into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let ingesting = matches!(cli.command, Command::Bounce(bounce::Command::Ingest { .. }));
    telemetry::init(cli.log_format.unwrap_or_else(LogFormat::detect));

    let loaded = match config::load(cli.config.as_deref()) {
        Ok(l) => l,
        Err(errors) => {
            if matches!(cli.command, Command::Check) {
                for p in &errors.0 {
                    println!("config: {p}");
                }
            }
            eprintln!("kairan: error: {errors}");
            // An MTA piping bounces in must retry (EX_TEMPFAIL) while the configuration is
            // fixed, not bounce the bounce, which EX_CONFIG would make it do.
            if ingesting {
                return ExitCode::from(75);
            }
            return ExitCode::from(78);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kairan: error: cannot start the async runtime: {e}");
            return if ingesting {
                ExitCode::from(75)
            } else {
                ExitCode::FAILURE
            };
        }
    };
    // An MTA bounces (and, for a bounce, drops) a message on any exit but 0 and 75: for
    // `bounce ingest` every failure of ours may pass, so the MTA keeps the message.
    let failed = if ingesting {
        ExitCode::from(75)
    } else {
        ExitCode::FAILURE
    };
    // A bug must not cost the MTA's message either: a panic that reaches here (reported on
    // stderr as usual) exits 75 for `bounce ingest`, so the message waits in the queue for a
    // fixed kairan instead of being bounced, which for a bounce means dropped. Nothing is
    // half-written: every change is a transaction, rolled back when the process goes.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(run(cli.command, loaded))
    }));
    match outcome {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("kairan: error: {e:#}");
            failed
        }
        Err(panic) if ingesting => {
            drop(panic);
            ExitCode::from(75)
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The audit line a state-changing command leaves when it succeeds (issue 14): the action and
/// its object, never an address. Account commands write their own (`app::accounts`).
fn audited(command: &Command) -> Option<(&'static str, String)> {
    use issue::Command as I;
    use subscribers::Command as S;
    Some(match command {
        Command::Migrate => ("database.migrated", String::new()),
        Command::Issue(I::Queue {
            slug, draft: true, ..
        }) => ("issue.created", format!("issue {slug}")),
        Command::Issue(I::Queue { slug, .. }) => ("issue.queued", format!("issue {slug}")),
        Command::Issue(I::Edit { issue, .. }) => ("issue.edited", format!("issue {issue}")),
        Command::Issue(I::QueueDraft { issue, .. }) => ("issue.queued", format!("issue {issue}")),
        Command::Backup { .. } => ("database.backed_up", String::new()),
        Command::Subscribers(S::Import { preview: true, .. }) => return None,
        Command::Issue(I::Pause { issue }) => ("issue.paused", format!("issue {issue}")),
        Command::Issue(I::Resume { issue }) => ("issue.resumed", format!("issue {issue}")),
        Command::Issue(I::Cancel { issue }) => ("issue.cancelled", format!("issue {issue}")),
        Command::Issue(I::SendTest { issue, .. }) => ("issue.test_sent", format!("issue {issue}")),
        Command::Send { issue, .. } => ("issue.sent", format!("issue {issue}")),
        Command::Subscribers(S::Add { .. }) => ("subscriber.added", String::new()),
        Command::Subscribers(S::Import { .. }) => ("subscriber.imported", String::new()),
        Command::Subscribers(S::Export { .. }) => ("subscriber.exported", String::new()),
        Command::Subscribers(S::Unsubscribe { .. }) => ("subscriber.unsubscribed", String::new()),
        Command::Subscribers(S::Erase { .. }) => ("subscriber.erased", String::new()),
        _ => return None,
    })
}

async fn run(command: Command, loaded: Loaded) -> anyhow::Result<ExitCode> {
    let audit = audited(&command);
    let settings = loaded.settings.clone();
    let result = run_command(command, loaded).await;
    if let (Some((action, object)), Ok(code)) = (audit, &result)
        && *code == ExitCode::SUCCESS
    {
        // The command changed state: its audit line, by the operating-system user.
        match crate::startup::open_store(&settings).await {
            Ok(store) => {
                let actor = crate::app::accounts::Actor::cli();
                if let Err(e) = crate::app::accounts::audit::record(
                    store.as_ref(),
                    &actor,
                    action,
                    object,
                    "command line",
                    chrono::Utc::now(),
                )
                .await
                {
                    eprintln!("kairan: warning: the audit line was not written: {e}");
                }
                store.close().await;
            }
            Err(e) => eprintln!("kairan: warning: the audit line was not written: {e:#}"),
        }
    }
    result
}

async fn run_command(command: Command, loaded: Loaded) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { passive } => serve(loaded, passive).await,
        Command::Migrate => {
            let store = crate::startup::open_or_create_store(&loaded.settings).await?;
            println!(
                "migrations applied ({} at {})",
                store.backend(),
                crate::startup::redact_url(loaded.settings.database.url.expose())
            );
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => check(&loaded),
        Command::Issue(cmd) => issue::run(cmd, &loaded).await,
        Command::Send {
            issue,
            override_approval,
        } => send::run(&issue, override_approval.as_deref(), &loaded).await,
        Command::Bounce(cmd) => bounce::run(cmd, &loaded).await,
        Command::Status { json } => status(&loaded, json).await,
        Command::Subscribers(command) => subscribers::run(command, &loaded).await,
        Command::Users(command) => users::run(command, &loaded).await,
        Command::Audit { since, json } => users::audit(&loaded, since, json).await,
        Command::Backup { out } => backup(&loaded, &out).await,
    }
}

async fn serve(loaded: Loaded, passive: bool) -> anyhow::Result<ExitCode> {
    if let Some(file) = &loaded.file {
        tracing::info!(file = %file.display(), env_overrides = loaded.env_keys.len(), "configuration loaded");
    } else {
        tracing::info!(
            env_overrides = loaded.env_keys.len(),
            "no configuration file: using built-in defaults"
        );
    }
    let shutdown = crate::startup::shutdown_on_signals();
    let app = crate::startup::Application::build(loaded.settings)
        .await?
        .passive(passive);
    app.run(shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

fn check(loaded: &Loaded) -> anyhow::Result<ExitCode> {
    let mut problems = Vec::new();
    match crate::assets::Assets::load(&loaded.settings.paths) {
        Ok(assets) => {
            let found = crate::render::check(&assets);
            // Only when everything compiles: a sample issue rendered for each language.
            if found.is_empty() {
                problems.extend(crate::app::preview::sample_render(
                    &loaded.settings,
                    &assets,
                ));
            }
            problems.extend(found);
        }
        Err(p) => problems.extend(p),
    }
    // Fit to send real mail: with smtp.url set, each of these blocks (EX_CONFIG).
    let readiness = crate::app::readiness::assess(&loaded.settings);
    let blocking = readiness.sends_mail && !readiness.problems.is_empty();
    problems.extend(readiness.problems);
    let source = loaded
        .file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "built-in defaults".into());
    for w in &readiness.warnings {
        println!("warning: {w}");
    }
    if problems.is_empty() {
        println!("configuration OK ({source})");
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            println!("{p}");
        }
        eprintln!(
            "kairan: error: {} problem{} found ({source}){}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            if blocking {
                "; smtp.url is set, so mail would really be sent"
            } else {
                ""
            }
        );
        Ok(if blocking {
            ExitCode::from(78)
        } else {
            ExitCode::FAILURE
        })
    }
}

async fn backup(loaded: &Loaded, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    use crate::app::backup::SigningKey;
    let store = crate::startup::open_store(&loaded.settings).await?;
    let done = crate::app::backup::backup(store.as_ref(), &loaded.settings, out).await;
    store.close().await;
    let done = done.context("backup failed")?;
    println!(
        "database copied to {} (owner-only)",
        done.written.database.display()
    );
    match (&done.signing_key, &done.written.key_file) {
        (SigningKey::InBackup, Some(key)) => println!(
            "signing key copied to {}: restore both together (docs/operating.md)",
            key.display()
        ),
        (SigningKey::InConfiguration, _) => println!(
            "the signing key is secrets.signing_key in the configuration: keep the \
             configuration with this backup"
        ),
        _ => println!("no signing key generated yet: nothing to copy"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(loaded: &Loaded, json: bool) -> anyhow::Result<ExitCode> {
    let store = crate::startup::open_store(&loaded.settings).await?;
    let report = crate::app::status::gather(store.as_ref())
        .await
        .context("reading the status")?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.to_table());
    }
    Ok(ExitCode::SUCCESS)
}
