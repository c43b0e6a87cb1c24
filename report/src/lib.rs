//! Renders a Lumos bench result ([`lumos_model::BenchOutput`]): the terminal
//! summary table ([`table`]), CSV ([`csv`]) and the self-contained HTML
//! report with its charts ([`html`]).
//!
//! Every renderer follows the same rules ([`shown`]): a failed or unavailable
//! row, or one whose every request failed, shows its status and error only,
//! never a figure or a ratio; "x native" compares like with like
//! ([`compare`]).

pub mod chart;
pub mod compare;
pub mod csv;
pub mod format;
pub mod html;
pub mod neighbours;
pub mod series;
pub mod shown;
pub mod table;
pub mod workflows;
