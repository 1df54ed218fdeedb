//! Value parsers: one function per kind of setting (durations, cron expressions, addresses,
//! URLs, secrets, and the lists and tables an environment variable can only spell as text).
//! Each takes the raw text or TOML value and returns the typed value or the exact message an
//! operator sees next to the key; none knows which key it is reading or where the value came
//! from (the loader adds both). Depends on `domain` and on value crates only.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use super::types::{Secret, SmtpTls, SmtpUrl};
use crate::domain::{EmailAddress, Lang, Mailbox};

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
        let password = url.password().map(decode).transpose()?.map(Secret::new);
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

/// `database.url`: the scheme picks the backend, so it must be one kairan knows. SQLx's
/// short form `sqlite:PATH` comes back as `sqlite://PATH`, the one form the rest of kairan
/// reads.
pub(super) fn database_url(s: &str) -> Result<String, String> {
    match s.split_once("://").map(|(scheme, _)| scheme) {
        Some("sqlite" | "postgres" | "postgresql") => Ok(s.to_owned()),
        _ => match s.strip_prefix("sqlite:") {
            Some(path) => Ok(format!("sqlite://{path}")),
            None => Err("expected sqlite://PATH or postgres://USER@HOST/DB".into()),
        },
    }
}

/// A `sqlite://PATH[?QUERY]` URL whose PATH is relative, made relative to `dir`; any other
/// URL (an absolute path, an in-memory database, PostgreSQL) comes back as it is.
pub(super) fn sqlite_url_relative_to(dir: &Path, url: &str) -> Result<String, String> {
    let Some(rest) = url.strip_prefix("sqlite://") else {
        return Ok(url.to_owned());
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let in_memory = path == ":memory:"
        || query.is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "mode" && v == "memory")
        });
    if path.is_empty() || in_memory || Path::new(path).is_absolute() {
        return Ok(url.to_owned());
    }
    let dir = dir.to_str().ok_or_else(|| {
        format!(
            "the SQLite path is relative to the configuration file's directory, and `{}` is not \
             UTF-8; give an absolute path",
            dir.display()
        )
    })?;
    // SQLx percent-decodes the path and ends it at the first `?`; `#` would end it for the
    // URL parser that redacts it for messages. So those characters of the directory are
    // escaped, and the PATH as written (already in URL form) is kept.
    let dir = dir
        .replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23");
    let joined = Path::new(&dir).join(path);
    let joined = joined.to_str().expect("joined from UTF-8 text");
    Ok(match query {
        Some(query) => format!("sqlite://{joined}?{query}"),
        None => format!("sqlite://{joined}"),
    })
}

pub(super) fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| "expected host:port, e.g. 127.0.0.1:8080".into())
}

/// `http.base_url`: links in mail are built from it, so it needs a scheme a reader's mail
/// client opens and a host.
pub(super) fn http_url(s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
    match u.scheme() {
        "http" | "https" if u.host().is_some() => Ok(u),
        _ => Err("expected an http:// or https:// URL with a host".into()),
    }
}

pub(super) fn mailbox(s: &str) -> Result<Mailbox, String> {
    Mailbox::parse(s).map_err(|e| e.to_string())
}

pub(super) fn email_address(s: &str) -> Result<EmailAddress, String> {
    EmailAddress::parse(s).map_err(|e| e.to_string())
}

pub(super) fn lang(s: &str) -> Result<Lang, String> {
    Lang::from_str(s).map_err(|e| e.to_string())
}

/// `newsletter.list_id`: the RFC 2919 `List-Id` value, a dotted name.
pub(super) fn list_id(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.contains('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if ok {
        Ok(s.to_owned())
    } else {
        Err("expected a dotted name such as monthly.example.org".into())
    }
}

/// `bounce.return_path`: the VERP base, which kairan extends with `+TOKEN`.
pub(super) fn return_path(s: &str) -> Result<EmailAddress, String> {
    let a = EmailAddress::parse(s).map_err(|e| e.to_string())?;
    if a.local_part().contains('+') {
        return Err("must not contain `+`: kairan adds +TOKEN itself (VERP)".into());
    }
    // VERP adds `+` and a 46-character token; RFC 5321 allows 64 octets.
    if a.local_part().len() > 17 {
        return Err("the part before @ may have at most 17 characters: kairan adds +TOKEN (47 more) for VERP".into());
    }
    Ok(a)
}

