//! SMTP reply codes (RFC 5321), enhanced status codes (RFC 3463) and command
//! names: finding them in error text and mapping status codes to reasons.
//!
//! The selection rules follow Sisimai's `smtp/status` and `smtp/reply`
//! packages (BSD-2-Clause, azumakuniyuki and the sisimai development team).

/// True when `s` is a syntactically valid enhanced status code ("5.1.1").
pub fn status_test(s: &str) -> bool {
    let mut it = s.split('.');
    let (Some(a), Some(b), Some(c), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return false;
    };
    matches!(a, "2" | "4" | "5")
        && b.len() == 1
        && b.as_bytes()[0].is_ascii_digit()
        && b.as_bytes()[0] <= b'7'
        && !c.is_empty()
        && c.len() <= 3
        && c.bytes().all(|x| x.is_ascii_digit())
}

/// True for the pseudo codes Sisimai invents ("5.0.911") when a message has none.
pub fn is_pseudo_status(s: &str) -> bool {
    s.len() == 7 && s.get(1..4) == Some(".0.9")
}

/// Finds an enhanced status code in free text. `class` ("2", "4", "5" or a reply
/// code) restricts the class searched; otherwise 5, 4 and 2 are all tried and
/// the best one is chosen with [`status_prefer`].
pub fn status_find(text: &str, class: &str) -> String {
    if text.len() < 7 {
        return String::new();
    }
    // Mask IPv4 addresses so "192.0.2.1" is never read as a status code.
    let masked = mask_ipv4(text);
    let s = format!(" {}   ", masked);
    let b = s.as_bytes();
    let classes: &[u8] = match class.as_bytes().first() {
        Some(b'2') => b"2",
        Some(b'4') => b"4",
        Some(b'5') => b"5",
        _ => b"542",
    };
    let mut found: Vec<(usize, String)> = Vec::new();
    let mut another = String::new();
    for i in 1..b.len().saturating_sub(4) {
        let c = b[i];
        if !classes.contains(&c) || b[i + 1] != b'.' {
            continue;
        }
        let prev = b[i - 1];
        if (46..58).contains(&prev) || prev == b'V' || prev == b'v' {
            continue;
        }
        let subj = b[i + 2];
        if !(b'0'..=b'7').contains(&subj) || b[i + 3] != b'.' {
            continue;
        }
        let d1 = b.get(i + 4).copied().unwrap_or(0);
        if !d1.is_ascii_digit() {
            continue;
        }
        let mut code = String::with_capacity(7);
        code.push(c as char);
        code.push('.');
        code.push(subj as char);
        code.push('.');
        code.push(d1 as char);
        if code[1..].starts_with(".0.0") || code == "4.4.7" {
            // Too vague to win on its own; kept as a fallback.
            another = code;
            continue;
        }
        let d2 = b.get(i + 5).copied().unwrap_or(0);
        if !d2.is_ascii_digit() {
            found.push((i, code));
            continue;
        }
        code.push(d2 as char);
        let d3 = b.get(i + 6).copied().unwrap_or(0);
        if !d3.is_ascii_digit() {
            found.push((i, code));
            continue;
        }
        code.push(d3 as char);
        let d4 = b.get(i + 7).copied().unwrap_or(0);
        if d4.is_ascii_digit() {
            continue;
        }
        found.push((i, code));
    }
    let mut codes: Vec<String> = found.into_iter().map(|(_, c)| c).collect();
    if !another.is_empty() {
        codes.push(another);
    }
    let mut it = codes.into_iter();
    let Some(mut cv) = it.next() else {
        return String::new();
    };
    for e in it {
        cv = status_prefer(&cv, &e, "");
    }
    cv
}

