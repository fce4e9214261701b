//! [`SpanLayer`]: tracing spans become `fn:` and `job:` artifacts.
//!
//! Register it once at startup, beside any other layer:
//!
//! ```
//! use provenance::{span::SpanLayer, Relation, Store};
//! use tracing_subscriber::prelude::*;
//!
//! mod shop {
//!     pub mod orders {
//!         #[tracing::instrument]
//!         pub fn create() { validate() }
//!         #[tracing::instrument]
//!         fn validate() {}
//!     }
//! }
//!
//! let store = Store::new();
//! let subscriber = tracing_subscriber::registry().with(SpanLayer::new(store.clone()));
//! tracing::subscriber::with_default(subscriber, || shop::orders::create());
//!
//! // The module path comes from the span's metadata, the name from the function.
//! let module = format!("{}::shop::orders", module_path!());
//! let create = provenance::function_id(&module, "create")?;
//! let validate = provenance::function_id(&module, "validate")?;
//! let called: Vec<_> = store
//!     .neighbors(create.as_str())
//!     .into_iter()
//!     .filter(|n| n.relation == Relation::Called)
//!     .map(|n| n.id)
//!     .collect();
//! assert_eq!(called, [validate]);
//! assert!(store.related(create.as_str()).contains(&provenance::module_id(&module)?));
//! # Ok::<(), provenance::IdError>(())
//! ```
//!
//! # What it records
//!
//! | span | artifact and edges |
//! |---|---|
//! | any counted span (see filtering) | `fn:module::name` with its source file and layer; `mod:module` with `defines` to it |
//! | a counted span inside another | `called` from the enclosing span's `fn:` |
//! | a counted span inside a request or job | `during` to that `req:`/`job:` |
//! | a span with job fields | `job:queue:id`, which acts for the spans inside it as a request does |
//! | an `ERROR` event inside a span | the `errors` counter and `last_error` on the `fn:` and on its `req:`/`job:` |
//!
//! A function's calls are a counter on its `fn:` artifact (`calls`), not an artifact per call.
//! The counter is written to the store on the first 16 calls and then every 64th, so it may lag
//! by up to 63 calls.
//!
//! # Filtering
//!
//! By default every span counts except those whose target is in [`DEFAULT_IGNORED`] (library
//! internals such as hyper, tower, sqlx and tokio). [`SpanLayer::with_targets`] counts only the
//! given crates or modules instead. A span with the field `provenance.skip = true` never counts.
//!
//! # Jobs
//!
//! A span with a `job.id` field (and a `job.queue` field, else the configured default queue)
//! is the job `job:queue:id`. The field names are configurable, so apalis's `task` span with its
//! `task_id` field works with `.with_job_fields(None, "task_id").with_default_queue("email")`.
//! Without a job framework, [`run_job`] runs a future as a job.

use std::fmt::{self, Write as _};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use hashbrown::HashMap;
use parking_lot::RwLock;
use smallvec::SmallVec;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber, span};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::arch::{ArchLayer, Signals, classify};
use crate::context::Context as ProvenanceContext;
use crate::context::{self, with_context};
use crate::id::{ArtifactId, function_id, job_id, module_id};
use crate::store::{Attributes, Relation, Store, global};

/// Targets whose spans do not count by default: library internals, not the user's code.
pub const DEFAULT_IGNORED: &[&str] = &[
    "hyper",
    "hyper_util",
    "h2",
    "tower",
    "tower_http",
    "axum",
    "sqlx",
    "sqlx_core",
    "sqlx_postgres",
    "sqlx_mysql",
    "sqlx_sqlite",
    "tokio",
    "tokio_util",
    "mio",
    "reqwest",
    "rustls",
    "tonic",
    "want",
    "runtime",
    "tracing",
    "provenance",
];

/// The span field that opts a span out: `#[instrument(fields(provenance.skip = true))]`.
pub const SKIP_FIELD: &str = "provenance.skip";

/// Longest `last_error` message kept, in bytes.
pub const MAX_ERROR_LEN: usize = 256;

/// A `tracing_subscriber` layer that records spans as lineage in a [`Store`].
#[derive(Debug)]
pub struct SpanLayer {
    store: Store,
    only: Option<Vec<String>>,
    ignored: Vec<String>,
    job_queue_field: Option<String>,
    job_id_field: String,
    default_queue: String,
    callsites: RwLock<HashMap<usize, &'static Callsite>>,
    /// Tells this layer's entries in the per-thread callsite cache from other layers'.
    id: u64,
}

static NEXT_LAYER_ID: AtomicU64 = AtomicU64::new(1);

