//! A process's memory as Linux reports it in `/proc/PID/status`, for the tests and benchmarks
//! that hold the server to a memory budget.

use std::time::{Duration, Instant};

/// A figure of `/proc/PID/status` (`VmRSS:`, `VmHWM:`), in bytes; `None` once the process is
/// gone (or off Linux).
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = status.lines().find_map(|line| line.strip_prefix(field))?;
    let kib: u64 = value.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// The resident memory of a process, in bytes.
pub fn resident_bytes(pid: u32) -> Option<u64> {
    status_bytes(pid, "VmRSS:")
}

/// The resident memory of a quiet server: read until it stops falling (the server returns
/// freed memory 500 ms after the last activity, after the background work queued before it),
/// at most 6 s.
pub fn settled_resident_bytes(pid: u32) -> Option<u64> {
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let mut last = resident_bytes(pid)?;
    let mut steady = 0;
    while started.elapsed() < Duration::from_secs(5) && steady < 4 {
        std::thread::sleep(Duration::from_millis(250));
        let now = resident_bytes(pid)?;
        steady = if now >= last { steady + 1 } else { 0 };
        last = now;
    }
    Some(last)
}
