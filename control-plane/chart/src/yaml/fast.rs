//! A fast path for the YAML that charts print and values files hold: block
//! mappings and sequences of plain, quoted and literal (`|`) scalars, with
//! comments.
//!
//! A render ends by reading every manifest the templates printed, and the
//! general parser (`saphyr-parser`, an event stream of owned tokens) took
//! twice as long over that as the template engine took to print it. This
//! reader handles the block-style subset in place and gives up -- returns
//! `None` -- at the first thing outside it: flow collections other than `{}`
//! and `[]`, anchors, aliases, tags, folded or indented block scalars,
//! multi-line plain or quoted scalars, tabs and other control characters
//! outside literal text, explicit and merge keys, document markers, and every
//! error. The full parser then decides, with its own error messages. Scalars
//! go through the same resolution as there (`plain_scalar`, `plain_key`),
//! so a value means the same whichever reader read it.

use serde_json::{Map, Value};

use super::parse::{Numbers, plain_key, plain_scalar};

/// The text is outside the subset, or not valid YAML: the full parser
/// decides.
struct Unsupported;

type Read<T> = Result<T, Unsupported>;

/// Reads `text` if it is inside the subset; `None` otherwise.
pub(super) fn parse(text: &str, numbers: Numbers) -> Option<Value> {
    if !plain_characters(text) {
        return None;
    }
    let mut reader = Reader {
        lines: text
            .split_inclusive('\n')
            .map(|raw| {
                let (raw, newline) = match raw.strip_suffix('\n') {
                    Some(raw) => (raw, true),
                    None => (raw, false),
                };
                let text = raw.trim_start_matches(' ');
                Line {
                    raw,
                    indent: raw.len() - text.len(),
                    text,
                    newline,
                }
            })
            .collect(),
        next: 0,
        pending: None,
        numbers,
    };
    let value = match reader.peek().ok()? {
        None => Value::Null,
        Some(first) => reader.node(first).ok()?,
    };
    // Anything left over was not part of the document's one node.
    matches!(reader.peek(), Ok(None)).then_some(value)
}

/// No line breaks but `\n`, no control characters but tab, nothing that
/// YAML 1.1 reads as a line break (NEL, U+2028, U+2029) and no byte-order
/// mark: the full parser handles those.
fn plain_characters(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Printable ASCII, line breaks and tabs: the common case, checked a
    // block at a time without stopping early, which the compiler vectorizes.
    let simple = |b: u8| (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\t';
    if bytes
        .chunks(64)
        .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & simple(b)))
    {
        return true;
    }
    bytes.iter().enumerate().all(|(i, &b)| match b {
        b'\n' | b'\t' => true,
        0..0x20 | 0x7f => false,
        // U+0080..U+009F.
        0xc2 => !matches!(bytes.get(i + 1), Some(0x80..=0x9f)),
        // U+2028, U+2029.
        0xe2 => !(bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9))),
        // U+FEFF, U+FFFE, U+FFFF.
        0xef => !matches!(
            (bytes.get(i + 1), bytes.get(i + 2)),
            (Some(0xbb), Some(0xbf)) | (Some(0xbf), Some(0xbe | 0xbf))
        ),
        _ => true,
    })
}

struct Line<'a> {
    /// The whole line, without its line break.
    raw: &'a str,
    /// Leading spaces.
    indent: usize,
    /// The rest.
    text: &'a str,
    /// Whether a line break ends the line (all but maybe the last do).
    newline: bool,
}

/// Where the reader stands: a line's content from `indent` on.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    indent: usize,
    text: &'a str,
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    /// The line being read.
    next: usize,
    /// The rest of line `next` after a `- `, when a node starts there
    /// (`- name: x`, `- - a`).
    pending: Option<Cursor<'a>>,
    numbers: Numbers,
}

