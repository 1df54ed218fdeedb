//! Issue 12's findings, each a test that failed before the fix and passes now, through the
//! real ways in (the `kairan bounce ingest` binary, `POST /api/bounces`, a Dovecot mailbox
//! polled by the daemon) on SQLite and PostgreSQL, with the harness of `bounces.rs`:
//!
//! 1. a DSN naming an active reader changes nothing when its token is forged, or when it comes
//!    to the bare return address without corroborating a delivery we made;
//! 2. a mail to the List-Unsubscribe `mailto:` unsubscribes the reader (method `mail`), whatever
//!    it says; a mail to the bare address changes nothing and a reader gets their link back;
//! 3. a delay warning is recorded and not scored, so a message that lingers and then expires
//!    counts once;
//! 4. the pipe keeps the MTA's message (exit 75) when it cannot read standard input or the
//!    signing key, instead of exits that make Postfix drop a bounce;
//! 5. outcomes, ignored tokens and attributions are stored, so a running daemon's `/metrics`
//!    and `kairan status` show what another process ingested.
//!
//! The same findings end to end through a real Postfix are in `postfix.rs`.

use std::process::Stdio;

use chrono::Utc;
use kairan::domain::token::Purpose;
use kairan::domain::*;
use serde_json::Value;

use crate::bounces::{
    Harness, a_day_passes, addressed, env, matrix, pipe, reader, sent, signer, soft_bounce, status,
    verp,
};
use crate::helpers::{TestApp, TestDb, kairan_cmd};

const READER: &str = "reader@example.jp";

/// Postfix's DSN (5.1.1, hard) naming `rcpt`, as delivered to `to`.
fn dsn_to(rcpt: &str, to: &str, seq: u32) -> Vec<u8> {
    crate::bounces::hard_bounce(rcpt, Some(to), seq)
}

/// A reader's mail from their mail client to `to`.
fn mail_from_reader(to: &str, subject: &str, seq: u32) -> Vec<u8> {
    format!(
        "From: Reader <{READER}>\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0900\r\nMessage-ID: <u{seq}@example.jp>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         配信を停止してください。\r\n"
    )
    .into_bytes()
}

