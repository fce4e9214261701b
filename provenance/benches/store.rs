//! Benchmarks of the lineage `Store`: what recording and querying cost, each measured beside a
//! naive `parking_lot::Mutex<std::collections::HashMap<String, Vec<String>>>` doing the same
//! job in the same group (`baseline_mutex_hashmap`; `baseline_module` and `baseline_request`
//! in `downstream`), so the ratio is visible in one report.
//!
//! | group | instrumented | what is timed | budget |
//! |---|---|---|---|
//! | `record` | `record`, `record_at_capacity`, `relate` | one new `rec:` from an existing `fn:` | `record` median ≤ 300 ns |
//! | `record_2_threads` | `record` | two threads, same origin, one shared store | ≥ 3 M records/s in all |
//! | `related` | `related` | a record with 10 neighbours among ~200k artifacts | ≤ 1 µs |
//! | `downstream` | `request` | `downstream(req, 3)`, one request in the middle of a graph of ~4.1 M edges: what it did and what came of it | ≤ 1 ms |
//! | `downstream` | `module` | `downstream(mod, 3)` on the same graph: ~13k nodes, measured for scale | none |
//! | `rows` | `queued`, `linked`, `linked_by_a_read`, `queued_keys`, `keys_linked_by_a_read` | batches of 64 result rows in a full store: queued for later (as IDs, or as integer keys), linked now, and what a read pays to link a full queue | none (the sqlx pool's per-row budget is measured there) |
//! | `request_tables` | `linked`, `queued`, `linked_by_a_read` | a new request's edge to its table in a full store, as each query records it: at once, queued, and what a read pays per queued request | none (the pool's per-query budget is measured there) |
//!
//! Only the store call is timed: IDs are generated before each timed run, and stores are
//! built or replaced outside it. `record` and `relate` run against a store large enough that
//! nothing is evicted (checked after every run); `record_at_capacity` runs against a full
//! store, so every record evicts the oldest one (the steady state of a long-running server;
//! checked too). The `downstream` graph is built once, on first use, and its edge count and the
//! size of both measured lineages are printed to stderr; both results are checked against the
//! baseline's walk, which applies the same rule for structural artifacts reached through an
//! event (see `provenance::query`), before anything is timed.
//!
//! Run all of it (under three minutes on two cores) with
//!
//! ```text
//! cargo bench -p provenance --bench store
//! ```
//!
//! or one group with e.g. `cargo bench -p provenance --bench store -- downstream`.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use parking_lot::Mutex;
use provenance::{
    ArtifactId, Config, Relation, Store, function_id, module_id, record_id, request_id, table_id,
};

/// The naive baseline: every artifact's related IDs, behind one lock.
type Naive = Mutex<HashMap<String, Vec<String>>>;

/// The origin of every record in the `record*` groups.
const ORIGIN: &str = "fn:shop::orders::create";

/// A store (or baseline map) that is replaced by a fresh one, outside timing, before it would
/// hold more than this many records from the timed runs, so that it never evicts and its size
/// stays in a realistic range.
const RESET_AT: u64 = 1_000_000;

/// The event capacity of the full store in `record_at_capacity` (the default).
const AT_CAPACITY: usize = Config::DEFAULT_EVENT_CAPACITY;

/// A value that is replaced by `make(limit)` before it has taken more than `limit` items,
/// where `limit` is the larger of [`RESET_AT`] and the size of the next run.
struct Fresh<T> {
    value: T,
    used: u64,
    make: fn(u64) -> T,
}

impl<T> Fresh<T> {
    fn new(make: fn(u64) -> T) -> Self {
        Fresh {
            value: make(RESET_AT),
            used: 0,
            make,
        }
    }

    /// The value, with room for `n` more items.
    fn room_for(&mut self, n: u64) -> &T {
        let limit = RESET_AT.max(n);
        if self.used + n > limit {
            // The old value is dropped here, before the timed run.
            self.value = (self.make)(limit);
            self.used = 0;
        }
        self.used += n;
        &self.value
    }
}

