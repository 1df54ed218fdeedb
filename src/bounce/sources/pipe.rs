//! The pipe source: what `kairan bounce parse|ingest` does with files and standard input.
//! `ingest` is made to sit behind an MTA (a Postfix `pipe` transport, `.forward`, procmail),
//! so its exit codes follow sysexits, and an MTA never loses a message to a problem of ours
//! that may pass: 0 when every message was recorded (a message that is not a bounce, that the
//! parser does not understand, or that is forged is recorded as such: the MTA must never
//! bounce a bounce); 75 (EX_TEMPFAIL) when anything on our side failed and may be fixed —
//! the database, the signing key, standard input, the configuration (`cli`) — so the MTA
//! keeps the message and retries; 66 (EX_NOINPUT) only for a file named on the command line
//! that cannot be read, which no MTA does. One JSON line per message on stdout; problems on
//! stderr (Postfix puts them in its log line).
//!
//! Depends on the bounce use case, the ports, the settings and the parser; the database, the
//! signing key and the answering mailer are opened by the caller ([`Opened`]).

use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;

use crate::app::bounces::{self, Context, ParseOutput, Source};
use crate::app::notify::Notifier;
use crate::app::ports::Store;
use crate::config::Settings;
use crate::domain::Signer;

pub const EX_NOINPUT: u8 = 66;
pub const EX_TEMPFAIL: u8 = 75;

/// What ingestion needs, opened once every message has been read.
pub struct Opened {
    pub store: Arc<dyn Store>,
    /// Without the key nothing can be attributed: the caller fails (75) rather than guess.
    pub signer: Signer,
    /// Answers mail to the bare return address; `None` when the mailer or the templates
    /// cannot be set up (the message is then recorded unanswered).
    pub answers: Option<Notifier>,
}

#[derive(serde::Serialize)]
struct ParseLine<'a> {
    file: &'a str,
    #[serde(flatten)]
    parsed: ParseOutput,
}

/// `kairan bounce parse`: one JSON line per file, nothing stored. Fails (1) when a file
/// cannot be read.
pub fn parse_files(files: &[PathBuf]) -> ExitCode {
    let mut failed = 0;
    for f in files {
        match std::fs::read(f) {
            Ok(raw) => {
                let report = crate::bounce::parse::parse(&raw);
                let line = ParseLine {
                    file: &f.display().to_string(),
                    parsed: ParseOutput::from(&report),
                };
                println!(
                    "{}",
                    serde_json::to_string(&line).expect("plain data serialises")
                );
            }
            Err(e) => {
                failed += 1;
                eprintln!("kairan: error: cannot read {}: {e}", f.display());
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One message's raw bytes, or the exit code to give up with.
fn read_message(path: &Path) -> Result<Vec<u8>, u8> {
    if path.as_os_str() == "-" {
        let mut raw = Vec::new();
        return match std::io::stdin().lock().read_to_end(&mut raw) {
            Ok(_) => Ok(raw),
            Err(e) => {
                // A read error on the MTA's pipe is the MTA's or the system's passing
                // trouble: the message must stay with it (EX_IOERR would make Postfix bounce
                // it, and a bounce of a bounce is dropped).
                eprintln!(
                    "kairan: error: cannot read standard input: {e}; the message is left to the MTA to retry"
                );
                Err(EX_TEMPFAIL)
            }
        };
    }
    std::fs::read(path).map_err(|e| {
        eprintln!("kairan: error: cannot read {}: {e}", path.display());
        EX_NOINPUT
    })
}

/// `kairan bounce ingest`: one message per file, or standard input with no file or `-`.
/// Every message is read before the database is opened (`open`), so none is half-taken when
/// the database is down. `recipient` is the address the MTA delivered to (Postfix
/// `${original_recipient}`): the VERP or List-Unsubscribe address whose token attributes the
/// message.
pub async fn ingest<F, Fut>(
    settings: &Settings,
    files: &[PathBuf],
    recipient: Option<&str>,
    open: F,
) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<Opened>>,
{
    let stdin = [PathBuf::from("-")];
    let files = if files.is_empty() { &stdin[..] } else { files };
    let mut messages = Vec::new();
    let mut code = 0u8;
    for f in files {
        match read_message(f) {
            Ok(raw) => messages.push((f, raw)),
            Err(c) => code = code.max(c),
        }
    }
    if messages.is_empty() {
        return ExitCode::from(code);
    }
    let opened = match open().await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kairan: error: {e:#}; the message is left to the MTA to retry");
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    let store = opened.store;
    let ctx = Context {
        settings: &settings.bounce,
        signer: &opened.signer,
        answers: opened.answers.as_ref(),
    };
    for (f, raw) in &messages {
        match bounces::ingest(
            store.as_ref(),
            ctx,
            raw,
            Source::Pipe,
            recipient,
            Utc::now(),
        )
        .await
        {
            Ok(done) => {
                let mut line = serde_json::to_value(&done).expect("plain data serialises");
                line["file"] = f.display().to_string().into();
                println!("{line}");
            }
            Err(e) => {
                eprintln!(
                    "kairan: error: cannot record the bounce in {}: {e}; the MTA should retry",
                    f.display()
                );
                code = code.max(EX_TEMPFAIL);
            }
        }
    }
    store.close().await;
    ExitCode::from(code)
}
