//! Campaign mail as subscribers receive it: golden text and HTML for ja, en and both, and
//! every message parsed back with a MIME parser to check structure and headers.

use std::path::Path;

use kairan::app::editorial::parse_source;
use kairan::domain::Issue;
use kairan::domain::LangPref;
use kairan::render::campaign::{Prepared, Recipient};
use mail_parser::{MessageParser, MimeHeaders};

use crate::helpers::now;

fn settings() -> kairan::config::Settings {
    let text = r#"
        [http]
        base_url = "https://news.example.org"
        [newsletter]
        from = "回覧板 <news@example.org>"
        reply_to = "info@example.org"
        contact = "info@example.org"
        list_id = "monthly.example.org"
        [newsletter.ja]
        name = "かいらん通信"
        sender = "特定非営利活動法人 回覧板"
        postal_address = "〒160-0022 東京都新宿区新宿1-2-3"
        [newsletter.en]
        name = "Kairan News"
        sender = "Kairan NPO"
        postal_address = "1-2-3 Shinjuku, Tokyo 160-0022, Japan"
    "#;
    kairan::config::parse(text, "test", &[]).unwrap().0
}

pub fn fixture_issue() -> Issue {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/issue");
    let ja = parse_source("ja.md", &std::fs::read(dir.join("ja.md")).unwrap())
        .map(valid)
        .unwrap();
    let en = parse_source("en.md", &std::fs::read(dir.join("en.md")).unwrap())
        .map(valid)
        .unwrap();
    let t = now();
    Issue {
        id: kairan::domain::IssueId::new(7),
        slug: "2026-12".into(),
        state: kairan::domain::IssueState::Queued,
        send_at: None,
        created_at: t,
        updated_at: t,
        started_at: None,
        finished_at: None,
        ja,
        en,
    }
}

fn recipient<'a>(email: &'a str, name: Option<&'a str>, legacy: bool) -> Recipient<'a> {
    Recipient {
        email,
        name,
        unsubscribe_url: "https://news.example.org/unsubscribe/TOKEN-U",
        unsubscribe_mailto: "mailto:bounces@example.org?subject=unsubscribe%20TOKEN-U",
        preferences_url: "https://news.example.org/preferences/TOKEN-P",
        message_id: "7.42.kairan@example.org",
        delivery_token: Some("DTOKEN"),
        legacy_charset: legacy,
        date: "Tue, 01 Dec 2026 09:00:00 +0900",
    }
}

fn prepared(pref: LangPref) -> Prepared {
    let settings = settings();
    let renderer = kairan::startup::load_renderer(&settings).unwrap();
    Prepared::new(&renderer, &settings, &fixture_issue(), pref).unwrap()
}

/// Compares with `tests/golden/NAME`; `KAIRAN_UPDATE_GOLDEN=1` rewrites the file instead.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("KAIRAN_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with KAIRAN_UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} differs from the golden file; diff it against:\n{actual}"
    );
}

#[test]
fn rendered_parts_match_the_golden_files() {
    for (pref, file) in [
        (LangPref::Ja, "ja"),
        (LangPref::En, "en"),
        (LangPref::Both, "both"),
    ] {
        let p = prepared(pref);
        let (text, html) = p.parts(&recipient("hanako@example.jp", Some("佐藤 花子"), false));
        golden(&format!("{file}.txt"), &text);
        golden(&format!("{file}.html"), &html);
    }
}

