//! The editors' checks, all at once: everything `issue queue` refuses (front matter, subject,
//! body, links, the legal footer, characters the legacy charset cannot carry) and what it
//! warns about (the stand-ins legacy-charset readers get, facts that differ between the
//! Japanese and the English text, a translation edited before the other side), as one list
//! of [`CheckItem`]s. Each item names its language, field (subject / preheader / body, or the
//! front matter of a file), line and column in the editor's own numbering (body line 1 is
//! the Markdown's first line, whatever the file's front matter), severity, a stable code and
//! a message in Japanese and English. The console and `kairan issue check` show the same
//! list; [`CheckReport::can_queue`] is what `issue queue` decides with.
//!
//! Also [`accept_replacements`]: rewrites the text with the stand-ins, so what every reader
//! gets is what the legacy-charset readers get.
//!
//! Depends on the domain, the editorial store port, the settings and render's text checks.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::editorial::{Draft, MAX_SUBJECT_CHARS, SourceProblem};
use super::ports::{EditorialStore, Store, StoreError};
use crate::config::Settings;
use crate::domain::consistency::{self, Side};
use crate::domain::{IssueContent, IssueId, Lang, valid_slug};
use crate::render::text::{LinkProblemKind, check_iso2022jp, check_links, legacy_stand_in};

/// Where in the editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Subject,
    Preheader,
    Body,
    /// The front matter of a source file (the command line); lines are the file's.
    FrontMatter,
    /// The issue as a whole (slug, legal footer settings).
    Issue,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Subject => "subject",
            Field::Preheader => "preheader",
            Field::Body => "body",
            Field::FrontMatter => "front_matter",
            Field::Issue => "issue",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem or warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckItem {
    pub lang: Option<Lang>,
    pub field: Field,
    /// 1-based; body lines count from the Markdown's first line.
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    pub severity: Severity,
    pub code: String,
    pub message_ja: String,
    pub message_en: String,
}

impl fmt::Display for CheckItem {
    /// `ja body 3:4: warning: … [date-differs]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = self.lang {
            write!(f, "{l} ")?;
        }
        f.write_str(self.field.as_str())?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, " {l}:{c}")?,
            (Some(l), None) => write!(f, " {l}")?,
            _ => {}
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {sev}: {} [{}]", self.message_en, self.code)
    }
}

/// A character legacy-charset readers get as a stand-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replacement {
    pub lang: Lang,
    pub field: Field,
    pub line: usize,
    pub column: usize,
    pub ch: char,
    /// `None`: no stand-in, the reader sees 〓.
    pub replacement: Option<String>,
}

/// Everything the checks found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub items: Vec<CheckItem>,
    pub replacements: Vec<Replacement>,
    /// Active readers who get ISO-2022-JP and read the Japanese / the English text.
    pub legacy_readers_ja: u64,
    pub legacy_readers_en: u64,
}

impl CheckReport {
    pub fn errors(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .count()
    }
    pub fn warnings(&self) -> usize {
        self.items.len() - self.errors()
    }
    /// Whether `issue queue` would accept it (warnings do not stop it).
    pub fn can_queue(&self) -> bool {
        self.errors() == 0
    }
}

/// What the checks need besides the two texts.
#[derive(Debug, Clone, Default)]
pub struct CheckContext {
    pub slug: Option<String>,
    /// When each language's text was last changed (stored issues).
    pub updated: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Active legacy-charset readers of (ja or both, en or both).
    pub legacy_readers: (u64, u64),
    /// The issue is sent with 〓 for characters without a stand-in (`--allow-lossy`).
    pub allow_lossy: bool,
}

#[allow(clippy::too_many_arguments)]
fn item(
    lang: Option<Lang>,
    field: Field,
    line: Option<usize>,
    column: Option<usize>,
    severity: Severity,
    code: &str,
    ja: String,
    en: String,
) -> CheckItem {
    CheckItem {
        lang,
        field,
        line,
        column,
        severity,
        code: code.to_owned(),
        message_ja: ja,
        message_en: en,
    }
}

/// A source file that could not be read at all, as items.
pub fn unreadable(lang: Lang, problems: &[SourceProblem]) -> Vec<CheckItem> {
    problems
        .iter()
        .map(|p| source_item(lang, p, Severity::Error))
        .collect()
}

