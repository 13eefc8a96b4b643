//! The lexer: splits a template into text and action tokens, applying the `{{-` / `-}}` trim
//! markers and dropping comments, as Go's `text/template/parse` lexer does.

use crate::tree::ArgKind;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Literal text between actions (already trimmed).
    Text(String),
    /// `{{`.
    Open,
    /// `}}`.
    Close,
    /// A bare word: a function name or keyword (`if`, `true`, `nil`, …).
    Ident(String),
    /// `.name` (one link of a field chain).
    Field(String),
    /// `$` or `$name`.
    Var(String),
    /// `.` alone.
    Dot,
    /// A quoted or raw string literal, unescaped.
    Str(String),
    /// A character constant (`'a'`), as its code point.
    Char(i64),
    /// A number literal, as written.
    Number(String),
    /// `|`.
    Pipe,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `:=`.
    Declare,
    /// `=`.
    Assign,
    /// `,`.
    Comma,
}

/// A token, its byte offset in the source and whether whitespace preceded it.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
    pub spaced: bool,
}

/// A lexing error at a byte offset.
pub(crate) type LexError = (usize, String);

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Tokenizes `src`.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let mut lx = Lexer {
        src,
        pos: 0,
        toks: Vec::new(),
    };
    lx.run()?;
    Ok(lx.toks)
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    toks: Vec<Token>,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn push(&mut self, tok: Tok, pos: usize, spaced: bool) {
        self.toks.push(Token { tok, pos, spaced });
    }

    fn run(&mut self) -> Result<(), LexError> {
        let mut trim_next = false;
        while self.pos < self.src.len() {
            let start = self.pos;
            let end = self.rest().find("{{").map_or(self.src.len(), |i| start + i);
            let mut text = &self.src[start..end];
            if trim_next {
                text = text.trim_start_matches(is_space);
            }
            let left_trim =
                self.src[end..].starts_with("{{-") && self.src[end + 3..].starts_with(is_space);
            if left_trim {
                text = text.trim_end_matches(is_space);
            }
            if !text.is_empty() {
                self.push(Tok::Text(text.to_owned()), start, false);
            }
            if end == self.src.len() {
                self.pos = end;
                break;
            }
            self.pos = end + if left_trim { 3 } else { 2 };
            trim_next = self.action(end)?;
        }
        Ok(())
    }

    /// Lexes one action starting at `open`; returns whether it ended with a trim marker.
    fn action(&mut self, open: usize) -> Result<bool, LexError> {
        let after = self.rest().trim_start_matches(is_space);
        if after.starts_with("/*") {
            return self.comment(open);
        }
        self.push(Tok::Open, open, false);
        loop {
            let before = self.pos;
            let trimmed = self.rest().trim_start_matches(is_space);
            self.pos = self.src.len() - trimmed.len();
            let spaced = self.pos > before;
            if spaced && self.rest().starts_with("-}}") {
                self.push(Tok::Close, self.pos, spaced);
                self.pos += 3;
                return Ok(true);
            }
            if self.rest().starts_with("}}") {
                self.push(Tok::Close, self.pos, spaced);
                self.pos += 2;
                return Ok(false);
            }
            let Some(c) = self.rest().chars().next() else {
                return Err((open, "unclosed action".into()));
            };
            self.token(c, spaced)?;
        }
    }

    /// A comment action `{{/* … */}}`, with optional trim markers on either side.
    fn comment(&mut self, open: usize) -> Result<bool, LexError> {
        let Some(end) = self.rest().find("*/") else {
            return Err((open, "unclosed comment".into()));
        };
        self.pos += end + 2;
        let trimmed = self.rest().trim_start_matches(is_space);
        let spaced = trimmed.len() < self.rest().len();
        let skip = self.rest().len() - trimmed.len();
        if spaced && trimmed.starts_with("-}}") {
            self.pos += skip + 3;
            return Ok(true);
        }
        if self.rest().starts_with("}}") {
            self.pos += 2;
            return Ok(false);
        }
        Err((open, "comment ends before closing delimiter".into()))
    }

    fn token(&mut self, c: char, spaced: bool) -> Result<(), LexError> {
        let start = self.pos;
        let next = self.rest()[c.len_utf8()..].chars().next();
        let single = |tok| (tok, 1);
        let (tok, len) = match c {
            '|' => single(Tok::Pipe),
            '(' => single(Tok::LParen),
            ')' => single(Tok::RParen),
            ',' => single(Tok::Comma),
            '=' => single(Tok::Assign),
            ':' if next == Some('=') => (Tok::Declare, 2),
            '"' => return self.quoted(spaced),
            '`' => return self.raw(spaced),
            '\'' => return self.char_const(spaced),
            '$' => {
                let len = 1 + self.word_len(1);
                (Tok::Var(self.rest()[..len].to_owned()), len)
            }
            '.' if next.is_some_and(|n| n.is_ascii_digit()) => self.number(),
            '.' => {
                let len = self.word_len(1);
                if len == 0 {
                    single(Tok::Dot)
                } else {
                    (Tok::Field(self.rest()[1..=len].to_owned()), len + 1)
                }
            }
            '+' | '-' if next.is_some_and(|n| n.is_ascii_digit() || n == '.') => self.number(),
            c if c.is_ascii_digit() => self.number(),
            c if is_word(c) => {
                let len = self.word_len(0);
                (Tok::Ident(self.rest()[..len].to_owned()), len)
            }
            _ => return Err((start, format!("unexpected character {c:?} in action"))),
        };
        self.push(tok, start, spaced);
        self.pos += len;
        Ok(())
    }

    /// Byte length of the word starting `skip` bytes into the rest.
    fn word_len(&self, skip: usize) -> usize {
        self.rest()[skip..]
            .char_indices()
            .find(|(_, c)| !is_word(*c))
            .map_or(self.rest().len() - skip, |(i, _)| i)
    }

    fn number(&self) -> (Tok, usize) {
        let rest = self.rest();
        let mut len = 0;
        let mut prev = ' ';
        for (i, c) in rest.char_indices() {
            let sign_ok = i == 0 || matches!(prev, 'e' | 'E' | 'p' | 'P');
            let ok = c.is_ascii_alphanumeric() || c == '.' || c == '_';
            if !(ok || (matches!(c, '+' | '-') && sign_ok)) {
                break;
            }
            len = i + c.len_utf8();
            prev = c;
        }
        (Tok::Number(rest[..len].to_owned()), len)
    }

    fn quoted(&mut self, spaced: bool) -> Result<(), LexError> {
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.rest()[1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.push(Tok::Str(out), start, spaced);
                    self.pos += i + 2;
                    return Ok(());
                }
                '\n' => break,
                '\\' => unescape(&mut chars, &mut out).map_err(|m| (start + 1 + i, m))?,
                c => out.push(c),
            }
        }
        Err((start, "unterminated quoted string".into()))
    }

    fn raw(&mut self, spaced: bool) -> Result<(), LexError> {
        let start = self.pos;
        let Some(end) = self.rest()[1..].find('`') else {
            return Err((start, "unterminated raw quoted string".into()));
        };
        let text = self.rest()[1..=end].replace('\r', "");
        self.push(Tok::Str(text), start, spaced);
        self.pos += end + 2;
        Ok(())
    }

    fn char_const(&mut self, spaced: bool) -> Result<(), LexError> {
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.rest()[1..].char_indices();
        let close = match chars.next() {
            Some((i, '\\')) => {
                unescape(&mut chars, &mut out).map_err(|m| (start + 1 + i, m))?;
                chars.next()
            }
            Some((_, c)) if c != '\'' => {
                out.push(c);
                chars.next()
            }
            _ => None,
        };
        let mut it = out.chars();
        match (close, it.next(), it.next()) {
            (Some((i, '\'')), Some(c), None) => {
                self.push(Tok::Char(i64::from(u32::from(c))), start, spaced);
                self.pos += i + 2;
                Ok(())
            }
            _ => Err((start, "malformed character constant".into())),
        }
    }
}

