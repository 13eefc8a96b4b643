//! The executor: walks the tree with a dot value and a variable stack, writing into a
//! zeroizing buffer. Errors carry the byte offset of the failing action, never a value.
//!
//! Every node, `range` iteration, operand and function call spends steps of the render's
//! [`Budget`], and so does every copy of a value (by its size, see [`measure`]); nesting of
//! control structures, parentheses and `template` calls is bounded by [`MAX_EXEC_NESTING`].

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::funcs;
use crate::limits::{
    Budget, MAX_STEPS, MAX_STRING, MAX_VALUE_DEPTH, RenderLimits, Stop, bytes_cost, measure,
};
use crate::tree::{Arg, ArgKind, Cmd, Control, Kind, List, Node, Pipe};
use crate::value::{Bytes, Value, push};

/// Largest output a template may produce (a Kubernetes Secret holds at most 1 MiB).
pub(crate) const MAX_OUTPUT: usize = 8 << 20;
/// Deepest `template` call nesting.
const MAX_TEMPLATE_DEPTH: usize = 100;
/// Deepest nesting of control structures, parenthesized pipelines and `template` calls
/// together, across templates (one template alone is bounded by the parser's
/// `MAX_NESTING`). Sized so that the deepest evaluation fits a 2 MiB thread stack, a tokio
/// worker's, even in a debug build: a level takes up to about 5 KiB of stack unoptimized
/// (a `range` binding variables, a parenthesized call), 1.3 KiB optimized.
pub(crate) const MAX_EXEC_NESTING: usize = 200;
/// Steps per variable looked past when resolving `$x` (the variable stack is searched from
/// the top, as in Go).
const VARS_PER_STEP: usize = 32;

/// An execution error: byte offset and message.
pub(crate) type ExecError = (usize, String);
type R<T> = Result<T, ExecError>;

/// How a render failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// An error at a byte offset.
    At(usize, String),
    /// [`RenderLimits::deadline`] passed.
    TimedOut,
    /// [`RenderLimits::cancel`] was set.
    Cancelled,
}

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
    /// `template` calls in progress.
    templates: usize,
    /// Control structures, parentheses and `template` calls in progress.
    nesting: usize,
    budget: Budget<'a>,
    /// Set when a deadline or cancellation stopped the render.
    stop: Option<Stop>,
}

impl<'a> Exec<'a> {
    /// A render with `data` as dot and `$`.
    pub(crate) fn run(
        defines: &'a BTreeMap<String, Arc<List>>,
        root: &List,
        data: &Value,
        limits: &'a RenderLimits,
    ) -> Result<Bytes, Failure> {
        let mut ex = Exec {
            defines,
            out: Bytes::default(),
            vars: vec![("$".to_owned(), data.clone())],
            templates: 0,
            nesting: 0,
            budget: Budget::new(limits),
            stop: None,
        };
        let started = match ex.budget.check() {
            Err(stop) => Err(ex.stopped(0, stop)),
            Ok(()) if measure(data).depth > MAX_VALUE_DEPTH => Err((
                0,
                format!("data nests deeper than {MAX_VALUE_DEPTH} levels"),
            )),
            Ok(()) => Ok(()),
        };
        match (started.and_then(|()| ex.walk(root, data)), ex.stop) {
            (Ok(_), _) => Ok(std::mem::take(&mut ex.out)),
            (Err(_), Some(Stop::TimedOut)) => Err(Failure::TimedOut),
            (Err(_), Some(Stop::Cancelled)) => Err(Failure::Cancelled),
            (Err((pos, message)), _) => Err(Failure::At(pos, message)),
        }
    }

    /// Spends `steps` of the budget; `pos` is where the error points when it runs out.
    fn charge(&mut self, pos: usize, steps: u64) -> R<()> {
        self.budget
            .charge(steps)
            .map_err(|stop| self.stopped(pos, stop))
    }

