//! End-to-end tests across the provenance crates live in `tests/`.
