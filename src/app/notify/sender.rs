//! The outbox sender of `kairan serve`: claims due mails with a lease, sends them one by one
//! on one reused session, and records each outcome before the next send. It wakes when a
//! mail is queued in this process ([`Notifier::wake`]), when the next retry is due, and once
//! a second for what other processes queued.
//!
//! Faults: a database error stops the sender where it is; an outcome it could not record is
//! kept and recorded when the database answers again (the mail stays leased to this process,
//! its lease renewed, so no other sender sends it meanwhile), giving up only after
//! `dispatch.db_patience`. A transport that cannot be reached defers the whole claim (no
//! attempt is counted) and is tried again after a growing wait. On shutdown the sender
//! finishes the mail in hand, then keeps sending what is due until nothing is left or the
//! drain time runs out; what is left stays queued for the next start.
//!
//! Depends on the notify use case, the ports and tokio.

use std::time::{Duration, Instant};

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::{Notifier, log_outcome};
use crate::app::ports::MailSession;
use crate::domain::{MailOutcome, QueuedMail};

/// The note on a claimed mail given back unsent (shutdown, or the transport is down).
const HANDED_BACK: &str = "handed back unsent";
/// Mails claimed at once.
const CLAIM: u32 = 16;
/// The longest the sender sleeps without looking for mail queued by another process.
const POLL: Duration = Duration::from_secs(1);
/// Finished mails are kept this long (the operator's view; per-address caps), then deleted.
const KEEP: chrono::Duration = chrono::Duration::days(30);

