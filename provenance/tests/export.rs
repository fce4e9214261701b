//! Lineage subgraphs and the module graph render as JSON, Graphviz DOT and Mermaid, and an ID
//! with quotes, brackets, `-->`, newlines, `%%` or HTML in it renders as text: it never breaks
//! the output or injects a node, an edge or a directive into it.

use proptest::prelude::*;
use provenance::export::{Graph, Node};
use provenance::query::{Edge, LineageNode};
use provenance::{
    ArchLayer, ArtifactId, Kind, Lineage, ModuleInfo, Relation, Store, column_id, config_id,
    function_id, job_id, migration_id, module_id, record_id, request_id, table_id,
};

fn id(s: &str) -> ArtifactId {
    s.parse().unwrap()
}

/// A request ran `create` (in a context module), which read a customer and wrote order 42;
/// an invoice was derived from the order.
fn order_store() -> Store {
    let store = Store::new();
    store
        .register_module(
            "shop::handlers::orders",
            ModuleInfo::default()
                .source_file("src/handlers/orders.rs")
                .dependency("shop::orders"),
        )
        .unwrap();
    store
        .register_module(
            "shop::orders",
            ModuleInfo::default()
                .source_file("src/orders.rs")
                .dependency("shop::orders::order_repo"),
        )
        .unwrap();
    let create = id("fn:shop::orders::create");
    let req = id("req:r1");
    let order = id("rec:orders:42");
    store
        .relate(&id("mod:shop::orders"), Relation::Defines, &create)
        .unwrap();
    store.relate(&create, Relation::During, &req).unwrap();
    store.relate(&create, Relation::Produced, &order).unwrap();
    store.relate(&req, Relation::Produced, &order).unwrap();
    store
        .relate(&create, Relation::Read, &id("rec:customers:7"))
        .unwrap();
    store
        .relate(&id("tbl:orders"), Relation::Contains, &order)
        .unwrap();
    store
        .relate(&id("rec:invoices:9"), Relation::DerivedFrom, &order)
        .unwrap();
    store
}

