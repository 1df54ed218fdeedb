//! Markdown (CommonMark + tables + strikethrough) to plain text and HTML,
//! plus a link checker for mail.
//!
//! The plain-text rendering walks pulldown-cmark events (it never scrapes
//! the HTML), so both outputs come from the same parse:
//!
//! * paragraphs are wrapped with [`super::wrap()`]'s rules; a soft line break
//!   between two Japanese characters joins them without a space (a space
//!   there would be visible), elsewhere it becomes a space;
//! * `# h1` is underlined with `=`, `## h2` with `-`, both as wide as the
//!   heading's display width; `###`–`######` are prefixed with `■ `;
//! * lists use `- ` and `1. ` markers with hanging indents, nested lists
//!   indent under the item text; tight lists have no blank lines between
//!   items, loose ones do;
//! * block quotes prefix every line with `> ` (blank lines with `>`);
//! * code blocks are copied verbatim, indented by four spaces, never
//!   wrapped (only cut at 998 octets, see [`mod@super::wrap`]); raw HTML blocks
//!   are copied verbatim without indent, inline HTML as literal text;
//! * emphasis and strong are dropped, strikethrough is kept as `~~text~~`
//!   (dropping it would assert what the author struck out), inline code is
//!   shown as its text;
//! * links become `text[1]` with `[1] https://…` listed at the end; the same
//!   URL always gets the same number; autolinks and links whose text is the
//!   URL are shown once, without a footnote; images become
//!   `[image: alt][2]` with the image URL footnoted; footnoted URLs are
//!   percent-encoded where they contain spaces or non-ASCII so that they
//!   stay one clickable token;
//! * tables are laid out in aligned columns separated by ` | `, not wrapped;
//! * hard breaks end the line; rules are a line of `-` across the width.
//!
//! HTML output escapes raw HTML instead of passing it through: newsletter
//! Markdown is written by many volunteers, and mail HTML should only contain
//! what the renderer generates.  Raw HTML blocks are shown as code blocks and
//! inline HTML as text, so the author sees in the preview that it was not
//! applied.  Link URLs are not filtered here; [`check_links`] reports the
//! ones mail cannot use (including `javascript:`), and the HTML must be sent
//! with a quoted-printable or base64 transfer encoding because a paragraph is
//! one long line.

use std::fmt;
use std::ops::Range;

use pulldown_cmark::{
    Alignment, CodeBlockKind, CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd,
};

use super::wrap::{display_width, hard_split_line, is_ideographic, wrap_paragraph};

/// Extensions used for every rendering, so text, HTML and the link check
/// all agree on what the document contains.
fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// Open block containers, outermost first.
#[derive(Debug)]
enum Container {
    Quote,
    List { next: Option<u64>, first: bool },
    Item { marker: String, pending: bool },
}

/// A link or image whose text is being collected.
#[derive(Debug)]
struct OpenLink {
    start: usize,
    dest: String,
    shown_as_is: bool,
    image: bool,
}

#[derive(Debug, Default)]
struct Table {
    aligns: Vec<Alignment>,
    rows: Vec<Vec<String>>,
    head_rows: usize,
}

/// Raw text of a code or HTML block being collected, and its indent.
#[derive(Debug)]
struct Verbatim {
    text: String,
    indent: &'static str,
}

struct TextRenderer {
    width: usize,
    lines: Vec<String>,
    stack: Vec<Container>,
    /// Inline text of the current leaf block.
    buf: String,
    /// Byte offsets in `buf` of soft line breaks, resolved at flush time
    /// because whether they become a space depends on the next character.
    soft: Vec<usize>,
    links: Vec<OpenLink>,
    notes: Vec<String>,
    verbatim: Option<Verbatim>,
    table: Option<Table>,
    /// A blank line is owed before the next block.
    pending_blank: bool,
    /// Nothing emitted yet in the innermost container (no blank line then).
    fresh: bool,
}

/// Soft breaks in `text` (offsets) become a space, or nothing between two
/// ideographic characters (Japanese wraps source lines without spaces).
fn resolve_soft(text: &str, soft: &[usize]) -> String {
    let mut out = String::with_capacity(text.len() + soft.len());
    let mut last = 0;
    for &p in soft {
        out.push_str(&text[last..p]);
        let before = text[..p].chars().next_back();
        let after = text[p..].chars().next();
        let join = before.is_some_and(is_ideographic) && after.is_some_and(is_ideographic);
        if !join {
            out.push(' ');
        }
        last = p;
    }
    out.push_str(&text[last..]);
    out
}

