//! Turns raw bytes into a header list plus one flat, decoded text "payload".
//!
//! mail-parser does the MIME work (transfer encodings, charsets such as
//! ISO-2022-JP and Shift_JIS). The parts are then laid out one after the other
//! the way Sisimai's `rfc2045.MakeFlat` does, so every format module reads the
//! same shape: text parts as plain text, and `message/delivery-status`,
//! `message/rfc822`, `text/rfc822-headers` parts introduced by a
//! `Content-Type: ...` line that the modules use as a separator.

use mail_parser::{HeaderName, MessageParser, MimeHeaders, PartType};
use std::sync::LazyLock;

/// Parses only what the layout needs (MIME headers and the subject); the
/// other headers, `Received:` among them, stay raw, which saves most of
/// mail-parser's header work.
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .header_text(HeaderName::Subject)
});

/// Raw input beyond this is ignored: bounce information sits at the top, and
/// the cap bounds the work done on hostile input.
const MAX_INPUT: usize = 2 * 1024 * 1024;
/// Cap on one part's contribution to the payload.
const MAX_PART: usize = 256 * 1024;
/// Cap on the whole payload.
const MAX_PAYLOAD: usize = 768 * 1024;

/// One email after MIME decoding.
#[derive(Debug, Default)]
pub struct Email {
    /// Top-level headers: lower-cased name and unfolded value, in order.
    pub headers: Vec<(String, String)>,
    /// Decoded `Subject:` (RFC 2047 words resolved).
    pub subject: String,
    /// Flattened, decoded body with LF line endings and no tabs.
    pub payload: String,
}

impl Email {
    /// First value of a header (name given in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header (name given in lower case).
    pub fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header, or "".
    pub fn h(&self, name: &str) -> &str {
        self.header(name).unwrap_or("")
    }
}

/// Normalises line endings to LF and drops a leading mbox `From ` line.
pub fn normalize(raw: &[u8]) -> Vec<u8> {
    let raw = &raw[..raw.len().min(MAX_INPUT)];
    let mut start = 0;
    if raw.starts_with(b"From ") {
        start = memchr::memchr2(b'\n', b'\r', raw)
            .map(|p| p + 1)
            .unwrap_or(raw.len());
        if raw.get(start - 1) == Some(&b'\r') && raw.get(start) == Some(&b'\n') {
            start += 1;
        }
    }
    let src = &raw[start..];
    let mut out = Vec::with_capacity(src.len());
    let mut i = 0;
    while i < src.len() {
        match memchr::memchr(b'\r', &src[i..]) {
            None => {
                out.extend_from_slice(&src[i..]);
                break;
            }
            Some(p) => {
                out.extend_from_slice(&src[i..i + p]);
                out.push(b'\n');
                i += p + 1;
                if src.get(i) == Some(&b'\n') {
                    i += 1;
                }
            }
        }
    }
    repair_folding(out)
}

/// Some MTAs (Exchange among them) write a part's `boundary=` parameter on
/// the line after "Content-Type: multipart/...;" without the leading white
/// space that would make it a continuation line; the part then loses its
/// boundary. Indent such lines so they fold as intended.
fn repair_folding(data: Vec<u8>) -> Vec<u8> {
    if memchr::memmem::find(&data, b";\nboundary=").is_none()
        && memchr::memmem::find(&data, b";\nBoundary=").is_none()
    {
        return data;
    }
    let mut out = Vec::with_capacity(data.len() + 16);
    let mut i = 0;
    while i < data.len() {
        out.push(data[i]);
        if data[i] == b'\n'
            && i > 0
            && data[i - 1] == b';'
            && data.len() > i + 9
            && data[i + 1..i + 10].eq_ignore_ascii_case(b"boundary=")
        {
            out.push(b' ');
        }
        i += 1;
    }
    out
}

/// Splits a header block into (lower-cased name, unfolded value) pairs.
pub fn parse_header_block(block: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.split('\n') {
        if line.is_empty() {
            break;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some(p) = line.find(':') {
            let name = &line[..p];
            if name.is_empty() || name.contains(' ') {
                continue;
            }
            out.push((name.to_ascii_lowercase(), line[p + 1..].trim().to_string()));
        }
    }
    out
}

/// mail-parser's MIME parse, contained: mail-parser 0.11.9 has a `debug_assert!` that some
/// malformed multiparts trip (found by the fuzz target), which panics in debug builds. A
/// message it cannot take is read as plain text instead; no input may bring the parser down.
fn parse_mime(data: &[u8]) -> Option<mail_parser::Message<'_>> {
    std::panic::catch_unwind(|| PARSER.parse(data)).unwrap_or(None)
}

/// Decodes a raw message into headers and a flat payload.
pub fn decode(raw: &[u8]) -> Email {
    let data = normalize(raw);
    let text_head_end = memchr::memmem::find(&data, b"\n\n").unwrap_or(data.len());
    let head = String::from_utf8_lossy(&data[..text_head_end]);
    let headers = parse_header_block(&head);

    let mut email = Email {
        headers,
        ..Default::default()
    };
    let parsed = if email.headers.is_empty() {
        None
    } else {
        parse_mime(&data)
    };
    match parsed {
        Some(msg) => {
            email.subject = msg.subject().unwrap_or("").to_string();
            let mut out = String::with_capacity(data.len().min(MAX_PAYLOAD));
            walk(&msg, 0, false, &data, &mut out, 0);
            email.payload = out;
        }
        None => {
            let body = data.get(text_head_end..).unwrap_or(&[]);
            email.payload = String::from_utf8_lossy(body).into_owned();
        }
    }
    if email.subject.is_empty() {
        email.subject = email.h("subject").to_string();
    }
    if !email.payload.ends_with("\n\n") {
        email.payload.push_str("\n\n");
    }
    // Sisimai replaces tabs by spaces; format rules rely on it.
    if email.payload.contains('\t') {
        email.payload = email.payload.replace('\t', " ");
    }
    email
}

