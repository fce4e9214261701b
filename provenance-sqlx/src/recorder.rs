//! Turning one executed query into lineage: the analysis cache, the primary-key cache, and the
//! observation that follows a query from its call to its last row.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use parking_lot::Mutex;
use provenance::{ArtifactId, Relation, Store, TablesLater};
use smallvec::SmallVec;
use sqlx::Either;
use sqlx::{Column, Row};

use crate::analyze::{Analysis, Effect, TableName, analyze, cache_key};
use crate::driver::{Driver, KeyPart};

/// Analyses kept per pool. SQL text is bounded by what the application's code contains, plus
/// dynamically built statements; `cache_key` folds IN-lists and VALUES lists, and past this
/// many entries one is replaced, so a stream of distinct SQL can never grow memory.
const ANALYSIS_CACHE: usize = 2048;
const CACHE_SHARDS: usize = 16;
/// The SQL text the cache keeps, in bytes (per pool; split across the shards). A statement
/// can be large (a generated IN-list of thousands of items), so entries are bounded in bytes
/// as well as in number.
const CACHE_BYTES: usize = 4 << 20;
/// Raw SQL text longer than this is not kept beside its normalised form; it is normalised on
/// each call instead.
const RAW_ALIAS_MAX: usize = 1024;
/// Tables whose primary key is remembered.
const KEY_CACHE: usize = 4096;
/// Distinct actors remembered per cached statement as having their table-level edges
/// recorded already; past this, the edges are recorded again each time (still correct).
const LINKED_PER_STATEMENT: usize = 16;
/// At most this many records a unit of work read, the most recent, become the sources of one
/// record it produced (`derived_from` fan-in); how many older ones were left out is counted
/// on the produced record as `derived_from_truncated`.
pub(crate) const DERIVED_FAN_IN: usize = 16;
/// Records attributed per query by default (a `SELECT` of a million rows records the first
/// this many); see [`crate::Pool::records_per_query`].
pub(crate) const RECORDS_PER_QUERY: usize = 1000;
/// A query's records are queued to be linked to its actor, request and table this many at a
/// time (one [`Store::relate_records_later`] or [`Store::relate_many_later`] each), and the
/// rest when the query ends (with the request's table edges: [`Store::relate_records_later_with`]).
pub(crate) const ROW_BATCH: usize = 64;
/// Produced edges a transaction holds back until it commits.
pub(crate) const PENDING_PER_TRANSACTION: usize = 10_000;

/// One cached statement: its analysis and the IDs it will record, built once.
#[derive(Debug)]
// Aligned so that the reference counts the `Arc` keeps before it (changed by every query of
// the statement) are not on a line with what every query reads.
#[repr(align(128))]
pub(crate) struct Entry {
    pub(crate) analysis: Option<Analysis>,
    /// Shared with the store's queue (see [`Store::relate_later`]).
    reads: Arc<[ArtifactId]>,
    pub(crate) writes: Arc<[ArtifactId]>,
    /// `(tbl, col)` for every written column.
    pub(crate) columns: Vec<(ArtifactId, ArtifactId)>,
    /// Tables whose rows the result can carry keys of.
    row_tables: Vec<TableName>,
    /// The statement is DDL (`CREATE`, `ALTER`, `DROP`, `RENAME`, `TRUNCATE`).
    ddl: bool,
    /// The units of work that last recorded the statement's table edges.
    last: LastUnits,
    /// One more than the [`Recorder::keys_epoch`] in which every key of `row_tables` was
    /// known (0: not yet).
    keys_known: AtomicU64,
    /// Where the key columns are in this statement's rows, once every key is known, and the
    /// [`Recorder::keys_epoch`] it was worked out in (a key forgotten since makes it stale).
    /// The first one is read without a lock: every keyed query of the statement reads it.
    first_layout: OnceLock<(u64, Arc<[KeyColumns]>)>,
    /// A later one, when the first is stale (the epoch moved) or the rows changed shape.
    layout: Mutex<Option<(u64, Arc<[KeyColumns]>)>>,
    /// Hashes of the functions whose table-level edges for this statement are recorded (at
    /// most [`LINKED_PER_STATEMENT`]; see [`Entry::first_link`]).
    linked: Mutex<SmallVec<[u64; 4]>>,
    /// The one of `linked` that asked last (0: none).
    last_linked: AtomicU64,
}

impl Entry {
    pub(crate) fn new(sql: &str, analysis: Option<Analysis>) -> Entry {
        let first = sql
            .trim_start()
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or_default();
        let ddl = ["create", "alter", "drop", "rename", "truncate"]
            .iter()
            .any(|k| first.eq_ignore_ascii_case(k));
        let mut entry = Entry {
            ddl,
            last: LastUnits::default(),
            keys_known: AtomicU64::new(0),
            analysis: None,
            reads: Arc::new([]),
            writes: Arc::new([]),
            columns: Vec::new(),
            row_tables: Vec::new(),
            first_layout: OnceLock::new(),
            layout: Mutex::new(None),
            linked: Mutex::new(SmallVec::new()),
            last_linked: AtomicU64::new(0),
        };
        let Some(analysis) = analysis else {
            return entry;
        };
        entry.reads = analysis.reads().filter_map(table_artifact).collect();
        entry.writes = analysis.writes().filter_map(table_artifact).collect();
        entry.columns = analysis
            .written_columns()
            .filter_map(|c| {
                Some((
                    table_artifact(c.table())?,
                    provenance::column_id(c.table(), c.column()).ok()?,
                ))
            })
            .collect();
        if let Some(rows) = analysis.rows() {
            entry.row_tables = match rows.effect() {
                Effect::Read => analysis.reads().cloned().collect(),
                Effect::Produced => analysis.writes().cloned().collect(),
            };
        }
        entry.analysis = Some(analysis);
        entry
    }

    /// Whether `actor`'s table-level edges for this statement are recorded already; marks
    /// them so when it answers no and there is room.
    fn first_link(&self, actor: u64) -> bool {
        // The actor that ran the statement last is in the list (which never forgets one):
        // a function that runs one statement again and again finds itself without the lock
        // that every thread running the statement would take.
        if actor != 0 && self.last_linked.load(Ordering::Relaxed) == actor {
            return false;
        }
        let mut linked = self.linked.lock();
        let first = !linked.contains(&actor);
        let kept = first && linked.len() < LINKED_PER_STATEMENT;
        if kept {
            linked.push(actor);
        }
        if !first || kept {
            self.last_linked.store(actor, Ordering::Relaxed);
        }
        first
    }
}

/// The units of work that last recorded a statement's table edges, apart from the rest of its
/// [`Entry`]: a statement that many requests run is written here by nearly every query, and a
/// write to a line other threads read makes each of them miss it next (DEVELOPERS.md has the
/// two-thread recording bench before and after).
#[derive(Debug, Default)]
#[repr(align(128))]
struct LastUnits {
    /// A hash of the request or job that last recorded its table edges for this statement,
    /// as the activity around a function.
    activity: AtomicU64,
    /// The same, for a request or job that ran the statement itself (no function span).
    actor: AtomicU64,
}

fn table_artifact(t: &TableName) -> Option<ArtifactId> {
    provenance::table_id(t).ok()
}

/// One shard of the analysis cache, with the bytes of SQL text it holds.
#[derive(Debug, Default)]
struct AnalysisShard {
    /// By the hash that also picked the shard, so that the text is hashed once a lookup. The
    /// text is shared with the threads' [`RECENT_STATEMENTS`].
    map: HashTable<(Arc<str>, Arc<Entry>)>,
    bytes: usize,
}

