//! Retry delays: exponential with jitter, capped.
//!
//! The attempt count lives in the store row (so backoff survives restarts
//! and replica changes), and the delay goes to the work queue's timer; what
//! is left is one formula, so it is written here rather than pulled in.

use std::time::Duration;

/// A backoff policy: `base * 2^attempt`, capped, jittered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// First retry delay.
    pub base: Duration,
    /// Longest delay.
    pub cap: Duration,
    /// Relative jitter either way (0.2: ±20 %), so stores failing together
    /// do not retry together.
    pub jitter: f64,
}

impl Policy {
    /// The reconciler's policy: 2 s, doubling, at most 5 min, ±20 %.
    pub const DEFAULT: Policy = Policy {
        base: Duration::from_secs(2),
        cap: Duration::from_secs(300),
        jitter: 0.2,
    };

    /// The delay before attempt `attempt + 1`, before jitter.
    pub fn nominal(&self, attempt: i32) -> Duration {
        let exp = u32::try_from(attempt.clamp(0, 16)).unwrap_or(0);
        self.base.saturating_mul(1u32 << exp).min(self.cap)
    }

    /// The delay before attempt `attempt + 1`: [`Policy::nominal`] jittered.
    pub fn delay(&self, attempt: i32) -> Duration {
        let mut byte = [0u8; 1];
        let unit = if getrandom::fill(&mut byte).is_ok() {
            f64::from(byte[0]) / 255.0 * 2.0 - 1.0
        } else {
            0.0
        };
        self.nominal(attempt).mul_f64(1.0 + unit * self.jitter)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_and_cap() {
        let policy = Policy::DEFAULT;
        for attempt in 0..12 {
            let expected = policy
                .base
                .saturating_mul(1 << attempt)
                .min(policy.cap)
                .as_secs_f64();
            let got = policy.delay(attempt).as_secs_f64();
            assert!(
                got >= expected * 0.79 && got <= expected * 1.21,
                "{attempt}: {got}"
            );
        }
    }

    #[test]
    fn without_jitter_the_delay_is_the_nominal_one() {
        let policy = Policy {
            jitter: 0.0,
            ..Policy::DEFAULT
        };
        assert_eq!(policy.delay(3), Duration::from_secs(16));
        assert_eq!(policy.delay(20), Duration::from_secs(300));
    }
}
