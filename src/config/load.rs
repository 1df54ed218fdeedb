//! Loading: the file (`--config`, else `./kairan.toml` when present) and the
//! `KAIRAN__SECTION__KEY` environment variables are merged into one TOML tree, remembering
//! which keys the environment set; then a [`Reader`] walks the tree key by key for the
//! section readers, converting each value with a parser from `values`, recording every
//! problem (with the key and where it came from) instead of stopping at the first, and
//! marking each key it reads. Whatever is left unread afterwards is an unknown key, reported
//! too (Stalwart's config loader works the same way). The same origin tracking decides what
//! a relative path is relative to: the file's directory for a value from the file, the
//! working directory for one from the environment or a default. Depends on `types`,
//! `values` and `sections` of this module, and on `toml`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::sections::read_settings;
use super::types::Settings;
use super::values;

/// The prefix of environment overrides; `__` separates nesting levels.
pub const ENV_PREFIX: &str = "KAIRAN__";
/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "kairan.toml";

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

impl ConfigErrors {
    /// A configuration that could not be read at all: one problem, nothing else to check.
    fn one(key: impl Into<String>, origin: impl Into<String>, message: String) -> Self {
        ConfigErrors(vec![ConfigProblem {
            key: key.into(),
            origin: origin.into(),
            message,
        }])
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
                return Err(ConfigErrors::one(
                    path.display().to_string(),
                    "--config",
                    format!("cannot read the file: {e}"),
                ));
            }
        },
        None => {
            let p = Path::new(DEFAULT_CONFIG_FILE);
            match std::fs::read_to_string(p) {
                Ok(t) => (Some(p.to_path_buf()), t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, String::new()),
                Err(e) => {
                    return Err(ConfigErrors::one(
                        DEFAULT_CONFIG_FILE,
                        "file",
                        format!("cannot read the file: {e}"),
                    ));
                }
            }
        }
    };
    let origin = file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "defaults".into());
    // Relative paths in the file are relative to its directory (`None` when that is the
    // working directory anyway, as for `./kairan.toml`).
    let file_dir = file
        .as_deref()
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty());
    let (settings, env_keys) = parse_in(&text, &origin, file_dir, env)?;
    Ok(Loaded {
        settings,
        file,
        env_keys,
    })
}

/// Parses TOML text plus environment overrides into validated settings. Relative paths stay
/// as written (relative to the working directory): the text has no file to be relative to.
pub fn parse(
    toml_text: &str,
    origin: &str,
    env: &[(String, String)],
) -> Result<(Settings, Vec<String>), ConfigErrors> {
    parse_in(toml_text, origin, None, env)
}

/// As [`parse`], for the text of a file in `file_dir`: relative paths the text sets are
/// resolved against that directory.
fn parse_in(
    toml_text: &str,
    origin: &str,
    file_dir: Option<&Path>,
    env: &[(String, String)],
) -> Result<(Settings, Vec<String>), ConfigErrors> {
    let mut table: toml::Table = toml_text.parse().map_err(|e: toml::de::Error| {
        ConfigErrors::one(
            origin,
            "file",
            format!("not valid TOML: {}", e.to_string().trim()),
        )
    })?;
    let merged = merge_env(&mut table, env);
    let mut r = Reader {
        root: table,
        default_origin: origin.to_owned(),
        origins: merged.origins,
        file_dir: file_dir.map(Path::to_path_buf),
        used: BTreeSet::new(),
        problems: merged.problems,
    };
    let settings = read_settings(&mut r);
    r.report_unknown_keys();
    if r.problems.is_empty() {
        Ok((settings, merged.env_keys))
    } else {
        Err(ConfigErrors(r.problems))
    }
}

/// What merging the environment into the file's tree left to know.
struct EnvMerge {
    /// Dotted keys set from the environment → `environment NAME`.
    origins: BTreeMap<String, String>,
    /// The variables that were applied, sorted.
    env_keys: Vec<String>,
    /// Variables that could not be applied.
    problems: Vec<ConfigProblem>,
}

