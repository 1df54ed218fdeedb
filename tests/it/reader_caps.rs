//! The reader caps hold under concurrent requests (issue 13), on both backends: 50 sign-ups
//! for one address sent at once get at most `confirmations_per_address_per_day`
//! confirmation mails, and 50 new addresses of one domain sent at once leave at most
//! `pending_per_domain_per_hour` pending sign-ups. (The store takes each slot with one
//! conditional upsert, `ReaderLimitStore::take_cap_slot`.)

use std::time::Duration;

use kairan::app::reader_guard::form_stamp;

use crate::helpers::TestDb;
use crate::reader::refused;
use crate::subscribe::{App, client};

const BURST: usize = 50;

async fn burst(app: &App, emails: Vec<String>) {
    let s = form_stamp(
        &app.signer,
        chrono::Utc::now() - chrono::Duration::seconds(10),
    );
    let posts = emails.into_iter().map(|email| {
        let url = app.url("/subscribe?lang=ja");
        let s = s.clone();
        tokio::spawn(async move {
            let r = client()
                .post(url)
                .form(&[
                    ("email", email.as_str()),
                    ("lang", "ja"),
                    ("consent", "yes"),
                    ("stamp", s.as_str()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        })
    });
    for p in posts.collect::<Vec<_>>() {
        p.await.unwrap();
    }
}

/// The number of mails once the outbox is quiet for a moment (the notifier sends after the
/// request answered).
async fn settled_mails(app: &App) -> usize {
    let mut last = usize::MAX;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n = app.mails().len();
        if n == last || std::time::Instant::now() > deadline {
            return n;
        }
        last = n;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

async fn caps_hold_under_a_burst(db: TestDb) {
    let app = App::start(
        db,
        &[
            ("KAIRAN__SUBSCRIBE__RESEND_INTERVAL", "0s"),
            ("KAIRAN__SUBSCRIBE__CONFIRMATIONS_PER_ADDRESS_PER_DAY", "3"),
            ("KAIRAN__SUBSCRIBE__PENDING_PER_DOMAIN_PER_HOUR", "5"),
            ("KAIRAN__SUBSCRIBE__RATE_LIMIT_PER_MINUTE", "100000"),
        ],
    )
    .await;
    let addr0 = refused(&app, "address_cap").await;

    // One address signed up, then fifty times more at once (with no resend interval, each
    // could claim a confirmation; without atomic slots about twenty went out).
    burst(&app, vec!["target@bombed.example".to_owned()]).await;
    burst(&app, vec!["target@bombed.example".to_owned(); BURST]).await;
    let mails = settled_mails(&app).await;
    assert!(
        (1..=3).contains(&mails),
        "{mails} confirmation mails for one address"
    );
    assert!(refused(&app, "address_cap").await >= addr0 + 1.0);

    // Fifty new addresses of one domain at once.
    let emails = (0..BURST)
        .map(|i| format!("r{i}@flooded.example"))
        .collect();
    burst(&app, emails).await;
    let pending = app
        .store
        .list_subscribers(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.email.as_str().ends_with("@flooded.example"))
        .count();
    assert_eq!(pending, 5, "pending sign-ups for one domain");
    assert_eq!(settled_mails(&app).await, mails + 5);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_hold_under_a_burst_on_sqlite() {
    caps_hold_under_a_burst(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_hold_under_a_burst_on_postgres() {
    caps_hold_under_a_burst(TestDb::postgres().await).await;
}
