//! `kairan bounce parse|ingest` (`docs/contracts.md`): the arguments; what is done with the
//! files and standard input, and the exit codes an MTA sees, are the pipe bounce source's
//! (`bounce::sources::pipe`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::bounce::sources::pipe;
use crate::config::Loaded;

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
        Command::Parse { files } => Ok(pipe::parse_files(&files)),
        Command::Ingest { files, recipient } => {
            let settings = &loaded.settings;
            Ok(pipe::ingest(settings, &files, recipient.as_deref(), || open(settings)).await)
        }
    }
}

/// The database, the signing key (both required: without them the MTA must retry) and, when
/// they can be set up, the templates and mailer that answer mail to the bare return address.
async fn open(settings: &crate::config::Settings) -> anyhow::Result<pipe::Opened> {
    use anyhow::Context as _;
    let store = crate::startup::open_store(settings).await?;
    let signer = crate::app::bounces::signer(settings, store.as_ref())
        .await
        .context("cannot read the signing key, so no token can be verified")?;
    let answers = match (
        crate::startup::load_renderer(settings),
        crate::mail::from_settings(settings),
    ) {
        (Ok(renderer), Ok(mailer)) => Some(crate::app::notify::Notifier::new(
            std::sync::Arc::new(settings.clone()),
            std::sync::Arc::new(renderer),
            std::sync::Arc::new(signer.clone()),
            mailer,
            store.clone(),
            crate::startup::lease_owner().as_str(),
        )),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %format!("{e:#}"), "mail to the return address cannot be answered");
            None
        }
    };
    Ok(pipe::Opened {
        store,
        signer,
        answers,
    })
}
