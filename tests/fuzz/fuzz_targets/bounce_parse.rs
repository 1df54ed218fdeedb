//! Any bytes in, a report out: the parser must never panic or hang.
//!
//! The parser's sources are compiled here directly, under the same module paths as in kairan
//! (`crate::bounce::parse`, and `crate::domain` for the `Reason` vocabulary it shares with the
//! policy), so a fuzz build does not sanitise the whole daemon.
#![no_main]

// Declared at the root (a `#[path]` inside an inline module would resolve through a folder
// that does not exist) and re-exported under kairan's paths.
#[path = "../../../src/domain/status.rs"]
#[allow(dead_code, unused_imports)]
mod status;
#[path = "../../../src/domain/reason.rs"]
#[allow(dead_code)]
mod reason;
#[path = "../../../src/bounce/parse/mod.rs"]
#[allow(dead_code)]
mod parse;

mod domain {
    pub use crate::reason::Reason;
    pub(crate) use crate::status;
}

mod bounce {
    pub(crate) use crate::parse;
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let report = bounce::parse::parse(data);
    // Serialising walks every field the CLI prints.
    let _ = serde_json::to_string(&report);
});
