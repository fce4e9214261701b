//! The task-local context: merging, nested scopes, spawned tasks, a multi-thread runtime.

use std::time::Duration;

use provenance::context::{Context, get_context, in_current_context, put_context, scope};

fn ctx(pairs: &[(&str, &str)]) -> Context {
    pairs.iter().copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_task_sees_only_its_own_context_across_awaits_and_threads() {
    let mut handles = Vec::new();
    for i in 0..64 {
        handles.push(tokio::spawn(scope(
            ctx(&[("request_id", &format!("req:r{i}"))]),
            async move {
                for step in 0..5 {
                    // Yield and sleep so the task hops between worker threads.
                    tokio::task::yield_now().await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    put_context([(format!("step{step}"), step.to_string())]);
                    let now = get_context();
                    assert_eq!(now.get("request_id"), Some(format!("req:r{i}").as_str()));
                    assert_eq!(now.len(), 2 + step);
                }
                get_context()
            },
        )));
    }
    for (i, h) in handles.into_iter().enumerate() {
        let seen = h.await.unwrap();
        assert_eq!(seen.request_id().unwrap().as_str(), format!("req:r{i}"));
        assert_eq!(seen.len(), 6);
    }
}

#[tokio::test]
async fn nested_scopes_replace_and_restore() {
    scope(
        ctx(&[("request_id", "req:outer"), ("user_id", "usr:1")]),
        async {
            let inner = scope(ctx(&[("job_id", "job:default:j-1")]), async {
                put_context([("step", "inner")]);
                get_context()
            })
            .await;
            assert_eq!(
                inner.iter().collect::<Vec<_>>(),
                [("job_id", "job:default:j-1"), ("step", "inner")]
            );
            // The outer scope is untouched by the inner one.
            let outer = get_context();
            assert_eq!(outer.get("request_id"), Some("req:outer"));
            assert_eq!(outer.get("step"), None);

            // Extending instead of replacing: start from the current context.
            let mut extended = get_context();
            extended.insert("job_id", "job:default:j-2");
            let seen = scope(extended, async { get_context() }).await;
            assert_eq!(seen.len(), 3);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_work_carries_the_context_only_when_asked() {
    scope(ctx(&[("request_id", "req:parent")]), async {
        // tokio::spawn alone does not carry task-locals: the child sees its thread's context.
        let bare = tokio::spawn(async { get_context().get("request_id").map(str::to_owned) })
            .await
            .unwrap();
        assert_eq!(bare, None);

        let carried = tokio::spawn(in_current_context(async {
            put_context([("child", "yes")]);
            get_context()
        }))
        .await
        .unwrap();
        assert_eq!(carried.get("request_id"), Some("req:parent"));
        assert_eq!(carried.get("child"), Some("yes"));
        // The child's writes stay in the child.
        assert_eq!(get_context().get("child"), None);
    })
    .await;
}

#[test]
fn plain_threads_use_their_own_context() {
    put_context([("thread", "main")]);
    let other = std::thread::spawn(|| {
        put_context([("thread", "other")]);
        get_context()
    })
    .join()
    .unwrap();
    assert_eq!(other.get("thread"), Some("other"));
    assert_eq!(get_context().get("thread"), Some("main"));
}

#[test]
fn contexts_are_equal_by_their_pairs_however_built() {
    // Found in review: a shared value and an owned one with the same text compared unequal.
    let id = provenance::request_id("r1").unwrap();
    let built = provenance::Context::for_request(&id, "GET", "/x".into());
    let collected: provenance::Context =
        [("method", "GET"), ("request_id", "req:r1"), ("route", "/x")]
            .into_iter()
            .collect();
    assert_eq!(built, collected);
}

// From a review of the copy-on-write context: each copy keeps its own activity.
#[test]
fn copies_keep_their_own_activity_and_compare_by_pairs() {
    let a = Context::from_iter([("request_id", "req:a"), ("job_id", "job:q:1")]);
    assert_eq!(a.activity().unwrap().as_str(), "req:a");
    let mut b = a.clone();
    b.remove("request_id");
    assert_eq!(b.activity().unwrap().as_str(), "job:q:1");
    assert_eq!(a.activity().unwrap().as_str(), "req:a");
    let mut c = a.clone();
    c.set_request_id(&provenance::request_id("c").unwrap());
    assert_eq!(c.activity().unwrap().as_str(), "req:c");
    assert_eq!(c.get("request_id"), Some("req:c"));
    assert_eq!(a.get("request_id"), Some("req:a"));
    let mut d = Context::new();
    d.insert("k", "v");
    d.remove("k");
    assert_eq!(d, Context::new());
    assert_eq!(d.activity(), None);
    let mut e = Context::new();
    assert_eq!(e.remove("x"), None);
    let before = e.clone();
    e.insert("job_id", "job:q:2");
    assert_eq!(before.activity(), None);
    assert_eq!(e.activity().unwrap().as_str(), "job:q:2");
    assert_eq!(e, Context::from_iter([("job_id", "job:q:2")]));
    // A request ID that is not valid is no activity; the job is.
    e.insert("request_id", "not an id");
    assert_eq!(e.activity().unwrap().as_str(), "job:q:2");
}
