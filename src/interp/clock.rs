//! Time for the interpreter. The virtual clock makes Wait states and retry backoff instant while keeping every
//! timestamp consistent: it runs with real time and jumps forward by each wait.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};

/// A source of time that can wait.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// Waits `duration` (or pretends to).
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Real time: waits really wait (`amali exec --real-time`).
#[derive(Debug, Default)]
pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Virtual time: starts at the real time, advances with it, and jumps forward by every wait instead of waiting.
#[derive(Debug)]
pub struct VirtualClock {
    base: DateTime<Utc>,
    started: Instant,
    skipped: Mutex<Duration>,
}

impl VirtualClock {
    /// A virtual clock starting now.
    pub fn new() -> Self {
        Self::starting_at(Utc::now())
    }

    /// A virtual clock starting at `base` (for reproducible tests).
    pub fn starting_at(base: DateTime<Utc>) -> Self {
        VirtualClock { base, started: Instant::now(), skipped: Mutex::new(Duration::ZERO) }
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        let skipped = *self.skipped.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = self.started.elapsed().saturating_add(skipped);
        add(self.base, chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX))
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut skipped = self.skipped.lock().unwrap_or_else(|e| e.into_inner());
        *skipped = skipped.saturating_add(duration);
        Box::pin(tokio::task::yield_now())
    }
}

/// `t + d`, saturating at the end of time instead of overflowing (a definition may ask for absurd waits).
pub fn add(t: DateTime<Utc>, d: chrono::Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t` plus `seconds` (fractions kept to the millisecond), saturating.
pub fn add_seconds(t: DateTime<Utc>, seconds: f64) -> DateTime<Utc> {
    let ms = (seconds * 1000.0).clamp(i64::MIN as f64 / 2.0, i64::MAX as f64 / 2.0) as i64;
    add(t, chrono::Duration::try_milliseconds(ms).unwrap_or(chrono::Duration::MAX))
}

/// A timestamp as Step Functions writes them: RFC 3339, UTC, milliseconds (`2026-11-26T04:25:01.123Z`).
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
