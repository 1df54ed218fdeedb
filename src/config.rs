//! Settings: `kairan.toml` layered with `KAIRAN__SECTION__KEY` environment variables,
//! validated into typed values with *every* problem reported at once.
//!
//! The file and the environment are merged into one TOML tree first; then a [`Reader`]
//! walks the tree key by key, converting and checking each value, recording every problem
//! (with the key and where it came from) instead of stopping at the first, and marking each
//! key it reads. Whatever is left unread afterwards is an unknown key, reported too
//! (Stalwart's config loader works the same way). Depends on `domain` only.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::domain::{EmailAddress, Lang, Mailbox};

/// The prefix of environment overrides; `__` separates nesting levels.
pub const ENV_PREFIX: &str = "KAIRAN__";
/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "kairan.toml";

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
}

#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    /// Six fields with seconds: `sec min hour day month weekday`.
    pub cron: cron::Schedule,
    pub cron_text: String,
    pub timezone: chrono_tz::Tz,
    pub catch_up: Duration,
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

/// A parsed `smtp://` / `smtps://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    pub password: Option<Secret>,
}

impl SmtpUrl {
    /// `smtp://host[:port][?tls=none|opportunistic|required]`, `smtps://user:pass@host[:465]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let url = url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
        let (default_port, mut tls) = match url.scheme() {
            "smtp" => (25, SmtpTls::None),
            "smtps" => (465, SmtpTls::Implicit),
            other => return Err(format!("scheme `{other}` is not smtp or smtps")),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the URL has no host")?
            .trim_matches(|c| c == '[' || c == ']')
            .to_owned();
        for (k, v) in url.query_pairs() {
            match (k.as_ref(), v.as_ref()) {
                ("tls", "none") if tls != SmtpTls::Implicit => tls = SmtpTls::None,
                ("tls", "opportunistic") if tls != SmtpTls::Implicit => {
                    tls = SmtpTls::Opportunistic
                }
                ("tls", "required") if tls != SmtpTls::Implicit => tls = SmtpTls::Required,
                ("tls", other) => {
                    return Err(format!(
                        "tls=`{other}` is not one of none, opportunistic, required (smtps:// is always TLS)"
                    ));
                }
                (other, _) => return Err(format!("unknown URL parameter `{other}`")),
            }
        }
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| "the user or password is not valid UTF-8".to_owned())
        };
        let user = (!url.username().is_empty())
            .then(|| decode(url.username()))
            .transpose()?;
        let password = url.password().map(decode).transpose()?.map(Secret);
        if password.is_some() && user.is_none() {
            return Err("a password without a user name".into());
        }
        Ok(SmtpUrl {
            host,
            port: url.port().unwrap_or(default_port),
            tls,
            user,
            password,
        })
    }
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
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
}

#[derive(Debug, Clone)]
pub struct PathsSettings {
    /// Override the built-in templates / locales with these directories.
    pub templates: Option<PathBuf>,
    pub locales: Option<PathBuf>,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The dotted key (`http.listen`) or, for the file as a whole, the file name.
    pub key: String,
    /// Where the value came from: the file, or the environment variable's name.
    pub origin: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.key, self.origin, self.message)
    }
}

/// Every problem found, so the operator fixes them in one go.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "the configuration has {n} problem{}: ",
            if n == 1 { "" } else { "s" }
        )?;
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Where the settings came from, for `kairan check` and the startup log.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Environment variables that overrode values (names only, never values).
    pub env_keys: Vec<String>,
}

/// Loads settings: `explicit` (from `--config`, must exist) or `./kairan.toml` when present,
/// then the process environment.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigErrors> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_from(explicit, &env)
}

