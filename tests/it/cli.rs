//! The real `kairan` binary, as an operator runs it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::helpers::{create_pg_database, drop_pg_database};

fn kairan(dir: &Path) -> Command {
    crate::helpers::kairan_cmd(dir)
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = kairan(dir);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// A running `kairan serve` whose log lines are collected.
struct Daemon {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Daemon {
    fn start(dir: &Path, env: &[(&str, &str)]) -> Daemon {
        let mut cmd = kairan(dir);
        cmd.arg("serve").env("KAIRAN__HTTP__LISTEN", "127.0.0.1:0");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut d = Daemon {
            child,
            addr: String::new(),
            lines: rx,
            seen: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match d.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    let v: serde_json::Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
                    if v["fields"]["message"] == "kairan is listening" {
                        d.addr = v["fields"]["addr"].as_str().unwrap().to_owned();
                    }
                    d.seen.push(line);
                    if !d.addr.is_empty() {
                        return d;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let _ = d.child.kill();
        panic!("kairan serve did not start listening; log: {:#?}", d.seen);
    }

    fn get(&self, path: &str) -> (u16, String) {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "-",
                "-w",
                "\n%{http_code}",
                &format!("http://{}{path}", self.addr),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.parse().unwrap(), body.to_owned())
    }

    /// Sends SIGTERM and waits (at most 10 s) for the exit; returns the status and all logs.
    fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                    self.seen.push(line);
                }
                return (status, self.seen);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("kairan serve did not exit within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve_answers_health_and_metrics_and_exits_cleanly_on_sigterm(
    dir: &Path,
    env: &[(&str, &str)],
) -> Vec<String> {
    let daemon = Daemon::start(dir, env);
    let (code, body) = daemon.get("/healthz");
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    let (code, metrics) = daemon.get("/metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("kairan_http_requests_total"), "{metrics}");
    let (status, logs) = daemon.terminate();
    assert!(status.success(), "exit status {status:?}; logs {logs:#?}");
    for line in &logs {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    assert!(
        logs.iter().any(|l| l.contains("SIGTERM received")),
        "{logs:#?}"
    );
    assert!(
        logs.iter().any(|l| l.contains("shutdown complete")),
        "{logs:#?}"
    );
    logs
}

#[test]
fn serve_in_an_empty_directory_starts_on_defaults_with_sqlite_and_json_logs() {
    let dir = tempfile::tempdir().unwrap();
    let logs = serve_answers_health_and_metrics_and_exits_cleanly_on_sigterm(dir.path(), &[]);
    assert!(
        dir.path().join("kairan.db").exists(),
        "kairan.db was not created"
    );
    assert!(
        logs.iter().any(|l| l.contains("no smtp.url configured")),
        "{logs:#?}"
    );
    assert!(
        logs.iter().any(|l| l.contains(r#""backend":"sqlite""#)),
        "{logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_then_serve_works_the_same_on_postgres() {
    let url = create_pg_database().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("KAIRAN__DATABASE__URL", url.as_str())];
    let out = run(dir.path(), &["migrate"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied (postgres"));
    let path = dir.path().to_owned();
    let url2 = url.clone();
    let logs = tokio::task::spawn_blocking(move || {
        serve_answers_health_and_metrics_and_exits_cleanly_on_sigterm(
            &path,
            &[("KAIRAN__DATABASE__URL", url2.as_str())],
        )
    });
    let logs = logs.await;
    drop_pg_database(url.rsplit('/').next().unwrap()).await;
    let logs = logs.unwrap();
    assert!(
        logs.iter().any(|l| l.contains(r#""backend":"postgres""#)),
        "{logs:#?}"
    );
    assert!(
        !dir.path().join("kairan.db").exists(),
        "no SQLite file on PostgreSQL"
    );
}

#[test]
fn check_names_every_bad_key_at_once_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kairan.toml"),
        "[http]\nlisten = \"localhost\"\n[dispatch]\nconcurency = 4\n",
    )
    .unwrap();
    let out = run(dir.path(), &["check"], &[]);
    assert_eq!(out.status.code(), Some(78));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("http.listen"), "{stdout}");
    assert!(
        stdout.contains("dispatch.concurency") && stdout.contains("unknown key"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one error line: {stderr}");
    assert!(stderr.contains("2 problems"), "{stderr}");
}

#[test]
fn check_on_defaults_reports_the_empty_legal_footer_settings() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["check"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("newsletter.ja.postal_address"), "{stdout}");

    let complete = [
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
    let out = run(dir.path(), &["check"], &complete);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));
}

#[test]
fn a_bad_environment_value_stops_serve_with_one_clear_line_and_no_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["serve"],
        &[("KAIRAN__DISPATCH__BATCH_SIZE", "lots")],
    );
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("dispatch.batch_size") && stderr.contains("KAIRAN__DISPATCH__BATCH_SIZE"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    assert!(!dir.path().join("kairan.db").exists());
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--config", "nope.toml", "check"], &[]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
}

#[test]
fn an_unreachable_database_is_one_clear_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/none");
    let out = run(
        dir.path(),
        &["migrate"],
        &[("KAIRAN__DATABASE__URL", url.as_str())],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("kairan: error: cannot open the database"),
        "{stderr}"
    );
}

#[test]
fn status_json_on_a_fresh_database_lists_nothing_yet() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["migrate"], &[]).status.success());
    let out = run(dir.path(), &["status", "--json"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["campaigns"], serde_json::json!([]));
    assert_eq!(v["subscribers"], serde_json::json!([]));
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["serve", "migrate", "check", "status"] {
        let out = run(dir.path(), &[cmd, "--help"], &[]);
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: kairan"),
            "{cmd}"
        );
    }
    let out = run(dir.path(), &["frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bounce_ingest_with_a_broken_configuration_asks_the_mta_to_retry() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["bounce", "ingest", "-"],
        &[("KAIRAN__DISPATCH__BATCH_SIZE", "lots")],
    );
    assert_eq!(
        out.status.code(),
        Some(75),
        "EX_TEMPFAIL, so the bounce is not bounced"
    );
}

#[test]
fn check_catches_a_template_that_compiles_but_cannot_render_and_a_one_sided_message() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("tpl/email");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("issue.txt.hbs"),
        "{{#each sections}}{{no_such_field}}{{/each}}\n",
    )
    .unwrap();
    let env: Vec<(&str, &str)> = crate::helpers::LEGAL
        .iter()
        .copied()
        .chain([("KAIRAN__PATHS__TEMPLATES", "tpl")])
        .collect();
    let out = run(dir.path(), &["check"], &env);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("sample render failed"), "{stdout}");

    let locales = dir.path().join("loc/ja");
    std::fs::create_dir_all(&locales).unwrap();
    std::fs::write(locales.join("extra.ftl"), "only-in-japanese = 日本語だけ\n").unwrap();
    let env: Vec<(&str, &str)> = crate::helpers::LEGAL
        .iter()
        .copied()
        .chain([("KAIRAN__PATHS__LOCALES", "loc")])
        .collect();
    let out = run(dir.path(), &["check"], &env);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("`only-in-japanese` has no English version"),
        "{stdout}"
    );
}

#[test]
fn a_relative_database_path_in_a_config_file_is_relative_to_that_file() {
    let config_dir = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("kairan.toml");
    std::fs::write(&config, "[database]\nurl = \"sqlite://kairan.db\"\n").unwrap();
    let config = config.to_str().unwrap();

    let out = run(cwd.path(), &["--config", config, "migrate"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(config_dir.path().join("kairan.db").is_file());
    assert!(!cwd.path().join("kairan.db").exists());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = config_dir.path().join("kairan.db");
    assert!(
        stdout.contains(expected.to_str().unwrap()),
        "names the file it migrated: {stdout}"
    );

    // The same key from the environment is relative to the working directory.
    let out = run(
        cwd.path(),
        &["--config", config, "migrate"],
        &[("KAIRAN__DATABASE__URL", "sqlite://env.db")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cwd.path().join("env.db").is_file());
    assert!(!config_dir.path().join("env.db").exists());
}
