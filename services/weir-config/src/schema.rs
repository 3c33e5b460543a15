//! The schema: what blocks and attributes a config may contain, their types and limits,
//! variables, and the resource graph. [`load`] turns a [`Document`] into a checked
//! [`Config`] or a list of located problems; it needs no server, so `weir validate` runs
//! it offline.
//!
//! Roles, bindings and service accounts are reserved block types: they are recognised
//! and refused with a pointer to the REST API that manages them, and will be added as
//! further resource kinds next to `stream` and `consumer` (see docs/CONFIG.md). Tiering
//! settings are likewise refused in configs and set over REST.

use std::collections::{BTreeMap, BTreeSet};

use weir_control_plane::{StreamMode, MAX_RETENTION_HOURS, MIN_RETENTION_HOURS};

use crate::eval::{address, Evaluator, Kind, Scope, Value};
use crate::source::{Diagnostic, Diags, Document, Pos, Sources, COMMAND_LINE};
use crate::syntax::{self, Attribute, Block, Body, ExprKind};
use crate::ConfigError;

mod graph;
mod variables;
use graph::{check_unique_names, dependency_order};
use variables::resolve_variables;

/// Tag keys starting with this are Weir's own bookkeeping; configs may not set them.
pub const RESERVED_TAG_PREFIX: &str = "weir:";
/// Most tags on a stream (Kinesis: 50).
pub const MAX_TAGS: usize = 50;
/// Tags Weir itself puts on every stream a config owns (owner and last-applied record).
pub const BOOKKEEPING_TAGS: usize = 2;

/// How strictly to treat missing variable values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `weir validate`: a variable without a value is unknown, and checks that need it
    /// are skipped (like `terraform validate`).
    Validate,
    /// Plan and apply: every variable needs a value.
    Plan,
}

/// A checked config: what should exist.
#[derive(Debug, Clone)]
pub struct Config {
    /// The ownership label: streams created from this config carry the tag
    /// `weir:config = <name>`, and apply only ever prunes streams carrying it.
    pub name: String,
    /// Streams, in declaration order.
    pub streams: Vec<StreamSpec>,
    /// Consumers, in declaration order.
    pub consumers: Vec<ConsumerSpec>,
    /// Every resource address in dependency order (a resource after everything it references).
    pub order: Vec<String>,
    pub(crate) sources: Sources,
}

/// A stream the config declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// Block label; the address is `stream.<label>`.
    pub label: String,
    /// Stream name (the label unless `name` is set).
    pub name: String,
    /// Capacity mode.
    pub mode: StreamMode,
    /// Open shards of a PROVISIONED stream; `None` for ON_DEMAND (Weir sizes those).
    pub shard_count: Option<u32>,
    /// Retention in hours.
    pub retention_hours: u32,
    /// The user's tags (without Weir's bookkeeping tags).
    pub tags: BTreeMap<String, String>,
    /// Addresses of the resources this one references.
    pub depends_on: BTreeSet<String>,
    pub(crate) pos: Pos,
}

/// A registered consumer the config declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSpec {
    /// Block label; the address is `consumer.<label>`.
    pub label: String,
    /// Consumer name (the label unless `name` is set).
    pub name: String,
    /// Label of the stream it reads.
    pub stream_label: String,
    /// Name of the stream it reads.
    pub stream_name: String,
    /// Addresses of the resources this one references (always includes its stream).
    pub depends_on: BTreeSet<String>,
    pub(crate) pos: Pos,
}

impl Config {
    /// A diagnostic at a resource's declaration (for problems found against live state).
    pub(crate) fn diagnostic(&self, pos: Pos, message: impl Into<String>) -> Diagnostic {
        let mut diags = Diags::default();
        diags.error(pos, message);
        diags
            .into_diagnostics(&self.sources)
            .pop()
            .unwrap_or_else(|| Diagnostic {
                file: COMMAND_LINE.into(),
                line: 1,
                column: 1,
                message: String::new(),
            })
    }

    /// The stream declared under `label`.
    pub fn stream(&self, label: &str) -> Option<&StreamSpec> {
        self.streams.iter().find(|s| s.label == label)
    }
}

