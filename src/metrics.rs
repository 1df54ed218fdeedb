//! Prometheus metrics: the `metrics` facade everywhere, one recorder per process rendered by
//! `GET /metrics`, plus process figures read from `/proc` at scrape time.
//!
//! Depends on nothing of the crate; every layer may record through the `metrics` facade.

use std::fmt::Write as _;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Metric names, in one place.
pub const HTTP_REQUESTS: &str = "kairan_http_requests_total";
pub const HTTP_DURATION: &str = "kairan_http_request_duration_seconds";
/// Attempts to reach the database again after it failed, by task (`dispatch`, `outbox`).
pub const DB_RETRIES: &str = "kairan_db_retries_total";
/// Console logins by `result` (`ok`, `failed`, `throttled`).
pub const CONSOLE_LOGINS: &str = "kairan_console_logins_total";
/// Console and API requests refused, by `reason` (`csrf`, `role`, `token`).
pub const CONSOLE_REFUSED: &str = "kairan_console_refused_total";
/// 1 while a sending task waits for the database, else 0.
pub const DB_UNAVAILABLE: &str = "kairan_db_unavailable";
/// `GET /media/…` requests for a name that is not a stored image (probes, typos).
pub const MEDIA_NOT_FOUND: &str = "kairan_media_not_found_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static STARTED: OnceLock<f64> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same handle).
pub fn install() -> PrometheusHandle {
    STARTED.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    });
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                    &[
                        0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ],
                )
                .expect("static bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a test harness); ours still renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The full exposition: recorded metrics, then process metrics.
pub fn render(handle: &PrometheusHandle) -> String {
    let mut out = handle.render();
    process_metrics(&mut out);
    out
}

/// Appends counters kept outside this process (in the database) to the exposition: each
/// family `(name, label key, help)` with its samples `(name, label value, value)`, so every
/// process shows the same figures whichever one counted.
pub fn render_stored_counters<'a>(
    out: &mut String,
    families: &[(&str, &str, &str)],
    samples: impl IntoIterator<Item = (&'a str, &'a str, u64)> + Clone,
) {
    for (name, key, help) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (n, label, value) in samples.clone() {
            if n == *name {
                let label = label.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(out, "{name}{{{key}=\"{label}\"}} {value}");
            }
        }
    }
}

/// One sample of a gauge read from the database at scrape time (campaign progress,
/// subscribers, bounce reports, queued mail): what any process did shows in every process's
/// `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// Appends gauges to the exposition, one `# HELP` / `# TYPE` per family (in the order the
/// families first appear).
pub fn render_gauges(out: &mut String, gauges: &[Gauge]) {
    let mut names: Vec<&'static str> = Vec::new();
    for g in gauges {
        if !names.contains(&g.name) {
            names.push(g.name);
        }
    }
    for name in names {
        let mut first = true;
        for g in gauges.iter().filter(|g| g.name == name) {
            if first {
                let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} gauge", g.help);
                first = false;
            }
            let labels = g
                .labels
                .iter()
                .map(|(k, v)| {
                    let v = v
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    format!("{k}=\"{v}\"")
                })
                .collect::<Vec<_>>()
                .join(",");
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {}", g.value);
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {}", g.value);
            }
        }
    }
}

fn process_metrics(out: &mut String) {
    let started = STARTED.get().copied().unwrap_or(0.0);
    let _ = writeln!(
        out,
        "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n\
         # TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {started}"
    );
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the parenthesised command name; utime and stime are 14th and 15th overall.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = 100.0; // USER_HZ on Linux
    if let (Some(u), Some(s)) = (fields.get(11), fields.get(12)) {
        let cpu = (u.parse::<f64>().unwrap_or(0.0) + s.parse::<f64>().unwrap_or(0.0)) / ticks;
        let _ = writeln!(
            out,
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
             # TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu}"
        );
    }
    if let Some(rss_pages) = fields.get(21).and_then(|v| v.parse::<u64>().ok()) {
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
             # TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}",
            rss_pages * 4096
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        let _ = writeln!(
            out,
            "# HELP process_open_fds Number of open file descriptors.\n\
             # TYPE process_open_fds gauge\nprocess_open_fds {}",
            fds.count()
        );
    }
}
