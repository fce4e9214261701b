//! Artifact IDs: `kind:identifier`, one grammar and one escaping for every kind.
//!
//! # Grammar
//!
//! ```text
//! id         = kind ":" body                      ; at most MAX_LEN bytes in all
//! kind       = "mod" | "fn" | "tbl" | "col" | "rec" | "req" | "mig" | "job" | "cfg"
//!
//! body(mod)  = path                               ; mod:my_app::orders
//! body(fn)   = path "::" segment                  ; fn:my_app::orders::create
//! body(tbl)  = table                              ; tbl:orders, tbl:audit.orders
//! body(col)  = table "." name                     ; col:orders.total_cents
//! body(rec)  = table ":" key *( "," key )         ; rec:orders:42, rec:order_items:7,3
//! body(req)  = part                               ; req:0190f1a2b3c4
//! body(mig)  = 1*20DIGIT [ "_" part ]             ; mig:20240315_add_status
//! body(job)  = part ":" part                      ; job:default:j-123
//! body(cfg)  = part                               ; cfg:app.database.pool_size
//!
//! path       = segment *( "::" segment )
//! segment    = part
//! table      = [ name "." ] name                  ; schema only when not the default one
//! key        = part
//! part       = 1*( raw | escape )                 ; may contain "."
//! name       = 1*( raw-no-dot | escape )          ; a "." inside a name is escaped
//! raw        = any printable ASCII byte (0x21..=0x7E) except % : , " ' \ `
//! escape     = "%" HEXDIG HEXDIG                  ; uppercase hex of one UTF-8 byte
//! ```
//!
//! Every byte that is not `raw` in its position is percent-encoded, byte by byte of its UTF-8
//! form: `%` as `%25`, `:` as `%3A`, `,` as `%2C`, a space as `%20`, quotes as `%22`/`%27`,
//! a newline as `%0A`, `é` as `%C3%A9`. Inside table, schema and column names `.` is escaped
//! too (`%2E`), because there it separates schema, table and column. Escaping is canonical:
//! a byte is escaped exactly when it must be, and hex digits are uppercase, so one artifact
//! has exactly one ID and `parse(display(id)) == id` as strings, not only as values.
//! An ID is therefore always printable ASCII without spaces: safe to log, to put in a header,
//! and to compare byte by byte.
//!
//! [`ArtifactId::parse`] accepts only this canonical form and says what is wrong and where
//! otherwise. The builders ([`module_id`], [`record_id`], …) escape what they are given, so
//! any string (a primary key with `:` in it, a name with spaces) makes a valid ID.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::sync::Arc;

/// The longest ID, in bytes of its canonical (escaped) form, that parsing and the builders
/// accept. Longer input is rejected with [`IdErrorReason::TooLong`] rather than stored.
pub const MAX_LEN: usize = 1024;

/// The nine kinds of artifact.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Kind {
    /// A module: `mod:my_app::orders`.
    Mod,
    /// A function: `fn:my_app::orders::create`.
    Fn,
    /// A table: `tbl:orders`.
    Tbl,
    /// A column: `col:orders.total_cents`.
    Col,
    /// A record (table row) by primary key: `rec:orders:42`.
    Rec,
    /// A request: `req:0190f1a2b3c4`.
    Req,
    /// A migration: `mig:20240315_add_status`.
    Mig,
    /// A job: `job:default:j-123`.
    Job,
    /// A configuration value: `cfg:app.database.pool_size`.
    Cfg,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 9] = [
        Kind::Mod,
        Kind::Fn,
        Kind::Tbl,
        Kind::Col,
        Kind::Rec,
        Kind::Req,
        Kind::Mig,
        Kind::Job,
        Kind::Cfg,
    ];

    /// The prefix used in IDs, e.g. `"rec"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Mod => "mod",
            Kind::Fn => "fn",
            Kind::Tbl => "tbl",
            Kind::Col => "col",
            Kind::Rec => "rec",
            Kind::Req => "req",
            Kind::Mig => "mig",
            Kind::Job => "job",
            Kind::Cfg => "cfg",
        }
    }

    /// Event kinds (`req`, `job`, `rec`) arrive without end in a running service; the store
    /// keeps a bounded number of them. The other kinds describe code and schema and stay.
    pub const fn is_event(self) -> bool {
        matches!(self, Kind::Req | Kind::Job | Kind::Rec)
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    fn from_prefix(s: &str) -> Option<Kind> {
        Some(match s {
            "mod" => Kind::Mod,
            "fn" => Kind::Fn,
            "tbl" => Kind::Tbl,
            "col" => Kind::Col,
            "rec" => Kind::Rec,
            "req" => Kind::Req,
            "mig" => Kind::Mig,
            "job" => Kind::Job,
            "cfg" => Kind::Cfg,
            _ => return None,
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::from_prefix(s).ok_or_else(|| IdError::new(IdErrorReason::UnknownKind(excerpt(s)), 0))
    }
}

/// A validated artifact ID in canonical form, e.g. `rec:orders:42`.
///
/// Cheap to clone (a reference-counted string). Ordered, compared and hashed as its string.
///
/// ```
/// use provenance::{ArtifactId, Kind, record_id};
///
/// let id: ArtifactId = "rec:orders:42".parse()?;
/// assert_eq!(id.kind(), Kind::Rec);
/// assert_eq!(id, record_id("orders", 42)?);
///
/// // Any key works: the builder escapes what the grammar reserves.
/// let odd = record_id("orders", "a:b, c")?;
/// assert_eq!(odd.as_str(), "rec:orders:a%3Ab%2C%20c");
/// assert_eq!(ArtifactId::parse(odd.as_str())?, odd);
/// # Ok::<(), provenance::IdError>(())
/// ```
#[derive(Clone)]
pub struct ArtifactId {
    // The kind is kept beside the string: the store asks for it on every record.
    kind: Kind,
    repr: Arc<str>,
}

impl PartialEq for ArtifactId {
    fn eq(&self, other: &Self) -> bool {
        self.repr == other.repr
    }
}

impl Eq for ArtifactId {}

impl std::hash::Hash for ArtifactId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.repr.hash(state);
    }
}

impl PartialOrd for ArtifactId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ArtifactId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.repr.cmp(&other.repr)
    }
}

