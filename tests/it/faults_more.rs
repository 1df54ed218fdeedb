//! More delivery guarantees through faults, with the real binary against Postfix's
//! smtp-sink: the campaign rate limit at 60,000/min measured in its busiest second, SMTP
//! connections cut mid-DATA by a proxy, and the work of a dead instance of another host
//! coming back through the lease and heartbeat on PostgreSQL with the default settings.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::faults::{Campaign, Sink, signal, tally, wait_exit, wait_until};
use crate::helpers::{create_pg_database, drop_pg_database};

const READERS: usize = 3000;
const CONCURRENCY: usize = 8;

fn finished(out: &std::process::Output, readers: usize) {
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "send exits 0: {}",
        log.lines()
            .filter(|l| !l.contains("batch done"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("sent: {readers} delivered")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// 60,000/min is 1,000 a second: no wall-clock second of the sink may hold more than 1,050.
/// The same campaign is first sent unlimited, to see what the binary does on this machine:
/// a test that could not exceed the limit could not fail, so where the unlimited busiest
/// second is under 1,000/0.6 (a debug build on a loaded machine) the limit is scaled down to
/// 60% of it, and the same 5% bound is asserted at that rate (which one is printed).
#[test]
fn the_campaign_rate_limit_holds_at_60000_a_minute_in_its_busiest_second() {
    let unlimited = {
        let db = tempfile::tempdir().unwrap();
        let sink = Sink::start();
        let c = Campaign::prepare(
            &format!("sqlite://{}", db.path().join("kairan.db").display()),
            &sink.url(),
            READERS,
            &[],
        );
        c.queue(false);
        finished(
            &wait_exit(c.spawn(&["send", "1"]), Duration::from_secs(120)),
            READERS,
        );
        sink.per_second().values().copied().max().unwrap_or(0)
    };
    let per_s = (unlimited * 6 / 10).clamp(50, 1000);
    let db = tempfile::tempdir().unwrap();
    let sink = Sink::start();
    let c = Campaign::prepare(
        &format!("sqlite://{}", db.path().join("kairan.db").display()),
        &sink.url(),
        READERS,
        &[(
            "KAIRAN__DISPATCH__RATE_PER_MINUTE",
            &(per_s * 60).to_string(),
        )],
    );
    c.queue(false);
    let started = Instant::now();
    let out = wait_exit(c.spawn(&["send", "1"]), Duration::from_secs(120));
    let took = started.elapsed();
    finished(&out, READERS);
    let per_second = sink.per_second();
    let busiest = per_second.values().copied().max().unwrap_or(0);
    eprintln!(
        "{}/min, {READERS} readers: busiest second {busiest} (unlimited: {unlimited}), the send took {took:?}; per second {per_second:?}",
        per_s * 60
    );
    assert!(
        busiest * 100 <= per_s * 105,
        "configured {}/min ({per_s}/s), the busiest second sent {busiest}",
        per_s * 60
    );
    let least = Duration::from_secs_f64((READERS as f64 / per_s as f64) * 0.93);
    assert!(
        took >= least,
        "{READERS} messages at {per_s}/s take at least {least:?}, not {took:?}"
    );
    assert_eq!(tally(&sink.copies(), READERS), (0, 0));
}

/// A TCP proxy between kairan and the sink that cuts a connection mid-DATA (once a
/// connection has carried `after` bytes and is 2 KB into a message), `times` times in all,
/// and remembers the recipient whose message was on the wire at each cut.
struct CutProxy {
    port: u16,
    on_the_wire: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl CutProxy {
    fn start(upstream: u16, after: usize, times: usize) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let on_the_wire = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let left = Arc::new(AtomicUsize::new(times));
        let (wire, halt) = (on_the_wire.clone(), stop.clone());
        std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let (wire, left) = (wire.clone(), left.clone());
                        std::thread::spawn(move || relay(client, upstream, after, &left, &wire));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        CutProxy {
            port,
            on_the_wire,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copies client → server, watching the SMTP commands; the server → client direction on
/// its own thread.
fn relay(
    mut client: TcpStream,
    upstream: u16,
    after: usize,
    left: &AtomicUsize,
    wire: &Mutex<Vec<String>>,
) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut s2, &mut c2);
        let _ = c2.shutdown(Shutdown::Both);
    });
    let mut buf = vec![0u8; 16 * 1024];
    let (mut total, mut in_data, mut data_bytes) = (0usize, false, 0usize);
    let mut rcpt = String::new();
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        // Commands are looked for in what came before and this chunk together.
        let mut seen = std::mem::take(&mut tail);
        seen.extend_from_slice(chunk);
        let text = String::from_utf8_lossy(&seen);
        if !in_data {
            if let Some(i) = text.rfind("RCPT TO:<") {
                let rest = &text[i + 9..];
                if let Some(end) = rest.find('>') {
                    rcpt = rest[..end].to_owned();
                }
            }
            if text.contains("DATA\r\n") {
                in_data = true;
                data_bytes = 0;
            }
        } else if text.contains("\r\n.\r\n") {
            in_data = false;
        }
        tail = seen[seen.len().saturating_sub(16)..].to_vec();
        total += n;
        if in_data {
            data_bytes += n;
        }
        if in_data
            && total >= after
            && data_bytes >= 2048
            && left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
                .is_ok()
        {
            // Half a message forwarded, then the connection is gone both ways.
            let half = n / 2;
            let _ = server.write_all(&chunk[..half]);
            wire.lock().unwrap().push(rcpt.clone());
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
        if server.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
}

#[test]
fn smtp_connections_cut_mid_data_lose_nothing_and_duplicate_only_what_was_on_the_wire() {
    const CUTS: usize = 4;
    let db = tempfile::tempdir().unwrap();
    let sink = Sink::start();
    let proxy = CutProxy::start(sink.port, 200_000, CUTS);
    let c = Campaign::prepare(
        &format!("sqlite://{}", db.path().join("kairan.db").display()),
        &proxy.url(),
        READERS,
        &[("KAIRAN__DISPATCH__RETRY_BASE", "1s")],
    );
    c.queue(false);
    let out = wait_exit(c.spawn(&["send", "1"]), Duration::from_secs(120));
    finished(&out, READERS);
    let cut: Vec<String> = proxy.on_the_wire.lock().unwrap().clone();
    assert_eq!(cut.len(), CUTS, "the proxy cut {CUTS} connections: {cut:?}");
    let copies = sink.complete_copies();
    let (lost, dups) = tally(&copies, READERS);
    let duplicated: HashSet<String> = copies
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(rcpt, _)| {
            rcpt.trim()
                .trim_start_matches("TO:")
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    let partial = sink.count() - copies.values().map(Vec::len).sum::<usize>();
    eprintln!(
        "{CUTS} connections cut mid-DATA (on the wire: {cut:?}): lost {lost}, duplicates {dups} ({duplicated:?}), cut dumps {partial}"
    );
    assert_eq!(lost, 0, "no reader is forgotten");
    assert!(dups <= CONCURRENCY, "{dups} duplicates");
    let wire: HashSet<String> = cut.into_iter().collect();
    for d in &duplicated {
        assert!(
            wire.contains(d),
            "{d} was duplicated without being on the wire at a cut ({wire:?})"
        );
    }
}

/// A `kairan send` killed with `kill -9` whose leases then look like another host's (the
/// host part of the owner rewritten): the same-host check cannot see that process, so its
/// work comes back only when the lease the heartbeat stopped renewing runs out — with the
/// default `dispatch.lease` (30 s, renewed every 10 s) within 60 s of the kill.
#[test]
fn a_dead_instance_of_another_host_gives_its_work_back_within_60_s_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(create_pg_database());
    let pool = rt.block_on(sqlx::PgPool::connect(&url)).unwrap();
    let other = |pool: &sqlx::PgPool| -> i64 {
        rt.block_on(
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM deliveries WHERE state = 'sending' AND lease_owner LIKE 'otherhost:%'",
            )
            .fetch_one(pool),
        )
        .unwrap()
    };
    let sink = Sink::start();
    let c = Campaign::prepare(&url, &sink.url(), READERS, &[]);
    c.queue(false);
    let first = c.spawn(&["send", "1"]);
    wait_until(Duration::from_secs(60), "900 sent", || sink.count() >= 900);
    signal(&first, "-KILL");
    let killed = Instant::now();
    let _ = wait_exit(first, Duration::from_secs(10));
    let moved = rt
        .block_on(
            sqlx::query(
                "UPDATE deliveries SET lease_owner = 'otherhost' || substr(lease_owner, strpos(lease_owner, ':'))
                 WHERE state = 'sending' AND lease_owner IS NOT NULL",
            )
            .execute(&pool),
        )
        .unwrap()
        .rows_affected();
    assert!(moved > 0, "the killed process held leases");
    let before = sink.count();

    let again = c.spawn(&["send", "1"]);
    wait_until(
        Duration::from_secs(90),
        "the other host's deliveries are claimed again",
        || other(&pool) == 0,
    );
    let back_after = killed.elapsed();
    let out = wait_exit(again, Duration::from_secs(90));
    finished(&out, READERS);
    let log = String::from_utf8_lossy(&out.stderr);
    let (lost, dups) = tally(&sink.copies(), READERS);
    eprintln!(
        "dead instance of another host: killed at {before} sent with {moved} deliveries leased, they came back {back_after:?} after the kill; lost {lost}, duplicates {dups}"
    );
    assert!(
        back_after <= Duration::from_secs(60),
        "a dead instance's work returns within 60 s, not {back_after:?}"
    );
    assert!(
        back_after >= Duration::from_secs(10),
        "another host's live-looking leases are not taken before they lapse ({back_after:?})"
    );
    assert!(
        log.contains("on otherhost; they come back at most 30s after it stops"),
        "send says what it waits for: {log}"
    );
    assert_eq!(lost, 0);
    assert!(dups <= 2 * CONCURRENCY, "{dups} duplicates");
    rt.block_on(pool.close());
    rt.block_on(drop_pg_database(url.rsplit('/').next().unwrap()));
}
