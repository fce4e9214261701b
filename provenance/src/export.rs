//! A lineage subgraph or the module graph as JSON, Graphviz DOT or Mermaid.
//!
//! Build a [`Graph`] from an [`upstream`](Store::upstream) or [`downstream`](Store::downstream)
//! walk with [`Graph::from_lineage`], or from the registered modules with
//! [`Graph::module_graph`], then render it with [`Graph::to_json`], [`Graph::to_dot`] or
//! [`Graph::to_mermaid`]. Nodes and edges are sorted by ID, so the same graph always renders
//! to the same bytes (diffable, snapshot-testable).
//!
//! # The three formats
//!
//! All three draw edges in the direction they were recorded (see [`Relation`]), labelled with
//! the relation's name, laid out left to right. Nodes are styled by [`Kind`] (a shape and a
//! colour per kind in DOT, a `classDef` per kind in Mermaid), a node with an [`ArchLayer`]
//! shows it under its ID, and the root of a lineage walk has a thick red border.
//!
//! ```
//! use provenance::{Store, export::Graph};
//!
//! let store = Store::new();
//! store.record("rec:orders:42", "fn:shop::orders::create")?;
//! let lineage = store.upstream("rec:orders:42", 1).unwrap();
//! let graph = Graph::from_lineage(&lineage, &store);
//!
//! assert_eq!(graph.to_dot(), r##"digraph provenance {
//!   graph [rankdir=LR, fontname="Helvetica", fontsize=10];
//!   node [fontname="Helvetica", fontsize=10, style=filled, color="#374151"];
//!   edge [fontname="Helvetica", fontsize=9, color="#6b7280", fontcolor="#374151"];
//!   subgraph kind_fn {
//!     node [shape=box, style="rounded,filled", fillcolor="#bfdbfe"];
//!     "fn:shop::orders::create" [label="fn:shop::orders::create"];
//!   }
//!   subgraph kind_rec {
//!     node [shape=note, fillcolor="#d9f99d"];
//!     "rec:orders:42" [label="rec:orders:42", penwidth=3, color="#b91c1c"];
//!   }
//!   "fn:shop::orders::create" -> "rec:orders:42" [label="produced"];
//! }
//! "##);
//!
//! assert_eq!(graph.to_mermaid(), r##"flowchart LR
//!   classDef fn fill:#bfdbfe,stroke:#1d4ed8,color:#111827
//!   classDef rec fill:#d9f99d,stroke:#4d7c0f,color:#111827
//!   classDef root stroke:#b91c1c,stroke-width:3px
//!   n0["fn:shop::orders::create"]:::fn
//!   n1["rec:orders:42"]:::rec
//!   n0 -->|produced| n1
//!   class n1 root
//! "##);
//! # Ok::<(), provenance::Error>(())
//! ```
//!
//! # JSON, version 1
//!
//! [`Graph::to_json`] writes one line of JSON (no serde needed) in this shape, which is stable:
//! fields are not renamed, removed or given a new meaning without a new `version`. Fields may
//! be added, so a reader should ignore the ones it does not know.
//!
//! ```text
//! {
//!   "version": 1,
//!   "root":  "rec:orders:42" | null,            // the walk's root; null for the module graph
//!   "nodes": [{
//!     "id":    "fn:shop::orders::create",         // canonical ID (see crate::id)
//!     "kind":  "fn",                              // mod fn tbl col rec req mig job cfg
//!     "layer": "context" | null,                  // ArchLayer, lowercase, when known
//!     "depth": 1 | null,                          // hops from the root; null in the module graph
//!     "detail": "POST /orders → 201" | null       // a request's method, route, status; a job's queue
//!   }],                                           // sorted by id
//!   "edges": [{
//!     "from": "fn:shop::orders::create",
//!     "relation": "produced",                     // snake_case Relation name
//!     "to": "rec:orders:42"
//!   }]                                            // sorted by from, relation, to
//! }
//! ```
//!
//! With the `serde` feature, [`Graph`] implements `Serialize` with exactly this shape.
//!
//! # Escaping
//!
//! An artifact ID is printable ASCII, but that still allows `<`, `>`, `&`, `#`, `[`, `]`, `|`,
//! `;`, `{`, `}` and `-->` (a record's primary key can be anything; see [`crate::id`]). Each
//! format escapes what it must so that an ID is always shown as text and can neither end the
//! statement it is in nor start another:
//!
//! - JSON: RFC 8259 string escaping; control characters, U+2028 and U+2029 as `\uXXXX`, and
//!   `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026` so the output can sit inside an HTML
//!   `<script>` element.
//! - DOT: node names and labels are quoted strings with `"` and `\` escaped; in labels `&` is
//!   written `&amp;` because Graphviz decodes HTML entities in labels. No HTML-like labels.
//! - Mermaid: node identifiers are synthetic (`n0`, `n1`, …); an ID only appears inside a
//!   `["…"]` label, where `"`, `#`, `<`, `>`, `&` and backticks become entity codes (`#quot;`,
//!   `#35;`, `#lt;`, `#gt;`, `#amp;`, `#96;`) and a `%` next to another `%` becomes `#37;`, so
//!   no `%%` comment or `%%{init}%%` directive can form.
//!
//! Control characters cannot occur in an ID; if a label ever held one it would be shown
//! percent-encoded (`%0A`), the way the ID grammar writes it.

