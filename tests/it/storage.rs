//! The storage contract: every test runs against SQLite and PostgreSQL, each in a fresh
//! database of its own.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use kairan::app::ports::*;
use kairan::domain::*;

use crate::helpers::store_contract;
use crate::helpers::{TestDb, now};

store_contract!(
    subscribers_round_trip_with_japanese_names_and_consent,
    a_second_subscriber_with_the_same_address_is_a_conflict_and_nothing_is_half_written,
    status_changes_are_compare_and_set,
    leaving_the_list_skips_open_deliveries_at_once,
    subscribers_are_listed_with_filters_and_keyset_paging,
    subscribers_are_counted_by_status_and_language,
    issues_round_trip_and_slugs_are_unique,
    issue_transitions_only_happen_from_the_expected_states,
    send_now_moves_only_the_send_time_and_only_before_sending,
    a_campaign_snapshots_the_active_audience_once,
    claims_lease_disjoint_batches_and_expired_leases_come_back,
    concurrent_claims_never_hand_out_a_delivery_twice,
    outcomes_are_recorded_and_a_hard_bounce_marks_the_subscriber,
    retries_are_claimed_only_when_due,
    released_leases_return_to_the_pool,
    an_issue_is_finished_only_when_no_delivery_needs_work,
    bounce_reports_are_stored_once_per_message,
    bounce_reports_are_found_by_hash_and_counted_by_kind_and_action,
    a_delivery_is_found_by_id_with_its_subscriber,
    delay_notices_are_stored_with_their_own_kind,
    answers_are_claimed_once_per_interval_and_queued_with_the_claim,
    soft_bounces_count_once_a_day_and_are_forgotten_after_the_window,
    meta_values_are_upserted,
    the_backend_is_healthy_and_says_which_it_is,
    // Subscribers (issue 3).
    confirmation_sends_are_compare_and_set,
    confirming_sets_the_time_on_the_subscriber_and_its_consent,
    an_unsubscribed_reader_opts_in_anew_with_a_new_consent_record,
    the_language_changes_only_while_subscribed,
    erasure_removes_personal_data_keeps_the_dates_and_suppresses_the_hash,
    meta_get_or_init_keeps_the_first_value,
    a_generated_signing_key_and_the_salt_are_kept_and_reused,
);

fn consent(at: chrono::DateTime<chrono::Utc>) -> Consent {
    Consent {
        method: SubscriptionSource::Form,
        form_at: at,
        confirmed_at: None,
        ip: Some("203.0.113.7".into()),
        user_agent: Some("Mozilla/5.0 (iPhone)".into()),
        page_lang: Some(Lang::Ja),
        text_hash: Some("sha256:abcd".into()),
        text_version: Some("2026-11".into()),
    }
}

fn new_sub(email: &str, lang: LangPref, status: SubscriberStatus) -> NewSubscriber {
    let at = now();
    NewSubscriber {
        email: EmailAddress::parse(email).unwrap(),
        name: None,
        lang,
        status,
        consent: consent(at),
        now: at,
    }
}

async fn add(
    store: &Arc<dyn Store>,
    email: &str,
    lang: LangPref,
    status: SubscriberStatus,
) -> SubscriberId {
    store
        .insert_subscriber(&new_sub(email, lang, status), None)
        .await
        .unwrap()
        .0
}

fn content(subject: &str) -> IssueContent {
    IssueContent {
        subject: subject.into(),
        preheader: Some("今月のお知らせ".into()),
        markdown: format!("# {subject}\n\n本文です。"),
    }
}

async fn add_issue(store: &Arc<dyn Store>, slug: &str, state: IssueState) -> IssueId {
    store
        .insert_issue(&NewIssue {
            slug: slug.into(),
            state,
            send_at: None,
            ja: content("十二月号：技能実習生の権利"),
            en: content("December: the rights of technical interns"),
            now: now(),
        })
        .await
        .unwrap()
}

/// An issue in `sending` with `n` active subscribers snapshotted into deliveries.
async fn campaign(store: &Arc<dyn Store>, n: usize) -> (IssueId, Vec<SubscriberId>) {
    let mut subs = Vec::new();
    for i in 0..n {
        subs.push(
            add(
                store,
                &format!("reader{i}@example.jp"),
                LangPref::Ja,
                SubscriberStatus::Active,
            )
            .await,
        );
    }
    let issue = add_issue(store, "2026-12", IssueState::Queued).await;
    assert_eq!(
        store.start_campaign(issue, now()).await.unwrap(),
        Some(n as u64)
    );
    (issue, subs)
}