impl SpanLayer {
    /// A layer recording into `store`, with the default filter and job fields.
    pub fn new(store: Store) -> Self {
        SpanLayer {
            store,
            only: None,
            ignored: DEFAULT_IGNORED.iter().map(|s| (*s).to_owned()).collect(),
            job_queue_field: Some("job.queue".to_owned()),
            job_id_field: "job.id".to_owned(),
            default_queue: "default".to_owned(),
            callsites: RwLock::new(HashMap::new()),
            id: NEXT_LAYER_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Counts only spans whose target is one of `targets` or inside one (`my_app` counts
    /// `my_app::orders`, not `my_application`).
    pub fn with_targets<I: IntoIterator<Item = S>, S: Into<String>>(mut self, targets: I) -> Self {
        self.only = Some(targets.into_iter().map(Into::into).collect());
        self
    }

    /// Replaces the list of ignored targets ([`DEFAULT_IGNORED`] by default).
    pub fn with_ignored<I: IntoIterator<Item = S>, S: Into<String>>(mut self, targets: I) -> Self {
        self.ignored = targets.into_iter().map(Into::into).collect();
        self
    }

    /// The fields that make a span a job: its queue (or `None` to always use the default
    /// queue) and its ID. Defaults: `job.queue` and `job.id`.
    pub fn with_job_fields(mut self, queue: Option<&str>, id: &str) -> Self {
        self.job_queue_field = queue.map(str::to_owned);
        self.job_id_field = id.to_owned();
        self
    }

    /// The queue of a job span without a queue field. Default: `default`.
    pub fn with_default_queue(mut self, queue: &str) -> Self {
        self.default_queue = queue.to_owned();
        self
    }

    fn counts(&self, target: &str) -> bool {
        let within = |prefix: &String| {
            target == prefix
                || (target.starts_with(prefix.as_str()) && target[prefix.len()..].starts_with("::"))
        };
        match &self.only {
            Some(only) => only.iter().any(within),
            None => !self.ignored.iter().any(within),
        }
    }

    /// What this layer knows about a callsite, worked out once per callsite.
    fn callsite(&self, meta: &'static Metadata<'static>) -> &'static Callsite {
        type Cache = [(u64, usize, Option<&'static Callsite>); 64];
        thread_local! {
            // Direct-mapped, per thread: a span's callsite is found without touching the
            // shared map's lock, which every thread would otherwise bounce between cores.
            static CACHE: std::cell::RefCell<Cache> = const { std::cell::RefCell::new([(0, 0, None); 64]) };
        }
        let key = meta as *const Metadata<'static> as usize;
        let slot = (key >> 4) % 64;
        let hit = CACHE
            .try_with(|c| {
                let c = c.try_borrow().ok()?;
                let (layer, k, site) = c[slot];
                if layer == self.id && k == key {
                    site
                } else {
                    None
                }
            })
            .ok()
            .flatten();
        if let Some(site) = hit {
            return site;
        }
        let site = self.shared_callsite(meta, key);
        let _ = CACHE.try_with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                c[slot] = (self.id, key, Some(site));
            }
        });
        site
    }

    fn shared_callsite(&self, meta: &'static Metadata<'static>, key: usize) -> &'static Callsite {
        if let Some(c) = self.callsites.read().get(&key) {
            return c;
        }
        let fresh = self.describe_callsite(meta);
        self.callsites.write().entry(key).or_insert_with(|| {
            // One small allocation per callsite, kept for the program's life like tracing's
            // own callsite registry, so that spans carry a plain reference to it.
            Box::leak(Box::new(fresh))
        })
    }

    fn describe_callsite(&self, meta: &'static Metadata<'static>) -> Callsite {
        let fields = meta.fields();
        let module = meta.module_path().unwrap_or_else(|| meta.target());
        let has_job = fields.field(&self.job_id_field).is_some();
        let function = if self.counts(meta.target()) {
            function_id(module, meta.name()).ok()
        } else {
            None
        };
        Callsite {
            module: function.as_ref().and_then(|_| module_id(module).ok()),
            function,
            job: has_job,
            skip_field: fields.field(SKIP_FIELD).is_some(),
            file: meta.file(),
            calls: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            defined: AtomicBool::new(false),
            last_activity: AtomicU64::new(0),
            callers: RwLock::new(Vec::new()),
            last_caller: AtomicUsize::new(0),
        }
    }

