//! Bounce messages: [`parse`] reads one raw message (DSN, non-standard MTA report, ARF
//! complaint, auto-reply) into a [`parse::Report`], with no I/O and no async; [`imap`] is the
//! mailbox source that feeds `app::bounces::ingest` when `bounce.imap` is configured.
//! Attribution and the policy live in `app::bounces`.

pub mod imap;
pub mod parse;
