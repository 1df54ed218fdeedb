//! A message ready for the wire: what rendering produces and the mail transports take. Pure:
//! imports nothing of the crate's other modules.

use std::sync::Arc;

/// The envelope plus the exact RFC 5322 bytes (CRLF line ends).
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// MAIL FROM (the VERP return path for campaign mail); empty for the null sender `<>`.
    pub envelope_from: String,
    /// RCPT TO: one recipient per message, so every outcome belongs to one delivery.
    pub envelope_to: String,
    /// Used to name the outbox file; the same id as the `Message-ID` header, without `<>`.
    pub message_id: String,
    pub data: Arc<[u8]>,
}
