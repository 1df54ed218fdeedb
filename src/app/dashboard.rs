//! The operators' dashboard (issue 16), for the console's `/console` page and its
//! server-sent events: campaigns in progress (sent / failed / retrying / rate / ETA / last
//! errors), the queue depth, subscribers by status and language with the month's growth,
//! bounce and complaint rates against the thresholds mailbox providers enforce, and health
//! checks (database, SMTP connect + EHLO, DKIM key, signing key, legal footer).
//!
//! Thresholds (the providers' published sender guidelines, e.g. Gmail's and Yahoo's 2024
//! bulk-sender requirements): complaints should stay under 0.1 % and must never reach 0.3 %;
//! hard bounces above 2 % of the messages sent mark a list that needs cleaning (most ESPs
//! review an account at 5 %). [`Level::Warning`] at the first figure, [`Level::Critical`] at
//! the second.
//!
//! Depends on the ports, the settings, `app::status` and `app::readiness`; no adapter.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::Serialize;

use super::ports::{Growth, MailProbes, Store, StoreError};
use super::status::{self, CampaignStatus, SubscriberCount};
use crate::config::Settings;
use crate::domain::{BounceKind, IssueState};

/// Hard bounces over messages sent: a warning from 2 %, critical from 5 %.
pub const BOUNCE_WARNING: f64 = 0.02;
pub const BOUNCE_CRITICAL: f64 = 0.05;
/// Complaints over messages sent: a warning from 0.1 %, critical from 0.3 %.
pub const COMPLAINT_WARNING: f64 = 0.001;
pub const COMPLAINT_CRITICAL: f64 = 0.003;
/// The window of the rates.
pub const RATE_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Critical,
}

impl Level {
    fn of(rate: f64, warning: f64, critical: f64) -> Level {
        if rate >= critical {
            Level::Critical
        } else if rate >= warning {
            Level::Warning
        } else {
            Level::Ok
        }
    }
}

/// Bounce and complaint rates over the last [`RATE_DAYS`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rates {
    pub since: DateTime<Utc>,
    /// Messages sent by the campaigns started in the window.
    pub sent: u64,
    /// Hard bounces and complaints attributed to a reader (forged and unattributed reports
    /// do not count).
    pub hard_bounces: u64,
    pub complaints: u64,
    pub bounce_rate: f64,
    pub complaint_rate: f64,
    pub bounce_level: Level,
    pub complaint_level: Level,
}

/// Actions of reports that were not attributed to a reader's mail.
const NOT_ATTRIBUTED: &[&str] = &["forged", "unattributed", "not-a-bounce"];

impl Rates {
    pub fn new(since: DateTime<Utc>, sent: u64, hard_bounces: u64, complaints: u64) -> Rates {
        let rate = |n: u64| {
            if sent == 0 {
                0.0
            } else {
                n as f64 / sent as f64
            }
        };
        let (bounce_rate, complaint_rate) = (rate(hard_bounces), rate(complaints));
        Rates {
            since,
            sent,
            hard_bounces,
            complaints,
            bounce_rate,
            complaint_rate,
            bounce_level: Level::of(bounce_rate, BOUNCE_WARNING, BOUNCE_CRITICAL),
            complaint_level: Level::of(complaint_rate, COMPLAINT_WARNING, COMPLAINT_CRITICAL),
        }
    }
}

/// Subscribers by status and language, and this month's growth (UTC month).
#[derive(Debug, Clone, Serialize)]
pub struct Subscribers {
    pub counts: Vec<SubscriberCount>,
    pub month_start: DateTime<Utc>,
    pub month: Growth,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub at: DateTime<Utc>,
    /// Campaigns sending or paused, then the last finished one.
    pub campaigns: Vec<CampaignStatus>,
    /// Deliveries still to be sent over every campaign in progress, and queued
    /// transactional mail.
    pub queue_depth: u64,
    pub outbox_pending: u64,
    pub subscribers: Subscribers,
    pub rates: Rates,
}

fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// Everything the dashboard shows, at `now`.
pub async fn gather(store: &dyn Store, now: DateTime<Utc>) -> Result<Dashboard, StoreError> {
    let report = status::gather(store).await?;
    let since = now - chrono::Duration::days(RATE_DAYS);
    let sent = report
        .campaigns
        .iter()
        .filter(|c| c.started_at.is_some_and(|s| s >= since) || c.state == IssueState::Sending)
        .map(|c| c.deliveries.sent)
        .sum();
    let counts = store.bounce_report_counts(since).await?;
    let attributed = |kind: BounceKind| -> u64 {
        counts
            .iter()
            .filter(|c| c.kind == Some(kind) && !NOT_ATTRIBUTED.contains(&c.action.as_str()))
            .map(|c| c.count)
            .sum()
    };
    let rates = Rates::new(
        since,
        sent,
        attributed(BounceKind::Hard),
        attributed(BounceKind::Complaint),
    );
    let in_progress =
        |c: &CampaignStatus| matches!(c.state, IssueState::Sending | IssueState::Paused);
    let queue_depth = report
        .campaigns
        .iter()
        .filter(|c| in_progress(c))
        .map(|c| c.deliveries.open())
        .sum();
    let last_finished = report
        .campaigns
        .iter()
        .filter(|c| c.state == IssueState::Sent)
        .max_by_key(|c| c.finished_at)
        .cloned();
    let mut campaigns: Vec<CampaignStatus> = report
        .campaigns
        .iter()
        .filter(|c| in_progress(c))
        .cloned()
        .collect();
    campaigns.extend(last_finished);
    let start = month_start(now);
    Ok(Dashboard {
        at: now,
        campaigns,
        queue_depth,
        outbox_pending: report.outbox.pending + report.outbox.sending,
        subscribers: Subscribers {
            counts: report.subscribers,
            month_start: start,
            month: store.growth_since(start).await?,
        },
        rates,
    })
}

/// One line of the health panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// `database`, `smtp`, `dkim`, `signing_key`, `legal_footer`.
    pub check: &'static str,
    pub ok: bool,
    /// What was found (never a secret).
    pub detail: String,
}

/// The health checks: the database answers, the SMTP relay accepts a connection and EHLO,
/// the DKIM key loads, the signing key is readable, the legal footer is complete. SMTP and
/// DKIM that are not configured are reported as such (ok: mail goes to the outbox / is not
/// signed).
pub async fn health(
    store: &dyn Store,
    settings: &Settings,
    probes: &dyn MailProbes,
) -> Vec<Health> {
    let mut out = Vec::new();
    let db = tokio::time::timeout(std::time::Duration::from_secs(3), store.ping()).await;
    out.push(Health {
        check: "database",
        ok: matches!(db, Ok(Ok(()))),
        detail: match db {
            Ok(Ok(())) => format!("{} answers", store.backend()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer within 3 s".into(),
        },
    });
    out.push(match probes.smtp().await {
        None => Health {
            check: "smtp",
            ok: true,
            detail: "no smtp.url: mail is written to the outbox directory".into(),
        },
        Some(Ok(name)) => Health {
            check: "smtp",
            ok: true,
            detail: format!("connected; EHLO answered by {name}"),
        },
        Some(Err(e)) => Health {
            check: "smtp",
            ok: false,
            detail: crate::telemetry::redact_addresses(&e),
        },
    });
    out.push(match probes.dkim() {
        None => Health {
            check: "dkim",
            ok: true,
            detail: "no [dkim]: mail is not signed".into(),
        },
        Some(Ok(what)) => Health {
            check: "dkim",
            ok: true,
            detail: what,
        },
        Some(Err(e)) => Health {
            check: "dkim",
            ok: false,
            detail: e,
        },
    });
    let key = super::keys::signer(settings, store).await;
    out.push(Health {
        check: "signing_key",
        ok: key.is_ok(),
        detail: match key {
            Ok(_) if settings.secrets.signing_key.is_some() => "secrets.signing_key".into(),
            Ok(_) => "generated key readable".into(),
            Err(e) => format!("{e:#}"),
        },
    });
    let legal = settings.newsletter.missing_legal_settings();
    out.push(Health {
        check: "legal_footer",
        ok: legal.is_empty(),
        detail: if legal.is_empty() {
            "complete in ja and en".into()
        } else {
            format!("missing: {}", legal.join(", "))
        },
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_against_the_providers_thresholds() {
        let t = Utc::now();
        let r = Rates::new(t, 10_000, 150, 5);
        assert_eq!((r.bounce_level, r.complaint_level), (Level::Ok, Level::Ok));
        let r = Rates::new(t, 10_000, 200, 10);
        assert_eq!(
            (r.bounce_level, r.complaint_level),
            (Level::Warning, Level::Warning)
        );
        let r = Rates::new(t, 10_000, 500, 30);
        assert_eq!(
            (r.bounce_level, r.complaint_level),
            (Level::Critical, Level::Critical)
        );
        let r = Rates::new(t, 0, 3, 1);
        assert_eq!((r.bounce_rate, r.bounce_level), (0.0, Level::Ok));
    }

    #[test]
    fn the_month_starts_on_the_first_at_midnight_utc() {
        let t = Utc.with_ymd_and_hms(2026, 12, 17, 8, 30, 0).unwrap();
        assert_eq!(
            month_start(t),
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
        );
    }
}
