//! The server's notion of "now".
//!
//! Expiry, rotation, quarantine and rate limits all read time through [`Clock`] so that tests can
//! move time forward (a 30-day quarantine is not something a test can wait for). Production always
//! runs on [`Clock::system`]; a controllable clock can only be built in code (tests) or, with the
//! `test-clock` cargo feature, through the `/_test/clock` endpoint that release builds do not have.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

/// Shared, cheap-to-clone clock. The offset is zero unless a test advanced it.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<ClockInner>,
}

#[derive(Debug)]
struct ClockInner {
    controllable: bool,
    /// Frozen clocks move only when advanced, so a test can count exactly 1,200 requests
    /// "within one minute" however long it takes to send them.
    frozen_at: Option<OffsetDateTime>,
    offset_ms: AtomicI64,
    /// Anchor for the monotonic view handed to the rate limiter.
    started: Instant,
}

impl Clock {
    /// Wall-clock time; cannot be moved.
    pub fn system() -> Self {
        Self::build(false, None)
    }

    /// A clock that [`Clock::advance`] can move forward. Only tests construct one.
    pub fn controllable() -> Self {
        Self::build(true, None)
    }

    /// A controllable clock that stands still between advances.
    pub fn frozen() -> Self {
        Self::build(true, Some(OffsetDateTime::now_utc()))
    }

    fn build(controllable: bool, frozen_at: Option<OffsetDateTime>) -> Self {
        Self {
            inner: Arc::new(ClockInner {
                controllable,
                frozen_at,
                offset_ms: AtomicI64::new(0),
                started: Instant::now(),
            }),
        }
    }

    pub fn is_controllable(&self) -> bool {
        self.inner.controllable
    }

    /// Moves time forward. Refused (returns false) on the system clock.
    pub fn advance(&self, by: Duration) -> bool {
        if !self.inner.controllable {
            return false;
        }
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.inner.offset_ms.fetch_add(ms, Ordering::SeqCst);
        true
    }

    fn offset(&self) -> Duration {
        // A negative offset (never set: `advance` only adds) counts as none.
        Duration::from_millis(
            u64::try_from(self.inner.offset_ms.load(Ordering::SeqCst)).unwrap_or(0),
        )
    }

    pub fn now(&self) -> OffsetDateTime {
        self.inner.frozen_at.unwrap_or_else(OffsetDateTime::now_utc) + self.offset()
    }

    /// Milliseconds since the Unix epoch: the representation stored in the database.
    ///
    /// Read on every verification, so it stays in integers: no calendar arithmetic.
    pub fn now_ms(&self) -> i64 {
        let base = match self.inner.frozen_at {
            Some(frozen) => to_ms(frozen),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        };
        base.saturating_add(self.inner.offset_ms.load(Ordering::SeqCst).max(0))
    }

    /// Monotonic time since the clock was created, including any test offset.
    pub fn elapsed(&self) -> Duration {
        match self.inner.frozen_at {
            Some(_) => self.offset(),
            None => self.inner.started.elapsed() + self.offset(),
        }
    }
}

pub fn to_ms(t: OffsetDateTime) -> i64 {
    let ms = t.unix_timestamp_nanos() / 1_000_000;
    // Always in range (even ±999,999 years is ~3e16 ms); saturate rather than wrap regardless.
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 rendering used in every API answer and audit event.
pub fn rfc3339(ms: i64) -> String {
    from_ms(ms)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;
pub const HOUR_MS: i64 = 60 * 60 * 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_ms_agrees_with_the_calendar_view_on_every_kind_of_clock() {
        for clock in [Clock::system(), Clock::controllable(), Clock::frozen()] {
            clock.advance(Duration::from_secs(91 * 24 * 3600));
            let before = to_ms(clock.now());
            let ms = clock.now_ms();
            let after = to_ms(clock.now());
            assert!(before <= ms && ms <= after, "{before} <= {ms} <= {after}");
        }
        let frozen = Clock::frozen();
        assert_eq!(frozen.now_ms(), to_ms(frozen.now()));
        frozen.advance(Duration::from_millis(1500));
        assert_eq!(frozen.now_ms(), to_ms(frozen.now()));
    }
}
