//! Editors' work: the admin API on both backends, and the CLI (queue, preview, send-test
//! through Postfix's smtp-sink).

use std::path::Path;

use kairan::domain::{IssueId, IssueState};
use serde_json::{Value, json};

use crate::helpers::{LEGAL, SmtpSink, TestApp, TestDb, fixture_dir};

const TOKEN: &str = "admin-token-0123456789";

fn env_with_token() -> Vec<(&'static str, &'static str)> {
    let mut env = LEGAL.to_vec();
    env.push(("KAIRAN__ADMIN__TOKEN", TOKEN));
    env
}

fn issue_json(slug: &str) -> Value {
    json!({
        "slug": slug,
        "ja": {"subject": "十二月号", "preheader": "今月のお知らせ", "markdown": "# 見出し\n\n[報告書](https://example.org/r.pdf)をご覧ください。"},
        "en": {"subject": "December issue", "markdown": "# Heading\n\nRead the [report](https://example.org/r.pdf)."}
    })
}

async fn the_admin_api_queues_shows_and_controls_issues(db: TestDb) {
    let app = TestApp::spawn(db, &env_with_token()).await;
    let c = reqwest::Client::new();

    let r = c
        .post(app.url("/api/issues"))
        .json(&issue_json("2026-12"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no token, no issue");
    assert!(app.store.list_issues().await.unwrap().is_empty());

    let r = c
        .post(app.url("/api/issues"))
        .bearer_auth(TOKEN)
        .json(&issue_json("2026-12"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = IssueId::new(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());

    let dup = c
        .post(app.url("/api/issues"))
        .bearer_auth(TOKEN)
        .json(&issue_json("2026-12"))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 409);

    let shown: Value = c
        .get(app.url(&format!("/api/issues/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["state"], "queued");
    assert_eq!(shown["ja"]["subject"], "十二月号");
    assert_eq!(shown["deliveries"]["sent"], 0);

    let list: Value = c
        .get(app.url("/api/issues"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    let paused: Value = c
        .post(app.url(&format!("/api/issues/{id}/pause")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(paused["state"], "paused");
    let again = c
        .post(app.url(&format!("/api/issues/{id}/pause")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let resumed: Value = c
        .post(app.url(&format!("/api/issues/{id}/resume")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resumed["state"], "queued");

    // Editing works while queued, and is refused once sending has started.
    let mut edited = issue_json("ignored");
    edited.as_object_mut().unwrap().remove("slug");
    edited["ja"]["subject"] = json!("十二月号（改訂）");
    let r = c
        .put(app.url(&format!("/api/issues/{id}")))
        .bearer_auth(TOKEN)
        .json(&edited)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        app.store.issue(id).await.unwrap().unwrap().ja.subject,
        "十二月号（改訂）"
    );
    app.store
        .start_campaign(id, chrono::Utc::now())
        .await
        .unwrap();
    let r = c
        .put(app.url(&format!("/api/issues/{id}")))
        .bearer_auth(TOKEN)
        .json(&edited)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("is sending"));

    let cancelled: Value = c
        .post(app.url(&format!("/api/issues/{id}/cancel")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(
        app.store.issue(id).await.unwrap().unwrap().state,
        IssueState::Cancelled
    );
    let missing = c
        .post(app.url("/api/issues/999/pause"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn the_admin_api_queues_shows_and_controls_issues_on_sqlite() {
    the_admin_api_queues_shows_and_controls_issues(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn the_admin_api_queues_shows_and_controls_issues_on_postgres() {
    the_admin_api_queues_shows_and_controls_issues(TestDb::postgres().await).await;
}

#[tokio::test]
async fn invalid_issues_are_refused_with_every_problem_and_nothing_stored() {
    let app = TestApp::spawn(TestDb::sqlite().await, &env_with_token()).await;
    let c = reqwest::Client::new();
    let mut bad = issue_json("2026-12");
    bad["ja"]["subject"] = json!("  ");
    bad["en"]["markdown"] = json!("intro\n\n![chart](images/chart.png) and [more](/more)");
    let r = c
        .post(app.url("/api/issues"))
        .bearer_auth(TOKEN)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 3, "{v}");
    assert!(
        problems
            .iter()
            .any(|p| p["field"] == "ja" && p["message"] == "the subject is empty")
    );
    assert!(problems.iter().any(|p| p["field"] == "en"
        && p["line"] == 3
        && p["message"].as_str().unwrap().contains("images/chart.png")));

    let mut unknown = issue_json("2026-12");
    unknown["colour"] = json!("red");
    let r = c
        .post(app.url("/api/issues"))
        .bearer_auth(TOKEN)
        .json(&unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("colour"));

    let r = c
        .post(app.url("/api/issues"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    let mut bad_slug = issue_json("Dec 2026");
    bad_slug["slug"] = json!("Dec 2026");
    let r = c
        .post(app.url("/api/issues"))
        .bearer_auth(TOKEN)
        .json(&bad_slug)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(app.store.list_issues().await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn queueing_is_refused_until_the_legal_footer_is_complete() {
    let app = TestApp::spawn(TestDb::sqlite().await, &[("KAIRAN__ADMIN__TOKEN", TOKEN)]).await;
    let r = reqwest::Client::new()
        .post(app.url("/api/issues"))
        .bearer_auth(TOKEN)
        .json(&issue_json("2026-12"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("newsletter.ja.postal_address") && text.contains("newsletter.contact"),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_test_send_through_the_api_lands_in_the_outbox_as_a_whole_message() {
    let app = TestApp::spawn(TestDb::sqlite().await, &env_with_token()).await;
    let c = reqwest::Client::new();
    let id = c
        .post(app.url("/api/issues"))
        .bearer_auth(TOKEN)
        .json(&issue_json("2026-12"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = c
        .post(app.url(&format!("/api/issues/{id}/test")))
        .bearer_auth(TOKEN)
        .json(&json!({"to": "editor@example.org", "lang": "both"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let files = app.outbox_files();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read(&files[0]).unwrap();
    let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(m.subject(), Some("十二月号 / December issue"));
    let r = c
        .post(app.url(&format!("/api/issues/{id}/test")))
        .bearer_auth(TOKEN)
        .json(&json!({"to": "not-an-address"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    app.stop().await;
}

fn kairan(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = crate::helpers::kairan_cmd(dir);
    cmd.args(args).envs(env.iter().copied());
    cmd.output().unwrap()
}

#[tokio::test]
async fn the_cli_queues_previews_and_sends_a_test_through_smtp_sink() {
    let dir = tempfile::tempdir().unwrap();
    assert!(kairan(dir.path(), &[], &["migrate"]).status.success());
    let f = fixture_dir();
    let (ja, en) = (f.join("ja.md"), f.join("en.md"));
    let (ja, en) = (ja.to_str().unwrap(), en.to_str().unwrap());
    let out = kairan(
        dir.path(),
        LEGAL,
        &[
            "issue",
            "queue",
            "--slug",
            "2026-12",
            "--ja",
            ja,
            "--en",
            en,
            "--send-at",
            "2026-12-01T09:00:00+09:00",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().last(),
        Some("1"),
        "the id alone on the last line: {stdout}"
    );

    let preview = dir.path().join("preview");
    let out = kairan(
        dir.path(),
        LEGAL,
        &[
            "issue",
            "preview",
            "2026-12",
            "--out",
            preview.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for pref in ["ja", "en", "both"] {
        for ext in ["eml", "html", "txt"] {
            assert!(
                preview.join(format!("{pref}.{ext}")).exists(),
                "{pref}.{ext}"
            );
        }
        let raw = std::fs::read(preview.join(format!("{pref}.eml"))).unwrap();
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert!(m.subject().unwrap().contains(if pref == "en" {
            "December"
        } else {
            "十二月号"
        }));
    }
    let ja_txt = std::fs::read_to_string(preview.join("ja.txt")).unwrap();
    assert!(
        ja_txt.contains("山田 花子 様"),
        "sample name in the preview"
    );

    let sink = SmtpSink::start().await;
    let mut env = LEGAL.to_vec();
    let url = sink.url();
    env.push(("KAIRAN__SMTP__URL", &url));
    let out = kairan(
        dir.path(),
        &env,
        &[
            "issue",
            "send-test",
            "1",
            "--to",
            "editor@example.org",
            "--lang",
            "ja",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut dumped = Vec::new();
    for _ in 0..50 {
        dumped = sink.messages();
        if !dumped.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(dumped.len(), 1);
    let text = String::from_utf8_lossy(&dumped[0]);
    assert!(text.contains("editor@example.org"));
    assert!(text.contains("Content-Language: ja"));
}

#[test]
fn the_cli_names_the_file_and_line_of_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    assert!(kairan(dir.path(), &[], &["migrate"]).status.success());
    std::fs::write(
        dir.path().join("ja.md"),
        "---\nsubject: 十二月号\n---\n\n[相談](soudan.html)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("en.md"),
        b"---\nsubject: Dec\n---\n\xff\xfe\n",
    )
    .unwrap();
    let out = kairan(
        dir.path(),
        LEGAL,
        &[
            "issue", "queue", "--slug", "x", "--ja", "ja.md", "--en", "en.md",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("ja.md:5: column"), "{stdout}");
    assert!(stdout.contains("soudan.html"), "{stdout}");
    assert!(stdout.contains("en.md:4: is not UTF-8"), "{stdout}");
    let out = kairan(
        dir.path(),
        LEGAL,
        &[
            "issue",
            "queue",
            "--slug",
            "x",
            "--ja",
            "ja.md",
            "--en",
            "missing.md",
        ],
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("missing.md: cannot read")
    );
    let out = kairan(dir.path(), LEGAL, &["issue", "list"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "no issues yet"
    );
}
