//! The editors' console's use cases at the scale the issue names: 100,000 subscribers
//! (2,000 of them at a legacy-charset domain) and 1,000 bilingual issues, timing what the
//! console's pages call — the issue list, loading one issue with all its checks, the live
//! preview through the real campaign renderer, the next send time — and printing
//! milliseconds (median and worst of the rounds). The pages' budget is 100 ms.
//!
//! `cargo bench --bench console` (SQLite in a temporary directory), or with
//! `KAIRAN_BENCH_DATABASE_URL=postgres://…/an_empty_database` for PostgreSQL.

use std::time::{Duration, Instant};

use chrono::Utc;
use kairan::app::ports::Store;
use kairan::domain::{IssueContent, IssueId, IssueState, NewIssue};

const SUBSCRIBERS: i64 = 100_000;
const ISSUES: i64 = 1_000;
const ROUNDS: usize = 20;

fn fixture(lang: &str) -> IssueContent {
    let path = format!(
        "{}/tests/fixtures/issue/{lang}.md",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).expect("fixture");
    kairan::app::editorial::parse_source(&path, &bytes)
        .expect("fixture parses")
        .content
}

async fn seed(store: &dyn Store, url: &str) {
    // Subscribers in one statement per backend (the store's own insert is one row a call).
    let sql = if url.starts_with("sqlite") {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SUBSCRIBERS})
             INSERT INTO subscribers (email, email_key, name, lang, status, source, created_at, updated_at)
             SELECT 'reader' || i || CASE WHEN i % 50 = 0 THEN '@docomo.ne.jp' ELSE '@example.jp' END,
                    'reader' || i || CASE WHEN i % 50 = 0 THEN '@docomo.ne.jp' ELSE '@example.jp' END,
                    NULL, CASE i % 3 WHEN 0 THEN 'ja' WHEN 1 THEN 'en' ELSE 'both' END, 'active', 'import',
                    '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00' FROM n"
        )
    } else {
        format!(
            "INSERT INTO subscribers (email, email_key, name, lang, status, source, created_at, updated_at)
             SELECT 'reader' || i || CASE WHEN i % 50 = 0 THEN '@docomo.ne.jp' ELSE '@example.jp' END,
                    'reader' || i || CASE WHEN i % 50 = 0 THEN '@docomo.ne.jp' ELSE '@example.jp' END,
                    NULL, CASE i % 3 WHEN 0 THEN 'ja' WHEN 1 THEN 'en' ELSE 'both' END, 'active', 'import',
                    now(), now() FROM generate_series(1, {SUBSCRIBERS}) AS i"
        )
    };
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("seed subscribers");
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.expect("postgres");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("seed subscribers");
        pool.close().await;
    }
    let (ja, en) = (fixture("ja"), fixture("en"));
    let now = Utc::now();
    for i in 0..ISSUES {
        store
            .insert_issue(&NewIssue {
                slug: format!("issue-{i}"),
                state: if i == ISSUES - 1 {
                    IssueState::Draft
                } else {
                    IssueState::Sent
                },
                send_at: None,
                ja: ja.clone(),
                en: en.clone(),
                now,
            })
            .await
            .expect("seed issue");
    }
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<44} median {:>8.2} ms   worst {:>8.2} ms{}",
        ms(times[times.len() / 2]),
        ms(*times.last().expect("rounds")),
        if ms(times[times.len() / 2]) > 100.0 {
            "   OVER the 100 ms budget"
        } else {
            ""
        }
    );
}

async fn time<F, Fut>(name: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await; // warm up
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        f().await;
        times.push(start.elapsed());
    }
    report(name, times);
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = std::env::var("KAIRAN_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let env = vec![
        ("KAIRAN__DATABASE__URL".to_owned(), url.clone()),
        (
            "KAIRAN__OUTBOX__DIR".to_owned(),
            dir.path().join("outbox").display().to_string(),
        ),
        (
            "KAIRAN__NEWSLETTER__LEGACY_CHARSET_DOMAINS".to_owned(),
            "docomo.ne.jp".to_owned(),
        ),
    ];
    let settings = kairan::config::parse("", "bench", &env)
        .expect("settings")
        .0;
    let store = kairan::storage::connect(&url, 4).await.expect("connect");
    store.migrate().await.expect("migrate");
    let start = Instant::now();
    seed(store.as_ref(), &url).await;
    println!(
        "seeded {SUBSCRIBERS} subscribers and {ISSUES} issues on {} in {:.1} s",
        store.backend(),
        start.elapsed().as_secs_f64()
    );
    let renderer = kairan::startup::load_renderer(&settings).expect("renderer");
    let last = IssueId::new(ISSUES);

    time("all issues with bodies (list_issues)", || async {
        let list = store.list_issues().await.expect("list");
        assert_eq!(list.len() as i64, ISSUES);
    })
    .await;
    time("issue list page (issue_summaries)", || async {
        let list = store.issue_summaries().await.expect("summaries");
        assert_eq!(list.len() as i64, ISSUES);
    })
    .await;
    time("issue load + all checks (check_stored)", || async {
        let r = kairan::app::checks::check_stored(store.as_ref(), &settings, last)
            .await
            .expect("check")
            .expect("issue");
        std::hint::black_box(r);
    })
    .await;
    time("legacy-charset readers count", || async {
        let n = kairan::app::checks::legacy_readers(store.as_ref(), &settings)
            .await
            .expect("count");
        assert!(n.0 > 0 && n.1 > 0);
    })
    .await;
    let issue = store.issue(last).await.expect("load").expect("issue");
    time("preview render ja + en + both (HTML, text)", || async {
        let files = kairan::app::drafts::preview_content(
            &renderer,
            &settings,
            issue.ja.clone(),
            issue.en.clone(),
            Utc::now(),
        )
        .expect("preview");
        assert_eq!(files.len(), 3);
    })
    .await;
    time("next send time", || async {
        std::hint::black_box(kairan::app::drafts::next_send_time(
            &settings,
            None,
            Utc::now(),
        ));
    })
    .await;
    store.close().await;
}
