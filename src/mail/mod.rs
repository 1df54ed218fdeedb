//! Mail transport adapters for the [`Mailer`] port: the outbox directory (the default, for
//! trying kairan out and for previews) and SMTP on connections we open ourselves.
//!
//! Depends on the mail port and the domain (what they carry), the settings, and lettre for
//! the SMTP protocol; nothing of the use cases.

use std::sync::Arc;

use crate::app::ports::Mailer;
use crate::config::Settings;

pub mod dkim;
pub mod outbox;
pub mod probe;
pub mod smtp;

pub use outbox::Outbox;
pub use smtp::SmtpMailer;

/// The transport the settings ask for: SMTP when `smtp.url` is set, else the outbox; DKIM
/// signed when `[dkim]` is configured (a key that cannot be loaded is an error).
pub fn from_settings(settings: &Settings) -> anyhow::Result<Arc<dyn Mailer>> {
    let mailer = transport(settings);
    Ok(match &settings.dkim {
        Some(d) => Arc::new(dkim::SigningMailer::new(
            mailer,
            Arc::new(dkim::DkimSigner::load(d)?),
        )),
        None => mailer,
    })
}

fn transport(settings: &Settings) -> Arc<dyn Mailer> {
    match &settings.smtp.url {
        Some(url) => Arc::new(SmtpMailer::new(
            url.clone(),
            settings.smtp.hello_name.clone(),
            settings.smtp.timeout,
        )),
        None => Arc::new(Outbox::new(settings.outbox.dir.clone())),
    }
}
