//! The crate graph keeps its layers: neither plane reaches the other, and the contracts
//! between them stay small. Read from `cargo metadata`, so adding a forbidden dependency
//! (normal, dev or build) fails here.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

fn workspace_dependencies() -> Vec<(String, BTreeSet<String>)> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .args(["--manifest-path", manifest])
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|package| {
            let deps = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter_map(|d| d["name"].as_str())
                .filter(|name| name.starts_with("weir"))
                .map(str::to_string)
                .collect();
            (
                package["name"].as_str().unwrap_or_default().to_string(),
                deps,
            )
        })
        .collect()
}

fn deps_of(graph: &[(String, BTreeSet<String>)], crate_name: &str) -> BTreeSet<String> {
    graph
        .iter()
        .find(|(name, _)| name == crate_name)
        .map(|(_, deps)| deps.clone())
        .unwrap_or_else(|| panic!("{crate_name} is not in the workspace"))
}

#[test]
fn the_data_plane_does_not_depend_on_the_control_plane_or_its_store() {
    let graph = workspace_dependencies();
    let deps = deps_of(&graph, "weir-data-plane");
    for forbidden in ["weir-control-plane", "weir-meta", "weir-config"] {
        assert!(
            !deps.contains(forbidden),
            "weir-data-plane depends on {forbidden}: {deps:?}"
        );
    }
    assert!(deps.contains("weir-contracts"), "{deps:?}");
}

#[test]
fn the_control_plane_does_not_depend_on_the_data_plane_or_its_storage() {
    let graph = workspace_dependencies();
    let deps = deps_of(&graph, "weir-control-plane");
    for forbidden in ["weir-data-plane", "weir-storage"] {
        assert!(
            !deps.contains(forbidden),
            "weir-control-plane depends on {forbidden}: {deps:?}"
        );
    }
    assert!(deps.contains("weir-contracts"), "{deps:?}");
}

#[test]
fn the_contracts_sit_below_both_planes() {
    let graph = workspace_dependencies();
    let deps = deps_of(&graph, "weir-contracts");
    let allowed: BTreeSet<String> = ["weir-core", "weir-auth"].map(String::from).into();
    assert!(
        deps.is_subset(&allowed),
        "weir-contracts depends on {deps:?}"
    );
    let auth = deps_of(&graph, "weir-auth");
    assert!(
        auth.is_empty(),
        "weir-auth (pure logic) depends on {auth:?}"
    );
}

#[test]
fn the_kubernetes_backend_knows_only_the_contracts() {
    let graph = workspace_dependencies();
    let deps = deps_of(&graph, "weir-kube");
    let expected: BTreeSet<String> = ["weir-contracts"].map(String::from).into();
    assert_eq!(
        deps, expected,
        "weir-kube implements the contracts' Orchestrator and needs nothing else"
    );
    for plane in ["weir-control-plane", "weir-data-plane"] {
        assert!(
            !deps_of(&graph, plane).contains("weir-kube"),
            "{plane} depends on weir-kube: only the binary wires it in"
        );
    }
}
