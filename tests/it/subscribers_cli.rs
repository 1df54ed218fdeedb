//! `kairan subscribers …` as an operator runs it (the real binary), on SQLite and PostgreSQL.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::{create_pg_database, drop_pg_database};
use crate::subscribe::mails_in;

fn kairan(dir: &Path, db_url: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kairan"));
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("KAIRAN") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("KAIRAN__DATABASE__URL", db_url)
        .env("KAIRAN__OUTBOX__DIR", dir.join("outbox"))
        .env("KAIRAN__NEWSLETTER__FROM", "回覧板 <news@example.org>")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn list_json(dir: &Path, db: &str) -> Vec<serde_json::Value> {
    let o = kairan(dir, db, &["subscribers", "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout).unwrap()
}

async fn operator_commands(dir: &Path, db: &str) {
    let o = kairan(dir, db, &["migrate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // add: pending with a confirmation mail, or active with --confirmed.
    let o = kairan(
        dir,
        db,
        &[
            "subscribers",
            "add",
            "Taro@Example.JP",
            "--lang",
            "ja",
            "--name",
            "山田 太郎",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("pending"), "{}", stdout(&o));
    assert_eq!(mails_in(&dir.join("outbox")).len(), 1);
    let o = kairan(
        dir,
        db,
        &[
            "subscribers",
            "add",
            "hana@example.jp",
            "--lang",
            "both",
            "--confirmed",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        mails_in(&dir.join("outbox")).len(),
        1,
        "no mail for --confirmed"
    );

    for (args, expect) in [
        (
            vec!["subscribers", "add", "nope", "--lang", "ja"],
            "not usable",
        ),
        (
            vec!["subscribers", "add", "x@example.jp", "--lang", "fr"],
            "fr",
        ),
        (
            vec![
                "subscribers",
                "add",
                "x@example.jp",
                "--lang",
                "ja",
                "--name",
                "a\nb",
            ],
            "--name",
        ),
        (
            vec!["subscribers", "add", "hana@example.jp", "--lang", "ja"],
            "already on the list",
        ),
        (
            vec!["subscribers", "unsubscribe", "who@example.jp"],
            "no subscriber",
        ),
    ] {
        let o = kairan(dir, db, &args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(expect), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }

    let all = list_json(dir, db);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["email"], "Taro@example.jp");
    assert_eq!(all[0]["name"], "山田 太郎");
    assert_eq!(all[0]["lang"], "ja");
    assert_eq!(all[0]["status"], "pending");
    assert_eq!(all[1]["status"], "active");
    let o = kairan(
        dir,
        db,
        &["subscribers", "list", "--status", "active", "--json"],
    );
    let active: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(active.len(), 1);
    let o = kairan(dir, db, &["subscribers", "list", "--lang", "both"]);
    assert!(stdout(&o).contains("hana@example.jp"), "{}", stdout(&o));

    // import: UTF-8 with a BOM, every bad row reported by line, good rows loaded.
    let csv = dir.join("list.csv");
    std::fs::write(
        &csv,
        "\u{feff}email,name,lang\n\
         ken@example.jp,佐藤 健,en\n\
         broken@,x,ja\n\
         mai@example.jp,\"Mai, Sato\",both\n\
         hana@example.jp,,ja\n\
         yui@example.jp,Yui,de\n",
    )
    .unwrap();
    let o = kairan(
        dir,
        db,
        &[
            "subscribers",
            "import",
            csv.to_str().unwrap(),
            "--confirmed",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("line 3: email `broken@`"), "{err}");
    assert!(err.contains("line 6: lang `de`"), "{err}");
    assert!(stdout(&o).contains("2 added"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("1 already on the list"),
        "{}",
        stdout(&o)
    );
    assert_eq!(list_json(dir, db).len(), 4);

    // Re-importing changes nothing.
    let before = list_json(dir, db);
    let o = kairan(
        dir,
        db,
        &[
            "subscribers",
            "import",
            csv.to_str().unwrap(),
            "--confirmed",
        ],
    );
    assert!(stdout(&o).contains("0 added"), "{}", stdout(&o));
    assert_eq!(list_json(dir, db), before);

    // Excel's Shift_JIS is converted.
    let (sjis, _, _) =
        encoding_rs::SHIFT_JIS.encode("email,name,lang\r\nsjis@example.jp,鈴木 一郎,ja\r\n");
    let sjis_file = dir.join("excel.csv");
    std::fs::write(&sjis_file, &sjis).unwrap();
    let o = kairan(
        dir,
        db,
        &[
            "subscribers",
            "import",
            sjis_file.to_str().unwrap(),
            "--confirmed",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Shift_JIS"), "{}", stderr(&o));
    let all = list_json(dir, db);
    assert!(all.iter().any(|s| s["name"] == "鈴木 一郎"), "{all:?}");

    // Undecodable bytes are refused clearly, nothing loaded.
    let junk = dir.join("junk.csv");
    std::fs::write(&junk, b"email,name,lang\nz@example.jp,\x80\xff\xfe,ja\n").unwrap();
    let o = kairan(dir, db, &["subscribers", "import", junk.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("neither UTF-8 nor Shift_JIS"),
        "{}",
        stderr(&o)
    );
    let bad_header = dir.join("header.csv");
    std::fs::write(&bad_header, "mail,lang\nz@example.jp,ja\n").unwrap();
    let o = kairan(
        dir,
        db,
        &["subscribers", "import", bad_header.to_str().unwrap()],
    );
    assert!(
        stderr(&o).contains("unknown column `mail`"),
        "{}",
        stderr(&o)
    );
    assert_eq!(list_json(dir, db).len(), 5);

    // unsubscribe, then an import does not re-activate.
    let o = kairan(dir, db, &["subscribers", "unsubscribe", "ken@example.jp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    kairan(
        dir,
        db,
        &[
            "subscribers",
            "import",
            csv.to_str().unwrap(),
            "--confirmed",
        ],
    );
    let ken = list_json(dir, db)
        .into_iter()
        .find(|s| s["email"] == "ken@example.jp")
        .unwrap();
    assert_eq!(ken["status"], "unsubscribed");

    // export: status, language, dates and consent data; owner-only file.
    let out = dir.join("export.csv");
    let o = kairan(
        dir,
        db,
        &["subscribers", "export", "--out", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let header = text.lines().next().unwrap();
    for col in [
        "email",
        "status",
        "lang",
        "confirmed_at",
        "consent_method",
        "consent_form_at",
        "consent_text_hash",
    ] {
        assert!(header.split(',').any(|c| c == col), "{col} in {header}");
    }
    assert!(text.contains("ken@example.jp") && text.contains("unsubscribed"));
    assert!(text.contains(",import,"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // erase: personal data gone, never re-added by an import.
    let o = kairan(dir, db, &["subscribers", "erase", "mai@example.jp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = list_json(dir, db);
    assert!(!all.iter().any(|s| s["email"] == "mai@example.jp"));
    assert!(!stdout(&kairan(dir, db, &["subscribers", "export"])).contains("Mai, Sato"));
    let o = kairan(
        dir,
        db,
        &[
            "subscribers",
            "import",
            csv.to_str().unwrap(),
            "--confirmed",
        ],
    );
    assert!(stderr(&o).contains("erased on request"), "{}", stderr(&o));
    assert!(
        !list_json(dir, db)
            .iter()
            .any(|s| s["email"] == "mai@example.jp")
    );
    let o = kairan(
        dir,
        db,
        &["subscribers", "add", "mai@example.jp", "--lang", "ja"],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("erased"), "{}", stderr(&o));
}

#[tokio::test]
async fn operators_manage_subscribers_from_the_command_line_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("kairan.db").display());
    operator_commands(dir.path(), &db).await;
    // No secrets.signing_key: one was generated next to the database, owner-only.
    let key = dir.path().join("kairan.db.key");
    assert!(key.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn operators_manage_subscribers_from_the_command_line_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let db = create_pg_database().await;
    operator_commands(dir.path(), &db).await;
    drop_pg_database(db.rsplit('/').next().unwrap()).await;
}
