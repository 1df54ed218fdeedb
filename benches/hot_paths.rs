//! Micro-benchmarks of the per-message hot paths (issue 7):
//!
//! - `personalise/*`: filling one recipient into the pre-rendered fixture issue
//!   (`tests/fixtures/issue`), for ja, en, both and an ISO-2022-JP (docomo) recipient: what
//!   every campaign message costs on top of SMTP and the ledger.
//! - `bounce_parse/corpus`: the bounce parser over every message of the corpus at
//!   `$KAIRAN_BOUNCES_DIR` or `../shared/bounces` (skipped with a note when it is absent).
//! - `stored_address/parse`: reading one stored address back into an `EmailAddress`, which
//!   every claimed delivery and every loaded subscriber row costs.
//! - `dkim_sign/*`: one DKIM signature (body hash, canonical headers, the key operation) over
//!   a personalised `both` message, with the RSA-2048 and the Ed25519 test keys of
//!   `tests/fixtures/dkim`: the per-message CPU cost `[dkim]` adds.
//!
//! `cargo bench --bench hot_paths`; the end-to-end figures come from `scripts/bench`.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kairan::app::editorial::parse_source;
use kairan::domain::Issue;
use kairan::domain::LangPref;
use kairan::render::campaign::{Prepared, Recipient};

fn settings() -> kairan::config::Settings {
    let text = r#"
        [http]
        base_url = "https://news.example.org"
        [newsletter]
        from = "回覧板 <news@example.org>"
        reply_to = "info@example.org"
        contact = "info@example.org"
        list_id = "monthly.example.org"
        [newsletter.ja]
        name = "かいらん通信"
        sender = "特定非営利活動法人 回覧板"
        postal_address = "〒160-0022 東京都新宿区新宿1-2-3"
        [newsletter.en]
        name = "Kairan News"
        sender = "Kairan NPO"
        postal_address = "1-2-3 Shinjuku, Tokyo 160-0022, Japan"
    "#;
    kairan::config::parse(text, "bench", &[])
        .expect("settings")
        .0
}

fn fixture_issue() -> Issue {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/issue");
    let read = |name: &str| {
        let d =
            parse_source(name, &std::fs::read(dir.join(name)).expect("fixture")).expect("parses");
        assert_eq!(d.problems(), [], "the fixture is a valid issue");
        d.content
    };
    let t = chrono::Utc::now();
    Issue {
        id: kairan::domain::IssueId::new(7),
        slug: "2026-12".into(),
        state: kairan::domain::IssueState::Queued,
        send_at: None,
        created_at: t,
        updated_at: t,
        started_at: None,
        finished_at: None,
        ja: read("ja.md"),
        en: read("en.md"),
    }
}

fn personalise(c: &mut Criterion) {
    let settings = settings();
    let renderer = kairan::startup::load_renderer(&settings).expect("renderer");
    let issue = fixture_issue();
    // Real-length tokens (as signed by domain::token) so the slots are their real size.
    let token = "AQIAAAAAAAGGoAAAAABnTZ2Acx3v9cQ0o4rR6z1yKXkXw3S3qLJ0n1c8mZkY2w";
    let unsubscribe = format!("https://news.example.org/unsubscribe/{token}");
    let preferences = format!("https://news.example.org/preferences/{token}");
    let mailto = "mailto:bounces@example.org?subject=unsubscribe";
    let date = "Tue, 01 Dec 2026 09:00:00 +0900";
    let mut group = c.benchmark_group("personalise");
    for (label, pref, email, name, legacy) in [
        (
            "ja",
            LangPref::Ja,
            "yui.sato@example.jp",
            Some("佐藤 結衣"),
            false,
        ),
        (
            "en",
            LangPref::En,
            "alex@example.com",
            Some("Alex Morgan"),
            false,
        ),
        (
            "both",
            LangPref::Both,
            "ren@example.org",
            Some("田中 蓮"),
            false,
        ),
        (
            "ja_iso2022jp",
            LangPref::Ja,
            "hina@docomo.ne.jp",
            Some("山本 陽菜"),
            true,
        ),
    ] {
        let prepared = Prepared::new(&renderer, &settings, &issue, pref).expect("prepared");
        let r = Recipient {
            email,
            name,
            unsubscribe_url: &unsubscribe,
            unsubscribe_mailto: mailto,
            preferences_url: &preferences,
            message_id: "7.42.kairan@example.org",
            delivery_token: Some(token),
            legacy_charset: legacy,
            date,
        };
        let bytes = prepared.personalise(&r).len() as u64;
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function(label, |b| {
            b.iter(|| black_box(prepared.personalise(black_box(&r))))
        });
    }
    group.finish();
}

