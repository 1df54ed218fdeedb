//! Row structs as the database returns them, and their checked conversion (`TryFrom`) to
//! domain values. Status columns come back as text and are parsed through the domain enums'
//! `FromStr`, ids are wrapped in their types, and stored addresses are parsed into
//! `EmailAddress`, so an unexpected value is a `StoreError::Corrupt` naming the row (never the
//! address), not a panic and not a string re-parsed later.
//!
//! Depends on the domain and the port's error type.

use chrono::{DateTime, Utc};

use crate::app::ports::StoreError;
use crate::domain::{
    BounceRecord, ClaimedDelivery, Consent, DeliveryId, DeliveryRef, EmailAddress, Issue,
    IssueContent, IssueId, Subscriber, SubscriberId,
};

/// A stored address, parsed; `what` names the row in the error.
fn stored_address(raw: &str, what: impl std::fmt::Display) -> Result<EmailAddress, StoreError> {
    EmailAddress::parse(raw)
        .map_err(|e| StoreError::Corrupt(format!("the stored address of {what}: {e}")))
}

pub(super) const SUBSCRIBER_COLUMNS: &str = "id, email, name, lang, status, source, created_at, updated_at, \
     confirmation_sent_at, confirmed_at, unsubscribed_at, unsubscribe_method, soft_bounce_score, last_bounce_at";

#[derive(sqlx::FromRow)]
pub(super) struct SubscriberRow {
    id: i64,
    email: String,
    name: Option<String>,
    lang: String,
    status: String,
    source: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    confirmation_sent_at: Option<DateTime<Utc>>,
    confirmed_at: Option<DateTime<Utc>>,
    unsubscribed_at: Option<DateTime<Utc>>,
    unsubscribe_method: Option<String>,
    soft_bounce_score: f64,
    last_bounce_at: Option<DateTime<Utc>>,
}

impl TryFrom<SubscriberRow> for Subscriber {
    type Error = StoreError;
    fn try_from(r: SubscriberRow) -> Result<Self, StoreError> {
        let id = SubscriberId::new(r.id);
        Ok(Subscriber {
            id,
            email: stored_address(&r.email, format_args!("subscriber {id}"))?,
            name: r.name,
            lang: r.lang.parse()?,
            status: r.status.parse()?,
            source: r.source.parse()?,
            created_at: r.created_at,
            updated_at: r.updated_at,
            confirmation_sent_at: r.confirmation_sent_at,
            confirmed_at: r.confirmed_at,
            unsubscribed_at: r.unsubscribed_at,
            unsubscribe_method: r.unsubscribe_method,
            soft_bounce_score: r.soft_bounce_score,
            last_bounce_at: r.last_bounce_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ConsentRow {
    method: String,
    form_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
    ip: Option<String>,
    user_agent: Option<String>,
    page_lang: Option<String>,
    text_hash: Option<String>,
    text_version: Option<String>,
}

impl TryFrom<ConsentRow> for Consent {
    type Error = StoreError;
    fn try_from(r: ConsentRow) -> Result<Self, StoreError> {
        Ok(Consent {
            method: r.method.parse()?,
            form_at: r.form_at,
            confirmed_at: r.confirmed_at,
            ip: r.ip,
            user_agent: r.user_agent,
            page_lang: r.page_lang.map(|l| l.parse()).transpose()?,
            text_hash: r.text_hash,
            text_version: r.text_version,
        })
    }
}

/// An issue with both languages' content, joined.
pub(super) const ISSUE_SELECT: &str = "SELECT i.id, i.slug, i.state, i.send_at, i.created_at, i.updated_at, \
     i.started_at, i.finished_at, \
     ja.subject AS ja_subject, ja.preheader AS ja_preheader, ja.markdown AS ja_markdown, \
     en.subject AS en_subject, en.preheader AS en_preheader, en.markdown AS en_markdown \
     FROM issues i \
     JOIN issue_contents ja ON ja.issue_id = i.id AND ja.lang = 'ja' \
     JOIN issue_contents en ON en.issue_id = i.id AND en.lang = 'en'";

#[derive(sqlx::FromRow)]
pub(super) struct IssueRow {
    id: i64,
    slug: String,
    state: String,
    send_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    ja_subject: String,
    ja_preheader: Option<String>,
    ja_markdown: String,
    en_subject: String,
    en_preheader: Option<String>,
    en_markdown: String,
}

impl TryFrom<IssueRow> for Issue {
    type Error = StoreError;
    fn try_from(r: IssueRow) -> Result<Self, StoreError> {
        Ok(Issue {
            id: IssueId::new(r.id),
            slug: r.slug,
            state: r.state.parse()?,
            send_at: r.send_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            ja: IssueContent {
                subject: r.ja_subject,
                preheader: r.ja_preheader,
                markdown: r.ja_markdown,
            },
            en: IssueContent {
                subject: r.en_subject,
                preheader: r.en_preheader,
                markdown: r.en_markdown,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ClaimRow {
    pub id: i64,
    pub issue_id: i64,
    pub subscriber_id: i64,
    pub lang: String,
    pub attempts: i32,
    pub email: String,
    pub name: Option<String>,
    pub subscriber_status: String,
}

impl TryFrom<ClaimRow> for ClaimedDelivery {
    type Error = StoreError;
    fn try_from(r: ClaimRow) -> Result<Self, StoreError> {
        let subscriber_id = SubscriberId::new(r.subscriber_id);
        Ok(ClaimedDelivery {
            id: DeliveryId::new(r.id),
            issue_id: IssueId::new(r.issue_id),
            subscriber_id,
            lang: r.lang.parse()?,
            attempts: r.attempts,
            email: stored_address(&r.email, format_args!("subscriber {subscriber_id}"))?,
            name: r.name,
            subscriber_status: r.subscriber_status.parse()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct BounceRow {
    message_hash: String,
    received_at: DateTime<Utc>,
    source: String,
    kind: Option<String>,
    subscriber_id: Option<i64>,
    delivery_id: Option<i64>,
    status_code: Option<String>,
    reason: Option<String>,
    diagnostic: Option<String>,
    action: String,
    attribution: Option<String>,
    parsed: String,
}

impl TryFrom<BounceRow> for BounceRecord {
    type Error = StoreError;
    fn try_from(r: BounceRow) -> Result<Self, StoreError> {
        Ok(BounceRecord {
            message_hash: r.message_hash,
            received_at: r.received_at,
            source: r.source,
            kind: r.kind.map(|k| k.parse()).transpose()?,
            subscriber_id: r.subscriber_id.map(SubscriberId::new),
            delivery_id: r.delivery_id.map(DeliveryId::new),
            status_code: r.status_code,
            reason: r.reason,
            diagnostic: r.diagnostic,
            action: r.action,
            attribution: r.attribution,
            parsed: r.parsed,
        })
    }
}

/// `(id, issue_id, subscriber_id, sent)` as the bounce queries select them.
pub(super) fn delivery_ref(
    (id, issue_id, subscriber_id, sent): (i64, i64, i64, bool),
) -> DeliveryRef {
    DeliveryRef {
        id: DeliveryId::new(id),
        issue_id: IssueId::new(issue_id),
        subscriber_id: SubscriberId::new(subscriber_id),
        sent,
    }
}
