//! Mail transports against real sockets: Postfix's smtp-sink, and the in-process fake for
//! replies smtp-sink cannot give (per-recipient 4xx / 5xx, dropped connections, AUTH).

use std::sync::Arc;
use std::time::Duration;

use kairan::app::ports::{MailSession, OutgoingMessage, SendOutcome, SmtpStage};
use kairan::config::SmtpUrl;
use kairan::mail::{Outbox, SmtpMailer};

use crate::helpers::SmtpSink;
use crate::helpers::fake_smtp::FakeSmtp;

/// A small real message with a Japanese RFC 2047 subject, CRLF line ends.
fn message(to: &str, n: u32) -> OutgoingMessage {
    let id = format!("test-{n}.{}@example.org", to.replace('@', "="));
    let data = lettre::Message::builder()
        .from("回覧板 <news@example.org>".parse().unwrap())
        .to(to.parse().unwrap())
        .subject(format!("十二月号 No.{n}"))
        .message_id(Some(format!("<{id}>")))
        .body(format!(
            "こんにちは、第{n}号です。\nHello, this is issue {n}.\n"
        ))
        .unwrap()
        .formatted();
    OutgoingMessage {
        envelope_from: "bounces+tok@example.org".into(),
        envelope_to: to.into(),
        message_id: id,
        data: Arc::from(data),
    }
}

fn mailer(url: &str) -> SmtpMailer {
    SmtpMailer::new(
        SmtpUrl::parse(url).unwrap(),
        Some("kairan.test".into()),
        Duration::from_secs(5),
    )
}

#[tokio::test]
async fn smtp_sends_through_real_smtp_sink_on_one_reused_connection() {
    let sink = SmtpSink::start().await;
    let mut session = mailer(&sink.url()).smtp_session();
    for n in 0..3 {
        let outcome = session
            .send(&message(&format!("reader{n}@example.jp"), n))
            .await;
        assert!(
            matches!(&outcome, SendOutcome::Sent { reply } if reply.starts_with("250")),
            "{outcome:?}"
        );
    }
    session.close().await;
    // smtp-sink writes its dump files as the transactions finish.
    let mut dumped = Vec::new();
    for _ in 0..50 {
        dumped = sink.messages();
        if dumped.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dumped.len(), 3);
    let all: Vec<String> = dumped
        .iter()
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .collect();
    for n in 0..3 {
        let m = all
            .iter()
            .find(|m| m.contains(&format!("reader{n}@example.jp")))
            .expect("dumped");
        let parsed = mail_parser::MessageParser::default()
            .parse(m.as_bytes())
            .unwrap();
        assert_eq!(parsed.subject(), Some(format!("十二月号 No.{n}").as_str()));
    }
}

#[tokio::test]
async fn a_5xx_at_rcpt_is_permanent_and_the_connection_is_reused_after_rset() {
    a_5xx_at_rcpt(false).await;
}

#[tokio::test]
async fn a_5xx_at_rcpt_is_permanent_when_commands_are_pipelined_too() {
    a_5xx_at_rcpt(true).await;
}

async fn a_5xx_at_rcpt(pipelining: bool) {
    let fake = FakeSmtp::start().await;
    if pipelining {
        fake.announce_pipelining();
    }
    fake.reply_at_rcpt(
        "gone@example.jp",
        "550 5.1.1 <gone@example.jp>: Recipient address rejected: User unknown",
    );
    let mut s = mailer(&fake.url()).smtp_session();
    let out = s.send(&message("gone@example.jp", 1)).await;
    match out {
        SendOutcome::Permanent { stage, reply } => {
            assert_eq!(stage, SmtpStage::RcptTo);
            assert!(
                reply.starts_with("550") && reply.contains("User unknown"),
                "{reply}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.send(&message("ok@example.jp", 2)).await,
        SendOutcome::Sent { .. }
    ));
    s.close().await;
    assert_eq!(fake.connections(), 1);
    let got = fake.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, vec!["ok@example.jp".to_owned()]);
    assert_eq!(got[0].from, "bounces+tok@example.org");
}

#[tokio::test]
async fn a_4xx_is_temporary_and_a_5xx_after_data_is_permanent_at_data() {
    a_4xx_then_5xx_after_data(false).await;
}

#[tokio::test]
async fn a_4xx_is_temporary_and_a_5xx_after_data_is_permanent_when_pipelined_too() {
    a_4xx_then_5xx_after_data(true).await;
}