/// As [`load`], with the environment given (tests pass their own).
pub fn load_from(
    explicit: Option<&Path>,
    env: &[(String, String)],
) -> Result<Loaded, ConfigErrors> {
    let (file, text) = match explicit {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => (Some(path.to_path_buf()), t),
            Err(e) => {
                return Err(ConfigErrors(vec![ConfigProblem {
                    key: path.display().to_string(),
                    origin: "--config".into(),
                    message: format!("cannot read the file: {e}"),
                }]));
            }
        },
        None => {
            let p = Path::new(DEFAULT_CONFIG_FILE);
            match std::fs::read_to_string(p) {
                Ok(t) => (Some(p.to_path_buf()), t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, String::new()),
                Err(e) => {
                    return Err(ConfigErrors(vec![ConfigProblem {
                        key: DEFAULT_CONFIG_FILE.into(),
                        origin: "file".into(),
                        message: format!("cannot read the file: {e}"),
                    }]));
                }
            }
        }
    };
    let origin = file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "defaults".into());
    let (settings, env_keys) = parse(&text, &origin, env)?;
    Ok(Loaded {
        settings,
        file,
        env_keys,
    })
}

/// Parses TOML text plus environment overrides into validated settings.
pub fn parse(
    toml_text: &str,
    origin: &str,
    env: &[(String, String)],
) -> Result<(Settings, Vec<String>), ConfigErrors> {
    let mut table: toml::Table = match toml_text.parse() {
        Ok(t) => t,
        Err(e) => {
            return Err(ConfigErrors(vec![ConfigProblem {
                key: origin.to_owned(),
                origin: "file".into(),
                message: format!("not valid TOML: {}", e.to_string().trim()),
            }]));
        }
    };
    let mut origins = BTreeMap::new();
    let mut env_keys = Vec::new();
    let mut problems = Vec::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        if path.iter().any(String::is_empty) {
            problems.push(ConfigProblem {
                key: name.clone(),
                origin: "environment".into(),
                message: "empty key segment (use KAIRAN__SECTION__KEY)".into(),
            });
            continue;
        }
        if let Err(message) = set_path(&mut table, &path, toml::Value::String(value.clone())) {
            problems.push(ConfigProblem {
                key: path.join("."),
                origin: format!("environment {name}"),
                message,
            });
            continue;
        }
        origins.insert(path.join("."), format!("environment {name}"));
        env_keys.push(name.clone());
    }
    env_keys.sort();
    let mut r = Reader {
        root: table,
        default_origin: origin.to_owned(),
        origins,
        used: BTreeSet::new(),
        problems,
    };
    let settings = read_settings(&mut r);
    r.report_unknown_keys();
    if r.problems.is_empty() {
        Ok((settings, env_keys))
    } else {
        Err(ConfigErrors(r.problems))
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut t = table;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{p}` is a value in the file, not a table"))?;
    }
    t.insert(last.clone(), value);
    Ok(())
}

fn read_settings(r: &mut Reader) -> Settings {
    let from = r.parse_or(
        "newsletter.from",
        "Newsletter <newsletter@example.org>",
        |s| Mailbox::parse(s).map_err(|e| e.to_string()),
    );
    let default_list_id = format!("newsletter.{}", from.address.domain());
    let listen: SocketAddr = r.parse_or("http.listen", "127.0.0.1:8080", |s| {
        s.parse()
            .map_err(|_| "expected host:port, e.g. 127.0.0.1:8080".into())
    });
    let default_base = format!("http://{listen}");
    let base_url = r.parse_or("http.base_url", &default_base, |s| {
        let u = url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
        match u.scheme() {
            "http" | "https" if u.host().is_some() => Ok(u),
            _ => Err("expected an http:// or https:// URL with a host".into()),
        }
    });

    let newsletter_lang = |r: &mut Reader, lang: &str, default_name: &str| NewsletterLangSettings {
        name: r.string_or(&format!("newsletter.{lang}.name"), default_name),
        sender: r.string_or(&format!("newsletter.{lang}.sender"), ""),
        postal_address: r.string_or(&format!("newsletter.{lang}.postal_address"), ""),
    };

    let cron_text = r.string_or("schedule.cron", "0 0 9 1 * *");
    let cron = match parse_cron(&cron_text) {
        Ok(c) => Some(c),
        Err(e) => {
            r.problem("schedule.cron", e);
            None
        }
    };

    let smtp_url = r
        .opt_string("smtp.url")
        .and_then(|s| match SmtpUrl::parse(&s) {
            Ok(u) => Some(u),
            Err(e) => {
                r.problem("smtp.url", e);
                None
            }
        });

    let dkim = if r.has("dkim") {
        let domain = r.required_string("dkim.domain");
        let selector = r.string_or("dkim.selector", "kairan");
        let key = r.required_string("dkim.private_key");
        match (domain, key) {
            (Some(domain), Some(key)) => Some(DkimSettings {
                domain,
                selector,
                private_key: PathBuf::from(key),
            }),
            _ => None,
        }
    } else {
        None
    };

    let imap = if r.has("bounce.imap") {
        let host = r.required_string("bounce.imap.host");
        let tls = r.bool_or("bounce.imap.tls", true);
        let port = r.int_or("bounce.imap.port", if tls { 993 } else { 143 }, 1, 65535) as u16;
        let user = r.required_string("bounce.imap.user");
        let password = r.required_string("bounce.imap.password");
        let folder = r.string_or("bounce.imap.folder", "INBOX");
        let interval = r.duration_or("bounce.imap.interval", "60s");
        match (host, user, password) {
            (Some(host), Some(user), Some(password)) => Some(ImapSettings {
                host,
                port,
                tls,
                user,
                password: Secret(password),
                folder,
                interval,
            }),
            _ => None,
        }
    } else {
        None
    };

    let settings = Settings {
        database: DatabaseSettings {
            url: Secret(r.parse_or("database.url", "sqlite://kairan.db", |s| {
                match s.split_once("://").map(|(scheme, _)| scheme) {
                    Some("sqlite" | "postgres" | "postgresql") => Ok(s.to_owned()),
                    _ => Err("expected sqlite://PATH or postgres://USER@HOST/DB".into()),
                }
            })),
            max_connections: r.int_or("database.max_connections", 16, 1, 1000) as u32,
        },
        http: HttpSettings {
            listen,
            base_url,
            body_limit: r.int_or("http.body_limit", 1024 * 1024, 1024, 1 << 30) as usize,
            request_timeout: r.duration_or("http.request_timeout", "30s"),
        },
        admin: AdminSettings {
            token: r.opt_string("admin.token").and_then(|t| {
                if t.len() < 16 {
                    r.problem("admin.token", "must be at least 16 characters".into());
                    None
                } else {
                    Some(Secret(t))
                }
            }),
        },
        newsletter: NewsletterSettings {
            from,
            reply_to: r.opt_parse("newsletter.reply_to", |s| {
                EmailAddress::parse(s).map_err(|e| e.to_string())
            }),
            contact: r.string_or("newsletter.contact", ""),
            list_id: r.parse_or("newsletter.list_id", &default_list_id, |s| {
                let ok = !s.is_empty()
                    && s.contains('.')
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
                if ok {
                    Ok(s.to_owned())
                } else {
                    Err("expected a dotted name such as monthly.example.org".into())
                }
            }),
            default_language: r.parse_or("newsletter.default_language", "en", |s| {
                Lang::from_str(s).map_err(|e| e.to_string())
            }),
            legacy_charset_domains: r
                .string_list_or(
                    "newsletter.legacy_charset_domains",
                    &["docomo.ne.jp", "ezweb.ne.jp"],
                )
                .into_iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
            ja: newsletter_lang(r, "ja", "月刊ニュースレター"),
            en: newsletter_lang(r, "en", "Monthly newsletter"),
        },
        schedule: ScheduleSettings {
            cron: cron.unwrap_or_else(|| parse_cron("0 0 9 1 * *").expect("valid default")),
            cron_text,
            timezone: r.parse_or("schedule.timezone", "Asia/Tokyo", |s| {
                chrono_tz::Tz::from_str(s)
                    .map_err(|_| format!("`{s}` is not an IANA time zone such as Asia/Tokyo"))
            }),
            catch_up: r.duration_or("schedule.catch_up", "24h"),
        },
        dispatch: DispatchSettings {
            batch_size: r.int_or("dispatch.batch_size", 500, 1, 100_000) as u32,
            concurrency: r.int_or("dispatch.concurrency", 8, 1, 256) as u32,
            rate_per_minute: r.int_or("dispatch.rate_per_minute", 0, 0, 10_000_000) as u32,
            max_attempts: r.int_or("dispatch.max_attempts", 5, 1, 100) as u32,
            domain_limits: r.domain_limits("dispatch.domain_limits"),
            lease: r.duration_or("dispatch.lease", "5m"),
            retry_base: r.duration_or("dispatch.retry_base", "1m"),
            retry_max: r.duration_or("dispatch.retry_max", "6h"),
        },
        smtp: SmtpSettings {
            url: smtp_url,
            timeout: r.duration_or("smtp.timeout", "60s"),
            hello_name: r.opt_string("smtp.hello_name"),
        },
        outbox: OutboxSettings {
            dir: PathBuf::from(r.string_or("outbox.dir", "outbox")),
        },
        dkim,
        bounce: BounceSettings {
            return_path: r.opt_parse("bounce.return_path", |s| {
                let a = EmailAddress::parse(s).map_err(|e| e.to_string())?;
                if a.local_part().contains('+') {
                    return Err("must not contain `+`: kairan adds +TOKEN itself (VERP)".into());
                }
                // VERP adds `+` and a 46-character token; RFC 5321 allows 64 octets.
                if a.local_part().len() > 17 {
                    return Err("the part before @ may have at most 17 characters: kairan adds +TOKEN (47 more) for VERP".into());
                }
                Ok(a)
            }),
            soft_threshold: r.int_or("bounce.soft_threshold", 5, 1, 1000) as u32,
            soft_window: r.duration_or("bounce.soft_window", "30d"),
            imap,
        },
        secrets: SecretsSettings {
            signing_key: r.opt_string("secrets.signing_key").and_then(|k| {
                if k.len() < 32 {
                    r.problem(
                        "secrets.signing_key",
                        "must be at least 32 characters".into(),
                    );
                    None
                } else {
                    Some(Secret(k))
                }
            }),
            previous_signing_keys: r
                .string_list_or("secrets.previous_signing_keys", &[])
                .into_iter()
                .map(Secret)
                .collect(),
            previous_signing_keys_until: r.opt_parse("secrets.previous_signing_keys_until", |s| {
                chrono::DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|e| format!("expected an RFC 3339 time such as 2027-01-31T00:00:00+09:00 ({e})"))
            }),
        },
        paths: PathsSettings {
            templates: r.opt_string("paths.templates").map(PathBuf::from),
            locales: r.opt_string("paths.locales").map(PathBuf::from),
        },
        subscribe: SubscribeSettings {
            confirm_ttl: r.duration_or("subscribe.confirm_ttl", "7d"),
            resend_interval: r.duration_or("subscribe.resend_interval", "10m"),
            rate_limit_per_minute: r.int_or("subscribe.rate_limit_per_minute", 10, 1, 100_000)
                as u32,
            trust_forwarded_for: r.bool_or("subscribe.trust_forwarded_for", false),
        },
    };
    if settings.subscribe.confirm_ttl < Duration::from_secs(60) {
        r.problem("subscribe.confirm_ttl", "must be at least 1m".into());
    }
    if settings.dispatch.lease < Duration::from_secs(10) {
        r.problem("dispatch.lease", "must be at least 10s".into());
    }
    settings
}

/// Parses a six-field cron expression (`sec min hour day month weekday`).
pub fn parse_cron(s: &str) -> Result<cron::Schedule, String> {
    let fields = s.split_whitespace().count();
    if fields != 6 {
        return Err(format!(
            "expected six fields `sec min hour day month weekday`, found {fields}"
        ));
    }
    cron::Schedule::from_str(s).map_err(|e| format!("not a valid cron expression: {e}"))
}

/// Parses `90s`, `10m`, `24h`, `30d`, `1h30m` into a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("`{s}` is not a duration such as 90s, 10m, 24h or 30d");
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut seen = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let mult = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(err()),
        };
        let n: u64 = num.parse().map_err(|_| err())?;
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(err)?;
        num.clear();
        seen = true;
    }
    if !num.is_empty() || !seen {
        return Err(err());
    }
    Ok(Duration::from_secs(total))
}

/// Walks the merged tree; see the module docs.
struct Reader {
    root: toml::Table,
    default_origin: String,
    /// Dotted keys set from the environment → the variable's name.
    origins: BTreeMap<String, String>,
    used: BTreeSet<String>,
    problems: Vec<ConfigProblem>,
}

impl Reader {
    fn origin(&self, key: &str) -> String {
        self.origins
            .get(key)
            .cloned()
            .unwrap_or_else(|| self.default_origin.clone())
    }

    fn problem(&mut self, key: &str, message: String) {
        let origin = self.origin(key);
        self.problems.push(ConfigProblem {
            key: key.to_owned(),
            origin,
            message,
        });
    }

    fn lookup(&self, key: &str) -> Option<&toml::Value> {
        let mut parts = key.split('.');
        let mut v = self.root.get(parts.next()?)?;
        for p in parts {
            v = v.as_table()?.get(p)?;
        }
        Some(v)
    }

    fn has(&self, key: &str) -> bool {
        self.lookup(key).is_some()
    }

    /// Marks `key` read and returns its value.
    fn take(&mut self, key: &str) -> Option<toml::Value> {
        self.used.insert(key.to_owned());
        self.lookup(key).cloned()
    }

    /// A scalar as text: strings as they are, numbers and booleans formatted (an env value
    /// is always text, a file value may be either).
    fn opt_string(&mut self, key: &str) -> Option<String> {
        match self.take(key)? {
            toml::Value::String(s) => Some(s),
            toml::Value::Integer(i) => Some(i.to_string()),
            toml::Value::Float(f) => Some(f.to_string()),
            toml::Value::Boolean(b) => Some(b.to_string()),
            other => {
                self.problem(key, format!("expected text, found {}", other.type_str()));
                None
            }
        }
    }

    fn string_or(&mut self, key: &str, default: &str) -> String {
        self.opt_string(key).unwrap_or_else(|| default.to_owned())
    }

    fn required_string(&mut self, key: &str) -> Option<String> {
        let v = self.opt_string(key);
        if v.is_none() && !self.problems.iter().any(|p| p.key == key) {
            self.problem(key, "is required in this section".into());
        }
        v
    }

    fn opt_parse<T>(&mut self, key: &str, f: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let s = self.opt_string(key)?;
        match f(&s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(key, e);
                None
            }
        }
    }

    /// Parses the value, or the default when the key is absent. A bad value is recorded and
    /// the default stands in, so the remaining keys are still checked.
    fn parse_or<T>(
        &mut self,
        key: &str,
        default: &str,
        f: impl Fn(&str) -> Result<T, String>,
    ) -> T {
        match self.opt_string(key) {
            Some(s) => match f(&s) {
                Ok(v) => v,
                Err(e) => {
                    self.problem(key, e);
                    f(default).unwrap_or_else(|_| panic!("default of {key} is valid"))
                }
            },
            None => f(default).unwrap_or_else(|_| panic!("default of {key} is valid")),
        }
    }

    fn int_or(&mut self, key: &str, default: i64, min: i64, max: i64) -> i64 {
        let v = match self.take(key) {
            None => return default,
            Some(toml::Value::Integer(i)) => Ok(i),
            Some(toml::Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("expected a whole number, found `{s}`")),
            Some(other) => Err(format!(
                "expected a whole number, found {}",
                other.type_str()
            )),
        };
        match v {
            Ok(i) if (min..=max).contains(&i) => i,
            Ok(i) => {
                self.problem(key, format!("{i} is out of range {min}..={max}"));
                default
            }
            Err(e) => {
                self.problem(key, e);
                default
            }
        }
    }

    fn bool_or(&mut self, key: &str, default: bool) -> bool {
        match self.take(key) {
            None => default,
            Some(toml::Value::Boolean(b)) => b,
            Some(toml::Value::String(s)) if s == "true" => true,
            Some(toml::Value::String(s)) if s == "false" => false,
            Some(other) => {
                self.problem(key, format!("expected true or false, found {other}"));
                default
            }
        }
    }

    fn duration_or(&mut self, key: &str, default: &str) -> Duration {
        self.parse_or(key, default, parse_duration)
    }

    /// A list of strings: a TOML array, or (from the environment) `a,b` or `["a", "b"]`.
    fn string_list_or(&mut self, key: &str, default: &[&str]) -> Vec<String> {
        let value = match self.take(key) {
            None => return default.iter().map(|s| s.to_string()).collect(),
            Some(toml::Value::String(s)) if s.trim_start().starts_with('[') => {
                match format!("v = {s}").parse::<toml::Table>() {
                    Ok(mut t) => t.remove("v").expect("just set"),
                    Err(_) => {
                        self.problem(key, format!("`{s}` is not a TOML array"));
                        return Vec::new();
                    }
                }
            }
            Some(toml::Value::String(s)) => {
                return s
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            Some(v) => v,
        };
        match value {
            toml::Value::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.into_iter().enumerate() {
                    match item {
                        toml::Value::String(s) => out.push(s),
                        other => self.problem(
                            key,
                            format!("item {} should be text, found {}", i + 1, other.type_str()),
                        ),
                    }
                }
                out
            }
            other => {
                self.problem(key, format!("expected a list, found {}", other.type_str()));
                Vec::new()
            }
        }
    }

    /// `{ "docomo.ne.jp" = 20 }`: domain → messages per minute.
    fn domain_limits(&mut self, key: &str) -> BTreeMap<String, u32> {
        let value = match self.take(key) {
            None => return BTreeMap::new(),
            Some(toml::Value::String(s)) => match format!("v = {s}").parse::<toml::Table>() {
                Ok(mut t) => t.remove("v").expect("just set"),
                Err(_) => {
                    self.problem(key, format!("`{s}` is not a TOML inline table"));
                    return BTreeMap::new();
                }
            },
            Some(v) => v,
        };
        let mut out = BTreeMap::new();
        match value {
            toml::Value::Table(t) => {
                for (domain, limit) in t {
                    let domain = domain.to_ascii_lowercase();
                    match limit {
                        toml::Value::Integer(n) if n > 0 && n <= u32::MAX as i64 => {
                            out.insert(domain, n as u32);
                        }
                        other => self.problem(
                            &format!("{key}.{domain}"),
                            format!(
                                "expected a positive number of messages per minute, found {other}"
                            ),
                        ),
                    }
                }
            }
            other => self.problem(key, format!("expected a table, found {}", other.type_str())),
        }
        out
    }

    /// Reports every leaf that no accessor read.
    fn report_unknown_keys(&mut self) {
        let mut unknown = Vec::new();
        fn walk(prefix: &str, t: &toml::Table, used: &BTreeSet<String>, out: &mut Vec<String>) {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if used.contains(&key) {
                    continue;
                }
                match v {
                    toml::Value::Table(inner) => walk(&key, inner, used, out),
                    _ => out.push(key),
                }
            }
        }
        walk("", &self.root, &self.used, &mut unknown);
        for key in unknown {
            self.problem(&key, "unknown key".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_file_and_no_env_gives_the_documented_defaults() {
        let (s, _) = parse("", "defaults", &[]).unwrap();
        assert_eq!(s.database.url.expose(), "sqlite://kairan.db");
        assert_eq!(s.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.http.base_url.as_str(), "http://127.0.0.1:8080/");
        assert!(s.smtp.url.is_none());
        assert_eq!(s.outbox.dir, PathBuf::from("outbox"));
        assert_eq!(s.dispatch.batch_size, 500);
        assert_eq!(s.schedule.catch_up, Duration::from_secs(86400));
        assert_eq!(s.schedule.timezone, chrono_tz::Asia::Tokyo);
        assert!(s.admin.token.is_none());
    }

    #[test]
    fn environment_overrides_the_file_including_nested_tables() {
        let text = "[http]\nlisten = \"127.0.0.1:7000\"\n";
        let e = env(&[
            ("KAIRAN__HTTP__LISTEN", "127.0.0.1:9000"),
            (
                "KAIRAN__NEWSLETTER__JA__POSTAL_ADDRESS",
                "東京都新宿区1-2-3",
            ),
            ("KAIRAN__DISPATCH__BATCH_SIZE", "50"),
            (
                "KAIRAN__NEWSLETTER__LEGACY_CHARSET_DOMAINS",
                "docomo.ne.jp, softbank.ne.jp",
            ),
            ("OTHER", "ignored"),
        ]);
        let (s, keys) = parse(text, "kairan.toml", &e).unwrap();
        assert_eq!(s.http.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(s.newsletter.ja.postal_address, "東京都新宿区1-2-3");
        assert_eq!(s.dispatch.batch_size, 50);
        assert_eq!(
            s.newsletter.legacy_charset_domains,
            ["docomo.ne.jp", "softbank.ne.jp"]
        );
        assert_eq!(keys.len(), 4);
    }

    #[test]
    fn every_problem_is_reported_at_once_naming_each_key() {
        let text = r#"
            [http]
            listen = "not an address"
            colour = "blue"
            [dispatch]
            batch_size = 0
            [schedule]
            cron = "0 9 * * *"
            [surprise]
            x = 1
        "#;
        let e = env(&[("KAIRAN__SMTP__URL", "ftp://x")]);
        let errs = parse(text, "kairan.toml", &e).unwrap_err();
        let keys: Vec<_> = errs.0.iter().map(|p| p.key.as_str()).collect();
        for k in [
            "http.listen",
            "http.colour",
            "dispatch.batch_size",
            "schedule.cron",
            "surprise.x",
            "smtp.url",
        ] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
        let smtp = errs.0.iter().find(|p| p.key == "smtp.url").unwrap();
        assert_eq!(smtp.origin, "environment KAIRAN__SMTP__URL");
        let unknown = errs.0.iter().find(|p| p.key == "http.colour").unwrap();
        assert_eq!(unknown.message, "unknown key");
    }

    #[test]
    fn unknown_environment_keys_are_errors_too() {
        let errs = parse("", "defaults", &env(&[("KAIRAN__HTTP__LISTN", "x")])).unwrap_err();
        assert_eq!(errs.0.len(), 1);
        assert_eq!(errs.0[0].key, "http.listn");
        assert_eq!(errs.0[0].origin, "environment KAIRAN__HTTP__LISTN");
    }

    #[test]
    fn invalid_toml_is_one_clear_error() {
        let errs = parse("[http\nlisten=", "kairan.toml", &[]).unwrap_err();
        assert_eq!(errs.0.len(), 1);
        assert!(
            errs.0[0].message.starts_with("not valid TOML"),
            "{}",
            errs.0[0].message
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let text = r#"
            [smtp]
            url = "smtps://news%40example.org:pa55w0rd-XYZ@mail.example.org"
            [admin]
            token = "admin-token-0123456789"
            [secrets]
            signing_key = "signing-key-0123456789-0123456789-abc"
            [database]
            url = "postgres://kairan:dbpass-QQQ@127.0.0.1/kairan"
        "#;
        let (s, _) = parse(text, "kairan.toml", &[]).unwrap();
        let smtp = s.smtp.url.as_ref().unwrap();
        assert_eq!(smtp.user.as_deref(), Some("news@example.org"));
        assert_eq!(smtp.password.as_ref().unwrap().expose(), "pa55w0rd-XYZ");
        assert_eq!(smtp.tls, SmtpTls::Implicit);
        assert_eq!(smtp.port, 465);
        let debug = format!("{s:?}");
        for secret in [
            "pa55w0rd-XYZ",
            "admin-token-0123456789",
            "signing-key-0123456789",
            "dbpass-QQQ",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked in Debug");
        }
    }

    #[test]
    fn smtp_urls_cover_plain_starttls_and_implicit_tls() {
        let u = SmtpUrl::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((u.port, u.tls), (2525, SmtpTls::None));
        let u = SmtpUrl::parse("smtp://mail.example.org:587?tls=required").unwrap();
        assert_eq!((u.port, u.tls), (587, SmtpTls::Required));
        assert!(
            SmtpUrl::parse("smtp://h?tls=maybe")
                .unwrap_err()
                .contains("maybe")
        );
        assert!(SmtpUrl::parse("smtp://:pw@h").is_err());
    }

    #[test]
    fn durations_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(30 * 86400)
        );
        for bad in ["", "10", "h", "5w", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn partial_optional_sections_name_what_is_missing() {
        let errs = parse("[dkim]\ndomain = \"example.org\"\n", "kairan.toml", &[]).unwrap_err();
        assert_eq!(errs.0.len(), 1);
        assert_eq!(errs.0[0].key, "dkim.private_key");
    }

    #[test]
    fn subscribe_settings_have_defaults_and_are_checked() {
        let (s, _) = parse("", "defaults", &[]).unwrap();
        assert_eq!(s.subscribe.confirm_ttl, Duration::from_secs(7 * 86400));
        assert_eq!(s.subscribe.resend_interval, Duration::from_secs(600));
        assert_eq!(s.subscribe.rate_limit_per_minute, 10);
        assert!(!s.subscribe.trust_forwarded_for);
        let e = env(&[
            ("KAIRAN__SUBSCRIBE__CONFIRM_TTL", "2d"),
            ("KAIRAN__SUBSCRIBE__TRUST_FORWARDED_FOR", "true"),
        ]);
        let (s, _) = parse("", "defaults", &e).unwrap();
        assert_eq!(s.subscribe.confirm_ttl, Duration::from_secs(2 * 86400));
        assert!(s.subscribe.trust_forwarded_for);
        let errs = parse(
            "[subscribe]\nconfirm_ttl = \"10s\"\nrate_limit_per_minute = 0\n",
            "kairan.toml",
            &[],
        )
        .unwrap_err();
        let keys: Vec<_> = errs.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["subscribe.rate_limit_per_minute", "subscribe.confirm_ttl"]
        );
    }

    #[test]
    fn the_rotation_period_is_a_time_and_a_bad_one_is_named() {
        let (s, _) = parse(
            "[secrets]\nprevious_signing_keys_until = \"2027-01-31T00:00:00+09:00\"\n",
            "f",
            &[],
        )
        .unwrap();
        assert_eq!(
            s.secrets.previous_signing_keys_until.unwrap().to_rfc3339(),
            "2027-01-30T15:00:00+00:00"
        );
        let errs = parse(
            "[secrets]\nprevious_signing_keys_until = \"soon\"\n",
            "f",
            &[],
        )
        .unwrap_err();
        assert_eq!(errs.0[0].key, "secrets.previous_signing_keys_until");
    }

    #[test]
    fn legal_footer_settings_are_reported_when_empty() {
        let (s, _) = parse("[newsletter]\ncontact = \"info@example.org\"\n", "f", &[]).unwrap();
        assert_eq!(
            s.newsletter.missing_legal_settings(),
            [
                "newsletter.ja.sender",
                "newsletter.ja.postal_address",
                "newsletter.en.sender",
                "newsletter.en.postal_address"
            ]
        );
    }
}
