//! Abuse resistance for the reader's forms (issue 13), without third parties: the decisions
//! the subscribe form's handler applies before [`subscription::register`].
//!
//! - A honeypot field (hidden from people, filled by form-filling bots) and a signed stamp of
//!   when the form was served: a form sent sooner than `subscribe.min_fill_time` after it was
//!   served, or with the honeypot filled, is a bot's. It gets the same "check your inbox"
//!   page as anyone, and nothing is stored or sent.
//! - A form without a valid stamp (an embedded copy, an old tab) is not refused: the reader
//!   is shown the form again, filled in, with a fresh stamp, and sends it once more.
//! - Caps, counted in the database so every instance sees the same figures: confirmation
//!   and unsubscribe-link mails per address per 24 hours, new pending sign-ups per address
//!   domain per hour. A request over a cap gets the same page; nothing is stored or sent.
//!
//! Every refusal is counted in `kairan_reader_refused_total{reason}`. Depends on the domain,
//! the ports and the settings.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use super::notify::Notifier;
use super::ports::Store;
use super::subscription::{self, Mail, Registered, Registration};
use crate::config::SubscribeSettings;
use crate::domain::{
    EmailAddress, MailKind, NewMail, Recipient, Signer, SubscriberId, SubscriberStatus,
};

/// Metric: requests refused by a reader-side limit, by `reason`.
pub const REFUSED: &str = "kairan_reader_refused_total";

const STAMP_LABEL: &str = "subscribe-form-stamp";

/// Counts one refusal.
pub fn count(reason: &'static str) {
    metrics::counter!(REFUSED, "reason" => reason).increment(1);
}

