//! The composition root: the only place that knows every concrete type. Builds the pools and
//! adapters, binds the listener (port 0 in tests, reported back), and runs until the shutdown
//! token is cancelled, then drains in order: stop accepting, let in-flight requests finish
//! (bounded by the request timeout), let the dispatcher record its in-flight sends and the
//! outbox sender send what is due (bounded by [`OUTBOX_DRAIN`]), close the pool.
//!
//! It alone, with `cli`, may depend on every module.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::ports::{Mailer, Store};
use crate::config::Settings;
use crate::http::{AppState, router};

/// Connects to the configured database, which must exist, and applies migrations. A SQLite
/// file that is not there is refused rather than created: a command run in the wrong
/// directory (or without its --config) would otherwise work on a new empty database and say
/// "(no subscribers)". `serve` and `migrate` create it ([`open_or_create_store`]). (A
/// missing PostgreSQL database is always an error of the server's.)
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database.url.expose();
    if let Some(path) = crate::storage::sqlite_file(url)
        && !path.exists()
    {
        anyhow::bail!(
            "no database at {}: run `kairan migrate`, or pass --config",
            path.display()
        );
    }
    open_or_create_store(settings).await
}

/// Connects to the configured database (creating a SQLite file that is missing) and applies
/// migrations: for `serve` and `migrate`.
pub async fn open_or_create_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database.url.expose();
    let store = crate::storage::connect(url, settings.database.max_connections)
        .await
        .with_context(|| format!("cannot open the database ({})", redact_url(url)))?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}

/// Loads templates and locales (built in, overridden by `paths.*`) and compiles them.
pub fn load_renderer(settings: &Settings) -> anyhow::Result<crate::render::Renderer> {
    let assets = crate::assets::Assets::load(&settings.paths)
        .map_err(|p| anyhow::anyhow!("cannot load templates and locales: {}", p.join("; ")))?;
    crate::render::Renderer::new(&assets)
        .map_err(|p| anyhow::anyhow!("cannot compile templates and locales: {}", p.join("; ")))
}

/// Who this process's dispatch workers lease deliveries as: the host name (from the kernel,
/// `kairan` when it cannot be read), the process id and its start time (`host::ProcFs`).
pub fn lease_owner() -> crate::app::dispatch::LeaseOwner {
    use crate::app::ports::Processes;
    let p = crate::host::ProcFs::new();
    crate::app::dispatch::LeaseOwner::new(p.host(), std::process::id(), &p.start_of_self())
}

/// The host adapter the dispatcher asks whether a lease's owner is still running.
pub fn processes() -> Arc<dyn crate::app::ports::Processes> {
    Arc::new(crate::host::ProcFs::new())
}

/// A database URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => url.split('?').next().unwrap_or("").to_owned(),
    }
}

