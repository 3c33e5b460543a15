//! Evaluation of expressions: literals, templates, `var.*`, `local.*` and references to
//! other resources (`stream.orders`, `stream.orders.retention_hours`).
//!
//! Evaluation is lazy and memoised per attribute, with a stack of attributes being
//! evaluated, so a reference loop is found where it closes and reported as a dependency
//! cycle with its whole path. Every reference to a resource is recorded, which gives the
//! resource graph that apply orders its steps by.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::source::{Diags, Pos};
use crate::syntax::{Attribute, Block, Expr, ExprKind, Step, TemplatePart};

/// A value computed from the config.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// Not known: a variable without a value under `weir validate`, or the result of an
    /// expression that already produced an error (so one mistake gives one message).
    Unknown,
}

impl Value {
    /// How the value is described in a type error, e.g. `string "four"`.
    pub fn describe(&self) -> String {
        match self {
            Self::Null => "null".into(),
            Self::Bool(b) => format!("bool {b}"),
            Self::Int(i) => format!("number {i}"),
            Self::Float(f) => format!("number {f}"),
            Self::String(s) => format!("string {s:?}"),
            Self::List(_) => "a list".into(),
            Self::Map(_) => "a map".into(),
            Self::Unknown => "an unknown value".into(),
        }
    }

    /// The text of a scalar, as HCL converts scalars to strings.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Self::String(s) => Some(s.clone()),
            Self::Int(i) => Some(i.to_string()),
            Self::Float(f) => Some(f.to_string()),
            Self::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// The two resource kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Stream,
    Consumer,
}

impl Kind {
    /// The block type and reference root.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Consumer => "consumer",
        }
    }

    /// The attributes a block of this kind may set.
    pub fn attributes(self) -> &'static [&'static str] {
        match self {
            Self::Stream => &["name", "mode", "shard_count", "retention_hours", "tags"],
            Self::Consumer => &["name", "stream"],
        }
    }
}

/// The address of a resource, `stream.orders`.
pub(crate) fn address(kind: Kind, label: &str) -> String {
    format!("{}.{label}", kind.as_str())
}

/// Something whose value is computed once and may be referenced.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Node {
    Local(String),
    Attr(Kind, String, String),
}

impl Node {
    fn display(&self) -> String {
        match self {
            Self::Local(name) => format!("local.{name}"),
            Self::Attr(kind, label, attr) => format!("{}.{label}.{attr}", kind.as_str()),
        }
    }
}

/// What names mean: variable values, locals, and the resource blocks.
#[derive(Default)]
pub(crate) struct Scope<'a> {
    pub vars: BTreeMap<String, Value>,
    pub locals: BTreeMap<String, &'a Attribute>,
    pub resources: BTreeMap<(Kind, String), &'a Block>,
}

/// Evaluates expressions of one config.
pub(crate) struct Evaluator<'a, 'd> {
    scope: Scope<'a>,
    diags: &'d mut Diags,
    cache: HashMap<Node, (Value, BTreeSet<String>)>,
    stack: Vec<Node>,
    allow_references: bool,
}

impl<'a, 'd> Evaluator<'a, 'd> {
    /// An evaluator for resource attributes.
    pub fn new(scope: Scope<'a>, diags: &'d mut Diags) -> Self {
        Self {
            scope,
            diags,
            cache: HashMap::new(),
            stack: Vec::new(),
            allow_references: true,
        }
    }

    /// An evaluator for constants: variable defaults and variable files.
    pub fn constants(diags: &'d mut Diags) -> Self {
        let mut evaluator = Self::new(Scope::default(), diags);
        evaluator.allow_references = false;
        evaluator
    }