/// The stamp a served form carries: when it was served, signed.
pub fn form_stamp(signer: &Signer, now: DateTime<Utc>) -> String {
    let secs = now.timestamp().to_string();
    let tag = signer.tag(STAMP_LABEL, secs.as_bytes());
    format!("{secs}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// What to do with a sent form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormVerdict {
    /// A person's, as far as we can tell: go on.
    Accept,
    /// A bot's (`honeypot`, `too_fast`): answer as if accepted, do nothing.
    Bot(&'static str),
    /// No valid stamp, or a stale one: show the form again, filled in, with a fresh stamp.
    Restamp,
}

/// Judges a sent form by its honeypot field and its stamp.
pub fn judge_form(
    signer: &Signer,
    limits: &SubscribeSettings,
    honeypot: &str,
    stamp: &str,
    now: DateTime<Utc>,
) -> FormVerdict {
    if !honeypot.trim().is_empty() {
        return FormVerdict::Bot("honeypot");
    }
    if limits.min_fill_time.is_zero() && stamp.is_empty() {
        return FormVerdict::Accept;
    }
    let Some(served) = stamp_time(signer, stamp, now) else {
        return FormVerdict::Restamp;
    };
    let age = now.timestamp() - served;
    if age < 0 {
        // Served "in the future" (clock skew between instances): a person cannot be faster.
        return if age < -300 {
            FormVerdict::Restamp
        } else {
            FormVerdict::Bot("too_fast")
        };
    }
    let age = Duration::from_secs(age as u64);
    if age > limits.form_max_age {
        return FormVerdict::Restamp;
    }
    if age < limits.min_fill_time {
        return FormVerdict::Bot("too_fast");
    }
    FormVerdict::Accept
}

fn stamp_time(signer: &Signer, stamp: &str, now: DateTime<Utc>) -> Option<i64> {
    let (secs, tag) = stamp.split_once('.')?;
    let served: i64 = secs.parse().ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    signer
        .verify_tag(STAMP_LABEL, secs.as_bytes(), &tag, now)
        .then_some(served)
}

/// The caps, checked before a reader's registration: `Err(reason)` when one is reached.
pub async fn within_caps(
    store: &dyn Store,
    limits: &SubscribeSettings,
    email: &EmailAddress,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<(), &'static str>> {
    match store.subscriber_by_email(email).await? {
        Some(existing) => {
            if matches!(
                existing.status,
                SubscriberStatus::Pending | SubscriberStatus::Unsubscribed
            ) && !address_may_get_mail(store, limits, existing.id, now).await?
            {
                return Ok(Err("address_cap"));
            }
        }
        None => {
            let since = now - chrono::Duration::hours(1);
            let pending = store
                .pending_in_domain_since(&email.domain().to_lowercase(), since)
                .await?;
            if pending >= u64::from(limits.pending_per_domain_per_hour) {
                return Ok(Err("domain_cap"));
            }
        }
    }
    Ok(Ok(()))
}

/// Whether subscriber `id` may get one more confirmation or unsubscribe-link mail.
pub async fn address_may_get_mail(
    store: &dyn Store,
    limits: &SubscribeSettings,
    id: SubscriberId,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let since = now - chrono::Duration::hours(24);
    let sent = store
        .mails_queued_since(
            id,
            &[
                MailKind::Confirm,
                MailKind::UnsubscribeLink,
                MailKind::UnsubscribeRequested,
            ],
            since,
        )
        .await?;
    Ok(sent < u64::from(limits.confirmations_per_address_per_day))
}

/// How long a proof-of-work challenge may be answered.
pub const POW_TTL_SECS: i64 = 600;
const POW_LABEL: &str = "subscribe-pow";

/// A proof-of-work challenge for a served form (`subscribe.proof_of_work = bits`): when it
/// was issued, the bits asked, a random part, signed: `{secs}.{bits}.{random}.{tag}`.
/// The browser (`/static/pow.js`) finds a nonce with SHA-256(`{challenge}:{nonce}`)
/// starting with `bits` zero bits.
pub fn pow_challenge(signer: &Signer, bits: u8, now: DateTime<Utc>) -> String {
    let random = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>());
    let data = format!("{}.{bits}.{random}", now.timestamp());
    let tag = signer.tag(POW_LABEL, data.as_bytes());
    format!("{data}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// What a sent form's proof of work came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PowVerdict {
    /// Proof of work is off.
    Off,
    /// Solved, and the challenge is now spent.
    Solved,
    /// No challenge, or an expired one (an embedded copy, a tab left open, no JavaScript):
    /// show the form again with a fresh one.
    Missing,
    /// Forged, unsolved or spent already (the reason, as counted): a bot's; answer as if
    /// accepted, do nothing.
    Bad(&'static str),
}

/// Leading zero bits of `digest`.
fn zero_bits(digest: &[u8]) -> u32 {
    let mut n = 0;
    for b in digest {
        n += b.leading_zeros();
        if *b != 0 {
            break;
        }
    }
    n
}

/// Judges a form's proof of work: the challenge's signature (constant time), its age, the
/// nonce, and, last, spends the challenge (a challenge answers one form only, on every
/// instance: a slot of the reader caps' table).
pub async fn judge_pow(
    store: &dyn Store,
    signer: &Signer,
    limits: &SubscribeSettings,
    challenge: &str,
    nonce: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<PowVerdict> {
    use sha2::Digest as _;
    if limits.proof_of_work == 0 {
        return Ok(PowVerdict::Off);
    }
    if challenge.is_empty() {
        return Ok(PowVerdict::Missing);
    }
    let Some((data, tag)) = challenge.rsplit_once('.') else {
        return Ok(PowVerdict::Bad("pow_invalid"));
    };
    let tag = URL_SAFE_NO_PAD.decode(tag).unwrap_or_default();
    if !signer.verify_tag(POW_LABEL, data.as_bytes(), &tag, now) {
        return Ok(PowVerdict::Bad("pow_invalid"));
    }
    let mut parts = data.split('.');
    let (Some(Ok(secs)), Some(Ok(bits))) = (
        parts.next().map(str::parse::<i64>),
        parts.next().map(str::parse::<u8>),
    ) else {
        return Ok(PowVerdict::Bad("pow_invalid"));
    };
    let age = now.timestamp() - secs;
    if !(-300..=POW_TTL_SECS).contains(&age) || bits < limits.proof_of_work {
        // Issued too long ago (or under a lower setting): a person gets a fresh one.
        return Ok(PowVerdict::Missing);
    }
    if nonce.is_empty() || nonce.len() > 20 || !nonce.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(PowVerdict::Bad("pow_wrong"));
    }
    let digest = sha2::Sha256::digest(format!("{challenge}:{nonce}").as_bytes());
    if zero_bits(&digest) < u32::from(bits) {
        return Ok(PowVerdict::Bad("pow_wrong"));
    }
    let key = format!("pow:{}", URL_SAFE_NO_PAD.encode(&tag));
    if !store
        .take_cap_slot(&key, 1, POW_TTL_SECS + 300, now)
        .await?
    {
        return Ok(PowVerdict::Bad("pow_reused"));
    }
    Ok(PowVerdict::Solved)
}

/// Where a form post comes from, by its `Origin` header (else its `Referer`'s origin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormOrigin {
    /// Our own pages, or no header to tell (not a browser, or one that sends neither).
    Own,
    /// A page of a listed `subscribe.embed_origins` origin: the organisation's own site.
    Embedded,
    /// Any other site: refused (403), counted as `foreign_origin`.
    Foreign,
}

/// Classifies a form post. `own` are the origins of our own pages (`http.base_url`'s, and
/// the one the request was addressed to); `origin` and `referer` are the headers as sent.
pub fn form_origin(
    limits: &SubscribeSettings,
    own: &[String],
    origin: Option<&str>,
    referer: Option<&str>,
) -> FormOrigin {
    let from = match (origin, referer) {
        (Some(o), _) => o.trim().trim_end_matches('/').to_ascii_lowercase(),
        (None, Some(r)) => match url::Url::parse(r.trim()) {
            Ok(u) => u.origin().ascii_serialization(),
            Err(_) => return FormOrigin::Foreign,
        },
        (None, None) => return FormOrigin::Own,
    };
    if own.iter().any(|o| o.eq_ignore_ascii_case(&from)) {
        FormOrigin::Own
    } else if limits.embed_origins.iter().any(|o| o == &from) {
        FormOrigin::Embedded
    } else {
        FormOrigin::Foreign
    }
}

/// What a reader's sign-up came to.
#[derive(Debug)]
pub enum ReaderSignUp {
    Registered(Registered),
    /// A cap was reached (the reason, as counted): nothing stored, nothing sent.
    Limited(&'static str),
}

/// A reader's sign-up through the form: the caps, then [`subscription::register`].
pub async fn sign_up(
    store: &dyn Store,
    limits: &SubscribeSettings,
    reg: &Registration,
    mail: Mail<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<ReaderSignUp> {
    let limited = |reason: &'static str| {
        count(reason);
        tracing::info!(reason, "sign-up over a limit: nothing stored or sent");
        Ok(ReaderSignUp::Limited(reason))
    };
    if let Err(reason) = within_caps(store, limits, &reg.email, now).await? {
        return limited(reason);
    }
    // The counts above are a snapshot; concurrent requests could all pass them. The slots
    // are what holds: taken atomically before anything is stored, given back when they
    // bought nothing.
    let address = address_slot(store, &reg.email).await?;
    if !store
        .take_cap_slot(
            &address,
            limits.confirmations_per_address_per_day,
            86_400,
            now,
        )
        .await?
    {
        return limited("address_cap");
    }
    let domain = if store.subscriber_by_email(&reg.email).await?.is_none() {
        let key = format!("domain:{}", reg.email.domain().to_lowercase());
        if !store
            .take_cap_slot(&key, limits.pending_per_domain_per_hour, 3_600, now)
            .await?
        {
            store.release_cap_slot(&address).await?;
            return limited("domain_cap");
        }
        Some(key)
    } else {
        None
    };
    let done = match subscription::register(store, reg, limits.resend_interval, mail, now).await {
        Ok(d) => d,
        Err(e) => {
            let _ = store.release_cap_slot(&address).await;
            if let Some(k) = &domain {
                let _ = store.release_cap_slot(k).await;
            }
            return Err(e);
        }
    };
    if done.outcome.confirmation_due().is_none() {
        store.release_cap_slot(&address).await?;
    }
    if let Some(k) = &domain
        && !matches!(done.outcome, subscription::Subscribed::Created { .. })
    {
        store.release_cap_slot(k).await?;
    }
    Ok(ReaderSignUp::Registered(done))
}

/// The cap key of an address: its keyed hash (the suppression list's), never the address.
async fn address_slot(store: &dyn Store, email: &EmailAddress) -> anyhow::Result<String> {
    Ok(format!(
        "address:{}",
        super::keys::address_hash(store, email).await?
    ))
}

/// "Send me an unsubscribe link" (the page a broken or old link leads to): queues the
/// mail for `email` when it names a pending or active subscriber within the address cap.
/// The caller answers the same in every case, so nothing tells whether the address is known.
/// Returns whether a mail was queued.
pub async fn request_unsubscribe_link(
    store: &dyn Store,
    limits: &SubscribeSettings,
    notifier: &Notifier,
    email: &EmailAddress,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let Some(sub) = store.subscriber_by_email(email).await? else {
        return Ok(false);
    };
    if !matches!(
        sub.status,
        SubscriberStatus::Pending | SubscriberStatus::Active
    ) {
        return Ok(false);
    }
    let slot = address_slot(store, email).await?;
    if !address_may_get_mail(store, limits, sub.id, now).await?
        || !store
            .take_cap_slot(&slot, limits.confirmations_per_address_per_day, 86_400, now)
            .await?
    {
        count("address_cap");
        tracing::info!(
            subscriber_id = sub.id.get(),
            "unsubscribe link not sent: address cap"
        );
        return Ok(false);
    }
    let mail = NewMail::new(MailKind::UnsubscribeRequested, sub.lang);
    let id = store
        .enqueue_mail(Recipient::Subscriber(sub.id), &mail, now)
        .await?;
    tracing::info!(
        subscriber_id = sub.id.get(),
        mail_id = id.get(),
        "unsubscribe link queued on request"
    );
    notifier.wake();
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_of_work_is_off_by_default_and_bounded() {
        let (s, _) = crate::config::parse("", "defaults", &[]).unwrap();
        assert_eq!(s.subscribe.proof_of_work, 0);
        let (s, _) =
            crate::config::parse("[subscribe]\nproof_of_work = 16\n", "test", &[]).unwrap();
        assert_eq!(s.subscribe.proof_of_work, 16);
        let Err(err) = crate::config::parse("[subscribe]\nproof_of_work = 25\n", "test", &[])
        else {
            panic!("25 bits refused");
        };
        assert!(
            err.0.iter().any(|p| p.key == "subscribe.proof_of_work"),
            "{err}"
        );
    }

    #[test]
    fn challenges_are_signed_and_carry_time_and_bits() {
        let signer = Signer::new(b"test-signing-key-0123456789-0123456789".to_vec(), vec![]);
        let now = Utc::now();
        let c = pow_challenge(&signer, 16, now);
        let parts: Vec<&str> = c.split('.').collect();
        assert_eq!(parts.len(), 4, "{c}");
        assert_eq!(parts[0], now.timestamp().to_string());
        assert_eq!(parts[1], "16");
        assert_ne!(c, pow_challenge(&signer, 16, now), "random part");
    }

    #[test]
    fn zero_bits_count_from_the_first_byte() {
        assert_eq!(zero_bits(&[0, 0, 0x0f, 0xff]), 20);
        assert_eq!(zero_bits(&[0x80, 0]), 0);
        assert_eq!(zero_bits(&[0, 1]), 15);
    }

    fn limits(min: u64) -> SubscribeSettings {
        let (settings, _) = crate::config::parse("", "defaults", &[]).unwrap();
        let mut s = settings.subscribe;
        s.min_fill_time = Duration::from_secs(min);
        s
    }

    #[test]
    fn form_posts_are_classified_by_origin_then_referer() {
        let mut l = limits(0);
        l.embed_origins = vec!["https://www.example.org".into()];
        let own = vec!["https://news.example.org".to_owned()];
        let o = |origin, referer| form_origin(&l, &own, origin, referer);
        assert_eq!(o(None, None), FormOrigin::Own);
        assert_eq!(o(Some("https://news.example.org"), None), FormOrigin::Own);
        assert_eq!(
            o(Some("https://www.example.org"), None),
            FormOrigin::Embedded
        );
        assert_eq!(
            o(None, Some("https://www.example.org/join?x=1")),
            FormOrigin::Embedded
        );
        assert_eq!(o(Some("https://evil.example"), None), FormOrigin::Foreign);
        assert_eq!(o(Some("null"), None), FormOrigin::Foreign);
        assert_eq!(o(Some("http://www.example.org"), None), FormOrigin::Foreign);
        assert_eq!(
            o(Some("https://www.example.org.evil.example"), None),
            FormOrigin::Foreign
        );
        // The Origin header wins over a Referer.
        assert_eq!(
            o(
                Some("https://evil.example"),
                Some("https://www.example.org/")
            ),
            FormOrigin::Foreign
        );
    }

    #[test]
    fn forms_are_judged_by_honeypot_and_stamp() {
        let signer = Signer::new(b"key-key-key-key-key-key-key-key".to_vec(), vec![]);
        let t0 = Utc::now();
        let stamp = form_stamp(&signer, t0);
        let l = limits(3);
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        assert_eq!(
            judge_form(&signer, &l, "", &stamp, at(5)),
            FormVerdict::Accept
        );
        assert_eq!(
            judge_form(&signer, &l, "", &stamp, at(1)),
            FormVerdict::Bot("too_fast")
        );
        assert_eq!(
            judge_form(&signer, &l, "http://spam", &stamp, at(5)),
            FormVerdict::Bot("honeypot")
        );
        assert_eq!(judge_form(&signer, &l, "", "", at(5)), FormVerdict::Restamp);
        let forged = format!("{}.AAAAAAAAAAAAAA", t0.timestamp() - 60);
        assert_eq!(
            judge_form(&signer, &l, "", &forged, at(5)),
            FormVerdict::Restamp
        );
        assert_eq!(
            judge_form(&signer, &l, "", &stamp, at(2 * 86_400)),
            FormVerdict::Restamp,
            "stale"
        );
        // Off: no stamp needed, the honeypot still counts.
        assert_eq!(
            judge_form(&signer, &limits(0), "", "", at(0)),
            FormVerdict::Accept
        );
        assert_eq!(
            judge_form(&signer, &limits(0), "x", "", at(0)),
            FormVerdict::Bot("honeypot")
        );
    }
}
