//! Helpers for the fault tests (`tests/it/faults.rs`): an smtp-sink that can be killed and
//! restarted on the same port, a prepared campaign run by the real binary, a private
//! PostgreSQL cluster that can be restarted, and the count of copies per recipient.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{LEGAL, fixture_dir, free_port, is_root, kairan_cmd};

/// Postfix's smtp-sink dumping each message to its own file; restartable on its port.
pub struct Sink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// How many times it was started: part of the dump files' names (see `restart`).
    starts: u32,
}

impl Sink {
    pub fn start() -> Sink {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut s = Sink {
            port: free_port(),
            dir,
            child: None,
            starts: 0,
        };
        s.restart();
        s
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Kills the sink (SIGKILL): a message on the wire is cut.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and waits until it listens.
    pub fn restart(&mut self) {
        self.kill();
        let bin = ["/usr/sbin/smtp-sink", "/usr/bin/smtp-sink"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("smtp-sink not found: install the Debian package `postfix`");
        let mut cmd = Command::new(bin);
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        // Each start dumps under names of its own: in CI a restarted sink, dumping under its
        // predecessor's names (the second plus a pseudo-random number), found its candidate
        // names taken and died ("smtp-sink: fatal: mail_file_open: something is looping"),
        // so the rest of the campaign was refused and failed (twice in full runs).
        self.starts += 1;
        let child = cmd
            .arg("-d")
            .arg(format!(
                "{}/msg.%H%M%S.{}.",
                self.dir.path().display(),
                self.starts
            ))
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("256")
            .stdout(Stdio::null())
            .spawn()
            .expect("start smtp-sink");
        self.child = Some(child);
        wait_until(Duration::from_secs(10), "smtp-sink listens", || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
    }

    /// Messages received so far (files dumped).
    pub fn count(&self) -> usize {
        std::fs::read_dir(self.dir.path())
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("msg."))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Messages received per wall-clock second (the dump files are named by the second).
    pub fn per_second(&self) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for e in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(rest) = name.strip_prefix("msg.") {
                *out.entry(rest[..6.min(rest.len())].to_owned()).or_insert(0) += 1;
            }
        }
        out
    }

    /// Recipient → the Message-ID of every copy received.
    pub fn copies(&self) -> HashMap<String, Vec<String>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for e in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            if !e.file_name().to_string_lossy().starts_with("msg.") {
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
            let h = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or("")
                    .trim()
                    .to_owned()
            };
            let id = h("Message-ID:");
            // A dump cut before the headers ended: the sink was killed mid-DATA, and the
            // client saw no 250 (it retries); not a delivered copy.
            if id.is_empty() {
                continue;
            }
            out.entry(h("X-Rcpt-Args:")).or_default().push(id);
        }
        out
    }
}

