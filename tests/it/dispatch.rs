//! Dispatch under the guarantees of `docs/contracts.md`, with real parts: Postfix's smtp-sink
//! for end-to-end runs, the in-process SMTP server for faults, the real binary for crashes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kairan::app::dispatch::{Dispatcher, Progress, RunEnd};
use kairan::app::ports::*;
use kairan::domain::*;
use tokio_util::sync::CancellationToken;

use crate::helpers::fake_smtp::FakeSmtp;
use crate::helpers::{LEGAL, SmtpSink, TestApp, TestDb, fixture_dir, now, settings_with};

const LANGS: [LangPref; 3] = [LangPref::Ja, LangPref::En, LangPref::Both];

/// `n` active subscribers `reader{i}@d{i%7}.example.jp` with languages cycling ja, en, both.
async fn subscribers(store: &Arc<dyn Store>, n: usize) -> Vec<(SubscriberId, String, LangPref)> {
    let mut out = Vec::new();
    for i in 0..n {
        let email = format!("reader{i}@d{}.example.jp", i % 7);
        let lang = LANGS[i % 3];
        out.push((add(store, &email, lang).await, email, lang));
    }
    out
}

async fn add(store: &Arc<dyn Store>, email: &str, lang: LangPref) -> SubscriberId {
    let t = now();
    store
        .insert_subscriber(
            &NewSubscriber {
                email: EmailAddress::parse(email).unwrap(),
                name: Some("読者".into()),
                lang,
                status: SubscriberStatus::Active,
                consent: Consent {
                    method: SubscriptionSource::Cli,
                    form_at: t,
                    confirmed_at: Some(t),
                    ip: None,
                    user_agent: None,
                    page_lang: None,
                    text_hash: None,
                    text_version: None,
                },
                now: t,
            },
            None,
        )
        .await
        .unwrap()
        .0
}

/// The fixture issue, queued and started (audience snapshotted).
async fn started_issue(store: &Arc<dyn Store>) -> IssueId {
    let f = fixture_dir();
    let ja =
        kairan::app::editorial::parse_source("ja.md", &std::fs::read(f.join("ja.md")).unwrap())
            .map(valid)
            .unwrap();
    let en =
        kairan::app::editorial::parse_source("en.md", &std::fs::read(f.join("en.md")).unwrap())
            .map(valid)
            .unwrap();
    let id = store
        .insert_issue(&NewIssue {
            slug: "2026-12".into(),
            state: IssueState::Queued,
            send_at: None,
            ja,
            en,
            now: now(),
        })
        .await
        .unwrap();
    store.start_campaign(id, Utc::now()).await.unwrap().unwrap();
    id
}

fn dispatcher(store: &Arc<dyn Store>, smtp_url: &str, extra: &[(&str, &str)]) -> Arc<Dispatcher> {
    let outbox = std::env::temp_dir();
    let mut env = LEGAL.to_vec();
    env.push(("KAIRAN__SMTP__URL", smtp_url));
    env.push(("KAIRAN__BOUNCE__RETURN_PATH", "bounces@example.org"));
    env.push(("KAIRAN__DISPATCH__RETRY_BASE", "1s"));
    env.extend_from_slice(extra);
    let settings = settings_with("sqlite://unused.db", &outbox, &env);
    let renderer = Arc::new(kairan::startup::load_renderer(&settings).unwrap());
    let mailer = kairan::mail::from_settings(&settings).unwrap();
    let signer = Arc::new(Signer::new(
        b"0123456789abcdef0123456789abcdef".to_vec(),
        vec![],
    ));
    Dispatcher::new(
        store.clone(),
        mailer,
        renderer,
        Arc::new(settings),
        signer,
        kairan::startup::lease_owner(),
        kairan::startup::processes(),
    )
}

async fn run_to_end(d: &Arc<Dispatcher>, issue: IssueId) -> RunEnd {
    tokio::time::timeout(
        Duration::from_secs(120),
        d.run(
            issue,
            CancellationToken::new(),
            Arc::new(Progress::default()),
        ),
    )
    .await
    .expect("the campaign finished in time")
    .unwrap()
}

