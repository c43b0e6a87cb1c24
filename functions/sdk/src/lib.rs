//! Function-side library of the lumos frame protocol.
