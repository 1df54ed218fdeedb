//! The editors' console pages (issue 15) through the real `kairan` binary on both backends:
//! the list, a new draft, the editor's checks (a date that differs between ja and en, an en
//! dash for legacy-charset readers) with the editor's own line and column, saving, accepting
//! the replacements, image upload (and refusals), preview (the frame and the mail), test sends
//! to Postfix's smtp-sink, schedule, edit after scheduling, "send now" with the audience,
//! cancel back to draft, and `console.require_approval`'s "request send". Every refusal is
//! proved: no session (303), wrong csrf (403), wrong role (403), bad input (a specific message
//! and nothing written). The audit log names every change.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};

use crate::console::{Jar, Server, client, get, hidden_csrf, log_in, post, set_password};
use crate::helpers::{SmtpSink, TestDb};
use kairan::domain::{IssueId, IssueState};

const ADMIN_PW: &str = "編集長-correct-horse-7";
const EDITOR_PW: &str = "editor-battery-staple-42";

pub const JA_BODY: &str =
    "# 公開セミナー\n\n日時：2027年1月23日 14:00〜15:30\n\n[申込](https://example.org/apply)\n";
pub const EN_BODY: &str = "# Public seminar\n\nWhen: 24 January 2027, 14:00–15:30\n\n[Apply](https://example.org/apply)\n";

/// A 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

fn text_form<'a>(
    csrf: &'a str,
    slug: &'a str,
    ja_body: &'a str,
    en_subject: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("slug", slug),
        ("ja_subject", "一月号：公開セミナーのお知らせ"),
        ("ja_preheader", "今月の活動"),
        ("ja_markdown", ja_body),
        ("en_subject", en_subject),
        ("en_preheader", ""),
        ("en_markdown", EN_BODY),
    ]
}