fn mask_ipv4(s: &str) -> String {
    // Replace dotted quads with '*' runs of the same shape so offsets stay sane.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_digit() && b[i - 1] != b'.') {
            // Try to read n.n.n.n
            let mut j = i;
            let mut groups = 0;
            loop {
                let st = j;
                while j < b.len() && b[j].is_ascii_digit() && j - st < 3 {
                    j += 1;
                }
                if j == st {
                    break;
                }
                groups += 1;
                if groups == 4 || j >= b.len() || b[j] != b'.' {
                    break;
                }
                j += 1;
            }
            if groups == 4 && (j >= b.len() || !b[j].is_ascii_digit()) {
                out.extend_from_slice(b"***.***.***.***");
                i = j;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// Chooses between the `Status:` value (`a`), a code found in the error text
/// (`b`) and the reply code (`reply`).
pub fn status_prefer(a: &str, b: &str, reply: &str) -> String {
    if a.is_empty() {
        return b.to_string();
    }
    if b.is_empty() {
        return a.to_string();
    }
    if a.len() < 5 {
        return b.to_string();
    }
    if b.len() < 5 {
        return a.to_string();
    }
    let r0 = reply.as_bytes().first().copied().unwrap_or(b'0');
    let (a0, b0) = (a.as_bytes()[0], b.as_bytes()[0]);
    if r0 != b'0' && a0 != b0 {
        if r0 == a0 {
            return a.to_string();
        }
        if r0 == b0 {
            return b.to_string();
        }
    }
    if a == b {
        return a.to_string();
    }
    let z1 = (a.find(".0"), b.find(".0"));
    let z2 = (a.find(".0.0"), b.find(".0.0"));
    if z2.0.is_some_and(|p| p > 0) {
        return if z2.1.is_none() {
            b.to_string()
        } else {
            a.to_string()
        };
    }
    if z1.0.is_some_and(|p| p > 0) && z1.1.is_none() {
        return b.to_string();
    }
    if z2.1.is_some_and(|p| p > 0) {
        return a.to_string();
    }
    if a == "4.4.7" || a == "4.7.0" || a.starts_with("5.3.") {
        return b.to_string();
    }
    if [".5.1", ".5.2", ".5.4", ".5.5"]
        .iter()
        .any(|x| a.get(1..5) == Some(x))
    {
        return b.to_string();
    }
    if a == "5.1.1" {
        if z1.1.is_some_and(|p| p > 0) || b.starts_with("5.5.") {
            return a.to_string();
        }
        return b.to_string();
    }
    if a == "5.1.3" && b.starts_with("5.7.") {
        return b.to_string();
    }
    a.to_string()
}

/// The reason an enhanced status code stands for, per RFC 3463 and Sisimai's table.
pub fn status_name(code: &str) -> &'static str {
    if code.len() < 5 || !status_test(code) {
        return "";
    }
    match code {
        "2.1.5" => "delivered",
        "4.1.6" => "hasmoved",
        "4.1.7" | "4.1.8" => "rejected",
        "4.1.9" => "systemerror",
        "4.2.1" => "blocked",
        "4.2.2" => "mailboxfull",
        "4.2.3" => "exceedlimit",
        "4.2.4" => "filtered",
        "4.3.1" => "systemfull",
        "4.3.2" => "notaccept",
        "4.3.3" | "4.3.5" => "systemerror",
        "4.4.1" => "expired",
        "4.4.2" => "networkerror",
        "4.4.3" => "systemerror",
        "4.4.4" => "networkerror",
        "4.4.5" => "systemfull",
        "4.4.6" => "networkerror",
        "4.4.7" => "expired",
        "4.4.8" => "networkerror",
        "4.5.3" | "4.5.5" => "systemerror",
        "4.6.0" | "4.6.2" | "4.6.5" => "contenterror",
        "4.7.1" | "4.7.2" => "blocked",
        "4.7.5" | "4.7.6" | "4.7.7" | "4.7.12" | "4.7.15" => "securityerror",
        "4.7.16" => "mesgtoobig",
        "4.7.24" | "4.7.26" => "authfailure",
        "4.7.25" => "requireptr",
        "5.1.0" | "5.1.1" | "5.1.3" => "userunknown",
        "5.1.2" => "hostunknown",
        "5.1.4" => "filtered",
        "5.1.6" => "hasmoved",
        "5.1.7" | "5.1.8" => "rejected",
        "5.1.9" => "systemerror",
        "5.1.10" => "notaccept",
        "5.2.0" | "5.2.1" => "filtered",
        "5.2.2" => "mailboxfull",
        "5.2.3" => "exceedlimit",
        "5.2.4" => "filtered",
        "5.3.0" => "systemerror",
        "5.3.1" => "systemfull",
        "5.3.2" => "notaccept",
        "5.3.3" => "systemerror",
        "5.3.4" => "mesgtoobig",
        "5.3.5" => "systemerror",
        "5.4.0" => "networkerror",
        "5.4.3" => "systemerror",
        "5.4.4" => "hostunknown",
        "5.5.2" => "syntaxerror",
        "5.5.3" => "toomanyconn",
        "5.5.4" | "5.5.5" => "systemerror",
        "5.5.6" => "syntaxerror",
        "5.6.0" | "5.6.1" | "5.6.2" | "5.6.3" | "5.6.5" | "5.6.6" | "5.6.7" | "5.6.8" | "5.6.9" => {
            "contenterror"
        }
        "5.7.0" | "5.7.1" | "5.7.2" | "5.7.3" | "5.7.4" | "5.7.5" | "5.7.6" | "5.7.7" | "5.7.8"
        | "5.7.9" | "5.7.10" | "5.7.11" | "5.7.14" | "5.7.15" | "5.7.19" => "securityerror",
        "5.7.13" => "suspend",
        "5.7.16" => "mesgtoobig",
        "5.7.17" | "5.7.18" => "hasmoved",
        "5.7.20" | "5.7.21" | "5.7.22" | "5.7.23" | "5.7.24" | "5.7.26" | "5.7.29" => "authfailure",
        "5.7.25" => "requireptr",
        "5.7.27" => "notaccept",
        "5.7.28" => "spamdetected",
        "5.7.30" => "failedstarttls",
        _ => "",
    }
}

/// Sisimai's pseudo status code for a reason when the message carried none.
pub fn status_code(reason: &str, temporary: bool) -> String {
    let n = match reason {
        "authfailure" => "926",
        "badreputation" => "975",
        "blocked" => "971",
        "contenterror" => "960",
        "exceedlimit" => "923",
        "expired" => "947",
        "failedstarttls" => "976",
        "filtered" if temporary => "924",
        "filtered" => "910",
        "hasmoved" if !temporary => "916",
        "hostunknown" if !temporary => "912",
        "mailboxfull" => "922",
        "mailererror" => "939",
        "mesgtoobig" => "934",
        "networkerror" => "944",
        "norelaying" => "909",
        "notaccept" => "932",
        "notcompliantrfc" => "974",
        "onhold" => "901",
        "policyviolation" => "972",
        "rejected" => "918",
        "requireptr" => "973",
        "securityerror" => "970",
        "spamdetected" => "980",
        "speeding" => "946",
        "suppressed" => "903",
        "suspend" => "921",
        "systemerror" => "930",
        "systemfull" => "931",
        "syntaxerror" => "902",
        "toomanyconn" => "945",
        "userunknown" if !temporary => "911",
        "undefined" => "900",
        "virusdetected" => "981",
        _ => return String::new(),
    };
    format!("{}.0.{}", if temporary { '4' } else { '5' }, n)
}

const REPLY2: &[&str] = &[
    "211", "214", "220", "221", "235", "250", "251", "252", "253", "334", "354",
];
const REPLY4: &[&str] = &[
    "421", "450", "451", "452", "422", "430", "432", "453", "454", "455", "458", "459",
];
const REPLY5: &[&str] = &[
    "550", "552", "553", "551", "521", "525", "523", "524", "530", "533", "534", "535", "538",
    "555", "556", "554", "500", "501", "502", "503", "504",
];

/// True when `code` is a plausible SMTP reply code.
pub fn reply_test(code: &str) -> bool {
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let r: u32 = code.parse().unwrap_or(0);
    if !(211..=556).contains(&r) || r % 100 > 59 {
        return false;
    }
    match r / 100 {
        2 => r == 235 || (r <= 253 && !(r > 221 && r < 250)),
        3 => r == 334 || r == 354,
        _ => true,
    }
}

/// Finds an SMTP reply code in free text; `hint` (a status code or class digit)
/// restricts the class searched.
pub fn reply_find(text: &str, hint: &str) -> String {
    if text.len() < 3 || text.to_ascii_uppercase().contains("X-UNIX") {
        return String::new();
    }
    let lists: &[&[&str]] = match hint.as_bytes().first() {
        Some(b'2') => &[REPLY2],
        Some(b'4') => &[REPLY4],
        Some(b'5') => &[REPLY5],
        _ => &[REPLY5, REPLY4, REPLY2],
    };
    // A reply code is a run of exactly three digits with neither a digit,
    // '.', nor '/' on either side. The earliest code in list order wins.
    let b = text.as_bytes();
    let sep = |c: u8| !(46..58).contains(&c);
    let mut best: Option<(usize, &str)> = None;
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i - start != 3 || (start > 0 && !sep(b[start - 1])) || (i < b.len() && !sep(b[i])) {
            continue;
        }
        let code = &text[start..i];
        let rank = lists.iter().flat_map(|l| l.iter()).position(|c| *c == code);
        if let Some(r) = rank
            && best.is_none_or(|(br, _)| r < br)
        {
            best = Some((r, code));
        }
    }
    best.map(|(_, c)| c.to_string()).unwrap_or_default()
}

