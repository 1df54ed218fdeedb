//! kairan behind a real Postfix on loopback, set up by the README's "By pipe from Postfix"
//! recipe (helpers/postfix.rs reads it from README.md), with the real `kairan` binary run as
//! the pipe user, on SQLite and PostgreSQL: a campaign goes out through Postfix, Postfix
//! bounces the reader it does not know with a DSN of its own, the DSN reaches
//! `kairan bounce ingest` through the pipe and the reader becomes `bounced`; a remote MTA's
//! DSN sent by SMTP to a VERP address passes Postfix's recipient check (the recipe's alias)
//! and is attributed by the envelope recipient alone; a DSN kairan cannot store yet waits in
//! Postfix's queue (exit 75) and lands after the fix.
//!
//! Issue 12's findings on this path: a forged DSN changes nothing; a mail to the
//! List-Unsubscribe `mailto:` of the issue a reader received unsubscribes them; the SQLite
//! database named relative to the configuration file is found from Postfix's queue directory.
//!
//! Waits are on Postfix's log (each delivery attempt is one line), never fixed sleeps.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use crate::helpers::postfix::{
    LogMark, PIPE_SERVICE, Postfix, READERS_DOMAIN, RETURN_DOMAIN, RETURN_PATH, Recipe,
    as_pipe_user, give_to_pipe_user,
};
use crate::helpers::{LEGAL, create_pg_database, drop_pg_database, fixture_dir, kairan_cmd};

/// The readers Postfix delivers; `ghost` is unknown to it.
const KNOWN: [&str; 3] = ["alice", "bob", "carol"];
const UNKNOWN: &str = "ghost";

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

fn addr(reader: &str) -> String {
    format!("{reader}@{READERS_DOMAIN}")
}

/// A kairan installation behind a private Postfix, readers imported.
struct Site {
    pf: Postfix,
    dir: tempfile::TempDir,
    config: PathBuf,
    pg: Option<String>,
}

impl Site {
    async fn open(backend: Backend) -> Site {
        let dir = tempfile::tempdir().unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let config = dir.path().join("kairan.toml");
        let pf = Postfix::start(&Recipe {
            kairan_config: &config,
            known_readers: &KNOWN,
        })
        .await;
        // The database's directory belongs to the pipe user (README: `install -d -o kairan`).
        let db_dir = dir.path().join("db");
        std::fs::create_dir(&db_dir).unwrap();
        give_to_pipe_user(&db_dir);
        let (url, pg) = match backend {
            // Relative to the configuration file: Postfix runs the pipe in its queue directory,
            // where a URL resolved against the working directory finds nothing (issue 12,
            // finding 4).
            Backend::Sqlite => ("sqlite://db/kairan.db".to_owned(), None),
            Backend::Postgres => {
                let url = create_pg_database().await;
                let name = url.rsplit('/').next().unwrap().to_owned();
                (url, Some(name))
            }
        };
        std::fs::write(&config, kairan_toml(&url, &pf.smtp_url())).unwrap();
        let site = Site {
            pf,
            dir,
            config,
            pg,
        };
        site.kairan(&["migrate"]);
        let mut csv = String::from("email,name,lang\n");
        for (reader, lang) in KNOWN
            .iter()
            .chain([&UNKNOWN])
            .zip(["ja", "en", "both", "en"])
        {
            csv.push_str(&format!("{},{reader},{lang}\n", addr(reader)));
        }
        let readers = site.dir.path().join("readers.csv");
        std::fs::write(&readers, csv).unwrap();
        site.kairan(&[
            "subscribers",
            "import",
            readers.to_str().unwrap(),
            "--confirmed",
        ]);
        site
    }

