//! Retry delays: exponential with jitter, capped.
//!
//! The attempt count lives in the store row (so backoff survives restarts
//! and replica changes), and the delay goes to the work queue's timer; what
//! is left is one formula, so it is written here rather than pulled in.

use std::time::Duration;

/// First retry delay.
const BASE: Duration = Duration::from_secs(2);
/// Longest delay.
const CAP: Duration = Duration::from_secs(300);

/// The delay before attempt `attempt + 1`: `BASE * 2^attempt`, capped, then
/// jittered by up to ±20 % so stores failing together do not retry together.
pub fn delay(attempt: i32) -> Duration {
    let exp = u32::try_from(attempt.clamp(0, 16)).unwrap_or(0);
    let raw = BASE.saturating_mul(1u32 << exp).min(CAP);
    let mut byte = [0u8; 1];
    let jitter = if getrandom::fill(&mut byte).is_ok() {
        f64::from(byte[0]) / 255.0 * 0.4 - 0.2
    } else {
        0.0
    };
    raw.mul_f64(1.0 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_and_cap() {
        for attempt in 0..12 {
            let expected = BASE.saturating_mul(1 << attempt).min(CAP).as_secs_f64();
            let got = delay(attempt).as_secs_f64();
            assert!(
                got >= expected * 0.79 && got <= expected * 1.21,
                "{attempt}: {got}"
            );
        }
    }
}
