//! SMTP transport on connections we open ourselves.
//!
//! Why not lettre's pooled `AsyncSmtpTransport`: it never sets `TCP_NODELAY`, and it writes
//! the body and the closing `.` in separate writes, so with Nagle on every message waits for
//! the server's delayed ACK (~40 ms): about 23 messages/s per connection. We open the
//! `TcpStream` ourselves with `set_nodelay(true)` and drive lettre's `AsyncSmtpConnection`
//! over it, one connection per worker, reused across messages (RSET after a failed
//! transaction, reconnect after a broken one).
//!
//! We also run the MAIL / RCPT / DATA steps ourselves rather than `send()`, so each reply is
//! known by its stage: a 5xx at RCPT or DATA is the recipient's hard bounce, a 5xx at MAIL
//! FROM is our problem. Every lettre error is classified here into a [`SendOutcome`].
//!
//! Speed (see README, Performance): when the server announces PIPELINING (RFC 2920), MAIL,
//! RCPT and DATA go out in one write and their three replies are read in order, so a message
//! costs two round trips instead of four. The content is dot-stuffed here with a SIMD search
//! for CRLF "." (lettre's `message()` walks it byte by byte into a fresh buffer) and written
//! with its terminating CRLF "." CRLF in one write, through lettre's `command()`, which writes
//! any `Display`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::Address;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use tokio::net::TcpStream;

use crate::app::ports::{MailSession, Mailer, OutgoingMessage, SendOutcome, SmtpStage};
use crate::config::{SmtpTls, SmtpUrl};

/// Hands out one [`SmtpSession`] per worker.
#[derive(Clone)]
pub struct SmtpMailer {
    inner: Arc<Inner>,
}

struct Inner {
    url: SmtpUrl,
    hello: ClientId,
    timeout: Duration,
}

impl SmtpMailer {
    pub fn new(url: SmtpUrl, hello_name: Option<String>, timeout: Duration) -> Self {
        let hello = match hello_name {
            Some(name) => ClientId::Domain(name),
            None => ClientId::default(),
        };
        SmtpMailer {
            inner: Arc::new(Inner {
                url,
                hello,
                timeout,
            }),
        }
    }

    /// Connects, negotiates TLS as `smtp.url` says, says EHLO (and authenticates), then
    /// QUIT: the console's health check. Returns the server's name.
    pub async fn probe(&self) -> Result<String, String> {
        let session = self.smtp_session();
        let (mut conn, _) = session.connect().await?;
        let name = conn.server_info().name().to_owned();
        let _ = tokio::time::timeout(self.inner.timeout, conn.quit()).await;
        Ok(name)
    }

    /// A session that connects on first use.
    pub fn smtp_session(&self) -> SmtpSession {
        SmtpSession {
            inner: self.inner.clone(),
            conn: None,
            pipelining: false,
            dirty: false,
            buf: Vec::new(),
        }
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    fn kind(&self) -> &'static str {
        "smtp"
    }

    async fn session(&self) -> Box<dyn MailSession> {
        Box::new(self.smtp_session())
    }
}

/// One reused SMTP connection.
pub struct SmtpSession {
    inner: Arc<Inner>,
    conn: Option<AsyncSmtpConnection>,
    /// The server announced PIPELINING (lettre's `ServerInfo` does not keep it).
    pipelining: bool,
    /// A transaction failed part-way: RSET before the next MAIL FROM.
    dirty: bool,
    /// Reused for the dot-stuffed content of each message.
    buf: Vec<u8>,
}

/// Text written as it is through lettre's `command()`.
struct Raw<'a>(&'a str);