pub(super) fn time_zone(s: &str) -> Result<chrono_tz::Tz, String> {
    chrono_tz::Tz::from_str(s)
        .map_err(|_| format!("`{s}` is not an IANA time zone such as Asia/Tokyo"))
}

pub(super) fn rfc3339_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("expected an RFC 3339 time such as 2027-01-31T00:00:00+09:00 ({e})"))
}

/// A token or key that guessing must not find: refused when shorter than `min` characters.
pub(super) fn secret_of_at_least(s: &str, min: usize) -> Result<Secret, String> {
    if s.len() < min {
        Err(format!("must be at least {min} characters"))
    } else {
        Ok(Secret::new(s))
    }
}

/// A scalar as text: strings as they are, numbers and booleans formatted (an environment
/// value is always text, a file value may be either).
pub(super) fn text(v: toml::Value) -> Result<String, String> {
    match v {
        toml::Value::String(s) => Ok(s),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!("expected text, found {}", other.type_str())),
    }
}

/// A whole number within `min..=max`, from a TOML integer or (from the environment) text.
pub(super) fn whole_number(v: toml::Value, min: i64, max: i64) -> Result<i64, String> {
    let i = match v {
        toml::Value::Integer(i) => i,
        toml::Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("expected a whole number, found `{s}`"))?,
        other => {
            return Err(format!(
                "expected a whole number, found {}",
                other.type_str()
            ));
        }
    };
    if (min..=max).contains(&i) {
        Ok(i)
    } else {
        Err(format!("{i} is out of range {min}..={max}"))
    }
}

/// A TOML boolean or (from the environment) the text `true` or `false`.
pub(super) fn boolean(v: toml::Value) -> Result<bool, String> {
    match v {
        toml::Value::Boolean(b) => Ok(b),
        toml::Value::String(s) if s == "true" => Ok(true),
        toml::Value::String(s) if s == "false" => Ok(false),
        other => Err(format!("expected true or false, found {other}")),
    }
}

/// Text holding a TOML value on its own (`["a", "b"]`, `{ "a.jp" = 5 }`): how an
/// environment variable spells a list or a table.
fn inline_toml(s: &str) -> Option<toml::Value> {
    let mut t = format!("v = {s}").parse::<toml::Table>().ok()?;
    t.remove("v")
}

/// A list of strings: a TOML array, or (from the environment) `a,b` or `["a", "b"]`. On
/// failure, every message (one per bad item).
pub(super) fn string_list(v: toml::Value) -> Result<Vec<String>, Vec<String>> {
    let value = match v {
        toml::Value::String(s) if s.trim_start().starts_with('[') => match inline_toml(&s) {
            Some(v) => v,
            None => return Err(vec![format!("`{s}` is not a TOML array")]),
        },
        toml::Value::String(s) => {
            return Ok(s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect());
        }
        v => v,
    };
    match value {
        toml::Value::Array(items) => {
            let mut out = Vec::new();
            let mut problems = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    toml::Value::String(s) => out.push(s),
                    other => problems.push(format!(
                        "item {} should be text, found {}",
                        i + 1,
                        other.type_str()
                    )),
                }
            }
            if problems.is_empty() {
                Ok(out)
            } else {
                Err(problems)
            }
        }
        other => Err(vec![format!("expected a list, found {}", other.type_str())]),
    }
}

/// One problem inside a table value: the entry it is about (`None`: the table as a whole)
/// and the message.
pub(super) type EntryProblem = (Option<String>, String);

