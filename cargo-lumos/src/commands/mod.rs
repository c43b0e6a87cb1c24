//! One module per verb: its flags, the library call, and how its report is shown.

pub mod bench;
pub mod build;
pub mod deploy;
pub mod image;
pub mod push;
