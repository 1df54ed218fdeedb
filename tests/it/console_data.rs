//! The console's use cases under the pages to come (issue 16), on both backends: the
//! subscriber search (address or name, filters, keyset paging), a reader's history
//! (consent, deliveries, bounces with their attribution) and the dashboard (campaigns,
//! queue depth, growth, rates against the providers' thresholds, health).

use std::sync::Arc;

use kairan::app::dashboard::{self, Level};
use kairan::app::directory;
use kairan::app::import::{self, ImportRow};
use kairan::app::ports::{MailProbes, Store, SubscriberSearch};
use kairan::app::subscription::{self, Mail};
use kairan::domain::*;

use crate::bounces::{hard_bounce, pipe, reader, sent, verp};
use crate::helpers::TestDb;

async fn load(store: &dyn Store, n: usize) {
    let rows: Vec<ImportRow> = (0..n)
        .map(|i| ImportRow {
            line: i as u64 + 2,
            email: EmailAddress::parse(&format!("member{i:04}@ngo{}.example.jp", i % 7)).unwrap(),
            name: Some(if i % 2 == 0 {
                format!("山田 {i:04}")
            } else {
                format!("Sato 100%_{i:04}")
            }),
            lang: [LangPref::Ja, LangPref::En, LangPref::Both][i % 3],
        })
        .collect();
    import::load(store, &rows, true, Mail::Never, &mut |_| {}, &mut |_| {})
        .await
        .unwrap();
}

