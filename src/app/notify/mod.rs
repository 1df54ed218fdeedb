//! Transactional mail as a use case: the confirmation request and the welcome (issue 3), and
//! the unsubscribe link that answers a reader's mail to the bare return address (issue 12,
//! `app::bounces`), sent from the durable outbox (`domain::outbox`). A state change that makes a mail due queues it
//! in its own transaction (`subscription::register` / `confirm` hand the store the mail with
//! the change); this module sends what is queued. It resolves the recipient at send time and
//! checks the mail still applies (a confirmation only to a reader still `pending`, a welcome
//! only to one still `active`), signs the links, has `render::transactional` build the
//! message with a Message-ID fixed per queued row, and hands it to the [`Mailer`] port.
//!
//! Two ways a queued mail goes: the [`sender`] task of `kairan serve` claims due rows with a
//! lease, retries temporary failures with backoff and drains on shutdown; a foreground caller
//! (`kairan subscribers add`, `POST /api/subscribers`) sends its own row at once with
//! [`Notifier::send_now`] and is told whether it went, the row staying queued for the sender
//! when it did not. The subscribe form only queues and wakes the sender, so its answer does
//! not depend on whether a mail was due (no enumeration by timing).
//!
//! Depends on the domain, the ports, the settings, render, and tokio (the wake-up signal); no
//! adapter.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::ports::{MailSession, Mailer, SendOutcome, SmtpStage, Store, StoreError};
use crate::config::Settings;
use crate::domain::delivery::{Attempt, Decision, decide};
use crate::domain::outbox::{MAIL_RETRY, mail_message_id};
use crate::domain::{
    MailId, MailKind, MailOutcome, Purpose, QueuedMail, Recipient, Signer, Subscriber,
    SubscriberId, SubscriberStatus,
};
use crate::render::Renderer;
use crate::render::transactional::{self, BuiltMail, Links};

pub mod sender;

/// Why a mail did not go (now).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("cannot read or record the mail: {0}")]
    Store(#[from] StoreError),
    /// Not sent this time; the text names the subscriber by id only. `queued`: it stays in
    /// the outbox and the sender of `kairan serve` tries again.
    #[error("{reason}")]
    Mail { reason: String, queued: bool },
}

/// Sends queued transactional mail; cheap to clone (shared parts).
#[derive(Clone)]
pub struct Notifier {
    settings: Arc<Settings>,
    renderer: Arc<Renderer>,
    signer: Arc<Signer>,
    mailer: Arc<dyn Mailer>,
    store: Arc<dyn Store>,
    /// Names this process on the mails it leases.
    owner: Arc<str>,
    /// Wakes the sender when a mail is queued, so it goes at once rather than at the next
    /// poll.
    wake: Arc<tokio::sync::Notify>,
}

