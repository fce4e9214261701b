//! What `SpanLayer` adds to a span's life (create, enter, exit, close), beside the same span
//! through the registry with a do-nothing layer (the fair baseline: a bare registry never frees
//! closed spans, tokio-rs/tracing#900) and through tracing-subscriber's fmt layer writing to a
//! sink, all in one group.
//!
//! | bench | subscriber |
//! |---|---|
//! | `registry_noop_layer` | registry + a layer that does nothing |
//! | `span_layer` | registry + `SpanLayer`, outside any request |
//! | `span_layer_in_request` | registry + `SpanLayer`, inside a request's context |
//! | `span_layer_nested` | registry + `SpanLayer`, a child span inside a parent, per iteration (two spans) |
//! | `fmt_to_sink` | registry + fmt layer writing to `io::sink()` |
//!
//! The `current` group times what a query asks on its path, inside a function span in a
//! request: `span_current` is `tracing::Span::current()` (what sqlx and any instrumented
//! library pay to find their span), `provenance_current` is `provenance::span::current()`
//! (the innermost counted function and its request), which the sqlx pool calls once a query
//! and which takes ~600 of the ~1 700 instructions the pool's recording adds to it.
//!
//! Budget: `span_layer` ≤ 2 × `registry_noop_layer` (the layer adds at most the registry's own
//! cost) and below `fmt_to_sink`. Run with `cargo bench -p provenance --bench span`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use provenance::context::{Context, sync_scope};
use provenance::{SpanLayer, Store};
use tracing::Subscriber;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// A layer that does nothing: the registry alone never frees closed spans.
struct Noop;

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Noop {}

fn one_span() {
    let span = tracing::info_span!("create_order", order = 42u64);
    let _entered = black_box(span.enter());
}

fn nested_spans() {
    let parent = tracing::info_span!("handler");
    let _p = parent.enter();
    let child = tracing::info_span!("create_order");
    let _c = black_box(child.enter());
}

fn bench_spans(c: &mut Criterion) {
    let mut g = c.benchmark_group("span");

    let noop = tracing::Dispatch::new(tracing_subscriber::registry().with(Noop));
    g.bench_function("registry_noop_layer", |b| {
        tracing::dispatcher::with_default(&noop, || b.iter(one_span));
    });

    let store = Store::new();
    let layered =
        tracing::Dispatch::new(tracing_subscriber::registry().with(SpanLayer::new(store.clone())));
    g.bench_function("span_layer", |b| {
        tracing::dispatcher::with_default(&layered, || b.iter(one_span));
    });

    g.bench_function("span_layer_in_request", |b| {
        let ctx = Context::from_iter([("request_id", "req:bench")]);
        tracing::dispatcher::with_default(&layered, || sync_scope(ctx, || b.iter(one_span)));
    });

    g.bench_function("span_layer_nested", |b| {
        let ctx = Context::from_iter([("request_id", "req:bench")]);
        tracing::dispatcher::with_default(&layered, || sync_scope(ctx, || b.iter(nested_spans)));
    });

    g.bench_function("registry_noop_layer_nested", |b| {
        tracing::dispatcher::with_default(&noop, || b.iter(nested_spans));
    });

    let fmt = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink)),
    );
    g.bench_function("fmt_to_sink", |b| {
        tracing::dispatcher::with_default(&fmt, || b.iter(one_span));
    });

    g.finish();
    // The layer really records with this setup: checked outside timing, so that a run of
    // another group (a filter) does not fail here.
    tracing::dispatcher::with_default(&layered, || (0..1000).for_each(|_| one_span()));
    let id = provenance::function_id("span", "create_order").unwrap();
    let calls = store
        .lookup(id.as_str())
        .map(|a| a.counters["calls"])
        .unwrap_or(0);
    // The count is written through every 64th call.
    assert!(calls > 1000 - 64, "SpanLayer recorded {calls} calls");
}

/// `provenance::span::current()` beside `tracing::Span::current()`, in a function span in a
/// request, as a query issued by a handler finds them.
fn bench_current(c: &mut Criterion) {
    let store = Store::new();
    let layered =
        tracing::Dispatch::new(tracing_subscriber::registry().with(SpanLayer::new(store.clone())));
    let mut g = c.benchmark_group("current");
    let ctx = Context::from_iter([("request_id", "req:bench")]);
    tracing::dispatcher::with_default(&layered, || {
        sync_scope(ctx, || {
            let span = tracing::info_span!("create_order");
            let _entered = span.enter();
            // What is timed finds what a query would record.
            let now = provenance::span::current();
            assert_eq!(
                now.function.as_ref().map(|f| f.as_str()),
                Some("fn:span::create_order")
            );
            assert_eq!(now.activity.as_ref().map(|a| a.as_str()), Some("req:bench"));
            g.bench_function("span_current", |b| {
                b.iter(|| black_box(tracing::Span::current()))
            });
            g.bench_function("provenance_current", |b| {
                b.iter(|| black_box(provenance::span::current()))
            });
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_spans, bench_current
}
criterion_main!(benches);
