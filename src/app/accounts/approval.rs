//! The two-person rule (`console.require_approval`): an editor's or admin's request to send
//! an issue waits until a different admin approves it. The store's guarded update refuses the
//! requester as approver, so two windows of one person cannot approve their own request.

use chrono::{DateTime, Utc};

use super::audit::Actor;
use super::{AccountError, require};
use crate::app::ports::{StoreError, UserStore};
use crate::domain::{Action, SendRequest, User};

/// Why an approval was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error("no such send request")]
    NotFound,
    #[error("a send request must be approved by a different admin")]
    SamePerson,
    #[error("the send request was decided already")]
    Decided,
}

/// Asks for issue `issue_id` to be sent. Needs the editing permission (editors and admins).
pub async fn request(
    store: &dyn UserStore,
    user: &User,
    issue_id: i64,
    ip: Option<String>,
    now: DateTime<Utc>,
) -> Result<i64, AccountError> {
    require(user, Action::EditIssues)?;
    let audit =
        Actor::user(user, ip).entry("issue.send_requested", format!("issue {issue_id}"), "", now);
    store
        .insert_send_request(issue_id, user.id, &audit, now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                AccountError::Invalid(format!("issue {issue_id} already waits for approval"))
            }
            other => other.into(),
        })
}

/// Approves request `id` as `approver` (an admin, not the requester). On `Ok`, the caller
/// starts the send with the editorial use case.
pub async fn approve(
    store: &dyn UserStore,
    approver: &User,
    id: i64,
    ip: Option<String>,
    now: DateTime<Utc>,
) -> Result<Result<SendRequest, ApprovalError>, AccountError> {
    require(approver, Action::SendIssues)?;
    let Some(req) = store.send_request(id).await? else {
        return Ok(Err(ApprovalError::NotFound));
    };
    if req.requested_by == approver.id {
        return Ok(Err(ApprovalError::SamePerson));
    }
    let audit = Actor::user(approver, ip).entry(
        "issue.approved",
        format!("issue {}", req.issue_id),
        format!("send request {id} by user {}", req.requested_by),
        now,
    );
    if !store
        .approve_send_request(id, approver.id, &audit, now)
        .await?
    {
        return Ok(Err(ApprovalError::Decided));
    }
    Ok(store.send_request(id).await?.ok_or(ApprovalError::NotFound))
}

/// What became of an approval that starts the send.
#[derive(Debug)]
pub enum Approved {
    /// Approved, and the issue brought forward to now (the scheduler starts it).
    Sending(SendRequest),
    Refused(ApprovalError),
    /// Approved, but the issue could not be sent (its state changed meanwhile).
    NotSent(SendRequest, crate::app::editorial::EditorialError),
}

/// Approves request `id` as `approver` and starts the send (`editorial::send_now`). A
/// request for a draft (the editors' console) queues it first, after the checks.
pub async fn approve_and_send(
    store: &dyn crate::app::ports::Store,
    settings: &crate::config::Settings,
    approver: &User,
    id: i64,
    ip: Option<String>,
    now: DateTime<Utc>,
) -> Result<Approved, AccountError> {
    let req = match approve(store, approver, id, ip, now).await? {
        Ok(r) => r,
        Err(e) => return Ok(Approved::Refused(e)),
    };
    let issue = crate::domain::IssueId::new(req.issue_id);
    if store.issue_state(issue).await? == Some(crate::domain::IssueState::Draft)
        && let Err(e) = crate::app::drafts::queue_draft(store, settings, issue, false, now).await
    {
        return Ok(Approved::NotSent(req, e));
    }
    match crate::app::editorial::send_now(store, issue, now).await {
        Ok(()) => Ok(Approved::Sending(req)),
        Err(e) => Ok(Approved::NotSent(req, e)),
    }
}

/// Whether sending now needs an approved request (`console.require_approval`).
pub fn needs_approval(settings: &crate::config::Settings) -> bool {
    settings.console.require_approval
}
