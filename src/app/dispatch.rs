//! The dispatcher: sends a campaign's deliveries on `dispatch.concurrency` workers, each with
//! its own reused SMTP session, under the delivery guarantees of `docs/contracts.md`.
//!
//! Each worker loops: claim a batch (a lease in the database), and for each delivery skip it
//! if the subscriber left, defer it if its domain is throttled (the worker moves on to other
//! domains instead of sleeping on a connection), take a send from the campaign-wide
//! per-minute budget, personalise the pre-rendered message, send, and classify the reply.
//! Outcomes are recorded in small transactions (every [`FLUSH_EVERY`] messages or
//! [`FLUSH_INTERVAL`]), always before the lease runs out; a reply of 250 is never lost by a
//! clean shutdown, since shutdown only stops the loop between messages and then records.
//! What a worker cannot finish (pause, cancel, shutdown, a lease about to run out) it hands
//! back as deferred. After `kill -9` the unrecorded rows come back when their lease expires
//! and are re-sent with the same Message-ID: duplicates are at most the messages in flight.
//!
//! Depends on the domain, the ports (issues, deliveries, outbound mail), the settings and
//! render; the lease owner's name (host, process) comes from the caller.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::ports::{
    DeliveryStore, MailSession, Mailer, OutgoingMessage, SendOutcome, SmtpStage, Store, StoreError,
};
use crate::config::Settings;
use crate::domain::delivery::{Attempt, Decision, RetryPolicy, decide};
use crate::domain::token::{Purpose, Signer};
use crate::domain::{ClaimedDelivery, DeliveryOutcome, Issue};
use crate::domain::{DeliveryId, IssueId, IssueState, LangPref, SubscriberId, SubscriberStatus};
use crate::render::Renderer;
use crate::render::campaign::{Prepared, Recipient};

/// Outcomes are recorded after this many messages…
pub const FLUSH_EVERY: usize = 32;
/// …or this long, whichever comes first.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);

