//! The wasmtime shim's tests (one binary, one module per topic).

mod epoch_cost;
