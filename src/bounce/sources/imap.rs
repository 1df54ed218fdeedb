//! The bounce mailbox poller (`bounce.imap`): every `interval`, log in, select `folder`, fetch
//! each message not yet marked `\Deleted`, ingest it (`app::bounces::ingest`), then mark it
//! `\Seen \Deleted` and expunge, so no message is processed twice. A message whose ingestion
//! failed on the database stays in the mailbox for the next round.
//!
//! A small IMAP4rev1 client (RFC 3501) of our own over tokio: LOGIN, SELECT, UID SEARCH,
//! UID FETCH BODY.PEEK[], UID STORE, EXPUNGE, LOGOUT are all it needs, and it keeps TLS on
//! the `tokio-rustls` the SMTP side already uses (implicit TLS, port 993 by default). What a
//! server sends is bounded: a response line at most [`MAX_LINE`] bytes, a literal (a
//! message) at most [`MAX_LITERAL`]; a server that sends more gets an error for the round,
//! not our memory.
//!
//! Depends on the bounce use case, the subscription mails (to answer), the ports and the
//! settings.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::Utc;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::app::bounces::{self, Context, Source};
use crate::app::notify::Notifier;
use crate::app::ports::Store;
use crate::config::{ImapSettings, Settings};
use crate::domain::Signer;

/// The largest message (literal) accepted from the server.
pub const MAX_LITERAL: usize = 64 * 1024 * 1024;
/// The longest response line accepted (without its literals): a SEARCH answer for a few
/// thousand messages is well under it.
pub const MAX_LINE: usize = 64 * 1024;
/// How many messages one round takes at most (the rest wait for the next round).
const BATCH: usize = 500;
/// A server that says nothing this long is given up on (until the next round).
const IO_TIMEOUT: Duration = Duration::from_secs(60);

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One untagged response: its text (literals replaced by `{N}`) and its literals in order.
#[derive(Debug, Default)]
struct Untagged {
    text: String,
    literals: Vec<Vec<u8>>,
}

/// A logged-in IMAP session.
pub struct Client {
    io: BufReader<Box<dyn Stream>>,
    next_tag: u32,
}

impl Client {
    /// Connects (TLS when `tls`), reads the greeting and logs in.
    pub async fn login(s: &ImapSettings) -> anyhow::Result<Client> {
        let tcp = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect((s.host.as_str(), s.port)))
            .await
            .context("timed out connecting")?
            .with_context(|| format!("cannot connect to {}:{}", s.host, s.port))?;
        let stream: Box<dyn Stream> = if s.tls {
            let mut roots = tokio_rustls::rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
                tokio_rustls::rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .context("TLS setup")?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(s.host.clone())
                .context("bounce.imap.host is not a valid TLS server name")?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .context("TLS handshake")?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let mut c = Client {
            io: BufReader::new(stream),
            next_tag: 1,
        };
        let greeting = c.read_line().await?;
        if !greeting.starts_with(b"* OK") && !greeting.starts_with(b"* PREAUTH") {
            bail!(
                "unexpected greeting: {}",
                String::from_utf8_lossy(&greeting).trim_end()
            );
        }
        c.command(&format!(
            "LOGIN {} {}",
            quote(&s.user),
            quote(s.password.expose())
        ))
        .await
        .context("login refused")?;
        Ok(c)
    }

    async fn read_line(&mut self) -> anyhow::Result<Vec<u8>> {
        tokio::time::timeout(IO_TIMEOUT, read_line_capped(&mut self.io, MAX_LINE))
            .await
            .context("the server stopped answering")?
    }