impl ArtifactId {
    /// Parses an ID in canonical form (see the [module docs](self) for the grammar).
    pub fn parse(s: &str) -> Result<ArtifactId, IdError> {
        let kind = validate(s)?;
        Ok(ArtifactId {
            kind,
            repr: Arc::from(s),
        })
    }

    /// The ID as a string, e.g. `"rec:orders:42"`.
    pub fn as_str(&self) -> &str {
        &self.repr
    }

    /// The kind, read from the prefix.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The identifier after `kind:`, still escaped.
    pub fn body(&self) -> &str {
        &self.repr[self.kind.as_str().len() + 1..]
    }

    /// The unescaped parts of this ID.
    ///
    /// ```
    /// use provenance::{ArtifactId, id::Parts};
    ///
    /// let id = ArtifactId::parse("rec:audit.orders:7,x%20y")?;
    /// let Parts::Record { table, key } = id.parts() else { unreachable!() };
    /// assert_eq!(table.schema.as_deref(), Some("audit"));
    /// assert_eq!(table.name, "orders");
    /// assert_eq!(key, ["7", "x y"]);
    /// # Ok::<(), provenance::IdError>(())
    /// ```
    pub fn parts(&self) -> Parts {
        let body = self.body();
        let path = |s: &str| s.split("::").map(decode).collect::<Vec<_>>();
        match self.kind() {
            Kind::Mod => Parts::Module { path: path(body) },
            Kind::Fn => {
                let mut segments = path(body);
                let name = segments.pop().unwrap_or_default();
                Parts::Function {
                    module: segments,
                    name,
                }
            }
            Kind::Tbl => Parts::Table(decode_table(body)),
            Kind::Col => {
                let (table, column) = body.rsplit_once('.').unwrap_or(("", body));
                Parts::Column {
                    table: decode_table(table),
                    column: decode(column),
                }
            }
            Kind::Rec => {
                let (table, key) = body.split_once(':').unwrap_or((body, ""));
                Parts::Record {
                    table: decode_table(table),
                    key: key.split(',').map(decode).collect(),
                }
            }
            Kind::Req => Parts::Request { id: decode(body) },
            Kind::Mig => {
                let (version, description) = match body.split_once('_') {
                    Some((v, d)) => (v, Some(decode(d))),
                    None => (body, None),
                };
                Parts::Migration {
                    version: version.parse().unwrap_or_default(),
                    description,
                }
            }
            Kind::Job => {
                let (queue, id) = body.split_once(':').unwrap_or((body, ""));
                Parts::Job {
                    queue: decode(queue),
                    id: decode(id),
                }
            }
            Kind::Cfg => Parts::Config { path: decode(body) },
        }
    }

    /// Wraps a string the caller has just built in canonical form.
    /// Wraps what a builder below produced (valid by construction), checking its length.
    fn from_canonical(s: &str) -> Result<ArtifactId, IdError> {
        if s.len() > MAX_LEN {
            return Err(IdError::new(IdErrorReason::TooLong(s.len()), MAX_LEN));
        }
        debug_assert!(validate(s).is_ok(), "builder produced invalid id {s:?}");
        Ok(ArtifactId {
            kind: kind_of(s).unwrap_or(Kind::Cfg),
            repr: Arc::from(s),
        })
    }

    /// The ID's text, shared rather than copied.
    pub(crate) fn shared(&self) -> Arc<str> {
        self.repr.clone()
    }

    /// Wraps an ID the store already validated.
    pub(crate) fn from_trusted(s: &str) -> ArtifactId {
        ArtifactId {
            kind: kind_of(s).unwrap_or(Kind::Cfg),
            repr: Arc::from(s),
        }
    }
}

impl fmt::Display for ArtifactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.repr)
    }
}

impl fmt::Debug for ArtifactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.repr, f)
    }
}

impl FromStr for ArtifactId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ArtifactId::parse(s)
    }
}

/// A clone, as `String: From<&String>`: for APIs that take `impl Into<ArtifactId>`, so that a
/// caller done with its ID can give it instead of having it cloned.
impl From<&ArtifactId> for ArtifactId {
    fn from(id: &ArtifactId) -> ArtifactId {
        id.clone()
    }
}

impl TryFrom<&str> for ArtifactId {
    type Error = IdError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        ArtifactId::parse(s)
    }
}

impl AsRef<str> for ArtifactId {
    fn as_ref(&self) -> &str {
        &self.repr
    }
}

impl PartialEq<str> for ArtifactId {
    fn eq(&self, other: &str) -> bool {
        &*self.repr == other
    }
}

impl PartialEq<&str> for ArtifactId {
    fn eq(&self, other: &&str) -> bool {
        &*self.repr == *other
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ArtifactId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.repr)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ArtifactId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(deserializer)?;
        ArtifactId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A table name with an optional schema, as the `tbl:`, `col:` and `rec:` builders take it.
///
/// A plain `&str` is a table in the default schema, taken literally: `"audit.orders"` is one
/// table whose name contains a dot. Use [`TableName::qualified`] for a schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableName<'a> {
    /// The schema, when it is not the connection's default one.
    pub schema: Option<&'a str>,
    /// The table's name.
    pub name: &'a str,
}

impl<'a> TableName<'a> {
    /// A table in the default schema.
    pub const fn new(name: &'a str) -> Self {
        TableName { schema: None, name }
    }

    /// A table in a named schema: `tbl:audit.orders`.
    pub const fn qualified(schema: &'a str, name: &'a str) -> Self {
        TableName {
            schema: Some(schema),
            name,
        }
    }
}

impl<'a> From<&'a str> for TableName<'a> {
    fn from(name: &'a str) -> Self {
        TableName::new(name)
    }
}

impl<'a> From<&'a String> for TableName<'a> {
    fn from(name: &'a String) -> Self {
        TableName::new(name)
    }
}

/// An owned table name, as [`Parts`] returns it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OwnedTableName {
    /// The schema, when the ID names one.
    pub schema: Option<String>,
    /// The table's name.
    pub name: String,
}