/// A store that holds `n` records without evicting (shards get a share of the capacity, so
/// leave room for an uneven spread), with [`ORIGIN`] already in it.
fn unbounded_store(n: u64) -> Store {
    let store = Store::with_config(Config::new().event_capacity(2 * n as usize + 100_000));
    store.touch(&ArtifactId::parse(ORIGIN).unwrap()).unwrap();
    store
}

/// An empty baseline map with [`ORIGIN`] already in it.
fn naive_map(_: u64) -> Naive {
    let mut map = HashMap::new();
    map.insert(ORIGIN.to_owned(), Vec::new());
    Mutex::new(map)
}

/// What the baseline does for `record(artifact, origin)`: the edge at both ends, as the store
/// keeps it, so that `related` works from either.
fn naive_insert(map: &Naive, artifact: &str, origin: &str) {
    let mut map = map.lock();
    match map.get_mut(origin) {
        Some(list) => list.push(artifact.to_owned()),
        None => {
            map.insert(origin.to_owned(), vec![artifact.to_owned()]);
        }
    }
    map.entry(artifact.to_owned())
        .or_default()
        .push(origin.to_owned());
}

/// `n` new record IDs as strings, numbered from `*next` on.
fn rec_strings(next: &mut u64, n: u64) -> Vec<String> {
    (0..n)
        .map(|_| {
            *next += 1;
            format!("rec:orders:{next}")
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// record

fn bench_record(c: &mut Criterion) {
    let mut g = c.benchmark_group("record");

    g.bench_function("record", |b| {
        let mut stores = Fresh::new(unbounded_store);
        let mut next = 0;
        b.iter_custom(|iters| {
            let ids = rec_strings(&mut next, iters);
            let store = stores.room_for(iters);
            let start = Instant::now();
            for id in &ids {
                store.record(black_box(id), black_box(ORIGIN)).unwrap();
            }
            let elapsed = start.elapsed();
            assert_eq!(store.stats().total_evicted(), 0, "record evicted");
            elapsed
        });
    });

    g.bench_function("record_at_capacity", |b| {
        let store = Store::with_config(Config::new().event_capacity(AT_CAPACITY));
        let mut next = 0;
        // Twice the capacity, so every shard is full and has evicted a round already.
        for id in &rec_strings(&mut next, 2 * AT_CAPACITY as u64) {
            store.record(id, ORIGIN).unwrap();
        }
        b.iter_custom(|iters| {
            let ids = rec_strings(&mut next, iters);
            let before = store.stats().total_evicted();
            let start = Instant::now();
            for id in &ids {
                store.record(black_box(id), black_box(ORIGIN)).unwrap();
            }
            let elapsed = start.elapsed();
            let evicted = store.stats().total_evicted() - before;
            assert_eq!(evicted, iters, "every record at capacity evicts one");
            elapsed
        });
    });

    g.bench_function("relate", |b| {
        let origin = ArtifactId::parse(ORIGIN).unwrap();
        let mut stores = Fresh::new(unbounded_store);
        let mut next = 0u64;
        b.iter_custom(|iters| {
            let ids: Vec<ArtifactId> = (0..iters)
                .map(|_| {
                    next += 1;
                    record_id("orders", next).unwrap()
                })
                .collect();
            let store = stores.room_for(iters);
            let start = Instant::now();
            for id in &ids {
                store
                    .relate(black_box(&origin), Relation::Produced, black_box(id))
                    .unwrap();
            }
            let elapsed = start.elapsed();
            assert_eq!(store.stats().total_evicted(), 0, "relate evicted");
            elapsed
        });
    });

    g.bench_function("baseline_mutex_hashmap", |b| {
        let mut maps = Fresh::new(naive_map);
        let mut next = 0;
        b.iter_custom(|iters| {
            let ids = rec_strings(&mut next, iters);
            let map = maps.room_for(iters);
            let start = Instant::now();
            for id in &ids {
                naive_insert(black_box(map), black_box(id), black_box(ORIGIN));
            }
            start.elapsed()
        });
    });

    g.finish();
}

// ---------------------------------------------------------------------------------------------
// record_2_threads

/// Runs `insert(target, id)` for `ids[0]` on one thread and `ids[1]` on another, started
/// together, and returns the time from the first start to the last finish (thread spawning
/// is not included).
fn two_threads<T, F>(target: &T, ids: &[Vec<String>; 2], insert: &F) -> Duration
where
    T: Sync,
    F: Fn(&T, &str) + Sync,
{
    let barrier = Barrier::new(2);
    let spans: Vec<(Instant, Instant)> = thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|ids| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for id in ids {
                        insert(target, black_box(id));
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let start = spans.iter().map(|s| s.0).min().unwrap();
    let end = spans.iter().map(|s| s.1).max().unwrap();
    end - start
}

/// `n` new record IDs split between two threads.
fn split_rec_strings(next: &mut u64, n: u64) -> [Vec<String>; 2] {
    let first = rec_strings(next, n - n / 2);
    [first, rec_strings(next, n / 2)]
}

fn bench_record_2_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("record_2_threads");
    g.throughput(Throughput::Elements(1));

    g.bench_function("record", |b| {
        let mut stores = Fresh::new(unbounded_store);
        let mut next = 0;
        b.iter_custom(|iters| {
            let ids = split_rec_strings(&mut next, iters);
            let store = stores.room_for(iters);
            let elapsed = two_threads(store, &ids, &|store: &Store, id: &str| {
                store.record(id, black_box(ORIGIN)).unwrap();
            });
            assert_eq!(store.stats().total_evicted(), 0, "record evicted");
            elapsed
        });
    });

    g.bench_function("baseline_mutex_hashmap", |b| {
        let mut maps = Fresh::new(naive_map);
        let mut next = 0;
        b.iter_custom(|iters| {
            let ids = split_rec_strings(&mut next, iters);
            let map = maps.room_for(iters);
            two_threads(map, &ids, &|map: &Naive, id: &str| {
                naive_insert(map, id, black_box(ORIGIN));
            })
        });
    });

    g.finish();
}

// ---------------------------------------------------------------------------------------------
// related

/// The artifact `related` is asked about: a record with exactly 10 neighbours.
const TARGET: &str = "rec:orders:42";

/// `from → to` in the store, and at both ends in the baseline map.
fn link_both(
    store: &Store,
    map: &mut HashMap<String, Vec<String>>,
    from: &ArtifactId,
    relation: Relation,
    to: &ArtifactId,
) {
    store.relate(from, relation, to).unwrap();
    map.entry(from.as_str().to_owned())
        .or_default()
        .push(to.as_str().to_owned());
    map.entry(to.as_str().to_owned())
        .or_default()
        .push(from.as_str().to_owned());
}

/// 100 batch functions that produced 1000 line items each (all in one table), 1000 orders
/// from one function (in another table), and around `rec:orders:42`: its producer, its table,
/// a function that read it and 7 invoices derived from it.
fn related_fixture() -> (Store, Naive) {
    let store = Store::with_config(Config::new().event_capacity(1_000_000));
    let mut map = HashMap::new();
    let line_items = table_id("line_items").unwrap();
    let mut n = 0u64;
    for m in 0..100 {
        let batch = function_id(&format!("shop::batch{m}"), "run").unwrap();
        for _ in 0..1000 {
            n += 1;
            let rec = record_id("line_items", n).unwrap();
            link_both(&store, &mut map, &batch, Relation::Produced, &rec);
            link_both(&store, &mut map, &line_items, Relation::Contains, &rec);
        }
    }
    let create = ArtifactId::parse(ORIGIN).unwrap();
    let orders = table_id("orders").unwrap();
    for k in 0..1000 {
        let order = record_id("orders", k).unwrap();
        link_both(&store, &mut map, &create, Relation::Produced, &order);
        link_both(&store, &mut map, &orders, Relation::Contains, &order);
    }
    let target = ArtifactId::parse(TARGET).unwrap();
    let invoice = function_id("shop::billing", "invoice").unwrap();
    link_both(&store, &mut map, &invoice, Relation::Read, &target);
    for k in 0..7 {
        let derived = record_id("invoices", k).unwrap();
        link_both(&store, &mut map, &derived, Relation::DerivedFrom, &target);
    }

    let stats = store.stats();
    assert_eq!(stats.total_evicted(), 0);
    let mut expected = map[TARGET].clone();
    expected.sort_unstable();
    let got: Vec<String> = store
        .related(TARGET)
        .iter()
        .map(|id| id.as_str().to_owned())
        .collect();
    assert_eq!(got.len(), 10, "{TARGET} has 10 neighbours: {got:?}");
    assert_eq!(got, expected, "store and baseline disagree on related");
    eprintln!(
        "related fixture: {} artifacts, {} edges; related({TARGET}) = {} ids",
        stats.total_artifacts(),
        stats.edges,
        got.len()
    );
    (store, Mutex::new(map))
}

fn bench_related(c: &mut Criterion) {
    let fixture = OnceCell::new();
    let mut g = c.benchmark_group("related");

    g.bench_function("related", |b| {
        let (store, _) = fixture.get_or_init(related_fixture);
        b.iter(|| store.related(black_box(TARGET)));
    });

    g.bench_function("baseline_mutex_hashmap", |b| {
        let (_, map) = fixture.get_or_init(related_fixture);
        b.iter(|| map.lock().get(black_box(TARGET)).cloned());
    });

    g.finish();
}

// ---------------------------------------------------------------------------------------------
// downstream

const MODULES: usize = 100;
const FNS_PER_MODULE: usize = 10;
const RECS_PER_FN: usize = 1000;
const RECS_PER_REQUEST: usize = 10;
const TABLES: usize = 20;
const DEPTH: usize = 3;
/// The request `downstream/request` starts from, in the middle of the graph (of 100k).
const REQUEST_ROOT: usize = 50_000;

struct Graph {
    store: Store,
    /// Lineage-forward adjacency (the direction `downstream` walks), for the baseline.
    forward: Naive,
    /// `mod:app::m0`.
    module_root: String,
    /// `req:r50000`.
    request_root: String,
}

/// Forward lineage as the baseline walks it.
struct NaiveLineage {
    /// (depth, id), sorted.
    nodes: Vec<(usize, String)>,
    /// (from, to) in the direction lineage flows, sorted and deduplicated.
    edges: Vec<(String, String)>,
    /// Structural artifacts reached at the same depth both with and without an event on the
    /// path. The walk keeps the flag of whichever path it saw first, so for these the result
    /// depends on the order of the adjacency lists, and the cross-check would not be exact.
    order_dependent: usize,
}

/// Whether `id` is an event (`req`, `job`, `rec`), from its prefix.
fn is_event(id: &str) -> bool {
    matches!(id.split_once(':'), Some(("req" | "job" | "rec", _)))
}

/// The baseline `downstream`: a breadth-first walk of the forward map to `max_depth` that
/// returns what the store returns (nodes with their depth and the edges followed, sorted).
///
/// It applies the store's rule: a node is "via event" if the root or any node on the path
/// the walk first found it by is an event, and from a structural node that is via event the
/// walk takes no edge into an event (the edge and the event are left out).
fn naive_downstream(map: &Naive, root: &str, max_depth: usize) -> Option<NaiveLineage> {
    let map = map.lock();
    let root = map.get_key_value(root)?.0.as_str();
    let root_is_event = is_event(root);
    // Depth, and whether an event is on the path.
    let mut found: HashMap<&str, (usize, bool)> = HashMap::new();
    found.insert(root, (0, root_is_event));
    let mut frontier = vec![(root, root_is_event)];
    let mut edges: Vec<(&str, &str)> = Vec::new();
    let mut order_dependent = 0;
    for depth in 1..=max_depth {
        let mut next = Vec::new();
        for (node, via_event) in frontier {
            let node_is_event = is_event(node);
            for other in map.get(node).into_iter().flatten() {
                let other = other.as_str();
                let other_is_event = is_event(other);
                if via_event && !node_is_event && other_is_event {
                    continue;
                }
                edges.push((node, other));
                let via = via_event || other_is_event;
                match found.entry(other) {
                    Entry::Vacant(v) => {
                        v.insert((depth, via));
                        next.push((other, via));
                    }
                    Entry::Occupied(o) => {
                        if *o.get() == (depth, !via) {
                            order_dependent += 1;
                        }
                    }
                }
            }
        }
        frontier = next;
    }
    let mut nodes: Vec<(usize, String)> = found
        .into_iter()
        .map(|(id, (depth, _))| (depth, id.to_owned()))
        .collect();
    nodes.sort_unstable();
    let mut edges: Vec<(String, String)> = edges
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    edges.sort_unstable();
    edges.dedup();
    Some(NaiveLineage {
        nodes,
        edges,
        order_dependent,
    })
}

/// Checks the store's `downstream(root, DEPTH)` against the baseline's and describes it.
fn check_downstream(store: &Store, forward: &Naive, root: &str) -> String {
    let lineage = store.downstream(root, DEPTH).unwrap();
    let naive = naive_downstream(forward, root, DEPTH).unwrap();
    assert_eq!(
        naive.order_dependent, 0,
        "downstream({root}) depends on adjacency order; the cross-check would not be exact"
    );
    let nodes: Vec<(usize, String)> = lineage
        .nodes
        .iter()
        .map(|n| (n.depth, n.id.as_str().to_owned()))
        .collect();
    let mut edges: Vec<(String, String)> = lineage
        .edges
        .iter()
        .map(|e| {
            let (from, to) = (e.from.as_str().to_owned(), e.to.as_str().to_owned());
            if e.relation.flows_forward() {
                (from, to)
            } else {
                (to, from)
            }
        })
        .collect();
    edges.sort_unstable();
    assert_eq!(
        nodes, naive.nodes,
        "store and baseline disagree on nodes of {root}"
    );
    assert_eq!(
        edges, naive.edges,
        "store and baseline disagree on edges of {root}"
    );
    let per_depth: Vec<usize> = (0..=DEPTH)
        .map(|d| nodes.iter().filter(|n| n.0 == d).count())
        .collect();
    format!(
        "downstream({root}, {DEPTH}) returns {} nodes (per depth {per_depth:?}) and {} edges",
        lineage.nodes.len(),
        lineage.edges.len(),
    )
}

fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// 100 modules that each `defines` 10 functions; each function `called` the next one in its
/// module, and every fifth one also a function of the next module; each function `produced`
/// 1000 records, interleaved in time; a table `contains` each record (module `m` writes table
/// `t{m % 20}`); every tenth record is `derived_from` a random older one. Records are grouped
/// into requests of 10 consecutive ones, recorded as the integrations do: `req:r{n / 10}`
/// `produced` each of its records, and each producing function ran `during` it, so request
/// `r` is served by the 10 functions of module `r % 100`. About 1 M records, 100k requests and
/// 4.1 M edges.
///
/// From `mod:app::m0` the walk is mod → fn → rec → derived rec (and fn → called fn → its
/// records); `during` points from a function to the request, against the flow, so this walk
/// reaches no request. From `req:r50000` it is req → its records → derived records, and
/// req → the functions that ran in it → the functions they called; those functions were
/// reached through the request, so their records (other requests' work) are left out.
fn build_graph() -> Graph {
    let started = Instant::now();
    let store = Store::with_config(Config::new().event_capacity(2_000_000));
    let mut forward: HashMap<String, Vec<String>> = HashMap::new();
    let mut link = |from: &ArtifactId, relation: Relation, to: &ArtifactId| {
        store.relate(from, relation, to).unwrap();
        let (src, dst) = if relation.flows_forward() {
            (from, to)
        } else {
            (to, from)
        };
        match forward.get_mut(src.as_str()) {
            Some(list) => list.push(dst.as_str().to_owned()),
            None => {
                forward.insert(src.as_str().to_owned(), vec![dst.as_str().to_owned()]);
            }
        }
    };

    let modules: Vec<ArtifactId> = (0..MODULES)
        .map(|m| module_id(&format!("app::m{m}")).unwrap())
        .collect();
    let fns: Vec<ArtifactId> = (0..MODULES * FNS_PER_MODULE)
        .map(|f| {
            let (m, k) = (f / FNS_PER_MODULE, f % FNS_PER_MODULE);
            function_id(&format!("app::m{m}"), &format!("f{k}")).unwrap()
        })
        .collect();
    let table_names: Vec<String> = (0..TABLES).map(|t| format!("t{t}")).collect();
    let tables: Vec<ArtifactId> = table_names
        .iter()
        .map(|t| table_id(t.as_str()).unwrap())
        .collect();

    for (f, id) in fns.iter().enumerate() {
        let (m, k) = (f / FNS_PER_MODULE, f % FNS_PER_MODULE);
        link(&modules[m], Relation::Defines, id);
        let same_module = &fns[m * FNS_PER_MODULE + (k + 1) % FNS_PER_MODULE];
        link(id, Relation::Called, same_module);
        if k % 5 == 0 {
            let next_module = &fns[((m + 1) % MODULES) * FNS_PER_MODULE + k];
            link(id, Relation::Called, next_module);
        }
    }

    let total = fns.len() * RECS_PER_FN;
    let mut recs: Vec<ArtifactId> = Vec::with_capacity(total);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut request = request_id("r0").unwrap();
    for n in 0..total {
        let f = n % fns.len();
        let t = (f / FNS_PER_MODULE) % TABLES;
        if n % RECS_PER_REQUEST == 0 {
            request = request_id(&format!("r{}", n / RECS_PER_REQUEST)).unwrap();
        }
        let rec = record_id(table_names[t].as_str(), n).unwrap();
        // As the integrations record it: the function ran during the request, and both
        // produced the record.
        link(&fns[f], Relation::During, &request);
        link(&fns[f], Relation::Produced, &rec);
        link(&request, Relation::Produced, &rec);
        link(&tables[t], Relation::Contains, &rec);
        if n % 10 == 9 {
            let older = &recs[(xorshift(&mut rng) % recs.len() as u64) as usize];
            link(&rec, Relation::DerivedFrom, older);
        }
        recs.push(rec);
    }
    drop(recs);

    let module_root = modules[0].as_str().to_owned();
    let request_root = request_id(&format!("r{REQUEST_ROOT}"))
        .unwrap()
        .as_str()
        .to_owned();
    let forward = Mutex::new(forward);
    let stats = store.stats();
    assert_eq!(stats.total_evicted(), 0, "the graph must fit the store");
    assert!(stats.edges >= 1_000_000, "{} edges", stats.edges);
    let built = started.elapsed();

    // Check the store's answers against the baseline's before timing either.
    let module = check_downstream(&store, &forward, &module_root);
    let request = check_downstream(&store, &forward, &request_root);
    eprintln!(
        "downstream graph: {} edges, {} artifacts, built in {built:.1?}; {module}; {request}",
        stats.edges,
        stats.total_artifacts(),
    );
    Graph {
        store,
        forward,
        module_root,
        request_root,
    }
}

fn bench_downstream(c: &mut Criterion) {
    let graph = OnceCell::new();
    let mut g = c.benchmark_group("downstream");
    g.sample_size(30);

    g.bench_function("request", |b| {
        let graph = graph.get_or_init(build_graph);
        b.iter(|| {
            graph
                .store
                .downstream(black_box(&graph.request_root), DEPTH)
        });
    });

    g.bench_function("baseline_request", |b| {
        let graph = graph.get_or_init(build_graph);
        b.iter(|| naive_downstream(&graph.forward, black_box(&graph.request_root), DEPTH));
    });

    g.bench_function("module", |b| {
        let graph = graph.get_or_init(build_graph);
        b.iter(|| graph.store.downstream(black_box(&graph.module_root), DEPTH));
    });

    g.bench_function("baseline_module", |b| {
        let graph = graph.get_or_init(build_graph);
        b.iter(|| naive_downstream(&graph.forward, black_box(&graph.module_root), DEPTH));
    });

    g.finish();
}

/// Rows of a query result, per batch, as the sqlx pool queues them.
const BATCH: usize = 64;

/// A query result's rows as the sqlx pool records them: batches of 64 records from a
/// function, a request and their table. `linked` links each batch as it comes, `queued`
/// queues it (`relate_many_later`) in a store nobody reads, and `linked_by_a_read` is the
/// catch-up a read then pays for a full queue, per record. Both stores are at capacity.
fn bench_rows(c: &mut Criterion) {
    let mut g = c.benchmark_group("rows");
    g.throughput(Throughput::Elements(BATCH as u64));
    let f = provenance::function_id("app::orders", "list").unwrap();
    let tbl = provenance::table_id("orders").unwrap();
    let req = provenance::request_id("bench-request").unwrap();
    let batches = |next: &mut u64, n: u64| -> Vec<Vec<ArtifactId>> {
        (0..n)
            .map(|_| {
                (0..BATCH)
                    .map(|_| {
                        *next += 1;
                        provenance::record_id("orders", *next).unwrap()
                    })
                    .collect()
            })
            .collect()
    };
    let froms = [
        (&f, Relation::Read),
        (&req, Relation::Read),
        (&tbl, Relation::Contains),
    ];
    for (name, later) in [("linked", false), ("queued", true)] {
        let store = Store::with_config(Config::new().event_capacity(AT_CAPACITY));
        let mut next = 0;
        for batch in batches(&mut next, 2 * (AT_CAPACITY / BATCH) as u64) {
            store.relate_many(&froms, &batch).unwrap();
        }
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let work = batches(&mut next, iters);
                let start = Instant::now();
                for batch in work {
                    if later {
                        store.relate_many_later(black_box(&froms), batch);
                    } else {
                        store.relate_many(black_box(&froms), &batch).unwrap();
                    }
                }
                start.elapsed()
            })
        });
        let stats = store.stats();
        assert!(stats.events() <= AT_CAPACITY as u64, "{stats:?}");
    }
    // Filled once, outside the closure criterion calls per sample: every read links into a
    // full store, as in a long-running service. (Found in review: a store made per sample
    // never filled, and the read cost a quarter of what it does when full.)
    let full = || {
        let store = Store::with_config(Config::new().event_capacity(AT_CAPACITY));
        let mut next = 0;
        for batch in batches(&mut next, 2 * (AT_CAPACITY / BATCH) as u64) {
            store.relate_many(&froms, &batch).unwrap();
        }
        assert!(store.stats().events() >= AT_CAPACITY as u64 - BATCH as u64);
        (store, next)
    };
    let (store, mut next) = full();
    linked_by_a_read(&mut g, "linked_by_a_read", &store, BATCH, || {
        let batch = batches(&mut next, 1).remove(0);
        store.relate_many_later(&froms, batch);
    });
    // The same rows queued as integer keys (`relate_records_later`, as the pool queues rows
    // with an integer key): their IDs are built by the read that links them.
    let keys = |next: &mut i64, n: u64| -> Vec<Vec<i64>> {
        (0..n)
            .map(|_| {
                (0..BATCH)
                    .map(|_| {
                        *next += 1;
                        *next
                    })
                    .collect()
            })
            .collect()
    };
    {
        let (store, next_id) = full();
        let mut next = next_id as i64;
        g.bench_function("queued_keys", |b| {
            b.iter_custom(|iters| {
                let work = keys(&mut next, iters);
                let start = Instant::now();
                for batch in work {
                    store
                        .relate_records_later(black_box(&froms), &tbl, batch)
                        .unwrap();
                }
                start.elapsed()
            })
        });
    }
    let (store, next_id) = full();
    let mut next = next_id as i64;
    linked_by_a_read(&mut g, "keys_linked_by_a_read", &store, BATCH, || {
        let batch = keys(&mut next, 1).remove(0);
        store.relate_records_later(&froms, &tbl, batch).unwrap();
    });
    g.finish();
}

