//! The operators' console pages (issue 16) through the real `kairan` binary, on both
//! backends: the dashboard and its event stream, the subscriber directory (search, filters,
//! keyset pages, a reader's history, add / unsubscribe / erase), the CSV import (upload,
//! mapping, preview, run, report; a bad file writes nothing), the bounce reports and the
//! filterable audit log. Each refusal is asserted: 303 without a session, 403 with a wrong
//! form token, 403 for an editor.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION};

use crate::bounces::{hard_bounce, pipe, reader, sent, verp};
use crate::console::{Jar, Server, client, get, hidden_csrf, log_in, post, set_password};
use crate::helpers::TestDb;

const ADMIN: &str = "kanri@example.jp";
const ADMIN_PASSWORD: &str = "運用-correct-horse-ops-7";
const EDITOR: &str = "henshu@example.jp";
const EDITOR_PASSWORD: &str = "editor-ops-battery-42";

/// A signed-in admin and editor on a fresh server.
pub async fn admin_and_editor(s: &Server) -> (Jar, Jar) {
    let setup = s.add_user(ADMIN, "admin", "管理 花子");
    set_password(s, &setup, ADMIN_PASSWORD).await;
    let setup = s.add_user(EDITOR, "editor", "編集 太郎");
    set_password(s, &setup, EDITOR_PASSWORD).await;
    (
        log_in(s, ADMIN, ADMIN_PASSWORD).await,
        log_in(s, EDITOR, EDITOR_PASSWORD).await,
    )
}

fn cookie_header(jar: &Jar) -> String {
    format!("kairan_session={}", jar.session.clone().unwrap_or_default())
}

/// A multipart form body: (boundary, bytes).
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----kairan-test-boundary-7d3f".to_owned();
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

