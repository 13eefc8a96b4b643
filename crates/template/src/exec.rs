//! The executor: walks the tree with a dot value and a variable stack, writing into a
//! zeroizing buffer. Errors carry the byte offset of the failing action, never a value.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::funcs;
use crate::parse::{Arg, ArgKind, Cmd, Control, Kind, List, Node, Pipe};
use crate::value::{Bytes, Value, push};

/// Largest output a template may produce (a Kubernetes Secret holds at most 1 MiB).
pub(crate) const MAX_OUTPUT: usize = 8 << 20;
/// Most nodes one render may evaluate (bounds `range` over huge numbers).
const MAX_STEPS: usize = 5_000_000;
/// Deepest `template` call nesting.
const MAX_DEPTH: usize = 1_000;

/// An execution error: byte offset and message.
pub(crate) type ExecError = (usize, String);
type R<T> = Result<T, ExecError>;

/// How a list ended.
enum Flow {
    Normal,
    Break,
    Continue,
}

/// One render in progress.
pub(crate) struct Exec<'a> {
    defines: &'a BTreeMap<String, Arc<List>>,
    out: Bytes,
    vars: Vec<(String, Value)>,
    depth: usize,
    steps: usize,
}

impl<'a> Exec<'a> {
    /// A render with `data` as dot and `$`.
    pub(crate) fn run(
        defines: &'a BTreeMap<String, Arc<List>>,
        root: &List,
        data: &Value,
    ) -> R<Bytes> {
        let mut ex = Exec {
            defines,
            out: Bytes::default(),
            vars: vec![("$".to_owned(), data.clone())],
            depth: 0,
            steps: 0,
        };
        ex.walk(root, data)?;
        Ok(std::mem::take(&mut ex.out))
    }

    fn write(&mut self, pos: usize, bytes: &[u8]) -> R<()> {
        if self.out.len() + bytes.len() > MAX_OUTPUT {
            return Err((pos, format!("output exceeds {MAX_OUTPUT} bytes")));
        }
        push(&mut self.out, bytes);
        Ok(())
    }

    fn walk(&mut self, list: &List, dot: &Value) -> R<Flow> {
        for node in list {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                return Err((0, "template exceeded its execution budget".into()));
            }
            let flow = match node {
                Node::Text(t) => self.write(0, t.as_bytes()).map(|()| Flow::Normal)?,
                Node::Action(pipe) => {
                    let v = self.pipe(dot, pipe)?;
                    if pipe.vars.is_empty() {
                        self.print(pipe.pos, &v)?;
                    }
                    Flow::Normal
                }
                Node::Control(c) => {
                    let mark = self.vars.len();
                    let flow = self.control(c, dot);
                    self.vars.truncate(mark);
                    flow?
                }
                Node::Template { pos, name, pipe } => self.call_template(*pos, name, pipe, dot)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn print(&mut self, pos: usize, v: &Value) -> R<()> {
        match v {
            Value::Null => self.write(pos, b"<no value>"),
            Value::String(s) => self.write(pos, s),
            other => {
                let mut buf = Bytes::default();
                other.write_go(&mut buf);
                self.write(pos, &buf)
            }
        }
    }

    fn control(&mut self, c: &Control, dot: &Value) -> R<Flow> {
        if c.kind == Kind::Range {
            return self.range(c, dot);
        }
        let v = self.pipe(dot, &c.pipe)?;
        match (c.kind, v.truthy()) {
            (Kind::With, true) => self.walk(&c.body, &v),
            (_, true) => self.walk(&c.body, dot),
            (_, false) => self.walk(&c.else_body, dot),
        }
    }

    fn range(&mut self, c: &Control, dot: &Value) -> R<Flow> {
        let v = self.cmds(dot, &c.pipe)?;
        let items: Vec<(Value, Value)> = match v {
            Value::List(l) => l
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), v))
                .collect(),
            Value::Map(m) => m.into_iter().map(|(k, v)| (Value::string(k), v)).collect(),
            Value::Int(n) if n > MAX_STEPS as i64 => {
                return Err((c.pipe.pos, format!("range count exceeds {MAX_STEPS}")));
            }
            Value::Int(n) => (0..n.max(0))
                .map(|i| (Value::Int(i), Value::Int(i)))
                .collect(),
            Value::Null => Vec::new(),
            other => {
                let t = other.type_name();
                return Err((c.pipe.pos, format!("range can't iterate over type {t}")));
            }
        };
        if items.is_empty() {
            return self.walk(&c.else_body, dot);
        }
        let mark = self.vars.len();
        for (key, elem) in items {
            match c.pipe.vars.as_slice() {
                [] => {}
                [v] => self.vars.push((v.clone(), elem.clone())),
                [k, v, ..] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((v.clone(), elem.clone()));
                }
            }
            let flow = self.walk(&c.body, &elem)?;
            self.vars.truncate(mark);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn call_template(
        &mut self,
        pos: usize,
        name: &str,
        pipe: &Option<Pipe>,
        dot: &Value,
    ) -> R<Flow> {
        let Some(body) = self.defines.get(name).cloned() else {
            return Err((pos, format!("no such template {name:?}")));
        };
        let new_dot = match pipe {
            Some(p) => self.pipe(dot, p)?,
            None => Value::Null,
        };
        if self.depth >= MAX_DEPTH {
            return Err((pos, "exceeded maximum template depth".into()));
        }
        self.depth += 1;
        let saved = std::mem::replace(&mut self.vars, vec![("$".to_owned(), new_dot.clone())]);
        let result = self.walk(&body, &new_dot);
        self.vars = saved;
        self.depth -= 1;
        result.map(|_| Flow::Normal)
    }

