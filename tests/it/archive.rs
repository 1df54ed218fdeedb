//! The web archive ("view in browser"): sent issues in the reader's language.

use kairan::domain::IssueState;

use crate::helpers::{TestApp, TestDb, now};

async fn the_archive_shows_started_issues_in_the_page_language(db: TestDb) {
    let app = TestApp::spawn(db, &[]).await;
    let f = crate::helpers::fixture_dir();
    let ja =
        kairan::app::editorial::parse_source("ja.md", &std::fs::read(f.join("ja.md")).unwrap())
            .map(valid)
            .unwrap();
    let en =
        kairan::app::editorial::parse_source("en.md", &std::fs::read(f.join("en.md")).unwrap())
            .map(valid)
            .unwrap();
    let new = |slug: &str| kairan::domain::NewIssue {
        slug: slug.into(),
        state: IssueState::Queued,
        send_at: None,
        ja: ja.clone(),
        en: en.clone(),
        now: now(),
    };
    let sent = app.store.insert_issue(&new("2026-12")).await.unwrap();
    app.store.start_campaign(sent, now()).await.unwrap();
    app.store.insert_issue(&new("2027-01")).await.unwrap();
    let c = reqwest::Client::new();

    let list = c.get(app.url("/archive?lang=ja")).send().await.unwrap();
    assert_eq!(list.status(), 200);
    let html = list.text().await.unwrap();
    assert!(
        html.contains("十二月号：技能実習生の権利を守るために"),
        "{html}"
    );
    assert!(html.contains("/archive/2026-12?lang=ja"));
    assert!(!html.contains("2027-01"), "a queued issue is not published");

    let ja_page = c
        .get(app.url("/archive/2026-12?lang=ja"))
        .send()
        .await
        .unwrap();
    assert_eq!(ja_page.status(), 200);
    let csp = ja_page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("img-src 'self' https:") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let html = ja_page.text().await.unwrap();
    assert!(html.contains("<title>十二月号：技能実習生の権利を守るために</title>"));
    assert!(html.contains("<h2>今年の主な相談内容</h2>"));
    assert!(html.contains(r#"<img src="https://example.org/images/soudankai-2026.jpg""#));
    assert!(
        html.contains(r#"href="/archive/2026-12?lang=en""#),
        "links to the other language"
    );

    let en_page = c
        .get(app.url("/archive/2026-12"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap();
    assert!(
        en_page
            .text()
            .await
            .unwrap()
            .contains("A year of our help desk")
    );

    for missing in ["/archive/2027-01", "/archive/nope?lang=ja"] {
        let r = c.get(app.url(missing)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }
    let r = c
        .get(app.url("/archive/nope?lang=ja"))
        .send()
        .await
        .unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("お探しの号は見つかりませんでした")
    );
    app.stop().await;
}

#[tokio::test]
async fn the_archive_shows_started_issues_in_the_page_language_on_sqlite() {
    the_archive_shows_started_issues_in_the_page_language(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn the_archive_shows_started_issues_in_the_page_language_on_postgres() {
    the_archive_shows_started_issues_in_the_page_language(TestDb::postgres().await).await;
}

/// The fixture's content, which must pass the editorial checks.
fn valid(d: kairan::app::editorial::Draft) -> kairan::domain::IssueContent {
    assert_eq!(d.problems(), [], "the fixture is a valid issue");
    d.content
}
