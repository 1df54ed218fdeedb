//! Parses the whole bounce corpus repeatedly on one thread and prints messages per second.
//! Run with `cargo bench --bench bounce_speed` (the corpus is ../shared/bounces or
//! `$KAIRAN_BOUNCES_DIR`).

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let dir = std::env::var_os("KAIRAN_BOUNCES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bounces"));
    assert!(
        dir.join("eml").is_dir(),
        "bounce corpus not found at {} (set KAIRAN_BOUNCES_DIR)",
        dir.display()
    );
    let mut files: Vec<_> = std::fs::read_dir(dir.join("eml"))
        .expect("eml dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    files.sort();
    let msgs: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    let bytes: usize = msgs.iter().map(|m| m.len()).sum();
    // Warm up.
    let mut found = 0usize;
    for m in &msgs {
        found += kairan::bounce::parse::parse(m).recipients.len();
    }
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        for m in &msgs {
            found += std::hint::black_box(kairan::bounce::parse::parse(std::hint::black_box(m)))
                .recipients
                .len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = msgs.len() * rounds;
    println!(
        "{} messages ({} rounds of {}, {:.1} MiB each) in {:.3}s: {:.0} msgs/s, {:.1} MiB/s (recipients seen: {})",
        n,
        rounds,
        msgs.len(),
        bytes as f64 / 1048576.0,
        secs,
        n as f64 / secs,
        (bytes * rounds) as f64 / 1048576.0 / secs,
        found
    );
}
