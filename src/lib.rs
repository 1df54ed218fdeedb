//! kairan: a self-hosted daemon for a bilingual (Japanese / English) monthly e-newsletter.
//! See DESIGN.md for the contracts and STYLE.md for the module map; `main.rs` only calls
//! [`cli::main`].

pub mod app;
pub mod assets;
pub mod bounce;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod render;
pub mod startup;
pub mod storage;
pub mod telemetry;
