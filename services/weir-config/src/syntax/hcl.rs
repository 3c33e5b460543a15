//! HCL files, through hcl-edit: it keeps byte spans on every node, which become the
//! `file:line:column` of every error.

use std::ops::Range;

use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator, UnaryOperator};
use hcl_edit::structure::{BlockLabel, Structure};
use hcl_edit::template::{Element, Template};
use hcl_edit::Span;

use super::{Attribute, Block, Body, Expr, ExprKind, Step, TemplatePart};
use crate::source::{Diags, LineIndex, Pos};

/// Parses an HCL file into the common tree.
pub(super) fn parse(text: &str, file: usize, diags: &mut Diags) -> Option<Body> {
    match hcl_edit::parser::parse_body(text) {
        Ok(body) => Some(Converter::new(text, file).body(&body, Pos::default())),
        Err(error) => {
            let location = error.location();
            diags.error(
                Pos {
                    file,
                    line: location.line() as u32,
                    column: location.column() as u32,
                },
                format!("syntax error: {}", error.message()),
            );
            None
        }
    }
}

/// Parses a lone expression (a `-var` value); positions all point at `pos`.
pub(super) fn parse_standalone_expression(text: &str, pos: Pos, diags: &mut Diags) -> Option<Expr> {
    match hcl_edit::parser::parse_expr(text) {
        Ok(expr) => Some(Converter::fixed(pos).expr(&expr, pos)),
        Err(error) => {
            diags.error(
                pos,
                format!("cannot read {text:?} as a value: {}", error.message()),
            );
            None
        }
    }
}

/// Parses the text of a YAML string that contains `${`: it is an HCL template.
pub(super) fn parse_template_at(text: &str, pos: Pos, diags: &mut Diags) -> Option<Expr> {
    match hcl_edit::parser::parse_template(text) {
        Ok(template) => {
            let converter = Converter::fixed(pos);
            Some(converter.template(&template, pos))
        }
        Err(error) => {
            diags.error(
                pos,
                format!(
                    "invalid ${{...}} interpolation in {text:?}: {}",
                    error.message()
                ),
            );
            None
        }
    }
}

/// Turns hcl-edit nodes into the common tree, resolving spans to positions.
struct Converter<'a> {
    index: Option<LineIndex<'a>>,
    fixed: Pos,
}

impl<'a> Converter<'a> {
    fn new(text: &'a str, file: usize) -> Self {
        Self {
            index: Some(LineIndex::new(text, file)),
            fixed: Pos {
                file,
                line: 1,
                column: 1,
            },
        }
    }

    /// A converter whose every position is `pos` (for text embedded in another file).
    fn fixed(pos: Pos) -> Self {
        Self {
            index: None,
            fixed: pos,
        }
    }

    fn pos(&self, span: Option<Range<usize>>, fallback: Pos) -> Pos {
        match (&self.index, span) {
            (Some(index), Some(span)) => index.pos(span.start),
            (Some(index), None) if fallback == Pos::default() => Pos {
                file: index.file(),
                line: 1,
                column: 1,
            },
            (Some(_), None) => fallback,
            (None, _) => self.fixed,
        }
    }

