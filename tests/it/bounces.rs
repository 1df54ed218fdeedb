//! Bounces end to end (issue 6): real corpus messages rewritten to a test subscriber, delivered
//! by the three ways in — the real `kairan bounce ingest` binary fed on stdin (an MTA pipe),
//! `POST /api/bounces`, and a real Dovecot mailbox polled by `kairan serve`'s IMAP task — on
//! SQLite and PostgreSQL, each changing the subscriber exactly as the policy says.

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use kairan::app::ports::*;
use kairan::domain::token::{Purpose, Signer};
use kairan::domain::*;
use serde_json::Value;

use crate::helpers::dovecot::Dovecot;
use crate::helpers::{TestApp, TestDb, kairan_cmd, now};

const KEY: &str = "bounce-test-signing-key-0123456789abcdef";
const TOKEN: &str = "admin-token-0123456789abcdef";
const READER: &str = "reader@example.jp";

fn corpus(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("KAIRAN_BOUNCES_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bounces")
        });
    std::fs::read(dir.join(name)).unwrap_or_else(|e| {
        panic!(
            "bounce corpus file {name} not found under {} ({e}); set KAIRAN_BOUNCES_DIR",
            dir.display()
        )
    })
}

/// A corpus message with `from → to` replaced, made unique by a header line on top.
fn rewrite(name: &str, swaps: &[(&str, &str)], seq: u32) -> Vec<u8> {
    let mut text = String::from_utf8_lossy(&corpus(name)).into_owned();
    for (from, to) in swaps {
        text = text.replace(from, to);
    }
    format!("X-Kairan-Test: {seq}\n{text}").into_bytes()
}

/// Postfix DSN: 5.1.1 userunknown (hard), sent to `to` (the VERP address when given).
fn hard_bounce(rcpt: &str, to: Option<&str>, seq: u32) -> Vec<u8> {
    let mut swaps = vec![("kijitora@gmail.com", rcpt)];
    if let Some(to) = to {
        swaps.push(("sironeko@neko.example.com", to));
    }
    rewrite("eml/lhost-postfix-31.eml", &swaps, seq)
}

/// Postfix DSN: 4.3.0 mailboxfull (soft).
fn soft_bounce(rcpt: &str, seq: u32) -> Vec<u8> {
    rewrite(
        "eml/lhost-postfix-45.eml",
        &[("kijitora@example.net", rcpt)],
        seq,
    )
}

/// ARF abuse report about `rcpt`.
fn complaint(rcpt: &str, seq: u32) -> Vec<u8> {
    rewrite("eml/arf-01.eml", &[("redacted@example.net", rcpt)], seq)
}

/// RFC 3834 vacation reply from `rcpt`.
fn auto_reply(rcpt: &str, seq: u32) -> Vec<u8> {
    rewrite("eml/rfc3834-01.eml", &[("kijitora@example.net", rcpt)], seq)
}

fn signer() -> Signer {
    Signer::new(KEY.as_bytes().to_vec(), vec![])
}

