//! The durable transactional outbox (issue 11): the storage contract of queued mail on both
//! backends, and the sender of the real app against the in-process SMTP server (real
//! sockets): a confirmation queued while the SMTP server is down goes when it comes back, a
//! 4xx is retried with the same Message-ID, a mail queued before shutdown is drained, and a
//! mail that no longer applies is cancelled, not sent.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kairan::app::ports::*;
use kairan::domain::*;
use tokio_util::sync::CancellationToken;

use crate::helpers::both_backends;
use crate::helpers::fake_smtp::FakeSmtp;
use crate::helpers::{TestDb, free_port, now, settings_with};

both_backends!(
    queued_mail_is_claimed_once_and_each_outcome_is_recorded,
    a_sent_outcome_survives_a_lost_lease_and_nothing_else_does,
    a_dead_owners_leases_come_back_at_once_and_live_ones_are_renewed,
    erasure_cancels_queued_mail_and_finished_mail_is_pruned,
    concurrent_senders_never_claim_the_same_mail,
    a_confirmation_queued_while_smtp_is_down_goes_when_it_is_back,
    a_4xx_is_retried_with_the_same_message_id,
    mail_queued_before_shutdown_is_drained_and_mail_that_no_longer_applies_is_cancelled,
);

async fn reader(store: &Arc<dyn Store>, email: &str, status: SubscriberStatus) -> SubscriberId {
    let at = now();
    let consent = Consent {
        method: SubscriptionSource::Form,
        form_at: at,
        confirmed_at: None,
        ip: None,
        user_agent: None,
        page_lang: Some(Lang::Ja),
        text_hash: None,
        text_version: None,
    };
    store
        .insert_subscriber(
            &NewSubscriber {
                email: EmailAddress::parse(email).unwrap(),
                name: Some("読者".into()),
                lang: LangPref::Ja,
                status,
                consent,
                now: at,
            },
            None,
        )
        .await
        .unwrap()
        .0
}

fn confirm() -> NewMail {
    NewMail::new(MailKind::Confirm, LangPref::Ja)
}

async fn queue(store: &Arc<dyn Store>, n: usize) -> Vec<MailId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let email = format!("q{i}.{:08x}@example.jp", rand::random::<u32>());
        let id = reader(store, &email, SubscriberStatus::Pending).await;
        ids.push(
            store
                .enqueue_mail(Recipient::Subscriber(id), &confirm(), now())
                .await
                .unwrap(),
        );
    }
    ids
}

async fn state_of(store: &Arc<dyn Store>, to: Recipient) -> Vec<MailState> {
    store
        .mails_for(to)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.state)
        .collect()
}

