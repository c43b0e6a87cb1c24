//! Engines, instances, measurement and load generation for lumos-runner.
