//! The mail a console account gets (issue 14): its one-time setup link, in Japanese and then
//! English, plain text (a person reads it; nothing to track). Messages from
//! `locales/*/console.ftl`. Pure: data in, bytes out.

use chrono::{DateTime, Utc};

use super::Renderer;
use crate::config::Settings;
use crate::domain::{Lang, OutgoingMessage, User};

/// The setup mail for `user` with the link `url`.
pub fn setup(
    renderer: &Renderer,
    settings: &Settings,
    user: &User,
    url: &str,
    message_id: &str,
    now: DateTime<Utc>,
) -> Result<OutgoingMessage, String> {
    let n = &settings.newsletter;
    let i18n = renderer.i18n();
    let t = |lang: Lang, id: &str, args: &[(&str, &str)]| i18n.t(lang, id, args);
    let name = user.display_name();
    let mut body = String::new();
    let mut subjects = Vec::new();
    for lang in [Lang::Ja, Lang::En] {
        let org = &n.lang(lang).name;
        subjects.push(t(
            lang,
            "user-setup-mail-subject",
            &[("organisation", org)],
        )?);
        body.push_str(&t(lang, "user-setup-mail-greeting", &[("name", &name)])?);
        body.push_str("\n\n");
        body.push_str(&t(
            lang,
            "user-setup-mail-body",
            &[("organisation", org), ("role", user.role.as_str())],
        )?);
        body.push_str("\n\n");
        body.push_str(url);
        body.push_str("\n\n");
        body.push_str(&t(lang, "user-setup-mail-expiry", &[])?);
        body.push_str("\n\n");
    }
    let from: lettre::Address = n
        .from
        .address
        .as_str()
        .parse()
        .map_err(|e| format!("the sender address: {e}"))?;
    let to: lettre::Address = user
        .email
        .as_str()
        .parse()
        .map_err(|e| format!("the account's address: {e}"))?;
    let message = lettre::Message::builder()
        .from(lettre::message::Mailbox::new(n.from.name.clone(), from))
        .to(lettre::message::Mailbox::new(None, to))
        .subject(subjects.join(" / "))
        .date(now.into())
        .message_id(Some(format!("<{message_id}>")))
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| format!("building the message: {e}"))?;
    Ok(OutgoingMessage {
        envelope_from: n.from.address.to_string(),
        envelope_to: user.email.to_string(),
        message_id: message_id.to_owned(),
        data: message.formatted().into(),
    })
}