#[test]
fn every_message_parses_back_with_the_right_headers_and_parts() {
    for (pref, subject, lang) in [
        (LangPref::Ja, "十二月号：技能実習生の権利を守るために", "ja"),
        (
            LangPref::En,
            "December: defending the rights of technical interns",
            "en",
        ),
        (
            LangPref::Both,
            "十二月号：技能実習生の権利を守るために / December: defending the rights of technical interns",
            "ja, en",
        ),
    ] {
        let raw =
            prepared(pref).personalise(&recipient("hanako@example.jp", Some("佐藤 花子"), false));
        for line in raw.split(|b| *b == b'\n') {
            assert!(line.len() <= 998, "a line of {} octets", line.len());
            assert!(
                line.is_empty() || line.ends_with(b"\r"),
                "bare LF in {pref}"
            );
        }
        assert!(raw.is_ascii(), "the wire form is 7-bit");
        let m = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.subject(), Some(subject));
        assert_eq!(m.message_id(), Some("7.42.kairan@example.org"));
        let h = |name: &str| m.header_raw(name).map(|v| v.trim().to_owned());
        assert_eq!(h("Content-Language").as_deref(), Some(lang));
        assert_eq!(
            h("List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
        assert_eq!(h("Precedence").as_deref(), Some("bulk"));
        assert_eq!(h("X-Kairan-Delivery").as_deref(), Some("DTOKEN"));
        assert!(h("List-Id").unwrap().ends_with("<monthly.example.org>"));
        let lu = h("List-Unsubscribe").unwrap();
        assert!(
            lu.contains("<https://news.example.org/unsubscribe/TOKEN-U>")
                && lu.contains("<mailto:"),
            "{lu}"
        );
        assert!(h("Feedback-ID").unwrap().starts_with("7:"));
        assert_eq!(m.from().unwrap().first().unwrap().name(), Some("回覧板"));
        assert_eq!(m.to().unwrap().first().unwrap().name(), Some("佐藤 花子"));
        let ct = m.content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("alternative"))
        );
        let text = m.body_text(0).unwrap();
        let html = m.body_html(0).unwrap();
        assert!(text.contains("TOKEN-U") && html.contains("TOKEN-U"));
        assert!(
            !text.contains('\u{E000}') && !html.contains('\u{E000}'),
            "a slot was left unfilled"
        );
        assert!(
            !text.contains('\u{2068}') && !html.contains('\u{2068}'),
            "bidi isolation marks"
        );
    }
}

