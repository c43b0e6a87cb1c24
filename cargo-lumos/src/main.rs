//! cargo lumos: build, pack, push and bench serverless functions.
fn main() {}