impl AnalysisShard {
    fn get(&self, hash: u64, sql: &str) -> Option<&(Arc<str>, Arc<Entry>)> {
        self.map.find(hash, |(k, _)| **k == *sql)
    }
}

/// Slots of [`RECENT_STATEMENTS`], per thread (a power of two: see [`recent_slot`]).
const RECENT_STATEMENT_SLOTS: usize = 64;

/// A statement a thread ran lately: the text it was cached under, for the pool `recorder`.
struct RecentStatement {
    recorder: u64,
    text: Arc<str>,
    entry: Arc<Entry>,
}

thread_local! {
    /// In front of the shared cache, per thread: the statements it ran lately, in a slot
    /// picked by where their text is. A statement's text is most often the same `&'static
    /// str` every time, so it finds its slot without hashing the text or locking a shard;
    /// the text is still compared in full (another text can be at that address now).
    static RECENT_STATEMENTS: std::cell::RefCell<[Option<RecentStatement>; RECENT_STATEMENT_SLOTS]> =
        const { std::cell::RefCell::new([const { None }; RECENT_STATEMENT_SLOTS]) };
}

/// The slot of [`RECENT_STATEMENTS`] for `sql`, by its address and length.
fn recent_slot(sql: &str) -> usize {
    let at = (sql.as_ptr() as usize >> 3) ^ sql.len();
    at.wrapping_mul(0x9e37_79b9_7f4a_7c15_u64 as usize)
        >> (usize::BITS - RECENT_STATEMENT_SLOTS.trailing_zeros())
}

/// The records a unit of work read most recently, the sources of what it writes next.
///
/// A ring: every keyed row a query returns is noted here, so a row costs a scan of the
/// hashes kept (contiguous, no record compared unless a hash matches) and one slot written.
#[derive(Debug, Default)]
struct RecentReads {
    /// The last [`DERIVED_FAN_IN`] records; once full, `next` is the oldest. Inline for a
    /// unit of work that reads a record or two: its state is then one allocation. Past
    /// those, grown to full size at once.
    records: SmallVec<[Read; 2]>,
    /// Their hashes, in the same slots, apart: a unit reading many records checks each
    /// against all of these before comparing any record.
    hashes: [u64; DERIVED_FAN_IN],
    /// The slot the next record is written to, once `records` is full.
    next: usize,
    /// Records read before those, no longer kept.
    older: u64,
}

impl RecentReads {
    /// Remembers a record read, whose hash is `hash`. Row by row, as rows arrive: a write
    /// made while a read streams derives from what was read.
    fn note(&mut self, hash: u64, rec: ReadRef<'_>) {
        let kept = self.records.len();
        let hashes = &self.hashes[..kept];
        if hashes.contains(&hash)
            && (hashes.iter())
                .zip(&self.records)
                .any(|(h, r)| *h == hash && rec.is(r))
        {
            return;
        }
        if kept < DERIVED_FAN_IN {
            if kept == self.records.inline_size() {
                self.records.reserve_exact(DERIVED_FAN_IN - kept);
            }
            self.hashes[kept] = hash;
            self.records.push(rec.to_owned());
        } else {
            // Through a slice: the vector's own indexing checks where it is every time.
            let records = &mut self.records[..];
            self.hashes[self.next] = hash;
            records[self.next] = rec.to_owned();
            self.next = (self.next + 1) % DERIVED_FAN_IN;
            self.older += 1;
        }
    }

    /// Forgets everything, keeping the memory.
    fn clear(&mut self) {
        self.records.clear();
        self.next = 0;
        self.older = 0;
    }

    /// The records kept, oldest first, as IDs.
    fn ids(&self) -> Vec<ArtifactId> {
        let (newer, oldest) = self.records.split_at(self.next);
        oldest.iter().chain(newer).filter_map(Read::id).collect()
    }
}

/// One shard of the recent-reads table: units of work by their ID's hash, and entries of
/// units no longer kept, to be used again.
#[derive(Debug, Default)]
struct RecentShard {
    units: HashMap<u64, UnitReads>,
    spare: Vec<UnitReads>,
}

/// One unit of work's [`RecentReads`], shared by the queries that note them.
type UnitReads = Arc<UnitReadsOf>;

/// [`RecentReads`] noted by the pool `owner` (a [`Recorder::id`]): kept with a unit of work's
/// context, a unit's reads through one pool are not another's.
#[derive(Debug, Default)]
struct UnitReadsOf {
    owner: u64,
    reads: Mutex<RecentReads>,
}

impl UnitReadsOf {
    fn lock(&self) -> parking_lot::MutexGuard<'_, RecentReads> {
        self.reads.lock()
    }

    /// The records kept, oldest first, and how many read before those are not kept.
    fn read(&self) -> (Vec<ArtifactId>, u64) {
        let r = self.lock();
        (r.ids(), r.older)
    }
}

/// A record read, as it came: a single integer key stays a number (with its table's `tbl:`
/// ID) until the unit of work writes and its `rec:` ID is needed.
#[derive(Debug, Clone, PartialEq)]
enum Read {
    Id(ArtifactId),
    Key(ArtifactId, i64),
}

impl Read {
    fn id(&self) -> Option<ArtifactId> {
        match self {
            Read::Id(id) => Some(id.clone()),
            Read::Key(tbl, key) => provenance::record_id_in(tbl, [*key]).ok(),
        }
    }
}

/// A [`Read`] borrowed from the row being recorded, made owned only when it is kept.
#[derive(Clone, Copy)]
enum ReadRef<'a> {
    Id(&'a ArtifactId),
    Key(&'a ArtifactId, i64),
}

impl ReadRef<'_> {
    fn is(self, read: &Read) -> bool {
        match (self, read) {
            (ReadRef::Id(a), Read::Id(b)) => a == b,
            (ReadRef::Key(t, k), Read::Key(u, l)) => k == *l && t == u,
            _ => false,
        }
    }

    fn to_owned(self) -> Read {
        match self {
            ReadRef::Id(id) => Read::Id(id.clone()),
            ReadRef::Key(tbl, key) => Read::Key(tbl.clone(), key),
        }
    }
}

/// Units of work whose recent reads are kept (per pool); past this, the table is cleared (a
/// long-gone request's reads are no use).
const RECENT_UNITS: usize = 4096;

/// Per pool: the store and the caches.
#[derive(Debug)]
// Aligned, as [`Entry`] is: every query clones the `Arc` it is kept in.
#[repr(align(128))]
pub(crate) struct Recorder {
    /// Tells apart pools in the threads' [`RECENT_STATEMENTS`]: unlike an address, never
    /// used again by another pool, whose dialect may analyse the same text otherwise.
    id: u64,
    pub(crate) store: Store,
    dialect: crate::Dialect,
    hasher: DefaultHashBuilder,
    analyses: Box<[Mutex<AnalysisShard>]>,
    keys: Mutex<HashMap<TableName, Arc<[String]>>>,
    /// Counts the times keys were forgotten (or all dropped, the cache full), so that
    /// statements' cached layouts and known keys follow.
    keys_epoch: AtomicU64,
    /// Per request or job (by its ID's hash): what it read last, for a unit whose context
    /// does not keep it (see [`Observation::unit_reads`]). Kept here rather than read back
    /// from the graph, whose neighbour list of a long job grows with every record. A query
    /// holds its unit's entry while it runs, so that each row locks only that.
    recent: Box<[Mutex<RecentShard>]>,
    pub(crate) records_per_query: AtomicUsize,
}

