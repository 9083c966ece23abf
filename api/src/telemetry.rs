//! Structured logs with `tracing`, to stderr: text for people, JSON (`LVYUE_LOG_FORMAT=json`)
//! for collectors. Filter with `LVYUE_LOG` (e.g. `info`, `lvyue_api=debug,info`).
//!
//! What is never logged anywhere in this crate: tokens, secrets, request bodies and personal
//! data. Log principals by `subject` and rows by opaque id.

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. A second call (tests starting several servers) is a no-op.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|e| {
        eprintln!(
            "LVYUE_LOG {:?} is not a valid filter ({e}); using `info`",
            config.filter
        );
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Err only when a subscriber is already installed.
    let _ = match config.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
