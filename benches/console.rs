//! The editors' console's use cases at the scale the issue names: 100,000 subscribers
//! (2,000 of them at a legacy-charset domain) and 1,000 bilingual issues, timing what the
//! console's pages call — the issue list, loading one issue with all its checks, the live
//! preview through the real campaign renderer, the next send time — and printing
//! milliseconds (median and worst of the rounds). The pages' budget is 100 ms.
//!
//! Then the console's pages themselves through HTTP (issue 15's editor pages): the real
//! `kairan serve` on that database, signed in as an admin, timing the issue list, the editor
//! (with every check), the preview page and the rendered mail, against `/healthz` in the
//! same run as the reference.
//!
//! `cargo bench --bench console` (SQLite in a temporary directory), or with
//! `KAIRAN_BENCH_DATABASE_URL=postgres://…/an_empty_database` for PostgreSQL.

use std::time::{Duration, Instant};

use chrono::Utc;
use kairan::app::ports::Store;
use kairan::domain::{IssueContent, IssueId, IssueState, NewIssue};

const SUBSCRIBERS: i64 = 100_000;
const ISSUES: i64 = 1_000;
const ROUNDS: usize = 20;

fn fixture(lang: &str) -> IssueContent {
    let path = format!(
        "{}/tests/fixtures/issue/{lang}.md",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).expect("fixture");
    kairan::app::editorial::parse_source(&path, &bytes)
        .expect("fixture parses")
        .content
}

async fn seed(store: &dyn Store, url: &str) {
    // Subscribers in one statement per backend (the store's own insert is one row a call).
    let sql = if url.starts_with("sqlite") {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SUBSCRIBERS})
             INSERT INTO subscribers (email, email_key, name, lang, status, source, created_at, updated_at)
             SELECT 'reader' || i || CASE WHEN i % 50 = 0 THEN '@docomo.ne.jp' ELSE '@example.jp' END,
                    'reader' || i || CASE WHEN i % 50 = 0 THEN '@docomo.ne.jp' ELSE '@example.jp' END,
                    NULL, CASE i % 3 WHEN 0 THEN 'ja' WHEN 1 THEN 'en' ELSE 'both' END, 'active', 'import',
                    '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00' FROM n"
        )
    } else {
        format!(
            "INSERT INTO subscribers (email, email_key, name, lang, status, source, created_at, updated_at)
             SELECT 'reader' || i || CASE WHEN i % 50 = 0 THEN '@docomo.ne.jp' ELSE '@example.jp' END,
                    'reader' || i || CASE WHEN i % 50 = 0 THEN '@docomo.ne.jp' ELSE '@example.jp' END,
                    NULL, CASE i % 3 WHEN 0 THEN 'ja' WHEN 1 THEN 'en' ELSE 'both' END, 'active', 'import',
                    now(), now() FROM generate_series(1, {SUBSCRIBERS}) AS i"
        )
    };
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("seed subscribers");
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.expect("postgres");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("seed subscribers");
        pool.close().await;
    }
    let (ja, en) = (fixture("ja"), fixture("en"));
    let now = Utc::now();
    for i in 0..ISSUES {
        store
            .insert_issue(&NewIssue {
                slug: format!("issue-{i}"),
                state: if i == ISSUES - 1 {
                    IssueState::Draft
                } else {
                    IssueState::Sent
                },
                send_at: None,
                ja: ja.clone(),
                en: en.clone(),
                now,
            })
            .await
            .expect("seed issue");
    }
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<44} median {:>8.2} ms   worst {:>8.2} ms{}",
        ms(times[times.len() / 2]),
        ms(*times.last().expect("rounds")),
        if ms(times[times.len() / 2]) > 100.0 {
            "   OVER the 100 ms budget"
        } else {
            ""
        }
    );
}

