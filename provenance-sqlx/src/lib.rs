//! An instrumented sqlx pool that records `tbl:`, `col:` and `rec:` lineage for every query.
//!
//! Not written yet: this crate is the home of the sqlx integration (issue "provenance-sqlx").
//! Until then it exports nothing, so that nothing here pretends to record queries. Record
//! lineage by hand meanwhile with [`provenance::Store::relate`].
