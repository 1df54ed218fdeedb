//! The settings as the rest of kairan sees them: one plain struct per `kairan.toml` section,
//! the [`Secret`] wrapper that keeps passwords and keys out of `Debug` output, and the
//! built-in [`defaults`]. Every value here has already been checked by the loader, so users
//! of these types trust them. Depends on `domain` (addresses, languages) and on value crates
//! (`url`, `cron`, `chrono`); nothing here reads files or the environment.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::{EmailAddress, Lang, Mailbox};

/// The values used when a key is absent, as they would be written in `kairan.toml` (the
/// README lists them with each key). Defaults that depend on another key are computed by the
/// loader: `http.base_url` from `http.listen`, `newsletter.list_id` from `newsletter.from`,
/// and `bounce.imap.port` from `bounce.imap.tls`.
pub mod defaults {
    pub const DATABASE_URL: &str = "sqlite://kairan.db";
    pub const DATABASE_MAX_CONNECTIONS: i64 = 16;

    pub const HTTP_LISTEN: &str = "127.0.0.1:8080";
    pub const HTTP_BODY_LIMIT: i64 = 1024 * 1024;
    pub const HTTP_REQUEST_TIMEOUT: &str = "30s";

    pub const CONSOLE_SESSION_IDLE: &str = "2h";
    pub const CONSOLE_SESSION_LIFETIME: &str = "12h";

    pub const NEWSLETTER_FROM: &str = "Newsletter <newsletter@example.org>";
    pub const NEWSLETTER_DEFAULT_LANGUAGE: &str = "en";
    /// Japanese mobile carriers whose handsets may still not decode UTF-8 mail.
    pub const NEWSLETTER_LEGACY_CHARSET_DOMAINS: &[&str] = &["docomo.ne.jp", "ezweb.ne.jp"];
    pub const NEWSLETTER_JA_NAME: &str = "月刊ニュースレター";
    pub const NEWSLETTER_EN_NAME: &str = "Monthly newsletter";

    /// 09:00 on the first of every month.
    pub const SCHEDULE_CRON: &str = "0 0 9 1 * *";
    pub const SCHEDULE_TIMEZONE: &str = "Asia/Tokyo";
    pub const SCHEDULE_CATCH_UP: &str = "24h";

    pub const DISPATCH_BATCH_SIZE: i64 = 500;
    pub const DISPATCH_CONCURRENCY: i64 = 8;
    /// 0: unlimited.
    pub const DISPATCH_RATE_PER_MINUTE: i64 = 0;
    pub const DISPATCH_MAX_ATTEMPTS: i64 = 5;
    /// Renewed by the run's heartbeat every third of it: a dead instance's work returns
    /// within this much on another host (at once on the same host).
    pub const DISPATCH_LEASE: &str = "30s";
    pub const DISPATCH_RETRY_BASE: &str = "1m";
    pub const DISPATCH_RETRY_MAX: &str = "6h";
    pub const DISPATCH_DB_PATIENCE: &str = "10m";

    pub const SMTP_TIMEOUT: &str = "60s";

    pub const OUTBOX_DIR: &str = "outbox";

    pub const DKIM_SELECTOR: &str = "kairan";

    pub const BOUNCE_SOFT_THRESHOLD: i64 = 5;
    pub const BOUNCE_SOFT_WINDOW: &str = "30d";
    pub const IMAP_TLS: bool = true;
    pub const IMAP_PORT_TLS: i64 = 993;
    pub const IMAP_PORT_PLAIN: i64 = 143;
    pub const IMAP_FOLDER: &str = "INBOX";
    pub const IMAP_INTERVAL: &str = "60s";

    pub const SUBSCRIBE_CONFIRM_TTL: &str = "7d";
    pub const CONSOLE_MAX_IMAGE_BYTES: i64 = 5 * 1024 * 1024;
    pub const CONSOLE_MAX_IMPORT_BYTES: i64 = 64 * 1024 * 1024;
    pub const SUBSCRIBE_RESEND_INTERVAL: &str = "10m";
    pub const SUBSCRIBE_RATE_LIMIT_PER_MINUTE: i64 = 10;
    pub const SUBSCRIBE_TRUST_FORWARDED_FOR: bool = false;
    pub const SUBSCRIBE_MIN_FILL_TIME: &str = "3s";
    pub const SUBSCRIBE_FORM_MAX_AGE: &str = "1d";
    pub const SUBSCRIBE_CONFIRMATIONS_PER_ADDRESS_PER_DAY: i64 = 5;
    pub const SUBSCRIBE_PENDING_PER_DOMAIN_PER_HOUR: i64 = 50;
}

