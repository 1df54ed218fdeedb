//! The operator's view: campaigns with delivery counts, subscribers by status and language,
//! bounce reports, the return channel's stored counters, and the transactional mail queue.
//! Shared by `kairan status` and `GET /api/status`.
//!
//! Depends on the domain and the storage ports.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ports::{BounceStore, Store, StoreError};
use crate::domain::{BounceCount, BounceCounter, DeliveryCounts, MailCounts};
use crate::domain::{BounceKind, IssueId, IssueState, LangPref, SubscriberId, SubscriberStatus};

#[derive(Debug, Clone, Serialize)]
pub struct CampaignStatus {
    pub id: IssueId,
    pub slug: String,
    pub state: IssueState,
    pub send_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub deliveries: DeliveryCounts,
    /// Messages a minute over the last minute (sending campaigns).
    pub rate_per_minute: Option<u64>,
    /// Seconds until the open deliveries are done at that rate.
    pub eta_seconds: Option<u64>,
    /// The latest failures and retries (subscriber ids, never addresses).
    pub last_errors: Vec<crate::domain::DeliveryError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriberCount {
    pub status: SubscriberStatus,
    pub lang: LangPref,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub campaigns: Vec<CampaignStatus>,
    pub subscribers: Vec<SubscriberCount>,
    pub bounces: BounceStatus,
    /// Transactional mail (confirmations, welcomes) by state.
    pub outbox: MailCounts,
    /// Processes that sent in the last day, with how the database answered them.
    pub instances: Vec<crate::app::ports::Instance>,
}

pub async fn gather(store: &dyn Store) -> Result<StatusReport, StoreError> {
    let mut campaigns = Vec::new();
    for issue in store.list_issues().await? {
        let deliveries = store.delivery_counts(issue.id).await?;
        let (rate_per_minute, eta_seconds) = if issue.state == IssueState::Sending {
            let rate = store
                .sent_since(issue.id, Utc::now() - chrono::Duration::minutes(1))
                .await?;
            let eta = (rate > 0).then(|| deliveries.open() * 60 / rate);
            (Some(rate), eta)
        } else {
            (None, None)
        };
        let last_errors = if issue.started_at.is_some() {
            store.recent_errors(issue.id, 5).await?
        } else {
            Vec::new()
        };
        campaigns.push(CampaignStatus {
            deliveries,
            rate_per_minute,
            eta_seconds,
            last_errors,
            id: issue.id,
            slug: issue.slug,
            state: issue.state,
            send_at: issue.send_at,
            started_at: issue.started_at,
            finished_at: issue.finished_at,
        });
    }
    let subscribers = store
        .subscriber_counts()
        .await?
        .into_iter()
        .map(|(status, lang, count)| SubscriberCount {
            status,
            lang,
            count,
        })
        .collect();
    Ok(StatusReport {
        campaigns,
        subscribers,
        bounces: gather_bounces(store).await?,
        outbox: store.mail_counts().await?,
        instances: store
            .instances(Utc::now() - chrono::Duration::days(1))
            .await?,
    })
}

impl StatusReport {
    /// The table `kairan status` prints.
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let mut out = String::from("Campaigns\n");
        if self.campaigns.is_empty() {
            out.push_str("  (none)\n");
        }
        for c in &self.campaigns {
            let d = &c.deliveries;
            let _ = writeln!(
                out,
                "  #{:<4} {:<20} {:<10} sent {:>7}  pending {:>7}  retry {:>5}  failed {:>5}  skipped {:>5}",
                c.id,
                c.slug,
                c.state.as_str(),
                d.sent,
                d.pending + d.sending,
                d.retry,
                d.failed,
                d.skipped
            );
            if let Some(rate) = c.rate_per_minute {
                let eta = c
                    .eta_seconds
                    .map(|s| format!("{}m{:02}s", s / 60, s % 60))
                    .unwrap_or_else(|| "-".into());
                let _ = writeln!(out, "        rate {rate}/min  ETA {eta}");
            }
            for e in &c.last_errors {
                let _ = writeln!(
                    out,
                    "        {} subscriber {} (attempt {}): {}",
                    e.state.as_str(),
                    e.subscriber_id,
                    e.attempts,
                    crate::telemetry::redact_addresses(e.reply.as_deref().unwrap_or(""))
                );
            }
        }
        out.push_str("Subscribers\n");
        if self.subscribers.is_empty() {
            out.push_str("  (none)\n");
        }
        for s in &self.subscribers {
            let _ = writeln!(
                out,
                "  {:<13} {:<5} {:>8}",
                s.status.as_str(),
                s.lang.as_str(),
                s.count
            );
        }
        bounces_table(&self.bounces, &mut out);
        let m = &self.outbox;
        let _ = writeln!(
            out,
            "Transactional mail\n  pending {}  sending {}  sent {}  failed {}  cancelled {}",
            m.pending, m.sending, m.sent, m.failed, m.cancelled
        );
        out.push_str("Sending processes (last day)\n");
        if self.instances.is_empty() {
            out.push_str("  (none)\n");
        }
        for i in &self.instances {
            let _ = writeln!(
                out,
                "  {} ({}) heartbeat {}  database outages {}  retries {}  waited {} ms",
                i.owner,
                i.command,
                i.heartbeat_at.format("%Y-%m-%d %H:%M:%S UTC"),
                i.db_outages,
                i.db_retries,
                i.db_wait_ms
            );
        }
        out
    }
}

