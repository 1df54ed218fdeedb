//! Bounce messages, in two halves.
//!
//! - [`parse`] is the pure parser: one raw message (DSN, non-standard MTA report, ARF
//!   complaint, auto-reply) in, a [`parse::Report`] out; no I/O, no async, nothing of the use
//!   cases (the fuzz target compiles it on its own).
//! - [`sources`] are the ways messages come in — an MTA pipe (`kairan bounce ingest`), the
//!   admin API (`POST /api/bounces`), an IMAP mailbox — each feeding the bounce use case,
//!   `app::bounces::ingest`, which attributes the report and applies the policy.
//!
//! `app::bounces` uses the parser and never the sources; the sources call the use case.

pub mod parse;
pub mod sources;