/// A secret value (password, key, token): never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub admin: AdminSettings,
    pub newsletter: NewsletterSettings,
    pub schedule: ScheduleSettings,
    pub dispatch: DispatchSettings,
    pub smtp: SmtpSettings,
    pub outbox: OutboxSettings,
    pub dkim: Option<DkimSettings>,
    pub bounce: BounceSettings,
    pub secrets: SecretsSettings,
    pub paths: PathsSettings,
    pub subscribe: SubscribeSettings,
    pub console: ConsoleSettings,
    /// `console.max_image_bytes` (the editors' image uploads).
    pub console_media: ConsoleMediaSettings,
}

/// The editors' console's image uploads.
#[derive(Debug, Clone)]
pub struct ConsoleMediaSettings {
    /// The largest image accepted, in bytes.
    pub max_image_bytes: u64,
    /// `console.max_import_bytes`: the largest CSV file the console's import accepts.
    pub max_import_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `sqlite://path` or `postgres://…`; the scheme picks the backend.
    pub url: Secret,
    pub max_connections: u32,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    pub base_url: url::Url,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// A request that takes longer is answered 408 (and cannot hold up shutdown).
    pub request_timeout: Duration,
}

/// `[console]`: the web console's accounts (issue 14).
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// Every account must have TOTP: one without it enrols at its next login.
    pub require_totp: bool,
    /// Sending an issue needs a second person: a different admin approves the request.
    pub require_approval: bool,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after login, used or not.
    pub session_lifetime: Duration,
}

#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Unset: the admin API is off.
    pub token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct NewsletterSettings {
    pub from: Mailbox,
    pub reply_to: Option<EmailAddress>,
    pub contact: String,
    pub list_id: String,
    pub default_language: Lang,
    pub legacy_charset_domains: Vec<String>,
    pub ja: NewsletterLangSettings,
    pub en: NewsletterLangSettings,
    /// The organisation's logo on pages and in mail (`newsletter.logo_url`, https only).
    pub logo_url: Option<url::Url>,
}

impl NewsletterSettings {
    pub fn lang(&self, lang: Lang) -> &NewsletterLangSettings {
        match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }

    /// The legal-footer settings that are still empty, as config keys. Queueing an issue is
    /// refused while any is (Japan's Specified Email Act, CAN-SPAM); the daemon starts anyway.
    pub fn missing_legal_settings(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.contact.trim().is_empty() {
            missing.push("newsletter.contact");
        }
        for (lang, s) in [("ja", &self.ja), ("en", &self.en)] {
            if s.sender.trim().is_empty() {
                missing.push(if lang == "ja" {
                    "newsletter.ja.sender"
                } else {
                    "newsletter.en.sender"
                });
            }
            if s.postal_address.trim().is_empty() {
                missing.push(if lang == "ja" {
                    "newsletter.ja.postal_address"
                } else {
                    "newsletter.en.postal_address"
                });
            }
        }
        missing
    }
}

#[derive(Debug, Clone)]
pub struct NewsletterLangSettings {
    pub name: String,
    pub sender: String,
    pub postal_address: String,
    /// The organisation's name in this language (`newsletter.{ja,en}.organisation`, else
    /// `newsletter.organisation`); empty: not shown.
    pub organisation: String,
    /// Its website (`…website`); `None`: not shown.
    pub website: Option<url::Url>,
    /// Its privacy policy (`…privacy_url`); `None`: not shown.
    pub privacy_url: Option<url::Url>,
}

#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    /// Six fields with seconds: `sec min hour day month weekday`.
    pub cron: cron::Schedule,
    pub cron_text: String,
    pub timezone: chrono_tz::Tz,
    pub catch_up: Duration,
    /// `console.require_approval`, for the scheduler (set by `startup`): a queued issue
    /// starts only with a send request approved by a different admin.
    pub require_approval: bool,
}

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    pub batch_size: u32,
    pub concurrency: u32,
    /// 0: unlimited.
    pub rate_per_minute: u32,
    pub max_attempts: u32,
    /// Per destination domain, messages per minute.
    pub domain_limits: BTreeMap<String, u32>,
    /// How long a claimed batch stays leased before another worker may take it back.
    pub lease: Duration,
    /// The first wait after a temporary failure; doubled each attempt up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How long `send` and `serve` wait for an unreachable (or locked) database before giving
    /// up; meanwhile they send nothing new and keep what they could not record.
    pub db_patience: Duration,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Unset: messages go to the outbox directory.
    pub url: Option<SmtpUrl>,
    pub timeout: Duration,
    /// The name sent in EHLO; defaults to the machine's host name.
    pub hello_name: Option<String>,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (a local relay).
    None,
    /// STARTTLS when the server offers it.
    Opportunistic,
    /// STARTTLS, refusing to send without it.
    Required,
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit,
}