use std::fmt::Write as _;

use crate::arch::ArchLayer;
use crate::id::{ArtifactId, Kind};
use crate::query::Lineage;
use crate::store::{Relation, Store};

/// The value of `"version"` in [`Graph::to_json`]'s output.
const JSON_VERSION: u32 = 1;

/// A graph ready to render: a lineage subgraph or the module graph.
///
/// Nodes are sorted by ID and edges by `(from, relation, to)`, each once, so equal graphs
/// render to equal bytes whatever order the store found them in.
///
/// ```
/// use provenance::{Kind, Store, export::Graph};
///
/// let store = Store::new();
/// store.record("rec:orders:42", "fn:shop::orders::create")?;
/// let graph = Graph::from_lineage(&store.upstream("rec:orders:42", 1).unwrap(), &store);
///
/// assert_eq!(graph.nodes().len(), 2);
/// assert_eq!(graph.nodes()[0].kind, Kind::Fn);
/// assert_eq!(graph.root().map(|r| r.as_str()), Some("rec:orders:42"));
/// # Ok::<(), provenance::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Graph {
    root: Option<ArtifactId>,
    nodes: Vec<Node>,
    edges: Vec<GraphEdge>,
}

/// A node of a [`Graph`]: an artifact and what the renderings show about it.
///
/// ```
/// use provenance::{ArchLayer, Kind, ModuleInfo, Store, export::Graph};
///
/// let store = Store::new();
/// store.register_module("shop::orders", ModuleInfo::default().layer(ArchLayer::Context))?;
/// let graph = Graph::module_graph(&store);
/// let node = &graph.nodes()[0];
///
/// assert_eq!(node.id.as_str(), "mod:shop::orders");
/// assert_eq!((node.kind, node.layer, node.depth, node.root), (Kind::Mod, Some(ArchLayer::Context), None, false));
/// # Ok::<(), provenance::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Node {
    /// The artifact.
    pub id: ArtifactId,
    /// Its kind (the ID's prefix).
    pub kind: Kind,
    /// Its architectural layer, when the store knows one (modules and functions).
    pub layer: Option<ArchLayer>,
    /// Hops from the root of a lineage walk; `None` in the module graph.
    pub depth: Option<usize>,
    /// What the store knows that helps a reader tell it apart: a request's method, route and
    /// status (`POST /orders → 201`), a job's queue.
    pub detail: Option<String>,
    /// Whether this is the root of the walk. (In JSON the graph's `"root"` says it.)
    #[cfg_attr(feature = "serde", serde(skip))]
    pub root: bool,
}

/// An edge of a [`Graph`], in the direction it was recorded.
///
/// ```
/// use provenance::{Relation, Store, export::Graph};
///
/// let store = Store::new();
/// store.record("rec:orders:42", "fn:shop::orders::create")?;
/// let graph = Graph::from_lineage(&store.upstream("rec:orders:42", 1).unwrap(), &store);
/// let edge = &graph.edges()[0];
///
/// assert_eq!(
///     (edge.from.as_str(), edge.relation, edge.to.as_str()),
///     ("fn:shop::orders::create", Relation::Produced, "rec:orders:42")
/// );
/// # Ok::<(), provenance::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GraphEdge {
    /// Where the edge starts.
    pub from: ArtifactId,
    /// The relation.
    pub relation: Relation,
    /// Where the edge ends.
    pub to: ArtifactId,
}