impl Recorder {
    pub(crate) fn new(store: Store, dialect: crate::Dialect) -> Recorder {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Recorder {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            store,
            dialect,
            hasher: DefaultHashBuilder::default(),
            analyses: (0..CACHE_SHARDS)
                .map(|_| Mutex::new(AnalysisShard::default()))
                .collect(),
            keys: Mutex::new(HashMap::new()),
            keys_epoch: AtomicU64::new(0),
            recent: (0..CACHE_SHARDS)
                .map(|_| Mutex::new(RecentShard::default()))
                .collect(),
            records_per_query: AtomicUsize::new(RECORDS_PER_QUERY),
        }
    }

    /// The cached analysis of `sql`, analysing it on a miss.
    ///
    /// The SQL text as given is looked up first: hashing it is cheaper than normalising it,
    /// and the same text recurs. Only on a miss is it normalised ([`cache_key`]), so that
    /// IN-lists of every length share one analysis (and one parse), each text then pointing
    /// at it.
    pub(crate) fn entry(&self, sql: &str) -> Arc<Entry> {
        let slot = recent_slot(sql);
        let recent = RECENT_STATEMENTS.try_with(|recent| {
            let recent = recent.try_borrow().ok()?;
            let r = recent[slot].as_ref()?;
            (r.recorder == self.id && *r.text == *sql).then(|| r.entry.clone())
        });
        if let Ok(Some(entry)) = recent {
            return entry;
        }
        let (text, entry) = self.shared_entry(sql);
        // Only short texts: what a thread keeps alive past the shared cache's bounds stays
        // small (a slot's entry and its text, at most `RAW_ALIAS_MAX` bytes).
        if let Some(text) = text.filter(|t| t.len() <= RAW_ALIAS_MAX) {
            let _ = RECENT_STATEMENTS.try_with(|recent| {
                if let Ok(mut recent) = recent.try_borrow_mut() {
                    let entry = entry.clone();
                    // The entry it replaces is dropped after the borrow ends.
                    let _old = recent[slot].replace(RecentStatement {
                        recorder: self.id,
                        text,
                        entry,
                    });
                    drop(recent);
                }
            });
        }
        entry
    }

    /// [`Recorder::entry`] from the shared cache, with the text `sql` is cached under (none
    /// when it is too large to be).
    fn shared_entry(&self, sql: &str) -> (Option<Arc<str>>, Arc<Entry>) {
        if let Some((text, e)) = self.lookup(sql) {
            return (Some(text), e);
        }
        let key = cache_key(sql);
        let (text, entry) = match self.lookup(&key) {
            Some((text, e)) => (Some(text), e),
            None => {
                // Parse outside any lock: it costs microseconds.
                let e = Arc::new(Entry::new(&key, analyze(&key, self.dialect).ok()));
                self.insert(&key, e)
            }
        };
        if key == sql {
            (text, entry)
        } else if sql.len() <= RAW_ALIAS_MAX {
            let (alias, _) = self.insert(sql, entry.clone());
            (alias, entry)
        } else {
            (None, entry)
        }
    }

    /// The hash of `sql` and its shard.
    fn shard(&self, sql: &str) -> (u64, &Mutex<AnalysisShard>) {
        let hash = self.hasher.hash_one(sql);
        (hash, &self.analyses[(hash >> 32) as usize % CACHE_SHARDS])
    }

    fn lookup(&self, sql: &str) -> Option<(Arc<str>, Arc<Entry>)> {
        let (hash, shard) = self.shard(sql);
        shard.lock().get(hash, sql).cloned()
    }

    /// Inserts unless another thread did first; returns the text and entry that are cached
    /// (no text when `sql` is too large to keep).
    fn insert(&self, sql: &str, entry: Arc<Entry>) -> (Option<Arc<str>>, Arc<Entry>) {
        let budget = CACHE_BYTES / CACHE_SHARDS;
        if sql.len() > budget {
            // Too large to keep: analysed again next time.
            return (None, entry);
        }
        let (hash, shard) = self.shard(sql);
        let mut shard = shard.lock();
        if let Some((text, existing)) = shard.get(hash, sql) {
            return (Some(text.clone()), existing.clone());
        }
        let rehash = |(k, _): &(Arc<str>, Arc<Entry>)| self.hasher.hash_one(&**k);
        // Replace entries rather than flush them all.
        while !shard.map.is_empty()
            && (shard.map.len() >= ANALYSIS_CACHE / CACHE_SHARDS
                || shard.bytes + sql.len() > budget)
        {
            let Some(old) = shard.map.iter().next().map(rehash) else {
                break;
            };
            // Any entry the probe for that hash meets will do: one is replaced.
            if let Ok(slot) = shard.map.find_entry(old, |_| true) {
                let ((k, _), _) = slot.remove();
                shard.bytes -= k.len();
            }
        }
        shard.bytes += sql.len();
        let text: Arc<str> = sql.into();
        shard
            .map
            .insert_unique(hash, (text.clone(), entry.clone()), rehash);
        (Some(text), entry)
    }