fn source_item(lang: Lang, p: &SourceProblem, severity: Severity) -> CheckItem {
    let m = &p.message;
    let (code, ja) = if m.starts_with("unknown front matter key") {
        (
            "front-matter-key",
            format!(
                "前付けに不明なキーがあります（使えるのは subject と preheader）：{}",
                m.split('`').nth(1).unwrap_or("")
            ),
        )
    } else if m.starts_with("expected `key: value`") {
        (
            "front-matter-line",
            "前付けの行は「キー: 値」の形にしてください".to_owned(),
        )
    } else if m.contains("not UTF-8") {
        (
            "not-utf8",
            "UTF-8 のテキストではありません（UTF-8 で保存してください。Shift_JIS は使えません）"
                .to_owned(),
        )
    } else if m.contains("has no `subject`") {
        (
            "subject-missing",
            "前付けに subject がありません".to_owned(),
        )
    } else if m.contains("not closed") {
        (
            "front-matter-open",
            "前付けが `---` の行で閉じられていません".to_owned(),
        )
    } else if m.contains("must start with a front matter") {
        (
            "front-matter-missing",
            "ファイルは前付け（`---`、`subject: …`、`---`）で始めてください".to_owned(),
        )
    } else {
        ("source", format!("ファイルを読めません：{m}"))
    };
    item(
        Some(lang),
        Field::FrontMatter,
        p.line,
        None,
        severity,
        code,
        ja,
        m.clone(),
    )
}

/// The content rules of one language (what `issue queue` refuses).
pub fn content_items(lang: Lang, c: &IssueContent) -> Vec<CheckItem> {
    let mut out = Vec::new();
    let l = Some(lang);
    let chars = c.subject.chars().count();
    if c.subject.trim().is_empty() {
        out.push(item(
            l,
            Field::Subject,
            Some(1),
            None,
            Severity::Error,
            "subject-empty",
            "件名が空です".into(),
            "the subject is empty".into(),
        ));
    } else if chars > MAX_SUBJECT_CHARS {
        out.push(item(
            l,
            Field::Subject,
            Some(1),
            Some(MAX_SUBJECT_CHARS + 1),
            Severity::Error,
            "subject-too-long",
            format!("件名が{chars}文字あります（{MAX_SUBJECT_CHARS}文字まで）"),
            format!("the subject is {chars} characters; at most {MAX_SUBJECT_CHARS}"),
        ));
    }
    for (field, v) in [
        (Field::Subject, Some(&c.subject)),
        (Field::Preheader, c.preheader.as_ref()),
    ] {
        if let Some(col) = v.and_then(|v| v.chars().position(char::is_control)) {
            out.push(item(
                l,
                field,
                Some(1),
                Some(col + 1),
                Severity::Error,
                "control-character",
                format!(
                    "{}に改行または制御文字があります",
                    if field == Field::Subject {
                        "件名"
                    } else {
                        "プリヘッダー"
                    }
                ),
                format!(
                    "the {} contains a line break or control character",
                    field.as_str()
                ),
            ));
        }
    }
    if c.markdown.trim().is_empty() {
        out.push(item(
            l,
            Field::Body,
            Some(1),
            None,
            Severity::Error,
            "body-empty",
            "本文がありません".into(),
            "the issue has no text".into(),
        ));
    }
    for p in check_links(&c.markdown) {
        let ja = match &p.kind {
            LinkProblemKind::Empty => "リンクに URL がありません".to_owned(),
            LinkProblemKind::Fragment => {
                format!("ページ内リンク {:?} はメールでは機能しません", p.url)
            }
            LinkProblemKind::Relative => format!(
                "相対 URL {:?} はメールでは使えません。https:// で始まる完全な URL にしてください",
                p.url
            ),
            LinkProblemKind::UnsupportedScheme(s) => {
                format!("URL {:?} のスキーム {s:?} は使えません", p.url)
            }
            LinkProblemKind::Malformed => format!("URL {:?} の形式が正しくありません", p.url),
        };
        out.push(item(
            l,
            Field::Body,
            Some(p.line),
            Some(p.col),
            Severity::Error,
            "link",
            ja,
            p.describe(),
        ));
    }
    out
}