fn env() -> Vec<(&'static str, String)> {
    vec![
        ("KAIRAN__SECRETS__SIGNING_KEY", KEY.into()),
        ("KAIRAN__BOUNCE__RETURN_PATH", "bounces@example.org".into()),
        ("KAIRAN__BOUNCE__SOFT_THRESHOLD", "3".into()),
        ("KAIRAN__ADMIN__TOKEN", TOKEN.into()),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Pipe,
    Http,
    Imap,
}

#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// One database plus one way in.
pub struct Harness {
    via: Via,
    store: Arc<dyn Store>,
    db_url: String,
    db: Option<TestDb>,
    app: Option<TestApp>,
    dovecot: Option<Dovecot>,
    dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new(db: Db, via: Via) -> Harness {
        let db = match db {
            Db::Sqlite => TestDb::sqlite().await,
            Db::Postgres => TestDb::postgres().await,
        };
        let (store, db_url) = (db.store.clone(), db.url.clone());
        let mut env = env();
        let dovecot = match via {
            Via::Imap => {
                let d = Dovecot::start().await;
                env.extend(d.env("1s"));
                Some(d)
            }
            _ => None,
        };
        let (db, app) = match via {
            Via::Pipe => (Some(db), None),
            Via::Http | Via::Imap => {
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                (None, Some(TestApp::spawn(db, &env).await))
            }
        };
        Harness {
            via,
            store,
            db_url,
            db,
            app,
            dovecot,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Delivers one message the harness's way and returns once it has been ingested (the
    /// JSON answer, except by IMAP).
    pub async fn deliver(&self, raw: &[u8]) -> Option<Value> {
        match self.via {
            Via::Pipe => {
                let out = pipe(&self.db_url, self.dir.path(), raw, &[]);
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "bounce ingest failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                Some(serde_json::from_slice(&out.stdout).expect("one JSON line"))
            }
            Via::Http => {
                let app = self.app.as_ref().unwrap();
                let resp = reqwest::Client::new()
                    .post(app.url("/api/bounces"))
                    .bearer_auth(TOKEN)
                    .body(raw.to_vec())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 202);
                Some(resp.json().await.unwrap())
            }
            Via::Imap => {
                let d = self.dovecot.as_ref().unwrap();
                d.deliver(raw);
                for _ in 0..300 {
                    if d.count() == 0 {
                        return None;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                panic!("the IMAP poller did not take the message within 30 s");
            }
        }
    }

    pub async fn stop(self) {
        if let Some(app) = self.app {
            app.stop().await;
        }
        if let Some(db) = self.db {
            db.cleanup().await;
        }
        drop(self.dovecot);
    }
}

/// Runs `kairan bounce ingest` with `raw` on stdin.
fn pipe(db_url: &str, dir: &std::path::Path, raw: &[u8], args: &[&str]) -> std::process::Output {
    let mut cmd = kairan_cmd(dir);
    cmd.arg("bounce").arg("ingest").args(args);
    cmd.env("KAIRAN__DATABASE__URL", db_url);
    for (k, v) in env() {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    child.wait_with_output().unwrap()
}

fn consent(at: DateTime<Utc>) -> Consent {
    Consent {
        method: SubscriptionSource::Cli,
        form_at: at,
        confirmed_at: Some(at),
        ip: None,
        user_agent: None,
        page_lang: None,
        text_hash: None,
        text_version: None,
    }
}

async fn reader(store: &Arc<dyn Store>, email: &str) -> SubscriberId {
    let at = now();
    store
        .insert_subscriber(
            &NewSubscriber {
                email: EmailAddress::parse(email).unwrap(),
                name: None,
                lang: LangPref::Both,
                status: SubscriberStatus::Active,
                consent: consent(at),
                now: at,
            },
            None,
        )
        .await
        .unwrap()
        .0
}

async fn issue(store: &Arc<dyn Store>, slug: &str) -> IssueId {
    let c = IssueContent {
        subject: "件名".into(),
        preheader: None,
        markdown: "本文".into(),
    };
    let id = store
        .insert_issue(&NewIssue {
            slug: slug.into(),
            state: IssueState::Queued,
            send_at: None,
            ja: c.clone(),
            en: c,
            now: now(),
        })
        .await
        .unwrap();
    store.start_campaign(id, now()).await.unwrap().unwrap();
    id
}

async fn status(store: &Arc<dyn Store>, id: SubscriberId) -> Subscriber {
    store.subscriber(id).await.unwrap().unwrap()
}

/// Moves the subscriber's last counted soft bounce a day and a bit into the past, as if the
/// next bounce came the day after.
async fn a_day_passes(h: &Harness, id: SubscriberId) {
    let last = status(&h.store, id).await.last_bounce_at.unwrap();
    let earlier = last - Duration::hours(25);
    let sql = "UPDATE subscribers SET last_bounce_at = $1 WHERE id = $2";
    if h.db_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&h.db_url).await.unwrap();
        sqlx::query(sql)
            .bind(earlier)
            .bind(id.get())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&h.db_url).await.unwrap();
        sqlx::query(sql)
            .bind(earlier)
            .bind(id.get())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

// The policy, through each way in.

async fn a_hard_bounce_to_the_verp_address_marks_the_reader_bounced_and_skips_their_mail(
    h: &Harness,
) {
    let sub = reader(&h.store, READER).await;
    let sent = issue(&h.store, "2026-11").await;
    let t = now();
    let claimed = h
        .store
        .claim_deliveries(sent, "test", 10, t, t + Duration::minutes(5))
        .await
        .unwrap();
    let delivery = claimed[0].id;
    h.store
        .record_outcomes(
            &[(
                delivery,
                DeliveryOutcome::Sent {
                    reply: "250 ok".into(),
                },
            )],
            t,
        )
        .await
        .unwrap();
    let next = issue(&h.store, "2026-12").await;
    let verp = format!(
        "bounces+{}@example.org",
        signer().sign(delivery.get(), Purpose::Bounce, t)
    );

    let answer = h.deliver(&hard_bounce(READER, Some(&verp), 1)).await;

    assert_eq!(
        status(&h.store, sub).await.status,
        SubscriberStatus::Bounced
    );
    let counts = h.store.delivery_counts(next).await.unwrap();
    assert_eq!((counts.pending, counts.skipped), (0, 1));
    let reports = h.store.bounce_reports(10).await.unwrap();
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.kind, Some(BounceKind::Hard));
    assert_eq!(r.action, "bounced");
    assert_eq!(r.subscriber_id, Some(sub));
    assert_eq!(r.delivery_id, Some(delivery), "attributed by VERP");
    assert_eq!(r.status_code.as_deref(), Some("5.1.1"));
    assert_eq!(r.reason.as_deref(), Some("userunknown"));
    assert!(r.message_hash.starts_with("sha256:"));
    let source = match h.via {
        Via::Pipe => "pipe",
        Via::Http => "http",
        Via::Imap => "imap",
    };
    assert_eq!(r.source, source);
    if let Some(a) = answer {
        assert_eq!(a["attribution"], "verp");
        assert_eq!(a["action"], "bounced");
        assert_eq!(a["kind"], "hard");
        assert_eq!(a["parsed"]["recipients"][0]["reason"], "userunknown");
    }
}

async fn soft_bounces_add_up_once_a_day_until_the_threshold(h: &Harness) {
    let sub = reader(&h.store, READER).await;

    h.deliver(&soft_bounce(READER, 1)).await;
    let s = status(&h.store, sub).await;
    assert_eq!(
        (s.status, s.soft_bounce_score),
        (SubscriberStatus::Active, 1.0)
    );

    h.deliver(&soft_bounce(READER, 2)).await;
    let s = status(&h.store, sub).await;
    assert_eq!(
        (s.status, s.soft_bounce_score),
        (SubscriberStatus::Active, 1.0),
        "a second soft bounce on the same day does not count"
    );

    a_day_passes(h, sub).await;
    h.deliver(&soft_bounce(READER, 3)).await;
    let s = status(&h.store, sub).await;
    assert_eq!(
        (s.status, s.soft_bounce_score),
        (SubscriberStatus::Active, 2.0)
    );

    a_day_passes(h, sub).await;
    h.deliver(&soft_bounce(READER, 4)).await;
    let s = status(&h.store, sub).await;
    assert_eq!(
        (s.status, s.soft_bounce_score),
        (SubscriberStatus::Bounced, 3.0),
        "the threshold (3) is reached"
    );

    let reports = h.store.bounce_reports(10).await.unwrap();
    let actions: Vec<_> = reports.iter().rev().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        ["soft-scored", "soft-scored", "soft-scored", "bounced"]
    );
    assert!(reports.iter().all(|r| r.kind == Some(BounceKind::Soft)));
}

async fn a_complaint_marks_the_reader_complained(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    let next = issue(&h.store, "2026-12").await;

    let answer = h.deliver(&complaint(READER, 1)).await;

    assert_eq!(
        status(&h.store, sub).await.status,
        SubscriberStatus::Complained
    );
    assert_eq!(h.store.delivery_counts(next).await.unwrap().skipped, 1);
    let r = &h.store.bounce_reports(1).await.unwrap()[0];
    assert_eq!(
        (r.kind, r.action.as_str()),
        (Some(BounceKind::Complaint), "complained")
    );
    if let Some(a) = answer {
        assert_eq!(a["attribution"], "address");
        assert_eq!(a["parsed"]["recipients"][0]["reason"], "feedback");
    }
}

async fn an_auto_reply_is_recorded_and_changes_nothing(h: &Harness) {
    let sub = reader(&h.store, READER).await;

    h.deliver(&auto_reply(READER, 1)).await;

    let s = status(&h.store, sub).await;
    assert_eq!(
        (s.status, s.soft_bounce_score),
        (SubscriberStatus::Active, 0.0)
    );
    let r = &h.store.bounce_reports(1).await.unwrap()[0];
    assert_eq!(
        (r.kind, r.action.as_str(), r.subscriber_id),
        (Some(BounceKind::AutoReply), "none", Some(sub))
    );
}

/// Every scenario × {pipe, http, imap} × {sqlite, postgres}.
macro_rules! matrix {
    ($($name:ident),* $(,)?) => {
        matrix!(@db sqlite Sqlite $($name),*);
        matrix!(@db postgres Postgres $($name),*);
    };
    (@db $m:ident $db:ident $($name:ident),*) => {
        mod $m {
            matrix!(@via pipe Pipe $db $($name),*);
            matrix!(@via http Http $db $($name),*);
            matrix!(@via imap Imap $db $($name),*);
        }
    };
    (@via $m:ident $via:ident $db:ident $($name:ident),*) => {
        mod $m {
            use crate::bounces::{Db, Harness, Via};
            $(
                #[tokio::test]
                async fn $name() {
                    let h = Harness::new(Db::$db, Via::$via).await;
                    crate::bounces::$name(&h).await;
                    h.stop().await;
                }
            )*
        }
    };
}

matrix!(
    a_hard_bounce_to_the_verp_address_marks_the_reader_bounced_and_skips_their_mail,
    soft_bounces_add_up_once_a_day_until_the_threshold,
    a_complaint_marks_the_reader_complained,
    an_auto_reply_is_recorded_and_changes_nothing,
);

// Attribution and idempotence details, on both backends.

async fn forged_and_unknown_tokens_are_ignored_and_counted(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    let t = now();
    let foreign = Signer::new(b"someone else's key, 0123456789abcdef".to_vec(), vec![]);
    for (seq, token) in [
        (1, foreign.sign(1, Purpose::Bounce, t)),
        (2, signer().sign(999_999, Purpose::Bounce, t)),
        (3, signer().sign(1, Purpose::Unsubscribe, t)),
        (4, "not-a-token".to_owned()),
    ] {
        let verp = format!("bounces+{token}@example.org");
        let a = h
            .deliver(&hard_bounce("stranger@example.net", Some(&verp), seq))
            .await
            .unwrap();
        assert_eq!(a["action"], "unattributed", "token {token}");
        assert_eq!(a["ignored_tokens"], 1, "token {token}");
        assert_eq!(a["subscriber_id"], Value::Null);
    }
    assert_eq!(status(&h.store, sub).await.status, SubscriberStatus::Active);
    assert_eq!(h.store.bounce_reports(10).await.unwrap().len(), 4);
}

async fn the_token_header_of_the_returned_message_attributes_the_bounce(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    let sent = issue(&h.store, "2026-11").await;
    let t = now();
    let delivery = h
        .store
        .claim_deliveries(sent, "test", 10, t, t + Duration::minutes(5))
        .await
        .unwrap()[0]
        .id;
    let token = signer().sign(delivery.get(), Purpose::Bounce, t);
    let raw = String::from_utf8(hard_bounce("changed-address@example.net", None, 1))
        .unwrap()
        .replace(
            "Message-Id: <ffffff-eeeeee-22@neko.example.com>",
            &format!("Message-Id: <ffffff-eeeeee-22@neko.example.com>\nX-Kairan-Delivery: {token}"),
        );
    let a = h.deliver(raw.as_bytes()).await.unwrap();
    assert_eq!(a["attribution"], "header");
    assert_eq!(a["delivery_id"], delivery.get());
    assert_eq!(
        status(&h.store, sub).await.status,
        SubscriberStatus::Bounced
    );
}

async fn the_same_message_twice_has_one_effect(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    let raw = soft_bounce(READER, 1);
    let first = h.deliver(&raw).await.unwrap();
    assert_eq!(first["duplicate"], false);
    a_day_passes(h, sub).await;
    let second = h.deliver(&raw).await.unwrap();
    assert_eq!(second["duplicate"], true);
    assert_eq!(status(&h.store, sub).await.soft_bounce_score, 1.0);
    assert_eq!(h.store.bounce_reports(10).await.unwrap().len(), 1);
}

async fn a_message_that_is_not_a_bounce_is_recorded_and_accepted(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    let a = h
        .deliver(&corpus("not-bounce/is-not-bounce-01.eml"))
        .await
        .unwrap();
    assert_eq!(a["action"], "not-a-bounce");
    assert_eq!(
        a["parsed"],
        serde_json::json!({"bounce": false, "recipients": []})
    );
    assert_eq!(status(&h.store, sub).await.status, SubscriberStatus::Active);
    let r = &h.store.bounce_reports(1).await.unwrap()[0];
    assert_eq!((r.kind, r.action.as_str()), (None, "not-a-bounce"));
}

macro_rules! both {
    ($via:ident: $($name:ident),* $(,)?) => {
        mod sqlite_pair {
            use crate::bounces::{Db, Harness, Via};
            $(
                #[tokio::test]
                async fn $name() {
                    let h = Harness::new(Db::Sqlite, Via::$via).await;
                    crate::bounces::$name(&h).await;
                    h.stop().await;
                }
            )*
        }
        mod postgres_pair {
            use crate::bounces::{Db, Harness, Via};
            $(
                #[tokio::test]
                async fn $name() {
                    let h = Harness::new(Db::Postgres, Via::$via).await;
                    crate::bounces::$name(&h).await;
                    h.stop().await;
                }
            )*
        }
    };
}

mod details_http {
    both!(Http:
        forged_and_unknown_tokens_are_ignored_and_counted,
        the_token_header_of_the_returned_message_attributes_the_bounce,
    );
}

mod details_pipe {
    both!(Pipe:
        the_same_message_twice_has_one_effect,
        a_message_that_is_not_a_bounce_is_recorded_and_accepted,
    );
}

// The command line and the HTTP edges.

#[tokio::test]
async fn the_pipe_asks_the_mta_to_retry_when_the_database_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let out = pipe(
        "postgres://postgres@127.0.0.1:1/kairan",
        dir.path(),
        &soft_bounce(READER, 1),
        &[],
    );
    assert_eq!(out.status.code(), Some(75), "EX_TEMPFAIL");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("retry"), "{err}");
}

