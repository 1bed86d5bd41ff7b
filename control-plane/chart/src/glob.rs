//! The two glob dialects a chart meets: `.helmignore` lines (Go's
//! `filepath.Match`) and `.Files.Glob` (gobwas/glob with `/` separators).

/// Go's `filepath.Match`: `*` and `?` never cross `/`, `[...]` classes with
/// ranges and `^`/`!` negation, `\` escapes.
pub fn path_match(pattern: &str, name: &str) -> bool {
    matches(pattern, name, false)
}

/// gobwas/glob with `/` as separator: like [`path_match`], plus `**` (which
/// crosses `/`) and `{a,b}` alternatives.
pub fn files_glob(pattern: &str, name: &str) -> bool {
    expand_braces(pattern)
        .iter()
        .any(|expanded| matches(expanded, name, true))
}

fn expand_braces(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_owned()];
    };
    let mut depth = 0;
    let mut close = None;
    for (i, c) in pattern[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_owned()];
    };
    let (head, body, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
        .into_iter()
        .flat_map(|part| expand_braces(&format!("{head}{part}{tail}")))
        .collect()
}

fn matches(pattern: &str, name: &str, double_star: bool) -> bool {
    // Paths and patterns are nearly always ASCII, where a byte is a
    // character: no copies.
    if pattern.is_ascii() && name.is_ascii() {
        return matches_in(pattern.as_bytes(), name.as_bytes(), double_star);
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches_in(&p, &n, double_star)
}

/// The matcher over the characters of a pattern and a name, as `T`s (bytes
/// of ASCII text, or `char`s).
fn matches_in<T: Copy + PartialOrd + From<u8>>(p: &[T], n: &[T], double_star: bool) -> bool {
    let is = |c: Option<&T>, wanted: u8| c == Some(&T::from(wanted));
    let Some(&first) = p.first() else {
        return n.is_empty();
    };
    if first == T::from(b'*') {
        let crosses = double_star && is(p.get(1), b'*');
        let rest = if crosses { &p[2..] } else { &p[1..] };
        for i in 0..=n.len() {
            if matches_in(rest, &n[i..], double_star) {
                return true;
            }
            if i < n.len() && n[i] == T::from(b'/') && !crosses {
                return false;
            }
        }
        return false;
    }
    if first == T::from(b'?') {
        return !n.is_empty() && n[0] != T::from(b'/') && matches_in(&p[1..], &n[1..], double_star);
    }
    if first == T::from(b'[') {
        let Some(&c) = n.first() else {
            return false;
        };
        let mut i = 1;
        let negate = is(p.get(1), b'^') || is(p.get(1), b'!');
        if negate {
            i += 1;
        }
        let mut found = false;
        let mut first = true;
        while i < p.len() && (p[i] != T::from(b']') || first) {
            first = false;
            let mut lo = p[i];
            if lo == T::from(b'\\') && i + 1 < p.len() {
                i += 1;
                lo = p[i];
            }
            let mut hi = lo;
            if is(p.get(i + 1), b'-') && p.get(i + 2).is_some_and(|c| *c != T::from(b']')) {
                hi = p[i + 2];
                i += 2;
            }
            if lo <= c && c <= hi {
                found = true;
            }
            i += 1;
        }
        if i >= p.len() {
            return false;
        }
        return found != negate
            && c != T::from(b'/')
            && matches_in(&p[i + 1..], &n[1..], double_star);
    }
    if first == T::from(b'\\') && p.len() > 1 {
        return !n.is_empty() && n[0] == p[1] && matches_in(&p[2..], &n[1..], double_star);
    }
    !n.is_empty() && n[0] == first && matches_in(&p[1..], &n[1..], double_star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_stays_in_one_path_segment_but_double_star_crosses() {
        assert!(path_match("*.tgz", "a.tgz"));
        assert!(!path_match("*.tgz", "dir/a.tgz"));
        assert!(files_glob("files/*.sh", "files/init.sh"));
        assert!(!files_glob("files/*.sh", "files/sub/init.sh"));
        assert!(files_glob("files/**.sh", "files/sub/init.sh"));
        assert!(files_glob("conf/{a,b}.conf", "conf/b.conf"));
        assert!(path_match("[a-c]?.txt", "bx.txt"));
        assert!(!path_match("[!a-c]?.txt", "bx.txt"));
    }

    #[test]
    fn non_ascii_names_match_by_character() {
        assert!(path_match("?.txt", "é.txt"));
        assert!(path_match("[à-ê]*", "é-b"));
        assert!(!path_match("é/*", "é/a/b"));
        assert!(files_glob("**/é.sh", "x/y/é.sh"));
    }
}
