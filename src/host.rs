//! The host adapter (`app::ports::Processes`) on Linux's `/proc`: the host name from
//! `/proc/sys/kernel/hostname`, a process's start time from field 22 of `/proc/PID/stat`
//! (clock ticks since boot; a reused pid has another). Elsewhere it knows nobody is gone.
//!
//! Depends on the ports only.

use crate::app::ports::Processes;

pub struct ProcFs {
    host: String,
}

impl ProcFs {
    pub fn new() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "kairan".into());
        ProcFs { host }
    }
}

impl Default for ProcFs {
    fn default() -> Self {
        Self::new()
    }
}

/// Field 22 (`starttime`) of a `/proc/PID/stat` line; the command name (field 2) is in
/// parentheses and may itself hold spaces and parentheses, so fields are counted after the
/// last `)`.
fn start_time(stat: &str) -> Option<&str> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)
}

impl Processes for ProcFs {
    fn host(&self) -> &str {
        &self.host
    }

    fn is_gone(&self, pid: u32, start: &str) -> bool {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return false;
        }
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => start_time(&stat).is_some_and(|s| s != start),
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        }
    }

    fn start_of_self(&self) -> String {
        std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| start_time(&s).map(str::to_owned))
            .unwrap_or_else(|| "0".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_field_22_even_with_odd_command_names() {
        let stat = "4242 (kai ran) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 1000 10";
        assert_eq!(start_time(stat), Some("987654"));
    }

    #[test]
    fn this_process_is_alive_and_a_reused_pid_or_a_missing_one_is_gone() {
        let p = ProcFs::new();
        let me = std::process::id();
        let start = p.start_of_self();
        assert!(!p.is_gone(me, &start));
        assert!(p.is_gone(me, "1"), "same pid, another start: a reused pid");
        assert!(p.is_gone(u32::MAX - 1, &start));
    }
}
