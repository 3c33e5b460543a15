//! `/v1/plan` and `/v1/apply` in-process, against a real control plane on SQLite: the
//! whole life of the example config, drift, stale saved plans, approval, ownership, and
//! bad configs that must change nothing.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::{edited, example, file, Harness};
use serde_json::{json, Value};
use weir_control_plane::{CreateStream, RetentionChange, StreamMode};

fn addresses(events: &[Value], event: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == event)
        .filter_map(|e| e["address"].as_str().map(str::to_string))
        .collect()
}

fn position(list: &[String], address: &str) -> usize {
    list.iter()
        .position(|a| a == address)
        .unwrap_or_else(|| panic!("{address} not in {list:?}"))
}

#[tokio::test]
async fn the_example_converges_updates_drifts_and_is_destroyed() {
    let h = Harness::new().await;
    // Not ours: an unmanaged stream, and a stream of another config.
    h.control_plane
        .create_stream(CreateStream {
            name: "legacy-audit".into(),
            shard_count: Some(1),
            ..CreateStream::default()
        })
        .await
        .expect("unmanaged stream");
    h.control_plane
        .create_stream(CreateStream {
            name: "search-index".into(),
            shard_count: Some(1),
            tags: BTreeMap::from([("weir:config".to_string(), "search".to_string())]),
            ..CreateStream::default()
        })
        .await
        .expect("another config's stream");

    // Apply the example: everything exists, streams before their consumers.
    let files = example();
    let plan = h.plan(&files, json!({})).await;
    assert!(
        plan["rendered"]
            .as_str()
            .unwrap_or_default()
            .contains("Plan: 6 to add, 0 to change, 0 to destroy."),
        "{}",
        plan["rendered"]
    );
    let events = h.apply(&files, json!({})).await;
    let finished = addresses(&events, "finished");
    assert_eq!(finished.len(), 6, "{events:#?}");
    assert!(position(&finished, "stream.orders") < position(&finished, "consumer.fulfillment"));
    assert!(
        position(&finished, "stream.orders") < position(&finished, "stream.payments"),
        "payments references orders"
    );
    assert!(
        position(&finished, "stream.payments") < position(&finished, "consumer.fraud_detector")
    );
    let orders = h.control_plane.stream("orders").expect("orders");
    assert_eq!(orders.open_shards().count(), 4);
    assert_eq!(orders.retention_hours, 168);
    assert_eq!(orders.tags["weir:config"], "orders-platform");
    assert_eq!(orders.tags["team"], "commerce");
    assert!(
        orders.consumers.contains_key("fulfillment")
            && orders.consumers.contains_key("order-analytics")
    );
    let clicks = h
        .control_plane
        .stream("clickstream.prod")
        .expect("clickstream");
    assert_eq!(clicks.mode, StreamMode::OnDemand);
    assert!(h
        .control_plane
        .stream("payments")
        .expect("payments")
        .consumers
        .contains_key("fraud-detector"));

    // Plan again: nothing to do.
    let plan = h.plan(&files, json!({})).await;
    assert_eq!(plan["has_changes"], false);
    assert!(
        plan["rendered"]
            .as_str()
            .unwrap_or_default()
            .starts_with("No changes."),
        "{}",
        plan["rendered"]
    );

    // Change retention and shard count: exactly those two changes.
    let changed = edited(
        &edited(&files, "main.hcl", "default     = 4", "default     = 6"),
        "main.hcl",
        "default = 168",
        "default = 336",
    );
    let plan = h.plan(&changed, json!({})).await;
    let changes = plan["plan"]["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(changes.len(), 1, "{:#}", plan["plan"]["changes"]);
    assert_eq!(changes[0]["address"], "stream.orders");
    assert_eq!(changes[0]["action"], "update");
    let attributes: Vec<(String, Value, Value)> = changes[0]["attributes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap_or_default().to_string(),
                a["old"].clone(),
                a["new"].clone(),
            )
        })
        .collect();
    assert_eq!(
        attributes,
        vec![
            ("retention_hours".to_string(), json!(168), json!(336)),
            ("shard_count".to_string(), json!(4), json!(6)),
        ]
    );
    let rendered = plan["rendered"].as_str().unwrap_or_default();
    assert!(
        rendered.contains("~ retention_hours = 168 -> 336"),
        "{rendered}"
    );
    assert!(
        rendered.contains("~ shard_count     = 4 -> 6"),
        "{rendered}"
    );
    assert!(
        rendered.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{rendered}"
    );
    assert!(
        plan["needs_approval"].as_array().is_some_and(Vec::is_empty),
        "longer retention and more shards lose nothing"
    );

    // Apply without approval (nothing destructive): the live state matches.
    let (status, events) = h.post("/v1/apply", &json!({ "files": changed })).await;
    assert_eq!(status, StatusCode::OK, "{events:#}");
    assert_eq!(
        events
            .as_array()
            .and_then(|e| e.last())
            .map(|e| e["event"].clone()),
        Some(json!("complete")),
        "{events:#}"
    );
    let orders = h.control_plane.stream("orders").expect("orders");
    assert_eq!(orders.open_shards().count(), 6);
    assert_eq!(orders.retention_hours, 336);
    let plan = h.plan(&changed, json!({})).await;
    assert_eq!(plan["has_changes"], false, "{}", plan["rendered"]);

    // Shrinking takes half-steps: 6 -> 3 -> 2.
    let shrunk = edited(&changed, "main.hcl", "default     = 6", "default     = 2");
    let events = h.apply(&shrunk, json!({})).await;
    let steps: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "progress")
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.starts_with("resharding"))
        .collect();
    assert_eq!(
        steps,
        vec!["resharding 6 -> 3 shards", "resharding 3 -> 2 shards"]
    );
    assert_eq!(
        h.control_plane
            .stream("orders")
            .expect("orders")
            .open_shards()
            .count(),
        2
    );

    // Out of band (as through the Kinesis API): the plan shows the drift and undoes it.
    h.control_plane
        .update_retention("payments", 48, RetentionChange::Decrease)
        .await
        .expect("out-of-band retention");
    let plan = h.plan(&shrunk, json!({})).await;
    let rendered = plan["rendered"].as_str().unwrap_or_default().to_string();
    assert!(
        rendered.contains("stream.payments: retention_hours is 48; this config last applied 72"),
        "{rendered}"
    );
    assert!(
        rendered.contains("~ retention_hours = 48 -> 72 # changed outside this config"),
        "{rendered}"
    );
    assert_eq!(plan["plan"]["changes"].as_array().map(Vec::len), Some(1));

    // That saved plan, after someone else changed the stream again: refused, with why.
    let saved = plan["plan"].clone();
    h.control_plane
        .add_tags(
            "payments",
            BTreeMap::from([("owner".to_string(), "bob".to_string())]),
        )
        .await
        .expect("someone else's change");
    let (status, refusal) = h
        .post("/v1/apply", &json!({ "plan": saved, "approve": true }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refusal:#}");
    assert_eq!(refusal["error"]["code"], "StalePlan");
    let message = refusal["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("\"payments\" was modified after the plan was made")
            && message.contains("tags changed"),
        "{message}"
    );
    assert!(message.contains("Run `weir plan` again"), "{message}");
    assert_eq!(
        h.control_plane
            .stream("payments")
            .expect("payments")
            .retention_hours,
        48,
        "nothing applied"
    );

    // A fresh plan of the same config applies (and removes the foreign tag).
    let plan = h.plan(&shrunk, json!({})).await;
    let (status, events) = h
        .post(
            "/v1/apply",
            &json!({ "plan": plan["plan"], "approve": false }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{events:#}");
    let payments = h.control_plane.stream("payments").expect("payments");
    assert_eq!(payments.retention_hours, 72);
    assert!(!payments.tags.contains_key("owner"));

    // An application registers its own consumer on an owned stream: the config leaves it.
    h.control_plane
        .register_consumer("orders", "kcl-app")
        .await
        .expect("app consumer");
    let plan = h.plan(&shrunk, json!({})).await;
    assert_eq!(plan["has_changes"], false, "{}", plan["rendered"]);

    // Removing a consumer from the config deregisters it, with approval only.
    let pruned = edited(
        &shrunk,
        "consumers.hcl",
        "consumer \"fulfillment\" {\n  stream = stream.orders\n}",
        "",
    );
    let (status, refusal) = h.post("/v1/apply", &json!({ "files": pruned })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refusal:#}");
    assert_eq!(refusal["error"]["code"], "ApprovalRequired");
    assert!(refusal["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("consumer.fulfillment (destroyed)"));
    h.apply(&pruned, json!({})).await;
    let orders = h.control_plane.stream("orders").expect("orders");
    assert!(!orders.consumers.contains_key("fulfillment"));
    assert!(orders.consumers.contains_key("kcl-app"), "not ours, kept");

    // Destroy: everything the config owns goes, consumers first; the rest stays.
    let plan = h.plan(&pruned, json!({ "destroy": true })).await;
    let rendered = plan["rendered"].as_str().unwrap_or_default();
    assert!(
        rendered.contains("Plan: 0 to add, 0 to change, 5 to destroy."),
        "{rendered}"
    );
    assert!(
        rendered.contains("also deregisters consumers this config does not manage: kcl-app"),
        "{rendered}"
    );
    let (status, refusal) = h.post("/v1/apply", &json!({ "plan": plan["plan"] })).await;
    assert_eq!(
        (status, refusal["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("ApprovalRequired"))
    );
    let (status, events) = h
        .post(
            "/v1/apply",
            &json!({ "plan": plan["plan"], "approve": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = events.as_array().cloned().unwrap_or_default();
    let finished = addresses(&events, "finished");
    assert!(
        position(&finished, "consumer.fraud_detector") < position(&finished, "stream.payments"),
        "{finished:?}"
    );
    assert!(
        position(&finished, "stream.payments") < position(&finished, "stream.orders"),
        "payments references orders, so it goes first: {finished:?}"
    );
    assert_eq!(
        h.stream_names(),
        vec!["legacy-audit".to_string(), "search-index".to_string()]
    );
    let plan = h.plan(&pruned, json!({ "destroy": true })).await;
    assert_eq!(plan["has_changes"], false);
}

#[tokio::test]
async fn removing_a_stream_from_the_config_prunes_only_that_stream() {
    let h = Harness::new().await;
    let files = example();
    h.apply(&files, json!({})).await;
    let without_clicks = edited(
        &files,
        "main.hcl",
        "stream \"clickstream\" {",
        "stream \"clickstream_gone\" {\n  count_me_out = 1\n}\nstream \"unused\" {",
    );
    // (That edit is invalid on purpose: the unknown attribute must stop everything.)
    let (status, error) = h
        .post(
            "/v1/apply",
            &json!({ "files": without_clicks, "approve": true }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "InvalidConfig");
    assert_eq!(
        error["error"]["diagnostics"][0]["file"],
        "infra/examples/orders-platform/main.hcl"
    );
    assert!(h.control_plane.stream("clickstream.prod").is_ok());

    let mut files = files;
    for f in &mut files {
        if f.name.ends_with("main.hcl") {
            let start = f
                .content
                .find("# Storefront clicks")
                .expect("clickstream block");
            f.content.truncate(start);
        }
    }
    let plan = h.plan(&files, json!({})).await;
    let rendered = plan["rendered"].as_str().unwrap_or_default();
    assert!(
        rendered.contains("# stream[\"clickstream.prod\"] will be destroyed"),
        "{rendered}"
    );
    assert!(
        rendered.contains("(this config no longer declares it)"),
        "{rendered}"
    );
    assert!(
        rendered.contains("Plan: 0 to add, 0 to change, 1 to destroy."),
        "{rendered}"
    );
    h.apply(&files, json!({})).await;
    assert!(h.control_plane.stream("clickstream.prod").is_err());
    assert!(h.control_plane.stream("orders").is_ok());
}

#[tokio::test]
async fn a_mode_change_happens_in_place_keeping_the_stream_and_its_consumers() {
    let h = Harness::new().await;
    let v1 = vec![file(
        "s.hcl",
        "config_name = \"modes\"\nstream \"events\" {\n  shard_count = 2\n}\nconsumer \"reader\" {\n  stream = stream.events\n}\n",
    )];
    h.apply(&v1, json!({})).await;
    let before = h.control_plane.stream("events").expect("events");
    let v2 = vec![file(
        "s.hcl",
        "config_name = \"modes\"\nstream \"events\" {\n  mode = \"on_demand\"\n}\nconsumer \"reader\" {\n  stream = stream.events\n}\n",
    )];
    let plan = h.plan(&v2, json!({})).await;
    let rendered = plan["rendered"].as_str().unwrap_or_default();
    assert!(rendered.contains("~ stream \"events\" {"), "{rendered}");
    assert!(
        rendered.contains("~ mode = \"PROVISIONED\" -> \"ON_DEMAND\""),
        "{rendered}"
    );
    assert!(!rendered.contains("forces replacement"), "{rendered}");
    assert!(
        rendered.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{rendered}"
    );
    h.apply(&v2, json!({})).await;
    let events = h.control_plane.stream("events").expect("events");
    assert_eq!(events.mode, StreamMode::OnDemand);
    assert_eq!(events.uid, before.uid, "the same stream, with its records");
    assert!(events.consumers.contains_key("reader"));
    assert_eq!(h.plan(&v2, json!({})).await["has_changes"], false);
}

#[tokio::test]
async fn a_config_never_takes_over_streams_it_did_not_create() {
    let h = Harness::new().await;
    h.control_plane
        .create_stream(CreateStream {
            name: "orders".into(),
            shard_count: Some(1),
            ..CreateStream::default()
        })
        .await
        .expect("pre-existing");
    let (status, error) = h.post("/v1/plan", &json!({ "files": example() })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error:#}");
    let diagnostic = &error["error"]["diagnostics"][0];
    assert_eq!(
        diagnostic["file"],
        "infra/examples/orders-platform/main.hcl"
    );
    assert!(
        diagnostic["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not created by a Weir config"),
        "{diagnostic}"
    );
    let (status, _) = h
        .post("/v1/apply", &json!({ "files": example(), "approve": true }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        h.stream_names(),
        vec!["orders".to_string()],
        "nothing applied"
    );
}

#[tokio::test]
async fn broken_configs_apply_nothing() {
    let h = Harness::new().await;
    let good = "config_name = \"x\"\nstream \"fine\" {\n  shard_count = 1\n}\n";
    let cases = [
        ("unknown attribute", "stream \"a\" {\n  shard_count = 1\n  colour = \"red\"\n}\n", 3, "unknown attribute"),
        ("type error", "stream \"a\" {\n  shard_count = \"four\"\n}\n", 2, "expected a whole number"),
        ("dangling reference", "consumer \"c\" {\n  stream = stream.missing\n}\n", 2, "undeclared stream"),
        ("dependency cycle", "stream \"a\" {\n  retention_hours = stream.b.retention_hours\n}\nstream \"b\" {\n  retention_hours = stream.a.retention_hours\n}\n", 2, "dependency cycle"),
        ("duplicate name", "stream \"fine\" {\n  shard_count = 1\n}\n", 1, "duplicate stream \"fine\""),
    ];
    for (what, broken, line, needle) in cases {
        let body = json!({
            "files": [file("good.hcl", good), file("broken.hcl", broken)],
            "approve": true,
        });
        let (status, error) = h.post("/v1/apply", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {error:#}");
        assert_eq!(error["error"]["code"], "InvalidConfig", "{what}");
        let diagnostics = error["error"]["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            diagnostics.iter().any(|d| d["file"] == "broken.hcl"
                && d["line"]
                    .as_u64()
                    .is_some_and(|l| l >= line && l <= line + 3)
                && d["message"].as_str().unwrap_or_default().contains(needle)),
            "{what}: {diagnostics:#?}"
        );
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("broken.hcl:"),
            "{what}: {error:#}"
        );
        assert!(h.stream_names().is_empty(), "{what}: something was applied");
    }
}

#[tokio::test]
async fn malformed_requests_are_refused_clearly() {
    let h = Harness::new().await;
    let (status, error) = h
        .post("/v1/plan", &json!({ "files": [], "extra": 1 }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "InvalidArgument");
    let (status, error) = h.post("/v1/plan", &json!({ "files": [] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("no config files"));
    let plan = h.plan(&example(), json!({})).await;
    let (status, error) = h
        .post(
            "/v1/apply",
            &json!({ "plan": plan["plan"], "files": example() }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("not both"));
}

#[test]
fn committed_openapi_matches_the_code() {
    let path = common::repo().join("openapi/config.json");
    let generated = weir_config::rest::openapi_json();
    if std::env::var_os("WEIR_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write openapi/config.json");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/config.json is out of date: run `WEIR_UPDATE_OPENAPI=1 cargo test -p weir-config --test rest` and commit it"
    );
}

#[tokio::test]
async fn renaming_a_stream_creates_the_new_one_and_removes_the_old() {
    let h = Harness::new().await;
    let v1 = vec![file(
        "s.hcl",
        "config_name = \"r\"\nstream \"events\" {\n  shard_count = 1\n}\nconsumer \"reader\" {\n  stream = stream.events\n}\n",
    )];
    h.apply(&v1, json!({})).await;
    // Same label, new name; and an old stream named like the label gets in the way.
    let v2 = vec![file(
        "s.hcl",
        "config_name = \"r\"\nstream \"events\" {\n  name = \"events-v2\"\n  shard_count = 1\n}\nconsumer \"reader\" {\n  stream = stream.events\n}\n",
    )];
    let plan = h.plan(&v2, json!({})).await;
    let rendered = plan["rendered"].as_str().unwrap_or_default();
    assert!(
        rendered.contains("# stream.events will be created"),
        "{rendered}"
    );
    assert!(
        rendered.contains("# stream[\"events\"] will be destroyed"),
        "{rendered}"
    );
    assert!(
        rendered.contains("# consumer.reader will be created"),
        "{rendered}"
    );
    assert!(
        rendered.contains("# consumer[\"reader\"] will be destroyed"),
        "{rendered}"
    );
    assert!(
        rendered.contains("Plan: 2 to add, 0 to change, 2 to destroy."),
        "{rendered}"
    );
    let events = h.apply(&v2, json!({})).await;
    let finished = addresses(&events, "finished");
    assert!(
        position(&finished, "consumer[\"reader\"]") < position(&finished, "stream[\"events\"]"),
        "{finished:?}"
    );
    assert_eq!(h.stream_names(), vec!["events-v2".to_string()]);
    assert!(h
        .control_plane
        .stream("events-v2")
        .expect("v2")
        .consumers
        .contains_key("reader"));
    assert_eq!(h.plan(&v2, json!({})).await["has_changes"], false);
}