impl Graph {
    /// The graph of a lineage walk, with the layers the store knows for its `mod:` and `fn:`
    /// nodes. A node the store does not hold (evicted since the walk, or a hand-built
    /// [`Lineage`]) still renders, without a layer; so does an edge end missing from
    /// `lineage.nodes`, without a depth.
    ///
    /// ```
    /// use provenance::{ArchLayer, ModuleInfo, Relation, Store, export::Graph, function_id, module_id};
    ///
    /// let store = Store::new();
    /// store.register_module("shop::orders", ModuleInfo::default().source_file("src/orders.rs"))?;
    /// let create = function_id("shop::orders", "create")?;
    /// store.relate(&module_id("shop::orders")?, Relation::Defines, &create)?;
    /// store.record("rec:orders:42", create.as_str())?;
    ///
    /// let graph = Graph::from_lineage(&store.upstream("rec:orders:42", 2).unwrap(), &store);
    /// let module = graph.nodes().iter().find(|n| n.id == "mod:shop::orders").unwrap();
    /// assert_eq!((module.layer, module.depth), (Some(ArchLayer::Context), Some(2)));
    /// assert!(graph.to_dot().contains(r#"[label="mod:shop::orders\n(context)"]"#));
    /// # Ok::<(), provenance::Error>(())
    /// ```
    pub fn from_lineage(lineage: &Lineage, store: &Store) -> Graph {
        let mut nodes: Vec<Node> = lineage
            .nodes
            .iter()
            .map(|n| (n.id.clone(), Some(n.depth)))
            .chain(std::iter::once((lineage.root.clone(), None)))
            .chain(
                lineage
                    .edges
                    .iter()
                    .flat_map(|e| [(e.from.clone(), None), (e.to.clone(), None)]),
            )
            .map(|(id, depth)| Node {
                kind: id.kind(),
                layer: None,
                detail: None,
                depth,
                root: id == lineage.root,
                id,
            })
            .collect();
        // Per ID, the entry with a depth (the smallest) comes first and is kept.
        nodes.sort_by(|a, b| {
            a.id.cmp(&b.id)
                .then_with(|| a.depth.is_none().cmp(&b.depth.is_none()))
                .then_with(|| a.depth.cmp(&b.depth))
        });
        nodes.dedup_by(|later, first| later.id == first.id);
        for node in &mut nodes {
            // Only modules and functions have layers, and requests and jobs details; a lookup
            // per record would be wasted.
            match node.kind {
                Kind::Mod | Kind::Fn => {
                    node.layer = store.lookup(node.id.as_str()).and_then(|a| a.layer);
                }
                Kind::Req | Kind::Job => {
                    node.detail = store
                        .lookup(node.id.as_str())
                        .and_then(|a| detail(&a.metadata));
                }
                _ => {}
            }
        }
        let edges = lineage
            .edges
            .iter()
            .map(|e| GraphEdge {
                from: e.from.clone(),
                relation: e.relation,
                to: e.to.clone(),
            })
            .collect();
        Graph::sorted(Some(lineage.root.clone()), nodes, edges)
    }

