//! The editor's autosave (issue 15) over HTTP: the editor page (and only it) lets
//! `/static/editor.js` run and post (`script-src 'self'; connect-src 'self'`, nothing
//! inline), the script is served with its type, and the save route stores a draft sent the
//! way the script sends it (a `fetch` of `URLSearchParams(FormData(form))`, same origin, no
//! redirect followed): 303 and stored; a wrong csrf is refused (403) and nothing changes.
//! The Chromium half is in `editor_journey.rs`.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION};

use crate::console::{Jar, Server, client, get, hidden_csrf, log_in, post, set_password};
use crate::helpers::TestDb;
use kairan::domain::IssueId;

const PW: &str = "autosave-horse-battery-9";

/// The body the script's `new URLSearchParams(new FormData(form))` produces.
fn js_body(fields: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A POST as the script's `fetch` sends it.
async fn js_post(s: &Server, jar: &Jar, path: &str, body: String) -> reqwest::Response {
    let cookie = [
        jar.form.as_ref().map(|f| format!("kairan_form={f}")),
        jar.session.as_ref().map(|v| format!("kairan_session={v}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("; ");
    client()
        .post(s.url(path))
        .header(COOKIE, cookie)
        .header(
            CONTENT_TYPE,
            "application/x-www-form-urlencoded;charset=UTF-8",
        )
        .header("origin", s.url(""))
        .header("sec-fetch-mode", "cors")
        .header("sec-fetch-site", "same-origin")
        .header("sec-fetch-dest", "empty")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn autosave_route(db: TestDb) {
    let s = Server::start(&db.url, &[("KAIRAN__SCHEDULE__TIMEZONE", "Asia/Tokyo")]).await;
    let setup = s.add_user("writer@example.jp", "admin", "佐藤 由紀");
    set_password(&s, &setup, PW).await;
    let mut jar = log_in(&s, "writer@example.jp", PW).await;

    let (_, page, _) = get(&s, &mut jar, "/console/issues/new").await;
    let csrf = hidden_csrf(&page);
    assert!(!page.contains("<script"), "no script on the new-issue form");
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("slug", "2027-04"),
        ("ja_subject", "四月号"),
        ("ja_preheader", ""),
        ("ja_markdown", "# 四月号\n\n下書きです。\n"),
        ("en_subject", "April"),
        ("en_preheader", ""),
        ("en_markdown", "# April\n\nA draft.\n"),
    ];
    let (status, _, headers) = post(&s, &mut jar, "/console/issues/new", &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let id: i64 = headers[LOCATION]
        .to_str()
        .unwrap()
        .strip_prefix("/console/issues/")
        .and_then(|r| r.strip_suffix("?done=created"))
        .unwrap()
        .parse()
        .unwrap();
    let path = format!("/console/issues/{id}");

    // The editor page: the script, the status element, the policy that lets it run.
    let (status, page, headers) = get(&s, &mut jar, &path).await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(page.matches("<script").count(), 1, "one script, not inline");
    assert!(page.contains("<script src=\"/static/editor.js\" defer></script>"));
    assert!(page.contains("id=\"autosave-status\" role=\"status\" aria-live=\"polite\""));
    assert!(page.contains("data-saved=\"保存しました\""), "{page}");
    assert!(page.contains("id=\"send-at-rel\" data-now=\"20"), "{page}");
    // Other console pages keep the policy without scripts.
    let (_, _, headers) = get(&s, &mut jar, "/console/issues").await;
    let list_csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(!list_csp.contains("script-src"), "{list_csp}");

    // The script itself.
    let r = client()
        .get(s.url("/static/editor.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let js = r.text().await.unwrap();
    assert!(js.contains("autosave-status") && js.contains("redirect: 'manual'"));
    assert!(js.len() < 8 * 1024, "small: {} bytes", js.len());

    // A wrong csrf: refused, nothing written.
    let before = db.store.issue(IssueId::new(id)).await.unwrap().unwrap();
    let page_csrf = hidden_csrf(&page);
    fields[0] = ("csrf", "wrong");
    fields[6] = ("en_preheader", "typed, not saved");
    let r = js_post(&s, &jar, &path, js_body(&fields)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        db.store.issue(IssueId::new(id)).await.unwrap().unwrap(),
        before
    );

    // The script's request: 303 to the editor (the script reads it as "saved"), stored.
    fields[0] = ("csrf", page_csrf.as_str());
    fields[6] = ("en_preheader", "Saved in the background");
    fields[7] = ("en_markdown", "# April\r\n\r\nA draft, autosaved.\r\n");
    let r = js_post(&s, &jar, &path, js_body(&fields)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], format!("{path}?done=saved"));
    let after = db.store.issue(IssueId::new(id)).await.unwrap().unwrap();
    assert_eq!(
        after.en.preheader.as_deref(),
        Some("Saved in the background")
    );
    assert_eq!(after.en.markdown, "# April\n\nA draft, autosaved.\n");
    assert_eq!(after.ja, before.ja);
    assert_eq!(after.slug, "2027-04");
    drop(s);
    db.cleanup().await;
}

#[tokio::test]
async fn the_autosave_request_saves_the_draft_on_sqlite() {
    autosave_route(TestDb::sqlite().await).await;
}
