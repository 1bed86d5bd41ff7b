//! `semverCompare`: the constraint language of Masterminds/semver v3, which
//! charts use mostly to test `.Capabilities.KubeVersion.GitVersion`.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    prerelease: String,
}

impl Version {
    fn compare(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_prerelease(&self.prerelease, &other.prerelease))
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// A version with wildcard or missing parts marked, as a constraint holds it.
struct Pattern {
    version: Version,
    minor_dirty: bool,
    patch_dirty: bool,
    any: bool,
}

fn split_version(text: &str) -> (&str, &str) {
    let text = text.split('+').next().unwrap_or(text);
    match text.find('-') {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text, ""),
    }
}

fn parse_version(text: &str) -> Result<Version, String> {
    let trimmed = text.trim().trim_start_matches(['v', 'V']);
    let (core, prerelease) = split_version(trimmed);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err("Invalid Semantic Version".to_owned());
    }
    let number = |i: usize| -> Result<u64, String> {
        parts.get(i).map_or(Ok(0), |p| {
            p.parse().map_err(|_| "Invalid Semantic Version".to_owned())
        })
    };
    Ok(Version {
        major: number(0)?,
        minor: number(1)?,
        patch: number(2)?,
        prerelease: prerelease.to_owned(),
    })
}

fn parse_pattern(text: &str) -> Result<Pattern, String> {
    let trimmed = text.trim().trim_start_matches(['v', 'V']);
    let (core, prerelease) = split_version(trimmed);
    let wild = |p: &str| matches!(p, "x" | "X" | "*");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(format!("improper constraint: {text}"));
    }
    let any = wild(parts[0]);
    let minor_dirty = any || parts.get(1).is_none_or(|p| wild(p));
    let patch_dirty = minor_dirty || parts.get(2).is_none_or(|p| wild(p));
    let number = |i: usize| -> Result<u64, String> {
        match parts.get(i) {
            Some(p) if !wild(p) => p
                .parse()
                .map_err(|_| format!("improper constraint: {text}")),
            _ => Ok(0),
        }
    };
    Ok(Pattern {
        version: Version {
            major: if any { 0 } else { number(0)? },
            minor: number(1)?,
            patch: number(2)?,
            prerelease: prerelease.to_owned(),
        },
        minor_dirty,
        patch_dirty,
        any,
    })
}

fn check(op: &str, c: &Pattern, v: &Version) -> bool {
    // A version with a pre-release only satisfies a constraint that has one.
    if !v.prerelease.is_empty() && c.version.prerelease.is_empty() {
        return false;
    }
    let dirty = c.minor_dirty || c.patch_dirty;
    let cv = &c.version;
    match op {
        "" | "=" => {
            if c.any {
                return true;
            }
            if dirty {
                v.major == cv.major
                    && (c.minor_dirty || v.minor == cv.minor)
                    && (c.patch_dirty || v.patch == cv.patch)
            } else {
                v.compare(cv) == Ordering::Equal
            }
        }
        "!=" => !check("=", c, v),
        ">" => {
            if !dirty {
                return v.compare(cv) == Ordering::Greater;
            }
            match v.major.cmp(&cv.major) {
                Ordering::Greater => true,
                Ordering::Less => false,
                Ordering::Equal if c.minor_dirty => false,
                Ordering::Equal if c.patch_dirty => v.minor > cv.minor,
                Ordering::Equal => v.compare(cv) == Ordering::Greater,
            }
        }
        "<" => v.compare(cv) == Ordering::Less,
        ">=" | "=>" => v.compare(cv) != Ordering::Less,
        "<=" | "=<" => {
            if !dirty {
                return v.compare(cv) != Ordering::Greater;
            }
            match v.major.cmp(&cv.major) {
                Ordering::Greater => false,
                Ordering::Less => true,
                Ordering::Equal if c.minor_dirty => true,
                Ordering::Equal if c.patch_dirty => v.minor <= cv.minor,
                Ordering::Equal => v.compare(cv) != Ordering::Greater,
            }
        }
        "~" | "~>" => {
            if v.compare(cv) == Ordering::Less {
                return false;
            }
            if cv.major == 0 && cv.minor == 0 && cv.patch == 0 && !c.minor_dirty && !c.patch_dirty {
                return true;
            }
            v.major == cv.major && (c.minor_dirty || v.minor == cv.minor)
        }
        "^" => {
            if v.compare(cv) == Ordering::Less {
                return false;
            }
            if cv.major > 0 || c.minor_dirty {
                v.major == cv.major
            } else if cv.minor > 0 || c.patch_dirty {
                v.major == 0 && v.minor == cv.minor
            } else {
                v.major == 0 && v.minor == 0 && v.patch == cv.patch
            }
        }
        _ => false,
    }
}

/// Whether `version` satisfies `constraint` (`>=1.19-0`, `^1.2 || ~2.1`,
/// `1.2 - 1.4`, …).
pub fn matches(constraint: &str, version: &str) -> Result<bool, String> {
    let version = parse_version(version)?;
    for group in constraint.split("||") {
        let mut terms: Vec<(String, String)> = Vec::new();
        let tokens: Vec<&str> = group.split([',', ' ']).filter(|t| !t.is_empty()).collect();
        let mut i = 0;
        while i < tokens.len() {
            let token = tokens[i];
            if tokens.get(i + 1) == Some(&"-") && i + 2 < tokens.len() {
                terms.push((">=".to_owned(), token.to_owned()));
                terms.push(("<=".to_owned(), tokens[i + 2].to_owned()));
                i += 3;
                continue;
            }
            let op_len = token
                .find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | '~' | '^'))
                .unwrap_or(token.len());
            let (op, rest) = token.split_at(op_len);
            if rest.is_empty() {
                // `>= 1.2`: the operator stands apart from its version.
                let next = tokens
                    .get(i + 1)
                    .ok_or_else(|| format!("improper constraint: {constraint}"))?;
                terms.push((op.to_owned(), (*next).to_owned()));
                i += 2;
                continue;
            }
            terms.push((op.to_owned(), rest.to_owned()));
            i += 1;
        }
        if terms.is_empty() {
            return Err(format!("improper constraint: {constraint}"));
        }
        let mut all = true;
        for (op, text) in &terms {
            let pattern = parse_pattern(text)?;
            if !check(op, &pattern, &version) {
                all = false;
                break;
            }
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_version_checks_behave_like_masterminds_semver() {
        assert!(matches(">=1.19-0", "v1.36.0").unwrap());
        assert!(matches(">=1.19-0", "v1.20.3-gke.100").unwrap());
        assert!(!matches(">=1.19", "v1.20.3-gke.100").unwrap());
        assert!(matches("<1.25.0", "1.24.9").unwrap());
        assert!(!matches(">1.36", "1.36.5").unwrap());
        assert!(matches("^1.2.0", "1.9.0").unwrap());
        assert!(!matches("~1.2.0", "1.3.0").unwrap());
        assert!(matches("1.2.x", "1.2.7").unwrap());
        assert!(matches("1.0 - 2.0", "1.5.0").unwrap());
        assert!(matches("<1.0 || >=2.0", "2.1.0").unwrap());
        assert!(matches(">= 1.2, < 3.0", "2.0.0").unwrap());
        assert!(matches("*", "3.0.0").unwrap());
    }
}
