//! Personal API tokens (`kairan users token EMAIL --name N`): random, shown once, stored as
//! their SHA-256 digest; a request with one acts with its owner's role on `/api/*`, and stops
//! working when the account is disabled or reset.

use chrono::{DateTime, Utc};

use super::audit::Actor;
use super::{AccountError, digest, random_token};
use crate::app::ports::UserStore;
use crate::domain::{EmailAddress, User};

/// What every personal token starts with (so a leaked one is recognisable in a scan).
pub const PREFIX: &str = "kairan_";

/// Creates a token for the account `email`; returns it (print once, never log).
pub async fn create(
    store: &dyn UserStore,
    email: &str,
    name: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<String, AccountError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AccountError::Invalid(
            "the token name must be 1 to 100 characters".into(),
        ));
    }
    let email = EmailAddress::parse(email).map_err(|e| AccountError::Invalid(e.to_string()))?;
    let user = store
        .user_by_email(&email)
        .await?
        .ok_or(AccountError::NoSuchUser)?;
    if user.disabled {
        return Err(AccountError::Invalid("the account is disabled".into()));
    }
    let token = format!("{PREFIX}{}", random_token(32));
    let audit = actor.entry("user.token_created", format!("user {}", user.id), name, now);
    store
        .insert_api_token(user.id, name, &digest(&token), &audit, now)
        .await?;
    Ok(token)
}

/// The user a bearer token belongs to, if it is one of ours and the account may act.
pub async fn user_for(
    store: &dyn UserStore,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<User>, AccountError> {
    if !token.starts_with(PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    Ok(store.api_token_user(&digest(token), now).await?)
}
