//! Rules for specific remote sites whose error texts or codes need site
//! knowledge to classify (Google Workspace DNS errors, Orange/La Poste
//! "LPN007_416"-style codes, Tencent QQ). The site is chosen from the
//! recipient's domain or the remote/local MTA host names, as in Sisimai's
//! `rhost` package.

use super::reason::Facts;
use super::text::{contains_any, select};

const SITES: &[(&str, &[&str])] = &[
    ("Aol", &[".mail.aol.com", ".mx.aol.com"]),
    ("Cox", &["cox.net"]),
    ("Facebook", &[".facebook.com"]),
    ("FrancePTT", &[".laposte.net", ".orange.fr", ".wanadoo.fr"]),
    (
        "GoDaddy",
        &["smtp.secureserver.net", "mailstore1.secureserver.net"],
    ),
    ("GSuite", &["googlemail.com"]),
    ("KDDI", &[".ezweb.ne.jp", "msmx.au.com"]),
    ("MessageLabs", &[".messagelabs.com"]),
    (
        "Microsoft",
        &[
            ".prod.outlook.com",
            ".protection.outlook.com",
            ".onmicrosoft.com",
            ".exchangelabs.com",
        ],
    ),
    ("Mimecast", &[".mimecast.com"]),
    ("NTTDOCOMO", &["mfsmax.docomo.ne.jp"]),
    ("Outlook", &[".hotmail.com"]),
    ("Spectrum", &["charter.net"]),
    ("Tencent", &[".qq.com"]),
    ("YahooInc", &[".yahoodns.net"]),
];

fn site(domain: &str, rhost: &str, lhost: &str) -> Option<&'static str> {
    let domain = domain.to_ascii_lowercase();
    if !domain.is_empty() {
        for (name, pats) in SITES {
            // A recipient domain matches when a site's host name ends with it.
            if pats.iter().any(|p| {
                p.ends_with(domain.as_str())
                    && (p.len() == domain.len() || p.as_bytes()[p.len() - domain.len() - 1] == b'.')
            }) {
                return Some(name);
            }
        }
    }
    for host in [rhost, lhost] {
        let h = host.to_ascii_lowercase();
        if h.is_empty() {
            continue;
        }
        for (name, pats) in SITES {
            if pats.iter().any(|p| h.ends_with(p)) {
                return Some(name);
            }
        }
    }
    None
}

/// Reason from a remote-site rule set, or "".
pub fn find(f: &Facts, domain: &str, rhost: &str, lhost: &str) -> String {
    if f.diagnosis.is_empty() {
        return String::new();
    }
    let r = match site(domain, rhost, lhost) {
        Some("Aol") => first_match(AOL, &f.diagnosis),
        Some("Cox") => cox(f),
        Some("Facebook") => facebook(f),
        Some("FrancePTT") => france_ptt(f),
        Some("GoDaddy") => godaddy(f),
        Some("GSuite") => gsuite(f),
        Some("KDDI") => first_match(KDDI, &f.diagnosis.to_ascii_lowercase()),
        Some("MessageLabs") => first_match(MESSAGELABS, &f.diagnosis),
        Some("Microsoft") => microsoft(f),
        Some("Mimecast") => mimecast(f),
        Some("NTTDOCOMO") => nttdocomo(f),
        Some("Outlook") => first_match(OUTLOOK, &f.diagnosis),
        Some("Spectrum") => spectrum(f),
        Some("Tencent") => tencent(f),
        Some("YahooInc") => first_match(YAHOOINC, &f.diagnosis.to_ascii_lowercase()),
        _ => "",
    };
    r.to_string()
}

fn gsuite(f: &Facts) -> &'static str {
    let s = f.status.chars().next();
    let r = f.reply.chars().next();
    let d = &f.diagnosis;
    if d.contains("because the address couldn't be found. Check for typos or unnecessary spaces and try again.") {
        return "userunknown";
    }
    if d.contains("Null MX") {
        return "notaccept";
    }
    if contains_any(
        d,
        &[" responded with code NXDOMAIN", "Domain name not found"],
    ) && s == Some('5')
        && r == Some('5')
    {
        return "hostunknown";
    }
    if contains_any(
        d,
        &[
            " had no relevant answers.",
            "responded with code NXDOMAIN",
            "Domain name not found",
        ],
    ) && s != Some('5')
        && r != Some('5')
    {
        return "networkerror";
    }
    ""
}

