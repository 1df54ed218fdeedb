//! DKIM signatures checked by an independent verifier: Python's dkimpy (the reference
//! implementation behind many MTAs' milters), with the DNS record answered from the key.

use std::path::Path;
use std::process::Command;

use kairan::mail::dkim::DkimSigner;

const VERIFY: &str = r#"
import sys, dkim
msg = open(sys.argv[1], 'rb').read()
record = open(sys.argv[2], 'rb').read()
def dns(name, timeout=5):
    assert name == b'kairan._domainkey.example.org.', name
    return record
print('pass' if dkim.verify(msg, dnsfunc=dns) else 'fail')
"#;

fn verify(message: &[u8], record: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.eml"), message).unwrap();
    std::fs::write(dir.path().join("rec"), record).unwrap();
    let out = Command::new("python3")
        .args(["-c", VERIFY])
        .arg(dir.path().join("m.eml"))
        .arg(dir.path().join("rec"))
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "dkimpy failed (pip install dkimpy pynacl; scripts/test does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn signer(key: &str) -> DkimSigner {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dkim")
        .join(key);
    let pem = std::fs::read_to_string(&path).unwrap();
    DkimSigner::from_pem("example.org", "kairan", &pem, &path).unwrap()
}

/// A real campaign message (the fixture issue, both languages).
fn campaign_message() -> Vec<u8> {
    let files = kairan::app::preview::preview(
        &kairan::startup::load_renderer(&settings()).unwrap(),
        &settings(),
        &crate::render::fixture_issue(),
    )
    .unwrap();
    files
        .into_iter()
        .find(|f| f.pref == kairan::domain::LangPref::Both)
        .unwrap()
        .eml
}

fn settings() -> kairan::config::Settings {
    crate::helpers::settings_with(
        "sqlite://unused.db",
        Path::new("/tmp"),
        crate::helpers::LEGAL,
    )
}

#[test]
fn rsa_and_ed25519_signatures_verify_and_tampering_is_detected() {
    let message = campaign_message();
    for (key, algo) in [("rsa.pem", "rsa-sha256"), ("ed25519.pem", "ed25519-sha256")] {
        let s = signer(key);
        assert_eq!(s.algorithm(), algo);
        let signed = s.sign(&message, chrono::Utc::now().timestamp());
        let head = String::from_utf8_lossy(&signed[..600]).into_owned();
        assert!(
            head.starts_with(&format!(
                "DKIM-Signature: v=1; a={algo}; c=relaxed/relaxed; d=example.org; s=kairan;"
            )),
            "{head}"
        );
        assert!(
            head.contains("list-unsubscribe:list-unsubscribe-post"),
            "RFC 8058 needs both signed: {head}"
        );
        assert_eq!(verify(&signed, &s.dns_record()), "pass", "{key}");

        let mut tampered = signed.clone();
        let at = tampered.len() - 40;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            verify(&tampered, &s.dns_record()),
            "fail",
            "{key}: a changed body must not verify"
        );
        let subject = String::from_utf8(signed.clone()).unwrap().replacen(
            "Subject: =?UTF-8?B?",
            "Subject: =?UTF-8?B?X",
            1,
        );
        assert_eq!(
            verify(subject.as_bytes(), &s.dns_record()),
            "fail",
            "{key}: a changed subject must not verify"
        );
    }
}

#[tokio::test]
async fn configured_dkim_signs_everything_kairan_sends() {
    let dir = tempfile::tempdir().unwrap();
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dkim/ed25519.pem");
    let mut env = crate::helpers::LEGAL.to_vec();
    let key = key.to_str().unwrap().to_owned();
    env.extend([
        ("KAIRAN__DKIM__DOMAIN", "example.org"),
        ("KAIRAN__DKIM__PRIVATE_KEY", key.as_str()),
    ]);
    let settings =
        crate::helpers::settings_with("sqlite://unused.db", &dir.path().join("outbox"), &env);
    let mailer = kairan::mail::from_settings(&settings).unwrap();
    let renderer = kairan::startup::load_renderer(&settings).unwrap();
    let to = kairan::domain::EmailAddress::parse("editor@example.org").unwrap();
    kairan::app::preview::send_test(
        &renderer,
        &settings,
        mailer.as_ref(),
        &crate::render::fixture_issue(),
        &to,
        kairan::domain::LangPref::Ja,
    )
    .await
    .unwrap();
    let file = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let raw = std::fs::read(file).unwrap();
    let record = signer("ed25519.pem").dns_record();
    assert_eq!(verify(&raw, &record), "pass");

    env.push(("KAIRAN__DKIM__PRIVATE_KEY", "/nonexistent/key.pem"));
    let bad = crate::helpers::settings_with("sqlite://unused.db", dir.path(), &env);
    let err = kairan::mail::from_settings(&bad)
        .err()
        .expect("a missing key is an error");
    assert!(err.to_string().contains("dkim.private_key"), "{err}");
}
