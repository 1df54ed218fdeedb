//! One reader per `kairan.toml` section: each asks the shared [`Reader`] for its keys, with
//! their defaults and allowed ranges, applies the rules that span keys of its section (a
//! default computed from another key, a minimum), and leaves every problem in the reader's
//! collector. Sections are read in the order the README lists them (`subscribe`, not listed
//! there, last), which is also the order of their problems. Depends on `types`, `values`
//! and the loader's `Reader`.

use std::time::Duration;

use super::load::Reader;
use super::types::*;
use super::values;

/// Reads every section; the problems are in `r` afterwards.
pub(super) fn read_settings(r: &mut Reader) -> Settings {
    Settings {
        database: database(r),
        http: http(r),
        admin: admin(r),
        newsletter: newsletter(r),
        schedule: schedule(r),
        dispatch: dispatch(r),
        smtp: smtp(r),
        outbox: outbox(r),
        dkim: dkim(r),
        bounce: bounce(r),
        secrets: secrets(r),
        paths: paths(r),
        subscribe: subscribe(r),
        console: console(r),
        console_media: console_media(r),
    }
}

/// `console.max_image_bytes`: 1 KiB to 100 MiB, default 5 MiB; `console.max_import_bytes`:
/// 1 KiB to 1 GiB, default 64 MiB (about 1.5 million rows of address, name and language).
fn console_media(r: &mut Reader) -> ConsoleMediaSettings {
    ConsoleMediaSettings {
        max_image_bytes: r.int_or(
            "console.max_image_bytes",
            defaults::CONSOLE_MAX_IMAGE_BYTES,
            1024,
            100 * 1024 * 1024,
        ) as u64,
        max_import_bytes: r.int_or(
            "console.max_import_bytes",
            defaults::CONSOLE_MAX_IMPORT_BYTES,
            1024,
            1024 * 1024 * 1024,
        ) as u64,
    }
}

fn database(r: &mut Reader) -> DatabaseSettings {
    let file_dir = r.file_dir("database.url");
    let url = r
        .opt_parse("database.url", |s| {
            let url = values::database_url(s)?;
            match &file_dir {
                Some(dir) => values::sqlite_url_relative_to(dir, &url),
                None => Ok(url),
            }
        })
        .unwrap_or_else(|| defaults::DATABASE_URL.to_owned());
    DatabaseSettings {
        url: Secret::new(url),
        max_connections: r.int_or(
            "database.max_connections",
            defaults::DATABASE_MAX_CONNECTIONS,
            1,
            1000,
        ) as u32,
    }
}

fn http(r: &mut Reader) -> HttpSettings {
    let listen = r.parse_or("http.listen", defaults::HTTP_LISTEN, values::socket_addr);
    let default_base = format!("http://{listen}");
    HttpSettings {
        listen,
        base_url: r.parse_or("http.base_url", &default_base, values::http_url),
        body_limit: r.int_or("http.body_limit", defaults::HTTP_BODY_LIMIT, 1024, 1 << 30) as usize,
        request_timeout: r.duration_or("http.request_timeout", defaults::HTTP_REQUEST_TIMEOUT),
    }
}

fn console(r: &mut Reader) -> ConsoleSettings {
    let session_idle = r.duration_or("console.session_idle", defaults::CONSOLE_SESSION_IDLE);
    let session_lifetime = r.duration_or(
        "console.session_lifetime",
        defaults::CONSOLE_SESSION_LIFETIME,
    );
    if session_idle < Duration::from_secs(60) {
        r.problem("console.session_idle", "must be at least 1m".into());
    }
    if session_lifetime < session_idle {
        r.problem(
            "console.session_lifetime",
            "must be at least console.session_idle".into(),
        );
    }
    ConsoleSettings {
        require_totp: r.bool_or("console.require_totp", false),
        require_approval: r.bool_or("console.require_approval", false),
        session_idle,
        session_lifetime,
    }
}

fn admin(r: &mut Reader) -> AdminSettings {
    AdminSettings {
        token: r.opt_parse("admin.token", |s| values::secret_of_at_least(s, 16)),
    }
}