fn france_ptt(f: &Facts) -> &'static str {
    // Orange and La Poste append a code such as "LPN007_416" or "OFR_999".
    let l = f.diagnosis.to_ascii_lowercase().replace('_', "-");
    for label in ["lpnaaa", "lpn", "ofr", "ouk"] {
        let Some(p) = l.rfind(label) else { continue };
        let word = l[p..].split(' ').next().unwrap_or("");
        let code: String = word
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let r = match code.get(code.len().saturating_sub(3)..).unwrap_or("") {
            "101" | "102" | "103" | "510" | "999" => "blocked",
            "104" => "toomanyconn",
            "305" | "402" => "securityerror",
            "401" | "517" => "authfailure",
            "403" | "405" | "415" | "421" => "rejected",
            "416" => "userunknown",
            "417" => "mailboxfull",
            "420" | "426" => "suspend",
            "505" => "systemerror",
            "506" => "spamdetected",
            "514" => "mesgtoobig",
            "630" => "policyviolation",
            _ => "",
        };
        if !r.is_empty() {
            return r;
        }
        break;
    }
    if l.contains("spf/dns de votre nom de domaine") {
        return "authfailure";
    }
    ""
}

fn tencent(f: &Facts) -> &'static str {
    let l = f.diagnosis.to_ascii_lowercase();
    let table: &[(&str, &[&str])] = &[
        ("authfailure", &["spf check failed", "dmarc check failed"]),
        (
            "blocked",
            &[
                "suspected bounce attacks",
                "suspected spam ip",
                "connection denied",
            ],
        ),
        ("mesgtoobig", &["message too large"]),
        (
            "rejected",
            &["suspected spam", "mail is rejected by recipients"],
        ),
        (
            "spamdetected",
            &["spam is embedded in the email", "mail content denied"],
        ),
        ("suspend", &["is a deactivated mailbox"]),
        (
            "toomanyconn",
            &[
                "ip frequency limited",
                "domain frequency limited",
                "sender frequency limited",
                "connection frequency limited",
            ],
        ),
        ("userunknown", &["mailbox not found"]),
    ];
    table
        .iter()
        .find(|(_, p)| contains_any(&l, p))
        .map(|(r, _)| *r)
        .unwrap_or("")
}

type Table = &'static [(&'static str, &'static [&'static str])];

/// The first reason whose phrases occur in `text`.
fn first_match(table: Table, text: &str) -> &'static str {
    table
        .iter()
        .find(|(_, p)| contains_any(text, p))
        .map(|(r, _)| *r)
        .unwrap_or("")
}

// Aol Mail.
const AOL: Table = &[
    ("hostunknown", &["Host or domain name not found"]),
    (
        "notaccept",
        &["type=MX: Malformed or unexpected name server reply"],
    ),
];

// au by KDDI (ezweb.ne.jp, au.com): "550 : User unknown" is the answer of
// the content filter, "550 <addr>: User unknown" a missing mailbox.
const KDDI: Table = &[
    ("filtered", &["550 : user unknown"]),
    ("userunknown", &[">: user unknown"]),
];

// Outlook.com / Hotmail.
const OUTLOOK: Table = &[
    (
        "hostunknown",
        &["The mail could not be delivered to the recipient because the domain is not reachable"],
    ),
    (
        "userunknown",
        &["Requested action not taken: mailbox unavailable"],
    ),
];

// Yahoo Inc. (https://senders.yahooinc.com/smtp-error-codes), lower case.
const YAHOOINC: Table = &[
    (
        "authfailure",
        &["yahoo requires all senders to authenticate with either spf or dkim"],
    ),
    (
        "blocked",
        &[
            " because the ip is in spamhaus's list;",
            "not accepted from ip addresses on spamhaus xbl",
        ],
    ),
    ("norelaying", &["relaying denied for "]),
    ("notcompliantrfc", &["headers are not rfc compliant"]),
    ("policyviolation", &["not accepted for policy reasons"]),
    (
        "rejected",
        &[
            "temporarily deferred due to unexpected volume or user complaints",
            "due to unresolvable rfc.5321 domain",
            " will be permanently deferred",
        ],
    ),
    ("speeding", &["user is receiving mail too quickly"]),
    (
        "suspend",
        &[" is no longer valid.", "this mailbox is disabled"],
    ),
    ("syntaxerror", &["syntax error in parameters or arguments"]),
    ("toomanyconn", &["max message per connection reached"]),
    (
        "userunknown",
        &["dd this user doesn't have a ", "mailbox not found"],
    ),
];