/// The unescaped parts of an [`ArtifactId`], one variant per kind.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Parts {
    /// `mod:` — the module path's segments.
    Module {
        /// `["my_app", "orders"]` for `mod:my_app::orders`.
        path: Vec<String>,
    },
    /// `fn:` — the module path and the function's name.
    Function {
        /// The module path's segments.
        module: Vec<String>,
        /// The function's name.
        name: String,
    },
    /// `tbl:`
    Table(OwnedTableName),
    /// `col:`
    Column {
        /// The column's table.
        table: OwnedTableName,
        /// The column's name.
        column: String,
    },
    /// `rec:`
    Record {
        /// The record's table.
        table: OwnedTableName,
        /// The primary key, one part per key column.
        key: Vec<String>,
    },
    /// `req:`
    Request {
        /// The request ID.
        id: String,
    },
    /// `mig:`
    Migration {
        /// The migration's version.
        version: u64,
        /// The description, if the ID has one.
        description: Option<String>,
    },
    /// `job:`
    Job {
        /// The queue's name.
        queue: String,
        /// The job's ID within the queue.
        id: String,
    },
    /// `cfg:`
    Config {
        /// The configuration path.
        path: String,
    },
}

/// Why an ID was rejected, and at which byte of the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid artifact id: {reason} (at byte {at})")]
pub struct IdError {
    reason: IdErrorReason,
    at: usize,
}

impl IdError {
    fn new(reason: IdErrorReason, at: usize) -> Self {
        IdError { reason, at }
    }

    /// What was wrong.
    pub fn reason(&self) -> &IdErrorReason {
        &self.reason
    }

    /// The byte offset in the input where the problem is.
    pub fn position(&self) -> usize {
        self.at
    }
}

/// What was wrong with an ID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdErrorReason {
    /// The input was empty.
    #[error("empty input")]
    Empty,
    /// The input is longer than [`MAX_LEN`] bytes (the length is given).
    #[error("{0} bytes is longer than the maximum of {MAX_LEN}")]
    TooLong(usize),
    /// No `:` after the kind.
    #[error("missing `kind:` prefix")]
    MissingKind,
    /// The prefix is not one of the nine kinds (the first characters are given).
    #[error("unknown kind `{0}`; expected one of mod, fn, tbl, col, rec, req, mig, job, cfg")]
    UnknownKind(String),
    /// A control character (a newline, a NUL, …) appears unescaped.
    #[error("unescaped control character {0:?}")]
    ControlCharacter(char),
    /// A space appears unescaped.
    #[error("unescaped space; write it as %20")]
    Space,
    /// A non-ASCII character appears unescaped.
    #[error("unescaped non-ASCII character {0:?}; percent-encode its UTF-8 bytes")]
    NonAscii(char),
    /// A reserved character appears where it is not a separator.
    #[error("unescaped `{0}` inside a name; write it as %{hex:02X}", hex = *.0 as u32)]
    Reserved(char),
    /// A `%` not followed by two uppercase hex digits.
    #[error("`%` must be followed by two uppercase hex digits")]
    BadEscape,
    /// An escape of a byte that may appear raw (IDs have one spelling).
    #[error("`%{0:02X}` escapes a character that must be written as itself")]
    NeedlessEscape(u8),
    /// The escaped bytes are not UTF-8.
    #[error("escaped bytes are not valid UTF-8")]
    InvalidUtf8,
    /// A part between separators is empty.
    #[error("empty part")]
    EmptyPart,
    /// The body does not have the shape its kind requires.
    #[error("{0}")]
    Shape(&'static str),
}

fn excerpt(s: &str) -> String {
    s.chars().take(16).collect()
}

// ---------------------------------------------------------------------------------------------
// Escaping: the one implementation.

/// Whether byte `b` must be percent-encoded in a part. `dot` is set inside table, schema and
/// column names, where `.` separates.
#[inline]
const fn must_escape(b: u8, dot: bool) -> bool {
    !matches!(b, 0x21..=0x7E)
        || matches!(b, b'%' | b':' | b',' | b'"' | b'\'' | b'\\' | b'`')
        || (dot && b == b'.')
}

/// Appends `part` to `out`, escaped for its position.
fn escape_into(out: &mut String, part: &str, dot: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mask = if dot { 2 } else { 1 };
    out.reserve(part.len());
    // Runs of raw bytes are copied whole: nearly every part is one run.
    let bytes = part.as_bytes();
    let Some(first) = bytes.iter().position(|&b| RAW[b as usize] & mask == 0) else {
        out.push_str(part);
        return;
    };
    out.push_str(&part[..first]);
    let mut run = first;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        if RAW[b as usize] & mask == 0 {
            // A non-empty run is raw ASCII, so both of its ends are character boundaries.
            if run < i {
                out.push_str(&part[run..i]);
            }
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xF) as usize] as char);
            run = i + 1;
        }
    }
    if run < part.len() {
        out.push_str(&part[run..]);
    }
}

/// Per byte: bit 0 set if it may appear raw in a part, bit 1 if raw in a name (no `.`).
const RAW: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        if !must_escape(b as u8, false) {
            table[b] |= 1;
        }
        if !must_escape(b as u8, true) {
            table[b] |= 2;
        }
        b += 1;
    }
    table
};

/// Checks one part of canonical form; `at` is its offset in the whole input.
fn check_part(part: &str, dot: bool, at: usize) -> Result<(), IdError> {
    if part.is_empty() {
        return Err(IdError::new(IdErrorReason::EmptyPart, at));
    }
    // Nearly every part is plain: one table lookup per byte, no escapes to decode.
    let mask = if dot { 2 } else { 1 };
    if part.bytes().all(|b| RAW[b as usize] & mask != 0) {
        return Ok(());
    }
    let bytes = part.as_bytes();
    let mut i = 0;
    let mut decoded: Option<Vec<u8>> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| match bytes.get(j) {
                Some(&c @ b'0'..=b'9') => Some(c - b'0'),
                Some(&c @ b'A'..=b'F') => Some(c - b'A' + 10),
                _ => None,
            };
            let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
                return Err(IdError::new(IdErrorReason::BadEscape, at + i));
            };
            let value = hi << 4 | lo;
            if !must_escape(value, dot) {
                return Err(IdError::new(IdErrorReason::NeedlessEscape(value), at + i));
            }
            if value >= 0x80 {
                decoded.get_or_insert_with(Vec::new).push(value);
            } else if let Some(d) = decoded.as_mut() {
                d.push(value);
            }
            i += 3;
            continue;
        }
        if must_escape(b, dot) {
            let ch = part[i..].chars().next().unwrap_or('\u{FFFD}');
            let reason = match b {
                b' ' => IdErrorReason::Space,
                0x00..=0x1F | 0x7F => IdErrorReason::ControlCharacter(ch),
                0x80.. => IdErrorReason::NonAscii(ch),
                _ => IdErrorReason::Reserved(ch),
            };
            return Err(IdError::new(reason, at + i));
        }
        if let Some(d) = decoded.as_mut() {
            d.push(b);
        }
        i += 1;
    }
    if let Some(d) = decoded
        && std::str::from_utf8(&d).is_err()
    {
        return Err(IdError::new(IdErrorReason::InvalidUtf8, at));
    }
    Ok(())
}