#[tokio::test]
async fn the_pipe_takes_the_verp_address_from_the_command_line() {
    let db = TestDb::sqlite().await;
    let sub = reader(&db.store, READER).await;
    let sent = issue(&db.store, "2026-11").await;
    let t = now();
    let delivery = db
        .store
        .claim_deliveries(sent, "test", 10, t, t + Duration::minutes(5))
        .await
        .unwrap()[0]
        .id;
    let verp = format!(
        "bounces+{}@example.org",
        signer().sign(delivery.get(), Purpose::Bounce, t)
    );
    let dir = tempfile::tempdir().unwrap();
    // The DSN itself names neither the reader nor the VERP address.
    let out = pipe(
        &db.url,
        dir.path(),
        &hard_bounce("changed-address@example.net", None, 1),
        &["--recipient", &verp],
    );
    assert_eq!(out.status.code(), Some(0));
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["attribution"], "verp");
    assert_eq!(
        status(&db.store, sub).await.status,
        SubscriberStatus::Bounced
    );
    db.cleanup().await;
}

#[tokio::test]
async fn bounce_parse_prints_one_json_line_per_file_and_names_unreadable_ones() {
    let dir = tempfile::tempdir().unwrap();
    let hard = dir.path().join("hard.eml");
    std::fs::write(&hard, hard_bounce(READER, None, 1)).unwrap();
    let plain = dir.path().join("plain.eml");
    std::fs::write(&plain, corpus("not-bounce/is-not-bounce-02.eml")).unwrap();
    let out = kairan_cmd(dir.path())
        .args(["bounce", "parse", "hard.eml", "missing.eml", "plain.eml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.eml"), "{err}");
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            serde_json::json!({
                "file": "hard.eml",
                "bounce": true,
                "recipients": [{
                    "address": READER,
                    "status": "5.1.1",
                    "reason": "userunknown",
                    "hard": true,
                    "diagnostic": lines[0]["recipients"][0]["diagnostic"].clone(),
                    "action": "failed",
                }]
            }),
            serde_json::json!({"file": "plain.eml", "bounce": false, "recipients": []}),
        ]
    );
    assert!(
        lines[0]["recipients"][0]["diagnostic"]
            .as_str()
            .unwrap()
            .starts_with("550 5.1.1")
    );
}

