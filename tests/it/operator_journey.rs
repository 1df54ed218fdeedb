//! An operator's journey in headless Chromium (issue 16), in Japanese and in English: the
//! dashboard while a 3,000-reader campaign is sent to smtp-sink by `kairan send` in another
//! process (the sent count moves on the page without a reload: server-sent events and our
//! script), finding a reader and their history, a bounce fed through `kairan bounce ingest`
//! shown attributed (VERP) on the bounce page and the reader's page, and a CSV with Japanese
//! headers imported through the mapping step. Screenshots at 390 and 1280 px go to
//! `target/screenshots/operator/`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::Locator;

use crate::bounces::{hard_bounce, pipe, verp};
use crate::browser::chromedriver;
use crate::console::{Server, set_password};
use crate::helpers::{LEGAL, SmtpSink, TestDb, fixture_dir, kairan_cmd};
use kairan::domain::{EmailAddress, IssueState};

const READERS: usize = 3_000;
const PASSWORD: &str = "運用-journey-correct-horse-9";

async fn shots(c: &fantoccini::Client, name: &str, lang: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/operator");
    std::fs::create_dir_all(&dir).unwrap();
    for (w, h) in [(390u32, 844u32), (1280, 900)] {
        c.set_window_size(w, h).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(dir.join(format!("{name}-{lang}-{w}.png")), png).unwrap();
    }
    c.set_window_size(1280, 900).await.unwrap();
}

