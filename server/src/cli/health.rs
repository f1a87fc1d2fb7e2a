//! `aiex health`: whether this binary works on this machine (fast, offline), for installers,
//! editor packages and supervisors. Exit 0 when every self-check passed, 1 otherwise.

use crate::cli::outln;
use crate::lifecycle::health::HealthReport;

/// Arguments of `aiex health`.
#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// Print the report as JSON (the same shape as the `aiex/health` request's result).
    #[arg(long)]
    pub json: bool,
}

/// Runs `aiex health`.
pub fn run(args: HealthArgs) -> anyhow::Result<()> {
    let report = HealthReport::for_this_process();
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        crate::cli::out!("{}", report.to_text())?;
    }
    if report.is_ok() {
        Ok(())
    } else {
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|check| !check.ok)
            .map(|check| check.name)
            .collect();
        anyhow::bail!("unhealthy: {} failed", failed.join(", "))
    }
}
