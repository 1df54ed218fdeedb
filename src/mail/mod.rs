//! Mail transport adapters for the [`Mailer`] port: the outbox directory (the default, for
//! trying kairan out and for previews) and SMTP on connections we open ourselves.

use std::sync::Arc;

use crate::app::ports::Mailer;
use crate::config::Settings;

pub mod outbox;
pub mod smtp;

pub use outbox::Outbox;
pub use smtp::SmtpMailer;

/// The transport the settings ask for: SMTP when `smtp.url` is set, else the outbox.
pub fn from_settings(settings: &Settings) -> Arc<dyn Mailer> {
    match &settings.smtp.url {
        Some(url) => Arc::new(SmtpMailer::new(
            url.clone(),
            settings.smtp.hello_name.clone(),
            settings.smtp.timeout,
        )),
        None => Arc::new(Outbox::new(settings.outbox.dir.clone())),
    }
}