/// Decodes a part that was validated (or built by [`escape_into`]).
fn decode(part: &str) -> String {
    if !part.contains('%') {
        return part.to_owned();
    }
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            out.push(hex(bytes[i + 1]) << 4 | hex(bytes[i + 2]));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn decode_table(s: &str) -> OwnedTableName {
    match s.split_once('.') {
        Some((schema, name)) => OwnedTableName {
            schema: Some(decode(schema)),
            name: decode(name),
        },
        None => OwnedTableName {
            schema: None,
            name: decode(s),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Validation of the whole grammar.

/// Splits `s` on `sep`, yielding each piece with its offset relative to `s`.
/// Splits `s` at every `sep` (one ASCII byte, or two equal ones when `double`), yielding each
/// piece with its offset in `s`. A plain byte loop: IDs are short, and `str::split`'s searcher
/// costs more to set up than the whole scan.
fn split_at_offsets(s: &str, sep: u8, double: bool) -> impl Iterator<Item = (usize, &str)> {
    let bytes = s.as_bytes();
    let width = if double { 2 } else { 1 };
    let mut start = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut i = start;
        while i < bytes.len() {
            if bytes[i] == sep && (!double || bytes.get(i + 1) == Some(&sep)) {
                let piece = (start, &s[start..i]);
                start = i + width;
                return Some(piece);
            }
            i += 1;
        }
        done = true;
        Some((start, &s[start..]))
    })
}

/// The first `sep` in `s`, split around it.
fn split_once_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

fn check_path(body: &str, at: usize, min_segments: usize) -> Result<(), IdError> {
    let mut count = 0;
    for (off, segment) in split_at_offsets(body, b':', true) {
        check_part(segment, false, at + off)?;
        count += 1;
    }
    if count < min_segments {
        return Err(IdError::new(
            IdErrorReason::Shape(
                "a fn id needs a module path and a name: fn:my_app::orders::create",
            ),
            at,
        ));
    }
    Ok(())
}

/// `[schema "."] name`; `extra` names allow one more dotted name after the table (columns).
fn check_dotted(
    body: &str,
    at: usize,
    min: usize,
    max: usize,
    shape: &'static str,
) -> Result<(), IdError> {
    let mut count = 0;
    for (off, name) in split_at_offsets(body, b'.', false) {
        count += 1;
        if count > max {
            return Err(IdError::new(IdErrorReason::Shape(shape), at + off));
        }
        check_part(name, true, at + off)?;
    }
    if count < min {
        return Err(IdError::new(IdErrorReason::Shape(shape), at));
    }
    Ok(())
}

/// The kind named by the prefix of `s`, if any.
pub(crate) fn kind_of(s: &str) -> Option<Kind> {
    let colon = s.bytes().take(4).position(|b| b == b':')?;
    Kind::from_prefix(&s[..colon])
}

/// Checks `s` against the grammar and returns its kind.
pub(crate) fn validate(s: &str) -> Result<Kind, IdError> {
    if let Some(kind) = fast_validate(s) {
        return Ok(kind);
    }
    // Escapes, or an error to explain: the thorough path says what is wrong and where.
    validate_body(s)?;
    Ok(kind_of(s).unwrap_or(Kind::Cfg))
}

/// Accepts the common case in one pass over the bytes: an ID without escapes. `None` means
/// "not shown valid here", never "invalid": the caller then runs the thorough check.
fn fast_validate(s: &str) -> Option<Kind> {
    if s.len() > MAX_LEN {
        return None;
    }
    let kind = kind_of(s)?;
    let body = &s.as_bytes()[kind.as_str().len() + 1..];
    let split = |sep: u8| {
        let i = body.iter().position(|&b| b == sep)?;
        Some((&body[..i], &body[i + 1..]))
    };
    let ok = match kind {
        Kind::Mod => scan_path(body, 1),
        Kind::Fn => scan_path(body, 2),
        Kind::Tbl => scan(body, b'.', 2, 1, 2),
        Kind::Col => scan(body, b'.', 2, 2, 3),
        Kind::Rec => {
            let (table, key) = split(b':')?;
            scan(table, b'.', 2, 1, 2) && scan(key, b',', 1, 1, usize::MAX)
        }
        Kind::Req | Kind::Cfg => scan(body, 0, 1, 1, 1),
        Kind::Job => {
            let (queue, id) = split(b':')?;
            scan(queue, 0, 1, 1, 1) && scan(id, 0, 1, 1, 1)
        }
        Kind::Mig => {
            let (version, description) = match split(b'_') {
                Some((v, d)) => (v, Some(d)),
                None => (body, None),
            };
            // Twenty digits may overflow u64: leave those to the thorough check.
            (1..20).contains(&version.len())
                && version.iter().all(u8::is_ascii_digit)
                && description.is_none_or(|d| scan(d, 0, 1, 1, 1))
        }
    };
    ok.then_some(kind)
}

/// Whether `bytes` is `min..=max` non-empty parts separated by `sep`, every other byte raw
/// under `mask` (see [`RAW`]). `sep` 0 means a single part.
fn scan(bytes: &[u8], sep: u8, mask: u8, min: usize, max: usize) -> bool {
    let mut parts = 1;
    let mut len = 0;
    for &b in bytes {
        if b == sep {
            if len == 0 {
                return false;
            }
            parts += 1;
            len = 0;
        } else if RAW[b as usize] & mask == 0 {
            return false;
        } else {
            len += 1;
        }
    }
    len > 0 && (min..=max).contains(&parts)
}

/// Whether `bytes` is at least `min` non-empty segments separated by `::`.
fn scan_path(bytes: &[u8], min: usize) -> bool {
    let mut segments = 1;
    let mut len = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b':' {
            if len == 0 || bytes.get(i + 1) != Some(&b':') {
                return false;
            }
            segments += 1;
            len = 0;
            i += 2;
        } else if RAW[b as usize] & 1 == 0 {
            return false;
        } else {
            len += 1;
            i += 1;
        }
    }
    len > 0 && segments >= min
}

fn validate_body(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::new(IdErrorReason::Empty, 0));
    }
    if s.len() > MAX_LEN {
        return Err(IdError::new(IdErrorReason::TooLong(s.len()), MAX_LEN));
    }
    let Some((prefix, body)) = split_once_byte(s, b':') else {
        return Err(IdError::new(IdErrorReason::MissingKind, 0));
    };
    let kind = Kind::from_prefix(prefix)
        .ok_or_else(|| IdError::new(IdErrorReason::UnknownKind(excerpt(prefix)), 0))?;
    let at = prefix.len() + 1;
    match kind {
        Kind::Mod => check_path(body, at, 1),
        Kind::Fn => check_path(body, at, 2),
        Kind::Tbl => check_dotted(body, at, 1, 2, "a tbl id is tbl:table or tbl:schema.table"),
        Kind::Col => check_dotted(
            body,
            at,
            2,
            3,
            "a col id is col:table.column or col:schema.table.column",
        ),
        Kind::Rec => {
            let shape = "a rec id is rec:table:key, with `,` between the parts of a composite key";
            let Some((table, key)) = split_once_byte(body, b':') else {
                return Err(IdError::new(IdErrorReason::Shape(shape), at));
            };
            check_dotted(table, at, 1, 2, shape)?;
            let key_at = at + table.len() + 1;
            for (off, part) in split_at_offsets(key, b',', false) {
                check_part(part, false, key_at + off)?;
            }
            Ok(())
        }
        Kind::Req | Kind::Cfg => check_part(body, false, at),
        Kind::Mig => {
            let shape = "a mig id is mig:VERSION or mig:VERSION_description, VERSION being digits";
            let (version, description) = match split_once_byte(body, b'_') {
                Some((v, d)) => (v, Some(d)),
                None => (body, None),
            };
            if version.is_empty()
                || version.len() > 20
                || !version.bytes().all(|b| b.is_ascii_digit())
                || version.parse::<u64>().is_err()
            {
                return Err(IdError::new(IdErrorReason::Shape(shape), at));
            }
            match description {
                Some(d) => check_part(d, false, at + version.len() + 1),
                None => Ok(()),
            }
        }
        Kind::Job => {
            let shape = "a job id is job:queue:id";
            let Some((queue, id)) = split_once_byte(body, b':') else {
                return Err(IdError::new(IdErrorReason::Shape(shape), at));
            };
            check_part(queue, false, at)?;
            check_part(id, false, at + queue.len() + 1)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Builders.

fn start(kind: Kind, capacity: usize) -> String {
    let mut s = String::with_capacity(kind.as_str().len() + 1 + capacity);
    s.push_str(kind.as_str());
    s.push(':');
    s
}

fn non_empty(part: &str, at: usize) -> Result<(), IdError> {
    if part.is_empty() {
        Err(IdError::new(IdErrorReason::EmptyPart, at))
    } else {
        Ok(())
    }
}

fn push_path(out: &mut String, path: &str) -> Result<(), IdError> {
    for (i, segment) in path.split("::").enumerate() {
        non_empty(segment, out.len())?;
        if i > 0 {
            out.push_str("::");
        }
        escape_into(out, segment, false);
    }
    Ok(())
}

fn push_table(out: &mut String, table: TableName<'_>) -> Result<(), IdError> {
    if let Some(schema) = table.schema {
        non_empty(schema, out.len())?;
        escape_into(out, schema, true);
        out.push('.');
    }
    non_empty(table.name, out.len())?;
    escape_into(out, table.name, true);
    Ok(())
}

/// Formats `value` into a reusable buffer without allocating when it is already a string.
fn display_to<'a>(value: &'a dyn fmt::Display, buf: &'a mut String) -> Cow<'a, str> {
    buf.clear();
    let _ = write!(buf, "{value}");
    Cow::Borrowed(buf.as_str())
}

/// `mod:` ID for a module path such as `my_app::orders`.
///
/// ```
/// assert_eq!(provenance::module_id("my_app::orders")?.as_str(), "mod:my_app::orders");
/// # Ok::<(), provenance::IdError>(())
/// ```
pub fn module_id(path: &str) -> Result<ArtifactId, IdError> {
    let mut s = start(Kind::Mod, path.len());
    push_path(&mut s, path)?;
    ArtifactId::from_canonical(&s)
}

/// `fn:` ID for function `name` in module `module`: the same ID whether a tracing span, a
/// source scan or a hand call produces it. There is no arity: Rust has no overloading.
///
/// ```
/// let id = provenance::function_id("my_app::orders", "create")?;
/// assert_eq!(id.as_str(), "fn:my_app::orders::create");
/// # Ok::<(), provenance::IdError>(())
/// ```
pub fn function_id(module: &str, name: &str) -> Result<ArtifactId, IdError> {
    let mut s = start(Kind::Fn, module.len() + 2 + name.len());
    push_path(&mut s, module)?;
    s.push_str("::");
    non_empty(name, s.len())?;
    escape_into(&mut s, name, false);
    ArtifactId::from_canonical(&s)
}

/// `tbl:` ID. A `&str` is a table in the default schema; see [`TableName::qualified`].
///
/// ```
/// use provenance::{table_id, id::TableName};
/// assert_eq!(table_id("orders")?.as_str(), "tbl:orders");
/// assert_eq!(table_id(TableName::qualified("audit", "orders"))?.as_str(), "tbl:audit.orders");
/// # Ok::<(), provenance::IdError>(())
/// ```
pub fn table_id<'a>(table: impl Into<TableName<'a>>) -> Result<ArtifactId, IdError> {
    let mut s = start(Kind::Tbl, 16);
    push_table(&mut s, table.into())?;
    ArtifactId::from_canonical(&s)
}

/// `col:` ID for `column` of `table`.
///
/// ```
/// assert_eq!(provenance::column_id("orders", "total_cents")?.as_str(), "col:orders.total_cents");
/// # Ok::<(), provenance::IdError>(())
/// ```
pub fn column_id<'a>(table: impl Into<TableName<'a>>, column: &str) -> Result<ArtifactId, IdError> {
    let mut s = start(Kind::Col, 16 + column.len());
    push_table(&mut s, table.into())?;
    s.push('.');
    non_empty(column, s.len())?;
    escape_into(&mut s, column, true);
    ArtifactId::from_canonical(&s)
}

