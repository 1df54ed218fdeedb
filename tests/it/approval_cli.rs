//! The two-person rule holds on the command line too (issue 14): with
//! `console.require_approval = true`, `kairan send ID` refuses an issue without a send request
//! approved by a different admin (naming the approval route) and sends nothing; it sends an
//! approved one; `--override-approval REASON` lets the server's operator send anyway, and
//! that is written to the audit log with the reason.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console::{Server, client, set_password};
use crate::helpers::{LEGAL, TestDb};

const LEGACY: &str = "legacy-admin-token-0123456789";

async fn api(
    s: &Server,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = client().request(method, s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn queue_issue(s: &Server, slug: &str) -> i64 {
    let far = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let (status, body) = api(
        s,
        LEGACY,
        reqwest::Method::POST,
        "/api/issues",
        Some(json!({
            "slug": slug,
            "send_at": far,
            "ja": {"subject": "一月号", "markdown": "# 見出し\n\n本文です。"},
            "en": {"subject": "January issue", "markdown": "# Heading\n\nBody."}
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

async fn state(s: &Server, id: i64) -> String {
    let (_, body) = api(
        s,
        LEGACY,
        reqwest::Method::GET,
        &format!("/api/issues/{id}"),
        None,
    )
    .await;
    body["state"].as_str().unwrap_or_default().to_owned()
}

async fn person_token(s: &Server, email: &str, role: &str) -> String {
    let setup = s.add_user(email, role, "テスト");
    set_password(s, &setup, "two-person-rule-pass-1").await;
    let (ok, out, err) = s.kairan(&["users", "token", email, "--name", "cli-test"]);
    assert!(ok, "{err}");
    out.trim().to_owned()
}

fn mails(s: &Server) -> usize {
    std::fs::read_dir(s.dir.path().join("outbox"))
        .map(|d| d.count())
        .unwrap_or(0)
}

async fn cli_is_held(db: TestDb) {
    let mut env = LEGAL.to_vec();
    env.push(("KAIRAN__CONSOLE__REQUIRE_APPROVAL", "true"));
    let s = Server::start(&db.url, &env).await;
    let (status, body) = api(
        &s,
        LEGACY,
        reqwest::Method::POST,
        "/api/subscribers",
        Some(json!({"email": "reader@example.jp", "lang": "ja", "confirmed": true})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // No request at all: refused, naming the way to an approval; nothing sent or started.
    let plain = queue_issue(&s, "2027-01").await;
    let before = mails(&s);
    let (ok, out, err) = s.kairan(&["send", &plain.to_string()]);
    assert!(!ok, "sent without approval: {out}{err}");
    for needle in [
        "console.require_approval",
        "/console/approvals",
        &format!("/api/issues/{plain}/request-send"),
        "--override-approval",
    ] {
        assert!(err.contains(needle), "{needle} missing from: {err}");
    }
    assert_eq!(state(&s, plain).await, "queued");
    assert_eq!(mails(&s), before, "nothing was mailed");

    // A request that waits (not approved yet) is not enough, nor an empty override reason.
    let editor = person_token(&s, "editor@example.jp", "editor").await;
    let admin = person_token(&s, "admin@example.jp", "admin").await;
    let (status, body) = api(
        &s,
        &editor,
        reqwest::Method::POST,
        &format!("/api/issues/{plain}/request-send"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let request = body["request"].as_i64().unwrap();
    let (ok, _, err) = s.kairan(&["send", &plain.to_string()]);
    assert!(!ok && err.contains("no approved send request"), "{err}");
    let (ok, _, err) = s.kairan(&["send", &plain.to_string(), "--override-approval", " "]);
    assert!(!ok && err.contains("needs a reason"), "{err}");
    assert_eq!(state(&s, plain).await, "queued");

    // Approved by a different admin: the command line sends it.
    let (status, body) = api(
        &s,
        &admin,
        reqwest::Method::POST,
        &format!("/api/send-requests/{request}/approve"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // An edit after the approval voids it: the approver did not see this text.
    let later = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let (status, body) = api(
        &s,
        LEGACY,
        reqwest::Method::PUT,
        &format!("/api/issues/{plain}"),
        Some(json!({
            "send_at": later,
            "ja": {"subject": "一月号（差し替え）", "markdown": "# 見出し\n\n別の本文です。"},
            "en": {"subject": "January issue (changed)", "markdown": "# Heading\n\nOther body."}
        })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (ok, _, err) = s.kairan(&["send", &plain.to_string()]);
    assert!(
        !ok && err.contains("an edit after it needs a new one"),
        "{err}"
    );
    assert_eq!(state(&s, plain).await, "queued");
    // Requested and approved again, for this text.
    let (status, body) = api(
        &s,
        &editor,
        reqwest::Method::POST,
        &format!("/api/issues/{plain}/request-send"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let request = body["request"].as_i64().unwrap();
    let (status, body) = api(
        &s,
        &admin,
        reqwest::Method::POST,
        &format!("/api/send-requests/{request}/approve"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (ok, out, err) = s.kairan(&["send", &plain.to_string()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("1 delivered"), "{out}");
    assert!(
        err.contains(&format!("send request {request} approved")),
        "{err}"
    );
    assert_eq!(state(&s, plain).await, "sent");

    // The operator's override: sent, and audited with the reason.
    let overridden = queue_issue(&s, "2027-02").await;
    let (ok, out, err) = s.kairan(&[
        "send",
        &overridden.to_string(),
        "--override-approval",
        "理事会で承認済み (board, 1 Dec)",
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("1 delivered"), "{out}");
    let (ok, out, _) = s.kairan(&["audit", "--json"]);
    assert!(ok);
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    let line = entries
        .iter()
        .find(|e| e["action"] == "issue.approval_overridden")
        .expect("the override is audited");
    assert_eq!(line["object"], format!("issue {overridden}"));
    assert_eq!(line["detail"], "理事会で承認済み (board, 1 Dec)");
    assert!(
        line["actor"].as_str().unwrap().starts_with("cli:"),
        "{line}"
    );
    // The refused attempts left no `issue.sent` line; the two sends did.
    let sent = entries
        .iter()
        .filter(|e| e["action"] == "issue.sent" && e["actor"].as_str().unwrap().starts_with("cli:"))
        .count();
    assert_eq!(sent, 2, "{entries:?}");
    drop(s);
    db.cleanup().await;
}

#[tokio::test]
async fn cli_send_is_held_by_the_two_person_rule_on_sqlite() {
    cli_is_held(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn cli_send_is_held_by_the_two_person_rule_on_postgres() {
    cli_is_held(TestDb::postgres().await).await;
}

/// The scheduler holds to the rule too: a queued issue whose send time has come waits, not
/// started, until a different admin approves a request to send it; then it goes out. (In
/// process, with the scheduler running: `App`.)
async fn scheduler_is_held(db: TestDb) {
    use kairan::app::accounts::{Actor, approval, users};
    use kairan::domain::{IssueState, Role};
    let app =
        crate::subscribe::App::start(db, &[("KAIRAN__CONSOLE__REQUIRE_APPROVAL", "true")]).await;
    let token = crate::subscribe::ADMIN_TOKEN;
    let r = client()
        .post(app.url("/api/subscribers"))
        .bearer_auth(token)
        .json(&json!({"email": "reader@example.jp", "lang": "ja", "confirmed": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let r = client()
        .post(app.url("/api/issues"))
        .bearer_auth(token)
        .json(&json!({
            "slug": "2027-05",
            "send_at": soon,
            "ja": {"subject": "五月号", "markdown": "# 見出し\n\n本文です。"},
            "en": {"subject": "May issue", "markdown": "# Heading\n\nBody."}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = kairan::domain::IssueId::new(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    let state = || async { app.store.issue(id).await.unwrap().unwrap().state };

    // Due, but not approved: for several scheduler passes (one a second), nothing starts.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(4);
    while std::time::Instant::now() < until {
        assert_eq!(
            state().await,
            IssueState::Queued,
            "started without approval"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Requested by one admin, approved by another: it goes out.
    let (settings, _) = kairan::config::parse("", "defaults", &[]).unwrap();
    let signer = app.signer.clone();
    let mut people = Vec::new();
    for email in ["a@example.jp", "b@example.jp"] {
        let invited = users::add(
            app.store.as_ref(),
            &settings,
            &signer,
            email,
            Role::Admin,
            None,
            &Actor::cli(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        people.push(app.store.user(invited.user_id).await.unwrap().unwrap());
    }
    let now = chrono::Utc::now();
    let req = approval::request(app.store.as_ref(), &people[0], id.get(), None, now)
        .await
        .unwrap();
    let done =
        approval::approve_and_send(app.store.as_ref(), &settings, &people[1], req, None, now)
            .await
            .unwrap();
    assert!(matches!(done, approval::Approved::Sending(_)), "{done:?}");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while state().await != IssueState::Sent {
        assert!(
            std::time::Instant::now() < until,
            "not sent: {:?}",
            state().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn the_scheduler_is_held_by_the_two_person_rule_on_sqlite() {
    scheduler_is_held(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn the_scheduler_is_held_by_the_two_person_rule_on_postgres() {
    scheduler_is_held(TestDb::postgres().await).await;
}
