//! Campaign mail: each (issue, language preference) is rendered once into a [`Prepared`]
//! message, and per recipient only the personal parts are filled in (greeting name,
//! unsubscribe and preferences links, Message-ID, VERP token), so personalising costs
//! microseconds, not a template run.
//!
//! How: the templates are rendered with private-use marker characters standing in for each
//! personal value (`U+E000 code U+E001`), the plain text is wrapped and the HTML has its CSS
//! inlined once, and the output is split at the markers into literal segments and slots.
//! Both parts go out base64-encoded (UTF-8), so no line of the message can exceed 998 octets
//! whatever the content; recipients at `newsletter.legacy_charset_domains` get an
//! ISO-2022-JP subject and 7-bit ISO-2022-JP text, the HTML part staying UTF-8.
//!
//! Depends on the domain, the settings and the renderer.

use std::fmt::Write as _;

use base64::Engine;
use serde_json::json;

use super::Renderer;
use super::text::{
    DEFAULT_WIDTH, HeaderCharset, encode_header_word_after, lossy_iso2022jp, markdown_to_html,
    markdown_to_text, wrap,
};
use crate::config::Settings;
use crate::domain::Issue;
use crate::domain::{Lang, LangPref};

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// A personal value the template leaves open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Unsubscribe,
    Preferences,
    Greeting(Lang),
}

impl Slot {
    fn marker(self) -> String {
        let code = match self {
            Slot::Unsubscribe => "U",
            Slot::Preferences => "P",
            Slot::Greeting(Lang::Ja) => "Gja",
            Slot::Greeting(Lang::En) => "Gen",
        };
        format!("{OPEN}{code}{CLOSE}")
    }