/// `rec:` ID for the row of `table` whose primary key is `key` (anything that implements
/// `Display`: an integer, a UUID, a string with `:` in it).
///
/// ```
/// assert_eq!(provenance::record_id("orders", 42)?.as_str(), "rec:orders:42");
/// # Ok::<(), provenance::IdError>(())
/// ```
pub fn record_id<'a>(
    table: impl Into<TableName<'a>>,
    key: impl fmt::Display,
) -> Result<ArtifactId, IdError> {
    composite_record_id(table, [key])
}

/// `rec:` ID for a composite primary key, one part per key column, in key order.
///
/// ```
/// let id = provenance::composite_record_id("order_items", [7, 3])?;
/// assert_eq!(id.as_str(), "rec:order_items:7,3");
/// # Ok::<(), provenance::IdError>(())
/// ```
pub fn composite_record_id<'a, K: fmt::Display>(
    table: impl Into<TableName<'a>>,
    key: impl IntoIterator<Item = K>,
) -> Result<ArtifactId, IdError> {
    // Once per result row that carries a key: built in a reused buffer.
    build(Kind::Rec, |s| {
        push_table(s, table.into())?;
        s.push(':');
        push_parts(s, key)
    })
}

/// `rec:` ID for a row of `table` (a `tbl:` ID) with `key`, one part per key column: what
/// [`composite_record_id`] makes from the table's name, without escaping the name again. For
/// code that builds the IDs of many rows of one table.
///
/// ```
/// let orders = provenance::table_id("shop.orders")?;
/// let id = provenance::record_id_in(&orders, [42])?;
/// assert_eq!(id, provenance::record_id("shop.orders", 42)?);
/// assert!(provenance::record_id_in(&id, [1]).is_err(), "not a table");
/// # Ok::<(), provenance::IdError>(())
/// ```
pub fn record_id_in<K: fmt::Display>(
    table: &ArtifactId,
    key: impl IntoIterator<Item = K>,
) -> Result<ArtifactId, IdError> {
    let name = table_name(table)?;
    build(Kind::Rec, |s| {
        s.push_str(name);
        s.push(':');
        push_parts(s, key)
    })
}

