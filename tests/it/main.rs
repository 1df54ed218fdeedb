//! One integration-test binary (`docs/architecture.md`, "Tests"): real SQLite files, the real
//! PostgreSQL server on 127.0.0.1:5432, real SMTP sockets (Postfix's smtp-sink and an
//! in-process fake), a fake IMAP server and a real Dovecot, and the real `kairan` binary.

mod helpers;

mod accounts;
mod approval;
mod approval_cli;
mod archive;
mod audit_trail;
mod bounce_robustness;
mod bounces;
mod browser;
mod cli;
mod console;
mod console_data;
mod console_issues;
mod console_login;
mod console_ops;
mod crash;
mod dispatch;
mod dkim;
mod editor_autosave;
mod editor_journey;
mod editorial;
mod editorial_cli;
mod faults;
mod faults_more;
mod http;
mod imap;
mod import;
mod issues;
mod layers;
mod ledger;
mod mail;
mod operating;
mod operator_journey;
mod outbox;
mod postfix;
mod pow;
mod reader;
mod reader_caps;
mod reader_journey;
mod render;
mod return_mail;
mod storage;
mod subscribe;
mod subscribers_cli;
mod webhooks;