    /// Records a problem.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.error(pos, message);
    }

    /// The value of a resource's attribute (its default when unset) and the resources
    /// it references.
    pub fn attribute(
        &mut self,
        kind: Kind,
        label: &str,
        attr: &str,
        at: Pos,
    ) -> (Value, BTreeSet<String>) {
        self.node(Node::Attr(kind, label.to_string(), attr.to_string()), at)
    }

    /// Evaluates a top-level expression; resource references in it are dropped.
    pub fn value(&mut self, expr: &Expr) -> Value {
        let mut deps = BTreeSet::new();
        self.eval(expr, &mut deps)
    }

    fn node(&mut self, node: Node, at: Pos) -> (Value, BTreeSet<String>) {
        if let Some(cached) = self.cache.get(&node) {
            return cached.clone();
        }
        if let Some(start) = self.stack.iter().position(|n| *n == node) {
            let mut path: Vec<String> = self.stack[start..].iter().map(Node::display).collect();
            path.push(node.display());
            self.diags.error(
                at,
                format!(
                    "dependency cycle: {}; break the loop by writing one of these values directly",
                    path.join(" -> ")
                ),
            );
            return (Value::Unknown, BTreeSet::new());
        }
        self.stack.push(node.clone());
        let mut deps = BTreeSet::new();
        let value = match &node {
            Node::Local(name) => match self.scope.locals.get(name).copied() {
                Some(attribute) => self.eval(&attribute.value, &mut deps),
                None => Value::Unknown,
            },
            Node::Attr(kind, label, attr) => self.resource_attribute(*kind, label, attr, &mut deps),
        };
        self.stack.pop();
        let result = (value, deps);
        self.cache.insert(node, result.clone());
        result
    }

    /// The attribute as written, or the default the schema gives it.
    fn resource_attribute(
        &mut self,
        kind: Kind,
        label: &str,
        attr: &str,
        deps: &mut BTreeSet<String>,
    ) -> Value {
        let Some(block) = self
            .scope
            .resources
            .get(&(kind, label.to_string()))
            .copied()
        else {
            return Value::Unknown;
        };
        if let Some(attribute) = block.body.attributes.iter().find(|a| a.name == attr) {
            return self.eval(&attribute.value, deps);
        }
        let has = |name: &str| block.body.attributes.iter().any(|a| a.name == name);
        match (kind, attr) {
            (_, "name") => Value::String(label.to_string()),
            (Kind::Stream, "retention_hours") => {
                Value::Int(i64::from(weir_control_plane::MIN_RETENTION_HOURS))
            }
            (Kind::Stream, "tags") => Value::Map(BTreeMap::new()),
            (Kind::Stream, "shard_count") => Value::Null,
            (Kind::Stream, "mode") if has("shard_count") => Value::String("PROVISIONED".into()),
            (Kind::Stream, "mode") => Value::String("ON_DEMAND".into()),
            _ => Value::Unknown,
        }
    }

    fn eval(&mut self, expr: &Expr, deps: &mut BTreeSet<String>) -> Value {
        match &expr.kind {
            ExprKind::Null => Value::Null,
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Int(i) => Value::Int(*i),
            ExprKind::Float(f) => Value::Float(*f),
            ExprKind::String(s) => Value::String(s.clone()),
            ExprKind::List(items) => {
                let values: Vec<Value> = items.iter().map(|item| self.eval(item, deps)).collect();
                Value::List(values)
            }
            ExprKind::Map(entries) => {
                let mut map = BTreeMap::new();
                let mut unknown = false;
                for (key, value) in entries {
                    let key_value = self.eval(key, deps);
                    let value = self.eval(value, deps);
                    match key_value {
                        Value::Unknown => unknown = true,
                        Value::Null | Value::List(_) | Value::Map(_) => self.error(
                            key.pos,
                            format!("map keys must be strings, not {}", key_value.describe()),
                        ),
                        scalar => {
                            let text = scalar.as_text().unwrap_or_default();
                            if map.insert(text.clone(), value).is_some() {
                                self.error(key.pos, format!("duplicate key {text:?} in this map"));
                            }
                        }
                    }
                }
                if unknown {
                    Value::Unknown
                } else {
                    Value::Map(map)
                }
            }
            ExprKind::Template(parts) => self.template(parts, deps),
            ExprKind::Ref { root, steps } => self.reference(expr.pos, root, steps, deps),
            ExprKind::Call { name, .. } => {
                self.error(
                    expr.pos,
                    format!("function calls ({name}(...)) are not supported in Weir configs; write the value out"),
                );
                Value::Unknown
            }
            ExprKind::Unsupported(what) => {
                self.error(
                    expr.pos,
                    format!("{what} are not supported in Weir configs; write the value out"),
                );
                Value::Unknown
            }
        }
    }

    fn template(&mut self, parts: &[TemplatePart], deps: &mut BTreeSet<String>) -> Value {
        // HCL: a template that is exactly one interpolation yields the value unchanged.
        if let [TemplatePart::Interpolation(only)] = parts {
            return self.eval(only, deps);
        }
        let mut text = String::new();
        let mut unknown = false;
        for part in parts {
            match part {
                TemplatePart::Literal(literal) => text.push_str(literal),
                TemplatePart::Interpolation(expr) => match self.eval(expr, deps) {
                    Value::Unknown => unknown = true,
                    value => match value.as_text() {
                        Some(piece) => text.push_str(&piece),
                        None => {
                            self.error(
                                expr.pos,
                                format!("cannot put {} into a string", value.describe()),
                            );
                            unknown = true;
                        }
                    },
                },
            }
        }
        if unknown {
            Value::Unknown
        } else {
            Value::String(text)
        }
    }

    fn reference(
        &mut self,
        pos: Pos,
        root: &str,
        steps: &[Step],
        deps: &mut BTreeSet<String>,
    ) -> Value {
        if !self.allow_references {
            self.error(
                pos,
                format!("`{root}...` is a reference, and references are not allowed here: variable defaults and variable files hold plain values"),
            );
            return Value::Unknown;
        }
        let first = match steps.first() {
            Some(Step::Attr(name, at)) => Some((name.as_str(), *at)),
            _ => None,
        };
        let (value, rest) = match (root, first) {
            ("var", Some((name, _))) => match self.scope.vars.get(name) {
                Some(value) => (value.clone(), &steps[1..]),
                None => {
                    self.error(pos, format!("reference to undeclared variable var.{name}; declare it with `variable \"{name}\" {{}}`"));
                    return Value::Unknown;
                }
            },
            ("local", Some((name, _))) => {
                if !self.scope.locals.contains_key(name) {
                    self.error(pos, format!("reference to undeclared local value local.{name}; define it in a `locals {{}}` block"));
                    return Value::Unknown;
                }
                let (value, local_deps) = self.node(Node::Local(name.to_string()), pos);
                deps.extend(local_deps);
                (value, &steps[1..])
            }
            ("stream" | "consumer", Some((label, _))) => {
                let kind = if root == "stream" {
                    Kind::Stream
                } else {
                    Kind::Consumer
                };
                if !self
                    .scope
                    .resources
                    .contains_key(&(kind, label.to_string()))
                {
                    self.error(
                        pos,
                        format!("reference to undeclared {root} {label:?} ({root}.{label}); declare it with `{root} \"{label}\" {{ ... }}`"),
                    );
                    return Value::Unknown;
                }
                deps.insert(address(kind, label));
                match steps.get(1) {
                    Some(Step::Attr(attr, at)) => {
                        if !kind.attributes().contains(&attr.as_str()) {
                            self.error(
                                *at,
                                format!(
                                    "{root}.{label} has no attribute {attr:?}; it has {}",
                                    kind.attributes().join(", ")
                                ),
                            );
                            return Value::Unknown;
                        }
                        let (value, _) =
                            self.node(Node::Attr(kind, label.to_string(), attr.clone()), pos);
                        (value, &steps[2..])
                    }
                    _ => {
                        // A bare resource reference stands for the resource's name.
                        let (value, _) =
                            self.node(Node::Attr(kind, label.to_string(), "name".into()), pos);
                        (value, &steps[1..])
                    }
                }
            }
            ("var" | "local" | "stream" | "consumer", None) => {
                self.error(
                    pos,
                    format!("`{root}` needs a name after it, e.g. {root}.example"),
                );
                return Value::Unknown;
            }
            ("role" | "binding" | "service_account", _) => {
                self.error(
                    pos,
                    format!(
                        "{root} resources are not supported in configs yet; manage principals and bindings with the REST API (/v1/principals, see docs/SECURITY.md)"
                    ),
                );
                return Value::Unknown;
            }
            _ => {
                self.error(
                    pos,
                    format!("unknown name `{root}`: references start with var., local., stream. or consumer. (and strings need quotes)"),
                );
                return Value::Unknown;
            }
        };
        self.steps(value, rest, deps)
    }

    fn steps(&mut self, mut value: Value, steps: &[Step], deps: &mut BTreeSet<String>) -> Value {
        for step in steps {
            value = match step {
                Step::Attr(name, at) => match value {
                    Value::Unknown => Value::Unknown,
                    Value::Map(mut map) => match map.remove(name) {
                        Some(found) => found,
                        None => {
                            self.error(*at, format!("this map has no key {name:?}"));
                            Value::Unknown
                        }
                    },
                    other => {
                        self.error(*at, format!("cannot read .{name} of {}", other.describe()));
                        Value::Unknown
                    }
                },
                Step::Index(index) => {
                    let key = self.eval(index, deps);
                    match (value, key) {
                        (Value::Unknown, _) | (_, Value::Unknown) => Value::Unknown,
                        (Value::List(items), Value::Int(i)) => {
                            match usize::try_from(i).ok().and_then(|i| items.get(i)) {
                                Some(item) => item.clone(),
                                None => {
                                    self.error(
                                        index.pos,
                                        format!(
                                            "index {i} is out of range for a list of {}",
                                            items.len()
                                        ),
                                    );
                                    Value::Unknown
                                }
                            }
                        }
                        (Value::Map(mut map), key) => {
                            match key.as_text().and_then(|k| map.remove(&k)) {
                                Some(found) => found,
                                None => {
                                    self.error(
                                        index.pos,
                                        format!("this map has no key {}", key.describe()),
                                    );
                                    Value::Unknown
                                }
                            }
                        }
                        (value, key) => {
                            self.error(
                                index.pos,
                                format!(
                                    "cannot index {} with {}",
                                    value.describe(),
                                    key.describe()
                                ),
                            );
                            Value::Unknown
                        }
                    }
                }
            };
        }
        value
    }
}