#[test]
fn the_lineage_of_an_order_becomes_a_graph() {
    let store = order_store();
    let lineage = store.upstream("rec:orders:42", 2).unwrap();
    let graph = Graph::from_lineage(&lineage, &store);

    let nodes: Vec<_> = graph
        .nodes()
        .iter()
        .map(|n| (n.id.as_str(), n.kind, n.layer, n.depth, n.root))
        .collect();
    assert_eq!(
        nodes,
        [
            ("fn:shop::orders::create", Kind::Fn, None, Some(1), false),
            (
                "mod:shop::orders",
                Kind::Mod,
                Some(ArchLayer::Context),
                Some(2),
                false
            ),
            ("rec:orders:42", Kind::Rec, None, Some(0), true),
            ("req:r1", Kind::Req, None, Some(1), false),
            ("tbl:orders", Kind::Tbl, None, Some(1), false),
        ]
    );
    assert_eq!(graph.root(), Some(&id("rec:orders:42")));
    let edges: Vec<(&str, &str, &str)> = graph
        .edges()
        .iter()
        .map(|e| (e.from.as_str(), e.relation.as_str(), e.to.as_str()))
        .collect();
    assert_eq!(
        edges,
        [
            ("fn:shop::orders::create", "produced", "rec:orders:42"),
            ("mod:shop::orders", "defines", "fn:shop::orders::create"),
            ("req:r1", "produced", "rec:orders:42"),
            ("tbl:orders", "contains", "rec:orders:42"),
        ]
    );

    let dot = graph.to_dot();
    assert!(dot.contains("  graph [rankdir=LR"), "{dot}");
    assert!(
        dot.contains(r#""rec:orders:42" [label="rec:orders:42", penwidth=3"#),
        "{dot}"
    );
    assert!(
        dot.contains(r#""mod:shop::orders" [label="mod:shop::orders\n(context)"];"#),
        "{dot}"
    );
    assert!(dot.contains("  subgraph kind_tbl {\n    node [shape=cylinder"));
    let mermaid = graph.to_mermaid();
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(mermaid.contains("  n1[\"mod:shop::orders<br>(context)\"]:::mod\n"));
    assert!(mermaid.contains("  n3 -->|produced| n2\n"), "{mermaid}");
    assert!(mermaid.ends_with("  class n2 root\n"), "{mermaid}");
}

#[test]
fn the_module_graph_has_every_module_its_layer_and_dependencies() {
    let graph = Graph::module_graph(&order_store());
    let nodes: Vec<(&str, Option<ArchLayer>, Option<usize>)> = graph
        .nodes()
        .iter()
        .map(|n| (n.id.as_str(), n.layer, n.depth))
        .collect();
    assert_eq!(
        nodes,
        [
            (
                "mod:shop::handlers::orders",
                Some(ArchLayer::Controller),
                None
            ),
            ("mod:shop::orders", Some(ArchLayer::Context), None),
            // Known only as a dependency: no layer yet.
            ("mod:shop::orders::order_repo", None, None),
        ]
    );
    assert!(graph.nodes().iter().all(|n| !n.root) && graph.root().is_none());
    let edges: Vec<(&str, Relation, &str)> = graph
        .edges()
        .iter()
        .map(|e| (e.from.as_str(), e.relation, e.to.as_str()))
        .collect();
    assert_eq!(
        edges,
        [
            (
                "mod:shop::handlers::orders",
                Relation::DependsOn,
                "mod:shop::orders"
            ),
            (
                "mod:shop::orders",
                Relation::DependsOn,
                "mod:shop::orders::order_repo"
            ),
        ]
    );
    let mermaid = graph.to_mermaid();
    assert!(mermaid.contains("  n0[\"mod:shop::handlers::orders<br>(controller)\"]:::mod\n"));
    assert!(mermaid.contains("  n0 -->|depends_on| n1\n"));
    assert!(!mermaid.contains("root"), "{mermaid}");
    assert!(graph.to_json().contains(r#""root":null"#));
    check_all(&graph);
}

#[test]
fn nodes_the_store_does_not_hold_still_render() {
    let store = Store::new();
    let lineage = Lineage {
        root: id("req:gone"),
        nodes: vec![
            LineageNode {
                depth: 0,
                id: id("req:gone"),
            },
            LineageNode {
                depth: 1,
                id: id("fn:m::f"),
            },
        ],
        // An edge whose end is missing from `nodes`.
        edges: vec![Edge {
            from: id("fn:m::f"),
            relation: Relation::Produced,
            to: id("rec:t:1"),
        }],
    };
    let graph = Graph::from_lineage(&lineage, &store);
    assert_eq!(
        graph.nodes(),
        [
            Node {
                id: id("fn:m::f"),
                kind: Kind::Fn,
                layer: None,
                depth: Some(1),
                detail: None,
                root: false
            },
            Node {
                id: id("rec:t:1"),
                kind: Kind::Rec,
                layer: None,
                depth: None,
                detail: None,
                root: false
            },
            Node {
                id: id("req:gone"),
                kind: Kind::Req,
                layer: None,
                depth: Some(0),
                detail: None,
                root: true
            },
        ]
    );
    assert!(
        graph
            .to_json()
            .contains(r#"{"id":"rec:t:1","kind":"rec","layer":null,"depth":null,"detail":null}"#)
    );
    check_all(&graph);
}

#[test]
fn output_does_not_depend_on_recording_order() {
    let ids = ["rec:t:3", "rec:t:1", "rec:t:2", "rec:u:1"];
    let build = |order: &[&str]| {
        let store = Store::new();
        for a in order {
            store.record(a, "fn:m::f").unwrap();
            store.record(a, "req:r").unwrap();
        }
        Graph::from_lineage(&store.downstream("req:r", 2).unwrap(), &store)
    };
    let a = build(&ids);
    let mut reversed = ids;
    reversed.reverse();
    let b = build(&reversed);
    assert_eq!(a, b);
    assert_eq!(
        (a.to_json(), a.to_dot(), a.to_mermaid()),
        (b.to_json(), b.to_dot(), b.to_mermaid())
    );
    assert!(a.nodes().windows(2).all(|w| w[0].id < w[1].id));
    assert!(a.edges().windows(2).all(|w| w[0] < w[1]));
}

// ---------------------------------------------------------------------------------------------
// Adversarial IDs.

/// Keys and names built to break or inject into each format, through the public builders.
fn adversarial_ids() -> Vec<ArtifactId> {
    vec![
        record_id("orders", "\"]; evil --> x[\"").unwrap(),
        record_id("orders", "<script>alert(1)</script>").unwrap(),
        record_id("orders", "<b>bold</b>&amp;&lt;#quot;#35;&#60;").unwrap(),
        record_id("orders", "%%{init: {\"theme\": \"dark\"}}%%").unwrap(),
        record_id("orders", "line1\nline2\r\n\u{2028}end\u{0}").unwrap(),
        record_id("orders", "a-->b---c==>d-.->e->f--x").unwrap(),
        record_id("orders", "|pipe|;semi;{curly}(paren)[[sq]]`tick`\\back\\").unwrap(),
        record_id(
            "orders",
            "x\"];n0-->|read|n1;style n0 fill:red;click n0 call alert()",
        )
        .unwrap(),
        record_id("orders", "end").unwrap(),
        record_id("orders", "a\\\"b\\").unwrap(),
        record_id("orders", "}\n}\ndigraph x {").unwrap(),
        record_id("orders", "\\N \\G \\n \\l").unwrap(),
        record_id("orders", "\u{202E}é😀").unwrap(),
        request_id("\"quoted\"").unwrap(),
        job_id("q\"]-->", "<img src=x onerror=alert(1)>").unwrap(),
        table_id("a\"b]").unwrap(),
        column_id("a\"b]", "c-->d").unwrap(),
        config_id("x;y|z{}").unwrap(),
        migration_id(1, "%%").unwrap(),
    ]
}

/// Three graphs full of adversarial IDs: a request's downstream, a record's upstream, and the
/// module graph with adversarial module paths and layers.
fn adversarial_graphs() -> Vec<Graph> {
    let store = Store::new();
    let module = module_id("shop::<h1>x</h1>::a-->b[c]").unwrap();
    let func = function_id("shop::<h1>x</h1>::a-->b[c]", "f\"]-->x").unwrap();
    let req = request_id("r\"]-->root\n%%{init}%%").unwrap();
    store
        .register_module(
            module.as_str(),
            ModuleInfo::default()
                .layer(ArchLayer::Repo)
                .dependency("shop::|y|;#z"),
        )
        .unwrap();
    store.relate(&module, Relation::Defines, &func).unwrap();
    store.relate(&func, Relation::During, &req).unwrap();
    // A request's detail comes from what the client sent: a hostile route.
    store
        .describe(
            &req,
            provenance::store::Attributes::new()
                .attr("method", "POST")
                .attr(
                    "route",
                    "/x\"]; evil --> y[\"<script>alert(1)</script>%%{init}%%|#&amp;",
                )
                .attr("status", "201"),
        )
        .unwrap();
    let ids = adversarial_ids();
    for a in &ids {
        store.relate(&func, Relation::Produced, a).unwrap();
        store.relate(&req, Relation::Produced, a).unwrap();
    }
    store
        .relate(&table_id("a\"b]").unwrap(), Relation::Contains, &ids[0])
        .unwrap();
    store
        .relate(&ids[1], Relation::DerivedFrom, &ids[0])
        .unwrap();
    let down = Graph::from_lineage(&store.downstream(req.as_str(), 3).unwrap(), &store);
    let up = Graph::from_lineage(&store.upstream(ids[0].as_str(), 3).unwrap(), &store);
    let modules = Graph::module_graph(&store);
    assert!(down.nodes().len() > ids.len(), "{down:?}");
    assert!(up.nodes().iter().any(|n| n.layer == Some(ArchLayer::Repo)));
    assert!(
        down.nodes()
            .iter()
            .any(|n| n.detail.as_deref().is_some_and(|d| d.contains("<script>")))
    );
    assert_eq!(modules.nodes().len(), 2);
    vec![down, up, modules]
}

#[test]
fn adversarial_ids_render_as_text_in_every_format() {
    for graph in adversarial_graphs() {
        check_all(&graph);
    }
}

fn check_all(graph: &Graph) {
    check_json(graph);
    check_dot(graph);
    check_mermaid(graph);
}

// ---------------------------------------------------------------------------------------------
// JSON.

fn check_json(graph: &Graph) {
    let json = graph.to_json();
    assert!(!json.contains('\n'), "{json}");
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_eq!(v["version"], 1);
    assert_eq!(v["root"].as_str(), graph.root().map(ArtifactId::as_str));
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), graph.nodes().len());
    for (j, n) in nodes.iter().zip(graph.nodes()) {
        let parsed = ArtifactId::parse(j["id"].as_str().unwrap()).unwrap();
        assert_eq!(parsed, n.id);
        assert_eq!(j["kind"], n.kind.as_str());
        assert_eq!(j["layer"].as_str(), n.layer.map(ArchLayer::as_str));
        assert_eq!(j["depth"].as_u64(), n.depth.map(|d| d as u64));
        assert_eq!(j["detail"].as_str(), n.detail.as_deref());
        assert_eq!(j.as_object().unwrap().len(), 5);
    }
    let edges = v["edges"].as_array().unwrap();
    assert_eq!(edges.len(), graph.edges().len());
    for (j, e) in edges.iter().zip(graph.edges()) {
        assert_eq!(j["from"].as_str(), Some(e.from.as_str()));
        assert_eq!(j["relation"], e.relation.as_str());
        assert_eq!(j["to"].as_str(), Some(e.to.as_str()));
    }
}

#[cfg(feature = "serde")]
#[test]
fn serde_serializes_the_same_shape_as_to_json() {
    let mut graphs = adversarial_graphs();
    let store = order_store();
    graphs.push(Graph::from_lineage(
        &store.upstream("rec:orders:42", 3).unwrap(),
        &store,
    ));
    graphs.push(Graph::module_graph(&store));
    for graph in graphs {
        let by_hand: serde_json::Value = serde_json::from_str(&graph.to_json()).unwrap();
        assert_eq!(by_hand, serde_json::to_value(&graph).unwrap());
    }
}

// ---------------------------------------------------------------------------------------------
// DOT: a small tokenizer per line, no parser.

#[derive(Debug, PartialEq)]
enum Tok {
    /// A quoted string, unescaped (`\"` → `"`, `\\` → `\`, `\n` → a line break).
    Quoted(String),
    Word(String),
    Punct(char),
    Arrow,
}

fn dot_tokens(line: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {}
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\')) => s.push(e),
                            // Graphviz's line break in a label.
                            Some('n') => s.push('\n'),
                            Some(other) => panic!("unknown escape \\{other} in {line:?}"),
                            None => panic!("escape at end of line: {line:?}"),
                        },
                        Some(c) => s.push(c),
                        None => panic!("unterminated string (quotes unbalanced): {line:?}"),
                    }
                }
                out.push(Tok::Quoted(s));
            }
            '-' if chars.peek() == Some(&'>') => {
                chars.next();
                out.push(Tok::Arrow);
            }
            '{' | '}' | '[' | ']' | '=' | ',' | ';' => out.push(Tok::Punct(c)),
            c if c.is_ascii_alphanumeric() || c == '_' || c == '#' || c == '.' => {
                let mut s = String::from(c);
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                        s.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Tok::Word(s));
            }
            other => panic!("unexpected {other:?} outside a string in {line:?}"),
        }
    }
    out
}

