//! The issue port: issues, their content and their state machine, and the scheduler's
//! leadership. Depends on the domain only.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{Issue, IssueContent, IssueId, IssueState, NewIssue};

#[async_trait::async_trait]
pub trait IssueStore: Send + Sync {
    async fn insert_issue(&self, i: &NewIssue) -> Result<IssueId, StoreError>;
    async fn issue(&self, id: IssueId) -> Result<Option<Issue>, StoreError>;
    /// Only the state (workers check it every few messages; `issue` loads the content too).
    async fn issue_state(&self, id: IssueId) -> Result<Option<IssueState>, StoreError> {
        Ok(self.issue(id).await?.map(|i| i.state))
    }
    async fn list_issues(&self) -> Result<Vec<Issue>, StoreError>;
    /// Compare-and-set of the state: changes it only from one of `from`. Returns whether it did.
    async fn transition_issue(
        &self,
        id: IssueId,
        from: &[IssueState],
        to: IssueState,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Cancels the issue (from any state but `sent` / `cancelled`) and skips its open
    /// deliveries, in one transaction. Returns whether it did.
    async fn cancel_issue(&self, id: IssueId, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Replaces both languages' content and `send_at` while the issue is `draft` or
    /// `queued`. Returns whether it did (false once sending has started).
    async fn update_issue(
        &self,
        id: IssueId,
        send_at: Option<DateTime<Utc>>,
        ja: &IssueContent,
        en: &IssueContent,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Sets (or clears) when the issue goes out, unless it is sent or cancelled.
    async fn set_issue_send_at(
        &self,
        id: IssueId,
        send_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Sets `send_at` to `now` while the issue is `draft` or `queued`, in one guarded
    /// update (nothing else of the issue is written). Returns whether it did.
    async fn send_issue_now(&self, id: IssueId, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Whether this process may act as the scheduler. SQLite: always. PostgreSQL: the
    /// instance holding a session advisory lock (kept until the process ends).
    async fn try_scheduler_lock(&self) -> Result<bool, StoreError>;
}
