//! Small string helpers shared by every format module.
//!
//! They mirror the vocabulary used in Sisimai's `moji` package (contains-any,
//! aligned, select, sweep) so rules can be written the way its authors describe
//! MTA formats: "the line contains A, then later B, then later C".

/// True when `s` contains any of `needles`.
pub fn contains_any(s: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| s.contains(n))
}

/// True when `s` starts with any of `prefixes`.
pub fn starts_any(s: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| s.starts_with(p))
}

/// True when every piece of `parts` occurs in `s`, each after the previous one.
pub fn aligned(s: &str, parts: &[&str]) -> bool {
    let mut pos = 0;
    for p in parts {
        match s.get(pos..).and_then(|rest| rest.find(p)) {
            Some(i) => pos += i + p.len(),
            None => return false,
        }
    }
    true
}

/// True when any of the piece lists matches with [`aligned`].
pub fn aligned_any(s: &str, sets: &[&[&str]]) -> bool {
    sets.iter().any(|parts| aligned(s, parts))
}

/// The text between `from` and the next `to` (or the end when `to` is empty).
pub fn select<'a>(s: &'a str, from: &str, to: &str) -> Option<&'a str> {
    let start = s.find(from)? + from.len();
    let rest = &s[start..];
    if to.is_empty() {
        return Some(rest);
    }
    let end = rest.find(to)?;
    Some(&rest[..end])
}

/// Collapses every run of white space to one space and trims both ends; a
/// trailing MIME boundary fragment ("--=_abc") left by line joining is dropped
/// because it is never part of an error message.
pub fn sweep(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    if let Some(p) = out.find(" --")
        && !out[p + 3..].contains(' ')
        && out.len() > p + 3
    {
        out.truncate(p);
    }
    out
}

/// Lower-cases ASCII only, leaving other characters intact (cheap and enough
/// for matching English phrases).
pub fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Case-insensitive ASCII prefix test.
pub fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Finds `needle` in `s` starting at byte offset `from`.
pub fn find_from(s: &str, needle: &str, from: usize) -> Option<usize> {
    s.get(from..)?.find(needle).map(|i| i + from)
}

/// True when the string is made of ASCII digits only (and is not empty).
pub fn only_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Truncates a string to at most `max` bytes on a char boundary.
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Strips HTML tags and decodes the few entities that matter for error text.
pub fn html_to_plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    let lower_s = s.to_ascii_lowercase();
    let mut skip_until: Option<usize> = None;
    for (i, c) in s.char_indices() {
        if let Some(end) = skip_until {
            if i < end {
                continue;
            }
            skip_until = None;
        }
        if c == '<' {
            // Drop <style> and <script> blocks entirely.
            for tag in ["<style", "<script"] {
                if lower_s[i..].starts_with(tag) {
                    let close = if tag == "<style" {
                        "</style>"
                    } else {
                        "</script>"
                    };
                    if let Some(e) = lower_s[i..].find(close) {
                        skip_until = Some(i + e + close.len());
                    }
                }
            }
            if skip_until.is_some() {
                continue;
            }
            let rest = &lower_s[i..];
            if rest.starts_with("<br")
                || rest.starts_with("<p")
                || rest.starts_with("</p")
                || rest.starts_with("<div")
                || rest.starts_with("</div")
                || rest.starts_with("<tr")
                || rest.starts_with("</tr")
                || rest.starts_with("</h")
            {
                out.push('\n');
            }
            in_tag = true;
            continue;
        }
        if c == '>' && in_tag {
            in_tag = false;
            continue;
        }
        if !in_tag {
            out.push(c);
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