/// `[k=v, k="v"];` at the end of a statement: the attributes, or a panic.
fn dot_attrs(toks: &[Tok], line: &str) -> Vec<(String, String)> {
    let [
        Tok::Punct('['),
        inner @ ..,
        Tok::Punct(']'),
        Tok::Punct(';'),
    ] = toks
    else {
        panic!("not an attribute list: {line:?}");
    };
    inner
        .split(|t| *t == Tok::Punct(','))
        .map(|attr| match attr {
            [Tok::Word(k), Tok::Punct('='), Tok::Word(v) | Tok::Quoted(v)] => {
                (k.clone(), v.clone())
            }
            _ => panic!("bad attribute {attr:?} in {line:?}"),
        })
        .collect()
}

/// What a node's label should be: its ID, its layer on a second line, its detail on the next.
fn expected_label(node: &Node) -> String {
    let mut label = node.id.to_string();
    if let Some(layer) = node.layer {
        label.push_str(&format!("\n({layer})"));
    }
    if let Some(detail) = &node.detail {
        label.push('\n');
        label.push_str(detail);
    }
    label
}

fn check_dot(graph: &Graph) {
    let dot = graph.to_dot();
    let mut lines = dot.lines();
    assert_eq!(lines.next(), Some("digraph provenance {"));
    let mut depth = 1;
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for line in lines {
        let toks = dot_tokens(line);
        match toks.as_slice() {
            [Tok::Word(w), rest @ ..] if ["graph", "node", "edge"].contains(&w.as_str()) => {
                dot_attrs(rest, line);
            }
            [Tok::Word(w), Tok::Word(_), Tok::Punct('{')] if w == "subgraph" => depth += 1,
            [Tok::Punct('}')] => depth -= 1,
            [Tok::Quoted(from), Tok::Arrow, Tok::Quoted(to), rest @ ..] => {
                let attrs = dot_attrs(rest, line);
                assert_eq!(attrs.len(), 1, "{line}");
                edges.push((from.clone(), attrs[0].1.clone(), to.clone()));
            }
            [Tok::Quoted(name), rest @ ..] => {
                let attrs = dot_attrs(rest, line);
                assert_eq!(attrs[0].0, "label", "{line}");
                nodes.push((name.clone(), attrs[0].1.clone(), attrs.len() > 1));
            }
            _ => panic!("not one DOT statement: {line:?}"),
        }
        assert!(depth >= 0, "unbalanced braces at {line:?}");
    }
    assert_eq!(depth, 0, "unbalanced braces:\n{dot}");
    assert_eq!(nodes.len(), graph.nodes().len(), "{dot}");
    assert_eq!(edges.len(), graph.edges().len(), "{dot}");
    for ((name, label, root_style), node) in nodes.iter().zip(graph.nodes()) {
        assert_eq!(name, node.id.as_str());
        // The label as Graphviz shows it: `&amp;` is an `&`.
        assert_eq!(label.replace("&amp;", "&"), expected_label(node), "{dot}");
        assert_eq!(*root_style, node.root);
    }
    for ((from, relation, to), edge) in edges.iter().zip(graph.edges()) {
        assert_eq!(
            (from.as_str(), relation.as_str(), to.as_str()),
            (edge.from.as_str(), edge.relation.as_str(), edge.to.as_str())
        );
    }
}

