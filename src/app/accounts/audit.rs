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