/// Percent-encode what would break a URL into several tokens in plain text
/// (whitespace, controls, non-ASCII), leaving everything else as written.
fn display_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        if c.is_ascii_graphic() {
            out.push(c);
        } else {
            let mut b = [0u8; 4];
            for byte in c.encode_utf8(&mut b).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

fn spaces(n: usize) -> String {
    " ".repeat(n)
}

impl TextRenderer {
    fn new(width: usize) -> Self {
        TextRenderer {
            width,
            lines: Vec::new(),
            stack: Vec::new(),
            buf: String::new(),
            soft: Vec::new(),
            links: Vec::new(),
            notes: Vec::new(),
            verbatim: None,
            table: None,
            pending_blank: false,
            fresh: true,
        }
    }

    /// Prefixes for the first line of the next block and for the rest.
    fn prefixes(&self) -> (String, String) {
        let (mut first, mut rest) = (String::new(), String::new());
        for c in &self.stack {
            match c {
                Container::Quote => {
                    first.push_str("> ");
                    rest.push_str("> ");
                }
                Container::List { .. } => {}
                Container::Item { marker, pending } => {
                    let pad = spaces(display_width(marker));
                    first.push_str(if *pending { marker } else { &pad });
                    rest.push_str(&pad);
                }
            }
        }
        (first, rest)
    }

    fn blank_line(&mut self) {
        let (_, rest) = self.prefixes();
        self.lines.push(rest.trim_end().to_string());
    }

    /// Emit a blank line now if one is owed (used when opening containers,
    /// so the blank line gets the outer prefix, not the new container's).
    fn settle_blank(&mut self) {
        if self.pending_blank && !self.fresh && !self.lines.is_empty() {
            self.blank_line();
        }
        self.pending_blank = false;
    }

    /// Append the lines of a block, after a blank line if one is owed.
    fn emit(&mut self, lines: Vec<String>) {
        self.settle_blank();
        self.lines.extend(lines);
        self.fresh = false;
        for c in &mut self.stack {
            if let Container::Item { pending, .. } = c {
                *pending = false;
            }
        }
    }

    fn take_inline(&mut self) -> String {
        let text = resolve_soft(&self.buf, &self.soft);
        self.buf.clear();
        self.soft.clear();
        text
    }

    /// Wrap inline text (hard breaks are `\n`) with the current prefixes.
    fn wrapped(&self, text: &str, first_extra: &str, rest_extra: &str) -> Vec<String> {
        let (first, rest) = self.prefixes();
        let first = format!("{first}{first_extra}");
        let rest = format!("{rest}{rest_extra}");
        let mut out = Vec::new();
        for (k, segment) in text.split('\n').enumerate() {
            let (p, segment) = if k == 0 {
                (first.as_str(), segment)
            } else {
                (rest.as_str(), segment.trim_start())
            };
            out.extend(wrap_paragraph(segment, self.width, p, &rest));
        }
        out
    }

    /// Text that is not inside a paragraph (tight list items) is flushed
    /// when the next block starts.  It never gets a blank line before it.
    fn flush_loose_text(&mut self) {
        let text = self.take_inline();
        if text.trim().is_empty() {
            return;
        }
        self.pending_blank = false;
        let lines = self.wrapped(&text, "", "");
        self.emit(lines);
    }

    fn end_paragraph(&mut self) {
        let text = self.take_inline();
        let lines = self.wrapped(&text, "", "");
        self.emit(lines);
        self.pending_blank = true;
    }

    fn end_heading(&mut self, level: HeadingLevel) {
        let text = self.take_inline();
        let text = text.trim();
        let underline = match level {
            HeadingLevel::H1 => Some('='),
            HeadingLevel::H2 => Some('-'),
            _ => None,
        };
        let lines = match underline {
            Some(ch) => {
                let (first, rest) = self.prefixes();
                let mut lines = self.wrapped(text, "", "");
                let w = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let p = if i == 0 { &first } else { &rest };
                        display_width(l).saturating_sub(display_width(p))
                    })
                    .max()
                    .unwrap_or(0)
                    .max(1);
                lines.push(format!("{rest}{}", ch.to_string().repeat(w)));
                lines
            }
            None => self.wrapped(text, "■ ", "  "),
        };
        self.emit(lines);
        self.pending_blank = true;
    }

    fn end_verbatim(&mut self) {
        let Some(v) = self.verbatim.take() else {
            return;
        };
        let (first, rest) = self.prefixes();
        let body = v.text.strip_suffix('\n').unwrap_or(&v.text);
        let mut lines = Vec::new();
        for (i, line) in body.split('\n').enumerate() {
            let p = format!("{}{}", if i == 0 { &first } else { &rest }, v.indent);
            let cont = format!("{rest}{}", v.indent);
            lines.extend(hard_split_line(
                &p,
                line.strip_suffix('\r').unwrap_or(line),
                &cont,
            ));
        }
        self.emit(lines);
        self.pending_blank = true;
    }

    fn rule(&mut self) {
        let (first, _) = self.prefixes();
        let n = self.width.saturating_sub(display_width(&first)).max(3);
        let line = format!("{first}{}", "-".repeat(n));
        self.emit(vec![line]);
        self.pending_blank = true;
    }

    fn end_table(&mut self) {
        let Some(table) = self.table.take() else {
            return;
        };
        let cols = table.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; cols];
        for row in &table.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(display_width(cell));
            }
        }
        let (first, rest) = self.prefixes();
        let mut text_lines = Vec::new();
        for (r, row) in table.rows.iter().enumerate() {
            let cells: Vec<String> = (0..cols)
                .map(|i| {
                    let cell = row.get(i).map_or("", String::as_str);
                    let pad = widths[i] - display_width(cell);
                    match table.aligns.get(i) {
                        Some(Alignment::Right) => format!("{}{cell}", spaces(pad)),
                        Some(Alignment::Center) => {
                            format!("{}{cell}{}", spaces(pad / 2), spaces(pad - pad / 2))
                        }
                        _ => format!("{cell}{}", spaces(pad)),
                    }
                })
                .collect();
            text_lines.push(cells.join(" | "));
            if r + 1 == table.head_rows {
                let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w.max(1))).collect();
                text_lines.push(rule.join("-+-"));
            }
        }
        let mut lines = Vec::new();
        for (i, l) in text_lines.iter().enumerate() {
            let p = if i == 0 { &first } else { &rest };
            lines.extend(hard_split_line(p, l, &rest));
        }
        self.emit(lines);
        self.pending_blank = true;
    }

    fn footnote(&mut self, url: &str) -> usize {
        let url = display_url(url);
        if let Some(i) = self.notes.iter().position(|u| *u == url) {
            return i + 1;
        }
        self.notes.push(url);
        self.notes.len()
    }

    fn close_link(&mut self) {
        let Some(mut link) = self.links.pop() else {
            return;
        };
        // Links cannot contain blocks, so the buffer only grew since the
        // link opened; clamp anyway so malformed event streams cannot panic.
        if !self.buf.is_char_boundary(link.start.min(self.buf.len())) {
            link.start = self.buf.len();
        }
        link.start = link.start.min(self.buf.len());
        if link.image {
            // Resolve soft breaks inside the alt text before replacing it.
            let inner: Vec<usize> = self
                .soft
                .iter()
                .filter(|&&p| p >= link.start)
                .map(|p| p - link.start)
                .collect();
            self.soft.retain(|&p| p < link.start);
            let alt = resolve_soft(&self.buf[link.start..], &inner);
            let alt = alt.trim();
            self.buf.truncate(link.start);
            self.buf.push_str("[image");
            if !alt.is_empty() {
                self.buf.push_str(": ");
                self.buf.push_str(alt);
            }
            self.buf.push(']');
            if !link.dest.is_empty() {
                let n = self.footnote(&link.dest);
                self.buf.push_str(&format!("[{n}]"));
            }
            return;
        }
        let text = &self.buf[link.start..];
        let same = text == link.dest || link.dest.strip_prefix("mailto:") == Some(text);
        if !link.dest.is_empty() && !link.shown_as_is && !same {
            let n = self.footnote(&link.dest);
            self.buf.push_str(&format!("[{n}]"));
        }
    }

    fn start_item(&mut self, loose: bool) {
        let mut marker = String::from("- ");
        let mut first_item = false;
        if let Some(Container::List { next, first }) = self.stack.last_mut() {
            if let Some(n) = next {
                marker = format!("{n}. ");
                *n += 1;
            }
            first_item = std::mem::replace(first, false);
        }
        if loose && !first_item {
            self.settle_blank();
        }
        self.pending_blank = false;
        self.stack.push(Container::Item {
            marker,
            pending: true,
        });
        self.fresh = true;
    }

    fn end_item(&mut self) {
        self.flush_loose_text();
        // An empty item still shows its marker.
        if let Some(Container::Item { pending: true, .. }) = self.stack.last() {
            let (first, _) = self.prefixes();
            self.emit(vec![first.trim_end().to_string()]);
        }
        self.stack.pop();
        self.fresh = false;
    }

    fn event(&mut self, event: &Event<'_>, next: Option<&Event<'_>>) {
        if let Some(v) = &mut self.verbatim {
            match event {
                Event::Text(t) | Event::Html(t) => {
                    v.text.push_str(t);
                    return;
                }
                Event::End(TagEnd::CodeBlock | TagEnd::HtmlBlock) => {}
                _ => return,
            }
        }
        match event {
            Event::Start(tag) => self.start(tag, next),
            Event::End(tag) => self.end(*tag),
            Event::Text(t) | Event::Code(t) | Event::InlineHtml(t) | Event::Html(t) => {
                self.buf.push_str(t);
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => self.buf.push_str(t),
            Event::FootnoteReference(label) => {
                self.buf.push_str(&format!("[^{label}]"));
            }
            Event::SoftBreak => self.soft.push(self.buf.len()),
            Event::HardBreak => self.buf.push('\n'),
            Event::Rule => {
                self.flush_loose_text();
                self.rule();
            }
            Event::TaskListMarker(done) => {
                self.buf.push_str(if *done { "[x] " } else { "[ ] " });
            }
        }
    }

    fn start(&mut self, tag: &Tag<'_>, next: Option<&Event<'_>>) {
        match tag {
            Tag::Paragraph => self.flush_loose_text(),
            Tag::Heading { .. } => self.flush_loose_text(),
            Tag::BlockQuote(_) => {
                self.flush_loose_text();
                self.settle_blank();
                self.stack.push(Container::Quote);
                self.fresh = true;
            }
            Tag::CodeBlock(_) | Tag::HtmlBlock => {
                self.flush_loose_text();
                let indent = if matches!(tag, Tag::CodeBlock(_)) {
                    "    "
                } else {
                    ""
                };
                self.verbatim = Some(Verbatim {
                    text: String::new(),
                    indent,
                });
            }
            Tag::List(start) => {
                self.flush_loose_text();
                self.settle_blank();
                self.stack.push(Container::List {
                    next: *start,
                    first: true,
                });
            }
            Tag::Item => {
                self.flush_loose_text();
                let loose = matches!(next, Some(Event::Start(Tag::Paragraph)));
                self.start_item(loose);
            }
            Tag::Table(aligns) => {
                self.flush_loose_text();
                self.table = Some(Table {
                    aligns: aligns.clone(),
                    ..Table::default()
                });
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(t) = &mut self.table {
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableCell => {
                self.buf.clear();
                self.soft.clear();
            }
            Tag::Strikethrough => self.buf.push_str("~~"),
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => self.links.push(OpenLink {
                start: self.buf.len(),
                dest: dest_url.to_string(),
                shown_as_is: matches!(link_type, LinkType::Autolink | LinkType::Email),
                image: false,
            }),
            Tag::Image { dest_url, .. } => self.links.push(OpenLink {
                start: self.buf.len(),
                dest: dest_url.to_string(),
                shown_as_is: false,
                image: true,
            }),
            // Not enabled by `options()`; rendered as their plain content.
            Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => self.flush_loose_text(),
            Tag::Emphasis | Tag::Strong | Tag::Superscript | Tag::Subscript => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.end_paragraph(),
            TagEnd::Heading(level) => self.end_heading(level),
            TagEnd::BlockQuote(_) => {
                self.flush_loose_text();
                self.stack.pop();
                self.pending_blank = true;
                self.fresh = false;
            }
            TagEnd::CodeBlock | TagEnd::HtmlBlock => self.end_verbatim(),
            TagEnd::List(_) => {
                self.flush_loose_text();
                self.stack.pop();
                self.pending_blank = true;
                self.fresh = false;
            }
            TagEnd::Item => self.end_item(),
            TagEnd::Table => self.end_table(),
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.head_rows = t.rows.len();
                }
            }
            TagEnd::TableCell => {
                let cell = self.take_inline().replace('\n', " ");
                if let Some(row) = self.table.as_mut().and_then(|t| t.rows.last_mut()) {
                    row.push(cell.trim().to_string());
                }
            }
            TagEnd::Strikethrough => self.buf.push_str("~~"),
            TagEnd::Link | TagEnd::Image => self.close_link(),
            TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => self.flush_loose_text(),
            TagEnd::TableRow
            | TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Superscript
            | TagEnd::Subscript => {}
        }
    }

    fn finish(mut self) -> String {
        self.flush_loose_text();
        if !self.notes.is_empty() {
            if !self.lines.is_empty() {
                self.lines.push(String::new());
            }
            for (i, url) in self.notes.iter().enumerate() {
                self.lines
                    .extend(hard_split_line(&format!("[{}] ", i + 1), url, ""));
            }
        }
        let mut out = self.lines.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }
}

