//! Issue 3 on the real app (random port, fresh database, outbox transport), each test on
//! SQLite and PostgreSQL: the bilingual double opt-in pages, one-click unsubscribe,
//! preferences, bad input of each kind, rate limits, and the admin API.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kairan::app::ports::Store;
use kairan::domain::{Purpose, Signer, SubscriberId, SubscriberStatus};
use kairan::startup::Application;
use tokio_util::sync::CancellationToken;

use crate::helpers::both_backends;
use crate::helpers::{TestDb, settings_with};

both_backends!(
    the_pages_follow_the_language_choice_and_set_a_strict_policy,
    a_reader_subscribes_confirms_and_unsubscribes_with_one_click,
    bad_form_input_gets_422_with_the_form_refilled_and_nothing_stored,
    known_and_unknown_addresses_get_the_same_page_and_resends_are_bounded,
    bad_altered_expired_and_misused_tokens_get_400_and_change_nothing,
    preferences_change_the_language_or_unsubscribe,
    too_many_requests_from_one_address_get_a_localised_429,
    an_oversized_form_is_refused_with_a_localised_page,
    the_admin_api_lists_adds_and_erases_subscribers_behind_the_token,
);

pub const ADMIN_TOKEN: &str = "admin-token-0123456789";

pub struct App {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub signer: Arc<Signer>,
    pub outbox: tempfile::TempDir,
    shutdown: CancellationToken,
    db: Option<TestDb>,
}

impl App {
    pub async fn start(db: TestDb, env: &[(&str, &str)]) -> App {
        let outbox = tempfile::tempdir().unwrap();
        let mut all = vec![
            // Tests that post the form without loading it first; the fill-time check has
            // tests of its own (`tests/it/reader.rs`).
            ("KAIRAN__SUBSCRIBE__MIN_FILL_TIME", "0s"),
            ("KAIRAN__ADMIN__TOKEN", ADMIN_TOKEN),
            ("KAIRAN__NEWSLETTER__FROM", "回覧板 <news@example.org>"),
            ("KAIRAN__NEWSLETTER__CONTACT", "info@example.org"),
            ("KAIRAN__NEWSLETTER__JA__SENDER", "NPO法人かいらん"),
            (
                "KAIRAN__NEWSLETTER__JA__POSTAL_ADDRESS",
                "東京都新宿区西新宿1-2-3",
            ),
            ("KAIRAN__NEWSLETTER__EN__SENDER", "Kairan NPO"),
            (
                "KAIRAN__NEWSLETTER__EN__POSTAL_ADDRESS",
                "1-2-3 Nishi-Shinjuku, Tokyo",
            ),
            (
                "KAIRAN__SECRETS__SIGNING_KEY",
                "test-signing-key-0123456789-0123456789",
            ),
        ];
        all.extend_from_slice(env);
        let mut settings = settings_with(&db.url, outbox.path(), &all);
        // Links in mail point at the real port, known only after binding: bind first.
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        settings.http.listen = addr;
        settings.http.base_url = format!("http://{addr}").parse().unwrap();
        let mailer = kairan::mail::from_settings(&settings).unwrap();
        let app = Application::build_with(settings, db.store.clone(), mailer)
            .await
            .unwrap();
        let signer = app.state().signer.clone();
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run(shutdown.clone()));
        App {
            base: format!("http://{addr}"),
            store: db.store.clone(),
            signer,
            outbox,
            shutdown,
            db: Some(db),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `.eml` files in the outbox, oldest first.
    pub fn mails(&self) -> Vec<PathBuf> {
        mails_in(self.outbox.path())
    }

    /// Waits until the outbox holds `n` messages and returns them.
    pub async fn wait_for_mails(&self, n: usize) -> Vec<PathBuf> {
        for _ in 0..100 {
            let m = self.mails();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {n} mails in the outbox, found {}",
            self.mails().len()
        );
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }
}

pub fn mails_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .map(|p| (std::fs::metadata(&p).unwrap().modified().unwrap(), p))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.into_iter().map(|(_, p)| p).collect()
}

