//! Scores the bounce parser against the Sisimai-derived corpus (../shared/bounces, or
//! `$KAIRAN_BOUNCES_DIR`) and fails below the targets of issue 6: recipient ≥ 99%, hard ≥ 98%,
//! reason ≥ 95%, status ≥ 95%, and both non-bounces reported as not bounces.
//!
//! The score is honest: every entry of expected.json must name a file that exists and must be
//! scored exactly once (765 entries), and a score over zero entries is a failure, not 100 %.
//!
//! A test without the libtest harness (`harness = false` in Cargo.toml), so its stdout is never
//! captured: `cargo test` always prints the scores, and CI logs show them. Set
//! `CORPUS_VERBOSE=1` to list every mismatch.

use kairan::bounce::parse::{Recipient, parse};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `$KAIRAN_BOUNCES_DIR`, else `../shared/bounces` next to the crate; fails loudly if absent.
fn corpus_dir() -> PathBuf {
    let dir = match std::env::var_os("KAIRAN_BOUNCES_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bounces"),
    };
    assert!(
        dir.join("expected.json").is_file(),
        "bounce corpus not found at {}: set KAIRAN_BOUNCES_DIR to the folder holding expected.json",
        dir.display()
    );
    dir
}

struct Score {
    ok: usize,
    total: usize,
}

impl Score {
    /// The percentage of scored entries that matched; nothing scored is a failure.
    fn pct(&self) -> f64 {
        assert!(self.total > 0, "no expectation was scored");
        self.ok as f64 * 100.0 / self.total as f64
    }
}

/// The number of entries in the corpus's expected.json (its README).
const EXPECTED_ENTRIES: usize = 765;

fn main() {
    shared_corpus();
    heldout();
    adversarial();
}

