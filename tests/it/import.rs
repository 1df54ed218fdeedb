//! Import at speed (issue 16): the batched use case on both backends (the rules of an
//! operator's `add`, set-wise; re-importing changes nothing), and `kairan subscribers import`
//! with a Japanese header mapped through `--map`.

use std::sync::Arc;

use kairan::app::import::{self, ImportRow, Progress, RowEvent};
use kairan::app::ports::{Store, SubscriberQuery};
use kairan::app::subscription::{self, Mail, Registration, Requester};
use kairan::domain::*;

use crate::helpers::{TestDb, kairan_cmd};

fn rows(n: usize) -> Vec<ImportRow> {
    (0..n)
        .map(|i| ImportRow {
            line: i as u64 + 2,
            email: EmailAddress::parse(&format!("reader{i}@example.jp")).unwrap(),
            name: Some(format!("読者 {i}")),
            lang: [LangPref::Ja, LangPref::En, LangPref::Both][i % 3],
        })
        .collect()
}

async fn all(store: &dyn Store) -> Vec<Subscriber> {
    store
        .list_subscribers(&SubscriberQuery::default())
        .await
        .unwrap()
}

async fn batched_import_follows_the_operator_rules(store: Arc<dyn Store>) {
    let store = store.as_ref();
    // Before the import: one pending reader (to be confirmed by the import), one unsubscribed
    // (left alone), one erased (suppressed).
    let n = 5_000;
    let rows = rows(n);
    let add = |i: usize, confirmed: bool| Registration {
        email: rows[i].email.clone(),
        name: None,
        lang: LangPref::Ja,
        by: Requester::Operator {
            via: SubscriptionSource::Cli,
            confirmed,
        },
    };
    let now = chrono::Utc::now();
    let iv = std::time::Duration::from_secs(600);
    let pending = subscription::register(store, &add(10, false), iv, Mail::Never, now)
        .await
        .unwrap()
        .outcome
        .id()
        .unwrap();
    let gone = subscription::register(store, &add(20, true), iv, Mail::Never, now)
        .await
        .unwrap()
        .outcome
        .id()
        .unwrap();
    assert!(
        subscription::unsubscribe(store, gone, "cli", now)
            .await
            .unwrap()
    );
    let erased = subscription::register(store, &add(30, true), iv, Mail::Never, now)
        .await
        .unwrap()
        .outcome
        .id()
        .unwrap();
    let erased = store.subscriber(erased).await.unwrap().unwrap();
    subscription::erase(store, &erased, now).await.unwrap();

    let mut suppressed_lines = Vec::new();
    let mut progress: Vec<Progress> = Vec::new();
    let done = import::load(
        store,
        &rows,
        true,
        Mail::Never,
        &mut |e| {
            if let RowEvent::Suppressed { line } = e {
                suppressed_lines.push(line)
            }
        },
        &mut |p| progress.push(p),
    )
    .await
    .unwrap();
    assert_eq!(done.added, n as u64 - 3);
    assert_eq!(done.activated, 1);
    assert_eq!(done.unchanged, 1);
    assert_eq!(done.suppressed, 1);
    assert_eq!(suppressed_lines, [32]);
    assert_eq!(progress.len(), n.div_ceil(import::BATCH_ROWS));
    assert_eq!(
        progress.last().copied(),
        Some(Progress {
            done: n as u64,
            total: n as u64
        })
    );

    let after = all(store).await;
    assert_eq!(
        after.len(),
        n - 1 + 1,
        "every row but the erased one, plus the erased row"
    );
    let by_key = |i: usize| {
        after
            .iter()
            .find(|s| s.email.key() == rows[i].email.key())
            .cloned()
    };
    assert_eq!(by_key(10).unwrap().status, SubscriberStatus::Active);
    assert_eq!(by_key(10).unwrap().id, pending);
    assert_eq!(by_key(20).unwrap().status, SubscriberStatus::Unsubscribed);
    assert!(by_key(30).is_none(), "an erased address is not added back");
    let r = by_key(4_999).unwrap();
    assert_eq!(
        (r.name.as_deref(), r.lang, r.status, r.source),
        (
            Some("読者 4999"),
            LangPref::En,
            SubscriberStatus::Active,
            SubscriptionSource::Import
        )
    );
    let consents = store.consents(r.id).await.unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0].method, SubscriptionSource::Import);
    assert!(consents[0].confirmed_at.is_some());
    let c = store.consents(pending).await.unwrap();
    assert!(c.iter().all(|c| c.confirmed_at.is_some()), "{c:?}");

    // Re-importing changes nothing.
    let done = import::load(store, &rows, true, Mail::Never, &mut |_| {}, &mut |_| {})
        .await
        .unwrap();
    assert_eq!((done.added, done.activated), (0, 0));
    assert_eq!(done.unchanged, n as u64 - 1);
    assert_eq!(all(store).await, after);
}

