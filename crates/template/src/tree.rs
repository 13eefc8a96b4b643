//! The syntax tree the parser builds and the executor walks: lists of [`Node`]s, control
//! structures, pipelines, commands and operands.

use std::sync::Arc;

/// A list of nodes.
pub(crate) type List = Vec<Node>;

/// One node of the tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// Literal text.
    Text(Arc<str>),
    /// `{{ pipeline }}`: prints the value unless the pipeline declares variables.
    Action(Pipe),
    /// `if`, `range` or `with`, with its pipeline, body and `else` body.
    Control(Control),
    /// `{{ template "name" pipeline }}`.
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    /// `{{ break }}`.
    Break,
    /// `{{ continue }}`.
    Continue,
}

/// The three control structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    If,
    Range,
    With,
}

/// A control structure.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    pub kind: Kind,
    pub pipe: Pipe,
    pub body: List,
    pub else_body: List,
}

/// A pipeline, with its variable declarations (`$x := …`) or assignment (`$x = …`).
#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub vars: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

/// One command of a pipeline: an operand followed by arguments.
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// An operand.
#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub pos: usize,
    pub kind: ArgKind,
}

/// What an operand is.
#[derive(Debug, Clone)]
pub(crate) enum ArgKind {
    Dot,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    /// `.a.b.c`.
    Field(Vec<String>),
    /// `$x.a.b`.
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    /// `( pipeline ).a.b`.
    Paren(Box<Pipe>, Vec<String>),
}