/// `{ "docomo.ne.jp" = 20 }`: destination domain (lower-cased) → messages per minute, from a
/// TOML table or (from the environment) an inline table as text.
pub(super) fn domain_limits(v: toml::Value) -> Result<BTreeMap<String, u32>, Vec<EntryProblem>> {
    let value = match v {
        toml::Value::String(s) => match inline_toml(&s) {
            Some(v) => v,
            None => return Err(vec![(None, format!("`{s}` is not a TOML inline table"))]),
        },
        v => v,
    };
    let toml::Value::Table(t) = value else {
        return Err(vec![(
            None,
            format!("expected a table, found {}", value.type_str()),
        )]);
    };
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for (domain, limit) in t {
        let domain = domain.to_ascii_lowercase();
        match limit {
            toml::Value::Integer(n) if n > 0 && n <= u32::MAX as i64 => {
                out.insert(domain, n as u32);
            }
            other => problems.push((
                Some(domain),
                format!("expected a positive number of messages per minute, found {other}"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// `bounce.webhooks.ses.topic_arns` items: `arn:aws:sns:REGION:ACCOUNT:TOPIC`, as the SNS
/// console shows a topic's ARN.
pub(super) fn sns_topic_arn(s: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "`{s}` is not an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:ses-bounces"
        )
    };
    let parts: Vec<&str> = s.split(':').collect();
    let [arn, partition, service, region, account, topic] = parts[..] else {
        return Err(bad());
    };
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let topic_ok = (1..=256).contains(&topic.len())
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if arn == "arn"
        && partition.starts_with("aws")
        && service == "sns"
        && region_ok
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && topic_ok
    {
        Ok(())
    } else {
        Err(bad())
    }
}

/// `bounce.webhooks.sendgrid.public_key`: the base64 DER `SubjectPublicKeyInfo` of an ECDSA
/// P-256 key, as SendGrid's console shows its verification key (a PEM block's body is
/// accepted too). Returns the uncompressed SEC1 point, which is what a verifier takes.
pub(super) fn p256_public_key(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (65 bytes) }: the one DER
    // form of an uncompressed P-256 key, so the key is this prefix and its point.
    const P256_SPKI: [u8; 26] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    let body: String = s
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.split_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|_| {
            "is not base64 (paste the verification key as SendGrid shows it)".to_owned()
        })?;
    match der.strip_prefix(&P256_SPKI[..]) {
        Some(point) if point.len() == 65 && point[0] == 4 => Ok(point.to_vec()),
        _ => Err("is not an ECDSA P-256 public key (DER SubjectPublicKeyInfo)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(30 * 86400)
        );
        for bad in ["", "10", "h", "5w", "-1s", "1.5h", "99999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration("5w").unwrap_err(),
            "`5w` is not a duration such as 90s, 10m, 24h or 30d"
        );
    }

    #[test]
    fn cron_needs_six_fields_with_seconds() {
        assert!(parse_cron("0 0 9 1 * *").is_ok());
        assert_eq!(
            parse_cron("0 9 * * *").unwrap_err(),
            "expected six fields `sec min hour day month weekday`, found 5"
        );
        assert!(
            parse_cron("a b c d e f")
                .unwrap_err()
                .starts_with("not a valid cron expression")
        );
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
        assert_eq!(
            SmtpUrl::parse("smtps://h?tls=none").unwrap_err(),
            "tls=`none` is not one of none, opportunistic, required (smtps:// is always TLS)"
        );
        assert_eq!(
            SmtpUrl::parse("ftp://h").unwrap_err(),
            "scheme `ftp` is not smtp or smtps"
        );
        assert_eq!(
            SmtpUrl::parse("smtp://h?foo=1").unwrap_err(),
            "unknown URL parameter `foo`"
        );
        let u = SmtpUrl::parse("smtp://[::1]:25").unwrap();
        assert_eq!(u.host, "::1");
    }

    #[test]
    fn sqlite_urls_have_one_form() {
        assert_eq!(
            database_url("sqlite:kairan.db"),
            Ok("sqlite://kairan.db".into())
        );
        assert_eq!(
            database_url("sqlite:/var/lib/kairan.db?mode=rwc"),
            Ok("sqlite:///var/lib/kairan.db?mode=rwc".into())
        );
        assert_eq!(
            database_url("sqlite::memory:"),
            Ok("sqlite://:memory:".into())
        );
        assert_eq!(
            database_url("postgres://u@h/db"),
            Ok("postgres://u@h/db".into())
        );
        assert_eq!(
            database_url("mysql://db").unwrap_err(),
            "expected sqlite://PATH or postgres://USER@HOST/DB"
        );
    }

    #[test]
    fn a_relative_sqlite_file_moves_into_the_directory_and_nothing_else_does() {
        let dir = Path::new("/srv/kairan");
        let moved = |url: &str| sqlite_url_relative_to(dir, url).unwrap();
        assert_eq!(
            moved("sqlite://kairan.db"),
            "sqlite:///srv/kairan/kairan.db"
        );
        assert_eq!(
            moved("sqlite://data/k.db?mode=rwc"),
            "sqlite:///srv/kairan/data/k.db?mode=rwc"
        );
        for unchanged in [
            "sqlite:///var/lib/kairan.db",
            "sqlite:///var/lib/kairan.db?mode=ro",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite://shared?mode=memory&cache=shared",
            "postgres://kairan@localhost/kairan",
        ] {
            assert_eq!(moved(unchanged), unchanged);
        }
    }

    #[test]
    fn a_directory_sqlite_would_misread_is_escaped() {
        let url = sqlite_url_relative_to(Path::new("/tmp/a?b#c%41"), "sqlite://k.db").unwrap();
        assert_eq!(url, "sqlite:///tmp/a%3Fb%23c%2541/k.db");
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        assert_eq!(options.get_filename(), Path::new("/tmp/a?b#c%41/k.db"));
    }

    #[test]
    fn the_return_path_leaves_room_for_the_verp_token() {
        assert!(return_path("bounces@example.org").is_ok());
        assert!(return_path("a+b@example.org").unwrap_err().contains('+'));
        assert!(
            return_path("averyveryverylongname@example.org")
                .unwrap_err()
                .contains("17 characters")
        );
    }

    #[test]
    fn scalars_from_the_environment_are_text_and_still_typed() {
        let s = |v: &str| toml::Value::String(v.into());
        assert_eq!(whole_number(s(" 42 "), 1, 100), Ok(42));
        assert_eq!(
            whole_number(s("lots"), 1, 100).unwrap_err(),
            "expected a whole number, found `lots`"
        );
        assert_eq!(
            whole_number(toml::Value::Integer(0), 1, 100).unwrap_err(),
            "0 is out of range 1..=100"
        );
        assert_eq!(
            whole_number(toml::Value::Float(1.5), 1, 100).unwrap_err(),
            "expected a whole number, found float"
        );
        assert_eq!(boolean(s("true")), Ok(true));
        assert_eq!(
            boolean(s("yes")).unwrap_err(),
            "expected true or false, found \"yes\""
        );
        assert_eq!(text(toml::Value::Integer(3)), Ok("3".into()));
        assert_eq!(
            text(toml::Value::Array(vec![])).unwrap_err(),
            "expected text, found array"
        );
    }

    #[test]
    fn lists_report_every_bad_item() {
        let v: toml::Value = inline_toml("[1, \"a\", true]").unwrap();
        assert_eq!(
            string_list(v).unwrap_err(),
            [
                "item 1 should be text, found integer",
                "item 3 should be text, found boolean"
            ]
        );
        assert_eq!(
            string_list(toml::Value::String("[oops".into())).unwrap_err(),
            ["`[oops` is not a TOML array"]
        );
        assert_eq!(
            string_list(toml::Value::Integer(3)).unwrap_err(),
            ["expected a list, found integer"]
        );
    }

    #[test]
    fn domain_limits_name_each_bad_entry() {
        let v = inline_toml(r#"{ "DoCoMo.ne.jp" = 20, "x.jp" = 0, "y.jp" = "a" }"#).unwrap();
        let problems = domain_limits(v).unwrap_err();
        let entries: Vec<_> = problems.iter().map(|(e, _)| e.as_deref()).collect();
        assert_eq!(entries, [Some("x.jp"), Some("y.jp")]);
        assert_eq!(
            domain_limits(toml::Value::String("nope".into())).unwrap_err(),
            [(None, "`nope` is not a TOML inline table".to_owned())]
        );
        assert_eq!(
            domain_limits(toml::Value::Integer(3)).unwrap_err(),
            [(None, "expected a table, found integer".to_owned())]
        );
    }

    /// Writes a duration the way an operator might: components in any order, some repeated.
    fn spell(parts: &[(u64, char)]) -> String {
        parts.iter().map(|(n, u)| format!("{n}{u}")).collect()
    }

    fn unit_seconds(u: char) -> u64 {
        match u {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => 86400,
        }
    }

    /// A host name as DNS allows it (the URL parser lower-cases, so lower case only; no
    /// hyphens, which could spell an invalid `xn--` label).
    fn host() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9]{0,12}(\\.[a-z]{2,6}){0,2}"
    }

    fn tls() -> impl Strategy<Value = SmtpTls> {
        prop_oneof![
            Just(SmtpTls::None),
            Just(SmtpTls::Opportunistic),
            Just(SmtpTls::Required),
            Just(SmtpTls::Implicit),
        ]
    }

    /// The inverse of [`SmtpUrl::parse`]: the URL an operator writes for these settings.
    fn write_smtp_url(u: &SmtpUrl) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let scheme = if u.tls == SmtpTls::Implicit {
            "smtps"
        } else {
            "smtp"
        };
        let auth = match (&u.user, &u.password) {
            (Some(user), Some(pw)) => format!("{}:{}@", enc(user), enc(pw.expose())),
            (Some(user), None) => format!("{}@", enc(user)),
            _ => String::new(),
        };
        let query = match u.tls {
            SmtpTls::Implicit | SmtpTls::None => "",
            SmtpTls::Opportunistic => "?tls=opportunistic",
            SmtpTls::Required => "?tls=required",
        };
        format!("{scheme}://{auth}{}:{}{query}", u.host, u.port)
    }

    proptest! {
        #[test]
        fn a_spelled_duration_parses_to_the_sum_of_its_parts(
            parts in prop::collection::vec(
                (0u64..100_000, prop::sample::select(vec!['s', 'm', 'h', 'd'])),
                1..5,
            )
        ) {
            let want: u64 = parts.iter().map(|(n, u)| n * unit_seconds(*u)).sum();
            prop_assert_eq!(parse_duration(&spell(&parts)), Ok(Duration::from_secs(want)));
        }

        #[test]
        fn any_text_is_a_duration_or_a_message_naming_it(s in "\\PC{0,12}") {
            if let Err(e) = parse_duration(&s) {
                let quoted = format!("`{s}`");
                prop_assert!(e.contains(&quoted), "{}", e);
            }
        }

        #[test]
        fn smtp_url_settings_survive_being_written_and_parsed(
            host in host(),
            port in 1u16..,
            tls in tls(),
            user in prop::option::of("\\PC{1,12}"),
            // `user:@host` is no password at all, so a written password has a character.
            password in prop::option::of("\\PC{1,12}"),
        ) {
            // A password needs a user name (the parser refuses one without).
            let password = user.as_ref().and(password).map(Secret::new);
            let want = SmtpUrl { host, port, tls, user, password };
            prop_assert_eq!(SmtpUrl::parse(&write_smtp_url(&want)), Ok(want));
        }

        #[test]
        fn sqlite_opens_the_relative_file_in_the_directory(
            dir in "(/[^/\\x00]{1,8}){1,4}",
            path in "[a-zA-Z0-9_.-]{1,8}(/[a-zA-Z0-9_-]{1,8}){0,2}",
            query in prop::option::of(prop::sample::select(vec!["mode=rwc", "mode=ro"])),
        ) {
            let written = match query {
                Some(q) => format!("sqlite://{path}?{q}"),
                None => format!("sqlite://{path}"),
            };
            let url = sqlite_url_relative_to(Path::new(&dir), &written).unwrap();
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            prop_assert_eq!(options.get_filename(), Path::new(&dir).join(&path));
        }

        #[test]
        fn a_comma_separated_list_gives_back_its_items(
            items in prop::collection::vec("[a-z0-9.-]{1,12}", 0..6)
        ) {
            let text = toml::Value::String(items.join(", "));
            prop_assert_eq!(string_list(text), Ok(items));
        }

        #[test]
        fn a_list_written_as_a_toml_array_gives_back_any_items(
            items in prop::collection::vec("\\PC{0,12}", 0..6)
        ) {
            let array = toml::Value::Array(
                items.iter().cloned().map(toml::Value::String).collect(),
            );
            let text = toml::Value::String(array.to_string());
            prop_assert_eq!(string_list(text), Ok(items));
        }

        #[test]
        fn domain_limits_written_as_an_inline_table_give_back_the_map(
            limits in prop::collection::btree_map("[a-z0-9-]{1,10}\\.[a-z]{2,4}", 1u32.., 0..5)
        ) {
            let table: toml::Table = limits
                .iter()
                .map(|(d, n)| (d.clone(), toml::Value::Integer(i64::from(*n))))
                .collect();
            let text = toml::Value::String(toml::Value::Table(table).to_string());
            prop_assert_eq!(domain_limits(text), Ok(limits));
        }
    }
}
