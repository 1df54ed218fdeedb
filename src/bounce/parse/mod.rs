//! Bounce-message parser: reads one raw email and reports whether it is a
//! bounce (or a feedback report, auto-reply, or success notice) and, for each
//! failed recipient, the address, RFC 3463 status, reason, hard/soft flag,
//! diagnostic text and SMTP reply code.
//!
//! Layout:
//! - [`mime`] decodes the message into headers and one flat text payload;
//! - [`lhost`] holds one small module per MTA family for non-standard formats;
//! - [`rfc3464`] reads delivery-status parts, [`arf`] feedback reports,
//!   [`rfc3834`] auto-replies;
//! - [`fact`] normalises what those found, [`reason`] and [`rhost`] classify.
//!
//! The rules are modelled on Sisimai (<https://libsisimai.org/>), whose
//! format knowledge and reason phrase lists this module reimplements in Rust.
//! Sisimai is Copyright (C) azumakuniyuki and the sisimai development team,
//! distributed under the BSD 2-Clause License.

pub mod address;
pub mod arf;
pub mod fact;
pub mod lhost;
pub mod mime;
pub mod reason;
pub mod rfc3464;
pub mod rfc3834;
pub mod rhost;
pub mod smtp;
pub mod text;

use serde::Serialize;

/// What kind of message this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A delivery failure (or delay) report.
    Bounce,
    /// An abuse/complaint report (ARF, RFC 5965).
    Feedback,
    /// An automatic reply (RFC 3834).
    Vacation,
    /// A success DSN.
    Delivered,
    /// Anything else.
    #[default]
    NotBounce,
}

macro_rules! reasons {
    ($($v:ident => $s:literal),* $(,)?) => {
        /// Why a message bounced, in Sisimai's vocabulary.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
        pub enum Reason {
            $(#[serde(rename = $s)] #[doc = $s] $v,)*
            /// No reason could be determined.
            #[default]
            #[serde(rename = "undefined")]
            Undefined,
        }
        impl Reason {
            /// The lower-case Sisimai name.
            pub fn as_str(self) -> &'static str {
                match self { $(Reason::$v => $s,)* Reason::Undefined => "undefined" }
            }
            /// Parses a Sisimai reason name; unknown names give `Undefined`.
            pub fn from_name(s: &str) -> Reason {
                match s { $($s => Reason::$v,)* _ => Reason::Undefined }
            }
        }
    };
}

reasons! {
    AuthFailure => "authfailure",
    BadReputation => "badreputation",
    Blocked => "blocked",
    ContentError => "contenterror",
    Delivered => "delivered",
    ExceedLimit => "exceedlimit",
    Expired => "expired",
    FailedStartTls => "failedstarttls",
    Feedback => "feedback",
    Filtered => "filtered",
    HasMoved => "hasmoved",
    HostUnknown => "hostunknown",
    MailboxFull => "mailboxfull",
    MailerError => "mailererror",
    MesgTooBig => "mesgtoobig",
    NetworkError => "networkerror",
    NoRelaying => "norelaying",
    NotAccept => "notaccept",
    NotCompliantRfc => "notcompliantrfc",
    OnHold => "onhold",
    PolicyViolation => "policyviolation",
    Rejected => "rejected",
    RequirePtr => "requireptr",
    SecurityError => "securityerror",
    SpamDetected => "spamdetected",
    Speeding => "speeding",
    Suppressed => "suppressed",
    Suspend => "suspend",
    SyntaxError => "syntaxerror",
    SystemError => "systemerror",
    SystemFull => "systemfull",
    TooManyConn => "toomanyconn",
    UserUnknown => "userunknown",
    Vacation => "vacation",
    VirusDetected => "virusdetected",
}

/// One failed (or reported) recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Recipient {
    /// The recipient address, when the report names one.
    pub address: Option<String>,
    /// RFC 3463 enhanced status code ("5.1.1"); Sisimai-style pseudo codes
    /// ("5.0.911") when the message carries none; `None` for feedback and
    /// auto-replies.
    pub status: Option<String>,
    /// Why delivery failed.
    pub reason: Reason,
    /// Hard bounce: the address itself is bad (user/host unknown, moved,
    /// permanent not-accept). Policy, content and quota failures are soft.
    pub hard: bool,
    /// The error text, cleaned up.
    pub diagnostic: Option<String>,
    /// The SMTP reply code ("550"), when found.
    pub reply: Option<String>,
}

/// Headers of the returned original message, for attribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct OriginalHeaders {
    /// `Message-ID` of the original message, without angle brackets.
    pub message_id: Option<String>,
    /// Value of the original `X-Kairan-Delivery` header.
    pub kairan_delivery: Option<String>,
    /// Original `From` address.
    pub from: Option<String>,
    /// Original `To` address.
    pub to: Option<String>,
    /// Original `Subject`.
    pub subject: Option<String>,
}

/// The parse result for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Report {
    /// True when the message is a delivery report of any kind (failure,
    /// complaint, auto-reply or success notice); `kind` tells which.
    pub bounce: bool,
    /// The reported recipients.
    pub recipients: Vec<Recipient>,
    /// What kind of report this is.
    pub kind: Kind,
    /// `To`, `Delivered-To` and `X-Original-To` addresses of the bounce
    /// itself (where a VERP return path lands).
    pub envelope_to: Vec<String>,
    /// Headers of the returned message.
    pub original_headers: OriginalHeaders,
}

/// One recipient as found by a format module, before normalisation.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub action: String,
    pub alias: String,
    pub command: String,
    pub date: String,
    pub diagnosis: String,
    pub feedback_type: String,
    pub lhost: String,
    pub reason: String,
    pub recipient: String,
    pub reply: String,
    pub rhost: String,
    pub spec: String,
    pub status: String,
}

/// What a format module returns: recipients plus the original message text
/// (at least its headers).
#[derive(Debug, Clone, Default)]
pub struct Rising {
    pub digests: Vec<Delivery>,
    pub rfc822: String,
}

/// Parses one raw email. Never panics; unknown input gives a not-bounce report.
pub fn parse(raw: &[u8]) -> Report {
    let mut email = mime::decode(raw);
    mime::unforward(&mut email);
    let rising = detect(&email);
    fact::build(&email, rising)
}

fn detect(email: &mime::Email) -> Option<Rising> {
    let order = lhost::order_by_subject(&email.subject);
    let skip_lhost = matches!(order.first(), Some(&"ARF") | Some(&"RFC3834"));
    if !skip_lhost {
        for name in &order {
            if let Some(f) = lhost::by_name(name)
                && let Some(r) = f(email)
                && !r.digests.is_empty()
            {
                return Some(r);
            }
        }
    }
    rfc3464::inquire(email)
        .or_else(|| arf::inquire(email))
        .or_else(|| rfc3834::inquire(email))
}