impl Sink {
    /// Like [`Sink::copies`], counting only the dumps of whole messages: a connection cut
    /// mid-DATA can leave a dump with the headers and part of the body, which the client
    /// never saw accepted. A whole campaign message ends with its closing MIME boundary.
    pub fn complete_copies(&self) -> HashMap<String, Vec<String>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for e in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            if !e.file_name().to_string_lossy().starts_with("msg.") {
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
            let whole = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim().starts_with("--") && l.trim().ends_with("--"));
            if !whole {
                continue;
            }
            let h = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or("")
                    .trim()
                    .to_owned()
            };
            out.entry(h("X-Rcpt-Args:"))
                .or_default()
                .push(h("Message-ID:"));
        }
        out
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `f` every 20 ms until it holds; panics naming `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `kairan` whose output goes to files.
pub struct Proc {
    pub child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    /// What it logged so far, without the per-batch lines.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.err)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.contains("batch done") && !l.contains("slow threshold"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Waits for the process to exit (polling), killing it and panicking after `limit`.
pub fn wait_exit(mut p: Proc, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = p.child.kill();
            let _ = p.child.wait();
            panic!(
                "the process did not finish within {limit:?}: {}",
                std::fs::read_to_string(&p.err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::process::Output {
        status,
        stdout: std::fs::read(&p.out).unwrap_or_default(),
        stderr: std::fs::read(&p.err).unwrap_or_default(),
    }
}

/// Sends a signal to the process.
pub fn signal(p: &Proc, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &p.child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// A working directory and the environment of one campaign for the real binary.
pub struct Campaign {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    pub readers: usize,
}

impl Campaign {
    /// `readers` confirmed subscribers and the fixture issue queued, on `db_url`, sending
    /// to `smtp`; `extra` are more `KAIRAN__…` variables.
    pub fn prepare(db_url: &str, smtp: &str, readers: usize, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut env: Vec<(String, String)> = LEGAL
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in [
            ("KAIRAN__DATABASE__URL", db_url),
            ("KAIRAN__SMTP__URL", smtp),
            ("KAIRAN__BOUNCE__RETURN_PATH", "bounces@example.org"),
            ("KAIRAN__HTTP__LISTEN", "127.0.0.1:0"),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        {
            env.push((k.into(), v.into()));
        }
        let c = Campaign { dir, env, readers };
        c.ok(&["migrate"]);
        let mut csv = String::from("email,name,lang\n");
        for i in 0..readers {
            csv.push_str(&format!(
                "reader{i}@d{}.example.jp,読者{i},{}\n",
                i % 7,
                ["ja", "en", "both"][i % 3]
            ));
        }
        std::fs::write(c.dir.path().join("subs.csv"), csv).unwrap();
        c.ok(&["subscribers", "import", "subs.csv", "--confirmed"]);
        c
    }

    /// Queues the fixture issue (`send_at` now when `now`, so `serve` starts it).
    pub fn queue(&self, now: bool) {
        let f = fixture_dir();
        let (ja, en) = (f.join("ja.md"), f.join("en.md"));
        let at = chrono::Utc::now().to_rfc3339();
        let mut args = vec![
            "issue",
            "queue",
            "--slug",
            "2026-12",
            "--ja",
            ja.to_str().unwrap(),
            "--en",
            en.to_str().unwrap(),
        ];
        if now {
            args.extend(["--send-at", &at]);
        }
        self.ok(&args);
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = kairan_cmd(self.dir.path());
        cmd.args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts the binary with its output going to files (a pipe nobody reads would fill up
    /// and stop it); [`wait_exit`] reads them back.
    pub fn spawn(&self, args: &[&str]) -> Proc {
        let n: u64 = rand::random();
        let out = self.dir.path().join(format!("out.{n:x}.log"));
        let err = self.dir.path().join(format!("err.{n:x}.log"));
        let child = self
            .cmd(args)
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Proc { child, out, err }
    }

    fn ok(&self, args: &[&str]) {
        let out = self.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "kairan {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Lost and duplicated copies: every reader `0..readers` must be there; each duplicate must
/// carry the first copy's Message-ID. Returns `(lost, duplicates)`.
pub fn tally(copies: &HashMap<String, Vec<String>>, readers: usize) -> (usize, usize) {
    let local: std::collections::HashSet<String> = copies
        .keys()
        .filter_map(|k| {
            let k = k.trim().trim_start_matches('<');
            k.split_once('@').map(|(l, _)| l.to_owned())
        })
        .collect();
    let lost = (0..readers)
        .filter(|i| !local.contains(&format!("reader{i}")))
        .count();
    let mut dups = 0;
    for (rcpt, ids) in copies {
        assert!(
            ids.iter().all(|id| id == &ids[0] && !id.is_empty()),
            "{rcpt}: every copy carries the same Message-ID: {ids:?}"
        );
        dups += ids.len() - 1;
    }
    (lost, dups)
}

/// A PostgreSQL cluster of its own (initdb + pg_ctl in a temporary directory, on a free
/// port, as the `postgres` user when run as root), so a test can restart it without
/// touching the machine's server. Stopped when dropped.
pub struct PrivatePg {
    pub port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl PrivatePg {
    pub fn start() -> PrivatePg {
        use std::os::unix::fs::PermissionsExt;
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql")
            .flatten()
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())
            .expect("initdb");
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let pg = PrivatePg {
            port: free_port(),
            dir,
            bin,
        };
        let data = pg.data();
        let out = pg
            .as_postgres(&pg.bin.join("initdb"))
            .args([
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
            ])
            .args(["--no-sync", "-E", "UTF8", "--locale=C"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.pg_ctl(&["start"]);
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_postgres(&self, program: &Path) -> Command {
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn pg_ctl(&self, action: &[&str]) {
        let data = self.data();
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -F",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        let out = self
            .as_postgres(&self.bin.join("pg_ctl"))
            .args(["-D", data.to_str().unwrap(), "-o", &opts, "-l"])
            .arg(&log)
            .args(["-w", "-m", "fast"])
            .args(action)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {action:?}: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn stop(&self) {
        self.pg_ctl(&["stop"]);
    }

    pub fn start_again(&self) {
        self.pg_ctl(&["start"]);
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .as_postgres(&self.bin.join("pg_ctl"))
            .args([
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }
}