/// Render Markdown as plain text wrapped to `width` columns (normally
/// [`super::DEFAULT_WIDTH`]).  See the module docs for the layout.  The
/// result ends with a newline unless it is empty; lines are separated by
/// `\n`, carry no trailing whitespace and never exceed 998 octets.
pub fn markdown_to_text(md: &str, width: usize) -> String {
    let events: Vec<Event<'_>> = Parser::new_ext(md, options()).collect();
    let mut r = TextRenderer::new(width);
    for (i, event) in events.iter().enumerate() {
        r.event(event, events.get(i + 1));
    }
    r.finish()
}

fn last_char(event: Option<&Event<'_>>) -> Option<char> {
    match event {
        Some(Event::Text(t) | Event::Code(t)) => t.chars().next_back(),
        _ => None,
    }
}

fn first_char(event: Option<&Event<'_>>) -> Option<char> {
    match event {
        Some(Event::Text(t) | Event::Code(t)) => t.chars().next(),
        _ => None,
    }
}

/// Render Markdown as an HTML fragment (no `<html>`/`<body>`), with tables
/// and strikethrough.  Raw HTML in the Markdown is escaped, never passed
/// through (see module docs); soft breaks between Japanese characters are
/// dropped so browsers do not show a space there.
pub fn markdown_to_html(md: &str) -> String {
    let events: Vec<Event<'_>> = Parser::new_ext(md, options()).collect();
    let mut mapped = Vec::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        let e = match event {
            Event::Start(Tag::HtmlBlock) => {
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(CowStr::Borrowed(""))))
            }
            Event::End(TagEnd::HtmlBlock) => Event::End(TagEnd::CodeBlock),
            Event::Html(t) | Event::InlineHtml(t) => Event::Text(t.clone()),
            Event::SoftBreak => {
                let before = last_char(i.checked_sub(1).and_then(|j| events.get(j)));
                let after = first_char(events.get(i + 1));
                if before.is_some_and(is_ideographic) && after.is_some_and(is_ideographic) {
                    continue;
                }
                Event::SoftBreak
            }
            other => other.clone(),
        };
        mapped.push(e);
    }
    let mut out = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, mapped.into_iter());
    out
}

