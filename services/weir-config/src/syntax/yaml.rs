//! YAML files, through saphyr: YAML 1.2 with a span on every node, duplicate keys refused.
//!
//! The mapping to the common tree is HCL's JSON mapping: a top-level key naming a block
//! type (`stream`, `consumer`, `variable`, ...) holds one entry per label, `locals` holds
//! attributes, and any other key is an attribute. A string containing `${` is an HCL
//! template, so `stream: "${stream.orders}"` is a reference (`$${` is a literal `${`).

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::{Attribute, Block, Body, Expr, ExprKind, LABELLED_BLOCKS};
use crate::source::{Diags, Pos};

/// Parses a YAML file into the common tree.
pub(super) fn parse(text: &str, file: usize, diags: &mut Diags) -> Option<Body> {
    let documents = match MarkedYaml::load_from_str(text) {
        Ok(documents) => documents,
        Err(error) => {
            let marker = error.marker();
            diags.error(
                Pos {
                    file,
                    line: marker.line() as u32,
                    column: marker.col() as u32 + 1,
                },
                format!("syntax error: {}", error.info()),
            );
            return None;
        }
    };
    let mut documents = documents.into_iter();
    let Some(root) = documents.next() else {
        return Some(Body::default());
    };
    if let Some(extra) = documents.next() {
        diags.error(
            position(&extra, file),
            "a config file holds one YAML document; split the others into their own files",
        );
        return None;
    }
    let converter = Converter { file };
    match &root.data {
        YamlData::Mapping(entries) => {
            let mut body = Body::default();
            for (key, value) in entries {
                let Some(name) = converter.key(key, diags) else {
                    continue;
                };
                let pos = position(key, file);
                if LABELLED_BLOCKS.contains(&name.as_str()) {
                    converter.labelled_blocks(&name, pos, value, &mut body, diags);
                } else if name == "locals" {
                    match converter.attributes(value, diags) {
                        Some(attributes) => body.blocks.push(Block {
                            kind: name,
                            pos,
                            labels: Vec::new(),
                            body: Body {
                                attributes,
                                blocks: Vec::new(),
                            },
                        }),
                        None => diags.error(pos, "`locals` must be a mapping of names to values"),
                    }
                } else {
                    body.attributes.push(Attribute {
                        name,
                        pos,
                        value: converter.expr(value, diags),
                    });
                }
            }
            Some(body)
        }
        YamlData::Value(Scalar::Null) => Some(Body::default()),
        _ => {
            diags.error(
                position(&root, file),
                "a YAML config must be a mapping at the top (stream:, consumer:, variable:, ...)",
            );
            None
        }
    }
}

fn position(node: &MarkedYaml<'_>, file: usize) -> Pos {
    Pos {
        file,
        line: node.span.start.line() as u32,
        column: node.span.start.col() as u32 + 1,
    }
}

struct Converter {
    file: usize,
}

impl Converter {
    fn key(&self, key: &MarkedYaml<'_>, diags: &mut Diags) -> Option<String> {
        match &key.data {
            YamlData::Value(Scalar::String(text)) => Some(text.to_string()),
            YamlData::Value(Scalar::Integer(int)) => Some(int.to_string()),
            YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string()),
            _ => {
                diags.error(
                    position(key, self.file),
                    "mapping keys must be plain strings",
                );
                None
            }
        }
    }

    /// `kind: {label: {attributes}}` becomes one block per label.
    fn labelled_blocks(
        &self,
        kind: &str,
        pos: Pos,
        value: &MarkedYaml<'_>,
        body: &mut Body,
        diags: &mut Diags,
    ) {
        let YamlData::Mapping(entries) = &value.data else {
            diags.error(
                pos,
                format!("`{kind}` must be a mapping from each {kind}'s label to its settings, e.g. `{kind}: {{orders: {{...}}}}`"),
            );
            return;
        };
        for (label, content) in entries {
            let Some(label_text) = self.key(label, diags) else {
                continue;
            };
            let label_pos = position(label, self.file);
            let attributes = match &content.data {
                YamlData::Value(Scalar::Null) => Some(Vec::new()),
                _ => self.attributes(content, diags),
            };
            match attributes {
                Some(attributes) => body.blocks.push(Block {
                    kind: kind.to_string(),
                    pos: label_pos,
                    labels: vec![(label_text, label_pos)],
                    body: Body {
                        attributes,
                        blocks: Vec::new(),
                    },
                }),
                None => diags.error(
                    label_pos,
                    format!("{kind} `{label_text}` must be a mapping of its settings"),
                ),
            }
        }
    }

    fn attributes(&self, value: &MarkedYaml<'_>, diags: &mut Diags) -> Option<Vec<Attribute>> {
        let YamlData::Mapping(entries) = &value.data else {
            return None;
        };
        Some(
            entries
                .iter()
                .filter_map(|(key, value)| {
                    let name = self.key(key, diags)?;
                    Some(Attribute {
                        name,
                        pos: position(key, self.file),
                        value: self.expr(value, diags),
                    })
                })
                .collect(),
        )
    }

    fn expr(&self, node: &MarkedYaml<'_>, diags: &mut Diags) -> Expr {
        let pos = position(node, self.file);
        let kind = match &node.data {
            YamlData::Value(Scalar::Null) => ExprKind::Null,
            YamlData::Value(Scalar::Boolean(b)) => ExprKind::Bool(*b),
            YamlData::Value(Scalar::Integer(int)) => ExprKind::Int(*int),
            YamlData::Value(Scalar::FloatingPoint(float)) => ExprKind::Float(float.into_inner()),
            YamlData::Value(Scalar::String(text)) if text.contains("${") => {
                return super::hcl::parse_template_at(text, pos, diags).unwrap_or(Expr {
                    pos,
                    kind: ExprKind::Null,
                });
            }
            YamlData::Value(Scalar::String(text)) => ExprKind::String(text.replace("$${", "${")),
            YamlData::Sequence(items) => {
                ExprKind::List(items.iter().map(|item| self.expr(item, diags)).collect())
            }
            YamlData::Mapping(entries) => ExprKind::Map(
                entries
                    .iter()
                    .map(|(key, value)| (self.expr(key, diags), self.expr(value, diags)))
                    .collect(),
            ),
            YamlData::Tagged(_, inner) => return self.expr(inner, diags),
            YamlData::Alias(_) => ExprKind::Unsupported("YAML aliases"),
            YamlData::Representation(..) | YamlData::BadValue => {
                ExprKind::Unsupported("this YAML value")
            }
        };
        Expr { pos, kind }
    }
}
