//! End-to-end tests across the provenance crates live in `tests/`; this library only makes the
//! README's examples run as doctests, so the README cannot drift from the code.

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
