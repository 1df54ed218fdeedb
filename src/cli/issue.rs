//! `kairan issue …`: the editor's commands (`docs/contracts.md`). Queue prints the new id
//! alone on the last line of stdout, so scripts can `id=$(kairan issue queue … | tail -n1)`.
//! The files are read here; what makes an issue valid is `app::editorial`'s.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::app::checks::{self, CheckContext, Severity};
use crate::app::editorial::{self, Control, Draft, QueueRequest, SourceProblem};
use crate::app::ports::Store;
use crate::config::{Loaded, Settings};
use crate::domain::LangPref;
use crate::domain::{Issue, IssueState, Lang};

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
        /// Send characters ISO-2022-JP cannot carry and that have no stand-in as 〓 to
        /// legacy-charset recipients (those with one, – → - or ① → (1), never refuse)
        #[arg(long)]
        allow_lossy: bool,
        /// Save as a draft (never sent, nothing checked but the slug; queue it later with
        /// `kairan issue queue-draft`)
        #[arg(long)]
        draft: bool,
    },
    /// Report every problem and warning of two sources at once (exit 0 when they could be
    /// queued): front matter, subject, links, legal footer, legacy-charset stand-ins, and
    /// dates, times, amounts, URLs and structure that differ between ja and en
    Check {
        #[arg(long, value_name = "JA.md")]
        ja: PathBuf,
        #[arg(long, value_name = "EN.md")]
        en: PathBuf,
        /// Also check a slug
        #[arg(long)]
        slug: Option<String>,
        /// As `issue queue --allow-lossy`: characters without a stand-in are warnings
        #[arg(long)]
        allow_lossy: bool,
        /// Rewrite the files with the stand-ins legacy-charset readers get (– → -, ① → (1))
        #[arg(long)]
        accept_replacements: bool,
        /// Print the report as JSON (messages in Japanese and English)
        #[arg(long)]
        json: bool,
    },
    /// Replace an issue's text (and optionally its send time, or a draft's slug) until
    /// sending starts; a queued issue is checked first and keeps its slug
    Edit {
        issue: String,
        #[arg(long, value_name = "JA.md")]
        ja: PathBuf,
        #[arg(long, value_name = "EN.md")]
        en: PathBuf,
        #[arg(long, value_name = "RFC3339")]
        send_at: Option<String>,
        /// A new slug (drafts only)
        #[arg(long)]
        slug: Option<String>,
    },
    /// Queue a draft after checking it
    QueueDraft {
        issue: String,
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
    /// Write ja.eml, en.eml, both.eml and their .html / .txt as a subscriber receives them,
    /// of a stored issue or of two source files (then nothing is stored or opened)
    Preview {
        #[arg(required_unless_present_all = ["ja", "en"], conflicts_with_all = ["ja", "en"])]
        issue: Option<String>,
        #[arg(long, value_name = "JA.md", requires = "en")]
        ja: Option<PathBuf>,
        #[arg(long, value_name = "EN.md", requires = "ja")]
        en: Option<PathBuf>,
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
    // A preview of files touches no database.
    if let Command::Preview {
        issue: None,
        ja: Some(ja),
        en: Some(en),
        out,
    } = &cmd
    {
        let (ja, en) = read_both(ja, en).map_err(|p| refusal(&p, "previewed"))?;
        let renderer = crate::startup::load_renderer(settings)?;
        let files = crate::app::drafts::preview_content(
            &renderer,
            settings,
            ja.content,
            en.content,
            Utc::now(),
        )?;
        return write_previews(files, out);
    }
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
            draft,
        } => {
            let send_at = send_at.map(|s| parse_send_at(&s)).transpose()?;
            let (ja, en) = match read_both(&ja, &en) {
                Ok(d) => d,
                Err(problems) => return refuse(&problems),
            };
            if draft {
                let id = crate::app::drafts::create_draft(
                    store.as_ref(),
                    &slug,
                    send_at,
                    ja.content,
                    en.content,
                    now,
                )
                .await?;
                println!("saved draft {id}; it is not sent until `kairan issue queue-draft {id}`");
                println!("{id}");
                return Ok(ExitCode::SUCCESS);
            }
            // Warnings (stand-ins, ja/en differences) are shown; they do not stop it.
            let ctx = CheckContext {
                slug: None,
                updated: None,
                legacy_readers: checks::legacy_readers(store.as_ref(), settings).await?,
                allow_lossy,
            };
            let report = checks::check_drafts(settings, &ja, &en, &ctx);
            let req = QueueRequest {
                slug,
                send_at,
                ja,
                en,
                allow_lossy,
            };
            match editorial::queue(store.as_ref(), settings, req, now).await {
                Ok(id) => {
                    for w in report
                        .items
                        .iter()
                        .filter(|i| i.severity == Severity::Warning)
                    {
                        println!("{w}");
                    }
                    println!(
                        "queued issue {id}; it goes out {}",
                        when(settings, send_at, now)
                    );
                    println!("{id}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(editorial::EditorialError::Invalid(problems)) => refuse(&problems),
                Err(e) => Err(e.into()),
            }
        }
        Command::Check {
            ja,
            en,
            slug,
            allow_lossy,
            accept_replacements,
            json,
        } => {
            let legacy_readers = checks::legacy_readers(store.as_ref(), settings).await?;
            let ctx = CheckContext {
                slug,
                updated: None,
                legacy_readers,
                allow_lossy,
            };
            let mut report = match (read_source(&ja), read_source(&en)) {
                (Ok(j), Ok(e)) => {
                    if accept_replacements {
                        for path in [&ja, &en] {
                            let n = rewrite_with_stand_ins(path)?;
                            if n > 0 {
                                eprintln!("{}: {n} characters replaced", path.display());
                            }
                        }
                        let (j, e) = read_both(&ja, &en).map_err(|p| refusal(&p, "checked"))?;
                        checks::check_drafts(settings, &j, &e, &ctx)
                    } else {
                        checks::check_drafts(settings, &j, &e, &ctx)
                    }
                }
                (j, e) => {
                    // A file that cannot be read: its problems, and the other's content.
                    let mut items = Vec::new();
                    for (lang, r) in [(Lang::Ja, j), (Lang::En, e)] {
                        match r {
                            Err(p) => items.extend(checks::unreadable(lang, &p)),
                            Ok(d) => {
                                items.extend(checks::unreadable(lang, d.format_problems()));
                                items.extend(checks::content_items(lang, &d.content));
                            }
                        }
                    }
                    checks::CheckReport {
                        items,
                        ..checks::CheckReport::default()
                    }
                }
            };
            checks::sort(&mut report.items);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for i in &report.items {
                    println!("{i}");
                }
                println!(
                    "{} error{}, {} warning{}{}",
                    report.errors(),
                    if report.errors() == 1 { "" } else { "s" },
                    report.warnings(),
                    if report.warnings() == 1 { "" } else { "s" },
                    if report.can_queue() {
                        "; it can be queued"
                    } else {
                        "; it cannot be queued yet"
                    }
                );
            }
            Ok(if report.can_queue() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Edit {
            issue,
            ja,
            en,
            send_at,
            slug,
        } => {
            let i = find(store.as_ref(), &issue).await?;
            let (ja, en) = match read_both(&ja, &en) {
                Ok(d) => d,
                Err(problems) => return refuse_edit(&problems),
            };
            let send_at = match send_at {
                Some(s) => Some(parse_send_at(&s)?),
                None => i.send_at,
            };
            let save = crate::app::drafts::Save {
                slug,
                send_at,
                ja: ja.content,
                en: en.content,
            };
            match crate::app::drafts::save(store.as_ref(), settings, i.id, save, now).await {
                Ok(state) => {
                    println!("saved issue {} ({state})", i.id);
                    if state == IssueState::Queued {
                        println!("it goes out {}", when(settings, send_at, now));
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(editorial::EditorialError::Invalid(problems)) => refuse_edit(&problems),
                Err(e) => Err(e.into()),
            }
        }
        Command::QueueDraft { issue, allow_lossy } => {
            let i = find(store.as_ref(), &issue).await?;
            match crate::app::drafts::queue_draft(store.as_ref(), settings, i.id, allow_lossy, now)
                .await
            {
                Ok(_) => {
                    println!(
                        "queued issue {}; it goes out {}",
                        i.id,
                        when(settings, i.send_at, now)
                    );
                    println!("{}", i.id);
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
        Command::Preview { issue, out, .. } => {
            let key = issue.context("give an issue, or --ja and --en")?;
            let i = find(store.as_ref(), &key).await?;
            let renderer = crate::startup::load_renderer(settings)?;
            write_previews(crate::app::preview::preview(&renderer, settings, &i)?, &out)
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

fn write_previews(
    files: Vec<crate::app::preview::PreviewFiles>,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for f in files {
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

/// When an issue goes out, as a date and time in `schedule.timezone` and how far away.
fn when(settings: &Settings, send_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match crate::app::drafts::next_send_time(settings, send_at, now) {
        Some(t) => {
            let (_, en) = crate::app::drafts::describe_time(t, settings.schedule.timezone, now);
            format!("on {en}")
        }
        None => format!(
            "at the next tick of `{}`, which never comes",
            settings.schedule.cron_text
        ),
    }
}

/// Both sources read; a file that cannot be read is refused with what is wrong with the
/// other.
fn read_both(ja: &Path, en: &Path) -> Result<(Draft, Draft), Vec<SourceProblem>> {
    match (read_source(ja), read_source(en)) {
        (Ok(ja), Ok(en)) => Ok((ja, en)),
        (ja, en) => Err([ja, en]
            .into_iter()
            .flat_map(|r| r.map_or_else(|p| p, |d| d.problems()))
            .collect()),
    }
}

/// Rewrites a source file with the legacy-charset stand-ins, keeping its front matter
/// lines; returns how many characters changed.
fn rewrite_with_stand_ins(path: &Path) -> anyhow::Result<usize> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (fixed, n) = checks::accept_replacements(&crate::domain::IssueContent {
        subject: text,
        preheader: None,
        markdown: String::new(),
    });
    if n > 0 {
        std::fs::write(path, fixed.subject)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(n)
}

fn refusal(problems: &[SourceProblem], what: &str) -> anyhow::Error {
    for p in problems {
        println!("{p}");
    }
    anyhow::anyhow!(
        "nothing was {what}: {} problem{}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    )
}

fn refuse_edit(problems: &[SourceProblem]) -> anyhow::Result<ExitCode> {
    Err(refusal(problems, "saved"))
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