async fn a_pending_import_without_a_mailer_queues_nothing(store: Arc<dyn Store>) {
    let rows = rows(300);
    let batch: Vec<_> = rows.clone();
    let notifier_less = import::load(
        store.as_ref(),
        &batch,
        false,
        Mail::Never,
        &mut |_| {},
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(notifier_less.added, 300);
    let subs = all(store.as_ref()).await;
    assert!(subs.iter().all(|s| s.status == SubscriberStatus::Pending));
    assert!(subs.iter().all(|s| s.confirmation_sent_at.is_none()));
}

mod sqlite {
    #[tokio::test]
    async fn batched_import_follows_the_operator_rules() {
        let db = crate::helpers::TestDb::sqlite().await;
        super::batched_import_follows_the_operator_rules(db.store.clone()).await;
        db.cleanup().await;
    }
    #[tokio::test]
    async fn a_pending_import_without_a_mailer_queues_nothing() {
        let db = crate::helpers::TestDb::sqlite().await;
        super::a_pending_import_without_a_mailer_queues_nothing(db.store.clone()).await;
        db.cleanup().await;
    }
}

mod postgres {
    #[tokio::test]
    async fn batched_import_follows_the_operator_rules() {
        let db = crate::helpers::TestDb::postgres().await;
        super::batched_import_follows_the_operator_rules(db.store.clone()).await;
        db.cleanup().await;
    }
    #[tokio::test]
    async fn a_pending_import_without_a_mailer_queues_nothing() {
        let db = crate::helpers::TestDb::postgres().await;
        super::a_pending_import_without_a_mailer_queues_nothing(db.store.clone()).await;
        db.cleanup().await;
    }
}

/// `kairan subscribers import` of a file with Japanese headers and language names, one
/// column mapped with `--map`, pending with a confirmation mail each (file outbox).
async fn cli_import_with_a_mapping(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("名簿.csv");
    std::fs::write(
        &csv,
        "メールアドレス,お名前,配信言語,会員番号\n\
         taro@example.jp,山田 太郎,日本語,001\n\
         ann@example.org,Ann Lee,English,002\n\
         ken@example.jp,佐藤 健,両方,003\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        kairan_cmd(dir.path())
            .env("KAIRAN__DATABASE__URL", &db.url)
            .env("KAIRAN__OUTBOX__DIR", dir.path().join("outbox"))
            .env("KAIRAN__NEWSLETTER__FROM", "回覧板 <news@example.org>")
            .args(args)
            .output()
            .unwrap()
    };
    let path = csv.to_str().unwrap();
    let o = run(&["subscribers", "import", path]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unknown column `会員番号`") && err.contains("--map"),
        "{err}"
    );
    let o = run(&[
        "subscribers",
        "import",
        path,
        "--map",
        "会員番号=ignore",
        "--preview",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("column `配信言語` -> lang"), "{out}");
    assert!(
        out.contains("line 3: ann@example.org  en  Ann Lee"),
        "{out}"
    );
    assert!(
        all(db.store.as_ref()).await.is_empty(),
        "a preview loads nothing"
    );
    let o = run(&["subscribers", "import", path, "--map", "会員番号=ignore"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("3 added (pending, 3 confirmation mails sent)"),
        "{out}"
    );
    assert_eq!(
        crate::subscribe::mails_in(&dir.path().join("outbox")).len(),
        3
    );
    let subs = all(db.store.as_ref()).await;
    let langs: Vec<_> = subs
        .iter()
        .map(|s| (s.name.clone().unwrap(), s.lang))
        .collect();
    assert_eq!(
        langs,
        [
            ("山田 太郎".to_owned(), LangPref::Ja),
            ("Ann Lee".to_owned(), LangPref::En),
            ("佐藤 健".to_owned(), LangPref::Both)
        ]
    );
    let o = run(&["subscribers", "import", path, "--map", "会員番号=ignore"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 added"));
    assert_eq!(
        crate::subscribe::mails_in(&dir.path().join("outbox")).len(),
        3
    );
}

#[tokio::test]
async fn cli_import_with_a_japanese_header_sqlite() {
    let db = TestDb::sqlite().await;
    cli_import_with_a_mapping(&db).await;
    db.cleanup().await;
}

#[tokio::test]
async fn cli_import_with_a_japanese_header_postgres() {
    let db = TestDb::postgres().await;
    cli_import_with_a_mapping(&db).await;
    db.cleanup().await;
}