fn newsletter(r: &mut Reader) -> NewsletterSettings {
    let from = r.parse_or(
        "newsletter.from",
        defaults::NEWSLETTER_FROM,
        values::mailbox,
    );
    let default_list_id = format!("newsletter.{}", from.address.domain());
    let brand = Brand {
        organisation: r.string_or("newsletter.organisation", "").trim().to_owned(),
        website: r.opt_parse("newsletter.website", web_url),
        privacy_url: r.opt_parse("newsletter.privacy_url", web_url),
    };
    NewsletterSettings {
        reply_to: r.opt_parse("newsletter.reply_to", values::email_address),
        contact: r.string_or("newsletter.contact", ""),
        list_id: r.parse_or("newsletter.list_id", &default_list_id, values::list_id),
        default_language: r.parse_or(
            "newsletter.default_language",
            defaults::NEWSLETTER_DEFAULT_LANGUAGE,
            values::lang,
        ),
        legacy_charset_domains: r
            .string_list_or(
                "newsletter.legacy_charset_domains",
                defaults::NEWSLETTER_LEGACY_CHARSET_DOMAINS,
            )
            .into_iter()
            .map(|d| d.to_ascii_lowercase())
            .collect(),
        ja: newsletter_lang(r, "ja", defaults::NEWSLETTER_JA_NAME, &brand),
        en: newsletter_lang(r, "en", defaults::NEWSLETTER_EN_NAME, &brand),
        logo_url: r.opt_parse("newsletter.logo_url", |s| {
            let u = web_url(s)?;
            if u.scheme() != "https" {
                return Err("must be an https URL (mail clients and browsers block others)".into());
            }
            Ok(u)
        }),
        from,
    }
}

/// The organisation settings of `[newsletter]`, the defaults of each language's.
struct Brand {
    organisation: String,
    website: Option<url::Url>,
    privacy_url: Option<url::Url>,
}

fn web_url(s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(u.scheme(), "https" | "http") || u.host().is_none() {
        return Err("must be an http(s) URL".into());
    }
    Ok(u)
}

