//! Issue 13's reader journey in headless Chromium, in Japanese and in English, at phone and
//! desktop widths: the embed snippet on a page served from ANOTHER local origin (a tiny
//! server on another port, listed in `subscribe.embed_origins`) → subscribe → the
//! organisation's thank-you page → the confirm button → preferences → unsubscribe; and the
//! broken-link path ("send me an unsubscribe link"). Screenshots of every step go to
//! `target/screenshots/reader/`.

use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use kairan::domain::SubscriberStatus;

use crate::browser::{chromedriver, expect_h1};
use crate::helpers::{TestDb, free_port};
use crate::subscribe::{App, client, link_in};

/// The organisation's own site: a page with the pasted snippet and a thank-you page.
pub(crate) async fn organisation_site(
    port: u16,
    snippets: [String; 2],
) -> tokio::task::JoinHandle<()> {
    use axum::response::Html;
    let [ja, en] = snippets;
    let page = |title: &str, lang: &str, body: String| {
        Html(format!(
            "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
        ))
    };
    let join_ja = page("NPO法人かいらん", "ja", ja);
    let join_en = page("Kairan NPO", "en", en);
    let thanks = page("Thank you", "en", "<p>Check your inbox.</p>".into());
    let app = axum::Router::new()
        .route("/ja", axum::routing::get(move || async move { join_ja }))
        .route("/en", axum::routing::get(move || async move { join_en }))
        .route("/thanks", axum::routing::get(move || async move { thanks }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    })
}

