//! The two glob dialects a chart meets: `.helmignore` lines (Go's
//! `filepath.Match`) and `.Files.Glob` (gobwas/glob with `/` separators).

/// Go's `filepath.Match`: `*` and `?` never cross `/`, `[...]` classes with
/// ranges and `^`/`!` negation, `\` escapes.
pub fn path_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&p, &n, false)
}

/// gobwas/glob with `/` as separator: like [`path_match`], plus `**` (which
/// crosses `/`) and `{a,b}` alternatives.
pub fn files_glob(pattern: &str, name: &str) -> bool {
    for expanded in expand_braces(pattern) {
        let p: Vec<char> = expanded.chars().collect();
        let n: Vec<char> = name.chars().collect();
        if matches(&p, &n, true) {
            return true;
        }
    }
    false
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

fn matches(p: &[char], n: &[char], double_star: bool) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => {
            let crosses = double_star && p.get(1) == Some(&'*');
            let rest = if crosses { &p[2..] } else { &p[1..] };
            for i in 0..=n.len() {
                if matches(rest, &n[i..], double_star) {
                    return true;
                }
                if i < n.len() && n[i] == '/' && !crosses {
                    return false;
                }
            }
            false
        }
        Some('?') => !n.is_empty() && n[0] != '/' && matches(&p[1..], &n[1..], double_star),
        Some('[') => {
            let Some(c) = n.first() else {
                return false;
            };
            let mut i = 1;
            let negate = matches!(p.get(1), Some('^' | '!'));
            if negate {
                i += 1;
            }
            let mut found = false;
            let mut first = true;
            while i < p.len() && (p[i] != ']' || first) {
                first = false;
                let mut lo = p[i];
                if lo == '\\' && i + 1 < p.len() {
                    i += 1;
                    lo = p[i];
                }
                let mut hi = lo;
                if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|c| *c != ']') {
                    hi = p[i + 2];
                    i += 2;
                }
                if lo <= *c && *c <= hi {
                    found = true;
                }
                i += 1;
            }
            if i >= p.len() {
                return false;
            }
            found != negate && *c != '/' && matches(&p[i + 1..], &n[1..], double_star)
        }
        Some('\\') if p.len() > 1 => {
            !n.is_empty() && n[0] == p[1] && matches(&p[2..], &n[1..], double_star)
        }
        Some(c) => !n.is_empty() && n[0] == *c && matches(&p[1..], &n[1..], double_star),
    }
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
}