fn push_part(out: &mut String, label: Option<&str>, body: &str) {
    if out.len() >= MAX_PAYLOAD {
        return;
    }
    if let Some(l) = label {
        out.push_str("Content-Type: ");
        out.push_str(l);
        out.push('\n');
    }
    let body = super::text::clip(body, MAX_PART.min(MAX_PAYLOAD - out.len().min(MAX_PAYLOAD)));
    let body = if body.contains('\r') {
        body.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        body.to_string()
    };
    out.push_str(&body);
    if !out.ends_with("\n\n") {
        if out.ends_with('\n') {
            out.push('\n');
        } else {
            out.push_str("\n\n");
        }
    }
}

fn walk(
    msg: &mail_parser::Message<'_>,
    id: u32,
    in_alternative: bool,
    raw: &[u8],
    out: &mut String,
    depth: usize,
) {
    if depth > 8 {
        return;
    }
    let Some(part) = msg.parts.get(id as usize) else {
        return;
    };
    let (ctype, subtype) = match part.content_type() {
        Some(ct) => (
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase(),
        ),
        None => ("text".to_string(), "plain".to_string()),
    };
    match &part.body {
        PartType::Multipart(ids) => {
            let alt = subtype == "alternative";
            // In multipart/alternative keep the text/plain rendering only.
            let has_plain = alt
                && ids.iter().any(|i| {
                    msg.parts
                        .get(*i as usize)
                        .is_some_and(|p| matches!(p.body, PartType::Text(_)))
                });
            for i in ids {
                if has_plain
                    && let Some(p) = msg.parts.get(*i as usize)
                    && matches!(p.body, PartType::Html(_))
                {
                    continue;
                }
                walk(msg, *i, alt, raw, out, depth + 1);
            }
        }
        PartType::Text(t) => {
            if ctype == "text" && subtype == "rfc822-headers" {
                push_part(out, Some("text/rfc822-headers"), t);
            } else if ctype == "message" {
                push_part(out, Some(&message_label(&subtype)), t);
            } else {
                // text/*, or a multipart whose boundary never appears: the
                // body is still the best text there is.
                push_part(out, None, t);
            }
        }
        PartType::Html(h) => {
            // Only reached when no text/plain sibling exists (see above).
            let _ = in_alternative;
            push_part(out, None, &super::text::html_to_plain(h));
        }
        PartType::Binary(b) | PartType::InlineBinary(b) => {
            if ctype == "message" || (ctype == "text" && subtype == "rfc822-headers") {
                let label = if ctype == "text" {
                    "text/rfc822-headers".to_string()
                } else {
                    message_label(&subtype)
                };
                push_part(out, Some(&label), &String::from_utf8_lossy(b));
            } else if ctype == "text" || ctype == "multipart" {
                push_part(out, None, &String::from_utf8_lossy(b));
            }
        }
        PartType::Message(m) => {
            // Keep the nested message as raw text: the modules want its headers
            // verbatim (Message-ID, X-Kairan-Delivery, To) and some carry a
            // second bounce inside.
            let bytes: &[u8] = if part.encoding == mail_parser::Encoding::None {
                raw.get(part.offset_body as usize..part.offset_end as usize)
                    .unwrap_or(&[])
            } else {
                m.raw_message()
            };
            let bytes = &bytes[..bytes.len().min(MAX_PART)];
            push_part(out, Some("message/rfc822"), &String::from_utf8_lossy(bytes));
        }
    }
}

fn message_label(subtype: &str) -> String {
    match subtype {
        "delivery-status"
        | "xdelivery-status"
        | "global-delivery-status"
        | "disposition-notification" => "message/delivery-status".to_string(),
        "feedback-report" => "message/feedback-report".to_string(),
        "partial" => "message/partial".to_string(),
        "rfc822" | "global" => "message/rfc822".to_string(),
        other => format!("message/{}", other),
    }
}

/// A bounce forwarded by a person ("Fwd: Returned mail: ...") is read as the
/// bounce itself: the "Fwd:"/"Fw:" prefix leaves the subject and the "> "
/// quote marks leave the body lines, as Sisimai does.
pub fn unforward(email: &mut Email) {
    let s = email.subject.trim_start();
    let rest = ["fwd:", "fw:"]
        .iter()
        .find(|p| super::text::starts_with_ci(s, p))
        .map(|p| s[p.len()..].trim_start().to_string());
    let Some(rest) = rest else { return };
    email.subject = rest;
    if !email.payload.contains("\n>") && !email.payload.starts_with('>') {
        return;
    }
    let mut out = String::with_capacity(email.payload.len());
    for line in email.payload.split('\n') {
        let t = line.trim_start_matches('>');
        if t.len() < line.len() && (t.is_empty() || t.starts_with(' ')) {
            out.push_str(t.strip_prefix(' ').unwrap_or(t));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out.pop();
    email.payload = out;
}
