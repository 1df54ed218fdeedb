//! A private Postfix (Debian package `postfix`) for one test, set up as the README's "By pipe
//! from Postfix" recipe tells an operator to set up theirs: the recipe's `main.cf`, `master.cf`,
//! transport and aliases blocks are read from README.md and used as written, with only paths,
//! the port, the pipe user and the return-path domain substituted, so the README cannot drift
//! from what is tested.
//!
//! Everything lives in one temporary directory: the configuration directory (`master -c`), the
//! queue and data directories (made as the package's own `postfix-files` lists them, which is
//! what `postfix check` does, in a millisecond instead of most of a second), a log file
//! (`maillog_file`, read to wait for deliveries), readers' mailbox files. SMTP listens on
//! 127.0.0.1 on a free port; nothing reads or touches the machine's /etc/postfix instance or
//! port 25, and mail for any other domain fails at once (`default_transport = error`). The
//! master runs as this process's child in the foreground and is stopped on drop (SIGTERM,
//! which it passes on to the Postfix daemons it started), during a panic too. It needs root, as Postfix's master does (scripts/test runs as root in
//! CI). No set-gid Postfix command (`sendmail`, `postdrop`) is involved, so the private
//! configuration directory needs no `alternate_config_directories` entry in a main.cf that
//! may not exist.
//!
//! Test-only, beyond the recipe: a readers' domain in `mydestination` whose unknown users are
//! accepted at RCPT (a `@domain` wildcard in `local_recipient_maps`) and then bounced by
//! local(8), so the DSN is written by Postfix's own bounce daemon; known readers are aliases to
//! mailbox files. The return-path domain keeps Postfix's default recipient check, so the
//! recipe's alias is what lets a remote MTA's bounce in.
//!
//! `KAIRAN_POSTFIX_TIMES=1` prints each instance's start and stop times (with `--nocapture`).
//! Uses std, tempfile, tokio and lettre (to submit mail by SMTP); no kairan code.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The readers' domain (test-only: Postfix delivers or bounces its mail itself).
pub const READERS_DOMAIN: &str = "readers.kairan.test";
/// The return-path domain; stands for the README's `news.example.org`.
pub const RETURN_DOMAIN: &str = "news.kairan.test";
/// `bounce.return_path` for kairan.
pub const RETURN_PATH: &str = "bounces@news.kairan.test";
/// The pipe transport's name in the recipe.
pub const PIPE_SERVICE: &str = "kairan-bounce";
/// Stands for the README's `kairan` user: an unprivileged account every machine has, so the
/// test creates none.
pub const PIPE_USER: &str = "nobody";
/// Postfix's `default_privs`: local(8) writes an alias's mailbox file as this user when root
/// owns the aliases.
const DEFAULT_PRIVS: &str = "nobody";
/// How long a wait on Postfix may take before the test fails naming what it waited for.
const WAIT: Duration = Duration::from_secs(30);

/// Operator paths and names in the README's blocks, and what the test uses instead.
fn substitutions(dir: &Path, recipe: &Recipe) -> Vec<(&'static str, String)> {
    let conf = dir.join("conf");
    vec![
        (
            "/usr/local/bin/kairan",
            env!("CARGO_BIN_EXE_kairan").to_owned(),
        ),
        (
            "/etc/kairan/kairan.toml",
            recipe.kairan_config.display().to_string(),
        ),
        (" user=kairan ", format!(" user={PIPE_USER} ")),
        ("news.example.org", RETURN_DOMAIN.to_owned()),
        ("/etc/postfix/", format!("{}/", conf.display())),
        ("/etc/aliases", conf.join("aliases").display().to_string()),
    ]
}

/// What the test decides; everything else comes from the README.
pub struct Recipe<'a> {
    /// The kairan configuration file the pipe passes with `--config`.
    pub kairan_config: &'a Path,
    /// Local parts at [`READERS_DOMAIN`] that Postfix delivers, each to a mailbox file; any
    /// other is bounced by Postfix after it accepted the message.
    pub known_readers: &'a [&'a str],
}

pub struct Postfix {
    pub port: u16,
    /// From the temporary directory's creation to the SMTP port accepting connections.
    pub started_in: Duration,
    dir: tempfile::TempDir,
    master: Child,
}

/// One delivery attempt, as Postfix logs it (`to=<…>, relay=…, …, status=…`).
#[derive(Debug, Clone)]
pub struct Attempt {
    pub to: String,
    pub relay: String,
    pub status: String,
    /// The whole log line: for the pipe, it ends with what the command wrote to stderr.
    pub line: String,
}

/// A place in Postfix's log; waits look only after it.
#[derive(Debug, Clone, Copy)]
pub struct LogMark(usize);