/// Counts one runner reports as it goes (for `kairan send`'s progress line and logs).
#[derive(Debug, Default)]
pub struct Progress {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub skipped: AtomicU64,
    pub deferred: AtomicU64,
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

/// Names the leases of one process's workers: its host, process id and a random tag (a
/// restarted process with a reused pid does not inherit the old leases). The process knows
/// its host; the composition root builds this and passes it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOwner(String);

impl LeaseOwner {
    pub fn new(host: &str, pid: u32, tag: u16) -> Self {
        LeaseOwner(format!("{host}:{pid}:{tag:04x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything a campaign run needs; shared by its workers.
pub struct Dispatcher {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub renderer: Arc<Renderer>,
    pub settings: Arc<Settings>,
    pub signer: Arc<Signer>,
    domains: DomainLimiter,
    /// Names this process's leases.
    owner: LeaseOwner,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        renderer: Arc<Renderer>,
        settings: Arc<Settings>,
        signer: Arc<Signer>,
        owner: LeaseOwner,
    ) -> Arc<Self> {
        Arc::new(Dispatcher {
            domains: DomainLimiter::new(settings.dispatch.domain_limits.clone()),
            store,
            mailer,
            renderer,
            settings,
            signer,
            owner,
        })
    }

    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: self.settings.dispatch.retry_base,
            max: self.settings.dispatch.retry_max,
            max_attempts: self.settings.dispatch.max_attempts,
        }
    }

    /// Sends issue `id` until it is done, stopped, or `shutdown` is cancelled.
    pub async fn run(
        self: &Arc<Self>,
        id: IssueId,
        shutdown: CancellationToken,
        progress: Arc<Progress>,
    ) -> anyhow::Result<RunEnd> {
        let issue = self
            .store
            .issue(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("issue {id} not found"))?;
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
        });
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
        if let Some(e) = error {
            return Err(e);
        }
        Ok(end)
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
}

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
            .store
            .issue_state(self.issue.id)
            .await?
            .unwrap_or(IssueState::Cancelled))
    }

    async fn worker(self: Arc<Self>, n: u32) -> anyhow::Result<RunEnd> {
        let owner = format!("{}:w{n}", self.d.owner.as_str());
        let mut session = self.d.mailer.session().await;
        let result = self.work(&owner, session.as_mut()).await;
        session.close().await;
        // Anything still leased to this worker (an error path) goes back to the pool.
        if let Err(e) = self.d.store.release_leases(&owner).await {
            tracing::warn!(error = %e, "could not release leases");
        }
        result
    }

    async fn work(&self, owner: &str, session: &mut dyn MailSession) -> anyhow::Result<RunEnd> {
        let store = &self.d.store;
        let id = self.issue.id;
        let lease = self.d.settings.dispatch.lease;
        loop {
            if self.shutdown.is_cancelled() {
                return Ok(RunEnd::Shutdown);
            }
            if let Some(end) = end_for(self.state().await?) {
                return Ok(end);
            }
            let now = Utc::now();
            let lease_until =
                now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
            let batch = store
                .claim_deliveries(
                    id,
                    owner,
                    self.d.settings.dispatch.batch_size,
                    now,
                    lease_until,
                )
                .await?;
            if batch.is_empty() {
                if store.delivery_counts(id).await?.open() == 0 {
                    if store.finish_issue_if_done(id, Utc::now()).await? {
                        tracing::info!(issue_id = id.get(), "campaign finished");
                    }
                    return Ok(RunEnd::Finished);
                }
                // Others hold leases, or retries are not due yet.
                tokio::select! {
                    _ = self.shutdown.cancelled() => return Ok(RunEnd::Shutdown),
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                }
            }
            // Stop early enough to record everything before the lease runs out.
            let margin = (lease / 5).min(Duration::from_secs(30));
            let deadline = Instant::now() + lease.saturating_sub(margin);
            if let Some(end) = self.batch(owner, session, batch, deadline).await? {
                return Ok(end);
            }
        }
    }

    /// Sends one claimed batch. Returns `Some` when the run must end (pause, shutdown).
    async fn batch(
        &self,
        owner: &str,
        session: &mut dyn MailSession,
        batch: Vec<ClaimedDelivery>,
        deadline: Instant,
    ) -> anyhow::Result<Option<RunEnd>> {
        let started = Instant::now();
        let total = batch.len();
        let mut outcomes: Vec<(DeliveryId, DeliveryOutcome)> = Vec::with_capacity(FLUSH_EVERY);
        let mut last_flush = Instant::now();
        let mut stop: Option<RunEnd> = None;
        let mut counts = [0u32; 5];
        let mut queue: std::collections::VecDeque<ClaimedDelivery> = batch.into();
        while let Some(d) = queue.pop_front() {
            if self.shutdown.is_cancelled() {
                stop = Some(RunEnd::Shutdown);
            }
            if stop.is_some() || Instant::now() > deadline {
                queue.push_front(d);
                break;
            }
            let outcome = self.one(session, &d, deadline).await?;
            counts[slot(&outcome)] += 1;
            self.progress.count(&outcome);
            outcomes.push((d.id, outcome));
            if outcomes.len() >= FLUSH_EVERY || last_flush.elapsed() >= FLUSH_INTERVAL {
                self.d.store.record_outcomes(&outcomes, Utc::now()).await?;
                outcomes.clear();
                last_flush = Instant::now();
                // Pause and cancel take effect within a batch…
                if let Some(end) = end_for(self.state().await?) {
                    stop = Some(end);
                }
                // …and a reader who left meanwhile is dropped from it (the store skipped
                // their delivery when they unsubscribed).
                let ids: Vec<DeliveryId> = queue.iter().map(|d| d.id).collect();
                let left = self.d.store.skipped_among(&ids).await?;
                if !left.is_empty() {
                    queue.retain(|d| !left.contains(&d.id));
                    counts[3] += left.len() as u32;
                }
            }
        }
        for d in queue {
            outcomes.push((d.id, deferred("handed back unsent")));
        }
        self.d.store.record_outcomes(&outcomes, Utc::now()).await?;
        let secs = started.elapsed().as_secs_f64().max(0.001);
        tracing::info!(
            issue_id = self.issue.id.get(),
            worker = owner,
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

    /// One delivery: skip, defer, or send and classify.
    async fn one(
        &self,
        session: &mut dyn MailSession,
        d: &ClaimedDelivery,
        deadline: Instant,
    ) -> anyhow::Result<DeliveryOutcome> {
        if d.subscriber_status != SubscriberStatus::Active {
            return Ok(DeliveryOutcome::Skipped {
                reason: format!("subscriber {}", d.subscriber_status),
            });
        }
        // Normalised (lower-case, IDNA) when the address was parsed.
        let domain = d.email.domain();
        if let Err(not_before) = self.d.domains.try_acquire(domain) {
            return Ok(DeliveryOutcome::Deferred {
                at: not_before,
                reason: format!("rate limit for {domain}"),
            });
        }
        if !self
            .budget
            .take(self.d.store.as_ref(), &self.shutdown, deadline)
            .await?
        {
            return Ok(deferred("campaign rate limit"));
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
        Ok(outcome)
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

/// `dispatch.rate_per_minute` for the whole campaign, shared by every process through the
/// database: sends are taken from the current minute's budget in small chunks.
struct CampaignBudget {
    key: String,
    limit: u32,
    local: std::sync::Mutex<(i64, u32)>,
}

impl CampaignBudget {
    fn new(key: String, limit: u32) -> Self {
        CampaignBudget {
            key,
            limit,
            local: std::sync::Mutex::new((0, 0)),
        }
    }

    /// Takes one send, waiting for the next minute if this one's budget is spent. Returns
    /// false when it would have to wait past `deadline` or shutdown came first.
    async fn take(
        &self,
        store: &dyn DeliveryStore,
        shutdown: &CancellationToken,
        deadline: Instant,
    ) -> Result<bool, StoreError> {
        if self.limit == 0 {
            return Ok(true);
        }
        loop {
            let now = Utc::now().timestamp();
            let window = now - now.rem_euclid(60);
            {
                let mut local = self.local.lock().expect("not poisoned");
                if local.0 == window && local.1 > 0 {
                    local.1 -= 1;
                    return Ok(true);
                }
            }
            // Small chunks keep instances fair without a database round trip per message.
            let chunk = (self.limit / 20).clamp(1, 25);
            let granted = store
                .reserve_rate(&self.key, window, chunk, self.limit)
                .await?;
            if granted > 0 {
                let mut local = self.local.lock().expect("not poisoned");
                *local = (window, granted - 1);
                return Ok(true);
            }
            let wait = Duration::from_secs((window + 60 - now).max(1) as u64);
            if Instant::now() + wait > deadline {
                return Ok(false);
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(false),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
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
    fn a_lease_owner_names_host_pid_and_tag() {
        assert_eq!(
            LeaseOwner::new("mail1", 4242, 0xbeef).as_str(),
            "mail1:4242:beef"
        );
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
