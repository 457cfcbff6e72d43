//! The schema-independent part of the C++ API (`mphub::cxx::onWorkerThread`,
//! `mphub::cxx::initLogging`), as a small hand-written bridge.

#[cxx::bridge(namespace = "mphub::cxx::core")]
mod ffi {
    extern "Rust" {
        fn on_worker_thread() -> bool;
        fn init_logging(filter: &str) -> Result<()>;
        fn panic_for_test(message: &str) -> Result<()>;
    }
}

fn on_worker_thread() -> bool {
    crate::support::on_worker_thread()
}

/// Installs a `tracing` subscriber writing to stderr: `filter` (or `$MPHUB_LOG` when
/// empty) in `tracing_subscriber::EnvFilter` syntax, e.g. `ipc=debug`.
fn init_logging(filter: &str) -> Result<(), crate::support::BridgeError> {
    crate::support::guard(|| {
        let filter = if filter.is_empty() {
            tracing_subscriber::EnvFilter::from_env("MPHUB_LOG")
        } else {
            tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| {
                crate::support::BridgeError::usage(format!("bad log filter '{filter}': {e}"))
            })?
        };
        // A second call keeps the first subscriber.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
        Ok(())
    })
}

/// Panics inside the boundary guard: lets C++ tests check that a panic arrives as
/// `mphub::cxx::Error` (kind Panic) instead of unwinding into C++.
fn panic_for_test(message: &str) -> Result<(), crate::support::BridgeError> {
    crate::support::guard(|| -> Result<(), crate::support::BridgeError> { panic!("{message}") })
}
