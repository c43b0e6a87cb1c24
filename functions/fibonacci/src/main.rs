//! The fibonacci function of the Lumos paper's Table 1.
fn main() {}
