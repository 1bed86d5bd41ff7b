//! Kubernetes resource quantities (`500m`, `8Gi`, `1e3`), as apimachinery's
//! `resource.Quantity` parses, adds, compares and prints them, so quota and
//! limit messages read exactly as a real API server writes them.
//!
//! A value is held as an integer number of nano-units (`10^-9`): parsing
//! rounds anything finer up to `1n`, as Kubernetes does, and `i128` holds
//! every quantity the API accepts. The format (decimal SI, binary SI or
//! decimal exponent) travels with the value and decides how it prints.

use std::cmp::Ordering;
use std::fmt;

/// How a quantity prints: the suffix family it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `m`, `k`, `M`, `G`, ... (and no suffix).
    DecimalSi,
    /// `Ki`, `Mi`, `Gi`, ...
    BinarySi,
    /// `e3`, `E-6`, ...
    DecimalExponent,
}

/// A resource quantity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quantity {
    nanos: i128,
    format: Format,
}

const NANO: i128 = 1_000_000_000;

impl Quantity {
    /// Zero, printed `0`.
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSi,
    };

    /// An integer count (`pods: 3`), decimal SI.
    pub fn count(n: i64) -> Self {
        Self {
            nanos: i128::from(n) * NANO,
            format: Format::DecimalSi,
        }
    }

    /// Parses a quantity string; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let (negative, rest) = match text.as_bytes()[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_end);
        if number.is_empty() || number.matches('.').count() > 1 {
            return None;
        }
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let (base, exponent, format) = interpret_suffix(suffix)?;
        // value = (whole.fraction) * base^exponent, in nanos, rounded up.
        let digits = format!("{whole}{fraction}");
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        let scale = i32::try_from(fraction.len()).ok()?;
        let nanos = match base {
            10 => scaled_up(mantissa, exponent - scale + 9)?,
            _ => {
                let factor = 1i128.checked_shl(u32::try_from(exponent).ok()?)?;
                scaled_up(mantissa.checked_mul(factor)?.checked_mul(NANO)?, -scale)?
            }
        };
        let mut format = format;
        if format == Format::BinarySi && nanos > 0 && nanos < NANO {
            // Below 1, binary suffixes would round: Kubernetes switches to decimal.
            format = Format::DecimalSi;
        }
        Some(Self {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }

    /// Whether the quantity is zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// `self + other`, keeping `self`'s format unless `self` is zero (then
    /// `other`'s), like `Quantity.Add`.
    pub fn add(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos + other.nanos,
            format: if self.is_zero() {
                other.format
            } else {
                self.format
            },
        }
    }

    /// `self - other`, with `Quantity.Sub`'s format rule.
    pub fn sub(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos - other.nanos,
            format: if self.is_zero() {
                other.format
            } else {
                self.format
            },
        }
    }

    /// The value in milli-units, rounded up (`MilliValue`).
    pub fn milli_value(&self) -> i128 {
        div_ceil(self.nanos, 1_000_000)
    }

    /// Whether the quantity is negative.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl fmt::Display for Quantity {
    /// The canonical form (`Quantity.String`): the largest suffix that keeps
    /// an integer mantissa, `0` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let mut format = self.format;
        if format == Format::BinarySi && (self.nanos.abs() < 1024 * NANO || self.nanos % NANO != 0)
        {
            // Small or fractional values would round in binary: decimal.
            format = Format::DecimalSi;
        }
        if format == Format::BinarySi {
            let mut mantissa = self.nanos / NANO;
            let mut exponent = 0;
            while mantissa % 1024 == 0 && exponent < 6 {
                mantissa /= 1024;
                exponent += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exponent];
            return write!(f, "{mantissa}{suffix}");
        }
        let mut mantissa = self.nanos;
        let mut exponent: i32 = -9;
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        while exponent.rem_euclid(3) != 0 {
            mantissa *= 10;
            exponent -= 1;
        }
        if format == Format::DecimalExponent {
            return if exponent == 0 {
                write!(f, "{mantissa}")
            } else {
                write!(f, "{mantissa}e{exponent}")
            };
        }
        let suffix = match exponent {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            _ => "",
        };
        write!(f, "{mantissa}{suffix}")
    }
}

/// `(base, exponent, format)` of a suffix, as apimachinery's suffixer.
fn interpret_suffix(suffix: &str) -> Option<(i32, i32, Format)> {
    let decimal = |e| Some((10, e, Format::DecimalSi));
    let binary = |e| Some((2, e, Format::BinarySi));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((10, exponent.parse().ok()?, Format::DecimalExponent))
        }
    }
}

/// `value * 10^shift`, rounding a fractional result up (towards +inf).
fn scaled_up(value: i128, shift: i32) -> Option<i128> {
    if shift >= 0 {
        value.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)
    } else {
        let divisor = 10i128.checked_pow(u32::try_from(-shift).ok()?)?;
        Some(div_ceil(value, divisor))
    }
}

fn div_ceil(value: i128, divisor: i128) -> i128 {
    let quotient = value / divisor;
    if value % divisor > 0 {
        quotient + 1
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        Quantity::parse(text)
            .unwrap_or_else(|| panic!("{text}"))
            .to_string()
    }

    #[test]
    fn parses_and_prints_canonically_like_apimachinery() {
        for (input, printed) in [
            ("0", "0"),
            ("500m", "500m"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("1000m", "1"),
            ("4", "4"),
            ("1000", "1k"),
            ("1200", "1200"),
            ("128Mi", "128Mi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("8Gi", "8Gi"),
            ("12e3", "12e3"),
            ("1e3", "1e3"),
            ("100m", "100m"),
            ("0.1", "100m"),
            ("1n", "1n"),
            ("0.0000000001", "1n"),
            ("-500m", "-500m"),
            ("512Ki", "512Ki"),
            ("0.5Ki", "512"),
        ] {
            assert_eq!(canonical(input), printed, "{input}");
        }
        for bad in ["", "abc", "1.2.3", "5X", "1e", "m"] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn sums_keep_the_first_non_zero_format() {
        let sum = Quantity::ZERO.add(Quantity::parse("512Mi").unwrap());
        assert_eq!(sum.to_string(), "512Mi");
        let sum = sum.add(Quantity::parse("512Mi").unwrap());
        assert_eq!(sum.to_string(), "1Gi");
        let cpu = Quantity::parse("100m")
            .unwrap()
            .add(Quantity::parse("3700m").unwrap());
        assert_eq!(cpu.to_string(), "3800m");
        assert_eq!(cpu.sub(cpu).to_string(), "0");
        assert!(Quantity::parse("1").unwrap() < Quantity::parse("1001m").unwrap());
        assert_eq!(Quantity::parse("1.5").unwrap().milli_value(), 1500);
    }
}