async fn search_finds_by_address_or_name_with_filters_and_keyset_pages(store: Arc<dyn Store>) {
    load(store.as_ref(), 1_000).await;
    let q = |text: &str| SubscriberSearch {
        text: Some(text.into()),
        ..Default::default()
    };
    // By name (Japanese), every page once, in id order, no overlap.
    let mut seen = Vec::new();
    let mut query = SubscriberSearch {
        limit: 120,
        ..q("山田")
    };
    loop {
        let page = directory::search(store.as_ref(), &query).await.unwrap();
        assert!(page.subscribers.len() <= 120);
        seen.extend(page.subscribers.iter().map(|s| s.id));
        match page.next_after {
            Some(after) => query.after_id = Some(after),
            None => break,
        }
    }
    assert_eq!(seen.len(), 500);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    // By address, case-insensitively; by a domain part.
    let page = directory::search(store.as_ref(), &q("MEMBER0042@"))
        .await
        .unwrap();
    assert_eq!(page.subscribers.len(), 1);
    assert_eq!(
        page.subscribers[0].email.as_str(),
        "member0042@ngo0.example.jp"
    );
    let page = directory::search(
        store.as_ref(),
        &SubscriberSearch {
            limit: 500,
            ..q("ngo3.example")
        },
    )
    .await
    .unwrap();
    assert_eq!(page.subscribers.len(), 143);
    // LIKE's wildcards are literal: `100%_` matches the names that contain it, `%` alone
    // is not "everything".
    let page = directory::search(
        store.as_ref(),
        &SubscriberSearch {
            limit: 500,
            ..q("100%_0")
        },
    )
    .await
    .unwrap();
    assert_eq!(page.subscribers.len(), 500);
    let page = directory::search(store.as_ref(), &q("%%")).await.unwrap();
    assert!(page.subscribers.is_empty());
    // Filters with the text.
    let page = directory::search(
        store.as_ref(),
        &SubscriberSearch {
            lang: Some(LangPref::En),
            limit: 500,
            ..q("山田")
        },
    )
    .await
    .unwrap();
    assert!(page.subscribers.iter().all(|s| s.lang == LangPref::En));
    assert_eq!(page.subscribers.len(), 166);
    let one = store
        .subscriber_by_email(&EmailAddress::parse("member0002@ngo2.example.jp").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        subscription::unsubscribe(store.as_ref(), one.id, "console", chrono::Utc::now())
            .await
            .unwrap()
    );
    let page = directory::search(
        store.as_ref(),
        &SubscriberSearch {
            status: Some(SubscriberStatus::Unsubscribed),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(page.subscribers.len(), 1);
    assert_eq!(page.subscribers[0].id, one.id);
    assert!(page.next_after.is_none());
}

struct NoMail;

#[async_trait::async_trait]
impl MailProbes for NoMail {
    async fn smtp(&self) -> Option<Result<String, String>> {
        None
    }
    fn dkim(&self) -> Option<Result<String, String>> {
        Some(Err("cannot read dkim.pem".into()))
    }
}

async fn a_readers_history_and_the_dashboard_show_an_attributed_bounce(db: &TestDb) {
    let store = &db.store;
    let sub = reader(store, "taro@example.jp").await;
    let (_, delivery) = sent(store, "2026-11").await;
    let dir = tempfile::tempdir().unwrap();
    // One real hard bounce (attributed by VERP) and one forged.
    let forged = format!("bounces+{}@example.org", "A".repeat(46));
    for raw in [
        hard_bounce("taro@example.jp", Some(&verp(delivery)), 1),
        hard_bounce("taro@example.jp", Some(&forged), 2),
    ] {
        let out = pipe(&db.url, dir.path(), &raw, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let h = directory::history(store.as_ref(), sub)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(h.subscriber.status, SubscriberStatus::Bounced);
    assert!(!h.consents.is_empty());
    assert_eq!(h.deliveries.len(), 1);
    assert_eq!(h.deliveries[0].slug, "2026-11");
    assert!(h.deliveries[0].sent_at.is_some());
    assert_eq!(h.bounces.len(), 1, "the forged report is nobody's");
    assert_eq!(h.bounces[0].kind, Some(BounceKind::Hard));
    assert_eq!(h.bounces[0].attribution.as_deref(), Some("verp"));
    assert!(
        directory::history(store.as_ref(), SubscriberId::new(999_999))
            .await
            .unwrap()
            .is_none()
    );

    let d = dashboard::gather(store.as_ref(), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(d.rates.sent, 1);
    assert_eq!(d.rates.hard_bounces, 1, "forged reports do not count");
    assert_eq!(d.rates.bounce_level, Level::Critical);
    assert_eq!(d.rates.complaint_level, Level::Ok);
    assert_eq!(d.subscribers.month.left, 1);
    assert!(d.campaigns.iter().any(|c| c.slug == "2026-11"));

    let settings = crate::helpers::settings_for(&db.url, &dir.path().join("outbox"));
    let health = dashboard::health(store.as_ref(), &settings, &NoMail).await;
    let get = |name: &str| health.iter().find(|h| h.check == name).unwrap().clone();
    assert!(get("database").ok);
    assert!(get("smtp").ok && get("smtp").detail.contains("outbox"));
    assert!(!get("dkim").ok);
    assert!(get("signing_key").ok);
    assert!(!get("legal_footer").ok);
    assert!(
        get("legal_footer")
            .detail
            .contains("newsletter.ja.postal_address")
    );
}

#[tokio::test]
async fn search_sqlite() {
    let db = TestDb::sqlite().await;
    search_finds_by_address_or_name_with_filters_and_keyset_pages(db.store.clone()).await;
    db.cleanup().await;
}

#[tokio::test]
async fn search_postgres() {
    let db = TestDb::postgres().await;
    search_finds_by_address_or_name_with_filters_and_keyset_pages(db.store.clone()).await;
    db.cleanup().await;
}

#[tokio::test]
async fn history_and_dashboard_sqlite() {
    let db = TestDb::sqlite().await;
    a_readers_history_and_the_dashboard_show_an_attributed_bounce(&db).await;
    db.cleanup().await;
}

#[tokio::test]
async fn history_and_dashboard_postgres() {
    let db = TestDb::postgres().await;
    a_readers_history_and_the_dashboard_show_an_attributed_bounce(&db).await;
    db.cleanup().await;
}

/// The SMTP probe against a real smtp-sink: connect and EHLO.
#[tokio::test]
async fn the_smtp_health_check_connects_and_says_ehlo() {
    let sink = crate::helpers::SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = sink.url();
    let settings = crate::helpers::settings_with(
        "sqlite://unused.db",
        dir.path(),
        &[("KAIRAN__SMTP__URL", url.as_str())],
    );
    let probes = kairan::mail::probe::SettingsProbes::new(&settings);
    let r = probes.smtp().await.unwrap();
    assert!(r.is_ok(), "{r:?}");
    let closed = format!("smtp://127.0.0.1:{}", crate::helpers::free_port());
    let settings = crate::helpers::settings_with(
        "sqlite://unused.db",
        dir.path(),
        &[("KAIRAN__SMTP__URL", closed.as_str())],
    );
    let r = kairan::mail::probe::SettingsProbes::new(&settings)
        .smtp()
        .await
        .unwrap();
    assert!(r.unwrap_err().contains("cannot connect"));
}