/// smtp-sink's dumps: recipient → (Message-ID, Content-Language) of every copy.
async fn received(sink: &SmtpSink, expect: usize) -> HashMap<String, Vec<(String, String)>> {
    let mut dumps = Vec::new();
    for _ in 0..100 {
        dumps = sink.messages();
        if dumps.len() >= expect {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut by_rcpt: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for d in dumps {
        let text = String::from_utf8_lossy(&d);
        let header = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().trim_matches(|c| c == '<' || c == '>').to_owned())
                .unwrap_or_default()
        };
        by_rcpt
            .entry(header("X-Rcpt-Args:"))
            .or_default()
            .push((header("Message-ID:"), header("Content-Language:")));
    }
    by_rcpt
}

async fn every_active_subscriber_receives_exactly_one_copy_in_their_language(db: TestDb) {
    let sink = SmtpSink::start().await;
    let subs = subscribers(&db.store, 3000).await;
    let issue = started_issue(&db.store).await;
    let d = dispatcher(
        &db.store,
        &sink.url(),
        &[("KAIRAN__DISPATCH__BATCH_SIZE", "200")],
    );
    assert_eq!(run_to_end(&d, issue).await, RunEnd::Finished);
    let got = received(&sink, 3000).await;
    assert_eq!(got.len(), 3000, "every subscriber got mail");
    for (id, email, lang) in &subs {
        let copies = &got[email];
        assert_eq!(copies.len(), 1, "{email} got {} copies", copies.len());
        // The deterministic, tagged Message-ID of (issue, reader).
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef".to_vec(), vec![]);
        assert_eq!(
            copies[0].0,
            kairan::domain::message_id::campaign(&signer, issue, *id, "example.org")
        );
        let expected = match lang {
            LangPref::Ja => "ja",
            LangPref::En => "en",
            LangPref::Both => "ja, en",
        };
        assert_eq!(copies[0].1, expected, "{email}");
    }
    let counts = db.store.delivery_counts(issue).await.unwrap();
    assert_eq!((counts.sent, counts.open()), (3000, 0));
    assert_eq!(
        db.store.issue(issue).await.unwrap().unwrap().state,
        IssueState::Sent
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_active_subscriber_receives_exactly_one_copy_on_sqlite() {
    every_active_subscriber_receives_exactly_one_copy_in_their_language(TestDb::sqlite().await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_active_subscriber_receives_exactly_one_copy_on_postgres() {
    every_active_subscriber_receives_exactly_one_copy_in_their_language(TestDb::postgres().await)
        .await;
}

async fn temporary_failures_are_retried_and_a_5xx_is_a_hard_bounce(db: TestDb) {
    let fake = FakeSmtp::start().await;
    // Postgres runs pipelined, SQLite not: both SMTP paths meet the same faults.
    if db.store.backend() == "postgres" {
        fake.announce_pipelining();
    }
    let subs = subscribers(&db.store, 6).await;
    let (busy, gone, flaky) = (&subs[0], &subs[1], &subs[2]);
    fake.reply_at_rcpt(&busy.1, "450 4.2.1 Mailbox busy, try later");
    fake.reply_at_rcpt(&busy.1, "451 4.3.0 Temporary lookup failure");
    fake.reply_at_rcpt(
        &gone.1,
        "550 5.1.1 <gone>: Recipient address rejected: User unknown",
    );
    fake.drop_after_data(&flaky.1, 1);
    let issue = started_issue(&db.store).await;
    let d = dispatcher(&db.store, &fake.url(), &[]);
    assert_eq!(run_to_end(&d, issue).await, RunEnd::Finished);

    let c = db.store.delivery_counts(issue).await.unwrap();
    assert_eq!((c.sent, c.failed, c.open()), (5, 1, 0));
    let got: Vec<String> = fake.received().iter().map(|r| r.to[0].clone()).collect();
    assert_eq!(
        got.iter().filter(|r| **r == busy.1).count(),
        1,
        "retried until delivered, once"
    );
    assert!(!got.contains(&gone.1));
    let bounced = db.store.subscriber(gone.0).await.unwrap().unwrap();
    assert_eq!(bounced.status, SubscriberStatus::Bounced);
    let claimed_again = db
        .store
        .claim_deliveries(issue, "x", 10, Utc::now(), Utc::now())
        .await
        .unwrap();
    assert!(claimed_again.is_empty());
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_failures_are_retried_and_a_5xx_is_a_hard_bounce_on_sqlite() {
    temporary_failures_are_retried_and_a_5xx_is_a_hard_bounce(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_failures_are_retried_and_a_5xx_is_a_hard_bounce_on_postgres() {
    temporary_failures_are_retried_and_a_5xx_is_a_hard_bounce(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_completes_after_the_server_comes_back() {
    let db = TestDb::sqlite().await;
    subscribers(&db.store, 20).await;
    let issue = started_issue(&db.store).await;
    let port = crate::helpers::free_port();
    let d = dispatcher(&db.store, &format!("smtp://127.0.0.1:{port}"), &[]);
    let run = tokio::spawn({
        let d = d.clone();
        async move {
            d.run(
                issue,
                CancellationToken::new(),
                Arc::new(Progress::default()),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let c = db.store.delivery_counts(issue).await.unwrap();
    assert_eq!(c.sent, 0);
    assert!(c.retry > 0, "connection failures are retried: {c:?}");
    let fake = FakeSmtp::start_on(port).await;
    let end = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(end, RunEnd::Finished);
    assert_eq!(fake.received().len(), 20);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_stop_at_max_attempts_without_bouncing_the_reader() {
    let db = TestDb::sqlite().await;
    let subs = subscribers(&db.store, 1).await;
    let fake = FakeSmtp::start().await;
    for _ in 0..5 {
        fake.reply_at_rcpt(&subs[0].1, "421 4.4.5 Server busy");
    }
    let issue = started_issue(&db.store).await;
    let d = dispatcher(
        &db.store,
        &fake.url(),
        &[("KAIRAN__DISPATCH__MAX_ATTEMPTS", "3")],
    );
    assert_eq!(run_to_end(&d, issue).await, RunEnd::Finished);
    let c = db.store.delivery_counts(issue).await.unwrap();
    assert_eq!((c.failed, c.sent), (1, 0));
    assert_eq!(
        db.store
            .subscriber(subs[0].0)
            .await
            .unwrap()
            .unwrap()
            .status,
        SubscriberStatus::Active
    );
    db.cleanup().await;
}

/// A reader who unsubscribes while the campaign runs gets nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_who_unsubscribes_during_a_campaign_gets_nothing() {
    let sink = SmtpSink::start().await;
    let db = TestDb::sqlite().await;
    let store = db.store.clone();
    let first = add(&store, "first@slow.example.jp", LangPref::Ja).await;
    let leaver = add(&store, "leaver@slow.example.jp", LangPref::Ja).await;
    subscribers(&store, 10).await;
    let mut env = LEGAL.to_vec();
    let url = sink.url();
    env.push(("KAIRAN__SMTP__URL", url.as_str()));
    // One message a minute to this domain: the second reader there waits.
    env.push((
        "KAIRAN__DISPATCH__DOMAIN_LIMITS",
        r#"{ "slow.example.jp" = 1 }"#,
    ));
    env.push(("KAIRAN__SECRETS__SIGNING_KEY", KEY));
    let app = TestApp::spawn_active(db, &env).await;
    started_issue(&store).await;
    for _ in 0..100 {
        let c = store.delivery_counts(IssueId::new(1)).await.unwrap();
        if c.sent == 11 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        store.delivery_counts(IssueId::new(1)).await.unwrap().sent,
        11,
        "all but the throttled one sent"
    );
    // The reader clicks the List-Unsubscribe one-click link (signed with the app's key).
    let token = Signer::new(KEY.as_bytes().to_vec(), vec![]).sign(
        leaver.get(),
        kairan::domain::token::Purpose::Unsubscribe,
        Utc::now(),
    );
    let r = reqwest::Client::new()
        .post(app.url(&format!("/unsubscribe/{token}")))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    for _ in 0..100 {
        if store.issue(IssueId::new(1)).await.unwrap().unwrap().state == IssueState::Sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        store.issue(IssueId::new(1)).await.unwrap().unwrap().state,
        IssueState::Sent
    );
    let got = received(&sink, 11).await;
    assert!(got.contains_key("first@slow.example.jp"));
    assert!(
        !got.contains_key("leaver@slow.example.jp"),
        "the reader who left got mail"
    );
    assert_eq!(
        store.subscriber(leaver).await.unwrap().unwrap().status,
        SubscriberStatus::Unsubscribed
    );
    assert_eq!(
        store.subscriber(first).await.unwrap().unwrap().status,
        SubscriberStatus::Active
    );
    app.stop().await;
}

const KEY: &str = "test-signing-key-0123456789abcdef-0123";

/// The harder case: the reader's delivery is already in a worker's claimed batch when they
/// unsubscribe. The worker drops it at its next flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_who_leaves_while_their_delivery_is_in_a_claimed_batch_gets_nothing() {
    let sink = SmtpSink::start_with(&["-w", "1"]).await;
    let db = TestDb::sqlite().await;
    let subs = subscribers(&db.store, 5).await;
    let issue = started_issue(&db.store).await;
    let d = dispatcher(
        &db.store,
        &sink.url(),
        &[("KAIRAN__DISPATCH__CONCURRENCY", "1")],
    );
    let run = tokio::spawn({
        let d = d.clone();
        async move {
            d.run(
                issue,
                CancellationToken::new(),
                Arc::new(Progress::default()),
            )
            .await
        }
    });
    // The single worker has claimed all five and is sending the first (a second each).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        db.store.delivery_counts(issue).await.unwrap().sending,
        5,
        "all five leased"
    );
    let leaver = &subs[3];
    assert!(
        db.store
            .set_subscriber_status(
                leaver.0,
                &[SubscriberStatus::Active],
                SubscriberStatus::Unsubscribed,
                Some("page"),
                Utc::now()
            )
            .await
            .unwrap()
    );
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .unwrap()
            .unwrap()
            .unwrap(),
        RunEnd::Finished
    );
    let got = received(&sink, 4).await;
    assert!(!got.contains_key(&leaver.1), "the reader who left got mail");
    assert_eq!(got.len(), 4);
    let c = db.store.delivery_counts(issue).await.unwrap();
    assert_eq!((c.sent, c.skipped), (4, 1));
    db.cleanup().await;
}

/// A worker claims its next batch while it sends the last quarter of the current one. A
/// worker stopped then holds two batches: both go back unsent (nothing stays leased to a
/// process that is still alive), and the next run sends each reader exactly once.
async fn a_stopped_worker_hands_back_the_batch_it_claimed_ahead(db: TestDb) {
    // One message a second; batches of four, so the next is claimed with one left.
    let sink = SmtpSink::start_with(&["-w", "1"]).await;
    subscribers(&db.store, 12).await;
    let issue = started_issue(&db.store).await;
    let d = dispatcher(
        &db.store,
        &sink.url(),
        &[
            ("KAIRAN__DISPATCH__CONCURRENCY", "1"),
            ("KAIRAN__DISPATCH__BATCH_SIZE", "4"),
        ],
    );
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let (d, stop) = (d.clone(), stop.clone());
        async move { d.run(issue, stop, Arc::new(Progress::default())).await }
    });
    // The first batch's last message and the whole next batch are leased: 5.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while db.store.delivery_counts(issue).await.unwrap().sending < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "no batch was claimed ahead"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    let end = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(end, RunEnd::Shutdown);
    let c = db.store.delivery_counts(issue).await.unwrap();
    assert_eq!(c.sending, 0, "nothing stays leased: {c:?}");
    assert!(c.sent >= 3 && c.sent + c.pending + c.retry == 12, "{c:?}");
    assert_eq!(run_to_end(&d, issue).await, RunEnd::Finished);
    let got = received(&sink, 12).await;
    assert_eq!(got.len(), 12);
    assert!(got.values().all(|copies| copies.len() == 1), "{got:?}");
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_hands_back_the_batch_it_claimed_ahead_on_sqlite() {
    a_stopped_worker_hands_back_the_batch_it_claimed_ahead(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_hands_back_the_batch_it_claimed_ahead_on_postgres() {
    a_stopped_worker_hands_back_the_batch_it_claimed_ahead(TestDb::postgres().await).await;
}

/// The fixture's content, which must pass the editorial checks.
fn valid(d: kairan::app::editorial::Draft) -> kairan::domain::IssueContent {
    assert_eq!(d.problems(), [], "the fixture is a valid issue");
    d.content
}