    /// Records the one-off facts of a callsite: its module, source file, layer, `defines`.
    fn define(&self, site: &Callsite) {
        let (Some(function), Some(module)) = (&site.function, &site.module) else {
            return;
        };
        for id in [module, function] {
            let mut attrs = Attributes::new();
            if let Some(file) = site.file {
                attrs = attrs.source_file(file);
                // A layer known already (registered, or found by the build-time scan from
                // what the module contains) is better than one from the file path alone.
                let known = self
                    .store
                    .lookup(id.as_str())
                    .is_some_and(|a| a.layer.is_some());
                if !known {
                    let layer: ArchLayer = classify(file, module.body(), Signals::none());
                    attrs = attrs.layer(layer);
                }
            }
            let _ = self.store.describe(id, attrs);
        }
        let _ = self.store.relate(module, Relation::Defines, function);
    }

    fn flush_calls(&self, site: &Callsite, calls: u64) {
        let Some(function) = &site.function else {
            return;
        };
        // fetch_max: a slower thread with a smaller count must not move it back.
        let before = site.flushed.fetch_max(calls, Ordering::Relaxed);
        if calls > before {
            let _ = self.store.count(function, "calls", calls - before);
        }
    }

    fn mark_failed(
        &self,
        function: Option<&ArtifactId>,
        activity: Option<&ArtifactId>,
        message: &str,
    ) {
        for id in [function, activity].into_iter().flatten() {
            let _ = self.store.count(id, "errors", 1);
            let _ = self
                .store
                .describe(id, Attributes::new().attr("last_error", message.to_owned()));
        }
    }
}

impl Default for SpanLayer {
    /// A layer recording into the [`global`] store.
    fn default() -> Self {
        SpanLayer::new(global().clone())
    }
}

/// Per-callsite facts, computed once.
#[derive(Debug)]
struct Callsite {
    /// `None` when the filter does not count this callsite.
    function: Option<ArtifactId>,
    module: Option<ArtifactId>,
    job: bool,
    skip_field: bool,
    file: Option<&'static str>,
    calls: AtomicU64,
    flushed: AtomicU64,
    defined: AtomicBool,
    /// A hash of the activity this callsite's `during` edge was last recorded for, so that a
    /// function called in a loop inside one request writes that edge once.
    last_activity: AtomicU64,
    /// Callsites whose `called` edge to this one is recorded.
    callers: RwLock<Vec<usize>>,
    last_caller: AtomicUsize,
}

/// What a counted span carries in its extensions, per layer: two `SpanLayer`s on one
/// subscriber (with different filters or stores) each keep their own.
#[derive(Default)]
struct SpanDatas(SmallVec<[(u64, SpanData); 1]>);

impl SpanDatas {
    fn get(&self, layer: u64) -> Option<&SpanData> {
        self.0.iter().find(|(id, _)| *id == layer).map(|(_, d)| d)
    }

    /// Any layer's data, for [`current`], which does not know the layers.
    fn any(&self) -> Option<&SpanData> {
        self.0.first().map(|(_, d)| d)
    }
}

struct SpanData {
    site: &'static Callsite,
    /// The `req:`/`job:` the span runs in.
    activity: Option<ArtifactId>,
}

