//! The time every decision is made at, injected rather than read from the
//! system at each call site: a test can hold a login at the edge of its
//! expiry, or move an hour on, without sleeping; and there is one place to
//! look when a replica's clock is suspected.
//!
//! Seconds since the Unix epoch, as the store, tokens and assertions count.

use std::sync::atomic::{AtomicU64, Ordering};

/// What time it is.
pub trait Clock: Send + Sync + 'static {
    /// Unix time in milliseconds.
    fn now_ms(&self) -> u64;
    /// Unix time in seconds.
    fn now(&self) -> u64 {
        self.now_ms() / 1000
    }
}

/// Today's date in Korea (UTC+9), where the citizens' birth dates are: the
/// day a typed six-digit birth date is measured against.
pub fn today_kst(clock: &dyn Clock) -> time::Date {
    let secs = i64::try_from(clock.now()).unwrap_or(i64::MAX / 2);
    time::OffsetDateTime::from_unix_timestamp(secs.saturating_add(9 * 3600))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date()
}

/// `clock`'s time as chrono's UTC (SAML instants).
pub fn utc(clock: &dyn Clock) -> chrono::DateTime<chrono::Utc> {
    let ms = i64::try_from(clock.now_ms()).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that stands still until moved (tests, simulations).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `secs` (Unix time).
    pub fn at(secs: u64) -> Self {
        Self(AtomicU64::new(secs.saturating_mul(1000)))
    }
    /// Moves the clock on by `secs`.
    pub fn advance(&self, secs: u64) {
        self.0
            .fetch_add(secs.saturating_mul(1000), Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_the_date_in_korea() {
        // 2026-12-04T14:59:59Z is 23:59:59 in Seoul; a second later it is
        // the 5th there.
        let m = ManualClock::at(1_796_396_399);
        assert_eq!(today_kst(&m).to_string(), "2026-12-04");
        m.advance(1);
        assert_eq!(today_kst(&m).to_string(), "2026-12-05");
    }

    #[test]
    fn the_system_clock_is_now_and_a_manual_clock_moves_only_when_told() {
        let sys = SystemClock.now();
        assert!(sys > 1_700_000_000, "{sys}");
        let m = ManualClock::at(1_800_000_000);
        assert_eq!(m.now(), 1_800_000_000);
        m.advance(61);
        assert_eq!((m.now(), m.now_ms()), (1_800_000_061, 1_800_000_061_000));
        assert_eq!(utc(&m).timestamp(), 1_800_000_061);
    }
}
