//! related, lookup, module_graph, upstream and downstream answer as the seed and DESIGN.md say.

use provenance::{
    ArchLayer, Direction, Kind, ModuleInfo, Relation, Store, function_id, module_id, record_id,
    request_id, table_id,
};

#[test]
fn the_seed_readme_examples() {
    let store = Store::new();
    store
        .register_module(
            "MyApp.Orders",
            ModuleInfo::default()
                .source_file("lib/my_app/orders.ex")
                .layer(ArchLayer::Context)
                .dependency("mod:MyApp.Repo"),
        )
        .unwrap();
    store
        .register_module(
            "MyApp.Orders.Order",
            ModuleInfo::default()
                .source_file("lib/my_app/orders/order.ex")
                .layer(ArchLayer::Schema),
        )
        .unwrap();
    let orders = store.lookup("mod:MyApp.Orders").unwrap();
    assert_eq!(orders.kind, Kind::Mod);
    assert_eq!(orders.layer, Some(ArchLayer::Context));
    assert_eq!(orders.source_file.as_deref(), Some("lib/my_app/orders.ex"));

    store
        .record("rec:orders:42", "fn:MyApp::Orders::create")
        .unwrap();
    store
        .record("rec:order_items:99", "fn:MyApp::Orders::add_item")
        .unwrap();
    assert_eq!(store.related("fn:MyApp::Orders::create"), ["rec:orders:42"]);
    assert_eq!(store.related("mod:MyApp.Orders"), ["mod:MyApp.Repo"]);

    let graph = store.module_graph();
    assert_eq!(
        graph[&module_id("MyApp.Orders").unwrap()],
        [module_id("MyApp.Repo").unwrap()]
    );
    assert!(graph[&module_id("MyApp.Orders.Order").unwrap()].is_empty());
    // A module known only as a dependency is in the graph too.
    assert!(graph[&module_id("MyApp.Repo").unwrap()].is_empty());
}

#[test]
fn register_module_checks_everything_before_writing() {
    let store = Store::new();
    let err = store
        .register_module("shop::a", ModuleInfo::default().dependency("mod:bad id"))
        .unwrap_err();
    assert!(err.to_string().contains("unescaped space"), "{err}");
    assert!(store.lookup("mod:shop::a").is_none());
    assert!(store.register_module("", ModuleInfo::default()).is_err());
}

#[test]
fn register_module_classifies_when_no_layer_is_given() {
    let store = Store::new();
    store
        .register_module(
            "shop::handlers::orders",
            ModuleInfo::default().source_file("src/handlers/orders.rs"),
        )
        .unwrap();
    store
        .register_module("shop::order_repo", ModuleInfo::default())
        .unwrap();
    assert_eq!(
        store.lookup("mod:shop::handlers::orders").unwrap().layer,
        Some(ArchLayer::Controller)
    );
    assert_eq!(
        store.lookup("mod:shop::order_repo").unwrap().layer,
        Some(ArchLayer::Repo)
    );
}

#[test]
fn invalid_ids_are_errors_and_store_nothing() {
    let store = Store::new();
    assert!(store.record("rec:orders:1", "not an id").is_err());
    assert!(store.record("rec orders", "fn:a::b").is_err());
    assert_eq!(store.stats().total_artifacts(), 0);
    assert!(store.lookup("garbage").is_none());
    assert!(store.related("garbage").is_empty());
    assert!(store.downstream("garbage", 3).is_none());
}

#[test]
fn related_is_deduplicated_sorted_and_both_directions() {
    let store = Store::new();
    let f = function_id("shop::orders", "create").unwrap();
    let g = function_id("shop::orders", "validate").unwrap();
    let t = table_id("orders").unwrap();
    let r = record_id("orders", 1).unwrap();
    store.relate(&f, Relation::Called, &g).unwrap();
    store.relate(&f, Relation::Read, &t).unwrap();
    store.relate(&f, Relation::Produced, &r).unwrap();
    store.relate(&t, Relation::Contains, &r).unwrap();
    store.relate(&f, Relation::Called, &f).unwrap(); // recursion
    assert_eq!(store.related(g.as_str()), std::slice::from_ref(&f));
    assert_eq!(store.related(r.as_str()), [f.clone(), t.clone()]);
    assert_eq!(store.related(f.as_str()), [g.clone(), r.clone(), t.clone()]);

    let n = store.neighbors(t.as_str());
    assert_eq!(n.len(), 2);
    assert!(
        n.iter().any(|n| n.id == f
            && n.relation == Relation::Read
            && n.direction == Direction::Incoming)
    );
    assert!(n.iter().any(|n| n.id == r
        && n.relation == Relation::Contains
        && n.direction == Direction::Outgoing));
    // Which code reads the orders table?
    let readers: Vec<_> = n
        .iter()
        .filter(|n| n.relation == Relation::Read && n.direction == Direction::Incoming)
        .map(|n| n.id.as_str())
        .collect();
    assert_eq!(readers, ["fn:shop::orders::create"]);
}

