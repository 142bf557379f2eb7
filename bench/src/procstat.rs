//! Server cost from `/proc` (Linux): RSS/peak of the server PID, its CPU
//! seconds (utime+stime over all threads), and machine-wide busy/steal share,
//! per named phase — the same figures as the Synapse peer bench's `Meter`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

/// Clock ticks per second for `/proc/*/stat`, from `getconf CLK_TCK` (100 if unknown).
pub fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// `VmRSS` and `VmHWM` of a process, in MB (MiB, like bench.py).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Mem {
    pub rss_mb: Option<f64>,
    pub hwm_mb: Option<f64>,
}

pub fn mem(pid: u32) -> Mem {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| (kb / 1024.0 * 10.0).round() / 10.0)
    };
    Mem {
        rss_mb: field("VmRSS:"),
        hwm_mb: field("VmHWM:"),
    }
}

/// Open file descriptors of a process (entries of `/proc/PID/fd`), if readable.
pub fn fd_count(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count())
}

/// utime+stime of a process in ticks (all threads).
fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    proc_user_sys_ticks(pid).map(|(u, s)| u + s)
}

/// (utime, stime) of a process in ticks (all threads).
fn proc_user_sys_ticks(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces or ')': split after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')' the fields start at #3 (state); utime is #14, stime #15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime, stime))
}

/// Machine-wide (busy, idle+iowait, steal) ticks from the `cpu` line of `/proc/stat`.
fn host_ticks() -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let mut v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    v.resize(8, 0);
    let (user, nice, system, idle, iowait, irq, softirq, steal) =
        (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
    Some((user + nice + system + irq + softirq, idle + iowait, steal))
}

/// The cost of one phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseCost {
    pub wall_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_s: Option<f64>,
    /// The kernel-mode part of `server_cpu_s` (syscalls: sockets, WAL writes, fsync).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_sys_s: Option<f64>,
    /// This benchmark process (the load generator) over the same phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cpu_s: Option<f64>,
    /// Whole machine (server + this client + anything else), all cores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_busy_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_steal_pct: Option<f64>,
    /// CPU seconds the machine spent on everything but server and client
    /// (other jobs: noise; kernel work on their behalf counts here too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_other_cpu_s: Option<f64>,
    /// The server's RSS when the phase ended (attributes memory growth to phases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_mb_end: Option<f64>,
}

/// Measures phases of one server process.
pub struct Meter {
    pid: u32,
    tck: f64,
    pub phases: BTreeMap<String, PhaseCost>,
}

/// A phase in progress; finish it with [`Meter::end`].
pub struct Phase {
    name: String,
    t0: Instant,
    cpu0: Option<(u64, u64)>,
    self0: Option<u64>,
    host0: Option<(u64, u64, u64)>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Meter {
    pub fn new(pid: u32) -> Meter {
        Meter {
            pid,
            tck: clk_tck(),
            phases: BTreeMap::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn begin(&self, name: &str) -> Phase {
        Phase {
            name: name.to_owned(),
            cpu0: proc_user_sys_ticks(self.pid),
            self0: proc_cpu_ticks(std::process::id()),
            host0: host_ticks(),
            t0: Instant::now(),
        }
    }

    /// Records the phase and returns its cost.
    pub fn end(&mut self, p: Phase) -> PhaseCost {
        let wall = p.t0.elapsed().as_secs_f64();
        let secs = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(round2(b.saturating_sub(a) as f64 / self.tck)),
            _ => None,
        };
        let cpu1 = proc_user_sys_ticks(self.pid);
        let server_cpu_s = secs(p.cpu0.map(|(u, s)| u + s), cpu1.map(|(u, s)| u + s));
        let server_sys_s = secs(p.cpu0.map(|c| c.1), cpu1.map(|c| c.1));
        let client_cpu_s = secs(p.self0, proc_cpu_ticks(std::process::id()));
        let (mut busy_pct, mut steal_pct, mut other) = (None, None, None);
        if let (Some((b0, i0, s0)), Some((b1, i1, s1))) = (p.host0, host_ticks()) {
            let (busy, idle, steal) = (
                b1.saturating_sub(b0),
                i1.saturating_sub(i0),
                s1.saturating_sub(s0),
            );
            let total = (busy + idle + steal).max(1) as f64;
            busy_pct = Some((1000.0 * busy as f64 / total).round() / 10.0);
            steal_pct = Some((1000.0 * steal as f64 / total).round() / 10.0);
            if let (Some(srv), Some(cli)) = (server_cpu_s, client_cpu_s) {
                other = Some(round2((busy as f64 / self.tck - srv - cli).max(0.0)));
            }
        }
        let cost = PhaseCost {
            wall_s: round2(wall),
            server_cpu_s,
            server_sys_s,
            client_cpu_s,
            host_busy_pct: busy_pct,
            host_steal_pct: steal_pct,
            host_other_cpu_s: other,
            rss_mb_end: mem(self.pid).rss_mb,
        };
        self.phases.insert(p.name, cost.clone());
        cost
    }
}

/// Speed reference of this machine right now: median of 3 timings of a fixed
/// integer loop, in ms. The VM's speed drifts; compare runs at similar values.
/// (Not comparable with bench.py's pure-Python `cpu_ref_ms`, only run to run.)
pub fn cpu_ref_ms() -> f64 {
    let mut times: Vec<f64> = (0..3)
        .map(|_| {
            let t0 = Instant::now();
            let mut s: u64 = 0;
            for i in 0..50_000_000u64 {
                s = std::hint::black_box(s.wrapping_add(i.wrapping_mul(i)) ^ (s >> 7));
            }
            std::hint::black_box(s);
            t0.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[1] * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(mem(me).rss_mb.is_some_and(|m| m > 0.0));
        assert!(proc_cpu_ticks(me).is_some());
        assert!(host_ticks().is_some());
    }
}