/// Sets each `KAIRAN__A__B` variable as the text value of key `a.b` in `table`, over what
/// the file said. Values stay text here; the section readers convert them like file values.
fn merge_env(table: &mut toml::Table, env: &[(String, String)]) -> EnvMerge {
    let mut merged = EnvMerge {
        origins: BTreeMap::new(),
        env_keys: Vec::new(),
        problems: Vec::new(),
    };
    for (name, value) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        if path.iter().any(String::is_empty) {
            merged.problems.push(ConfigProblem {
                key: name.clone(),
                origin: "environment".into(),
                message: "empty key segment (use KAIRAN__SECTION__KEY)".into(),
            });
            continue;
        }
        if let Err(message) = set_path(table, &path, toml::Value::String(value.clone())) {
            merged.problems.push(ConfigProblem {
                key: path.join("."),
                origin: format!("environment {name}"),
                message,
            });
            continue;
        }
        merged
            .origins
            .insert(path.join("."), format!("environment {name}"));
        merged.env_keys.push(name.clone());
    }
    merged.env_keys.sort();
    merged
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

/// Walks the merged tree for the section readers and collects every problem they find; see
/// the module docs.
pub(super) struct Reader {
    root: toml::Table,
    default_origin: String,
    /// Dotted keys set from the environment → the variable's name.
    origins: BTreeMap<String, String>,
    /// The directory of the file being read, when relative paths need resolving against it.
    file_dir: Option<PathBuf>,
    used: BTreeSet<String>,
    problems: Vec<ConfigProblem>,
}

impl Reader {
    /// Where the value of `key` came from. An entry inside a table value
    /// (`dispatch.domain_limits.docomo.ne.jp`) came from wherever the table did, so the
    /// nearest enclosing key set from the environment counts.
    fn origin(&self, key: &str) -> String {
        self.env_origin(key).unwrap_or(&self.default_origin).clone()
    }

    /// The environment variable that set `key` or a table holding it, if one did.
    fn env_origin(&self, key: &str) -> Option<&String> {
        let mut k = key;
        loop {
            if let Some(origin) = self.origins.get(k) {
                return Some(origin);
            }
            k = k.rsplit_once('.')?.0;
        }
    }

    /// The directory a relative path in `key` is relative to, when it is not the working
    /// directory: the file's, unless the environment set the value.
    pub(super) fn file_dir(&self, key: &str) -> Option<PathBuf> {
        match self.env_origin(key) {
            Some(_) => None,
            None => self.file_dir.clone(),
        }
    }

    /// A filesystem path: from the file, relative to the file's directory; from the
    /// environment, as given (relative to the working directory).
    pub(super) fn opt_path(&mut self, key: &str) -> Option<PathBuf> {
        let s = self.opt_string(key)?;
        Some(self.path_from(key, &s))
    }

    /// As [`Reader::opt_path`]; the default, like an environment value, stays as written.
    pub(super) fn path_or(&mut self, key: &str, default: &str) -> PathBuf {
        self.opt_path(key).unwrap_or_else(|| PathBuf::from(default))
    }

    /// `value`, read from `key`, as a path resolved like [`Reader::opt_path`].
    pub(super) fn path_from(&self, key: &str, value: &str) -> PathBuf {
        match self.file_dir(key) {
            Some(dir) => dir.join(value),
            None => PathBuf::from(value),
        }
    }

    /// Records a problem with `key`, naming where its value came from.
    pub(super) fn problem(&mut self, key: &str, message: String) {
        let origin = self.origin(key);
        self.problems.push(ConfigProblem {
            key: key.to_owned(),
            origin,
            message,
        });
    }

    /// Whether a problem was already recorded under `key`.
    pub(super) fn has_problem(&self, key: &str) -> bool {
        self.problems.iter().any(|p| p.key == key)
    }

