//! The console's login journey in headless Chromium (issue 14), in Japanese and in English,
//! with `console.require_totp = true`: the setup link from `kairan users add`, the password
//! form, the first login sent to two-factor enrolment, the code typed from the key shown,
//! the recovery codes, the dashboard, logout, and a second login with a TOTP code.
//! Screenshots of each page at phone (390 px) and desktop (1280 px) widths go to
//! `target/screenshots/console/`.

use std::time::Duration;

use chrono::Utc;
use fantoccini::Locator;

use crate::browser::chromedriver;
use crate::console::Server;
use crate::helpers::TestDb;

/// Waits (up to 20 s) until an element matching `css` is on the page: a form's answer may
/// keep the heading, so the step's own result is waited for.
async fn wait_for(c: &fantoccini::Client, css: &str) {
    for _ in 0..200 {
        if c.find(Locator::Css(css)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("`{css}` did not appear");
}

async fn expect_h1(c: &fantoccini::Client, expected: &str) {
    let mut last = String::new();
    for _ in 0..200 {
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

/// Screenshots at phone and desktop widths: `target/screenshots/console/{name}-{lang}-{w}.png`.
async fn shots(c: &fantoccini::Client, name: &str, lang: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/console");
    std::fs::create_dir_all(&dir).unwrap();
    for (w, h) in [(390u32, 844u32), (1280, 800)] {
        c.set_window_size(w, h).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(dir.join(format!("{name}-{lang}-{w}.png")), png).unwrap();
    }
    c.set_window_size(390, 844).await.unwrap();
}

async fn fill(c: &fantoccini::Client, id: &str, text: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn submit(c: &fantoccini::Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

struct Texts {
    setup: &'static str,
    login: &'static str,
    totp: &'static str,
    dashboard: &'static str,
}

const JA: Texts = Texts {
    setup: "パスワードの設定",
    login: "ログイン",
    totp: "二要素認証",
    dashboard: "ダッシュボード",
};
const EN: Texts = Texts {
    setup: "Set your password",
    login: "Sign in",
    totp: "Two-factor authentication",
    dashboard: "Dashboard",
};

async fn journey(
    c: &fantoccini::Client,
    s: &Server,
    lang: &str,
    email: &str,
    name: &str,
    texts: &Texts,
) {
    let password = "kairan-春の回覧板-2026";
    let setup = s.add_user(email, "admin", name);
    c.goto(&s.url(&format!("{setup}?lang={lang}")))
        .await
        .unwrap();
    expect_h1(c, texts.setup).await;
    shots(c, "setup", lang).await;
    fill(c, "password", password).await;
    fill(c, "password_confirm", password).await;
    submit(c, "main button[type=submit]").await;
    // The password is set when the page links to the login.
    wait_for(c, "main a[href='/console/login']").await;
    expect_h1(c, texts.setup).await;

    c.goto(&s.url(&format!("/console/login?lang={lang}")))
        .await
        .unwrap();
    expect_h1(c, texts.login).await;
    shots(c, "login", lang).await;
    fill(c, "email", email).await;
    fill(c, "password", password).await;
    submit(c, "main button[type=submit]").await;
    // require_totp: the first login goes to enrolment, and nowhere else until it is done.
    expect_h1(c, texts.totp).await;
    c.goto(&s.url("/console")).await.unwrap();
    expect_h1(c, texts.totp).await;
    shots(c, "totp", lang).await;
    let secret = c
        .find(Locator::Id("totp-secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = kairan::domain::totp::base32_decode(&secret).expect("a base32 key on the page");
    let code = kairan::domain::totp::code_at(&key, Utc::now());
    fill(c, "code", &code).await;
    submit(c, "main button[type=submit]").await;
    wait_for(c, ".codes li").await;
    expect_h1(c, texts.totp).await;
    let codes = c.find_all(Locator::Css(".codes li")).await.unwrap();
    assert_eq!(codes.len(), 10, "ten recovery codes");
    shots(c, "recovery-codes", lang).await;
    submit(c, "main a[href='/console']").await;
    expect_h1(c, texts.dashboard).await;
    let body = c
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains(name), "{body}");
    shots(c, "dashboard", lang).await;

    // Logout, then a login with the password and the next TOTP step's code (the step used
    // at enrolment is not accepted twice).
    submit(c, "form.logout button").await;
    expect_h1(c, texts.login).await;
    c.goto(&s.url("/console")).await.unwrap();
    expect_h1(c, texts.login).await;
    fill(c, "email", email).await;
    fill(c, "password", password).await;
    let next = kairan::domain::totp::code_at(&key, Utc::now() + chrono::Duration::seconds(30));
    fill(c, "totp", &next).await;
    submit(c, "main button[type=submit]").await;
    expect_h1(c, texts.dashboard).await;
    submit(c, "form.logout button").await;
    expect_h1(c, texts.login).await;
}

#[tokio::test]
async fn the_console_login_with_totp_works_in_chromium_in_japanese_and_english() {
    let db = TestDb::sqlite().await;
    let s = Server::start(&db.url, &[("KAIRAN__CONSOLE__REQUIRE_TOTP", "true")]).await;
    let driver = chromedriver().await;
    let c = driver.session(390, 844).await;
    journey(&c, &s, "ja", "hanako@example.jp", "山田 花子", &JA).await;
    journey(&c, &s, "en", "mary@example.org", "Mary Smith", &EN).await;
    c.close().await.unwrap();
    drop(s);
    db.cleanup().await;
}