/// The name in a record's `tbl:` ID.
fn table_name(table: &ArtifactId) -> Result<&str, IdError> {
    table.as_str().strip_prefix("tbl:").ok_or(IdError::new(
        IdErrorReason::Shape("a record's table must be a `tbl:` ID"),
        0,
    ))
}

/// [`record_id_in`] for one integer key, appended to `out` as text, without an
/// [`ArtifactId`] of its own: the store builds a queued batch's record IDs this way, into one
/// buffer. On an error `out` is left as it was.
pub(crate) fn push_record_id(
    out: &mut String,
    table: &ArtifactId,
    key: i64,
) -> Result<(), IdError> {
    let name = table_name(table)?;
    let at = out.len();
    out.push_str(Kind::Rec.as_str());
    out.push(':');
    out.push_str(name);
    out.push(':');
    let part = out.len();
    push_i64(out, key);
    let mut pushed = escape_from(out, part);
    let len = out.len() - at;
    if pushed.is_ok() && len > MAX_LEN {
        pushed = Err(IdError::new(IdErrorReason::TooLong(len), MAX_LEN));
    }
    if pushed.is_err() {
        out.truncate(at);
    }
    debug_assert!(pushed.is_err() || validate(&out[at..]).is_ok());
    pushed
}

/// Appends `n` in decimal, as its `Display` does, without the formatting machinery (~110
/// instructions less a queued record's ID).
fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_decimal(out, n.unsigned_abs());
}

/// Appends `n` in decimal, without the formatting machinery (a request has several numbers,
/// a queued record its key).
pub(crate) fn push_decimal(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(buf[at..].iter().map(|&d| d as char));
}

/// Appends the parts of a key, comma-separated: at least one, and not past [`MAX_LEN`].
fn push_parts<K: fmt::Display>(
    s: &mut String,
    key: impl IntoIterator<Item = K>,
) -> Result<(), IdError> {
    let mut parts = 0;
    for part in key {
        if parts > 0 {
            s.push(',');
        }
        push_part(s, &part)?;
        parts += 1;
        if s.len() > MAX_LEN {
            return Err(IdError::new(IdErrorReason::TooLong(s.len()), MAX_LEN));
        }
    }
    if parts == 0 {
        return Err(IdError::new(IdErrorReason::EmptyPart, s.len()));
    }
    Ok(())
}

/// Appends `value` as one escaped part. Formatted in place, and escaped from a copy only when
/// it needs it (a number never does).
fn push_part(out: &mut String, value: &dyn fmt::Display) -> Result<(), IdError> {
    let at = out.len();
    let _ = write!(out, "{value}");
    escape_from(out, at)
}

/// Escapes what `out` holds past `at` as one part, in place: from a copy only when it needs
/// it.
fn escape_from(out: &mut String, at: usize) -> Result<(), IdError> {
    non_empty(&out[at..], at)?;
    if out.as_bytes()[at..]
        .iter()
        .all(|&b| RAW[b as usize] & 1 != 0)
    {
        return Ok(());
    }
    let text = out.split_off(at);
    escape_into(out, &text, false);
    Ok(())
}

/// `req:` ID for a request ID.
///
/// ```
/// assert_eq!(provenance::request_id("0190f1a2b3c4")?.as_str(), "req:0190f1a2b3c4");
/// # Ok::<(), provenance::IdError>(())
/// ```
pub fn request_id(id: &str) -> Result<ArtifactId, IdError> {
    non_empty(id, Kind::Req.as_str().len() + 1)?;
    // Once per request: built in a reused buffer, so the ID costs one allocation.
    build(Kind::Req, |s| {
        escape_into(s, id, false);
        Ok(())
    })
}

