//! The TOML subset a manifest uses: top-level `key = value` pairs whose
//! values are strings or arrays of strings, with comments. Anything else is a
//! syntax error rather than silently misread; pulling in a full TOML parser
//! would make this crate as heavy as the helpers it is meant to serve.

use crate::{Error, Result};

/// A value in the subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Str(String),
    Array(Vec<String>),
}

/// A `key = value` pair and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) value: Value,
    pub(crate) line: usize,
}

/// Parses the whole document.
pub(crate) fn parse(text: &str) -> Result<Vec<Entry>> {
    let mut parser = Parser {
        chars: text.chars().peekable(),
        line: 1,
    };
    let mut entries = Vec::new();
    loop {
        parser.skip_blank_and_comments();
        let Some(&c) = parser.chars.peek() else {
            return Ok(entries);
        };
        if c == '[' {
            return Err(parser.error("tables are not supported in plugin.toml"));
        }
        let line = parser.line;
        let key = parser.key()?;
        parser.skip_spaces();
        if parser.chars.next() != Some('=') {
            return Err(parser.error(format!("expected `=` after `{key}`")));
        }
        parser.skip_spaces();
        let value = parser.value()?;
        parser.end_of_line()?;
        if entries.iter().any(|e: &Entry| e.key == key) {
            return Err(Error::Syntax {
                line,
                message: format!("duplicate key `{key}`"),
            });
        }
        entries.push(Entry { key, value, line });
    }
}

/// Quotes a string as a TOML basic string.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> Error {
        Error::Syntax {
            line: self.line,
            message: message.into(),
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next();
        if c == Some('\n') {
            self.line += 1;
        }
        c
    }

    fn skip_spaces(&mut self) {
        while matches!(self.chars.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn skip_comment(&mut self) {
        if self.chars.peek() == Some(&'#') {
            while !matches!(self.chars.peek(), None | Some('\n')) {
                self.bump();
            }
        }
    }

    fn skip_blank_and_comments(&mut self) {
        loop {
            self.skip_spaces();
            self.skip_comment();
            match self.chars.peek() {
                Some('\n' | '\r') => {
                    self.bump();
                }
                _ => return,
            }
        }
    }

    fn end_of_line(&mut self) -> Result<()> {
        self.skip_spaces();
        self.skip_comment();
        match self.chars.peek().copied() {
            None => Ok(()),
            Some('\r' | '\n') => {
                self.bump();
                Ok(())
            }
            Some(c) => Err(self.error(format!("unexpected `{c}` after the value"))),
        }
    }

    fn key(&mut self) -> Result<String> {
        let mut key = String::new();
        while let Some(&c) = self.chars.peek() {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                key.push(c);
                self.bump();
            } else {
                break;
            }
        }
        if key.is_empty() {
            return Err(self.error("expected a bare key"));
        }
        Ok(key)
    }

    fn value(&mut self) -> Result<Value> {
        match self.chars.peek() {
            Some('"' | '\'') => Ok(Value::Str(self.string()?)),
            Some('[') => {
                self.bump();
                self.array().map(Value::Array)
            }
            _ => Err(self.error("only strings and arrays of strings are supported")),
        }
    }

    fn array(&mut self) -> Result<Vec<String>> {
        let mut items = Vec::new();
        loop {
            self.skip_blank_and_comments();
            match self.chars.peek() {
                Some(']') => {
                    self.bump();
                    return Ok(items);
                }
                Some('"' | '\'') => items.push(self.string()?),
                _ => return Err(self.error("expected a string or `]` in the array")),
            }
            self.skip_blank_and_comments();
            match self.bump() {
                Some(',') => {}
                Some(']') => return Ok(items),
                _ => return Err(self.error("expected `,` or `]` in the array")),
            }
        }
    }

    fn string(&mut self) -> Result<String> {
        let quote = self.bump();
        let literal = quote == Some('\'');
        let mut out = String::new();
        loop {
            if matches!(self.chars.peek(), None | Some('\n')) {
                return Err(self.error("unterminated string"));
            }
            match self.bump() {
                None => return Err(self.error("unterminated string")),
                Some('\'') if literal => return Ok(out),
                Some('"') if !literal => return Ok(out),
                Some('\\') if !literal => out.push(self.escape()?),
                Some(c) => out.push(c),
            }
        }
    }

    fn escape(&mut self) -> Result<char> {
        match self.bump() {
            Some('"') => Ok('"'),
            Some('\\') => Ok('\\'),
            Some('n') => Ok('\n'),
            Some('t') => Ok('\t'),
            Some('r') => Ok('\r'),
            Some('u') => {
                let hex: String = (0..4).filter_map(|_| self.bump()).collect();
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| self.error(format!("bad unicode escape `\\u{hex}`")))
            }
            other => Err(self.error(format!("unsupported escape `\\{}`", other.unwrap_or(' ')))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strings_arrays_and_comments() {
        let entries = parse(
            "# a manifest\nid = \"x\" # trailing\nlit = 'a\\b'\ncaps = [\n  \"a\", # one\n  \"b\",\n]\nempty = []\n",
        )
        .unwrap();
        let values: Vec<_> = entries.iter().map(|e| (e.key.as_str(), &e.value)).collect();
        assert_eq!(
            values,
            [
                ("id", &Value::Str("x".into())),
                ("lit", &Value::Str("a\\b".into())),
                ("caps", &Value::Array(vec!["a".into(), "b".into()])),
                ("empty", &Value::Array(vec![])),
            ]
        );
        assert_eq!(entries[2].line, 4);
    }

    #[test]
    fn quoted_strings_read_back_unchanged() {
        let tricky = "say \"hi\"\\ \t\u{1}é";
        let entries = parse(&format!("k = {}\n", quote(tricky))).unwrap();
        assert_eq!(entries[0].value, Value::Str(tricky.into()));
    }

    #[test]
    fn rejects_what_the_subset_does_not_cover() {
        for (text, line) in [
            ("[table]\n", 1),
            ("a = 1\n", 1),
            ("a = \"x\"\nb = \"unterminated\n", 2),
            ("a = \"x\" b\n", 1),
            ("a = \"x\"\na = \"y\"\n", 2),
            ("a = [\"x\" \"y\"]\n", 1),
        ] {
            match parse(text) {
                Err(Error::Syntax { line: got, .. }) => assert_eq!(got, line, "{text:?}"),
                other => panic!("{text:?} parsed as {other:?}"),
            }
        }
    }
}