#[tokio::test]
async fn the_bounce_api_needs_the_token_and_takes_messages_up_to_the_body_limit() {
    let app = TestApp::spawn(
        TestDb::sqlite().await,
        &[
            ("KAIRAN__ADMIN__TOKEN", TOKEN),
            ("KAIRAN__HTTP__BODY_LIMIT", "8388608"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let raw = soft_bounce(READER, 1);
    let refused = client
        .post(app.url("/api/bounces"))
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert!(app.store.bounce_reports(10).await.unwrap().is_empty());

    // 3 MiB: more than axum's own 2 MiB extractor default, within `http.body_limit`.
    let mut big = raw.clone();
    big.extend(std::iter::repeat_n(b'x', 3 * 1024 * 1024));
    let ok = client
        .post(app.url("/api/bounces"))
        .bearer_auth(TOKEN)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 202);
    let empty = client
        .post(app.url("/api/bounces"))
        .bearer_auth(TOKEN)
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status().as_u16(), 422);
    app.stop().await;
}

#[tokio::test]
async fn kairan_status_shows_bounce_counts_and_recent_reports() {
    let db = TestDb::sqlite().await;
    reader(&db.store, READER).await;
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        pipe(&db.url, dir.path(), &complaint(READER, 1), &[])
            .status
            .code(),
        Some(0)
    );
    let out = kairan_cmd(dir.path())
        .args(["status"])
        .env("KAIRAN__DATABASE__URL", &db.url)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Bounces (last 30 days)"), "{text}");
    assert!(text.contains("complaint"), "{text}");
    assert!(text.contains("complained"), "{text}");
    let out = kairan_cmd(dir.path())
        .args(["status", "--json"])
        .env("KAIRAN__DATABASE__URL", &db.url)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bounces"]["counts"][0]["count"], 1);
    assert_eq!(v["bounces"]["recent"][0]["action"], "complained");
    db.cleanup().await;
}