/// The answers queued for `sub`, once every one of them has gone: the pipe sends its own at
/// once, while in the daemon its outbox sender may take one first, so this watches the queue
/// (each row changes state once) up to a deadline.
async fn sent_answers(h: &Harness, sub: SubscriberId) -> Vec<Vec<u8>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let queued = h.store.mails_for(Recipient::Subscriber(sub)).await.unwrap();
        if queued.iter().all(|m| m.state == MailState::Sent) {
            let files = outbox(h);
            assert_eq!(files.len(), queued.len(), "one file per answer sent");
            return files;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "answers not sent within 30 s: {queued:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The messages written to the outbox (no `smtp.url`) by whichever process answered.
fn outbox(h: &Harness) -> Vec<Vec<u8>> {
    let dir = match &h.app {
        Some(app) => app.outbox.path().to_path_buf(),
        None => h.dir.path().join("outbox"),
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

// 1. Attribution that cannot be forged.

async fn a_dsn_with_a_forged_verp_token_changes_nothing(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    sent(&h.store, "2026-11").await;
    let forged = format!("bounces+{}@example.org", "A".repeat(46));

    let answer = h.deliver(&dsn_to(READER, &forged, 1)).await;

    assert_eq!(status(&h.store, sub).await.status, SubscriberStatus::Active);
    let r = &h.store.bounce_reports(1).await.unwrap()[0];
    assert_eq!((r.action.as_str(), r.subscriber_id), ("forged", None));
    if let Some(a) = answer {
        assert_eq!(a["ignored_tokens"], 1);
    }
}

async fn a_dsn_to_the_bare_address_naming_a_reader_changes_nothing(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    sent(&h.store, "2026-11").await;

    // Postfix's own DSN format, naming the reader, about a message that is not ours.
    h.deliver(&dsn_to(READER, "bounces@example.org", 1)).await;

    assert_eq!(status(&h.store, sub).await.status, SubscriberStatus::Active);
    let r = &h.store.bounce_reports(1).await.unwrap()[0];
    assert_eq!((r.action.as_str(), r.subscriber_id), ("unattributed", None));
}

// 2. Opt-out by mail.

async fn a_mail_to_the_list_unsubscribe_mailto_unsubscribes(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    let token = signer().sign(sub.get(), Purpose::Unsubscribe, Utc::now());
    let mailto = format!("bounces+{token}@example.org");

    // No "unsubscribe" anywhere: the address alone decides.
    h.deliver(&mail_from_reader(&mailto, "Re: 十二月号", 1))
        .await;

    let s = status(&h.store, sub).await;
    assert_eq!(s.status, SubscriberStatus::Unsubscribed);
    assert_eq!(s.unsubscribe_method.as_deref(), Some("mail"));
    let r = &h.store.bounce_reports(1).await.unwrap()[0];
    assert_eq!(
        (r.action.as_str(), r.subscriber_id),
        ("unsubscribed", Some(sub))
    );
    assert!(outbox(h).is_empty(), "an opt-out is not answered");
}

async fn a_mail_to_the_bare_address_changes_nothing_and_a_reader_gets_their_link(h: &Harness) {
    let sub = reader(&h.store, READER).await;

    h.deliver(&mail_from_reader("bounces@example.org", "unsubscribe", 1))
        .await;
    // The same day again: no second answer.
    h.deliver(&mail_from_reader("bounces@example.org", "unsubscribe", 2))
        .await;

    assert_eq!(status(&h.store, sub).await.status, SubscriberStatus::Active);
    let actions: Vec<_> = h
        .store
        .bounce_reports(10)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|r| r.action)
        .collect();
    assert_eq!(actions, ["answered", "not-a-bounce"]);
    let answers = sent_answers(h, sub).await;
    assert_eq!(answers.len(), 1, "one answer a day");
    let raw = String::from_utf8_lossy(&answers[0]);
    assert!(raw.contains(&format!("To: {READER}")), "{raw}");
    assert!(raw.contains("Auto-Submitted: auto-replied"), "{raw}");
    let parsed = mail_parser::MessageParser::default()
        .parse(&answers[0])
        .unwrap();
    let text = parsed.body_text(0).unwrap();
    let link = text
        .split_whitespace()
        .find_map(|w| w.split("/unsubscribe/").nth(1))
        .expect("the answer carries the unsubscribe link");
    let token: String = link
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(
        signer().verify(&token, Purpose::Unsubscribe, Utc::now(), None),
        Ok(sub.get()),
        "the reader's own link"
    );
}

// 3. Delays.

/// Postfix's delay warning (`Action: delayed`, 4.3.0) about `rcpt`.
fn delay_warning(rcpt: &str, seq: u32) -> Vec<u8> {
    crate::bounces::rewrite(
        "eml/rfc3464-09.eml",
        &[
            ("kijitora-cat@mx4.gr3.example.jp", rcpt),
            ("kijitora@mx4.gr3.example.jp", rcpt),
        ],
        seq,
    )
}

async fn a_delay_warning_is_recorded_and_the_expiry_after_it_counts_once(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    let (_, delivery) = sent(&h.store, "2026-11").await;
    let verp = verp(delivery);

    h.deliver(&addressed(&delay_warning(READER, 1), &verp))
        .await;
    let s = status(&h.store, sub).await;
    assert_eq!(
        (s.status, s.soft_bounce_score, s.last_bounce_at),
        (SubscriberStatus::Active, 0.0, None)
    );
    let r = &h.store.bounce_reports(1).await.unwrap()[0];
    assert_eq!(
        (
            r.kind.map(|k| k.as_str()),
            r.action.as_str(),
            r.subscriber_id
        ),
        (Some("delayed"), "none", Some(sub))
    );

    // The next day the message expires: one soft bounce, counted once.
    h.deliver(&addressed(&soft_bounce(READER, 2), &verp)).await;
    a_day_passes(h, sub).await;
    h.deliver(&addressed(&delay_warning(READER, 3), &verp))
        .await;
    let s = status(&h.store, sub).await;
    assert_eq!(
        (s.status, s.soft_bounce_score),
        (SubscriberStatus::Active, 1.0)
    );
}

matrix!(
    a_dsn_with_a_forged_verp_token_changes_nothing,
    a_dsn_to_the_bare_address_naming_a_reader_changes_nothing,
    a_mail_to_the_list_unsubscribe_mailto_unsubscribes,
    a_mail_to_the_bare_address_changes_nothing_and_a_reader_gets_their_link,
    a_delay_warning_is_recorded_and_the_expiry_after_it_counts_once,
);

// 4. The pipe never makes the MTA drop a bounce over a problem of ours.

#[tokio::test]
async fn the_pipe_asks_the_mta_to_retry_when_standard_input_cannot_be_read() {
    let db = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    // A directory as standard input: every read fails (EISDIR), as a broken pipe would.
    let stdin = std::fs::File::open(dir.path()).unwrap();
    let mut cmd = kairan_cmd(dir.path());
    cmd.args(["bounce", "ingest", "-"])
        .env("KAIRAN__DATABASE__URL", &db.url);
    for (k, v) in env() {
        cmd.env(k, v);
    }
    let out = cmd
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(75),
        "EX_TEMPFAIL, so Postfix keeps the message: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    db.cleanup().await;
}

#[tokio::test]
async fn the_pipe_asks_the_mta_to_retry_when_the_signing_key_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kairan.db");
    let url = format!("sqlite://{}", db.display());
    let store = kairan::storage::connect(&url, 1).await.unwrap();
    store.migrate().await.unwrap();
    let sub = reader(&store, READER).await;
    // The generated key is where the pipe user cannot read it (here: not a file at all).
    std::fs::create_dir(dir.path().join("kairan.db.key")).unwrap();
    let mut cmd = kairan_cmd(dir.path());
    cmd.args(["bounce", "ingest"])
        .env("KAIRAN__DATABASE__URL", &url)
        .env("KAIRAN__BOUNCE__RETURN_PATH", "bounces@example.org");
    let raw = dsn_to(READER, "bounces@example.org", 1);
    let out = crate::bounces::run_with_stdin(&mut cmd, &raw);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("signing key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&store, sub).await.status, SubscriberStatus::Active);
    assert!(store.bounce_reports(1).await.unwrap().is_empty());
    store.close().await;
}

// 5. Counters stored, seen by every process.

async fn what_the_pipe_ingested_shows_in_the_daemons_metrics_and_in_status(db: TestDb) {
    let sub = reader(&db.store, READER).await;
    let (_, delivery) = sent(&db.store, "2026-11").await;
    let env = env();
    let app_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let url = db.url.clone();
    let store = db.store.clone();
    let app = TestApp::spawn(db, &app_env).await;
    let dir = tempfile::tempdir().unwrap();

    // Another process (the MTA's pipe) ingests: one forged, one real bounce, one seen twice.
    let forged = format!("bounces+{}@example.org", "A".repeat(46));
    let real = dsn_to(READER, &verp(delivery), 2);
    for raw in [dsn_to(READER, &forged, 1), real.clone(), real] {
        assert_eq!(pipe(&url, dir.path(), &raw, &[]).status.code(), Some(0));
    }
    assert_eq!(status(&store, sub).await.status, SubscriberStatus::Bounced);

    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "kairan_bounces_total{result=\"bounced\"} 1",
        "kairan_bounces_total{result=\"forged\"} 1",
        "kairan_bounces_total{result=\"duplicate\"} 1",
        "kairan_bounce_tokens_ignored_total{why=\"forged\"} 1",
        "kairan_bounce_attributions_total{via=\"verp\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} in /metrics:\n{metrics}"
        );
    }

    let out = kairan_cmd(dir.path())
        .args(["status", "--json"])
        .env("KAIRAN__DATABASE__URL", &url)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let counters = v["bounces"]["counters"].as_array().unwrap();
    assert!(
        counters.contains(&serde_json::json!({
            "name": "kairan_bounce_tokens_ignored_total", "label": "forged", "value": 1
        })),
        "{counters:?}"
    );
    let table = kairan_cmd(dir.path())
        .args(["status"])
        .env("KAIRAN__DATABASE__URL", &url)
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.contains("bounce_attributions_total") && l.contains("verp")),
        "{table}"
    );
    app.stop().await;
}