impl<S> tracing_subscriber::Layer<S> for SpanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let site = self.callsite(attrs.metadata());
        if site.function.is_none() && !site.job {
            return;
        }
        let mut fields = Fields::new(self, site);
        if site.job || site.skip_field {
            attrs.record(&mut fields);
            if fields.skip {
                return;
            }
        }
        let Some(span) = ctx.span(id) else { return };

        // The nearest enclosing span that this layer counted.
        // Walk up with `parent()`: `scope()` would look the span itself up again first.
        let mut parent: Option<(&'static Callsite, Option<ArtifactId>)> = None;
        let mut ancestor = span.parent();
        while let Some(a) = ancestor {
            if let Some(data) = a
                .extensions()
                .get::<SpanDatas>()
                .and_then(|d| d.get(self.id))
            {
                parent = Some((data.site, data.activity.clone()));
                break;
            }
            ancestor = a.parent();
        }
        let job = fields.job_id(self);
        // The request or job around this span: the enclosing counted span's, else the context's.
        let outer = parent
            .as_ref()
            .and_then(|(_, activity)| activity.clone())
            .or_else(|| with_context(ProvenanceContext::activity));
        let activity = job.clone().or_else(|| outer.clone());
        {
            let mut extensions = span.extensions_mut();
            let data = SpanData {
                site,
                activity: activity.clone(),
            };
            match extensions.get_mut::<SpanDatas>() {
                Some(datas) => {
                    if datas.get(self.id).is_none() {
                        datas.0.push((self.id, data));
                    }
                }
                None => extensions.insert(SpanDatas(smallvec::smallvec![(self.id, data)])),
            }
        }
        drop(span);

        // Store calls, with no extensions guard held.
        if let Some(job) = &job {
            let _ = self.store.describe(
                job,
                Attributes::new().attr("queue", fields.queue_or_default(self)),
            );
            // A job started from a request or another job was caused by it; failing that, by
            // the function that started it.
            let caller = outer
                .as_ref()
                .filter(|outer| *outer != job)
                .or_else(|| parent.as_ref().and_then(|(site, _)| site.function.as_ref()));
            if let Some(caller) = caller {
                let _ = self.store.relate(caller, Relation::Called, job);
            }
        }
        let Some(function) = &site.function else {
            return;
        };
        if !site.defined.load(Ordering::Acquire) && !site.defined.swap(true, Ordering::AcqRel) {
            self.define(site);
        }
        let calls = site.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if calls <= 16 || calls.is_multiple_of(64) {
            self.flush_calls(site, calls);
        }
        if let Some((parent_site, _)) = parent
            && let Some(caller) = &parent_site.function
        {
            let key = parent_site as *const Callsite as usize;
            // Most functions have one caller: check the last one seen before the list.
            if site.last_caller.load(Ordering::Relaxed) != key {
                let known = site.callers.read().contains(&key);
                if !known {
                    site.callers.write().push(key);
                    let _ = self.store.relate(caller, Relation::Called, function);
                }
                site.last_caller.store(key, Ordering::Relaxed);
            }
        }
        if let Some(activity) = &activity {
            let h = fingerprint(activity.as_str());
            if site.last_activity.load(Ordering::Relaxed) != h
                && site.last_activity.swap(h, Ordering::Relaxed) != h
            {
                let _ = self.store.relate(function, Relation::During, activity);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let mut function = None;
        let mut activity = None;
        if let Some(span) = ctx.event_span(event) {
            for s in span.scope() {
                if let Some(data) = s
                    .extensions()
                    .get::<SpanDatas>()
                    .and_then(|d| d.get(self.id))
                {
                    function = data.site.function.clone();
                    activity = data.activity.clone();
                    break;
                }
            }
        }
        if activity.is_none() {
            activity = with_context(ProvenanceContext::activity);
        }
        if function.is_none() && activity.is_none() {
            return;
        }
        let mut message = Message::default();
        event.record(&mut message);
        self.mark_failed(function.as_ref(), activity.as_ref(), &message.0);
    }

    // No `on_close`: nothing is written when a span closes (calls are counted when it is
    // created), and the registry drops a closed span's extensions with it.
}

fn fingerprint(s: &str) -> u64 {
    use std::hash::BuildHasher;
    static SEED: std::sync::OnceLock<hashbrown::DefaultHashBuilder> = std::sync::OnceLock::new();
    // Never 0, which means "none yet".
    SEED.get_or_init(Default::default).hash_one(s) | 1
}

/// Reads the job and opt-out fields of a new span.
struct Fields<'a> {
    queue_field: Option<&'a str>,
    id_field: &'a str,
    queue: Option<String>,
    id: Option<String>,
    skip: bool,
}

impl<'a> Fields<'a> {
    fn new(layer: &'a SpanLayer, site: &Callsite) -> Self {
        Fields {
            queue_field: if site.job {
                layer.job_queue_field.as_deref()
            } else {
                None
            },
            id_field: if site.job { &layer.job_id_field } else { "" },
            queue: None,
            id: None,
            skip: false,
        }
    }

    fn queue_or_default(&self, layer: &SpanLayer) -> String {
        self.queue
            .clone()
            .unwrap_or_else(|| layer.default_queue.clone())
    }

    fn job_id(&self, layer: &SpanLayer) -> Option<ArtifactId> {
        let id = self.id.as_deref()?;
        job_id(self.queue.as_deref().unwrap_or(&layer.default_queue), id).ok()
    }

    fn set(&mut self, field: &Field, value: String) {
        if !self.id_field.is_empty() && field.name() == self.id_field {
            self.id = Some(value);
        } else if self.queue_field == Some(field.name()) {
            self.queue = Some(value);
        }
    }
}

impl Visit for Fields<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == SKIP_FIELD {
            self.skip = value;
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == SKIP_FIELD {
            self.skip = value == "true";
        } else {
            self.set(field, value.to_owned());
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field, value.to_string());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field, format!("{value:?}"));
    }
}

