//! The real binary killed mid-campaign (SIGKILL and SIGTERM), and several instances sharing
//! one PostgreSQL database. smtp-sink waits a second before each DATA (`-w 1`), so there is
//! always a campaign in flight to interrupt.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{
    LEGAL, SmtpSink, create_pg_database, drop_pg_database, fixture_dir, kairan_cmd,
};

const CONCURRENCY: usize = 4;

fn env(db_url: &str, smtp: &str) -> Vec<(String, String)> {
    let mut e: Vec<(String, String)> = LEGAL
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in [
        ("KAIRAN__DATABASE__URL", db_url),
        ("KAIRAN__SMTP__URL", smtp),
        ("KAIRAN__BOUNCE__RETURN_PATH", "bounces@example.org"),
        ("KAIRAN__DISPATCH__CONCURRENCY", "4"),
        ("KAIRAN__DISPATCH__BATCH_SIZE", "5"),
        ("KAIRAN__DISPATCH__LEASE", "10s"),
        ("KAIRAN__HTTP__LISTEN", "127.0.0.1:0"),
    ] {
        e.push((k.into(), v.into()));
    }
    e
}

fn kairan(dir: &Path, env: &[(String, String)], args: &[&str]) -> std::process::Command {
    let mut cmd = kairan_cmd(dir);
    cmd.args(args).envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// `n` subscribers imported, the fixture issue queued (optionally with a send time).
fn prepare(dir: &Path, env: &[(String, String)], n: usize, send_at: Option<&str>) {
    let mut csv = String::from("email,name,lang\n");
    for i in 0..n {
        csv.push_str(&format!(
            "reader{i}@d{}.example.jp,読者{i},{}\n",
            i % 5,
            ["ja", "en", "both"][i % 3]
        ));
    }
    std::fs::write(dir.join("subs.csv"), csv).unwrap();
    let out = kairan(dir, env, &["migrate"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kairan(
        dir,
        env,
        &["subscribers", "import", "subs.csv", "--confirmed"],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = fixture_dir();
    let (ja, en) = (f.join("ja.md"), f.join("en.md"));
    let mut args = vec![
        "issue",
        "queue",
        "--slug",
        "2026-12",
        "--ja",
        ja.to_str().unwrap(),
        "--en",
        en.to_str().unwrap(),
    ];
    if let Some(t) = send_at {
        args.extend(["--send-at", t]);
    }
    let out = kairan(dir, env, &args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait(mut child: Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// Recipient → Message-IDs of every copy smtp-sink received.
fn copies(sink: &SmtpSink) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for d in sink.messages() {
        let text = String::from_utf8_lossy(&d);
        let h = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        out.entry(h("X-Rcpt-Args:"))
            .or_default()
            .push(h("Message-ID:"));
    }
    out
}

fn interrupted_send_resumes(signal: &str) -> (HashMap<String, Vec<String>>, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sink = rt.block_on(SmtpSink::start_with(&["-w", "1"]));
    let db = format!("sqlite://{}", dir.path().join("kairan.db").display());
    let env = env(&db, &sink.url());
    prepare(dir.path(), &env, 24, None);

    let child = kairan(dir.path(), &env, &["send", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success()
    );
    let first = wait(child, Duration::from_secs(20));
    let sent_before = copies(&sink).values().map(Vec::len).sum::<usize>();
    assert!(
        sent_before > 0 && sent_before < 24,
        "interrupted mid-campaign ({sent_before} sent)"
    );

    // Restart: the killed run's leases expire (10 s) and the campaign completes.
    let again = kairan(dir.path(), &env, &["send", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let second = wait(again, Duration::from_secs(90));
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("issue 1 sent: 24 delivered"),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
    std::thread::sleep(Duration::from_millis(300));
    drop(rt);
    (copies(&sink), first)
}

#[test]
fn after_kill_9_every_reader_gets_the_issue_and_duplicates_are_only_the_in_flight_ones() {
    let (got, _) = interrupted_send_resumes("-KILL");
    assert_eq!(got.len(), 24, "every subscriber received it");
    let duplicates: usize = got.values().map(|v| v.len() - 1).sum();
    assert!(
        duplicates <= CONCURRENCY,
        "{duplicates} duplicates, more than the {CONCURRENCY} in flight"
    );
    for (rcpt, ids) in &got {
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "{rcpt}: a resend carries the same Message-ID: {ids:?}"
        );
    }
}

#[test]
fn after_sigterm_the_send_exits_cleanly_and_resuming_sends_no_duplicate() {
    let (got, first) = interrupted_send_resumes("-TERM");
    assert!(
        first.status.success(),
        "SIGTERM exits 0: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("run `kairan send 1` again"));
    assert_eq!(got.len(), 24);
    for (rcpt, ids) in &got {
        assert_eq!(ids.len(), 1, "{rcpt} got {} copies", ids.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_one_postgres_database_send_each_message_exactly_once() {
    let sink = SmtpSink::start_with(&["-w", "1"]).await;
    let url = create_pg_database().await;
    let dir = tempfile::tempdir().unwrap();
    let env = env(&url, &sink.url());
    // Migrate once first, so the three instances do not race to create the schema.
    assert!(
        kairan(dir.path(), &env, &["migrate"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let now = chrono::Utc::now().to_rfc3339();
    prepare(dir.path(), &env, 36, Some(&now));
    let mut instances: Vec<Child> = (0..3)
        .map(|_| {
            kairan(dir.path(), &env, &["serve"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let state: String = sqlx::query_scalar("SELECT state FROM issues WHERE id = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
        if state == "sent" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the campaign did not finish (state {state})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut senders = 0;
    for child in instances.iter_mut() {
        let pid = child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
    }
    for child in instances {
        let out = wait(child, Duration::from_secs(20));
        assert!(out.status.success());
        if String::from_utf8_lossy(&out.stderr).contains("batch done") {
            senders += 1;
        }
    }
    pool.close().await;
    drop_pg_database(url.rsplit('/').next().unwrap()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = copies(&sink);
    assert_eq!(got.len(), 36, "every subscriber received it");
    for (rcpt, ids) in &got {
        assert_eq!(ids.len(), 1, "{rcpt} got {} copies", ids.len());
    }
    assert!(
        senders >= 2,
        "the instances shared the work ({senders} sent)"
    );
}