/// The characters of one language's text that legacy-charset readers get as a stand-in.
pub fn replacements(lang: Lang, c: &IssueContent) -> Vec<Replacement> {
    let mut out = Vec::new();
    let fields = [
        (Field::Subject, Some(c.subject.as_str())),
        (Field::Preheader, c.preheader.as_deref()),
        (Field::Body, Some(c.markdown.as_str())),
    ];
    for (field, text) in fields {
        let Some(text) = text else { continue };
        for u in check_iso2022jp(text) {
            out.push(Replacement {
                lang,
                field,
                line: u.line,
                column: u.col,
                ch: u.ch,
                replacement: legacy_stand_in(u.ch),
            });
        }
    }
    out
}

/// Checks both languages' content: every problem and warning at once.
pub fn check_content(
    settings: &Settings,
    ja: &IssueContent,
    en: &IssueContent,
    ctx: &CheckContext,
) -> CheckReport {
    let mut report = CheckReport {
        legacy_readers_ja: ctx.legacy_readers.0,
        legacy_readers_en: ctx.legacy_readers.1,
        ..CheckReport::default()
    };
    for (lang, c) in [(Lang::Ja, ja), (Lang::En, en)] {
        report.items.extend(content_items(lang, c));
    }
    if let Some(slug) = &ctx.slug
        && !valid_slug(slug)
    {
        report.items.push(item(
            None,
            Field::Issue,
            None,
            None,
            Severity::Error,
            "slug",
            format!("スラッグ「{slug}」は a-z、0-9、- の 1〜64 文字で、英数字で始めてください"),
            format!(
                "slug `{slug}` must be 1–64 characters of a-z, 0-9 and -, starting with a letter or digit"
            ),
        ));
    }
    let missing = settings.newsletter.missing_legal_settings();
    if !missing.is_empty() {
        report.items.push(item(
            None,
            Field::Issue,
            None,
            None,
            Severity::Error,
            "legal-footer",
            format!(
                "法定表示のフッターが不完全です。設定してください：{}",
                missing.join("、")
            ),
            format!("the legal footer is incomplete; set {}", missing.join(", ")),
        ));
    }
    if !settings.newsletter.legacy_charset_domains.is_empty() {
        let domains = settings.newsletter.legacy_charset_domains.join(", ");
        for (lang, c) in [(Lang::Ja, ja), (Lang::En, en)] {
            let readers = match lang {
                Lang::Ja => ctx.legacy_readers.0,
                Lang::En => ctx.legacy_readers.1,
            };
            for r in replacements(lang, c) {
                let (severity, code, ja_msg, en_msg) = match &r.replacement {
                    Some(s) => {
                        let (sj, se) = if s.is_empty() {
                            ("削除されます".to_owned(), "dropped".to_owned())
                        } else {
                            (format!("「{s}」になります"), format!("replaced by `{s}`"))
                        };
                        (
                            Severity::Warning,
                            "legacy-replacement",
                            format!(
                                "「{}」は ISO-2022-JP で送れません。旧式の文字コードで受け取る読者 {readers} 人（{domains}）には{sj}",
                                r.ch
                            ),
                            format!(
                                "`{}` (U+{:04X}) cannot be sent as ISO-2022-JP: for the {readers} readers who get it ({domains}) it is {se}",
                                r.ch, r.ch as u32
                            ),
                        )
                    }
                    None => (
                        if ctx.allow_lossy {
                            Severity::Warning
                        } else {
                            Severity::Error
                        },
                        "legacy-unencodable",
                        format!(
                            "「{}」は ISO-2022-JP で送れず、代わりの文字もありません。読者 {readers} 人（{domains}）には〓と表示されます",
                            r.ch
                        ),
                        format!(
                            "`{}` (U+{:04X}) cannot be sent as ISO-2022-JP and has no stand-in: the {readers} readers who get it ({domains}) see 〓",
                            r.ch, r.ch as u32
                        ),
                    ),
                };
                report.items.push(item(
                    Some(lang),
                    r.field,
                    Some(r.line),
                    Some(r.column),
                    severity,
                    code,
                    ja_msg,
                    en_msg,
                ));
            }
            report.replacements.extend(replacements(lang, c));
        }
    }
    for m in consistency::compare(&ja.markdown, &en.markdown) {
        report.items.push(item(
            Some(match m.side {
                Side::Ja => Lang::Ja,
                Side::En => Lang::En,
            }),
            Field::Body,
            Some(m.fact.line),
            Some(m.fact.col),
            Severity::Warning,
            &m.code(),
            m.message_ja(),
            m.message_en(),
        ));
    }
    if let Some((ja_at, en_at)) = ctx.updated
        && ja_at != en_at
    {
        let (stale, newer) = if ja_at < en_at {
            (Lang::Ja, "英語")
        } else {
            (Lang::En, "日本語")
        };
        let newer_en = if stale == Lang::Ja {
            "English"
        } else {
            "Japanese"
        };
        report.items.push(item(
            Some(stale),
            Field::Body,
            None,
            None,
            Severity::Warning,
            "translation-stale",
            format!("{newer}の本文がこちらより後に編集されています。翻訳が古いかもしれません"),
            format!(
                "the {newer_en} text was edited after this one: the translation may be out of date"
            ),
        ));
    }
    sort(&mut report.items);
    report
}

