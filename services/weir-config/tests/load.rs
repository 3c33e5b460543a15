//! Loading configs offline (what `weir validate` does): the example in both syntaxes,
//! variables, and every kind of mistake reported with file:line:column.

mod common;

use std::collections::BTreeMap;

use common::{config_dir, example, file, repo_file};
use weir_config::{load, ConfigError, Diagnostic, Document, Mode, SourceFile, StreamSpec};
use weir_control_plane::StreamMode;

fn document(files: Vec<SourceFile>) -> Document {
    Document {
        files,
        ..Document::default()
    }
}

/// The diagnostics of a config that must fail.
fn problems(files: Vec<SourceFile>) -> Vec<Diagnostic> {
    match load(&document(files), Mode::Plan) {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(ConfigError::Invalid(diagnostics)) => diagnostics,
        Err(other) => panic!("expected located errors, got {other}"),
    }
}

fn assert_problem(diagnostics: &[Diagnostic], file: &str, line: u32, needle: &str) {
    assert!(
        diagnostics
            .iter()
            .any(|d| d.file == file && d.line == line && d.message.contains(needle)),
        "no diagnostic at {file}:{line} containing {needle:?}; got:\n{}",
        diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_example_loads_with_its_defaults() {
    let config = load(&document(example()), Mode::Plan).expect("example is valid");
    assert_eq!(config.name, "orders-platform");
    let orders = config.stream("orders").expect("orders");
    assert_eq!(orders.mode, StreamMode::Provisioned);
    assert_eq!(orders.shard_count, Some(4));
    assert_eq!(orders.retention_hours, 168);
    assert_eq!(orders.tags["team"], "commerce");
    let payments = config.stream("payments").expect("payments");
    assert_eq!(
        payments.mode,
        StreamMode::Provisioned,
        "shard_count implies PROVISIONED"
    );
    assert_eq!(payments.tags["settles"], "orders");
    assert!(payments.depends_on.contains("stream.orders"));
    let clicks = config.stream("clickstream").expect("clickstream");
    assert_eq!(clicks.name, "clickstream.prod");
    assert_eq!(clicks.shard_count, None);
    assert_eq!(config.consumers.len(), 3);
    let fraud = config
        .consumers
        .iter()
        .find(|c| c.label == "fraud_detector")
        .expect("fraud");
    assert_eq!(
        (fraud.name.as_str(), fraud.stream_name.as_str()),
        ("fraud-detector", "payments")
    );
    // Streams come before what references them.
    let position = |a: &str| config.order.iter().position(|x| x == a).expect(a);
    assert!(position("stream.orders") < position("stream.payments"));
    assert!(position("stream.payments") < position("consumer.fraud_detector"));
}

type StreamSummary = (
    String,
    String,
    StreamMode,
    Option<u32>,
    u32,
    BTreeMap<String, String>,
);

#[test]
fn yaml_and_hcl_are_one_schema() {
    let hcl = load(&document(example()), Mode::Plan).expect("hcl");
    let yaml = load(
        &document(vec![repo_file("infra/examples/orders-platform.yaml")]),
        Mode::Plan,
    )
    .expect("yaml");
    let strip = |streams: &[StreamSpec]| -> Vec<StreamSummary> {
        streams
            .iter()
            .map(|s| {
                (
                    s.label.clone(),
                    s.name.clone(),
                    s.mode,
                    s.shard_count,
                    s.retention_hours,
                    s.tags.clone(),
                )
            })
            .collect()
    };
    assert_eq!(strip(&hcl.streams), strip(&yaml.streams));
    assert_eq!(hcl.name, yaml.name);
    let consumers = |c: &weir_config::Config| -> Vec<(String, String, String)> {
        let mut v: Vec<_> = c
            .consumers
            .iter()
            .map(|c| (c.label.clone(), c.name.clone(), c.stream_name.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(consumers(&hcl), consumers(&yaml));
}

#[test]
fn variables_come_from_var_files_and_the_command_line() {
    let mut doc = document(example());
    doc.var_files = vec![repo_file("infra/examples/orders-platform/env/staging.hcl")];
    let config = load(&doc, Mode::Plan).expect("staging");
    let orders = config.stream("orders").expect("orders");
    assert_eq!((orders.shard_count, orders.retention_hours), (Some(1), 24));
    assert_eq!(
        config.stream("clickstream").map(|s| s.name.as_str()),
        Some("clickstream.staging")
    );

    // -var wins over -var-file, and text converts to the declared type.
    doc.vars.insert("orders_shards".into(), "6".into());
    let config = load(&doc, Mode::Plan).expect("override");
    assert_eq!(config.stream("orders").and_then(|s| s.shard_count), Some(6));

    doc.vars.insert("orders_shards".into(), "six".into());
    let diagnostics = match load(&doc, Mode::Plan) {
        Err(ConfigError::Invalid(d)) => d,
        other => panic!("{other:?}"),
    };
    assert_eq!(diagnostics[0].file, "<command line>");
    assert!(
        diagnostics[0].message.contains("must be a number"),
        "{diagnostics:?}"
    );

    let mut undeclared = document(example());
    undeclared.vars.insert("nope".into(), "1".into());
    let diagnostics = match load(&undeclared, Mode::Plan) {
        Err(ConfigError::Invalid(d)) => d,
        other => panic!("{other:?}"),
    };
    assert!(
        diagnostics[0].message.contains("no variable \"nope\""),
        "{diagnostics:?}"
    );
}

#[test]
fn validate_accepts_variables_without_values_but_plan_does_not() {
    let files = vec![file(
        "main.hcl",
        "config_name = \"x\"\nvariable \"shards\" {}\nstream \"s\" {\n  shard_count = var.shards\n}\n",
    )];
    load(&document(files.clone()), Mode::Validate).expect("validate passes");
    let diagnostics = problems(files);
    assert_problem(&diagnostics, "main.hcl", 2, "has no value");
}

#[test]
fn unknown_attribute_is_located_with_a_suggestion() {
    let d = problems(vec![file(
        "streams.hcl",
        "config_name = \"x\"\n\nstream \"orders\" {\n  shard_count    = 2\n  retention_hour = 48\n}\n",
    )]);
    assert_problem(&d, "streams.hcl", 5, "unknown attribute \"retention_hour\"");
    assert_problem(&d, "streams.hcl", 5, "did you mean \"retention_hours\"");
    assert_eq!(d[0].column, 3);
}

#[test]
fn unknown_attribute_in_yaml_is_located() {
    let d = problems(vec![file(
        "streams.yaml",
        "config_name: x\nstream:\n  orders:\n    shard_count: 2\n    retention_hour: 48\n",
    )]);
    assert_problem(
        &d,
        "streams.yaml",
        5,
        "unknown attribute \"retention_hour\"",
    );
}

#[test]
fn type_errors_are_located() {
    let d = problems(vec![file(
        "streams.hcl",
        "config_name = \"x\"\nstream \"orders\" {\n  shard_count = \"four\"\n  tags = [\"a\"]\n}\n",
    )]);
    assert_problem(
        &d,
        "streams.hcl",
        3,
        "shard_count: expected a whole number, got string \"four\"",
    );
    assert_problem(&d, "streams.hcl", 4, "tags: expected a map of strings");
    let d = problems(vec![file(
        "streams.yaml",
        "config_name: x\nstream:\n  orders:\n    shard_count: 2\n    retention_hours: [1]\n",
    )]);
    assert_problem(
        &d,
        "streams.yaml",
        5,
        "retention_hours: expected a whole number",
    );
}

#[test]
fn out_of_range_values_are_refused_offline() {
    let d = problems(vec![file(
        "s.hcl",
        "config_name = \"x\"\nstream \"a\" {\n  shard_count = 0\n}\nstream \"b\" {\n  shard_count = 1\n  retention_hours = 9000\n}\nstream \"c\" {\n  mode = \"ON_DEMAND\"\n  shard_count = 2\n}\nstream \"d\" {\n  mode = \"PROVISIONED\"\n}\n",
    )]);
    assert_problem(&d, "s.hcl", 3, "at least 1 shard");
    assert_problem(&d, "s.hcl", 7, "24 to 8760 hours");
    assert_problem(&d, "s.hcl", 11, "ON_DEMAND");
    assert_problem(&d, "s.hcl", 13, "needs shard_count");
}

#[test]
fn dangling_references_are_located() {
    let d = problems(vec![
        file(
            "streams.hcl",
            "config_name = \"x\"\nstream \"orders\" {\n  shard_count = 1\n}\n",
        ),
        file(
            "consumers.hcl",
            "consumer \"reader\" {\n  stream = stream.ordrs\n}\n",
        ),
    ]);
    assert_problem(
        &d,
        "consumers.hcl",
        2,
        "reference to undeclared stream \"ordrs\"",
    );
    let d = problems(vec![file(
        "c.yaml",
        "config_name: x\nconsumer:\n  reader:\n    stream: \"${stream.nope}\"\n",
    )]);
    assert_problem(&d, "c.yaml", 4, "reference to undeclared stream \"nope\"");
    let d = problems(vec![file(
        "v.hcl",
        "config_name = \"x\"\nstream \"a\" {\n  retention_hours = var.missing\n}\n",
    )]);
    assert_problem(&d, "v.hcl", 3, "undeclared variable var.missing");
}

#[test]
fn dependency_cycles_are_located() {
    let d = problems(vec![file(
        "cycle.hcl",
        "config_name = \"x\"\nstream \"a\" {\n  retention_hours = stream.b.retention_hours\n}\nstream \"b\" {\n  retention_hours = stream.a.retention_hours\n}\n",
    )]);
    assert_eq!(d.len(), 1, "one loop, one message: {d:?}");
    let cycle = &d[0];
    assert_eq!(cycle.file, "cycle.hcl");
    assert!(cycle.line == 3 || cycle.line == 6, "{cycle}");
    assert!(
        cycle
            .message
            .contains("stream.a.retention_hours -> stream.b.retention_hours"),
        "{cycle}"
    );

    // Through locals and across resources (no attribute loop, but a resource loop).
    let d = problems(vec![file(
        "loop.hcl",
        "config_name = \"x\"\nlocals {\n  n = stream.a.name\n}\nstream \"a\" {\n  tags = { peer = stream.b.name }\n}\nstream \"b\" {\n  tags = { peer = local.n }\n}\n",
    )]);
    assert!(
        d.iter()
            .any(|d| d.file == "loop.hcl"
                && d.message.contains("dependency cycle between resources")),
        "{d:?}"
    );
}

#[test]
fn duplicates_are_located() {
    let d = problems(vec![
        file(
            "a.hcl",
            "config_name = \"x\"\nstream \"orders\" {\n  shard_count = 1\n}\n",
        ),
        file("b.hcl", "\n\nstream \"orders\" {\n  shard_count = 2\n}\n"),
    ]);
    assert_problem(
        &d,
        "b.hcl",
        3,
        "duplicate stream \"orders\": it is already declared at a.hcl:2:8",
    );
    // Two labels, one live name.
    let d = problems(vec![file(
        "n.hcl",
        "config_name = \"x\"\nstream \"a\" {\n  shard_count = 1\n}\nstream \"b\" {\n  name = \"a\"\n  shard_count = 1\n}\n",
    )]);
    assert_problem(&d, "n.hcl", 5, "duplicate stream name \"a\"");
    // YAML refuses duplicate keys while parsing.
    let d = problems(vec![file(
        "d.yaml",
        "config_name: x\nstream:\n  orders:\n    shard_count: 1\n  orders:\n    shard_count: 2\n",
    )]);
    assert_problem(&d, "d.yaml", 5, "duplicated key");
    // HCL refuses a repeated attribute while parsing.
    let d = problems(vec![file(
        "r.hcl",
        "config_name = \"x\"\nstream \"a\" {\n  shard_count = 1\n  shard_count = 2\n}\n",
    )]);
    assert_problem(&d, "r.hcl", 4, "syntax error");
}

#[test]
fn reserved_and_future_features_are_refused_with_a_reason() {
    let d = problems(vec![file(
        "f.hcl",
        "config_name = \"x\"\nrole \"reader\" {}\nstream \"a\" {\n  shard_count = 1\n  tiering {\n    after_hours = 24\n  }\n  tags = { \"weir:config\" = \"y\" }\n}\n",
    )]);
    assert_problem(
        &d,
        "f.hcl",
        2,
        "manage principals and bindings with the REST API",
    );
    assert_problem(
        &d,
        "f.hcl",
        5,
        "set them with PUT /v1/streams/{name}/tiering",
    );
    assert_problem(&d, "f.hcl", 8, "reserved");
}

#[test]
fn syntax_errors_are_located() {
    let d = problems(vec![file(
        "bad.hcl",
        "config_name = \"x\"\nstream \"a\" {\n  shard_count = \n}\n",
    )]);
    assert_eq!((d[0].file.as_str(), d[0].line), ("bad.hcl", 3), "{d:?}");
    let d = problems(vec![file("bad.yaml", "config_name: x\nstream:\n  a: [\n")]);
    assert_eq!(d[0].file, "bad.yaml", "{d:?}");
}

#[test]
fn a_config_needs_a_name() {
    let files = vec![file("s.hcl", "stream \"a\" {\n  shard_count = 1\n}\n")];
    let d = problems(files.clone());
    assert_problem(&d, "s.hcl", 1, "config_name");
    let mut named = document(files);
    named.config_name = Some("from-the-folder".into());
    assert_eq!(
        load(&named, Mode::Plan).expect("named").name,
        "from-the-folder"
    );
}

#[test]
fn consumers_must_use_their_configs_streams() {
    let d = problems(vec![file(
        "c.hcl",
        "config_name = \"x\"\nstream \"a\" {\n  shard_count = 1\n}\nconsumer \"r\" {\n  stream = \"someone-elses\"\n}\n",
    )]);
    assert_problem(&d, "c.hcl", 6, "does not declare");
}

#[test]
fn the_staging_var_file_is_not_a_config() {
    // `-f DIR` reads only the folder itself, so env/ files are never mistaken for config.
    let names: Vec<String> = config_dir("infra/examples/orders-platform")
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert!(names.iter().all(|n| !n.contains("/env/")), "{names:?}");
}
