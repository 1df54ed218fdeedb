//! The ledger's lease check at the storage level, on SQLite and PostgreSQL: an outcome is
//! recorded only by the worker that still holds the delivery's lease, so a process whose
//! lease was taken back (it was thought dead) cannot overwrite the new owner's outcome.

use std::sync::Arc;

use chrono::Duration;
use kairan::app::ports::*;
use kairan::domain::*;

use crate::helpers::now;
use crate::helpers::store_contract;

store_contract!(
    an_outcome_from_a_worker_whose_lease_was_taken_back_is_not_recorded,
    a_send_to_a_reader_who_left_meanwhile_is_recorded_but_a_deferral_is_not,
    many_leased_outcomes_with_a_hard_bounce_are_recorded_in_one_transaction,
    a_worker_learns_which_of_its_deliveries_were_skipped_and_no_others,
);

/// `n` active readers and an issue in `sending` with their deliveries.
async fn campaign(store: &Arc<dyn Store>, n: usize) -> (IssueId, Vec<SubscriberId>) {
    let mut subs = Vec::new();
    for i in 0..n {
        let at = now();
        let (id, _) = store
            .insert_subscriber(
                &NewSubscriber {
                    email: EmailAddress::parse(&format!("ledger{i}@example.jp")).unwrap(),
                    name: Some(format!("読者{i}")),
                    lang: LangPref::Ja,
                    status: SubscriberStatus::Active,
                    consent: Consent::operator(SubscriptionSource::Import, true, at),
                    now: at,
                },
                None,
            )
            .await
            .unwrap();
        subs.push(id);
    }
    let content = |s: &str| IssueContent {
        subject: s.into(),
        preheader: None,
        markdown: format!("# {s}\n\n本文です。"),
    };
    let issue = store
        .insert_issue(&NewIssue {
            slug: "2026-12".into(),
            state: IssueState::Queued,
            send_at: None,
            ja: content("十二月号"),
            en: content("December"),
            now: now(),
        })
        .await
        .unwrap();
    assert_eq!(
        store.start_campaign(issue, now()).await.unwrap(),
        Some(n as u64)
    );
    (issue, subs)
}

fn leased(owner: &str, id: DeliveryId, outcome: DeliveryOutcome) -> LeasedOutcome {
    LeasedOutcome {
        id,
        owner: owner.into(),
        outcome,
    }
}

fn sent(reply: &str) -> DeliveryOutcome {
    DeliveryOutcome::Sent {
        reply: reply.into(),
    }
}

const OLD: &str = "mail1:4242:1000:w0";
const NEW: &str = "mail2:77:2000:w3";

