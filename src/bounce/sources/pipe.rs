//! The pipe source: what `kairan bounce parse|ingest` does with files and standard input.
//! `ingest` is made to sit behind an MTA (a Postfix `pipe` transport, `.forward`, procmail),
//! so its exit codes follow sysexits: 0 when every message was recorded (a message that is not
//! a bounce, or that the parser does not understand, is recorded as such: the MTA must never
//! bounce a bounce), 75 (EX_TEMPFAIL) when the database failed so the MTA retries later, 66
//! (EX_NOINPUT) for a file that cannot be read, 74 (EX_IOERR) when standard input cannot be
//! read. One JSON line per message on stdout; problems on stderr.
//!
//! Depends on the bounce use case, the ports, the settings and the parser; the database is
//! opened by the caller.

use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;

use crate::app::bounces::{self, Context, ParseOutput, Source};
use crate::app::ports::Store;
use crate::config::Settings;

pub const EX_NOINPUT: u8 = 66;
pub const EX_IOERR: u8 = 74;
pub const EX_TEMPFAIL: u8 = 75;

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
                eprintln!("kairan: error: cannot read standard input: {e}");
                Err(EX_IOERR)
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
/// `${original_recipient}`), used to find the VERP token when the message lost it.
pub async fn ingest<F, Fut>(
    settings: &Settings,
    files: &[PathBuf],
    recipient: Option<&str>,
    open: F,
) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<Arc<dyn Store>>>,
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
    let store = match open().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kairan: error: {e:#}; the message is left to the MTA to retry");
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    let signer = bounces::signer(settings, store.as_ref()).await;
    let ctx = Context {
        settings: &settings.bounce,
        signer: signer.as_ref(),
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