impl fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// `data` with a "." added at the start of every line that begins with one (RFC 5321
/// 4.5.2; lines end in CRLF), then the terminating CRLF "." CRLF, into `out`.
fn dot_stuff(data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(data.len() + 8);
    if data.first() == Some(&b'.') {
        out.push(b'.');
    }
    let mut start = 0;
    for i in memchr::memmem::find_iter(data, b"\r\n.") {
        out.extend_from_slice(&data[start..i + 2]);
        out.push(b'.');
        start = i + 2;
    }
    out.extend_from_slice(&data[start..]);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

/// A TLS stream lettre can drive (implicit TLS, where the handshake precedes the greeting).
#[derive(Debug)]
struct TlsStream(tokio_rustls::client::TlsStream<TcpStream>);

impl tokio::io::AsyncRead for TlsStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

impl SmtpSession {
    /// A connection, and whether the server pipelines.
    async fn connect(&self) -> Result<(AsyncSmtpConnection, bool), String> {
        let url = &self.inner.url;
        let tcp = tokio::time::timeout(
            self.inner.timeout,
            TcpStream::connect((url.host.as_str(), url.port)),
        )
        .await
        .map_err(|_| format!("connecting to {}:{} timed out", url.host, url.port))?
        .map_err(|e| format!("cannot connect to {}:{}: {e}", url.host, url.port))?;
        // The point of opening the socket ourselves: see the module docs.
        tcp.set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        let stream: Box<dyn AsyncTokioStream> = if url.tls == SmtpTls::Implicit {
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(url.host.clone())
                .map_err(|e| format!("`{}` is not a valid TLS server name: {e}", url.host))?;
            let tls = tls_connector()
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {}: {e}", url.host))?;
            Box::new(TlsStream(tls))
        } else {
            Box::new(tcp)
        };
        let mut conn = tokio::time::timeout(
            self.inner.timeout,
            AsyncSmtpConnection::connect_with_transport(stream, &self.inner.hello),
        )
        .await
        .map_err(|_| "the server did not greet in time".to_owned())?
        .map_err(|e| describe(&e))?;
        let wants_tls = matches!(url.tls, SmtpTls::Opportunistic | SmtpTls::Required);
        if wants_tls && conn.can_starttls() {
            let params = TlsParameters::new(url.host.clone()).map_err(|e| describe(&e))?;
            conn.starttls(params, &self.inner.hello)
                .await
                .map_err(|e| format!("STARTTLS: {}", describe(&e)))?;
        } else if url.tls == SmtpTls::Required {
            conn.abort().await;
            return Err(
                "the server does not offer STARTTLS, and smtp.url says tls=required".into(),
            );
        }
        // lettre keeps only the EHLO keywords it knows; ask again to see PIPELINING. (Before
        // AUTH: a later EHLO may reset the session.)
        let ehlo = tokio::time::timeout(
            self.inner.timeout,
            conn.command(Ehlo::new(self.inner.hello.clone())),
        )
        .await
        .map_err(|_| "the server did not answer EHLO in time".to_owned())?
        .map_err(|e| format!("EHLO: {}", describe(&e)))?;
        let pipelining = ehlo
            .message()
            .any(|l| l.split_whitespace().next() == Some("PIPELINING"));
        if let (Some(user), Some(password)) = (&url.user, &url.password) {
            let creds = Credentials::new(user.clone(), password.expose().to_owned());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await
                .map_err(|e| format!("authentication failed: {}", describe(&e)))?;
        }
        Ok((conn, pipelining))
    }

    async fn transaction(
        conn: &mut AsyncSmtpConnection,
        pipelining: bool,
        from: Option<Address>,
        to: Address,
        data: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<Response, (SmtpStage, SmtpError)> {
        let mut params = Vec::new();
        if !data.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mail = Mail::new(from, params);
        let rcpt = Rcpt::new(to, vec![]);
        if pipelining {
            // One write, then the replies in order; every reply is read even after a
            // refusal, so the next transaction starts in step.
            let commands = format!("{mail}{rcpt}{Data}");
            let mail = conn.command(Raw(&commands)).await;
            if let Err(e) = &mail
                && e.status().is_none()
            {
                return Err((SmtpStage::MailFrom, mail.unwrap_err()));
            }
            let rcpt = conn.read_response().await;
            if let Err(e) = &rcpt
                && e.status().is_none()
            {
                return Err((SmtpStage::RcptTo, rcpt.unwrap_err()));
            }
            let data_reply = conn.read_response().await;
            let refused = match (mail, rcpt) {
                (Err(e), _) => Some((SmtpStage::MailFrom, e)),
                (_, Err(e)) => Some((SmtpStage::RcptTo, e)),
                _ => None,
            };
            match (refused, data_reply) {
                (None, Ok(_)) => {}
                (None, Err(e)) => return Err((SmtpStage::Data, e)),
                (Some(refused), Ok(_)) => {
                    // A server that said 354 with no recipient: end the empty message.
                    let _ = conn.command(Raw(".\r\n")).await;
                    return Err(refused);
                }
                (Some(refused), Err(_)) => return Err(refused),
            }
        } else {
            conn.command(mail)
                .await
                .map_err(|e| (SmtpStage::MailFrom, e))?;
            conn.command(rcpt)
                .await
                .map_err(|e| (SmtpStage::RcptTo, e))?;
            conn.command(Data).await.map_err(|e| (SmtpStage::Data, e))?;
        }
        dot_stuff(data, buf);
        match std::str::from_utf8(buf) {
            Ok(text) => conn.command(Raw(text)).await,
            // Not UTF-8 (8BITMIME in another charset): lettre's own stuffing writes bytes.
            Err(_) => conn.message(data).await,
        }
        .map_err(|e| (SmtpStage::Data, e))
    }
}

/// An error's full text: the reply code and the server's words when there was a reply,
/// else lettre's description of what went wrong.
fn describe(e: &SmtpError) -> String {
    use std::error::Error;
    match (e.status(), e.source()) {
        (Some(code), Some(src)) => format!("{code} {src}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}

#[async_trait]
impl MailSession for SmtpSession {
    async fn send(&mut self, msg: &OutgoingMessage) -> SendOutcome {
        // Addresses are checked before any network traffic: a bad one is permanent.
        let from = if msg.envelope_from.is_empty() {
            None
        } else {
            match msg.envelope_from.parse::<Address>() {
                Ok(a) => Some(a),
                Err(_) => {
                    return SendOutcome::Permanent {
                        stage: SmtpStage::MailFrom,
                        reply: "invalid envelope sender address".into(),
                    };
                }
            }
        };
        let Ok(to) = msg.envelope_to.parse::<Address>() else {
            return SendOutcome::Permanent {
                stage: SmtpStage::RcptTo,
                reply: "invalid recipient address".into(),
            };
        };
        if self.dirty {
            if let Some(conn) = self.conn.as_mut()
                && conn.command(Rset).await.is_err()
            {
                conn.abort().await;
                self.conn = None;
            }
            self.dirty = false;
        }
        if self.conn.as_ref().is_some_and(|c| c.has_broken()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            match self.connect().await {
                Ok((c, pipelining)) => {
                    self.conn = Some(c);
                    self.pipelining = pipelining;
                }
                Err(reply) => {
                    return SendOutcome::Temporary {
                        stage: SmtpStage::Connect,
                        reply,
                    };
                }
            }
        }
        let conn = self.conn.as_mut().expect("connected above");
        let result = tokio::time::timeout(
            self.inner.timeout,
            Self::transaction(conn, self.pipelining, from, to, &msg.data, &mut self.buf),
        )
        .await;
        match result {
            Ok(Ok(response)) => SendOutcome::Sent {
                reply: format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                ),
            },
            Ok(Err((stage, e))) => {
                let reply = describe(&e);
                if e.is_permanent() {
                    self.dirty = true;
                    SendOutcome::Permanent { stage, reply }
                } else if e.is_transient() {
                    self.dirty = true;
                    SendOutcome::Temporary { stage, reply }
                } else {
                    // Network or protocol trouble: the connection is unusable.
                    self.drop_connection().await;
                    SendOutcome::Temporary { stage, reply }
                }
            }
            Err(_) => {
                self.drop_connection().await;
                SendOutcome::Temporary {
                    stage: SmtpStage::Data,
                    reply: format!("no reply within {:?}", self.inner.timeout),
                }
            }
        }
    }

    async fn close(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), conn.quit()).await;
        }
    }
}

impl SmtpSession {
    async fn drop_connection(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.abort()).await;
        }
        self.dirty = false;
    }
}

#[cfg(test)]
mod tests {
    use super::dot_stuff;

    fn stuffed(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        dot_stuff(data, &mut out);
        out
    }

    #[test]
    fn lines_starting_with_a_dot_get_another() {
        assert_eq!(stuffed(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(stuffed(b".a\r\n.\r\n"), b"..a\r\n..\r\n.\r\n");
        assert_eq!(stuffed(b"a.b\r\nc"), b"a.b\r\nc\r\n.\r\n");
        // A bare LF is not a line end on the wire.
        assert_eq!(stuffed(b"a\n.b"), b"a\n.b\r\n.\r\n");
        assert_eq!(stuffed(b""), b"\r\n.\r\n");
    }
}