/// `base_url` + `path`, keeping a path prefix of the base (`https://x.org/news/`).
pub fn link(settings: &Settings, path: &str) -> String {
    format!(
        "{}/{}",
        settings.http.base_url.as_str().trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

impl Notifier {
    /// `owner` names this process's leases on queued mails (see `dispatch::LeaseOwner`).
    pub fn new(
        settings: Arc<Settings>,
        renderer: Arc<Renderer>,
        signer: Arc<Signer>,
        mailer: Arc<dyn Mailer>,
        store: Arc<dyn Store>,
        owner: &str,
    ) -> Self {
        Notifier {
            settings,
            renderer,
            signer,
            mailer,
            store,
            owner: Arc::from(format!("{owner}:mail")),
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn url(&self, path: &str, id: SubscriberId, purpose: Purpose, now: DateTime<Utc>) -> String {
        let token = self.signer.sign(id.get(), purpose, now);
        link(&self.settings, &format!("{path}/{token}"))
    }

    /// The link that confirms subscriber `id`'s opt-in.
    pub fn confirm_url(&self, id: SubscriberId, now: DateTime<Utc>) -> String {
        self.url("confirm", id, Purpose::Confirm, now)
    }

    pub fn unsubscribe_url(&self, id: SubscriberId, now: DateTime<Utc>) -> String {
        self.url("unsubscribe", id, Purpose::Unsubscribe, now)
    }

    pub fn preferences_url(&self, id: SubscriberId, now: DateTime<Utc>) -> String {
        self.url("preferences", id, Purpose::Preferences, now)
    }

    /// Tells the sender a mail was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// How long a sender holds a claimed mail before another may take it.
    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.settings.dispatch.lease)
            .unwrap_or(chrono::Duration::seconds(60))
    }

    /// Builds one of the subscription mails for `sub` (nothing is sent).
    pub fn build(
        &self,
        kind: MailKind,
        sub: &Subscriber,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<BuiltMail, String> {
        let unsubscribe_token = self.signer.sign(sub.id.get(), Purpose::Unsubscribe, now);
        let links = Links {
            confirm: self.confirm_url(sub.id, now),
            unsubscribe: link(&self.settings, &format!("unsubscribe/{unsubscribe_token}")),
            preferences: self.preferences_url(sub.id, now),
            unsubscribe_mailto: super::bounces::unsubscribe_mailto(
                &self.settings,
                &unsubscribe_token,
            ),
        };
        transactional::build(
            &self.renderer,
            &self.settings,
            kind,
            sub,
            &links,
            message_id,
            now,
        )
    }

    /// Sends queued mail `id` now, in the foreground, and records the outcome. `Ok(true)`:
    /// it went; `Ok(false)`: another sender holds it, or it was done already (not an error:
    /// it is in hand). A failure leaves it queued for the sender when it can still go.
    pub async fn send_now(&self, id: MailId) -> Result<bool, NotifyError> {
        let now = Utc::now();
        let Some(mail) = self
            .store
            .claim_mail(id, &self.owner, now, now + self.lease())
            .await?
        else {
            return Ok(false);
        };
        let mut session = self.mailer.session().await;
        let outcome = self.attempt(session.as_mut(), &mail, 0).await;
        session.close().await;
        self.store
            .record_mail(id, &self.owner, &outcome, Utc::now())
            .await?;
        log_outcome(&mail, &outcome);
        match outcome {
            MailOutcome::Sent { .. } => Ok(true),
            MailOutcome::Cancelled { .. } => Ok(false),
            MailOutcome::Retry { error, .. } | MailOutcome::Deferred { error, .. } => {
                Err(NotifyError::Mail {
                    reason: error,
                    queued: true,
                })
            }
            MailOutcome::Failed { error } => Err(NotifyError::Mail {
                reason: error,
                queued: false,
            }),
        }
    }

    /// One attempt at a claimed mail, classified; nothing is recorded here. `unreachable`
    /// counts the transport's failures to connect in a row before this one (the wait before
    /// the next try grows with it).
    pub(crate) async fn attempt(
        &self,
        session: &mut dyn MailSession,
        mail: &QueuedMail,
        unreachable: u32,
    ) -> MailOutcome {
        let now = Utc::now();
        let sub = match mail.recipient {
            Recipient::Subscriber(id) => match self.store.subscriber(id).await {
                Ok(Some(sub)) => sub,
                Ok(None) => {
                    return MailOutcome::Cancelled {
                        reason: format!("subscriber {id} is gone"),
                    };
                }
                Err(e) => {
                    return MailOutcome::Deferred {
                        at: now + chrono::Duration::seconds(5),
                        error: format!("cannot read subscriber {id}: {e}"),
                    };
                }
            },
            Recipient::User(id) => return self.attempt_user(session, mail, id).await,
        };
        // The mail may no longer apply: the reader confirmed, left, bounced or was erased.
        let applies = match mail.kind {
            MailKind::Confirm => sub.status == SubscriberStatus::Pending,
            MailKind::Welcome => sub.status == SubscriberStatus::Active,
            MailKind::UnsubscribeLink | MailKind::UnsubscribeRequested => matches!(
                sub.status,
                SubscriberStatus::Pending | SubscriberStatus::Active
            ),
            // A console account's mail, never a subscriber's.
            MailKind::UserSetup => false,
        };
        if !applies {
            return MailOutcome::Cancelled {
                reason: format!("subscriber {} is {}", sub.id, sub.status),
            };
        }
        // In the language chosen when the mail became due.
        let sub = Subscriber {
            lang: mail.lang,
            ..sub
        };
        let message_id = mail_message_id(
            mail.kind,
            mail.id,
            self.settings.newsletter.from.address.domain(),
        );
        let built = match self.build(mail.kind, &sub, &message_id, now) {
            Ok(b) => b,
            Err(e) => return MailOutcome::Failed { error: e },
        };
        let sent = session.send(&built.message).await;
        classify(&sent, mail.attempts, unreachable, Utc::now())
    }
}

impl Notifier {
    /// One attempt at a mail to a console account (its setup link, issue 14): still due
    /// while the account is enabled; the link is signed again from the queued nonce.
    async fn attempt_user(
        &self,
        session: &mut dyn MailSession,
        mail: &QueuedMail,
        id: i64,
    ) -> MailOutcome {
        let now = Utc::now();
        let user = match self.store.user(id).await {
            Ok(Some(u)) if !u.disabled => u,
            Ok(_) => {
                return MailOutcome::Cancelled {
                    reason: format!("user {id} is gone or disabled"),
                };
            }
            Err(e) => {
                return MailOutcome::Deferred {
                    at: now + chrono::Duration::seconds(5),
                    error: format!("cannot read user {id}: {e}"),
                };
            }
        };
        if mail.kind != MailKind::UserSetup {
            return MailOutcome::Failed {
                error: format!("no {} mail for a user", mail.kind),
            };
        }
        let Some(url) = super::accounts::users::setup_url_from_payload(
            &self.settings,
            &self.signer,
            &mail.payload,
        ) else {
            return MailOutcome::Failed {
                error: "the queued setup mail has no valid payload".into(),
            };
        };
        let message_id = mail_message_id(
            mail.kind,
            mail.id,
            self.settings.newsletter.from.address.domain(),
        );
        let built = match crate::render::account_mail::setup(
            &self.renderer,
            &self.settings,
            &user,
            &url,
            &message_id,
            now,
        ) {
            Ok(b) => b,
            Err(e) => return MailOutcome::Failed { error: e },
        };
        let sent = session.send(&built).await;
        classify(&sent, mail.attempts, 0, Utc::now())
    }
}

/// What an answer of the transport means for a queued mail: an unreachable server is not
/// the mail's attempt (it waits, growing with `unreachable`, up to a minute); a 4xx retries on
/// `MAIL_RETRY`'s schedule; a 5xx at RCPT or DATA fails it.
fn classify(
    outcome: &SendOutcome,
    previous_attempts: u32,
    unreachable: u32,
    now: DateTime<Utc>,
) -> MailOutcome {
    let (attempt, text) = match outcome {
        SendOutcome::Sent { reply } => {
            return MailOutcome::Sent {
                reply: reply.clone(),
            };
        }
        SendOutcome::Temporary {
            stage: SmtpStage::Connect,
            reply,
        } => {
            return MailOutcome::Deferred {
                at: now
                    + chrono::Duration::from_std(reconnect_wait(unreachable)).unwrap_or_default(),
                error: reply.clone(),
            };
        }
        SendOutcome::Temporary { reply, .. } => (Attempt::Temporary, reply),
        SendOutcome::Permanent {
            stage: SmtpStage::RcptTo | SmtpStage::Data,
            reply,
        } => (Attempt::RecipientRejected, reply),
        SendOutcome::Permanent { reply, .. } => (Attempt::SenderRejected, reply),
    };
    let error = crate::telemetry::redact_addresses(text);
    match decide(
        &MAIL_RETRY,
        attempt,
        previous_attempts,
        now,
        rand::random::<f64>(),
    ) {
        Decision::Sent => MailOutcome::Sent {
            reply: text.clone(),
        },
        Decision::Retry { at } => MailOutcome::Retry { at, error },
        Decision::Failed { .. } => MailOutcome::Failed { error },
    }
}

/// How long to wait before connecting again after `failures` failed connections in a row:
/// 1 s doubling to a minute.
pub fn reconnect_wait(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(6)).min(Duration::from_secs(60))
}

fn log_outcome(mail: &QueuedMail, outcome: &MailOutcome) {
    let (kind, id) = (mail.kind.as_str(), mail.id.get());
    let recipient = mail.recipient.id();
    match outcome {
        MailOutcome::Sent { .. } => {
            tracing::info!(mail_id = id, kind, recipient, "transactional mail sent")
        }
        MailOutcome::Cancelled { reason } => {
            tracing::info!(
                mail_id = id,
                kind,
                recipient,
                reason,
                "transactional mail no longer applies"
            )
        }
        MailOutcome::Retry { at, error } | MailOutcome::Deferred { at, error } => {
            tracing::warn!(mail_id = id, kind, recipient, retry_at = %at, error, "transactional mail not sent; will retry")
        }
        MailOutcome::Failed { error } => {
            tracing::error!(
                mail_id = id,
                kind,
                recipient,
                error,
                "transactional mail failed"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_server_is_not_an_attempt_and_waits_longer_each_time() {
        let now = Utc::now();
        let down = SendOutcome::Temporary {
            stage: SmtpStage::Connect,
            reply: "connection refused".into(),
        };
        let MailOutcome::Deferred { at, .. } = classify(&down, 11, 0, now) else {
            panic!("deferred, not failed, even on the last attempt");
        };
        assert_eq!(at - now, chrono::Duration::seconds(1));
        assert_eq!(reconnect_wait(3), Duration::from_secs(8));
        assert_eq!(reconnect_wait(30), Duration::from_secs(60));
    }

    #[test]
    fn a_4xx_retries_until_the_last_attempt_and_a_5xx_at_rcpt_fails() {
        let now = Utc::now();
        let busy = SendOutcome::Temporary {
            stage: SmtpStage::Data,
            reply: "451 4.3.0 try again".into(),
        };
        assert!(matches!(classify(&busy, 0, 0, now), MailOutcome::Retry { at, .. } if at > now));
        assert!(matches!(
            classify(&busy, MAIL_RETRY.max_attempts - 1, 0, now),
            MailOutcome::Failed { .. }
        ));
        let unknown = SendOutcome::Permanent {
            stage: SmtpStage::RcptTo,
            reply: "550 5.1.1 <taro@example.jp> unknown".into(),
        };
        let MailOutcome::Failed { error } = classify(&unknown, 0, 0, now) else {
            panic!("a 5xx at RCPT fails the mail");
        };
        assert!(
            !error.contains("taro@"),
            "no address in the stored error: {error}"
        );
    }
}