impl<'a> Reader<'a> {
    /// The next line with content, skipping blank and comment lines;
    /// `None` at the end.
    fn peek(&mut self) -> Read<Option<Cursor<'a>>> {
        if let Some(pending) = self.pending {
            return Ok(Some(pending));
        }
        while let Some(line) = self.lines.get(self.next) {
            if line.text.is_empty() || line.text.starts_with('#') {
                self.next += 1;
                continue;
            }
            let marker =
                line.indent == 0 && (line.text.starts_with("---") || line.text.starts_with("..."));
            if marker || line.text.contains('\t') {
                return Err(Unsupported);
            }
            return Ok(Some(Cursor {
                indent: line.indent,
                text: line.text,
            }));
        }
        Ok(None)
    }

    /// Done with the current line.
    fn advance(&mut self) {
        self.pending = None;
        self.next += 1;
    }

    /// A collection starting at `at`.
    fn node(&mut self, at: Cursor<'a>) -> Read<Value> {
        if is_entry(at.text) {
            self.sequence(at.indent)
        } else if key_colon(at.text).is_some() {
            self.mapping(at.indent)
        } else {
            Err(Unsupported)
        }
    }

    fn mapping(&mut self, indent: usize) -> Read<Value> {
        let mut map = Map::new();
        while let Some(at) = self.peek()? {
            if at.indent < indent {
                break;
            }
            if at.indent > indent || is_entry(at.text) {
                return Err(Unsupported);
            }
            let (name, rest) = key(at.text, self.numbers)?;
            let value = self.value(indent, rest, true)?;
            // yaml.v2 keeps the last of duplicate keys.
            map.insert(name, value);
        }
        Ok(Value::Object(map))
    }

    fn sequence(&mut self, indent: usize) -> Read<Value> {
        let mut items = Vec::new();
        while let Some(at) = self.peek()? {
            if at.indent < indent {
                break;
            }
            if at.indent > indent {
                return Err(Unsupported);
            }
            if !is_entry(at.text) {
                // The next key of the mapping this sequence is the value of
                // (`key:\n- a\nnext: b`), which that mapping checks.
                break;
            }
            let after = &at.text[1..];
            let rest = after.trim_start_matches(' ');
            let inner = Cursor {
                indent: indent + 1 + (after.len() - rest.len()),
                text: rest,
            };
            let item = if is_entry(rest) {
                self.pending = Some(inner);
                self.sequence(inner.indent)?
            } else if key_colon(rest).is_some() {
                self.pending = Some(inner);
                self.mapping(inner.indent)?
            } else {
                self.value(indent, rest, false)?
            };
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    /// The value after a key (`in_mapping`) or a `- `, whose text on the
    /// current line is `rest`; `indent` is the indentation of the mapping
    /// or sequence it belongs to. Reads through the value's last line.
    fn value(&mut self, indent: usize, rest: &'a str, in_mapping: bool) -> Read<Value> {
        let rest = rest.trim_start_matches(' ');
        if rest.is_empty() || rest.starts_with('#') {
            self.advance();
            return match self.peek()? {
                Some(below) if below.indent > indent => self.node(below),
                // `key:` over an unindented `- item`.
                Some(below) if in_mapping && below.indent == indent && is_entry(below.text) => {
                    self.sequence(indent)
                }
                _ => Ok(Value::Null),
            };
        }
        let (value, after) = match rest.as_bytes()[0] {
            b'|' => return self.literal(indent, &rest[1..]),
            b'"' => {
                let (text, after) = double_quoted(rest)?;
                (Value::String(text), after)
            }
            b'\'' => {
                let (text, after) = single_quoted(rest)?;
                (Value::String(text), after)
            }
            b'{' if rest.starts_with("{}") => (Value::Object(Map::new()), &rest[2..]),
            b'[' if rest.starts_with("[]") => (Value::Array(Vec::new()), &rest[2..]),
            b'[' => {
                let (items, after) = flow_scalars(rest, self.numbers)?;
                (Value::Array(items), after)
            }
            b'-' if is_entry(rest) => return Err(Unsupported),
            b'{' | b'}' | b']' | b',' | b'&' | b'*' | b'!' | b'>' | b'%' | b'@' | b'`' | b'?'
            | b':' => return Err(Unsupported),
            _ => {
                let text = match rest.find(" #") {
                    Some(comment) => &rest[..comment],
                    None => rest,
                }
                .trim_end_matches(' ');
                // `a: b: c`, `a: b:` are errors; let the parser say so.
                if text.contains(": ") || text.ends_with(':') {
                    return Err(Unsupported);
                }
                let value = plain_scalar(text, self.numbers).map_err(|_| Unsupported)?;
                (value, "")
            }
        };
        if !only_comment(after) {
            return Err(Unsupported);
        }
        self.advance();
        // A more indented line would continue the scalar (or be an error).
        match self.peek()? {
            Some(below) if below.indent > indent => Err(Unsupported),
            _ => Ok(value),
        }
    }

    /// A literal block scalar (`|`, `|-`, `|+`) whose header follows the
    /// `|` on the current line, in a collection indented by `parent`.
    fn literal(&mut self, parent: usize, header: &str) -> Read<Value> {
        #[derive(PartialEq)]
        enum Chomp {
            Clip,
            Strip,
            Keep,
        }
        let (chomp, header) = match header.as_bytes().first() {
            Some(b'-') => (Chomp::Strip, &header[1..]),
            Some(b'+') => (Chomp::Keep, &header[1..]),
            _ => (Chomp::Clip, header),
        };
        // An explicit indentation (`|2`) or anything else: not here.
        if !only_comment(header) {
            return Err(Unsupported);
        }
        let start = self.next + 1;
        // The first line with content sets the indentation; blank lines
        // before it may not be indented further.
        let mut first = start;
        let mut blank_indent = 0;
        while let Some(line) = self.lines.get(first).filter(|l| l.text.is_empty()) {
            blank_indent = blank_indent.max(line.indent);
            first += 1;
        }
        let indent = match self.lines.get(first) {
            Some(line) if line.indent > parent && line.indent >= blank_indent => line.indent,
            // Empty, or oddly indented: the full parser.
            _ => return Err(Unsupported),
        };
        let mut end = start;
        let mut last_content = first;
        while let Some(line) = self.lines.get(end) {
            if line.text.is_empty() {
                // Spaces beyond the indentation would be content.
                if line.indent > indent {
                    return Err(Unsupported);
                }
            } else if line.indent >= indent {
                last_content = end;
            } else {
                break;
            }
            end += 1;
        }
        // A scalar that runs to the end of a text without a final line
        // break, ending in blank lines: the full parser's special case.
        let at_end = end == self.lines.len();
        if at_end && last_content + 1 != end && !self.lines[end - 1].newline {
            return Err(Unsupported);
        }
        let mut text = String::new();
        for (i, line) in self.lines[start..=last_content].iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            if !line.text.is_empty() {
                text.push_str(&line.raw[indent..]);
            }
        }
        if chomp != Chomp::Strip && self.lines[last_content].newline {
            text.push('\n');
        }
        if chomp == Chomp::Keep {
            for line in &self.lines[last_content + 1..end] {
                if line.newline {
                    text.push('\n');
                }
            }
        }
        self.pending = None;
        self.next = end;
        Ok(Value::String(text))
    }
}

