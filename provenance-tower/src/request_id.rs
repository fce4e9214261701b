//! Request IDs: which incoming ones are accepted, and how fresh ones are made.

use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use http::HeaderValue;
use provenance::ArtifactId;

/// Shortest incoming request ID accepted, in bytes.
pub const MIN_LEN: usize = 8;
/// Longest incoming request ID accepted, in bytes.
pub const MAX_LEN: usize = 128;

/// The ID of one request, as [`ProvenanceLayer`](crate::ProvenanceLayer) put it in the request
/// extensions: the raw ID (as in the `x-request-id` header) and its `req:` artifact ID.
///
/// With the `axum` feature, a handler can take it as an argument.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId {
    header: HeaderValue,
    artifact: ArtifactId,
}

impl RequestId {
    /// Accepts `value` if it is a valid incoming request ID: [`MIN_LEN`] to [`MAX_LEN`] bytes
    /// of ASCII letters, digits, `-`, `_` and `.`. That covers UUIDs, ULIDs, Heroku's and
    /// Plug's IDs, and keeps out anything that could inject into logs, headers or IDs.
    pub fn parse(value: &[u8]) -> Option<RequestId> {
        if !(MIN_LEN..=MAX_LEN).contains(&value.len())
            || !value
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return None;
        }
        let text = std::str::from_utf8(value).ok()?;
        let artifact = provenance::request_id(text).ok()?;
        let header = HeaderValue::from_bytes(value).ok()?;
        Some(RequestId { header, artifact })
    }

    /// A fresh, time-ordered ID: a UUID v7 (48 bits of Unix milliseconds, then random bits
    /// from a per-thread generator seeded from the OS), in lowercase hyphenated form.
    pub fn generate() -> RequestId {
        Self::generate_at(crate::unix_millis(std::time::SystemTime::now())).0
    }

    /// [`RequestId::generate`] with the time already read, in milliseconds since the epoch;
    /// also the UUID.
    pub(crate) fn generate_at(millis: u64) -> (RequestId, u128) {
        // RFC 9562 UUID v7: 48 bits of milliseconds, the version, 12 random bits, the variant,
        // 62 random bits.
        let (a, b) = (next_random(), next_random());
        let uuid = (u128::from(millis & 0xFFFF_FFFF_FFFF) << 80)
            | (0x7 << 76)
            | (u128::from(a & 0xFFF) << 64)
            | (0b10 << 62)
            | u128::from(b >> 2);
        let artifact = provenance::request_id_from_uuid(uuid);
        // The header shares the artifact ID's text: one allocation for both, and clones of
        // the header (the request's, the response's) only count references.
        let shared = bytes::Bytes::from_owner(RawId(artifact.clone()));
        let id = RequestId {
            header: HeaderValue::from_maybe_shared(shared).expect("a UUID is a valid header value"),
            artifact,
        };
        (id, uuid)
    }

    /// The raw ID, as in the header.
    pub fn as_str(&self) -> &str {
        // Only constructed from validated ASCII.
        self.header.to_str().unwrap_or_default()
    }

    /// The `req:` artifact ID.
    pub fn artifact_id(&self) -> &ArtifactId {
        &self.artifact
    }

    /// The ID as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.header
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The raw ID inside a `req:` artifact ID, as bytes for a header value to share.
struct RawId(ArtifactId);

impl AsRef<[u8]> for RawId {
    fn as_ref(&self) -> &[u8] {
        let id = self.0.as_str();
        id.strip_prefix("req:").unwrap_or(id).as_bytes()
    }
}

/// wyrand: fast, statistically good, one per thread. Request IDs need to be unique, not
/// secret; a system call per ID (what `Uuid::now_v7` does) costs more than the whole layer.
fn next_random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(std::thread::current().id()));
    }
    STATE.with(|s| {
        let x = s.get().wrapping_add(0xa076_1d64_78bd_642f);
        s.set(x);
        let t = (x as u128).wrapping_mul((x ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) ^ t) as u64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_ids_and_rejects_hostile_ones() {
        for ok in [
            "0190f1a2-b3c4-7d5e-8f90-a1b2c3d4e5f6",
            "01J9ZQ4Y0K6T4W2XH3M5N7P8R1",
            "F1a2b3c4d5e6f7g8h9i0",
            "abc.def_ghi-jkl",
        ] {
            assert_eq!(RequestId::parse(ok.as_bytes()).unwrap().as_str(), ok);
        }
        for bad in [
            &b"short"[..],
            b"has space in it",
            b"new\nline-injection",
            b"<script>alert(1)</script>",
            b"req:colon:inside",
            "caf\u{e9}-caf\u{e9}-caf\u{e9}".as_bytes(),
            &[b'a'; MAX_LEN + 1],
            b"",
        ] {
            assert!(RequestId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_are_v7_unique_and_ordered() {
        let ids: Vec<RequestId> = (0..10_000).map(|_| RequestId::generate()).collect();
        let mut seen = std::collections::HashSet::new();
        for id in &ids {
            let uuid = uuid::Uuid::parse_str(id.as_str()).unwrap();
            assert_eq!(uuid.get_version_num(), 7);
            assert!(seen.insert(id.as_str().to_owned()), "duplicate {id}");
            assert!(RequestId::parse(id.as_str().as_bytes()).is_some());
            assert_eq!(id.artifact_id().as_str(), format!("req:{id}"));
        }
        // The UUID handed to the store is the one in the text, with the time it was made.
        let before = crate::unix_millis(std::time::SystemTime::now());
        let (id, made) = RequestId::generate_at(before);
        let uuid = uuid::Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(uuid.as_u128(), made);
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
        let (secs, nanos) = uuid.get_timestamp().unwrap().to_unix();
        assert_eq!(secs * 1000 + u64::from(nanos) / 1_000_000, before);
        // Past 48 bits of milliseconds the time wraps, as the uuid crate's builder does.
        let (_, made) = RequestId::generate_at(u64::MAX);
        assert_eq!(made >> 80, 0xFFFF_FFFF_FFFF);
        // Time-ordered at millisecond granularity.
        let first = &ids[0].as_str()[..13];
        let last = &ids[ids.len() - 1].as_str()[..13];
        assert!(first <= last);
    }
}
