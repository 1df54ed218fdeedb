//! The dispatcher: sends a campaign's deliveries on `dispatch.concurrency` workers, each with
//! its own reused SMTP session, under the delivery guarantees of `docs/contracts.md`.
//!
//! Each worker loops: claim a batch (a lease in the database), and for each delivery skip it
//! if the subscriber left, defer it if its domain is throttled (the worker moves on to other
//! domains instead of sleeping on a connection), take a slot on the campaign-wide rate
//! schedule, personalise the pre-rendered message, send, and classify the reply. The next
//! batch is claimed in the background, under the worker's second lease name, while the last
//! quarter of the current one is sent (`Ahead`); a worker that stops hands both back.
//!
//! The ledger: every outcome goes to one recorder task per run, which commits what all
//! workers handed it in one statement (group commit) whenever it is idle: what arrives while
//! a commit runs is the next group; only the lease's owner's outcome applies
//! (`record_leased_outcomes`). A worker keeps
//! a window of two: it may not start message N+2 before N's outcome is durable, so after
//! `kill -9` at most two messages per worker were sent and not recorded (the duplicates, each
//! re-sent with the same Message-ID). A database error stops the workers from sending more
//! (their windows fill) while the recorder keeps the outcomes it holds and retries with
//! backoff up to `dispatch.db_patience`; rows with unrecorded sends are never handed back.
//! Every other database call of the run rides out an outage the same way ([`DbHealth`]).
//!
//! Leases are short (`dispatch.lease`) and renewed by a heartbeat while the run lives; a
//! lease whose owner is a process of this host that is gone (`Processes`) is taken back at
//! once, so a restart after a crash resumes in seconds. What a worker cannot finish (pause,
//! cancel, shutdown) it hands back as deferred through the same ledger.
//!
//! Depends on the domain, the ports (issues, deliveries, outbound mail, host), the settings
//! and render; the lease owner's name (host, process) comes from the caller.

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, Notify, watch};
use tokio_util::sync::CancellationToken;

use super::ports::{
    Instance, LeasedOutcome, MailSession, Mailer, OutgoingMessage, Processes, SendOutcome,
    SmtpStage, Store, StoreError,
};
use crate::config::Settings;
use crate::domain::delivery::{Attempt, Decision, RetryPolicy, decide};
use crate::domain::token::{Purpose, Signer};
use crate::domain::{ClaimedDelivery, DeliveryOutcome, Issue};
use crate::domain::{DeliveryId, IssueId, IssueState, LangPref, SubscriberId, SubscriberStatus};
use crate::render::Renderer;
use crate::render::campaign::{Prepared, Recipient};

/// Pause, cancel and readers who left are looked at after this many messages…
pub const CHECK_EVERY: usize = 32;
/// …or this long, whichever comes first.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// Outcomes a worker may have sent but not yet recorded (the duplicates after `kill -9`).
pub const WINDOW: usize = 2;
/// The most outcomes the recorder commits in one transaction.
const GROUP_MAX: usize = 2048;

/// Counts one runner reports as it goes (for `kairan send`'s progress line and logs).
#[derive(Debug, Default)]
pub struct Progress {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub skipped: AtomicU64,
    pub deferred: AtomicU64,
    /// What the run waits for when it has nothing to send (another process's leases).
    pub waiting: std::sync::Mutex<Option<String>>,
}

