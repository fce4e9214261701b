//! Memory per recorded (rec, origin) pair, measured with a counting allocator, and memory that
//! stops growing once the store is at capacity.
//!
//! This file is its own test binary, so the global allocator below counts only this test.
//! It runs one test at a time (a single `#[test]` drives the phases) so that nothing else
//! allocates while it measures.

use std::alloc::System;

use provenance::{Config, Relation, Store, function_id, record_id};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes currently allocated (requested sizes, as the program asked for them). stats_alloc
/// already folds reallocations into the allocated and deallocated totals.
fn live() -> usize {
    let s = GLOBAL.stats();
    s.bytes_allocated - s.bytes_deallocated
}

const PAIRS: usize = 1_000_000;

fn bytes_per_pair() -> f64 {
    let ids: Vec<_> = (0..PAIRS)
        .map(|i| record_id("orders", i).unwrap())
        .collect();
    let origin = function_id("shop::orders", "create").unwrap();
    let before = live();
    let store = Store::with_config(Config::new().event_capacity(PAIRS));
    for rec in &ids {
        store.relate(&origin, Relation::Produced, rec).unwrap();
    }
    let after = live();
    assert_eq!(store.stats().edges, PAIRS as u64);
    (after - before) as f64 / PAIRS as f64
}

fn steady_state_growth() -> (usize, usize) {
    let capacity = 20_000;
    let store = Store::with_config(Config::new().event_capacity(capacity));
    let origin = function_id("shop::orders", "create").unwrap();
    let req_fn = function_id("shop::http", "handler").unwrap();
    let at = |from: usize, to: usize| {
        for i in from..to {
            let rec = record_id("orders", i).unwrap();
            let req = provenance::request_id(&format!("r{}", i / 4)).unwrap();
            store.relate(&origin, Relation::Produced, &rec).unwrap();
            store.relate(&req_fn, Relation::During, &req).unwrap();
            store.relate(&req, Relation::Produced, &rec).unwrap();
        }
        live()
    };
    let warm = at(0, 3 * capacity);
    let later = at(3 * capacity, 30 * capacity);
    (warm, later)
}

#[test]
fn memory_is_small_per_pair_and_bounded_at_capacity() {
    let per_pair = bytes_per_pair();
    eprintln!("bytes per (rec, origin) pair at {PAIRS} pairs: {per_pair:.1}");
    assert!(
        per_pair <= 128.0,
        "{per_pair:.1} bytes per pair, budget 128"
    );

    let (warm, later) = steady_state_growth();
    eprintln!("live bytes at 3x capacity: {warm}, at 30x capacity: {later}");
    // Past capacity the store reuses slots: ten times more traffic may not grow it by more
    // than allocator-size jitter (a vector doubling somewhere).
    assert!(later < warm + warm / 2, "grew from {warm} to {later} bytes");
}