/// The first link in a mail's text part whose path starts with `prefix` (`/confirm/`).
pub fn link_in(eml: &Path, prefix: &str) -> String {
    let raw = std::fs::read(eml).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let text = msg.body_text(0).unwrap().into_owned();
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in:\n{text}"));
    let begin = text[..start].rfind("http").unwrap();
    let end = text[start..]
        .find(|c: char| c.is_whitespace())
        .map(|e| start + e)
        .unwrap_or(text.len());
    text[begin..end].to_owned()
}

/// The value of the hidden form field `name` in a page.
pub fn hidden_field(page: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in:\n{page}"))
        + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// What a reader does with a confirmation link: opens it (a page, nothing changes), then
/// presses the button. Returns the answer to the button.
pub async fn confirm_by_button(url: &str) -> reqwest::Response {
    let page = client().get(url).send().await.unwrap();
    assert_eq!(page.status(), 200, "{url}");
    let page = page.text().await.unwrap();
    let guard = hidden_field(&page, "guard");
    client()
        .post(url)
        .form(&[("guard", guard.as_str())])
        .send()
        .await
        .unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn subscribe(
    app: &App,
    lang_page: &str,
    fields: &[(&str, &str)],
) -> (reqwest::StatusCode, String) {
    let r = client()
        .post(app.url(&format!("/subscribe?lang={lang_page}")))
        .header("User-Agent", "Mozilla/5.0 (kairan test)")
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

async fn by_email(app: &App, email: &str) -> Option<kairan::domain::Subscriber> {
    app.store
        .subscriber_by_email(&kairan::domain::EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
}

async fn the_pages_follow_the_language_choice_and_set_a_strict_policy(db: TestDb) {
    let app = App::start(db, &[]).await;
    let c = client();

    let ja = c.get(app.url("/subscribe?lang=ja")).send().await.unwrap();
    assert_eq!(ja.status(), 200);
    let csp = ja.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("form-action 'self'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(ja.headers()["referrer-policy"], "same-origin");
    let cookie = ja.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("kairan_lang=ja;"), "{cookie}");
    let body = ja.text().await.unwrap();
    assert!(body.contains(r#"<html lang="ja">"#));
    assert!(body.contains("月刊ニュースレターの購読"), "{body}");
    assert!(body.contains(r#"href="/subscribe?lang=en""#), "{body}");
    assert!(body.contains(r#"name="consent""#) && body.contains(r#"value="both""#));
    assert!(!body.contains("<script"));

    // The cookie set by that choice wins over the browser's languages.
    let again = c
        .get(app.url("/subscribe"))
        .header("Cookie", "kairan_lang=ja")
        .header("Accept-Language", "en-US,en")
        .send()
        .await
        .unwrap();
    assert!(!again.headers().contains_key("set-cookie"));
    assert!(again.text().await.unwrap().contains(r#"<html lang="ja">"#));

    let browser = c
        .get(app.url("/subscribe"))
        .header("Accept-Language", "ja-JP,ja;q=0.9,en;q=0.8")
        .send()
        .await
        .unwrap();
    assert!(
        browser
            .text()
            .await
            .unwrap()
            .contains(r#"<html lang="ja">"#)
    );

    let default = c.get(app.url("/subscribe")).send().await.unwrap();
    let body = default.text().await.unwrap();
    assert!(body.contains(r#"<html lang="en">"#));
    assert!(body.contains("Subscribe to Monthly newsletter"), "{body}");
    assert!(body.contains(r#"href="/subscribe?lang=ja""#));

    let css = c.get(app.url("/static/kairan.css")).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    app.stop().await;
}

async fn a_reader_subscribes_confirms_and_unsubscribes_with_one_click(db: TestDb) {
    let app = App::start(db, &[]).await;
    let (status, body) = subscribe(
        &app,
        "ja",
        &[
            ("email", "  Hanako.Yamada@Example.JP "),
            ("name", "山田 花子"),
            ("lang", "both"),
            ("consent", "yes"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("メールをご確認ください"), "{body}");

    let sub = by_email(&app, "Hanako.Yamada@example.jp").await.unwrap();
    assert_eq!(sub.status, SubscriberStatus::Pending);
    assert_eq!(sub.email.as_str(), "Hanako.Yamada@example.jp");
    assert_eq!(sub.name.as_deref(), Some("山田 花子"));
    assert_eq!(sub.lang.as_str(), "both");
    let consents = app.store.consents(sub.id).await.unwrap();
    assert_eq!(consents.len(), 1);
    let c = &consents[0];
    assert_eq!(c.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(c.user_agent.as_deref(), Some("Mozilla/5.0 (kairan test)"));
    assert_eq!(c.page_lang.map(|l| l.as_str()), Some("ja"));
    assert!(c.text_hash.as_deref().unwrap().starts_with("sha256:"));
    assert_eq!(c.text_version.as_deref(), Some("2026-01"));
    assert!(c.confirmed_at.is_none());

    // The confirmation: both languages, Japanese first, in one message.
    let mails = app.wait_for_mails(1).await;
    let raw = std::fs::read(&mails[0]).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let subject = msg.subject().unwrap();
    assert!(
        subject.starts_with("月刊ニュースレター購読のご確認 / Please confirm"),
        "{subject}"
    );
    assert_eq!(
        msg.header_raw("Content-Language").map(str::trim),
        Some("ja, en")
    );
    assert!(msg.message_id().is_some() && msg.date().is_some());
    let text = msg.body_text(0).unwrap();
    let (ja_at, en_at) = (
        text.find("こんにちは。").unwrap(),
        text.find("Hello,").unwrap(),
    );
    assert!(ja_at < en_at, "{text}");
    // The name typed into the form is not in any mail before the address is confirmed:
    // neither the greeting, nor the To header, nor the HTML part.
    assert!(
        !String::from_utf8_lossy(&raw).contains("山田") && !text.contains("山田"),
        "{text}"
    );
    assert!(!msg.body_html(0).unwrap().contains("山田"));
    assert!(
        !msg.header_raw("To").unwrap().contains('='),
        "no encoded name in To"
    );
    assert!(text.contains("東京都新宿区西新宿1-2-3") && text.contains("info@example.org"));
    assert!(msg.body_html(0).unwrap().contains("/confirm/"));
    assert!(!String::from_utf8_lossy(&raw).contains("List-Unsubscribe:"));
    let confirm = link_in(&mails[0], "/confirm/");
    assert!(
        !confirm.contains("anako"),
        "the token carries no address: {confirm}"
    );

    // Opening the link (as a link scanner does) changes nothing: a page in the reader's
    // language (both: the page's) with one button.
    let r = client().get(&confirm).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"method="post""#) && body.contains("confirm-button"));
    let still = app.store.subscriber(sub.id).await.unwrap().unwrap();
    assert_eq!(still.status, SubscriberStatus::Pending);
    // A POST without the page's form guard (a scanner posting blindly) changes nothing.
    let r = client().post(&confirm).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let still = app.store.subscriber(sub.id).await.unwrap().unwrap();
    assert_eq!(still.status, SubscriberStatus::Pending);
    assert!(still.confirmed_at.is_none());
    let r = confirm_by_button(&confirm).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You are subscribed"));
    let sub = app.store.subscriber(sub.id).await.unwrap().unwrap();
    assert_eq!(sub.status, SubscriberStatus::Active);
    assert!(sub.confirmed_at.is_some());
    assert!(
        app.store.consents(sub.id).await.unwrap()[0]
            .confirmed_at
            .is_some()
    );
    // A second click changes nothing and sends nothing.
    let again = client().get(&confirm).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("You are subscribed"));

    // The welcome mail, with RFC 8058 headers.
    let mails = app.wait_for_mails(2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.mails().len(), 2, "no second welcome");
    let raw = std::fs::read(&mails[1]).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert!(msg.subject().unwrap().contains("へようこそ"));
    assert!(
        msg.body_text(0).unwrap().contains("山田 花子 様"),
        "the name, once confirmed"
    );
    let lu = msg.header_raw("List-Unsubscribe").unwrap();
    assert!(
        lu.contains("/unsubscribe/") && lu.contains("mailto:"),
        "{lu}"
    );
    assert_eq!(
        msg.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    let unsubscribe = link_in(&mails[1], "/unsubscribe/");
    assert!(lu.contains(&unsubscribe), "{lu} / {unsubscribe}");

    // A GET (a link scanner) never unsubscribes.
    let page = client().get(&unsubscribe).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(r#"method="post""#));
    let still = app.store.subscriber(sub.id).await.unwrap().unwrap();
    assert_eq!(still.status, SubscriberStatus::Active);

    // The mail client's one-click POST: no cookie, no CSRF token.
    for _ in 0..2 {
        let r = client()
            .post(&unsubscribe)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let gone = app.store.subscriber(sub.id).await.unwrap().unwrap();
    assert_eq!(gone.status, SubscriberStatus::Unsubscribed);
    assert_eq!(gone.unsubscribe_method.as_deref(), Some("one-click"));
    assert!(gone.unsubscribed_at.is_some());
    // The consent record outlives the unsubscribe.
    assert_eq!(app.store.consents(sub.id).await.unwrap().len(), 1);
    app.stop().await;
}

async fn bad_form_input_gets_422_with_the_form_refilled_and_nothing_stored(db: TestDb) {
    let app = App::start(db, &[]).await;
    let long_name = "あ".repeat(101);
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[
                ("email", "taro@example"),
                ("lang", "ja"),
                ("consent", "yes"),
            ],
            "ja",
            "有効なドメインではありません",
        ),
        (
            &[("email", "no-at-sign"), ("lang", "en"), ("consent", "yes")],
            "en",
            "needs one @",
        ),
        (
            &[("email", ""), ("lang", "en"), ("consent", "yes")],
            "en",
            "Please enter your email address",
        ),
        (
            &[
                ("email", "taro@example.jp\r\nBcc: x@example.jp"),
                ("lang", "en"),
                ("consent", "yes"),
            ],
            "en",
            "on one line",
        ),
        (
            &[("email", "taro@example.jp"), ("lang", "ja")],
            "ja",
            "チェックを入れてください",
        ),
        (
            &[
                ("email", "taro@example.jp"),
                ("name", &long_name),
                ("lang", "ja"),
                ("consent", "yes"),
            ],
            "ja",
            "100文字以内で入力してください",
        ),
        (
            &[
                ("email", "taro@example.jp"),
                ("name", "Taro\r\nBcc: x@example.jp"),
                ("lang", "en"),
                ("consent", "yes"),
            ],
            "en",
            "The name must be on one line",
        ),
        (
            &[
                ("email", "taro@example.jp"),
                ("lang", "fr"),
                ("consent", "yes"),
            ],
            "en",
            "Please choose a language",
        ),
    ];
    for (fields, page_lang, message) in cases {
        let (status, body) = subscribe(&app, page_lang, fields).await;
        assert_eq!(status, 422, "{fields:?}");
        assert!(
            body.contains(message),
            "{fields:?}: {message} missing in {body}"
        );
        assert!(body.contains(r#"aria-invalid="true""#));
        if let Some((_, email)) = fields.iter().find(|(k, _)| *k == "email")
            && !email.contains('\r')
            && !email.is_empty()
        {
            assert!(
                body.contains(&format!(r#"value="{email}""#)),
                "form refilled: {body}"
            );
        }
    }
    let all = app
        .store
        .list_subscribers(&Default::default())
        .await
        .unwrap();
    assert!(all.is_empty(), "nothing stored: {all:?}");
    assert!(app.mails().is_empty());
    app.stop().await;
}

async fn known_and_unknown_addresses_get_the_same_page_and_resends_are_bounded(db: TestDb) {
    let app = App::start(db, &[("KAIRAN__SUBSCRIBE__RESEND_INTERVAL", "2s")]).await;
    let form = |email: &'static str| vec![("email", email), ("lang", "en"), ("consent", "yes")];
    let (_, first) = subscribe(&app, "en", &form("reader@example.jp")).await;
    app.wait_for_mails(1).await;
    // Pending, asked again at once: same page, no second mail.
    let (_, second) = subscribe(&app, "en", &form("reader@example.jp")).await;
    assert_eq!(first, second);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.mails().len(), 1);
    // After the interval the confirmation goes out again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    subscribe(&app, "en", &form("reader@example.jp")).await;
    app.wait_for_mails(2).await;

    // Active: the same page, nothing sent.
    let confirm = link_in(&app.mails()[1], "/confirm/");
    confirm_by_button(&confirm).await;
    app.wait_for_mails(3).await; // the welcome
    let (_, active) = subscribe(&app, "en", &form("reader@example.jp")).await;
    assert_eq!(active, first);
    let (_, unknown) = subscribe(&app, "en", &form("stranger@example.jp")).await;
    assert_eq!(unknown, first);
    app.wait_for_mails(4).await; // the stranger's confirmation
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.mails().len(), 4, "nothing new for an active address");

    // Unsubscribed: a fresh double opt-in.
    let sub = by_email(&app, "reader@example.jp").await.unwrap();
    kairan::app::subscription::unsubscribe(app.store.as_ref(), sub.id, "test", chrono::Utc::now())
        .await
        .unwrap();
    let (_, again) = subscribe(&app, "en", &form("reader@example.jp")).await;
    assert_eq!(again, first);
    app.wait_for_mails(5).await;
    let sub = by_email(&app, "reader@example.jp").await.unwrap();
    assert_eq!(sub.status, SubscriberStatus::Pending);
    assert!(sub.unsubscribed_at.is_none() && sub.confirmed_at.is_none());
    assert_eq!(app.store.consents(sub.id).await.unwrap().len(), 2);
    app.stop().await;
}

async fn bad_altered_expired_and_misused_tokens_get_400_and_change_nothing(db: TestDb) {
    let app = App::start(db, &[]).await;
    subscribe(
        &app,
        "en",
        &[
            ("email", "taro@example.jp"),
            ("lang", "ja"),
            ("consent", "yes"),
        ],
    )
    .await;
    let sub = by_email(&app, "taro@example.jp").await.unwrap();
    let now = chrono::Utc::now();
    let good = app.signer.sign(sub.id.get(), Purpose::Confirm, now);
    let mut altered = good.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let expired = app.signer.sign(
        sub.id.get(),
        Purpose::Confirm,
        now - chrono::Duration::days(8),
    );
    let other_key = Signer::new(b"another-key-another-key-another-key".to_vec(), vec![]).sign(
        sub.id.get(),
        Purpose::Confirm,
        now,
    );
    let unsubscribe_token = app.signer.sign(sub.id.get(), Purpose::Unsubscribe, now);
    let confirm_paths = [
        format!("/confirm/{altered}"),
        format!("/confirm/{expired}"),
        format!("/confirm/{other_key}"),
        format!("/confirm/{unsubscribe_token}"),
        "/confirm/garbage".to_owned(),
        format!("/confirm/{}", "A".repeat(67)),
    ];
    for path in &confirm_paths {
        let r = client()
            .get(app.url(&format!("{path}?lang=ja")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        assert!(r.text().await.unwrap().contains("このリンクは無効です"));
    }
    // A confirm token cannot unsubscribe or open the preferences.
    for path in [
        format!("/unsubscribe/{good}"),
        format!("/preferences/{good}"),
    ] {
        let r = client().post(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let r = client().get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
    }
    let unchanged = app.store.subscriber(sub.id).await.unwrap().unwrap();
    assert_eq!(unchanged.status, SubscriberStatus::Pending);
    // The page of a Japanese reader is in Japanese, whatever the browser says.
    let r = client()
        .get(app.url(&format!("/confirm/{good}")))
        .header("Accept-Language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert!(
        body.contains(r#"<html lang="ja">"#) && body.contains("購読の確認"),
        "{body}"
    );
    // The good one still works.
    let r = confirm_by_button(&app.url(&format!("/confirm/{good}"))).await;
    assert_eq!(r.status(), 200);
    let done = app.store.subscriber(sub.id).await.unwrap().unwrap();
    assert_eq!(done.status, SubscriberStatus::Active);
    app.stop().await;
}

async fn preferences_change_the_language_or_unsubscribe(db: TestDb) {
    let app = App::start(db, &[]).await;
    subscribe(
        &app,
        "en",
        &[
            ("email", "ken@example.jp"),
            ("lang", "en"),
            ("consent", "yes"),
        ],
    )
    .await;
    let sub = by_email(&app, "ken@example.jp").await.unwrap();
    let now = chrono::Utc::now();
    let token = app.signer.sign(sub.id.get(), Purpose::Preferences, now);
    let url = app.url(&format!("/preferences/{token}"));
    let page = client().get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(body.contains(r#"value="en" checked"#), "{body}");
    let guard = hidden_field(&body, "guard");
    let guard = guard.as_str();
    // Without the page's guard (a forged cross-site post) nothing changes.
    let r = client()
        .post(&url)
        .form(&[("action", "save"), ("lang", "both")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let r = client()
        .post(&url)
        .form(&[("action", "save"), ("lang", "both"), ("guard", guard)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("Your preferences were saved"), "{body}");
    assert!(body.contains(r#"value="both" checked"#));
    assert_eq!(
        app.store
            .subscriber(sub.id)
            .await
            .unwrap()
            .unwrap()
            .lang
            .as_str(),
        "both"
    );
    let bad = client()
        .post(&url)
        .form(&[("action", "save"), ("lang", "de"), ("guard", guard)])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);

    let r = client()
        .post(&url)
        .form(&[("action", "unsubscribe"), ("guard", guard)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let gone = app.store.subscriber(sub.id).await.unwrap().unwrap();
    assert_eq!(gone.status, SubscriberStatus::Unsubscribed);
    assert_eq!(gone.unsubscribe_method.as_deref(), Some("preferences"));
    app.stop().await;
}

async fn too_many_requests_from_one_address_get_a_localised_429(db: TestDb) {
    let app = App::start(db, &[("KAIRAN__SUBSCRIBE__RATE_LIMIT_PER_MINUTE", "3")]).await;
    let mut statuses = Vec::new();
    let mut last = String::new();
    for i in 0..5 {
        let email = format!("r{i}@example.jp");
        let (status, body) = subscribe(
            &app,
            "ja",
            &[("email", &email), ("lang", "ja"), ("consent", "yes")],
        )
        .await;
        statuses.push(status.as_u16());
        last = body;
    }
    // A minute boundary may fall inside the loop: at least one refusal, at most 3 per minute.
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s == 200).count() <= 4,
        "{statuses:?}"
    );
    if statuses[4] == 429 {
        assert!(last.contains("アクセスが集中しています"), "{last}");
    }
    app.stop().await;
}

async fn an_oversized_form_is_refused_with_a_localised_page(db: TestDb) {
    let app = App::start(db, &[]).await;
    let big = format!(
        "email=a%40example.jp&lang=ja&consent=yes&name={}",
        "x".repeat(64 * 1024)
    );
    let r = client()
        .post(app.url("/subscribe?lang=ja"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("読み取れませんでした"));
    assert!(
        app.store
            .list_subscribers(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    app.stop().await;
}

async fn the_admin_api_lists_adds_and_erases_subscribers_behind_the_token(db: TestDb) {
    let app = App::start(db, &[]).await;
    let c = client();
    let url = app.url("/api/subscribers");
    let body = serde_json::json!({"email": "api@example.jp", "name": "佐藤", "lang": "ja", "confirmed": true});
    let denied = c.post(&url).json(&body).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let wrong = c
        .post(&url)
        .bearer_auth("admin-token-0123456780")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        app.store
            .list_subscribers(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );

    let created = c
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let v: serde_json::Value = created.json().await.unwrap();
    assert_eq!(v["status"], "active");
    let id = v["id"].as_i64().unwrap();
    let dup = c
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 409);
    let bad = c
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"email": "nope", "lang": "ja"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert_eq!(
        bad.json::<serde_json::Value>().await.unwrap()["field"],
        "email"
    );
    let pending = c
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"email": "p@example.jp", "lang": "en"}))
        .send()
        .await
        .unwrap();
    assert_eq!(pending.status(), 201);
    app.wait_for_mails(1).await; // its confirmation

    let page: serde_json::Value = c
        .get(format!("{url}?status=active&limit=10"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["subscribers"].as_array().unwrap().len(), 1);
    assert_eq!(page["subscribers"][0]["email"], "api@example.jp");
    let first: serde_json::Value = c
        .get(format!("{url}?limit=1"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let after = first["next_after"].as_i64().unwrap();
    let second: serde_json::Value = c
        .get(format!("{url}?limit=1&after={after}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["subscribers"][0]["email"], "p@example.jp");
    let bad_filter = c
        .get(format!("{url}?status=gone"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_filter.status(), 400);

    let del = c
        .delete(format!("{url}/{id}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let erased = app
        .store
        .subscriber(SubscriberId::new(id))
        .await
        .unwrap()
        .unwrap();
    assert!(!erased.email.as_str().contains("api@"), "{}", erased.email);
    assert_eq!(erased.name, None);
    // Erased: an operator cannot add it back.
    let again = c
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let missing = c
        .delete(format!("{url}/999999"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    app.stop().await;
}
