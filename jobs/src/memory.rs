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

/// Whether a stage error is a query running out of the memory limit (see [`exhausted`]).
pub fn is_exhausted(e: &StageError) -> bool {
    use deltalake::datafusion::error::DataFusionError;
    let Some(source) = e.source.as_deref() else { return false };
    if let Some(df) = source.downcast_ref::<DataFusionError>() {
        return matches!(df.find_root(), DataFusionError::ResourcesExhausted(_));
    }
    matches!(source.downcast_ref::<deltalake::DeltaTableError>(),
        Some(deltalake::DeltaTableError::Generic(text)) if text.starts_with("Resources exhausted"))
}

/// A session on the runtime of `ctx` (its memory pool) with no tables yet, that plans joins as sort-merge joins,
/// whose inputs are sorted and which spill past the limit, instead of hash joins, whose build side must fit in
/// memory; its scans read [`plain_strings`].
pub fn spilling_joins(ctx: &SessionContext) -> SessionContext {
    let spilling = session_like(ctx);
    plain_strings(&spilling);
    spilling.state_ref().write().config_mut().options_mut().optimizer.prefer_hash_join = false;
    spilling
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
    let ctx: SessionContext = DeltaSessionContext::with_runtime_env(runtime.clone()).into();
    ctx.state_ref().write().config_mut().options_mut().execution.parquet.schema_force_view_types = true;
    ctx
}

/// Makes the tables `ctx` scans from now on read parquet strings as plain strings rather than views (see
/// [`crate::lake::scan`]), for queries whose sorts and joins must spill: a view array keeps every buffer its
/// strings came from, so after a repartition or a sort each batch is charged to the pool for all of them (a sort
/// of 1M users asked for 1.2 GB at once at scale 10) and nothing can spill. Views are faster (about a third less
/// CPU at scale 1), so only the work that may not fit reads plain strings.
pub fn plain_strings(ctx: &SessionContext) {
    ctx.state_ref().write().config_mut().options_mut().execution.parquet.schema_force_view_types = false;
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
    fn running_out_of_the_limit_is_told_apart_from_other_errors() {
        use deltalake::datafusion::error::DataFusionError;
        let df = exhausted("sort", DataFusionError::ResourcesExhausted("Failed to allocate".into()));
        assert!(is_exhausted(&df));
        // delta-rs keeps only the text of the DataFusion error of its write.
        let delta = crate::lake::from_delta(
            "write",
            deltalake::DeltaTableError::Generic("Resources exhausted: Failed to allocate 1 MB".into()),
        );
        assert!(is_exhausted(&delta));
        let other = crate::error::df_err("plan")(DataFusionError::Plan("no such column".into()));
        assert!(!is_exhausted(&other));
        assert!(!is_exhausted(&StageError::config("a bad URL")));
    }

    #[tokio::test]
    async fn the_spilling_session_shares_the_pool_and_joins_by_sort_merge() {
        use deltalake::datafusion::physical_plan::displayable;
        let ctx = session(&MemoryLimit::resolve(Some(bytesize::ByteSize::mib(64)), None, "test").runtime().unwrap());
        let spilling_ctx = spilling_joins(&ctx);
        assert!(Arc::ptr_eq(&ctx.runtime_env(), &spilling_ctx.runtime_env()), "one memory pool");
        for t in ["a", "b"] {
            for c in [&ctx, &spilling_ctx] {
                c.sql(&format!("CREATE TABLE {t} AS VALUES (1, 'x'), (2, 'y')"))
                    .await
                    .unwrap()
                    .collect()
                    .await
                    .unwrap();
            }
        }
        let sql = "SELECT * FROM a JOIN b ON a.column1 = b.column1";
        let plan = |ctx: SessionContext| async move {
            let df = ctx.sql(sql).await.unwrap();
            let physical = df.create_physical_plan().await.unwrap();
            displayable(physical.as_ref()).indent(true).to_string()
        };
        assert!(plan(ctx.clone()).await.contains("HashJoinExec"));
        let spilling = plan(spilling_ctx).await;
        assert!(spilling.contains("SortMergeJoin"), "{spilling}");
        assert!(plan(ctx).await.contains("HashJoinExec"), "the original session keeps hash joins");
    }

    #[test]
    fn sizes_people_write_parse_and_typos_do_not() {
        assert_eq!("512MiB".parse::<ByteSize>().unwrap().as_u64(), 512 << 20);
        assert_eq!("2 GB".parse::<ByteSize>().unwrap().as_u64(), 2_000_000_000);
        assert!("six gigs".parse::<ByteSize>().is_err());
    }
}
