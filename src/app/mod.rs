//! Use cases, orchestrating the domain through the port traits of [`ports`].
//! Depends on `domain` only; adapters (storage, mail, http) implement or call into it.

pub mod bounces;
pub mod dispatch;
pub mod editorial;
pub mod import;
pub mod keys;
pub mod notify;
pub mod ports;
pub mod preview;
pub mod scheduler;
pub mod status;
pub mod subscription;
