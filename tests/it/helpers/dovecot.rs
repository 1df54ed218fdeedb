//! A real Dovecot IMAP server (Debian `dovecot-imapd`) for one test: its own config, passwd
//! file and Maildir in a temporary directory, on a free loopback port, plain login allowed
//! (loopback only). Messages are "delivered" by writing them into the Maildir's `new/`.
//! Stopped (SIGTERM to the master) on drop. Fails loudly when Dovecot is not installed
//! (scripts/test installs it).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub const USER: &str = "bounces";
pub const PASSWORD: &str = "imap-test-password";

pub struct Dovecot {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
    seq: std::sync::atomic::AtomicU32,
}

fn id(flag: &str) -> String {
    let out = Command::new("id").arg(flag).output().expect("run id");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

impl Dovecot {
    pub async fn start() -> Dovecot {
        use std::os::unix::fs::PermissionsExt;
        let bin = ["/usr/sbin/dovecot", "/usr/bin/dovecot"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect(
                "dovecot not found: install the Debian package `dovecot-imapd` (scripts/test does)",
            );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Dovecot's unprivileged login and mail processes must reach their files.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (internal, login, mail_user, mail_group) = if super::is_root() {
            (
                "dovecot".to_owned(),
                "dovenull".to_owned(),
                "nobody".to_owned(),
                "nogroup".to_owned(),
            )
        } else {
            let me = id("-un");
            (me.clone(), me.clone(), me, id("-gn"))
        };
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        let maildir = root.join("mail").join(USER);
        for sub in ["", "cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        std::fs::write(root.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let port = super::free_port();
        let r = root.display();
        let conf = format!(
            "base_dir = {r}/run\nstate_dir = {r}/state\nlog_path = {r}/dovecot.log\n\
             instance_name = kairan-test-{port}\nprotocols = imap\nlisten = 127.0.0.1\n\
             ssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             default_internal_user = {internal}\ndefault_login_user = {login}\n\
             mail_location = maildir:{r}/mail/%u\n\
             passdb {{\n  driver = passwd-file\n  args = {r}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid={mail_user} gid={mail_group} home={r}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n\
               inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    port = 0\n  }}\n}}\n"
        );
        std::fs::write(root.join("dovecot.conf"), conf).unwrap();
        chown_tree(&root.join("mail"), &mail_user, &mail_group);
        let child = Command::new(bin)
            .arg("-F")
            .arg("-c")
            .arg(root.join("dovecot.conf"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start dovecot");
        let d = Dovecot {
            port,
            dir,
            child,
            seq: Default::default(),
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return d;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "dovecot did not start listening on port {port}: {}",
            std::fs::read_to_string(d.dir.path().join("dovecot.log")).unwrap_or_default()
        );
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail").join(USER)
    }

    /// Puts one message into the inbox, as a local delivery agent would.
    pub fn deliver(&self, raw: &[u8]) {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("{}.kairan{}.test", 1_700_000_000 + n, std::process::id());
        let tmp = self.maildir().join("tmp").join(&name);
        std::fs::write(&tmp, raw).unwrap();
        if super::is_root() {
            let owner = std::fs::metadata(self.maildir()).unwrap();
            use std::os::unix::fs::MetadataExt;
            std::os::unix::fs::chown(&tmp, Some(owner.uid()), Some(owner.gid())).unwrap();
        }
        std::fs::rename(&tmp, self.maildir().join("new").join(&name)).unwrap();
    }

    /// Messages still in the mailbox (new or seen, not expunged).
    pub fn count(&self) -> usize {
        ["new", "cur"]
            .iter()
            .map(|d| {
                std::fs::read_dir(self.maildir().join(d))
                    .map(|r| r.count())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// The `bounce.imap` settings for this server.
    pub fn env(&self, interval: &str) -> Vec<(&'static str, String)> {
        vec![
            ("KAIRAN__BOUNCE__IMAP__HOST", "127.0.0.1".into()),
            ("KAIRAN__BOUNCE__IMAP__PORT", self.port.to_string()),
            ("KAIRAN__BOUNCE__IMAP__TLS", "false".into()),
            ("KAIRAN__BOUNCE__IMAP__USER", USER.into()),
            ("KAIRAN__BOUNCE__IMAP__PASSWORD", PASSWORD.into()),
            ("KAIRAN__BOUNCE__IMAP__FOLDER", "INBOX".into()),
            ("KAIRAN__BOUNCE__IMAP__INTERVAL", interval.into()),
        ]
    }
}

fn chown_tree(path: &std::path::Path, user: &str, group: &str) {
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{user}:{group}"))
        .arg(path)
        .status()
        .expect("run chown");
    assert!(status.success(), "chown {user}:{group} failed");
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
