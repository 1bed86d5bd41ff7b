//! Human-readable times: "3 min ago" with the exact time on hover, and step
//! durations. The formatting is pure (tested natively); only reading the
//! clock and the browser's locale needs the browser.

use prost_types::Timestamp;

/// Milliseconds since the Unix epoch of a protobuf timestamp, if set.
pub fn timestamp_ms(ts: Option<&Timestamp>) -> Option<f64> {
    ts.map(|t| t.seconds as f64 * 1000.0 + f64::from(t.nanos) / 1e6)
}

/// How long ago `then_ms` was, seen at `now_ms`, in a few words. A time in
/// the future (clock skew between browser and server) reads "just now"
/// rather than "in 2 s", which would only confuse.
pub fn relative(now_ms: f64, then_ms: f64) -> String {
    let secs = ((now_ms - then_ms) / 1000.0).max(0.0) as u64;
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    match secs {
        0..=9 => "just now".to_owned(),
        10..=59 => format!("{secs} s ago"),
        60..=3_599 => format!("{} min ago", secs / 60),
        3_600..=86_399 => plural(secs / 3_600, "hour"),
        86_400..=2_591_999 => plural(secs / 86_400, "day"),
        _ => plural(secs / 2_592_000, "month"),
    }
}

/// A step's duration: "350 ms", "2.4 s", "1 min 5 s", "1 h 2 min".
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000),
    }
}

/// ISO 8601 in UTC (for `<time datetime>` and as the fallback exact time).
pub fn iso_utc(ms: f64) -> String {
    let total_secs = (ms / 1000.0).floor() as i64;
    let days = total_secs.div_euclid(86_400);
    let secs = total_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to a date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The clock, in milliseconds since the epoch.
pub fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    }
}

/// The exact time in the reader's locale and time zone (for `title`).
pub fn exact(ms: f64) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
        String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        iso_utc(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_rounds_down_to_the_largest_sensible_unit() {
        let now = 1_700_000_000_000.0;
        let ago = |s: f64| relative(now, now - s * 1000.0);
        assert_eq!(ago(3.0), "just now");
        assert_eq!(ago(42.0), "42 s ago");
        assert_eq!(ago(125.0), "2 min ago");
        assert_eq!(ago(3_600.0), "1 hour ago");
        assert_eq!(ago(7_300.0), "2 hours ago");
        assert_eq!(ago(86_400.0 * 3.0), "3 days ago");
        assert_eq!(ago(86_400.0 * 65.0), "2 months ago");
    }

    #[test]
    fn relative_treats_future_times_as_now() {
        assert_eq!(relative(1000.0, 60_000.0), "just now");
    }

    #[test]
    fn duration_picks_units_a_person_reads_at_a_glance() {
        assert_eq!(duration(0), "0 ms");
        assert_eq!(duration(350), "350 ms");
        assert_eq!(duration(2_449), "2.4 s");
        assert_eq!(duration(65_000), "1 min 5 s");
        assert_eq!(duration(3_720_000), "1 h 2 min");
        assert_eq!(duration(-5), "0 ms");
    }

    #[test]
    fn iso_utc_formats_known_instants() {
        assert_eq!(iso_utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400_000.0), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_700_000_000_123.0), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn timestamp_ms_keeps_sub_second_precision() {
        let ts = Timestamp {
            seconds: 2,
            nanos: 500_000_000,
        };
        assert_eq!(timestamp_ms(Some(&ts)), Some(2500.0));
        assert_eq!(timestamp_ms(None), None);
    }
}