    /// Sends one command and collects the untagged responses until its tagged `OK`.
    async fn command(&mut self, cmd: &str) -> anyhow::Result<Vec<Untagged>> {
        let tag = format!("k{}", self.next_tag);
        self.next_tag += 1;
        let io = self.io.get_mut();
        io.write_all(format!("{tag} {cmd}\r\n").as_bytes()).await?;
        io.flush().await?;
        let mut out = Vec::new();
        let mut current: Option<Untagged> = None;
        loop {
            let line = self.read_line().await?;
            let text = String::from_utf8_lossy(&line).trim_end().to_owned();
            if current.is_none() {
                if let Some(rest) = text.strip_prefix(&format!("{tag} ")) {
                    if rest.starts_with("OK") {
                        return Ok(out);
                    }
                    let verb = cmd.split(' ').next().unwrap_or(cmd);
                    bail!("{verb} failed: {rest}");
                }
                if !text.starts_with('*') {
                    // A continuation request or noise: nothing we asked for.
                    continue;
                }
            }
            let resp = current.get_or_insert_with(Untagged::default);
            resp.text.push_str(&text);
            match literal_size(&text) {
                Some(n) if n <= MAX_LITERAL => {
                    let mut buf = vec![0; n];
                    tokio::time::timeout(IO_TIMEOUT, self.io.read_exact(&mut buf))
                        .await
                        .context("the server stopped answering")??;
                    resp.literals.push(buf);
                }
                Some(n) => bail!("the server sent a {n}-byte literal; the limit is {MAX_LITERAL}"),
                None => out.push(current.take().expect("set above")),
            }
        }
    }

    /// Selects the folder; returns the UIDs of the messages not marked `\Deleted`.
    pub async fn pending(&mut self, folder: &str) -> anyhow::Result<Vec<u32>> {
        self.command(&format!("SELECT {}", quote(folder))).await?;
        let mut uids = Vec::new();
        for r in self.command("UID SEARCH NOT DELETED").await? {
            if let Some(list) = r.text.strip_prefix("* SEARCH") {
                uids.extend(
                    list.split_whitespace()
                        .filter_map(|u| u.parse::<u32>().ok()),
                );
            }
        }
        uids.sort_unstable();
        Ok(uids)
    }

    /// The raw message with this UID (without setting `\Seen`), if it still exists.
    pub async fn fetch(&mut self, uid: u32) -> anyhow::Result<Option<Vec<u8>>> {
        let responses = self
            .command(&format!("UID FETCH {uid} BODY.PEEK[]"))
            .await?;
        Ok(responses
            .into_iter()
            .find(|r| r.text.contains("FETCH") && !r.literals.is_empty())
            .and_then(|mut r| r.literals.pop()))
    }

    /// Marks the message done: `\Seen \Deleted` (removed at the next expunge).
    pub async fn done(&mut self, uid: u32) -> anyhow::Result<()> {
        self.command(&format!("UID STORE {uid} +FLAGS.SILENT (\\Seen \\Deleted)"))
            .await?;
        Ok(())
    }

    pub async fn expunge(&mut self) -> anyhow::Result<()> {
        self.command("EXPUNGE").await?;
        Ok(())
    }

    pub async fn logout(mut self) {
        let _ = self.command("LOGOUT").await;
    }
}

/// One line up to and including its `\n` (or what came before the server closed), refusing a
/// line longer than `max` bytes as soon as that is known, without reading the rest of it.
async fn read_line_capped<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
) -> anyhow::Result<Vec<u8>> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            if line.is_empty() {
                bail!("the server closed the connection");
            }
            return Ok(line);
        }
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + take > max {
            bail!("the server sent a line longer than {max} bytes");
        }
        line.extend_from_slice(&buf[..take]);
        r.consume(take);
        if done {
            return Ok(line);
        }
    }
}

/// `{N}` at the end of a line announces an N-byte literal.
fn literal_size(line: &str) -> Option<usize> {
    let inner = line.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner[open + 1..].trim_end_matches('+').parse().ok()
}

/// An IMAP quoted string.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        if c != '\r' && c != '\n' {
            q.push(c);
        }
    }
    q.push('"');
    q
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub ingested: usize,
    /// Left in the mailbox because the database failed.
    pub deferred: usize,
}

/// What a round needs besides the mailbox: the daemon's settings, store, signer and the
/// notifier that answers mail to the bare return address.
#[derive(Clone)]
pub struct Poller {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub signer: Arc<Signer>,
    pub answers: Option<Notifier>,
}