/// The snippet in `lang` as `GET /subscribe/embed` shows it for copying.
pub(crate) async fn snippet(app: &App, lang: &str) -> String {
    let page = client()
        .get(app.url("/subscribe/embed"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page
        .find(&format!("<textarea id=\"snippet-{lang}\""))
        .unwrap();
    let body = &page[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</textarea>").unwrap()];
    body.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x3D;", "=")
        .replace("&#x60;", "`")
        .replace("&amp;", "&")
}

fn shot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/reader");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &fantoccini::Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(shot_dir().join(format!("{name}.png")), png).unwrap();
}

struct Texts {
    confirm: &'static str,
    confirmed: &'static str,
    preferences: &'static str,
    unsubscribed: &'static str,
    invalid: &'static str,
    requested: &'static str,
}

const JA: Texts = Texts {
    confirm: "購読の確認",
    confirmed: "購読が確定しました",
    preferences: "購読の設定",
    unsubscribed: "購読を解除しました",
    invalid: "このリンクは無効です",
    requested: "メールをご確認ください",
};

const EN: Texts = Texts {
    confirm: "Confirm your subscription",
    confirmed: "You are subscribed",
    preferences: "Your preferences",
    unsubscribed: "You are unsubscribed",
    invalid: "This link is not valid",
    requested: "Check your inbox",
};

#[tokio::test]
async fn a_reader_joins_from_the_organisations_site_and_leaves_in_chromium() {
    let org_port = free_port();
    let org = format!("http://127.0.0.1:{org_port}");
    let app = App::start(
        TestDb::sqlite().await,
        &[
            ("KAIRAN__SUBSCRIBE__EMBED_ORIGINS", &format!("[\"{org}\"]")),
            ("KAIRAN__SUBSCRIBE__THANK_YOU_URL", &format!("{org}/thanks")),
            ("KAIRAN__NEWSLETTER__ORGANISATION", "NPO法人かいらん"),
            ("KAIRAN__NEWSLETTER__EN__ORGANISATION", "Kairan NPO"),
            ("KAIRAN__NEWSLETTER__WEBSITE", "https://www.example.org/"),
            (
                "KAIRAN__NEWSLETTER__PRIVACY_URL",
                "https://www.example.org/privacy",
            ),
        ],
    )
    .await;
    let site = organisation_site(
        org_port,
        [snippet(&app, "ja").await, snippet(&app, "en").await],
    )
    .await;
    let driver = chromedriver().await;
    let mut mails_seen = 0;
    for (width, height, device) in [(390, 844, "phone"), (1280, 900, "desktop")] {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--lang=en-US",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}/{device}", driver.profile.path().display()),
                ],
            }),
        );
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("a Chromium session through chromedriver");
        for (lang, t) in [("ja", &JA), ("en", &EN)] {
            c.delete_all_cookies().await.unwrap();
            let email = format!("{device}.{lang}@example.jp");
            // The organisation's page, with the pasted form.
            c.goto(&format!("{org}/{lang}")).await.unwrap();
            shot(&c, &format!("1-embedded-{lang}-{device}")).await;
            c.find(Locator::Css("input[name=email]"))
                .await
                .unwrap()
                .send_keys(&email)
                .await
                .unwrap();
            c.find(Locator::Css("input[name=consent]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            c.find(Locator::Css("button[type=submit]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            // Back on the organisation's site.
            expect_h1(&c, "Thank you").await;
            assert!(c.current_url().await.unwrap().as_str().starts_with(&org));
            let addr = kairan::domain::EmailAddress::parse(&email).unwrap();
            let sub = app.store.subscriber_by_email(&addr).await.unwrap().unwrap();
            assert_eq!(sub.status, SubscriberStatus::Pending);
            assert_eq!(
                sub.lang.as_str(),
                lang,
                "the snippet's language is preselected"
            );

            // The confirmation link: a page with one button, in the reader's language.
            mails_seen += 1;
            let mails = app.wait_for_mails(mails_seen).await;
            let confirm = link_in(&mails[mails_seen - 1], "/confirm/");
            c.goto(&confirm).await.unwrap();
            expect_h1(&c, t.confirm).await;
            shot(&c, &format!("2-confirm-{lang}-{device}")).await;
            assert_eq!(
                app.store.subscriber(sub.id).await.unwrap().unwrap().status,
                SubscriberStatus::Pending,
                "opening the link changes nothing"
            );
            c.find(Locator::Id("confirm-button"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            expect_h1(&c, t.confirmed).await;
            shot(&c, &format!("3-confirmed-{lang}-{device}")).await;
            assert_eq!(
                app.store.subscriber(sub.id).await.unwrap().unwrap().status,
                SubscriberStatus::Active
            );
            mails_seen += 1; // the welcome

            // Preferences, then unsubscribe from there.
            c.find(Locator::Css("a[href^='/preferences/']"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            expect_h1(&c, t.preferences).await;
            shot(&c, &format!("4-preferences-{lang}-{device}")).await;
            c.find(Locator::Css("button[value=unsubscribe]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            expect_h1(&c, t.unsubscribed).await;
            shot(&c, &format!("5-unsubscribed-{lang}-{device}")).await;
            let gone = app.store.subscriber(sub.id).await.unwrap().unwrap();
            assert_eq!(gone.status, SubscriberStatus::Unsubscribed);
            assert_eq!(gone.unsubscribe_method.as_deref(), Some("preferences"));

            // The broken-link path: a way out, not a dead end.
            c.goto(&app.url(&format!("/unsubscribe/broken-link?lang={lang}")))
                .await
                .unwrap();
            expect_h1(&c, t.invalid).await;
            shot(&c, &format!("6-broken-link-{lang}-{device}")).await;
            c.find(Locator::Id("email"))
                .await
                .unwrap()
                .send_keys(&format!("someone.{device}@example.jp"))
                .await
                .unwrap();
            c.find(Locator::Id("link-request-button"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            expect_h1(&c, t.requested).await;
            shot(&c, &format!("7-link-requested-{lang}-{device}")).await;
        }
        c.close().await.unwrap();
    }
    // Every mail expected, and nothing for the unknown addresses of the broken-link path.
    app.wait_for_mails(mails_seen).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.mails().len(), mails_seen);
    drop(driver);
    site.abort();
    app.stop().await;
}
