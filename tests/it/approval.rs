//! The two-person rule through the real server (issue 14), with `console.require_approval`:
//! sending directly is refused, an editor's request waits, the requester's own approval and
//! an editor's are refused, a different admin's approval starts the send.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console::{Server, client, get, hidden_csrf, log_in, post, set_password};
use crate::helpers::{LEGAL, TestDb};

const LEGACY: &str = "legacy-admin-token-0123456789";

async fn person_token(s: &Server, email: &str, role: &str) -> String {
    let setup = s.add_user(email, role, "テスト");
    set_password(s, &setup, "two-person-rule-pass-1").await;
    let (ok, out, err) = s.kairan(&["users", "token", email, "--name", "test"]);
    assert!(ok, "{err}");
    out.trim().to_owned()
}

async fn call(s: &Server, token: &str, path: &str) -> (StatusCode, Value) {
    let r = client()
        .post(s.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn two_person_rule(db: TestDb) {
    let mut env = LEGAL.to_vec();
    env.push(("KAIRAN__CONSOLE__REQUIRE_APPROVAL", "true"));
    let s = Server::start(&db.url, &env).await;
    let far = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let r = client()
        .post(s.url("/api/issues"))
        .bearer_auth(LEGACY)
        .json(&json!({
            "slug": "2027-01",
            "send_at": far,
            "ja": {"subject": "一月号", "markdown": "# 見出し\n\n本文です。"},
            "en": {"subject": "January issue", "markdown": "# Heading\n\nBody."}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let issue = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

    let editor = person_token(&s, "editor@example.jp", "editor").await;
    let admin_a = person_token(&s, "admin-a@example.jp", "admin").await;
    let admin_b = person_token(&s, "admin-b@example.jp", "admin").await;

    // Sending directly is refused, even with the shared token or an admin's.
    for t in [LEGACY, admin_a.as_str()] {
        let (status, body) = call(&s, t, &format!("/api/issues/{issue}/send-now")).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }
    // The shared token names no person: it cannot request.
    let (status, _) = call(&s, LEGACY, &format!("/api/issues/{issue}/request-send")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = call(&s, &editor, &format!("/api/issues/{issue}/request-send")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let request = body["request"].as_i64().unwrap();
    let (status, _) = call(&s, &editor, &format!("/api/issues/{issue}/request-send")).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "one pending request per issue"
    );
    // An editor cannot approve.
    let (status, _) = call(
        &s,
        &editor,
        &format!("/api/send-requests/{request}/approve"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A second request for the same issue (by anyone) waits for the first.
    let (status, body) = call(&s, &admin_a, &format!("/api/issues/{issue}/request-send")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Nothing was sent yet: the issue still waits for its far send time.
    let shown: Value = client()
        .get(s.url(&format!("/api/issues/{issue}")))
        .bearer_auth(LEGACY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let before = shown["send_at"].as_str().unwrap().to_owned();
    assert!(before.starts_with(&far[..10]), "{before}");

    // The console lists it for admins (not editors); a forged form changes nothing.
    let mut editor_web = log_in(&s, "editor@example.jp", "two-person-rule-pass-1").await;
    let (status, _, _) = get(&s, &mut editor_web, "/console/approvals").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut admin_web = log_in(&s, "admin-a@example.jp", "two-person-rule-pass-1").await;
    let (status, page, _) = get(&s, &mut admin_web, "/console/approvals").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("/console/approvals/{request}/approve")),
        "{page}"
    );
    let csrf = hidden_csrf(&page);
    let forged = format!("/console/approvals/{request}/approve");
    let (status, _, _) = post(&s, &mut admin_web, &forged, &[("csrf", "forged")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = call(
        &s,
        &admin_b,
        &format!("/api/send-requests/{request}/approve"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sending"], true);
    let (status, _) = call(
        &s,
        &admin_a,
        &format!("/api/send-requests/{request}/approve"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "decided already");
    let (status, page, _) = post(&s, &mut admin_web, &forged, &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("すでに処理されています"), "{page}");
    let shown: Value = client()
        .get(s.url(&format!("/api/issues/{issue}")))
        .bearer_auth(LEGACY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let send_at: chrono::DateTime<chrono::Utc> =
        shown["send_at"].as_str().unwrap().parse().unwrap();
    assert!(
        send_at <= chrono::Utc::now(),
        "brought forward to now: {send_at}"
    );

    let (ok, out, _) = s.kairan(&["audit", "--json"]);
    assert!(ok);
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    let approved = entries
        .iter()
        .find(|e| e["action"] == "issue.approved")
        .unwrap();
    assert_eq!(approved["actor"], "admin-b@example.jp");
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "issue.send_requested" && e["actor"] == "editor@example.jp")
    );
    drop(s);
    db.cleanup().await;
}

#[tokio::test]
async fn sending_needs_a_second_admin_on_sqlite() {
    two_person_rule(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn sending_needs_a_second_admin_on_postgres() {
    two_person_rule(TestDb::postgres().await).await;
}