/// `[newsletter.ja]` or `[newsletter.en]`.
fn newsletter_lang(
    r: &mut Reader,
    lang: &str,
    default_name: &str,
    brand: &Brand,
) -> NewsletterLangSettings {
    let organisation = r
        .opt_string(&format!("newsletter.{lang}.organisation"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| brand.organisation.clone());
    // No "Monthly newsletter" placeholder once the organisation is named.
    let name = r
        .opt_string(&format!("newsletter.{lang}.name"))
        .unwrap_or_else(|| match (organisation.is_empty(), lang) {
            (true, _) => default_name.to_owned(),
            (false, "ja") => format!("{organisation} ニュースレター"),
            (false, _) => format!("{organisation} newsletter"),
        });
    NewsletterLangSettings {
        name,
        sender: r.string_or(&format!("newsletter.{lang}.sender"), ""),
        postal_address: r.string_or(&format!("newsletter.{lang}.postal_address"), ""),
        website: r
            .opt_parse(&format!("newsletter.{lang}.website"), web_url)
            .or_else(|| brand.website.clone()),
        privacy_url: r
            .opt_parse(&format!("newsletter.{lang}.privacy_url"), web_url)
            .or_else(|| brand.privacy_url.clone()),
        organisation,
    }
}

fn schedule(r: &mut Reader) -> ScheduleSettings {
    // The text is kept beside the parsed schedule (messages and the scheduler's log quote it
    // as written), so this key is read as text first rather than through `parse_or`.
    let cron_text = r.string_or("schedule.cron", defaults::SCHEDULE_CRON);
    let cron = values::parse_cron(&cron_text).unwrap_or_else(|e| {
        r.problem("schedule.cron", e);
        values::parse_cron(defaults::SCHEDULE_CRON).expect("valid default")
    });
    ScheduleSettings {
        cron,
        cron_text,
        timezone: r.parse_or(
            "schedule.timezone",
            defaults::SCHEDULE_TIMEZONE,
            values::time_zone,
        ),
        catch_up: r.duration_or("schedule.catch_up", defaults::SCHEDULE_CATCH_UP),
        // Copied from `console.require_approval` where the scheduler starts (`startup`).
        require_approval: false,
    }
}

fn dispatch(r: &mut Reader) -> DispatchSettings {
    let d = DispatchSettings {
        batch_size: r.int_or(
            "dispatch.batch_size",
            defaults::DISPATCH_BATCH_SIZE,
            1,
            100_000,
        ) as u32,
        concurrency: r.int_or(
            "dispatch.concurrency",
            defaults::DISPATCH_CONCURRENCY,
            1,
            256,
        ) as u32,
        rate_per_minute: r.int_or(
            "dispatch.rate_per_minute",
            defaults::DISPATCH_RATE_PER_MINUTE,
            0,
            10_000_000,
        ) as u32,
        max_attempts: r.int_or(
            "dispatch.max_attempts",
            defaults::DISPATCH_MAX_ATTEMPTS,
            1,
            100,
        ) as u32,
        domain_limits: r.domain_limits("dispatch.domain_limits"),
        lease: r.duration_or("dispatch.lease", defaults::DISPATCH_LEASE),
        retry_base: r.duration_or("dispatch.retry_base", defaults::DISPATCH_RETRY_BASE),
        retry_max: r.duration_or("dispatch.retry_max", defaults::DISPATCH_RETRY_MAX),
        db_patience: r.duration_or("dispatch.db_patience", defaults::DISPATCH_DB_PATIENCE),
    };
    // A shorter lease could expire while a batch is still being sent, and another worker
    // would send it again.
    if d.lease < Duration::from_secs(10) {
        r.problem("dispatch.lease", "must be at least 10s".into());
    }
    d
}

fn smtp(r: &mut Reader) -> SmtpSettings {
    SmtpSettings {
        url: r.opt_parse("smtp.url", SmtpUrl::parse),
        timeout: r.duration_or("smtp.timeout", defaults::SMTP_TIMEOUT),
        hello_name: r.opt_string("smtp.hello_name"),
    }
}

fn outbox(r: &mut Reader) -> OutboxSettings {
    OutboxSettings {
        dir: r.path_or("outbox.dir", defaults::OUTBOX_DIR),
    }
}

/// Optional: absent, nothing is signed; present, it needs a domain and a key.
fn dkim(r: &mut Reader) -> Option<DkimSettings> {
    if !r.has("dkim") {
        return None;
    }
    let domain = r.required_string("dkim.domain");
    let selector = r.string_or("dkim.selector", defaults::DKIM_SELECTOR);
    let key = r.required_string("dkim.private_key");
    Some(DkimSettings {
        domain: domain?,
        selector,
        private_key: r.path_from("dkim.private_key", &key?),
    })
}

fn bounce(r: &mut Reader) -> BounceSettings {
    BounceSettings {
        return_path: r.opt_parse("bounce.return_path", values::return_path),
        soft_threshold: r.int_or(
            "bounce.soft_threshold",
            defaults::BOUNCE_SOFT_THRESHOLD,
            1,
            1000,
        ) as u32,
        soft_window: r.duration_or("bounce.soft_window", defaults::BOUNCE_SOFT_WINDOW),
        imap: imap(r),
        webhooks: webhooks(r),
    }
}

/// Optional `[bounce.imap]`: absent, no mailbox is polled; present, it needs a host and
/// credentials.
fn imap(r: &mut Reader) -> Option<ImapSettings> {
    if !r.has("bounce.imap") {
        return None;
    }
    let host = r.required_string("bounce.imap.host");
    let tls = r.bool_or("bounce.imap.tls", defaults::IMAP_TLS);
    let default_port = if tls {
        defaults::IMAP_PORT_TLS
    } else {
        defaults::IMAP_PORT_PLAIN
    };
    let port = r.int_or("bounce.imap.port", default_port, 1, 65535) as u16;
    let user = r.required_string("bounce.imap.user");
    let password = r.required_string("bounce.imap.password");
    let folder = r.string_or("bounce.imap.folder", defaults::IMAP_FOLDER);
    let interval = r.duration_or("bounce.imap.interval", defaults::IMAP_INTERVAL);
    Some(ImapSettings {
        host: host?,
        port,
        tls,
        user: user?,
        password: Secret::new(password?),
        folder,
        interval,
    })
}

/// `[bounce.webhooks.*]`: each provider's table, when present, must be complete (a route
/// that cannot verify what it receives is never opened).
fn webhooks(r: &mut Reader) -> WebhookSettings {
    let ses = r.has("bounce.webhooks.ses").then(|| {
        let key = "bounce.webhooks.ses.topic_arns";
        let given = r.has(key);
        let arns = r.string_list_or(key, &[]);
        let mut ok = true;
        for arn in &arns {
            if let Err(e) = values::sns_topic_arn(arn) {
                r.problem(key, e);
                ok = false;
            }
        }
        if arns.is_empty() && !r.has_problem(key) {
            let why = if given {
                "must name at least one topic"
            } else {
                "is required in this section"
            };
            r.problem(key, why.into());
            ok = false;
        }
        ok.then_some(SesWebhookSettings { topic_arns: arns })
    });
    let sendgrid = r.has("bounce.webhooks.sendgrid").then(|| {
        let key = "bounce.webhooks.sendgrid.public_key";
        let text = r.required_string(key)?;
        match values::p256_public_key(&text) {
            Ok(public_key) => Some(SendgridWebhookSettings { public_key }),
            Err(e) => {
                r.problem(key, e);
                None
            }
        }
    });
    let postmark = r.has("bounce.webhooks.postmark").then(|| {
        let username = r.required_string("bounce.webhooks.postmark.username");
        if username.as_deref() == Some("") {
            r.problem(
                "bounce.webhooks.postmark.username",
                "must not be empty".into(),
            );
        }
        let password = r.required_string("bounce.webhooks.postmark.password");
        let password = password.and_then(|p| {
            values::secret_of_at_least(&p, 16)
                .map_err(|e| r.problem("bounce.webhooks.postmark.password", e))
                .ok()
        });
        Some(PostmarkWebhookSettings {
            username: username.filter(|u| !u.is_empty())?,
            password: password?,
        })
    });
    let mailgun = r.has("bounce.webhooks.mailgun").then(|| {
        let key = r.required_string("bounce.webhooks.mailgun.signing_key")?;
        values::secret_of_at_least(&key, 16)
            .map_err(|e| r.problem("bounce.webhooks.mailgun.signing_key", e))
            .ok()
            .map(|signing_key| MailgunWebhookSettings { signing_key })
    });
    WebhookSettings {
        ses: ses.flatten(),
        sendgrid: sendgrid.flatten(),
        postmark: postmark.flatten(),
        mailgun: mailgun.flatten(),
    }
}

fn secrets(r: &mut Reader) -> SecretsSettings {
    SecretsSettings {
        signing_key: r.opt_parse("secrets.signing_key", |s| values::secret_of_at_least(s, 32)),
        previous_signing_keys: r
            .string_list_or("secrets.previous_signing_keys", &[])
            .into_iter()
            .map(Secret::new)
            .collect(),
        previous_signing_keys_until: r
            .opt_parse("secrets.previous_signing_keys_until", values::rfc3339_time),
    }
}

fn paths(r: &mut Reader) -> PathsSettings {
    PathsSettings {
        templates: r.opt_path("paths.templates"),
        locales: r.opt_path("paths.locales"),
    }
}

/// `subscribe.embed_origins`: each an origin as browsers send it (`https://host[:port]`, no
/// path), kept in that serialised form.
fn embed_origins(r: &mut Reader) -> Vec<String> {
    let key = "subscribe.embed_origins";
    let mut out = Vec::new();
    for item in r.string_list_or(key, &[]) {
        match url::Url::parse(&item) {
            Ok(u)
                if matches!(u.scheme(), "https" | "http")
                    && u.host().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
                    && !item.trim_end_matches('/').ends_with(':') =>
            {
                out.push(u.origin().ascii_serialization());
            }
            _ => r.problem(
                key,
                format!("{item:?} is not an origin like https://www.example.org"),
            ),
        }
    }
    out
}

fn subscribe(r: &mut Reader) -> SubscribeSettings {
    let s = SubscribeSettings {
        confirm_ttl: r.duration_or("subscribe.confirm_ttl", defaults::SUBSCRIBE_CONFIRM_TTL),
        resend_interval: r.duration_or(
            "subscribe.resend_interval",
            defaults::SUBSCRIBE_RESEND_INTERVAL,
        ),
        rate_limit_per_minute: r.int_or(
            "subscribe.rate_limit_per_minute",
            defaults::SUBSCRIBE_RATE_LIMIT_PER_MINUTE,
            1,
            100_000,
        ) as u32,
        trust_forwarded_for: r.bool_or(
            "subscribe.trust_forwarded_for",
            defaults::SUBSCRIBE_TRUST_FORWARDED_FOR,
        ),
        min_fill_time: r.duration_or("subscribe.min_fill_time", defaults::SUBSCRIBE_MIN_FILL_TIME),
        form_max_age: r.duration_or("subscribe.form_max_age", defaults::SUBSCRIBE_FORM_MAX_AGE),
        confirmations_per_address_per_day: r.int_or(
            "subscribe.confirmations_per_address_per_day",
            defaults::SUBSCRIBE_CONFIRMATIONS_PER_ADDRESS_PER_DAY,
            1,
            1_000,
        ) as u32,
        pending_per_domain_per_hour: r.int_or(
            "subscribe.pending_per_domain_per_hour",
            defaults::SUBSCRIBE_PENDING_PER_DOMAIN_PER_HOUR,
            1,
            1_000_000,
        ) as u32,
        embed_origins: embed_origins(r),
        thank_you_url: r.opt_parse("subscribe.thank_you_url", |s| {
            let u = url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
            if !matches!(u.scheme(), "https" | "http") {
                return Err("must be an http(s) URL".into());
            }
            Ok(u)
        }),
        proof_of_work: r.int_or("subscribe.proof_of_work", 0, 0, 24) as u8,
    };
    if s.min_fill_time > Duration::from_secs(60) {
        r.problem("subscribe.min_fill_time", "must be at most 1m".into());
    }
    if s.form_max_age < Duration::from_secs(600) {
        r.problem("subscribe.form_max_age", "must be at least 10m".into());
    }
    // A reader needs time to open the mail and click.
    if s.confirm_ttl < Duration::from_secs(60) {
        r.problem("subscribe.confirm_ttl", "must be at least 1m".into());
    }
    s
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::load::tests::env;
    use crate::config::parse;

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
        assert!(s.dkim.is_none() && s.bounce.imap.is_none());
    }

    #[test]
    fn defaults_that_follow_another_key_follow_it() {
        let text = "[http]\nlisten = \"0.0.0.0:9000\"\n\
                    [newsletter]\nfrom = \"News <news@example.jp>\"\n\
                    [bounce.imap]\nhost = \"imap.example.jp\"\nuser = \"u\"\npassword = \"p\"\ntls = false\n";
        let (s, _) = parse(text, "kairan.toml", &[]).unwrap();
        assert_eq!(s.http.base_url.as_str(), "http://0.0.0.0:9000/");
        assert_eq!(s.newsletter.list_id, "newsletter.example.jp");
        assert_eq!(s.bounce.imap.unwrap().port, 143);
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
    fn short_secrets_are_refused() {
        let errs = parse(
            "[admin]\ntoken = \"short\"\n[secrets]\nsigning_key = \"short\"\n",
            "kairan.toml",
            &[],
        )
        .unwrap_err();
        let shown: Vec<_> = errs.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "admin.token (kairan.toml): must be at least 16 characters",
                "secrets.signing_key (kairan.toml): must be at least 32 characters"
            ]
        );
    }

    #[test]
    fn partial_optional_sections_name_what_is_missing() {
        let errs = parse("[dkim]\ndomain = \"example.org\"\n", "kairan.toml", &[]).unwrap_err();
        assert_eq!(errs.0.len(), 1);
        assert_eq!(errs.0[0].key, "dkim.private_key");

        let errs = parse("[bounce.imap]\nport = 99999\n", "kairan.toml", &[]).unwrap_err();
        let keys: Vec<_> = errs.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "bounce.imap.host",
                "bounce.imap.port",
                "bounce.imap.user",
                "bounce.imap.password"
            ]
        );
    }

    #[test]
    fn a_required_key_with_a_bad_value_is_reported_once() {
        let errs = parse(
            "[dkim]\ndomain = \"example.org\"\nprivate_key = [1]\n",
            "kairan.toml",
            &[],
        )
        .unwrap_err();
        assert_eq!(errs.0.len(), 1);
        assert_eq!(errs.0[0].message, "expected text, found array");
    }

    #[test]
    fn reader_side_settings_have_defaults_and_name_the_key_when_bad() {
        let (s, _) = parse("", "defaults", &[]).unwrap();
        assert_eq!(s.subscribe.min_fill_time, Duration::from_secs(3));
        assert_eq!(s.subscribe.confirmations_per_address_per_day, 5);
        assert_eq!(s.subscribe.pending_per_domain_per_hour, 50);
        assert!(s.subscribe.embed_origins.is_empty() && s.subscribe.thank_you_url.is_none());
        let (s, _) = parse(
            "[subscribe]\nembed_origins = [\"https://www.example.org\", \"http://127.0.0.1:8000/\"]\n\
             thank_you_url = \"https://www.example.org/thanks\"\n",
            "t",
            &[],
        )
        .unwrap();
        assert_eq!(
            s.subscribe.embed_origins,
            ["https://www.example.org", "http://127.0.0.1:8000"]
        );
        let err = parse(
            "[subscribe]\nembed_origins = [\"https://www.example.org/form\"]\n\
             thank_you_url = \"ftp://x\"\nmin_fill_time = \"5m\"\n\
             pending_per_domain_per_hour = 0\n",
            "t",
            &[],
        )
        .unwrap_err();
        let keys: Vec<_> = err.0.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "subscribe.embed_origins",
            "subscribe.thank_you_url",
            "subscribe.min_fill_time",
            "subscribe.pending_per_domain_per_hour",
        ] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
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
    fn a_lease_too_short_to_send_a_batch_is_refused() {
        let errs = parse("[dispatch]\nlease = \"5s\"\n", "kairan.toml", &[]).unwrap_err();
        assert_eq!(
            errs.0[0].to_string(),
            "dispatch.lease (kairan.toml): must be at least 10s"
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

    /// A P-256 verification key as SendGrid shows it: base64 of the DER SubjectPublicKeyInfo.
    fn sendgrid_key() -> String {
        use base64::Engine as _;
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        use ring::signature::KeyPair as _;
        // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING point }
        let mut der = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        der.extend_from_slice(pair.public_key().as_ref());
        base64::engine::general_purpose::STANDARD.encode(der)
    }

    #[test]
    fn webhooks_are_off_unless_configured_and_complete_when_they_are() {
        let (s, _) = parse("", "defaults", &[]).unwrap();
        let w = &s.bounce.webhooks;
        assert!(
            w.ses.is_none() && w.sendgrid.is_none() && w.postmark.is_none() && w.mailgun.is_none()
        );

        let key = sendgrid_key();
        let text = format!(
            "[bounce.webhooks.ses]\ntopic_arns = [\"arn:aws:sns:us-east-1:123456789012:ses-bounces\"]\n\
             [bounce.webhooks.sendgrid]\npublic_key = \"{key}\"\n\
             [bounce.webhooks.postmark]\nusername = \"kairan\"\npassword = \"pm-password-0123456789\"\n\
             [bounce.webhooks.mailgun]\nsigning_key = \"key-0123456789abcdef\"\n"
        );
        let (s, _) = parse(&text, "kairan.toml", &[]).unwrap();
        let w = &s.bounce.webhooks;
        assert_eq!(
            w.ses.as_ref().unwrap().topic_arns,
            ["arn:aws:sns:us-east-1:123456789012:ses-bounces"]
        );
        assert_eq!(w.sendgrid.as_ref().unwrap().public_key.len(), 65);
        assert_eq!(w.postmark.as_ref().unwrap().username, "kairan");
        assert_eq!(
            w.mailgun.as_ref().unwrap().signing_key.expose(),
            "key-0123456789abcdef"
        );
        assert!(
            !format!("{s:?}").contains("pm-password"),
            "secrets stay out of Debug"
        );

        // From the environment too, as every key can be.
        let e = env(&[(
            "KAIRAN__BOUNCE__WEBHOOKS__SES__TOPIC_ARNS",
            "[\"arn:aws:sns:eu-west-1:123456789012:a\", \"arn:aws:sns:eu-west-1:123456789012:b\"]",
        )]);
        let (s, _) = parse("", "defaults", &e).unwrap();
        assert_eq!(s.bounce.webhooks.ses.unwrap().topic_arns.len(), 2);
    }

    #[test]
    fn an_incomplete_or_wrong_webhook_table_names_each_problem() {
        let text = "[bounce.webhooks.ses]\ntopic_arns = [\"arn:aws:sqs:us-east-1:123456789012:q\"]\n\
                    [bounce.webhooks.sendgrid]\npublic_key = \"MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\"\n\
                    [bounce.webhooks.postmark]\nusername = \"\"\npassword = \"short\"\n\
                    [bounce.webhooks.mailgun]\n";
        let errs = parse(text, "kairan.toml", &[]).unwrap_err();
        let shown: Vec<_> = errs.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "bounce.webhooks.ses.topic_arns (kairan.toml): `arn:aws:sqs:us-east-1:123456789012:q` is not an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:ses-bounces",
                "bounce.webhooks.sendgrid.public_key (kairan.toml): is not an ECDSA P-256 public key (DER SubjectPublicKeyInfo)",
                "bounce.webhooks.postmark.username (kairan.toml): must not be empty",
                "bounce.webhooks.postmark.password (kairan.toml): must be at least 16 characters",
                "bounce.webhooks.mailgun.signing_key (kairan.toml): is required in this section",
            ]
        );
        let errs = parse("[bounce.webhooks.ses]\ntopic_arns = []\n[bounce.webhooks.sendgrid]\npublic_key = \"not base64!\"\n", "f", &[]).unwrap_err();
        let shown: Vec<_> = errs.0.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            shown,
            [
                "must name at least one topic",
                "is not base64 (paste the verification key as SendGrid shows it)"
            ]
        );
    }
}