/// Decodes one Go escape sequence (after the backslash) into `out`.
fn unescape(chars: &mut std::str::CharIndices<'_>, out: &mut String) -> Result<(), String> {
    let Some((_, c)) = chars.next() else {
        return Err("unterminated escape sequence".into());
    };
    let simple = match c {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' | '"' | '\'' => Some(c),
        _ => None,
    };
    if let Some(s) = simple {
        out.push(s);
        return Ok(());
    }
    let (digits, radix) = match c {
        'x' => (2, 16),
        'u' => (4, 16),
        'U' => (8, 16),
        '0'..='7' => (2, 8),
        _ => return Err(format!("unknown escape sequence \\{c}")),
    };
    let mut text = String::new();
    if radix == 8 {
        text.push(c);
    }
    for _ in 0..digits {
        text.push(chars.next().map(|(_, d)| d).unwrap_or(' '));
    }
    let code = u32::from_str_radix(&text, radix).map_err(|_| "invalid escape sequence")?;
    let ch = char::from_u32(code).ok_or("escape sequence is not a valid character")?;
    out.push(ch);
    Ok(())
}

/// Go's number literals: decimal, hex, octal and binary integers (with `_` separators), and
/// floats; a literal with a fraction or exponent is a float.
pub(crate) fn number(text: &str) -> Result<ArgKind, String> {
    let bad = || format!("bad number syntax: {text:?}");
    let clean = text.replace('_', "");
    let (neg, digits) = match clean.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let lower = digits.to_ascii_lowercase();
    let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
        .iter()
        .find_map(|(p, r)| lower.strip_prefix(p).map(|d| (d.to_owned(), *r)));
    let int = match radix {
        Some((d, r)) => i64::from_str_radix(&d, r).ok(),
        None if lower.len() > 1
            && lower.starts_with('0')
            && lower.bytes().all(|b| b.is_ascii_digit()) =>
        {
            i64::from_str_radix(&lower[1..], 8).ok()
        }
        None if lower.bytes().all(|b| b.is_ascii_digit()) => lower.parse::<i64>().ok(),
        None => {
            let f: f64 = lower.parse().map_err(|_| bad())?;
            return Ok(ArgKind::Float(if neg { -f } else { f }));
        }
    };
    let i = int.ok_or_else(bad)?;
    Ok(ArgKind::Int(if neg { -i } else { i }))
}