    /// Spends the cost of copying `v`.
    fn charge_copy(&mut self, pos: usize, v: &Value) -> R<()> {
        let weight = match v {
            Value::String(s) => 1 + bytes_cost(s.len()),
            Value::List(_) | Value::Map(_) => measure(v).weight,
            _ => 1,
        };
        self.charge(pos, weight)
    }

    /// The error for a stop; a deadline or cancellation is remembered so that [`Exec::run`]
    /// reports it as such.
    fn stopped(&mut self, pos: usize, stop: Stop) -> ExecError {
        if stop != Stop::Budget {
            self.stop = Some(stop);
        }
        (
            pos,
            format!("template exceeded its execution budget of {MAX_STEPS} steps"),
        )
    }

    /// Runs `f` one level deeper, or fails at `pos` past [`MAX_EXEC_NESTING`].
    fn nested<T>(&mut self, pos: usize, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        if self.nesting >= MAX_EXEC_NESTING {
            let max = MAX_EXEC_NESTING;
            return Err((pos, format!("evaluation nests deeper than {max} levels")));
        }
        self.nesting += 1;
        let result = f(self);
        self.nesting -= 1;
        result
    }

    fn write(&mut self, pos: usize, bytes: &[u8]) -> R<()> {
        if self.out.len() + bytes.len() > MAX_OUTPUT {
            return Err((pos, format!("output exceeds {MAX_OUTPUT} bytes")));
        }
        self.charge(pos, bytes_cost(bytes.len()))?;
        push(&mut self.out, bytes);
        Ok(())
    }

