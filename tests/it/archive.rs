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

/// Issue 13: per-language Atom feeds with the full content of every sent issue, `xml:lang`,
/// stable ids, announced by `<link rel=alternate>` on the archive pages; parsed as XML.
async fn the_archive_has_an_atom_feed_per_language(db: TestDb) {
    let app = TestApp::spawn(db, &[]).await;
    let f = crate::helpers::fixture_dir();
    let content = |file: &str| {
        kairan::app::editorial::parse_source(file, &std::fs::read(f.join(file)).unwrap())
            .map(valid)
            .unwrap()
    };
    let (ja, en) = (content("ja.md"), content("en.md"));
    let new = |slug: &str| kairan::domain::NewIssue {
        slug: slug.into(),
        state: IssueState::Queued,
        send_at: None,
        ja: ja.clone(),
        en: en.clone(),
        now: now(),
    };
    for slug in ["2026-11", "2026-12"] {
        let id = app.store.insert_issue(&new(slug)).await.unwrap();
        app.store.start_campaign(id, now()).await.unwrap();
    }
    app.store.insert_issue(&new("2027-01")).await.unwrap();
    let c = reqwest::Client::new();
    let list = c
        .get(app.url("/archive?lang=ja"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for lang in ["ja", "en"] {
        assert!(
            list.contains(&format!(
                r#"<link rel="alternate" type="application/atom+xml" href="/archive/{lang}.atom" hreflang="{lang}""#
            )),
            "{list}"
        );
    }
    let mut ids = Vec::new();
    for (lang, subject, body) in [
        (
            "ja",
            "十二月号：技能実習生の権利を守るために",
            "今年の主な相談内容",
        ),
        ("en", "A year of our help desk", "A year of our help desk"),
    ] {
        let r = c
            .get(app.url(&format!("/archive/{lang}.atom")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/atom+xml")
        );
        let text = r.text().await.unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let feed = doc.root_element();
        assert_eq!(feed.tag_name().name(), "feed");
        assert_eq!(
            feed.tag_name().namespace(),
            Some("http://www.w3.org/2005/Atom")
        );
        assert_eq!(
            feed.attribute(("http://www.w3.org/XML/1998/namespace", "lang")),
            Some(lang)
        );
        let entries: Vec<_> = feed
            .children()
            .filter(|n| n.has_tag_name("entry"))
            .collect();
        assert_eq!(entries.len(), 2, "the two sent issues, not the queued one");
        let child = |n: roxmltree::Node, name: &str| {
            n.children()
                .find(|c| c.has_tag_name(name))
                .and_then(|c| c.text())
                .unwrap_or_default()
                .to_owned()
        };
        for e in &entries {
            assert!(child(*e, "title").contains(subject) || lang == "en");
            let html = child(*e, "content");
            assert!(html.contains(body), "full content: {html}");
            assert!(html.contains("<h2>"), "as HTML: {html}");
            ids.push(child(*e, "id"));
        }
        assert!(!text.contains("2027-01"));
    }
    // Stable, distinct ids: one per issue, the same in both languages and on every fetch.
    assert!(ids[0].ends_with("/archive/2026-12") || ids[0].ends_with("/archive/2026-11"));
    assert_eq!(ids[..2], ids[2..]);
    assert_ne!(ids[0], ids[1]);
    let again = c
        .get(app.url("/archive/ja.atom"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(again.contains(&format!("<id>{}</id>", ids[0])));
    // The heading scale of an issue: `#` larger than `##` larger than `###`.
    let css = c
        .get(app.url("/static/kairan.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let size = |sel: &str| -> f64 {
        let rule = css
            .lines()
            .rev()
            .find(|l| l.starts_with(&format!("{sel} {{")))
            .unwrap_or_else(|| panic!("no {sel} rule"));
        let v = rule.split("font-size:").nth(1).unwrap();
        v.trim().split("rem").next().unwrap().parse().unwrap()
    };
    assert!(size(".issue h1") > size(".issue h2") && size(".issue h2") > size(".issue h3"));
    app.stop().await;
}

#[tokio::test]
async fn the_archive_has_an_atom_feed_per_language_on_sqlite() {
    the_archive_has_an_atom_feed_per_language(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn the_archive_has_an_atom_feed_per_language_on_postgres() {
    the_archive_has_an_atom_feed_per_language(TestDb::postgres().await).await;
}
