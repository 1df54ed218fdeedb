//! The operator's view: campaigns with delivery counts, subscribers by status and language.
//! Shared by `kairan status` and `GET /api/status`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ports::{DeliveryCounts, Storage, StoreError};
use crate::domain::{IssueId, IssueState, LangPref, SubscriberStatus};

#[derive(Debug, Clone, Serialize)]
pub struct CampaignStatus {
    pub id: IssueId,
    pub slug: String,
    pub state: IssueState,
    pub send_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub deliveries: DeliveryCounts,
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
}

pub async fn gather(store: &dyn Storage) -> Result<StatusReport, StoreError> {
    let mut campaigns = Vec::new();
    for issue in store.list_issues().await? {
        campaigns.push(CampaignStatus {
            deliveries: store.delivery_counts(issue.id).await?,
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
        out
    }
}
