//! One syntax tree for both config languages. HCL and YAML are parsed into the same
//! [`Body`] of attributes and labelled blocks (YAML follows HCL's JSON mapping:
//! `stream: {orders: {...}}` is the block `stream "orders" {...}`), so there is exactly
//! one schema, one evaluator and one set of error messages.

mod hcl;
mod yaml;

use crate::source::{Diags, Pos, SourceFile, Sources};

/// Block types that take one label and hold a resource or a variable.
pub(crate) const LABELLED_BLOCKS: &[&str] = &[
    "stream",
    "consumer",
    "variable",
    "role",
    "binding",
    "service_account",
];

/// A sequence of attributes and blocks: a file, or a block's content.
#[derive(Debug, Clone, Default)]
pub(crate) struct Body {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<Block>,
}

/// `name = expression`.
#[derive(Debug, Clone)]
pub(crate) struct Attribute {
    pub name: String,
    pub pos: Pos,
    pub value: Expr,
}

/// `kind "label" { body }`.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub kind: String,
    pub pos: Pos,
    pub labels: Vec<(String, Pos)>,
    pub body: Body,
}

/// An expression and where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Expr {
    pub pos: Pos,
    pub kind: ExprKind,
}

/// The expression forms the config language supports. Everything else HCL can express
/// is parsed into [`ExprKind::Unsupported`] and refused when evaluated, with its name.
#[derive(Debug, Clone)]
pub(crate) enum ExprKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Expr>),
    /// Object: keys are expressions (a bare identifier key is a string).
    Map(Vec<(Expr, Expr)>),
    /// A string with `${...}` interpolations.
    Template(Vec<TemplatePart>),
    /// `root.step.step[index]`, e.g. `var.env`, `stream.orders.name`.
    Ref {
        root: String,
        steps: Vec<Step>,
    },
    /// `name(args)`: only meaningful as a variable `type` (`map(string)`).
    Call {
        name: String,
        args: Vec<Expr>,
    },
    /// A construct we parse but do not evaluate (operators, conditionals, for, splat).
    Unsupported(&'static str),
}

/// A piece of a template string.
#[derive(Debug, Clone)]
pub(crate) enum TemplatePart {
    Literal(String),
    Interpolation(Expr),
}

/// One step of a reference.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Attr(String, Pos),
    Index(Expr),
}

/// Which syntax a file is written in, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    Hcl,
    Yaml,
}

impl Syntax {
    /// `.yaml`, `.yml` and `.json` (JSON is YAML) are YAML; anything else is HCL.
    pub fn of(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json") {
            Self::Yaml
        } else {
            Self::Hcl
        }
    }
}

/// Parses one file; syntax errors go to `diags` and yield `None`.
pub(crate) fn parse_file(
    file: &SourceFile,
    sources: &mut Sources,
    diags: &mut Diags,
) -> Option<Body> {
    let index = sources.add(&file.name);
    match Syntax::of(&file.name) {
        Syntax::Hcl => hcl::parse(&file.content, index, diags),
        Syntax::Yaml => yaml::parse(&file.content, index, diags),
    }
}

/// Parses a `-var` value given as text for a variable of a structured type (`map(...)`,
/// `list(...)`, `any`): it is written as an HCL expression, as Terraform does.
pub(crate) fn parse_expression(text: &str, pos: Pos, diags: &mut Diags) -> Option<Expr> {
    hcl::parse_standalone_expression(text, pos, diags)
}