    /// Tables of `entry`'s result rows whose primary key is not known yet. Once all are
    /// known, the entry remembers it until a key is forgotten (the epoch moves), so that a
    /// query does not look its tables up again.
    pub(crate) fn unknown_keys<'e>(&self, entry: &'e Entry) -> SmallVec<[&'e TableName; 2]> {
        let epoch = self.keys_epoch.load(Ordering::Relaxed);
        if entry.row_tables.is_empty() || entry.keys_known.load(Ordering::Relaxed) == epoch + 1 {
            return SmallVec::new();
        }
        let keys = self.keys.lock();
        let unknown: SmallVec<[&'e TableName; 2]> = entry
            .row_tables
            .iter()
            .filter(|t| !keys.contains_key(*t))
            .collect();
        if unknown.is_empty() {
            // Read before the lock: a key forgotten since has moved the epoch past it.
            entry.keys_known.store(epoch + 1, Ordering::Relaxed);
        }
        unknown
    }

    /// Finds the primary keys of `tables` on `conn` and remembers them. A failed catalog
    /// query is not remembered (it is asked again next time) and never reaches the host.
    pub(crate) async fn discover_keys<DB: Driver>(
        &self,
        conn: &mut DB::Connection,
        tables: &[&TableName],
    ) {
        for &table in tables {
            if let Ok(columns) = DB::primary_key(conn, table).await {
                let mut keys = self.keys.lock();
                if keys.len() >= KEY_CACHE {
                    keys.clear();
                    self.keys_epoch.fetch_add(1, Ordering::Relaxed);
                }
                keys.insert(table.clone(), columns.into());
            }
        }
    }

    /// The recent reads of the unit of work whose ID hashes to `unit`.
    fn recent(&self, unit: u64) -> parking_lot::MutexGuard<'_, RecentShard> {
        self.recent[(unit >> 32) as usize % CACHE_SHARDS].lock()
    }

    /// The recent reads of the unit of work `unit` (a request's or job's ID hash), to note
    /// what it reads. A query holds them while it runs, and they stay in the table while it
    /// does (unless more units than the table keeps are noting reads at once).
    fn reads_for(&self, unit: u64) -> UnitReads {
        const PER_SHARD: usize = RECENT_UNITS / CACHE_SHARDS;
        let mut guard = self.recent(unit);
        let RecentShard { units, spare } = &mut *guard;
        if let Some(reads) = units.get(&unit) {
            return reads.clone();
        }
        if units.len() >= PER_SHARD {
            // Units a query is noting reads for right now are kept: their next write is
            // what these are for. (Past the bound even with them, all go.) The others'
            // entries are kept aside for the next units, so that a stream of new requests
            // allocates none.
            let keep_held = units.values().filter(|r| Arc::strong_count(r) > 1).count() < PER_SHARD;
            for (_, reads) in units.extract_if(|_, r| !keep_held || Arc::strong_count(r) == 1) {
                if spare.len() < PER_SHARD && Arc::strong_count(&reads) == 1 {
                    spare.push(reads);
                }
            }
        }
        let reads = match spare.pop() {
            Some(reads) => {
                reads.lock().clear();
                reads
            }
            None => UnitReads::default(),
        };
        units.insert(unit, reads.clone());
        reads
    }

    /// What `unit` read most recently, and how many reads before those are not kept.
    fn reads_of(&self, unit: u64) -> (Vec<ArtifactId>, u64) {
        self.recent(unit)
            .units
            .get(&unit)
            .map(|r| r.read())
            .unwrap_or_default()
    }

    /// Forgets the primary keys of `tables`, and moves the epoch if one was known.
    fn forget_keys(&self, tables: &[TableName]) {
        self.forget_keys_if(tables, |_| true);
    }

    /// Forgets the primary keys of `tables` that were looked up and found empty (a table
    /// without one, or not there yet).
    fn forget_empty_keys(&self, tables: &[TableName]) {
        self.forget_keys_if(tables, |key| key.is_empty());
    }

    fn forget_keys_if(&self, tables: &[TableName], forget: impl Fn(&[String]) -> bool) {
        if tables.is_empty() {
            return;
        }
        let mut keys = self.keys.lock();
        let mut forgot = false;
        for t in tables {
            if keys.get(t).is_some_and(|key| forget(key)) {
                forgot |= keys.remove(t).is_some();
            }
        }
        if forgot {
            self.keys_epoch.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn key_of(&self, table: &TableName) -> Option<Arc<[String]>> {
        self.keys.lock().get(table).cloned()
    }
}

/// Who ran a query: the innermost `fn:` and the `req:`/`job:` around it, read when the query
/// is issued (in the caller's task and span).
#[derive(Clone, Debug, Default)]
pub(crate) struct Actor {
    /// The innermost function (borrowed: it lives as long as the program), else the activity.
    who: Option<Cow<'static, ArtifactId>>,
    /// The request or job, when it is not `who`.
    activity: Option<ArtifactId>,
}

impl Actor {
    /// The unit of work: the request or job.
    fn unit(&self) -> Option<&ArtifactId> {
        self.activity
            .as_ref()
            .or(self.who.as_deref())
            .filter(|a| a.kind().is_event())
    }

    /// The innermost function, else the activity.
    pub(crate) fn who(&self) -> Option<&ArtifactId> {
        self.who.as_deref()
    }

    pub(crate) fn current() -> Actor {
        match provenance::span::current_parts() {
            (Some(f), activity) => Actor {
                who: Some(Cow::Borrowed(f)),
                activity,
            },
            (None, activity) => Actor {
                who: activity.map(Cow::Owned),
                activity: None,
            },
        }
    }
}

/// A result table, and where its key columns are in each row.
#[derive(Debug)]
struct KeyColumns {
    /// Its `tbl:` ID.
    tbl: ArtifactId,
    /// The hash of `tbl`, from which a record's hash is made by its integer key.
    hash: u64,
    /// Every integer key of this table makes a record ID (the name is not too long for the
    /// longest), so integer keys can be queued as numbers.
    numeric: bool,
    /// The index of each key column in the row, and its name.
    columns: SmallVec<[(usize, Box<str>); 2]>,
}

impl KeyColumns {
    fn hash_of(&self, key: i64) -> u64 {
        self.hash ^ (key as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

/// The records of one result table not queued yet: single integer keys as numbers, other
/// keys as IDs.
#[derive(Debug, Default)]
struct Batch {
    /// Inline for a result of one or two rows: most queries queue their keys without an
    /// allocation.
    keys: SmallVec<[i64; 2]>,
    ids: Vec<ArtifactId>,
}

/// Edges held back inside a transaction until it commits.
pub(crate) type Pending = Arc<Mutex<PendingEdges>>;

/// See [`Pending`].
#[derive(Debug, Default)]
pub(crate) struct PendingEdges {
    /// A set: a transaction repeats the same table and column edges with every query.
    pub(crate) edges: hashbrown::HashSet<(ArtifactId, Relation, ArtifactId)>,
    pub(crate) dropped: u64,
    /// The transaction's last query failed in the database. On PostgreSQL that aborts the
    /// transaction: its `COMMIT` rolls back (and sqlx reports success). A later success means
    /// the host rolled back to a savepoint.
    pub(crate) failed: bool,
}

/// Follows one query from its call to its end, and records what it saw when it ends: on
/// success, when the stream is dropped early, or when the future is cancelled (the `Drop`).
pub(crate) struct Observation<DB: Driver> {
    recorder: Arc<Recorder>,
    entry: Arc<Entry>,
    actor: Actor,
    pending: Option<Pending>,
    /// Per result table: its `tbl:` ID, name, and the indexes of its key columns in the row.
    layout: Option<Arc<[KeyColumns]>>,
    records: usize,
    rows: u64,
    results: u64,
    produced: SmallVec<[ArtifactId; 4]>,
    /// Per result table (as in `layout`): records seen whose edges are not recorded yet.
    batches: SmallVec<[Batch; 1]>,
    /// The hash of the unit of work's ID, computed once per query when first needed.
    unit_hash: Option<u64>,
    /// The unit of work's recent reads, looked up once per query when first needed.
    recent: Option<UnitReads>,
    failed: bool,
    done: bool,
    _db: std::marker::PhantomData<fn() -> DB>,
}

impl<DB: Driver> Observation<DB> {
    pub(crate) fn new(
        recorder: Arc<Recorder>,
        entry: Arc<Entry>,
        actor: Actor,
        pending: Option<Pending>,
    ) -> Self {
        Observation {
            recorder,
            entry,
            actor,
            pending,
            layout: None,
            records: 0,
            rows: 0,
            results: 0,
            produced: SmallVec::new(),
            batches: SmallVec::new(),
            unit_hash: None,
            recent: None,
            failed: false,
            done: false,
            _db: std::marker::PhantomData,
        }
    }

    /// The hash of the request or job this query runs in, if any.
    fn unit_hash(&mut self) -> Option<u64> {
        if self.unit_hash.is_none() {
            let unit = self.actor.unit()?;
            self.unit_hash = Some(self.recorder.hasher.hash_one(unit.as_str()));
        }
        self.unit_hash
    }

    /// One item of `fetch_many`.
    pub(crate) fn see(&mut self, item: &Either<DB::QueryResult, DB::Row>) {
        match item {
            Either::Left(_) => self.results += 1,
            Either::Right(row) => self.row(row),
        }
    }

    /// One result row: records the key it carries, if any.
    pub(crate) fn row(&mut self, row: &DB::Row) {
        self.rows += 1;
        if self.actor.who.is_none() {
            return;
        }
        let Some(rows) = self.entry.analysis.as_ref().and_then(Analysis::rows) else {
            return;
        };
        if self.records >= self.recorder.records_per_query.load(Ordering::Relaxed) {
            return;
        }
        if self.layout.is_none() {
            // A cached layout is checked against this result's column names: `SELECT *`
            // changes shape when the table is altered.
            let epoch = self.recorder.keys_epoch.load(Ordering::Relaxed);
            let fresh =
                |(at, layout): &(u64, Arc<[KeyColumns]>)| *at == epoch && same_columns(layout, row);
            // The first layout without a lock, else a later one under it: the lock is released
            // before `layout_of` takes it again.
            let cached = (self.entry.first_layout.get().filter(|c| fresh(c)).cloned())
                .or_else(|| self.entry.layout.lock().clone().filter(&fresh));
            self.layout = Some(match cached {
                Some((_, layout)) => layout,
                None => self.layout_of(row, epoch),
            });
        }
        let relation = row_relation(rows.effect());
        let written = relation == Relation::Produced;
        // Out of `self` while the row is noted (put back below; nothing returns early): a
        // clone would move its reference count up and down every row.
        let Some(layout) = self.layout.take() else {
            return;
        };
        for (k, cols) in layout.iter().enumerate() {
            let parts: SmallVec<[KeyPart; 2]> = match &cols.columns[..] {
                [(i, _)] => {
                    let Some(part) = DB::key_part(row, *i) else {
                        continue;
                    };
                    // A record with a single integer key is queued as its number: its ID is
                    // built when the store links it, when this unit of work writes after
                    // reading it, or (written, among the first few) for the edges to what the
                    // unit read. Inside a transaction a written record's edges wait for the
                    // commit, as IDs.
                    if cols.numeric
                        && !(written && self.pending.is_some())
                        && let Some(key) = part.as_i64()
                    {
                        self.records += 1;
                        let batch = self.batch(k);
                        if batch.keys.len() == batch.keys.inline_size() {
                            // More than a row or two: room for a whole batch at once.
                            batch.keys.reserve_exact(ROW_BATCH - batch.keys.len());
                        }
                        batch.keys.push(key);
                        if batch.keys.len() >= ROW_BATCH {
                            self.flush_batches(&layout, None);
                        }
                        if !written {
                            self.note_read(cols.hash_of(key), ReadRef::Key(&cols.tbl, key));
                        } else if self.produced.len() < DERIVED_FAN_IN
                            && let Ok(rec) = provenance::record_id_in(&cols.tbl, [key])
                        {
                            self.produced.push(rec);
                        }
                        continue;
                    }
                    smallvec::smallvec![part]
                }
                columns => match columns.iter().map(|(i, _)| DB::key_part(row, *i)).collect() {
                    Some(parts) => parts,
                    None => continue,
                },
            };
            let Ok(rec) = provenance::record_id_in(&cols.tbl, parts) else {
                continue;
            };
            self.records += 1;
            if written && self.pending.is_some() {
                let activity = self.actor.activity.as_ref();
                let edges = [self.actor.who.as_deref(), activity, Some(&cols.tbl)]
                    .into_iter()
                    .zip([relation, relation, Relation::Contains])
                    .filter_map(|(from, r)| Some((from?, r, &rec)));
                for (from, r, to) in edges {
                    self.emit(from, r, to, true);
                }
            } else {
                // Recorded in batches: the function, the request and the table each link to
                // a batch's records in one store call.
                let batch = self.batch(k);
                batch.ids.push(rec.clone());
                if batch.ids.len() >= ROW_BATCH {
                    self.flush_batches(&layout, None);
                }
            }
            if relation == Relation::Produced && self.produced.len() < DERIVED_FAN_IN {
                self.produced.push(rec);
            } else if relation == Relation::Read {
                let hash = self.recorder.hasher.hash_one(rec.as_str());
                self.note_read(hash, ReadRef::Id(&rec));
            }
        }
        self.layout = Some(layout);
    }

    /// Notes a record read among the unit of work's recent reads (see [`RecentReads::note`]).
    fn note_read(&mut self, hash: u64, rec: ReadRef<'_>) {
        if self.recent.is_none() {
            self.recent = self.unit_reads();
        }
        if let Some(recent) = &self.recent {
            recent.lock().note(hash, rec);
        }
    }

    /// The unit of work's recent reads, to note what it reads: kept with its context (see
    /// [`provenance::Context::unit_state`]), else in the recorder's table (a job span inside a
    /// request's context, or another pool's reads kept with the context already).
    ///
    /// With its context, a new request's first keyed read makes one small allocation, freed
    /// with the request, instead of taking an entry of the table: at one query a request, the
    /// table's entries and the scan that evicts them were cache misses on every query.
    fn unit_reads(&mut self) -> Option<UnitReads> {
        let unit = self.actor.unit()?;
        let owner = self.recorder.id;
        let make = || UnitReadsOf {
            owner,
            reads: Mutex::default(),
        };
        if let Some(reads) = provenance::context::unit_state(unit, make)
            && reads.owner == owner
        {
            return Some(reads);
        }
        let hash = self.unit_hash()?;
        Some(self.recorder.reads_for(hash))
    }

    /// What the unit of work read most recently, and how many reads before those are not
    /// kept: from where [`Observation::unit_reads`] puts them.
    fn unit_read(&mut self) -> Option<(Vec<ArtifactId>, u64)> {
        if let Some(reads) = &self.recent {
            return Some(reads.read());
        }
        let unit = self.actor.unit()?;
        if let Some(reads) = provenance::context::unit_state_made::<UnitReadsOf>(unit)
            && reads.owner == self.recorder.id
        {
            return Some(reads.read());
        }
        let hash = self.unit_hash()?;
        Some(self.recorder.reads_of(hash))
    }

    /// The records of result table `k` not queued yet.
    fn batch(&mut self, k: usize) -> &mut Batch {
        if self.batches.len() <= k {
            self.batches.resize_with(k + 1, Batch::default);
        }
        &mut self.batches[k]
    }

    /// Records the edges of the batched records: actor, activity and table to each; and
    /// queues `tables` with them (or alone).
    fn flush_rows(&mut self, tables: Option<TablesLater>) {
        match self.layout.take() {
            Some(layout) => {
                self.flush_batches(&layout, tables);
                self.layout = Some(layout);
            }
            None => self.queue_tables(tables),
        }
    }

    /// [`Store::relate_later`] of `tables`, if any.
    fn queue_tables(&self, tables: Option<TablesLater>) {
        if let Some(t) = tables {
            self.recorder.store.relate_later(t.from, t.relation, t.tos);
        }
    }

    /// [`Observation::flush_rows`], with the result's `layout` taken out of `self`.
    fn flush_batches(&mut self, layout: &[KeyColumns], mut tables: Option<TablesLater>) {
        let rows = self.entry.analysis.as_ref().and_then(Analysis::rows);
        let (Some(rows), Some(who)) = (rows, self.actor.who.as_deref()) else {
            return self.queue_tables(tables);
        };
        if self
            .batches
            .iter()
            .all(|b| b.keys.is_empty() && b.ids.is_empty())
        {
            return self.queue_tables(tables);
        }
        let relation = row_relation(rows.effect());
        for (batch, cols) in self.batches.iter_mut().zip(layout.iter()) {
            let mut froms: SmallVec<[(&ArtifactId, Relation); 3]> = SmallVec::new();
            froms.push((who, relation));
            if let Some(activity) = &self.actor.activity {
                froms.push((activity, relation));
            }
            froms.push((&cols.tbl, Relation::Contains));
            // Queued, not linked: the store links them when it is next read.
            if !batch.keys.is_empty() {
                // Cannot fail: the table makes a record ID with any key (`numeric`). Copied
                // out, so that a long result's next batch reuses this one's room.
                let _ = (self.recorder.store).relate_records_later_with(
                    &froms,
                    &cols.tbl,
                    &batch.keys,
                    tables.take(),
                );
                batch.keys.clear();
            }
            if !batch.ids.is_empty() {
                let ids = take_batch(&mut batch.ids);
                self.recorder.store.relate_many_later(&froms, ids);
            }
        }
        self.queue_tables(tables);
    }

    /// Which columns of the rows hold the key of which table, from the first row's columns.
    /// Cached on the statement once every table's key is known (a statement's columns do not
    /// change), so later queries skip this.
    fn layout_of(&self, row: &DB::Row, epoch: u64) -> Arc<[KeyColumns]> {
        let Some(rows) = self.entry.analysis.as_ref().and_then(Analysis::rows) else {
            return Arc::new([]);
        };
        let mut out = Vec::new();
        let mut all_known = true;
        for table in &self.entry.row_tables {
            let key = self.recorder.key_of(table);
            all_known &= key.is_some();
            let fallback = [String::from("id")];
            let key: &[String] = match key.as_deref() {
                Some(k) if !k.is_empty() => k,
                _ => &fallback,
            };
            let mut indexes = SmallVec::new();
            for part in key {
                let found = row.columns().iter().position(|c| {
                    rows.source_of(c.name())
                        .is_some_and(|s| s.table() == table && s.column() == part)
                });
                match found {
                    Some(i) => indexes.push((i, row.columns()[i].name().into())),
                    None => break,
                }
            }
            if indexes.len() == key.len()
                && let Some(tbl) = table_artifact(table)
            {
                out.push(KeyColumns {
                    hash: self.recorder.hasher.hash_one(tbl.as_str()),
                    numeric: provenance::record_id_in(&tbl, [i64::MIN]).is_ok(),
                    tbl,
                    columns: indexes,
                });
            }
        }
        let layout: Arc<[KeyColumns]> = out.into();
        if all_known && let Err(later) = self.entry.first_layout.set((epoch, layout.clone())) {
            *self.entry.layout.lock() = Some(later);
        }
        layout
    }

    /// Finds the primary keys of the tables this query's rows come from, on the query's own
    /// connection (so a pool of one connection cannot deadlock, and a table created earlier in
    /// the same transaction is visible), once per table.
    /// `tables` are [`Observation::unknown_keys`].
    pub(crate) async fn discover_keys(&self, conn: &mut DB::Connection, tables: &[&TableName]) {
        self.recorder.discover_keys::<DB>(conn, tables).await;
    }

    /// The tables whose keys [`Observation::discover_keys`] must look up. Asked first, so
    /// that a query whose keys are known (nearly all) does not make that future.
    pub(crate) fn unknown_keys(&self) -> SmallVec<[&TableName; 2]> {
        if self.actor.who.is_none() || self.pending.is_some() && !DB::DISCOVER_IN_TRANSACTION {
            return SmallVec::new();
        }
        self.recorder.unknown_keys(&self.entry)
    }

    /// The end of a `fetch_optional`: its row, or its error, then [`Observation::finish`].
    /// By reference, as [`Observation::finish`]: moving the observation out of the future's
    /// state would copy it.
    pub(crate) fn end_optional(&mut self, result: &Result<Option<DB::Row>, sqlx::Error>) {
        match result {
            Ok(Some(row)) => self.row(row),
            Ok(None) => {}
            Err(e) => self.fail(e),
        }
        self.finish();
    }

    /// The query failed. The empty primary keys looked up for it are forgotten: the error may
    /// be that its table does not exist (yet), and an empty key must not stick. A key that was
    /// found is kept: a failure such as a unique violation says nothing about it, and
    /// forgetting it would make every statement work its key columns out again.
    pub(crate) fn fail(&mut self, error: &sqlx::Error) {
        self.failed = true;
        if let (Some(pending), sqlx::Error::Database(_)) = (&self.pending, error) {
            pending.lock().failed = true;
        }
        self.recorder.forget_empty_keys(&self.entry.row_tables);
    }

    /// Records what the query saw, once: the `Drop` that follows records nothing.
    pub(crate) fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        if !self.failed {
            if let Some(pending) = &self.pending {
                pending.lock().failed = false;
            }
            // DDL can change a table's primary key.
            if self.entry.ddl {
                let written: Vec<TableName> = self
                    .entry
                    .analysis
                    .iter()
                    .flat_map(|a| a.writes().cloned())
                    .collect();
                self.recorder.forget_keys(&written);
            }
        }
        self.record();
    }

    /// Records one edge, or, inside a transaction and when it says something was written
    /// (`deferred`), holds it back until the commit.
    fn emit(&self, from: &ArtifactId, relation: Relation, to: &ArtifactId, deferred: bool) {
        if let (true, Some(pending)) = (deferred, &self.pending) {
            let mut p = pending.lock();
            let edge = (from.clone(), relation, to.clone());
            if p.edges.len() < PENDING_PER_TRANSACTION || p.edges.contains(&edge) {
                p.edges.insert(edge);
            } else {
                p.dropped += 1;
            }
            return;
        }
        // Recording must never fail the host: a store error loses this edge only.
        let _ = self.recorder.store.relate(from, relation, to);
    }

    /// [`Observation::emit`] from `from` to each of `tos` (a statement's tables). A request's
    /// or job's are queued, as its records are: the store links them when it is next read,
    /// which keeps making the new request's node out of the query.
    ///
    /// `from` by value when the caller is done with it: queued, it is moved instead of cloned
    /// (an atomic reference count up, and one down when the observation drops).
    fn emit_all(
        &self,
        from: Cow<'_, ArtifactId>,
        relation: Relation,
        tos: &Arc<[ArtifactId]>,
        deferred: bool,
    ) {
        if tos.is_empty() {
            return;
        }
        if from.kind().is_event() && !(deferred && self.pending.is_some()) {
            self.recorder
                .store
                .relate_later(from.into_owned(), relation, tos.clone());
            return;
        }
        for t in tos.iter() {
            self.emit(&from, relation, t, deferred);
        }
    }

    /// Table-level edges, `derived_from`, counters, and the records not queued yet, once,
    /// when the query ends.
    fn record(&mut self) {
        if self.failed {
            self.flush_rows(None);
            if let Some(who) = self.actor.who.as_deref() {
                let _ = self.recorder.store.count(who, "query_errors", 1);
            }
            return;
        }
        let store = &self.recorder.store;
        let Some(who) = self.actor.who.as_deref() else {
            return;
        };
        // (Without an analysis, no row was kept: nothing to flush.)
        if self.entry.analysis.is_none() {
            store.count_unanalysed_query();
            let _ = store.count(who, "unanalysed_queries", 1);
            return;
        }
        // Worked out before the actor and the entry are borrowed for the edges below, which
        // are not cloned for them: a clone is an atomic reference count up and one down.
        let unit = match self.pending {
            None => self.unit_hash(),
            // Inside a transaction the edges may be rolled back: never skipped.
            Some(_) => None,
        };
        let (Some(who), entry) = (self.actor.who.as_deref(), &*self.entry) else {
            return;
        };
        // A statement run again by the same request or job (a loop over rows, N+1 queries)
        // has recorded its edges for it already: the last unit of work is remembered per
        // statement, apart for a unit that ran it itself (its own edges, columns included)
        // and one around a function (its table edges only).
        let itself = who.kind().is_event();
        let last = match itself {
            true => &entry.last.actor,
            false => &entry.last.activity,
        };
        // A load, and a plain store when it changes: a swap is a locked read-modify-write
        // on a line every thread running the statement shares. (Two units racing may each
        // find the other's: both record, which only repeats edges.)
        let repeat = unit.is_some_and(|h| {
            let same = last.load(Ordering::Relaxed) == h;
            if !same {
                last.store(h, Ordering::Relaxed);
            }
            same
        });
        // Table-level edges of a structural actor (a `fn:`) are the same every time: record
        // them once per statement and function. A request's or job's, once per statement
        // run in a row by it.
        let once = if itself {
            !repeat
        } else {
            self.pending.is_some() || entry.first_link(self.recorder.hasher.hash_one(who.as_str()))
        };
        if once {
            self.emit_all(Cow::Borrowed(who), Relation::Read, &entry.reads, false);
            self.emit_all(Cow::Borrowed(who), Relation::Produced, &entry.writes, true);
            for (t, c) in &entry.columns {
                self.emit(t, Relation::Contains, c, true);
                self.emit(who, Relation::Produced, c, true);
            }
        }
        self.derive();
        // The request or job around a function touched the tables too: "what did this
        // request touch" must answer even when a query returned no rows (a 404). Its own
        // edges, since a function's are shared by every request that ran it. Last (after
        // `derive`, which finds the unit of work by it), and with the query's last records:
        // one lock and one lookup of the request for both. Without records its ID goes to the
        // queue instead of a clone of it (the records' batch needs it too).
        let records = self
            .batches
            .iter()
            .any(|b| !b.keys.is_empty() || !b.ids.is_empty());
        let activity = match (repeat, records) {
            (true, _) => None,
            (false, true) => self.actor.activity.clone(),
            (false, false) => self.actor.activity.take(),
        };
        let tables = activity.and_then(|activity| self.activity_tables(activity));
        match records {
            true => self.flush_rows(tables),
            false => self.queue_tables(tables),
        }
    }

    /// The edges of the activity around a function to the statement's tables: those that
    /// can be queued with the query's last records are returned, the others recorded.
    fn activity_tables(&self, activity: ArtifactId) -> Option<TablesLater> {
        let entry = &*self.entry;
        let (reads, writes) = (&entry.reads, &entry.writes);
        // A request's or job's edges are queued (see `emit_all`), those to written tables
        // only outside a transaction: inside one they wait for its commit.
        let queued = activity.kind().is_event();
        if queued && !reads.is_empty() {
            self.emit_all(Cow::Borrowed(&activity), Relation::Produced, writes, true);
            return Some(TablesLater {
                from: activity,
                relation: Relation::Read,
                tos: reads.clone(),
            });
        }
        if queued && !writes.is_empty() && self.pending.is_none() {
            return Some(TablesLater {
                from: activity,
                relation: Relation::Produced,
                tos: writes.clone(),
            });
        }
        self.emit_all(Cow::Borrowed(&activity), Relation::Read, reads, false);
        self.emit_all(Cow::Owned(activity), Relation::Produced, writes, true);
        None
    }

    /// A record produced by a unit of work that read records before is derived from them.
    fn derive(&mut self) {
        if self.produced.is_empty() {
            return;
        }
        let Some((read, older)) = self.unit_read() else {
            return;
        };
        let produced = std::mem::take(&mut self.produced);
        for rec in &produced {
            for source in read.iter().filter(|r| *r != rec) {
                self.emit(rec, Relation::DerivedFrom, source, true);
            }
            if older > 0 {
                let _ = self
                    .recorder
                    .store
                    .count(rec, "derived_from_truncated", older);
            }
        }
    }
}

impl<DB: Driver> Drop for Observation<DB> {
    fn drop(&mut self) {
        // A stream dropped early or a cancelled future: what was seen still happened. A query
        // dropped before anything came back may not have run at all: nothing is recorded.
        if !self.done && (self.rows > 0 || self.results > 0) {
            self.done = true;
            self.record();
        }
    }
}

/// Takes a batch of records out to be queued. A full batch means more rows may follow: the
/// next one starts at full size.
fn take_batch<T>(batch: &mut Vec<T>) -> Vec<T> {
    if batch.len() >= ROW_BATCH {
        std::mem::replace(batch, Vec::with_capacity(ROW_BATCH))
    } else {
        std::mem::take(batch)
    }
}

/// The relation from a query's actor to the records in its rows.
fn row_relation(effect: Effect) -> Relation {
    match effect {
        Effect::Read => Relation::Read,
        Effect::Produced => Relation::Produced,
    }
}

/// Whether `row` has the key columns of `layout` where it says.
fn same_columns<R: Row>(layout: &[KeyColumns], row: &R) -> bool {
    let columns = row.columns();
    layout.iter().all(|table| {
        table
            .columns
            .iter()
            .all(|(i, name)| columns.get(*i).is_some_and(|c| c.name() == &**name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_links_a_statement_s_tables_once_while_there_is_room() {
        let entry = Entry::new("SELECT 1", None);
        assert!(entry.first_link(7));
        assert!(!entry.first_link(7));
        assert!(entry.first_link(8));
        assert!(!entry.first_link(7));
        assert!(!entry.first_link(8));
        assert!(entry.first_link(0));
        assert!(!entry.first_link(0));
        for actor in 100..100 + LINKED_PER_STATEMENT as u64 - 3 {
            assert!(entry.first_link(actor));
        }
        // Past the room, an actor is not remembered: linked again each time (still right).
        assert!(entry.first_link(999));
        assert!(entry.first_link(999));
        assert!(!entry.first_link(7));
        assert!(entry.first_link(999));
    }

    /// Threads asking at once, actor 0 among them, the list filled past
    /// its room: an actor with room answers "first" exactly once; one past the room, every
    /// time; never "already" for an actor not in the list.
    #[test]
    fn first_link_answers_first_once_per_actor_under_concurrency() {
        use std::sync::atomic::AtomicUsize;
        for round in 0..200 {
            let entry = Entry::new("SELECT 1", None);
            // 0 and 15 others fill the room; 1000.. never fit.
            let actors: Vec<u64> = (0..LINKED_PER_STATEMENT as u64).chain(1000..1008).collect();
            let firsts: Vec<AtomicUsize> = actors.iter().map(|_| AtomicUsize::new(0)).collect();
            let asks = 200;
            std::thread::scope(|s| {
                for t in 0..4 {
                    let (entry, actors, firsts) = (&entry, &actors, &firsts);
                    s.spawn(move || {
                        for i in 0..asks {
                            let k = (i * 7 + t * 3 + round) % actors.len();
                            if entry.first_link(actors[k]) {
                                firsts[k].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            });
            let linked = entry.linked.lock().clone();
            assert_eq!(linked.len(), LINKED_PER_STATEMENT);
            for (k, a) in actors.iter().enumerate() {
                let n = firsts[k].load(Ordering::Relaxed);
                if linked.contains(a) {
                    assert_eq!(n, 1, "actor {a} in the list answered first {n} times");
                    assert!(!entry.first_link(*a));
                } else {
                    assert!(
                        entry.first_link(*a),
                        "actor {a} not in the list answered already"
                    );
                }
            }
            let last = entry.last_linked.load(Ordering::Relaxed);
            assert!(last == 0 || linked.contains(&last));
        }
    }

    #[test]
    fn recent_reads_keep_the_last_records_oldest_first_each_once() {
        let tbl = provenance::table_id("src").unwrap();
        let rec = |n: i64| provenance::record_id("src", n).unwrap();
        let mut reads = RecentReads::default();
        // A record read again is not kept twice, and does not count as older.
        for n in [1, 2, 1, 2] {
            reads.note(n as u64, ReadRef::Key(&tbl, n));
        }
        assert_eq!(reads.ids(), [rec(1), rec(2)]);
        assert_eq!(reads.older, 0);
        // Two records whose hashes collide are both kept.
        let other = provenance::record_id("src", 99).unwrap();
        reads.note(1, ReadRef::Id(&other));
        assert_eq!(reads.ids(), [rec(1), rec(2), other.clone()]);
        // Past the fan-in the oldest go, and are counted; the order stays oldest first
        // however far the ring has turned.
        let total = 3 * DERIVED_FAN_IN as i64 + 5;
        for n in 3..=total {
            reads.note(n as u64 + 1000, ReadRef::Key(&tbl, n));
        }
        let last: Vec<_> = (total - DERIVED_FAN_IN as i64 + 1..=total)
            .map(rec)
            .collect();
        assert_eq!(reads.ids(), last);
        assert_eq!(reads.older, total as u64 + 1 - DERIVED_FAN_IN as u64);
        // Read again while kept: still once, and the ring does not move.
        reads.note(total as u64 + 1000, ReadRef::Key(&tbl, total));
        assert_eq!(reads.ids(), last);
        reads.clear();
        assert_eq!(reads.ids(), [] as [ArtifactId; 0]);
        assert_eq!(reads.older, 0);
        reads.note(7, ReadRef::Key(&tbl, 7));
        assert_eq!(reads.ids(), [rec(7)]);
    }

    #[test]
    fn a_new_unit_of_work_reads_nothing_its_recycled_entry_held() {
        let recorder = Recorder::new(Store::new(), crate::Dialect::Sqlite);
        let tbl = provenance::table_id("src").unwrap();
        let per_shard = RECENT_UNITS / CACHE_SHARDS;
        // Units that all land in one shard (the shard is picked by the high bits).
        let unit = |n: u64| ((n << 32) * CACHE_SHARDS as u64) | n;
        let held = recorder.reads_for(unit(0));
        held.lock().note(1, ReadRef::Key(&tbl, 1));
        for n in 1..=3 * per_shard as u64 {
            let reads = recorder.reads_for(unit(n));
            assert_eq!(reads.lock().ids(), [] as [ArtifactId; 0], "unit {n}");
            reads.lock().note(n, ReadRef::Key(&tbl, n as i64));
            drop(reads);
            assert_eq!(recorder.reads_of(unit(n)).0.len(), 1);
        }
        // The unit a query held all along kept its reads through every clearing.
        assert_eq!(
            recorder.reads_of(unit(0)).0,
            [provenance::record_id("src", 1).unwrap()]
        );
        let shard = recorder.recent(unit(0));
        assert!(shard.units.len() <= per_shard && shard.spare.len() <= per_shard);
    }

    /// A unique violation (any failure) must not make every statement work its keys out
    /// again; a key found empty (the table was not there yet) must not stick.
    #[cfg(feature = "sqlite")]
    #[test]
    fn a_failed_query_forgets_only_the_empty_keys_of_its_tables() {
        let recorder = Arc::new(Recorder::new(Store::new(), crate::Dialect::Sqlite));
        let (found, empty) = (TableName::new(None, "found"), TableName::new(None, "empty"));
        let known = |recorder: &Recorder| {
            let keys = recorder.keys.lock();
            (keys.contains_key(&found), keys.contains_key(&empty))
        };
        let fail = |sql: &str| {
            let entry = recorder.entry(sql);
            assert!(!entry.row_tables.is_empty(), "{sql}");
            let mut observation =
                Observation::<sqlx::Sqlite>::new(recorder.clone(), entry, Actor::default(), None);
            observation.fail(&sqlx::Error::RowNotFound);
            observation.finish();
        };
        {
            let mut keys = recorder.keys.lock();
            keys.insert(found.clone(), vec![String::from("id")].into());
            keys.insert(empty.clone(), Vec::new().into());
        }
        fail("SELECT id FROM found");
        assert_eq!(known(&recorder), (true, true));
        assert_eq!(recorder.keys_epoch.load(Ordering::Relaxed), 0);
        fail("SELECT found.id FROM found JOIN empty ON empty.id = found.id");
        assert_eq!(known(&recorder), (true, false));
        assert_eq!(recorder.keys_epoch.load(Ordering::Relaxed), 1);
        // DDL that succeeds forgets the key it may have changed.
        let entry = recorder.entry("ALTER TABLE found ADD COLUMN x INTEGER");
        let mut observation =
            Observation::<sqlx::Sqlite>::new(recorder.clone(), entry, Actor::default(), None);
        observation.finish();
        assert_eq!(known(&recorder), (false, false));
        assert_eq!(recorder.keys_epoch.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn the_analysis_cache_is_bounded_in_bytes_and_entries() {
        let recorder = Recorder::new(Store::new(), crate::Dialect::Sqlite);
        // Large, distinct statements: each IN-list of literals is its own text.
        for i in 0..400 {
            let list: Vec<String> = (0..10_000).map(|n| format!("{}", n + i)).collect();
            let sql = format!("SELECT id FROM t WHERE id IN ({})", list.join(", "));
            let entry = recorder.entry(&sql);
            assert_eq!(entry.reads.len(), 1);
        }
        for i in 0..5_000 {
            recorder.entry(&format!("SELECT id FROM t{i}"));
        }
        let (entries, bytes) = recorder.analyses.iter().fold((0, 0), |(n, b), shard| {
            let shard = shard.lock();
            assert_eq!(
                shard.bytes,
                shard.map.iter().map(|(k, _)| k.len()).sum::<usize>()
            );
            (n + shard.map.len(), b + shard.bytes)
        });
        assert!(entries <= ANALYSIS_CACHE, "{entries}");
        assert!(bytes <= CACHE_BYTES, "{bytes}");
    }

    #[test]
    fn in_lists_of_any_length_share_one_analysis() {
        let recorder = Recorder::new(Store::new(), crate::Dialect::Postgres);
        let a = recorder.entry("SELECT id FROM t WHERE id IN ($1, $2)");
        let b = recorder.entry("SELECT id FROM t WHERE id IN ($1, $2, $3, $4)");
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn a_thread_finds_a_statement_again_by_its_text_not_its_address() {
        let tables = |e: &Entry| -> Vec<String> {
            let a = e.analysis.as_ref().unwrap();
            a.reads().map(|t| t.to_string()).collect()
        };
        let pg = Recorder::new(Store::new(), crate::Dialect::Postgres);
        // Another text at the same address (the buffer reused): its own analysis.
        let mut sql = String::from("SELECT id FROM aa");
        let first = pg.entry(&sql);
        assert!(Arc::ptr_eq(&first, &pg.entry(&sql)));
        let at = sql.as_ptr();
        sql.replace_range(15.., "bb");
        assert_eq!(sql.as_ptr(), at);
        assert_eq!(tables(&pg.entry(&sql)), ["bb"]);
        assert_eq!(tables(&pg.entry("SELECT id FROM aa")), ["aa"]);
        // The same text elsewhere finds the same entry; another pool, its own.
        let copy = String::from("SELECT id FROM aa");
        assert!(Arc::ptr_eq(&first, &pg.entry(&copy)));
        let sqlite = Recorder::new(Store::new(), crate::Dialect::Sqlite);
        let other = sqlite.entry("SELECT id FROM aa");
        assert!(!Arc::ptr_eq(&first, &other));
        assert!(Arc::ptr_eq(&other, &sqlite.entry(&copy)));
        // Normalised texts (an IN-list) are found per text too, sharing one analysis.
        let a = pg.entry("SELECT id FROM t WHERE id IN ($1, $2)");
        for _ in 0..2 {
            let b = pg.entry("SELECT id FROM t WHERE id IN ($1, $2, $3)");
            assert!(Arc::ptr_eq(&a, &b));
        }
    }
}
