//! The host port: which machine this is, and whether a process on it is still running, so a
//! restarted `kairan` takes back at once the leases a killed one left behind. Depends on
//! nothing; the adapter reads `/proc` (`src/host.rs`).

pub trait Processes: Send + Sync {
    /// This machine's name, as written in lease owners.
    fn host(&self) -> &str;
    /// Whether process `pid`, started at `start` (the adapter's own notation, from
    /// [`Processes::start_of_self`] on that process), is gone: no such process, or another
    /// one that reused the id. When it cannot tell, it answers false (the lease then runs
    /// out on its own).
    fn is_gone(&self, pid: u32, start: &str) -> bool;
    /// This process's start time in the same notation.
    fn start_of_self(&self) -> String;
}

/// For tests and hosts without `/proc`: nobody is ever known to be gone.
pub struct NoProcesses(pub String);

impl Processes for NoProcesses {
    fn host(&self) -> &str {
        &self.0
    }

    fn is_gone(&self, _pid: u32, _start: &str) -> bool {
        false
    }

    fn start_of_self(&self) -> String {
        "0".into()
    }
}