#[test]
fn both_puts_japanese_first_then_english_with_both_legal_footers() {
    let (text, html) = prepared(LangPref::Both).parts(&recipient("a@example.jp", None, false));
    let ja = text.find("相談窓口の一年").unwrap();
    let en = text.find("A year of our help desk").unwrap();
    assert!(ja < en);
    for needle in [
        "送信者：特定非営利活動法人 回覧板",
        "住所：〒160-0022 東京都新宿区新宿1-2-3",
        "苦情・お問い合わせ：info@example.org",
        "Sender: Kairan NPO",
        "Address: 1-2-3 Shinjuku, Tokyo 160-0022, Japan",
        "配信停止: https://news.example.org/unsubscribe/TOKEN-U",
        "Unsubscribe: https://news.example.org/unsubscribe/TOKEN-U",
        "読者の皆さま",
        "Dear reader,",
    ] {
        assert!(text.contains(needle), "text lacks {needle:?}");
    }
    assert!(html.contains(r#"<div class="section" lang="ja""#) && html.contains(r#"lang="en""#));
    assert!(html.contains("https://news.example.org/archive/2026-12?lang=ja"));
}

#[test]
fn names_are_escaped_in_html_and_kept_in_text() {
    let p = prepared(LangPref::En);
    let (text, html) = p.parts(&recipient(
        "a@example.jp",
        Some("Tom <b>& Jerry</b>"),
        false,
    ));
    assert!(text.contains("Dear Tom <b>& Jerry</b>,"));
    assert!(html.contains("Dear Tom &lt;b&gt;&amp; Jerry&lt;/b&gt;,"));
}

#[test]
fn the_plain_text_is_wrapped_by_display_width_without_kinsoku_violations() {
    let (text, _) = prepared(LangPref::Ja).parts(&recipient("a@example.jp", Some("花子"), false));
    for line in text.lines() {
        let width = kairan::render::text::display_width(line);
        let unbreakable = !line.contains(' ') && line.contains("://");
        assert!(width <= 76 || unbreakable, "{width} columns: {line}");
        if let Some(first) = line.chars().next() {
            assert!(
                !"。、」』）！？".contains(first),
                "line starts with {first}: {line}"
            );
        }
    }
    assert!(
        text.contains("[1] https://example.org/soudan"),
        "links are footnoted:\n{text}"
    );
}

#[test]
fn legacy_charset_recipients_get_iso_2022_jp_text_and_subject() {
    let raw = prepared(LangPref::Ja).personalise(&recipient(
        "taro@docomo.ne.jp",
        Some("山田 太郎"),
        true,
    ));
    let s = String::from_utf8(raw.clone()).unwrap();
    assert!(s.contains("Subject: =?ISO-2022-JP?B?"), "{}", &s[..600]);
    assert!(s.contains("Content-Type: text/plain; charset=ISO-2022-JP"));
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(m.subject(), Some("十二月号：技能実習生の権利を守るために"));
    let text = m.body_text(0).unwrap();
    assert!(text.contains("山田 太郎 様"), "{text}");
    assert!(text.contains("今年、私たちの無料相談窓口には"));
    // The HTML part stays UTF-8.
    assert!(m.body_html(0).unwrap().contains("技能実習生"));
}

#[test]
fn personalisation_changes_only_the_personal_parts() {
    let p = prepared(LangPref::Ja);
    let a = p.personalise(&recipient("a@example.jp", Some("花子"), false));
    let mut r = recipient("b@example.jp", Some("太郎"), false);
    r.message_id = "7.43.kairan@example.org";
    let b = p.personalise(&r);
    let (ta, _) = p.parts(&recipient("a@example.jp", Some("花子"), false));
    let (tb, _) = p.parts(&r);
    assert_eq!(ta.replace("花子", "太郎"), tb);
    assert_ne!(a, b);
}

/// The fixture's content, which must pass the editorial checks.
fn valid(d: kairan::app::editorial::Draft) -> kairan::domain::IssueContent {
    assert_eq!(d.problems(), [], "the fixture is a valid issue");
    d.content
}

/// Issue 13: the organisation's identity in campaign mail, when configured; the golden files
/// (without it) show that nothing changes when it is not.
#[test]
fn the_organisation_website_and_privacy_policy_are_in_issue_mail_when_set() {
    let text = r#"
        [http]
        base_url = "https://news.example.org"
        [newsletter]
        from = "回覧板 <news@example.org>"
        contact = "info@example.org"
        organisation = "特定非営利活動法人 回覧板"
        website = "https://www.example.org/"
        privacy_url = "https://www.example.org/privacy"
        [newsletter.ja]
        sender = "特定非営利活動法人 回覧板"
        postal_address = "〒160-0022 東京都新宿区新宿1-2-3"
        [newsletter.en]
        organisation = "Kairan NPO"
        sender = "Kairan NPO"
        postal_address = "1-2-3 Shinjuku, Tokyo 160-0022, Japan"
    "#;
    let settings = kairan::config::parse(text, "test", &[]).unwrap().0;
    let renderer = kairan::startup::load_renderer(&settings).unwrap();
    let p = Prepared::new(&renderer, &settings, &fixture_issue(), LangPref::Both).unwrap();
    let (text, html) = p.parts(&recipient("a@example.jp", None, false));
    for needle in [
        "特定非営利活動法人 回覧板 ニュースレター",
        "Kairan NPO newsletter",
        "https://www.example.org/",
        "プライバシーポリシー：https://www.example.org/privacy",
        "Privacy policy: https://www.example.org/privacy",
    ] {
        assert!(text.contains(needle), "text lacks {needle:?}:\n{text}");
    }
    assert!(!text.contains("Monthly newsletter") && !text.contains("月刊ニュースレター"));
    assert!(
        html.contains(r#"href="https://www.example.org/privacy""#),
        "{html}"
    );
}
