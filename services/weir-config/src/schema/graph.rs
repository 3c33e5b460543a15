//! The resource graph: names that must be unique, and the order references impose.

use std::collections::{BTreeMap, BTreeSet};

use super::{ConsumerSpec, StreamSpec};
use crate::eval::{address, Kind};
use crate::source::{Diags, Pos, Sources};

/// Reports two resources that would be the same stream or consumer.
pub(super) fn check_unique_names(
    streams: &[StreamSpec],
    consumers: &[ConsumerSpec],
    sources: &Sources,
    diags: &mut Diags,
) {
    let where_ = |pos: Pos| sources.describe(pos);
    let mut names: BTreeMap<&str, &StreamSpec> = BTreeMap::new();
    for stream in streams {
        if let Some(first) = names.insert(&stream.name, stream) {
            diags.error(
                stream.pos,
                format!(
                    "duplicate stream name {:?}: stream.{} and stream.{} (at {}) would be the same stream",
                    stream.name,
                    stream.label,
                    first.label,
                    where_(first.pos)
                ),
            );
        }
    }
    let mut pairs: BTreeMap<(&str, &str), &ConsumerSpec> = BTreeMap::new();
    for consumer in consumers {
        if let Some(first) = pairs.insert((&consumer.stream_name, &consumer.name), consumer) {
            diags.error(
                consumer.pos,
                format!(
                    "duplicate consumer name {:?} on stream {:?}: consumer.{} and consumer.{} (at {}) would be the same consumer",
                    consumer.name,
                    consumer.stream_name,
                    consumer.label,
                    first.label,
                    where_(first.pos)
                ),
            );
        }
    }
}

/// Orders resources so each comes after what it references; reports loops.
pub(super) fn dependency_order(
    streams: &[StreamSpec],
    consumers: &[ConsumerSpec],
    diags: &mut Diags,
) -> Vec<String> {
    let mut nodes: Vec<(String, BTreeSet<String>, Pos)> = Vec::new();
    for s in streams {
        nodes.push((address(Kind::Stream, &s.label), s.depends_on.clone(), s.pos));
    }
    for c in consumers {
        nodes.push((
            address(Kind::Consumer, &c.label),
            c.depends_on.clone(),
            c.pos,
        ));
    }
    let known: BTreeSet<String> = nodes.iter().map(|(a, _, _)| a.clone()).collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::new();
    loop {
        let ready: Vec<usize> = nodes
            .iter()
            .enumerate()
            .filter(|(_, (a, deps, _))| {
                !done.contains(a) && deps.iter().all(|d| done.contains(d) || !known.contains(d))
            })
            .map(|(i, _)| i)
            .collect();
        if ready.is_empty() {
            break;
        }
        for i in ready {
            done.insert(nodes[i].0.clone());
            order.push(nodes[i].0.clone());
        }
    }
    if order.len() < nodes.len() && !diags.mentions("dependency cycle") {
        // Walk from the first stuck resource along stuck dependencies until one repeats.
        let stuck: BTreeMap<&str, (&BTreeSet<String>, Pos)> = nodes
            .iter()
            .filter(|(a, _, _)| !done.contains(a))
            .map(|(a, d, p)| (a.as_str(), (d, *p)))
            .collect();
        let start = nodes
            .iter()
            .find(|(a, _, _)| !done.contains(a))
            .map(|(a, _, p)| (a.as_str(), *p));
        if let Some((mut current, pos)) = start {
            let mut path: Vec<&str> = vec![current];
            while let Some(next) = stuck
                .get(current)
                .and_then(|(deps, _)| deps.iter().find(|d| stuck.contains_key(d.as_str())))
            {
                if let Some(at) = path.iter().position(|p| *p == next.as_str()) {
                    let mut cycle: Vec<&str> = path[at..].to_vec();
                    cycle.push(next.as_str());
                    let pos = stuck.get(path[at]).map_or(pos, |(_, p)| *p);
                    diags.error(
                        pos,
                        format!("dependency cycle between resources: {}; a resource cannot depend on itself through others", cycle.join(" -> ")),
                    );
                    break;
                }
                path.push(next.as_str());
                current = next.as_str();
            }
        }
    }
    order
}
