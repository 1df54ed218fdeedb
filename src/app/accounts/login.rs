//! Logging in and staying logged in: the throttle (5 failures for one account or 20 from one
//! client address within 15 minutes, then "retry after"), the password, the TOTP code or a
//! recovery code, and server-side sessions (a random id in the cookie, its digest stored,
//! with an idle timeout and an absolute lifetime). A failure says nothing about why: the same
//! answer whether the account exists, is disabled, or the password or code was wrong.

use chrono::{DateTime, Duration, Utc};

use super::audit::Actor;
use super::{AccountError, digest, random_token, verify_password};
use crate::app::ports::UserStore;
use crate::app::ports::users::SessionRecord;
use crate::config::Settings;
use crate::domain::{EmailAddress, User, totp};

/// The throttle's window.
pub const WINDOW: Duration = Duration::minutes(15);
/// Failed logins for one account within the window before it is throttled.
pub const MAX_PER_ACCOUNT: u64 = 5;
/// Failed logins from one client address within the window before it is throttled.
pub const MAX_PER_ADDRESS: u64 = 20;

/// What the login form sent.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub email: String,
    pub password: String,
    /// A six-digit code, or a recovery code.
    pub code: Option<String>,
    pub ip: String,
}

/// A new session: the cookie's value (give it to the browser, never log it) and the form
/// token pages carry.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
    pub user: User,
}

/// Why a login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The generic failure.
    Failed,
    /// Too many failures: try again after this many seconds.
    Throttled { retry_after: u64 },
}

/// Checks a login and opens a session. Every attempt is recorded (throttle) and audited.
pub async fn login(
    store: &dyn UserStore,
    settings: &Settings,
    attempt: &Attempt,
    now: DateTime<Utc>,
) -> Result<Result<NewSession, Refusal>, AccountError> {
    let email = EmailAddress::parse(attempt.email.trim()).ok();
    // A key for the throttle even for something that is not an address (bounded).
    let key = match &email {
        Some(e) => e.key(),
        None => attempt
            .email
            .trim()
            .to_lowercase()
            .chars()
            .take(254)
            .collect(),
    };
    let typed: String = key.chars().take(254).collect();
    let unknown = Actor {
        user_id: None,
        name: typed.clone(),
        ip: Some(attempt.ip.clone()),
    };
    let (by_account, by_address) = store
        .login_failures(&key, &attempt.ip, now - WINDOW)
        .await?;
    let over = |f: crate::app::ports::users::Failures, max: u64| {
        (f.count >= max).then(|| {
            let until = f.oldest.unwrap_or(now) + WINDOW;
            (until - now).num_seconds().max(1) as u64
        })
    };
    if let Some(retry_after) = over(by_account, MAX_PER_ACCOUNT)
        .into_iter()
        .chain(over(by_address, MAX_PER_ADDRESS))
        .max()
    {
        store
            .insert_audit(&unknown.entry("login.throttled", "", "", now))
            .await?;
        return Ok(Err(Refusal::Throttled { retry_after }));
    }
    let creds = match &email {
        Some(e) => store.credentials(e).await?,
        None => None,
    };
    let password_ok = verify_password(
        attempt.password.clone(),
        creds.as_ref().and_then(|c| c.password_hash.clone()),
    )
    .await;
    let user_ok = creds
        .as_ref()
        .is_some_and(|c| c.user.active && !c.user.disabled);
    let mut ok = password_ok && user_ok;
    let mut how = "password";
    if ok
        && let Some(c) = &creds
        && let Some(secret) = c.totp_secret.as_deref().and_then(totp::base32_decode)
    {
        ok = false;
        let code = attempt.code.as_deref().unwrap_or("").trim();
        if let Some(step) = totp::verify(&secret, code, now, c.totp_last_step) {
            ok = store.take_totp_step(c.user.id, step).await?;
            how = "password+totp";
        } else if code.len() > 6 {
            let norm = totp::normalise_recovery_code(code);
            ok = store
                .use_recovery_code(c.user.id, &digest(&norm), now)
                .await?;
            how = "password+recovery-code";
        }
    }
    store
        .record_login_attempt(&key, &attempt.ip, ok, now)
        .await?;
    let Some(c) = creds.filter(|_| ok) else {
        let actor = Actor {
            user_id: None,
            ..unknown
        };
        store
            .insert_audit(&actor.entry("login.failed", "", "", now))
            .await?;
        return Ok(Err(Refusal::Failed));
    };
    let user = c.user;
    let cookie = random_token(32);
    let csrf = random_token(32);
    store
        .insert_session(&SessionRecord {
            id_hash: digest(&cookie),
            user_id: user.id,
            csrf: csrf.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + to_chrono(settings.console.session_lifetime),
            ip: Some(attempt.ip.clone()),
        })
        .await?;
    store
        .insert_audit(&Actor::user(&user, Some(attempt.ip.clone())).entry(
            "login.ok",
            format!("user {}", user.id),
            how,
            now,
        ))
        .await?;
    Ok(Ok(NewSession { cookie, csrf, user }))
}

fn to_chrono(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::hours(12))
}

/// A valid session: its user and its form token.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub csrf: String,
    /// The digest that names the session (for logout).
    pub session: String,
}

/// The session the cookie names, if it is still valid at `now`: not past its absolute
/// lifetime, not idle longer than allowed, its account enabled. An invalid one is deleted.
pub async fn authenticate(
    store: &dyn UserStore,
    settings: &Settings,
    cookie: &str,
    now: DateTime<Utc>,
) -> Result<Option<Authenticated>, AccountError> {
    if cookie.is_empty() || cookie.len() > 128 {
        return Ok(None);
    }
    let id_hash = digest(cookie);
    let Some(s) = store.session(&id_hash).await? else {
        return Ok(None);
    };
    let idle = to_chrono(settings.console.session_idle);
    if s.expires_at <= now || s.last_seen_at + idle <= now {
        store.delete_session(&id_hash).await?;
        return Ok(None);
    }
    let Some(user) = store
        .user(s.user_id)
        .await?
        .filter(|u| u.active && !u.disabled)
    else {
        store.delete_session(&id_hash).await?;
        return Ok(None);
    };
    // One write a minute at most per session.
    if now - s.last_seen_at > Duration::seconds(60) {
        store.touch_session(&id_hash, now).await?;
    }
    Ok(Some(Authenticated {
        user,
        csrf: s.csrf,
        session: id_hash,
    }))
}

/// Ends a session server side, audited.
pub async fn logout(
    store: &dyn UserStore,
    auth: &Authenticated,
    ip: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), AccountError> {
    store.delete_session(&auth.session).await?;
    store
        .insert_audit(&Actor::user(&auth.user, ip).entry(
            "logout",
            format!("user {}", auth.user.id),
            "",
            now,
        ))
        .await?;
    Ok(())
}

/// Whether the form token sent matches the session's, in constant time.
pub fn csrf_matches(auth: &Authenticated, sent: &str) -> bool {
    use subtle::ConstantTimeEq;
    let a = digest(sent);
    let b = digest(&auth.csrf);
    !sent.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
