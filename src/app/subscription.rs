//! Subscribe, confirm, unsubscribe, change language, erase (issue 3): the rules of the double
//! opt-in, over the subscriber and key ports. [`register`] is the one way onto the list, for
//! the subscribe form, `POST /api/subscribers`, `kairan subscribers add` and each row of
//! `kairan subscribers import`: it writes the consent record, checks the suppression list,
//! applies the status rules, decides whether a confirmation mail is due, queues it in the
//! same transaction as the change (the durable outbox, `app::notify`), and has it sent at the
//! caller's timing ([`Mail`]): by the outbox sender for the form (the page answers the same
//! whether a mail was due or not), at once for the API and the command line (which say
//! whether it went).
//!
//! Rules (issue 3):
//! - a new address becomes `pending` (or `active` when an operator says it is confirmed);
//! - a `pending` address asking again gets the confirmation again, at most once per
//!   `subscribe.resend_interval` (a compare-and-set on `confirmation_sent_at`);
//! - an `active` address gets nothing new;
//! - an `unsubscribed` address asking through the form starts a fresh double opt-in; an
//!   operator (CLI, import, API) never re-activates it, nor an erased (suppressed) one;
//! - `bounced` and `complained` addresses are left alone.
//!
//! Depends on the domain, the ports and `app::notify`; no adapter.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::keys::address_hash;
use super::notify::{Notifier, NotifyError};
use super::ports::{Store, StoreError, SubscriberStore};
use crate::domain::{
    Consent, EmailAddress, Lang, LangPref, MailId, MailKind, NewMail, NewSubscriber, Subscriber,
    SubscriberId, SubscriberStatus, SubscriptionSource,
};

/// Who asks to put an address on the list, with the evidence the consent record keeps.
#[derive(Debug, Clone, PartialEq)]
pub enum Requester {
    /// The reader, through the subscribe form: the client, the page language, and the
    /// consent text exactly as shown (its SHA-256 and version).
    Reader {
        ip: Option<String>,
        user_agent: Option<String>,
        page_lang: Lang,
        text_hash: String,
        text_version: String,
    },
    /// An operator (command line, import, admin API). `confirmed`: the reader's consent was
    /// obtained otherwise, so the address is active at once and no confirmation is sent.
    Operator {
        via: SubscriptionSource,
        confirmed: bool,
    },
}

/// A request to subscribe an address.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub email: EmailAddress,
    pub name: Option<String>,
    pub lang: LangPref,
    pub by: Requester,
}

impl Registration {
    /// The subscriber to store: its status and consent record follow from the requester.
    pub fn subscriber(&self, now: DateTime<Utc>) -> NewSubscriber {
        let (status, consent) = match &self.by {
            Requester::Reader {
                ip,
                user_agent,
                page_lang,
                text_hash,
                text_version,
            } => (
                SubscriberStatus::Pending,
                Consent {
                    method: SubscriptionSource::Form,
                    form_at: now,
                    confirmed_at: None,
                    ip: ip.clone(),
                    user_agent: user_agent.clone(),
                    page_lang: Some(*page_lang),
                    text_hash: Some(text_hash.clone()),
                    text_version: Some(text_version.clone()),
                },
            ),
            Requester::Operator { via, confirmed } => (
                if *confirmed {
                    SubscriberStatus::Active
                } else {
                    SubscriberStatus::Pending
                },
                Consent::operator(*via, *confirmed, now),
            ),
        };
        NewSubscriber {
            email: self.email.clone(),
            name: self.name.clone(),
            lang: self.lang,
            status,
            consent,
            now,
        }
    }
}

/// How a mail that becomes due is sent. In every case but [`Mail::Never`] it is queued in the
/// transaction of the change that makes it due (`app::notify`, the outbox).
#[derive(Clone, Copy)]
pub enum Mail<'a> {
    /// Queued; the outbox sender sends it (the reader's pages answer the same either way).
    Later(&'a Notifier),
    /// Queued, then sent now by the caller, who is told whether it went (the admin API, the
    /// command line); when it did not, it stays queued for the sender.
    Now(&'a Notifier),
    /// Not queued: the caller knows none can be due (an operator's confirmed additions).
    Never,
}

impl Mail<'_> {
    fn queues(&self) -> bool {
        !matches!(self, Mail::Never)
    }
}

/// What became of the mail a use case owed.
#[derive(Debug)]
pub enum Mailed {
    /// No mail was due.
    NotDue,
    /// Queued for the outbox sender.
    Later(MailId),
    /// Sent.
    Sent(MailId),
    /// Queued, but the attempt to send it now failed; `NotifyError::Mail::queued` says
    /// whether the sender will try again.
    NotSent(MailId, NotifyError),
    /// Due, and the caller said [`Mail::Never`].
    Skipped,
}