async fn subscribers_round_trip_with_japanese_names_and_consent(store: Arc<dyn Store>) {
    let mut s = new_sub(
        "Hanako.Sato@Example.JP",
        LangPref::Both,
        SubscriberStatus::Pending,
    );
    s.name = Some("佐藤 花子".into());
    let (id, mail) = store.insert_subscriber(&s, None).await.unwrap();
    assert_eq!(mail, None);

    let got = store.subscriber(id).await.unwrap().unwrap();
    assert_eq!(got.email.as_str(), "Hanako.Sato@example.jp");
    assert_eq!(got.name.as_deref(), Some("佐藤 花子"));
    assert_eq!(got.lang, LangPref::Both);
    assert_eq!(got.status, SubscriberStatus::Pending);
    assert_eq!(got.created_at, s.now);
    assert_eq!(got.source, SubscriptionSource::Form);

    let by_email = store
        .subscriber_by_email(&EmailAddress::parse("hanako.sato@example.jp").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_email.id, id);
    assert_eq!(store.consents(id).await.unwrap(), vec![s.consent.clone()]);
    assert!(
        store
            .subscriber(SubscriberId::new(id.get() + 1000))
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_second_subscriber_with_the_same_address_is_a_conflict_and_nothing_is_half_written(
    store: Arc<dyn Store>,
) {
    let id = add(
        &store,
        "taro@example.jp",
        LangPref::Ja,
        SubscriberStatus::Active,
    )
    .await;
    let confirm = NewMail::new(MailKind::Confirm, LangPref::En);
    let err = store
        .insert_subscriber(
            &new_sub("TARO@example.jp", LangPref::En, SubscriberStatus::Pending),
            Some(&confirm),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let all = store
        .list_subscribers(&SubscriberQuery::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].lang, LangPref::Ja);
    // The failed insert's consent record was rolled back with it.
    assert_eq!(store.consents(id).await.unwrap().len(), 1);
}

async fn status_changes_are_compare_and_set(store: Arc<dyn Store>) {
    let id = add(
        &store,
        "a@example.jp",
        LangPref::En,
        SubscriberStatus::Pending,
    )
    .await;
    let t = now();
    assert!(
        !store
            .set_subscriber_status(
                id,
                &[SubscriberStatus::Active],
                SubscriberStatus::Unsubscribed,
                Some("page"),
                t
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .set_subscriber_status(
                id,
                &[SubscriberStatus::Pending],
                SubscriberStatus::Active,
                None,
                t
            )
            .await
            .unwrap()
    );
    let s = store.subscriber(id).await.unwrap().unwrap();
    assert_eq!(
        (s.status, s.confirmed_at),
        (SubscriberStatus::Active, Some(t))
    );

    let later = t + Duration::seconds(5);
    assert!(
        store
            .set_subscriber_status(
                id,
                &[SubscriberStatus::Active],
                SubscriberStatus::Unsubscribed,
                Some("one-click"),
                later
            )
            .await
            .unwrap()
    );
    let s = store.subscriber(id).await.unwrap().unwrap();
    assert_eq!(s.status, SubscriberStatus::Unsubscribed);
    assert_eq!(s.unsubscribed_at, Some(later));
    assert_eq!(s.unsubscribe_method.as_deref(), Some("one-click"));
    assert_eq!(s.confirmed_at, Some(t), "the confirmation time is kept");
}

async fn leaving_the_list_skips_open_deliveries_at_once(store: Arc<dyn Store>) {
    let (issue, subs) = campaign(&store, 3).await;
    store
        .set_subscriber_status(
            subs[1],
            &[SubscriberStatus::Active],
            SubscriberStatus::Unsubscribed,
            Some("page"),
            now(),
        )
        .await
        .unwrap();
    let counts = store.delivery_counts(issue).await.unwrap();
    assert_eq!((counts.pending, counts.skipped), (2, 1));
    let t = now();
    let claimed = store
        .claim_deliveries(issue, "w1", 10, t, t + Duration::minutes(5))
        .await
        .unwrap();
    let ids: Vec<_> = claimed.iter().map(|c| c.subscriber_id).collect();
    assert_eq!(ids, vec![subs[0], subs[2]]);
}

async fn subscribers_are_listed_with_filters_and_keyset_paging(store: Arc<dyn Store>) {
    let a = add(
        &store,
        "a@example.jp",
        LangPref::Ja,
        SubscriberStatus::Active,
    )
    .await;
    let _b = add(
        &store,
        "b@example.jp",
        LangPref::En,
        SubscriberStatus::Active,
    )
    .await;
    let c = add(
        &store,
        "c@example.jp",
        LangPref::Ja,
        SubscriberStatus::Pending,
    )
    .await;
    let d = add(
        &store,
        "d@example.jp",
        LangPref::Ja,
        SubscriberStatus::Active,
    )
    .await;

    let ja_active = store
        .list_subscribers(&SubscriberQuery {
            status: Some(SubscriberStatus::Active),
            lang: Some(LangPref::Ja),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        ja_active.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![a, d]
    );

    let page1 = store
        .list_subscribers(&SubscriberQuery {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page1.len(), 2);
    let page2 = store
        .list_subscribers(&SubscriberQuery {
            limit: Some(2),
            after_id: Some(page1[1].id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page2.iter().map(|s| s.id).collect::<Vec<_>>(), vec![c, d]);
}

async fn subscribers_are_counted_by_status_and_language(store: Arc<dyn Store>) {
    add(
        &store,
        "a@example.jp",
        LangPref::Ja,
        SubscriberStatus::Active,
    )
    .await;
    add(
        &store,
        "b@example.jp",
        LangPref::Ja,
        SubscriberStatus::Active,
    )
    .await;
    add(
        &store,
        "c@example.jp",
        LangPref::Both,
        SubscriberStatus::Pending,
    )
    .await;
    let counts = store.subscriber_counts().await.unwrap();
    assert_eq!(
        counts,
        vec![
            (SubscriberStatus::Active, LangPref::Ja, 2),
            (SubscriberStatus::Pending, LangPref::Both, 1),
        ]
    );
}

async fn issues_round_trip_and_slugs_are_unique(store: Arc<dyn Store>) {
    let send_at = now() + Duration::days(7);
    let new = NewIssue {
        slug: "2026-12".into(),
        state: IssueState::Queued,
        send_at: Some(send_at),
        ja: content("十二月号"),
        en: content("December issue"),
        now: now(),
    };
    let id = store.insert_issue(&new).await.unwrap();
    let got = store.issue(id).await.unwrap().unwrap();
    assert_eq!(got.slug, "2026-12");
    assert_eq!(got.state, IssueState::Queued);
    assert_eq!(got.send_at, Some(send_at));
    assert_eq!(got.ja, new.ja);
    assert_eq!(got.en, new.en);
    assert_eq!(got.content(Lang::Ja).subject, "十二月号");

    let err = store.insert_issue(&new).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("2026-12")),
        "{err:?}"
    );
    assert_eq!(store.list_issues().await.unwrap().len(), 1);
}

async fn issue_transitions_only_happen_from_the_expected_states(store: Arc<dyn Store>) {
    let id = add_issue(&store, "2026-12", IssueState::Queued).await;
    let t = now();
    assert!(
        !store
            .transition_issue(id, &[IssueState::Sending], IssueState::Paused, t)
            .await
            .unwrap()
    );
    assert!(
        store
            .transition_issue(
                id,
                &[IssueState::Queued, IssueState::Sending],
                IssueState::Cancelled,
                t
            )
            .await
            .unwrap()
    );
    let got = store.issue(id).await.unwrap().unwrap();
    assert_eq!(got.state, IssueState::Cancelled);
    assert_eq!(got.finished_at, Some(t));
}

async fn send_now_moves_only_the_send_time_and_only_before_sending(store: Arc<dyn Store>) {
    let id = add_issue(&store, "2026-12", IssueState::Queued).await;
    // An editor's change lands between someone reading the issue and pressing send-now…
    let edited = content("十二月号（改訂）");
    let t0 = now();
    assert!(
        store
            .update_issue(id, None, &edited, &edited, t0)
            .await
            .unwrap()
    );
    let t1 = t0 + Duration::seconds(5);
    assert!(store.send_issue_now(id, t1).await.unwrap());
    // …and survives it: send-now writes the time and nothing else.
    let got = store.issue(id).await.unwrap().unwrap();
    assert_eq!((got.send_at, got.updated_at), (Some(t1), t1));
    assert_eq!((got.ja.clone(), got.en.clone()), (edited.clone(), edited));
    assert_eq!(got.state, IssueState::Queued);
    // Once sending has started it is refused and changes nothing.
    assert!(store.start_campaign(id, t1).await.unwrap().is_some());
    let t2 = t1 + Duration::seconds(5);
    assert!(!store.send_issue_now(id, t2).await.unwrap());
    assert_eq!(store.issue(id).await.unwrap().unwrap().send_at, Some(t1));
    // An unknown issue is not an error, just nothing done.
    assert!(
        !store
            .send_issue_now(IssueId::new(id.get() + 1000), t2)
            .await
            .unwrap()
    );
}

async fn a_campaign_snapshots_the_active_audience_once(store: Arc<dyn Store>) {
    add(
        &store,
        "ja@example.jp",
        LangPref::Ja,
        SubscriberStatus::Active,
    )
    .await;
    add(
        &store,
        "both@example.jp",
        LangPref::Both,
        SubscriberStatus::Active,
    )
    .await;
    add(
        &store,
        "pending@example.jp",
        LangPref::En,
        SubscriberStatus::Pending,
    )
    .await;
    add(
        &store,
        "gone@example.jp",
        LangPref::En,
        SubscriberStatus::Unsubscribed,
    )
    .await;
    let draft = add_issue(&store, "draft", IssueState::Draft).await;
    assert_eq!(
        store.start_campaign(draft, now()).await.unwrap(),
        None,
        "only queued issues start"
    );

    let issue = add_issue(&store, "2026-12", IssueState::Queued).await;
    assert_eq!(store.start_campaign(issue, now()).await.unwrap(), Some(2));
    assert_eq!(
        store.issue(issue).await.unwrap().unwrap().state,
        IssueState::Sending
    );
    assert_eq!(
        store.start_campaign(issue, now()).await.unwrap(),
        None,
        "a second start does nothing"
    );

    // A reader who joins after the snapshot is not added.
    add(
        &store,
        "late@example.jp",
        LangPref::Ja,
        SubscriberStatus::Active,
    )
    .await;
    let counts = store.delivery_counts(issue).await.unwrap();
    assert_eq!((counts.total(), counts.pending), (2, 2));

    let t = now();
    let claimed = store
        .claim_deliveries(issue, "w", 10, t, t + Duration::minutes(1))
        .await
        .unwrap();
    let langs: Vec<_> = claimed.iter().map(|c| (c.email.as_str(), c.lang)).collect();
    assert_eq!(
        langs,
        vec![
            ("ja@example.jp", LangPref::Ja),
            ("both@example.jp", LangPref::Both)
        ]
    );
}

async fn claims_lease_disjoint_batches_and_expired_leases_come_back(store: Arc<dyn Store>) {
    let (issue, _) = campaign(&store, 5).await;
    let t = now();
    let lease = t + Duration::minutes(5);
    let a = store
        .claim_deliveries(issue, "worker-a", 2, t, lease)
        .await
        .unwrap();
    let b = store
        .claim_deliveries(issue, "worker-b", 2, t, lease)
        .await
        .unwrap();
    let c = store
        .claim_deliveries(issue, "worker-c", 2, t, lease)
        .await
        .unwrap();
    assert_eq!((a.len(), b.len(), c.len()), (2, 2, 1));
    let mut ids: Vec<_> = a.iter().chain(&b).chain(&c).map(|d| d.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    assert!(
        store
            .claim_deliveries(issue, "worker-d", 2, t, lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.delivery_counts(issue).await.unwrap().sending, 5);

    // worker-a crashes; after its lease expires its rows are claimable again.
    store
        .record_outcomes(
            &[b[0].id, b[1].id, c[0].id].map(|id| {
                (
                    id,
                    DeliveryOutcome::Sent {
                        reply: "250 ok".into(),
                    },
                )
            }),
            t,
        )
        .await
        .unwrap();
    let after = lease + Duration::seconds(1);
    let again = store
        .claim_deliveries(issue, "worker-e", 10, after, after + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|d| d.id).collect::<Vec<_>>(),
        a.iter().map(|d| d.id).collect::<Vec<_>>()
    );
}

async fn concurrent_claims_never_hand_out_a_delivery_twice(store: Arc<dyn Store>) {
    let (issue, _) = campaign(&store, 200).await;
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let t = now();
                let batch = store
                    .claim_deliveries(issue, &format!("w{w}"), 7, t, t + Duration::minutes(5))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break mine;
                }
                let outcomes: Vec<_> = batch
                    .iter()
                    .map(|d| {
                        (
                            d.id,
                            DeliveryOutcome::Sent {
                                reply: "250 ok".into(),
                            },
                        )
                    })
                    .collect();
                store.record_outcomes(&outcomes, t).await.unwrap();
                mine.extend(batch.into_iter().map(|d| d.id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 200, "every delivery claimed");
    assert_eq!(unique.len(), 200, "none claimed twice");
    assert_eq!(store.delivery_counts(issue).await.unwrap().sent, 200);
}

async fn outcomes_are_recorded_and_a_hard_bounce_marks_the_subscriber(store: Arc<dyn Store>) {
    let (issue, subs) = campaign(&store, 3).await;
    // A second issue, so the bounced reader's other open delivery can be seen skipped.
    let other = add_issue(&store, "2027-01", IssueState::Queued).await;
    store.start_campaign(other, now()).await.unwrap();
    let t = now();
    let d = store
        .claim_deliveries(issue, "w", 10, t, t + Duration::minutes(5))
        .await
        .unwrap();
    store
        .record_outcomes(
            &[
                (
                    d[0].id,
                    DeliveryOutcome::Sent {
                        reply: "250 2.0.0 queued".into(),
                    },
                ),
                (
                    d[1].id,
                    DeliveryOutcome::Failed {
                        reply: "550 5.1.1 no such user".into(),
                        hard_bounce: true,
                    },
                ),
                (
                    d[2].id,
                    DeliveryOutcome::Skipped {
                        reason: "unsubscribed".into(),
                    },
                ),
            ],
            t,
        )
        .await
        .unwrap();
    let counts = store.delivery_counts(issue).await.unwrap();
    assert_eq!(
        (counts.sent, counts.failed, counts.skipped, counts.sending),
        (1, 1, 1, 0)
    );
    let bounced = store.subscriber(subs[1]).await.unwrap().unwrap();
    assert_eq!(bounced.status, SubscriberStatus::Bounced);
    assert_eq!(bounced.last_bounce_at, Some(t));
    let other_counts = store.delivery_counts(other).await.unwrap();
    assert_eq!((other_counts.pending, other_counts.skipped), (2, 1));
    assert_eq!(
        store.subscriber(subs[0]).await.unwrap().unwrap().status,
        SubscriberStatus::Active
    );
}

async fn retries_are_claimed_only_when_due(store: Arc<dyn Store>) {
    let (issue, _) = campaign(&store, 1).await;
    let t = now();
    let d = store
        .claim_deliveries(issue, "w", 10, t, t + Duration::minutes(5))
        .await
        .unwrap();
    let at = t + Duration::minutes(2);
    store
        .record_outcomes(
            &[(
                d[0].id,
                DeliveryOutcome::Retry {
                    at,
                    reply: "451 4.7.1 try later".into(),
                },
            )],
            t,
        )
        .await
        .unwrap();
    assert_eq!(store.delivery_counts(issue).await.unwrap().retry, 1);
    let early = t + Duration::minutes(1);
    assert!(
        store
            .claim_deliveries(issue, "w", 10, early, early + Duration::minutes(5))
            .await
            .unwrap()
            .is_empty()
    );
    let due = store
        .claim_deliveries(issue, "w", 10, at, at + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempts, 1, "the failed attempt was counted");
}

async fn released_leases_return_to_the_pool(store: Arc<dyn Store>) {
    let (issue, _) = campaign(&store, 3).await;
    let t = now();
    let lease = t + Duration::minutes(5);
    store
        .claim_deliveries(issue, "mine", 2, t, lease)
        .await
        .unwrap();
    store
        .claim_deliveries(issue, "theirs", 1, t, lease)
        .await
        .unwrap();
    assert_eq!(store.release_leases("mine").await.unwrap(), 2);
    let counts = store.delivery_counts(issue).await.unwrap();
    assert_eq!((counts.pending, counts.sending), (2, 1));
    assert_eq!(
        store
            .claim_deliveries(issue, "next", 10, t, lease)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn an_issue_is_finished_only_when_no_delivery_needs_work(store: Arc<dyn Store>) {
    let (issue, _) = campaign(&store, 2).await;
    let t = now();
    assert!(!store.finish_issue_if_done(issue, t).await.unwrap());
    let d = store
        .claim_deliveries(issue, "w", 10, t, t + Duration::minutes(5))
        .await
        .unwrap();
    store
        .record_outcomes(
            &[(
                d[0].id,
                DeliveryOutcome::Sent {
                    reply: "250".into(),
                },
            )],
            t,
        )
        .await
        .unwrap();
    assert!(
        !store.finish_issue_if_done(issue, t).await.unwrap(),
        "one still leased"
    );
    store
        .record_outcomes(
            &[(
                d[1].id,
                DeliveryOutcome::Failed {
                    reply: "552".into(),
                    hard_bounce: false,
                },
            )],
            t,
        )
        .await
        .unwrap();
    assert!(store.finish_issue_if_done(issue, t).await.unwrap());
    let got = store.issue(issue).await.unwrap().unwrap();
    assert_eq!((got.state, got.finished_at), (IssueState::Sent, Some(t)));
}

async fn bounce_reports_are_stored_once_per_message(store: Arc<dyn Store>) {
    let sub = add(
        &store,
        "x@docomo.ne.jp",
        LangPref::Ja,
        SubscriberStatus::Active,
    )
    .await;
    let r = BounceRecord {
        message_hash: "sha256:0123".into(),
        received_at: now(),
        source: "pipe".into(),
        kind: Some(BounceKind::Hard),
        subscriber_id: Some(sub),
        delivery_id: None,
        status_code: Some("5.1.1".into()),
        reason: Some("userunknown".into()),
        diagnostic: Some("550 Unknown user x@docomo.ne.jp".into()),
        action: "bounced".into(),
        attribution: Some("verp".into()),
        parsed: r#"{"bounce":true}"#.into(),
    };
    let counts = [
        ("kairan_bounces_total", "bounced", 1),
        ("kairan_bounce_tokens_ignored_total", "unknown", 2),
    ];
    assert!(store.insert_bounce_report(&r, &counts).await.unwrap());
    assert!(
        !store.insert_bounce_report(&r, &counts).await.unwrap(),
        "the same message is stored once"
    );
    assert_eq!(store.bounce_reports(10).await.unwrap(), vec![r]);
    // Counted with the report, once; a duplicate is counted on its own.
    store
        .add_bounce_counters(&[("kairan_bounces_total", "duplicate", 1)])
        .await
        .unwrap();
    let got: Vec<_> = store
        .bounce_counters()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.label, c.value))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "kairan_bounce_tokens_ignored_total".into(),
                "unknown".into(),
                2
            ),
            ("kairan_bounces_total".into(), "bounced".into(), 1),
            ("kairan_bounces_total".into(), "duplicate".into(), 1),
        ]
    );
}

async fn delay_notices_are_stored_with_their_own_kind(store: Arc<dyn Store>) {
    let r = BounceRecord {
        message_hash: "ses:0000-1111".into(),
        received_at: now(),
        source: "ses".into(),
        kind: Some(BounceKind::Delayed),
        subscriber_id: None,
        delivery_id: None,
        status_code: Some("4.4.7".into()),
        reason: Some("expired".into()),
        diagnostic: None,
        action: "none".into(),
        attribution: None,
        parsed: "{}".into(),
    };
    assert!(store.insert_bounce_report(&r, &[]).await.unwrap());
    assert_eq!(store.bounce_reports(1).await.unwrap(), vec![r]);
}

async fn answers_are_claimed_once_per_interval_and_queued_with_the_claim(store: Arc<dyn Store>) {
    let id = add(
        &store,
        "asks@example.jp",
        LangPref::Ja,
        SubscriberStatus::Active,
    )
    .await;
    let mail = NewMail::new(MailKind::UnsubscribeLink, LangPref::Ja);
    let t = now();
    let day = Duration::days(1);
    let first = store
        .claim_bounce_answer(id, &mail, t, t - day)
        .await
        .unwrap();
    assert!(first.is_some());
    let later = t + Duration::hours(1);
    assert_eq!(
        store
            .claim_bounce_answer(id, &mail, later, later - day)
            .await
            .unwrap(),
        None,
        "answered within the day"
    );
    let next_day = t + Duration::hours(25);
    let (a, b) = tokio::join!(
        store.claim_bounce_answer(id, &mail, next_day, next_day - day),
        store.claim_bounce_answer(id, &mail, next_day, next_day - day)
    );
    assert_eq!(
        [a.unwrap(), b.unwrap()]
            .iter()
            .filter(|x| x.is_some())
            .count(),
        1,
        "two claims at once: one answer"
    );
    // Each claim that was taken queued its mail, and only those.
    let queued = store.mails_for(Recipient::Subscriber(id)).await.unwrap();
    assert_eq!(queued.len(), 2);
    assert_eq!(queued[0].mail.id, first.unwrap());
    assert!(
        queued
            .iter()
            .all(|m| m.mail.kind == MailKind::UnsubscribeLink && m.state == MailState::Pending)
    );
}

async fn bounce_reports_are_found_by_hash_and_counted_by_kind_and_action(store: Arc<dyn Store>) {
    let t = now();
    let record = |hash: &str, kind: Option<BounceKind>, action: &str, at| BounceRecord {
        message_hash: hash.into(),
        received_at: at,
        source: "http".into(),
        kind,
        subscriber_id: None,
        delivery_id: None,
        status_code: None,
        reason: None,
        diagnostic: None,
        action: action.into(),
        attribution: None,
        parsed: "{}".into(),
    };
    for r in [
        record("a", Some(BounceKind::Hard), "bounced", t),
        record("b", Some(BounceKind::Hard), "bounced", t),
        record("c", None, "not-a-bounce", t),
        record(
            "d",
            Some(BounceKind::Soft),
            "soft-scored",
            t - Duration::days(40),
        ),
    ] {
        assert!(store.insert_bounce_report(&r, &[]).await.unwrap());
    }
    assert!(store.bounce_report_exists("a").await.unwrap());
    assert!(!store.bounce_report_exists("z").await.unwrap());
    let mut counts = store
        .bounce_report_counts(t - Duration::days(30))
        .await
        .unwrap();
    counts.sort_by(|a, b| a.action.cmp(&b.action));
    assert_eq!(
        counts,
        vec![
            BounceCount {
                kind: Some(BounceKind::Hard),
                action: "bounced".into(),
                count: 2
            },
            BounceCount {
                kind: None,
                action: "not-a-bounce".into(),
                count: 1
            },
        ]
    );
}

async fn a_delivery_is_found_by_id_with_its_subscriber(store: Arc<dyn Store>) {
    let (issue, subs) = campaign(&store, 2).await;
    let t = now();
    let claimed = store
        .claim_deliveries(issue, "w", 10, t, t + Duration::minutes(5))
        .await
        .unwrap();
    let d = claimed.iter().find(|d| d.subscriber_id == subs[1]).unwrap();
    let mut want = DeliveryRef {
        id: d.id,
        issue_id: issue,
        subscriber_id: subs[1],
        sent: false,
    };
    assert_eq!(store.delivery_ref(d.id).await.unwrap(), Some(want));
    assert_eq!(store.delivery_of(issue, subs[1]).await.unwrap(), Some(want));
    store
        .record_outcomes(
            &[(
                d.id,
                DeliveryOutcome::Sent {
                    reply: "250 ok".into(),
                },
            )],
            t,
        )
        .await
        .unwrap();
    want.sent = true;
    assert_eq!(store.delivery_ref(d.id).await.unwrap(), Some(want));
    assert_eq!(store.delivery_of(issue, subs[1]).await.unwrap(), Some(want));
    assert_eq!(
        store
            .delivery_of(IssueId::new(issue.get() + 1), subs[1])
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .delivery_ref(DeliveryId::new(d.id.get() + 1000))
            .await
            .unwrap(),
        None
    );
}

async fn soft_bounces_count_once_a_day_and_are_forgotten_after_the_window(store: Arc<dyn Store>) {
    let id = add(
        &store,
        "soft@example.jp",
        LangPref::En,
        SubscriberStatus::Active,
    )
    .await;
    let window = Duration::days(30);
    let day = Duration::days(1);
    let t0 = now();
    let score = |at: chrono::DateTime<chrono::Utc>| {
        let store = store.clone();
        async move {
            store
                .add_soft_bounce(id, at, at - window, at - day)
                .await
                .unwrap()
        }
    };
    assert_eq!(score(t0).await, Some(1.0));
    assert_eq!(score(t0 + Duration::hours(3)).await, Some(1.0), "same day");
    assert_eq!(score(t0 + Duration::days(2)).await, Some(2.0));
    assert_eq!(score(t0 + Duration::days(4)).await, Some(3.0));
    let got = store.subscriber(id).await.unwrap().unwrap();
    assert_eq!(got.soft_bounce_score, 3.0);
    assert_eq!(got.last_bounce_at, Some(t0 + Duration::days(4)));
    // A quiet month: the score starts over.
    assert_eq!(score(t0 + Duration::days(40)).await, Some(1.0));
    assert_eq!(
        store
            .add_soft_bounce(
                SubscriberId::new(id.get() + 1000),
                t0,
                t0 - window,
                t0 - day
            )
            .await
            .unwrap(),
        None
    );
}

async fn meta_values_are_upserted(store: Arc<dyn Store>) {
    assert_eq!(store.meta("last_tick").await.unwrap(), None);
    store
        .set_meta("last_tick", "2026-12-01T00:00:00Z")
        .await
        .unwrap();
    store
        .set_meta("last_tick", "2027-01-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(
        store.meta("last_tick").await.unwrap().as_deref(),
        Some("2027-01-01T00:00:00Z")
    );
}

async fn the_backend_is_healthy_and_says_which_it_is(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    assert!(["sqlite", "postgres"].contains(&store.backend()));
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_so_two_processes_can_share_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("k.db").display());
    let a = kairan::storage::SqliteStore::connect(&url, 2)
        .await
        .unwrap();
    a.migrate().await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert!(timeout >= 5000, "busy_timeout {timeout}");
    // A second, independent pool on the same file writes while the first holds a reader.
    let b = kairan::storage::connect(&url, 2).await.unwrap();
    b.migrate().await.unwrap();
    add(
        &b,
        "shared@example.jp",
        LangPref::En,
        SubscriberStatus::Active,
    )
    .await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subscribers")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn postgres_stores_timestamps_as_timestamptz() {
    let db = TestDb::postgres().await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let ty: String = sqlx::query_scalar(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'deliveries' AND column_name = 'sent_at'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(ty, "timestamp with time zone");
    pool.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_corrupt_status_value_is_an_error_not_a_panic() {
    let db = TestDb::sqlite().await;
    let id = add(
        &db.store,
        "odd@example.jp",
        LangPref::Ja,
        SubscriberStatus::Active,
    )
    .await;
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    // Bypass the CHECK constraint the way a hand edit of an old file might.
    sqlx::query("PRAGMA ignore_check_constraints = ON")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE subscribers SET status = 'Active' WHERE id = $1")
        .bind(id.get())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let err = db.store.subscriber(id).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("`Active`")),
        "{err:?}"
    );
    db.cleanup().await;
}

// ---- Subscribers (issue 3) --------------------------------------------------------------

async fn confirmation_sends_are_compare_and_set(store: Arc<dyn Store>) {
    let id = add(
        &store,
        "cas@example.jp",
        LangPref::Ja,
        SubscriberStatus::Pending,
    )
    .await;
    let t0 = now();
    let window = Duration::minutes(10);
    let mail = NewMail::new(MailKind::Confirm, LangPref::Ja);
    let first = store
        .claim_confirmation_send(id, t0, t0 - window, &mail)
        .await
        .unwrap();
    assert!(first.is_some());
    // Within the window: refused, however often, and nothing queued.
    let t1 = t0 + Duration::minutes(3);
    assert_eq!(
        store
            .claim_confirmation_send(id, t1, t1 - window, &mail)
            .await
            .unwrap(),
        None
    );
    let t2 = t0 + Duration::minutes(11);
    let second = store
        .claim_confirmation_send(id, t2, t2 - window, &mail)
        .await
        .unwrap();
    assert!(second.is_some() && second != first);
    let s = store.subscriber(id).await.unwrap().unwrap();
    assert_eq!(s.confirmation_sent_at, Some(t2));
    let queued = store.mails_for(Recipient::Subscriber(id)).await.unwrap();
    assert_eq!(
        queued.iter().map(|m| Some(m.mail.id)).collect::<Vec<_>>(),
        vec![first, second],
        "one queued mail per successful claim"
    );
    assert!(queued.iter().all(|m| m.state == MailState::Pending
        && m.mail.kind == MailKind::Confirm
        && m.mail.lang == LangPref::Ja));
    // Never for a subscriber who is not pending.
    let active = add(
        &store,
        "act@example.jp",
        LangPref::En,
        SubscriberStatus::Active,
    )
    .await;
    assert_eq!(
        store
            .claim_confirmation_send(active, t2, t2, &mail)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .mails_for(Recipient::Subscriber(active))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn confirming_sets_the_time_on_the_subscriber_and_its_consent(store: Arc<dyn Store>) {
    let id = add(
        &store,
        "conf@example.jp",
        LangPref::Both,
        SubscriberStatus::Pending,
    )
    .await;
    let at = now();
    let welcome = NewMail::new(MailKind::Welcome, LangPref::Both);
    let first = store
        .confirm_subscriber(id, at, Some(&welcome))
        .await
        .unwrap();
    assert!(first.applied && first.mail.is_some());
    let again = store
        .confirm_subscriber(id, at, Some(&welcome))
        .await
        .unwrap();
    assert_eq!(
        (again.applied, again.mail),
        (false, None),
        "only once, and one welcome"
    );
    let s = store.subscriber(id).await.unwrap().unwrap();
    assert_eq!(s.status, SubscriberStatus::Active);
    assert_eq!(s.confirmed_at, Some(at));
    let consents = store.consents(id).await.unwrap();
    assert_eq!(consents[0].confirmed_at, Some(at));
    let queued = store.mails_for(Recipient::Subscriber(id)).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].mail.kind, MailKind::Welcome);
}

async fn an_unsubscribed_reader_opts_in_anew_with_a_new_consent_record(store: Arc<dyn Store>) {
    let id = add(
        &store,
        "again@example.jp",
        LangPref::Ja,
        SubscriberStatus::Active,
    )
    .await;
    let mut fresh = new_sub("again@example.jp", LangPref::En, SubscriberStatus::Pending);
    fresh.name = Some("再登録 さん".into());
    let confirm = NewMail::new(MailKind::Confirm, LangPref::En);
    let refused = store
        .restart_opt_in(id, &fresh, Some(&confirm))
        .await
        .unwrap();
    assert_eq!(
        (refused.applied, refused.mail),
        (false, None),
        "active: no restart"
    );
    assert!(
        store
            .set_subscriber_status(
                id,
                &[SubscriberStatus::Active],
                SubscriberStatus::Unsubscribed,
                Some("page"),
                now()
            )
            .await
            .unwrap()
    );
    let restarted = store
        .restart_opt_in(id, &fresh, Some(&confirm))
        .await
        .unwrap();
    assert!(restarted.applied && restarted.mail.is_some());
    let s = store.subscriber(id).await.unwrap().unwrap();
    assert_eq!(s.confirmation_sent_at, Some(fresh.now));
    assert_eq!(s.status, SubscriberStatus::Pending);
    assert_eq!(s.lang, LangPref::En);
    assert_eq!(s.name.as_deref(), Some("再登録 さん"));
    assert_eq!(
        (s.unsubscribed_at, s.unsubscribe_method, s.confirmed_at),
        (None, None, None)
    );
    assert_eq!(
        store.consents(id).await.unwrap().len(),
        2,
        "both opt-ins are kept"
    );
}

async fn the_language_changes_only_while_subscribed(store: Arc<dyn Store>) {
    let id = add(
        &store,
        "lang@example.jp",
        LangPref::Ja,
        SubscriberStatus::Active,
    )
    .await;
    assert!(
        store
            .set_subscriber_lang(id, LangPref::Both, now())
            .await
            .unwrap()
    );
    assert_eq!(
        store.subscriber(id).await.unwrap().unwrap().lang,
        LangPref::Both
    );
    let gone = add(
        &store,
        "gone@example.jp",
        LangPref::Ja,
        SubscriberStatus::Unsubscribed,
    )
    .await;
    assert!(
        !store
            .set_subscriber_lang(gone, LangPref::En, now())
            .await
            .unwrap()
    );
}

async fn erasure_removes_personal_data_keeps_the_dates_and_suppresses_the_hash(
    store: Arc<dyn Store>,
) {
    let (issue, subs) = campaign(&store, 2).await;
    let id = subs[0];
    let before = store.consents(id).await.unwrap();
    assert!(!store.is_suppressed("hmac-sha256:abc").await.unwrap());
    assert!(
        store
            .erase_subscriber(id, "hmac-sha256:abc", now())
            .await
            .unwrap()
    );
    let s = store.subscriber(id).await.unwrap().unwrap();
    assert_eq!(s.email.as_str(), format!("erased-{id}@erased.invalid"));
    assert_eq!(s.name, None);
    assert_eq!(s.status, SubscriberStatus::Unsubscribed);
    assert_eq!(s.unsubscribe_method.as_deref(), Some("erased"));
    assert!(
        store
            .subscriber_by_email(&EmailAddress::parse("reader0@example.jp").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let after = store.consents(id).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(
        (after[0].ip.as_deref(), after[0].user_agent.as_deref()),
        (None, None)
    );
    assert_eq!(after[0].form_at, before[0].form_at);
    assert_eq!(after[0].text_hash, before[0].text_hash);
    assert!(store.is_suppressed("hmac-sha256:abc").await.unwrap());
    // Its open delivery is skipped; the other reader's is not.
    let counts = store.delivery_counts(issue).await.unwrap();
    assert_eq!((counts.skipped, counts.pending), (1, 1));
    // The address may come back as a new subscriber (a fresh opt-in).
    add(
        &store,
        "reader0@example.jp",
        LangPref::Ja,
        SubscriberStatus::Pending,
    )
    .await;
    assert!(store.lift_suppression("hmac-sha256:abc").await.unwrap());
    assert!(!store.is_suppressed("hmac-sha256:abc").await.unwrap());
    assert!(!store.lift_suppression("hmac-sha256:abc").await.unwrap());
}

async fn meta_get_or_init_keeps_the_first_value(store: Arc<dyn Store>) {
    assert_eq!(
        store
            .meta_get_or_init("signing_key", "first")
            .await
            .unwrap(),
        "first"
    );
    assert_eq!(
        store
            .meta_get_or_init("signing_key", "second")
            .await
            .unwrap(),
        "first"
    );
    let (a, b) = tokio::join!(
        store.meta_get_or_init("salt", "a"),
        store.meta_get_or_init("salt", "b")
    );
    assert_eq!(a.unwrap(), b.unwrap(), "concurrent first writers agree");
}

#[tokio::test]
async fn a_deferral_does_not_bring_back_a_delivery_skipped_meanwhile() {
    for db in [TestDb::sqlite().await, TestDb::postgres().await] {
        let store = db.store.clone();
        let (issue, subs) = campaign(&store, 2).await;
        let t = now();
        let d = store
            .claim_deliveries(issue, "w", 10, t, t + Duration::minutes(5))
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
        store
            .record_outcomes(
                &[
                    (
                        d[0].id,
                        DeliveryOutcome::Deferred {
                            at: t,
                            reason: "handed back".into(),
                        },
                    ),
                    (
                        d[1].id,
                        DeliveryOutcome::Sent {
                            reply: "250 ok".into(),
                        },
                    ),
                ],
                t,
            )
            .await
            .unwrap();
        let c = store.delivery_counts(issue).await.unwrap();
        assert_eq!(
            (c.skipped, c.sent, c.retry),
            (1, 1, 0),
            "{}",
            store.backend()
        );
        db.cleanup().await;
    }
}

async fn a_generated_signing_key_and_the_salt_are_kept_and_reused(store: Arc<dyn Store>) {
    use kairan::app::ports::keys::KeyLocation;
    let first = store.generated_signing_key().await.unwrap();
    assert_eq!(first.key.len(), 64);
    let again = store.generated_signing_key().await.unwrap();
    assert_eq!(again.key, first.key, "the same key on every start");
    assert!(!again.created);
    match (store.backend(), &first.location) {
        // A SQLite file keeps it next to itself, owner-only, not in the database.
        ("sqlite", KeyLocation::File(path)) => {
            assert!(first.created);
            assert_eq!(path.file_name().unwrap(), "kairan.db.key");
            assert_eq!(std::fs::read_to_string(path).unwrap().trim(), first.key);
            assert_eq!(store.meta("signing_key").await.unwrap(), None);
        }
        // PostgreSQL keeps it in `meta`, where every instance finds it.
        ("postgres", KeyLocation::Database) => {
            assert_eq!(
                store.meta("signing_key").await.unwrap().as_deref(),
                Some(first.key.as_str())
            );
        }
        (backend, location) => panic!("{backend} keeps its key at {location:?}"),
    }
    let salt = store.suppression_salt().await.unwrap();
    assert_eq!(salt.len(), 64);
    assert_eq!(store.suppression_salt().await.unwrap(), salt);
    assert_ne!(salt, first.key);
}

/// Migration 0003 on a database that already holds bounce reports (SQLite rebuilds the table
/// to widen its CHECK): every report survives, with its id, and the outcome counter starts
/// from what was stored.
#[tokio::test]
async fn the_return_mail_migration_keeps_stored_reports_and_counts_them() {
    use sqlx::migrate::Migrator;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let insert =
        "INSERT INTO bounce_reports (message_hash, received_at, source, kind, action, parsed)
                  VALUES ($1, $2, 'pipe', $3, $4, '{}')";
    let rows = [
        ("sha256:aa", Some("hard"), "bounced"),
        ("sha256:bb", None, "not-a-bounce"),
        ("sha256:cc", Some("soft"), "bounced"),
    ];
    for backend in ["sqlite", "postgres"] {
        // A fresh database, migrated up to before 0003.
        let (url, _dir) = if backend == "sqlite" {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("old.db").display());
            (url, Some(dir))
        } else {
            (crate::helpers::create_pg_database().await, None)
        };
        // The same steps on each backend's own pool type.
        macro_rules! seed {
            ($pool:expr, $dir:literal) => {{
                let pool = $pool;
                let m = Migrator::new(root.join($dir)).await.unwrap();
                m.run_to(2, &pool).await.unwrap();
                for (hash, kind, action) in rows {
                    sqlx::query(insert)
                        .bind(hash)
                        .bind(now())
                        .bind(kind)
                        .bind(action)
                        .execute(&pool)
                        .await
                        .unwrap();
                }
                pool.close().await;
            }};
        }
        if backend == "sqlite" {
            let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            seed!(
                sqlx::SqlitePool::connect_with(opts.create_if_missing(true))
                    .await
                    .unwrap(),
                "migrations/sqlite"
            );
        } else {
            seed!(
                sqlx::PgPool::connect(&url).await.unwrap(),
                "migrations/postgres"
            );
        }
        let store = kairan::storage::connect(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let reports = store.bounce_reports(10).await.unwrap();
        let got: Vec<_> = reports
            .iter()
            .rev()
            .map(|r| {
                (
                    r.message_hash.as_str(),
                    r.kind.map(|k| k.as_str()),
                    r.action.as_str(),
                    r.attribution.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            rows.iter()
                .map(|(h, k, a)| (*h, *k, *a, None))
                .collect::<Vec<_>>(),
            "{}",
            store.backend()
        );
        let counters: Vec<_> = store
            .bounce_counters()
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.label, c.value))
            .collect();
        assert_eq!(
            counters,
            vec![("bounced".to_owned(), 2), ("not-a-bounce".to_owned(), 1)],
            "{}",
            store.backend()
        );
        store.close().await;
        if backend == "postgres" {
            crate::helpers::drop_pg_database(url.rsplit('/').next().unwrap()).await;
        }
    }
}