    fn walk(&mut self, list: &List, dot: &Value) -> R<Flow> {
        for node in list {
            let pos = match node {
                Node::Action(p) => p.pos,
                Node::Control(c) => c.pipe.pos,
                Node::Template { pos, .. } => *pos,
                Node::Text(_) | Node::Break | Node::Continue => 0,
            };
            self.charge(pos, 1)?;
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
                    let flow = self.nested(pos, |ex| ex.control(c, dot));
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
        let pos = c.pipe.pos;
        let v = self.cmds(dot, &c.pipe)?;
        // Iterates lazily: `range 1000000000` must not allocate before the budget stops it.
        match v {
            Value::List(l) if !l.is_empty() => {
                for (i, elem) in l.into_iter().enumerate() {
                    if matches!(self.iteration(c, Value::Int(i as i64), elem)?, Flow::Break) {
                        break;
                    }
                }
            }
            Value::Map(m) if !m.is_empty() => {
                for (k, elem) in m {
                    // The key becomes a new string value.
                    self.charge(pos, 1 + bytes_cost(k.len()))?;
                    if matches!(self.iteration(c, Value::string(k), elem)?, Flow::Break) {
                        break;
                    }
                }
            }
            Value::Int(n) if n > 0 => {
                if n.unsigned_abs() > self.budget.remaining() {
                    return Err(self.stopped(pos, Stop::Budget));
                }
                for i in 0..n {
                    if matches!(
                        self.iteration(c, Value::Int(i), Value::Int(i))?,
                        Flow::Break
                    ) {
                        break;
                    }
                }
            }
            Value::List(_) | Value::Map(_) | Value::Int(_) | Value::Null => {
                return self.walk(&c.else_body, dot);
            }
            other => {
                let t = other.type_name();
                return Err((pos, format!("range can't iterate over type {t}")));
            }
        }
        Ok(Flow::Normal)
    }

    /// One `range` iteration: binds the variables, walks the body, unbinds them.
    fn iteration(&mut self, c: &Control, key: Value, elem: Value) -> R<Flow> {
        let pos = c.pipe.pos;
        self.charge(pos, 1)?;
        let mark = self.vars.len();
        match c.pipe.vars.as_slice() {
            [] => {}
            [v] => {
                self.charge_copy(pos, &elem)?;
                self.vars.push((v.clone(), elem.clone()));
            }
            [k, v, ..] => {
                self.charge_copy(pos, &elem)?;
                self.vars.push((k.clone(), key));
                self.vars.push((v.clone(), elem.clone()));
            }
        }
        let flow = self.walk(&c.body, &elem);
        self.vars.truncate(mark);
        flow
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
        if self.templates >= MAX_TEMPLATE_DEPTH {
            return Err((pos, "exceeded maximum template depth".into()));
        }
        self.charge_copy(pos, &new_dot)?;
        self.templates += 1;
        let saved = std::mem::replace(&mut self.vars, vec![("$".to_owned(), new_dot.clone())]);
        let result = self.nested(pos, |ex| ex.walk(&body, &new_dot));
        self.vars = saved;
        self.templates -= 1;
        result.map(|_| Flow::Normal)
    }

    /// Evaluates a pipeline and binds its declared or assigned variables.
    fn pipe(&mut self, dot: &Value, pipe: &Pipe) -> R<Value> {
        let v = self.cmds(dot, pipe)?;
        for name in &pipe.vars {
            self.charge_copy(pipe.pos, &v)?;
            if pipe.assign {
                let i = self.var_index(pipe.pos, name)?;
                if let Some((_, old)) = self.vars.get_mut(i) {
                    *old = v.clone();
                }
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    /// Where the innermost variable `name` is, charging for the search.
    fn var_index(&mut self, pos: usize, name: &str) -> R<usize> {
        let found = self.vars.iter().rposition(|(n, _)| n == name);
        let searched = self.vars.len() - found.unwrap_or(0);
        self.charge(pos, (searched / VARS_PER_STEP) as u64)?;
        found.ok_or_else(|| (pos, format!("undefined variable: {name}")))
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
        let pos = arg.pos;
        self.charge(pos, 1)?;
        let v = match &arg.kind {
            ArgKind::Nil => return Ok(Value::Null),
            ArgKind::Bool(b) => return Ok(Value::Bool(*b)),
            ArgKind::Int(i) => return Ok(Value::Int(*i)),
            ArgKind::Float(x) => return Ok(Value::Float(*x)),
            ArgKind::Func(name) => return self.call(dot, pos, name, &[], None),
            ArgKind::Paren(pipe, names) => {
                let v = self.nested(pos, |ex| ex.pipe(dot, pipe))?;
                if names.is_empty() {
                    return Ok(v);
                }
                return fields(&v, names, pos);
            }
            ArgKind::Dot => dot.clone(),
            ArgKind::Str(s) => Value::string(s.as_bytes()),
            ArgKind::Field(names) => fields(dot, names, pos)?,
            ArgKind::Var(name, names) => {
                let i = self.var_index(pos, name)?;
                let base = self.vars.get(i).map_or(&Value::Null, |(_, v)| v);
                fields(base, names, pos)?
            }
        };
        // A copy of data, a variable or a literal: as costly as its size.
        self.charge_copy(pos, &v)?;
        Ok(v)
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
        self.charge(pos, 1 + funcs::work(name, &vals))?;
        let v =
            funcs::call(name, vals).map_err(|e| (pos, format!("error calling {name}: {}", e.0)))?;
        self.check_result(pos, name, &v)?;
        Ok(v)
    }

    /// Bounds what a function built: strings to [`MAX_STRING`] bytes, lists and maps to
    /// [`MAX_VALUE_DEPTH`] levels; and charges for its size.
    fn check_result(&mut self, pos: usize, name: &str, v: &Value) -> R<()> {
        let size = match v {
            Value::String(s) if s.len() > MAX_STRING => {
                let msg = format!("error calling {name}: result would exceed {MAX_STRING} bytes");
                return Err((pos, msg));
            }
            Value::List(_) | Value::Map(_) => measure(v),
            _ => return self.charge_copy(pos, v),
        };
        if size.depth > MAX_VALUE_DEPTH {
            let max = MAX_VALUE_DEPTH;
            return Err((
                pos,
                format!("error calling {name}: value nests deeper than {max} levels"),
            ));
        }
        self.charge(pos, size.weight)
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
