//! `kairan bounce parse|ingest` (DESIGN.md). `parse` touches no database. `ingest` is made to
//! sit behind an MTA (a Postfix `pipe` transport, `.forward`, procmail), so its exit codes
//! follow sysexits: 0 when every message was recorded (a message that is not a bounce, or that
//! the parser does not understand, is recorded as such: the MTA must never bounce a bounce),
//! 75 (EX_TEMPFAIL) when the database failed so the MTA retries later, 66 (EX_NOINPUT) for a
//! file that cannot be read, 74 (EX_IOERR) when standard input cannot be read.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use clap::Subcommand;

use crate::app::bounces::{self, Context, ParseOutput, Source};
use crate::config::Loaded;

const EX_NOINPUT: u8 = 66;
const EX_IOERR: u8 = 74;
const EX_TEMPFAIL: u8 = 75;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse bounce messages and print one JSON line per file; nothing is stored
    Parse {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Parse bounce / complaint / auto-reply messages and apply the bounce policy; one message
    /// per file, or standard input with no file or `-` (for an MTA pipe)
    Ingest {
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The address the MTA delivered the message to (Postfix: ${original_recipient}),
        /// used to find the VERP token when the message's own headers lost it
        #[arg(long, value_name = "ADDR")]
        recipient: Option<String>,
    },
}

pub async fn run(cmd: Command, loaded: &Loaded) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Parse { files } => Ok(parse_files(&files)),
        Command::Ingest { files, recipient } => ingest(loaded, &files, recipient.as_deref()).await,
    }
}

#[derive(serde::Serialize)]
struct ParseLine<'a> {
    file: &'a str,
    #[serde(flatten)]
    parsed: ParseOutput,
}

fn parse_files(files: &[PathBuf]) -> ExitCode {
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

async fn ingest(
    loaded: &Loaded,
    files: &[PathBuf],
    recipient: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let settings = &loaded.settings;
    let stdin = [PathBuf::from("-")];
    let files = if files.is_empty() { &stdin[..] } else { files };
    // Read everything first: a message is never half-taken when the database is down.
    let mut messages = Vec::new();
    let mut code = 0u8;
    for f in files {
        match read_message(f) {
            Ok(raw) => messages.push((f, raw)),
            Err(c) => code = code.max(c),
        }
    }
    let store = match crate::startup::open_store(settings).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kairan: error: {e:#}; the message is left to the MTA to retry");
            return Ok(ExitCode::from(EX_TEMPFAIL));
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
    Ok(ExitCode::from(code))
}
