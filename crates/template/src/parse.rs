//! The parser: tokens to a tree of [`Node`]s, with `define`d and `block` templates collected
//! by name. Unknown functions are parse errors, as in Go.
//!
//! The parser recurses once per control structure (`if`, `range`, `with`, `else if`,
//! `block`, `define`) and per parenthesized pipeline; [`MAX_NESTING`] bounds both together,
//! so a hostile template cannot exhaust the stack.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::funcs;
use crate::lex::{self, Tok, Token};
use crate::tree::{Arg, ArgKind, Cmd, Control, Kind, List, Node, Pipe};

/// Deepest nesting of control structures and parenthesized pipelines, counted together (Go
/// has no limit; real templates rarely go past 5). Each level costs a few parser and
/// executor stack frames.
pub(crate) const MAX_NESTING: usize = 100;

/// A parse error at a byte offset.
pub(crate) type ParseError = (usize, String);

/// The parsed template: its main list and the named templates it defines.
pub(crate) struct Tree {
    pub root: List,
    pub defines: BTreeMap<String, Arc<List>>,
}

/// Parses a token stream.
pub(crate) fn parse(toks: Vec<Token>, end: usize) -> Result<Tree, ParseError> {
    let mut p = Parser {
        toks,
        i: 0,
        end,
        defines: BTreeMap::new(),
        range_depth: 0,
        depth: 0,
    };
    let (root, stop) = p.list(true)?;
    if let Some((pos, word)) = stop {
        return Err((pos, format!("unexpected {{{{{word}}}}}")));
    }
    Ok(Tree {
        root,
        defines: p.defines,
    })
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    end: usize,
    defines: BTreeMap<String, Arc<List>>,
    range_depth: usize,
    /// Current nesting of control structures and parentheses.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn peek_at(&self, ahead: usize) -> Option<&Tok> {
        self.toks.get(self.i + ahead).map(|t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.end, |t| t.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }

    /// Runs `f` one nesting level deeper, or fails at `pos` when that would pass
    /// [`MAX_NESTING`].
    fn nested<T>(
        &mut self,
        pos: usize,
        f: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.depth >= MAX_NESTING {
            return Err((pos, format!("nesting exceeds {MAX_NESTING} levels")));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn expect_close(&mut self, what: &str) -> Result<(), ParseError> {
        match self.next() {
            Some(Token {
                tok: Tok::Close, ..
            }) => Ok(()),
            Some(t) => Err((t.pos, format!("unexpected token in {what}"))),
            None => Err((self.end, format!("unclosed action in {what}"))),
        }
    }

    /// Parses nodes until `{{end}}`, `{{else …}}` or the end of input. Returns the list and the
    /// keyword that stopped it (its position and word), leaving `else` clauses unconsumed.
    fn list(&mut self, top: bool) -> Result<(List, Option<(usize, String)>), ParseError> {
        let mut list = List::new();
        while let Some(t) = self.next() {
            match t.tok {
                Tok::Text(s) => list.push(Node::Text(s.into())),
                Tok::Open => {
                    let word = match self.peek_at(0) {
                        Some(Tok::Ident(w)) => w.clone(),
                        _ => String::new(),
                    };
                    match word.as_str() {
                        "end" => {
                            self.i += 1;
                            self.expect_close("end")?;
                            return Ok((list, Some((t.pos, word))));
                        }
                        "else" => return Ok((list, Some((t.pos, word)))),
                        "define" if top => self.nested(t.pos, Self::define)?,
                        "define" => {
                            return Err((t.pos, "define is only allowed at top level".into()));
                        }
                        _ => list.push(self.action(t.pos, &word)?),
                    }
                }
                _ => return Err((t.pos, "unexpected token".into())),
            }
        }
        Ok((list, None))
    }

    fn action(&mut self, open: usize, word: &str) -> Result<Node, ParseError> {
        let kind = match word {
            "if" => Some(Kind::If),
            "range" => Some(Kind::Range),
            "with" => Some(Kind::With),
            _ => None,
        };
        if let Some(kind) = kind {
            self.i += 1;
            return self.nested(open, |p| p.control(kind));
        }
        match word {
            "template" => {
                self.i += 1;
                let (name, pipe) = self.template_call("template")?;
                Ok(Node::Template {
                    pos: open,
                    name,
                    pipe,
                })
            }
            "block" => self.nested(open, |p| p.block(open)),
            "break" | "continue" => {
                self.i += 1;
                if self.range_depth == 0 {
                    return Err((open, format!("{word} outside range")));
                }
                self.expect_close(word)?;
                Ok(if word == "break" {
                    Node::Break
                } else {
                    Node::Continue
                })
            }
            _ => {
                let pipe = self.pipeline(true, "command")?;
                if pipe.vars.len() > 1 {
                    return Err((open, "too many declarations in command".into()));
                }
                Ok(Node::Action(pipe))
            }
        }
    }

    fn control(&mut self, kind: Kind) -> Result<Node, ParseError> {
        let name = match kind {
            Kind::If => "if",
            Kind::Range => "range",
            Kind::With => "with",
        };
        let pipe = self.pipeline(true, name)?;
        if kind == Kind::Range {
            self.range_depth += 1;
        }
        let body = self.list(false);
        if kind == Kind::Range {
            self.range_depth -= 1;
        }
        let (body, stop) = body?;
        let else_body = match stop {
            None => {
                return Err((
                    self.end,
                    format!("unexpected EOF: {name} has no {{{{end}}}}"),
                ));
            }
            Some((_, w)) if w == "end" => List::new(),
            Some((pos, _)) => self.else_clause(kind, pos)?,
        };
        Ok(Node::Control(Control {
            kind,
            pipe,
            body,
            else_body,
        }))
    }

    /// After `{{else`: either `}}` and a list up to `{{end}}`, or `if`/`with` chaining.
    fn else_clause(&mut self, kind: Kind, pos: usize) -> Result<List, ParseError> {
        self.i += 1; // `else`
        let chained = match self.peek_at(0) {
            Some(Tok::Ident(w)) if w == "if" => Some(Kind::If),
            Some(Tok::Ident(w)) if w == "with" => Some(Kind::With),
            _ => None,
        };
        if let Some(k) = chained.filter(|k| *k == kind) {
            self.i += 1;
            // `{{else if x}}…{{end}}` is `{{else}}{{if x}}…{{end}}{{end}}` sharing one end.
            return Ok(vec![self.nested(pos, |p| p.control(k))?]);
        }
        self.expect_close("else")?;
        let (list, stop) = self.list(false)?;
        match stop {
            Some((_, w)) if w == "end" => Ok(list),
            Some((p, _)) => Err((p, "expected end; found else".into())),
            None => Err((pos, "unexpected EOF: else has no {{end}}".into())),
        }
    }

    fn define(&mut self) -> Result<(), ParseError> {
        self.i += 1;
        let name = self.string_arg("define")?;
        self.expect_close("define")?;
        let (body, stop) = self.list(false)?;
        match stop {
            Some((_, w)) if w == "end" => {}
            Some((p, _)) => return Err((p, "unexpected else in define".into())),
            None => return Err((self.end, "unexpected EOF: define has no {{end}}".into())),
        }
        let keep_old = body.is_empty() && self.defines.contains_key(&name);
        if !keep_old {
            self.defines.insert(name, Arc::new(body));
        }
        Ok(())
    }

    fn block(&mut self, open: usize) -> Result<Node, ParseError> {
        self.i += 1;
        let (name, pipe) = self.template_call("block")?;
        let (body, stop) = self.list(false)?;
        match stop {
            Some((_, w)) if w == "end" => {}
            _ => return Err((open, "block has no {{end}}".into())),
        }
        self.defines
            .entry(name.clone())
            .or_insert_with(|| Arc::new(body));
        Ok(Node::Template {
            pos: open,
            name,
            pipe,
        })
    }

    fn string_arg(&mut self, what: &str) -> Result<String, ParseError> {
        match self.next() {
            Some(Token {
                tok: Tok::Str(s), ..
            }) => Ok(s),
            Some(t) => Err((t.pos, format!("{what} needs a quoted template name"))),
            None => Err((self.end, format!("unclosed action in {what}"))),
        }
    }

    fn template_call(&mut self, what: &str) -> Result<(String, Option<Pipe>), ParseError> {
        let name = self.string_arg(what)?;
        if matches!(self.peek_at(0), Some(Tok::Close)) {
            self.i += 1;
            return Ok((name, None));
        }
        Ok((name, Some(self.pipeline(false, what)?)))
    }

    /// Parses a pipeline up to and including `}}` (or `)` when `paren`).
    fn pipeline(&mut self, allow_decl: bool, what: &str) -> Result<Pipe, ParseError> {
        self.pipe_until(allow_decl, what, false)
    }

    fn pipe_until(
        &mut self,
        allow_decl: bool,
        what: &str,
        paren: bool,
    ) -> Result<Pipe, ParseError> {
        let pos = self.pos();
        let (vars, assign) = if allow_decl {
            self.decls()?
        } else {
            (Vec::new(), false)
        };
        let mut cmds = Vec::new();
        loop {
            let t = self.peek().cloned();
            match t.map(|t| (t.tok, t.pos)) {
                Some((Tok::Close, p)) if !paren => {
                    self.i += 1;
                    return finish(pos, vars, assign, cmds, p, what);
                }
                Some((Tok::RParen, p)) if paren => {
                    self.i += 1;
                    return finish(pos, vars, assign, cmds, p, what);
                }
                Some((Tok::Pipe, p)) if cmds.is_empty() => {
                    return Err((p, "missing command before |".into()));
                }
                Some((Tok::Pipe, _)) => self.i += 1,
                Some(_) => cmds.push(self.command(paren)?),
                None => return Err((self.end, format!("unclosed action in {what}"))),
            }
        }
    }

    /// `$a :=`, `$a, $b :=` or `$a =` at the start of a pipeline.
    fn decls(&mut self) -> Result<(Vec<String>, bool), ParseError> {
        let mut vars = Vec::new();
        let mut j = 0;
        while let Some(Tok::Var(v)) = self.peek_at(j) {
            vars.push(v.clone());
            match self.peek_at(j + 1) {
                Some(Tok::Comma) if vars.len() < 2 => j += 2,
                Some(Tok::Declare) => {
                    self.i += j + 2;
                    return Ok((vars, false));
                }
                Some(Tok::Assign) => {
                    self.i += j + 2;
                    return Ok((vars, true));
                }
                _ => break,
            }
        }
        Ok((Vec::new(), false))
    }

    fn command(&mut self, paren: bool) -> Result<Cmd, ParseError> {
        let pos = self.pos();
        let mut args = Vec::new();
        loop {
            match self.peek().map(|t| &t.tok) {
                None | Some(Tok::Close | Tok::Pipe) => break,
                Some(Tok::RParen) if paren => break,
                _ => args.push(self.operand()?),
            }
        }
        if args.is_empty() {
            return Err((pos, "empty command".into()));
        }
        Ok(Cmd { pos, args })
    }

    fn operand(&mut self) -> Result<Arg, ParseError> {
        let Some(t) = self.next() else {
            return Err((self.end, "unexpected EOF".into()));
        };
        let pos = t.pos;
        let kind = match t.tok {
            Tok::Dot => ArgKind::Dot,
            Tok::Field(f) => ArgKind::Field(self.chain(vec![f])),
            Tok::Var(v) => ArgKind::Var(v, self.chain(Vec::new())),
            Tok::Str(s) => ArgKind::Str(s.into()),
            Tok::Char(c) => ArgKind::Int(c),
            Tok::Number(n) => lex::number(&n).map_err(|m| (pos, m))?,
            Tok::LParen => {
                let pipe =
                    self.nested(pos, |p| p.pipe_until(true, "parenthesized pipeline", true))?;
                ArgKind::Paren(Box::new(pipe), self.chain(Vec::new()))
            }
            Tok::Ident(w) => match w.as_str() {
                "true" => ArgKind::Bool(true),
                "false" => ArgKind::Bool(false),
                "nil" => ArgKind::Nil,
                _ if funcs::exists(&w) => ArgKind::Func(w),
                _ => return Err((pos, format!("function {w:?} not defined"))),
            },
            Tok::Declare | Tok::Assign => {
                return Err((pos, "unexpected variable declaration".into()));
            }
            _ => return Err((pos, "unexpected token in operand".into())),
        };
        Ok(Arg { pos, kind })
    }

    /// Field names written directly after an operand (`$x.a.b`, `(…).a`).
    fn chain(&mut self, mut names: Vec<String>) -> Vec<String> {
        while let Some(Token {
            tok: Tok::Field(f),
            spaced: false,
            ..
        }) = self.peek()
        {
            names.push(f.clone());
            self.i += 1;
        }
        names
    }
}

fn finish(
    pos: usize,
    vars: Vec<String>,
    assign: bool,
    cmds: Vec<Cmd>,
    end: usize,
    what: &str,
) -> Result<Pipe, ParseError> {
    if cmds.is_empty() {
        return Err((end, format!("missing value for {what}")));
    }
    Ok(Pipe {
        pos,
        vars,
        assign,
        cmds,
    })
}
