//! Bounces end to end (issue 6): real corpus messages rewritten to a test subscriber, delivered
//! by the three ways in — the real `kairan bounce ingest` binary fed on stdin (an MTA pipe),
//! `POST /api/bounces`, and a real Dovecot mailbox polled by `kairan serve`'s IMAP task — on
//! SQLite and PostgreSQL, each changing the subscriber exactly as the policy says. Each report
//! is attributed as issue 12 requires: by the VERP address it was delivered to, or by the
//! returned message's `X-Kairan-Delivery` / campaign Message-ID naming a delivery sent to the
//! reader (the harness is shared with `return_mail.rs`, issue 12's findings).

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use kairan::app::bounces::{Action, Attribution, Context, ProviderEvent, Source, ingest_event};
use kairan::app::ports::*;
use kairan::domain::token::{Purpose, Signer};
use kairan::domain::*;
use serde_json::Value;

use crate::helpers::dovecot::Dovecot;
use crate::helpers::{TestApp, TestDb, kairan_cmd, now};

const KEY: &str = "bounce-test-signing-key-0123456789abcdef";
pub const TOKEN: &str = "admin-token-0123456789abcdef";
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
pub fn rewrite(name: &str, swaps: &[(&str, &str)], seq: u32) -> Vec<u8> {
    let mut text = String::from_utf8_lossy(&corpus(name)).into_owned();
    for (from, to) in swaps {
        text = text.replace(from, to);
    }
    format!("X-Kairan-Test: {seq}\n{text}").into_bytes()
}

/// Postfix DSN: 5.1.1 userunknown (hard), sent to `to` (the VERP address when given).
pub fn hard_bounce(rcpt: &str, to: Option<&str>, seq: u32) -> Vec<u8> {
    let mut swaps = vec![("kijitora@gmail.com", rcpt)];
    if let Some(to) = to {
        swaps.push(("sironeko@neko.example.com", to));
    }
    rewrite("eml/lhost-postfix-31.eml", &swaps, seq)
}

/// Postfix DSN: 4.3.0 mailboxfull (soft).
pub fn soft_bounce(rcpt: &str, seq: u32) -> Vec<u8> {
    rewrite(
        "eml/lhost-postfix-45.eml",
        &[("kijitora@example.net", rcpt)],
        seq,
    )
}

/// ARF abuse report about `rcpt`, the reported message carrying `message_id`.
fn complaint(rcpt: &str, message_id: &str, seq: u32) -> Vec<u8> {
    rewrite(
        "eml/arf-01.eml",
        &[
            ("redacted@example.net", rcpt),
            (
                "Subject: Kijitora cat family",
                &format!("Subject: Kijitora cat family\nMessage-ID: <{message_id}>"),
            ),
        ],
        seq,
    )
}

/// RFC 3834 vacation reply from `rcpt`.
fn auto_reply(rcpt: &str, seq: u32) -> Vec<u8> {
    rewrite("eml/rfc3834-01.eml", &[("kijitora@example.net", rcpt)], seq)
}

/// `raw` as delivered to `to` (a VERP or List-Unsubscribe address): a `Delivered-To` line on
/// top, as a local delivery agent writes it, which every way in reads.
pub fn addressed(raw: &[u8], to: &str) -> Vec<u8> {
    let mut out = format!("Delivered-To: {to}\n").into_bytes();
    out.extend_from_slice(raw);
    out
}

pub fn signer() -> Signer {
    Signer::new(KEY.as_bytes().to_vec(), vec![])
}

/// The VERP address of a delivery, as the dispatcher writes it.
pub fn verp(delivery: DeliveryId) -> String {
    format!(
        "bounces+{}@example.org",
        signer().sign(delivery.get(), Purpose::Bounce, now())
    )
}

/// The campaign Message-ID of `issue` sent to `sub`, as the dispatcher writes it.
pub fn campaign_message_id(issue: IssueId, sub: SubscriberId) -> String {
    kairan::domain::message_id::campaign(&signer(), issue, sub, "example.org")
}