/// `- item` or a lone `-`.
fn is_entry(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Nothing, or spaces and a comment.
fn only_comment(text: &str) -> bool {
    let trimmed = text.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < text.len())
}

/// Where the `:` of a mapping entry's key is, if this line is one.
fn key_colon(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let colon = match bytes.first()? {
        b'"' => {
            let mut i = 1;
            loop {
                match bytes.get(i)? {
                    b'\\' => i += 2,
                    b'"' => break i + 1,
                    _ => i += 1,
                }
            }
        }
        b'\'' => {
            let mut i = 1;
            loop {
                match (bytes.get(i)?, bytes.get(i + 1)) {
                    (b'\'', Some(b'\'')) => i += 2,
                    (b'\'', _) => break i + 1,
                    _ => i += 1,
                }
            }
        }
        b'-' | b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!'
        | b'|' | b'>' | b'%' | b'@' | b'`' => return None,
        _ => {
            return (0..bytes.len())
                .find(|&i| bytes[i] == b':' && matches!(bytes.get(i + 1), None | Some(b' ')));
        }
    };
    // After a quoted key, the `:` must follow at once.
    (bytes.get(colon) == Some(&b':') && matches!(bytes.get(colon + 1), None | Some(b' ')))
        .then_some(colon)
}

/// The key of the mapping entry on this line (see [`key_colon`]) and the
/// text after its `:`.
fn key(text: &str, numbers: Numbers) -> Read<(String, &str)> {
    let colon = key_colon(text).ok_or(Unsupported)?;
    let quoted = match text.as_bytes()[0] {
        b'"' => Some(double_quoted(&text[..colon])?),
        b'\'' => Some(single_quoted(&text[..colon])?),
        _ => None,
    };
    let name = match quoted {
        Some((name, "")) => name,
        Some(_) => return Err(Unsupported),
        None => {
            let plain = &text[..colon];
            if plain.contains(" #") || plain.ends_with(' ') || plain.len() > 1024 || plain == "<<" {
                return Err(Unsupported);
            }
            plain_key(plain, numbers).map_err(|_| Unsupported)?
        }
    };
    Ok((name, &text[colon + 1..]))
}

