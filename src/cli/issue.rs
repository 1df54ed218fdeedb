//! `kairan issue …`: the editor's commands (`docs/contracts.md`). Queue prints the new id
//! alone on the last line of stdout, so scripts can `id=$(kairan issue queue … | tail -n1)`.
//! The files are read here; what makes an issue valid is `app::editorial`'s.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::app::editorial::{self, Control, Draft, QueueRequest, SourceProblem};
use crate::app::ports::Store;
use crate::config::{Loaded, Settings};
use crate::domain::Issue;
use crate::domain::LangPref;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate and queue an issue written as two Markdown files with a front matter
    Queue {
        /// A short unique name, e.g. 2026-12 (a-z, 0-9, -)
        #[arg(long)]
        slug: String,
        /// The Japanese source (front matter `subject`, optional `preheader`, then Markdown)
        #[arg(long, value_name = "JA.md")]
        ja: PathBuf,
        /// The English source
        #[arg(long, value_name = "EN.md")]
        en: PathBuf,
        /// When to send (RFC 3339); default: the next cron tick
        #[arg(long, value_name = "RFC3339")]
        send_at: Option<String>,
        /// Replace characters ISO-2022-JP cannot carry with 〓 for legacy-charset recipients
        #[arg(long)]
        allow_lossy: bool,
    },
    /// List issues with their state
    List,
    /// Show one issue (by id or slug) with its delivery counts
    Show { issue: String },
    /// Pause a queued or sending issue
    Pause { issue: String },
    /// Resume a paused issue where it stopped
    Resume { issue: String },
    /// Cancel an issue; its unsent deliveries are skipped
    Cancel { issue: String },
    /// Write ja.eml, en.eml, both.eml and their .html / .txt as a subscriber receives them
    Preview {
        issue: String,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Send one real message of the issue through the configured transport
    SendTest {
        issue: String,
        #[arg(long, value_name = "ADDR")]
        to: String,
        #[arg(long, value_enum, default_value = "both")]
        lang: LangArg,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LangArg {
    Ja,
    En,
    Both,
}

impl From<LangArg> for LangPref {
    fn from(l: LangArg) -> Self {
        match l {
            LangArg::Ja => LangPref::Ja,
            LangArg::En => LangPref::En,
            LangArg::Both => LangPref::Both,
        }
    }
}

pub async fn run(cmd: Command, loaded: &Loaded) -> anyhow::Result<ExitCode> {
    let settings = &loaded.settings;
    let store = crate::startup::open_store(settings).await?;
    let result = run_with(cmd, settings, store.clone()).await;
    store.close().await;
    result
}

async fn run_with(
    cmd: Command,
    settings: &Settings,
    store: Arc<dyn Store>,
) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    match cmd {
        Command::Queue {
            slug,
            ja,
            en,
            send_at,
            allow_lossy,
        } => {
            let send_at = send_at.map(|s| parse_send_at(&s)).transpose()?;
            let (ja, en) = match (read_source(&ja), read_source(&en)) {
                (Ok(ja), Ok(en)) => (ja, en),
                // A file that cannot be read is refused with what is wrong with the other.
                (ja, en) => {
                    let problems: Vec<SourceProblem> = [ja, en]
                        .into_iter()
                        .flat_map(|r| r.map_or_else(|p| p, |d| d.problems()))
                        .collect();
                    return refuse(&problems);
                }
            };
            let req = QueueRequest {
                slug,
                send_at,
                ja,
                en,
                allow_lossy,
            };
            match editorial::queue(store.as_ref(), settings, req, now).await {
                Ok(id) => {
                    let when = send_at
                        .map(|t| format!("at {}", t.with_timezone(&settings.schedule.timezone)))
                        .unwrap_or_else(|| {
                            format!("at the next tick of `{}`", settings.schedule.cron_text)
                        });
                    println!("queued issue {id}; it goes out {when}");
                    println!("{id}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(editorial::EditorialError::Invalid(problems)) => refuse(&problems),
                Err(e) => Err(e.into()),
            }
        }
        Command::List => {
            let issues = store.list_issues().await?;
            if issues.is_empty() {
                println!("no issues yet");
            }
            for i in issues {
                println!(
                    "{:>4}  {:<16} {:<10} {}",
                    i.id,
                    i.slug,
                    i.state.as_str(),
                    i.ja.subject
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { issue } => {
            let i = find(store.as_ref(), &issue).await?;
            let c = store.delivery_counts(i.id).await?;
            println!("issue {} ({})", i.id, i.slug);
            println!("  state       {}", i.state);
            let tz = settings.schedule.timezone;
            let t = |d: Option<DateTime<Utc>>| {
                d.map(|d| d.with_timezone(&tz).to_rfc3339())
                    .unwrap_or_else(|| "-".into())
            };
            println!("  send at     {}", t(i.send_at));
            println!("  started     {}", t(i.started_at));
            println!("  finished    {}", t(i.finished_at));
            println!("  ja subject  {}", i.ja.subject);
            println!("  en subject  {}", i.en.subject);
            println!(
                "  deliveries  {} total: {} sent, {} pending, {} sending, {} retry, {} failed, {} skipped",
                c.total(),
                c.sent,
                c.pending,
                c.sending,
                c.retry,
                c.failed,
                c.skipped
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Pause { issue } => control(store.as_ref(), &issue, Control::Pause, now).await,
        Command::Resume { issue } => control(store.as_ref(), &issue, Control::Resume, now).await,
        Command::Cancel { issue } => control(store.as_ref(), &issue, Control::Cancel, now).await,
        Command::Preview { issue, out } => {
            let i = find(store.as_ref(), &issue).await?;
            let renderer = crate::startup::load_renderer(settings)?;
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            for f in crate::app::preview::preview(&renderer, settings, &i)? {
                for (ext, bytes) in [
                    ("eml", f.eml),
                    ("txt", f.text.into_bytes()),
                    ("html", f.html.into_bytes()),
                ] {
                    let path = out.join(format!("{}.{ext}", f.pref));
                    std::fs::write(&path, bytes)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
            }
            println!(
                "wrote ja, en and both (.eml, .html, .txt) to {}",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::SendTest { issue, to, lang } => {
            let address = crate::domain::EmailAddress::parse(&to)
                .map_err(|e| anyhow::anyhow!("--to `{to}`: {e}"))?;
            let i = find(store.as_ref(), &issue).await?;
            let renderer = crate::startup::load_renderer(settings)?;
            let mailer = crate::mail::from_settings(settings)?;
            let pref = LangPref::from(lang);
            let reply = crate::app::preview::send_test(
                &renderer,
                settings,
                mailer.as_ref(),
                &i,
                &address,
                pref,
            )
            .await?;
            println!(
                "sent a {pref} test of issue {} via {}: {reply}",
                i.id,
                mailer.kind()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One language's source file, read (its content is checked by `editorial::queue`).
fn read_source(path: &Path) -> Result<Draft, Vec<SourceProblem>> {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => editorial::parse_source(&name, &bytes),
        Err(e) => Err(vec![SourceProblem {
            file: name,
            line: None,
            message: format!("cannot read: {e}"),
        }]),
    }
}

fn refuse(problems: &[SourceProblem]) -> anyhow::Result<ExitCode> {
    for p in problems {
        println!("{p}");
    }
    bail!(
        "the issue was not queued: {} problem{}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    )
}

fn parse_send_at(s: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| {
            anyhow::anyhow!(
                "--send-at `{s}` is not an RFC 3339 time such as 2026-12-01T09:00:00+09:00 ({e})"
            )
        })
}

/// An issue by numeric id or by slug.
pub(super) async fn find(store: &dyn Store, key: &str) -> anyhow::Result<Issue> {
    let issues = store.list_issues().await?;
    let found = match key.parse::<i64>() {
        Ok(id) => issues.into_iter().find(|i| i.id.get() == id),
        Err(_) => issues.into_iter().find(|i| i.slug == key),
    };
    found.ok_or_else(|| {
        anyhow::anyhow!("no issue `{key}` (give its id or slug; `kairan issue list` shows them)")
    })
}

async fn control(
    store: &dyn Store,
    key: &str,
    c: Control,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let issue = find(store, key).await?;
    let state = editorial::control(store, issue.id, c, now).await?;
    println!("issue {} is now {state}", issue.id);
    Ok(ExitCode::SUCCESS)
}
