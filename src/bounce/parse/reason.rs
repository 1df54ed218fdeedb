//! Bounce reason classification: maps enhanced status codes, reply codes,
//! SMTP commands and error-message phrases to Sisimai's reason vocabulary.
//!
//! The phrase lists and the order in which reasons are tried follow Sisimai's
//! `reason` package (BSD-2-Clause, azumakuniyuki and the sisimai development
//! team): each reason has an "included in" phrase list and a "probe" that also
//! looks at the status code and the SMTP command the error answered.

use super::smtp;
use super::text::{aligned_any, contains_any};

/// True when the (lower-cased) message contains any phrase of a fixed list.
/// Each call site keeps one Aho-Corasick automaton for its list, built on
/// first use, so a message is scanned once per list instead of once per
/// phrase.
macro_rules! any_of {
    ($m:expr, $list:expr $(,)?) => {{
        static AC: std::sync::LazyLock<aho_corasick::AhoCorasick> =
            std::sync::LazyLock::new(|| {
                aho_corasick::AhoCorasick::builder()
                    .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                    .build($list)
                    .expect("phrase list builds")
            });
        AC.is_match($m)
    }};
}

/// [`aligned_any`] for a fixed list of piece sequences: an automaton over
/// each sequence's last piece (built on first use) picks the few sequences
/// that can match at all before they are checked in order.
macro_rules! aligned_of {
    ($m:expr, $list:expr $(,)?) => {{
        static AC: std::sync::LazyLock<aho_corasick::AhoCorasick> =
            std::sync::LazyLock::new(|| {
                let last: Vec<&str> = $list.iter().map(|p| *p.last().unwrap_or(&"")).collect();
                aho_corasick::AhoCorasick::builder()
                    .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                    .build(last)
                    .expect("phrase list builds")
            });
        let m: &str = $m;
        AC.find_overlapping_iter(m)
            .any(|hit| super::text::aligned(m, $list[hit.pattern().as_usize()]))
    }};
}

/// What the classifier looks at for one recipient.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// Reason already decided by a format module ("" when none).
    pub reason: String,
    /// Enhanced status code.
    pub status: String,
    /// Error text (original case).
    pub diagnosis: String,
    /// Diagnostic type ("SMTP", "X-UNIX", ...).
    pub spec: String,
    /// SMTP command the error answered.
    pub command: String,
    /// SMTP reply code.
    pub reply: String,
    /// DSN action.
    pub action: String,
}

/// Reasons that a later, better-informed check may override.
pub fn should_retry(r: &str) -> bool {
    matches!(
        r,
        "" | "undefined"
            | "onhold"
            | "systemerror"
            | "securityerror"
            | "expired"
            | "networkerror"
            | "hostunknown"
            | "userunknown"
    )
}

/// False for "", "undefined" and "onhold".
pub fn is_explicit(r: &str) -> bool {
    !matches!(r, "" | "undefined" | "onhold")
}

const EXCEPT_DATA: &[&str] = &["CONN", "EHLO", "HELO", "MAIL", "RCPT"];

/// Phrase test for one reason on a lower-cased message.
pub fn included_in(reason: &str, m: &str) -> bool {
    if m.is_empty() {
        return false;
    }
    match reason {
        "userunknown" => any_of!(m, USERUNKNOWN) || aligned_of!(m, USERUNKNOWN_PAIRS),
        "mailboxfull" => any_of!(m, MAILBOXFULL) || aligned_of!(m, MAILBOXFULL_PAIRS),
        "filtered" => any_of!(m, FILTERED),
        "rejected" => {
            !any_of!(
                m,
                &[
                    "5.1.0 address rejected",
                    "recipient address rejected",
                    "sender ip address rejected",
                ],
            ) && any_of!(m, REJECTED)
        }
        "blocked" => any_of!(m, BLOCKED) || aligned_of!(m, BLOCKED_PAIRS),
        "hostunknown" => any_of!(m, HOSTUNKNOWN) || aligned_any(m, &[&["553 ", " does not exist"]]),
        "expired" => {
            any_of!(m, EXPIRED) || aligned_any(m, &[&["could not be delivered for", " days"]])
        }
        "suspend" => any_of!(m, SUSPEND),
        "networkerror" => any_of!(m, NETWORKERROR),
        "authfailure" => any_of!(m, AUTHFAILURE) || aligned_of!(m, AUTHFAILURE_PAIRS),
        "policyviolation" => {
            any_of!(m, POLICYVIOLATION)
                || aligned_any(
                    m,
                    &[&[
                        "you have exceeded the",
                        "allowable number of posts without solving a captcha",
                    ]],
                )
        }
        "requireptr" => any_of!(m, REQUIREPTR) || aligned_of!(m, REQUIREPTR_PAIRS),
        "spamdetected" => any_of!(m, SPAMDETECTED) || aligned_of!(m, SPAMDETECTED_PAIRS),
        "systemerror" => {
            any_of!(m, SYSTEMERROR) || aligned_any(m, &[&["unable to connect ", "daemon"]])
        }
        "securityerror" => any_of!(m, SECURITYERROR) || aligned_of!(m, SECURITYERROR_PAIRS),
        "notaccept" => any_of!(m, NOTACCEPT),
        "mailererror" => any_of!(m, MAILERERROR),
        "norelaying" => any_of!(m, NORELAYING),
        "hasmoved" => m.contains(" has been replaced by "),
        "notcompliantrfc" => {
            any_of!(
                m,
                &[
                    "duplicate header",
                    "this message is not rfc 5322 compliant",
                    "https://support.google.com/mail/?p=rfcmessagenoncompliant",
                ],
            ) || aligned_any(m, &[&[" multiple ", " header"]])
        }
        "badreputation" => any_of!(m, BADREPUTATION),
        "contenterror" => any_of!(m, CONTENTERROR),
        "exceedlimit" => any_of!(
            m,
            &["message header size exceeds limit", "message too large"],
        ),
        "mesgtoobig" => any_of!(m, MESGTOOBIG),
        "speeding" => any_of!(
            m,
            &[
                "mail sent from your ip address has been temporarily rate limited",
                "please try again slower",
                "receiving mail at a rate that prevents additional messages from being delivered",
            ],
        ),
        "toomanyconn" => any_of!(m, TOOMANYCONN),
        "virusdetected" => any_of!(m, VIRUSDETECTED),
        "systemfull" => any_of!(
            m,
            &[
                "mail system full",
                "requested mail action aborted: exceeded storage allocation",
            ],
        ),
        "failedstarttls" => any_of!(
            m,
            &[
                "starttls is required to send mail",
                "tls required but not supported",
            ],
        ),
        "vacation" => any_of!(
            m,
            &[
                "i am away on vacation",
                "i am away until",
                "i am out of the office",
                "i will be traveling for work on",
            ],
        ),
        "suppressed" => false,
        _ => false,
    }
}