    /// The module graph: every module the store knows (registered, or known as a
    /// dependency) with its layer, and a [`Relation::DependsOn`] edge per dependency, as
    /// [`Store::module_graph`] reports them. There is no root.
    ///
    /// ```
    /// use provenance::{ArchLayer, ModuleInfo, Relation, Store, export::Graph};
    ///
    /// let store = Store::new();
    /// store.register_module(
    ///     "shop::handlers::orders",
    ///     ModuleInfo::default().source_file("src/handlers/orders.rs").dependency("shop::orders"),
    /// )?;
    /// store.register_module("shop::orders", ModuleInfo::default().source_file("src/orders.rs"))?;
    ///
    /// let graph = Graph::module_graph(&store);
    /// let layers: Vec<_> = graph.nodes().iter().map(|n| n.layer).collect();
    /// assert_eq!(layers, [Some(ArchLayer::Controller), Some(ArchLayer::Context)]);
    /// assert_eq!(graph.edges()[0].relation, Relation::DependsOn);
    /// assert!(graph.root().is_none());
    /// # Ok::<(), provenance::Error>(())
    /// ```
    pub fn module_graph(store: &Store) -> Graph {
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        for (module, deps) in store.module_graph() {
            for dep in deps {
                edges.push(GraphEdge {
                    from: module.clone(),
                    relation: Relation::DependsOn,
                    to: dep,
                });
            }
            nodes.push(Node {
                kind: module.kind(),
                layer: store.lookup(module.as_str()).and_then(|a| a.layer),
                detail: None,
                depth: None,
                root: false,
                id: module,
            });
        }
        // A dependency is a key of the module graph too; this only guards against an edge
        // end that was evicted or arrived between the two reads.
        let missing: Vec<ArtifactId> = edges
            .iter()
            .map(|e| &e.to)
            .filter(|to| !nodes.iter().any(|n| &n.id == *to))
            .cloned()
            .collect();
        for id in missing {
            nodes.push(Node {
                kind: id.kind(),
                layer: None,
                detail: None,
                depth: None,
                root: false,
                id,
            });
        }
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        nodes.dedup_by(|later, first| later.id == first.id);
        Graph::sorted(None, nodes, edges)
    }

    fn sorted(root: Option<ArtifactId>, nodes: Vec<Node>, mut edges: Vec<GraphEdge>) -> Graph {
        debug_assert!(nodes.windows(2).all(|w| w[0].id < w[1].id));
        edges.sort_unstable();
        edges.dedup();
        Graph { root, nodes, edges }
    }

    /// The nodes, sorted by ID, each once.
    ///
    /// ```
    /// use provenance::{Store, export::Graph};
    ///
    /// let store = Store::new();
    /// store.record("rec:orders:42", "fn:shop::orders::create")?;
    /// let graph = Graph::from_lineage(&store.upstream("rec:orders:42", 1).unwrap(), &store);
    /// let ids: Vec<&str> = graph.nodes().iter().map(|n| n.id.as_str()).collect();
    /// assert_eq!(ids, ["fn:shop::orders::create", "rec:orders:42"]);
    /// # Ok::<(), provenance::Error>(())
    /// ```
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The edges, sorted by `(from, relation, to)`, each once.
    ///
    /// ```
    /// use provenance::{Store, export::Graph};
    ///
    /// let store = Store::new();
    /// store.record("rec:orders:42", "fn:shop::orders::create")?;
    /// let graph = Graph::from_lineage(&store.upstream("rec:orders:42", 1).unwrap(), &store);
    /// assert_eq!(graph.edges().len(), 1);
    /// # Ok::<(), provenance::Error>(())
    /// ```
    pub fn edges(&self) -> &[GraphEdge] {
        &self.edges
    }

    /// The root of the lineage walk; `None` for the module graph.
    ///
    /// ```
    /// use provenance::{Store, export::Graph};
    ///
    /// let store = Store::new();
    /// store.record("rec:orders:42", "fn:shop::orders::create")?;
    /// let graph = Graph::from_lineage(&store.downstream("fn:shop::orders::create", 1).unwrap(), &store);
    /// assert_eq!(graph.root().unwrap().as_str(), "fn:shop::orders::create");
    /// assert!(Graph::module_graph(&store).root().is_none());
    /// # Ok::<(), provenance::Error>(())
    /// ```
    pub fn root(&self) -> Option<&ArtifactId> {
        self.root.as_ref()
    }

