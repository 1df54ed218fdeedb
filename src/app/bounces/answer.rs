//! A mail to the bare return address (no token in the address) changes nothing, since its
//! `From` can be anyone's. Where a reply is possible it is answered with the reader's own
//! one-click unsubscribe link, and only then:
//!
//! - it is no report (no bounce, complaint, auto-reply, delay or success notice), and not
//!   automatic: no `Auto-Submitted` other than `no`, no `Precedence: bulk|junk|list`, no
//!   list headers, no `X-Auto-Response-Suppress`, no null `Return-Path`, no kairan header;
//! - its `From` is one address, not a mailer daemon or a no-reply box, not one of ours;
//! - that address is a subscriber's, pending or active: the answer goes to the subscriber's
//!   stored address and carries that subscriber's link only. Answering any `From` with a
//!   link would unsubscribe by proxy (the answer reaches whoever the forger named) and turn
//!   the return address into a reflector; answering only a reader, with their own link, sends
//!   them nothing they could not get from any issue, and a stranger's `From` gets no mail at
//!   all;
//! - that subscriber was not answered in the last [`ANSWER_INTERVAL`] (one answer a day each,
//!   taken by compare-and-set in the store), so a flood of forged mail yields at most one
//!   mail a day per reader.
//!
//! The answer is queued in the durable outbox in the transaction that takes the day's claim
//! (both or neither), then sent at once through the subscription mails (`app::notify`); when
//! it cannot go now it stays queued for the outbox sender of `kairan serve`. Its envelope
//! sender is the bare return path, so its own bounce comes back as an unattributed report,
//! never another answer.
//!
//! Depends on the domain, the ports, the subscription mails and the parser's header reader.

use chrono::{DateTime, Utc};

use super::{Action, Context, verp_token};
use crate::app::ports::{Store, StoreError};
use crate::bounce::parse::{address, mime};
use crate::domain::{EmailAddress, MailKind, NewMail, SubscriberStatus};

/// At most one answer per subscriber in this long.
pub const ANSWER_INTERVAL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Whom a message could be answered, from its own headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Request {
    pub from: EmailAddress,
}

/// Local parts that never read mail.
const NO_REPLY: [&str; 7] = [
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "do-not-reply",
    "donotreply",
    "bounce",
];

/// Reads the top-level headers: `None` when the message must not be answered.
pub(super) fn request(raw: &[u8]) -> Option<Request> {
    let data = mime::normalize(raw);
    let end = memchr::memmem::find(&data, b"\n\n").unwrap_or(data.len());
    let head = String::from_utf8_lossy(&data[..end]);
    let headers = mime::parse_header_block(&head);
    let all = |name: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_ascii_lowercase())
            .collect()
    };
    let first_word = |v: &str| v.split([';', ' ']).next().unwrap_or("").to_owned();
    if all("auto-submitted").iter().any(|v| first_word(v) != "no")
        || all("precedence")
            .iter()
            .any(|v| matches!(first_word(v).as_str(), "bulk" | "junk" | "list"))
        || all("x-auto-response-suppress")
            .iter()
            .any(|v| v.contains("all") || v.contains("autoreply"))
        || all("return-path").iter().any(|v| v == "<>")
        || ["list-id", "list-unsubscribe", "x-kairan-delivery"]
            .iter()
            .any(|h| !all(h).is_empty())
    {
        return None;
    }
    let froms = all("from");
    let [from] = &froms[..] else {
        return None;
    };
    let found = address::find_all(from);
    let [addr] = &found[..] else {
        return None;
    };
    let from = EmailAddress::parse(addr).ok()?;
    let local = from.local_part().to_ascii_lowercase();
    if NO_REPLY
        .iter()
        .any(|n| local == *n || local.starts_with(&format!("{n}+")))
    {
        return None;
    }
    Some(Request { from })
}

pub(super) async fn answer(
    store: &dyn Store,
    ctx: Context<'_>,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Action, StoreError> {
    let Some(notifier) = ctx.answers else {
        return Ok(Action::NotABounce);
    };
    let n = &notifier.settings().newsletter;
    let ours = ctx.settings.return_path.as_ref().is_some_and(|rp| {
        rp.key() == req.from.key() || verp_token(req.from.as_str(), rp).is_some()
    }) || [Some(&n.from.address), n.reply_to.as_ref()]
        .into_iter()
        .flatten()
        .any(|a| a.key() == req.from.key());
    if ours {
        return Ok(Action::NotABounce);
    }
    let Some(sub) = store.subscriber_by_email(&req.from).await? else {
        tracing::info!("mail to the return address from a stranger: not answered");
        return Ok(Action::NotABounce);
    };
    if !matches!(
        sub.status,
        SubscriberStatus::Pending | SubscriberStatus::Active
    ) {
        return Ok(Action::NotABounce);
    }
    let mail = NewMail::new(MailKind::UnsubscribeLink, sub.lang);
    let Some(mail_id) = store
        .claim_bounce_answer(sub.id, &mail, now, now - ANSWER_INTERVAL)
        .await?
    else {
        tracing::info!(
            subscriber_id = sub.id.get(),
            "mail to the return address: answered within the day already"
        );
        return Ok(Action::NotABounce);
    };
    // Queued for good; sent now, since this may be the MTA's short-lived pipe, with no
    // outbox sender of its own.
    match notifier.send_now(mail_id).await {
        Ok(_) => tracing::info!(
            subscriber_id = sub.id.get(),
            mail_id = mail_id.get(),
            "mail to the return address answered with the unsubscribe link"
        ),
        Err(e) => {
            tracing::warn!(subscriber_id = sub.id.get(), mail_id = mail_id.get(), error = %e, "the answer stays queued for the outbox sender");
            notifier.wake();
        }
    }
    Ok(Action::Answered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &str) -> Option<Request> {
        request(format!("{headers}\r\n\r\nunsubscribe\r\n").as_bytes())
    }

    #[test]
    fn a_person_writing_is_answerable() {
        assert_eq!(
            req("From: Hanako <Hanako@Example.JP>\r\nSubject: unsubscribe"),
            Some(Request {
                from: EmailAddress::parse("hanako@example.jp").unwrap()
            })
        );
        assert!(req("From: a@example.jp\r\nAuto-Submitted: no").is_some());
    }

    #[test]
    fn automatic_mail_and_daemons_are_never_answered() {
        for headers in [
            "From: a@example.jp\r\nAuto-Submitted: auto-replied",
            "From: a@example.jp\r\nAuto-Submitted: auto-generated; owner-email=x@y",
            "From: a@example.jp\r\nPrecedence: bulk",
            "From: a@example.jp\r\nPrecedence: list",
            "From: a@example.jp\r\nList-Id: <x.example.jp>",
            "From: a@example.jp\r\nX-Auto-Response-Suppress: All",
            "From: a@example.jp\r\nReturn-Path: <>",
            "From: a@example.jp\r\nX-Kairan-Delivery: abc",
            "From: MAILER-DAEMON@example.jp",
            "From: postmaster@example.jp",
            "From: no-reply@example.jp",
            "From: a@example.jp, b@example.jp",
            "From: a@example.jp\r\nFrom: b@example.jp",
            "From: not an address",
            "Subject: no sender",
        ] {
            assert_eq!(req(headers), None, "{headers}");
        }
    }
}
