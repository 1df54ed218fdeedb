//! Accounts through the real `kairan` binary and its HTTP server (issue 14), on both
//! backends: `kairan users add` prints the setup link last; the setup page sets a password
//! once; login, session cookie, logout; and a refusal for each case: no session (303), wrong
//! form token (403), wrong role (403, console and API), throttled (429 + Retry-After),
//! expired and reused setup links, a disabled person's existing session. The server's log is
//! captured and must never contain a password, a setup token, a session id or an API token.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};

use crate::helpers::{TestDb, free_port, kairan_cmd};

const ADMIN_PASSWORD: &str = "春の回覧板-correct-horse-7";
const EDITOR_PASSWORD: &str = "editor-battery-staple-42";

/// `kairan serve` on a free port, its stderr in a file; killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl Server {
    pub async fn start(db_url: &str, extra: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut env: Vec<(String, String)> = vec![
            ("KAIRAN__DATABASE__URL".into(), db_url.into()),
            ("KAIRAN__HTTP__LISTEN".into(), format!("127.0.0.1:{port}")),
            ("KAIRAN__HTTP__BASE_URL".into(), base.clone()),
            (
                "KAIRAN__OUTBOX__DIR".into(),
                dir.path().join("outbox").display().to_string(),
            ),
            (
                "KAIRAN__ADMIN__TOKEN".into(),
                "legacy-admin-token-0123456789".into(),
            ),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
        let mut cmd = kairan_cmd(dir.path());
        cmd.args(["--log-format", "json", "serve", "--passive"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log);
        let child = cmd.spawn().unwrap();
        let server = Server {
            child,
            base,
            dir,
            env,
        };
        let client = client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(server.url("/healthz")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "kairan serve did not start: {}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// Runs `kairan ARGS` with the server's settings; (status, stdout, stderr).
    pub fn kairan(&self, args: &[&str]) -> (bool, String, String) {
        let out = kairan_cmd(self.dir.path())
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `kairan users add`: the setup link's path (from the last line).
    pub fn add_user(&self, email: &str, role: &str, name: &str) -> String {
        let (ok, out, err) = self.kairan(&["users", "add", email, "--role", role, "--name", name]);
        assert!(ok, "users add failed: {out}{err}");
        let last = out.lines().last().unwrap();
        assert!(
            last.starts_with(&format!("{}/console/setup/", self.base)),
            "{out}"
        );
        last.strip_prefix(&self.base).unwrap().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of cookie `name` among a response's Set-Cookie headers, with the whole header.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let s = v.to_str().ok()?;
        let (kv, _) = s.split_once(';').unwrap_or((s, ""));
        let (k, val) = kv.split_once('=')?;
        (k == name).then(|| (val.to_owned(), s.to_owned()))
    })
}

/// The `value` of the hidden input named `csrf` in a page.
pub fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// A browser's view: one form cookie and one session cookie at most.
#[derive(Default, Clone)]
pub struct Jar {
    pub form: Option<String>,
    pub session: Option<String>,
}

impl Jar {
    fn header(&self) -> String {
        let mut parts = Vec::new();
        if let Some(f) = &self.form {
            parts.push(format!("kairan_form={f}"));
        }
        if let Some(s) = &self.session {
            parts.push(format!("kairan_session={s}"));
        }
        parts.join("; ")
    }

    fn take(&mut self, r: &reqwest::Response) {
        if let Some((v, _)) = set_cookie(r, "kairan_form") {
            self.form = Some(v);
        }
        if let Some((v, _)) = set_cookie(r, "kairan_session") {
            self.session = (!v.is_empty()).then_some(v);
        }
    }
}

pub async fn get(
    s: &Server,
    jar: &mut Jar,
    path: &str,
) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let r = client()
        .get(s.url(path))
        .header(COOKIE, jar.header())
        .header("accept-language", "ja")
        .send()
        .await
        .unwrap();
    jar.take(&r);
    let (status, headers) = (r.status(), r.headers().clone());
    (status, r.text().await.unwrap(), headers)
}

pub async fn post(
    s: &Server,
    jar: &mut Jar,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let r = client()
        .post(s.url(path))
        .header(COOKIE, jar.header())
        .header("accept-language", "ja")
        .form(form)
        .send()
        .await
        .unwrap();
    jar.take(&r);
    let (status, headers) = (r.status(), r.headers().clone());
    (status, r.text().await.unwrap(), headers)
}

/// Sets the password through the setup page; returns nothing (asserts each step).
pub async fn set_password(s: &Server, setup_path: &str, password: &str) {
    let mut jar = Jar::default();
    let (status, page, _) = get(s, &mut jar, setup_path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("name=\"password\"") && page.contains("name=\"password_confirm\""));
    let csrf = hidden_csrf(&page);
    let (status, page, _) = post(
        s,
        &mut jar,
        setup_path,
        &[
            ("password", password),
            ("password_confirm", password),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
}

/// Logs in; the session cookie's value.
pub async fn log_in(s: &Server, email: &str, password: &str) -> Jar {
    let mut jar = Jar::default();
    let (_, page, _) = get(s, &mut jar, "/console/login").await;
    let csrf = hidden_csrf(&page);
    let (status, body, headers) = post(
        s,
        &mut jar,
        "/console/login",
        &[("email", email), ("password", password), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(headers[LOCATION], "/console");
    assert!(jar.session.is_some());
    jar
}

async fn journey(db: TestDb) {
    let s = Server::start(&db.url, &[]).await;
    let mut anon = Jar::default();

    // No session: every console page sends to the login.
    for path in ["/console", "/console/users", "/console/anything/else"] {
        let (status, _, headers) = get(&s, &mut anon, path).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(headers[LOCATION], "/console/login", "{path}");
    }

    // The first admin, from the command line.
    let setup = s.add_user("hanako@example.jp", "admin", "山田 花子");
    let token = setup.rsplit('/').next().unwrap().to_owned();

    // The setup page: a wrong form token changes nothing; a short or common password is
    // refused; the right one is taken once.
    let mut jar = Jar::default();
    let (status, page, _) = get(&s, &mut jar, &setup).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("hanako@example.jp"));
    let csrf = hidden_csrf(&page);
    let (status, _, _) = post(
        &s,
        &mut jar,
        &setup,
        &[
            ("password", ADMIN_PASSWORD),
            ("password_confirm", ADMIN_PASSWORD),
            ("csrf", "forged"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, page, _) = post(
        &s,
        &mut jar,
        &setup,
        &[
            ("password", "password1234"),
            ("password_confirm", "password1234"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("よく使われるパスワード"), "{page}");
    let (status, _, _) = post(
        &s,
        &mut jar,
        &setup,
        &[
            ("password", ADMIN_PASSWORD),
            ("password_confirm", ADMIN_PASSWORD),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Reused: refused, and the password stays the first one set.
    let (status, page, _) = post(
        &s,
        &mut jar,
        &setup,
        &[
            ("password", "another-long-password-9"),
            ("password_confirm", "another-long-password-9"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::GONE, "{page}");
    assert!(page.contains("すでに使われています"));

    // Login failures look the same whether the account exists or not.
    let mut j = Jar::default();
    let (_, page, _) = get(&s, &mut j, "/console/login").await;
    let csrf = hidden_csrf(&page);
    let (st1, wrong, _) = post(
        &s,
        &mut j,
        "/console/login",
        &[
            ("email", "hanako@example.jp"),
            ("password", "wrong-password-123"),
            ("csrf", &csrf),
        ],
    )
    .await;
    let (st2, unknown, _) = post(
        &s,
        &mut j,
        "/console/login",
        &[
            ("email", "nobody@example.jp"),
            ("password", "wrong-password-123"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(
        (st1, st2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    let message = "メールアドレス、パスワード、またはコードが正しくありません。";
    assert!(wrong.contains(message) && unknown.contains(message));
    // Without the form token: 403, nothing tried.
    let (status, _, _) = post(
        &s,
        &mut Jar::default(),
        "/console/login",
        &[("email", "hanako@example.jp"), ("password", ADMIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The right password: a session cookie with the right attributes.
    let mut admin = Jar::default();
    let (_, page, _) = get(&s, &mut admin, "/console/login").await;
    let csrf = hidden_csrf(&page);
    let r = client()
        .post(s.url("/console/login"))
        .header(COOKIE, admin.header())
        .form(&[
            ("email", "hanako@example.jp"),
            ("password", ADMIN_PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, whole) = set_cookie(&r, "kairan_session").expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(whole.contains(attr), "{whole}");
    }
    assert!(!whole.contains("Secure"), "plain http base URL: {whole}");
    admin.take(&r);
    let (status, page, headers) = get(&s, &mut admin, "/console").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("山田 花子") && page.contains("管理者"),
        "{page}"
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let session_csrf = hidden_csrf(&page);
    let (status, page, _) = get(&s, &mut admin, "/console/users").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("hanako@example.jp"));

    // An editor: invited, set up, and refused an admin's page and API routes.
    let setup2 = s.add_user("taro@example.jp", "editor", "Taro");
    set_password(&s, &setup2, EDITOR_PASSWORD).await;
    let mut editor = log_in(&s, "taro@example.jp", EDITOR_PASSWORD).await;
    let (status, page, _) = get(&s, &mut editor, "/console/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("権限がありません"));
    let (status, _, _) = get(&s, &mut editor, "/console/audit").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (ok, editor_token, _) =
        s.kairan(&["users", "token", "taro@example.jp", "--name", "laptop"]);
    assert!(ok);
    let editor_token = editor_token.trim().to_owned();
    let (ok, admin_token, _) = s.kairan(&["users", "token", "hanako@example.jp", "--name", "ci"]);
    assert!(ok);
    let admin_token = admin_token.trim().to_owned();
    let api = |token: &str, method: reqwest::Method, path: &str| {
        client()
            .request(method, s.url(path))
            .bearer_auth(token.to_owned())
    };
    let r = api(&editor_token, reqwest::Method::GET, "/api/status")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = api(&editor_token, reqwest::Method::GET, "/api/subscribers")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = api(&admin_token, reqwest::Method::GET, "/api/subscribers")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = api(
        "kairan_not-a-real-token",
        reqwest::Method::GET,
        "/api/status",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The legacy shared token still works.
    let r = api(
        "legacy-admin-token-0123456789",
        reqwest::Method::GET,
        "/api/subscribers",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A disabled person's existing session and token stop at once.
    let (ok, _, _) = s.kairan(&["users", "disable", "taro@example.jp"]);
    assert!(ok);
    let (status, _, headers) = get(&s, &mut editor, "/console").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/console/login");
    let r = api(&editor_token, reqwest::Method::GET, "/api/status")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Logout: a wrong form token is refused and the session lives on; the right one ends it.
    let (status, _, _) = post(&s, &mut admin, "/console/logout", &[("csrf", "nope")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = get(&s, &mut admin, "/console").await;
    assert_eq!(status, StatusCode::OK);
    let old_session = admin.session.clone();
    let (status, _, headers) = post(
        &s,
        &mut admin,
        "/console/logout",
        &[("csrf", &session_csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/console/login");
    let mut replay = Jar {
        form: None,
        session: old_session,
    };
    let (status, _, _) = get(&s, &mut replay, "/console").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the old cookie is dead server side"
    );

    // Expired setup link: a reset makes a new one, which is then aged past its 48 hours.
    let (ok, out, _) = s.kairan(&["users", "reset", "hanako@example.jp"]);
    assert!(ok);
    let reset_path = out
        .lines()
        .last()
        .unwrap()
        .strip_prefix(&s.base)
        .unwrap()
        .to_owned();
    // The old link was replaced.
    let (status, _, _) = get(&s, &mut Jar::default(), &setup).await;
    assert_ne!(status, StatusCode::OK);
    let _ = token;
    age_setup_links(&db.url).await;
    let (status, page, _) = get(&s, &mut Jar::default(), &reset_path).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("有効期限が切れています"), "{page}");
    // The reset revoked the password too.
    let mut j = Jar::default();
    let (_, page, _) = get(&s, &mut j, "/console/login").await;
    let csrf = hidden_csrf(&page);
    let (status, _, _) = post(
        &s,
        &mut j,
        "/console/login",
        &[
            ("email", "hanako@example.jp"),
            ("password", ADMIN_PASSWORD),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Throttle: the account has failures already; up to five, then 429 with Retry-After
    // even for the right password.
    let mut last = StatusCode::OK;
    let mut retry_after = None;
    for _ in 0..6 {
        let (status, _, headers) = post(
            &s,
            &mut j,
            "/console/login",
            &[
                ("email", "hanako@example.jp"),
                ("password", "still-wrong-1234"),
                ("csrf", &csrf),
            ],
        )
        .await;
        last = status;
        retry_after = headers.get(RETRY_AFTER).cloned();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let secs: u64 = retry_after.unwrap().to_str().unwrap().parse().unwrap();
    assert!(secs > 0 && secs <= 15 * 60, "{secs}");

    // Refusals are counted.
    let metrics = client()
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "kairan_console_logins_total{result=\"throttled\"}",
        "kairan_console_logins_total{result=\"failed\"}",
        "kairan_console_refused_total{reason=\"csrf\"}",
        "kairan_console_refused_total{reason=\"role\"}",
    ] {
        assert!(metrics.contains(line), "{line} missing");
    }

    // A state-changing command is audited too.
    let (ok, _, err) = s.kairan(&["migrate"]);
    assert!(ok, "{err}");

    // The audit log has it all.
    let (ok, out, _) = s.kairan(&["audit", "--json"]);
    assert!(ok);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "user.added",
        "user.password_set",
        "login.failed",
        "login.ok",
        "logout",
        "user.disabled",
        "user.reset",
        "user.token_created",
        "login.throttled",
        "database.migrated",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let ok_login = entries.iter().find(|e| e["action"] == "login.ok").unwrap();
    assert_eq!(ok_login["ip"], "127.0.0.1");
    assert_eq!(ok_login["actor"], "hanako@example.jp");
    let (ok, out, _) = s.kairan(&["audit", "--since", "2999-01-01"]);
    assert!(ok && out.trim().is_empty(), "{out}");

    // No secret in the server's log.
    let log = s.log();
    assert!(log.contains("console: signed in"), "the log was captured");
    for secret in [
        ADMIN_PASSWORD,
        EDITOR_PASSWORD,
        token.as_str(),
        reset_path.as_str(),
        admin.session.as_deref().unwrap_or("x-none-x"),
        editor_token.as_str(),
        admin_token.as_str(),
        "hanako@example.jp",
    ] {
        assert!(!log.contains(secret), "the log contains a secret: {secret}");
    }
    drop(s);
    db.cleanup().await;
}

/// Moves every setup link's expiry into the past (as 48 hours passing would).
async fn age_setup_links(url: &str) {
    use sqlx::Connection;
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query("UPDATE user_setups SET expires_at = $1")
            .bind(past)
            .execute(&mut c)
            .await
            .unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query("UPDATE user_setups SET expires_at = $1")
            .bind(past)
            .execute(&mut c)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn accounts_login_and_every_refusal_on_sqlite() {
    journey(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn accounts_login_and_every_refusal_on_postgres() {
    journey(TestDb::postgres().await).await;
}