async fn time<F, Fut>(name: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await; // warm up
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        f().await;
        times.push(start.elapsed());
    }
    report(name, times);
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = std::env::var("KAIRAN_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let env = vec![
        ("KAIRAN__DATABASE__URL".to_owned(), url.clone()),
        (
            "KAIRAN__OUTBOX__DIR".to_owned(),
            dir.path().join("outbox").display().to_string(),
        ),
        (
            "KAIRAN__NEWSLETTER__LEGACY_CHARSET_DOMAINS".to_owned(),
            "docomo.ne.jp".to_owned(),
        ),
    ];
    let settings = kairan::config::parse("", "bench", &env)
        .expect("settings")
        .0;
    let store = kairan::storage::connect(&url, 4).await.expect("connect");
    store.migrate().await.expect("migrate");
    let start = Instant::now();
    seed(store.as_ref(), &url).await;
    println!(
        "seeded {SUBSCRIBERS} subscribers and {ISSUES} issues on {} in {:.1} s",
        store.backend(),
        start.elapsed().as_secs_f64()
    );
    let renderer = kairan::startup::load_renderer(&settings).expect("renderer");
    let last = IssueId::new(ISSUES);

    time("all issues with bodies (list_issues)", || async {
        let list = store.list_issues().await.expect("list");
        assert_eq!(list.len() as i64, ISSUES);
    })
    .await;
    time("issue list page (issue_summaries)", || async {
        let list = store.issue_summaries().await.expect("summaries");
        assert_eq!(list.len() as i64, ISSUES);
    })
    .await;
    time("issue load + all checks (check_stored)", || async {
        let r = kairan::app::checks::check_stored(store.as_ref(), &settings, last)
            .await
            .expect("check")
            .expect("issue");
        std::hint::black_box(r);
    })
    .await;
    time("legacy-charset readers count", || async {
        let n = kairan::app::checks::legacy_readers(store.as_ref(), &settings)
            .await
            .expect("count");
        assert!(n.0 > 0 && n.1 > 0);
    })
    .await;
    let issue = store.issue(last).await.expect("load").expect("issue");
    time("preview render ja + en + both (HTML, text)", || async {
        let files = kairan::app::drafts::preview_content(
            &renderer,
            &settings,
            issue.ja.clone(),
            issue.en.clone(),
            Utc::now(),
        )
        .expect("preview");
        assert_eq!(files.len(), 3);
    })
    .await;
    time("next send time", || async {
        std::hint::black_box(kairan::app::drafts::next_send_time(
            &settings,
            None,
            Utc::now(),
        ));
    })
    .await;
    store.close().await;
    http_pages(&url, dir.path(), last).await;
}

/// The value of cookie `name` in a response's Set-Cookie headers.
fn cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .find_map(|v| {
            let s = v.to_str().ok()?;
            let (k, v) = s.split(';').next()?.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().expect("csrf").to_owned()
}

/// GET `path` with the pre-session form cookie: (csrf field, form cookie).
async fn form(c: &reqwest::Client, base: &str, path: &str) -> (String, String) {
    let r = c
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("get form");
    let jar = cookie(&r, "kairan_form").expect("form cookie");
    (hidden_csrf(&r.text().await.expect("page")), jar)
}

/// The console's pages through the real server, after the use-case timings above.
async fn http_pages(url: &str, dir: &std::path::Path, last: IssueId) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("addr")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        ("KAIRAN__DATABASE__URL", url.to_owned()),
        ("KAIRAN__HTTP__LISTEN", format!("127.0.0.1:{port}")),
        ("KAIRAN__HTTP__BASE_URL", base.clone()),
        (
            "KAIRAN__OUTBOX__DIR",
            dir.join("outbox").display().to_string(),
        ),
        (
            "KAIRAN__NEWSLETTER__LEGACY_CHARSET_DOMAINS",
            "docomo.ne.jp".to_owned(),
        ),
    ];
    let bin = env!("CARGO_BIN_EXE_kairan");
    let out = std::process::Command::new(bin)
        .args(["users", "add", "bench@example.org", "--role", "admin"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(dir)
        .output()
        .expect("kairan users add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let setup = stdout
        .lines()
        .last()
        .and_then(|l| l.strip_prefix(&base))
        .expect("the setup link")
        .to_owned();
    let log = std::fs::File::create(dir.join("serve.log")).expect("log");
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--passive"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("kairan serve");
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = c.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "kairan serve did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let password = "bench-correct-horse-battery-7";
    let (csrf, jar) = form(&c, &base, &setup).await;
    let r = c
        .post(format!("{base}{setup}"))
        .header("cookie", format!("kairan_form={jar}"))
        .form(&[
            ("password", password),
            ("password_confirm", password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .expect("setup");
    assert!(r.status().is_success(), "setup: {}", r.status());
    let (csrf, jar) = form(&c, &base, "/console/login").await;
    let r = c
        .post(format!("{base}/console/login"))
        .header("cookie", format!("kairan_form={jar}"))
        .form(&[
            ("email", "bench@example.org"),
            ("password", password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .expect("login");
    let session = cookie(&r, "kairan_session").expect("a session");
    let session = format!("kairan_session={session}");
    println!("through HTTP (kairan serve, signed in):");
    let pages = [
        ("GET /healthz (reference)", "/healthz".to_owned()),
        ("GET /console/issues", "/console/issues".to_owned()),
        (
            "GET /console/issues?page=20 (last page)",
            "/console/issues?page=20".to_owned(),
        ),
        (
            "GET /console/issues/{id} (editor + checks)",
            format!("/console/issues/{last}"),
        ),
        ("GET /console/issues/new", "/console/issues/new".to_owned()),
        (
            "GET /console/issues/{id}/preview",
            format!("/console/issues/{last}/preview?mail=both&width=phone&part=html"),
        ),
        (
            "GET /console/issues/{id}/preview/mail",
            format!("/console/issues/{last}/preview/mail?mail=both&part=html"),
        ),
    ];
    for (name, path) in pages {
        let u = format!("{base}{path}");
        time(name, || async {
            let r = c
                .get(&u)
                .header("cookie", &session)
                .send()
                .await
                .expect("get");
            assert_eq!(r.status(), reqwest::StatusCode::OK, "{u}");
            std::hint::black_box(r.bytes().await.expect("body"));
        })
        .await;
    }
    let _ = child.kill();
    let _ = child.wait();
}