/// The order the editor reads them in: the issue as a whole, then Japanese, then English;
/// within a language front matter, subject, preheader, body, each by line and column.
pub fn sort(items: &mut [CheckItem]) {
    items.sort_by_key(|i| {
        (
            i.lang.map(|l| l == Lang::En),
            match i.field {
                Field::Issue => 0,
                Field::FrontMatter => 1,
                Field::Subject => 2,
                Field::Preheader => 3,
                Field::Body => 4,
            },
            i.line,
            i.column,
        )
    });
}

/// Checks two drafts read from files: their format problems (front matter lines are the
/// file's) and everything [`check_content`] finds.
pub fn check_drafts(
    settings: &Settings,
    ja: &Draft,
    en: &Draft,
    ctx: &CheckContext,
) -> CheckReport {
    let mut report = check_content(settings, &ja.content, &en.content, ctx);
    let mut items: Vec<CheckItem> = Vec::new();
    for (lang, d) in [(Lang::Ja, ja), (Lang::En, en)] {
        items.extend(
            d.format_problems()
                .iter()
                .map(|p| source_item(lang, p, Severity::Error)),
        );
    }
    items.append(&mut report.items);
    report.items = items;
    sort(&mut report.items);
    report
}

/// Active readers who get ISO-2022-JP, as (ja or both, en or both).
pub async fn legacy_readers(
    store: &dyn EditorialStore,
    settings: &Settings,
) -> Result<(u64, u64), StoreError> {
    let domains = &settings.newsletter.legacy_charset_domains;
    if domains.is_empty() {
        return Ok((0, 0));
    }
    store.active_readers_at_domains(domains).await
}

/// The checks of a stored issue (the console's editor): its content, the stale-translation
/// warning from when each side was last changed, and the legacy readers' count.
pub async fn check_stored(
    store: &dyn Store,
    settings: &Settings,
    id: IssueId,
) -> Result<Option<CheckReport>, StoreError> {
    let Some(issue) = store.issue(id).await? else {
        return Ok(None);
    };
    let ctx = CheckContext {
        slug: Some(issue.slug.clone()),
        updated: store.content_updated_at(id).await?,
        legacy_readers: legacy_readers(store, settings).await?,
        allow_lossy: false,
    };
    Ok(Some(check_content(settings, &issue.ja, &issue.en, &ctx)))
}