impl Progress {
    fn count(&self, outcome: &DeliveryOutcome) {
        let c = match outcome {
            DeliveryOutcome::Sent { .. } => &self.sent,
            DeliveryOutcome::Failed { .. } => &self.failed,
            DeliveryOutcome::Retry { .. } => &self.retried,
            DeliveryOutcome::Skipped { .. } => &self.skipped,
            DeliveryOutcome::Deferred { .. } => &self.deferred,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn wait_for(&self, what: Option<String>) {
        *self.waiting.lock().expect("not poisoned") = what;
    }
}

/// How a campaign run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Every delivery is final; the issue is `sent`.
    Finished,
    /// The issue is no longer `sending` (paused or cancelled).
    Stopped(IssueState),
    /// Shutdown was requested.
    Shutdown,
}

/// Names the leases of one process's workers: `host:pid:start`, the start time telling a
/// process from a later one that reused its pid. The composition root builds this (the host
/// adapter knows the start time) and passes it in; workers add `:wN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOwner(String);

impl LeaseOwner {
    pub fn new(host: &str, pid: u32, start: &str) -> Self {
        LeaseOwner(format!("{host}:{pid}:{start}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host, pid and start time of a lease owner as stored (a worker's `:wN` or
    /// `:wN.1`, its second lease name, ignored).
    pub fn parse(owner: &str) -> Option<(&str, u32, &str)> {
        let worker = |w: &str| {
            let n = w.strip_prefix('w')?;
            let n = n.strip_suffix(".1").unwrap_or(n);
            n.parse::<u32>().ok()
        };
        let base = match owner.rsplit_once(':') {
            Some((base, w)) if worker(w).is_some() => base,
            _ => owner,
        };
        let (rest, start) = base.rsplit_once(':')?;
        let (host, pid) = rest.rsplit_once(':')?;
        Some((host, pid.parse().ok()?, start))
    }
}

/// How the database has been answering this process's sending tasks: outages ridden out,
/// retries and the time spent waiting (for `kairan status`, the `instances` row and logs).
#[derive(Debug, Default)]
pub struct DbHealth {
    since: std::sync::Mutex<Option<Instant>>,
    pub outages: AtomicU64,
    pub retries: AtomicU64,
    pub wait_ms: AtomicU64,
    /// The last outage's length, in milliseconds.
    pub last_outage_ms: AtomicU64,
}

impl DbHealth {
    /// How long the current outage has lasted, if the database is not answering.
    pub fn outage(&self) -> Option<Duration> {
        self.since
            .lock()
            .expect("not poisoned")
            .map(|t| t.elapsed())
    }

    /// Runs `f` until it succeeds, retrying with backoff while the database is unavailable,
    /// for at most `patience` from the first failure. Other errors are returned at once.
    pub async fn patient<T, F, Fut>(
        &self,
        patience: Duration,
        what: &str,
        mut f: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut wait = Duration::from_millis(50);
        let mut first: Option<Instant> = None;
        loop {
            match f().await {
                Ok(v) => {
                    if first.is_some() {
                        self.back();
                    }
                    return Ok(v);
                }
                Err(StoreError::Unavailable(e)) => {
                    let t0 = *first.get_or_insert_with(Instant::now);
                    if t0.elapsed() >= patience {
                        tracing::error!(task = what, error = %e, ?patience, "the database stayed unavailable past dispatch.db_patience; giving up");
                        return Err(StoreError::Unavailable(e));
                    }
                    self.down(what, &*e);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn down(&self, what: &str, e: &(dyn std::error::Error + Send + Sync)) {
        let mut since = self.since.lock().expect("not poisoned");
        if since.is_none() {
            *since = Some(Instant::now());
            self.outages.fetch_add(1, Ordering::Relaxed);
            metrics::gauge!(crate::metrics::DB_UNAVAILABLE).set(1.0);
            tracing::warn!(task = what, error = %e, "the database is unavailable: sending paused, unrecorded outcomes kept; retrying up to dispatch.db_patience");
        }
        self.retries.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(crate::metrics::DB_RETRIES, "task" => "dispatch").increment(1);
    }

    fn back(&self) {
        if let Some(t) = self.since.lock().expect("not poisoned").take() {
            let ms = t.elapsed().as_millis() as u64;
            self.wait_ms.fetch_add(ms, Ordering::Relaxed);
            self.last_outage_ms.store(ms, Ordering::Relaxed);
            metrics::gauge!(crate::metrics::DB_UNAVAILABLE).set(0.0);
            tracing::info!(
                outage_ms = ms,
                "the database answers again; sending continues"
            );
        }
    }
}

/// Everything a campaign run needs; shared by its workers.
pub struct Dispatcher {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub renderer: Arc<Renderer>,
    pub settings: Arc<Settings>,
    pub signer: Arc<Signer>,
    /// How the database answers (shared by every run of this process).
    pub health: Arc<DbHealth>,
    domains: DomainLimiter,
    /// Names this process's leases.
    owner: LeaseOwner,
    processes: Arc<dyn Processes>,
    started_at: DateTime<Utc>,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        renderer: Arc<Renderer>,
        settings: Arc<Settings>,
        signer: Arc<Signer>,
        owner: LeaseOwner,
        processes: Arc<dyn Processes>,
    ) -> Arc<Self> {
        Arc::new(Dispatcher {
            domains: DomainLimiter::new(settings.dispatch.domain_limits.clone()),
            store,
            mailer,
            renderer,
            settings,
            signer,
            health: Arc::new(DbHealth::default()),
            owner,
            processes,
            started_at: Utc::now(),
        })
    }

    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: self.settings.dispatch.retry_base,
            max: self.settings.dispatch.retry_max,
            max_attempts: self.settings.dispatch.max_attempts,
        }
    }

    /// A store call that rides out an outage up to `dispatch.db_patience`.
    async fn patient<T, F, Fut>(&self, what: &str, f: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        self.health
            .patient(self.settings.dispatch.db_patience, what, f)
            .await
    }

    /// This process as its heartbeat records it (`kairan status` lists them).
    fn instance(&self) -> Instance {
        let h = &self.health;
        let (host, pid) = match LeaseOwner::parse(self.owner.as_str()) {
            Some((host, pid, _)) => (host.to_owned(), i64::from(pid)),
            None => (self.processes.host().to_owned(), 0),
        };
        let last = h.last_outage_ms.load(Ordering::Relaxed);
        Instance {
            owner: self.owner.as_str().to_owned(),
            host,
            pid,
            command: std::env::args().nth(1).unwrap_or_default(),
            started_at: self.started_at,
            heartbeat_at: Utc::now(),
            db_outages: h.outages.load(Ordering::Relaxed) as i64,
            db_retries: h.retries.load(Ordering::Relaxed) as i64,
            db_wait_ms: h.wait_ms.load(Ordering::Relaxed) as i64,
            last_outage_ms: (last > 0).then_some(last as i64),
        }
    }

    fn lease_until(&self) -> DateTime<Utc> {
        Utc::now()
            + chrono::Duration::from_std(self.settings.dispatch.lease)
                .unwrap_or(chrono::Duration::seconds(30))
    }

    /// Sends issue `id` until it is done, stopped, or `shutdown` is cancelled.
    pub async fn run(
        self: &Arc<Self>,
        id: IssueId,
        shutdown: CancellationToken,
        progress: Arc<Progress>,
    ) -> anyhow::Result<RunEnd> {
        let issue = self
            .patient("load issue", || self.store.issue(id))
            .await?
            .ok_or_else(|| anyhow::anyhow!("issue {id} not found"))?;
        let ledger = Arc::new(Ledger::new());
        let recorder = tokio::spawn(record(self.clone(), ledger.clone()));
        let run = Arc::new(Run {
            d: self.clone(),
            issue,
            prepared: Mutex::new(HashMap::new()),
            budget: CampaignBudget::new(
                format!("issue:{id}"),
                self.settings.dispatch.rate_per_minute,
            ),
            progress,
            shutdown,
            ledger: ledger.clone(),
            looked_for_dead: std::sync::Mutex::new(None),
        });
        // Leases left by a process of this host that is gone come back before the first claim.
        if let Err(e) = run.take_back_from_the_dead().await {
            tracing::warn!(error = %e, "cannot look for leases of stopped processes");
        }
        let beat = CancellationToken::new();
        let heartbeat = tokio::spawn(heartbeat(self.clone(), id, beat.clone()));
        let mut workers = Vec::new();
        for w in 0..self.settings.dispatch.concurrency {
            let run = run.clone();
            workers.push(tokio::spawn(async move { run.worker(w).await }));
        }
        let mut end = RunEnd::Finished;
        let mut error = None;
        for w in workers {
            match w.await {
                Ok(Ok(e)) => {
                    if e != RunEnd::Finished {
                        end = e;
                    }
                }
                Ok(Err(e)) => error = Some(e),
                Err(e) => error = Some(anyhow::anyhow!("a dispatch worker panicked: {e}")),
            }
        }
        // The workers are gone: the recorder commits what it holds and ends; the heartbeat
        // keeps the leases alive until then.
        drop(run);
        ledger.close();
        match recorder.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error = Some(e),
            Err(e) => error = Some(anyhow::anyhow!("the outcome recorder panicked: {e}")),
        }
        beat.cancel();
        let _ = heartbeat.await;
        if let Some(e) = error {
            return Err(e);
        }
        Ok(end)
    }
}

/// The outcomes handed to the recorder and not yet committed, numbered in the order they
/// came (1, 2, …): `durable` says up to which number everything is committed, so a worker
/// waits on a number rather than on a channel per message.
struct Ledger {
    queue: std::sync::Mutex<Queued>,
    /// Wakes the idle recorder: a first outcome, the end.
    wake: Notify,
    durable: watch::Sender<u64>,
    /// The recorder gave up (the database stayed away past `dispatch.db_patience`).
    failed: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct Queued {
    outcomes: Vec<LeasedOutcome>,
    last: u64,
    closed: bool,
}

impl Ledger {
    fn new() -> Self {
        Ledger {
            queue: std::sync::Mutex::new(Queued::default()),
            wake: Notify::new(),
            durable: watch::Sender::new(0),
            failed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Queues an outcome; returns its number.
    fn submit(&self, o: LeasedOutcome) -> u64 {
        let (n, len) = {
            let mut q = self.queue.lock().expect("not poisoned");
            q.last += 1;
            q.outcomes.push(o);
            (q.last, q.outcomes.len())
        };
        if len == 1 {
            self.wake.notify_one();
        }
        n
    }

    /// Waits until outcome `n` is durable; false if it never will be.
    async fn wait(&self, n: u64) -> bool {
        let mut rx = self.durable.subscribe();
        if *rx.borrow_and_update() >= n {
            return true;
        }
        loop {
            if self.failed.load(Ordering::SeqCst) {
                return false;
            }
            if *rx.borrow_and_update() >= n {
                return true;
            }
            if rx.changed().await.is_err() {
                return false;
            }
        }
    }

    fn close(&self) {
        self.queue.lock().expect("not poisoned").closed = true;
        self.wake.notify_one();
    }
}

/// The recorder (group commit): whenever it is idle and outcomes are queued, it commits all
/// of them (up to [`GROUP_MAX`]) in one statement or transaction; what the workers hand in
/// while a commit runs is the next group. So a commit carries several workers' outcomes
/// (about as many as arrive during one commit) and no outcome waits for a group to fill.
/// Retries through an outage up to `dispatch.db_patience`. Ends when the run closed the
/// ledger and everything is recorded; an error means outcomes were lost (their rows stay
/// leased and come back when the lease runs out).
async fn record(d: Arc<Dispatcher>, ledger: Arc<Ledger>) -> anyhow::Result<()> {
    let (mut commits, mut recorded, mut not_applied) = (0u64, 0u64, 0u64);
    loop {
        let (outcomes, upto) = loop {
            {
                let mut q = ledger.queue.lock().expect("not poisoned");
                let n = q.outcomes.len();
                if n > 0 {
                    let take = n.min(GROUP_MAX);
                    let rest = q.outcomes.split_off(take);
                    let outcomes = std::mem::replace(&mut q.outcomes, rest);
                    break (outcomes, q.last - (n - take) as u64);
                }
                if q.closed {
                    log_done(commits, recorded, not_applied);
                    return Ok(());
                }
            }
            // A permit stored by a `submit` or `close` since the look above wakes at once.
            ledger.wake.notified().await;
        };
        let applied = d
            .patient("record outcomes", || {
                d.store.record_leased_outcomes(&outcomes, Utc::now())
            })
            .await;
        match applied {
            Ok(n) => {
                commits += 1;
                recorded += outcomes.len() as u64;
                not_applied += outcomes.len() as u64 - n.min(outcomes.len() as u64);
                ledger.durable.send_replace(upto);
            }
            Err(e) => {
                let sent = outcomes
                    .iter()
                    .filter(|o| matches!(o.outcome, DeliveryOutcome::Sent { .. }))
                    .count();
                tracing::error!(error = %e, outcomes = outcomes.len(), sent, "outcomes could not be recorded; their deliveries come back when the lease runs out and may be sent again");
                ledger.failed.store(true, Ordering::SeqCst);
                ledger.durable.send_modify(|_| {});
                return Err(anyhow::anyhow!("cannot record delivery outcomes: {e}"));
            }
        }
    }
}

/// Logs what the recorder did in a run.
fn log_done(commits: u64, recorded: u64, not_applied: u64) {
    if commits > 0 {
        // Outcomes not applied: their lease was taken back meanwhile, or a deferral of a
        // delivery whose reader left.
        tracing::info!(
            outcomes = recorded,
            commits,
            mean_group = format!("{:.1}", recorded as f64 / commits as f64),
            not_applied,
            "ledger: outcomes recorded"
        );
    }
}

/// Renews this process's leases on the issue every third of `dispatch.lease` until `stop`,
/// so a live run's leases never lapse however long a batch takes.
async fn heartbeat(d: Arc<Dispatcher>, issue: IssueId, stop: CancellationToken) {
    let lease = d.settings.dispatch.lease;
    let prefix = format!("{}:", d.owner.as_str());
    loop {
        if let Err(e) = d.store.beat_instance(&d.instance()).await {
            tracing::debug!(error = %e, "cannot record this instance's heartbeat");
        }
        tokio::select! {
            _ = stop.cancelled() => {
                // The run's last figures (an outage it rode out) stay visible.
                let _ = d.store.beat_instance(&d.instance()).await;
                return;
            }
            _ = tokio::time::sleep(lease / 3) => {}
        }
        if let Err(e) = d.store.renew_leases(issue, &prefix, d.lease_until()).await {
            tracing::warn!(error = %e, "cannot renew leases; retrying");
        }
    }
}

/// One issue being sent.
struct Run {
    d: Arc<Dispatcher>,
    issue: Issue,
    prepared: Mutex<HashMap<LangPref, Arc<Prepared>>>,
    budget: CampaignBudget,
    progress: Arc<Progress>,
    shutdown: CancellationToken,
    ledger: Arc<Ledger>,
    looked_for_dead: std::sync::Mutex<Option<Instant>>,
}

/// The next batch, claimed while a worker sends the last quarter of the current one, so the
/// worker does not stop for the claim (on PostgreSQL a claim of 500 takes tens of
/// milliseconds). Under the worker's other lease name (`turn`).
struct Ahead {
    turn: usize,
    owner: Arc<str>,
    claim: tokio::task::JoinHandle<Result<Vec<ClaimedDelivery>, StoreError>>,
}

impl Ahead {
    async fn rows(self) -> anyhow::Result<Vec<ClaimedDelivery>> {
        match self.claim.await {
            Ok(rows) => Ok(rows?),
            Err(e) => Err(anyhow::anyhow!("claiming ahead panicked: {e}")),
        }
    }
}

/// How often a worker with nothing to claim looks for leases of stopped processes.
const LOOK_FOR_DEAD: Duration = Duration::from_secs(1);

impl Run {
    async fn prepared(&self, pref: LangPref) -> anyhow::Result<Arc<Prepared>> {
        let mut cache = self.prepared.lock().await;
        if let Some(p) = cache.get(&pref) {
            return Ok(p.clone());
        }
        let p = Arc::new(Prepared::new(
            &self.d.renderer,
            &self.d.settings,
            &self.issue,
            pref,
        )?);
        cache.insert(pref, p.clone());
        Ok(p)
    }

    async fn state(&self) -> Result<IssueState, StoreError> {
        Ok(self
            .d
            .patient("read issue state", || {
                self.d.store.issue_state(self.issue.id)
            })
            .await?
            .unwrap_or(IssueState::Cancelled))
    }

    /// Hands an outcome to the recorder; returns its number in the ledger.
    fn submit(&self, owner: &Arc<str>, id: DeliveryId, outcome: DeliveryOutcome) -> u64 {
        let o = LeasedOutcome {
            id,
            owner: owner.clone(),
            outcome,
        };
        self.ledger.submit(o)
    }

    /// Ends the leases of this host's processes that are gone, so their deliveries are
    /// claimed now; returns the other holders (alive, or on another host) with their counts.
    async fn take_back_from_the_dead(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let id = self.issue.id;
        let holders = self
            .d
            .patient("read leases", || self.d.store.lease_holders(id, Utc::now()))
            .await?;
        let mine = format!("{}:", self.d.owner.as_str());
        let probe = &self.d.processes;
        let mut others = Vec::new();
        for (owner, n) in holders {
            if owner.starts_with(&mine) {
                continue;
            }
            match LeaseOwner::parse(&owner) {
                Some((host, pid, start)) if host == probe.host() && probe.is_gone(pid, start) => {
                    let taken = self
                        .d
                        .patient("take back leases", || {
                            self.d.store.expire_leases(id, &owner, Utc::now())
                        })
                        .await?;
                    tracing::info!(
                        issue_id = id.get(),
                        owner,
                        deliveries = taken,
                        "took back the leases of a stopped process"
                    );
                }
                _ => others.push((owner, n)),
            }
        }
        Ok(others)
    }

    /// Looks for dead holders (at most every [`LOOK_FOR_DEAD`]) and says what the run waits
    /// for.
    async fn look_around(&self) -> Result<(), StoreError> {
        {
            let mut at = self.looked_for_dead.lock().expect("not poisoned");
            if at.is_some_and(|t| t.elapsed() < LOOK_FOR_DEAD) {
                return Ok(());
            }
            *at = Some(Instant::now());
        }
        let others = self.take_back_from_the_dead().await?;
        let lease = self.d.settings.dispatch.lease;
        let here = self.d.processes.host().to_owned();
        let what = others
            .iter()
            .map(|(owner, n)| match LeaseOwner::parse(owner) {
                Some((host, pid, _)) if host == here => format!(
                    "{n} deliveries leased to process {pid} on this host, which is running"
                ),
                Some((host, pid, _)) => format!(
                    "{n} deliveries leased to process {pid} on {host}; they come back at most {lease:?} after it stops"
                ),
                None => format!("{n} deliveries leased to {owner}"),
            })
            .collect::<Vec<_>>();
        self.progress.wait_for(if what.is_empty() {
            None
        } else {
            Some(format!("waiting for {}", what.join("; ")))
        });
        Ok(())
    }

    async fn worker(self: Arc<Self>, n: u32) -> anyhow::Result<RunEnd> {
        // Two lease names, one per batch in turn: the next batch is claimed under the other
        // name while this one is sent (a claim also takes back its own name's leases, which
        // must then be none the worker still holds).
        let base = format!("{}:w{n}", self.d.owner.as_str());
        let owners: [Arc<str>; 2] = [base.as_str().into(), format!("{base}.1").into()];
        let mut session = self.d.mailer.session().await;
        let mut ahead = None;
        let result = self.work(&owners, session.as_mut(), &mut ahead).await;
        if let Some(claim) = ahead {
            self.hand_back(claim).await;
        }
        session.close().await;
        result
    }

    async fn work(
        self: &Arc<Self>,
        owners: &[Arc<str>; 2],
        session: &mut dyn MailSession,
        ahead: &mut Option<Ahead>,
    ) -> anyhow::Result<RunEnd> {
        let store = &self.d.store;
        let id = self.issue.id;
        let mut turn = 0;
        loop {
            if self.shutdown.is_cancelled() {
                return Ok(RunEnd::Shutdown);
            }
            if let Some(end) = end_for(self.state().await?) {
                return Ok(end);
            }
            let batch = match ahead.take() {
                Some(claim) => {
                    turn = claim.turn;
                    claim.rows().await?
                }
                None => self.claim(&owners[turn]).await?,
            };
            if batch.is_empty() {
                let counts = self
                    .d
                    .patient("count deliveries", || store.delivery_counts(id))
                    .await?;
                if counts.open() == 0 {
                    let finished = self
                        .d
                        .patient("finish issue", || {
                            store.finish_issue_if_done(id, Utc::now())
                        })
                        .await?;
                    if finished {
                        tracing::info!(issue_id = id.get(), "campaign finished");
                    }
                    self.progress.wait_for(None);
                    return Ok(RunEnd::Finished);
                }
                // Others hold leases (perhaps a process that is gone), or retries are not due.
                self.look_around().await?;
                tokio::select! {
                    _ = self.shutdown.cancelled() => return Ok(RunEnd::Shutdown),
                    _ = tokio::time::sleep(Duration::from_millis(250)) => continue,
                }
            }
            self.progress.wait_for(None);
            let next = (turn + 1) % 2;
            if let Some(end) = self
                .batch(&owners[turn], session, batch, (next, &owners[next]), ahead)
                .await?
            {
                return Ok(end);
            }
        }
    }

    /// Leases the next batch to `owner`, riding out an outage.
    async fn claim(&self, owner: &str) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let d = &self.d;
        d.patient("claim deliveries", || {
            d.store.claim_deliveries(
                self.issue.id,
                owner,
                d.settings.dispatch.batch_size,
                Utc::now(),
                d.lease_until(),
            )
        })
        .await
    }

    /// Claims the next batch under `owner` in the background (see [`Ahead`]).
    fn claim_ahead(self: &Arc<Self>, turn: usize, owner: &Arc<str>) -> Ahead {
        let (run, name) = (self.clone(), owner.clone());
        let claim = tokio::spawn(async move { run.claim(&name).await });
        Ahead {
            turn,
            owner: owner.clone(),
            claim,
        }
    }

    /// A worker that ends with a batch claimed ahead hands it back unsent, through the
    /// ledger like the rest of what it could not send.
    async fn hand_back(&self, ahead: Ahead) {
        let owner = ahead.owner.clone();
        match ahead.rows().await {
            Ok(rows) => {
                let mut last = None;
                for d in rows {
                    last = Some(self.submit(&owner, d.id, deferred("handed back unsent")));
                }
                if let Some(n) = last
                    && !self.ledger.wait(n).await
                {
                    tracing::warn!(
                        worker = &*owner,
                        "a batch claimed ahead could not be handed back; it comes back when its lease runs out"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(worker = &*owner, error = %e, "claiming ahead failed");
            }
        }
    }

    /// Sends one claimed batch. Returns `Some` when the run must end (pause, shutdown). On
    /// an error, what was not attempted is handed back and what was is still recorded.
    async fn batch(
        self: &Arc<Self>,
        owner: &Arc<str>,
        session: &mut dyn MailSession,
        batch: Vec<ClaimedDelivery>,
        (next_turn, next_owner): (usize, &Arc<str>),
        ahead: &mut Option<Ahead>,
    ) -> anyhow::Result<Option<RunEnd>> {
        let started = Instant::now();
        let total = batch.len();
        // The next batch is claimed when this one has a quarter left.
        let claim_at = (self.d.settings.dispatch.batch_size as usize / 4).max(1);
        let mut window: VecDeque<u64> = VecDeque::with_capacity(WINDOW + 1);
        let mut since_check = 0usize;
        let mut checked = Instant::now();
        let mut stop: Option<RunEnd> = None;
        let mut failure: Option<anyhow::Error> = None;
        let mut counts = [0u32; 5];
        let mut queue: VecDeque<ClaimedDelivery> = batch.into();
        while let Some(d) = queue.pop_front() {
            if self.shutdown.is_cancelled() {
                stop = Some(RunEnd::Shutdown);
            }
            if stop.is_some() {
                queue.push_front(d);
                break;
            }
            // The window: message N+2 waits until N's outcome is durable.
            while window.len() >= WINDOW {
                let n = window.pop_front().expect("not empty");
                if !self.ledger.wait(n).await {
                    return Err(anyhow::anyhow!(
                        "delivery outcomes could not be recorded; stopping"
                    ));
                }
            }
            let outcome = match self.one(session, &d).await {
                Ok(Some(o)) => o,
                Ok(None) => {
                    // Shutdown while waiting for a send slot.
                    queue.push_front(d);
                    stop = Some(RunEnd::Shutdown);
                    break;
                }
                Err(e) => {
                    queue.push_front(d);
                    failure = Some(e);
                    break;
                }
            };
            counts[slot(&outcome)] += 1;
            self.progress.count(&outcome);
            window.push_back(self.submit(owner, d.id, outcome));
            if ahead.is_none() && queue.len() <= claim_at && !self.shutdown.is_cancelled() {
                *ahead = Some(self.claim_ahead(next_turn, next_owner));
            }
            since_check += 1;
            if since_check >= CHECK_EVERY || checked.elapsed() >= CHECK_INTERVAL {
                since_check = 0;
                checked = Instant::now();
                if let Err(e) = self.check(&mut queue, &mut counts, &mut stop).await {
                    failure = Some(e.into());
                    break;
                }
            }
        }
        for d in queue {
            window.push_back(self.submit(owner, d.id, deferred("handed back unsent")));
        }
        if let Some(&last) = window.back()
            && !self.ledger.wait(last).await
        {
            return Err(failure.unwrap_or_else(|| {
                anyhow::anyhow!("delivery outcomes could not be recorded; stopping")
            }));
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let secs = started.elapsed().as_secs_f64().max(0.001);
        tracing::info!(
            issue_id = self.issue.id.get(),
            worker = &**owner,
            claimed = total,
            sent = counts[0],
            retry = counts[1],
            failed = counts[2],
            skipped = counts[3],
            deferred = counts[4],
            rate = format!("{:.0}/s", f64::from(counts[0]) / secs),
            "batch done"
        );
        Ok(stop)
    }

    /// Pause and cancel take effect within a batch, and a reader who left meanwhile is
    /// dropped from it (the store skipped their delivery when they unsubscribed).
    async fn check(
        &self,
        queue: &mut VecDeque<ClaimedDelivery>,
        counts: &mut [u32; 5],
        stop: &mut Option<RunEnd>,
    ) -> Result<(), StoreError> {
        if let Some(end) = end_for(self.state().await?) {
            *stop = Some(end);
        }
        let ids: Vec<DeliveryId> = queue.iter().map(|d| d.id).collect();
        let left = self
            .d
            .patient("look for readers who left", || {
                self.d.store.skipped_among(self.issue.id, &ids)
            })
            .await?;
        if !left.is_empty() {
            queue.retain(|d| !left.contains(&d.id));
            counts[3] += left.len() as u32;
        }
        Ok(())
    }

    /// One delivery: skip, defer, or send and classify. `None`: shutdown came first.
    async fn one(
        &self,
        session: &mut dyn MailSession,
        d: &ClaimedDelivery,
    ) -> anyhow::Result<Option<DeliveryOutcome>> {
        if d.subscriber_status != SubscriberStatus::Active {
            return Ok(Some(DeliveryOutcome::Skipped {
                reason: format!("subscriber {}", d.subscriber_status),
            }));
        }
        // Normalised (lower-case, IDNA) when the address was parsed.
        let domain = d.email.domain();
        if let Err(not_before) = self.d.domains.try_acquire(domain) {
            return Ok(Some(DeliveryOutcome::Deferred {
                at: not_before,
                reason: format!("rate limit for {domain}"),
            }));
        }
        if !self.budget.take(&self.d, &self.shutdown).await? {
            return Ok(None);
        }
        let prepared = self.prepared(d.lang).await?;
        let msg = self.message(&prepared, d);
        let started = Instant::now();
        let outcome = session.send(&msg).await;
        metrics::histogram!("kairan_send_seconds").record(started.elapsed().as_secs_f64());
        let (attempt, reply) = classify(&outcome);
        metrics::counter!("kairan_smtp_replies_total", "class" => reply_class(&outcome))
            .increment(1);
        match &outcome {
            SendOutcome::Temporary { reply, .. } if is_throttle(reply) => {
                self.d.domains.slow_down(domain)
            }
            SendOutcome::Sent { .. } => self.d.domains.recover(domain),
            _ => {}
        }
        let decision = decide(
            &self.d.policy(),
            attempt,
            d.attempts.max(0) as u32,
            Utc::now(),
            rand::random::<f64>(),
        );
        let outcome = match decision {
            Decision::Sent => DeliveryOutcome::Sent { reply },
            Decision::Retry { at } => {
                tracing::warn!(issue_id = self.issue.id.get(), subscriber_id = d.subscriber_id.get(), reply = %crate::telemetry::redact_addresses(&reply), retry_at = %at, "temporary failure; will retry");
                DeliveryOutcome::Retry { at, reply }
            }
            Decision::Failed { hard_bounce } => {
                tracing::warn!(issue_id = self.issue.id.get(), subscriber_id = d.subscriber_id.get(), reply = %crate::telemetry::redact_addresses(&reply), hard_bounce, "delivery failed");
                DeliveryOutcome::Failed { reply, hard_bounce }
            }
        };
        let result = match &outcome {
            DeliveryOutcome::Sent { .. } => "sent",
            DeliveryOutcome::Retry { .. } => "retry",
            _ => "failed",
        };
        metrics::counter!("kairan_messages_total", "result" => result, "lang" => d.lang.as_str())
            .increment(1);
        Ok(Some(outcome))
    }

    /// The personalised message for one delivery.
    fn message(&self, prepared: &Prepared, d: &ClaimedDelivery) -> OutgoingMessage {
        let s = &self.d.settings;
        let now = Utc::now();
        let signer = &self.d.signer;
        let link = |path: &str, token: String| {
            s.http
                .base_url
                .join(&format!("{path}/{token}"))
                .map(|u| u.to_string())
                .unwrap_or_default()
        };
        let unsubscribe_token = signer.sign(d.subscriber_id.get(), Purpose::Unsubscribe, now);
        let unsubscribe = link("unsubscribe", unsubscribe_token.clone());
        let preferences = link(
            "preferences",
            signer.sign(d.subscriber_id.get(), Purpose::Preferences, now),
        );
        let verp = signer.sign(d.id.get(), Purpose::Bounce, now);
        let envelope_from = match &s.bounce.return_path {
            Some(rp) => format!("{}+{verp}@{}", rp.local_part(), rp.domain()),
            None => s.newsletter.from.address.to_string(),
        };
        let mailto = super::bounces::unsubscribe_mailto(s, &unsubscribe_token);
        let message_id = message_id(
            signer,
            self.issue.id,
            d.subscriber_id,
            s.newsletter.from.address.domain(),
        );
        let domain = d.email.domain();
        let legacy = s
            .newsletter
            .legacy_charset_domains
            .iter()
            .any(|l| l.eq_ignore_ascii_case(domain));
        let date = now.to_rfc2822();
        let r = Recipient {
            email: d.email.as_str(),
            name: d.name.as_deref(),
            unsubscribe_url: &unsubscribe,
            unsubscribe_mailto: &mailto,
            preferences_url: &preferences,
            message_id: &message_id,
            delivery_token: Some(&verp),
            legacy_charset: legacy,
            date: &date,
        };
        OutgoingMessage {
            envelope_from,
            envelope_to: d.email.to_string(),
            data: prepared.personalise(&r).into(),
            message_id,
        }
    }
}

/// Whether a worker should stop, given the issue's state: `sent` means another worker (or
/// process) recorded the last delivery, which is a normal end.
fn end_for(state: IssueState) -> Option<RunEnd> {
    match state {
        IssueState::Sending => None,
        IssueState::Sent => Some(RunEnd::Finished),
        other => Some(RunEnd::Stopped(other)),
    }
}

/// The same for every attempt of (issue, subscriber), so a resend after a crash is
/// recognisably the same message; tagged with the signing key, so a bounce quoting it
/// corroborates a delivery we made (`domain::message_id`).
pub fn message_id(
    signer: &Signer,
    issue: IssueId,
    subscriber: SubscriberId,
    domain: &str,
) -> String {
    crate::domain::message_id::campaign(signer, issue, subscriber, domain)
}

fn deferred(reason: &str) -> DeliveryOutcome {
    DeliveryOutcome::Deferred {
        at: Utc::now(),
        reason: reason.to_owned(),
    }
}

fn slot(o: &DeliveryOutcome) -> usize {
    match o {
        DeliveryOutcome::Sent { .. } => 0,
        DeliveryOutcome::Retry { .. } => 1,
        DeliveryOutcome::Failed { .. } => 2,
        DeliveryOutcome::Skipped { .. } => 3,
        DeliveryOutcome::Deferred { .. } => 4,
    }
}

fn classify(o: &SendOutcome) -> (Attempt, String) {
    match o {
        SendOutcome::Sent { reply } => (Attempt::Accepted, reply.clone()),
        SendOutcome::Temporary { reply, .. } => (Attempt::Temporary, reply.clone()),
        SendOutcome::Permanent {
            stage: SmtpStage::RcptTo | SmtpStage::Data,
            reply,
        } => (Attempt::RecipientRejected, reply.clone()),
        SendOutcome::Permanent { reply, .. } => (Attempt::SenderRejected, reply.clone()),
    }
}

fn reply_class(o: &SendOutcome) -> &'static str {
    match o {
        SendOutcome::Sent { .. } => "2xx",
        SendOutcome::Temporary {
            stage: SmtpStage::Connect,
            ..
        } => "connection",
        SendOutcome::Temporary { .. } => "4xx",
        SendOutcome::Permanent { .. } => "5xx",
    }
}

/// 421, or an enhanced status 4.7.x: the receiving domain asks us to slow down.
fn is_throttle(reply: &str) -> bool {
    reply.starts_with("421") || reply.contains(" 4.7.")
}

/// `dispatch.rate_per_minute` for the whole campaign as a schedule of send slots, one every
/// `60 s / limit`, shared by every process through the database (GCRA, `reserve_slots`): a
/// worker reserves a few consecutive slots at a time and waits for each, so no window of any
/// length sends more than its share (plus one chunk).
struct CampaignBudget {
    key: String,
    limit: u32,
    /// Reserved slots not yet used, earliest first (microseconds since the epoch).
    slots: std::sync::Mutex<BinaryHeap<std::cmp::Reverse<i64>>>,
}

impl CampaignBudget {
    fn new(key: String, limit: u32) -> Self {
        CampaignBudget {
            key,
            limit,
            slots: std::sync::Mutex::new(BinaryHeap::new()),
        }
    }

    fn interval_us(&self) -> i64 {
        (60_000_000 / i64::from(self.limit.max(1))).max(1)
    }

    /// Slots reserved at once: about a tenth of a second's worth, at most 25.
    fn chunk(&self) -> u32 {
        (self.limit / 600).clamp(1, 25)
    }

    /// Takes the next send slot and waits for it. False when shutdown came first.
    async fn take(&self, d: &Dispatcher, shutdown: &CancellationToken) -> Result<bool, StoreError> {
        if self.limit == 0 {
            return Ok(true);
        }
        let next = self.slots.lock().expect("not poisoned").pop();
        let at = match next {
            Some(std::cmp::Reverse(at)) => at,
            None => {
                let (n, interval) = (self.chunk(), self.interval_us());
                let first = d
                    .patient("reserve send slots", || {
                        d.store.reserve_slots(&self.key, n, interval, now_us())
                    })
                    .await?;
                let mut slots = self.slots.lock().expect("not poisoned");
                for i in 1..i64::from(n) {
                    slots.push(std::cmp::Reverse(first + i * interval));
                }
                first
            }
        };
        let wait = at - now_us();
        if wait > 0 {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(false),
                _ = tokio::time::sleep(Duration::from_micros(wait as u64)) => {}
            }
        }
        Ok(true)
    }
}

fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

/// Per destination domain: a token bucket per minute for the configured
/// `dispatch.domain_limits`, which also slows down on its own when a domain answers 421 or
/// 4.7.x (halving, down to an eighth) and recovers gradually with each accepted message.
/// It answers "not before t"; it never sleeps. Per process.
struct DomainLimiter {
    limits: std::collections::BTreeMap<String, u32>,
    buckets: std::sync::Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    per_minute: f64,
    factor: f64,
    tokens: f64,
    at: Instant,
    /// The next free slot handed to a deferred delivery: deferrals are spread at the
    /// domain's rate, so each comes back when it can go, not all at once.
    deferred_until: Instant,
}

/// A domain that throttles us without a configured limit starts from this.
const THROTTLED_DEFAULT_PER_MINUTE: f64 = 60.0;

impl DomainLimiter {
    fn new(limits: std::collections::BTreeMap<String, u32>) -> Self {
        DomainLimiter {
            limits,
            buckets: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn try_acquire(&self, domain: &str) -> Result<(), DateTime<Utc>> {
        let mut buckets = self.buckets.lock().expect("not poisoned");
        let bucket = match buckets.get_mut(domain) {
            Some(b) => b,
            None => match self.limits.get(domain) {
                Some(limit) => buckets.entry(domain.to_owned()).or_insert(Bucket {
                    per_minute: f64::from(*limit),
                    factor: 1.0,
                    tokens: 1.0,
                    at: Instant::now(),
                    deferred_until: Instant::now(),
                }),
                None => return Ok(()),
            },
        };
        let rate = bucket.per_minute * bucket.factor / 60.0;
        let now = Instant::now();
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate)
            .min((bucket.per_minute * bucket.factor / 6.0).max(1.0));
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let interval = Duration::from_secs_f64(1.0 / rate.max(1e-6));
            let first = now + Duration::from_secs_f64((1.0 - bucket.tokens) / rate.max(1e-6));
            let slot = first.max(bucket.deferred_until);
            bucket.deferred_until = slot + interval;
            let wait = slot.duration_since(now);
            Err(Utc::now() + chrono::Duration::milliseconds(wait.as_millis() as i64 + 1))
        }
    }

    fn slow_down(&self, domain: &str) {
        let mut buckets = self.buckets.lock().expect("not poisoned");
        let per_minute = self
            .limits
            .get(domain)
            .map(|l| f64::from(*l))
            .unwrap_or(THROTTLED_DEFAULT_PER_MINUTE);
        let b = buckets.entry(domain.to_owned()).or_insert(Bucket {
            per_minute,
            factor: 1.0,
            tokens: 0.0,
            at: Instant::now(),
            deferred_until: Instant::now(),
        });
        b.factor = (b.factor / 2.0).max(0.125);
        b.tokens = b.tokens.min(0.0);
        tracing::warn!(
            domain,
            per_minute = b.per_minute * b.factor,
            "domain is throttling us; slowing down"
        );
    }

    fn recover(&self, domain: &str) {
        if let Some(b) = self.buckets.lock().expect("not poisoned").get_mut(domain) {
            b.factor = (b.factor * 1.05).min(1.0);
        }
    }
}

/// `kairan serve`'s dispatcher: every second, starts a run for each `sending` issue that has
/// none; on shutdown, waits for the runs to drain (they watch the same token).
pub async fn supervise(d: Arc<Dispatcher>, shutdown: CancellationToken) {
    let mut running: HashMap<IssueId, tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        running.retain(|_, h| !h.is_finished());
        match d.store.list_issues().await {
            Ok(issues) => {
                for issue in issues
                    .into_iter()
                    .filter(|i| i.state == IssueState::Sending)
                {
                    if running.contains_key(&issue.id) {
                        continue;
                    }
                    let (d2, token) = (d.clone(), shutdown.clone());
                    running.insert(
                        issue.id,
                        tokio::spawn(async move {
                            match d2.run(issue.id, token, Arc::new(Progress::default())).await {
                                Ok(end) => tracing::info!(issue_id = issue.id.get(), ?end, "campaign run ended"),
                                Err(e) => tracing::error!(issue_id = issue.id.get(), error = %format!("{e:#}"), "campaign run failed; it will be retried"),
                            }
                        }),
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "dispatcher: cannot list issues"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    for (_, h) in running {
        let _ = h.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_domain_is_limited_and_says_when_to_come_back() {
        let l = DomainLimiter::new([("docomo.ne.jp".to_owned(), 60)].into());
        assert!(l.try_acquire("docomo.ne.jp").is_ok());
        let not_before = l.try_acquire("docomo.ne.jp").unwrap_err();
        let wait = not_before - Utc::now();
        assert!(
            wait <= chrono::Duration::seconds(1) && wait > chrono::Duration::zero(),
            "{wait}"
        );
        for _ in 0..100 {
            assert!(
                l.try_acquire("example.jp").is_ok(),
                "other domains are not limited"
            );
        }
    }

    #[test]
    fn deferrals_are_spread_at_the_domains_rate() {
        let l = DomainLimiter::new([("docomo.ne.jp".to_owned(), 60)].into());
        assert!(l.try_acquire("docomo.ne.jp").is_ok());
        let slots: Vec<_> = (0..4)
            .map(|_| l.try_acquire("docomo.ne.jp").unwrap_err())
            .collect();
        for pair in slots.windows(2) {
            let gap = (pair[1] - pair[0]).num_milliseconds();
            assert!(
                (900..=1100).contains(&gap),
                "one a second at 60/min, got {gap} ms"
            );
        }
    }

    #[test]
    fn throttling_halves_the_rate_and_success_recovers_it() {
        let l = DomainLimiter::new(Default::default());
        l.slow_down("gmail.com");
        l.slow_down("gmail.com");
        let f = l.buckets.lock().unwrap()["gmail.com"].factor;
        assert_eq!(f, 0.25);
        assert!(
            l.try_acquire("gmail.com").is_err(),
            "a throttled domain waits"
        );
        for _ in 0..100 {
            l.recover("gmail.com");
        }
        assert_eq!(l.buckets.lock().unwrap()["gmail.com"].factor, 1.0);
    }

    #[test]
    fn replies_are_classified_by_stage() {
        let rcpt = SendOutcome::Permanent {
            stage: SmtpStage::RcptTo,
            reply: "550 5.1.1 unknown".into(),
        };
        assert_eq!(classify(&rcpt).0, Attempt::RecipientRejected);
        let from = SendOutcome::Permanent {
            stage: SmtpStage::MailFrom,
            reply: "553 sender".into(),
        };
        assert_eq!(classify(&from).0, Attempt::SenderRejected);
        assert!(is_throttle("421 4.7.0 try later"));
        assert!(is_throttle("450 4.7.1 rate limited"));
        assert!(!is_throttle("450 4.2.0 mailbox busy"));
    }

    #[test]
    fn a_lease_owner_names_host_pid_and_start_and_parses_back() {
        let o = LeaseOwner::new("mail1", 4242, "987654");
        assert_eq!(o.as_str(), "mail1:4242:987654");
        assert_eq!(
            LeaseOwner::parse(o.as_str()),
            Some(("mail1", 4242, "987654"))
        );
        assert_eq!(
            LeaseOwner::parse("mail1:4242:987654:w7"),
            Some(("mail1", 4242, "987654"))
        );
        assert_eq!(
            LeaseOwner::parse("mail1:4242:987654:w7.1"),
            Some(("mail1", 4242, "987654"))
        );
        assert_eq!(LeaseOwner::parse("garbage"), None);
        assert_eq!(LeaseOwner::parse("h:notapid:1"), None);
    }

    #[test]
    fn message_ids_are_deterministic() {
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef".to_vec(), vec![]);
        let id = message_id(
            &signer,
            IssueId::new(7),
            SubscriberId::new(42),
            "example.org",
        );
        assert_eq!(
            id,
            message_id(
                &signer,
                IssueId::new(7),
                SubscriberId::new(42),
                "example.org"
            )
        );
        assert!(
            id.starts_with("7.42.") && id.ends_with(".kairan@example.org"),
            "{id}"
        );
    }
}
