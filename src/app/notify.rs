//! Sending the subscription mails (issue 3) as a use case: the confirmation request and the
//! welcome. It signs the subscriber's links, has `render::transactional` build the message,
//! and hands it to the [`Mailer`] port. Used by the reader's pages, the admin API and the
//! command line, through `subscription::register` / `subscription::confirm`.
//!
//! Two timings, chosen by the caller: [`Notifier::send_later`] mails from a background task
//! (the subscribe form answers before the mail goes, so a known address does not answer at
//! another speed than an unknown one); [`Notifier::send_to`] mails in the foreground and says
//! whether it went. Only this module sends these mails, so replacing both by a durable outbox
//! written in the registration's transaction is a change here alone.
//!
//! Depends on the domain, the ports, the settings and render; no adapter.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::ports::{Mailer, SendOutcome, StoreError, SubscriberStore};
use crate::config::Settings;
use crate::domain::{Purpose, Signer, Subscriber, SubscriberId};
use crate::render::Renderer;
use crate::render::transactional::{self, BuiltMail, Links};

pub use crate::render::transactional::MailKind;

/// Why a mail to a subscriber did not go.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The subscriber is not there (any more).
    #[error("subscriber {0} not found")]
    Gone(SubscriberId),
    #[error("cannot load the subscriber: {0}")]
    Store(#[from] StoreError),
    /// Rendering or the transport failed; the text names the subscriber by id only.
    #[error("{0}")]
    Mail(String),
}

/// Renders and sends the subscription mails; cheap to clone (shared parts).
#[derive(Clone)]
pub struct Notifier {
    settings: Arc<Settings>,
    renderer: Arc<Renderer>,
    signer: Arc<Signer>,
    mailer: Arc<dyn Mailer>,
    subscribers: Arc<dyn SubscriberStore>,
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
    pub fn new(
        settings: Arc<Settings>,
        renderer: Arc<Renderer>,
        signer: Arc<Signer>,
        mailer: Arc<dyn Mailer>,
        subscribers: Arc<dyn SubscriberStore>,
    ) -> Self {
        Notifier {
            settings,
            renderer,
            signer,
            mailer,
            subscribers,
        }
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

    /// Builds one of the mails for `sub` (nothing is sent).
    pub fn build(
        &self,
        kind: MailKind,
        sub: &Subscriber,
        now: DateTime<Utc>,
    ) -> Result<BuiltMail, String> {
        let links = Links {
            confirm: self.confirm_url(sub.id, now),
            unsubscribe: self.unsubscribe_url(sub.id, now),
            preferences: self.preferences_url(sub.id, now),
        };
        transactional::build(&self.renderer, &self.settings, kind, sub, &links, now)
    }

    /// Builds and sends one mail. The error is for the log: it names the subscriber by id.
    pub async fn send(
        &self,
        kind: MailKind,
        sub: &Subscriber,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let built = self.build(kind, sub, now)?;
        let mut session = self.mailer.session().await;
        let outcome = session.send(&built.message).await;
        session.close().await;
        match outcome {
            SendOutcome::Sent { .. } => Ok(()),
            SendOutcome::Temporary { reply, .. } => Err(format!("temporary failure: {reply}")),
            SendOutcome::Permanent { reply, .. } => Err(format!("refused: {reply}")),
        }
    }

    /// Loads subscriber `id` and sends them the mail, in the foreground.
    pub async fn send_to(
        &self,
        kind: MailKind,
        id: SubscriberId,
        now: DateTime<Utc>,
    ) -> Result<(), NotifyError> {
        let sub = self
            .subscribers
            .subscriber(id)
            .await?
            .ok_or(NotifyError::Gone(id))?;
        self.send(kind, &sub, now).await.map_err(NotifyError::Mail)
    }

    /// Sends the mail to subscriber `id` from a background task; the outcome is logged with
    /// the subscriber's id.
    pub fn send_later(&self, kind: MailKind, id: SubscriberId) {
        let this = self.clone();
        tokio::spawn(async move {
            match this.send_to(kind, id, Utc::now()).await {
                Ok(()) => {
                    tracing::info!(subscriber_id = id.get(), mail = ?kind, "subscription mail sent")
                }
                Err(NotifyError::Gone(_)) => {}
                Err(NotifyError::Store(e)) => {
                    tracing::error!(subscriber_id = id.get(), error = %e, "cannot load the subscriber to mail")
                }
                Err(NotifyError::Mail(e)) => {
                    tracing::warn!(subscriber_id = id.get(), mail = ?kind, error = %e, "subscription mail not sent")
                }
            }
        });
    }
}
