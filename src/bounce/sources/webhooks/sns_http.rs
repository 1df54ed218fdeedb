//! The outbound HTTP the SES webhook needs, as a port: fetching an SNS signing certificate
//! and visiting a `SubscribeURL` to confirm a subscription. Both are HTTPS GETs to a URL the
//! caller has already checked to be on an `sns.<region>.amazonaws.com` host (`ses.rs`); this
//! module only fetches. [`HttpsClient`] is the production adapter (hyper's HTTP/1 client over
//! the `tokio-rustls` and web PKI roots the SMTP and IMAP sides already use); tests inject
//! their own [`SnsHttp`] that serves certificates they generate.
//!
//! What a server sends is bounded: the whole exchange by [`TIMEOUT`], the body by
//! [`MAX_BODY`] (a certificate is about 2 KB), so a slow or hostile peer costs a request, not
//! the process.
//!
//! Depends on hyper, tokio-rustls and url; nothing of the crate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::rustls;

/// The longest a fetch may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// An HTTPS GET, answering the body of a 200 response.
#[async_trait::async_trait]
pub trait SnsHttp: Send + Sync {
    async fn get(&self, url: &url::Url) -> anyhow::Result<Vec<u8>>;
}

/// The production client: TLS verified against the web PKI roots (or the roots given), so a
/// certificate is believed only when it came from the host its URL names.
pub struct HttpsClient {
    tls: tokio_rustls::TlsConnector,
    /// Where to connect instead of resolving the URL's host (tests run a local server under
    /// an SNS host name); `None` in production.
    connect_to: Option<SocketAddr>,
}

impl Default for HttpsClient {
    fn default() -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Self::with_roots(roots, None)
    }
}

impl HttpsClient {
    /// A client trusting `roots` only, connecting to `connect_to` when given.
    pub fn with_roots(roots: rustls::RootCertStore, connect_to: Option<SocketAddr>) -> Self {
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        HttpsClient {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            connect_to,
        }
    }

    async fn fetch(&self, url: &url::Url) -> anyhow::Result<Vec<u8>> {
        if url.scheme() != "https" {
            bail!("only https URLs are fetched");
        }
        let host = url.host_str().context("the URL has no host")?.to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let tcp = match self.connect_to {
            Some(addr) => TcpStream::connect(addr).await,
            None => TcpStream::connect((host.as_str(), port)).await,
        }
        .with_context(|| format!("cannot connect to {host}"))?;
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .context("the host is not a valid TLS server name")?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS with {host}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .context("HTTP handshake")?;
        // The connection is driven beside the request and ends with it (Connection: close).
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, host.as_str())
            .header(hyper::header::USER_AGENT, "kairan")
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .context("building the request")?;
        let res = sender
            .send_request(req)
            .await
            .context("sending the request")?;
        let status = res.status();
        if status != hyper::StatusCode::OK {
            driver.abort();
            bail!("{host} answered {status}");
        }
        let body = Limited::new(res.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the body from {host}: {e}"))?
            .to_bytes();
        driver.abort();
        Ok(body.to_vec())
    }
}

#[async_trait::async_trait]
impl SnsHttp for HttpsClient {
    async fn get(&self, url: &url::Url) -> anyhow::Result<Vec<u8>> {
        tokio::time::timeout(TIMEOUT, self.fetch(url))
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {TIMEOUT:?}"))?
    }
}
