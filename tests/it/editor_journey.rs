//! The editor's journey in headless Chromium (issue 15), in Japanese and in English: log in,
//! write a bilingual issue with a deliberate date mismatch ("2027年1月23日 14:00〜15:30"
//! against "24 January 2027, 14:00–15:30") and an en dash, see both warnings, fix the date,
//! accept the replacement, upload an image, preview at phone and desktop widths, test-send
//! to Postfix's smtp-sink, schedule, edit after scheduling and see the queued time, in the
//! editor and in the list. Screenshots of each page at 390 and 1280 px go to
//! `target/screenshots/editor/`.

use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::browser::chromedriver;
use crate::console::Server;
use crate::console_issues::PNG;
use crate::helpers::{SmtpSink, TestDb};

/// Waits (up to 20 s) until an element matching `css` is on the page.
async fn wait_for(c: &Client, css: &str) {
    for _ in 0..200 {
        if c.find(Locator::Css(css)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = c
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    let src = c.source().await.unwrap_or_default();
    panic!("`{css}` did not appear on {url}: {src}");
}

/// Waits until the text of `css` contains `text`.
async fn wait_text(c: &Client, css: &str, text: &str) -> String {
    let mut last = String::new();
    for _ in 0..200 {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            if t.contains(text) {
                return t;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("`{css}` never contained `{text}`; last: {last}");
}

/// Screenshots at phone and desktop widths: `target/screenshots/editor/{name}-{lang}-{w}.png`,
/// with the element `focus` (an id) scrolled into view.
async fn shots(c: &Client, name: &str, lang: &str, focus: Option<&str>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/editor");
    std::fs::create_dir_all(&dir).unwrap();
    for (w, h) in [(390u32, 844u32), (1280, 900)] {
        c.set_window_size(w, h).await.unwrap();
        if let Some(id) = focus {
            c.execute(
                "document.getElementById(arguments[0]).scrollIntoView({block: 'start'});",
                vec![serde_json::json!(id)],
            )
            .await
            .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(dir.join(format!("{name}-{lang}-{w}.png")), png).unwrap();
    }
    c.set_window_size(1280, 900).await.unwrap();
}

async fn fill(c: &Client, id: &str, text: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn value(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

struct Texts {
    new_issue: &'static str,
    saved: &'static str,
    autosaved: &'static str,
    replaced: &'static str,
    uploaded: &'static str,
    tests_done: &'static str,
    queued: &'static str,
    days: &'static str,
    phone: &'static str,
}

const JA: Texts = Texts {
    new_issue: "新しい号",
    saved: "保存しました",
    autosaved: "保存しました ",
    replaced: "置き換えを本文に反映しました",
    uploaded: "画像を保存しました",
    tests_done: "2 通のうち 2 通",
    queued: "チェックして予約しました",
    days: "3日後",
    phone: "スマートフォン",
};
const EN: Texts = Texts {
    new_issue: "New issue",
    saved: "Saved.",
    autosaved: "Saved ",
    replaced: "The replacements were accepted",
    uploaded: "The image is stored.",
    tests_done: "2 of 2 test messages",
    queued: "Checked and queued.",
    days: "in 3 days",
    phone: "Phone",
};

const JA_BODY: &str =
    "# 公開セミナー\n\n日時：2027年1月23日 14:00〜15:30\n\n[申込](https://example.org/apply)\n";
const EN_BODY: &str = "# Public seminar\n\nWhen: 24 January 2027, 14:00–15:30\n\n[Apply](https://example.org/apply)\n";

#[allow(clippy::too_many_arguments)]
async fn journey(
    c: &Client,
    s: &Server,
    sink: &SmtpSink,
    lang: &str,
    email: &str,
    slug: &str,
    image: &std::path::Path,
    t: &Texts,
) {
    let password = "kairan-春の回覧板-2026";
    let setup = s.add_user(email, "admin", "編集 担当");
    crate::console::set_password(s, &setup, password).await;
    c.goto(&s.url(&format!("/console/login?lang={lang}")))
        .await
        .unwrap();
    fill(c, "email", email).await;
    fill(c, "password", password).await;
    click(c, "main button[type=submit]").await;
    wait_for(c, "form.logout").await;

    // The list, then a new issue.
    c.goto(&s.url("/console/issues")).await.unwrap();
    wait_for(c, "a[href='/console/issues/new']").await;
    shots(c, "list-empty", lang, None).await;
    click(c, "a[href='/console/issues/new']").await;
    wait_text(c, "h1", t.new_issue).await;
    fill(c, "slug", slug).await;
    fill(c, "ja_subject", "一月号：公開セミナーのお知らせ").await;
    fill(c, "ja_preheader", "今月の活動報告").await;
    fill(c, "ja_markdown", JA_BODY).await;
    fill(c, "en_subject", "January: public seminar").await;
    fill(c, "en_markdown", EN_BODY).await;
    shots(c, "new", lang, None).await;
    click(c, "#save").await;

    // Both warnings, beside the text, with the editor's line and column.
    wait_for(c, "#col-en .check-list li.warning").await;
    let ja = wait_text(c, "#col-ja .check-list", "date-differs").await;
    assert!(ja.contains("3"), "{ja}");
    let en = wait_text(c, "#col-en .check-list", "legacy-replacement").await;
    assert!(en.contains("date-differs"), "{en}");
    assert!(en.contains("29"), "the en dash's column: {en}");
    shots(c, "editor-warnings", lang, None).await;
    shots(c, "editor-replacements", lang, Some("replacements")).await;

    // Fix the date on the Japanese side.
    fill(c, "ja_markdown", &JA_BODY.replace("23日", "24日")).await;
    click(c, "#save").await;
    wait_text(c, "#notice", t.saved).await;
    let ja = c
        .find(Locator::Id("col-ja"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!ja.contains("date-differs"), "{ja}");

    // Accept the replacement.
    click(c, "#accept").await;
    wait_text(c, "#notice", t.replaced).await;
    assert!(value(c, "en_markdown").await.contains("14:00-15:30"));
    assert!(c.find(Locator::Id("replacements")).await.is_err());

    // Autosave: typing without pressing Save stores the text in the background (the
    // status says when), and it is there when the page is loaded again.
    let typed = format!("{lang}: saved without pressing Save");
    fill(c, "en_preheader", &typed).await;
    let status = wait_text(c, "#autosave-status", t.autosaved).await;
    assert!(
        status.len() >= t.autosaved.len() + 5 && status.contains(':'),
        "{status}"
    );
    shots(c, "autosaved", lang, Some("en_markdown")).await;
    c.refresh().await.unwrap();
    wait_for(c, "#en_preheader").await;
    assert_eq!(value(c, "en_preheader").await, typed);

    // Upload an image into both bodies.
    c.find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(image.to_str().unwrap())
        .await
        .unwrap();
    fill(c, "alt", "相談会の写真").await;
    click(c, "#upload").await;
    wait_text(c, "#notice", t.uploaded).await;
    let snippet = value(c, "snippet").await;
    assert!(
        snippet.starts_with("![相談会の写真](") && snippet.contains("/media/"),
        "{snippet}"
    );
    assert!(value(c, "ja_markdown").await.contains(&snippet));
    shots(c, "image-uploaded", lang, Some("images")).await;

    // Preview: desktop, then phone; the mail in the frame.
    click(c, "#preview-link").await;
    wait_for(c, "iframe.preview-frame.desktop").await;
    shots(c, "preview-desktop", lang, None).await;
    c.find(Locator::LinkText(t.phone))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(c, "iframe.preview-frame.phone").await;
    let frame = c.find(Locator::Css("iframe.preview-frame")).await.unwrap();
    frame.clone().enter_frame().await.unwrap();
    let mail = wait_text(c, "body", "Public seminar").await;
    assert!(mail.contains("公開セミナー"), "{mail}");
    c.enter_parent_frame().await.unwrap();
    shots(c, "preview-phone", lang, None).await;
    click(c, "main .actions a").await;

    // Test send to two addresses (Japanese version), listed with the server's answer.
    wait_for(c, "#to").await;
    let to = format!("test-{lang}@example.org");
    fill(c, "to", &format!("{to}\nboard-{lang}@example.net")).await;
    click(c, "input[name=test_en]").await;
    click(c, "#send-test").await;
    wait_text(c, "#notice", t.tests_done).await;
    let results = c
        .find_all(Locator::Css("#test-results li.ok"))
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    let count = || {
        sink.messages()
            .iter()
            .filter(|m| String::from_utf8_lossy(m).contains(&to))
            .count()
    };
    for _ in 0..200 {
        if count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(), 1, "the test message reached smtp-sink");
    shots(c, "test-sent", lang, Some("test")).await;

    // Schedule in three days (the picker's value is in schedule.timezone).
    let when = chrono::Utc::now() + chrono::Duration::days(3) + chrono::Duration::hours(2);
    let local = when
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    c.execute(
        "document.getElementById('send_at').value = arguments[0];",
        vec![serde_json::json!(local)],
    )
    .await
    .unwrap();
    // The picker's "in 3 days" follows the value as it changes (the script).
    c.execute(
        "document.getElementById('send_at').dispatchEvent(new Event('input', {bubbles: true}));",
        vec![],
    )
    .await
    .unwrap();
    wait_text(c, "#send-at-rel", t.days).await;
    click(c, "#schedule-btn").await;
    wait_text(c, "#notice", t.queued).await;
    let queued = wait_text(c, "#queued-time", t.days).await;
    shots(c, "scheduled", lang, Some("schedule")).await;

    // "Send now…" asks first, stating the audience by language (not sent here).
    click(c, "#send-now").await;
    let total = wait_text(c, "#aud-total", "1").await;
    assert_eq!(total, "1");
    shots(c, "send-confirm", lang, None).await;
    click(c, "main p:last-child a").await;
    wait_for(c, "#queued-time").await;

    // Edit after scheduling: the subject changes, the time stays.
    fill(c, "en_subject", "January: public seminar (updated)").await;
    click(c, "#save").await;
    wait_text(c, "#notice", t.saved).await;
    assert_eq!(
        value(c, "en_subject").await,
        "January: public seminar (updated)"
    );
    let again = wait_text(c, "#queued-time", t.days).await;
    assert_eq!(again, queued);

    // The list shows it queued at that time.
    c.goto(&s.url("/console/issues")).await.unwrap();
    let row = wait_text(c, "table.issues", slug).await;
    assert!(row.contains(t.days), "{row}");
    shots(c, "list", lang, None).await;
    click(c, "form.logout button").await;
    wait_for(c, "input#email").await;
}

#[tokio::test]
async fn the_editor_journey_works_in_chromium_in_japanese_and_english() {
    let db = TestDb::sqlite().await;
    let sink = SmtpSink::start().await;
    let s = Server::start(
        &db.url,
        &[
            ("KAIRAN__SMTP__URL", sink.url().as_str()),
            ("KAIRAN__NEWSLETTER__LEGACY_CHARSET_DOMAINS", "docomo.ne.jp"),
            ("KAIRAN__SCHEDULE__TIMEZONE", "Asia/Tokyo"),
            ("KAIRAN__NEWSLETTER__CONTACT", "info@example.org"),
            (
                "KAIRAN__NEWSLETTER__JA__SENDER",
                "特定非営利活動法人かいらん",
            ),
            (
                "KAIRAN__NEWSLETTER__JA__POSTAL_ADDRESS",
                "東京都新宿区1-2-3",
            ),
            ("KAIRAN__NEWSLETTER__EN__SENDER", "Kairan"),
            (
                "KAIRAN__NEWSLETTER__EN__POSTAL_ADDRESS",
                "1-2-3 Shinjuku, Tokyo",
            ),
        ],
    )
    .await;
    let (ok, out, err) = s.kairan(&[
        "subscribers",
        "add",
        "reader@docomo.ne.jp",
        "--lang",
        "en",
        "--confirmed",
    ]);
    assert!(ok, "{out}{err}");
    let image = s.dir.path().join("photo.png");
    std::fs::write(&image, PNG).unwrap();
    let driver = chromedriver().await;
    let c = driver.session(1280, 900).await;
    journey(
        &c,
        &s,
        &sink,
        "ja",
        "henshu@example.jp",
        "2027-01",
        &image,
        &JA,
    )
    .await;
    journey(
        &c,
        &s,
        &sink,
        "en",
        "editor@example.org",
        "2027-02",
        &image,
        &EN,
    )
    .await;
    c.close().await.unwrap();
    drop(s);
    db.cleanup().await;
}