/// The text of the first element matching `css`, once there (up to 20 s).
async fn text_of(c: &fantoccini::Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            return t;
        }
        assert!(Instant::now() < deadline, "`{css}` did not appear");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn expect_h1(c: &fantoccini::Client, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(h1) = c.find(Locator::Css("h1")).await
            && let Ok(t) = h1.text().await
        {
            if t == expected {
                return;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("expected the heading `{expected}`, found `{last}`");
}

async fn main_text(c: &fantoccini::Client) -> String {
    text_of(c, "main").await
}

async fn fill(c: &fantoccini::Client, id: &str, text: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn click(c: &fantoccini::Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("`{css}`: {e}"))
        .click()
        .await
        .unwrap();
}

fn number(text: &str) -> u64 {
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("`{text}` is not a number"))
}

struct Texts {
    lang: &'static str,
    dashboard: &'static str,
    subscribers: &'static str,
    reader: &'static str,
    bounces: &'static str,
    mapping: &'static str,
    report: &'static str,
    sent_state: &'static str,
}

const JA: Texts = Texts {
    lang: "ja",
    dashboard: "ダッシュボード",
    subscribers: "購読者",
    reader: "購読者",
    bounces: "バウンス報告",
    mapping: "列の対応付け",
    report: "インポート結果",
    sent_state: "不達",
};
const EN: Texts = Texts {
    lang: "en",
    dashboard: "Dashboard",
    subscribers: "Subscribers",
    reader: "Subscriber",
    bounces: "Bounce reports",
    mapping: "Map the columns",
    report: "Import report",
    sent_state: "Bounced",
};

/// On the dashboard (already loaded while the campaign sends): the sent count moves without
/// a reload. Returns the two values seen.
async fn progress_moves(c: &fantoccini::Client, s: &Server, t: &Texts) -> (u64, u64) {
    c.goto(&s.url(&format!("/console?lang={}", t.lang)))
        .await
        .unwrap();
    expect_h1(c, t.dashboard).await;
    // A marker that a reload would drop: set on the page itself.
    c.execute(
        "document.body.setAttribute('data-no-reload', 'yes'); return null;",
        vec![],
    )
    .await
    .unwrap();
    let css = "dd[data-live$='-sent']";
    let first = number(&text_of(c, css).await);
    let deadline = Instant::now() + Duration::from_secs(30);
    let moved = loop {
        let now = number(&text_of(c, css).await);
        if now > first {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "the sent count stayed at {first} for 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let marker = c
        .find(Locator::Css("body[data-no-reload=yes]"))
        .await
        .is_ok();
    assert!(marker, "the page was reloaded");
    let live = c
        .find(Locator::Css(".dash[data-live-state=on]"))
        .await
        .is_ok();
    assert!(live, "the event stream is connected");
    shots(c, "dashboard-sending", t.lang).await;
    (first, moved)
}

async fn find_reader(c: &fantoccini::Client, s: &Server, t: &Texts, email: &str) {
    c.goto(&s.url(&format!("/console/subscribers?lang={}", t.lang)))
        .await
        .unwrap();
    expect_h1(c, t.subscribers).await;
    fill(c, "q", email).await;
    click(c, "form.filters button[type=submit]").await;
    let link = "table.subscriber-results a";
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(a) = c.find(Locator::Css(link)).await
            && a.text().await.unwrap_or_default() == email
        {
            break;
        }
        assert!(Instant::now() < deadline, "{email} not found");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shots(c, "subscribers-search", t.lang).await;
    click(c, "table.subscriber-results a").await;
    expect_h1(c, t.reader).await;
    let body = main_text(c).await;
    assert!(body.contains(email), "{body}");
    assert_eq!(
        text_of(c, "dd.reader-lang[data-lang='ja']").await,
        if t.lang == "ja" {
            "日本語"
        } else {
            "Japanese"
        },
        "the reader's language, not the page's"
    );
    assert!(body.contains("2026-12"), "the delivery: {body}");
    assert_eq!(
        text_of(c, "table.deliveries td[data-state='sent']").await,
        if t.lang == "ja" {
            "送信済み"
        } else {
            "Sent"
        },
        "delivery states are named in the page's language"
    );
}

async fn import_japanese_headers(c: &fantoccini::Client, s: &Server, t: &Texts, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("名簿-{}.csv", t.lang));
    let mut csv = String::from("メールアドレス,名前,言語,備考\n");
    for i in 0..n {
        let lang = ["日本語", "English", "両方"][i % 3];
        csv.push_str(&format!(
            "new{i}-{}@example.jp,読者 {i},{lang},メモ\n",
            t.lang
        ));
    }
    csv.push_str("broken-address,壊れた,日本語,\n");
    std::fs::write(&path, csv).unwrap();
    c.goto(&s.url(&format!("/console/import?lang={}", t.lang)))
        .await
        .unwrap();
    c.find(Locator::Id("import-file"))
        .await
        .unwrap()
        .send_keys(path.to_str().unwrap())
        .await
        .unwrap();
    shots(c, "import-upload", t.lang).await;
    click(c, "main form button[type=submit]").await;
    expect_h1(c, t.mapping).await;
    // 備考 is not a known header: no run button until it is mapped.
    assert!(c.find(Locator::Css("button[value=run]")).await.is_err());
    c.find(Locator::Id("col3"))
        .await
        .unwrap()
        .select_by_value("ignore")
        .await
        .unwrap();
    click(c, "button[value=preview]").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.find(Locator::Css("button[value=run]")).await.is_err() {
        assert!(Instant::now() < deadline, "no run button after mapping");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let preview = text_of(c, "table.preview").await;
    assert!(
        preview.contains(&format!("new0-{}@example.jp · ja · 読者 0", t.lang)),
        "{preview}"
    );
    assert!(
        preview.contains(&format!("new1-{}@example.jp · en", t.lang)),
        "{preview}"
    );
    shots(c, "import-mapping", t.lang).await;
    click(c, "button[value=run]").await;
    expect_h1(c, t.report).await;
    assert_eq!(number(&text_of(c, "#import-added").await), n as u64);
    assert_eq!(number(&text_of(c, "#import-bad").await), 1);
    let bad = text_of(c, "table.bad-rows").await;
    assert!(
        bad.contains(&(n + 2).to_string()) && bad.contains("broken-address"),
        "{bad}"
    );
    shots(c, "import-report", t.lang).await;
}

#[tokio::test]
async fn an_operator_watches_a_campaign_finds_a_reader_imports_and_sees_a_bounce() {
    let db = TestDb::sqlite().await;
    let sink = SmtpSink::start().await;
    let s = Server::start(&db.url, LEGAL).await;
    let setup = s.add_user("unyo@example.jp", "admin", "運用 一郎");
    set_password(&s, &setup, PASSWORD).await;

    // 3,000 readers and a queued issue, from the command line.
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("readers.csv");
    let mut csv = String::from("email,name,lang\n");
    for i in 0..READERS {
        csv.push_str(&format!("reader{i:04}@example.jp,読者{i},ja\n"));
    }
    std::fs::write(&list, csv).unwrap();
    let (ok, out, err) = s.kairan(&[
        "subscribers",
        "import",
        list.to_str().unwrap(),
        "--confirmed",
    ]);
    assert!(ok, "{out}{err}");
    let f = fixture_dir();
    let (ok, out, err) = s.kairan(&[
        "issue",
        "queue",
        "--slug",
        "2026-12",
        "--ja",
        f.join("ja.md").to_str().unwrap(),
        "--en",
        f.join("en.md").to_str().unwrap(),
        "--send-at",
        "2099-12-01T09:00:00+09:00",
    ]);
    assert!(ok, "{out}{err}");

    let driver = chromedriver().await;
    let c = driver.session(1280, 900).await;
    c.goto(&s.url("/console/login?lang=ja")).await.unwrap();
    fill(&c, "email", "unyo@example.jp").await;
    fill(&c, "password", PASSWORD).await;
    click(&c, "main button[type=submit]").await;
    expect_h1(&c, JA.dashboard).await;
    let body = main_text(&c).await;
    assert!(body.contains("配信中のキャンペーンはありません"), "{body}");
    shots(&c, "dashboard-idle", "ja").await;

    // `kairan send` in another process, paced so that the journey sees it move.
    let send = kairan_cmd(dir.path())
        .args(["send", "2026-12"])
        .envs(s.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("KAIRAN__SMTP__URL", sink.url())
        .env("KAIRAN__DISPATCH__RATE_PER_MINUTE", "6000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let issue = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let issues = db.store.list_issues().await.unwrap();
            if let Some(i) = issues
                .iter()
                .find(|i| i.slug == "2026-12" && i.state == IssueState::Sending)
            {
                break i.id;
            }
            assert!(Instant::now() < deadline, "the campaign did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let (ja_first, ja_moved) = progress_moves(&c, &s, &JA).await;
    let (en_first, en_moved) = progress_moves(&c, &s, &EN).await;
    assert!(en_first >= ja_moved && en_moved > en_first);
    let status = tokio::task::spawn_blocking(move || send.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    // Finished: the event stream brings the final count too.
    let deadline = Instant::now() + Duration::from_secs(20);
    while number(&text_of(&c, "dd[data-live$='-sent']").await) != READERS as u64 {
        assert!(Instant::now() < deadline, "the final count did not arrive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shots(&c, "dashboard-sent", "en").await;
    println!(
        "dashboard saw the sent count move {ja_first} → {ja_moved} (ja), {en_first} → {en_moved} (en)"
    );

    // A bounce for two readers, through the MTA pipe, attributed by VERP.
    for (i, t) in [(42usize, &JA), (777, &EN)] {
        let email = format!("reader{i:04}@example.jp");
        let sub = db
            .store
            .subscriber_by_email(&EmailAddress::parse(&email).unwrap())
            .await
            .unwrap()
            .unwrap();
        let delivery = db.store.delivery_of(issue, sub.id).await.unwrap().unwrap();
        assert_eq!(
            sub.lang,
            kairan::domain::LangPref::Ja,
            "{email} as imported"
        );
        let out = pipe(
            &db.url,
            dir.path(),
            &hard_bounce(&email, Some(&verp(delivery.id)), i as u32),
            &[],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // And one with a token kairan never signed: forged, nobody's.
        let forged = format!("bounces+{}@example.org", "A".repeat(46));
        let raw = hard_bounce(&email, Some(&forged), 1000 + i as u32);
        let out = pipe(&db.url, dir.path(), &raw, &[]);
        assert_eq!(out.status.code(), Some(0));

        let after = db.store.subscriber(sub.id).await.unwrap().unwrap();
        assert_eq!(
            after.lang,
            kairan::domain::LangPref::Ja,
            "{email} after the bounce"
        );
        find_reader(&c, &s, t, &email).await;
        let shown = db.store.subscriber(sub.id).await.unwrap().unwrap();
        assert_eq!(
            shown.lang,
            kairan::domain::LangPref::Ja,
            "{email} after the search"
        );
        let body = main_text(&c).await;
        assert!(
            body.contains("verp") && body.contains(t.sent_state),
            "{body}"
        );
        shots(&c, "reader", t.lang).await;

        c.goto(&s.url(&format!("/console/bounces?lang={}", t.lang)))
            .await
            .unwrap();
        expect_h1(&c, t.bounces).await;
        let table = text_of(&c, "table.bounce-reports").await;
        assert!(
            table.contains(&format!("#{}", sub.id)) && table.contains("verp"),
            "{table}"
        );
        assert!(table.contains("forged"), "{table}");
        shots(&c, "bounces", t.lang).await;
        click(
            &c,
            &format!(
                "table.bounce-reports a[href='/console/subscribers/{}']",
                sub.id
            ),
        )
        .await;
        expect_h1(&c, t.reader).await;
        assert!(main_text(&c).await.contains(&email));

        import_japanese_headers(&c, &s, t, 12).await;
    }
    c.goto(&s.url("/console/audit?action=subscriber.imported&lang=en"))
        .await
        .unwrap();
    let audit = main_text(&c).await;
    // The command line's import of the 3,000 and the two through the console.
    assert_eq!(audit.matches("subscriber.imported").count(), 3, "{audit}");
    assert_eq!(audit.matches("unyo@example.jp").count(), 2, "{audit}");
    shots(&c, "audit", "en").await;

    c.close().await.unwrap();
    drop(s);
    db.cleanup().await;
}