/// Finds the SMTP command an error message was a reply to.
pub fn command_find(text: &str) -> String {
    const AVAIL: &[&str] = &[
        "HELO", "EHLO", "MAIL", "RCPT", "DATA", "QUIT", "RSET", "NOOP", "VRFY", "ETRN", "EXPN",
        "HELP", "AUTH", "STARTTLS", "XFORWARD", "CONN",
    ];
    const DETECT: &[&str] = &[
        "HELO",
        "EHLO",
        "STARTTLS",
        "AUTH PLAIN",
        "AUTH LOGIN",
        "AUTH CRAM-",
        "AUTH DIGEST-",
        "MAIL F",
        "RCPT",
        "RCPT T",
        "DATA",
        "QUIT",
        "XFORWARD",
    ];
    if text.len() < 4 || !AVAIL.iter().any(|c| text.contains(c)) {
        return String::new();
    }
    let padded = format!(" {} ", text);
    let pb = padded.as_bytes();
    let mut found: Vec<&str> = Vec::new();
    for e in DETECT {
        let Some(p0) = text.find(e) else { continue };
        if !e.contains(' ') {
            // Skip commands embedded in words or host names (DATABASE@, EMAIL.EXAMPLE).
            let ca = pb[p0];
            let cz = pb.get(p0 + e.len() + 1).copied().unwrap_or(b' ');
            if ca.is_ascii_alphanumeric() || ca == b'@' || cz.is_ascii_alphanumeric() || cz == b'@'
            {
                continue;
            }
        }
        let c4 = &e[..4];
        let name = match c4 {
            "STAR" => "STARTTLS",
            "XFOR" => "XFORWARD",
            x => x,
        };
        if found.iter().any(|f| f.starts_with(c4)) {
            continue;
        }
        found.push(name);
    }
    found.last().map(|s| s.to_string()).unwrap_or_default()
}

