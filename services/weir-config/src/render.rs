//! Plans as text, laid out like Terraform's (`+` create, `~` update in place, `-/+`
//! replace, `-` destroy, `old -> new` per attribute, one summary line), so platform teams
//! read them without learning a new format. The server sends this text with every plan,
//! so the CLI and the console show the same thing.

use std::fmt::Write;

use serde_json::Value as Json;

use crate::plan::{Action, AttributeChange, Plan, ResourceChange, ResourceKind};

/// The whole plan as text, ending with the summary line (or "No changes.").
pub fn render_plan(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.drift.is_empty() {
        out.push_str(
            "Weir noticed changes made outside this config since it was last applied:\n\n",
        );
        for drift in &plan.drift {
            let _ = writeln!(out, "  ~ {}: {}", drift.address, drift.message);
        }
        out.push_str("\nApplying this plan puts them back as the config says.\n\n");
    }
    if !plan.has_changes() {
        if plan.destroy {
            let _ = writeln!(
                out,
                "No changes. Config {:?} owns no streams or consumers to destroy.",
                plan.config_name
            );
        } else {
            out.push_str("No changes. Your streams match the configuration.\n");
        }
        return out;
    }
    out.push_str("Resource actions are indicated with the following symbols:\n");
    for (action, symbol, meaning) in [
        (Action::Create, "+", "create"),
        (Action::Update, "~", "update in-place"),
        (
            Action::Replace,
            "-/+",
            "destroy and then create replacement",
        ),
        (Action::Delete, "-", "destroy"),
    ] {
        if plan.changes.iter().any(|c| c.action == action) {
            let _ = writeln!(out, "{symbol:>3} {meaning}");
        }
    }
    out.push_str("\nWeir will perform the following actions:\n\n");
    for change in &plan.changes {
        resource(&mut out, change);
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Plan: {} to add, {} to change, {} to destroy.",
        plan.summary.add, plan.summary.change, plan.summary.destroy
    );
    out
}

fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
    }
}

fn resource(out: &mut String, change: &ResourceChange) {
    let verb = match change.action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
    };
    let _ = writeln!(out, "  # {} {verb}", change.address);
    for note in &change.notes {
        let _ = writeln!(out, "  # ({note})");
    }
    let kind = match change.kind {
        ResourceKind::Stream => "stream",
        ResourceKind::Consumer => "consumer",
    };
    let _ = writeln!(
        out,
        "{:>3} {kind} {} {{",
        symbol(change.action),
        quote(&label(&change.address))
    );
    let width = change
        .attributes
        .iter()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(0);
    for attribute in &change.attributes {
        attribute_line(out, attribute, width);
    }
    if change.unchanged_attributes > 0 {
        let plural = if change.unchanged_attributes == 1 {
            ""
        } else {
            "s"
        };
        let _ = writeln!(
            out,
            "        # ({} unchanged attribute{plural} hidden)",
            change.unchanged_attributes
        );
    }
    out.push_str("    }\n");
}

/// The label part of an address: `stream.orders` → `orders`, `stream["a.b"]` → `a.b`.
fn label(address: &str) -> String {
    if let Some((_, rest)) = address.split_once('[') {
        let inner = rest.strip_suffix(']').unwrap_or(rest);
        return serde_json::from_str::<String>(inner).unwrap_or_else(|_| inner.to_string());
    }
    address
        .split_once('.')
        .map_or(address, |(_, label)| label)
        .to_string()
}

fn attribute_line(out: &mut String, attribute: &AttributeChange, width: usize) {
    let (sym, is_map) = match (&attribute.old, &attribute.new) {
        (None, Some(new)) => ("+", new.is_object()),
        (Some(old), None) => ("-", old.is_object()),
        (old, new) => (
            "~",
            old.as_ref().is_some_and(Json::is_object) || new.as_ref().is_some_and(Json::is_object),
        ),
    };
    let mut comments = Vec::new();
    if attribute.forces_replacement {
        comments.push("forces replacement".to_string());
    }
    if let Some(note) = &attribute.note {
        comments.push(note.clone());
    }
    if let Some(last) = &attribute.last_applied {
        if (last.is_string() && last.as_str() == Some("changed"))
            || attribute.new.as_ref() == Some(last)
        {
            comments.push("changed outside this config".to_string());
        } else {
            comments.push(format!(
                "changed outside this config; last applied {}",
                scalar(last)
            ));
        }
    }
    let comment = if comments.is_empty() {
        String::new()
    } else {
        format!(" # {}", comments.join("; "))
    };
    let name = format!("{:<width$}", attribute.name);
    if is_map {
        let empty = serde_json::Map::new();
        let old = attribute
            .old
            .as_ref()
            .and_then(Json::as_object)
            .unwrap_or(&empty);
        let new = attribute
            .new
            .as_ref()
            .and_then(Json::as_object)
            .unwrap_or(&empty);
        if old.is_empty() && new.is_empty() {
            let _ = writeln!(out, "      {sym} {name} = {{}}{comment}");
            return;
        }
        let _ = writeln!(out, "      {sym} {name} = {{{comment}");
        let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
        keys.sort();
        keys.dedup();
        let key_width = keys.iter().map(|k| quote(k).len()).max().unwrap_or(0);
        let mut unchanged = 0;
        for key in keys {
            let quoted = format!("{:<key_width$}", quote(key));
            match (old.get(key), new.get(key)) {
                (None, Some(v)) => {
                    let _ = writeln!(out, "          + {quoted} = {}", scalar(v));
                }
                (Some(v), None) => {
                    let _ = writeln!(out, "          - {quoted} = {} -> null", scalar(v));
                }
                (Some(a), Some(b)) if a != b => {
                    let _ = writeln!(out, "          ~ {quoted} = {} -> {}", scalar(a), scalar(b));
                }
                _ => unchanged += 1,
            }
        }
        if unchanged > 0 {
            let plural = if unchanged == 1 { "" } else { "s" };
            let _ = writeln!(
                out,
                "            # ({unchanged} unchanged element{plural} hidden)"
            );
        }
        out.push_str("        }\n");
        return;
    }
    let value = match (&attribute.old, &attribute.new) {
        (None, Some(new)) => scalar(new),
        (Some(old), None) => format!("{} -> null", scalar(old)),
        (Some(old), Some(new)) => format!("{} -> {}", scalar(old), scalar(new)),
        (None, None) => "null".to_string(),
    };
    let _ = writeln!(out, "      {sym} {name} = {value}{comment}");
}

fn scalar(value: &Json) -> String {
    match value {
        Json::String(s) => quote(s),
        other => other.to_string(),
    }
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}
