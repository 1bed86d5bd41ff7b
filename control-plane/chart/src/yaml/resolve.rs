//! `yaml.v2`'s `resolve`: what an unquoted scalar means.

/// What a plain scalar resolves to under `yaml.v2`'s YAML 1.1 rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// `~`, `null`, `Null`, `NULL` or nothing at all.
    Null,
    /// `true`, `yes`, `on`, `y` and their negative and capitalised forms.
    Bool(bool),
    /// An integer that fits an `int64`.
    Int(i64),
    /// An integer that fits only a `uint64`.
    Uint(u64),
    /// A float, including `.inf` and `.nan`.
    Float(f64),
    /// A date or date-time. `yaml.v2` hands these back as the original string
    /// when decoding into `interface{}`, but refuses to write such a string
    /// unquoted.
    Timestamp,
    /// The merge key `<<`.
    Merge,
    /// Anything else: the text itself.
    Str,
}

/// Resolves a plain scalar exactly as `yaml.v2`'s `resolve("", text)` does.
pub fn resolve(text: &str) -> Resolved {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        "<<" => return Resolved::Merge,
        _ => {}
    }
    let first = text.as_bytes()[0];
    match first {
        b'.' => match text.parse::<f64>() {
            Ok(value) if is_go_float_syntax(text) => Resolved::Float(value),
            _ => Resolved::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => resolve_number(text),
        _ => Resolved::Str,
    }
}

fn resolve_number(text: &str) -> Resolved {
    if is_timestamp(text) {
        return Resolved::Timestamp;
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    let int = parse_go_int(&plain);
    if let Ok(value) = int {
        if let Ok(value) = i64::try_from(value) {
            return Resolved::Int(value);
        }
        // Go's ParseUint takes no sign, so `+18446744073709551615` is no uint.
        if let (Ok(value), false) = (u64::try_from(value), plain.starts_with('+')) {
            return Resolved::Uint(value);
        }
    }
    if is_yaml_style_float(&plain)
        && let Ok(value) = plain.parse::<f64>()
    {
        return Resolved::Float(value);
    }
    // Go's ParseInt(…, 0, 64) already accepts `0b`; what is left is an
    // integer too large for 64 bits, which Go keeps as a big.Int. Nothing in a
    // chart can use one, so it is read as the nearest float.
    if let Err(IntError::Range(value)) = int {
        return Resolved::Float(value);
    }
    Resolved::Str
}

enum IntError {
    Syntax,
    Range(f64),
}

/// `strconv.ParseInt(text, 0, 64)` widened to `i128` so that the `uint64`
/// range can be told apart from a real overflow.
fn parse_go_int(text: &str) -> Result<i128, IntError> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(IntError::Syntax);
    }
    let mut value: i128 = 0;
    for c in digits.chars() {
        let digit = i128::from(c.to_digit(radix).unwrap_or(0));
        value = match value
            .checked_mul(i128::from(radix))
            .and_then(|v| v.checked_add(digit))
        {
            Some(v) if v <= i128::from(u64::MAX) => v,
            _ => {
                let approx = digits.chars().fold(0f64, |acc, c| {
                    acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
                });
                return Err(IntError::Range(if negative { -approx } else { approx }));
            }
        };
    }
    let value = if negative { -value } else { value };
    if value < i128::from(i64::MIN) {
        return Err(IntError::Range(value as f64));
    }
    Ok(value)
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == bytes.len()
}

/// Whether Go's `strconv.ParseFloat` would take `text` (which starts with a
/// dot) as a decimal float. Rust also accepts forms Go does not, so the shape
/// is checked separately.
fn is_go_float_syntax(text: &str) -> bool {
    is_yaml_style_float(text)
}

/// The timestamp shapes `yaml.v2` recognises (`2006-1-2`, with an optional
/// `T`/`t`/space separated time, fraction and zone).
pub fn is_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    let number = |i: &mut usize, min: usize, max: usize| -> Option<u32> {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        if *i - start < min {
            return None;
        }
        text[start..*i].parse().ok()
    };
    let expect = |i: &mut usize, c: u8| -> bool {
        if bytes.get(*i) == Some(&c) {
            *i += 1;
            true
        } else {
            false
        }
    };
    let Some(year) = number(&mut i, 4, 4) else {
        return false;
    };
    if !expect(&mut i, b'-') {
        return false;
    }
    let Some(month) = number(&mut i, 1, 2) else {
        return false;
    };
    if !expect(&mut i, b'-') {
        return false;
    }
    let Some(day) = number(&mut i, 1, 2) else {
        return false;
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return false;
    }
    if i == bytes.len() {
        return true;
    }
    let zoned = match bytes[i] {
        b'T' | b't' => true,
        b' ' => false,
        _ => return false,
    };
    i += 1;
    let Some(hour) = number(&mut i, 1, 2) else {
        return false;
    };
    if !expect(&mut i, b':') {
        return false;
    }
    let Some(minute) = number(&mut i, 1, 2) else {
        return false;
    };
    if !expect(&mut i, b':') {
        return false;
    }
    let Some(second) = number(&mut i, 1, 2) else {
        return false;
    };
    if hour > 23 || minute > 59 || second > 59 {
        return false;
    }
    if expect(&mut i, b'.') && number(&mut i, 1, 9).is_none() {
        return false;
    }
    if !zoned {
        return i == bytes.len();
    }
    match bytes.get(i) {
        Some(b'Z') => i + 1 == bytes.len(),
        Some(b'+' | b'-') => {
            i += 1;
            let hours = number(&mut i, 2, 2);
            let colon = expect(&mut i, b':');
            let minutes = number(&mut i, 2, 2);
            hours.is_some() && colon && minutes.is_some() && i == bytes.len()
        }
        _ => false,
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_booleans_and_octal_resolve_like_yaml_v2() {
        assert_eq!(resolve("yes"), Resolved::Bool(true));
        assert_eq!(resolve("Off"), Resolved::Bool(false));
        assert_eq!(resolve("0644"), Resolved::Int(420));
        assert_eq!(resolve("0x1F"), Resolved::Int(31));
        assert_eq!(resolve("1_000"), Resolved::Int(1000));
        assert_eq!(resolve("08"), Resolved::Float(8.0));
        assert_eq!(resolve("1e3"), Resolved::Float(1000.0));
        assert_eq!(resolve(".5"), Resolved::Float(0.5));
        assert_eq!(resolve("~"), Resolved::Null);
        assert_eq!(resolve("18446744073709551615"), Resolved::Uint(u64::MAX));
        assert_eq!(resolve("-"), Resolved::Str);
        assert_eq!(resolve("1.2.3"), Resolved::Str);
        assert_eq!(resolve("2001-12-14"), Resolved::Timestamp);
        assert_eq!(resolve("2001-12-14T21:59:43.10Z"), Resolved::Timestamp);
        assert_eq!(resolve("2001-13-14"), Resolved::Str);
        assert_eq!(resolve("v1"), Resolved::Str);
    }
}