    /// `kairan --config … ARGS` as the pipe user; must succeed.
    fn kairan(&self, args: &[&str]) -> Output {
        let mut cmd: Command = kairan_cmd(self.dir.path());
        as_pipe_user(&mut cmd)
            .arg("--config")
            .arg(&self.config)
            .args(args);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "kairan {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Queues the fixture issue and sends it through Postfix with `kairan send`; returns
    /// once Postfix has delivered the known readers and, for the unknown one, passed its own
    /// DSN through the pipe to kairan.
    async fn send_campaign(&self) -> LogMark {
        let f = fixture_dir();
        let out = self.kairan(&[
            "issue",
            "queue",
            "--slug",
            "2026-12",
            "--ja",
            f.join("ja.md").to_str().unwrap(),
            "--en",
            f.join("en.md").to_str().unwrap(),
        ]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let id = stdout.lines().last().unwrap().trim().to_owned();
        let mark = self.pf.log_mark();
        self.kairan(&["send", &id]);
        for reader in KNOWN {
            let a = self
                .pf
                .wait_for_attempt(mark, &format!("the delivery to {reader}"), |a| {
                    a.to == addr(reader)
                })
                .await;
            assert_eq!(
                (a.relay.as_str(), a.status.as_str()),
                ("local", "sent"),
                "{}",
                a.line
            );
        }
        let a = self
            .pf
            .wait_for_attempt(mark, "the delivery to the unknown reader", |a| {
                a.to == addr(UNKNOWN)
            })
            .await;
        assert_eq!(
            (a.relay.as_str(), a.status.as_str()),
            ("local", "bounced"),
            "{}",
            a.line
        );
        let dsn = self
            .pf
            .wait_for_pipe(mark, None, "Postfix's own DSN for the unknown reader")
            .await;
        assert!(
            dsn.to.starts_with("bounces+") && dsn.to.ends_with(&format!("@{RETURN_DOMAIN}")),
            "the DSN went to the VERP address: {}",
            dsn.line
        );
        mark
    }

    /// Every reader's status, from `kairan subscribers list --json`.
    fn statuses(&self) -> HashMap<String, String> {
        let out = self.kairan(&["subscribers", "list", "--json"]);
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        list.iter()
            .map(|s| {
                (
                    s["email"].as_str().unwrap().to_owned(),
                    s["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Asserts each reader's status; the readers not named are `active`.
    fn assert_statuses(&self, changed: &[(&str, &str)]) {
        let got = self.statuses();
        for reader in KNOWN.iter().chain([&UNKNOWN]) {
            let want = changed
                .iter()
                .find(|(r, _)| r == reader)
                .map_or("active", |(_, s)| s);
            assert_eq!(
                got.get(&addr(reader)).map(String::as_str),
                Some(want),
                "{reader}'s status (all: {got:?})"
            );
        }
    }

    /// The latest stored bounce reports, newest first, from `kairan status --json`.
    fn recent_bounces(&self) -> Vec<serde_json::Value> {
        let out = self.kairan(&["status", "--json"]);
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        status["bounces"]["recent"].as_array().unwrap().clone()
    }

    async fn close(self) {
        let Site { pf, dir, pg, .. } = self;
        drop(pf);
        drop(dir);
        if let Some(name) = pg {
            drop_pg_database(&name).await;
        }
    }
}

/// The whole configuration in the file: Postfix gives the pipe a clean environment.
fn kairan_toml(db_url: &str, smtp_url: &str) -> String {
    let q = |v: &str| serde_json::to_string(v).unwrap();
    let mut sections: Vec<(String, Vec<String>)> = vec![
        ("database".into(), vec![format!("url = {}", q(db_url))]),
        ("smtp".into(), vec![format!("url = {}", q(smtp_url))]),
        (
            "bounce".into(),
            vec![format!("return_path = {}", q(RETURN_PATH))],
        ),
    ];
    // LEGAL's `KAIRAN__NEWSLETTER__JA__SENDER` is `sender` in `[newsletter.ja]`.
    for (env, value) in LEGAL {
        let mut path: Vec<String> = env
            .strip_prefix("KAIRAN__")
            .unwrap()
            .split("__")
            .map(str::to_lowercase)
            .collect();
        let key = path.pop().unwrap();
        let table = path.join(".");
        let line = format!("{key} = {}", q(value));
        match sections.iter_mut().find(|(t, _)| *t == table) {
            Some((_, lines)) => lines.push(line),
            None => sections.push((table, vec![line])),
        }
    }
    sections
        .iter()
        .map(|(t, lines)| format!("[{t}]\n{}\n", lines.join("\n")))
        .collect()
}

/// The envelope sender Postfix recorded in a reader's mailbox: their VERP address.
fn verp_address(mailbox: &str) -> String {
    let line = mailbox
        .lines()
        .find_map(|l| l.strip_prefix("Return-Path: <"))
        .expect("local(8) writes Return-Path");
    line.trim_end_matches('>').to_owned()
}

/// A DSN as a remote MTA writes one (RFC 3464), for `final_recipient`.
fn remote_dsn(to: &str, final_recipient: &str) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.elsewhere.example>\r\n\
         To: {to}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Date: Tue, 1 Dec 2026 09:00:00 +0000\r\n\
         Message-ID: <dsn.{final_recipient}@mx.elsewhere.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\
         \r\n\
         --b\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         Your message could not be delivered.\r\n\
         --b\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; mx.elsewhere.example\r\n\
         \r\n\
         Final-Recipient: rfc822; {final_recipient}\r\n\
         Action: failed\r\n\
         Status: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <{final_recipient}>: Recipient address rejected: User unknown\r\n\
         --b--\r\n"
    )
    .into_bytes()
}

async fn the_readme_recipe_carries_a_campaign_and_its_bounces(backend: Backend) {
    let site = Site::open(backend).await;

    // kairan sends through Postfix; Postfix bounces the unknown reader with its own DSN,
    // which reaches kairan through the pipe.
    site.send_campaign().await;
    site.assert_statuses(&[(UNKNOWN, "bounced")]);
    let recent = site.recent_bounces();
    assert_eq!(recent.len(), 1, "{recent:?}");
    assert_eq!(recent[0]["source"], "pipe", "{recent:?}");
    assert_eq!(recent[0]["action"], "bounced", "{recent:?}");
    assert_eq!(recent[0]["status_code"], "5.1.1", "{recent:?}");

    // A remote MTA's DSN by SMTP to carol's VERP address: Postfix accepts it at RCPT (the
    // recipe's alias), and only the envelope recipient (`${original_recipient}`) names carol:
    // the DSN is about a forwarding address of hers and carries neither her address nor a
    // token in its headers.
    let verp = verp_address(&site.pf.mailbox("carol"));
    let mark = site.pf.log_mark();
    site.pf
        .submit(
            None,
            &verp,
            &remote_dsn(RETURN_PATH, "carol.forwarded@elsewhere.example"),
        )
        .await
        .expect("Postfix accepts the VERP address at RCPT");
    site.pf
        .wait_for_pipe(mark, Some(&verp), "the remote DSN for carol")
        .await;
    site.assert_statuses(&[(UNKNOWN, "bounced"), ("carol", "bounced")]);

    site.close().await;
}

#[tokio::test]
async fn the_readme_recipe_carries_a_campaign_and_its_bounces_on_sqlite() {
    the_readme_recipe_carries_a_campaign_and_its_bounces(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_readme_recipe_carries_a_campaign_and_its_bounces_on_postgres() {
    the_readme_recipe_carries_a_campaign_and_its_bounces(Backend::Postgres).await;
}

/// A DSN arriving while kairan cannot read its configuration: the pipe exits 75, Postfix
/// keeps the DSN (deferred, nothing lost), and `postqueue -f` after the fix delivers it.
async fn a_dsn_kairan_cannot_take_yet_waits_in_postfix_queue(backend: Backend) {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::open(backend).await;
    site.send_campaign().await;
    let verp = verp_address(&site.pf.mailbox("bob"));

    std::fs::set_permissions(&site.config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mark = site.pf.log_mark();
    site.pf
        .submit(None, &verp, &remote_dsn(&verp, &addr("bob")))
        .await
        .unwrap();
    let a = site
        .pf
        .wait_for_attempt(mark, "the pipe's attempt on bob's DSN", |a| {
            a.relay == PIPE_SERVICE && a.to == verp
        })
        .await;
    assert_eq!(a.status, "deferred", "{}", a.line);
    assert!(a.line.contains("dsn=4.3.0"), "EX_TEMPFAIL: {}", a.line);
    std::fs::set_permissions(&site.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    site.assert_statuses(&[(UNKNOWN, "bounced")]);

    let mark = site.pf.log_mark();
    site.pf.flush();
    site.pf
        .wait_for_pipe(mark, Some(&verp), "bob's DSN, retried after the fix")
        .await;
    site.assert_statuses(&[(UNKNOWN, "bounced"), ("bob", "bounced")]);

    site.close().await;
}

#[tokio::test]
async fn a_dsn_kairan_cannot_take_yet_waits_in_postfix_queue_on_sqlite() {
    a_dsn_kairan_cannot_take_yet_waits_in_postfix_queue(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_dsn_kairan_cannot_take_yet_waits_in_postfix_queue_on_postgres() {
    a_dsn_kairan_cannot_take_yet_waits_in_postfix_queue(Backend::Postgres).await;
}

// Issue 12's findings on this path.

/// A DSN naming alice, mailed through Postfix to a VERP address whose token is
/// garbage: the forged token must stop the report, not fall back to the address.
async fn a_forged_dsn_through_postfix_changes_nothing(backend: Backend) {
    let site = Site::open(backend).await;
    site.send_campaign().await;
    let real = verp_address(&site.pf.mailbox("carol"));
    let token_len = real
        .split_once('+')
        .and_then(|(_, rest)| rest.split_once('@'))
        .unwrap()
        .0
        .len();
    let forged = format!("bounces+{}@{RETURN_DOMAIN}", "A".repeat(token_len));
    let mark = site.pf.log_mark();
    site.pf
        .submit(None, &forged, &remote_dsn(&forged, &addr("alice")))
        .await
        .unwrap();
    site.pf
        .wait_for_pipe(mark, Some(&forged), "the forged DSN")
        .await;
    site.assert_statuses(&[(UNKNOWN, "bounced")]);
    let recent = site.recent_bounces();
    assert_eq!(
        (recent[0]["action"].as_str(), &recent[0]["subscriber_id"]),
        (Some("forged"), &serde_json::Value::Null),
        "{recent:?}"
    );
    site.close().await;
}

#[tokio::test]
async fn a_forged_dsn_through_postfix_changes_nothing_on_sqlite() {
    a_forged_dsn_through_postfix_changes_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_forged_dsn_through_postfix_changes_nothing_on_postgres() {
    a_forged_dsn_through_postfix_changes_nothing(Backend::Postgres).await;
}

/// Bob's mail client follows the `mailto:` of List-Unsubscribe in the issue he got:
/// a mail from him to that address, through Postfix and the pipe, unsubscribes him.
async fn a_mail_to_the_list_unsubscribe_mailto_unsubscribes(backend: Backend) {
    let site = Site::open(backend).await;
    site.send_campaign().await;
    let mailto = list_unsubscribe_mailto(&site.pf.mailbox("bob"));
    let (to, query) = mailto.split_once('?').unwrap_or((&mailto, ""));
    assert_eq!(query, "subject=unsubscribe");
    assert!(
        to.starts_with("bounces+"),
        "the mailto carries bob's token: {mailto}"
    );
    let mark = site.pf.log_mark();
    let message = format!(
        "From: {bob}\r\nTo: {to}\r\nSubject: unsubscribe\r\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <u1@{READERS_DOMAIN}>\r\n\
         \r\nPlease unsubscribe me.\r\n",
        bob = addr("bob")
    );
    site.pf
        .submit(Some(&addr("bob")), to, message.as_bytes())
        .await
        .unwrap();
    site.pf
        .wait_for_pipe(mark, Some(to), "bob's unsubscribe mail")
        .await;
    site.assert_statuses(&[(UNKNOWN, "bounced"), ("bob", "unsubscribed")]);
    let recent = site.recent_bounces();
    assert_eq!(recent[0]["action"], "unsubscribed", "{recent:?}");
    assert_eq!(recent[0]["attribution"], "mailto", "{recent:?}");
    site.close().await;
}

/// The `mailto:` address of a message's List-Unsubscribe header (unfolded).
fn list_unsubscribe_mailto(mailbox: &str) -> String {
    let mut header = String::new();
    let mut inside = false;
    for line in mailbox.lines() {
        if inside && line.starts_with([' ', '\t']) {
            header.push_str(line.trim());
        } else if inside || line.is_empty() {
            break;
        } else if let Some(v) = line.strip_prefix("List-Unsubscribe:") {
            header.push_str(v.trim());
            inside = true;
        }
    }
    let at = header
        .find("<mailto:")
        .expect("a mailto in List-Unsubscribe")
        + 8;
    header[at..at + header[at..].find('>').unwrap()].to_owned()
}

#[tokio::test]
async fn a_mail_to_the_list_unsubscribe_mailto_unsubscribes_on_sqlite() {
    a_mail_to_the_list_unsubscribe_mailto_unsubscribes(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_mail_to_the_list_unsubscribe_mailto_unsubscribes_on_postgres() {
    a_mail_to_the_list_unsubscribe_mailto_unsubscribes(Backend::Postgres).await;
}