/// Parses, evaluates and checks a document. With [`Mode::Validate`] the result may hold
/// placeholder values where variables had none; only use it to report success.
pub fn load(document: &Document, mode: Mode) -> Result<Config, ConfigError> {
    if document.files.is_empty() {
        return Err(ConfigError::BadRequest(
            "no config files: give at least one .hcl or .yaml file".into(),
        ));
    }
    let mut sources = Sources::default();
    let mut diags = Diags::default();
    let bodies: Vec<Body> = document
        .files
        .iter()
        .filter_map(|file| syntax::parse_file(file, &mut sources, &mut diags))
        .collect();
    if !diags.is_empty() {
        // Later checks would only echo the syntax errors (a missing name, say).
        return Err(ConfigError::Invalid(diags.into_diagnostics(&sources)));
    }
    let first_file = Pos {
        file: 0,
        line: 1,
        column: 1,
    };
    let command_line = Pos {
        file: sources.add(COMMAND_LINE),
        line: 1,
        column: 1,
    };

    let layout = Layout::collect(&bodies, &sources, &mut diags);
    let vars = resolve_variables(
        &layout,
        document,
        mode,
        command_line,
        &mut sources,
        &mut diags,
    );

    let mut scope = Scope {
        vars,
        ..Scope::default()
    };
    for (name, attribute) in &layout.locals {
        scope.locals.insert(name.clone(), *attribute);
    }
    for block in layout.streams.iter().chain(&layout.consumers) {
        let kind = if block.kind == "stream" {
            Kind::Stream
        } else {
            Kind::Consumer
        };
        scope
            .resources
            .insert((kind, block.labels[0].0.clone()), *block);
    }
    let mut evaluator = Evaluator::new(scope, &mut diags);

    let name = match layout.config_name {
        Some(attribute) => match evaluator.value(&attribute.value) {
            Value::String(name) => Some((name, attribute.pos)),
            Value::Unknown => None,
            other => {
                evaluator.error(
                    attribute.pos,
                    format!("config_name must be a string, not {}", other.describe()),
                );
                None
            }
        },
        None => document.config_name.clone().map(|name| (name, first_file)),
    };
    let name = match name {
        Some((name, pos)) => {
            if !valid_name(&name, 64) {
                evaluator.error(
                    pos,
                    format!("config name {name:?} is not valid: use 1-64 letters, digits, '_', '.' or '-'"),
                );
            }
            name
        }
        None => {
            if mode == Mode::Plan && layout.config_name.is_none() {
                evaluator.error(
                    first_file,
                    "this config has no name: set `config_name = \"...\"` at the top of a file (or pass --config-name); it labels the streams the config owns",
                );
            }
            String::new()
        }
    };

    let streams: Vec<StreamSpec> = layout
        .streams
        .iter()
        .map(|block| decode_stream(block, &layout, &mut evaluator))
        .collect();
    let consumers: Vec<ConsumerSpec> = layout
        .consumers
        .iter()
        .filter_map(|block| decode_consumer(block, &streams, &mut evaluator))
        .collect();
    drop(evaluator);

    check_unique_names(&streams, &consumers, &sources, &mut diags);
    let order = dependency_order(&streams, &consumers, &mut diags);

    if !diags.is_empty() {
        return Err(ConfigError::Invalid(diags.into_diagnostics(&sources)));
    }
    Ok(Config {
        name,
        streams,
        consumers,
        order,
        sources,
    })
}

/// The blocks of all files, sorted by type, with structural problems reported.
struct Layout<'a> {
    config_name: Option<&'a Attribute>,
    streams: Vec<&'a Block>,
    consumers: Vec<&'a Block>,
    variables: Vec<&'a Block>,
    locals: BTreeMap<String, &'a Attribute>,
}