#[test]
fn upstream_and_downstream_follow_lineage_and_survive_cycles() {
    let store = Store::new();
    let req = request_id("r1").unwrap();
    let handler = function_id("shop::http", "create_order").unwrap();
    let create = function_id("shop::orders", "create").unwrap();
    let order = record_id("orders", 1).unwrap();
    let invoice = record_id("invoices", 1).unwrap();
    let customers = table_id("customers").unwrap();
    store.relate(&handler, Relation::During, &req).unwrap();
    store.relate(&create, Relation::During, &req).unwrap();
    store.relate(&handler, Relation::Called, &create).unwrap();
    store.relate(&create, Relation::Called, &handler).unwrap(); // a cycle
    store.relate(&create, Relation::Read, &customers).unwrap();
    store.relate(&create, Relation::Produced, &order).unwrap();
    // As the sqlx pool records it: the request produced the order too.
    store.relate(&req, Relation::Produced, &order).unwrap();
    store
        .relate(&invoice, Relation::DerivedFrom, &order)
        .unwrap();

    let down = store.downstream(req.as_str(), 3).unwrap();
    assert_eq!(down.root, req);
    let ids: Vec<&str> = down.ids().map(|id| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "req:r1",
            "fn:shop::http::create_order",
            "fn:shop::orders::create",
            "rec:orders:1",
            "rec:invoices:1"
        ]
    );
    assert_eq!((down.nodes[3].depth, down.nodes[4].depth), (1, 2));
    assert!(
        !down.contains("tbl:customers"),
        "a table read is upstream, not downstream"
    );
    assert!(
        down.edges
            .iter()
            .any(|e| e.from == invoice && e.relation == Relation::DerivedFrom && e.to == order)
    );

    let depth_one = store.downstream(req.as_str(), 1).unwrap();
    assert_eq!(depth_one.nodes.len(), 4);
    assert_eq!(store.downstream(req.as_str(), 0).unwrap().nodes.len(), 1);

    let up = store.upstream(invoice.as_str(), 4).unwrap();
    for id in [
        "rec:orders:1",
        "fn:shop::orders::create",
        "tbl:customers",
        "fn:shop::http::create_order",
        "req:r1",
    ] {
        assert!(up.contains(id), "{id} missing from {up:#?}");
    }
}

#[test]
fn lookup_has_times_and_metadata() {
    let store = Store::new();
    let req = request_id("r1").unwrap();
    store
        .describe(
            &req,
            provenance::store::Attributes::new()
                .attr("method", "POST")
                .attr("status", "201"),
        )
        .unwrap();
    let a = store.lookup("req:r1").unwrap();
    assert_eq!(a.metadata["method"], "POST");
    assert!(a.first_seen <= a.last_seen);
    assert!(a.first_seen > std::time::UNIX_EPOCH);
    let long = "x".repeat(5000);
    store
        .describe(
            &req,
            provenance::store::Attributes::new().attr("error", long),
        )
        .unwrap();
    assert_eq!(
        store.lookup("req:r1").unwrap().metadata["error"].len(),
        provenance::store::MAX_ATTRIBUTE_LEN
    );
}

#[test]
fn walks_from_an_event_do_not_pass_through_shared_code_into_other_events() {
    let store = Store::new();
    let create = function_id("shop::orders", "create").unwrap();
    let (r1, r2) = (request_id("r1").unwrap(), request_id("r2").unwrap());
    let (o1, o2) = (
        record_id("orders", 1).unwrap(),
        record_id("orders", 2).unwrap(),
    );
    for (req, order) in [(&r1, &o1), (&r2, &o2)] {
        store.relate(&create, Relation::During, req).unwrap();
        store.relate(&create, Relation::Produced, order).unwrap();
        store.relate(req, Relation::Produced, order).unwrap();
    }
    // What request 1 did: its function and its order, not request 2's order.
    let down = store.downstream("req:r1", 3).unwrap();
    let ids: Vec<&str> = down.ids().map(|id| id.as_str()).collect();
    assert_eq!(ids, ["req:r1", "fn:shop::orders::create", "rec:orders:1"]);
    // From the function itself, everything it produced.
    let down = store.downstream("fn:shop::orders::create", 1).unwrap();
    assert!(down.contains("rec:orders:1") && down.contains("rec:orders:2"));
    // Upstream of order 1: its producers, not the other request that ran the same code.
    let up = store.upstream("rec:orders:1", 3).unwrap();
    assert!(up.contains("req:r1") && !up.contains("req:r2"), "{up:#?}");
}

#[test]
fn walks_do_not_depend_on_the_order_edges_were_recorded_in() {
    // From fn a, y is reached at the same depth two ways: a -> s1 -> (record e1) -> y, through
    // an event, and a -> s2 -> t -> y, through code only. Only the second makes y a node to walk
    // on from, so y's own record must be in the lineage whichever way is found first.
    let build = |s1_first: bool| {
        let store = Store::new();
        let id = |name: &str| function_id("m", name).unwrap();
        let (a, s1, s2, t, y) = (id("a"), id("s1"), id("s2"), id("t"), id("y"));
        let e1 = record_id("t", "e1").unwrap();
        let out = record_id("t", "out").unwrap();
        let firsts = if s1_first { [&s1, &s2] } else { [&s2, &s1] };
        for s in firsts {
            store.relate(&a, Relation::Called, s).unwrap();
        }
        store.relate(&s1, Relation::Produced, &e1).unwrap();
        store.relate(&e1, Relation::Contains, &y).unwrap();
        store.relate(&s2, Relation::Called, &t).unwrap();
        store.relate(&t, Relation::Called, &y).unwrap();
        store.relate(&y, Relation::Produced, &out).unwrap();
        let ids: Vec<String> = store
            .downstream("fn:m::a", 4)
            .unwrap()
            .ids()
            .map(|i| i.to_string())
            .collect();
        ids
    };
    let (one, two) = (build(true), build(false));
    assert!(one.contains(&"rec:t:out".to_owned()), "{one:?}");
    let mut sorted = (one.clone(), two.clone());
    sorted.0.sort();
    sorted.1.sort();
    assert_eq!(sorted.0, sorted.1);
}
