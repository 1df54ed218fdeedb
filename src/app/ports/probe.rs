//! Health probes of the mail side (issue 16), for the console's health panel: can the SMTP
//! relay be reached and does it answer EHLO; does the DKIM key load. The mail adapter
//! implements them (`mail::probe`). Depends on nothing of the crate.

#[async_trait::async_trait]
pub trait MailProbes: Send + Sync {
    /// `None`: no `smtp.url` (mail goes to the outbox directory). Otherwise what the relay
    /// said, or why it could not be reached.
    async fn smtp(&self) -> Option<Result<String, String>>;
    /// `None`: no `[dkim]`. Otherwise the key's algorithm, or why it does not load.
    fn dkim(&self) -> Option<Result<String, String>>;
}