impl Mailed {
    async fn deliver(mail: Mail<'_>, queued: Option<MailId>) -> Mailed {
        let Some(id) = queued else {
            return if mail.queues() {
                Mailed::NotDue
            } else {
                Mailed::Skipped
            };
        };
        match mail {
            Mail::Later(n) => {
                n.wake();
                Mailed::Later(id)
            }
            Mail::Now(n) => match n.send_now(id).await {
                Ok(true) => Mailed::Sent(id),
                // Another sender has it in hand.
                Ok(false) => Mailed::Later(id),
                Err(e) => Mailed::NotSent(id, e),
            },
            Mail::Never => Mailed::Skipped,
        }
    }
}

/// What [`register`] did.
#[derive(Debug)]
pub struct Registered {
    pub outcome: Subscribed,
    /// The confirmation mail, when one was due.
    pub mail: Mailed,
}

/// What a subscribe request did.
#[derive(Debug, Clone, PartialEq)]
pub enum Subscribed {
    /// A new subscriber.
    Created { id: SubscriberId, confirm: bool },
    /// An unsubscribed reader opted in anew.
    Restarted { id: SubscriberId, confirm: bool },
    /// Already pending; `confirm` says whether the confirmation goes out again.
    StillPending { id: SubscriberId, confirm: bool },
    /// A pending subscriber an operator marked confirmed.
    Confirmed { id: SubscriberId },
    /// Nothing changed (active, or a status an operator may not override).
    Unchanged {
        id: SubscriberId,
        status: SubscriberStatus,
    },
    /// The address was erased on request; only the reader may subscribe it again.
    Suppressed,
}

impl Subscribed {
    /// The subscriber whose confirmation mail is due, if any.
    pub fn confirmation_due(&self) -> Option<SubscriberId> {
        match *self {
            Subscribed::Created { id, confirm: true }
            | Subscribed::Restarted { id, confirm: true }
            | Subscribed::StillPending { id, confirm: true } => Some(id),
            _ => None,
        }
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Subscribed::Created { .. } => "created",
            Subscribed::Restarted { .. } => "restarted",
            Subscribed::StillPending { confirm: true, .. } => "pending-resent",
            Subscribed::StillPending { .. } => "pending-throttled",
            Subscribed::Confirmed { .. } => "confirmed",
            Subscribed::Unchanged { .. } => "unchanged",
            Subscribed::Suppressed => "suppressed",
        }
    }

    pub fn id(&self) -> Option<SubscriberId> {
        match *self {
            Subscribed::Created { id, .. }
            | Subscribed::Restarted { id, .. }
            | Subscribed::StillPending { id, .. }
            | Subscribed::Confirmed { id }
            | Subscribed::Unchanged { id, .. } => Some(id),
            Subscribed::Suppressed => None,
        }
    }
}

fn by_reader(s: &NewSubscriber) -> bool {
    s.consent.method == SubscriptionSource::Form
}