pub fn env() -> Vec<(&'static str, String)> {
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
    pub via: Via,
    pub store: Arc<dyn Store>,
    pub db_url: String,
    db: Option<TestDb>,
    pub app: Option<TestApp>,
    dovecot: Option<Dovecot>,
    pub dir: tempfile::TempDir,
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
pub fn pipe(
    db_url: &str,
    dir: &std::path::Path,
    raw: &[u8],
    args: &[&str],
) -> std::process::Output {
    let mut cmd = kairan_cmd(dir);
    cmd.arg("bounce").arg("ingest").args(args);
    cmd.env("KAIRAN__DATABASE__URL", db_url);
    for (k, v) in env() {
        cmd.env(k, v);
    }
    run_with_stdin(&mut cmd, raw)
}

/// Runs `cmd` with `raw` on its standard input; its output.
pub fn run_with_stdin(cmd: &mut std::process::Command, raw: &[u8]) -> std::process::Output {
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

pub async fn reader(store: &Arc<dyn Store>, email: &str) -> SubscriberId {
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

pub async fn issue(store: &Arc<dyn Store>, slug: &str) -> IssueId {
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

pub async fn status(store: &Arc<dyn Store>, id: SubscriberId) -> Subscriber {
    store.subscriber(id).await.unwrap().unwrap()
}

/// A campaign `slug` sent to `sub` (its only reader so far): the issue and the delivery.
pub async fn sent(store: &Arc<dyn Store>, slug: &str) -> (IssueId, DeliveryId) {
    let issue = issue(store, slug).await;
    let t = now();
    let claimed = store
        .claim_deliveries(issue, "test", 10, t, t + Duration::minutes(5))
        .await
        .unwrap();
    let delivery = claimed[0].id;
    store
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
    (issue, delivery)
}

/// Moves the subscriber's last counted soft bounce a day and a bit into the past, as if the
/// next bounce came the day after.
pub async fn a_day_passes(h: &Harness, id: SubscriberId) {
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
    let (_, delivery) = sent(&h.store, "2026-11").await;
    let next = issue(&h.store, "2026-12").await;
    let verp = verp(delivery);

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
    let (_, delivery) = sent(&h.store, "2026-11").await;
    let verp = verp(delivery);
    let soft_bounce = |rcpt, seq| addressed(&soft_bounce(rcpt, seq), &verp);

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

/// A feedback loop's report reaches the bare address (no VERP token): the reported message's
/// campaign Message-ID names the delivery made to the reader it is about.
async fn a_complaint_marks_the_reader_complained(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    let (sent_issue, _) = sent(&h.store, "2026-11").await;
    let next = issue(&h.store, "2026-12").await;

    let answer = h
        .deliver(&complaint(READER, &campaign_message_id(sent_issue, sub), 1))
        .await;

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
        assert_eq!(a["attribution"], "message-id");
        assert_eq!(a["parsed"]["recipients"][0]["reason"], "feedback");
    }
}

async fn an_auto_reply_is_recorded_and_changes_nothing(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    let (_, delivery) = sent(&h.store, "2026-11").await;

    h.deliver(&addressed(&auto_reply(READER, 1), &verp(delivery)))
        .await;

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

/// Every scenario × {pipe, http, imap} × {sqlite, postgres}; each scenario is a function of
/// the module that invokes the macro (`return_mail.rs` uses it too).
macro_rules! matrix {
    ($($name:ident),* $(,)?) => {
        $crate::bounces::matrix!(@db sqlite Sqlite $($name),*);
        $crate::bounces::matrix!(@db postgres Postgres $($name),*);
    };
    (@db $m:ident $db:ident $($name:ident),*) => {
        mod $m {
            $crate::bounces::matrix!(@via pipe Pipe $db $($name),*);
            $crate::bounces::matrix!(@via http Http $db $($name),*);
            $crate::bounces::matrix!(@via imap Imap $db $($name),*);
        }
    };
    (@via $m:ident $via:ident $db:ident $($name:ident),*) => {
        mod $m {
            use crate::bounces::{Db, Harness, Via};
            $(
                #[tokio::test]
                async fn $name() {
                    let h = Harness::new(Db::$db, Via::$via).await;
                    super::super::$name(&h).await;
                    h.stop().await;
                }
            )*
        }
    };
}
pub(crate) use matrix;

matrix!(
    a_hard_bounce_to_the_verp_address_marks_the_reader_bounced_and_skips_their_mail,
    soft_bounces_add_up_once_a_day_until_the_threshold,
    a_complaint_marks_the_reader_complained,
    an_auto_reply_is_recorded_and_changes_nothing,
);

// Attribution and idempotence details, on both backends.

async fn forged_tokens_stop_the_report_and_unknown_ones_are_counted(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    let t = now();
    let foreign = Signer::new(b"someone else's key, 0123456789abcdef".to_vec(), vec![]);
    for (seq, token, action, ignored) in [
        (1, foreign.sign(1, Purpose::Bounce, t), "forged", 1),
        (
            2,
            signer().sign(999_999, Purpose::Bounce, t),
            "unattributed",
            1,
        ),
        (3, signer().sign(1, Purpose::Confirm, t), "forged", 1),
        (4, "not-a-token".to_owned(), "forged", 1),
    ] {
        let verp = format!("bounces+{token}@example.org");
        // The DSN names the reader: a forged token must not fall back to that address.
        let a = h
            .deliver(&hard_bounce(READER, Some(&verp), seq))
            .await
            .unwrap();
        assert_eq!(a["action"], action, "token {token}");
        assert_eq!(a["ignored_tokens"], ignored, "token {token}");
        assert_eq!(a["subscriber_id"], Value::Null);
    }
    assert_eq!(status(&h.store, sub).await.status, SubscriberStatus::Active);
    assert_eq!(h.store.bounce_reports(10).await.unwrap().len(), 4);
    let counters: Vec<_> = h
        .store
        .bounce_counters()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.label, c.value))
        .collect();
    for want in [
        ("kairan_bounce_tokens_ignored_total", "forged", 3),
        ("kairan_bounce_tokens_ignored_total", "unknown", 1),
        ("kairan_bounces_total", "forged", 3),
        ("kairan_bounces_total", "unattributed", 1),
    ] {
        assert!(
            counters.contains(&(want.0.into(), want.1.into(), want.2)),
            "{want:?} in {counters:?}"
        );
    }
}

/// A DSN to the bare address whose returned message carries the delivery's token: it acts
/// only when that delivery was sent to the address the DSN is about.
async fn the_token_header_of_the_returned_message_attributes_the_bounce(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    let (_, delivery) = sent(&h.store, "2026-11").await;
    let token = signer().sign(delivery.get(), Purpose::Bounce, now());
    let with_token = |rcpt: &str, seq| {
        String::from_utf8(hard_bounce(rcpt, None, seq))
            .unwrap()
            .replace(
                "Message-Id: <ffffff-eeeeee-22@neko.example.com>",
                &format!(
                    "Message-Id: <ffffff-eeeeee-22@neko.example.com>\nX-Kairan-Delivery: {token}"
                ),
            )
    };

    // About another address: the delivery was not made to it.
    let a = h
        .deliver(with_token("changed-address@example.net", 1).as_bytes())
        .await
        .unwrap();
    assert_eq!(a["action"], "unattributed");
    assert_eq!(status(&h.store, sub).await.status, SubscriberStatus::Active);

    let a = h.deliver(with_token(READER, 2).as_bytes()).await.unwrap();
    assert_eq!(a["attribution"], "header");
    assert_eq!(a["delivery_id"], delivery.get());
    assert_eq!(
        status(&h.store, sub).await.status,
        SubscriberStatus::Bounced
    );
}

async fn the_same_message_twice_has_one_effect(h: &Harness) {
    let sub = reader(&h.store, READER).await;
    let (_, delivery) = sent(&h.store, "2026-11").await;
    let raw = addressed(&soft_bounce(READER, 1), &verp(delivery));
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
        forged_tokens_stop_the_report_and_unknown_ones_are_counted,
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
    let (_, delivery) = sent(&db.store, "2026-11").await;
    let verp = verp(delivery);
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
    let sub = reader(&db.store, READER).await;
    let (sent_issue, _) = sent(&db.store, "2026-11").await;
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        pipe(
            &db.url,
            dir.path(),
            &complaint(READER, &campaign_message_id(sent_issue, sub), 1),
            &[]
        )
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

// Provider events (the webhook adapters' entry), on both backends.

fn ses_event(id: &str, kind: BounceKind, rcpt: &str, message_id: Option<String>) -> ProviderEvent {
    ProviderEvent {
        source: Source::Ses,
        event_id: id.into(),
        kind,
        recipient: Some(rcpt.into()),
        status: Some("5.1.1".into()),
        reason: None,
        diagnostic: Some("smtp; 550 5.1.1 user unknown".into()),
        provider_message_id: Some("0100018c-provider-id".into()),
        message_id,
        headers: Vec::new(),
    }
}

async fn provider_events_take_the_same_path_as_mail(db: TestDb) {
    let store = db.store.clone();
    let sub = reader(&store, READER).await;
    let (sent_issue, delivery) = sent(&store, "2026-11").await;
    let outbox = tempfile::tempdir().unwrap();
    let env: Vec<(&str, String)> = env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let settings = crate::helpers::settings_with(&db.url, outbox.path(), &env);
    let signer = signer();
    let ctx = Context {
        settings: &settings.bounce,
        signer: &signer,
        answers: None,
    };
    let t = now();
    let mid = Some(campaign_message_id(sent_issue, sub));

    // A delay: recorded, nothing counted against the reader.
    let delayed = ses_event("d-1", BounceKind::Delayed, READER, mid.clone());
    let got = ingest_event(store.as_ref(), ctx, &delayed, t)
        .await
        .unwrap();
    assert_eq!(
        (got.action, got.attribution),
        (Action::None, Some(Attribution::MessageId))
    );
    let s = status(&store, sub).await;
    assert_eq!(
        (s.status, s.soft_bounce_score),
        (SubscriberStatus::Active, 0.0)
    );

    // About someone the delivery was not sent to: nothing changes.
    let stranger = ses_event("e-0", BounceKind::Hard, "other@example.jp", mid.clone());
    let got = ingest_event(store.as_ref(), ctx, &stranger, t)
        .await
        .unwrap();
    assert_eq!(got.action, Action::Unattributed);

    // A forged X-Kairan-Delivery stops the event, Message-ID or not.
    let mut forged = ses_event("e-1", BounceKind::Hard, READER, mid.clone());
    forged.headers = vec![("X-Kairan-Delivery".into(), "A".repeat(46))];
    let got = ingest_event(store.as_ref(), ctx, &forged, t).await.unwrap();
    assert_eq!((got.action, got.ignored_tokens), (Action::Forged, 1));
    assert_eq!(status(&store, sub).await.status, SubscriberStatus::Active);

    // The delivery's token in the custom headers, without a Message-ID.
    let mut hard = ses_event("e-2", BounceKind::Hard, READER, None);
    hard.headers = vec![(
        "x-kairan-delivery".into(),
        signer.sign(delivery.get(), Purpose::Bounce, t),
    )];
    let got = ingest_event(store.as_ref(), ctx, &hard, t).await.unwrap();
    assert_eq!(
        (got.action, got.attribution, got.delivery_id),
        (Action::Bounced, Some(Attribution::Header), Some(delivery))
    );
    assert_eq!(got.message_hash, "ses:e-2");
    assert_eq!(status(&store, sub).await.status, SubscriberStatus::Bounced);

    // A replay of the same event id changes nothing and is counted as a duplicate.
    let again = ingest_event(store.as_ref(), ctx, &hard, t).await.unwrap();
    assert!(again.duplicate);
    let reports = store.bounce_reports(10).await.unwrap();
    assert_eq!(reports.len(), 4);
    assert_eq!(reports[0].source, "ses");
    assert_eq!(reports[0].kind, Some(BounceKind::Hard));
    assert_eq!(reports[0].attribution.as_deref(), Some("header"));
    let counters = store.bounce_counters().await.unwrap();
    assert!(
        counters
            .iter()
            .any(|c| c.name == "kairan_bounces_total" && c.label == "duplicate" && c.value == 1),
        "{counters:?}"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn provider_events_take_the_same_path_as_mail_on_sqlite() {
    provider_events_take_the_same_path_as_mail(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn provider_events_take_the_same_path_as_mail_on_postgres() {
    provider_events_take_the_same_path_as_mail(TestDb::postgres().await).await;
}