// Symantec/Broadcom Email Security.cloud (MessageLabs).
const MESSAGELABS: Table = &[
    ("authfailure", &["domain authentication fail"]),
    ("badreputation", &["Connection rejected by policy"]),
    (
        "blocked",
        &[
            "mail rejected because your IP is in the PBL",
            "your IP address has been ",
            "your IP address (ip-addr) has been blocked",
            "your email address (addr) has been blocked",
        ],
    ),
    ("contenterror", &["Stray linefeeds in message"]),
    ("failedstarttls", &["TLS/SSLv3 Connection required"]),
    ("norelaying", &[" as a relay, "]),
    (
        "notcompliantrfc",
        &[
            "550 Requested action aborted [4]",
            "has detected that this message is not RFC 5322",
        ],
    ),
    (
        "rejected",
        &[
            "sender envelope domain not allowed for sender IP address",
            "your domain has been blocked",
            "your email address has been blocked",
            "your envelope sender is in my badmailfrom list",
            "your email address has been blacklisted",
            "your domain has been blacklisted",
        ],
    ),
    (
        "securityerror",
        &["Please turn on SMTP Authentication in your mail client"],
    ),
    (
        "spamdetected",
        &["Message Filtered", "filtered by Outbound scanning"],
    ),
    (
        "toomanyconn",
        &[
            "Too many recipients received this hour",
            "too many messages",
        ],
    ),
    (
        "userunknown",
        &[
            "No such user",
            "Invalid recipient",
            "mailbox is not allowed",
            "Recipient mailbox is not allowed",
        ],
    ),
];

// Cox (https://www.cox.com/residential/support/email-error-codes.html):
// "AUP#CODE" first, then phrases.
fn cox(f: &Facts) -> &'static str {
    let d = format!("{} ", f.diagnosis);
    let code = select(&d, "AUP#", " ").unwrap_or("");
    let by_code = match code {
        "CXBL" | "CDRBL" => "blocked",
        "CXDNS" => "requireptr",
        "CXSNDR" => "authfailure",
        "CXSMTP" => "rejected",
        "CXCNCT" | "CXMXRT" => "toomanyconn",
        "CXTHRT" | "CXMJ" => "securityerror",
        "URLBL011" | "URLBL101" | "URLBL110" | "URLBL1001" => "spamdetected",
        c if c.starts_with("IPBL") => "blocked",
        _ => "",
    };
    if !by_code.is_empty() {
        return by_code;
    }
    const COX: Table = &[
        (
            "blocked",
            &[
                "cox too many bad commands from",
                "too many invalid recipients",
            ],
        ),
        (
            "requireptr",
            &["dns check failure - try again later", "rejected - no rdns"],
        ),
        (
            "policyviolation",
            &[
                "esmtp no data before greeting",
                "attachment extension is forbidden",
            ],
        ),
        ("rejected", &["sender rejected"]),
        ("systemerror", &["esmtp server temporarily not available"]),
        (
            "toomanyconn",
            &[
                "too many sessions from",
                "requested action aborted: try again later",
                "message threshold exceeded",
            ],
        ),
        ("userunknown", &["recipient rejected"]),
    ];
    first_match(COX, &d.to_ascii_lowercase())
}

// Facebook (postmaster response codes such as "RCP-P2").
fn facebook(f: &Facts) -> &'static str {
    let d = &f.diagnosis;
    let Some(p) = d.find('-') else { return "" };
    let Some(label) = d.get(p.saturating_sub(3)..p + 3) else {
        return "";
    };
    match label {
        "POL-P7" => "authfailure",
        "POL-P1" | "POL-P2" | "POL-P3" | "POL-P4" | "POL-T1" | "POL-T2" | "POL-T3" => "blocked",
        "MSG-P2" => "contenterror",
        "RCP-P2" | "RCP-P3" => "filtered",
        "MSG-P1" | "INT-P2" => "mesgtoobig",
        "MSG-P3" => "notcompliantrfc",
        "DNS-P1" | "DNS-P2" | "DNS-T1" => "rejected",
        "DNS-P3" | "DNS-T2" => "requireptr",
        "POL-P6" => "spamdetected",
        "RCP-T4" => "suspend",
        "RCP-T1" => "systemerror",
        "CON-T1" | "CON-T2" | "CON-T3" | "CON-T4" | "MSG-T1" => "toomanyconn",
        "RCP-P1" | "INT-P1" | "INT-P3" | "INT-P4" => "userunknown",
        "POL-P5" => "virusdetected",
        _ => "",
    }
}

