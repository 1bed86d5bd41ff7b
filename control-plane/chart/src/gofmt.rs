//! Number formatting the way Go's `strconv` and `encoding/json` do it.
//!
//! Helm's output is produced by Go, so every number that reaches a manifest has
//! to be spelled the way Go spells it: `1e+06` from `{{ .Values.x }}` when `x`
//! came from a values file (a `float64`), `1000000` from `toYaml` of the same
//! value (it goes through JSON first). These helpers are the single place that
//! knows those rules.

/// The shortest decimal digits that round-trip `value`, and the position of
/// the decimal point relative to them (`0.d1d2… × 10^point`).
///
/// `value` must be finite and non-zero.
fn shortest_digits(value: f64) -> (String, i32) {
    // Rust's `{:e}` prints the shortest round-tripping digits, exactly the
    // digits Go's `strconv.FormatFloat(v, _, -1, 64)` chooses.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    (digits, exponent + 1)
}

/// `%e` layout with the shortest digits: `d.ddde±XX`.
fn layout_exponent(negative: bool, digits: &str, point: i32) -> String {
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    let mut chars = digits.chars();
    out.push(chars.next().unwrap_or('0'));
    let rest: String = chars.collect();
    if !rest.is_empty() {
        out.push('.');
        out.push_str(&rest);
    }
    let exponent = point - 1;
    out.push('e');
    out.push(if exponent < 0 { '-' } else { '+' });
    let magnitude = exponent.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    out.push_str(&magnitude.to_string());
    out
}

/// `%f` layout with the shortest digits.
fn layout_fixed(negative: bool, digits: &str, point: i32) -> String {
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        for _ in 0..(-point) {
            out.push('0');
        }
        out.push_str(digits);
        return out;
    }
    let point = point as usize;
    if digits.len() <= point {
        out.push_str(digits);
        for _ in digits.len()..point {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..point]);
        out.push('.');
        out.push_str(&digits[point..]);
    }
    out
}

fn special(value: f64) -> Option<String> {
    if value.is_nan() {
        Some("NaN".to_owned())
    } else if value.is_infinite() {
        Some(if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned())
    } else if value == 0.0 {
        Some(if value.is_sign_negative() { "-0" } else { "0" }.to_owned())
    } else {
        None
    }
}

/// `strconv.FormatFloat(value, 'g', -1, 64)`, which is also what `fmt`'s `%v`
/// prints for a `float64`.
pub fn format_g(value: f64) -> String {
    if let Some(text) = special(value) {
        return text;
    }
    let (digits, point) = shortest_digits(value);
    let exponent = point - 1;
    // With the shortest precision Go decides by a precision of 6 (not 21 as
    // JavaScript does), which is why a values-file `1000000` prints `1e+06`.
    if !(-4..6).contains(&exponent) {
        layout_exponent(value < 0.0, &digits, point)
    } else {
        layout_fixed(value < 0.0, &digits, point)
    }
}

/// How `encoding/json` writes a `float64`, or `None` for NaN and infinities,
/// which `json.Marshal` refuses.
pub fn format_json_float(value: f64) -> Option<String> {
    if !value.is_finite() {
        return None;
    }
    if value == 0.0 {
        return Some(if value.is_sign_negative() { "-0" } else { "0" }.to_owned());
    }
    let (digits, point) = shortest_digits(value);
    let magnitude = value.abs();
    if !(1e-6..1e21).contains(&magnitude) {
        // Go writes `%e` here and then drops the exponent's leading zero.
        let text = layout_exponent(value < 0.0, &digits, point);
        return Some(match text.rsplit_once('e') {
            Some((mantissa, exp)) if exp.len() == 3 && exp.as_bytes()[1] == b'0' => {
                format!("{mantissa}e{}{}", &exp[..1], &exp[2..])
            }
            _ => text,
        });
    }
    Some(layout_fixed(value < 0.0, &digits, point))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_g_switches_to_exponent_from_a_million_like_go() {
        assert_eq!(format_g(1e6), "1e+06");
        assert_eq!(format_g(3e9), "3e+09");
        assert_eq!(format_g(123456.0), "123456");
        assert_eq!(format_g(1234567.0), "1.234567e+06");
        assert_eq!(format_g(9007199254740993.0), "9.007199254740992e+15");
        assert_eq!(format_g(1.5), "1.5");
        assert_eq!(format_g(0.0001), "0.0001");
        assert_eq!(format_g(0.00001), "1e-05");
        assert_eq!(format_g(-2.5e-7), "-2.5e-07");
        assert_eq!(format_g(1e21), "1e+21");
        assert_eq!(format_g(f64::INFINITY), "+Inf");
    }

    #[test]
    fn json_floats_stay_fixed_below_1e21() {
        assert_eq!(format_json_float(3e9).as_deref(), Some("3000000000"));
        assert_eq!(
            format_json_float(9007199254740993.0).as_deref(),
            Some("9007199254740992")
        );
        assert_eq!(format_json_float(1.5).as_deref(), Some("1.5"));
        assert_eq!(format_json_float(1e21).as_deref(), Some("1e+21"));
        assert_eq!(format_json_float(1e-7).as_deref(), Some("1e-7"));
        assert_eq!(format_json_float(0.000001).as_deref(), Some("0.000001"));
        assert_eq!(format_json_float(f64::NAN), None);
    }
}
