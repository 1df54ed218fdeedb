//! kairan: a self-hosted daemon for a bilingual (Japanese / English) monthly e-newsletter.
//! `main.rs` only calls [`cli::main`].
//!
//! The layers, inside out (`docs/architecture.md`): [`domain`] (entities and rules, pure),
//! [`app`] (the use cases and the ports they declare), [`render`] (templates and Fluent to
//! bytes, pure), then the adapters: [`storage`] (SQLite, PostgreSQL), [`mail`] (outbox,
//! SMTP, DKIM), [`http`] (axum), [`bounce`] (the pure parser and the sources that feed the
//! bounce use case); [`startup`] wires them and [`cli`] is the command line. [`config`],
//! [`assets`], [`telemetry`] and [`metrics`] serve every layer. The user-facing contracts the
//! code cites (commands, routes, keys, headers, states, guarantees) are in
//! `docs/contracts.md` and the README.

pub mod app;
pub mod assets;
pub mod bounce;
pub mod cli;
pub mod config;
pub mod domain;
pub mod host;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod render;
pub mod startup;
pub mod storage;
pub mod telemetry;