/// A flow sequence of scalars closed on this line (`["sh", "-c", x]`), and
/// the text after it. Nested collections, empty entries and plain scalars
/// with anything that could be flow syntax are left to the full parser.
fn flow_scalars(text: &str, numbers: Numbers) -> Read<(Vec<Value>, &str)> {
    let mut items = Vec::new();
    let mut rest = &text[1..];
    loop {
        rest = rest.trim_start_matches(' ');
        let (item, after) = match rest.as_bytes().first() {
            Some(b'"') => {
                let (text, after) = double_quoted(rest)?;
                (Value::String(text), after)
            }
            Some(b'\'') => {
                let (text, after) = single_quoted(rest)?;
                (Value::String(text), after)
            }
            _ => {
                let end = rest.find([',', ']']).ok_or(Unsupported)?;
                let plain = rest[..end].trim_end_matches(' ');
                // Words only (`ALL`, `get`, `v1.2`, `-1`, `/app`): flow plain scalars
                // are where parsers disagree (saphyr refuses ` -,`).
                let word = |c: char| c.is_ascii_alphanumeric() || "_./+=-".contains(c);
                let starts_well = plain
                    .starts_with(|c: char| c.is_ascii_alphanumeric() || "_/.".contains(c))
                    || (plain.starts_with('-')
                        && plain[1..].starts_with(|c: char| c.is_ascii_digit()));
                if !starts_well || !plain.chars().all(word) {
                    return Err(Unsupported);
                }
                let value = plain_scalar(plain, numbers).map_err(|_| Unsupported)?;
                (value, &rest[end..])
            }
        };
        items.push(item);
        let after = after.trim_start_matches(' ');
        match after.as_bytes().first() {
            Some(b',') => rest = &after[1..],
            Some(b']') => return Ok((items, &after[1..])),
            _ => return Err(Unsupported),
        }
    }
}

/// A `"..."` scalar closed on this line, and the text after it.
fn double_quoted(text: &str) -> Read<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &text[i + 1..])),
            '\\' => {
                let (_, escape) = chars.next().ok_or(Unsupported)?;
                let hex = |chars: &mut std::iter::Skip<std::str::CharIndices<'_>>, n: usize| {
                    let mut code = 0u32;
                    for _ in 0..n {
                        let digit = chars.next().and_then(|(_, c)| c.to_digit(16));
                        code = code * 16 + digit.ok_or(Unsupported)?;
                    }
                    char::from_u32(code).ok_or(Unsupported)
                };
                out.push(match escape {
                    '\\' => '\\',
                    '"' => '"',
                    '/' => '/',
                    ' ' => ' ',
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'v' => '\u{b}',
                    'a' => '\u{7}',
                    'e' => '\u{1b}',
                    '0' => '\0',
                    'x' => hex(&mut chars, 2)?,
                    'u' => hex(&mut chars, 4)?,
                    'U' => hex(&mut chars, 8)?,
                    _ => return Err(Unsupported),
                });
            }
            c => out.push(c),
        }
    }
    // Continued on the next line.
    Err(Unsupported)
}