// GoDaddy (secureserver.net): "IBnnn" codes first, then phrases.
fn godaddy(f: &Facts) -> &'static str {
    let code = select(&f.diagnosis, " IB", " ")
        .or_else(|| select(&f.diagnosis, " IB", ""))
        .unwrap_or("");
    let by_code = match code {
        "401" => "securityerror",
        "501" | "502" => "notcompliantrfc",
        "506" => "rejected",
        "508" => "authfailure",
        "108" => "requireptr",
        "212" => "spamdetected",
        "705" => "virusdetected",
        "605" | "007" => "toomanyconn",
        "101" | "504" | "510" | "607" => "speeding",
        "110" | "111" | "112" | "113" | "104" | "105" | "106" => "blocked",
        "103" => "badreputation",
        _ => "",
    };
    if !by_code.is_empty() {
        return by_code;
    }
    const GODADDY: Table = &[
        ("blocked", &["rbl reject", "www.spamhaus.org/query/bl?ip="]),
        (
            "expired",
            &["has been in the queue too long", "delivery timeout"],
        ),
        ("mailboxfull", &["account storage limit"]),
        (
            "spamdetected",
            &["message rejected for spam or virus content"],
        ),
        ("suspend", &["account disabled"]),
        ("systemerror", &["message is looping"]),
        (
            "userunknown",
            &["recipient not found", "account does not exist"],
        ),
    ];
    first_match(GODADDY, &f.diagnosis.to_ascii_lowercase())
}

// Mimecast: the reply code and the phrase together.
fn mimecast(f: &Facts) -> &'static str {
    const MIMECAST: &[(&str, &str, &str)] = &[
        (
            "authfailure",
            "550",
            "spf sender invalid - envelope rejected",
        ),
        (
            "authfailure",
            "550",
            "dkim sender invalid - envelope rejected",
        ),
        (
            "authfailure",
            "550",
            "dmarc sender invalid - envelope rejected",
        ),
        (
            "badreputation",
            "451",
            "internal resources are temporarily unavailable",
        ),
        ("badreputation", "550", "local ct ip reputation - (reject)"),
        ("blocked", "421", "sender address blocked"),
        ("blocked", "451", "recipient temporarily unavailable"),
        ("blocked", "451", "ip temporarily blacklisted"),
        ("expired", "550", "journal messages past the expiration"),
        (
            "failedstarttls",
            "553",
            "this route requires encryption (tls)",
        ),
        (
            "failedstarttls",
            "553",
            "this route requires tls version 1.2 or greater",
        ),
        (
            "failedstarttls",
            "553",
            "this route requires high-strength ciphers",
        ),
        (
            "failedstarttls",
            "554",
            "configuration is invalid for this certificate",
        ),
        ("mesgtoobig", "554", "maximum email size exceeded"),
        (
            "networkerror",
            "451",
            "the incorrect hostname used for inbounds",
        ),
        (
            "networkerror",
            "550",
            "the incorrect hostname used for inbounds",
        ),
        ("networkerror", "554", "mail loop detected"),
        ("norelaying", "451", "open relay not allowed"),
        ("norelaying", "451", "open relay is not allowed"),
        ("notaccept", "451", "account inbounds disabled"),
        ("onhold", "451", "account outbounds disabled"),
        ("onhold", "451", "hostname is not authorized"),
        ("onhold", "550", "journal message past expiration"),
        (
            "policyviolation",
            "550",
            "anti-spoofing policy - inbound not allowed",
        ),
        (
            "policyviolation",
            "550",
            "rejected by header-based anti-spoofing policy",
        ),
        (
            "policyviolation",
            "550",
            "message bounced due to content examination policy",
        ),
        ("policyviolation", "554", "host network not allowed"),
        ("policyviolation", "554", "host network, not allowed"),
        (
            "rejected",
            "550",
            "administrative prohibition envelope blocked",
        ),
        ("rejected", "550", "envelope blocked - user entry"),
        ("rejected", "550", "envelope blocked - user domain entry"),
        (
            "rejected",
            "550",
            "rejected by header-based manually blocked senders - block for manual block",
        ),
        (
            "rejected",
            "550",
            "rejected by header-based blocked senders - block policy for header from",
        ),
        (
            "rejected",
            "550",
            "envelope rejected - block policy for envelope from address",
        ),
        ("securityerror", "535", "incorrect authentication data"),
        ("securityerror", "550", "submitter failed to disabled"),
        ("securityerror", "550", "submitter failed to authenticate"),
        (
            "systemerror",
            "451",
            "unable to process connection at this time",
        ),
        ("systemerror", "451", "message ended early"),
        ("systemerror", "451", "unable to process command"),
        (
            "systemerror",
            "451",
            "unable to process an email at this time",
        ),
        (
            "toomanyconn",
            "451",
            "account service is temporarily unavailable",
        ),
        ("toomanyconn", "452", "too many recipients"),
        ("toomanyconn", "550", "exceeding outbound thread limit"),
        ("userunknown", "501", "invalid address"),
        ("userunknown", "503", "user unknown"),
        ("userunknown", "550", "invalid recipient"),
        (
            "virusdetected",
            "554",
            "email rejected due to security policies",
        ),
    ];
    if f.reply.len() != 3 {
        return "";
    }
    let l = f.diagnosis.to_ascii_lowercase();
    MIMECAST
        .iter()
        .find(|(_, code, text)| *code == f.reply && l.contains(text))
        .map(|(r, _, _)| *r)
        .unwrap_or("")
}