/// `req:` ID for a UUID, in the lowercase hyphenated form (`req:0190f1a2-b3c4-7d5e-…`), as
/// [`request_id`] makes it from that text, without checking the text: for code that made the
/// UUID itself (the tower layer, once per request).
///
/// ```
/// let id = provenance::request_id_from_uuid(0x0190f1a2_b3c4_7d5e_8f90_a1b2c3d4e5f6);
/// assert_eq!(id, provenance::request_id("0190f1a2-b3c4-7d5e-8f90-a1b2c3d4e5f6")?);
/// assert_eq!(id.kind(), provenance::Kind::Req);
/// # Ok::<(), provenance::IdError>(())
/// ```
pub fn request_id_from_uuid(uuid: u128) -> ArtifactId {
    ArtifactId {
        kind: Kind::Req,
        repr: Arc::from(uuid_request_text(uuid, &mut [0; 40])),
    }
}

/// The text of [`request_id_from_uuid`], written into `out`.
pub(crate) fn uuid_request_text(uuid: u128, out: &mut [u8; 40]) -> &str {
    *out = uuid_request_bytes(uuid);
    std::str::from_utf8(out).expect("hex digits and hyphens are ASCII")
}

/// The bytes of [`uuid_request_text`], for comparing without the UTF-8 check.
pub(crate) fn uuid_request_bytes(uuid: u128) -> [u8; 40] {
    let hi = hex16((uuid >> 64) as u64);
    let lo = hex16(uuid as u64);
    let mut out = *b"req:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    out[4..12].copy_from_slice(&hi[..8]);
    out[13..17].copy_from_slice(&hi[8..12]);
    out[18..22].copy_from_slice(&hi[12..]);
    out[23..27].copy_from_slice(&lo[..4]);
    out[28..].copy_from_slice(&lo[4..]);
    out
}

/// `v` in 16 lowercase hex digits, most significant first, computed on all of them at once.
fn hex16(v: u64) -> [u8; 16] {
    const fn splat(b: u8) -> u128 {
        u128::from_ne_bytes([b; 16])
    }
    // Each nibble into a byte of its own, the lowest nibble in the lowest byte.
    let mut x = u128::from(v);
    x = (x | x << 32) & 0x0000_0000_FFFF_FFFF_0000_0000_FFFF_FFFF;
    x = (x | x << 16) & 0x0000_FFFF_0000_FFFF_0000_FFFF_0000_FFFF;
    x = (x | x << 8) & 0x00FF_00FF_00FF_00FF_00FF_00FF_00FF_00FF;
    x = (x | x << 4) & splat(0x0F);
    // 0-9 to '0'-'9', 10-15 to 'a'-'f': a byte of 10 or more carries into its 0x10 bit.
    let letters = ((x + splat(6)) >> 4) & splat(1);
    (x + splat(b'0') + letters * u128::from(b'a' - b'0' - 10)).to_be_bytes()
}

/// Builds an ID of `kind` whose rest `fill` appends, in a per-thread buffer: the ID's own
/// allocation is the only one.
fn build(
    kind: Kind,
    fill: impl FnOnce(&mut String) -> Result<(), IdError>,
) -> Result<ArtifactId, IdError> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    let mut fill = Some(fill);
    let built = SCRATCH.try_with(|cell| {
        let mut s = cell.try_borrow_mut().ok()?;
        s.clear();
        if s.capacity() > 4 * MAX_LEN {
            s.shrink_to(MAX_LEN);
        }
        s.push_str(kind.as_str());
        s.push(':');
        Some((fill.take()?)(&mut s).and_then(|()| ArtifactId::from_canonical(&s)))
    });
    match (built, fill) {
        (Ok(Some(id)), _) => id,
        // The buffer is in use or gone (thread exit): a buffer of its own.
        (_, Some(fill)) => {
            let mut s = start(kind, 0);
            fill(&mut s)?;
            ArtifactId::from_canonical(&s)
        }
        (_, None) => unreachable!("fill runs only where the ID is built"),
    }
}

/// `mig:` ID for a migration's version and description (empty for none).
///
/// ```
/// let id = provenance::migration_id(20240315, "add_status")?;
/// assert_eq!(id.as_str(), "mig:20240315_add_status");
/// # Ok::<(), provenance::IdError>(())
/// ```
pub fn migration_id(version: u64, description: &str) -> Result<ArtifactId, IdError> {
    let mut s = start(Kind::Mig, 21 + description.len());
    let _ = write!(s, "{version}");
    if !description.is_empty() {
        s.push('_');
        escape_into(&mut s, description, false);
    }
    ArtifactId::from_canonical(&s)
}

/// `job:` ID for job `id` on `queue`.
///
/// ```
/// assert_eq!(provenance::job_id("default", "j-123")?.as_str(), "job:default:j-123");
/// # Ok::<(), provenance::IdError>(())
/// ```
pub fn job_id(queue: &str, id: impl fmt::Display) -> Result<ArtifactId, IdError> {
    let mut s = start(Kind::Job, queue.len() + 16);
    non_empty(queue, s.len())?;
    escape_into(&mut s, queue, false);
    s.push(':');
    let mut buf = String::new();
    let text = display_to(&id, &mut buf);
    non_empty(&text, s.len())?;
    escape_into(&mut s, &text, false);
    ArtifactId::from_canonical(&s)
}

