//! The outbox transport: one `.eml` file per message in a directory, written atomically
//! (a temporary file in the same directory, then a rename), so a reader of the directory
//! never sees half a message. Each file is the message as a local delivery agent would
//! store it: a `Return-Path` line and an `X-Kairan-Envelope-To` line carrying the envelope,
//! then exactly the bytes an SMTP server would have received.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use crate::app::ports::{MailSession, Mailer, OutgoingMessage, SendOutcome, SmtpStage};

#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub fn new(dir: PathBuf) -> Self {
        Outbox { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one message; returns the final path.
    pub async fn write(&self, msg: &OutgoingMessage) -> std::io::Result<PathBuf> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let name = file_name(&msg.message_id);
        let path = self.dir.join(format!("{name}.eml"));
        let tmp = self.dir.join(format!(".{name}.eml.tmp"));
        let mut f = tokio::fs::File::create(&tmp).await?;
        // The envelope, as a local delivery agent records it, so the file says who it was
        // for and where bounces go even when the headers do not.
        let return_path = format!("Return-Path: <{}>\r\n", msg.envelope_from);
        let delivered_to = format!("X-Kairan-Envelope-To: {}\r\n", msg.envelope_to);
        f.write_all(return_path.as_bytes()).await?;
        f.write_all(delivered_to.as_bytes()).await?;
        f.write_all(&msg.data).await?;
        f.sync_all().await?;
        drop(f);
        tokio::fs::rename(&tmp, &path).await?;
        Ok(path)
    }
}

/// A file name from a Message-ID: keeps `[A-Za-z0-9._-]`, replaces the rest (`@`, `/`, …).
fn file_name(message_id: &str) -> String {
    let id = message_id.trim_matches(|c| c == '<' || c == '>');
    let mut name: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, 'm');
    }
    name.truncate(200);
    name
}

#[async_trait]
impl Mailer for Outbox {
    fn kind(&self) -> &'static str {
        "outbox"
    }

    async fn session(&self) -> Box<dyn MailSession> {
        Box::new(self.clone())
    }
}

#[async_trait]
impl MailSession for Outbox {
    async fn send(&mut self, msg: &OutgoingMessage) -> SendOutcome {
        match self.write(msg).await {
            Ok(path) => SendOutcome::Sent {
                reply: format!("250 written to {}", path.display()),
            },
            // A full disk or a permissions problem is the operator's to fix; retry later.
            Err(e) => SendOutcome::Temporary {
                stage: SmtpStage::Data,
                reply: format!("outbox write failed: {e}"),
            },
        }
    }

    async fn close(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_become_safe_file_names() {
        assert_eq!(file_name("<1.2@example.org>"), "1.2_example.org");
        assert_eq!(file_name("../../etc/passwd"), "m.._.._etc_passwd");
        assert_eq!(file_name(""), "m");
    }
}
