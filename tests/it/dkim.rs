//! DKIM signatures checked by an independent verifier: Python's dkimpy (the reference
//! implementation behind many MTAs' milters), with the DNS record answered from the key.
//! Keys other than the fixtures are made here by the `openssl` command line tool, the way
//! the README tells operators to make theirs.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kairan::config::DkimSettings;
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

/// `openssl ARGS` run in `dir`: its standard output, or the test fails with its errors.
fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn rsa_keys_in_pkcs1_and_pkcs8_form_sign_what_dkimpy_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "pkcs8.pem",
        ],
    );
    openssl(
        d,
        &[
            "rsa",
            "-in",
            "pkcs8.pem",
            "-traditional",
            "-out",
            "pkcs1.pem",
        ],
    );
    // The record as the README has operators derive it, which kairan's must equal.
    let der = openssl(
        d,
        &["pkey", "-in", "pkcs8.pem", "-pubout", "-outform", "DER"],
    );
    let published = format!("v=DKIM1; k=rsa; p={}", STANDARD.encode(der));
    let message = campaign_message();
    for (file, label) in [
        ("pkcs1.pem", "-----BEGIN RSA PRIVATE KEY-----"),
        ("pkcs8.pem", "-----BEGIN PRIVATE KEY-----"),
    ] {
        let path = d.join(file);
        let pem = std::fs::read_to_string(&path).unwrap();
        assert!(
            pem.starts_with(label),
            "{file} is not in the form under test"
        );
        let s = DkimSigner::from_pem("example.org", "kairan", &pem, &path).unwrap();
        assert_eq!(s.algorithm(), "rsa-sha256");
        assert_eq!(s.dns_record(), published, "{file}");
        let signed = s.sign(&message, chrono::Utc::now().timestamp());
        assert_eq!(verify(&signed, &published), "pass", "{file}");
        let mut tampered = signed.clone();
        let at = tampered.len() - 40;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        assert_eq!(verify(&tampered, &published), "fail", "{file}");
    }
}

#[test]
fn the_ed25519_record_is_the_one_openssl_derives() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dkim/ed25519.pem");
    let der = openssl(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            "pkey",
            "-in",
            path.to_str().unwrap(),
            "-pubout",
            "-outform",
            "DER",
        ],
    );
    // The README's `tail -c 32`: the raw key ends the SubjectPublicKeyInfo (RFC 8463).
    let raw = &der[der.len() - 32..];
    assert_eq!(
        signer("ed25519.pem").dns_record(),
        format!("v=DKIM1; k=ed25519; p={}", STANDARD.encode(raw))
    );
}

#[test]
fn unusable_key_files_are_refused_with_the_file_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rsa = |bits: &str, out: &str, extra: &[&str]| {
        let bits = format!("rsa_keygen_bits:{bits}");
        let mut args = vec![
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &bits,
            "-out",
            out,
        ];
        args.extend_from_slice(extra);
        openssl(d, &args);
    };
    rsa("1024", "rsa-1024.pem", &[]);
    rsa(
        "2048",
        "encrypted.pem",
        &["-aes256", "-pass", "pass:secret"],
    );
    openssl(
        d,
        &[
            "rsa",
            "-in",
            "encrypted.pem",
            "-passin",
            "pass:secret",
            "-traditional",
            "-aes256",
            "-passout",
            "pass:secret",
            "-out",
            "encrypted-pkcs1.pem",
        ],
    );
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "p256.pem",
        ],
    );
    openssl(d, &["ec", "-in", "p256.pem", "-out", "p256-sec1.pem"]);
    openssl(
        d,
        &[
            "pkey",
            "-in",
            "rsa-1024.pem",
            "-pubout",
            "-out",
            "public.pem",
        ],
    );
    std::fs::write(d.join("notes.pem"), "the key is on the other server\n").unwrap();
    let key = std::fs::read_to_string(d.join("rsa-1024.pem")).unwrap();
    std::fs::write(d.join("cut.pem"), &key[..key.len() / 2]).unwrap();

    for (file, reason) in [
        ("rsa-1024.pem", "an RSA key under 2048 bits"),
        ("encrypted.pem", "the key is encrypted"),
        ("encrypted-pkcs1.pem", "the key is encrypted"),
        ("p256.pem", "neither an RSA nor an Ed25519 key"),
        ("p256-sec1.pem", "an EC key"),
        ("public.pem", "no private key"),
        ("notes.pem", "no private key"),
        (
            "cut.pem",
            "not readable as PEM: a BEGIN line without its END line",
        ),
    ] {
        let path = d.join(file);
        let settings = DkimSettings {
            domain: "example.org".into(),
            selector: "kairan".into(),
            private_key: path.clone(),
        };
        let err = DkimSigner::load(&settings).expect_err(file).to_string();
        assert!(
            err.starts_with(&format!("dkim.private_key: {}: ", path.display())),
            "{file}: {err}"
        );
        assert!(err.contains(reason), "{file}: {err}");
    }
}
