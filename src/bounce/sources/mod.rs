//! Where bounce messages come from, each turning raw input into calls of the bounce use case
//! (`app::bounces::ingest`): [`pipe`] (files or standard input, `kairan bounce ingest`, with
//! the exit codes an MTA understands), [`http`] (the body of `POST /api/bounces`; the route
//! itself is the HTTP adapter's), [`imap`] (a mailbox polled by `kairan serve`) and
//! [`webhooks`] (the sending providers' signed event webhooks, whose routes are the HTTP
//! adapter's too).
//!
//! May depend on the domain, the use cases and ports, the settings and the parser; the use
//! cases never depend on these.

pub mod http;
pub mod imap;
pub mod pipe;
pub mod webhooks;
