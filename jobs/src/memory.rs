//! The memory a stage's queries may hold: one DataFusion runtime per process whose memory pool is the configured
//! `memory_limit` (`[env.NAME.data]`), or a share of the machine's memory.
//!
//! The pool is DataFusion's `FairSpillPool`: operators that can spill (sorts, grouped aggregations) share what the
//! others leave and write the rest to the OS temporary directory; one that cannot (a hash join's build side) and
//! does not fit fails the query with `ResourcesExhausted`, which the stage reports as `Amali.ConfigError` with
//! [`hint`]: the limit in force and the setting that raises it, never an OOM kill.

use std::sync::{Arc, OnceLock};

use bytesize::ByteSize;
use deltalake::datafusion::execution::memory_pool::FairSpillPool;
use deltalake::datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use deltalake::datafusion::prelude::SessionContext;
use deltalake::delta_datafusion::DeltaSessionContext;

use crate::error::{Result, StageError};

/// The share of the machine's (or the container's) memory a stage's queries may hold when the configuration sets
/// no `memory_limit`: the rest is for the batches the stage holds itself, the allocator and the OS.
pub const DEFAULT_SHARE: f64 = 0.6;

/// The limit in force and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryLimit {
    /// Bytes.
    pub bytes: u64,
    /// Where it comes from, for messages: `[env.local.data] memory_limit` or the machine's share.
    pub source: String,
}

impl MemoryLimit {
    /// The limit given on the command line (`--memory-limit`, `AMALI_MEMORY_LIMIT`), else the one configured for
    /// environment `env`, else [`DEFAULT_SHARE`] of [`available`] memory.
    pub fn resolve(flag: Option<ByteSize>, configured: Option<ByteSize>, env: &str) -> Self {
        match (flag, configured) {
            (Some(size), _) => {
                MemoryLimit { bytes: size.as_u64(), source: "--memory-limit or AMALI_MEMORY_LIMIT".into() }
            }
            (None, Some(size)) => {
                MemoryLimit { bytes: size.as_u64(), source: format!("[env.{env}.data] memory_limit") }
            }
            (None, None) => {
                let machine = available();
                MemoryLimit {
                    bytes: (machine as f64 * DEFAULT_SHARE) as u64,
                    source: format!(
                        "the default, {:.0}% of {} (set [env.{env}.data] memory_limit)",
                        DEFAULT_SHARE * 100.0,
                        ByteSize(machine).display().iec()
                    ),
                }
            }
        }
    }

    /// The DataFusion runtime with this limit as its memory pool (spilling to the OS temporary directory), and
    /// records the limit for [`hint`].
    pub fn runtime(&self) -> Result<Arc<RuntimeEnv>> {
        let _ = LIMIT.set(self.clone());
        let pool = FairSpillPool::new(usize::try_from(self.bytes).unwrap_or(usize::MAX));
        RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(pool))
            .build_arc()
            .map_err(|e| StageError::internal(format!("cannot build the query runtime: {e}")))
    }
}

impl std::fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", ByteSize(self.bytes).display().iec(), self.source)
    }
}

/// The limit of this process, set when its runtime was built.
static LIMIT: OnceLock<MemoryLimit> = OnceLock::new();

/// A query met while doing `context` ran out of the memory limit: a configuration error that says the limit in
/// force and how to raise it, the error kept as its source.
pub fn exhausted(context: &str, e: impl std::error::Error + Send + Sync + 'static) -> StageError {
    StageError::config(format!("{context}: {e}; {}", hint())).caused_by(e)
}

/// What to say after a query ran out of memory: the limit in force and how to raise it.
fn hint() -> String {
    match LIMIT.get() {
        Some(limit) => format!(
            "the stage's queries may hold {limit}: raise memory_limit (and the memory of the machine or ECS task)"
        ),
        None => "the stage ran out of the memory its queries may hold: raise memory_limit".into(),
    }
}

/// A DataFusion session with delta-rs's settings on `runtime` (every session of a stage shares one).
pub fn session(runtime: &Arc<RuntimeEnv>) -> SessionContext {
    DeltaSessionContext::with_runtime_env(runtime.clone()).into()
}

/// Another session on the runtime of `ctx` (its memory pool included), for a query planned on its own.
pub fn session_like(ctx: &SessionContext) -> SessionContext {
    session(&ctx.runtime_env())
}

/// The memory this process may use: the machine's, or its container's limit when lower (cgroup v2 `memory.max`,
/// else cgroup v1 `memory.limit_in_bytes`, as an ECS task or `docker run --memory` sets).
pub fn available() -> u64 {
    let machine = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(4 << 30);
    let cgroup = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok())
        .min();
    cgroup.map_or(machine, |c| c.min(machine))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_limit_is_used_and_named_else_a_share_of_the_machine() {
        let set = MemoryLimit::resolve(None, Some("6GiB".parse().unwrap()), "prod");
        assert_eq!(set.bytes, 6 << 30);
        assert_eq!(set.to_string(), "6.0 GiB ([env.prod.data] memory_limit)");
        let flag = MemoryLimit::resolve(Some("2GiB".parse().unwrap()), Some("6GiB".parse().unwrap()), "prod");
        assert_eq!(flag.bytes, 2 << 30, "the command line wins over the configuration");
        assert!(flag.source.contains("--memory-limit"), "{flag}");
        let default = MemoryLimit::resolve(None, None, "local");
        assert!(default.bytes > 0 && default.bytes <= available(), "{default}");
        assert!(default.source.contains("memory_limit"), "{default}");
    }

    #[test]
    fn sizes_people_write_parse_and_typos_do_not() {
        assert_eq!("512MiB".parse::<ByteSize>().unwrap().as_u64(), 512 << 20);
        assert_eq!("2 GB".parse::<ByteSize>().unwrap().as_u64(), 2_000_000_000);
        assert!("six gigs".parse::<ByteSize>().is_err());
    }
}
