//! The two mails of the double opt-in (issue 3), the confirmation request and the welcome,
//! and the answer to a subscriber's mail to the bare return address (issue 12: their
//! unsubscribe link).
//!
//! Each is rendered from `templates/email/{confirm,welcome,unsubscribe-link}.{html,txt}.hbs`
//! with Fluent messages from `locales/*/subscribe-mail.ftl`, in the subscriber's language(s) (both:
//! Japanese, then English, in one message), and built into RFC 5322 bytes by lettre's message
//! builder: `multipart/alternative`, the Subject RFC 2047-encoded by lettre, `Date`,
//! `Message-ID`, `Content-Language`, and on the welcome mail `List-Unsubscribe` (https and
//! mailto) with `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058). Links carry
//! signed tokens, never the address; the caller signs them ([`Links`]) and fixes the
//! Message-ID (one per queued mail, the same on every attempt).
//!
//! Pure: data in, bytes out. Sending is the `app::notify` use case's. Depends on the domain,
//! the settings and the renderer; nothing of `app` or `mail`.

use chrono::{DateTime, Utc};
use lettre::message::header::{self, ContentType, HeaderName, HeaderValue};
use lettre::message::{MultiPart, SinglePart};
use serde_json::json;

use super::Renderer;
use crate::config::Settings;
use crate::domain::{EmailAddress, LangPref, OutgoingMessage, Subscriber, SubscriberStatus};

/// A built message and what it was built for.
#[derive(Debug, Clone)]
pub struct BuiltMail {
    pub message: OutgoingMessage,
    pub subject: String,
}

/// The subscriber's signed links the mails carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub confirm: String,
    pub unsubscribe: String,
    pub preferences: String,
    /// The `mailto:` of List-Unsubscribe (the reader's token in the address when
    /// `bounce.return_path` is set).
    pub unsubscribe_mailto: String,
}

pub use crate::domain::MailKind;

fn template(kind: MailKind) -> &'static str {
    match kind {
        MailKind::Confirm => "confirm",
        MailKind::Welcome => "welcome",
        MailKind::UnsubscribeLink => "unsubscribe-link",
        // A console account's mail, built by `render::account_mail`; never a subscriber's.
        MailKind::UserSetup => "user-setup",
        MailKind::UnsubscribeRequested => "unsubscribe-request",
    }
}

/// RFC 3834: an answer to a mail is `auto-replied`; the others are `auto-generated`.
fn auto_submitted(kind: MailKind) -> &'static str {
    match kind {
        MailKind::UnsubscribeLink => "auto-replied",
        MailKind::Confirm
        | MailKind::Welcome
        | MailKind::UserSetup
        | MailKind::UnsubscribeRequested => "auto-generated",
    }
}

/// Builds one of the mails for `sub`, with its signed `links`, dated `now`, with
/// `message_id` (without angle brackets; the caller keeps it the same for every attempt).
pub fn build(
    renderer: &Renderer,
    settings: &Settings,
    kind: MailKind,
    sub: &Subscriber,
    links: &Links,
    message_id: &str,
    now: DateTime<Utc>,
) -> Result<BuiltMail, String> {
    Mail { renderer, settings }.build(kind, sub, links, message_id, now)
}

struct Mail<'a> {
    renderer: &'a Renderer,
    settings: &'a Settings,
}