// Bounces (issue 6): counts of the last 30 days by kind and action, and the latest reports.

/// How far back `kairan status` counts bounce reports.
pub const BOUNCE_DAYS: i64 = 30;
/// How many recent reports it lists.
pub const RECENT_BOUNCES: u32 = 10;

#[derive(Debug, Clone, Serialize)]
pub struct BounceStatus {
    pub since: DateTime<Utc>,
    pub counts: Vec<BounceCount>,
    /// The return channel's counters since the database began: outcomes
    /// (`kairan_bounces_total`), ignored tokens, attributions; the figures `/metrics` shows.
    pub counters: Vec<BounceCounter>,
    pub recent: Vec<RecentBounce>,
}

/// One stored report, without the parse result.
#[derive(Debug, Clone, Serialize)]
pub struct RecentBounce {
    pub received_at: DateTime<Utc>,
    pub source: String,
    pub kind: Option<BounceKind>,
    pub subscriber_id: Option<SubscriberId>,
    pub status_code: Option<String>,
    pub reason: Option<String>,
    pub action: String,
    pub attribution: Option<String>,
}

async fn gather_bounces(store: &dyn BounceStore) -> Result<BounceStatus, StoreError> {
    let since = Utc::now() - chrono::Duration::days(BOUNCE_DAYS);
    let recent = store
        .bounce_reports(RECENT_BOUNCES)
        .await?
        .into_iter()
        .map(|r| RecentBounce {
            received_at: r.received_at,
            source: r.source,
            kind: r.kind,
            subscriber_id: r.subscriber_id,
            status_code: r.status_code,
            reason: r.reason,
            action: r.action,
            attribution: r.attribution,
        })
        .collect();
    Ok(BounceStatus {
        since,
        counts: store.bounce_report_counts(since).await?,
        counters: store.bounce_counters().await?,
        recent,
    })
}

fn bounces_table(b: &BounceStatus, out: &mut String) {
    use std::fmt::Write;
    let _ = writeln!(out, "Bounces (last {BOUNCE_DAYS} days)");
    if b.counts.is_empty() {
        out.push_str("  (none)\n");
    }
    for c in &b.counts {
        let _ = writeln!(
            out,
            "  {:<10} {:<13} {:>8}",
            c.kind.map(|k| k.as_str()).unwrap_or("-"),
            c.action,
            c.count
        );
    }
    if !b.counters.is_empty() {
        out.push_str("Return mail counters (all time)\n");
    }
    for c in &b.counters {
        let name = c.name.strip_prefix("kairan_").unwrap_or(&c.name);
        let _ = writeln!(out, "  {:<34} {:<13} {:>8}", name, c.label, c.value);
    }
    if !b.recent.is_empty() {
        out.push_str("Recent bounce reports\n");
    }
    for r in &b.recent {
        let _ = writeln!(
            out,
            "  {}  {:<8} {:<10} {:<8} {:<16} {:<13} subscriber {} ({})",
            r.received_at.format("%Y-%m-%d %H:%M"),
            r.source,
            r.kind.map(|k| k.as_str()).unwrap_or("-"),
            r.status_code.as_deref().unwrap_or("-"),
            r.reason.as_deref().unwrap_or("-"),
            r.action,
            r.subscriber_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into()),
            r.attribution.as_deref().unwrap_or("-")
        );
    }
}