impl<'a> Layout<'a> {
    fn collect(bodies: &'a [Body], sources: &Sources, diags: &mut Diags) -> Self {
        let mut layout = Layout {
            config_name: None,
            streams: Vec::new(),
            consumers: Vec::new(),
            variables: Vec::new(),
            locals: BTreeMap::new(),
        };
        let mut seen: BTreeMap<(String, String), Pos> = BTreeMap::new();
        for body in bodies {
            for attribute in &body.attributes {
                if attribute.name == "config_name" {
                    if layout.config_name.is_some() {
                        diags.error(attribute.pos, "config_name is set twice");
                    }
                    layout.config_name = Some(attribute);
                } else {
                    diags.error(
                        attribute.pos,
                        format!(
                            "unknown top-level attribute {:?}{}; the top level holds config_name and stream, consumer, variable and locals blocks",
                            attribute.name,
                            suggestion(&attribute.name, &["config_name"])
                        ),
                    );
                }
            }
            for block in &body.blocks {
                match block.kind.as_str() {
                    "stream" | "consumer" | "variable" => {
                        let [(label, label_pos)] = block.labels.as_slice() else {
                            diags.error(block.pos, format!("a {} block takes exactly one label: {} \"name\" {{ ... }}", block.kind, block.kind));
                            continue;
                        };
                        if !valid_label(label) {
                            diags.error(
                                *label_pos,
                                format!("{label:?} is not a valid label: start with a letter or '_', then letters, digits, '_' or '-' (set `name = \"...\"` for a name that needs other characters)"),
                            );
                            continue;
                        }
                        if let Some(first) = seen.insert((block.kind.clone(), label.clone()), *label_pos) {
                            diags.error(
                                *label_pos,
                                format!("duplicate {} {label:?}: it is already declared at {}", block.kind, sources.describe(first)),
                            );
                            continue;
                        }
                        match block.kind.as_str() {
                            "stream" => layout.streams.push(block),
                            "consumer" => layout.consumers.push(block),
                            _ => layout.variables.push(block),
                        }
                    }
                    "locals" => {
                        if !block.labels.is_empty() {
                            diags.error(block.pos, "a locals block takes no label: locals { name = value }");
                        }
                        for attribute in &block.body.attributes {
                            if layout.locals.insert(attribute.name.clone(), attribute).is_some() {
                                diags.error(attribute.pos, format!("duplicate local value {:?}", attribute.name));
                            }
                        }
                        for nested in &block.body.blocks {
                            diags.error(nested.pos, "a locals block holds only name = value attributes");
                        }
                    }
                    "role" | "binding" | "service_account" => diags.error(
                        block.pos,
                        format!("{} resources are not supported in configs yet; manage principals and bindings with the REST API (/v1/principals, see docs/SECURITY.md)", block.kind),
                    ),
                    other => diags.error(
                        block.pos,
                        format!(
                            "unknown block type {other:?}{}; a config holds stream, consumer, variable and locals blocks",
                            suggestion(other, &["stream", "consumer", "variable", "locals"])
                        ),
                    ),
                }
            }
        }
        layout
    }
}

/// An attribute's value, unknown, or absent.
enum Field<T> {
    Absent,
    Unknown,
    Known(T),
}

impl<T> Field<T> {
    fn known(self) -> Option<T> {
        match self {
            Self::Known(value) => Some(value),
            _ => None,
        }
    }
}

/// Reads one attribute of a resource block, type-checked by `decode`.
fn field<T>(
    evaluator: &mut Evaluator<'_, '_>,
    block: &Block,
    kind: Kind,
    attr: &str,
    deps: &mut BTreeSet<String>,
    decode: impl FnOnce(&Value) -> Result<T, String>,
) -> Field<T> {
    let Some(attribute) = block.body.attributes.iter().find(|a| a.name == attr) else {
        return Field::Absent;
    };
    let (value, refs) = evaluator.attribute(kind, &block.labels[0].0, attr, attribute.pos);
    deps.extend(refs);
    if value == Value::Unknown {
        return Field::Unknown;
    }
    match decode(&value) {
        Ok(decoded) => Field::Known(decoded),
        Err(message) => {
            evaluator.error(attribute.value.pos, format!("{attr}: {message}"));
            Field::Unknown
        }
    }
}

