//! The label-selector grammar of apimachinery's `labels.Parse`: the same
//! lexer (special symbols `= ! ( ) , > <`, keywords `in`/`notin` that are
//! plain words in value position) and recursive-descent parser, so that a
//! malformed selector is refused with the apiserver's own words
//! (`unable to parse requirement: found '=', expected: identifier`).

/// A token of the selector lexer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(text: &str) -> Option<Token> {
    Some(match text {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits a selector into tokens, ending with [`Token::End`].
fn lex(text: &str) -> Vec<(Token, String)> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        while pos < bytes.len() && is_space(bytes[pos]) {
            pos += 1;
        }
        if pos >= bytes.len() {
            out.push((Token::End, String::new()));
            return out;
        }
        let start = pos;
        if is_special(bytes[pos]) {
            // The longest run of special symbols that is still a token
            // (every single symbol is one, so there always is one).
            let mut token = (Token::Identifier, start + 1);
            let mut end = start;
            while end < bytes.len() && is_special(bytes[end]) {
                end += 1;
                match keyword(&text[start..end]) {
                    Some(found) => token = (found, end),
                    None => break,
                }
            }
            pos = token.1;
            out.push((token.0, text[start..pos].to_owned()));
        } else {
            while pos < bytes.len() && !is_special(bytes[pos]) && !is_space(bytes[pos]) {
                pos += 1;
            }
            let word = &text[start..pos];
            out.push((keyword(word).unwrap_or(Token::Identifier), word.to_owned()));
        }
    }
}

/// The operator of one requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Exists,
    DoesNotExist,
    Equals,
    NotEquals,
    In,
    NotIn,
    GreaterThan,
    LessThan,
}

/// One parsed requirement: key, operator, values (a set, sorted).
pub(super) type Requirement = (String, Op, Vec<String>);

struct Parser {
    items: Vec<(Token, String)>,
    pos: usize,
}

/// Whether the lookahead is in value position, where `in`/`notin` are words.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

impl Parser {
    fn lookahead(&self, context: Context) -> (Token, String) {
        let (token, literal) = self
            .items
            .get(self.pos)
            .cloned()
            .unwrap_or((Token::End, String::new()));
        match token {
            Token::In | Token::NotIn if context == Context::Values => (Token::Identifier, literal),
            _ => (token, literal),
        }
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = self.lookahead(context);
        self.pos = (self.pos + 1).min(self.items.len().saturating_sub(1));
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(requirement);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let (next, next_literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{next_literal}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => {
                            return Err(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            ));
                        }
                    }
                }
                Token::End => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let (mut token, mut literal) = self.consume(Context::Values);
        let mut op = None;
        if token == Token::DoesNotExist {
            op = Some(Op::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let key = literal;
        let (next, _) = self.lookahead(Context::Values);
        // `!key` takes no operator: whatever follows is the caller's to refuse.
        if op.is_some() || matches!(next, Token::End | Token::Comma) {
            return Ok((key, op.unwrap_or(Op::Exists), Vec::new()));
        }
        let (token, literal) = self.consume(Context::KeyAndOperator);
        let op = match token {
            Token::In => Op::In,
            Token::Equals | Token::DoubleEquals => Op::Equals,
            Token::GreaterThan => Op::GreaterThan,
            Token::LessThan => Op::LessThan,
            Token::NotIn => Op::NotIn,
            Token::NotEquals => Op::NotEquals,
            _ => {
                return Err(format!(
                    "found '{literal}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        };
        let mut values = match op {
            Op::In | Op::NotIn => self.values()?,
            _ => vec![self.exact_value()?],
        };
        values.sort();
        values.dedup();
        Ok((key, op, values))
    }

    fn values(&mut self) -> Result<Vec<String>, String> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.identifiers()?;
                let (token, _) = self.consume(Context::Values);
                if token != Token::ClosedPar {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    fn identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut values: Vec<String> = Vec::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.push(literal);
                    let (next, next_literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => {
                            return Err(format!("found '{next_literal}', expected: ',' or ')'"));
                        }
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    let (next, _) = self.lookahead(Context::Values);
                    if next == Token::ClosedPar {
                        values.push(String::new());
                        return Ok(values);
                    }
                    if next == Token::Comma {
                        self.consume(Context::Values);
                        values.push(String::new());
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<String, String> {
        let (token, _) = self.lookahead(Context::Values);
        if matches!(token, Token::End | Token::Comma) {
            return Ok(String::new());
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(literal)
        } else {
            Err(format!("found '{literal}', expected: identifier"))
        }
    }
}

/// Parses a label selector into requirements, or the apiserver's error.
pub(super) fn parse(text: &str) -> Result<Vec<Requirement>, String> {
    Parser {
        items: lex(text),
        pos: 0,
    }
    .parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_like_the_apiservers() {
        for (selector, error) in [
            (
                "app===x",
                "unable to parse requirement: found '=', expected: identifier",
            ),
            (
                "env in prod",
                "unable to parse requirement: found 'prod' expected: '('",
            ),
            (
                "a b=c",
                "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
            ),
            ("!a=b", "found '=', expected: ',' or 'end of string'"),
            ("a,", "found '', expected: identifier after ','"),
            (
                "a in (x y)",
                "unable to parse requirement: found 'y', expected: ',' or ')'",
            ),
            (
                ",a",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
        ] {
            assert_eq!(parse(selector).unwrap_err(), error, "{selector}");
        }
    }

    #[test]
    fn keywords_are_words_in_value_position() {
        assert_eq!(
            parse("x in (in,notin),y=in").unwrap(),
            vec![
                (
                    "x".to_owned(),
                    Op::In,
                    vec!["in".to_owned(), "notin".to_owned()]
                ),
                ("y".to_owned(), Op::Equals, vec!["in".to_owned()]),
            ]
        );
        assert_eq!(
            parse("x in (foo,,baz),y,z notin ()").unwrap(),
            vec![
                (
                    "x".to_owned(),
                    Op::In,
                    vec![String::new(), "baz".to_owned(), "foo".to_owned()]
                ),
                ("y".to_owned(), Op::Exists, vec![]),
                ("z".to_owned(), Op::NotIn, vec![String::new()]),
            ]
        );
    }
}