    fn lookup(&self, key: &str) -> Option<&toml::Value> {
        let mut parts = key.split('.');
        let mut v = self.root.get(parts.next()?)?;
        for p in parts {
            v = v.as_table()?.get(p)?;
        }
        Some(v)
    }

    /// Whether `key` (a value or a table) is set at all; does not count as reading it.
    pub(super) fn has(&self, key: &str) -> bool {
        self.lookup(key).is_some()
    }

    /// Marks `key` read and returns its value.
    fn take(&mut self, key: &str) -> Option<toml::Value> {
        self.used.insert(key.to_owned());
        self.lookup(key).cloned()
    }

    /// Reads `key` and converts it with `f`; a bad value is recorded and gives `None`.
    fn convert<T>(
        &mut self,
        key: &str,
        f: impl FnOnce(toml::Value) -> Result<T, String>,
    ) -> Option<T> {
        match f(self.take(key)?) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(key, e);
                None
            }
        }
    }

    /// A scalar as text (see [`values::text`]).
    pub(super) fn opt_string(&mut self, key: &str) -> Option<String> {
        self.convert(key, values::text)
    }

    pub(super) fn string_or(&mut self, key: &str, default: &str) -> String {
        self.opt_string(key).unwrap_or_else(|| default.to_owned())
    }

    /// A key an optional section needs once it is present: its absence is a problem (unless
    /// the value was there and already reported as bad).
    pub(super) fn required_string(&mut self, key: &str) -> Option<String> {
        let v = self.opt_string(key);
        if v.is_none() && !self.problems.iter().any(|p| p.key == key) {
            self.problem(key, "is required in this section".into());
        }
        v
    }

    pub(super) fn opt_parse<T>(
        &mut self,
        key: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
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
    pub(super) fn parse_or<T>(
        &mut self,
        key: &str,
        default: &str,
        f: impl Fn(&str) -> Result<T, String>,
    ) -> T {
        self.opt_parse(key, &f)
            .unwrap_or_else(|| f(default).unwrap_or_else(|_| panic!("default of {key} is valid")))
    }

    pub(super) fn int_or(&mut self, key: &str, default: i64, min: i64, max: i64) -> i64 {
        self.convert(key, |v| values::whole_number(v, min, max))
            .unwrap_or(default)
    }

    pub(super) fn bool_or(&mut self, key: &str, default: bool) -> bool {
        self.convert(key, values::boolean).unwrap_or(default)
    }

    pub(super) fn duration_or(&mut self, key: &str, default: &str) -> Duration {
        self.parse_or(key, default, values::parse_duration)
    }

    /// A list of strings (see [`values::string_list`]); each bad item is a problem.
    pub(super) fn string_list_or(&mut self, key: &str, default: &[&str]) -> Vec<String> {
        let Some(value) = self.take(key) else {
            return default.iter().map(|s| s.to_string()).collect();
        };
        values::string_list(value).unwrap_or_else(|problems| {
            for message in problems {
                self.problem(key, message);
            }
            Vec::new()
        })
    }

    /// Destination domain → messages per minute (see [`values::domain_limits`]); a bad
    /// entry is a problem under its own key (`dispatch.domain_limits.docomo.ne.jp`).
    pub(super) fn domain_limits(&mut self, key: &str) -> BTreeMap<String, u32> {
        let Some(value) = self.take(key) else {
            return BTreeMap::new();
        };
        values::domain_limits(value).unwrap_or_else(|problems| {
            for (entry, message) in problems {
                match entry {
                    Some(domain) => self.problem(&format!("{key}.{domain}"), message),
                    None => self.problem(key, message),
                }
            }
            BTreeMap::new()
        })
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
pub(super) mod tests {
    use super::*;

    pub(in crate::config) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
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
    fn lists_and_tables_from_the_environment_are_toml_text() {
        let e = env(&[
            (
                "KAIRAN__DISPATCH__DOMAIN_LIMITS",
                r#"{ "DoCoMo.ne.jp" = 20 }"#,
            ),
            (
                "KAIRAN__NEWSLETTER__LEGACY_CHARSET_DOMAINS",
                r#"["a.jp", "B.jp"]"#,
            ),
        ]);
        let (s, _) = parse("", "defaults", &e).unwrap();
        assert_eq!(s.dispatch.domain_limits.get("docomo.ne.jp"), Some(&20));
        assert_eq!(s.newsletter.legacy_charset_domains, ["a.jp", "b.jp"]);
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
    fn problems_come_in_section_order_then_unknown_keys() {
        let text = r#"
            [subscribe]
            rate_limit_per_minute = 0
            [smtp]
            timeout = "soon"
            [http]
            listen = "nowhere"
            colour = "blue"
            [database]
            url = "mysql://db"
        "#;
        let errs = parse(text, "kairan.toml", &[]).unwrap_err();
        let keys: Vec<_> = errs.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "database.url",
                "http.listen",
                "smtp.timeout",
                "subscribe.rate_limit_per_minute",
                "http.colour"
            ]
        );
        assert_eq!(
            errs.to_string(),
            "the configuration has 5 problems: \
             database.url (kairan.toml): expected sqlite://PATH or postgres://USER@HOST/DB; \
             http.listen (kairan.toml): expected host:port, e.g. 127.0.0.1:8080; \
             smtp.timeout (kairan.toml): `soon` is not a duration such as 90s, 10m, 24h or 30d; \
             subscribe.rate_limit_per_minute (kairan.toml): 0 is out of range 1..=100000; \
             http.colour (kairan.toml): unknown key"
        );
    }

    #[test]
    fn a_bad_entry_in_a_table_from_the_environment_names_the_variable() {
        let e = env(&[(
            "KAIRAN__DISPATCH__DOMAIN_LIMITS",
            r#"{ "a.jp" = 0, "b.jp" = 5 }"#,
        )]);
        let errs = parse("[dispatch]\nbatch_size = 0\n", "kairan.toml", &e).unwrap_err();
        let shown: Vec<_> = errs.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "dispatch.batch_size (kairan.toml): 0 is out of range 1..=100000",
                "dispatch.domain_limits.a.jp (environment KAIRAN__DISPATCH__DOMAIN_LIMITS): \
                 expected a positive number of messages per minute, found 0"
            ]
        );
    }

    #[test]
    fn unknown_environment_keys_are_errors_too() {
        let errs = parse("", "defaults", &env(&[("KAIRAN__HTTP__LISTN", "x")])).unwrap_err();
        assert_eq!(errs.0.len(), 1);
        assert_eq!(errs.0[0].key, "http.listn");
        assert_eq!(errs.0[0].origin, "environment KAIRAN__HTTP__LISTN");
    }

    #[test]
    fn environment_names_that_cannot_be_placed_are_named() {
        let errs = parse(
            "http = 3\n",
            "kairan.toml",
            &env(&[("KAIRAN____X", "1"), ("KAIRAN__HTTP__LISTEN", "1.2.3.4:5")]),
        )
        .unwrap_err();
        let shown: Vec<_> = errs.0.iter().map(ToString::to_string).collect();
        assert!(
            shown.contains(
                &"KAIRAN____X (environment): empty key segment (use KAIRAN__SECTION__KEY)".into()
            ),
            "{shown:?}"
        );
        assert!(
            shown.contains(
                &"http.listen (environment KAIRAN__HTTP__LISTEN): `http` is a value in the file, not a table"
                    .into()
            ),
            "{shown:?}"
        );
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
    fn a_named_file_that_cannot_be_read_is_one_problem_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let errs = load_from(Some(&missing), &[]).unwrap_err();
        assert_eq!(errs.0.len(), 1);
        assert_eq!(errs.0[0].key, missing.display().to_string());
        assert_eq!(errs.0[0].origin, "--config");
        assert!(errs.0[0].message.starts_with("cannot read the file"));
    }

    /// A config file in its own temporary directory, which is never the test's working
    /// directory (that is the crate root).
    fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kairan.toml");
        std::fs::write(&file, text).unwrap();
        (dir, file)
    }

    #[test]
    fn relative_paths_in_a_file_are_relative_to_that_file() {
        let (dir, file) = config_file(
            r#"
            [database]
            url = "sqlite://kairan.db"
            [outbox]
            dir = "mail"
            [dkim]
            domain = "example.org"
            private_key = "keys/dkim.pem"
            [paths]
            templates = "templates"
            locales = "/usr/share/kairan/locales"
            "#,
        );
        let loaded = load_from(Some(&file), &[]).unwrap();
        let s = &loaded.settings;
        let d = dir.path();
        assert_eq!(
            s.database.url.expose(),
            format!("sqlite://{}", d.join("kairan.db").display())
        );
        assert_eq!(s.outbox.dir, d.join("mail"));
        assert_eq!(
            s.dkim.as_ref().unwrap().private_key,
            d.join("keys/dkim.pem")
        );
        assert_eq!(
            s.paths.templates.as_deref(),
            Some(d.join("templates").as_path())
        );
        assert_eq!(
            s.paths.locales.as_deref(),
            Some(Path::new("/usr/share/kairan/locales"))
        );
    }

    #[test]
    fn the_short_sqlite_form_with_a_mode_is_relative_to_the_file_too() {
        let (dir, file) = config_file("[database]\nurl = \"sqlite:data/k.db?mode=rwc\"\n");
        let loaded = load_from(Some(&file), &[]).unwrap();
        assert_eq!(
            loaded.settings.database.url.expose(),
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("data/k.db").display()
            )
        );
    }

    #[test]
    fn environment_values_and_defaults_stay_relative_to_the_working_directory() {
        let (_dir, file) = config_file("[outbox]\ndir = \"mail\"\n[paths]\nlocales = \"l\"\n");
        let e = env(&[
            ("KAIRAN__DATABASE__URL", "sqlite://env.db"),
            ("KAIRAN__PATHS__LOCALES", "env-locales"),
        ]);
        let s = load_from(Some(&file), &e).unwrap().settings;
        assert_eq!(s.database.url.expose(), "sqlite://env.db");
        assert_eq!(s.paths.locales, Some(PathBuf::from("env-locales")));
        assert!(
            s.outbox.dir.is_absolute(),
            "from the file: {:?}",
            s.outbox.dir
        );

        let (_dir, file) = config_file("[http]\nlisten = \"127.0.0.1:9000\"\n");
        let s = load_from(Some(&file), &[]).unwrap().settings;
        assert_eq!(s.database.url.expose(), "sqlite://kairan.db");
        assert_eq!(s.outbox.dir, PathBuf::from("outbox"));
        assert_eq!(s.paths.templates, None);
    }

    #[test]
    fn text_without_a_file_keeps_its_paths_as_written() {
        let (s, _) = parse(
            "[database]\nurl = \"sqlite://k.db\"\n[outbox]\ndir = \"mail\"\n",
            "test",
            &[],
        )
        .unwrap();
        assert_eq!(s.database.url.expose(), "sqlite://k.db");
        assert_eq!(s.outbox.dir, PathBuf::from("mail"));
    }

    #[test]
    fn problems_in_a_file_name_the_file() {
        let (_dir, file) = config_file("[dispatch]\nconcurency = 4\n");
        let errs = load_from(Some(&file), &[]).unwrap_err();
        assert_eq!(errs.0[0].key, "dispatch.concurency");
        assert_eq!(errs.0[0].origin, file.display().to_string());
    }
}