/// `cfg:` ID for a configuration path such as `app.database.pool_size`.
///
/// ```
/// assert_eq!(provenance::config_id("app.database.pool_size")?.as_str(), "cfg:app.database.pool_size");
/// # Ok::<(), provenance::IdError>(())
/// ```
pub fn config_id(path: &str) -> Result<ArtifactId, IdError> {
    let mut s = start(Kind::Cfg, path.len());
    non_empty(path, s.len())?;
    escape_into(&mut s, path, false);
    ArtifactId::from_canonical(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_i64_writes_what_display_writes() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let edges = [
            0,
            1,
            -1,
            9,
            10,
            -10,
            99,
            100,
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
        ];
        let randoms = (0..1000).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Every length of number, both signs.
            (x as i64) >> (x % 64)
        });
        for n in edges.into_iter().chain(randoms) {
            let mut out = String::from("x");
            push_i64(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[test]
    fn a_pushed_record_id_is_the_one_record_id_in_makes() {
        // Long enough that the longest keys make an ID past `MAX_LEN`.
        let long = "t".repeat(MAX_LEN - 20);
        let mut too_long = 0;
        for table in ["orders", "public.orders", "Mixed Case", long.as_str()] {
            let tbl = table_id(table).unwrap();
            let mut out = String::from("before");
            for key in [0, 1, -1, 42, i64::MIN, i64::MAX] {
                let want = record_id_in(&tbl, [key]);
                let at = out.len();
                let got = push_record_id(&mut out, &tbl, key);
                match want {
                    Ok(id) => {
                        assert!(got.is_ok(), "{table} {key}");
                        assert_eq!(&out[at..], id.as_str());
                    }
                    Err(e) => {
                        too_long += 1;
                        assert_eq!(got.unwrap_err().to_string(), e.to_string());
                        assert_eq!(out.len(), at, "a failed push leaves the buffer");
                    }
                }
            }
            assert!(out.starts_with("before"));
        }
        assert_eq!(too_long, 2, "i64::MIN and i64::MAX on the long table");
        let mut out = String::new();
        let not_a_table = request_id("r1").unwrap();
        assert!(push_record_id(&mut out, &not_a_table, 1).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn a_uuid_request_id_is_the_one_its_text_makes() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for uuid in [0, u128::MAX]
            .into_iter()
            .chain((0..1000).map(|_| (u128::from(next()) << 64) | u128::from(next())))
        {
            let bytes = uuid.to_be_bytes();
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let text = format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            );
            let id = request_id_from_uuid(uuid);
            assert_eq!(id, request_id(&text).unwrap());
            assert_eq!(id, ArtifactId::parse(id.as_str()).unwrap());
            assert_eq!(id.kind(), Kind::Req);
        }
    }

    #[test]
    fn examples_from_the_design_parse() {
        for s in [
            "mod:my_app::orders",
            "fn:my_app::orders::create",
            "tbl:orders",
            "tbl:audit.orders",
            "col:orders.total_cents",
            "col:audit.orders.total_cents",
            "rec:orders:42",
            "rec:order_items:7,3",
            "req:0190f1a2b3c4",
            "mig:20240315_add_status",
            "mig:20240315",
            "job:default:j-123",
            "cfg:app.database.pool_size",
            "mod:MyApp.Orders",
        ] {
            let id = ArtifactId::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(id.as_str(), s);
        }
    }

    #[test]
    fn bad_input_says_what_and_where() {
        let cases: &[(&str, IdErrorReason, usize)] = &[
            ("", IdErrorReason::Empty, 0),
            ("orders", IdErrorReason::MissingKind, 0),
            ("row:orders:1", IdErrorReason::UnknownKind("row".into()), 0),
            ("rec:orders:a b", IdErrorReason::Space, 12),
            ("req:a\nb", IdErrorReason::ControlCharacter('\n'), 5),
            ("rec:orders:é", IdErrorReason::NonAscii('é'), 11),
            ("req:%4", IdErrorReason::BadEscape, 4),
            ("req:%2f", IdErrorReason::BadEscape, 4),
            ("req:%41", IdErrorReason::NeedlessEscape(b'A'), 4),
            ("req:%FF", IdErrorReason::InvalidUtf8, 4),
            ("rec:orders:", IdErrorReason::EmptyPart, 11),
            ("rec:orders:1,,2", IdErrorReason::EmptyPart, 13),
            ("mod:a:b", IdErrorReason::Reserved(':'), 5),
            ("mod:a::::b", IdErrorReason::EmptyPart, 7),
            (
                "col:a.b.c.d",
                IdErrorReason::Shape("a col id is col:table.column or col:schema.table.column"),
                10,
            ),
        ];
        for (input, reason, at) in cases {
            let err = ArtifactId::parse(input).expect_err(input);
            assert_eq!(
                (err.reason(), err.position()),
                (reason, *at),
                "{input:?}: {err}"
            );
        }
        let long = format!("req:{}", "a".repeat(MAX_LEN));
        assert!(matches!(
            ArtifactId::parse(&long).unwrap_err().reason(),
            IdErrorReason::TooLong(_)
        ));
        assert_eq!(
            ArtifactId::parse("rec:orders:a b").unwrap_err().to_string(),
            "invalid artifact id: unescaped space; write it as %20 (at byte 12)"
        );
    }

    #[test]
    fn fn_needs_a_module() {
        let err = ArtifactId::parse("fn:create").unwrap_err();
        assert!(matches!(err.reason(), IdErrorReason::Shape(_)));
        assert!(function_id("", "create").is_err());
        assert!(function_id("m", "").is_err());
    }

    #[test]
    fn builders_escape_what_the_grammar_reserves() {
        assert_eq!(
            record_id("orders", "50%").unwrap().as_str(),
            "rec:orders:50%25"
        );
        assert_eq!(table_id("odd.name").unwrap().as_str(), "tbl:odd%2Ename");
        assert_eq!(
            record_id("users", "bob@example.com").unwrap().as_str(),
            "rec:users:bob@example.com"
        );
        assert_eq!(
            request_id("\"quoted\"").unwrap().as_str(),
            "req:%22quoted%22"
        );
        assert_eq!(job_id("q:1", "x,y").unwrap().as_str(), "job:q%3A1:x%2Cy");
        assert_eq!(
            record_id("customers", "Zoë").unwrap().as_str(),
            "rec:customers:Zo%C3%AB"
        );
        assert!(record_id("orders", "").is_err());
        assert!(composite_record_id("orders", Vec::<u8>::new()).is_err());
        assert!(matches!(
            request_id(&"x".repeat(MAX_LEN)).unwrap_err().reason(),
            IdErrorReason::TooLong(_)
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The one-pass check accepts only what the thorough one accepts, and everything it
        /// accepts that has no escapes (the thorough one is the reference for escapes).
        #[test]
        fn fast_and_thorough_checks_agree(
            kind in proptest::sample::select(vec!["mod", "fn", "tbl", "col", "rec", "req", "mig", "job", "cfg", "xx"]),
            body in "[a-c0-9_:.,%A-F \\n\"é]{0,12}",
        ) {
            let s = format!("{kind}:{body}");
            let thorough = validate_body(&s).is_ok();
            let fast = fast_validate(&s).is_some();
            if fast {
                proptest::prop_assert!(thorough, "{s:?} passed the fast check only");
            }
            if thorough && !s.contains('%') {
                proptest::prop_assert!(fast, "{s:?} passed the thorough check only");
            }
        }
    }

    #[test]
    fn kind_round_trips() {
        for kind in Kind::ALL {
            assert_eq!(kind.as_str().parse::<Kind>().unwrap(), kind);
        }
        assert!("usr".parse::<Kind>().is_err());
    }
}
