//! Issue 13 on the real app, each test on SQLite and PostgreSQL: the abuse resistance of the
//! subscribe form (honeypot, fill time, caps, all in /metrics), embedding from the
//! organisation's site, the dead-end-free unsubscribe and the self-service of the
//! preferences page. (Confirmation by button is in `subscribe.rs`, which drives the whole
//! double opt-in.)

use std::time::Duration;

use kairan::app::reader_guard::form_stamp;
use kairan::domain::SubscriberStatus;

use crate::helpers::TestDb;
use crate::helpers::both_backends;
use crate::subscribe::{App, client, hidden_field};

both_backends!(
    bots_get_the_same_page_and_nothing_is_stored_or_sent,
    confirmation_mails_per_address_and_sign_ups_per_domain_are_capped,
    the_form_embedded_on_a_listed_site_is_accepted_and_other_sites_are_refused,
    a_broken_link_offers_an_unsubscribe_link_the_same_way_known_or_not,
    the_preferences_page_downloads_the_data_and_erases_the_reader,
    pages_and_mails_carry_the_organisation_and_leave_out_empty_footer_lines,
);

/// A stamp as our form carries it, served `secs_ago` seconds ago.
fn stamp(app: &App, secs_ago: i64) -> String {
    form_stamp(
        &app.signer,
        chrono::Utc::now() - chrono::Duration::seconds(secs_ago),
    )
}

