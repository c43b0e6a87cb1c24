//! A real `redis-server` for tests: lumos-services' [`Redis`] on a free
//! loopback port, stopped by PID when dropped.

pub use lumos_services::Redis;

/// Starts a Redis, or fails the test saying why on one line.
pub fn start() -> Redis {
    Redis::start()
        .unwrap_or_else(|e| panic!("starting redis-server: {}", lumos_model::error_chain(&e)))
}
