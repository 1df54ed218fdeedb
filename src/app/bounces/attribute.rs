//! Who a report is about, in a way that cannot be forged (the rules are listed in
//! `app::bounces`): every token is verified first and one that fails stops the report; an
//! unsubscribe token in the address is an opt-out; a bounce token there names its delivery;
//! otherwise only a report that corroborates a delivery we made (its `X-Kairan-Delivery` or
//! campaign Message-ID names a delivery sent to an address the report is about) finds a
//! subscriber.
//!
//! Depends on the domain and the bounce port.

use chrono::{DateTime, Utc};

use super::{Attribution, Context, Evidence, verp_token};
use crate::app::ports::{Store, StoreError};
use crate::domain::message_id::{self, Parsed};
use crate::domain::token::{Purpose, Signer, TokenError};
use crate::domain::{DeliveryId, DeliveryRef, SubscriberId};

/// What attribution concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// A token or campaign Message-ID did not verify: the report changes nothing.
    Forged,
    /// The message was sent to a reader's List-Unsubscribe address.
    OptOut(SubscriberId),
    /// The report is about this delivery's subscriber.
    Delivery(Attribution, DeliveryRef),
    /// Nobody we can vouch for.
    Nobody,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Found {
    pub verdict: Verdict,
    /// Tokens (and campaign Message-IDs) that did not verify.
    pub forged: u32,
    /// Valid bounce tokens that named no delivery (it was removed).
    pub unknown: u32,
    /// The message was sent to a `LOCAL+TOKEN` address (valid or not): not to the bare one.
    pub any_token: bool,
}

/// What a token in the address the message was delivered to says.
enum Addressed {
    /// A VERP bounce token: this delivery's report.
    Delivery(DeliveryId),
    /// A List-Unsubscribe token: this reader opts out.
    OptOut(SubscriberId),
}

fn read_address_token(signer: &Signer, token: &str, now: DateTime<Utc>) -> Option<Addressed> {
    match signer.verify(token, Purpose::Bounce, now, None) {
        Ok(id) => Some(Addressed::Delivery(DeliveryId::new(id))),
        // The same `+` delimiter carries both; the purpose byte tells them apart, and the MAC
        // covers it.
        Err(TokenError::WrongPurpose) => signer
            .verify(token, Purpose::Unsubscribe, now, None)
            .ok()
            .map(|id| Addressed::OptOut(SubscriberId::new(id))),
        Err(_) => None,
    }
}

pub(super) async fn attribute(
    store: &dyn Store,
    ctx: Context<'_>,
    ev: &Evidence<'_>,
    now: DateTime<Utc>,
) -> Result<Found, StoreError> {
    let signer = ctx.signer;
    let mut found = Found {
        verdict: Verdict::Nobody,
        forged: 0,
        unknown: 0,
        any_token: false,
    };

    // 1. Verify everything first: one forged token stops the report, wherever it is.
    let mut address_tokens: Vec<&str> = Vec::new();
    if let Some(rp) = &ctx.settings.return_path {
        for addr in &ev.delivered_to {
            if let Some(t) = verp_token(addr, rp)
                && !address_tokens.contains(&t)
            {
                address_tokens.push(t);
            }
        }
    }
    found.any_token = !address_tokens.is_empty();
    let mut addressed = Vec::new();
    for t in &address_tokens {
        match read_address_token(signer, t, now) {
            Some(a) => addressed.push(a),
            None => found.forged += 1,
        }
    }
    let header = match ev.delivery_token.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => match signer.verify(t, Purpose::Bounce, now, None) {
            Ok(id) => Some(DeliveryId::new(id)),
            Err(_) => {
                found.forged += 1;
                None
            }
        },
        None => None,
    };
    let campaign = match ev.message_id.map(|m| message_id::parse(signer, m, now)) {
        Some(Parsed::Campaign(issue, subscriber)) => Some((issue, subscriber)),
        Some(Parsed::Forged) => {
            found.forged += 1;
            None
        }
        Some(Parsed::Foreign) | None => None,
    };
    if found.forged > 0 {
        found.verdict = Verdict::Forged;
        tracing::warn!(
            forged = found.forged,
            "return mail carries a token that does not verify: it changes nothing"
        );
        return Ok(found);
    }

    // 2. An opt-out by mail, whatever the message is.
    if let Some(id) = addressed.iter().find_map(|a| match a {
        Addressed::OptOut(id) => Some(*id),
        Addressed::Delivery(_) => None,
    }) {
        found.verdict = Verdict::OptOut(id);
        return Ok(found);
    }

    // 3. The VERP token names the delivery.
    for a in &addressed {
        if let Addressed::Delivery(id) = a {
            match store.delivery_ref(*id).await? {
                Some(d) => {
                    found.verdict = Verdict::Delivery(Attribution::Verp, d);
                    return Ok(found);
                }
                None => found.unknown += 1,
            }
        }
    }

    // 4. Corroboration: a delivery we sent, to an address the report is about.
    let mut candidates = Vec::new();
    if let Some(id) = header {
        match store.delivery_ref(id).await? {
            Some(d) => candidates.push((Attribution::Header, d)),
            None => found.unknown += 1,
        }
    }
    if let Some((issue, subscriber)) = campaign
        && let Some(d) = store.delivery_of(issue, subscriber).await?
    {
        candidates.push((Attribution::MessageId, d));
    }
    for (how, d) in candidates {
        if !d.sent || ev.addresses.is_empty() {
            continue;
        }
        let Some(sub) = store.subscriber(d.subscriber_id).await? else {
            continue;
        };
        if ev.addresses.iter().any(|a| a.key() == sub.email.key()) {
            found.verdict = Verdict::Delivery(how, d);
            return Ok(found);
        }
    }
    if found.unknown > 0 {
        tracing::warn!(
            unknown = found.unknown,
            "return mail names a delivery that no longer exists"
        );
    }
    Ok(found)
}