/// One round: log in, ingest every pending message, mark and expunge, log out.
pub async fn poll_once(imap: &ImapSettings, p: &Poller) -> anyhow::Result<Round> {
    let store = p.store.as_ref();
    let ctx = Context {
        settings: &p.settings.bounce,
        signer: &p.signer,
        answers: p.answers.as_ref(),
    };
    let mut client = Client::login(imap).await?;
    let uids = client.pending(&imap.folder).await?;
    let mut round = Round::default();
    for uid in uids.into_iter().take(BATCH) {
        let Some(raw) = client.fetch(uid).await? else {
            continue;
        };
        match bounces::ingest(store, ctx, &raw, Source::Imap, None, Utc::now()).await {
            Ok(_) => {
                client.done(uid).await?;
                round.ingested += 1;
            }
            Err(e) => {
                tracing::warn!(error = %e, uid, "cannot record a bounce from the mailbox; it stays for the next round");
                round.deferred += 1;
                break;
            }
        }
    }
    if round.ingested > 0 {
        client.expunge().await?;
    }
    client.logout().await;
    Ok(round)
}

/// Polls every `interval` until `shutdown`; a failed round is logged and retried next time.
pub async fn run(imap: ImapSettings, poller: Poller, shutdown: CancellationToken) {
    tracing::info!(host = %imap.host, port = imap.port, folder = %imap.folder, interval = ?imap.interval, "bounce mailbox poller started");
    loop {
        let round = tokio::select! {
            r = poll_once(&imap, &poller) => r,
            _ = shutdown.cancelled() => break,
        };
        match round {
            Ok(r) if r.ingested > 0 || r.deferred > 0 => {
                tracing::info!(
                    ingested = r.ingested,
                    deferred = r.deferred,
                    "bounce mailbox polled"
                )
            }
            Ok(_) => tracing::debug!("bounce mailbox polled: nothing new"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot poll the bounce mailbox"),
        }
        tokio::select! {
            _ = tokio::time::sleep(imap.interval) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    tracing::info!("bounce mailbox poller stopped");
}

/// Starts the poller when `bounce.imap` is configured.
pub fn spawn(poller: Poller, shutdown: &CancellationToken) -> Option<tokio::task::JoinHandle<()>> {
    let imap = poller.settings.bounce.imap.clone()?;
    Some(tokio::spawn(run(imap, poller, shutdown.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_announced_at_the_end_of_a_line() {
        assert_eq!(literal_size("* 1 FETCH (UID 7 BODY[] {1234}"), Some(1234));
        assert_eq!(literal_size("* 1 FETCH (UID 7 BODY[] {12+}"), Some(12));
        assert_eq!(literal_size("* OK [UIDNEXT 4] {x}"), None);
        assert_eq!(literal_size("* SEARCH 1 2 3"), None);
    }

    #[tokio::test]
    async fn lines_are_read_whole_and_an_over_long_one_is_refused() {
        let mut r = BufReader::with_capacity(4, &b"* OK a\r\n* 2 EXISTS\r\nend"[..]);
        assert_eq!(read_line_capped(&mut r, 16).await.unwrap(), b"* OK a\r\n");
        assert_eq!(
            read_line_capped(&mut r, 16).await.unwrap(),
            b"* 2 EXISTS\r\n"
        );
        assert_eq!(read_line_capped(&mut r, 16).await.unwrap(), b"end");
        assert!(read_line_capped(&mut r, 16).await.is_err(), "closed");
        let long = [b'a'; 17];
        let e = read_line_capped(&mut BufReader::new(&long[..]), 16)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("longer than 16 bytes"), "{e}");
        // Exactly the limit, newline included, is fine.
        let mut r = BufReader::new(&b"aaaaaaaaaaaaaaa\n"[..]);
        assert_eq!(read_line_capped(&mut r, 16).await.unwrap().len(), 16);
    }

    #[test]
    fn quoted_strings_escape_quotes_and_backslashes() {
        assert_eq!(quote(r#"pa"ss\w"#), r#""pa\"ss\\w""#);
        assert_eq!(quote("a\r\nb"), "\"ab\"");
    }
}
