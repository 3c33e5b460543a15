//! Helpers shared by the storage engine's integration tests.

/// A two-thread runtime for driving the log's async API from plain tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