/// Runs until `shutdown`, then drains for at most `drain`.
pub async fn run(n: Notifier, shutdown: CancellationToken, drain: Duration) {
    let mut s = Sender {
        n,
        session: None,
        unreachable: 0,
        reconnect_at: Instant::now(),
        pruned_at: None,
    };
    let never = CancellationToken::new();
    while !shutdown.is_cancelled() {
        match s.round(&shutdown, None).await {
            Round::Sent => continue,
            Round::Idle => s.idle(&shutdown).await,
            Round::Unavailable(wait) => {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            Round::GaveUp => return,
        }
    }
    // Drain: what is due now goes out before the process exits, within `drain`.
    let deadline = Instant::now() + drain;
    loop {
        if Instant::now() >= deadline || s.reconnect_at > Instant::now() {
            break;
        }
        match s.round(&never, Some(deadline)).await {
            Round::Sent => continue,
            _ => break,
        }
    }
    s.close().await;
}

enum Round {
    /// Claimed and handled some mail.
    Sent,
    /// Nothing due.
    Idle,
    /// The database did not answer; try again after this.
    Unavailable(Duration),
    /// An outcome could not be recorded within `dispatch.db_patience`.
    GaveUp,
}

struct Sender {
    n: Notifier,
    session: Option<Box<dyn MailSession>>,
    /// Failed connections in a row.
    unreachable: u32,
    /// Not before this, after the transport could not be reached.
    reconnect_at: Instant,
    pruned_at: Option<Instant>,
}

impl Sender {
    /// Claims what is due and sends it; `deadline` bounds a drain.
    async fn round(&mut self, shutdown: &CancellationToken, deadline: Option<Instant>) -> Round {
        if self.reconnect_at > Instant::now() {
            return Round::Idle;
        }
        let now = Utc::now();
        let lease = self.n.lease();
        let batch = match self
            .n
            .store
            .claim_mails(&self.n.owner, CLAIM, now, now + lease)
            .await
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "outbox: cannot claim mail; retrying");
                metrics::counter!(crate::metrics::DB_RETRIES, "task" => "outbox").increment(1);
                return Round::Unavailable(Duration::from_secs(2));
            }
        };
        if batch.is_empty() {
            return Round::Idle;
        }
        let mut renewed = Instant::now();
        for mail in batch {
            let stop = shutdown.is_cancelled()
                || deadline.is_some_and(|d| Instant::now() >= d)
                || self.reconnect_at > Instant::now();
            let outcome = if stop {
                // Back to the queue, due when the transport may be tried again.
                let wait = self.reconnect_at.saturating_duration_since(Instant::now());
                MailOutcome::Deferred {
                    at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                    error: HANDED_BACK.into(),
                }
            } else {
                if renewed.elapsed() > lease.to_std().unwrap_or_default() / 3 {
                    let until = Utc::now() + lease;
                    // A failure here is seen again at the recording below.
                    let _ = self.n.store.renew_mail_leases(&self.n.owner, until).await;
                    renewed = Instant::now();
                }
                let session = match &mut self.session {
                    Some(s) => s,
                    None => self.session.insert(self.n.mailer.session().await),
                };
                let outcome = self
                    .n
                    .attempt(session.as_mut(), &mail, self.unreachable)
                    .await;
                self.note_transport(&outcome);
                outcome
            };
            if !self.record(&mail, &outcome).await {
                return Round::GaveUp;
            }
        }
        self.prune().await;
        Round::Sent
    }

    /// Counts failed connections: after one, the rest of the claim is handed back and the
    /// sender waits before connecting again.
    fn note_transport(&mut self, outcome: &MailOutcome) {
        match outcome {
            MailOutcome::Deferred { .. } => {
                let wait = super::reconnect_wait(self.unreachable);
                self.unreachable += 1;
                self.reconnect_at = Instant::now() + wait;
                self.session = None;
            }
            MailOutcome::Sent { .. } | MailOutcome::Retry { .. } | MailOutcome::Failed { .. } => {
                self.unreachable = 0
            }
            MailOutcome::Cancelled { .. } => {}
        }
    }

    /// Records an outcome, retrying while the database does not answer, up to
    /// `dispatch.db_patience`. Returns false when it gave up.
    async fn record(&mut self, mail: &QueuedMail, outcome: &MailOutcome) -> bool {
        let patience = self.n.settings.dispatch.db_patience;
        let started = Instant::now();
        let mut wait = Duration::from_millis(100);
        loop {
            match self
                .n
                .store
                .record_mail(mail.id, &self.n.owner, outcome, Utc::now())
                .await
            {
                Ok(_) => {
                    if !matches!(outcome, MailOutcome::Deferred { error, .. } if error == HANDED_BACK)
                    {
                        log_outcome(mail, outcome);
                    }
                    return true;
                }
                Err(e) if started.elapsed() < patience => {
                    tracing::warn!(mail_id = mail.id.get(), error = %e, retry_in = ?wait, "outbox: cannot record a mail's outcome; keeping it and retrying");
                    metrics::counter!(crate::metrics::DB_RETRIES, "task" => "outbox").increment(1);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::error!(mail_id = mail.id.get(), error = %e, ?patience, "outbox: the database stayed unreachable past dispatch.db_patience; the outcome is lost and the mail may be sent again");
                    return false;
                }
            }
        }
    }

    /// Waits for a wake-up, the next due mail, the poll interval, or shutdown; closes the
    /// session meanwhile when nothing is due soon.
    async fn idle(&mut self, shutdown: &CancellationToken) {
        let due = self.n.store.next_mail_due().await.ok().flatten();
        let wait = due
            .map(|at| (at - Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(POLL)
            .min(POLL)
            .max(self.reconnect_at.saturating_duration_since(Instant::now()));
        if wait >= POLL {
            self.close().await;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = self.n.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }

    async fn close(&mut self) {
        if let Some(mut s) = self.session.take() {
            s.close().await;
        }
    }

    /// Deletes finished mails older than [`KEEP`], once an hour.
    async fn prune(&mut self) {
        if self
            .pruned_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(3600))
        {
            return;
        }
        self.pruned_at = Some(Instant::now());
        match self.n.store.prune_mails(Utc::now() - KEEP).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "outbox: finished mails pruned"),
            Err(e) => tracing::warn!(error = %e, "outbox: cannot prune finished mails"),
        }
    }
}
