//! Logging setup and the closed vocabulary of span / event field names.
//!
//! Logs are JSON lines when stderr is not a terminal (or with `--log-format json`), pretty
//! text otherwise. The filter comes from `KAIRAN_LOG`, then `RUST_LOG`, then `info`.
//! Personal data rule: info-level events name subscribers by id ([`SUBSCRIBER_ID`]), never by
//! address; secrets are never logged (config wraps them in `Secret`).
//!
//! Depends on nothing of the crate; every layer logs through `tracing`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Field names used in spans and events, kept in one place so logs stay greppable.
pub const SUBSCRIBER_ID: &str = "subscriber_id";
pub const ISSUE_ID: &str = "issue_id";
pub const DELIVERY_ID: &str = "delivery_id";
pub const LANG: &str = "lang";
pub const BACKEND: &str = "backend";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl LogFormat {
    /// JSON unless stderr is a terminal.
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            LogFormat::Pretty
        } else {
            LogFormat::Json
        }
    }
}

fn filter() -> EnvFilter {
    let directive = std::env::var("KAIRAN_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info,sqlx=warn".to_owned());
    EnvFilter::try_new(&directive).unwrap_or_else(|e| {
        eprintln!("kairan: ignoring invalid log filter `{directive}`: {e}");
        EnvFilter::new("info")
    })
}

/// Installs the global subscriber, writing to stderr. Call once, first thing.
pub fn init(format: LogFormat) {
    let registry = tracing_subscriber::registry().with(filter());
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_target(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}

/// `text` with every email address replaced by `[address]`, for logging server replies,
/// which often quote the recipient (`550 5.1.1 <taro@example.jp>: User unknown`).
pub fn redact_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let core = word.trim_matches(|c: char| "<>()[],;:\"'".contains(c));
        match core.split_once('@') {
            Some((local, domain)) if !local.is_empty() && domain.contains('.') => {
                out.push_str(&word.replace(core, "[address]"));
            }
            _ => out.push_str(word),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_in_server_replies_are_redacted() {
        assert_eq!(
            super::redact_addresses("550 5.1.1 <taro@example.jp>: Recipient address rejected"),
            "550 5.1.1 <[address]>: Recipient address rejected"
        );
        assert_eq!(
            super::redact_addresses("421 4.7.0 try later"),
            "421 4.7.0 try later"
        );
    }
}
