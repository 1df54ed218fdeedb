//! Delivery guarantees through faults, with the real binary at full speed against
//! Postfix's smtp-sink (each message dumped to its own file, counted per recipient):
//! `kill -9` mid-campaign on SQLite and PostgreSQL, the SQLite file held by another process,
//! a private PostgreSQL cluster restarted twice under `send` and under `serve`, the SMTP
//! server killed and restarted, SIGTERM. Waits are event-driven (polling the sink's files
//! or the process) with deadlines; the outages themselves last a set time.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::faults::{
    Campaign, PrivatePg, Proc, Sink, signal, tally, wait_exit, wait_until,
};
use crate::helpers::{create_pg_database, drop_pg_database};

/// Readers per campaign (the scale).
const READERS: usize = 3000;
/// `dispatch.concurrency` in these tests (the default).
const CONCURRENCY: usize = 8;
/// 200 messages a second: slow enough to fault mid-campaign, 15 s for the whole campaign.
const RATE: &str = "12000";

fn finished(out: &std::process::Output) {
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "send exits 0: {}",
        log.lines()
            .filter(|l| !l.contains("batch done"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // On a mismatch, the distinct replies that failed or deferred deliveries got say why.
    let mut replies: Vec<String> = log
        .lines()
        .filter(|l| l.contains("delivery failed") || l.contains("temporary failure"))
        .filter_map(|l| {
            l.split("reply")
                .nth(1)
                .map(|r| r.chars().take(160).collect())
        })
        .collect();
    replies.sort();
    replies.dedup();
    replies.truncate(10);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("sent: {READERS} delivered")),
        "{}\nreplies seen: {replies:#?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// kill -9 at ~900 sent with no rate limit and the default lease, then `send` again.
fn kill_9_then_resume(db_url: &str) {
    let sink = Sink::start();
    let c = Campaign::prepare(db_url, &sink.url(), READERS, &[]);
    c.queue(false);
    let first = c.spawn(&["send", "1"]);
    wait_until(Duration::from_secs(60), "900 sent", || sink.count() >= 900);
    signal(&first, "-KILL");
    let _ = wait_exit(first, Duration::from_secs(10));
    let before = sink.count();
    assert!(before < READERS, "killed mid-campaign ({before} sent)");

    let started = Instant::now();
    let again = c.spawn(&["send", "1"]);
    wait_until(
        Duration::from_secs(5),
        "the resumed send delivers within 5 s",
        || sink.count() > before,
    );
    let resumed_in = started.elapsed();
    let out = wait_exit(again, Duration::from_secs(60));
    finished(&out);
    let (lost, dups) = tally(&sink.copies(), READERS);
    eprintln!(
        "kill -9 on {}: killed at {before}, resumed sending in {resumed_in:?}, lost {lost}, duplicates {dups}",
        db_url.split(':').next().unwrap()
    );
    assert_eq!(lost, 0, "no reader is forgotten");
    assert!(
        dups <= 2 * CONCURRENCY,
        "{dups} duplicates, more than 2 × concurrency"
    );
}

#[test]
fn kill_9_at_full_speed_on_sqlite_loses_nothing_and_duplicates_at_most_two_per_worker() {
    let db = tempfile::tempdir().unwrap();
    kill_9_then_resume(&format!(
        "sqlite://{}",
        db.path().join("kairan.db").display()
    ));
}

#[test]
fn kill_9_at_full_speed_on_postgres_loses_nothing_and_duplicates_at_most_two_per_worker() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(create_pg_database());
    kill_9_then_resume(&url);
    rt.block_on(drop_pg_database(url.rsplit('/').next().unwrap()));
}

#[test]
fn sigterm_at_full_speed_sends_no_duplicate() {
    let db = tempfile::tempdir().unwrap();
    let sink = Sink::start();
    let c = Campaign::prepare(
        &format!("sqlite://{}", db.path().join("kairan.db").display()),
        &sink.url(),
        READERS,
        &[],
    );
    c.queue(false);
    let first = c.spawn(&["send", "1"]);
    wait_until(Duration::from_secs(60), "900 sent", || sink.count() >= 900);
    signal(&first, "-TERM");
    let out = wait_exit(first, Duration::from_secs(20));
    assert!(out.status.success(), "SIGTERM exits 0");
    assert!(sink.count() < READERS, "stopped mid-campaign");
    finished(&wait_exit(c.spawn(&["send", "1"]), Duration::from_secs(60)));
    assert_eq!(tally(&sink.copies(), READERS), (0, 0));
}

#[test]
fn sqlite_held_by_another_process_for_15_s_pauses_the_send_which_then_finishes() {
    let db = tempfile::tempdir().unwrap();
    let file = db.path().join("kairan.db");
    let sink = Sink::start();
    let c = Campaign::prepare(
        &format!("sqlite://{}", file.display()),
        &sink.url(),
        READERS,
        &[("KAIRAN__DISPATCH__RATE_PER_MINUTE", RATE)],
    );
    c.queue(false);
    let send = c.spawn(&["send", "1"]);
    wait_until(Duration::from_secs(60), "300 sent", || sink.count() >= 300);
    let mut lock = Command::new("sqlite3")
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sqlite3 (apt-get install sqlite3)");
    let mut stdin = lock.stdin.take().unwrap();
    // The shell has no busy timeout of its own: without `.timeout`, a BEGIN that meets one of
    // kairan's commits fails at once and the shell goes on unlocked (seen on a loaded
    // machine: the whole campaign went out "during the outage"). `.bail on` makes any such
    // failure end the shell before it prints "locked".
    writeln!(
        stdin,
        ".bail on\n.timeout 20000\nBEGIN EXCLUSIVE;\nSELECT 'locked';"
    )
    .unwrap();
    let mut line = String::new();
    BufReader::new(lock.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let locked_at = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let stalled = sink.count();
    // The outage: 15 s in all.
    std::thread::sleep(Duration::from_secs(15).saturating_sub(locked_at.elapsed()));
    assert_eq!(
        sink.count(),
        stalled,
        "nothing is sent while outcomes cannot be recorded"
    );
    writeln!(stdin, "COMMIT;").unwrap();
    drop(stdin);
    assert!(lock.wait().unwrap().success());
    let out = wait_exit(send, Duration::from_secs(60));
    finished(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("waiting for the database"),
        "send says what it waits for: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tally(&sink.copies(), READERS), (0, 0));
}

/// Restarts the cluster twice (down 2 s each time) while `count` passes 600 and 1,800.
fn restart_twice(pg: &PrivatePg, sink: &Sink, p: &Proc) {
    for at in [600, 1800] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while sink.count() < at {
            assert!(
                Instant::now() < deadline,
                "the campaign does not advance ({} sent): {}",
                sink.count(),
                p.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        pg.stop();
        std::thread::sleep(Duration::from_secs(2));
        pg.start_again();
    }
}

#[test]
fn postgres_restarted_twice_during_send_loses_and_duplicates_nothing() {
    let pg = PrivatePg::start();
    let sink = Sink::start();
    let c = Campaign::prepare(
        &pg.url(),
        &sink.url(),
        READERS,
        &[("KAIRAN__DISPATCH__RATE_PER_MINUTE", RATE)],
    );
    c.queue(false);
    let send = c.spawn(&["send", "1"]);
    restart_twice(&pg, &sink, &send);
    finished(&wait_exit(send, Duration::from_secs(60)));
    assert_eq!(tally(&sink.copies(), READERS), (0, 0));
    // The outages are visible afterwards.
    let status = c.cmd(&["status"]).output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    let line = status
        .lines()
        .find(|l| l.contains("(send) heartbeat"))
        .unwrap_or_else(|| panic!("the send process is listed: {status}"));
    assert!(
        !line.contains("database outages 0 "),
        "the restarts were counted: {line}"
    );
}

#[test]
fn postgres_restarted_twice_during_serve_loses_and_duplicates_nothing() {
    let pg = PrivatePg::start();
    let sink = Sink::start();
    let c = Campaign::prepare(
        &pg.url(),
        &sink.url(),
        READERS,
        &[("KAIRAN__DISPATCH__RATE_PER_MINUTE", RATE)],
    );
    c.queue(true);
    let serve = c.spawn(&["serve"]);
    restart_twice(&pg, &sink, &serve);
    wait_until(Duration::from_secs(60), "the issue is sent", || {
        let out = c.cmd(&["issue", "show", "1"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).contains("state       sent")
    });
    signal(&serve, "-TERM");
    let out = wait_exit(serve, Duration::from_secs(30));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let problems: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("took back"))
        .collect();
    assert_eq!(
        tally(&sink.copies(), READERS),
        (0, 0),
        "{}",
        problems.join("\n")
    );
}

#[test]
fn smtp_server_killed_and_restarted_mid_campaign_loses_nothing() {
    let db = tempfile::tempdir().unwrap();
    let mut sink = Sink::start();
    let c = Campaign::prepare(
        &format!("sqlite://{}", db.path().join("kairan.db").display()),
        &sink.url(),
        READERS,
        &[("KAIRAN__DISPATCH__RETRY_BASE", "1s")],
    );
    c.queue(false);
    let send = c.spawn(&["send", "1"]);
    wait_until(Duration::from_secs(60), "900 sent", || sink.count() >= 900);
    sink.kill();
    sink.restart();
    finished(&wait_exit(send, Duration::from_secs(60)));
    let (lost, dups) = tally(&sink.copies(), READERS);
    assert_eq!(lost, 0);
    assert!(dups <= CONCURRENCY, "{dups} duplicates");
}

/// The rate here is one a loaded debug build can exceed when unlimited (the 60,000/min of
/// the issue is measured by `scripts/bench`'s release build), so the test can fail.
#[test]
fn the_campaign_rate_limit_holds_in_its_busiest_second() {
    const READERS: usize = 1500;
    let db = tempfile::tempdir().unwrap();
    let sink = Sink::start();
    let c = Campaign::prepare(
        &format!("sqlite://{}", db.path().join("kairan.db").display()),
        &sink.url(),
        READERS,
        &[("KAIRAN__DISPATCH__RATE_PER_MINUTE", "6000")],
    );
    c.queue(false);
    let out = wait_exit(c.spawn(&["send", "1"]), Duration::from_secs(60));
    assert!(out.status.success());
    let per_second = sink.per_second();
    let busiest = per_second.values().copied().max().unwrap_or(0);
    eprintln!("6,000/min: busiest second {busiest} messages ({per_second:?})");
    assert!(
        busiest <= 105,
        "configured 6,000/min (100/s), the busiest second sent {busiest}"
    );
    assert!(busiest >= 80, "it sends at about the rate: {per_second:?}");
    assert_eq!(tally(&sink.copies(), READERS), (0, 0));
}

/// Waits until the process has logged `what`.
fn logged(p: &Proc, what: &str) {
    wait_until(Duration::from_secs(30), what, || p.log().contains(what));
}

#[test]
fn a_pending_confirmation_mail_survives_sigterm_and_kill_9_and_is_sent_after_restart() {
    let db = tempfile::tempdir().unwrap();
    let mut sink = Sink::start();
    sink.kill();
    let c = Campaign::prepare(
        &format!("sqlite://{}", db.path().join("kairan.db").display()),
        &sink.url(),
        0,
        &[],
    );
    // The SMTP server is down: the confirmation stays queued in the outbox.
    let out = c
        .cmd(&[
            "subscribers",
            "add",
            "yomite@example.jp",
            "--name",
            "読み手",
            "--lang",
            "ja",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = c.spawn(&["serve"]);
    logged(&first, "kairan is listening");
    signal(&first, "-TERM");
    assert!(wait_exit(first, Duration::from_secs(30)).status.success());
    let second = c.spawn(&["serve"]);
    logged(&second, "kairan is listening");
    signal(&second, "-KILL");
    let _ = wait_exit(second, Duration::from_secs(10));
    assert_eq!(sink.count(), 0);

    sink.restart();
    let third = c.spawn(&["serve"]);
    wait_until(Duration::from_secs(45), "the confirmation is sent", || {
        sink.count() >= 1
    });
    signal(&third, "-TERM");
    assert!(wait_exit(third, Duration::from_secs(30)).status.success());
    let copies = sink.copies();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(copies.keys().next().unwrap().contains("yomite@example.jp"));
    assert_eq!(copies.values().next().unwrap().len(), 1, "sent once");
}