/// Runs Graphviz on each adversarial graph, if it is installed: the output must lay out, with
/// one SVG node and edge per graph node and edge, and each label's text as the ID.
#[test]
fn graphviz_lays_out_adversarial_ids_as_text() {
    if std::process::Command::new("dot")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("graphviz `dot` is not installed; skipping the layout check");
        return;
    }
    for graph in adversarial_graphs() {
        let svg = run_dot(&graph.to_dot());
        assert_eq!(svg.matches("class=\"node\"").count(), graph.nodes().len());
        assert_eq!(svg.matches("class=\"edge\"").count(), graph.edges().len());
        let texts = svg_texts(&svg);
        for node in graph.nodes() {
            assert!(
                texts.iter().any(|t| t == node.id.as_str()),
                "{} not among the SVG texts {texts:?}",
                node.id
            );
            if let Some(layer) = node.layer {
                assert!(texts.contains(&format!("({layer})")));
            }
            if let Some(detail) = &node.detail {
                assert!(texts.contains(detail), "{detail} not among {texts:?}");
            }
        }
        assert!(!svg.contains("<script"), "{svg}");
    }
}

fn run_dot(dot: &str) -> String {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dot failed: {stderr}\n{dot}");
    assert!(!stderr.contains("syntax error"), "{stderr}\n{dot}");
    String::from_utf8(out.stdout).unwrap()
}