/// The "probe" of one reason: status code, command and phrases together.
fn probes(reason: &str, f: &Facts, m: &str) -> bool {
    let name = smtp::status_name(&f.status);
    if f.reason == reason {
        return true;
    }
    let cmd = f.command.as_str();
    match reason {
        "mailboxfull" => name == "mailboxfull" || included_in("mailboxfull", m),
        "mesgtoobig" => {
            if name == "mesgtoobig" {
                return true;
            }
            if name == "exceedlimit" || f.status == "5.2.3" {
                return false;
            }
            included_in("mesgtoobig", m)
        }
        "exceedlimit" => name == "exceedlimit" || included_in("exceedlimit", m),
        "suspend" => f.reply == "525" || included_in("suspend", m),
        "hasmoved" => included_in("hasmoved", m),
        "norelaying" => {
            if matches!(
                f.reason.as_str(),
                "securityerror" | "systemerror" | "undefined"
            ) {
                return false;
            }
            if matches!(cmd, "CONN" | "EHLO" | "HELO") {
                return false;
            }
            included_in("norelaying", m)
        }
        "authfailure" => name == "authfailure" || included_in("authfailure", m),
        "userunknown" => {
            if name == "userunknown" {
                for other in [
                    "norelaying",
                    "blocked",
                    "mailboxfull",
                    "hasmoved",
                    "rejected",
                    "notaccept",
                ] {
                    if included_in(other, m) {
                        return false;
                    }
                }
                true
            } else {
                cmd == "RCPT" && included_in("userunknown", m)
            }
        }
        "filtered" => {
            if name == "filtered" {
                included_in("userunknown", m) || included_in("filtered", m)
            } else {
                if EXCEPT_DATA.contains(&cmd) {
                    return false;
                }
                included_in("filtered", m) || included_in("userunknown", m)
            }
        }
        "requireptr" => name == "requireptr" || included_in("requireptr", m),
        "notcompliantrfc" => included_in("notcompliantrfc", m),
        "badreputation" => included_in("badreputation", m),
        "contenterror" => {
            if probes("spamdetected", f, m) {
                return false;
            }
            name == "contenterror" || included_in("contenterror", m)
        }
        "rejected" => {
            if name == "rejected" {
                return true;
            }
            let temp = if name.is_empty() { "undefined" } else { name };
            // Sender-side rejections show up at MAIL, at DATA, or with a vague status.
            let applies = cmd == "MAIL"
                || (cmd == "DATA" && temp != "userunknown")
                || !is_explicit(temp)
                || temp == "securityerror"
                || temp == "systemerror";
            applies && included_in("rejected", m)
        }
        "hostunknown" => {
            if name == "hostunknown" {
                !included_in("networkerror", m)
            } else {
                included_in("hostunknown", m)
            }
        }
        "spamdetected" => {
            if f.status.is_empty() {
                return false;
            }
            if name == "spamdetected" {
                return true;
            }
            if EXCEPT_DATA.contains(&cmd) {
                return false;
            }
            included_in("spamdetected", m)
        }
        "speeding" => included_in("speeding", m),
        "toomanyconn" => name == "toomanyconn" || included_in("toomanyconn", m),
        "blocked" => name == "blocked" || included_in("blocked", m),
        "syntaxerror" => {
            let r: u32 = f.reply.parse().unwrap_or(0);
            (r > 400 && r < 408) || (r > 500 && r < 508)
        }
        "virusdetected" => !EXCEPT_DATA.contains(&cmd) && included_in("virusdetected", m),
        "failedstarttls" => {
            cmd == "STARTTLS"
                || matches!(f.reply.as_str(), "523" | "524" | "538")
                || included_in("failedstarttls", m)
        }
        "notaccept" => matches!(f.reply.as_str(), "521" | "556") || included_in("notaccept", m),
        _ => false,
    }
}