/// A `'...'` scalar closed on this line, and the text after it.
fn single_quoted(text: &str) -> Read<(String, &str)> {
    let mut out = String::new();
    let mut rest = &text[1..];
    loop {
        let quote = rest.find('\'').ok_or(Unsupported)?;
        out.push_str(&rest[..quote]);
        rest = &rest[quote + 1..];
        match rest.strip_prefix('\'') {
            Some(after) => {
                out.push('\'');
                rest = after;
            }
            None => return Ok((out, rest)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::full_parse;
    use super::*;

    /// Both readers, when the fast one takes the text.
    fn same(text: &str) -> Option<Value> {
        let fast = parse(text, Numbers::Typed)?;
        let full = full_parse(text, Numbers::Typed).unwrap_or_else(|e| {
            panic!("the full parser refused what the fast one read: {e}\n{text}")
        });
        assert_eq!(fast, full, "{text}");
        Some(fast)
    }

    #[test]
    fn reads_what_charts_print_as_the_full_parser_does() {
        let documents = [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    app.kubernetes.io/name: shop\n    \"helm.sh/chart\": shop-0.1.0\ndata:\n  a: \"1\"\n  b: 'it''s'\n  c: 010\n  d: yes\n  e: 1.5e3\n  f: ~\n  g:\n  h: {}\n  i: []\n",
            "spec:\n  containers:\n    - name: app\n      image: nginx:1.27 # pinned\n      args:\n      - --port=8080\n      - -v\n      env:\n        - name: A\n          value: \"x\\ty\\u00e9\"\n      ports: []\n",
            "data:\n  script.sh: |\n    #!/bin/sh\n    echo hi\n\n      indented\n  strip: |-\n    a\n    b\n\n  keep: |+\n    a\n\n  after: 1\n",
            "data:\n  last: |\n    ends without a break",
            "data:\n  last: |-\n    x\n    y",
            "data:\n  last: |+\n    x",
            "list:\n- a\n- - b\n  - c\n- k: v\n  l: w\n-\n- # nothing\n- |\n  text\n",
            "command: [\"sh\", \"-c\", 'it''s', 3, yes , -1, v1.2] # run\ndrop: [ALL]\n",
            "# a comment\n\nkey: value\n# trailing\n",
            "a: http://x.y/z?q=1#frag\nb: a#b\nc: \"quoted: colon\" # c\nd: '#not a comment'\n",
            "0644: octal key\ny: boolean key\n1.0: float key\n",
            "",
            "# only a comment",
        ];
        for text in documents {
            assert!(same(text).is_some(), "the fast reader gave up on:\n{text}");
        }
    }

    #[test]
    fn leaves_everything_else_to_the_full_parser() {
        let outside = [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: {b: 1}\n",
            "a: [1, [2]]\n",
            "a: [1, {b: 2}]\n",
            "a: [b: 1]\n",
            "a: [1, ]\n",
            "a: [1,\n  2]\n",
            "a: >\n  folded\n",
            "a: |2\n   indented\n",
            "a: plain\n  continued\n",
            "a: \"open\n  quote\"\n",
            "a:\tb\n",
            "a: b\r\n",
            "? a\n: b\n",
            "<<: {a: 1}\n",
            "a: b: c\n",
            "a: - b\n",
            "a: 1\n  b: 2\n",
            "- a\nb: 1\n",
            "a: 1\n---\nb: 2\n",
            "just a scalar\n",
            "a: |\n  x\n\n  ",
            "a: \"\\N\"\n",
            "\u{feff}a: 1\n",
            "a: 1\u{85}\n",
        ];
        for text in outside {
            assert_eq!(parse(text, Numbers::Typed), None, "read:\n{text}");
        }
    }

    /// Every document the charts in this repository render, and their values
    /// files, read the same both ways -- and nearly all of them take the fast
    /// path.
    #[test]
    fn the_repositorys_charts_read_the_same_both_ways() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs: Vec<std::path::PathBuf> = Vec::new();
        let parents = [
            root.join("testdata"),
            root.join("../../charts"),
            root.join("../../plugins"),
        ];
        for parent in parents {
            for entry in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.join("Chart.yaml").is_file() {
                    dirs.push(path.clone());
                }
                for chart in std::fs::read_dir(path.join("charts"))
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    dirs.push(chart.path());
                }
            }
        }
        assert!(dirs.len() >= 5, "found only {dirs:?}");
        let (mut fast, mut total) = (0, 0);
        for dir in dirs {
            let mut texts = Vec::new();
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("values") && name.ends_with(".yaml") {
                    let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                    let full = full_parse(&text, Numbers::Float).ok();
                    if let (Some(value), Some(full)) = (parse(&text, Numbers::Float), full) {
                        assert_eq!(value, full, "{}", entry.path().display());
                    }
                }
            }
            let chart = crate::Chart::load(&dir).unwrap_or_else(|e| panic!("{e}"));
            let rendered = chart
                .render(&crate::RenderOptions::default())
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            for (_, file) in &rendered.files {
                texts.extend(crate::manifest::split_documents(file));
            }
            for text in texts {
                total += 1;
                if same(&text).is_some() {
                    fast += 1;
                }
            }
        }
        assert!(
            fast * 10 >= total * 9,
            "only {fast} of {total} documents took the fast path"
        );
    }
}