/// The Sisimai-derived corpus: recipient, hard, reason and status scores.
fn shared_corpus() {
    let dir = corpus_dir();
    let verbose = std::env::var("CORPUS_VERBOSE").is_ok_and(|v| !v.is_empty() && v != "0");
    let expected: Vec<Value> = serde_json::from_slice(
        &std::fs::read(dir.join("expected.json")).expect("read expected.json"),
    )
    .expect("parse expected.json");
    let mut by_file: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in &expected {
        by_file
            .entry(e["file"].as_str().expect("file").to_string())
            .or_default()
            .push(e);
    }
    let mut files: Vec<String> = std::fs::read_dir(dir.join("eml"))
        .expect("eml dir")
        .filter_map(|e| e.ok())
        .map(|e| format!("eml/{}", e.file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".eml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 700,
        "corpus looks incomplete: {} files",
        files.len()
    );
    assert_eq!(
        expected.len(),
        EXPECTED_ENTRIES,
        "expected.json should hold {EXPECTED_ENTRIES} entries"
    );
    let missing: Vec<&String> = by_file.keys().filter(|f| !files.contains(f)).collect();
    assert!(
        missing.is_empty(),
        "files listed in expected.json are missing: {missing:?}"
    );

    let (mut rcpt, mut hard, mut reason, mut status, mut reply) = (
        Score { ok: 0, total: 0 },
        Score { ok: 0, total: 0 },
        Score { ok: 0, total: 0 },
        Score { ok: 0, total: 0 },
        Score { ok: 0, total: 0 },
    );
    let mut extras = 0usize;
    let mut not_bounced = 0usize;
    let mut mismatches: Vec<String> = Vec::new();
    let mut by_source: BTreeMap<String, usize> = BTreeMap::new();

    for f in &files {
        let raw = std::fs::read(dir.join(f)).expect("read eml");
        let report = parse(&raw);
        let exp = by_file.get(f).cloned().unwrap_or_default();
        if !report.bounce {
            not_bounced += 1;
        }
        if report.recipients.len() > exp.len() {
            extras += report.recipients.len() - exp.len();
        }
        let mut used = vec![false; report.recipients.len()];
        for (j, e) in exp.iter().enumerate() {
            let want_addr = e["recipient"].as_str().map(|s| s.to_string());
            // Match by address first, then by position.
            let idx = report
                .recipients
                .iter()
                .enumerate()
                .position(|(i, r)| !used[i] && want_addr.is_some() && r.address == want_addr)
                .or_else(|| {
                    if j < report.recipients.len() && !used[j] {
                        Some(j)
                    } else {
                        None
                    }
                });
            let got: Option<&Recipient> = idx.map(|i| {
                used[i] = true;
                &report.recipients[i]
            });
            let src = e["source"].as_str().unwrap_or("").to_string();
            let want_status = e["status"].as_str().map(|s| s.to_string());
            let want_reason = e["reason"].as_str().unwrap_or("").to_string();
            let want_hard = e["hard"].as_bool().unwrap_or(false);
            let want_reply = e["reply"].as_str().map(|s| s.to_string());
            let g_addr = got.and_then(|g| g.address.clone());
            let g_status = got.and_then(|g| g.status.clone());
            let g_reason = got
                .map(|g| g.reason.as_str().to_string())
                .unwrap_or_else(|| "-".into());
            let g_hard = got.map(|g| g.hard);
            let g_reply = got.and_then(|g| g.reply.clone());
            let ok_r = got.is_some() && g_addr == want_addr;
            let ok_h = g_hard == Some(want_hard);
            let ok_re = g_reason == want_reason;
            let ok_s = got.is_some() && g_status == want_status;
            let ok_rp = got.is_some() && g_reply == want_reply;
            for (s, ok) in [
                (&mut rcpt, ok_r),
                (&mut hard, ok_h),
                (&mut reason, ok_re),
                (&mut status, ok_s),
                (&mut reply, ok_rp),
            ] {
                s.total += 1;
                if ok {
                    s.ok += 1;
                }
            }
            if !(ok_r && ok_h && ok_re && ok_s) {
                *by_source.entry(src.clone()).or_default() += 1;
                let mut what = Vec::new();
                if !ok_r {
                    what.push(format!("recipient {:?} != {:?}", g_addr, want_addr));
                }
                if !ok_re {
                    what.push(format!("reason {} != {}", g_reason, want_reason));
                }
                if !ok_s {
                    what.push(format!("status {:?} != {:?}", g_status, want_status));
                }
                if !ok_h {
                    what.push(format!("hard {:?} != {}", g_hard, want_hard));
                }
                let diag = got.and_then(|g| g.diagnostic.clone()).unwrap_or_default();
                let diag: String = diag.chars().take(160).collect();
                mismatches.push(format!(
                    "{} [{}] #{}: {} | {}",
                    f,
                    src,
                    j,
                    what.join("; "),
                    diag
                ));
            }
        }
    }

    // The two messages that are not bounces.
    let mut nb_ok = 0;
    let mut nb_total = 0;
    for e in std::fs::read_dir(dir.join("not-bounce"))
        .expect("not-bounce dir")
        .filter_map(|e| e.ok())
    {
        let raw = std::fs::read(e.path()).expect("read");
        let r = parse(&raw);
        nb_total += 1;
        if !r.bounce && r.recipients.is_empty() {
            nb_ok += 1;
        } else {
            mismatches.push(format!(
                "not-bounce/{} reported as bounce: {:?}",
                e.file_name().to_string_lossy(),
                r.recipients
            ));
        }
    }

    println!(
        "corpus: {} files, {} expected recipients, {} extra recipients reported, {} files not recognised",
        files.len(),
        rcpt.total,
        extras,
        not_bounced
    );
    println!(
        "recipient: {:6.2}% ({}/{})",
        rcpt.pct(),
        rcpt.ok,
        rcpt.total
    );
    println!(
        "hard:      {:6.2}% ({}/{})",
        hard.pct(),
        hard.ok,
        hard.total
    );
    println!(
        "reason:    {:6.2}% ({}/{})",
        reason.pct(),
        reason.ok,
        reason.total
    );
    println!(
        "status:    {:6.2}% ({}/{})",
        status.pct(),
        status.ok,
        status.total
    );
    println!(
        "reply:     {:6.2}% ({}/{}) (informational)",
        reply.pct(),
        reply.ok,
        reply.total
    );
    println!("not-bounce: {}/{}", nb_ok, nb_total);
    if verbose {
        println!("mismatching entries by source: {:?}", by_source);
        for m in &mismatches {
            println!("  {}", m);
        }
    } else if !mismatches.is_empty() {
        println!(
            "{} mismatching entries (set CORPUS_VERBOSE=1 to list them)",
            mismatches.len()
        );
    }

    assert_eq!(
        rcpt.total,
        expected.len(),
        "every entry of expected.json must be scored once"
    );
    assert_eq!(nb_total, 2, "expected two not-bounce samples");
    assert_eq!(
        nb_ok, nb_total,
        "not-bounce messages were reported as bounces"
    );
    assert!(
        rcpt.pct() >= 99.0,
        "recipient accuracy {:.2}% < 99%",
        rcpt.pct()
    );
    assert!(hard.pct() >= 98.0, "hard accuracy {:.2}% < 98%", hard.pct());
    assert!(
        reason.pct() >= 95.0,
        "reason accuracy {:.2}% < 95%",
        reason.pct()
    );
    assert!(
        status.pct() >= 95.0,
        "status accuracy {:.2}% < 95%",
        status.pct()
    );
}

/// The held-out set kept in the repository (tests/fixtures/bounces/heldout, README there):
/// real bounces from other projects' test corpora, with expectations set by reading each
/// message. Half of it ("tune") was used while writing the free-text fallback, the other half
/// ("test") only to measure; each half must stay at or above its floor.
fn heldout() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces/heldout");
    let verbose = std::env::var("CORPUS_VERBOSE").is_ok_and(|v| !v.is_empty() && v != "0");
    let expected: Vec<Value> = serde_json::from_slice(
        &std::fs::read(dir.join("expected.json")).expect("read heldout/expected.json"),
    )
    .expect("parse heldout/expected.json");
    assert!(
        expected.len() >= 100,
        "held-out set has {} messages",
        expected.len()
    );
    let mut scores: BTreeMap<String, (Score, Score)> = BTreeMap::new();
    let mut misses = Vec::new();
    for e in &expected {
        let file = e["file"].as_str().expect("file");
        let split = e["split"].as_str().expect("split").to_string();
        let want = e["expect"].as_str().expect("expect");
        let raw = std::fs::read(dir.join(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
        let report = parse(&raw);
        let got: Vec<String> = report
            .recipients
            .iter()
            .filter_map(|r| r.address.as_deref().map(str::to_ascii_lowercase))
            .collect();
        let groups: Vec<Vec<String>> = e["recipients"]
            .as_array()
            .expect("recipients")
            .iter()
            .map(|g| {
                g.as_array()
                    .expect("group")
                    .iter()
                    .map(|a| a.as_str().expect("address").to_ascii_lowercase())
                    .collect()
            })
            .collect();
        let rcpt_ok = match want {
            "failed" | "delayed" => {
                report.bounce
                    && !groups.is_empty()
                    && groups.iter().all(|g| got.iter().any(|a| g.contains(a)))
                    && got.iter().all(|a| groups.iter().any(|g| g.contains(a)))
            }
            // Not a delivery failure: nothing reported, or at most an auto-reply.
            "none" => !report.bounce || report.kind == kairan::bounce::parse::Kind::Vacation,
            // A bounce that names nobody: no address may be guessed.
            "unknown" => got.is_empty(),
            other => panic!("{file}: unknown expectation {other}"),
        };
        let action_ok = match want {
            "failed" | "delayed" => {
                report.recipients.iter().all(|r| {
                    r.action.map(|a| a.as_str())
                        == Some(if want == "delayed" {
                            "delayed"
                        } else {
                            "failed"
                        })
                }) && !report.recipients.is_empty()
            }
            _ => true,
        };
        let entry = scores
            .entry(split.clone())
            .or_insert_with(|| (Score { ok: 0, total: 0 }, Score { ok: 0, total: 0 }));
        entry.0.total += 1;
        entry.1.total += 1;
        if rcpt_ok {
            entry.0.ok += 1;
        }
        if rcpt_ok && action_ok {
            entry.1.ok += 1;
        }
        // The "test" half is measured, not studied: its misses are listed only on request.
        let show = split != "test" || std::env::var_os("HELDOUT_SHOW_TEST").is_some();
        if (!rcpt_ok || !action_ok) && show {
            misses.push(format!(
                "  [{split}] {file}: want {want} {groups:?}, got bounce={} {:?}",
                report.bounce,
                report
                    .recipients
                    .iter()
                    .map(|r| (r.address.clone(), r.action, r.reason.as_str()))
                    .collect::<Vec<_>>()
            ));
        }
    }
    for (split, (rcpt, action)) in &scores {
        println!(
            "held-out {split}: recipient {:6.2}% ({}/{}), recipient and action {:6.2}% ({}/{})",
            rcpt.pct(),
            rcpt.ok,
            rcpt.total,
            action.pct(),
            action.ok,
            action.total
        );
    }
    if verbose {
        for m in &misses {
            println!("{m}");
        }
    }
    for (split, floor) in HELDOUT_FLOORS {
        let (rcpt, action) = scores
            .get(*split)
            .unwrap_or_else(|| panic!("no {split} half in the held-out set"));
        assert!(
            rcpt.pct() >= *floor,
            "held-out {split} recipient accuracy {:.2}% < {floor}%",
            rcpt.pct()
        );
        assert!(
            action.pct() >= *floor,
            "held-out {split} recipient-and-action accuracy {:.2}% < {floor}%",
            action.pct()
        );
    }
}

/// Recipient-accuracy floors of the held-out halves: what the parser reached, less a small
/// margin (one or two messages), so that a regression fails.
/// Reached: tune 51/51, test 50/50 (see the README there for how).
const HELDOUT_FLOORS: &[(&str, f64)] = &[("tune", 96.0), ("test", 96.0)];

/// Messages that only look like bounces (tests/fixtures/bounces/adversarial): a reply that
/// quotes a bounce, a newsletter about bounces, a parcel notice, an auto-reply. Each `.eml`
/// has a `.json` next to it saying `not_bounce` (nothing reported) or `vacation`.
fn adversarial() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces/adversarial");
    let mut checked = 0;
    let mut wrong = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("adversarial dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    names.sort();
    for eml in names {
        let want: Value = serde_json::from_slice(
            &std::fs::read(eml.with_extension("json")).expect("expected json next to the eml"),
        )
        .expect("parse expected json");
        let r = parse(&std::fs::read(&eml).expect("read eml"));
        let ok = match want["expect"].as_str().expect("expect") {
            "not_bounce" => !r.bounce && r.recipients.is_empty(),
            "vacation" => r.kind == kairan::bounce::parse::Kind::Vacation,
            other => panic!("{}: unknown expectation {other}", eml.display()),
        };
        checked += 1;
        if !ok {
            wrong.push(format!("{}: {:?}", eml.display(), r.recipients));
        }
    }
    println!("adversarial: {}/{checked}", checked - wrong.len());
    assert!(checked >= 4, "adversarial fixtures missing");
    assert!(wrong.is_empty(), "read as bounces:\n{}", wrong.join("\n"));
}