async fn queued_mail_is_claimed_once_and_each_outcome_is_recorded(db: TestDb) {
    let store = db.store.clone();
    let ids = queue(&store, 3).await;
    let t = now();
    let lease = t + chrono::Duration::seconds(60);
    let a = store.claim_mails("a", 2, t, lease).await.unwrap();
    let b = store.claim_mails("b", 5, t, lease).await.unwrap();
    assert_eq!(a.iter().map(|m| m.id).collect::<Vec<_>>(), ids[..2]);
    assert_eq!(b.iter().map(|m| m.id).collect::<Vec<_>>(), ids[2..]);
    assert!(
        store
            .claim_mails("c", 5, t, lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.mail_counts().await.unwrap().sending, 3);
    assert_eq!(a[0].kind, MailKind::Confirm);
    assert_eq!(a[0].lang, LangPref::Ja);
    assert_eq!(a[0].payload, "{}");

    // Sent; a 4xx (counted, due later); a deferral (not counted, due at once).
    let sent = MailOutcome::Sent {
        reply: "250 ok".into(),
    };
    assert!(store.record_mail(ids[0], "a", &sent, t).await.unwrap());
    let later = t + chrono::Duration::seconds(30);
    let retry = MailOutcome::Retry {
        at: later,
        error: "451 busy".into(),
    };
    assert!(store.record_mail(ids[1], "a", &retry, t).await.unwrap());
    let deferred = MailOutcome::Deferred {
        at: t,
        error: "connection refused".into(),
    };
    assert!(store.record_mail(ids[2], "b", &deferred, t).await.unwrap());
    let counts = store.mail_counts().await.unwrap();
    assert_eq!((counts.sent, counts.pending, counts.sending), (1, 2, 0));
    assert_eq!(store.next_mail_due().await.unwrap(), Some(t));

    let again = store.claim_mails("a", 5, t, lease).await.unwrap();
    assert_eq!(again.len(), 1, "only the deferred mail is due");
    assert_eq!((again[0].id, again[0].attempts), (ids[2], 0));
    let due = store
        .claim_mails("a", 5, later, later + chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "the retry once its time has come");
    assert_eq!((due[0].id, due[0].attempts), (ids[1], 1));
    let rec = store.mails_for(a[1].recipient).await.unwrap();
    assert_eq!(rec[0].last_error.as_deref(), Some("451 busy"));

    // By id: only while nobody holds it and it is not done.
    assert!(
        store
            .claim_mail(ids[0], "x", t, lease)
            .await
            .unwrap()
            .is_none(),
        "sent already"
    );
    let fresh = queue(&store, 1).await[0];
    let got = store.claim_mail(fresh, "x", t, lease).await.unwrap();
    assert_eq!(got.map(|m| m.id), Some(fresh));
    assert!(
        store
            .claim_mail(fresh, "y", t, lease)
            .await
            .unwrap()
            .is_none()
    );
    db.cleanup().await;
}

async fn a_sent_outcome_survives_a_lost_lease_and_nothing_else_does(db: TestDb) {
    let store = db.store.clone();
    let ids = queue(&store, 2).await;
    let t = now();
    let short = t + chrono::Duration::seconds(1);
    store.claim_mails("a", 2, t, short).await.unwrap();
    // A's lease runs out; B takes both.
    let later = t + chrono::Duration::seconds(5);
    let b = store
        .claim_mails("b", 2, later, later + chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(b.len(), 2);
    let retry = MailOutcome::Retry {
        at: later,
        error: "451".into(),
    };
    assert!(
        !store.record_mail(ids[0], "a", &retry, later).await.unwrap(),
        "a retry from a lost lease changes nothing"
    );
    let sent = MailOutcome::Sent {
        reply: "250".into(),
    };
    assert!(
        store.record_mail(ids[1], "a", &sent, later).await.unwrap(),
        "a mail that went is recorded whoever holds it now"
    );
    assert!(
        !store.record_mail(ids[1], "b", &retry, later).await.unwrap(),
        "and stays sent"
    );
    let to = b[1].recipient;
    assert_eq!(state_of(&store, to).await, vec![MailState::Sent]);
    db.cleanup().await;
}

async fn a_dead_owners_leases_come_back_at_once_and_live_ones_are_renewed(db: TestDb) {
    let store = db.store.clone();
    queue(&store, 3).await;
    let t = now();
    let lease = t + chrono::Duration::seconds(60);
    store.claim_mails("dead", 2, t, lease).await.unwrap();
    let alive = store.claim_mails("alive", 1, t, lease).await.unwrap();
    let holders = store.mail_lease_holders(t).await.unwrap();
    assert_eq!(
        holders,
        vec![
            MailLeaseHolder {
                owner: "alive".into(),
                mails: 1
            },
            MailLeaseHolder {
                owner: "dead".into(),
                mails: 2
            }
        ]
    );
    assert_eq!(store.expire_mail_leases("dead", t).await.unwrap(), 2);
    let back = store.claim_mails("me", 5, t, lease).await.unwrap();
    assert_eq!(back.len(), 2, "the dead owner's mails, at once");
    // Renewed leases outlive their first term.
    let far = t + chrono::Duration::seconds(600);
    assert_eq!(store.renew_mail_leases("alive", far).await.unwrap(), 1);
    let after = t + chrono::Duration::seconds(120);
    let again = store
        .claim_mails("me", 5, after, after + chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(again.len(), 2, "my own expired leases come back…");
    assert!(
        again.iter().all(|m| m.id != alive[0].id),
        "…but the renewed one holds"
    );
    db.cleanup().await;
}

async fn erasure_cancels_queued_mail_and_finished_mail_is_pruned(db: TestDb) {
    let store = db.store.clone();
    let id = reader(&store, "erase@example.jp", SubscriberStatus::Pending).await;
    let to = Recipient::Subscriber(id);
    store.enqueue_mail(to, &confirm(), now()).await.unwrap();
    let other = queue(&store, 1).await[0];
    let sub = store.subscriber(id).await.unwrap().unwrap();
    assert!(
        kairan::app::subscription::erase(store.as_ref(), &sub, Utc::now())
            .await
            .unwrap()
    );
    assert_eq!(state_of(&store, to).await, vec![MailState::Cancelled]);
    let t = now();
    let claimed = store
        .claim_mails("a", 5, t, t + chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, other, "only the other reader's mail");
    store
        .record_mail(
            other,
            "a",
            &MailOutcome::Sent {
                reply: "250".into(),
            },
            t,
        )
        .await
        .unwrap();
    assert_eq!(store.next_mail_due().await.unwrap(), None);
    assert_eq!(
        store
            .prune_mails(t - chrono::Duration::seconds(1))
            .await
            .unwrap(),
        0,
        "recent ones stay"
    );
    assert_eq!(
        store
            .prune_mails(t + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.mail_counts().await.unwrap(), MailCounts::default());
    db.cleanup().await;
}

async fn concurrent_senders_never_claim_the_same_mail(db: TestDb) {
    let store = db.store.clone();
    let ids = queue(&store, 40).await;
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let t = Utc::now();
                let got = store
                    .claim_mails(&format!("w{w}"), 3, t, t + chrono::Duration::seconds(60))
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|m| m.id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    assert_eq!(all, ids, "each mail claimed exactly once");
    db.cleanup().await;
}

// ---- the sender, in the real app -------------------------------------------------------

struct App {
    store: Arc<dyn Store>,
    notifier: kairan::app::notify::Notifier,
    shutdown: CancellationToken,
    run: tokio::task::JoinHandle<anyhow::Result<()>>,
    _outbox: tempfile::TempDir,
    db: TestDb,
}

impl App {
    async fn start(db: TestDb, smtp_url: &str) -> App {
        let outbox = tempfile::tempdir().unwrap();
        let settings = settings_with(
            &db.url,
            outbox.path(),
            &[
                ("KAIRAN__SMTP__URL", smtp_url),
                ("KAIRAN__SMTP__TIMEOUT", "5s"),
                ("KAIRAN__NEWSLETTER__FROM", "回覧板 <news@example.org>"),
            ],
        );
        let mailer = kairan::mail::from_settings(&settings).unwrap();
        let app = kairan::startup::Application::build_with(settings, db.store.clone(), mailer)
            .await
            .unwrap()
            .passive(true);
        let notifier = app.state().notifier.clone();
        let shutdown = CancellationToken::new();
        let run = tokio::spawn(app.run(shutdown.clone()));
        App {
            store: db.store.clone(),
            notifier,
            shutdown,
            run,
            _outbox: outbox,
            db,
        }
    }

    /// Stops the app and waits until it has drained; the database is opened anew (the app
    /// closed its pool).
    async fn stop(self) -> TestDb {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.run)
            .await
            .expect("the app drains in time")
            .unwrap()
            .unwrap();
        let mut db = self.db;
        db.store = kairan::storage::connect(&db.url, 2).await.unwrap();
        db
    }
}

/// Waits until the fake server has `n` messages.
async fn received(smtp: &FakeSmtp, n: usize) -> Vec<crate::helpers::fake_smtp::Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = smtp.received();
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} messages, got {}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn message_id(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    text.lines()
        .find_map(|l| l.strip_prefix("Message-ID:"))
        .unwrap()
        .trim()
        .to_owned()
}

async fn a_confirmation_queued_while_smtp_is_down_goes_when_it_is_back(db: TestDb) {
    let port = free_port();
    let app = App::start(db, &format!("smtp://127.0.0.1:{port}")).await;
    let reg = kairan::app::subscription::Registration {
        email: EmailAddress::parse("later@example.jp").unwrap(),
        name: None,
        lang: LangPref::En,
        by: kairan::app::subscription::Requester::Operator {
            via: SubscriptionSource::Api,
            confirmed: false,
        },
    };
    let done = kairan::app::subscription::register(
        app.store.as_ref(),
        &reg,
        Duration::from_secs(600),
        kairan::app::subscription::Mail::Now(&app.notifier),
        Utc::now(),
    )
    .await
    .unwrap();
    // Queued in the registration's transaction; the foreground attempt could not connect. On a
    // loaded machine the background sender's poll can claim the fresh row first ("another
    // sender has it in hand"): then it is that sender whose attempt could not connect.
    let mail = match &done.mail {
        kairan::app::subscription::Mailed::NotSent(mail, e) => {
            assert!(
                matches!(
                    e,
                    kairan::app::notify::NotifyError::Mail { queued: true, .. }
                ),
                "{e:?}"
            );
            *mail
        }
        kairan::app::subscription::Mailed::Later(mail) => *mail,
        other => panic!("not sent while the server is down: {other:?}"),
    };
    let id = done.outcome.id().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let rec = loop {
        let rec = app
            .store
            .mails_for(Recipient::Subscriber(id))
            .await
            .unwrap();
        if rec.len() == 1 && rec[0].state == MailState::Pending {
            break rec;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "back to pending: {:?}",
            rec.iter().map(|r| r.state).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!((rec[0].mail.id, rec[0].state), (mail, MailState::Pending));
    assert_eq!(
        rec[0].mail.attempts, 0,
        "an unreachable server is no attempt"
    );

    let smtp = FakeSmtp::start_on(port).await;
    let got = received(&smtp, 1).await;
    assert_eq!(got[0].to, vec!["later@example.jp".to_owned()]);
    assert_eq!(
        message_id(&got[0].data),
        format!("<kairan.confirm.{}@example.org>", mail.get())
    );
    let db = app.stop().await;
    let rec = db.store.mails_for(Recipient::Subscriber(id)).await.unwrap();
    assert_eq!(rec[0].state, MailState::Sent);
    assert_eq!(smtp.received().len(), 1, "sent once");
    db.cleanup().await;
}

async fn a_4xx_is_retried_with_the_same_message_id(db: TestDb) {
    let smtp = FakeSmtp::start().await;
    smtp.reply_at_rcpt("busy@example.jp", "451 4.3.0 try again later");
    let app = App::start(db, &smtp.url()).await;
    let id = reader(&app.store, "busy@example.jp", SubscriberStatus::Pending).await;
    let to = Recipient::Subscriber(id);
    let mail = app.store.enqueue_mail(to, &confirm(), now()).await.unwrap();
    app.notifier.wake();
    // The 4xx is recorded as an attempt, due again later (15 s on the mail schedule).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let rec = loop {
        let rec = app.store.mails_for(to).await.unwrap();
        if rec[0].mail.attempts == 1 && rec[0].state == MailState::Pending {
            break rec;
        }
        assert!(tokio::time::Instant::now() < deadline, "{rec:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(rec[0].last_error.as_deref().unwrap().starts_with("451"));
    assert!(rec[0].next_attempt_at > Utc::now() + chrono::Duration::seconds(5));
    // Time passes (the row says it is due now); the sender's poll finds it.
    bring_forward(&app.db, mail).await;
    let got = received(&smtp, 1).await;
    assert_eq!(
        message_id(&got[0].data),
        format!("<kairan.confirm.{}@example.org>", mail.get())
    );
    let db = app.stop().await;
    assert_eq!(state_of(&db.store, to).await, vec![MailState::Sent]);
    db.cleanup().await;
}

/// Makes a queued mail due now, as if its retry time had come.
async fn bring_forward(db: &TestDb, mail: MailId) {
    let sql = "UPDATE mail_outbox SET next_attempt_at = $1 WHERE id = $2";
    if db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query(sql)
            .bind(Utc::now())
            .bind(mail.get())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query(sql)
            .bind(Utc::now())
            .bind(mail.get())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

async fn mail_queued_before_shutdown_is_drained_and_mail_that_no_longer_applies_is_cancelled(
    db: TestDb,
) {
    let smtp = FakeSmtp::start().await;
    let app = App::start(db, &smtp.url()).await;
    let pending = reader(&app.store, "drain@example.jp", SubscriberStatus::Pending).await;
    let active = reader(&app.store, "done@example.jp", SubscriberStatus::Active).await;
    // Queued without waking the sender, then shutdown at once: the drain sends it.
    for id in [pending, active] {
        app.store
            .enqueue_mail(Recipient::Subscriber(id), &confirm(), now())
            .await
            .unwrap();
    }
    let db = app.stop().await;
    let got = smtp.received();
    assert_eq!(got.len(), 1, "only the pending reader's confirmation");
    assert_eq!(got[0].to, vec!["drain@example.jp".to_owned()]);
    assert_eq!(
        state_of(&db.store, Recipient::Subscriber(pending)).await,
        vec![MailState::Sent]
    );
    let rec = db
        .store
        .mails_for(Recipient::Subscriber(active))
        .await
        .unwrap();
    assert_eq!(rec[0].state, MailState::Cancelled);
    assert_eq!(
        rec[0].last_error.as_deref(),
        Some(format!("subscriber {active} is active").as_str())
    );
    db.cleanup().await;
}
