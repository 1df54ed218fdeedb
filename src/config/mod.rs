//! Settings: `kairan.toml` layered with `KAIRAN__SECTION__KEY` environment variables,
//! validated into typed values with *every* problem reported at once (the README's
//! Configuration section lists the keys and their defaults).
//!
//! This module is the public surface; inside, `types` holds the settings structs, the
//! [`Secret`] wrapper and the defaults, `load` merges the file and the environment and
//! collects the problems, `sections` reads one section at a time, and `values` holds the
//! parsers for single values. The rest of kairan sees only [`Settings`] and its parts,
//! [`load`] and the problem types. Depends on `domain` only (and on value crates such as
//! `toml`, `url`, `cron`, `chrono`); nothing here opens a database or a socket.

mod load;
mod sections;
mod types;
mod values;

pub use load::{
    ConfigErrors, ConfigProblem, DEFAULT_CONFIG_FILE, ENV_PREFIX, Loaded, load, load_from, parse,
};
pub use types::{
    AdminSettings, BounceSettings, ConsoleMediaSettings, DatabaseSettings, DispatchSettings,
    DkimSettings, HttpSettings, ImapSettings, MailgunWebhookSettings, NewsletterLangSettings,
    NewsletterSettings, OutboxSettings, PathsSettings, PostmarkWebhookSettings, ScheduleSettings,
    Secret, SecretsSettings, SendgridWebhookSettings, SesWebhookSettings, Settings, SmtpSettings,
    SmtpTls, SmtpUrl, SubscribeSettings, WebhookSettings,
};
pub use values::{parse_cron, parse_duration};
