//! The audit log: every login (ok or failed), logout and state-changing action of a person,
//! with time, user, client address and object. The use cases that change state write their
//! line in the same transaction where the store offers it (`UserStore::create_user` …);
//! [`record`] is for the rest. [`list`] is what `kairan audit` and `/console/audit` show.

use chrono::{DateTime, Utc};

use crate::app::ports::UserStore;
use crate::domain::{AuditEntry, NewAudit, User};

use super::AccountError;

/// Who acts: a console or API user, or the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<i64>,
    /// The person's address, `cli:<os user>`, or what was typed at a failed login.
    pub name: String,
    pub ip: Option<String>,
}

impl Actor {
    pub fn user(user: &User, ip: Option<String>) -> Actor {
        Actor {
            user_id: Some(user.id),
            name: user.email.as_str().to_owned(),
            ip,
        }
    }

    /// The command line, named by the operating-system user running it.
    pub fn cli() -> Actor {
        let who = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Actor {
            user_id: None,
            name: format!("cli:{who}"),
            ip: None,
        }
    }

    /// An audit line by this actor.
    pub fn entry(
        &self,
        action: &'static str,
        object: impl Into<String>,
        detail: impl Into<String>,
        at: DateTime<Utc>,
    ) -> NewAudit {
        NewAudit {
            at,
            user_id: self.user_id,
            actor: self.name.clone(),
            ip: self.ip.clone(),
            action,
            object: object.into(),
            detail: detail.into(),
        }
    }
}

/// Writes one audit line.
pub async fn record(
    store: &dyn UserStore,
    actor: &Actor,
    action: &'static str,
    object: impl Into<String>,
    detail: impl Into<String>,
    now: DateTime<Utc>,
) -> Result<(), AccountError> {
    store
        .insert_audit(&actor.entry(action, object, detail, now))
        .await?;
    Ok(())
}

/// Audit lines at or after `since`, oldest first, at most `limit`.
pub async fn list(
    store: &dyn UserStore,
    since: Option<DateTime<Utc>>,
    limit: u32,
) -> Result<Vec<AuditEntry>, AccountError> {
    Ok(store.list_audit(since, limit).await?)
}

/// The person a request acts for, while it runs: set by the HTTP adapters (a console
/// session, a personal API token, the legacy `admin.token`) around the handler, so that the
/// use cases that change state (editorial, drafts, subscription, import) write their audit
/// line with [`note`] without every caller passing the actor. Outside a scope (the scheduler,
/// a reader's own request, the command line, which audits each command itself) `note` writes
/// nothing.
struct Acting {
    actor: Actor,
    store: std::sync::Arc<dyn crate::app::ports::Store>,
    noted: std::sync::atomic::AtomicBool,
}

tokio::task_local! {
    static ACTING: std::sync::Arc<Acting>;
}

/// Runs `f` on behalf of `actor` (see [`note`]); also answers whether `f` wrote an audit
/// line, so an adapter can write a generic one when no use case did.
pub async fn acting_as<F: std::future::Future>(
    store: std::sync::Arc<dyn crate::app::ports::Store>,
    actor: Actor,
    f: F,
) -> (F::Output, bool) {
    let acting = std::sync::Arc::new(Acting {
        actor,
        store,
        noted: std::sync::atomic::AtomicBool::new(false),
    });
    let out = ACTING.scope(acting.clone(), f).await;
    (out, acting.noted.load(std::sync::atomic::Ordering::Relaxed))
}

/// The actor of the current request, if one is acting (see [`acting_as`]).
pub fn acting() -> Option<Actor> {
    ACTING.try_with(|a| a.actor.clone()).ok()
}

/// Writes an audit line for the person the current request acts for, if any: called by a use
/// case after its change is stored. A failure to write is logged (the change stands).
pub async fn note(
    action: &'static str,
    object: impl Into<String>,
    detail: impl Into<String>,
    now: DateTime<Utc>,
) {
    let Ok(acting) = ACTING.try_with(std::sync::Arc::clone) else {
        return;
    };
    acting
        .noted
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let entry = acting.actor.entry(action, object, detail, now);
    if let Err(e) = acting.store.insert_audit(&entry).await {
        tracing::error!(error = %e, action, "the audit line was not written");
    }
}

/// Tells the acting scope that a use case wrote its audit line itself (in its own
/// transaction), so the adapter adds no generic one.
pub fn written() {
    let _ = ACTING.try_with(|a| a.noted.store(true, std::sync::atomic::Ordering::Relaxed));
}