/// A parsed `smtp://` / `smtps://` URL (`SmtpUrl::parse` is with the other value parsers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    pub password: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct OutboxSettings {
    pub dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct DkimSettings {
    pub domain: String,
    pub selector: String,
    pub private_key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct BounceSettings {
    /// VERP base: `bounces@example.org` becomes `bounces+TOKEN@example.org`.
    pub return_path: Option<EmailAddress>,
    pub soft_threshold: u32,
    pub soft_window: Duration,
    pub imap: Option<ImapSettings>,
    /// The providers' event webhooks (`[bounce.webhooks.*]`); each is off unless present.
    pub webhooks: WebhookSettings,
}

#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub user: String,
    pub password: Secret,
    pub folder: String,
    pub interval: Duration,
}

/// `[bounce.webhooks.ses|sendgrid|postmark|mailgun]`: a provider's route exists only when its
/// table is present and complete.
#[derive(Debug, Clone, Default)]
pub struct WebhookSettings {
    pub ses: Option<SesWebhookSettings>,
    pub sendgrid: Option<SendgridWebhookSettings>,
    pub postmark: Option<PostmarkWebhookSettings>,
    pub mailgun: Option<MailgunWebhookSettings>,
}

/// Amazon SES through SNS: only messages of these topics are believed, and only their
/// subscriptions are confirmed.
#[derive(Debug, Clone)]
pub struct SesWebhookSettings {
    /// `arn:aws:sns:REGION:ACCOUNT:TOPIC`, at least one.
    pub topic_arns: Vec<String>,
}

/// SendGrid's signed event webhook.
#[derive(Debug, Clone)]
pub struct SendgridWebhookSettings {
    /// The verification key's P-256 point (uncompressed SEC1, 65 bytes), taken from the
    /// base64 DER `SubjectPublicKeyInfo` SendGrid shows.
    pub public_key: Vec<u8>,
}

/// Postmark: the HTTP basic credentials put in the webhook's URL.
#[derive(Debug, Clone)]
pub struct PostmarkWebhookSettings {
    pub username: String,
    pub password: Secret,
}

/// Mailgun: the HTTP webhook signing key.
#[derive(Debug, Clone)]
pub struct MailgunWebhookSettings {
    pub signing_key: Secret,
}

#[derive(Debug, Clone)]
pub struct SecretsSettings {
    /// HMAC key for tokens; unset: generated on first start and kept next to the database.
    pub signing_key: Option<Secret>,
    /// Keys still accepted when verifying, after a rotation.
    pub previous_signing_keys: Vec<Secret>,
    /// Until when the previous keys are accepted (unset: as long as they are listed).
    pub previous_signing_keys_until: Option<chrono::DateTime<chrono::Utc>>,
}

/// The reader-facing subscription pages (issue 3).
#[derive(Debug, Clone)]
pub struct SubscribeSettings {
    /// How long a confirmation link stays valid.
    pub confirm_ttl: Duration,
    /// A pending address gets at most one confirmation mail per this interval.
    pub resend_interval: Duration,
    /// `POST /subscribe` requests per minute per client address; more get 429.
    pub rate_limit_per_minute: u32,
    /// Take the client address from the last `X-Forwarded-For` entry (behind a reverse
    /// proxy that appends it), not from the TCP peer.
    pub trust_forwarded_for: bool,
    /// A form sent sooner than this after it was served is a bot's (`0s`: no check).
    pub min_fill_time: Duration,
    /// A form older than this is served again with a fresh stamp.
    pub form_max_age: Duration,
    /// Confirmation (and unsubscribe-link) mails one address gets per 24 hours at most.
    pub confirmations_per_address_per_day: u32,
    /// New pending sign-ups per address domain per hour at most.
    pub pending_per_domain_per_hour: u32,
    /// Origins (`https://www.example.org`) whose pages may carry the subscribe form.
    pub embed_origins: Vec<String>,
    /// Where a form posted from a listed origin sends the reader afterwards (303); `None`:
    /// the "check your inbox" page.
    pub thank_you_url: Option<url::Url>,
    /// Proof of work for the subscribe form: leading zero bits of SHA-256 the reader's
    /// browser must find (`/static/pow.js`); 0 (the default) turns it off.
    pub proof_of_work: u8,
}

#[derive(Debug, Clone)]
pub struct PathsSettings {
    /// Override the built-in templates / locales with these directories.
    pub templates: Option<PathBuf>,
    pub locales: Option<PathBuf>,
}