/// Why a link cannot be used in mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkProblemKind {
    /// `[text]()`: no destination at all.
    Empty,
    /// `#anchor`: points into a web page that a mail is not.
    Fragment,
    /// `/path`, `page.html`, `../x`, `//host/x`: needs a base URL mail
    /// does not have.
    Relative,
    /// A scheme other than http, https, mailto or tel (`ftp:`, `file:`,
    /// `javascript:`, `data:` …).
    UnsupportedScheme(String),
    /// An allowed scheme without the part that makes it usable
    /// (`https:foo`, `https://`, `mailto:`).
    Malformed,
}

/// A link or image in the Markdown that will not work in a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkProblem {
    /// 1-based line of the URL in the source (of the link text when the
    /// URL cannot be located, e.g. reference links).
    pub line: usize,
    /// 1-based column, in chars.
    pub col: usize,
    /// The destination as pulldown-cmark resolved it.
    pub url: String,
    /// What is wrong with it.
    pub kind: LinkProblemKind,
}

impl LinkProblem {
    /// What is wrong, without the position.
    pub fn describe(&self) -> String {
        match &self.kind {
            LinkProblemKind::Empty => "link without a URL".to_owned(),
            LinkProblemKind::Fragment => {
                format!("in-page anchor {:?} does not work in mail", self.url)
            }
            LinkProblemKind::Relative => format!(
                "relative URL {:?}: mail needs an absolute https:// URL",
                self.url
            ),
            LinkProblemKind::UnsupportedScheme(s) => {
                format!("URL {:?} uses unsupported scheme {s:?}", self.url)
            }
            LinkProblemKind::Malformed => format!("malformed URL {:?}", self.url),
        }
    }
}