    fn from_code(code: &str) -> Option<Slot> {
        Some(match code {
            "U" => Slot::Unsubscribe,
            "P" => Slot::Preferences,
            "Gja" => Slot::Greeting(Lang::Ja),
            "Gen" => Slot::Greeting(Lang::En),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
enum Segment {
    Lit(String),
    Slot(Slot),
}

/// Rendered output split at its slots.
#[derive(Debug, Clone)]
struct Template(Vec<Segment>);

impl Template {
    fn parse(rendered: &str) -> Result<Template, String> {
        let mut segs = Vec::new();
        let mut rest = rendered;
        while let Some(i) = rest.find(OPEN) {
            if i > 0 {
                segs.push(Segment::Lit(rest[..i].to_owned()));
            }
            let after = &rest[i + OPEN.len_utf8()..];
            let end = after.find(CLOSE).ok_or("an unclosed slot marker")?;
            let slot = Slot::from_code(&after[..end])
                .ok_or_else(|| format!("unknown slot `{}`", &after[..end]))?;
            segs.push(Segment::Slot(slot));
            rest = &after[end + CLOSE.len_utf8()..];
        }
        if !rest.is_empty() {
            segs.push(Segment::Lit(rest.to_owned()));
        }
        Ok(Template(segs))
    }

    /// The literal bytes (slots add a little).
    fn len_hint(&self) -> usize {
        self.0
            .iter()
            .map(|s| match s {
                Segment::Lit(l) => l.len(),
                Segment::Slot(_) => 64,
            })
            .sum()
    }

    fn fill(&self, out: &mut String, value: impl Fn(Slot, &mut String)) {
        for s in &self.0 {
            match s {
                Segment::Lit(l) => out.push_str(l),
                Segment::Slot(slot) => value(*slot, out),
            }
        }
    }
}

fn body_marker(lang: Lang) -> String {
    format!("{OPEN}B{lang}{CLOSE}")
}

/// What differs per recipient.
#[derive(Debug, Clone)]
pub struct Recipient<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub unsubscribe_url: &'a str,
    /// `mailto:` form of the unsubscribe link (List-Unsubscribe).
    pub unsubscribe_mailto: &'a str,
    pub preferences_url: &'a str,
    /// Without angle brackets; deterministic per (issue, subscriber).
    pub message_id: &'a str,
    /// kairan's delivery token, also in the VERP envelope sender.
    pub delivery_token: Option<&'a str>,
    /// Whether the recipient's domain needs ISO-2022-JP.
    pub legacy_charset: bool,
    /// RFC 2822 date.
    pub date: &'a str,
}

/// One (issue, language preference) rendered once.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub pref: LangPref,
    /// The subject text (`ja / en` for both).
    pub subject: String,
    subject_utf8: String,
    subject_jis: String,
    /// Headers the same for every recipient, CRLF-terminated.
    fixed_headers: String,
    boundary: String,
    text: Template,
    /// The text's literal segments already in ISO-2022-JP with CRLF line ends (`None` at
    /// the slots): encoding the whole text per legacy recipient cost ~130 µs.
    text_jis: Vec<Option<Vec<u8>>>,
    html: Template,
    greeting_named: Vec<(Lang, String)>,
    greeting_anonymous: Vec<(Lang, String)>,
}

/// Errors preparing an issue (a template or message problem `kairan check` would report).
#[derive(Debug, thiserror::Error)]
#[error("cannot render issue {slug} ({pref}): {message}")]
pub struct PrepareError {
    pub slug: String,
    pub pref: LangPref,
    pub message: String,
}

/// Stands in for the recipient's name while the greeting is formatted once.
const NAME_MARK: &str = "\u{E002}";

impl Prepared {
    /// Renders `issue` for subscribers who chose `pref`.
    pub fn new(
        renderer: &Renderer,
        settings: &Settings,
        issue: &Issue,
        pref: LangPref,
    ) -> Result<Prepared, PrepareError> {
        let err = |message: String| PrepareError {
            slug: issue.slug.clone(),
            pref,
            message,
        };
        let nl = &settings.newsletter;
        let langs = pref.langs();
        let i18n = renderer.i18n();
        let mut greeting_named = Vec::new();
        let mut greeting_anonymous = Vec::new();
        let mut text_sections = Vec::new();
        let mut text_bodies = Vec::new();
        let mut html_sections = Vec::new();
        for &lang in langs {
            let content = issue.content(lang);
            let ls = nl.lang(lang);
            let archive_url = settings
                .http
                .base_url
                .join(&format!("archive/{}?lang={}", issue.slug, lang))
                .map_err(|e| err(e.to_string()))?
                .to_string();
            greeting_named.push((
                lang,
                i18n.t(lang, "email-greeting", &[("name", NAME_MARK)])
                    .map_err(&err)?,
            ));
            greeting_anonymous.push((
                lang,
                i18n.t(lang, "email-greeting-anonymous", &[])
                    .map_err(&err)?,
            ));
            let section = |body: String| {
                json!({
                    "lang": lang.as_str(),
                    "subject": content.subject,
                    "newsletter": ls.name,
                    "sender": ls.sender,
                    "postal_address": ls.postal_address,
                    "contact": nl.contact,
                    "organisation": ls.organisation,
                    "website": ls.website.as_ref().map(|u| u.as_str()),
                    "privacy_url": ls.privacy_url.as_ref().map(|u| u.as_str()),
                    "archive_url": archive_url,
                    "greeting": Slot::Greeting(lang).marker(),
                    "body": body,
                })
            };
            // The body goes in after the fixed lines are wrapped: it is wrapped already, and
            // its code blocks must stay as written.
            text_bodies.push((
                body_marker(lang),
                markdown_to_text(&content.markdown, DEFAULT_WIDTH),
            ));
            text_sections.push(section(body_marker(lang)));
            html_sections.push(section(markdown_to_html(&content.markdown)));
        }
        let subject = match pref {
            LangPref::Both => format!("{} / {}", issue.ja.subject, issue.en.subject),
            _ => issue.content(langs[0]).subject.clone(),
        };
        let preheader = langs
            .iter()
            .filter_map(|l| issue.content(*l).preheader.clone())
            .collect::<Vec<_>>()
            .join(" / ");
        let data = |sections: Vec<serde_json::Value>| {
            json!({
                "lang": langs[0].as_str(),
                "jump": pref == LangPref::Both,
                "title": subject,
                "preheader": if preheader.is_empty() { serde_json::Value::Null } else { preheader.clone().into() },
                "sections": sections,
                "unsubscribe_url": Slot::Unsubscribe.marker(),
                "preferences_url": Slot::Preferences.marker(),
            })
        };
        let text = renderer
            .text("email/issue.txt", &data(text_sections))
            .map_err(|e| err(e.to_string()))?;
        let mut text = wrap(&normalise_blank_lines(&text), DEFAULT_WIDTH);
        for (marker, body) in &text_bodies {
            text = text.replace(marker.as_str(), body.trim_end());
        }
        let html = renderer
            .html("email/issue.html", &data(html_sections))
            .map_err(|e| err(e.to_string()))?;
        let html = inline_css(&html).map_err(err)?;

        let boundary = format!("kairan-{}-{}", issue.id, pref);
        let content_language = langs
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut fixed = String::new();
        let list_name = langs
            .iter()
            .map(|l| nl.lang(*l).name.as_str())
            .collect::<Vec<_>>()
            .join(" / ");
        let _ = write!(
            fixed,
            "From: {}\r\n",
            mailbox_header(nl.from.name.as_deref(), nl.from.address.as_str(), 6)
        );
        if let Some(r) = &nl.reply_to {
            let _ = write!(fixed, "Reply-To: {r}\r\n");
        }
        let _ = write!(
            fixed,
            "MIME-Version: 1.0\r\nContent-Language: {content_language}\r\n"
        );
        let _ = write!(
            fixed,
            "List-Id: {} <{}>\r\n",
            encode_header_word_after(&list_name, HeaderCharset::Utf8, 9),
            nl.list_id
        );
        fixed.push_str("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nPrecedence: bulk\r\n");
        let _ = write!(
            fixed,
            "Feedback-ID: {}:{}:newsletter:kairan\r\n",
            issue.id, pref
        );
        let _ = write!(
            fixed,
            "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n"
        );
        let text = Template::parse(&text).map_err(&err)?;
        let text_jis = text
            .0
            .iter()
            .map(|seg| match seg {
                Segment::Lit(l) => {
                    let mut bytes = Vec::new();
                    push_crlf(&mut bytes, &lossy_iso2022jp(l).0);
                    Some(bytes)
                }
                Segment::Slot(_) => None,
            })
            .collect();
        Ok(Prepared {
            pref,
            subject_utf8: encode_header_word_after(&subject, HeaderCharset::Utf8, 9),
            subject_jis: encode_header_word_after(&subject, HeaderCharset::Iso2022Jp, 9),
            subject,
            fixed_headers: fixed,
            boundary,
            text,
            text_jis,
            html: Template::parse(&html).map_err(&err)?,
            greeting_named,
            greeting_anonymous,
        })
    }

    fn slot_value(&self, slot: Slot, r: &Recipient, html: bool, out: &mut String) {
        match slot {
            Slot::Unsubscribe => push_escaped(out, r.unsubscribe_url, html),
            Slot::Preferences => push_escaped(out, r.preferences_url, html),
            Slot::Greeting(lang) => {
                let name = r.name.map(str::trim).filter(|n| !n.is_empty());
                let table = if name.is_some() {
                    &self.greeting_named
                } else {
                    &self.greeting_anonymous
                };
                let pattern = table
                    .iter()
                    .find(|(l, _)| *l == lang)
                    .map(|(_, g)| g.as_str())
                    .unwrap_or("");
                match name {
                    Some(n) => {
                        let (before, after) =
                            pattern.split_once(NAME_MARK).unwrap_or((pattern, ""));
                        push_escaped(out, before, html);
                        push_escaped(out, n, html);
                        push_escaped(out, after, html);
                    }
                    None => push_escaped(out, pattern, html),
                }
            }
        }
    }

    /// The decoded text and HTML parts for `r` (previews and tests).
    pub fn parts(&self, r: &Recipient) -> (String, String) {
        let mut text = String::new();
        self.text
            .fill(&mut text, |s, out| self.slot_value(s, r, false, out));
        let mut html = String::new();
        self.html
            .fill(&mut html, |s, out| self.slot_value(s, r, true, out));
        (text, html)
    }

    /// The complete message for `r`: RFC 5322 bytes with CRLF line ends.
    pub fn personalise(&self, r: &Recipient) -> Vec<u8> {
        SCRATCH.with_borrow_mut(|scratch| self.personalise_with(r, scratch))
    }

    fn personalise_with(&self, r: &Recipient, scratch: &mut String) -> Vec<u8> {
        let text_len: usize = self.text.len_hint();
        let html_len: usize = self.html.len_hint();
        let mut out = String::with_capacity(
            self.fixed_headers.len() + 1024 + (text_len + html_len) * 4 / 3 * 78 / 76,
        );
        let _ = write!(out, "Date: {}\r\n", r.date);
        out.push_str(&self.fixed_headers);
        let _ = write!(out, "To: {}\r\n", mailbox_header(r.name, r.email, 4));
        let subject = if r.legacy_charset {
            &self.subject_jis
        } else {
            &self.subject_utf8
        };
        let _ = write!(out, "Subject: {subject}\r\n");
        let _ = write!(out, "Message-ID: <{}>\r\n", r.message_id);
        let _ = write!(
            out,
            "List-Unsubscribe: <{}>,\r\n <{}>\r\n",
            r.unsubscribe_url, r.unsubscribe_mailto
        );
        if let Some(t) = r.delivery_token {
            let _ = write!(out, "X-Kairan-Delivery: {t}\r\n");
        }
        out.push_str("\r\n");
        let _ = write!(out, "--{}\r\n", self.boundary);
        let mut bytes = out.into_bytes();
        if r.legacy_charset {
            bytes.extend_from_slice(
                b"Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
            );
            // Literal segments were encoded once; only the slots are encoded here. Each
            // piece ends in ASCII, so the concatenation is valid ISO-2022-JP.
            for (seg, jis) in self.text.0.iter().zip(&self.text_jis) {
                match (seg, jis) {
                    (_, Some(jis)) => bytes.extend_from_slice(jis),
                    (Segment::Slot(slot), None) => {
                        scratch.clear();
                        self.slot_value(*slot, r, false, scratch);
                        push_crlf(&mut bytes, &lossy_iso2022jp(scratch).0);
                    }
                    (Segment::Lit(_), None) => unreachable!("every literal is pre-encoded"),
                }
            }
        } else {
            bytes.extend_from_slice(
                b"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            );
            scratch.clear();
            self.text
                .fill(scratch, |s, out| self.slot_value(s, r, false, out));
            push_base64(&mut bytes, scratch.as_bytes());
        }
        bytes.extend_from_slice(format!("\r\n--{}\r\n", self.boundary).as_bytes());
        bytes.extend_from_slice(
            b"Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        );
        scratch.clear();
        self.html
            .fill(scratch, |s, out| self.slot_value(s, r, true, out));
        push_base64(&mut bytes, scratch.as_bytes());
        bytes.extend_from_slice(format!("\r\n--{}--\r\n", self.boundary).as_bytes());
        // A very large scratch buffer is not kept per thread.
        if scratch.capacity() > 1 << 20 {
            *scratch = String::new();
        }
        bytes
    }
}

thread_local! {
    /// Per-thread buffer for the decoded parts while personalising.
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Collapses runs of 3+ newlines the template's block helpers leave behind.
fn normalise_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut newlines = 0;
    for c in text.trim_start_matches('\n').chars() {
        if c == '\n' {
            newlines += 1;
            if newlines > 2 {
                continue;
            }
        } else {
            newlines = 0;
        }
        out.push(c);
    }
    out
}

fn inline_css(html: &str) -> Result<String, String> {
    let inliner = css_inline::CSSInliner::options()
        .load_remote_stylesheets(false)
        .keep_style_tags(true)
        .build();
    inliner
        .inline(html)
        .map_err(|e| format!("CSS inlining failed: {e}"))
}

fn push_escaped(out: &mut String, s: &str, html: bool) {
    if !html {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// `Name <addr>` with the name RFC 2047-encoded (or quoted) as needed; `offset` is the
/// length of the header name and colon before it.
fn mailbox_header(name: Option<&str>, addr: &str, offset: usize) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => addr.to_owned(),
        Some(n) if n.is_ascii() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') => {
            format!("{n} <{addr}>")
        }
        Some(n) if n.is_ascii() && !n.contains(['"', '\\']) => format!("\"{n}\" <{addr}>"),
        Some(n) => format!(
            "{} <{addr}>",
            encode_header_word_after(n, HeaderCharset::Utf8, offset)
        ),
    }
}

/// Base64 in lines of 76, CRLF between them, straight into `out`.
fn push_base64(out: &mut Vec<u8>, data: &[u8]) {
    let engine = &base64::engine::general_purpose::STANDARD;
    out.reserve(data.len().div_ceil(57) * 78);
    for (i, chunk) in data.chunks(57).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let start = out.len();
        out.resize(start + 76, 0);
        let n = engine
            .encode_slice(chunk, &mut out[start..])
            .expect("57 bytes fit in 76");
        out.truncate(start + n);
    }
}

/// Appends text with bare LF line ends turned into CRLF.
fn push_crlf(out: &mut Vec<u8>, data: &[u8]) {
    for line in data.split_inclusive(|b| *b == b'\n') {
        match line.strip_suffix(b"\n") {
            Some(l) => {
                out.extend_from_slice(l.strip_suffix(b"\r").unwrap_or(l));
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(line),
        }
    }
}
