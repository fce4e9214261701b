//! `ProvenanceLayer`: a tower layer that gives every request a `req:` artifact and installs the
//! provenance context for the request's future.
//!
//! Not written yet: this crate is the home of the tower integration (issue "provenance-tower").
//! Until then it exports nothing, so that nothing here pretends to record requests. Use
//! [`provenance::context::scope`] to install a request's context by hand meanwhile.