// Gauges for `/metrics` (issue 16), read from the database at scrape time, so work done by
// any process (a CLI `kairan send`, the MTA's pipe, another instance) shows in every one.

/// How long a finished campaign keeps its gauges after it ends.
pub const FINISHED_GAUGE_HOURS: i64 = 24;

/// The gauges: deliveries by state, rate and ETA of each campaign sending, paused or finished
/// in the last [`FINISHED_GAUGE_HOURS`]; campaigns by state; subscribers by status and
/// language; bounce reports of the last [`BOUNCE_DAYS`] by kind and action; transactional
/// mail by state.
pub async fn gauges(store: &dyn Store) -> Result<Vec<crate::metrics::Gauge>, StoreError> {
    use crate::metrics::Gauge;
    let now = Utc::now();
    let recent = now - chrono::Duration::hours(FINISHED_GAUGE_HOURS);
    let mut out = Vec::new();
    let issues = store.list_issues().await?;
    for state in [
        IssueState::Draft,
        IssueState::Queued,
        IssueState::Sending,
        IssueState::Paused,
        IssueState::Sent,
        IssueState::Cancelled,
    ] {
        out.push(Gauge {
            name: "kairan_campaigns",
            help: "Issues by state.",
            labels: vec![("state", state.as_str().to_owned())],
            value: issues.iter().filter(|i| i.state == state).count() as f64,
        });
    }
    for issue in &issues {
        let live = matches!(issue.state, IssueState::Sending | IssueState::Paused)
            || (issue.state.is_final()
                && issue.started_at.is_some()
                && issue.finished_at.is_some_and(|f| f >= recent));
        if !live {
            continue;
        }
        let d = store.delivery_counts(issue.id).await?;
        for (state, n) in [
            ("pending", d.pending),
            ("sending", d.sending),
            ("sent", d.sent),
            ("retry", d.retry),
            ("failed", d.failed),
            ("skipped", d.skipped),
        ] {
            out.push(Gauge {
                name: "kairan_campaign_deliveries",
                help: "A campaign's deliveries by state (campaigns sending, paused or just finished).",
                labels: vec![("issue", issue.slug.clone()), ("state", state.into())],
                value: n as f64,
            });
        }
        if issue.state == IssueState::Sending {
            let rate = store
                .sent_since(issue.id, now - chrono::Duration::minutes(1))
                .await?;
            out.push(Gauge {
                name: "kairan_campaign_rate_per_minute",
                help: "Messages a campaign sent in the last minute.",
                labels: vec![("issue", issue.slug.clone())],
                value: rate as f64,
            });
            if let Some(eta) = (d.open() * 60).checked_div(rate) {
                out.push(Gauge {
                    name: "kairan_campaign_eta_seconds",
                    help: "Seconds until a campaign's open deliveries are done at the last minute's rate.",
                    labels: vec![("issue", issue.slug.clone())],
                    value: eta as f64,
                });
            }
        }
    }
    for (status, lang, n) in store.subscriber_counts().await? {
        out.push(Gauge {
            name: "kairan_subscribers",
            help: "Subscribers by status and language.",
            labels: vec![
                ("status", status.as_str().into()),
                ("lang", lang.as_str().into()),
            ],
            value: n as f64,
        });
    }
    for c in store
        .bounce_report_counts(now - chrono::Duration::days(BOUNCE_DAYS))
        .await?
    {
        out.push(Gauge {
            name: "kairan_bounce_reports_30d",
            help: "Bounce reports of the last 30 days by kind and action.",
            labels: vec![
                ("kind", c.kind.map(|k| k.as_str()).unwrap_or("none").into()),
                ("action", c.action.clone()),
            ],
            value: c.count as f64,
        });
    }
    let m = store.mail_counts().await?;
    for (state, n) in [
        ("pending", m.pending),
        ("sending", m.sending),
        ("sent", m.sent),
        ("failed", m.failed),
        ("cancelled", m.cancelled),
    ] {
        out.push(Gauge {
            name: "kairan_outbox_mails",
            help: "Transactional mail (confirmations, welcomes) by state.",
            labels: vec![("state", state.into())],
            value: n as f64,
        });
    }
    Ok(out)
}
