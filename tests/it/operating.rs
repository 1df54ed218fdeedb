//! Operating kairan as a new user would (issue 16), through the real binary: `kairan check`
//! refuses a configuration that would really send mail from an example domain, with loopback
//! links or an incomplete legal footer (exit 78, each problem named), and warns when the base
//! URL is not https; commands other than `serve` and `migrate` never create a database.

use std::path::Path;
use std::process::Output;

use crate::helpers::{LEGAL, create_pg_database, drop_pg_database, kairan_cmd};

fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    kairan_cmd(dir)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_refuses_to_send_real_mail_from_an_example_domain_with_loopback_links() {
    let dir = tempfile::tempdir().unwrap();
    // The defaults plus a real relay: From newsletter@example.org, http://127.0.0.1:8080/,
    // no legal footer.
    let out = run(
        dir.path(),
        &[("KAIRAN__SMTP__URL", "smtp://127.0.0.1:2525")],
        &["check"],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{stdout}");
    assert!(stdout.contains("newsletter.from:"), "{stdout}");
    assert!(stdout.contains("example.org"), "{stdout}");
    assert!(
        stdout.contains("http.base_url: `http://127.0.0.1:8080/` is a loopback address"),
        "{stdout}"
    );
    for key in [
        "newsletter.ja.sender",
        "newsletter.ja.postal_address",
        "newsletter.en.sender",
        "newsletter.en.postal_address",
    ] {
        assert!(
            stdout.contains(&format!("{key}: is empty")),
            "{key}: {stdout}"
        );
    }
    assert!(stdout.contains("warning: http.base_url"), "{stdout}");
    assert!(!stdout.contains("configuration OK"), "{stdout}");
    assert!(
        text(&out.stderr).contains("smtp.url is set, so mail would really be sent"),
        "{}",
        text(&out.stderr)
    );

    // Each problem on its own: the footer complete, From still on example.org.
    let mut env: Vec<(&str, &str)> = LEGAL.to_vec();
    env.push(("KAIRAN__SMTP__URL", "smtp://127.0.0.1:2525"));
    env.push(("KAIRAN__HTTP__BASE_URL", "https://news.kairan.jp/"));
    let out = run(dir.path(), &env, &["check"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{stdout}");
    assert!(stdout.contains("newsletter.from:"), "{stdout}");
    assert!(!stdout.contains("http.base_url"), "{stdout}");
    assert!(!stdout.contains("is empty"), "{stdout}");

    // A real deployment: a real From domain, the public https URL. OK, no warning.
    env.push(("KAIRAN__NEWSLETTER__FROM", "回覧板 <news@kairan.jp>"));
    let out = run(dir.path(), &env, &["check"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("configuration OK"), "{stdout}");
    assert!(!stdout.contains("warning"), "{stdout}");

    // Plain http on a public host: a warning, not a failure.
    env.push(("KAIRAN__HTTP__BASE_URL", "http://news.kairan.jp/"));
    let out = run(dir.path(), &env, &["check"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("warning: http.base_url: `http://news.kairan.jp/` is not https"),
        "{stdout}"
    );

    // Without smtp.url (mail to the outbox directory) the example defaults are fine for
    // trying kairan out; only the footer is reported, as before (exit 1).
    let out = run(dir.path(), &[], &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("newsletter.from:"));
    assert!(
        !dir.path().join("kairan.db").exists(),
        "check opens no database"
    );
}

#[test]
fn commands_in_the_wrong_directory_do_not_create_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["subscribers", "list"][..],
        &["status"],
        &["status", "--json"],
        &["issue", "list"],
        &["send", "1"],
        &["subscribers", "export"],
    ] {
        let out = run(dir.path(), LEGAL, args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("no database at kairan.db: run `kairan migrate`, or pass --config"),
            "{args:?}: {stderr}"
        );
        assert!(!text(&out.stdout).contains("no subscribers"), "{args:?}");
        assert!(
            !dir.path().join("kairan.db").exists(),
            "{args:?} created kairan.db"
        );
    }
    // An absolute path is named as it is.
    let url = format!("sqlite://{}", dir.path().join("sub/news.db").display());
    let out = run(
        dir.path(),
        &[("KAIRAN__DATABASE__URL", url.as_str())],
        &["subscribers", "list"],
    );
    assert!(
        text(&out.stderr).contains(&format!(
            "no database at {}",
            dir.path().join("sub/news.db").display()
        )),
        "{}",
        text(&out.stderr)
    );
    // `migrate` creates it; then the commands work on it.
    let out = run(dir.path(), &[], &["migrate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(dir.path(), &[], &["subscribers", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(no subscribers)"));
}

#[tokio::test]
async fn a_missing_postgres_database_is_named_and_not_created() {
    let url = create_pg_database().await;
    let name = url.rsplit('/').next().unwrap().to_owned();
    drop_pg_database(&name).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[("KAIRAN__DATABASE__URL", url.as_str())],
        &["subscribers", "list"],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    assert!(
        stderr.contains(&format!("database \"{name}\" does not exist")),
        "{stderr}"
    );
    // Still missing.
    let admin = sqlx::PgPool::connect(&crate::helpers::pg_admin_url())
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(n, 0);
    admin.close().await;
}

/// A campaign sent by `kairan send` (another process) and subscribers loaded by an import
/// show in the daemon's `/metrics`: the gauges are read from the database at scrape.
async fn work_of_other_processes_shows_in_the_daemons_metrics(db: crate::helpers::TestDb) {
    use kairan::app::import::{self, ImportRow};
    use kairan::app::subscription::Mail;
    use kairan::domain::{EmailAddress, LangPref};
    let rows: Vec<ImportRow> = (0..60)
        .map(|i| ImportRow {
            line: i + 2,
            email: EmailAddress::parse(&format!("reader{i}@example.jp")).unwrap(),
            name: Some(format!("読者{i}")),
            lang: [LangPref::Ja, LangPref::En, LangPref::Both][i as usize % 3],
        })
        .collect();
    import::load(
        db.store.as_ref(),
        &rows,
        true,
        Mail::Never,
        &mut |_| {},
        &mut |_| {},
    )
    .await
    .unwrap();
    let url = db.url.clone();
    let app = crate::helpers::TestApp::spawn(db, LEGAL).await;
    let scrape = || async {
        reqwest::get(app.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let has = |m: &str, line: &str| m.lines().any(|l| l == line);
    let m = scrape().await;
    for line in [
        "kairan_subscribers{status=\"active\",lang=\"ja\"} 20",
        "kairan_subscribers{status=\"active\",lang=\"both\"} 20",
        "kairan_campaigns{state=\"sent\"} 0",
    ] {
        assert!(has(&m, line), "{line} in\n{m}");
    }

    let sink = crate::helpers::SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let f = crate::helpers::fixture_dir();
    let mut env: Vec<(&str, String)> = LEGAL.iter().map(|(k, v)| (*k, v.to_string())).collect();
    env.push(("KAIRAN__DATABASE__URL", url.clone()));
    env.push(("KAIRAN__SMTP__URL", sink.url()));
    let cli = |args: &[&str]| {
        let out = kairan_cmd(dir.path())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    };
    cli(&[
        "issue",
        "queue",
        "--slug",
        "2026-12",
        "--ja",
        f.join("ja.md").to_str().unwrap(),
        "--en",
        f.join("en.md").to_str().unwrap(),
        "--send-at",
        "2099-12-01T09:00:00+09:00",
    ]);
    let m = scrape().await;
    assert!(has(&m, "kairan_campaigns{state=\"queued\"} 1"), "{m}");
    cli(&["send", "2026-12"]);
    let m = scrape().await;
    for line in [
        "kairan_campaigns{state=\"sent\"} 1",
        "kairan_campaign_deliveries{issue=\"2026-12\",state=\"sent\"} 60",
        "kairan_campaign_deliveries{issue=\"2026-12\",state=\"failed\"} 0",
        "kairan_outbox_mails{state=\"pending\"} 0",
    ] {
        assert!(has(&m, line), "{line} in\n{m}");
    }
    assert_eq!(
        m.matches("# TYPE kairan_campaign_deliveries gauge").count(),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn work_of_other_processes_shows_in_the_daemons_metrics_sqlite() {
    work_of_other_processes_shows_in_the_daemons_metrics(crate::helpers::TestDb::sqlite().await)
        .await;
}

#[tokio::test]
async fn work_of_other_processes_shows_in_the_daemons_metrics_postgres() {
    work_of_other_processes_shows_in_the_daemons_metrics(crate::helpers::TestDb::postgres().await)
        .await;
}

fn status_subscribers(dir: &Path, url: &str) -> serde_json::Value {
    let out = run(
        dir,
        &[("KAIRAN__DATABASE__URL", url)],
        &["status", "--json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["subscribers"].clone()
}

/// `kairan backup --out FILE` while the database is open, restored into another directory
/// as docs/operating.md says: the same subscribers, and a link signed before still valid.
#[tokio::test]
async fn a_sqlite_backup_restores_with_its_signing_key() {
    use kairan::domain::Purpose;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kairan.db").display());
    let env = [("KAIRAN__DATABASE__URL", url.as_str())];
    assert!(run(dir.path(), &env, &["migrate"]).status.success());
    std::fs::write(
        dir.path().join("list.csv"),
        "メール,名前,言語\ntaro@example.jp,山田 太郎,日本語\nann@example.org,Ann,English\nken@example.jp,佐藤 健,両方\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &env,
        &["subscribers", "import", "list.csv", "--confirmed"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A link signed with the generated key (created next to the database on first use),
    // with the database open in this process (an online backup).
    let store = kairan::storage::connect(&url, 2).await.unwrap();
    let settings = crate::helpers::settings_for(&url, &dir.path().join("outbox"));
    let signer = kairan::app::keys::signer(&settings, store.as_ref())
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let token = signer.sign(2, Purpose::Unsubscribe, now);
    let before = status_subscribers(dir.path(), &url);

    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("kairan-2026-12-01.db");
    let out = run(
        dir.path(),
        &env,
        &["backup", "--out", file.to_str().unwrap()],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("database copied to"), "{stdout}");
    assert!(stdout.contains("kairan-2026-12-01.db.key"), "{stdout}");
    let key = backups.path().join("kairan-2026-12-01.db.key");
    #[cfg(unix)]
    for f in [&file, &key] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", f.display());
    }
    // A second backup to the same name is refused, the first left as it was.
    let size = std::fs::metadata(&file).unwrap().len();
    let out = run(
        dir.path(),
        &env,
        &["backup", "--out", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size);
    store.close().await;

    // Restore on another machine: the pair copied to the database path and path.key.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&file, restored.path().join("kairan.db")).unwrap();
    std::fs::copy(&key, restored.path().join("kairan.db.key")).unwrap();
    let r_url = format!("sqlite://{}", restored.path().join("kairan.db").display());
    assert_eq!(status_subscribers(restored.path(), &r_url), before);
    assert_eq!(before.as_array().unwrap().len(), 3, "{before}");
    let r_store = kairan::storage::connect(&r_url, 1).await.unwrap();
    let r_settings = crate::helpers::settings_for(&r_url, &restored.path().join("outbox"));
    let r_signer = kairan::app::keys::signer(&r_settings, r_store.as_ref())
        .await
        .unwrap();
    assert_eq!(
        r_signer
            .verify(&token, Purpose::Unsubscribe, now, None)
            .ok(),
        Some(2)
    );
    r_store.close().await;
}

/// PostgreSQL: `kairan backup` says to use pg_dump; the documented pg_dump / pg_restore pair
/// restores the list and the generated key (kept in the database).
#[tokio::test]
async fn a_postgres_database_is_backed_up_with_pg_dump_as_documented() {
    use kairan::domain::Purpose;
    let db = crate::helpers::TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("KAIRAN__DATABASE__URL", db.url.as_str())];
    std::fs::write(
        dir.path().join("list.csv"),
        "email,name,lang\ntaro@example.jp,山田 太郎,ja\nann@example.org,Ann,en\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &env,
        &["subscribers", "import", "list.csv", "--confirmed"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(dir.path(), &env, &["backup", "--out", "x.db"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("pg_dump"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("x.db").exists());

    let settings = crate::helpers::settings_for(&db.url, &dir.path().join("outbox"));
    let signer = kairan::app::keys::signer(&settings, db.store.as_ref())
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let token = signer.sign(1, Purpose::Unsubscribe, now);
    let before = status_subscribers(dir.path(), &db.url);

    // As docs/operating.md says.
    let dump = dir.path().join("kairan.dump");
    let out = std::process::Command::new("pg_dump")
        .args(["--format=custom", "--file", dump.to_str().unwrap(), &db.url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let target = create_pg_database().await;
    let out = std::process::Command::new("pg_restore")
        .args([
            "--clean",
            "--if-exists",
            "--no-owner",
            "--dbname",
            &target,
            dump.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(status_subscribers(dir.path(), &target), before);
    let r_store = kairan::storage::connect(&target, 1).await.unwrap();
    let r_settings = crate::helpers::settings_for(&target, &dir.path().join("outbox"));
    let r_signer = kairan::app::keys::signer(&r_settings, r_store.as_ref())
        .await
        .unwrap();
    assert_eq!(
        r_signer
            .verify(&token, Purpose::Unsubscribe, now, None)
            .ok(),
        Some(1)
    );
    r_store.close().await;
    drop_pg_database(target.rsplit('/').next().unwrap()).await;
    db.cleanup().await;
}

/// `scripts/bench-import` runs end to end (small, on the test build): it imports, re-imports
/// without change, and measures sqlite3's `.import` of the same file in the same run.
#[test]
fn the_import_benchmark_runs_and_compares_with_sqlite3() {
    let out = std::process::Command::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench-import"),
    )
    .args(["--rows", "3000", "--binary", env!("CARGO_BIN_EXE_kairan")])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rows"], 3000, "{v}");
    assert_eq!(v["backend"], "sqlite", "{v}");
    assert!(v["kairan_rows_per_s"].as_u64().unwrap() > 0, "{v}");
    assert!(v["sqlite3_rows_per_s"].as_u64().unwrap() > 0, "{v}");
    assert!(v["reimport_seconds"].as_f64().unwrap() > 0.0, "{v}");
}