// NTT DOCOMO (mfsmax.docomo.ne.jp). Since March 2025 "550 Unknown user"
// means the mailbox does not exist (no more SMTP-level filter rejections).
fn nttdocomo(f: &Facts) -> &'static str {
    match f.status.as_str() {
        "5.1.1" | "5.0.911" => return "userunknown",
        "5.2.0" => return "filtered",
        _ => {}
    }
    const DOCOMO: Table = &[
        ("mailboxfull", &["552 too much mail data"]),
        (
            "syntaxerror",
            &[
                "503 bad sequence of commands",
                "504 command parameter not implemented",
            ],
        ),
        ("toomanyconn", &["552 too many recipients"]),
        ("userunknown", &["550 unknown user"]),
    ];
    let r = first_match(DOCOMO, &f.diagnosis.to_ascii_lowercase());
    if !r.is_empty() {
        return r;
    }
    if f.status == "5.0.0" {
        return match f.command.as_str() {
            "RCPT" => "userunknown",
            "DATA" => "rejected",
            _ => "",
        };
    }
    ""
}

// Spectrum / Charter: "AUP#I1234" or "AUP#O1234" codes.
fn spectrum(f: &Facts) -> &'static str {
    let Some(label) = select(&f.diagnosis, "AUP#", "") else {
        return "";
    };
    let mut digits = String::new();
    for c in label.chars() {
        if digits.len() == 4 {
            break;
        }
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            digits.clear();
        }
    }
    let Ok(n) = digits.parse::<u32>() else {
        return "";
    };
    if digits.len() != 4 {
        return "";
    }
    match n {
        1000 => "blocked",
        1010 => "rejected",
        1020..=1080 => "rejected",
        1090 => "systemerror",
        1100..=1150 => "requireptr",
        1160..=1190 => "policyviolation",
        1200..=1250 => "blocked",
        1260 => "networkerror",
        1300..=1340 => "toomanyconn",
        1350..=1490 => "speeding",
        1500 | 1520 => "rejected",
        1530 => "mesgtoobig",
        1540 | 1550 | 1580 => "speeding",
        1560 => "policyviolation",
        _ => "",
    }
}