async fn a_4xx_then_5xx_after_data(pipelining: bool) {
    let fake = FakeSmtp::start().await;
    if pipelining {
        fake.announce_pipelining();
    }
    fake.reply_at_rcpt("busy@docomo.ne.jp", "421 4.7.0 Try again later");
    fake.reply_after_data("spam@example.jp", "554 5.7.1 Message rejected as spam");
    let mut s = mailer(&fake.url()).smtp_session();
    assert!(matches!(
        s.send(&message("busy@docomo.ne.jp", 1)).await,
        SendOutcome::Temporary { stage: SmtpStage::RcptTo, ref reply } if reply.starts_with("421")
    ));
    assert!(matches!(
        s.send(&message("spam@example.jp", 2)).await,
        SendOutcome::Permanent { stage: SmtpStage::Data, ref reply } if reply.contains("spam")
    ));
    assert!(matches!(
        s.send(&message("busy@docomo.ne.jp", 3)).await,
        SendOutcome::Sent { .. }
    ));
}

#[tokio::test]
async fn a_dropped_connection_is_temporary_and_the_next_send_reconnects() {
    let fake = FakeSmtp::start().await;
    fake.drop_after_data("flaky@example.jp", 1);
    let mut s = mailer(&fake.url()).smtp_session();
    assert!(matches!(
        s.send(&message("flaky@example.jp", 1)).await,
        SendOutcome::Temporary { .. }
    ));
    assert!(matches!(
        s.send(&message("flaky@example.jp", 2)).await,
        SendOutcome::Sent { .. }
    ));
    assert_eq!(fake.connections(), 2);
}

#[tokio::test]
async fn a_server_that_is_down_is_a_temporary_connect_failure() {
    let port = crate::helpers::free_port();
    let mut s = mailer(&format!("smtp://127.0.0.1:{port}")).smtp_session();
    match s.send(&message("a@example.jp", 1)).await {
        SendOutcome::Temporary {
            stage: SmtpStage::Connect,
            reply,
        } => {
            assert!(reply.contains("cannot connect"), "{reply}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn auth_plain_uses_the_url_credentials_and_a_wrong_password_is_reported() {
    let fake = FakeSmtp::start().await;
    fake.require_auth("news@example.org", "s3cret pass");
    let good = format!("smtp://news%40example.org:s3cret%20pass@{}", fake.addr);
    let mut s = mailer(&good).smtp_session();
    assert!(matches!(
        s.send(&message("a@example.jp", 1)).await,
        SendOutcome::Sent { .. }
    ));

    let bad = format!("smtp://news%40example.org:wrong@{}", fake.addr);
    let mut s = mailer(&bad).smtp_session();
    match s.send(&message("a@example.jp", 2)).await {
        SendOutcome::Temporary {
            stage: SmtpStage::Connect,
            reply,
        } => {
            assert!(
                reply.contains("authentication failed") && reply.contains("535"),
                "{reply}"
            );
            assert!(
                !reply.contains("wrong"),
                "the password must not appear: {reply}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test]
async fn tls_required_refuses_a_server_without_starttls() {
    let fake = FakeSmtp::start().await;
    let mut s = mailer(&format!("smtp://{}?tls=required", fake.addr)).smtp_session();
    match s.send(&message("a@example.jp", 1)).await {
        SendOutcome::Temporary {
            stage: SmtpStage::Connect,
            reply,
        } => {
            assert!(reply.contains("STARTTLS"), "{reply}")
        }
        other => panic!("{other:?}"),
    }
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn an_invalid_recipient_is_refused_before_any_network_traffic() {
    let fake = FakeSmtp::start().await;
    let mut s = mailer(&fake.url()).smtp_session();
    let mut m = message("a@example.jp", 1);
    m.envelope_to = "not an address".into();
    assert!(matches!(
        s.send(&m).await,
        SendOutcome::Permanent {
            stage: SmtpStage::RcptTo,
            ..
        }
    ));
    assert_eq!(fake.connections(), 0);
}

#[tokio::test]
async fn the_outbox_writes_one_parseable_eml_per_message_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path().join("outbox"));
    let mut s = kairan::app::ports::Mailer::session(&outbox).await;
    for n in 0..2 {
        let out = s.send(&message(&format!("reader{n}@example.jp"), n)).await;
        assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".eml") && !n.starts_with('.')),
        "{names:?}"
    );
    let raw = std::fs::read(dir.path().join("outbox").join(&names[0])).unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.subject(), Some("十二月号 No.0"));
    assert_eq!(
        parsed.return_path().as_text(),
        Some("bounces+tok@example.org")
    );
    assert!(parsed.body_text(0).unwrap().contains("こんにちは"));
}

#[tokio::test]
async fn an_unwritable_outbox_is_a_temporary_failure() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let mut s = kairan::app::ports::Mailer::session(&Outbox::new(file)).await;
    assert!(matches!(
        s.send(&message("a@example.jp", 1)).await,
        SendOutcome::Temporary { .. }
    ));
}
