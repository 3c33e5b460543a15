//! Golden tests of the plan text. Each case plans the example config against a live state
//! built by hand and compares the rendered plan with `tests/golden/<case>.txt`.
//!
//! After an intended change of the format, regenerate the files and review the diff:
//!
//! ```text
//! WEIR_BLESS=1 cargo test -p weir-config --test golden
//! git diff services/weir-config/tests/golden
//! ```

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::example;
use weir_config::live::{LastApplied, APPLIED_TAG, CONSUMER_TAG_PREFIX, OWNER_TAG};
use weir_config::plan::compute;
use weir_config::{load, render_plan, Config, Document, LiveState, LiveStream, Mode};

fn config(vars: &[(&str, &str)]) -> (Config, Document) {
    let document = Document {
        files: example(),
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Document::default()
    };
    (
        load(&document, Mode::Plan).expect("example loads"),
        document,
    )
}

/// The live state right after applying `config`.
fn applied(config: &Config) -> LiveState {
    let mut live = LiveState::default();
    for (i, spec) in config.streams.iter().enumerate() {
        let mut tags = spec.tags.clone();
        tags.insert(OWNER_TAG.into(), config.name.clone());
        tags.insert(
            APPLIED_TAG.into(),
            LastApplied::new(
                spec.mode.as_str(),
                spec.shard_count,
                spec.retention_hours,
                &spec.tags,
            )
            .encode(),
        );
        let consumers: Vec<String> = config
            .consumers
            .iter()
            .filter(|c| c.stream_name == spec.name)
            .map(|c| c.name.clone())
            .collect();
        for consumer in &consumers {
            tags.insert(
                format!("{CONSUMER_TAG_PREFIX}{consumer}"),
                config.name.clone(),
            );
        }
        live.streams.insert(
            spec.name.clone(),
            LiveStream {
                name: spec.name.clone(),
                version: 10 + i as i64,
                status: "ACTIVE".into(),
                mode: spec.mode.as_str().into(),
                open_shards: spec.shard_count.unwrap_or(4),
                retention_hours: spec.retention_hours,
                tags,
                consumers,
            },
        );
    }
    live
}

fn check(case: &str, text: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{case}.txt"));
    if std::env::var_os("WEIR_BLESS").is_some() {
        std::fs::write(&path, text).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != text {
        panic!(
            "plan text differs from {}\n--- expected\n{expected}\n--- actual\n{text}\nIf the change is intended: WEIR_BLESS=1 cargo test -p weir-config --test golden",
            path.display()
        );
    }
}

#[test]
fn create_everything() {
    let (config, document) = config(&[]);
    let plan = compute(&config, &LiveState::default(), document, false).expect("plan");
    check("create_everything", &render_plan(&plan));
}

#[test]
fn no_changes() {
    let (config, document) = config(&[]);
    let live = applied(&config);
    let plan = compute(&config, &live, document, false).expect("plan");
    check("no_changes", &render_plan(&plan));
}

#[test]
fn updates_in_place_with_drift() {
    let (before, _) = config(&[]);
    let mut live = applied(&before);
    // Out of band: payments' retention cut to 48 h and a tag added by hand.
    let payments = live.streams.get_mut("payments").expect("payments");
    payments.retention_hours = 48;
    payments.tags.insert("owner".into(), "bob".into());
    // In the config: more shards and longer retention for orders, a tag dropped.
    let (mut config, document) =
        config(&[("orders_shards", "16"), ("orders_retention_hours", "336")]);
    for stream in &mut config.streams {
        if stream.label == "orders" {
            stream.tags.remove("pii");
        }
    }
    let plan = compute(&config, &live, document, false).expect("plan");
    check("updates_in_place_with_drift", &render_plan(&plan));
}

#[test]
fn replaces_and_prunes() {
    let (config, document) = config(&[]);
    let mut live = applied(&config);
    // clickstream was provisioned by hand: ON_DEMAND in the config forces a replacement.
    let clicks = live
        .streams
        .get_mut("clickstream.prod")
        .expect("clickstream");
    clicks.mode = "PROVISIONED".into();
    clicks.open_shards = 2;
    clicks.consumers.push("dashboard".into());
    // Shorter retention deletes records.
    live.streams
        .get_mut("payments")
        .expect("payments")
        .retention_hours = 168;
    // Owned by this config but no longer declared: a stream and a consumer.
    let mut legacy = live.streams["payments"].clone();
    legacy.name = "orders.v1".into();
    legacy.consumers = vec!["archiver".into(), "kcl-app".into()];
    legacy.tags = BTreeMap::from([
        (OWNER_TAG.to_string(), config.name.clone()),
        (
            format!("{CONSUMER_TAG_PREFIX}archiver"),
            config.name.clone(),
        ),
    ]);
    live.streams.insert(legacy.name.clone(), legacy);
    let orders = live.streams.get_mut("orders").expect("orders");
    orders.consumers.push("old-reader".into());
    orders.tags.insert(
        format!("{CONSUMER_TAG_PREFIX}old-reader"),
        config.name.clone(),
    );
    let plan = compute(&config, &live, document, false).expect("plan");
    check("replaces_and_prunes", &render_plan(&plan));
}

#[test]
fn destroy() {
    let (config, document) = config(&[]);
    let live = applied(&config);
    let plan = compute(&config, &live, document, true).expect("plan");
    check("destroy", &render_plan(&plan));
}

#[test]
fn destroy_with_nothing_owned() {
    let (config, document) = config(&[]);
    let plan = compute(&config, &LiveState::default(), document, true).expect("plan");
    check("destroy_with_nothing_owned", &render_plan(&plan));
}
