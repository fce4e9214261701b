//! The provenance context of the current unit of work: which request or job is running, and
//! whatever else the application attaches (a user ID, a trace ID).
//!
//! The Elixir library keeps this in the process dictionary. Here it is task-local: [`scope`]
//! installs a context for one future (the tower layer does so for each request, a job runner for
//! each job), and everything that future runs sees it through [`get_context`]. Outside any scope
//! the calls still work on a per-thread context, so tests and plain threads behave.
//!
//! ```
//! use provenance::context::{get_context, put_context, scope, Context};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let ctx = Context::from_iter([("request_id", "req:F1a2b3c4d5")]);
//! scope(ctx, async {
//!     put_context([("user_id", "usr:42")]);
//!     put_context([("trace_id", "trc:abc")]);
//!     let ctx = get_context();
//!     assert_eq!(ctx.get("request_id"), Some("req:F1a2b3c4d5"));
//!     assert_eq!(ctx.get("user_id"), Some("usr:42"));
//!     assert_eq!(ctx.len(), 3);
//! })
//! .await;
//! # }
//! ```
//!
//! # Spawned tasks
//!
//! `tokio::spawn` does not carry task-locals into the new task. Wrap the future with
//! [`in_current_context`] to take a copy of the current context along:
//!
//! ```
//! use provenance::context::{get_context, in_current_context, scope, Context};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! scope(Context::from_iter([("job_id", "job:default:j-1")]), async {
//!     let handle = tokio::spawn(in_current_context(async { get_context() }));
//!     assert_eq!(handle.await.unwrap().get("job_id"), Some("job:default:j-1"));
//! })
//! .await;
//! # }
//! ```

use std::any::Any;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};

use smallvec::SmallVec;

use crate::id::ArtifactId;

/// The context key under which the current request's `req:` ID is kept.
pub const REQUEST_ID: &str = "request_id";
/// The context key under which the current job's `job:` ID is kept.
pub const JOB_ID: &str = "job_id";

/// A provenance context: string keys to string values, ordered by key.
///
/// Shared, copy on write: cloning one (as [`get_context`] and [`in_current_context`] do) copies
/// a pointer, and the task-local scope moves a pointer on every poll, not the pairs.
#[derive(Clone, Default)]
pub struct Context {
    /// `None` for an empty context, so that [`Context::new`] allocates nothing.
    inner: Option<Arc<Inner>>,
}

#[derive(Clone, Default)]
struct Inner {
    // Sorted by key. A request's context has three or four keys, nearly always literals, and
    // values that are literals or shared: no allocation for those.
    entries: SmallVec<[(Cow<'static, str>, Text); 4]>,
    /// The parsed request or job ID, worked out when either is set: every span and query
    /// asks for it.
    activity: Option<ArtifactId>,
    /// What instrumentation keeps for the unit of work (see [`Context::unit_state`]): made on
    /// first use, shared by every copy of the context, empty again when the unit changes.
    unit: OnceLock<Arc<dyn Any + Send + Sync>>,
}

/// What `slot` holds, else made by `make` (taken) if there is one.
fn unit_slot<'a, T: Any + Send + Sync>(
    slot: &'a OnceLock<Arc<dyn Any + Send + Sync>>,
    make: &mut Option<impl FnOnce() -> T>,
) -> Option<&'a Arc<dyn Any + Send + Sync>> {
    if let Some(state) = slot.get() {
        return Some(state);
    }
    let make = make.take()?;
    Some(slot.get_or_init(|| Arc::new(make())))
}

/// In [`Inner::unit`] when a copy of a context was made before its unit's state was: the
/// state, made later, in one place both copies share.
#[derive(Default)]
struct SharedUnit(OnceLock<Arc<dyn Any + Send + Sync>>);

impl Inner {
    /// Sets `key`, replacing an earlier value, keeping the entries sorted.
    fn put(&mut self, key: Cow<'static, str>, value: Text) {
        match Context::position(&self.entries, &key) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (key, value)),
        }
    }

    /// Sets the unit of work. Another unit does not see the state kept for this one.
    fn set_activity(&mut self, activity: Option<ArtifactId>) {
        if self.activity != activity {
            self.unit = OnceLock::new();
        }
        self.activity = activity;
    }
}

impl PartialEq for Context {
    fn eq(&self, other: &Self) -> bool {
        self.entries() == other.entries()
    }
}

impl Eq for Context {}