/// True when the text indicates a permanent (5xx) failure.
pub fn is_permanent(text: &str) -> bool {
    if text.is_empty() {
        return false;
    }
    let mut code = status_find(text, "");
    if code.is_empty() {
        code = reply_find(text, "");
    }
    code.starts_with('5') || text.to_ascii_lowercase().contains(" permanent ")
}

/// True when the text indicates a temporary (4xx) failure.
pub fn is_temporary(text: &str) -> bool {
    if text.is_empty() {
        return false;
    }
    let mut code = status_find(text, "");
    if code.is_empty() {
        code = reply_find(text, "");
    }
    let l = text.to_ascii_lowercase();
    code.starts_with('4') || l.contains(" temporar") || l.contains(" persistent")
}

/// Sisimai's hard-bounce rule: it follows the reason, with `notaccept` hard
/// unless the error text shows a temporary failure.
pub fn is_hard_bounce(reason: &str, text: &str) -> bool {
    match reason {
        "hasmoved" | "userunknown" | "hostunknown" => true,
        "notaccept" => {
            if text.is_empty() {
                return true;
            }
            let mut cv = status_find(text, "");
            if cv.is_empty() {
                cv = reply_find(text, "");
            }
            cv.starts_with('5') || !is_temporary(text)
        }
        _ => false,
    }
}