/// The text with every character legacy-charset readers would get as a stand-in replaced
/// by it (those without one are left, for the editor to change). Returns the new content
/// and how many characters were replaced.
pub fn accept_replacements(c: &IssueContent) -> (IssueContent, usize) {
    let mut n = 0;
    let mut fix = |s: &str| -> String {
        let bad: Vec<char> = check_iso2022jp(s).iter().map(|u| u.ch).collect();
        if bad.is_empty() {
            return s.to_owned();
        }
        let mut out = String::with_capacity(s.len());
        for ch in s.chars() {
            match bad.contains(&ch).then(|| legacy_stand_in(ch)).flatten() {
                Some(r) => {
                    n += 1;
                    out.push_str(&r);
                }
                None => out.push(ch),
            }
        }
        out
    };
    let new = IssueContent {
        subject: fix(&c.subject),
        preheader: c.preheader.as_deref().map(&mut fix),
        markdown: fix(&c.markdown),
    };
    (new, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(legacy: bool) -> Settings {
        let toml = format!(
            "[newsletter]\ncontact = \"info@example.org\"\nlegacy_charset_domains = [{}]\n\
             [newsletter.ja]\nsender = \"特定非営利活動法人かいらん\"\npostal_address = \"東京都新宿区1-2-3\"\n\
             [newsletter.en]\nsender = \"Kairan\"\npostal_address = \"1-2-3 Shinjuku, Tokyo\"\n",
            if legacy { "\"docomo.ne.jp\"" } else { "" }
        );
        crate::config::parse(&toml, "test", &[]).unwrap().0
    }

    fn c(subject: &str, md: &str) -> IssueContent {
        IssueContent {
            subject: subject.into(),
            preheader: None,
            markdown: md.into(),
        }
    }

    #[test]
    fn everything_is_reported_in_one_round_with_editor_positions() {
        let ja = c(
            "一月号",
            "# 公開セミナー\n\n日時：2027年1月23日 14:00〜15:30\n\n[申込](/apply)\n",
        );
        let en = c(
            "January – seminar",
            "# Public seminar\n\nWhen: 24 January 2027, 14:00-15:30\n\n[Apply](/apply)\n",
        );
        let ctx = CheckContext {
            legacy_readers: (12, 3),
            ..CheckContext::default()
        };
        let r = check_content(&settings(true), &ja, &en, &ctx);
        let got: Vec<String> = r.items.iter().map(ToString::to_string).collect();
        let has = |p: &str| got.iter().any(|g| g.starts_with(p));
        assert!(has("ja body 5:"), "{got:#?}");
        assert!(has("en body 5:"), "{got:#?}");
        assert!(has("ja body 3:4: warning: date differs"), "{got:#?}");
        assert!(has("en body 3:7: warning: date differs"), "{got:#?}");
        assert!(
            has(
                "en subject 1:9: warning: `–` (U+2013) cannot be sent as ISO-2022-JP: for the 3 readers"
            ),
            "{got:#?}"
        );
        assert!(!r.can_queue(), "relative links are errors");
        let ja_item = r
            .items
            .iter()
            .find(|i| i.code == "legacy-replacement")
            .unwrap();
        assert!(
            ja_item.message_ja.contains("「-」になります"),
            "{ja_item:?}"
        );
        assert_eq!(r.replacements.len(), 1);
    }

    #[test]
    fn a_stand_in_is_a_warning_but_a_character_without_one_is_an_error_unless_lossy() {
        let ja = c("お知らせ", "ꙮ と ①\n");
        let en = c("News", "Text\n");
        let r = check_content(&settings(true), &ja, &en, &CheckContext::default());
        let codes: Vec<(&str, Severity)> = r
            .items
            .iter()
            .map(|i| (i.code.as_str(), i.severity))
            .collect();
        assert_eq!(
            codes,
            [
                ("legacy-unencodable", Severity::Error),
                ("legacy-replacement", Severity::Warning)
            ]
        );
        let lossy = CheckContext {
            allow_lossy: true,
            ..CheckContext::default()
        };
        assert!(check_content(&settings(true), &ja, &en, &lossy).can_queue());
        // Without legacy domains nothing is said about characters.
        assert!(
            check_content(&settings(false), &ja, &en, &CheckContext::default())
                .items
                .is_empty()
        );
    }

    #[test]
    fn the_older_side_is_flagged_as_stale() {
        let t = |s: i64| DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let ctx = CheckContext {
            updated: Some((t(10), t(0))),
            ..CheckContext::default()
        };
        let r = check_content(
            &settings(false),
            &c("号", "本文"),
            &c("Issue", "Text"),
            &ctx,
        );
        assert_eq!(r.items.len(), 1);
        assert_eq!(r.items[0].code, "translation-stale");
        assert_eq!(r.items[0].lang, Some(Lang::En));
        assert!(r.can_queue());
    }

    #[test]
    fn accepting_replacements_rewrites_only_what_has_a_stand_in() {
        let (new, n) = accept_replacements(&c("十二月号 – ①", "㈱カイラン 😀 と ꙮ\n2027–2028\n"));
        assert_eq!(n, 5);
        assert_eq!(new.subject, "十二月号 - (1)");
        assert_eq!(new.markdown, "(株)カイラン  と ꙮ\n2027-2028\n");
        let (again, n) = accept_replacements(&new);
        assert_eq!(n, 0);
        assert_eq!(again, new);
    }
}