const ORDER0: &[&str] = &[
    "mailboxfull",
    "mesgtoobig",
    "exceedlimit",
    "suspend",
    "hasmoved",
    "norelaying",
    "authfailure",
    "userunknown",
    "filtered",
    "requireptr",
    "notcompliantrfc",
    "badreputation",
    "contenterror",
    "rejected",
    "hostunknown",
    "spamdetected",
    "speeding",
    "toomanyconn",
    "blocked",
];
const ORDER1: &[&str] = &[
    "mailboxfull",
    "authfailure",
    "badreputation",
    "speeding",
    "spamdetected",
    "virusdetected",
    "policyviolation",
    "norelaying",
    "systemerror",
    "networkerror",
    "suspend",
    "contenterror",
    "systemfull",
    "notaccept",
    "expired",
    "failedstarttls",
    "securityerror",
    "suppressed",
    "mailererror",
];

/// Decides the reason for one recipient (Sisimai's `reason.Find`).
pub fn find(f: &Facts) -> String {
    if !f.reason.is_empty() && !should_retry(&f.reason) {
        return f.reason.clone();
    }
    if f.status.starts_with("2.") {
        return "delivered".into();
    }
    let m = f.diagnosis.to_ascii_lowercase();
    let mut text = String::new();
    if f.spec.is_empty() || f.spec.eq_ignore_ascii_case("SMTP") {
        for r in ORDER0 {
            if probes(r, f, &m) {
                text = (*r).to_string();
                break;
            }
        }
    }
    if text.is_empty() || text == "undefined" {
        text = anotherone(f, &m);
        if text == "undefined" {
            text.clear();
        }
        if text.is_empty() && matches!(f.action.as_str(), "delayed" | "expired") {
            text = "expired".into();
        }
        if !text.is_empty() {
            return text;
        }
        if included_in("vacation", &m) {
            return "vacation".into();
        }
        return if m.is_empty() {
            "undefined".into()
        } else {
            "onhold".into()
        };
    }
    text
}

fn anotherone(f: &Facts, m: &str) -> String {
    if is_explicit(&f.reason) {
        return f.reason.clone();
    }
    let text = smtp::status_name(&f.status);
    if should_retry(text) || !f.spec.eq_ignore_ascii_case("SMTP") {
        for r in ORDER1 {
            if included_in(r, m) {
                return (*r).to_string();
            }
        }
        if !text.is_empty() {
            return text.to_string();
        }
        if let Some(sub) = f.status.get(..3) {
            if sub == "5.6" || sub == "4.6" {
                return "contenterror".into();
            }
            if sub == "5.7" || sub == "4.7" {
                return "securityerror".into();
            }
        }
        if f.spec.to_ascii_uppercase().starts_with("X-UNIX") {
            return "mailererror".into();
        }
        if probes("syntaxerror", f, m) {
            return "syntaxerror".into();
        }
        if f.action == "delayed" || f.action == "expired" {
            return "expired".into();
        }
        if f.command == "EHLO" || f.command == "HELO" {
            return "blocked".into();
        }
    }
    text.to_string()
}

/// (agent name, markers identifying it, (reason, phrases) pairs).
type LdaRule = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static [&'static str])],
);

/// Reasons decided from errors of local delivery agents (procmail, maildrop,
/// dovecot...), which report in their own words.
pub fn lda(f: &Facts) -> String {
    if f.diagnosis.is_empty() || (!f.command.is_empty() && f.command != "DATA") {
        return String::new();
    }
    let m = f.diagnosis.to_ascii_lowercase();
    let agents: &[LdaRule] = &[
        (
            "dovecot",
            &["your message to <", "> was automatically rejected:"],
            &[
                ("mailboxfull", &["not enough disk space", "quota exceeded"]),
                ("userunknown", &["mailbox doesn't exist: "]),
            ],
        ),
        (
            "mail.local",
            &["mail.local: "],
            &[
                (
                    "mailboxfull",
                    &["disc quota exceeded", "mailbox full or quota exceeded"],
                ),
                ("systemerror", &["temporary file write error"]),
                (
                    "userunknown",
                    &[
                        ": invalid mailbox path",
                        ": unknown user:",
                        ": user missing home directory",
                        ": user unknown",
                    ],
                ),
            ],
        ),
        (
            "procmail",
            &["procmail: ", "/procmail "],
            &[
                (
                    "mailboxfull",
                    &["quota exceeded while writing", "user over quota"],
                ),
                ("systemerror", &["service unavailable"]),
                ("systemfull", &["no space left to finish writing"]),
            ],
        ),
        (
            "maildrop",
            &["maildrop: "],
            &[
                ("mailboxfull", &["maildir over quota."]),
                (
                    "userunknown",
                    &["cannot find system user", "invalid user specified."],
                ),
            ],
        ),
        (
            "vpopmail",
            &["vdelivermail: "],
            &[
                ("filtered", &["user does not exist, but will deliver to "]),
                (
                    "mailboxfull",
                    &["domain is over quota", "user is over quota"],
                ),
                ("suspend", &["account is locked email bounced"]),
                ("userunknown", &["sorry, no mailbox here by that name."]),
            ],
        ),
        (
            "vmailmgr",
            &["vdeliver: "],
            &[
                (
                    "mailboxfull",
                    &["delivery failed due to system quota violation"],
                ),
                (
                    "userunknown",
                    &[
                        "invalid or unknown base user or domain",
                        "invalid or unknown virtual user",
                        "user name does not refer to a virtual user",
                    ],
                ),
            ],
        ),
    ];
    for (_, marks, rules) in agents {
        if !contains_any(&m, marks) {
            continue;
        }
        for (r, phrases) in *rules {
            if contains_any(&m, phrases) {
                return (*r).to_string();
            }
        }
        return "mailererror".into();
    }
    String::new()
}

