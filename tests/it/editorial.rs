//! The editors' console's use cases under its pages (issue 15), on SQLite and PostgreSQL:
//! image uploads (content-addressed, served at `/media/{hash}.{ext}` with their type and a
//! long cache; anything else refused and nothing stored) and test sends to several
//! addresses, each language, reporting where each went.

use kairan::app::media::{self, MediaError};
use kairan::domain::{EmailAddress, IssueContent, LangPref};

use crate::helpers::{LEGAL, TestApp, TestDb, settings_with};

/// A real 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

async fn images_are_stored_once_and_served_with_their_type(db: TestDb) {
    let env = [
        ("KAIRAN__CONSOLE__MAX_IMAGE_BYTES", "200000"),
        ("KAIRAN__HTTP__BASE_URL", "https://news.example.org/"),
    ];
    let outbox = tempfile::tempdir().unwrap();
    let settings = settings_with(&db.url, outbox.path(), &env);
    let store = db.store.clone();
    let now = crate::helpers::now();

    let up = media::upload(store.as_ref(), &settings, PNG, now)
        .await
        .unwrap();
    assert!(up.new);
    assert_eq!((up.ext, up.content_type), ("png", "image/png"));
    assert_eq!(up.hash.len(), 64);
    assert_eq!(
        up.url,
        format!("https://news.example.org/media/{}.png", up.hash)
    );
    assert_eq!(
        up.markdown("相談会の様子"),
        format!("![相談会の様子]({})", up.url)
    );
    let again = media::upload(store.as_ref(), &settings, PNG, now)
        .await
        .unwrap();
    assert!(!again.new, "the same bytes are the same image");
    assert_eq!(again.hash, up.hash);

    // A large JPEG (150 kB) is fine; one over the limit, an SVG, nothing at all are not.
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    jpeg.resize(150_000, 0x42);
    let big = media::upload(store.as_ref(), &settings, &jpeg, now)
        .await
        .unwrap();
    assert_eq!(big.ext, "jpg");
    jpeg.resize(200_001, 0x43);
    let r = media::upload(store.as_ref(), &settings, &jpeg, now).await;
    assert!(
        matches!(
            r,
            Err(MediaError::TooLarge {
                size: 200_001,
                max: 200_000
            })
        ),
        "{r:?}"
    );
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let r = media::upload(store.as_ref(), &settings, svg, now).await;
    assert!(matches!(r, Err(MediaError::NotAnImage)), "{r:?}");
    assert!(r.unwrap_err().message_ja().contains("PNG、JPEG、WebP、GIF"));
    assert!(matches!(
        media::upload(store.as_ref(), &settings, b"", now).await,
        Err(MediaError::Empty)
    ));

    // Served with its type, nosniff and a long cache; other names are 404 and counted.
    let app = TestApp::spawn(db, &env).await;
    let c = reqwest::Client::new();
    let r = c
        .get(app.url(&format!("/media/{}.png", up.hash)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    let r = c
        .get(app.url(&format!("/media/{}.jpg", big.hash)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.bytes().await.unwrap().len(), 150_000);
    for bad in [
        format!("/media/{}.gif", up.hash),
        format!("/media/{}.png", up.hash.to_uppercase()),
        format!("/media/{}", up.hash),
        "/media/..%2F..%2Fetc%2Fpasswd".to_owned(),
        format!("/media/{}.png", "0".repeat(64)),
    ] {
        let r = c.get(app.url(&bad)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
    let metrics = c
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("kairan_media_not_found_total ")),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn images_are_stored_once_and_served_with_their_type_on_sqlite() {
    images_are_stored_once_and_served_with_their_type(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn images_are_stored_once_and_served_with_their_type_on_postgres() {
    images_are_stored_once_and_served_with_their_type(TestDb::postgres().await).await;
}

#[tokio::test]
async fn test_sends_go_to_several_addresses_in_each_language_and_report_where() {
    let db = TestDb::sqlite().await;
    let outbox = tempfile::tempdir().unwrap();
    let settings = settings_with(&db.url, outbox.path(), LEGAL);
    let renderer = kairan::startup::load_renderer(&settings).unwrap();
    let mailer = kairan::mail::from_settings(&settings).unwrap();
    let c = |s: &str, md: &str| IssueContent {
        subject: s.into(),
        preheader: None,
        markdown: md.into(),
    };
    let now = crate::helpers::now();
    let id = kairan::app::drafts::create_draft(
        db.store.as_ref(),
        "2027-02",
        None,
        c("二月号", "# お知らせ\n\n本文です。"),
        c("February", "# News\n\nText."),
        now,
    )
    .await
    .unwrap();
    let issue = db.store.issue(id).await.unwrap().unwrap();
    let targets = [
        ("editor@example.org", LangPref::Ja),
        ("translator@example.org", LangPref::En),
        ("director@example.org", LangPref::Both),
        ("phone@docomo.ne.jp", LangPref::Ja),
    ]
    .map(|(a, p)| (EmailAddress::parse(a).unwrap(), p));
    let sent =
        kairan::app::drafts::send_tests(&renderer, &settings, mailer.as_ref(), &issue, &targets)
            .await;
    assert_eq!(sent.len(), 4);
    for (s, (to, pref)) in sent.iter().zip(&targets) {
        assert_eq!((&s.to, s.pref), (to, *pref));
        assert!(s.result.is_ok(), "{:?}", s.result);
    }
    // Each went where it says, in its language; the docomo one in ISO-2022-JP.
    let mails: Vec<String> = std::fs::read_dir(outbox.path())
        .unwrap()
        .flatten()
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned())
        .collect();
    assert_eq!(mails.len(), 4, "{mails:#?}");
    for (to, pref) in &targets {
        let m = mails
            .iter()
            .find(|m| m.contains(&format!("To: {to}")) || m.contains(&format!("<{to}>")))
            .unwrap_or_else(|| panic!("no mail to {to}"));
        assert!(
            m.contains(&format!(
                "Content-Language: {}",
                match pref {
                    LangPref::Ja => "ja",
                    LangPref::En => "en",
                    LangPref::Both => "ja, en",
                }
            )),
            "{m}"
        );
        if to.domain() == "docomo.ne.jp" {
            assert!(m.contains("charset=ISO-2022-JP"), "{m}");
        }
    }
    db.cleanup().await;
}

/// Accepting the legacy-charset stand-ins is not an editor's edit: it must not make the
/// other language look like a stale translation (the known gap of issue 15), and each
/// side keeps the time it was last edited.
async fn accepting_stand_ins_keeps_the_edit_times(db: TestDb) {
    use chrono::{Duration, TimeZone, Utc};
    use kairan::app::{checks, drafts};
    let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
    let text = |subject: &str, md: &str| IssueContent {
        subject: subject.into(),
        preheader: None,
        markdown: md.into(),
    };
    let id = drafts::create_draft(
        db.store.as_ref(),
        "2027-03",
        None,
        text("三月号", "# 三月号\n\n14:00〜15:30 に開催します。\n"),
        text("March", "# March\n\nFrom 14:00–15:30.\n"),
        t0,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_with(&db.url, &dir.path().join("outbox"), LEGAL);
    let stale = |r: &checks::CheckReport| {
        r.items
            .iter()
            .filter(|i| i.code == "translation-stale")
            .count()
    };
    let before = checks::check_stored(db.store.as_ref(), &settings, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stale(&before), 0, "{:#?}", before.items);
    assert!(
        !before.replacements.is_empty(),
        "the en dash has a stand-in"
    );

    // An hour later the editor accepts the stand-ins: only the English side changes.
    let n = drafts::accept_replacements(db.store.as_ref(), id, t0 + Duration::hours(1))
        .await
        .unwrap();
    assert!(n >= 1, "{n}");
    let issue = db.store.issue(id).await.unwrap().unwrap();
    assert!(
        issue.en.markdown.contains("14:00-15:30"),
        "{}",
        issue.en.markdown
    );
    let after = checks::check_stored(db.store.as_ref(), &settings, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stale(&after), 0, "{:#?}", after.items);
    assert_eq!(
        db.store.content_updated_at(id).await.unwrap(),
        Some((t0, t0))
    );

    // A real edit of one side afterwards still flags the other.
    let s = drafts::Save {
        slug: None,
        send_at: None,
        ja: text("三月号（改）", &issue.ja.markdown),
        en: issue.en.clone(),
    };
    drafts::save(db.store.as_ref(), &settings, id, s, t0 + Duration::hours(2))
        .await
        .unwrap();
    let edited = checks::check_stored(db.store.as_ref(), &settings, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stale(&edited), 1, "{:#?}", edited.items);
    db.cleanup().await;
}

#[tokio::test]
async fn accepting_stand_ins_keeps_the_edit_times_on_sqlite() {
    accepting_stand_ins_keeps_the_edit_times(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn accepting_stand_ins_keeps_the_edit_times_on_postgres() {
    accepting_stand_ins_keeps_the_edit_times(TestDb::postgres().await).await;
}