fn whole_number(value: &Value) -> Result<u32, String> {
    let number = match value {
        Value::Int(i) => Some(*i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(*f as i64),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match number {
        Some(n) => u32::try_from(n).map_err(|_| format!("{n} is out of range")),
        None => Err(format!("expected a whole number, got {}", value.describe())),
    }
}

fn string(value: &Value) -> Result<String, String> {
    value
        .as_text()
        .ok_or_else(|| format!("expected a string, got {}", value.describe()))
}

fn string_map(value: &Value) -> Result<BTreeMap<String, String>, String> {
    match value {
        Value::Map(map) => map
            .iter()
            .map(|(key, value)| match value.as_text() {
                Some(text) => Ok((key.clone(), text)),
                None => Err(format!(
                    "the value of {key:?} must be a string, not {}",
                    value.describe()
                )),
            })
            .collect(),
        _ => Err(format!(
            "expected a map of strings, e.g. {{ team = \"checkout\" }}, got {}",
            value.describe()
        )),
    }
}

fn check_attributes(block: &Block, kind: Kind, evaluator: &mut Evaluator<'_, '_>) {
    let label = &block.labels[0].0;
    for attribute in &block.body.attributes {
        if attribute.name == "tiering" && kind == Kind::Stream {
            evaluator.error(attribute.pos, TIERING_UNSUPPORTED);
        } else if !kind.attributes().contains(&attribute.name.as_str()) {
            evaluator.error(
                attribute.pos,
                format!(
                    "unknown attribute {:?} in {} {label:?}{}; a {} has {}",
                    attribute.name,
                    kind.as_str(),
                    suggestion(&attribute.name, kind.attributes()),
                    kind.as_str(),
                    kind.attributes().join(", ")
                ),
            );
        }
    }
    for nested in &block.body.blocks {
        if nested.kind == "tiering" && kind == Kind::Stream {
            evaluator.error(nested.pos, TIERING_UNSUPPORTED);
        } else {
            evaluator.error(
                nested.pos,
                format!(
                    "unexpected block {:?} in {} {label:?}; a {} has only attributes",
                    nested.kind,
                    kind.as_str(),
                    kind.as_str()
                ),
            );
        }
    }
}

const TIERING_UNSUPPORTED: &str = "tiering settings are not supported in configs yet; remove the tiering block and set them with PUT /v1/streams/{name}/tiering (see docs/CONFIG.md)";

fn decode_stream(
    block: &Block,
    layout: &Layout<'_>,
    evaluator: &mut Evaluator<'_, '_>,
) -> StreamSpec {
    check_attributes(block, Kind::Stream, evaluator);
    let label = block.labels[0].0.clone();
    let mut deps = BTreeSet::new();
    let name = field(evaluator, block, Kind::Stream, "name", &mut deps, |v| {
        let name = string(v)?;
        if valid_name(&name, 128) {
            Ok(name)
        } else {
            Err(format!(
                "{name:?} is not a valid stream name: use 1-128 letters, digits, '_', '.' or '-'"
            ))
        }
    });
    let mode = field(evaluator, block, Kind::Stream, "mode", &mut deps, |v| {
        let text = string(v)?;
        StreamMode::parse(&text.to_ascii_uppercase()).ok_or_else(|| {
            format!("{text:?} is not a mode: use \"PROVISIONED\" or \"ON_DEMAND\" (any case)")
        })
    });
    let shard_count = field(
        evaluator,
        block,
        Kind::Stream,
        "shard_count",
        &mut deps,
        |v| {
            let count = whole_number(v)?;
            if count == 0 {
                Err("a stream needs at least 1 shard".into())
            } else {
                Ok(count)
            }
        },
    );
    let retention = field(
        evaluator,
        block,
        Kind::Stream,
        "retention_hours",
        &mut deps,
        |v| {
            let hours = whole_number(v)?;
            if (MIN_RETENTION_HOURS..=MAX_RETENTION_HOURS).contains(&hours) {
                Ok(hours)
            } else {
                Err(format!("{hours} is out of range: retention is {MIN_RETENTION_HOURS} to {MAX_RETENTION_HOURS} hours"))
            }
        },
    );
    let consumers = layout
        .consumers
        .iter()
        .filter(|c| consumer_stream_label(c).as_deref() == Some(label.as_str()))
        .count();
    let shard_pos = block
        .body
        .attributes
        .iter()
        .find(|a| a.name == "shard_count")
        .map(|a| a.pos);
    let tags = field(evaluator, block, Kind::Stream, "tags", &mut deps, |v| {
        let tags = string_map(v)?;
        for (key, value) in &tags {
            if key.starts_with(RESERVED_TAG_PREFIX) {
                return Err(format!("tag keys starting with {RESERVED_TAG_PREFIX:?} are reserved for Weir's own bookkeeping ({key:?})"));
            }
            if key.is_empty() || key.chars().count() > 128 {
                return Err(format!("tag key {key:?} must be 1-128 characters"));
            }
            if value.chars().count() > 256 {
                return Err(format!(
                    "the value of tag {key:?} is longer than 256 characters"
                ));
            }
        }
        let room = MAX_TAGS.saturating_sub(BOOKKEEPING_TAGS + consumers);
        if tags.len() > room {
            return Err(format!(
                "{} tags is too many: a stream has at most {MAX_TAGS}, and Weir uses {} for bookkeeping on this stream (2 plus one per consumer), leaving {room}",
                tags.len(),
                BOOKKEEPING_TAGS + consumers
            ));
        }
        Ok(tags)
    });

    let shard_known = !matches!(shard_count, Field::Unknown);
    let shard_count = match shard_count {
        Field::Known(n) => Some(n),
        _ => None,
    };
    let mode = match mode {
        Field::Known(mode) => Some(mode),
        Field::Absent if shard_known => Some(if shard_count.is_some() {
            StreamMode::Provisioned
        } else {
            StreamMode::OnDemand
        }),
        _ => None,
    };
    match (mode, shard_count, shard_known) {
        (Some(StreamMode::Provisioned), None, true) => evaluator.error(
            block.pos,
            format!("stream {label:?} is PROVISIONED and needs shard_count (or set mode = \"ON_DEMAND\" to let Weir size it)"),
        ),
        (Some(StreamMode::OnDemand), Some(_), _) => evaluator.error(
            shard_pos.unwrap_or(block.pos),
            format!("stream {label:?} is ON_DEMAND, which sizes itself: remove shard_count or set mode = \"PROVISIONED\""),
        ),
        _ => {}
    }
    deps.remove(&address(Kind::Stream, &label));
    StreamSpec {
        name: name.known().unwrap_or_else(|| label.clone()),
        label,
        mode: mode.unwrap_or(StreamMode::OnDemand),
        shard_count,
        retention_hours: retention.known().unwrap_or(MIN_RETENTION_HOURS),
        tags: tags.known().unwrap_or_default(),
        depends_on: deps,
        pos: block.pos,
    }
}

/// The stream label a consumer block references directly (`stream = stream.x`), if any.
fn consumer_stream_label(block: &Block) -> Option<String> {
    let attribute = block.body.attributes.iter().find(|a| a.name == "stream")?;
    match &attribute.value.kind {
        ExprKind::Ref { root, steps } if root == "stream" => match steps.first() {
            Some(crate::syntax::Step::Attr(label, _)) => Some(label.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn decode_consumer(
    block: &Block,
    streams: &[StreamSpec],
    evaluator: &mut Evaluator<'_, '_>,
) -> Option<ConsumerSpec> {
    check_attributes(block, Kind::Consumer, evaluator);
    let label = block.labels[0].0.clone();
    let mut deps = BTreeSet::new();
    let name = field(evaluator, block, Kind::Consumer, "name", &mut deps, |v| {
        let name = string(v)?;
        if valid_name(&name, 128) {
            Ok(name)
        } else {
            Err(format!(
                "{name:?} is not a valid consumer name: use 1-128 letters, digits, '_', '.' or '-'"
            ))
        }
    });
    let stream = field(
        evaluator,
        block,
        Kind::Consumer,
        "stream",
        &mut deps,
        string,
    );
    let stream = match stream {
        Field::Absent => {
            evaluator.error(
                block.pos,
                format!("consumer {label:?} needs `stream`, the stream it reads: stream = stream.<label>"),
            );
            return None;
        }
        Field::Unknown => return None,
        Field::Known(name) => name,
    };
    let Some(spec) = streams.iter().find(|s| s.name == stream) else {
        let pos = block
            .body
            .attributes
            .iter()
            .find(|a| a.name == "stream")
            .map_or(block.pos, |a| a.value.pos);
        evaluator.error(
            pos,
            format!("consumer {label:?} reads stream {stream:?}, which this config does not declare; a config registers consumers only on its own streams (stream = stream.<label>)"),
        );
        return None;
    };
    deps.insert(address(Kind::Stream, &spec.label));
    deps.remove(&address(Kind::Consumer, &label));
    let name = name.known().unwrap_or_else(|| label.clone());
    // The ownership tag `weir:consumer:<name>` must fit Kinesis's 128-character tag keys.
    let max = 128 - crate::live::CONSUMER_TAG_PREFIX.len();
    if name.len() > max {
        evaluator.error(
            block.pos,
            format!("consumer name {name:?} is too long for a config-managed consumer: at most {max} characters"),
        );
    }
    Some(ConsumerSpec {
        name,
        label,
        stream_label: spec.label.clone(),
        stream_name: spec.name.clone(),
        depends_on: deps,
        pos: block.pos,
    })
}

/// Whether `name` is 1..=max of `[a-zA-Z0-9_.-]` (Kinesis stream and consumer names).
pub(crate) fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Whether a block label can be used in references (`stream.<label>`).
fn valid_label(label: &str) -> bool {
    let mut chars = label.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `; did you mean "x"?` when a known word is within two edits of `word`.
pub(crate) fn suggestion(word: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (distance(word, k), *k))
        .filter(|(d, k)| *d <= 2 && *d < k.len())
        .min()
        .map(|(_, k)| format!(" (did you mean {k:?}?)"))
        .unwrap_or_default()
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(
            suggestion("retention_hour", Kind::Stream.attributes()),
            " (did you mean \"retention_hours\"?)"
        );
        assert_eq!(suggestion("colour", Kind::Stream.attributes()), "");
    }

    #[test]
    fn labels_must_be_referenceable() {
        assert!(valid_label("orders_v2"));
        assert!(!valid_label("orders.v2"));
        assert!(!valid_label("2orders"));
    }
}
