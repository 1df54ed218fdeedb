//! The mail side's health probes (`app::ports::MailProbes`, issue 16): the SMTP relay
//! (connect, TLS, EHLO, authentication, QUIT) and the DKIM key, from the settings.
//!
//! Depends on the ports, the settings and the mail adapters.

use crate::app::ports::MailProbes;
use crate::config::{DkimSettings, Settings};

use super::smtp::SmtpMailer;

pub struct SettingsProbes {
    smtp: Option<SmtpMailer>,
    dkim: Option<DkimSettings>,
}

impl SettingsProbes {
    pub fn new(settings: &Settings) -> Self {
        SettingsProbes {
            smtp: settings.smtp.url.clone().map(|url| {
                SmtpMailer::new(url, settings.smtp.hello_name.clone(), settings.smtp.timeout)
            }),
            dkim: settings.dkim.clone(),
        }
    }
}

#[async_trait::async_trait]
impl MailProbes for SettingsProbes {
    async fn smtp(&self) -> Option<Result<String, String>> {
        Some(self.smtp.as_ref()?.probe().await)
    }

    fn dkim(&self) -> Option<Result<String, String>> {
        let d = self.dkim.as_ref()?;
        Some(
            super::dkim::DkimSigner::load(d)
                .map(|s| {
                    format!(
                        "{} key for {}._domainkey.{}",
                        s.algorithm(),
                        d.selector,
                        d.domain
                    )
                })
                .map_err(|e| format!("{e:#}")),
        )
    }
}
