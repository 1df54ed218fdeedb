//! Shared test support: fresh databases per test (SQLite file or PostgreSQL database),
//! settings for them, and an in-process SMTP server that can be told to fail.

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use kairan::app::ports::Store;

pub mod dovecot;
pub mod fake_smtp;
pub mod faults;
pub mod postfix;

/// The PostgreSQL server tests use; override with `KAIRAN_TEST_PG` (an admin URL).
pub fn pg_admin_url() -> String {
    std::env::var("KAIRAN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Now, at the precision both backends store (microseconds), so values round-trip exactly.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A database of its own for one test, removed afterwards.
pub struct TestDb {
    pub url: String,
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// A fresh SQLite file in a temporary directory, migrated.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("kairan.db").display());
        let store = kairan::storage::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        TestDb {
            url,
            store,
            _dir: Some(dir),
            pg_name: None,
        }
    }

    /// A fresh PostgreSQL database, migrated. Fails loudly when the server is unreachable:
    /// the PostgreSQL half of the suite is never skipped.
    pub async fn postgres() -> TestDb {
        let url = create_pg_database().await;
        let store = kairan::storage::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        let name = url.rsplit('/').next().unwrap().to_owned();
        TestDb {
            url,
            store,
            _dir: None,
            pg_name: Some(name),
        }
    }

    /// Closes the pool and drops the PostgreSQL database.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(name) = &self.pg_name {
            drop_pg_database(name).await;
        }
    }
}

/// Creates an empty database named `kairan_test_<random>` and returns its URL (unmigrated).
pub async fn create_pg_database() -> String {
    use sqlx::Connection;
    let admin = pg_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is required for these tests and is unreachable at {admin}: {e}. \
             Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    });
    let name = format!("kairan_test_{:016x}", rand::random::<u64>());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    let base = admin.rsplit_once('/').unwrap().0;
    format!("{base}/{name}")
}

pub async fn drop_pg_database(name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
        conn.close().await.ok();
    }
}

/// Default settings with the given database URL and an ephemeral HTTP port.
pub fn settings_for(db_url: &str, outbox: &std::path::Path) -> kairan::config::Settings {
    settings_with(db_url, outbox, &[])
}

/// As [`settings_for`], plus `KAIRAN__…` overrides.
pub fn settings_with(
    db_url: &str,
    outbox: &std::path::Path,
    extra: &[(&str, &str)],
) -> kairan::config::Settings {
    let mut env = vec![
        ("KAIRAN__DATABASE__URL".to_owned(), db_url.to_owned()),
        ("KAIRAN__HTTP__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "KAIRAN__OUTBOX__DIR".to_owned(),
            outbox.display().to_string(),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    kairan::config::parse("", "test", &env).unwrap().0
}

/// Postfix's `smtp-sink` on a free loopback port, dumping each message into `dir`; killed on
/// drop. Fails loudly when Postfix is not installed (`.ci/run` installs it).
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: std::process::Child,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        Self::start_with(&[]).await
    }

    /// With extra smtp-sink options, e.g. `["-w", "1"]` to wait a second before each DATA.
    pub async fn start_with(extra: &[&str]) -> SmtpSink {
        use std::os::unix::fs::PermissionsExt;
        let bin = ["/usr/sbin/smtp-sink", "/usr/bin/smtp-sink"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("smtp-sink not found: install the Debian package `postfix` (.ci/run does)");
        let dir = tempfile::tempdir().unwrap();
        // smtp-sink drops privileges to `nobody` when started as root; let it write here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let port = free_port();
        let mut cmd = std::process::Command::new(bin);
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        let mut child = cmd
            .args(extra)
            .arg("-d")
            .arg(format!("{}/msg.", dir.path().display()))
            .arg(format!("127.0.0.1:{port}"))
            .arg("128")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start smtp-sink");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return SmtpSink { port, dir, child };
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("smtp-sink did not start listening on port {port}");
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The dumped messages so far (smtp-sink's `X-*` transaction headers, then the message).
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("msg."))
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The legal-footer settings, complete, so issues can be queued.
pub const LEGAL: &[(&str, &str)] = &[
    ("KAIRAN__NEWSLETTER__FROM", "回覧板 <news@example.org>"),
    ("KAIRAN__NEWSLETTER__CONTACT", "info@example.org"),
    (
        "KAIRAN__NEWSLETTER__JA__SENDER",
        "特定非営利活動法人 回覧板",
    ),
    (
        "KAIRAN__NEWSLETTER__JA__POSTAL_ADDRESS",
        "〒160-0022 東京都新宿区新宿1-2-3",
    ),
    ("KAIRAN__NEWSLETTER__EN__SENDER", "Kairan NPO"),
    (
        "KAIRAN__NEWSLETTER__EN__POSTAL_ADDRESS",
        "1-2-3 Shinjuku, Tokyo 160-0022, Japan",
    ),
];

/// The bilingual fixture issue's source files.
pub fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/issue")
}

/// A whole app on a random port, for HTTP tests.
pub struct TestApp {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub outbox: tempfile::TempDir,
    shutdown: tokio_util::sync::CancellationToken,
    db: Option<TestDb>,
}

impl TestApp {
    /// HTTP only (passive): tests that drive campaigns themselves see no dispatcher.
    pub async fn spawn(db: TestDb, env: &[(&str, &str)]) -> TestApp {
        Self::spawn_with(db, env, true).await
    }

    /// The whole daemon: HTTP, scheduler and dispatcher.
    pub async fn spawn_active(db: TestDb, env: &[(&str, &str)]) -> TestApp {
        Self::spawn_with(db, env, false).await
    }

    async fn spawn_with(db: TestDb, env: &[(&str, &str)], passive: bool) -> TestApp {
        let outbox = tempfile::tempdir().unwrap();
        let settings = settings_with(&db.url, outbox.path(), env);
        let mailer = kairan::mail::from_settings(&settings).unwrap();
        let app = kairan::startup::Application::build_with(settings, db.store.clone(), mailer)
            .await
            .unwrap()
            .passive(passive);
        let base = format!("http://{}", app.local_addr());
        let shutdown = tokio_util::sync::CancellationToken::new();
        tokio::spawn(app.run(shutdown.clone()));
        TestApp {
            base,
            store: db.store.clone(),
            outbox,
            shutdown,
            db: Some(db),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Files written to the outbox so far.
    pub fn outbox_files(&self) -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(self.outbox.path())
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }
}

/// The real `kairan` binary in `dir`, with the runner's own `KAIRAN*` / `RUST_LOG`
/// variables removed so they cannot leak in.
pub fn kairan_cmd(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kairan"));
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("KAIRAN") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Expands each named `async fn(TestDb)` into a SQLite and a PostgreSQL `#[tokio::test]`,
/// each with a fresh database of its own.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::helpers::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::helpers::TestDb::postgres().await).await;
                }
            )*
        }
    };
}
pub(crate) use both_backends;

/// Expands each named `async fn(Arc<dyn Store>)` (the storage contract) into a SQLite and a
/// PostgreSQL `#[tokio::test]`, each with a fresh database, dropped afterwards.
macro_rules! store_contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::helpers::TestDb::sqlite().await;
                    super::$name(db.store.clone()).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::helpers::TestDb::postgres().await;
                    super::$name(db.store.clone()).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}
pub(crate) use store_contract;
