//! Audit completeness (issue 14), through the real server and binary on both backends: every
//! action the issue names leaves a line with its actor, client address and object, whoever
//! does it: a console session, a person's API token, the legacy `admin.token` (actor
//! "admin.token (legacy)"), or the command line (`cli:<os user>`). The use cases write the
//! lines (`app::accounts::audit::note`), so every page and route that calls them is covered.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::console::{Jar, Server, client, get, hidden_csrf, log_in, post, set_password};
use crate::helpers::{LEGAL, TestDb};

const LEGACY: &str = "legacy-admin-token-0123456789";
const PASSWORD: &str = "audit-trail-pass-phrase-1";

async fn api(s: &Server, token: &str, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut r = client()
        .request(method.clone(), s.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn content(subject: &str) -> Value {
    json!({"subject": subject, "markdown": format!("# {subject}\n\n本文です。")})
}

/// The audit lines, oldest first.
fn audit(s: &Server) -> Vec<Value> {
    let (ok, out, err) = s.kairan(&["audit", "--json"]);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// The line with `action` and `object` (the last one), asserting its actor and address.
fn expect<'a>(
    lines: &'a [Value],
    action: &str,
    object: &str,
    actor: &str,
    ip: Option<&str>,
) -> &'a Value {
    let line = lines
        .iter()
        .rev()
        .find(|l| l["action"] == action && l["object"] == object)
        .unwrap_or_else(|| panic!("no `{action}` line for `{object}` in {lines:#?}"));
    assert_eq!(line["actor"], actor, "{line}");
    if let Some(ip) = ip {
        assert_eq!(line["ip"], ip, "{line}");
    }
    line
}

async fn trail(db: TestDb) {
    let mut env = LEGAL.to_vec();
    env.push(("KAIRAN__CONSOLE__REQUIRE_APPROVAL", "true"));
    let s = Server::start(&db.url, &env).await;
    let far = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let ip = Some("127.0.0.1");
    let legacy = "admin.token (legacy)";

    // Logins (ok, failed) and logout, in the console.
    let setup = s.add_user("kanri@example.jp", "admin", "管理者");
    set_password(&s, &setup, PASSWORD).await;
    let mut web = log_in(&s, "kanri@example.jp", PASSWORD).await;
    let mut other = Jar::default();
    let (_, page, _) = get(&s, &mut other, "/console/login").await;
    let csrf = hidden_csrf(&page);
    let (status, _, _) = post(
        &s,
        &mut other,
        "/console/login",
        &[
            ("email", "kanri@example.jp"),
            ("password", "not-the-password-0"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Issues with the legacy token: created (queued), edited, paused, resumed, cancelled.
    let issue = api(
        &s,
        LEGACY,
        Method::POST,
        "/api/issues",
        Some(json!({"slug": "2027-03", "send_at": far, "ja": content("三月号"), "en": content("March")})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let obj = format!("issue {issue}");
    api(
        &s,
        LEGACY,
        Method::PUT,
        &format!("/api/issues/{issue}"),
        Some(json!({"send_at": far, "ja": content("三月号（改）"), "en": content("March (rev)")})),
    )
    .await;
    for step in ["pause", "resume", "cancel"] {
        api(
            &s,
            LEGACY,
            Method::POST,
            &format!("/api/issues/{issue}/{step}"),
            None,
        )
        .await;
    }

    // A second issue, requested by an editor and approved in the console by the admin: the
    // approval and the start of the send name the admin's session.
    let editor_setup = s.add_user("henshu@example.jp", "editor", "編集者");
    set_password(&s, &editor_setup, PASSWORD).await;
    let (ok, out, err) = s.kairan(&["users", "token", "henshu@example.jp", "--name", "t"]);
    assert!(ok, "{err}");
    let editor = out.trim().to_owned();
    let second = api(
        &s,
        LEGACY,
        Method::POST,
        "/api/issues",
        Some(json!({"slug": "2027-04", "send_at": far, "ja": content("四月号"), "en": content("April")})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let req = api(
        &s,
        &editor,
        Method::POST,
        &format!("/api/issues/{second}/request-send"),
        None,
    )
    .await["request"]
        .as_i64()
        .unwrap();
    let (_, page, _) = get(&s, &mut web, "/console/approvals").await;
    let csrf = hidden_csrf(&page);
    let (status, page, _) = post(
        &s,
        &mut web,
        &format!("/console/approvals/{req}/approve"),
        &[("csrf", &csrf)],
    )
    .await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status} {page}"
    );

    // Subscribers with the API: added, exported (the person's data), erased.
    let sub = api(
        &s,
        LEGACY,
        Method::POST,
        "/api/subscribers",
        Some(json!({"email": "yomite@example.jp", "lang": "ja", "confirmed": true})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    api(
        &s,
        LEGACY,
        Method::DELETE,
        &format!("/api/subscribers/{sub}"),
        None,
    )
    .await;
    // A route no use case audits (a bounce fed in) still leaves a generic line.
    let r = client()
        .post(s.url("/api/bounces"))
        .bearer_auth(LEGACY)
        .body("From: someone@example.net\r\nSubject: hello\r\n\r\nnot a bounce\r\n")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    // The command line: import, export, users changed.
    let csv = s.dir.path().join("list.csv");
    std::fs::write(&csv, "email,name,lang\nichiro@example.jp,一郎,ja\n").unwrap();
    let (ok, _, err) = s.kairan(&[
        "subscribers",
        "import",
        csv.to_str().unwrap(),
        "--confirmed",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = s.kairan(&["subscribers", "export"]);
    assert!(ok, "{err}");
    let (ok, _, err) = s.kairan(&["users", "disable", "henshu@example.jp"]);
    assert!(ok, "{err}");

    // Logout last.
    let (_, page, _) = get(&s, &mut web, "/console").await;
    let csrf = hidden_csrf(&page);
    let (status, _, _) = post(&s, &mut web, "/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let lines = audit(&s);
    let admin = "kanri@example.jp";
    let user_obj = |l: &Value| l["object"].as_str().unwrap_or_default().to_owned();
    let login = lines
        .iter()
        .find(|l| l["action"] == "login.ok")
        .expect("login ok");
    assert_eq!(login["actor"], admin);
    assert_eq!(login["ip"], "127.0.0.1");
    let failed = lines
        .iter()
        .find(|l| l["action"] == "login.failed")
        .expect("login failed");
    assert_eq!(failed["ip"], "127.0.0.1");
    let logout = lines
        .iter()
        .find(|l| l["action"] == "logout")
        .expect("logout");
    assert_eq!(logout["actor"], admin);
    assert!(user_obj(logout).starts_with("user "));

    for action in [
        "issue.queued",
        "issue.edited",
        "issue.paused",
        "issue.resumed",
        "issue.cancelled",
    ] {
        expect(&lines, action, &obj, legacy, ip);
    }
    let second_obj = format!("issue {second}");
    expect(
        &lines,
        "issue.send_requested",
        &second_obj,
        "henshu@example.jp",
        None,
    );
    expect(&lines, "issue.approved", &second_obj, admin, ip);
    expect(&lines, "issue.sent", &second_obj, admin, ip);
    let sub_obj = format!("subscriber {sub}");
    expect(&lines, "subscriber.added", &sub_obj, legacy, ip);
    expect(&lines, "subscriber.erased", &sub_obj, legacy, ip);
    let generic = expect(&lines, "api.request", "/api/bounces", legacy, ip);
    assert_eq!(generic["detail"], "POST");
    // Exactly one line per API action: the generic line is only for routes without one.
    assert!(
        !lines
            .iter()
            .any(|l| l["action"] == "api.request" && l["object"] != "/api/bounces"),
        "{lines:#?}"
    );
    let cli = |action: &str| {
        let l = lines
            .iter()
            .rev()
            .find(|l| l["action"] == action)
            .unwrap_or_else(|| panic!("no {action}"));
        assert!(l["actor"].as_str().unwrap().starts_with("cli:"), "{l}");
    };
    for action in [
        "subscriber.imported",
        "subscriber.exported",
        "user.disabled",
        "user.added",
    ] {
        cli(action);
    }
    // No address is an audit object.
    assert!(
        !lines.iter().any(|l| user_obj(l).contains("@example.jp")),
        "{lines:#?}"
    );
    drop(s);
    db.cleanup().await;
}

#[tokio::test]
async fn every_named_action_is_audited_on_sqlite() {
    trail(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn every_named_action_is_audited_on_postgres() {
    trail(TestDb::postgres().await).await;
}
