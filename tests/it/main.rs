//! One integration-test binary (STYLE.md habit 11): real SQLite files, the real PostgreSQL
//! server on 127.0.0.1:5432, real SMTP sockets (Postfix's smtp-sink and an in-process fake),
//! and the real `kairan` binary.

mod helpers;

mod archive;
mod bounce_robustness;
mod bounces;
mod browser;
mod cli;
mod crash;
mod dispatch;
mod dkim;
mod http;
mod issues;
mod mail;
mod postfix;
mod render;
mod storage;
mod subscribe;
mod subscribers_cli;
