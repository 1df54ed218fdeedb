//! An in-process SMTP server on a real loopback socket, for fault tests: it can answer 4xx or
//! 5xx per recipient at RCPT or after DATA, drop the connection, and require AUTH PLAIN.
//! (End-to-end tests use Postfix's smtp-sink; this one exists because smtp-sink cannot be told
//! to fail one recipient.)

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Default)]
struct Script {
    rcpt: HashMap<String, VecDeque<String>>,
    after_data: HashMap<String, VecDeque<String>>,
    drop_after_data: HashMap<String, u32>,
    auth: Option<(String, String)>,
    /// Announce PIPELINING in EHLO (clients then send MAIL, RCPT and DATA at once).
    pipelining: bool,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct FakeSmtp {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    connections: Arc<AtomicUsize>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl FakeSmtp {
    pub async fn start() -> FakeSmtp {
        Self::start_on(0).await
    }

    /// On a given port (0: any), e.g. one a client was already told about.
    pub async fn start_on(port: u16) -> FakeSmtp {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let script = Arc::new(Mutex::new(Script::default()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (s, c) = (script.clone(), connections.clone());
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(session(sock, s.clone()));
            }
        });
        FakeSmtp {
            addr,
            script,
            connections,
            task: Arc::new(task),
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The next RCPT TO for `rcpt` gets `reply` (queued; then 250 again).
    pub fn reply_at_rcpt(&self, rcpt: &str, reply: &str) {
        let mut s = self.script.lock().unwrap();
        s.rcpt
            .entry(rcpt.into())
            .or_default()
            .push_back(reply.into());
    }

    /// The next message for `rcpt` gets `reply` after its DATA.
    pub fn reply_after_data(&self, rcpt: &str, reply: &str) {
        let mut s = self.script.lock().unwrap();
        s.after_data
            .entry(rcpt.into())
            .or_default()
            .push_back(reply.into());
    }

    /// The next `times` messages for `rcpt` see the connection closed after their DATA.
    pub fn drop_after_data(&self, rcpt: &str, times: u32) {
        self.script
            .lock()
            .unwrap()
            .drop_after_data
            .insert(rcpt.into(), times);
    }

    /// Announces PIPELINING from now on.
    pub fn announce_pipelining(&self) {
        self.script.lock().unwrap().pipelining = true;
    }

    pub fn require_auth(&self, user: &str, pass: &str) {
        self.script.lock().unwrap().auth = Some((user.into(), pass.into()));
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Stops accepting new connections.
    pub fn stop(&self) {
        self.task.abort();
    }
}

async fn session(sock: tokio::net::TcpStream, script: Arc<Mutex<Script>>) {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    macro_rules! say {
        ($s:expr) => {
            if w.write_all(format!("{}\r\n", $s).as_bytes()).await.is_err() {
                return;
            }
        };
    }
    say!("220 fake.test ESMTP");
    let mut authed = script.lock().unwrap().auth.is_none();
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    loop {
        line.clear();
        match r.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            if script.lock().unwrap().pipelining {
                say!(
                    "250-fake.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 10485760"
                );
            } else {
                say!("250-fake.test\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 10485760");
            }
        } else if upper.starts_with("AUTH PLAIN") {
            let arg = cmd.split_whitespace().nth(2).unwrap_or("");
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(arg)
                .unwrap_or_default();
            let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
            let ok = script.lock().unwrap().auth.as_ref().is_some_and(|(u, p)| {
                parts.len() == 3 && parts[1] == u.as_bytes() && parts[2] == p.as_bytes()
            });
            if ok {
                authed = true;
                say!("235 2.7.0 Authentication successful");
            } else {
                say!("535 5.7.8 Authentication credentials invalid");
            }
        } else if upper.starts_with("MAIL FROM:") {
            if !authed {
                say!("530 5.7.0 Authentication required");
                continue;
            }
            from = extract(&cmd[10..]);
            to.clear();
            say!("250 2.1.0 Ok");
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = extract(&cmd[8..]);
            let reply = script
                .lock()
                .unwrap()
                .rcpt
                .get_mut(&rcpt)
                .and_then(|q| q.pop_front());
            match reply {
                Some(reply) => say!(reply),
                None => {
                    to.push(rcpt);
                    say!("250 2.1.5 Ok");
                }
            }
        } else if upper == "DATA" {
            if to.is_empty() {
                say!("554 5.5.1 Error: no valid recipients");
                continue;
            }
            say!("354 End data with <CR><LF>.<CR><LF>");
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                match r.read_until(b'\n', &mut l).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if l == b".\r\n" {
                    break;
                }
                let l = if l.starts_with(b"..") {
                    l[1..].to_vec()
                } else {
                    l
                };
                data.extend_from_slice(&l);
            }
            let first = to[0].clone();
            let (drop_now, reply) = {
                let mut s = script.lock().unwrap();
                let drop_now = match s.drop_after_data.get_mut(&first) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        true
                    }
                    _ => false,
                };
                let reply = s.after_data.get_mut(&first).and_then(|q| q.pop_front());
                if !drop_now && reply.is_none() {
                    s.received.push(Received {
                        from: from.clone(),
                        to: to.clone(),
                        data,
                    });
                }
                (drop_now, reply)
            };
            if drop_now {
                return;
            }
            match reply {
                Some(reply) => say!(reply),
                None => say!("250 2.0.0 Ok: queued as FAKE"),
            }
            to.clear();
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            say!("250 2.0.0 Ok");
        } else if upper == "NOOP" {
            say!("250 2.0.0 Ok");
        } else if upper == "QUIT" {
            say!("221 2.0.0 Bye");
            return;
        } else {
            say!("502 5.5.2 Error: command not recognized");
        }
    }
}

/// `<a@b> SIZE=…` → `a@b`.
fn extract(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if b > a => arg[a + 1..b].to_owned(),
        _ => arg.split_whitespace().next().unwrap_or("").to_owned(),
    }
}