    fn body(&self, body: &hcl_edit::structure::Body, fallback: Pos) -> Body {
        let mut out = Body::default();
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attribute) => {
                    let pos = self.pos(attribute.key.span(), fallback);
                    out.attributes.push(Attribute {
                        name: attribute.key.as_str().to_string(),
                        pos,
                        value: self.expr(&attribute.value, pos),
                    });
                }
                Structure::Block(block) => {
                    let pos = self.pos(block.ident.span(), fallback);
                    let labels = block
                        .labels
                        .iter()
                        .map(|label| {
                            let text = match label {
                                BlockLabel::Ident(ident) => ident.as_str().to_string(),
                                BlockLabel::String(text) => text.value().clone(),
                            };
                            (text, self.pos(label.span(), pos))
                        })
                        .collect();
                    out.blocks.push(Block {
                        kind: block.ident.as_str().to_string(),
                        pos,
                        labels,
                        body: self.body(&block.body, pos),
                    });
                }
            }
        }
        out
    }

    fn expr(&self, expr: &Expression, fallback: Pos) -> Expr {
        let pos = self.pos(expr.span(), fallback);
        let kind = match expr {
            Expression::Null(_) => ExprKind::Null,
            Expression::Bool(value) => ExprKind::Bool(*value.value()),
            Expression::Number(number) => {
                let number = number.value();
                match number.as_i64() {
                    Some(int) => ExprKind::Int(int),
                    None => ExprKind::Float(number.as_f64().unwrap_or(f64::NAN)),
                }
            }
            Expression::String(text) => ExprKind::String(text.value().clone()),
            Expression::Array(array) => {
                ExprKind::List(array.iter().map(|item| self.expr(item, pos)).collect())
            }
            Expression::Object(object) => ExprKind::Map(
                object
                    .iter()
                    .map(|(key, value)| {
                        let key = match key {
                            ObjectKey::Ident(ident) => Expr {
                                pos: self.pos(ident.span(), pos),
                                kind: ExprKind::String(ident.as_str().to_string()),
                            },
                            ObjectKey::Expression(key) => self.expr(key, pos),
                        };
                        let value = self.expr(value.expr(), key.pos);
                        (key, value)
                    })
                    .collect(),
            ),
            Expression::StringTemplate(template) => return self.template(template, pos),
            Expression::HeredocTemplate(heredoc) => return self.template(&heredoc.template, pos),
            Expression::Parenthesis(inner) => return self.expr(inner.inner(), pos),
            Expression::Variable(ident) => ExprKind::Ref {
                root: ident.as_str().to_string(),
                steps: Vec::new(),
            },
            Expression::Traversal(traversal) => match &traversal.expr {
                Expression::Variable(root) => {
                    let mut steps = Vec::new();
                    let mut unsupported = None;
                    for operator in &traversal.operators {
                        match operator.value() {
                            TraversalOperator::GetAttr(ident) => steps.push(Step::Attr(
                                ident.as_str().to_string(),
                                self.pos(ident.span(), pos),
                            )),
                            TraversalOperator::Index(index) => {
                                steps.push(Step::Index(self.expr(index, pos)))
                            }
                            TraversalOperator::LegacyIndex(index) => {
                                steps.push(Step::Index(Expr {
                                    pos: self.pos(operator.span(), pos),
                                    kind: ExprKind::Int(
                                        i64::try_from(*index.value()).unwrap_or(i64::MAX),
                                    ),
                                }))
                            }
                            TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                                unsupported = Some("splat expressions ([*])");
                            }
                        }
                    }
                    match unsupported {
                        Some(what) => ExprKind::Unsupported(what),
                        None => ExprKind::Ref {
                            root: root.as_str().to_string(),
                            steps,
                        },
                    }
                }
                _ => ExprKind::Unsupported("attribute access on computed values"),
            },
            Expression::FuncCall(call) if call.name.namespace.is_empty() => ExprKind::Call {
                name: call.name.name.as_str().to_string(),
                args: call.args.iter().map(|arg| self.expr(arg, pos)).collect(),
            },
            Expression::FuncCall(_) => ExprKind::Unsupported("namespaced function calls"),
            Expression::UnaryOp(op) => match (op.operator.value(), &op.expr) {
                (UnaryOperator::Neg, Expression::Number(number)) => {
                    let number = number.value();
                    match number.as_i64() {
                        Some(int) => ExprKind::Int(-int),
                        None => ExprKind::Float(-number.as_f64().unwrap_or(f64::NAN)),
                    }
                }
                _ => ExprKind::Unsupported("operators (-, !)"),
            },
            Expression::BinaryOp(_) => ExprKind::Unsupported("operators (+, -, *, ==, &&, ...)"),
            Expression::Conditional(_) => {
                ExprKind::Unsupported("conditional expressions (a ? b : c)")
            }
            Expression::ForExpr(_) => ExprKind::Unsupported("for expressions"),
        };
        Expr { pos, kind }
    }

    fn template(&self, template: &Template, pos: Pos) -> Expr {
        let parts = template
            .iter()
            .map(|element| match element {
                Element::Literal(text) => TemplatePart::Literal(text.value().clone()),
                Element::Interpolation(interpolation) => {
                    TemplatePart::Interpolation(self.expr(&interpolation.expr, pos))
                }
                Element::Directive(_) => TemplatePart::Interpolation(Expr {
                    pos,
                    kind: ExprKind::Unsupported("template directives (%{if}, %{for})"),
                }),
            })
            .collect();
        Expr {
            pos,
            kind: ExprKind::Template(parts),
        }
    }
}
