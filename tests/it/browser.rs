//! The reader's whole journey in headless Chromium (Debian `chromium` + `chromium-driver`,
//! installed by scripts/test): the Japanese subscribe form, the confirmation link from the
//! outbox, then unsubscribing with the page's button. Fails loudly when Chromium is missing.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use kairan::domain::SubscriberStatus;

use crate::helpers::{TestDb, free_port};
use crate::subscribe::{App, link_in};

pub(crate) struct Driver {
    child: Child,
    pub(crate) port: u16,
    pub(crate) profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// A headless Chromium session through this driver, its window `width` × `height`, with
    /// the driver's own profile folder (the console journeys' browser).
    pub(crate) async fn session(&self, width: u32, height: u32) -> fantoccini::Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", self.profile.path().display()),
                ],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session through chromedriver")
    }
}

pub(crate) async fn chromedriver() -> Driver {
    let bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect(
            "chromedriver not found: install the Debian packages `chromium` and \
             `chromium-driver` (scripts/test does)",
        );
    let port = free_port();
    let mut child = Command::new(bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Driver {
                child,
                port,
                profile: tempfile::tempdir().unwrap(),
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("chromedriver did not listen on port {port}");
}

/// Waits (up to 10 s) until the page's `h1` reads `expected`: a click's navigation is async.
pub(crate) async fn expect_h1(c: &fantoccini::Client, expected: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(h1) = c.find(Locator::Css("h1")).await
            && let Ok(text) = h1.text().await
        {
            if text == expected {
                return;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("expected the heading `{expected}`, found `{last}`");
}

#[tokio::test]
async fn a_reader_subscribes_in_japanese_confirms_and_unsubscribes_in_chromium() {
    let app = App::start(TestDb::sqlite().await, &[]).await;
    let driver = chromedriver().await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=412,915",
                format!("--user-data-dir={}", driver.profile.path().display()),
            ],
        }),
    );
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session through chromedriver");

    // The Japanese form, as a phone shows it.
    c.goto(&app.url("/subscribe?lang=ja")).await.unwrap();
    expect_h1(&c, "月刊ニュースレターの購読").await;
    let shot = c.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(dir.join("subscribe-ja.png"), &shot).unwrap();
    assert!(shot.starts_with(b"\x89PNG"));

    c.find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys("taro.yamada@example.jp")
        .await
        .unwrap();
    c.find(Locator::Id("name"))
        .await
        .unwrap()
        .send_keys("山田 太郎")
        .await
        .unwrap();
    c.find(Locator::Css("input[name=lang][value=both]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("consent"))
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
    expect_h1(&c, "メールをご確認ください").await;

    let email = kairan::domain::EmailAddress::parse("taro.yamada@example.jp").unwrap();
    let sub = app
        .store
        .subscriber_by_email(&email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub.status, SubscriberStatus::Pending);
    assert_eq!(sub.name.as_deref(), Some("山田 太郎"));
    assert_eq!(sub.lang.as_str(), "both");

    // The link from the confirmation mail in the outbox.
    let mails = app.wait_for_mails(1).await;
    let confirm = link_in(&mails[0], "/confirm/");
    c.goto(&confirm).await.unwrap();
    // Opening the link changes nothing: one button does (the cookie set by ?lang=ja carries
    // over).
    expect_h1(&c, "購読の確認").await;
    assert_eq!(
        app.store.subscriber(sub.id).await.unwrap().unwrap().status,
        SubscriberStatus::Pending
    );
    c.find(Locator::Id("confirm-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    expect_h1(&c, "購読が確定しました").await;
    let sub = app.store.subscriber(sub.id).await.unwrap().unwrap();
    assert_eq!(sub.status, SubscriberStatus::Active);

    // Unsubscribe through the page's button (the link from the welcome mail).
    let mails = app.wait_for_mails(2).await;
    let unsubscribe = link_in(&mails[1], "/unsubscribe/");
    c.goto(&unsubscribe).await.unwrap();
    expect_h1(&c, "購読の解除").await;
    assert_eq!(
        app.store.subscriber(sub.id).await.unwrap().unwrap().status,
        SubscriberStatus::Active,
        "opening the page changes nothing"
    );
    c.find(Locator::Id("unsubscribe-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    expect_h1(&c, "購読を解除しました").await;
    let gone = app.store.subscriber(sub.id).await.unwrap().unwrap();
    assert_eq!(gone.status, SubscriberStatus::Unsubscribed);
    assert_eq!(gone.unsubscribe_method.as_deref(), Some("page"));

    c.close().await.unwrap();
    drop(driver);
    app.stop().await;
}