/// POSTs a CSV to `/console/import`: (status, Location, body).
pub async fn upload(
    s: &Server,
    jar: &Jar,
    csrf: &str,
    name: &str,
    bytes: &[u8],
    confirmed: bool,
) -> (StatusCode, String, String) {
    let mut fields = vec![("csrf", csrf)];
    if confirmed {
        fields.push(("confirmed", "1"));
    }
    let (boundary, body) = multipart(&fields, Some((name, bytes)));
    let r = client()
        .post(s.url("/console/import"))
        .header(COOKIE, cookie_header(jar))
        .header("accept-language", "ja")
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// Subscribers as `kairan subscribers list` prints them (one line each).
fn listed(s: &Server) -> Vec<String> {
    let (ok, out, err) = s.kairan(&["subscribers", "list"]);
    assert!(ok, "{err}");
    out.lines()
        .filter(|l| l.contains('@'))
        .map(str::to_owned)
        .collect()
}

/// The server's lines about pages it could not render.
fn render_errors(s: &Server) -> String {
    s.log()
        .lines()
        .filter(|l| l.contains("cannot render"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The reader pages' ids in a search result page.
fn reader_links(page: &str) -> Vec<String> {
    page.split("href=\"/console/subscribers/")
        .skip(1)
        .filter_map(|p| p.split('"').next())
        .filter(|id| id.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

/// Polls the import status page until its report shows; the report page.
pub async fn import_report(s: &Server, jar: &mut Jar, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, page, headers) = get(s, jar, path).await;
        if !headers.contains_key("refresh") {
            assert_eq!(status, StatusCode::OK, "{page}");
            return page;
        }
        assert!(Instant::now() < deadline, "the import did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ops(db: TestDb) {
    let s = Server::start(
        &db.url,
        &[
            ("KAIRAN__CONSOLE__MAX_IMPORT_BYTES", "1048576"),
            ("KAIRAN__HTTP__BODY_LIMIT", "262144"),
        ],
    )
    .await;
    let mut anon = Jar::default();
    for path in [
        "/console",
        "/console/events",
        "/console/subscribers",
        "/console/subscribers/1",
        "/console/import",
        "/console/bounces",
        "/console/audit",
    ] {
        let (status, _, headers) = get(&s, &mut anon, path).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(headers[LOCATION], "/console/login", "{path}");
    }
    let (status, _, headers) = post(&s, &mut anon, "/console/subscribers", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/console/login");

    let (mut admin, mut editor) = admin_and_editor(&s).await;

    // A campaign sent to one reader, and its bounce attributed by VERP; one forged report.
    reader(&db.store, "taro@example.jp").await;
    let (_, delivery) = sent(&db.store, "2026-12").await;
    let dir = tempfile::tempdir().unwrap();
    let forged = format!("bounces+{}@example.org", "A".repeat(46));
    for raw in [
        hard_bounce("taro@example.jp", Some(&verp(delivery)), 1),
        hard_bounce("taro@example.jp", Some(&forged), 2),
    ] {
        let out = pipe(&db.url, dir.path(), &raw, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The dashboard: both roles; our script allowed on this page only.
    for jar in [&mut admin, &mut editor] {
        let (status, page, headers) = get(&s, jar, "/console").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("data-events=\"/console/events\""), "{page}");
        assert!(page.contains("<script src=\"/static/console.js\" defer>"));
        assert!(page.contains("2026-12"), "the last campaign shows");
        for check in [
            "データベース",
            "SMTP リレー",
            "DKIM 鍵",
            "署名鍵",
            "法定表示",
        ] {
            assert!(page.contains(check), "{check}");
        }
        // One hard bounce of one message sent: critical, the warning shows.
        assert!(page.contains("level-critical"), "{page}");
        assert!(page.contains("role=\"alert\""));
        let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(
            page.contains("href=\"/console\">再読み込み"),
            "no-JS refresh link"
        );
    }
    let (status, page, headers) = get(&s, &mut admin, "/console/subscribers").await;
    assert_eq!(status, StatusCode::OK, "{page} {}", render_errors(&s));
    let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        !csp.contains("script-src"),
        "only the dashboard runs a script"
    );
    let r = client()
        .get(s.url("/static/console.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(r.text().await.unwrap().contains("EventSource"));

    // The event stream: `dashboard` events with the numbers, one a second.
    let started = Instant::now();
    let mut r = client()
        .get(s.url("/console/events"))
        .header(COOKIE, cookie_header(&editor))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut text = String::new();
    while text.matches("event: dashboard").count() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(10), r.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "one a second: {elapsed:?}"
    );
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let v: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(v["queue"], "0", "{v}");
    assert!(v.as_object().unwrap().keys().any(|k| k.ends_with("-sent")));
    drop(r);

    // Editors see no subscribers, import nothing, erase nothing.
    let editor_csrf = {
        let (_, page, _) = get(&s, &mut editor, "/console").await;
        hidden_csrf(&page)
    };
    for path in [
        "/console/subscribers",
        "/console/import",
        "/console/bounces",
        "/console/audit",
    ] {
        let (status, _, _) = get(&s, &mut editor, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _, _) = post(
        &s,
        &mut editor,
        "/console/subscribers/1/erase",
        &[("csrf", &editor_csrf), ("confirm", "erase")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = upload(
        &s,
        &editor,
        &editor_csrf,
        "x.csv",
        b"email,lang\nx@example.jp,ja\n",
        true,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Add: a wrong form token changes nothing; a bad address is named; then added.
    let (status, page, _) = get(&s, &mut admin, "/console/subscribers").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = hidden_csrf(&page);
    let (status, _, _) = post(
        &s,
        &mut admin,
        "/console/subscribers",
        &[
            ("csrf", "wrong"),
            ("email", "new@example.jp"),
            ("lang", "ja"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!listed(&s).iter().any(|l| l.contains("new@example.jp")));
    let (status, page, _) = post(
        &s,
        &mut admin,
        "/console/subscribers",
        &[("csrf", &csrf), ("email", "not an address"), ("lang", "ja")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("not an address") && page.contains("aria-invalid=\"true\""));
    let (status, _, headers) = post(
        &s,
        &mut admin,
        "/console/subscribers",
        &[
            ("csrf", &csrf),
            ("email", "new@example.jp"),
            ("name", "新井 春"),
            ("lang", "both"),
            ("confirmed", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let reader_path = headers[LOCATION].to_str().unwrap().to_owned();
    let (status, page, _) = get(&s, &mut admin, &reader_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("new@example.jp") && page.contains("新井 春"));
    assert!(page.contains("購読中"), "active: consent obtained");

    // The bounced reader's page: the delivery and the VERP-attributed bounce.
    let (_, page, _) = get(&s, &mut admin, "/console/subscribers?q=taro").await;
    let ids = reader_links(&page);
    assert_eq!(ids.len(), 1, "{page}");
    let (_, page, _) = get(&s, &mut admin, &format!("/console/subscribers/{}", ids[0])).await;
    assert!(page.contains("2026-12") && page.contains("verp") && page.contains("不達"));

    // Unsubscribe and erase, each audited.
    let (status, _, _) = post(
        &s,
        &mut admin,
        &format!("{reader_path}/unsubscribe"),
        &[("csrf", "wrong")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = post(
        &s,
        &mut admin,
        &format!("{reader_path}/unsubscribe"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page, _) = get(&s, &mut admin, &reader_path).await;
    assert!(
        page.contains("解除済み") && page.contains("console"),
        "{page}"
    );
    let (status, page, _) = get(&s, &mut admin, &format!("{reader_path}/erase")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("new@example.jp") && page.contains("name=\"confirm\""));
    let (status, _, _) = post(
        &s,
        &mut admin,
        &format!("{reader_path}/erase"),
        &[("csrf", "wrong"), ("confirm", "erase")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(listed(&s).iter().any(|l| l.contains("new@example.jp")));
    let (status, _, _) = post(
        &s,
        &mut admin,
        &format!("{reader_path}/erase"),
        &[("csrf", &csrf), ("confirm", "erase")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // What stays is anonymous: the dates, the status, no address or name.
    let (status, page, _) = get(&s, &mut admin, &reader_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("@erased.invalid") && !page.contains("new@example.jp"));
    assert!(!page.contains("新井"));
    assert!(!listed(&s).iter().any(|l| l.contains("new@example.jp")));

    // Import: a wrong token and bad files write nothing, each with its own error.
    let before = listed(&s).len();
    let good = "メールアドレス,名前,言語,タグ\n\
                yamada@example.jp,山田 太郎,日本語,a\n\
                ann@example.org,Ann,English,b\n\
                sato@example.jp,佐藤 健,両方,c\n\
                bad-address,X,日本語,d\n";
    let (status, _, _) = upload(&s, &admin, "wrong", "list.csv", good.as_bytes(), true).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, page) = upload(&s, &admin, &csrf, "u16.csv", b"\xFF\xFEe\0m\0", true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("UTF-16"), "{page}");
    let (status, _, page) = upload(&s, &admin, &csrf, "empty.csv", b"", true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("CSV ファイルを選んで"), "{page}");
    // Over `console.max_import_bytes` (1 MiB on this server): refused while it is read, with
    // the page saying so; larger than `http.body_limit` (256 KiB here) is fine below it.
    let big = format!("email,lang\n{}", "x@example.jp,ja\n".repeat(80_000));
    let (status, _, page) = upload(&s, &admin, &csrf, "big.csv", big.as_bytes(), true).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        page.contains("1 MiB") && page.contains("console.max_import_bytes"),
        "{page}"
    );
    assert_eq!(listed(&s).len(), before);

    let (status, location, _) = upload(&s, &admin, &csrf, "list.csv", good.as_bytes(), true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/console/import/"));
    let (status, page, _) = get(&s, &mut admin, &location).await;
    assert_eq!(status, StatusCode::OK);
    // Known headers chosen, the unknown one waits for a choice; the preview shows each row.
    assert!(page.contains("<option value=\"email\" selected>"), "{page}");
    assert!(
        page.contains("<option value=\"\" selected>"),
        "タグ is unchosen"
    );
    assert!(
        page.contains("次の列の内容を選んでください：タグ"),
        "{page}"
    );
    assert!(
        page.contains("yamada@example.jp · ja · 山田 太郎"),
        "a preview at once"
    );
    assert!(
        !page.contains("value=\"run\""),
        "no run before a full mapping"
    );
    // Someone else's upload is not theirs to see.
    let mut other = editor.clone();
    let (status, _, _) = get(&s, &mut other, &location).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Mapping mistakes: two emails.
    let (status, page, _) = post(
        &s,
        &mut admin,
        &location,
        &[
            ("csrf", &csrf),
            ("step", "run"),
            ("col0", "email"),
            ("col1", "email"),
            ("col2", "lang"),
            ("col3", "ignore"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("email&#x60; appears twice"), "{page}");
    assert_eq!(listed(&s).len(), before, "nothing half-written");
    let mapping = [
        ("csrf", csrf.as_str()),
        ("col0", "email"),
        ("col1", "name"),
        ("col2", "lang"),
        ("col3", "ignore"),
    ];
    let mut preview = mapping.to_vec();
    preview.push(("step", "preview"));
    let (status, page, _) = post(&s, &mut admin, &location, &preview).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("yamada@example.jp · ja · 山田 太郎"),
        "{page}"
    );
    assert!(page.contains("bad-address"));
    assert!(page.contains("value=\"run\""));
    assert_eq!(listed(&s).len(), before, "a preview stores nothing");
    let mut run = mapping.to_vec();
    run.push(("step", "run"));
    let (status, _, headers) = post(&s, &mut admin, &location, &run).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], location.as_str());
    let report = import_report(&s, &mut admin, &location).await;
    assert!(report.contains("id=\"import-added\">3<"), "{report}");
    assert!(report.contains("id=\"import-bad\">1<"), "{report}");
    assert!(
        report.contains("<td class=\"num\">5</td>"),
        "the bad row's line"
    );
    assert_eq!(listed(&s).len(), before + 3);
    // The same run again (a reload of the POST) does nothing more.
    let (status, _, _) = post(&s, &mut admin, &location, &run).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(listed(&s).len(), before + 3);
    // Re-importing the file changes nothing.
    let (_, location, _) = upload(&s, &admin, &csrf, "list.csv", good.as_bytes(), true).await;
    let (status, _, _) = post(&s, &mut admin, &location, &run).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let report = import_report(&s, &mut admin, &location).await;
    assert!(report.contains("id=\"import-added\">0<"), "{report}");
    assert!(report.contains("id=\"import-unchanged\">3<"), "{report}");

    // Search, filters and keyset pages over 60 more readers.
    let mut csv = String::from("email,lang\n");
    for i in 0..60 {
        csv.push_str(&format!("page{i:02}@example.net,en\n"));
    }
    let (_, location, _) = upload(&s, &admin, &csrf, "pages.csv", csv.as_bytes(), true).await;
    let (status, _, _) = post(
        &s,
        &mut admin,
        &location,
        &[("csrf", &csrf), ("step", "run")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    import_report(&s, &mut admin, &location).await;
    let (_, page, _) = get(&s, &mut admin, "/console/subscribers?q=page&language=en").await;
    let first = reader_links(&page);
    assert_eq!(first.len(), 50);
    let at = page.find("rel=\"next\"").expect("a next page link");
    let href = page[..at]
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let href = href.replace("&amp;", "&").replace("&#x3D;", "=");
    assert!(href.contains("after="), "{href}");
    let (_, page, _) = get(&s, &mut admin, &href).await;
    let second = reader_links(&page);
    assert_eq!(second.len(), 10);
    assert!(second.iter().all(|id| !first.contains(id)));
    assert!(!page.contains("rel=\"next\""));
    let (_, page, _) = get(&s, &mut admin, "/console/subscribers?q=page&language=ja").await;
    assert!(reader_links(&page).is_empty() && page.contains("該当する購読者はいません"));
    let (_, page, _) = get(&s, &mut admin, "/console/subscribers?q=%E5%B1%B1%E7%94%B0").await;
    assert_eq!(reader_links(&page).len(), 1, "by name (山田)");
    let (status, page, _) = get(&s, &mut admin, "/console/subscribers?status=gone").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("gone"));

    // Bounces: attributed and forged, filtered by kind and by what was done.
    let (status, page, _) = get(&s, &mut admin, "/console/bounces").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("forged") && page.contains("verp"), "{page}");
    assert!(page.contains("class=\"suspicious\""));
    let (_, page, _) = get(&s, &mut admin, "/console/bounces?action=forged").await;
    assert_eq!(
        page.matches("<tr class=\"suspicious\">").count(),
        1,
        "{page}"
    );
    assert!(!page.contains(">verp<"));
    let (_, page, _) = get(&s, &mut admin, "/console/bounces?kind=complaint").await;
    assert!(page.contains("まだありません"));
    let (status, _, _) = get(&s, &mut admin, "/console/bounces?kind=nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The audit log: every change above, filterable.
    let (status, page, _) = get(&s, &mut admin, "/console/audit").await;
    assert_eq!(status, StatusCode::OK);
    for action in [
        "subscriber.added",
        "subscriber.unsubscribed",
        "subscriber.erased",
        "subscriber.imported",
        "login.ok",
    ] {
        assert!(page.contains(action), "{action}: {page}");
    }
    assert!(
        !page.contains("new@example.jp<"),
        "the audit names ids, not addresses"
    );
    let (_, page, _) = get(&s, &mut admin, "/console/audit?action=subscriber.imported").await;
    assert_eq!(
        page.matches("<td>subscriber.imported</td>").count(),
        3,
        "{page}"
    );
    assert!(!page.contains("<td>subscriber.erased</td>"));
    assert!(page.contains("3 added, 0 activated, 0 unchanged, 0 suppressed, 1 bad"));
    let (_, page, _) = get(&s, &mut admin, "/console/audit?user=henshu").await;
    assert!(page.contains(EDITOR) && !page.contains(&format!("<td>{ADMIN}</td>")));
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let (_, page, _) = get(&s, &mut admin, &format!("/console/audit?since={tomorrow}")).await;
    assert!(page.contains("まだありません"), "{page}");
    let (status, page, _) = get(&s, &mut admin, "/console/audit?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("YYYY-MM-DD"));

    // Nothing secret or personal at info level.
    let log = s.log();
    assert!(!log.contains(ADMIN_PASSWORD) && !log.contains(EDITOR_PASSWORD));
    for line in log.lines().filter(|l| l.contains("\"INFO\"")) {
        assert!(
            !line.contains("yamada@example.jp") && !line.contains("new@example.jp"),
            "{line}"
        );
    }
    drop(s);
    db.cleanup().await;
}

#[tokio::test]
async fn console_ops_pages_on_sqlite() {
    ops(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn console_ops_pages_on_postgres() {
    ops(TestDb::postgres().await).await;
}