/// Subscribes `reg` at `now` (see the module docs for the rules) and, when a confirmation is
/// due, queues it in the same transaction and has it sent as `mail` says. `resend_interval`
/// bounds how often a pending address gets its confirmation. An error is a storage error:
/// nothing was queued.
pub async fn register(
    store: &dyn Store,
    reg: &Registration,
    resend_interval: std::time::Duration,
    mail: Mail<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<Registered> {
    let confirmation = mail
        .queues()
        .then(|| NewMail::new(MailKind::Confirm, reg.lang));
    let (outcome, queued) = apply_rules(
        store,
        &reg.subscriber(now),
        resend_interval,
        confirmation.as_ref(),
    )
    .await?;
    let mail = Mailed::deliver(mail, queued).await;
    // A person adding someone (console, API): audited; a reader's own sign-up is not.
    if !by_reader(&reg.subscriber(now)) {
        let (action, id) = match &outcome {
            Subscribed::Created { id, .. } => ("subscriber.added", Some(*id)),
            Subscribed::Confirmed { id } => ("subscriber.confirmed", Some(*id)),
            Subscribed::Restarted { id, .. } => ("subscriber.added", Some(*id)),
            _ => ("", None),
        };
        if let Some(id) = id {
            super::accounts::audit::note(action, format!("subscriber {}", id.get()), "", now).await;
        }
    }
    Ok(Registered { outcome, mail })
}

/// The rules, with the confirmation to queue when one is due (`None`: queue none). Returns
/// what happened and the queued mail.
async fn apply_rules(
    store: &dyn Store,
    new: &NewSubscriber,
    resend_interval: std::time::Duration,
    confirmation: Option<&NewMail>,
) -> anyhow::Result<(Subscribed, Option<MailId>)> {
    let not_since = new.now
        - chrono::Duration::from_std(resend_interval).unwrap_or(chrono::Duration::minutes(10));
    let reader = by_reader(new);
    let pending = new.status == SubscriberStatus::Pending;
    // Two attempts: a concurrent insert of the same address turns into "existing".
    for _ in 0..2 {
        let Some(existing) = store.subscriber_by_email(&new.email).await? else {
            if !reader
                && store
                    .is_suppressed(&address_hash(store, &new.email).await?)
                    .await?
            {
                return Ok((Subscribed::Suppressed, None));
            }
            match store
                .insert_subscriber(new, confirmation.filter(|_| pending))
                .await
            {
                Ok((id, mail)) => {
                    if new.status == SubscriberStatus::Active {
                        lift(store, new).await?;
                    }
                    let confirm = mail.is_some();
                    return Ok((Subscribed::Created { id, confirm }, mail));
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let id = existing.id;
        return Ok(match existing.status {
            SubscriberStatus::Pending if reader => {
                store.set_subscriber_lang(id, new.lang, new.now).await?;
                let mail = match confirmation {
                    Some(c) => {
                        store
                            .claim_confirmation_send(id, new.now, not_since, c)
                            .await?
                    }
                    None => None,
                };
                let confirm = mail.is_some();
                (Subscribed::StillPending { id, confirm }, mail)
            }
            SubscriberStatus::Pending if new.status == SubscriberStatus::Active => {
                if store.confirm_subscriber(id, new.now, None).await?.applied {
                    (Subscribed::Confirmed { id }, None)
                } else {
                    let status = existing.status;
                    (Subscribed::Unchanged { id, status }, None)
                }
            }
            SubscriberStatus::Unsubscribed if reader => {
                let restarted = store
                    .restart_opt_in(id, new, confirmation.filter(|_| pending))
                    .await?;
                let confirm = restarted.mail.is_some();
                (Subscribed::Restarted { id, confirm }, restarted.mail)
            }
            status => (Subscribed::Unchanged { id, status }, None),
        });
    }
    anyhow::bail!("the address was inserted and removed concurrently; try again")
}

async fn lift(store: &dyn Store, new: &NewSubscriber) -> anyhow::Result<()> {
    let hash = address_hash(store, &new.email).await?;
    store.lift_suppression(&hash).await?;
    Ok(())
}

/// What a valid confirmation link did.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmation {
    /// Now active; the welcome mail is on its way.
    Activated(Subscriber),
    /// It was active already (a second click): nothing to do.
    AlreadyActive(Subscriber),
    /// Not pending or active (unsubscribed, bounced, erased): the link no longer applies.
    NotApplicable,
}

/// Confirms subscriber `id` (from a verified confirm token); a subscriber who becomes active
/// gets the welcome mail, queued in the same transaction and sent as `mail` says.
pub async fn confirm(
    store: &dyn Store,
    id: SubscriberId,
    now: DateTime<Utc>,
    mail: Mail<'_>,
) -> anyhow::Result<Confirmation> {
    let Some(sub) = store.subscriber(id).await? else {
        return Ok(Confirmation::NotApplicable);
    };
    match sub.status {
        SubscriberStatus::Pending => {
            let welcome = mail
                .queues()
                .then(|| NewMail::new(MailKind::Welcome, sub.lang));
            let changed = store.confirm_subscriber(id, now, welcome.as_ref()).await?;
            if changed.applied {
                // An erased address that opts in anew leaves the suppression list.
                let hash = address_hash(store, &sub.email).await?;
                store.lift_suppression(&hash).await?;
                let sub = store.subscriber(id).await?.unwrap_or(sub);
                tracing::info!(subscriber_id = id.get(), "subscription confirmed");
                Mailed::deliver(mail, changed.mail).await;
                Ok(Confirmation::Activated(sub))
            } else {
                // Raced with another click (or an unsubscribe): report what is now true.
                match store.subscriber(id).await? {
                    Some(s) if s.status == SubscriberStatus::Active => {
                        Ok(Confirmation::AlreadyActive(s))
                    }
                    _ => Ok(Confirmation::NotApplicable),
                }
            }
        }
        SubscriberStatus::Active => Ok(Confirmation::AlreadyActive(sub)),
        _ => Ok(Confirmation::NotApplicable),
    }
}

/// Unsubscribes at once (pending or active); `how` is recorded (`one-click`, `page`,
/// `preferences`, `cli`, `api`). Returns whether the status changed; unsubscribing twice is
/// not an error.
pub async fn unsubscribe(
    store: &dyn SubscriberStore,
    id: SubscriberId,
    how: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let changed = store
        .set_subscriber_status(
            id,
            &[SubscriberStatus::Pending, SubscriberStatus::Active],
            SubscriberStatus::Unsubscribed,
            Some(how),
            now,
        )
        .await?;
    if changed {
        super::accounts::audit::note(
            "subscriber.unsubscribed",
            format!("subscriber {}", id.get()),
            how,
            now,
        )
        .await;
    }
    Ok(changed)
}

/// Changes the language of a pending or active subscriber.
pub async fn set_language(
    store: &dyn SubscriberStore,
    id: SubscriberId,
    lang: LangPref,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    store.set_subscriber_lang(id, lang, now).await
}

/// Erases subscriber `sub`: see [`SubscriberStore::erase_subscriber`].
pub async fn erase(
    store: &dyn Store,
    sub: &Subscriber,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let hash = address_hash(store, &sub.email).await?;
    let erased = store.erase_subscriber(sub.id, &hash, now).await?;
    if erased {
        super::accounts::audit::note(
            "subscriber.erased",
            format!("subscriber {}", sub.id.get()),
            "",
            now,
        )
        .await;
    }
    Ok(erased)
}

/// Everything stored about subscriber `id` that the reader may download: the record and
/// every consent record (`None`: no such subscriber).
pub async fn export(
    store: &dyn Store,
    id: SubscriberId,
) -> anyhow::Result<Option<serde_json::Value>> {
    let Some(sub) = store.subscriber(id).await? else {
        return Ok(None);
    };
    let consents: Vec<serde_json::Value> = store
        .consents(id)
        .await?
        .into_iter()
        .map(|c| {
            serde_json::json!({
                "method": c.method,
                "form_at": c.form_at,
                "confirmed_at": c.confirmed_at,
                "ip": c.ip,
                "user_agent": c.user_agent,
                "page_lang": c.page_lang.map(|l| l.as_str()),
                "consent_text_sha256": c.text_hash,
                "consent_text_version": c.text_version,
            })
        })
        .collect();
    // A person downloading someone's data (console, API) is audited; the reader is not.
    super::accounts::audit::note(
        "subscriber.exported",
        format!("subscriber {}", id.get()),
        "",
        Utc::now(),
    )
    .await;
    Ok(Some(serde_json::json!({
        "subscriber": SubscriberView::from(sub),
        "consents": consents,
    })))
}

/// A subscriber as the admin API and `kairan subscribers list --json` show it.
#[derive(Debug, Serialize)]
pub struct SubscriberView {
    pub id: SubscriberId,
    pub email: EmailAddress,
    pub name: Option<String>,
    pub lang: LangPref,
    pub status: SubscriberStatus,
    pub source: SubscriptionSource,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub unsubscribed_at: Option<DateTime<Utc>>,
    pub unsubscribe_method: Option<String>,
}

impl From<Subscriber> for SubscriberView {
    fn from(s: Subscriber) -> Self {
        SubscriberView {
            id: s.id,
            email: s.email,
            name: s.name,
            lang: s.lang,
            status: s.status,
            source: s.source,
            created_at: s.created_at,
            confirmed_at: s.confirmed_at,
            unsubscribed_at: s.unsubscribed_at,
            unsubscribe_method: s.unsubscribe_method,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(by: Requester) -> Registration {
        Registration {
            email: EmailAddress::parse("taro@example.jp").unwrap(),
            name: Some("山田 太郎".into()),
            lang: LangPref::Both,
            by,
        }
    }

    #[test]
    fn a_reader_is_pending_with_the_form_evidence_recorded() {
        let now = Utc::now();
        let s = reg(Requester::Reader {
            ip: Some("203.0.113.7".into()),
            user_agent: Some("Mozilla/5.0".into()),
            page_lang: Lang::Ja,
            text_hash: "sha256:ab".into(),
            text_version: "2026-11".into(),
        })
        .subscriber(now);
        assert_eq!(s.status, SubscriberStatus::Pending);
        assert_eq!(s.consent.method, SubscriptionSource::Form);
        assert_eq!(s.consent.page_lang, Some(Lang::Ja));
        assert_eq!(s.consent.text_hash.as_deref(), Some("sha256:ab"));
        assert_eq!((s.consent.form_at, s.consent.confirmed_at), (now, None));
    }

    #[test]
    fn an_operator_is_active_only_when_confirmed_and_records_the_method() {
        let now = Utc::now();
        let confirmed = reg(Requester::Operator {
            via: SubscriptionSource::Import,
            confirmed: true,
        })
        .subscriber(now);
        assert_eq!(confirmed.status, SubscriberStatus::Active);
        assert_eq!(confirmed.consent.method, SubscriptionSource::Import);
        assert_eq!(confirmed.consent.confirmed_at, Some(now));
        assert!(confirmed.consent.ip.is_none());
        let pending = reg(Requester::Operator {
            via: SubscriptionSource::Api,
            confirmed: false,
        })
        .subscriber(now);
        assert_eq!(pending.status, SubscriberStatus::Pending);
        assert_eq!(pending.consent.confirmed_at, None);
    }
}
