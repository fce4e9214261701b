//! Lineage queries beyond the direct neighbours: [`Store::upstream`] and [`Store::downstream`].
//!
//! Both walk the graph breadth-first from one artifact, following the direction in which
//! lineage flows along each relation (see [`Relation`]), up to a depth, and return the
//! subgraph they saw: its nodes with their distance from the root, and its typed edges in the
//! direction they were recorded. Cycles are fine: each artifact is visited once.
//!
//! A function, module or table reached through a request, job or record is a leaf of the
//! walk as far as events go: it is shared by every request, so walking on from it into events
//! would pull in everything that every request did. `downstream(req, 3)` is what that request
//! did and what came of it, not what its functions did in other requests. Walks that start at
//! a structural artifact (`downstream(fn, 2)`) do go from it into events.

use std::collections::HashMap;

use crate::id::ArtifactId;
use crate::store::{Direction, NodeRef, Relation, Store, unpack_edge, unpack_ref};

/// An edge of a lineage subgraph, in the direction it was recorded.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Edge {
    /// Where the edge starts.
    pub from: ArtifactId,
    /// The relation.
    pub relation: Relation,
    /// Where the edge ends.
    pub to: ArtifactId,
}

/// A node of a lineage subgraph.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LineageNode {
    /// Hops from the root (the root is 0).
    pub depth: usize,
    /// The artifact.
    pub id: ArtifactId,
}

/// The subgraph an [`upstream`](Store::upstream) or [`downstream`](Store::downstream) walk saw.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Lineage {
    /// Where the walk started.
    pub root: ArtifactId,
    /// Every artifact reached, the root first, sorted by depth and then ID.
    pub nodes: Vec<LineageNode>,
    /// Every edge followed, sorted.
    pub edges: Vec<Edge>,
}

impl Lineage {
    /// Whether `id` is in the subgraph.
    pub fn contains(&self, id: &str) -> bool {
        self.nodes.iter().any(|n| n.id == id)
    }

    /// The IDs of the nodes, root first.
    pub fn ids(&self) -> impl Iterator<Item = &ArtifactId> {
        self.nodes.iter().map(|n| &n.id)
    }
}

impl Store {
    /// What `id` influenced, up to `depth` hops: what it produced, what called code produced,
    /// what was derived from that. `None` if the store does not hold `id`.
    ///
    /// ```
    /// use provenance::{Relation, Store};
    ///
    /// let store = Store::new();
    /// store.record("rec:orders:1", "fn:shop::orders::create")?;
    /// let order = "rec:orders:1".parse()?;
    /// let invoice = "rec:invoices:9".parse()?;
    /// store.relate(&invoice, Relation::DerivedFrom, &order)?;
    ///
    /// let lineage = store.downstream("fn:shop::orders::create", 2).unwrap();
    /// assert!(lineage.contains("rec:invoices:9"));
    /// assert_eq!(lineage.nodes.len(), 3);
    /// # Ok::<(), provenance::Error>(())
    /// ```
    pub fn downstream(&self, id: &str, depth: usize) -> Option<Lineage> {
        walk(self, id, depth, true)
    }

    /// What `id` came from, up to `depth` hops: who produced it, what that read, what it was
    /// derived from. `None` if the store does not hold `id`.
    ///
    /// ```
    /// use provenance::Store;
    ///
    /// let store = Store::new();
    /// store.record("rec:orders:1", "fn:shop::orders::create")?;
    /// let lineage = store.upstream("rec:orders:1", 1).unwrap();
    /// assert!(lineage.contains("fn:shop::orders::create"));
    /// # Ok::<(), provenance::Error>(())
    /// ```
    pub fn upstream(&self, id: &str, depth: usize) -> Option<Lineage> {
        walk(self, id, depth, false)
    }
}

fn walk(store: &Store, id: &str, max_depth: usize, forward: bool) -> Option<Lineage> {
    let (root, adjacency) = store.adjacency_of_id(id)?;
    // Per node: its depth (first reached) and whether every path found so far went through
    // an event (see the module docs).
    let mut depth_of: HashMap<NodeRef, (usize, bool)> = HashMap::new();
    let mut seen = vec![root];
    let mut edges: Vec<(NodeRef, Relation, NodeRef)> = Vec::new();
    // Whether the path to a node passed through an event (see the module docs).
    let root_is_event = root.is_event();
    depth_of.insert(root, (0, root_is_event));
    let mut frontier = vec![(root, root_is_event, adjacency)];
    for depth in 1..=max_depth {
        let mut next = Vec::new();
        for (node, via_event, adjacency) in frontier {
            let node_is_event = node.is_event();
            for e in adjacency {
                let (relation, direction) = unpack_edge(e);
                let other = unpack_ref(e);
                let (from, to) = match direction {
                    Some(Direction::Outgoing) if relation.flows_forward() == forward => {
                        (node, other)
                    }
                    Some(Direction::Incoming) if relation.flows_forward() != forward => {
                        (other, node)
                    }
                    None => {
                        edges.push((node, relation, node));
                        continue;
                    }
                    _ => continue,
                };
                let other_is_event = other.is_event();
                if via_event && !node_is_event && other_is_event {
                    continue;
                }
                edges.push((from, relation, to));
                let via = via_event || other_is_event;
                match depth_of.entry(other) {
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert((depth, via));
                        seen.push(other);
                        next.push((other, via));
                    }
                    // Reached again without an event on the way: it is not a leaf after all,
                    // whichever path the adjacency order happened to find first. Walk it
                    // again (once: the flag only goes from true to false); edges are deduped.
                    std::collections::hash_map::Entry::Occupied(mut o) if o.get().1 && !via => {
                        o.get_mut().1 = false;
                        next.push((other, false));
                    }
                    std::collections::hash_map::Entry::Occupied(_) => {}
                }
            }
        }
        if depth == max_depth {
            break;
        }
        frontier = next
            .into_iter()
            .filter_map(|(r, via)| store.adjacency_of(r).map(|a| (r, via, a)))
            .collect();
    }

    let ids: HashMap<NodeRef, ArtifactId> = seen
        .iter()
        .copied()
        .zip(store.resolve(seen.iter().copied()))
        .filter_map(|(r, id)| id.map(|id| (r, id)))
        .collect();
    let root_id = ids.get(&root)?.clone();
    let mut nodes: Vec<LineageNode> = ids
        .iter()
        .map(|(r, id)| LineageNode {
            depth: depth_of[r].0,
            id: id.clone(),
        })
        .collect();
    nodes.sort_unstable();
    let mut edges: Vec<Edge> = edges
        .into_iter()
        .filter_map(|(from, relation, to)| {
            Some(Edge {
                from: ids.get(&from)?.clone(),
                relation,
                to: ids.get(&to)?.clone(),
            })
        })
        .collect();
    edges.sort_unstable();
    edges.dedup();
    Some(Lineage {
        root: root_id,
        nodes,
        edges,
    })
}
