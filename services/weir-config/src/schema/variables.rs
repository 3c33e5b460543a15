//! Variables: their declared types, and the values a config is evaluated with.

use std::collections::BTreeMap;

use super::{suggestion, Layout, Mode};
use crate::eval::{Evaluator, Value};
use crate::source::{Diags, Document, Pos, Sources};
use crate::syntax::{self, Attribute, ExprKind};

/// Variable types a config can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VarType {
    String,
    Number,
    Bool,
    Map,
    List,
    Any,
}

/// The value of every declared variable: from `--var`, then the declaration's default;
/// a missing one is an error under [`Mode::Apply`] and unknown under validation.
pub(super) fn resolve_variables(
    layout: &Layout<'_>,
    document: &Document,
    mode: Mode,
    command_line: Pos,
    sources: &mut Sources,
    diags: &mut Diags,
) -> BTreeMap<String, Value> {
    struct Declared {
        ty: Option<VarType>,
        default: Option<Value>,
        pos: Pos,
    }
    let mut declared: BTreeMap<String, Declared> = BTreeMap::new();
    for block in &layout.variables {
        let name = block.labels[0].0.clone();
        let mut ty = None;
        let mut default = None;
        for attribute in &block.body.attributes {
            match attribute.name.as_str() {
                "type" => ty = parse_type(attribute, diags),
                "default" => default = Some(Evaluator::constants(diags).value(&attribute.value)),
                "description" => {}
                other => diags.error(
                    attribute.pos,
                    format!(
                        "unknown attribute {other:?} in variable {name:?}{}; a variable has default, type and description",
                        suggestion(other, &["default", "type", "description"])
                    ),
                ),
            }
        }
        for nested in &block.body.blocks {
            diags.error(
                nested.pos,
                "a variable block holds only default, type and description",
            );
        }
        let default = match (ty, default) {
            (Some(ty), Some(value)) => convert(value, ty, &name, block.pos, diags),
            (None, default) => default,
            (Some(_), None) => None,
        };
        declared.insert(
            name,
            Declared {
                ty,
                default,
                pos: block.pos,
            },
        );
    }

    let mut given: BTreeMap<String, Value> = BTreeMap::new();
    for file in &document.var_files {
        let mut file_diags = Diags::default();
        let parsed = syntax::parse_file(file, sources, &mut file_diags);
        diags.absorb(file_diags);
        let Some(body) = parsed else {
            continue;
        };
        for block in &body.blocks {
            diags.error(block.pos, "a variable file holds only name = value lines");
        }
        for attribute in &body.attributes {
            let Some(var) = declared.get(&attribute.name) else {
                diags.error(
                    attribute.pos,
                    format!(
                        "there is no variable {:?} in this config{}",
                        attribute.name,
                        suggestion(
                            &attribute.name,
                            &declared.keys().map(String::as_str).collect::<Vec<_>>()
                        )
                    ),
                );
                continue;
            };
            let value = Evaluator::constants(diags).value(&attribute.value);
            if let Some(value) = match var.ty {
                Some(ty) => convert(value, ty, &attribute.name, attribute.pos, diags),
                None => Some(value),
            } {
                given.insert(attribute.name.clone(), value);
            }
        }
    }
    for (name, text) in &document.vars {
        let Some(var) = declared.get(name) else {
            diags.error(
                command_line,
                format!("-var {name}=...: there is no variable {name:?} in this config; declare it with `variable \"{name}\" {{}}`"),
            );
            continue;
        };
        let value = match var.ty {
            Some(VarType::Map | VarType::List | VarType::Any) => {
                match syntax::parse_expression(text, command_line, diags) {
                    Some(expr) if matches!(expr.kind, ExprKind::Ref { .. }) => {
                        Value::String(text.clone())
                    }
                    Some(expr) => Evaluator::constants(diags).value(&expr),
                    None => continue,
                }
            }
            _ => Value::String(text.clone()),
        };
        let value = match var.ty {
            Some(ty) => convert(value, ty, name, command_line, diags),
            None => Some(value),
        };
        if let Some(value) = value {
            given.insert(name.clone(), value);
        }
    }

    declared
        .into_iter()
        .map(|(name, var)| {
            let value = match given.remove(&name).or(var.default) {
                Some(value) => value,
                None => {
                    if mode == Mode::Plan {
                        diags.error(
                            var.pos,
                            format!("variable {name:?} has no value: pass -var {name}=VALUE or a -var-file, or give it a default"),
                        );
                    }
                    Value::Unknown
                }
            };
            (name, value)
        })
        .collect()
}

fn parse_type(attribute: &Attribute, diags: &mut Diags) -> Option<VarType> {
    let word = match &attribute.value.kind {
        ExprKind::Ref { root, steps } if steps.is_empty() => Some(root.clone()),
        // YAML writes types as strings: "number", "map(string)".
        ExprKind::String(text) => text.split('(').next().map(str::to_string),
        ExprKind::Call { name, args } if args.len() == 1 => Some(name.clone()),
        _ => None,
    };
    let ty = match word.as_deref() {
        Some("string") => Some(VarType::String),
        Some("number") => Some(VarType::Number),
        Some("bool") => Some(VarType::Bool),
        Some("map" | "object") => Some(VarType::Map),
        Some("list" | "set" | "tuple") => Some(VarType::List),
        Some("any") => Some(VarType::Any),
        _ => None,
    };
    if ty.is_none() {
        diags.error(
            attribute.value.pos,
            "unknown variable type: use string, number, bool, map(string), list(string) or any",
        );
    }
    ty
}

/// Converts a variable value to its declared type, as HCL does (numbers from strings, ...).
fn convert(value: Value, ty: VarType, name: &str, pos: Pos, diags: &mut Diags) -> Option<Value> {
    let converted = match (ty, value) {
        (_, Value::Unknown) => Some(Value::Unknown),
        (VarType::Any, value) => Some(value),
        (VarType::String, value) => value.as_text().map(Value::String),
        (VarType::Number, Value::Int(i)) => Some(Value::Int(i)),
        (VarType::Number, Value::Float(f)) => Some(Value::Float(f)),
        (VarType::Number, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::Int)
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().map(Value::Float)),
        (VarType::Bool, Value::Bool(b)) => Some(Value::Bool(b)),
        (VarType::Bool, Value::String(s)) if s == "true" || s == "false" => {
            Some(Value::Bool(s == "true"))
        }
        (VarType::Map, Value::Map(map)) => Some(Value::Map(map)),
        (VarType::List, Value::List(list)) => Some(Value::List(list)),
        (_, value) => {
            diags.error(
                pos,
                format!(
                    "variable {name:?} must be a {}, not {}",
                    type_name(ty),
                    value.describe()
                ),
            );
            return None;
        }
    };
    if converted.is_none() {
        diags.error(
            pos,
            format!("variable {name:?} must be a {}", type_name(ty)),
        );
    }
    converted
}

fn type_name(ty: VarType) -> &'static str {
    match ty {
        VarType::String => "string",
        VarType::Number => "number",
        VarType::Bool => "bool",
        VarType::Map => "map",
        VarType::List => "list",
        VarType::Any => "value",
    }
}