/// One Microsoft rule: reason, status code (or "class.subject." prefix when
/// a range is given), the range of the third number, and the phrase.
type MsRule = (&'static str, &'static str, u32, u32, &'static str);

// Exchange Server / Exchange Online NDR codes
// (https://learn.microsoft.com/exchange/mail-flow/non-delivery-reports-in-exchange-server).
const MICROSOFT: &[MsRule] = &[
    (
        "authfailure",
        "4.7.26",
        0,
        0,
        "must pass either spf or dkim validation, this message is not signed",
    ),
    (
        "authfailure",
        "5.7.23",
        0,
        0,
        "the message was rejected because of sender policy framework violation",
    ),
    (
        "authfailure",
        "5.7.509",
        0,
        0,
        "does not pass dmarc verification",
    ),
    (
        "authfailure",
        "5.7.515",
        0,
        0,
        "doesn't meet the required authentication level",
    ),
    (
        "badreputation",
        "4.7.650",
        0,
        0,
        "has been temporarily rate limited due to ip reputation",
    ),
    ("blocked", "4.4.2", 0, 0, "connection dropped"),
    (
        "blocked",
        "4.7.",
        850,
        899,
        "access denied, please try again later",
    ),
    ("blocked", "5.7.25", 0, 0, "must have a reverse dns record"),
    ("blocked", "5.7.506", 0, 0, "access denied, bad helo"),
    (
        "blocked",
        "5.7.507",
        0,
        0,
        "access denied, rejected by recipient",
    ),
    (
        "blocked",
        "5.7.510",
        0,
        0,
        "does not accept email over ipv6",
    ),
    ("blocked", "5.7.511", 0, 0, "access denied, banned sender"),
    ("blocked", "5.7.513", 0, 0, "using customer block list"),
    (
        "blocked",
        "5.7.",
        606,
        649,
        "access denied, banned sending ip ",
    ),
    (
        "blocked",
        "4.7.",
        500,
        699,
        "access denied, please try again later",
    ),
    ("blocked", "5.5.4", 0, 0, "invalid domain name"),
    (
        "blocked",
        "5.7.1",
        0,
        0,
        "part of their network is on our block list (s3150)",
    ),
    ("contenterror", "5.3.0", 0, 0, "too many related errors"),
    ("contenterror", "5.6.11", 0, 0, "invalid characters"),
    (
        "contenterror",
        "5.4.11",
        0,
        0,
        "agent generated message depth exceeded",
    ),
    ("contenterror", "5.5.6", 0, 0, "invalid message content"),
    (
        "mesgtoobig",
        "5.2.3",
        0,
        0,
        "resolver.rst.recipsizelimit; message too large for this recipient",
    ),
    (
        "mesgtoobig",
        "5.3.4",
        0,
        0,
        "message size exceeds fixed maximum message size",
    ),
    ("mesgtoobig", "5.3.4", 0, 0, "message too big for system"),
    ("expired", "4.4.1", 0, 0, "connection timed out"),
    ("expired", "4.4.7", 0, 0, "message delayed"),
    ("expired", "4.4.7", 0, 0, "queue expired; message expired"),
    ("expired", "4.4.7", 0, 0, "message expired"),
    ("expired", "5.4.300", 0, 0, "message expired"),
    ("expired", "5.4.316", 0, 0, "message expired"),
    (
        "failedstarttls",
        "4.4.8",
        0,
        0,
        " failed mta-sts validation",
    ),
    (
        "failedstarttls",
        "5.4.8",
        0,
        0,
        " failed mta-sts validation",
    ),
    (
        "failedstarttls",
        "4.4.317",
        0,
        0,
        "starttls is required to send mail",
    ),
    (
        "failedstarttls",
        "5.4.317",
        0,
        0,
        "starttls is required to send mail",
    ),
    (
        "failedstarttls",
        "4.7.5",
        0,
        0,
        "remote certificate failed mta-sts validation",
    ),
    (
        "failedstarttls",
        "5.7.5",
        0,
        0,
        "remote certificate failed mta-sts validation",
    ),
    (
        "failedstarttls",
        "5.7.51",
        0,
        0,
        "restrictdomainstoipaddresses or restrictdomainstocertificate",
    ),
    ("failedstarttls", "4.7.321", 0, 0, "starttls-not-supported:"),
    ("failedstarttls", "5.7.321", 0, 0, "starttls-not-supported:"),
    ("failedstarttls", "5.7.322", 0, 0, "certificate-expired:"),
    ("failedstarttls", "4.7.323", 0, 0, "tlsa-invalid:"),
    ("failedstarttls", "5.7.323", 0, 0, "tlsa-invalid:"),
    ("failedstarttls", "4.7.324", 0, 0, "dnssec-invalid:"),
    ("failedstarttls", "5.7.324", 0, 0, "dnssec-invalid:"),
    (
        "failedstarttls",
        "4.7.325",
        0,
        0,
        "certificate-host-mismatch:",
    ),
    (
        "failedstarttls",
        "5.7.325",
        0,
        0,
        "certificate-host-mismatch:",
    ),
    ("mailboxfull", "5.2.2", 0, 0, "mailbox full"),
    (
        "networkerror",
        "5.4.4",
        0,
        0,
        "smtpsend.dns.nonexistentdomain; nonexistent domain",
    ),
    (
        "networkerror",
        "5.4.6",
        0,
        0,
        "hop count exceeded - possible mail loop",
    ),
    ("networkerror", "4.4.312", 0, 0, "dns query failed"),
    ("networkerror", "5.4.312", 0, 0, "dns query failed"),
    ("networkerror", "4.4.316", 0, 0, "connection refused"),
    ("networkerror", "5.4.316", 0, 0, "connection refused"),
    ("networkerror", "5.4.4", 0, 0, "invalid arguments"),
    ("networkerror", "5.4.6", 0, 0, "routing loop detected"),
    ("networkerror", "5.4.14", 0, 0, "routing loop detected"),
    ("norelaying", "5.7.1", 0, 0, "unable to relay"),
    ("norelaying", "5.4.1", 0, 0, "relay access denied"),
    (
        "norelaying",
        "5.7.64",
        0,
        0,
        "tenantattribution; relay access denied",
    ),
    ("norelaying", "5.4.310", 0, 0, "does not exist"),
    (
        "notaccept",
        "4.3.2",
        0,
        0,
        "system not accepting network messages",
    ),
    (
        "notaccept",
        "4.4.4",
        0,
        0,
        "hosted tenant which has no mail-enabled subscriptions",
    ),
    (
        "notaccept",
        "5.3.2",
        0,
        0,
        "storedrv.deliver: missing or bad storedriver mdb properties",
    ),
    (
        "policyviolation",
        "5.0.350",
        0,
        0,
        "x-dg-ref header is too long",
    ),
    (
        "policyviolation",
        "5.0.350",
        0,
        0,
        "requested action not taken: policy violation detected (as345)",
    ),
    (
        "policyviolation",
        "5.7.",
        900,
        999,
        "delivery not authorized, message refused",
    ),
    ("rejected", "5.1.7", 0, 0, "invalid address"),
    ("rejected", "5.1.7", 0, 0, "unknown sender address"),
    ("rejected", "5.1.0", 0, 0, "sender denied"),
    (
        "rejected",
        "5.1.8",
        0,
        0,
        "access denied, bad outbound sender",
    ),
    ("rejected", "5.7.1", 0, 0, "delivery not authorized"),
    (
        "rejected",
        "5.7.12",
        0,
        0,
        "sender was not authenticated by organization",
    ),
    (
        "rejected",
        "5.7.124",
        0,
        0,
        "sender not in allowed-senders list",
    ),
    (
        "rejected",
        "5.7.133",
        0,
        0,
        "sender not authenticated for group",
    ),
    (
        "rejected",
        "5.7.134",
        0,
        0,
        "sender was not authenticated for mailbox",
    ),
    (
        "rejected",
        "5.7.13",
        0,
        0,
        "sender was not authenticated for public folder",
    ),
    (
        "rejected",
        "5.7.135",
        0,
        0,
        "sender was not authenticated for public folder",
    ),
    ("rejected", "5.7.136", 0, 0, "sender was not authenticated"),
    (
        "rejected",
        "5.7.",
        501,
        503,
        "access denied, spam abuse detected",
    ),
    (
        "rejected",
        "5.7.512",
        0,
        0,
        "access denied, message must be rfc 5322 section 3.6.2 compliant",
    ),
    (
        "rejected",
        "5.7.750",
        0,
        0,
        "service unavailable. client blocked from sending from unregistered domains",
    ),
    ("rejected", "5.7.", 501, 503, "access denied, banned sender"),
    (
        "securityerror",
        "5.7.3",
        0,
        0,
        "cannot achieve exchange server authentication",
    ),
    ("securityerror", "5.7.3", 0, 0, "not authorized"),
    (
        "securityerror",
        "5.7.1",
        0,
        0,
        "client was not authenticated",
    ),
    (
        "securityerror",
        "5.7.57",
        0,
        0,
        "client was not authenticated to send anonymous mail during mail from",
    ),
    (
        "spamdetected",
        "5.2.1",
        0,
        0,
        "content filter agent quarantined this message",
    ),
    ("toomanyconn", "5.5.3", 0, 0, "too many recipients"),
    (
        "toomanyconn",
        "4.3.2",
        0,
        0,
        "storedrv.deliver; recipient thread limit exceeded",
    ),
    ("toomanyconn", "4.5.3", 0, 0, "too many recipients"),
    (
        "toomanyconn",
        "4.7.652",
        0,
        0,
        "has exceeded the maximum number of connections",
    ),
    (
        "toomanyconn",
        "5.1.90",
        0,
        0,
        "reached your daily limit for message recipients",
    ),
    ("toomanyconn", "5.2.2", 0, 0, "submission quota exceeded"),
    (
        "toomanyconn",
        "5.2.121",
        0,
        0,
        "recipient's per hour message receive limit",
    ),
    (
        "toomanyconn",
        "5.2.122",
        0,
        0,
        "recipient's per hour message receive limit",
    ),
    (
        "toomanyconn",
        "5.2.122",
        0,
        0,
        "the recipient has exceeded their limit for",
    ),
    (
        "toomanyconn",
        "5.7.508",
        0,
        0,
        "has exceeded permitted limits within",
    ),
    (
        "toomanyconn",
        "5.7.",
        700,
        749,
        "tenant has exceeded threshold",
    ),
    (
        "toomanyconn",
        "5.7.",
        700,
        749,
        "traffic not accepted from this ip",
    ),
    (
        "suspend",
        "5.7.504",
        0,
        0,
        "recipient address rejected: access denied",
    ),
    (
        "suspend",
        "5.7.505",
        0,
        0,
        "access denied, banned recipient",
    ),
    ("suspend", "5.2.1", 0, 0, "mailbox cannot be accessed"),
    ("syntaxerror", "5.3.3", 0, 0, "unrecognized command"),
    ("syntaxerror", "5.5.2", 0, 0, "send hello first"),
    ("systemerror", "4.3.2", 0, 0, "service not available"),
    ("systemerror", "4.3.2", 0, 0, "service not active"),
    (
        "systemerror",
        "5.3.5",
        0,
        0,
        "system incorrectly configured",
    ),
    (
        "systemerror",
        "5.3.190",
        0,
        0,
        "when journaling archive is disabled",
    ),
    (
        "systemerror",
        "5.0.0",
        0,
        0,
        "helo / ehlo requires domain address",
    ),
    (
        "systemerror",
        "5.1.4",
        0,
        0,
        "destination mailbox address ambiguous",
    ),
    (
        "systemerror",
        "5.2.4",
        0,
        0,
        "mailing list expansion problem",
    ),
    (
        "systemerror",
        "5.2.14",
        0,
        0,
        "misconfigured forwarding address",
    ),
    (
        "systemerror",
        "4.4.",
        22,
        28,
        "message failed to be replicated:",
    ),
    (
        "systemerror",
        "4.4.3",
        0,
        0,
        "temporary server error. please try again later attr18",
    ),
    (
        "systemerror",
        "4.7.0",
        0,
        0,
        "temporary server error. please try again later. prx4 nexthop:",
    ),
    (
        "systemerror",
        "4.4.318",
        0,
        0,
        "(suspiciousremoteservererror)",
    ),
    (
        "systemerror",
        "5.4.318",
        0,
        0,
        "(suspiciousremoteservererror)",
    ),
    (
        "systemerror",
        "4.7.500",
        0,
        0,
        "server busy. please try again later from ",
    ),
    (
        "systemerror",
        "4.7.700",
        0,
        0,
        "pfa agent busy, please try again.",
    ),
    ("systemfull", "4.3.1", 0, 0, "insufficient system resources"),
    (
        "userunknown",
        "5.1.1",
        0,
        0,
        "resolver.adr.exrecipnotfound; not found",
    ),
    ("userunknown", "5.1.1", 0, 0, "user unknown"),
    (
        "userunknown",
        "5.1.3",
        0,
        0,
        "storedrv.submit; invalid recipient address",
    ),
    (
        "userunknown",
        "5.1.",
        4,
        5,
        "recipient address reserved by rfc 2606",
    ),
    (
        "userunknown",
        "5.1.6",
        0,
        0,
        "recipient addresses in single label domains not accepted",
    ),
    (
        "userunknown",
        "5.1.1",
        0,
        0,
        "bad destination mailbox address",
    ),
    ("userunknown", "5.1.10", 0, 0, "recipient not found"),
    (
        "userunknown",
        "5.4.1",
        0,
        0,
        "recipient address rejected: access denied",
    ),
    (
        "userunknown",
        "5.5.0",
        0,
        0,
        "requested action not taken: mailbox unavailable",
    ),
    ("userunknown", "5.1.2", 0, 0, "invalid x.400 address"),
    (
        "userunknown",
        "5.1.351",
        0,
        0,
        "remote server returned unknown recipient or mailbox unavailable",
    ),
];

// Microsoft 365 / Exchange: the status code decides which phrases apply;
// Outlook.com postmaster codes ("SC-004") go with the reply code.
fn microsoft(f: &Facts) -> &'static str {
    if !super::smtp::status_test(&f.status) {
        return "";
    }
    let third: u32 = f
        .status
        .rsplit('.')
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let l = f.diagnosis.to_ascii_lowercase();
    for (reason, code, min, max, phrase) in MICROSOFT {
        let applies = if min == max {
            f.status == *code
        } else {
            f.status.starts_with(code) && (*min..=*max).contains(&third)
        };
        if applies && l.contains(phrase) {
            return reason;
        }
    }
    const CODES: &[(&str, &str, &str)] = &[
        ("RP-001", "421", "badreputation"),
        ("RP-002", "421", "badreputation"),
        ("RP-003", "421", "badreputation"),
        ("SC-001", "550", "badreputation"),
        ("SC-002", "550", "policyviolation"),
        ("SC-003", "550", "blocked"),
        ("SC-004", "550", "blocked"),
        ("DY-001", "550", "blocked"),
        ("DY-002", "550", "securityerror"),
        ("OU-001", "550", "blocked"),
        ("OU-002", "550", "badreputation"),
    ];
    CODES
        .iter()
        .find(|(c, r, _)| f.diagnosis.contains(c) && f.reply == *r)
        .map(|(_, _, reason)| *reason)
        .unwrap_or("")
}