/// A context value: text of its own, or shared with the ID or route it came from. Equal by
/// text, however it is held.
#[derive(Clone)]
enum Text {
    Cow(Cow<'static, str>),
    Shared(Arc<str>),
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Text::Cow(s) => s,
            Text::Shared(s) => s,
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Text {}

impl Text {
    fn into_owned(self) -> String {
        match self {
            Text::Cow(s) => s.into_owned(),
            Text::Shared(s) => s.to_string(),
        }
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Context {
    /// An empty context.
    pub const fn new() -> Self {
        Context { inner: None }
    }

    fn entries(&self) -> &[(Cow<'static, str>, Text)] {
        self.inner.as_deref().map_or(&[], |inner| &inner.entries)
    }

    /// The pairs to change, copied first if another context shares them.
    fn inner_mut(&mut self) -> &mut Inner {
        let inner = self.inner.get_or_insert_with(Default::default);
        // The copy keeps sharing the unit's state with the others (a task spawned with this
        // context, which then adds a key): the state is made before the copy, if it was not.
        if Arc::strong_count(inner) > 1 && inner.activity.is_some() {
            inner.unit.get_or_init(|| Arc::new(SharedUnit::default()));
        }
        Arc::make_mut(inner)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        let entries = self.entries();
        Self::position(entries, key).ok().map(|i| &*entries[i].1)
    }

    /// Where `key` is, or would go.
    fn position(entries: &[(Cow<'static, str>, Text)], key: &str) -> Result<usize, usize> {
        entries.binary_search_by(|(k, _)| (**k).cmp(key))
    }

    /// Sets `key`, replacing an earlier value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.insert_cow(Cow::Owned(key.into()), Text::Cow(Cow::Owned(value.into())));
    }

    /// [`Context::insert`] for a literal key and a value that may be one too: no allocation
    /// for what is `'static`. For per-request code.
    pub fn insert_static(&mut self, key: &'static str, value: impl Into<Cow<'static, str>>) {
        self.insert_cow(Cow::Borrowed(key), Text::Cow(value.into()));
    }

    /// [`Context::insert_static`] for a value shared with something else that holds it (a
    /// request's route): no copy.
    pub fn insert_shared(&mut self, key: &'static str, value: Arc<str>) {
        self.insert_cow(Cow::Borrowed(key), Text::Shared(value));
    }

    fn insert_cow(&mut self, key: Cow<'static, str>, value: Text) {
        let unit = key == REQUEST_ID || key == JOB_ID;
        let inner = self.inner_mut();
        inner.put(key, value);
        if unit {
            let activity = Self::activity_of(&inner.entries);
            inner.set_activity(activity);
        }
    }

    /// The request under [`REQUEST_ID`], else the job under [`JOB_ID`], if valid.
    fn activity_of(entries: &[(Cow<'static, str>, Text)]) -> Option<ArtifactId> {
        Self::id_under(entries, REQUEST_ID, crate::Kind::Req)
            .or_else(|| Self::id_under(entries, JOB_ID, crate::Kind::Job))
    }

    /// Adds every pair; a key given again takes the new value, other keys are kept.
    pub fn merge<K, V>(&mut self, entries: impl IntoIterator<Item = (K, V)>)
    where
        K: Into<String>,
        V: Into<String>,
    {
        for (k, v) in entries {
            self.insert(k, v);
        }
    }

    /// The pairs, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries().iter().map(|(k, v)| (&**k, &**v))
    }

    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// The `req:` ID under [`REQUEST_ID`], if it is set and valid.
    pub fn request_id(&self) -> Option<ArtifactId> {
        Self::id_under(self.entries(), REQUEST_ID, crate::Kind::Req)
    }

    /// The `job:` ID under [`JOB_ID`], if it is set and valid.
    pub fn job_id(&self) -> Option<ArtifactId> {
        Self::id_under(self.entries(), JOB_ID, crate::Kind::Job)
    }

    /// The ID of `kind` under `key`, if it is set and valid.
    fn id_under(
        entries: &[(Cow<'static, str>, Text)],
        key: &str,
        kind: crate::Kind,
    ) -> Option<ArtifactId> {
        let i = Self::position(entries, key).ok()?;
        ArtifactId::parse(&entries[i].1)
            .ok()
            .filter(|id| id.kind() == kind)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = Self::position(self.entries(), key).ok()?;
        let inner = self.inner_mut();
        let removed = inner.entries.remove(i).1.into_owned();
        if key == REQUEST_ID || key == JOB_ID {
            let activity = Self::activity_of(&inner.entries);
            inner.set_activity(activity);
        }
        Some(removed)
    }

    /// The unit of work this context belongs to: its request, else its job. Parsed when
    /// either is set, so asking on every span or query is cheap.
    pub fn activity(&self) -> Option<ArtifactId> {
        self.inner.as_deref()?.activity.clone()
    }

    /// Sets [`REQUEST_ID`] to an ID the caller already holds, sparing [`Context::activity`]
    /// the parse.
    pub fn set_request_id(&mut self, id: &ArtifactId) {
        let inner = self.inner_mut();
        inner.put(Cow::Borrowed(REQUEST_ID), Text::Shared(id.shared()));
        inner.set_activity(Some(id.clone()));
    }

    /// The context the tower layer installs for a request: [`REQUEST_ID`], `method` and
    /// `route`, built in one step (this runs once per request).
    ///
    /// ```
    /// let id = provenance::request_id("r1")?;
    /// let ctx = provenance::Context::for_request(&id, "GET", "/orders/{id}".into());
    /// assert_eq!(ctx.get("request_id"), Some("req:r1"));
    /// assert_eq!(ctx.get("route"), Some("/orders/{id}"));
    /// assert_eq!(ctx.activity(), Some(id));
    /// # Ok::<(), provenance::IdError>(())
    /// ```
    pub fn for_request(
        id: &ArtifactId,
        method: impl Into<Cow<'static, str>>,
        route: Arc<str>,
    ) -> Context {
        let mut entries = SmallVec::new();
        // Sorted by key, as `position` expects.
        entries.push((Cow::Borrowed("method"), Text::Cow(method.into())));
        entries.push((Cow::Borrowed(REQUEST_ID), Text::Shared(id.shared())));
        entries.push((Cow::Borrowed("route"), Text::Shared(route)));
        Context {
            inner: Some(Arc::new(Inner {
                entries,
                activity: Some(id.clone()),
                unit: OnceLock::new(),
            })),
        }
    }

    /// State an instrumentation (such as one sqlx pool) keeps for the unit of work `unit`
    /// while it runs, made by `make` on first use. Every copy of this context shares it (a
    /// task spawned with [`in_current_context`] included), and it goes when the last copy
    /// does: nothing to look up in a shared table, and nothing to evict. A context built
    /// anew, even for the same request or job ID, starts without it.
    ///
    /// `None` when `unit` is not this context's request or job (a job span inside a request's
    /// context), or when the state is of another type (another instrumentation made it
    /// first): the caller then keeps its state itself. Two instrumentations of one type tell
    /// their states apart themselves (an owner inside `T`).
    #[doc(hidden)]
    pub fn unit_state<T: Any + Send + Sync>(
        &self,
        unit: &ArtifactId,
        make: impl FnOnce() -> T,
    ) -> Option<Arc<T>> {
        self.unit_state_or(unit, Some(make))
    }

    /// [`Context::unit_state`] if it was made: `None` instead of making it.
    #[doc(hidden)]
    pub fn unit_state_made<T: Any + Send + Sync>(&self, unit: &ArtifactId) -> Option<Arc<T>> {
        self.unit_state_or(unit, None::<fn() -> T>)
    }

    fn unit_state_or<T: Any + Send + Sync>(
        &self,
        unit: &ArtifactId,
        mut make: Option<impl FnOnce() -> T>,
    ) -> Option<Arc<T>> {
        let inner = self.inner.as_deref()?;
        if inner.activity.as_ref() != Some(unit) {
            return None;
        }
        let mut state = unit_slot(&inner.unit, &mut make)?;
        if let Some(shared) = state.downcast_ref::<SharedUnit>() {
            state = unit_slot(&shared.0, &mut make)?;
        }
        Arc::downcast(state.clone()).ok()
    }

    /// The map of keys to values.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Context {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut ctx = Context::new();
        ctx.merge(iter);
        ctx
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Context {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.merge(iter);
    }
}

tokio::task_local! {
    static CURRENT: RefCell<Context>;
}

thread_local! {
    static FALLBACK: RefCell<Context> = const { RefCell::new(Context::new()) };
}

/// Runs `f` on the current context: the innermost [`scope`]'s, else this thread's.
///
/// This is the cheap way to read it (no copy). `f` must not call [`put_context`]; if it does,
/// that call changes nothing.
pub fn with_context<R>(f: impl FnOnce(&Context) -> R) -> R {
    let mut f = Some(f);
    if let Ok(r) = CURRENT.try_with(|cell| match cell.try_borrow() {
        Ok(ctx) => (f.take().expect("called once"))(&ctx),
        Err(_) => (f.take().expect("called once"))(&Context::new()),
    }) {
        return r;
    }
    if let Ok(r) = FALLBACK.try_with(|cell| match cell.try_borrow() {
        Ok(ctx) => (f.take().expect("called once"))(&ctx),
        Err(_) => (f.take().expect("called once"))(&Context::new()),
    }) {
        return r;
    }
    // This thread's context is already destroyed (thread exit).
    (f.take().expect("not called yet"))(&Context::new())
}

/// [`Context::unit_state`] of the current context.
#[doc(hidden)]
pub fn unit_state<T: Any + Send + Sync>(
    unit: &ArtifactId,
    make: impl FnOnce() -> T,
) -> Option<Arc<T>> {
    with_context(|ctx| ctx.unit_state(unit, make))
}

/// [`Context::unit_state_made`] of the current context.
#[doc(hidden)]
pub fn unit_state_made<T: Any + Send + Sync>(unit: &ArtifactId) -> Option<Arc<T>> {
    with_context(|ctx| ctx.unit_state_made(unit))
}

/// A copy of the current context.
pub fn get_context() -> Context {
    with_context(Context::clone)
}

/// Merges pairs into the current context: new keys are added, a key given again takes the new
/// value, the others are kept. Inside a [`scope`] it changes that scope's context only.
pub fn put_context<K, V>(entries: impl IntoIterator<Item = (K, V)>)
where
    K: Into<String>,
    V: Into<String>,
{
    let mut entries = Some(entries);
    let in_scope = CURRENT.try_with(|cell| {
        if let (Ok(mut ctx), Some(entries)) = (cell.try_borrow_mut(), entries.take()) {
            ctx.merge(entries);
        }
    });
    if in_scope.is_err() {
        let _ = FALLBACK.try_with(|cell| {
            if let (Ok(mut ctx), Some(entries)) = (cell.try_borrow_mut(), entries.take()) {
                ctx.merge(entries);
            }
        });
    }
}

/// Clears the current context: the innermost scope's, else this thread's.
pub fn clear_context() {
    let in_scope = CURRENT.try_with(|cell| {
        if let Ok(mut ctx) = cell.try_borrow_mut() {
            *ctx = Context::new();
        }
    });
    if in_scope.is_err() {
        let _ = FALLBACK.try_with(|cell| {
            if let Ok(mut ctx) = cell.try_borrow_mut() {
                *ctx = Context::new();
            }
        });
    }
}

/// Runs `future` with `ctx` as its context. Nested scopes replace the outer context for their
/// future; start from [`get_context`] to extend it instead.
pub fn scope<F: Future>(ctx: Context, future: F) -> Scoped<F> {
    Scoped {
        inner: CURRENT.scope(RefCell::new(ctx), future),
    }
}

/// Runs the synchronous `f` with `ctx` as its context.
pub fn sync_scope<R>(ctx: Context, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(RefCell::new(ctx), f)
}

/// Wraps `future` in a copy of the current context, for `tokio::spawn` and other executors
/// that do not carry task-locals into new tasks.
pub fn in_current_context<F: Future>(future: F) -> Scoped<F> {
    scope(get_context(), future)
}

pin_project_lite::pin_project! {
    /// A future running inside a provenance context; see [`scope`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F: Future> {
        #[pin]
        inner: tokio::task::futures::TaskLocalFuture<RefCell<Context>, F>,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

impl<F: Future> std::fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scoped").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_fallback_merges() {
        clear_context();
        put_context([("request_id", "req:a"), ("user_id", "usr:1")]);
        put_context([("trace_id", "trc:x"), ("user_id", "usr:2")]);
        let ctx = get_context();
        assert_eq!(
            ctx.iter().collect::<Vec<_>>(),
            [
                ("request_id", "req:a"),
                ("trace_id", "trc:x"),
                ("user_id", "usr:2")
            ]
        );
        assert_eq!(ctx.request_id().unwrap(), "req:a");
        clear_context();
        assert!(get_context().is_empty());
    }

    #[test]
    fn ids_of_the_wrong_kind_are_not_a_request_or_a_job() {
        let ctx = Context::from_iter([("request_id", "job:q:1"), ("job_id", "rec:t:1")]);
        assert_eq!(
            (ctx.request_id(), ctx.job_id(), ctx.activity()),
            (None, None, None)
        );
        let mut ctx = Context::from_iter([("request_id", "req:a")]);
        assert_eq!(ctx.activity().unwrap().as_str(), "req:a");
        assert_eq!(ctx.remove("request_id").as_deref(), Some("req:a"));
        assert_eq!(
            ctx.activity(),
            None,
            "the cached activity goes with the key"
        );
    }

    #[test]
    fn sync_scope_is_isolated_from_the_thread() {
        clear_context();
        put_context([("outer", "1")]);
        let inner = sync_scope(Context::from_iter([("inner", "2")]), || {
            put_context([("more", "3")]);
            get_context()
        });
        assert_eq!(inner.len(), 2);
        assert_eq!(get_context().iter().collect::<Vec<_>>(), [("outer", "1")]);
        clear_context();
    }

    /// A counter kept as a unit's state in the tests below.
    #[derive(Default)]
    struct Seen(std::sync::atomic::AtomicU32);

    impl Seen {
        fn bump(&self) -> u32 {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
        }
    }

    #[test]
    fn a_unit_s_state_is_shared_by_every_copy_and_not_by_another_unit() {
        let req = |id: &str| ArtifactId::parse(id).unwrap();
        let ctx = Context::from_iter([("request_id", "req:a")]);
        assert!(ctx.unit_state_made::<Seen>(&req("req:a")).is_none());
        assert_eq!(
            ctx.unit_state(&req("req:a"), Seen::default).unwrap().bump(),
            1
        );
        // A copy, and a copy that then adds a key, share it; asking does not make another.
        let copy = ctx.clone();
        let mut changed = ctx.clone();
        changed.insert("user_id", "usr:1");
        for c in [&ctx, &copy, &changed] {
            assert!(c.unit_state_made::<Seen>(&req("req:a")).is_some());
        }
        assert_eq!(
            copy.unit_state(&req("req:a"), Seen::default)
                .unwrap()
                .bump(),
            2
        );
        assert_eq!(
            changed
                .unit_state(&req("req:a"), Seen::default)
                .unwrap()
                .bump(),
            3
        );
        // Another unit's, or of another type: none.
        assert!(ctx.unit_state(&req("req:b"), Seen::default).is_none());
        assert!(ctx.unit_state(&req("req:a"), || 0_u8).is_none());
        assert!(
            Context::new()
                .unit_state(&req("req:a"), Seen::default)
                .is_none()
        );
        // The same request set again keeps it; another starts afresh.
        let mut again = ctx.clone();
        again.insert("request_id", "req:a");
        assert_eq!(
            again
                .unit_state(&req("req:a"), Seen::default)
                .unwrap()
                .bump(),
            4
        );
        let mut other = ctx.clone();
        other.insert("request_id", "req:b");
        assert!(other.unit_state_made::<Seen>(&req("req:b")).is_none());
        assert_eq!(
            other
                .unit_state(&req("req:b"), Seen::default)
                .unwrap()
                .bump(),
            1
        );
        assert_eq!(
            ctx.unit_state(&req("req:a"), Seen::default).unwrap().bump(),
            5
        );
    }

    #[test]
    fn a_copy_made_before_the_unit_s_state_still_shares_it() {
        let req = ArtifactId::parse("req:a").unwrap();
        let ctx = Context::from_iter([("request_id", "req:a")]);
        // A spawned task's copy, which then adds a key: copied before either made the state.
        let mut task = ctx.clone();
        task.insert("user_id", "usr:1");
        assert_eq!(task.unit_state(&req, Seen::default).unwrap().bump(), 1);
        assert_eq!(ctx.unit_state(&req, Seen::default).unwrap().bump(), 2);
        // Copies made from the copy share it too.
        let mut later = task.clone();
        later.insert("trace_id", "trc:x");
        assert_eq!(later.unit_state(&req, Seen::default).unwrap().bump(), 3);
    }

    #[test]
    fn the_current_context_s_unit_state_is_its_scope_s() {
        let req = ArtifactId::parse("req:a").unwrap();
        let seen = sync_scope(Context::from_iter([("request_id", "req:a")]), || {
            unit_state(&req, Seen::default).unwrap().bump();
            unit_state_made::<Seen>(&req).map(|s| s.bump())
        });
        assert_eq!(seen, Some(2));
        let outside = sync_scope(Context::from_iter([("request_id", "req:a")]), || {
            unit_state_made::<Seen>(&req).is_none()
        });
        assert!(
            outside,
            "a context built anew for the same request starts without it"
        );
    }
}
