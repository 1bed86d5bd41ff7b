//! Source rewrites that map Helm idioms onto what the template engine can
//! express.
//!
//! The engine invokes a function-valued field only without arguments, so the
//! Go methods charts call with one (`.Files.Get "f"`,
//! `.Capabilities.APIVersions.Has "v"`) are turned into function calls
//! (`storeplaneFilesGet .Files "f"`). And its values behave as copies (a
//! function cannot change its argument in place), so the
//! mutating Sprig idiom `$_ := set $d "k" "v"` becomes an assignment
//! (`$d = set $d "k" "v"`) that has the same visible effect on `$d`.
//!
//! Only code inside `{{ }}` is touched, never string literals or comments,
//! and no line breaks are added, so error line numbers stay true.

const FILE_METHODS: [&str; 4] = ["Get", "GetBytes", "Glob", "Lines"];
const MUTATORS: [&str; 6] = [
    "set",
    "unset",
    "merge",
    "mergeOverwrite",
    "mustMerge",
    "mustMergeOverwrite",
];

/// Rewrites one template's source.
pub fn rewrite(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 64);
    let mut rest = source;
    while let Some(open) = find_open(rest) {
        out.push_str(&rest[..open + 2]);
        rest = &rest[open + 2..];
        let end = action_end(rest);
        let action = &rest[..end];
        // Most actions have nothing to rewrite; looking is cheaper than
        // rewriting them piece by piece.
        if ["$_", ".Files", ".Capabilities.APIVersions"]
            .iter()
            .any(|pattern| mentions(action, pattern))
        {
            out.push_str(&rewrite_action(action));
        } else {
            out.push_str(action);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Where the next `{{` starts. A search for the byte `{` (memchr), then a
/// look at the next: cheaper than a substring search for these short texts.
pub(super) fn find_open(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find('{') {
        let at = from + at;
        if bytes.get(at + 1) == Some(&b'{') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Whether `pattern` occurs in `text`: its first byte by memchr, then a
/// comparison. Actions are short; a substring searcher's setup costs more
/// than the search.
fn mentions(text: &str, pattern: &str) -> bool {
    let (bytes, wanted) = (text.as_bytes(), pattern.as_bytes());
    let mut from = 0;
    while let Some(at) = text[from..].find(char::from(wanted[0])) {
        let at = from + at;
        if bytes[at..].starts_with(wanted) {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Where the action starting at `text` ends (the index of its `}}`), skipping
/// string literals and comments.
fn action_end(text: &str) -> usize {
    let bytes = text.as_bytes();
    let trimmed = text.trim_start_matches(['-', ' ', '\t', '\n', '\r']);
    if trimmed.starts_with("/*") {
        let start = text.len() - trimmed.len();
        return match text[start..].find("*/") {
            Some(close) => text[start + close..]
                .find("}}")
                .map_or(text.len(), |e| start + close + e),
            None => text.len(),
        };
    }
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => i = skip_quoted(bytes, i),
            b'`' => {
                i = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == b'`')
                    .map_or(bytes.len(), |p| i + p + 2)
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn skip_quoted(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote => return i + 1,
            b'\n' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Rewrites the code of one action, leaving its literals alone.
fn rewrite_action(action: &str) -> String {
    let bytes = action.as_bytes();
    let mut out = String::with_capacity(action.len() + 32);
    let mut code_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let literal_end = match bytes[i] {
            b'"' | b'\'' => Some(skip_quoted(bytes, i)),
            b'`' => Some(
                bytes[i + 1..]
                    .iter()
                    .position(|&b| b == b'`')
                    .map_or(bytes.len(), |p| i + p + 2),
            ),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                Some(action[i..].find("*/").map_or(bytes.len(), |p| i + p + 2))
            }
            _ => None,
        };
        match literal_end {
            Some(end) => {
                out.push_str(&rewrite_code(&action[code_start..i]));
                out.push_str(&action[i..end]);
                i = end;
                code_start = end;
            }
            None => i += 1,
        }
    }
    out.push_str(&rewrite_code(&action[code_start..]));
    out
}

fn is_chain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '.'
}

fn rewrite_code(code: &str) -> String {
    let code = rewrite_mutation(code);
    let code = rewrite_method(
        &code,
        ".Capabilities.APIVersions",
        &["Has"],
        "storeplaneAPIVersions",
    );
    rewrite_method(&code, ".Files", &FILE_METHODS, "storeplaneFiles")
}

/// `<recv><object>.<Method>` → `<function><Method> <recv><object>`.
fn rewrite_method(code: &str, object: &str, methods: &[&str], function: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find(object) {
        let after = &rest[at + object.len()..];
        let method = methods.iter().find(|m| {
            after
                .strip_prefix('.')
                .and_then(|a| a.strip_prefix(**m))
                .is_some_and(|tail| {
                    !tail.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                })
        });
        let Some(method) = method else {
            out.push_str(&rest[..at + object.len()]);
            rest = after;
            continue;
        };
        let before = &rest[..at];
        let receiver_start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_chain_char(*c))
            .last()
            .map_or(at, |(i, _)| i);
        out.push_str(&before[..receiver_start]);
        out.push_str(function);
        out.push_str(method);
        out.push(' ');
        out.push_str(&before[receiver_start..]);
        out.push_str(object);
        rest = &after[1 + method.len()..];
    }
    out.push_str(rest);
    out
}

/// `$_ := set $d …` → `$d = set $d …`.
fn rewrite_mutation(code: &str) -> String {
    let trimmed = code.trim_start_matches(['-', ' ', '\t', '\n', '\r']);
    let lead = &code[..code.len() - trimmed.len()];
    let Some(rest) = trimmed.strip_prefix("$_") else {
        return code.to_owned();
    };
    let rest = rest.trim_start();
    let Some(rest) = rest.strip_prefix(":=").or_else(|| rest.strip_prefix('=')) else {
        return code.to_owned();
    };
    let rest = rest.trim_start();
    let Some(function) = MUTATORS.iter().find(|f| {
        rest.strip_prefix(**f)
            .is_some_and(|t| t.starts_with([' ', '\t']))
    }) else {
        return code.to_owned();
    };
    let args = rest[function.len()..].trim_start();
    let variable: String = args
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '$')
        .collect();
    let follows = args[variable.len()..].chars().next();
    if !variable.starts_with('$') || variable == "$_" || follows == Some('.') {
        return code.to_owned();
    }
    format!("{lead}{variable} = {function} {args}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_with_arguments_become_function_calls() {
        assert_eq!(
            rewrite(r#"{{ .Files.Get "a.txt" | indent 2 }} {{ $.Files.Glob "x/*" }}"#),
            r#"{{ storeplaneFilesGet .Files "a.txt" | indent 2 }} {{ storeplaneFilesGlob $.Files "x/*" }}"#
        );
        assert_eq!(
            rewrite(r#"{{ if .Capabilities.APIVersions.Has "policy/v1" }}"#),
            r#"{{ if storeplaneAPIVersionsHas .Capabilities.APIVersions "policy/v1" }}"#
        );
    }

    #[test]
    fn literals_comments_and_text_are_left_alone() {
        let source = r#"text .Files.Get {{/* .Files.Get */}}{{ ".Files.Get" }}"#;
        assert_eq!(rewrite(source), source);
    }

    #[test]
    fn mutating_set_on_a_variable_becomes_an_assignment() {
        assert_eq!(
            rewrite(r#"{{- $_ := set $labels "k" "v" }}"#),
            r#"{{- $labels = set $labels "k" "v" }}"#
        );
        let untouched = r#"{{ $_ := set .Values "k" "v" }}"#;
        assert_eq!(rewrite(untouched), untouched);
    }
}