    /// The graph as one line of JSON in the stable shape of the [module docs](self).
    ///
    /// ```
    /// use provenance::{Store, export::Graph};
    ///
    /// let store = Store::new();
    /// store.record("rec:orders:42", "fn:shop::orders::create")?;
    /// let graph = Graph::from_lineage(&store.upstream("rec:orders:42", 1).unwrap(), &store);
    /// assert_eq!(
    ///     graph.to_json(),
    ///     concat!(
    ///         r#"{"version":1,"root":"rec:orders:42","nodes":["#,
    ///         r#"{"id":"fn:shop::orders::create","kind":"fn","layer":null,"depth":1,"detail":null},"#,
    ///         r#"{"id":"rec:orders:42","kind":"rec","layer":null,"depth":0,"detail":null}],"edges":["#,
    ///         r#"{"from":"fn:shop::orders::create","relation":"produced","to":"rec:orders:42"}]}"#,
    ///     )
    /// );
    /// # Ok::<(), provenance::Error>(())
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + 80 * (self.nodes.len() + self.edges.len()));
        let _ = write!(out, r#"{{"version":{JSON_VERSION},"root":"#);
        match &self.root {
            Some(root) => json_string(&mut out, root.as_str()),
            None => out.push_str("null"),
        }
        out.push_str(r#","nodes":["#);
        for (i, node) in self.nodes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"id":"#);
            json_string(&mut out, node.id.as_str());
            let _ = write!(out, r#","kind":"{}","layer":"#, node.kind.as_str());
            match node.layer {
                Some(layer) => {
                    let _ = write!(out, r#""{}""#, layer.as_str());
                }
                None => out.push_str("null"),
            }
            out.push_str(r#","depth":"#);
            match node.depth {
                Some(depth) => {
                    let _ = write!(out, "{depth}");
                }
                None => out.push_str("null"),
            }
            out.push_str(r#","detail":"#);
            match &node.detail {
                Some(detail) => json_string(&mut out, detail),
                None => out.push_str("null"),
            }
            out.push('}');
        }
        out.push_str(r#"],"edges":["#);
        for (i, edge) in self.edges.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"from":"#);
            json_string(&mut out, edge.from.as_str());
            let _ = write!(out, r#","relation":"{}","to":"#, edge.relation.as_str());
            json_string(&mut out, edge.to.as_str());
            out.push('}');
        }
        out.push_str("]}");
        out
    }

    /// The graph in Graphviz DOT, laid out left to right: `dot -Tsvg graph.dot > graph.svg`.
    ///
    /// Nodes come first, one statement per line, grouped by kind in a subgraph that sets the
    /// kind's shape and colour; then one statement per edge, labelled with its relation.
    ///
    /// ```
    /// use provenance::{Store, export::Graph};
    ///
    /// let store = Store::new();
    /// store.record("rec:orders:<b>42</b>", "fn:shop::orders::create")?;
    /// let graph = Graph::from_lineage(&store.upstream("rec:orders:<b>42</b>", 1).unwrap(), &store);
    /// let dot = graph.to_dot();
    /// assert!(dot.starts_with("digraph provenance {\n  graph [rankdir=LR"));
    /// assert!(dot.contains(r#""fn:shop::orders::create" -> "rec:orders:<b>42</b>" [label="produced"];"#));
    /// # Ok::<(), provenance::Error>(())
    /// ```
    pub fn to_dot(&self) -> String {
        let mut out = String::with_capacity(400 + 100 * (self.nodes.len() + self.edges.len()));
        out.push_str("digraph provenance {\n");
        out.push_str("  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=10];\n");
        out.push_str(
            "  node [fontname=\"Helvetica\", fontsize=10, style=filled, color=\"#374151\"];\n",
        );
        out.push_str(
            "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#6b7280\", fontcolor=\"#374151\"];\n",
        );
        // Nodes are sorted by ID, and an ID starts with its kind: each kind is one run.
        for run in self.nodes.chunk_by(|a, b| a.kind == b.kind) {
            let style = Style::of(run[0].kind);
            let _ = writeln!(out, "  subgraph kind_{} {{", run[0].kind.as_str());
            let _ = writeln!(out, "    node [{}];", style.dot);
            for node in run {
                out.push_str("    ");
                dot_string(&mut out, node.id.as_str());
                out.push_str(" [label=");
                let mut label = String::with_capacity(node.id.as_str().len() + 2);
                label.push('"');
                dot_label(&mut label, node.id.as_str());
                if let Some(layer) = node.layer {
                    let _ = write!(label, "\\n({layer})");
                }
                if let Some(detail) = &node.detail {
                    label.push_str("\\n");
                    dot_label(&mut label, detail);
                }
                label.push('"');
                out.push_str(&label);
                if node.root {
                    out.push_str(", penwidth=3, color=\"#b91c1c\"");
                }
                out.push_str("];\n");
            }
            out.push_str("  }\n");
        }
        for edge in &self.edges {
            out.push_str("  ");
            dot_string(&mut out, edge.from.as_str());
            out.push_str(" -> ");
            dot_string(&mut out, edge.to.as_str());
            let _ = writeln!(out, " [label=\"{}\"];", edge.relation.as_str());
        }
        out.push_str("}\n");
        out
    }

    /// The graph as a Mermaid flowchart, laid out left to right (paste it into a ```` ```mermaid ````
    /// block of a Markdown file).
    ///
    /// Node `n{i}` is the `i`-th of [`nodes`](Self::nodes); the artifact ID is only ever in
    /// its `["…"]` label, escaped (see the [module docs](self#escaping)). Then one line per
    /// edge, labelled with its relation, and a `class` line marking the root.
    ///
    /// ```
    /// use provenance::{Store, export::Graph};
    ///
    /// let store = Store::new();
    /// let odd = provenance::record_id("orders", r#"#1"]-->x"#)?;
    /// assert_eq!(odd.as_str(), "rec:orders:#1%22]-->x");
    /// store.record(odd.as_str(), "fn:shop::orders::create")?;
    /// let graph = Graph::from_lineage(&store.downstream("fn:shop::orders::create", 1).unwrap(), &store);
    /// let mermaid = graph.to_mermaid();
    /// assert!(mermaid.contains(r#"  n1["rec:orders:#35;1%22]--#gt;x"]:::rec"#));
    /// assert!(mermaid.contains("  n0 -->|produced| n1\n  class n0 root\n"));
    /// # Ok::<(), provenance::Error>(())
    /// ```
    pub fn to_mermaid(&self) -> String {
        let mut out = String::with_capacity(300 + 60 * (self.nodes.len() + self.edges.len()));
        out.push_str("flowchart LR\n");
        let mut kinds: Vec<Kind> = self.nodes.iter().map(|n| n.kind).collect();
        kinds.dedup();
        for kind in kinds {
            let _ = writeln!(
                out,
                "  classDef {} {}",
                kind.as_str(),
                Style::of(kind).mermaid
            );
        }
        if self.nodes.iter().any(|n| n.root) {
            out.push_str("  classDef root stroke:#b91c1c,stroke-width:3px\n");
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let _ = write!(out, "  n{i}[\"");
            mermaid_label(&mut out, node.id.as_str());
            if let Some(layer) = node.layer {
                let _ = write!(out, "<br>({layer})");
            }
            if let Some(detail) = &node.detail {
                out.push_str("<br>");
                mermaid_label(&mut out, detail);
            }
            let _ = writeln!(out, "\"]:::{}", node.kind.as_str());
        }
        for edge in &self.edges {
            let (Some(from), Some(to)) = (self.index_of(&edge.from), self.index_of(&edge.to))
            else {
                continue;
            };
            let _ = writeln!(out, "  n{from} -->|{}| n{to}", edge.relation.as_str());
        }
        if let Some(i) = self.nodes.iter().position(|n| n.root) {
            let _ = writeln!(out, "  class n{i} root");
        }
        out
    }

    fn index_of(&self, id: &ArtifactId) -> Option<usize> {
        self.nodes.binary_search_by(|n| n.id.cmp(id)).ok()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Graph {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Graph", 4)?;
        s.serialize_field("version", &JSON_VERSION)?;
        s.serialize_field("root", &self.root)?;
        s.serialize_field("nodes", &self.nodes)?;
        s.serialize_field("edges", &self.edges)?;
        s.end()
    }
}

/// How one kind of node looks.
struct Style {
    /// DOT node attributes.
    dot: &'static str,
    /// Mermaid `classDef` styles.
    mermaid: &'static str,
}

impl Style {
    const fn of(kind: Kind) -> Style {
        // Activities (req, job) are ellipses, code is boxes, data is tables, notes and cylinders.
        let (dot, mermaid) = match kind {
            Kind::Req => (
                r##"shape=ellipse, fillcolor="#fde68a""##,
                "fill:#fde68a,stroke:#b45309,color:#111827",
            ),
            Kind::Job => (
                r##"shape=ellipse, fillcolor="#fed7aa""##,
                "fill:#fed7aa,stroke:#c2410c,color:#111827",
            ),
            Kind::Fn => (
                r##"shape=box, style="rounded,filled", fillcolor="#bfdbfe""##,
                "fill:#bfdbfe,stroke:#1d4ed8,color:#111827",
            ),
            Kind::Mod => (
                r##"shape=tab, fillcolor="#c7d2fe""##,
                "fill:#c7d2fe,stroke:#4338ca,color:#111827",
            ),
            Kind::Tbl => (
                r##"shape=cylinder, fillcolor="#bbf7d0""##,
                "fill:#bbf7d0,stroke:#15803d,color:#111827",
            ),
            Kind::Col => (
                r##"shape=box, fillcolor="#dcfce7""##,
                "fill:#dcfce7,stroke:#15803d,color:#111827",
            ),
            Kind::Rec => (
                r##"shape=note, fillcolor="#d9f99d""##,
                "fill:#d9f99d,stroke:#4d7c0f,color:#111827",
            ),
            Kind::Mig => (
                r##"shape=component, fillcolor="#e9d5ff""##,
                "fill:#e9d5ff,stroke:#7e22ce,color:#111827",
            ),
            Kind::Cfg => (
                r##"shape=hexagon, fillcolor="#e5e7eb""##,
                "fill:#e5e7eb,stroke:#4b5563,color:#111827",
            ),
        };
        Style { dot, mermaid }
    }
}

/// Whether `c` would break a line or be invisible: C0, DEL, C1, and the two characters that
/// JavaScript takes for line ends (U+2028, U+2029).
fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Appends `c` percent-encoded, byte by byte of its UTF-8 form, as the ID grammar writes it.
fn push_percent(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        let _ = write!(out, "%{b:02X}");
    }
}

/// Appends `s` as a JSON string (RFC 8259), quotes included.
/// A request's `METHOD route → status`, or a job's queue, from its metadata.
fn detail(metadata: &std::collections::BTreeMap<String, String>) -> Option<String> {
    if let Some(method) = metadata.get("method") {
        let mut d = method.clone();
        if let Some(route) = metadata.get("route") {
            d.push(' ');
            d.push_str(route);
        }
        if let Some(status) = metadata.get("status") {
            d.push_str(" → ");
            d.push_str(status);
        }
        return Some(d);
    }
    metadata.get("queue").map(|q| format!("queue {q}"))
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            // The rest of C0 must be escaped; U+2028/9 end lines in JavaScript; `<`, `>`
            // and `&` so that the JSON can be embedded in HTML.
            c if c < ' ' || matches!(c, '\u{2028}' | '\u{2029}' | '<' | '>' | '&') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `s` as a DOT quoted string, quotes included: a node name.
fn dot_string(out: &mut String, s: &str) {
    out.push('"');
    dot_escape(out, s, false);
    out.push('"');
}

/// Appends `s` escaped for the inside of a quoted DOT label.
fn dot_label(out: &mut String, s: &str) {
    dot_escape(out, s, true);
}

fn dot_escape(out: &mut String, s: &str, label: bool) {
    for c in s.chars() {
        match c {
            // `\"` is DOT's one escape; `\\` keeps a backslash from escaping the closing
            // quote, and in labels from starting `\n`, `\N`, `\G` and the like.
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // Graphviz decodes HTML entities in labels (`&lt;` would show as `<`).
            '&' if label => out.push_str("&amp;"),
            c if is_control(c) => push_percent(out, c),
            c => out.push(c),
        }
    }
}

/// Appends `s` escaped for the inside of a Mermaid `["…"]` label.
fn mermaid_label(out: &mut String, s: &str) {
    // Controls first (to `%XX`), so that the `%%` check below sees the final text.
    let mut text = String::with_capacity(s.len());
    for c in s.chars() {
        if is_control(c) {
            push_percent(&mut text, c);
        } else {
            text.push(c);
        }
    }
    let mut prev = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // Inside `"…"` Mermaid's lexer stops only at `"`; entity codes (`#name;`,
            // `#123;`) are decoded when rendering, so a literal `#` must be one too.
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            // A leading backtick would make a Markdown string.
            '`' => out.push_str("#96;"),
            // `%%` starts a comment or an `%%{init}%%` directive.
            '%' if prev == Some('%') || chars.peek() == Some(&'%') => out.push_str("#37;"),
            c => out.push(c),
        }
        prev = Some(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> String {
        let mut out = String::new();
        json_string(&mut out, s);
        out
    }

    fn dot_name(s: &str) -> String {
        let mut out = String::new();
        dot_string(&mut out, s);
        out
    }

    fn dot_lbl(s: &str) -> String {
        let mut out = String::new();
        dot_label(&mut out, s);
        out
    }

    fn mermaid(s: &str) -> String {
        let mut out = String::new();
        mermaid_label(&mut out, s);
        out
    }

    // IDs cannot hold quotes, backslashes or control characters; the escapers still must.
    #[test]
    fn json_escapes_per_rfc_8259() {
        assert_eq!(json(r#"a"b\c/d"#), r#""a\"b\\c/d""#);
        assert_eq!(json("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(json("\u{0}\u{1f}\u{7f}"), "\"\\u0000\\u001f\u{7f}\"");
        assert_eq!(json("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(json("</script>&"), r#""\u003c/script\u003e\u0026""#);
        assert_eq!(json("é"), "\"é\"");
        for s in ["a\"\\\n\u{0}\u{2028}</x>&é", "", "%%{init}%%"] {
            let back: String = serde_json::from_str(&json(s)).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn dot_quotes_names_and_labels() {
        assert_eq!(dot_name(r#"a"b"#), r#""a\"b""#);
        // A trailing backslash must not escape the closing quote.
        assert_eq!(dot_name(r"a\"), r#""a\\""#);
        assert_eq!(dot_name("a\nb"), r#""a%0Ab""#);
        assert_eq!(dot_lbl(r"\N\n"), r"\\N\\n");
        assert_eq!(dot_lbl("&lt;<b>"), "&amp;lt;<b>");
        assert_eq!(dot_name("&lt;"), r#""&lt;""#);
        assert_eq!(dot_lbl("x\u{2028}\r"), "x%E2%80%A8%0D");
    }

    #[test]
    fn mermaid_labels_cannot_end_or_inject() {
        assert_eq!(mermaid(r#""]; x-->y["#), "#quot;]; x--#gt;y[");
        assert_eq!(mermaid("#quot;"), "#35;quot;");
        assert_eq!(mermaid("<script>&"), "#lt;script#gt;#amp;");
        assert_eq!(mermaid("`md`"), "#96;md#96;");
        assert_eq!(mermaid("%%{init}%%"), "#37;#37;{init}#37;#37;");
        assert_eq!(mermaid("a%20b%"), "a%20b%");
        // A control character becomes `%XX`, and a `%` before it cannot pair with that `%`.
        assert_eq!(mermaid("%\n"), "#37;#37;0A");
        assert_eq!(mermaid("a\u{2028}%%b"), "a%E2%80%A8#37;#37;b");
        for s in ["\"x\"", "a\nb", "%%", "<>&#`"] {
            let out = mermaid(s);
            assert!(
                !out.contains(['"', '\n', '<', '>', '`']),
                "{s:?} -> {out:?}"
            );
            assert!(!out.contains("%%"), "{s:?} -> {out:?}");
        }
    }

    /// With Graphviz installed, labels with every troublesome character render as text.
    #[test]
    fn graphviz_renders_raw_labels_as_text() {
        let Ok(mut child) = std::process::Command::new("dot")
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("graphviz `dot` not found; skipping");
            return;
        };
        let label = r#"a"b\c \N &lt; <i>x</i> ] -> }"#;
        let mut src = String::from("digraph g {\n  ");
        src.push_str(&dot_name(label));
        src.push_str(" [label=\"");
        src.push_str(&dot_lbl(label));
        src.push_str("\"];\n}\n");
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(src.as_bytes()).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{src}");
        let svg = String::from_utf8(output.stdout).unwrap();
        let escaped = r#"a&quot;b\c \N &amp;lt; &lt;i&gt;x&lt;/i&gt; ] &#45;&gt; }"#;
        assert!(svg.contains(escaped), "{svg}");
    }
}
