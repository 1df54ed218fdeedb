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
    let ip = ip.or_else(|| super::audit::acting().and_then(|a| a.ip));
    let audit =
        Actor::user(user, ip).entry("issue.send_requested", format!("issue {issue_id}"), "", now);
    let id = store
        .insert_send_request(issue_id, user.id, &audit, now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                AccountError::Invalid(format!("issue {issue_id} already waits for approval"))
            }
            other => other.into(),
        })?;
    super::audit::written();
    Ok(id)
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
    let ip = ip.or_else(|| super::audit::acting().and_then(|a| a.ip));
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
    super::audit::written();
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

/// What the command line may do about the two-person rule when it starts a campaign
/// (`kairan send`).
///
/// The command line is the server operator's, who could change the configuration or the
/// database anyway; so the rule cannot *bind* them, but it must not be bypassed silently.
/// With `console.require_approval` on, starting an issue from the command line needs the same
/// approval as the console and the API (a request approved by a different admin); without
/// one, it is refused with the way to get one, unless the operator overrides the rule on
/// purpose with a reason, which is written to the audit log.
#[derive(Debug, Clone, PartialEq)]
pub enum CliSend {
    /// The rule is off.
    NotRequired,
    /// Approved: the request.
    Approved(SendRequest),
    /// Overridden by the operator (audited as `issue.approval_overridden`).
    Overridden,
}

/// Decides whether the command line may start issue `issue_id` now (see [`CliSend`]).
/// `override_reason` is `--override-approval REASON`; an empty reason is refused.
pub async fn cli_send(
    store: &dyn UserStore,
    settings: &crate::config::Settings,
    issue_id: i64,
    override_reason: Option<&str>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<CliSend, AccountError> {
    if !needs_approval(settings) {
        return Ok(CliSend::NotRequired);
    }
    if let Some(req) = store.approved_send_request(issue_id).await? {
        return Ok(CliSend::Approved(req));
    }
    match override_reason.map(str::trim) {
        Some("") => Err(AccountError::Invalid(
            "--override-approval needs a reason (it is written to the audit log)".into(),
        )),
        Some(reason) => {
            store
                .insert_audit(&actor.entry(
                    "issue.approval_overridden",
                    format!("issue {issue_id}"),
                    reason.chars().take(500).collect::<String>(),
                    now,
                ))
                .await?;
            Ok(CliSend::Overridden)
        }
        None => Err(AccountError::Invalid(format!(
            "console.require_approval is on and issue {issue_id} has no approved send request \
             (an approval holds for the text approved: an edit after it needs a new one): \
             request it (console, or POST /api/issues/{issue_id}/request-send) and have a \
             different admin approve it at /console/approvals (or POST \
             /api/send-requests/{{request}}/approve), which starts the send; as the server's \
             operator you may instead run `kairan send {issue_id} --override-approval \
             \"REASON\"`, which is recorded in the audit log"
        ))),
    }
}