impl fmt::Display for LinkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line,
            self.col,
            self.describe()
        )
    }
}

/// Classify a destination: `None` when mail can use it.
fn classify(url: &str) -> Option<LinkProblemKind> {
    let url = url.trim();
    if url.is_empty() {
        return Some(LinkProblemKind::Empty);
    }
    if url.starts_with('#') {
        return Some(LinkProblemKind::Fragment);
    }
    // RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
    let scheme_end = url.find(':').filter(|&i| {
        let s = &url[..i];
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    let Some(i) = scheme_end else {
        return Some(LinkProblemKind::Relative);
    };
    let scheme = url[..i].to_ascii_lowercase();
    let rest = &url[i + 1..];
    match scheme.as_str() {
        "http" | "https" => {
            let host = rest
                .strip_prefix("//")
                .map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
            match host {
                Some(h) if !h.is_empty() => None,
                _ => Some(LinkProblemKind::Malformed),
            }
        }
        "mailto" | "tel" if !rest.is_empty() => None,
        "mailto" | "tel" => Some(LinkProblemKind::Malformed),
        _ => Some(LinkProblemKind::UnsupportedScheme(scheme)),
    }
}

/// 1-based (line, char column) of byte `offset` in `src`.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}

/// Report links and images whose URL a mail cannot use: mail has no base
/// URL, so only absolute `http`, `https`, `mailto` and `tel` URLs work.
/// Positions are 1-based lines and char columns in `md`, pointing at the URL
/// itself where it appears literally in the link, else at the link.
pub fn check_links(md: &str) -> Vec<LinkProblem> {
    let mut problems = Vec::new();
    for (event, range) in Parser::new_ext(md, options()).into_offset_iter() {
        let dest = match &event {
            // `<user@example.org>`: pulldown-cmark leaves out the `mailto:`
            // it adds when rendering, so the bare address is fine here.
            Event::Start(Tag::Link {
                link_type: LinkType::Email,
                ..
            }) => continue,
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => dest_url,
            _ => continue,
        };
        let Some(kind) = classify(dest) else {
            continue;
        };
        let at = locate(md, range, dest);
        let (line, col) = line_col(md, at);
        problems.push(LinkProblem {
            line,
            col,
            url: dest.to_string(),
            kind,
        });
    }
    problems
}

/// Byte offset of `dest` within the link's source range, or the range start.
fn locate(md: &str, range: Range<usize>, dest: &str) -> usize {
    if dest.is_empty() {
        return range.start;
    }
    md.get(range.clone())
        .and_then(|s| s.rfind(dest))
        .map_or(range.start, |i| range.start + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strip_ws(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }

    const NEWSLETTER: &str = "\
# かいらん通信 第42号

## 技能実習生の権利を守るために

私たちは2015年から、外国人技能実習生のための**無料相談窓口**を運営してきました。
今年度の相談件数は過去最多の412件にのぼり、その多くが賃金未払い、長時間労働、
パスポートの取り上げといった深刻な人権侵害に関するものでした。
詳しくは[年次報告書](https://example.org/reports/2024/annual-report.pdf)をご覧ください。

> 「毎日14時間働いても、残業代は一度も払われなかった。帰国したくても、借金があるので帰れない」
> ――ベトナム出身のグエンさん（仮名）

### 今後の活動

- 6月20日の「世界難民の日」に、オンライン・セミナー *Human Rights in Supply Chains* を開催します（[申込フォーム](https://example.org/events/2024-06-20)）。
- 政府への意見書を提出しました：
  1. 技能実習制度の廃止と、新しい「育成就労」制度における転籍制限の撤廃
  2. 監理団体による中間搾取の禁止
- 年次報告書の英語版は[こちら](https://example.org/reports/2024/annual-report.pdf)。

![相談会の様子](https://example.org/img/consultation.jpg)

---

ご寄付は<https://example.org/donate>から。ご質問は<info@example.org>まで。
";

    const ENGLISH: &str = "\
# Kairan Newsletter #42

Since 2015 we have run a *free* hotline for technical intern trainees in Japan.
This year we received 412 requests for help, the highest number ever. Read the
[annual report](https://example.org/reports/2024/annual-report.pdf) and the
[summary](https://example.org/summary \"Summary\").

1. Unpaid wages
2. Excessive overtime
10. Confiscated passports

```
$ curl https://example.org/api/v1/cases?year=2024&format=csv&fields=id,date,category,status,region
```
";

    #[test]
    fn japanese_newsletter_renders() {
        let text = markdown_to_text(NEWSLETTER, 76);
        let expected_start = "\
かいらん通信 第42号
===================

技能実習生の権利を守るために
----------------------------

私たちは2015年から、外国人技能実習生のための無料相談窓口を運営してきました。
今年度の相談件数は過去最多の412件にのぼり、その多くが賃金未払い、長時間労
働、パスポートの取り上げといった深刻な人権侵害に関するものでした。詳しくは年
次報告書[1]をご覧ください。

> 「毎日14時間働いても、残業代は一度も払われなかった。帰国したくても、借金が
> あるので帰れない」 ――ベトナム出身のグエンさん（仮名）

■ 今後の活動

- 6月20日の「世界難民の日」に、オンライン・セミナー Human Rights in Supply
  Chains を開催します（申込フォーム[2]）。
- 政府への意見書を提出しました：
  1. 技能実習制度の廃止と、新しい「育成就労」制度における転籍制限の撤廃
  2. 監理団体による中間搾取の禁止
- 年次報告書の英語版はこちら[1]。

[image: 相談会の様子][3]

----------------------------------------------------------------------------

ご寄付はhttps://example.org/donateから。ご質問はinfo@example.orgまで。

[1] https://example.org/reports/2024/annual-report.pdf
[2] https://example.org/events/2024-06-20
[3] https://example.org/img/consultation.jpg
";
        assert_eq!(text, expected_start, "\n{text}");
        for l in text.lines() {
            assert!(display_width(l) <= 76, "{l}");
        }
    }

    #[test]
    fn english_renders() {
        let text = markdown_to_text(ENGLISH, 76);
        let expected = "\
Kairan Newsletter #42
=====================

Since 2015 we have run a free hotline for technical intern trainees in
Japan. This year we received 412 requests for help, the highest number ever.
Read the annual report[1] and the summary[2].

1. Unpaid wages
2. Excessive overtime
3. Confiscated passports

    $ curl https://example.org/api/v1/cases?year=2024&format=csv&fields=id,date,category,status,region

[1] https://example.org/reports/2024/annual-report.pdf
[2] https://example.org/summary
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn nested_and_loose_lists() {
        let md =
            "- one\n\n  para two of one\n- two\n  - nested a\n  - nested b\n\n    more b\n\nafter";
        let text = markdown_to_text(md, 40);
        assert_eq!(
            text,
            "- one\n\n  para two of one\n\n- two\n\n  - nested a\n\n  - nested b\n\n    more b\n\nafter\n"
        );
        let md = "1. a\n   1. b\n      - c\n2. d";
        assert_eq!(markdown_to_text(md, 40), "1. a\n   1. b\n      - c\n2. d\n");
        let md = "- - double\n-\n- x";
        assert_eq!(markdown_to_text(md, 40), "- - double\n-\n- x\n");
        let md = "7. seven\n8. eight";
        assert_eq!(markdown_to_text(md, 40), "7. seven\n8. eight\n");
    }

    #[test]
    fn hanging_indent_in_lists() {
        let md =
            "- The trainees described unpaid overtime, confiscated passports and debts to brokers.";
        let text = markdown_to_text(md, 30);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("- The"));
        assert!(
            lines[1..]
                .iter()
                .all(|l| l.starts_with("  ") && !l.starts_with("   "))
        );
    }

    #[test]
    fn block_quotes() {
        let md = "Before\n\n> First paragraph of the quote\n>\n> Second\n>\n> > nested\n\nAfter";
        assert_eq!(
            markdown_to_text(md, 76),
            "Before\n\n> First paragraph of the quote\n>\n> Second\n>\n> > nested\n\nAfter\n"
        );
        let text = markdown_to_text("> word word word word word", 12);
        assert_eq!(text, "> word word\n> word word\n> word\n");
    }

    #[test]
    fn code_is_verbatim() {
        let md = "```\nfn main() {\n\tlet x  =  1;   \n\n}\n```\n\n    indented code";
        assert_eq!(
            markdown_to_text(md, 10),
            "    fn main() {\n    \tlet x  =  1;\n\n    }\n\n    indented code\n"
        );
        let md = format!("```\n{}\n```", "x".repeat(2000));
        let text = markdown_to_text(&md, 76);
        assert!(text.lines().all(|l| l.len() <= 998));
        assert_eq!(strip_ws(&text), "x".repeat(2000));
    }

    #[test]
    fn links_and_footnotes() {
        let md = "[a](https://x.org/1) [b](https://x.org/2) [c](https://x.org/1) \
                  <https://x.org/3> [https://x.org/4](https://x.org/4) \
                  [mail](mailto:a@x.org) <b@x.org> [](https://x.org/5) [rel](/foo) \
                  [日本](<https://ja.example.org/ページ 名>)";
        let text = markdown_to_text(md, 200);
        assert_eq!(
            text,
            "a[1] b[2] c[1] https://x.org/3 https://x.org/4 mail[3] b@x.org [4] rel[5] 日本[6]\n\
             \n\
             [1] https://x.org/1\n\
             [2] https://x.org/2\n\
             [3] mailto:a@x.org\n\
             [4] https://x.org/5\n\
             [5] /foo\n\
             [6] https://ja.example.org/%E3%83%9A%E3%83%BC%E3%82%B8%20%E5%90%8D\n"
        );
    }

    #[test]
    fn reference_links_share_numbers() {
        let md =
            "[one][r] and [two][r] and [three]\n\n[r]: https://x.org/r\n[three]: https://x.org/3";
        assert_eq!(
            markdown_to_text(md, 76),
            "one[1] and two[1] and three[2]\n\n[1] https://x.org/r\n[2] https://x.org/3\n"
        );
    }

    #[test]
    fn images() {
        let md = "![A \nphoto](https://x.org/a.jpg) ![](https://x.org/b.png) \
                  [![logo](https://x.org/logo.png)](https://x.org/)";
        assert_eq!(
            markdown_to_text(md, 76),
            "[image: A photo][1] [image][2] [image: logo][3][4]\n\n\
             [1] https://x.org/a.jpg\n[2] https://x.org/b.png\n[3] https://x.org/logo.png\n\
             [4] https://x.org/\n"
        );
    }

    #[test]
    fn headings_underlined_by_display_width() {
        let text = markdown_to_text("# 人権\n\n## Rights 人権\n\n#### 小見出し", 76);
        assert_eq!(
            text,
            "人権\n====\n\nRights 人権\n-----------\n\n■ 小見出し\n"
        );
        // A long heading wraps; the underline matches the widest line.
        let text = markdown_to_text("# aaaa bbbb cccc", 10);
        assert_eq!(text, "aaaa bbbb\ncccc\n=========\n");
    }

    #[test]
    fn rules_breaks_emphasis() {
        let md = "*em* **strong** ~~struck~~ `code`  \nnext line\\\nthird\n\n***\n\nend";
        assert_eq!(
            markdown_to_text(md, 20),
            "em strong ~~struck~~\ncode\nnext line\nthird\n\n--------------------\n\nend\n"
        );
    }

    #[test]
    fn soft_breaks_join_japanese() {
        assert_eq!(
            markdown_to_text("日本語の\n文章です。\nEnglish\nwords", 76),
            "日本語の文章です。 English words\n"
        );
    }

    #[test]
    fn raw_html_in_text_is_literal() {
        let md = "<div align=\"center\">\nhi\n</div>\n\nText with <b>tag</b>.";
        assert_eq!(
            markdown_to_text(md, 76),
            "<div align=\"center\">\nhi\n</div>\n\nText with <b>tag</b>.\n"
        );
    }

    #[test]
    fn tables_render_aligned() {
        let md = "| 項目 | 件数 |\n|:--|--:|\n| 賃金未払い | 120 |\n| Overtime | 7 |";
        assert_eq!(
            markdown_to_text(md, 76),
            "項目       | 件数\n-----------+-----\n賃金未払い |  120\nOvertime   |    7\n"
        );
    }

    #[test]
    fn all_lines_fit_and_content_survives() {
        for md in [NEWSLETTER, ENGLISH] {
            for width in [20, 40, 76] {
                let text = markdown_to_text(md, width);
                for l in text.lines() {
                    assert!(l.len() <= 998);
                    assert_eq!(l.trim_end(), l);
                }
            }
        }
    }

    #[test]
    fn html_escapes_raw_html() {
        let html = markdown_to_html("<script>alert(1)</script>\n\nHi <b onclick=\"x()\">there</b>");
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b "), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("Hi &lt;b onclick=\"x()\"&gt;there&lt;/b&gt;"));
    }

    #[test]
    fn html_tables_strikethrough_links() {
        let html = markdown_to_html(
            "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ [x](https://x.org/?a=1&b=2)",
        );
        assert!(html.contains("<table>"));
        assert!(html.contains("<del>old</del>"));
        assert!(html.contains("<a href=\"https://x.org/?a=1&amp;b=2\">x</a>"));
    }

    #[test]
    fn html_joins_japanese_soft_breaks() {
        let html = markdown_to_html("日本語の\n文章です。\nEnglish\nwords");
        assert_eq!(html, "<p>日本語の文章です。\nEnglish\nwords</p>\n");
        let html = markdown_to_html(NEWSLETTER);
        assert!(html.contains("<h1>かいらん通信 第42号</h1>"));
        assert!(html.contains("<blockquote>"));
        assert!(html.contains(
            "<img src=\"https://example.org/img/consultation.jpg\" alt=\"相談会の様子\" />"
        ));
    }

    fn md_piece() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[あいう技能実習生の権利。、「」]{1,12}",
            3 => "[a-z]{1,10}( [a-z]{1,10}){0,4}",
            1 => Just("\n".to_string()),
            1 => Just("\n\n".to_string()),
            1 => "(# |## |### |- |  - |1. |> |> > |    |```\n|---\n|\\|)",
            1 => "(\\*|\\*\\*|_|~~|`)",
            1 => "\\[[a-z日本]{0,6}\\]\\((https://x\\.org/[a-z]{0,8}|/rel|#a|)\\)",
            1 => "!\\[[a-z写真]{0,4}\\]\\(https://x\\.org/[a-z]{1,5}\\.png\\)",
            1 => Just("<https://x.org/auto>".to_string()),
            1 => Just("<b>html</b>".to_string()),
            1 => Just("| a | b |\n|---|--:|\n| 1 | 2 |\n".to_string()),
            1 => "https://example\\.org/[a-z/]{0,120}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn prop_markdown_renders_sanely(
            parts in prop::collection::vec(md_piece(), 0..40),
            width in 10usize..90,
        ) {
            let md = parts.concat();
            let text = markdown_to_text(&md, width);
            for l in text.lines() {
                prop_assert!(l.len() <= 998);
                prop_assert_eq!(l.trim_end(), l);
            }
            prop_assert!(text.is_empty() || text.ends_with('\n'));
            let html = markdown_to_html(&md);
            prop_assert!(!html.contains("<b>"));
            for p in check_links(&md) {
                prop_assert!(p.line >= 1 && p.col >= 1);
                prop_assert!(p.line <= md.split('\n').count());
            }
        }
    }

    #[test]
    fn link_check_reports_positions() {
        let md = "# Title\n\n\
                  Good: [a](https://x.org) [m](mailto:a@x.org) [t](tel:+81-3-0000-0000) <https://y.org>\n\
                  日本語の[相対](/foo)と[ページ](foo.html)と[アンカー](#top)\n\
                  ![img](images/a.png) [ftp](ftp://x.org/f) [js](javascript:alert(1))\n\
                  [bad](https:/x.org) [empty]() [ref][r] [proto](//cdn.x.org/a)\n\n\
                  [r]: ../relative.html\n";
        let got: Vec<(usize, usize, String, LinkProblemKind)> = check_links(md)
            .into_iter()
            .map(|p| (p.line, p.col, p.url, p.kind))
            .collect();
        use LinkProblemKind::*;
        let want = vec![
            (4, 10, "/foo".to_string(), Relative),
            (4, 22, "foo.html".to_string(), Relative),
            (4, 39, "#top".to_string(), Fragment),
            (5, 8, "images/a.png".to_string(), Relative),
            (
                5,
                28,
                "ftp://x.org/f".to_string(),
                UnsupportedScheme("ftp".into()),
            ),
            (
                5,
                48,
                "javascript:alert(1)".to_string(),
                UnsupportedScheme("javascript".into()),
            ),
            (6, 7, "https:/x.org".to_string(), Malformed),
            (6, 21, "".to_string(), Empty),
            (6, 31, "../relative.html".to_string(), Relative),
            (6, 48, "//cdn.x.org/a".to_string(), Relative),
        ];
        assert_eq!(got, want);
        let p = &check_links("[x](/foo)")[0];
        assert_eq!(
            p.to_string(),
            "line 1, column 5: relative URL \"/foo\": mail needs an absolute https:// URL"
        );
        assert_eq!(check_links(NEWSLETTER), []);
        assert!(check_links("HTTPS://X.ORG/ is text, [x](HTTPS://X.ORG/)").is_empty());
    }
}
