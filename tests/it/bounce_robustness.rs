//! The bounce parser must return (never panic or hang) on any input: truncated, garbled and
//! spliced corpus messages, random bytes, and pathological sizes.

use kairan::bounce::parse::parse;
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::LazyLock;

static SAMPLES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let dir = std::env::var_os("KAIRAN_BOUNCES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bounces"));
    let mut files: Vec<_> = std::fs::read_dir(dir.join("eml"))
        .unwrap_or_else(|e| {
            panic!(
                "bounce corpus not found at {}: {e} (set KAIRAN_BOUNCES_DIR)",
                dir.display()
            )
        })
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect()
});

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn truncated_corpus_messages(idx in 0usize..10_000, cut in 0.0f64..1.0) {
        let s = &SAMPLES[idx % SAMPLES.len()];
        let n = (s.len() as f64 * cut) as usize;
        let _ = parse(&s[..n]);
    }

    #[test]
    fn garbled_corpus_messages(idx in 0usize..10_000, edits in prop::collection::vec((0.0f64..1.0, any::<u8>()), 1..64)) {
        let mut s = SAMPLES[idx % SAMPLES.len()].clone();
        if s.is_empty() { return Ok(()); }
        for (pos, b) in edits {
            let i = ((s.len() - 1) as f64 * pos) as usize;
            s[i] = b;
        }
        let _ = parse(&s);
    }

    #[test]
    fn spliced_corpus_messages(a in 0usize..10_000, b in 0usize..10_000, cut in 0.0f64..1.0) {
        let x = &SAMPLES[a % SAMPLES.len()];
        let y = &SAMPLES[b % SAMPLES.len()];
        let n = (x.len() as f64 * cut) as usize;
        let mut s = x[..n].to_vec();
        s.extend_from_slice(&y[y.len() / 2..]);
        let _ = parse(&s);
    }

    #[test]
    fn random_bytes(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = parse(&data);
    }

    #[test]
    fn random_text_lines(lines in prop::collection::vec("[ -~]{0,80}", 0..200)) {
        let s = lines.join("\n");
        let _ = parse(s.as_bytes());
    }
}

#[test]
fn huge_inputs_finish_quickly() {
    let start = std::time::Instant::now();
    // A large body of repeated DSN-looking lines and a huge single line.
    let mut s = b"From: MAILER-DAEMON@example.org\nSubject: Undelivered Mail Returned to Sender\nContent-Type: text/plain\n\n".to_vec();
    for _ in 0..200_000 {
        s.extend_from_slice(
            b"<a@b.example>: host x said: 550 5.1.1 user unknown (in reply to RCPT TO command)\n",
        );
    }
    let _ = parse(&s);
    let long_line = vec![b'@'; 8 * 1024 * 1024];
    let _ = parse(&long_line);
    let mut nested = b"Content-Type: multipart/mixed; boundary=x\n\n".to_vec();
    for _ in 0..10_000 {
        nested.extend_from_slice(b"--x\nContent-Type: multipart/mixed; boundary=x\n\n");
    }
    let _ = parse(&nested);
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}

#[test]
fn empty_and_tiny_inputs() {
    for s in [
        &b""[..],
        b"\n",
        b"\r",
        b"From ",
        b"From x\n",
        b":",
        b"a:b\n\n",
        b"\xff\xfe",
    ] {
        let r = parse(s);
        assert!(!r.bounce);
    }
}

/// Found by the fuzz target: a multipart that trips a `debug_assert!` inside mail-parser.
/// The parser contains it and still reads the message.
#[test]
fn a_multipart_that_trips_mail_parsers_assertion_still_parses() {
    let raw = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/bounces/fuzz-invalid-part-id.eml"),
    )
    .unwrap();
    let report = kairan::bounce::parse::parse(&raw);
    assert!(report.bounce);
    assert_eq!(report.recipients.len(), 1);
}