/// On shutdown, how long the outbox sender keeps sending the transactional mail that is due
/// (what is left stays queued for the next start).
pub const OUTBOX_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// A built, bound application, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// Names this process's leases (deliveries and queued mail).
    owner: crate::app::dispatch::LeaseOwner,
    /// Serve HTTP only: no scheduler, no dispatcher (listmonk's `--passive`).
    passive: bool,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = open_or_create_store(&settings).await?;
        let mailer = crate::mail::from_settings(&settings)?;
        Self::build_with(settings, store, mailer).await
    }

    /// As [`Application::build`], with the store and mailer given (tests inject their own).
    pub async fn build_with(
        settings: Settings,
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.http.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.http.listen))?;
        let renderer = Arc::new(load_renderer(&settings)?);
        let signer = Arc::new(crate::app::keys::signer(&settings, store.as_ref()).await?);
        let settings = Arc::new(settings);
        let owner = lease_owner();
        let notifier = crate::app::notify::Notifier::new(
            settings.clone(),
            renderer.clone(),
            signer.clone(),
            mailer.clone(),
            store.clone(),
            owner.as_str(),
        );
        let webhooks = Arc::new(crate::bounce::sources::webhooks::Webhooks::new(
            &settings.bounce.webhooks,
            Arc::new(crate::bounce::sources::webhooks::sns_http::HttpsClient::default()),
        ));
        let state = AppState {
            settings,
            store,
            mailer,
            metrics: crate::metrics::install(),
            renderer,
            signer,
            notifier,
            webhooks,
        };
        Ok(Application {
            listener,
            state,
            owner,
            passive: false,
        })
    }

    /// Runs HTTP (and the bounce mailbox poller) only: this instance neither starts nor
    /// sends campaigns.
    pub fn passive(mut self, passive: bool) -> Self {
        self.passive = passive;
        self
    }

    /// Fetches SNS certificates and confirms SNS subscriptions through `http` instead of
    /// HTTPS to AWS (tests serve certificates they generate).
    pub fn sns_http(
        mut self,
        http: Arc<dyn crate::bounce::sources::webhooks::sns_http::SnsHttp>,
    ) -> Self {
        self.state.webhooks = Arc::new(crate::bounce::sources::webhooks::Webhooks::new(
            &self.state.settings.bounce.webhooks,
            http,
        ));
        self
    }

    /// The bound address (the real port when `http.listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` is cancelled, then drains and returns.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let settings = self.state.settings.clone();
        let store = self.state.store.clone();
        log_startup(
            &settings,
            self.local_addr(),
            store.backend(),
            self.state.mailer.kind(),
        );
        // The scheduler starts campaigns; the dispatcher sends every `sending` one. Both stop
        // on the same token: no new claims, in-flight sends finish and are recorded.
        let dispatcher = crate::app::dispatch::Dispatcher::new(
            store.clone(),
            self.state.mailer.clone(),
            self.state.renderer.clone(),
            settings.clone(),
            self.state.signer.clone(),
            self.owner.clone(),
            processes(),
        );
        let workers = (!self.passive).then(|| {
            (
                tokio::spawn(crate::app::scheduler::run(
                    store.clone(),
                    crate::config::ScheduleSettings {
                        require_approval: settings.console.require_approval,
                        ..settings.schedule.clone()
                    },
                    shutdown.clone(),
                )),
                tokio::spawn(crate::app::dispatch::supervise(
                    dispatcher,
                    shutdown.clone(),
                )),
            )
        });
        if self.passive {
            tracing::info!("passive: this instance serves HTTP only and sends nothing");
        }
        // Transactional mail goes out of passive instances too: it is not a campaign, and a
        // reader waits for it.
        let outbox = tokio::spawn(crate::app::notify::sender::run(
            self.state.notifier.clone(),
            shutdown.clone(),
            OUTBOX_DRAIN,
        ));
        let bounce_poller = crate::bounce::sources::imap::spawn(
            crate::bounce::sources::imap::Poller {
                settings: settings.clone(),
                store: store.clone(),
                signer: self.state.signer.clone(),
                answers: Some(self.state.notifier.clone()),
            },
            &shutdown,
        );
        let app = router(self.state);
        // With the peer address, for per-client rate limits and consent records.
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .context("the HTTP server failed")?;
        tracing::info!("HTTP server stopped; waiting for in-flight sends");
        if let Some((scheduler, sender)) = workers {
            let _ = scheduler.await;
            let _ = sender.await;
        }
        let _ = outbox.await;
        if let Some(poller) = bounce_poller {
            let _ = poller.await;
        }
        tracing::info!("dispatcher drained; closing the database");
        store.close().await;
        tracing::info!("shutdown complete");
        Ok(())
    }
}

fn log_startup(settings: &Settings, addr: SocketAddr, backend: &str, mailer: &str) {
    tracing::info!(%addr, backend, mailer, base_url = %settings.http.base_url, "kairan is listening");
    if settings.smtp.url.is_none() {
        tracing::warn!(
            dir = %settings.outbox.dir.display(),
            "no smtp.url configured: messages are written to the outbox directory, not sent"
        );
    }
    let missing = settings.newsletter.missing_legal_settings();
    if !missing.is_empty() {
        tracing::warn!(
            missing = %missing.join(", "),
            "legal footer settings are empty: issues cannot be queued until they are set"
        );
    }
    if settings.admin.token.is_none() {
        tracing::info!("admin.token is not set: the admin API is off");
    }
    let w = &settings.bounce.webhooks;
    let on: Vec<&str> = [
        ("ses", w.ses.is_some()),
        ("sendgrid", w.sendgrid.is_some()),
        ("postmark", w.postmark.is_some()),
        ("mailgun", w.mailgun.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    if !on.is_empty() {
        tracing::info!(providers = %on.join(", "), "provider webhooks are on under /webhooks/");
    }
}

/// A token cancelled on SIGINT or SIGTERM.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => tracing::info!("SIGINT received: shutting down"),
            _ = term => tracing::info!("SIGTERM received: shutting down"),
        }
        t.cancel();
    });
    token
}