/// The `message` of an error event (or its fields when it has none), cut to [`MAX_ERROR_LEN`].
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.0.len() >= MAX_ERROR_LEN {
            return;
        }
        // `#[instrument(err)]` reports the error as an `error` field with no message.
        if field.name() == "message" || field.name() == "error" {
            let mut text = String::new();
            let _ = write!(text, "{value:?}");
            if self.0.is_empty() {
                self.0 = text;
            } else {
                self.0 = format!("{text} {}", self.0);
            }
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
        let len = crate::store::cut(&self.0, MAX_ERROR_LEN).len();
        self.0.truncate(len);
    }
}

/// What is running now: the innermost counted span's `fn:`, and the `req:`/`job:` it runs in
/// (from the spans, else from the task-local [`context`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Current {
    /// The innermost function that a [`SpanLayer`] counted.
    pub function: Option<ArtifactId>,
    /// The request or job.
    pub activity: Option<ArtifactId>,
}

impl Current {
    /// The innermost function, else the activity: what a query or a write is attributed to.
    pub fn actor(&self) -> Option<&ArtifactId> {
        self.function.as_ref().or(self.activity.as_ref())
    }
}

/// Asks the current span (through the subscriber's registry) and the task-local context what
/// is running now. The sqlx pool calls this for every query.
///
/// ```
/// use provenance::{context, span::{current, SpanLayer}, Store};
/// use tracing_subscriber::prelude::*;
///
/// #[tracing::instrument]
/// fn handler() -> provenance::span::Current { current() }
///
/// let subscriber = tracing_subscriber::registry().with(SpanLayer::new(Store::new()));
/// let ctx = context::Context::from_iter([("request_id", "req:r1")]);
/// let now = tracing::subscriber::with_default(subscriber, || context::sync_scope(ctx, handler));
/// assert_eq!(now.function, provenance::function_id(module_path!(), "handler").ok());
/// assert_eq!(now.activity.unwrap().as_str(), "req:r1");
/// ```
pub fn current() -> Current {
    let (function, activity) = current_parts();
    Current {
        function: function.cloned(),
        activity,
    }
}

/// [`current`], with the function's ID borrowed: it is kept for the program's life with its
/// callsite, so the sqlx pool takes it for every query without a reference count moved up and
/// down (two atomic operations).
#[doc(hidden)]
pub fn current_parts() -> (Option<&'static ArtifactId>, Option<ArtifactId>) {
    let (mut function, mut activity) = (None, None);
    // Ask the dispatcher for the current span's ID: `Span::current()` would clone the span
    // (a reference count up, and a `try_close` when dropped) on every query.
    tracing::dispatcher::get_default(|dispatch| {
        let current = dispatch.current_span();
        let Some(id) = current.id() else {
            return;
        };
        let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>() else {
            return;
        };
        // Walk up with `parent()`: `scope()` would look the current span up a second time.
        let mut span = registry.span(id);
        while let Some(s) = span {
            if let Some(data) = s.extensions().get::<SpanDatas>().and_then(|d| d.any()) {
                let site: &'static Callsite = data.site;
                function = site.function.as_ref();
                activity = data.activity.clone();
                break;
            }
            span = s.parent();
        }
    });
    if activity.is_none() {
        activity = with_context(ProvenanceContext::activity);
    }
    (function, activity)
}

/// Runs `future` as job `id` on `queue`, for code without a job framework: installs the
/// task-local context with `job_id` and runs the future inside a `job` span with `job.queue`
/// and `job.id` fields, which a [`SpanLayer`] records as `job:queue:id`.
///
/// ```
/// use provenance::{span::{run_job, SpanLayer}, Store};
/// use tracing_subscriber::prelude::*;
///
/// #[tracing::instrument]
/// async fn send_invoice() {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = Store::new();
/// let _guard = tracing_subscriber::registry().with(SpanLayer::new(store.clone())).set_default();
/// run_job("invoicing", "j-1", send_invoice()).await;
/// let send = provenance::function_id(module_path!(), "send_invoice").unwrap();
/// assert_eq!(store.related("job:invoicing:j-1"), [send]);
/// # }
/// ```
pub async fn run_job<F: Future>(queue: &str, id: impl fmt::Display, future: F) -> F::Output {
    use tracing::Instrument;
    let id = id.to_string();
    let mut ctx = context::get_context();
    if let Ok(job) = job_id(queue, &id) {
        ctx.insert(context::JOB_ID, job.to_string());
        // Inside the job, work belongs to the job; the request that started it stays known.
        if let Some(request) = ctx.remove(context::REQUEST_ID) {
            ctx.insert("parent_request_id", request);
        }
    }
    let span = tracing::info_span!(target: "provenance::job", "job", job.queue = queue, job.id = id.as_str());
    context::scope(ctx, future.instrument(span)).await
}
