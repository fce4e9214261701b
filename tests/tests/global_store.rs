//! The seed's module-level functions work on the process-wide store, from any thread and task.

use provenance::context::{Context, get_context, in_current_context, scope};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_functions_share_one_store_across_tasks() {
    let mut handles = Vec::new();
    for i in 0..8 {
        let ctx = Context::from_iter([("request_id", format!("req:g{i}"))]);
        handles.push(tokio::spawn(scope(ctx, async move {
            // The handler spawns background work that must still know its request.
            let inner = tokio::spawn(in_current_context(async move {
                let req = get_context().request_id().unwrap();
                provenance::record(&format!("rec:orders:{i}"), req.as_str()).unwrap();
            }));
            inner.await.unwrap();
        })));
    }
    for h in handles {
        h.await.unwrap();
    }
    for i in 0..8 {
        assert_eq!(
            provenance::related(&format!("req:g{i}")),
            [format!("rec:orders:{i}").as_str()]
        );
    }
    provenance::register_module(
        "e2e::orders",
        provenance::ModuleInfo::default().dependency("e2e::repo"),
    )
    .unwrap();
    let graph = provenance::module_graph();
    assert_eq!(
        graph[&provenance::module_id("e2e::orders").unwrap()],
        [provenance::module_id("e2e::repo").unwrap()]
    );
    assert!(provenance::lookup("rec:orders:3").is_some());
    assert!(
        provenance::downstream("req:g3", 1)
            .unwrap()
            .contains("rec:orders:3")
    );
}
