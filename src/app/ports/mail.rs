//! The outbound mail port: a transport hands out sessions (one reused connection per worker)
//! that send [`OutgoingMessage`]s and answer with a [`SendOutcome`] classified at the
//! transport boundary, so no SMTP library type reaches the use cases. Adapters: the outbox
//! directory and SMTP (`src/mail`). Depends on the domain only.

pub use crate::domain::OutgoingMessage;

/// The SMTP stage a reply came at; a 5xx at RCPT or DATA is the recipient's hard bounce,
/// a 5xx at MAIL FROM is a problem with us, not them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpStage {
    Connect,
    MailFrom,
    RcptTo,
    Data,
}

/// A send attempt classified at the transport boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted (250); the server's reply text.
    Sent { reply: String },
    /// 4xx, or the connection failed: worth retrying later.
    Temporary { stage: SmtpStage, reply: String },
    /// 5xx: retrying will not help.
    Permanent { stage: SmtpStage, reply: String },
}

/// A sending session: one reused connection (or one outbox writer) owned by one worker.
#[async_trait::async_trait]
pub trait MailSession: Send {
    async fn send(&mut self, msg: &OutgoingMessage) -> SendOutcome;
    /// Says goodbye (QUIT) and closes.
    async fn close(&mut self);
}

/// The mail transport port: hands out sessions, one per worker.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// `outbox` or `smtp`, for logs and status.
    fn kind(&self) -> &'static str;
    async fn session(&self) -> Box<dyn MailSession>;
}