#[tokio::test]
async fn what_the_pipe_ingested_shows_in_the_daemons_metrics_and_in_status_on_sqlite() {
    what_the_pipe_ingested_shows_in_the_daemons_metrics_and_in_status(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn what_the_pipe_ingested_shows_in_the_daemons_metrics_and_in_status_on_postgres() {
    what_the_pipe_ingested_shows_in_the_daemons_metrics_and_in_status(TestDb::postgres().await)
        .await;
}

// The welcome mail's List-Unsubscribe `mailto:`, followed: a mail to it through the daemon's
// API unsubscribes. (The campaign's is followed through Postfix in `postfix.rs`.)

#[tokio::test]
async fn the_welcome_mails_mailto_unsubscribes_when_mailed() {
    use std::sync::Arc;
    let env = env();
    let app_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let db = TestDb::sqlite().await;
    let sub = reader(&db.store, READER).await;
    let settings = crate::helpers::settings_with(&db.url, std::path::Path::new("."), &app_env);
    let notifier = kairan::app::notify::Notifier::new(
        Arc::new(settings.clone()),
        Arc::new(kairan::startup::load_renderer(&settings).unwrap()),
        Arc::new(signer()),
        kairan::mail::from_settings(&settings).unwrap(),
        db.store.clone(),
        "test",
    );
    let reader_now = db.store.subscriber(sub).await.unwrap().unwrap();
    let welcome = notifier
        .build(
            MailKind::Welcome,
            &reader_now,
            "kairan.welcome.1@example.org",
            Utc::now(),
        )
        .unwrap();
    let raw = welcome.message.data.to_vec();
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let lu = parsed
        .header_raw("List-Unsubscribe")
        .unwrap()
        .replace("\r\n", "");
    let mailto = lu
        .split("<mailto:")
        .nth(1)
        .and_then(|r| r.split('>').next())
        .expect("a mailto in List-Unsubscribe")
        .trim()
        .to_owned();
    let (to, query) = mailto.split_once('?').unwrap();
    assert_eq!(query, "subject=unsubscribe");
    assert!(
        to.starts_with("bounces+") && to.ends_with("@example.org"),
        "{to}"
    );

    let app = TestApp::spawn(db, &app_env).await;
    let resp = reqwest::Client::new()
        .post(app.url(&format!("/api/bounces?recipient={to}")))
        .bearer_auth(crate::bounces::TOKEN)
        .body(mail_from_reader(to, "unsubscribe", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let a: Value = resp.json().await.unwrap();
    assert_eq!(
        (a["action"].as_str(), a["attribution"].as_str()),
        (Some("unsubscribed"), Some("mailto"))
    );
    assert_eq!(
        app.store.subscriber(sub).await.unwrap().unwrap().status,
        SubscriberStatus::Unsubscribed
    );
    app.stop().await;
}