impl Postfix {
    pub async fn start(recipe: &Recipe<'_>) -> Postfix {
        assert!(
            super::is_root(),
            "the Postfix tests need root: Postfix's master runs as root (scripts/test runs as \
             root in CI)"
        );
        let t0 = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Postfix's unprivileged daemons, local(8) writing mailboxes and the pipe user all
        // walk through this directory.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let conf = root.join("conf");
        std::fs::create_dir(&conf).unwrap();
        let mail = root.join("mail");
        std::fs::create_dir(&mail).unwrap();
        std::os::unix::fs::chown(&mail, Some(uid_of(DEFAULT_PRIVS)), None).unwrap();
        let port = super::free_port();

        let subs = substitutions(root, recipe);
        let block = |name: &str| operator_to_test(&readme_block(name), &subs);
        let readme_main = block("main.cf");
        assert!(
            !readme_main.contains("local_recipient_maps"),
            "the helper sets local_recipient_maps for the readers' domain; the README's \
             main.cf block must not (or this helper must learn to merge it)"
        );
        let mydestination = readme_main
            .lines()
            .find_map(|l| l.strip_prefix("mydestination ="))
            .expect("the README's main.cf block sets mydestination (the return-path domain)")
            .trim()
            .to_owned();
        let r = root.display();
        let c = conf.display();
        let main_cf = format!(
            "# Test-only: a private instance in {r}, on loopback, delivering nothing elsewhere.\n\
             compatibility_level = 3.6\n\
             queue_directory = {r}/spool\n\
             data_directory = {r}/data\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             myhostname = mx.kairan.test\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             mynetworks = 127.0.0.0/8\n\
             default_transport = error:5.7.1 this test's Postfix delivers on this machine only\n\
             alias_maps = hash:{c}/aliases\n\
             alias_database = hash:{c}/aliases\n\
             maillog_file = {r}/maillog\n\
             maillog_file_prefixes = {r}\n\
             # The README's recipe.\n\
             {readme_main}\n\
             # Test-only: the readers' domain. Any user there is accepted and local(8) bounces\n\
             # the unknown ones; the return-path domain keeps the default recipient check.\n\
             mydestination = {mydestination}, {READERS_DOMAIN}\n\
             local_recipient_maps = proxy:unix:passwd.byname $alias_maps texthash:{c}/readers\n"
        );
        write_cool(&conf.join("main.cf"), &main_cf);
        // The package's master.cf runs most daemons chrooted into the queue directory, which
        // would need a copy of /etc there; this one runs none chrooted.
        let master_cf = format!(
            "127.0.0.1:{port} inet n - n - - smtpd\n\
             pickup unix n - n 60 1 pickup\n\
             cleanup unix n - n - 0 cleanup\n\
             qmgr unix n - n 300 1 qmgr\n\
             rewrite unix - - n - - trivial-rewrite\n\
             bounce unix - - n - 0 bounce\n\
             defer unix - - n - 0 bounce\n\
             trace unix - - n - 0 bounce\n\
             verify unix - - n - 1 verify\n\
             flush unix n - n 1000? 0 flush\n\
             proxymap unix - - n - - proxymap\n\
             showq unix n - n - - showq\n\
             error unix - - n - - error\n\
             retry unix - - n - - error\n\
             discard unix - - n - - discard\n\
             local unix - n n - - local\n\
             anvil unix - - n - 1 anvil\n\
             scache unix - - n - 1 scache\n\
             postlog unix-dgram n - n - 1 postlogd\n\
             # The README's recipe.\n\
             {}\n",
            block("master.cf")
        );
        write_cool(&conf.join("master.cf"), &master_cf);
        write_cool(&conf.join("transport"), &block("transport"));
        let mut aliases = block("aliases");
        aliases.push_str("# Test-only: the readers Postfix knows.\n");
        for reader in recipe.known_readers {
            aliases.push_str(&format!("{reader}: {}\n", mail.join(reader).display()));
        }
        write_cool(&conf.join("aliases"), &aliases);
        write_cool(&conf.join("readers"), &format!("@{READERS_DOMAIN} any\n"));

        // The package's compiled-in directories (main.cf leaves them alone). Any Postfix tool
        // that reads this main.cf before the queue directory exists spends ~1.5 s failing to
        // reach the log service, so the queue comes first and the maps after it.
        let dirs = postconf_defaults(&["daemon_directory", "meta_directory"]);
        make_queue_directories(Path::new(&dirs[1]), root);
        // As the README says: `postmap /etc/postfix/transport`, then `newaliases` (which is
        // postalias on $alias_database).
        run_postfix_tool(
            Command::new("postmap")
                .arg("-c")
                .arg(&conf)
                .arg(conf.join("transport")),
        );
        run_postfix_tool(
            Command::new("postalias")
                .arg("-c")
                .arg(&conf)
                .arg(format!("hash:{c}/aliases")),
        );

        let out = std::fs::File::create(root.join("master.out")).unwrap();
        let master = Command::new(Path::new(&dirs[0]).join("master"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start Postfix's master");
        let mut pf = Postfix {
            port,
            started_in: Duration::ZERO,
            dir,
            master,
        };
        // The master opens the listening socket before it starts any daemon, and the kernel
        // queues connections from then on: a connection means SMTP is ready.
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            if let Some(status) = pf.master.try_wait().unwrap() {
                panic!(
                    "Postfix's master exited ({status}) before listening:\n{}",
                    pf.logs()
                );
            }
            assert!(
                t0.elapsed() < WAIT,
                "Postfix did not listen on port {port} within {WAIT:?}:\n{}",
                pf.logs()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        pf.started_in = t0.elapsed();
        pf
    }

    pub fn smtp_url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The configuration directory (`postqueue -c`, `postconf -c`).
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    /// What local(8) wrote to a known reader's mailbox file (mbox: a `From ` line, then
    /// `Return-Path`, `Delivered-To` and the message).
    pub fn mailbox(&self, reader: &str) -> String {
        let path = self.dir.path().join("mail").join(reader);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no mailbox for {reader} ({e}):\n{}", self.logs()))
    }

    /// Postfix's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// The master's own output (start-up errors come there before logging works) and the log.
    fn logs(&self) -> String {
        let out = std::fs::read_to_string(self.dir.path().join("master.out")).unwrap_or_default();
        format!("master output:\n{out}\nmaillog:\n{}", self.log())
    }

    /// The end of the last complete line in the log.
    pub fn log_mark(&self) -> LogMark {
        LogMark(self.log().rfind('\n').map_or(0, |i| i + 1))
    }

    /// The delivery attempts logged after `mark`, oldest first; a line still being written
    /// is left for the next look.
    pub fn attempts(&self, mark: LogMark) -> Vec<Attempt> {
        let log = self.log();
        log[mark.0.min(log.len())..]
            .split_inclusive('\n')
            .filter_map(|l| l.strip_suffix('\n'))
            .filter_map(parse_attempt)
            .collect()
    }

    /// Waits for Postfix to log an attempt after `mark` that `matches`, and returns it;
    /// fails after [`WAIT`], naming `what` and showing the log.
    pub async fn wait_for_attempt(
        &self,
        mark: LogMark,
        what: &str,
        matches: impl Fn(&Attempt) -> bool,
    ) -> Attempt {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(a) = self.attempts(mark).into_iter().find(|a| matches(a)) {
                return a;
            }
            assert!(
                Instant::now() < deadline,
                "waited {WAIT:?} for Postfix to log {what}; its log:\n{}",
                self.log()
            );
            // Postfix's log grows by a line per event; reading it is the cheapest watch.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the pipe's attempt on a message for `to` (any VERP address when `None`) and
    /// requires that kairan took it (exit 0: `status=sent`).
    pub async fn wait_for_pipe(&self, mark: LogMark, to: Option<&str>, what: &str) -> Attempt {
        let a = self
            .wait_for_attempt(mark, what, |a| {
                a.relay == PIPE_SERVICE && to.is_none_or(|t| a.to == t)
            })
            .await;
        assert_eq!(
            a.status, "sent",
            "kairan did not take {what} through the pipe:\n{}",
            a.line
        );
        a
    }

    /// Submits one message by SMTP (`from` None: the null sender of a DSN). Err carries the
    /// server's answer, e.g. a RCPT refusal.
    pub async fn submit(&self, from: Option<&str>, to: &str, raw: &[u8]) -> Result<(), String> {
        use lettre::AsyncTransport;
        let transport =
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
                .port(self.port)
                .build();
        let envelope = lettre::address::Envelope::new(
            from.map(|f| f.parse().unwrap()),
            vec![to.parse().unwrap()],
        )
        .unwrap();
        transport
            .send_raw(&envelope, raw)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// `postqueue -f`: deliver what is deferred now, as an operator does after a fix.
    pub fn flush(&self) {
        run_postfix_tool(
            Command::new("postqueue")
                .arg("-c")
                .arg(self.config_dir())
                .arg("-f"),
        );
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let t = Instant::now();
        let _ = Command::new("kill")
            .arg(self.master.id().to_string())
            .status();
        let _ = self.master.wait();
        if std::env::var_os("KAIRAN_POSTFIX_TIMES").is_some() {
            eprintln!(
                "postfix: started in {:?}, stopped in {:?}",
                self.started_in,
                t.elapsed()
            );
        }
    }
}

/// The fenced block after `<!-- postfix-recipe: NAME -->` in README.md.
fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let marker = format!("<!-- postfix-recipe: {name} -->");
    let after = readme
        .split_once(&marker)
        .unwrap_or_else(|| panic!("README.md has no `{marker}`"))
        .1;
    let mut lines = after.lines().skip_while(|l| l.trim().is_empty());
    assert!(
        lines.next().is_some_and(|l| l.starts_with("```")),
        "README.md: `{marker}` must be followed by a fenced block"
    );
    let body: Vec<&str> = lines.take_while(|l| !l.starts_with("```")).collect();
    body.join("\n") + "\n"
}

/// The README's operator text with the test's paths and names; every substitution that
/// applies must leave nothing of the operator's machine behind.
fn operator_to_test(text: &str, subs: &[(&'static str, String)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in subs {
        out = out.replace(from, to);
    }
    for leftover in ["/etc/", "/usr/local/", "example.org", "user=kairan"] {
        assert!(
            !out.contains(leftover),
            "the README's Postfix recipe names `{leftover}`, which the test does not \
             substitute:\n{out}"
        );
    }
    out
}

fn parse_attempt(line: &str) -> Option<Attempt> {
    let rest = &line[line.find(": to=<")? + 6..];
    let to = &rest[..rest.find('>')?];
    let field = |name: &str| {
        let at = rest.find(&format!(", {name}="))? + name.len() + 3;
        let v = &rest[at..];
        Some(v[..v.find([',', ' ']).unwrap_or(v.len())].to_owned())
    };
    Some(Attempt {
        to: to.to_owned(),
        relay: field("relay")?,
        status: field("status")?,
        line: line.to_owned(),
    })
}

/// Writes a configuration file dated a minute ago. Postfix treats a file changed within the
/// last second or two as still being edited and re-reads it every 0.3 s until it is older
/// (`pausing to let … cool down`), which cost every tool and daemon up to 2 s here.
fn write_cool(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(std::time::SystemTime::now() - Duration::from_secs(60)))
        .unwrap();
}

/// Compiled-in default values of main.cf parameters, in order.
fn postconf_defaults(names: &[&str]) -> Vec<String> {
    run_postfix_tool(Command::new("postconf").arg("-dh").args(names))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs a Postfix command line tool; its standard output.
fn run_postfix_tool(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{cmd:?}: {e} (install the Debian package `postfix`; scripts/test does)")
    });
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The queue and data directories, with the owners and modes the package's `postfix-files`
/// gives them (`$queue_directory/active:d:$mail_owner:-:700:ucr`, …), as `postfix check`
/// would create them.
fn make_queue_directories(meta_directory: &Path, root: &Path) {
    let spec = std::fs::read_to_string(meta_directory.join("postfix-files"))
        .expect("read Postfix's postfix-files");
    let (postfix_uid, postdrop_gid) = (uid_of("postfix"), gid_of_group("postdrop"));
    for line in spec.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 5 || f[1] != "d" {
            continue;
        }
        let path = if let Some(rest) = f[0].strip_prefix("$queue_directory") {
            root.join("spool").join(rest.trim_start_matches('/'))
        } else if let Some(rest) = f[0].strip_prefix("$data_directory") {
            root.join("data").join(rest.trim_start_matches('/'))
        } else {
            continue;
        };
        std::fs::create_dir_all(&path).unwrap();
        let uid = match f[2] {
            "root" => 0,
            "$mail_owner" => postfix_uid,
            other => panic!("postfix-files: unexpected owner {other}"),
        };
        let gid = match f[3] {
            "-" => None,
            "$setgid_group" => Some(postdrop_gid),
            other => panic!("postfix-files: unexpected group {other}"),
        };
        std::os::unix::fs::chown(&path, Some(uid), gid).unwrap();
        let mode = u32::from_str_radix(f[4], 8).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

fn id(args: &[&str]) -> u32 {
    let out = Command::new("id").args(args).output().expect("run id");
    assert!(out.status.success(), "id {args:?}: no such user");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn uid_of(user: &str) -> u32 {
    id(&["-u", user])
}

fn gid_of_group(group: &str) -> u32 {
    let out = Command::new("getent")
        .args(["group", group])
        .output()
        .expect("run getent");
    let line = String::from_utf8(out.stdout).unwrap();
    line.split(':')
        .nth(2)
        .and_then(|g| g.trim().parse().ok())
        .unwrap_or_else(|| panic!("no group {group}: is the Debian package `postfix` installed?"))
}

/// Runs `cmd` as the pipe user, as an operator runs every kairan command as the README's
/// `kairan` user (`sudo -u kairan kairan …`), so files it creates are the pipe's.
pub fn as_pipe_user(cmd: &mut Command) -> &mut Command {
    cmd.uid(uid_of(PIPE_USER)).gid(id(&["-g", PIPE_USER]))
}

/// Gives a file or directory to the pipe user (`chown kairan:kairan`).
pub fn give_to_pipe_user(path: &Path) {
    std::os::unix::fs::chown(path, Some(uid_of(PIPE_USER)), Some(id(&["-g", PIPE_USER]))).unwrap();
}
