//! The editor's command line (issue 15) through the real binary, on SQLite and PostgreSQL:
//! `issue check` reports every problem and warning in one round with the editor's own
//! positions, `--accept-replacements` rewrites the legacy-charset stand-ins, `issue preview
//! --ja --en` stores nothing, drafts are saved, renamed, queued (the message names the
//! date), edited while queued (the slug stays), and a cancelled queued issue is a draft
//! again; a one-sided edit is flagged as a stale translation.

use std::path::Path;
use std::process::Output;

use crate::helpers::{LEGAL, TestDb, kairan_cmd};
use kairan::domain::{IssueId, IssueState};

fn kairan(dir: &Path, db_url: &str, args: &[&str]) -> Output {
    let mut cmd = kairan_cmd(dir);
    cmd.env("KAIRAN__DATABASE__URL", db_url)
        .env("KAIRAN__OUTBOX__DIR", dir.join("outbox"))
        .env("KAIRAN__SCHEDULE__TIMEZONE", "Asia/Tokyo")
        .env("KAIRAN__SCHEDULE__CRON", "0 0 9 1 * *")
        .env("KAIRAN__NEWSLETTER__LEGACY_CHARSET_DOMAINS", "docomo.ne.jp");
    for (k, v) in LEGAL {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", out(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The Japanese source, with a front matter key the reader does not know (line 3 of the
/// file) when `bad`. Body line 1 is the blank line after the front matter.
fn ja_source(bad: bool) -> String {
    format!(
        "---\nsubject: 一月号：公開セミナーのご案内\n{}---\n\n# 公開セミナー\n\n日時：2027年1月23日 14:00〜15:30\n参加費：1,000円\n\n[申込フォーム](https://example.org/ja/apply)\n",
        if bad { "colour: red\n" } else { "" }
    )
}

/// The English source: the date differs (the 24th), an en dash in the time range, and a
/// relative link when `bad`.
fn en_source(bad: bool, day: u32) -> String {
    format!(
        "---\nsubject: January: public seminar\n---\n\n# Public seminar\n\nWhen: {day} January 2027, 14:00–15:30\nFee: ¥1,000\n\n[Application form]({})\n",
        if bad {
            "/apply"
        } else {
            "https://example.org/en/apply"
        }
    )
}

async fn editor_journey(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = db.url.clone();
    let (ja, en) = (d.join("ja.md"), d.join("en.md"));
    let (ja_s, en_s) = (ja.to_str().unwrap(), en.to_str().unwrap());
    // Two readers get ISO-2022-JP: one reads English, one both.
    for (addr, lang) in [
        ("reader1@docomo.ne.jp", "en"),
        ("reader2@docomo.ne.jp", "both"),
        ("other@example.jp", "en"),
    ] {
        ok(&kairan(
            d,
            &url,
            &["subscribers", "add", addr, "--lang", lang, "--confirmed"],
        ));
    }

    // "Send now" states the audience by language.
    let a = kairan::app::drafts::audience(db.store.as_ref())
        .await
        .unwrap();
    assert_eq!((a.ja, a.en, a.both, a.total()), (0, 2, 1, 3));

    // One round: the front matter, the relative link, the date, the en dash.
    std::fs::write(&ja, ja_source(true)).unwrap();
    std::fs::write(&en, en_source(true, 24)).unwrap();
    let o = kairan(d, &url, &["issue", "check", "--ja", ja_s, "--en", en_s]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    for expected in [
        "ja front_matter 3: error: unknown front matter key `colour`",
        "ja body 4:4: warning: date differs: “2027年1月23日” (2027-01-23) in the Japanese text, “24 January 2027” (2027-01-24) in the English [date-differs]",
        "en body 4:7: warning: date differs",
        "en body 4:29: warning: `–` (U+2013) cannot be sent as ISO-2022-JP: for the 2 readers who get it (docomo.ne.jp) it is replaced by `-` [legacy-replacement]",
        "en body 7:20: error: relative URL \"/apply\"",
        "ja body 7:10: warning: url “https://example.org/ja/apply” (https://example.org/ja/apply) is in the Japanese text but not in the English [url-missing]",
        "2 errors, 4 warnings; it cannot be queued yet",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // The same report as JSON, with Japanese messages.
    let o = kairan(
        d,
        &url,
        &["issue", "check", "--ja", ja_s, "--en", en_s, "--json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 6, "{report:#}");
    let date = items.iter().find(|i| i["code"] == "date-differs").unwrap();
    assert_eq!(date["lang"], "ja");
    assert_eq!(date["field"], "body");
    assert_eq!(
        (date["line"].as_u64(), date["column"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(date["severity"], "warning");
    assert!(
        date["message_ja"]
            .as_str()
            .unwrap()
            .starts_with("日付が違います：日本語は「2027年1月23日」"),
        "{date}"
    );
    assert_eq!(report["legacy_readers_en"], 2);
    assert_eq!(report["legacy_readers_ja"], 1);

    // Fixed: only the stand-in warning is left, and it can be queued.
    std::fs::write(&ja, ja_source(false)).unwrap();
    std::fs::write(&en, en_source(false, 23)).unwrap();
    let text = ok(&kairan(
        d,
        &url,
        &["issue", "check", "--ja", ja_s, "--en", en_s],
    ));
    assert!(
        text.contains("0 errors, 1 warning; it can be queued"),
        "{text}"
    );
    // Accepting the stand-in rewrites the file; nothing is left to say.
    let text = ok(&kairan(
        d,
        &url,
        &[
            "issue",
            "check",
            "--ja",
            ja_s,
            "--en",
            en_s,
            "--accept-replacements",
        ],
    ));
    assert!(text.contains("0 errors, 0 warnings"), "{text}");
    assert!(
        std::fs::read_to_string(&en)
            .unwrap()
            .contains("14:00-15:30")
    );

    // A preview of the files stores nothing: not even a database is opened.
    let nowhere = format!("sqlite://{}", d.join("never.db").display());
    let text = ok(&kairan(
        d,
        &nowhere,
        &[
            "issue", "preview", "--ja", ja_s, "--en", en_s, "--out", "pv",
        ],
    ));
    assert!(text.contains("wrote ja, en and both"), "{text}");
    assert!(!d.join("never.db").exists());
    let both = std::fs::read_to_string(d.join("pv/both.html")).unwrap();
    let jump = both.find("href=\"#kairan-en\"").expect("jump link");
    assert!(
        jump < both.find("id=\"kairan-ja\"").unwrap(),
        "the jump link comes first"
    );
    assert!(both.contains("id=\"kairan-en\""));
    let both_txt = std::fs::read_to_string(d.join("pv/both.txt")).unwrap();
    assert!(
        both_txt.starts_with("The English version follows"),
        "{both_txt}"
    );
    for f in ["ja.html", "ja.txt", "en.html", "en.txt", "both.eml"] {
        assert!(d.join("pv").join(f).exists(), "{f}");
    }

    // A draft: saved without checks, renamed, never sent.
    let text = ok(&kairan(
        d,
        &url,
        &[
            "issue",
            "queue",
            "--draft",
            "--slug",
            "2027-01-draft",
            "--ja",
            ja_s,
            "--en",
            en_s,
        ],
    ));
    let id: i64 = text.lines().last().unwrap().trim().parse().unwrap();
    let id = IssueId::new(id);
    assert_eq!(
        db.store.issue(id).await.unwrap().unwrap().state,
        IssueState::Draft
    );
    ok(&kairan(
        d,
        &url,
        &[
            "issue",
            "edit",
            &id.to_string(),
            "--ja",
            ja_s,
            "--en",
            en_s,
            "--slug",
            "2027-01",
        ],
    ));
    assert_eq!(db.store.issue(id).await.unwrap().unwrap().slug, "2027-01");

    // The console's list: no bodies, newest first.
    let list = db.store.issue_summaries().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].id, list[0].slug.as_str(), list[0].state),
        (id, "2027-01", IssueState::Draft)
    );
    assert_eq!(list[0].ja_subject, "一月号：公開セミナーのご案内");

    // Queued: the message names the date in the schedule's zone.
    let text = ok(&kairan(d, &url, &["issue", "queue-draft", "2027-01"]));
    assert!(
        text.contains(&format!("queued issue {id}; it goes out on ")),
        "{text}"
    );
    assert!(text.contains(", 09:00 JST (in "), "{text}");
    assert_eq!(text.lines().last().unwrap(), id.to_string());

    // Edited while queued: the text changes, the slug cannot.
    std::fs::write(&ja, ja_source(false).replace("参加費", "参加費（当日）")).unwrap();
    let text = ok(&kairan(
        d,
        &url,
        &["issue", "edit", "2027-01", "--ja", ja_s, "--en", en_s],
    ));
    assert!(text.contains("(queued)") && text.contains("JST"), "{text}");
    let issue = db.store.issue(id).await.unwrap().unwrap();
    assert!(issue.ja.markdown.contains("参加費（当日）"));
    assert_eq!(
        (issue.slug.as_str(), issue.state),
        ("2027-01", IssueState::Queued)
    );
    let o = kairan(
        d,
        &url,
        &[
            "issue", "edit", "2027-01", "--ja", ja_s, "--en", en_s, "--slug", "renamed",
        ],
    );
    assert!(!o.status.success());
    assert!(
        out(&o).contains("changing the slug is not possible now"),
        "{}",
        out(&o)
    );
    // An edit that breaks the text is refused with every problem, and changes nothing.
    std::fs::write(&en, en_source(true, 23)).unwrap();
    let o = kairan(
        d,
        &url,
        &["issue", "edit", "2027-01", "--ja", ja_s, "--en", en_s],
    );
    assert!(!o.status.success());
    assert!(out(&o).contains("relative URL"), "{}", out(&o));
    assert_eq!(db.store.issue(id).await.unwrap().unwrap(), issue);

    // Only the Japanese side was edited after the English: the English may be stale.
    let settings = crate::helpers::settings_with(&url, &d.join("outbox"), LEGAL);
    let report = kairan::app::checks::check_stored(db.store.as_ref(), &settings, id)
        .await
        .unwrap()
        .unwrap();
    let stale: Vec<_> = report
        .items
        .iter()
        .filter(|i| i.code == "translation-stale")
        .collect();
    assert_eq!(stale.len(), 1, "{:#?}", report.items);
    assert_eq!(stale[0].lang, Some(kairan::domain::Lang::En));

    // Cancelling a queued issue makes it a draft again, slug and text kept.
    let text = ok(&kairan(d, &url, &["issue", "cancel", "2027-01"]));
    assert!(text.contains("is now draft"), "{text}");
    let again = db.store.issue(id).await.unwrap().unwrap();
    assert_eq!(
        (again.state, again.slug.as_str()),
        (IssueState::Draft, "2027-01")
    );
    assert_eq!(again.ja, issue.ja);
    // Cancelling a draft discards it.
    let text = ok(&kairan(d, &url, &["issue", "cancel", "2027-01"]));
    assert!(text.contains("is now cancelled"), "{text}");

    db.cleanup().await;
}

#[tokio::test]
async fn an_editor_checks_previews_drafts_queues_edits_and_cancels_on_sqlite() {
    editor_journey(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn an_editor_checks_previews_drafts_queues_edits_and_cancels_on_postgres() {
    editor_journey(TestDb::postgres().await).await;
}