impl Mail<'_> {
    fn build(
        &self,
        kind: MailKind,
        sub: &Subscriber,
        links: &Links,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<BuiltMail, String> {
        let n = &self.settings.newsletter;
        let ttl_days = (self.settings.subscribe.confirm_ttl.as_secs() / 86_400).max(1);
        let (confirm_url, unsubscribe_url, preferences_url) =
            (&links.confirm, &links.unsubscribe, &links.preferences);
        // Reader-supplied text only once the address's owner confirmed: before, anyone could
        // have typed it (spam through newsletter forms).
        let named = kind != MailKind::Confirm && sub.status == SubscriberStatus::Active;
        let sections: Vec<_> = sub
            .lang
            .langs()
            .iter()
            .map(|l| {
                let ls = n.lang(*l);
                let footer = footer_lines(self.renderer, self.settings, *l);
                json!({
                    "footer": footer,
                    "organisation": ls.organisation,
                    "lang": l.as_str(),
                    "name": if named { sub.name.clone().unwrap_or_default() } else { String::new() },
                    "newsletter": ls.name,
                    "sender": if ls.sender.is_empty() { n.from.name.clone().unwrap_or_default() } else { ls.sender.clone() },
                    "postal_address": ls.postal_address,
                    "contact": n.contact,
                    "ttl_days": ttl_days,
                    "lang_choice": sub.lang.as_str(),
                })
            })
            .collect();
        let first = sub.lang.langs()[0];
        let data = json!({
            "lang": first.as_str(),
            "sections": sections,
            "confirm_url": confirm_url,
            "unsubscribe_url": unsubscribe_url,
            "preferences_url": preferences_url,
            "organisation": n.lang(first).organisation,
            "logo_url": n.logo_url.as_ref().map(|u| u.as_str()),
        });
        let name = template(kind);
        let html = self
            .renderer
            .html(&format!("email/{name}.html"), &data)
            .map_err(|e| format!("rendering email/{name}.html: {e}"))?;
        let text = self
            .renderer
            .text(&format!("email/{name}.txt"), &data)
            .map_err(|e| format!("rendering email/{name}.txt: {e}"))?;
        let subject = self.subject(kind, sub.lang)?;
        let mut builder = lettre::Message::builder()
            .from(to_lettre(&n.from.name, &n.from.address)?)
            .to(to_lettre(
                if named { &sub.name } else { &None },
                &sub.email,
            )?)
            .subject(subject.clone())
            .date(now.into())
            .message_id(Some(format!("<{message_id}>")))
            .header(ContentLanguage(content_language(sub.lang)))
            .header(ListId(format!("<{}>", n.list_id)))
            .header(AutoSubmitted(auto_submitted(kind).into()));
        if let Some(reply_to) = &n.reply_to {
            builder = builder.reply_to(to_lettre(&None, reply_to)?);
        }
        if kind == MailKind::Welcome {
            builder = builder
                .header(ListUnsubscribe(format!(
                    "<{unsubscribe_url}>, <{}>",
                    links.unsubscribe_mailto
                )))
                .header(ListUnsubscribePost("List-Unsubscribe=One-Click".into()));
        }
        let message = builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )
            .map_err(|e| format!("building the message: {e}"))?;
        let envelope_from = self
            .settings
            .bounce
            .return_path
            .as_ref()
            .unwrap_or(&n.from.address)
            .to_string();
        Ok(BuiltMail {
            message: OutgoingMessage {
                envelope_from,
                envelope_to: sub.email.to_string(),
                message_id: message_id.to_owned(),
                data: message.formatted().into(),
            },
            subject,
        })
    }

    fn subject(&self, kind: MailKind, lang: LangPref) -> Result<String, String> {
        let id = match kind {
            MailKind::Confirm => "confirm-mail-subject",
            MailKind::Welcome => "welcome-mail-subject",
            MailKind::UserSetup => "user-setup-mail-subject",
            MailKind::UnsubscribeLink | MailKind::UnsubscribeRequested => {
                "unsubscribe-link-mail-subject"
            }
        };
        let parts: Result<Vec<String>, String> = lang
            .langs()
            .iter()
            .map(|l| {
                let newsletter = &self.settings.newsletter.lang(*l).name;
                self.renderer
                    .i18n()
                    .t(*l, id, &[("newsletter", newsletter.as_str())])
            })
            .collect();
        Ok(parts?.join(" / "))
    }
}

/// The footer of a mail in `lang`, one line each: who sends it (and from where), whom to
/// contact, the website, the privacy policy. A line whose setting is empty is left out,
/// never sent as "Contact: " or "送信者：Newsletter（）".
pub fn footer_lines(
    renderer: &Renderer,
    settings: &Settings,
    lang: crate::domain::Lang,
) -> Vec<String> {
    let n = &settings.newsletter;
    let ls = n.lang(lang);
    let t = |id: &str, args: &[(&str, &str)]| renderer.i18n().t(lang, id, args).unwrap_or_default();
    let sender = [
        ls.sender.trim(),
        ls.organisation.trim(),
        n.from.name.as_deref().unwrap_or("").trim(),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or("")
    .to_owned();
    let address = ls.postal_address.trim();
    let mut lines = Vec::new();
    match (sender.is_empty(), address.is_empty()) {
        (false, false) => lines.push(t(
            "mail-footer-sender",
            &[("sender", &sender), ("address", address)],
        )),
        (false, true) => lines.push(t("mail-footer-sender-only", &[("sender", &sender)])),
        (true, false) => lines.push(address.to_owned()),
        (true, true) => {}
    }
    if !n.contact.trim().is_empty() {
        lines.push(t("mail-footer-contact", &[("contact", n.contact.trim())]));
    }
    if let Some(w) = &ls.website {
        lines.push(w.to_string());
    }
    if let Some(p) = &ls.privacy_url {
        lines.push(t("mail-footer-privacy", &[("url", p.as_str())]));
    }
    lines
}

fn content_language(lang: LangPref) -> String {
    lang.langs()
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn to_lettre(
    name: &Option<String>,
    address: &EmailAddress,
) -> Result<lettre::message::Mailbox, String> {
    let addr: lettre::Address = address
        .as_str()
        .parse()
        .map_err(|e| format!("address not accepted by the mail builder: {e}"))?;
    // A display name never carries line breaks into a header (names are checked on input;
    // this is the belt to those braces).
    let name = name
        .as_ref()
        .map(|n| n.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|n| !n.trim().is_empty());
    Ok(lettre::message::Mailbox::new(name, addr))
}

// Headers lettre has no type for (ASCII values only, ours are); lettre's `Header` is keyed
// by type, so one wrapper type per header name.
macro_rules! raw_header_types {
    ($($ty:ident => $name:literal),* $(,)?) => {
        $(
            #[derive(Clone)]
            struct $ty(String);
            impl header::Header for $ty {
                fn name() -> HeaderName {
                    HeaderName::new_from_ascii_str($name)
                }
                fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                    Ok($ty(s.to_owned()))
                }
                fn display(&self) -> HeaderValue {
                    HeaderValue::new(Self::name(), self.0.clone())
                }
            }
        )*
    };
}

raw_header_types!(
    ContentLanguage => "Content-Language",
    ListId => "List-Id",
    AutoSubmitted => "Auto-Submitted",
    ListUnsubscribe => "List-Unsubscribe",
    ListUnsubscribePost => "List-Unsubscribe-Post",
);