fn bounce_corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("KAIRAN_BOUNCES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bounces"));
    dir.join("eml").is_dir().then_some(dir)
}

fn bounce_parse(c: &mut Criterion) {
    let Some(dir) = bounce_corpus() else {
        println!(
            "bounce_parse: skipped, no corpus at $KAIRAN_BOUNCES_DIR or ../shared/bounces \
             (benches are not tests)"
        );
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(dir.join("eml"))
        .expect("eml dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    files.sort();
    let msgs: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    let mut group = c.benchmark_group("bounce_parse");
    // Elements: messages, so the report reads as messages per second.
    group.throughput(Throughput::Elements(msgs.len() as u64));
    group.bench_function("corpus", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box(kairan::bounce::parse::parse(black_box(m)));
            }
        })
    });
    group.finish();
}

fn stored_address(c: &mut Criterion) {
    // As stored: already normalised, so this is the cost of checking, not of IDNA mapping.
    let stored = [
        "taro.yamada@example.jp",
        "hina@docomo.ne.jp",
        "Alex.Morgan+news@mail.example.co.uk",
        "info@xn--wgv71a119e.jp",
    ];
    let mut group = c.benchmark_group("stored_address");
    group.throughput(Throughput::Elements(stored.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| {
            for a in &stored {
                black_box(kairan::domain::EmailAddress::parse(black_box(a)).expect("valid"));
            }
        })
    });
    group.finish();
}

fn dkim_sign(c: &mut Criterion) {
    let settings = settings();
    let renderer = kairan::startup::load_renderer(&settings).expect("renderer");
    let prepared =
        Prepared::new(&renderer, &settings, &fixture_issue(), LangPref::Both).expect("prepared");
    let token = "AQIAAAAAAAGGoAAAAABnTZ2Acx3v9cQ0o4rR6z1yKXkXw3S3qLJ0n1c8mZkY2w";
    let unsubscribe = format!("https://news.example.org/unsubscribe/{token}");
    let preferences = format!("https://news.example.org/preferences/{token}");
    let message = prepared.personalise(&Recipient {
        email: "ren@example.org",
        name: Some("田中 蓮"),
        unsubscribe_url: &unsubscribe,
        unsubscribe_mailto: "mailto:bounces@example.org?subject=unsubscribe",
        preferences_url: &preferences,
        message_id: "7.42.kairan@example.org",
        delivery_token: Some(token),
        legacy_charset: false,
        date: "Tue, 01 Dec 2026 09:00:00 +0900",
    });
    let mut group = c.benchmark_group("dkim_sign");
    // Elements: signatures, so the report reads as signatures per second.
    group.throughput(Throughput::Elements(1));
    for (label, file) in [("rsa2048", "rsa.pem"), ("ed25519", "ed25519.pem")] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/dkim")
            .join(file);
        let pem = std::fs::read_to_string(&path).expect("test key");
        let signer = kairan::mail::dkim::DkimSigner::from_pem("example.org", "bench", &pem, &path)
            .expect("key loads");
        group.bench_function(label, |b| {
            b.iter(|| black_box(signer.sign(black_box(&message), 1_800_000_000)))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    personalise,
    bounce_parse,
    stored_address,
    dkim_sign
);
criterion_main!(benches);
