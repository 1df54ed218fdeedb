//! Any bytes in, a report out: the parser must never panic or hang.
#![no_main]

#[path = "../../../src/bounce/parse/mod.rs"]
#[allow(dead_code)]
mod parse;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let report = parse::parse(data);
    // Serialising walks every field the CLI prints.
    let _ = serde_json::to_string(&report);
});