async fn post(app: &App, fields: &[(&str, &str)]) -> (u16, String) {
    let r = client()
        .post(app.url("/subscribe?lang=ja"))
        .form(fields)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn count(app: &App) -> usize {
    app.store
        .list_subscribers(&Default::default())
        .await
        .unwrap()
        .len()
}

/// The value of `kairan_reader_refused_total{reason="…"}` (0 when absent).
pub async fn refused(app: &App, reason: &str) -> f64 {
    let text = client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("kairan_reader_refused_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

/// Polls until the outbox holds `n` mails, then checks for a moment that no more come.
async fn exactly_mails(app: &App, n: usize) {
    app.wait_for_mails(n).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.mails().len(), n);
}

async fn bots_get_the_same_page_and_nothing_is_stored_or_sent(db: TestDb) {
    let app = App::start(db, &[("KAIRAN__SUBSCRIBE__MIN_FILL_TIME", "3s")]).await;
    // The form as served carries a stamp and a honeypot a person does not see.
    let form = client()
        .get(app.url("/subscribe?lang=ja"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let served = hidden_field(&form, "stamp");
    assert!(form.contains(r#"name="homepage""#) && form.contains(r#"class="hp""#));
    let (honeypot0, fast0) = (
        refused(&app, "honeypot").await,
        refused(&app, "too_fast").await,
    );

    let fields = |email: &'static str| {
        vec![
            ("email", email),
            ("name", "スパム送信"),
            ("lang", "ja"),
            ("consent", "yes"),
        ]
    };
    // The real answer, for comparison, from a reader who took their time.
    let good = stamp(&app, 10);
    let mut f = fields("reader@example.jp");
    f.push(("stamp", &good));
    let (status, person) = post(&app, &f).await;
    assert_eq!(status, 200);
    assert!(person.contains("メールをご確認ください"));
    exactly_mails(&app, 1).await;

    // Sent at once (the stamp just served): a bot. Same page, nothing stored or sent.
    let mut f = fields("victim@example.jp");
    f.push(("stamp", &served));
    assert_eq!(post(&app, &f).await, (200, person.clone()));
    // The honeypot filled in, however slowly.
    let mut f = fields("victim@example.jp");
    f.push(("stamp", &good));
    f.push(("homepage", "https://spam.example"));
    assert_eq!(post(&app, &f).await, (200, person.clone()));
    // A forged stamp (another key) or none: the form again, filled in, with a fresh stamp.
    for bad in ["", "1700000000.AAAAAAAAAAAAAA", "garbage"] {
        let mut f = fields("victim@example.jp");
        f.push(("stamp", bad));
        let (status, page) = post(&app, &f).await;
        assert_eq!(status, 200, "{bad:?}");
        assert!(page.contains("もう一度"), "{page}");
        assert!(page.contains(r#"value="victim@example.jp""#));
        assert_ne!(hidden_field(&page, "stamp"), bad);
    }
    assert_eq!(count(&app).await, 1, "only the reader");
    exactly_mails(&app, 1).await;
    assert!(refused(&app, "honeypot").await >= honeypot0 + 1.0);
    assert!(refused(&app, "too_fast").await >= fast0 + 1.0);
    app.stop().await;
}

async fn confirmation_mails_per_address_and_sign_ups_per_domain_are_capped(db: TestDb) {
    let app = App::start(
        db,
        &[
            ("KAIRAN__SUBSCRIBE__RESEND_INTERVAL", "0s"),
            ("KAIRAN__SUBSCRIBE__CONFIRMATIONS_PER_ADDRESS_PER_DAY", "2"),
            ("KAIRAN__SUBSCRIBE__PENDING_PER_DOMAIN_PER_HOUR", "3"),
            ("KAIRAN__SUBSCRIBE__RATE_LIMIT_PER_MINUTE", "1000"),
        ],
    )
    .await;
    let (addr0, domain0) = (
        refused(&app, "address_cap").await,
        refused(&app, "domain_cap").await,
    );
    let s = stamp(&app, 10);
    let form = |email: &'static str| {
        vec![
            ("email", email),
            ("lang", "en"),
            ("consent", "yes"),
            ("stamp", s.as_str()),
        ]
    };
    // One address bombed: two confirmations a day, then the same page and nothing more.
    let (_, first) = post(&app, &form("target@example.jp")).await;
    exactly_mails(&app, 1).await;
    post(&app, &form("target@example.jp")).await;
    exactly_mails(&app, 2).await;
    for _ in 0..3 {
        assert_eq!(
            post(&app, &form("target@example.jp")).await,
            (200, first.clone())
        );
    }
    exactly_mails(&app, 2).await;
    assert!(refused(&app, "address_cap").await >= addr0 + 3.0);

    // One domain flooded with new addresses: three pending an hour.
    for email in ["a@flood.example", "b@flood.example"] {
        post(&app, &form(email)).await;
    }
    assert_eq!(
        post(&app, &form("c@flood.example")).await,
        (200, first.clone())
    );
    assert_eq!(
        post(&app, &form("d@flood.example")).await,
        (200, first.clone())
    );
    assert_eq!(
        post(&app, &form("e@FLOOD.example")).await,
        (200, first.clone())
    );
    let all = app
        .store
        .list_subscribers(&Default::default())
        .await
        .unwrap();
    let flood: Vec<_> = all
        .iter()
        .filter(|s| s.email.as_str().to_lowercase().ends_with("@flood.example"))
        .collect();
    assert_eq!(flood.len(), 3, "{flood:?}");
    assert!(flood.iter().all(|s| s.status == SubscriberStatus::Pending));
    // Another domain is not affected, nor a domain that merely ends the same way.
    post(&app, &form("f@notflood.example")).await;
    post(&app, &form("g@example.jp")).await;
    assert_eq!(count(&app).await, 6);
    exactly_mails(&app, 7).await;
    assert!(refused(&app, "domain_cap").await >= domain0 + 2.0);
    app.stop().await;
}

const ORG: &str = "https://www.example.org";

async fn post_from(
    app: &App,
    origin: Option<&str>,
    referer: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut r = client().post(app.url("/subscribe?lang=ja")).form(fields);
    if let Some(o) = origin {
        r = r.header("Origin", o);
    }
    if let Some(o) = referer {
        r = r.header("Referer", o);
    }
    r.send().await.unwrap()
}

async fn the_form_embedded_on_a_listed_site_is_accepted_and_other_sites_are_refused(db: TestDb) {
    let app = App::start(
        db,
        &[
            ("KAIRAN__SUBSCRIBE__MIN_FILL_TIME", "3s"),
            (
                "KAIRAN__SUBSCRIBE__EMBED_ORIGINS",
                r#"["https://www.example.org"]"#,
            ),
            (
                "KAIRAN__SUBSCRIBE__THANK_YOU_URL",
                "https://www.example.org/thanks",
            ),
        ],
    )
    .await;
    // The snippet, in both languages, posting here, with no script.
    let embed = client()
        .get(app.url("/subscribe/embed?lang=en"))
        .send()
        .await
        .unwrap();
    assert_eq!(embed.status(), 200);
    let page = embed.text().await.unwrap();
    assert!(page.contains("https://www.example.org") && page.contains("購読"));
    let snippet = |lang: &str| {
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
    };
    for lang in ["ja", "en"] {
        let html = snippet(lang);
        let action = format!(r#"action="{}/subscribe?lang&#x3D;{lang}""#, app.base);
        assert!(html.contains(&action), "{action} in {html}");
        assert!(html.contains(&format!(r#"lang="{lang}""#)));
        assert!(!html.to_lowercase().contains("<script"), "{html}");
        for field in [
            r#"name="email""#,
            r#"name="name""#,
            r#"name="lang""#,
            r#"name="consent""#,
            r#"name="homepage""#,
            r#"name="embedded" value="1""#,
        ] {
            assert!(html.contains(field), "{field} in {html}");
        }
    }
    assert!(snippet("ja").contains("購読") && snippet("en").contains("Subscribe"));
    let foreign0 = refused(&app, "foreign_origin").await;

    let fields = |email: &'static str| {
        vec![
            ("email", email),
            ("lang", "ja"),
            ("consent", "yes"),
            ("embedded", "1"),
        ]
    };
    // Another site: refused, nothing stored.
    for (origin, referer) in [
        (Some("https://evil.example"), None),
        (Some("null"), None),
        (None, Some("https://evil.example/page")),
        (
            Some("https://evil.example"),
            Some("https://www.example.org/"),
        ),
    ] {
        let r = post_from(&app, origin, referer, &fields("victim@example.jp")).await;
        assert_eq!(r.status(), 403, "{origin:?} {referer:?}");
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("このサイトからは送信できません")
        );
    }
    assert_eq!(count(&app).await, 0);
    assert!(refused(&app, "foreign_origin").await >= foreign0 + 4.0);

    // The organisation's site: a static copy has no stamp, so the form comes back filled in,
    // on our page, to be sent once more; nothing is stored yet.
    let r = post_from(&app, Some(ORG), None, &fields("yamada@example.jp")).await;
    assert_eq!(r.status(), 200);
    let again = r.text().await.unwrap();
    assert!(again.contains(r#"value="yamada@example.jp""#) && again.contains("もう一度"));
    assert!(again.contains(r#"name="embedded" value="1""#));
    assert_eq!(count(&app).await, 0);
    // Sent again from our page, a few seconds later: stored, and back to the thank-you page.
    let mut f = fields("yamada@example.jp");
    let s = stamp(&app, 5);
    f.push(("stamp", &s));
    let r = post_from(&app, Some(&app.base), None, &f).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "https://www.example.org/thanks");
    assert_eq!(count(&app).await, 1);
    // With a stamp (a form copied from our page) the listed origin goes straight through;
    // the Referer stands in when a browser sends no Origin.
    let mut f = fields("sato@example.jp");
    f.push(("stamp", &s));
    let r = post_from(&app, None, Some("https://www.example.org/news/join"), &f).await;
    assert_eq!(r.status(), 303);
    // Our own page, not embedded: the page, not the redirect.
    let f = vec![
        ("email", "own@example.jp"),
        ("lang", "en"),
        ("consent", "yes"),
        ("stamp", s.as_str()),
    ];
    let r = post_from(&app, Some(&app.base), None, &f).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("メールをご確認ください"));
    assert_eq!(count(&app).await, 3);
    exactly_mails(&app, 3).await;
    app.stop().await;
}

async fn a_broken_link_offers_an_unsubscribe_link_the_same_way_known_or_not(db: TestDb) {
    let app = App::start(
        db,
        &[("KAIRAN__SUBSCRIBE__CONFIRMATIONS_PER_ADDRESS_PER_DAY", "2")],
    )
    .await;
    // An active reader (added by an operator: no mail), and a broken link.
    let reg = kairan::app::subscription::Registration {
        email: kairan::domain::EmailAddress::parse("kept@example.jp").unwrap(),
        name: Some("田中 一郎".into()),
        lang: kairan::domain::LangPref::Ja,
        by: kairan::app::subscription::Requester::Operator {
            via: kairan::domain::SubscriptionSource::Api,
            confirmed: true,
        },
    };
    kairan::app::subscription::register(
        app.store.as_ref(),
        &reg,
        Duration::from_secs(600),
        kairan::app::subscription::Mail::Never,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let broken = client()
        .get(app.url("/unsubscribe/AAAAbroken?lang=ja"))
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    let page = broken.text().await.unwrap();
    assert!(page.contains("このリンクは無効です"), "{page}");
    assert!(page.contains(r#"action="/unsubscribe/request?lang=ja""#));
    assert!(
        page.contains("mailto:info@example.org"),
        "the contact address"
    );

    let (request_url, base) = (app.url("/unsubscribe/request?lang=ja"), app.base.clone());
    let ask = |email: &'static str| {
        let (request_url, base) = (request_url.clone(), base.clone());
        async move {
            let r = client()
                .post(request_url)
                .header("Origin", base)
                .form(&[("email", email)])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let known = ask("Kept@Example.JP").await;
    let unknown = ask("nobody@example.jp").await;
    assert_eq!(known.0, 200);
    assert_eq!(known, unknown, "the same answer, known or not");
    assert!(known.1.contains("info@example.org"));
    // The mail: through the outbox, in the reader's language, with a working link, and no
    // name typed by anyone.
    let mails = app.wait_for_mails(1).await;
    let raw = std::fs::read(&mails[0]).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert!(
        msg.subject().unwrap().contains("購読解除の方法"),
        "{:?}",
        msg.subject()
    );
    let text = msg.body_text(0).unwrap();
    assert!(text.contains("配信停止用リンクのご依頼"), "{text}");
    let link = crate::subscribe::link_in(&mails[0], "/unsubscribe/");
    let page = client().get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // Capped like confirmations: two a day, then the same answer and nothing sent.
    let capped0 = refused(&app, "address_cap").await;
    assert_eq!(ask("kept@example.jp").await, known);
    app.wait_for_mails(2).await;
    assert_eq!(ask("kept@example.jp").await, known);
    exactly_mails(&app, 2).await;
    assert!(refused(&app, "address_cap").await >= capped0 + 1.0);
    // A bad address gets the form back with its error; another site is refused.
    let (status, page) = ask("not an address").await;
    assert_eq!(status, 422);
    assert!(page.contains(r#"aria-invalid="true""#));
    let r = client()
        .post(app.url("/unsubscribe/request"))
        .header("Origin", "https://evil.example")
        .form(&[("email", "kept@example.jp")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    exactly_mails(&app, 2).await;
    app.stop().await;
}

async fn the_preferences_page_downloads_the_data_and_erases_the_reader(db: TestDb) {
    let app = App::start(db, &[]).await;
    let (status, _) = post(
        &app,
        &[
            ("email", "erase.me@example.jp"),
            ("name", "消去 希望"),
            ("lang", "ja"),
            ("consent", "yes"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let sub = app
        .store
        .subscriber_by_email(&kairan::domain::EmailAddress::parse("erase.me@example.jp").unwrap())
        .await
        .unwrap()
        .unwrap();
    let token = app.signer.sign(
        sub.id.get(),
        kairan::domain::Purpose::Preferences,
        chrono::Utc::now(),
    );
    let url = app.url(&format!("/preferences/{token}"));
    let page = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("データをダウンロード") && page.contains("削除する"),
        "{page}"
    );
    let guard = hidden_field(&page, "guard");

    // Both need the page's guard.
    for action in ["download", "erase"] {
        let r = client()
            .post(&url)
            .form(&[("action", action)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{action}");
    }
    let r = client()
        .post(&url)
        .form(&[("action", "download"), ("guard", guard.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let data: serde_json::Value = r.json().await.unwrap();
    assert_eq!(data["subscriber"]["email"], "erase.me@example.jp");
    assert_eq!(data["subscriber"]["name"], "消去 希望");
    assert_eq!(data["subscriber"]["status"], "pending");
    let consents = data["consents"].as_array().unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0]["ip"], "127.0.0.1");
    assert!(
        consents[0]["consent_text_sha256"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    let r = client()
        .post(&url)
        .form(&[("action", "erase"), ("guard", guard.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("データを削除しました"));
    // As `subscribers erase`: the address is gone from the store.
    assert!(
        app.store
            .subscriber_by_email(
                &kairan::domain::EmailAddress::parse("erase.me@example.jp").unwrap()
            )
            .await
            .unwrap()
            .is_none()
    );
    let after = app.store.subscriber(sub.id).await.unwrap().unwrap();
    assert_eq!(after.status, SubscriberStatus::Unsubscribed);
    assert_eq!(after.unsubscribe_method.as_deref(), Some("erased"));
    assert!(after.name.is_none() && after.email.as_str().ends_with("@erased.invalid"));
    app.stop().await;
}

async fn pages_and_mails_carry_the_organisation_and_leave_out_empty_footer_lines(db: TestDb) {
    let app = App::start(
        db,
        &[
            ("KAIRAN__NEWSLETTER__ORGANISATION", "NPO法人かいらん"),
            ("KAIRAN__NEWSLETTER__EN__ORGANISATION", "Kairan NPO"),
            ("KAIRAN__NEWSLETTER__WEBSITE", "https://www.example.org/"),
            (
                "KAIRAN__NEWSLETTER__LOGO_URL",
                "https://cdn.example.org/logo.png",
            ),
            (
                "KAIRAN__NEWSLETTER__PRIVACY_URL",
                "https://www.example.org/privacy",
            ),
            // Empty settings: their footer lines are left out.
            ("KAIRAN__NEWSLETTER__CONTACT", ""),
            ("KAIRAN__NEWSLETTER__JA__POSTAL_ADDRESS", ""),
        ],
    )
    .await;
    for (lang, org, heading) in [
        ("ja", "NPO法人かいらん", "NPO法人かいらん ニュースレター"),
        ("en", "Kairan NPO", "Subscribe to Kairan NPO newsletter"),
    ] {
        let r = client()
            .get(app.url(&format!("/subscribe?lang={lang}")))
            .send()
            .await
            .unwrap();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("img-src 'self' https://cdn.example.org;"),
            "{csp}"
        );
        let page = r.text().await.unwrap();
        assert!(page.contains(org) && page.contains(heading), "{page}");
        assert!(!page.contains("Monthly newsletter") && !page.contains("月刊ニュースレター"));
        assert!(page.contains(r#"<img src="https://cdn.example.org/logo.png""#));
        assert!(page.contains(r#"href="https://www.example.org/privacy""#));
        assert!(
            !page.contains("mailto:"),
            "no contact line without a contact"
        );
    }
    let (status, _) = post(
        &app,
        &[
            ("email", "brand@example.jp"),
            ("lang", "both"),
            ("consent", "yes"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let mails = app.wait_for_mails(1).await;
    let raw = std::fs::read(&mails[0]).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let text = msg.body_text(0).unwrap();
    let text = text.replace("\r\n", "\n");
    assert!(text.contains("送信者：NPO法人かいらん\n"), "{text}");
    assert!(text.contains("Sent by Kairan NPO"), "{text}");
    assert!(text.contains("プライバシーポリシー：https://www.example.org/privacy"));
    assert!(text.contains("https://www.example.org/\n"));
    assert!(!text.contains("（）") && !text.contains("Contact:") && !text.contains("お問い合わせ"));
    let html = msg.body_html(0).unwrap();
    assert!(html.contains(r#"<img src="https://cdn.example.org/logo.png""#));
    // The long confirm link wraps on a phone instead of running off the screen.
    let shown: Vec<&str> = html
        .split("<p")
        .filter(|p| p.contains("/confirm/") && !p.contains("href"))
        .collect();
    assert!(!shown.is_empty(), "{html}");
    for para in shown {
        assert!(para.contains("overflow-wrap:anywhere"), "{para}");
    }
    app.stop().await;
}