/// What a read of the full `store` pays to link a queue of `AT_CAPACITY` targets: `queue`
/// queues `per_call` of them (untimed), as many times as fill the queue, then one read is
/// timed.
fn linked_by_a_read(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    store: &Store,
    per_call: usize,
    mut queue: impl FnMut(),
) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min((AT_CAPACITY / per_call) as u64);
                left -= n;
                for _ in 0..n {
                    queue();
                }
                let start = Instant::now();
                let stats = black_box(store.stats());
                elapsed += start.elapsed();
                assert_eq!(stats.unlinked, 0, "the queue held every batch");
                assert!(
                    stats.events() >= (AT_CAPACITY - per_call.max(BATCH)) as u64,
                    "full: {stats:?}"
                );
            }
            elapsed
        })
    });
}

/// What a query costs the store for its request's table edge, the request new each time (as
/// the sqlx pool records it for every query): `linked` relates them at once, `queued` queues
/// them (`relate_later`), and `linked_by_a_read` is what a read then pays per queued request
/// to link a full queue, making each request a node. All three stores are at capacity.
fn bench_request_tables(c: &mut Criterion) {
    let mut g = c.benchmark_group("request_tables");
    g.throughput(Throughput::Elements(1));
    let tables: Arc<[ArtifactId]> = Arc::new([provenance::table_id("orders").unwrap()]);
    let requests = |next: &mut u64, n: u64| -> Vec<ArtifactId> {
        (0..n)
            .map(|_| {
                *next += 1;
                provenance::request_id(&format!("bench-{next}")).unwrap()
            })
            .collect()
    };
    let full = || {
        let store = Store::with_config(Config::new().event_capacity(AT_CAPACITY));
        let mut next = 0;
        for req in requests(&mut next, 2 * AT_CAPACITY as u64) {
            store.relate(&req, Relation::Read, &tables[0]).unwrap();
        }
        assert_eq!(store.stats().events(), AT_CAPACITY as u64);
        (store, next)
    };
    for (name, later) in [("linked", false), ("queued", true)] {
        let (store, mut next) = full();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let work = requests(&mut next, iters);
                let start = Instant::now();
                for req in &work {
                    if later {
                        store.relate_later(black_box(req), Relation::Read, tables.clone());
                    } else {
                        store
                            .relate(black_box(req), Relation::Read, &tables[0])
                            .unwrap();
                    }
                }
                start.elapsed()
            })
        });
        let stats = store.stats();
        assert_eq!(stats.events(), AT_CAPACITY as u64, "{stats:?}");
    }
    let (store, mut next) = full();
    linked_by_a_read(&mut g, "linked_by_a_read", &store, 1, || {
        let req = requests(&mut next, 1).remove(0);
        store.relate_later(&req, Relation::Read, tables.clone());
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_record, bench_record_2_threads, bench_related, bench_downstream, bench_rows, bench_request_tables
}
criterion_main!(benches);
