//! `weir up --nodes N|auto` and the flags of an automatic node pool.

use std::time::Duration;

use clap::Args;
use weir_control_plane::node_pool::PoolPolicy;

/// How many node processes `weir up` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeCount {
    /// This many (0: one node inside the control-plane process).
    Fixed(u32),
    /// As many as the load needs, between --min-nodes and --max-nodes.
    Auto,
}

impl NodeCount {
    /// Whether nodes run as processes beside the control plane.
    pub fn clustered(self) -> bool {
        self != Self::Fixed(0)
    }
}

/// Parses `--nodes`: a number or `auto`.
pub fn parse_nodes(text: &str) -> Result<NodeCount, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(NodeCount::Auto);
    }
    text.parse()
        .map(NodeCount::Fixed)
        .map_err(|_| format!("{text:?} is not a node count: use a number, or auto"))
}

/// The node pool of `weir up --nodes auto`.
#[derive(Debug, Clone, Args)]
pub struct PoolArgs {
    /// Fewest node processes with --nodes auto.
    #[arg(long, default_value_t = 1)]
    min_nodes: u32,
    /// Most node processes with --nodes auto.
    #[arg(long, default_value_t = 8)]
    max_nodes: u32,
    /// Shard replicas one node is meant to hold (--nodes auto adds nodes beyond it).
    #[arg(long, default_value_t = 64)]
    node_replicas: u32,
    /// MiB/s of writes one node is meant to take (--nodes auto adds nodes beyond it).
    #[arg(long, default_value_t = 16)]
    node_write_mibps: u64,
    /// How long the load must stay low before --nodes auto drains and removes a node
    /// (milliseconds).
    #[arg(long, default_value_t = 60_000)]
    node_scale_down_after_ms: u64,
}

impl PoolArgs {
    /// Nodes to start with.
    pub fn min_nodes(&self) -> u32 {
        self.min_nodes.max(1)
    }

    /// The policy these flags describe.
    pub fn policy(&self) -> PoolPolicy {
        PoolPolicy {
            interval: Duration::from_secs(1),
            min_nodes: self.min_nodes(),
            max_nodes: self.max_nodes.max(self.min_nodes()),
            replicas_per_node: self.node_replicas.max(1),
            write_bytes_per_node: self.node_write_mibps.max(1) * 1024 * 1024,
            scale_down_after: Duration::from_millis(self.node_scale_down_after_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_is_a_number_or_auto() {
        assert_eq!(parse_nodes("3"), Ok(NodeCount::Fixed(3)));
        assert_eq!(parse_nodes("AUTO"), Ok(NodeCount::Auto));
        assert!(parse_nodes("many").unwrap_err().contains("number, or auto"));
        assert!(!NodeCount::Fixed(0).clustered());
        assert!(NodeCount::Auto.clustered());
    }
}