/// A multipart POST as a browser sends the upload form.
async fn upload(
    s: &Server,
    jar: &Jar,
    id: i64,
    csrf: &str,
    file: &[u8],
    add_to: &str,
) -> (StatusCode, String) {
    let b = "----kairanTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (name, value) in [("csrf", csrf), ("alt", "相談会の写真"), ("add_to", add_to)] {
        body.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    let r = client()
        .post(s.url(&format!("/console/issues/{id}/media")))
        .header(
            COOKIE,
            format!("kairan_session={}", jar.session.clone().unwrap_or_default()),
        )
        .header("accept-language", "ja")
        .header(CONTENT_TYPE, format!("multipart/form-data; boundary={b}"))
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn audit_actions(s: &Server) -> Vec<String> {
    let (ok, out, err) = s.kairan(&["audit", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn editor_pages(db: TestDb) {
    let sink = SmtpSink::start().await;
    let s = Server::start(
        &db.url,
        &[
            ("KAIRAN__SMTP__URL", sink.url().as_str()),
            ("KAIRAN__NEWSLETTER__LEGACY_CHARSET_DOMAINS", "docomo.ne.jp"),
            ("KAIRAN__CONSOLE__MAX_IMAGE_BYTES", "2048"),
            ("KAIRAN__SCHEDULE__TIMEZONE", "Asia/Tokyo"),
            ("KAIRAN__NEWSLETTER__CONTACT", "info@example.org"),
            (
                "KAIRAN__NEWSLETTER__JA__SENDER",
                "特定非営利活動法人かいらん",
            ),
            (
                "KAIRAN__NEWSLETTER__JA__POSTAL_ADDRESS",
                "東京都新宿区1-2-3",
            ),
            ("KAIRAN__NEWSLETTER__EN__SENDER", "Kairan"),
            (
                "KAIRAN__NEWSLETTER__EN__POSTAL_ADDRESS",
                "1-2-3 Shinjuku, Tokyo",
            ),
        ],
    )
    .await;
    let mut anon = Jar::default();

    // No session: every editor page sends to the login, and no POST changes anything.
    for path in [
        "/console/issues",
        "/console/issues/new",
        "/console/issues/1",
    ] {
        let (status, _, headers) = get(&s, &mut anon, path).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(headers[LOCATION], "/console/login", "{path}");
    }
    let (status, _, headers) = post(
        &s,
        &mut anon,
        "/console/issues/new",
        &text_form("x", "2027-01", JA_BODY, "x"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/console/login");
    assert!(db.store.list_issues().await.unwrap().is_empty());

    let setup = s.add_user("chief@example.jp", "admin", "編集長");
    set_password(&s, &setup, ADMIN_PW).await;
    let setup = s.add_user("writer@example.jp", "editor", "佐藤 由紀");
    set_password(&s, &setup, EDITOR_PW).await;
    let mut admin = log_in(&s, "chief@example.jp", ADMIN_PW).await;
    let mut editor = log_in(&s, "writer@example.jp", EDITOR_PW).await;
    for (addr, lang) in [
        ("reader1@docomo.ne.jp", "en"),
        ("reader2@docomo.ne.jp", "both"),
        ("yamada@example.jp", "ja"),
    ] {
        let (ok, out, err) = s.kairan(&["subscribers", "add", addr, "--lang", lang, "--confirmed"]);
        assert!(ok, "{out}{err}");
    }

    // The list, empty.
    let (status, page, _) = get(&s, &mut editor, "/console/issues").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("まだ号がありません"), "{page}");
    assert!(page.contains("href=\"/console/issues/new\""));

    // A new draft: wrong csrf (403), a bad slug (422, nothing written), then saved.
    let (status, page, _) = get(&s, &mut editor, "/console/issues/new").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = hidden_csrf(&page);
    for name in [
        "ja_subject",
        "ja_preheader",
        "ja_markdown",
        "en_subject",
        "en_markdown",
        "slug",
    ] {
        assert!(
            page.contains(&format!("<label for=\"{name}\"")),
            "label for {name}"
        );
    }
    let (status, _, _) = post(
        &s,
        &mut editor,
        "/console/issues/new",
        &text_form("wrong", "2027-01", JA_BODY, "January – seminar"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, page, _) = post(
        &s,
        &mut editor,
        "/console/issues/new",
        &text_form(&csrf, "January 2027", JA_BODY, "January seminar"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("スラッグ「January 2027」は使えません"),
        "{page}"
    );
    assert!(
        page.contains("一月号：公開セミナーのお知らせ"),
        "the text is kept"
    );
    assert!(db.store.list_issues().await.unwrap().is_empty());
    let (status, _, headers) = post(
        &s,
        &mut editor,
        "/console/issues/new",
        &text_form(&csrf, "2027-01", JA_BODY, "January seminar"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let loc = headers[LOCATION].to_str().unwrap().to_owned();
    let id: i64 = loc
        .strip_prefix("/console/issues/")
        .and_then(|r| r.strip_suffix("?done=created"))
        .unwrap()
        .parse()
        .unwrap();
    let iid = IssueId::new(id);
    assert_eq!(
        db.store.issue(iid).await.unwrap().unwrap().state,
        IssueState::Draft
    );

    // The editor: both date warnings and the en dash, each with language, field, line and
    // column in the editor's numbering, all at once.
    let (status, page, _) = get(&s, &mut editor, &loc).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("下書きを保存しました"), "{page}");
    let csrf = hidden_csrf(&page);
    assert!(
        page.contains("本文（Markdown） 3行 4文字目"),
        "ja date at 3:4: {page}"
    );
    assert!(
        page.contains("本文（Markdown） 3行 7文字目"),
        "en date at 3:7"
    );
    assert!(page.contains("[date-differs]"));
    assert!(
        page.contains("本文（Markdown） 3行 29文字目"),
        "en dash at 3:29"
    );
    assert!(page.contains("[legacy-replacement]"));
    assert!(page.contains("エラー 0 件、警告 "), "{page}");
    assert!(
        page.contains("U+2013") && page.contains("読者 2 人"),
        "two readers get ISO-2022-JP English"
    );
    assert!(
        page.contains(
            "action=\"/console/issues/{id}/replacements\""
                .replace("{id}", &id.to_string())
                .as_str()
        )
    );

    // An editor may not schedule, send, pause or cancel.
    for action in ["schedule", "send", "pause", "cancel", "resume"] {
        let (status, _, _) = post(
            &s,
            &mut editor,
            &format!("/console/issues/{id}/{action}"),
            &[("csrf", &csrf), ("send_at", "")],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}");
    }
    let (status, _, _) = get(&s, &mut editor, &format!("/console/issues/{id}/send")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        db.store.issue(iid).await.unwrap().unwrap().state,
        IssueState::Draft
    );

    // Fix the date (save: 303, then the warning is gone, the en dash still there).
    let fixed = JA_BODY.replace("23日", "24日");
    let (status, _, _) = post(
        &s,
        &mut editor,
        &format!("/console/issues/{id}"),
        &text_form("wrong", "2027-01", &fixed, "January seminar"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        db.store
            .issue(iid)
            .await
            .unwrap()
            .unwrap()
            .ja
            .markdown
            .contains("23日")
    );
    let (status, _, headers) = post(
        &s,
        &mut editor,
        &format!("/console/issues/{id}"),
        &text_form(&csrf, "2027-01", &fixed, "January seminar"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[LOCATION],
        format!("/console/issues/{id}?done=saved").as_str()
    );
    let (_, page, _) = get(&s, &mut editor, &format!("/console/issues/{id}")).await;
    assert!(!page.contains("[date-differs]"), "{page}");
    assert!(page.contains("[legacy-replacement]"));

    // Accept the replacements.
    let path = format!("/console/issues/{id}/replacements");
    let (status, _, _) = post(&s, &mut editor, &path, &[("csrf", "nope")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = post(&s, &mut editor, &path, &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let issue = db.store.issue(iid).await.unwrap().unwrap();
    assert!(
        issue.en.markdown.contains("14:00-15:30"),
        "{}",
        issue.en.markdown
    );
    let (_, page, _) = get(&s, &mut editor, &format!("/console/issues/{id}")).await;
    assert!(!page.contains("[legacy-replacement]"));
    assert!(page.contains("エラー 0 件"), "{page}");

    // Images: wrong csrf, not an image, too large, then a PNG added to both bodies.
    let (status, _) = upload(&s, &editor, id, "nope", PNG, "both").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, page) = upload(&s, &editor, id, &csrf, b"%PDF-1.7 not an image", "both").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("PNG、JPEG、WebP、GIF の画像ではありません"),
        "{page}"
    );
    let mut big = PNG.to_vec();
    big.resize(3000, 0);
    let (status, page) = upload(&s, &editor, id, &csrf, &big, "both").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(page.contains("2048 バイトまで"), "{page}");
    assert!(
        !db.store
            .issue(iid)
            .await
            .unwrap()
            .unwrap()
            .ja
            .markdown
            .contains("![")
    );
    let (status, page) = upload(&s, &editor, id, &csrf, PNG, "both").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("画像を保存しました"));
    let at = page.find("/media/").expect("the image's URL");
    let media = page[at..].split(')').next().unwrap().to_owned();
    assert!(media.ends_with(".png"), "{media}");
    let issue = db.store.issue(iid).await.unwrap().unwrap();
    assert!(
        issue
            .ja
            .markdown
            .contains(&format!("![相談会の写真]({}{media})", s.base))
    );
    assert!(issue.en.markdown.contains(&media));
    let r = client().get(s.url(&media)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);

    // Preview: the page with a sandboxed frame, and the mail itself.
    let (status, page, headers) = get(
        &s,
        &mut editor,
        &format!("/console/issues/{id}/preview?mail=both&width=phone&part=html"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        page.contains("<iframe class=\"preview-frame phone\" sandbox"),
        "{page}"
    );
    let (status, html, headers) = get(
        &s,
        &mut editor,
        &format!("/console/issues/{id}/preview/mail?mail=both&part=html"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(headers["x-frame-options"], "SAMEORIGIN");
    assert!(html.contains("公開セミナー") && html.contains("Public seminar"));
    assert!(html.contains(&media), "the image is in the mail");
    let (_, text, headers) = get(
        &s,
        &mut editor,
        &format!("/console/issues/{id}/preview/mail?mail=en&part=text"),
    )
    .await;
    assert!(
        headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        text.contains("24 January 2027, 14:00-15:30") && !text.contains("公開セミナー"),
        "{text}"
    );

    // Test sends: a bad address (422, nothing sent), then two addresses × ja and en.
    let tpath = format!("/console/issues/{id}/test");
    let (status, page, _) = post(
        &s,
        &mut editor,
        &tpath,
        &[
            ("csrf", &csrf),
            ("to", "ok@example.org, not-an-address"),
            ("test_ja", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("「not-an-address」はメールアドレスとして使えません"),
        "{page}"
    );
    let (status, page, _) = post(
        &s,
        &mut editor,
        &tpath,
        &[("csrf", &csrf), ("to", "ok@example.org")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("版を 1 つ以上選んでください"));
    let to = |addr: &str| {
        sink.messages()
            .iter()
            .filter(|m| String::from_utf8_lossy(m).contains(&format!("To: {addr}")))
            .count()
    };
    assert_eq!(to("ok@example.org"), 0);
    let (status, page, _) = post(
        &s,
        &mut editor,
        &tpath,
        &[
            ("csrf", &csrf),
            ("to", "kouhou@example.org\nboard@example.net"),
            ("test_ja", "1"),
            ("test_en", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("テストメール 4 通のうち 4 通が受け付けられました"),
        "{page}"
    );
    for addr in ["kouhou@example.org", "board@example.net"] {
        assert_eq!(
            page.matches(&format!("<strong>{addr}</strong>")).count(),
            2,
            "{addr}"
        );
    }
    wait_for("4 test messages", || {
        to("kouhou@example.org") == 2 && to("board@example.net") == 2
    })
    .await;

    // Schedule (admin): a past time and an unreadable one are refused, nothing changes.
    let (_, page, _) = get(&s, &mut admin, &format!("/console/issues/{id}")).await;
    let acsrf = hidden_csrf(&page);
    assert!(page.contains("type=\"datetime-local\""));
    assert!(page.contains("空欄なら次の定期配信日："), "{page}");
    let spath = format!("/console/issues/{id}/schedule");
    for (input, message) in [
        ("2020-01-01T09:00", "過去の日時です"),
        ("next friday", "日時として読めません"),
    ] {
        let (status, page, _) = post(
            &s,
            &mut admin,
            &spath,
            &[("csrf", &acsrf), ("send_at", input)],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{input}");
        assert!(page.contains(message), "{input}: {page}");
    }
    let (status, _, _) = post(&s, &mut admin, &spath, &[("csrf", "nope"), ("send_at", "")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        db.store.issue(iid).await.unwrap().unwrap().state,
        IssueState::Draft
    );
    let tz = chrono_tz::Asia::Tokyo;
    let when = chrono::Utc::now() + chrono::Duration::days(3) + chrono::Duration::hours(2);
    let local = when.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string();
    let (status, _, headers) = post(
        &s,
        &mut admin,
        &spath,
        &[("csrf", &acsrf), ("send_at", &local)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[LOCATION],
        format!("/console/issues/{id}?done=queued").as_str()
    );
    let issue = db.store.issue(iid).await.unwrap().unwrap();
    assert_eq!(issue.state, IssueState::Queued);
    assert_eq!(
        issue.send_at.unwrap().timestamp() / 60,
        when.timestamp() / 60,
        "the typed time is read in schedule.timezone"
    );
    let (_, page, _) = get(&s, &mut editor, &format!("/console/issues/{id}")).await;
    assert!(page.contains("予約済み"));
    assert!(page.contains("（3日後）"), "{page}");
    let day = when.with_timezone(&tz).format("%-d日").to_string();
    assert!(page.contains(&day), "the absolute date {day}");

    // Edit after scheduling: the text changes, the slug cannot.
    let (status, _, _) = post(
        &s,
        &mut editor,
        &format!("/console/issues/{id}"),
        &text_form(
            &csrf,
            "2027-01",
            &issue.ja.markdown,
            "January: public seminar",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, page, _) = post(
        &s,
        &mut editor,
        &format!("/console/issues/{id}"),
        &text_form(&csrf, "renamed", &issue.ja.markdown, "Renamed"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("この操作はできません"), "{page}");
    let issue = db.store.issue(iid).await.unwrap().unwrap();
    assert_eq!(
        (issue.slug.as_str(), issue.en.subject.as_str()),
        ("2027-01", "January: public seminar")
    );
    assert_eq!(issue.state, IssueState::Queued);

    // The list shows it queued with its time.
    let (_, page, _) = get(&s, &mut editor, "/console/issues").await;
    assert!(
        page.contains("January: public seminar") || page.contains("一月号"),
        "{page}"
    );
    assert!(
        page.contains("state-queued") && page.contains("（3日後）"),
        "{page}"
    );

    // "Send now" confirmation: the audience by language.
    let (status, page, _) = get(&s, &mut admin, &format!("/console/issues/{id}/send")).await;
    assert_eq!(status, StatusCode::OK);
    for (cell, n) in [("aud-ja", 1), ("aud-en", 1), ("aud-both", 1)] {
        assert!(
            page.contains(&format!("id=\"{cell}\">{n}<")),
            "{cell}: {page}"
        );
    }
    assert!(page.contains("今すぐ 3 人に送信"), "{page}");

    // Cancel a queued issue: back to draft; pause then refused (409), nothing changes.
    let (status, _, _) = post(
        &s,
        &mut admin,
        &format!("/console/issues/{id}/cancel"),
        &[("csrf", &acsrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        db.store.issue(iid).await.unwrap().unwrap().state,
        IssueState::Draft
    );
    let (status, _, _) = post(
        &s,
        &mut admin,
        &format!("/console/issues/{id}/pause"),
        &[("csrf", &acsrf)],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        db.store.issue(iid).await.unwrap().unwrap().state,
        IssueState::Draft
    );

    // Send now from a draft: checked, queued and brought forward to now.
    let (status, _, _) = post(
        &s,
        &mut admin,
        &format!("/console/issues/{id}/send"),
        &[("csrf", &acsrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let issue = db.store.issue(iid).await.unwrap().unwrap();
    assert_eq!(issue.state, IssueState::Queued);
    assert!(issue.send_at.unwrap() <= chrono::Utc::now());

    // Under way: the list shows the progress; pause and resume from the editor.
    let n = db
        .store
        .start_campaign(iid, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(n, Some(3));
    let (_, page, _) = get(&s, &mut editor, "/console/issues").await;
    assert!(
        page.contains("state-sending") && page.contains("0 / 3"),
        "{page}"
    );
    let (_, page, _) = get(&s, &mut admin, &format!("/console/issues/{id}")).await;
    assert!(page.contains(&format!("action=\"/console/issues/{id}/pause\"")));
    assert!(
        page.contains(" readonly"),
        "no more editing once sending started"
    );
    let (status, _, _) = post(
        &s,
        &mut editor,
        &format!("/console/issues/{id}/pause"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = post(
        &s,
        &mut admin,
        &format!("/console/issues/{id}/pause"),
        &[("csrf", &acsrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        db.store.issue(iid).await.unwrap().unwrap().state,
        IssueState::Paused
    );
    let (status, _, _) = post(
        &s,
        &mut admin,
        &format!("/console/issues/{id}/resume"),
        &[("csrf", &acsrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        db.store.issue(iid).await.unwrap().unwrap().state,
        IssueState::Sending
    );

    // The list pages by 50, newest first.
    let now = chrono::Utc::now();
    for i in 0..55 {
        let c = |s: &str| kairan::domain::IssueContent {
            subject: s.into(),
            preheader: None,
            markdown: "本文".into(),
        };
        db.store
            .insert_issue(&kairan::domain::NewIssue {
                slug: format!("bulk-{i}"),
                state: IssueState::Draft,
                send_at: None,
                ja: c(&format!("一括 {i}")),
                en: c(&format!("Bulk {i}")),
                now,
            })
            .await
            .unwrap();
    }
    let (_, page, _) = get(&s, &mut editor, "/console/issues").await;
    assert!(
        page.contains("全 56 号") && page.contains("rel=\"next\""),
        "{page}"
    );
    assert!(page.contains("bulk-54") && !page.contains("#1 · 2027-01"));
    let (_, page, _) = get(&s, &mut editor, "/console/issues?page=2").await;
    assert!(
        page.contains("#1 · 2027-01") && page.contains("rel=\"prev\""),
        "{page}"
    );
    assert!(!page.contains("bulk-54"));

    // The English UI.
    let (status, page, _) = get(&s, &mut editor, &format!("/console/issues/{id}?lang=en")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Test send") && page.contains("Body (Markdown)"),
        "{page}"
    );

    // Every change is in the audit log.
    let actions = audit_actions(&s);
    for a in [
        "issue.created",
        "issue.edited",
        "media.uploaded",
        "issue.test_sent",
        "issue.queued",
        "issue.scheduled",
        "issue.cancelled",
        "issue.sent",
        "issue.paused",
        "issue.resumed",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    // Each once, written by the use case under the person's name (no page writes it twice).
    let count = |a: &str| actions.iter().filter(|x| *x == a).count();
    assert_eq!(count("issue.created"), 1, "{actions:?}");
    assert_eq!(count("issue.scheduled"), 1, "{actions:?}");
    assert_eq!(
        count("issue.test_sent"),
        4,
        "one per test message: {actions:?}"
    );
    assert_eq!(count("media.uploaded"), 1, "{actions:?}");
    assert_eq!(count("issue.cancelled"), 1, "{actions:?}");
    // No address of a test recipient at info level in the server's log.
    for line in s.log().lines().filter(|l| l.contains("\"INFO\"")) {
        assert!(!line.contains("kouhou@example.org"), "{line}");
    }
}

/// `console.require_approval`: "Request send" instead of "Send now"; admins' send-now is 409.
async fn approval_pages(db: TestDb) {
    let s = Server::start(
        &db.url,
        &[
            ("KAIRAN__CONSOLE__REQUIRE_APPROVAL", "true"),
            ("KAIRAN__NEWSLETTER__CONTACT", "info@example.org"),
            (
                "KAIRAN__NEWSLETTER__JA__SENDER",
                "特定非営利活動法人かいらん",
            ),
            (
                "KAIRAN__NEWSLETTER__JA__POSTAL_ADDRESS",
                "東京都新宿区1-2-3",
            ),
            ("KAIRAN__NEWSLETTER__EN__SENDER", "Kairan"),
            (
                "KAIRAN__NEWSLETTER__EN__POSTAL_ADDRESS",
                "1-2-3 Shinjuku, Tokyo",
            ),
        ],
    )
    .await;
    let setup = s.add_user("chief@example.jp", "admin", "編集長");
    set_password(&s, &setup, ADMIN_PW).await;
    let setup = s.add_user("writer@example.jp", "editor", "佐藤 由紀");
    set_password(&s, &setup, EDITOR_PW).await;
    let mut admin = log_in(&s, "chief@example.jp", ADMIN_PW).await;
    let mut editor = log_in(&s, "writer@example.jp", EDITOR_PW).await;
    let (_, page, _) = get(&s, &mut editor, "/console/issues/new").await;
    let csrf = hidden_csrf(&page);
    let fixed = JA_BODY.replace("23日", "24日");
    let (status, _, headers) = post(
        &s,
        &mut editor,
        "/console/issues/new",
        &text_form(&csrf, "2027-02", &fixed, "February seminar"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let path = headers[LOCATION]
        .to_str()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (_, page, _) = get(&s, &mut editor, &path).await;
    assert!(
        page.contains(&format!("action=\"{path}/request-send\"")),
        "{page}"
    );
    assert!(page.contains("href=\"/console/approvals\""));
    let (status, page, _) = post(
        &s,
        &mut editor,
        &format!("{path}/request-send"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("別の管理者の承認を待っています"), "{page}");
    let (status, page, _) = post(
        &s,
        &mut editor,
        &format!("{path}/request-send"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("すでに承認待ち"));
    let (_, page, _) = get(&s, &mut admin, &path).await;
    let acsrf = hidden_csrf(&page);
    assert!(
        !page.contains("id=\"send-now\""),
        "no direct send under the two-person rule"
    );
    let (status, _, _) = post(&s, &mut admin, &format!("{path}/send"), &[("csrf", &acsrf)]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, page, _) = get(&s, &mut admin, "/console/approvals").await;
    assert!(
        page.contains("/approve"),
        "the request waits for the admin: {page}"
    );
    // A different admin approves: the draft is checked, queued and sent now.
    let setup = s.add_user("second@example.jp", "admin", "副編集長");
    set_password(&s, &setup, ADMIN_PW).await;
    let mut second = log_in(&s, "second@example.jp", ADMIN_PW).await;
    let (_, page, _) = get(&s, &mut second, "/console/approvals").await;
    let scsrf = hidden_csrf(&page);
    let at = page
        .find("action=\"/console/approvals/")
        .expect("an approve form")
        + 8;
    let action = page[at..].split('"').next().unwrap().to_owned();
    let (status, page, _) = post(&s, &mut second, &action, &[("csrf", &scsrf)]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let id: i64 = path.rsplit('/').next().unwrap().parse().unwrap();
    let issue = db.store.issue(IssueId::new(id)).await.unwrap().unwrap();
    assert_eq!(issue.state, IssueState::Queued);
    assert!(issue.send_at.unwrap() <= chrono::Utc::now());
    assert!(
        audit_actions(&s)
            .iter()
            .any(|a| a == "issue.send_requested")
    );
}

#[tokio::test]
async fn editor_pages_on_sqlite() {
    editor_pages(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn editor_pages_on_postgres() {
    editor_pages(TestDb::postgres().await).await;
}

#[tokio::test]
async fn editor_approval_on_sqlite() {
    approval_pages(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn editor_approval_on_postgres() {
    approval_pages(TestDb::postgres().await).await;
}
