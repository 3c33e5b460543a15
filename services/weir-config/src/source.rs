//! What a config is made of (files, variable files, `-var` values) and how places in it
//! are named in errors (`file:line:column`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One file of a config or a variable file, sent by value so the server needs no access
/// to the caller's disk (the CLI and the web console send the same thing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// Name used in error messages, e.g. `infra/orders.hcl`. The extension picks the
    /// syntax: `.yaml`, `.yml` and `.json` are YAML, everything else is HCL.
    pub name: String,
    /// The file's text.
    pub content: String,
}

/// Everything a plan is computed from. `POST /v1/plan` and `POST /v1/apply` both take it,
/// and a saved plan carries it so the server can check the plan against its config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// The config's files; together they form one config.
    #[serde(default)]
    pub files: Vec<SourceFile>,
    /// Variable files (`-var-file`), applied in order; later files win.
    #[serde(default)]
    pub var_files: Vec<SourceFile>,
    /// Variables given one by one (`-var name=value`), as text; they win over variable files.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Config name to use when the config does not set `config_name` itself (the CLI
    /// derives it from the file or folder name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_name: Option<String>,
}

/// A place in one of the document's files. Lines and columns count from 1; `file`
/// indexes [`Sources::names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub file: usize,
    pub line: u32,
    pub column: u32,
}

/// One problem in a config, located so an editor or a person can jump to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Diagnostic {
    /// File name as given in the request (`<command line>` for `-var` values).
    pub file: String,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub column: u32,
    /// What is wrong and, where possible, what to do.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// File names by index, so positions stay small and diagnostics can name files.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources {
    pub names: Vec<String>,
}

/// Name of the pseudo-file that `-var` values come from.
pub(crate) const COMMAND_LINE: &str = "<command line>";

impl Sources {
    /// `file:line:column` of a position, for messages that point at a second place.
    pub fn describe(&self, pos: Pos) -> String {
        format!(
            "{}:{}:{}",
            self.names
                .get(pos.file)
                .map_or(COMMAND_LINE, String::as_str),
            pos.line,
            pos.column
        )
    }

    /// Registers a file name and returns its index.
    pub fn add(&mut self, name: &str) -> usize {
        self.names.push(name.to_string());
        self.names.len() - 1
    }
}

/// Problems found so far; the config is refused when any was found.
#[derive(Debug, Default)]
pub(crate) struct Diags {
    items: Vec<(Pos, String)>,
}

impl Diags {
    /// Records a problem at `pos`.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.items.push((pos, message.into()));
    }

    /// Takes over the problems recorded in `other`.
    pub fn absorb(&mut self, other: Diags) {
        self.items.extend(other.items);
    }

    /// Whether a recorded message contains `text` (to avoid reporting one problem twice).
    pub fn mentions(&self, text: &str) -> bool {
        self.items.iter().any(|(_, message)| message.contains(text))
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The problems in file and line order, with file names resolved.
    pub fn into_diagnostics(self, sources: &Sources) -> Vec<Diagnostic> {
        let mut items = self.items;
        items.sort_by_key(|(pos, _)| (pos.file, pos.line, pos.column));
        items.dedup();
        items
            .into_iter()
            .map(|(pos, message)| Diagnostic {
                file: sources
                    .names
                    .get(pos.file)
                    .cloned()
                    .unwrap_or_else(|| COMMAND_LINE.to_string()),
                line: pos.line.max(1),
                column: pos.column.max(1),
                message,
            })
            .collect()
    }
}

/// Byte offsets of line starts, to turn parser byte spans into line and column.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    file: usize,
}

impl<'a> LineIndex<'a> {
    /// Indexes `text`, the content of file number `file`.
    pub fn new(text: &'a str, file: usize) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Self { text, starts, file }
    }

    /// The position of byte `offset`; columns count characters.
    pub fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|s| *s <= offset).max(1) - 1;
        let start = self.starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Pos {
            file: self.file,
            line: line as u32 + 1,
            column: column as u32 + 1,
        }
    }

    /// The file number.
    pub fn file(&self) -> usize {
        self.file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let index = LineIndex::new("ab\nçd\n", 3);
        assert_eq!(
            index.pos(0),
            Pos {
                file: 3,
                line: 1,
                column: 1
            }
        );
        assert_eq!(index.pos(3).line, 2);
        // 'ç' is two bytes; 'd' is the second character.
        assert_eq!(index.pos(5).column, 2);
        assert_eq!(index.pos(100).line, 3);
    }
}
