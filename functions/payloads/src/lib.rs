//! Seeded, deterministic payload groups for the built-in functions.
