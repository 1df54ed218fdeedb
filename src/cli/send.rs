//! `kairan send ID`: dispatch one issue in the foreground with a progress line until it is
//! done. Safe to run again after a crash (it resumes), and alongside `kairan serve` (they
//! share the work through leases).
//!
//! Calls `app::dispatch`; the progress line is printed here.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::Utc;

use crate::app::accounts::Actor;
use crate::app::accounts::approval::{self, CliSend};
use crate::app::dispatch::{Dispatcher, Progress, RunEnd};
use crate::config::Loaded;
use crate::domain::{IssueId, IssueState};

pub async fn run(
    key: &str,
    override_approval: Option<&str>,
    loaded: &Loaded,
) -> anyhow::Result<ExitCode> {
    let settings = Arc::new(loaded.settings.clone());
    let store = crate::startup::open_store(&settings).await?;
    let result = send(key, override_approval, settings, store.clone()).await;
    store.close().await;
    result
}

async fn send(
    key: &str,
    override_approval: Option<&str>,
    settings: Arc<crate::config::Settings>,
    store: Arc<dyn crate::app::ports::Store>,
) -> anyhow::Result<ExitCode> {
    let issue = super::issue::find(store.as_ref(), key).await?;
    match issue.state {
        IssueState::Queued => {
            let missing = settings.newsletter.missing_legal_settings();
            if !missing.is_empty() {
                bail!("the legal footer is incomplete; set {}", missing.join(", "));
            }
            // The two-person rule holds here too (`app::accounts::approval::cli_send`).
            match approval::cli_send(
                store.as_ref(),
                &settings,
                issue.id.get(),
                override_approval,
                &Actor::cli(),
                Utc::now(),
            )
            .await
            {
                Ok(CliSend::NotRequired) => {}
                Ok(CliSend::Approved(r)) => eprintln!(
                    "issue {}: send request {} approved by user {}",
                    issue.id,
                    r.id,
                    r.decided_by.unwrap_or_default()
                ),
                Ok(CliSend::Overridden) => eprintln!(
                    "issue {}: sending without approval (--override-approval; audited)",
                    issue.id
                ),
                Err(e) => bail!("{e}"),
            }
            let snapshot = Instant::now();
            if let Some(n) = store.start_campaign(issue.id, Utc::now()).await? {
                eprintln!(
                    "issue {}: campaign started with {n} recipients (snapshot {:.2}s)",
                    issue.id,
                    snapshot.elapsed().as_secs_f64()
                );
            }
        }
        IssueState::Sending => eprintln!("issue {}: resuming", issue.id),
        IssueState::Sent => {
            println!("issue {} was sent already", issue.id);
            return Ok(ExitCode::SUCCESS);
        }
        IssueState::Paused => bail!(
            "issue {} is paused; `kairan issue resume {}` first",
            issue.id,
            issue.id
        ),
        other => bail!("issue {} is {other} and cannot be sent", issue.id),
    }
    let renderer = Arc::new(crate::startup::load_renderer(&settings)?);
    let signer = Arc::new(crate::app::keys::signer(&settings, store.as_ref()).await?);
    let mailer = crate::mail::from_settings(&settings)?;
    let dispatcher = Dispatcher::new(
        store.clone(),
        mailer,
        renderer,
        settings.clone(),
        signer,
        crate::startup::lease_owner(),
        crate::startup::processes(),
    );
    let shutdown = crate::startup::shutdown_on_signals();
    let progress = Arc::new(Progress::default());
    let before = store.delivery_counts(issue.id).await?;
    let runner = {
        let (d, token, p) = (dispatcher.clone(), shutdown.clone(), progress.clone());
        tokio::spawn(async move { d.run(issue.id, token, p).await })
    };
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut last_line = Instant::now();
    let mut said: Option<String> = None;
    while !runner.is_finished() {
        tokio::time::sleep(Duration::from_millis(250)).await;
        // What the run waits for, said once each time it changes.
        let waiting = match dispatcher.health.outage() {
            Some(t) if t >= Duration::from_secs(1) => Some(format!(
                "issue {}: waiting for the database (unavailable; sending paused, outcomes kept; giving up after dispatch.db_patience = {:?})",
                issue.id, settings.dispatch.db_patience
            )),
            _ => progress
                .waiting
                .lock()
                .expect("not poisoned")
                .as_ref()
                .map(|w| format!("issue {}: {w}", issue.id)),
        };
        if waiting != said {
            if let Some(w) = &waiting {
                if tty {
                    eprintln!();
                }
                eprintln!("{w}");
            } else if said.is_some() {
                eprintln!("issue {}: sending", issue.id);
            }
            said = waiting;
        }
        let every = if tty {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(5)
        };
        if last_line.elapsed() >= every {
            last_line = Instant::now();
            report(&progress, &before, started, issue.id, tty, false);
        }
    }
    let end = runner.await??;
    report(&progress, &before, started, issue.id, tty, true);
    match end {
        RunEnd::Finished => {
            let c = store.delivery_counts(issue.id).await?;
            println!(
                "issue {} sent: {} delivered, {} failed, {} skipped",
                issue.id, c.sent, c.failed, c.skipped
            );
            Ok(ExitCode::SUCCESS)
        }
        RunEnd::Stopped(state) => bail!(
            "issue {} was {state} while sending; resume it to continue",
            issue.id
        ),
        RunEnd::Shutdown => {
            println!(
                "stopped; run `kairan send {}` again to continue where it stopped",
                issue.id
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn report(
    p: &Progress,
    before: &crate::domain::DeliveryCounts,
    started: Instant,
    id: IssueId,
    tty: bool,
    last: bool,
) {
    let sent = p.sent.load(Ordering::Relaxed);
    let failed = p.failed.load(Ordering::Relaxed) + before.failed;
    let done = sent + before.sent;
    let total = before.total() - before.skipped;
    let secs = started.elapsed().as_secs_f64().max(0.001);
    let rate = sent as f64 / secs;
    let left = total.saturating_sub(done + failed + p.skipped.load(Ordering::Relaxed));
    let eta = if rate > 0.0 {
        format!("{:.0}s", left as f64 / rate)
    } else {
        "-".into()
    };
    let line = format!(
        "issue {id}: {done}/{total} sent, {failed} failed, {} retrying, {} skipped | {rate:.0} msg/s | ETA {eta}",
        p.retried.load(Ordering::Relaxed),
        p.skipped.load(Ordering::Relaxed) + before.skipped,
    );
    let mut err = std::io::stderr();
    if tty {
        let _ = write!(err, "\r\x1b[2K{line}");
        if last {
            let _ = writeln!(err);
        }
    } else {
        let _ = writeln!(err, "{line}");
    }
}
