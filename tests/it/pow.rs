//! The subscribe form's optional proof of work (issue 13, `subscribe.proof_of_work`): the
//! served form carries a signed challenge and loads `/static/pow.js` under a policy that
//! allows our own scripts only; a form without a challenge (an embedded copy) is shown again
//! with one; a wrong nonce, a forged challenge or a spent one get the normal "check your
//! inbox" page and nothing is stored or sent, each counted in metrics; a solved one
//! subscribes. Both backends over HTTP, then Chromium proves the script solves it on our page
//! and after a press on the pasted form of another origin (ja and en,
//! phone and desktop, screenshots in target/screenshots/pow/), and that without JavaScript
//! the page says why the form cannot be sent.

use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use sha2::{Digest, Sha256};

use crate::browser::{chromedriver, expect_h1};
use crate::helpers::TestDb;
use crate::reader::refused;
use crate::subscribe::{App, client};

const BITS: &str = "12";
const ORG: &str = "https://www.example.org";

fn value_of(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + key.len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// A nonce for `challenge` with `bits` leading zero bits, found as the browser would.
fn solve(challenge: &str, bits: u32) -> String {
    (0u64..)
        .find(|n| {
            let d = Sha256::digest(format!("{challenge}:{n}").as_bytes());
            let mut z = 0;
            for b in d {
                z += b.leading_zeros();
                if b != 0 {
                    break;
                }
            }
            z >= bits
        })
        .unwrap()
        .to_string()
}

async fn post(app: &App, fields: &[(&str, &str)], origin: Option<&str>) -> (u16, String) {
    let mut r = client().post(app.url("/subscribe?lang=ja")).form(fields);
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn subscribers(app: &App) -> usize {
    app.store
        .list_subscribers(&Default::default())
        .await
        .unwrap()
        .len()
}

async fn pow_over_http(db: TestDb) {
    let app = App::start(
        db,
        &[
            ("KAIRAN__SUBSCRIBE__PROOF_OF_WORK", BITS),
            ("KAIRAN__SUBSCRIBE__EMBED_ORIGINS", &format!("[\"{ORG}\"]")),
            ("KAIRAN__SUBSCRIBE__RATE_LIMIT_PER_MINUTE", "1000"),
        ],
    )
    .await;
    // The form: a challenge, the script, a disabled button and the no-JavaScript notice.
    let r = client()
        .get(app.url("/subscribe?lang=ja"))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = r.text().await.unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(page.contains("data-pow-bits=\"12\""), "{page}");
    assert!(page.contains("<script src=\"/static/pow.js\" defer></script>"));
    assert!(
        page.contains("このフォームには JavaScript が必要です"),
        "{page}"
    );
    assert!(page.contains("<button type=\"submit\" disabled>"));
    assert!(!page.contains("<script>"), "nothing inline");
    let en = client()
        .get(app.url("/subscribe?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("This form needs JavaScript"), "{en}");
    let js = client()
        .get(app.url("/static/pow.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.text().await.unwrap().contains("data-pow-bits"));

    let challenge = value_of(&page, "pow_challenge");
    let form = |email: &'static str, challenge: String, nonce: String| {
        move || {
            vec![
                ("email", email.to_owned()),
                ("lang", "ja".to_owned()),
                ("consent", "yes".to_owned()),
                ("pow_challenge", challenge.clone()),
                ("pow_nonce", nonce.clone()),
            ]
        }
    };
    let send = |f: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(app, &pairs, None).await
        }
    };

    // An embedded copy (no challenge): the form again, on our page, with one.
    let (status, again) = post(
        &app,
        &[
            ("email", "embedded@example.jp"),
            ("lang", "ja"),
            ("consent", "yes"),
            ("embedded", "1"),
        ],
        Some(ORG),
    )
    .await;
    assert_eq!(status, 200);
    assert!(again.contains("name=\"pow_challenge\""), "{again}");
    assert!(again.contains("embedded@example.jp"), "filled in: {again}");
    assert_eq!(subscribers(&app).await, 0);

    // Wrong nonce, forged challenge: the page anyone gets; nothing stored; counted.
    let (wrong0, forged0, reused0) = (
        refused(&app, "pow_wrong").await,
        refused(&app, "pow_invalid").await,
        refused(&app, "pow_reused").await,
    );
    let bad_nonce = (0u64..)
        .map(|n| n.to_string())
        .find(|n| {
            let d = Sha256::digest(format!("{challenge}:{n}").as_bytes());
            d[0] != 0
        })
        .unwrap();
    let (status, wrong) = send(form("bot@example.jp", challenge.clone(), bad_nonce)()).await;
    assert_eq!(status, 200);
    assert!(wrong.contains("メールをご確認ください"), "{wrong}");
    let mut forged = challenge.clone();
    forged.replace_range(0..1, if forged.starts_with('1') { "2" } else { "1" });
    let nonce = solve(&forged, 12);
    send(form("bot@example.jp", forged, nonce)()).await;
    assert_eq!(subscribers(&app).await, 0, "nothing stored");
    assert!(refused(&app, "pow_wrong").await >= wrong0 + 1.0);
    assert!(refused(&app, "pow_invalid").await >= forged0 + 1.0);

    // Solved: subscribed, and a confirmation mail; the same challenge again is spent.
    let nonce = solve(&challenge, 12);
    let (status, ok) = send(form("reader@example.jp", challenge.clone(), nonce.clone())()).await;
    assert_eq!(status, 200);
    assert_eq!(ok, wrong, "the same page as a refused bot's");
    assert_eq!(subscribers(&app).await, 1);
    app.wait_for_mails(1).await;
    send(form("second@example.jp", challenge.clone(), nonce)()).await;
    assert_eq!(subscribers(&app).await, 1, "a challenge answers one form");
    assert!(refused(&app, "pow_reused").await >= reused0 + 1.0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.mails().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn proof_of_work_over_http_on_sqlite() {
    pow_over_http(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn proof_of_work_over_http_on_postgres() {
    pow_over_http(TestDb::postgres().await).await;
}

fn shot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/pow");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &fantoccini::Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(shot_dir().join(format!("{name}.png")), png).unwrap();
}

async fn session(
    driver: &crate::browser::Driver,
    device: &str,
    width: u32,
    height: u32,
    javascript: bool,
) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    let mut options = serde_json::json!({
        "binary": "/usr/bin/chromium",
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--lang=en-US",
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}/{device}-{javascript}", driver.profile.path().display()),
        ],
    });
    if !javascript {
        options["prefs"] =
            serde_json::json!({"profile.managed_default_content_settings.javascript": 2});
    }
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session through chromedriver")
}

/// Waits until pow.js has solved the form's challenge (the form gets `data-pow-done`).
async fn solved(c: &fantoccini::Client) {
    let started = std::time::Instant::now();
    while c.find(Locator::Css("form[data-pow-done]")).await.is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            let html = c.source().await.unwrap_or_default();
            panic!("pow.js did not solve the challenge: {html}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_browser_solves_the_proof_of_work_in_chromium() {
    let org_port = crate::helpers::free_port();
    let org = format!("http://127.0.0.1:{org_port}");
    let app = App::start(
        TestDb::sqlite().await,
        &[
            ("KAIRAN__SUBSCRIBE__PROOF_OF_WORK", "16"),
            ("KAIRAN__SUBSCRIBE__RATE_LIMIT_PER_MINUTE", "1000"),
            ("KAIRAN__SUBSCRIBE__EMBED_ORIGINS", &format!("[\"{org}\"]")),
            ("KAIRAN__NEWSLETTER__ORGANISATION", "NPO法人かいらん"),
            ("KAIRAN__NEWSLETTER__EN__ORGANISATION", "Kairan NPO"),
        ],
    )
    .await;
    let site = crate::reader_journey::organisation_site(
        org_port,
        [
            crate::reader_journey::snippet(&app, "ja").await,
            crate::reader_journey::snippet(&app, "en").await,
        ],
    )
    .await;
    let driver = chromedriver().await;
    let mut n = 0;
    for (width, height, device) in [(390, 844, "phone"), (1280, 900, "desktop")] {
        let c = session(&driver, device, width, height, true).await;
        for (lang, inbox) in [("ja", "メールをご確認ください"), ("en", "Check your inbox")]
        {
            c.goto(&app.url(&format!("/subscribe?lang={lang}")))
                .await
                .unwrap();
            let email = format!("pow.{device}.{lang}@example.jp");
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
            // The script finds the nonce and enables the button (16 bits: well under 10 s).
            solved(&c).await;
            let nonce = c
                .find(Locator::Css("input[name=pow_nonce]"))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap()
                .unwrap_or_default();
            assert!(!nonce.is_empty());
            c.execute(
                "document.querySelector('button[type=submit]').scrollIntoView({block: 'center'})",
                vec![],
            )
            .await
            .unwrap();
            shot(&c, &format!("1-ready-{lang}-{device}")).await;
            c.find(Locator::Css("button[type=submit]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            expect_h1(&c, inbox).await;
            shot(&c, &format!("2-inbox-{lang}-{device}")).await;
            let addr = kairan::domain::EmailAddress::parse(&email).unwrap();
            assert!(
                app.store
                    .subscriber_by_email(&addr)
                    .await
                    .unwrap()
                    .is_some(),
                "{email} subscribed"
            );
            n += 1;
            app.wait_for_mails(n).await;

            // The pasted form on the organisation's site: the first press opens our page
            // with the form filled in and a challenge, which the script solves.
            let email = format!("embedded.{device}.{lang}@example.jp");
            c.goto(&format!("{org}/{lang}")).await.unwrap();
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
            solved(&c).await;
            assert!(
                c.current_url()
                    .await
                    .unwrap()
                    .as_str()
                    .starts_with(&app.base)
            );
            shot(&c, &format!("4-embedded-again-{lang}-{device}")).await;
            c.find(Locator::Css("button[type=submit]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            expect_h1(&c, inbox).await;
            let addr = kairan::domain::EmailAddress::parse(&email).unwrap();
            assert!(
                app.store
                    .subscriber_by_email(&addr)
                    .await
                    .unwrap()
                    .is_some(),
                "{email} subscribed from the embedded form"
            );
            n += 1;
            app.wait_for_mails(n).await;
        }
        c.close().await.unwrap();

        // Without JavaScript: the notice says why, and the button stays disabled.
        let c = session(&driver, device, width, height, false).await;
        for (lang, notice) in [
            ("ja", "このフォームには JavaScript が必要です"),
            ("en", "This form needs JavaScript"),
        ] {
            c.goto(&app.url(&format!("/subscribe?lang={lang}")))
                .await
                .unwrap();
            let text = c
                .find(Locator::Css("main"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(text.contains(notice), "{text}");
            let button = c.find(Locator::Css("button[type=submit]")).await.unwrap();
            assert!(!button.is_enabled().await.unwrap());
            shot(&c, &format!("3-nojs-{lang}-{device}")).await;
        }
        c.close().await.unwrap();
    }
    site.abort();
    app.stop().await;
}
