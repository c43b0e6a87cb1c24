//! lumos-report's integration tests: snapshots of the table, the CSV and the
//! report rendered from a fixed result, and the rendering rules checked on
//! the parsed output.

mod cold_kinds;
mod csv;
mod fixture;
mod html;
mod network;
mod nodes;
mod table;
