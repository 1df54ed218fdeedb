//! The bounce mailbox reader against a fake IMAP server on a real loopback socket, for what
//! a well-behaved Dovecot never sends: a response line that does not end.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn a_server_sending_an_over_long_line_ends_the_round_with_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"* OK fake IMAP ready\r\n").await.unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).await.unwrap();
        assert!(
            buf[..n].starts_with(b"k1 LOGIN "),
            "the client logs in first"
        );
        // An untagged response that goes on for 64 MiB without a line break, and then the
        // connection stays open: a reader without a cap would take it all and wait for more.
        s.write_all(b"* CAPABILITY IMAP4rev1 ").await.unwrap();
        let chunk = vec![b'X'; 64 * 1024];
        let mut sent = 0;
        for _ in 0..1024 {
            if s.write_all(&chunk).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        // Returns once the client hangs up.
        while s.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        sent
    });
    let env: Vec<(String, String)> = [
        ("KAIRAN__BOUNCE__IMAP__HOST", "127.0.0.1".to_owned()),
        ("KAIRAN__BOUNCE__IMAP__PORT", port.to_string()),
        ("KAIRAN__BOUNCE__IMAP__TLS", "false".to_owned()),
        ("KAIRAN__BOUNCE__IMAP__USER", "bounces".to_owned()),
        ("KAIRAN__BOUNCE__IMAP__PASSWORD", "secret".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = kairan::config::parse("", "test", &env).unwrap().0;
    let imap = settings.bounce.imap.clone().expect("bounce.imap is set");

    let err = match kairan::bounce::sources::imap::Client::login(&imap).await {
        Ok(_) => panic!("a login answered by an endless line succeeded"),
        Err(e) => format!("{e:#}"),
    };

    assert!(
        err.contains(&format!(
            "a line longer than {} bytes",
            kairan::bounce::sources::imap::MAX_LINE
        )),
        "{err}"
    );
    let sent = server.await.unwrap();
    assert!(
        sent < 64 * 1024 * 1024,
        "the reader stopped taking the line at the cap, not at the end ({sent} bytes sent)"
    );
}
