//! Email address extraction from header values and free-form error text.

/// True when `s` looks like a deliverable `local@domain` address.
pub fn is_email(s: &str) -> bool {
    if s.len() < 5 || s.len() > 254 {
        return false;
    }
    let Some(at) = s.rfind('@') else { return false };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.is_empty() || domain.len() < 3 || domain.starts_with('.') || domain.ends_with('.') {
        return false;
    }
    if !domain.contains('.') && domain != "localhost" {
        // Sisimai accepts bare host names too, but a domain without a dot is
        // almost always a truncated or mangled value.
        return false;
    }
    let quoted = local.starts_with('"') && local.ends_with('"') && local.len() > 1;
    s.bytes().all(|b| {
        b > 32
            && b != 127
            && b != b'<'
            && b != b'>'
            && b != b'('
            && b != b')'
            && b != b','
            && b != b';'
    }) || quoted
}

/// Extracts one address from a header-like value: `"Name" <a@b>`, `<a@b>`,
/// `a@b (comment)`, `rfc822; a@b`. Returns an empty string when nothing
/// address-like is found. Mirrors Sisimai's `address.S3S4`.
pub fn s3s4(input: &str) -> String {
    let mut v = input.trim();
    if let Some(p) = v.find(';') {
        // "rfc822; addr" style values from DSN fields.
        let (head, tail) = v.split_at(p);
        if !head.contains('@') {
            v = tail[1..].trim();
        }
    }
    // Prefer the content of angle brackets holding an '@'.
    let mut best: Option<&str> = None;
    let mut rest = v;
    while let Some(a) = rest.find('<') {
        let after = &rest[a + 1..];
        let Some(b) = after.find('>') else { break };
        let inner = after[..b].trim();
        if inner.contains('@') {
            best = Some(inner);
            break;
        }
        rest = &after[b + 1..];
    }
    let quoted = || {
        // "quoted local part"@domain without brackets.
        let p = v.find("\"@")?;
        let start = v[..p].rfind('"')?;
        let rest = &v[p + 2..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '>' | ')'))
            .unwrap_or(rest.len());
        Some(&v[start..p + 2 + end])
    };
    let cand = match best.or_else(quoted) {
        Some(c) => c,
        None => {
            // No brackets: take the first token with an '@'.
            v.split(|c: char| {
                c.is_whitespace()
                    || c == ','
                    || c == '('
                    || c == ')'
                    || c == '<'
                    || c == '>'
                    || c == '"'
                    || c == '\''
                    || c == '['
                    || c == ']'
            })
            .find(|t| t.contains('@'))
            .unwrap_or("")
        }
    };
    if cand.starts_with('"') && cand.contains("\"@") {
        // A quoted local part keeps its quotes.
        return cand
            .trim_end_matches(['>', '.', ',', ';'])
            .to_ascii_lowercase();
    }
    let cand = cand
        .trim_matches(|c: char| {
            c == '<'
                || c == '>'
                || c == '"'
                || c == '\''
                || c == '.'
                || c == ':'
                || c == ','
                || c == ';'
                || c == '`'
        })
        .trim_start_matches("mailto:");
    let cand = cand.strip_prefix("SMTP:").unwrap_or(cand);
    // Sisimai reports addresses lower-cased as a whole.
    if cand.contains('@') {
        cand.to_ascii_lowercase()
    } else {
        String::new()
    }
}

trait LowerDomain {
    fn to_ascii_lowercase_domain(&self) -> String;
}

impl LowerDomain for str {
    /// Keeps the local part as written and lower-cases the domain, matching how
    /// Sisimai reports recipients.
    fn to_ascii_lowercase_domain(&self) -> String {
        match self.rfind('@') {
            Some(at) => {
                let mut s = String::with_capacity(self.len());
                s.push_str(&self[..at]);
                s.push('@');
                s.push_str(&self[at + 1..].to_ascii_lowercase());
                s
            }
            None => self.to_string(),
        }
    }
}

/// Finds every address-looking token in free text, in order of appearance.
pub fn find_all(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'@', &bytes[i..]) {
        let at = i + off;
        let is_part = |b: u8| b.is_ascii_alphanumeric() || b"._%+-=!#$&'*/?^`{|}~".contains(&b);
        let mut s = at;
        while s > 0 && is_part(bytes[s - 1]) {
            s -= 1;
        }
        let mut e = at + 1;
        while e < bytes.len()
            && (bytes[e].is_ascii_alphanumeric() || bytes[e] == b'.' || bytes[e] == b'-')
        {
            e += 1;
        }
        let cand = text[s..e].trim_matches('.');
        if is_email(cand) {
            let c = cand.to_ascii_lowercase_domain();
            if !out.contains(&c) {
                out.push(c);
            }
        }
        i = at + 1;
    }
    out
}

/// The domain part (lower-cased) of an address.
pub fn domain(addr: &str) -> &str {
    addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}