async fn an_outcome_from_a_worker_whose_lease_was_taken_back_is_not_recorded(
    store: Arc<dyn Store>,
) {
    let (issue, _) = campaign(&store, 2).await;
    let t = now();
    let old = store
        .claim_deliveries(issue, OLD, 10, t, t + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(old.len(), 2);
    let (a, b) = (old[0].id, old[1].id);

    // The old owner is thought dead: its leases end and another worker claims them.
    assert_eq!(store.expire_leases(issue, OLD, t).await.unwrap(), 2);
    let t2 = t + Duration::seconds(1);
    let new = store
        .claim_deliveries(issue, NEW, 10, t2, t2 + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(new.len(), 2, "the expired leases are claimed again");

    // The old worker, alive after all, reports late: neither a retry nor a deferral nor a
    // send of its own touches rows the new owner holds.
    let late = [
        leased(
            OLD,
            a,
            DeliveryOutcome::Retry {
                at: t2 + Duration::minutes(10),
                reply: "451 4.3.0 try later".into(),
            },
        ),
        leased(
            OLD,
            b,
            DeliveryOutcome::Deferred {
                at: t2,
                reason: "handed back unsent".into(),
            },
        ),
    ];
    assert_eq!(store.record_leased_outcomes(&late, t2).await.unwrap(), 0);
    assert_eq!(
        store.lease_holders(issue, t2).await.unwrap(),
        vec![(NEW.to_owned(), 2)],
        "the new owner still holds both"
    );
    let counts = store.delivery_counts(issue).await.unwrap();
    assert_eq!((counts.sending, counts.retry, counts.pending), (2, 0, 0));

    // The new owner records its sends; the old owner's late deferral then changes nothing.
    let mine = [
        leased(NEW, a, sent("250 2.0.0 a")),
        leased(NEW, b, sent("250 2.0.0 b")),
    ];
    assert_eq!(store.record_leased_outcomes(&mine, t2).await.unwrap(), 2);
    assert_eq!(
        store
            .record_leased_outcomes(
                &[leased(
                    OLD,
                    a,
                    DeliveryOutcome::Deferred {
                        at: t2,
                        reason: "handed back unsent".into()
                    }
                )],
                t2
            )
            .await
            .unwrap(),
        0
    );
    let counts = store.delivery_counts(issue).await.unwrap();
    assert_eq!((counts.sent, counts.sending, counts.pending), (2, 0, 0));
    assert!(store.delivery_ref(a).await.unwrap().unwrap().sent);

    // An owner may record while its lease has lapsed, as long as nobody took it.
    let (issue2, _) = {
        let i = store
            .insert_issue(&NewIssue {
                slug: "2027-01".into(),
                state: IssueState::Queued,
                send_at: None,
                ja: IssueContent {
                    subject: "一月号".into(),
                    preheader: None,
                    markdown: "本文".into(),
                },
                en: IssueContent {
                    subject: "January".into(),
                    preheader: None,
                    markdown: "Body".into(),
                },
                now: t2,
            })
            .await
            .unwrap();
        (i, store.start_campaign(i, t2).await.unwrap())
    };
    let c = store
        .claim_deliveries(issue2, OLD, 1, t2, t2 + Duration::seconds(30))
        .await
        .unwrap();
    let late = t2 + Duration::minutes(5);
    assert_eq!(
        store
            .record_leased_outcomes(&[leased(OLD, c[0].id, sent("250 ok"))], late)
            .await
            .unwrap(),
        1
    );
}

async fn a_send_to_a_reader_who_left_meanwhile_is_recorded_but_a_deferral_is_not(
    store: Arc<dyn Store>,
) {
    let (issue, subs) = campaign(&store, 2).await;
    let t = now();
    let c = store
        .claim_deliveries(issue, OLD, 10, t, t + Duration::seconds(30))
        .await
        .unwrap();
    for s in &subs {
        store
            .set_subscriber_status(
                *s,
                &[SubscriberStatus::Active],
                SubscriberStatus::Unsubscribed,
                Some("page"),
                t,
            )
            .await
            .unwrap();
    }
    assert_eq!(store.delivery_counts(issue).await.unwrap().skipped, 2);
    let outcomes = [
        // On the wire when the reader left: it did go out, the ledger says so.
        leased(OLD, c[0].id, sent("250 ok")),
        leased(
            OLD,
            c[1].id,
            DeliveryOutcome::Deferred {
                at: t,
                reason: "handed back unsent".into(),
            },
        ),
    ];
    assert_eq!(store.record_leased_outcomes(&outcomes, t).await.unwrap(), 1);
    let counts = store.delivery_counts(issue).await.unwrap();
    assert_eq!((counts.sent, counts.skipped, counts.pending), (1, 1, 0));
}

/// The dispatcher's look for readers who left under a worker: of the ids it asks about,
/// exactly those skipped now; skipped deliveries between them (another worker's) or of
/// another issue are not reported.
async fn a_worker_learns_which_of_its_deliveries_were_skipped_and_no_others(store: Arc<dyn Store>) {
    let (issue, subs) = campaign(&store, 6).await;
    let t = now();
    let c = store
        .claim_deliveries(issue, OLD, 10, t, t + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(c.len(), 6);
    let by_sub = |s: SubscriberId| c.iter().find(|d| d.subscriber_id == s).unwrap().id;
    assert_eq!(store.skipped_among(issue, &[]).await.unwrap(), vec![]);
    let mine: Vec<DeliveryId> = c.iter().map(|d| d.id).step_by(2).collect();
    assert_eq!(store.skipped_among(issue, &mine).await.unwrap(), vec![]);
    // Readers 0, 1 and 4 leave: 0 and 4 are among the asked ids, 1 lies between them.
    for i in [0, 1, 4] {
        store
            .set_subscriber_status(
                subs[i],
                &[SubscriberStatus::Active],
                SubscriberStatus::Unsubscribed,
                Some("page"),
                t,
            )
            .await
            .unwrap();
    }
    let asked = [by_sub(subs[0]), by_sub(subs[2]), by_sub(subs[4])];
    let mut got = store.skipped_among(issue, &asked).await.unwrap();
    got.sort();
    let mut want = vec![by_sub(subs[0]), by_sub(subs[4])];
    want.sort();
    assert_eq!(got, want);
    // The same ids asked about for another issue: none of its deliveries.
    let other = store
        .insert_issue(&NewIssue {
            slug: "2027-02".into(),
            state: IssueState::Queued,
            send_at: None,
            ja: IssueContent {
                subject: "二月号".into(),
                preheader: None,
                markdown: "本文".into(),
            },
            en: IssueContent {
                subject: "February".into(),
                preheader: None,
                markdown: "Body".into(),
            },
            now: t,
        })
        .await
        .unwrap();
    assert_eq!(store.skipped_among(other, &asked).await.unwrap(), vec![]);
}

async fn many_leased_outcomes_with_a_hard_bounce_are_recorded_in_one_transaction(
    store: Arc<dyn Store>,
) {
    // More than one statement's worth of rows (128), and a hard bounce: the transaction path.
    let (issue, subs) = campaign(&store, 300).await;
    let t = now();
    let c = store
        .claim_deliveries(issue, OLD, 300, t, t + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(c.len(), 300);
    let bounced = c.iter().find(|d| d.subscriber_id == subs[250]).unwrap().id;
    let mut outcomes: Vec<LeasedOutcome> = c
        .iter()
        .filter(|d| d.id != bounced)
        .map(|d| leased(OLD, d.id, sent("250 ok")))
        .collect();
    outcomes.push(leased(
        OLD,
        bounced,
        DeliveryOutcome::Failed {
            reply: "550 5.1.1 user unknown".into(),
            hard_bounce: true,
        },
    ));
    // One row of another owner in the middle is left alone.
    let foreign = outcomes[10].id;
    outcomes[10].owner = NEW.into();
    assert_eq!(
        store.record_leased_outcomes(&outcomes, t).await.unwrap(),
        299
    );
    let counts = store.delivery_counts(issue).await.unwrap();
    assert_eq!((counts.sent, counts.failed, counts.sending), (298, 1, 1));
    assert!(!store.delivery_ref(foreign).await.unwrap().unwrap().sent);
    assert_eq!(
        store.subscriber(subs[250]).await.unwrap().unwrap().status,
        SubscriberStatus::Bounced
    );
}