/// The text content of every `<text>` element, XML entities decoded.
fn svg_texts(svg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text") {
        let after = &rest[start..];
        let open_end = after.find('>').unwrap() + 1;
        let close = after.find("</text>").unwrap();
        out.push(xml_unescape(&after[open_end..close]));
        rest = &after[close..];
    }
    out
}

fn xml_unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let semi = rest[amp..].find(';').unwrap() + amp;
        let entity = &rest[amp + 1..semi];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e if e.starts_with("#x") => {
                char::from_u32(u32::from_str_radix(&e[2..], 16).unwrap()).unwrap()
            }
            e if e.starts_with('#') => char::from_u32(e[1..].parse().unwrap()).unwrap(),
            e => panic!("unknown entity &{e};"),
        };
        out.push(c);
        rest = &rest[semi + 1..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Mermaid: each line is exactly one statement of an expected shape.

/// `n{digits}` → the index.
fn mermaid_node_ref(s: &str) -> usize {
    let digits = s
        .strip_prefix('n')
        .unwrap_or_else(|| panic!("not a node id: {s:?}"));
    assert!(
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
        "{s:?}"
    );
    digits.parse().unwrap()
}

/// A label's text as Mermaid shows it: entity codes decoded, `<br>` a line break. Panics on
/// anything that could end the label or be read as markup, a comment or a directive.
fn mermaid_label_text(label: &str) -> String {
    assert!(!label.contains('"'), "quote in label {label:?}");
    assert!(!label.contains("%%"), "%% in label {label:?}");
    assert!(!label.contains('`'), "backtick in label {label:?}");
    assert!(
        !label
            .chars()
            .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    );
    let without_br = label.replace("<br>", "\n");
    assert!(
        !without_br.contains(['<', '>', '&']),
        "markup in label {label:?}"
    );
    let mut out = String::new();
    let mut rest = without_br.as_str();
    while let Some(hash) = rest.find('#') {
        out.push_str(&rest[..hash]);
        let semi = rest[hash..]
            .find(';')
            .unwrap_or_else(|| panic!("bare # in {label:?}"))
            + hash;
        let entity = &rest[hash + 1..semi];
        let c = match entity {
            "quot" => '"',
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            e => char::from_u32(
                e.parse()
                    .unwrap_or_else(|_| panic!("entity #{e}; in {label:?}")),
            )
            .unwrap(),
        };
        out.push(c);
        rest = &rest[semi + 1..];
    }
    out.push_str(rest);
    out
}

fn check_mermaid(graph: &Graph) {
    let mermaid = graph.to_mermaid();
    assert!(mermaid.ends_with('\n'));
    assert!(!mermaid.contains("%%"), "{mermaid}");
    let mut lines = mermaid.lines();
    assert_eq!(lines.next(), Some("flowchart LR"));
    let relations: Vec<&str> = Relation::ALL.iter().map(|r| r.as_str()).collect();
    let mut class_defs = Vec::new();
    let mut labels = Vec::new();
    let mut edges = Vec::new();
    let mut roots = Vec::new();
    for line in lines {
        let stmt = line
            .strip_prefix("  ")
            .unwrap_or_else(|| panic!("not indented: {line:?}"));
        let words: Vec<&str> = stmt.split(' ').collect();
        if let ["classDef", name, style] = words.as_slice() {
            assert!(name.bytes().all(|b| b.is_ascii_lowercase()), "{line:?}");
            assert!(!style.contains([';', '"', '%']), "{line:?}");
            class_defs.push(*name);
        } else if let ["class", node, "root"] = words.as_slice() {
            roots.push(mermaid_node_ref(node));
        } else if let [from, arrow, to] = words.as_slice() {
            // `-->|relation|`
            let relation = arrow
                .strip_prefix("-->|")
                .and_then(|a| a.strip_suffix('|'))
                .unwrap_or_else(|| panic!("not an edge: {line:?}"));
            assert!(relations.contains(&relation), "{line:?}");
            edges.push((mermaid_node_ref(from), relation, mermaid_node_ref(to)));
        } else {
            // `n{i}["label"]:::kind`, the label free of quotes (so of everything else).
            let (head, kind) = stmt
                .rsplit_once("\"]:::")
                .unwrap_or_else(|| panic!("not one statement: {line:?}"));
            let (node, label) = head
                .split_once("[\"")
                .unwrap_or_else(|| panic!("not a node: {line:?}"));
            assert_eq!(mermaid_node_ref(node), labels.len(), "{line:?}");
            assert!(class_defs.contains(&kind), "{line:?}");
            labels.push((mermaid_label_text(label), kind));
        }
    }
    assert_eq!(labels.len(), graph.nodes().len(), "{mermaid}");
    assert_eq!(edges.len(), graph.edges().len(), "{mermaid}");
    for ((text, kind), node) in labels.iter().zip(graph.nodes()) {
        assert_eq!(*text, expected_label(node));
        assert_eq!(*kind, node.kind.as_str());
    }
    for ((from, relation, to), edge) in edges.iter().zip(graph.edges()) {
        assert_eq!(graph.nodes()[*from].id, edge.from);
        assert_eq!(*relation, edge.relation.as_str());
        assert_eq!(graph.nodes()[*to].id, edge.to);
    }
    let expected_roots: Vec<usize> = (0..graph.nodes().len())
        .filter(|&i| graph.nodes()[i].root)
        .collect();
    assert_eq!(roots, expected_roots);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the keys, every format passes its checker.
    #[test]
    fn any_key_renders_in_every_format(
        keys in prop::collection::vec(
            prop_oneof![
                "[ -~]{1,16}",
                any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
                prop::collection::vec(
                    prop::sample::select(vec![
                        "\"", "]", "[", "-->", "|", ";", "%", "%%", "#", "&", "<", ">", "`",
                        "\n", "\\", "{", "}", "\u{2028}", "end", "click", "a",
                    ]),
                    1..8,
                ).prop_map(|v| v.concat()),
            ],
            1..6,
        ),
        module in "[ -9;-~]{1,12}",
    ) {
        let store = Store::new();
        let req = request_id(&keys[0]).unwrap();
        let func = function_id("m", &keys[0]).unwrap();
        // No `:` in `module`, so it is one path segment.
        store.register_module("m", ModuleInfo::default().dependency(module)).unwrap();
        store.relate(&func, Relation::During, &req).unwrap();
        for key in &keys {
            let rec = record_id(key.as_str(), key).unwrap();
            store.relate(&req, Relation::Produced, &rec).unwrap();
        }
        check_all(&Graph::from_lineage(&store.downstream(req.as_str(), 2).unwrap(), &store));
        check_all(&Graph::module_graph(&store));
    }
}