#[cfg(test)]
mod mutations {
    use super::super::parse::full_parse;
    use super::*;

    /// Real documents with small edits (a character inserted, removed or
    /// replaced, a line's indentation changed): wherever the fast reader
    /// takes the result, the full parser must read the same value.
    #[test]
    fn edited_documents_never_read_differently() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut documents = Vec::new();
        for dir in [
            "testdata/shop",
            "testdata/edge",
            "../../plugins/medusa/charts/medusa",
        ] {
            let chart = crate::Chart::load(root.join(dir)).unwrap();
            let rendered = chart.render(&crate::RenderOptions::default()).unwrap();
            for (_, file) in &rendered.files {
                documents.extend(crate::manifest::split_documents(file));
            }
            documents.push(std::fs::read_to_string(root.join(dir).join("values.yaml")).unwrap());
        }
        // More with `FAST_ROUNDS=20000 FAST_EDITS=8 FAST_SEED=7` (release
        // build advised).
        let setting = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(default)
        };
        let (rounds, edits) = (setting("FAST_ROUNDS", 20), setting("FAST_EDITS", 3));
        let seed = setting("FAST_SEED", 1) as u64;
        // A fixed xorshift, so a failure reproduces.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ seed;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let pieces = [
            " ", "  ", "-", "- ", ":", ": ", "#", " #", "\"", "'", "|", "|-", "|+", ">", "[", "]",
            "{", "}", ",", "&a", "*a", "!", "\\", "\\n", "\t", "\n", "\n  ", "\n- ", "?", "%", "@",
            "~", "0x1", "1e3", "yes", "null", "<<", "é", "---", "...", "/", ".", "[/a, .b]",
        ];
        let (mut checked, mut taken) = (0, 0);
        for document in &documents {
            for _ in 0..rounds {
                let mut text = document.clone();
                for _ in 0..1 + next(edits) {
                    let boundaries: Vec<usize> = (0..=text.len())
                        .filter(|&i| text.is_char_boundary(i))
                        .collect();
                    let at = boundaries[next(boundaries.len())];
                    match next(3) {
                        0 => text.insert_str(at, pieces[next(pieces.len())]),
                        1 => {
                            let end = boundaries.iter().copied().find(|&b| b > at).unwrap_or(at);
                            text.replace_range(at..end, "");
                        }
                        _ => {
                            let end = boundaries.iter().copied().find(|&b| b > at).unwrap_or(at);
                            text.replace_range(at..end, pieces[next(pieces.len())]);
                        }
                    }
                }
                checked += 1;
                if let Some(fast) = parse(&text, Numbers::Typed) {
                    taken += 1;
                    match full_parse(&text, Numbers::Typed) {
                        Ok(full) => assert_eq!(fast, full, "read differently:\n{text}"),
                        Err(e) => panic!("read what the full parser refuses ({e}):\n{text}"),
                    }
                }
            }
        }
        if edits <= 3 {
            assert!(
                taken > checked / 4,
                "the fast reader took only {taken} of {checked}"
            );
        }
    }
}
