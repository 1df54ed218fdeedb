//! The console's subscriber search at 100,000 subscribers (issue 16): loads a fresh SQLite
//! database through the import use case (batched), then times searches by a rare and a
//! common address part, by a Japanese name, with a status filter, and a page deep into the
//! results (keyset paging). Prints one line per query with its median time.
//! Run with `cargo bench --bench console_search` (`KAIRAN_BENCH_ROWS` to change the size).

use std::time::{Duration, Instant};

use kairan::app::directory;
use kairan::app::import::{self, ImportRow};
use kairan::app::ports::SubscriberSearch;
use kairan::app::subscription::Mail;
use kairan::domain::{EmailAddress, LangPref, SubscriberId, SubscriberStatus};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::var("KAIRAN_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = kairan::storage::connect(&url, 4).await.expect("connect");
    store.migrate().await.expect("migrate");
    let family = [
        "山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村",
    ];
    let rows: Vec<ImportRow> = (0..n)
        .map(|i| ImportRow {
            line: i as u64 + 2,
            email: EmailAddress::parse(&format!("reader{i}@ngo{}.example.jp", i % 97)).unwrap(),
            name: Some(format!("{} {i}", family[i % family.len()])),
            lang: [LangPref::Ja, LangPref::En, LangPref::Both][i % 3],
        })
        .collect();
    let t = Instant::now();
    import::load(
        store.as_ref(),
        &rows,
        true,
        Mail::Never,
        &mut |_| {},
        &mut |_| {},
    )
    .await
    .expect("load");
    let load = t.elapsed();
    println!(
        "loaded {n} subscribers in {:.2} s ({:.0} rows/s)",
        load.as_secs_f64(),
        n as f64 / load.as_secs_f64()
    );
    let q = |text: Option<&str>| SubscriberSearch {
        text: text.map(str::to_owned),
        limit: 50,
        ..Default::default()
    };
    let deep = SubscriberSearch {
        after_id: Some(SubscriberId::new(n as i64 * 9 / 10)),
        ..q(Some("ngo5."))
    };
    let cases: Vec<(&str, SubscriberSearch)> = vec![
        ("first page, no text", q(None)),
        ("one address (rare)", q(Some(&format!("reader{}@", n - 7)))),
        ("a domain (common)", q(Some("ngo5."))),
        ("a Japanese name", q(Some("高橋"))),
        ("no match (scans all)", q(Some("nobody-at-all"))),
        (
            "status filter + text",
            SubscriberSearch {
                status: Some(SubscriberStatus::Active),
                ..q(Some("佐藤"))
            },
        ),
        ("a page 90% deep", deep),
    ];
    for (name, query) in cases {
        let mut times: Vec<Duration> = Vec::new();
        let mut found = 0;
        for _ in 0..11 {
            let t = Instant::now();
            found = directory::search(store.as_ref(), &query)
                .await
                .expect("search")
                .subscribers
                .len();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "search {name:<24} {found:>3} rows  median {:>8.2} ms",
            times[times.len() / 2].as_secs_f64() * 1000.0
        );
    }
    store.close().await;
}