const USERUNKNOWN: &[&str] = &[
    "#5.1.1 bad address",
    "550 address invalid",
    "5.1.0 address rejected.",
    "address does not exist",
    "address not present in directory",
    "address unknown",
    "can't accept user",
    "does not exist.",
    "destination addresses were unknown",
    "destination server rejected recipients",
    "email address does not exist",
    "email address could not be found",
    "invalid address",
    "invalid mailbox",
    "invalid mailbox path",
    "invalid recipient",
    "is not a known user",
    "is not a valid mailbox",
    "is not an active address at this host",
    "mailbox does not exist",
    "mailbox invalid",
    "mailbox is inactive",
    "mailbox is unavailable",
    "mailbox not present",
    "mailbox not found",
    "mailbox unavaiable",
    "nessun utente simile in questo indirizzo",
    "no account by that name here",
    "no existe dicha persona",
    "no existe ese usuario ",
    "no mail box available for this user",
    "no mailbox by that name is currently available",
    "no mailbox found",
    "no such address here",
    "no such mailbox",
    "no such person at this address",
    "no such recipient",
    "no such user",
    "no thank you rejected: account unavailable",
    "no valid recipients, bye",
    "not a valid recipient",
    "not a valid user here",
    "not a local address",
    "not email addresses",
    "recipient address rejected. (in reply to rcpt to command)",
    "recipient address rejected: access denied",
    "recipient address rejected: invalid user",
    "recipient address rejected: invalid-recipient",
    "recipient address rejected: unknown user",
    "recipient address rejected: userunknown",
    "recipient does not exist",
    "recipient is not accepted",
    "recipient is not local",
    "recipient not exist",
    "recipient not found",
    "recipient not ok",
    "recipient refuses to accept your mail",
    "recipient unknown",
    "requested action not taken: mailbox unavailable",
    "resolver.adr.recipient notfound",
    "sorry, user unknown",
    "sorry, badrcptto",
    "sorry, no mailbox here by that name",
    "sorry, your envelope recipient has been denied",
    "that domain or user isn't in my list of allowed rcpthosts",
    "the email account that you tried to reach does not exist",
    "the following recipients was undeliverable",
    "the user's email name is not found",
    "there is no one at this address",
    "this address no longer accepts mail",
    "this email address is wrong or no longer valid",
    "this recipient is in my badrecipientto list",
    "this recipient is not in my validrcptto list",
    "this spectator does not exist",
    "unknown mailbox",
    "unknown recipient",
    "unknown user",
    "user does not exist",
    "user missing home directory",
    "user not active",
    "user not exist",
    "user not found",
    "user not known",
    "user unknown",
    "utilisateur inconnu !",
    "vdeliver: invalid or unknown virtual user",
    "weil die adresse nicht gefunden wurde oder keine e-mails empfangen kann",
    "your envelope recipient is in my badrcptto list",
];
const USERUNKNOWN_PAIRS: &[&[&str]] = &[
    &["<", "> not found"],
    &["<", ">... blocked by "],
    &["account ", " does not exist at the organization"],
    &[
        "adresse d au moins un destinataire invalide. invalid recipient.",
        "416",
    ],
    &[
        "adresse d au moins un destinataire invalide. invalid recipient.",
        "418",
    ],
    &["bad", "recipient"],
    &["mailbox ", "does not exist"],
    &["mailbox ", "unavailable or access denied"],
    &["no ", " in name directory"],
    &["non", "existent user"],
    &["rcpt <", " does not exist"],
    &["rcpt (", "t exist "],
    &["recipient ", " was not found in"],
    &["recipient address rejected: user ", "  does not exist"],
    &["recipient address rejected: user unknown in ", "  table"],
    &["said: 550", "5.1.1 ", " user unknown "],
    &["this user doesn't have a ", " account"],
    &["unknown e", "mail address"],
    &["unknown local", "part"],
    &["user ", " was not found"],
    &["user ", " does not exist"],
    &["user (", ") unknown"],
];
const MAILBOXFULL: &[&str] = &[
    "452 insufficient disk space",
    "account disabled temporarly for exceeding receiving limits",
    "boite du destinataire pleine",
    "exceeded storage allocation",
    "full mailbox",
    "mailbox exceeds allowed size",
    "mailbox size limit exceeded",
    "mailbox would exceed maximum allowed storage",
    "mailfolder is full",
    "no space left on device",
    "not sufficient disk space",
    "quota violation for",
    "too much mail data",
    "user has exceeded quota, bouncing mail",
    "user has too many messages on the server",
    "user's space has been used up",
];
const MAILBOXFULL_PAIRS: &[&[&str]] = &[
    &["account is ", " quota"],
    &["disk", "quota"],
    &["enough ", " space"],
    &["mailbox ", "exceeded", " limit"],
    &["mailbox ", "full"],
    &["mailbox ", "quota"],
    &["maildir ", "quota"],
    &["over ", "quota"],
    &["quota ", "exceeded"],
];
const FILTERED: &[&str] = &[
    "account is protected by",
    "bounced address",
    "has restricted sms e-mail",
    "is not accepting any mail",
    "message filtered",
    "message rejected due to user rules",
    "not found recipient account",
    "recipient id refuse to receive mail",
    "recipient is only accepting mail from specific email addresses",
    "refused due to recipient preferences",
    "user not found",
    "user refuses to receive this mail",
    "user reject",
    "you have been blocked by the recipient",
];
const REJECTED: &[&str] = &[
    "access denied (in reply to mail from command)",
    "access denied (sender blacklisted)",
    "address rejected",
    "administrative prohibition",
    "batv failed to verify",
    "batv validation failure",
    "backscatter protection detected an invalid or expired email address",
    "because the sender isn't on the recipient's list of senders to accept mail from",
    "bogus mail from",
    "can't determine purported responsible address",
    "connections not accepted from servers without a valid sender domain",
    "denied [bouncedeny]",
    "denied by secumail valid-address-filter",
    "delivery not authorized, message refused",
    "does not exist e2110",
    "domain of sender address ",
    "email address is on senderfilterconfig list",
    "emetteur invalide",
    "empty envelope senders not allowed",
    "envelope blocked - ",
    "error: no third-party dsns",
    "from: domain is invalid. please provide a valid from:",
    "fully qualified email address required",
    "invalid domain, see <url:",
    "invalid sender",
    "is not a registered gateway user",
    "mail from not owned by user",
    "message rejected: email address is not verified",
    "mx records for ",
    "null sender is not allowed",
    "recipient addresses rejected : access denied",
    "recipient not accepted. (batv: no tag",
    "returned mail not accepted here",
    "rfc 1035 violation: recursive cname records for",
    "rule imposed mailbox access for",
    "sending this from a different address or alias using the ",
    "sender address has been blacklisted",
    "sender email address rejected",
    "sender is in my black list",
    "sender is spammer",
    "sender not pre-approved",
    "sender rejected",
    "sender domain is empty",
    "sender verify failed",
    "sender was rejected",
    "spam reporting address",
    "syntax error: empty email address",
    "the message has been rejected by batv defense",
    "this server does not accept mail from",
    "transaction failed unsigned dsn for",
    "unroutable sender address",
    "you are not allowed to post to this mailing list",
    "you are sending to/from an address that has been blacklisted",
    "your access to submit messages to this e-mail system has been rejected",
    "your email address has been blacklisted",
];
const BLOCKED: &[&str] = &[
    " said: 550 blocked",
    "//www.spamcop.net/bl.",
    "bad sender ip address",
    "banned sending ip",
    "blacklisted by",
    "blocked using ",
    "blocked - see http",
    "dnsbl:attrbl",
    "client host rejected: abus detecte gu_eib_02",
    "client host rejected: abus detecte gu_eib_04",
    "client host rejected: may not be mail exchanger",
    "client host rejected: was not authenticated",
    "confirm this mail server",
    "connection dropped",
    "connection refused by",
    "connection reset by peer",
    "connection was dropped by remote host",
    "connections not accepted from ip addresses on spamhaus xbl",
    "currently sending spam see: ",
    "domain does not exist:",
    "dynamic/zombied/spam ips blocked",
    "error: no valid recipients from ",
    "esmtp not accepting connections",
    "extreme bad ip profile",
    "go away",
    "helo command rejected:",
    "host network not allowed",
    "hosts with dynamic ip",
    "invalid ip for sending mail of domain",
    "is in a black list",
    "is not allowed to send mail from",
    "mailfrom domain is listed in spamhaus",
    "no access from mail server",
    "no matches to nameserver query",
    "not currently accepting mail from your ip",
    "part of their network is on our block list",
    "please use the smtp server of your isp",
    "refused - see http",
    "rejected - multi-blacklist",
    "rejected because the sending mta or the sender has not passed validation",
    "rejecting open proxy",
    "sender ip address rejected",
    "server access forbidden by your ip ",
    "service not available, closing transmission channel",
    "smtp error from remote mail server after initial connection:",
    "sorry, that domain isn't in my list of allowed rcpthosts",
    "sorry, your remotehost looks suspiciously like spammer",
    "temporarily deferred due to unexpected volume or user complaints",
    "to submit messages to this e-mail system has been rejected",
    "too many spams from your ip",
    "too many unwanted messages have been sent from the following ip address above",
    "was blocked by ",
    "we do not accept mail from dynamic ips",
    "you are not allowed to connect",
    "you are sending spam",
    "your ip address is listed in the rbl",
    "your network is temporary blacklisted",
    "your server requires confirmation",
];
const BLOCKED_PAIRS: &[&[&str]] = &[
    &["(", "@", ":blocked)"],
    &["access from ip address ", " blocked"],
    &["client host ", " blocked using"],
    &[
        "connections will not be accepted from ",
        " because the ip is in spamhaus's list",
    ],
    &["dnsbl:rbl ", ">_is_blocked"],
    &["email blocked by ", ".barracudacentral.org"],
    &["email blocked by ", "spamhaus"],
    &["host ", " refused to talk to me: ", " blocked"],
    &["ip ", " is blocked by earthlink"],
    &["is in an ", "rbl on "],
    &["mail server at ", " is blocked"],
    &["mail from ", " refused:"],
    &["mail from ", " refused, see ", "orbs"],
    &["message from ", " rejected based on blacklist"],
    &[
        "messages from ",
        " temporarily deferred due to user complaints",
    ],
    &["server ip ", " listed as abusive"],
    &["sorry! your ip address", " is blocked by rbl"],
    &["the domain ", " is blacklisted"],
    &["the email ", " is blacklisted"],
    &["the ip", " is blacklisted"],
    &[
        "veuillez essayer plus tard. service refused, please try later. ",
        "103",
    ],
    &[
        "veuillez essayer plus tard. service refused, please try later. ",
        "510",
    ],
    &["your access ip", " has been rejected"],
    &["your sender's ip address is listed at ", ".abuseat.org"],
];
const HOSTUNKNOWN: &[&str] = &[
    "domain does not exist",
    "domain is not reachable",
    "domain must exist",
    "host or domain name not found",
    "host unknown",
    "host unreachable",
    "mail domain mentioned in email address is unknown",
    "name or service not known",
    "no such domain",
    "recipient address rejected: unknown domain name",
    "recipient domain must exist",
    "the account or domain may not exist",
    "unknown host",
    "unroutable address",
    "unrouteable address",
];
const EXPIRED: &[&str] = &[
    "connection timed out",
    "could not find a gateway for",
    "delivery attempts will continue to be",
    "delivery expired",
    "delivery time expired",
    "failed to deliver to domain ",
    "giving up on",
    "have been failing for a long time",
    "has been delayed",
    "it has not been collected after",
    "message expired after sitting in queue for",
    "message expired, cannot connect to remote server",
    "message expired, connection refulsed",
    "message timed out",
    "retry time not reached for any host after a long failure period",
    "server did not respond",
    "this message has been in the queue too long",
    "unable to deliver message after multiple retries",
    "was not reachable within the allowed queue period",
    "your message could not be delivered for more than",
];
const SUSPEND: &[&str] = &[
    " is currently suspended",
    " temporary locked",
    "archived recipient",
    "boite du destinataire archivee",
    "email account that you tried to reach is disabled",
    "has been suspended",
    "inactive account",
    "invalid/inactive user",
    "is a deactivated mailbox",
    "is unavailable: user is terminated",
    "mailbox currently suspended",
    "mailbox disabled",
    "mailbox is frozen",
    "mailbox unavailable or access denied",
    "recipient rejected: temporarily inactive",
    "recipient suspend the service",
    "the email account that you tried to reach is inactive",
    "this account has been disabled or discontinued",
    "this account has been temporarily suspended",
    "this address no longer accepts mail",
    "this mailbox is disabled",
    "user or domain is disabled",
    "user suspended",
    "vdelivermail: account is locked email bounced",
];
const NETWORKERROR: &[&str] = &[
    "could not connect and send the mail to",
    "dns records for the destination computer could not be found",
    "hop count exceeded - possible mail loop",
    "host is unreachable",
    "host name lookup failure",
    "host not found, try again",
    "mail forwarding loop for ",
    "malformed name server reply",
    "malformed or unexpected name server reply",
    "maximum forwarding loop count exceeded",
    "message looping",
    "message probably in a routing loop",
    "no route to host",
    "too many hops",
    "unable to resolve route ",
    "unrouteable mail domain",
];
const AUTHFAILURE: &[&str] = &[
    "//spf.pobox.com",
    "bad spf records for",
    "dmarc policy",
    "doesn't meet the required authentication level",
    "please inspect your spf settings",
    "sender policy framework (spf) fail",
    "sender policy framework violation",
    "spf (sender policy framework) domain authentication fail",
    "spf check: fail",
    "the 5322.from address doesn't meet the authentication requirements defined for the sender",
];
const AUTHFAILURE_PAIRS: &[&[&str]] = &[
    &[" is not allowed to send mail.", "_401"],
    &["is not allowed to send from <", " per it's spf record"],
];
const POLICYVIOLATION: &[&str] = &[
    "an illegal attachment on your message",
    "because the recipient is not accepting mail with ",
    "by non-member to a members-only list",
    "closed mailing list",
    "denied by policy",
    "email not accepted for policy reasons",
    "email rejected due to security policies",
    "header are not accepted",
    "header error",
    "local policy violation",
    "message bounced due to organizational settings",
    "message given low priority",
    "message not accepted for policy reasons",
    "message rejected due to local policy",
    "messages with multiple addresses",
    "rejected for policy reasons",
    "protocol violation",
    "the email address used to send your message is not subscribed to this group",
    "the message was rejected by organization policy",
    "this message was blocked because its content presents a potential",
    "we do not accept messages containing images or other attachments",
    "you're using a mass mailer",
];
const REQUIREPTR: &[&str] = &[
    "access denied. ip name lookup failed",
    "all mail servers must have a ptr record with a valid reverse dns entry",
    "bad dns ptr resource record",
    "cannot find your hostname",
    "cannot resolve your address.",
    "client host rejected: cannot find your hostname",
    "fix reverse dns for ",
    "ips with missing ptr records",
    "no ptr record found.",
    "please get a custom reverse dns name from your isp for your host",
    "ptr record setup",
    "reverse dns failed",
    "reverse dns required",
    "sender ip reverse lookup rejected",
    "the ip address sending this message does not have a ptr record setup",
    "the corresponding forward dns entry does not point to the sending ip",
    "this system will not accept messages from servers/devices with no reverse dns",
    "unresolvable relay host name",
    "we do not accept mail from hosts with dynamic ip or generic dns ptr-records",
];
const REQUIREPTR_PAIRS: &[&[&str]] = &[
    &["domain ", " mismatches client ip"],
    &["dns lookup failure: ", " try again later"],
    &["reverse dns lookup for host ", " failed permanently"],
    &[
        "server access ",
        " forbidden by invalid rdns record of your mail server",
    ],
    &["service permits ", " unverifyable sending ips"],
];
const SPAMDETECTED: &[&str] = &[
    " - spam",
    "//www.spamhaus.org/help/help_spam_16.htm",
    "//dsbl.org/help/help_spam_16.htm",
    "//mail.163.com/help/help_spam_16.htm",
    "554 5.7.0 reject, id=",
    "appears to be unsolicited",
    "blacklisted url in message",
    "block for spam",
    "blocked by policy: no spam please",
    "blocked by spamassassin",
    "blocked for abuse. see http://att.net/blocks",
    "cannot be forwarded because it was detected as spam",
    "considered unsolicited bulk e-mail (spam) by our mail filters",
    "content filter rejection",
    "cyberoam anti spam engine has identified this email as a bulk email",
    "denied due to spam list",
    "high probability of spam",
    "is classified as spam and is rejected",
    "listed in work.drbl.imedia.ru",
    "the mail server detected your message as spam and has prevented delivery.",
    "mail appears to be unsolicited",
    "mail content denied",
    "may consider spam",
    "message considered as spam or virus",
    "message contains spam or virus",
    "message content rejected",
    "message detected as spam",
    "message filtered",
    "message filtered. please see the faqs section on spam",
    "message filtered. refer to the troubleshooting page at ",
    "message looks like spam",
    "message is being rejected as it seems to be a spam",
    "message refused by mailmarshal spamprofiler",
    "message refused by trustwave seg spamprofiler",
    "message rejected as spam",
    "message rejected because of unacceptable content",
    "message rejected due to suspected spam content",
    "message rejected for policy reasons",
    "message was rejected for possible spam/virus content",
    "our email server thinks this email is spam",
    "our system has detected that this message is ",
    "probable spam",
    "reject bulk.advertising",
    "rejected: spamassassin score ",
    "rejected - bulk email",
    "rejecting banned content",
    "rejecting mail content",
    "related to content with spam-like characteristics",
    "sender domain listed at ",
    "sending address not accepted due to spam filter",
    "spam blocked",
    "spam check",
    "spam content matched",
    "spam detected",
    "spam email",
    "spam email not accepted",
    "spam message rejected.",
    "spam not accepted",
    "spam refused",
    "spam rejection",
    "spam score ",
    "spambouncer identified spam",
    "spamming not allowed",
    "too many spam complaints",
    "too much spam.",
    "the email message was detected as spam",
    "the message has been rejected by spam filtering engine",
    "the message was rejected due to classification as bulk mail",
    "the content of this message looked like spam",
    "this message appears to be spam",
    "this message has been identified as spam",
    "this message has been scored as spam with a probability",
    "this message was classified as spam",
    "this message was rejected by recurrent pattern detection system",
    "transaction failed spam message not queued",
    "we dont accept spam",
    "your email appears similar to spam we have received before",
    "your email breaches local uribl policy",
    "your email had spam-like ",
    "your email is considered spam",
    "your email is probably spam",
    "your email was detected as spam",
    "your message as spam and has prevented delivery",
    "your message has been temporarily blocked by our filter",
    "your message has been rejected because it appears to be spam",
    "your message has triggered a spam block",
    "your message may contain the spam contents",
    "your message failed several antispam checks",
];
const SPAMDETECTED_PAIRS: &[&[&str]] = &[
    &["greylisted", " please try again in"],
    &["mail score (", " over "],
    &["mail rejete. mail rejected. ", "506"],
    &[
        "our filters rate at and above ",
        " percent probability of being spam",
    ],
    &["rejected by ", " (spam)"],
    &["rejected due to spam ", "classification"],
    &["rejected due to spam ", "content"],
    &["rule imposed as ", " is blacklisted on"],
    &["spam ", " exceeded"],
    &["this message scored ", " spam points"],
];
const SYSTEMERROR: &[&str] = &[
    "aliasing/forwarding loop broken",
    "can't create user output file",
    "could not load drd for domain",
    "internal error reading data",
    "internal server error: operation now in progress",
    "interrupted system call",
    "it encountered an error while being processed",
    "it would create a mail loop",
    "local configuration error",
    "local error in processing",
    "loop was found in the mail exchanger",
    "loops back to myself",
    "mail system configuration error",
    "queue file write error",
    "recipient deferred because there is no mdb",
    "remote server is misconfigured",
    "server configuration error",
    "service currently unavailable",
    "system config error",
    "temporary local problem",
    "timeout waiting for input",
    "transaction failed ",
];
const SECURITYERROR: &[&str] = &[
    "account not subscribed to ses",
    "authentication credentials invalid",
    "authentication failure",
    "authentication required",
    "authentication turned on in your email client",
    "executable files are not allowed in compressed files",
    "insecure mail relay",
    "recipient address rejected: access denied",
    "sorry, you don't authenticate or the domain isn't in my list of allowed rcpthosts",
    "unauthenticated senders not allowed",
    "verification failure",
    "you are not authorized to send mail, authentication is required",
];
const SECURITYERROR_PAIRS: &[&[&str]] = &[
    &["authentication failed; server ", " said: "],
    &["authentification invalide", "305"],
    &["authentification requise", "402"],
    &["domain ", " is a dead domain"],
    &[
        "user ",
        " is not authorized to perform ses:sendrawemail on resource",
    ],
];
const NOTACCEPT: &[&str] = &[
    "does not accept mail (nullmx)",
    "host/domain does not accept mail",
    "host does not accept mail",
    "mail receiving disabled",
    "name server: .: host not found",
    "no mx record found for domain=",
    "no route for current request",
    "smtp protocol returned a permanent error",
];
const MAILERERROR: &[&str] = &[
    " || exit ",
    "procmail: ",
    "bin/procmail",
    "bin/maidrop",
    "command failed: ",
    "command died with status ",
    "command output:",
    "mailer error",
    "pipe to |/",
    "x-unix; ",
];
const NORELAYING: &[&str] = &[
    "as a relay",
    "email address is not verified.",
    "insecure mail relay",
    "is not permitted to relay through this server without authentication",
    "mail server requires authentication when attempting to send to a non-local e-mail address",
    "no relaying",
    "not a gateway",
    "not allowed to relay through this machine",
    "not an open relay, so get lost",
    "not local host",
    "relay access denied",
    "relay denied",
    "relay not permitted",
    "relaying denied",
    "relaying mail to ",
    "specified domain is not allowed",
    "that domain isn't in my list of allowed rcpthost",
    "this system is not configured to relay mail",
    "unable to relay ",
    "we don't handle mail for",
];
const BADREPUTATION: &[&str] = &[
    "a poor email reputation score",
    "has been temporarily rate limited due to ip reputation",
    "ip/domain reputation problems",
    "likely suspicious due to the very low reputation",
    "none/bad reputation",
    "temporarily deferred due to unexpected volume or user complaints",
    "the sending mta's poor reputation",
];
const CONTENTERROR: &[&str] = &[
    "duplicate header",
    "header size exceeds maximum permitted",
    "improper use of 8-bit data in message header",
    "message header size, or recipient list, exceeds policy limit",
    "message mime complexity exceeds the policy maximum",
    "routing loop detected -- too many received: headers",
    "this message contain invalid mime headers",
    "this message contain improperly-formatted binary content",
    "this message contain text that uses unnecessary base64 encoding",
];
const MESGTOOBIG: &[&str] = &[
    "exceeded maximum inbound message size",
    "exceeded the maximum incoming message size",
    "line limit exceeded",
    "max message size exceeded",
    "message file too big",
    "message length exceeds administrative limit",
    "message size exceeds fixed limit",
    "message size exceeds fixed maximum message size",
    "message size exceeds maximum value",
    "message too big",
    "message too large for this ",
    "size limit",
    "taille limite du message atteinte",
];
const TOOMANYCONN: &[&str] = &[
    "all available ips are at maximum connection limit",
    "connection rate limit exceeded",
    "exceeds per-domain connection limit for",
    "has exceeded the max emails per hour ",
    "throttling failure: daily message quota exceeded",
    "throttling failure: maximum sending rate exceeded",
    "too many connections",
    "too many connections from your host.",
    "too many concurrent smtp connections",
    "too many errors from your ip",
    "too many recipients",
    "too many smtp sessions for this host",
    "trop de connexions, ",
    "we have already made numerous attempts to deliver this message",
];
const VIRUSDETECTED: &[&str] = &[
    "it has a potentially executable attachment",
    "the message was rejected because it contains prohibited virus or spam content",
    "this form of attachment has been used by recent viruses or other malware",
    "virus detected",
    "virus phishing/malicious_url detected",
    "your message was infected with a virus",
];