    /// Evaluates a pipeline and binds its declared or assigned variables.
    fn pipe(&mut self, dot: &Value, pipe: &Pipe) -> R<Value> {
        let v = self.cmds(dot, pipe)?;
        for name in &pipe.vars {
            if pipe.assign {
                let slot = self.vars.iter_mut().rev().find(|(n, _)| n == name);
                match slot {
                    Some((_, old)) => *old = v.clone(),
                    None => return Err((pipe.pos, format!("undefined variable: {name}"))),
                }
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    /// Evaluates a pipeline's commands, each one's result becoming the next one's last
    /// argument.
    fn cmds(&mut self, dot: &Value, pipe: &Pipe) -> R<Value> {
        let mut val = None;
        for cmd in &pipe.cmds {
            val = Some(self.cmd(dot, cmd, val.take())?);
        }
        Ok(val.unwrap_or_default())
    }

    fn cmd(&mut self, dot: &Value, cmd: &Cmd, last: Option<Value>) -> R<Value> {
        let Some(first) = cmd.args.first() else {
            return Err((cmd.pos, "empty command".into()));
        };
        if let ArgKind::Func(name) = &first.kind {
            return self.call(dot, first.pos, name, &cmd.args[1..], last);
        }
        let has_args = cmd.args.len() > 1 || last.is_some();
        if has_args {
            let msg = match &first.kind {
                ArgKind::Field(names) | ArgKind::Var(_, names) | ArgKind::Paren(_, names)
                    if !names.is_empty() =>
                {
                    let field = names.last().map_or("", String::as_str);
                    format!("{field} is not a method but has arguments")
                }
                ArgKind::Nil => "nil is not a command".to_owned(),
                _ => "can't give argument to non-function".to_owned(),
            };
            return Err((first.pos, msg));
        }
        if matches!(first.kind, ArgKind::Nil) {
            return Err((first.pos, "nil is not a command".into()));
        }
        self.arg(dot, first)
    }

    fn arg(&mut self, dot: &Value, arg: &Arg) -> R<Value> {
        Ok(match &arg.kind {
            ArgKind::Dot => dot.clone(),
            ArgKind::Nil => Value::Null,
            ArgKind::Bool(b) => Value::Bool(*b),
            ArgKind::Int(i) => Value::Int(*i),
            ArgKind::Float(x) => Value::Float(*x),
            ArgKind::Str(s) => Value::string(s.as_bytes()),
            ArgKind::Field(names) => fields(dot, names, arg.pos)?,
            ArgKind::Var(name, names) => {
                let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                    return Err((arg.pos, format!("undefined variable: {name}")));
                };
                fields(v, names, arg.pos)?
            }
            ArgKind::Func(name) => self.call(dot, arg.pos, name, &[], None)?,
            ArgKind::Paren(pipe, names) => {
                let v = self.pipe(dot, pipe)?;
                fields(&v, names, arg.pos)?
            }
        })
    }

    fn call(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        args: &[Arg],
        last: Option<Value>,
    ) -> R<Value> {
        if name == "and" || name == "or" {
            return self.and_or(dot, pos, name == "and", args, last);
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.arg(dot, a)?);
        }
        vals.extend(last);
        // `fail` and `required` put their message in the error: only a literal one.
        let literal_msg = matches!(args.first().map(|a| &a.kind), Some(ArgKind::Str(_)));
        if (name == "fail" || name == "required") && !literal_msg && !vals.is_empty() {
            vals[0] = Value::from("(message computed from data is not shown)");
        }
        funcs::call(name, vals).map_err(|e| (pos, format!("error calling {name}: {}", e.0)))
    }

    /// Go's short-circuit `and` / `or`: the first falsy (and) or truthy (or) argument, else
    /// the last.
    fn and_or(
        &mut self,
        dot: &Value,
        pos: usize,
        and: bool,
        args: &[Arg],
        last: Option<Value>,
    ) -> R<Value> {
        if args.is_empty() && last.is_none() {
            let name = if and { "and" } else { "or" };
            return Err((
                pos,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            ));
        }
        let mut v = Value::Null;
        for a in args {
            v = self.arg(dot, a)?;
            if v.truthy() != and {
                return Ok(v);
            }
        }
        Ok(last.unwrap_or(v))
    }
}

/// Follows `.a.b.c` from `base`. A missing map key is an error (ESO's `missingkey=error`).
fn fields(base: &Value, names: &[String], pos: usize) -> R<Value> {
    let mut cur = base;
    for name in names {
        cur = match cur {
            Value::Map(m) => m
                .get(name)
                .ok_or_else(|| (pos, format!("map has no entry for key {name:?}")))?,
            Value::Null => return Err((pos, format!("nil pointer evaluating .{name}"))),
            other => {
                let t = other.type_name();
                return Err((pos, format!("can't evaluate field {name} in type {t}")));
            }
        };
    }
    Ok(cur.clone())
}
